//! The shared-memory layout, format 1.5: the offsets and constants of
//! `include/fstatcache/format.h` and `docs/FORMAT.md`, which are the
//! specification.  Only offsets live here: nothing in this crate lays a
//! Rust struct over shared memory; every field is read through an atomic
//! view at its offset (`shm.rs`).

// Magics: asymmetric, so a byte-swapped view never matches.
pub const MAGIC: u64 = 0xFE01_4354_4154_5346; // "FSTATC" 0x01 0xFE
pub const USE_MAGIC: u64 = 0xFE01_4553_5543_5346; // "FSCUSE" 0x01 0xFE
pub const FEED_MAGIC: u64 = 0xFE01_4445_4546_5346; // "FSFEED" 0x01 0xFE
pub const TAGS_MAGIC: u64 = 0xFE01_5347_4154_5346; // "FSTAGS" 0x01 0xFE
/// The format major this reader reads; any other is refused.
pub const FORMAT_MAJOR: u32 = 1;
/// The format minor this reader was written for (newer minors only add).
pub const FORMAT_MINOR: u32 = 5;

pub const HEADER_SIZE: u32 = 4096; // the table's first slot
pub const ENTRY_FIXED: u32 = 128; // entry bytes before the path area
pub const PATH_MAX_MIN: u32 = 64;
pub const PATH_MAX_MAX: u32 = 4096;
pub const SLOTS_MIN: u32 = 16;
pub const SLOTS_MAX: u32 = 1 << 24;
pub const PROBE_LIMIT_MAX: u32 = 256;
pub const SOCKET_PATH_SIZE: usize = 112;
/// sizeof(sockaddr_un.sun_path) on Linux: the socket path's NUL lies in it.
pub const SUN_PATH_SIZE: usize = 108;

// Header fields (byte offsets in the table object).
pub mod hdr {
    pub const MAGIC: usize = 0;
    pub const VERSION_MAJOR: usize = 8;
    pub const VERSION_MINOR: usize = 12;
    pub const HEADER_SIZE: usize = 16;
    pub const ENTRY_SIZE: usize = 20;
    pub const SLOT_COUNT: usize = 24;
    pub const PROBE_LIMIT: usize = 28;
    pub const PATH_MAX: usize = 32;
    pub const FLAGS: usize = 36;
    pub const SEGMENT_SIZE: usize = 40;
    pub const HASH_SEED: usize = 48;
    pub const EPOCH: usize = 56;
    pub const STATUS: usize = 64;
    pub const WRITER_ALIVE: usize = 68;
    pub const TABLE_GEN: usize = 76;
    /// The writer's mount namespace (1.4), 0 unknown.
    pub const MNT_NS: usize = 104;
    pub const SOCKET_PATH: usize = 112;
}

pub const STATUS_INIT: u32 = 0;
pub const STATUS_SERVING: u32 = 1;
pub const STATUS_RETIRED: u32 = 3;

/// writer_alive: the kernel sets this bit (FUTEX_OWNER_DIED) when the
/// writer dies; the low bits hold its thread id while it lives.
pub const WRITER_DIED: u32 = 0x4000_0000;
pub const WRITER_TID_MASK: u32 = 0x3fff_ffff;

// Header flags.
pub const SEG_F_PID_LIVENESS: u32 = 0x1;
pub const SEG_F_FEED: u32 = 0x4;
/// The writer keeps the tag array, "/fstatcache.NAME.tags" (1.5).
pub const SEG_F_TAGS: u32 = 0x8;
/// Between two queries of the writer's lock (SEG_F_PID_LIVENESS).
pub const LIVENESS_CHECK_MS: u32 = 250;

// Entry fields (byte offsets in a slot, and in a feed record's entry image).
pub mod ent {
    pub const SEQ: usize = 0;
    pub const FLAGS: usize = 4;
    pub const HASH: usize = 8;
    pub const PATH_LEN: usize = 16;
    pub const DEV: usize = 24;
    pub const INO: usize = 32;
    pub const MODE: usize = 40;
    pub const UID: usize = 44;
    pub const GID: usize = 48;
    pub const NLINK: usize = 56;
    pub const SIZE: usize = 64;
    pub const BLOCKS: usize = 72;
    pub const MTIME_SEC: usize = 80;
    pub const CTIME_SEC: usize = 88;
    pub const MTIME_NSEC: usize = 96;
    pub const CTIME_NSEC: usize = 100;
    pub const RDEV: usize = 104;
    pub const BLKSIZE: usize = 52; // since 1.4
    pub const ATIME_NS: usize = 120; // since 1.4; ATIME_UNKNOWN: none
    pub const PATH: usize = 128;
}

/// entry.atime_ns when the atime does not fit in a nanosecond count.
pub const ATIME_UNKNOWN: i64 = i64::MIN;
/// The first format minor whose entries hold blksize and atime_ns.
pub const FORMAT_MINOR_ATIME: u32 = 4;

pub const ENT_USED: u32 = 0x1;
pub const ENT_EXISTS: u32 = 0x2;
pub const ENT_NOCACHE: u32 = 0x4;
pub const ENT_KNOWN: u32 = ENT_USED | ENT_EXISTS | ENT_NOCACHE;

// The recency object ("/fstatcache.NAME.use").
pub const USE_HEADER_SIZE: u32 = 64;
pub mod usehdr {
    pub const MAGIC: usize = 0;
    pub const EPOCH: usize = 8;
    pub const SLOT_COUNT: usize = 16;
    pub const FEED_WAITERS: usize = 20;
    pub const READER_HITS: usize = 24;
    pub const READER_MISSES: usize = 32;
    pub const READER_UNCACHED: usize = 40;
    pub const VERSION_MISMATCHES: usize = 48;
    pub const FEED_WAKE: usize = 56;
}

// The tag array ("/fstatcache.NAME.tags", since 1.5): a header whose
// magic, epoch and slot_count lie at usehdr's offsets (format.h pins
// both), then one u16 tag per slot.
pub const TAGS_HEADER_SIZE: u32 = 64;

// The change feed ("/fstatcache.NAME.feed").
pub const FEED_HEADER_SIZE: u32 = 64;
pub const FEED_REC_FIXED: u32 = 16;
pub const FEED_ALIGN: u32 = 16;
pub const FEED_SIZE_MIN: u32 = 65536;
pub const FEED_SIZE_MAX: u32 = 1 << 30;
/// The largest record: header, entry image, the longest path area.
pub const FEED_REC_MAX: u32 = FEED_REC_FIXED + ENTRY_FIXED + PATH_MAX_MAX;
pub mod feedhdr {
    pub const MAGIC: usize = 0;
    pub const EPOCH: usize = 8;
    pub const RING_SIZE: usize = 16;
    pub const HEAD: usize = 24;
    pub const TAIL: usize = 32;
}

// Record kinds.
pub const CHANGE_PAD: u32 = 0;
pub const CHANGE_ADDED: u32 = 1;
pub const CHANGE_CHANGED: u32 = 2;
pub const CHANGE_CREATED: u32 = 3;
pub const CHANGE_DELETED: u32 = 4;
pub const CHANGE_MARKED: u32 = 5;
pub const CHANGE_EVICTED: u32 = 6;
pub const CHANGE_REMOVED: u32 = 7;
pub const CHANGE_ALL: u32 = 8;
pub const CHANGE_KNOWN: u32 = 9;

// The control socket's datagrams (include/fstatcache/protocol.h).
pub const MSG_MAGIC: u32 = 0x4653_4d31;
pub const PROTO_VERSION: u16 = 1;
pub const OP_MISS: u16 = 1;
pub const OP_WATCH: u16 = 2;
pub const OP_UNWATCH: u16 = 3;
pub const OP_INVALIDATE: u16 = 4;
pub const OP_SYNC: u16 = 5;
pub const REQUEST_HEADER: usize = 24;
pub const REPLY_HEADER: usize = 24;
pub const REPLY_MSG_MAX: usize = 1024;
