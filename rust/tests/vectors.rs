//! The Rust reader against the sample segment of tests/vectors/ (made by
//! tests/vectors/gen_sample.c from the format's rules, not by a reader):
//! every answer of sample.answers, which tests/test_vectors.c checks the
//! C reader against, and the Go reader's go/sample_test.go the Go one.
//! The sample is little-endian (gen_sample.c says why): on a big-endian
//! machine this test says so and checks nothing.

mod common;

use fstatcache::{Cursor, Error, Handle, Lookup, Options, Poll, Stat};
use std::fs;
use std::io::Write;
use std::ops::ControlFlow;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// The sample's objects under a fresh name in /dev/shm (ours, 0600),
/// removed on drop.
struct Sample {
    name: String,
}

impl Sample {
    fn new() -> Sample {
        let s = Sample { name: common::unique_name() };
        for (file, suffix) in [("sample.table", ""), ("sample.feed", ".feed")] {
            let data = fs::read(vectors_dir().join(file)).unwrap_or_else(|e| panic!("{}: {}", file, e));
            let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(s.shm(suffix)).unwrap();
            f.write_all(&data).unwrap();
        }
        s
    }

    fn shm(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("/dev/shm/fstatcache.{}{}", self.name, suffix))
    }

    fn open(&self) -> Result<Handle, Error> {
        Options::new().name(&self.name).require_writer(true).no_requests(true).open()
    }

    /// Store `v` at `off` of the table object.
    fn patch32(&self, off: u64, v: u32) {
        let f = fs::OpenOptions::new().write(true).open(self.shm("")).unwrap();
        f.write_all_at(&v.to_ne_bytes(), off).unwrap();
    }
}

impl Drop for Sample {
    fn drop(&mut self) {
        for s in ["", ".use", ".feed"] {
            let _ = fs::remove_file(self.shm(s));
        }
    }
}

/// An answer in the words of sample.answers.
fn describe(st: &Stat) -> String {
    if !st.exists() {
        return " exists=0".into();
    }
    let mut d = format!(
        " exists=1 mode={} uid={} gid={} dev={} ino={} nlink={} rdev={} size={} blocks={} mtime={}.{:09} ctime={}.{:09}",
        st.mode(),
        st.uid(),
        st.gid(),
        st.dev(),
        st.ino(),
        st.nlink(),
        st.rdev(),
        st.size() as i64,
        st.blocks() as i64,
        st.mtime(),
        st.mtime_nsec(),
        st.ctime(),
        st.ctime_nsec()
    );
    if let Some(b) = st.blksize() {
        d += &format!(" blksize={}", b);
    }
    if let Some((s, ns)) = st.atime() {
        d += &format!(" atime={}.{:09}", s, ns);
    }
    d
}

fn result(r: &Lookup) -> String {
    match r {
        Lookup::Hit(st) => format!("hit{}", describe(st)),
        Lookup::Miss => "miss".into(),
        Lookup::Uncached => "uncached".into(),
    }
}

fn little_endian() -> bool {
    if cfg!(target_endian = "big") {
        eprintln!("the sample vectors are little-endian: nothing checked");
        return false;
    }
    true
}

#[test]
fn the_sample_answers() {
    if !little_endian() {
        return;
    }
    let s = Sample::new();
    let h = s.open().unwrap();
    let answers = fs::read_to_string(vectors_dir().join("sample.answers")).unwrap();
    let mut got: Vec<String> = Vec::new(); // changes of the last walk not yet compared
    let (mut lookups, mut walks, mut changes) = (0, 0, 0);
    for line in answers.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty() || w[0].starts_with('#') || w[0] == "header" {
            continue;
        }
        match w[0] {
            "lookup" => {
                let r = h.lookup(w[1]);
                assert_eq!(format!("lookup {} {}", w[1], result(&r)), line);
                assert_eq!(h.lookup_many(&[w[1]]), vec![r], "{}: lookup_many", w[1]);
                lookups += 1;
            }
            "walk" => {
                assert!(got.is_empty(), "changes not in the answers: {:?}", got);
                let mut cur: Cursor = w[1].parse().unwrap();
                let r = h.changes(&mut cur, |c| {
                    let (status, fields) = c.answer.map_or(("uncached", String::new()), |st| ("hit", describe(&st)));
                    got.push(format!("change {} {} {}{}", c.kind.name(), status, c.path.display(), fields));
                    ControlFlow::Continue(())
                });
                let r = match r {
                    Ok(Poll::UpToDate) => "ok".to_string(),
                    Ok(Poll::Resync) => "resync".to_string(),
                    Err(e) => format!("error {}", e),
                };
                let want = format!("{} {} {}", w[2], w[3], w[4]);
                assert_eq!(format!("{} {} {}", r, cur, got.len()), want, "walk from {}", w[1]);
                walks += 1;
            }
            "change" => {
                assert!(!got.is_empty(), "missing change: {}", line);
                assert_eq!(got.remove(0), line);
                changes += 1;
            }
            _ => panic!("cannot parse {:?}", line),
        }
    }
    assert!(got.is_empty(), "changes not in the answers: {:?}", got);
    assert!(lookups >= 20 && walks >= 9 && changes >= 19, "too few answers checked: {} lookups, {} walks, {} changes", lookups, walks, changes);
}

/// Every header the C reader refuses, refused alike (contract.h,
/// reader/attach.h), on the sample; trust.rs has the rest.
#[test]
fn the_sample_refused() {
    if !little_endian() {
        return;
    }
    let cases: [(&str, u64, u32, Option<Error>); 12] = [
        ("the major before", 8, 1, Some(Error::VersionMismatch)),
        ("a later major", 8, 3, Some(Error::VersionMismatch)),
        ("a newer minor", 12, 9, None),
        ("status INIT", 64, 0, Some(Error::Again)),
        ("status RETIRED", 64, 3, Some(Error::NoSegment)),
        ("a dead writer", 68, 1 | 0x4000_0000, Some(Error::NoSegment)),
        ("slots not a power of two", 24, 17, Some(Error::Corrupt)),
        ("a probe limit over the slots", 28, 17, Some(Error::Corrupt)),
        ("path_max not 8-aligned", 32, 60, Some(Error::Corrupt)),
        // 96 + 64: the head and the path area, no room for the cold tail
        ("entry_size without the cold tail", 20, 160, Some(Error::Corrupt)),
        ("a path area over the cold tail", 32, 256 - 96 - 16 + 8, Some(Error::Corrupt)),
        ("another header size", 16, 8192, Some(Error::Corrupt)),
    ];
    for (what, off, v, want) in cases {
        let s = Sample::new();
        s.patch32(off, v);
        assert_eq!(s.open().err(), want, "{}", what);
    }
    let s = Sample::new();
    fs::OpenOptions::new().write(true).open(s.shm("")).unwrap().set_len(4096 + 256).unwrap();
    assert_eq!(s.open().err(), Some(Error::Corrupt), "a truncated object");
    // The smallest entry: head, path area, cold tail (96 + 64 + 16),
    // with a segment and object of that size: 8 bytes less is refused.
    for (entry_size, want) in [(176, None), (168, Some(Error::Corrupt))] {
        let s = Sample::new();
        let size = 4096 + 16 * entry_size;
        s.patch32(20, entry_size);
        s.patch32(40, size); // segment_size, little-endian: its low half
        fs::OpenOptions::new().write(true).open(s.shm("")).unwrap().set_len(u64::from(size)).unwrap();
        assert_eq!(s.open().err(), want, "entry_size {}", entry_size);
    }
}
