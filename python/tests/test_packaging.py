"""Where `meson install` puts the Python package.

python/site_dir.py's choice, and `meson setup --prefix=/usr` with
Debian's python3 installing to /usr/lib/python3/dist-packages (read from
`meson introspect --installed`, nothing is installed).
"""

import importlib.util
import json
import os
import shutil
import subprocess
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


def clean_env():
    """A child's environment with nothing of the build tree's Python."""
    env = fsctest.child_env()
    for k in ("PYTHONPATH", "PYTHONMALLOC", "PYTHONPYCACHEPREFIX",
              "PYTHONHOME"):
        env.pop(k, None)
    return env


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=600, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d:\n%s" % (" ".join(cmd),
                                                     p.returncode, p.stdout))
    return p.stdout


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
