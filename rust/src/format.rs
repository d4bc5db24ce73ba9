//! The shared-memory layout, format 2.0: the offsets and constants of
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
pub const FORMAT_MAJOR: u32 = 2;
/// The format minor this reader was written for (newer minors only add).
pub const FORMAT_MINOR: u32 = 0;

pub const HEADER_SIZE: u32 = 4096; // the table's first slot
pub const ENTRY_FIXED: u32 = 96; // entry head: bytes before the path area
pub const ENTRY_COLD: u32 = 16; // the cold tail, after the path area
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
    // 12: version_minor, not read: a newer minor only adds what this
    // reader may skip.
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
    /// The writer's mount namespace, 0 unknown.
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
/// The writer keeps the tag array, "/fstatcache.NAME.tags".
pub const SEG_F_TAGS: u32 = 0x8;
/// Between two queries of the writer's lock (SEG_F_PID_LIVENESS).
pub const LIVENESS_CHECK_MS: u32 = 250;

// Entry fields (byte offsets in a slot, and in a feed record's entry
// image): the head, which a hit reads.  Times are signed nanoseconds
// since the epoch (split with floor division: lookup::split_ns).
pub mod ent {
    pub const SEQ: usize = 0;
    pub const FLAGS: usize = 4; // u16
    pub const PATH_LEN: usize = 6; // u16
    pub const HASH: usize = 8;
    pub const DEV: usize = 16;
    pub const INO: usize = 24;
    pub const MODE: usize = 32;
    pub const UID: usize = 36;
    pub const GID: usize = 40;
    pub const NLINK: usize = 44; // u32
    pub const SIZE: usize = 48;
    pub const BLOCKS: usize = 56;
    pub const MTIME_NS: usize = 64;
    pub const CTIME_NS: usize = 72;
    pub const ATIME_NS: usize = 80;
    pub const BLKSIZE: usize = 88;
    pub const RDEV: usize = 92; // u32
    pub const PATH: usize = 96;
}

// The cold tail, ENTRY_COLD bytes at ENTRY_FIXED + path_max in a slot
// and at ENTRY_FIXED in a feed record's image: reason (u32 at 0, why an
// entry is NOCACHE), 4 reserved bytes, validated_ns (u64 at 8).  What the
// writer and the tools read; this reader never needs it (a NOCACHE
// entry is answered by stat() whatever its reason).

/// The entry size the writer uses (FSC_ENTRY_SIZE): head, path area and
/// cold tail rounded up to 128 bytes.  Readers take the header's.
pub const fn entry_size(path_max: u32) -> u32 {
    (ENTRY_FIXED + path_max + ENTRY_COLD + 127) & !127
}

pub const ENT_USED: u16 = 0x1;
pub const ENT_EXISTS: u16 = 0x2;
pub const ENT_NOCACHE: u16 = 0x4;
pub const ENT_KNOWN: u16 = ENT_USED | ENT_EXISTS | ENT_NOCACHE;

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

// The tag array ("/fstatcache.NAME.tags"): a header whose magic, epoch
// and slot_count lie at usehdr's offsets (format.h pins both), then one
// u16 tag per slot.
pub const TAGS_HEADER_SIZE: u32 = 64;

// The change feed ("/fstatcache.NAME.feed").
pub const FEED_HEADER_SIZE: u32 = 64;
pub const FEED_REC_FIXED: u32 = 16;
pub const FEED_ALIGN: u32 = 16;
pub const FEED_SIZE_MIN: u32 = 65536;
pub const FEED_SIZE_MAX: u32 = 1 << 30;
/// A record's entry image before its path: the head and the cold tail.
pub const FEED_ENTRY: u32 = ENTRY_FIXED + ENTRY_COLD;
/// The largest record: header, entry image, the longest path area.
pub const FEED_REC_MAX: u32 = FEED_REC_FIXED + FEED_ENTRY + PATH_MAX_MAX;
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
