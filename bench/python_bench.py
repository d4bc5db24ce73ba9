#!/usr/bin/env python3
"""python_bench.py - what a Python caller gains from fstatcache, in one run.

Starts its own fstatcached (unique name, private temp dir), creates N
files, caches them all (FStatCache.build, then the sync barrier) and times,
side by side on the same files in the same run:

  compat API FStatCache.get_file_stats(p)  vs  the original's stat fallback
             {'ts': st.st_mtime, 'size': st.st_size} from os.stat(p)
  reader     Handle.lookup(p)              vs  os.stat(p)
             Handle.lookup_many(paths)     vs  os.stat(p) for each p
             Handle.stat(p)                vs  os.stat(p)

Each measurement is one pass over all N paths; the passes of the methods
being compared alternate, in a different order every round, and the
median over the rounds is reported (ns per call, and the ratio to the
stat(2) baseline: above 1 means faster than stat).  Every answer is
checked against os.stat once, and every timed lookup must be a cache hit:
the run fails otherwise.  It asserts nothing about times.

    PYTHONPATH=build/python FSTATCACHED=build/fstatcached \\
        python3 bench/python_bench.py --files 10000 --rounds 15
"""

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import fstatcache


def start_writer(binary, name, tmp, capacity):
    r, w = os.pipe()
    proc = subprocess.Popen(
        [binary, "--name", name, "--socket", os.path.join(tmp, "ctl.sock"),
         "--capacity", str(capacity), "--ready-fd", str(w), "-q"],
        pass_fds=(w,), stdin=subprocess.DEVNULL, env=writer_env())
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 120)
        if not ready or os.read(r, 16) != b"READY\n":
            proc.kill()
            proc.wait()
            sys.exit("python_bench.py: %s did not start" % binary)
    finally:
        os.close(r)
    return proc


def writer_env():
    env = dict(os.environ)
    if "FSC_CHILD_ASAN_OPTIONS" in env:     # a sanitized build's tests
        env["ASAN_OPTIONS"] = env["FSC_CHILD_ASAN_OPTIONS"]
        env.pop("LD_PRELOAD", None)
    return env


def stop_writer(proc, name):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(120)
    left = [p for p in ("/dev/shm/fstatcache." + name,
                        "/dev/shm/fstatcache." + name + ".use")
            if os.path.exists(p)]
    for p in left:
        os.unlink(p)
    if rc != 0 or left:
        sys.exit("python_bench.py: writer exit %s, left %s" % (rc, left))


def make_files(tmp, n):
    d = os.path.join(tmp, "files")
    os.mkdir(d)
    paths = []
    for i in range(n):
        p = os.path.join(d, "file-%06d.log" % i)
        with open(p, "w") as f:
            f.write("x" * (i % 997))
        paths.append(p)
    return paths


# One pass over all paths each; a plain loop, as a caller would write it.
def pass_get_file_stats(cache, paths):
    get = cache.get_file_stats
    for p in paths:
        get(p)


def pass_compat_stat(paths):
    stat = os.stat
    for p in paths:
        st = stat(p)
        {"ts": st.st_mtime, "size": st.st_size}


def pass_os_stat(paths):
    stat = os.stat
    for p in paths:
        stat(p)


def pass_lookup(h, paths):
    lookup = h.lookup
    for p in paths:
        lookup(p)


def pass_stat(h, paths):
    stat = h.stat
    for p in paths:
        stat(p)


def timed(fn, n):
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / n


def check(cache, h, paths):
    """Every answer equals os.stat and comes from the cache."""
    many = h.lookup_many(paths)
    for p, m in zip(paths, many):
        st = os.stat(p)
        got = cache.get_file_stats(p)
        if got != {"ts": st.st_mtime, "size": st.st_size}:
            sys.exit("python_bench.py: %s: %r, os.stat %r" % (p, got, st))
        r = h.lookup(p)
        if r is None or r.source != "cache" or m != r or \
                (r.size, r.mtime_ns, r.ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
            sys.exit("python_bench.py: %s: not a correct cache hit: %r / %r"
                     % (p, r, m))


def run(args, cache, h, paths):
    n = len(paths)
    groups = {
        "compat": {
            "FStatCache.get_file_stats": lambda: pass_get_file_stats(cache, paths),
            "os.stat -> compat dict": lambda: pass_compat_stat(paths),
        },
        "lookup": {
            "Handle.lookup": lambda: pass_lookup(h, paths),
            "Handle.lookup_many": lambda: h.lookup_many(paths),
            "Handle.stat": lambda: pass_stat(h, paths),
            "os.stat": lambda: pass_os_stat(paths),
        },
    }
    times = {k: [] for g in groups.values() for k in g}
    for g in groups.values():                # warm up: every path once
        for fn in g.values():
            fn()
    for r in range(args.rounds):
        for g in groups.values():
            order = list(g.items())
            k = r % len(order)
            order = order[k:] + order[:k]
            if r % 2:
                order.reverse()
            for name, fn in order:
                times[name].append(timed(fn, n))
    hits = sum(1 for x in h.lookup_many(paths) if x is not None and x.source == "cache")
    if hits != n:
        sys.exit("python_bench.py: only %d of %d paths are cache hits" % (hits, n))
    return {k: statistics.median(v) for k, v in times.items()}


def report(args, med):
    rows = [
        ("FStatCache.get_file_stats", "os.stat -> compat dict"),
        ("Handle.lookup", "os.stat"),
        ("Handle.lookup_many", "os.stat"),
        ("Handle.stat", "os.stat"),
    ]
    print("python_bench: %d files, all cached; %d rounds, median ns per "
          "call (Python %s)" % (args.files, args.rounds,
                                sys.version.split()[0]))
    print("%-28s %10s   %-22s %10s   %s" % ("fstatcache", "ns/call",
                                            "baseline", "ns/call", "speed-up"))
    for a, b in rows:
        print("%-28s %10.0f   %-22s %10.0f   %.2fx" % (a, med[a], b, med[b],
                                                       med[b] / med[a]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--writer", default=os.environ.get("FSTATCACHED", "fstatcached"))
    ap.add_argument("--json", metavar="FILE", help="also write the medians here")
    args = ap.parse_args(argv)
    if args.files < 1 or args.rounds < 1:
        ap.error("--files and --rounds must be at least 1")
    tmp = tempfile.mkdtemp(prefix="fsc-pybench-")
    name = "pybench-%d" % os.getpid()
    capacity = 1 << max(10, (2 * args.files - 1).bit_length())
    proc = None
    try:
        paths = make_files(tmp, args.files)
        proc = start_writer(args.writer, name, tmp, capacity)
        with fstatcache.FStatCache(name) as cache, fstatcache.Handle(name) as h:
            cache.build(paths)
            cache.sync()
            check(cache, h, paths)
            med = run(args, cache, h, paths)
        report(args, med)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"files": args.files, "rounds": args.rounds,
                           "ns_per_call": med}, f, indent=1)
        stop_writer(proc, name)
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            for p in ("/dev/shm/fstatcache." + name,
                      "/dev/shm/fstatcache." + name + ".use"):
                if os.path.exists(p):
                    os.unlink(p)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
