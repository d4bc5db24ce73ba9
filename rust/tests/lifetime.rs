//! Writers that stop, die and are replaced under a running handle; the
//! liveness fallback for kernels without robust futexes; a handle shared
//! by threads across replacements.

mod common;

use common::{assert_same_stat, Writer, CONTROL};
use fstatcache::{Handle, Lookup, Options, Source};

/// A hang guard for loops that wait for the reader to notice a death.
const LOOKUP_LIMIT: u64 = 1_000_000_000;

fn open(w: &Writer) -> Handle {
    Options::new().name(&w.name).require_writer(true).open().unwrap()
}

fn assert_hit(h: &Handle, p: &std::path::Path) {
    match h.lookup(p) {
        Lookup::Hit(st) => assert_same_stat(&st, p),
        r => panic!("lookup({}) = {:?}, want a hit", p.display(), r),
    }
}

#[test]
fn clean_stop_and_restart() {
    let mut w = Writer::started(&[]);
    let p = w.write("a.log", "a");
    let h = open(&w);
    h.watch(&p, CONTROL).unwrap();
    assert_hit(&h, &p);
    w.stop();
    // A stopped writer's answers are not served.
    assert_eq!(h.lookup(&p), Lookup::Uncached);
    assert_eq!(h.stat(&p).unwrap().source(), Source::Stat);
    assert!(!h.attached());
    w.start();
    h.sync(CONTROL).unwrap(); // waits for the re-attach
    h.stat(&p).unwrap(); // a miss asks the new writer to watch it
    h.sync(CONTROL).unwrap();
    assert_hit(&h, &p);
    drop(h);
    w.stop();
}

#[test]
fn killed_writer_then_replacement() {
    let mut w = Writer::started(&[]);
    let p = w.write("a.log", "a");
    let h = open(&w);
    h.watch(&p, CONTROL).unwrap();
    assert_hit(&h, &p);
    // SIGKILL: the kernel marks the writer's robust futex as it exits.
    w.kill(libc::SIGKILL);
    assert_eq!(h.lookup(&p), Lookup::Uncached);
    // A new writer takes over the dead one's segment (its watch list),
    // retires it, and the handle follows without reopening.
    w.start();
    h.sync(CONTROL).unwrap();
    assert_hit(&h, &p);
    w.write("a.log", "b");
    h.sync(CONTROL).unwrap();
    assert_hit(&h, &p);
    drop(h);
    w.stop();
}

#[test]
fn killed_flagged_writer_as_under_qemu() {
    // The harness's kill marks a flagged writer dead as the kernel would
    // mark a robust futex (what cross CI passes rely on, under qemu-user).
    let mut w = Writer::new(&[]);
    w.env.push(("FSTATCACHE_FAULTS".into(), "set_robust_list=ENOSYS".into()));
    w.start();
    let p = w.write("a.log", "a");
    let h = open(&w);
    h.watch(&p, CONTROL).unwrap();
    assert_hit(&h, &p);
    w.kill(libc::SIGKILL);
    assert_eq!(h.lookup(&p), Lookup::Uncached);
    drop(h);
}

#[test]
fn liveness_by_lock_without_robust_futexes() {
    let mut w = Writer::new(&[]);
    // The writer's set_robust_list fails as under qemu-user: it flags the
    // segment and holds a lock readers query instead.
    w.env.push(("FSTATCACHE_FAULTS".into(), "set_robust_list=ENOSYS".into()));
    w.start();
    let p = w.write("a.log", "a");
    let h = open(&w);
    h.watch(&p, CONTROL).unwrap();
    assert_hit(&h, &p);
    w.kill_unmarked(libc::SIGKILL); // writer_alive keeps the dead writer's tid
    let mut n = 0u64;
    while h.lookup(&p) != Lookup::Uncached {
        n += 1;
        assert!(n < LOOKUP_LIMIT, "the dead writer was never noticed");
    }
    // Once seen dead, it stays dead.
    assert_eq!(h.lookup(&p), Lookup::Uncached);
    w.env.clear();
    w.start();
    h.sync(CONTROL).unwrap();
    assert_hit(&h, &p);
    drop(h);
    w.stop();
}

#[test]
fn threads_share_a_handle_across_replacements() {
    let mut w = Writer::started(&[]);
    let p = w.write("a.log", "a");
    let h = open(&w);
    h.watch(&p, CONTROL).unwrap();
    let want = match h.lookup(&p) {
        Lookup::Hit(st) => st,
        r => panic!("{:?}", r),
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut hits = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        match h.lookup(&p) {
                            Lookup::Hit(st) => {
                                assert!(st.same_answer(&want), "{:?} != {:?}", st, want);
                                hits += 1;
                            }
                            Lookup::Uncached => {}
                            Lookup::Miss => {} // a new writer before the watch
                        }
                        let st = h.stat(&p).unwrap();
                        assert!(st.same_answer(&want), "{:?} != {:?}", st, want);
                    }
                    hits
                })
            })
            .collect();
        for _ in 0..3 {
            w.kill(libc::SIGKILL);
            w.start();
            h.sync(CONTROL).unwrap();
            h.watch(&p, CONTROL).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
    });
    assert_hit(&h, &p);
    drop(h);
    w.stop();
}
