#!/bin/sh
# cargo-test.sh CARGO SOURCE_DIR BUILD_DIR - the Rust reader's tests, for
# `meson test` (rust/meson.build registers it).  With a fourth argument
# `dump`, only build the dump example (BUILD_DIR/target/debug/examples/
# dump), for tests/test_readers_agree.py.
#
# Offline and with Debian's packaged crates only: CARGO_HOME is a
# directory of its own under the build directory, whose config replaces
# crates.io by the directory registry the librust-*-dev packages install;
# the target directory is under the build directory too, so nothing is
# written to the source tree or to ~/.cargo.  Warnings are errors.  The
# rustc and rustdoc next to CARGO are the ones used (a rustup toolchain
# earlier in PATH must not mix with Debian's cargo).  Exit 77 (meson's
# "skipped") with a message when the toolchain or the crates are absent.
set -eu
cargo=$1 src=$2 build=$3
registry=/usr/share/cargo/registry

if [ "$cargo" = "" ] || [ ! -x "$cargo" ]; then
	echo "SKIP: cargo not found: install rustc and cargo (Debian) to test the Rust reader"
	exit 77
fi
for crate in libc xxhash-rust; do
	if ! ls -d "$registry/$crate"-[0-9]* >/dev/null 2>&1; then
		echo "SKIP: Debian's $crate crate is not in $registry: install librust-$crate-dev"
		exit 77
	fi
done

export CARGO_HOME="$build/cargo-home"
export CARGO_TARGET_DIR="$build/target"
export RUSTFLAGS="-D warnings"
export RUSTDOCFLAGS="-D warnings"
PATH="$(dirname "$cargo"):$PATH"
export PATH
mkdir -p "$CARGO_HOME"
# Written aside and renamed: the readers_agree test runs this script
# while the rust test may be running it too, and cargo must never read a
# half-written file.
cat >"$CARGO_HOME/config.toml.$$" <<CONFIG
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "$registry"

[net]
offline = true
CONFIG
mv -f "$CARGO_HOME/config.toml.$$" "$CARGO_HOME/config.toml"

cd "$src"
if [ "${4:-}" = dump ]; then
	exec "$cargo" build --offline --quiet --example dump
fi
"$cargo" --version
rustc --version
"$cargo" test --offline
# The API documentation builds without a warning (broken links, items
# without docs).
"$cargo" doc --offline --no-deps --quiet
# The benchmark, tiny: it checks every answer, not timings, so it cannot
# rot (docs/BENCHMARKS.md, "Rust").
"$cargo" run --offline --quiet --example bench -- --files 200 --rounds 2
