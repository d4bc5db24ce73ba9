#!/bin/sh
# install_test.sh - test "install" (registered in dist/meson.build).
#
# Installs the build into a temporary DESTDIR with `meson install`, checks
# that every file landed where the build says, then builds a reader the
# way a user does, against the staged tree with nothing but
#     cc $(pkg-config --cflags --libs fstatcache)
# (PKG_CONFIG_PATH at the staged .pc, PKG_CONFIG_SYSROOT_DIR at DESTDIR; no
# -I into the source tree), checks it really used the staged header, and
# runs it against the staged fstatcached and fstatcache
# (tests/installed_reader.c).  Everything is removed at exit, whatever
# happens: the temporary directory, and the instance's shared-memory
# objects should the writer have died.
#
# `meson install` rewrites the build directory's meson-logs/install-log.txt
# (what `ninja uninstall` removes); the test keeps the one there was, and
# runs its install under a lock so two runs cannot interleave.
set -u

usage() {
	echo "usage: install_test.sh --meson M --build-root B --source-root S --reader C" \
		"--version V" \
		"--bindir D --sbindir D --includedir D --pkgconfigdir D --mandir D" \
		"--unitdir D --sysusersdir D --sysconfdir D --docdir D" \
		"[--libdir D] [--pythondir D [--python PY]]" >&2
	exit 2
}
while [ $# -ge 2 ]; do
	case $1 in
	--meson) meson=$2 ;;
	--build-root) build=$2 ;;
	--source-root) source=$2 ;;
	--version) version=$2 ;;
	--reader) reader=$2 ;;
	--bindir) bindir=$2 ;;
	--sbindir) sbindir=$2 ;;
	--includedir) includedir=$2 ;;
	--pkgconfigdir) pcdir=$2 ;;
	--mandir) mandir=$2 ;;
	--unitdir) unitdir=$2 ;;
	--sysusersdir) sysusersdir=$2 ;;
	--sysconfdir) sysconfdir=$2 ;;
	--docdir) docdir=$2 ;;
	--libdir) libdir=$2 ;;
	--pythondir) pythondir=$2 ;;
	--python) python=$2 ;;
	*) usage ;;
	esac
	shift 2
done
[ $# -eq 0 ] || usage
for v in meson build source version reader bindir sbindir includedir pcdir mandir \
	unitdir sysusersdir sysconfdir docdir; do
	eval "[ -n \"\${$v:-}\" ]" || usage
done

name="fsc-install-$$"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsc-install.XXXXXX") || exit 1
log=$build/meson-logs/install-log.txt
cleanup() {
	# Interrupted while installing: put the build's install log back.
	if [ -e "$tmp/work/install-log.saved" ]; then
		mv "$tmp/work/install-log.saved" "$log"
	elif [ -e "$tmp/work/install-log.none" ]; then
		rm -f "$log"
	fi
	rm -rf "$tmp"
	rm -f "/dev/shm/fstatcache.$name" "/dev/shm/fstatcache.$name.use"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
stage=$tmp/stage
work=$tmp/work
mkdir "$work" || exit 1

fail() {
	echo "install_test: $*" >&2
	exit 1
}

# ---- meson install ------------------------------------------------------
(
	flock 9 || exit 1
	if [ -e "$log" ]; then
		cp -p "$log" "$work/install-log.saved" || exit 1
	else
		: >"$work/install-log.none" || exit 1
	fi
	"$meson" install --no-rebuild --destdir "$stage" -C "$build" \
		>"$work/install.out" 2>&1
	rc=$?
	if [ -e "$work/install-log.saved" ]; then
		mv "$work/install-log.saved" "$log"
	else
		rm -f "$log" "$work/install-log.none"
	fi
	exit $rc
) 9>"$build/meson-private/fsc-install-test.lock"
rc=$?
if [ $rc -ne 0 ]; then
	cat "$work/install.out" >&2
	fail "meson install --destdir $stage failed (exit status $rc, output above)"
fi

# ---- the staged tree ----------------------------------------------------
for f in \
	"$sbindir/fstatcached" "$bindir/fstatcache" \
	"$includedir/fstatcache/fstatcache.h" "$includedir/fstatcache/format.h" \
	"$includedir/fstatcache/protocol.h" "$pcdir/fstatcache.pc" \
	"$mandir/man8/fstatcached.8" "$mandir/man1/fstatcache.1" \
	"$mandir/man5/fstatcache.conf.5" "$unitdir/fstatcached.service" \
	"$sysusersdir/fstatcache.conf" "$sysconfdir/fstatcache.conf" \
	"$docdir/fstatcache.conf"; do
	[ -f "$stage$f" ] || fail "not installed: $f (looked for $stage$f)"
done
for f in "$sbindir/fstatcached" "$bindir/fstatcache"; do
	[ -x "$stage$f" ] || fail "installed but not executable: $f"
done
# libfstatcache.so (lib/meson.build): the real file, the soname link, the
# link name, its .pc; pkg-config links it; a foreign program loads it.
if [ -n "${libdir:-}" ]; then
	[ -f "$stage$libdir/libfstatcache.so.0.1.0" ] ||
		fail "not installed: $libdir/libfstatcache.so.0.1.0"
	for l in libfstatcache.so.0 libfstatcache.so; do
		[ -L "$stage$libdir/$l" ] && [ -f "$stage$libdir/$l" ] ||
			fail "not installed as a link to the library: $libdir/$l"
	done
	[ -f "$stage$pcdir/libfstatcache.pc" ] ||
		fail "not installed: $pcdir/libfstatcache.pc"
	if [ -n "${python:-}" ]; then
		"$python" -c '
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.fsc_lib_version.restype = ctypes.c_char_p
assert lib.fsc_lib_version() == sys.argv[2].encode(), lib.fsc_lib_version()
' "$stage$libdir/libfstatcache.so.0" "$version" ||
			fail "cannot load the installed $libdir/libfstatcache.so.0 with ctypes"
	fi
fi
# The Python package, where its interpreter looks (python/meson.build).
if [ -n "${pythondir:-}" ]; then
	for f in fstatcache/__init__.py fstatcache/_fstatcache.pyi \
		fstatcache/py.typed fstat_cache/__init__.py \
		fstat_cache/fstat_cache.py; do
		[ -f "$stage$pythondir/$f" ] ||
			fail "not installed: $pythondir/$f"
	done
	ls "$stage$pythondir"/fstatcache/_fstatcache*.so >/dev/null 2>&1 ||
		fail "not installed: $pythondir/fstatcache/_fstatcache*.so"
fi
if [ -n "${python:-}" ]; then
	echo "twelve bytes" >"$work/py-file"
	PYTHONPATH=$stage$pythondir "$python" -c '
import sys, fstatcache, fstat_cache
where, path = sys.argv[1], sys.argv[2]
for m in (fstatcache, fstat_cache):
    assert m.__file__.startswith(where), m.__file__
# No writer of that name: answered by stat(2), the fstat-cache compatible API unchanged.
st = fstat_cache.FStatCache(name=sys.argv[3]).get_file_stats(path)
assert st["size"] == 13, st
' "$stage$pythondir" "$work/py-file" "$name" ||
		fail "cannot use the installed Python package (PYTHONPATH=$stage$pythondir)"
fi
# The installed unit runs the installed writer with the installed config
# (and its state file), and checks that config before a reload.
grep -qx "ExecStart=$sbindir/fstatcached --config $sysconfdir/fstatcache.conf --state-file \${STATE_DIRECTORY}/watches" \
	"$stage$unitdir/fstatcached.service" ||
	fail "$unitdir/fstatcached.service: ExecStart is not" \
		"$sbindir/fstatcached --config $sysconfdir/fstatcache.conf --state-file \${STATE_DIRECTORY}/watches"
grep -qx "ExecReload=$sbindir/fstatcached --check-config $sysconfdir/fstatcache.conf" \
	"$stage$unitdir/fstatcached.service" ||
	fail "$unitdir/fstatcached.service: ExecReload does not check" \
		"$sysconfdir/fstatcache.conf"
# Each header the installed ones include is installed.
for h in $(sed -n 's/^#include "\(.*\)"/\1/p' "$stage$includedir"/fstatcache/*.h); do
	[ -f "$stage$includedir/fstatcache/$h" ] ||
		fail "$includedir/fstatcache includes \"$h\", which is not installed"
done

# ---- pkg-config, as a user of the installed tree ------------------------
PKG_CONFIG_PATH=$stage$pcdir
PKG_CONFIG_SYSROOT_DIR=$stage
# A prefix of /usr gives -I/usr/include, which pkg-config would drop as a
# system directory before prefixing the sysroot.
PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_CFLAGS
got=$(pkg-config --variable=pcfiledir fstatcache) ||
	fail "pkg-config cannot read the staged fstatcache.pc"
[ "$got" = "$stage$pcdir" ] ||
	fail "pkg-config reads fstatcache.pc from $got, not the staged $stage$pcdir"
pkg-config --validate fstatcache || fail "the staged fstatcache.pc does not validate"
cflags=$(pkg-config --cflags fstatcache) && libs=$(pkg-config --libs fstatcache) ||
	fail "pkg-config --cflags --libs fstatcache failed"
# The header needs liburcu and libxxhash: their flags must come along
# (Requires), whatever this system makes of them.
for flag in $(pkg-config --cflags --libs liburcu libxxhash); do
	case " $cflags $libs " in
	*" $flag "*) ;;
	*) fail "'pkg-config --cflags --libs fstatcache' ($cflags $libs) lacks" \
		"$flag of its requirements liburcu, libxxhash" ;;
	esac
done
case " $cflags " in
*"$source"*) fail "pkg-config points into the source tree: $cflags" ;;
esac
if [ -n "${libdir:-}" ]; then
	ll=$(pkg-config --libs libfstatcache) ||
		fail "pkg-config --libs libfstatcache failed"
	case " $ll " in
	*" -L$stage$libdir "*) ;;
	*) fail "pkg-config --libs libfstatcache is '$ll', without -L$stage$libdir" ;;
	esac
	case " $ll " in
	*" -lfstatcache "*) ;;
	*) fail "pkg-config --libs libfstatcache is '$ll', without -lfstatcache" ;;
	esac
fi

# ---- the reader ---------------------------------------------------------
# shellcheck disable=SC2086 # flags are words
cc -Wall -Wextra -Werror $cflags -MD -MF "$work/reader.d" \
	-o "$work/reader" "$reader" $libs ||
	fail "cannot build a reader with: cc $cflags ... $libs"
for h in fstatcache.h format.h protocol.h; do
	grep -qF "$stage$includedir/fstatcache/$h" "$work/reader.d" ||
		fail "the reader was not built with the staged $h:" \
			"$(tr -s ' \\\n' '\n\n\n' <"$work/reader.d" | grep fstatcache/)"
done

echo "a line to cache" >"$work/file"
"$work/reader" "$stage$sbindir/fstatcached" "$stage$bindir/fstatcache" \
	"$name" "$work/ctl.sock" "$work/file" ||
	fail "the reader failed against the installed writer and tool"
for o in "/dev/shm/fstatcache.$name" "/dev/shm/fstatcache.$name.use" \
	"$work/ctl.sock"; do
	[ ! -e "$o" ] || fail "$o is left after the writer stopped cleanly"
done
echo "install_test: installed tree complete, reader built with pkg-config only, served from the cache"
