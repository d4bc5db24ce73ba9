#!/bin/sh
# go/meson_test.sh - `meson test go_reader`: vet, build without cgo, and
# test the Go reader with the race detector against the built writer
# ($FSTATCACHED, set by meson).  Usage: meson_test.sh GO BUILD_DIR
# With `bench ARGS...` after them, run bench/go (fsc-go-bench) instead;
# with `dump OUT`, only build go/cmd/fscdump (without cgo) as OUT, for
# tests/test_readers_agree.py.
#
# Offline and self-contained: the module has no dependencies outside the
# standard library, the Go caches live in the build directory (no $HOME
# needed, fine as root in CI), the module proxy is off and the toolchain
# is the one installed (Debian's golang-go).  Exit 77 (meson: SKIP), with
# a line saying why, when there is no Go.
set -eu
go=$1
build=$2
if [ -z "$go" ] || ! [ -x "$go" ]; then
	echo "SKIP: no 'go' found at configure time: install golang-go (.ci/packages) to test go/"
	exit 77
fi
export GOCACHE="$build/gocache" GOPATH="$build/gopath" GOMODCACHE="$build/gopath/pkg/mod"
export GOPROXY=off GOFLAGS= GOTOOLCHAIN=local GO111MODULE=on GOWORK=off
export HOME="${HOME:-$build}"
here=$(cd "$(dirname "$0")" && pwd)
if [ "${3:-}" = bench ]; then
	shift 3
	cd "$here/../bench/go"
	"$go" vet .
	exec "$go" run . "$@"
fi
cd "$here"
if [ "${3:-}" = dump ]; then
	CGO_ENABLED=0 exec "$go" build -o "$4" ./cmd/fscdump
fi
"$go" version
gofmt="$(dirname "$go")/gofmt"
if [ -x "$gofmt" ]; then
	echo "=== gofmt -l (go/ and bench/go are as gofmt writes them)"
	bad=$("$gofmt" -l . ../bench/go)
	if [ -n "$bad" ]; then
		echo "not gofmt'ed: $bad"
		exit 1
	fi
fi
echo "=== go vet"
"$go" vet ./...
echo "=== CGO_ENABLED=0 go build (the module needs no cgo)"
CGO_ENABLED=0 "$go" build ./...
CGO_ENABLED=0 "$go" vet ./...
# The race detector needs cgo and a C compiler; where Go cannot run it,
# the tests still run, without it, saying so.
if CGO_ENABLED=1 "$go" test -race -count=1 -run '^$' . >/dev/null 2>&1; then
	echo "=== go test -race"
	CGO_ENABLED=1 "$go" test -race -count=1 -v ./...
else
	echo "=== go test (no race detector here: it needs cgo and a C compiler)"
	"$go" test -count=1 -v ./...
fi
