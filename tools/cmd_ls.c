/*
 * cmd_ls.c - `fstatcache ls [--json] [--sort slot|recency|path|size]`:
 * every entry in the table, read slot by slot with fsc_slot_read() under
 * each entry's seqlock.
 *
 * Text: a header line, then EXISTS SOURCE SIZE MTIME AGE PATH per entry,
 * where AGE is the time since the writer last stat()ed the file and
 * SOURCE is "stat" for a watched path the cache cannot serve; paths are
 * quoted (tool_quote_path) so each entry is one line.  --json: the keys of
 * `stat --json` plus slot and validated_ns.
 *
 * Order: slot order unless --sort says otherwise (recency: most recently
 * validated first; path: byte order; size: largest first, entries for
 * missing files last); ties keep slot order.  The entries are collected
 * first and then printed, but the listing is still not a snapshot: the
 * writer keeps changing the table while it is read.  A slot that stays
 * busy across retries is skipped and counted on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"

#define SLOT_TRIES 4 /* fsc_slot_read() calls before a busy slot is skipped */

struct ls_entry {
	char *path;
	struct fsc_stat st;
	uint32_t slot;
	uint64_t validated; /* CLOCK_REALTIME ns */
};

struct ls_state {
	const struct tool_ctx *ctx;
	uint64_t now_ns; /* CLOCK_REALTIME, like validated_ns */
	unsigned skipped, invalid;
	struct ls_entry *v;
	size_t n, cap;
};

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

static int print_text(const struct ls_state *ls, const struct ls_entry *e)
{
	char size[24], mtime[40], age[24];
	const struct fsc_stat *st = &e->st;
	char *path = tool_quote_path(e->path, strlen(e->path));
	if (!path) {
		tool_error("ls: out of memory");
		return -1;
	}
	if (st->exists)
		snprintf(size, sizeof(size), "%lld", (long long)st->size);
	else
		snprintf(size, sizeof(size), "-");
	format_mtime(mtime, sizeof(mtime), st);
	tool_format_age(age, sizeof(age), ls->now_ns, e->validated);
	printf("%-6s %-6s %12s %-19s %8s %s\n", st->exists ? "yes" : "no",
	       st->source == FSC_SOURCE_CACHE ? "cache" : "stat", size, mtime,
	       age, path);
	free(path);
	return 0;
}

static int print_json(const struct ls_entry *e)
{
	json_t *obj = tool_json_stat(e->path, &e->st);
	if (obj &&
	    (json_object_set_new(obj, "slot", json_integer(e->slot)) < 0 ||
	     json_object_set_new(obj, "validated_ns",
				 json_integer((json_int_t)e->validated)) < 0)) {
		json_decref(obj);
		obj = NULL;
	}
	return tool_json_print(obj);
}

static int keep(struct ls_state *ls, const char *path,
		const struct fsc_stat *st, uint32_t slot, uint64_t validated)
{
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? 2 * ls->cap : 256;
		struct ls_entry *v = realloc(ls->v, cap * sizeof(*v));
		if (!v)
			return -1;
		ls->v = v;
		ls->cap = cap;
	}
	char *p = strdup(path);
	if (!p)
		return -1;
	ls->v[ls->n++] = (struct ls_entry){ p, *st, slot, validated };
	return 0;
}

/* One slot: 0 (kept or empty), or -1 when the listing must stop. */
static int read_slot(struct ls_state *ls, fsc_handle *h, uint32_t slot)
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
	if (keep(ls, path, &st, slot, validated) < 0) {
		tool_error("ls: out of memory");
		return -1;
	}
	return 0;
}

/* Comparators: ties fall back to slot order, so every order is total. */
static int by_slot(const struct ls_entry *a, const struct ls_entry *b)
{
	return (a->slot > b->slot) - (a->slot < b->slot);
}

static int by_recency(const void *pa, const void *pb)
{
	const struct ls_entry *a = pa, *b = pb;
	if (a->validated != b->validated)
		return a->validated < b->validated ? 1 : -1;
	return by_slot(a, b);
}

static int by_path(const void *pa, const void *pb)
{
	const struct ls_entry *a = pa, *b = pb;
	int c = strcmp(a->path, b->path);
	return c ? c : by_slot(a, b);
}

static int by_size(const void *pa, const void *pb)
{
	const struct ls_entry *a = pa, *b = pb;
	if (a->st.exists != b->st.exists)
		return a->st.exists ? -1 : 1;
	if (a->st.exists && a->st.size != b->st.size)
		return a->st.size < b->st.size ? 1 : -1;
	return by_slot(a, b);
}

static void sort_entries(struct ls_state *ls)
{
	int (*cmp)(const void *, const void *) = NULL;
	switch (ls->ctx->sort) {
	case TOOL_SORT_RECENCY: cmp = by_recency; break;
	case TOOL_SORT_PATH: cmp = by_path; break;
	case TOOL_SORT_SIZE: cmp = by_size; break;
	default: return; /* collected in slot order already */
	}
	if (ls->n > 1)
		qsort(ls->v, ls->n, sizeof(ls->v[0]), cmp);
}

static int print_all(const struct ls_state *ls)
{
	if (!ls->ctx->json)
		printf("%-6s %-6s %12s %-19s %8s %s\n", "EXISTS", "SOURCE",
		       "SIZE", "MTIME", "AGE", "PATH");
	for (size_t i = 0; i < ls->n; i++) {
		int r = ls->ctx->json ? print_json(&ls->v[i])
				      : print_text(ls, &ls->v[i]);
		if (r < 0)
			return -1;
	}
	return 0;
}

int cmd_ls(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fsc_handle *h = tool_open(ctx, FSC_OPEN_ATTACHED);
	if (!h)
		return TOOL_EXIT_FAIL;
	struct ls_state ls = { .ctx = ctx, .now_ns = tool_realtime_ns() };
	uint32_t capacity = fsc_slot_count(h);
	int status = TOOL_EXIT_OK;
	if (capacity == 0) {
		tool_error_no_writer(ctx);
		status = TOOL_EXIT_FAIL;
	}
	for (uint32_t slot = 0; slot < capacity; slot++) {
		if (read_slot(&ls, h, slot) < 0) {
			status = TOOL_EXIT_FAIL;
			break;
		}
	}
	fsc_close(h);
	if (capacity) { /* what was read, even if the writer went away */
		sort_entries(&ls);
		if (print_all(&ls) < 0)
			status = TOOL_EXIT_FAIL;
	}
	for (size_t i = 0; i < ls.n; i++)
		free(ls.v[i].path);
	free(ls.v);
	if (ls.skipped)
		tool_error("ls: %u busy entries skipped", ls.skipped);
	if (ls.invalid)
		status = TOOL_EXIT_FAIL;
	return status;
}
