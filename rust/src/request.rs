//! Talking to the writer over its control socket (include/fstatcache/
//! protocol.h; the C reader's reader/request.h and reader/admin.h).
//!
//! A miss is answered by the caller's own stat(); the writer learns of it
//! from one MISS datagram on the handle's own socket, connected once per
//! writer so the kernel does not resolve the socket's path on every send.
//! No reply is awaited.  Datagrams on one socket keep their order, so a
//! sync sent after the request covers it.  When the writer's queue is
//! full the send waits (SO_SNDTIMEO) at most REQUEST_WAIT, then the
//! request is dropped and counted.
//!
//! Control requests (watch, unwatch, invalidate, sync) go on a socket of
//! their own per call, bound to an abstract autobind address so the
//! writer can reply; the reply is matched by op and a random cookie, and
//! the wait wakes every 100 ms to notice a writer that died.

use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::attach::Map;
use crate::contract;
use crate::error::{Error, Result};
use crate::format::*;
use crate::handle::Handle;

/// A request datagram: the 24-byte header, then the path bytes.
fn request(op: u16, cookie: u64, path: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(REQUEST_HEADER + path.len());
    b.extend_from_slice(&MSG_MAGIC.to_ne_bytes());
    b.extend_from_slice(&PROTO_VERSION.to_ne_bytes());
    b.extend_from_slice(&op.to_ne_bytes());
    b.extend_from_slice(&cookie.to_ne_bytes());
    b.extend_from_slice(&(path.len() as u32).to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes()); // flags
    b.extend_from_slice(path);
    b
}

/// The writer's control socket address.
fn sockaddr(path: &[u8]) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    // The path fits with its NUL: checked when the map was made.
    for (d, s) in a.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    (a, std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t)
}

/// send(2)/sendto(2) with MSG_NOSIGNAL and `flags`; `to` None: connected.
fn send(fd: RawFd, buf: &[u8], flags: libc::c_int, to: Option<&[u8]>) -> std::io::Result<()> {
    let n = match to {
        // SAFETY: buf is live for the call; the socket is ours.
        None => unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags | libc::MSG_NOSIGNAL) },
        Some(p) => {
            let (a, len) = sockaddr(p);
            // SAFETY: buf and a are live for the call.
            unsafe {
                libc::sendto(
                    fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    flags | libc::MSG_NOSIGNAL,
                    (&a as *const libc::sockaddr_un).cast(),
                    len,
                )
            }
        }
    };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn connect(fd: RawFd, path: &[u8]) -> bool {
    let (a, len) = sockaddr(path);
    // SAFETY: a is live for the call; the socket is ours.
    unsafe { libc::connect(fd, (&a as *const libc::sockaddr_un).cast(), len) == 0 }
}

/// The control requests of `Handle::control()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Watch this path; the reply comes once it is cached.
    Watch,
    /// Stop watching this path and drop its entry.
    Unwatch,
    /// Unwatch everything and clear the table.
    Invalidate,
    /// The barrier: the reply comes once it holds.
    Sync,
}

impl Op {
    fn code(self) -> u16 {
        match self {
            Op::Watch => OP_WATCH,
            Op::Unwatch => OP_UNWATCH,
            Op::Invalidate => OP_INVALIDATE,
            Op::Sync => OP_SYNC,
        }
    }
}

static COOKIE: AtomicU64 = AtomicU64::new(0);

/// A cookie no other request of ours has: pid, the clock, a counter.
fn cookie() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let n = COOKIE.fetch_add(1, Relaxed);
    (u64::from(std::process::id()) << 32) ^ t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Handle {
    /// Ask the writer to watch and cache `path` (fire and forget: returns
    /// once the request is queued, so a later sync covers it).  When the
    /// writer's queue is full the call waits for room, at most
    /// `REQUEST_WAIT`, then gives the request up and counts it
    /// (`requests_dropped()`).  Errors: InvalidArgument (the path is not
    /// absolute and canonical, or too long), NotConnected (no writer),
    /// Again (given up), or an errno of sendto(2).
    pub fn request_watch<P: AsRef<Path>>(&self, path: P) -> Result<()> {
        let key = crate::handle::key_bytes(path.as_ref());
        if !contract::path_ok(key) || key.len() >= PATH_MAX_MAX as usize {
            return Err(Error::InvalidArgument);
        }
        let m = self.at.current().ok_or(Error::NotConnected)?;
        let buf = request(OP_MISS, 0, key);
        let fd = self.sock.as_raw_fd();
        // Connected once per writer: the kernel then skips resolving the
        // socket's path on every send.  Threads racing here connect twice.
        let mp = m as *const Map as *mut Map;
        if self.sock_map.load(Ordering::Acquire) != mp && connect(fd, &m.socket) {
            self.sock_map.store(mp, Ordering::Release);
        }
        let to = if self.sock_map.load(Ordering::Acquire) == mp { None } else { Some(&m.socket[..]) };
        let mut r = send(fd, &buf, libc::MSG_DONTWAIT, to);
        if let Err(e) = &r {
            if e.raw_os_error() == Some(libc::EAGAIN) {
                r = send(fd, &buf, 0, to); // waits at most SO_SNDTIMEO
            }
        }
        match r {
            Ok(()) => Ok(()),
            Err(e) => {
                self.requests_dropped.fetch_add(1, Relaxed);
                Err(match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => Error::Again,
                    Some(n) => Error::from_errno(n),
                    None => Error::Os(libc::EIO),
                })
            }
        }
    }

    /// The mapping for a control request: unlike a lookup, it does not
    /// settle for the rate limit or another thread's attach in progress,
    /// but waits (2 ms steps, until the deadline) while a writer is
    /// starting or another thread attaches.
    fn current_wait(&self, timeout: Option<Duration>) -> Option<&Map> {
        let deadline = Instant::now() + timeout.unwrap_or(Duration::from_secs(60));
        loop {
            if let Some(m) = self.at.current() {
                return Some(m);
            }
            let r = self.at.reattach(self.at.loaded(), true);
            if let Some(m) = self.at.loaded().filter(|m| m.serving()) {
                return Some(m);
            }
            if r != Err(Error::Again) || Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Send a control request and wait for the writer's reply, at most
    /// `timeout` (None: no limit; the wait ends anyway if the writer
    /// dies).  `path` is needed by Watch and Unwatch only.  Returns the
    /// writer's message (often empty) on success.  Errors: the writer's
    /// refusal (`Refused`), NotConnected (no live writer), TimedOut,
    /// WriterDied, InvalidArgument, or a socket errno.
    pub fn control(&self, op: Op, path: Option<&Path>, timeout: Option<Duration>) -> Result<String> {
        let key = path.map_or(&b""[..], crate::handle::key_bytes);
        if key.len() >= PATH_MAX_MAX as usize || key.contains(&0) {
            return Err(Error::InvalidArgument);
        }
        let m = self.current_wait(timeout).ok_or(Error::NotConnected)?;
        // SAFETY: socket(2) returns a new descriptor or -1.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Error::from_io(&std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh Unix datagram socket nobody else owns.
        let sock = unsafe { UnixDatagram::from_raw_fd(fd) };
        let fam = libc::AF_UNIX as libc::sa_family_t; // autobind: the writer replies to us
        let cookie = cookie();
        let buf = request(op.code(), cookie, key);
        // SAFETY: fam is live; an address of just the family autobinds.
        let bound = unsafe {
            libc::bind(fd, (&fam as *const libc::sa_family_t).cast(), std::mem::size_of::<libc::sa_family_t>() as _)
        };
        if bound < 0 {
            return Err(Error::from_io(&std::io::Error::last_os_error()));
        }
        send(fd, &buf, 0, Some(&m.socket)).map_err(|e| Error::from_io(&e))?;
        self.control_wait(&sock, op.code(), cookie, timeout)
    }

    fn control_wait(&self, sock: &UnixDatagram, op: u16, cookie: u64, timeout: Option<Duration>) -> Result<String> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut buf = vec![0u8; REPLY_HEADER + REPLY_MSG_MAX];
        loop {
            if deadline.map_or(false, |d| Instant::now() >= d) {
                return Err(Error::TimedOut);
            }
            let mut p = libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: p is live for the call.
            let r = unsafe { libc::poll(&mut p, 1, 100) }; // wake to notice a dead writer
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    return Err(Error::from_io(&e));
                }
            }
            if r <= 0 {
                if !self.at.loaded().map_or(false, |m| m.serving()) {
                    return Err(Error::WriterDied);
                }
                continue;
            }
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(_) => continue,
            };
            if n < REPLY_HEADER {
                continue;
            }
            let u32_at = |o: usize| u32::from_ne_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
            let u16_at = |o: usize| u16::from_ne_bytes([buf[o], buf[o + 1]]);
            let mut c = [0u8; 8];
            c.copy_from_slice(&buf[8..16]);
            let (magic, version, rop, rcookie) = (u32_at(0), u16_at(4), u16_at(6), u64::from_ne_bytes(c));
            let status = u32_at(16) as i32;
            let msg_len = u32_at(20) as usize;
            if magic != MSG_MAGIC || version != PROTO_VERSION || rop != op || rcookie != cookie || msg_len > n - REPLY_HEADER {
                continue;
            }
            let msg = String::from_utf8_lossy(&buf[REPLY_HEADER..REPLY_HEADER + msg_len]).into_owned();
            return match status {
                0 => Ok(msg),
                s if s > 0 => Err(Error::Corrupt),
                s => Err(Error::Refused { errno: -s, message: msg }),
            };
        }
    }

    /// The barrier: once it returns Ok, every change whose system call
    /// returned before the call, and every watch request this process
    /// sent before it, is visible to lookups and in the change feed.
    pub fn sync(&self, timeout: Option<Duration>) -> Result<()> {
        self.control(Op::Sync, None, timeout).map(|_| ())
    }

    /// Watch `path` and wait until it is cached.
    pub fn watch<P: AsRef<Path>>(&self, path: P, timeout: Option<Duration>) -> Result<()> {
        self.control(Op::Watch, Some(path.as_ref()), timeout).map(|_| ())
    }

    /// Stop watching `path`.
    pub fn unwatch<P: AsRef<Path>>(&self, path: P, timeout: Option<Duration>) -> Result<()> {
        self.control(Op::Unwatch, Some(path.as_ref()), timeout).map(|_| ())
    }
}
