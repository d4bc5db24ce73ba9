#!/bin/bash
# test_completion.sh FSTATCACHE FSTATCACHED COMPLETION - the bash
# completion script (dist/bash-completion/fstatcache) against the built
# programs: subcommands, a subcommand's options, option values, the
# writer's options.  Skips (exit 77) without bash-completion's library.
set -u
tool=$(realpath "$1") writer=$(realpath "$2") script=$3
lib=/usr/share/bash-completion/bash_completion
if [ ! -r "$lib" ]; then
	echo "test_completion: $lib missing (Debian package bash-completion): skipped"
	exit 77
fi
# bash-completion's library expects an interactive-like shell.
set +u
. "$lib"
. "$script"
set -u
bindir=$(mktemp -d "${TMPDIR:-/tmp}/fsc-compl.XXXXXX") || exit 1
trap 'rm -rf "$bindir"' EXIT
ln -s "$tool" "$bindir/fstatcache"
ln -s "$writer" "$bindir/fstatcached"
PATH=$bindir:$PATH

fail=0
# complete WORDS...: COMPREPLY for the last word, sorted, one per line.
complete_words()
{
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_fstatcache "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort
}
expect_has()
{
	local want=$1
	shift
	if ! complete_words "$@" | grep -qx -- "$want"; then
		echo "test_completion: '$*' does not offer '$want':" \
			"$(complete_words "$@" | tr '\n' ' ')" >&2
		fail=1
	fi
}
expect_not()
{
	local unwanted=$1
	shift
	if complete_words "$@" | grep -qx -- "$unwanted"; then
		echo "test_completion: '$*' offers '$unwanted'" >&2
		fail=1
	fi
}

# Every subcommand the tool lists, and only those.
for c in stat sync watch unwatch invalidate ls inspect top changes health \
	metrics check; do
	expect_has "$c" fstatcache ""
done
expect_not "--follow" fstatcache ""
expect_has changes fstatcache ch
expect_has --follow fstatcache changes --f
expect_has --files-from fstatcache --name x watch --f
expect_not --follow fstatcache stat --f
expect_has recency fstatcache ls --sort r
expect_has fanotify fstatcached --events f
expect_has --memory-limit fstatcached --mem
expect_has --check-config fstatcached --check
[ $fail -eq 0 ] && echo "test_completion: ok"
exit $fail
