//! Start and stop a real fstatcached for the integration tests (the Rust
//! counterpart of tests/harness.c and python/tests/fsctest.py).
//!
//! Every writer gets a unique instance name and a private temporary
//! directory (the files under test and its control socket live there).
//! Readiness is a pipe handed to the writer as --ready-fd: it writes
//! "READY\n" once it serves, so nothing waits by sleeping; tests use the
//! sync barrier after changes.  `stop()` sends SIGTERM and checks exit
//! status 0 and that no segment or socket is left; dropping a Writer
//! kills whatever is left and removes it, even when a test failed.  A
//! writer also dies with the test thread that started it
//! (PR_SET_PDEATHSIG), so a crashing test leaves no daemon behind.
//!
//! Environment (meson sets it): FSTATCACHED, FSTATCACHE_TOOL.

#![allow(dead_code)] // each test file uses its own part of this

use std::fs;
use std::io::Read;
use std::os::unix::io::FromRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A guard against a hung writer, never a timing expectation.
pub const GUARD: Duration = Duration::from_secs(120);
/// A generous timeout for control requests.
pub const CONTROL: Option<Duration> = Some(Duration::from_secs(60));

static SERIAL: AtomicU32 = AtomicU32::new(0);

pub fn writer_binary() -> String {
    std::env::var("FSTATCACHED").unwrap_or_else(|_| "fstatcached".into())
}

pub fn tool_binary() -> String {
    std::env::var("FSTATCACHE_TOOL").unwrap_or_else(|_| "fstatcache".into())
}

/// The segment objects of instance `name` that exist.
pub fn shm_objects(name: &str) -> Vec<PathBuf> {
    ["", ".use", ".feed", ".req", ".tags"]
        .iter()
        .map(|s| PathBuf::from(format!("/dev/shm/fstatcache.{}{}", name, s)))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// A unique instance name: "rs<pid>x<serial>x<nanos>".
pub fn unique_name() -> String {
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("rs{}x{}x{:08x}", std::process::id(), n, t)
}

pub struct Writer {
    pub name: String,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub extra: Vec<String>,
    pub env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Writer {
    /// A writer (not started yet) with a fresh name and directory.
    pub fn new(extra: &[&str]) -> Writer {
        let name = unique_name();
        let dir = std::env::temp_dir().join(format!("fsc-rs.{}", name));
        fs::create_dir(&dir).expect("create the test directory");
        // Canonical: the cache keys are canonical paths (no symlinks).
        let dir = fs::canonicalize(&dir).unwrap();
        let socket = dir.join("ctl.sock");
        Writer { name, dir, socket, extra: extra.iter().map(|s| s.to_string()).collect(), env: Vec::new(), child: None }
    }

    /// new() then start().
    pub fn started(extra: &[&str]) -> Writer {
        let mut w = Writer::new(extra);
        w.start();
        w
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Start the writer and wait until it says READY on its pipe.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "writer {} already running", self.name);
        let mut fds = [0; 2];
        // SAFETY: fds is live; pipe2 fills it.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let (r, w) = (fds[0], fds[1]);
        let parent = std::process::id() as libc::pid_t;
        let mut cmd = Command::new(writer_binary());
        cmd.args(["--name", &self.name, "--socket"])
            .arg(&self.socket)
            .args(["--ready-fd", "3", "-q"])
            .args(&self.extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // dup2 clears close-on-exec on the copy the writer keeps
                // (but does nothing when the pipe already is fd 3).
                if w == 3 {
                    if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(w, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Die with the thread that started us; the check closes the race.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(125);
                }
                Ok(())
            });
        }
        let child = cmd.spawn();
        // SAFETY: w is ours; the child has its own copy.
        unsafe { libc::close(w) };
        // SAFETY: r is ours alone from here on.
        let mut pipe = unsafe { fs::File::from_raw_fd(r) };
        let mut child = child.unwrap_or_else(|e| panic!("cannot start {}: {}", writer_binary(), e));
        let mut got = Vec::new();
        let mut pfd = libc::pollfd { fd: r, events: libc::POLLIN, revents: 0 };
        while !got.ends_with(b"\n") {
            // SAFETY: pfd is live.
            let n = unsafe { libc::poll(&mut pfd, 1, GUARD.as_millis() as i32) };
            if n == 0 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("writer {} not ready after {:?}", self.name, GUARD);
            }
            let mut b = [0u8; 64];
            let k = pipe.read(&mut b).unwrap_or(0);
            if k == 0 {
                let st = child.wait().unwrap();
                panic!("writer {} exited with {} before it was ready", self.name, st);
            }
            got.extend_from_slice(&b[..k]);
        }
        assert_eq!(got, b"READY\n", "writer {} wrote {:?} on its ready fd", self.name, String::from_utf8_lossy(&got));
        self.child = Some(child);
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("writer running").id()
    }

    /// Send `sig` and reap; the exit status.  A writer without robust
    /// futexes (a flagged segment, as under qemu-user) is then marked dead
    /// as the kernel would mark a robust futex, once its lock is seen
    /// free, so tests can assert "the first lookup after the writer is
    /// reaped falls back" everywhere (tests/harness.c does the same);
    /// lifetime.rs tests the lock itself with kill_unmarked().
    pub fn kill(&mut self, sig: i32) -> std::process::ExitStatus {
        let st = self.kill_unmarked(sig);
        if st.signal().is_some() {
            self.mark_dead_like_the_kernel();
        }
        st
    }

    /// Send `sig` and reap, nothing more.
    pub fn kill_unmarked(&mut self, sig: i32) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("writer running");
        // SAFETY: plain kill(2) of our own child, not yet reaped.
        unsafe { libc::kill(c.id() as libc::pid_t, sig) };
        c.wait().unwrap()
    }

    fn mark_dead_like_the_kernel(&self) {
        let f = match fs::OpenOptions::new().read(true).write(true).open(format!("/dev/shm/fstatcache.{}", self.name)) {
            Ok(f) => f,
            Err(_) => return,
        };
        use std::os::unix::io::AsRawFd;
        // SAFETY: a fresh shared mapping of the header page of an object
        // at least that large (the writer sized it before serving).
        let p = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, f.as_raw_fd(), 0) };
        assert_ne!(p, libc::MAP_FAILED, "map {}", self.name);
        // SAFETY: offsets 36 (flags) and 68 (writer_alive) are aligned
        // words inside the mapping; atomics, as readers use them.
        let (flags, alive) = unsafe {
            let b = p as *const u8;
            (&*(b.add(36) as *const AtomicU32), &*(b.add(68) as *const AtomicU32))
        };
        if flags.load(Ordering::Relaxed) & 0x1 != 0 && alive.load(Ordering::Relaxed) != 0 {
            // SAFETY: an all-zero flock is valid; fcntl fills it.
            let mut fl: libc::flock = unsafe { std::mem::zeroed() };
            fl.l_type = libc::F_RDLCK as _;
            fl.l_whence = libc::SEEK_SET as _;
            // SAFETY: the descriptor is open; fl is live.
            assert_eq!(unsafe { libc::fcntl(f.as_raw_fd(), 36, &mut fl) }, 0, "F_OFD_GETLK");
            assert_eq!(fl.l_type, libc::F_UNLCK as _, "writer {} is reaped but its lock is held", self.name);
            alive.fetch_or(0x4000_0000, Ordering::SeqCst);
        }
        // SAFETY: unmapping what we mapped; the views above are dead.
        unsafe { libc::munmap(p, 4096) };
    }

    /// SIGTERM; assert exit 0 and that no segment or socket remains.
    pub fn stop(&mut self) {
        if self.child.is_none() {
            return;
        }
        let st = self.kill(libc::SIGTERM);
        assert!(st.success(), "writer {} on SIGTERM: {}, want exit 0", self.name, st);
        let left = shm_objects(&self.name);
        assert!(left.is_empty(), "writer {} left {:?} behind", self.name, left);
        assert!(self.socket.symlink_metadata().is_err(), "writer {} left its socket behind", self.name);
    }

    /// Run the fstatcache tool on this instance.
    pub fn tool(&self, args: &[&str]) -> Output {
        let out = Command::new(tool_binary())
            .arg(args[0])
            .args(["--name", &self.name])
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {}", tool_binary(), e));
        assert!(
            out.status.success(),
            "fstatcache {:?}: {}: {}",
            args,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The barrier, through the tool (independent of the crate).
    pub fn sync(&self) {
        self.tool(&["sync"]);
    }

    pub fn write(&self, rel: &str, data: &str) -> PathBuf {
        use std::io::Write;
        let p = self.path(rel);
        let mut f = fs::OpenOptions::new().create(true).append(true).open(&p).unwrap();
        f.write_all(data.as_bytes()).unwrap();
        p
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for p in shm_objects(&self.name) {
            let _ = fs::remove_file(p);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Assert that `got` equals std::fs::metadata(path) field by field.
pub fn assert_same_stat(got: &fstatcache::Stat, path: &Path) {
    use std::os::unix::fs::MetadataExt;
    let md = fs::metadata(path).unwrap();
    assert!(got.exists(), "{}", path.display());
    let pairs = [
        ("dev", got.dev(), md.dev()),
        ("ino", got.ino(), md.ino()),
        ("mode", u64::from(got.mode()), u64::from(md.mode())),
        ("nlink", got.nlink(), md.nlink()),
        ("uid", u64::from(got.uid()), u64::from(md.uid())),
        ("gid", u64::from(got.gid()), u64::from(md.gid())),
        ("size", got.size(), md.size()),
        ("blocks", got.blocks(), md.blocks()),
        ("rdev", got.rdev(), md.rdev()),
        ("mtime", got.mtime() as u64, md.mtime() as u64),
        ("mtime_nsec", got.mtime_nsec() as u64, md.mtime_nsec() as u64),
        ("ctime", got.ctime() as u64, md.ctime() as u64),
        ("ctime_nsec", got.ctime_nsec() as u64, md.ctime_nsec() as u64),
        ("blksize", u64::from(got.blksize().expect("blksize")), md.blksize()),
    ];
    // The writer's last stat(): a read since may have moved atime.
    assert!(got.atime().is_some(), "atime of {}", path.display());
    for (name, a, b) in pairs {
        assert_eq!(a, b, "{} of {}", name, path.display());
    }
}
