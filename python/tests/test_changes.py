"""Tests of the change feed in Python: Handle.changes() and wait_changes(),
against a real writer.  Nothing waits by sleeping: sync() is the barrier
(it makes the writer re-stat every marked path, so after it the last
change of a path is its final answer), and wait_changes() is only asked
to return at once or to be woken by the writer."""

import json
import os
import re
import threading
import time

import fsctest
import fstatcache

CURSOR = re.compile(r"^[0-9a-f]{16}-[0-9a-f]+$")


class ChangesTest(fsctest.WriterTest):

    def handle(self, **kw):
        h = fstatcache.Handle(self.w.name, **kw)
        self.addCleanup(h.close)
        return h

    def now(self, h):
        """A cursor at the feed's present (a new one resyncs)."""
        cur, changes = h.changes()
        self.assertIsNone(changes)
        self.assertRegex(cur, CURSOR)
        return cur

    def changes_of(self, changes, path):
        return [c for c in changes if c.path == path]

    def test_new_cursor_resyncs_then_lists_nothing(self):
        h = self.handle()
        cur, changes = h.changes()
        self.assertIsNone(changes)
        self.assertRegex(cur, CURSOR)
        self.assertNotEqual(cur.split("-")[0], "0" * 16)  # a live writer
        self.assertEqual(h.changes(None)[1], None)
        again, changes = h.changes(cur)
        self.assertEqual(changes, [])
        self.assertEqual(again, cur)            # nothing happened
        self.assertEqual(h.changes(cursor=cur), (cur, []))

    def test_append_gives_the_new_size(self):
        a = self.write("a", "12345")
        h = self.handle()
        h.watch(a)
        cur = self.now(h)
        self.write("a", "678")
        h.sync()
        cur, changes = h.changes(cur)
        mine = self.changes_of(changes, a)
        self.assertTrue(mine, changes)
        for c in mine[:-1]:                     # re-stat'ed after a settle
            self.assertIn(c.kind, ("marked", "changed"))
            if c.kind == "marked":
                self.assertIsNone(c.stat)
        last = mine[-1]
        self.assertIsInstance(last, fstatcache.Change)
        self.assertEqual(last.kind, "changed")
        self.assertEqual(tuple(last), (last.kind, last.path, last.stat))
        self.assertIsInstance(last.path, str)
        self.assertEqual(last.stat.source, "cache")
        self.assertEqual(last.stat.size, 8)
        self.assertSameStat(last.stat, a)
        self.assertEqual(last.stat, h.lookup(a))
        self.assertEqual(h.changes(cur), (cur, []))

    def test_delete_and_create(self):
        a = self.write("a", "x")
        h = self.handle()
        h.watch(a)
        cur = self.now(h)
        os.unlink(a)
        h.sync()
        cur, changes = h.changes(cur)
        last = self.changes_of(changes, a)[-1]
        self.assertEqual(last.kind, "deleted")
        self.assertFalse(last.stat.exists)
        self.assertEqual(last.stat.source, "cache")
        self.write("a", "back")
        h.sync()
        cur, changes = h.changes(cur)
        last = self.changes_of(changes, a)[-1]
        self.assertEqual(last.kind, "created")
        self.assertSameStat(last.stat, a)

    def test_watch_adds_and_unwatch_removes(self):
        a, b = self.write("a", "a"), self.write("b", "bb")
        h = self.handle()
        h.watch(a)
        cur = self.now(h)
        h.watch(b)                  # returns once cached: no sync needed
        cur, changes = h.changes(cur)
        self.assertEqual([(c.kind, c.path) for c in changes], [("added", b)])
        self.assertSameStat(changes[0].stat, b)
        h.unwatch(b)
        cur, changes = h.changes(cur)
        self.assertEqual([(c.kind, c.path, c.stat) for c in changes],
                         [("removed", b, None)])
        self.assertEqual(h.changes(cur), (cur, []))

    def test_agrees_with_the_tool(self):
        paths = [self.write("f%d" % i, "x" * i) for i in range(5)]
        h = self.handle()
        cur = self.now(h)
        for p in paths:
            h.watch(p)
        self.write("f1", "more")
        os.unlink(paths[2])
        h.sync()
        end, changes = h.changes(cur)
        out = self.w.tool("changes", "--json", "--since", cur).stdout
        lines = [json.loads(x) for x in out.decode().splitlines()]
        self.assertEqual(lines[-1], {"cursor": end})
        self.assertEqual([(x["change"], x["path"]) for x in lines[:-1]],
                         [(c.kind, c.path) for c in changes])
        for x, c in zip(lines, changes):
            if c.stat is not None:
                self.assertEqual(x["size"], c.stat.size)
                self.assertEqual(x["exists"], c.stat.exists)

    def test_invalidate_resyncs(self):
        a = self.write("a", "x")
        h = self.handle()
        h.watch(a)
        cur = self.now(h)
        h.invalidate()
        cur, changes = h.changes(cur)
        self.assertIsNone(changes)
        self.assertEqual(h.changes(cur), (cur, []))

    def test_restarted_writer_resyncs(self):
        a = self.write("a", "x")
        h = self.handle()
        h.watch(a)
        cur = self.now(h)
        self.assertEqual(h.changes(cur), (cur, []))
        self.w.stop()
        gone, changes = h.changes(cur)          # no live writer
        self.assertIsNone(changes)
        self.assertEqual(gone, "0" * 16 + "-0")
        self.w.start()                          # the same name, a new segment
        h.sync()                                # attaches to it
        new, changes = h.changes(cur)
        self.assertIsNone(changes)
        self.assertNotIn(new.split("-")[0], (cur.split("-")[0], "0" * 16))
        self.assertEqual(h.changes(new), (new, []))

    def test_malformed_cursor(self):
        h = self.handle()
        for bad in ("", "-", "12", "1-", "-1", "1-2-3", " 1-2", "1-2 ",
                    "g-1", "1-0x2", "0" * 17 + "-0", "0-" + "0" * 17,
                    "1-2\0", "\u0661-2", "1-\udcff"):
            with self.assertRaisesRegex(ValueError, "malformed"):
                h.changes(bad)
            with self.assertRaisesRegex(ValueError, "malformed"):
                h.wait_changes(bad, 0)
        for bad in (42, b"1-2", ["1-2"]):
            with self.assertRaises(TypeError):
                h.changes(bad)
        with self.assertRaises(TypeError):
            h.wait_changes()
        # Well formed but not of this writer's segment: a resync.
        for other in ("1-0", "FFFFFFFFFFFFFFFF-ffffffffffffffff"):
            self.assertIsNone(h.changes(other)[1])
        # A cursor ahead of the feed (its writer's position) resyncs too.
        epoch = self.now(h).split("-")[0]
        self.assertIsNone(h.changes(epoch + "-ffffff")[1])

    def test_non_utf8_path_decodes_as_fsdecode(self):
        raw = os.path.join(os.fsencode(self.w.dir), b"\xff\xfe")
        with open(raw, "w") as f:
            f.write("odd")
        h = self.handle()
        cur = self.now(h)
        h.watch(raw)
        _, changes = h.changes(cur)
        self.assertEqual([(c.kind, c.path) for c in changes],
                         [("added", os.fsdecode(raw))])
        self.assertEqual(os.fsencode(changes[0].path), raw)
        self.assertEqual(changes[0].stat.size, 3)

    def test_wait_changes_returns_at_once_with_changes(self):
        h = self.handle()
        cur = self.now(h)
        h.watch(self.write("a", "x"))
        t0 = time.monotonic()
        self.assertIsNone(h.wait_changes(cur, timeout=fsctest.GUARD_S))
        self.assertIsNone(h.wait_changes(None, fsctest.GUARD_S))  # resync
        # At once, not after the timeout (a guard, not a measurement).
        self.assertLess(time.monotonic() - t0, fsctest.GUARD_S / 2)
        self.assertEqual(len(h.changes(cur)[1]), 1)
        self.assertIsNone(h.wait_changes(cur, 0))
        for bad in (-1, float("nan"), 1e12):
            with self.assertRaises(ValueError):
                h.wait_changes(cur, bad)
        with self.assertRaises(TypeError):
            h.wait_changes(cur, "soon")

    def test_wait_changes_is_woken_without_the_gil(self):
        # A follower sleeps in another thread (the GIL released: this one
        # keeps running) until the writer publishes a change.
        h = self.handle()
        waiter = self.handle()
        cur = self.now(h)
        done = []
        t = threading.Thread(target=lambda: done.append(
            waiter.wait_changes(cur, timeout=fsctest.GUARD_S)))
        t0 = time.monotonic()
        t.start()
        while waiter._busy == 0 and t.is_alive():  # until it is in the call
            os.sched_yield()
        h.watch(self.write("a", "x"))
        t.join(fsctest.GUARD_S)
        self.assertFalse(t.is_alive())
        self.assertEqual(done, [None])
        self.assertLess(time.monotonic() - t0, fsctest.GUARD_S / 2)
        self.assertEqual(waiter._busy, 0)
        self.assertEqual([c.kind for c in waiter.changes(cur)[1]], ["added"])

    def test_closed_handle(self):
        h = fstatcache.Handle(self.w.name)
        cur = self.now(h)
        h.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            h.changes(cur)
        with self.assertRaisesRegex(ValueError, "closed"):
            h.wait_changes(cur)

    def test_close_during_a_wait(self):
        # close() from Python code the call runs (a timeout's __float__)
        # or from another thread while it sleeps: the wait finishes on the
        # handle it began with, which is freed after (ASan checks).
        class ClosingTimeout:
            def __float__(self):
                h.close()
                return 0.0

        h = fstatcache.Handle(self.w.name)
        cur = self.now(h)
        self.assertIsNone(h.wait_changes(cur, ClosingTimeout()))
        self.assertTrue(h.closed)
        self.assertEqual(h._busy, 0)

        h = fstatcache.Handle(self.w.name)
        cur = self.now(h)
        t = threading.Thread(
            target=lambda: h.wait_changes(cur, timeout=fsctest.GUARD_S))
        t.start()
        while h._busy == 0 and t.is_alive():
            os.sched_yield()
        h.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            h.changes(cur)
        self.handle().watch(self.write("a", "x"))   # wakes the waiter
        t.join(fsctest.GUARD_S)
        self.assertFalse(t.is_alive())
        self.assertEqual(h._busy, 0)

    def test_compatible_api_has_nothing_new(self):
        for name in ("changes", "wait_changes"):
            self.assertFalse(hasattr(fstatcache.FStatCache, name))


class NoWriterTest(fsctest.WriterTest):
    start_writer = False

    def test_no_writer_resyncs_every_time(self):
        # Nothing records changes without a writer: every call asks for a
        # full pass (which stat() answers), and wait_changes() naps.
        with fstatcache.Handle(self.w.name) as h:
            cur, changes = h.changes()
            self.assertEqual((cur, changes), ("0" * 16 + "-0", None))
            self.assertEqual(h.changes(cur), (cur, None))
            self.assertIsNone(h.wait_changes(cur, 0.01))


if __name__ == "__main__":
    fsctest.main()
