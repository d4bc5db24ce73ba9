/*
 * fstatcache/fstatcache.h - the reader API of fstatcache: stat(2) answers
 * from shared memory, lock-free, with no system call on a hit.
 *
 * Usage:
 *
 *     #include <fstatcache/fstatcache.h>
 *
 *     fsc_handle *h;
 *     if (fsc_open(&h, NULL, 0) < 0)        // NULL: $FSTATCACHE_NAME or
 *             die();                         // "fstatcache"
 *     struct fsc_stat st;
 *     int r = fsc_stat(h, "/var/log/syslog", &st); // like stat(2): cache,
 *     if (r == 0 && st.exists)                     // else stat() + watch
 *             printf("%lld bytes (%s)\n", (long long)st.size,
 *                    st.source == FSC_SOURCE_CACHE ? "cache" : "stat");
 *     fsc_close(h);
 *
 * This file declares the API and documents it; the implementation is
 * inline, in fstatcache/reader/ (included at the end), so a lookup costs
 * no call.  Operator calls (sync, watch, listing, the header) are in
 * fstatcache/admin.h.  The rules shared with the writer are in
 * fstatcache/format.h (layout), protocol.h (control datagrams), seqlock.h
 * (the version-counter protocol) and contract.h (names, keys, geometry,
 * owners).
 *
 * Build: `pkg-config --cflags --libs fstatcache` (liburcu, libxxhash, -lrt
 * and -D_DEFAULT_SOURCE); C11 or C++11.  The header needs POSIX.1-2008
 * from libc (_DEFAULT_SOURCE, _GNU_SOURCE or _POSIX_C_SOURCE >= 200809L
 * before the first system header), uses liburcu's atomics and barriers
 * and xxHash inline, and has no global mutable state.  Compile with
 * _FILE_OFFSET_BITS=64 and _TIME_BITS=64 on 32-bit systems (as for any
 * program that stats large files, or files dated after January 2038).
 *
 * Return values (every function): 0 on success, a negative errno on
 * failure, or one of these non-error statuses of fsc_lookup():
 *   FSC_MISS      the path is not in the cache; stat() it yourself (and
 *                 fsc_request_watch() it, which fsc_stat() does for you).
 *   FSC_UNCACHED  the cache cannot answer this path now (no live writer,
 *                 the file changed and the writer has not re-stat'ed it
 *                 yet, path not absolute/canonical or too long,
 *                 filesystem without full inotify events, watch limit
 *                 reached, table too busy): stat() it; asking the writer
 *                 to watch it would not help.  A file being written to
 *                 answers so until it has been quiet for the writer's
 *                 settle time (docs/FORMAT.md, "Changed"): its readers
 *                 stat() it, as they would without the cache, and
 *                 fsc_stat() does that for you.
 * Errors:
 *   -EINVAL       bad argument or instance name
 *   -ENAMETOOLONG a path of PATH_MAX bytes or more (from stat(2))
 *   -ENOMEM       out of memory
 *   -ENOENT       no segment under that name (with FSC_OPEN_ATTACHED)
 *   -EPERM        segment owned by an unexpected user or writable by others
 *   -EPROTO       segment fails validation (magic, bounds): corruption
 *   -EPROTONOSUPPORT segment of another format major: this reader is too
 *                 old or too new for the writer (not corruption; counted
 *                 in the segment, shown by `fstatcache inspect`)
 *   -EXDEV        the writer runs in another mount namespace than this
 *                 process (or this process cannot tell its own): not
 *                 served, everything answered by stat(), unless opened
 *                 with FSC_OPEN_ANY_MOUNT_NS ($FSTATCACHE_ANY_MOUNT_NS=1)
 *   -EAGAIN       writer still starting, or a watch request given up after
 *                 waiting FSC_REQUEST_WAIT_MS for room in the writer's queue
 *   -ENOTCONN     no live writer for a request
 *   -ETIMEDOUT, -ECONNRESET  a control request timed out, or the writer
 *                 died before answering (admin.h)
 *   and any errno of stat(2), shm_open(3), mmap(2), socket(2), sendto(2).
 * fsc_strerror() names each.
 *
 * Thread safety: a handle may be shared by any number of threads; lookups
 * never lock.  When the writer is replaced the handle maps the new segment
 * and keeps the old mapping until fsc_close(), so a thread still reading
 * the old one never touches unmapped memory (each writer restart during a
 * handle's life costs one retired mapping).  fsc_close() must not run
 * concurrently with any other call on the same handle.  A handle survives
 * fork() in the child (it shares nothing writable with the parent but the
 * recency marks and a datagram socket; and, for a writer without robust
 * futexes, a read-only descriptor of the segment).  Lookup counts are kept
 * per handle with relaxed (non-locking) increments, exact for a handle used
 * by one thread, approximate when threads share it.
 *
 * Liveness: a writer's death is seen with one load of header.writer_alive,
 * which the kernel marks (robust futex).  Where the writer could not
 * register one (FSC_SEG_F_PID_LIVENESS: qemu-user), a handle also queries
 * the writer's lock on the segment with one fcntl(2) at most every
 * FSC_LIVENESS_CHECK_MS, so a dead writer is noticed within that time and
 * lookups in between make no system call.
 *
 * Freshness: a hit returns what the writer last saw; after a sync
 * (fsc_control(h, FSC_OP_SYNC, ...) in admin.h) returns 0, every change
 * whose system call returned before the call, and every watch request
 * sent before it, is visible.  Without sync an answer can be a moment
 * behind what the caller itself already saw (e.g. bytes read through an
 * open descriptor): a smaller size or an older inode is then not proof of
 * truncation or rotation, so confirm those with fstat()/stat() before
 * acting (examples/logtail).
 *
 * How a lookup reads the table without locks: seqlock.h.  Every loop a
 * reader runs is bounded by numbers validated at attach time (slot count,
 * probe limit) and by FSC_RETRY_MAX, never by what it finds.
 */
#ifndef FSTATCACHE_FSTATCACHE_H
#define FSTATCACHE_FSTATCACHE_H

/* FSC_VERSION_MAJOR, _MINOR, _PATCH, _STRING */
#include "version.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "format.h"
#include "protocol.h"
#include "seqlock.h"
#include "contract.h"
#include "hugepages.h"

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#error "fstatcache.h needs POSIX.1-2008: define _DEFAULT_SOURCE (pkg-config --cflags fstatcache does) or _POSIX_C_SOURCE=200809L before any system header"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Non-error statuses of fsc_lookup() (see above). */
#define FSC_MISS 1
#define FSC_UNCACHED 2
/* Of fsc_changes(): look at every path you follow (a full pass). */
#define FSC_RESYNC 3

/* fsc_stat.source */
#define FSC_SOURCE_CACHE 1
#define FSC_SOURCE_STAT 2

#define FSC_RETRY_MAX 8 /* torn/contended reads before giving up */
/* Between attach attempts while detached. */
#define FSC_REATTACH_INTERVAL_MS 100
/* Longest wait for room in the writer's queue (socket requests only). */
#define FSC_REQUEST_WAIT_MS 1000

/* fsc_open() flags. */
#define FSC_OPEN_ATTACHED 0x1u    /* fail unless a live writer is attached */
#define FSC_OPEN_NO_REQUESTS 0x2u /* fsc_stat() never sends watch requests */
/* Be served by a writer in another mount namespace (or when this process
 * cannot tell its own: no /proc), knowing that its paths name the same
 * files here; also $FSTATCACHE_ANY_MOUNT_NS=1.  docs/FORMAT.md, "Readers
 * in another mount namespace". */
#define FSC_OPEN_ANY_MOUNT_NS 0x4u

/*
 * A stat(2) answer, from the cache or from stat() itself.  After the three
 * ints come the fields of FSC_STAT_FIELDS (format.h), named as in struct
 * stat without the st_ prefix, times split into seconds and nanoseconds:
 *   uint32_t mode, uid, gid;
 *   uint64_t dev, ino, nlink, rdev;
 *   int64_t  size, blocks, mtime_sec, ctime_sec;
 *   uint32_t mtime_nsec, ctime_nsec, blksize;
 * then `have`, and the access time.  blksize and atime are known only when
 * `have` says so: a segment of format minor 3 or older does not hold them
 * (docs/FORMAT.md), and the cache's atime is the one the writer saw at its
 * last stat() of the file, not refreshed by reads (docs/FORMAT.md).
 */
struct fsc_stat {
	int exists; /* 0: ENOENT or ENOTDIR (then only `err` and `source`
		     * are set, every number is 0) */
	int source; /* FSC_SOURCE_CACHE or FSC_SOURCE_STAT */
	int err;    /* errno of the failed stat() when !exists */
#define FSC__STAT_MEMBER(type, name, member) type name;
	FSC_STAT_FIELDS(FSC__STAT_MEMBER)
#undef FSC__STAT_MEMBER
	uint32_t have;     /* FSC_HAVE_*: which of the fields below are set */
	int64_t atime_sec; /* st_atim, with FSC_HAVE_ATIME */
	uint32_t atime_nsec;
};

/* fsc_stat.have: blksize is set (else 0), atime_sec/nsec are (else 0). */
#define FSC_HAVE_BLKSIZE 0x1u
#define FSC_HAVE_ATIME 0x2u

/* A reader handle (reader/attach.h); opaque to callers. */
typedef struct fsc_handle fsc_handle;

/*
 * Open a reader handle for instance `name` (NULL: $FSTATCACHE_NAME, else
 * "fstatcache").  Without FSC_OPEN_ATTACHED, a missing or dead writer is
 * not an error: lookups answer FSC_UNCACHED and the handle attaches when a
 * writer appears.  The segment must belong to the caller's effective uid,
 * to root, to the system user "fstatcache" (FSC_SERVICE_USER: the
 * packaged service's), or to the uid in $FSTATCACHE_OWNER_UID.
 * Errors: -EINVAL (bad name), -ENOMEM, socket(2) errors; with
 * FSC_OPEN_ATTACHED also those of attaching (-ENOENT, -EPERM, -EPROTO,
 * -EPROTONOSUPPORT, -EXDEV, -EAGAIN, ...).  $FSTATCACHE_ANY_MOUNT_NS=1
 * adds FSC_OPEN_ANY_MOUNT_NS.
 */
static inline int fsc_open(fsc_handle **out, const char *name, unsigned flags);

/* Close a handle; unmaps every mapping it made.  NULL is ignored. */
static inline void fsc_close(fsc_handle *h);

/* 1 when the handle is attached to a live, serving writer; else 0. */
static inline int fsc_attached(fsc_handle *h);

/*
 * Why the handle is not attached: 0 while attached (or before the first
 * attempt), else the error of its last attempt to attach (-ENOENT: no
 * writer, -EPROTONOSUPPORT: the writer's format major is not this
 * header's, -EPERM, -EPROTO, ...).  For messages and health checks.
 */
static inline int fsc_attach_error(fsc_handle *h);

/*
 * Look `path` up in the cache only.  0: hit, *out filled (source
 * FSC_SOURCE_CACHE; exists 0 is a cached "does not exist").  FSC_MISS or
 * FSC_UNCACHED: not answered (see the top of this file).  -EINVAL: NULL
 * argument.  No lock, no system call on a hit.
 */
static inline int fsc_lookup(fsc_handle *h, const char *path,
			     struct fsc_stat *out);

/*
 * Look up n paths: results[i] and out[i] get what fsc_lookup(h, paths[i],
 * &out[i]) would give.  Faster than n calls when the table is larger than
 * the CPU caches (many watched files): the slots of the next few paths are
 * fetched from memory while the current one is compared.  Same guarantees
 * as fsc_lookup(); -EINVAL in every result for a NULL argument.
 */
static inline void fsc_lookup_many(fsc_handle *h, const char *const *paths,
				   size_t n, struct fsc_stat *out,
				   int *results);

/*
 * stat(2) through the cache: a hit answers from memory; otherwise stat()
 * answers (source FSC_SOURCE_STAT) and, on FSC_MISS, the writer is asked
 * to watch the path (unless the handle was opened FSC_OPEN_NO_REQUESTS).
 * Returns 0 with *out filled (exists 0 for ENOENT or ENOTDIR, err set),
 * or the negative errno of stat(2) otherwise, or -EINVAL.  The answer
 * always equals stat(2) at some moment of the call, or the writer's last
 * view of it.
 */
static inline int fsc_stat(fsc_handle *h, const char *path,
			   struct fsc_stat *out);

/*
 * Ask the writer to watch and cache `path` (fire and forget: returns once
 * the request is queued, so a later sync covers it).  With a writer of
 * format 1.4 or later the request goes into the shared request ring, with
 * no system call (but for one doorbell datagram when the writer sleeps).
 * Otherwise, when the ring is full, and for the writer's own user or root
 * when the ring is shared with a group (the writer would judge ring
 * requests as another user's), it is a datagram on the writer's socket:
 * when its queue is full the call waits for room, at most
 * FSC_REQUEST_WAIT_MS, then gives the request up and counts it
 * (fsc_requests_dropped()).  fsc_stat()'s own request after a miss never
 * waits: a full ring drops it at once and counts it.
 * 0, -EINVAL (path not absolute/canonical or too long), -ENOTCONN (no
 * writer), -EAGAIN (given up: full ring or queue), or an errno of
 * sendto(2).
 */
static inline int fsc_request_watch(fsc_handle *h, const char *path);

/* Watch requests this handle gave up on since it was opened. */
static inline uint64_t fsc_requests_dropped(fsc_handle *h);

/*
 * ---- The change feed: what changed since a cursor ----
 *
 * The writer records every answer it publishes in the feed, so a program
 * that follows many files can ask for what changed since its last poll
 * instead of looking every file up; no lock, no system call.
 *
 *     struct fsc_cursor cur = FSC_CURSOR_INIT;
 *     for (;;) {
 *             int r = fsc_changes(h, &cur, on_change, ctx);
 *             if (r == FSC_RESYNC)
 *                     look_at_every_file(); // fsc_stat() each
 *             fsc_changes_wait(h, &cur, 1000); // or sleep your interval
 *     }
 *
 * A cursor is the writer's segment epoch and a position in its feed.  It
 * is plain data: keep it anywhere, across restarts of the caller (text
 * form: fsc_cursor_format()/fsc_cursor_parse()).
 */
struct fsc_cursor {
	uint64_t epoch; /* the segment it belongs to; 0: none yet */
	uint64_t pos;   /* feed position after the last change seen */
};
#define FSC_CURSOR_INIT \
	{ \
		0, 0 \
	}
/* "EPOCH-POS" in hex: 16 + 1 + 16 digits and the NUL. */
#define FSC_CURSOR_TEXT_SIZE 34

/*
 * One change, as given to the callback of fsc_changes().  `kind` is one of
 * FSC_CHANGE_ADDED, _CHANGED, _CREATED, _DELETED, _MARKED, _EVICTED,
 * _REMOVED (format.h).  `status` 0: `st` is the new answer (exists 0: the
 * file does not exist), as fsc_lookup() would have given it then.
 * FSC_UNCACHED: the cache has no answer for it (MARKED: changed and not
 * re-stat'ed yet; EVICTED, REMOVED: no longer cached; or answered by
 * stat() for a reason format.h gives); fsc_stat() it.  `path` is valid
 * only during the call.
 */
struct fsc_change {
	unsigned kind;
	int status;
	const char *path; /* canonical absolute path, NUL-terminated */
	size_t path_len;
	struct fsc_stat st;
};

/* Called once per change; non-zero stops the walk (see fsc_changes()). */
typedef int (*fsc_change_fn)(void *arg, const struct fsc_change *c);

/*
 * Call `fn` for every change since `*cur`, in the order the writer made
 * them, and move `*cur` past each one delivered.  One path may come more
 * than once (each answer it had).  Returns:
 *   0           every change up to now delivered (or `fn` returned
 *               non-zero: `*cur` is just past that change; call again
 *               for the rest);
 *   FSC_RESYNC  changes cannot be listed from `*cur`: it is new
 *               (FSC_CURSOR_INIT), of another segment (the writer was
 *               restarted or replaced), so far behind that the feed's
 *               ring has overwritten what followed it, or the writer
 *               invalidated everything, or no live writer records
 *               changes now.  `*cur` is set to now: look every path you
 *               follow up once (fsc_stat()), then carry on from `*cur`.
 *               Never a silently skipped change.
 *   -EINVAL (NULL argument), -EOPNOTSUPP (the writer keeps no feed: an
 *   older writer), -ENOSYS (no lock-free 64-bit atomics on this CPU),
 *   -EPROTO (a record that fails validation: corruption; `*cur` stays
 *   before it, so calling again fails again: look at every path and
 *   start over from FSC_CURSOR_INIT), or an errno of mapping the feed
 *   (shm_open(3), mmap(2)).  On any error, poll by lookups meanwhile.
 * A record of a kind this header does not know (a newer writer) is a
 * resync, never an error.
 * Costs one load when nothing changed, and a copy of each record
 * otherwise; no system call, but the first call on each segment opens
 * and maps the feed (shm_open(3), mmap(2)).  Thread safety as for lookups; a cursor belongs to one
 * caller at a time.
 */
static inline int fsc_changes(fsc_handle *h, struct fsc_cursor *cur,
			      fsc_change_fn fn, void *arg);

/*
 * Sleep until the feed may have moved past `*cur`, at most `timeout_ms`
 * ms: a futex(2) wait on the feed's wake word, woken by the writer once
 * per turn of its loop in which it published something, and only when a
 * reader said it sleeps (the .use header's feed_waiters).  Returns 0 at
 * once when there are changes already, 0 after the wait (with no live
 * writer, or a writer without a feed, after sleeping `timeout_ms`; a
 * reader that cannot write the .use object is never woken early and
 * sleeps `timeout_ms` too), or -EINVAL, -ENOSYS.  A writer that stops
 * wakes its followers.  Wake-ups may be spurious: call fsc_changes()
 * after it.
 */
static inline int fsc_changes_wait(fsc_handle *h, const struct fsc_cursor *cur,
				   int timeout_ms);

/* A change kind's name, as `fstatcache changes` and Python print it:
 * "added", "changed", "created", "deleted", "marked", "evicted" or
 * "removed"; NULL for any other value (none is given to a callback). */
static inline const char *fsc_change_name(unsigned kind);

/* A cursor as text ("EPOCH-POS", hex) in buf of FSC_CURSOR_TEXT_SIZE. */
static inline int fsc_cursor_format(const struct fsc_cursor *cur, char *buf,
				    size_t size);

/* Read a cursor written by fsc_cursor_format(): 0 or -EINVAL. */
static inline int fsc_cursor_parse(const char *text, struct fsc_cursor *cur);

/* Fill a struct stat from an answer (the fields stat(2) has and we keep). */
static inline void fsc_stat_to_stat(const struct fsc_stat *s, struct stat *st);

/* Fill an answer from a struct stat (exists 1, err 0, FSC_SOURCE_STAT). */
static inline void fsc_stat_from_stat(const struct stat *st,
				      struct fsc_stat *s);

/* A message for any return value of this API.  Never NULL. */
static inline const char *fsc_strerror(int err);

/*
 * Also here, from contract.h: fsc_path_ok(path, len) - 1 when `path` is a
 * cacheable key (absolute, canonical); fsc_name_ok(name) - 1 when `name`
 * is a valid instance name.
 */

#ifdef __cplusplus
}
#endif

#include "reader/attach.h"
#include "reader/count.h"
#include "reader/lookup.h"
#include "reader/request.h"
#include "reader/changes.h"
#include "reader/errors.h"

#endif /* FSTATCACHE_FSTATCACHE_H */
