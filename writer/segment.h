/*
 * segment.h - the writer's shared-memory objects: create, publish, retire.
 *
 * A writer owns "/fstatcache.NAME" (table, mapped read-only by readers),
 * "/fstatcache.NAME.use" (recency marks readers may write),
 * "/fstatcache.NAME.feed" (the change feed, read-only to readers),
 * "/fstatcache.NAME.req" (the request ring readers write) and
 * "/fstatcache.NAME.tags" (the tag array, read-only to readers).  All are
 * sized and allocated up front and never shrink, so a reader that checked
 * the size cannot take SIGBUS.  The writer's liveness is a robust-futex
 * word in the header that the kernel marks when the writer dies, or where
 * robust futexes are missing (qemu-user), a lock on the table object that
 * the kernel drops when it dies (FSC_SEG_F_PID_LIVENESS).
 */
#ifndef FW_SEGMENT_H
#define FW_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fstatcache/format.h"

struct fw_segment_params {
	const char *name;     /* instance name (validated by the caller) */
	uint32_t capacity;    /* slots, power of two */
	uint32_t max_entries; /* < capacity */
	uint32_t path_max;    /* multiple of 8 */
	uint32_t probe_limit;
	mode_t mode; /* of both objects: 0600, or 0640/0660 to share with a group */
	gid_t gid;               /* their group; (gid_t)-1: the writer's */
	const char *socket_path; /* stored in the header */
	uint32_t feed_size; /* the change feed's ring, bytes (power of two) */
};

struct fw_segment {
	char shm_name[96];
	char use_name[96];
	struct fsc_header *hdr;
	size_t size;
	uint8_t *use; /* capacity bytes after the use header */
	void *use_base;
	size_t use_size;
	char feed_name[96];
	void *feed_base; /* the change feed object (feed.h) */
	size_t feed_size;
	char req_name[96];
	struct fsc_req_header *req; /* the request ring (ring.h) */
	size_t req_size;
	uint32_t req_slots, req_slot_size; /* as made: the header's copy is
					    * readers' memory */
	/* Ring requests are judged as from other users: the ring was
	 * writable by more than our user at some point of its life (a
	 * mapping outlives a chmod, so this never goes back to 0).  Our
	 * copy: the header's flags word is readers' memory. */
	int req_checked;
	char tags_name[96];
	void *tags_base; /* the tag array object (format.h, minor 5) */
	uint16_t *tags;  /* slot_count tags after its header */
	size_t tags_size;
	int robust;   /* 1 when our liveness word is registered */
	int stage_fd; /* the table, until its liveness is registered */
	int lock_fd;  /* FSC_SEG_F_PID_LIVENESS: the table object,
				  * write-locked while we live; else -1 */
};

/*
 * If a segment exists under the name: -EBUSY when its writer is alive;
 * otherwise call `path_cb` for every path it held (so a restarted writer
 * keeps its watch list), mark it retired and unlink it.  0 when there was
 * nothing, or the number of paths recovered.
 */
int fw_segment_take_over(const char *name,
			 void (*path_cb)(void *ctx, const char *path),
			 void *ctx);

/*
 * Fill a zeroed header for `p` (status INIT, random seed and epoch, this
 * process as writer).  Tests that fabricate segments use it too.
 */
void fw_segment_format(struct fsc_header *h, const struct fw_segment_params *p,
		       size_t size);

/* Create and map the three objects (status INIT); 0 or -errno. */
int fw_segment_create(struct fw_segment *seg,
		      const struct fw_segment_params *p);

/*
 * Give every object `mode` (0600 or 0640; those readers write, the recency
 * marks and the request ring, get 0660 with 0640) and, unless (gid_t)-1,
 * group `gid`, without a moment in which
 * anyone outside the final group can open them.  Readers that already
 * opened them keep their mappings.  0 or -errno.
 */
int fw_segment_set_access(struct fw_segment *seg, mode_t mode, gid_t gid);

/*
 * Growing: a segment is built beside the one served, under the names
 * followed by FW_STAGED_SUFFIX (no instance name has a '.', so these
 * collide with nothing), then takes their place.
 */
#define FW_STAGED_SUFFIX ".new"

/* Create the three objects under the staged names (status INIT, no
 * liveness yet); 0 or -errno. */
int fw_segment_stage(struct fw_segment *seg, const struct fw_segment_params *p);

/*
 * Put `staged` in the place of `old` (rename(2) in /dev/shm: readers
 * opening a name get the old object or the new one, never none; staged's
 * names are then the real ones), retire `old` and register liveness on
 * `staged`.  The caller then wakes old's feed followers, releases `old`
 * and sets staged's status to SERVING.  0 or -errno (nothing moved if the
 * first rename failed).
 */
int fw_segment_replace(struct fw_segment *old, struct fw_segment *staged);

/* Unmap a replaced segment (its names are the new one's now). */
void fw_segment_release(struct fw_segment *old);

/*
 * True once (then false until it happens again) if a readers' object
 * (.use) was truncated under the writer: its mapping is private memory
 * since, and the segment must be replaced for readers to share one again
 * (fw_renew_table, grow.c).
 */
bool fw_segment_use_lost(void);

/* Unlink and unmap a staged segment that will not be used. */
void fw_segment_discard(struct fw_segment *seg);

/* Set header.status (release order: everything before is visible first). */
void fw_segment_set_status(struct fw_segment *seg, uint32_t status);

/* Clean stop: mark retired, clear liveness, unlink, unmap. */
void fw_segment_destroy(struct fw_segment *seg);

/* Bump a counter / set a gauge (writer only; relaxed). */
void fw_segment_count(struct fw_segment *seg, unsigned ctr, uint64_t n);
void fw_segment_gauge(struct fw_segment *seg, unsigned ctr, uint64_t v);

#endif /* FW_SEGMENT_H */
