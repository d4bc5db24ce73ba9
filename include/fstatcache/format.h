/*
 * fstatcache/format.h - the shared-memory layout, shared by writer and readers.
 *
 * This header is the machine-checked twin of docs/FORMAT.md: every field
 * below has its offset and size pinned by a static_assert, so the document,
 * the writer and the readers cannot drift apart.  Only fixed-width types are
 * used, there is no implicit padding, and all values are in the byte order
 * of the host (a segment never leaves the machine that made it; the magic is
 * asymmetric so a byte-swapped view is rejected).
 *
 * Objects (POSIX shared memory, names derived from the instance NAME):
 *   "/fstatcache.NAME"      the table: one header page, then `slot_count`
 *                           slots of `entry_size` bytes.  Written only by
 *                           the writer; readers map it PROT_READ.
 *   "/fstatcache.NAME.use"  recency marks: a small header then one byte per
 *                           slot.  Readers set a byte when they hit the slot
 *                           so that reads count as use for the writer's
 *                           CLOCK eviction, and add their lookup counts to
 *                           the header now and then.  Nothing a reader
 *                           writes there can change an answer, only
 *                           eviction order and the counts shown.
 *   "/fstatcache.NAME.feed" the change feed (minor 3): a small header,
 *                           then a ring of records, one per answer the
 *                           writer published, so a reader can ask what
 *                           changed since its cursor.  Written only by
 *                           the writer; readers map it PROT_READ.
 *   "/fstatcache.NAME.req"  the request ring (minor 4), see below.
 *   "/fstatcache.NAME.tags" the tag array (minor 5): a small header, then
 *                           16 bits per slot, so a probe reads 32 slots'
 *                           hints from one cache line.  Written only by
 *                           the writer; readers map it PROT_READ.
 *
 * Needs: <stdint.h>; C11 or C++11.
 */
#ifndef FSTATCACHE_FORMAT_H
#define FSTATCACHE_FORMAT_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
#define FSC__STATIC_ASSERT(c, m) static_assert(c, m)
#else
#include <assert.h>
#define FSC__STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* "FSTATC" then 0x01 0xFE: asymmetric, so a byte-swapped view never matches. */
#define FSC_MAGIC UINT64_C(0xFE01435441545346)
#define FSC_USE_MAGIC UINT64_C(0xFE01455355435346)  /* "FSCUSE" 0x01 0xFE */
#define FSC_FEED_MAGIC UINT64_C(0xFE01444545465346) /* "FSFEED" 0x01 0xFE */
#define FSC_REQ_MAGIC UINT64_C(0xFE01514552435346)  /* "FSCREQ" 0x01 0xFE */
#define FSC_TAGS_MAGIC UINT64_C(0xFE01534741545346) /* "FSTAGS" 0x01 0xFE */
#define FSC_FORMAT_MAJOR 2u /* readers refuse any other major */
/* Newer minors only add fields (COMPATIBILITY.md). */
#define FSC_FORMAT_MINOR 0u

#define FSC_HEADER_SIZE 4096u  /* the table starts here */
#define FSC_ENTRY_FIXED 96u    /* entry bytes before the path */
#define FSC_ENTRY_COLD 16u     /* struct fsc_entry_cold, after the path */
#define FSC_PATH_MAX_MIN 64u   /* smallest allowed path area */
#define FSC_PATH_MAX_MAX 4096u /* largest allowed path area (PATH_MAX) */
#define FSC_SLOTS_MIN 16u      /* slot_count bounds (a power of two) */
#define FSC_SLOTS_MAX (1u << 24)
#define FSC_PROBE_LIMIT_MAX 256u
#define FSC_SOCKET_PATH_SIZE 112u /* >= sizeof(sun_path), NUL-terminated */
#define FSC_NCOUNTERS 32u

/* Segment status (header.status). */
#define FSC_STATUS_INIT 0u         /* being built; not to be served from */
#define FSC_STATUS_SERVING 1u      /* entries may be served */
#define FSC_STATUS_REVALIDATING 2u /* overflow or restart: answer by stat() */
#define FSC_STATUS_RETIRED 3u      /* replaced or stopped: re-open the name */

/*
 * header.writer_alive is a robust-futex word: the writer stores its thread
 * id there and registers it with set_robust_list(2).  When the writer dies,
 * however it dies, the kernel sets FSC_WRITER_DIED (FUTEX_OWNER_DIED) in it.
 * A clean stop stores 0.  So a reader learns of a dead writer with a load.
 */
#define FSC_WRITER_DIED 0x40000000u
#define FSC_WRITER_TID_MASK 0x3fffffffu

/*
 * Header flags (header.flags; set before status first becomes SERVING,
 * never changed; readers ignore bits outside FSC_SEG_F_KNOWN).
 *
 * FSC_SEG_F_PID_LIVENESS: set_robust_list(2) failed (qemu-user returns
 * ENOSYS), so the kernel will not mark writer_alive when the writer dies.
 * Instead the writer holds an open-file-description write lock
 * (F_OFD_SETLK, whole object) on the table object for as long as its
 * process lives; the kernel drops it when the process dies, however it
 * dies.  Readers then also query that lock (F_OFD_GETLK on their own
 * descriptor) at most every FSC_LIVENESS_CHECK_MS, and treat the writer as
 * dead once it is free.  A lock, not the pid: pids are reused and differ
 * between pid namespaces, the lock is the process's own.
 */
#define FSC_SEG_F_PID_LIVENESS 0x1u
/*
 * FSC_SEG_F_FANOTIFY (minor 2): the writer's events come from fanotify(7)
 * (else inotify(7)).  Only for operators: readers behave the same.
 */
#define FSC_SEG_F_FANOTIFY 0x2u
/*
 * FSC_SEG_F_FEED (minor 3): the writer keeps the change feed,
 * "/fstatcache.NAME.feed", for this segment (same epoch).
 */
#define FSC_SEG_F_FEED 0x4u
/*
 * FSC_SEG_F_TAGS (minor 5): the writer keeps the tag array,
 * "/fstatcache.NAME.tags", for this segment (same epoch).
 */
#define FSC_SEG_F_TAGS 0x8u
#define FSC_SEG_F_KNOWN \
	(FSC_SEG_F_PID_LIVENESS | FSC_SEG_F_FANOTIFY | FSC_SEG_F_FEED | \
	 FSC_SEG_F_TAGS)
#define FSC_LIVENESS_CHECK_MS 250u

/* Counters (header.counters[i]); written by the writer only, relaxed. */
enum {
	FSC_CTR_EVENTS = 0,       /* inotify events read */
	FSC_CTR_BATCHES,          /* event batches applied */
	FSC_CTR_COALESCED,        /* events that needed no extra stat() */
	FSC_CTR_STATS,            /* stat() calls made by the writer */
	FSC_CTR_INSERTS,          /* entries inserted */
	FSC_CTR_UPDATES,          /* entries rewritten after a change */
	FSC_CTR_EVICTIONS,        /* entries evicted to make room */
	FSC_CTR_OVERFLOWS,        /* IN_Q_OVERFLOW seen */
	FSC_CTR_WATCHES,          /* watches (marks) held now, files too */
	FSC_CTR_WATCH_FAILURES,   /* inotify_add_watch failures (ENOSPC...) */
	FSC_CTR_REQUESTS,         /* control messages received */
	FSC_CTR_REQUESTS_REFUSED, /* control messages refused */
	FSC_CTR_UNCACHEABLE,      /* entries published as answer-by-stat() */
	FSC_CTR_REVALIDATIONS,    /* full re-validation passes */
	FSC_CTR_MOVES,            /* entries moved by deletions */
	FSC_CTR_SYNCS,            /* sync barriers acknowledged */
	FSC_CTR_PATHS,            /* watched paths now */
	FSC_CTR_REMOVALS,         /* entries removed (unwatch, invalidate) */
	FSC_CTR_WATCH_LIMIT,      /* fs.inotify.max_user_watches at start */
	FSC_CTR_CHANGED_MARKS,    /* entries marked changed (minor 2) */
	FSC_CTR_DRAIN_PAUSES,     /* drains put off to batch events (minor 2) */
	FSC_CTR_PAUSE_US,         /* pause between busy drains now, us (1.2) */
	FSC_CTR_MOUNT_CHANGES,    /* mounts that came, went or moved (1.2) */
	FSC_CTR_FILE_MARKS,    /* files marked on their own inode now (1.2) */
	FSC_CTR_FEED_WAKES,    /* futex wake-ups of feed followers (1.3) */
	FSC_CTR_GROWTHS,       /* times the table was replaced by a larger one
			     * (1.3; carried over to the new segment) */
	FSC_CTR_REFAULTS,      /* paths asked for again soon after their
			     * eviction: the table is too small (1.3) */
	FSC_CTR_NOT_ADMITTED,  /* misses not let into the full table: less
			       * wanted than what they would evict (1.3) */
	FSC_CTR_QUIETED,       /* changed files silenced till re-stat (1.3) */
	FSC_CTR_USE_TRUNCATED, /* .use found truncated: segment replaced (1.3) */
	FSC_CTR_KNOWN          /* counters this version defines; the
				    * others, up to FSC_NCOUNTERS, are 0 */
};
FSC__STATIC_ASSERT(FSC_CTR_KNOWN <= FSC_NCOUNTERS, "too many counters");

/*
 * The header, at offset 0 of the table object.  Fields up to `counters`
 * are set once at creation and never change, except status, writer_alive,
 * table_gen, entry_count and counters, which the writer updates with
 * relaxed atomic stores.
 */
struct fsc_header {
	uint64_t magic;         /*   0 FSC_MAGIC */
	uint32_t version_major; /*   8 FSC_FORMAT_MAJOR */
	uint32_t version_minor; /*  12 FSC_FORMAT_MINOR */
	uint32_t header_size;   /*  16 offset of slot 0 (FSC_HEADER_SIZE) */
	uint32_t entry_size;    /*  20 FSC_ENTRY_SIZE(path_max) or more */
	uint32_t slot_count;    /*  24 slots, power of two */
	uint32_t probe_limit;   /*  28 no entry lies further from home */
	uint32_t path_max;      /*  32 path area; longest path = path_max-1 */
	uint32_t flags;         /*  36 FSC_SEG_F_*, others 0 */
	uint64_t segment_size;  /*  40 header_size + slot_count * entry_size */
	uint64_t hash_seed;     /*  48 XXH3 seed, random per segment */
	uint64_t epoch;         /*  56 random per segment; ties .use to it */
	uint32_t status;        /*  64 FSC_STATUS_* */
	uint32_t writer_alive;  /*  68 robust futex word, see above */
	uint32_t writer_pid;    /*  72 writer's pid (in its pid namespace) */
	uint32_t table_gen;     /*  76 seqcount: odd while entries move */
	uint64_t writer_started_ns; /* 80 CLOCK_REALTIME at start */
	uint32_t owner_uid;         /*  88 uid the writer runs as */
	uint32_t entry_count;       /*  92 used slots */
	uint32_t max_entries; /*  96 --capacity: eviction starts above this */
	uint32_t reserved0;   /* 100 0 */
	uint64_t mnt_ns; /* 104 the writer's mount namespace (1.4), 0 unknown */
	uint8_t socket_path
		[FSC_SOCKET_PATH_SIZE]; /* 112 control socket, NUL-terminated */
	uint64_t counters[FSC_NCOUNTERS]; /* 224 FSC_CTR_* */
	/* 480: end; the rest of the header page is zero */
};

/* Entry flags. */
#define FSC_ENT_USED 0x1u    /* slot holds a key */
#define FSC_ENT_EXISTS 0x2u  /* stat succeeded; otherwise ENOENT/ENOTDIR */
#define FSC_ENT_NOCACHE 0x4u /* watched but answered by stat(): see reason */

/* entry.reason when FSC_ENT_NOCACHE is set. */
#define FSC_REASON_NONE 0u
#define FSC_REASON_FSTYPE 1u      /* on, or through, a filesystem events miss */
#define FSC_REASON_WATCH_LIMIT 2u /* inotify_add_watch failed (ENOSPC...) */
#define FSC_REASON_STAT_ERROR 3u  /* stat failed other than ENOENT/ENOTDIR */
#define FSC_REASON_WATCH_ERROR 4u /* inotify_add_watch failed otherwise */
/*
 * Changed (minor 2): the writer has read an event saying this file changed
 * and has not re-stat'ed it yet.  The stat fields still hold the answer of
 * validated_ns, now known to be old: readers answer by stat(), as for any
 * NOCACHE entry (so readers of minor 1 do the right thing too).  The writer
 * sets it with no system call the moment it reads the event, and clears it
 * by publishing a fresh answer once the file has been quiet for a while or
 * a sync asks for everything.  A file written continuously stays changed:
 * its readers stat() it, the writer does not.
 */
#define FSC_REASON_CHANGED 5u
/*
 * Private (minor 3, no layout change): a path only other users asked for,
 * whose resolution another user could not follow (a directory on the way
 * others may not search, or an end outside the allowed prefixes).  The
 * stat fields are zero: the group reads every entry.  Readers that do not
 * know it answer by stat(), as for any NOCACHE entry.
 */
#define FSC_REASON_PRIVATE 6u
/*
 * Range (2.0): a stat field does not fit its place in the entry (a time
 * outside 1677-2262, nlink of 2^32 or more, an st_rdev wider than 32
 * bits); the stat fields but the mode are zero.  Readers answer by stat().
 */
#define FSC_REASON_RANGE 7u

/*
 * One slot (format 2): a 96-byte head, then the path, then the cold tail.
 * `seq` is the per-entry seqcount (odd while the writer rewrites the
 * slot); everything in the slot, the cold tail too, is guarded by it.
 * The head holds what a hit reads, so that a hit on a key shorter than
 * 32 bytes reads one aligned 128-byte pair of lines (docs/FORMAT.md,
 * "Entries"; docs/LOOKUP-LAYOUT.md says why).  Fields a hit does not read
 * live in struct fsc_entry_cold, after the path area.
 *
 * Values that do not fit the head are not cached: the writer publishes
 * the entry as FSC_ENT_NOCACHE with FSC_REASON_RANGE (readers stat()).
 */
struct fsc_entry {
	uint32_t seq;      /*  0 seqcount */
	uint16_t flags;    /*  4 FSC_ENT_* */
	uint16_t path_len; /*  6 bytes, without the NUL; < path_max */
	uint64_t hash;     /*  8 XXH3_64bits_withSeed(path, path_len, seed) */
	uint64_t dev;      /* 16 st_dev */
	uint64_t ino;      /* 24 st_ino */
	uint32_t mode;     /* 32 st_mode */
	uint32_t uid;      /* 36 st_uid */
	uint32_t gid;      /* 40 st_gid */
	uint32_t nlink;    /* 44 st_nlink (larger: FSC_REASON_RANGE) */
	int64_t size;      /* 48 st_size */
	int64_t blocks;    /* 56 st_blocks */
	int64_t mtime_ns;  /* 64 st_mtim in ns since the epoch (signed) */
	int64_t ctime_ns;  /* 72 st_ctim, the same */
	int64_t atime_ns;  /* 80 st_atim, the same */
	uint32_t blksize;  /* 88 st_blksize */
	uint32_t rdev;     /* 92 st_rdev (larger than 32 bits: RANGE) */
	/* 96: path_max bytes of path, NUL-padded (read as uint64_t words),
	 * then struct fsc_entry_cold */
};

/*
 * The cold tail of a slot, at FSC_ENTRY_FIXED + path_max (path_max is a
 * multiple of 8): what the writer and the tools read, never a hit.
 * Inside the slot's seqlock like the rest.
 */
struct fsc_entry_cold {
	uint32_t reason;       /*  0 FSC_REASON_* when FSC_ENT_NOCACHE */
	uint32_t reserved0;    /*  4 0 */
	uint64_t validated_ns; /*  8 CLOCK_REALTIME of the writer's stat() */
};

/*
 * The cold tail of the slot (or slot copy) at `slot` in a table whose
 * path area is `path_max` bytes.  Like strchr(), it keeps no constness:
 * a caller holding a const slot assigns it to a const pointer.
 */
static inline struct fsc_entry_cold *fsc_entry_cold(const void *slot,
						    uint32_t path_max)
{
	return (struct fsc_entry_cold *)(void *)((const unsigned char *)slot +
						 FSC_ENTRY_FIXED + path_max);
}

/*
 * The writer makes every slot FSC_ENTRY_SIZE(path_max) bytes: head, path
 * area and cold tail rounded up to 128 bytes, so that slots start on a
 * 128-byte boundary (header_size is 4096) and a slot's first two lines
 * are one aligned pair.  Readers take entry_size from the header: a newer
 * minor may add fields after the cold tail (COMPATIBILITY.md).
 */
#define FSC_ENTRY_SIZE(path_max) \
	((FSC_ENTRY_FIXED + (uint32_t)(path_max) + FSC_ENTRY_COLD + 127u) & \
	 ~127u)

/*
 * The stat(2) fields an answer carries, declared once: X(type, name,
 * member) with `member` the struct stat field it comes from.  struct
 * fsc_stat and the writer's record are made from it, and every copy
 * between them and struct stat goes through it.
 */
#define FSC_STAT_FIELDS(X) \
	X(uint32_t, mode, st_mode) \
	X(uint32_t, uid, st_uid) \
	X(uint32_t, gid, st_gid) \
	X(uint64_t, dev, st_dev) \
	X(uint64_t, ino, st_ino) \
	X(uint64_t, nlink, st_nlink) \
	X(uint64_t, rdev, st_rdev) \
	X(int64_t, size, st_size) \
	X(int64_t, blocks, st_blocks) \
	X(int64_t, mtime_sec, st_mtim.tv_sec) \
	X(int64_t, ctime_sec, st_ctim.tv_sec) \
	X(uint32_t, mtime_nsec, st_mtim.tv_nsec) \
	X(uint32_t, ctime_nsec, st_ctim.tv_nsec) \
	X(uint32_t, blksize, st_blksize)

/*
 * The answer fields an entry keeps as they are, X(name); the others
 * (nlink, rdev, the three times) are packed: see fsc_time_pack() and
 * fsc_time_unpack() below.
 */
#define FSC_ENTRY_PLAIN_FIELDS(X) \
	X(mode) X(uid) X(gid) X(dev) X(ino) X(size) X(blocks) X(blksize)

/*
 * A time as one signed count of nanoseconds since the epoch, which covers
 * 1677-09-21 to 2262-04-11.  fsc_time_pack() returns 0 when it does not
 * fit (the writer then publishes FSC_REASON_RANGE); fsc_time_unpack()
 * splits with floor division, so times before 1970 come back as stat(2)
 * gives them (tv_nsec in 0..999999999).
 */
static inline int fsc_time_pack(int64_t sec, uint32_t nsec, int64_t *ns)
{
	const int64_t lo = INT64_MIN / 1000000000;     /* -9223372036 */
	const int64_t hi = INT64_MAX / 1000000000 - 1; /*  9223372035 */
	if (nsec >= 1000000000u || sec < lo || sec > hi)
		return 0;
	*ns = sec * 1000000000 + (int64_t)nsec;
	return 1;
}

static inline void fsc_time_unpack(int64_t ns, int64_t *sec, uint32_t *nsec)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	if (r < 0) {
		r += 1000000000;
		s--;
	}
	*sec = s;
	*nsec = (uint32_t)r;
}

/* Header of "/fstatcache.NAME.use"; one byte per slot follows. */
struct fsc_use_header {
	uint64_t magic;           /*  0 FSC_USE_MAGIC */
	uint64_t epoch;           /*  8 equals fsc_header.epoch of its table */
	uint32_t slot_count;      /* 16 equals fsc_header.slot_count */
	uint32_t feed_waiters;    /* 20 readers asleep on the feed's wake word
				   * (minor 3; was reserved, 0) */
	uint64_t reader_hits;     /* 24 lookups answered from the table */
	uint64_t reader_misses;   /* 32 lookups of paths not in the table */
	uint64_t reader_uncached; /* 40 lookups the table could not answer */
	uint64_t version_mismatches; /* 48 readers of another format major
				      * that found this segment (frozen
				      * offset: every major keeps it) */
	uint32_t feed_wake;          /* 56 futex word of the change feed: bumped
			     * after the feed's head moved (minor 3) */
	uint32_t reserved1;          /* 60 */
				     /* 64: uint8_t used[slot_count] */
};
#define FSC_USE_HEADER_SIZE 64u

/*
 * The change feed (minor 3), "/fstatcache.NAME.feed": a header, then a
 * ring of `ring_size` bytes (a power of two) holding variable-length
 * records at monotonic 64-bit byte positions (a record at position p lies
 * at ring offset p & (ring_size - 1) and never straddles the ring's end;
 * a PAD record fills up to it).  The writer appends a record every time
 * it publishes an answer; readers keep a cursor (the table's epoch and a
 * position) and read the records from it up to `head`.
 *
 * The ring's seqlock (docs/FORMAT.md, "The change feed"): before its
 * stores can overwrite any byte of a record, the writer moves `tail` past
 * that record, then a write barrier, then the new record's bytes, then a
 * write barrier, then `head`.  A reader loads `head` (then a read
 * barrier), copies a record at position p, then a read barrier, then
 * loads `tail`: if tail > p the copy may be torn, and the reader was
 * lapped.  `head` and `tail` are 64-bit words that must be loaded and
 * stored whole (single-copy atomic): readers without lock-free 64-bit
 * atomics do not read the feed.
 */
#define FSC_FEED_HEADER_SIZE 64u /* the ring starts here */
#define FSC_FEED_REC_FIXED 16u   /* record bytes before the entry image */
#define FSC_FEED_ALIGN 16u       /* record lengths are multiples of this */
#define FSC_FEED_SIZE_MIN 65536u
#define FSC_FEED_SIZE_MAX (1u << 30)

/* Record kinds (record.kind). */
#define FSC_CHANGE_PAD 0u     /* filler up to the ring's end: skip it */
#define FSC_CHANGE_ADDED 1u   /* the path entered the table */
#define FSC_CHANGE_CHANGED 2u /* its answer changed (size, times, inode...) */
#define FSC_CHANGE_CREATED 3u /* it did not exist and does now */
#define FSC_CHANGE_DELETED 4u /* it existed and does not now */
#define FSC_CHANGE_MARKED 5u  /* changed, not re-stat'ed yet: stat() it */
#define FSC_CHANGE_EVICTED 6u /* left the table to make room */
#define FSC_CHANGE_REMOVED 7u /* left the table: unwatched or invalidated */
#define FSC_CHANGE_ALL 8u     /* anything may have changed: look at all */
#define FSC_CHANGE_KNOWN 9u   /* kinds this version defines */

struct fsc_feed_header {
	uint64_t magic;     /*  0 FSC_FEED_MAGIC */
	uint64_t epoch;     /*  8 equals fsc_header.epoch of its table */
	uint32_t ring_size; /* 16 bytes of ring, power of two */
	uint32_t reserved0; /* 20 0 */
	uint64_t head;      /* 24 position after the newest record */
	uint64_t tail;      /* 32 position of the oldest intact record */
	uint32_t reserved1; /* 40 0 */
	uint32_t reserved3; /* 44 0 */
	uint64_t records;   /* 48 records appended (PAD not counted) */
	uint64_t reserved2; /* 56 0 */
			    /* 64: the ring */
};

/*
 * A record: these 16 bytes, then, for kinds ADDED to REMOVED, the entry
 * as the writer published it: its head (struct fsc_entry: `seq` is the
 * slot's count after the change, `flags` as in the table; for EVICTED and
 * REMOVED the last answer it held), its cold tail (struct fsc_entry_cold),
 * then its path NUL-padded to `len` (FSC_FEED_ENTRY bytes before the
 * path).  PAD and ALL records are FSC_FEED_REC_FIXED bytes (PAD: up to
 * the end).
 */
struct fsc_feed_record {
	uint64_t pos;  /*  0 its own position: a self-check */
	uint32_t len;  /*  8 bytes, a multiple of FSC_FEED_ALIGN */
	uint32_t kind; /* 12 FSC_CHANGE_* */
		       /* 16: struct fsc_entry, struct fsc_entry_cold, path */
};
#define FSC_FEED_ENTRY (FSC_ENTRY_FIXED + FSC_ENTRY_COLD)

/*
 * The request ring (minor 4), "/fstatcache.NAME.req": a header, then
 * `ring_slots` slots of `slot_size` bytes (FSC_REQ_SLOT_FIXED + the
 * table's path_max).  A bounded multi-producer ring with one sequence
 * word per slot (Vyukov's): positions are 32-bit counters modulo 2^32;
 * the slot of position p is p & (ring_slots - 1).
 *
 * A free slot for position p has seq == p.  A reader claims p by moving
 * `head` from p to p + 1 (compare-and-swap, only once it saw seq == p;
 * seq < p in modular terms means the ring is full: drop and count), fills
 * in pos, path_len, hash and the path, then publishes with a compare-and-
 * swap of seq from p to p + 1 (failing only when the writer gave the slot
 * up as stuck: the request is then dropped and counted).  The writer
 * consumes a slot with seq == p + 1 (copy, then validate the copy), then
 * frees it for the next lap: seq = p + ring_slots (a release store).  It
 * may consume published slots beyond an unpublished one (those then read
 * p + ring_slots, or p + ring_slots + 1 once a reader published there for
 * the next lap, when its `tail` reaches them) and gives a slot claimed
 * but unpublished for FSC_REQ_STUCK_MS up (a reader killed mid-write).
 *
 * The doorbell: the writer stores 1 in `doorbell` (an atomic exchange, a
 * full barrier) before it sleeps, then looks at the ring again, and
 * stores 0 once awake; a reader, after publishing (its compare-and-swap,
 * a full barrier), loads it and, if it is 1, sends one FSC_OP_DOORBELL
 * datagram on the control socket without waiting.  Readers never store
 * to it.  One of the two sees the other's store, so no request sleeps in
 * the ring (but one whose reader died before its datagram, until the
 * next wake-up).  A reader also sends one, armed or not, when the ring is
 * half full at a quarter mark (docs/FORMAT.md).  The ring is optional for readers:
 * one may keep sending FSC_OP_MISS datagrams (docs/FORMAT.md).
 *
 * Trust: the ring carries no credentials.  When the object is writable by
 * anyone but the writer's own user (group-shared), the writer judges
 * every ring request as one from another user (allowed prefixes only),
 * and readers for whom that refuses what the socket allows (the owner,
 * root) use the socket.
 */
#define FSC_REQ_HEADER_SIZE 64u /* slot 0 starts here */
#define FSC_REQ_SLOT_FIXED 32u  /* slot bytes before the path */
#define FSC_REQ_SLOTS_MIN 16u   /* ring_slots bounds (a power of two) */
#define FSC_REQ_SLOTS_MAX 4096u
#define FSC_REQ_STUCK_MS \
	250u /* a claimed slot unpublished this long is
				  * given up */
/* FSC_REQ_F_CHECKED: the writer applies the other-user rules to ring
 * requests (the object is writable by more than its user). */
#define FSC_REQ_F_CHECKED 0x1u

/* The slots follow the header, at FSC_REQ_HEADER_SIZE. */
struct fsc_req_header {
	uint64_t magic;      /*  0 FSC_REQ_MAGIC */
	uint64_t epoch;      /*  8 equals fsc_header.epoch of its table */
	uint32_t ring_slots; /* 16 slots, power of two */
	uint32_t slot_size;  /* 20 FSC_REQ_SLOT_FIXED + path_max */
	uint32_t head;       /* 24 next position to claim (readers, CAS) */
	uint32_t doorbell;   /* 28 1: the writer sleeps, ring it */
	uint64_t taken;      /* 32 requests the writer took (writer) */
	uint64_t dropped;    /* 40 requests dropped: ring full (readers) */
	uint64_t rung;       /* 48 doorbells rung (readers) */
	uint32_t tail;       /* 56 writer's next position (writer) */
	uint32_t flags;      /* 60 FSC_REQ_F_*, set by the writer */
};

/* A slot: these 32 bytes, then path_max bytes: the path, then a NUL. */
struct fsc_req_slot {
	uint32_t seq;       /*  0 see above */
	uint32_t pos;       /*  4 the position it was claimed for */
	uint32_t path_len;  /*  8 bytes, without the NUL; < path_max */
	uint32_t reserved;  /* 12 0 */
	uint64_t hash;      /* 16 XXH3_64bits_withSeed(path, len, hash_seed) */
	uint64_t reserved2; /* 24 0 */
};

/*
 * The tag array (minor 5), "/fstatcache.NAME.tags": this header, then one
 * uint16_t per slot.  The tag of a used slot is fsc_tag(entry.hash), never
 * 0; an empty slot's is 0.  The writer stores a slot's tag between the
 * begin and the end of that slot's write (its `seq` is odd), with a
 * relaxed atomic store, so every move, removal and clear is also inside
 * table_gen as the slot's own stores are.
 *
 * A tag is a hint, never an answer: a reader probes the tags of the key's
 * window and looks only at slots whose tag equals its key's, under the
 * slot's `seq` and the full key compare as always; a 0 tag ends the probe
 * as an empty slot does (the answer is then a miss, re-checked against
 * table_gen like any miss).  A tag read while the writer changes its slot
 * can only make the probe miss a key being inserted, moved or removed at
 * that moment, which table_gen or the insert's own order already allows.
 * So a reader may ignore the array (readers of minor 4 and older do), and
 * a wrong tag costs a miss's stat(), never a wrong answer.  Why it exists:
 * a miss then reads only tag lines (2 bytes a slot: 32 KiB for the
 * default 16,384 slots, which the caches keep) instead of the first line
 * of every slot up to an empty one, spread over megabytes of table.
 */
#define FSC_TAGS_HEADER_SIZE 64u

struct fsc_tags_header {
	uint64_t magic;       /*  0 FSC_TAGS_MAGIC */
	uint64_t epoch;       /*  8 equals fsc_header.epoch of its table */
	uint32_t slot_count;  /* 16 equals fsc_header.slot_count */
	uint32_t reserved0;   /* 20 0 */
	uint64_t reserved[5]; /* 24 0 */
			      /* 64: uint16_t tag[slot_count] */
};

/* The tag of a key's 64-bit hash: its top 16 bits (the slot comes from
 * the low bits), with bit 0 set so that no used slot's tag is 0. */
static inline uint16_t fsc_tag(uint64_t hash)
{
	return (uint16_t)((hash >> 48) | 1u);
}

#define FSC__FIELD(t, f, off, sz) \
	FSC__STATIC_ASSERT(offsetof(struct t, f) == (off) && \
				   sizeof(((struct t *)0)->f) == (sz), \
			   #t "." #f " drifted from docs/FORMAT.md")
FSC__FIELD(fsc_header, magic, 0, 8);
FSC__FIELD(fsc_header, version_major, 8, 4);
FSC__FIELD(fsc_header, version_minor, 12, 4);
FSC__FIELD(fsc_header, header_size, 16, 4);
FSC__FIELD(fsc_header, entry_size, 20, 4);
FSC__FIELD(fsc_header, slot_count, 24, 4);
FSC__FIELD(fsc_header, probe_limit, 28, 4);
FSC__FIELD(fsc_header, path_max, 32, 4);
FSC__FIELD(fsc_header, flags, 36, 4);
FSC__FIELD(fsc_header, segment_size, 40, 8);
FSC__FIELD(fsc_header, hash_seed, 48, 8);
FSC__FIELD(fsc_header, epoch, 56, 8);
FSC__FIELD(fsc_header, status, 64, 4);
FSC__FIELD(fsc_header, writer_alive, 68, 4);
FSC__FIELD(fsc_header, writer_pid, 72, 4);
FSC__FIELD(fsc_header, table_gen, 76, 4);
FSC__FIELD(fsc_header, writer_started_ns, 80, 8);
FSC__FIELD(fsc_header, owner_uid, 88, 4);
FSC__FIELD(fsc_header, entry_count, 92, 4);
FSC__FIELD(fsc_header, max_entries, 96, 4);
FSC__FIELD(fsc_header, reserved0, 100, 4);
FSC__FIELD(fsc_header, mnt_ns, 104, 8);
FSC__FIELD(fsc_header, socket_path, 112, FSC_SOCKET_PATH_SIZE);
FSC__FIELD(fsc_header, counters, 224, 8 * FSC_NCOUNTERS);
FSC__STATIC_ASSERT(sizeof(struct fsc_header) == 480, "header size drifted");
FSC__STATIC_ASSERT(sizeof(struct fsc_header) <= FSC_HEADER_SIZE, "header page");

FSC__FIELD(fsc_entry, seq, 0, 4);
FSC__FIELD(fsc_entry, flags, 4, 2);
FSC__FIELD(fsc_entry, path_len, 6, 2);
FSC__FIELD(fsc_entry, hash, 8, 8);
FSC__FIELD(fsc_entry, dev, 16, 8);
FSC__FIELD(fsc_entry, ino, 24, 8);
FSC__FIELD(fsc_entry, mode, 32, 4);
FSC__FIELD(fsc_entry, uid, 36, 4);
FSC__FIELD(fsc_entry, gid, 40, 4);
FSC__FIELD(fsc_entry, nlink, 44, 4);
FSC__FIELD(fsc_entry, size, 48, 8);
FSC__FIELD(fsc_entry, blocks, 56, 8);
FSC__FIELD(fsc_entry, mtime_ns, 64, 8);
FSC__FIELD(fsc_entry, ctime_ns, 72, 8);
FSC__FIELD(fsc_entry, atime_ns, 80, 8);
FSC__FIELD(fsc_entry, blksize, 88, 4);
FSC__FIELD(fsc_entry, rdev, 92, 4);
FSC__STATIC_ASSERT(sizeof(struct fsc_entry) == FSC_ENTRY_FIXED, "entry size");
FSC__FIELD(fsc_entry_cold, reason, 0, 4);
FSC__FIELD(fsc_entry_cold, reserved0, 4, 4);
FSC__FIELD(fsc_entry_cold, validated_ns, 8, 8);
FSC__STATIC_ASSERT(sizeof(struct fsc_entry_cold) == FSC_ENTRY_COLD,
		   "entry cold tail size");
FSC__STATIC_ASSERT(FSC_ENTRY_SIZE(256) == 384, "entry size of path_max 256");

FSC__FIELD(fsc_use_header, magic, 0, 8);
FSC__FIELD(fsc_use_header, epoch, 8, 8);
FSC__FIELD(fsc_use_header, slot_count, 16, 4);
FSC__FIELD(fsc_use_header, feed_waiters, 20, 4);
FSC__FIELD(fsc_use_header, reader_hits, 24, 8);
FSC__FIELD(fsc_use_header, reader_misses, 32, 8);
FSC__FIELD(fsc_use_header, reader_uncached, 40, 8);
FSC__FIELD(fsc_use_header, version_mismatches, 48, 8);
FSC__FIELD(fsc_use_header, feed_wake, 56, 4);
FSC__FIELD(fsc_use_header, reserved1, 60, 4);
FSC__STATIC_ASSERT(sizeof(struct fsc_use_header) == FSC_USE_HEADER_SIZE,
		   "use header size drifted");

FSC__FIELD(fsc_feed_header, magic, 0, 8);
FSC__FIELD(fsc_feed_header, epoch, 8, 8);
FSC__FIELD(fsc_feed_header, ring_size, 16, 4);
FSC__FIELD(fsc_feed_header, reserved0, 20, 4);
FSC__FIELD(fsc_feed_header, head, 24, 8);
FSC__FIELD(fsc_feed_header, tail, 32, 8);
FSC__FIELD(fsc_feed_header, reserved1, 40, 4);
FSC__FIELD(fsc_feed_header, reserved3, 44, 4);
FSC__FIELD(fsc_feed_header, records, 48, 8);
FSC__FIELD(fsc_feed_header, reserved2, 56, 8);
FSC__STATIC_ASSERT(sizeof(struct fsc_feed_header) == FSC_FEED_HEADER_SIZE,
		   "feed header size drifted");
FSC__FIELD(fsc_feed_record, pos, 0, 8);
FSC__FIELD(fsc_feed_record, len, 8, 4);
FSC__FIELD(fsc_feed_record, kind, 12, 4);
FSC__STATIC_ASSERT(sizeof(struct fsc_feed_record) == FSC_FEED_REC_FIXED,
		   "feed record size drifted");

FSC__FIELD(fsc_req_header, magic, 0, 8);
FSC__FIELD(fsc_req_header, epoch, 8, 8);
FSC__FIELD(fsc_req_header, ring_slots, 16, 4);
FSC__FIELD(fsc_req_header, slot_size, 20, 4);
FSC__FIELD(fsc_req_header, head, 24, 4);
FSC__FIELD(fsc_req_header, doorbell, 28, 4);
FSC__FIELD(fsc_req_header, taken, 32, 8);
FSC__FIELD(fsc_req_header, dropped, 40, 8);
FSC__FIELD(fsc_req_header, rung, 48, 8);
FSC__FIELD(fsc_req_header, tail, 56, 4);
FSC__FIELD(fsc_req_header, flags, 60, 4);
FSC__STATIC_ASSERT(sizeof(struct fsc_req_header) == FSC_REQ_HEADER_SIZE,
		   "request ring header size drifted");
FSC__FIELD(fsc_req_slot, seq, 0, 4);
FSC__FIELD(fsc_req_slot, pos, 4, 4);
FSC__FIELD(fsc_req_slot, path_len, 8, 4);
FSC__FIELD(fsc_req_slot, reserved, 12, 4);
FSC__FIELD(fsc_req_slot, hash, 16, 8);
FSC__FIELD(fsc_req_slot, reserved2, 24, 8);
FSC__STATIC_ASSERT(sizeof(struct fsc_req_slot) == FSC_REQ_SLOT_FIXED,
		   "request slot size drifted");
FSC__FIELD(fsc_tags_header, magic, 0, 8);
FSC__FIELD(fsc_tags_header, epoch, 8, 8);
FSC__FIELD(fsc_tags_header, slot_count, 16, 4);
FSC__FIELD(fsc_tags_header, reserved0, 20, 4);
FSC__FIELD(fsc_tags_header, reserved, 24, 40);
FSC__STATIC_ASSERT(sizeof(struct fsc_tags_header) == FSC_TAGS_HEADER_SIZE,
		   "tags header size drifted");

#endif /* FSTATCACHE_FORMAT_H */
