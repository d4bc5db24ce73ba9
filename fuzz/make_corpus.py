#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (fuzz/corpus/*): a few valid
and invalid inputs each, in the layouts fuzz_request.c and fuzz_segment.c
describe.  Run from anywhere; it rewrites the seed files, leaving any
other file in the corpus directories alone."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = 0x46534D31


def req(op, path=b"", magic=MAGIC, version=1, flags=0, plen=None, cookie=7):
    plen = len(path) if plen is None else plen
    return struct.pack("<IHHQII", magic, version, op, cookie, plen, flags) + path


request = {
    "miss": req(1, b"/var/log/syslog"),
    "watch": req(2, b"/var/log/app/x.log"),
    "unwatch": req(3, b"/tmp/a"),
    "invalidate": req(4),
    "sync": req(5),
    "sync-with-path": req(5, b"/ignored"),
    "relative": req(2, b"a/../b"),
    "non-utf8-newline": req(1, b"/tmp/\xff\xfe\nlog"),
    "truncated": req(2, b"/x")[:13],
    "empty": b"",
    "bad-magic": req(2, b"/x", magic=0x314D5346),
    "bad-version": req(2, b"/x", version=2),
    "bad-op": req(9, b"/x"),
    "op-zero": req(0, b"/x"),
    "flags": req(2, b"/x", flags=1),
    "len-short": req(2, b"/xyz", plen=2),
    "len-long": req(2, b"/xyz", plen=9),
    "len-huge": req(2, b"/x", plen=0xFFFFFFFF),
    "nul-inside": req(2, b"/a\0b"),
    "longest": req(1, b"/" + b"p" * 4095),
    "oversized": req(1, b"/" + b"p" * 4096),
}

CAP, PMAX, HDR, FIXED, COLD = 16, 64, 4096, 96, 16
ESIZE = (FIXED + PMAX + COLD + 127) & ~127  # format 2: FSC_ENTRY_SIZE
SEG = HDR + CAP * ESIZE


def header(capacity=CAP, path_max=PMAX, probe=8, entry=ESIZE, size=SEG,
           status=1, alive=1, magic=0xFE01435441545346, major=2):
    h = struct.pack("<QIIIIIIIIQQQIIIIQIIIIQ", magic, major, 0, HDR, entry,
                    capacity, probe, path_max, 0, size,
                    0x0123456789ABCDEF, 0x1122334455667788, status, alive,
                    1, 0, 0, 0, 0, 12, 0, 0)
    h += b"/nonexistent/fuzz.sock".ljust(112, b"\0")
    return h.ljust(HDR, b"\0")


def entry(path, flags=3, mode=0o100644, size=5, mtime=1700000000 * 10**9,
          seq=0, plen=None, reason=0):
    plen = len(path) if plen is None else plen
    e = struct.pack("<IHHQQQIIIIqqqqqII", seq, flags, plen, 0, 0x803, 77,
                    mode, 0, 0, 1, size, 8, mtime, mtime, mtime, 4096, 0)
    assert len(e) == FIXED, len(e)
    cold = struct.pack("<IIQ", reason, 0, 0)
    return (e + path.ljust(PMAX, b"\0")[:PMAX] + cold).ljust(ESIZE, b"\0")


def slots(*entries):
    return b"".join(entries).ljust(CAP * ESIZE, b"\0")


segment = {
    "template": bytes([0x10]),
    "template-use": bytes([0x18]),
    "template-tags": bytes([0x98]),
    "tags-wrong": bytes([0x90]) + bytes([0, 2, 0xFF, 0xFF] * 8),
    "tags-zero-late": bytes([0xD5]) + slots(entry(b"/var/log/a.log"))
    + bytes([0xFF] * 32),
    "slots-valid": bytes([0x15]) + slots(entry(b"/var/log/a.log"),
                                         entry(b"/var/log/b.log", flags=1)),
    "slots-odd-seq": bytes([0x15]) + slots(entry(b"/var/log/a.log", seq=3)),
    "slots-bad-mode": bytes([0x15]) + slots(entry(b"/a/b", mode=0o170000)),
    "slots-time-min": bytes([0x15]) + slots(entry(b"/a/b", mtime=-(1 << 63))),
    "slots-nocache-range": bytes([0x15]) + slots(entry(b"/a/b", flags=7,
                                                       reason=7)),
    "slots-no-nul": bytes([0x15]) + slots(entry(b"/" + b"x" * 63, plen=63)),
    "slots-len-huge": bytes([0x15]) + slots(entry(b"/a", plen=0xFFFF)),
    "slots-late": bytes([0x55]) + slots(entry(b"/var/log/a.log")),
    "header-valid": bytes([0x00]) + header(),
    "header-bad-magic": bytes([0x00]) + header(magic=0x46534154434301FE),
    "header-cap-huge": bytes([0x00]) + header(capacity=1 << 24),
    "header-cap-odd": bytes([0x00]) + header(capacity=24),
    "header-probe-zero": bytes([0x00]) + header(probe=0),
    "header-size-lie": bytes([0x00]) + header(size=SEG * 2),
    "header-entry-small": bytes([0x00]) + header(entry=64),
    "header-major1": bytes([0x00]) + header(major=1),
    "header-major3": bytes([0x00]) + header(major=3),
    "header-dead": bytes([0x00]) + header(alive=0x40000001),
    "header-late": bytes([0x40]) + header(capacity=1 << 20, status=1),
    "offset-path": bytes([0x16, 0x80, 0x10]) + b"/etc/passwd\0",
    "size-shrunk": bytes([0x31, 0, 0, 0xF0]),
    "whole": bytes([0x03]) + header() + slots(entry(b"/var/log/a.log")),
    "whole-short": bytes([0x03]) + header()[:100],
}

for name, corpus in (("request", request), ("segment", segment)):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for k, v in corpus.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
