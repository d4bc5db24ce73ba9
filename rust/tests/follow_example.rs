//! The example agent (examples/follow.rs) as a user runs it, against a
//! real writer: it must report each change, in order.  Each step waits
//! for the agent's line about the previous one (a hang guard only: the
//! test fails on a wrong line, never on time).

mod common;

use common::Writer;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The example's binary: cargo builds examples before running tests, in
/// target/<profile>/examples, next to this test's deps/ directory.
fn follow_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>");
    let p = dir.join("examples").join("follow");
    assert!(p.exists(), "{} not built (cargo test builds the examples)", p.display());
    p
}

/// The agent, killed and reaped however the test ends.
struct Agent(std::process::Child);
impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn follow_reports_every_change() {
    let mut w = Writer::started(&[]);
    let a = w.write("a.log", "one\n");
    let b = w.path("b.log");
    let mut child = Command::new(follow_binary())
        .args(["--name", &w.name])
        .arg(&a)
        .arg(&b)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let agent = Agent(child);
    let mut next = || lines.next().expect("the agent's output ended").unwrap();
    let mut first = vec![next(), next()];
    first.sort();
    assert!(first[0].starts_with(&format!("found {} size=4 ", a.display())), "{:?}", first);
    assert!(first[1].starts_with(&format!("found {} size=0 ino=0", b.display())), "{:?}", first);

    w.write("a.log", "two\n");
    w.sync();
    assert!(next().starts_with(&format!("grew {} size=8 ", a.display())));
    // Renamed into place, so that it appears whole (one answer).
    let tmp = w.write("b.tmp", "new\n");
    fs::rename(&tmp, &b).unwrap();
    w.sync();
    let l = next();
    assert!(l.starts_with(&format!("appeared {} size=4 ", b.display())), "{}", l);
    fs::OpenOptions::new().write(true).open(&a).unwrap().set_len(0).unwrap();
    w.sync();
    assert!(next().starts_with(&format!("truncated {} size=0 ", a.display())));
    fs::remove_file(&b).unwrap();
    w.sync();
    assert!(next().starts_with(&format!("gone {} ", b.display())));

    drop(agent);
    w.stop();
}
