/*
 * test_table.c - unit and model tests of the writer's shared table.
 *
 * Each test builds a fake segment in process memory (header page, slots,
 * a separate use array the test plays "reader" on) and binds the table to
 * it.  Directed tests pin down each rule of writer/table.c; the model test
 * applies random operations to the table and to a trivial reference map and
 * compares the two, plus every structural invariant, after every step; the
 * concurrent test (table_race.c, shared with the TSan pass) runs a seqlock
 * reader thread against the writer and counts torn reads and false misses
 * (both must be 0).
 *
 * FSC_SEED=N replays a model run; failures print the seed.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fstatcache/seqlock.h"
#include "table_race.h"
#include "table.h"

/* ---- fake segment ------------------------------------------------------ */

struct geometry {
	uint32_t capacity, path_max, probe_limit, max_entries;
	uint64_t seed;
};

struct fake {
	void *mem;
	struct fsc_header *hdr;
	uint8_t *use;
	uint16_t *tags; /* the tag array (format.h, minor 5) */
	struct fw_table t;
};

static void header_fill(struct fsc_header *h, struct geometry g)
{
	h->magic = FSC_MAGIC;
	h->version_major = FSC_FORMAT_MAJOR;
	h->version_minor = FSC_FORMAT_MINOR;
	h->header_size = FSC_HEADER_SIZE;
	h->entry_size = FSC_ENTRY_SIZE(g.path_max);
	h->slot_count = g.capacity;
	h->probe_limit = g.probe_limit;
	h->path_max = g.path_max;
	h->max_entries = g.max_entries;
	h->hash_seed = g.seed;
	h->segment_size = FSC_HEADER_SIZE +
			  (uint64_t)g.capacity * FSC_ENTRY_SIZE(g.path_max);
}

/* Allocates and fills the segment; returns what fw_table_bind said. */
static int fake_open(struct fake *f, struct geometry g)
{
	size_t size = FSC_HEADER_SIZE +
		      (size_t)g.capacity * FSC_ENTRY_SIZE(g.path_max);

	size = (size + 4095) & ~(size_t)4095;
	memset(f, 0, sizeof(*f));
	f->mem = aligned_alloc(4096, size);
	cr_assert_not_null(f->mem);
	memset(f->mem, 0, size);
	f->hdr = f->mem;
	f->use = calloc(g.capacity, 1);
	cr_assert_not_null(f->use);
	f->tags = calloc(g.capacity, sizeof(*f->tags));
	cr_assert_not_null(f->tags);
	header_fill(f->hdr, g);
	int r = fw_table_bind(&f->t, f->hdr, f->use);
	if (r == 0)
		fw_table_set_tags(&f->t, f->tags);
	return r;
}

static void fake_open_ok(struct fake *f, struct geometry g)
{
	cr_assert_eq(fake_open(f, g), 0, "bind refused a valid geometry");
}

static void fake_close(struct fake *f)
{
	free(f->mem);
	free(f->use);
	free(f->tags);
}

static const struct fsc_entry *raw_slot(const struct fake *f, uint32_t i)
{
	return (const struct fsc_entry *)(f->t.slots +
					  (size_t)i * f->t.entry_size);
}

static uint32_t home_of(const struct fake *f, const char *path)
{
	return (uint32_t)fw_table_hash(&f->t, path, strlen(path)) & f->t.mask;
}

/*
 * Brute-force `n` distinct paths whose home slot is `home`.  `tag` keeps
 * the sets of different calls apart.
 */
static void paths_with_home(const struct fake *f, uint32_t home,
			    const char *tag, unsigned n, char out[][64])
{
	unsigned found = 0;

	for (unsigned k = 0; found < n; k++) {
		cr_assert_lt(k, 1000000u, "no path found for home %u", home);
		snprintf(out[found], 64, "/var/log/%s/%u.log", tag, k);
		if (home_of(f, out[found]) == home)
			found++;
	}
}

/*
 * Distinct values from v, within what an entry holds (format.h);
 * unsigned arithmetic, as v may be random.  Times before 1970 too.
 */
static struct fw_record rec_make(uint64_t v)
{
	uint32_t w = (uint32_t)v;

	return (struct fw_record){
		.flags = FSC_ENT_EXISTS,
		.dev = v + 1,
		.ino = v * 7 + 3,
		.nlink = 1 + (w & 0xffff),
		.rdev = w ^ 0xabc,
		.mode = 0100644,
		.uid = 1000 + w,
		.gid = 2000 + w,
		.size = (int64_t)(v * 100),
		.blocks = (int64_t)(v * 8),
		.mtime_sec = (int64_t)1700000000 + (w % 1000) - 500000,
		.ctime_sec = (int64_t)1700000001 + (w % 1000),
		.mtime_nsec = w % 1000000000u,
		.ctime_nsec = (w * 3) % 1000000000u,
		.blksize = 4096u << (w % 5),
		.atime_sec = (int64_t)(w % 3) - 1,
		.atime_nsec = (w * 7) % 1000000000u,
		.validated_ns = v * 1000,
	};
}

static uint32_t reason_of(const struct fake *f, const struct fsc_entry *e)
{
	return fw_table_entry_cold(&f->t, e)->reason;
}

/* The entry holds `r`, packed as format.h says, times split back. */
static int entry_matches(const struct fake *f, const struct fsc_entry *e,
			 const struct fw_record *r)
{
	const struct fsc_entry_cold *c = fw_table_entry_cold(&f->t, e);
	int64_t ms, cs, as;
	uint32_t mn, cn, an;

	fsc_time_unpack(e->mtime_ns, &ms, &mn);
	fsc_time_unpack(e->ctime_ns, &cs, &cn);
	fsc_time_unpack(e->atime_ns, &as, &an);
	return e->flags == (r->flags | FSC_ENT_USED) &&
	       c->reason == r->reason && c->reserved0 == 0 &&
	       c->validated_ns == r->validated_ns && e->dev == r->dev &&
	       e->ino == r->ino && e->nlink == r->nlink && e->rdev == r->rdev &&
	       e->mode == r->mode && e->uid == r->uid && e->gid == r->gid &&
	       e->size == r->size && e->blocks == r->blocks &&
	       ms == r->mtime_sec && cs == r->ctime_sec &&
	       mn == r->mtime_nsec && cn == r->ctime_nsec &&
	       e->blksize == r->blksize && as == r->atime_sec &&
	       an == r->atime_nsec;
}

static int64_t put(struct fake *f, const char *path, uint64_t v, fw_evict_fn ev,
		   void *ctx)
{
	struct fw_record r = rec_make(v);

	return fw_table_put(&f->t, path, strlen(path), &r, ev, ctx);
}

static int64_t find(const struct fake *f, const char *path)
{
	return fw_table_find(&f->t, path, strlen(path));
}

static uint64_t ctr(const struct fake *f, unsigned idx)
{
	return f->hdr->counters[idx];
}

/* Records every key the table reports as evicted. */
struct evlog {
	unsigned n;
	char keys[64][FSC_PATH_MAX_MAX];
};

static void evlog_add(void *ctx, const char *path, uint32_t len)
{
	struct evlog *log = ctx;

	cr_assert_lt(log->n, 64u);
	cr_assert_eq(strlen(path), len, "evicted key not NUL-terminated");
	memcpy(log->keys[log->n++], path, len + 1);
}

static int evlog_has(const struct evlog *log, const char *path)
{
	for (unsigned i = 0; i < log->n; i++)
		if (strcmp(log->keys[i], path) == 0)
			return 1;
	return 0;
}

static void evict_forbidden(void *ctx, const char *path, uint32_t len)
{
	(void)ctx;
	cr_assert_fail("unexpected eviction of %.*s", (int)len, path);
}

/* ---- invariants -------------------------------------------------------- */

static int zero_bytes(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void check_used_slot(const struct fake *f, uint32_t i, const char *ctx)
{
	const struct fw_table *t = &f->t;
	const struct fsc_entry *e = raw_slot(f, i);
	const char *path = fw_table_entry_path(e);

	cr_assert_lt(e->path_len, t->path_max, "%s: slot %u path_len", ctx, i);
	cr_assert_gt(e->path_len, 0u, "%s: slot %u empty key", ctx, i);
	cr_assert_eq(strlen(path), e->path_len, "%s: slot %u strlen", ctx, i);
	cr_assert(zero_bytes((const unsigned char *)path + e->path_len,
			     t->path_max - e->path_len),
		  "%s: slot %u path not NUL-padded", ctx, i);
	cr_assert_eq(e->hash, fw_table_hash(t, path, e->path_len),
		     "%s: slot %u hash field", ctx, i);
	cr_assert_eq(f->tags[i], fsc_tag(e->hash), "%s: slot %u tag %#x", ctx,
		     i, f->tags[i]);

	uint32_t home = (uint32_t)e->hash & t->mask;
	uint32_t dist = (i - home) & t->mask;

	cr_assert_lt(dist, t->probe_limit, "%s: slot %u is %u from home %u",
		     ctx, i, dist, home);
	for (uint32_t d = 0; d < dist; d++)
		cr_assert(raw_slot(f, (home + d) & t->mask)->flags &
				  FSC_ENT_USED,
			  "%s: hole between home %u and slot %u", ctx, home, i);
	/* Finding it back here also proves no duplicate sits before it. */
	cr_assert_eq(fw_table_find(t, path, e->path_len), (int64_t)i,
		     "%s: slot %u key %s not found at its slot", ctx, i, path);
	cr_assert_eq(fw_table_entry(t, i), e, "%s: fw_table_entry(%u)", ctx, i);
}

static void check_empty_slot(const struct fake *f, uint32_t i, const char *ctx)
{
	const unsigned char *p = (const unsigned char *)raw_slot(f, i);

	cr_assert(zero_bytes(p + 4, f->t.entry_size - 4),
		  "%s: empty slot %u not zeroed", ctx, i);
	cr_assert_null(fw_table_entry(&f->t, i), "%s: slot %u", ctx, i);
	cr_assert_eq(f->tags[i], 0, "%s: empty slot %u tag %#x", ctx, i,
		     f->tags[i]);
}

/* Every structural rule of the table, checked from scratch. */
static void check_table(const struct fake *f, const char *ctx)
{
	uint32_t used = 0;

	cr_assert_eq(f->hdr->table_gen % 2, 0u, "%s: table_gen odd", ctx);
	for (uint32_t i = 0; i < f->t.capacity; i++) {
		const struct fsc_entry *e = raw_slot(f, i);

		cr_assert_eq(e->seq % 2, 0u, "%s: slot %u seq odd", ctx, i);
		if (e->flags & FSC_ENT_USED) {
			check_used_slot(f, i, ctx);
			used++;
		} else {
			check_empty_slot(f, i, ctx);
		}
	}
	cr_assert_eq(f->hdr->entry_count, used, "%s: entry_count %u, used %u",
		     ctx, f->hdr->entry_count, used);
	cr_assert_leq(used, f->t.max_entries, "%s: over max_entries", ctx);
	cr_assert_eq((uint64_t)used,
		     ctr(f, FSC_CTR_INSERTS) - ctr(f, FSC_CTR_EVICTIONS) -
			     ctr(f, FSC_CTR_REMOVALS),
		     "%s: counters disagree with entry_count", ctx);
}

/* ---- bind ---------------------------------------------------------------- */

static const struct geometry small = { 16, 64, 16, 15, 42 };

Test(table_bind, accepts_valid_geometries)
{
	const struct geometry ok[] = {
		{ 16, 64, 1, 1, 0 },
		{ 16, 64, 16, 15, 1 },
		{ 1024, 256, 256, 1000, 2 },
		{ 64, 4096, 64, 63, 3 },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct fake f;

		fake_open_ok(&f, ok[i]);
		cr_assert_eq(f.t.capacity, ok[i].capacity);
		cr_assert_eq(f.t.mask, ok[i].capacity - 1);
		cr_assert_eq(f.t.seed, ok[i].seed);
		cr_assert_eq(f.t.slots,
			     (unsigned char *)f.mem + FSC_HEADER_SIZE);
		fake_close(&f);
	}
}

Test(table_bind, refuses_bad_geometries)
{
	const struct geometry bad[] = {
		{ 24, 64, 4, 12, 0 },       /* capacity not a power of two */
		{ 8, 64, 4, 6, 0 },         /* capacity below the minimum */
		{ 16, 60, 4, 12, 0 },       /* path_max not a multiple of 8 */
		{ 16, 56, 4, 12, 0 },       /* path_max below the minimum */
		{ 16, 4104, 4, 12, 0 },     /* path_max above the maximum */
		{ 16, 64, 0, 12, 0 },       /* probe_limit 0 */
		{ 16, 64, 17, 12, 0 },      /* probe_limit above capacity */
		{ 1024, 64, 257, 1000, 0 }, /* probe_limit above the maximum */
		{ 16, 64, 4, 16, 0 },       /* max_entries not below capacity */
		{ 16, 64, 4, 0, 0 },        /* no room at all */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake f;

		cr_assert_eq(fake_open(&f, bad[i]), -EINVAL, "geometry %zu", i);
		fake_close(&f);
	}
}

Test(table_bind, refuses_inconsistent_entry_size)
{
	struct fake f;

	fake_open_ok(&f, small);
	f.hdr->entry_size += 8;
	cr_assert_eq(fw_table_bind(&f.t, f.hdr, f.use), -EINVAL);
	f.hdr->entry_size -= 8;
	f.hdr->header_size = 100;
	cr_assert_eq(fw_table_bind(&f.t, f.hdr, f.use), -EINVAL);
	f.hdr->header_size = FSC_HEADER_SIZE;
	cr_assert_eq(fw_table_bind(&f.t, f.hdr, NULL), -EINVAL);
	cr_assert_eq(fw_table_bind(&f.t, f.hdr, f.use), 0);
	fake_close(&f);
}

/* ---- insert, find, update ---------------------------------------------- */

Test(table, insert_and_find)
{
	struct fake f;
	const char *keys[] = { "/var/log/syslog", "/var/log/auth.log", "/a",
			       "/var/lib/docker/containers/x/x-json.log" };
	int64_t slots[4];

	fake_open_ok(&f, small);
	for (int i = 0; i < 4; i++) {
		slots[i] = put(&f, keys[i], (uint64_t)i, evict_forbidden, NULL);
		cr_assert_geq(slots[i], 0, "put %s", keys[i]);
		check_table(&f, "insert");
	}
	for (int i = 0; i < 4; i++) {
		struct fw_record r = rec_make((uint64_t)i);
		const struct fsc_entry *e =
			fw_table_entry(&f.t, (uint32_t)slots[i]);

		cr_assert_eq(find(&f, keys[i]), slots[i]);
		cr_assert_not_null(e);
		cr_assert(entry_matches(&f, e, &r), "fields of %s", keys[i]);
		cr_assert_str_eq(fw_table_entry_path(e), keys[i]);
		cr_assert_eq(e->path_len, strlen(keys[i]));
		cr_assert_eq(e->seq, 2u, "one write, one seqlock bracket");
		cr_assert_eq(f.use[slots[i]], 1,
			     "fresh entry gets a second chance");
	}
	cr_assert_eq(f.hdr->entry_count, 4u);
	cr_assert_eq(ctr(&f, FSC_CTR_INSERTS), 4u);
	cr_assert_eq(f.hdr->table_gen, 0u, "inserts move nothing");
	fake_close(&f);
}

Test(table, record_flags_and_reason_are_kept)
{
	struct fake f;
	struct fw_record r = rec_make(5);

	fake_open_ok(&f, small);
	r.flags = FSC_ENT_NOCACHE;
	r.reason = FSC_REASON_FSTYPE;
	int64_t s = fw_table_put(&f.t, "/nfs/x", 6, &r, NULL, NULL);

	cr_assert_geq(s, 0);
	cr_assert_eq(raw_slot(&f, (uint32_t)s)->flags,
		     FSC_ENT_NOCACHE | FSC_ENT_USED);
	cr_assert_eq(reason_of(&f, raw_slot(&f, (uint32_t)s)),
		     FSC_REASON_FSTYPE);
	fake_close(&f);
}

/*
 * Values an entry has no room for (format.h: times outside 1677-2262,
 * nlink or rdev past 32 bits) are never published truncated: the entry
 * says RANGE, answered by stat(), with no numbers; the limits themselves
 * still fit.
 */
Test(table, values_out_of_range_are_answered_by_stat)
{
	struct fake f;
	const char *keys[] = { "/r/mtime", "/r/ctime", "/r/atime",
			       "/r/nlink", "/r/rdev",  "/r/early" };
	struct fw_record r[6];

	fake_open_ok(&f, small);
	for (int i = 0; i < 6; i++)
		r[i] = rec_make((uint64_t)i + 40);
	r[0].mtime_sec = INT64_MAX / 1000000000; /* 2262-04-11 and later */
	r[1].ctime_sec = INT64_MIN / 1000000000 - 1;
	r[2].atime_sec = INT64_C(1) << 40;
	r[3].nlink = UINT64_C(1) << 32;
	r[4].rdev = UINT64_C(1) << 32;
	r[5].mtime_sec = INT64_MIN / 1000000000; /* 1677-09-21: fits */
	r[5].mtime_nsec = 0;
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(fw_record_fits(&r[i]), i == 5, "%s", keys[i]);
		int64_t s = fw_table_put(&f.t, keys[i], strlen(keys[i]), &r[i],
					 NULL, NULL);
		cr_assert_geq(s, 0);
		const struct fsc_entry *e = raw_slot(&f, (uint32_t)s);
		if (i == 5) {
			cr_assert(entry_matches(&f, e, &r[i]));
			continue;
		}
		cr_assert_eq(e->flags,
			     FSC_ENT_USED | FSC_ENT_EXISTS | FSC_ENT_NOCACHE,
			     "%s", keys[i]);
		cr_assert_eq(reason_of(&f, e), FSC_REASON_RANGE, "%s", keys[i]);
		cr_assert(e->size == 0 && e->nlink == 0 && e->rdev == 0 &&
				  e->mtime_ns == 0 && e->ctime_ns == 0 &&
				  e->atime_ns == 0 && e->ino == 0,
			  "%s: no numbers", keys[i]);
		cr_assert_eq(e->mode, r[i].mode, "%s: its file type", keys[i]);
	}
	check_table(&f, "out of range");
	fake_close(&f);
}

/* An event marks an entry changed: answered by stat() until the next put,
 * its old answer kept, one seqlock bracket, nothing else in the slot. */
Test(table, mark_changed_until_the_next_put)
{
	struct fake f;
	struct fw_record r = rec_make(7);

	fake_open_ok(&f, small);
	int64_t s = fw_table_put(&f.t, "/var/log/a", 10, &r, NULL, NULL);
	cr_assert_geq(s, 0);
	const struct fsc_entry *e = raw_slot(&f, (uint32_t)s);
	uint32_t seq = e->seq;

	cr_assert_eq(fw_table_mark_changed(&f.t, "/var/log/a", 10), 1);
	cr_assert_eq(e->flags, FSC_ENT_USED | FSC_ENT_EXISTS | FSC_ENT_NOCACHE);
	cr_assert_eq(reason_of(&f, e), FSC_REASON_CHANGED);
	cr_assert_eq(e->seq, seq + 2, "one seqlock bracket");
	cr_assert_eq(e->size, r.size, "the old answer is kept");
	cr_assert_eq(ctr(&f, FSC_CTR_CHANGED_MARKS), 1u);
	/* Marked already: nothing to do, nothing counted. */
	cr_assert_eq(fw_table_mark_changed(&f.t, "/var/log/a", 10), 0);
	cr_assert_eq(e->seq, seq + 2);
	cr_assert_eq(ctr(&f, FSC_CTR_CHANGED_MARKS), 1u);
	cr_assert_eq(fw_table_mark_changed(&f.t, "/var/log/b", 10), -ENOENT);

	r = rec_make(8);
	cr_assert_eq(fw_table_put(&f.t, "/var/log/a", 10, &r, NULL, NULL), s);
	cr_assert_eq(e->flags, FSC_ENT_USED | FSC_ENT_EXISTS, "fresh again");
	cr_assert_eq(reason_of(&f, e), FSC_REASON_NONE);
	cr_assert(entry_matches(&f, e, &r));
	check_table(&f, "after mark and put");
	fake_close(&f);
}

/* An entry answered by stat() for another reason keeps that reason. */
Test(table, mark_changed_keeps_other_reasons)
{
	struct fake f;
	struct fw_record r = rec_make(5);

	fake_open_ok(&f, small);
	r.flags = FSC_ENT_NOCACHE;
	r.reason = FSC_REASON_FSTYPE;
	int64_t s = fw_table_put(&f.t, "/nfs/x", 6, &r, NULL, NULL);
	cr_assert_geq(s, 0);
	cr_assert_eq(fw_table_mark_changed(&f.t, "/nfs/x", 6), 0);
	cr_assert_eq(reason_of(&f, raw_slot(&f, (uint32_t)s)),
		     FSC_REASON_FSTYPE);
	cr_assert_eq(ctr(&f, FSC_CTR_CHANGED_MARKS), 0u);
	fake_close(&f);
}

Test(table, update_in_place)
{
	struct fake f;

	fake_open_ok(&f, small);
	int64_t s = put(&f, "/var/log/messages", 1, evict_forbidden, NULL);

	cr_assert_geq(s, 0);
	f.use[s] = 0;
	for (uint64_t v = 2; v < 6; v++) {
		uint32_t before = raw_slot(&f, (uint32_t)s)->seq;
		struct fw_record r = rec_make(v);

		cr_assert_eq(put(&f, "/var/log/messages", v, evict_forbidden,
				 NULL),
			     s, "update keeps the slot");
		cr_assert_eq(raw_slot(&f, (uint32_t)s)->seq, before + 2);
		cr_assert(entry_matches(&f, raw_slot(&f, (uint32_t)s), &r));
		check_table(&f, "update");
	}
	cr_assert_eq(f.use[s], 0, "writes are not reads");
	cr_assert_eq(f.hdr->entry_count, 1u);
	cr_assert_eq(ctr(&f, FSC_CTR_INSERTS), 1u);
	cr_assert_eq(ctr(&f, FSC_CTR_UPDATES), 4u);
	cr_assert_eq(f.hdr->table_gen, 0u);
	fake_close(&f);
}

Test(table, absent_keys)
{
	struct fake f;

	fake_open_ok(&f, small);
	cr_assert_eq(find(&f, "/nothing"), -1);
	put(&f, "/something", 1, NULL, NULL);
	cr_assert_eq(find(&f, "/nothing"), -1);
	cr_assert_eq(find(&f, "/somethin"), -1, "a prefix is another key");
	cr_assert_eq(find(&f, "/something/"), -1);
	cr_assert_eq(fw_table_find(&f.t, "/something", 4), -1);
	cr_assert_eq(fw_table_remove(&f.t, "/nothing", 8), -ENOENT);
	cr_assert_eq(fw_table_entry(&f.t, f.t.capacity), NULL);
	check_table(&f, "absent");
	fake_close(&f);
}

Test(table, path_length_limits)
{
	struct fake f;
	char path[80];
	struct fw_record r = rec_make(1);

	fake_open_ok(&f, small); /* path_max 64 */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	cr_assert_eq(fw_table_put(&f.t, path, 0, &r, NULL, NULL), -EINVAL);
	cr_assert_eq(fw_table_put(&f.t, path, 64, &r, NULL, NULL),
		     -ENAMETOOLONG);
	cr_assert_eq(fw_table_put(&f.t, path, 79, &r, NULL, NULL),
		     -ENAMETOOLONG);
	cr_assert_eq(fw_table_find(&f.t, path, 64), -1);
	cr_assert_eq(fw_table_remove(&f.t, path, 64), -ENOENT);
	cr_assert_eq(f.hdr->entry_count, 0u);

	int64_t s = fw_table_put(&f.t, path, 63, &r, NULL, NULL);

	cr_assert_geq(s, 0, "path_max - 1 bytes fit");
	cr_assert_eq(fw_table_find(&f.t, path, 63), s);
	cr_assert_eq(fw_table_entry_path(raw_slot(&f, (uint32_t)s))[63], '\0');
	check_table(&f, "length");
	fake_close(&f);
}

/* ---- removal and backward shift ---------------------------------------- */

Test(table, remove_and_reinsert)
{
	struct fake f;

	fake_open_ok(&f, small);
	int64_t s = put(&f, "/tmp/a.log", 1, NULL, NULL);

	cr_assert_eq(fw_table_remove(&f.t, "/tmp/a.log", 10), 0);
	cr_assert_eq(f.hdr->table_gen, 2u, "a removal is bracketed");
	cr_assert_eq(fw_table_remove(&f.t, "/tmp/a.log", 10), -ENOENT);
	cr_assert_eq(find(&f, "/tmp/a.log"), -1);
	cr_assert_eq(f.hdr->entry_count, 0u);
	cr_assert_eq(f.use[s], 0, "a removed slot loses its mark");
	cr_assert_eq(raw_slot(&f, (uint32_t)s)->seq, 4u);
	check_table(&f, "removed");
	cr_assert_eq(put(&f, "/tmp/a.log", 2, NULL, NULL), s);
	cr_assert_eq(find(&f, "/tmp/a.log"), s);
	cr_assert_eq(ctr(&f, FSC_CTR_REMOVALS), 1u);
	cr_assert_eq(ctr(&f, FSC_CTR_INSERTS), 2u);
	check_table(&f, "re-inserted");
	fake_close(&f);
}

Test(table, probe_wraps_around_the_end)
{
	const struct geometry g = { 16, 64, 4, 15, 7 };
	struct fake f;
	char k[3][64];

	fake_open_ok(&f, g);
	paths_with_home(&f, 15, "wrap", 3, k);
	cr_assert_eq(put(&f, k[0], 0, evict_forbidden, NULL), 15);
	cr_assert_eq(put(&f, k[1], 1, evict_forbidden, NULL), 0);
	cr_assert_eq(put(&f, k[2], 2, evict_forbidden, NULL), 1);
	check_table(&f, "wrapped");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(find(&f, k[i]), (15 + i) & 15);

	f.use[0] = 7; /* the mark travels with its entry */
	cr_assert_eq(fw_table_remove(&f.t, k[0], strlen(k[0])), 0);
	cr_assert_eq(find(&f, k[1]), 15, "shifted back across the end");
	cr_assert_eq(find(&f, k[2]), 0);
	cr_assert_eq(f.use[15], 7);
	cr_assert_eq(raw_slot(&f, 1)->flags, 0u);
	cr_assert_eq(ctr(&f, FSC_CTR_MOVES), 2u);
	cr_assert_eq(f.hdr->table_gen, 2u);
	check_table(&f, "shifted");
	fake_close(&f);
}

/*
 * Backward shift from every position of a mixed cluster: homes 3,3,4,3,5,4
 * and a key that belongs at its own home right after the cluster.
 */
Test(table, backward_shift_keeps_every_key_findable)
{
	const struct geometry g = { 16, 64, 8, 15, 99 };
	const uint32_t homes[] = { 3, 3, 4, 3, 5, 4, 10, 10 };
	const unsigned n = sizeof(homes) / sizeof(homes[0]);
	char k[8][64];
	struct fake probe;

	fake_open_ok(&probe, g);
	for (unsigned i = 0; i < n; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "c%u", i);
		paths_with_home(&probe, homes[i], tag, 1, &k[i]);
	}
	fake_close(&probe);

	for (unsigned victim = 0; victim < n; victim++) {
		struct fake f;
		char ctx[64];

		fake_open_ok(&f, g);
		for (unsigned i = 0; i < n; i++)
			cr_assert_geq(put(&f, k[i], i, evict_forbidden, NULL),
				      0);
		check_table(&f, "cluster");
		snprintf(ctx, sizeof(ctx), "removed key %u", victim);
		cr_assert_eq(
			fw_table_remove(&f.t, k[victim], strlen(k[victim])), 0);
		check_table(&f, ctx);
		for (unsigned i = 0; i < n; i++) {
			int64_t s = find(&f, k[i]);
			struct fw_record r = rec_make(i);

			if (i == victim) {
				cr_assert_eq(s, -1, "%s", ctx);
				continue;
			}
			cr_assert_geq(s, 0, "%s: key %u lost", ctx, i);
			cr_assert(entry_matches(&f, raw_slot(&f, (uint32_t)s),
						&r),
				  "%s: key %u moved without its fields", ctx,
				  i);
		}
		fake_close(&f);
	}
}

Test(table, table_gen_moves_only_with_removals)
{
	struct fake f;
	char k[4][64];

	fake_open_ok(&f, small);
	paths_with_home(&f, 2, "gen", 4, k);
	for (int i = 0; i < 4; i++)
		put(&f, k[i], 1, NULL, NULL);
	put(&f, k[1], 2, NULL, NULL);
	cr_assert_eq(f.hdr->table_gen, 0u, "inserts and updates move nothing");
	fw_table_remove(&f.t, k[0], strlen(k[0]));
	cr_assert_eq(f.hdr->table_gen, 2u);
	fw_table_remove(&f.t, k[3], strlen(k[3]));
	cr_assert_eq(f.hdr->table_gen, 4u, "even a removal without moves");
	fw_table_remove(&f.t, "/absent", 7);
	cr_assert_eq(f.hdr->table_gen, 4u, "a miss changes nothing");
	fw_table_clear(&f.t);
	cr_assert_eq(f.hdr->table_gen, 6u);
	fake_close(&f);
}

/* ---- eviction ---------------------------------------------------------- */

/*
 * Keys at slots 0..3, readers hit 0 and 2.  CLOCK from hand 0 takes 1
 * (clearing 0 on the way), then 3 (clearing 2), then 0: its mark was spent
 * in the first sweep, while the fresh entries still hold theirs.
 */
Test(table, clock_evicts_unused_first)
{
	const struct geometry g = { 16, 64, 16, 4, 5 };
	struct fake f;
	char k[4][64], extra[3][64];
	struct evlog log = { 0 };

	fake_open_ok(&f, g);
	for (uint32_t i = 0; i < 4; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "clock%u", i);
		paths_with_home(&f, i, tag, 1, &k[i]);
		cr_assert_eq(put(&f, k[i], i, evict_forbidden, NULL), i);
	}
	for (uint32_t i = 0; i < 3; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "new%u", i);
		paths_with_home(&f, 10 + i, tag, 1, &extra[i]);
	}
	memset(f.use, 0, g.capacity);
	f.use[0] = f.use[2] = 1;

	cr_assert_eq(put(&f, extra[0], 10, evlog_add, &log), 10);
	cr_assert_eq(log.n, 1u);
	cr_assert_str_eq(log.keys[0], k[1]);
	cr_assert_eq(f.use[0], 0, "the hand spent slot 0's mark");
	cr_assert_eq(f.use[2], 1, "the hand has not reached slot 2");

	cr_assert_eq(put(&f, extra[1], 11, evlog_add, &log), 11);
	cr_assert_eq(log.n, 2u);
	cr_assert_str_eq(log.keys[1], k[3]);

	cr_assert_eq(put(&f, extra[2], 12, evlog_add, &log), 12);
	cr_assert_eq(log.n, 3u);
	cr_assert_str_eq(log.keys[2], k[0]);

	cr_assert_geq(find(&f, k[2]), 0, "the entry readers used survives");
	for (unsigned i = 0; i < log.n; i++)
		cr_assert_eq(find(&f, log.keys[i]), -1);
	cr_assert_eq(ctr(&f, FSC_CTR_EVICTIONS), 3u);
	cr_assert_eq(f.hdr->entry_count, 4u);
	cr_assert_eq(f.hdr->table_gen, 6u, "each eviction is a removal");
	check_table(&f, "clock");
	fake_close(&f);
}

Test(table, clock_terminates_when_every_entry_is_marked)
{
	const struct geometry g = { 16, 64, 16, 8, 11 };
	struct fake f;
	struct evlog log = { 0 };
	char path[32];

	fake_open_ok(&f, g);
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/m/%d", i);
		put(&f, path, 1, evict_forbidden, NULL);
	}
	memset(f.use, 1, g.capacity);
	cr_assert_geq(put(&f, "/m/new", 2, evlog_add, &log), 0);
	cr_assert_eq(log.n, 1u, "exactly one entry makes room");
	cr_assert_eq(find(&f, log.keys[0]), -1);
	cr_assert_geq(find(&f, "/m/new"), 0);
	check_table(&f, "all marked");
	fake_close(&f);
}

Test(table, full_table_evicts_one_per_insert)
{
	const struct geometry g = { 16, 64, 16, 8, 3 };
	struct fake f;
	struct evlog log = { 0 };
	char path[32];

	fake_open_ok(&f, g);
	for (unsigned i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/full/%u", i);
		cr_assert_geq(put(&f, path, i, evlog_add, &log), 0);
		cr_assert_eq(f.hdr->entry_count, i < 8 ? i + 1 : 8u);
		cr_assert_eq(log.n, i < 8 ? 0u : i - 7);
		check_table(&f, "full");
	}
	for (unsigned i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/full/%u", i);
		cr_assert_eq(find(&f, path) >= 0, !evlog_has(&log, path),
			     "%s: present exactly when not evicted", path);
	}
	cr_assert_eq(ctr(&f, FSC_CTR_EVICTIONS), 12u);
	fake_close(&f);
}

Test(table, full_probe_window_evicts_inside_it)
{
	const struct geometry g = { 16, 64, 4, 15, 21 };
	struct fake f;
	char k[6][64], other[1][64];
	struct evlog log = { 0 };

	fake_open_ok(&f, g);
	paths_with_home(&f, 5, "win", 6, k);
	paths_with_home(&f, 6, "win6", 1, other);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(put(&f, k[i], (uint64_t)i, evict_forbidden, NULL),
			     5 + i);
	f.use[5] = 1;
	f.use[6] = 1;
	f.use[7] = 0;
	f.use[8] = 1;

	cr_assert_eq(put(&f, k[4], 4, evlog_add, &log), 7,
		     "first unmarked slot of the window");
	cr_assert_eq(log.n, 1u);
	cr_assert_str_eq(log.keys[0], k[2]);
	cr_assert_eq(find(&f, k[2]), -1);
	cr_assert_eq(f.use[7], 1, "the newcomer gets a second chance");
	cr_assert_eq(f.hdr->entry_count, 4u,
		     "an in-place swap keeps the count");
	cr_assert_eq(f.hdr->table_gen, 0u, "nothing moved");
	check_table(&f, "window 1");

	cr_assert_eq(put(&f, k[5], 5, evlog_add, &log), 5,
		     "all marked: the home slot");
	cr_assert_eq(log.n, 2u);
	cr_assert_str_eq(log.keys[1], k[0]);
	check_table(&f, "window 2");

	cr_assert_eq(put(&f, other[0], 9, evict_forbidden, NULL), 9,
		     "the next home's window still has room");
	cr_assert_eq(ctr(&f, FSC_CTR_EVICTIONS), 2u);
	cr_assert_eq(ctr(&f, FSC_CTR_INSERTS), 7u);
	check_table(&f, "window 3");
	fake_close(&f);
}

Test(table, full_window_victim_with_shorter_key_leaves_no_stale_bytes)
{
	const struct geometry g = { 16, 128, 1, 15, 8 };
	struct fake f;
	char longkey[128], shortkey[64];
	struct evlog log = { 0 };
	uint32_t home;

	fake_open_ok(&f, g);
	memset(longkey, 'x', 120);
	longkey[0] = '/';
	longkey[120] = '\0';
	home = home_of(&f, longkey);
	paths_with_home(&f, home, "short", 1, (char(*)[64])shortkey);
	cr_assert_eq(put(&f, longkey, 1, NULL, NULL), home);
	cr_assert_eq(put(&f, shortkey, 2, evlog_add, &log), home);
	cr_assert_str_eq(log.keys[0], longkey);
	check_table(&f, "short over long"); /* checks the NUL padding */
	fake_close(&f);
}

/* ---- clear ------------------------------------------------------------- */

Test(table, clear_drops_everything)
{
	struct fake f;
	char path[32];

	fake_open_ok(&f, small);
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/clear/%d", i);
		put(&f, path, (uint64_t)i, NULL, NULL);
	}
	memset(f.use, 1, 16);
	fw_table_clear(&f.t);
	cr_assert_eq(f.hdr->entry_count, 0u);
	cr_assert_eq(f.hdr->table_gen, 2u);
	cr_assert_eq(ctr(&f, FSC_CTR_REMOVALS), 10u);
	for (uint32_t i = 0; i < 16; i++)
		cr_assert_eq(f.use[i], 0);
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/clear/%d", i);
		cr_assert_eq(find(&f, path), -1);
	}
	check_table(&f, "cleared");
	cr_assert_geq(put(&f, "/clear/0", 1, evict_forbidden, NULL), 0);
	check_table(&f, "after clear");
	fake_close(&f);
}

/* ---- model test -------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: enough for choosing operations. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(rng_next(s) % n);
}

static uint64_t test_seed(void)
{
	const char *env = getenv("FSC_SEED");

	if (env && *env)
		return strtoull(env, NULL, 0);
	return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

#define POOL_MAX 256

struct model {
	struct fake f;
	unsigned npool;
	char *pool[POOL_MAX];
	int present[POOL_MAX];
	struct fw_record rec[POOL_MAX];
	unsigned evictions; /* reported during the current put */
	int putting;        /* pool index being put */
	char ctx[160];
};

static int pool_index(const struct model *m, const char *path, uint32_t len)
{
	for (unsigned i = 0; i < m->npool; i++)
		if (strlen(m->pool[i]) == len &&
		    memcmp(m->pool[i], path, len) == 0)
			return (int)i;
	return -1;
}

static void model_evicted(void *ctx, const char *path, uint32_t len)
{
	struct model *m = ctx;
	int i = pool_index(m, path, len);

	cr_assert_geq(i, 0, "%s: evicted a key never put", m->ctx);
	cr_assert(m->present[i], "%s: evicted an absent key", m->ctx);
	cr_assert_neq(i, m->putting, "%s: evicted the key being put", m->ctx);
	m->present[i] = 0;
	m->evictions++;
}

/* Keys of many lengths, so short keys overwrite long ones and back. */
static void model_pool(struct model *m, uint64_t *rng, unsigned n)
{
	uint32_t path_max = m->f.t.path_max;

	m->npool = n;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = 4 + rng_below(rng, path_max - 4);
		char *p = calloc(1, path_max);
		int head;

		cr_assert_not_null(p);
		head = snprintf(p, path_max, "/k%u/", i);
		for (uint32_t j = (uint32_t)head; j < len; j++)
			p[j] = (char)('a' + rng_below(rng, 26));
		m->pool[i] = p;
	}
}

static struct fw_record random_record(uint64_t *rng)
{
	struct fw_record r = rec_make(rng_next(rng));

	r.flags = (uint32_t)rng_below(rng, 4) << 1; /* EXISTS, NOCACHE */
	r.reason = r.flags & FSC_ENT_NOCACHE ? 1 + rng_below(rng, 4) : 0;
	return r;
}

/* What a put of an absent key must do when CLOCK has no part in it. */
static int64_t window_expectation(const struct model *m, uint32_t home,
				  int *full)
{
	const struct fw_table *t = &m->f.t;
	int64_t unmarked = -1;

	for (uint32_t d = 0; d < t->probe_limit; d++) {
		uint32_t i = (home + d) & t->mask;

		if (!fw_table_entry(t, i)) {
			*full = 0;
			return i;
		}
		if (unmarked < 0 && m->f.use[i] == 0)
			unmarked = i;
	}
	*full = 1;
	return unmarked >= 0 ? unmarked : home;
}

static void model_put(struct model *m, uint64_t *rng)
{
	unsigned k = rng_below(rng, m->npool);
	const char *path = m->pool[k];
	uint32_t len = (uint32_t)strlen(path);
	struct fw_record r = random_record(rng);
	int64_t before = fw_table_find(&m->f.t, path, len);
	int needs_clock = before < 0 &&
			  m->f.hdr->entry_count >= m->f.t.max_entries;
	int full = 0;
	int64_t expect = before;

	if (before < 0 && !needs_clock)
		expect = window_expectation(m, home_of(&m->f, path), &full);

	m->evictions = 0;
	m->putting = (int)k;
	int64_t s = fw_table_put(&m->f.t, path, len, &r, model_evicted, m);

	m->putting = -1;
	cr_assert_geq(s, 0, "%s: put failed: %" PRId64, m->ctx, s);
	if (expect >= 0)
		cr_assert_eq(s, expect,
			     "%s: put chose slot %" PRId64
			     ", expected %" PRId64,
			     m->ctx, s, expect);
	if (before >= 0 || (!needs_clock && !full))
		cr_assert_eq(m->evictions, 0u, "%s: needless eviction", m->ctx);
	else if (needs_clock)
		cr_assert_geq(m->evictions, 1u, "%s: no room made", m->ctx);
	else
		cr_assert_eq(m->evictions, 1u, "%s: window eviction", m->ctx);
	cr_assert_leq(m->evictions, 2u, "%s", m->ctx);
	if (before < 0)
		cr_assert_eq(m->f.use[s], 1, "%s: fresh mark", m->ctx);
	m->present[k] = 1;
	m->rec[k] = r;
}

static void model_remove(struct model *m, uint64_t *rng)
{
	unsigned k = rng_below(rng, m->npool);
	int rc = fw_table_remove(&m->f.t, m->pool[k],
				 (uint32_t)strlen(m->pool[k]));

	cr_assert_eq(rc, m->present[k] ? 0 : -ENOENT, "%s: remove", m->ctx);
	m->present[k] = 0;
}

/* Readers mark slots: of live keys mostly, sometimes any byte. */
static void model_touch(struct model *m, uint64_t *rng)
{
	unsigned k = rng_below(rng, m->npool);
	int64_t s = fw_table_find(&m->f.t, m->pool[k],
				  (uint32_t)strlen(m->pool[k]));

	if (s >= 0)
		m->f.use[s] = (uint8_t)(1 + rng_below(rng, 255));
	if (rng_below(rng, 4) == 0)
		m->f.use[rng_below(rng, m->f.t.capacity)] =
			(uint8_t)rng_below(rng, 2);
}

static void model_clear(struct model *m)
{
	fw_table_clear(&m->f.t);
	memset(m->present, 0, sizeof(m->present));
}

static void model_compare(const struct model *m)
{
	unsigned live = 0;

	for (unsigned i = 0; i < m->npool; i++) {
		int64_t s = fw_table_find(&m->f.t, m->pool[i],
					  (uint32_t)strlen(m->pool[i]));

		cr_assert_eq(s >= 0, m->present[i],
			     "%s: key %u %s in table, %s in reference", m->ctx,
			     i, s >= 0 ? "present" : "absent",
			     m->present[i] ? "present" : "absent");
		if (s < 0)
			continue;
		live++;
		cr_assert(entry_matches(&m->f,
					fw_table_entry(&m->f.t, (uint32_t)s),
					&m->rec[i]),
			  "%s: key %u fields differ", m->ctx, i);
	}
	cr_assert_eq(m->f.hdr->entry_count, live, "%s: entry_count", m->ctx);
}

static void model_step(struct model *m, uint64_t *rng)
{
	uint32_t op = rng_below(rng, 1000);

	if (op < 500)
		model_put(m, rng);
	else if (op < 700)
		model_remove(m, rng);
	else if (op < 997)
		model_touch(m, rng);
	else
		model_clear(m);
}

/* Run `run` of the table_model test; FSC_SEED=seed replays all of them. */
static void model_run(struct geometry g, unsigned pool, unsigned steps,
		      uint64_t seed, unsigned run)
{
	struct model *m = calloc(1, sizeof(*m));
	uint64_t rng = (seed + run * UINT64_C(0x9e3779b97f4a7c15)) | 1;

	cr_assert_not_null(m);
	m->putting = -1;
	g.seed = rng_next(&rng);
	fake_open_ok(&m->f, g);
	model_pool(m, &rng, pool);
	for (unsigned step = 0; step < steps; step++) {
		snprintf(m->ctx, sizeof(m->ctx),
			 "FSC_SEED=%" PRIu64 " run %u (%u/%u/%u/%u) step %u",
			 seed, run, g.capacity, g.path_max, g.probe_limit,
			 g.max_entries, step);
		model_step(m, &rng);
		model_compare(m);
		check_table(&m->f, m->ctx);
	}
	cr_assert_gt(m->f.hdr->counters[FSC_CTR_EVICTIONS], 0u,
		     "FSC_SEED=%" PRIu64 ": the run never evicted", seed);
	if (g.probe_limit > 1)
		cr_assert_gt(m->f.hdr->counters[FSC_CTR_MOVES], 0u,
			     "FSC_SEED=%" PRIu64 ": the run never moved", seed);
	for (unsigned i = 0; i < m->npool; i++)
		free(m->pool[i]);
	fake_close(&m->f);
	free(m);
}

Test(table_model, random_operations_match_reference, .timeout = 60)
{
	/* capacity, path_max, probe_limit, max_entries; pool size */
	static const struct {
		struct geometry g;
		unsigned pool;
	} runs[] = {
		{ { 16, 64, 1, 12, 0 }, 24 },
		{ { 16, 64, 4, 12, 0 }, 24 },
		{ { 16, 64, 16, 15, 0 }, 32 },
		{ { 32, 64, 3, 31, 0 }, 48 },
		{ { 64, 128, 8, 40, 0 }, 96 },
		{ { 64, 64, 64, 63, 0 }, 100 },
		{ { 128, 256, 5, 120, 0 }, 200 },
	};
	uint64_t seed = test_seed();

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		model_run(runs[i].g, runs[i].pool, 15000, seed, (unsigned)i);
}

/* ---- concurrent reader (table_race.c) -------------------------------- */

Test(table_race, reader_sees_no_torn_entry_and_no_false_miss, .timeout = 60)
{
	uint64_t seed = test_seed();
	struct table_race *r = table_race_new(seed);
	struct table_race_report rep;
	char why[128] = "";

	cr_assert_not_null(r);
	cr_assert_eq(table_race_run(r, &rep, why, sizeof(why)), 0, "%s", why);
	const struct fw_table *t = table_race_table(r);
	struct fake f = { .mem = t->hdr,
			  .hdr = t->hdr,
			  .use = t->use,
			  .tags = t->tags,
			  .t = *t };
	check_table(&f, "race");
	cr_log_info("race: %lu reads (%lu of keys present throughout), "
		    "%lu gave up, %" PRIu64 " writes, %" PRIu64 " moves",
		    rep.reads, rep.present_reads, rep.gave_up, rep.writes,
		    rep.moves);
	cr_assert_eq(rep.torn, 0ul, "FSC_SEED=%" PRIu64 ": %lu torn reads",
		     seed, rep.torn);
	cr_assert_eq(rep.false_misses, 0ul,
		     "FSC_SEED=%" PRIu64 ": %lu false misses", seed,
		     rep.false_misses);
	cr_assert_eq(rep.evictions, 0ul, "unexpected evictions");
	cr_assert_gt(rep.moves, 0u);
	table_race_free(r);
}
