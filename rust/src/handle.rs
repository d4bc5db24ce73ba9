//! The reader handle: open by name, look paths up, stat() through the
//! cache.  The C API's fsc_open, fsc_lookup, fsc_lookup_many, fsc_stat
//! (reader/attach.h, lookup.h, count.h).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::attach::{Attacher, Map};
use crate::contract;
use crate::error::{Error, Result};
use crate::lookup::{self, Lookup};
use crate::stat::{Source, Stat};

/// Lookups between publications of a handle's counts to the segment.
const COUNT_BATCH: u64 = 1024;
/// Longest wait for room in the writer's queue (a watch request).
pub const REQUEST_WAIT: Duration = Duration::from_millis(1000);
/// Lookups whose home slots `lookup_many` fetches ahead.
const AHEAD: usize = 8;

/// How to open a handle (`Options::new().name("x").open()`).
#[derive(Clone, Debug, Default)]
pub struct Options {
    name: Option<String>,
    attached: bool,
    no_requests: bool,
    any_mount_ns: bool,
}

impl Options {
    /// The defaults: the default name, no writer required, requests on.
    pub fn new() -> Options {
        Options::default()
    }
    /// The instance name (default: `$FSTATCACHE_NAME`, else "fstatcache").
    pub fn name(mut self, name: &str) -> Options {
        self.name = Some(name.to_owned());
        self
    }
    /// Fail unless a live writer is attached now (FSC_OPEN_ATTACHED):
    /// then `open()` returns the attach error (NoSegment, NotTrusted,
    /// Corrupt, VersionMismatch, Again, ...).
    pub fn require_writer(mut self, yes: bool) -> Options {
        self.attached = yes;
        self
    }
    /// `Handle::stat()` never sends watch requests (FSC_OPEN_NO_REQUESTS).
    pub fn no_requests(mut self, yes: bool) -> Options {
        self.no_requests = yes;
        self
    }
    /// Be served by a writer in another mount namespace too
    /// (FSC_OPEN_ANY_MOUNT_NS; also `$FSTATCACHE_ANY_MOUNT_NS=1`): its
    /// paths may name other files than this process's (docs/FORMAT.md,
    /// "Readers in another mount namespace").  Without it such a writer
    /// is `Error::OtherMountNamespace` and lookups answer `Uncached`.
    pub fn any_mount_ns(mut self, yes: bool) -> Options {
        self.any_mount_ns = yes;
        self
    }
    /// Open the handle.
    pub fn open(self) -> Result<Handle> {
        Handle::open_with(self)
    }
}

/// A reader handle.
///
/// Thread safety: `Handle` is `Send + Sync`; any number of threads may
/// share one, and lookups never lock.  When the writer is replaced the
/// handle maps the new segment and keeps the old mapping until it is
/// dropped, so a thread still reading the old one never touches unmapped
/// memory (each writer restart during a handle's life costs one retired
/// mapping).  Lookup counts are per handle, exact for one thread,
/// approximate when threads share it.
pub struct Handle {
    pub(crate) at: Attacher,
    no_requests: bool,
    /// The socket for watch requests, connected once per writer.
    pub(crate) sock: UnixDatagram,
    pub(crate) sock_map: AtomicPtr<Map>,
    pub(crate) requests_dropped: AtomicU64,
}

pub(crate) fn key_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

impl Handle {
    /// Open a handle on instance `name` (None: `$FSTATCACHE_NAME`, else
    /// "fstatcache").  A missing or dead writer is not an error: lookups
    /// answer `Uncached` and the handle attaches when a writer appears.
    pub fn open(name: Option<&str>) -> Result<Handle> {
        let mut o = Options::new();
        if let Some(n) = name {
            o = o.name(n);
        }
        o.open()
    }

    fn open_with(o: Options) -> Result<Handle> {
        let name = match o.name {
            Some(n) => n,
            None => std::env::var("FSTATCACHE_NAME").ok().filter(|n| !n.is_empty()).unwrap_or_else(|| "fstatcache".into()),
        };
        if !contract::name_ok(&name) {
            return Err(Error::InvalidArgument);
        }
        // The segment must belong to us, root, the service user, or the
        // uid $FSTATCACHE_OWNER_UID names.
        // SAFETY: geteuid cannot fail and touches no memory of ours.
        let mut owner = unsafe { libc::geteuid() };
        if let Some(v) = std::env::var_os("FSTATCACHE_OWNER_UID").filter(|v| !v.is_empty()) {
            owner = v.to_str().and_then(|s| s.parse::<u32>().ok()).ok_or(Error::InvalidArgument)?;
        }
        let sock = UnixDatagram::unbound().map_err(|e| Error::from_io(&e))?;
        // A full writer queue makes a watch request wait, boundedly.
        sock.set_write_timeout(Some(REQUEST_WAIT)).map_err(|e| Error::from_io(&e))?;
        let h = Handle {
            at: Attacher::new(name, owner, o.any_mount_ns || std::env::var_os("FSTATCACHE_ANY_MOUNT_NS").map_or(false, |v| v == "1")),
            no_requests: o.no_requests,
            sock,
            sock_map: AtomicPtr::new(std::ptr::null_mut()),
            requests_dropped: AtomicU64::new(0),
        };
        let r = h.at.reattach(None, false);
        match r {
            Err(e) if o.attached => Err(e),
            _ => Ok(h),
        }
    }

    /// The instance name.
    pub fn name(&self) -> &str {
        &self.at.name
    }

    /// True when attached to a live, serving writer.
    pub fn attached(&self) -> bool {
        self.at.current().is_some()
    }

    /// Why the handle is not attached: None while attached (or before the
    /// first attempt), else the error of its last attempt (NoSegment: no
    /// writer, VersionMismatch, NotTrusted, Corrupt, ...).
    pub fn attach_error(&self) -> Option<Error> {
        if self.at.current().is_some() {
            return None;
        }
        match self.at.attach_err.load(Relaxed) {
            0 => None,
            e => Some(Error::from_errno(e)),
        }
    }

    /// Count a lookup result (cheap: a relaxed load and store, no
    /// read-modify-write) and publish the counts every 1024 lookups.
    #[inline]
    fn count(&self, r: Lookup) -> Lookup {
        let c = &self.at.counts[r.count_index()];
        let n = c.load(Relaxed) + 1;
        c.store(n, Relaxed);
        if n % COUNT_BATCH == 0 {
            self.at.publish_counts();
        }
        r
    }

    /// Look `path` up in the cache only: no lock, no system call on a hit.
    pub fn lookup<P: AsRef<Path>>(&self, path: P) -> Lookup {
        let key = key_bytes(path.as_ref());
        if key.len() < 2 || key[0] != b'/' {
            return self.count(Lookup::Uncached);
        }
        let m = match self.at.current() {
            Some(m) => m,
            None => return self.count(Lookup::Uncached),
        };
        let r = match lookup::key_hash(m, key) {
            Some(hash) => lookup::miss_or_uncached(lookup::lookup_map(m, key, hash), key),
            None => Lookup::Uncached,
        };
        self.count(r)
    }

    /// Look up many paths: element i is what `lookup(paths[i])` would
    /// give.  Faster than one call each when the table is larger than the
    /// CPU caches: the slots of the next few paths are fetched from memory
    /// while the current one is compared.
    pub fn lookup_many<P: AsRef<Path>>(&self, paths: &[P]) -> Vec<Lookup> {
        let mut out = Vec::with_capacity(paths.len());
        let m = match self.at.current() {
            Some(m) => m,
            None => {
                out.extend(paths.iter().map(|p| self.lookup(p)));
                return out;
            }
        };
        let prepare = |p: &P| {
            let k = key_bytes(p.as_ref());
            let h = lookup::key_hash(m, k);
            if let Some(h) = h {
                lookup::prefetch_home(m, h, k.len());
            }
            h
        };
        let mut hashes = [None; AHEAD];
        for (i, p) in paths.iter().take(AHEAD).enumerate() {
            hashes[i] = prepare(p);
        }
        for (i, p) in paths.iter().enumerate() {
            let k = key_bytes(p.as_ref());
            let r = match hashes[i % AHEAD] {
                Some(hash) => lookup::lookup_map(m, k, hash),
                None => Lookup::Uncached,
            };
            if let Some(next) = paths.get(i + AHEAD) {
                hashes[i % AHEAD] = prepare(next);
            }
            out.push(self.count(lookup::miss_or_uncached(r, k)));
        }
        out
    }

    /// stat(2) through the cache: a hit answers from memory; otherwise
    /// stat() answers (source `Stat`) and, on a miss, the writer is asked
    /// to watch the path (unless opened with `no_requests`).  A path that
    /// does not exist (ENOENT, ENOTDIR) is an answer with `exists()`
    /// false; other stat(2) errors are errors.
    pub fn stat<P: AsRef<Path>>(&self, path: P) -> Result<Stat> {
        let path = path.as_ref();
        let r = self.lookup(path);
        let st = match r {
            Lookup::Hit(st) => return Ok(st),
            _ => stat_now(path)?,
        };
        if r == Lookup::Miss && !self.no_requests {
            let _ = self.request_watch(path); // counted when dropped
        }
        Ok(st)
    }

    /// Watch requests this handle gave up on (the writer's queue stayed
    /// full for `REQUEST_WAIT`).
    pub fn requests_dropped(&self) -> u64 {
        self.requests_dropped.load(Relaxed)
    }

    /// Lookups this handle answered: (hits, misses, uncached).
    pub fn lookup_counts(&self) -> (u64, u64, u64) {
        let c = &self.at.counts;
        (c[0].load(Relaxed), c[1].load(Relaxed), c[2].load(Relaxed))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.at.publish_counts();
    }
}

/// The caller's own stat(2) (symlinks followed).
pub(crate) fn stat_now(path: &Path) -> Result<Stat> {
    match std::fs::metadata(path) {
        Ok(md) => Ok(Stat::from(&md)),
        Err(e) => match e.raw_os_error() {
            Some(n) if n == libc::ENOENT || n == libc::ENOTDIR => Ok(Stat::absent(Source::Stat, n)),
            Some(n) => Err(Error::Os(n)),
            None => Err(Error::InvalidArgument), // a NUL inside the path
        },
    }
}

/// A path from feed bytes.
pub(crate) fn path_of(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}
