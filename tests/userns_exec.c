/*
 * userns_exec.c - run a program in a user namespace of its own whose
 * inotify watch and fanotify mark limits are lowered, for test_limits.c:
 *
 *     FSCT_USERNS_WATCHES=N FSCT_USERNS_PROGRAM=/path/prog \
 *         userns_exec ARGV0 ARGS...
 *
 * maps the caller's uid and gid to themselves, writes N to the new
 * namespace's /proc/sys/user/max_inotify_watches and, where the kernel
 * has it, max_fanotify_marks (per-namespace limits) and execs the program.  It never writes fs.inotify.* (system-wide, and
 * root inside a user namespace may): it first checks that it really is
 * in a new namespace.  Exit 77 when user namespaces are unavailable, 78
 * on any other setup failure.  `userns_exec --probe` only checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void fail(int code, const char *what)
{
	fprintf(stderr, "userns_exec: %s: %s\n", what, strerror(errno));
	exit(code);
}

int main(int argc, char **argv)
{
	char before[64] = "", after[64] = "", map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (readlink("/proc/self/ns/user", before, sizeof(before) - 1) < 0)
		fail(78, "readlink");
	if (unshare(CLONE_NEWUSER) < 0)
		fail(77, "unshare(CLONE_NEWUSER)");
	if (readlink("/proc/self/ns/user", after, sizeof(after) - 1) < 0 ||
	    !strcmp(before, after))
		fail(78, "not in a new user namespace");
	if (write_file("/proc/self/setgroups", "deny") < 0)
		fail(78, "setgroups");
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		fail(78, "uid_map");
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		fail(78, "gid_map");
	const char *limit = getenv("FSCT_USERNS_WATCHES");
	if (limit && *limit &&
	    write_file("/proc/sys/user/max_inotify_watches", limit) < 0)
		fail(77, "/proc/sys/user/max_inotify_watches");
	if (limit && *limit &&
	    access("/proc/sys/user/max_fanotify_marks", F_OK) == 0 &&
	    write_file("/proc/sys/user/max_fanotify_marks", limit) < 0)
		fail(77, "/proc/sys/user/max_fanotify_marks");
	if (argc > 1 && !strcmp(argv[1], "--probe"))
		return 0;
	const char *prog = getenv("FSCT_USERNS_PROGRAM");
	if (!prog || !*prog || argc < 1)
		fail(78, "FSCT_USERNS_PROGRAM unset");
	execv(prog, argv);
	fail(78, prog);
	return 78;
}
