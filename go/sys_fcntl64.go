//go:build linux && !(386 || arm || mips || mipsle)

package fstatcache

import "syscall"

const sysFcntl = syscall.SYS_FCNTL
