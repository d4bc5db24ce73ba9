/*
 * gen_sample.c - make the sample segment of tests/vectors/ and the answers
 * every reader must give from it.
 *
 * The sample is a table object and a change-feed object as a writer of
 * format 2.0 lays them out (docs/FORMAT.md), built here byte by byte from
 * a fixed seed, fixed entries and fixed records, so that it is the same on
 * every run and every machine of one byte order (little-endian: x86-64,
 * arm64).  It is small: 16 slots of 256 bytes (path_max 64) and the
 * smallest ring (64 KiB, mostly zero).  It shows a reader what it must
 * handle: probe chains that wrap at the end of the table, a cached "does
 * not exist", entries answered by stat() (NOCACHE: another filesystem, and
 * a file marked changed), a slot left mid-write (odd seq: a reader retries
 * a bounded number of times, then answers by stat()), the longest key,
 * keys that are not canonical, a character device, negative and 64-bit
 * values; and a feed whose records wrap the ring with a PAD record and end
 * with an ALL record.
 *
 * The answers (sample.answers) are derived here from the format's rules,
 * not by running a reader:
 *
 *   lookup PATH RESULT [FIELDS]   RESULT: hit, miss or uncached
 *   walk CURSOR RESULT CURSOR' N  fsc_changes() from CURSOR ("EPOCH-POS",
 *                                 hex) returns RESULT (ok or resync),
 *                                 leaves CURSOR', and delivers the N
 *                                 `change` lines that follow, in order
 *   change KIND STATUS PATH [FIELDS]   STATUS: hit or uncached
 *
 * FIELDS, for a hit: exists=0, or exists=1 then mode uid gid dev ino nlink
 * rdev size blocks as name=decimal and mtime=SEC.NSEC ctime=SEC.NSEC, then
 * blksize=decimal and atime=SEC.NSEC (an entry holds times as nanoseconds
 * since the epoch: seconds round down, -1 ns is -1.999999999).
 * Header facts come first as `header NAME VALUE` lines.
 *
 * Usage: gen_sample write DIR   (re)make DIR/sample.{table,feed,answers}
 *        gen_sample check DIR   exit 1 unless DIR's files are what
 *                               `write` would make (a meson test)
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fstatcache/contract.h"
#include "fstatcache/format.h"

#define SLOTS 16u
#define PATH_MAX_ 64u
#define ENTRY_SIZE FSC_ENTRY_SIZE(PATH_MAX_)
#define PROBE_LIMIT 8u
#define TABLE_SIZE (FSC_HEADER_SIZE + SLOTS * ENTRY_SIZE)
#define RING FSC_FEED_SIZE_MIN
#define FEED_SIZE (FSC_FEED_HEADER_SIZE + RING)
#define SEED UINT64_C(0x5eed5eed0badcafe)
#define EPOCH UINT64_C(0x00c0ffee12345678)
#define ANSWERS_MAX 65536

/* An entry: a path and what the writer published for it. */
struct sample_entry {
	const char *path;
	uint32_t flags, reason, seq;
	uint32_t mode, uid, gid;
	uint64_t dev, ino, nlink, rdev;
	int64_t size, blocks, mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
	uint32_t blksize;
	int64_t atime_ns;
};

#define U FSC_ENT_USED
#define E FSC_ENT_EXISTS
#define NC FSC_ENT_NOCACHE
#define REG (S_IFREG | 0644)

/* In insertion order; each goes to the first free slot from its home. */
static const struct sample_entry table_entries[] = {
	{ "/var/log/syslog", U | E, 0, 2, REG, 0, 4, 0x803, 131090, 1, 0,
	  123456, 248, 1764950400, 1764950400, 123456789, 987654321,
	  .blksize = 4096, .atime_ns = INT64_C(1764950399999999999) },
	{ "/var/log/nginx/access.log", U | E, 0, 6, REG, 33, 4, 0x803, 131091,
	  1, 0, INT64_C(5000000000), INT64_C(9765632), 1764950401, 1764950402,
	  1, 999999999, .blksize = 65536, .atime_ns = -1 /* 1969 */ },
	{ .path = "/var/log/gone.log", .flags = U, .seq = 4 },
	{ "/proc/self/status", U | E | NC, FSC_REASON_FSTYPE, 2, S_IFREG | 0444,
	  0, 0, 0x16, 4026531842u, 1, 0, 0, 0, 0, 0, 0, 0, 4096,
	  INT64_C(1764950000000000000) },
	{ "/var/log/busy.log", U | E | NC, FSC_REASON_CHANGED, 8, REG, 1000,
	  1000, 0x803, 131100, 1, 0, 4096, 8, 1764950300, 1764950300, 5, 6,
	  4096, INT64_C(1764950000000000000) },
	{ "/var/log", U | E, 0, 2, S_IFDIR | 0755, 0, 0, 0x803, 131073, 12, 0,
	  4096, 8, 1764950000, 1764950001, 500, 600, .blksize = 4096,
	  .atime_ns = 0 /* the epoch itself */ },
	{ "/dev/null", U | E, 0, 2, S_IFCHR | 0666, 0, 0, 5, 4, 1, 0x103, 0, 0,
	  1764900000, 1764900000, 0, 0, 4096, INT64_C(1764950000000000000) },
	{ "/srv/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/012345",
	  U | E, 0, 2, REG, 1000, 1000, 0x803, 7, 3, 0, 1, 8, -86400, 0,
	  999999999, 0, 4096, INT64_C(1764950000000000000) },
	{ "/var/log/app.log", U | E, 0, 2, S_IFREG | 0600, 1000, 1000, 0x803,
	  131200, 1, 0, 0, 0, 1764950500, 1764950500, 0, 0, 4096,
	  INT64_C(1764950000000000000) },
	{ "/x", U | E, 0, 2, S_IFIFO | 0600, 1000, 1000, 0x803, 99, 1, 0, 0, 0,
	  1764950600, 1764950600, 42, 42, 4096, INT64_C(1764950000000000000) },
	/* Home 15 (the last slot): they lie past the table's end. */
	{ "/var/log/wrap7.log", U | E, 0, 2, REG, 0, 4, 0x803, 131301, 1, 0,
	  700, 8, 1764950007, 1764950007, 7, 7, 4096,
	  INT64_C(1764950000000000000) },
	{ "/var/log/wrap27.log", U | E, 0, 4, REG, 0, 4, 0x803, 131302, 2, 0,
	  2700, 8, 1764950027, 1764950027, 27, 27, 4096,
	  INT64_C(1764950000000000000) },
	/* Left mid-write by its writer: seq odd for good. */
	{ "/var/log/torn.log", U | E, 0, 7, REG, 0, 0, 0x803, 5, 1, 0, 10, 8,
	  1764950000, 1764950000, 0, 0, 4096, INT64_C(1764950000000000000) },
};
#define NENTRIES (sizeof(table_entries) / sizeof(*table_entries))

/* Paths looked up that are not in the table, besides every key above. */
static const char *const other_lookups[] = {
	"/var/log/missing.log",
	"/var/log/syslog.1",
	"/var/log/syslog/",
	"/var/log/../log/syslog",
	"/var/log//syslog",
	"/var/./log/syslog",
	"var/log/syslog",
	"/",
	"/srv/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0123456",
	"/nope",
	"/var/log/wrap33.log", /* home 15: a miss found past the end */
	"/var/log/probe14",    /* home 15 too */
	"/var/log/probe12",    /* home 11: its probe meets the torn slot */
	"/var/log/probe1",     /* home 12, the torn slot itself */
};

/* Feed records: a kind and an entry as published (an ALL has none). */
struct sample_record {
	uint32_t kind;
	struct sample_entry e;
};

static const struct sample_record feed_records[] = {
	{ FSC_CHANGE_ADDED,
	  { "/var/log/syslog", U | E, 0, 2, REG, 0, 4, 0x803, 131090, 1, 0,
	    100000, 200, 1764950000, 1764950000, 0, 0, 4096,
	    INT64_C(1764950000000000000) } },
	{ FSC_CHANGE_ADDED,
	  { "/var/log/gone.log", U | E, 0, 2, REG, 0, 4, 0x803, 131099, 1, 0,
	    10, 8, 1764950000, 1764950000, 0, 0, 4096,
	    INT64_C(1764950000000000000) } },
	{ FSC_CHANGE_CHANGED,
	  { "/var/log/syslog", U | E, 0, 4, REG, 0, 4, 0x803, 131090, 1, 0,
	    123456, 248, 1764950400, 1764950400, 123456789, 987654321, 4096,
	    INT64_C(1764950000000000000) } },
	{ FSC_CHANGE_DELETED,
	  { .path = "/var/log/gone.log", .flags = U, .seq = 4 } },
	{ FSC_CHANGE_MARKED,
	  { "/var/log/busy.log", U | E | NC, FSC_REASON_CHANGED, 8, REG, 1000,
	    1000, 0x803, 131100, 1, 0, 4096, 8, 1764950300, 1764950300, 5, 6,
	    4096, INT64_C(1764950000000000000) } },
	/* (a PAD record fills the ring's end here) */
	{ FSC_CHANGE_CREATED,
	  { "/var/log/app.log", U | E, 0, 2, S_IFREG | 0600, 1000, 1000, 0x803,
	    131200, 1, 0, 0, 0, 1764950500, 1764950500, 0, 0, 4096,
	    INT64_C(1764950000000000000) } },
	{ FSC_CHANGE_EVICTED,
	  { "/var/log/old.log", U | E, 0, 10, REG, 0, 4, 0x803, 131000, 1, 0,
	    77, 8, 1764940000, 1764940000, 0, 0, 4096,
	    INT64_C(1764950000000000000) } },
	{ FSC_CHANGE_CHANGED,
	  { "/var/log/nginx/access.log", U | E, 0, 6, REG, 33, 4, 0x803, 131091,
	    1, 0, INT64_C(5000000000), INT64_C(9765632), 1764950401, 1764950402,
	    1, 999999999, 4096, INT64_C(1764950000000000000) } },
	{ FSC_CHANGE_REMOVED,
	  { "/var/log/unwatched.log", U | E, 0, 2, REG, 0, 4, 0x803, 131300, 1,
	    0, 1, 8, 1764950000, 1764950000, 0, 0, 4096,
	    INT64_C(1764950000000000000) } },
	{ FSC_CHANGE_ALL, { .path = NULL } },
};
#define NRECORDS (sizeof(feed_records) / sizeof(*feed_records))
#define PAD_BEFORE 5 /* index of the first record after the ring's end */
#define PAD_LEN 48u  /* bytes of PAD: less than that record's length */

static unsigned char table[TABLE_SIZE], feed[FEED_SIZE];
static char answers[ANSWERS_MAX];
static size_t answers_len;
static int32_t slot_of[NENTRIES];
static uint64_t rec_pos[NRECORDS];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(answers + answers_len, ANSWERS_MAX - answers_len, fmt,
			  ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= ANSWERS_MAX - answers_len) {
		fprintf(stderr, "gen_sample: answers too long\n");
		exit(2);
	}
	answers_len += (size_t)n;
}

static uint64_t hash(const char *p)
{
	return XXH3_64bits_withSeed(p, strlen(p), SEED);
}

/*
 * An entry as the writer stores it: the head at `at`, the path at `path`
 * and the cold tail at `cold` (in a slot: the path area, then the tail;
 * in a feed record: the tail, then the path).
 */
static void put_entry(unsigned char *at, unsigned char *path,
		      unsigned char *cold, const struct sample_entry *s)
{
	struct fsc_entry e;
	struct fsc_entry_cold c;
	memset(&e, 0, sizeof(e));
	memset(&c, 0, sizeof(c));
	e.seq = s->seq;
	e.flags = (uint16_t)s->flags;
	e.hash = hash(s->path);
	e.path_len = (uint16_t)strlen(s->path);
	e.dev = s->dev;
	e.ino = s->ino;
	e.mode = s->mode;
	e.uid = s->uid;
	e.gid = s->gid;
	e.nlink = (uint32_t)s->nlink;
	e.size = s->size;
	e.blocks = s->blocks;
	if (!fsc_time_pack(s->mtime_sec, s->mtime_nsec, &e.mtime_ns) ||
	    !fsc_time_pack(s->ctime_sec, s->ctime_nsec, &e.ctime_ns)) {
		fprintf(stderr, "gen_sample: %s: a time out of range\n",
			s->path);
		exit(2);
	}
	e.rdev = (uint32_t)s->rdev;
	e.blksize = s->blksize;
	e.atime_ns = s->atime_ns;
	c.reason = s->reason;
	c.validated_ns = UINT64_C(1764950700000000000);
	memcpy(at, &e, sizeof(e));
	memcpy(path, s->path, e.path_len);
	memcpy(cold, &c, sizeof(c));
}

static void put_slot(unsigned char *at, const struct sample_entry *s)
{
	put_entry(at, at + FSC_ENTRY_FIXED, at + FSC_ENTRY_FIXED + PATH_MAX_,
		  s);
}

static void make_table(void)
{
	struct fsc_header h;
	memset(&h, 0, sizeof(h));
	h.magic = FSC_MAGIC;
	h.version_major = FSC_FORMAT_MAJOR;
	h.version_minor = FSC_FORMAT_MINOR;
	h.header_size = FSC_HEADER_SIZE;
	h.entry_size = ENTRY_SIZE;
	h.slot_count = SLOTS;
	h.probe_limit = PROBE_LIMIT;
	h.path_max = PATH_MAX_;
	h.flags = FSC_SEG_F_FEED;
	h.segment_size = TABLE_SIZE;
	h.hash_seed = SEED;
	h.epoch = EPOCH;
	h.status = FSC_STATUS_SERVING;
	h.writer_alive = 1; /* a thread id, never marked dead: a snapshot */
	h.writer_pid = 1;
	h.table_gen = 2;
	h.writer_started_ns = UINT64_C(1764950000000000000);
	h.owner_uid = 0;
	h.entry_count = (uint32_t)NENTRIES;
	h.max_entries = 12;
	snprintf((char *)h.socket_path, sizeof(h.socket_path), "%s",
		 "/nonexistent/fstatcache-sample.sock");
	h.counters[FSC_CTR_INSERTS] = NENTRIES;
	memcpy(table, &h, sizeof(h));

	for (size_t i = 0; i < NENTRIES; i++) {
		uint32_t home = (uint32_t)hash(table_entries[i].path) &
				(SLOTS - 1);
		uint32_t d = 0, slot = home;
		while (((const struct fsc_entry
				 *)(const void *)(table + FSC_HEADER_SIZE +
						  slot * ENTRY_SIZE))
			       ->flags &
		       FSC_ENT_USED) {
			slot = (slot + 1) & (SLOTS - 1);
			d++;
		}
		if (d >= PROBE_LIMIT) {
			fprintf(stderr, "gen_sample: %s lies %u from home\n",
				table_entries[i].path, d);
			exit(2);
		}
		slot_of[i] = (int32_t)slot;
		put_slot(table + FSC_HEADER_SIZE + slot * ENTRY_SIZE,
			 &table_entries[i]);
	}
}

/* The entry in `slot`, or NULL if it is empty. */
static const struct sample_entry *entry_at(uint32_t slot)
{
	for (size_t i = 0; i < NENTRIES; i++)
		if (slot_of[i] == (int32_t)slot)
			return &table_entries[i];
	return NULL;
}

static void say_fields(const struct sample_entry *e)
{
	if (!(e->flags & FSC_ENT_EXISTS)) {
		say(" exists=0");
		return;
	}
	say(" exists=1 mode=%" PRIu32 " uid=%" PRIu32 " gid=%" PRIu32
	    " dev=%" PRIu64 " ino=%" PRIu64 " nlink=%" PRIu64 " rdev=%" PRIu64
	    " size=%" PRId64 " blocks=%" PRId64 " mtime=%" PRId64 ".%09" PRIu32
	    " ctime=%" PRId64 ".%09" PRIu32,
	    e->mode, e->uid, e->gid, e->dev, e->ino, e->nlink, e->rdev, e->size,
	    e->blocks, e->mtime_sec, e->mtime_nsec, e->ctime_sec,
	    e->ctime_nsec);
	say(" blksize=%" PRIu32, e->blksize);
	int64_t sec = e->atime_ns / 1000000000, ns = e->atime_ns % 1000000000;
	if (ns < 0) { /* seconds round down */
		ns += 1000000000;
		sec--;
	}
	say(" atime=%" PRId64 ".%09" PRId64, sec, ns);
}

/*
 * What a reader answers for `path`, by the format's rules: a key that is
 * not canonical or not shorter than path_max is answered by stat(); else
 * probe from home: a slot mid-write (odd seq, for good) exhausts the
 * retries (uncached), an empty slot ends the probe (miss), the key's slot
 * answers (uncached if NOCACHE), probe_limit slots without it is a miss.
 */
static void say_lookup(const char *path)
{
	size_t len = strlen(path);
	say("lookup %s", path);
	if (!fsc_path_ok(path, len) || len >= PATH_MAX_) {
		say(" uncached\n");
		return;
	}
	uint32_t slot = (uint32_t)hash(path) & (SLOTS - 1);
	for (uint32_t i = 0; i < PROBE_LIMIT; i++) {
		const struct sample_entry *e = entry_at(slot);
		if (!e)
			break;
		if (e->seq & 1) {
			say(" uncached\n");
			return;
		}
		if (strcmp(e->path, path) == 0) {
			if (e->flags & FSC_ENT_NOCACHE) {
				say(" uncached\n");
			} else {
				say(" hit");
				say_fields(e);
				say("\n");
			}
			return;
		}
		slot = (slot + 1) & (SLOTS - 1);
	}
	say(" miss\n");
}

static uint32_t rec_len(const struct sample_record *r)
{
	if (r->kind == FSC_CHANGE_ALL)
		return FSC_FEED_REC_FIXED;
	uint32_t n = FSC_FEED_REC_FIXED + FSC_FEED_ENTRY +
		     8 * ((uint32_t)strlen(r->e.path) / 8 + 1);
	return (n + FSC_FEED_ALIGN - 1) & ~(FSC_FEED_ALIGN - 1);
}

static void put_record(uint64_t pos, uint32_t len, uint32_t kind,
		       const struct sample_entry *e)
{
	unsigned char *at = feed + FSC_FEED_HEADER_SIZE + (pos & (RING - 1));
	struct fsc_feed_record r = { pos, len, kind };
	memcpy(at, &r, sizeof(r));
	if (e) {
		unsigned char *b = at + FSC_FEED_REC_FIXED;
		put_entry(b, b + FSC_FEED_ENTRY, b + FSC_ENTRY_FIXED, e);
	}
}

static void make_feed(void)
{
	uint32_t before = 0;
	for (size_t i = 0; i < PAD_BEFORE; i++)
		before += rec_len(&feed_records[i]);
	/* Three laps of the ring done, records ending PAD_LEN short of its
	 * end: the next record does not fit, so a PAD fills the rest. */
	uint64_t start = 4u * (uint64_t)RING - PAD_LEN - before;
	uint64_t pos = start;
	uint64_t count = 0;
	for (size_t i = 0; i < NRECORDS; i++) {
		const struct sample_record *r = &feed_records[i];
		uint32_t len = rec_len(r);
		uint32_t room = RING - (uint32_t)(pos & (RING - 1));
		if (len > room) {
			put_record(pos, room, FSC_CHANGE_PAD, NULL);
			pos += room;
		}
		rec_pos[i] = pos;
		put_record(pos, len, r->kind,
			   r->kind == FSC_CHANGE_ALL ? NULL : &r->e);
		pos += len;
		count++;
	}
	struct fsc_feed_header h;
	memset(&h, 0, sizeof(h));
	h.magic = FSC_FEED_MAGIC;
	h.epoch = EPOCH;
	h.ring_size = RING;
	h.head = pos;
	h.tail = start;
	h.records = count;
	memcpy(feed, &h, sizeof(h));
}

static const char *kind_name(uint32_t kind)
{
	static const char *const names[] = { "pad",     "added",   "changed",
					     "created", "deleted", "marked",
					     "evicted", "removed", "all" };
	return kind < sizeof(names) / sizeof(*names) ? names[kind] : "?";
}

static void say_record(size_t i)
{
	const struct sample_record *r = &feed_records[i];
	const struct sample_entry *e = &r->e;
	int uncached =
		r->kind == FSC_CHANGE_MARKED || r->kind == FSC_CHANGE_EVICTED ||
		r->kind == FSC_CHANGE_REMOVED || (e->flags & FSC_ENT_NOCACHE);
	say("change %s %s %s", kind_name(r->kind),
	    uncached ? "uncached" : "hit", e->path);
	if (!uncached)
		say_fields(e);
	say("\n");
}

/*
 * A walk from `pos` of cursor `epoch`: every record from it up to the ALL
 * record, which resyncs the cursor past itself (head); a cursor of
 * another epoch, ahead of head, off the 16-byte grid or behind tail
 * resyncs at once.
 */
static void say_walk(uint64_t epoch, uint64_t pos)
{
	const struct fsc_feed_header *h = (const void *)feed;
	say("walk %016" PRIx64 "-%" PRIx64, epoch, pos);
	if (epoch != EPOCH || pos > h->head || pos % FSC_FEED_ALIGN ||
	    pos < h->tail) {
		say(" resync %016" PRIx64 "-%" PRIx64 " 0\n", EPOCH, h->head);
		return;
	}
	if (pos == h->head) {
		say(" ok %016" PRIx64 "-%" PRIx64 " 0\n", EPOCH, pos);
		return;
	}
	size_t first = 0;
	while (rec_pos[first] < pos)
		first++;
	if (rec_pos[first] != pos && pos != rec_pos[first] - PAD_LEN) {
		fprintf(stderr, "gen_sample: walk from inside a record\n");
		exit(2);
	}
	say(" resync %016" PRIx64 "-%" PRIx64 " %zu\n", EPOCH, h->head,
	    NRECORDS - 1 - first);
	for (size_t i = first; i + 1 < NRECORDS; i++)
		say_record(i);
}

static void make_answers(void)
{
	const struct fsc_feed_header *fh = (const void *)feed;
	say("# fstatcache sample segment answers: made by "
	    "tests/vectors/gen_sample.c (see its top comment)\n");
	say("header version %u.%u\n", FSC_FORMAT_MAJOR, FSC_FORMAT_MINOR);
	say("header hash_seed %016" PRIx64 "\n", SEED);
	say("header epoch %016" PRIx64 "\n", EPOCH);
	say("header slot_count %u\n", SLOTS);
	say("header probe_limit %u\n", PROBE_LIMIT);
	say("header path_max %u\n", PATH_MAX_);
	say("header entry_size %u\n", ENTRY_SIZE);
	say("header feed_tail %" PRIx64 "\n", fh->tail);
	say("header feed_head %" PRIx64 "\n", fh->head);
	for (size_t i = 0; i < NENTRIES; i++)
		say_lookup(table_entries[i].path);
	for (size_t i = 0; i < sizeof(other_lookups) / sizeof(*other_lookups);
	     i++)
		say_lookup(other_lookups[i]);
	say_walk(EPOCH, fh->tail);
	say_walk(EPOCH, rec_pos[3]);
	say_walk(EPOCH, rec_pos[PAD_BEFORE] - PAD_LEN); /* at the PAD */
	say_walk(EPOCH, fh->head);
	say_walk(EPOCH + 1, fh->tail);
	say_walk(0, 0);
	say_walk(EPOCH, fh->tail - 16);
	say_walk(EPOCH, fh->tail + 8);
	say_walk(EPOCH, fh->head + 16);
}

static int put_file(const char *dir, const char *name, const void *data,
		    size_t len, int check)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (check) {
		FILE *f = fopen(path, "rb");
		if (!f) {
			perror(path);
			return -1;
		}
		unsigned char *had = malloc(len + 1);
		size_t n = had ? fread(had, 1, len + 1, f) : 0;
		fclose(f);
		int same = had && n == len && memcmp(had, data, len) == 0;
		free(had);
		if (!same)
			fprintf(stderr,
				"%s differs from what gen_sample makes: "
				"re-make it with `gen_sample write %s`\n",
				path, dir);
		return same ? 0 : -1;
	}
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int check = argc == 3 && strcmp(argv[1], "check") == 0;
	if (argc != 3 || (!check && strcmp(argv[1], "write") != 0)) {
		fprintf(stderr, "usage: gen_sample write|check DIR\n");
		return 2;
	}
	make_table();
	make_feed();
	make_answers();
	int r = 0;
	r |= put_file(argv[2], "sample.table", table, sizeof(table), check);
	r |= put_file(argv[2], "sample.feed", feed, sizeof(feed), check);
	r |= put_file(argv[2], "sample.answers", answers, answers_len, check);
	return r ? 1 : 0;
}
