/*
 * table.c - the writer's side of the shared open-addressed table.
 *
 * Linear probing over a power-of-two number of slots in the segment.  Every
 * used entry lies fewer than probe_limit slots (with wrap-around) past its
 * home slot, hash & mask, and every slot from its home up to it is used, so
 * a reader may stop probing at the first empty slot or after probe_limit
 * slots.  Deletion is backward-shift (no tombstones).  When the table holds
 * max_entries keys, or the probe window of a new key is full, an entry is
 * evicted by CLOCK over the use bytes readers set on hits.
 *
 * Concurrency (one writer thread, any number of lock-free readers in other
 * processes, which map the table read-only): the sequence-count protocol
 * of include/fstatcache/seqlock.h, written there once with its barrier
 * pairing; here only what each count guards.
 *
 *   Entry count, e->seq, guards every other field of a slot and its path
 *   bytes: every store into a slot happens between fsc_seq_write_begin()
 *   and fsc_seq_write_end() on it (slot_store), with uatomic_set, so a
 *   reader's copy is either whole or rejected by its re-check.
 *
 *   Table count, hdr->table_gen, guards positions: an operation that moves
 *   entries between slots (backward shift) or removes a key runs between
 *   fsc_seq_write_begin() and fsc_seq_write_end() on it.  A reader that
 *   probed without finding its key re-checks table_gen and probes again
 *   if it changed, so an entry moving under it is never a false miss.
 *   Writing into an empty slot or rewriting one in place (even with a
 *   different key) needs only the entry count: a key never becomes
 *   unreachable from its home by those.
 *
 *   Path bytes are stored as whole uint64_t words, NUL-padded.  Every slot,
 *   used or empty, keeps the bytes past path_len zero (a fresh segment is
 *   zeroed), so a rewrite stores only the words that the old or new path
 *   covers.
 *
 *   The change feed (feed.c) gets a record after each publication, with
 *   the entry as readers can now see it.
 *
 *   The tag array (format.h, minor 5), when there is one, holds each
 *   slot's tag; slot_store() writes it inside the slot's seqlock, so it
 *   changes exactly when and under what the slot's key does.
 *
 *   Use bytes live in another object that readers write, so the writer
 *   only ever reads them with uatomic_read and stores with uatomic_set;
 *   a mark lost to a race with the writer only changes eviction order.
 */
#include <errno.h>
#include <string.h>

#include "fstatcache/atomics.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fstatcache/contract.h"
#include "fstatcache/seqlock.h"
#include "table.h"

static struct fsc_entry *slot_at(const struct fw_table *t, uint32_t i)
{
	return (struct fsc_entry *)(t->slots + (size_t)i * t->entry_size);
}

static int slot_used(const struct fw_table *t, uint32_t i)
{
	return (slot_at(t, i)->flags & FSC_ENT_USED) != 0;
}

static uint32_t slot_home(const struct fw_table *t, uint64_t hash)
{
	return (uint32_t)hash & t->mask;
}

/* Slots from `from` forward to `to`, wrapping. */
static uint32_t slot_dist(const struct fw_table *t, uint32_t from, uint32_t to)
{
	return (to - from) & t->mask;
}

static void counter_add(struct fw_table *t, unsigned idx, uint64_t n)
{
	uint64_t *c = &t->hdr->counters[idx];

	uatomic_set(c, *c + n);
}

static void count_entries(struct fw_table *t, int delta)
{
	uatomic_set(&t->hdr->entry_count, t->hdr->entry_count + delta);
}

static void table_gen_begin(struct fw_table *t)
{
	fsc_seq_write_begin(&t->hdr->table_gen);
}

static void table_gen_end(struct fw_table *t)
{
	fsc_seq_write_end(&t->hdr->table_gen);
}

static uint32_t path_words(uint32_t len)
{
	return len / 8 + 1; /* the NUL always needs a byte */
}

/* Store `len` bytes of `path` NUL-padded over `nwords` words. */
static void path_store(uint64_t *dst, const char *path, uint32_t len,
		       uint32_t nwords)
{
	for (uint32_t w = 0; w < nwords; w++) {
		uint64_t word = 0;
		uint32_t off = w * 8;

		if (off < len)
			memcpy(&word, path + off,
			       len - off < 8 ? len - off : 8);
		uatomic_set(&dst[w], word);
	}
}

static struct fsc_entry_cold *slot_cold(const struct fw_table *t,
					const struct fsc_entry *e)
{
	return fsc_entry_cold(e, t->path_max);
}

/*
 * Publish `img` (and its path) in slot i under the entry seqlock, and its
 * tag (format.h) before the seqlock closes.  The words stored cover both
 * the old and the new path, which keeps the zero-past-path_len rule of
 * every slot.
 */
static void slot_store(const struct fw_table *t, uint32_t i,
		       const struct fw_image *img, const char *path)
{
	struct fsc_entry *e = slot_at(t, i);
	struct fsc_entry_cold *c = slot_cold(t, e);
	uint32_t longest = e->path_len > img->e.path_len ? e->path_len
							 : img->e.path_len;
	uint32_t nwords = path_words(longest);

	if (nwords > t->path_max / 8)
		nwords = t->path_max / 8;
	fsc_seq_write_begin(&e->seq);
#define STORE_FIELD(f) uatomic_set(&e->f, img->e.f);
	STORE_FIELD(flags)
	STORE_FIELD(path_len)
	STORE_FIELD(hash)
	FSC_ENTRY_PLAIN_FIELDS(STORE_FIELD)
	STORE_FIELD(nlink)
	STORE_FIELD(rdev)
	STORE_FIELD(mtime_ns)
	STORE_FIELD(ctime_ns)
	STORE_FIELD(atime_ns)
#undef STORE_FIELD
	path_store((uint64_t *)((unsigned char *)e + FSC_ENTRY_FIXED), path,
		   img->e.path_len, nwords);
	uatomic_set(&c->reason, img->c.reason);
	uatomic_set(&c->reserved0, 0);
	uatomic_set(&c->validated_ns, img->c.validated_ns);
	if (t->tags)
		uatomic_set(&t->tags[i], (img->e.flags & FSC_ENT_USED)
						 ? fsc_tag(img->e.hash)
						 : (uint16_t)0);
	fsc_seq_write_end(&e->seq);
}

/* Slot i as published (the writer's own view: no seqlock needed). */
static void slot_image(const struct fw_table *t, uint32_t i,
		       struct fw_image *img)
{
	const struct fsc_entry *e = slot_at(t, i);

	img->e = *e;
	img->c = *slot_cold(t, e);
}

static void feed_slot(struct fw_table *t, uint32_t kind, uint32_t i)
{
	struct fw_image img;

	if (!t->feed)
		return;
	slot_image(t, i, &img);
	fw_feed_append(t->feed, kind, &img, fw_table_entry_path(slot_at(t, i)));
}

/*
 * An entry about to leave the table, kept so that its EVICTED or REMOVED
 * record can be appended once it has left: a follower told of it must
 * find it gone (and fsc_stat() then asks for a watch again).
 */
struct leaving {
	struct fw_image img;
	char path[FSC_PATH_MAX_MAX];
};

static void leaving_keep(const struct fw_table *t, uint32_t i,
			 struct leaving *l)
{
	const struct fsc_entry *e = slot_at(t, i);

	if (!t->feed)
		return;
	slot_image(t, i, &l->img);
	memcpy(l->path, fw_table_entry_path(e), e->path_len + 1);
}

static void leaving_feed(struct fw_table *t, uint32_t kind,
			 const struct leaving *l)
{
	if (t->feed)
		fw_feed_append(t->feed, kind, &l->img, l->path);
}

/* Everything a reader is told about an entry, validated_ns aside. */
static int same_answer(const struct fsc_entry *a, const struct fsc_entry *b,
		       uint32_t a_reason, uint32_t b_reason)
{
#define SAME(name) a->name == b->name &&
	return FSC_ENTRY_PLAIN_FIELDS(SAME) SAME(nlink) SAME(rdev)
			       SAME(mtime_ns) SAME(ctime_ns) SAME(atime_ns)
				       a->flags == b->flags &&
	       a_reason == b_reason;
#undef SAME
}

/* The kind of change from entry `old` to `img` (same key). */
static uint32_t change_kind(const struct fsc_entry *old,
			    const struct fsc_entry *img)
{
	uint32_t was = old->flags & FSC_ENT_EXISTS,
		 is = img->flags & FSC_ENT_EXISTS;

	if (!was && is)
		return FSC_CHANGE_CREATED;
	if (was && !is)
		return FSC_CHANGE_DELETED;
	return FSC_CHANGE_CHANGED;
}

/* 1 when `rec` fits an entry, its mtime, ctime and atime packed in ns. */
static int record_pack(const struct fw_record *rec, int64_t ns[3])
{
	return rec->nlink <= UINT32_MAX && rec->rdev <= UINT32_MAX &&
	       fsc_time_pack(rec->mtime_sec, rec->mtime_nsec, &ns[0]) &&
	       fsc_time_pack(rec->ctime_sec, rec->ctime_nsec, &ns[1]) &&
	       fsc_time_pack(rec->atime_sec, rec->atime_nsec, &ns[2]);
}

int fw_record_fits(const struct fw_record *rec)
{
	int64_t ns[3];

	return record_pack(rec, ns);
}

/*
 * The image of `rec` under its key.  A record whose values do not fit
 * (the caller should have said FSC_REASON_RANGE already) is published
 * as one: answered by stat(), no numbers.
 */
static void image_pack(struct fw_image *img, const struct fw_record *rec,
		       uint64_t hash, uint32_t len)
{
	int64_t ns[3];

	*img = (struct fw_image){
		.e = { .flags = (uint16_t)(rec->flags | FSC_ENT_USED),
		       .path_len = (uint16_t)len,
		       .hash = hash },
		.c = { .reason = rec->reason,
		       .validated_ns = rec->validated_ns },
	};
	if (!record_pack(rec, ns)) { /* the mode: what an entry says exists */
		img->e.flags |= FSC_ENT_NOCACHE;
		img->c.reason = FSC_REASON_RANGE;
		img->e.mode = rec->mode;
		return;
	}
#define COPY_FIELD(name) img->e.name = rec->name;
	FSC_ENTRY_PLAIN_FIELDS(COPY_FIELD)
#undef COPY_FIELD
	img->e.nlink = (uint32_t)rec->nlink;
	img->e.rdev = (uint32_t)rec->rdev;
	img->e.mtime_ns = ns[0];
	img->e.ctime_ns = ns[1];
	img->e.atime_ns = ns[2];
}

/*
 * Publish `rec` in slot i; `fresh`: the slot did not hold this key.  The
 * feed hears of it unless readers would see the same answer as before.
 */
static void slot_publish(struct fw_table *t, uint32_t i, uint64_t hash,
			 const char *path, uint32_t len,
			 const struct fw_record *rec, int fresh)
{
	struct fw_image img;
	struct fsc_entry *e = slot_at(t, i);

	image_pack(&img, rec, hash, len);
	uint32_t kind = fresh ? FSC_CHANGE_ADDED : change_kind(e, &img.e);
	int quiet = !fresh && same_answer(e, &img.e, slot_cold(t, e)->reason,
					  img.c.reason);

	slot_store(t, i, &img, path);
	if (!quiet)
		feed_slot(t, kind, i);
}

static void slot_zero(struct fw_table *t, uint32_t i)
{
	static const struct fw_image empty;

	slot_store(t, i, &empty, "");
	uatomic_set(&t->use[i], 0);
}

/* Copy slot src into the empty slot dst, then empty src; under table_gen. */
static void slot_move(struct fw_table *t, uint32_t dst, uint32_t src)
{
	struct fw_image img;

	/* Copy before clearing: the key is always in at least one slot. */
	slot_image(t, src, &img);
	slot_store(t, dst, &img, fw_table_entry_path(slot_at(t, src)));
	uatomic_set(&t->use[dst], uatomic_read(&t->use[src]));
	slot_zero(t, src);
	counter_add(t, FSC_CTR_MOVES, 1);
}

/*
 * Empty slot `hole` and shift back the entries after it that may move
 * closer to home, so a probe never has to step over an empty slot.  An
 * entry probe_limit or more slots past the hole has its home after the
 * hole, so the scan from each hole stops there.  Caller holds table_gen.
 */
static void slot_vacate(struct fw_table *t, uint32_t hole)
{
	uint32_t j = hole;

	slot_zero(t, hole);
	for (uint32_t d = 1; d < t->probe_limit; d++) {
		j = (j + 1) & t->mask;
		const struct fsc_entry *e = slot_at(t, j);

		if (!(e->flags & FSC_ENT_USED))
			break;
		if (slot_dist(t, slot_home(t, e->hash), j) >= d) {
			slot_move(t, hole, j);
			hole = j;
			d = 0;
		}
	}
	count_entries(t, -1);
}

static void slot_remove(struct fw_table *t, uint32_t i)
{
	table_gen_begin(t);
	slot_vacate(t, i);
	table_gen_end(t);
}

static int key_at(const struct fw_table *t, uint32_t i, uint64_t hash,
		  const char *path, uint32_t len)
{
	const struct fsc_entry *e = slot_at(t, i);

	return e->hash == hash && e->path_len == len &&
	       memcmp(fw_table_entry_path(e), path, len) == 0;
}

static int64_t lookup(const struct fw_table *t, uint64_t hash, const char *path,
		      uint32_t len)
{
	uint32_t i = slot_home(t, hash);

	for (uint32_t d = 0; d < t->probe_limit; d++, i = (i + 1) & t->mask) {
		if (!slot_used(t, i))
			return -1;
		if (key_at(t, i, hash, path, len))
			return i;
	}
	return -1;
}

static void report_eviction(const struct fw_table *t, uint32_t i,
			    fw_evict_fn evicted, void *ctx)
{
	const struct fsc_entry *e = slot_at(t, i);

	if (evicted)
		evicted(ctx, fw_table_entry_path(e), e->path_len);
}

/*
 * CLOCK: the first used slot from the hand whose use byte is clear; a set
 * byte is cleared and buys one more round.  After one full round every
 * byte was cleared, but readers may re-mark slots behind the hand, so after
 * two rounds the next used slot is taken whatever its mark.  -1 only if no
 * slot is used at all (entry_count lied).
 */
static int64_t clock_victim(struct fw_table *t)
{
	uint64_t rounds = 2 * (uint64_t)t->capacity;

	for (uint64_t step = 0; step < rounds + t->capacity; step++) {
		uint32_t i = t->hand;

		if (slot_used(t, i)) {
			if (step >= rounds || uatomic_read(&t->use[i]) == 0)
				return i;
			uatomic_set(&t->use[i], 0);
			if (t->used)
				t->used(t->used_ctx, slot_at(t, i)->hash);
		}
		t->hand = (i + 1) & t->mask;
	}
	return -1;
}

static void evict_one(struct fw_table *t, fw_evict_fn evicted, void *ctx)
{
	/*
	 * The hand stays on the victim's slot: the entry backward shift may
	 * move into it has not been looked at in this round yet.
	 */
	int64_t v = clock_victim(t);

	if (v < 0)
		return;
	struct leaving l;
	report_eviction(t, (uint32_t)v, evicted, ctx);
	leaving_keep(t, (uint32_t)v, &l);
	slot_remove(t, (uint32_t)v);
	leaving_feed(t, FSC_CHANGE_EVICTED, &l);
	counter_add(t, FSC_CTR_EVICTIONS, 1);
}

/* First empty slot in the probe window of `home`, or -1 if it is full. */
static int64_t window_free(const struct fw_table *t, uint32_t home)
{
	uint32_t i = home;

	for (uint32_t d = 0; d < t->probe_limit; d++, i = (i + 1) & t->mask)
		if (!slot_used(t, i))
			return i;
	return -1;
}

/*
 * A full window can only give up one of its own slots: overwriting it in
 * place keeps every window slot used, so no other key loses its probe path.
 */
static uint32_t window_victim(const struct fw_table *t, uint32_t home)
{
	uint32_t i = home;

	for (uint32_t d = 0; d < t->probe_limit; d++, i = (i + 1) & t->mask)
		if (uatomic_read(&t->use[i]) == 0)
			return i;
	return home;
}

/* The layout readers accept (contract.h), with entries of exactly this
 * version's size (the writer writes no fields a newer minor adds) and room
 * for max_entries below the slot count, so that probing finds a hole. */
static int header_valid(const struct fsc_header *h)
{
	return fsc_layout_check(h) == FSC_GEOM_OK &&
	       fsc_geometry_rule_ok(h, FSC_GEOM_HEADER_SIZE, 0) &&
	       h->entry_size == FSC_ENTRY_SIZE(h->path_max) &&
	       h->max_entries >= 1 && h->max_entries < h->slot_count;
}

int fw_table_bind(struct fw_table *t, struct fsc_header *hdr, uint8_t *use)
{
	/* Path words and 64-bit fields are stored atomically: align to 8. */
	if (!t || !hdr || !use || (uintptr_t)hdr % 8 != 0 || !header_valid(hdr))
		return -EINVAL;
	*t = (struct fw_table){
		.hdr = hdr,
		.slots = (unsigned char *)hdr + hdr->header_size,
		.use = use,
		.seed = hdr->hash_seed,
		.capacity = hdr->slot_count,
		.mask = hdr->slot_count - 1,
		.entry_size = hdr->entry_size,
		.path_max = hdr->path_max,
		.probe_limit = hdr->probe_limit,
		.max_entries = hdr->max_entries,
		.hand = 0,
	};
	return 0;
}

int64_t fw_table_victim(struct fw_table *t, uint64_t *hash)
{
	int64_t v = clock_victim(t);

	if (v >= 0)
		*hash = slot_at(t, (uint32_t)v)->hash;
	return v;
}

void fw_table_set_feed(struct fw_table *t, struct fw_feed *feed)
{
	t->feed = feed;
}

void fw_table_set_tags(struct fw_table *t, uint16_t *tags)
{
	t->tags = tags;
	if (!tags)
		return;
	for (uint32_t i = 0; i < t->capacity; i++) {
		const struct fsc_entry *e = slot_at(t, i);

		uatomic_set(&tags[i], (e->flags & FSC_ENT_USED)
					      ? fsc_tag(e->hash)
					      : (uint16_t)0);
	}
}

uint64_t fw_table_hash(const struct fw_table *t, const char *path, uint32_t len)
{
	return XXH3_64bits_withSeed(path, len, t->seed);
}

int64_t fw_table_find(const struct fw_table *t, const char *path, uint32_t len)
{
	if (len == 0 || len >= t->path_max)
		return -1;
	return lookup(t, fw_table_hash(t, path, len), path, len);
}

int64_t fw_table_put(struct fw_table *t, const char *path, uint32_t len,
		     const struct fw_record *rec, fw_evict_fn evicted,
		     void *ctx)
{
	if (len == 0)
		return -EINVAL;
	if (len >= t->path_max)
		return -ENAMETOOLONG;

	uint64_t hash = fw_table_hash(t, path, len);
	int64_t slot = lookup(t, hash, path, len);

	if (slot >= 0) {
		slot_publish(t, (uint32_t)slot, hash, path, len, rec, 0);
		counter_add(t, FSC_CTR_UPDATES, 1);
		return slot;
	}
	if (t->hdr->entry_count >= t->max_entries)
		evict_one(t, evicted, ctx);

	uint32_t home = slot_home(t, hash);
	struct leaving l;
	int victim = 0;

	slot = window_free(t, home);
	if (slot >= 0) {
		count_entries(t, +1);
	} else {
		slot = window_victim(t, home);
		report_eviction(t, (uint32_t)slot, evicted, ctx);
		leaving_keep(t, (uint32_t)slot, &l);
		victim = 1;
		counter_add(t, FSC_CTR_EVICTIONS, 1);
	}
	slot_publish(t, (uint32_t)slot, hash, path, len, rec, 1);
	if (victim)
		leaving_feed(t, FSC_CHANGE_EVICTED, &l);
	/* A fresh entry gets a second chance before CLOCK takes it. */
	uatomic_set(&t->use[slot], 1);
	counter_add(t, FSC_CTR_INSERTS, 1);
	return slot;
}

int fw_table_mark_changed(struct fw_table *t, const char *path, uint32_t len)
{
	int64_t slot = fw_table_find(t, path, len);
	struct fsc_entry *e;

	if (slot < 0)
		return -ENOENT;
	e = slot_at(t, (uint32_t)slot);
	if (e->flags & FSC_ENT_NOCACHE)
		return 0; /* answered by stat() already */
	fsc_seq_write_begin(&e->seq);
	uatomic_set(&e->flags, e->flags | FSC_ENT_NOCACHE);
	uatomic_set(&slot_cold(t, e)->reason, FSC_REASON_CHANGED);
	fsc_seq_write_end(&e->seq);
	feed_slot(t, FSC_CHANGE_MARKED, (uint32_t)slot);
	counter_add(t, FSC_CTR_CHANGED_MARKS, 1);
	return 1;
}

int fw_table_remove(struct fw_table *t, const char *path, uint32_t len)
{
	int64_t slot = fw_table_find(t, path, len);

	if (slot < 0)
		return -ENOENT;
	struct leaving l;
	leaving_keep(t, (uint32_t)slot, &l);
	slot_remove(t, (uint32_t)slot);
	leaving_feed(t, FSC_CHANGE_REMOVED, &l);
	counter_add(t, FSC_CTR_REMOVALS, 1);
	return 0;
}

void fw_table_clear(struct fw_table *t)
{
	uint64_t removed = 0;

	table_gen_begin(t);
	for (uint32_t i = 0; i < t->capacity; i++) {
		if (slot_used(t, i)) {
			slot_zero(t, i);
			removed++;
		}
		uatomic_set(&t->use[i], 0);
	}
	uatomic_set(&t->hdr->entry_count, 0);
	table_gen_end(t);
	if (t->feed)
		fw_feed_append(t->feed, FSC_CHANGE_ALL, NULL, NULL);
	counter_add(t, FSC_CTR_REMOVALS, removed);
}

const struct fsc_entry *fw_table_entry(const struct fw_table *t, uint32_t slot)
{
	if (slot >= t->capacity || !slot_used(t, slot))
		return NULL;
	return slot_at(t, slot);
}

const char *fw_table_entry_path(const struct fsc_entry *e)
{
	return (const char *)e + FSC_ENTRY_FIXED;
}

const struct fsc_entry_cold *fw_table_entry_cold(const struct fw_table *t,
						 const struct fsc_entry *e)
{
	return slot_cold(t, e);
}

void fw_table_entry_record(const struct fw_table *t, const struct fsc_entry *e,
			   struct fw_record *rec)
{
	const struct fsc_entry_cold *c = slot_cold(t, e);

	*rec = (struct fw_record){
		.flags = e->flags & ~(uint32_t)FSC_ENT_USED,
		.reason = c->reason,
		.validated_ns = c->validated_ns,
		.nlink = e->nlink,
		.rdev = e->rdev,
	};
#define COPY_FIELD(name) rec->name = e->name;
	FSC_ENTRY_PLAIN_FIELDS(COPY_FIELD)
#undef COPY_FIELD
	fsc_time_unpack(e->mtime_ns, &rec->mtime_sec, &rec->mtime_nsec);
	fsc_time_unpack(e->ctime_ns, &rec->ctime_sec, &rec->ctime_nsec);
	fsc_time_unpack(e->atime_ns, &rec->atime_sec, &rec->atime_nsec);
}
