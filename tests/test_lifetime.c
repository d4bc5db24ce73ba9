/*
 * test_lifetime.c - writer death, restart and clean stop; readers killed.
 *
 * The contract under test (DESIGN.md, "Lifetime"):
 *   - a writer killed in any way is noticed by readers at once (the kernel
 *     marks the robust-futex liveness word): lookups stop hitting and
 *     fsc_stat() answers from stat(2), correctly even as files change;
 *   - a restarted writer keeps the watched paths, re-validates them, and
 *     running readers re-attach by themselves, also while other threads
 *     share the handle;
 *   - SIGTERM/SIGINT: exit 0, nothing left behind;
 *   - a reader killed at any point disturbs nobody.
 * Ordering comes from the harness (READY, waitpid) and the sync barrier;
 * counts, never times, decide when something is killed.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MS 60000 /* hang guard for every wait */

static struct fsct_writer W;
static fsc_handle *H;

/* Processes and threads a test started, stopped by the fixture on failure. */
static pid_t kids[64];
static int nkids;
static pthread_t threads[8];
static int nthreads;
static int threads_done;

static void setup(void)
{
	nkids = 0;
	nthreads = 0;
	threads_done = 0;
	fsct_fixture_init(&W, &H);
}

static void teardown(void)
{
	uatomic_set(&threads_done, 1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
	for (int i = 0; i < nkids; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	nkids = 0;
	fsct_fixture_fini(&W, &H);
}

TestSuite(lifetime, .init = setup, .fini = teardown, .timeout = 240);

#define P(rel) fsct_path(&W, rel)
#define PATH(var, rel) \
	char var[PATH_MAX]; \
	snprintf(var, sizeof(var), "%s", P(rel))

/* ---- helpers ------------------------------------------------------------- */

static void start(const char *const *extra)
{
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
}

static void watch_at(fsc_handle *h, const char *path, const char *file,
		     int line)
{
	char msg[FSC_REPLY_MSG_MAX + 1];
	int r = fsc_control(h, FSC_OP_WATCH, path, GUARD_MS, msg, sizeof(msg));
	cr_assert_eq(r, 0, "%s:%d: watch %s: %s (%d) %s", file, line, path,
		     fsc_strerror(r), r, msg);
}
#define watch(p) watch_at(H, (p), __FILE__, __LINE__)

/* 1 when an answer equals a stat(2) result on every field we keep. */
static int same_as(const struct fsc_stat *c, const struct stat *st)
{
	return c->exists && c->dev == (uint64_t)st->st_dev &&
	       c->ino == (uint64_t)st->st_ino && c->mode == st->st_mode &&
	       c->nlink == (uint64_t)st->st_nlink && c->uid == st->st_uid &&
	       c->gid == st->st_gid && c->size == st->st_size &&
	       /* not blocks: writeback changes it with no event */
	       c->mtime_sec == st->st_mtim.tv_sec &&
	       c->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
	       c->ctime_sec == st->st_ctim.tv_sec &&
	       c->ctime_nsec == (uint32_t)st->st_ctim.tv_nsec;
}

/* An answer (of any source) equals stat(2) of `path` now. */
static void assert_equals_stat_at(const struct fsc_stat *c, const char *path,
				  const char *file, int line)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		cr_assert(errno == ENOENT || errno == ENOTDIR,
			  "%s:%d: stat(%s): %s", file, line, path,
			  strerror(errno));
		cr_assert_eq(c->exists, 0,
			     "%s:%d: %s is gone, answer says it "
			     "exists (source %d)",
			     file, line, path, c->source);
		return;
	}
	cr_assert(same_as(c, &st),
		  "%s:%d: %s: answer (source %d, exists %d, ino %llu, size "
		  "%lld, mode %o, ctime %lld.%09u) != stat (ino %llu, size "
		  "%lld, mode %o, ctime %lld.%09ld)",
		  file, line, path, c->source, c->exists,
		  (unsigned long long)c->ino, (long long)c->size, c->mode,
		  (long long)c->ctime_sec, c->ctime_nsec,
		  (unsigned long long)st.st_ino, (long long)st.st_size,
		  st.st_mode, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

/* A cache hit equal to stat(2). */
static void assert_fresh_at(fsc_handle *h, const char *path, const char *file,
			    int line)
{
	struct fsc_stat c;
	int r = fsc_lookup(h, path, &c);
	cr_assert_eq(r, 0, "%s:%d: fsc_lookup(%s) = %d (%s), want a hit", file,
		     line, path, r, fsc_strerror(r));
	cr_assert_eq(c.source, FSC_SOURCE_CACHE);
	assert_equals_stat_at(&c, path, file, line);
}
#define assert_fresh(p) assert_fresh_at(H, (p), __FILE__, __LINE__)

/* The cache declines (no live writer) and fsc_stat() answers by stat(). */
static void assert_fallback_at(fsc_handle *h, const char *path,
			       const char *file, int line)
{
	struct fsc_stat c;
	int r = fsc_lookup(h, path, &c);
	cr_assert_eq(r, FSC_UNCACHED,
		     "%s:%d: fsc_lookup(%s) = %d (%s) with "
		     "no live writer, want FSC_UNCACHED",
		     file, line, path, r, fsc_strerror(r));
	r = fsc_stat(h, path, &c);
	cr_assert_eq(r, 0, "%s:%d: fsc_stat(%s) = %d (%s)", file, line, path, r,
		     fsc_strerror(r));
	cr_assert_eq(c.source, FSC_SOURCE_STAT, "%s:%d: %s: source %d", file,
		     line, path, c.source);
	assert_equals_stat_at(&c, path, file, line);
}
#define assert_fallback(p) assert_fallback_at(H, (p), __FILE__, __LINE__)

static void assert_killed(int st, int sig)
{
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == sig,
		  "writer wait status 0x%x, want death by signal %d", st, sig);
}

/* The writer process is still running (not exited, not reaped). */
static void assert_writer_alive(void)
{
	cr_assert(W.pid > 0);
	int st;
	pid_t r = waitpid(W.pid, &st, WNOHANG);
	cr_assert_eq(r, 0, "the writer died (wait status 0x%x)", st);
}

static void make_files(char paths[][PATH_MAX], int n, const char *fmt)
{
	for (int i = 0; i < n; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), fmt, i);
		snprintf(paths[i], PATH_MAX, "%s", P(rel));
		fsct_write(paths[i], "initial line\n", 0);
	}
}

/* ---- writer killed ------------------------------------------------------ */

Test(lifetime, sigkill_readers_fall_back_at_once)
{
	start(NULL);
	PATH(f, "f.log");
	PATH(gone, "gone.log");
	fsct_write(f, "before\n", 0);
	fsct_write(gone, "doomed\n", 0);
	watch(f);
	watch(gone);
	assert_fresh(f);
	assert_fresh(gone);

	assert_killed(fsct_writer_kill(&W, SIGKILL), SIGKILL);
	assert_fallback(f); /* the very first lookup: never a hit */
	assert_fallback(gone);
	cr_assert_eq(fsc_attached(H), 0);

	/* Changes the dead writer cannot see are still answered right. */
	fsct_write(f, "after\n", 1);
	cr_assert_eq(unlink(gone), 0);
	assert_fallback(f);
	assert_fallback(gone);
	cr_assert_eq(chmod(f, 0600), 0);
	assert_fallback(f);

	/* Control requests fail cleanly; new handles behave alike. */
	char msg[FSC_REPLY_MSG_MAX + 1];
	int r = fsc_control(H, FSC_OP_SYNC, NULL, GUARD_MS, msg, sizeof(msg));
	cr_assert_eq(r, -ENOTCONN, "sync with a dead writer: %d (%s)", r,
		     fsc_strerror(r));
	fsc_handle *h2 = NULL;
	r = fsc_open(&h2, W.name, FSC_OPEN_ATTACHED);
	cr_assert_lt(r, 0, "FSC_OPEN_ATTACHED succeeded with a dead writer");
	cr_assert_null(h2);
	cr_assert_eq(fsc_open(&h2, W.name, 0), 0);
	assert_fallback_at(h2, f, __FILE__, __LINE__);
	fsc_close(h2);
}

Test(lifetime, sigkill_in_the_middle_of_a_burst)
{
	enum {
		N = 32
	};
	static char paths[N][PATH_MAX];
	start(NULL);
	make_files(paths, N, "burst%02d.log");
	for (int i = 0; i < N; i++)
		watch(paths[i]);
	fsct_sync(H);
	/* Give the writer a queue of events to be busy with, then kill it. */
	for (int k = 0; k < 2000; k++)
		fsct_write(paths[k % N], "a burst line of some length\n", 1);
	assert_killed(fsct_writer_kill(&W, SIGKILL), SIGKILL);
	for (int i = 0; i < N; i++)
		assert_fallback(paths[i]);

	fsct_writer_restart(&W);
	fsct_sync(H);
	for (int i = 0; i < N; i++)
		assert_fresh(paths[i]);
	fsct_writer_stop(&W);
}

/* ---- restart --------------------------------------------------------------- */

Test(lifetime, restart_keeps_watches_and_revalidates)
{
	start(NULL);
	PATH(a, "a.log");         /* appended while down */
	PATH(b, "b.log");         /* created while down */
	PATH(c, "c.log");         /* deleted while down */
	PATH(d, "d.log");         /* replaced (new inode) while down */
	PATH(e, "sub/e.log");     /* its directory removed while down */
	PATH(u, "untouched.log"); /* unchanged */
	cr_assert_eq(mkdir(P("sub"), 0755), 0);
	fsct_write(a, "a\n", 0);
	fsct_write(c, "c\n", 0);
	fsct_write(d, "d\n", 0);
	fsct_write(e, "e\n", 0);
	fsct_write(u, "u\n", 0);
	const char *all[] = { a, b, c, d, e, u };
	for (int i = 0; i < 6; i++)
		watch(all[i]);
	for (int i = 0; i < 6; i++)
		assert_fresh(all[i]);

	assert_killed(fsct_writer_kill(&W, SIGKILL), SIGKILL);
	fsct_write(a, "more\n", 1);
	fsct_write(b, "born\n", 0);
	cr_assert_eq(unlink(c), 0);
	PATH(dtmp, "d.tmp");
	fsct_write(dtmp, "new d\n", 0);
	cr_assert_eq(rename(dtmp, d), 0);
	cr_assert_eq(unlink(e), 0);
	cr_assert_eq(rmdir(P("sub")), 0);
	for (int i = 0; i < 6; i++)
		assert_fallback(all[i]);

	fsct_writer_restart(&W);
	/* The same handle, never re-opened, and nobody re-watches. */
	fsct_sync(H);
	for (int i = 0; i < 6; i++)
		assert_fresh(all[i]);

	/* And the restarted writer follows changes again. */
	fsct_write(a, "after restart\n", 1);
	cr_assert_eq(mkdir(P("sub"), 0755), 0);
	fsct_write(e, "e is back\n", 0);
	fsct_sync(H);
	assert_fresh(a);
	assert_fresh(e);
	fsct_writer_stop(&W);
}

Test(lifetime, restart_twice_same_handle)
{
	start(NULL);
	PATH(f, "f.log");
	fsct_write(f, "0\n", 0);
	watch(f);
	for (int round = 1; round <= 3; round++) {
		assert_killed(fsct_writer_kill(&W, SIGKILL), SIGKILL);
		assert_fallback(f);
		fsct_write(f, "while down\n", 1);
		fsct_writer_restart(&W);
		fsct_sync(H);
		assert_fresh(f);
		fsct_write(f, "while up\n", 1);
		fsct_sync(H);
		assert_fresh(f);
	}
	/* A handle opened now sees the same. */
	fsc_handle *h2 = fsct_open(&W);
	assert_fresh_at(h2, f, __FILE__, __LINE__);
	fsc_close(h2);
	fsct_writer_stop(&W);
}

Test(lifetime, restart_with_command_line_paths)
{
	fsct_write(P("cl.log"), "cl\n", 0);
	PATH(f, "cl.log");
	PATH(g, "learned.log");
	fsct_write(g, "g\n", 0);
	const char *extra[] = { f, NULL };
	start(extra);
	watch(g);
	fsct_sync(H);
	assert_fresh(f);
	assert_fresh(g);
	assert_killed(fsct_writer_kill(&W, SIGKILL), SIGKILL);
	fsct_write(f, "+\n", 1);
	fsct_write(g, "+\n", 1);
	fsct_writer_restart(&W);
	fsct_sync(H);
	assert_fresh(f);
	assert_fresh(g); /* learned at run time, kept across the restart */
	fsct_writer_stop(&W);
}

/* ---- clean stop ----------------------------------------------------------- */

static void clean_stop_case(int sig)
{
	start(NULL);
	PATH(f, "f.log");
	fsct_write(f, "f\n", 0);
	watch(f);
	assert_fresh(f);
	if (sig == SIGTERM) {
		fsct_writer_stop(&W); /* exit 0, no segment, no socket */
	} else {
		int st = fsct_writer_kill(&W, sig);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "wait status 0x%x after signal %d, want exit 0", st,
			  sig);
		char shm[FSC_NAME_MAX + 32];
		snprintf(shm, sizeof(shm), "/fstatcache.%s", W.name);
		cr_assert_lt(shm_open(shm, O_RDONLY, 0), 0, "%s left", shm);
		cr_assert_eq(access(W.socket, F_OK), -1, "socket left");
	}
	/* The handle opened across the stop falls back. */
	assert_fallback(f);
	fsct_write(f, "after the stop\n", 1);
	assert_fallback(f);
	cr_assert_eq(fsc_attached(H), 0);
}

Test(lifetime, sigterm_clean_exit_and_fallback)
{
	clean_stop_case(SIGTERM);
}

Test(lifetime, sigint_clean_exit_and_fallback)
{
	clean_stop_case(SIGINT);
}

Test(lifetime, new_writer_after_clean_stop_same_handle)
{
	clean_stop_case(SIGTERM);
	PATH(f, "f.log");
	fsct_writer_restart(&W);
	/*
	 * A clean stop retires the segment with no successor, so the handle
	 * re-tries at its rate limit (FSC_REATTACH_INTERVAL_MS): wait for the
	 * attach itself, not for a time (the deadline is only a hang guard).
	 */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!fsc_attached(H)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		cr_assert_lt(t.tv_sec - t0.tv_sec, GUARD_MS / 1000,
			     "the handle never re-attached to the new writer");
		sched_yield();
	}
	fsct_sync(H);
	struct fsc_stat c;
	cr_assert_eq(fsc_stat(H, f, &c), 0);
	fsct_sync(H);
	assert_fresh(f);
	fsct_writer_stop(&W);
}

/* ---- readers killed at any point ----------------------------------------- */

enum kid_mode {
	KID_LOOKUP_INHERITED, /* the parent's handle, across fork() */
	KID_LOOKUP_OWN,       /* a handle of its own */
	KID_STAT_MISSES,      /* fsc_stat() of unwatched paths: miss requests */
	KID_SYNC,             /* control requests, killed awaiting replies */
	KID_OPEN_CLOSE,       /* killed while attaching or detaching */
	KID_MODES_
};

#define KID_LIMIT 5000000L /* iterations after the signal: never reached */

struct kid_files {
	int n;
	char (*paths)[PATH_MAX];
	struct stat *expect;
};

static int kid_check_hit(fsc_handle *h, const struct kid_files *kf, long it)
{
	int i = (int)(it % kf->n);
	struct fsc_stat c;
	int r = fsc_lookup(h, kf->paths[i], &c);
	if (r == 0 && !same_as(&c, &kf->expect[i]))
		return 2;
	return r < 0 ? 3 : 0;
}

/* Runs in the child; reports 'R' after `after` iterations; never returns. */
static void kid_main(enum kid_mode mode, long after, int wfd, int id,
		     const struct kid_files *kf)
{
	fsc_handle *h = H;
	if (mode != KID_LOOKUP_INHERITED && mode != KID_OPEN_CLOSE &&
	    fsc_open(&h, W.name, 0) < 0)
		_exit(10);
	char miss[PATH_MAX];
	for (long it = 0; it < after + KID_LIMIT; it++) {
		if (it == after && write(wfd, "R", 1) != 1)
			_exit(11);
		int bad = 0;
		struct fsc_stat c;
		switch (mode) {
		case KID_LOOKUP_INHERITED:
		case KID_LOOKUP_OWN:
			bad = kid_check_hit(h, kf, it);
			break;
		case KID_STAT_MISSES:
			snprintf(miss, sizeof(miss), "%s/kid%d.%ld", W.dir, id,
				 it % 16);
			bad = fsc_stat(h, miss, &c) < 0 ? 4 : 0;
			if (!bad)
				bad = kid_check_hit(h, kf, it);
			break;
		case KID_SYNC:
			bad = fsc_control(h, FSC_OP_SYNC, NULL, GUARD_MS, NULL,
					  0) < 0
				      ? 5
				      : 0;
			break;
		case KID_OPEN_CLOSE:
			if (fsc_open(&h, W.name, 0) < 0)
				_exit(10);
			bad = kid_check_hit(h, kf, it);
			fsc_close(h);
			break;
		default:
			_exit(12);
		}
		if (bad)
			_exit(bad);
	}
	_exit(0);
}

/* Fork a reader, let it run `after` iterations, SIGKILL it, reap it. */
static void run_and_kill_kid(enum kid_mode mode, long after,
			     const struct kid_files *kf)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	int id = nkids;
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		kid_main(mode, after, p[1], id, kf);
	}
	kids[nkids++] = pid;
	close(p[1]);
	struct pollfd pf = { p[0], POLLIN, 0 };
	int r = poll(&pf, 1, GUARD_MS);
	cr_assert_eq(r, 1, "reader (mode %d) gave no sign within %d ms", mode,
		     GUARD_MS);
	char ch = 0;
	ssize_t n = read(p[0], &ch, 1);
	close(p[0]);
	if (n == 1)
		kill(pid, SIGKILL);
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	kids[--nkids] = 0;
	cr_assert(n == 1,
		  "reader (mode %d, after %ld) ended before its "
		  "signal: %s %d",
		  mode, after, WIFEXITED(st) ? "exit" : "signal",
		  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	cr_assert(WIFSIGNALED(st) ? WTERMSIG(st) == SIGKILL
				  : WEXITSTATUS(st) == 0,
		  "reader (mode %d, after %ld): wait status 0x%x (exit 2 = a "
		  "hit differing from stat, 3/4/5 = an error)",
		  mode, after, st);
}

Test(lifetime, readers_killed_at_any_point)
{
	enum {
		N = 8
	};
	static char paths[N][PATH_MAX];
	static struct stat expect[N];
	start(NULL);
	make_files(paths, N, "r%d.log");
	for (int i = 0; i < N; i++)
		watch(paths[i]);
	fsct_sync(H);
	for (int i = 0; i < N; i++) {
		assert_fresh(paths[i]);
		cr_assert_eq(stat(paths[i], &expect[i]), 0);
	}
	struct kid_files kf = { N, paths, expect };
	static const long points[] = { 0, 1, 2, 7, 50, 333, 4000, 25000 };
	for (int m = 0; m < KID_MODES_; m++)
		for (size_t k = 0; k < sizeof(points) / sizeof(points[0]); k++)
			run_and_kill_kid((enum kid_mode)m, points[k], &kf);

	/* Nobody noticed: the writer serves, syncs and follows changes. */
	assert_writer_alive();
	for (int i = 0; i < N; i++)
		fsct_write(paths[i], "after the massacre\n", 1);
	fsct_sync(H);
	for (int i = 0; i < N; i++)
		assert_fresh(paths[i]);
	fsc_handle *h2 = fsct_open(&W);
	fsct_sync(h2);
	for (int i = 0; i < N; i++)
		assert_fresh_at(h2, paths[i], __FILE__, __LINE__);
	fsc_close(h2);
	fsct_writer_stop(&W);
}

/* ---- threads sharing a handle across restarts ------------------------------ */

/*
 * Phases, set by the test thread: kind 0 = writer serving (each reader
 * reports its first hit), kind 1 = writer dead and reaped (hits forbidden;
 * each reader reports its first fallback), kind 2 = restarting (anything
 * goes).  Readers post `progress` once per phase they report.
 */
enum {
	RT_THREADS = 4,
	RT_FILES = 16,
	RT_CYCLES = 4
};

static struct {
	char paths[RT_FILES][PATH_MAX];
	struct stat expect[RT_FILES];
	int phase;
	sem_t progress;
} RT;

struct rt_result {
	long lookups, hits, fallbacks, stats;
	long bad_hits, dead_hits, bad_stats, errors;
	char first_bad[512];
};
static struct rt_result rt_res[RT_THREADS];

static void rt_note(struct rt_result *res, const char *what, int i, int r,
		    const struct fsc_stat *c)
{
	if (res->first_bad[0])
		return;
	snprintf(res->first_bad, sizeof(res->first_bad),
		 "%s: %s r=%d source=%d exists=%d ino=%llu size=%lld "
		 "(want ino %llu size %lld)",
		 what, RT.paths[i], r, c->source, c->exists,
		 (unsigned long long)c->ino, (long long)c->size,
		 (unsigned long long)RT.expect[i].st_ino,
		 (long long)RT.expect[i].st_size);
}

static void *rt_reader(void *arg)
{
	struct rt_result *res = arg;
	int id = (int)(res - rt_res);
	int reported = -1;
	for (long it = 0; !uatomic_read(&threads_done); it++) {
		int phase = uatomic_read(&RT.phase);
		cmm_smp_rmb();
		int kind = phase % 3, i = (int)((it + id * 5) % RT_FILES);
		struct fsc_stat c;
		memset(&c, 0, sizeof(c));
		if (it % 8 == 7) { /* fsc_stat: always right, any source */
			int r = fsc_stat(H, RT.paths[i], &c);
			res->stats++;
			if (r != 0 || !same_as(&c, &RT.expect[i])) {
				res->bad_stats++;
				rt_note(res, "fsc_stat", i, r, &c);
			}
			continue;
		}
		int r = fsc_lookup(H, RT.paths[i], &c);
		cmm_smp_rmb();
		/* Still the same phase: the lookup ran entirely inside it. */
		int same_phase = uatomic_read(&RT.phase) == phase;
		res->lookups++;
		if (r == 0) {
			res->hits++;
			if (!same_as(&c, &RT.expect[i])) {
				res->bad_hits++;
				rt_note(res, "hit differs", i, r, &c);
			}
			if (kind == 1 && same_phase) {
				res->dead_hits++;
				rt_note(res, "hit with a dead writer", i, r,
					&c);
			}
		} else if (r == FSC_UNCACHED || r == FSC_MISS) {
			res->fallbacks++;
		} else {
			res->errors++;
			rt_note(res, "error", i, r, &c);
		}
		int want = kind == 0 ? r == 0 : kind == 1 ? r != 0 : 0;
		if (want && reported != phase) {
			reported = phase;
			sem_post(&RT.progress);
		}
	}
	return NULL;
}

/* Wait until every reader reported the current phase (hang guard). */
static void rt_wait_all(const char *what)
{
	for (int t = 0; t < RT_THREADS; t++) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += GUARD_MS / 1000;
		int r;
		while ((r = sem_timedwait(&RT.progress, &ts)) < 0 &&
		       errno == EINTR)
			;
		if (r < 0) {
			long hits = 0, fb = 0;
			for (int k = 0; k < RT_THREADS; k++) {
				hits += rt_res[k].hits;
				fb += rt_res[k].fallbacks;
			}
			cr_assert_fail("phase %d (%s): only %d of %d readers "
				       "reported within %d ms (hits %ld, "
				       "fallbacks %ld so far)",
				       uatomic_read(&RT.phase), what, t,
				       RT_THREADS, GUARD_MS, hits, fb);
		}
	}
}

static void rt_set_phase(int phase)
{
	cmm_smp_wmb();
	uatomic_set(&RT.phase, phase);
}

/*
 * Readers share H while the writer is killed and restarted RT_CYCLES times.
 * `sync_shared`: 0 = the test thread's barrier goes through a handle of
 * its own, so the readers must re-attach H by themselves; 1 = it goes
 * through H itself, racing the readers' re-attach.
 */
static void rt_run(int sync_shared)
{
	start(NULL);
	for (int i = 0; i < RT_FILES; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "rt%02d.log", i);
		snprintf(RT.paths[i], PATH_MAX, "%s", P(rel));
		fsct_write(RT.paths[i], "constant contents\n", 0);
		watch(RT.paths[i]);
	}
	fsct_sync(H);
	for (int i = 0; i < RT_FILES; i++) {
		assert_fresh(RT.paths[i]);
		cr_assert_eq(stat(RT.paths[i], &RT.expect[i]), 0);
	}
	memset(rt_res, 0, sizeof(rt_res));
	cr_assert_eq(sem_init(&RT.progress, 0, 0), 0);
	rt_set_phase(0);
	for (int t = 0; t < RT_THREADS; t++) {
		cr_assert_eq(pthread_create(&threads[t], NULL, rt_reader,
					    &rt_res[t]),
			     0);
		nthreads++;
	}
	rt_wait_all("first hits");
	for (int cycle = 0; cycle < RT_CYCLES; cycle++) {
		int base = 3 * cycle;
		assert_killed(fsct_writer_kill(&W, SIGKILL), SIGKILL);
		rt_set_phase(base + 1);
		rt_wait_all("writer dead: fallbacks");
		rt_set_phase(base + 2);
		fsct_writer_restart(&W);
		if (sync_shared) {
			char msg[FSC_REPLY_MSG_MAX + 1];
			int r = fsc_control(H, FSC_OP_SYNC, NULL, GUARD_MS, msg,
					    sizeof(msg));
			cr_assert_eq(r, 0,
				     "cycle %d: sync through the handle "
				     "the readers share, writer restarted and "
				     "serving: %d (%s) %s",
				     cycle, r, fsc_strerror(r), msg);
		} else {
			fsc_handle *other = fsct_open(&W);
			fsct_sync(other);
			fsc_close(other);
		}
		rt_set_phase(base + 3);
		rt_wait_all("writer restarted: hits");
	}
	uatomic_set(&threads_done, 1);
	for (int t = 0; t < nthreads; t++)
		pthread_join(threads[t], NULL);
	nthreads = 0;
	sem_destroy(&RT.progress);

	for (int t = 0; t < RT_THREADS; t++) {
		struct rt_result *r = &rt_res[t];
		cr_log_info("reader %d: %ld lookups, %ld hits, %ld fallbacks, "
			    "%ld stats",
			    t, r->lookups, r->hits, r->fallbacks, r->stats);
		cr_expect_eq(r->bad_hits, 0, "reader %d: %ld wrong hits; %s", t,
			     r->bad_hits, r->first_bad);
		cr_expect_eq(r->dead_hits, 0,
			     "reader %d: %ld hits while the "
			     "writer was dead; %s",
			     t, r->dead_hits, r->first_bad);
		cr_expect_eq(r->bad_stats, 0,
			     "reader %d: %ld wrong fsc_stat "
			     "answers; %s",
			     t, r->bad_stats, r->first_bad);
		cr_expect_eq(r->errors, 0, "reader %d: %ld errors; %s", t,
			     r->errors, r->first_bad);
	}
	fsct_sync(H);
	for (int i = 0; i < RT_FILES; i++)
		assert_fresh(RT.paths[i]);
	fsct_writer_stop(&W);
}

Test(lifetime, threads_share_a_handle_across_restarts)
{
	rt_run(0);
}

/*
 * A control request through a handle other threads are re-attaching must
 * not fail with -ENOTCONN while a writer is serving (fsc_control's
 * contract: -ENOTCONN means no live writer).
 */
Test(lifetime, control_on_shared_handle_during_reattach)
{
	rt_run(1);
}
