/*
 * segment.c - create, publish, take over and retire the shared objects.
 *
 * Liveness without heartbeats: the header's writer_alive word holds the
 * writer's thread id and is registered with set_robust_list(2).  However
 * the writer dies (SIGKILL included), the kernel walks that list at exit
 * and sets FUTEX_OWNER_DIED in the word, so readers see a dead writer with
 * a single load and the writer needs no timer.  The writer never uses
 * robust pthread mutexes, so replacing glibc's (empty) robust list for the
 * main thread costs nothing; a clean stop puts glibc's list back.
 *
 * Where set_robust_list fails (qemu-user answers ENOSYS), the writer keeps
 * the table object open and holds an open-file-description write lock on
 * it instead, and says so in the header (FSC_SEG_F_PID_LIVENESS): the
 * kernel drops the lock when the process dies, and readers query it at
 * most every FSC_LIVENESS_CHECK_MS (see format.h).  writer_alive still
 * holds the tid; nothing marks it then.
 */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fstatcache/atomics.h"

#include "fstatcache/contract.h"
#include "fstatcache/hugepages.h"
#include "log.h"
#include "sys.h"

static struct robust_list_head robust_head;
static struct robust_list robust_entry;
static void *glibc_robust_head;
static size_t glibc_robust_len;

static uint64_t random_u64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
		    ((uint64_t)getpid() << 16);
	}
	return v;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Point the kernel's robust list of this thread at our liveness word. */
static int robust_register(struct fsc_header *hdr)
{
	uint32_t tid = (uint32_t)syscall(SYS_gettid);

	if (!glibc_robust_head) /* once: later calls would find ours */
		syscall(SYS_get_robust_list, 0, &glibc_robust_head,
			&glibc_robust_len);
	uatomic_set(&hdr->writer_alive, tid & FSC_WRITER_TID_MASK);
	robust_entry.next = &robust_head.list;
	robust_head.list.next = &robust_entry;
	robust_head.futex_offset =
		(long)((char *)&hdr->writer_alive - (char *)&robust_entry);
	robust_head.list_op_pending = NULL;
	if (fw_sys_set_robust_list(&robust_head, sizeof(robust_head)) < 0)
		return -errno;
	return 0;
}

/* The whole object; l_type set by the caller. */
static struct flock whole_object(short type)
{
	struct flock fl;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fl;
}

/* FSC_SEG_F_PID_LIVENESS: is some process's write lock on the object held? */
static int lock_held(int fd)
{
	struct flock fl = whole_object(F_WRLCK);
	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* The fallback: a lock the kernel drops when this process dies. */
static int lock_liveness(struct fw_segment *seg, int fd, int robust_err)
{
	struct flock fl = whole_object(F_WRLCK);
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		int err = -errno;
		fw_err("set_robust_list: %s, and locking %s: %s: readers could "
		       "not detect a dead writer, refusing to serve",
		       strerror(-robust_err), seg->shm_name, strerror(-err));
		return err;
	}
	seg->lock_fd = fd;
	seg->hdr->flags |= FSC_SEG_F_PID_LIVENESS;
	fw_info("set_robust_list: %s: readers check this writer's lock on "
		"%s every %u ms instead",
		strerror(-robust_err), seg->shm_name, FSC_LIVENESS_CHECK_MS);
	return 0;
}

static void robust_unregister(void)
{
	if (glibc_robust_head)
		syscall(SYS_set_robust_list, glibc_robust_head,
			glibc_robust_len);
}

/*
 * Format 1.x, the major before this one (COMPATIBILITY.md): a writer
 * upgraded in place takes over the paths its predecessor's segment held.
 * A 1.x slot kept `flags` in 32 bits at offset 4, `path_len` in 32 bits
 * at 16 and the path from 128; its header is this format's.
 */
#define V1_MAJOR 1u
#define V1_ENTRY_FIXED 128u
#define V1_PATH_LEN_AT 16u

/* The header rules of contract.h, with 1.x's version and entry size. */
static int v1_geometry_ok(const struct fsc_header *h, uint64_t size)
{
	uint64_t es = h->entry_size;
	for (int r = FSC_GEOM_MAGIC; r <= FSC_GEOM_OBJECT_SIZE; r++)
		if (r != FSC_GEOM_VERSION && r != FSC_GEOM_ENTRY_SIZE &&
		    !fsc_geometry_rule_ok(h, (enum fsc_geometry)r, size))
			return 0;
	return h->version_major == V1_MAJOR && es % 8 == 0 &&
	       es >= V1_ENTRY_FIXED + (uint64_t)h->path_max &&
	       es <= V1_ENTRY_FIXED + FSC_PATH_MAX_MAX + 4096;
}

/*
 * Slot i's key in the segment at `base`, laid out as the private header
 * copy `g` says; NULL when the slot holds none.
 */
static const char *slot_key(const struct fsc_header *g,
			    const unsigned char *base, uint32_t i,
			    uint32_t *len)
{
	const unsigned char *e =
		base + FSC_HEADER_SIZE + (size_t)i * g->entry_size;
	uint32_t flags;
	if (g->version_major == V1_MAJOR) {
		memcpy(&flags, e + 4, 4);
		memcpy(len, e + V1_PATH_LEN_AT, 4);
		return (flags & FSC_ENT_USED) ? (const char *)e + V1_ENTRY_FIXED
					      : NULL;
	}
	const struct fsc_entry *cur = (const void *)e;
	*len = uatomic_read(&cur->path_len);
	return (uatomic_read(&cur->flags) & FSC_ENT_USED)
		       ? (const char *)e + FSC_ENTRY_FIXED
		       : NULL;
}

/* A segment whose paths can be taken over: this format's, or 1.x. */
static int recoverable(const struct fsc_header *hdr, uint64_t size)
{
	return fsc_geometry_check(hdr, size) == FSC_GEOM_OK ||
	       v1_geometry_ok(hdr, size);
}

/*
 * Every key of the segment at `base`, by the geometry of `g`, the private
 * copy of its header that passed recoverable(): the mapping may change
 * under us (another process of our user), never the bounds we read by.
 */
static void recover_paths(const struct fsc_header *g, const void *base,
			  void (*path_cb)(void *, const char *), void *ctx,
			  int *count)
{
	char key[FSC_PATH_MAX_MAX];
	int before = *count;
	for (uint32_t i = 0; i < g->slot_count; i++) {
		uint32_t len;
		const char *p = slot_key(g, base, i, &len);
		if (!p || len == 0 || len >= g->path_max)
			continue;
		memcpy(key, p, len + 1);
		if (key[len] != '\0' || strlen(key) != len ||
		    !fsc_path_ok(key, len))
			continue;
		path_cb(ctx, key);
		(*count)++;
	}
	if (g->version_major == V1_MAJOR)
		fw_info("took over %d paths of a segment of format %u.%u",
			*count - before, g->version_major, g->version_minor);
}

static int writer_alive(const struct fsc_header *hdr, int fd)
{
	uint32_t w = uatomic_read(&hdr->writer_alive);
	if ((hdr->flags & FSC_SEG_F_PID_LIVENESS) && !lock_held(fd))
		return 0;
	return (w & FSC_WRITER_TID_MASK) && !(w & FSC_WRITER_DIED);
}

/*
 * A writer killed while growing may leave a staged segment behind: a
 * complete copy of the table it served, perhaps with the path that made
 * it grow.  Its paths are taken over too (a path twice is harmless), and
 * the staged objects unlinked.  Called once no live writer serves NAME.
 */
static void take_over_staged(const char *name,
			     void (*path_cb)(void *ctx, const char *path),
			     void *ctx, int *count)
{
	char obj[FSC_OBJ_TAGS + 1][96];
	struct stat st;

	for (int i = 0; i <= FSC_OBJ_TAGS; i++) {
		fsc_shm_name(obj[i], sizeof(obj[i]), name, i);
		strcat(obj[i], FW_STAGED_SUFFIX);
	}
	int fd = shm_open(obj[FSC_OBJ_TABLE], O_RDONLY | O_CLOEXEC, 0);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
		    (size_t)st.st_size >= FSC_HEADER_SIZE) {
			void *p = mmap(NULL, (size_t)st.st_size, PROT_READ,
				       MAP_SHARED, fd, 0);
			if (p != MAP_FAILED) {
				struct fsc_header g;
				memcpy(&g, p, sizeof(g));
				if (recoverable(&g, (uint64_t)st.st_size))
					recover_paths(&g, p, path_cb, ctx,
						      count);
				munmap(p, (size_t)st.st_size);
			}
		}
		close(fd);
	}
	for (int i = 0; i <= FSC_OBJ_TAGS; i++)
		shm_unlink(obj[i]);
}

int fw_segment_take_over(const char *name,
			 void (*path_cb)(void *ctx, const char *path),
			 void *ctx)
{
	char shm[96], use[96], feed[96], req[96], tags[96];
	struct stat st;
	int count = 0, err = 0;

	fsc_shm_name(shm, sizeof(shm), name, FSC_OBJ_TABLE);
	fsc_shm_name(use, sizeof(use), name, FSC_OBJ_USE);
	fsc_shm_name(feed, sizeof(feed), name, FSC_OBJ_FEED);
	fsc_shm_name(req, sizeof(req), name, FSC_OBJ_REQ);
	fsc_shm_name(tags, sizeof(tags), name, FSC_OBJ_TAGS);
	int fd = shm_open(shm, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0) {
		/* A stray .use or .feed without its table is junk. */
		err = errno == ENOENT ? 0 : -errno;
		shm_unlink(use);
		shm_unlink(feed);
		shm_unlink(req);
		shm_unlink(tags);
		if (!err)
			take_over_staged(name, path_cb, ctx, &count);
		return err ? err : count;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		err = -EPERM;
		goto out;
	}
	if ((size_t)st.st_size >= FSC_HEADER_SIZE) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			err = -errno;
			goto out;
		}
		struct fsc_header *hdr = p;
		if (writer_alive(hdr, fd) &&
		    uatomic_read(&hdr->status) != FSC_STATUS_RETIRED) {
			fw_err("instance is already served by pid %u",
			       hdr->writer_pid);
			munmap(p, (size_t)st.st_size);
			err = -EBUSY;
			goto out;
		}
		struct fsc_header g;
		memcpy(&g, hdr, sizeof(g));
		if (recoverable(&g, (uint64_t)st.st_size))
			recover_paths(&g, hdr, path_cb, ctx, &count);
		else
			fw_warn("old segment %s failed validation; "
				"its watch list is lost",
				shm);
		/* Readers still mapping it re-open the name when they see this. */
		uatomic_set(&hdr->status, FSC_STATUS_RETIRED);
		munmap(p, (size_t)st.st_size);
	}
	shm_unlink(shm);
	shm_unlink(use);
	shm_unlink(feed);
	shm_unlink(req);
	shm_unlink(tags);
	take_over_staged(name, path_cb, ctx, &count);
out:
	close(fd);
	return err ? err : count;
}

static mode_t use_mode(mode_t mode)
{
	return mode | ((mode & S_IRGRP) ? S_IWGRP : 0);
}

/* Owner-only first, then the group, then the mode that lets it in. */
static int set_fd_access(int fd, mode_t mode, gid_t gid)
{
	if (gid != (gid_t)-1 &&
	    (fchmod(fd, mode & 0600) < 0 || fchown(fd, (uid_t)-1, gid) < 0))
		return -errno;
	return fchmod(fd, mode) < 0 ? -errno : 0;
}

/*
 * Back the table with 2 MiB pages where the system offers them.  A lookup
 * lands on a random slot: at 100,000 entries that is one of 24,576 small
 * pages of a 96 MiB table, far more than the TLB holds, so each hit pays a
 * page walk besides its cache misses; with huge pages the table needs 48
 * TLB entries.  MADV_HUGEPAGE makes faults huge where /dev/shm is mounted
 * huge=advise (and lets khugepaged collapse the range); huge=always or
 * within_size needs nothing.  Where /dev/shm is mounted without huge= (the
 * default) the administrator has not offered them, and the table stays in
 * small pages unless the operator asks with FSTATCACHE_HUGE_PAGES=1: then
 * MADV_COLLAPSE (Linux 6.1) moves the allocated object into huge pages
 * now, which the kernel does whatever huge= says, unless shmem_enabled is
 * "deny".  It is not the default: measured here it did not make a single
 * hit faster, it rounds the table's memory up to 2 MiB pages and costs a
 * copy at every start and growth (docs/BENCHMARKS.md).  Readers' mappings
 * of a huge page then map all 2 MiB at once.  Nothing but speed depends
 * on it, so failures are ignored here and reported by `fstatcache
 * inspect` ("huge pages"), which reads what the kernel did.
 * FSTATCACHE_HUGE_PAGES=0 does not even advise.
 */
static void advise_huge_pages(void *base, size_t size)
{
	const char *env = getenv("FSTATCACHE_HUGE_PAGES");

	if (env && strcmp(env, "0") == 0)
		return;
	fsc_huge_advise(base, size);
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1; older C libraries lack the name */
#endif
	if (env && strcmp(env, "1") == 0 && size >= FSC_HUGE_PAGE_SIZE)
		(void)madvise(base, size, MADV_COLLAPSE);
}

/* Create, size and map an object; *fd_out (if not NULL) keeps it open. */
static int create_object(const char *name, size_t size, mode_t mode, gid_t gid,
			 void **out, int *fd_out)
{
	int fd = fw_sys_shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
				 mode & 0600);
	if (fd < 0)
		return -errno;
	int err = set_fd_access(fd, mode, gid);
	if (!err && fw_sys_ftruncate(fd, (off_t)size) < 0)
		err = -errno;
	/* Allocate now so a full /dev/shm fails here, not as SIGBUS later. */
	if (!err && fw_sys_fallocate(fd, (off_t)size) < 0 &&
	    errno != EOPNOTSUPP && errno != EINVAL)
		err = -errno;
	if (!err) {
		/* 2 MiB-aligned, so huge pages can be mapped (hugepages.h). */
		void *at = fsc_huge_reserve(size);
		*out = fw_sys_mmap(at, size, PROT_READ | PROT_WRITE,
				   MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0);
		if (*out == MAP_FAILED) {
			err = -errno;
			if (at)
				munmap(at, size);
		}
	}
	if (!err && fd_out)
		*fd_out = fd;
	else
		close(fd);
	if (err)
		shm_unlink(name);
	return err;
}

/*
 * The mount namespace a reader must share to be served (FORMAT.md,
 * "Readers in another mount namespace"): ours, or none (0: every reader
 * served) with $FSTATCACHE_ANY_MOUNT_NS=1, which the packaged unit sets,
 * since its own namespace (PrivateMounts=, ProtectSystem=) shows every
 * host path as the host does while its inode differs from the host's.
 */
static uint64_t record_mnt_ns(void)
{
	const char *any = getenv("FSTATCACHE_ANY_MOUNT_NS");

	return any && strcmp(any, "1") == 0 ? 0 : fsc_mnt_ns_self();
}

void fw_segment_format(struct fsc_header *h, const struct fw_segment_params *p,
		       size_t size)
{
	h->magic = FSC_MAGIC;
	h->version_major = FSC_FORMAT_MAJOR;
	h->version_minor = FSC_FORMAT_MINOR;
	h->header_size = FSC_HEADER_SIZE;
	h->entry_size = FSC_ENTRY_SIZE(p->path_max);
	h->slot_count = p->capacity;
	h->probe_limit = p->probe_limit;
	h->path_max = p->path_max;
	h->segment_size = size;
	h->hash_seed = random_u64();
	h->epoch = random_u64();
	h->status = FSC_STATUS_INIT;
	h->writer_pid = (uint32_t)getpid();
	h->writer_started_ns = realtime_ns();
	h->owner_uid = (uint32_t)geteuid();
	h->max_entries = p->max_entries;
	h->mnt_ns = record_mnt_ns();
	snprintf((char *)h->socket_path, sizeof(h->socket_path), "%s",
		 p->socket_path);
}

/*
 * The readers' object (.use) is writable by every reader (its group with
 * --group-readable), so one of them may truncate it, and the writer's next
 * touch of a page past the new end would kill it with SIGBUS.  Each .use
 * mapping is registered here (the serving one, and a staged one); a SIGBUS
 * inside one puts private anonymous memory over the whole mapping, so the
 * access that faulted is retried on it and succeeds, and flags the loss
 * for the loop, which replaces the segment (fw_segment_use_lost, grow.c).
 * A SIGBUS anywhere else is not ours: the default action is restored and
 * the faulting access repeats into it.
 */
#define USE_GUARDS 4 /* .use and .req, serving and staged */
static struct {
	void *volatile base;
	volatile size_t size;
} use_guard[USE_GUARDS];
static volatile sig_atomic_t use_lost;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)uc;
	for (int i = 0; i < USE_GUARDS; i++) {
		uintptr_t b = (uintptr_t)use_guard[i].base;
		size_t n = use_guard[i].size;

		if (b && a >= b && a - b < n &&
		    mmap((void *)b, n, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) != MAP_FAILED) {
			use_lost = 1;
			return;
		}
	}
	signal(sig, SIG_DFL);
}

static void use_guard_set(void *base, size_t size)
{
	static bool installed;

	if (!installed) {
		struct sigaction sa = { .sa_sigaction = on_sigbus,
					.sa_flags = SA_SIGINFO };

		sigemptyset(&sa.sa_mask);
		installed = sigaction(SIGBUS, &sa, NULL) == 0;
		if (!installed)
			fw_warn("cannot guard against a truncated %s: %s",
				"readers' object", strerror(errno));
	}
	for (int i = 0; i < USE_GUARDS; i++)
		if (!use_guard[i].base) {
			use_guard[i].size = size;
			use_guard[i].base = base;
			return;
		}
	/* Never more than the serving and a staged segment. */
	fw_warn("cannot guard a third readers' object");
}

static void use_guard_clear(void *base)
{
	for (int i = 0; i < USE_GUARDS; i++)
		if (use_guard[i].base == base) {
			use_guard[i].base = NULL;
			use_guard[i].size = 0;
		}
}

bool fw_segment_use_lost(void)
{
	if (!use_lost)
		return false;
	use_lost = 0;
	return true;
}

static void unlink_objects(const struct fw_segment *seg)
{
	shm_unlink(seg->shm_name);
	if (seg->use_base)
		shm_unlink(seg->use_name);
	if (seg->feed_base)
		shm_unlink(seg->feed_name);
	if (seg->req)
		shm_unlink(seg->req_name);
	if (seg->tags_base)
		shm_unlink(seg->tags_name);
}

static void unmap_objects(struct fw_segment *seg)
{
	if (seg->hdr)
		munmap(seg->hdr, seg->size);
	if (seg->use_base) {
		use_guard_clear(seg->use_base);
		munmap(seg->use_base, seg->use_size);
	}
	if (seg->feed_base)
		munmap(seg->feed_base, seg->feed_size);
	if (seg->req) {
		use_guard_clear(seg->req);
		munmap(seg->req, seg->req_size);
	}
	if (seg->tags_base)
		munmap(seg->tags_base, seg->tags_size);
	seg->tags_base = NULL;
	seg->tags = NULL;
	seg->req = NULL;
	seg->hdr = NULL;
	seg->use_base = NULL;
	seg->use = NULL;
	seg->feed_base = NULL;
}

/*
 * Ring slots: a quarter of the table's entries, at least 256, so a burst
 * of new files the writer takes a while to handle queues without drops
 * (2,048 slots, 576 KiB, for the default 8,192 entries; 256 slots, 40
 * KiB, for -Dsmall's 1,024 and any smaller table), within the format's
 * bounds and FW_RING_BYTES.  Pages no reader wrote take no memory.
 */
#define FW_RING_BYTES (1024u * 1024u)
#define FW_RING_SLOTS_MIN 256u /* whatever the table: readers' bursts */

static uint32_t ring_slots_for(uint32_t entries, uint32_t slot_size)
{
	uint32_t want = entries / 4 + 1 > FW_RING_SLOTS_MIN ? entries / 4 + 1
							    : FW_RING_SLOTS_MIN;
	uint32_t n = FSC_REQ_SLOTS_MIN;
	while (n * 2 <= FSC_REQ_SLOTS_MAX && n * 2 <= want &&
	       n * 2 * slot_size <= FW_RING_BYTES)
		n *= 2;
	return n;
}

/* The request ring (minor 4): writable by the readers that write .use. */
static int create_ring(struct fw_segment *seg,
		       const struct fw_segment_params *p)
{
	uint32_t slot_size = FSC_REQ_SLOT_FIXED + p->path_max;
	uint32_t n = ring_slots_for(p->max_entries, slot_size);
	void *base;

	seg->req_size = FSC_REQ_HEADER_SIZE + (size_t)n * slot_size;
	int err = create_object(seg->req_name, seg->req_size, use_mode(p->mode),
				p->gid, &base, NULL);
	if (err) {
		unlink_objects(seg);
		unmap_objects(seg);
		return err;
	}
	seg->req = base;
	seg->req_slots = n;
	seg->req_slot_size = slot_size;
	use_guard_set(seg->req, seg->req_size);
	seg->req->magic = FSC_REQ_MAGIC;
	seg->req->epoch = seg->hdr->epoch;
	seg->req->ring_slots = n;
	seg->req->slot_size = slot_size;
	seg->req_checked = (use_mode(p->mode) & 022) != 0;
	seg->req->flags = seg->req_checked ? FSC_REQ_F_CHECKED : 0u;
	for (uint32_t i = 0; i < n; i++) {
		struct fsc_req_slot *s =
			(void *)((char *)base + FSC_REQ_HEADER_SIZE +
				 (size_t)i * slot_size);
		s->seq = i; /* free for position i */
	}
	return 0;
}

/*
 * The tag array (minor 5): read-only to readers, as the table is.  Its
 * tags start at 0 (empty slots); fw_table_set_tags() keeps them.
 */
static int create_tags(struct fw_segment *seg,
		       const struct fw_segment_params *p)
{
	seg->tags_size =
		FSC_TAGS_HEADER_SIZE + (size_t)p->capacity * sizeof(uint16_t);
	int err = create_object(seg->tags_name, seg->tags_size, p->mode, p->gid,
				&seg->tags_base, NULL);
	if (err) {
		seg->tags_base = NULL;
		unlink_objects(seg);
		unmap_objects(seg);
		return err;
	}
	struct fsc_tags_header *t = seg->tags_base;
	t->magic = FSC_TAGS_MAGIC;
	t->epoch = seg->hdr->epoch;
	t->slot_count = p->capacity;
	seg->tags = (uint16_t *)((char *)seg->tags_base + FSC_TAGS_HEADER_SIZE);
	seg->hdr->flags |= FSC_SEG_F_TAGS;
	return 0;
}

/*
 * Create, size and map the objects under their names followed by
 * `suffix` ("" or FW_STAGED_SUFFIX), the header formatted (status INIT),
 * liveness not registered yet: seg->stage_fd keeps the table open for
 * go_live().
 */
static int create_objects(struct fw_segment *seg,
			  const struct fw_segment_params *p, const char *suffix)
{
	memset(seg, 0, sizeof(*seg));
	seg->lock_fd = -1;
	seg->stage_fd = -1;
	fsc_shm_name(seg->shm_name, sizeof(seg->shm_name), p->name,
		     FSC_OBJ_TABLE);
	fsc_shm_name(seg->use_name, sizeof(seg->use_name), p->name,
		     FSC_OBJ_USE);
	fsc_shm_name(seg->feed_name, sizeof(seg->feed_name), p->name,
		     FSC_OBJ_FEED);
	fsc_shm_name(seg->req_name, sizeof(seg->req_name), p->name,
		     FSC_OBJ_REQ);
	fsc_shm_name(seg->tags_name, sizeof(seg->tags_name), p->name,
		     FSC_OBJ_TAGS);
	strcat(seg->req_name, suffix);
	strcat(seg->tags_name, suffix);
	strcat(seg->shm_name, suffix);
	strcat(seg->use_name, suffix);
	strcat(seg->feed_name, suffix);
	seg->size = FSC_HEADER_SIZE +
		    (size_t)p->capacity * FSC_ENTRY_SIZE(p->path_max);
	seg->use_size = FSC_USE_HEADER_SIZE + (size_t)p->capacity;

	void *base;
	int fd;
	int err = create_object(seg->shm_name, seg->size, p->mode, p->gid,
				&base, &fd);
	if (err)
		return err;
	advise_huge_pages(base, seg->size);
	seg->hdr = base;
	seg->stage_fd = fd;
	fw_segment_format(seg->hdr, p, seg->size);
	err = create_object(seg->use_name, seg->use_size, use_mode(p->mode),
			    p->gid, &seg->use_base, NULL);
	if (err) {
		seg->use_base = NULL;
		unlink_objects(seg);
		unmap_objects(seg);
		return err;
	}
	use_guard_set(seg->use_base, seg->use_size);
	struct fsc_use_header *u = seg->use_base;
	u->magic = FSC_USE_MAGIC;
	u->epoch = seg->hdr->epoch;
	u->slot_count = p->capacity;
	seg->use = (uint8_t *)seg->use_base + FSC_USE_HEADER_SIZE;
	if (p->feed_size) {
		seg->feed_size = FSC_FEED_HEADER_SIZE + (size_t)p->feed_size;
		err = create_object(seg->feed_name, seg->feed_size, p->mode,
				    p->gid, &seg->feed_base, NULL);
		if (err) {
			seg->feed_base = NULL;
			unlink_objects(seg);
			unmap_objects(seg);
			return err;
		}
		seg->hdr->flags |= FSC_SEG_F_FEED;
	}
	err = create_tags(seg, p);
	return err ? err : create_ring(seg, p);
}

/* Register this writer's liveness on the segment (robust futex, else the
 * lock); the table's descriptor is closed or kept for the lock. */
static int go_live(struct fw_segment *seg)
{
	int fd = seg->stage_fd;
	int err = robust_register(seg->hdr);

	seg->stage_fd = -1;
	if (!err) {
		seg->robust = 1;
		close(fd);
		return 0;
	}
	err = lock_liveness(seg, fd, err);
	if (err)
		close(fd);
	return err;
}

int fw_segment_create(struct fw_segment *seg, const struct fw_segment_params *p)
{
	int err = create_objects(seg, p, "");

	if (!err && (err = go_live(seg)) < 0)
		fw_segment_destroy(seg);
	return err;
}

int fw_segment_stage(struct fw_segment *seg, const struct fw_segment_params *p)
{
	return create_objects(seg, p, FW_STAGED_SUFFIX);
}

/* /dev/shm/NAME for shm_open(3)'s "/NAME" (glibc keeps them there). */
static void shm_path(char *buf, size_t size, const char *shm)
{
	snprintf(buf, size, "/dev/shm%s", shm);
}

static int rename_object(char *name)
{
	char from[128], to[128];
	size_t n = strlen(name), s = strlen(FW_STAGED_SUFFIX);

	shm_path(from, sizeof(from), name);
	snprintf(to, sizeof(to), "%s", from);
	to[strlen(to) - s] = '\0';
	if (rename(from, to) < 0)
		return -errno;
	name[n - s] = '\0'; /* it goes by the real name now */
	return 0;
}

int fw_segment_replace(struct fw_segment *old, struct fw_segment *staged)
{
	int err = 0;

	/* The feed and the recency marks first: a reader attaching to the
	 * table in between finds their epoch foreign and does without. */
	if (staged->feed_base)
		err = rename_object(staged->feed_name);
	if (!err && staged->req)
		err = rename_object(staged->req_name);
	if (!err && staged->tags_base)
		err = rename_object(staged->tags_name);
	if (!err)
		err = rename_object(staged->use_name);
	if (!err)
		err = rename_object(staged->shm_name);
	if (err)
		return err;
	/* Readers of the old table re-open the name now and find the new
	 * one INIT (they answer by stat() for the moment); if we die before
	 * it is live, its writer_alive is 0 and a successor takes it over. */
	fw_segment_set_status(old, FSC_STATUS_RETIRED);
	uatomic_set(&old->hdr->writer_alive, 0);
	return go_live(staged);
}

void fw_segment_release(struct fw_segment *old)
{
	if (old->lock_fd >= 0)
		close(old->lock_fd);
	old->lock_fd = -1;
	unmap_objects(old);
}

void fw_segment_discard(struct fw_segment *seg)
{
	if (!seg->hdr)
		return;
	if (seg->stage_fd >= 0)
		close(seg->stage_fd);
	seg->stage_fd = -1;
	unlink_objects(seg);
	unmap_objects(seg);
}

static int set_access(const char *name, mode_t mode, gid_t gid)
{
	int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = set_fd_access(fd, mode, gid);
	close(fd);
	return err;
}

int fw_segment_set_access(struct fw_segment *seg, mode_t mode, gid_t gid)
{
	int err = set_access(seg->shm_name, mode, gid);
	if (!err && seg->feed_base)
		err = set_access(seg->feed_name, mode, gid);
	if (!err && seg->tags_base)
		err = set_access(seg->tags_name, mode, gid);
	if (!err && seg->req) {
		/* Once shared, judged as from other users for good: a
		 * group member's mapping outlives the chmod.  Said before
		 * the chmod, so the owner's and root's readers, which look
		 * at the flag before every request, turn to the socket
		 * before a group member can write the ring. */
		if (use_mode(mode) & 022)
			seg->req_checked = 1;
		uatomic_set(&seg->req->flags,
			    seg->req_checked ? FSC_REQ_F_CHECKED : 0u);
		err = set_access(seg->req_name, use_mode(mode), gid);
	}
	return err ? err : set_access(seg->use_name, use_mode(mode), gid);
}

void fw_segment_set_status(struct fw_segment *seg, uint32_t status)
{
	cmm_smp_wmb(); /* pairs with the reader's rmb after reading status */
	uatomic_set(&seg->hdr->status, status);
}

void fw_segment_destroy(struct fw_segment *seg)
{
	if (!seg->hdr)
		return;
	fw_segment_set_status(seg, FSC_STATUS_RETIRED);
	uatomic_set(&seg->hdr->writer_alive, 0);
	if (seg->robust)
		robust_unregister();
	if (seg->lock_fd >= 0)
		close(seg->lock_fd); /* drops the liveness lock */
	seg->lock_fd = -1;
	if (seg->stage_fd >= 0)
		close(seg->stage_fd);
	seg->stage_fd = -1;
	unlink_objects(seg);
	unmap_objects(seg);
}

void fw_segment_count(struct fw_segment *seg, unsigned ctr, uint64_t n)
{
	uint64_t *c = &seg->hdr->counters[ctr];
	uatomic_set(c, *c + n);
}

void fw_segment_gauge(struct fw_segment *seg, unsigned ctr, uint64_t v)
{
	uatomic_set(&seg->hdr->counters[ctr], v);
}
