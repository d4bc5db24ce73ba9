//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package fstatcache

import "encoding/binary"

// hostUint64 reads 8 bytes in the host's byte order (big-endian here).
func hostUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

const hostBigEndian = true
