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
 *
 * A dead writer's segment (killed or crashed: it stays in /dev/shm until
 * a writer of the same name replaces it) is listed too, as `inspect`
 * reports on it: a reader handle maps only a live writer's segment, so
 * then the entries come from a read-only view (view.h), each slot copied
 * under its seqlock and checked as a reader checks a slot, and stderr
 * says that no writer serves them.  Nothing moves entries in a dead
 * writer's table, so that listing is stable.  Exit 0 either way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "view.h"

#define SLOT_TRIES 8 /* seqlock attempts before a busy slot is skipped */

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

/* ---- a segment no live writer serves ------------------------------ */

struct view_pass {
	const struct view *v;
	struct fsc_listing *l;
	size_t room;
};

/* The stat fields of a copied slot pass the checks a reader makes. */
static int copy_ok(const struct fsc_entry *e)
{
	if (e->flags & ~(uint32_t)FSC_ENT_KNOWN)
		return 0;
	if (!(e->flags & FSC_ENT_EXISTS))
		return 1;
	return fsc_mode_ok(e->mode) && e->size >= 0 && e->blocks >= 0;
}

/* A used slot's copy as fsc_entries_scan() lists it (path aside). */
static void listed_from_copy(const struct view *v, uint32_t slot,
			     const struct fsc_entry *e, struct fsc_listed *out)
{
	memset(out, 0, sizeof(*out));
	out->slot = slot;
	if (!view_entry_key_ok(v, e) || !copy_ok(e)) {
		out->status = -EPROTO;
		return;
	}
	if (e->flags & FSC_ENT_EXISTS) {
		out->st.exists = 1;
		fsc__copy_entry(e, &out->st);
	} else { /* as a reader answers: the writer keeps no errno */
		out->st.err = ENOENT;
	}
	out->st.source = (e->flags & FSC_ENT_NOCACHE) ? FSC_SOURCE_STAT
						      : FSC_SOURCE_CACHE;
	out->validated_ns = view_entry_cold(v, e)->validated_ns;
}

/* Every slot, in slot order (run under view_guarded: SIGBUS-safe). */
static int view_pass(void *arg)
{
	struct view_pass *p = arg;
	_Alignas(8) unsigned char buf[VIEW_ENTRY_BUF];
	const struct fsc_entry *e = (const struct fsc_entry *)buf;
	for (uint32_t slot = 0; slot < p->v->slot_count; slot++) {
		if (view_slot_copy(p->v, slot, buf, SLOT_TRIES, 1) < 0) {
			p->l->busy++;
			continue;
		}
		if (!(e->flags & FSC_ENT_USED))
			continue;
		struct fsc_listed one;
		listed_from_copy(p->v, slot, e, &one);
		if (fsc__listing_add(p->l, &p->room, &one,
				     one.status ? NULL : view_entry_path(e)) <
		    0)
			return -ENOMEM;
	}
	return 0;
}

static const char *why_not_served(const struct fsc_header *h)
{
	switch (view_liveness(h->writer_alive)) {
	case VIEW_DEAD:
		return "its writer was killed or crashed";
	case VIEW_STOPPED:
		return "its writer stopped";
	default:
		return "its writer does not serve it";
	}
}

/*
 * No live writer serves ctx->name: list the entries its segment kept, if
 * one is left.  0 with *l filled; else the error is reported, -1.
 */
static int scan_unserved(const struct tool_ctx *ctx, struct fsc_listing *l)
{
	struct view v;
	int r = view_open(&v, ctx->name, 0);
	if (r == -ENOENT) {
		tool_error_no_writer(ctx);
		return -1;
	}
	if (r < 0) {
		tool_view_error(ctx, r);
		return -1;
	}
	if (!v.valid) {
		tool_error("ls: the segment of instance '%s' fails "
			   "validation; 'fstatcache check' lists what is wrong",
			   ctx->name);
		view_close(&v);
		return -1;
	}
	struct fsc_header h;
	view_read_header(&v, &h);
	struct view_pass p = { .v = &v, .l = l };
	r = view_guarded(view_pass, &p);
	view_close(&v);
	if (r < 0) {
		fsc_listing_free(l);
		if (r == -EFAULT)
			tool_error("ls: the segment of instance '%s' shrank "
				   "while it was read",
				   ctx->name);
		else
			tool_error("ls: %s", strerror(-r));
		return -1;
	}
	l->stable = 1;
	tool_error("ls: no fstatcached is serving instance '%s' (%s): "
		   "listing the entries its segment kept; readers answer "
		   "by stat()",
		   ctx->name, why_not_served(&h));
	return 0;
}

/* ---- the subcommand ----------------------------------------------- */

/* A live writer's entries: fsc_entries_scan()'s result, any error
 * reported (what was read before the writer went away is in *l). */
static int scan_served(const struct tool_ctx *ctx, fsc_handle *h,
		       struct fsc_listing *l)
{
	int r = fsc_entries_scan(h, FSC_SCAN_PASSES, l);
	if (r == 0)
		return 0;
	if (r == -ENOTCONN)
		tool_error_no_writer(ctx);
	else if (r == -ECONNRESET)
		tool_error("ls: the fstatcached of instance '%s' went away "
			   "during the listing",
			   ctx->name);
	else
		tool_error("ls: %s", fsc_strerror(r));
	return r;
}

int cmd_ls(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct ls_state ls = { .ctx = ctx, .now_ns = tool_realtime_ns() };
	struct fsc_listing l;
	memset(&l, 0, sizeof(l));
	int status = TOOL_EXIT_OK;
	fsc_handle *h = NULL;
	int r = fsc_open(&h, ctx->name, FSC_OPEN_ATTACHED);
	if (r == -ENOENT) { /* no live writer: maybe its segment is left */
		if (scan_unserved(ctx, &l) < 0)
			return TOOL_EXIT_FAIL;
	} else if (r < 0) {
		tool_open_error(ctx, r);
		return TOOL_EXIT_FAIL;
	} else {
		r = scan_served(ctx, h, &l);
		fsc_close(h);
		if (r == -ENOTCONN) {
			fsc_listing_free(&l);
			return TOOL_EXIT_FAIL;
		}
		if (r < 0)
			status = TOOL_EXIT_FAIL;
	}
	keep_valid(&ls, &l); /* what was read, even if the writer went away */
	sort_entries(&ls);
	if (print_all(&ls) < 0)
		status = TOOL_EXIT_FAIL;
	if (l.busy)
		tool_error("ls: %u busy entries skipped", l.busy);
	if (!l.stable && status == TOOL_EXIT_OK)
		tool_error("ls: the writer kept moving entries: one may be "
			   "missing or listed twice");
	fsc_listing_free(&l);
	if (ls.invalid)
		status = TOOL_EXIT_FAIL;
	return status;
}
