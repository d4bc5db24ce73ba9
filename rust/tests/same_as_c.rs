//! The Rust reader and the C reader (through `fstatcache stat --json`)
//! give the same answers, from the same writer, on a randomized workload
//! of creations, appends, truncations, deletions, renames, links and
//! chmods, compared after every sync.  FSC_SEED=N replays a run; the seed
//! is in every failure message.

mod common;

use common::{Writer, CONTROL};
use fstatcache::{Options, Source};
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;

const FILES: usize = 16;
const STEPS: usize = 25;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One line of `fstatcache stat --json`: its keys and raw values.
fn parse_line(line: &str) -> HashMap<String, String> {
    let body = line.trim().trim_start_matches('{').trim_end_matches('}');
    body.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once(':').unwrap_or_else(|| panic!("bad JSON {:?}", line));
            (k.trim_matches('"').to_owned(), v.trim_matches('"').to_owned())
        })
        .collect()
}

fn step(rng: &mut Rng, w: &Writer, paths: &[std::path::PathBuf]) {
    let p = &paths[rng.below(paths.len())];
    let q = &paths[rng.below(paths.len())];
    match rng.below(7) {
        0 | 1 => {
            let data = "x".repeat(1 + rng.below(5000));
            w.write(p.strip_prefix(&w.dir).unwrap().to_str().unwrap(), &data);
        }
        2 => {
            if p.exists() {
                fs::OpenOptions::new().write(true).open(p).unwrap().set_len(rng.below(10) as u64).unwrap();
            }
        }
        3 => {
            let _ = fs::remove_file(p);
        }
        4 => {
            let _ = fs::rename(p, q);
        }
        5 => {
            if p.exists() && !q.exists() {
                fs::hard_link(p, q).unwrap();
            }
        }
        _ => {
            if p.exists() {
                let mode = if rng.below(2) == 0 { 0o600 } else { 0o644 };
                fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
}

#[test]
fn rust_and_c_readers_agree() {
    let seed = std::env::var("FSC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    let mut rng = Rng(seed);
    let mut w = Writer::started(&[]);
    fs::create_dir(w.path("d")).unwrap();
    let paths: Vec<_> =
        (0..FILES).map(|i| if i % 4 == 0 { w.path(&format!("d/f{}", i)) } else { w.path(&format!("f{}", i)) }).collect();
    for p in paths.iter().step_by(2) {
        fs::write(p, "start").unwrap();
    }
    let h = Options::new().name(&w.name).require_writer(true).open().unwrap();
    for p in &paths {
        h.watch(p, CONTROL).unwrap();
    }
    let names: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    let mut cached = 0;
    for round in 0..STEPS {
        for _ in 0..1 + rng.below(5) {
            step(&mut rng, &w, &paths);
        }
        h.sync(CONTROL).unwrap();
        let mut args = vec!["stat", "--json"];
        args.extend(&names);
        let out = String::from_utf8(w.tool(&args).stdout).unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), paths.len(), "seed {}", seed);
        for (p, line) in paths.iter().zip(lines) {
            let c = parse_line(line);
            let r = h.stat(p).unwrap();
            let ctx = format!("seed {} round {} {}: C {} vs Rust {:?}", seed, round, p.display(), line, r);
            assert_eq!(c["path"], p.to_str().unwrap(), "{}", ctx);
            let source = if r.source() == Source::Cache { "cache" } else { "stat" };
            cached += usize::from(r.source() == Source::Cache);
            let want = [
                ("exists", r.exists().to_string()),
                ("source", source.to_owned()),
                ("dev", r.dev().to_string()),
                ("ino", r.ino().to_string()),
                ("mode", r.mode().to_string()),
                ("nlink", r.nlink().to_string()),
                ("uid", r.uid().to_string()),
                ("gid", r.gid().to_string()),
                ("size", r.size().to_string()),
                ("blocks", r.blocks().to_string()),
                ("mtime_ns", r.mtime_ns().to_string()),
                ("ctime_ns", r.ctime_ns().to_string()),
            ];
            for (k, v) in want {
                assert_eq!(c[k], v, "{}: {}", k, ctx);
            }
        }
    }
    // Not a comparison of two stat() calls: after each sync, every
    // watched path is answered from the cache by both readers.
    assert_eq!(cached, STEPS * FILES, "seed {}", seed);
    drop(h);
    w.stop();
}
