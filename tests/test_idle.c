/*
 * test_idle.c - a writer with nothing to do makes no wake-ups at all.
 *
 * The writer sleeps in epoll_wait() with no timeout and has no timers
 * (writer/loop.h), which matters on battery-powered and small boards.  The
 * test counts the context switches of every thread of the writer
 * (voluntary + nonvoluntary, /proc/PID/task/TID/status) before and after an
 * idle interval and asserts they did not grow: a count, not a time.  Any
 * periodic wake-up, heartbeat or polling thread would add switches.
 *
 * It also reports the writer's CPU time per inotify event applied (read with
 * clock_getcpuclockid(3), so nanoseconds rather than clock ticks) as a
 * figure in the log; the benchmark (bench/) measures it properly.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NFILES 32
#define IDLE_WINDOW_MS 1000 /* the measurement window, see below */
#define APPENDS 4000

static struct fsct_writer W;
static fsc_handle *H;
static char paths[NFILES][PATH_MAX];

static void setup(void)
{
	fsct_fixture_init(&W, &H);
}

static void teardown(void)
{
	fsct_fixture_fini(&W, &H);
}

TestSuite(idle, .init = setup, .fini = teardown, .timeout = 120);

/* Start a writer on NFILES files in two directories, all served. */
static void start_and_warm(void)
{
	cr_assert_eq(mkdir(fsct_path(&W, "a"), 0700), 0);
	cr_assert_eq(mkdir(fsct_path(&W, "b"), 0700), 0);
	const char *args[NFILES + 1];
	for (int i = 0; i < NFILES; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "%s/f%02d.log", i % 2 ? "a" : "b",
			 i);
		snprintf(paths[i], PATH_MAX, "%s", fsct_path(&W, rel));
		fsct_write(paths[i], "line\n", 0);
		args[i] = paths[i];
	}
	args[NFILES] = NULL;
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);
	for (int i = 0; i < NFILES; i++) {
		struct fsc_stat st;
		int r = fsc_lookup(H, paths[i], &st);
		cr_assert_eq(r, 0, "%s: %d (%s)", paths[i], r, fsc_strerror(r));
	}
}

struct snapshot {
	unsigned long long switches; /* voluntary + nonvoluntary, all threads */
	int threads;
	int asleep; /* threads blocked (state S or D) */
};

/* Add one thread's /proc/PID/task/TID/status to *s. */
static void add_thread(struct snapshot *s, const char *status_path)
{
	FILE *f = fopen(status_path, "re");
	if (!f)
		return; /* the thread is gone: it no longer switches */
	char line[256], state = '?';
	unsigned long long v;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			s->switches += v;
		else
			sscanf(line, "State: %c", &state);
	}
	fclose(f);
	s->threads++;
	s->asleep += state == 'S' || state == 'D';
}

static struct snapshot writer_snapshot(void)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)W.pid);
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	struct snapshot s = { 0, 0, 0 };
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[sizeof(dir) + sizeof(e->d_name) + 8];
		snprintf(path, sizeof(path), "%s/%s/status", dir, e->d_name);
		add_thread(&s, path);
	}
	closedir(d);
	return s;
}

/*
 * The baseline: every thread asleep, and the counts equal in two snapshots
 * around a yield.  The writer may still be on its way back into
 * epoll_wait() after answering the sync (a switch that is no wake-up), so
 * this waits for that, bounded by a count (a hang guard, never reached).
 */
static struct snapshot settled_snapshot(void)
{
	for (int i = 0; i < 100000; i++) {
		struct snapshot a = writer_snapshot();
		sched_yield();
		struct snapshot b = writer_snapshot();
		if (a.asleep == a.threads && b.asleep == b.threads &&
		    a.switches == b.switches && a.threads == b.threads)
			return b;
	}
	cr_assert_fail("the writer never settled: a thread keeps running");
	return writer_snapshot();
}

/* What wakes the writer from outside: events (the directories above the
 * watched ones report their entries' attribute changes, and tests running
 * beside this one chmod their own directories in /tmp) and mount changes. */
static uint64_t outside_news(void)
{
	return fsct_counter(H, FSC_CTR_EVENTS) +
	       fsct_counter(H, FSC_CTR_MOUNT_CHANGES) +
	       fsct_counter(H, FSC_CTR_REQUESTS);
}

/*
 * The idle interval.  The poll() is the measurement window, not a wait
 * for anything to happen: nothing the writer watches changes while it
 * runs, and the assertion is on counts, not on times.  A writer with any
 * periodic wake-up (≤ 1 s) shows up as a switch.  A window in which the
 * writer heard news from outside (its counters say so) proves nothing
 * either way and is taken again, at most ten times.
 */
static void idle_window(struct snapshot *before, struct snapshot *after)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		*before = settled_snapshot();
		uint64_t news = outside_news();
		cr_assert_eq(poll(NULL, 0, IDLE_WINDOW_MS), 0);
		*after = writer_snapshot();
		if (outside_news() == news)
			return;
		cr_log_info("the writer heard %llu events from outside in the "
			    "window: measuring again",
			    (unsigned long long)(outside_news() - news));
	}
	cr_assert_fail("ten windows in a row had news from outside");
}

Test(idle, no_wakeups_when_nothing_changes)
{
	start_and_warm();
	struct snapshot before, after;
	idle_window(&before, &after);
	cr_log_info("writer: %d threads, %llu context switches before and "
		    "%llu after %d ms idle",
		    after.threads, before.switches, after.switches,
		    IDLE_WINDOW_MS);
	cr_assert_eq(after.threads, before.threads,
		     "the idle writer started or ended a thread");
	cr_assert_eq(after.switches, before.switches,
		     "the idle writer woke "
		     "up %llu times in %d ms",
		     after.switches - before.switches, IDLE_WINDOW_MS);

	/* Still serving, and still fresh, after the quiet spell. */
	fsct_write(paths[0], "more\n", 1);
	fsct_sync(H);
	struct fsc_stat st;
	cr_assert_eq(fsc_lookup(H, paths[0], &st), 0);
	cr_assert_eq(st.size, 10);
	fsct_writer_stop(&W);
}

/*
 * After misses the writer keeps looking at the request ring for a short
 * grace (writer/loop.c), then arms its doorbell and sleeps for good: a
 * run of misses must not leave a periodic wake-up behind.  The test waits
 * for the doorbell to be armed (a state the writer sets, not a time; a
 * hang guard bounds the wait), then counts switches as above.
 */
Test(idle, no_wakeups_after_the_ring_grace)
{
	start_and_warm();
	char shm[FSC_SHM_NAME_SIZE], rel[32], fresh[8][PATH_MAX];
	fsc_shm_name(shm, sizeof(shm), W.name, FSC_OBJ_REQ);
	int fd = shm_open(shm, O_RDONLY, 0);
	cr_assert_geq(fd, 0, "%s: %s", shm, strerror(errno));
	const struct fsc_req_header *ring =
		mmap(NULL, FSC_REQ_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert(ring != MAP_FAILED);
	for (int i = 0; i < 8; i++) {
		snprintf(rel, sizeof(rel), "a/new%d.log", i);
		snprintf(fresh[i], PATH_MAX, "%s", fsct_path(&W, rel));
		fsct_write(fresh[i], "new\n", 0);
		struct fsc_stat st;
		cr_assert_eq(fsc_stat(H, fresh[i], &st), 0);
		cr_assert_eq(st.source, FSC_SOURCE_STAT);
	}
	fsct_sync(H);
	cr_assert_geq(fsct_counter(H, FSC_CTR_REQUESTS), 8);
	for (int i = 0; i < 8; i++) {
		struct fsc_stat st;
		cr_assert_eq(fsc_lookup(H, fresh[i], &st), 0, "%s", fresh[i]);
	}
	int guard = 0;
	while (!uatomic_read(&ring->doorbell)) {
		cr_assert_lt(guard++, 60000, "the doorbell was never armed");
		poll(NULL, 0, 1);
	}
	struct snapshot before, after;
	idle_window(&before, &after);
	cr_assert_eq(after.switches, before.switches,
		     "the writer woke up %llu times in %d ms after its grace",
		     after.switches - before.switches, IDLE_WINDOW_MS);
	munmap((void *)(uintptr_t)ring, FSC_REQ_HEADER_SIZE);
	fsct_writer_stop(&W);
}

static uint64_t writer_cpu_ns(void)
{
	clockid_t clk;
	struct timespec ts;
	cr_assert_eq(clock_getcpuclockid(W.pid, &clk), 0);
	cr_assert_eq(clock_gettime(clk, &ts), 0, "%s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A figure, not a threshold: CPU per inotify event the writer applied. */
Test(idle, cpu_per_event_reported)
{
	start_and_warm();
	uint64_t ev0 = fsct_counter(H, FSC_CTR_EVENTS);
	uint64_t up0 = fsct_counter(H, FSC_CTR_UPDATES);
	uint64_t cpu0 = writer_cpu_ns();
	for (int i = 0; i < APPENDS; i++) {
		fsct_write(paths[i % NFILES], "x\n", 1);
		if (i % 64 == 63)
			fsct_sync(H); /* smaller batches: fewer coalesced */
	}
	fsct_sync(H);
	uint64_t cpu = writer_cpu_ns() - cpu0;
	uint64_t ev = fsct_counter(H, FSC_CTR_EVENTS) - ev0;
	uint64_t up = fsct_counter(H, FSC_CTR_UPDATES) - up0;
	cr_assert_geq(ev, 1, "no inotify event was applied");
	cr_assert_geq(up, 1, "no entry was updated");
	cr_log_info("writer CPU: %.2f us per inotify event (%llu events), "
		    "%.2f us per entry update (%llu updates), %d appends "
		    "(syncs included)",
		    cpu / 1000.0 / (double)ev, (unsigned long long)ev,
		    cpu / 1000.0 / (double)up, (unsigned long long)up, APPENDS);
	struct fsc_stat st;
	cr_assert_eq(fsc_lookup(H, paths[0], &st), 0);
	cr_assert_eq(st.size, 5 + 2 * (APPENDS / NFILES));
	fsct_writer_stop(&W);
}
