//! The change feed: what changed since a cursor, with no system call (the
//! C reader's reader/changes.h; docs/FORMAT.md, "Change feed object").
//!
//! The writer appends a record to the feed object for every answer it
//! publishes.  A reader copies each record into private memory, then
//! checks that the writer's tail has not passed it (the ring's seqlock: a
//! copy made while the record was overwritten is never believed), then
//! validates the copy (position, length, kind, path, flags, mode) as it
//! validates a copied entry.  Any doubt ends in a resync (a full pass),
//! never in a skipped change.
//!
//! The ring's seqlock: the writer moves `tail` past a record, then a
//! release fence (F1), before any store that can overwrite it; stores the
//! new record (relaxed), a release fence (F2), then `head`.  The reader
//! loads `head`, an acquire fence (pairs with F2), copies a record
//! (relaxed loads), an acquire fence (pairs with F1), loads `tail`: if
//! `tail` passed the record's position the copy may be torn.

use std::fmt;
use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{fence, Ordering, Ordering::Relaxed};
use std::time::Duration;

use crate::attach::Map;
use crate::contract;
use crate::error::{Error, Result};
use crate::format::*;
use crate::handle::{path_of, Handle};
use crate::lookup::{copy_ok, set_exists, split_ns};
use crate::shm::{self, Region};
use crate::stat::{Source, Stat};

/// A mapped feed object, checked when mapped.
pub(crate) struct Feed {
    region: Region,
    ring: u32,
}

/// A cursor: the writer's segment epoch and a position in its feed.
/// Plain data: keep it anywhere, across restarts of the caller (its text
/// form, "EPOCH-POS" in hex, is the C API's: `to_string()` and `parse()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// The segment it belongs to; 0: none yet.
    pub epoch: u64,
    /// The feed position after the last change seen.
    pub pos: u64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:x}", self.epoch, self.pos)
    }
}

impl FromStr for Cursor {
    type Err = Error;
    /// Two groups of 1 to 16 hex digits joined by '-'.
    fn from_str(s: &str) -> Result<Cursor> {
        let (a, b) = s.split_once('-').ok_or(Error::InvalidArgument)?;
        let hex = |t: &str| {
            if t.is_empty() || t.len() > 16 || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::InvalidArgument);
            }
            u64::from_str_radix(t, 16).map_err(|_| Error::InvalidArgument)
        };
        Ok(Cursor { epoch: hex(a)?, pos: hex(b)? })
    }
}

/// What happened to a path (the feed's record kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The path entered the table (a watch).
    Added,
    /// Its answer changed.
    Changed,
    /// It did not exist and does now.
    Created,
    /// It existed and does not now.
    Deleted,
    /// The writer knows it changed and has not re-stat'ed it: stat() it.
    Marked,
    /// It left the table to make room.
    Evicted,
    /// It left the table (unwatch, invalidate).
    Removed,
}

impl ChangeKind {
    fn from_code(k: u32) -> Option<ChangeKind> {
        Some(match k {
            CHANGE_ADDED => ChangeKind::Added,
            CHANGE_CHANGED => ChangeKind::Changed,
            CHANGE_CREATED => ChangeKind::Created,
            CHANGE_DELETED => ChangeKind::Deleted,
            CHANGE_MARKED => ChangeKind::Marked,
            CHANGE_EVICTED => ChangeKind::Evicted,
            CHANGE_REMOVED => ChangeKind::Removed,
            _ => return None,
        })
    }

    /// Its name, as `fstatcache changes`, C's fsc_change_name() and
    /// Python print it.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Created => "created",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Marked => "marked",
            ChangeKind::Evicted => "evicted",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One change, as given to the callback of `Handle::changes()`.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    /// What happened.
    pub kind: ChangeKind,
    /// The canonical absolute path.
    pub path: &'a Path,
    /// The new answer, as a lookup would have given it then (source
    /// `Cache`); None: the cache has no answer for it (Marked: changed,
    /// not re-stat'ed yet; Evicted, Removed: no longer cached; or an
    /// entry answered by stat()): stat() it.
    pub answer: Option<Stat>,
}

/// What `Handle::changes()` says after delivering changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Every change up to now was delivered (or the callback stopped the
    /// walk: the cursor is just past that change; call again for the
    /// rest).
    UpToDate,
    /// Changes cannot be listed from the cursor: it is new, of another
    /// segment (the writer was restarted or replaced), so far behind that
    /// the ring overwrote what followed it, or the writer invalidated
    /// everything, or no live writer records changes now.  The cursor is
    /// set to now: look every path you follow up once (`Handle::stat()`),
    /// then carry on from it.  Never a silently skipped change.
    Resync,
}

impl Feed {
    fn head(&self) -> u64 {
        self.region.u64(feedhdr::HEAD).load(Relaxed)
    }
    fn tail(&self) -> u64 {
        self.region.u64(feedhdr::TAIL).load(Relaxed)
    }
}

/// Open, check and map the feed of mapping `m`.
fn feed_open(h: &Handle, m: &Map) -> Result<Feed> {
    if m.seg_flags & SEG_F_FEED == 0 {
        return Err(Error::NoFeed); // a writer that keeps no feed
    }
    let file = shm::open(&contract::shm_name(h.name(), ".feed"), false).map_err(|e| Error::from_io(&e))?;
    let st = shm::fstat(&file).map_err(|e| Error::from_io(&e))?;
    if !contract::owner_ok(&st, h.at.owner, false) {
        return Err(Error::NotTrusted);
    }
    let size = st.st_size as u64;
    let (lo, hi) = (FEED_HEADER_SIZE + FEED_SIZE_MIN, u64::from(FEED_HEADER_SIZE) + u64::from(FEED_SIZE_MAX));
    if size < u64::from(lo) || size > hi {
        return Err(Error::Corrupt);
    }
    // Populated now, once: a follower reads the whole ring in time, and
    // its polls should not take a page fault each.
    let region = Region::map(&file, size as usize, false, true).map_err(|e| Error::from_io(&e))?;
    let ring = region.u32(feedhdr::RING_SIZE).load(Relaxed);
    // Another segment's feed (a writer replacing ours) is no feed.
    if region.u64(feedhdr::MAGIC).load(Relaxed) != FEED_MAGIC || region.u64(feedhdr::EPOCH).load(Relaxed) != m.epoch {
        return Err(Error::NoSegment);
    }
    if !(FEED_SIZE_MIN..=FEED_SIZE_MAX).contains(&ring)
        || !ring.is_power_of_two()
        || size != u64::from(FEED_HEADER_SIZE) + u64::from(ring)
    {
        return Err(Error::Corrupt);
    }
    Ok(Feed { region, ring })
}

/// The feed of `m`, mapped on first use.
fn feed<'a>(h: &Handle, m: &'a Map) -> Result<&'a Feed> {
    let p = m.feed.load(Ordering::Acquire);
    // SAFETY: a published feed is freed only with its map, which outlives
    // 'a; Acquire pairs with the Release of the compare-exchange below.
    if let Some(f) = unsafe { p.as_ref() } {
        return Ok(f);
    }
    let f = Box::into_raw(Box::new(feed_open(h, m)?));
    match m.feed.compare_exchange(std::ptr::null_mut(), f, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just published; owned by the map from now on.
        Ok(_) => Ok(unsafe { &*f }),
        Err(had) => {
            // Another thread mapped it first: drop ours, use theirs.
            // SAFETY: f is ours alone (never published); had is published.
            unsafe {
                drop(Box::from_raw(f));
                Ok(&*had)
            }
        }
    }
}

const REC_MAX: usize = FEED_REC_MAX as usize;

/// Copy `n` bytes (a multiple of 8) of the ring from offset `off`.
fn feed_copy(f: &Feed, off: u32, dst: &mut [u8], n: u32) {
    let base = FEED_HEADER_SIZE as usize + off as usize;
    for (i, w) in dst[..n as usize].chunks_exact_mut(8).enumerate() {
        w.copy_from_slice(&f.region.u64(base + 8 * i).load(Relaxed).to_ne_bytes());
    }
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_ne_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[o..o + 8]);
    u64::from_ne_bytes(w)
}

/// Turn a copied, whole record into a change, or Corrupt for a record no
/// writer of this format would have written.  The record holds the
/// entry's head, its cold tail (which this reader does not use), then
/// the path.  A longer record is one of a newer format minor (fields
/// after the path): accepted.
fn change_from(path_max: u32, buf: &[u8], len: u32, kind: ChangeKind) -> Result<Change<'_>> {
    let e = FEED_REC_FIXED as usize;
    let pstart = e + FEED_ENTRY as usize;
    let plen = u32::from(u16_at(buf, e + ent::PATH_LEN));
    let flags = u16_at(buf, e + ent::FLAGS);
    let want = (FEED_REC_FIXED + FEED_ENTRY + (plen / 8 + 1) * 8 + FEED_ALIGN - 1) & !(FEED_ALIGN - 1);
    if len < FEED_REC_FIXED + FEED_ENTRY + 8 || plen >= path_max || len < want {
        return Err(Error::Corrupt);
    }
    let path = &buf[pstart..pstart + plen as usize];
    if buf[pstart + plen as usize] != 0 || !contract::path_ok(path) || flags & ENT_USED == 0 {
        return Err(Error::Corrupt); // path_ok() also rejects a NUL inside
    }
    let (mtime, mtime_nsec) = split_ns(u64_at(buf, e + ent::MTIME_NS) as i64);
    let (ctime, ctime_nsec) = split_ns(u64_at(buf, e + ent::CTIME_NS) as i64);
    let mut st = Stat {
        mode: u32_at(buf, e + ent::MODE),
        uid: u32_at(buf, e + ent::UID),
        gid: u32_at(buf, e + ent::GID),
        dev: u64_at(buf, e + ent::DEV),
        ino: u64_at(buf, e + ent::INO),
        nlink: u64::from(u32_at(buf, e + ent::NLINK)),
        rdev: u64::from(u32_at(buf, e + ent::RDEV)),
        size: u64_at(buf, e + ent::SIZE) as i64,
        blocks: u64_at(buf, e + ent::BLOCKS) as i64,
        mtime,
        ctime,
        mtime_nsec,
        ctime_nsec,
        blksize: Some(u32_at(buf, e + ent::BLKSIZE)),
        atime: Some(split_ns(u64_at(buf, e + ent::ATIME_NS) as i64)),
        ..Stat::zero(Source::Cache)
    };
    if !copy_ok(flags, &st) {
        return Err(Error::Corrupt);
    }
    let uncached = matches!(kind, ChangeKind::Marked | ChangeKind::Evicted | ChangeKind::Removed) || flags & ENT_NOCACHE != 0;
    let answer = if uncached {
        None
    } else {
        set_exists(&mut st, flags);
        Some(st)
    };
    Ok(Change { kind, path: path_of(path), answer })
}

fn resync(cur: &mut Cursor, epoch: u64, pos: u64) -> Result<Poll> {
    *cur = Cursor { epoch, pos };
    Ok(Poll::Resync)
}

/// The walk of `changes()` over feed `f` of a segment of `epoch` and
/// `path_max`.
fn walk<F>(f: &Feed, epoch: u64, path_max: u32, cur: &mut Cursor, mut cb: F) -> Result<Poll>
where
    F: FnMut(&Change<'_>) -> ControlFlow<()>,
{
    let head = f.head();
    fence(Ordering::Acquire); // pairs with the writer's F2: records below head
    let mut pos = cur.pos;
    // A position no writer made (another epoch, the future, not on a
    // record boundary) starts afresh.
    if cur.epoch != epoch || pos > head || pos % u64::from(FEED_ALIGN) != 0 {
        return resync(cur, epoch, head);
    }
    let mut buf = [0u8; REC_MAX];
    let mask = f.ring - 1;
    while pos < head {
        let off = pos as u32 & mask;
        feed_copy(f, off, &mut buf, FEED_REC_FIXED);
        let (rpos, len, kind) = (u64_at(&buf, 0), u32_at(&buf, 8), u32_at(&buf, 12));
        let sane = len >= FEED_REC_FIXED
            && len % FEED_ALIGN == 0
            && len <= f.ring - off
            && u64::from(len) <= head - pos
            && len as usize <= REC_MAX
            && rpos == pos;
        let mut body = 0;
        if sane && kind != CHANGE_PAD && kind < CHANGE_KNOWN {
            body = len;
            feed_copy(f, off, &mut buf, body);
        }
        fence(Ordering::Acquire); // pairs with the writer's F1
        if f.tail() > pos {
            // Lapped: the copy may be torn.
            return resync(cur, epoch, f.head());
        }
        if !sane {
            return Err(Error::Corrupt);
        }
        pos += u64::from(len);
        if kind == CHANGE_PAD {
            continue;
        }
        // ALL, or a kind of a newer format minor that this reader cannot
        // read: anything may have changed.
        if kind == CHANGE_ALL || kind >= CHANGE_KNOWN {
            return resync(cur, epoch, pos);
        }
        let kind = ChangeKind::from_code(kind).ok_or(Error::Corrupt)?;
        let c = change_from(path_max, &buf, body, kind)?;
        cur.pos = pos;
        if cb(&c).is_break() {
            return Ok(Poll::UpToDate);
        }
    }
    cur.pos = pos;
    Ok(Poll::UpToDate)
}

impl Handle {
    /// Call `cb` for every change since `cur`, in the order the writer
    /// made them, and move `cur` past each one delivered; `cb` returns
    /// `ControlFlow::Break(())` to stop early.  One path may come more
    /// than once (each answer it had).  Costs one load when nothing
    /// changed, and a copy of each record otherwise; no system call, but
    /// the first call on each segment maps the feed.
    ///
    /// Errors: NoFeed (an older writer), Corrupt (a record that fails
    /// validation: the cursor stays before it, so look at every path and
    /// start over from `Cursor::default()`), or an errno of mapping the
    /// feed.  On any error, poll by lookups meanwhile.
    pub fn changes<F>(&self, cur: &mut Cursor, cb: F) -> Result<Poll>
    where
        F: FnMut(&Change<'_>) -> ControlFlow<()>,
    {
        // Changes after a writer's death go unrecorded: with no live
        // writer, ask for a full pass (which stat() answers).
        let m = match self.at.current() {
            Some(m) => m,
            None => return resync(cur, 0, 0),
        };
        let f = feed(self, m)?;
        walk(f, m.epoch, m.path_max, cur, cb)
    }

    /// Sleep until the feed may have moved past `cur`, at most `timeout`:
    /// a futex(2) wait on the feed's wake word, which the writer bumps
    /// once per turn of its loop in which it published something (and
    /// wakes only when a reader said it sleeps).  Returns at once when
    /// there are changes already; sleeps `timeout` when there is nothing
    /// to wait on (no live writer, no feed, no writable .use object).
    /// Wake-ups may be spurious: call `changes()` after it.
    pub fn changes_wait(&self, cur: &Cursor, timeout: Duration) -> Result<()> {
        let m = self.at.current();
        let f = match m {
            Some(m) => feed(self, m).ok(),
            None => None,
        };
        let (m, f) = match (m, f) {
            (Some(m), Some(f)) => (m, f),
            _ => {
                std::thread::sleep(timeout); // nothing to wait on
                return Ok(());
            }
        };
        let u = match &m.use_ {
            Some(u) => u,
            None => {
                // Nobody would wake us: nap.
                if cur.epoch == m.epoch && f.head() == cur.pos {
                    std::thread::sleep(timeout);
                }
                return Ok(());
            }
        };
        let waiters = u.u32(usehdr::FEED_WAITERS);
        waiters.fetch_add(1, Ordering::SeqCst);
        // Pairs with the writer's full fence between bumping feed_wake and
        // loading feed_waiters: one of the two sees the other.
        fence(Ordering::SeqCst);
        let word = u.u32(usehdr::FEED_WAKE);
        let w = word.load(Relaxed);
        fence(Ordering::Acquire); // pairs with the writer's: head before wake
        if cur.epoch == m.epoch && f.head() == cur.pos && m.serving() && futex_wait(word, w, timeout).is_err() {
            // A kernel that refuses the wait: nap instead, never spin.
            std::thread::sleep(timeout);
        }
        waiters.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// FUTEX_WAIT (shared, not FUTEX_PRIVATE_FLAG: the word is shared between
/// processes) with a relative timeout.  Err only for a refused wait; a
/// wake, a changed word, a timeout or a signal are all Ok.
fn futex_wait(word: &std::sync::atomic::AtomicU32, val: u32, timeout: Duration) -> std::result::Result<(), ()> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: the word lives in a mapping that outlives the call; ts is
    // live; FUTEX_WAIT only reads the word and sleeps.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const std::sync::atomic::AtomicU32 as *const u32,
            libc::FUTEX_WAIT,
            val,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0,
        )
    };
    if r == 0 {
        return Ok(());
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::ETIMEDOUT) | Some(libc::EINTR) => Ok(()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_text() {
        let c = Cursor { epoch: 0x0123_4567_89ab_cdef, pos: 0x40 };
        assert_eq!(c.to_string(), "0123456789abcdef-40");
        assert_eq!("0123456789abcdef-40".parse::<Cursor>().unwrap(), c);
        assert_eq!("A-b".parse::<Cursor>().unwrap(), Cursor { epoch: 10, pos: 11 });
        for bad in ["", "-", "1-", "-1", "1-2-3", "x-1", "11111111111111111-1", "1 -2", "+1-2"] {
            assert!(bad.parse::<Cursor>().is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn kind_names() {
        assert_eq!(ChangeKind::from_code(CHANGE_MARKED).unwrap().name(), "marked");
        assert!(ChangeKind::from_code(CHANGE_PAD).is_none());
        assert!(ChangeKind::from_code(CHANGE_ALL).is_none());
    }
}
