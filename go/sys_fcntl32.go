//go:build linux && (386 || arm || mips || mipsle)

package fstatcache

import "syscall"

// 32-bit ABIs: fcntl64, whose struct flock has 64-bit offsets (Flock_t).
const sysFcntl = syscall.SYS_FCNTL64
