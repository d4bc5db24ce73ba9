//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package fstatcache

import "encoding/binary"

// hostUint64 reads 8 bytes in the host's byte order (little-endian here);
// a direct call, so the compiler makes it one load.
func hostUint64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

const hostBigEndian = false
