#!/bin/sh
# check_man.sh WRITER TOOL CONF fstatcached.8 fstatcache.1 fstatcache.conf.5
# - test "man_pages" (docs/man/meson.build): the pages must not drift from
# the programs and the sample configuration.
#
#  fstatcached.8      every option of `WRITER --help` (long and short) is
#                     in OPTIONS, and every long option there is in --help;
#  fstatcache.1       every option of `TOOL --help` is in OPTIONS; every
#                     command it lists has a subsection (.SS) holding each
#                     option of `TOOL COMMAND --help`, and the options a
#                     subsection mentions exist for that command;
#  fstatcache.conf.5  the keys under KEYS are exactly the keys of CONF
#                     ("key = value" lines, commented out or not);
#  all three          `groff -man -ww -z` prints no warning, and .TH
#                     names the page and section of the file.
set -u
writer=$1 tool=$2 conf=$3 page8=$4 page1=$5 page5=$6
errors=0

err() {
	echo "check_man: $*" >&2
	errors=$((errors + 1))
}

command -v groff >/dev/null || {
	echo "check_man: groff not found: install the groff-base package" >&2
	exit 1
}

# The page as text to search: roff's \- as -, font changes and quotes gone.
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/"//g' "$1"
}

# Lines of one section of a page: from ".SH NAME" (or ".SS NAME") to the
# next heading of the same level or above.
section() { # FILE MACRO NAME
	plain "$1" | awk -v m="$2" -v n="$3" '
		$1 == ".SH" || ($1 == ".SS" && m == ".SS") { on = ($1 == m && $2 == n) ; next }
		on'
}

long_opts() {
	grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# Whether text on stdin has OPT as a word of its own.
has_opt() {
	grep -qE -- "(^|[^a-zA-Z0-9-])$1([^a-zA-Z0-9-]|\$)"
}

help_of() { # PROGRAM ARGS...: its --help, which must succeed
	if ! "$@" >"$tmp/help" 2>"$tmp/help.err"; then
		err "'$*' failed: $(cat "$tmp/help.err")"
		: >"$tmp/help"
	fi
	cat "$tmp/help"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsc-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# ---- fstatcached(8) -------------------------------------------------------
help_of "$writer" --help >"$tmp/writer.help"
[ -s "$tmp/writer.help" ] || err "'$writer --help' printed nothing"
section "$page8" .SH OPTIONS >"$tmp/writer.opts"
for opt in $(long_opts <"$tmp/writer.help") \
	$(grep -oE '^ +-[a-zA-Z],' "$tmp/writer.help" | tr -d ' ,'); do
	has_opt "$opt" <"$tmp/writer.opts" ||
		err "fstatcached.8: option $opt of 'fstatcached --help' is not under OPTIONS"
done
for opt in $(long_opts <"$tmp/writer.opts"); do
	has_opt "$opt" <"$tmp/writer.help" ||
		err "fstatcached.8: option $opt under OPTIONS is not in 'fstatcached --help'"
done

# ---- fstatcache(1) --------------------------------------------------------
help_of "$tool" --help >"$tmp/tool.help"
[ -s "$tmp/tool.help" ] || err "'$tool --help' printed nothing"
section "$page1" .SH OPTIONS >"$tmp/tool.opts"
for opt in $(long_opts <"$tmp/tool.help"); do
	has_opt "$opt" <"$tmp/tool.opts" ||
		err "fstatcache.1: option $opt of 'fstatcache --help' is not under OPTIONS"
done
commands=$(awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit }
	on { print $1 }' "$tmp/tool.help")
[ -n "$commands" ] || err "no commands found in 'fstatcache --help'"
for cmd in $commands; do
	section "$page1" .SS "$cmd" >"$tmp/cmd.sec"
	if [ ! -s "$tmp/cmd.sec" ]; then
		err "fstatcache.1: command '$cmd' has no subsection (.SS $cmd)"
		continue
	fi
	help_of "$tool" "$cmd" --help >"$tmp/cmd.help"
	# --name and --help belong to every command: OPTIONS has them.
	for opt in $(long_opts <"$tmp/cmd.help"); do
		case $opt in --name | --help) continue ;; esac
		has_opt "$opt" <"$tmp/cmd.sec" ||
			err "fstatcache.1: option $opt of 'fstatcache $cmd --help' is not in its subsection"
	done
	for opt in $(long_opts <"$tmp/cmd.sec"); do
		has_opt "$opt" <"$tmp/cmd.help" ||
			err "fstatcache.1: subsection $cmd mentions $opt, which 'fstatcache $cmd --help' does not have"
	done
done
for cmd in $(plain "$page1" | awk '$1 == ".SS" { print $2 }'); do
	printf '%s\n' $commands | grep -qx "$cmd" ||
		err "fstatcache.1: subsection $cmd is not a command of 'fstatcache --help'"
done

# ---- fstatcache.conf(5) ---------------------------------------------------
sed -n 's/^#\{0,1\}\([a-z_][a-z_]*\)[ 	]*=.*/\1/p' "$conf" | sort -u >"$tmp/conf.keys"
[ -s "$tmp/conf.keys" ] || err "no keys found in $conf"
section "$page5" .SH KEYS |
	sed -n 's/^\.BI \([a-z_][a-z_]*\) = .*/\1/p' | sort -u >"$tmp/page.keys"
for key in $(comm -23 "$tmp/conf.keys" "$tmp/page.keys"); do
	err "fstatcache.conf.5: key '$key' of $conf is not under KEYS"
done
for key in $(comm -13 "$tmp/conf.keys" "$tmp/page.keys"); do
	err "fstatcache.conf.5: key '$key' under KEYS is not in $conf"
done

# ---- all pages ------------------------------------------------------------
for page in "$page8" "$page1" "$page5"; do
	base=${page##*/}
	want="$(echo "${base%.*}" | tr 'a-z' 'A-Z') ${base##*.}"
	got=$(awk '$1 == ".TH" { print $2, $3; exit }' "$page")
	[ "$got" = "$want" ] || err "$base: .TH says '$got', want '$want'"
	warnings=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$page" 2>&1)
	[ -z "$warnings" ] || err "$base: groff warns:
$warnings"
done

if [ $errors -ne 0 ]; then
	echo "check_man: $errors problem(s)" >&2
	exit 1
fi
echo "check_man: fstatcached.8, fstatcache.1, fstatcache.conf.5 agree with the programs"
