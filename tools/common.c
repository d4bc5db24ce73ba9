/*
 * common.c - what every subcommand of the fstatcache tool shares: error
 * messages on stderr, opening the instance (and saying why not), absolute
 * paths from operands, and the exit status once stdout is flushed.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

void tool_error(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout); /* keep stdout and stderr in order on a terminal */
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void tool_error_no_writer(const struct tool_ctx *ctx)
{
	tool_error("%s: no fstatcached is serving instance '%s'", ctx->cmd,
		   ctx->name);
}

int tool_view_error(const struct tool_ctx *ctx, int err)
{
	if (err == -ENOENT)
		tool_error("%s: instance '%s' has no segment (no fstatcached "
			   "has served it, or it stopped cleanly)",
			   ctx->cmd, ctx->name);
	else if (err == -EPERM)
		tool_error(
			"%s: the segment of instance '%s' belongs to another "
			"user or is writable by others: not trusted",
			ctx->cmd, ctx->name);
	else if (err == -EBADMSG)
		tool_error("%s: the segment of instance '%s' is smaller than "
			   "its header (a writer still starting, or not an "
			   "fstatcache segment)",
			   ctx->cmd, ctx->name);
	else
		tool_error("%s: instance '%s': %s", ctx->cmd, ctx->name,
			   strerror(-err));
	return TOOL_EXIT_FAIL;
}

fsc_handle *tool_open(const struct tool_ctx *ctx, unsigned flags)
{
	fsc_handle *h = NULL;
	int r = fsc_open(&h, ctx->name, flags);
	if (r == 0)
		return h;
	tool_open_error(ctx, r);
	return NULL;
}

void tool_open_error(const struct tool_ctx *ctx, int r)
{
	if (r == -ENOENT)
		tool_error_no_writer(ctx);
	else if (r == -EAGAIN)
		tool_error("%s: the fstatcached of instance '%s' is still "
			   "starting",
			   ctx->cmd, ctx->name);
	else
		tool_error("%s: instance '%s': %s", ctx->cmd, ctx->name,
			   fsc_strerror(r));
}

/*
 * Append component `c` (n bytes) of a relative argument to `out`, which
 * holds "/" or an absolute path without a trailing slash.  "." and empty
 * components go; ".." takes back a component of the working directory
 * (getcwd() gives the physical path: no symlink to step back over), but
 * not one the argument named, which may be a symlink: that ".." stays,
 * and the path is answered by stat(), correctly, if not from the cache.
 */
static void push_component(char *out, size_t *len, size_t *cwd_len,
			   const char *c, size_t n)
{
	if (n == 0 || (n == 1 && c[0] == '.'))
		return;
	if (n == 2 && c[0] == '.' && c[1] == '.' && *len == *cwd_len &&
	    *len > 1) {
		while (*len > 1 && out[*len - 1] != '/')
			(*len)--;
		if (*len > 1)
			(*len)--; /* the slash, unless it is the root's */
		*cwd_len = *len;
		out[*len] = '\0';
		return;
	}
	if (*len > 1)
		out[(*len)++] = '/';
	memcpy(out + *len, c, n);
	*len += n;
	out[*len] = '\0';
}

char *tool_absolute_path(const char *arg)
{
	if (arg[0] == '/' || arg[0] == '\0')
		return strdup(arg);
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return strdup(arg); /* stat() still answers it */
	size_t n = strlen(cwd), size = n + strlen(arg) + 2;
	char *p = malloc(size);
	if (p) {
		size_t len = n, cwd_len;
		memcpy(p, cwd, n + 1);
		while (len > 1 && p[len - 1] == '/')
			p[--len] = '\0';
		cwd_len = len;
		for (const char *c = arg; *c;) {
			size_t k = strcspn(c, "/");
			push_component(p, &len, &cwd_len, c, k);
			c += k;
			c += *c == '/';
		}
		/* "./" or "dir/": a trailing slash means a directory. */
		if (arg[strlen(arg) - 1] == '/' && len > 1)
			strcat(p, "/");
	}
	free(cwd);
	return p;
}

int tool_finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tool_error("error writing output: %s", strerror(errno));
		return TOOL_EXIT_FAIL;
	}
	return status;
}
