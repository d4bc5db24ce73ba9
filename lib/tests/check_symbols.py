#!/usr/bin/env python3
"""check_symbols.py READELF LIB MAP SONAME - the lib_symbols test.

LIB's soname is SONAME, and the functions it defines and exports are
exactly the global names of the version script MAP, each at MAP's one
version node as the default version (name@@NODE); nothing else is
exported (liburcu's and xxHash's inline helpers stay local).
"""

import re
import subprocess
import sys


def main():
    readelf, lib, mapfile, soname = sys.argv[1:]
    text = open(mapfile).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    nodes = re.findall(r"^\s*([A-Z0-9_.]+)\s*\{", text, flags=re.M)
    if len(nodes) != 1:
        sys.exit("%s: want one version node, found %s" % (mapfile, nodes))
    glob = text.split("global:", 1)[1].split("local:", 1)[0]
    want = {s.strip() for s in glob.split(";") if s.strip()}

    dyn = subprocess.run([readelf, "-d", "-W", lib], check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", dyn)
    if not m or m.group(1) != soname:
        sys.exit("%s: soname %s, want %s" % (lib, m and m.group(1), soname))

    syms = subprocess.run([readelf, "--dyn-syms", "-W", lib], check=True,
                          stdout=subprocess.PIPE,
                          universal_newlines=True).stdout
    got, bad = set(), []
    for line in syms.splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) < 8 or not f[0].endswith(":") or f[6] == "UND":
            continue
        name = f[7]
        if f[3] == "OBJECT" and name == nodes[0]:
            continue                      # the version node's own symbol
        if f[4] != "GLOBAL" and f[4] != "WEAK":
            continue
        base, _, ver = name.partition("@@")
        if ver != nodes[0] or f[3] != "FUNC":
            bad.append(name)
        got.add(base)
    if bad:
        sys.exit("%s: exported without version %s@@%s or not a function: %s"
                 % (lib, "NAME", nodes[0], ", ".join(sorted(bad))))
    if got != want:
        sys.exit("%s: exports %s; not exported: %s" % (
            lib, ", ".join(sorted(got - want)) or "nothing extra",
            ", ".join(sorted(want - got)) or "none"))
    print("%s: soname %s, %d functions, all %s" % (lib, soname, len(got),
                                                  nodes[0]))


if __name__ == "__main__":
    main()
