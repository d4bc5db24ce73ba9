/*
 * fstatcache/reader/attach.h - attaching a reader to a writer's segment.
 *
 * Inline implementation of fstatcache.h; include that, not this.
 *
 * A handle holds the mapping it reads (struct fsc__map) and attaches, and
 * re-attaches, by itself: a lookup that finds no live serving writer calls
 * fsc__current(), which maps the segment the name now holds, rate-limited
 * to one attempt per FSC_REATTACH_INTERVAL_MS (at once when the old
 * segment says it was retired).  Attaching is where every check happens,
 * once per segment: the object's owner and mode (squatting), its size
 * against the header (SIGBUS), the header's geometry (contract.h), the
 * writer's liveness; the geometry is then copied into the private
 * fsc__map and never read from the segment again.
 *
 * Replaced mappings are kept until fsc_close(), so a thread still probing
 * one never touches unmapped memory.  One thread attaches at a time (the
 * `attaching` flag); the others answer by stat() meanwhile.
 */
#ifndef FSTATCACHE_READER_ATTACH_H
#define FSTATCACHE_READER_ATTACH_H

#ifndef FSTATCACHE_FSTATCACHE_H
#error "include <fstatcache/fstatcache.h> instead"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fstatcache/atomics.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * How a mapping's bookkeeping (struct fsc__map) is allocated.  A reader
 * that must attach without malloc (the LD_PRELOAD shim, preload/: it may
 * attach inside a stat() a signal handler made) defines both before
 * including fstatcache.h; the memory must come zeroed.
 */
#ifndef FSC__MAP_ALLOC
#define FSC__MAP_ALLOC(size) calloc(1, (size))
#define FSC__MAP_FREE(p, size) free(p)
#endif

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
	uint32_t slot_count, mask, entry_size, path_max, probe_limit;
	struct sockaddr_un dest; /* the writer's control socket */
	socklen_t dest_len;
	struct fsc__map *retired_next;
	/* FSC_SEG_F_PID_LIVENESS only: the table object, read-only, whose
	 * writer lock is queried; -1 otherwise. */
	int lock_fd;
	uint32_t live_next_ms; /* next lock query (CLOCK_MONOTONIC_COARSE) */
	uint32_t live_dead;    /* 1 once the lock was seen free: sticky */
	uint32_t seg_flags;    /* header.flags (FSC_SEG_F_*) */
	/* The change feed, mapped at the first fsc_changes() (reader/
	 * changes.h); published once with a compare-and-swap, then
	 * immutable. */
	struct fsc__feed *feed;
	/* The request ring (minor 4; reader/request.h), or NULL: requests
	 * then go to the socket.  Geometry checked and copied at attach. */
	struct fsc_req_header *req;
	size_t req_size;
	uint32_t req_slots, req_slot_size;
	/* This reader is the writer's user or root: it leaves the ring to
	 * the socket once the writer flags it FSC_REQ_F_CHECKED (a reload
	 * shared it with a group; reader/request.h). */
	int req_trusted;
	/* The tag array (minor 5; format.h): slot_count tags, or NULL (a
	 * probe then reads the slots themselves).  Checked at attach. */
	const uint16_t *tags;
	const void *tags_base;
	size_t tags_size;
};

struct fsc__feed {
	const unsigned char *base; /* PROT_READ mapping */
	size_t size;
	uint32_t ring; /* ring bytes, checked at mapping time */
};

struct fsc_handle {
	struct fsc__map *map; /* current mapping, NULL when never attached */
	struct fsc__map *retired; /* older mappings, unmapped at close */
	uint32_t attaching;       /* 1 while one thread (re)attaches */
	uint64_t next_attach_ns;  /* CLOCK_MONOTONIC; guarded by attaching */
	const struct fsc__map *retired_tried; /* skipped the rate limit once */
	int attach_err;        /* last attach attempt's error, or 0 */
	uint64_t mismatch_ino; /* object counted as of another major */
	/* Private counters are unsigned long: the widest word liburcu's
	 * uatomic reads, writes and adds without tearing on every target
	 * (32 bits on 32-bit ARM, where 64-bit ones would tear or not link). */
	unsigned long requests_dropped; /* watch requests given up (queue full) */
	/* Lookup counts, approximate when threads share the handle (relaxed
	 * read-modify-write): published to the .use header in batches (deltas
	 * modulo the word size, so a 32-bit count may wrap). */
	unsigned long counts[3];    /* hits, misses, uncached */
	unsigned long published[3]; /* the part already added to .use */
	unsigned flags;
	uid_t owner;     /* the uid a segment must belong to */
	uint64_t mnt_ns; /* our mount namespace (fsc_mnt_ns_self), 0 unknown */
	int sock;        /* datagram socket for watch requests */
	const struct fsc__map *sock_map; /* the mapping sock is connected for */
	char name[FSC_NAME_MAX + 1];
};

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

static inline const struct fsc_entry *fsc__slot(const struct fsc__map *m,
						uint32_t slot)
{
	return (const struct fsc_entry *)(const void *)(m->base +
							FSC_HEADER_SIZE +
							(size_t)slot *
								m->entry_size);
}

static inline const uint64_t *fsc__slot_path(const struct fsc_entry *e)
{
	return (const uint64_t *)(const void *)((const unsigned char *)e +
						FSC_ENTRY_FIXED);
}

/* The slot's cold tail, after its path area (format.h). */
static inline const struct fsc_entry_cold *
fsc__slot_cold(const struct fsc__map *m, const struct fsc_entry *e)
{
	return fsc_entry_cold(e, m->path_max);
}

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
	fl.l_type = F_RDLCK;    /* conflicts with the writer's write lock */
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

static inline void fsc__unmap(struct fsc__map *m)
{
	if (m->base)
		munmap((void *)(uintptr_t)m->base, m->size);
	if (m->use)
		munmap(m->use, m->use_size);
	if (m->req)
		munmap(m->req, m->req_size);
	if (m->tags_base)
		munmap((void *)(uintptr_t)m->tags_base, m->tags_size);
	if (m->feed) {
		munmap((void *)(uintptr_t)m->feed->base, m->feed->size);
		free(m->feed);
	}
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	FSC__MAP_FREE(m, sizeof(*m));
}

/*
 * Fault a fresh mapping's pages in now, so that the first lookups after
 * fsc_open() do not each take a page fault (a minor fault costs more than
 * a stat()).  MADV_POPULATE_READ/WRITE (Linux 5.14) maps the pages that
 * are already in memory, which shared memory always is; older kernels
 * refuse it (EINVAL) and the faults are taken on first touch as before.
 * Used for the request ring's few pages a first request writes (write
 * faults on shared memory map one page each): not for the table.
 */
static inline void fsc__prefault(void *p, size_t size, int write)
{
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
	(void)madvise(p, size,
		      write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#else
	(void)p;
	(void)size;
	(void)write;
#endif
}

/*
 * Map object `which` of the instance, an object beside the table that
 * begins as .use and .tags do (magic, epoch, slot_count at offsets 0, 8
 * and 16: format.h pins both), when it belongs to `owner` (writable by
 * its group only when `rw`), is exactly `want` bytes and its header is
 * this table's; mapped read-write when `rw`.  NULL otherwise.
 */
static inline void *fsc__map_beside(const struct fsc__map *m, const char *name,
				    int which, int rw, uid_t owner,
				    uint64_t magic, size_t want)
{
	char shm[FSC_SHM_NAME_SIZE];
	struct stat st;
	fsc_shm_name(shm, sizeof(shm), name, which);
	int fd = shm_open(shm, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	void *p = MAP_FAILED;
	if (fstat(fd, &st) == 0 && fsc_owner_ok(&st, owner, rw) &&
	    (uint64_t)st.st_size == want)
		p = mmap(NULL, want, rw ? PROT_READ | PROT_WRITE : PROT_READ,
			 MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	uint64_t mg, ep;
	uint32_t n;
	memcpy(&mg, p, sizeof(mg));
	memcpy(&ep, (const char *)p + 8, sizeof(ep));
	memcpy(&n, (const char *)p + 16, sizeof(n));
	if (mg != magic || ep != m->epoch || n != m->slot_count) {
		munmap(p, want);
		return NULL;
	}
	return p;
}

/* Map the recency marks; a reader without them still answers correctly. */
static inline void fsc__map_use(struct fsc__map *m, const char *name,
				uid_t owner)
{
	size_t want = FSC_USE_HEADER_SIZE + (size_t)m->slot_count;
	m->use = (uint8_t *)fsc__map_beside(m, name, FSC_OBJ_USE, 1, owner,
					    FSC_USE_MAGIC, want);
	m->use_size = m->use ? want : 0;
}

/*
 * Map the tag array (minor 5) when the header says the writer keeps one.
 * Checked as the table is (owner, not writable by others, exact size) and
 * tied to it by the epoch; a reader without it probes the slots, which
 * answers the same, only with more memory reads per miss.
 */
static inline void fsc__map_tags(struct fsc__map *m, const char *name,
				 uid_t owner)
{
	if (!(m->seg_flags & FSC_SEG_F_TAGS))
		return;
	size_t want =
		FSC_TAGS_HEADER_SIZE + (size_t)m->slot_count * sizeof(uint16_t);
	const char *p = (const char *)fsc__map_beside(
		m, name, FSC_OBJ_TAGS, 0, owner, FSC_TAGS_MAGIC, want);
	if (!p)
		return;
	m->tags_base = p;
	m->tags_size = want;
	m->tags = (const uint16_t *)(const void *)(p + FSC_TAGS_HEADER_SIZE);
}

/*
 * Map the request ring (minor 4), if there is one and this reader should
 * use it.  Checked as the .use object (owner, mode, exact size) and its
 * geometry against the table's.  Not used (requests then go to the
 * socket) when the writer judges ring requests as from other users
 * (FSC_REQ_F_CHECKED, or the object is group-writable) and this reader
 * is the writer's user or root: the socket would allow it more.
 */
static inline void fsc__map_req(struct fsc__map *m, const char *name,
				uid_t owner, uint32_t writer_uid)
{
	char shm[FSC_SHM_NAME_SIZE];
	struct stat st;
	fsc_shm_name(shm, sizeof(shm), name, FSC_OBJ_REQ);
	int fd = shm_open(shm, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	uint32_t slot_size = FSC_REQ_SLOT_FIXED + m->path_max;
	uid_t me = geteuid();
	int trusted = me == (uid_t)writer_uid || me == 0;
	void *p = MAP_FAILED;
	size_t size = 0;
	if (fstat(fd, &st) == 0 && fsc_owner_ok(&st, owner, 1) &&
	    !(trusted && (st.st_mode & 022)) &&
	    (uint64_t)st.st_size > FSC_REQ_HEADER_SIZE &&
	    (uint64_t)st.st_size <=
		    FSC_REQ_HEADER_SIZE +
			    (uint64_t)FSC_REQ_SLOTS_MAX * slot_size) {
		size = (size_t)st.st_size;
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	}
	close(fd);
	if (p == MAP_FAILED)
		return;
	struct fsc_req_header *r = (struct fsc_req_header *)p;
	uint32_t n = uatomic_read(&r->ring_slots);
	if (r->magic == FSC_REQ_MAGIC && r->epoch == m->epoch &&
	    n >= FSC_REQ_SLOTS_MIN && n <= FSC_REQ_SLOTS_MAX &&
	    (n & (n - 1)) == 0 && r->slot_size == slot_size &&
	    size == FSC_REQ_HEADER_SIZE + (size_t)n * slot_size &&
	    !(trusted && (uatomic_read(&r->flags) & FSC_REQ_F_CHECKED))) {
		m->req = r;
		m->req_size = size;
		m->req_slots = n;
		m->req_slot_size = slot_size;
		m->req_trusted = trusted;
		/* The pages a first request writes (the header's head, the
		 * next slots), so it does not pay two write faults; not the
		 * whole ring: open() stays cheap. */
		long pg = sysconf(_SC_PAGESIZE);
		size_t at =
			FSC_REQ_HEADER_SIZE +
			(size_t)(uatomic_read(&r->head) & (n - 1)) * slot_size;
		if (pg > 0) {
			at -= at % (size_t)pg;
			fsc__prefault(p, (size_t)pg, 1);
			if (at)
				fsc__prefault((char *)p + at,
					      size - at < 2 * (size_t)pg
						      ? size - at
						      : 2 * (size_t)pg,
					      1);
		}
	} else {
		munmap(p, size);
	}
}

/*
 * The segment `ino` is of another format major: say so where every major
 * looks (the recency object's version_mismatches, a frozen offset; see
 * docs/COMPATIBILITY.md), once per object per handle.  Best effort: a
 * missing or foreign .use object only loses the count.
 */
static inline void fsc__count_mismatch(fsc_handle *h, uint64_t ino)
{
	char shm[FSC_SHM_NAME_SIZE];
	struct stat st;
	if (h->mismatch_ino == ino)
		return;
	h->mismatch_ino = ino;
	fsc_shm_name(shm, sizeof(shm), h->name, 1);
	int fd = shm_open(shm, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && fsc_owner_ok(&st, h->owner, 1) &&
	    st.st_size >= (off_t)FSC_USE_HEADER_SIZE) {
		void *p = mmap(NULL, FSC_USE_HEADER_SIZE,
			       PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			struct fsc_use_header *u = (struct fsc_use_header *)p;
			if (uatomic_read(&u->magic) == FSC_USE_MAGIC)
				fsc__add_shared_u64(&u->version_mismatches, 1);
			munmap(p, FSC_USE_HEADER_SIZE);
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
	memcpy(m->dest.sun_path, path,
	       (size_t)((const uint8_t *)nul - path) + 1);
	m->dest_len = (socklen_t)sizeof(m->dest);
	return 0;
}

/* Open, check and map the instance's current segment. */
static inline int fsc__map_open(fsc_handle *hd, struct fsc__map **out)
{
	char shm[FSC_SHM_NAME_SIZE];
	struct stat st;
	fsc_shm_name(shm, sizeof(shm), hd->name, 0);
	int fd = shm_open(shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	void *p = MAP_FAILED;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!fsc_owner_ok(&st, hd->owner, 0))
		err = -EPERM;
	else if (st.st_size < (off_t)FSC_HEADER_SIZE)
		err = -EAGAIN; /* the writer has not sized it yet */
	if (!err) {
		/* 2 MiB-aligned, so huge pages can be mapped (hugepages.h). */
		void *at = fsc_huge_reserve((size_t)st.st_size);
		p = mmap(at, (size_t)st.st_size, PROT_READ,
			 MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0);
		if (p == MAP_FAILED) {
			err = -errno;
			if (at)
				munmap(at, (size_t)st.st_size);
		} else {
			fsc_huge_advise(p, (size_t)st.st_size);
		}
	}
	struct fsc__map *m = NULL;
	if (!err && !(m = (struct fsc__map *)FSC__MAP_ALLOC(sizeof(*m)))) {
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
	/* Frozen in every major (COMPATIBILITY.md): magic and version_major. */
	if (uatomic_read(&fsc__hdr(m)->magic) == FSC_MAGIC &&
	    uatomic_read(&fsc__hdr(m)->version_major) != FSC_FORMAT_MAJOR) {
		close(fd);
		fsc__unmap(m);
		fsc__count_mismatch(hd, (uint64_t)st.st_ino);
		return -EPROTONOSUPPORT;
	}
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
	if (fsc_geometry_check(&h, m->size) != FSC_GEOM_OK ||
	    fsc__map_socket(m, &h) < 0) {
		fsc__unmap(m);
		return -EPROTO;
	}
	if (!fsc__serving(m)) { /* the writer's lock is already free */
		fsc__unmap(m);
		return -ENOENT;
	}
	/* Paths name other files in another mount namespace (set before
	 * status, as the geometry). */
	if (!fsc_mnt_ns_ok(uatomic_read(&fsc__hdr(m)->mnt_ns), hd->mnt_ns,
			   (hd->flags & FSC_OPEN_ANY_MOUNT_NS) != 0)) {
		fsc__unmap(m);
		return -EXDEV;
	}
	m->seed = h.hash_seed;
	m->epoch = h.epoch;
	m->slot_count = h.slot_count;
	m->mask = h.slot_count - 1;
	m->entry_size = h.entry_size;
	m->path_max = h.path_max;
	m->probe_limit = h.probe_limit;
	m->seg_flags = h.flags;
	/* The table is not faulted in here: a read fault maps the 64 KiB
	 * around it (fault-around), so a lookup takes one fault where
	 * MADV_POPULATE_READ of a 1.5 MiB table costs an open 130 us more
	 * than that fault (docs/BENCHMARKS.md, "Where the time goes"). */
	fsc__map_use(m, hd->name, hd->owner);
	fsc__map_req(m, hd->name, hd->owner, h.owner_uid);
	fsc__map_tags(m, hd->name, hd->owner);
	*out = m;
	return 0;
}

/*
 * Replace the current mapping (if `seen` is still current) by the segment
 * the name now holds.  One thread at a time; others answer by stat().
 * Rate-limited, except when the old segment says it was retired.
 */
static inline int fsc__reattach(fsc_handle *h, struct fsc__map *seen, int force)
{
	if (uatomic_cmpxchg(&h->attaching, 0, 1) != 0)
		return -EAGAIN;
	int err = -EAGAIN;
	uint64_t now = fsc__now_ns();
	/* A retired segment names its successor at once: try without waiting,
	 * but only once per segment (a clean stop retires with no successor). */
	int retired = seen && seen != h->retired_tried &&
		      uatomic_read(&fsc__hdr(seen)->status) ==
			      FSC_STATUS_RETIRED;
	if (uatomic_read(&h->map) == seen &&
	    (force || retired || now >= h->next_attach_ns)) {
		struct fsc__map *m = NULL;
		h->next_attach_ns = now + FSC_REATTACH_INTERVAL_MS * 1000000ull;
		if (retired)
			h->retired_tried = seen;
		err = fsc__map_open(h, &m);
		uatomic_set(&h->attach_err, err);
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

/* Defined in reader/count.h: adds the handle's counts to the segment's. */
static inline void fsc__publish_counts(fsc_handle *h, struct fsc__map *m);

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
	const char *any = getenv("FSTATCACHE_ANY_MOUNT_NS");
	if (any && strcmp(any, "1") == 0)
		h->flags |= FSC_OPEN_ANY_MOUNT_NS;
	h->mnt_ns = fsc_mnt_ns_self();
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

static inline int fsc_attached(fsc_handle *h)
{
	return fsc__current(h) != NULL;
}

static inline int fsc_attach_error(fsc_handle *h)
{
	if (!h)
		return -EINVAL;
	return fsc__current(h) ? 0 : uatomic_read(&h->attach_err);
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_READER_ATTACH_H */
