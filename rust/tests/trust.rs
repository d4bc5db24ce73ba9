//! Every check made before a segment is trusted, on segments this test
//! makes by hand (no writer): owner and mode (squatting), the object's
//! size against the header (SIGBUS), the geometry, the format major, the
//! writer's status and liveness; the tag array's checks; and the
//! validation of copied entries.  The segments are of format 2.0: a slot
//! is a 96-byte head, the path area, a 16-byte cold tail (docs/FORMAT.md).

mod common;

use fstatcache::{Error, Handle, Lookup, Options};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

const PATH_MAX: u32 = 64;
/// Head, path area and cold tail, rounded up to 128 as the writer does.
const ENTRY: u32 = (96 + PATH_MAX + 16 + 127) & !127;
/// The head: bytes before the path.
const HEAD: usize = 96;
/// A feed record's entry image before its path: the head and the cold tail.
const FEED_ENTRY: usize = HEAD + 16;
const SLOTS: u32 = 16;
const SEED: u64 = 0x1234_5678_9abc_def0;
const EPOCH: u64 = 0x0bad_cafe_f00d_0001;

/// A hand-made segment: its bytes, the name, and cleanup on drop.
struct Fake {
    name: String,
    table: Vec<u8>,
    mode: u32,
    extra: usize, // bytes beyond segment_size (a lying size)
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_ne_bytes());
}
fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}
fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

impl Fake {
    /// A valid, serving, empty segment of 16 slots.
    fn new() -> Fake {
        let size = 4096 + SLOTS * ENTRY;
        let mut t = vec![0u8; size as usize];
        put64(&mut t, 0, 0xFE01_4354_4154_5346);
        put32(&mut t, 8, 2); // format 2.0
        put32(&mut t, 12, 0);
        put32(&mut t, 16, 4096);
        put32(&mut t, 20, ENTRY);
        put32(&mut t, 24, SLOTS);
        put32(&mut t, 28, 4);
        put32(&mut t, 32, PATH_MAX);
        put64(&mut t, 40, u64::from(size));
        put64(&mut t, 48, SEED);
        put64(&mut t, 56, EPOCH);
        put32(&mut t, 64, 1); // SERVING
        put32(&mut t, 68, gettid()); // a live writer's tid
        let sock = b"/nonexistent/fsc-rs.sock\0";
        t[112..112 + sock.len()].copy_from_slice(sock);
        Fake { name: common::unique_name(), table: t, mode: 0o600, extra: 0 }
    }

    fn shm(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("/dev/shm/fstatcache.{}{}", self.name, suffix))
    }

    /// Write the objects to /dev/shm (the table last).
    fn publish(&self) {
        let mut u = vec![0u8; 64 + SLOTS as usize];
        put64(&mut u, 0, 0xFE01_4553_5543_5346);
        put64(&mut u, 8, EPOCH);
        put32(&mut u, 16, SLOTS);
        fs::write(self.shm(".use"), &u).unwrap();
        let p = self.shm("");
        let mut f = fs::File::create(&p).unwrap();
        f.write_all(&self.table).unwrap();
        f.write_all(&vec![0u8; self.extra]).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(self.mode)).unwrap();
    }

    fn open(&self) -> Result<Handle, Error> {
        self.publish();
        Options::new().name(&self.name).require_writer(true).open()
    }

    /// Put an entry for `path` in its home slot, or the first free one
    /// after it; its offset in the table.
    fn entry(&mut self, path: &str, flags: u16, mode: u32) -> usize {
        let hash = xxhash_rust::xxh3::xxh3_64_with_seed(path.as_bytes(), SEED);
        let t = &mut self.table;
        let mut slot = hash as u32 & (SLOTS - 1);
        while t[4096 + slot as usize * ENTRY as usize + 4] != 0 {
            slot = (slot + 1) & (SLOTS - 1); // linear probing, as the writer
        }
        let e = 4096 + slot as usize * ENTRY as usize;
        put16(t, e + 4, flags);
        put16(t, e + 6, path.len() as u16);
        put64(t, e + 8, hash);
        put64(t, e + 16, 7); // dev
        put64(t, e + 24, 42); // ino
        put32(t, e + 32, mode);
        put32(t, e + 36, 1000);
        put32(t, e + 40, 1001);
        put32(t, e + 44, 1); // nlink
        put64(t, e + 48, 12345); // size
        put64(t, e + 56, 24); // blocks
        put64(t, e + 64, 1_700_000_000_999_999_999); // mtime_ns
        put64(t, e + 72, 1_700_000_001_000_000_005); // ctime_ns
        put64(t, e + 80, 1_700_000_002_000_000_000); // atime_ns
        put32(t, e + 88, 4096); // blksize
        put32(t, e + 92, 0); // rdev
        t[e + HEAD..e + HEAD + path.len()].copy_from_slice(path.as_bytes());
        e
    }

    /// The cold tail of the entry at `e`: reason, reserved, validated_ns.
    fn cold(&mut self, e: usize, reason: u32, reserved: u32, validated_ns: u64) {
        let c = e + HEAD + PATH_MAX as usize;
        put32(&mut self.table, c, reason);
        put32(&mut self.table, c + 4, reserved);
        put64(&mut self.table, c + 8, validated_ns);
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        for s in ["", ".use", ".feed", ".req", ".tags"] {
            let _ = fs::remove_file(self.shm(s));
        }
    }
}

const REG: u32 = libc::S_IFREG | 0o644;

#[test]
fn a_good_segment_answers() {
    let mut f = Fake::new();
    let e = f.entry("/fake/file", 0x3, REG);
    // A hit reads the head and the path, never the cold tail.
    f.cold(e, u32::MAX, u32::MAX, u64::MAX);
    f.entry("/fake/gone", 0x1, 0);
    // Before 1970, and 32-bit fields with their top bit set: widened
    // without sign extension, times split by floor division.
    let e = f.entry("/fake/old", 0x3, libc::S_IFCHR | 0o600);
    put32(&mut f.table, e + 44, u32::MAX); // nlink
    put64(&mut f.table, e + 64, (-1i64) as u64); // mtime_ns
    put64(&mut f.table, e + 72, (-1_000_000_000i64) as u64); // ctime_ns
    put64(&mut f.table, e + 80, i64::MIN as u64); // atime_ns
    put32(&mut f.table, e + 88, 512); // blksize
    put32(&mut f.table, e + 92, 0x8000_0103); // rdev
    let h = f.open().unwrap();
    match h.lookup("/fake/file") {
        Lookup::Hit(st) => {
            assert!(st.exists());
            assert_eq!((st.dev(), st.ino(), st.mode(), st.uid(), st.gid()), (7, 42, REG, 1000, 1001));
            assert_eq!((st.nlink(), st.size(), st.blocks(), st.rdev()), (1, 12345, 24, 0));
            assert_eq!((st.mtime(), st.mtime_nsec(), st.ctime(), st.ctime_nsec()), (1_700_000_000, 999_999_999, 1_700_000_001, 5));
            assert_eq!((st.blksize(), st.atime()), (Some(4096), Some((1_700_000_002, 0))));
        }
        r => panic!("{:?}", r),
    }
    match h.lookup("/fake/old") {
        Lookup::Hit(st) => {
            assert_eq!((st.nlink(), st.rdev(), st.blksize()), (0xffff_ffff, 0x8000_0103, Some(512)));
            assert_eq!((st.mtime(), st.mtime_nsec(), st.ctime(), st.ctime_nsec()), (-1, 999_999_999, -1, 0));
            assert_eq!(st.atime(), Some((-9_223_372_037, 145_224_192)));
        }
        r => panic!("{:?}", r),
    }
    match h.lookup("/fake/gone") {
        Lookup::Hit(st) => {
            assert!(!st.exists());
            assert_eq!((st.error(), st.ino(), st.size()), (libc::ENOENT, 0, 0));
            assert_eq!((st.blksize(), st.atime()), (None, None));
        }
        r => panic!("{:?}", r),
    }
    assert_eq!(h.lookup("/fake/other"), Lookup::Miss);
    assert_eq!(h.lookup("/fake/fil"), Lookup::Miss);
    // Longer than the path area: never in the table.
    assert_eq!(h.lookup(format!("/{}", "y".repeat(PATH_MAX as usize))), Lookup::Uncached);
    // A hit marks the slot used for the writer's eviction.
    let u = fs::read(f.shm(".use")).unwrap();
    assert_eq!(u[64..].iter().filter(|&&b| b != 0).count(), 3);
}

#[test]
fn insane_entries_are_not_believed() {
    let mut f = Fake::new();
    let e = f.entry("/bad/size", 0x3, REG);
    put64(&mut f.table, e + 48, (-1i64) as u64);
    let e = f.entry("/bad/blocks", 0x3, REG);
    put64(&mut f.table, e + 56, i64::MIN as u64);
    f.entry("/bad/mode", 0x3, libc::S_IFLNK | 0o777);
    f.entry("/bad/flags", 0x3 | 0x80, REG);
    f.entry("/bad/flags-high", 0x3 | 0x8000, REG);
    f.entry("/bad/nocache", 0x7, REG);
    // A value the head cannot hold (FSC_REASON_RANGE): NOCACHE, as any.
    let e = f.entry("/bad/range", 0x7, REG);
    f.cold(e, 7, 0, 1);
    let h = f.open().unwrap();
    for p in ["/bad/size", "/bad/blocks", "/bad/mode", "/bad/flags", "/bad/flags-high", "/bad/nocache", "/bad/range"] {
        assert_eq!(h.lookup(p), Lookup::Uncached, "{}", p);
    }
}

#[test]
fn an_odd_sequence_count_is_never_served() {
    let mut f = Fake::new();
    f.entry("/busy/file", 0x3, REG);
    let hash = xxhash_rust::xxh3::xxh3_64_with_seed(b"/busy/file", SEED);
    let e = 4096 + (hash as u32 & (SLOTS - 1)) as usize * ENTRY as usize;
    put32(&mut f.table, e, 1); // a write that never ends
    let h = f.open().unwrap();
    assert_eq!(h.lookup("/busy/file"), Lookup::Uncached);
    // An odd table generation: entries moving, forever.
    put32(&mut f.table, e, 2);
    put32(&mut f.table, 76, 3);
    let h = f.open().unwrap();
    assert_eq!(h.lookup("/busy/file"), Lookup::Uncached);
}

#[test]
fn squatters_are_refused() {
    for mode in [0o622, 0o602, 0o660, 0o666] {
        let mut f = Fake::new();
        f.mode = mode;
        assert_eq!(f.open().err(), Some(Error::NotTrusted), "mode {:o}", mode);
    }
    let f = Fake::new();
    f.publish();
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let c = std::ffi::CString::new(f.shm("").into_os_string().into_string().unwrap()).unwrap();
        // SAFETY: c is a live NUL-terminated path.
        assert_eq!(unsafe { libc::chown(c.as_ptr(), 54321, 54321) }, 0);
        let h = Options::new().name(&f.name).require_writer(true).open();
        assert_eq!(h.err(), Some(Error::NotTrusted));
    } else {
        eprintln!("not root: the foreign-owner case is skipped (chown needs root)");
    }
}

#[test]
fn sizes_and_geometry() {
    let mut f = Fake::new();
    f.extra = 4096; // object larger than the header says
    assert_eq!(f.open().err(), Some(Error::Corrupt));
    let cases: [(usize, u32); 11] = [
        (16, 4095),                  // header_size
        (20, ENTRY + 4),             // entry_size not a multiple of 8
        (20, 64),                    // entry_size below 96 + path_max + 16
        (20, 96 + PATH_MAX + 8),     // no room for the cold tail
        (20, 4224 + 4096 + 8),       // over the largest a minor may add
        (24, 15),                    // slot_count not a power of two
        (24, 8),                     // below the minimum
        (28, 0),                     // probe_limit
        (28, 257),                   // probe_limit over the maximum
        (32, 60),                    // path_max
        (32, ENTRY - 96 - 16 + 8),   // path area and cold tail past entry_size
    ];
    for (off, v) in cases {
        let mut f = Fake::new();
        put32(&mut f.table, off, v);
        assert_eq!(f.open().err(), Some(Error::Corrupt), "field at {} = {}", off, v);
    }
    let mut f = Fake::new();
    put64(&mut f.table, 40, 4096); // segment_size
    assert_eq!(f.open().err(), Some(Error::Corrupt));
    let mut f = Fake::new();
    f.table[112] = b'r'; // a relative socket path
    assert_eq!(f.open().err(), Some(Error::Corrupt));
    let mut f = Fake::new();
    f.table.truncate(100); // smaller than a header: not sized yet
    assert_eq!(f.open().err(), Some(Error::Again));
    let mut f = Fake::new();
    put64(&mut f.table, 0, 0x4653_5441_5443_01FE); // byte-swapped magic
    assert_eq!(f.open().err(), Some(Error::Corrupt));
}

#[test]
fn another_major_is_counted() {
    // A writer of format 1.x (the major before), and of a future major.
    for major in [1, 3] {
        let mut f = Fake::new();
        put32(&mut f.table, 8, major);
        assert_eq!(f.open().err(), Some(Error::VersionMismatch), "major {}", major);
        let u = fs::read(f.shm(".use")).unwrap();
        assert_eq!(u64::from_ne_bytes(u[48..56].try_into().unwrap()), 1, "major {}", major);
        // A handle that keeps trying counts the object once.
        let h = Handle::open(Some(&f.name)).unwrap();
        assert_eq!(h.attach_error(), Some(Error::VersionMismatch));
        assert_eq!(h.lookup("/x/y"), Lookup::Uncached);
    }
}

#[test]
fn status_and_liveness() {
    for (status, alive, want) in [
        (0, gettid(), Error::Again),              // INIT: still starting
        (2, gettid(), Error::NoSegment),          // REVALIDATING
        (3, gettid(), Error::NoSegment),          // RETIRED
        (1, 0, Error::NoSegment),                 // stopped cleanly
        (1, gettid() | 0x4000_0000, Error::NoSegment), // died
    ] {
        let mut f = Fake::new();
        put32(&mut f.table, 64, status);
        put32(&mut f.table, 68, alive);
        assert_eq!(f.open().err(), Some(want), "status {} alive {:#x}", status, alive);
    }
    // A flagged segment whose lock nobody holds has a dead writer.
    let mut f = Fake::new();
    put32(&mut f.table, 36, 0x1);
    assert_eq!(f.open().err(), Some(Error::NoSegment));
}

// ---- the change feed, hand-made ------------------------------------------

const RING: usize = 65536;

/// A feed object for a Fake: records appended by `rec()`.
struct FakeFeed {
    ring: Vec<u8>,
    head: u64,
    tail: u64,
    epoch: u64,
    ring_size: u32,
}

impl FakeFeed {
    fn new() -> FakeFeed {
        FakeFeed { ring: vec![0u8; RING], head: 0, tail: 0, epoch: EPOCH, ring_size: RING as u32 }
    }

    /// Append a record of `kind` at `head`; `path` None: no entry (PAD,
    /// ALL, unknown kinds).  `len` is the least that holds it (16 without
    /// an entry) unless `pad_to` says more.
    fn rec(&mut self, kind: u32, path: Option<&str>, flags: u32, pad_to: u32) -> u64 {
        let pos = self.head;
        let len = match path {
            Some(p) => (((16 + FEED_ENTRY + (p.len() / 8 + 1) * 8 + 15) & !15) as u32).max(pad_to),
            None => pad_to.max(16),
        };
        let o = pos as usize % RING;
        let r = &mut self.ring;
        put64(r, o, pos);
        put32(r, o + 8, len);
        put32(r, o + 12, kind);
        if let Some(p) = path {
            let e = o + 16;
            put16(r, e + 4, flags as u16);
            put16(r, e + 6, p.len() as u16);
            put64(r, e + 24, 99); // ino
            put32(r, e + 32, REG);
            put32(r, e + 44, 1); // nlink
            put64(r, e + 48, 777); // size
            // The cold tail: carried, not used by this reader.
            put32(r, e + HEAD, 0xdead_beef);
            put32(r, e + HEAD + 4, 0xdead_beef);
            r[e + FEED_ENTRY..e + FEED_ENTRY + p.len()].copy_from_slice(p.as_bytes());
        }
        self.head += u64::from(len);
        pos
    }
}

impl Fake {
    fn with_feed(feed: &FakeFeed) -> Fake {
        let mut f = Fake::new();
        put32(&mut f.table, 36, 0x4); // SEG_F_FEED
        let mut b = vec![0u8; 64 + feed.ring.len()];
        put64(&mut b, 0, 0xFE01_4445_4546_5346);
        put64(&mut b, 8, feed.epoch);
        put32(&mut b, 16, feed.ring_size);
        put64(&mut b, 24, feed.head);
        put64(&mut b, 32, feed.tail);
        b[64..].copy_from_slice(&feed.ring);
        fs::write(f.shm(".feed"), &b).unwrap();
        f
    }
}

type Seen = Vec<(fstatcache::ChangeKind, String, Option<u64>)>;

/// Walk the feed of `f` from `cur`.
fn walk(f: &Fake, cur: &mut fstatcache::Cursor) -> (Result<fstatcache::Poll, Error>, Seen) {
    let h = f.open().unwrap();
    let mut seen = Vec::new();
    let r = h.changes(cur, |c| {
        seen.push((c.kind, c.path.to_str().unwrap().to_owned(), c.answer.map(|s| s.len())));
        std::ops::ControlFlow::Continue(())
    });
    (r, seen)
}

fn from_start() -> fstatcache::Cursor {
    fstatcache::Cursor { epoch: EPOCH, pos: 0 }
}

#[test]
fn feed_records_are_read_and_checked() {
    use fstatcache::{ChangeKind as K, Poll};
    let mut ff = FakeFeed::new();
    ff.rec(1, Some("/feed/a"), 0x3, 0); // ADDED
    ff.rec(0, None, 0, 48); // PAD: skipped
    ff.rec(5, Some("/feed/a"), 0x7, 0); // MARKED: no answer
    ff.rec(4, Some("/feed/b"), 0x1, 0); // DELETED: exists 0
    ff.rec(2, Some("/feed/c"), 0x3, 512); // longer: a newer minor's fields
    ff.rec(2, Some("/feed/r"), 0x7, 0); // NOCACHE (RANGE, say): stat() it
    let f = Fake::with_feed(&ff);
    let mut cur = from_start();
    let (r, seen) = walk(&f, &mut cur);
    assert_eq!(r, Ok(Poll::UpToDate));
    assert_eq!(
        seen,
        vec![
            (K::Added, "/feed/a".into(), Some(777)),
            (K::Marked, "/feed/a".into(), None),
            (K::Deleted, "/feed/b".into(), Some(0)),
            (K::Changed, "/feed/c".into(), Some(777)),
            (K::Changed, "/feed/r".into(), None)
        ]
    );
    assert_eq!(cur, fstatcache::Cursor { epoch: EPOCH, pos: ff.head });

    // ALL, and a kind of a newer minor: a full pass after the records
    // before them.
    for kind in [8, 9, 1000] {
        let mut ff = FakeFeed::new();
        ff.rec(2, Some("/feed/a"), 0x3, 0);
        let after = ff.rec(kind, None, 0, 32) + 32;
        ff.rec(2, Some("/feed/c"), 0x3, 0);
        let f = Fake::with_feed(&ff);
        let mut cur = from_start();
        let (r, seen) = walk(&f, &mut cur);
        assert_eq!(r, Ok(Poll::Resync), "kind {}", kind);
        assert_eq!(seen.len(), 1, "kind {}", kind);
        assert_eq!(cur.pos, after, "kind {}", kind);
    }
}

#[test]
fn feed_cursors_start_afresh() {
    use fstatcache::Poll;
    let mut ff = FakeFeed::new();
    ff.rec(1, Some("/feed/a"), 0x3, 0);
    ff.rec(1, Some("/feed/b"), 0x3, 0);
    let head = ff.head;
    for bad in [
        fstatcache::Cursor::default(),
        fstatcache::Cursor { epoch: EPOCH + 1, pos: 0 },
        fstatcache::Cursor { epoch: EPOCH, pos: 8 },
        fstatcache::Cursor { epoch: EPOCH, pos: head + 16 },
    ] {
        let f = Fake::with_feed(&ff);
        let mut cur = bad;
        let (r, seen) = walk(&f, &mut cur);
        assert_eq!((r, seen.len()), (Ok(Poll::Resync), 0), "{:?}", bad);
        assert_eq!(cur, fstatcache::Cursor { epoch: EPOCH, pos: head });
    }
    // Lapped: the ring overwrote the cursor's record.
    ff.tail = 16;
    let f = Fake::with_feed(&ff);
    let mut cur = from_start();
    let (r, _) = walk(&f, &mut cur);
    assert_eq!(r, Ok(Poll::Resync));
    assert_eq!(cur.pos, head);
}

#[test]
fn corrupt_feed_records_are_errors() {
    type Spoil = Box<dyn Fn(&mut FakeFeed)>;
    let cases: Vec<(&str, Spoil)> = vec![
        ("wrong pos", Box::new(|ff| put64(&mut ff.ring, 0, 16))),
        ("len not aligned", Box::new(|ff| put32(&mut ff.ring, 8, 152))),
        ("len past head", Box::new(|ff| put32(&mut ff.ring, 8, 4096))),
        ("len shorter than an entry", Box::new(|ff| put32(&mut ff.ring, 8, 128))),
        ("non-canonical path", Box::new(|ff| ff.ring[16 + FEED_ENTRY + 6] = b'/')),
        ("NUL in path", Box::new(|ff| ff.ring[16 + FEED_ENTRY + 3] = 0)),
        ("path_len past record", Box::new(|ff| put16(&mut ff.ring, 16 + 6, 40))),
        (
            "path_len past path_max",
            Box::new(|ff| {
                // a sound path of path_max bytes, in a record long
                // enough for it: only path_max refuses it
                let long = format!("/feed/{}", "x".repeat(PATH_MAX as usize - 6));
                put32(&mut ff.ring, 8, 256);
                ff.head = 256;
                put16(&mut ff.ring, 16 + 6, long.len() as u16);
                ff.ring[16 + FEED_ENTRY..16 + FEED_ENTRY + long.len()].copy_from_slice(long.as_bytes());
            }),
        ),
        ("not USED", Box::new(|ff| put16(&mut ff.ring, 16 + 4, 0x2))),
        ("unknown flag", Box::new(|ff| put16(&mut ff.ring, 16 + 4, 0x13))),
        ("bad mode", Box::new(|ff| put32(&mut ff.ring, 16 + 32, 0))),
        ("negative size", Box::new(|ff| put64(&mut ff.ring, 16 + 48, u64::MAX))),
    ];
    for (what, spoil) in cases {
        let mut ff = FakeFeed::new();
        ff.rec(1, Some("/feed/abc"), 0x3, 0);
        spoil(&mut ff);
        let f = Fake::with_feed(&ff);
        let mut cur = from_start();
        let (r, seen) = walk(&f, &mut cur);
        assert_eq!(r, Err(Error::Corrupt), "{}", what);
        assert!(seen.is_empty(), "{}", what);
        assert_eq!(cur, from_start(), "{}: the cursor stays before it", what);
    }
}

#[test]
fn feed_objects_are_checked() {
    // A writer that keeps no feed (its header flag clear).
    let f = Fake::new();
    let h = f.open().unwrap();
    let mut cur = from_start();
    assert_eq!(h.changes(&mut cur, |_| std::ops::ControlFlow::Continue(())), Err(Error::NoFeed));
    // Another segment's feed, a ring that is no power of two.
    let mut other = FakeFeed::new();
    other.epoch = EPOCH + 1;
    assert_eq!(walk(&Fake::with_feed(&other), &mut from_start()).0, Err(Error::NoSegment));
    let mut odd = FakeFeed::new();
    odd.ring_size = RING as u32 - 16;
    assert_eq!(walk(&Fake::with_feed(&odd), &mut from_start()).0, Err(Error::Corrupt));
}

/// A writer in another mount namespace serves only a reader that opted
/// in: the paths it would be asked about may name other files there.
#[test]
fn another_mount_namespace_is_not_served() {
    use std::os::unix::fs::MetadataExt;
    let ours = fs::metadata("/proc/self/ns/mnt").map(|m| m.ino()).unwrap();
    let mut f = Fake::new();
    f.entry("/fake/file", 0x3, REG);
    for (ns, any, served) in [(0, false, true), (ours, false, true), (ours ^ 1, false, false), (ours ^ 1, true, true)] {
        put64(&mut f.table, 104, ns);
        f.publish();
        let r = Options::new().name(&f.name).require_writer(true).any_mount_ns(any).open();
        match (r, served) {
            (Ok(h), true) => assert!(matches!(h.lookup("/fake/file"), Lookup::Hit(_))),
            (Err(Error::OtherMountNamespace), false) => {
                let h = Options::new().name(&f.name).open().unwrap();
                assert!(matches!(h.lookup("/fake/file"), Lookup::Uncached));
                assert_eq!(h.attach_error().map(|e| e.errno()), Some(libc::EXDEV));
            }
            (r, _) => panic!("writer's namespace {ns}, ours {ours}, any {any}: {:?}", r.err()),
        }
    }
}

// ---- the tag array, hand-made --------------------------------------------

const TAGS_MAGIC: u64 = 0xFE01_5347_4154_5346;
const SEG_F_TAGS: u32 = 0x8;

fn get16(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes(b[off..off + 2].try_into().unwrap())
}
fn get64(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().unwrap())
}

/// The tags of the Fake's slots as a writer keeps them (docs/FORMAT.md):
/// (hash >> 48) | 1 for a used slot, 0 for an empty one.
fn sound_tags(f: &Fake) -> Vec<u16> {
    (0..SLOTS as usize)
        .map(|s| {
            let e = 4096 + s * ENTRY as usize;
            if get16(&f.table, e + 4) & 1 != 0 {
                (get64(&f.table, e + 8) >> 48) as u16 | 1
            } else {
                0
            }
        })
        .collect()
}

/// The slot holding `path`.
fn slot_of(f: &Fake, path: &str) -> usize {
    (0..SLOTS as usize)
        .find(|s| {
            let e = 4096 + s * ENTRY as usize;
            get16(&f.table, e + 4) & 1 != 0
                && get16(&f.table, e + 6) as usize == path.len()
                && &f.table[e + HEAD..e + HEAD + path.len()] == path.as_bytes()
        })
        .unwrap_or_else(|| panic!("{} is in no slot", path))
}

/// Write the Fake's .tags object: the header, `tags`, `extra` bytes more.
fn write_tags(f: &Fake, magic: u64, epoch: u64, slots: u32, tags: &[u16], extra: usize, mode: u32) {
    let mut b = vec![0u8; 64 + 2 * tags.len() + extra];
    put64(&mut b, 0, magic);
    put64(&mut b, 8, epoch);
    put32(&mut b, 16, slots);
    for (i, t) in tags.iter().enumerate() {
        b[64 + 2 * i..66 + 2 * i].copy_from_slice(&t.to_ne_bytes());
    }
    let p = f.shm(".tags");
    fs::write(&p, &b).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

const TAGGED: [&str; 6] = ["/tags/a", "/tags/b", "/tags/c", "/tags/d", "/tags/e", "/tags/f"];

/// A Fake holding `keys`, each with its index as its inode number.
fn tagged_fake<S: AsRef<str>>(keys: &[S]) -> Fake {
    let mut f = Fake::new();
    for (i, p) in keys.iter().enumerate() {
        let e = f.entry(p.as_ref(), 0x3, REG);
        put64(&mut f.table, e + 24, i as u64); // ino
    }
    f
}

/// Every key hits with its own answer, but those in `misses`, which miss;
/// by lookup() and by lookup_many().
fn expect_hits<S: AsRef<str>>(what: &str, h: &Handle, keys: &[S], misses: &[usize]) {
    let many = h.lookup_many(&keys.iter().map(|k| k.as_ref()).collect::<Vec<_>>());
    for (i, p) in keys.iter().map(|k| k.as_ref()).enumerate() {
        let miss = misses.contains(&i);
        for (how, r) in [("lookup", h.lookup(p)), ("lookup_many", many[i])] {
            match r {
                Lookup::Miss if miss => {}
                Lookup::Hit(st) if !miss => assert_eq!(st.ino(), i as u64, "{}: {} {}", what, how, p),
                r => panic!("{}: {}({}) = {:?}, want {}", what, how, p, r, if miss { "a miss" } else { "a hit" }),
            }
        }
    }
}

/// A reader follows a sound tag array: a key whose tag is changed (to
/// another nonzero value) is not found, its slot never read.  An array
/// failing any check is ignored, and the slots answer alone.
#[test]
fn tags_object_checked() {
    const VICTIM: usize = 2;
    let cases: [(&str, bool); 7] = [
        ("valid", true),
        ("wrong magic", false),
        ("wrong epoch", false),
        ("wrong slot count", false),
        ("wrong size", false),
        ("group-writable", false),
        ("header flag off", false),
    ];
    for (i, (what, used)) in cases.iter().enumerate() {
        let mut f = tagged_fake(&TAGGED);
        if i != 6 {
            put32(&mut f.table, 36, SEG_F_TAGS);
        }
        let magic = if i == 1 { !TAGS_MAGIC } else { TAGS_MAGIC };
        let epoch = if i == 2 { EPOCH ^ 1 } else { EPOCH };
        let slots = if i == 3 { SLOTS * 2 } else { SLOTS };
        let extra = if i == 4 { 4096 } else { 0 };
        let mode = if i == 5 { 0o660 } else { 0o600 };
        let mut tags = sound_tags(&f);
        write_tags(&f, magic, epoch, slots, &tags, extra, mode);
        expect_hits(what, &f.open().unwrap(), &TAGGED, &[]);
        tags[slot_of(&f, TAGGED[VICTIM])] ^= 2; // still nonzero: bit 0 stays
        write_tags(&f, magic, epoch, slots, &tags, extra, mode);
        let misses: &[usize] = if *used { &[VICTIM] } else { &[] };
        expect_hits(what, &f.open().unwrap(), &TAGGED, misses);
    }
}

/// A tag of 0 ends the probe, as an empty slot does: a key stored past
/// its home slot is a miss when its home slot's tag is 0, though its own
/// tag is sound (a reader that only skipped the slot would find it).
#[test]
fn a_zero_tag_ends_the_probe() {
    let home = |k: &str| (xxhash_rust::xxh3::xxh3_64_with_seed(k.as_bytes(), SEED) as u32 & (SLOTS - 1)) as usize;
    // Keys until one lies past its home slot (linear probing).
    let mut keys: Vec<String> = Vec::new();
    let displaced = loop {
        keys.push(format!("/zero/{}", keys.len()));
        let f = tagged_fake(&keys);
        let k = keys.last().unwrap();
        if slot_of(&f, k) != home(k) {
            break keys.len() - 1;
        }
        assert!(keys.len() < 12, "no collision in 12 keys");
    };
    let mut f = tagged_fake(&keys);
    put32(&mut f.table, 36, SEG_F_TAGS);
    let zeroed = home(&keys[displaced]);
    let mut tags = sound_tags(&f);
    tags[zeroed] = 0;
    write_tags(&f, TAGS_MAGIC, EPOCH, SLOTS, &tags, 0, 0o600);
    // Missed: every key whose probe from its home reaches the zeroed slot
    // before (or at) its own slot.
    let misses: Vec<usize> = (0..keys.len())
        .filter(|&i| {
            let (h, s) = (home(&keys[i]), slot_of(&f, &keys[i]));
            (zeroed + SLOTS as usize - h) % SLOTS as usize <= (s + SLOTS as usize - h) % SLOTS as usize
        })
        .collect();
    assert!(misses.contains(&displaced));
    expect_hits("a zero tag in the window", &f.open().unwrap(), &keys, &misses);
}

/// Whatever the tags say, an answer comes from the slot and its full key:
/// a wrong tag costs a miss at most, never another key's answer.
#[test]
fn wrong_tags_never_give_wrong_answers() {
    use std::os::unix::fs::FileExt;
    let mut f = tagged_fake(&TAGGED);
    put32(&mut f.table, 36, SEG_F_TAGS);
    let sound = sound_tags(&f);
    write_tags(&f, TAGS_MAGIC, EPOCH, SLOTS, &sound, 0, 0o600);
    let h = f.open().unwrap();
    let file = fs::OpenOptions::new().write(true).open(f.shm(".tags")).unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut hits = 0;
    for _ in 0..2000 {
        let mut tags = sound.clone();
        for _ in 0..1 + next() % 4 {
            let r = next();
            let s = (r % u64::from(SLOTS)) as usize;
            // 0, any value, or the tag of a key that is not there
            tags[s] = match (r >> 32) % 3 {
                0 => 0,
                1 => (r >> 40) as u16,
                _ => sound[((r >> 20) % u64::from(SLOTS)) as usize],
            };
        }
        let b: Vec<u8> = tags.iter().flat_map(|t| t.to_ne_bytes()).collect();
        file.write_at(&b, 64).unwrap();
        for (i, p) in TAGGED.iter().enumerate() {
            match h.lookup(p) {
                Lookup::Hit(st) => {
                    assert_eq!(st.ino(), i as u64, "{}: another key's answer (seed {:#x})", p, seed);
                    hits += 1;
                }
                Lookup::Miss => {}
                r => panic!("{}: {:?} (seed {:#x})", p, r, seed),
            }
        }
        for p in ["/tags/g", "/tags/aa", "/tags"] {
            assert_eq!(h.lookup(p), Lookup::Miss, "{} (seed {:#x})", p, seed);
        }
    }
    assert!(hits > 0, "seed {:#x}", seed);
}
