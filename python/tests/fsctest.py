"""fsctest - start and stop a real fstatcached for the Python tests.

The Python counterpart of tests/harness.c: each writer gets a unique
instance name and a private temporary directory (the files under test and
its control socket live there); it reports readiness on a pipe
(--ready-fd), so nothing waits by sleeping, and tests use the sync barrier
after changes.  stop() sends SIGTERM and checks exit status 0 and that no
segment or socket is left; cleanup() (registered first, so it runs last)
kills and removes whatever is left even when a test failed.

Environment (meson sets it): FSTATCACHED, FSTATCACHE_TOOL (the built
programs), FSC_CHILD_ASAN_OPTIONS (sanitized builds: the options for
those programs, since the interpreter's own ASAN_OPTIONS turn leak checks
off and the preloaded runtimes must not reach them).
"""

import ctypes
import glob
import itertools
import os
import select
import shutil
import signal
import subprocess
import tempfile
import unittest

# A guard against a hung writer, never a timing expectation: the C
# harness's FSCT_GUARD_MS, generous for writers under qemu.
GUARD_S = 120

_serial = itertools.count()


def writer_binary():
    return os.environ.get("FSTATCACHED", "fstatcached")


def tool_binary():
    return os.environ.get("FSTATCACHE_TOOL", "fstatcache")


def child_env():
    """The environment for the writer, the tool and other children."""
    env = dict(os.environ)
    if "FSC_CHILD_ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env["FSC_CHILD_ASAN_OPTIONS"]
        env.pop("LD_PRELOAD", None)
        env.pop("PYTHONMALLOC", None)
    return env


def python_child_env():
    """The environment for a Python child: this interpreter's own."""
    return dict(os.environ)


def shm_objects(name):
    """The segment objects of instance `name` that exist."""
    base = "/dev/shm/fstatcache." + name   # names never hold a '.'
    return ([base] if os.path.lexists(base) else []) + \
        glob.glob(glob.escape(base) + ".*")


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    """In the forked child: SIGKILL when the test process dies, so a test
    that crashes (an ASan abort skips every cleanup) leaves no writer
    behind, as tests/harness.c does with the same prctl."""
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class Writer:
    """One fstatcached on a unique name in a private temp dir."""

    def __init__(self, *extra):
        self.extra = list(extra)
        self.dir = tempfile.mkdtemp(prefix="fsc-py-")
        self.name = "py%d-%d-%s" % (os.getpid(), next(_serial),
                                    os.path.basename(self.dir)[-6:])
        self.name = "".join(c if c.isalnum() or c in "-_" else "_"
                            for c in self.name)
        self.socket = os.path.join(self.dir, "ctl.sock")
        self.proc = None

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def start(self):
        r, w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [writer_binary(), "--name", self.name, "--socket",
                 self.socket, "--ready-fd", str(w), "-q"] + self.extra,
                pass_fds=(w,), env=child_env(), stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent)
            os.close(w)
            w = -1
            got = b""
            while not got.endswith(b"\n"):
                ready, _, _ = select.select([r], [], [], GUARD_S)
                if not ready:
                    raise AssertionError(
                        "writer %s not ready after %d s" % (self.name, GUARD_S))
                chunk = os.read(r, 64)
                if not chunk:
                    rc = self.proc.wait(GUARD_S)
                    self.proc = None
                    raise AssertionError(
                        "writer %s exited with %s before it was ready"
                        % (self.name, rc))
                got += chunk
            if got != b"READY\n":
                raise AssertionError("writer %s wrote %r on its ready fd"
                                     % (self.name, got))
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        return self

    def tool(self, *args, check=True):
        """Run the fstatcache tool on this instance; its CompletedProcess."""
        cmd = [tool_binary(), args[0], "--name", self.name] + list(args[1:])
        p = subprocess.run(cmd, env=child_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=GUARD_S)
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (
                " ".join(cmd), p.returncode, p.stderr.decode(errors="replace")))
        return p

    def sync(self):
        """The barrier, through the tool."""
        self.tool("sync")

    def kill(self, sig):
        """Send `sig` and reap; the exit status as subprocess reports it."""
        proc, self.proc = self.proc, None
        proc.send_signal(sig)
        return proc.wait(GUARD_S)

    def stop(self):
        """SIGTERM; assert exit 0 and that no segment or socket remains."""
        if self.proc is None:
            return
        rc = self.kill(signal.SIGTERM)
        if rc != 0:
            raise AssertionError("writer %s on SIGTERM: exit %s, want 0"
                                 % (self.name, rc))
        left = shm_objects(self.name)
        if left:
            raise AssertionError("writer %s left %s behind" % (self.name, left))
        if os.path.lexists(self.socket):
            raise AssertionError("writer %s left its socket %s behind"
                                 % (self.name, self.socket))

    def cleanup(self):
        """Kill if running, unlink leftovers, remove the temp dir."""
        if self.proc is not None:
            proc, self.proc = self.proc, None
            try:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            except ProcessLookupError:
                pass
            proc.wait(GUARD_S)
        for p in shm_objects(self.name):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


class WriterTest(unittest.TestCase):
    """A test case with a writer (self.w), started in setUp, stopped and
    checked after the test, removed in any case."""

    writer_args = ()
    start_writer = True

    def setUp(self):
        self.w = Writer(*self.writer_args)
        self.addCleanup(self.w.cleanup)      # runs last
        self.addCleanup(self.w.stop)         # checks the clean stop
        if self.start_writer:
            self.w.start()

    def write(self, rel, data, mode="a"):
        path = self.w.path(rel)
        with open(path, mode) as f:
            f.write(data)
        return path

    def assertSameStat(self, got, path):
        """A StatResult equals os.stat(path) in every field both have."""
        st = os.stat(path)
        self.assertTrue(got.exists, path)
        for field in ("dev", "ino", "mode", "nlink", "uid", "gid", "size",
                      "blocks", "mtime_ns", "ctime_ns", "rdev", "blksize"):
            self.assertEqual(getattr(got, field), getattr(st, "st_" + field),
                             "%s of %s" % (field, path))
        self.assertEqual(got.mtime, st.st_mtime, path)
        self.assertEqual(got.ctime, st.st_ctime, path)
        # The writer's last stat(): a read since may have moved atime.
        # None only for an atime a nanosecond count cannot hold.
        if got.atime_ns is None:
            self.assertGreaterEqual(abs(st.st_atime), 9223372036, path)
            self.assertIsNone(got.atime, path)
        else:
            self.assertAlmostEqual(got.atime, got.atime_ns / 1e9, places=5)

    def assertCompatStats(self, got, path):
        """get_file_stats() equals the original fstat-cache's answer built from os.stat."""
        st = os.stat(path)
        self.assertEqual(got, {"ts": st.st_mtime, "size": st.st_size}, path)
        self.assertIs(type(got["ts"]), float)
        self.assertIs(type(got["size"]), int)


def main():
    unittest.main(verbosity=2)
