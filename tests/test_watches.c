/*
 * test_watches.c - the watch bookkeeping against real directories.
 *
 * Every test gets a fresh engine and a fresh directory under /tmp.  No
 * sleeps: the kernel queues an inotify event before the system call that
 * caused it returns, so fw_watches_read() right after it sees it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"
#include "watches.h"

static char root[PATH_MAX];
static struct fw_watches *w;

/* Paths popped off the dirty list by the last collect() or settle(). */
static char *seen[4096];
static size_t nseen;

static void seen_clear(void)
{
	while (nseen > 0)
		free(seen[--nseen]);
}

/* root + "/" + printf(fmt), valid until the end of the test. */
static char *made[1024];
static size_t nmade;

static const char *at(const char *fmt, ...)
{
	char rel[PATH_MAX];
	char *b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	cr_assert_lt(nmade, 1024);
	cr_assert_gt(asprintf(&b, "%s/%s", root, rel), 0);
	made[nmade++] = b;
	return b;
}

static void made_free(void)
{
	while (nmade > 0)
		free(made[--nmade]);
}

static void setup(void)
{
	strcpy(root, "/tmp/fsc-watches-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	/* FSCT_EVENTS picks the source, as for the writer (harness.c). */
	const char *ev = getenv("FSCT_EVENTS");
	int kind = ev ? fw_source_parse(ev) : FW_SOURCE_AUTO;
	char why[160];

	cr_assert_geq(kind, 0, "FSCT_EVENTS=%s", ev);
	cr_assert_eq(fw_watches_new(&w, kind, why, sizeof(why)), 0);
	/* The tests count directory watches, in the kernel too; marks on
	 * files are tested on their own (hard_link_writes_...). */
	fw_watches_set_file_marks(w, false);
}

/* Keep going past a failure: leave as little behind as possible. */
static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0 && errno != ENOENT)
		cr_log_warn("cleanup: remove %s: %s", path, strerror(errno));
	return 0;
}

static void teardown(void)
{
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, 0, 0);
	fw_watches_free(w);
	w = NULL;
	seen_clear();
	if (root[0])
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	root[0] = '\0';
	made_free();
}

TestSuite(watches, .init = setup, .fini = teardown, .timeout = 60);

static void append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, "x\n", 2), 2);
	close(fd);
}

static void mkdir_ok(const char *path)
{
	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %s", path,
		     strerror(errno));
}

static void symlink_ok(const char *target, const char *link)
{
	cr_assert_eq(symlink(target, link), 0, "symlink %s: %s", link,
		     strerror(errno));
}

/* Replace a link atomically, as `ln -sfn` does. */
static void repoint(const char *target, const char *link)
{
	const char *tmp = at("repoint.tmp");

	symlink_ok(target, tmp);
	cr_assert_eq(rename(tmp, link), 0);
}

static void add_ok(const char *path)
{
	int rc = fw_watches_add(w, path);

	cr_assert_eq(rc, 0, "add %s: %s", path, strerror(-rc));
}

/* Read the events, pop every dirty path once. */
static struct fw_watches_batch collect(void)
{
	struct fw_watches_batch b;
	const char *p;

	seen_clear();
	cr_assert_eq(fw_watches_read(w, &b), 0);
	while ((p = fw_watches_next_dirty(w)) && nseen < 4096)
		seen[nseen++] = strdup(p);
	return b;
}

/* What the writer's loop does: read, refresh (re-watch) each dirty path,
 * until nothing is dirty.  Every path dirty on the way is in seen[]. */
static void settle(void)
{
	seen_clear();
	for (int round = 0; round < 16; round++) {
		struct fw_watches_batch b;
		const char *p;
		bool any = false;

		cr_assert_eq(fw_watches_read(w, &b), 0);
		while ((p = fw_watches_next_dirty(w))) {
			int rc = fw_watches_refresh(w, p);

			cr_assert_eq(rc, 0, "refresh %s: %s", p, strerror(-rc));
			if (nseen < 4096)
				seen[nseen++] = strdup(p);
			any = true;
		}
		if (!any)
			return;
	}
	cr_assert_fail("still dirty after 16 rounds");
}

static size_t times_seen(const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < nseen; i++)
		n += strcmp(seen[i], path) == 0;
	return n;
}

#define assert_dirty(path) \
	cr_assert_eq(times_seen(path), 1, "%s not dirty once", path)
#define assert_clean(path) cr_assert_eq(times_seen(path), 0, "%s dirty", path)

/* ---- the events of one file ------------------------------------------------ */

Test(watches, append_marks_dirty)
{
	const char *f = at("f.log");

	append(f);
	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	collect();
	assert_clean(f);
	append(f);
	collect();
	assert_dirty(f);
	cr_assert_null(fw_watches_next_dirty(w));
}

/* With marks on files (fanotify), a write through a name in a directory
 * nobody watches still reaches the path. */
Test(watches, hard_link_writes_mark_dirty_with_file_marks)
{
	const char *f = at("f.log"), *g = at("other/g.log");

	fw_watches_set_file_marks(w, true);
	if (!fw_watches_file_marks(w)) {
		teardown(); /* a skipped test gets no .fini */
		cr_skip_test("no marks on files with this event source");
	}
	mkdir_ok(at("other"));
	append(f);
	cr_assert_eq(link(f, g), 0, "link: %s", strerror(errno));
	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	cr_assert_eq(fw_watches_nfiles(w), 1);
	collect();
	assert_clean(f);
	append(g);
	collect();
	assert_dirty(f);
	/* Unwatched, the file's mark goes with the directory's. */
	cr_assert_eq(fw_watches_remove(w, f), 0);
	cr_assert_eq(fw_watches_nfiles(w), 0);
	cr_assert_eq(fw_watches_nwatches(w), 0);
}

/* A file written on separate reads (the kernel merges a file's events
 * that wait together) until it is silenced: how many reads it took. */
static int heat(const char *f)
{
	struct fw_watches_batch b;

	for (int i = 1; i <= 64; i++) {
		append(f);
		cr_assert_eq(fw_watches_read(w, &b), 0);
		if (b.quieted)
			return i;
	}
	cr_assert_fail("never silenced");
	return 0;
}

/* A file dirty again soon after its re-stat is quieted: its writes bring
 * no events until a re-stat hears it again first. */
Test(watches, a_hot_file_is_quiet_until_its_re_stat)
{
	const char *f = at("f.log");
	struct fw_watches_batch b;

	fw_watches_set_file_marks(w, true);
	if (!fw_watches_file_marks(w)) {
		teardown(); /* a skipped test gets no .fini */
		cr_skip_test("no marks on files with this event source");
	}
	fw_watches_set_settle(w, 10ull * 1000000000u); /* all "soon" */
	append(f);
	add_ok(f);
	append(f); /* dirty at level 0: heard */
	collect();
	assert_dirty(f);
	cr_assert_eq(fw_watches_refresh(w, f), 0);
	cr_assert_eq(fw_watches_quieted(w), 0);
	append(f); /* dirty again soon after its re-stat: level 1 */
	cr_assert_eq(fw_watches_read(w, &b), 0);
	cr_assert_eq(b.quieted, 0, "silenced at its first event");
	/* Written on: silenced at the second write that brings no news
	 * (reading an event costs about half a silencing). */
	cr_assert_eq(heat(f), 2);
	cr_assert_eq(fw_watches_ndirty(w), 1);
	/* Dirty and quiet: a thousand writes, no event. */
	for (int i = 0; i < 1000; i++)
		append(f);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	cr_assert_eq(b.events, 0, "%llu events while quiet",
		     (unsigned long long)b.events);
	/* Its re-stat hears it again first. */
	cr_assert_eq(fw_watches_refresh(w, f), 0);
	append(f);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	cr_assert_geq(b.events, 1);
	cr_assert_eq(fw_watches_ndirty(w), 1);
	/* Taken off the dirty list, it is heard again too. */
	collect();
	append(f);
	b = collect();
	assert_dirty(f);
	cr_assert_geq(b.events, 1);
	/* A file renamed away while quiet is not left deaf: watched under
	 * its new name, its next write is heard. */
	cr_assert_eq(fw_watches_refresh(w, f), 0);
	heat(f);
	cr_assert_eq(rename(f, at("f.1")), 0);
	settle(); /* f re-resolved: the mark of f.1 is let go */
	add_ok(at("f.1"));
	append(at("f.1"));
	collect();
	assert_dirty(at("f.1"));
}

/* A silenced file's path that comes due is asked with one fstat(), not
 * heard again: written since, it stays silenced and waits longer;
 * unchanged for the whole delay, it is re-stat'ed (and heard again). */
Test(watches, a_silenced_file_still_written_stays_silenced)
{
	const char *f = at("f.log");
	struct fw_watches_batch b;
	uint64_t due, s = 10ull * 1000000000u, now;

	fw_watches_set_file_marks(w, true);
	if (!fw_watches_file_marks(w)) {
		teardown(); /* a skipped test gets no .fini */
		cr_skip_test("no marks on files with this event source");
	}
	fw_watches_set_settle(w, s);
	append(f);
	add_ok(f);
	append(f);
	collect();
	cr_assert_eq(fw_watches_refresh(w, f), 0);
	heat(f); /* dirty again soon, and on and on: silenced */
	cr_assert_eq(fw_watches_quieted(w), 1);

	/* Written while silenced; due (made-up clock, far ahead): still
	 * written, so not re-stat'ed, and still not heard. */
	append(f);
	now = fw_monotonic_ns() + 1000 * s;
	cr_assert_null(fw_watches_next_settled(w, now, &due));
	cr_assert_gt(due, now);
	cr_assert_eq(fw_watches_ndirty(w), 1);
	append(f);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	cr_assert_eq(b.events, 0, "heard again while still written");
	now += 1000 * s;
	cr_assert_null(fw_watches_next_settled(w, now, &due));
	cr_assert_eq(fw_watches_ndirty(w), 1);
	/* Unchanged for the whole delay: re-stat'ed, heard again first. */
	now += 1000 * s;
	const char *p = fw_watches_next_settled(w, now, &due);
	cr_assert_not_null(p, "never re-stat'ed");
	cr_assert_str_eq(p, f);
	cr_assert_eq(fw_watches_ndirty(w), 0);
	append(f);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	cr_assert_geq(b.events, 1);
	cr_assert_eq(fw_watches_ndirty(w), 1);
	cr_assert_eq(fw_watches_quieted(w), 1, "silenced once in all");
}

/* The path table is grown with the paths, not left to liburcu's lazy
 * resizing (which left 10,000 paths in 16 buckets). */
Test(watches, the_path_table_grows_with_the_paths)
{
	char name[32];

	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%03d.log", i);
		add_ok(at(name));
	}
	cr_assert_eq(fw_watches_npaths(w), 300);
	cr_assert_geq(fw_watches_path_buckets(w), 600);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%03d.log", i);
		cr_assert_eq(fw_watches_remove(w, at(name)), 0);
	}
	cr_assert_eq(fw_watches_npaths(w), 0);
}

/* Issue 13, item 3: the walk finds a directory missing, and before it
 * watches the directory above for it, someone makes it (and a file in
 * it): the walk looks again once its watch is in place, so the file is
 * watched, not believed missing for good. */
static void make_it(void *ctx, const char *missing)
{
	const char *file = ctx;
	static bool made;

	if (made) /* once: the walk that looks again finds it */
		return;
	made = true;
	cr_assert_eq(mkdir(missing, 0755), 0, "mkdir %s: %s", missing,
		     strerror(errno));
	append(file);
}

Test(watches, a_directory_made_between_the_walk_and_its_watch)
{
	char f[PATH_MAX];

	snprintf(f, sizeof(f), "%s", at("sub/f.log"));
	fw_watches_set_walk_hook(w, make_it, f);
	add_ok(f);
	fw_watches_set_walk_hook(w, NULL, NULL);
	settle();
	append(f); /* seen only if sub/ is watched */
	collect();
	assert_dirty(f);
}

Test(watches, truncate_marks_dirty)
{
	const char *f = at("f.log");

	append(f);
	add_ok(f);
	cr_assert_eq(truncate(f, 0), 0);
	collect();
	assert_dirty(f);
}

Test(watches, chmod_marks_dirty)
{
	const char *f = at("f.log");

	append(f);
	add_ok(f);
	cr_assert_eq(chmod(f, 0600), 0);
	collect();
	assert_dirty(f);
}

Test(watches, delete_marks_dirty)
{
	const char *f = at("f.log");

	append(f);
	add_ok(f);
	cr_assert_eq(unlink(f), 0);
	collect();
	assert_dirty(f);
}

Test(watches, rename_away_marks_dirty)
{
	const char *f = at("f.log"), *g = at("f.log.1");

	append(f);
	add_ok(f);
	cr_assert_eq(rename(f, g), 0);
	collect();
	assert_dirty(f);
	assert_clean(g);
}

Test(watches, rename_onto_marks_dirty)
{
	const char *f = at("f.log"), *g = at("f.log.new");

	append(f);
	append(g);
	add_ok(f);
	cr_assert_eq(rename(g, f), 0);
	collect();
	assert_dirty(f);
}

Test(watches, create_of_missing_path_marks_dirty)
{
	const char *f = at("later.log");

	add_ok(f);
	cr_assert_eq(fw_watches_npaths(w), 1);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	append(f);
	collect();
	assert_dirty(f);
}

Test(watches, other_names_are_coalesced)
{
	const char *f = at("f.log");
	struct fw_watches_batch b;

	append(f);
	add_ok(f);
	append(at("other.log"));
	b = collect();
	cr_assert_eq(nseen, 0);
	cr_assert_geq(b.events, 1);
	cr_assert_eq(b.coalesced, b.events);
	cr_assert_not(b.overflow);
}

/* ---- directories ------------------------------------------------------------ */

Test(watches, missing_parent_is_watched_from_ancestor)
{
	const char *f = at("a/b/c/f.log");

	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* root, for "a" */
	mkdir_ok(at("a"));
	settle();
	assert_dirty(f);
	mkdir_ok(at("a/b"));
	mkdir_ok(at("a/b/c"));
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* a/b/c now */
	append(f);
	settle();
	assert_dirty(f);
	/* The ancestors' watches were dropped: they say nothing any more. */
	append(at("a/x"));
	append(at("a/b/x"));
	collect();
	cr_assert_eq(nseen, 0);
	append(f);
	collect();
	assert_dirty(f);
}

Test(watches, mkdir_p_at_once_resolves_to_deepest)
{
	const char *f = at("a/b/c/f.log");

	add_ok(f);
	mkdir_ok(at("a"));
	mkdir_ok(at("a/b"));
	mkdir_ok(at("a/b/c"));
	append(f);
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_refresh(w, f), 0);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	append(f);
	collect();
	assert_dirty(f);
}

Test(watches, whole_directory_removal)
{
	const char *d = at("d"), *f = at("d/f.log");

	mkdir_ok(d);
	append(f);
	add_ok(f);
	cr_assert_eq(unlink(f), 0);
	cr_assert_eq(rmdir(d), 0);
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_npaths(w), 1);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* root, for "d" */
	mkdir_ok(d);
	append(f);
	settle();
	assert_dirty(f);
	append(f);
	collect();
	assert_dirty(f);
}

Test(watches, directory_moved_away)
{
	const char *d = at("d"), *f = at("d/f.log");

	mkdir_ok(d);
	append(f);
	add_ok(f);
	cr_assert_eq(rename(d, at("d.old")), 0);
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* root, for "d" */
	/* The moved directory's watch is gone: it concerns no path now. */
	append(at("d.old/f.log"));
	collect();
	assert_clean(f);
	mkdir_ok(d);
	settle();
	assert_dirty(f);
	append(f);
	collect();
	assert_dirty(f);
}

Test(watches, many_files_share_one_watch)
{
	for (int i = 0; i < 100; i++)
		add_ok(at("f%03d.log", i));
	cr_assert_eq(fw_watches_npaths(w), 100);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	append(at("f042.log"));
	collect();
	cr_assert_eq(nseen, 1);
	assert_dirty(at("f042.log"));
	for (int i = 0; i < 100; i++)
		cr_assert_eq(fw_watches_remove(w, at("f%03d.log", i)), 0);
	cr_assert_eq(fw_watches_nwatches(w), 0);
}

Test(watches, symlinked_directory_shares_the_watch)
{
	mkdir_ok(at("real"));
	symlink_ok("real", at("alias"));
	add_ok(at("real/f.log"));
	add_ok(at("alias/g.log"));
	/* real: one inode, one watch; and root, for the link "alias". */
	cr_assert_eq(fw_watches_nwatches(w), 2);
	append(at("real/g.log"));
	collect();
	assert_dirty(at("alias/g.log"));
	cr_assert_eq(fw_watches_remove(w, at("real/f.log")), 0);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	append(at("alias/g.log"));
	collect();
	assert_dirty(at("alias/g.log"));
}

Test(watches, tracked_directory_sees_its_entries)
{
	const char *d = at("d");

	mkdir_ok(d);
	add_ok(d);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root for "d", and d */
	append(at("d/new"));
	collect();
	assert_dirty(d);
}

/* ---- symlinks ----------------------------------------------------------------- */

Test(watches, symlink_to_file_in_other_dir)
{
	const char *link = at("links/app.log");

	mkdir_ok(at("links"));
	mkdir_ok(at("old"));
	mkdir_ok(at("new"));
	append(at("old/t.log"));
	append(at("new/u.log"));
	symlink_ok(at("old/t.log"), link);
	add_ok(link);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	append(at("old/t.log"));
	collect();
	assert_dirty(link);

	repoint(at("new/u.log"), link);
	settle();
	assert_dirty(link);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* links and new */
	append(at("new/u.log"));
	collect();
	assert_dirty(link);
	append(at("old/t.log"));
	collect();
	assert_clean(link);
}

Test(watches, relative_symlink_chain)
{
	/* a/l1 -> ../b/l2 -> ../c/t.log: three directories. */
	const char *link = at("a/l1");

	mkdir_ok(at("a"));
	mkdir_ok(at("b"));
	mkdir_ok(at("c"));
	append(at("c/t.log"));
	symlink_ok("../b/l2", link);
	symlink_ok("../c/t.log", at("b/l2"));
	add_ok(link);
	cr_assert_eq(fw_watches_nwatches(w), 3);
	append(at("c/t.log"));
	collect();
	assert_dirty(link);
	/* The middle link re-pointed: seen, and refresh follows it. */
	append(at("a/t2.log"));
	repoint("../a/t2.log", at("b/l2"));
	settle();
	assert_dirty(link);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* a and b */
	append(at("a/t2.log"));
	collect();
	assert_dirty(link);
}

Test(watches, dangling_symlink)
{
	const char *link = at("l");

	mkdir_ok(at("t"));
	symlink_ok(at("t/missing"), link);
	add_ok(link);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	append(at("t/missing"));
	collect();
	assert_dirty(link);
}

Test(watches, dangling_symlink_into_missing_dirs)
{
	const char *link = at("l");

	symlink_ok(at("x/y/t"), link);
	add_ok(link);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* root, for "l" and "x" */
	mkdir_ok(at("x"));
	mkdir_ok(at("x/y"));
	settle();
	assert_dirty(link);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	append(at("x/y/t"));
	collect();
	assert_dirty(link);
}

Test(watches, symlink_loop_terminates, .timeout = 10)
{
	symlink_ok("l2", at("l1"));
	symlink_ok("l1", at("l2"));
	symlink_ok("self", at("self"));
	add_ok(at("l1"));
	add_ok(at("self"));
	cr_assert_eq(fw_watches_npaths(w), 2);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	cr_assert_eq(fw_watches_refresh(w, at("l1")), 0);
	/* Breaking the loop is seen. */
	cr_assert_eq(unlink(at("l2")), 0);
	collect();
	assert_dirty(at("l1"));
}

Test(watches, long_symlink_chain_is_bounded, .timeout = 10)
{
	/* 60 links in a row: past the 40 hops stat(2) follows. */
	for (int i = 0; i < 60; i++) {
		char target[32];

		snprintf(target, sizeof target, "l%d", i + 1);
		symlink_ok(target, at("l%d", i));
	}
	add_ok(at("l0"));
	cr_assert_eq(fw_watches_nwatches(w), 1);
	cr_assert_eq(unlink(at("l5")), 0);
	collect();
	assert_dirty(at("l0"));
}

/* ---- symlinked directory components ------------------------------------------ */

/* pods/p1 and pods/p2, each with c.log; current -> pods/p1 (absolute). */
static const char *pods_current(void)
{
	mkdir_ok(at("pods"));
	mkdir_ok(at("pods/p1"));
	mkdir_ok(at("pods/p2"));
	append(at("pods/p1/c.log"));
	append(at("pods/p2/c.log"));
	symlink_ok(at("pods/p1"), at("current"));
	return at("current/c.log");
}

static void refresh_ok(const char *path)
{
	int rc = fw_watches_refresh(w, path);

	cr_assert_eq(rc, 0, "refresh %s: %s", path, strerror(-rc));
}

Test(watches, symlinked_dir_component_repointed)
{
	const char *f = pods_current();

	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root for "current", p1 */
	collect();
	assert_clean(f);
	append(at("pods/p1/c.log"));
	collect();
	assert_dirty(f);

	/* ln -s pods/p2 next && mv -T next current: the rename alone tells. */
	repoint(at("pods/p2"), at("current"));
	collect();
	assert_dirty(f);
	refresh_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root and p2; p1 dropped */
	append(at("pods/p2/c.log"));
	collect();
	assert_dirty(f);
	append(at("pods/p1/c.log"));
	collect();
	assert_clean(f);

	/* rm current && ln -s pods/p1 current: delete, then create. */
	cr_assert_eq(unlink(at("current")), 0);
	collect();
	assert_dirty(f);
	symlink_ok("pods/p1", at("current"));
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root and p1 */
	append(at("pods/p1/c.log"));
	collect();
	assert_dirty(f);
	append(at("pods/p2/c.log"));
	collect();
	assert_clean(f);
	cr_assert_eq(fw_watches_remove(w, f), 0);
	cr_assert_eq(fw_watches_nwatches(w), 0);
}

Test(watches, symlinked_dir_component_shared_by_paths)
{
	const char *f = pods_current(), *g = at("current/g.log");

	add_ok(f);
	add_ok(g);
	add_ok(at("pods/p2/c.log"));
	cr_assert_eq(fw_watches_nwatches(w), 3); /* root, p1, p2 */
	repoint(at("pods/p2"), at("current"));
	settle();
	assert_dirty(f);
	assert_dirty(g);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root, p2 */
	append(at("pods/p2/c.log"));
	collect();
	assert_dirty(f);
	assert_dirty(at("pods/p2/c.log"));
	assert_clean(g);
}

Test(watches, chain_of_two_symlinked_dir_components)
{
	/* logs -> vol1, vol1/app -> ../apps/a1: logs/app/x.log is apps/a1/x.log */
	const char *f = at("logs/app/x.log");

	mkdir_ok(at("vol1"));
	mkdir_ok(at("vol2"));
	mkdir_ok(at("apps"));
	mkdir_ok(at("apps/a1"));
	mkdir_ok(at("apps/a2"));
	mkdir_ok(at("apps/a3"));
	symlink_ok("vol1", at("logs"));
	symlink_ok("../apps/a1", at("vol1/app"));
	symlink_ok(at("apps/a3"), at("vol2/app"));
	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 3); /* root, vol1, a1 */
	append(at("apps/a1/x.log"));
	collect();
	assert_dirty(f);

	/* The inner link re-pointed. */
	repoint("../apps/a2", at("vol1/app"));
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 3); /* root, vol1, a2 */
	append(at("apps/a2/x.log"));
	collect();
	assert_dirty(f);
	append(at("apps/a1/x.log"));
	collect();
	assert_clean(f);

	/* The outer one: vol1 no longer concerns the path. */
	repoint("vol2", at("logs"));
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 3); /* root, vol2, a3 */
	append(at("apps/a3/x.log"));
	collect();
	assert_dirty(f);
	repoint("../apps/a1", at("vol1/app"));
	append(at("apps/a2/x.log"));
	collect();
	assert_clean(f);
}

Test(watches, symlinked_dir_component_becomes_real_directory)
{
	const char *f = pods_current();

	add_ok(f);
	cr_assert_eq(unlink(at("current")), 0);
	mkdir_ok(at("current"));
	append(f);
	settle();
	assert_dirty(f);
	/* A plain directory now: its own watch only. */
	cr_assert_eq(fw_watches_nwatches(w), 1);
	append(f);
	collect();
	assert_dirty(f);
	append(at("pods/p1/c.log"));
	collect();
	assert_clean(f);

	/* And back: the directory's watch sees it moved away. */
	cr_assert_eq(rename(at("current"), at("current.old")), 0);
	symlink_ok("pods/p1", at("current"));
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root, p1 */
	append(at("pods/p1/c.log"));
	collect();
	assert_dirty(f);
	append(at("current.old/c.log"));
	collect();
	assert_clean(f);
}

Test(watches, dangling_symlinked_dir_component)
{
	const char *f = at("current/c.log");

	mkdir_ok(at("pods"));
	symlink_ok(at("pods/p9"), at("current"));
	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root, pods for "p9" */
	mkdir_ok(at("pods/p9"));
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root, p9 */
	append(at("pods/p9/c.log"));
	collect();
	assert_dirty(f);
}

Test(watches, dangling_symlinked_dir_component_into_missing_dirs)
{
	const char *f = at("current/c.log");

	symlink_ok("x/y", at("current"));
	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* root, "current" and "x" */
	mkdir_ok(at("x"));
	mkdir_ok(at("x/y"));
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root, x/y */
	append(at("x/y/c.log"));
	collect();
	assert_dirty(f);
}

Test(watches, file_as_dir_component)
{
	const char *f = at("file/x");

	append(at("file"));
	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* root, for "file" */
	cr_assert_eq(unlink(at("file")), 0);
	mkdir_ok(at("file"));
	append(f);
	settle();
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* file, a directory now */
}

Test(watches, dotdot_after_symlinked_dir_component)
{
	/* up -> sub/deep, so l -> up/../t.log is sub/t.log, as stat(2) has it. */
	const char *link = at("l");

	mkdir_ok(at("sub"));
	mkdir_ok(at("sub/deep"));
	mkdir_ok(at("other"));
	mkdir_ok(at("other/deep"));
	symlink_ok("sub/deep", at("up"));
	symlink_ok("up/../t.log", link);
	append(at("sub/t.log"));
	add_ok(link);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root ("l", "up"), sub */
	append(at("sub/t.log"));
	collect();
	assert_dirty(link);
	append(at("t.log"));
	collect();
	assert_clean(link);
	repoint("other/deep", at("up"));
	settle();
	assert_dirty(link);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root, other */
	append(at("other/t.log"));
	collect();
	assert_dirty(link);
}

Test(watches, symlink_whose_target_has_a_symlinked_dir_component)
{
	/* links/app.log -> ../current/c.log, current -> pods/p1 */
	const char *link = at("links/app.log");

	pods_current();
	mkdir_ok(at("links"));
	symlink_ok("../current/c.log", link);
	add_ok(link);
	cr_assert_eq(fw_watches_nwatches(w), 3); /* links, root, p1 */
	repoint(at("pods/p2"), at("current"));
	settle();
	assert_dirty(link);
	cr_assert_eq(fw_watches_nwatches(w), 3); /* links, root, p2 */
	append(at("pods/p2/c.log"));
	collect();
	assert_dirty(link);
}

Test(watches, symlinked_dir_component_loop_terminates, .timeout = 10)
{
	symlink_ok("loop", at("loop"));
	symlink_ok("b", at("a"));
	symlink_ok("a", at("b"));
	add_ok(at("loop/f"));
	add_ok(at("a/f"));
	cr_assert_eq(fw_watches_nwatches(w), 1);
	cr_assert_eq(unlink(at("b")), 0);
	collect();
	assert_dirty(at("a/f"));
	assert_clean(at("loop/f"));
}

Test(watches, symlinked_dir_components_share_the_hop_bound, .timeout = 10)
{
	/* d0 -> d1 -> ... -> dN -> real: stat(2) follows 40 links, not 41. */
	mkdir_ok(at("real"));
	for (int i = 0; i < 60; i++) {
		char target[32];

		snprintf(target, sizeof target, "d%d", i + 1);
		symlink_ok(i == 39 || i == 59 ? "real" : target, at("d%d", i));
	}
	add_ok(at("d0/f.log"));                  /* 40 links: resolves */
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root, real */
	add_ok(at("d19/f.log"));
	cr_assert_eq(fw_watches_nwatches(w), 2);
	/* d40 .. d59: 20 links, and one more through a tracked link. */
	symlink_ok("d40/f.log", at("l"));
	add_ok(at("l"));
	cr_assert_eq(fw_watches_nwatches(w), 2);
	collect(); /* l's own creation, root being watched already */
	cr_assert_eq(unlink(at("d39")), 0); /* d0 now runs on to d59 */
	symlink_ok("d40", at("d39"));
	settle();
	assert_dirty(at("d0/f.log"));
	assert_dirty(at("d19/f.log"));
	assert_clean(at("l"));
	cr_assert_eq(fw_watches_nwatches(w), 2); /* root, real (for l) */
	cr_assert_eq(fw_watches_remove(w, at("l")), 0);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* d0's 60 links: root */
	/* d0 gives up at its 41st link, d40, as stat(2) does: d45 is past
	 * it, d40 is not (ELOOP would turn into ENOENT). */
	cr_assert_eq(unlink(at("d45")), 0);
	collect();
	assert_clean(at("d0/f.log"));
	assert_dirty(at("d19/f.log"));
	cr_assert_eq(unlink(at("d40")), 0);
	collect();
	assert_dirty(at("d0/f.log"));
	assert_dirty(at("d19/f.log"));
}

Test(watches, plain_directories_are_not_watched)
{
	const char *f = at("a/b/c/d/e/f.log");

	mkdir_ok(at("a"));
	mkdir_ok(at("a/b"));
	mkdir_ok(at("a/b/c"));
	mkdir_ok(at("a/b/c/d"));
	mkdir_ok(at("a/b/c/d/e"));
	symlink_ok("c", at("a/b/lc"));
	add_ok(f);
	add_ok(at("a/b/lc/d/e/g.log")); /* a/b, for "lc" */
	cr_assert_eq(fw_watches_nwatches(w), 2);
	append(at("a/b/c/x"));
	append(at("a/y"));
	collect();
	cr_assert_eq(nseen, 0);
}

/* ---- bookkeeping ---------------------------------------------------------- */

Test(watches, remove_drops_the_watch)
{
	const char *f = at("d/f.log");

	mkdir_ok(at("d"));
	add_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	cr_assert_eq(fw_watches_remove(w, f), 0);
	cr_assert_eq(fw_watches_npaths(w), 0);
	cr_assert_eq(fw_watches_nwatches(w), 0);
	cr_assert_eq(fw_watches_remove(w, f), -ENOENT);
	append(f);
	collect(); /* IN_IGNORED of the removed watch, nothing else */
	cr_assert_eq(nseen, 0);
	cr_assert_eq(fw_watches_refresh(w, f), -ENOENT);
	cr_assert_eq(fw_watches_mark_dirty(w, f), -ENOENT);
}

Test(watches, remove_of_dirty_path_takes_it_off_the_list)
{
	const char *f = at("f.log"), *g = at("g.log");

	add_ok(f);
	add_ok(g);
	cr_assert_eq(fw_watches_mark_dirty(w, f), 0);
	cr_assert_eq(fw_watches_mark_dirty(w, g), 0);
	cr_assert_eq(fw_watches_remove(w, f), 0);
	cr_assert_str_eq(fw_watches_next_dirty(w), g);
	cr_assert_null(fw_watches_next_dirty(w));
}

static char hooked[8][PATH_MAX];
static size_t nhooked;

static void hook(void *ctx, const char *path, size_t len)
{
	(void)ctx;
	cr_assert_eq(strlen(path), len);
	if (nhooked < 8)
		snprintf(hooked[nhooked], PATH_MAX, "%s", path);
	nhooked++;
}

/* The owner hears of a path once, when it becomes dirty; a refresh makes
 * it clean, so the next event is news again. */
Test(watches, dirty_hook_once_per_change)
{
	const char *f = at("f.log");
	char g[PATH_MAX];
	struct fw_watches_batch b;

	snprintf(g, sizeof(g), "%s", at("g.log"));
	add_ok(f);
	add_ok(g);
	nhooked = 0;
	fw_watches_on_dirty(w, hook, NULL);
	append(f);
	append(f);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	cr_assert_geq(b.events, /* fanotify merges the two */
		      fw_watches_source(w) == FW_SOURCE_FANOTIFY ? 1 : 2);
	cr_assert_eq(nhooked, 1);
	cr_assert_str_eq(hooked[0], f);
	append(f);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	cr_assert_eq(nhooked, 1, "dirty already: no news");
	cr_assert_eq(fw_watches_ndirty(w), 1);
	cr_assert_eq(fw_watches_refresh(w, f), 0);
	cr_assert_eq(fw_watches_ndirty(w), 0, "a refresh takes it off");
	append(f);
	append(g);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	cr_assert_eq(nhooked, 3);
	cr_assert_str_eq(hooked[1], f);
	cr_assert_str_eq(hooked[2], g);
	fw_watches_on_dirty(w, NULL, NULL);
}

/* Dirty paths come out quiet-longest first, and only once quiet. */
Test(watches, next_settled_waits_for_quiet)
{
	char f[PATH_MAX], g[PATH_MAX];
	struct fw_watches_batch b;
	uint64_t due, t0, hour = 3600ull * 1000000000u;

	snprintf(f, sizeof(f), "%s", at("f.log"));
	snprintf(g, sizeof(g), "%s", at("g.log"));
	fw_watches_set_settle(w, hour);
	append(f); /* created before: the appends below are content only */
	append(g);
	add_ok(f);
	add_ok(g);
	append(f);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	append(g);
	cr_assert_eq(fw_watches_read(w, &b), 0);
	append(f); /* news of f again: g is now the one quiet longest */
	cr_assert_eq(fw_watches_read(w, &b), 0);
	t0 = fw_monotonic_ns();
	cr_assert_null(fw_watches_next_settled(w, t0, &due));
	cr_assert_gt(due, t0, "not quiet for an hour yet");
	cr_assert_leq(due, t0 + hour);
	cr_assert_str_eq(fw_watches_next_settled(w, t0 + hour, &due), g);
	cr_assert_str_eq(fw_watches_next_settled(w, t0 + hour, &due), f);
	cr_assert_null(fw_watches_next_settled(w, t0 + hour, &due));
	cr_assert_eq(due, 0, "none dirty");
	cr_assert_eq(fw_watches_ndirty(w), 0);
}

Test(watches, add_is_idempotent)
{
	const char *f = at("f.log");

	add_ok(f);
	add_ok(f);
	cr_assert_eq(fw_watches_npaths(w), 1);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	cr_assert_eq(fw_watches_remove(w, f), 0);
	cr_assert_eq(fw_watches_nwatches(w), 0);
}

Test(watches, add_rejects_relative_paths)
{
	cr_assert_eq(fw_watches_add(w, "relative/path"), -EINVAL);
	cr_assert_eq(fw_watches_add(w, ""), -EINVAL);
	cr_assert_eq(fw_watches_npaths(w), 0);
}

Test(watches, dedupe_pops_a_path_once)
{
	const char *f = at("f.log");
	struct fw_watches_batch b;

	append(f);
	add_ok(f);
	/* open+write+close: MODIFY and CLOSE_WRITE alternate, so inotify
	 * cannot merge them: 20 events for one path.  fanotify merges them
	 * while they wait to be read: 1 or a few. */
	for (int i = 0; i < 10; i++)
		append(f);
	b = collect();
	assert_dirty(f);
	cr_assert_eq(nseen, 1);
	cr_assert_geq(b.events,
		      fw_watches_source(w) == FW_SOURCE_FANOTIFY ? 1 : 10);
	cr_assert_eq(b.coalesced, b.events - 1);
}

static void count_path(void *ctx, const char *path)
{
	(void)path;
	++*(size_t *)ctx;
}

Test(watches, mark_all_foreach_and_clear)
{
	size_t n = 0;

	mkdir_ok(at("d"));
	for (int i = 0; i < 5; i++)
		add_ok(at("d/f%d", i));
	add_ok(at("top"));
	fw_watches_foreach(w, count_path, &n);
	cr_assert_eq(n, 6);
	fw_watches_mark_all_dirty(w);
	collect();
	cr_assert_eq(nseen, 6);
	fw_watches_mark_all_dirty(w);
	fw_watches_clear(w);
	cr_assert_null(fw_watches_next_dirty(w));
	cr_assert_eq(fw_watches_npaths(w), 0);
	cr_assert_eq(fw_watches_nwatches(w), 0);
}

static long max_queued_events(void)
{
	FILE *f = fopen(fw_watches_source(w) == FW_SOURCE_FANOTIFY
				? "/proc/sys/fs/fanotify/max_queued_events"
				: "/proc/sys/fs/inotify/max_queued_events",
			"r");
	long n = 16384;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = 16384;
		fclose(f);
	}
	return n;
}

Test(watches, queue_overflow_marks_everything_dirty)
{
	const char *a = at("a"), *b = at("b"), *quiet = at("quiet");
	long limit = max_queued_events();
	struct fw_watches_batch batch;
	uint64_t before;

	append(a);
	append(b);
	add_ok(a);
	add_ok(b);
	add_ok(quiet);
	append(a);
	append(b);
	/* Files of distinct names, so that the kernel merges none of their
	 * events (fanotify merges every repeat on one file, inotify only
	 * repeats of the event before): one event or more per file. */
	for (long i = 0; i <= limit; i++) {
		char name[PATH_MAX + 32];
		int fd;

		snprintf(name, sizeof(name), "%s/flood.%ld", root, i);
		fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	batch = collect();
	cr_assert(batch.overflow);
	cr_assert_geq(batch.events, (uint64_t)limit);
	cr_assert_eq(nseen, 3);
	assert_dirty(a);
	assert_dirty(b);
	assert_dirty(quiet);
	/* Events were lost: every path is re-resolved, none trusted. */
	before = fw_watches_resolutions(w);
	for (size_t i = 0; i < nseen; i++)
		refresh_ok(seen[i]);
	cr_assert_eq(fw_watches_resolutions(w) - before, 3);
	/* After the overflow events flow again. */
	append(a);
	batch = collect();
	cr_assert_not(batch.overflow);
	assert_dirty(a);
}

/* ---- failures ------------------------------------------------------------------ */

Test(watches, watch_limit_keeps_path_tracked)
{
	const char *f = at("d/f.log");

	mkdir_ok(at("d"));
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, ENOSPC, 0);
	cr_assert_eq(fw_watches_add(w, f), -ENOSPC);
	cr_assert_eq(fw_watches_npaths(w), 1);
	cr_assert_eq(fw_watches_nwatches(w), 0);
	cr_assert_eq(fw_watches_refresh(w, f), -ENOSPC);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, 0, 0);
	cr_assert_eq(fw_watches_refresh(w, f), 0);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	append(f);
	collect();
	assert_dirty(f);
}

Test(watches, watch_limit_midway_through_a_chain)
{
	const char *link = at("a/l");

	mkdir_ok(at("a"));
	mkdir_ok(at("b"));
	append(at("b/t"));
	symlink_ok(at("b/t"), link);
	/* The link's directory is watched, the target's is not. */
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, ENOSPC, 1);
	cr_assert_eq(fw_watches_add(w, link), -ENOSPC);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, 0, 0);
	cr_assert_eq(fw_watches_refresh(w, link), 0);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	append(at("b/t"));
	collect();
	assert_dirty(link);
}

Test(watches, watch_limit_behind_a_symlinked_dir_component)
{
	const char *f = pods_current();

	/* The link's directory is watched, its target's is not. */
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, ENOSPC, 1);
	cr_assert_eq(fw_watches_add(w, f), -ENOSPC);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	repoint(at("pods/p2"), at("current"));
	collect();
	assert_dirty(f);
	cr_assert_eq(fw_watches_refresh(w, f), -ENOSPC);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, 0, 0);
	refresh_ok(f);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	append(at("pods/p2/c.log"));
	collect();
	assert_dirty(f);
}

Test(watches, unreadable_directory_is_reported)
{
	const char *f = at("locked/f.log");

	if (geteuid() == 0) {
		teardown(); /* a skipped test gets no .fini */
		cr_skip_test("root reads every directory");
	}
	mkdir_ok(at("locked"));
	cr_assert_eq(chmod(at("locked"), 0), 0);
	cr_assert_eq(fw_watches_add(w, f), -EACCES);
	cr_assert_eq(fw_watches_npaths(w), 1);
	cr_assert_eq(chmod(at("locked"), 0755), 0);
	cr_assert_eq(fw_watches_refresh(w, f), 0);
}

Test(watches, other_watch_errors_are_returned)
{
	const char *f = at("f.log");

	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, EACCES, 0);
	cr_assert_eq(fw_watches_add(w, f), -EACCES);
	cr_assert_eq(fw_watches_npaths(w), 1);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, 0, 0);
	cr_assert_eq(fw_watches_add(w, f),
		     0); /* add of a tracked path retries */
	cr_assert_eq(fw_watches_npaths(w), 1);
	cr_assert_eq(fw_watches_nwatches(w), 1);
}

/* ---- when refresh re-resolves ------------------------------------------------
 *
 * fw_watches_resolutions() counts full resolutions: a refresh that keeps
 * the last one (content events on a path's quiet name) adds nothing.
 */

static uint64_t resolutions(void)
{
	return fw_watches_resolutions(w);
}

/* settle(), and how many full resolutions it took. */
static uint64_t settle_count(void)
{
	uint64_t before = resolutions();

	settle();
	return resolutions() - before;
}

/* The watches the kernel holds for the engine's descriptor (inotify
 * watches, or fanotify directory marks: ignore marks have mask 0), but
 * for fanotify's marks on directories that moved away, which it cannot
 * remove (source.c) and counts. */
/* Watches and marks the kernel holds for descriptor fd; through an epoll
 * set (a fanotify source with an inotify fallback), those of its fds. */
static size_t fd_watches(int fd)
{
	char fdinfo[64], line[512];
	size_t n = 0;
	FILE *f;
	int tfd;

	snprintf(fdinfo, sizeof fdinfo, "/proc/self/fdinfo/%d", fd);
	f = fopen(fdinfo, "re");
	cr_assert_not_null(f, "%s: %s", fdinfo, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "tfd: %d", &tfd) == 1)
			n += fd_watches(tfd);
		n += strncmp(line, "inotify wd:", 11) == 0 ||
		     (strncmp(line, "fanotify ino:", 13) == 0 &&
		      !strstr(line, " mask:0 "));
	}
	fclose(f);
	return n;
}

static size_t kernel_watches(void)
{
	/* Directories only: fanotify also marks the files themselves. */
	return fd_watches(fw_watches_fd(w)) - (size_t)fw_watches_orphans(w) -
	       fw_watches_nfiles(w);
}

static void touch_nofollow(const char *path)
{
	cr_assert_eq(utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW), 0,
		     "utimensat %s: %s", path, strerror(errno));
}

#define assert_resolved(n) \
	cr_assert_eq(settle_count(), (n), "not %d resolution(s)", (int)(n))

Test(watches, content_events_keep_the_resolution_of_a_plain_path)
{
	const char *f = at("d/f.log");

	mkdir_ok(at("d"));
	append(f);
	add_ok(f);
	cr_assert_eq(resolutions(), 1);
	append(f);
	assert_resolved(0);
	assert_dirty(f);
	for (int i = 0; i < 10; i++)
		append(f);
	assert_resolved(0);
	assert_dirty(f);
	cr_assert_eq(chmod(f, 0600), 0);
	assert_resolved(0);
	assert_dirty(f);
	cr_assert_eq(truncate(f, 0), 0);
	assert_resolved(0);
	assert_dirty(f);
	touch_nofollow(f);
	assert_resolved(0);
	assert_dirty(f);
	/* A hard link: IN_CREATE of another name (and, depending on the
	 * kernel, IN_ATTRIB for f's link count). */
	cr_assert_eq(link(f, at("d/f.hard")), 0);
	assert_resolved(0);
	/* A refresh with nothing pending keeps it too, and says 0. */
	refresh_ok(f);
	cr_assert_eq(resolutions(), 1);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	cr_assert_eq(kernel_watches(), 1);
	append(f);
	collect();
	assert_dirty(f);
}

Test(watches, name_events_re_resolve_a_plain_path)
{
	const char *f = at("f.log"), *g = at("g.log");

	append(f);
	add_ok(f);
	cr_assert_eq(unlink(f), 0);
	assert_resolved(1);
	assert_dirty(f);
	append(f); /* IN_CREATE, then content: one resolution */
	assert_resolved(1);
	assert_dirty(f);
	append(f);
	assert_resolved(0);
	append(g);
	cr_assert_eq(rename(g, f), 0); /* rename-over: IN_MOVED_TO */
	assert_resolved(1);
	assert_dirty(f);
	append(f);
	assert_resolved(0);
	cr_assert_eq(rename(f, g), 0); /* IN_MOVED_FROM */
	assert_resolved(1);
	assert_dirty(f);
	/* Missing now: any event for the name re-resolves. */
	cr_assert_eq(rename(g, f), 0);
	assert_resolved(1);
	append(f);
	assert_resolved(0);
	assert_dirty(f);
}

Test(watches, lost_watch_re_resolves)
{
	const char *d = at("d"), *f = at("d/f.log");

	mkdir_ok(d);
	append(f);
	add_ok(f);
	/* Only d's own watch hears it: IN_MOVE_SELF. */
	cr_assert_eq(rename(d, at("d.old")), 0);
	assert_resolved(1);
	assert_dirty(f);
	mkdir_ok(d);
	assert_resolved(1);
	append(f);
	assert_resolved(1); /* its creation */
	append(f);
	assert_resolved(0);
	assert_dirty(f);
	/* IN_DELETE_SELF and IN_IGNORED (and the file's IN_DELETE). */
	cr_assert_eq(unlink(f), 0);
	cr_assert_eq(rmdir(d), 0);
	cr_assert_geq(settle_count(), 1);
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* root, for "d" */
	cr_assert_eq(kernel_watches(), 1);
}

Test(watches, mark_dirty_and_overflow_re_resolve)
{
	const char *f = at("f.log");

	append(f);
	add_ok(f);
	add_ok(at("g.log"));
	add_ok(at("missing.log"));
	cr_assert_eq(fw_watches_mark_dirty(w, f), 0);
	assert_resolved(1);
	assert_dirty(f);
	fw_watches_mark_all_dirty(w);
	assert_resolved(3);
	cr_assert_eq(nseen, 3);
	append(f);
	assert_resolved(0);
}

Test(watches, tracked_directory_entries_keep_its_resolution)
{
	const char *d = at("d");

	mkdir_ok(d);
	add_ok(d);
	append(at("d/new"));
	assert_resolved(0);
	assert_dirty(d);
	cr_assert_eq(unlink(at("d/new")), 0);
	assert_resolved(0);
	assert_dirty(d);
	cr_assert_eq(chmod(d, 0700), 0);
	assert_resolved(0);
	assert_dirty(d);
	cr_assert_eq(rename(d, at("d.old")), 0);
	cr_assert_geq(settle_count(), 1);
	assert_dirty(d);
}

Test(watches, symlink_names_re_resolve_on_any_event)
{
	/* links/app.log -> ../old/t.log */
	const char *link = at("links/app.log");

	mkdir_ok(at("links"));
	mkdir_ok(at("old"));
	mkdir_ok(at("new"));
	append(at("old/t.log"));
	append(at("new/u.log"));
	symlink_ok("../old/t.log", link);
	add_ok(link);
	/* The last link's target is the quiet name. */
	append(at("old/t.log"));
	assert_resolved(0);
	assert_dirty(link);
	cr_assert_eq(chmod(at("old/t.log"), 0600), 0);
	assert_resolved(0);
	assert_dirty(link);
	/* The link itself: even its attributes. */
	touch_nofollow(link);
	assert_resolved(1);
	assert_dirty(link);
	repoint("../new/u.log", link);
	assert_resolved(1);
	assert_dirty(link);
	append(at("new/u.log"));
	assert_resolved(0);
	assert_dirty(link);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	cr_assert_eq(kernel_watches(), 2);
}

Test(watches, symlinked_dir_component_names_re_resolve_on_any_event)
{
	const char *f = pods_current();

	add_ok(f);
	append(at("pods/p1/c.log"));
	assert_resolved(0);
	assert_dirty(f);
	touch_nofollow(at("current"));
	assert_resolved(1);
	assert_dirty(f);
	repoint(at("pods/p2"), at("current"));
	assert_resolved(1);
	append(at("pods/p2/c.log"));
	assert_resolved(0);
	assert_dirty(f);
}

Test(watches, missing_names_re_resolve_on_any_event)
{
	/* "file" is where a directory should be: awaited in root. */
	const char *f = at("file/x"), *dangling = at("l");

	append(at("file"));
	add_ok(f);
	append(at("file"));
	assert_resolved(1);
	assert_dirty(f);
	cr_assert_eq(chmod(at("file"), 0600), 0);
	assert_resolved(1);
	assert_dirty(f);
	/* A dangling link, into a missing file: no quiet name, every refresh
	 * re-resolves. */
	mkdir_ok(at("t"));
	symlink_ok(at("t/missing"), dangling);
	add_ok(dangling);
	cr_assert_eq(resolutions(), 4);
	refresh_ok(dangling);
	refresh_ok(dangling);
	cr_assert_eq(resolutions(), 6);
}

Test(watches, failed_resolution_is_retried_until_it_succeeds)
{
	const char *f = at("d/f.log");

	mkdir_ok(at("d"));
	append(f);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, ENOSPC, 0);
	cr_assert_eq(fw_watches_add(w, f), -ENOSPC);
	cr_assert_eq(fw_watches_refresh(w, f), -ENOSPC);
	cr_assert_eq(fw_watches_refresh(w, f), -ENOSPC);
	cr_assert_eq(resolutions(), 3);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, 0, 0);
	refresh_ok(f);
	cr_assert_eq(resolutions(), 4);
	refresh_ok(f);
	cr_assert_eq(resolutions(), 4);
	append(f);
	assert_resolved(0);
	assert_dirty(f);
}

Test(watches, failure_midway_through_a_chain_is_retried)
{
	const char *link = at("a/l");

	mkdir_ok(at("a"));
	mkdir_ok(at("b"));
	append(at("b/t"));
	symlink_ok(at("b/t"), link);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, ENOSPC, 1);
	cr_assert_eq(fw_watches_add(w, link), -ENOSPC);
	/* An event on the link's directory that a good resolution would
	 * shrug off: this one must still retry. */
	append(at("a/other"));
	touch_nofollow(link);
	collect();
	assert_dirty(link);
	cr_assert_eq(fw_watches_refresh(w, link), -ENOSPC);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, 0, 0);
	refresh_ok(link);
	cr_assert_eq(resolutions(), 3);
	append(at("b/t"));
	assert_resolved(0);
	assert_dirty(link);
}

Test(watches, renamed_plain_ancestor_is_caught_by_the_check)
{
	/* The blind spot: mv top top.old sends d's watch nothing. */
	const char *f = at("top/d/f.log"), *old = at("top.old/d/f.log");

	mkdir_ok(at("top"));
	mkdir_ok(at("top/d"));
	append(f);
	add_ok(f);
	cr_assert_eq(rename(at("top"), at("top.old")), 0);
	mkdir_ok(at("top"));
	mkdir_ok(at("top/d"));
	append(old);
	/* Dirty by an append, but top/d is not the directory watched. */
	assert_resolved(1);
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	cr_assert_eq(kernel_watches(), 1);
	append(f);
	assert_resolved(1); /* its creation, in the new top/d */
	assert_dirty(f);
	append(old);
	collect();
	assert_clean(f);

	/* And with nothing there any more: the check fails, root is watched. */
	cr_assert_eq(rename(at("top"), at("top.older")), 0);
	append(at("top.older/d/f.log"));
	assert_resolved(1);
	assert_dirty(f);
	cr_assert_eq(fw_watches_nwatches(w), 1); /* root, for "top" */
	cr_assert_eq(kernel_watches(), 1);
	mkdir_ok(at("top"));
	assert_resolved(1);
	assert_dirty(f);
}

Test(watches, failed_link_watch_is_retried_with_the_target_watched)
{
	/* b is watched already, for b/t itself: only a's watch can fail. */
	const char *link = at("a/l");

	mkdir_ok(at("a"));
	mkdir_ok(at("b"));
	append(at("b/t"));
	add_ok(at("b/t"));
	symlink_ok(at("b/t"), link);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, ENOSPC, 0);
	cr_assert_eq(fw_watches_add(w, link), -ENOSPC);
	cr_assert_eq(fw_watches_nwatches(w), 1);
	/* Its target's watch is intact, yet the link is not watched. */
	cr_assert_eq(fw_watches_refresh(w, link), -ENOSPC);
	fw_sys_fault_set(FW_SYS_INOTIFY_ADD_WATCH, 0, 0);
	refresh_ok(link);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	repoint(at("a/u"), link);
	collect();
	assert_dirty(link);
}

Test(watches, watch_made_by_the_check_is_taken_back)
{
	/* a/l -> top/b/t; top renamed behind b's back, and the link re-pointed,
	 * its event not read yet: the check watches the new top/b, the
	 * resolution goes to c instead, and must not leave that watch behind. */
	const char *link = at("a/l");

	mkdir_ok(at("a"));
	mkdir_ok(at("c"));
	mkdir_ok(at("top"));
	mkdir_ok(at("top/b"));
	append(at("top/b/t"));
	append(at("c/u"));
	symlink_ok(at("top/b/t"), link);
	add_ok(link);
	cr_assert_eq(fw_watches_nwatches(w), 2);
	cr_assert_eq(rename(at("top"), at("top.old")), 0);
	mkdir_ok(at("top"));
	mkdir_ok(at("top/b"));
	repoint(at("c/u"), link);
	refresh_ok(link);
	cr_assert_eq(resolutions(), 2);
	cr_assert_eq(fw_watches_nwatches(w), 2); /* a and c */
	cr_assert_eq(kernel_watches(), 2);
	settle();
	append(at("c/u"));
	collect();
	assert_dirty(link);
}
