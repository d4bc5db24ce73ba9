/*
 * fstatcache/reader/changes.h - the change feed: what changed since a
 * cursor, with no system call.
 *
 * Inline implementation of fstatcache.h; include that, not this.
 *
 * The writer appends a record to the feed object for every answer it
 * publishes (format.h, "The change feed").  A reader copies each record
 * into private memory, then checks that the writer's tail has not passed
 * it (the ring's seqlock: a copy made while the record was overwritten is
 * never believed), then validates the copy (position, length, kind, path,
 * flags, mode) as it validates a copied entry.  Any doubt ends in
 * FSC_RESYNC (a full pass), never in a skipped change.
 */
#ifndef FSTATCACHE_READER_CHANGES_H
#define FSTATCACHE_READER_CHANGES_H

#ifndef FSTATCACHE_FSTATCACHE_H
#error "include <fstatcache/fstatcache.h> instead"
#endif

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fstatcache/atomics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MAP_POPULATE is Linux's, not POSIX's: absent with _POSIX_C_SOURCE alone. */
#ifdef MAP_POPULATE
#define FSC__MAP_POPULATE MAP_POPULATE
#else
#define FSC__MAP_POPULATE 0
#endif

/* The largest record: header, entry, the longest path area. */
#define FSC__FEED_REC_MAX \
	(FSC_FEED_REC_FIXED + FSC_FEED_ENTRY + FSC_PATH_MAX_MAX)

static inline const struct fsc_feed_header *
fsc__feed_hdr(const struct fsc__feed *f)
{
	return (const struct fsc_feed_header *)(const void *)f->base;
}

/* Open, check and map the feed of mapping `m`: 0 or -errno. */
static inline int fsc__feed_open(const fsc_handle *h, const struct fsc__map *m,
				 struct fsc__feed *out)
{
	char shm[FSC_SHM_NAME_SIZE];
	struct stat st;
	int err = 0;
	void *p = MAP_FAILED;

	if (!(m->seg_flags & FSC_SEG_F_FEED))
		return -EOPNOTSUPP; /* a writer of format 1.2 or older */
	fsc_shm_name(shm, sizeof(shm), h->name, FSC_OBJ_FEED);
	int fd = shm_open(shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!fsc_owner_ok(&st, h->owner, 0))
		err = -EPERM;
	else if (st.st_size <
			 (off_t)(FSC_FEED_HEADER_SIZE + FSC_FEED_SIZE_MIN) ||
		 st.st_size > (off_t)(FSC_FEED_HEADER_SIZE + FSC_FEED_SIZE_MAX))
		err = -EPROTO;
	/* Populated now, once: a follower reads the whole ring in time,
	 * and its polls should not take a page fault each (1 MiB by
	 * default: a few hundred microseconds, at the first call). */
	if (!err) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ,
			 MAP_SHARED | FSC__MAP_POPULATE, fd, 0);
		if (p == MAP_FAILED)
			err = -errno;
	}
	close(fd);
	if (err)
		return err;
	const struct fsc_feed_header *fh =
		(const struct fsc_feed_header *)(const void *)p;
	uint32_t ring = uatomic_read(&fh->ring_size);
	/* Another segment's feed (a writer replacing ours) is no feed. */
	if (uatomic_read(&fh->magic) != FSC_FEED_MAGIC ||
	    uatomic_read(&fh->epoch) != m->epoch) {
		munmap(p, (size_t)st.st_size);
		return -ENOENT;
	}
	if (ring < FSC_FEED_SIZE_MIN || ring > FSC_FEED_SIZE_MAX ||
	    (ring & (ring - 1)) ||
	    (uint64_t)st.st_size != FSC_FEED_HEADER_SIZE + (uint64_t)ring) {
		munmap(p, (size_t)st.st_size);
		return -EPROTO;
	}
	out->base = (const unsigned char *)p;
	out->size = (size_t)st.st_size;
	out->ring = ring;
	return 0;
}

/* The feed of `m`, mapped on first use; NULL with *err set if none. */
static inline const struct fsc__feed *fsc__feed(const fsc_handle *h,
						struct fsc__map *m, int *err)
{
	struct fsc__feed *f = uatomic_read(&m->feed);
	cmm_smp_read_barrier_depends();
	if (f)
		return f;
	f = (struct fsc__feed *)calloc(1, sizeof(*f));
	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	if ((*err = fsc__feed_open(h, m, f)) < 0) {
		free(f);
		return NULL;
	}
	cmm_smp_wmb(); /* pairs with cmm_smp_read_barrier_depends */
	struct fsc__feed *had =
		uatomic_cmpxchg(&m->feed, (struct fsc__feed *)NULL, f);
	if (had) { /* another thread mapped it first */
		munmap((void *)(uintptr_t)f->base, f->size);
		free(f);
		cmm_smp_read_barrier_depends();
		return had;
	}
	return f;
}

/* The cursor for "everything up to now; look at all first". */
static inline int fsc__resync(struct fsc_cursor *cur, uint64_t epoch,
			      uint64_t pos)
{
	cur->epoch = epoch;
	cur->pos = pos;
	return FSC_RESYNC;
}

/* Copy `n` bytes (a multiple of 8) of the ring from offset `off`. */
static inline void fsc__feed_copy(const struct fsc__feed *f, uint32_t off,
				  uint64_t *dst, uint32_t n)
{
	const uint64_t *src =
		(const uint64_t *)(const void *)(f->base +
						 FSC_FEED_HEADER_SIZE + off);
	for (uint32_t w = 0; w < n / 8; w++)
		dst[w] = uatomic_read(&src[w]);
}

/*
 * Turn a copied, whole record into a change; 0, or -EPROTO for a record
 * no writer of this format would have written.  A longer record is one
 * of a newer format minor (fields added after the path): accepted.
 */
static inline int fsc__change_from(uint32_t path_max, const uint64_t *buf,
				   uint32_t len, uint32_t kind,
				   struct fsc_change *c)
{
	const struct fsc_entry *e =
		(const struct fsc_entry *)(const void *)((const unsigned char *)
								 buf +
							 FSC_FEED_REC_FIXED);
	const char *path = (const char *)e + FSC_FEED_ENTRY;
	uint32_t plen = e->path_len, flags = e->flags;
	uint32_t want =
		FSC_FEED_REC_FIXED + FSC_FEED_ENTRY + (plen / 8 + 1) * 8;

	want = (want + FSC_FEED_ALIGN - 1) & ~(FSC_FEED_ALIGN - 1);
	if (len < FSC_FEED_REC_FIXED + FSC_FEED_ENTRY + 8 || plen >= path_max ||
	    len < want || path[plen] != '\0' || strlen(path) != plen ||
	    !fsc_path_ok(path, plen) || !(flags & FSC_ENT_USED))
		return -EPROTO;
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->path = path;
	c->path_len = plen;
	fsc__copy_entry(e, &c->st);
	if (!fsc__copy_ok(flags, &c->st))
		return -EPROTO;
	if (kind == FSC_CHANGE_MARKED || kind == FSC_CHANGE_EVICTED ||
	    kind == FSC_CHANGE_REMOVED || (flags & FSC_ENT_NOCACHE)) {
		memset(&c->st, 0, sizeof(c->st));
		c->status = FSC_UNCACHED;
		return 0;
	}
	fsc__set_exists(&c->st, flags);
	c->st.source = FSC_SOURCE_CACHE;
	return 0;
}

#if FSC_HAVE_U64_ATOMICS
/*
 * The walk of fsc_changes() over feed `f` of a segment of `epoch` and
 * `path_max` (tests call it on a feed they fabricate).
 */
static inline int fsc__feed_walk(const struct fsc__feed *f, uint64_t epoch,
				 uint32_t path_max, struct fsc_cursor *cur,
				 fsc_change_fn fn, void *arg)
{
	const struct fsc_feed_header *fh = fsc__feed_hdr(f);
	uint64_t head = fsc_load_u64(&fh->head);
	cmm_smp_rmb(); /* pairs with the writer's F2: records below head */
	uint64_t pos = cur->pos;
	/* A position no writer made (another epoch, the future, not on a
	 * record boundary) starts afresh. */
	if (cur->epoch != epoch || pos > head || pos % FSC_FEED_ALIGN)
		return fsc__resync(cur, epoch, head);
	if (pos == head)
		return 0;
	uint64_t buf[FSC__FEED_REC_MAX / 8];
	uint32_t mask = f->ring - 1;
	while (pos < head) {
		uint32_t off = (uint32_t)pos & mask;
		fsc__feed_copy(f, off, buf, FSC_FEED_REC_FIXED);
		struct fsc_feed_record r;
		memcpy(&r, buf, sizeof(r));
		int sane = r.len >= FSC_FEED_REC_FIXED &&
			   r.len % FSC_FEED_ALIGN == 0 &&
			   r.len <= f->ring - off && r.len <= head - pos &&
			   r.len <= FSC__FEED_REC_MAX && r.pos == pos;
		uint32_t body = 0;
		if (sane && r.kind != FSC_CHANGE_PAD &&
		    r.kind < FSC_CHANGE_KNOWN) {
			body = r.len;
			fsc__feed_copy(f, off, buf, body);
		}
		cmm_smp_rmb(); /* pairs with the writer's F1 */
		if (fsc_load_u64(&fh->tail) > pos) { /* lapped: torn copy */
			uint64_t now = fsc_load_u64(&fh->head);
			return fsc__resync(cur, epoch, now);
		}
		if (!sane)
			return -EPROTO;
		pos += r.len;
		if (r.kind == FSC_CHANGE_PAD)
			continue;
		/* ALL, or a kind of a newer format minor that this reader
		 * cannot read: anything may have changed. */
		if (r.kind == FSC_CHANGE_ALL || r.kind >= FSC_CHANGE_KNOWN)
			return fsc__resync(cur, epoch, pos);
		struct fsc_change c;
		if (fsc__change_from(path_max, buf, body, r.kind, &c) < 0)
			return -EPROTO;
		cur->pos = pos;
		if (fn(arg, &c))
			return 0;
	}
	cur->pos = pos;
	return 0;
}
#endif

static inline int fsc_changes(fsc_handle *h, struct fsc_cursor *cur,
			      fsc_change_fn fn, void *arg)
{
	if (!h || !cur || !fn)
		return -EINVAL;
#if !FSC_HAVE_U64_ATOMICS
	return -ENOSYS;
#else
	/* Changes after a writer's death go unrecorded: with no live
	 * writer, ask for a full pass (which stat() answers). */
	struct fsc__map *m = fsc__current(h);
	if (!m)
		return fsc__resync(cur, 0, 0);
	int err = 0;
	const struct fsc__feed *f = fsc__feed(h, m, &err);
	if (!f)
		return err;
	return fsc__feed_walk(f, m->epoch, m->path_max, cur, fn, arg);
#endif
}

/*
 * FUTEX_WAIT with a relative timeout in ms, whatever this ABI's struct
 * timespec is: a 32-bit program built with _TIME_BITS=64 has a 64-bit
 * timespec that SYS_futex would misread, so the kernel's own layouts are
 * passed (futex_time64 first where it exists, Linux 5.1+).
 */
static inline long fsc__futex_wait(uint32_t *word, uint32_t val, int ms)
{
	long sec = ms / 1000, nsec = (long)(ms % 1000) * 1000000L;
#if defined(SYS_futex_time64) && !defined(__LP64__)
	struct {
		int64_t tv_sec, tv_nsec;
	} t64 = { sec, nsec };
	long r =
		syscall(SYS_futex_time64, word, FUTEX_WAIT, val, &t64, NULL, 0);
	if (r == 0 || errno != ENOSYS)
		return r;
#endif
#if defined(SYS_futex)
#if defined(__x86_64__) && defined(__ILP32__) /* x32: 64-bit fields */
	struct {
		int64_t tv_sec, tv_nsec;
	} t = { sec, nsec };
#else
	struct {
		long tv_sec, tv_nsec;
	} t = { sec, nsec };
#endif
	return syscall(SYS_futex, word, FUTEX_WAIT, val, &t, NULL, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static inline void fsc__nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static inline int fsc_changes_wait(fsc_handle *h, const struct fsc_cursor *cur,
				   int timeout_ms)
{
	if (!h || !cur || timeout_ms < 0)
		return -EINVAL;
#if !FSC_HAVE_U64_ATOMICS
	return -ENOSYS;
#else
	struct fsc__map *m = fsc__current(h);
	int err = 0;
	const struct fsc__feed *f = m ? fsc__feed(h, m, &err) : NULL;
	if (!f) { /* nothing to wait on: no writer, or no feed */
		fsc__nap_ms(timeout_ms);
		return 0;
	}
	const struct fsc_feed_header *fh = fsc__feed_hdr(f);
	struct fsc_use_header *u =
		m->use ? (struct fsc_use_header *)(void *)m->use : NULL;
	if (!u) { /* nobody would wake us: nap */
		if (cur->epoch == m->epoch &&
		    fsc_load_u64(&fh->head) == cur->pos)
			fsc__nap_ms(timeout_ms);
		return 0;
	}
	uatomic_add(&u->feed_waiters, 1);
	/* Pairs with the writer's barrier between bumping feed_wake and
	 * loading feed_waiters: one of the two sees the other. */
	cmm_smp_mb();
	uint32_t w = uatomic_read(&u->feed_wake);
	cmm_smp_rmb(); /* pairs with the writer's wmb: head before wake */
	if (cur->epoch == m->epoch && fsc_load_u64(&fh->head) == cur->pos &&
	    fsc__serving(m)) {
		/* A kernel that refuses the wait: nap instead, never spin. */
		if (fsc__futex_wait(&u->feed_wake, w, timeout_ms) < 0 &&
		    errno != EAGAIN && errno != ETIMEDOUT && errno != EINTR)
			fsc__nap_ms(timeout_ms);
	}
	uatomic_add(&u->feed_waiters, -1);
	return 0;
#endif
}

static inline const char *fsc_change_name(unsigned kind)
{
	switch (kind) {
	case FSC_CHANGE_ADDED:
		return "added";
	case FSC_CHANGE_CHANGED:
		return "changed";
	case FSC_CHANGE_CREATED:
		return "created";
	case FSC_CHANGE_DELETED:
		return "deleted";
	case FSC_CHANGE_MARKED:
		return "marked";
	case FSC_CHANGE_EVICTED:
		return "evicted";
	case FSC_CHANGE_REMOVED:
		return "removed";
	default:
		return NULL;
	}
}

static inline int fsc_cursor_format(const struct fsc_cursor *cur, char *buf,
				    size_t size)
{
	if (!cur || !buf || size < FSC_CURSOR_TEXT_SIZE)
		return -EINVAL;
	snprintf(buf, size, "%016llx-%llx", (unsigned long long)cur->epoch,
		 (unsigned long long)cur->pos);
	return 0;
}

static inline int fsc_cursor_parse(const char *text, struct fsc_cursor *cur)
{
	uint64_t v[2] = { 0, 0 };
	const char *s = text;
	if (!text || !cur)
		return -EINVAL;
	for (int i = 0; i < 2; i++) {
		int digits = 0;
		for (; *s && *s != '-'; s++, digits++) {
			char c = *s;
			int d = (c >= '0' && c <= '9')   ? c - '0'
				: (c >= 'a' && c <= 'f') ? c - 'a' + 10
				: (c >= 'A' && c <= 'F') ? c - 'A' + 10
							 : -1;
			if (d < 0 || digits >= 16)
				return -EINVAL;
			v[i] = v[i] << 4 | (uint64_t)d;
		}
		if (!digits || (i == 0 && *s++ != '-'))
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	cur->epoch = v[0];
	cur->pos = v[1];
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_READER_CHANGES_H */
