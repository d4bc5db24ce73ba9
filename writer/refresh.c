/*
 * refresh.c - watch, stat, publish: the centre of the writer.
 *
 * Events are hints, stat is the truth.  What an event costs is kept apart
 * from what a re-stat costs, so that the writer's work follows the number
 * of files that changed, not the number of writes:
 *   - reading an event marks the paths it concerns dirty (watches.c
 *     dedupes) and, the moment a path becomes dirty, marks its entry
 *     changed (fw_table_mark_changed: no system call).  From then on
 *     readers answer it by stat(), so no reader is served the old answer
 *     of a file the writer knows changed, however busy the writer is.
 *   - a dirty path is re-stat'ed once it has heard of no change for the
 *     settle time (fw_refresh_settled), at most FW_RESTAT_BATCH per turn
 *     of the loop so events keep being read.  A file appended to all the
 *     time stays marked: its readers stat() it, the writer does not.
 *   - a sync re-stats every dirty path at once (fw_refresh_all).
 * Watches are added before the stat that follows them, so no change can
 * slip between the two.  Paths on filesystems without full inotify events,
 * or that could not be watched, are published as answer-by-stat() entries
 * (NOCACHE) and counted.
 */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "fstatcache/contract.h"
#include "log.h"
#include "notify.h"
#include "reach.h"
#include "segment.h"
#include "sys.h"
#include "table.h"
#include "watches.h"
#include "writer.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Remembered per device, so the common case costs no statfs(). */
static int path_on_incomplete_fs(struct writer *w, const char *path,
				 uint64_t dev)
{
	for (unsigned i = 0; i < w->nfstypes; i++)
		if (w->fstypes[i].dev == dev)
			return w->fstypes[i].incomplete;
	struct statfs sf;
	if (statfs(path, &sf) < 0)
		return 0; /* gone meanwhile: the next event re-checks */
	int inc = fw_fstype_incomplete((long)sf.f_type);
	struct fstype_memo *slot = &w->fstypes[w->nfstypes % FSTYPE_CACHE];
	*slot = (struct fstype_memo){ dev, inc };
	if (w->nfstypes < FSTYPE_CACHE)
		w->nfstypes++;
	return inc;
}

static void record_from_stat(struct fw_record *rec, const struct stat *st)
{
	rec->flags = FSC_ENT_EXISTS;
#define FROM_STAT(type, name, member) rec->name = (type)st->member;
	FSC_STAT_FIELDS(FROM_STAT)
#undef FROM_STAT
	rec->atime_sec = st->st_atim.tv_sec;
	rec->atime_nsec = (uint32_t)st->st_atim.tv_nsec;
	/* A time outside 1677-2262, say: readers stat() it (format.h). */
	if (!fw_record_fits(rec))
		*rec = (struct fw_record){ .flags = FSC_ENT_EXISTS |
						    FSC_ENT_NOCACHE,
					   .reason = FSC_REASON_RANGE,
					   .mode = rec->mode };
}

/* What the kernel's watch limit counts: directories and files. */
static size_t fw_marks_held(struct writer *w)
{
	return fw_watches_nwatches(w->watches) + fw_watches_nfiles(w->watches);
}

static void note_watch_failure(struct writer *w, const char *path, int err)
{
	fw_segment_count(&w->seg, FSC_CTR_WATCH_FAILURES, 1);
	w->watch_retry_pending = 1;
	w->nwatches_at_failure = fw_marks_held(w);
	/* Loud at first, then every 1000th: the counter tells the rest. */
	uint64_t n = ++w->watch_failures_logged;
	if (n <= 10 || n % 1000 == 0)
		fw_warn("cannot watch for %s: %s%s (answered by stat(); "
			"%llu such failures so far)",
			path, strerror(-err),
			err == -ENOSPC ? " (inotify watch limit reached: "
					 "raise fs.inotify.max_user_watches)"
				       : "",
			(unsigned long long)n);
}

void fw_on_evict(void *ctx, const char *path, uint32_t len)
{
	struct writer *w = ctx;
	fw_note_eviction(w, path, len);
	fw_watches_remove(w->watches, path);
}

/*
 * A path only other users asked for: publish what they could learn by
 * stat() themselves, or nothing (reach.c).  The answer is the walk's own,
 * made through the directories it checked, so that no symlink re-pointed
 * between the check and the writer's stat() slips a private file in.
 */
static void others_rule(struct writer *w, const char *path,
			struct fw_record *rec)
{
	struct stat st;
	char why[PATH_MAX + 128];
	int r = fw_reach_others(path, &w->cfg->allow, &st, why, sizeof(why));
	uint32_t keep = rec->flags & FSC_ENT_NOCACHE, reason = rec->reason;
	/* Kept: why the writer's own answer could not be cached, but for a
	 * value out of range, which the walk's own stat() decides anew. */
	if (reason == FSC_REASON_RANGE)
		keep = 0;

	*rec = (struct fw_record){ 0 };
	if (r < 0) {
		rec->flags = FSC_ENT_NOCACHE;
		rec->reason = FSC_REASON_PRIVATE;
		fw_debug("%s: answered by stat(), for other users: %s", path,
			 why);
		return;
	}
	if (r == 0)
		record_from_stat(rec, &st);
	rec->flags |= keep;
	rec->reason = keep ? reason : rec->reason; /* RANGE, or 0 */
}

/* Watch first, then stat, then publish: the heart of freshness. */
void fw_refresh_path(struct writer *w, const char *path, int add)
{
	int werr = add ? fw_watches_add(w->watches, path)
		       : fw_watches_refresh(w->watches, path);
	struct fw_record rec = { 0 };
	struct stat st;

	if (add)
		fw_watches_asked(w->watches, path, (enum fw_asker)add);

	fw_segment_count(&w->seg, FSC_CTR_STATS, 1);
	if (fw_sys_stat(path, &st) == 0) {
		record_from_stat(&rec, &st);
		if (path_on_incomplete_fs(w, path, st.st_dev)) {
			rec.flags |= FSC_ENT_NOCACHE;
			rec.reason = FSC_REASON_FSTYPE;
		}
	} else if (errno != ENOENT && errno != ENOTDIR) {
		rec.flags = FSC_ENT_NOCACHE;
		rec.reason = FSC_REASON_STAT_ERROR;
	}
	/* Through /proc/self, say: what the writer sees is not what the
	 * reader would. */
	if (!(rec.flags & FSC_ENT_NOCACHE) &&
	    fw_watches_incomplete(w->watches, path)) {
		rec.flags |= FSC_ENT_NOCACHE;
		rec.reason = FSC_REASON_FSTYPE;
	}
	if (werr < 0 && werr != -ENOENT) {
		note_watch_failure(w, path, werr);
		rec.flags |= FSC_ENT_NOCACHE;
		rec.reason = werr == -ENOSPC ? FSC_REASON_WATCH_LIMIT
					     : FSC_REASON_WATCH_ERROR;
	}
	if (fw_watches_others_only(w->watches, path))
		others_rule(w, path, &rec);
	if (rec.flags & FSC_ENT_NOCACHE)
		fw_segment_count(&w->seg, FSC_CTR_UNCACHEABLE, 1);
	rec.validated_ns = realtime_ns();
	fw_make_room(w, path, (uint32_t)strlen(path));
	int64_t r = fw_table_put(&w->table, path, (uint32_t)strlen(path), &rec,
				 fw_on_evict, w);
	if (r < 0) {
		fw_warn("cannot cache %s: %s", path, strerror((int)-r));
		fw_watches_remove(w->watches, path);
	}
}

void fw_update_gauges(struct writer *w)
{
	fw_segment_gauge(&w->seg, FSC_CTR_WATCHES, fw_marks_held(w));
	fw_segment_gauge(&w->seg, FSC_CTR_FILE_MARKS,
			 fw_watches_nfiles(w->watches));
	fw_segment_gauge(&w->seg, FSC_CTR_PATHS, fw_watches_npaths(w->watches));
}

/* Every dirty path, now (sync, retries). */
void fw_refresh_all(struct writer *w)
{
	const char *path;

	while ((path = fw_watches_next_dirty(w->watches)))
		fw_refresh_path(w, path, 0);
}

uint64_t fw_refresh_settled(struct writer *w, uint64_t now_ns)
{
	const char *path;
	uint64_t due = 0;

	for (unsigned n = 0; n < FW_RESTAT_BATCH; n++) {
		path = fw_watches_next_settled(w->watches, now_ns, &due);
		if (!path)
			return due;
		fw_refresh_path(w, path, 0);
	}
	return fw_watches_ndirty(w->watches) ? now_ns : 0;
}

/*
 * Paths answered by stat() for want of a watch get no event that would
 * bring them back; once watches have been released, try them again.
 */
void fw_retry_failed_watches(struct writer *w)
{
	if (!w->watch_retry_pending ||
	    fw_marks_held(w) >= w->nwatches_at_failure)
		return;
	w->watch_retry_pending = 0;
	for (uint32_t i = 0; i < w->table.capacity; i++) {
		const struct fsc_entry *e = fw_table_entry(&w->table, i);
		uint32_t why = e ? fw_table_entry_cold(&w->table, e)->reason
				 : 0;
		if (e && (e->flags & FSC_ENT_NOCACHE) &&
		    (why == FSC_REASON_WATCH_LIMIT ||
		     why == FSC_REASON_WATCH_ERROR))
			fw_watches_mark_dirty(w->watches,
					      fw_table_entry_path(e));
	}
	fw_refresh_all(w);
}

/* A path became dirty: its entry's answer is old from now on. */
static void mark_changed(void *ctx, const char *path, size_t len)
{
	struct writer *w = ctx;

	(void)fw_table_mark_changed(&w->table, path, (uint32_t)len);
}

void fw_refresh_init(struct writer *w)
{
	fw_watches_on_dirty(w->watches, mark_changed, w);
	/* Renaming or removing a directory above a watched path must reach
	 * it too (resolve.c, "Ancestors"): a few more watches, shared. */
	fw_watches_set_ancestors(w->watches, true);
}

static void mount_changed(void *ctx, const char *point)
{
	struct writer *w = ctx;
	size_t n = fw_watches_mount_changed(w->watches, point);

	fw_debug("mounts changed at %s: re-resolving %zu paths", point, n);
}

static void mounts_counted(struct writer *w, int n)
{
	if (n < 0) {
		fw_warn("reading the mount table: %s; re-resolving all %zu "
			"paths",
			strerror(-n), fw_watches_npaths(w->watches));
		fw_watches_mount_changed(w->watches, "/");
		n = 1;
	}
	if (n > 0) {
		fw_segment_count(&w->seg, FSC_CTR_MOUNT_CHANGES, (uint64_t)n);
		fw_update_gauges(w);
	}
}

void fw_recheck_mounts(struct writer *w)
{
	if (w->mounts)
		mounts_counted(w,
			       fw_mounts_recheck(w->mounts, mount_changed, w));
}

void fw_check_mounts(struct writer *w, bool ready)
{
	struct pollfd pfd;
	int n;

	if (!w->mounts)
		return;
	pfd = (struct pollfd){ .fd = fw_mounts_fd(w->mounts),
			       .events = POLLPRI };
	if (!ready &&
	    (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLPRI | POLLERR))))
		return;
	n = fw_mounts_changes(w->mounts, mount_changed, w);
	mounts_counted(w, n);
}

/*
 * Read everything inotify has queued; the paths it concerns are marked
 * changed at once and re-stat'ed later (fw_refresh_settled).  After an
 * overflow every path is marked: each is served again as soon as it has
 * been re-stat'ed, one by one, and the segment keeps serving the rest.
 */
void fw_drain_events(struct writer *w)
{
	struct fw_watches_batch b = { 0 };
	int r = fw_watches_read(w->watches, &b);
	if (r < 0)
		fw_err("reading inotify events: %s", strerror(-r));
	if (b.overflow) {
		fw_segment_count(&w->seg, FSC_CTR_OVERFLOWS, 1);
		fw_segment_count(&w->seg, FSC_CTR_REVALIDATIONS, 1);
		fw_warn("inotify queue overflowed: re-validating all %zu paths",
			fw_watches_npaths(w->watches));
	}
	if (b.quieted)
		fw_segment_count(&w->seg, FSC_CTR_QUIETED, b.quieted);
	/* A mount point moved with a renamed directory is seen only by
	 * reading the table again: its unmount would otherwise be looked
	 * for at its old path. */
	if (b.dir_moved)
		fw_recheck_mounts(w);
	if (b.events) {
		fw_segment_count(&w->seg, FSC_CTR_EVENTS, b.events);
		fw_segment_count(&w->seg, FSC_CTR_COALESCED, b.coalesced);
		fw_segment_count(&w->seg, FSC_CTR_BATCHES, 1);
	}
	fw_retry_failed_watches(w);
	if (b.events || b.overflow)
		fw_update_gauges(w);
}
