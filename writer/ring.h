/*
 * ring.h - the writer's side of the request ring (format.h, "The request
 * ring"; docs/FORMAT.md): readers queue the paths they missed in shared
 * memory, the writer collects them.
 *
 * The ring is readers' memory: every slot is copied into private memory
 * first and checked there (position, length, NUL, canonical key, the key
 * hash under the table's seed) before anything acts on it; nothing found
 * in the ring bounds a loop.  Slots are collected into a private list and
 * freed before any request is handled, so handling one (which may grow
 * the table and replace the ring) never runs while the ring is read.
 */
#ifndef FW_RING_H
#define FW_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fstatcache/format.h"

/*
 * What the writer collected and has not handled yet, in two lists by who
 * may have written it: `own` only our user or root could have (the ring
 * was never writable by more), `others` anyone the ring was shared with,
 * judged by the other-user rules.  Each path keeps the judgement of the
 * ring it came from, also after that ring was replaced.
 */
struct fw_ring_reqs {
	struct fw_strv own, others;
};

/* The ring's grace after handling requests (writer/loop.c). */
#define FW_RING_GRACE_NS UINT64_C(20000000) /* 20 ms */
#define FW_RING_POLL_NS UINT64_C(2000000)   /* 2 ms: at most 10 looks */

struct fw_ring {
	struct fsc_req_header *h; /* NULL: no ring */
	/* The ring's geometry as the writer made it (segment.c), never
	 * read back from the object: readers may write its header. */
	uint32_t slots, mask, slot_size, path_max;
	uint64_t seed;
	uint32_t tail; /* next position to consume (ours; h->tail mirrors) */
	/* A claimed slot not published yet: since when it was seen (ns,
	 * CLOCK_MONOTONIC; 0: none) and how far `head` was then: every
	 * unpublished slot below that is older than FSC_REQ_STUCK_MS. */
	uint64_t stuck_since;
	uint32_t stuck_head;
	uint64_t taken, refused, skipped; /* totals for this ring */
};

/*
 * Bind to a ring the writer made (segment.c) with `slots` slots of
 * `slot_size` bytes, all free from position 0 (h NULL: no ring).  The
 * geometry is the writer's own, not the header's.
 */
void fw_ring_bind(struct fw_ring *r, struct fsc_req_header *h, uint32_t slots,
		  uint32_t slot_size, uint32_t path_max, uint64_t seed);

/*
 * Move every published request into `out` (paths, NUL-terminated copies:
 * into out->others when `checked`, the ring is or was writable by more
 * than our user, else out->own) and free their slots; refuse (count) what
 * fails a check.  A slot claimed but unpublished for FSC_REQ_STUCK_MS
 * (its reader died mid-write) is given up.  Returns the CLOCK_MONOTONIC
 * time at which a stuck slot should be looked at again, or 0.  A path
 * `out` has no room for (out of memory) is lost and counted as refused.
 */
uint64_t fw_ring_collect(struct fw_ring *r, uint64_t now_ns, bool checked,
			 struct fw_ring_reqs *out);

/*
 * Does `seq`, the sequence word of position `pos`'s slot (a position at
 * or after the tail, before the head), say that pos was consumed before?
 * The slot is then free for the next lap (pos + slots) or already claimed
 * or published for it (pos + slots + 1): once the writer frees the slot
 * of an earlier position, readers may claim every later slot it freed out
 * of order, and publish there, before its scan reaches them.  Not seeing
 * the second kept the tail on that position for good, let head run more
 * than a lap ahead, and put it back: requests were lost.
 */
bool fw_ring_consumed(uint32_t slots, uint32_t pos, uint32_t seq);

/* Paths waiting in `q`. */
static inline size_t fw_ring_reqs_n(const struct fw_ring_reqs *q)
{
	return q->own.n + q->others.n;
}

void fw_ring_reqs_free(struct fw_ring_reqs *q);

/*
 * Before sleeping: arm the doorbell, then look again.  True when a
 * request is waiting (the doorbell is disarmed again: do not sleep).
 */
bool fw_ring_arm(struct fw_ring *r);

/*
 * Awake: readers need not ring.  Readers never disarm it (a reader that
 * did, then died before its datagram, would leave every later request
 * asleep): only the writer does, once it is awake.
 */
void fw_ring_disarm(struct fw_ring *r);

#endif /* FW_RING_H */
