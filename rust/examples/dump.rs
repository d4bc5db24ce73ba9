//! dump: the Rust reader's answers, one JSON line per path, for
//! tests/test_readers_agree.py, which compares them with the C and Go
//! readers' (tests/fsc_dump.c, go/cmd/fscdump print the same lines, byte
//! for byte).
//!
//!     cargo run --example dump -- [--many] NAME < PATHS
//!
//! It opens instance NAME (a live writer required), reads paths from
//! stdin, one per line, and looks each up with `Handle::lookup` (--many:
//! all at once with `Handle::lookup_many`): the cache only, never stat().
//! Per path:
//!
//! ```text
//! {"path":P,"status":"hit","exists":B,"err":N,"source":"cache",
//!  "dev":N,"ino":N,"mode":N,"nlink":N,"uid":N,"gid":N,"rdev":N,
//!  "size":N,"blocks":N,"mtime_sec":N,"mtime_nsec":N,"ctime_sec":N,
//!  "ctime_nsec":N,"blksize":N,"atime_sec":N,"atime_nsec":N}
//! {"path":P,"status":"miss"}         also "uncached"
//! ```
//!
//! blksize and the atime are null for a cached "does not exist" (format
//! 2.0 holds both for every file that exists), as the C and Go dumps print
//! them.
//!
//! P is escaped: '"' and '\' with a backslash, bytes below 0x20 and 0x7f
//! as \u00XX, every other byte as it is.  ("error" is the C reader's
//! only: a lookup has no error result.)  Exit 0, or 1 with a message.

use fstatcache::{Lookup, Options, Source};
use std::ffi::OsStr;
use std::io::{self, BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::exit;

fn fail(what: &str) -> ! {
    eprintln!("dump: {}", what);
    exit(1);
}

fn put_path(out: &mut Vec<u8>, p: &[u8]) {
    out.push(b'"');
    for &c in p {
        match c {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', c]),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{:04x}", c).as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn answer(out: &mut Vec<u8>, path: &[u8], r: &Lookup) {
    out.extend_from_slice(b"{\"path\":");
    put_path(out, path);
    let st = match r {
        Lookup::Miss => return out.extend_from_slice(b",\"status\":\"miss\"}\n"),
        Lookup::Uncached => return out.extend_from_slice(b",\"status\":\"uncached\"}\n"),
        Lookup::Hit(st) => st,
    };
    let source = if st.source() == Source::Cache { "cache" } else { "stat" };
    let line = format!(
        ",\"status\":\"hit\",\"exists\":{},\"err\":{},\"source\":\"{}\"\
         ,\"dev\":{},\"ino\":{},\"mode\":{},\"nlink\":{}\
         ,\"uid\":{},\"gid\":{},\"rdev\":{}\
         ,\"size\":{},\"blocks\":{}\
         ,\"mtime_sec\":{},\"mtime_nsec\":{}\
         ,\"ctime_sec\":{},\"ctime_nsec\":{}\
         ,\"blksize\":{},\"atime_sec\":{},\"atime_nsec\":{}}}\n",
        st.exists(),
        st.error(),
        source,
        st.dev(),
        st.ino(),
        st.mode(),
        st.nlink(),
        st.uid(),
        st.gid(),
        st.rdev(),
        st.size(),
        st.blocks(),
        st.mtime(),
        st.mtime_nsec(),
        st.ctime(),
        st.ctime_nsec(),
        st.blksize().map_or("null".to_string(), |b| b.to_string()),
        st.atime().map_or("null".to_string(), |a| a.0.to_string()),
        st.atime().map_or("null".to_string(), |a| a.1.to_string())
    );
    out.extend_from_slice(line.as_bytes());
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let many = args.len() == 2 && args[0] == "--many";
    if many {
        args.remove(0);
    }
    if args.len() != 1 {
        eprintln!("usage: dump [--many] NAME < PATHS");
        exit(1);
    }
    let h = Options::new()
        .name(&args[0])
        .require_writer(true)
        .no_requests(true)
        .open()
        .unwrap_or_else(|e| fail(&format!("open {}: {}", args[0], e)));
    let mut paths: Vec<Vec<u8>> = Vec::new();
    let stdin = io::stdin();
    let mut input = stdin.lock();
    loop {
        let mut line = Vec::new();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                paths.push(line);
            }
            Err(e) => fail(&format!("reading stdin: {}", e)),
        }
    }
    let as_paths: Vec<&Path> = paths.iter().map(|p| Path::new(OsStr::from_bytes(p))).collect();
    let results: Vec<Lookup> =
        if many { h.lookup_many(&as_paths) } else { as_paths.iter().map(|p| h.lookup(p)).collect() };
    let mut out = Vec::new();
    for (p, r) in paths.iter().zip(&results) {
        answer(&mut out, p, r);
    }
    let stdout = io::stdout();
    let mut w = stdout.lock();
    if let Err(e) = w.write_all(&out).and_then(|_| w.flush()) {
        fail(&format!("writing stdout: {}", e));
    }
}
