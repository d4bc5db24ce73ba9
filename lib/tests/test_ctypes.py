"""libfstatcache.so through Python's ctypes: the lib_ctypes test.

A program that cannot compile the C header (ctypes is one) lays the
structures out itself and calls the exported functions; here every
exported function is called that way against a real writer (fsctest,
from python/tests), and each answer is compared with os.stat or with
what the header documents.  Nothing of the fstatcache Python package is
used: this is what any FFI binding does.
"""

import ctypes
import errno
import os

import fsctest

FSC_MISS, FSC_UNCACHED, FSC_RESYNC = 1, 2, 3
FSC_SOURCE_CACHE, FSC_SOURCE_STAT = 1, 2
FSC_OPEN_ATTACHED, FSC_OPEN_NO_REQUESTS = 0x1, 0x2
FSC_OP_WATCH, FSC_OP_UNWATCH, FSC_OP_INVALIDATE, FSC_OP_SYNC = 2, 3, 4, 5
FSC_CURSOR_TEXT_SIZE = 34
TIMEOUT_MS = fsctest.GUARD_S * 1000


class FscStat(ctypes.Structure):
    # struct fsc_stat: three ints, format.h's FSC_STAT_FIELDS, have, atime.
    _fields_ = [("exists", ctypes.c_int), ("source", ctypes.c_int),
                ("err", ctypes.c_int),
                ("mode", ctypes.c_uint32), ("uid", ctypes.c_uint32),
                ("gid", ctypes.c_uint32),
                ("dev", ctypes.c_uint64), ("ino", ctypes.c_uint64),
                ("nlink", ctypes.c_uint64), ("rdev", ctypes.c_uint64),
                ("size", ctypes.c_int64), ("blocks", ctypes.c_int64),
                ("mtime_sec", ctypes.c_int64), ("ctime_sec", ctypes.c_int64),
                ("mtime_nsec", ctypes.c_uint32),
                ("ctime_nsec", ctypes.c_uint32),
                ("blksize", ctypes.c_uint32), ("have", ctypes.c_uint32),
                ("atime_sec", ctypes.c_int64),
                ("atime_nsec", ctypes.c_uint32)]


class FscCursor(ctypes.Structure):
    _fields_ = [("epoch", ctypes.c_uint64), ("pos", ctypes.c_uint64)]


class FscChange(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_uint), ("status", ctypes.c_int),
                ("path", ctypes.c_char_p), ("path_len", ctypes.c_size_t),
                ("st", FscStat)]


CHANGE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p,
                             ctypes.POINTER(FscChange))


def load():
    lib = ctypes.CDLL(os.environ["FSC_LIBFSTATCACHE"], use_errno=True)
    H = ctypes.c_void_p
    sigs = {
        "fsc_open": (ctypes.c_int, [ctypes.POINTER(H), ctypes.c_char_p,
                                    ctypes.c_uint]),
        "fsc_close": (None, [H]),
        "fsc_attached": (ctypes.c_int, [H]),
        "fsc_attach_error": (ctypes.c_int, [H]),
        "fsc_lookup": (ctypes.c_int, [H, ctypes.c_char_p,
                                      ctypes.POINTER(FscStat)]),
        "fsc_lookup_many": (None, [H, ctypes.POINTER(ctypes.c_char_p),
                                   ctypes.c_size_t, ctypes.POINTER(FscStat),
                                   ctypes.POINTER(ctypes.c_int)]),
        "fsc_stat": (ctypes.c_int, [H, ctypes.c_char_p,
                                    ctypes.POINTER(FscStat)]),
        "fsc_request_watch": (ctypes.c_int, [H, ctypes.c_char_p]),
        "fsc_requests_dropped": (ctypes.c_uint64, [H]),
        "fsc_changes": (ctypes.c_int, [H, ctypes.POINTER(FscCursor),
                                       CHANGE_FN, ctypes.c_void_p]),
        "fsc_changes_wait": (ctypes.c_int, [H, ctypes.POINTER(FscCursor),
                                            ctypes.c_int]),
        "fsc_change_name": (ctypes.c_char_p, [ctypes.c_uint]),
        "fsc_cursor_format": (ctypes.c_int, [ctypes.POINTER(FscCursor),
                                             ctypes.c_char_p, ctypes.c_size_t]),
        "fsc_cursor_parse": (ctypes.c_int, [ctypes.c_char_p,
                                            ctypes.POINTER(FscCursor)]),
        "fsc_stat_to_stat": (None, [ctypes.POINTER(FscStat), ctypes.c_void_p]),
        "fsc_stat_from_stat": (None, [ctypes.c_void_p, ctypes.POINTER(FscStat)]),
        "fsc_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "fsc_path_ok": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t]),
        "fsc_name_ok": (ctypes.c_int, [ctypes.c_char_p]),
        "fsc_control": (ctypes.c_int, [H, ctypes.c_int, ctypes.c_char_p,
                                       ctypes.c_int, ctypes.c_char_p,
                                       ctypes.c_size_t]),
        "fsc_lib_sizeof": (ctypes.c_size_t, [ctypes.c_char_p]),
        "fsc_lib_version": (ctypes.c_char_p, []),
    }
    for name, (res, args) in sigs.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


LIB = load()


class CtypesTest(fsctest.WriterTest):

    def open(self, flags=0, name=None):
        h = ctypes.c_void_p()
        r = LIB.fsc_open(ctypes.byref(h), (name or self.w.name).encode(), flags)
        self.assertEqual(r, 0, LIB.fsc_strerror(r))
        self.addCleanup(LIB.fsc_close, h)
        return h

    def control(self, h, op, path=None):
        msg = ctypes.create_string_buffer(256)
        r = LIB.fsc_control(h, op, path and path.encode(), TIMEOUT_MS, msg,
                            ctypes.sizeof(msg))
        self.assertEqual(r, 0, "%s: %s" % (LIB.fsc_strerror(r), msg.value))

    def assertSame(self, st, path):
        want = os.stat(path)
        self.assertEqual(st.exists, 1)
        for f in ("dev", "ino", "mode", "nlink", "uid", "gid", "size",
                  "blocks", "rdev"):
            self.assertEqual(getattr(st, f), getattr(want, "st_" + f), f)
        self.assertEqual(st.mtime_sec * 10**9 + st.mtime_nsec, want.st_mtime_ns)
        self.assertEqual(st.ctime_sec * 10**9 + st.ctime_nsec, want.st_ctime_ns)
        self.assertEqual(st.have & 1, 1)  # FSC_HAVE_BLKSIZE
        self.assertEqual(st.blksize, want.st_blksize)

    def test_layout_and_version(self):
        for name, t in (("fsc_stat", FscStat), ("fsc_cursor", FscCursor),
                        ("fsc_change", FscChange)):
            self.assertEqual(LIB.fsc_lib_sizeof(name.encode()),
                             ctypes.sizeof(t), name)
        self.assertGreater(LIB.fsc_lib_sizeof(b"stat"), 0)
        self.assertEqual(LIB.fsc_lib_sizeof(b"nothing"), 0)
        self.assertEqual(LIB.fsc_lib_sizeof(None), 0)
        self.assertEqual(LIB.fsc_lib_version().decode(), os.environ["FSC_VERSION"])

    def test_lookup_and_stat(self):
        a = self.write("a", "twelve bytes")
        h = self.open()
        self.assertEqual(LIB.fsc_attached(h), 1)
        self.assertEqual(LIB.fsc_attach_error(h), 0)
        st = FscStat()
        self.assertEqual(LIB.fsc_lookup(h, a.encode(), ctypes.byref(st)), FSC_MISS)
        self.assertEqual(LIB.fsc_stat(h, a.encode(), ctypes.byref(st)), 0)
        self.assertEqual(st.source, FSC_SOURCE_STAT)    # a miss, then watched
        self.assertSame(st, a)
        self.control(h, FSC_OP_SYNC)
        self.assertEqual(LIB.fsc_lookup(h, a.encode(), ctypes.byref(st)), 0)
        self.assertEqual(st.source, FSC_SOURCE_CACHE)
        self.assertSame(st, a)
        self.write("a", " and more")
        self.control(h, FSC_OP_SYNC)
        self.assertEqual(LIB.fsc_stat(h, a.encode(), ctypes.byref(st)), 0)
        self.assertEqual((st.source, st.size), (FSC_SOURCE_CACHE, 21))
        self.assertSame(st, a)
        self.assertEqual(LIB.fsc_requests_dropped(h), 0)

    def test_missing_and_errors(self):
        h = self.open()
        gone = self.w.path("gone")
        st = FscStat()
        self.assertEqual(LIB.fsc_stat(h, gone.encode(), ctypes.byref(st)), 0)
        self.assertEqual((st.exists, st.err, st.source),
                         (0, errno.ENOENT, FSC_SOURCE_STAT))
        self.control(h, FSC_OP_WATCH, gone)
        self.assertEqual(LIB.fsc_lookup(h, gone.encode(), ctypes.byref(st)), 0)
        self.assertEqual((st.exists, st.source), (0, FSC_SOURCE_CACHE))
        self.assertEqual(LIB.fsc_lookup(h, None, ctypes.byref(st)), -errno.EINVAL)
        self.assertEqual(LIB.fsc_lookup(h, b"relative", ctypes.byref(st)),
                         FSC_UNCACHED)
        self.assertEqual(LIB.fsc_request_watch(h, b"/a/../b"), -errno.EINVAL)
        self.assertIn(b"No such file", LIB.fsc_strerror(-errno.ENOENT))
        self.assertTrue(LIB.fsc_strerror(FSC_MISS))
        self.assertTrue(LIB.fsc_strerror(12345))

    def test_lookup_many(self):
        paths = [self.write("f%d" % i, "x" * i) for i in range(5)]
        h = self.open()
        for p in paths[:3]:
            self.control(h, FSC_OP_WATCH, p)
        n = len(paths)
        arr = (ctypes.c_char_p * n)(*[p.encode() for p in paths])
        out = (FscStat * n)()
        res = (ctypes.c_int * n)()
        LIB.fsc_lookup_many(h, arr, n, out, res)
        self.assertEqual(list(res), [0, 0, 0, FSC_MISS, FSC_MISS])
        for i in range(3):
            self.assertSame(out[i], paths[i])

    def test_watch_unwatch_invalidate(self):
        a = self.write("a", "x")
        h = self.open()
        st = FscStat()
        self.control(h, FSC_OP_WATCH, a)
        self.assertEqual(LIB.fsc_lookup(h, a.encode(), ctypes.byref(st)), 0)
        self.control(h, FSC_OP_UNWATCH, a)
        self.assertEqual(LIB.fsc_lookup(h, a.encode(), ctypes.byref(st)), FSC_MISS)
        self.assertEqual(LIB.fsc_request_watch(h, a.encode()), 0)
        self.control(h, FSC_OP_SYNC)
        self.assertEqual(LIB.fsc_lookup(h, a.encode(), ctypes.byref(st)), 0)
        self.control(h, FSC_OP_INVALIDATE)
        self.assertEqual(LIB.fsc_lookup(h, a.encode(), ctypes.byref(st)), FSC_MISS)

    def test_changes(self):
        a = self.write("a", "x")
        h = self.open()
        self.control(h, FSC_OP_WATCH, a)
        cur = FscCursor()
        seen = []

        @CHANGE_FN
        def on_change(arg, c):
            ch = c.contents
            seen.append((LIB.fsc_change_name(ch.kind).decode(),
                         ch.path[:ch.path_len].decode(), ch.status,
                         ch.st.size if ch.status == 0 else None))
            return 0
        self.assertEqual(LIB.fsc_changes(h, ctypes.byref(cur), on_change, None),
                         FSC_RESYNC)                     # a new cursor
        self.assertNotEqual(cur.epoch, 0)
        self.write("a", "yz")
        self.control(h, FSC_OP_SYNC)
        self.assertEqual(LIB.fsc_changes_wait(h, ctypes.byref(cur), 0), 0)
        self.assertEqual(LIB.fsc_changes(h, ctypes.byref(cur), on_change, None), 0)
        self.assertIn(a, [s[1] for s in seen])
        self.assertEqual([s for s in seen if s[1] == a and s[2] == 0][-1][3], 3)
        text = ctypes.create_string_buffer(FSC_CURSOR_TEXT_SIZE)
        self.assertEqual(LIB.fsc_cursor_format(ctypes.byref(cur), text,
                                               ctypes.sizeof(text)), 0)
        back = FscCursor()
        self.assertEqual(LIB.fsc_cursor_parse(text.value, ctypes.byref(back)), 0)
        self.assertEqual((back.epoch, back.pos), (cur.epoch, cur.pos))
        self.assertEqual(LIB.fsc_cursor_parse(b"nonsense", ctypes.byref(back)),
                         -errno.EINVAL)
        self.assertIsNone(LIB.fsc_change_name(9999))

    def test_stat_conversions(self):
        a = self.write("a", "five!")
        st = FscStat()
        buf = ctypes.create_string_buffer(LIB.fsc_lib_sizeof(b"stat"))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.stat.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        self.assertEqual(libc.stat(a.encode(), buf), 0, os.strerror(ctypes.get_errno()))
        LIB.fsc_stat_from_stat(buf, ctypes.byref(st))
        self.assertEqual((st.exists, st.source), (1, FSC_SOURCE_STAT))
        self.assertSame(st, a)
        back = ctypes.create_string_buffer(len(buf))
        LIB.fsc_stat_to_stat(ctypes.byref(st), back)
        again = FscStat()
        LIB.fsc_stat_from_stat(back, ctypes.byref(again))
        self.assertEqual(bytes(again), bytes(st))

    def test_names_and_paths(self):
        self.assertEqual(LIB.fsc_name_ok(b"good-name_1"), 1)
        for bad in (b"", b"no/slash", b"dot.name", b"x" * 200):
            self.assertEqual(LIB.fsc_name_ok(bad), 0, bad)
        for p, ok in ((b"/a/b", 1), (b"/", 0), (b"/a/../b", 0), (b"rel", 0),
                      (b"/a//b", 0), (b"/a/", 0)):
            self.assertEqual(LIB.fsc_path_ok(p, len(p)), ok, p)

    def test_no_writer(self):
        h = ctypes.c_void_p()
        name = self.w.name + "-none"
        self.assertEqual(LIB.fsc_open(ctypes.byref(h), name.encode(),
                                      FSC_OPEN_ATTACHED), -errno.ENOENT)
        h = self.open(name=name)
        self.assertEqual(LIB.fsc_attached(h), 0)
        self.assertEqual(LIB.fsc_attach_error(h), -errno.ENOENT)
        a = self.write("a", "x")
        st = FscStat()
        self.assertEqual(LIB.fsc_lookup(h, a.encode(), ctypes.byref(st)), FSC_UNCACHED)
        self.assertEqual(LIB.fsc_stat(h, a.encode(), ctypes.byref(st)), 0)
        self.assertSame(st, a)
        self.assertEqual(LIB.fsc_control(h, FSC_OP_SYNC, None, 1000, None, 0),
                         -errno.ENOTCONN)
        bad = ctypes.c_void_p()
        self.assertEqual(LIB.fsc_open(ctypes.byref(bad), b"no/such", 0), -errno.EINVAL)
        LIB.fsc_close(None)


if __name__ == "__main__":
    fsctest.main()
