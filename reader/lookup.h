/*
 * fstatcache/reader/lookup.h - finding a path in the table.
 *
 * Inline implementation of fstatcache.h; include that, not this.
 *
 * The table is open-addressed with linear probing (docs/FORMAT.md): a key
 * lives at most probe_limit slots past its home slot, hash & mask, and
 * every slot from home to it is used, so a probe stops at the first empty
 * slot.  Each slot is read under its sequence count (seqlock.h): the
 * fields are copied, then the count is re-checked, then the copy is
 * validated (flags, length, full key, mode) before anything is believed.
 * A probe that found nothing is bracketed the same way by the table's
 * generation count, odd while the writer moves entries, so an entry moving
 * under the probe is never reported as a false miss.  Where the writer
 * keeps the tag array (format.h, minor 5) the probe reads tags first and
 * only the slots whose tag is the key's; tags are hints, the slot
 * decides.  Each attempt is bounded by probe_limit; attempts by
 * FSC_RETRY_MAX, then FSC_UNCACHED.
 */
#ifndef FSTATCACHE_READER_LOOKUP_H
#define FSTATCACHE_READER_LOOKUP_H

#ifndef FSTATCACHE_FSTATCACHE_H
#error "include <fstatcache/fstatcache.h> instead"
#endif

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#define FSC__DEFINED_XXH_INLINE_ALL
#endif
/* GCC 12 reports -Warray-bounds inside xxHash's unreachable long-input
 * branches when a caller hashes a short literal; the reads are guarded. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
#include <xxhash.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#ifdef FSC__DEFINED_XXH_INLINE_ALL
#undef XXH_INLINE_ALL
#undef FSC__DEFINED_XXH_INLINE_ALL
#endif

#include "fstatcache/atomics.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
	FSC__ABSENT,
	FSC__FOUND,
	FSC__RETRY
};

/* Compare the slot's path words with the key; inside the entry's seqlock. */
static inline int fsc__key_equal(const struct fsc_entry *e, const char *path,
				 uint32_t len)
{
	const uint64_t *w = fsc__slot_path(e);
	uint32_t full = len / 8, i;
	for (i = 0; i < full; i++) {
		uint64_t k;
		memcpy(&k, path + 8 * i, 8);
		if (uatomic_read(&w[i]) != k)
			return 0;
	}
	uint64_t k = 0; /* the word holding the NUL, zero-padded */
	memcpy(&k, path + 8 * i, len - 8 * i);
	return uatomic_read(&w[i]) == k;
}

/* Copy the stat fields; only trusted once fsc_seq_read_retry() passes. */
static inline void fsc__copy_entry(const struct fsc_entry *e,
				   struct fsc_stat *o)
{
#define FSC__COPY(name) o->name = uatomic_read(&e->name);
	FSC_ENTRY_PLAIN_FIELDS(FSC__COPY)
#undef FSC__COPY
	o->nlink = uatomic_read(&e->nlink);
	o->rdev = uatomic_read(&e->rdev);
	fsc_time_unpack(uatomic_read(&e->mtime_ns), &o->mtime_sec,
			&o->mtime_nsec);
	fsc_time_unpack(uatomic_read(&e->ctime_ns), &o->ctime_sec,
			&o->ctime_nsec);
	fsc_time_unpack(uatomic_read(&e->atime_ns), &o->atime_sec,
			&o->atime_nsec);
	o->have = FSC_HAVE_BLKSIZE | FSC_HAVE_ATIME;
}

/*
 * Look at one slot under its sequence count.  FOUND fills *o (and
 * *flags); ABSENT with *empty set ends the probe; RETRY means the slot
 * changed under us.
 */
static inline int fsc__probe_slot(const struct fsc_entry *e, const char *path,
				  uint32_t len, uint64_t hash,
				  struct fsc_stat *o, uint32_t *flags,
				  int *empty)
{
	uint32_t s = fsc_seq_read_begin(&e->seq);
	if (s & 1)
		return FSC__RETRY;
	uint32_t f = uatomic_read(&e->flags);
	uint64_t eh = uatomic_read(&e->hash);
	uint32_t el = uatomic_read(&e->path_len);
	int match = (f & FSC_ENT_USED) && eh == hash && el == len &&
		    fsc__key_equal(e, path, len);
	if (match)
		fsc__copy_entry(e, o);
	if (fsc_seq_read_retry(&e->seq, s))
		return FSC__RETRY;
	*empty = !(f & FSC_ENT_USED);
	if (!match)
		return FSC__ABSENT;
	*flags = f;
	return FSC__FOUND;
}

/* Validate a copied entry: never trust a value from the segment unchecked. */
static inline int fsc__copy_ok(uint32_t flags, const struct fsc_stat *o)
{
	if (flags & ~(uint32_t)FSC_ENT_KNOWN)
		return 0;
	if (!(flags & FSC_ENT_EXISTS))
		return 1;
	/* (Times need no check: every count of nanoseconds is one.) */
	return fsc_mode_ok(o->mode) && o->size >= 0 && o->blocks >= 0;
}

/*
 * One probe sequence; FSC__FOUND, FSC__ABSENT or FSC__RETRY.  With the tag
 * array (minor 5) only the slots whose tag is the key's are read, and a 0
 * tag ends the probe as an empty slot would: a miss reads tags only.
 */
static inline int fsc__probe(const struct fsc__map *m, const char *path,
			     uint32_t len, uint64_t hash, struct fsc_stat *o,
			     uint32_t *flags, uint32_t *slot_out)
{
	uint32_t slot = (uint32_t)hash & m->mask;
	const uint16_t *tags = m->tags;
	uint16_t want = fsc_tag(hash);
	for (uint32_t i = 0; i < m->probe_limit; i++) {
		if (tags) {
			uint16_t t = uatomic_read(&tags[slot]);
			if (t == 0)
				return FSC__ABSENT;
			if (t != want) {
				slot = (slot + 1) & m->mask;
				continue;
			}
		}
		int empty = 0;
		int r = fsc__probe_slot(fsc__slot(m, slot), path, len, hash, o,
					flags, &empty);
		if (r == FSC__FOUND) {
			*slot_out = slot;
			return FSC__FOUND;
		}
		if (r == FSC__RETRY)
			return FSC__RETRY;
		if (empty)
			return FSC__ABSENT;
		slot = (slot + 1) & m->mask;
	}
	return FSC__ABSENT;
}

/* A hit counts as use for the writer's CLOCK eviction (the .use object). */
static inline void fsc__mark_used(const struct fsc__map *m, uint32_t slot)
{
	uint8_t *u = m->use ? m->use + FSC_USE_HEADER_SIZE + slot : NULL;
	if (u && !uatomic_read(u))
		uatomic_set(u, 1);
}

/* A cached "does not exist" carries no numbers: make them 0, as documented. */
static inline void fsc__set_exists(struct fsc_stat *o, uint32_t flags)
{
	o->exists = (flags & FSC_ENT_EXISTS) != 0;
	if (o->exists) {
		o->err = 0;
		return;
	}
	memset(o, 0, sizeof(*o));
	o->err =
		ENOENT; /* the writer keeps no errno: ENOTDIR reads as ENOENT */
}

/*
 * The writer stores canonical keys only, so a hit proves the spelling and
 * the full check can wait until a miss: another spelling of a cached file
 * is FSC_UNCACHED (asking the writer for it would be refused).
 */
static inline int fsc__miss_or_uncached(int r, const char *path, size_t len)
{
	return (r == FSC_MISS && !fsc_path_ok(path, len)) ? FSC_UNCACHED : r;
}

/* The probe loop of fsc_lookup() on an attached, serving mapping. */
static inline int fsc__lookup_map(struct fsc__map *m, const char *path,
				  size_t len, uint64_t hash,
				  struct fsc_stat *out)
{
	const struct fsc_header *hdr = fsc__hdr(m);
	for (int attempt = 0; attempt < FSC_RETRY_MAX; attempt++) {
		uint32_t g = fsc_seq_read_begin(&hdr->table_gen);
		if (g & 1) {
			caa_cpu_relax();
			continue;
		}
		uint32_t flags = 0, slot = 0;
		int r = fsc__probe(m, path, (uint32_t)len, hash, out, &flags,
				   &slot);
		if (r == FSC__RETRY) {
			caa_cpu_relax();
			continue;
		}
		if (r == FSC__ABSENT) {
			if (fsc_seq_read_retry(&hdr->table_gen, g))
				continue;
			return fsc__serving(m) ? FSC_MISS : FSC_UNCACHED;
		}
		if (!fsc__copy_ok(flags, out) || (flags & FSC_ENT_NOCACHE))
			return FSC_UNCACHED;
		/* A dead writer's entries may be stale: check after the copy. */
		if (!fsc__serving(m))
			return FSC_UNCACHED;
		fsc__set_exists(out, flags);
		out->source = FSC_SOURCE_CACHE;
		fsc__mark_used(m, slot);
		return 0;
	}
	return FSC_UNCACHED;
}

static inline int fsc_lookup(fsc_handle *h, const char *path,
			     struct fsc_stat *out)
{
	if (!h || !path || !out)
		return -EINVAL;
	size_t len = strlen(path);
	if (len < 2 || path[0] != '/')
		return fsc__count(h, NULL, FSC_UNCACHED);
	struct fsc__map *m = fsc__current(h);
	if (!m || len >= m->path_max)
		return fsc__count(h, m, FSC_UNCACHED);
	uint64_t hash = XXH3_64bits_withSeed(path, len, m->seed);
	int r = fsc__lookup_map(m, path, len, hash, out);
	return fsc__count(h, m, fsc__miss_or_uncached(r, path, len));
}

#define FSC__AHEAD 8 /* lookups whose slots are fetched ahead */

/* Hash the key and start fetching its home slot; 0 if it is no key. */
static inline int fsc__prepare(const struct fsc__map *m, const char *path,
			       size_t *len, uint64_t *hash)
{
	*len = strlen(path);
	if (*len < 2 || path[0] != '/' || *len >= m->path_max)
		return 0;
	*hash = XXH3_64bits_withSeed(path, *len, m->seed);
#if defined(__GNUC__)
	uint32_t home = (uint32_t)*hash & m->mask;
	const char *e = (const char *)fsc__slot(m, home);
	if (m->tags)
		__builtin_prefetch(m->tags + home);
	/* The head's line and the line holding the key's end (its NUL
	 * word): for a key under 96 bytes every line the hit reads is one
	 * of those two or the head's pair (format.h). */
	__builtin_prefetch(e);
	__builtin_prefetch(e + ((FSC_ENTRY_FIXED + *len) & ~(size_t)63));
#endif
	return 1;
}

static inline void fsc_lookup_many(fsc_handle *h, const char *const *paths,
				   size_t n, struct fsc_stat *out, int *results)
{
	if (!results)
		return;
	struct fsc__map *m = (h && paths && out) ? fsc__current(h) : NULL;
	if (!m) {
		for (size_t i = 0; i < n; i++)
			results[i] = (h && paths && out)
					     ? fsc_lookup(h, paths[i], &out[i])
					     : -EINVAL;
		return;
	}
	size_t lens[FSC__AHEAD];
	uint64_t hashes[FSC__AHEAD];
	int ok[FSC__AHEAD];
	for (size_t i = 0; i < n && i < FSC__AHEAD; i++)
		ok[i] = fsc__prepare(m, paths[i], &lens[i], &hashes[i]);
	for (size_t i = 0; i < n; i++) {
		size_t k = i % FSC__AHEAD, len = lens[k];
		uint64_t hash = hashes[k];
		int r = ok[k] ? fsc__lookup_map(m, paths[i], len, hash, &out[i])
			      : FSC_UNCACHED;
		r = fsc__miss_or_uncached(r, paths[i], len);
		if (i + FSC__AHEAD < n)
			ok[k] = fsc__prepare(m, paths[i + FSC__AHEAD], &lens[k],
					     &hashes[k]);
		results[i] = fsc__count(h, m, r);
	}
}

static inline void fsc_stat_from_stat(const struct stat *st, struct fsc_stat *s)
{
	s->exists = 1;
	s->source = FSC_SOURCE_STAT;
	s->err = 0;
#define FSC__FROM(type, name, member) s->name = (type)st->member;
	FSC_STAT_FIELDS(FSC__FROM)
#undef FSC__FROM
	s->have = FSC_HAVE_BLKSIZE | FSC_HAVE_ATIME;
	s->atime_sec = (int64_t)st->st_atim.tv_sec;
	s->atime_nsec = (uint32_t)st->st_atim.tv_nsec;
}

static inline void fsc_stat_to_stat(const struct fsc_stat *s, struct stat *st)
{
	memset(st, 0, sizeof(*st));
#define FSC__TO(type, name, member) st->member = s->name;
	FSC_STAT_FIELDS(FSC__TO)
#undef FSC__TO
	if (s->have & FSC_HAVE_ATIME) {
		st->st_atim.tv_sec = (time_t)s->atime_sec;
		st->st_atim.tv_nsec = (long)s->atime_nsec;
	}
}

/* Defined in reader/request.h. */
static inline int fsc__request(fsc_handle *h, const char *path, int wait);

static inline int fsc_stat(fsc_handle *h, const char *path,
			   struct fsc_stat *out)
{
	int r = fsc_lookup(h, path, out);
	if (r <= 0)
		return r;
	struct stat st;
	memset(out, 0, sizeof(*out));
	out->source = FSC_SOURCE_STAT;
	if (stat(path, &st) == 0) {
		fsc_stat_from_stat(&st, out);
	} else if (errno == ENOENT || errno == ENOTDIR) {
		out->err = errno;
	} else {
		return -errno;
	}
	if (r == FSC_MISS && !(h->flags & FSC_OPEN_NO_REQUESTS))
		(void)fsc__request(h, path, 0);
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_READER_LOOKUP_H */
