"""libfstatcache.so from Ruby's FFI: the lib_ruby_ffi test.

Runs lib/ruby/fstatcache.rb (Ruby bindings through Debian's ruby-ffi, and
a demo printing `fstatcache stat --json` lines) against a real writer and
compares each line with what the fstatcache tool prints for the same
paths, and with os.stat.  Exit 77 (skipped, saying why) without ruby or
its ffi gem (Debian: ruby ruby-ffi, in .ci/packages).
"""

import json
import os
import shutil
import subprocess
import sys

import fsctest

SOURCE = os.environ.get("FSC_SOURCE_ROOT", os.path.join(
    os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(SOURCE, "lib", "ruby", "fstatcache.rb")
RUBY = shutil.which("ruby")


def ruby_env():
    env = fsctest.python_child_env()   # the sanitizer runtimes, if any
    env.pop("PYTHONMALLOC", None)
    return env


def skip_reason():
    if RUBY is None:
        return "no ruby (Debian: apt-get install ruby ruby-ffi)"
    p = subprocess.run([RUBY, "-e", "require 'ffi'"], env=ruby_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        return "ruby has no ffi (Debian: apt-get install ruby-ffi): %s" % (
            p.stderr.decode(errors="replace").strip().splitlines()[-1:])
    return None


class RubyFFITest(fsctest.WriterTest):

    def ruby(self, *args, check=True):
        p = subprocess.run([RUBY, DEMO, "--name", self.w.name] + list(args),
                           env=ruby_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=fsctest.GUARD_S)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
            return [json.loads(line) for line in p.stdout.splitlines()]
        return p

    def tool(self, *paths):
        out = self.w.tool("stat", "--json", *paths).stdout.decode()
        return [json.loads(line) for line in out.splitlines()]

    def test_same_as_the_tool(self):
        paths = [self.write("f%d" % i, "y" * i) for i in range(4)]
        missing = self.w.path("missing")
        got = self.ruby("--watch", *paths, missing)
        self.assertEqual(got, self.tool(*paths, missing))
        for g, p in zip(got, paths):
            st = os.stat(p)
            self.assertEqual(g["source"], "cache", p)
            self.assertEqual((g["size"], g["ino"], g["mtime_ns"]),
                             (st.st_size, st.st_ino, st.st_mtime_ns))
        self.assertEqual(got[-1]["exists"], False)
        # A change, seen after the barrier.
        self.write("f1", "more")
        self.w.sync()
        again = self.ruby(paths[1])
        self.assertEqual(again, self.tool(paths[1]))
        self.assertEqual(again[0]["size"], 5)

    def test_errors(self):
        p = self.ruby("--watch", "relative/path", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("fstatcache.rb: fsc_control", p.stderr)
        p = subprocess.run([RUBY, DEMO, "--name", "bad/name", "/"],
                           env=ruby_env(), stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=fsctest.GUARD_S)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("fsc_open", p.stderr)


if __name__ == "__main__":
    why = skip_reason()
    if why:
        print("lib_ruby_ffi skipped:", why)
        sys.exit(77)
    fsctest.main()
