/*
 * fstatcache/seqlock.h - the sequence-count protocol, written once.
 *
 * One writer thread (fstatcached) rewrites data in shared memory in place;
 * any number of readers in other processes copy it without locks and
 * without telling anyone.  A 32-bit sequence count beside the data says
 * whether a copy may be torn.  Two counts in the segment use it:
 *
 *   fsc_entry.seq        guards every other field of its slot (and the
 *                        slot's path bytes);
 *   fsc_header.table_gen guards the positions of entries: it is odd while
 *                        the writer moves entries between slots (backward
 *                        shift after a removal), so a probe or a pass over
 *                        the table that found nothing or saw a moving
 *                        entry twice can tell and start again.
 *
 * The protocol, in the kernel's seqcount terms:
 *
 *   writer                                reader
 *   fsc_seq_write_begin(&seq):            s = fsc_seq_read_begin(&seq):
 *     store(seq, s + 1)  (now odd)          s = load(seq)
 *     wmb                [W1]               rmb                [R1]
 *   store the data (relaxed atomics)      odd s: a write is in progress,
 *   fsc_seq_write_end(&seq):                retry (bounded) or give up
 *     wmb                [W2]             copy the data (relaxed atomics)
 *     store(seq, s + 2)  (even again)     fsc_seq_read_retry(&seq, s):
 *                                           rmb                [R2]
 *                                           load(seq) != s: torn, retry
 *
 *   W1 pairs with R2: a reader that saw any value stored after W1 then
 *   sees the odd (or a later) count at its re-check, so a copy that
 *   overlapped a write is thrown away.
 *   W2 pairs with R1: a reader that read the even count s + 2 at begin
 *   sees every store made before W2, so its copy is the whole write.
 *
 * In C11 terms: the count is read with an acquire load (R1 is the acquire)
 * and re-read after an acquire fence (R2); every guarded field is read and
 * written with relaxed atomic loads and stores (liburcu's uatomic_read and
 * uatomic_set), so a torn copy is a value the check rejects, never a data
 * race.  The writer stores the count itself with relaxed stores after
 * release fences (W1 orders the odd count before the data, W2 the data
 * before the even count).  Go and Rust readers use their own atomics with
 * the same orderings (docs/FORMAT.md).
 *
 * Only the writer calls the write side; it never blocks on readers, and
 * readers never write the count.  Every reader loop built on these is
 * bounded by its caller (FSC_RETRY_MAX attempts), never by what it finds.
 *
 * Needs: liburcu's <urcu/arch.h> and <urcu/uatomic.h>; C11 or C++11.
 */
#ifndef FSTATCACHE_SEQLOCK_H
#define FSTATCACHE_SEQLOCK_H

#include <stdint.h>

#include "atomics.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Start a read section: the count to hand to fsc_seq_read_retry().  An odd
 * count means the writer is mid-write: the caller retries (or gives up)
 * without trusting anything it copies.
 */
static inline uint32_t fsc_seq_read_begin(const uint32_t *seq)
{
	uint32_t s = uatomic_read(seq);
	cmm_smp_rmb(); /* R1: pairs with the writer's W2 */
	return s;
}

/* 1 when a read section that began with `start` cannot be trusted. */
static inline int fsc_seq_read_retry(const uint32_t *seq, uint32_t start)
{
	cmm_smp_rmb(); /* R2: pairs with the writer's W1 */
	return (start & 1u) != 0 || uatomic_read(seq) != start;
}

/* Writer only: make the count odd before changing what it guards. */
static inline void fsc_seq_write_begin(uint32_t *seq)
{
	uatomic_set(seq, uatomic_read(seq) + 1u);
	cmm_smp_wmb(); /* W1: pairs with the reader's R2 */
}

/* Writer only: make the count even again once every store is done. */
static inline void fsc_seq_write_end(uint32_t *seq)
{
	cmm_smp_wmb(); /* W2: pairs with the reader's R1 */
	uatomic_set(seq, uatomic_read(seq) + 1u);
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_SEQLOCK_H */
