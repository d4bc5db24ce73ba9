//! Finding a path in the table (the C reader's reader/lookup.h).
//!
//! The table is open-addressed with linear probing (docs/FORMAT.md): a
//! key lives at most probe_limit slots past its home slot, hash & mask,
//! and every slot from home to it is used, so a probe stops at the first
//! empty slot.  Each slot is read under its sequence count (`seqlock`):
//! the fields are copied, then the count is re-checked, then the copy is
//! validated (flags, length, full key, mode) before anything is believed.
//! A probe that found nothing is bracketed the same way by the table's
//! generation count, odd while the writer moves entries, so an entry
//! moving under the probe is never reported as a false miss.  A hit reads
//! the slot's 96-byte head and its path (format 2.0: a key shorter than
//! 32 bytes ends in the slot's first 128 bytes), never the cold tail
//! after the path area.  Where the writer keeps the tag array the probe
//! reads each slot's
//! tag first and only the slots whose tag is the key's; a 0 tag ends it,
//! as an empty slot does, so a miss reads tags only.  Tags are hints: the
//! slot's seq and full key decide.  Each attempt is bounded by
//! probe_limit; attempts by RETRY_MAX, then the answer is "uncached".

use std::sync::atomic::Ordering::Relaxed;

use crate::attach::Map;
use crate::contract;
use crate::format::*;
use crate::seqlock;
use crate::stat::{Source, Stat};

/// Torn or contended reads before a lookup gives up (FSC_RETRY_MAX).
pub const RETRY_MAX: usize = 8;

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The cache's answer (`exists()` false is a cached "does not exist").
    Hit(Stat),
    /// Not in the cache: stat() it yourself and ask the writer to watch
    /// it (`Handle::stat()` does both).
    Miss,
    /// The cache cannot answer this path now (no live writer, the file
    /// changed and is not re-stat'ed yet, a path that is not canonical or
    /// too long, a filesystem without full events, the watch limit, a
    /// busy table): stat() it; a watch request would not help.
    Uncached,
}

impl Lookup {
    /// The index of its count (hits, misses, uncached).
    pub(crate) fn count_index(&self) -> usize {
        match self {
            Lookup::Hit(_) => 0,
            Lookup::Miss => 1,
            Lookup::Uncached => 2,
        }
    }
}

enum Probe {
    Found(Stat, u16, u32), // the copy, its flags, its slot
    Absent,
    Retry,
}

/// Compare the slot's path words with the key, inside the entry's
/// seqlock: whole words, the last one zero-padded, so equality also
/// proves the NUL after the key (the path area is NUL-padded).
#[inline]
fn key_equal(m: &Map, path_off: usize, key: &[u8]) -> bool {
    let mut words = key.chunks_exact(8);
    let mut off = path_off;
    for w in &mut words {
        let k = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        if m.table.u64(off).load(Relaxed) != k {
            return false;
        }
        off += 8;
    }
    let mut last = [0u8; 8];
    let rest = words.remainder();
    last[..rest.len()].copy_from_slice(rest);
    m.table.u64(off).load(Relaxed) == u64::from_ne_bytes(last)
}

/// Copy the stat fields of the slot at `e` (relaxed atomic loads); only
/// trusted once the seqlock re-check passes.  nlink and rdev are stored
/// in 32 bits (a larger value is not cached: FSC_REASON_RANGE) and
/// widened; the times are signed nanoseconds since the epoch.
#[inline]
fn copy_entry(m: &Map, e: usize) -> Stat {
    let t = &m.table;
    let (mtime, mtime_nsec) = split_ns(t.u64(e + ent::MTIME_NS).load(Relaxed) as i64);
    let (ctime, ctime_nsec) = split_ns(t.u64(e + ent::CTIME_NS).load(Relaxed) as i64);
    Stat {
        mode: t.u32(e + ent::MODE).load(Relaxed),
        uid: t.u32(e + ent::UID).load(Relaxed),
        gid: t.u32(e + ent::GID).load(Relaxed),
        dev: t.u64(e + ent::DEV).load(Relaxed),
        ino: t.u64(e + ent::INO).load(Relaxed),
        nlink: u64::from(t.u32(e + ent::NLINK).load(Relaxed)),
        rdev: u64::from(t.u32(e + ent::RDEV).load(Relaxed)),
        size: t.u64(e + ent::SIZE).load(Relaxed) as i64,
        blocks: t.u64(e + ent::BLOCKS).load(Relaxed) as i64,
        mtime,
        ctime,
        mtime_nsec,
        ctime_nsec,
        blksize: Some(t.u32(e + ent::BLKSIZE).load(Relaxed)),
        atime: Some(split_ns(t.u64(e + ent::ATIME_NS).load(Relaxed) as i64)),
        ..Stat::zero(Source::Cache)
    }
}

/// A time stored as signed nanoseconds since the epoch, as (seconds,
/// nanoseconds) the way stat(2) gives it: floor division, so the
/// nanoseconds are in 0..10^9 before 1970 too (-1 ns is -1 s + 999999999
/// ns).  Every i64 splits: no stored value is out of range.
#[inline]
pub(crate) fn split_ns(ns: i64) -> (i64, u32) {
    (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as u32)
}

/// Look at one slot under its sequence count; `empty` is set when the
/// slot is unused (which ends a probe).
#[inline]
fn probe_slot(m: &Map, slot: u32, key: &[u8], hash: u64, empty: &mut bool) -> Probe {
    let e = m.slot_off(slot);
    let seq = m.table.u32(e + ent::SEQ);
    let s = seqlock::read_begin(seq);
    if s & 1 != 0 {
        return Probe::Retry;
    }
    let f = m.table.u16(e + ent::FLAGS).load(Relaxed);
    let eh = m.table.u64(e + ent::HASH).load(Relaxed);
    let el = m.table.u16(e + ent::PATH_LEN).load(Relaxed);
    let hit = f & ENT_USED != 0 && eh == hash && el as usize == key.len() && key_equal(m, e + ent::PATH, key);
    let copy = if hit { Some(copy_entry(m, e)) } else { None };
    if seqlock::read_retry(seq, s) {
        return Probe::Retry;
    }
    *empty = f & ENT_USED == 0;
    match copy {
        Some(st) => Probe::Found(st, f, slot),
        None => Probe::Absent,
    }
}

/// Validate a copied entry: never trust a value from the segment
/// unchecked.  (The nanoseconds need no check: split_ns() makes them.)
pub(crate) fn copy_ok(flags: u16, st: &Stat) -> bool {
    if flags & !ENT_KNOWN != 0 {
        return false;
    }
    if flags & ENT_EXISTS == 0 {
        return true;
    }
    contract::mode_ok(st.mode) && st.size >= 0 && st.blocks >= 0
}

/// A cached "does not exist" carries no numbers: make them 0, as
/// documented (the writer keeps no errno: ENOTDIR reads as ENOENT).
pub(crate) fn set_exists(st: &mut Stat, flags: u16) {
    st.exists = flags & ENT_EXISTS != 0;
    if st.exists {
        st.err = 0;
    } else {
        *st = Stat::absent(st.source, libc::ENOENT);
    }
}

/// The tag of a key's hash (fsc_tag()): its top 16 bits, with bit 0 set
/// so that no used slot's tag is 0 (the home slot comes from the low bits).
#[inline]
pub(crate) fn tag_of(hash: u64) -> u16 {
    (hash >> 48) as u16 | 1
}

/// Offset of slot `slot`'s tag in the tag array object.
#[inline]
fn tag_off(slot: u32) -> usize {
    TAGS_HEADER_SIZE as usize + 2 * slot as usize
}

/// One probe sequence (docs/FORMAT.md, "Lookup", step 5.2).  With the
/// tag array each slot's tag is read first (relaxed, inside the caller's
/// table_gen bracket): 0 ends the probe, another key's tag skips the slot
/// unread, the key's tag reads the slot as without tags.
#[inline]
fn probe(m: &Map, key: &[u8], hash: u64) -> Probe {
    let mut slot = hash as u32 & m.mask;
    let want = tag_of(hash);
    for _ in 0..m.probe_limit {
        if let Some(tags) = &m.tags {
            let t = tags.u16(tag_off(slot)).load(Relaxed);
            if t == 0 {
                return Probe::Absent;
            }
            if t != want {
                slot = (slot + 1) & m.mask;
                continue;
            }
        }
        let mut empty = false;
        match probe_slot(m, slot, key, hash, &mut empty) {
            Probe::Absent if !empty => slot = (slot + 1) & m.mask,
            Probe::Absent => return Probe::Absent,
            r => return r,
        }
    }
    Probe::Absent
}

/// A hit counts as use for the writer's CLOCK eviction (the .use
/// object); set only if 0, so hot entries cause no cache-line traffic.
#[inline]
fn mark_used(m: &Map, slot: u32) {
    if let Some(u) = &m.use_ {
        let b = u.u8(USE_HEADER_SIZE as usize + slot as usize);
        if b.load(Relaxed) == 0 {
            b.store(1, Relaxed);
        }
    }
}

/// The probe loop of a lookup on an attached, serving mapping.
pub(crate) fn lookup_map(m: &Map, key: &[u8], hash: u64) -> Lookup {
    let gen = m.table.u32(hdr::TABLE_GEN);
    for _ in 0..RETRY_MAX {
        let g = seqlock::read_begin(gen);
        if g & 1 != 0 {
            std::hint::spin_loop();
            continue;
        }
        match probe(m, key, hash) {
            Probe::Retry => {
                std::hint::spin_loop();
                continue;
            }
            Probe::Absent => {
                if seqlock::read_retry(gen, g) {
                    continue;
                }
                return if m.serving() { Lookup::Miss } else { Lookup::Uncached };
            }
            Probe::Found(mut st, flags, slot) => {
                if !copy_ok(flags, &st) || flags & ENT_NOCACHE != 0 {
                    return Lookup::Uncached;
                }
                // A dead writer's entries may be stale: check after the copy.
                if !m.serving() {
                    return Lookup::Uncached;
                }
                set_exists(&mut st, flags);
                mark_used(m, slot);
                return Lookup::Hit(st);
            }
        }
    }
    Lookup::Uncached
}

/// The writer stores canonical keys only, so a hit proves the spelling
/// and the full check can wait until a miss: another spelling of a
/// cached file is uncached (asking the writer for it would be refused).
#[inline]
pub(crate) fn miss_or_uncached(r: Lookup, key: &[u8]) -> Lookup {
    match r {
        Lookup::Miss if !contract::path_ok(key) => Lookup::Uncached,
        r => r,
    }
}

/// The key's hash when it may be looked up in `m` at all (absolute,
/// shorter than the path area).
#[inline]
pub(crate) fn key_hash(m: &Map, key: &[u8]) -> Option<u64> {
    if key.len() < 2 || key[0] != b'/' || key.len() >= m.path_max as usize {
        return None;
    }
    Some(xxhash_rust::xxh3::xxh3_64_with_seed(key, m.seed))
}

/// Start fetching the home slot of `hash` for a key of `len` bytes, and
/// its tag (batched lookups).
#[inline]
pub(crate) fn prefetch_home(m: &Map, hash: u64, len: usize) {
    let home = hash as u32 & m.mask;
    if let Some(tags) = &m.tags {
        tags.prefetch(tag_off(home));
    }
    // The head's line and the line holding the key's end (its NUL word),
    // as the C reader's fsc__prepare(): for a key under 96 bytes every
    // line a hit reads is one of those two or the head's pair (slots
    // start 128-byte aligned).
    let e = m.slot_off(home);
    m.table.prefetch(e);
    m.table.prefetch(e + ((ENTRY_FIXED as usize + len) & !63));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floor division, as stat(2) gives times before 1970; every i64.
    #[test]
    fn times_split_like_stat() {
        assert_eq!(split_ns(0), (0, 0));
        assert_eq!(split_ns(1_764_950_400_123_456_789), (1_764_950_400, 123_456_789));
        assert_eq!(split_ns(-1), (-1, 999_999_999));
        assert_eq!(split_ns(-1_000_000_000), (-1, 0));
        assert_eq!(split_ns(-1_999_999_999), (-2, 1));
        assert_eq!(split_ns(i64::MAX), (9_223_372_036, 854_775_807));
        assert_eq!(split_ns(i64::MIN), (-9_223_372_037, 145_224_192));
    }
}
