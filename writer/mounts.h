/*
 * mounts.h - which mount points appeared, went or moved: the mount table
 * of the writer's mount namespace, watched through /proc/self/mountinfo.
 *
 * Neither event source reports a mount over a watched directory, and
 * fanotify does not report an unmount either (its marks on the unmounted
 * inodes just go), so the writer learns both here: the file polls
 * readable with EPOLLPRI when the table changes (proc(5)), and each change
 * is read whole and compared with the last, by mount ID and mount point.
 */
#ifndef FW_MOUNTS_H
#define FW_MOUNTS_H

#include <stddef.h>

struct fw_mounts;

/* Open the table and read it once.  0 or -errno. */
int fw_mounts_open(struct fw_mounts **out, const char *path);
void fw_mounts_close(struct fw_mounts *m);

/* The descriptor to poll (EPOLLPRI). */
int fw_mounts_fd(const struct fw_mounts *m);

/*
 * The table changed (the descriptor polled ready): read it again and call
 * fn for the mount point of every mount that came, went, moved or was
 * remounted since the last read, or for "/" if no line differs (mount IDs
 * are reused: an unmount and a mount just like it look like nothing).
 * Returns how many calls, or -errno (then nothing is known about what
 * changed: the caller must assume anything).
 */
int fw_mounts_changes(struct fw_mounts *m,
		      void (*fn)(void *ctx, const char *point), void *ctx);

/* The same when not told of a change (a check once the descriptor is
 * polled, for what came since it was opened): no line changed, no call. */
int fw_mounts_recheck(struct fw_mounts *m,
		      void (*fn)(void *ctx, const char *point), void *ctx);

#endif /* FW_MOUNTS_H */
