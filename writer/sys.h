/*
 * sys.h - the system calls the writer makes that can fail in ways tests
 * must reach: a thin wrapper so fault injection exercises error paths
 * instead of assuming them.
 *
 * Faults are armed from the environment when the writer starts
 * (FSTATCACHE_FAULTS="inotify_add_watch=ENOSPC:3,ftruncate=EIO" fails the
 * named call with that errno, after the optional :N successful calls), or
 * from tests linking the writer library, with fw_sys_fault_set().  Like
 * the kernel's watch limit, an inotify_add_watch fault only hits calls that
 * would create a new watch (re-adding one to a watched inode goes through),
 * and only of directories (fanotify's marks on files go through).
 */
#ifndef FW_SYS_H
#define FW_SYS_H

#include <sys/types.h>
#include <sys/stat.h>
#include <stdint.h>

enum fw_sys_call {
	FW_SYS_INOTIFY_ADD_WATCH,
	FW_SYS_FTRUNCATE,
	FW_SYS_FALLOCATE,
	FW_SYS_MMAP,
	FW_SYS_SHM_OPEN,
	FW_SYS_STAT,
	FW_SYS_SET_ROBUST_LIST,
	FW_SYS_CALLS
};

/* Fail `call` with `err` after `after` more successful calls; err 0 disarms. */
void fw_sys_fault_set(enum fw_sys_call call, int err, unsigned after);

/* Parse FSTATCACHE_FAULTS-style text; 0 or -EINVAL (nothing armed then). */
int fw_sys_faults_parse(const char *spec);

/* True, with errno set, if the armed fault of `call` fires now: for calls
 * made elsewhere (fanotify's watch, which shares inotify's fault). */
int fw_sys_fault_fires(enum fw_sys_call call);

/* Each returns what the system call returns, errno set on failure. */
int fw_sys_inotify_add_watch(int fd, const char *path, uint32_t mask);
int fw_sys_ftruncate(int fd, off_t len);
int fw_sys_fallocate(int fd,
		     off_t len); /* posix_fallocate; returns 0 or -1/errno */
void *fw_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
int fw_sys_shm_open(const char *name, int oflag, mode_t mode);
int fw_sys_stat(const char *path, struct stat *st);
/* set_robust_list=ENOSYS makes a native writer take the fallback that
 * qemu-user forces (FSC_SEG_F_PID_LIVENESS); tests use it. */
int fw_sys_set_robust_list(void *head, size_t len);

/* CLOCK_MONOTONIC in nanoseconds (the vDSO: no system call). */
uint64_t fw_monotonic_ns(void);

#endif /* FW_SYS_H */
