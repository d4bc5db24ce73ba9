//! The tag array (docs/FORMAT.md, "Tag array object") against
//! a real writer: the reader maps the writer's .tags and follows it (a
//! key whose tag is changed is no longer found, its slot never read), and
//! a new handle ignores a .tags object that fails any check (every key is
//! found again, from the slots alone).  The test runs as the writer's
//! user, so it can write the writer's objects to change them; the writer
//! writes a tag only when it rewrites that slot, which nothing here makes
//! it do until the end.

mod common;

use common::{assert_same_stat, Writer, CONTROL};
use fstatcache::{Handle, Lookup, Options};
use std::fs;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::PathBuf;

fn open(w: &Writer) -> Handle {
    Options::new().name(&w.name).require_writer(true).open().expect("open a handle")
}

fn read16(f: &fs::File, off: u64) -> u16 {
    let mut b = [0u8; 2];
    f.read_exact_at(&mut b, off).unwrap();
    u16::from_ne_bytes(b)
}

fn read32(f: &fs::File, off: u64) -> u32 {
    let mut b = [0u8; 4];
    f.read_exact_at(&mut b, off).unwrap();
    u32::from_ne_bytes(b)
}

fn read64(f: &fs::File, off: u64) -> u64 {
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, off).unwrap();
    u64::from_ne_bytes(b)
}

/// Every path hits with stat(2)'s answer, but `victim`, which misses; by
/// lookup() and by lookup_many().
fn expect_hits(what: &str, h: &Handle, paths: &[PathBuf], victim: Option<usize>) {
    let many = h.lookup_many(paths);
    for (i, p) in paths.iter().enumerate() {
        for (how, r) in [("lookup", h.lookup(p)), ("lookup_many", many[i])] {
            match r {
                Lookup::Miss if victim == Some(i) => {}
                Lookup::Hit(st) if victim != Some(i) => assert_same_stat(&st, p),
                r => panic!(
                    "{}: {}({}) = {:?}, want {}",
                    what,
                    how,
                    p.display(),
                    r,
                    if victim == Some(i) { "a miss" } else { "a hit" }
                ),
            }
        }
    }
}

/// The slot holding `path` in the writer's table, found by reading the
/// slots of its probe window (the format's hash and linear probing).
fn slot_of(table: &fs::File, path: &PathBuf) -> u32 {
    let key = path.to_str().unwrap().as_bytes();
    let (entry_size, slots, probe_limit) = (read32(table, 20), read32(table, 24), read32(table, 28));
    let hash = xxhash_rust::xxh3::xxh3_64_with_seed(key, read64(table, 48));
    let mut slot = hash as u32 & (slots - 1);
    for _ in 0..probe_limit {
        let e = 4096 + u64::from(slot) * u64::from(entry_size);
        let mut k = vec![0u8; key.len()];
        table.read_exact_at(&mut k, e + 96).unwrap(); // after the 96-byte head
        if read16(table, e + 4) & 1 != 0 && read64(table, e + 8) == hash && k == key {
            return slot;
        }
        slot = (slot + 1) & (slots - 1);
    }
    panic!("{} is in no slot of its window", path.display());
}

#[test]
fn the_writers_tags_are_followed_and_checked() {
    let mut w = Writer::started(&[]);
    let h = open(&w);
    let paths: Vec<PathBuf> = (0..12).map(|i| w.write(&format!("t{:02}.log", i), "tag")).collect();
    for p in &paths {
        h.request_watch(p).unwrap();
    }
    h.sync(CONTROL).unwrap();
    expect_hits("sound tags", &h, &paths, None);

    let shm = format!("/dev/shm/fstatcache.{}", w.name);
    let table = fs::OpenOptions::new().read(true).write(true).open(&shm).unwrap();
    let tags_path = format!("{}.tags", shm);
    let tags = fs::OpenOptions::new().read(true).write(true).open(&tags_path).unwrap();
    let flags = read32(&table, 36);
    assert_ne!(flags & 0x8, 0, "the writer keeps no tag array (flags {:#x})", flags);
    let size = 64 + 2 * u64::from(read32(&table, 24));
    assert_eq!(tags.metadata().unwrap().len(), size);

    // The writer's tag of each key is its hash's top bits, bit 0 set.
    const VICTIM: usize = 5;
    let slot = slot_of(&table, &paths[VICTIM]);
    let off = 64 + 2 * u64::from(slot);
    let mut t = [0u8; 2];
    tags.read_exact_at(&mut t, off).unwrap();
    let key = paths[VICTIM].to_str().unwrap().as_bytes();
    let want = (xxhash_rust::xxh3::xxh3_64_with_seed(key, read64(&table, 48)) >> 48) as u16 | 1;
    assert_eq!(u16::from_ne_bytes(t), want, "the writer's tag of {}", paths[VICTIM].display());
    // Another nonzero tag (bit 0 stays set): only the victim's probe
    // skips its slot.
    let flip = |v: u16| tags.write_all_at(&v.to_ne_bytes(), off).unwrap();
    flip(want ^ 2);
    expect_hits("the victim's tag changed", &h, &paths, Some(VICTIM));

    // A .tags object failing one check is ignored by a new handle, which
    // then finds the victim in its slot.
    let xor_byte = |f: &fs::File, at: u64| {
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, at).unwrap();
        f.write_all_at(&[b[0] ^ 1], at).unwrap();
    };
    let mode = tags.metadata().unwrap().permissions().mode() & 0o777;
    let set_mode = |m: u32| fs::set_permissions(&tags_path, fs::Permissions::from_mode(m)).unwrap();
    type Change<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Change, Change)> = vec![
        ("wrong magic", Box::new(|| xor_byte(&tags, 0)), Box::new(|| xor_byte(&tags, 0))),
        ("wrong epoch", Box::new(|| xor_byte(&tags, 8)), Box::new(|| xor_byte(&tags, 8))),
        ("wrong slot count", Box::new(|| xor_byte(&tags, 16)), Box::new(|| xor_byte(&tags, 16))),
        ("wrong size", Box::new(|| tags.set_len(size + 4096).unwrap()), Box::new(|| tags.set_len(size).unwrap())),
        ("group-writable", Box::new(|| set_mode(mode | 0o020)), Box::new(|| set_mode(mode))),
        // flags is at offset 36; bit 3 (0x8) is in its lowest-order byte
        (
            "header flag clear",
            Box::new(|| table.write_all_at(&(flags & !0x8).to_ne_bytes(), 36).unwrap()),
            Box::new(|| table.write_all_at(&flags.to_ne_bytes(), 36).unwrap()),
        ),
    ];
    for (what, bad, undo) in &cases {
        bad();
        expect_hits(what, &open(&w), &paths, None);
        undo();
    }

    // Every check passes again: a new handle follows the tags too.
    expect_hits("restored", &open(&w), &paths, Some(VICTIM));
    flip(want);
    expect_hits("the victim's tag back", &h, &paths, None);
    // The writer keeps the tags in step as it rewrites slots.
    for (i, _) in paths.iter().enumerate() {
        w.write(&format!("t{:02}.log", i), "more");
    }
    h.sync(CONTROL).unwrap();
    expect_hits("after rewrites", &h, &paths, None);
    drop(cases);
    drop(h);
    w.stop();
}
