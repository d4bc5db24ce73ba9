#!/bin/sh
# check_unit.sh UNIT SBINDIR WRITER SYSUSERS MANDIR - test "systemd_unit"
# (dist/meson.build).
#
# 1. `systemd-analyze verify` on the generated unit must print nothing: it
#    reports unknown keys and bad values as warnings but still exits 0, so
#    any output fails.  The unit names the installed writer, which does not
#    exist before `meson install`: the copy verified runs the built WRITER
#    instead (in ExecStart= and ExecReload=: the only change).  Documentation= must name pages
#    generated in MANDIR.
# 2. The sysusers.d file, applied to an empty root by systemd-sysusers,
#    must create the user and group `fstatcache` the unit runs as.
# 3. The exposure score of `systemd-analyze security --offline=yes` is
#    printed for the record (no threshold).
set -u
unit=$1 sbindir=$2 writer=$3 sysusers=$4 mandir=$5

fail() {
	echo "check_unit: $*" >&2
	exit 1
}
for tool in systemd-analyze systemd-sysusers; do
	command -v "$tool" >/dev/null ||
		fail "$tool not found: install the systemd package (Debian: apt-get install systemd)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsc-unit.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# No placeholder left unfilled, and the unit runs what it should.
if grep -n '@[A-Za-z_]*@' "$unit"; then
	fail "$unit: unfilled placeholders (above)"
fi
grep -q "^ExecStart=$sbindir/fstatcached --config " "$unit" ||
	fail "$unit: ExecStart does not run $sbindir/fstatcached --config"
grep -q "^ExecReload=$sbindir/fstatcached --check-config " "$unit" ||
	fail "$unit: a reload does not check the configuration first"
for line in 'User=fstatcache' 'Group=fstatcache' 'Type=notify' \
	'RemoveIPC=no' 'RuntimeDirectory=fstatcache' \
	'RestartPreventExitStatus=2' 'StateDirectory=fstatcache'; do
	grep -qx "$line" "$unit" || fail "$unit: no line '$line'"
done

sed -e "s|^ExecStart=$sbindir/fstatcached |ExecStart=$writer |" \
	-e "s|^ExecReload=$sbindir/fstatcached |ExecReload=$writer |" \
	"$unit" >"$tmp/fstatcached.service" || fail "sed failed"
grep -q "^ExecStart=$writer " "$tmp/fstatcached.service" ||
	fail "could not point ExecStart at $writer"

# Documentation= must name pages this build makes (checked here rather
# than by verify's --man, which needs man-db).
docs=$(sed -n 's/^Documentation=//p' "$unit")
[ -n "$docs" ] || fail "$unit: no Documentation="
for doc in $docs; do
	page=$(echo "$doc" | sed -n 's/^man:\([^(]*\)(\([0-9]\))$/\1.\2/p')
	[ -n "$page" ] || fail "$unit: Documentation=$doc is not man:PAGE(SECTION)"
	[ -f "$mandir/$page" ] || fail "$unit: Documentation=$doc, but $mandir/$page is missing"
done

out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no \
	"$tmp/fstatcached.service" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	printf '%s\n' "$out" >&2
	fail "systemd-analyze verify $unit: exit status $rc, output above"
fi
echo "systemd-analyze verify: clean"

mkdir -p "$tmp/root/etc" && systemd-sysusers --root="$tmp/root" "$sysusers" ||
	fail "systemd-sysusers --root=$tmp/root $sysusers failed"
grep -q '^fstatcache:x:[0-9]*:[0-9]*:[^:]*:[^:]*:.*nologin$' "$tmp/root/etc/passwd" ||
	fail "$sysusers: no system user fstatcache with a nologin shell"
grep -q '^fstatcache:x:[0-9]*:$' "$tmp/root/etc/group" ||
	fail "$sysusers: no group fstatcache"
echo "systemd-sysusers: $(grep '^fstatcache:' "$tmp/root/etc/passwd")"

# For the record only.
systemd-analyze security --offline=yes "$tmp/fstatcached.service" 2>&1 |
	grep -i 'overall exposure' || echo "(systemd-analyze security gave no score)"
exit 0
