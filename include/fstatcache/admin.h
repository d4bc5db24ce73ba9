/*
 * fstatcache/admin.h - operator calls: control requests to the writer,
 * listing the table, reading the segment header.
 *
 *     #include <fstatcache/admin.h>
 *
 *     char msg[256];
 *     int r = fsc_control(h, FSC_OP_SYNC, NULL, 5000, msg, sizeof(msg));
 *     struct fsc_listing l;
 *     if (fsc_entries_scan(h, FSC_SCAN_PASSES, &l) == 0)
 *             for (size_t i = 0; i < l.count; i++)
 *                     puts(l.entries[i].path);
 *     fsc_listing_free(&l);
 *
 * None of these is on a hot path: they may make system calls, allocate,
 * and (fsc_control) wait for the writer.  Same build needs, return values
 * and thread-safety rules as fstatcache.h, which this includes.
 */
#ifndef FSTATCACHE_ADMIN_H
#define FSTATCACHE_ADMIN_H

#include "fstatcache.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Send a control request (FSC_OP_WATCH, _UNWATCH, _INVALIDATE, _SYNC;
 * protocol.h) and wait for the writer's reply, at most timeout_ms (-1: no
 * limit; the wait ends anyway if the writer dies).  `path` is NULL for
 * INVALIDATE and SYNC.  The writer's message (if any) goes to msg.
 * Returns the writer's status (0 or a negative errno), -ENOTCONN (no live
 * writer), -ETIMEDOUT, -ECONNRESET (writer died), -EINVAL, or a socket
 * errno.  Unlike a lookup, it waits (until the deadline) for a writer
 * that is starting or for another thread's attach in progress.
 */
static inline int fsc_control(fsc_handle *h, int op, const char *path,
			      int timeout_ms, char *msg, size_t msg_size);

/*
 * Read slot `slot` (0 <= slot < fsc_slot_count()) for listing: 0 with its
 * path (NUL-terminated, truncated to path_size) and answer (source
 * FSC_SOURCE_STAT for an entry the writer answers by stat()), FSC_MISS
 * when the slot is empty, FSC_UNCACHED when detached or the slot stays
 * busy, -EINVAL (bad slot), -EPROTO (the slot fails validation).
 * `validated_ns` (may be NULL) gets the CLOCK_REALTIME of the writer's
 * stat().
 */
static inline int fsc_slot_read(fsc_handle *h, uint32_t slot, char *path,
				size_t path_size, struct fsc_stat *out,
				uint64_t *validated_ns);

/* Slots in the attached segment (a power of two; 0 when detached). */
static inline uint32_t fsc_slot_count(fsc_handle *h);

/* One entry of a listing (fsc_entries_scan()). */
struct fsc_listed {
	uint32_t slot;
	int status; /* 0, or -EPROTO: the slot fails validation
				* (then only `slot` is set) */
	char *path; /* NUL-terminated; freed by fsc_listing_free */
	struct fsc_stat st;
	uint64_t validated_ns; /* CLOCK_REALTIME of the writer's stat() */
};

struct fsc_listing {
	struct fsc_listed *entries; /* in slot order */
	size_t count;
	uint32_t busy; /* slots skipped: the writer kept rewriting them */
	int stable;    /* 1: no entry moved during the pass (each entry
			  * listed once); 0: the writer kept moving entries
			  * through every pass, one may be missing or twice */
};

#define FSC_SCAN_PASSES 4 /* passes a listing tries for a stable one */

/*
 * List every entry of the attached segment, in slot order.  A deletion
 * moves later entries back, so a pass that overlaps one may miss an entry
 * or see it twice: a pass is kept when the table's generation count
 * (seqlock.h) shows no move happened during it, else it is repeated, at
 * most `passes` times (the last one is kept, with stable 0).  Returns 0;
 * -ENOTCONN (no live writer), -ECONNRESET (the writer went away during
 * the pass: *out holds what was read), -ENOMEM, -EINVAL.  *out is always
 * initialised; free it with fsc_listing_free().
 */
static inline int fsc_entries_scan(fsc_handle *h, unsigned passes,
				   struct fsc_listing *out);

/* Free what fsc_entries_scan() allocated; *l is empty afterwards. */
static inline void fsc_listing_free(struct fsc_listing *l);

/*
 * A private copy of the attached segment's header (counters read relaxed,
 * so they may be mutually a little out of step; reserved words read as
 * 0).  0, or FSC_UNCACHED when detached.
 */
static inline int fsc_header_read(fsc_handle *h, struct fsc_header *out);

/*
 * Copy a mapped header `hdr` that the caller mapped itself (the inspection
 * tools map segments of any status): the fields fixed before status first
 * became SERVING with memcpy, the live ones with relaxed atomic loads,
 * 64-bit counters re-read until stable on 32-bit targets.
 */
static inline void fsc_header_copy(const struct fsc_header *hdr,
				   struct fsc_header *out);

#ifdef __cplusplus
}
#endif

#include "reader/admin.h"

#endif /* FSTATCACHE_ADMIN_H */
