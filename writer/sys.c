/*
 * sys.c - fault-injectable wrappers over the writer's failure-prone system
 * calls.  Each call checks its fault slot: when armed, it lets `after` calls
 * through, then fails with the armed errno (and keeps failing until
 * disarmed), so tests reach error paths such as the inotify watch limit.
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct fault {
	int err;
	unsigned after;
};

static struct fault faults[FW_SYS_CALLS];

static const char *const call_names[FW_SYS_CALLS] = {
	[FW_SYS_INOTIFY_ADD_WATCH] = "inotify_add_watch",
	[FW_SYS_FTRUNCATE] = "ftruncate",
	[FW_SYS_FALLOCATE] = "fallocate",
	[FW_SYS_MMAP] = "mmap",
	[FW_SYS_SHM_OPEN] = "shm_open",
	[FW_SYS_STAT] = "stat",
	[FW_SYS_SET_ROBUST_LIST] = "set_robust_list",
};

void fw_sys_fault_set(enum fw_sys_call call, int err, unsigned after)
{
	if ((unsigned)call < FW_SYS_CALLS)
		faults[call] = (struct fault){ err, after };
}

/* True (errno set) when the armed fault fires for this call. */
static int fault_fires(enum fw_sys_call call)
{
	struct fault *f = &faults[call];

	if (!f->err)
		return 0;
	if (f->after > 0) {
		f->after--;
		return 0;
	}
	errno = f->err;
	return 1;
}

int fw_sys_fault_fires(enum fw_sys_call call)
{
	return fault_fires(call);
}

static int errno_by_name(const char *s, size_t len)
{
	static const struct {
		const char *name;
		int err;
	} known[] = {
		{ "ENOSPC", ENOSPC }, { "ENOMEM", ENOMEM },
		{ "EIO", EIO },       { "EACCES", EACCES },
		{ "EMFILE", EMFILE }, { "EPERM", EPERM },
		{ "ENOENT", ENOENT }, { "EINVAL", EINVAL },
		{ "ENOSYS", ENOSYS },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == len &&
		    !memcmp(known[i].name, s, len))
			return known[i].err;
	return 0;
}

static int call_by_name(const char *s, size_t len)
{
	for (int i = 0; i < FW_SYS_CALLS; i++)
		if (strlen(call_names[i]) == len &&
		    !memcmp(call_names[i], s, len))
			return i;
	return -1;
}

/* One "call=ERRNO[:after]" item. */
static int parse_item(const char *s, size_t len, struct fault *out, int *call)
{
	const char *eq = memchr(s, '=', len);
	if (!eq)
		return -EINVAL;
	*call = call_by_name(s, (size_t)(eq - s));
	const char *e = eq + 1, *end = s + len;
	const char *colon = memchr(e, ':', (size_t)(end - e));
	out->err = errno_by_name(e, (size_t)((colon ? colon : end) - e));
	out->after = 0;
	if (colon) {
		char *stop;
		unsigned long n = strtoul(colon + 1, &stop, 10);
		if (stop != end || stop == colon + 1 || n > 1000000000ul)
			return -EINVAL;
		out->after = (unsigned)n;
	}
	return (*call < 0 || !out->err) ? -EINVAL : 0;
}

int fw_sys_faults_parse(const char *spec)
{
	struct fault parsed[FW_SYS_CALLS] = { { 0, 0 } };

	while (*spec) {
		size_t len = strcspn(spec, ",");
		struct fault f;
		int call;
		if (parse_item(spec, len, &f, &call) < 0)
			return -EINVAL;
		parsed[call] = f;
		spec += len + (spec[len] == ',');
	}
	memcpy(faults, parsed, sizeof(faults));
	return 0;
}

/*
 * The kernel's watch limit only refuses new watches: re-adding a watch to
 * an inode that has one just returns its descriptor.  So an injected
 * failure applies only when the call would create a watch, which
 * IN_MASK_CREATE tells us (EEXIST: the inode is watched already).
 */
static int add_watch_would_create(int fd, const char *path, uint32_t mask)
{
	/* IN_MASK_ADD with IN_MASK_CREATE is EINVAL */
	int wd = inotify_add_watch(
		fd, path, (mask & ~(uint32_t)IN_MASK_ADD) | IN_MASK_CREATE);
	if (wd < 0)
		return errno != EEXIST;
	inotify_rm_watch(fd, wd); /* its IN_IGNORED names an unknown wd */
	return 1;
}

int fw_sys_inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	struct fault *f = &faults[FW_SYS_INOTIFY_ADD_WATCH];
	if (f->err && !add_watch_would_create(fd, path, mask))
		return inotify_add_watch(fd, path, mask);
	if (fault_fires(FW_SYS_INOTIFY_ADD_WATCH))
		return -1;
	return inotify_add_watch(fd, path, mask);
}

int fw_sys_ftruncate(int fd, off_t len)
{
	if (fault_fires(FW_SYS_FTRUNCATE))
		return -1;
	return ftruncate(fd, len);
}

int fw_sys_fallocate(int fd, off_t len)
{
	if (fault_fires(FW_SYS_FALLOCATE))
		return -1;
	int err = posix_fallocate(fd, 0, len);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

void *fw_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	if (fault_fires(FW_SYS_MMAP))
		return MAP_FAILED;
	return mmap(addr, len, prot, flags, fd, off);
}

int fw_sys_shm_open(const char *name, int oflag, mode_t mode)
{
	if (fault_fires(FW_SYS_SHM_OPEN))
		return -1;
	return shm_open(name, oflag, mode);
}

int fw_sys_stat(const char *path, struct stat *st)
{
	if (fault_fires(FW_SYS_STAT))
		return -1;
	return stat(path, st);
}

int fw_sys_set_robust_list(void *head, size_t len)
{
	if (fault_fires(FW_SYS_SET_ROBUST_LIST))
		return -1;
	return (int)syscall(SYS_set_robust_list, head, len);
}

uint64_t fw_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
