//! Shared-memory objects: opening them (shm_open(3)), checking them
//! (fstat(2)) and mapping them, and the one way this crate reads or writes
//! mapped memory: through atomic views at checked offsets.
//!
//! Why not memmap2: its read-only map (`Mmap`) hands out `&[u8]`, and a
//! shared reference asserts that the bytes do not change while it lives,
//! which the writer, another process, breaks at any time (undefined
//! behaviour in Rust's model, however it compiles today); its raw map
//! (`MmapRaw`) has no read-only form in 0.5.7, and readers must map the
//! table `PROT_READ`.  So the mapping here is a raw pointer that never
//! becomes a reference to plain bytes: every access is an `Atomic*` load
//! or store (whose `UnsafeCell` says the value may change), which is also
//! what the seqlock protocol requires (docs/FORMAT.md, "Protocols").

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8};

/// One mapping of a shared-memory object, unmapped on drop.
pub(crate) struct Region {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the region is only ever accessed through atomic views (below),
// which any number of threads may use at once; the pointer itself is
// never written after construction.
unsafe impl Send for Region {}
unsafe impl Sync for Region {}

impl Region {
    /// Map `len` bytes of `file` shared, read-only unless `writable`;
    /// `populate` faults every page in now (MAP_POPULATE).
    pub fn map(file: &File, len: usize, writable: bool, populate: bool) -> io::Result<Region> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        let flags = libc::MAP_SHARED | if populate { libc::MAP_POPULATE } else { 0 };
        // SAFETY: a fresh mapping chosen by the kernel: it aliases no Rust
        // object.  The caller checked (fstat) that the object is at least
        // `len` bytes and the writer never shrinks it, so no access below
        // `len` can fault (SIGBUS).
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, file.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Region { ptr: p.cast(), len })
    }

    #[inline]
    fn at(&self, off: usize, size: usize) -> *mut u8 {
        // Offsets come from geometry validated at attach time; this check
        // keeps the functions below sound whatever the caller computed.
        assert!(
            off % size == 0 && off <= self.len && self.len - off >= size,
            "shared-memory access out of bounds"
        );
        // SAFETY: in bounds, checked just above.
        unsafe { self.ptr.add(off) }
    }

    /// The 32-bit word at `off` (4-aligned, in bounds).
    #[inline]
    pub fn u32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: aligned and in bounds (at()); the mapping lives as long
        // as &self; AtomicU32 has u32's layout and tolerates concurrent
        // writes by others.
        unsafe { &*(self.at(off, 4) as *const AtomicU32) }
    }

    /// The 64-bit word at `off` (8-aligned, in bounds).
    #[inline]
    pub fn u64(&self, off: usize) -> &AtomicU64 {
        // SAFETY: as u32().
        unsafe { &*(self.at(off, 8) as *const AtomicU64) }
    }

    /// The 16-bit word at `off` (2-aligned, in bounds).
    #[inline]
    pub fn u16(&self, off: usize) -> &AtomicU16 {
        // SAFETY: as u32().
        unsafe { &*(self.at(off, 2) as *const AtomicU16) }
    }

    /// The byte at `off`.  Stores only on a region mapped writable.
    #[inline]
    pub fn u8(&self, off: usize) -> &AtomicU8 {
        // SAFETY: as u32().
        unsafe { &*(self.at(off, 1) as *const AtomicU8) }
    }

    /// Hint the CPU to fetch the cache line at `off` (no-op elsewhere).
    #[inline]
    pub fn prefetch(&self, off: usize) {
        #[cfg(target_arch = "x86_64")]
        if off < self.len {
            // SAFETY: a prefetch never faults and reads nothing; the
            // address is inside the mapping anyway.
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch::<_MM_HINT_T0>(self.ptr.add(off) as *const i8);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = off;
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned; every view
        // borrowed from &self has ended.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// shm_open(3) `name` (`/fstatcache.…`), close-on-exec.
pub(crate) fn open(name: &str, writable: bool) -> io::Result<File> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let flags = if writable { libc::O_RDWR } else { libc::O_RDONLY } | libc::O_CLOEXEC;
    // SAFETY: c is a NUL-terminated string that outlives the call.
    let fd = unsafe { libc::shm_open(c.as_ptr(), flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a descriptor we just opened and nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// fstat(2) with every field (uid, mode, size) the owner checks need.
pub(crate) fn fstat(file: &File) -> io::Result<libc::stat> {
    // SAFETY: an all-zero struct stat is valid; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is open; st is live and writable.
    if unsafe { libc::fstat(file.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// CLOCK_MONOTONIC_COARSE in ns: the clock of the C reader's rate limits.
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is live and writable; this clock exists on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// The same clock in ms, modulo 2^32.
pub(crate) fn now_ms32() -> u32 {
    (now_ns() / 1_000_000) as u32
}
