//! Attaching a reader to a writer's segment (the C reader's
//! reader/attach.h, step for step).
//!
//! A `Handle` holds the mapping it reads (`Map`) and attaches, and
//! re-attaches, by itself: a lookup that finds no live serving writer
//! calls `current()`, which maps the segment the name now holds,
//! rate-limited to one attempt per 100 ms (at once when the old segment
//! says it was retired).  Attaching is where every check happens, once per
//! segment: the object's owner and mode (squatting), its size against the
//! header (SIGBUS), the header's geometry, the writer's liveness; the
//! geometry is then copied into the private `Map` and never read from the
//! segment again.  The optional objects beside the table (`.use` and
//! the tag array `.tags`) get the same owner, size and header checks;
//! one that fails them is done without.
//!
//! Replaced mappings are kept until the handle is dropped, so a thread
//! still probing one never touches unmapped memory.  One thread attaches at
//! a time (`try_lock` on the attach state, never a wait); the others answer
//! by stat() meanwhile.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::contract::{self, Geometry};
use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::format::*;
use crate::shm::{self, Region};

/// F_OFD_GETLK: Linux 3.15, the same number on every architecture.
const F_OFD_GETLK: libc::c_int = 36;
/// Between attach attempts while detached.
pub(crate) const REATTACH_INTERVAL_MS: u64 = 100;

/// One mapped segment: immutable once published but for the liveness
/// check's state and the feed, mapped at first use.
pub(crate) struct Map {
    pub table: Region,
    pub use_: Option<Region>,
    /// The tag array (read-only), or None: probe the slots alone.
    /// Checked at attach; unmapped with the map.
    pub tags: Option<Region>,
    pub seed: u64,
    pub epoch: u64,
    pub slot_count: u32,
    pub mask: u32,
    pub entry_size: u32,
    pub path_max: u32,
    pub probe_limit: u32,
    pub seg_flags: u32,
    /// The control socket's path (absolute, without the NUL).
    pub socket: Vec<u8>,
    /// SEG_F_PID_LIVENESS only: the table object, whose writer lock is
    /// queried.
    lock_file: Option<File>,
    live_next_ms: AtomicU32,
    live_dead: AtomicBool,
    /// The change feed: published once with a compare-and-swap, then
    /// immutable; freed with the map.
    pub feed: AtomicPtr<Feed>,
}

impl Drop for Map {
    fn drop(&mut self) {
        let f = *self.feed.get_mut();
        if !f.is_null() {
            // SAFETY: f came from Box::into_raw in feed.rs and is owned by
            // this map alone; &mut self proves nobody reads it now.
            drop(unsafe { Box::from_raw(f) });
        }
    }
}

impl Map {
    /// Offset of slot `slot` in the table object.
    #[inline]
    pub fn slot_off(&self, slot: u32) -> usize {
        HEADER_SIZE as usize + slot as usize * self.entry_size as usize
    }

    /// SEG_F_PID_LIVENESS: is the writer's lock on the table object still
    /// held?  One fcntl(2) at most every 250 ms per mapping; in between,
    /// and once the writer is seen dead, no system call.  Threads racing
    /// here may each query once: harmless.
    fn lock_alive(&self, file: &File) -> bool {
        if self.live_dead.load(Ordering::Relaxed) {
            return false;
        }
        let now = shm::now_ms32();
        if (now.wrapping_sub(self.live_next_ms.load(Ordering::Relaxed)) as i32) < 0 {
            return true;
        }
        self.live_next_ms.store(now.wrapping_add(LIVENESS_CHECK_MS), Ordering::Relaxed);
        // SAFETY: an all-zero flock is valid; fcntl only writes into it.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_RDLCK as _; // conflicts with the writer's write lock
        fl.l_whence = libc::SEEK_SET as _; // start 0, length 0: the whole object
        // SAFETY: the descriptor is open for the map's life; fl is live.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), F_OFD_GETLK, &mut fl) };
        if r == 0 && fl.l_type != libc::F_UNLCK as _ {
            return true;
        }
        self.live_dead.store(true, Ordering::Relaxed); // free, or no OFD locks
        false
    }

    /// The writer is alive and the segment may be served from.
    pub fn serving(&self) -> bool {
        let alive = self.table.u32(hdr::WRITER_ALIVE).load(Ordering::Relaxed);
        let status = self.table.u32(hdr::STATUS).load(Ordering::Relaxed);
        status == STATUS_SERVING
            && alive & WRITER_TID_MASK != 0
            && alive & WRITER_DIED == 0
            && self.lock_file.as_ref().map_or(true, |f| self.lock_alive(f))
    }

    fn status(&self) -> u32 {
        self.table.u32(hdr::STATUS).load(Ordering::Relaxed)
    }
}

/// The attach state: touched only by the one thread that holds the lock.
pub(crate) struct AttachState {
    /// Older mappings, unmapped when the handle is dropped.  Kept as the
    /// raw pointers they were published as: other threads may still read
    /// them through shared references, which turning them back into a
    /// `Box` (a unique owner) now would contradict.
    retired: Vec<Retired>,
    next_attach_ns: u64,
    /// A retired map skipped the rate limit once (address, for identity).
    retired_tried: usize,
    /// The object last counted as of another major (its inode).
    mismatch_ino: u64,
    /// The part of the lookup counts already added to the .use header.
    pub published: [u64; 3],
}

/// A replaced mapping (from `Box::into_raw`), freed when the Attacher is.
struct Retired(*mut Map);

// SAFETY: a Map is Send + Sync (its parts are); this is only its address.
unsafe impl Send for Retired {}

/// What `Handle` keeps for attaching; see `handle.rs` for the rest.
pub(crate) struct Attacher {
    pub name: String,
    pub owner: u32,
    /// Our mount namespace (contract::mnt_ns_self), 0 unknown.
    pub mnt_ns: u64,
    /// Served by a writer in another mount namespace too (opted in).
    pub any_mnt_ns: bool,
    /// The current mapping (Box::into_raw), null before the first attach.
    pub map: AtomicPtr<Map>,
    pub state: Mutex<AttachState>,
    pub attach_err: AtomicI32,
    /// Lookup counts: hits, misses, uncached (relaxed, per handle).
    pub counts: [AtomicU64; 3],
}

impl Attacher {
    pub fn new(name: String, owner: u32, any_mnt_ns: bool) -> Attacher {
        Attacher {
            name,
            owner,
            mnt_ns: contract::mnt_ns_self(),
            any_mnt_ns,
            map: AtomicPtr::new(std::ptr::null_mut()),
            state: Mutex::new(AttachState {
                retired: Vec::new(),
                next_attach_ns: 0,
                retired_tried: 0,
                mismatch_ino: 0,
                published: [0; 3],
            }),
            attach_err: AtomicI32::new(0),
            counts: Default::default(),
        }
    }

    /// The current mapping, serving or not.
    #[inline]
    pub fn loaded(&self) -> Option<&Map> {
        // Acquire pairs with the Release store in reattach(): the map's
        // contents were written before its pointer.
        let p = self.map.load(Ordering::Acquire);
        // SAFETY: a published map is never freed before the Attacher is
        // dropped (replaced ones go to `retired`), so it outlives &self.
        unsafe { p.as_ref() }
    }

    /// The attach state if no other thread holds it (never a wait).  A
    /// thread that panicked holding it left nothing half-done that
    /// matters (at worst a map not yet published, or counts published
    /// twice), so a poisoned lock is taken over.
    fn lock_state(&self) -> Option<MutexGuard<'_, AttachState>> {
        match self.state.try_lock() {
            Ok(st) => Some(st),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// The mapping to read, attaching if needed; None means answer by
    /// stat().
    #[inline]
    pub fn current(&self) -> Option<&Map> {
        let m = self.loaded();
        if let Some(m) = m {
            if m.serving() {
                return Some(m);
            }
        }
        self.reattach(m, false).ok()?;
        self.loaded().filter(|m| m.serving())
    }

    /// Replace the current mapping (if `seen` is still current) by the
    /// segment the name now holds.  One thread at a time; others get
    /// Again and answer by stat().  Rate-limited, except when forced or
    /// when the old segment says it was retired.
    pub fn reattach(&self, seen: Option<&Map>, force: bool) -> Result<()> {
        let mut st = match self.lock_state() {
            Some(st) => st,
            None => return Err(Error::Again),
        };
        let seen_ptr = seen.map_or(std::ptr::null(), |m| m as *const Map);
        let now = shm::now_ns();
        // A retired segment names its successor at once: try without
        // waiting, but only once per segment (a clean stop retires with
        // no successor).
        let retired = seen
            .map_or(false, |m| seen_ptr as usize != st.retired_tried && m.status() == STATUS_RETIRED);
        if !std::ptr::eq(self.map.load(Ordering::Acquire), seen_ptr)
            || !(force || retired || now >= st.next_attach_ns)
        {
            return Err(Error::Again);
        }
        st.next_attach_ns = now + REATTACH_INTERVAL_MS * 1_000_000;
        if retired {
            st.retired_tried = seen_ptr as usize;
        }
        let r = self.map_open(&mut st);
        self.attach_err.store(r.as_ref().err().map_or(0, Error::errno), Ordering::Relaxed);
        let m = r?;
        let old = self.map.swap(Box::into_raw(m), Ordering::AcqRel);
        if !old.is_null() {
            // Kept, not freed, until the handle is dropped: threads may
            // still be reading it.
            st.retired.push(Retired(old));
        }
        Ok(())
    }

    /// Open, check and map the instance's current segment.
    fn map_open(&self, st: &mut AttachState) -> Result<Box<Map>> {
        let file = shm::open(&contract::shm_name(&self.name, ""), false).map_err(|e| Error::from_io(&e))?;
        let fs = shm::fstat(&file).map_err(|e| Error::from_io(&e))?;
        if !contract::owner_ok(&fs, self.owner, false) {
            return Err(Error::NotTrusted);
        }
        if (fs.st_size as u64) < u64::from(HEADER_SIZE) {
            return Err(Error::Again); // the writer has not sized it yet
        }
        let size = fs.st_size as u64;
        let table = Region::map(&file, size as usize, false, false).map_err(|e| Error::from_io(&e))?;
        let mut m = Box::new(Map {
            table,
            use_: None,
            tags: None,
            seed: 0,
            epoch: 0,
            slot_count: 0,
            mask: 0,
            entry_size: 0,
            path_max: 0,
            probe_limit: 0,
            seg_flags: 0,
            socket: Vec::new(),
            lock_file: None,
            live_next_ms: AtomicU32::new(0),
            live_dead: AtomicBool::new(false),
            feed: AtomicPtr::new(std::ptr::null_mut()),
        });
        let t = &m.table;
        // Frozen in every major (COMPATIBILITY.md): magic and version_major.
        if t.u64(hdr::MAGIC).load(Ordering::Relaxed) == MAGIC
            && t.u32(hdr::VERSION_MAJOR).load(Ordering::Relaxed) != FORMAT_MAJOR
        {
            self.count_mismatch(st, fs.st_ino as u64);
            return Err(Error::VersionMismatch);
        }
        if !m.serving() {
            return Err(if m.status() == STATUS_INIT { Error::Again } else { Error::NoSegment });
        }
        // The writer set the geometry before status (its release fence
        // pairs with this acquire fence after our load of status).
        fence(Ordering::Acquire);
        let h = Geometry {
            magic: t.u64(hdr::MAGIC).load(Ordering::Relaxed),
            version_major: t.u32(hdr::VERSION_MAJOR).load(Ordering::Relaxed),
            header_size: t.u32(hdr::HEADER_SIZE).load(Ordering::Relaxed),
            entry_size: t.u32(hdr::ENTRY_SIZE).load(Ordering::Relaxed),
            slot_count: t.u32(hdr::SLOT_COUNT).load(Ordering::Relaxed),
            probe_limit: t.u32(hdr::PROBE_LIMIT).load(Ordering::Relaxed),
            path_max: t.u32(hdr::PATH_MAX).load(Ordering::Relaxed),
            flags: t.u32(hdr::FLAGS).load(Ordering::Relaxed),
            segment_size: t.u64(hdr::SEGMENT_SIZE).load(Ordering::Relaxed),
            hash_seed: t.u64(hdr::HASH_SEED).load(Ordering::Relaxed),
            epoch: t.u64(hdr::EPOCH).load(Ordering::Relaxed),
        };
        let socket = socket_path(t);
        if h.flags & SEG_F_PID_LIVENESS != 0 {
            m.lock_file = Some(file); // kept: the writer's lock is queried on it
            m.live_next_ms = AtomicU32::new(shm::now_ms32()); // query now
        } else {
            drop(file);
        }
        if !contract::geometry_ok(&h, size) {
            return Err(Error::Corrupt);
        }
        m.socket = socket.ok_or(Error::Corrupt)?;
        if !m.serving() {
            return Err(Error::NoSegment); // the writer's lock is already free
        }
        // Paths name other files in another mount namespace (the writer
        // sets mnt_ns before status, as the geometry).
        if !contract::mnt_ns_ok(t.u64(hdr::MNT_NS).load(Ordering::Relaxed), self.mnt_ns, self.any_mnt_ns) {
            return Err(Error::OtherMountNamespace);
        }
        m.seed = h.hash_seed;
        m.epoch = h.epoch;
        m.slot_count = h.slot_count;
        m.mask = h.slot_count - 1;
        m.entry_size = h.entry_size;
        m.path_max = h.path_max;
        m.probe_limit = h.probe_limit;
        m.seg_flags = h.flags;
        m.use_ = self.map_use(&m);
        m.tags = self.map_tags(&m);
        Ok(m)
    }

    /// Map the tag array when the header says the writer keeps one:
    /// checked as the table is (owner, not writable by others, exact
    /// size) and tied to it by its epoch and slot count.  A reader
    /// without it probes the slots alone, which answers the same with
    /// more memory reads per miss; tags are hints (lookup.rs).
    fn map_tags(&self, m: &Map) -> Option<Region> {
        if m.seg_flags & SEG_F_TAGS == 0 {
            return None;
        }
        let want = TAGS_HEADER_SIZE as usize + 2 * m.slot_count as usize;
        self.map_beside(m, ".tags", false, TAGS_MAGIC, want)
    }

    /// Map the recency marks; a reader without them still answers
    /// correctly (only eviction order and the counts lose).
    fn map_use(&self, m: &Map) -> Option<Region> {
        let want = USE_HEADER_SIZE as usize + m.slot_count as usize;
        self.map_beside(m, ".use", true, USE_MAGIC, want)
    }

    /// Map an object beside the table that begins as .use and .tags do
    /// (magic, epoch and slot_count at offsets 0, 8 and 16, pinned for
    /// both by format.h): owned by the segment's owner (writable by its
    /// group only when `rw`), exactly `want` bytes, its header this
    /// table's; read-write when `rw`.
    fn map_beside(
        &self,
        m: &Map,
        suffix: &str,
        rw: bool,
        magic: u64,
        want: usize,
    ) -> Option<Region> {
        let file = shm::open(&contract::shm_name(&self.name, suffix), rw).ok()?;
        let fs = shm::fstat(&file).ok()?;
        if !contract::owner_ok(&fs, self.owner, rw) || fs.st_size as u64 != want as u64 {
            return None;
        }
        let r = Region::map(&file, want, rw, false).ok()?;
        let ok = r.u64(usehdr::MAGIC).load(Ordering::Relaxed) == magic
            && r.u64(usehdr::EPOCH).load(Ordering::Relaxed) == m.epoch
            && r.u32(usehdr::SLOT_COUNT).load(Ordering::Relaxed) == m.slot_count;
        ok.then_some(r)
    }

    /// The segment `ino` is of another format major: say so where every
    /// major looks (the .use header's version_mismatches, a frozen
    /// offset), once per object per handle.  Best effort.
    fn count_mismatch(&self, st: &mut AttachState, ino: u64) {
        if st.mismatch_ino == ino {
            return;
        }
        st.mismatch_ino = ino;
        let file = match shm::open(&contract::shm_name(&self.name, ".use"), true) {
            Ok(f) => f,
            Err(_) => return,
        };
        let ok = shm::fstat(&file)
            .map_or(false, |fs| contract::owner_ok(&fs, self.owner, true) && fs.st_size >= USE_HEADER_SIZE as i64);
        if !ok {
            return;
        }
        if let Ok(r) = Region::map(&file, USE_HEADER_SIZE as usize, true, false) {
            if r.u64(usehdr::MAGIC).load(Ordering::Relaxed) == USE_MAGIC {
                r.u64(usehdr::VERSION_MISMATCHES).fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Add the handle's lookup counts to the .use header's totals (the
    /// attach lock also serialises publication; skipped when busy).
    pub fn publish_counts(&self) {
        let m = match self.loaded() {
            Some(m) => m,
            None => return,
        };
        let u = match &m.use_ {
            Some(u) => u,
            None => return,
        };
        let mut st = match self.lock_state() {
            Some(st) => st,
            None => return,
        };
        let totals = [usehdr::READER_HITS, usehdr::READER_MISSES, usehdr::READER_UNCACHED];
        for (i, off) in totals.iter().enumerate() {
            let now = self.counts[i].load(Ordering::Relaxed);
            if now != st.published[i] {
                u.u64(*off).fetch_add(now.wrapping_sub(st.published[i]), Ordering::Relaxed);
            }
            st.published[i] = now;
        }
    }
}

impl Drop for Attacher {
    fn drop(&mut self) {
        let st = match self.state.get_mut() {
            Ok(st) => st,
            Err(p) => p.into_inner(),
        };
        let current = *self.map.get_mut();
        let all = st.retired.drain(..).map(|r| r.0).chain(std::iter::once(current));
        for p in all.filter(|p| !p.is_null()) {
            // SAFETY: every map came from Box::into_raw in reattach(),
            // was current or retired exactly once, and &mut self proves
            // that no reader holds a reference to it any more.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// The control socket's path from the header: NUL-terminated within
/// sun_path's 108 bytes and absolute; None otherwise (corruption).
fn socket_path(t: &Region) -> Option<Vec<u8>> {
    let mut raw = [0u8; SOCKET_PATH_SIZE];
    for (i, w) in raw.chunks_mut(8).enumerate() {
        let v = t.u64(hdr::SOCKET_PATH + 8 * i).load(Ordering::Relaxed);
        w.copy_from_slice(&v.to_ne_bytes());
    }
    let nul = raw[..SUN_PATH_SIZE].iter().position(|&c| c == 0)?;
    (nul > 0 && raw[0] == b'/').then(|| raw[..nul].to_vec())
}
