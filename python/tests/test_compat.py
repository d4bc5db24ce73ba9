"""Tests of fstatcache.FStatCache, the original fstat-cache API."""

import errno
import os
import pathlib

import fsctest
import fstatcache


class CompatTest(fsctest.WriterTest):

    def cache(self):
        c = fstatcache.FStatCache(name=self.w.name)
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
        self.assertIsNone(c.get_file_stats(a))                # as the original
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
        self.assertIsNone(c.add_file_to_watch(b))
        self.assertIsNone(c.remove_from_watch(b))
        for gone in (self.w.path("missing"), self.w.dir):   # as fstat-cache
            with self.assertRaises(FileNotFoundError) as cm:
                c.add_file_to_watch(gone)
            self.assertEqual((cm.exception.errno, cm.exception.filename),
                             (errno.ENOENT, gone))
            with self.assertRaises(KeyError):
                c.remove_from_watch(gone)

    def test_list_files_in_cache(self):
        c = self.cache()
        self.assertEqual(c.list_files_in_cache(), [])
        paths = [self.write(n, n) for n in ("b", "a", "c")]
        missing = self.w.path("d-missing")
        c.build(paths + [pathlib.Path(missing)])
        self.assertEqual(c.list_files_in_cache(), sorted(paths + [missing]))
        other = fstatcache.FStatCache(name=self.w.name)      # one cache per instance
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
        self.assertIsNone(c.get_file_stats(gone))          # by stat()
        self.assertIsNone(c.get_file_stats_using_stat(gone))
        # Not remembered (an HTTP client asking for random names must not
        # fill the table), unlike a file that exists.
        there = self.write("there", "x")
        c.get_file_stats(there)
        c.handle.sync()
        self.assertEqual(c.list_files_in_cache(), [there])
        c.build([gone])
        self.assertIsNone(c.get_file_stats(gone))          # from the cache
        self.assertEqual(c.handle.lookup(gone).source, "cache")
        below = self.write("file", "x") + "/below"
        self.assertIsNone(c.get_file_stats(below))         # ENOTDIR
        self.assertIsNone(c.get_file_stats_using_stat(below))

    def test_not_a_regular_file(self):
        """None, as the original's os.path.isfile() test answers."""
        c = self.cache()
        os.mkdir(self.w.path("sub"))
        os.mkfifo(self.w.path("fifo"))
        c.build([self.w.path("sub")])
        c.sync()
        for p in (self.w.path("sub"), self.w.path("fifo"), "/dev/null", "/"):
            with self.subTest(p):
                self.assertIsNone(c.get_file_stats(p))
                self.assertIsNone(c.get_file_stats_using_stat(p))
        self.assertEqual(c.handle.lookup(self.w.path("sub")).source, "cache")

    def test_other_stat_errors_raise(self):
        """Not hidden as None, unlike the original (docs/PYTHON.md)."""
        c = self.cache()
        loop = self.w.path("loop")
        os.symlink(loop, loop)
        long = self.w.path("x" * 300)
        for p, err in ((loop, errno.ELOOP), (long, errno.ENAMETOOLONG)):
            for call in (c.get_file_stats, c.get_file_stats_using_stat):
                with self.subTest(p=p[-10:], call=call.__name__):
                    with self.assertRaises(OSError) as cm:
                        call(p)
                    self.assertEqual(cm.exception.errno, err)

    def test_relative_paths(self):
        """Taken against the working directory, as os.stat() takes them."""
        a = self.write("a", "relative")
        c = self.cache()
        old = os.getcwd()
        os.chdir(self.w.dir)
        self.addCleanup(os.chdir, old)
        for rel in ("a", b"a", pathlib.Path("a")):
            with self.subTest(rel=rel):
                self.assertCompatStats(c.get_file_stats(rel), a)
                self.assertEqual(c.get_file_stats_using_stat(rel),
                                 c.get_file_stats(rel))
        c.sync()
        self.assertEqual(c.handle.lookup(a).source, "cache")  # one key
        self.assertEqual(c.list_files_in_cache(), [a])
        self.assertIsNone(c.get_file_stats("missing"))
        self.assertIsNone(c.get_file_stats(""))               # as os.path.isfile
        self.assertCompatStats(c.get_file_stats("./a"), a)    # by stat()
        os.mkdir("sub")
        self.assertCompatStats(c.get_file_stats("sub/../a"), a)
        b = self.write("sub/b", "in sub")
        c.build(["sub/b"])
        self.assertEqual(c.list_files_in_cache(), [a, b])
        c.remove_from_watch("sub/b")
        self.assertEqual(c.list_files_in_cache(), [a])
        c.add_file_to_watch("sub/b")
        self.assertIn(b, c.list_files_in_cache())
        with self.assertRaises(KeyError):
            c.remove_from_watch("validate")        # the original's own test
        with self.assertRaises(KeyError):
            c.remove_from_watch("sub/../a")        # never a key
        with self.assertRaisesRegex(ValueError, "canonical"):
            c.add_file_to_watch("sub/../a")
        with self.assertRaisesRegex(ValueError, "canonical"):
            c.build(["./a"])
        # A working directory without a name: stat(2) of the relative
        # path, never the cache.
        os.chdir("sub")
        os.rename(b, self.w.path("b-moved"))
        os.rmdir(self.w.path("sub"))
        self.assertIsNone(c.get_file_stats("b"))

    def test_bad_input(self):
        c = self.cache()
        a = self.write("a", "x")
        for call in (c.get_file_stats, c.add_file_to_watch, c.remove_from_watch,
                     c.get_file_stats_using_stat, lambda p: c.build([a, p])):
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
            fstatcache.FStatCache(name="no such/name")

    def test_close(self):
        with fstatcache.FStatCache(name=self.w.name) as c:
            self.assertIn(self.w.name, repr(c))
        with self.assertRaisesRegex(ValueError, "closed"):
            c.get_file_stats("/")


class CompatNoWriterTest(fsctest.WriterTest):
    start_writer = False

    def test_no_writer(self):
        a = self.write("a", "still answered")
        with fstatcache.FStatCache(name=self.w.name) as c:
            self.assertCompatStats(c.get_file_stats(a), a)
            self.assertEqual(c.handle.stat(a).source, "stat")
            self.assertEqual(c.list_files_in_cache(), [])
            self.assertIsNone(c.get_file_stats(self.w.path("missing")))
            for call in (lambda: c.build([a]), lambda: c.add_file_to_watch(a),
                         lambda: c.remove_from_watch(a), c.invalidate):
                with self.assertRaises(OSError) as cm:
                    call()
                self.assertEqual(cm.exception.errno, errno.ENOTCONN)
                self.assertIn("no live fstatcached writer", str(cm.exception))


class ConstructorTest(fsctest.WriterTest):

    def test_timeout_argument(self):
        """The original's FStatCache(timeout=None): kept, changes nothing."""
        for t in (None, 0, 1000, 2.5):
            with fstatcache.FStatCache(t, name=self.w.name) as c:
                self.assertEqual(c.timeout, t)
                self.assertEqual(c.handle.name, self.w.name)
        with fstatcache.FStatCache(timeout=10, name=self.w.name) as c:
            self.assertEqual(c.timeout, 10)
        for bad, exc in ((-1, ValueError), (float("nan"), ValueError),
                         (True, TypeError), ([], TypeError)):
            with self.subTest(bad=bad):
                with self.assertRaises(exc):
                    fstatcache.FStatCache(bad, name=self.w.name)
        with self.assertRaises(TypeError):
            fstatcache.FStatCache(None, self.w.name)    # name is keyword-only

    def test_positional_name_deprecated(self):
        with self.assertWarnsRegex(DeprecationWarning, "name="):
            c = fstatcache.FStatCache(self.w.name)
        with c:
            self.assertEqual((c.handle.name, c.timeout), (self.w.name, None))
        with self.assertRaises(TypeError):
            fstatcache.FStatCache(self.w.name, name=self.w.name)

    def test_list_files_in_cache_static(self):
        """Callable on the class, as the original's static method: the
        default instance; on an object: that object's instance."""
        a = self.write("a", "x")
        with fstatcache.FStatCache(name=self.w.name) as c:
            c.build([a])
            self.assertEqual(c.list_files_in_cache(), [a])
            with env("FSTATCACHE_NAME", self.w.name):
                self.assertEqual(fstatcache.FStatCache.list_files_in_cache(), [a])
            with env("FSTATCACHE_NAME", self.w.name + "-none"):
                self.assertEqual(fstatcache.FStatCache.list_files_in_cache(), [])
                self.assertEqual(c.list_files_in_cache(), [a])
        self.assertIn("sorted", fstatcache.FStatCache.list_files_in_cache.__doc__)

    def test_get_file_stats_using_stat_static(self):
        a = self.write("a", "twelve bytes")
        self.assertCompatStats(fstatcache.FStatCache.get_file_stats_using_stat(a), a)
        with fstatcache.FStatCache(name=self.w.name) as c:
            self.assertCompatStats(c.get_file_stats_using_stat(a), a)
            self.assertEqual(c.handle.entries(), [])    # never the cache

    def test_fstat_cache_module(self):
        """The original's import names."""
        import fstat_cache
        import fstat_cache.fstat_cache
        self.assertIs(fstat_cache.FStatCache, fstatcache.FStatCache)
        self.assertIs(fstat_cache.fstat_cache.FStatCache, fstatcache.FStatCache)
        self.assertEqual(fstat_cache.__all__, ["FStatCache"])
        from fstat_cache import FStatCache
        with env("FSTATCACHE_NAME", self.w.name), FStatCache() as c:
            self.assertEqual(c.handle.name, self.w.name)


class env:
    """Set one environment variable for a with block."""

    def __init__(self, key, value):
        self.key, self.value = key, value

    def __enter__(self):
        self.old = os.environ.get(self.key)
        os.environ[self.key] = self.value

    def __exit__(self, *exc):
        if self.old is None:
            del os.environ[self.key]
        else:
            os.environ[self.key] = self.old


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
