//! No torn reads: reader threads look files up while they are replaced
//! as fast as the writer can publish them.  Each replacement is a new
//! file renamed into place whose size and mtime are the same number, so
//! every answer carries its own check: a copy that mixed two answers
//! (size of one, mtime of another) breaks it.  How many hits the racing
//! threads checked is printed (it depends on scheduling, so it is not
//! asserted); every 100 replacements the test also syncs and checks a
//! hit itself.

mod common;

use common::{Writer, CONTROL};
use fstatcache::{Lookup, Options};
use std::fs;
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const FILES: usize = 4;
const REPLACEMENTS: u64 = 3000;

/// Make `path` anew, `n` bytes (sparse) with mtime `n` s, atomically.
fn replace(dir: &std::path::Path, path: &std::path::Path, n: u64) {
    let tmp = dir.join(format!("tmp.{}", n));
    let f = fs::File::create(&tmp).unwrap();
    f.set_len(n).unwrap();
    let t = libc::timespec { tv_sec: n as libc::time_t, tv_nsec: 0 };
    // SAFETY: the descriptor is open; the two timespecs are live.
    assert_eq!(unsafe { libc::futimens(f.as_raw_fd(), [t, t].as_ptr()) }, 0);
    drop(f);
    fs::rename(&tmp, path).unwrap();
}

#[test]
fn answers_are_never_torn() {
    // --settle-ms 0: the writer re-stats at once, so entries are rewritten
    // while they are read (not merely marked changed).
    let mut w = Writer::started(&["--settle-ms", "0"]);
    let paths: Vec<_> = (0..FILES).map(|i| w.path(&format!("f{}", i))).collect();
    for p in &paths {
        replace(&w.dir, p, 1);
    }
    let h = Options::new().name(&w.name).require_writer(true).open().unwrap();
    for p in &paths {
        h.watch(p, CONTROL).unwrap();
    }
    let done = AtomicBool::new(false);
    let hits = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..2 {
            let (h, paths, done, hits) = (&h, &paths, &done, &hits);
            s.spawn(move || {
                let mut i = t;
                let mut mine = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let p = &paths[i % FILES];
                    i += 1;
                    if let Lookup::Hit(st) = h.lookup(p) {
                        assert!(st.exists(), "{}", p.display());
                        assert!(
                            st.size() == st.mtime() as u64 && st.mtime_nsec() == 0 && st.is_file(),
                            "torn answer for {}: {:?}",
                            p.display(),
                            st
                        );
                        mine += 1;
                    }
                }
                hits.fetch_add(mine, Ordering::Relaxed);
            });
        }
        for n in 2..REPLACEMENTS {
            let p = &paths[n as usize % FILES];
            replace(&w.dir, p, n * 4099);
            if n % 100 == 0 {
                h.sync(CONTROL).unwrap();
                match h.lookup(p) {
                    Lookup::Hit(st) => assert_eq!((st.size(), st.mtime()), (n * 4099, (n * 4099) as i64)),
                    r => panic!("{}: {:?} after sync", p.display(), r),
                }
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    h.sync(CONTROL).unwrap();
    for p in &paths {
        match h.lookup(p) {
            Lookup::Hit(st) => assert_eq!(st.size(), st.mtime() as u64),
            r => panic!("{}: {:?} after sync", p.display(), r),
        }
    }
    let n = hits.load(Ordering::Relaxed);
    eprintln!("torn: {} hits checked during {} replacements", n, REPLACEMENTS);
    drop(h);
    w.stop();
}
