"""setup.py - the C extension fstatcache._fstatcache for pip (pyproject.toml
holds everything else; setuptools takes extensions only from here).

The same sources and compile definitions as python/fstatcache/meson.build
and the top-level meson.build, against the reader header in include/ and
reader/; liburcu and libxxhash come from pkg-config, as meson finds them.
The version is meson.build's, so the two builds cannot disagree.
"""

import os
import re
import shlex
import subprocess
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def project_version():
    with open(os.path.join(HERE, "meson.build"), encoding="utf-8") as f:
        m = re.search(r"^\s*version\s*:\s*'([^']+)'", f.read(), re.M)
    if not m:
        sys.exit("setup.py: no version : '...' in meson.build")
    return m.group(1)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config"] + list(args), check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True).stdout
    except FileNotFoundError:
        sys.exit("setup.py: pkg-config is needed to find liburcu and "
                 "libxxhash (Debian: apt-get install pkg-config)")
    except subprocess.CalledProcessError as e:
        sys.exit("setup.py: pkg-config %s failed: %s(Debian: apt-get install "
                 "liburcu-dev libxxhash-dev)" % (" ".join(args), e.stderr))
    return shlex.split(out)


SOURCES = ["_fstatcache.c", "convert.c", "handle.c", "handle_control.c",
           "changes.c"]
deps = ["liburcu", "libxxhash"]

extension = Extension(
    "fstatcache._fstatcache",
    sources=[os.path.join("python", "fstatcache", s) for s in SOURCES],
    include_dirs=["include", "."],
    define_macros=[("_GNU_SOURCE", None), ("_FILE_OFFSET_BITS", "64"),
                   ("_TIME_BITS", "64")],
    extra_compile_args=["-std=gnu11"] + pkg_config("--cflags", *deps),
    extra_link_args=pkg_config("--libs", *deps) + ["-lrt"],
    depends=[os.path.join("python", "fstatcache", "ext.h")],
)

setup(version=project_version(), ext_modules=[extension])
