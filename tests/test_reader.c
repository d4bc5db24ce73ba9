/*
 * test_reader.c - the header-only reader against hostile segments.
 *
 * No writer process: each test fabricates a segment itself (a POSIX shared
 * memory object with a valid header, entries inserted by the writer's own
 * table code, writer/table.c), attaches to it with fsc_open() in the same
 * process, then corrupts one thing at a time.  Whatever the segment says,
 * the reader must not crash (no SIGSEGV, no SIGBUS), must not loop (every
 * test runs under a timeout; the reader's loops are bounded by numbers it
 * validated at attach time), and must never return a hit whose fields are
 * not those written for that exact key.  It may answer FSC_MISS or
 * FSC_UNCACHED instead: both send the caller to stat(), which is correct.
 *
 * Format version 1 has no per-entry checksum, so a flipped bit in a stat
 * field (size, ino, ...) of a well-formed entry is indistinguishable from a
 * real value; the reader's promise, and what this file tests, covers keys,
 * bounds, torn copies and validation of what it can check (mode, flags,
 * nanoseconds, sign).  The random-corruption loop therefore checks hits
 * field by field only in its rounds that flip bytes of the header and of
 * the key-bearing parts of entries (seq, flags except the EXISTS bit, hash,
 * path_len, reason, path); one round in four flips any byte and checks
 * only that nothing crashes, loops, or answers an absent key.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <fstatcache/admin.h>

#include "segment.h"
#include "table.h"

/*
 * Count the reader's attach attempts: the header calls shm_open() inline,
 * so this definition interposes on libc's for the whole test program.
 */
static unsigned g_shm_opens;

int shm_open(const char *name, int oflag, mode_t mode)
{
	static int (*real)(const char *, int, mode_t);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "shm_open");
	g_shm_opens++;
	return real(name, oflag, mode);
}

/* ---- fabricated segments ----------------------------------------------- */

#define MAX_OBJECTS 16
static char g_objects[MAX_OBJECTS][96]; /* shm names to unlink in .fini */
static int g_nobjects;

static void unlink_objects(void)
{
	for (int i = 0; i < g_nobjects; i++)
		shm_unlink(g_objects[i]);
	g_nobjects = 0;
}

TestSuite(reader, .fini = unlink_objects, .timeout = 60);

static void remember_object(const char *shm)
{
	cr_assert_lt(g_nobjects, MAX_OBJECTS);
	snprintf(g_objects[g_nobjects++], sizeof(g_objects[0]), "%s", shm);
}

struct seg {
	char name[FSC_NAME_MAX + 1]; /* instance name given to fsc_open */
	char shm[96];                /* "/fstatcache.<name>" */
	unsigned char *base;
	size_t size;
	struct fsc_header *hdr;
	uint8_t use[FSC_SLOTS_MIN * 64]; /* writer-side marks (private) */
	struct fw_table t;
};

struct geom {
	uint32_t capacity, path_max, probe_limit, max_entries;
};

static const struct geom default_geom = { 64, 128, 16, 56 };

static void unique_name(char *buf, size_t size, const char *tag)
{
	static unsigned counter;
	snprintf(buf, size, "t-%s-%ld-%u", tag, (long)getpid(), counter++);
}

static int make_object(const char *shm, size_t size, mode_t mode)
{
	int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "shm_open %s: %s", shm, strerror(errno));
	remember_object(shm);
	cr_assert_eq(fchmod(fd, mode), 0); /* the umask must not decide */
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* A valid, serving segment with no entries yet. */
static void seg_create(struct seg *s, const struct geom *g, mode_t mode)
{
	memset(s, 0, sizeof(*s));
	cr_assert_leq(g->capacity, sizeof(s->use));
	unique_name(s->name, sizeof(s->name), "rdr");
	fsc_shm_name(s->shm, sizeof(s->shm), s->name, 0);
	s->size = FSC_HEADER_SIZE +
		  (size_t)g->capacity * FSC_ENTRY_SIZE(g->path_max);
	int fd = make_object(s->shm, s->size, mode);
	void *p =
		mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(p, MAP_FAILED);
	s->base = p;
	s->hdr = p;
	struct fsc_header *h = s->hdr;
	struct fw_segment_params sp = {
		.capacity = g->capacity,
		.max_entries = g->max_entries,
		.path_max = g->path_max,
		.probe_limit = g->probe_limit,
		.socket_path = "/nonexistent/sock",
	};
	fw_segment_format(h, &sp, s->size);
	/* Fixed, so the layout (and so every test) is the same each run. */
	h->hash_seed = UINT64_C(0x9e3779b97f4a7c15);
	h->epoch = UINT64_C(0x1234567887654321);
	h->status = FSC_STATUS_SERVING;
	h->writer_alive =
		((uint32_t)syscall(SYS_gettid) & FSC_WRITER_TID_MASK) | 1u;
	cr_assert_eq(fw_table_bind(&s->t, h, s->use), 0);
}

static void seg_destroy(struct seg *s)
{
	if (s->base)
		munmap(s->base, s->size);
	s->base = NULL;
}

/* ---- the records and keys a test inserts -------------------------------- */

#define NKEYS 40

static void key_path(char *buf, size_t size, unsigned k)
{
	/* Lengths from 8 to ~70 bytes, so keys span one to nine path words. */
	static const char pad[] = "abcdefghijklmnopqrstuvwxyz0123456789"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	snprintf(buf, size, "/r/k%02u-%.*s", k, (int)((k * 7) % 60), pad);
}

static void absent_path(char *buf, size_t size, unsigned k)
{
	key_path(buf, size, k);
	size_t n = strlen(buf);
	switch (k % 4) {
	case 0:
		buf[n - 1] ^= 1;
		break; /* last byte differs */
	case 1:
		if (n + 1 < size) {
			buf[n] = 'x';
			buf[n + 1] = 0;
		}
		break;
	case 2:
		buf[n - 1] = 0;
		break; /* a prefix */
	default:
		buf[1] = 'q';
		break; /* first component */
	}
}

static struct fw_record record_for(unsigned k)
{
	struct fw_record r = {
		.flags = (k % 10 == 9) ? 0 : FSC_ENT_EXISTS,
		.dev = 0x800 + k,
		.ino = 1000003u * (k + 1),
		.nlink = 1 + k % 3,
		.rdev = k % 5 == 4 ? 0x0501 : 0,
		.mode = (k % 8 == 7 ? S_IFDIR | 0755 : S_IFREG | 0644),
		.uid = 1000 + k,
		.gid = 2000 + k,
		.size = (int64_t)k * 4096 + 17,
		.blocks = (int64_t)k * 8,
		.mtime_sec = 1700000000 + k,
		.ctime_sec = 1700000100 + k,
		.mtime_nsec = k * 1000u + 1,
		.ctime_nsec = 999999999u - k,
		.blksize = 512u << (k % 8),
		/* before 1970 for some: -1.5 s + k ns */
		.atime_sec = (k % 6 == 5) ? -2 : 1700000200,
		.atime_nsec = (k % 6 == 5) ? 500000000u + k : k,
		.validated_ns = 42,
	};
	return r;
}

static void no_eviction(void *ctx, const char *path, uint32_t len)
{
	(void)ctx;
	cr_assert_fail("the table evicted %.*s: tests assume every key stays",
		       (int)len, path);
}

static void put_keys(struct seg *s, unsigned n)
{
	char p[128];
	for (unsigned k = 0; k < n; k++) {
		key_path(p, sizeof(p), k);
		struct fw_record r = record_for(k);
		cr_assert_geq(fw_table_put(&s->t, p, (uint32_t)strlen(p), &r,
					   no_eviction, NULL),
			      0);
	}
}

/* Slot of key k in the table (the writer's view). */
static struct fsc_entry *key_slot(struct seg *s, unsigned k)
{
	char p[128];
	key_path(p, sizeof(p), k);
	int64_t i = fw_table_find(&s->t, p, (uint32_t)strlen(p));
	cr_assert_geq(i, 0, "key %u not in table", k);
	return (struct fsc_entry *)(s->base + FSC_HEADER_SIZE +
				    (size_t)i * s->hdr->entry_size);
}

/* The fields a segment of format 2 always has, as written. */
static int blksize_and_atime(const struct fsc_stat *o,
			     const struct fw_record *r)
{
	return o->have == (FSC_HAVE_BLKSIZE | FSC_HAVE_ATIME) &&
	       o->blksize == r->blksize && o->atime_sec == r->atime_sec &&
	       o->atime_nsec == r->atime_nsec;
}
/* 1 when `o` is exactly what was written for key k. */
static int answer_matches(unsigned k, const struct fsc_stat *o)
{
	struct fw_record r = record_for(k);
	if (o->source != FSC_SOURCE_CACHE)
		return 0;
	if (!(r.flags & FSC_ENT_EXISTS))
		return o->exists == 0 && o->err == ENOENT;
	return o->exists == 1 && o->err == 0 && o->dev == r.dev &&
	       o->ino == r.ino && o->mode == r.mode && o->uid == r.uid &&
	       o->gid == r.gid && o->nlink == r.nlink && o->rdev == r.rdev &&
	       o->size == r.size && o->blocks == r.blocks &&
	       o->mtime_sec == r.mtime_sec && o->mtime_nsec == r.mtime_nsec &&
	       o->ctime_sec == r.ctime_sec && o->ctime_nsec == r.ctime_nsec &&
	       blksize_and_atime(o, &r);
}

static const char *rc_name(int rc)
{
	static char buf[32];
	switch (rc) {
	case 0:
		return "hit";
	case FSC_MISS:
		return "FSC_MISS";
	case FSC_UNCACHED:
		return "FSC_UNCACHED";
	default:
		snprintf(buf, sizeof(buf), "%d", rc);
		return buf;
	}
}

/* Every key answers a correct hit. */
static void expect_all_hit(fsc_handle *h, unsigned n, const char *what)
{
	char p[128];
	for (unsigned k = 0; k < n; k++) {
		struct fsc_stat o;
		key_path(p, sizeof(p), k);
		int rc = fsc_lookup(h, p, &o);
		cr_assert_eq(rc, 0, "%s: key %s: %s", what, p, rc_name(rc));
		cr_assert(answer_matches(k, &o), "%s: key %s: wrong fields",
			  what, p);
	}
}

/* Every present key answers `want` or a correct hit; never a wrong hit. */
static void expect_no_wrong_hit(fsc_handle *h, unsigned n, const char *what)
{
	char p[128];
	for (unsigned k = 0; k < n; k++) {
		struct fsc_stat o;
		key_path(p, sizeof(p), k);
		int rc = fsc_lookup(h, p, &o);
		cr_assert(rc == 0 || rc == FSC_MISS || rc == FSC_UNCACHED,
			  "%s: key %s: %s", what, p, rc_name(rc));
		if (rc == 0)
			cr_assert(answer_matches(k, &o),
				  "%s: key %s: hit with foreign fields", what,
				  p);
		absent_path(p, sizeof(p), k);
		rc = fsc_lookup(h, p, &o);
		cr_assert(rc == FSC_MISS || rc == FSC_UNCACHED,
			  "%s: absent %s: %s", what, p, rc_name(rc));
	}
}

static void expect_all_uncached(fsc_handle *h, unsigned n, const char *what)
{
	char p[128];
	for (unsigned k = 0; k < n; k++) {
		struct fsc_stat o;
		key_path(p, sizeof(p), k);
		int rc = fsc_lookup(h, p, &o);
		cr_assert_eq(rc, FSC_UNCACHED, "%s: key %s: %s", what, p,
			     rc_name(rc));
		absent_path(p, sizeof(p), k);
		rc = fsc_lookup(h, p, &o);
		cr_assert_eq(rc, FSC_UNCACHED, "%s: absent %s: %s", what, p,
			     rc_name(rc));
	}
}

static fsc_handle *open_ok(const struct seg *s)
{
	fsc_handle *h = NULL;
	int rc = fsc_open(&h, s->name, FSC_OPEN_ATTACHED);
	cr_assert_eq(rc, 0, "fsc_open %s: %s", s->name, fsc_strerror(rc));
	cr_assert(fsc_attached(h));
	return h;
}

/* ---- a valid segment ----------------------------------------------------- */

Test(reader, valid_segment_hits)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	fsc_handle *h = open_ok(&s);

	expect_all_hit(h, NKEYS, "valid");
	expect_no_wrong_hit(h, NKEYS, "valid"); /* absent keys miss */
	cr_assert_eq(fsc_slot_count(h), default_geom.capacity);

	/* A cached "does not exist" is an answer. */
	char p[128];
	struct fsc_stat o;
	key_path(p, sizeof(p), 9);
	cr_assert_eq(fsc_lookup(h, p, &o), 0);
	cr_assert_eq(o.exists, 0);
	cr_assert_eq(o.err, ENOENT);

	/* fsc_stat() answers a hit from the cache... */
	key_path(p, sizeof(p), 3);
	cr_assert_eq(fsc_stat(h, p, &o), 0);
	cr_assert_eq(o.source, FSC_SOURCE_CACHE);
	cr_assert(answer_matches(3, &o));
	/* ...and a miss by stat() (the request goes nowhere: no writer). */
	cr_assert_eq(fsc_stat(h, "/r/not-cached", &o), 0);
	cr_assert_eq(o.source, FSC_SOURCE_STAT);
	cr_assert_eq(o.exists, 0);

	/* Non-canonical spellings and over-long paths are never looked up. */
	cr_assert_eq(fsc_lookup(h, "/r//k03", &o), FSC_UNCACHED);
	cr_assert_eq(fsc_lookup(h, "r/k03", &o), FSC_UNCACHED);
	char longp[300];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	cr_assert_eq(fsc_lookup(h, longp, &o), FSC_UNCACHED);
	cr_assert_eq(fsc_lookup(h, NULL, &o), -EINVAL);
	cr_assert_eq(fsc_lookup(NULL, p, &o), -EINVAL);

	/* A path watched but answered by stat() (NOCACHE) is not a hit. */
	struct fw_record r = record_for(0);
	r.flags |= FSC_ENT_NOCACHE;
	r.reason = FSC_REASON_FSTYPE;
	cr_assert_geq(
		fw_table_put(&s.t, "/r/nocache", 10, &r, no_eviction, NULL), 0);
	cr_assert_eq(fsc_lookup(h, "/r/nocache", &o), FSC_UNCACHED);

	/* Listing every slot finds exactly the keys inserted. */
	unsigned listed = 0;
	for (uint32_t i = 0; i < fsc_slot_count(h); i++) {
		char lp[256];
		uint64_t vns = 0;
		int rc = fsc_slot_read(h, i, lp, sizeof(lp), &o, &vns);
		cr_assert(rc == 0 || rc == FSC_MISS, "slot %u: %s", i,
			  rc_name(rc));
		if (rc == 0) {
			listed++;
			cr_assert_eq(vns, 42);
		}
	}
	cr_assert_eq(listed, NKEYS + 1);
	cr_assert_eq(fsc_slot_read(h, fsc_slot_count(h), p, sizeof(p), &o,
				   NULL),
		     -EINVAL);

	struct fsc_header hc;
	cr_assert_eq(fsc_header_read(h, &hc), 0);
	cr_assert_eq(hc.slot_count, default_geom.capacity);
	cr_assert_eq(hc.entry_count, NKEYS + 1);

	/* Removal by backward shift keeps every other key reachable. */
	for (unsigned k = 0; k < NKEYS; k += 3) {
		key_path(p, sizeof(p), k);
		cr_assert_eq(fw_table_remove(&s.t, p, (uint32_t)strlen(p)), 0);
	}
	for (unsigned k = 0; k < NKEYS; k++) {
		key_path(p, sizeof(p), k);
		int rc = fsc_lookup(h, p, &o);
		if (k % 3 == 0) {
			cr_assert_eq(rc, FSC_MISS, "removed %s: %s", p,
				     rc_name(rc));
		} else {
			cr_assert_eq(rc, 0, "kept %s: %s", p, rc_name(rc));
			cr_assert(answer_matches(k, &o));
		}
	}
	fsc_close(h);
	seg_destroy(&s);
}

Test(reader, open_arguments)
{
	fsc_handle *h = (fsc_handle *)&h;
	static const char *const bad[] = {
		"a/b",
		"../x",
		"a.b",
		"a b",
		"0123456789012345678901234567890123456789012345678901234567890123x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(fsc_open(&h, bad[i], 0), -EINVAL, "name %s",
			     bad[i]);
		cr_assert_null(h);
	}
	cr_assert_eq(fsc_open(NULL, "x", 0), -EINVAL);

	/* No segment: -ENOENT when attachment is required, else detached. */
	char name[FSC_NAME_MAX + 1];
	unique_name(name, sizeof(name), "none");
	cr_assert_eq(fsc_open(&h, name, FSC_OPEN_ATTACHED), -ENOENT);
	cr_assert_eq(fsc_open(&h, name, 0), 0);
	cr_assert_not(fsc_attached(h));
	struct fsc_stat o;
	cr_assert_eq(fsc_lookup(h, "/etc", &o), FSC_UNCACHED);
	cr_assert_eq(fsc_stat(h, "/", &o), 0);
	cr_assert_eq(o.source, FSC_SOURCE_STAT);
	cr_assert_eq(o.exists, 1);
	cr_assert(S_ISDIR(o.mode));
	cr_assert_eq(fsc_slot_count(h), 0);
	fsc_close(h);
}

/* ---- the header, corrupted one field at a time before attaching ---------- */

typedef void (*mutate_fn)(struct seg *s);

static void m_magic(struct seg *s)
{
	s->hdr->magic ^= 1;
}
static void m_magic_swapped(struct seg *s)
{
	s->hdr->magic = __builtin_bswap64(FSC_MAGIC);
}
static void m_major_next(struct seg *s)
{
	s->hdr->version_major = FSC_FORMAT_MAJOR + 1;
}
static void m_major_previous(struct seg *s)
{
	s->hdr->version_major = FSC_FORMAT_MAJOR - 1; /* 1.x: another layout */
}
static void m_major_zero(struct seg *s)
{
	s->hdr->version_major = 0;
}
static void m_major_swapped(struct seg *s)
{
	s->hdr->version_major = __builtin_bswap32(FSC_FORMAT_MAJOR);
}
static void m_header_size(struct seg *s)
{
	s->hdr->header_size = 8192;
}
static void m_capacity_zero(struct seg *s)
{
	s->hdr->slot_count = 0;
}
static void m_capacity_npot(struct seg *s)
{
	s->hdr->slot_count = 48;
}
static void m_capacity_huge(struct seg *s)
{
	s->hdr->slot_count = 1u << 31;
}
static void m_capacity_max(struct seg *s)
{
	s->hdr->slot_count = 0xffffffffu;
}
static void m_capacity_small(struct seg *s)
{
	s->hdr->slot_count = 8;
}
/* Self-consistent header that declares more than the object holds. */
static void m_capacity_double(struct seg *s)
{
	s->hdr->slot_count *= 2;
	s->hdr->segment_size = FSC_HEADER_SIZE + (uint64_t)s->hdr->slot_count *
							 s->hdr->entry_size;
}
static void m_capacity_huge_consistent(struct seg *s)
{
	s->hdr->slot_count = FSC_SLOTS_MAX;
	s->hdr->segment_size = FSC_HEADER_SIZE + (uint64_t)s->hdr->slot_count *
							 s->hdr->entry_size;
}
static void m_path_max_odd(struct seg *s)
{
	s->hdr->path_max = 100;
}
static void m_path_max_zero(struct seg *s)
{
	s->hdr->path_max = 0;
}
static void m_path_max_huge(struct seg *s)
{
	s->hdr->path_max = 1u << 20;
}
static void m_path_max_over(struct seg *s)
{
	/* Longer than the entry has room for, with its cold tail. */
	s->hdr->path_max =
		s->hdr->entry_size - FSC_ENTRY_FIXED - FSC_ENTRY_COLD + 8;
}
static void m_entry_size_small(struct seg *s)
{
	/* No room for the cold tail after the path area. */
	s->hdr->entry_size =
		FSC_ENTRY_FIXED + s->hdr->path_max + FSC_ENTRY_COLD - 8;
}
static void m_entry_size_unaligned(struct seg *s)
{
	s->hdr->entry_size += 4;
}
static void m_entry_size_zero(struct seg *s)
{
	s->hdr->entry_size = 0;
}
static void m_entry_size_huge(struct seg *s)
{
	s->hdr->entry_size = 0x80000000u;
	s->hdr->segment_size = FSC_HEADER_SIZE + (uint64_t)s->hdr->slot_count *
							 s->hdr->entry_size;
}
static void m_segment_size_big(struct seg *s)
{
	s->hdr->segment_size += 4096;
}
static void m_segment_size_small(struct seg *s)
{
	s->hdr->segment_size -= 8;
}
static void m_segment_size_max(struct seg *s)
{
	s->hdr->segment_size = ~0ull;
}
static void m_probe_zero(struct seg *s)
{
	s->hdr->probe_limit = 0;
}
static void m_probe_over_capacity(struct seg *s)
{
	s->hdr->probe_limit = s->hdr->slot_count + 1;
}
static void m_probe_over_max(struct seg *s)
{
	s->hdr->probe_limit = FSC_PROBE_LIMIT_MAX + 1;
}
static void m_socket_unterminated(struct seg *s)
{
	memset(s->hdr->socket_path, 'a', sizeof(s->hdr->socket_path));
	s->hdr->socket_path[0] = '/';
}
static void m_socket_long(struct seg *s)
{
	/* NUL only past sun_path: too long for an address. */
	memset(s->hdr->socket_path, 'a', sizeof(s->hdr->socket_path));
	s->hdr->socket_path[0] = '/';
	s->hdr->socket_path[sizeof(s->hdr->socket_path) - 1] = 0;
}
static void m_socket_relative(struct seg *s)
{
	memcpy(s->hdr->socket_path, "sock", 5);
}
static void m_socket_empty(struct seg *s)
{
	s->hdr->socket_path[0] = 0;
}

struct header_case {
	const char *what;
	mutate_fn mutate;
	int err; /* what fsc_open(FSC_OPEN_ATTACHED) must return */
};

static const struct header_case header_cases[] = {
	{ "magic", m_magic, -EPROTO },
	{ "byte-swapped magic", m_magic_swapped, -EPROTO },
	/* Another major is not corruption: a distinct error (COMPATIBILITY.md). */
	{ "major 3", m_major_next, -EPROTONOSUPPORT },
	{ "major 1", m_major_previous, -EPROTONOSUPPORT },
	{ "major 0", m_major_zero, -EPROTONOSUPPORT },
	{ "byte-swapped major", m_major_swapped, -EPROTONOSUPPORT },
	{ "header_size", m_header_size, -EPROTO },
	{ "capacity 0", m_capacity_zero, -EPROTO },
	{ "capacity not a power of two", m_capacity_npot, -EPROTO },
	{ "capacity 2^31", m_capacity_huge, -EPROTO },
	{ "capacity 2^32-1", m_capacity_max, -EPROTO },
	{ "capacity below minimum", m_capacity_small, -EPROTO },
	{ "capacity beyond the object", m_capacity_double, -EPROTO },
	{ "capacity max, size consistent", m_capacity_huge_consistent,
	  -EPROTO },
	{ "path_max not a multiple of 8", m_path_max_odd, -EPROTO },
	{ "path_max 0", m_path_max_zero, -EPROTO },
	{ "path_max huge", m_path_max_huge, -EPROTO },
	{ "path_max beyond entry", m_path_max_over, -EPROTO },
	{ "entry_size too small", m_entry_size_small, -EPROTO },
	{ "entry_size unaligned", m_entry_size_unaligned, -EPROTO },
	{ "entry_size 0", m_entry_size_zero, -EPROTO },
	{ "entry_size huge", m_entry_size_huge, -EPROTO },
	{ "segment_size larger than object", m_segment_size_big, -EPROTO },
	{ "segment_size smaller", m_segment_size_small, -EPROTO },
	{ "segment_size 2^64-1", m_segment_size_max, -EPROTO },
	{ "probe_limit 0", m_probe_zero, -EPROTO },
	{ "probe_limit > capacity", m_probe_over_capacity, -EPROTO },
	{ "probe_limit > max", m_probe_over_max, -EPROTO },
	{ "socket_path without NUL", m_socket_unterminated, -EPROTO },
	{ "socket_path too long", m_socket_long, -EPROTO },
	{ "socket_path relative", m_socket_relative, -EPROTO },
	{ "socket_path empty", m_socket_empty, -EPROTO },
};

static void check_rejected(const struct seg *s, const char *what, int err)
{
	fsc_handle *h = (fsc_handle *)&h;
	int rc = fsc_open(&h, s->name, FSC_OPEN_ATTACHED);
	cr_assert_eq(rc, err, "%s: fsc_open(ATTACHED) = %d (%s), want %d", what,
		     rc, fsc_strerror(rc), err);
	cr_assert_null(h);
	/* Without ATTACHED the handle opens detached and answers nothing. */
	cr_assert_eq(fsc_open(&h, s->name, 0), 0, "%s", what);
	cr_assert_not(fsc_attached(h), "%s", what);
	cr_assert_eq(fsc_attach_error(h), err, "%s: fsc_attach_error = %d",
		     what, fsc_attach_error(h));
	expect_all_uncached(h, NKEYS, what);
	struct fsc_stat o;
	char p[256];
	cr_assert_eq(fsc_slot_read(h, 0, p, sizeof(p), &o, NULL), FSC_UNCACHED);
	struct fsc_header hc;
	cr_assert_eq(fsc_header_read(h, &hc), FSC_UNCACHED);
	cr_assert_eq(fsc_control(h, FSC_OP_SYNC, NULL, 1000, NULL, 0),
		     -ENOTCONN, "%s", what);
	cr_assert_eq(fsc_request_watch(h, "/r/x"), -ENOTCONN);
	fsc_close(h);
}

Test(reader, header_rejected)
{
	for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]);
	     i++) {
		const struct header_case *c = &header_cases[i];
		struct seg s;
		seg_create(&s, &default_geom, 0600);
		put_keys(&s, NKEYS);
		c->mutate(&s);
		check_rejected(&s, c->what, c->err);
		seg_destroy(&s);
		shm_unlink(s.shm);
		g_nobjects--; /* done with it; keep the .fini list short */
	}
}

/* Status and liveness: the segment is sound but must not be served from. */
Test(reader, not_serving_rejected)
{
	static const struct {
		const char *what;
		uint32_t status, alive;
		int err;
	} cases[] = {
		{ "writer_alive 0 (clean stop)", FSC_STATUS_SERVING, 0,
		  -ENOENT },
		{ "writer died", FSC_STATUS_SERVING, FSC_WRITER_DIED | 1234,
		  -ENOENT },
		{ "died bit alone", FSC_STATUS_SERVING, FSC_WRITER_DIED,
		  -ENOENT },
		{ "status INIT", FSC_STATUS_INIT, 1234, -EAGAIN },
		{ "status REVALIDATING", FSC_STATUS_REVALIDATING, 1234,
		  -ENOENT },
		{ "status RETIRED", FSC_STATUS_RETIRED, 1234, -ENOENT },
		{ "status 77", 77, 1234, -ENOENT },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seg s;
		seg_create(&s, &default_geom, 0600);
		put_keys(&s, NKEYS);
		s.hdr->status = cases[i].status;
		s.hdr->writer_alive = cases[i].alive;
		check_rejected(&s, cases[i].what, cases[i].err);
		seg_destroy(&s);
		shm_unlink(s.shm);
		g_nobjects--;
	}
}

/* The same, turning up while a handle is attached: no hit after that. */
Test(reader, stops_serving_while_attached)
{
	static const struct {
		const char *what;
		uint32_t status, alive;
	} cases[] = {
		{ "writer died", FSC_STATUS_SERVING, FSC_WRITER_DIED | 1234 },
		{ "writer_alive 0", FSC_STATUS_SERVING, 0 },
		{ "status RETIRED", FSC_STATUS_RETIRED, 1234 },
		{ "status INIT", FSC_STATUS_INIT, 1234 },
		{ "status REVALIDATING", FSC_STATUS_REVALIDATING, 1234 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seg s;
		seg_create(&s, &default_geom, 0600);
		put_keys(&s, NKEYS);
		fsc_handle *h = open_ok(&s);
		expect_all_hit(h, NKEYS, cases[i].what);
		uint32_t alive = s.hdr->writer_alive;
		s.hdr->status = cases[i].status;
		s.hdr->writer_alive = cases[i].alive;
		expect_all_uncached(h, NKEYS, cases[i].what);
		cr_assert_not(fsc_attached(h));
		/* Back to serving (same segment): hits again after re-attach
		 * (RETIRED re-attaches at once; the others are rate-limited,
		 * so only check that nothing wrong is answered). */
		s.hdr->status = FSC_STATUS_SERVING;
		s.hdr->writer_alive = alive;
		expect_no_wrong_hit(h, NKEYS, cases[i].what);
		fsc_close(h);
		seg_destroy(&s);
		shm_unlink(s.shm);
		g_nobjects--;
	}
}

/*
 * A writer that stops cleanly marks its segment RETIRED, clears
 * writer_alive and unlinks the name; readers keep the old mapping.  Their
 * lookups answer FSC_UNCACHED (callers stat()), and re-attach attempts
 * stay rate-limited (FSC_REATTACH_INTERVAL_MS): a stopped writer must not
 * turn every lookup into a failing shm_open() on top of the caller's
 * stat().  Likewise for a dead writer, and for a retired segment that is
 * still linked (killed between retiring and unlinking).
 */
static void count_reattach_attempts(int how)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	fsc_handle *h = open_ok(&s);
	expect_all_hit(h, NKEYS, "before the stop");
	if (how == 2) {
		s.hdr->writer_alive |= FSC_WRITER_DIED;
	} else {
		s.hdr->status = FSC_STATUS_RETIRED;
		s.hdr->writer_alive = 0;
	}
	if (how != 1)
		shm_unlink(s.shm);
	unsigned before = g_shm_opens;
	struct fsc_stat o;
	char p[128];
	key_path(p, sizeof(p), 1);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(fsc_lookup(h, p, &o), FSC_UNCACHED);
	unsigned attempts = g_shm_opens - before;
	/* 1000 lookups take far less than one interval: one attempt, maybe
	 * two if an interval boundary falls inside the loop. */
	cr_assert_leq(attempts, 2, "%s: %u shm_open() calls for 1000 lookups",
		      how == 0   ? "clean stop"
		      : how == 1 ? "retired, linked"
				 : "writer died",
		      attempts);
	fsc_close(h);
	seg_destroy(&s);
}

/*
 * A retired segment is re-opened without waiting, but only once: after a
 * clean stop (retired, no successor) each lookup must not cost a failing
 * shm_open() on top of the caller's stat().
 */
Test(reader, stopped_writer_reattach_rate_limited)
{
	count_reattach_attempts(0);
}

Test(reader, retired_linked_reattach_rate_limited)
{
	count_reattach_attempts(1);
}

Test(reader, dead_writer_reattach_rate_limited)
{
	count_reattach_attempts(2);
}

/* Reserved header fields are for newer minors: ignored, not trusted. */
Test(reader, reserved_header_fields_ignored)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	s.hdr->flags = ~FSC_SEG_F_KNOWN; /* the defined bits change answers */
	s.hdr->reserved0 = 0xffffffffu;
	s.hdr->version_minor = 0xffffffffu;
	memset(s.base + sizeof(struct fsc_header), 0xa5,
	       FSC_HEADER_SIZE - sizeof(struct fsc_header));
	fsc_handle *h = open_ok(&s);
	expect_all_hit(h, NKEYS, "reserved fields set");
	expect_no_wrong_hit(h, NKEYS, "reserved fields set");
	fsc_close(h);
	seg_destroy(&s);
}

/* Geometry is copied at attach: rewriting it later changes nothing. */
Test(reader, geometry_not_reread)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	fsc_handle *h = open_ok(&s);
	s.hdr->slot_count = 0xffffffffu;
	s.hdr->probe_limit = 0;
	s.hdr->path_max = 7;
	s.hdr->entry_size = 1u << 30;
	s.hdr->header_size = 0;
	s.hdr->segment_size = 1;
	s.hdr->hash_seed ^= 1;
	s.hdr->magic = 0;
	expect_all_hit(h, NKEYS, "geometry rewritten after attach");
	cr_assert_eq(fsc_slot_count(h), default_geom.capacity);
	fsc_close(h);
	seg_destroy(&s);
}

/* ---- the object's size: never SIGBUS --------------------------------------- */

static void resize_object(const struct seg *s, off_t size)
{
	int fd = shm_open(s->shm, O_RDWR | O_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
}

Test(reader, object_size_mismatch)
{
	static const struct {
		const char *what;
		long delta;    /* bytes added to the object (< 0: removed) */
		long absolute; /* >= 0: set the size to this instead */
		int err;
	} cases[] = {
		{ "object smaller by one entry", -256, -1, -EPROTO },
		{ "object smaller by a byte", -1, -1, -EPROTO },
		{ "object one page", 0, 4096, -EPROTO },
		{ "object shorter than the header", 0, 100, -EAGAIN },
		{ "object empty", 0, 0, -EAGAIN },
		{ "object larger", 4096, -1, -EPROTO },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seg s;
		seg_create(&s, &default_geom, 0600);
		put_keys(&s, NKEYS);
		size_t size = s.size;
		seg_destroy(&s);
		resize_object(&s, cases[i].absolute >= 0
					  ? (off_t)cases[i].absolute
					  : (off_t)size + cases[i].delta);
		check_rejected(&s, cases[i].what, cases[i].err);
		shm_unlink(s.shm);
		g_nobjects--;
	}
}

/* ---- squatting ------------------------------------------------------------ */

Test(reader, squatted_object_refused)
{
	static const mode_t bad[] = { 0666, 0620, 0602, 0660, 0622, 0606 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seg s;
		seg_create(&s, &default_geom, bad[i]);
		put_keys(&s, NKEYS);
		fsc_handle *h = (fsc_handle *)&h;
		int rc = fsc_open(&h, s.name, FSC_OPEN_ATTACHED);
		cr_assert_eq(rc, -EPERM, "mode %04o: %s", (unsigned)bad[i],
			     fsc_strerror(rc));
		cr_assert_null(h);
		cr_assert_eq(fsc_open(&h, s.name, 0), 0);
		expect_all_uncached(h, NKEYS, "squatted");
		fsc_close(h);
		seg_destroy(&s);
	}
	/* Group- or world-readable but owner-only writable is sharing. */
	static const mode_t good[] = { 0600, 0640, 0644, 0400 };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct seg s;
		seg_create(&s, &default_geom, good[i]);
		put_keys(&s, NKEYS);
		fsc_handle *h = open_ok(&s);
		expect_all_hit(h, NKEYS, "shared read-only");
		fsc_close(h);
		seg_destroy(&s);
	}
}

Test(reader, foreign_owner_refused)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	fsc_handle *h = (fsc_handle *)&h;
	if (geteuid() == 0) {
		/* Another user created the name first. */
		int fd = shm_open(s.shm, O_RDWR | O_CLOEXEC, 0);
		cr_assert_geq(fd, 0);
		cr_assert_eq(fchown(fd, 54321, 54321), 0);
		close(fd);
		cr_assert_eq(fsc_open(&h, s.name, FSC_OPEN_ATTACHED), -EPERM);
		/* ...unless that user is the one we expect. */
		setenv("FSTATCACHE_OWNER_UID", "54321", 1);
		h = open_ok(&s);
		expect_all_hit(h, NKEYS, "expected owner");
		fsc_close(h);
	} else {
		/* Ours, but we expect someone else (and it is not root's). */
		setenv("FSTATCACHE_OWNER_UID", "54321", 1);
		cr_assert_eq(fsc_open(&h, s.name, FSC_OPEN_ATTACHED), -EPERM);
	}
	setenv("FSTATCACHE_OWNER_UID", "12abc", 1);
	cr_assert_eq(fsc_open(&h, s.name, 0), -EINVAL);
	setenv("FSTATCACHE_OWNER_UID", "99999999999", 1);
	cr_assert_eq(fsc_open(&h, s.name, 0), -EINVAL);
	unsetenv("FSTATCACHE_OWNER_UID");
	seg_destroy(&s);
}

/* ---- recency marks: a bad .use object is never written ------------------- */

static uint8_t *make_use(const struct seg *s, uint64_t magic, uint64_t epoch,
			 uint32_t capacity, size_t size, mode_t mode)
{
	char shm[96];
	fsc_shm_name(shm, sizeof(shm), s->name, 1);
	int fd = make_object(shm, size, mode);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(p, MAP_FAILED);
	struct fsc_use_header *u = p;
	u->magic = magic;
	u->epoch = epoch;
	u->slot_count = capacity;
	return p;
}

Test(reader, use_object_checked)
{
	const uint32_t cap = default_geom.capacity;
	const size_t good_size = FSC_USE_HEADER_SIZE + cap;
	static const struct {
		const char *what;
		int marks; /* 1: a hit must set the slot's byte */
	} cases[] = {
		{ "valid", 1 },       { "wrong magic", 0 },
		{ "wrong epoch", 0 }, { "wrong capacity", 0 },
		{ "wrong size", 0 },  { "world-writable", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seg s;
		seg_create(&s, &default_geom, 0600);
		put_keys(&s, NKEYS);
		uint64_t magic = i == 1 ? ~FSC_USE_MAGIC : FSC_USE_MAGIC;
		uint64_t epoch = s.hdr->epoch ^ (i == 2);
		uint32_t c = i == 3 ? cap * 2 : cap;
		size_t size = i == 4 ? good_size + 4096 : good_size;
		uint8_t *u = make_use(&s, magic, epoch, c, size,
				      i == 5 ? 0666 : 0600);
		fsc_handle *h = open_ok(&s);
		expect_all_hit(h, NKEYS, cases[i].what);
		for (unsigned k = 0; k < NKEYS; k++) {
			const struct fsc_entry *e = key_slot(&s, k);
			uint32_t slot = (uint32_t)(((const unsigned char *)e -
						    s.base - FSC_HEADER_SIZE) /
						   s.hdr->entry_size);
			cr_assert_eq(u[FSC_USE_HEADER_SIZE + slot],
				     cases[i].marks, "%s: slot %u",
				     cases[i].what, slot);
		}
		fsc_close(h);
		munmap(u, size);
		seg_destroy(&s);
	}
}

/* ---- entries, corrupted one thing at a time ------------------------------ */

#define VICTIM 5u /* the key whose slot gets corrupted */

typedef void (*entry_fn)(struct seg *s, struct fsc_entry *e);

static void e_path_len_max(struct seg *s, struct fsc_entry *e)
{
	e->path_len = s->hdr->path_max;
}
static void e_path_len_huge(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->path_len = 0xffffu;
}
static void e_path_len_plus(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->path_len++;
}
static void e_path_len_minus(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->path_len--;
}
static void e_path_byte(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	((char *)e + FSC_ENTRY_FIXED)[3] ^= 0x20; /* a foreign key */
}
static void e_hash(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->hash ^= 1;
}
static void e_padding(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	/* Garbage after the NUL, in the word that holds the NUL. */
	cr_assert_neq(e->path_len % 8, 7, "victim key needs padding");
	((char *)e + FSC_ENTRY_FIXED)[e->path_len | 7] = 'z';
}
static void e_nul_overwritten(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	((char *)e + FSC_ENTRY_FIXED)[e->path_len] = 'z';
}
static void e_seq_odd(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->seq |= 1;
}
static void e_mode_zero(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->mode = 0644;
}
static void e_mode_link(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->mode = S_IFLNK | 0777;
}
static void e_mode_all(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->mode = 0xffffffffu;
}
static void e_flags_unknown(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->flags |= 0x8000u;
}
static void e_flags_bit3(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->flags |= 0x8u;
}
static void e_flags_nocache(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->flags |= FSC_ENT_NOCACHE;
}
static void e_size_negative(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->size = -1;
}
static void e_blocks_negative(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->blocks = INT64_MIN;
}
static void e_unused(struct seg *s, struct fsc_entry *e)
{
	(void)s;
	e->flags &= ~FSC_ENT_USED;
}

struct entry_case {
	const char *what;
	entry_fn mutate;
	int want; /* what the victim key answers: FSC_MISS or FSC_UNCACHED */
};

static const struct entry_case entry_cases[] = {
	{ "path_len = path_max", e_path_len_max, FSC_MISS },
	{ "path_len 2^16-1", e_path_len_huge, FSC_MISS },
	{ "path_len + 1", e_path_len_plus, FSC_MISS },
	{ "path_len - 1", e_path_len_minus, FSC_MISS },
	{ "path differs from its hash", e_path_byte, FSC_MISS },
	{ "hash differs from its path", e_hash, FSC_MISS },
	{ "garbage after the NUL", e_padding, FSC_MISS },
	{ "NUL overwritten", e_nul_overwritten, FSC_MISS },
	{ "seq stuck odd", e_seq_odd, FSC_UNCACHED },
	{ "mode without type", e_mode_zero, FSC_UNCACHED },
	{ "mode symlink", e_mode_link, FSC_UNCACHED },
	{ "mode all bits", e_mode_all, FSC_UNCACHED },
	{ "flags bit 15", e_flags_unknown, FSC_UNCACHED },
	{ "flags bit 3", e_flags_bit3, FSC_UNCACHED },
	{ "flags NOCACHE", e_flags_nocache, FSC_UNCACHED },
	{ "size negative", e_size_negative, FSC_UNCACHED },
	{ "blocks negative", e_blocks_negative, FSC_UNCACHED },
	{ "slot marked unused", e_unused, FSC_MISS },
};

Test(reader, entry_rejected)
{
	for (size_t i = 0; i < sizeof(entry_cases) / sizeof(entry_cases[0]);
	     i++) {
		const struct entry_case *c = &entry_cases[i];
		struct seg s;
		seg_create(&s, &default_geom, 0600);
		put_keys(&s, NKEYS);
		struct fsc_entry *e = key_slot(&s, VICTIM);
		char vp[128], foreign[160];
		key_path(vp, sizeof(vp), VICTIM);
		c->mutate(&s, e);
		/* What the slot now claims to hold, if it is a string. */
		const char *sp = (const char *)e + FSC_ENTRY_FIXED;
		uint32_t fl = e->path_len < s.hdr->path_max ? e->path_len : 0;
		snprintf(foreign, sizeof(foreign), "%.*s", (int)fl, sp);

		fsc_handle *h = NULL;
		cr_assert_eq(fsc_open(&h, s.name, 0), 0);
		struct fsc_stat o;
		int rc = fsc_lookup(h, vp, &o);
		cr_assert_eq(rc, c->want, "%s: victim answered %s", c->what,
			     rc_name(rc));
		if (strcmp(foreign, vp) != 0 &&
		    fsc_path_ok(foreign, strlen(foreign))) {
			rc = fsc_lookup(h, foreign, &o);
			cr_assert(rc == FSC_MISS || rc == FSC_UNCACHED,
				  "%s: foreign key %s answered %s", c->what,
				  foreign, rc_name(rc));
		}
		/* Others: a correct hit, or a miss/uncached when their probe
		 * crosses the broken slot; never a wrong answer. */
		expect_no_wrong_hit(h, NKEYS, c->what);
		for (uint32_t j = 0; j < fsc_slot_count(h); j++) {
			char lp[512];
			rc = fsc_slot_read(h, j, lp, sizeof(lp), &o, NULL);
			cr_assert(rc == 0 || rc == FSC_MISS ||
					  rc == FSC_UNCACHED || rc == -EPROTO,
				  "%s: slot_read %u: %s", c->what, j,
				  rc_name(rc));
			if (rc == 0)
				cr_assert_lt(strlen(lp), s.hdr->path_max);
		}
		fsc_close(h);
		seg_destroy(&s);
		shm_unlink(s.shm);
		g_nobjects--;
	}
}

/*
 * The longest key a slot holds (path_max - 1 bytes) with its NUL, the last
 * byte of the path area, overwritten: hash and length still agree with
 * the key, only the terminator is gone.  Never a hit, and listing the slot
 * reports it as invalid.
 */
Test(reader, path_area_without_nul)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	char p[FSC_PATH_MAX_MAX];
	uint32_t len = default_geom.path_max - 1;
	memset(p, 'a', len);
	p[0] = '/';
	p[len] = 0;
	struct fw_record r = record_for(1);
	int64_t slot = fw_table_put(&s.t, p, len, &r, no_eviction, NULL);
	cr_assert_geq(slot, 0);
	fsc_handle *h = open_ok(&s);
	struct fsc_stat o;
	cr_assert_eq(fsc_lookup(h, p, &o), 0);
	cr_assert(answer_matches(1, &o));
	unsigned char *e =
		s.base + FSC_HEADER_SIZE + (size_t)slot * s.hdr->entry_size;
	e[FSC_ENTRY_FIXED + len] = 'a';
	cr_assert_eq(fsc_lookup(h, p, &o), FSC_MISS);
	char lp[512];
	cr_assert_eq(fsc_slot_read(h, (uint32_t)slot, lp, sizeof(lp), &o, NULL),
		     -EPROTO);
	expect_no_wrong_hit(h, NKEYS, "no NUL");
	fsc_close(h);
	seg_destroy(&s);
}

/* A cached non-existence carries no stat fields worth validating. */
Test(reader, nonexistent_entry_fields_ignored)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	struct fsc_entry *e = key_slot(&s, 9); /* record_for(9): !EXISTS */
	e->mode = 0;
	e->size = -5;
	fsc_handle *h = open_ok(&s);
	char p[128];
	struct fsc_stat o;
	key_path(p, sizeof(p), 9);
	cr_assert_eq(fsc_lookup(h, p, &o), 0);
	cr_assert_eq(o.exists, 0);
	cr_assert_eq(o.err, ENOENT);
	fsc_close(h);
	seg_destroy(&s);
}

/* Seqcounts stuck odd (a writer killed mid-update): bounded, no hit. */
Test(reader, table_gen_stuck_odd, .timeout = 10)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	fsc_handle *h = open_ok(&s);
	s.hdr->table_gen |= 1;
	for (int round = 0; round < 1000; round++)
		expect_all_uncached(h, NKEYS, "table_gen odd");
	s.hdr->table_gen++;
	expect_all_hit(h, NKEYS, "table_gen even again");
	fsc_close(h);
	seg_destroy(&s);
}

Test(reader, every_seq_stuck_odd, .timeout = 10)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	fsc_handle *h = open_ok(&s);
	for (uint32_t i = 0; i < s.hdr->slot_count; i++) {
		struct fsc_entry *e =
			(struct fsc_entry *)(s.base + FSC_HEADER_SIZE +
					     (size_t)i * s.hdr->entry_size);
		e->seq |= 1;
	}
	for (int round = 0; round < 1000; round++)
		expect_all_uncached(h, NKEYS, "every seq odd");
	char p[256];
	struct fsc_stat o;
	for (uint32_t i = 0; i < s.hdr->slot_count; i++)
		cr_assert_eq(fsc_slot_read(h, i, p, sizeof(p), &o, NULL),
			     FSC_UNCACHED);
	fsc_close(h);
	seg_destroy(&s);
}

/* A full table with probe_limit == capacity: a miss visits every slot once. */
Test(reader, full_table_miss_bounded, .timeout = 10)
{
	const struct geom g = { 16, 64, 16, 15 };
	struct seg s;
	seg_create(&s, &g, 0600);
	char p[64];
	for (unsigned k = 0; k < 15; k++) {
		struct fw_record r = record_for(0);
		snprintf(p, sizeof(p), "/f/%u", k);
		cr_assert_geq(fw_table_put(&s.t, p, (uint32_t)strlen(p), &r,
					   NULL, NULL),
			      0);
	}
	/* Make the last slot used too (a hostile writer): no empty slot. */
	for (uint32_t i = 0; i < g.capacity; i++) {
		struct fsc_entry *e =
			(struct fsc_entry *)(s.base + FSC_HEADER_SIZE +
					     (size_t)i * s.hdr->entry_size);
		e->flags |= FSC_ENT_USED;
	}
	fsc_handle *h = open_ok(&s);
	struct fsc_stat o;
	for (int i = 0; i < 10000; i++) {
		snprintf(p, sizeof(p), "/absent/%d", i);
		int rc = fsc_lookup(h, p, &o);
		cr_assert(rc == FSC_MISS || rc == FSC_UNCACHED, "%s: %s", p,
			  rc_name(rc));
	}
	fsc_close(h);
	seg_destroy(&s);
}

/*
 * A newer minor version may append fields to entries: a reader of minor 0
 * takes the stride from entry_size and skips what it does not know.
 */
Test(reader, newer_minor_wider_entries)
{
	const uint32_t extra = 64;
	struct seg src;
	seg_create(&src, &default_geom, 0600);
	put_keys(&src, NKEYS);

	struct seg s;
	memset(&s, 0, sizeof(s));
	unique_name(s.name, sizeof(s.name), "wide");
	fsc_shm_name(s.shm, sizeof(s.shm), s.name, 0);
	uint32_t es = src.hdr->entry_size + extra;
	s.size = FSC_HEADER_SIZE + (size_t)src.hdr->slot_count * es;
	int fd = make_object(s.shm, s.size, 0600);
	s.base = mmap(NULL, s.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(s.base, MAP_FAILED);
	s.hdr = (struct fsc_header *)s.base;
	memcpy(s.base, src.base, FSC_HEADER_SIZE);
	s.hdr->version_minor = 7;
	s.hdr->entry_size = es;
	s.hdr->segment_size = s.size;
	for (uint32_t i = 0; i < src.hdr->slot_count; i++) {
		unsigned char *d = s.base + FSC_HEADER_SIZE + (size_t)i * es;
		memcpy(d,
		       src.base + FSC_HEADER_SIZE +
			       (size_t)i * src.hdr->entry_size,
		       src.hdr->entry_size);
		memset(d + src.hdr->entry_size, 0xa5, extra);
	}
	fsc_handle *h = open_ok(&s);
	expect_all_hit(h, NKEYS, "wider entries");
	expect_no_wrong_hit(h, NKEYS, "wider entries");
	fsc_close(h);
	seg_destroy(&s);
	seg_destroy(&src);
}

/*
 * An entry keeps its times as nanoseconds since the epoch (format.h): a
 * reader splits them with floor division, before 1970 and at both ends
 * of the range too, nlink and rdev widen, and a header of a newer minor
 * changes none of it.
 */
Test(reader, packed_fields_are_unpacked)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	unsigned k = 0;
	while (!(record_for(k).flags & FSC_ENT_EXISTS))
		k++;
	struct fsc_entry *e = key_slot(&s, k);
	e->mtime_ns = INT64_MIN;
	e->ctime_ns = INT64_MAX;
	e->atime_ns = -1;
	e->nlink = UINT32_MAX;
	e->rdev = UINT32_MAX;
	s.hdr->version_minor = 9;
	fsc_handle *h = open_ok(&s);
	char p[128];
	struct fsc_stat o;
	key_path(p, sizeof(p), k);
	cr_assert_eq(fsc_lookup(h, p, &o), 0);
	cr_assert_eq(o.have, FSC_HAVE_BLKSIZE | FSC_HAVE_ATIME);
	cr_assert_eq(o.mtime_sec, INT64_C(-9223372037));
	cr_assert_eq(o.mtime_nsec, 145224192u);
	cr_assert_eq(o.ctime_sec, INT64_C(9223372036));
	cr_assert_eq(o.ctime_nsec, 854775807u);
	cr_assert_eq(o.atime_sec, -1);
	cr_assert_eq(o.atime_nsec, 999999999u);
	cr_assert_eq(o.nlink, UINT64_C(4294967295));
	cr_assert_eq(o.rdev, UINT64_C(4294967295));
	fsc_close(h);
	seg_destroy(&s);
}

/* ---- random corruption ----------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: fine for choosing bytes to flip */
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t test_seed(void)
{
	const char *e = getenv("FSC_TEST_SEED");
	if (e && *e)
		return strtoull(e, NULL, 0);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
	       (uint64_t)getpid();
}

/*
 * A byte of the segment to corrupt.  `anywhere`: any byte, stat fields
 * included (then a hit may carry the flipped value; see the top).
 */
static size_t pick_offset(const struct seg *s, uint64_t *rng, uint8_t *mask,
			  int anywhere)
{
	uint64_t r = rng_next(rng);
	*mask = (uint8_t)(r >> 56);
	if (*mask == 0)
		*mask = 1;
	if (anywhere)
		return (size_t)((r >> 8) % s->size);
	if (r % 3 == 0) /* the header's fields */
		return (size_t)((r >> 8) % sizeof(struct fsc_header));
	/* The writer's private copy of the geometry, never corrupted. */
	uint32_t es = s->t.entry_size;
	uint32_t slot = (uint32_t)((r >> 8) % s->t.capacity);
	const uint32_t key = offsetof(struct fsc_entry, dev); /* seq..hash */
	uint32_t off = (uint32_t)((r >> 32) % (key + s->t.path_max));
	if (off >= key)
		off += FSC_ENTRY_FIXED - key; /* into the path area */
	if (off == offsetof(struct fsc_entry, flags))
		*mask &= (uint8_t)~FSC_ENT_EXISTS; /* data, not structure */
	return FSC_HEADER_SIZE + (size_t)slot * es + off;
}

static void check_corrupted(fsc_handle *h, unsigned nkeys, uint64_t seed,
			    int iter, int anywhere)
{
	char p[128];
	struct fsc_stat o;
	for (unsigned k = 0; k < nkeys; k++) {
		key_path(p, sizeof(p), k);
		int rc = fsc_lookup(h, p, &o);
		cr_assert(rc == 0 || rc == FSC_MISS || rc == FSC_UNCACHED,
			  "seed %#" PRIx64 " iter %d: %s: %s", seed, iter, p,
			  rc_name(rc));
		if (rc == 0 && !anywhere)
			cr_assert(answer_matches(k, &o),
				  "seed %#" PRIx64 " iter %d: %s: wrong hit",
				  seed, iter, p);
		absent_path(p, sizeof(p), k);
		rc = fsc_lookup(h, p, &o);
		cr_assert(rc == FSC_MISS || rc == FSC_UNCACHED,
			  "seed %#" PRIx64 " iter %d: absent %s: %s", seed,
			  iter, p, rc_name(rc));
	}
	uint32_t cap = fsc_slot_count(h);
	for (uint32_t j = 0; j < cap; j++) {
		char lp[80]; /* shorter than path_max: truncation is checked */
		int rc = fsc_slot_read(h, j, lp, sizeof(lp), &o, NULL);
		cr_assert(rc == 0 || rc == FSC_MISS || rc == FSC_UNCACHED ||
				  rc == -EPROTO,
			  "seed %#" PRIx64 " iter %d: slot %u: %s", seed, iter,
			  j, rc_name(rc));
		if (rc == 0)
			cr_assert_lt(strlen(lp), sizeof(lp));
	}
}

Test(reader, random_corruption, .timeout = 120)
{
	uint64_t seed = test_seed();
	int iters = 20000;
	const char *e = getenv("FSC_TEST_ITERATIONS");
	if (e && *e)
		iters = atoi(e);
	cr_log_info("random_corruption: seed %#" PRIx64
		    " (FSC_TEST_SEED=%#" PRIx64 " to replay), %d iterations",
		    seed, seed, iters);
	uint64_t rng = seed;

	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	unsigned char *pristine = malloc(s.size);
	cr_assert_not_null(pristine);
	memcpy(pristine, s.base, s.size);

	fsc_handle *attached = open_ok(&s); /* geometry from the sound header */
	unsigned hits = 0, opened = 0;
	for (int it = 0; it < iters; it++) {
		memcpy(s.base, pristine, s.size);
		int nflips = 1 + (int)(rng_next(&rng) % 8);
		int anywhere = it % 4 == 3;
		for (int f = 0; f < nflips; f++) {
			uint8_t mask;
			size_t off = pick_offset(&s, &rng, &mask, anywhere);
			s.base[off] ^= mask;
		}
		/* Attach afresh (validation runs on the corrupted header)... */
		fsc_handle *h = NULL;
		cr_assert_eq(fsc_open(&h, s.name, 0), 0);
		opened += fsc_attached(h);
		check_corrupted(h, NKEYS, seed, it, anywhere);
		fsc_close(h);
		/* ...and through a handle attached before the damage. */
		check_corrupted(attached, NKEYS, seed, it, anywhere);
		char p[128];
		struct fsc_stat o;
		key_path(p, sizeof(p), (unsigned)it % NKEYS);
		hits += fsc_lookup(attached, p, &o) == 0;
	}
	cr_log_info("random_corruption: %u/%d fresh attaches accepted, %u "
		    "probe hits through the old handle",
		    opened, iters, hits);
	fsc_close(attached);
	free(pristine);
	seg_destroy(&s);
}

/* ---- the tag array (minor 5): read when sound, a hint only --------------- */

/* Make the .tags object, flag the header and keep the tags in step with
 * the slots (set from them now); returns the object's mapping. */
static uint16_t *make_tags(struct seg *s, uint64_t magic, uint64_t epoch,
			   uint32_t capacity, size_t size, mode_t mode)
{
	char shm[96];
	fsc_shm_name(shm, sizeof(shm), s->name, FSC_OBJ_TAGS);
	int fd = make_object(shm, size, mode);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(p, MAP_FAILED);
	struct fsc_tags_header *t = p;
	t->magic = magic;
	t->epoch = epoch;
	t->slot_count = capacity;
	uint16_t *tags = (uint16_t *)((char *)p + FSC_TAGS_HEADER_SIZE);
	fw_table_set_tags(&s->t, tags);
	s->hdr->flags |= FSC_SEG_F_TAGS;
	return tags;
}

static uint32_t key_slot_index(struct seg *s, unsigned k)
{
	const struct fsc_entry *e = key_slot(s, k);
	return (uint32_t)(((const unsigned char *)e - s->base -
			   FSC_HEADER_SIZE) /
			  s->hdr->entry_size);
}

/*
 * A reader follows a sound tag array: a key whose tag is changed is not
 * found (its slot is never read).  One that fails a check is ignored, and
 * the slots answer alone, as without one.
 */
Test(reader, tags_object_checked)
{
	const uint32_t cap = default_geom.capacity;
	const size_t good_size = FSC_TAGS_HEADER_SIZE + cap * sizeof(uint16_t);
	static const struct {
		const char *what;
		int used; /* 1: the reader must follow the tags */
	} cases[] = {
		{ "valid", 1 },           { "wrong magic", 0 },
		{ "wrong epoch", 0 },     { "wrong capacity", 0 },
		{ "wrong size", 0 },      { "group-writable", 0 },
		{ "header flag off", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seg s;
		seg_create(&s, &default_geom, 0600);
		put_keys(&s, NKEYS);
		uint64_t magic = i == 1 ? ~FSC_TAGS_MAGIC : FSC_TAGS_MAGIC;
		uint64_t epoch = s.hdr->epoch ^ (i == 2);
		uint32_t c = i == 3 ? cap * 2 : cap;
		size_t size = i == 4 ? good_size + 4096 : good_size;
		uint16_t *tags = make_tags(&s, magic, epoch, c, size,
					   i == 5 ? 0660 : 0600);
		if (i == 6)
			s.hdr->flags &= ~FSC_SEG_F_TAGS;
		fsc_handle *h = open_ok(&s);
		expect_all_hit(h, NKEYS, cases[i].what);
		/* Another nonzero tag for the victim: only its probe skips it. */
		tags[key_slot_index(&s, VICTIM)] ^= 2;
		char p[128];
		for (unsigned k = 0; k < NKEYS; k++) {
			struct fsc_stat o;
			key_path(p, sizeof(p), k);
			int rc = fsc_lookup(h, p, &o);
			int want = k == VICTIM && cases[i].used ? FSC_MISS : 0;
			cr_assert_eq(rc, want, "%s: key %s: %s, want %s",
				     cases[i].what, p, rc_name(rc),
				     rc_name(want));
			if (rc == 0)
				cr_assert(answer_matches(k, &o), "%s: key %s",
					  cases[i].what, p);
		}
		fsc_close(h);
		munmap((char *)tags - FSC_TAGS_HEADER_SIZE, size);
		seg_destroy(&s);
	}
}

/* Whatever the tags say, an answer comes from the slot and its full key. */
Test(reader, wrong_tags_never_give_wrong_answers)
{
	uint64_t rng = test_seed();
	const uint32_t cap = default_geom.capacity;
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	uint16_t *tags =
		make_tags(&s, FSC_TAGS_MAGIC, s.hdr->epoch, cap,
			  FSC_TAGS_HEADER_SIZE + cap * sizeof(uint16_t), 0600);
	uint16_t *sound = malloc(cap * sizeof(uint16_t));
	cr_assert_not_null(sound);
	memcpy(sound, tags, cap * sizeof(uint16_t));
	fsc_handle *h = open_ok(&s);
	unsigned hits = 0;
	for (int it = 0; it < 2000; it++) {
		memcpy(tags, sound, cap * sizeof(uint16_t));
		for (int f = 1 + (int)(rng_next(&rng) % 8); f > 0; f--) {
			uint64_t r = rng_next(&rng);
			uint16_t *t = &tags[r % cap];
			/* 0, any value, or the tag of a key that is not there */
			*t = (r >> 32) % 3 == 0   ? 0
			     : (r >> 32) % 3 == 1 ? (uint16_t)(r >> 40)
						  : sound[(r >> 20) % cap];
		}
		expect_no_wrong_hit(h, NKEYS, "corrupted tags");
		struct fsc_stat o;
		char p[128];
		key_path(p, sizeof(p), (unsigned)it % NKEYS);
		hits += fsc_lookup(h, p, &o) == 0;
	}
	cr_assert_gt(hits, 0u);
	fsc_close(h);
	free(sound);
	munmap((char *)tags - FSC_TAGS_HEADER_SIZE,
	       FSC_TAGS_HEADER_SIZE + cap * sizeof(uint16_t));
	seg_destroy(&s);
}

/* ---- canonical paths ------------------------------------------------------- */

Test(reader, path_ok)
{
	static const struct {
		const char *p;
		size_t len; /* 0: strlen */
		int ok;
	} cases[] = {
		{ "/", 0, 0 },         { "", 0, 0 },
		{ "a", 0, 0 },         { "a/b", 0, 0 },
		{ "/a", 0, 1 },        { "/var/log/syslog", 0, 1 },
		{ "/a/b.c", 0, 1 },    { "/.hidden", 0, 1 },
		{ "/a/..b", 0, 1 },    { "/a/b..", 0, 1 },
		{ "/a/...", 0, 1 },    { "/...", 0, 1 },
		{ "/a.", 0, 1 },       { "/a/.b/c", 0, 1 },
		{ "/a b/c\td", 0, 1 }, { "/\xc3\xa9t\xc3\xa9", 0, 1 },
		{ "//", 0, 0 },        { "//a", 0, 0 },
		{ "/a//b", 0, 0 },     { "/a/", 0, 0 },
		{ "/a/b/", 0, 0 },     { "/.", 0, 0 },
		{ "/..", 0, 0 },       { "/./a", 0, 0 },
		{ "/../a", 0, 0 },     { "/a/.", 0, 0 },
		{ "/a/..", 0, 0 },     { "/a/./b", 0, 0 },
		{ "/a/../b", 0, 0 },   { "./a", 0, 0 },
		{ "../a", 0, 0 },      { "/a\0b", 4, 0 },
		{ "/ab\0", 4, 0 },     { "/a", 1, 0 }, /* "/" */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].p);
		/* An exact-size copy, so a read past len is caught by ASan. */
		char *buf = malloc(len ? len : 1);
		cr_assert_not_null(buf);
		memcpy(buf, cases[i].p, len);
		cr_assert_eq(fsc_path_ok(buf, len), cases[i].ok,
			     "fsc_path_ok(\"%s\", %zu) != %d", cases[i].p, len,
			     cases[i].ok);
		free(buf);
	}
}

/* ---- batched lookups and published counts --------------------------------- */

/* fsc_lookup_many() answers exactly as one fsc_lookup() per path would. */
Test(reader, lookup_many_equals_lookup)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	fsc_handle *h = open_ok(&s);

	enum {
		N = 3 * NKEYS + 3
	};
	char bufs[N][128];
	const char *paths[N];
	for (unsigned i = 0; i < N; i++) {
		unsigned k = i % NKEYS;
		if (i < NKEYS)
			key_path(bufs[i], sizeof(bufs[i]), k);
		else if (i < 2 * NKEYS)
			absent_path(bufs[i], sizeof(bufs[i]), k);
		else if (i < 3 * NKEYS)
			key_path(bufs[i], sizeof(bufs[i]), NKEYS - 1 - k);
		else
			snprintf(bufs[i], sizeof(bufs[i]), "%s",
				 i == N - 1 ? "relative" : "/a/../b");
		paths[i] = bufs[i];
	}
	struct fsc_stat many[N], one;
	int results[N];
	fsc_lookup_many(h, paths, N, many, results);
	for (unsigned i = 0; i < N; i++) {
		int r = fsc_lookup(h, paths[i], &one);
		cr_assert_eq(results[i], r, "%s: many %s, one %s", paths[i],
			     rc_name(results[i]), rc_name(r));
		if (r == 0)
			cr_assert(!memcmp(&many[i], &one, sizeof(one)),
				  "%s: answers differ", paths[i]);
	}
	fsc_lookup_many(h, paths, 3, NULL, results);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(results[i], -EINVAL);
	fsc_lookup_many(h, paths, 0, many, results); /* nothing to do */
	fsc_close(h);
	seg_destroy(&s);
}

/* A valid recency object for `s`, as the writer makes it. */
static void add_use_object(struct seg *s, char *use, size_t size)
{
	fsc_shm_name(use, size, s->name, 1);
	size_t n = FSC_USE_HEADER_SIZE + s->hdr->slot_count;
	int fd = make_object(use, n, 0600);
	struct fsc_use_header u = { .magic = FSC_USE_MAGIC,
				    .epoch = s->hdr->epoch,
				    .slot_count = s->hdr->slot_count };
	cr_assert_eq(pwrite(fd, &u, sizeof(u), 0), (ssize_t)sizeof(u));
	close(fd);
}

/* Lookup counts reach the .use header, at the latest when the handle closes. */
Test(reader, lookup_counts_published)
{
	struct seg s;
	char use[96];
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	add_use_object(&s, use, sizeof(use));
	fsc_handle *h = open_ok(&s);
	char p[128];
	struct fsc_stat o;
	for (unsigned i = 0; i < 3000; i++) {
		key_path(p, sizeof(p), i % NKEYS);
		cr_assert_eq(fsc_lookup(h, p, &o), 0);
	}
	absent_path(p, sizeof(p), 1);
	cr_assert_eq(fsc_lookup(h, p, &o), FSC_MISS);
	cr_assert_eq(fsc_lookup(h, "not/absolute", &o), FSC_UNCACHED);
	fsc_close(h);

	int fd = shm_open(use, O_RDONLY, 0);
	cr_assert_geq(fd, 0);
	struct fsc_use_header u;
	cr_assert_eq(pread(fd, &u, sizeof(u), 0), (ssize_t)sizeof(u));
	close(fd);
	cr_expect_eq(u.reader_hits, 3000);
	cr_expect_eq(u.reader_misses, 1);
	cr_expect_eq(u.reader_uncached, 1);
	seg_destroy(&s);
}

/*
 * A reader of another format major is told so (-EPROTONOSUPPORT, not the
 * corruption error) and leaves a mark where every major looks: the .use
 * header's version_mismatches, once per handle and segment.
 */
Test(reader, other_major_counted)
{
	struct seg s;
	char use[96];
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	add_use_object(&s, use, sizeof(use));
	s.hdr->version_major = FSC_FORMAT_MAJOR + 1;
	fsc_handle *h = (fsc_handle *)&h;
	cr_assert_eq(fsc_open(&h, s.name, FSC_OPEN_ATTACHED), -EPROTONOSUPPORT);
	cr_assert_null(h);
	cr_assert_eq(fsc_open(&h, s.name, 0), 0);
	cr_assert_eq(fsc_attach_error(h), -EPROTONOSUPPORT);
	cr_assert_eq(
		fsc_control(h, FSC_OP_SYNC, NULL, 200, NULL, 0),
		-ENOTCONN); /* forced re-attach: same object, not recounted */
	fsc_close(h);

	int fd = shm_open(use, O_RDONLY, 0);
	cr_assert_geq(fd, 0);
	struct fsc_use_header u;
	cr_assert_eq(pread(fd, &u, sizeof(u), 0), (ssize_t)sizeof(u));
	close(fd);
	cr_expect_eq(u.version_mismatches, 2, "version_mismatches %llu",
		     (unsigned long long)u.version_mismatches);
	cr_expect_eq(u.reserved1, 0);
	seg_destroy(&s);
}

/*
 * fsc_entries_scan(): every key once, in slot order, with its answer; a
 * slot that fails validation is listed with -EPROTO; a table whose
 * generation stays odd (a move that never ends) gives an unstable listing
 * after the passes asked for, never a hang.
 */
Test(reader, entries_scan)
{
	struct seg s;
	seg_create(&s, &default_geom, 0600);
	put_keys(&s, NKEYS);
	fsc_handle *h = open_ok(&s);
	struct fsc_listing l;
	cr_assert_eq(fsc_entries_scan(h, FSC_SCAN_PASSES, &l), 0);
	cr_assert_eq(l.count, NKEYS);
	cr_assert(l.stable);
	cr_assert_eq(l.busy, 0);
	unsigned seen[NKEYS] = { 0 };
	for (size_t i = 0; i < l.count; i++) {
		const struct fsc_listed *e = &l.entries[i];
		cr_assert_eq(e->status, 0);
		cr_assert(i == 0 || e->slot > l.entries[i - 1].slot);
		unsigned k;
		char p[128];
		cr_assert_eq(sscanf(e->path, "/r/k%u", &k), 1, "%s", e->path);
		key_path(p, sizeof(p), k);
		cr_assert_str_eq(e->path, p);
		cr_assert(answer_matches(k, &e->st), "%s", e->path);
		seen[k]++;
	}
	for (unsigned k = 0; k < NKEYS; k++)
		cr_assert_eq(seen[k], 1, "key %u listed %u times", k, seen[k]);
	fsc_listing_free(&l);
	cr_assert_null(l.entries);
	cr_assert_eq(l.count, 0);

	struct fsc_entry *bad = key_slot(&s, 3);
	bad->mode = 0; /* exists, but no file type: fails validation */
	cr_assert_eq(fsc_entries_scan(h, 1, &l), 0);
	cr_assert_eq(l.count, NKEYS);
	unsigned invalid = 0;
	for (size_t i = 0; i < l.count; i++)
		if (l.entries[i].status == -EPROTO) {
			invalid++;
			cr_assert_null(l.entries[i].path);
		}
	cr_assert_eq(invalid, 1);
	fsc_listing_free(&l);

	s.hdr->table_gen |= 1; /* a move that never ends */
	cr_assert_eq(fsc_entries_scan(h, 3, &l), 0);
	cr_assert_not(l.stable);
	cr_assert_eq(l.count, NKEYS);
	fsc_listing_free(&l);
	fsc_close(h);
	seg_destroy(&s);
}
