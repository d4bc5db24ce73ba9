/*
 * test_integration.c - the real fstatcached driven through the reader API.
 *
 * Each test starts a writer on files in its private temp dir, changes them
 * the way programs and log rotation do, calls the sync barrier, and checks
 * that the cache's answer equals stat(2) of the same path, field by field.
 * The barrier is the only synchronisation: there are no sleeps.
 */
#include "harness.h"
#include "itest.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD_MS 60000 /* hang guard for control requests */

TestSuite(integration, .init = itest_setup, .fini = itest_teardown,
	  .timeout = 240);

/* ---- helpers ----------------------------------------------------------- */

/* The fields the cache must agree on with stat(2). */
static void assert_same_at(const struct fsc_stat *c, const struct stat *st,
			   const char *path, const char *file, int line)
{
#define SAME(cf, sf) \
	cr_assert_eq((long long)c->cf, (long long)st->sf, \
		     "%s:%d: %s: " #cf \
		     " is %lld in the cache, stat says %lld", \
		     file, line, path, (long long)c->cf, (long long)st->sf)
	SAME(dev, st_dev);
	SAME(ino, st_ino);
	SAME(mode, st_mode);
	SAME(nlink, st_nlink);
	SAME(uid, st_uid);
	SAME(gid, st_gid);
	SAME(size, st_size);
	/* st_blocks is not compared: delayed allocation changes it at
	 * writeback with no inotify event (README, "Limits"). */
	SAME(mtime_sec, st_mtim.tv_sec);
	SAME(mtime_nsec, st_mtim.tv_nsec);
	SAME(ctime_sec, st_ctim.tv_sec);
	SAME(ctime_nsec, st_ctim.tv_nsec);
	SAME(blksize, st_blksize);
#undef SAME
	cr_assert(c->have & FSC_HAVE_BLKSIZE, "%s:%d: %s: no blksize", file,
		  line, path);
}

/*
 * The cache answers `path` (a hit) and the answer equals stat(2) now;
 * "does not exist" is an answer too.  Returns the answer.
 */
static struct fsc_stat assert_fresh_at(const char *path, const char *file,
				       int line)
{
	struct fsc_stat c;
	memset(&c, 0, sizeof(c));
	int r = fsc_lookup(H, path, &c);
	if (r != 0) { /* what the table holds, for the log */
		const char *argv[] = { "ls", "--json", NULL };
		struct fsct_run run = fsct_tool_run(&W, argv);
		cr_log_error("%s:%d: the table: %s", file, line,
			     run.out ? run.out : "?");
		fsct_run_free(&run);
	}
	cr_assert_eq(r, 0, "%s:%d: fsc_lookup(%s) = %d (%s), want a hit", file,
		     line, path, r, fsc_strerror(r));
	cr_assert_eq(c.source, FSC_SOURCE_CACHE, "%s:%d: %s: source %d", file,
		     line, path, c.source);
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		cr_assert(e == ENOENT || e == ENOTDIR, "%s:%d: stat(%s): %s",
			  file, line, path, strerror(e));
		cr_assert_eq(c.exists, 0,
			     "%s:%d: %s does not exist (%s) but "
			     "the cache says it does (ino %llu, size %lld)",
			     file, line, path, strerror(e),
			     (unsigned long long)c.ino, (long long)c.size);
		return c;
	}
	cr_assert_eq(c.exists, 1,
		     "%s:%d: %s exists (ino %llu, size %lld) "
		     "but the cache says it does not",
		     file, line, path, (unsigned long long)st.st_ino,
		     (long long)st.st_size);
	assert_same_at(&c, &st, path, file, line);
	return c;
}
#define assert_fresh(p) assert_fresh_at((p), __FILE__, __LINE__)

static void assert_lookup_at(const char *path, int want, const char *file,
			     int line)
{
	struct fsc_stat c;
	int r = fsc_lookup(H, path, &c);
	cr_assert_eq(r, want, "%s:%d: fsc_lookup(%s) = %d (%s), want %d (%s)",
		     file, line, path, r, fsc_strerror(r), want,
		     fsc_strerror(want));
}
#define assert_lookup(p, want) assert_lookup_at((p), (want), __FILE__, __LINE__)

static struct stat xstat(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "stat(%s): %s", path, strerror(errno));
	return st;
}

#define XCALL(call, path) \
	cr_assert_eq((call), 0, "%s(%s): %s", #call, (path), strerror(errno))

static void xmkdir(const char *p)
{
	XCALL(mkdir(p, 0755), p);
}
static void xunlink(const char *p)
{
	XCALL(unlink(p), p);
}
static void xrename(const char *a, const char *b)
{
	XCALL(rename(a, b), a);
}
static void xtruncate(const char *p, off_t n)
{
	XCALL(truncate(p, n), p);
}
static void xchmod(const char *p, mode_t m)
{
	XCALL(chmod(p, m), p);
}
static void xsymlink(const char *t, const char *l)
{
	XCALL(symlink(t, l), l);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *p)
{
	cr_assert_eq(nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0,
		     "rm -rf %s: %s", p, strerror(errno));
}

static void copy_file(const char *from, const char *to)
{
	char buf[8192];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	cr_assert(in >= 0, "open(%s): %s", from, strerror(errno));
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(out >= 0, "open(%s): %s", to, strerror(errno));
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n, "write(%s)", to);
	cr_assert_eq(n, 0, "read(%s): %s", from, strerror(errno));
	close(in);
	cr_assert_eq(close(out), 0, "close(%s)", to);
}

/* ---- how the writer is told what to watch ------------------------------ */

Test(integration, paths_on_command_line)
{
	fsct_write(P("a.log"), "a\n", 0);
	fsct_write(P("b.log"), "bb\n", 0);
	const char *extra[] = { P("a.log"), P("b.log"), P("missing.log"),
				NULL };
	start(extra);
	fsct_sync(H);
	assert_fresh(P("a.log"));
	assert_fresh(P("b.log"));
	assert_fresh(P("missing.log"));
	fsct_write(P("a.log"), "more\n", 1);
	fsct_write(P("missing.log"), "now\n", 0);
	fsct_sync(H);
	assert_fresh(P("a.log"));
	assert_fresh(P("missing.log"));
	stop();
}

/*
 * The cache's atime is stat(2)'s as of the writer's last stat, which
 * utimensat(2) of atime and mtime brings about.  Times before 1970 round
 * down; a time a nanosecond count cannot hold (format.h) is never cached
 * wrong: the entry says "range" and the path is answered by stat().
 */
/* Changes to a path answered by stat(), as a follower is told of them. */
static int count_uncached(void *arg, const struct fsc_change *c)
{
	int *n = arg;
	*n += c->status == FSC_UNCACHED;
	return 0;
}

Test(integration, atime_and_blksize)
{
	struct fsc_cursor cur = FSC_CURSOR_INIT;
	int seen = 0;
	fsct_write(P("a.log"), "a\n", 0);
	const char *extra[] = { P("a.log"), NULL };
	start(extra);
	static const struct timespec times[] = {
		{ 1764950400, 123456789 },
		{ -86401, 1 },               /* before the epoch */
		{ INT64_C(20000000000), 5 }, /* year 2603: beyond a count */
	};
	for (size_t i = 0; i < sizeof(times) / sizeof(*times); i++) {
		/* mtime too: an atime alone brings IN_ACCESS only, which
		 * the writer does not hear (docs/FORMAT.md). */
		struct timespec ts[2] = { times[i], { 0, UTIME_NOW } };
		while (fsc_changes(H, &cur, count_uncached, &seen) ==
		       FSC_RESYNC)
			;
		seen = 0;
		if (utimensat(AT_FDCWD, P("a.log"), ts, 0) < 0) {
			cr_log_warn("utimensat(%lld): %s: not on this "
				    "filesystem",
				    (long long)times[i].tv_sec,
				    strerror(errno));
			continue;
		}
		fsct_sync(H);
		struct stat st = xstat(P("a.log"));
		if (st.st_atim.tv_sec >= INT64_C(9223372036)) {
			struct fsc_stat c;
			cr_assert_eq(fsc_lookup(H, P("a.log"), &c),
				     FSC_UNCACHED,
				     "atime %lld is beyond a ns count",
				     (long long)st.st_atim.tv_sec);
			cr_assert_eq(fsc_stat(H, P("a.log"), &c), 0);
			cr_assert_eq(c.source, FSC_SOURCE_STAT);
			cr_assert_eq(c.atime_sec, (int64_t)st.st_atim.tv_sec);
			const char *argv[] = { "inspect", "--json", NULL };
			struct fsct_run run = fsct_tool_run(&W, argv);
			cr_assert_not_null(strstr(run.out, "\"range\":1"),
					   "inspect counts it: %s", run.out);
			fsct_run_free(&run);
			/* Its record in the change feed reads, says stat(). */
			cr_assert_eq(
				fsc_changes(H, &cur, count_uncached, &seen), 0);
			cr_assert_geq(seen, 1);
			const char *check[] = { "check", NULL };
			run = fsct_tool_run(&W, check);
			cr_assert_eq(run.status, 0, "check: %s %s", run.out,
				     run.err);
			fsct_run_free(&run);
			continue;
		}
		struct fsc_stat c = assert_fresh(P("a.log"));
		cr_assert(c.have & FSC_HAVE_ATIME);
		cr_assert_eq(c.atime_sec, (int64_t)st.st_atim.tv_sec);
		cr_assert_eq(c.atime_nsec, (uint32_t)st.st_atim.tv_nsec);
	}
	stop();
}

Test(integration, watch_list_file)
{
	fsct_write(P("x.log"), "x\n", 0);
	fsct_write(P("y.log"), "y\n", 0);
	char list[3 * PATH_MAX];
	snprintf(list, sizeof(list), "%s\n%s\n%s\n", P("x.log"), P("y.log"),
		 P("z.log"));
	fsct_write(P("list"), list, 0);
	const char *extra[] = { "--watch-list", P("list"), NULL };
	start(extra);
	fsct_sync(H);
	assert_fresh(P("x.log"));
	assert_fresh(P("y.log"));
	assert_fresh(P("z.log"));
	fsct_write(P("y.log"), "yy\n", 1);
	fsct_sync(H);
	assert_fresh(P("y.log"));
	stop();
}

/* ---- changes to a file -------------------------------------------------- */

Test(integration, append)
{
	start(NULL);
	PATH(f, "app.log");
	fsct_write(f, "hello", 0);
	watch(f);
	assert_fresh(f);
	fsct_write(f, " world", 1);
	fsct_sync(H);
	struct fsc_stat c = assert_fresh(f);
	cr_assert_eq(c.size, 11);
	for (int i = 0; i < 10; i++) {
		fsct_write(f, "another line\n", 1);
		fsct_sync(H);
		assert_fresh(f);
	}
	stop();
}

/*
 * The moment the writer reads an event for a file it marks the entry
 * changed: readers answer it by stat() (never the old answer) until the
 * writer re-stats it, here only when asked (the settle time is an hour):
 * a watch request re-stats that path, a sync every changed one.
 */
Test(integration, changed_entry_answered_by_stat_until_restat)
{
	const char *extra[] = { "--settle-ms", "3600000", NULL };
	start(extra);
	PATH(f, "busy.log");
	PATH(g, "other.log");
	fsct_write(f, "hello", 0);
	fsct_write(g, "x", 0);
	watch(f);
	watch(g);
	assert_fresh(f);
	uint64_t marks = fsct_counter(H, FSC_CTR_CHANGED_MARKS);

	fsct_write(f, " world", 1);
	fsct_write(g, "y", 1);
	fsct_wait_lookup(H, f, FSC_UNCACHED, 0);
	fsct_wait_lookup(H, g, FSC_UNCACHED, 0);
	/* The count follows the entry's mark: wait for it, then exactly. */
	fsct_wait_counter(H, FSC_CTR_CHANGED_MARKS, marks + 2);
	cr_assert_eq(fsct_counter(H, FSC_CTR_CHANGED_MARKS), marks + 2);
	struct fsc_stat c;
	cr_assert_eq(fsc_stat(H, f, &c), 0);
	cr_assert_eq(c.source, FSC_SOURCE_STAT, "a changed entry is stat'ed");
	cr_assert_eq(c.size, 11);

	watch(f); /* re-stats f alone */
	c = assert_fresh(f);
	cr_assert_eq(c.size, 11);
	assert_lookup(g, FSC_UNCACHED);

	fsct_write(f, "!", 1);
	fsct_wait_lookup(H, f, FSC_UNCACHED, 0);
	fsct_sync(H); /* re-stats every changed entry */
	cr_assert_eq(assert_fresh(f).size, 12);
	cr_assert_eq(assert_fresh(g).size, 2);
	stop();
}

/* With the default settle time the writer re-stats on its own once the
 * file is quiet: no sync needed to be served from the table again. */
Test(integration, changed_entry_served_again_once_quiet)
{
	start(NULL);
	PATH(f, "quiet.log");
	fsct_write(f, "a", 0);
	watch(f);
	assert_fresh(f);
	for (int i = 0; i < 100; i++)
		fsct_write(f, "b", 1);
	fsct_wait_lookup(H, f, 0, 101);
	assert_fresh(f);
	stop();
}

/*
 * Under a CPU budget the writer lengthens its pause between reads of
 * events while it is busy, and says so in the pause_us gauge.  A budget
 * of a millionth of a core is exceeded by any work, so appends read one
 * by one (each waited for through the events counter) must double the
 * pause from --batch-us, however fast or slow the machine.
 */
Test(integration, cpu_budget_lengthens_the_pause_under_load)
{
	const char *extra[] = { "--cpu-budget", "0.0001", "--batch-us", "1000",
				NULL };
	start(extra);
	PATH(f, "hot.log");
	fsct_write(f, "", 0);
	watch(f);
	uint64_t events = fsct_counter(H, FSC_CTR_EVENTS);
	for (int i = 0; fsct_counter(H, FSC_CTR_PAUSE_US) < 2000; i++) {
		cr_assert_lt(
			i, 100000, "pause_us still %llu",
			(unsigned long long)fsct_counter(H, FSC_CTR_PAUSE_US));
		fsct_write(f, "x", 1);
		fsct_wait_counter(H, FSC_CTR_EVENTS, ++events);
	}
	cr_assert_geq(fsct_counter(H, FSC_CTR_DRAIN_PAUSES), 1);
	/* The answers stay right: a sync brings the entry back. */
	fsct_sync(H);
	assert_fresh(f);
	stop();
}

Test(integration, truncate)
{
	start(NULL);
	PATH(f, "t.log");
	char big[4097];
	memset(big, 'x', 4096);
	big[4096] = '\0';
	fsct_write(f, big, 0);
	watch(f);
	assert_fresh(f);
	xtruncate(f, 10);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 10);
	xtruncate(f, 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 0);
	xtruncate(f, 1 << 20); /* sparse: size grows, blocks do not */
	fsct_sync(H);
	assert_fresh(f);
	stop();
}

/*
 * Writes, chmod and link-count changes made through another name of a
 * watched file reach no directory watch of its own name: with fanotify
 * the writer marks the file's inode too.  inotify has no such marks here
 * (README, "Limits"): the test says so and is skipped.
 */
Test(integration, a_write_through_another_hard_link_is_seen)
{
	start(NULL);
	struct fsc_header hdr;
	cr_assert_eq(fsc_header_read(H, &hdr), 0);
	if (!(hdr.flags & FSC_SEG_F_FANOTIFY)) {
		itest_teardown(); /* a skipped test gets no .fini */
		cr_skip_test("inotify: no marks on files, hard links lag");
	}
	PATH(f, "f.log");
	PATH(other, "other");
	PATH(g, "other/g.log");
	PATH(h, "h.log");
	xmkdir(other);
	fsct_write(f, "a", 0);
	cr_assert_eq(link(f, g), 0, "link: %s", strerror(errno));
	watch(f);
	assert_fresh(f);

	fsct_write(g, "bc", 1); /* other directory, other name */
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 3);
	xchmod(g, 0600);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).mode & 07777, 0600);
	cr_assert_eq(link(f, h), 0, "link: %s", strerror(errno));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).nlink, 3);
	cr_assert_eq(unlink(g), 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).nlink, 2);
	fsct_write(h, "d", 1); /* same directory, other name */
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 4);
	cr_assert_eq(fsct_counter(H, FSC_CTR_FILE_MARKS), 1);
	stop();
}

/* Write f on and on, each write read by the writer before the next (the
 * kernel merges a file's events that wait together), until the writer
 * has silenced a file `times` times in all. */
static void heat(const char *f, uint64_t times)
{
	for (int i = 0; i < 64 && fsct_counter(H, FSC_CTR_QUIETED) < times;
	     i++) {
		uint64_t events = fsct_counter(H, FSC_CTR_EVENTS);
		fsct_write(f, "c", 1);
		fsct_wait_counter(H, FSC_CTR_EVENTS, events + 1);
	}
	cr_assert_eq(fsct_counter(H, FSC_CTR_QUIETED), times,
		     "not silenced after 64 writes");
}

/*
 * A file written again soon after its re-stat is silenced until the next
 * one (fanotify: an ignore mask on its own mark): writes through any of
 * its names, and the removal of its directory while it is silenced, are
 * still right after a sync.
 */
Test(integration, a_silenced_file_is_right_after_sync)
{
	/* A long settle delay: every write is "soon" after the re-stat. */
	const char *extra[] = { "--settle-ms", "60000", NULL };
	start(extra);
	struct fsc_header hdr;
	cr_assert_eq(fsc_header_read(H, &hdr), 0);
	if (!(hdr.flags & FSC_SEG_F_FANOTIFY)) {
		itest_teardown(); /* a skipped test gets no .fini */
		cr_skip_test("inotify: no marks on files to silence");
	}
	PATH(sub, "sub");
	PATH(f, "sub/f.log");
	PATH(g, "g.log");
	xmkdir(sub);
	fsct_write(f, "a", 0);
	cr_assert_eq(link(f, g), 0, "link: %s", strerror(errno));
	watch(f);
	watch(g);
	fsct_write(f, "b", 1);
	fsct_sync(H); /* re-stat'ed: 2 bytes */
	cr_assert_eq(assert_fresh(f).size, 2);
	heat(f, 1); /* changed again, soon, on and on: silenced */
	struct stat st;
	cr_assert_eq(stat(f, &st), 0);
	off_t base = st.st_size;
	for (int i = 0; i < 100; i++)
		fsct_write(g, "d", 1); /* through the other name */
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, base + 100);
	cr_assert_eq(assert_fresh(g).size, base + 100);
	/* Heard again after the re-stat. */
	fsct_write(g, "e", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, base + 101);
	/* Its directory goes while it is silenced (the writer holds the
	 * file open meanwhile), and comes back with another f.log. */
	heat(f, 2);
	cr_assert_eq(stat(f, &st), 0);
	base = st.st_size;
	cr_assert_eq(unlink(f), 0);
	cr_assert_eq(rmdir(sub), 0, "rmdir: %s", strerror(errno));
	xmkdir(sub);
	fsct_write(f, "new", 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 3);
	cr_assert_eq(assert_fresh(g).size, base);
	fsct_write(f, "er", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 5);
	stop();
}

/* Directories only: one mark per watched file less, appends still seen. */
Test(integration, no_file_marks_marks_directories_only)
{
	const char *extra[] = { "--no-file-marks", NULL };
	start(extra);
	PATH(f, "f.log");
	fsct_write(f, "a", 0);
	watch(f);
	fsct_write(f, "bc", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 3);
	cr_assert_eq(fsct_counter(H, FSC_CTR_FILE_MARKS), 0);
	/* Its directory, and the ones above it up to (not) the root: one
	 * per '/' in the temp dir's path. */
	uint64_t dirs = 0;
	for (const char *s = W.dir; *s; s++)
		dirs += *s == '/';
	cr_assert_eq(fsct_counter(H, FSC_CTR_WATCHES), dirs);
	stop();
}

/*
 * Per-process magic links: /proc/self/fd/0 or /proc/self/cwd lead each
 * process somewhere else, so what the writer would cache is its own view
 * (issue 13, item 7).  A path through a directory on proc (or any
 * filesystem events do not fully report) is answered by stat().
 */
Test(integration, paths_through_proc_are_answered_by_stat)
{
	start(NULL);
	PATH(in, "in");
	PATH(cwd, "cwd");
	PATH(below, "cwd/no-such-file");
	cr_assert_eq(symlink("/proc/self/fd/0", in), 0, "%s", strerror(errno));
	cr_assert_eq(symlink("/proc/self/cwd", cwd), 0, "%s", strerror(errno));
	/* Watched, but the writer says it cannot be cached, and why. */
	const char *const never[] = { in, below, "/proc/self/status" };
	for (size_t i = 0; i < 3; i++) {
		char msg[FSC_REPLY_MSG_MAX + 1];
		int r = fsc_control(H, FSC_OP_WATCH, never[i], GUARD_MS, msg,
				    sizeof(msg));
		cr_assert_eq(r, -EOPNOTSUPP, "%s: %d %s", never[i], r, msg);
		cr_assert(strstr(msg, "answered by stat()"), "%s", msg);
		assert_lookup(never[i], FSC_UNCACHED);
	}
	stop();
}

Test(integration, chmod_changes_mode_and_ctime)
{
	start(NULL);
	PATH(f, "m.log");
	fsct_write(f, "m", 0);
	watch(f);
	assert_fresh(f);
	static const mode_t modes[] = { 0600, 0640, 0444, 0755, 0644 };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		xchmod(f, modes[i]);
		fsct_sync(H);
		struct fsc_stat c = assert_fresh(f);
		cr_assert_eq(c.mode & 07777, modes[i]);
	}
	stop();
}

Test(integration, chown_to_same_owner)
{
	start(NULL);
	PATH(f, "o.log");
	fsct_write(f, "o", 0);
	watch(f);
	assert_fresh(f);
	XCALL(chown(f, getuid(), getgid()), f); /* ctime changes */
	fsct_sync(H);
	assert_fresh(f);
	XCALL(chown(f, (uid_t)-1, getgid()), f);
	fsct_sync(H);
	assert_fresh(f);
	stop();
}

/*
 * A new hard link changes the inode's link count, which inotify reports
 * only to watches on the inode itself, not to the directory watches the
 * writer holds (README, "Limits"): nlink is fresh from the next event on
 * the path itself.
 */
Test(integration, hard_link_nlink_fresh_after_next_event)
{
	start(NULL);
	PATH(f, "n.log");
	fsct_write(f, "n", 0);
	watch(f);
	XCALL(link(f, P("n2.log")), f);
	fsct_write(f, "more", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).nlink, 2);
	xunlink(P("n2.log"));
	fsct_write(f, "more", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).nlink, 1);
	stop();
}

Test(integration, delete_is_cached_as_absent)
{
	start(NULL);
	PATH(f, "d.log");
	fsct_write(f, "d", 0);
	watch(f);
	cr_assert(assert_fresh(f).exists);
	xunlink(f);
	fsct_sync(H);
	struct fsc_stat c = assert_fresh(f);
	cr_assert_eq(c.exists, 0);
	cr_assert_eq(c.err, ENOENT);
	/* And back. */
	fsct_write(f, "again", 0);
	fsct_sync(H);
	cr_assert(assert_fresh(f).exists);
	stop();
}

/* ---- renames -------------------------------------------------------------- */

Test(integration, rename_away)
{
	start(NULL);
	PATH(a, "a.log");
	PATH(b, "b.log");
	fsct_write(a, "a", 0);
	ino_t ino = xstat(a).st_ino;
	watch(a);
	watch(b); /* does not exist yet */
	assert_fresh(a);
	assert_fresh(b);
	xrename(a, b);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(a).exists, 0);
	cr_assert_eq(assert_fresh(b).ino, ino);
	stop();
}

Test(integration, rename_across_directories)
{
	start(NULL);
	xmkdir(P("d1"));
	xmkdir(P("d2"));
	PATH(a, "d1/f.log");
	PATH(b, "d2/f.log");
	fsct_write(a, "f", 0);
	watch(a);
	watch(b);
	xrename(a, b);
	fsct_sync(H);
	assert_fresh(a);
	assert_fresh(b);
	xrename(b, a);
	fsct_sync(H);
	assert_fresh(a);
	assert_fresh(b);
	stop();
}

Test(integration, rename_onto_path_changes_inode)
{
	start(NULL);
	PATH(f, "cfg");
	PATH(tmp, "cfg.tmp");
	fsct_write(f, "old", 0);
	ino_t old = xstat(f).st_ino;
	watch(f);
	assert_fresh(f);
	fsct_write(tmp, "new contents", 0);
	ino_t fresh = xstat(tmp).st_ino;
	xrename(tmp, f);
	fsct_sync(H);
	struct fsc_stat c = assert_fresh(f);
	cr_assert_neq(c.ino, old);
	cr_assert_eq(c.ino, fresh);
	stop();
}

/* ---- paths that do not exist yet ----------------------------------------- */

Test(integration, creation_of_watched_path)
{
	start(NULL);
	PATH(f, "later.log");
	watch(f);
	cr_assert_eq(assert_fresh(f).exists, 0);
	fsct_write(f, "here", 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 1);
	fsct_write(f, " now", 1);
	fsct_sync(H);
	assert_fresh(f);
	stop();
}

Test(integration, missing_parent_directories)
{
	start(NULL);
	PATH(f, "d1/d2/f.log");
	watch(f);
	assert_fresh(f);
	xmkdir(P("d1"));
	fsct_sync(H);
	assert_fresh(f);
	xmkdir(P("d1/d2"));
	fsct_sync(H);
	assert_fresh(f);
	fsct_write(f, "made it", 0);
	fsct_sync(H);
	cr_assert(assert_fresh(f).exists);
	fsct_write(f, "\nand more", 1);
	fsct_sync(H);
	assert_fresh(f);
	stop();
}

Test(integration, parent_is_a_file)
{
	start(NULL);
	fsct_write(P("plain"), "x", 0);
	PATH(f, "plain/f.log"); /* stat: ENOTDIR */
	watch(f);
	cr_assert_eq(assert_fresh(f).exists, 0);
	xunlink(P("plain"));
	xmkdir(P("plain"));
	fsct_write(f, "y", 0);
	fsct_sync(H);
	cr_assert(assert_fresh(f).exists);
	stop();
}

Test(integration, directory_removed_and_recreated)
{
	start(NULL);
	xmkdir(P("logs"));
	PATH(a, "logs/a.log");
	PATH(b, "logs/b.log");
	fsct_write(a, "a", 0);
	fsct_write(b, "b", 0);
	watch(a);
	watch(b);
	rm_rf(P("logs"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(a).exists, 0);
	cr_assert_eq(assert_fresh(b).exists, 0);
	xmkdir(P("logs"));
	fsct_write(a, "a again", 0);
	fsct_sync(H);
	cr_assert(assert_fresh(a).exists);
	cr_assert_eq(assert_fresh(b).exists, 0);
	fsct_write(a, "+", 1);
	fsct_write(b, "b again", 0);
	fsct_sync(H);
	assert_fresh(a);
	cr_assert(assert_fresh(b).exists);
	stop();
}

Test(integration, directory_renamed_away_and_replaced)
{
	start(NULL);
	xmkdir(P("logs"));
	PATH(a, "logs/a.log");
	fsct_write(a, "a", 0);
	watch(a);
	xrename(P("logs"), P("logs.old"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(a).exists, 0);
	xmkdir(P("logs"));
	fsct_write(a, "new a", 0);
	fsct_sync(H);
	cr_assert(assert_fresh(a).exists);
	/* A write in the old directory must not disturb the new entry. */
	fsct_write(P("logs.old/a.log"), "old a grows", 1);
	fsct_write(a, "+", 1);
	fsct_sync(H);
	assert_fresh(a);
	stop();
}

/* ---- log rotation ---------------------------------------------------------- */

Test(integration, copytruncate_rotation)
{
	start(NULL);
	PATH(log, "app.log");
	PATH(old, "app.log.1");
	fsct_write(log, "line 1\nline 2\nline 3\n", 0);
	ino_t ino = xstat(log).st_ino;
	watch(log);
	watch(old);
	copy_file(log, old);
	xtruncate(log, 0);
	fsct_sync(H);
	struct fsc_stat c = assert_fresh(log);
	cr_assert_eq(c.ino, ino, "copytruncate keeps the inode");
	cr_assert_eq(c.size, 0);
	cr_assert(assert_fresh(old).exists);
	fsct_write(log, "line 4\n", 1);
	fsct_sync(H);
	assert_fresh(log);
	stop();
}

Test(integration, rename_create_rotation)
{
	start(NULL);
	PATH(log, "app.log");
	PATH(old, "app.log.1");
	fsct_write(log, "before rotation\n", 0);
	ino_t ino = xstat(log).st_ino;
	watch(log);
	watch(old);
	/* The application keeps writing through its descriptor. */
	int fd = open(log, O_WRONLY | O_APPEND | O_CLOEXEC);
	cr_assert(fd >= 0);
	xrename(log, old);
	fsct_write(log, "", 0);
	fsct_sync(H);
	cr_assert_neq(assert_fresh(log).ino, ino, "a new inode");
	cr_assert_eq(assert_fresh(old).ino, ino);
	cr_assert_eq(write(fd, "late line\n", 10), 10);
	close(fd);
	fsct_write(log, "after rotation\n", 1);
	fsct_sync(H);
	assert_fresh(log);
	assert_fresh(old);
	stop();
}

/* ---- misses, unwatch, invalidate -------------------------------------------- */

Test(integration, miss_then_watched)
{
	start(NULL);
	PATH(f, "m.log");
	PATH(gone, "nothing.log");
	fsct_write(f, "miss", 0);
	assert_lookup(f, FSC_MISS);
	struct fsc_stat c;
	cr_assert_eq(fsc_stat(H, f, &c), 0);
	cr_assert_eq(c.source, FSC_SOURCE_STAT);
	struct stat st = xstat(f);
	assert_same_at(&c, &st, f, __FILE__, __LINE__);
	cr_assert_eq(fsc_stat(H, gone, &c), 0);
	cr_assert_eq(c.source, FSC_SOURCE_STAT);
	cr_assert_eq(c.exists, 0);
	cr_assert_eq(c.err, ENOENT);
	fsct_sync(H); /* the miss requests were sent before: now cached */
	assert_fresh(f);
	cr_assert_eq(assert_fresh(gone).exists, 0);
	cr_assert_eq(fsc_stat(H, f, &c), 0);
	cr_assert_eq(c.source, FSC_SOURCE_CACHE);
	fsct_write(f, "+", 1);
	fsct_sync(H);
	assert_fresh(f);
	stop();
}

Test(integration, unwatch_drops_the_entry)
{
	start(NULL);
	PATH(f, "u.log");
	PATH(g, "keep.log");
	fsct_write(f, "u", 0);
	fsct_write(g, "k", 0);
	watch(f);
	watch(g);
	assert_fresh(f);
	unwatch(f);
	assert_lookup(f, FSC_MISS);
	fsct_write(f, "+", 1);
	fsct_write(g, "+", 1);
	fsct_sync(H);
	assert_lookup(f, FSC_MISS); /* not brought back by its events */
	assert_fresh(g);
	stop();
}

Test(integration, invalidate_clears_everything)
{
	start(NULL);
	char names[5][16];
	for (int i = 0; i < 5; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d.log", i);
		fsct_write(P(names[i]), "x", 0);
		watch(P(names[i]));
		assert_fresh(P(names[i]));
	}
	invalidate();
	for (int i = 0; i < 5; i++)
		assert_lookup(P(names[i]), FSC_MISS);
	for (int i = 0; i < 5; i++)
		fsct_write(P(names[i]), "+", 1);
	fsct_sync(H);
	for (int i = 0; i < 5; i++)
		assert_lookup(P(names[i]), FSC_MISS);
	/* The cache still works afterwards. */
	watch(P(names[0]));
	assert_fresh(P(names[0]));
	stop();
}

/* ---- symlinks ------------------------------------------------------------- */

Test(integration, symlink_to_file_in_another_directory)
{
	start(NULL);
	xmkdir(P("real"));
	xmkdir(P("links"));
	PATH(target, "real/app.log");
	PATH(lnk, "links/app.log");
	fsct_write(target, "t", 0);
	xsymlink(target, lnk);
	watch(lnk);
	struct fsc_stat c = assert_fresh(lnk);
	cr_assert_eq(c.ino, xstat(target).st_ino, "symlinks are followed");
	fsct_write(target, "more", 1);
	fsct_sync(H);
	assert_fresh(lnk);
	xchmod(target, 0600);
	fsct_sync(H);
	assert_fresh(lnk);
	/* Point the link somewhere else, atomically. */
	PATH(other, "real/other.log");
	fsct_write(other, "other file", 0);
	xsymlink(other, P("links/tmp"));
	xrename(P("links/tmp"), lnk);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(lnk).ino, xstat(other).st_ino);
	fsct_write(other, "+", 1);
	fsct_sync(H);
	assert_fresh(lnk);
	xunlink(other); /* dangling */
	fsct_sync(H);
	cr_assert_eq(assert_fresh(lnk).exists, 0);
	stop();
}

Test(integration, relative_symlink)
{
	start(NULL);
	xmkdir(P("real"));
	xmkdir(P("links"));
	fsct_write(P("real/r.log"), "r", 0);
	xsymlink("../real/r.log", P("links/r.log"));
	watch(P("links/r.log"));
	assert_fresh(P("links/r.log"));
	fsct_write(P("real/r.log"), "+", 1);
	fsct_sync(H);
	assert_fresh(P("links/r.log"));
	stop();
}

Test(integration, symlinked_directory)
{
	start(NULL);
	xmkdir(P("pods"));
	xmkdir(P("pods/p1"));
	xsymlink(P("pods/p1"), P("current"));
	PATH(f, "current/c.log");
	fsct_write(P("pods/p1/c.log"), "c", 0);
	watch(f);
	assert_fresh(f);
	fsct_write(P("pods/p1/c.log"), "+", 1);
	fsct_sync(H);
	assert_fresh(f);
	/* Re-point the directory link at a new directory. */
	xmkdir(P("pods/p2"));
	fsct_write(P("pods/p2/c.log"), "second pod", 0);
	xsymlink(P("pods/p2"), P("next"));
	xrename(P("next"), P("current"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).ino, xstat(P("pods/p2/c.log")).st_ino);
	fsct_write(P("pods/p2/c.log"), "+", 1);
	fsct_sync(H);
	assert_fresh(f);
	stop();
}

/* ---- a watched directory itself -------------------------------------------- */

Test(integration, watched_directory_entry)
{
	start(NULL);
	xmkdir(P("dir"));
	watch(P("dir"));
	assert_fresh(P("dir"));
	fsct_write(P("dir/child"), "c", 0); /* the directory's mtime changes */
	fsct_sync(H);
	assert_fresh(P("dir"));
	xmkdir(P("dir/sub")); /* and its nlink */
	fsct_sync(H);
	assert_fresh(P("dir"));
	stop();
}

/* ---- many files ----------------------------------------------------------- */

static void make_logs(char paths[][PATH_MAX], int n)
{
	xmkdir(P("logs"));
	for (int i = 0; i < n; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "logs/svc%03d.log", i);
		snprintf(paths[i], PATH_MAX, "%s", P(rel));
		fsct_write(paths[i], "start\n", 0);
	}
}

Test(integration, directory_of_200_logs)
{
	start(NULL);
	enum {
		N = 200
	};
	static char paths[N][PATH_MAX];
	make_logs(paths, N);
	for (int i = 0; i < N; i++)
		watch(paths[i]);
	fsct_sync(H);
	for (int i = 0; i < N; i++)
		assert_fresh(paths[i]);
	for (int i = 0; i < N; i += 3)
		fsct_write(paths[i], "tick\n", 1);
	fsct_sync(H);
	for (int i = 0; i < N; i++)
		assert_fresh(paths[i]);
	stop();
}

/*
 * The way an agent teaches the cache: by missing, 200 paths in a row.
 * fsc_stat() sends each miss as a fire-and-forget datagram; the barrier
 * promises every request sent before it, so all must hit afterwards.
 */
Test(integration, burst_of_200_misses)
{
	start(NULL);
	enum {
		N = 200
	};
	static char paths[N][PATH_MAX];
	make_logs(paths, N);
	for (int i = 0; i < N; i++) {
		struct fsc_stat c;
		cr_assert_eq(fsc_stat(H, paths[i], &c), 0);
		cr_assert_eq(c.source, FSC_SOURCE_STAT);
	}
	fsct_sync(H);
	int missing = 0, first = -1;
	for (int i = 0; i < N; i++) {
		struct fsc_stat c;
		if (fsc_lookup(H, paths[i], &c) != 0 && missing++ == 0)
			first = i;
	}
	cr_assert_eq(missing, 0,
		     "%d of %d missed paths not cached after sync "
		     "(first: %s). Miss requests are sent with MSG_DONTWAIT; "
		     "beyond the writer's datagram queue "
		     "(net.unix.max_dgram_qlen) sendto fails with EAGAIN and "
		     "fsc_stat() drops the request silently",
		     missing, N, first >= 0 ? paths[first] : "-");
	for (int i = 0; i < N; i++)
		assert_fresh(paths[i]);
	stop();
}

Test(integration, burst_of_changes)
{
	start(NULL);
	enum {
		FILES = 50,
		APPENDS = 1000
	};
	static char paths[FILES][PATH_MAX];
	for (int i = 0; i < FILES; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "b%02d.log", i);
		snprintf(paths[i], sizeof(paths[i]), "%s", P(rel));
		fsct_write(paths[i], "", 0);
		watch(paths[i]);
	}
	char line[128];
	for (int k = 0; k < APPENDS; k++) {
		int i = (k * 7) % FILES;
		int n = snprintf(line, sizeof(line), "append %d to file %d ", k,
				 i);
		memset(line + n, '.', (size_t)(k % 40));
		line[n + k % 40] = '\n';
		line[n + k % 40 + 1] = '\0';
		fsct_write(paths[i], line, 1);
	}
	fsct_sync(H);
	for (int i = 0; i < FILES; i++)
		assert_fresh(paths[i]);
	stop();
}

Test(integration, two_readers_agree)
{
	start(NULL);
	PATH(f, "shared.log");
	fsct_write(f, "s", 0);
	watch(f);
	fsc_handle *h2 = fsct_open(&W);
	fsct_write(f, "+", 1);
	fsct_sync(h2); /* a barrier through one handle serves every reader */
	assert_fresh(f);
	struct fsc_stat a, b;
	cr_assert_eq(fsc_lookup(h2, f, &b), 0);
	cr_assert_eq(fsc_lookup(H, f, &a), 0);
	cr_assert_eq(a.ino, b.ino);
	cr_assert_eq(a.size, b.size);
	fsc_close(h2);
	stop();
}

/* ---- what the cache must not serve ---------------------------------------- */

/* inotify cannot see changes on /proc: answered by stat(), never cached. */
Test(integration, pseudo_filesystem_not_served)
{
	start(NULL);
	static const char *const paths[] = { "/proc/uptime", "/proc/loadavg" };
	char msg[FSC_REPLY_MSG_MAX + 1];
	/* Whatever the writer replies to the watch, it must not serve it. */
	(void)fsc_control(H, FSC_OP_WATCH, paths[0], GUARD_MS, msg,
			  sizeof(msg));
	struct fsc_stat c;
	cr_assert_eq(fsc_stat(H, paths[1], &c), 0); /* a miss request */
	fsct_sync(H);
	for (size_t i = 0; i < 2; i++) {
		int r = fsc_lookup(H, paths[i], &c);
		cr_assert_neq(r, 0, "%s served from the cache", paths[i]);
		cr_assert_eq(fsc_stat(H, paths[i], &c), 0);
		cr_assert_eq(c.source, FSC_SOURCE_STAT, "%s", paths[i]);
		cr_assert(c.exists);
	}
	stop();
}

/* Paths longer than --path-max are answered by stat(), not refused. */
Test(integration, path_longer_than_path_max)
{
	const char *extra[] = { "--path-max", "64", NULL };
	start(extra);
	char name[100];
	memset(name, 'n', 80);
	strcpy(name + 80, ".log");
	PATH(f, name);
	fsct_write(f, "long", 0);
	struct fsc_stat c;
	cr_assert_eq(fsc_stat(H, f, &c), 0);
	cr_assert_eq(c.source, FSC_SOURCE_STAT);
	cr_assert_eq(c.size, 4);
	fsct_sync(H);
	assert_lookup(f, FSC_UNCACHED);
	PATH(s, "short.log"); /* shorter ones still are cached */
	fsct_write(s, "s", 0);
	watch(s);
	assert_fresh(s);
	stop();
}

/* A full table evicts: every answer is still either right or a miss. */
Test(integration, eviction_never_serves_wrong_data)
{
	const char *extra[] = { "--capacity", "16", NULL };
	start(extra);
	enum {
		N = 64
	};
	static char paths[N][PATH_MAX];
	for (int i = 0; i < N; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "e%02d.log", i);
		snprintf(paths[i], PATH_MAX, "%s", P(rel));
		fsct_write(paths[i], "e", 0);
		watch(paths[i]);
	}
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++)
			fsct_write(paths[i], "+", 1);
		fsct_sync(H);
		int hits = 0;
		for (int i = 0; i < N; i++) {
			struct fsc_stat c;
			int r = fsc_lookup(H, paths[i], &c);
			cr_assert(r == 0 || r == FSC_MISS, "%s: %d (%s)",
				  paths[i], r, fsc_strerror(r));
			if (r == 0) {
				assert_fresh(paths[i]);
				hits++;
			}
		}
		cr_assert_gt(hits, 0, "round %d: nothing cached at all", round);
		cr_assert_leq(hits, 16,
			      "round %d: %d entries cached with "
			      "--capacity 16",
			      round, hits);
	}
	stop();
}

/* ---- mounts ---------------------------------------------------------- */

/*
 * The mount tests run in a mount namespace of their own (the test process
 * and the writer it starts), so whatever happens to a test its mounts die
 * with the namespace: nothing is left on the host.  They need root (or
 * CAP_SYS_ADMIN) and are skipped, saying so, without it.
 */
static void mount_setup(void) /* after the suite's itest_setup() */
{
	if (unshare(CLONE_NEWNS) < 0) {
		int e = errno;

		itest_teardown(); /* a skipped test gets no .fini */
		cr_skip_test("mount tests need CAP_SYS_ADMIN: unshare: %s",
			     strerror(e));
	}
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
		     "making / private: %s", strerror(errno));
}

/* Mount points a failed test may leave, detached before the temp dir is
 * removed. */
static char mounted[4][PATH_MAX];

static void mounted_add(const char *dir)
{
	for (size_t i = 0; i < sizeof(mounted) / sizeof(mounted[0]); i++)
		if (!mounted[i][0]) {
			snprintf(mounted[i], PATH_MAX, "%s", dir);
			return;
		}
}

static void mount_teardown(void)
{
	for (size_t i = 0; i < sizeof(mounted) / sizeof(mounted[0]); i++)
		if (mounted[i][0])
			while (umount2(mounted[i], MNT_DETACH) == 0)
				;
	itest_teardown();
}

static void xmount_tmpfs(const char *dir)
{
	cr_assert_eq(mount("fsct", dir, "tmpfs", 0, "size=1m"), 0,
		     "mount tmpfs on %s: %s", dir, strerror(errno));
	mounted_add(dir);
}

static void xumount(const char *dir)
{
	cr_assert_eq(umount(dir), 0, "umount %s: %s", dir, strerror(errno));
}

/* Neither event source reports a mount over a watched directory. */
Test(integration, mount_over_a_watched_directory_is_seen, .init = mount_setup,
     .fini = mount_teardown)
{
	start(NULL);
	PATH(d, "d");
	PATH(f, "d/f.log");
	xmkdir(d);
	fsct_write(f, "abc", 0);
	watch(f);
	assert_fresh(f);
	uint64_t mounts = fsct_counter(H, FSC_CTR_MOUNT_CHANGES);

	xmount_tmpfs(d);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);
	cr_assert_gt(fsct_counter(H, FSC_CTR_MOUNT_CHANGES), mounts);
	fsct_write(f, "hello", 0); /* on the tmpfs */
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 5);

	xumount(d);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 3);
	fsct_write(f, "de", 1); /* the watch below is in force again */
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 5);
	stop();
}

/*
 * A mount point moves with a directory renamed above it, and the mount
 * table polls no change for that: the unmount that follows must still be
 * seen at the new path (found by tests/fsc_check.py: mount, exchange of
 * an ancestor, sync, umount at the new path, sync).
 */
Test(integration, an_unmount_after_its_mount_point_moved_is_seen,
     .init = mount_setup, .fini = mount_teardown)
{
	start(NULL);
	PATH(a, "a");
	PATH(b, "b");
	PATH(m, "a/m");
	PATH(moved, "b/m");
	PATH(f, "b/m/f.log");
	xmkdir(a);
	xmkdir(m);
	PATH(under, "a/m/f.log");
	fsct_write(under, "abc", 0);
	watch(f); /* b does not exist yet */
	watch(moved);
	cr_assert_eq(assert_fresh(f).exists, 0);

	xmount_tmpfs(m);
	fsct_sync(H); /* the writer has read the table: a/m */
	cr_assert_eq(rename(a, b), 0, "rename: %s", strerror(errno));
	mounted_add(moved);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0); /* the empty tmpfs */
	assert_fresh(moved);

	xumount(moved);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 3, "the tmpfs is still believed");
	assert_fresh(moved);
	stop();
}

/* ramfs has no file handles, so fanotify cannot mark its directories:
 * the writer watches them with inotify instead of giving them up. */
Test(integration, a_filesystem_fanotify_cannot_mark_is_still_cached,
     .init = mount_setup, .fini = mount_teardown)
{
	start(NULL);
	PATH(r, "r");
	PATH(f, "r/f.log");
	xmkdir(r);
	cr_assert_eq(mount("fsct", r, "ramfs", 0, NULL), 0,
		     "mount ramfs on %s: %s", r, strerror(errno));
	mounted_add(r);
	fsct_write(f, "abc", 0);
	watch(f);
	assert_fresh(f); /* a hit, from memory */
	fsct_write(f, "de", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 5);
	cr_assert_eq(unlink(f), 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);
	xumount(r);
	stop();
}

/* A path through a symlink may reach a mount point no prefix of its key
 * names. */
Test(integration, mount_under_a_symlinked_path_is_seen, .init = mount_setup,
     .fini = mount_teardown)
{
	start(NULL);
	PATH(real, "real");
	PATH(d, "real/d");
	PATH(link, "link");
	PATH(f, "link/d/f.log");
	xmkdir(real);
	xmkdir(d);
	cr_assert_eq(symlink("real", link), 0, "symlink: %s", strerror(errno));
	fsct_write(f, "abc", 0);
	watch(f);
	assert_fresh(f);
	xmount_tmpfs(d);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);
	xumount(d);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 3);
	stop();
}

static int shell(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * The same filesystem unmounted and mounted again: its directories come
 * back with the same file handles, but fanotify dropped its marks on them
 * at the unmount without an event, so the writer must mark them again.
 */
Test(integration, a_filesystem_mounted_again_is_watched_again,
     .init = mount_setup, .fini = mount_teardown)
{
	PATH(img, "fs.img");
	PATH(m, "m");
	PATH(sub, "m/d");
	PATH(f, "m/d/f.log");
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd),
		 "truncate -s 8M %s && mkfs.ext4 -q -F %s >/dev/null 2>&1", img,
		 img);
	if (shell(cmd) != 0) {
		mount_teardown(); /* a skipped test gets no .fini */
		cr_skip_test("cannot make an ext4 image (mkfs.ext4)");
	}
	xmkdir(m);
	snprintf(cmd, sizeof(cmd), "mount -o loop %s %s 2>/dev/null", img, m);
	if (shell(cmd) != 0) {
		mount_teardown();
		cr_skip_test("cannot mount a loop device here");
	}
	mounted_add(m);
	xmkdir(sub);
	fsct_write(f, "abc", 0);
	start(NULL);
	watch(f);
	assert_fresh(f);

	xumount(m);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);
	cr_assert_eq(shell(cmd), 0, "mounting %s again", img);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 3);
	fsct_write(f, "de", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 5);

	/* Both at once, as the writer sees them: its records of the
	 * directories survive, their marks do not. */
	cr_assert_eq(kill(W.pid, SIGSTOP), 0);
	xumount(m);
	cr_assert_eq(shell(cmd), 0, "mounting %s again", img);
	cr_assert_eq(kill(W.pid, SIGCONT), 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 5);
	fsct_write(f, "fg", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 7);
	xumount(m);
	stop();
}

/* ---- a writer running as an ordinary user ---------------------------- */

#define NOBODY 65534

/*
 * Start the writer as an ordinary user: as nobody through setpriv(1) when
 * the suite runs as root (root searches any directory: a chmod could not
 * change its answers), as ourselves otherwise.  H trusts its segment.
 */
static void start_unprivileged(void)
{
	if (geteuid() != 0) {
		start(NULL);
		return;
	}
	char wrapper[PATH_MAX], text[2 * PATH_MAX], uid[16];
	snprintf(wrapper, sizeof(wrapper), "%s", P("as-nobody"));
	snprintf(text, sizeof(text),
		 "#!/bin/sh\nexec setpriv --reuid=%u --regid=%u "
		 "--clear-groups -- '%s' \"$@\"\n",
		 NOBODY, NOBODY, fsct_writer_binary());
	fsct_write(wrapper, text, 0);
	xchmod(wrapper, 0755);
	/* Its socket is made in the test's directory. */
	XCALL(chown(W.dir, NOBODY, NOBODY), W.dir);
	char *saved = strdup(fsct_writer_binary());
	cr_assert_not_null(saved);
	cr_assert_eq(setenv("FSTATCACHED", wrapper, 1), 0);
	fsct_writer_start(&W, NULL);
	cr_assert_eq(setenv("FSTATCACHED", saved, 1), 0);
	free(saved);
	snprintf(uid, sizeof(uid), "%u", NOBODY);
	cr_assert_eq(setenv("FSTATCACHE_OWNER_UID", uid, 1), 0);
	H = fsct_open(&W);
	cr_assert_eq(unsetenv("FSTATCACHE_OWNER_UID"), 0);
}

/* The writer's user cannot stat `path` now: the cache must not answer. */
static void assert_not_served_at(const char *path, const char *file, int line)
{
	struct fsc_stat c;
	int r = fsc_lookup(H, path, &c);
	cr_assert(r != 0 || c.source != FSC_SOURCE_CACHE,
		  "%s:%d: %s is behind a directory the writer may not "
		  "search, but the cache answers (exists %d, ino %llu)",
		  file, line, path, c.exists, (unsigned long long)c.ino);
}
#define assert_not_served(p) assert_not_served_at((p), __FILE__, __LINE__)

/*
 * chmod 000 (no search) or 0600 (read, no search) on the parent or the
 * grandparent of a watched file: the writer's stat() says EACCES, so
 * after sync the cache must not answer "exists"; chmod back, and the
 * cached answer must come back.  The nameless attribute event of the
 * directory itself (or, once it cannot be watched, the named one in the
 * directory above) re-resolves the paths below it.
 */
Test(integration, search_permission_taken_from_a_directory_above)
{
	start_unprivileged();
	PATH(a, "a");
	PATH(b, "a/b");
	PATH(f, "a/b/f.log");
	xmkdir(a);
	xmkdir(b);
	fsct_write(f, "abc\n", 0);
	watch(f);
	fsct_sync(H);
	assert_fresh(f);
	static const mode_t modes[] = { 0, 0600, 0700 };
	const char *dirs[] = { b, a };
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
			xchmod(dirs[d], modes[i]);
			fsct_sync(H);
			if (geteuid() == 0 || modes[i] != 0700)
				assert_not_served(f);
			xchmod(dirs[d], 0755);
			fsct_sync(H);
			assert_fresh(f);
			fsct_write(f, "d", 1); /* and watched again */
			fsct_sync(H);
			assert_fresh(f);
		}
	stop();
}

/* ---- readers in another mount namespace (issue 13, item 9) ----------- */

/*
 * The segment records the writer's mount namespace; a reader in another
 * one is not served (-EXDEV) unless it opts in, with the flag or the
 * environment variable.  Skipped where unshare(CLONE_NEWNS) is refused.
 */
/*
 * Run child(path) in a child process in a mount namespace of its own; its
 * exit status (0: all it checked held).  Skips the test where the kernel
 * refuses the namespace.
 */
static int in_another_mount_ns(int (*child)(const char *path), const char *path)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(unshare(CLONE_NEWNS) < 0 ? 77 : child(path));
	int st = fsct_child_status(pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		stop();
		cr_skip_test("unshare(CLONE_NEWNS) refused here");
	}
	return st;
}

static int not_served_unless_asked(const char *f)
{
	fsc_handle *h = NULL;
	struct fsc_stat st;
	unsetenv("FSTATCACHE_ANY_MOUNT_NS");
	if (fsc_open(&h, W.name, FSC_OPEN_ATTACHED) != -EXDEV)
		return 1;
	if (fsc_open(&h, W.name, 0) != 0 || fsc_attach_error(h) != -EXDEV ||
	    fsc_lookup(h, f, &st) != FSC_UNCACHED || fsc_stat(h, f, &st) != 0 ||
	    st.source != FSC_SOURCE_STAT)
		return 2;
	fsc_close(h);
	if (fsc_open(&h, W.name, FSC_OPEN_ATTACHED | FSC_OPEN_ANY_MOUNT_NS) !=
		    0 ||
	    fsc_lookup(h, f, &st) != 0 || st.size != 4)
		return 3;
	fsc_close(h);
	setenv("FSTATCACHE_ANY_MOUNT_NS", "1", 1);
	if (fsc_open(&h, W.name, FSC_OPEN_ATTACHED) != 0)
		return 4;
	fsc_close(h);
	return 0;
}

Test(integration, a_reader_in_another_mount_namespace_is_not_served)
{
	start(NULL);
	PATH(f, "f.log");
	fsct_write(f, "abc\n", 0);
	watch(f);
	struct fsc_header hdr;
	cr_assert_eq(fsc_header_read(H, &hdr), 0);
	cr_assert_eq(hdr.mnt_ns, fsc_mnt_ns_self());
	cr_assert_neq(hdr.mnt_ns, 0);
	int st = in_another_mount_ns(not_served_unless_asked, f);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the reader in another mount namespace: 0x%x (1: attached "
		  "without opting in, 2: served, 3: flag, 4: environment)",
		  st);
	/* Ours still is. */
	assert_fresh(f);
	stop();
}

static int served(const char *f)
{
	fsc_handle *h = NULL;
	struct fsc_stat st;
	if (fsc_open(&h, W.name, FSC_OPEN_ATTACHED) != 0 ||
	    fsc_lookup(h, f, &st) != 0 || st.size != 4)
		return 1;
	fsc_close(h);
	return 0;
}

/* A writer given $FSTATCACHE_ANY_MOUNT_NS=1 (the packaged unit, whose
 * sandbox is a mount namespace of its own) records none: readers in
 * every namespace are served. */
Test(integration, a_writer_may_serve_every_mount_namespace)
{
	cr_assert_eq(setenv("FSTATCACHE_ANY_MOUNT_NS", "1", 1), 0);
	start(NULL);
	unsetenv("FSTATCACHE_ANY_MOUNT_NS");
	PATH(f, "f.log");
	fsct_write(f, "abc\n", 0);
	watch(f);
	struct fsc_header hdr;
	cr_assert_eq(fsc_header_read(H, &hdr), 0);
	cr_assert_eq(hdr.mnt_ns, 0);
	int st = in_another_mount_ns(served, f);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the reader in another mount namespace: 0x%x", st);
	stop();
}
