/*
 * test_preload.c - the LD_PRELOAD shim (preload/preload.c) against the
 * real system calls.
 *
 * This program links preload.c itself, so its stat, stat64, fstatat...
 * are the shim's, as they are in a program run with LD_PRELOAD, and a
 * sanitized build checks the shim without preloading a library into a
 * sanitized program.  Every interposed entry point is called on paths
 * under the served prefix and outside it, a missing file, a symlink, a
 * file used as a directory, a relative and a non-canonical spelling, with
 * AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH and statx with extra mask bits, and
 * each answer is compared with syscall(2) of the same request (never the
 * shim).  fsc_preload_served() tells which calls the cache answered:
 * the test requires the cache to answer exactly the ones it may.  Then
 * the same from a forked child and from threads, and with no writer.
 * The writer is started on a unique name; sync is the only barrier.
 */
#include "harness.h"
#include "itest.h"
#include "preload.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
int __xstat(int ver, const char *path, struct stat *buf);
int __xstat64(int ver, const char *path, struct stat64 *buf);
int __fxstatat(int ver, int fd, const char *path, struct stat *buf, int flags);
int __fxstatat64(int ver, int fd, const char *path, struct stat64 *buf,
		 int flags);
#endif

static char served[PATH_MAX]; /* the served prefix (canonical) */
static char other[PATH_MAX];  /* a cached directory outside it */

static void set_up(void)
{
	itest_setup();
	char dir[PATH_MAX];
	cr_assert_not_null(realpath(P(""), dir));
	cr_assert_lt(strlen(dir), PATH_MAX - 16);
	snprintf(served, sizeof(served), "%.4000s/served", dir);
	snprintf(other, sizeof(other), "%.4000s/other", dir);
	cr_assert_eq(mkdir(served, 0755), 0);
	cr_assert_eq(mkdir(other, 0755), 0);
}

static void tear_down(void)
{
	unsetenv("FSTATCACHE_PRELOAD_PREFIXES");
	fsc_preload_reinit(); /* closes the shim's handle */
	if (H)
		stop();
	itest_teardown();
}

TestSuite(preload, .init = set_up, .fini = tear_down, .timeout = 240);

static const char *in(const char *dir, const char *rel)
{
	static char buf[8][2 * PATH_MAX];
	static unsigned n;
	char *b = buf[n++ % 8];
	snprintf(b, sizeof(buf[0]), "%s/%s", dir, rel);
	return b;
}

/* Files, a symlink, a missing path; the writer watches them; the shim
 * serves `served`. */
static void start_served(void)
{
	fsct_write(in(served, "a.log"), "a\n", 0);
	fsct_write(in(served, "b.log"), "bb\n", 0);
	fsct_write(in(other, "c.log"), "ccc\n", 0);
	cr_assert_eq(symlink("a.log", in(served, "link")), 0);
	const char *extra[] = { in(served, "a.log"),
				in(served, "b.log"),
				in(served, "link"),
				in(served, "missing"),
				in(served, "a.log/x"),
				in(other, "c.log"),
				served,
				NULL };
	start(extra);
	fsct_sync(H);
	cr_assert_eq(setenv("FSTATCACHE_PRELOAD_PREFIXES", served, 1), 0);
	cr_assert_eq(setenv("FSTATCACHE_NAME", W.name, 1), 0);
	fsc_preload_reinit();
}

/* ---- the real calls --------------------------------------------------- */

static int sys_fstatat(int fd, const char *path, struct stat *st, int flags)
{
	return (int)syscall(SYS_newfstatat, fd, path, st, flags);
}

static int sys_statx(int fd, const char *path, int flags, unsigned mask,
		     struct statx *sx)
{
	return (int)syscall(SYS_statx, fd, path, flags, mask, sx);
}

/* ---- comparing -------------------------------------------------------- */

struct outcome {
	int r, err;
};

static void same_stat(const char *what, const char *path, struct outcome got,
		      const struct stat *g, struct outcome want,
		      const struct stat *w)
{
	cr_assert_eq(got.r, want.r, "%s(%s) returned %d, the system call %d",
		     what, path, got.r, want.r);
	if (want.r < 0) {
		cr_assert_eq(got.err, want.err, "%s(%s): errno %s, want %s",
			     what, path, strerror(got.err), strerror(want.err));
		return;
	}
	/* The whole structure: padding is 0 in both. */
	cr_assert_eq(memcmp(g, w, sizeof(*g)), 0,
		     "%s(%s) differs from the system call (ino %llu/%llu, "
		     "size %lld/%lld, atime %lld/%lld, blksize %ld/%ld)",
		     what, path, (unsigned long long)g->st_ino,
		     (unsigned long long)w->st_ino, (long long)g->st_size,
		     (long long)w->st_size, (long long)g->st_atim.tv_sec,
		     (long long)w->st_atim.tv_sec, (long)g->st_blksize,
		     (long)w->st_blksize);
}

/* The basic fields; the kernel may add btime, mnt_id and attributes. */
static void same_statx(const char *what, const char *path, struct outcome got,
		       const struct statx *g, struct outcome want,
		       const struct statx *w, int cached)
{
	cr_assert_eq(got.r, want.r, "%s(%s) returned %d, the system call %d",
		     what, path, got.r, want.r);
	if (want.r < 0) {
		cr_assert_eq(got.err, want.err, "%s(%s): errno %s, want %s",
			     what, path, strerror(got.err), strerror(want.err));
		return;
	}
	if (!cached) { /* the real call: everything alike */
		cr_assert_eq(memcmp(g, w, sizeof(*g)), 0,
			     "%s(%s) differs from the system call", what, path);
		return;
	}
	cr_assert_eq(g->stx_mask, STATX_BASIC_STATS);
	cr_assert_eq(w->stx_mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
#define SAME(f) \
	cr_assert_eq((long long)g->f, (long long)w->f, \
		     "%s(%s): " #f " %lld, the system call says %lld", what, \
		     path, (long long)g->f, (long long)w->f)
	SAME(stx_blksize);
	SAME(stx_nlink);
	SAME(stx_uid);
	SAME(stx_gid);
	SAME(stx_mode);
	SAME(stx_ino);
	SAME(stx_size);
	SAME(stx_blocks);
	SAME(stx_atime.tv_sec);
	SAME(stx_atime.tv_nsec);
	SAME(stx_mtime.tv_sec);
	SAME(stx_mtime.tv_nsec);
	SAME(stx_ctime.tv_sec);
	SAME(stx_ctime.tv_nsec);
	SAME(stx_rdev_major);
	SAME(stx_rdev_minor);
	SAME(stx_dev_major);
	SAME(stx_dev_minor);
#undef SAME
	cr_assert_eq(g->stx_attributes_mask, 0);
	cr_assert_eq(g->stx_btime.tv_sec, 0);
}

#define OUTCOME(call) \
	({ \
		errno = 0; \
		int r_ = (call); \
		(struct outcome){ r_, r_ < 0 ? errno : 0 }; \
	})

/*
 * Every entry point on `path` (absolute, or relative to `dirfd`'s
 * directory with `rel`), compared with the system call.  `cache`: the
 * calls that follow symlinks must be answered by the cache; else none
 * may be.  Returns nothing: asserts.
 */
static void check_path(const char *path, int cache)
{
	struct stat g, w;
	struct stat64 g64;
	struct statx gx, wx;
	unsigned long before = fsc_preload_served();
	unsigned long follow = 0; /* calls the cache may answer */

	memset(&w, 0, sizeof(w));
	struct outcome want = OUTCOME(sys_fstatat(AT_FDCWD, path, &w, 0));
	struct stat wl;
	memset(&wl, 0, sizeof(wl));
	struct outcome want_l =
		OUTCOME(sys_fstatat(AT_FDCWD, path, &wl, AT_SYMLINK_NOFOLLOW));

	memset(&g, 0xa5, sizeof(g));
	same_stat("stat", path, OUTCOME(stat(path, &g)), &g, want, &w);
	follow++;
	memset(&g64, 0xa5, sizeof(g64));
	struct outcome o = OUTCOME(stat64(path, &g64));
	same_stat("stat64", path, o, (struct stat *)(void *)&g64, want, &w);
	follow++;
	memset(&g, 0xa5, sizeof(g));
	same_stat("fstatat", path, OUTCOME(fstatat(AT_FDCWD, path, &g, 0)), &g,
		  want, &w);
	follow++;
	memset(&g, 0xa5, sizeof(g));
	same_stat("fstatat(AT_NO_AUTOMOUNT)", path,
		  OUTCOME(fstatat(AT_FDCWD, path, &g, AT_NO_AUTOMOUNT)), &g,
		  want, &w);
	follow++;
	memset(&g64, 0xa5, sizeof(g64));
	o = OUTCOME(fstatat64(AT_FDCWD, path, &g64, 0));
	same_stat("fstatat64", path, o, (struct stat *)(void *)&g64, want, &w);
	follow++;
#if defined(__x86_64__)
	memset(&g, 0xa5, sizeof(g));
	same_stat("__xstat", path, OUTCOME(__xstat(1, path, &g)), &g, want, &w);
	follow++;
	memset(&g64, 0xa5, sizeof(g64));
	o = OUTCOME(__xstat64(1, path, &g64));
	same_stat("__xstat64", path, o, (struct stat *)(void *)&g64, want, &w);
	follow++;
	memset(&g, 0xa5, sizeof(g));
	same_stat("__fxstatat", path,
		  OUTCOME(__fxstatat(1, AT_FDCWD, path, &g, 0)), &g, want, &w);
	follow++;
	memset(&g64, 0xa5, sizeof(g64));
	o = OUTCOME(__fxstatat64(1, AT_FDCWD, path, &g64, 0));
	same_stat("__fxstatat64", path, o, (struct stat *)(void *)&g64, want,
		  &w);
	follow++;
	memset(&g, 0xa5, sizeof(g));
	same_stat(
		"__fxstatat(NOFOLLOW)", path,
		OUTCOME(__fxstatat(1, AT_FDCWD, path, &g, AT_SYMLINK_NOFOLLOW)),
		&g, want_l, &wl);
#endif
	/* Not answered by the cache: lstat, no-follow, statx beyond basic. */
	memset(&g, 0xa5, sizeof(g));
	same_stat("lstat", path, OUTCOME(lstat(path, &g)), &g, want_l, &wl);
	memset(&g, 0xa5, sizeof(g));
	same_stat("fstatat(AT_SYMLINK_NOFOLLOW)", path,
		  OUTCOME(fstatat(AT_FDCWD, path, &g, AT_SYMLINK_NOFOLLOW)), &g,
		  want_l, &wl);

	memset(&wx, 0, sizeof(wx));
	struct outcome wantx =
		OUTCOME(sys_statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &wx));
	memset(&gx, 0xa5, sizeof(gx));
	o = OUTCOME(statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &gx));
	same_statx("statx", path, o, &gx, wantx, &wx, cache);
	follow++;
	unsigned long after_basic = fsc_preload_served();

	memset(&wx, 0, sizeof(wx));
	wantx = OUTCOME(sys_statx(AT_FDCWD, path, 0,
				  STATX_BASIC_STATS | STATX_BTIME, &wx));
	memset(&gx, 0xa5, sizeof(gx));
	o = OUTCOME(
		statx(AT_FDCWD, path, 0, STATX_BASIC_STATS | STATX_BTIME, &gx));
	same_statx("statx(BTIME)", path, o, &gx, wantx, &wx, 0);
	memset(&wx, 0, sizeof(wx));
	wantx = OUTCOME(sys_statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW,
				  STATX_BASIC_STATS, &wx));
	memset(&gx, 0xa5, sizeof(gx));
	o = OUTCOME(statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW,
			  STATX_BASIC_STATS, &gx));
	same_statx("statx(NOFOLLOW)", path, o, &gx, wantx, &wx, 0);
	cr_assert_eq(fsc_preload_served(), after_basic,
		     "%s: a call that must not be cached was", path);

	unsigned long n = fsc_preload_served() - before;
	cr_assert_eq(n, cache ? follow : 0,
		     "%s: %lu calls answered from the cache, want %lu", path, n,
		     cache ? follow : 0);
}

/* Relative paths, AT_EMPTY_PATH: the real call, always. */
static void check_relative(const char *dir, const char *rel)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	unsigned long before = fsc_preload_served();
	struct stat g, w;
	memset(&w, 0, sizeof(w));
	struct outcome want = OUTCOME(sys_fstatat(fd, rel, &w, 0));
	memset(&g, 0xa5, sizeof(g));
	same_stat("fstatat(dirfd)", rel, OUTCOME(fstatat(fd, rel, &g, 0)), &g,
		  want, &w);
	memset(&w, 0, sizeof(w));
	want = OUTCOME(sys_fstatat(fd, "", &w, AT_EMPTY_PATH));
	memset(&g, 0xa5, sizeof(g));
	same_stat("fstatat(AT_EMPTY_PATH)", dir,
		  OUTCOME(fstatat(fd, "", &g, AT_EMPTY_PATH)), &g, want, &w);
	char cwd[PATH_MAX];
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(fchdir(fd), 0);
	memset(&w, 0, sizeof(w));
	want = OUTCOME(sys_fstatat(AT_FDCWD, rel, &w, 0));
	memset(&g, 0xa5, sizeof(g));
	same_stat("stat(relative)", rel, OUTCOME(stat(rel, &g)), &g, want, &w);
	cr_assert_eq(chdir(cwd), 0);
	close(fd);
	cr_assert_eq(fsc_preload_served(), before);
}

/* ---- tests ------------------------------------------------------------ */

Test(preload, every_entry_point_against_the_system_call)
{
	start_served();
	check_path(in(served, "a.log"), 1);
	check_path(in(served, "b.log"), 1);
	check_path(in(served, "link"), 1);    /* followed: the target's */
	check_path(served, 1);                /* the prefix itself */
	check_path(in(served, "missing"), 0); /* cached "does not exist" */
	check_path(in(served, "a.log/x"), 0); /* ENOTDIR stays ENOTDIR */
	check_path(in(served, "unwatched"), 0);
	check_path(in(other, "c.log"), 0); /* cached, outside the prefix */
	char odd[2 * PATH_MAX];
	snprintf(odd, sizeof(odd), "%s//a.log", served);
	check_path(odd, 0); /* not canonical */
	snprintf(odd, sizeof(odd), "%s/./a.log", served);
	check_path(odd, 0);
	snprintf(odd, sizeof(odd), "%s/../served/a.log", served);
	check_path(odd, 0);
	check_relative(served, "a.log");
	/* After a change and the barrier, the new answer. */
	fsct_write(in(served, "a.log"), "more\n", 1);
	fsct_sync(H);
	check_path(in(served, "a.log"), 1);
	stop();
}

Test(preload, nothing_served_without_prefixes)
{
	start_served();
	unsetenv("FSTATCACHE_PRELOAD_PREFIXES");
	fsc_preload_reinit();
	check_path(in(served, "a.log"), 0);
	cr_assert_eq(setenv("FSTATCACHE_PRELOAD_PREFIXES", other, 1), 0);
	fsc_preload_reinit();
	check_path(in(served, "a.log"), 0);
	check_path(in(other, "c.log"), 1);
	stop();
}

Test(preload, no_writer_calls_through)
{
	start_served();
	check_path(in(served, "a.log"), 1);
	fsc_close(H);
	H = NULL;
	fsct_writer_stop(&W);
	check_path(in(served, "a.log"), 0);
}

Test(preload, forked_child)
{
	start_served();
	check_path(in(served, "a.log"), 1);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Criterion's asserts abort the child: a non-zero status. */
		check_path(in(served, "a.log"), 1);
		check_path(in(other, "c.log"), 0);
		_exit(0);
	}
	cr_assert_eq(fsct_child_status(pid), 0, "the child failed");
	check_path(in(served, "b.log"), 1);
	stop();
}

#define THREADS 4
#define ROUNDS 2000

struct stat_job {
	char path[2 * PATH_MAX];
	unsigned long served; /* calls the cache answered in the thread */
};

static void *stat_a_lot(void *arg)
{
	struct stat_job *job = arg;
	struct stat w;
	if (sys_fstatat(AT_FDCWD, job->path, &w, 0) < 0)
		return (void *)1;
	unsigned long before = fsc_preload_served();
	for (int i = 0; i < ROUNDS; i++) {
		struct stat g;
		if (stat(job->path, &g) < 0 || memcmp(&g, &w, sizeof(g)) != 0)
			return (void *)1;
	}
	job->served = fsc_preload_served() - before;
	return NULL;
}

Test(preload, threads)
{
	start_served();
	const char *paths[THREADS] = { in(served, "a.log"), in(served, "b.log"),
				       in(served, "link"), in(other, "c.log") };
	static struct stat_job jobs[THREADS];
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		snprintf(jobs[i].path, sizeof(jobs[i].path), "%s", paths[i]);
		jobs[i].served = 0;
		cr_assert_eq(pthread_create(&t[i], NULL, stat_a_lot, &jobs[i]),
			     0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *bad = NULL;
		cr_assert_eq(pthread_join(t[i], &bad), 0);
		cr_assert_null(bad, "thread %d saw an answer unlike stat(2)",
			       i);
		/* The last path is outside the prefix. */
		cr_assert_eq(jobs[i].served, i < THREADS - 1 ? ROUNDS : 0,
			     "thread %d: %lu answers from the cache", i,
			     jobs[i].served);
	}
	stop();
}
