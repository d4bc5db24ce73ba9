/*
 * cmd_changes.c - `fstatcache changes [--json] [--since CURSOR] [--follow]
 * [--count N]`: the change feed from the command line.
 *
 * One line per change (text or JSON), then the cursor to resume from.
 * --follow sleeps in fsc_changes_wait() (a futex wait the writer ends
 * when it publishes) between batches; SIGINT and SIGTERM end it cleanly
 * after the batch in hand, with the cursor printed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static volatile sig_atomic_t got_stop;

static void on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

struct walk {
	const struct tool_ctx *ctx;
	long printed;
	int err;
};

static int print_change(void *arg, const struct fsc_change *c)
{
	struct walk *w = arg;
	const char *kind = fsc_change_name(c->kind);
	if (!kind)
		kind = "unknown";
	struct fsc_stat st = c->st;

	if (c->status) /* no answer: say so as `stat` would, from stat() */
		st.source = FSC_SOURCE_STAT;
	if (w->ctx->json) {
		json_t *o = tool_json_stat(c->path, &st);
		if (o && c->status)
			json_object_del(o, "exists");
		if (!o || json_object_set_new(o, "change", json_string(kind)) ||
		    tool_json_print(o) < 0)
			w->err = -ENOMEM;
	} else {
		char *q = tool_quote_path(c->path, c->path_len);
		if (!q) {
			w->err = -ENOMEM;
			return 1;
		}
		if (c->status)
			printf("%s %s source=stat\n", kind, q);
		else {
			printf("%s ", kind);
			tool_print_stat(q, &st);
		}
		free(q);
	}
	w->printed++;
	return w->err || (w->ctx->count && w->printed >= w->ctx->count);
}

static void print_cursor(const struct tool_ctx *ctx,
			 const struct fsc_cursor *cur)
{
	char text[FSC_CURSOR_TEXT_SIZE];

	fsc_cursor_format(cur, text, sizeof(text));
	if (ctx->json)
		printf("{\"cursor\":\"%s\"}\n", text);
	else
		printf("cursor %s\n", text);
	fflush(stdout);
}

/* The cursor to start from: --since, or now (a walk that lists nothing). */
static int start_cursor(const struct tool_ctx *ctx, fsc_handle *h,
			struct fsc_cursor *cur)
{
	if (ctx->since) {
		if (fsc_cursor_parse(ctx->since, cur) < 0) {
			tool_error("changes: malformed cursor '%s' (expected "
				   "EPOCH-POS in hex, as printed by 'changes')",
				   ctx->since);
			return -EINVAL;
		}
		return 0;
	}
	*cur = (struct fsc_cursor)FSC_CURSOR_INIT;
	struct walk none = { ctx, 0, 0 };
	int r = fsc_changes(h, cur, print_change, &none);
	return r == FSC_RESYNC ? 0 : r;
}

int cmd_changes(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fsc_handle *h = tool_open(ctx, 0);
	struct fsc_cursor cur;
	struct walk w = { ctx, 0, 0 };
	int status = TOOL_EXIT_OK, r;

	if (!h)
		return TOOL_EXIT_FAIL;
	if ((r = start_cursor(ctx, h, &cur)) < 0) {
		fsc_close(h);
		if (r == -EINVAL)
			return TOOL_EXIT_USAGE;
		tool_error("changes: %s", fsc_strerror(r));
		return TOOL_EXIT_FAIL;
	}
	if (ctx->follow) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop; /* no SA_RESTART: ends the wait */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	int dead = 0; /* said resync for want of a writer already */
	for (;;) {
		long before = w.printed;
		int progress;
		r = fsc_changes(h, &cur, print_change, &w);
		progress = w.printed != before;
		if (r == FSC_RESYNC && !(dead && cur.epoch == 0)) {
			puts(ctx->json ? "{\"resync\":true}" : "resync");
			progress = 1;
		}
		if (r == FSC_RESYNC)
			dead = cur.epoch == 0;
		if (r < 0) {
			tool_error("changes: %s",
				   w.err ? "out of memory" : fsc_strerror(r));
			status = TOOL_EXIT_FAIL;
			break;
		}
		if (w.err) {
			status = TOOL_EXIT_FAIL;
			break;
		}
		int done = ctx->count && w.printed >= ctx->count;
		if (!ctx->follow || done || got_stop) {
			print_cursor(ctx, &cur);
			break;
		}
		if (progress)
			print_cursor(ctx, &cur);
		else
			fsc_changes_wait(h, &cur, 1000);
	}
	fsc_close(h);
	return tool_finish(status);
}
