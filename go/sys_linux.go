package fstatcache

import (
	"os/user"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// shmOpen is shm_open(3) as glibc does it on Linux: open(2) of the name
// under /dev/shm, not following a symlink.
func shmOpen(name string, flags int) (int, error) {
	for {
		fd, err := syscall.Open("/dev/shm/"+name, flags|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// serviceUID reports whether uid is the packaged service's user
// ("fstatcache"); only root creates users, so its objects are trusted.
func serviceUID(uid uint32) bool {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	return err == nil && u.Username == serviceUser
}

// ownerOK is the squatting check of every object a reader maps: a regular
// file owned by owner, root or the service user, never writable by
// others, and not by the group unless rw (the recency object).
func ownerOK(st *syscall.Stat_t, owner uint32, rw bool) bool {
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return false
	}
	if st.Uid != owner && st.Uid != 0 && !serviceUID(st.Uid) {
		return false
	}
	if !rw && st.Mode&(syscall.S_IWGRP|syscall.S_IWOTH) != 0 {
		return false
	}
	return st.Mode&syscall.S_IWOTH == 0
}

// lockHeld queries the writer's open-file-description write lock on the
// table object (FSC_SEG_F_PID_LIVENESS): true while some process holds it.
func lockHeld(fd int) bool {
	fl := syscall.Flock_t{Type: syscall.F_RDLCK, Whence: 0}
	_, _, e := syscall.Syscall(sysFcntl, uintptr(fd), fOFDGetlk, uintptr(unsafe.Pointer(&fl)))
	return e == 0 && fl.Type != syscall.F_UNLCK
}

// futexWait sleeps while *word == val, at most d (FUTEX_WAIT, shared:
// the word is in memory other processes map).
func futexWait(word *uint32, val uint32, d time.Duration) error {
	ts := syscall.NsecToTimespec(int64(d))
	_, _, e := syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(word)), 0, /* FUTEX_WAIT */
		uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Milliseconds of a monotonic clock, for rate limits.
var clockStart = time.Now()

func nowMs() int64 { return int64(time.Since(clockStart) / time.Millisecond) }

// fromStat fills an answer from stat(2).
func fromStat(st *syscall.Stat_t, s *Stat) {
	*s = Stat{
		Exists:    true,
		Source:    SourceStat,
		Mode:      uint32(st.Mode),
		UID:       st.Uid,
		GID:       st.Gid,
		Dev:       uint64(st.Dev),
		Ino:       uint64(st.Ino),
		Nlink:     uint64(st.Nlink),
		Rdev:      uint64(st.Rdev),
		Size:      int64(st.Size),
		Blocks:    int64(st.Blocks),
		MtimeSec:  int64(st.Mtim.Sec),
		MtimeNsec: uint32(st.Mtim.Nsec),
		CtimeSec:  int64(st.Ctim.Sec),
		CtimeNsec: uint32(st.Ctim.Nsec),
		Blksize:   uint32(st.Blksize),
		Have:      HaveBlksize | HaveAtime,
		AtimeSec:  int64(st.Atim.Sec),
		AtimeNsec: uint32(st.Atim.Nsec),
	}
}

// Relaxed-enough loads of shared memory: Go's atomics are sequentially
// consistent, which orders at least as much as the acquire loads and
// fences the format asks for (docs/FORMAT.md, "Memory ordering").
func load32(p unsafe.Pointer) uint32 { return atomic.LoadUint32((*uint32)(p)) }
func load64(p unsafe.Pointer) uint64 { return atomic.LoadUint64((*uint64)(p)) }

// mntNSSelf is this process's mount namespace (the inode of
// /proc/self/ns/mnt), 0 when it cannot be told.
func mntNSSelf() uint64 {
	var st syscall.Stat_t
	if syscall.Stat("/proc/self/ns/mnt", &st) != nil {
		return 0
	}
	return st.Ino
}

// mntNSOK: may a reader in mount namespace self (0: unknown) be served
// from a writer that recorded writer (0: unknown, a writer without
// /proc)?  Only in the same one, unless it opted in; a reader that cannot
// tell its own is not served (contract.h, fsc_mnt_ns_ok).
func mntNSOK(writer, self uint64, any bool) bool {
	return any || writer == 0 || (self != 0 && self == writer)
}
