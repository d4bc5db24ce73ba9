//! Errors: one variant per error the C API names (fstatcache.h), each
//! with the errno the C reader returns, so programs in both languages can
//! compare them.

use std::fmt;
use std::io;

/// Why a call failed.  `errno()` gives the C API's (positive) errno.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// EINVAL: bad argument, instance name or path.
    InvalidArgument,
    /// ENOENT: no segment under that name (or no live writer in it).
    NoSegment,
    /// EPERM: the segment is owned by an unexpected user or writable by
    /// others (squatting).
    NotTrusted,
    /// EPROTO: the segment, or a feed record, fails validation: corruption.
    Corrupt,
    /// EPROTONOSUPPORT: the segment is of another format major: this
    /// reader is too old or too new for the writer (counted in the
    /// segment; `fstatcache inspect` shows it).
    VersionMismatch,
    /// EAGAIN: the writer is still starting, or a watch request was given
    /// up after waiting for room in the writer's queue.
    Again,
    /// ENOTCONN: no live writer for a request.
    NotConnected,
    /// ETIMEDOUT: a control request was not answered in time.
    TimedOut,
    /// ECONNRESET: the writer died before answering.
    WriterDied,
    /// EOPNOTSUPP: the writer keeps no change feed (an older writer).
    NoFeed,
    /// EXDEV: the writer runs in another mount namespace, whose paths may
    /// name other files than this process's (`Options::any_mount_ns`,
    /// `$FSTATCACHE_ANY_MOUNT_NS=1`, to be served anyway).
    OtherMountNamespace,
    /// The writer refused a control request: its errno and message.
    Refused {
        /// The writer's (positive) errno.
        errno: i32,
        /// The writer's explanation, possibly empty.
        message: String,
    },
    /// Any other errno (stat(2), shm_open(3), mmap(2), socket calls).
    Os(i32),
}

impl Error {
    pub(crate) fn from_errno(e: i32) -> Error {
        match e {
            libc::EINVAL => Error::InvalidArgument,
            libc::ENOENT => Error::NoSegment,
            libc::EPERM => Error::NotTrusted,
            libc::EPROTO => Error::Corrupt,
            libc::EPROTONOSUPPORT => Error::VersionMismatch,
            libc::EAGAIN => Error::Again,
            libc::ENOTCONN => Error::NotConnected,
            libc::ETIMEDOUT => Error::TimedOut,
            libc::ECONNRESET => Error::WriterDied,
            libc::EOPNOTSUPP => Error::NoFeed,
            libc::EXDEV => Error::OtherMountNamespace,
            e => Error::Os(e),
        }
    }

    pub(crate) fn from_io(e: &io::Error) -> Error {
        match e.raw_os_error() {
            Some(n) => Error::from_errno(n),
            None => Error::Os(libc::EIO),
        }
    }

    /// The errno the C reader returns (negated there) for this error.
    pub fn errno(&self) -> i32 {
        match self {
            Error::InvalidArgument => libc::EINVAL,
            Error::NoSegment => libc::ENOENT,
            Error::NotTrusted => libc::EPERM,
            Error::Corrupt => libc::EPROTO,
            Error::VersionMismatch => libc::EPROTONOSUPPORT,
            Error::Again => libc::EAGAIN,
            Error::NotConnected => libc::ENOTCONN,
            Error::TimedOut => libc::ETIMEDOUT,
            Error::WriterDied => libc::ECONNRESET,
            Error::NoFeed => libc::EOPNOTSUPP,
            Error::OtherMountNamespace => libc::EXDEV,
            Error::Refused { errno, .. } => *errno,
            Error::Os(e) => *e,
        }
    }
}

impl fmt::Display for Error {
    /// The messages of fsc_strerror().
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Corrupt => f.write_str("shared-memory segment failed validation"),
            Error::VersionMismatch => f.write_str("segment format not supported by this reader"),
            Error::NotTrusted => f.write_str("segment owned by another user or writable by others"),
            Error::NotConnected => f.write_str("no live fstatcached writer for this name"),
            Error::WriterDied => f.write_str("the writer died before answering"),
            Error::TimedOut => f.write_str("the writer did not answer in time"),
            Error::NoFeed => f.write_str("the writer keeps no change feed (an older writer)"),
            Error::OtherMountNamespace => f.write_str("the writer runs in another mount namespace"),
            Error::Refused { errno, message } if message.is_empty() => {
                write!(f, "{}", io::Error::from_raw_os_error(*errno))
            }
            Error::Refused { message, .. } => f.write_str(message),
            e => write!(f, "{}", io::Error::from_raw_os_error(e.errno())),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Os(n) => io::Error::from_raw_os_error(n),
            e => io::Error::new(io::Error::from_raw_os_error(e.errno()).kind(), e),
        }
    }
}

/// The result of every fallible call of this crate.
pub type Result<T> = std::result::Result<T, Error>;
