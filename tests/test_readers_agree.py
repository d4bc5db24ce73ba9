#!/usr/bin/env python3
"""The C, Go and Rust readers give the same answers from one writer.

One fstatcached on a unique name watches a tree of about 200 files in a
few directories (plus symlinks, names that do not exist yet and names
near the key length limit).  Each round applies random operations to it
(append, truncate, chmod, rename, delete, create, hard link, a symlink
replaced, a directory renamed away or back), waits on the sync barrier,
then has the three readers' dump programs look the same path list up:
tests/fsc_dump.c (the header), go/cmd/fscdump and rust/examples/dump.rs,
each with its plain lookup and with its batched one.  The list holds the
watched paths, never-watched paths that exist and that do not, and keys
the cache can never hold (relative, '.', '..', '//', trailing '/',
too long, control characters, bytes that are not UTF-8), in a shuffled
order.  The six outputs must be identical, byte for byte, and after the
sync every hit must equal os.stat() of its path.  On a mismatch the seed,
the round, the path and every program's line are printed.

Environment: FSC_SEED=N replays a run (the seed is printed first),
FSC_AGREE_ROUNDS=N (default 30) sets the rounds, FSCT_EVENTS=inotify
forces the writer's event source as for the C tests (with inotify the
workload makes no hard links: changes through another link of a watched
file are a documented limit of that source).  meson sets
FSC_DUMP_C (the C program), FSC_GO, FSC_GO_SH, FSC_GO_BUILD (go and the
go_reader test's wrapper, which builds go/cmd/fscdump offline with the
caches of that build directory) and FSC_CARGO, FSC_CARGO_SH,
FSC_RUST_SRC, FSC_RUST_BUILD (cargo and the rust test's wrapper, which
builds the dump example offline with Debian's crates).  Exit status 77
(meson: SKIP), with a line saying what to install, when go or cargo or
Debian's crates are missing.
"""

import errno
import json
import os
import random
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "python", "tests"))
import fsctest  # noqa: E402

SKIP = 77
DIRS = 4
FILES_PER_DIR = 50
NEW_PER_DIR = 8      # names watched before they exist, created later
SYMLINKS = 8
FIELDS = ("dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size",
          "blocks")


def build_dumpers():
    """The commands of the three dump programs (each a list); exits SKIP
    when go or cargo (or Debian's crates) are missing."""
    env = dict(os.environ)
    dumpers = {"c": [os.environ["FSC_DUMP_C"]]}
    os.makedirs(os.environ["FSC_GO_BUILD"], exist_ok=True)
    go_out = os.path.join(os.environ["FSC_GO_BUILD"], "fscdump")
    steps = [
        ("go", ["sh", os.environ["FSC_GO_SH"], os.environ.get("FSC_GO", ""),
                os.environ["FSC_GO_BUILD"], "dump", go_out]),
        ("rust", ["sh", os.environ["FSC_CARGO_SH"],
                  os.environ.get("FSC_CARGO", ""), os.environ["FSC_RUST_SRC"],
                  os.environ["FSC_RUST_BUILD"], "dump"]),
    ]
    for lang, cmd in steps:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=800)
        out = p.stdout.decode(errors="replace").strip()
        if out.startswith("SKIP: "):
            out = out[len("SKIP: "):]
        if p.returncode == SKIP:
            print("SKIP: the %s dump program cannot be built: %s"
                  % (lang, out), flush=True)
            sys.exit(SKIP)
        if p.returncode != 0:
            print("building the %s dump program (%s): exit %d\n%s"
                  % (lang, " ".join(cmd), p.returncode, out), flush=True)
            sys.exit(1)
    dumpers["go"] = [go_out]
    dumpers["rust"] = [os.path.join(os.environ["FSC_RUST_BUILD"], "target",
                                    "debug", "examples", "dump")]
    return dumpers


def long_path(base, n):
    """A path of n bytes under base, in components of at most 200."""
    need = n - len(base)
    parts = []
    while need > 201:
        parts.append(b"D" * 199)
        need -= 200
    parts.append(b"L" * (need - 1))
    return b"/".join([base] + parts)


DUMPERS = None
SEED = None
ROUNDS = 30


class Tree:
    """The files under test, and the operations applied to them."""

    def __init__(self, root, rng, links):
        self.root = root
        self.rng = rng
        self.ops = ["append", "append", "truncate", "chmod", "rename",
                    "delete", "create", "symlink", "dir"]
        if links:
            self.ops.append("link")
        self.dirs = ["d%d" % i for i in range(DIRS)]
        self.moved = set()            # dirs renamed to NAME.moved
        self.files = ["d%d/f%03d" % (d, f) for d in range(DIRS)
                      for f in range(FILES_PER_DIR)]
        self.new = ["d%d/n%d" % (d, f) for d in range(DIRS)
                    for f in range(NEW_PER_DIR)]
        self.links = ["s%d" % i for i in range(SYMLINKS)]
        self.serial = 0

    def abs(self, rel):
        return os.path.join(self.root, rel)

    def create(self):
        for d in self.dirs:
            os.mkdir(self.abs(d))
        for f in self.files:
            self.write(f, "w")
        for i, s in enumerate(self.links):
            os.symlink(self.abs(self.files[i * 7]), self.abs(s))

    def write(self, rel, how):
        with open(self.abs(rel), how) as f:
            f.write("x" * self.rng.randrange(0, 5000) + "\n")

    def any_path(self):
        return self.rng.choice(self.files + self.new)

    def step(self):
        """One random operation; an operation on a path that is not there
        (deleted, or its directory renamed away) fails and is skipped."""
        rng = self.rng
        p, q = self.abs(self.any_path()), self.abs(self.any_path())
        op = rng.choice(self.ops)
        try:
            if op == "append":
                self.write(p, "a")
            elif op == "truncate":
                os.truncate(p, rng.randrange(0, 100))
            elif op == "chmod":
                os.chmod(p, rng.choice((0o600, 0o640, 0o644, 0o755, 0o400)))
            elif op == "rename":
                os.rename(p, q)
            elif op == "delete":
                os.unlink(p)
            elif op == "create":
                with open(p, "x") as f:
                    f.write("new\n")
            elif op == "link":
                os.link(p, q)
            elif op == "symlink":
                # Replaced in one rename, pointing at a file that may or
                # may not exist.
                s = self.abs(rng.choice(self.links))
                self.serial += 1
                tmp = self.abs("tmp-link-%d" % self.serial)
                os.symlink(q, tmp)
                os.replace(tmp, s)
            else:
                d = rng.choice(self.dirs)
                if d in self.moved:
                    os.rename(self.abs(d + ".moved"), self.abs(d))
                    self.moved.discard(d)
                else:
                    os.rename(self.abs(d), self.abs(d + ".moved"))
                    self.moved.add(d)
        except (FileNotFoundError, FileExistsError, NotADirectoryError):
            pass
        return op


class ReadersAgree(fsctest.WriterTest):

    # The event source under test, as tests/harness.c takes it: the CI
    # suite runs once more with FSCT_EVENTS=inotify.
    writer_args = (("--events", os.environ["FSCT_EVENTS"])
                   if os.environ.get("FSCT_EVENTS") else ())

    def tool_stdin(self, data, *args):
        cmd = [fsctest.tool_binary(), args[0], "--name", self.w.name] + \
            list(args[1:])
        p = subprocess.run(cmd, input=data, env=fsctest.child_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=fsctest.GUARD_S)
        if p.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (
                " ".join(cmd), p.returncode,
                p.stderr.decode(errors="replace")))
        return p.stdout

    def dump(self, lang, many, paths):
        cmd = DUMPERS[lang] + (["--many"] if many else []) + [self.w.name]
        p = subprocess.run(cmd, input=b"".join(p + b"\n" for p in paths),
                           env=fsctest.child_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=fsctest.GUARD_S)
        if p.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (
                " ".join(cmd), p.returncode,
                p.stderr.decode(errors="replace")))
        lines = p.stdout.split(b"\n")
        self.assertEqual(lines[-1], b"", "%s: output not ended by a newline"
                         % " ".join(cmd))
        lines = lines[:-1]
        self.assertEqual(len(lines), len(paths),
                         "%s: %d lines for %d paths"
                         % (" ".join(cmd), len(lines), len(paths)))
        return lines

    def test_readers_agree(self):
        rng = random.Random(SEED)
        root = os.path.realpath(self.w.path("t"))
        os.mkdir(root)
        info = json.loads(self.w.tool("inspect", "--json").stdout)
        # With inotify a change made through another hard link of a
        # watched file is not seen (a documented limit, docs/TESTING.md):
        # no hard links then, or the check against os.stat() would fail
        # for a reason that is not the readers'.
        events = info["header"]["events"]
        tree = Tree(root, rng, links=events != "inotify")
        tree.create()
        enc = os.fsencode
        watched = [enc(tree.abs(r)) for r in tree.files + tree.new +
                   tree.links]
        # Below a file (ENOTDIR, cached as "does not exist").
        watched += [enc(tree.abs(tree.files[i] + "/below")) for i in (1, 2)]
        # Keys around the longest a segment holds (path_max - 1 bytes):
        # names padded so that the whole path is that long.
        path_max = info["header"]["path_max"]
        longest = [long_path(enc(tree.abs("long")), n)
                   for n in range(path_max - 2, path_max + 2)]
        for p in longest:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "w").close()
        watched += longest[:2]          # the two that fit
        # Existing and missing paths never watched.
        for i in range(10):
            open(tree.abs("unwatched%d" % i), "w").close()
        never = [enc(tree.abs("unwatched%d" % i)) for i in range(10)]
        never += [enc(tree.abs("d%d/never%d" % (i % DIRS, i)))
                  for i in range(10)]
        never += [enc(tree.abs("d%d.moved/f%03d" % (i, i))) for i in range(4)]
        never += [b"/nonexistent-fsc-agree/x", longest[2], longest[3]]
        # Names a key may hold but the JSON line escapes, and bytes that
        # are not UTF-8.
        r0 = enc(tree.abs(tree.files[0]))
        never += [r0 + b"\t", r0 + b"\"q\\", r0 + b"\xff\xfe", r0 + b"\x7f",
                  r0 + b"\x01"]
        # Keys the cache never holds: not absolute, not canonical.
        odd = [b"", b"/", b"d0/f000", enc(root) + b"//d0/f000",
               enc(root) + b"/d0/./f000", enc(root) + b"/d0/../d0/f000",
               enc(root) + b"/d0/"]
        self.tool_stdin(b"".join(p + b"\n" for p in watched), "watch",
                        "--files-from", "-")
        queries = watched + never + odd
        watched_set, uncacheable = set(watched), set(odd + longest[2:])
        hits = total = 0
        ops = {}
        for rnd in range(ROUNDS + 1):
            if rnd > 0:
                for _ in range(rng.randrange(1, 16)):
                    op = tree.step()
                    ops[op] = ops.get(op, 0) + 1
            self.w.sync()
            rng.shuffle(queries)
            outs = {}
            for lang in ("c", "go", "rust"):
                for many in (False, True):
                    outs[lang + ("-many" if many else "")] = \
                        self.dump(lang, many, queries)
            ref = outs["c"]
            for i, path in enumerate(queries):
                lines = {k: v[i] for k, v in outs.items()}
                if len(set(lines.values())) != 1:
                    self.fail("seed %d round %d: the readers disagree on "
                              "%r:\n%s" % (SEED, rnd, path, "\n".join(
                                  "  %-9s %s" % (k, v.decode(
                                      errors="backslashreplace"))
                                  for k, v in lines.items())))
                total += 1
                self.check_answer(rnd, path, ref[i], path in watched_set,
                                  path in uncacheable)
                hits += b'"status":"hit"' in ref[i]
        print("seed %d, events %s: %d rounds, %d operations %s, %d answers "
              "compared (%d hits), all equal in C, Go and Rust"
              % (SEED, events, ROUNDS, sum(ops.values()),
                 sorted(ops.items()), total, hits), flush=True)

    def check_answer(self, rnd, path, line, watched, uncacheable):
        """One answer (the three agree on it) against the path itself."""
        a = json.loads(line.decode("utf-8", "surrogateescape"))
        ctx = "seed %d round %d %r: %s" % (SEED, rnd, path,
                                           line.decode(errors="replace"))
        self.assertEqual(os.fsencode(a["path"]), path, ctx)
        if uncacheable:
            self.assertEqual(a["status"], "uncached", ctx)
            return
        # After the sync every watched path is answered from the cache,
        # and a path never watched is not in it.
        self.assertEqual(a["status"], "hit" if watched else "miss", ctx)
        if a["status"] != "hit":
            return
        self.assertEqual(a["source"], "cache", ctx)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self.assertEqual((a["exists"], a["err"]), (False, errno.ENOENT),
                             ctx)
            for f in FIELDS + ("mtime_sec", "mtime_nsec", "ctime_sec",
                               "ctime_nsec"):
                self.assertEqual(a[f], 0, "%s: %s" % (f, ctx))
            self.assertEqual((a["blksize"], a["atime_sec"]), (None, None),
                             ctx)
            return
        self.assertEqual((a["exists"], a["err"]), (True, 0), ctx)
        for f in FIELDS:
            self.assertEqual(a[f], getattr(st, "st_" + f), "%s: %s" % (f, ctx))
        # Format 1.4; atime is the writer's last stat(), which a read
        # since may have moved: the readers must agree on it, above.
        self.assertEqual(a["blksize"], st.st_blksize, "blksize: %s" % ctx)
        self.assertIsInstance(a["atime_sec"], int, ctx)
        for t in ("mtime", "ctime"):
            # A rename of another name of the file moves its ctime with no
            # event on this one (README "Limits", "Hard links"): the
            # workload renames names that may be links of a watched file.
            if t == "ctime" and st.st_nlink > 1:
                continue
            ns = getattr(st, "st_%s_ns" % t)
            self.assertEqual((a[t + "_sec"], a[t + "_nsec"]),
                             divmod(ns, 10**9), "%s: %s" % (t, ctx))


def main():
    global DUMPERS, SEED, ROUNDS
    seed = os.environ.get("FSC_SEED")
    SEED = int(seed) if seed else random.SystemRandom().randrange(1, 2**32)
    ROUNDS = int(os.environ.get("FSC_AGREE_ROUNDS", "30"))
    print("seed %d (FSC_SEED=%d replays it), %d rounds" % (SEED, SEED, ROUNDS),
          flush=True)
    DUMPERS = build_dumpers()
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
