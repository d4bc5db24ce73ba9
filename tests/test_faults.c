/*
 * test_faults.c - the writer under injected system-call failures
 * (FSTATCACHE_FAULTS, see writer/sys.h): it keeps serving, answers what it
 * cannot watch by stat(), and reports it in the segment's counters.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct fsct_writer W;
static fsc_handle *H;

static void setup(void)
{
	fsct_fixture_init(&W, &H);
}

static void teardown(void)
{
	unsetenv("FSTATCACHE_FAULTS");
	fsct_fixture_fini(&W, &H);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 120);

static void make_dir(const char *rel)
{
	cr_assert_eq(mkdir(fsct_path(&W, rel), 0700), 0);
}

/* The watch limit (ENOSPC from inotify_add_watch) after the first watch. */
Test(faults, watch_limit_answers_by_stat_and_is_reported)
{
	char a[PATH_MAX], b[PATH_MAX];
	make_dir("one");
	make_dir("two");
	snprintf(a, sizeof(a), "%s", fsct_path(&W, "one/a.log"));
	snprintf(b, sizeof(b), "%s", fsct_path(&W, "two/b.log"));
	fsct_write(a, "a\n", 0);
	fsct_write(b, "b\n", 0);
	/* The first path takes its directory's watch and one per directory
	 * above it (one per '/' of the temp dir's path); the next fails. */
	unsigned n = 1;
	for (const char *s = W.dir; *s; s++)
		n += *s == '/';
	char fault[64];
	snprintf(fault, sizeof(fault), "inotify_add_watch=ENOSPC:%u", n);
	setenv("FSTATCACHE_FAULTS", fault, 1);
	const char *args[] = { a, b, NULL };
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);

	struct fsc_stat st;
	int r = fsc_lookup(H, a, &st);
	cr_assert_eq(r, 0, "the first path got its watch: %d", r);
	cr_assert_eq(fsc_lookup(H, b, &st), FSC_UNCACHED,
		     "a path without a watch must not be served from memory");
	fsct_write(b, "more\n", 1);
	cr_assert_eq(fsc_stat(H, b, &st), 0);
	cr_expect_eq(st.source, FSC_SOURCE_STAT);
	cr_expect_eq(st.size, 7, "the fallback sees the append");
	cr_expect_geq(fsct_counter(H, FSC_CTR_WATCH_FAILURES), 1);
	cr_expect_geq(fsct_counter(H, FSC_CTR_UNCACHEABLE), 1);

	/* Still serving: the watched path stays fresh. */
	fsct_write(a, "more\n", 1);
	fsct_sync(H);
	cr_assert_eq(fsc_lookup(H, a, &st), 0);
	cr_expect_eq(st.size, 7);
	fsct_writer_stop(&W);
}

/* A segment that cannot be created is a clear start-up failure. */
Test(faults, failing_ftruncate_fails_start_cleanly)
{
	char out[64];
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	snprintf(out, sizeof(out), "%d", fds[1]);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		setenv("FSTATCACHE_FAULTS", "ftruncate=EIO", 1);
		dup2(fds[1], 2); /* capture the error message */
		execl(fsct_writer_binary(), "fstatcached", "--name", W.name,
		      "--socket", W.socket, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char msg[1024] = "";
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(msg) - 1 &&
	       (k = read(fds[0], msg + n, sizeof(msg) - 1 - n)) > 0)
		n += (size_t)k;
	msg[n] = '\0';
	close(fds[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		  "exit status %d", status);
	cr_expect(strstr(msg, "Input/output error") != NULL, "stderr: %s", msg);
	char shm[128];
	snprintf(shm, sizeof(shm), "/dev/shm/fstatcache.%s", W.name);
	cr_expect_neq(access(shm, F_OK), 0, "no segment left behind");
	cr_expect_neq(access(W.socket, F_OK), 0, "no socket left behind");
}

static void append_once(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "x", 1), 1);
	close(fd);
}

static int queued_events_limit(void)
{
	int v = 16384;
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 16384;
		fclose(f);
	}
	return v;
}

static void stop_writer_and_overflow(const char *a, const char *b)
{
	int status;
	cr_assert_eq(kill(W.pid, SIGSTOP), 0);
	cr_assert_eq(waitpid(W.pid, &status, WUNTRACED), W.pid);
	cr_assert(WIFSTOPPED(status));
	int n = queued_events_limit() + 1000;
	for (int i = 0; i < n; i++)
		append_once(i % 2 ? a : b);
	fsct_flood(H, W.dir);
	cr_assert_eq(kill(W.pid, SIGCONT), 0);
}

/*
 * Inotify queue overflow: the writer is stopped (SIGSTOP, confirmed by
 * waitpid) while more events than the queue holds are produced; once it
 * runs again it must notice IN_Q_OVERFLOW, re-validate every path and
 * serve correct answers.
 */
Test(faults, queue_overflow_revalidates_everything)
{
	char a[PATH_MAX], b[PATH_MAX];
	snprintf(a, sizeof(a), "%s", fsct_path(&W, "a.log"));
	snprintf(b, sizeof(b), "%s", fsct_path(&W, "b.log"));
	fsct_write(a, "", 0);
	fsct_write(b, "", 0);
	const char *args[] = { a, b, NULL };
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);

	stop_writer_and_overflow(a, b);
	fsct_sync(H);

	cr_expect_geq(fsct_counter(H, FSC_CTR_OVERFLOWS), 1);
	cr_expect_geq(fsct_counter(H, FSC_CTR_REVALIDATIONS), 1);
	struct stat st;
	struct fsc_stat c;
	cr_assert_eq(stat(a, &st), 0);
	cr_assert_eq(fsc_lookup(H, a, &c), 0, "served again after overflow");
	cr_expect_eq(c.size, st.st_size);
	cr_assert_eq(stat(b, &st), 0);
	cr_assert_eq(fsc_lookup(H, b, &c), 0);
	cr_expect_eq(c.size, st.st_size);
	cr_expect_eq(c.size, (queued_events_limit() + 1000) / 2);
	fsct_writer_stop(&W);
}

/*
 * After an overflow the segment keeps serving: every entry is marked
 * changed (answered by stat(), never stale) and each is served from the
 * table again as soon as it alone has been re-stat'ed.  The settle time
 * is an hour, so only our requests re-stat: a watch request one path,
 * a sync the rest.
 */
Test(faults, queue_overflow_serves_entries_again_one_by_one)
{
	char a[PATH_MAX], b[PATH_MAX], c0[PATH_MAX];
	snprintf(a, sizeof(a), "%s", fsct_path(&W, "a.log"));
	snprintf(b, sizeof(b), "%s", fsct_path(&W, "b.log"));
	snprintf(c0, sizeof(c0), "%s", fsct_path(&W, "quiet.log"));
	fsct_write(a, "", 0);
	fsct_write(b, "", 0);
	fsct_write(c0, "still", 0);
	const char *args[] = { "--settle-ms", "3600000", a, b, c0, NULL };
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);

	stop_writer_and_overflow(a, b);
	fsct_wait_counter(H, FSC_CTR_OVERFLOWS, 1);

	struct fsc_header hdr;
	struct fsc_stat c;
	struct stat st;
	cr_assert_eq(fsc_header_read(H, &hdr), 0);
	cr_assert_eq(hdr.status, FSC_STATUS_SERVING, "no global re-validation");
	const char *all[] = { a, b, c0 };
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(fsc_lookup(H, all[i], &c), FSC_UNCACHED,
			     "%s: marked changed", all[i]);
		cr_assert_eq(fsc_stat(H, all[i], &c), 0);
		cr_assert_eq(stat(all[i], &st), 0);
		cr_assert_eq(c.size, st.st_size, "%s: stat()'s answer", all[i]);
	}
	char msg[FSC_REPLY_MSG_MAX + 1];
	cr_assert_eq(fsc_control(H, FSC_OP_WATCH, a, 60000, msg, sizeof(msg)),
		     0);
	cr_assert_eq(fsc_lookup(H, a, &c), 0, "a: served again, alone");
	cr_assert_eq(stat(a, &st), 0);
	cr_assert_eq(c.size, st.st_size);
	cr_assert_eq(fsc_lookup(H, b, &c), FSC_UNCACHED, "b: not yet");
	fsct_sync(H);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(fsc_lookup(H, all[i], &c), 0, "%s", all[i]);
		cr_assert_eq(stat(all[i], &st), 0);
		cr_assert_eq(c.size, st.st_size, "%s", all[i]);
	}
	fsct_writer_stop(&W);
}
