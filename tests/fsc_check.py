#!/usr/bin/env python3
"""fsc_check.py - right after sync, whatever the filesystem does.

A randomized checker for issue 13: one fstatcached watches every name of
a small tree (directories three deep, files in each, names that do not
exist yet); each batch applies a few random operations of every kind the
issue lists, asks for the sync barrier, then looks every watched name up
in the cache (tests/fsc_dump.c: the C reader, cache only) and compares
each cached answer with stat(2) of the name now.  Operations:

  append, truncate, create, delete            (files, also through links)
  mkdir -p, rm -rf                             (any level)
  rename and RENAME_EXCHANGE of files and of directories at any level
  (so ancestors two and three levels above watched files), replacing
  either; a symlink put in place of any name (file or directory level),
  pointing within the tree, to a missing name, or through /proc; a hard
  link made in an unwatched directory, then written through; chmod of
  files and directories; touch -m; a descriptor held open on a
  directory (which is then removed or renamed over); and, as root in a
  mount namespace of our own, a tmpfs mounted over a directory and
  unmounted.

A cached answer must equal stat(2) in every field but st_blocks (which
writeback changes without an event) and atime; a cached "does not exist"
must be ENOENT or ENOTDIR; a name the cache cannot answer (miss, marked
changed, through /proc) is answered by stat() and needs no comparison.

On a mismatch the checker prints the seed, shrinks the operations that
led to it (delta debugging: every candidate replayed on a fresh tree and
a fresh writer, bounded by --shrink-runs) and prints a bash script that
reproduces it, then exits 1.  Exit 0 with the counts otherwise.

    fsc_check.py [--batches N] [--seed S] [--shrink-runs N]

Environment: FSC_SEED=S replays a run (the seed is printed first);
FSTATCACHED, FSTATCACHE_TOOL, FSC_DUMP_C (meson sets them);
FSCT_EVENTS=inotify|fanotify forces the writer's event source.  Writes
through another hard link are made only when the writer marks files
with fanotify (inspect says so): a documented limit of inotify, README
"Limits".  No touch -a (atime only): its event is not reported on
every kernel, README "Limits".  As root the checker re-runs itself under
unshare(1) -m for the mount operations; elsewhere it says so and
leaves them out.
"""

import argparse
import ctypes
import errno
import json
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "python", "tests"))
import fsctest  # noqa: E402  (the writer's start, stop and leftovers)

GUARD_S = fsctest.GUARD_S
DIRS = ["a", "b"]
FILES = ["f", "g"]
DEPTH = 3
LINKDIR = "x"  # unwatched: hard links live here
FIELDS = ["dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size",
          "mtime_sec", "mtime_nsec", "ctime_sec", "ctime_nsec"]


def tree_names():
    """Every watched name, relative: directories and files, all levels."""
    dirs, level = [], [""]
    for _ in range(DEPTH):
        level = [os.path.join(p, d) for p in level for d in DIRS]
        dirs += level
    files = [os.path.join(d, f) for d in [""] + dirs for f in FILES]
    return dirs, files


DIR_NAMES, FILE_NAMES = tree_names()
ALL_NAMES = DIR_NAMES + FILE_NAMES
HARD_NAMES = [os.path.join(LINKDIR, "h%d" % i) for i in range(3)]

_libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def exchange(a, b):
    r = _libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(),
                        RENAME_EXCHANGE)
    if r != 0:
        raise OSError(ctypes.get_errno(), "renameat2")


# ---- operations ---------------------------------------------------------
# An operation is a tuple (kind, args...) of names relative to the root:
# applied here by apply(), printed for bash by shell().  Failures (a name
# that does not exist now, a busy mount point) are ignored alike on both
# sides: an operation is whatever the system call does.

SHELL_HELPERS = r'''ren() { python3 -c 'import os, sys
try: os.rename(sys.argv[1], sys.argv[2])
except OSError: pass' "$1" "$2"; }
xch() { python3 -c 'import ctypes, sys
ctypes.CDLL(None).renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2)' "$1" "$2"; }
app() { [ -d "$(dirname "$1")" ] && head -c "$2" /dev/zero >>"$1" 2>/dev/null; true; }
'''


class Runner:
    """A tree and the state the operations keep (held descriptors)."""

    def __init__(self, root):
        self.root = root
        self.held = []

    def p(self, name):
        return os.path.join(self.root, name)

    def close(self):
        for fd in self.held:
            os.close(fd)
        self.held = []

    def apply(self, op):
        k, a = op[0], op[1:]
        try:
            if k == "append":
                if os.path.isdir(os.path.dirname(self.p(a[0]))):
                    with open(self.p(a[0]), "ab") as f:
                        f.write(b"\0" * a[1])
            elif k == "truncate":
                os.truncate(self.p(a[0]), a[1])
            elif k == "rm":
                os.unlink(self.p(a[0]))
            elif k == "mkdir":
                os.makedirs(self.p(a[0]), exist_ok=True)
            elif k == "rmtree":
                if os.path.islink(self.p(a[0])):
                    os.unlink(self.p(a[0]))
                else:
                    shutil.rmtree(self.p(a[0]), ignore_errors=True)
            elif k == "rename":
                os.rename(self.p(a[0]), self.p(a[1]))
            elif k == "exchange":
                exchange(self.p(a[0]), self.p(a[1]))
            elif k == "symlink":
                q = self.p(a[0])
                if os.path.isdir(q) and not os.path.islink(q):
                    shutil.rmtree(q, ignore_errors=True)
                elif os.path.lexists(q):
                    os.unlink(q)
                os.symlink(a[1], q)
            elif k == "link":
                os.link(self.p(a[0]), self.p(a[1]))
            elif k == "chmod":
                os.chmod(self.p(a[0]), a[1])
            elif k == "touch_m":
                os.utime(self.p(a[0]), ns=(a[1], a[1]))
            elif k == "hold":
                self.held.append(os.open(self.p(a[0]),
                                         os.O_RDONLY | os.O_DIRECTORY))
            elif k == "mount":
                subprocess.run(["mount", "-t", "tmpfs", "fsccheck",
                                self.p(a[0])], stderr=subprocess.DEVNULL,
                               check=True)
            elif k == "umount":
                subprocess.run(["umount", self.p(a[0])],
                               stderr=subprocess.DEVNULL, check=True)
            else:
                raise ValueError(k)
        except (OSError, subprocess.CalledProcessError):
            pass

    @staticmethod
    def shell(op):
        k, a = op[0], op[1:]
        q = [sh_quote(x) if isinstance(x, str) else x for x in a]
        return {
            "append": lambda: "app %s %d" % (q[0], a[1]),
            "truncate": lambda: "truncate -c -s %d %s 2>/dev/null" % (a[1], q[0]),
            "rm": lambda: "rm -f %s" % q[0],
            "mkdir": lambda: "mkdir -p %s 2>/dev/null" % q[0],
            "rmtree": lambda: "rm -rf %s 2>/dev/null" % q[0],
            "rename": lambda: "ren %s %s" % (q[0], q[1]),
            "exchange": lambda: "xch %s %s" % (q[0], q[1]),
            "symlink": lambda: "rm -rf %s; ln -sT %s %s" % (q[0], q[1], q[0]),
            "link": lambda: "ln %s %s 2>/dev/null" % (q[0], q[1]),
            "chmod": lambda: "chmod %o %s 2>/dev/null" % (a[1], q[0]),
            "touch_m": lambda: "touch -d @%d.%09d %s 2>/dev/null"
                               % (a[1] // 10**9, a[1] % 10**9, q[0]),
            "hold": lambda: "exec {fd}<%s" % q[0],
            "mount": lambda: "mount -t tmpfs fsccheck %s 2>/dev/null" % q[0],
            "umount": lambda: "umount %s 2>/dev/null" % q[0],
        }[k]()


def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def random_op(rng, mounts, hard_writes):
    """One operation, weighted towards what log hosts do."""
    f = rng.choice(FILE_NAMES)
    d = rng.choice(DIR_NAMES)
    any_name = rng.choice(ALL_NAMES)
    kinds = [("append", 20), ("truncate", 4), ("rm", 5), ("mkdir", 6),
             ("rmtree", 3), ("rename", 8), ("exchange", 3), ("symlink", 4),
             ("chmod", 3), ("touch_m", 2), ("hold", 1)]
    if hard_writes:
        kinds += [("link", 2), ("hardwrite", 3)]
    if mounts:
        kinds += [("mount", 1), ("umount", 1)]
    k = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
    if k == "append":
        return ("append", f, rng.randint(1, 300))
    if k == "truncate":
        return ("truncate", f, rng.choice([0, 1, 7, 4096]))
    if k == "rm":
        return ("rm", f)
    if k == "mkdir":
        return ("mkdir", d)
    if k == "rmtree":
        return ("rmtree", d)
    if k == "rename":
        pool = DIR_NAMES if rng.random() < 0.5 else FILE_NAMES
        return ("rename", rng.choice(pool), rng.choice(pool))
    if k == "exchange":
        pool = DIR_NAMES if rng.random() < 0.5 else FILE_NAMES
        return ("exchange", rng.choice(pool), rng.choice(pool))
    if k == "symlink":
        target = rng.choice([
            os.path.relpath(rng.choice(ALL_NAMES),
                            os.path.dirname(any_name) or "."),
            "/proc/self/status", "missing-target",
        ])
        return ("symlink", any_name, target)
    if k == "chmod":
        return ("chmod", any_name, rng.choice([0o600, 0o644, 0o700, 0o755]))
    if k == "touch_m":
        return ("touch_m", f, rng.randint(10**18, 2 * 10**18))
    if k == "hold":
        return ("hold", d)
    if k == "link":
        return ("link", f, rng.choice(HARD_NAMES))
    if k == "hardwrite":
        return ("append", rng.choice(HARD_NAMES), rng.randint(1, 100))
    if k == "mount":
        return ("mount", d)
    return ("umount", d)


# ---- a writer and the comparison ----------------------------------------

class Checker:
    """A fresh tree and writer; ops applied; compare at each sync."""

    def __init__(self, seed_tree):
        events = os.environ.get("FSCT_EVENTS")
        self.w = fsctest.Writer(*(["--events", events] if events else []))
        self.root = self.w.path("t")
        self.run = Runner(self.root)
        self.compared = self.uncached = 0
        try:
            os.mkdir(self.root)
            for n in DIR_NAMES + [LINKDIR]:
                os.makedirs(self.run.p(n), exist_ok=True)
            rng = random.Random(seed_tree)
            for n in FILE_NAMES:
                with open(self.run.p(n), "wb") as f:
                    f.write(b"x" * rng.randint(0, 50))
            self.paths = [self.run.p(n) for n in ALL_NAMES]
            watch_list = self.w.path("watch.list")
            with open(watch_list, "w") as f:
                f.write("".join(p + "\n" for p in self.paths))
            self.w.extra += ["--watch-list", watch_list]
            self.w.start()
        except BaseException:
            self.w.cleanup()
            raise

    def sees_hard_link_writes(self):
        """Writes through another hard link are seen with fanotify's
        marks on files only (README "Limits"): the writer says which
        source it uses, and how many files it marked."""
        p = self.tool("inspect", "--json")
        if p.returncode != 0:
            raise SystemExit("fsc_check: inspect failed: %s"
                             % p.stderr.decode(errors="replace"))
        d = json.loads(p.stdout)

        def find(o, key):
            if isinstance(o, dict):
                if key in o and not isinstance(o[key], (dict, list)):
                    return o[key]
                for v in o.values():
                    r = find(v, key)
                    if r is not None:
                        return r
            return None
        return find(d, "events") == "fanotify" and \
            (find(d, "file_marks") or 0) > 0

    def tool(self, *args):
        return self.w.tool(*args, check=False)

    def check(self):
        """Sync, then every watched name: the cache against stat(2).
        The mismatches, as (path, cached, stat) triples."""
        p = self.tool("sync")
        if p.returncode != 0:
            raise SystemExit("fsc_check: sync failed: %s"
                             % p.stderr.decode(errors="replace"))
        out = subprocess.run([os.environ["FSC_DUMP_C"], self.w.name],
                             input="".join(x + "\n" for x in self.paths),
                             stdout=subprocess.PIPE, universal_newlines=True,
                             check=True, timeout=GUARD_S).stdout
        bad = []
        for line in out.splitlines():
            got = json.loads(line)
            if got["status"] != "hit":
                self.uncached += 1
                continue
            self.compared += 1
            now = stat_now(got["path"])
            if not same(got, now):
                bad.append((got["path"], got, now))
        return bad

    def close(self):
        """Stop the writer (exit 0, nothing left behind: fsctest checks),
        then remove the tree, mounts made in it first."""
        self.run.close()
        try:
            self.w.stop()
        finally:
            # Wherever renames took them (a mount point cannot be
            # removed); one mounted over another is reached once the
            # upper one is gone, so go round while that helps.
            points, before = mounts_under(self.root), None
            while points and points != before:
                for point in points:
                    subprocess.run(["umount", "-l", point],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                points, before = mounts_under(self.root), points
            self.w.cleanup()
            if points:
                raise SystemExit("fsc_check: cannot unmount %s" % points)


def mounts_under(root):
    """Mount points at or below root (this namespace's mountinfo, its
    octal escapes undone), deepest first."""
    points = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            point = line.split()[4].decode("unicode_escape")
            if point == root or point.startswith(root + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def stat_now(path):
    try:
        st = os.stat(path)
    except OSError as e:
        return {"exists": False, "err": e.errno}
    return {"exists": True, "dev": st.st_dev, "ino": st.st_ino,
            "mode": st.st_mode, "nlink": st.st_nlink, "uid": st.st_uid,
            "gid": st.st_gid, "rdev": st.st_rdev, "size": st.st_size,
            "mtime_sec": st.st_mtime_ns // 10**9,
            "mtime_nsec": st.st_mtime_ns % 10**9,
            "ctime_sec": st.st_ctime_ns // 10**9,
            "ctime_nsec": st.st_ctime_ns % 10**9}


def same(cached, now):
    if not cached["exists"]:
        return not now["exists"] and now["err"] in (errno.ENOENT,
                                                    errno.ENOTDIR)
    return now["exists"] and all(cached[k] == now[k] for k in FIELDS)


def replay(ops, seed_tree):
    """Apply ops on a fresh tree and writer, checking at each None (a
    sync point) and at the end: the first mismatches, or []."""
    c = Checker(seed_tree)
    try:
        for op in ops + [None]:
            if op is None:
                bad = c.check()
                if bad:
                    return bad
            else:
                c.run.apply(op)
        return []
    finally:
        c.close()


def shrink(ops, seed_tree, budget):
    """ddmin over ops (sync points included): a short list that still
    fails, within `budget` replays."""
    runs = 0
    n = 2
    while len(ops) >= 2 and runs < budget:
        chunk = max(1, len(ops) // n)
        reduced = False
        for i in range(0, len(ops), chunk):
            cand = ops[:i] + ops[i + chunk:]
            runs += 1
            if replay(cand, seed_tree):
                ops, n, reduced = cand, max(n - 1, 2), True
                break
            if runs >= budget:
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(ops), n * 2)
    return ops, runs


def repro_script(ops, seed_tree, bad, mounts):
    rng = random.Random(seed_tree)
    lines = ["#!/bin/bash",
             "# fstatcache: a cached answer differs from stat(2) after sync",
             "# (tests/fsc_check.py).%s" % (
                 " Run as root under: unshare -m bash THIS" if mounts else ""),
             "set -u",
             'R=$(mktemp -d); cd "$R"',
             SHELL_HELPERS.rstrip("\n"),
             "mkdir -p %s" % " ".join(DIR_NAMES + [LINKDIR])]
    for n in FILE_NAMES:
        lines.append("head -c %d /dev/zero | tr '\\0' x >%s"
                     % (rng.randint(0, 50), n))
    lines += ["printf \"$R/%%s\\n\" %s >watch.list" % " ".join(ALL_NAMES),
              'fstatcached --name fscrepro --socket "$R/ctl.sock" '
              "--watch-list watch.list -q & W=$!",
              "until fstatcache sync --name fscrepro 2>/dev/null; do "
              "sleep 0.1; done"]
    for op in ops:
        lines.append("fstatcache sync --name fscrepro" if op is None
                     else Runner.shell(op))
    lines.append("fstatcache sync --name fscrepro")
    for path, _, _ in bad[:3]:
        rel = os.path.relpath(path, path[:path.index("/t/") + 3])
        lines += ["echo '== %s: cache, then stat(2)'" % rel,
                  "fstatcache stat --name fscrepro --json \"$R/%s\"" % rel,
                  "stat -L \"$R/%s\"" % rel]
    lines += ["kill $W; wait $W", 'cd /; rm -rf "$R"']
    return "\n".join(lines) + "\n"


def in_own_mount_ns():
    """Re-run under unshare -m (root), so mounts stay ours: True when
    this process is that run, or the re-run's exit status."""
    if os.environ.get("FSC_CHECK_NS") == "1":
        return True
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    env = dict(os.environ, FSC_CHECK_NS="1")
    probe = subprocess.run(["unshare", "-m", "true"],
                           stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        return False
    p = subprocess.run(["unshare", "-m", "--propagation", "private",
                        sys.executable] + sys.argv, env=env)
    sys.exit(p.returncode)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--seed", type=int,
                    default=int(os.environ.get("FSC_SEED", "0")) or None)
    ap.add_argument("--shrink-runs", type=int, default=300)
    o = ap.parse_args()
    if not os.environ.get("FSC_DUMP_C"):
        sys.exit("fsc_check: FSC_DUMP_C must name tests/fsc-dump")
    mounts = in_own_mount_ns()
    seed = o.seed if o.seed is not None else random.SystemRandom().randrange(1, 2**32)
    c = Checker(seed)
    hard = c.sees_hard_link_writes()
    print("fsc_check: seed %d (FSC_SEED=%d replays); %s; %s" % (
        seed, seed, "mounts in a mount namespace of our own" if mounts
        else "no mount operations (needs root and unshare -m)",
        "writes through hard links" if hard
        else "no writes through hard links (the writer has no fanotify "
        "marks on files)"), flush=True)
    rng = random.Random(seed)
    ops, nops, bad = [], 0, []
    started = time.monotonic()
    try:
        for b in range(o.batches):
            batch = [random_op(rng, mounts, hard)
                     for _ in range(rng.randint(1, 8))]
            for op in batch:
                c.run.apply(op)
            ops += batch + [None]
            nops += len(batch)
            bad = c.check()
            if bad:
                break
    finally:
        compared, uncached = c.compared, c.uncached
        c.close()
    print("fsc_check: %d batches, %d operations, %d answers compared with "
          "stat(2), %d answered by stat(), %d mismatches, %.1f s" % (
              b + 1, nops, compared, uncached, len(bad),
              time.monotonic() - started), flush=True)
    if not bad:
        return 0
    for path, got, now in bad:
        print("MISMATCH %s\n  cache %s\n  stat  %s" % (path, got, now))
    ops = ops[:-1]  # replay() checks at the end by itself
    if not replay(ops, seed):
        print("fsc_check: the failure did not replay on a fresh tree "
              "(a race?): no reproduction; seed %d" % seed)
        return 1
    small, runs = shrink(ops, seed, o.shrink_runs)
    last = replay(small, seed) or bad
    print("fsc_check: shrunk %d operations to %d in %d replays; "
          "reproduction:\n" % (len([x for x in ops if x]),
                               len([x for x in small if x]), runs))
    print(repro_script(small, seed, last,
                       any(op and op[0] in ("mount", "umount")
                           for op in small)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
