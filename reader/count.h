/*
 * fstatcache/reader/count.h - lookup counts, per handle and per segment.
 *
 * Inline implementation of fstatcache.h; include that, not this.
 *
 * Every lookup adds one to a per-handle count (hit, miss or uncached) with
 * a relaxed increment: no lock, no shared cache line with other readers.
 * Every FSC__COUNT_BATCH lookups, and at fsc_close(), the handle adds what
 * it counted since last time to the totals in the recency object's header
 * (the only place readers write), which `fstatcache inspect` shows.  A
 * reader killed between batches loses at most one batch of counts.
 */
#ifndef FSTATCACHE_READER_COUNT_H
#define FSTATCACHE_READER_COUNT_H

#ifndef FSTATCACHE_FSTATCACHE_H
#error "include <fstatcache/fstatcache.h> instead"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define FSC__COUNT_BATCH 1024u /* lookups between publications */

static inline void fsc__publish_counts(fsc_handle *h, struct fsc__map *m)
{
	if (!m || !m->use || uatomic_cmpxchg(&h->attaching, 0, 1) != 0)
		return; /* the attach flag also serialises publication */
	struct fsc_use_header *u = (struct fsc_use_header *)(void *)m->use;
	uint64_t *totals[3] = { &u->reader_hits, &u->reader_misses,
				&u->reader_uncached };
	for (int i = 0; i < 3; i++) {
		unsigned long now = uatomic_read(&h->counts[i]);
		if (now != h->published[i])
			fsc__add_shared_u64(totals[i], now - h->published[i]);
		h->published[i] = now;
	}
	cmm_smp_mb();
	uatomic_set(&h->attaching, 0);
}

/* Count a lookup result (0, FSC_MISS, FSC_UNCACHED); cheap, no lock. */
static inline int fsc__count(fsc_handle *h, struct fsc__map *m, int r)
{
	unsigned long *c = &h->counts[r == 0 ? 0 : r == FSC_MISS ? 1 : 2];
	unsigned long n = uatomic_read(c) + 1;
	uatomic_set(c, n);
	if ((n & (FSC__COUNT_BATCH - 1)) == 0)
		fsc__publish_counts(h, m);
	return r;
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_READER_COUNT_H */
