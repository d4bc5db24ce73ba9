/*
 * source.h - where the writer's filesystem events come from: inotify(7),
 * or fanotify(7) reporting directory file handles and names
 * (FAN_REPORT_DFID_NAME, Linux 5.9; unprivileged from 5.13).
 *
 * Both give the watches code the same thing: a watch descriptor per
 * watched directory inode (the same directory gives the same descriptor,
 * however it is named), and events as (descriptor, mask, name).  Masks are
 * inotify's IN_* bits; fanotify's FAN_* bits for the events used here have
 * the same values (both are the kernel's FS_* bits).  A directory's own
 * events (deleted, moved) come with an empty name.
 *
 * What fanotify adds: its queue merges repeated events on the same file
 * (from the same process) while they wait to be read, so a file appended
 * to 10,000 times between two reads is one event, and the queue overflows
 * far later than inotify's.  What it costs: each new watch needs the directory's file handle
 * (name_to_handle_at), and a filesystem without file handles cannot be
 * watched (the path is then answered by stat(), reason watch_error).
 */
#ifndef FW_SOURCE_H
#define FW_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fw_source_kind {
	FW_SOURCE_AUTO = 0, /* fanotify where the kernel allows, else inotify */
	FW_SOURCE_INOTIFY,
	FW_SOURCE_FANOTIFY,
};

struct fw_source;

/* "auto", "inotify", "fanotify" -> kind; -1 if none. */
int fw_source_parse(const char *s);
const char *fw_source_kind_name(enum fw_source_kind k);

/*
 * Open a source (non-blocking, close-on-exec).  FW_SOURCE_AUTO takes
 * fanotify when fanotify_init() accepts it and falls back to inotify,
 * saying why in `why` (empty when fanotify was taken).  0 or -errno.
 */
int fw_source_open(struct fw_source **out, enum fw_source_kind kind, char *why,
		   size_t why_size);
void fw_source_close(struct fw_source *s);
enum fw_source_kind fw_source_kind(const struct fw_source *s);
int fw_source_fd(const struct fw_source *s);
/* Directories watched now, and the system's limit on them (0: unknown). */
size_t fw_source_nwatches(const struct fw_source *s);
/* fanotify marks left on directories that moved away (fw_source_rm). */
uint64_t fw_source_orphans(const struct fw_source *s);
uint64_t fw_source_limit(const struct fw_source *s);

/*
 * Watch directory `dir` (symlinks followed; ENOTDIR if not a directory).
 * Returns its descriptor, >= 0, the same for the same directory inode as
 * long as it stays watched; or -1 with errno (ENOSPC at the limit).
 * The same as fw_source_watch(s, dir, FW_WATCH_FULL, false).
 */
int fw_source_add(struct fw_source *s, const char *dir);

/*
 * What a watch on a directory reports, each level all of the one before:
 *   SELF   the directory itself deleted, moved or its attributes
 *          changed (IN_DELETE_SELF, IN_MOVE_SELF, IN_ATTRIB: its search
 *          permission): what an ancestor of a watched path is watched
 *          for, so that a busy one (/tmp) sends few events (inotify adds
 *          its entries' attribute changes, fanotify does not);
 *   NAMES  and its entries created, deleted, renamed or their attributes
 *          changed (no writes): the parent of a watched directory, which
 *          sees that directory removed or replaced by name even while
 *          some process holds it (its IN_DELETE_SELF waits for that), and
 *          its chmod even when it cannot be watched itself;
 *   FULL   and every change of its entries: a directory whose entries
 *          are watched (fw_source_add).
 * The kernel keeps one watch per directory inode (per fanotify mark), so
 * one descriptor serves every level: a watch is raised to the level asked
 * for (never lowered by fw_source_watch), and lowered only by
 * fw_source_lower().
 */
enum fw_watch_level {
	FW_WATCH_SELF,
	FW_WATCH_NAMES,
	FW_WATCH_FULL,
	FW_WATCH_LEVELS
};

/*
 * Watch `dir` at least at `level` (raising its watch if it has a lower
 * one); with `nofollow`, a symlink as the last component is refused
 * (ENOTDIR or ELOOP) rather than followed.  Returns as fw_source_add().
 */
int fw_source_watch(struct fw_source *s, const char *dir,
		    enum fw_watch_level level, bool nofollow);

/*
 * Lower the watch `wd` to `level`, through `dir` as watched: only if `dir`
 * still names the inode watched (checked through a descriptor, so no
 * other watch can be touched).  0 if lowered (or already that low), -1
 * if not (the watch then reports more than asked: extra events, nothing
 * lost).  An inotify source finds out by watching what `dir` names now:
 * if that made a watch, *made is its descriptor (the caller removes it
 * unless it is one of its own), else -1.
 */
int fw_source_lower(struct fw_source *s, int wd, const char *dir,
		    enum fw_watch_level level, int *made);

/*
 * Filesystems (statfs f_type) whose changes events do not all report:
 * network and cluster filesystems, FUSE, overlayfs (its lower layers),
 * and the synthetic ones (proc, sysfs, cgroup, debugfs, tracefs), where
 * what a name leads to can change with no event at all.
 */
bool fw_fstype_incomplete(long type);

/*
 * Watch the regular file `path` names (symlinks followed) by a mark on its
 * own inode, which sees writes, attribute and link-count changes made
 * through any of its names: the same returns as fw_source_add, and
 * EOPNOTSUPP where there are no such marks (inotify; fanotify without
 * FAN_REPORT_FID, before Linux 5.9) or `path` is no regular file.  Its
 * events come with the returned descriptor and an empty name.
 */
int fw_source_add_file(struct fw_source *s, const char *path);
bool fw_source_file_marks(const struct fw_source *s);

/*
 * With `on`, stop hearing writes and attribute changes of the file marked
 * as `wd` (an ignore mask on its mark, which also silences them through
 * its directory's mark) while its paths are known changed anyway; `path`
 * must still name that file (-ESTALE if not).  The file is held open
 * until `on` is false again, so the mask comes off the same inode.  0 or
 * -errno (-EINVAL: not a file's mark).
 */
int fw_source_quiet(struct fw_source *s, int wd, const char *path, bool on);

/*
 * Has the quiet file of mark `wd` changed (written, truncated, its
 * attributes or link count changed) since it was silenced, or since the
 * last call?  One fstat() of the descriptor held open on it, no path
 * walked: how a silenced file is found still written without hearing it
 * again.  1 if changed, 0 if not, -errno (-EINVAL: not quiet).  A change
 * within the filesystem's timestamp granularity that leaves the size
 * alone may go unseen: 0 then only means the caller re-stats it sooner.
 */
int fw_source_quiet_changed(struct fw_source *s, int wd);

/*
 * The mount table changed (mounts.h): a watch believed held may have gone
 * with an unmount that fanotify does not report, so the next
 * fw_source_add() of each directory sets it again.
 */
void fw_source_mounts_changed(struct fw_source *s);

/*
 * Forget descriptor `wd`.  With `rm`, the kernel's watch is removed too
 * (if `dir`, the directory as watched, still names that inode: fanotify
 * removes marks by object, not by descriptor).  Without, the kernel has
 * dropped it already (the directory is gone).
 */
void fw_source_rm(struct fw_source *s, int wd, const char *dir, bool rm);

/* fw_event.wd of a directory's own attribute change where the directory
 * is no longer mapped (fanotify: a directory whose mark could not be
 * taken off, having become unreadable; the event names it by its own
 * handle, not by its parent's). */
#define FW_EVENT_WD_UNMAPPED (-2)

struct fw_event {
	int wd;           /* -1 for a queue overflow; FW_EVENT_WD_UNMAPPED */
	uint32_t mask;    /* IN_* */
	const char *name; /* in the watched directory; "" for the directory */
	size_t len;
};

/*
 * Read what is queued and call fn for each event, until the queue is
 * empty.  Events of descriptors forgotten meanwhile are skipped.  Returns
 * 0 or -errno (never -EAGAIN).
 */
int fw_source_read(struct fw_source *s,
		   void (*fn)(void *ctx, const struct fw_event *ev), void *ctx);

#endif /* FW_SOURCE_H */
