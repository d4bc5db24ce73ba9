"""site_dir.py PREFIX MESON_DIR - the directory `meson install` puts the
Python package in, for the interpreter that runs this (python/meson.build).

Prints MESON_DIR (meson's choice) when the interpreter searches it and it
lies under PREFIX; else the first of the interpreter's site directories
under PREFIX; else nothing.  A site directory under PREFIX/local does not
count: for PREFIX /usr that is /usr/local, the administrator's tree.
"""

import os
import site
import sys


def under(path, prefix):
    path, prefix = os.path.normpath(path), os.path.normpath(prefix)
    if prefix == "/":
        return True
    return path.startswith(prefix + "/") and \
        not path.startswith(os.path.join(prefix, "local") + "/")


def choose(prefix, meson_dir, site_dirs):
    meson_dir = os.path.normpath(meson_dir) if meson_dir else ""
    norm = [os.path.normpath(d) for d in site_dirs]
    if meson_dir in norm and under(meson_dir, prefix):
        return meson_dir
    return next((d for d in norm if under(d, prefix)), "")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: site_dir.py PREFIX [MESON_DIR]")
    print(choose(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "",
                 site.getsitepackages()))
