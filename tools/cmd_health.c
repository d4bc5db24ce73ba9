/*
 * cmd_health.c - `fstatcache health [--json]`: is the instance served?
 *
 * For probes (systemd, Kubernetes, monitoring scripts): exit 0 when a
 * live writer serves the instance and readers can attach to it, else 1
 * with the reason: the same checks a reader makes (fsc_open() and
 * fsc_attached(), liveness included), so "healthy" means what readers
 * get.  `inspect` reports on any segment, a dead writer's too, and exits
 * 0 when it could read it; this says whether the cache works.
 */
#include <errno.h>
#include <stdio.h>

#include "cmd.h"

static const char *why_not(int err)
{
	switch (err) {
	case -ENOENT:
		return "no live fstatcached serves it (no segment, or its "
		       "writer is dead or stopped)";
	case -EAGAIN:
		return "its fstatcached is still starting";
	case 0:
		return "its writer is not serving";
	default:
		return fsc_strerror(err);
	}
}

int cmd_health(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fsc_handle *h = NULL;
	int r = fsc_open(&h, ctx->name, FSC_OPEN_NO_REQUESTS);
	int ok = r == 0 && fsc_attached(h);
	int err = r < 0 ? r : ok ? 0 : fsc_attach_error(h);
	fsc_close(h);
	if (ctx->json) {
		json_t *o = ok ? json_pack("{s:s, s:b}", "name", ctx->name,
					   "healthy", 1)
			       : json_pack("{s:s, s:b, s:s}", "name", ctx->name,
					   "healthy", 0, "reason",
					   why_not(err));
		if (tool_json_print(o) < 0)
			return TOOL_EXIT_FAIL;
	} else if (ok) {
		printf("ok: instance '%s' is served\n", ctx->name);
	} else {
		tool_error("health: instance '%s': %s", ctx->name,
			   why_not(err));
	}
	return ok ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}
