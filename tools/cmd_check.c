/*
 * cmd_check.c - `fstatcache check`: verify every invariant of a segment.
 *
 * The segment is mapped read-only (view.h) whatever the writer's state:
 * checking a dead writer's segment is the point.  Nothing read from it is
 * trusted: the header is copied and each field checked against the bounds
 * of docs/FORMAT.md; slots are read only when the geometry keeps every
 * slot inside the mapping; each slot is copied under its seqlock into
 * private memory and examined there; a SIGBUS (object truncated under
 * us) ends the check with a violation instead of a crash.
 *
 * One pass checks, in order: the object (owner, mode), the header (magic,
 * version, header_size, geometry bounds, segment_size, status, table_gen,
 * reserved bytes), every slot (seq even, flags, key well formed and
 * NUL-padded, hash, stat fields, reason), then the structure (every key
 * within probe_limit of its home slot with no empty slot between, no
 * duplicate keys), entry_count and the counters against the slots, and
 * the .use object (size, magic, epoch, slot_count).  This file checks the
 * object and the header and runs the passes; check_slots.c checks the
 * table's contents.
 *
 * A live writer changes the table while it is read: a slot may be
 * mid-rewrite (its seq is retried, with sched_yield, up to SEQ_TRIES
 * times), an entry may move (backward shift) or be inserted between the
 * reads of two slots, entry_count may lag an insert.  Per-slot checks look
 * at consistent copies, so they hold whatever the writer does.  The
 * structure and the counts are judged only from a stable pass: table_gen
 * even and unchanged (no entry moved or was removed) and entry_count
 * unchanged (none was inserted) from before the pass to after it.  When a
 * pass with a live writer finds anything, or is not stable, the whole pass
 * is repeated, up to CHECK_PASSES times, and only the last one is
 * reported: corruption persists, a change in progress does not.  If no
 * pass was stable, a note says the structure went unverified (not a
 * violation).  With a dead or stopped writer nothing changes: one pass.
 */
#include <byteswap.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cmd.h"
#include "view.h"

#define CHECK_PASSES 5 /* passes while a live writer may be mid-change */

static void reset_pass(struct check *c)
{
	for (size_t i = 0; i < c->nmsgs; i++)
		free(c->msgs[i]);
	c->nmsgs = 0;
	c->dropped = 0;
	c->nkeys = 0;
	c->nused = 0;
	c->nnocache = 0;
	c->nchanged = 0;
	c->nbusy = 0;
	c->unverified = 0;
	c->no_slots = 0;
}

/* ---- object and header ---------------------------------------------- */

static void check_object(struct check *c)
{
	const struct stat *st = &c->v.st;
	if (st->st_uid != c->v.owner && st->st_uid != 0)
		violation(c,
			  "object: %s belongs to uid %u, not %u: readers "
			  "refuse it",
			  c->v.shm, (unsigned)st->st_uid, (unsigned)c->v.owner);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		violation(c,
			  "object: %s has mode %04o, writable by group or "
			  "others: readers refuse it",
			  c->v.shm, (unsigned)(st->st_mode & 07777));
}

/* 0, or -1 when the header is not one this tool can read any further. */
static int check_identity(struct check *c, const struct fsc_header *h)
{
	if (h->magic != FSC_MAGIC) {
		if (bswap_64(h->magic) == FSC_MAGIC)
			violation(c,
				  "header: magic 0x%016llx is byte-swapped "
				  "(a segment of the other byte order)",
				  (unsigned long long)h->magic);
		else
			violation(c,
				  "header: bad magic 0x%016llx (want "
				  "0x%016llx): not an fstatcache segment",
				  (unsigned long long)h->magic,
				  (unsigned long long)FSC_MAGIC);
		return -1;
	}
	if (h->version_major != FSC_FORMAT_MAJOR) {
		violation(c,
			  "header: format version %u.%u: this tool reads "
			  "major version %u only",
			  h->version_major, h->version_minor, FSC_FORMAT_MAJOR);
		return -1;
	}
	return 0;
}

/* Every geometry rule of contract.h the header breaks, each with its
 * values (a reader stops at the first). */
static void check_geometry(struct check *c, const struct fsc_header *h)
{
	uint32_t cap = h->slot_count;
	uint64_t size = (uint64_t)c->v.size;
	for (int r = FSC_GEOM_HEADER_SIZE; r <= FSC_GEOM_OBJECT_SIZE; r++) {
		if (fsc_geometry_rule_ok(h, (enum fsc_geometry)r, size))
			continue;
		switch ((enum fsc_geometry)r) {
		case FSC_GEOM_HEADER_SIZE:
			violation(c, "header: header_size %u (want %u)",
				  h->header_size, FSC_HEADER_SIZE);
			break;
		case FSC_GEOM_SLOTS:
			violation(c,
				  "header: slot_count %u is not a power of "
				  "two in %u..%u",
				  cap, FSC_SLOTS_MIN, FSC_SLOTS_MAX);
			break;
		case FSC_GEOM_PATH_MAX:
			violation(c,
				  "header: path_max %u is not a multiple of "
				  "8 in %u..%u",
				  h->path_max, FSC_PATH_MAX_MIN,
				  FSC_PATH_MAX_MAX);
			break;
		case FSC_GEOM_ENTRY_SIZE:
			violation(c,
				  "header: entry_size %u is not a multiple "
				  "of 8 from %u + path_max to %u",
				  h->entry_size,
				  FSC_ENTRY_FIXED + FSC_ENTRY_COLD,
				  FSC_ENTRY_SIZE(FSC_PATH_MAX_MAX) + 4096);
			break;
		case FSC_GEOM_PROBE_LIMIT:
			violation(c,
				  "header: probe_limit %u not in 1..%u "
				  "(min(%u, slot_count))",
				  h->probe_limit,
				  cap < FSC_PROBE_LIMIT_MAX
					  ? cap
					  : FSC_PROBE_LIMIT_MAX,
				  FSC_PROBE_LIMIT_MAX);
			break;
		case FSC_GEOM_SEGMENT_SIZE:
			violation(c,
				  "header: segment_size %llu is not "
				  "header_size + slot_count * entry_size = "
				  "%llu",
				  (unsigned long long)h->segment_size,
				  (unsigned long long)fsc_layout_size(h));
			break;
		case FSC_GEOM_OBJECT_SIZE:
			violation(c,
				  "header: segment_size %llu differs from "
				  "the object's size %llu (readers refuse it: "
				  "SIGBUS guard)",
				  (unsigned long long)h->segment_size,
				  (unsigned long long)size);
			break;
		default: /* magic and version: checked before */
			break;
		}
	}
	uint64_t want = fsc_layout_size(h);
	if (want > size && want == h->segment_size)
		violation(c,
			  "object: %llu bytes cannot hold %u slots of %u "
			  "bytes",
			  (unsigned long long)size, cap, h->entry_size);
}

/* table_gen, re-read while odd: odd for good means a move was cut short. */
static void check_table_gen(struct check *c)
{
	const struct fsc_header *live =
		(const struct fsc_header *)(const void *)c->v.base;
	uint32_t g = 0;
	for (int i = 0; i < SEQ_TRIES; i++) {
		g = uatomic_read(&live->table_gen);
		if (!(g & 1))
			return;
		sched_yield();
	}
	violation(c,
		  "header: table_gen %u stays odd: a move of entries was "
		  "interrupted",
		  g);
}

static void check_socket_path(struct check *c, const struct fsc_header *h)
{
	const uint8_t *p = h->socket_path;
	const uint8_t *nul =
		memchr(p, 0, sizeof(((struct sockaddr_un *)0)->sun_path));
	if (!nul)
		violation(c,
			  "header: socket_path is not NUL-terminated "
			  "within %zu bytes",
			  sizeof(((struct sockaddr_un *)0)->sun_path));
	else if (p[0] != '/' && h->status != FSC_STATUS_INIT)
		violation(c, "header: socket_path is not an absolute path");
}

/*
 * Fields FORMAT.md says are 0 in the minors this tool knows, and the zero
 * tail of the header page.
 */
static void check_reserved(struct check *c, const struct fsc_header *h)
{
	if (h->version_minor > FSC_FORMAT_MINOR)
		return; /* a newer minor may use them */
	if (h->flags & ~FSC_SEG_F_KNOWN)
		violation(c, "header: flags 0x%x (unknown bits set)", h->flags);
	if (h->reserved0)
		violation(c, "header: reserved fields are not 0");
	for (unsigned i = FSC_CTR_KNOWN; i < FSC_NCOUNTERS; i++)
		if (h->counters[i])
			violation(c,
				  "header: unused counter %u is %llu "
				  "(want 0)",
				  i, (unsigned long long)h->counters[i]);
	const uint64_t *w = (const uint64_t *)(const void *)c->v.base;
	for (size_t i = sizeof(struct fsc_header) / 8; i < FSC_HEADER_SIZE / 8;
	     i++) {
		if (uatomic_read(&w[i])) {
			violation(c,
				  "header: byte range %zu..%zu after the "
				  "header fields is not zero",
				  8 * i, 8 * i + 7);
			return;
		}
	}
}

static void check_header(struct check *c, const struct fsc_header *h)
{
	check_geometry(c, h);
	if (!view_status_name(h->status))
		violation(c, "header: unknown status %u", h->status);
	if (h->owner_uid != (uint32_t)c->v.st.st_uid)
		violation(c,
			  "header: owner_uid %u but the object belongs to "
			  "uid %u",
			  h->owner_uid, (unsigned)c->v.st.st_uid);
	if (h->max_entries < 1 || h->max_entries >= h->slot_count)
		violation(c,
			  "header: max_entries %u not in 1..capacity-1 "
			  "(%u)",
			  h->max_entries, h->slot_count - 1);
	if (h->writer_started_ns == 0 && h->status != FSC_STATUS_INIT)
		violation(c, "header: writer_started_ns is 0");
	check_table_gen(c);
	check_socket_path(c, h);
	check_reserved(c, h);
}

/* ---- passes -------------------------------------------------------------- */

/* One pass (under view_guarded: SIGBUS-safe).  Always 0. */
static int run_pass(void *arg)
{
	struct check *c = arg;
	struct fsc_header before, after;
	const struct fsc_header *live =
		(const struct fsc_header *)(const void *)c->v.base;
	reset_pass(c);
	/* The pass is a read section of table_gen (seqlock.h). */
	uint32_t gen = fsc_seq_read_begin(&live->table_gen);
	view_read_header(&c->v, &before);
	check_object(c);
	if (check_identity(c, &before) < 0)
		return 0;
	check_header(c, &before);
	if (c->v.layout_ok) {
		check_slots(c);
		view_read_header(&c->v, &after);
		int stable = !fsc_seq_read_retry(&live->table_gen, gen) &&
			     before.entry_count == after.entry_count;
		if (stable || view_liveness(after.writer_alive) != VIEW_ALIVE) {
			check_structure(c);
			check_counts(c, &before, &after);
		} else {
			c->unverified = 1;
		}
	} else {
		c->no_slots = 1;
	}
	check_use(c, &before);
	check_tags(c, &before);
	check_feed(c, &before);
	return 0;
}

static int writer_alive(const struct check *c)
{
	struct fsc_header h;
	view_read_header(&c->v, &h);
	return view_liveness(h.writer_alive) == VIEW_ALIVE;
}

/* --json: one object, the same facts as the text report. */
static int report_json(struct check *c)
{
	uint64_t total = c->nmsgs + c->dropped;
	json_t *v = json_array(), *notes = json_array();
	for (size_t i = 0; v && i < c->nmsgs; i++)
		json_array_append_new(v, json_string(c->msgs[i]));
	if (notes && c->no_slots)
		json_array_append_new(notes,
				      json_string("slots not checked: the "
						  "header's geometry does not "
						  "describe the object"));
	if (notes && c->unverified)
		json_array_append_new(notes,
				      json_string("the writer changed the "
						  "table during every pass; "
						  "probe chains, duplicates "
						  "and entry_count were not "
						  "verified"));
	json_t *o = json_pack("{s:s, s:b, s:I, s:I, s:o, s:I, s:o}", "name",
			      c->ctx->name, "ok", total == 0, "entries",
			      (json_int_t)c->nused, "slots",
			      (json_int_t)c->v.slot_count, "violations", v,
			      "more_violations", (json_int_t)c->dropped,
			      "notes", notes);
	if (tool_json_print(o) < 0)
		return TOOL_EXIT_FAIL;
	return total ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

static int report(struct check *c)
{
	if (c->ctx->json)
		return report_json(c);
	for (size_t i = 0; i < c->nmsgs; i++)
		tool_error("check: %s", c->msgs[i]);
	if (c->dropped)
		tool_error("check: ... and %llu more violations",
			   (unsigned long long)c->dropped);
	uint64_t total = c->nmsgs + c->dropped;
	if (c->no_slots)
		tool_error("check: note: slots not checked: the header's "
			   "geometry does not describe the object");
	if (c->unverified)
		tool_error("check: note: the writer changed the table during "
			   "every pass; probe chains, duplicates and "
			   "entry_count were not verified");
	if (total) {
		tool_error("check: %llu violation%s in instance '%s'",
			   (unsigned long long)total, total == 1 ? "" : "s",
			   c->ctx->name);
		return TOOL_EXIT_FAIL;
	}
	printf("ok: %llu entries, %u slots\n", (unsigned long long)c->nused,
	       c->v.slot_count);
	return TOOL_EXIT_OK;
}

static int run_check(struct check *c)
{
	if (c->v.layout_ok) {
		c->used = malloc(c->v.slot_count);
		c->keys = malloc((size_t)c->v.slot_count * sizeof(*c->keys));
		if (!c->used || !c->keys) {
			tool_error("check: out of memory");
			return TOOL_EXIT_FAIL;
		}
	}
	for (int pass = 1;; pass++) {
		if (view_guarded(run_pass, c) < 0) {
			reset_pass(c);
			violation(c, "object: %s shrank while it was read",
				  c->v.shm);
			break;
		}
		if (!c->nmsgs && !c->dropped && !c->unverified)
			break;
		if (pass >= CHECK_PASSES || !writer_alive(c))
			break;
	}
	return report(c);
}

int cmd_check(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct check c = { .ctx = ctx };
	int r = view_open(&c.v, ctx->name, VIEW_ANY_OWNER);
	if (r == -EBADMSG) {
		tool_error("check: object: %s is %lld bytes, smaller than the "
			   "header page (%u)",
			   c.v.shm, (long long)c.v.st.st_size, FSC_HEADER_SIZE);
		return TOOL_EXIT_FAIL;
	}
	if (r < 0)
		return tool_view_error(ctx, r);
	int status = run_check(&c);
	reset_pass(&c);
	free(c.msgs);
	free(c.used);
	free(c.keys);
	view_close(&c.v);
	return status;
}
