"""Tests of fstatcache.FStatCache, the original fstat-cache API."""

import errno
import os
import pathlib

import fsctest
import fstatcache


class CompatTest(fsctest.WriterTest):

    def cache(self):
        c = fstatcache.FStatCache(self.w.name)
        self.addCleanup(c.close)
        return c

    def test_build_then_from_cache(self):
        paths = [self.write("f%d" % i, "data" * i) for i in range(20)]
        c = self.cache()
        self.assertIsNone(c.build(paths))
        c.sync()
        for p in paths:
            self.assertCompatStats(c.get_file_stats(p), p)
            self.assertEqual(c.handle.lookup(p).source, "cache")

    def test_unwatched_file_is_answered_then_cached(self):
        a = self.write("a", "validate again")
        c = self.cache()
        self.assertCompatStats(c.get_file_stats(a), a)        # by stat()
        self.assertEqual(c.get_file_stats(a)["size"], len("validate again"))
        c.sync()
        self.assertEqual(c.handle.lookup(a).source, "cache")  # and now cached
        self.assertIn(a, c.list_files_in_cache())

    def test_changes_seen_after_sync(self):
        a = self.write("a", "12345")
        c = self.cache()
        c.build([a])
        steps = [
            ("append", lambda: self.write("a", "more")),
            ("truncate", lambda: os.truncate(a, 1)),
            ("truncate to 0", lambda: open(a, "w").close()),
            ("rewrite", lambda: self.write("a", "abc", "w")),
            ("mtime", lambda: os.utime(a, ns=(10**18 + 1, 10**18 + 1))),
        ]
        for what, change in steps:
            change()
            c.sync()
            with self.subTest(what):
                self.assertEqual(c.handle.lookup(a).source, "cache")
                self.assertCompatStats(c.get_file_stats(a), a)
        os.unlink(a)
        c.sync()
        with self.assertRaises(FileNotFoundError) as cm:
            c.get_file_stats(a)
        self.assertEqual((cm.exception.errno, cm.exception.filename),
                         (errno.ENOENT, a))
        self.assertFalse(c.handle.lookup(a).exists)           # cached absence
        self.write("a", "recreated")
        c.sync()
        self.assertEqual(c.handle.lookup(a).source, "cache")
        self.assertCompatStats(c.get_file_stats(a), a)
        self.assertEqual(c.get_file_stats(a)["size"], len("recreated"))

    def test_add_and_remove_watch(self):
        a, b = self.write("a", "x"), self.write("b", "y")
        c = self.cache()
        c.build([a])
        c.add_file_to_watch(b)
        self.assertEqual(c.list_files_in_cache(), [a, b])
        self.write("b", "some random data")
        c.sync()
        self.assertCompatStats(c.get_file_stats(b), b)
        c.remove_from_watch(b)
        self.assertEqual(c.list_files_in_cache(), [a])
        self.assertIsNone(c.handle.lookup(b))
        with self.assertRaises(KeyError):
            c.remove_from_watch(b)                          # as fstat-cache
        self.assertCompatStats(c.get_file_stats(b), b)        # still answered

    def test_list_files_in_cache(self):
        c = self.cache()
        self.assertEqual(c.list_files_in_cache(), [])
        paths = [self.write(n, n) for n in ("b", "a", "c")]
        missing = self.w.path("d-missing")
        c.build(paths + [pathlib.Path(missing)])
        self.assertEqual(c.list_files_in_cache(), sorted(paths + [missing]))
        other = fstatcache.FStatCache(self.w.name)      # one cache per instance
        self.addCleanup(other.close)
        self.assertEqual(other.list_files_in_cache(), c.list_files_in_cache())

    def test_invalidate(self):
        paths = [self.write(n, n) for n in ("a", "b")]
        c = self.cache()
        c.build(paths)
        c.invalidate()
        self.assertEqual(c.list_files_in_cache(), [])
        for p in paths:
            self.assertIsNone(c.handle.lookup(p))
            self.assertCompatStats(c.get_file_stats(p), p)   # by stat()
        c.build(paths)                                     # usable again
        self.assertEqual(c.list_files_in_cache(), paths)

    def test_missing_file(self):
        gone = self.w.path("gone")
        c = self.cache()
        with self.assertRaises(FileNotFoundError) as cm:   # by stat()
            c.get_file_stats(gone)
        self.assertEqual(cm.exception.filename, gone)
        # Not remembered (an HTTP client asking for random names must not
        # fill the table), unlike a file that exists.
        there = self.write("there", "x")
        c.get_file_stats(there)
        c.handle.sync()
        self.assertEqual(c.list_files_in_cache(), [there])
        c.build([gone])
        with self.assertRaises(FileNotFoundError):         # from the cache
            c.get_file_stats(gone)
        self.assertEqual(c.handle.lookup(gone).source, "cache")
        with self.assertRaises(NotADirectoryError):
            c.get_file_stats(self.write("file", "x") + "/below")

    def test_bad_input(self):
        c = self.cache()
        a = self.write("a", "x")
        for call in (c.get_file_stats, c.add_file_to_watch, c.remove_from_watch,
                     lambda p: c.build([a, p])):
            with self.assertRaisesRegex(ValueError, "must be absolute"):
                call("relative/path")
            with self.assertRaisesRegex(ValueError, "null byte"):
                call(a + "\0x")
            with self.assertRaises(TypeError):
                call(None)
            with self.assertRaises(TypeError):
                call(12)
        with self.assertRaisesRegex(TypeError, "iterable of paths"):
            c.build(a)                              # a path, not a list
        with self.assertRaises(TypeError):
            c.build(None)
        with self.assertRaisesRegex(ValueError, "canonical"):
            c.add_file_to_watch(self.w.dir + "/./a")
        # build() checks every path before it sends any.
        with self.assertRaisesRegex(ValueError, "canonical"):
            c.build([a, self.w.dir + "/../x"])
        self.assertEqual(c.list_files_in_cache(), [])
        with self.assertRaisesRegex(ValueError, "instance name"):
            fstatcache.FStatCache("no such/name")

    def test_close(self):
        with fstatcache.FStatCache(self.w.name) as c:
            self.assertIn(self.w.name, repr(c))
        with self.assertRaisesRegex(ValueError, "closed"):
            c.get_file_stats("/")


class CompatNoWriterTest(fsctest.WriterTest):
    start_writer = False

    def test_no_writer(self):
        a = self.write("a", "still answered")
        with fstatcache.FStatCache(self.w.name) as c:
            self.assertCompatStats(c.get_file_stats(a), a)
            self.assertEqual(c.handle.stat(a).source, "stat")
            self.assertEqual(c.list_files_in_cache(), [])
            with self.assertRaises(FileNotFoundError):
                c.get_file_stats(self.w.path("missing"))
            for call in (lambda: c.build([a]), lambda: c.add_file_to_watch(a),
                         lambda: c.remove_from_watch(a), c.invalidate):
                with self.assertRaises(OSError) as cm:
                    call()
                self.assertEqual(cm.exception.errno, errno.ENOTCONN)
                self.assertIn("no live fstatcached writer", str(cm.exception))


class DefaultNameTest(fsctest.WriterTest):

    def test_fstatcache_name_environment(self):
        a = self.write("a", "x")
        old = os.environ.get("FSTATCACHE_NAME")
        os.environ["FSTATCACHE_NAME"] = self.w.name
        try:
            with fstatcache.FStatCache() as c:
                self.assertEqual(c.handle.name, self.w.name)
                c.build([a])
                self.assertEqual(c.handle.lookup(a).source, "cache")
        finally:
            if old is None:
                del os.environ["FSTATCACHE_NAME"]
            else:
                os.environ["FSTATCACHE_NAME"] = old


if __name__ == "__main__":
    fsctest.main()
