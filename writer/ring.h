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

struct fw_ring {
	struct fsc_req_header *h; /* NULL: no ring */
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

/* Bind to a ring the writer made (segment.c); h NULL: no ring. */
void fw_ring_bind(struct fw_ring *r, struct fsc_req_header *h,
		  uint32_t path_max, uint64_t seed);

/*
 * Move every published request into `out` (paths, NUL-terminated copies)
 * and free their slots; refuse (count) what fails a check.  A slot
 * claimed but unpublished for FSC_REQ_STUCK_MS (its reader died mid-write)
 * is given up.  Returns the CLOCK_MONOTONIC time at which a stuck slot
 * should be looked at again, or 0.  A path `out` has no room for (out of
 * memory) is lost and counted as refused.
 */
uint64_t fw_ring_collect(struct fw_ring *r, uint64_t now_ns,
			 struct fw_strv *out);

/*
 * Before sleeping: arm the doorbell, then look again.  True when a
 * request is waiting (the doorbell is disarmed again: do not sleep).
 */
bool fw_ring_arm(struct fw_ring *r);

/* Awake: readers need not ring. */
void fw_ring_disarm(struct fw_ring *r);

#endif /* FW_RING_H */
