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

Then the original fstat-cache's own benchmark workload, run as it runs
it: a writer started with no options at all (default capacity and
memory limit), N files, FStatCache.build(files), then 100 timed passes
of get_file_stats(f)["size"] into a dict over all files, against 100
passes of the same through os.stat (what the original's
get_file_stats_using_stat returns), one after the other as the
original times them.  Misses, growth and all are inside the timing.
(--original-rounds 0 skips it.)

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
    sizing = ["--capacity", str(capacity)] if capacity else []
    proc = subprocess.Popen(
        [binary, "--name", name, "--socket", os.path.join(tmp, "ctl.sock")]
        + sizing + ["--ready-fd", str(w), "-q"],
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
    left = [p for p in shm_objects(name) if os.path.exists(p)]
    for p in left:
        os.unlink(p)
    if rc != 0 or left:
        sys.exit("python_bench.py: writer exit %s, left %s" % (rc, left))


def shm_objects(name):
    return ["/dev/shm/fstatcache." + name + s for s in ("", ".use", ".feed", ".req", ".tags")]


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


def original_pass(get, paths):
    sizes = {}
    for p in paths:
        sizes[p] = get(p)["size"]
    return sizes


def stat_dict(p):
    st = os.stat(p)
    return {"ts": st.st_mtime, "size": st.st_size}


def inspect_counters(args, name):
    """The writer's counters, from `fstatcache inspect --json` if found."""
    tool = os.environ.get("FSTATCACHE_TOOL") or os.path.join(
        os.path.dirname(os.path.abspath(args.writer)), "fstatcache")
    try:
        out = subprocess.run([tool, "--name", name, "inspect", "--json"],
                             capture_output=True, check=True, timeout=60)
        return json.loads(out.stdout)["counters"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return {}


def original_workload(args, tmp, paths):
    """The original fstat-cache benchmark, with a writer given no options."""
    name = "pybench-orig-%d" % os.getpid()
    sub = os.path.join(tmp, "orig")
    os.mkdir(sub)
    proc = start_writer(args.writer, name, sub, 0)
    try:
        with fstatcache.FStatCache(name=name) as cache:
            t0 = time.perf_counter()
            cache.build(paths)
            built = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(args.original_rounds):
                original_pass(cache.get_file_stats, paths)
            cached = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(args.original_rounds):
                original_pass(stat_dict, paths)
            stat = time.perf_counter() - t0
            # Every answer right at the end, and how the table grew.
            for p in paths:
                if cache.get_file_stats(p) != stat_dict(p):
                    sys.exit("python_bench.py: original workload: %s wrong"
                             % p)
        counters = inspect_counters(args, name)
    finally:
        stop_writer(proc, name)
    return {"build_s": built, "cache_s": cached, "stat_s": stat,
            "counters": counters}


def report_original(args, o):
    c = o["counters"]
    print()
    print("original fstat-cache workload: %d files, FStatCache.build(), "
          "then %d passes of get_file_stats()['size'], writer with no "
          "options" % (args.files, args.original_rounds))
    print("  build %.2f s; get_file_stats %.2f s, os.stat %.2f s: %.1fx "
          "os.stat" % (o["build_s"], o["cache_s"], o["stat_s"],
                       o["stat_s"] / o["cache_s"]))
    if c:
        print("  table: %s growths, %s evictions, %s refaults, %s not "
              "admitted" % (c.get("growths", "?"), c.get("evictions", "?"),
                            c.get("refaults", "?"),
                            c.get("not_admitted", "?")))


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
    ap.add_argument("--original-rounds", type=int, default=100,
                    help="passes of the original fstat-cache workload "
                    "(default 100, as the original; 0: skip it)")
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
        with fstatcache.FStatCache(name=name) as cache, fstatcache.Handle(name) as h:
            cache.build(paths)
            cache.sync()
            check(cache, h, paths)
            med = run(args, cache, h, paths)
        report(args, med)
        stop_writer(proc, name)
        proc = None
        orig = None
        if args.original_rounds > 0:
            orig = original_workload(args, tmp, paths)
            report_original(args, orig)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"files": args.files, "rounds": args.rounds,
                           "ns_per_call": med, "original": orig}, f,
                          indent=1)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            for p in shm_objects(name):
                if os.path.exists(p):
                    os.unlink(p)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
