#!/usr/bin/env python3
"""fstat_cache_benchmarks.py - the original fstat-cache's benchmark, on
fstatcache, as a user of the original runs it.

The workload of fstat-cache's published benchmark: create N small files
(10,000 there), FStatCache().build(files), then time ROUNDS passes (100
there) of get_file_stats(f)["size"] into a dict over every file, and
ROUNDS passes of the same through get_file_stats_using_stat (os.stat
every time), one after the other; then invalidate() and remove the files.
Rewritten from that description with `from fstat_cache import FStatCache`
as its API (plus FStatCache.handle, to count the answers the cache
served), so it runs against this package's drop-in as it ran against
the original.

Unlike the original it checks every answer against os.stat once, prints
the ratio of the two timings measured in this run, and removes its files
(a private temporary directory) whatever happens.  It asserts nothing
about times.  A writer must serve the instance ($FSTATCACHE_NAME, else
"fstatcache"); without one both sides are stat(2) and it says so.

    build/fstatcached --name bench &
    FSTATCACHE_NAME=bench PYTHONPATH=build/python \\
        python3 bench/fstat_cache_benchmarks.py [--files 10000] [--rounds 100]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

from fstat_cache import FStatCache


def create_files(directory, n):
    paths = []
    for i in range(n):
        path = os.path.join(directory, "benchmark_file_%d" % i)
        with open(path, "a") as f:
            f.write(str(i))
        paths.append(path)
    return paths


def sizes(get, paths):
    return {p: get(p)["size"] for p in paths}


def timed_passes(get, paths, rounds):
    t0 = time.perf_counter()
    for _ in range(rounds):
        sizes(get, paths)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    if args.files < 1 or args.rounds < 1:
        ap.error("--files and --rounds must be at least 1")

    tmp = tempfile.mkdtemp(prefix="fstat-cache-bench-")
    try:
        t0 = time.perf_counter()
        print("creating %d temp files" % args.files)
        paths = create_files(tmp, args.files)
        print("created temp files in %f seconds" % (time.perf_counter() - t0))
        print("building cache")
        t0 = time.perf_counter()
        cache = FStatCache()
        try:
            cache.build(paths)
        except OSError as e:
            sys.exit("fstat_cache_benchmarks.py: build() failed: %s (is a "
                     "writer serving $FSTATCACHE_NAME?)" % e)
        print("built cache in %f seconds" % (time.perf_counter() - t0))
        for p in paths:                       # every answer right
            want = cache.get_file_stats_using_stat(p)
            if cache.get_file_stats(p) != want or want["size"] != len(
                    p.rsplit("_", 1)[1]):
                sys.exit("fstat_cache_benchmarks.py: wrong answer for " + p)
        print("starting benchmarks now")
        cached = timed_passes(cache.get_file_stats, paths, args.rounds)
        print("using fstat-cache library: %f seconds" % cached)
        stat = timed_passes(cache.get_file_stats_using_stat, paths, args.rounds)
        print("using os.stat: %f seconds" % stat)
        print("ratio: get_file_stats %.1fx faster than os.stat (same run)"
              % (stat / cached if cached > 0 else float("inf")))
        served = sum(1 for p in paths if cache.handle.lookup(p) is not None)
        print("served from the cache: %d of %d files" % (served, len(paths)))
        cache.invalidate()
        cache.close()
    finally:
        print("cleaning up tmp files")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
