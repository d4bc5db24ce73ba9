#!/bin/bash
# systemd_boot_test.sh - the shipped unit under a real, booted systemd.
#
# Boots a minimal Debian root (debootstrap) with systemd-nspawn, installs
# fstatcache into it, and drives the service as an operator does:
#
#   start              the unit starts (Type=notify) and serves the config;
#                      the writer resolves paths with openat2 under the
#                      unit's system call filter (its info line says so)
#   reload, good file  `systemctl reload` exits 0; the new path is cached
#   reload, bad file   `systemctl reload` fails (ExecReload= checks the
#                      file first); the writer keeps running, same pid,
#                      same cache
#   kill -9            systemd restarts the writer (Restart=on-failure),
#                      which takes over its predecessor's segment
#   restart            a path added with `fstatcache watch` is still
#                      cached (the state file, StateDirectory=)
#   bad file at start  the unit fails at once with status 2, no restart
#                      loop (RestartPreventExitStatus=2)
#   stop               nothing left in /dev/shm or /run/fstatcache
#   (--debs only)      the packages' maintainer scripts: dpkg -i creates
#                      the user, enables and starts the service; dpkg -r
#                      stops it
#
# Usage (as root):
#   tests/systemd_boot_test.sh --build DIR   meson install DIR (configured
#                                            with --prefix=/usr) into the root
#   tests/systemd_boot_test.sh --debs DIR    dpkg -i DIR's fstatcache and
#                                            python3-fstatcache .debs inside
#   tests/systemd_boot_test.sh --prepare     only make the cached root (CI
#                                            runs it beside other passes)
#
# The debootstrapped root is cached as a tarball under $FSC_BOOT_CACHE
# (default /var/cache/fstatcache-tests), keyed by suite and package list,
# so a rerun skips debootstrap; each run unpacks it into a fresh directory
# under /var/tmp and removes it at exit, whatever happens.  The mirror is
# $FSC_BOOT_MIRROR, else the first one apt's sources name for the suite.
#
# Exit status: 0 passed, 1 failed, 77 skipped (printed with the reason:
# not root, no debootstrap or systemd-nspawn, or nspawn cannot boot a
# container on this machine).  Waits for systemd's own timers (the
# restart after kill -9) are polls bounded by a generous deadline, never
# a sleep that a slow machine could outrun.
set -euo pipefail

SUITE=${FSC_BOOT_SUITE:-bookworm}
CACHE=${FSC_BOOT_CACHE:-/var/cache/fstatcache-tests}
# Runtime needs of the programs and the unit (ExecReload= runs /bin/kill,
# from procps), and python3 for the Python package.
INCLUDE=systemd,systemd-sysv,dbus,procps,liburcu8,libjansson4,python3
DEADLINE=120 # seconds for boot and for systemd's restart; far above need

mode='' src=''
case ${1:-} in
--prepare)
	mode=$1
	[ $# -eq 1 ] || {
		echo "usage: $0 --build BUILDDIR | --debs DIR | --prepare" >&2
		exit 2
	}
	;;
--build | --debs)
	mode=$1 src=${2:-}
	[ $# -eq 2 ] && [ -d "$src" ] || {
		echo "usage: $0 --build BUILDDIR | --debs DIR | --prepare" >&2
		exit 2
	}
	src=$(cd "$src" && pwd)
	;;
*)
	echo "usage: $0 --build BUILDDIR | --debs DIR | --prepare" >&2
	exit 2
	;;
esac

t0=$SECONDS
skip() {
	echo "SKIP: systemd boot test: $*"
	exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
for p in debootstrap systemd-nspawn nsenter tar; do
	command -v $p >/dev/null ||
		skip "no $p (Debian packages debootstrap, systemd-container)"
done

work='' nspawn_pid='' ct_pid='' boot_pid=''
cleanup() {
	local rc=$?
	[ -z "$boot_pid" ] || kill "$boot_pid" 2>/dev/null || true
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# SIGTERM: nspawn halts the container; a second one ends it.
		kill -TERM "$nspawn_pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		# Still there: end the container's PID 1 (nspawn's child, so its
		# pid is not reused while nspawn lives), which ends every process
		# of its pid namespace, then nspawn.
		if kill -0 "$nspawn_pid" 2>/dev/null; then
			[ -z "$ct_pid" ] || kill -KILL "$ct_pid" 2>/dev/null || true
			kill -KILL "$nspawn_pid" 2>/dev/null || true
		fi
		wait "$nspawn_pid" 2>/dev/null || true
	fi
	[ -z "$work" ] || rm -rf --one-file-system "$work"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the root ------------------------------------------------------------

mirror() {
	[ -z "${FSC_BOOT_MIRROR:-}" ] || {
		echo "$FSC_BOOT_MIRROR"
		return
	}
	local m
	# deb822 sources: the URIs of the first stanza whose Suites has SUITE.
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$SUITE" '
		/^$/ { if (u != "" && ok) { print u; exit } u = ""; ok = 0 }
		/^URIs:/ { u = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
		END { if (u != "" && ok) print u }' | head -n1)
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		2>/dev/null | awk -v s="$SUITE" '$1 == "deb" && $3 == s { print $2; exit }')
	echo "${m:-http://deb.debian.org/debian}"
}

key=$(echo "$SUITE $INCLUDE" | md5sum | cut -c1-12)
tarball=$CACHE/$SUITE-minbase-$key.tar
if [ -f "$tarball" ]; then
	echo "=== root: cached $tarball"
else
	m=$(mirror)
	echo "=== root: debootstrap $SUITE from $m (cached afterwards as $tarball)"
	mkdir -p "$CACHE"
	boot=$(mktemp -d /var/tmp/fsc-debootstrap.XXXXXX)
	work=$boot # removed at exit if debootstrap fails
	debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" \
		"$boot" "$m" >"$CACHE/debootstrap.log" 2>&1 &
	boot_pid=$!
	if ! wait $boot_pid; then
		tail -n 20 "$CACHE/debootstrap.log"
		echo "FAIL: debootstrap (log: $CACHE/debootstrap.log)"
		exit 1
	fi
	rm -rf "$boot"/var/cache/apt/archives/*.deb "$boot"/var/lib/apt/lists/*
	chmod 755 "$boot" # mktemp's 0700 would be the container's /
	tar -C "$boot" --numeric-owner -cf "$tarball.partial" .
	mv "$tarball.partial" "$tarball"
	rm -rf --one-file-system "$boot"
	work='' boot_pid=''
	echo "    debootstrap took $((SECONDS - t0))s"
fi

[ "$mode" != --prepare ] || exit 0

work=$(mktemp -d /var/tmp/fsc-boot.XXXXXX)
root=$work/root
mkdir "$root"
tar -C "$root" --numeric-owner -xpf "$tarball"
chmod 755 "$root" # its / : services of other users must traverse it
echo "=== root unpacked in $root ($((SECONDS - t0))s so far)"

case $mode in
--build)
	prefix=$(meson introspect --buildoptions "$src" | python3 -c '
import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
	[ "$prefix" = /usr ] || {
		echo "FAIL: $src has prefix $prefix; configure it with --prefix=/usr"
		exit 1
	}
	meson install -C "$src" --destdir "$root" --no-rebuild --quiet
	;;
--debs)
	mkdir -p "$root/root/debs"
	n=0
	for d in "$src"/fstatcache_*.deb "$src"/python3-fstatcache_*.deb; do
		[ -e "$d" ] || continue
		cp "$d" "$root/root/debs/"
		n=$((n + 1))
	done
	[ $n -eq 2 ] || {
		echo "FAIL: want fstatcache_*.deb and python3-fstatcache_*.deb in $src"
		exit 1
	}
	;;
esac
mkdir -p "$root/srv/fsc"
for f in a b c; do echo "$f" >"$root/srv/fsc/$f.log"; done
echo "fsc-boot" >"$root/etc/hostname"

# ---- boot ------------------------------------------------------------------

machine=fsc-boot-$$
echo "=== boot: systemd-nspawn --register=no --keep-unit -b -M $machine"
# --keep-unit: no scope is asked of a host systemd over D-Bus, so this
# runs where the host's PID 1 is not systemd (a container, a CI runner).
systemd-nspawn --register=no --keep-unit --quiet -D "$root" -M "$machine" \
	-b --console=pipe </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
# The container's PID 1 (systemd) is nspawn's child once it has booted far
# enough to exec it.
end=$((SECONDS + DEADLINE))
while [ -z "$ct_pid" ]; do
	if ! kill -0 "$nspawn_pid" 2>/dev/null; then
		wait "$nspawn_pid" || true
		nspawn_pid=
		tail -n 20 "$work/console.log"
		skip "systemd-nspawn cannot boot a container here (its output above)"
	fi
	ct_pid=$(pgrep -P "$nspawn_pid" -x systemd || true)
	[ $SECONDS -lt $end ] || {
		echo "FAIL: no systemd in the container after ${DEADLINE}s"
		exit 1
	}
	[ -n "$ct_pid" ] || sleep 0.1
done

# Run a command inside the container (its namespaces, a clean environment).
ct() {
	nsenter -t "$ct_pid" -m -u -i -n -p -- \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
# Wait for the socket systemctl talks to, then for the boot to finish.
until ct test -S /run/systemd/private; do
	[ $SECONDS -lt $end ] || {
		echo "FAIL: systemd did not come up"
		exit 1
	}
	sleep 0.1
done
while :; do
	state=$(ct systemctl is-system-running 2>/dev/null || true)
	case $state in
	initializing | starting) ;;
	*) break ;;
	esac
	[ $SECONDS -lt $end ] || break
	sleep 0.1
done
echo "    booted: $state ($((SECONDS - t0))s so far)"
if [ "$state" != running ]; then
	ct systemctl --failed --no-pager || true
fi

# ---- checks ---------------------------------------------------------------

failures=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	failures=$((failures + 1))
}
check() { # check WHAT COMMAND...: the command (in the container) succeeds
	local what=$1
	shift
	if out=$(ct "$@" 2>&1); then ok "$what"; else
		bad "$what: $*"
		echo "$out" | sed 's/^/     /'
	fi
}
prop() { ct systemctl show -p "$1" --value fstatcached; }
journal() {
	echo "     --- journalctl -u fstatcached (last 30 lines):"
	ct journalctl -u fstatcached --no-pager -n 30 | sed 's/^/     /'
}
lists() { # lists PATH...: `fstatcache ls` has every PATH
	ct fstatcache sync >/dev/null
	local l p
	l=$(ct fstatcache ls)
	for p in "$@"; do
		grep -q " $p\$" <<<"$l" || return 1
	done
}
config() { # config LINE...: /etc/fstatcache.conf is these lines
	printf '%s\n' "$@" | ct sh -c 'cat >/etc/fstatcache.conf'
}
good=("watch = /srv/fsc/a.log" "watch = /srv/fsc/b.log")

echo "=== checks"
case $mode in
--debs)
	check "dpkg -i the packages (postinst: user, enable, start)" \
		sh -c 'dpkg -i /root/debs/*.deb'
	check "the postinst created the system user fstatcache" \
		getent passwd fstatcache
	check "the postinst enabled the unit" systemctl is-enabled fstatcached
	check "the postinst started the unit" systemctl is-active fstatcached
	;;
--build)
	check "systemd-sysusers at boot created the user fstatcache" \
		getent passwd fstatcache
	check "systemctl enable --now fstatcached" \
		systemctl enable --now fstatcached
	;;
esac

config "${good[0]}"
check "restart with a config that watches a.log" \
	systemctl restart fstatcached
check "fstatcache health" fstatcache health
if ct fstatcache stat --json /srv/fsc/a.log | grep -q '"source":"cache"'; then
	ok "a.log is answered from the cache"
else bad "a.log is not answered from the cache"; fi
if ct journalctl -u fstatcached --no-pager | grep -q 'openat2(RESOLVE_NO_SYMLINKS)'; then
	ok "under the unit's sandbox, paths are checked with openat2"
else
	bad "the writer does not use openat2 under the unit"
	journal
fi
if out=$(ct python3 -c 'import fstatcache
s = fstatcache.FStatCache().get_file_stats("/srv/fsc/a.log")
assert s["size"] == 2, s' 2>&1); then
	ok "python3: fstatcache.FStatCache().get_file_stats()"
else
	bad "python3 fstatcache module"
	echo "$out" | sed 's/^/     /'
fi

pid=$(prop MainPID)
config "${good[@]}"
check "systemctl reload with a good config exits 0" \
	systemctl reload fstatcached
if lists /srv/fsc/a.log /srv/fsc/b.log; then
	ok "the reload added b.log"
else bad "b.log is not cached after the reload"; fi

config "${good[@]}" "no_such_key = 1"
if out=$(ct systemctl reload fstatcached 2>&1); then
	bad "systemctl reload with a bad config exited 0"
else
	ok "systemctl reload with a bad config fails: $(head -n1 <<<"$out")"
fi
if [ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" = "$pid" ] &&
	lists /srv/fsc/a.log /srv/fsc/b.log; then
	ok "after the bad reload: still active, same pid $pid, same cache"
else
	bad "the bad reload changed the service"
	journal
fi
config "${good[@]}"

restarts=$(prop NRestarts)
ct kill -9 "$pid"
end=$((SECONDS + DEADLINE))
while :; do
	now=$(prop MainPID)
	if [ "$now" != 0 ] && [ "$now" != "$pid" ] &&
		[ "$(prop ActiveState)" = active ]; then break; fi
	[ $SECONDS -lt $end ] || break
	sleep 0.1
done
if [ "$(prop NRestarts)" = $((restarts + 1)) ] &&
	[ "$(prop ActiveState)" = active ] && lists /srv/fsc/a.log /srv/fsc/b.log; then
	ok "kill -9 $pid: systemd restarted it (pid $(prop MainPID)), watches kept"
else
	bad "kill -9: not restarted, or the watches are lost"
	journal
fi

check "fstatcache watch /srv/fsc/c.log" fstatcache watch /srv/fsc/c.log
check "systemctl restart" systemctl restart fstatcached
if lists /srv/fsc/a.log /srv/fsc/b.log /srv/fsc/c.log; then
	ok "after systemctl restart, c.log (from watch) is still cached"
else
	bad "c.log was lost across systemctl restart (state file)"
	journal
fi

restarts=$(prop NRestarts)
config "${good[@]}" "no_such_key = 1"
if ct systemctl restart fstatcached 2>/dev/null; then
	bad "start with a bad config succeeded"
else
	ok "start with a bad config fails"
fi
if [ "$(prop ActiveState)" = failed ] && [ "$(prop SubState)" = failed ] &&
	[ "$(prop ExecMainStatus)" = 2 ] && [ "$(prop NRestarts)" = "$restarts" ]; then
	ok "... at once: status 2, failed, no restart (NRestarts $restarts)"
else
	bad "bad config at start: $(prop ActiveState)/$(prop SubState)," \
		"status $(prop ExecMainStatus), NRestarts $(prop NRestarts)"
	journal
fi
config "${good[@]}"
ct systemctl reset-failed fstatcached
check "start again with the good config" systemctl start fstatcached
if lists /srv/fsc/c.log; then
	ok "the failed start kept the state file: c.log still cached"
else bad "c.log lost after the failed start"; fi

check "systemctl stop" systemctl stop fstatcached
left=$(ct sh -c 'ls /dev/shm | grep "^fstatcache" || true; ls -d /run/fstatcache 2>/dev/null || true')
if [ -z "$left" ]; then
	ok "stopped: nothing left in /dev/shm or /run/fstatcache"
else
	bad "left behind after stop: $left"
fi

if [ "$mode" = --debs ]; then
	check "systemctl start, then dpkg -r the packages" \
		sh -c 'systemctl start fstatcached &&
			dpkg -r python3-fstatcache fstatcache'
	if [ "$(prop ActiveState)" != active ] &&
		[ -z "$(ct sh -c 'ls /dev/shm | grep "^fstatcache" || true')" ]; then
		ok "dpkg -r stopped the service, nothing left in /dev/shm"
	else bad "dpkg -r left the service running or its segment"; fi
fi

# ---- shut down --------------------------------------------------------------

ct systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq $((DEADLINE * 10))); do
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.1
done
if wait "$nspawn_pid"; then ok "the container powered off"; else
	bad "the container did not power off cleanly"
	tail -n 20 "$work/console.log"
fi
nspawn_pid=
echo "=== $((SECONDS - t0))s in all; $failures failed"
[ $failures -eq 0 ]
