/*
 * writer.h - the writer's state, shared by the files of its event loop:
 * loop.c (epoll, signals, start and stop), refresh.c (watch, stat,
 * publish), requests.c (control requests) and reload.c (SIGHUP).  Private
 * to writer/; only the writer thread touches it.
 */
#ifndef FW_WRITER_H
#define FW_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "ring.h"
#include "control.h"
#include "loop.h"
#include "mounts.h"
#include "pacer.h"
#include "segment.h"
#include "admit.h"
#include "table.h"
#include "watches.h"

#define FSTYPE_CACHE 16

struct fstype_memo {
	uint64_t dev;
	int incomplete;
};

/* Keys of recently evicted entries remembered (a power of two). */
#define FW_GHOSTS 4096u

struct writer {
	const struct fw_writer_opts *o;
	struct fw_config *cfg;    /* the config in force (maybe empty) */
	struct fw_strv cli_paths; /* never unwatched by a reload */
	mode_t mode;              /* segment and socket, as applied */
	gid_t gid;
	struct fw_segment seg;
	struct fw_table table;
	struct fw_feed feed; /* the change feed (feed.h) */
	struct fw_watches *watches;
	struct fw_control *ctl;
	int epfd, sigfd;
	int stop;
	uid_t uid;
	uint64_t watch_failures_logged;
	int watch_retry_pending; /* some path is NOCACHE for want of a watch */
	size_t nwatches_at_failure; /* retry once fewer watches are held */
	struct fstype_memo fstypes[FSTYPE_CACHE];
	unsigned nfstypes;
	uint64_t settle_ns;    /* quiet time before a changed file's re-stat */
	struct fw_pacer pacer; /* the pause between busy drains (pacer.h) */
	struct fw_mounts *mounts; /* the mount table; NULL if unreadable */
	/* Capacity (grow.c): the table grows up to memory_limit; beyond,
	 * evicted keys are remembered (their hashes) to count refaults. */
	uint64_t memory_limit;
	uint64_t evicted_recently[FW_GHOSTS];
	uint64_t refaults_warned;    /* refaults when last warned */
	uint64_t refaults_warned_ns; /* when (CLOCK_MONOTONIC) */
	int at_limit_said;           /* logged reaching the limit */
	struct fw_admit admit;       /* who may take a place when full */
	bool renew_pending;  /* .use was truncated: replace the segment */
	struct fw_ring ring; /* the readers' request ring (ring.h) */
	struct fw_ring_reqs ring_reqs; /* collected, not handled yet */
	uint64_t ring_due;       /* look at a stuck slot again then (0: none) */
	uint64_t ring_served_ns; /* last handled ring requests (monotonic) */
};

/* grow.c: room for one more path.  Before inserting `path`: grow the
 * table if it is full and the memory limit allows; count a refault if it
 * was evicted recently. */
void fw_make_room(struct writer *w, const char *path, uint32_t len);
/* Once per turn of the loop: if a reader truncated the readers' object
 * (segment.c, "SIGBUS"), serve a new segment in its place. */
void fw_renew_table(struct writer *w);
/* An entry left the table to make room: remember its key. */
void fw_note_eviction(struct writer *w, const char *path, uint32_t len);
/* A reader missed `path`: may it be watched and cached (admit.h)?  False
 * when the table is full at its limit and it is less wanted than what
 * it would evict (counted). */
bool fw_admit_path(struct writer *w, const char *path, uint32_t len);
/* The table was bound (start, growth): hook the admission policy. */
void fw_admit_bind(struct writer *w);

/* Re-stats per turn of the loop, so events are read in between. */
#define FW_RESTAT_BATCH 256u

/* refresh.c: watch, stat and publish. */
void fw_on_evict(void *ctx, const char *path, uint32_t len);
/* `add`: 0 re-stat a tracked path; else track it too, asked for by
 * FW_ASKED_OWNER or FW_ASKED_OTHER (watches.h: another user's paths must
 * pass fw_reach_others(), reach.h, at every re-stat). */
void fw_refresh_path(struct writer *w, const char *path, int add);
void fw_update_gauges(struct writer *w);
void fw_retry_failed_watches(struct writer *w);
void fw_refresh_init(struct writer *w);
void fw_drain_events(struct writer *w);
/* Re-resolve what mounts that changed may have changed; `ready`: epoll
 * said the table changed, else look first (one poll()). */
void fw_check_mounts(struct writer *w, bool ready);
/* Once the table is polled: what changed since it was first read (while
 * the paths were loaded), if anything. */
void fw_recheck_mounts(struct writer *w);
/* Re-stat dirty paths quiet for settle_ns (at most FW_RESTAT_BATCH);
 * returns when to call again (CLOCK_MONOTONIC ns), 0 if nothing waits. */
uint64_t fw_refresh_settled(struct writer *w, uint64_t now_ns);
void fw_refresh_all(struct writer *w);

/* requests.c: the control socket's requests. */
void fw_serve_requests(struct writer *w);
/*
 * Handle the requests waiting in the readers' ring (and those collected
 * from a replaced one), as FSC_OP_MISS from our own user, or from another
 * user when the ring is shared (segment.h, req_checked).  Sets
 * w->ring_due while a slot is stuck.
 */
void fw_serve_ring(struct writer *w);

/* reload.c: SIGHUP. */
void fw_reload(struct writer *w);

#endif /* FW_WRITER_H */
