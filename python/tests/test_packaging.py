"""Where the Python package goes: pip into a virtualenv, meson install.

- `pip install --no-build-isolation --no-index` of a copy of the source
  tree (pyproject.toml, setup.py) into a fresh virtualenv that sees the
  system's build tools (--system-site-packages), offline; then that
  virtualenv's interpreter, with nothing of the build tree on its path,
  imports `fstat_cache` and `fstatcache` from the virtualenv and is
  served from the cache by a real writer.  The interpreter is the one the
  build uses, else Debian's /usr/bin/python3; the test is skipped
  (unittest's skip, its message saying what is missing, in the log) when
  neither has venv, pip, setuptools, wheel and its C headers (Debian:
  python3-venv python3-pip python3-setuptools python3-wheel python3-dev,
  in .ci/packages).
- python/site_dir.py's choice, and `meson setup --prefix=/usr` with
  Debian's python3 installing to /usr/lib/python3/dist-packages (read
  from `meson introspect --installed`, nothing is installed).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import fsctest

SOURCE = os.path.abspath(os.environ.get("FSC_SOURCE_ROOT", os.path.join(
    os.path.dirname(__file__), "..", "..")))
# python/site_dir.py, by its path: python/ itself must not be on
# sys.path, where its fstatcache/ (without the built extension) would
# shadow the build tree's.
_spec = importlib.util.spec_from_file_location(
    "site_dir", os.path.join(SOURCE, "python", "site_dir.py"))
site_dir = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(site_dir)

DEBIAN_PYTHON = "/usr/bin/python3"
DEBIAN_SITE = "/usr/lib/python3/dist-packages"
CHECK_TOOLS = """
import os, sys, sysconfig
missing = []
for m in ("venv", "ensurepip", "setuptools", "wheel", "pip"):
    try:
        __import__(m)
    except ImportError:
        missing.append("module " + m)
if not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
    missing.append("Python.h")
print(", ".join(missing))
"""


def clean_env():
    """A child's environment with nothing of the build tree's Python."""
    env = fsctest.child_env()
    for k in ("PYTHONPATH", "PYTHONMALLOC", "PYTHONPYCACHEPREFIX",
              "PYTHONHOME"):
        env.pop(k, None)
    env["PIP_NO_CACHE_DIR"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=600, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d:\n%s" % (" ".join(cmd),
                                                     p.returncode, p.stdout))
    return p.stdout


def build_python():
    """The interpreter pip is tested with, or (None, why not)."""
    why = []
    for py in (sys.executable, DEBIAN_PYTHON):
        if not os.path.exists(py):
            why.append("%s: absent" % py)
            continue
        p = subprocess.run([py, "-c", CHECK_TOOLS], env=clean_env(),
                           stdout=subprocess.PIPE, universal_newlines=True)
        missing = p.stdout.strip() if p.returncode == 0 else "does not run"
        if not missing:
            return py, None
        why.append("%s: no %s" % (py, missing))
    return None, "; ".join(why)


def copy_source(dest):
    """The source tree without build directories or VCS data."""
    def ignore(d, names):
        top = os.path.abspath(d) == SOURCE
        return [n for n in names if n in (".git", "__pycache__") or
                (top and n.startswith("build")) or n.endswith(".egg-info")]
    shutil.copytree(SOURCE, dest, ignore=ignore, symlinks=True)


class PipTest(fsctest.WriterTest):

    def test_pip_install_into_virtualenv(self):
        py, why = build_python()
        if py is None:
            self.skipTest("no interpreter to pip install with: " + why +
                          " (Debian: python3-venv python3-setuptools "
                          "python3-wheel python3-pip python3-dev)")
        tmp = os.path.join(self.w.dir, "pip")
        os.mkdir(tmp)
        src, venv = os.path.join(tmp, "src"), os.path.join(tmp, "venv")
        copy_source(src)
        env = clean_env()
        run([py, "-m", "venv", "--system-site-packages", venv], env=env)
        vpy = os.path.join(venv, "bin", "python")
        run([vpy, "-m", "pip", "install", "--no-build-isolation",
             "--no-index", src], env=env, cwd=tmp)
        a = self.write("a", "twelve bytes")
        env["FSTATCACHE_NAME"] = self.w.name
        out = run([vpy, "-c", """
import sys, fstatcache
from fstat_cache import FStatCache
venv, path = sys.argv[1], sys.argv[2]
for m in (fstatcache, sys.modules["fstat_cache"]):
    assert m.__file__.startswith(venv + "/"), m.__file__
c = FStatCache()
c.build([path])
c.sync()
assert c.handle.lookup(path).source == "cache"
assert c.get_file_stats(path)["size"] == 12, c.get_file_stats(path)
assert c.get_file_stats(path + "-missing") is None
print(fstatcache.__version__, FStatCache.list_files_in_cache())
""", venv, a], env=env, cwd=tmp)
        import fstatcache
        self.assertEqual(out.split(None, 1),
                         [fstatcache.__version__, repr([a]) + "\n"])
        # pip uninstall removes both packages.
        run([vpy, "-m", "pip", "uninstall", "-y", "fstatcache"], env=env)
        p = subprocess.run([vpy, "-c", "import fstat_cache"], env=env, cwd=tmp,
                           stderr=subprocess.PIPE)
        self.assertNotEqual(p.returncode, 0)


class SiteDirTest(unittest.TestCase):
    DEBIAN = ["/usr/local/lib/python3.11/dist-packages", DEBIAN_SITE,
              "/usr/lib/python3.11/dist-packages"]

    def test_choice(self):
        c = site_dir.choose
        self.assertEqual(c("/usr", DEBIAN_SITE, self.DEBIAN), DEBIAN_SITE)
        # Never /usr/local for /usr, even if meson chose something else.
        self.assertEqual(c("/usr", "/usr/lib/python3.11/site-packages",
                           self.DEBIAN), DEBIAN_SITE)
        self.assertEqual(c("/usr/local", "/usr/local/lib/python3/dist-packages",
                           self.DEBIAN), self.DEBIAN[0])
        self.assertEqual(c("/opt/x", "/opt/x/lib/python3/dist-packages",
                           self.DEBIAN), "")
        self.assertEqual(c("/usr/", DEBIAN_SITE + "/", self.DEBIAN), DEBIAN_SITE)

    def test_meson_prefix_usr_debian_python(self):
        """`meson install --prefix=/usr` with Debian's python3 puts both
        packages in /usr/lib/python3/dist-packages."""
        meson = os.environ.get("FSC_MESON") or shutil.which("meson")
        if not meson:
            self.skipTest("no meson")
        if not os.path.exists(DEBIAN_PYTHON):
            self.skipTest("no %s" % DEBIAN_PYTHON)
        env = clean_env()
        p = subprocess.run([DEBIAN_PYTHON, "-c",
                            "import site, sysconfig; print(site.getsitepackages()); "
                            "print(sysconfig.get_paths()['include'])"],
                           env=env, stdout=subprocess.PIPE,
                           universal_newlines=True, check=True)
        sites, include = p.stdout.splitlines()
        if DEBIAN_SITE not in sites:
            self.skipTest("%s is not Debian's python3" % DEBIAN_PYTHON)
        if not os.path.exists(os.path.join(include, "Python.h")):
            self.skipTest("no Python.h for %s (python3-dev)" % DEBIAN_PYTHON)
        # find_installation('python3') takes python3 from PATH.
        env["PATH"] = os.path.dirname(DEBIAN_PYTHON) + os.pathsep + env["PATH"]
        with tempfile.TemporaryDirectory(prefix="fsc-prefix-") as tmp:
            build = os.path.join(tmp, "build")
            run([meson, "setup", "--prefix=/usr", "-Dpython=enabled", build,
                 SOURCE], env=env)
            installed = json.loads(run([meson, "introspect", "--installed",
                                        build], env=env))
        where = sorted(d for d in installed.values() if "/fstat" in d and
                       ("/fstatcache/" in d or "/fstat_cache/" in d) and
                       "python" in d)
        self.assertTrue(where, installed)
        for d in where:
            self.assertTrue(d.startswith(DEBIAN_SITE + "/fstat"), where)
        for f in ("fstatcache/__init__.py", "fstat_cache/__init__.py",
                  "fstat_cache/fstat_cache.py"):
            self.assertIn(DEBIAN_SITE + "/" + f, where)
        self.assertTrue(any(d.startswith(DEBIAN_SITE + "/fstatcache/_fstatcache")
                            and d.endswith(".so") for d in where), where)


if __name__ == "__main__":
    fsctest.main()
