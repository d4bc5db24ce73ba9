/*
 * cmd_ls.c - `fstatcache ls [--json] [--sort slot|recency|path|size]`:
 * every entry in the table, listed by fsc_entries_scan() (admin.h): slot
 * by slot under each entry's seqlock, in a pass that no move of entries
 * overlapped when the writer allows one.
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
 * writer keeps changing entries while they are read (only their positions
 * are checked).  A slot that stays busy across retries is skipped and
 * counted on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"

/* Entries are fsc_listed (admin.h); the invalid ones are reported, not kept. */
struct ls_state {
	const struct tool_ctx *ctx;
	uint64_t now_ns; /* CLOCK_REALTIME, like validated_ns */
	unsigned invalid;
	struct fsc_listed *v;
	size_t n;
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

static int print_text(const struct ls_state *ls, const struct fsc_listed *e)
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
	tool_format_age(age, sizeof(age), ls->now_ns, e->validated_ns);
	printf("%-6s %-6s %12s %-19s %8s %s\n", st->exists ? "yes" : "no",
	       st->source == FSC_SOURCE_CACHE ? "cache" : "stat", size, mtime,
	       age, path);
	free(path);
	return 0;
}

static int print_json(const struct fsc_listed *e)
{
	json_t *obj = tool_json_stat(e->path, &e->st);
	if (obj &&
	    (json_object_set_new(obj, "slot", json_integer(e->slot)) < 0 ||
	     json_object_set_new(obj, "validated_ns",
				 json_integer((json_int_t)e->validated_ns)) <
		     0)) {
		json_decref(obj);
		obj = NULL;
	}
	return tool_json_print(obj);
}

/* Report the slots that failed validation; keep the entries. */
static void keep_valid(struct ls_state *ls, struct fsc_listing *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->count; i++) {
		struct fsc_listed *e = &l->entries[i];
		if (e->status == 0) {
			l->entries[n++] = *e;
			continue;
		}
		ls->invalid++;
		tool_error("ls: slot %u fails validation", e->slot);
	}
	l->count = n;
	ls->v = l->entries;
	ls->n = n;
}

/* Comparators: ties fall back to slot order, so every order is total. */
static int by_slot(const struct fsc_listed *a, const struct fsc_listed *b)
{
	return (a->slot > b->slot) - (a->slot < b->slot);
}

static int by_recency(const void *pa, const void *pb)
{
	const struct fsc_listed *a = pa, *b = pb;
	if (a->validated_ns != b->validated_ns)
		return a->validated_ns < b->validated_ns ? 1 : -1;
	return by_slot(a, b);
}

static int by_path(const void *pa, const void *pb)
{
	const struct fsc_listed *a = pa, *b = pb;
	int c = strcmp(a->path, b->path);
	return c ? c : by_slot(a, b);
}

static int by_size(const void *pa, const void *pb)
{
	const struct fsc_listed *a = pa, *b = pb;
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
	case TOOL_SORT_RECENCY:
		cmp = by_recency;
		break;
	case TOOL_SORT_PATH:
		cmp = by_path;
		break;
	case TOOL_SORT_SIZE:
		cmp = by_size;
		break;
	default:
		return; /* collected in slot order already */
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
	struct fsc_listing l;
	int status = TOOL_EXIT_OK;
	int r = fsc_entries_scan(h, FSC_SCAN_PASSES, &l);
	fsc_close(h);
	if (r == -ENOTCONN) {
		tool_error_no_writer(ctx);
		status = TOOL_EXIT_FAIL;
	} else if (r == -ECONNRESET) {
		tool_error("ls: the fstatcached of instance '%s' went away "
			   "during the listing",
			   ctx->name);
		status = TOOL_EXIT_FAIL;
	} else if (r < 0) {
		tool_error("ls: %s", fsc_strerror(r));
		status = TOOL_EXIT_FAIL;
	}
	if (r != -ENOTCONN) { /* what was read, even if the writer went away */
		keep_valid(&ls, &l);
		sort_entries(&ls);
		if (print_all(&ls) < 0)
			status = TOOL_EXIT_FAIL;
	}
	if (l.busy)
		tool_error("ls: %u busy entries skipped", l.busy);
	if (!l.stable && r == 0)
		tool_error("ls: the writer kept moving entries: one may be "
			   "missing or listed twice");
	fsc_listing_free(&l);
	if (ls.invalid)
		status = TOOL_EXIT_FAIL;
	return status;
}
