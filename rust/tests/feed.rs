//! The change feed against a real writer: cursors, kinds, resyncs.

mod common;

use common::{assert_same_stat, Writer, CONTROL, GUARD};
use fstatcache::{ChangeKind, Cursor, Handle, Options, Poll};
use std::fs;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// (kind, path, answer) of each change since `cur`.
fn drain(h: &Handle, cur: &mut Cursor) -> Vec<(ChangeKind, PathBuf, Option<fstatcache::Stat>)> {
    let mut got = Vec::new();
    let r = h
        .changes(cur, |c| {
            got.push((c.kind, c.path.to_path_buf(), c.answer));
            ControlFlow::Continue(())
        })
        .expect("changes");
    assert_eq!(r, Poll::UpToDate, "unexpected resync after {:?}", got);
    got
}

fn last_for(got: &[(ChangeKind, PathBuf, Option<fstatcache::Stat>)], p: &PathBuf) -> (ChangeKind, Option<fstatcache::Stat>) {
    let (k, _, a) = got.iter().rev().find(|(_, q, _)| q == p).unwrap_or_else(|| panic!("no change of {} in {:?}", p.display(), got));
    (*k, *a)
}

#[test]
fn kinds_in_order() {
    let mut w = Writer::started(&[]);
    let h = Options::new().name(&w.name).require_writer(true).open().unwrap();
    let mut cur = Cursor::default();
    assert_eq!(h.changes(&mut cur, |_| panic!("a change on a new cursor")), Ok(Poll::Resync));
    assert_ne!(cur.epoch, 0);
    assert!(drain(&h, &mut cur).is_empty());

    let p = w.write("a.log", "hello\n");
    h.watch(&p, CONTROL).unwrap();
    let got = drain(&h, &mut cur);
    let (k, a) = last_for(&got, &p);
    assert_eq!(k, ChangeKind::Added);
    assert_same_stat(&a.expect("an answer"), &p);

    w.write("a.log", "more\n");
    h.sync(CONTROL).unwrap();
    let got = drain(&h, &mut cur);
    let (k, a) = last_for(&got, &p);
    assert_eq!(k, ChangeKind::Changed, "{:?}", got);
    assert_eq!(a.unwrap().len(), 11);
    assert!(got.iter().all(|(k, _, a)| (*k == ChangeKind::Marked) == a.is_none()), "{:?}", got);

    fs::remove_file(&p).unwrap();
    h.sync(CONTROL).unwrap();
    let (k, a) = last_for(&drain(&h, &mut cur), &p);
    assert_eq!(k, ChangeKind::Deleted);
    assert!(!a.unwrap().exists());

    w.write("a.log", "again");
    h.sync(CONTROL).unwrap();
    let (k, a) = last_for(&drain(&h, &mut cur), &p);
    assert_eq!(k, ChangeKind::Created);
    assert_same_stat(&a.unwrap(), &p);

    h.unwatch(&p, CONTROL).unwrap();
    let (k, a) = last_for(&drain(&h, &mut cur), &p);
    assert_eq!(k, ChangeKind::Removed);
    assert!(a.is_none());
    drop(h);
    w.stop();
}

#[test]
fn cursor_text_and_stopping_early() {
    let mut w = Writer::started(&[]);
    let h = Options::new().name(&w.name).require_writer(true).open().unwrap();
    let mut cur = Cursor::default();
    assert_eq!(h.changes(&mut cur, |_| ControlFlow::Continue(())), Ok(Poll::Resync));
    let start = cur;
    let paths: Vec<_> = (0..3).map(|i| w.write(&format!("f{}", i), "x")).collect();
    for p in &paths {
        h.request_watch(p).unwrap();
    }
    h.sync(CONTROL).unwrap();

    // A callback that stops leaves the cursor just past its change.
    let mut seen = Vec::new();
    let r = h.changes(&mut cur, |c| {
        seen.push(c.path.to_path_buf());
        ControlFlow::Break(())
    });
    assert_eq!(r, Ok(Poll::UpToDate));
    assert_eq!(seen.len(), 1);
    let rest = drain(&h, &mut cur);
    assert_eq!(1 + rest.len(), 3, "{:?} then {:?}", seen, rest);

    // The text form resumes where the cursor was, in another handle too.
    let text = start.to_string();
    let again: Cursor = text.parse().unwrap();
    assert_eq!(again, start);
    let h2 = Options::new().name(&w.name).open().unwrap();
    let mut c2 = again;
    let all = drain(&h2, &mut c2);
    assert_eq!(all.len(), 3);
    assert_eq!(c2, cur);

    // A cursor no writer made starts afresh.
    let mut bad = Cursor { epoch: cur.epoch, pos: cur.pos + 8 };
    assert_eq!(h.changes(&mut bad, |_| ControlFlow::Continue(())), Ok(Poll::Resync));
    assert_eq!(bad, cur);
    drop((h, h2));
    w.stop();
}

#[test]
fn wait_wakes_on_a_change() {
    let mut w = Writer::started(&[]);
    let h = Options::new().name(&w.name).require_writer(true).open().unwrap();
    let p = w.write("w.log", "1");
    h.watch(&p, CONTROL).unwrap();
    let mut cur = Cursor::default();
    assert_eq!(h.changes(&mut cur, |_| ControlFlow::Continue(())), Ok(Poll::Resync));
    // Waiting with changes pending returns at once.
    w.write("w.log", "2");
    h.sync(CONTROL).unwrap();
    h.changes_wait(&cur, GUARD).unwrap();
    assert!(!drain(&h, &mut cur).is_empty());

    // A follower asleep on an up-to-date cursor is woken by the writer
    // (GUARD is a hang guard only: the test checks the change, not time).
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            let mut c = cur;
            while drain(&h, &mut c).is_empty() {
                h.changes_wait(&c, GUARD).unwrap();
            }
        });
        w.write("w.log", "3");
        h.sync(CONTROL).unwrap();
        t.join().unwrap();
    });
    drop(h);
    w.stop();
}

#[test]
fn restart_means_resync() {
    let mut w = Writer::started(&[]);
    let h = Options::new().name(&w.name).require_writer(true).open().unwrap();
    let mut cur = Cursor::default();
    assert_eq!(h.changes(&mut cur, |_| ControlFlow::Continue(())), Ok(Poll::Resync));
    let first = cur.epoch;
    w.stop();
    // No live writer: nothing records changes, so a full pass.
    assert_eq!(h.changes(&mut cur, |_| ControlFlow::Continue(())), Ok(Poll::Resync));
    w.start();
    h.sync(CONTROL).unwrap();
    let mut c = Cursor { epoch: first, pos: 0 };
    assert_eq!(h.changes(&mut c, |_| ControlFlow::Continue(())), Ok(Poll::Resync));
    assert_ne!(c.epoch, first);
    assert!(drain(&h, &mut c).is_empty());
    drop(h);
    w.stop();
}
