/*
 * feed.c - the writer's side of the change feed.
 *
 * The ring's seqlock (format.h): before a store can overwrite a byte of a
 * record, `tail` moves past that record (F1), then a write barrier, then
 * the new record's words, then a write barrier (F2), then `head`.  A
 * reader's copy of a record at position p is whole if, after a read
 * barrier that pairs with F1, it still finds tail <= p; a reader loads
 * head, then a read barrier that pairs with F2, before the records below
 * it.  Only this thread writes the ring, so it reads its own records
 * (their lengths, to move tail) without atomics.
 */
#include "feed.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fstatcache/atomics.h"

#if !FSC_HAVE_U64_ATOMICS
/* No reader on such a CPU reads the feed (fsc_changes() says -ENOSYS),
 * so a torn store can mislead nobody. */
#define fsc_store_u64(p, v) uatomic_set((p), (v))
#endif

#define REC_MAX (FSC_FEED_REC_FIXED + FSC_FEED_ENTRY + FSC_PATH_MAX_MAX)

int fw_feed_init(struct fw_feed *f, void *base, uint32_t ring_size,
		 uint64_t epoch, struct fsc_use_header *use)
{
	if (ring_size < FSC_FEED_SIZE_MIN || ring_size > FSC_FEED_SIZE_MAX ||
	    (ring_size & (ring_size - 1)) || (uintptr_t)base % 8)
		return -EINVAL;
	*f = (struct fw_feed){
		.hdr = base,
		.ring = (unsigned char *)base + FSC_FEED_HEADER_SIZE,
		.size = ring_size,
		.mask = ring_size - 1,
		.use = use,
	};
	f->hdr->magic = FSC_FEED_MAGIC;
	f->hdr->epoch = epoch;
	f->hdr->ring_size = ring_size;
	return 0;
}

static uint32_t rec_len_at(const struct fw_feed *f, uint64_t pos)
{
	const struct fsc_feed_record *r =
		(const void *)(f->ring + (pos & f->mask));
	return r->len;
}

/*
 * Store the first `stored` bytes of `buf` (whole words) as the record at
 * head, `len` bytes long (a PAD stores only its header).
 */
static void put_record(struct fw_feed *f, const uint64_t *buf, uint32_t stored,
		       uint32_t len)
{
	uint64_t end = f->head + len;
	uint64_t *dst = (uint64_t *)(void *)(f->ring + (f->head & f->mask));

	/* F1: free every record the new bytes overlap before touching it. */
	if (end > f->size) {
		uint64_t tail = f->tail;
		while (tail < end - f->size)
			tail += rec_len_at(f, tail);
		if (tail != f->tail) {
			f->tail = tail;
			fsc_store_u64(&f->hdr->tail, tail);
			cmm_smp_wmb();
		}
	}
	for (uint32_t w = 0; w < stored / 8; w++)
		uatomic_set(&dst[w], buf[w]);
	cmm_smp_wmb(); /* F2 */
	f->head = end;
	fsc_store_u64(&f->hdr->head, end);
}

static void put_bare(struct fw_feed *f, uint32_t kind, uint32_t len)
{
	uint64_t buf[FSC_FEED_REC_FIXED / 8] = { 0 };
	struct fsc_feed_record r = { .pos = f->head, .len = len, .kind = kind };

	memcpy(buf, &r, sizeof(r));
	/* A PAD's body is never read: only its header is stored. */
	put_record(f, buf, FSC_FEED_REC_FIXED, len);
}

void fw_feed_append(struct fw_feed *f, uint32_t kind,
		    const struct fw_image *img, const char *path)
{
	uint64_t buf[REC_MAX / 8 + 2];
	uint32_t len = FSC_FEED_REC_FIXED;

	if (!f->hdr)
		return;
	if (img) {
		uint32_t plen = img->e.path_len;
		len += FSC_FEED_ENTRY + (plen / 8 + 1) * 8;
		len = (len + FSC_FEED_ALIGN - 1) & ~(FSC_FEED_ALIGN - 1);
	}
	uint32_t room = f->size - (uint32_t)(f->head & f->mask);
	if (room < len)
		put_bare(f, FSC_CHANGE_PAD, room);

	struct fsc_feed_record r = { .pos = f->head, .len = len, .kind = kind };
	memset(buf, 0, len);
	memcpy(buf, &r, sizeof(r));
	if (img) {
		unsigned char *b = (unsigned char *)buf + FSC_FEED_REC_FIXED;
		memcpy(b, img, FSC_FEED_ENTRY);
		memcpy(b + FSC_FEED_ENTRY, path, img->e.path_len);
	}
	put_record(f, buf, len, len);
	fsc_store_u64(&f->hdr->records, f->hdr->records + 1);
}

/* Bump the wake word; FUTEX_WAKE if a follower said it sleeps. */
static bool wake_followers(struct fw_feed *f)
{
	if (!f->use)
		return false;
	cmm_smp_wmb(); /* head before wake: pairs with the follower's rmb */
	uatomic_add(&f->use->feed_wake, 1);
	/* Pairs with the follower's barrier between raising feed_waiters
	 * and loading feed_wake: one of the two sees the other. */
	cmm_smp_mb();
	if (!uatomic_read(&f->use->feed_waiters))
		return false;
	syscall(SYS_futex, &f->use->feed_wake, FUTEX_WAKE, INT_MAX, NULL, NULL,
		0);
	f->wakes++;
	return true;
}

bool fw_feed_flush(struct fw_feed *f)
{
	if (!f->hdr || f->head == f->flushed)
		return false;
	f->flushed = f->head;
	return wake_followers(f);
}

void fw_feed_close(struct fw_feed *f)
{
	if (!f->hdr)
		return;
	(void)wake_followers(f);
	f->hdr = NULL;
	f->use = NULL;
}
