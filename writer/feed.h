/*
 * feed.h - the writer's side of the change feed ("/fstatcache.NAME.feed").
 *
 * One record per answer the writer publishes (format.h, "The change
 * feed"), appended by the table code as it publishes, so no change can
 * reach the table without reaching the feed.  Followers asleep on the
 * wake word (.use header, feed_wake: in the object readers map writable,
 * where a futex wait works on every kernel) are woken once per turn of
 * the event loop (fw_feed_flush), and only when one said it sleeps
 * (feed_waiters).
 */
#ifndef FW_FEED_H
#define FW_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fstatcache/format.h"

FSC__STATIC_ASSERT(sizeof(struct fsc_entry) + sizeof(struct fsc_entry_cold) ==
			   FSC_FEED_ENTRY,
		   "struct fw_image is a record body");

struct fw_feed {
	struct fsc_feed_header *hdr; /* NULL: no feed (appends do nothing) */
	unsigned char *ring;
	uint32_t size, mask;
	uint64_t head, tail;        /* our copies of hdr->head and hdr->tail */
	uint64_t flushed;           /* head when followers were last told */
	struct fsc_use_header *use; /* feed_wake and feed_waiters, or NULL */
	uint64_t wakes;             /* futex wake-ups made */
};

/* Ring bytes for a feed of `size` bytes in all, header included. */
#define FW_FEED_RING(size) ((size)-FSC_FEED_HEADER_SIZE)

/*
 * Format a zeroed object of FSC_FEED_HEADER_SIZE + ring_size bytes at
 * `base` for the table of `epoch` and bind `f` to it.  `use`: the .use
 * header, or NULL (no followers are woken).  0, or -EINVAL for a ring
 * size that is not a power of two within FSC_FEED_SIZE_MIN..MAX.
 */
int fw_feed_init(struct fw_feed *f, void *base, uint32_t ring_size,
		 uint64_t epoch, struct fsc_use_header *use);

/*
 * An entry as it is published: its head and its cold tail, which is also
 * the body of a record before the path (format.h).
 */
struct fw_image {
	struct fsc_entry e;
	struct fsc_entry_cold c;
};

/*
 * Append one record: `kind` FSC_CHANGE_*; for ADDED..REMOVED `img` is the
 * entry as published and `path` its key (path_len = img->e.path_len);
 * for ALL both are NULL.
 */
void fw_feed_append(struct fw_feed *f, uint32_t kind,
		    const struct fw_image *img, const char *path);

/* Tell followers that head moved, if it did and one sleeps; true when
 * it woke them (wakes counts it). */
bool fw_feed_flush(struct fw_feed *f);

/* The writer stops: wake every follower so it sees the segment retired
 * now, not at its timeout; then appends do nothing. */
void fw_feed_close(struct fw_feed *f);

#endif /* FW_FEED_H */
