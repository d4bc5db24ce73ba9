//! bench: what a Rust caller gains from fstatcache, measured side by side
//! with `std::fs::metadata` in one run (docs/BENCHMARKS.md, "Rust").
//!
//!     cd rust && FSTATCACHED=../build/fstatcached \
//!         cargo run --release --offline --example bench -- --files 10000 --rounds 25
//!
//! Starts its own fstatcached (unique name, private temp dir, readiness
//! on --ready-fd), creates N files, has them all watched (a watch request
//! each, then the sync barrier), and times, on the same files in the same
//! run:
//!
//!   lookup       Handle::lookup(p) of every file   vs  metadata(p) of every file
//!   lookup_many  Handle::lookup_many(all), per path
//!   stat         Handle::stat(p) (the cache answers)
//!   feed poll    Handle::changes() since the agent's cursor, after K of
//!                the N files were appended to (and synced)  vs  a poll
//!                by metadata() of all N files, each agent keeping its
//!                own view of the sizes; K = 10 and K = 0
//!
//! Each measurement is one pass (or one poll); the methods compared
//! alternate in a new order every round, and the median over the rounds
//! is printed, with the ratio to the metadata() baseline (above 1: faster
//! than stat).  Every timed lookup must be a hit with the answer
//! metadata() gives, and every poll must find exactly the K changed files
//! with their new sizes: the run fails otherwise.  Nothing is asserted
//! about times.

use fstatcache::{Cursor, Handle, Lookup, Options, Poll, Stat};
use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::os::unix::io::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONTROL: Option<Duration> = Some(Duration::from_secs(120));

/// Fail the run: a panic, so that unwinding stops the writer (Drop)
/// and leaves nothing behind.
fn die(msg: String) -> ! {
    panic!("bench: {}", msg)
}

/// The writer, started on a private name and directory; stopped on drop.
struct Writer {
    name: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Writer {
    fn start(capacity: usize) -> Writer {
        let binary = std::env::var("FSTATCACHED").unwrap_or_else(|_| "fstatcached".into());
        let name = format!("rsbench{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("fsc-rsbench.{}", std::process::id()));
        fs::create_dir(&dir).unwrap_or_else(|e| die(format!("{}: {}", dir.display(), e)));
        let dir = fs::canonicalize(&dir).unwrap();
        let mut w = Writer { name, dir, child: None };
        let mut fds = [0; 2];
        // SAFETY: fds is live; pipe2 fills it.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            die("pipe2 failed".into());
        }
        let (r, wfd) = (fds[0], fds[1]);
        let mut cmd = Command::new(&binary);
        cmd.args(["--name", &w.name, "--socket"])
            .arg(w.dir.join("ctl.sock"))
            .args(["--capacity", &capacity.to_string(), "--ready-fd", "3", "-q"])
            .stdin(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let ok = if wfd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(wfd, 3) };
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if ok < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn();
        // SAFETY: wfd is ours; the child has its own copy.
        unsafe { libc::close(wfd) };
        w.child = Some(child.unwrap_or_else(|e| die(format!("cannot start {}: {}", binary, e))));
        // SAFETY: r is ours alone from here on.
        let mut pipe = unsafe { fs::File::from_raw_fd(r) };
        let mut got = [0u8; 6];
        if pipe.read_exact(&mut got).is_err() || &got != b"READY\n" {
            die(format!("{} did not start", binary));
        }
        w
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) of our own child, not yet reaped.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            let st = c.wait();
            if !st.map_or(false, |s| s.success()) {
                eprintln!("bench: the writer did not exit cleanly");
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A small deterministic shuffle (xorshift), for the order of methods.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn metadata(p: &PathBuf) -> Stat {
    Stat::from(&fs::metadata(p).unwrap_or_else(|e| die(format!("{}: {}", p.display(), e))))
}

fn check_hit(r: Lookup, p: &Path) -> Stat {
    match r {
        Lookup::Hit(st) => st,
        r => die(format!("{}: {:?}, want a hit (is the table large enough?)", p.display(), r)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum M {
    Lookup,
    Many,
    Stat,
    Metadata,
}

fn main() {
    let mut files = 10_000usize;
    let mut rounds = 15usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| die(format!("{} needs a number", a)));
        match a.as_str() {
            "--files" => files = num(),
            "--rounds" => rounds = num(),
            _ => die(format!("usage: bench [--files N] [--rounds N] (unknown {})", a)),
        }
    }
    if files < 10 || rounds < 1 {
        die("--files must be at least 10, --rounds at least 1".into());
    }
    let w = Writer::start(files);
    let h = Options::new().name(&w.name).require_writer(true).open().unwrap_or_else(|e| die(format!("open: {}", e)));
    let paths: Vec<PathBuf> = (0..files).map(|i| w.dir.join(format!("f{:06}.log", i))).collect();
    for p in &paths {
        fs::write(p, b"x").unwrap();
        h.request_watch(p).unwrap_or_else(|e| die(format!("watch {}: {}", p.display(), e)));
    }
    h.sync(CONTROL).unwrap_or_else(|e| die(format!("sync: {}", e)));
    for p in &paths {
        let st = check_hit(h.lookup(p), p);
        if !st.same_answer(&metadata(p)) {
            die(format!("{}: the cache's answer differs from metadata()", p.display()));
        }
    }

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut times: HashMap<&'static str, Vec<f64>> = HashMap::new();
    let n = files as f64;
    let mut methods = [M::Lookup, M::Many, M::Stat, M::Metadata];
    for _ in 0..rounds {
        rng.shuffle(&mut methods);
        for m in methods {
            let t = Instant::now();
            match m {
                M::Lookup => paths.iter().for_each(|p| {
                    check_hit(h.lookup(p), p);
                }),
                M::Many => {
                    for (r, p) in h.lookup_many(&paths).into_iter().zip(&paths) {
                        check_hit(r, p);
                    }
                }
                M::Stat => paths.iter().for_each(|p| {
                    if h.stat(p).unwrap().source() != fstatcache::Source::Cache {
                        die(format!("{}: not answered by the cache", p.display()));
                    }
                }),
                M::Metadata => paths.iter().for_each(|p| {
                    fs::metadata(p).unwrap();
                }),
            }
            let ns = t.elapsed().as_nanos() as f64 / n;
            let key = match m {
                M::Lookup => "lookup",
                M::Many => "lookup_many",
                M::Stat => "stat",
                M::Metadata => "metadata",
            };
            times.entry(key).or_default().push(ns);
        }
    }
    let base = median(times.get_mut("metadata").unwrap());
    println!("rust bench: {} files, {} rounds, all cached (ns per path, median)", files, rounds);
    println!("| call | ns | baseline | ns | ratio |");
    println!("|---|---|---|---|---|");
    for (key, call) in [("lookup", "`Handle::lookup`"), ("lookup_many", "`Handle::lookup_many` (per path)"), ("stat", "`Handle::stat`")] {
        let t = median(times.get_mut(key).unwrap());
        println!("| {} | {:.0} | `std::fs::metadata` | {:.0} | {:.1}x |", call, t, base, base / t);
    }

    feed_polls(&h, &paths, rounds, &mut rng);
    drop(h);
    drop(w);
}

/// The poll rows: an agent following every file by the change feed
/// against one that calls metadata() on each, both keeping their own
/// view of the sizes, after K appends and a sync.
fn feed_polls(h: &Handle, paths: &[PathBuf], rounds: usize, rng: &mut Rng) {
    let mut feed_view: HashMap<PathBuf, u64> = paths.iter().map(|p| (p.clone(), 1)).collect();
    let mut stat_view = feed_view.clone();
    let mut cur = Cursor::default();
    if h.changes(&mut cur, |_| ControlFlow::Continue(())) != Ok(Poll::Resync) {
        die("a new cursor did not ask for a full pass".into());
    }
    println!();
    println!("| poll ({} files) | K changed | feed us | metadata() us | ratio |", paths.len());
    println!("|---|---|---|---|---|");
    for k in [10usize, 0] {
        let (mut tf, mut ts) = (Vec::new(), Vec::new());
        // An untimed round first: the feed's ring is then mapped.
        for round in 0..=rounds {
            let mut changed: Vec<&PathBuf> = Vec::new();
            for _ in 0..k {
                let p = &paths[(rng.next() % paths.len() as u64) as usize];
                if !changed.contains(&p) {
                    changed.push(p);
                }
            }
            for p in &changed {
                fs::OpenOptions::new().append(true).open(p).unwrap().write_all(b"x").unwrap();
            }
            h.sync(CONTROL).unwrap();
            let mut order = [true, false];
            rng.shuffle(&mut order);
            for by_feed in order {
                let t = Instant::now();
                let found = if by_feed { poll_feed(h, &mut cur, &mut feed_view) } else { poll_stat(paths, &mut stat_view) };
                let us = t.elapsed().as_nanos() as f64 / 1000.0;
                let mut want: Vec<&PathBuf> = changed.clone();
                want.sort();
                let mut got: Vec<&PathBuf> = found.iter().collect();
                got.sort();
                got.dedup();
                if got != want {
                    die(format!("{} poll found {} changed files, want {}", if by_feed { "feed" } else { "metadata" }, got.len(), want.len()));
                }
                if round > 0 {
                    if by_feed { tf.push(us) } else { ts.push(us) }
                }
            }
            if feed_view != stat_view {
                die("the two agents' views differ".into());
            }
        }
        let (f, s) = (median(&mut tf), median(&mut ts));
        println!("| `Handle::changes` vs `metadata` of all | {} | {:.1} | {:.1} | {:.0}x |", k, f, s, s / f);
    }
}

/// One poll by the feed; the files whose size changed.
fn poll_feed(h: &Handle, cur: &mut Cursor, view: &mut HashMap<PathBuf, u64>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut restat = Vec::new();
    let r = h
        .changes(cur, |c| {
            if let Some(size) = view.get_mut(c.path) {
                match c.answer {
                    Some(st) if st.len() != *size => {
                        *size = st.len();
                        found.push(c.path.to_path_buf());
                    }
                    Some(_) => {}
                    None => restat.push(c.path.to_path_buf()), // marked: stat it after
                }
            }
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| die(format!("changes: {}", e)));
    if r == Poll::Resync {
        die("the feed asked for a full pass during the bench".into());
    }
    for p in restat {
        let len = h.stat(&p).unwrap().len();
        let size = view.get_mut(&p).unwrap();
        if len != *size {
            *size = len;
            found.push(p);
        }
    }
    found
}

/// One poll by metadata() of every file; the files whose size changed.
fn poll_stat(paths: &[PathBuf], view: &mut HashMap<PathBuf, u64>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for p in paths {
        let len = metadata(p).len();
        let size = view.get_mut(p).unwrap();
        if len != *size {
            *size = len;
            found.push(p.clone());
        }
    }
    found
}
