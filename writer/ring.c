/*
 * ring.c - collecting the readers' requests from the request ring.
 *
 * How it works (the protocol is format.h's, "The request ring"): the
 * writer scans positions from its tail up to the readers' head, at most
 * one lap.  A slot whose seq says "published for this position" is
 * copied, freed for the next lap (release store of pos + ring_slots) and
 * its copy checked; a slot already freed out of order reads pos +
 * ring_slots, or pos + ring_slots + 1 once a reader published there for
 * the next lap (fw_ring_consumed), and is passed; anything else is
 * claimed but unpublished: a
 * reader is writing it now, or died while it did.  The tail advances over
 * the consumed prefix only, but published slots past an unpublished one
 * are consumed at once, so a dead reader delays no other request, and a
 * sync finds every request published before it (requests.c).  An
 * unpublished slot older than FSC_REQ_STUCK_MS is given up with a
 * compare-and-swap (a reader still writing it then fails its own publish
 * and counts a drop), so the ring's room comes back: a dead reader
 * cannot wedge it.
 *
 * A hostile reader (one who may write the object) can put anything in
 * the ring: head anywhere, seq anything, any bytes in a slot.  The scan
 * never goes beyond one lap, every copy is checked, and a head moved
 * behind the tail is put back; the worst it can do is drop requests.
 */
#include "ring.h"

#include <errno.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fstatcache/atomics.h"
#include "fstatcache/contract.h"

#define STUCK_NS ((uint64_t)FSC_REQ_STUCK_MS * 1000000u)

void fw_ring_bind(struct fw_ring *r, struct fsc_req_header *h, uint32_t slots,
		  uint32_t slot_size, uint32_t path_max, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	if (!h)
		return;
	r->h = h;
	r->slots = slots;
	r->mask = r->slots - 1;
	r->slot_size = slot_size;
	r->path_max = path_max;
	r->seed = seed;
	r->tail = 0; /* a new ring: every slot free from position 0 */
}

void fw_ring_reqs_free(struct fw_ring_reqs *q)
{
	fw_strv_free(&q->own);
	fw_strv_free(&q->others);
}

static struct fsc_req_slot *slot_at(const struct fw_ring *r, uint32_t pos)
{
	return (struct fsc_req_slot *)(void *)((char *)r->h +
					       FSC_REQ_HEADER_SIZE +
					       (size_t)(pos & r->mask) *
						       r->slot_size);
}

/*
 * Check a private copy of a slot claimed for `pos`: the position it says,
 * a length under path_max with the NUL right after it and none before, a
 * canonical key (fsc_path_ok: the prefix rule for other users relies on
 * it), and the key hash under this table's seed (a slot overwritten by a
 * late writer of an older lap fails it).
 */
static bool slot_ok(const struct fw_ring *r, const struct fsc_req_slot *c,
		    const char *path, uint32_t pos)
{
	uint32_t len = c->path_len;
	return c->pos == pos && len > 0 && len < r->path_max &&
	       path[len] == '\0' && memchr(path, '\0', len) == NULL &&
	       fsc_path_ok(path, len) &&
	       XXH3_64bits_withSeed(path, len, r->seed) == c->hash;
}

bool fw_ring_consumed(uint32_t slots, uint32_t pos, uint32_t seq)
{
	return seq == pos + slots || seq == pos + slots + 1;
}

/* Consume the published slot of `pos`: copy, free, check, keep. */
static void take(struct fw_ring *r, struct fsc_req_slot *s, uint32_t pos,
		 struct fw_strv *out, char *buf)
{
	struct fsc_req_slot c;
	memcpy(&c, s, sizeof(c));
	memcpy(buf, (char *)s + FSC_REQ_SLOT_FIXED, r->path_max);
	buf[r->path_max] = '\0';
	/* The copy is done before the slot is handed to the next lap. */
	cmm_smp_mb();
	uatomic_set(&s->seq, pos + r->slots);
	r->taken++;
	if (!slot_ok(r, &c, buf, pos) || fw_strv_push(out, buf) < 0)
		r->refused++;
}

uint64_t fw_ring_collect(struct fw_ring *r, uint64_t now_ns, bool checked,
			 struct fw_ring_reqs *q)
{
	if (!r->h)
		return 0;
	struct fw_strv *out = checked ? &q->others : &q->own;
	char buf[FSC_PATH_MAX_MAX + 1];
	uint32_t head = uatomic_read(&r->h->head);
	uint32_t avail = head - r->tail;
	/* A reader claims a position only once its slot was freed for it,
	 * by our taking the one a lap before: so head never runs more than
	 * a lap ahead of our tail, nor falls behind it.  Either is a hostile
	 * store, after which no reader could claim a slot again: head is put
	 * back to our tail (a reader between its claim and its publish then
	 * shares its slot with the next claimer: one of the two publishes,
	 * the other counts a drop, and a slot written by both fails its
	 * check). */
	if ((int32_t)avail < 0 || avail > r->slots) {
		uatomic_cmpxchg(&r->h->head, head, r->tail);
		head = r->tail;
		avail = 0;
	}
	uint32_t start = r->tail;
	bool waiting = false; /* an unpublished slot at or before pos */
	for (uint32_t pos = start; pos != start + avail; pos++) {
		struct fsc_req_slot *s = slot_at(r, pos);
		uint32_t seq = uatomic_read(&s->seq);
		bool done = true;
		if (seq == pos + 1) {
			cmm_smp_rmb(); /* the slot's bytes after its seq */
			take(r, s, pos, out, buf);
		} else if (!fw_ring_consumed(r->slots, pos, seq)) {
			/* Claimed, not published: a reader at work, or dead.
			 * Given up once it was so for FSC_REQ_STUCK_MS. */
			bool old = r->stuck_since &&
				   now_ns - r->stuck_since >= STUCK_NS &&
				   (int32_t)(r->stuck_head - pos) > 0;
			if (old && uatomic_cmpxchg(&s->seq, seq,
						   pos + r->slots) == seq)
				r->skipped++;
			else
				done = false;
		} /* else consumed out of order before (fw_ring_consumed) */
		if (!done)
			waiting = true;
		else if (!waiting)
			r->tail = pos + 1;
	}
	/* All consumed: the next slot must be free for the next position
	 * (seq == head), or be claimed and published since we read head
	 * (seq == head + 1: a reader moved head on meanwhile); anything else
	 * only a hostile write makes, and no reader could ever claim it. */
	if (r->tail == head) {
		struct fsc_req_slot *s = slot_at(r, head);
		uint32_t seq = uatomic_read(&s->seq);
		if (seq == head + 1) {
			/* A reader's claim moves head before its publish:
			 * head still here means no reader claimed it (a
			 * hostile store, or a publish after head was put
			 * back): take the slot into reach. */
			cmm_smp_rmb();
			if (uatomic_read(&r->h->head) == head)
				uatomic_cmpxchg(&r->h->head, head, head + 1);
		} else if (seq != head)
			uatomic_cmpxchg(&s->seq, seq, head);
	}
	uatomic_set(&r->h->tail, r->tail);
	fsc_store_u64(&r->h->taken, r->taken);
	if (!waiting) {
		r->stuck_since = 0;
		return 0;
	}
	if (!r->stuck_since || now_ns - r->stuck_since >= STUCK_NS) {
		r->stuck_since = now_ns;
		r->stuck_head = head;
	}
	return r->stuck_since + STUCK_NS;
}

bool fw_ring_arm(struct fw_ring *r)
{
	if (!r->h)
		return false;
	uatomic_xchg(&r->h->doorbell, 1u);
	cmm_smp_mb(); /* pairs with the reader's publish-then-load */
	uint32_t head = uatomic_read(&r->h->head);
	uint32_t avail = head - r->tail;
	if (avail > r->slots)
		avail = r->slots;
	for (uint32_t i = 0; i < avail; i++)
		if (uatomic_read(&slot_at(r, r->tail + i)->seq) ==
		    r->tail + i + 1) {
			fw_ring_disarm(r);
			return true;
		}
	return false;
}

void fw_ring_disarm(struct fw_ring *r)
{
	if (r->h && uatomic_read(&r->h->doorbell))
		uatomic_set(&r->h->doorbell, 0u);
}
