/*
 * watches.h - which directory watches (inotify or fanotify, source.h)
 * serve which cached paths.
 *
 * The writer caches absolute paths and watches directories, never files:
 * one watch on a directory reports writes, attribute changes, creations,
 * deletions and renames of every child by name.  A tracked path needs
 *   - its parent directory watched (or, while that does not exist, the
 *     nearest existing ancestor, so the creation of the missing part is
 *     seen and the path re-resolved);
 *   - for every symlink the path goes through, as its last component or as
 *     a directory component, the directory holding the link (for its name)
 *     and, in turn, what the target needs: answers follow symlinks, as
 *     stat(2), and re-pointing any link on the way re-resolves the path;
 *   - with fw_watches_set_ancestors(), the directories above each of those
 *     watched too, for less: the parent for the watched directory's name,
 *     the rest for their own deletion or move (resolve.c, "Ancestors").
 * Events are hints that mark tracked paths dirty; the loop then calls
 * fw_watches_refresh() (watch first) and stats each dirty path once.
 * Single-threaded; owned by the writer's event loop.
 */
#ifndef FW_WATCHES_H
#define FW_WATCHES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"

struct fw_watches;

/* New engine with its own event source of `kind` (source.h: AUTO says in
 * `why` why it did not take fanotify).  0 or -errno. */
int fw_watches_new(struct fw_watches **out, enum fw_source_kind kind, char *why,
		   size_t why_size);
void fw_watches_free(struct fw_watches *w);

/* The source's descriptor, for epoll; its kind; its limit on watches. */
int fw_watches_fd(const struct fw_watches *w);
enum fw_source_kind fw_watches_source(const struct fw_watches *w);
uint64_t fw_watches_limit(const struct fw_watches *w);
/* fanotify marks left on directories that moved away: the kernel keeps
 * them until the directory is deleted; their events are skipped. */
uint64_t fw_watches_orphans(const struct fw_watches *w);

/* The least quiet time before a dirty path is due (fw_watches_next_settled;
 * graph.c has the rule).  0 until set. */
void fw_watches_set_settle(struct fw_watches *w, uint64_t settle_ns);

/*
 * Track `path` (absolute, canonical: see fsc_path_ok()) and add the watches
 * it needs.  Idempotent.  Returns 0; or a negative errno from
 * inotify_add_watch (-ENOSPC at the watch limit, ...) when a needed watch
 * could not be added: the path is tracked all the same (so it is retried on
 * the next refresh) and the caller must answer it by stat(); or -ENOMEM.
 */
int fw_watches_add(struct fw_watches *w, const char *path);

/*
 * Bring the watches of a tracked path up to date before its stat(); same
 * returns as add.  Re-resolves it when something since its last successful
 * resolution may have changed what it resolves to (added, an event on a
 * name it resolves through, a watch of it gone, overflow, mark_dirty, the
 * last resolution failed: the rule is in watches.c); otherwise, as after
 * an append to a watched file, one inotify_add_watch() confirms the watch
 * and it returns 0.
 */
int fw_watches_refresh(struct fw_watches *w, const char *path);

/*
 * True if the last resolution of `path` went through a directory on a
 * filesystem whose changes events do not all report (fw_fstype_incomplete:
 * a symlink into /proc/self, say, leads somewhere else for every process):
 * its answers must come from stat().
 */
bool fw_watches_incomplete(struct fw_watches *w, const char *path);

/*
 * Who asked for a tracked path (requests.c): its owner's side (the writer's
 * own user, root, the command line and config) and/or another user.
 * fw_watches_asked() adds to what the path has (no effect on an untracked
 * one); fw_watches_others_only() is true for a tracked path only other
 * users asked for, whose answers must pass fw_reach_others() (reach.h).
 */
enum fw_asker {
	FW_ASKED_OWNER = 1,
	FW_ASKED_OTHER = 2
};
void fw_watches_asked(struct fw_watches *w, const char *path,
		      enum fw_asker who);
bool fw_watches_others_only(struct fw_watches *w, const char *path);

/* Stop tracking `path`; drop watches nothing needs any more. 0 or -ENOENT. */
int fw_watches_remove(struct fw_watches *w, const char *path);

/* Stop tracking everything. */
void fw_watches_clear(struct fw_watches *w);

struct fw_watches_batch {
	uint64_t events;    /* events read */
	uint64_t coalesced; /* events that hit an already-dirty path, or none */
	bool overflow;      /* IN_Q_OVERFLOW seen: every path is now dirty */
	uint64_t quieted;   /* files silenced until their re-stat */
	bool dir_moved;     /* a directory was renamed: mount points below
			     * it moved with it, unseen by the mount table's
			     * poll (the caller reads the table again) */
};

/*
 * Read every pending event (until EAGAIN) and mark the tracked paths they
 * concern dirty.  Returns 0 or -errno (not -EAGAIN).
 */
int fw_watches_read(struct fw_watches *w, struct fw_watches_batch *batch);

/* Mark a tracked path dirty (-ENOENT if not tracked), or every path; its
 * next refresh re-resolves it fully. */
int fw_watches_mark_dirty(struct fw_watches *w, const char *path);
void fw_watches_mark_all_dirty(struct fw_watches *w);
/*
 * A mount appeared or went at `point` (mounts.h): mark dirty, to be
 * re-resolved, every tracked path it may change, i.e. below it or at it,
 * and every path whose last resolution followed a symlink (which could
 * lead anywhere).  Returns how many.
 */
size_t fw_watches_mount_changed(struct fw_watches *w, const char *point);

/*
 * Called, at once and with no system call made, for each tracked path that
 * becomes dirty (an event, an overflow, mark_dirty), before any refresh:
 * the writer marks its entry changed there.  `path` is valid during the
 * call; the hook must not call back into the engine.
 */
typedef void (*fw_watches_dirty_fn)(void *ctx, const char *path, size_t len);
void fw_watches_on_dirty(struct fw_watches *w, fw_watches_dirty_fn fn,
			 void *ctx);

/*
 * Take one dirty path off the dirty list, NULL when it is empty.  The
 * string stays valid until the path is removed or the engine freed.
 * Refreshing a path (add, refresh) takes it off the list too.
 */
const char *fw_watches_next_dirty(struct fw_watches *w);

/*
 * The same, but only a path due at `now_ns` (CLOCK_MONOTONIC): quiet for
 * its delay, which grows for paths that keep changing (graph.c).  NULL
 * when none is; then *due_ns is when the next one will be, or 0 if none
 * is dirty.
 */
const char *fw_watches_next_settled(struct fw_watches *w, uint64_t now_ns,
				    uint64_t *due_ns);

/* Dirty paths now. */
size_t fw_watches_ndirty(const struct fw_watches *w);

size_t fw_watches_npaths(const struct fw_watches *w);
/* Whether watched files are marked on their own inodes too (fanotify on
 * Linux 5.9 and later, unless turned off), for writes through other hard
 * links; off, they are seen at the file's next event. */
bool fw_watches_file_marks(const struct fw_watches *w);
void fw_watches_set_file_marks(struct fw_watches *w, bool on);

/*
 * For tests: `fn` is called where a walk has found a directory missing
 * (lstat: ENOENT) and before it watches the directory above for it, the
 * moment a mkdir by someone else races it (resolve.c, dirs_walk).  NULL
 * to stop.
 */
void fw_watches_set_walk_hook(struct fw_watches *w,
			      void (*fn)(void *ctx, const char *missing),
			      void *ctx);

/*
 * Whether the directories above the watched ones are watched too, for
 * their own deletion or move (and each watched directory's parent for its
 * name): renaming /logs is then seen by a path /logs/app/x.log, and so is
 * removing /logs/app while a process holds it (resolve.c, "Ancestors").
 * Off in a new engine (its unit tests count the watches of the path's own
 * names); the writer turns it on (refresh.c).
 */
void fw_watches_set_ancestors(struct fw_watches *w, bool on);

/* Directories watched, every level (what the kernel's limit counts);
 * files marked on their own inodes (fanotify); and of the directories,
 * those watched only as ancestors (for their own deletion, move or
 * entries' names, not their entries' changes). */
size_t fw_watches_nwatches(const struct fw_watches *w);
size_t fw_watches_nfiles(const struct fw_watches *w);
size_t fw_watches_nancestors(const struct fw_watches *w);
/* Times a changed file's further content events were silenced until its
 * re-stat (events.c, file_quiet_maybe). */
uint64_t fw_watches_quieted(const struct fw_watches *w);
/* Buckets the path table was last grown to: at least twice the paths
 * once a public call has returned (liburcu alone grows it too lazily). */
unsigned long fw_watches_path_buckets(const struct fw_watches *w);
/* Full resolutions so far (by add and refresh), for tests and benchmarks. */
uint64_t fw_watches_resolutions(const struct fw_watches *w);

/* Call fn for every tracked path (order unspecified; do not add/remove). */
void fw_watches_foreach(struct fw_watches *w,
			void (*fn)(void *ctx, const char *path), void *ctx);

#endif /* FW_WATCHES_H */
