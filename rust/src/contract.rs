//! The rules writer and readers obey (`include/fstatcache/contract.h`):
//! instance names, canonical keys, the geometry a reader trusts, whose
//! objects are trusted, which copied values are sane.  Nothing here
//! touches shared memory: every function is pure or looks at a private
//! copy.

use crate::format::*;

/// Bytes of an instance name.
pub const NAME_MAX: usize = 64;

/// An instance name: 1 to 64 letters, digits, `_` or `-` (no `.`, so the
/// `.use` and `.feed` suffixes cannot collide with another instance).
pub fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// The shm_open(3) name of an instance's object (`""`, `".use"`, `".feed"`).
pub(crate) fn shm_name(name: &str, suffix: &str) -> String {
    format!("/fstatcache.{}{}", name, suffix)
}

/// A cacheable key: an absolute path without empty, `.` or `..`
/// components, without a trailing slash and without NUL.  The cache
/// compares strings, so only this one spelling of a file is cached; other
/// spellings are answered by stat().
pub fn path_ok(p: &[u8]) -> bool {
    if p.len() < 2 || p[0] != b'/' || p.contains(&0) {
        return false;
    }
    p[1..]
        .split(|&c| c == b'/')
        .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// The geometry fields of a private copy of a table header.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Geometry {
    pub magic: u64,
    pub version_major: u32,
    pub header_size: u32,
    pub entry_size: u32,
    pub slot_count: u32,
    pub probe_limit: u32,
    pub path_max: u32,
    pub flags: u32,
    pub segment_size: u64,
    pub hash_seed: u64,
    pub epoch: u64,
}

/// fsc_geometry_check(): true when every rule holds, in the C reader's
/// order (magic, version, header size, slots, path area, entry size,
/// probe limit, segment size, object size).  An entry holds its head,
/// path area and cold tail; a newer minor may make entries longer than
/// the writer's rounded size, entry_size(path_max), by at most 4096
/// bytes.
pub(crate) fn geometry_ok(h: &Geometry, object_size: u64) -> bool {
    let (n, pm, es) = (h.slot_count, h.path_max, h.entry_size);
    h.magic == MAGIC
        && h.version_major == FORMAT_MAJOR
        && h.header_size == HEADER_SIZE
        && (SLOTS_MIN..=SLOTS_MAX).contains(&n)
        && n.is_power_of_two()
        && (PATH_MAX_MIN..=PATH_MAX_MAX).contains(&pm)
        && pm % 8 == 0
        && u64::from(es) >= u64::from(ENTRY_FIXED) + u64::from(pm) + u64::from(ENTRY_COLD)
        && es % 8 == 0
        && es <= entry_size(PATH_MAX_MAX) + 4096
        && h.probe_limit >= 1
        && h.probe_limit <= PROBE_LIMIT_MAX
        && h.probe_limit <= n
        && h.segment_size == u64::from(HEADER_SIZE) + u64::from(n) * u64::from(es)
        && object_size == h.segment_size
}

/// The system user the packaged service runs as.  Only root can create
/// users, so an object it owns is not a squatter's.
pub const SERVICE_USER: &str = "fstatcache";

/// True when `uid` is the service user's (getpwuid_r(3)).
fn service_user(uid: u32) -> bool {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: an all-zero passwd is a valid value of this plain C struct.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to live memory of the size passed;
    // getpwuid_r writes only into pw and buf.
    let r = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut res) };
    if r != 0 || res.is_null() || pw.pw_name.is_null() {
        return false;
    }
    // SAFETY: on success pw_name points at a NUL-terminated string in buf.
    let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
    name.to_bytes() == SERVICE_USER.as_bytes()
}

/// Squatting (anyone can create a name in /dev/shm first): an object is
/// trusted when it is a regular file owned by `owner`, root or the service
/// user, never writable by others and, unless `rw` (the recency object,
/// which a group may share for writing), not writable by the group.
pub(crate) fn owner_ok(st: &libc::stat, owner: u32, rw: bool) -> bool {
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return false;
    }
    if st.st_uid != owner && st.st_uid != 0 && !service_user(st.st_uid) {
        return false;
    }
    if !rw && st.st_mode & (libc::S_IWGRP | libc::S_IWOTH) != 0 {
        return false;
    }
    st.st_mode & libc::S_IWOTH == 0
}

/// A file type stat(2) can answer.
pub(crate) fn mode_ok(mode: u32) -> bool {
    matches!(
        mode & libc::S_IFMT,
        libc::S_IFREG | libc::S_IFDIR | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name_ok("fstatcache"));
        assert!(name_ok("a-b_C9"));
        assert!(name_ok(&"x".repeat(64)));
        assert!(!name_ok(&"x".repeat(65)));
        assert!(!name_ok(""));
        assert!(!name_ok("a.b"));
        assert!(!name_ok("a/b"));
    }

    #[test]
    fn keys() {
        for ok in ["/a", "/var/log/syslog", "/a/.b", "/a/..b", "/a/b..", "/..."] {
            assert!(path_ok(ok.as_bytes()), "{}", ok);
        }
        for bad in [
            "", "/", "a", "a/b", "//a", "/a/", "/a//b", "/./a", "/a/.", "/a/../b", "/..", "/a\0b",
        ] {
            assert!(!path_ok(bad.as_bytes()), "{:?}", bad);
        }
    }

    /// A valid header of `path_max` and `entry_size`, 16 slots.
    fn geometry(path_max: u32, entry_size: u32) -> Geometry {
        Geometry {
            magic: MAGIC,
            version_major: FORMAT_MAJOR,
            header_size: HEADER_SIZE,
            entry_size,
            slot_count: 16,
            probe_limit: 8,
            path_max,
            segment_size: u64::from(HEADER_SIZE) + 16 * u64::from(entry_size),
            ..Geometry::default()
        }
    }

    /// Format 2.0: an entry holds its 96-byte head, the path area and the
    /// 16-byte cold tail; the writer rounds that up to 128 bytes, and a
    /// newer minor may add up to 4096 bytes after it.
    #[test]
    fn entry_sizes() {
        assert_eq!(entry_size(256), 384);
        assert_eq!(entry_size(64), 256);
        assert_eq!(entry_size(4096), 4224);
        let ok = |pm, es| {
            let h = geometry(pm, es);
            geometry_ok(&h, h.segment_size)
        };
        for (pm, es) in [(256, 384), (256, 96 + 256 + 16), (64, 176), (4096, 4224 + 4096)] {
            assert!(ok(pm, es), "path_max {} entry_size {}", pm, es);
        }
        for (pm, es) in [(256, 96 + 256 + 8), (256, 96 + 256), (256, 388), (4096, 4224 + 4104)] {
            assert!(!ok(pm, es), "path_max {} entry_size {}", pm, es);
        }
        let mut h = geometry(256, 384);
        h.version_major = 1;
        assert!(!geometry_ok(&h, h.segment_size));
    }

    #[test]
    fn modes() {
        assert!(mode_ok(libc::S_IFREG | 0o644));
        assert!(mode_ok(libc::S_IFDIR | 0o755));
        assert!(!mode_ok(libc::S_IFLNK | 0o777));
        assert!(!mode_ok(0));
    }
}

/// This process's mount namespace (the inode of /proc/self/ns/mnt), 0
/// when it cannot be told.
pub(crate) fn mnt_ns_self() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/mnt").map_or(0, |m| m.ino())
}

/// May a reader in mount namespace `me` (0: unknown) be served from a
/// writer that recorded `writer` (0: unknown)?  Only in the same one,
/// unless it opted in; a reader that cannot tell its own is not served
/// (contract.h, fsc_mnt_ns_ok).
pub(crate) fn mnt_ns_ok(writer: u64, me: u64, any: bool) -> bool {
    any || writer == 0 || (me != 0 && me == writer)
}
