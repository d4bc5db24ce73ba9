/*
 * cmd_stat.c - `fstatcache stat [--json] PATH...`: stat(2) through the
 * cache, one line per path, text or JSON.
 *
 * Relative paths get the current directory prefixed (not resolved), so
 * that they can be cached; the line shows the path that was looked up.
 * A path that does not exist is an answer (exists no / false), not an
 * error; any other stat error is reported on stderr and makes the exit
 * status 1 once every path has been answered.  Without a writer every
 * answer comes from stat() ("source" stat).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

/* Answer one path; 0, or -1 after reporting a failure. */
static int stat_one(const struct tool_ctx *ctx, fsc_handle *h, const char *arg)
{
	char *path = tool_absolute_path(arg);
	if (!path) {
		tool_error("stat %s: out of memory", arg);
		return -1;
	}
	struct fsc_stat st;
	int r = fsc_stat(h, path, &st);
	if (r < 0) {
		tool_error("stat %s: %s", path, fsc_strerror(r));
	} else if (ctx->json) {
		r = tool_json_print(tool_json_stat(path, &st));
	} else {
		tool_print_stat(path, &st);
	}
	free(path);
	return r < 0 ? -1 : 0;
}

int cmd_stat(const struct tool_ctx *ctx, int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!argv[i][0]) {
			tool_error("stat: an empty PATH (see 'fstatcache stat "
				   "--help')");
			return TOOL_EXIT_USAGE;
		}
	fsc_handle *h = tool_open(ctx, 0);
	if (!h)
		return TOOL_EXIT_FAIL;
	/* The answers are right either way; say that none is cached. */
	if (!fsc_attached(h) && fsc_attach_error(h) == -EXDEV)
		tool_error("stat: note: instance '%s': %s: every answer comes "
			   "from stat()",
			   ctx->name, fsc_strerror(-EXDEV));
	else if (!fsc_attached(h))
		tool_error("stat: note: no fstatcached is serving instance "
			   "'%s': every answer comes from stat()",
			   ctx->name);
	int status = TOOL_EXIT_OK;
	for (int i = 0; i < argc; i++)
		if (stat_one(ctx, h, argv[i]) < 0)
			status = TOOL_EXIT_FAIL;
	fsc_close(h);
	return status;
}
