#!/bin/sh
# The public headers keep their promise (include/fstatcache/fstatcache.h,
# "Build"): they compile as strict C11 and C++11 with -pedantic and every
# warning an error, given only the source tree's include paths and the
# flags the installed fstatcache.pc carries (-D_DEFAULT_SOURCE, liburcu's
# and libxxhash's) -- never the project's own defines (-D_GNU_SOURCE ...),
# which meson adds to every target it builds.  Without a POSIX.1-2008
# feature macro they must fail with the header's own message, not with an
# error deep in a system header.
#   header_build.sh CC CXX SOURCE_ROOT OUT_DIR
set -eu
cc=$1 cxx=$2 src=$3 out=$4
deps=$(pkg-config --cflags liburcu libxxhash)
libs="$(pkg-config --libs liburcu libxxhash) -lrt"
inc="-I$src/include -I$src"
strict="-Wall -Wextra -Werror -pedantic"
fail() { echo "header_build: $*" >&2; exit 1; }

# shellcheck disable=SC2086
$cc -std=c11 $strict -D_DEFAULT_SOURCE $inc $deps "$src/tests/header_c11.c" \
	-o "$out/header_c11_strict" $libs || fail "strict C11 build failed"
"$out/header_c11_strict" || fail "the strict C11 program failed"
# shellcheck disable=SC2086
$cxx -std=c++11 $strict $inc $deps "$src/tests/header_cxx.cpp" \
	-o "$out/header_cxx_strict" $libs || fail "strict C++11 build failed"
"$out/header_cxx_strict" || fail "the strict C++11 program failed"

# shellcheck disable=SC2086
if $cc -std=c11 $strict $inc $deps -c "$src/tests/header_c11.c" \
	-o "$out/header_c11_nodefs.o" 2>"$out/header_c11_nodefs.err"; then
	fail "compiled as strict C11 without a POSIX feature macro:" \
		"the header's check is gone"
fi
grep -q "fstatcache.h needs POSIX.1-2008" "$out/header_c11_nodefs.err" ||
	{ cat "$out/header_c11_nodefs.err" >&2
	  fail "strict C11 without feature macros failed, but not with" \
		"the header's own message"; }
echo "header_build: C11 and C++11 strict builds pass"
