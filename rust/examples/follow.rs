//! follow: a small agent that follows files the way a log shipper polls
//! them, from the cache: one full pass (stat() through the cache, which
//! asks the writer to watch what it misses), then only what the change
//! feed says changed, sleeping on the feed in between.  It prints one line
//! per file whose size, inode or existence changed.
//!
//!     cargo run --example follow -- [--name NAME] [--polls N] PATH...
//!
//! A resync (a new cursor, a restarted writer, a feed that overtook us)
//! is answered with another full pass, so no change is ever missed.

use fstatcache::{Cursor, Handle, Poll, Stat};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

/// What the agent remembers of a file: enough to see growth, truncation
/// and rotation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Seen {
    exists: bool,
    dev: u64,
    ino: u64,
    size: u64,
}

impl From<&Stat> for Seen {
    fn from(st: &Stat) -> Seen {
        Seen { exists: st.exists(), dev: st.dev(), ino: st.ino(), size: st.len() }
    }
}

struct Agent {
    h: Handle,
    files: HashMap<PathBuf, Option<Seen>>,
}

impl Agent {
    fn report(&mut self, path: &PathBuf, now: Seen) {
        let before = self.files.get_mut(path).expect("a followed file");
        let what = match *before {
            None => "found",
            Some(b) if b == now => return,
            Some(b) if !now.exists => if b.exists { "gone" } else { return },
            Some(b) if !b.exists => "appeared",
            Some(b) if (b.dev, b.ino) != (now.dev, now.ino) => "rotated",
            Some(b) if now.size < b.size => "truncated",
            Some(_) => "grew",
        };
        *before = Some(now);
        println!("{} {} size={} ino={}", what, path.display(), now.size, now.ino);
    }

    /// Look every followed file up (the cache answers, or stat()).
    fn full_pass(&mut self) {
        let paths: Vec<PathBuf> = self.files.keys().cloned().collect();
        for p in paths {
            match self.h.stat(&p) {
                Ok(st) => self.report(&p, Seen::from(&st)),
                Err(e) => eprintln!("follow: {}: {}", p.display(), e),
            }
        }
    }

    /// Apply the feed's changes since `cur`; a resync is a full pass.
    fn poll(&mut self, cur: &mut Cursor) {
        let mut changed = Vec::new();
        let r = self.h.changes(cur, |c| {
            if self.files.contains_key(c.path) {
                changed.push((c.path.to_path_buf(), c.answer));
            }
            ControlFlow::Continue(())
        });
        match r {
            Ok(Poll::UpToDate) => {}
            Ok(Poll::Resync) => return self.full_pass(),
            Err(e) => {
                // No feed (an older writer) or a bad record: poll by
                // lookups meanwhile, and start over.
                eprintln!("follow: change feed: {}", e);
                *cur = Cursor::default();
                return self.full_pass();
            }
        }
        for (p, answer) in changed {
            // No answer (changed and not re-stat'ed yet, evicted...):
            // stat() it through the cache.
            let st = match answer {
                Some(st) => Ok(st),
                None => self.h.stat(&p),
            };
            match st {
                Ok(st) => self.report(&p, Seen::from(&st)),
                Err(e) => eprintln!("follow: {}: {}", p.display(), e),
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut name, mut polls, mut paths) = (None, None, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--name" => name = args.next(),
            "--polls" => polls = args.next().and_then(|n| n.parse::<u64>().ok()),
            "-h" | "--help" => {
                println!("usage: follow [--name NAME] [--polls N] PATH...");
                return;
            }
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        eprintln!("usage: follow [--name NAME] [--polls N] PATH...");
        std::process::exit(2);
    }
    let h = match Handle::open(name.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("follow: {}", e);
            std::process::exit(1);
        }
    };
    if let Some(e) = h.attach_error() {
        eprintln!("follow: not attached ({}): answering by stat() until a writer serves", e);
    }
    let files = paths.into_iter().map(|p| (p, None)).collect();
    let mut agent = Agent { h, files };
    let mut cur = Cursor::default();
    let mut n = 0;
    while polls.map_or(true, |p| n < p) {
        agent.poll(&mut cur);
        agent.h.changes_wait(&cur, Duration::from_secs(1)).ok();
        n += 1;
    }
}
