"""Many threads reading through fstatcache at once while files change.

Every round the main thread appends one byte to every file, then calls the
sync barrier; readers never stop in between.  A reader's answer read while
round r0..r1 was current must lie within what the rounds allow (the size
as of the last sync, or one of the appends under way): never torn, never
from the future, never older than the last sync.  After each sync all
readers stop at a barrier and compare every answer with os.stat exactly.
Readers share one Handle, use their own FStatCache, lookup_many (long
lists run without the GIL) and control calls, together.
"""

import os
import sys
import threading

import fsctest
import fstatcache

FILES = 300
ROUNDS = 20
READERS = 5
BASE = 10


class ThreadsTest(fsctest.WriterTest):

    def test_concurrent_readers(self):
        # Switch threads often: more interleavings, and the main thread's
        # file writes do not wait 5 ms for the GIL after each system call.
        old = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)
        self.addCleanup(sys.setswitchinterval, old)
        paths = [self.write("f%03d" % i, "x" * BASE) for i in range(FILES)]
        shared = fstatcache.Handle(self.w.name)
        self.addCleanup(shared.close)
        with fstatcache.FStatCache(name=self.w.name) as c:
            c.build(paths)
        state = {"round": 0}
        check = threading.Event()
        done = threading.Event()
        barrier = threading.Barrier(READERS + 1, timeout=fsctest.GUARD_S)
        errors = []
        counts = [0] * READERS

        def in_range(size, r0, r1, what):
            if not BASE + r0 <= size <= BASE + r1 + 1:
                raise AssertionError("%s: size %d outside rounds %d..%d"
                                     % (what, size, r0, r1))

        def free_run(k, cache, i):
            p = paths[i % FILES]
            r0 = state["round"]
            kind = (k + i) % 4
            if kind == 0:
                got = [cache.get_file_stats(p)["size"]]
            elif kind == 1:
                got = [shared.lookup(p)]
            elif kind == 2:
                got = shared.lookup_many(paths)
            else:
                got = [shared.stat(p).size]
                if k == 0:
                    shared.sync()       # a control call among the lookups
            r1 = state["round"]
            for x in got:
                # lookup() may decline while the writer rewrites an entry
                # (None: the caller would stat()); it is never wrong.
                if x is not None:
                    in_range(x if isinstance(x, int) else x.size, r0, r1, p)
                    counts[k] += 1

        def exact(cache):
            many = shared.lookup_many(paths)
            for p, s in zip(paths, many):
                st = os.stat(p)
                if s.source != "cache" or s.size != st.st_size or \
                        s.mtime_ns != st.st_mtime_ns:
                    raise AssertionError("%s: %r, os.stat %r" % (p, s, st))
                got = cache.get_file_stats(p)
                if got != {"ts": st.st_mtime, "size": st.st_size}:
                    raise AssertionError("%s: %r, os.stat %r" % (p, got, st))

        def reader(k):
            try:
                with fstatcache.FStatCache(name=self.w.name) as cache:
                    i = 0
                    while not done.is_set():
                        if check.is_set():
                            barrier.wait()
                            exact(cache)
                            barrier.wait()
                            continue
                        free_run(k, cache, i)
                        i += 1
            except BaseException as e:          # reported by the main thread
                errors.append((k, e))
                barrier.abort()

        threads = [threading.Thread(target=reader, args=(k,))
                   for k in range(READERS)]
        for t in threads:
            t.start()
        finished = False
        try:
            for r in range(ROUNDS):
                for p in paths:
                    with open(p, "a") as f:
                        f.write("+")
                shared.sync()
                state["round"] = r + 1
                check.set()
                barrier.wait()
                check.clear()
                barrier.wait()
            finished = True
        except threading.BrokenBarrierError:
            pass                # a reader failed: its error is reported
        finally:
            done.set()
            if not finished:    # readers may be waiting for this thread
                barrier.abort()
            for t in threads:
                t.join(fsctest.GUARD_S)
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads))
        for p in paths:
            self.assertEqual(os.stat(p).st_size, BASE + ROUNDS)
        self.assertTrue(all(counts), counts)


if __name__ == "__main__":
    fsctest.main()
