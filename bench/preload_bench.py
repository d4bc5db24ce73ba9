#!/usr/bin/env python3
"""preload_bench.py - unmodified programs with and without the LD_PRELOAD
shim (libfstatcache-preload.so), side by side in one run.

Starts its own fstatcached (unique name, private temp dir) watching N
files (--watch-list), waits for the sync barrier, then, taking turns in
a different order every round, measures the CPU time (user + system,
from the child's rusage) of:

  tail   /usr/bin/tail -F ---disable-inotify -s S -n 0 FILE... following
         all N files for D seconds of wall time: the CPU it spends
         polling them (it stat()s every name each interval)
  stat   /usr/bin/python3 -c 'os.stat(p) for p in files, P passes':
         CPU per os.stat call, the interpreter's start-up subtracted
         (a run with 0 passes, measured the same way)

each once with the shim (LD_PRELOAD, FSTATCACHE_PRELOAD_PREFIXES the
files' directory) and once without.  The median over the rounds is
reported with the ratio without/with (above 1: the shim saves CPU).  The
writer's reader_hits count must grow by at least the shim's calls: the
run fails if the cache did not answer.  It asserts nothing about times.

    FSTATCACHED=build/fstatcached FSTATCACHE_TOOL=build/fstatcache \\
        FSC_PRELOAD_LIB=build/preload/libfstatcache-preload.so \\
        python3 bench/preload_bench.py --files 1000 --rounds 5
"""

import argparse
import json
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
TAIL = "/usr/bin/tail"
STAT_LOOP = ("import os, sys\n"
             "paths = open(sys.argv[1]).read().split()\n"
             "stat = os.stat\n"
             "for _ in range(int(sys.argv[2])):\n"
             "    for p in paths:\n"
             "        stat(p)\n")


def start_writer(binary, name, tmp, watch_list):
    r, w = os.pipe()
    proc = subprocess.Popen(
        [binary, "--name", name, "--socket", os.path.join(tmp, "ctl.sock"),
         "--watch-list", watch_list, "--ready-fd", str(w), "-q"],
        pass_fds=(w,), stdin=subprocess.DEVNULL)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 120)
        if not ready or os.read(r, 16) != b"READY\n":
            proc.kill()
            proc.wait()
            sys.exit("preload_bench.py: %s did not start" % binary)
    finally:
        os.close(r)
    return proc


def stop_writer(proc, name):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(120)
    left = ["/dev/shm/fstatcache." + name + s for s in ("", ".use", ".feed", ".req", ".tags")]
    left = [p for p in left if os.path.exists(p)]
    for p in left:
        os.unlink(p)
    if rc != 0 or left:
        sys.exit("preload_bench.py: writer exit %s, left %s" % (rc, left))


def tool(name, *args):
    return subprocess.run([os.environ.get("FSTATCACHE_TOOL", "fstatcache"),
                           args[0], "--name", name] + list(args[1:]),
                          check=True, stdout=subprocess.PIPE).stdout.decode()


def reader_hits(name):
    found = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "reader_hits" and isinstance(x, int):
                    found.append(x)
                walk(x)
    for line in tool(name, "inspect", "--json").splitlines():
        walk(json.loads(line))
    return found[0]


def child_cpu(argv, env, wall=None):
    """CPU seconds (user + system) of one run of argv; with `wall`, the
    program runs that long and is then stopped with SIGTERM."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL)
    if wall is not None:
        time.sleep(wall)   # the measured interval, not synchronisation
        p.send_signal(signal.SIGTERM)
    rc = p.wait()
    if rc not in (0, -signal.SIGTERM):
        sys.exit("preload_bench.py: %s exited %d" % (argv[0], rc))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + \
        (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tail-seconds", type=float, default=5.0)
    ap.add_argument("--tail-interval", type=float, default=0.1)
    ap.add_argument("--passes", type=int, default=200)
    args = ap.parse_args()
    shim = os.environ.get("FSC_PRELOAD_LIB")
    if not shim or not os.path.exists(shim):
        sys.exit("preload_bench.py: set FSC_PRELOAD_LIB to "
                 "libfstatcache-preload.so")
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="fsc-preload-bench-"))
    name = "pb%d" % os.getpid()
    d = os.path.join(tmp, "logs")
    os.mkdir(d)
    files = []
    for i in range(args.files):
        p = os.path.join(d, "file-%05d.log" % i)
        with open(p, "w") as f:
            f.write("line\n")
        files.append(p)
    listing = os.path.join(tmp, "files.txt")
    with open(listing, "w") as f:
        f.write("\n".join(files) + "\n")
    writer = start_writer(os.environ.get("FSTATCACHED", "fstatcached"),
                          name, tmp, listing)
    try:
        tool(name, "sync")
        plain = dict(os.environ)
        plain.pop("LD_PRELOAD", None)
        with_shim = dict(plain, LD_PRELOAD=shim,
                         FSTATCACHE_PRELOAD_PREFIXES=d,
                         FSTATCACHE_NAME=name)
        envs = {"without": plain, "with": with_shim}
        tail_argv = [TAIL, "-F", "---disable-inotify", "-s",
                     str(args.tail_interval), "-n", "0"] + files
        res = {k: {"tail": [], "stat": []} for k in envs}
        hits0 = reader_hits(name)
        for rnd in range(args.rounds):
            order = list(envs) if rnd % 2 == 0 else list(envs)[::-1]
            for k in order:
                res[k]["tail"].append(child_cpu(tail_argv, envs[k],
                                                args.tail_seconds))
                base = child_cpu([PYTHON, "-I", "-c", STAT_LOOP, listing,
                                  "0"], envs[k])
                cpu = child_cpu([PYTHON, "-I", "-c", STAT_LOOP, listing,
                                 str(args.passes)], envs[k])
                res[k]["stat"].append(
                    (cpu - base) / (args.passes * args.files))
        hits = reader_hits(name) - hits0
        want = args.rounds * args.passes * args.files
        if hits < want:
            sys.exit("preload_bench.py: the cache answered %d calls, "
                     "want at least %d" % (hits, want))
    finally:
        stop_writer(writer, name)
        subprocess.run(["rm", "-rf", tmp], check=False)

    def med(k, what):
        return statistics.median(res[k][what])
    print("# preload_bench: %d files, %d rounds, tail -s %g for %g s, "
          "%d os.stat passes; medians; reader_hits +%d"
          % (args.files, args.rounds, args.tail_interval, args.tail_seconds,
             args.passes, hits))
    print("| measure | without the shim | with the shim | ratio |")
    print("|---|---|---|---|")
    tw, tc = med("without", "tail"), med("with", "tail")
    print("| tail -F ---disable-inotify, CPU per second followed | "
          "%.1f ms | %.1f ms | %.1fx |"
          % (tw / args.tail_seconds * 1e3, tc / args.tail_seconds * 1e3,
             tw / tc if tc else float("inf")))
    sw, sc = med("without", "stat"), med("with", "stat")
    print("| python3 os.stat, CPU per call | %.0f ns | %.0f ns | %.1fx |"
          % (sw * 1e9, sc * 1e9, sw / sc if sc else float("inf")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
