/*
 * test_changes.c - the change feed of a real fstatcached: every kind of
 * change the integration suite makes is in the feed after the sync
 * barrier, with the answer stat(2) gives; a restarted writer, an
 * invalidate or no writer at all is a resync; a follower asleep on the
 * feed is woken by the writer.  No sleeps: the barrier and counters.
 */
#include "harness.h"
#include "itest.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(changes, .init = itest_setup, .fini = itest_teardown, .timeout = 240);

/* ---- collecting changes ------------------------------------------------ */

#define MAX_CHANGES 4096

struct change {
	unsigned kind;
	int status;
	char path[PATH_MAX];
	struct fsc_stat st;
};

static struct change got[MAX_CHANGES];
static size_t ngot;

static int keep(void *arg, const struct fsc_change *c)
{
	(void)arg;
	cr_assert_lt(ngot, MAX_CHANGES);
	cr_assert_eq(strlen(c->path), c->path_len);
	struct change *g = &got[ngot++];
	g->kind = c->kind;
	g->status = c->status;
	snprintf(g->path, sizeof(g->path), "%s", c->path);
	g->st = c->st;
	return 0;
}

/* Everything since *cur into got[] (emptied first); must not resync. */
static void drain(struct fsc_cursor *cur)
{
	ngot = 0;
	int r = fsc_changes(H, cur, keep, NULL);
	cr_assert_eq(r, 0, "fsc_changes: %s (%d)", fsc_strerror(r), r);
}

/* A cursor at now: the first call on a new cursor is a resync. */
static struct fsc_cursor now_cursor(void)
{
	struct fsc_cursor cur = FSC_CURSOR_INIT;
	ngot = 0;
	cr_assert_eq(fsc_changes(H, &cur, keep, NULL), FSC_RESYNC);
	cr_assert_eq(ngot, 0);
	return cur;
}

/* The last change listed for `path`, or NULL. */
static const struct change *last_for(const char *path)
{
	for (size_t i = ngot; i-- > 0;)
		if (!strcmp(got[i].path, path))
			return &got[i];
	return NULL;
}

static int has_kind(const char *path, unsigned kind)
{
	for (size_t i = 0; i < ngot; i++)
		if (got[i].kind == kind && !strcmp(got[i].path, path))
			return 1;
	return 0;
}

/* The last change for `path` carries the answer stat(2) gives now. */
static void expect_current(const char *path)
{
	const struct change *c = last_for(path);
	struct stat st;

	cr_assert(c, "no change listed for %s", path);
	cr_assert_eq(c->status, 0, "%s: last change (kind %u) has no answer",
		     path, c->kind);
	cr_assert_eq(c->st.source, FSC_SOURCE_CACHE);
	if (stat(path, &st) < 0) {
		cr_assert_eq(errno, ENOENT);
		cr_assert(!c->st.exists, "%s: listed as existing", path);
		return;
	}
	cr_assert(c->st.exists, "%s: listed as missing", path);
	cr_assert_eq(c->st.ino, (uint64_t)st.st_ino, "%s: ino", path);
	cr_assert_eq(c->st.dev, (uint64_t)st.st_dev, "%s: dev", path);
	cr_assert_eq(c->st.size, (int64_t)st.st_size, "%s: size", path);
	cr_assert_eq(c->st.mode, (uint32_t)st.st_mode, "%s: mode", path);
	cr_assert_eq(c->st.mtime_sec, (int64_t)st.st_mtim.tv_sec);
	cr_assert_eq(c->st.mtime_nsec, (uint32_t)st.st_mtim.tv_nsec);
	cr_assert_eq(c->st.ctime_nsec, (uint32_t)st.st_ctim.tv_nsec);
}

/* ---- the tests --------------------------------------------------------- */

Test(changes, a_new_cursor_resyncs_then_lists_only_what_follows)
{
	PATH(a, "a.log");
	fsct_write(a, "one\n", 0);
	const char *const args[] = { a, NULL };
	start(args);

	struct fsc_cursor cur = now_cursor();
	drain(&cur);
	cr_assert_eq(ngot, 0, "nothing changed");
	fsct_write(a, "two\n", 1);
	fsct_sync(H);
	drain(&cur);
	cr_assert_geq(ngot, 1);
	expect_current(a);
	drain(&cur);
	cr_assert_eq(ngot, 0, "each change is listed once");
}

Test(changes, every_kind_of_change_is_listed_after_sync)
{
	PATH(a, "a.log");
	PATH(b, "b.log");
	PATH(c, "c.log");
	PATH(old, "a.log.1");
	fsct_write(a, "one\n", 0);
	fsct_write(c, "c\n", 0);
	const char *const args[] = { a, b, NULL };
	start(args);
	struct fsc_cursor cur = now_cursor();

	fsct_write(a, "append\n", 1); /* a write */
	fsct_sync(H);
	drain(&cur);
	expect_current(a);
	cr_assert(has_kind(a, FSC_CHANGE_CHANGED));

	fsct_write(b, "new\n", 0); /* creation of a watched path */
	fsct_sync(H);
	drain(&cur);
	cr_assert(has_kind(b, FSC_CHANGE_CREATED));
	expect_current(b);

	cr_assert_eq(chmod(a, 0600), 0); /* attributes */
	fsct_sync(H);
	drain(&cur);
	expect_current(a);

	cr_assert_eq(truncate(a, 0), 0); /* copytruncate */
	fsct_sync(H);
	drain(&cur);
	expect_current(a);
	cr_assert_eq(last_for(a)->st.size, 0);

	struct stat before;
	cr_assert_eq(stat(a, &before), 0);
	cr_assert_eq(rename(a, old), 0); /* rotation */
	fsct_write(a, "fresh\n", 0);
	fsct_sync(H);
	drain(&cur);
	expect_current(a);
	cr_assert_neq(last_for(a)->st.ino, (uint64_t)before.st_ino);

	cr_assert_eq(unlink(b), 0); /* deletion */
	fsct_sync(H);
	drain(&cur);
	cr_assert(has_kind(b, FSC_CHANGE_DELETED));
	expect_current(b);

	control(FSC_OP_WATCH, c); /* a new watch */
	drain(&cur);
	cr_assert(has_kind(c, FSC_CHANGE_ADDED));
	expect_current(c);

	control(FSC_OP_UNWATCH, c); /* and its end */
	drain(&cur);
	const struct change *gone = last_for(c);
	cr_assert(gone && gone->kind == FSC_CHANGE_REMOVED);
	cr_assert_eq(gone->status, FSC_UNCACHED,
		     "no answer for a removed path");
}

Test(changes, a_marked_file_is_listed_without_an_answer)
{
	PATH(a, "a.log");
	fsct_write(a, "one\n", 0);
	/* A settle time no test outlives: the re-stat waits for sync. */
	const char *const args[] = { "--settle-ms", "3600000", a, NULL };
	start(args);
	struct fsc_cursor cur = now_cursor();

	uint64_t marks = fsct_counter(H, FSC_CTR_CHANGED_MARKS);
	fsct_write(a, "two\n", 1);
	fsct_wait_counter(H, FSC_CTR_CHANGED_MARKS, marks + 1);
	drain(&cur);
	const struct change *m = last_for(a);
	cr_assert(m && m->kind == FSC_CHANGE_MARKED);
	cr_assert_eq(m->status, FSC_UNCACHED);
	cr_assert_eq(m->st.size, 0, "no numbers without an answer");
	fsct_sync(H); /* re-stats it now */
	drain(&cur);
	expect_current(a);
}

Test(changes, an_eviction_is_listed)
{
	PATH(a, "a.log");
	PATH(b, "b.log");
	PATH(c, "c.log");
	fsct_write(a, "a\n", 0);
	fsct_write(b, "b\n", 0);
	fsct_write(c, "c\n", 0);
	const char *const args[] = { "--capacity", "2", a, b, NULL };
	start(args);
	struct fsc_cursor cur = now_cursor();

	control(FSC_OP_WATCH, c);
	drain(&cur);
	cr_assert(has_kind(c, FSC_CHANGE_ADDED));
	size_t evicted = 0;
	for (size_t i = 0; i < ngot; i++)
		if (got[i].kind == FSC_CHANGE_EVICTED) {
			evicted++;
			cr_assert(!strcmp(got[i].path, a) ||
				  !strcmp(got[i].path, b));
			cr_assert_eq(got[i].status, FSC_UNCACHED);
		}
	cr_assert_eq(evicted, 1);
}

Test(changes, invalidate_is_a_resync)
{
	PATH(a, "a.log");
	fsct_write(a, "a\n", 0);
	const char *const args[] = { a, NULL };
	start(args);
	struct fsc_cursor cur = now_cursor();

	fsct_write(a, "more\n", 1);
	fsct_sync(H);
	control(FSC_OP_INVALIDATE, NULL);
	ngot = 0;
	cr_assert_eq(fsc_changes(H, &cur, keep, NULL), FSC_RESYNC);
	cr_assert_geq(ngot, 1, "what came before is listed first");
	drain(&cur);
	cr_assert_eq(ngot, 0);
}

Test(changes, a_restarted_writer_or_none_is_a_resync)
{
	PATH(a, "a.log");
	fsct_write(a, "a\n", 0);
	const char *const args[] = { a, NULL };
	start(args);
	struct fsc_cursor cur = now_cursor();
	uint64_t epoch = cur.epoch;

	fsct_writer_stop(&W); /* H keeps the old, retired mapping */
	ngot = 0;
	cr_assert_eq(fsc_changes(H, &cur, keep, NULL), FSC_RESYNC);
	cr_assert_eq(cur.epoch, 0, "no writer: no cursor to carry on from");

	fsct_writer_restart(&W);
	fsc_close(H);
	H = fsct_open(&W);
	cr_assert_eq(fsc_changes(H, &cur, keep, NULL), FSC_RESYNC);
	cr_assert_neq(cur.epoch, 0);
	cr_assert_neq(cur.epoch, epoch, "a new segment, a new epoch");
	fsct_write(a, "b\n", 1);
	fsct_sync(H);
	drain(&cur);
	expect_current(a);

	/* A cursor kept from the old writer is a resync too. */
	struct fsc_cursor old = { epoch, 16 };
	cr_assert_eq(fsc_changes(H, &old, keep, NULL), FSC_RESYNC);
	cr_assert_eq(old.epoch, cur.epoch);
}

/* ---- the tool ---------------------------------------------------------- */

#define TOOL(...) fsct_tool_run(&W, (const char *const[]){ __VA_ARGS__, NULL })

/* The text after "cursor " on the last line that has it. */
static void cursor_of(const char *out, char *buf, size_t size)
{
	const char *p = NULL, *q = out;
	while ((q = strstr(q, "cursor ")))
		p = q++;
	cr_assert(p, "no cursor in: %s", out);
	size_t n = strcspn(p + 7, "\n");
	cr_assert_lt(n, size);
	memcpy(buf, p + 7, n);
	buf[n] = '\0';
}

Test(changes, tool_lists_since_a_cursor_and_resumes)
{
	PATH(a, "a.log");
	fsct_write(a, "a\n", 0);
	const char *const args[] = { a, NULL };
	start(args);
	char c1[FSC_CURSOR_TEXT_SIZE], c2[FSC_CURSOR_TEXT_SIZE];

	struct fsct_run r = TOOL("changes");
	fsct_expect_ok(&r, "changes");
	cursor_of(r.out, c1, sizeof(c1));
	fsct_run_free(&r);

	fsct_write(a, "bb\n", 1);
	fsct_sync(H);
	r = TOOL("changes", "--since", c1);
	fsct_expect_ok(&r, "changes --since");
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want),
		 "changed %s source=cache exists=yes size=5 ", a);
	cr_assert(strstr(r.out, want), "no '%s' in:\n%s", want, r.out);
	cursor_of(r.out, c2, sizeof(c2));
	cr_assert_str_neq(c1, c2);
	fsct_run_free(&r);

	r = TOOL("changes", "--since", c2, "--json");
	fsct_expect_ok(&r, "changes --json");
	char line[128];
	snprintf(line, sizeof(line), "{\"cursor\":\"%s\"}\n", c2);
	cr_assert_str_eq(r.out, line, "nothing since c2");
	fsct_run_free(&r);

	r = TOOL("changes", "--since", "not-a-cursor");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "malformed cursor"), "%s", r.err);
	fsct_run_free(&r);

	r = TOOL("changes", "--since", "0-0");
	fsct_expect_ok(&r, "changes --since 0-0");
	cr_assert(!strncmp(r.out, "resync\ncursor ", 14), "%s", r.out);
	fsct_run_free(&r);
}

/* feed_waiters of the instance's .use header. */
static uint32_t followers(void)
{
	char shm[FSC_SHM_NAME_SIZE];
	fsc_shm_name(shm, sizeof(shm), W.name, FSC_OBJ_USE);
	int fd = shm_open(shm, O_RDONLY | O_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	void *p = mmap(NULL, FSC_USE_HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert(p != MAP_FAILED);
	uint32_t n = __atomic_load_n(
		&((const struct fsc_use_header *)p)->feed_waiters,
		__ATOMIC_ACQUIRE);
	munmap(p, FSC_USE_HEADER_SIZE);
	return n;
}

Test(changes, a_follower_is_woken_by_the_writer)
{
	PATH(a, "a.log");
	fsct_write(a, "a\n", 0);
	const char *const args[] = { a, NULL };
	start(args);
	struct fsc_cursor cur = now_cursor();
	char since[FSC_CURSOR_TEXT_SIZE], out[4096];
	fsc_cursor_format(&cur, since, sizeof(since));

	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(fsct_tool_binary(), "fstatcache", "--name", W.name,
		      "changes", "--follow", "--count", "1", "--since", since,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* Wait for it to be asleep on the feed (state, not time). */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (followers() == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		cr_assert_lt(t.tv_sec - t0.tv_sec, 60, "follower never slept");
		sched_yield();
	}
	fsct_write(a, "b\n", 1);
	fsct_sync(H);
	size_t n = 0;
	ssize_t k;
	while ((k = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(fds[0]);
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	cr_assert(strstr(out, a), "the change is listed: %s", out);
	cr_assert(strstr(out, "\ncursor "), "then the cursor: %s", out);
	fsct_wait_counter(H, FSC_CTR_FEED_WAKES, 1);
	cr_assert_eq(followers(), 0, "it said it no longer sleeps");
}
