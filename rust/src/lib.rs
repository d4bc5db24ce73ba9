//! fstatcache: stat(2) answers from the shared memory of the `fstatcached`
//! writer, lock-free, with no system call on a hit.  A Rust reader of the
//! segment format 2.0 (docs/FORMAT.md), doing what the C reader
//! (`include/fstatcache/fstatcache.h`) does, check for check.
//!
//! ```no_run
//! use fstatcache::{Cursor, Handle, Poll};
//! use std::ops::ControlFlow;
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let h = Handle::open(None)?; // $FSTATCACHE_NAME, else "fstatcache"
//! let st = h.stat("/var/log/syslog")?; // cache, else stat() + watch
//! if st.exists() {
//!     println!("{} bytes ({:?})", st.len(), st.source());
//! }
//!
//! // Follow changes instead of polling every file.
//! let mut cur = Cursor::default();
//! loop {
//!     let r = h.changes(&mut cur, |c| {
//!         println!("{} {}", c.kind.name(), c.path.display());
//!         ControlFlow::Continue(())
//!     })?;
//!     if r == Poll::Resync {
//!         // look every path you follow up once (h.stat())
//!     }
//!     h.changes_wait(&cur, Duration::from_secs(1))?;
//! }
//! # }
//! ```
//!
//! What a handle does and guarantees is the C API's (see
//! `include/fstatcache/fstatcache.h`): a miss is never an error (stat()
//! answers, and the writer is asked to watch the path); the cache
//! answers only while a live writer serves it; a writer's replacement is
//! followed without reopening; every value read from the segment is
//! copied under its sequence count and validated before it is believed;
//! every loop is bounded by numbers checked when the segment was mapped.
//!
//! Needs 64-bit atomics (every 64-bit target, ARMv7, i686): the change
//! feed's positions and the entries' 64-bit fields are read whole.

#![cfg(target_os = "linux")]
#![warn(missing_docs)]

#[cfg(not(target_has_atomic = "64"))]
compile_error!("fstatcache needs lock-free 64-bit atomics");

mod attach;
mod contract;
mod error;
mod feed;
mod format;
mod handle;
mod lookup;
mod request;
mod seqlock;
mod shm;
mod stat;

pub use contract::{name_ok, path_ok, SERVICE_USER};
pub use error::{Error, Result};
pub use feed::{Change, ChangeKind, Cursor, Poll};
pub use handle::{Handle, Options, REQUEST_WAIT};
pub use lookup::{Lookup, RETRY_MAX};
pub use request::Op;
pub use stat::{Source, Stat};

/// The segment format this reader reads: (major, minor).
pub const FORMAT_VERSION: (u32, u32) = (format::FORMAT_MAJOR, format::FORMAT_MINOR);

#[cfg(test)]
mod tests {
    /// A handle may be shared by threads and sent between them.
    #[test]
    fn handle_is_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<crate::Handle>();
    }
}
