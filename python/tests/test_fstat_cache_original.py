"""The original fstat-cache library's tests and benchmark, on fstat_cache.

fstat-cache published four tests (tests/test_fstat_cache.py) and a
benchmark script (examples/benchmarks.py).  Rewritten here from what they
do, against a real writer started per test (fsctest) and the module name
the original's users import, `fstat_cache`, with FStatCache() given no
argument (the instance comes from $FSTATCACHE_NAME, as for a user of the
packaged service).  What each original test asserts is asserted the same
way; the checks this project adds (answers from the cache, nothing left
behind) come after.
"""

import os
import subprocess
import sys
import tempfile

import fsctest
import fstat_cache

BENCH = os.path.join(os.environ.get("FSC_SOURCE_ROOT", os.path.join(
    os.path.dirname(__file__), "..", "..")), "bench", "fstat_cache_benchmarks.py")


class InstanceTest(fsctest.WriterTest):
    """$FSTATCACHE_NAME names this test's writer for the test's length."""

    def setUp(self):
        super().setUp()
        old = os.environ.get("FSTATCACHE_NAME")
        os.environ["FSTATCACHE_NAME"] = self.w.name

        def restore():
            if old is None:
                os.environ.pop("FSTATCACHE_NAME", None)
            else:
                os.environ["FSTATCACHE_NAME"] = old
        self.addCleanup(restore)


class FStatCacheTestCase(InstanceTest):
    """The original's four tests: two files, 'validate' and 'validate
    again', the first built into the cache in setUp."""

    def setUp(self):
        super().setUp()
        self.file_paths = [self.mkstemp(), self.mkstemp()]
        self._write_to_file(self.file_paths[0], "validate", "a")
        self._write_to_file(self.file_paths[1], "validate again", "a")
        self.cache = fstat_cache.FStatCache()
        self.addCleanup(self.cache.close)
        self.cache.build([self.file_paths[0]])

    def mkstemp(self):
        # The original's tempfile.mkstemp(), in the writer's private
        # directory so nothing is left in /tmp.
        fd, path = tempfile.mkstemp(dir=self.w.dir)
        os.close(fd)
        return path

    def _write_to_file(self, path, data, mode="a"):
        with open(path, mode) as f:
            f.write(data)

    def tearDown(self):
        self.cache.invalidate()
        for path in self.file_paths:
            if os.path.isfile(path):
                os.remove(path)

    def test_get_file_size_from_cache(self):
        path = self.file_paths[0]
        self.assertEqual(len("validate"), self.cache.get_file_stats(path)["size"])
        self.assertEqual(self.cache.handle.lookup(path).source, "cache")

    def test_get_file_size_using_stat(self):
        path = self.file_paths[1]
        self.assertIsNone(self.cache.handle.lookup(path))     # not cached yet
        self.assertEqual(len("validate again"),
                         self.cache.get_file_stats(path)["size"])
        self.cache.sync()                                      # now watched
        self.assertEqual(self.cache.handle.lookup(path).source, "cache")

    def test_list_files_in_cache(self):
        self.assertEqual(self.file_paths[0], self.cache.list_files_in_cache()[0])
        self.assertEqual(self.cache.list_files_in_cache(), [self.file_paths[0]])

    def test_add_file_to_watch_and_remove(self):
        random_file = self.mkstemp()
        self.file_paths.append(random_file)
        self.cache.add_file_to_watch(random_file)
        self.assertIn(random_file, self.cache.list_files_in_cache())
        self._write_to_file(random_file, "some random data")
        self.cache.remove_from_watch(random_file)
        self.assertNotIn(random_file, self.cache.list_files_in_cache())
        self.assertRaises(KeyError, lambda: self.cache.remove_from_watch("validate"))


class BenchmarksTest(InstanceTest):
    """The original's benchmark script, rewritten (bench/
    fstat_cache_benchmarks.py), with fewer files and rounds: it runs,
    every answer is right, every file is served from the cache, and it
    leaves nothing behind (the original left its 10,000 files in /tmp
    when it failed)."""

    def test_benchmarks_script(self):
        tmp = os.path.join(self.w.dir, "tmp")
        os.mkdir(tmp)
        env = fsctest.python_child_env()
        env["TMPDIR"] = tmp
        p = subprocess.run([sys.executable, BENCH, "--files", "300",
                            "--rounds", "3"], env=env, timeout=fsctest.GUARD_S,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in ("creating 300 temp files", "built cache in ",
                     "using fstat-cache library: ", "using os.stat: ",
                     "served from the cache: 300 of 300 files",
                     "cleaning up tmp files"):
            self.assertIn(line, p.stdout)
        self.assertEqual(os.listdir(tmp), [])
        with fstat_cache.FStatCache() as c:        # invalidate() cleared it
            self.assertEqual(c.list_files_in_cache(), [])

    def test_benchmarks_script_without_writer(self):
        self.w.stop()
        tmp = os.path.join(self.w.dir, "tmp")
        os.mkdir(tmp)
        env = fsctest.python_child_env()
        env["TMPDIR"] = tmp
        p = subprocess.run([sys.executable, BENCH, "--files", "5",
                            "--rounds", "1"], env=env, timeout=fsctest.GUARD_S,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is a writer serving $FSTATCACHE_NAME?", p.stderr)
        self.assertEqual(os.listdir(tmp), [])


if __name__ == "__main__":
    fsctest.main()
