"""Tests of fstatcache.Handle, the reader API, against a real writer."""

import errno
import json
import os
import pathlib
import signal

import fsctest
import fstatcache


class HandleTest(fsctest.WriterTest):

    def handle(self, **kw):
        h = fstatcache.Handle(self.w.name, **kw)
        self.addCleanup(h.close)
        return h

    def test_stat_equals_os_stat_and_hits_after_sync(self):
        a = self.write("a", "hello")
        h = self.handle()
        first = h.stat(a)               # a miss: stat(), plus a watch request
        self.assertEqual(first.source, "stat")
        self.assertSameStat(first, a)
        h.sync()                        # the request is served by now
        hit = h.stat(a)
        self.assertEqual(hit.source, "cache")
        self.assertSameStat(hit, a)
        self.assertEqual(tuple(hit)[:2], (True, "cache"))
        self.assertEqual(len(hit), 12)  # the `stat --json` keys
        self.assertEqual(h.lookup(a), hit)

    def test_tool_agrees(self):
        a = self.write("a", "x" * 1000)
        h = self.handle()
        h.watch(a)
        self.w.sync()                   # the barrier through the tool
        got = h.lookup(a)
        out = json.loads(self.w.tool("stat", "--json", a).stdout)
        self.assertEqual(out["source"], "cache")
        for k in ("exists", "dev", "ino", "mode", "nlink", "uid", "gid",
                  "size", "blocks", "mtime_ns", "ctime_ns"):
            self.assertEqual(getattr(got, k), out[k], k)

    def test_lookup_is_cache_only(self):
        a = self.write("a", "1")
        h = self.handle()
        self.assertIsNone(h.lookup(a))          # not cached: no answer
        self.assertIsNone(h.lookup(a))          # and no watch request either
        h.sync()
        self.assertIsNone(h.lookup(a))
        h.request_watch(a)
        h.sync()
        self.assertEqual(h.lookup(a).source, "cache")

    def test_no_requests(self):
        a = self.write("a", "1")
        h = self.handle(requests=False)
        self.assertEqual(h.stat(a).source, "stat")   # a miss, not reported
        h.sync()
        self.assertIsNone(h.lookup(a))
        self.assertEqual(h.requests_dropped, 0)

    def test_cached_absence(self):
        gone = self.w.path("not-yet")
        h = self.handle()
        h.watch(gone)
        got = h.lookup(gone)
        self.assertEqual((got.exists, got.source, got.err), (False, "cache", errno.ENOENT))
        self.assertEqual((got.size, got.ino, got.mtime_ns), (0, 0, 0))
        st = h.stat(gone)
        self.assertFalse(st.exists)
        self.assertIsNone(h.file_stats(gone))          # as fstat-cache
        self.write("not-yet", "now")
        h.sync()
        self.assertSameStat(h.lookup(gone), gone)

    def test_lookup_many(self):
        paths = [self.write("f%d" % i, "x" * i) for i in range(300)]
        h = self.handle()
        for p in paths[:200]:
            h.request_watch(p)
        h.sync()
        extra = [self.w.path("missing"), "/proc/self/status", pathlib.Path(paths[0])]
        got = h.lookup_many(paths + extra)  # 303 paths: runs without the GIL
        for p, r in zip(paths[:200], got):
            self.assertEqual(r.source, "cache")
            self.assertSameStat(r, p)
        self.assertEqual(got[200:300], [None] * 100)
        self.assertEqual(got[300:], [None, None, got[0]])
        self.assertEqual(h.lookup_many(iter(paths[:3])), got[:3])
        self.assertEqual(h.lookup_many([]), [])

    def test_watch_unwatch_invalidate(self):
        a, b = self.write("a", "a"), self.write("b", "b")
        h = self.handle()
        h.watch(a)
        h.watch(pathlib.Path(b))
        self.assertEqual(sorted(e.path for e in h.entries()), [a, b])
        h.unwatch(a)
        self.assertIsNone(h.lookup(a))
        with self.assertRaises(FileNotFoundError) as cm:
            h.unwatch(a)                        # not watched any more
        self.assertIn(self.w.name, str(cm.exception))
        self.assertEqual([e.path for e in h.entries()], [b])
        h.invalidate()
        self.assertEqual(h.entries(), [])
        self.assertIsNone(h.lookup(b))
        self.assertSameStat(h.stat(b), b)       # still answered, by stat()

    def test_entries(self):
        a = self.write("a", "abc")
        h = self.handle()
        self.assertGreater(h.slot_count, 0)
        self.assertEqual(h.capacity, h.slot_count)  # the deprecated name
        h.watch(a)
        (e,) = h.entries()
        self.assertEqual(e.path, a)
        self.assertEqual(e.stat.source, "cache")
        self.assertSameStat(e.stat, a)
        self.assertTrue(0 <= e.slot < h.slot_count)
        self.assertGreater(e.validated_ns, 0)

    def test_changes(self):
        a = self.write("a", "12345")
        h = self.handle()
        h.watch(a)
        self.write("a", "678")                  # append
        h.sync()
        self.assertSameStat(h.lookup(a), a)
        self.assertEqual(h.lookup(a).size, 8)
        os.truncate(a, 2)                       # copytruncate
        h.sync()
        self.assertEqual(h.lookup(a).size, 2)
        self.assertSameStat(h.lookup(a), a)
        ino = h.lookup(a).ino
        os.rename(a, self.w.path("a.1"))       # rotation by rename
        h.sync()
        self.assertFalse(h.lookup(a).exists)
        self.write("a", "new", "w")
        h.sync()
        self.assertSameStat(h.lookup(a), a)
        self.assertNotEqual(h.lookup(a).ino, ino)
        os.chmod(a, 0o600)                      # ctime
        h.sync()
        self.assertSameStat(h.lookup(a), a)

    def test_far_timestamps(self):
        a = self.write("a", "x")
        h = self.handle()
        h.watch(a)
        # Before 1970 nanoseconds are negative: cached.  Past 2262 they no
        # longer fit the entry's 64 bits (docs/FORMAT.md): never cached
        # wrong, answered by stat().  ext4 and tmpfs keep both.
        for ns in (13_000_000_000 * 10**9 + 5, -86_400 * 10**9 + 7):
            os.utime(a, ns=(ns, ns))
            h.sync()
            cached = ns < 0
            if cached:
                self.assertEqual(h.lookup(a).source, "cache")
                self.assertSameStat(h.lookup(a), a)
            else:
                self.assertIsNone(h.lookup(a))
            self.assertEqual(h.stat(a).source, "cache" if cached else "stat")
            self.assertSameStat(h.stat(a), a)
            self.assertCompatStats(h.file_stats(a), a)

    def test_context_manager_and_close(self):
        with fstatcache.Handle(self.w.name) as h:
            self.assertFalse(h.closed)
            self.assertEqual(h.name, self.w.name)
            self.assertTrue(h.attached)
            self.assertIn(self.w.name, repr(h))
        self.assertTrue(h.closed)
        for call in (lambda: h.stat("/"), lambda: h.lookup("/"),
                     lambda: h.sync(), lambda: h.entries(),
                     lambda: h.capacity):
            with self.assertRaisesRegex(ValueError, "closed"):
                call()
        h.close()                               # idempotent

    def test_close_from_inside_a_call(self):
        # Python code a call runs (__fspath__, __float__, a finalizer) may
        # close the handle; the call must finish on the handle it started
        # with (the ASan pass proves no use after free), and only then is
        # the handle gone.
        a = self.write("a", "abc")
        h = fstatcache.Handle(self.w.name)

        class ClosingPath:
            def __fspath__(self):
                h.close()
                return a

        class ClosingTimeout:
            def __float__(self):
                h.close()
                return 5.0

        calls = [
            lambda: h.stat(ClosingPath()),
            lambda: h.file_stats(ClosingPath()),
            lambda: h.lookup(ClosingPath()),
            lambda: h.lookup_many([a, ClosingPath()]),
            lambda: h.request_watch(ClosingPath()),
            lambda: h.watch(ClosingPath()),
            lambda: h.sync(timeout=ClosingTimeout()),
        ]
        for call in calls:
            h = fstatcache.Handle(self.w.name)
            call()
            self.assertTrue(h.closed)
            self.assertEqual(h._busy, 0)
            with self.assertRaises(ValueError):
                h.stat(a)
        self.w.sync()
        self.assertEqual(fstatcache.Handle(self.w.name).lookup(a).size, 3)

    def test_bad_input(self):
        h = self.handle()
        for bad in ("relative", "", b"rel", pathlib.Path("x/y")):
            with self.assertRaisesRegex(ValueError, "must be absolute"):
                h.stat(bad)
            with self.assertRaisesRegex(ValueError, "must be absolute"):
                h.lookup(bad)
        for bad in ("/a\0b", b"/a\0b", "/\u00e9\0"):
            with self.assertRaisesRegex(ValueError, "null byte"):
                h.stat(bad)
        for bad in (None, 42, 1.5, ["/a"]):
            with self.assertRaises(TypeError):
                h.stat(bad)
            with self.assertRaises(TypeError):
                h.lookup(bad)
        with self.assertRaises(TypeError):
            h.lookup_many("/a")
        with self.assertRaises(TypeError):
            h.lookup_many(42)
        with self.assertRaisesRegex(ValueError, "must be absolute"):
            h.lookup_many(["/a", "b"])
        for bad in ("/a/../b", "/a//b", "/a/", "/", "/a/./b"):
            with self.assertRaisesRegex(ValueError, "canonical"):
                h.watch(bad)
            with self.assertRaisesRegex(ValueError, "canonical"):
                h.request_watch(bad)
        with self.assertRaises(OSError) as cm:
            h.watch("/" + "x" * 5000)
        self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)
        with self.assertRaises(ValueError):
            h.sync(timeout=-1)
        with self.assertRaises(TypeError):
            h.sync(timeout="soon")
        for bad in ("", "has space", "a/b", "x" * 65, "a.b"):
            with self.assertRaisesRegex(ValueError, "instance name"):
                fstatcache.Handle(bad)
        with self.assertRaises(TypeError):
            fstatcache.Handle(42)
        # A non-canonical absolute path is still answered, by stat().
        a = self.write("a", "x")
        got = h.stat(self.w.dir + "//a")
        self.assertEqual(got.source, "stat")
        self.assertSameStat(got, a)
        # Non-UTF-8 names work as bytes and as os.fsdecode() strings.
        raw = os.path.join(os.fsencode(self.w.dir), b"\xff\xfe")
        with open(raw, "w") as f:
            f.write("odd")
        h.watch(raw)
        self.assertEqual(h.lookup(raw).size, 3)
        self.assertEqual(h.lookup(os.fsdecode(raw)).size, 3)
        self.assertIn(os.fsdecode(raw), [e.path for e in h.entries()])

    def test_other_stat_errors_raise(self):
        h = self.handle()
        self.write("file", "x")
        self.assertIsNone(h.file_stats(self.w.path("file") + "/below"))
        self.assertFalse(h.stat(self.w.path("file") + "/below").exists)
        loop = self.w.path("loop")
        os.symlink(loop, loop)
        for call in (h.stat, h.file_stats):
            with self.assertRaises(OSError) as cm:
                call(loop)
            self.assertEqual(cm.exception.errno, errno.ELOOP)
            self.assertEqual(cm.exception.filename, loop)

    def test_writer_stopped(self):
        a = self.write("a", "x")
        h = self.handle()
        h.watch(a)
        self.assertEqual(h.stat(a).source, "cache")
        self.w.stop()
        self.assertSameStat(h.stat(a), a)
        self.assertEqual(h.stat(a).source, "stat")
        self.assertIsNone(h.lookup(a))
        self.assertFalse(h.attached)
        self.assertEqual(h.entries(), [])
        with self.assertRaises(OSError) as cm:
            h.sync()
        self.assertEqual(cm.exception.errno, errno.ENOTCONN)


class NoWriterTest(fsctest.WriterTest):
    start_writer = False

    def test_answers_by_stat(self):
        a = self.write("a", "no writer")
        with fstatcache.Handle(self.w.name) as h:
            self.assertFalse(h.attached)
            self.assertEqual(h.slot_count, 0)
            got = h.stat(a)
            self.assertEqual(got.source, "stat")
            self.assertSameStat(got, a)
            self.assertIsNone(h.lookup(a))
            self.assertEqual(h.lookup_many([a]), [None])
            self.assertEqual(h.entries(), [])
            with self.assertRaises(OSError) as cm:
                h.sync(timeout=5)
            self.assertEqual(cm.exception.errno, errno.ENOTCONN)
            self.assertIn("no live fstatcached writer", str(cm.exception))
            with self.assertRaises(OSError) as cm:
                h.request_watch(a)
            self.assertEqual(cm.exception.errno, errno.ENOTCONN)
        with self.assertRaises(FileNotFoundError) as cm:
            fstatcache.Handle(self.w.name, attached=True)
        self.assertIn(self.w.name, str(cm.exception))

    def test_writer_appears(self):
        a = self.write("a", "later")
        with fstatcache.Handle(self.w.name) as h:
            self.assertEqual(h.stat(a).source, "stat")
            self.w.start()
            h.watch(a)          # an administrative call waits to attach
            self.assertEqual(h.lookup(a).source, "cache")
            self.assertSameStat(h.lookup(a), a)


class SignalTest(fsctest.WriterTest):

    def test_sync_releases_the_gil_and_close_waits(self):
        # A stopped writer cannot answer: sync() blocks in another thread
        # while this one keeps running Python, closes the handle (which
        # only marks it, the call being in flight) and lets the writer go.
        import threading
        h = fstatcache.Handle(self.w.name)
        self.addCleanup(h.close)
        os.kill(self.w.proc.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, self.w.proc.pid, signal.SIGCONT)
        result = []
        t = threading.Thread(target=lambda: result.append(h.sync(timeout=None)))
        t.start()
        while h._busy == 0 and t.is_alive():  # until the call is in flight
            os.sched_yield()
        h.close()
        self.assertTrue(h.closed)
        with self.assertRaisesRegex(ValueError, "closed"):
            h.lookup("/")
        self.assertEqual(h._busy, 1)
        os.kill(self.w.proc.pid, signal.SIGCONT)
        t.join(fsctest.GUARD_S)
        self.assertFalse(t.is_alive())
        self.assertEqual(result, [None])
        self.assertEqual(h._busy, 0)


if __name__ == "__main__":
    fsctest.main()
