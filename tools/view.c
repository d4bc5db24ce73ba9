/*
 * view.c - read-only mappings of an instance's objects for inspect, top and
 * check (see view.h), plus the names those subcommands print.
 *
 * The table is mapped at the size fstat() reports, and every offset used
 * later is checked against that size through the geometry copied once at
 * open, never re-read.  A slot is copied with seqlock.h's read side, as a
 * reader copies an entry, applied to the whole slot.
 */
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstatcache/admin.h>

static const char *const counter_names[] = {
	[FSC_CTR_EVENTS] = "events",
	[FSC_CTR_BATCHES] = "batches",
	[FSC_CTR_COALESCED] = "coalesced",
	[FSC_CTR_STATS] = "stats",
	[FSC_CTR_INSERTS] = "inserts",
	[FSC_CTR_UPDATES] = "updates",
	[FSC_CTR_EVICTIONS] = "evictions",
	[FSC_CTR_OVERFLOWS] = "overflows",
	[FSC_CTR_WATCHES] = "watches",
	[FSC_CTR_WATCH_FAILURES] = "watch_failures",
	[FSC_CTR_REQUESTS] = "requests",
	[FSC_CTR_REQUESTS_REFUSED] = "requests_refused",
	[FSC_CTR_UNCACHEABLE] = "uncacheable",
	[FSC_CTR_REVALIDATIONS] = "revalidations",
	[FSC_CTR_MOVES] = "moves",
	[FSC_CTR_SYNCS] = "syncs",
	[FSC_CTR_PATHS] = "paths",
	[FSC_CTR_REMOVALS] = "removals",
	[FSC_CTR_WATCH_LIMIT] = "watch_limit",
	[FSC_CTR_CHANGED_MARKS] = "changed_marks",
	[FSC_CTR_DRAIN_PAUSES] = "drain_pauses",
	[FSC_CTR_PAUSE_US] = "pause_us",
	[FSC_CTR_MOUNT_CHANGES] = "mount_changes",
	[FSC_CTR_FILE_MARKS] = "file_marks",
	[FSC_CTR_FEED_WAKES] = "feed_wakes",
	[FSC_CTR_GROWTHS] = "growths",
	[FSC_CTR_REFAULTS] = "refaults",
	[FSC_CTR_NOT_ADMITTED] = "not_admitted",
	[FSC_CTR_QUIETED] = "quieted",
	[FSC_CTR_USE_TRUNCATED] = "use_truncated",
};
/* A new counter in format.h must get a name (and a line in fstatcache(1)). */
_Static_assert(sizeof(counter_names) / sizeof(counter_names[0]) ==
		       FSC_CTR_KNOWN,
	       "every FSC_CTR_* needs a name");

const char *view_counter_name(unsigned i)
{
	return i < FSC_CTR_KNOWN ? counter_names[i] : NULL;
}

const char *view_status_name(uint32_t status)
{
	switch (status) {
	case FSC_STATUS_INIT:
		return "init";
	case FSC_STATUS_SERVING:
		return "serving";
	case FSC_STATUS_REVALIDATING:
		return "revalidating";
	case FSC_STATUS_RETIRED:
		return "retired";
	default:
		return NULL;
	}
}

const char *view_reason_name(uint32_t reason)
{
	switch (reason) {
	case FSC_REASON_FSTYPE:
		return "fstype";
	case FSC_REASON_WATCH_LIMIT:
		return "watch_limit";
	case FSC_REASON_STAT_ERROR:
		return "stat_error";
	case FSC_REASON_WATCH_ERROR:
		return "watch_error";
	case FSC_REASON_CHANGED:
		return "changed";
	case FSC_REASON_PRIVATE:
		return "private";
	case FSC_REASON_RANGE:
		return "range";
	default:
		return NULL;
	}
}

const char *view_events_name(uint32_t flags)
{
	return (flags & FSC_SEG_F_FANOTIFY) ? "fanotify" : "inotify";
}

enum view_liveness view_liveness(uint32_t alive)
{
	if (alive & FSC_WRITER_DIED)
		return VIEW_DEAD;
	return (alive & FSC_WRITER_TID_MASK) ? VIEW_ALIVE : VIEW_STOPPED;
}

const char *view_liveness_name(enum view_liveness l)
{
	return l == VIEW_ALIVE ? "alive" : l == VIEW_DEAD ? "dead" : "stopped";
}

uid_t view_expected_owner(void)
{
	const char *o = getenv("FSTATCACHE_OWNER_UID");
	if (o && *o) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(o, &end, 10);
		if (!errno && !*end && v <= 0xfffffffful)
			return (uid_t)v;
	}
	return geteuid();
}

void view_read_header(const struct view *v, struct fsc_header *out)
{
	fsc_header_copy((const struct fsc_header *)(const void *)v->base, out);
}

int view_read_use(const struct view *v, struct fsc_use_header *out)
{
	if (v->use_err)
		return v->use_err;
	const struct fsc_use_header *u =
		(const struct fsc_use_header *)(const void *)v->use;
	out->magic = u->magic;
	out->epoch = u->epoch;
	out->slot_count = u->slot_count;
	out->feed_waiters = uatomic_read(&u->feed_waiters);
	/* Readers add to these with atomic adds at any time. */
	out->reader_hits = uatomic_read(&u->reader_hits);
	out->reader_misses = uatomic_read(&u->reader_misses);
	out->reader_uncached = uatomic_read(&u->reader_uncached);
	out->version_mismatches = uatomic_read(&u->version_mismatches);
	out->feed_wake = uatomic_read(&u->feed_wake);
	out->reserved1 = uatomic_read(&u->reserved1);
	return 0;
}

/*
 * Bounds that make every slot readable: the slot layout of contract.h and
 * a table that fits in the mapping.  Looser than fsc_geometry_check()
 * (which also wants the magic, the major and segment_size to match), so
 * check can look at the entries of a segment whose header is wrong in
 * other ways.
 */
static int layout_ok(const struct fsc_header *h, size_t size)
{
	return fsc_layout_check(h) == FSC_GEOM_OK &&
	       fsc_layout_size(h) <= (uint64_t)size;
}

static int map_fd(int fd, size_t size, const unsigned char **out)
{
	/* 2 MiB-aligned, as readers map it, so huge pages show (hugepages.h) */
	void *at = fsc_huge_reserve(size);
	void *p = mmap(at, size, PROT_READ, MAP_SHARED | (at ? MAP_FIXED : 0),
		       fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;
		if (at)
			munmap(at, size);
		return err;
	}
	*out = p;
	return 0;
}

/*
 * Map, read-only, an object beside the table that begins as .use and .tags
 * do (magic, epoch, slot_count at offsets 0, 8 and 16: format.h pins
 * both) and is exactly `want` bytes: 0; -EPERM (owner or mode, with the
 * writable-by-group allowance when `rw`); -EPROTO (size, magic, epoch or
 * slot_count not the table's); or an errno of shm_open/fstat/mmap.
 */
static int open_beside(const struct view *v, const char *shm, int rw,
		       uint64_t magic, size_t want, struct stat *st,
		       const unsigned char **out)
{
	*out = NULL;
	int fd = shm_open(shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	if (fstat(fd, st) < 0)
		err = -errno;
	else if (!fsc_owner_ok(st, v->owner, rw))
		err = -EPERM;
	else if ((uint64_t)st->st_size != want)
		err = -EPROTO;
	else
		err = map_fd(fd, want, out);
	close(fd);
	if (err)
		return err;
	uint64_t m, e;
	uint32_t n;
	memcpy(&m, *out, sizeof(m));
	memcpy(&e, *out + 8, sizeof(e));
	memcpy(&n, *out + 16, sizeof(n));
	if (m != magic || e != v->hdr.epoch || n != v->slot_count) {
		munmap((void *)(uintptr_t)*out, want);
		*out = NULL;
		return -EPROTO;
	}
	return 0;
}

/* The .use object; sets use_err instead of failing the view. */
static void open_use(struct view *v)
{
	size_t want = FSC_USE_HEADER_SIZE + (size_t)v->slot_count;
	v->use_err = open_beside(v, v->use_shm, 1, FSC_USE_MAGIC, want,
				 &v->use_st, &v->use);
	v->use_size = v->use ? want : 0;
}

/* The tag array; sets tags_err instead of failing the view. */
static void open_tags(struct view *v)
{
	size_t want =
		FSC_TAGS_HEADER_SIZE + (size_t)v->slot_count * sizeof(uint16_t);
	v->tags_err = -ENOENT;
	if (!(v->hdr.flags & FSC_SEG_F_TAGS))
		return;
	v->tags_err = open_beside(v, v->tags_shm, 0, FSC_TAGS_MAGIC, want,
				  &v->tags_st, &v->tags_base);
	v->tags_size = v->tags_base ? want : 0;
	v->tags =
		v->tags_base
			? (const uint16_t *)(const void *)(v->tags_base +
							   FSC_TAGS_HEADER_SIZE)
			: NULL;
}

int view_read_feed(const struct view *v, struct fsc_feed_header *out)
{
	struct stat st;
	const unsigned char *p = NULL;
	int err = 0;

	if (!(v->hdr.flags & FSC_SEG_F_FEED))
		return -ENOENT;
	int fd = shm_open(v->feed_shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!fsc_owner_ok(&st, v->owner, 0))
		err = -EPERM;
	else if (st.st_size < (off_t)FSC_FEED_HEADER_SIZE)
		err = -EPROTO;
	else
		err = map_fd(fd, FSC_FEED_HEADER_SIZE, &p);
	close(fd);
	if (err)
		return err;
	const struct fsc_feed_header *f = (const void *)p;
	out->magic = uatomic_read(&f->magic);
	out->epoch = uatomic_read(&f->epoch);
	out->ring_size = uatomic_read(&f->ring_size);
#if FSC_HAVE_U64_ATOMICS
	out->head = fsc_load_u64(&f->head);
	out->tail = fsc_load_u64(&f->tail);
	out->records = fsc_load_u64(&f->records);
#endif
	munmap((void *)(uintptr_t)p, FSC_FEED_HEADER_SIZE);
	if (out->magic != FSC_FEED_MAGIC || out->epoch != v->hdr.epoch ||
	    (uint64_t)st.st_size !=
		    FSC_FEED_HEADER_SIZE + (uint64_t)out->ring_size)
		return -EPROTO;
	return 0;
}

int view_read_req(const struct view *v, struct fsc_req_header *out)
{
	struct stat st;
	const unsigned char *p = NULL;
	int err = 0;

	int fd = shm_open(v->req_shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!fsc_owner_ok(&st, v->owner, 1))
		err = -EPERM;
	else if (st.st_size < (off_t)FSC_REQ_HEADER_SIZE)
		err = -EPROTO;
	else
		err = map_fd(fd, FSC_REQ_HEADER_SIZE, &p);
	close(fd);
	if (err)
		return err;
	const struct fsc_req_header *r = (const void *)p;
	memset(out, 0, sizeof(*out));
	out->magic = uatomic_read(&r->magic);
	out->epoch = uatomic_read(&r->epoch);
	out->ring_slots = uatomic_read(&r->ring_slots);
	out->slot_size = uatomic_read(&r->slot_size);
	out->head = uatomic_read(&r->head);
	out->tail = uatomic_read(&r->tail);
	out->doorbell = uatomic_read(&r->doorbell);
	out->flags = uatomic_read(&r->flags);
#if FSC_HAVE_U64_ATOMICS
	out->taken = fsc_load_u64(&r->taken);
	out->dropped = fsc_load_u64(&r->dropped);
	out->rung = fsc_load_u64(&r->rung);
#endif
	munmap((void *)(uintptr_t)p, FSC_REQ_HEADER_SIZE);
	if (out->magic != FSC_REQ_MAGIC || out->epoch != v->hdr.epoch ||
	    (uint64_t)st.st_size !=
		    FSC_REQ_HEADER_SIZE +
			    (uint64_t)out->ring_slots * out->slot_size)
		return -EPROTO;
	return 0;
}

int view_open(struct view *v, const char *name, unsigned flags)
{
	memset(v, 0, sizeof(*v));
	v->use_err = -ENOENT;
	fsc_shm_name(v->shm, sizeof(v->shm), name, 0);
	fsc_shm_name(v->use_shm, sizeof(v->use_shm), name, FSC_OBJ_USE);
	fsc_shm_name(v->feed_shm, sizeof(v->feed_shm), name, FSC_OBJ_FEED);
	fsc_shm_name(v->req_shm, sizeof(v->req_shm), name, FSC_OBJ_REQ);
	fsc_shm_name(v->tags_shm, sizeof(v->tags_shm), name, FSC_OBJ_TAGS);
	v->tags_err = -ENOENT;
	v->owner = view_expected_owner();
	int fd = shm_open(v->shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	if (fstat(fd, &v->st) < 0)
		err = -errno;
	else if (!S_ISREG(v->st.st_mode))
		err = -EPERM;
	else if (!(v->owner_ok = fsc_owner_ok(&v->st, v->owner, 0)) &&
		 !(flags & VIEW_ANY_OWNER))
		err = -EPERM;
	else if (v->st.st_size < (off_t)FSC_HEADER_SIZE)
		err = -EBADMSG;
	else if ((uint64_t)v->st.st_size > SIZE_MAX)
		err = -EFBIG;
	else
		err = map_fd(fd, (size_t)v->st.st_size, &v->base);
	close(fd);
	if (err)
		return err;
	v->size = (size_t)v->st.st_size;
	view_read_header(v, &v->hdr);
	v->valid = fsc_geometry_check(&v->hdr, v->size) == FSC_GEOM_OK;
	v->layout_ok = layout_ok(&v->hdr, v->size);
	if (v->layout_ok) {
		v->slot_count = v->hdr.slot_count;
		v->mask = v->slot_count - 1;
		v->entry_size = v->hdr.entry_size;
		v->path_max = v->hdr.path_max;
		v->probe_limit = v->hdr.probe_limit;
		v->seed = v->hdr.hash_seed;
		open_use(v);
		open_tags(v);
	}
	return 0;
}

void view_close(struct view *v)
{
	if (v->base)
		munmap((void *)(uintptr_t)v->base, v->size);
	if (v->use)
		munmap((void *)(uintptr_t)v->use, v->use_size);
	if (v->tags_base)
		munmap((void *)(uintptr_t)v->tags_base, v->tags_size);
	v->base = NULL;
	v->use = NULL;
	v->tags_base = NULL;
	v->tags = NULL;
}

/* Relaxed word loads of `n` bytes (a multiple of 8) from shared memory. */
static void copy_words(void *dst, const unsigned char *src, size_t n)
{
	const uint64_t *w = (const uint64_t *)(const void *)src;
	uint64_t *d = dst;
	for (size_t i = 0; i < n / 8; i++)
		d[i] = uatomic_read(&w[i]);
}

int view_slot_copy(const struct view *v, uint32_t slot, void *buf,
		   unsigned tries, int yield)
{
	uint16_t tag;
	return view_slot_copy_tag(v, slot, buf, &tag, tries, yield);
}

int view_slot_copy_tag(const struct view *v, uint32_t slot, void *buf,
		       uint16_t *tag, unsigned tries, int yield)
{
	const unsigned char *e =
		v->base + FSC_HEADER_SIZE + (size_t)slot * v->entry_size;
	const uint32_t *seq = (const uint32_t *)(const void *)e;
	struct fsc_entry *copy = buf;
	for (unsigned i = 0; i < tries; i++) {
		if (i) {
			if (yield)
				sched_yield();
			else
				caa_cpu_relax();
		}
		uint32_t s1 = fsc_seq_read_begin(seq);
		copy->seq = s1;
		if (s1 & 1)
			continue;
		copy_words(copy, e, FSC_ENTRY_FIXED);
		if (copy->flags & FSC_ENT_USED)
			copy_words((unsigned char *)buf + FSC_ENTRY_FIXED,
				   e + FSC_ENTRY_FIXED, v->path_max);
		copy_words(fsc_entry_cold(buf, v->path_max),
			   (const unsigned char *)fsc_entry_cold(e,
								 v->path_max),
			   FSC_ENTRY_COLD);
		*tag = v->tags ? uatomic_read(&v->tags[slot]) : 0;
		if (fsc_seq_read_retry(seq, s1))
			continue;
		copy->seq = s1;
		return 0;
	}
	return -EBUSY;
}

int view_entry_key_ok(const struct view *v, const struct fsc_entry *e)
{
	const char *p = view_entry_path(e);
	return e->path_len >= 1 && e->path_len < v->path_max &&
	       p[e->path_len] == '\0' && !memchr(p, 0, e->path_len);
}

/* ---- SIGBUS guard --------------------------------------------------- */

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

int view_guarded(int (*fn)(void *arg), void *arg)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old) < 0)
		return fn(
			arg); /* unguarded, but still correct when nothing shrinks */
	int r;
	if (sigsetjmp(bus_jmp, 1) == 0)
		r = fn(arg);
	else
		r = -EFAULT;
	sigaction(SIGBUS, &old, NULL);
	return r;
}
