"""libfstatcache-preload.so under unmodified Debian programs.

Python's os.stat, coreutils stat and tail -F ---disable-inotify run with
and without the shim on files a writer (started here, on a unique name)
watches; their output must be the same.  The writer's reader_hits count
(`fstatcache inspect`), which the shim publishes at exit, proves the cache
answered.  The sync barrier is the only synchronisation; tail's output is
awaited line by line, with a guard timeout for a hang, never a sleep.
"""
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import unittest

import fsctest

SHIM = os.environ.get("FSC_PRELOAD_LIB")
PYTHON = "/usr/bin/python3"
STAT = shutil.which("stat", path="/usr/bin:/bin")
TAIL = shutil.which("tail", path="/usr/bin:/bin")
GUARD_S = 60
NFILES = 20
# Every field stat(1) shows but birth (statx beyond the basic stats) and
# the mount point (neither is in the cache); -L: follow, as stat(2) does.
STAT_FORMAT = ("%n %d %i %a %f %h %u %g %s %b %B %o %X %x %Y %y %Z %z "
               "%t %T %F")
STAT_PY = ("import os, sys\n"
           "for p in sys.argv[1:]:\n"
           "    try:\n"
           "        print(p, os.stat(p))\n"
           "    except OSError as e:\n"
           "        print(p, type(e).__name__, e.errno)\n")


def hits(w):
    out = w.tool("inspect", "--json").stdout.decode()
    found = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "reader_hits" and isinstance(x, int):
                    found.append(x)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    for line in out.splitlines():
        walk(json.loads(line))
    if not found:
        raise AssertionError("no reader_hits in inspect: %s" % out)
    return found[0]


@unittest.skipUnless(SHIM, "FSC_PRELOAD_LIB is not set")
class Programs(fsctest.WriterTest):
    start_writer = False

    def setUp(self):
        super().setUp()
        self.dir = os.path.realpath(self.w.path("logs"))
        os.mkdir(self.dir)
        self.files = []
        for i in range(NFILES):
            p = os.path.join(self.dir, "f%02d.log" % i)
            with open(p, "w") as f:
                f.write("line %d\n" % i)
            self.files.append(p)
        os.symlink("f00.log", os.path.join(self.dir, "link"))
        self.watched = self.files + [os.path.join(self.dir, "link"),
                                     os.path.join(self.dir, "missing")]
        self.w.extra = list(self.watched)
        self.w.start()
        self.w.sync()

    def env(self, shim):
        env = fsctest.child_env()
        env.pop("LD_PRELOAD", None)
        if shim:
            env["LD_PRELOAD"] = SHIM
            env["FSTATCACHE_PRELOAD_PREFIXES"] = self.dir
            env["FSTATCACHE_NAME"] = self.w.name
        return env

    def run_both(self, argv):
        """argv's output without and with the shim; the hits it made."""
        plain = subprocess.run(argv, env=self.env(False), timeout=GUARD_S,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        before = hits(self.w)
        shim = subprocess.run(argv, env=self.env(True), timeout=GUARD_S,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(shim.stderr, plain.stderr)
        self.assertEqual(shim.returncode, plain.returncode)
        self.assertEqual(shim.stdout.decode(), plain.stdout.decode())
        return hits(self.w) - before

    def test_python_os_stat(self):
        argv = [PYTHON, "-I", "-c", STAT_PY] + self.watched
        n = self.run_both(argv)
        # Every file and the link; the missing path is the real call's.
        self.assertGreaterEqual(n, NFILES + 1)
        with open(self.files[3], "a") as f:
            f.write("more\n")
        self.w.sync()
        self.assertGreaterEqual(self.run_both(argv), NFILES + 1)

    @unittest.skipUnless(STAT, "no coreutils stat")
    def test_coreutils_stat(self):
        n = self.run_both([STAT, "-L", "-c", STAT_FORMAT] + self.watched)
        self.assertGreaterEqual(n, NFILES + 1)
        # Without -L stat(1) is lstat: the real call, same output.
        self.run_both([STAT, "-c", STAT_FORMAT] + self.watched)
        # Birth time asks statx for more than the basic stats.
        self.run_both([STAT, "-L", "-c", "%n %W %s"] + self.watched)

    @unittest.skipUnless(TAIL, "no coreutils tail")
    def test_tail_follow_polling(self):
        argv = [TAIL, "-F", "---disable-inotify", "-s", "0.05", "-n", "0"]
        argv += self.files
        tails = {}
        for shim in (False, True):
            p = subprocess.Popen(argv, env=self.env(shim),
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            self.addCleanup(self.reap, p)
            tails[shim] = (p, bytearray())
        # The last file's header: tail has opened every file (-n 0 would
        # skip a line appended before that).
        last = ("==> %s <==\n" % self.files[-1]).encode()
        for p, buf in tails.values():
            self.await_text(p, buf, last)
        # tail prints a header line per file it switches to; each step
        # appends to one file and waits for the line in both outputs.
        steps = [(i, "step %d\n" % i) for i in range(0, NFILES, 3)]
        for i, text in steps:
            with open(self.files[i], "a") as f:
                f.write(text)
            for p, buf in tails.values():
                self.await_text(p, buf, text.encode())
        # Rotation: the name now holds another file.
        os.rename(self.files[0], self.files[0] + ".1")
        with open(self.files[0], "w") as f:
            f.write("after rotation\n")
        for p, buf in tails.values():
            self.await_text(p, buf, b"after rotation\n")
        self.assertEqual(tails[True][1], tails[False][1])

    def await_text(self, p, buf, text):
        while text not in buf:
            ready, _, _ = select.select([p.stdout], [], [], GUARD_S)
            if not ready:
                raise AssertionError("tail printed no %r in %d s: %r"
                                     % (text, GUARD_S, bytes(buf)))
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("tail exited: %r" % bytes(buf))
            buf += chunk

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        p.wait(GUARD_S)
        p.stdout.close()


if __name__ == "__main__":
    sys.exit(fsctest.main())
