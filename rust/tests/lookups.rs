//! Lookups, stat() through the cache, watch requests and sync against a
//! real writer.

mod common;

use common::{assert_same_stat, Writer, CONTROL};
use fstatcache::{Error, Handle, Lookup, Options, Source};
use std::fs;

fn open(w: &Writer) -> Handle {
    Options::new().name(&w.name).require_writer(true).open().expect("open a handle")
}

fn hit(h: &Handle, p: &std::path::Path) -> fstatcache::Stat {
    match h.lookup(p) {
        Lookup::Hit(st) => {
            assert_eq!(st.source(), Source::Cache);
            st
        }
        r => panic!("lookup({}) = {:?}, want a hit", p.display(), r),
    }
}

#[test]
fn miss_then_stat_then_hit() {
    let mut w = Writer::started(&[]);
    let p = w.write("a.log", "hello\n");
    let h = open(&w);
    assert!(h.attached());
    assert_eq!(h.attach_error(), None);
    assert_eq!(h.lookup(&p), Lookup::Miss);

    // A miss is answered by stat() and asks the writer to watch the path.
    let st = h.stat(&p).unwrap();
    assert_eq!(st.source(), Source::Stat);
    assert_same_stat(&st, &p);
    h.sync(CONTROL).unwrap();
    assert_same_stat(&hit(&h, &p), &p);
    assert_eq!(h.stat(&p).unwrap().source(), Source::Cache);

    // A change is visible after the barrier.
    w.write("a.log", "more\n");
    h.sync(CONTROL).unwrap();
    let st = hit(&h, &p);
    assert_eq!(st.len(), 11);
    assert!(st.is_file() && !st.is_dir());
    assert_same_stat(&st, &p);
    let (hits, misses, _) = h.lookup_counts();
    assert!(hits >= 3 && misses >= 2, "counts {:?}", h.lookup_counts());
    drop(h);
    w.stop();
}

/// Set the access and modification times of `p` (utimensat(2)).
fn set_times(p: &std::path::Path, sec: i64, nsec: i64) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let t = libc::timespec { tv_sec: sec as libc::time_t, tv_nsec: nsec as libc::c_long };
    // SAFETY: c is a live NUL-terminated path, the two timespecs are live.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [t, t].as_ptr(), 0) };
    assert_eq!(r, 0, "utimensat {}: {}", p.display(), std::io::Error::last_os_error());
}

/// The entry keeps times as signed nanoseconds since the epoch (format
/// 2.0): a file dated before 1970, with nanoseconds, reads as stat(2)
/// gives it (seconds rounded down, nanoseconds in 0..10^9); a file dated
/// after 2262 does not fit, and is answered by stat() instead, and its
/// record in the change feed reads (no answer: stat() it).
#[test]
fn times_before_1970_and_after_2262() {
    use std::os::unix::fs::MetadataExt;
    let mut w = Writer::started(&[]);
    let old = w.write("old.log", "o");
    let late = w.write("late.log", "l");
    set_times(&old, -315_619_200, 500_000_000); // 1960-01-01 00:00:00.5
    set_times(&late, 10_413_792_000, 0); // 2300-01-01
    let h = open(&w);
    let mut cur = fstatcache::Cursor::default();
    assert_eq!(h.changes(&mut cur, |_| std::ops::ControlFlow::Continue(())), Ok(fstatcache::Poll::Resync));
    h.watch(&old, CONTROL).unwrap();
    h.watch(&late, CONTROL).unwrap();
    let mut seen = Vec::new();
    let r = h.changes(&mut cur, |c| {
        seen.push((c.path.to_path_buf(), c.answer));
        std::ops::ControlFlow::Continue(())
    });
    assert_eq!(r, Ok(fstatcache::Poll::UpToDate), "{:?}", seen);
    let answer_of = |p: &std::path::Path| seen.iter().rev().find(|(q, _)| q == p).map(|(_, a)| *a);
    let st = hit(&h, &old);
    assert_same_stat(&st, &old);
    let md = fs::metadata(&old).unwrap();
    assert_eq!((st.mtime(), st.mtime_nsec()), (md.mtime(), md.mtime_nsec()));
    assert_eq!(st.atime(), Some((md.atime(), md.atime_nsec() as u32)));
    if md.mtime() < 0 {
        assert_eq!((st.mtime(), st.mtime_nsec()), (-315_619_200, 500_000_000));
    } else {
        eprintln!("this filesystem keeps no time before 1970: only equality checked");
    }
    // A filesystem that cannot store 2300 clamps it; a date that still
    // lies past 2262 is not cached.
    assert!(matches!(answer_of(&old), Some(Some(_))), "{:?}", seen);
    if fs::metadata(&late).unwrap().mtime() > 9_223_372_035 {
        assert_eq!(h.lookup(&late), Lookup::Uncached);
        assert_eq!(answer_of(&late), Some(None), "{:?}", seen);
        let st = h.stat(&late).unwrap();
        assert_eq!(st.source(), Source::Stat);
        assert_same_stat(&st, &late);
    } else {
        eprintln!("this filesystem keeps no time after 2262: only equality checked");
        assert_same_stat(&hit(&h, &late), &late);
    }
    drop(h);
    w.stop();
}

#[test]
fn cached_absence_and_creation() {
    let mut w = Writer::started(&[]);
    let p = w.path("later.log");
    let h = open(&w);
    h.watch(&p, CONTROL).unwrap();
    let st = hit(&h, &p);
    assert!(!st.exists());
    assert_eq!(st.error(), libc::ENOENT);
    assert_eq!((st.len(), st.ino(), st.mode()), (0, 0, 0));
    assert_eq!(st.modified(), None);

    w.write("later.log", "x");
    w.sync(); // the tool's barrier covers this process's change too
    assert_same_stat(&hit(&h, &p), &p);

    fs::remove_file(&p).unwrap();
    h.sync(CONTROL).unwrap();
    assert!(!hit(&h, &p).exists());
    // A path under a file: ENOTDIR from stat(), an answer too.
    let q = w.write("f", "x").join("child");
    let st = h.stat(&q).unwrap();
    assert!(!st.exists());
    assert_eq!(st.error(), libc::ENOTDIR);

    h.unwatch(&p, CONTROL).unwrap();
    assert_eq!(h.lookup(&p), Lookup::Miss);
    drop(h);
    w.stop();
}

#[test]
fn uncacheable_spellings() {
    let mut w = Writer::started(&[]);
    let p = w.write("b.log", "b");
    let h = open(&w);
    h.watch(&p, CONTROL).unwrap();
    hit(&h, &p);
    let dir = w.dir.to_str().unwrap().to_owned();
    let long = format!("{}/{}", dir, "x".repeat(5000));
    for other in [
        "b.log".to_owned(),
        format!("{}//b.log", dir),
        format!("{}/./b.log", dir),
        format!("{}/../{}/b.log", dir, w.dir.file_name().unwrap().to_str().unwrap()),
        format!("{}/b.log/", dir),
        long.clone(),
        "/".to_owned(),
        String::new(),
    ] {
        assert_eq!(h.lookup(&other), Lookup::Uncached, "{:?}", other);
    }
    // Other spellings are answered by stat(), never by a request.
    let st = h.stat(format!("{}/./b.log", dir)).unwrap();
    assert_eq!(st.source(), Source::Stat);
    assert_same_stat(&st, &p);
    assert_eq!(h.request_watch(format!("{}//b.log", dir)), Err(Error::InvalidArgument));
    assert_eq!(h.request_watch("relative"), Err(Error::InvalidArgument));
    assert_eq!(h.request_watch(&long), Err(Error::InvalidArgument));
    assert_eq!(h.requests_dropped(), 0);
    drop(h);
    w.stop();
}

#[test]
fn batched_lookup_equals_single() {
    let mut w = Writer::started(&[]);
    let h = open(&w);
    let mut paths = Vec::new();
    for i in 0..40 {
        let p = w.path(&format!("f{}", i));
        if i % 3 != 0 {
            fs::write(&p, vec![b'x'; i]).unwrap();
        }
        if i % 4 != 0 {
            h.request_watch(&p).unwrap();
        }
        paths.push(p.into_os_string().into_string().unwrap());
    }
    paths.push("not/absolute".into());
    paths.push(format!("{}//f1", w.dir.display()));
    h.sync(CONTROL).unwrap();
    let many = h.lookup_many(&paths);
    assert_eq!(many.len(), paths.len());
    let (mut hits, mut misses) = (0, 0);
    for (p, r) in paths.iter().zip(&many) {
        assert_eq!(*r, h.lookup(p), "{}", p);
        match r {
            Lookup::Hit(_) => hits += 1,
            Lookup::Miss => misses += 1,
            Lookup::Uncached => {}
        }
    }
    assert_eq!((hits, misses), (30, 10));
    assert!(h.lookup_many::<&str>(&[]).is_empty());
    drop(h);
    w.stop();
}

#[test]
fn without_a_writer() {
    let mut w = Writer::new(&[]);
    let p = w.write("c.log", "c");
    let h = Handle::open(Some(&w.name)).unwrap();
    assert!(!h.attached());
    assert_eq!(h.attach_error(), Some(Error::NoSegment));
    assert_eq!(h.lookup(&p), Lookup::Uncached);
    let st = h.stat(&p).unwrap();
    assert_eq!(st.source(), Source::Stat);
    assert_same_stat(&st, &p);
    assert_eq!(h.request_watch(&p), Err(Error::NotConnected));
    assert_eq!(h.sync(CONTROL), Err(Error::NotConnected));
    let e = Options::new().name(&w.name).require_writer(true).open().err();
    assert_eq!(e, Some(Error::NoSegment));
    assert_eq!(Handle::open(Some("bad.name")).err(), Some(Error::InvalidArgument));
    assert_eq!(Handle::open(Some("")).err(), Some(Error::InvalidArgument));

    // The handle attaches once a writer serves the name.
    w.start();
    h.sync(CONTROL).unwrap();
    assert!(h.attached());
    assert_eq!(h.lookup(&p), Lookup::Miss);
    drop(h);
    w.stop();
}

#[test]
fn writer_refusal_is_an_error() {
    let mut w = Writer::started(&[]);
    let h = open(&w);
    match h.watch("/not//canonical", CONTROL) {
        Err(Error::Refused { errno, .. }) => assert_ne!(errno, 0),
        r => panic!("watch of a non-canonical path: {:?}", r),
    }
    drop(h);
    w.stop();
}

#[test]
fn lookup_counts_reach_the_segment() {
    let mut w = Writer::started(&[]);
    let p = w.write("a.log", "a");
    let h = open(&w);
    h.watch(&p, CONTROL).unwrap();
    for _ in 0..1500 {
        hit(&h, &p);
    }
    for _ in 0..3 {
        assert_eq!(h.lookup(w.path("none")), Lookup::Miss);
    }
    assert_eq!(h.lookup("relative"), Lookup::Uncached);
    assert_eq!(h.lookup_counts(), (1500, 3, 1));
    // Published every 1024 lookups of a kind and when the handle goes.
    drop(h);
    let out = String::from_utf8(w.tool(&["inspect"]).stdout).unwrap();
    let get = |key: &str| {
        out.lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some(key)).then(|| it.next().unwrap().parse::<u64>().unwrap())
            })
            .unwrap_or_else(|| panic!("no {} in {}", key, out))
    };
    assert_eq!((get("reader_hits"), get("reader_misses"), get("reader_uncached")), (1500, 3, 1));
    w.stop();
}
