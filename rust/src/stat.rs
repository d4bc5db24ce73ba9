//! The answer: what stat(2) says about a path, from the cache or from
//! stat() itself, shaped like `std::fs::Metadata` with the accessors of
//! `std::os::unix::fs::MetadataExt`.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The writer's shared memory (a lookup hit).
    Cache,
    /// The caller's own stat(2).
    Stat,
}

/// A stat(2) answer (symlinks followed, like stat(2)).  A path that does
/// not exist is an answer too: `exists()` is false, `error()` says why
/// (ENOENT or ENOTDIR; a cached "does not exist" reads as ENOENT) and
/// every number is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub(crate) exists: bool,
    pub(crate) source: Source,
    pub(crate) err: i32,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) nlink: u64,
    pub(crate) rdev: u64,
    pub(crate) size: i64,
    pub(crate) blocks: i64,
    pub(crate) mtime: i64,
    pub(crate) ctime: i64,
    pub(crate) mtime_nsec: u32,
    pub(crate) ctime_nsec: u32,
    // None only for a file that does not exist.
    pub(crate) blksize: Option<u32>,
    pub(crate) atime: Option<(i64, u32)>,
}

impl Stat {
    pub(crate) fn zero(source: Source) -> Stat {
        Stat {
            exists: false,
            source,
            err: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            dev: 0,
            ino: 0,
            nlink: 0,
            rdev: 0,
            size: 0,
            blocks: 0,
            mtime: 0,
            ctime: 0,
            mtime_nsec: 0,
            ctime_nsec: 0,
            blksize: None,
            atime: None,
        }
    }

    /// "Does not exist", with the errno of stat(2).
    pub(crate) fn absent(source: Source, err: i32) -> Stat {
        Stat { err, ..Stat::zero(source) }
    }

    /// True when the file exists (stat(2) succeeded).
    pub fn exists(&self) -> bool {
        self.exists
    }
    /// Where the answer came from.
    pub fn source(&self) -> Source {
        self.source
    }
    /// For a file that does not exist: ENOENT or ENOTDIR; else 0.
    pub fn error(&self) -> i32 {
        self.err
    }
    /// st_dev: the device the file is on.
    pub fn dev(&self) -> u64 {
        self.dev
    }
    /// st_ino: the inode number (with dev, what rotation changes).
    pub fn ino(&self) -> u64 {
        self.ino
    }
    /// st_mode: file type and permission bits.
    pub fn mode(&self) -> u32 {
        self.mode
    }
    /// st_nlink: hard links.
    pub fn nlink(&self) -> u64 {
        self.nlink
    }
    /// st_uid: the owner.
    pub fn uid(&self) -> u32 {
        self.uid
    }
    /// st_gid: the group.
    pub fn gid(&self) -> u32 {
        self.gid
    }
    /// st_rdev: the device a device file stands for.
    pub fn rdev(&self) -> u64 {
        self.rdev
    }
    /// st_size, as `MetadataExt::size()`; negative values never occur.
    pub fn size(&self) -> u64 {
        self.size as u64
    }
    /// st_size, as `Metadata::len()`.
    pub fn len(&self) -> u64 {
        self.size as u64
    }
    /// True for a size of 0 (also for a file that does not exist).
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
    /// st_blocks: 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.blocks as u64
    }
    /// Modification time, seconds since the epoch.
    pub fn mtime(&self) -> i64 {
        self.mtime
    }
    /// Modification time, the nanoseconds (below 10^9).
    pub fn mtime_nsec(&self) -> i64 {
        i64::from(self.mtime_nsec)
    }
    /// Status change time, seconds since the epoch.
    pub fn ctime(&self) -> i64 {
        self.ctime
    }
    /// Status change time, the nanoseconds (below 10^9).
    pub fn ctime_nsec(&self) -> i64 {
        i64::from(self.ctime_nsec)
    }
    /// st_blksize, the preferred I/O size; None for a file that does not
    /// exist.
    pub fn blksize(&self) -> Option<u32> {
        self.blksize
    }
    /// Access time as (seconds, nanoseconds), as of the writer's last
    /// stat() of the file (reads bring it no event: docs/FORMAT.md);
    /// None for a file that does not exist.  (The cache keeps no file
    /// whose times lie outside 1677-2262: stat() answers those.)
    pub fn atime(&self) -> Option<(i64, u32)> {
        self.atime
    }
    /// mtime in nanoseconds since the epoch (as Python's st_mtime_ns).
    pub fn mtime_ns(&self) -> i128 {
        i128::from(self.mtime) * 1_000_000_000 + i128::from(self.mtime_nsec)
    }
    /// ctime in nanoseconds since the epoch.
    pub fn ctime_ns(&self) -> i128 {
        i128::from(self.ctime) * 1_000_000_000 + i128::from(self.ctime_nsec)
    }
    /// mtime as a SystemTime, as `Metadata::modified()` (None for a file
    /// that does not exist).
    pub fn modified(&self) -> Option<SystemTime> {
        self.exists.then(|| time(self.mtime, self.mtime_nsec))
    }
    /// True for an existing regular file.
    pub fn is_file(&self) -> bool {
        self.exists && self.mode & libc::S_IFMT == libc::S_IFREG
    }
    /// True for an existing directory.
    pub fn is_dir(&self) -> bool {
        self.exists && self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// True when both describe the file the same way: every stat field
    /// (not where the answers came from).
    /// atime is left out (the cache's is the writer's last stat(), which
    /// a read since may have moved), and blksize when either lacks it.
    pub fn same_answer(&self, other: &Stat) -> bool {
        let norm = |s: &Stat| Stat { source: Source::Stat, blksize: None, atime: None, ..*s };
        norm(self) == norm(other) && (self.blksize.is_none() || other.blksize.is_none() || self.blksize == other.blksize)
    }
}

fn time(sec: i64, nsec: u32) -> SystemTime {
    let ns = Duration::new(sec.unsigned_abs(), 0);
    let t = if sec >= 0 { UNIX_EPOCH + ns } else { UNIX_EPOCH - ns };
    t + Duration::from_nanos(u64::from(nsec))
}

impl From<&Metadata> for Stat {
    /// The answer of a stat() the caller made (source `Stat`).
    fn from(m: &Metadata) -> Stat {
        Stat {
            exists: true,
            source: Source::Stat,
            err: 0,
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            dev: m.dev(),
            ino: m.ino(),
            nlink: m.nlink(),
            rdev: m.rdev(),
            size: m.size() as i64,
            blocks: m.blocks() as i64,
            mtime: m.mtime(),
            ctime: m.ctime(),
            mtime_nsec: m.mtime_nsec() as u32,
            ctime_nsec: m.ctime_nsec() as u32,
            blksize: Some(m.blksize() as u32),
            atime: Some((m.atime(), m.atime_nsec() as u32)),
        }
    }
}
