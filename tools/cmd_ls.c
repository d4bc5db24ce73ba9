/*
 * cmd_ls.c - `fstatcache ls [--json]`: every entry in the table, read slot
 * by slot with fsc_slot_read() under each entry's seqlock.
 *
 * Text: a header line, then EXISTS SOURCE SIZE MTIME AGE PATH per entry,
 * where AGE is the time since the writer last stat()ed the file and
 * SOURCE is "stat" for a watched path the cache cannot serve.  --json: the
 * keys of `stat --json` plus slot and validated_ns.  The listing is not a
 * snapshot: the writer keeps changing the table while it is read.  A slot
 * that stays busy across retries is skipped and counted on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cmd.h"

#define SLOT_TRIES 4 /* fsc_slot_read() calls before a busy slot is skipped */

struct ls_state {
	const struct tool_ctx *ctx;
	uint64_t now_ns; /* CLOCK_REALTIME, like validated_ns */
	unsigned skipped, invalid;
};

static void format_age(char *buf, size_t size, uint64_t now,
		       uint64_t validated)
{
	if (validated == 0 || validated > now) {
		snprintf(buf, size, "-");
		return;
	}
	uint64_t ms = (now - validated) / 1000000u, s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	else if (s < 60)
		snprintf(buf, size, "%llu.%llus", (unsigned long long)s,
			 (unsigned long long)(ms % 1000 / 100));
	else if (s < 3600)
		snprintf(buf, size, "%llum%02llus", (unsigned long long)s / 60,
			 (unsigned long long)s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lluh%02llum",
			 (unsigned long long)s / 3600,
			 (unsigned long long)s % 3600 / 60);
	else
		snprintf(buf, size, "%llud%02lluh",
			 (unsigned long long)s / 86400,
			 (unsigned long long)s % 86400 / 3600);
}

static void format_mtime(char *buf, size_t size, const struct fsc_stat *st)
{
	time_t t = (time_t)st->mtime_sec;
	struct tm tm;
	if (!st->exists)
		snprintf(buf, size, "-");
	else if (!localtime_r(&t, &tm) ||
		 !strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(buf, size, "@%lld", (long long)st->mtime_sec);
}

static void print_text(const struct ls_state *ls, const char *path,
		       const struct fsc_stat *st, uint64_t validated)
{
	char size[24], mtime[40], age[24];
	if (st->exists)
		snprintf(size, sizeof(size), "%lld", (long long)st->size);
	else
		snprintf(size, sizeof(size), "-");
	format_mtime(mtime, sizeof(mtime), st);
	format_age(age, sizeof(age), ls->now_ns, validated);
	printf("%-6s %-6s %12s %-19s %8s %s\n", st->exists ? "yes" : "no",
	       st->source == FSC_SOURCE_CACHE ? "cache" : "stat", size, mtime,
	       age, path);
}

static int print_json(const char *path, const struct fsc_stat *st,
		      uint32_t slot, uint64_t validated)
{
	json_t *obj = tool_json_stat(path, st);
	if (obj && (json_object_set_new(obj, "slot", json_integer(slot)) < 0 ||
		    json_object_set_new(obj, "validated_ns",
					json_integer((json_int_t)validated)) <
			    0)) {
		json_decref(obj);
		obj = NULL;
	}
	return tool_json_print(obj);
}

/* One slot: 0 (printed or empty), or -1 when the listing must stop. */
static int list_slot(struct ls_state *ls, fsc_handle *h, uint32_t slot)
{
	char path[FSC_PATH_MAX_MAX + 1];
	struct fsc_stat st;
	uint64_t validated = 0;
	int r = FSC_UNCACHED;
	for (int i = 0; i < SLOT_TRIES && r == FSC_UNCACHED; i++)
		r = fsc_slot_read(h, slot, path, sizeof(path), &st, &validated);
	if (r == FSC_MISS)
		return 0;
	if (r == -EPROTO) {
		ls->invalid++;
		tool_error("ls: slot %u fails validation", slot);
		return 0;
	}
	if (r == FSC_UNCACHED && fsc_attached(h)) {
		ls->skipped++;
		return 0;
	}
	if (r == FSC_UNCACHED || r == -EINVAL) { /* detached or replaced */
		tool_error("ls: the fstatcached of instance '%s' went away "
			   "during the listing", ls->ctx->name);
		return -1;
	}
	if (r < 0) {
		tool_error("ls: slot %u: %s", slot, fsc_strerror(r));
		return -1;
	}
	if (ls->ctx->json)
		return print_json(path, &st, slot, validated);
	print_text(ls, path, &st, validated);
	return 0;
}

int cmd_ls(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fsc_handle *h = tool_open(ctx, FSC_OPEN_ATTACHED);
	if (!h)
		return TOOL_EXIT_FAIL;
	struct ls_state ls = { .ctx = ctx };
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ls.now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	uint32_t capacity = fsc_capacity(h);
	int status = TOOL_EXIT_OK;
	if (capacity == 0) {
		tool_error_no_writer(ctx);
		status = TOOL_EXIT_FAIL;
	} else if (!ctx->json) {
		printf("%-6s %-6s %12s %-19s %8s %s\n", "EXISTS", "SOURCE",
		       "SIZE", "MTIME", "AGE", "PATH");
	}
	for (uint32_t slot = 0; slot < capacity; slot++) {
		if (list_slot(&ls, h, slot) < 0) {
			status = TOOL_EXIT_FAIL;
			break;
		}
	}
	fsc_close(h);
	if (ls.skipped)
		tool_error("ls: %u busy entries skipped", ls.skipped);
	if (ls.invalid)
		status = TOOL_EXIT_FAIL;
	return status;
}
