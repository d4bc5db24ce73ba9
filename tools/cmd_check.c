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
 * the .use object (size, magic, epoch, slot_count).
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
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cmd.h"
#include "view.h"

#define CHECK_PASSES 5    /* passes while a live writer may be mid-change */
#define SEQ_TRIES 100     /* seqlock attempts per slot, sched_yield between */
#define MAX_REPORTED 1000 /* violation lines printed; the rest are counted */
#define DUP_RUN_MAX 64    /* keys of one hash compared pairwise */

struct key {
	uint64_t hash; /* computed from the key, not the stored one */
	uint32_t slot;
};

struct check {
	const struct tool_ctx *ctx;
	struct view v;
	char **msgs; /* this pass's violations */
	size_t nmsgs, cap;
	uint64_t dropped; /* beyond MAX_REPORTED, or unformattable */
	/* The pass over the slots. */
	uint8_t *used; /* per slot: 0 empty, 1 used, 2 unknown (busy) */
	struct key *keys;
	size_t nkeys;
	uint64_t nused, nnocache;
	uint64_t nbusy; /* slots never read consistently: used or not */
	int unverified; /* this pass was not stable: structure not judged */
	int no_slots;   /* the geometry does not allow reading slots */
};

static void violation(struct check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void violation(struct check *c, const char *fmt, ...)
{
	if (c->nmsgs >= MAX_REPORTED) {
		c->dropped++;
		return;
	}
	if (c->nmsgs == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		char **m = realloc(c->msgs, cap * sizeof(*m));
		if (!m) {
			c->dropped++;
			return;
		}
		c->msgs = m;
		c->cap = cap;
	}
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		c->msgs[c->nmsgs++] = s;
	else
		c->dropped++;
}

static void reset_pass(struct check *c)
{
	for (size_t i = 0; i < c->nmsgs; i++)
		free(c->msgs[i]);
	c->nmsgs = 0;
	c->dropped = 0;
	c->nkeys = 0;
	c->nused = 0;
	c->nnocache = 0;
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
				  h->entry_size, FSC_ENTRY_FIXED,
				  FSC_ENTRY_FIXED + FSC_PATH_MAX_MAX + 4096);
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
	if (h->reserved0 || h->reserved1)
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

/* ---- slots ------------------------------------------------------------ */

/* `p` quoted for a one-line message; "?" when out of memory. */
static char *quoted(const char *p, size_t n)
{
	char *q = tool_quote_path(p, n);
	return q ? q : strdup("?");
}

/* The key: path_len, NUL termination and padding.  0 when usable. */
static int check_key(struct check *c, uint32_t slot, const struct fsc_entry *e)
{
	const char *p = view_entry_path(e);
	uint32_t len = e->path_len, pm = c->v.path_max;
	if (len < 1 || len >= pm) {
		violation(c, "slot %u: path_len %u out of range 1..%u", slot,
			  len, pm - 1);
		return -1;
	}
	const char *nul = memchr(p, 0, len);
	if (nul) {
		violation(c,
			  "slot %u: NUL byte inside the key at offset %zu "
			  "(path_len %u)",
			  slot, (size_t)(nul - p), len);
		return -1;
	}
	if (p[len] != '\0')
		violation(c, "slot %u: key not NUL-terminated at path_len %u",
			  slot, len);
	else
		for (uint32_t i = len + 1; i < pm; i++)
			if (p[i]) {
				violation(c,
					  "slot %u: path area not NUL-padded "
					  "(byte %u after the key is 0x%02x)",
					  slot, i, (unsigned char)p[i]);
				break;
			}
	if (!fsc_path_ok(p, len)) {
		char *q = quoted(p, len);
		violation(c,
			  "slot %u: key %s is not a canonical absolute path "
			  "(no reader can look it up)",
			  slot, q);
		free(q);
	}
	return 0;
}

static void check_stat_fields(struct check *c, uint32_t slot,
			      const struct fsc_entry *e)
{
	if (e->flags & FSC_ENT_EXISTS) {
		if (!fsc_mode_ok(e->mode))
			violation(c,
				  "slot %u: mode 0%o is not a known file "
				  "type",
				  slot, e->mode);
		if (e->size < 0 || e->blocks < 0)
			violation(c,
				  "slot %u: negative size (%lld) or blocks "
				  "(%lld)",
				  slot, (long long)e->size,
				  (long long)e->blocks);
	}
	if (e->mtime_nsec >= 1000000000u || e->ctime_nsec >= 1000000000u)
		violation(c,
			  "slot %u: nanoseconds not below 10^9 (mtime_nsec "
			  "%u, ctime_nsec %u)",
			  slot, e->mtime_nsec, e->ctime_nsec);
	if ((e->flags & FSC_ENT_NOCACHE) && !view_reason_name(e->reason))
		violation(c, "slot %u: NOCACHE with unknown reason %u", slot,
			  e->reason);
	if (!(e->flags & FSC_ENT_NOCACHE) && e->reason)
		violation(c, "slot %u: reason %u without NOCACHE", slot,
			  e->reason);
	if (e->reserved0 || e->reserved1)
		violation(c, "slot %u: reserved fields are not 0", slot);
}

static void check_used_entry(struct check *c, uint32_t slot,
			     const struct fsc_entry *e)
{
	c->nused++;
	if (e->flags & FSC_ENT_NOCACHE)
		c->nnocache++;
	check_stat_fields(c, slot, e);
	if (check_key(c, slot, e) < 0)
		return;
	uint64_t want = XXH3_64bits_withSeed(view_entry_path(e), e->path_len,
					     c->v.seed);
	if (e->hash != want)
		violation(c,
			  "slot %u: hash 0x%016llx does not match its key "
			  "(want 0x%016llx)",
			  slot, (unsigned long long)e->hash,
			  (unsigned long long)want);
	c->keys[c->nkeys++] = (struct key){ want, slot };
}

static void check_slots(struct check *c)
{
	_Alignas(8) unsigned char buf[VIEW_ENTRY_BUF];
	const struct fsc_entry *e = (const struct fsc_entry *)buf;
	const uint32_t known = FSC_ENT_USED | FSC_ENT_EXISTS | FSC_ENT_NOCACHE;
	for (uint32_t slot = 0; slot < c->v.slot_count; slot++) {
		c->used[slot] = 0;
		if (view_slot_copy(&c->v, slot, buf, SEQ_TRIES, 1) < 0) {
			c->used[slot] = 2; /* unknown: no gap blamed on it */
			c->nbusy++;
			violation(c,
				  "slot %u: seq %u %s after %d reads (a "
				  "rewrite was interrupted)",
				  slot, e->seq,
				  (e->seq & 1) ? "stays odd" : "keeps changing",
				  SEQ_TRIES);
			continue;
		}
		if (e->flags & ~known)
			violation(c, "slot %u: unknown flag bits 0x%x", slot,
				  e->flags & ~known);
		if (!(e->flags & FSC_ENT_USED))
			continue;
		c->used[slot] = 1;
		check_used_entry(c, slot, e);
	}
}

/* ---- structure --------------------------------------------------------- */

static void check_reachable(struct check *c, const struct key *k)
{
	uint32_t home = (uint32_t)k->hash & c->v.mask;
	uint32_t dist = (k->slot - home) & c->v.mask;
	if (dist >= c->v.probe_limit) {
		violation(c,
			  "slot %u: %u slots from its home slot %u, outside "
			  "the probe window (probe_limit %u): unreachable",
			  k->slot, dist, home, c->v.probe_limit);
		return;
	}
	for (uint32_t s = home; s != k->slot; s = (s + 1) & c->v.mask) {
		if (c->used[s] == 0) {
			violation(c,
				  "slot %u: unreachable: slot %u between its "
				  "home slot %u and it is empty",
				  k->slot, s, home);
			return;
		}
	}
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return (a->slot > b->slot) - (a->slot < b->slot);
}

/* Re-read two slots of equal hash and compare their keys. */
static void compare_keys(struct check *c, uint32_t s1, uint32_t s2)
{
	_Alignas(8) unsigned char b1[VIEW_ENTRY_BUF], b2[VIEW_ENTRY_BUF];
	const struct fsc_entry *e1 = (const void *)b1, *e2 = (const void *)b2;
	if (view_slot_copy(&c->v, s1, b1, SEQ_TRIES, 1) < 0 ||
	    view_slot_copy(&c->v, s2, b2, SEQ_TRIES, 1) < 0 ||
	    !(e1->flags & e2->flags & FSC_ENT_USED) ||
	    e1->path_len != e2->path_len || e1->path_len >= c->v.path_max ||
	    memcmp(view_entry_path(e1), view_entry_path(e2), e1->path_len))
		return;
	char *q = quoted(view_entry_path(e1), e1->path_len);
	violation(c, "slot %u: duplicate key: slot %u holds the same path %s",
		  s2, s1, q);
	free(q);
}

static void check_duplicates(struct check *c)
{
	qsort(c->keys, c->nkeys, sizeof(c->keys[0]), key_cmp);
	for (size_t i = 0; i < c->nkeys;) {
		size_t j = i + 1;
		while (j < c->nkeys && c->keys[j].hash == c->keys[i].hash)
			j++;
		size_t end = j - i > DUP_RUN_MAX ? i + DUP_RUN_MAX : j;
		for (size_t a = i; a < end; a++)
			for (size_t b = a + 1; b < end; b++)
				compare_keys(c, c->keys[a].slot,
					     c->keys[b].slot);
		i = j;
	}
}

static void check_structure(struct check *c)
{
	for (size_t i = 0; i < c->nkeys; i++)
		check_reachable(c, &c->keys[i]);
	check_duplicates(c);
}

/*
 * entry_count and the counters against what the pass saw.  `before` was
 * read before the pass, `after` after it: counters only grow, so taking
 * sums from `before` and bounds from `after` stays true while a correct
 * writer runs.
 */
static void check_counts(struct check *c, const struct fsc_header *before,
			 const struct fsc_header *after)
{
	const uint64_t *b = before->counters, *a = after->counters;
	if (after->entry_count < c->nused ||
	    after->entry_count > c->nused + c->nbusy) {
		if (c->nbusy)
			violation(c,
				  "header: entry_count %u but %llu slots are "
				  "used (and %llu unreadable)",
				  after->entry_count,
				  (unsigned long long)c->nused,
				  (unsigned long long)c->nbusy);
		else
			violation(c,
				  "header: entry_count %u but %llu slots "
				  "are used",
				  after->entry_count,
				  (unsigned long long)c->nused);
	}
	if (after->entry_count > after->max_entries)
		violation(c, "header: entry_count %u above max_entries %u",
			  after->entry_count, after->max_entries);
	if (a[FSC_CTR_INSERTS] < c->nused)
		violation(c,
			  "header: counters: inserts %llu below the %llu "
			  "used slots",
			  (unsigned long long)a[FSC_CTR_INSERTS],
			  (unsigned long long)c->nused);
	uint64_t gone = b[FSC_CTR_EVICTIONS] + b[FSC_CTR_REMOVALS];
	if (gone > a[FSC_CTR_INSERTS])
		violation(c,
			  "header: counters: evictions + removals %llu "
			  "above inserts %llu",
			  (unsigned long long)gone,
			  (unsigned long long)a[FSC_CTR_INSERTS]);
	if (c->nnocache > a[FSC_CTR_UNCACHEABLE])
		violation(c,
			  "header: counters: %llu entries answered by "
			  "stat() but uncacheable is %llu",
			  (unsigned long long)c->nnocache,
			  (unsigned long long)a[FSC_CTR_UNCACHEABLE]);
}

/* ---- the .use object --------------------------------------------------- */

static void check_use_header(struct check *c, const struct fsc_use_header *u,
			     const struct fsc_header *h)
{
	if (u->magic != FSC_USE_MAGIC)
		violation(c, "use: bad magic 0x%016llx (want 0x%016llx)",
			  (unsigned long long)u->magic,
			  (unsigned long long)FSC_USE_MAGIC);
	if (u->epoch != h->epoch)
		violation(c,
			  "use: epoch 0x%016llx differs from the table's "
			  "0x%016llx (a stale or foreign .use object)",
			  (unsigned long long)u->epoch,
			  (unsigned long long)h->epoch);
	if (u->slot_count != h->slot_count)
		violation(c, "use: slot_count %u differs from the table's %u",
			  u->slot_count, h->slot_count);
	if (uatomic_read(&u->reserved0) || uatomic_read(&u->reserved1))
		violation(c, "use: reserved fields are not 0");
}

static void check_use(struct check *c, const struct fsc_header *h)
{
	int fd = shm_open(c->v.use_shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		violation(c, "use: cannot open %s: %s", c->v.use_shm,
			  strerror(errno));
		return;
	}
	struct stat st;
	void *p = MAP_FAILED;
	uint64_t want = FSC_USE_HEADER_SIZE + (uint64_t)h->slot_count;
	if (fstat(fd, &st) < 0) {
		violation(c, "use: fstat %s: %s", c->v.use_shm,
			  strerror(errno));
	} else {
		if (!fsc_owner_ok(&st, c->v.owner, 1))
			violation(c,
				  "use: %s belongs to uid %u with mode %04o: "
				  "readers refuse it",
				  c->v.use_shm, (unsigned)st.st_uid,
				  (unsigned)(st.st_mode & 07777));
		if ((uint64_t)st.st_size != want)
			violation(c,
				  "use: size %llu (want %u + slot_count = "
				  "%llu)",
				  (unsigned long long)st.st_size,
				  FSC_USE_HEADER_SIZE,
				  (unsigned long long)want);
		if (st.st_size >= (off_t)FSC_USE_HEADER_SIZE)
			p = mmap(NULL, FSC_USE_HEADER_SIZE, PROT_READ,
				 MAP_SHARED, fd, 0);
	}
	close(fd);
	if (p == MAP_FAILED)
		return;
	check_use_header(c, p, h);
	munmap(p, FSC_USE_HEADER_SIZE);
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
	return 0;
}

static int writer_alive(const struct check *c)
{
	struct fsc_header h;
	view_read_header(&c->v, &h);
	return view_liveness(h.writer_alive) == VIEW_ALIVE;
}

static int report(struct check *c)
{
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
