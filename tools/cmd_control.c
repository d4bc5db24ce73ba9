/*
 * cmd_control.c - the subcommands that talk to the writer over its
 * control socket: sync, watch, unwatch, invalidate.
 *
 * Each opens the instance requiring a live writer (so a missing one is
 * reported plainly), sends one request per operand with fsc_control() and
 * reports the writer's message when it refuses.  A failure of the
 * connection itself (no writer, writer died, timeout) ends the command at
 * once rather than repeating the same error for every remaining path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

/* Errors that say nothing about the request, only about the writer. */
static int connection_error(int r)
{
	return r == -ENOTCONN || r == -ECONNRESET || r == -ETIMEDOUT;
}

static void report_connection(const struct tool_ctx *ctx, int r)
{
	if (r == -ENOTCONN)
		tool_error_no_writer(ctx);
	else if (r == -ETIMEDOUT)
		tool_error(
			"%s: the fstatcached of instance '%s' did not answer "
			"within %.3g s",
			ctx->cmd, ctx->name, ctx->timeout_ms / 1000.0);
	else
		tool_error("%s: the fstatcached of instance '%s' died before "
			   "answering",
			   ctx->cmd, ctx->name);
}

/* The writer's own words when it gave any, else the status's meaning. */
static const char *reason(int r, const char *msg)
{
	return msg[0] ? msg : fsc_strerror(r);
}

/* One request without a path; the exit status. */
static int control_simple(const struct tool_ctx *ctx, int op)
{
	fsc_handle *h = tool_open(ctx, FSC_OPEN_ATTACHED);
	if (!h)
		return TOOL_EXIT_FAIL;
	char msg[FSC_REPLY_MSG_MAX + 1];
	int r = fsc_control(h, op, NULL, ctx->timeout_ms, msg, sizeof(msg));
	fsc_close(h);
	if (r == 0)
		return TOOL_EXIT_OK;
	if (connection_error(r))
		report_connection(ctx, r);
	else
		tool_error("%s: %s", ctx->cmd, reason(r, msg));
	return TOOL_EXIT_FAIL;
}

/* --json: {"path": P, "ok": B, "message": M} and, refused, "errno": N. */
static void json_result(const char *path, int r, const char *message)
{
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "path", tool_json_path(path));
		json_object_set_new(o, "ok", json_boolean(r == 0));
		if (r)
			json_object_set_new(o, "errno", json_integer(-r));
		json_object_set_new(o, "message", json_string(message));
	}
	tool_json_print(o);
}

/*
 * Send `op` for one path.  0 on success, 1 when the writer refused it, -1
 * when the connection failed (already reported).  With --json, each path
 * gets its line on stdout (refusals too, not on stderr).
 */
static int control_path(const struct tool_ctx *ctx, fsc_handle *h, int op,
			const char *arg)
{
	char msg[FSC_REPLY_MSG_MAX + 1];
	char *path = tool_absolute_path(arg);
	if (!path) {
		tool_error("%s %s: out of memory", ctx->cmd, arg);
		return 1;
	}
	int ret = 0;
	if (!fsc_path_ok(path, strlen(path))) {
		static const char why[] = "not a canonical absolute path (the "
					  "cache takes no '.', '..', '//' or "
					  "trailing '/')";
		if (ctx->json)
			json_result(path, -EINVAL, why);
		else
			tool_error("%s %s: %s", ctx->cmd, path, why);
		ret = 1;
	} else {
		int r = fsc_control(h, op, path, ctx->timeout_ms, msg,
				    sizeof(msg));
		if (connection_error(r)) {
			report_connection(ctx, r);
			ret = -1;
		} else if (ctx->json) {
			json_result(path, r, r ? reason(r, msg) : msg);
			ret = r != 0;
		} else if (r != 0) {
			tool_error("%s %s: %s", ctx->cmd, path, reason(r, msg));
			ret = 1;
		}
	}
	free(path);
	return ret;
}

static int control_paths(const struct tool_ctx *ctx, int op, int argc,
			 char **argv)
{
	fsc_handle *h = tool_open(ctx, FSC_OPEN_ATTACHED);
	if (!h)
		return TOOL_EXIT_FAIL;
	int status = TOOL_EXIT_OK;
	for (int i = 0; i < argc; i++) {
		int r = control_path(ctx, h, op, argv[i]);
		if (r != 0)
			status = TOOL_EXIT_FAIL;
		if (r < 0)
			break;
	}
	fsc_close(h);
	return status;
}

int cmd_sync(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return control_simple(ctx, FSC_OP_SYNC);
}

int cmd_invalidate(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return control_simple(ctx, FSC_OP_INVALIDATE);
}

int cmd_watch(const struct tool_ctx *ctx, int argc, char **argv)
{
	return control_paths(ctx, FSC_OP_WATCH, argc, argv);
}

int cmd_unwatch(const struct tool_ctx *ctx, int argc, char **argv)
{
	return control_paths(ctx, FSC_OP_UNWATCH, argc, argv);
}
