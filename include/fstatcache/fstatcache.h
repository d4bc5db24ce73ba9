/*
 * fstatcache.h - header-only, lock-free reader API of fstatcache.
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
 * Functions: fsc_open, fsc_close, fsc_lookup (cache only), fsc_lookup_many
 * (a poll list at once, prefetching), fsc_stat (cache, else stat() and a
 * watch request), fsc_request_watch, fsc_stat_to_stat, fsc_attached,
 * fsc_requests_dropped, fsc_strerror, fsc_path_ok, fsc_name_ok; for
 * administration: fsc_control (sync, watch, unwatch, invalidate),
 * fsc_slot_read, fsc_capacity, fsc_header_read.
 *
 * Build: cflags/libs of liburcu and libxxhash (pkg-config), C11 or C++11.
 * The header uses liburcu's atomics and barriers and xxHash inline; it has
 * no global mutable state and needs nothing from the includer beyond that.
 * Compile the includer with _FILE_OFFSET_BITS=64 and _TIME_BITS=64 on
 * 32-bit systems (as for any program that stats large files, or files
 * dated after January 2038).
 *
 * Return values (every function): 0 on success, a negative errno on
 * failure, or one of these non-error statuses of fsc_lookup():
 *   FSC_MISS      the path is not in the cache; stat() it yourself (and
 *                 fsc_request_watch() it, which fsc_stat() does for you).
 *   FSC_UNCACHED  the cache cannot answer this path now (no live writer,
 *                 segment being re-validated, path not absolute/canonical
 *                 or too long, filesystem without full inotify events,
 *                 watch limit reached, table too busy): stat() it; asking
 *                 the writer to watch it would not help.
 * Errors: -EINVAL (bad argument or instance name), -ENAMETOOLONG,
 * -ENOMEM, -ENOENT (no segment under that name, with FSC_OPEN_ATTACHED),
 * -EPERM (segment owned by an unexpected user or writable by others),
 * -EPROTO (segment fails validation: magic, version, bounds), -EAGAIN
 * (writer still starting, or a watch request given up after waiting
 * FSC_REQUEST_WAIT_MS for room in the writer's queue), -ENOTCONN (no live
 * writer for a request),
 * -ETIMEDOUT, -ECONNRESET (writer died during a control request), and any
 * errno of stat(2), shm_open(3), mmap(2), socket(2), sendto(2).
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
 * Freshness: a hit returns what the writer last saw; after fsc_control(h,
 * FSC_OP_SYNC, ...) returns 0, every change whose system call returned
 * before the call, and every watch request sent before it, is visible.
 * Without sync an answer can be a moment behind what the caller itself
 * already saw (e.g. bytes read through an open descriptor): a smaller
 * size or an older inode is then not proof of truncation or rotation, so
 * confirm those with fstat()/stat() before acting (examples/logtail).
 *
 * Reader side of the seqlock protocol (writer side: writer/table.c):
 *   s1 = load(entry.seq); if odd: retry         -- writer is mid-rewrite
 *   cmm_smp_rmb()  pairs with the writer's cmm_smp_wmb() before seq = even:
 *                  seeing that even seq, the copy sees the fields before it
 *   copy fields with uatomic_read() (relaxed)
 *   cmm_smp_rmb()  pairs with the writer's cmm_smp_wmb() after seq = odd:
 *                  having seen any newer field, s2 sees the odd seq
 *   s2 = load(entry.seq); if s1 != s2: retry     -- copy may be torn
 * then validate the copy (length, full key, mode).  A probe that ends
 * without the key is bracketed the same way by header.table_gen, which the
 * writer makes odd while it moves entries, so a moving entry never causes a
 * false miss.  Retries are capped at FSC_RETRY_MAX; then FSC_UNCACHED.
 * Every loop is bounded by capacity/probe_limit validated at attach time.
 */
#ifndef FSTATCACHE_FSTATCACHE_H
#define FSTATCACHE_FSTATCACHE_H

#define FSC_VERSION_MAJOR 0
#define FSC_VERSION_MINOR 1
#define FSC_VERSION_PATCH 0
#define FSC_VERSION_STRING "0.1.0"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <urcu/arch.h>
#include <urcu/system.h>
#include <urcu/uatomic.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#define FSC__DEFINED_XXH_INLINE_ALL
#endif
/* GCC 12 reports -Warray-bounds inside xxHash's unreachable long-input
 * branches when a caller hashes a short literal; the reads are guarded. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
#include <xxhash.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#ifdef FSC__DEFINED_XXH_INLINE_ALL
#undef XXH_INLINE_ALL
#undef FSC__DEFINED_XXH_INLINE_ALL
#endif

#include "format.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FSC_MISS 1
#define FSC_UNCACHED 2

#define FSC_SOURCE_CACHE 1
#define FSC_SOURCE_STAT 2

#define FSC_RETRY_MAX 8             /* torn/contended reads before giving up */
#define FSC_REATTACH_INTERVAL_MS 100 /* between attach attempts while detached */
#define FSC_REQUEST_WAIT_MS 1000    /* longest wait for room in the writer's queue */
#define FSC_NAME_MAX 64

/* fsc_open() flags. */
#define FSC_OPEN_ATTACHED 0x1u    /* fail unless a live writer is attached */
#define FSC_OPEN_NO_REQUESTS 0x2u /* fsc_stat() never sends watch requests */

/* A stat(2) answer, from the cache or from stat() itself. */
struct fsc_stat {
	int exists;    /* 0: ENOENT or ENOTDIR (then only `err` and `source`
			* are set, every number is 0) */
	int source;    /* FSC_SOURCE_CACHE or FSC_SOURCE_STAT */
	int err;       /* errno of the failed stat() when !exists */
	uint32_t mode, uid, gid;
	uint64_t dev, ino, nlink, rdev;
	int64_t size, blocks;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
};

/*
 * One mapped segment, freed at fsc_close(); immutable once published but
 * for the liveness check's state (32-bit words, relaxed atomics).
 */
struct fsc__map {
	const unsigned char *base; /* PROT_READ mapping of the table */
	size_t size;
	uint8_t *use; /* recency marks (PROT_WRITE), or NULL */
	size_t use_size;
	uint64_t seed, epoch;
	uint32_t capacity, mask, entry_size, path_max, probe_limit;
	struct sockaddr_un dest; /* the writer's control socket */
	socklen_t dest_len;
	struct fsc__map *retired_next;
	/* FSC_SEG_F_PID_LIVENESS only: the table object, read-only, whose
	 * writer lock is queried; -1 otherwise. */
	int lock_fd;
	uint32_t live_next_ms;  /* next lock query (CLOCK_MONOTONIC_COARSE) */
	uint32_t live_dead;     /* 1 once the lock was seen free: sticky */
};

typedef struct fsc_handle {
	struct fsc__map *map;     /* current mapping, NULL when never attached */
	struct fsc__map *retired; /* older mappings, unmapped at close */
	uint32_t attaching;       /* 1 while one thread (re)attaches */
	uint64_t next_attach_ns;  /* CLOCK_MONOTONIC; guarded by attaching */
	const struct fsc__map *retired_tried; /* skipped the rate limit once */
	/* Private counters are unsigned long: the widest word liburcu's
	 * uatomic reads, writes and adds without tearing on every target
	 * (32 bits on 32-bit ARM, where 64-bit ones would tear or not link). */
	unsigned long requests_dropped; /* watch requests given up (queue full) */
	/* Lookup counts, approximate when threads share the handle (relaxed
	 * read-modify-write): published to the .use header in batches (deltas
	 * modulo the word size, so a 32-bit count may wrap). */
	unsigned long counts[3];       /* hits, misses, uncached */
	unsigned long published[3];    /* the part already added to .use */
	unsigned flags;
	uid_t owner;              /* the uid a segment must belong to */
	int sock;                 /* datagram socket for watch requests */
	const struct fsc__map *sock_map; /* the mapping sock is connected for */
	char name[FSC_NAME_MAX + 1];
} fsc_handle;

/* ---- private helpers ------------------------------------------------- */

/* An instance name: 1 to FSC_NAME_MAX letters, digits, '_' or '-'. */
static inline int fsc_name_ok(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok || n >= FSC_NAME_MAX)
			return 0;
	}
	return n > 0;
}

/*
 * Keys are absolute paths without empty, "." or ".." components and
 * without a trailing slash: the cache compares strings, so only one
 * spelling per file may be cached.  Other spellings are answered by stat().
 */
static inline int fsc_path_ok(const char *p, size_t len)
{
	if (len < 2 || p[0] != '/' || memchr(p, '\0', len))
		return 0;
	const char *end = p + len, *c = p; /* *c is the '/' before a component */
	while (c) {
		const char *next = (const char *)memchr(c + 1, '/',
							(size_t)(end - c - 1));
		size_t n = (size_t)((next ? next : end) - c - 1);
		if (n == 0 || (n == 1 && c[1] == '.') ||
		    (n == 2 && c[1] == '.' && c[2] == '.'))
			return 0;
		c = next;
	}
	return 1;
}

/* Object names for an instance. */
static inline void fsc__shm_name(char *buf, size_t size, const char *name,
				 int use)
{
	size_t n = strlen(name);
	if (size < n + 17)
		return;
	memcpy(buf, "/fstatcache.", 12);
	memcpy(buf + 12, name, n + 1);
	if (use)
		memcpy(buf + 12 + n, ".use", 5);
}

static inline uint64_t fsc__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC_COARSE in ms, modulo 2^32: 32-bit arithmetic only. */
static inline uint32_t fsc__now_ms32(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec * 1000u + (uint32_t)ts.tv_nsec / 1000000u;
}

static inline const struct fsc_header *fsc__hdr(const struct fsc__map *m)
{
	return (const struct fsc_header *)(const void *)m->base;
}

#ifdef F_OFD_GETLK
#define FSC__F_OFD_GETLK F_OFD_GETLK
#else
#define FSC__F_OFD_GETLK 36 /* Linux 3.15, every architecture */
#endif

/*
 * FSC_SEG_F_PID_LIVENESS (format.h): is the writer's lock on the table
 * object still held?  One fcntl(2) at most every FSC_LIVENESS_CHECK_MS per
 * mapping; in between, and once the writer is seen dead, no system call.
 * Threads racing here may each query once: harmless.
 */
static inline int fsc__lock_alive(struct fsc__map *m)
{
	if (uatomic_read(&m->live_dead))
		return 0;
	uint32_t now = fsc__now_ms32();
	if ((int32_t)(now - uatomic_read(&m->live_next_ms)) < 0)
		return 1;
	uatomic_set(&m->live_next_ms, now + FSC_LIVENESS_CHECK_MS);
	struct flock fl;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK; /* conflicts with the writer's write lock */
	fl.l_whence = SEEK_SET; /* start 0, length 0: the whole object */
	if (fcntl(m->lock_fd, FSC__F_OFD_GETLK, &fl) == 0 &&
	    fl.l_type != F_UNLCK)
		return 1;
	uatomic_set(&m->live_dead, 1); /* free, or no OFD locks: not alive */
	return 0;
}

/* The writer is alive and the segment may be served from. */
static inline int fsc__serving(struct fsc__map *m)
{
	const struct fsc_header *hdr = fsc__hdr(m);
	uint32_t alive = uatomic_read(&hdr->writer_alive);
	uint32_t status = uatomic_read(&hdr->status);
	return status == FSC_STATUS_SERVING &&
	       (alive & FSC_WRITER_TID_MASK) != 0 &&
	       (alive & FSC_WRITER_DIED) == 0 &&
	       (m->lock_fd < 0 || fsc__lock_alive(m));
}

static inline const struct fsc_entry *fsc__slot(const struct fsc__map *m,
						uint32_t slot)
{
	return (const struct fsc_entry *)(const void *)(m->base +
		FSC_HEADER_SIZE + (size_t)slot * m->entry_size);
}

static inline const uint64_t *fsc__slot_path(const struct fsc_entry *e)
{
	return (const uint64_t *)(const void *)((const unsigned char *)e +
						FSC_ENTRY_FIXED);
}

/* The segment geometry a reader trusts: checked once, copied, never reread. */
static inline int fsc__geometry_ok(const struct fsc_header *h, size_t size)
{
	uint32_t cap = h->capacity, pm = h->path_max;
	if (h->magic != FSC_MAGIC)
		return 0;
	if (h->version_major != FSC_FORMAT_MAJOR ||
	    h->header_size != FSC_HEADER_SIZE)
		return 0;
	if (cap < FSC_CAPACITY_MIN || cap > FSC_CAPACITY_MAX || (cap & (cap - 1)))
		return 0;
	if (pm < FSC_PATH_MAX_MIN || pm > FSC_PATH_MAX_MAX || pm % 8)
		return 0;
	if (h->entry_size < FSC_ENTRY_FIXED + pm || h->entry_size % 8 ||
	    h->entry_size > FSC_ENTRY_FIXED + FSC_PATH_MAX_MAX + 4096)
		return 0;
	if (h->probe_limit < 1 || h->probe_limit > FSC_PROBE_LIMIT_MAX ||
	    h->probe_limit > cap)
		return 0;
	uint64_t want = FSC_HEADER_SIZE + (uint64_t)cap * h->entry_size;
	return h->segment_size == want && (uint64_t)size == want;
}

/*
 * The system user the packaged service runs as (dist/fstatcached.service).
 * Only root can create users, so an object it owns is not a squatter's.
 */
#ifndef FSC_SERVICE_USER
#define FSC_SERVICE_USER "fstatcache"
#endif

static inline int fsc__service_user(uid_t uid)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	return getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	       strcmp(res->pw_name, FSC_SERVICE_USER) == 0;
}

/*
 * Squatting: the object must be ours, root's or the service user's (the
 * name is looked up only for an object owned by someone else), and not
 * writable by others.
 */
static inline int fsc__owner_ok(const struct stat *st, uid_t owner, int rw)
{
	if (!S_ISREG(st->st_mode))
		return 0;
	if (st->st_uid != owner && st->st_uid != 0 &&
	    !fsc__service_user(st->st_uid))
		return 0;
	if (!rw && (st->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	return !(st->st_mode & S_IWOTH);
}

static inline void fsc__unmap(struct fsc__map *m)
{
	if (m->base)
		munmap((void *)(uintptr_t)m->base, m->size);
	if (m->use)
		munmap(m->use, m->use_size);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m);
}

/* Map the recency marks; a reader without them still answers correctly. */
static inline void fsc__map_use(struct fsc__map *m, const char *name,
				uid_t owner)
{
	char shm[FSC_NAME_MAX + 32];
	struct stat st;
	fsc__shm_name(shm, sizeof(shm), name, 1);
	int fd = shm_open(shm, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	size_t want = FSC_USE_HEADER_SIZE + (size_t)m->capacity;
	if (fstat(fd, &st) == 0 && fsc__owner_ok(&st, owner, 1) &&
	    (uint64_t)st.st_size == want) {
		void *p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fd, 0);
		if (p != MAP_FAILED) {
			const struct fsc_use_header *u =
				(const struct fsc_use_header *)p;
			if (u->magic == FSC_USE_MAGIC && u->epoch == m->epoch &&
			    u->capacity == m->capacity) {
				m->use = (uint8_t *)p;
				m->use_size = want;
			} else {
				munmap(p, want);
			}
		}
	}
	close(fd);
}

static inline int fsc__map_socket(struct fsc__map *m,
				  const struct fsc_header *h)
{
	uint8_t path[FSC_SOCKET_PATH_SIZE];
	memcpy(path, h->socket_path, sizeof(path));
	const void *nul = memchr(path, 0, sizeof(m->dest.sun_path));
	if (!nul || path[0] != '/')
		return -EPROTO;
	memset(&m->dest, 0, sizeof(m->dest));
	m->dest.sun_family = AF_UNIX;
	memcpy(m->dest.sun_path, path, (size_t)((const uint8_t *)nul - path) + 1);
	m->dest_len = (socklen_t)sizeof(m->dest);
	return 0;
}

/* Open, check and map the instance's current segment. */
static inline int fsc__map_open(const char *name, uid_t owner,
				struct fsc__map **out)
{
	char shm[FSC_NAME_MAX + 32];
	struct stat st;
	fsc__shm_name(shm, sizeof(shm), name, 0);
	int fd = shm_open(shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	void *p = MAP_FAILED;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!fsc__owner_ok(&st, owner, 0))
		err = -EPERM;
	else if (st.st_size < (off_t)FSC_HEADER_SIZE)
		err = -EAGAIN; /* the writer has not sized it yet */
	if (!err) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			err = -errno;
	}
	struct fsc__map *m = NULL;
	if (!err && !(m = (struct fsc__map *)calloc(1, sizeof(*m)))) {
		munmap(p, (size_t)st.st_size);
		err = -ENOMEM;
	}
	if (err) {
		close(fd);
		return err;
	}
	m->base = (const unsigned char *)p;
	m->size = (size_t)st.st_size;
	m->lock_fd = -1;
	if (!fsc__serving(m)) {
		uint32_t status = uatomic_read(&fsc__hdr(m)->status);
		close(fd);
		fsc__unmap(m);
		return status == FSC_STATUS_INIT ? -EAGAIN : -ENOENT;
	}
	/* The writer set the geometry before status (its wmb pairs with this). */
	cmm_smp_rmb();
	struct fsc_header h; /* one private copy: never reread geometry */
	memcpy(&h, p, offsetof(struct fsc_header, status));
	memcpy(h.socket_path, fsc__hdr(m)->socket_path, sizeof(h.socket_path));
	if (h.flags & FSC_SEG_F_PID_LIVENESS) {
		m->lock_fd = fd; /* kept: the writer's lock is queried on it */
		m->live_next_ms = fsc__now_ms32(); /* query now */
	} else {
		close(fd);
	}
	if (!fsc__geometry_ok(&h, m->size) || fsc__map_socket(m, &h) < 0) {
		fsc__unmap(m);
		return -EPROTO;
	}
	if (!fsc__serving(m)) { /* the writer's lock is already free */
		fsc__unmap(m);
		return -ENOENT;
	}
	m->seed = h.hash_seed;
	m->epoch = h.epoch;
	m->capacity = h.capacity;
	m->mask = h.capacity - 1;
	m->entry_size = h.entry_size;
	m->path_max = h.path_max;
	m->probe_limit = h.probe_limit;
	fsc__map_use(m, name, owner);
	*out = m;
	return 0;
}

/*
 * Replace the current mapping (if `seen` is still current) by the segment
 * the name now holds.  One thread at a time; others answer by stat().
 * Rate-limited, except when the old segment says it was retired.
 */
static inline int fsc__reattach(fsc_handle *h, struct fsc__map *seen,
				int force)
{
	if (uatomic_cmpxchg(&h->attaching, 0, 1) != 0)
		return -EAGAIN;
	int err = -EAGAIN;
	uint64_t now = fsc__now_ns();
	/* A retired segment names its successor at once: try without waiting,
	 * but only once per segment (a clean stop retires with no successor). */
	int retired = seen && seen != h->retired_tried &&
		uatomic_read(&fsc__hdr(seen)->status) == FSC_STATUS_RETIRED;
	if (uatomic_read(&h->map) == seen &&
	    (force || retired || now >= h->next_attach_ns)) {
		struct fsc__map *m = NULL;
		h->next_attach_ns = now + FSC_REATTACH_INTERVAL_MS * 1000000ull;
		if (retired)
			h->retired_tried = seen;
		err = fsc__map_open(h->name, h->owner, &m);
		if (!err) {
			if (seen) {
				seen->retired_next = h->retired;
				h->retired = seen;
			}
			cmm_smp_wmb(); /* pairs with cmm_smp_read_barrier_depends */
			uatomic_set(&h->map, m);
		}
	}
	cmm_smp_mb();
	uatomic_set(&h->attaching, 0);
	return err;
}

/* The mapping to read, attaching if needed; NULL means answer by stat(). */
static inline struct fsc__map *fsc__current(fsc_handle *h)
{
	struct fsc__map *m = uatomic_read(&h->map);
	cmm_smp_read_barrier_depends();
	if (m && fsc__serving(m))
		return m;
	if (fsc__reattach(h, m, 0) < 0)
		return NULL;
	m = uatomic_read(&h->map);
	cmm_smp_read_barrier_depends();
	return (m && fsc__serving(m)) ? m : NULL;
}

enum { FSC__ABSENT, FSC__FOUND, FSC__RETRY };

/* Compare the slot's path words with the key; called inside the seqlock. */
static inline int fsc__key_equal(const struct fsc_entry *e, const char *path,
				 uint32_t len)
{
	const uint64_t *w = fsc__slot_path(e);
	uint32_t full = len / 8, i;
	for (i = 0; i < full; i++) {
		uint64_t k;
		memcpy(&k, path + 8 * i, 8);
		if (uatomic_read(&w[i]) != k)
			return 0;
	}
	uint64_t k = 0; /* the word holding the NUL, zero-padded */
	memcpy(&k, path + 8 * i, len - 8 * i);
	return uatomic_read(&w[i]) == k;
}

static inline int fsc__mode_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFCHR: case S_IFBLK:
	case S_IFIFO: case S_IFSOCK:
		return 1;
	default:
		return 0;
	}
}

/* Copy the guarded fields; only trusted once the seqcount re-check passes. */
static inline void fsc__copy_entry(const struct fsc_entry *e,
				   struct fsc_stat *o)
{
	o->dev = uatomic_read(&e->dev);
	o->ino = uatomic_read(&e->ino);
	o->mode = uatomic_read(&e->mode);
	o->uid = uatomic_read(&e->uid);
	o->gid = uatomic_read(&e->gid);
	o->nlink = uatomic_read(&e->nlink);
	o->rdev = uatomic_read(&e->rdev);
	o->size = uatomic_read(&e->size);
	o->blocks = uatomic_read(&e->blocks);
	o->mtime_sec = uatomic_read(&e->mtime_sec);
	o->mtime_nsec = uatomic_read(&e->mtime_nsec);
	o->ctime_sec = uatomic_read(&e->ctime_sec);
	o->ctime_nsec = uatomic_read(&e->ctime_nsec);
}

/*
 * Look at one slot under its seqcount.  FOUND fills *o (and *flags);
 * ABSENT with *empty set ends the probe; RETRY means the slot changed.
 */
static inline int fsc__probe_slot(const struct fsc_entry *e, const char *path,
				  uint32_t len, uint64_t hash,
				  struct fsc_stat *o, uint32_t *flags, int *empty)
{
	uint32_t s1 = uatomic_read(&e->seq);
	if (s1 & 1)
		return FSC__RETRY;
	cmm_smp_rmb(); /* pairs with the writer's wmb before seq = even */
	uint32_t f = uatomic_read(&e->flags);
	uint64_t eh = uatomic_read(&e->hash);
	uint32_t el = uatomic_read(&e->path_len);
	int match = (f & FSC_ENT_USED) && eh == hash && el == len &&
		    fsc__key_equal(e, path, len);
	if (match)
		fsc__copy_entry(e, o);
	cmm_smp_rmb(); /* pairs with the writer's wmb after seq = odd */
	if (uatomic_read(&e->seq) != s1)
		return FSC__RETRY;
	*empty = !(f & FSC_ENT_USED);
	if (!match)
		return FSC__ABSENT;
	*flags = f;
	return FSC__FOUND;
}

/* Validate a copied entry: never trust a value from the segment unchecked. */
static inline int fsc__copy_ok(uint32_t flags, const struct fsc_stat *o)
{
	if (flags & ~(uint32_t)(FSC_ENT_USED | FSC_ENT_EXISTS | FSC_ENT_NOCACHE))
		return 0;
	if (!(flags & FSC_ENT_EXISTS))
		return 1;
	return fsc__mode_ok(o->mode) && o->size >= 0 && o->blocks >= 0 &&
	       o->mtime_nsec < 1000000000u && o->ctime_nsec < 1000000000u;
}

/* One probe sequence; FSC__FOUND, FSC__ABSENT or FSC__RETRY. */
static inline int fsc__probe(const struct fsc__map *m, const char *path,
			     uint32_t len, uint64_t hash, struct fsc_stat *o,
			     uint32_t *flags, uint32_t *slot_out)
{
	uint32_t slot = (uint32_t)hash & m->mask;
	for (uint32_t i = 0; i < m->probe_limit; i++) {
		int empty = 0;
		int r = fsc__probe_slot(fsc__slot(m, slot), path, len, hash, o,
					flags, &empty);
		if (r == FSC__FOUND) {
			*slot_out = slot;
			return FSC__FOUND;
		}
		if (r == FSC__RETRY)
			return FSC__RETRY;
		if (empty)
			return FSC__ABSENT;
		slot = (slot + 1) & m->mask;
	}
	return FSC__ABSENT;
}

static inline void fsc__mark_used(const struct fsc__map *m, uint32_t slot)
{
	uint8_t *u = m->use ? m->use + FSC_USE_HEADER_SIZE + slot : NULL;
	if (u && !uatomic_read(u))
		uatomic_set(u, 1);
}

/* A cached "does not exist" carries no numbers: make them 0, as documented. */
static inline void fsc__set_exists(struct fsc_stat *o, uint32_t flags)
{
	o->exists = (flags & FSC_ENT_EXISTS) != 0;
	if (o->exists) {
		o->err = 0;
		return;
	}
	memset(o, 0, sizeof(*o));
	o->err = ENOENT; /* the writer keeps no errno: ENOTDIR reads as ENOENT */
}

static inline void fsc__from_stat(const struct stat *st, struct fsc_stat *o)
{
	o->exists = 1;
	o->err = 0;
	o->dev = st->st_dev;
	o->ino = st->st_ino;
	o->mode = st->st_mode;
	o->uid = st->st_uid;
	o->gid = st->st_gid;
	o->nlink = st->st_nlink;
	o->rdev = st->st_rdev;
	o->size = st->st_size;
	o->blocks = st->st_blocks;
	o->mtime_sec = st->st_mtim.tv_sec;
	o->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	o->ctime_sec = st->st_ctim.tv_sec;
	o->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
}

#define FSC__COUNT_BATCH 1024u /* lookups between publications */

/*
 * Add to a 64-bit total in shared memory that other processes add to too.
 * liburcu's uatomic has no 8-byte read-modify-write on 32-bit targets; the
 * compiler's builtin is used there when it is lock-free (ARMv7's
 * LDREXD/STREXD, i586's CMPXCHG8B), since libatomic's fallback lock is
 * private to a process.  Without one, totals are not published (the
 * per-handle counts stay exact; only the inspector's totals lack them).
 */
static inline void fsc__add_shared_u64(uint64_t *total, uint64_t v)
{
#if CAA_BITS_PER_LONG == 64
	uatomic_add(total, v);
#elif defined(__GCC_ATOMIC_LLONG_LOCK_FREE) && __GCC_ATOMIC_LLONG_LOCK_FREE == 2
	__atomic_fetch_add(total, v, __ATOMIC_RELAXED);
#else
	(void)total;
	(void)v;
#endif
}

/* Add what this handle counted since last time to the segment's totals. */
static inline void fsc__publish_counts(fsc_handle *h, struct fsc__map *m)
{
	if (!m || !m->use || uatomic_cmpxchg(&h->attaching, 0, 1) != 0)
		return; /* the attach flag also serialises publication */
	struct fsc_use_header *u = (struct fsc_use_header *)(void *)m->use;
	uint64_t *totals[3] = { &u->reader_hits, &u->reader_misses,
				&u->reader_uncached };
	for (int i = 0; i < 3; i++) {
		unsigned long now = uatomic_read(&h->counts[i]);
		if (now != h->published[i])
			fsc__add_shared_u64(totals[i], now - h->published[i]);
		h->published[i] = now;
	}
	cmm_smp_mb();
	uatomic_set(&h->attaching, 0);
}

/* Count a lookup result (0, FSC_MISS, FSC_UNCACHED); cheap, no lock. */
static inline int fsc__count(fsc_handle *h, struct fsc__map *m, int r)
{
	unsigned long *c = &h->counts[r == 0 ? 0 : r == FSC_MISS ? 1 : 2];
	unsigned long n = uatomic_read(c) + 1;
	uatomic_set(c, n);
	if ((n & (FSC__COUNT_BATCH - 1)) == 0)
		fsc__publish_counts(h, m);
	return r;
}

/* ---- public API ------------------------------------------------------ */

/*
 * Open a reader handle for instance `name` (NULL: $FSTATCACHE_NAME, else
 * "fstatcache").  Without FSC_OPEN_ATTACHED, a missing or dead writer is
 * not an error: lookups answer FSC_UNCACHED and the handle attaches when a
 * writer appears.  The segment must belong to the caller's effective uid,
 * to root, to the system user "fstatcache" (FSC_SERVICE_USER: the
 * packaged service's), or to the uid in $FSTATCACHE_OWNER_UID.
 * Errors: -EINVAL (bad name), -ENOMEM, socket(2) errors; with
 * FSC_OPEN_ATTACHED also those of attaching (-ENOENT, -EPERM, -EPROTO,
 * -EAGAIN, ...).
 */
static inline int fsc_open(fsc_handle **out, const char *name, unsigned flags)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!name)
		name = getenv("FSTATCACHE_NAME");
	if (!name || !*name)
		name = "fstatcache";
	if (!fsc_name_ok(name))
		return -EINVAL;
	fsc_handle *h = (fsc_handle *)calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	memcpy(h->name, name, strlen(name) + 1);
	h->flags = flags;
	h->owner = geteuid();
	const char *o = getenv("FSTATCACHE_OWNER_UID");
	if (o && *o) {
		char *end;
		unsigned long v = strtoul(o, &end, 10);
		if (*end || v > 0xfffffffful) {
			free(h);
			return -EINVAL;
		}
		h->owner = (uid_t)v;
	}
	h->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (h->sock < 0) {
		int err = -errno;
		free(h);
		return err;
	}
	/* A full writer queue makes a watch request wait, boundedly. */
	struct timeval tv = { FSC_REQUEST_WAIT_MS / 1000,
			      (FSC_REQUEST_WAIT_MS % 1000) * 1000 };
	setsockopt(h->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int err = fsc__reattach(h, NULL, 0);
	if (err < 0 && (flags & FSC_OPEN_ATTACHED)) {
		close(h->sock);
		free(h);
		return err;
	}
	*out = h;
	return 0;
}

/* Close a handle; unmaps every mapping it made.  NULL is ignored. */
static inline void fsc_close(fsc_handle *h)
{
	if (!h)
		return;
	fsc__publish_counts(h, uatomic_read(&h->map));
	struct fsc__map *m = h->retired;
	while (m) {
		struct fsc__map *next = m->retired_next;
		fsc__unmap(m);
		m = next;
	}
	if (h->map)
		fsc__unmap(h->map);
	close(h->sock);
	free(h);
}

/* 1 when the handle is attached to a live, serving writer; else 0. */
static inline int fsc_attached(fsc_handle *h)
{
	return fsc__current(h) != NULL;
}

/*
 * Look `path` up in the cache only.  0: hit, *out filled (source
 * FSC_SOURCE_CACHE; exists 0 is a cached "does not exist").  FSC_MISS or
 * FSC_UNCACHED: not answered (see the top of this file).  -EINVAL: NULL
 * argument.  No lock, no system call on a hit.
 */
/*
 * The writer stores canonical keys only, so a hit proves the spelling and
 * the full check can wait until a miss: another spelling of a cached file
 * is FSC_UNCACHED (asking the writer for it would be refused).
 */
static inline int fsc__miss_or_uncached(int r, const char *path, size_t len)
{
	return (r == FSC_MISS && !fsc_path_ok(path, len)) ? FSC_UNCACHED : r;
}

/* The probe loop of fsc_lookup() on an attached, serving mapping. */
static inline int fsc__lookup_map(struct fsc__map *m, const char *path,
				  size_t len, uint64_t hash, struct fsc_stat *out)
{
	const struct fsc_header *hdr = fsc__hdr(m);
	for (int attempt = 0; attempt < FSC_RETRY_MAX; attempt++) {
		uint32_t g1 = uatomic_read(&hdr->table_gen);
		if (g1 & 1) {
			caa_cpu_relax();
			continue;
		}
		cmm_smp_rmb(); /* pairs with the writer's wmb before gen = even */
		uint32_t flags = 0, slot = 0;
		int r = fsc__probe(m, path, (uint32_t)len, hash, out, &flags,
				   &slot);
		if (r == FSC__RETRY) {
			caa_cpu_relax();
			continue;
		}
		cmm_smp_rmb(); /* pairs with the writer's wmb after gen = odd */
		if (r == FSC__ABSENT) {
			if (uatomic_read(&hdr->table_gen) != g1)
				continue;
			return fsc__serving(m) ? FSC_MISS : FSC_UNCACHED;
		}
		if (!fsc__copy_ok(flags, out) || (flags & FSC_ENT_NOCACHE))
			return FSC_UNCACHED;
		/* A dead writer's entries may be stale: check after the copy. */
		if (!fsc__serving(m))
			return FSC_UNCACHED;
		fsc__set_exists(out, flags);
		out->source = FSC_SOURCE_CACHE;
		fsc__mark_used(m, slot);
		return 0;
	}
	return FSC_UNCACHED;
}

static inline int fsc_lookup(fsc_handle *h, const char *path,
			     struct fsc_stat *out)
{
	if (!h || !path || !out)
		return -EINVAL;
	size_t len = strlen(path);
	if (len < 2 || path[0] != '/')
		return fsc__count(h, NULL, FSC_UNCACHED);
	struct fsc__map *m = fsc__current(h);
	if (!m || len >= m->path_max)
		return fsc__count(h, m, FSC_UNCACHED);
	uint64_t hash = XXH3_64bits_withSeed(path, len, m->seed);
	int r = fsc__lookup_map(m, path, len, hash, out);
	return fsc__count(h, m, fsc__miss_or_uncached(r, path, len));
}

#define FSC__AHEAD 8 /* lookups whose slots are fetched ahead */

/* Hash the key and start fetching its home slot; 0 if it is no key. */
static inline int fsc__prepare(const struct fsc__map *m, const char *path,
			       size_t *len, uint64_t *hash)
{
	*len = strlen(path);
	if (*len < 2 || path[0] != '/' || *len >= m->path_max)
		return 0;
	*hash = XXH3_64bits_withSeed(path, *len, m->seed);
#if defined(__GNUC__)
	const char *e = (const char *)fsc__slot(m, (uint32_t)*hash & m->mask);
	__builtin_prefetch(e);
	__builtin_prefetch(e + FSC_ENTRY_FIXED);
#endif
	return 1;
}

/*
 * Look up n paths: results[i] and out[i] get what fsc_lookup(h, paths[i],
 * &out[i]) would give.  Faster than n calls when the table is larger than
 * the CPU caches (many watched files): the slots of the next few paths are
 * fetched from memory while the current one is compared.  Same guarantees
 * as fsc_lookup(); -EINVAL in every result for a NULL argument.
 */
static inline void fsc_lookup_many(fsc_handle *h, const char *const *paths,
				   size_t n, struct fsc_stat *out,
				   int *results)
{
	if (!results)
		return;
	struct fsc__map *m = (h && paths && out) ? fsc__current(h) : NULL;
	if (!m) {
		for (size_t i = 0; i < n; i++)
			results[i] = (h && paths && out)
				? fsc_lookup(h, paths[i], &out[i]) : -EINVAL;
		return;
	}
	size_t lens[FSC__AHEAD];
	uint64_t hashes[FSC__AHEAD];
	int ok[FSC__AHEAD];
	for (size_t i = 0; i < n && i < FSC__AHEAD; i++)
		ok[i] = fsc__prepare(m, paths[i], &lens[i], &hashes[i]);
	for (size_t i = 0; i < n; i++) {
		size_t k = i % FSC__AHEAD, len = lens[k];
		uint64_t hash = hashes[k];
		int r = ok[k] ? fsc__lookup_map(m, paths[i], len, hash, &out[i])
			      : FSC_UNCACHED;
		r = fsc__miss_or_uncached(r, paths[i], len);
		if (i + FSC__AHEAD < n)
			ok[k] = fsc__prepare(m, paths[i + FSC__AHEAD], &lens[k],
					     &hashes[k]);
		results[i] = fsc__count(h, m, r);
	}
}

/*
 * Ask the writer to watch and cache `path` (fire and forget: returns once
 * the request is queued, so a later sync covers it).  When the writer's
 * queue is full the call waits for room, at most FSC_REQUEST_WAIT_MS, and
 * then gives the request up and counts it (fsc_requests_dropped()).
 * 0, -EINVAL (path not absolute/canonical or too long), -ENOTCONN (no
 * writer), -EAGAIN (given up), or an errno of sendto(2).
 */
static inline int fsc_request_watch(fsc_handle *h, const char *path)
{
	if (!h || !path)
		return -EINVAL;
	size_t len = strlen(path);
	if (!fsc_path_ok(path, len) || len >= FSC_PATH_MAX_MAX)
		return -EINVAL;
	struct fsc__map *m = fsc__current(h);
	if (!m)
		return -ENOTCONN;
	unsigned char buf[FSC_REQUEST_MAX];
	struct fsc_request rq;
	memset(&rq, 0, sizeof(rq));
	rq.magic = FSC_MSG_MAGIC;
	rq.version = FSC_PROTO_VERSION;
	rq.op = FSC_OP_MISS;
	rq.path_len = (uint32_t)len;
	memcpy(buf, &rq, sizeof(rq));
	memcpy(buf + sizeof(rq), path, len);
	/* Connected once per writer: the kernel then skips resolving the
	 * socket's path on every send.  Threads racing here connect twice. */
	const struct sockaddr *to = (const struct sockaddr *)&m->dest;
	socklen_t to_len = m->dest_len;
	if (uatomic_read(&h->sock_map) != m && connect(h->sock, to, to_len) == 0)
		uatomic_set(&h->sock_map, m);
	if (uatomic_read(&h->sock_map) == m) {
		to = NULL;
		to_len = 0;
	}
	ssize_t n = sendto(h->sock, buf, sizeof(rq) + len,
			   MSG_DONTWAIT | MSG_NOSIGNAL, to, to_len);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) /* SO_SNDTIMEO */
		n = sendto(h->sock, buf, sizeof(rq) + len, MSG_NOSIGNAL, to,
			   to_len);
	if (n >= 0)
		return 0;
	int err = (errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN : -errno;
	uatomic_inc(&h->requests_dropped);
	return err;
}

/* Watch requests this handle gave up on since it was opened. */
static inline uint64_t fsc_requests_dropped(fsc_handle *h)
{
	return h ? (uint64_t)uatomic_read(&h->requests_dropped) : 0;
}

/*
 * stat(2) through the cache: a hit answers from memory; otherwise stat()
 * answers (source FSC_SOURCE_STAT) and, on FSC_MISS, the writer is asked
 * to watch the path.  Returns 0 with *out filled (exists 0 for ENOENT or
 * ENOTDIR, err set), or the negative errno of stat(2) otherwise, or
 * -EINVAL.  The answer always equals stat(2) at some moment of the call,
 * or the writer's last view of it.
 */
static inline int fsc_stat(fsc_handle *h, const char *path,
			   struct fsc_stat *out)
{
	int r = fsc_lookup(h, path, out);
	if (r <= 0)
		return r;
	struct stat st;
	memset(out, 0, sizeof(*out));
	out->source = FSC_SOURCE_STAT;
	if (stat(path, &st) == 0) {
		fsc__from_stat(&st, out);
	} else if (errno == ENOENT || errno == ENOTDIR) {
		out->err = errno;
	} else {
		return -errno;
	}
	if (r == FSC_MISS && !(h->flags & FSC_OPEN_NO_REQUESTS))
		(void)fsc_request_watch(h, path);
	return 0;
}

/* Fill a struct stat from an answer (fields stat(2) has and we keep). */
static inline void fsc_stat_to_stat(const struct fsc_stat *s, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = (dev_t)s->dev;
	st->st_ino = (ino_t)s->ino;
	st->st_mode = (mode_t)s->mode;
	st->st_nlink = (nlink_t)s->nlink;
	st->st_uid = (uid_t)s->uid;
	st->st_gid = (gid_t)s->gid;
	st->st_rdev = (dev_t)s->rdev;
	st->st_size = (off_t)s->size;
	st->st_blocks = (blkcnt_t)s->blocks;
	st->st_mtim.tv_sec = (time_t)s->mtime_sec;
	st->st_mtim.tv_nsec = (long)s->mtime_nsec;
	st->st_ctim.tv_sec = (time_t)s->ctime_sec;
	st->st_ctim.tv_nsec = (long)s->ctime_nsec;
}

/* ---- administration (the fstatcache tool; not on any hot path) ------- */

static inline int fsc__control_wait(fsc_handle *h, int fd, int op,
				    uint64_t cookie,
				    int timeout_ms, char *msg, size_t msg_size)
{
	unsigned char buf[FSC_REPLY_MAX];
	uint64_t deadline = fsc__now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		uint64_t now = fsc__now_ns();
		if (timeout_ms >= 0 && now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, 100); /* wake to notice a dead writer */
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0) {
			struct fsc__map *m = uatomic_read(&h->map);
			if (!m || !fsc__serving(m))
				return -ECONNRESET;
			continue;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct fsc_reply rp;
		if (n < (ssize_t)sizeof(rp))
			continue;
		memcpy(&rp, buf, sizeof(rp));
		if (rp.magic != FSC_MSG_MAGIC || rp.version != FSC_PROTO_VERSION ||
		    rp.op != op || rp.cookie != cookie ||
		    rp.msg_len > (size_t)n - sizeof(rp))
			continue;
		if (msg && msg_size) {
			size_t k = rp.msg_len < msg_size - 1 ? rp.msg_len
							     : msg_size - 1;
			memcpy(msg, buf + sizeof(rp), k);
			msg[k] = '\0';
		}
		return rp.status > 0 ? -EPROTO : rp.status;
	}
}

/*
 * The mapping for an administrative call: unlike a lookup, it does not
 * settle for the rate limit or for another thread's attach in progress,
 * but waits (2 ms steps, until the deadline) while a writer is starting
 * or another thread attaches.  NULL when no writer serves the name.
 */
static inline struct fsc__map *fsc__current_wait(fsc_handle *h,
						 int timeout_ms)
{
	uint64_t deadline = fsc__now_ns() + (uint64_t)(timeout_ms < 0 ? 60000
						       : timeout_ms) * 1000000u;
	for (;;) {
		struct fsc__map *m = fsc__current(h);
		if (m)
			return m;
		struct fsc__map *seen = uatomic_read(&h->map);
		int r = fsc__reattach(h, seen, 1);
		m = uatomic_read(&h->map);
		cmm_smp_read_barrier_depends();
		if (m && fsc__serving(m))
			return m;
		if (r != -EAGAIN || fsc__now_ns() >= deadline)
			return NULL;
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
}

/*
 * Send a control request (FSC_OP_WATCH, _UNWATCH, _INVALIDATE, _SYNC) and
 * wait for the writer's reply, at most timeout_ms (-1: no limit; the wait
 * ends anyway if the writer dies).  `path` is NULL for INVALIDATE and SYNC.
 * The writer's message (if any) goes to msg.  Returns the writer's status
 * (0 or a negative errno), -ENOTCONN (no live writer), -ETIMEDOUT,
 * -ECONNRESET (writer died), -EINVAL, or a socket errno.
 */
static inline int fsc_control(fsc_handle *h, int op, const char *path,
			      int timeout_ms, char *msg, size_t msg_size)
{
	if (msg && msg_size)
		msg[0] = '\0';
	size_t len = path ? strlen(path) : 0;
	if (!h || op <= FSC_OP_MISS || op >= FSC_OP_OP_COUNT_ ||
	    len >= FSC_PATH_MAX_MAX)
		return -EINVAL;
	struct fsc__map *m = fsc__current_wait(h, timeout_ms);
	if (!m)
		return -ENOTCONN;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sa_family_t fam = AF_UNIX; /* autobind: the writer replies to us */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct fsc_request rq;
	memset(&rq, 0, sizeof(rq));
	rq.magic = FSC_MSG_MAGIC;
	rq.version = FSC_PROTO_VERSION;
	rq.op = (uint16_t)op;
	rq.cookie = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)(uintptr_t)&rq;
	rq.path_len = (uint32_t)len;
	unsigned char buf[FSC_REQUEST_MAX];
	memcpy(buf, &rq, sizeof(rq));
	if (len)
		memcpy(buf + sizeof(rq), path, len);
	int err = 0;
	if (bind(fd, (const struct sockaddr *)&fam, sizeof(fam)) < 0 ||
	    sendto(fd, buf, sizeof(rq) + len, MSG_NOSIGNAL,
		   (const struct sockaddr *)&m->dest, m->dest_len) < 0)
		err = -errno;
	if (!err)
		err = fsc__control_wait(h, fd, op, rq.cookie, timeout_ms, msg,
					msg_size);
	close(fd);
	return err;
}

/*
 * Read slot `slot` (0 <= slot < capacity) for listing: 0 with its path
 * (NUL-terminated, truncated to path_size) and answer, FSC_MISS when the
 * slot is empty, FSC_UNCACHED when detached or the slot stays busy,
 * -EINVAL (bad slot), -EPROTO (the slot fails validation).  `validated_ns`
 * (may be NULL) gets the CLOCK_REALTIME of the writer's stat().
 */
static inline int fsc_slot_read(fsc_handle *h, uint32_t slot, char *path,
				size_t path_size, struct fsc_stat *out,
				uint64_t *validated_ns)
{
	struct fsc__map *m = h ? fsc__current(h) : NULL;
	if (!m)
		return FSC_UNCACHED;
	if (slot >= m->capacity || !path || !path_size || !out)
		return -EINVAL;
	const struct fsc_entry *e = fsc__slot(m, slot);
	char copy[FSC_PATH_MAX_MAX];
	int r = FSC_UNCACHED;
	for (int attempt = 0; attempt < FSC_RETRY_MAX; attempt++) {
		uint32_t s1 = uatomic_read(&e->seq);
		if (s1 & 1) {
			caa_cpu_relax();
			continue;
		}
		if (!(uatomic_read(&e->flags) & FSC_ENT_USED)) {
			cmm_smp_rmb(); /* as below: an empty slot needs no copy */
			if (uatomic_read(&e->seq) != s1)
				continue;
			r = FSC_MISS;
			break;
		}
		cmm_smp_rmb(); /* pairs with the writer's wmb before seq = even */
		uint32_t flags = uatomic_read(&e->flags);
		uint32_t len = uatomic_read(&e->path_len);
		uint64_t vns = uatomic_read(&e->validated_ns);
		const uint64_t *w = fsc__slot_path(e);
		for (uint32_t i = 0; i < m->path_max / 8; i++) {
			uint64_t v = uatomic_read(&w[i]);
			memcpy(copy + 8 * i, &v, 8);
		}
		fsc__copy_entry(e, out);
		cmm_smp_rmb(); /* pairs with the writer's wmb after seq = odd */
		if (uatomic_read(&e->seq) != s1) {
			caa_cpu_relax();
			continue;
		}
		if (!(flags & FSC_ENT_USED)) {
			r = FSC_MISS;
			break;
		}
		if (len == 0 || len >= m->path_max || copy[len] != '\0' ||
		    memchr(copy, 0, len) || !fsc__copy_ok(flags, out)) {
			r = -EPROTO;
			break;
		}
		size_t k = len < path_size - 1 ? len : path_size - 1;
		memcpy(path, copy, k);
		path[k] = '\0';
		fsc__set_exists(out, flags);
		out->source = (flags & FSC_ENT_NOCACHE) ? FSC_SOURCE_STAT
							: FSC_SOURCE_CACHE;
		if (validated_ns)
			*validated_ns = vns;
		r = 0;
		break;
	}
	return r;
}

/* Slots in the attached segment (0 when detached). */
static inline uint32_t fsc_capacity(fsc_handle *h)
{
	struct fsc__map *m = h ? fsc__current(h) : NULL;
	return m ? m->capacity : 0;
}

/*
 * A 64-bit word the writer may be storing while we read it, outside any
 * seqlock.  On 32-bit targets the load is two and may tear; the writer's
 * counters only grow (the gauges stay below 2^32), so two equal reads in a
 * row are a value it stored.  Bounded: the last read otherwise.
 */
static inline uint64_t fsc__read_u64(const uint64_t *p)
{
	uint64_t v = uatomic_read(p);
#if CAA_BITS_PER_LONG != 64
	for (int i = 0; i < FSC_RETRY_MAX; i++) {
		cmm_smp_rmb(); /* the second read is a later one */
		uint64_t again = uatomic_read(p);
		if (again == v)
			break;
		v = again;
	}
#endif
	return v;
}

/*
 * Copy a mapped header: the fields fixed before status first became
 * SERVING with memcpy, the live ones with relaxed atomic loads (64-bit
 * counters re-read until stable, see fsc__read_u64).  Also used by the
 * inspection tools, which map segments of any status themselves.
 */
static inline void fsc__header_copy(const struct fsc_header *hdr,
				    struct fsc_header *out)
{
	memcpy(out, hdr, offsetof(struct fsc_header, status));
	out->status = uatomic_read(&hdr->status);
	out->writer_alive = uatomic_read(&hdr->writer_alive);
	out->writer_pid = uatomic_read(&hdr->writer_pid);
	out->table_gen = uatomic_read(&hdr->table_gen);
	out->writer_started_ns = uatomic_read(&hdr->writer_started_ns);
	out->owner_uid = uatomic_read(&hdr->owner_uid);
	out->entry_count = uatomic_read(&hdr->entry_count);
	out->max_entries = uatomic_read(&hdr->max_entries);
	out->reserved0 = uatomic_read(&hdr->reserved0);
	out->reserved1 = uatomic_read(&hdr->reserved1);
	memcpy(out->socket_path, hdr->socket_path, sizeof(out->socket_path));
	for (unsigned i = 0; i < FSC_NCOUNTERS; i++)
		out->counters[i] = fsc__read_u64(&hdr->counters[i]);
}

/*
 * A private copy of the attached segment's header (counters read relaxed,
 * so they may be mutually a little out of step).  0, or FSC_UNCACHED.
 */
static inline int fsc_header_read(fsc_handle *h, struct fsc_header *out)
{
	struct fsc__map *m = h ? fsc__current(h) : NULL;
	if (!m || !out)
		return FSC_UNCACHED;
	fsc__header_copy(fsc__hdr(m), out);
	out->reserved0 = 0; /* readers of this API never see reserved bits */
	out->reserved1 = 0;
	return 0;
}

/* A message for any return value of this API. */
static inline const char *fsc_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case FSC_MISS: return "not in the cache";
	case FSC_UNCACHED: return "the cache cannot answer this path now";
	case -EPROTO: return "shared-memory segment failed validation";
	case -EPERM: return "segment owned by another user or writable by others";
	case -ENOTCONN: return "no live fstatcached writer for this name";
	case -ECONNRESET: return "the writer died before answering";
	case -ETIMEDOUT: return "the writer did not answer in time";
	default: return err < 0 ? strerror(-err) : "unknown status";
	}
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_FSTATCACHE_H */
