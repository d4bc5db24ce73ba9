/*
 * test_ancestors.c - what happens above a watched path's own directory
 * (issue 13, items 1 and 4): a directory two or more levels up renamed,
 * exchanged with another (renameat2 RENAME_EXCHANGE) or replaced by a
 * symlink, and a directory removed or renamed over while a process holds
 * it (its IN_DELETE_SELF waits for the last reference).  Nothing of this
 * reaches the watch on the path's own directory; the writer watches the
 * directories above it for their own deletion or move, and each watched
 * directory's parent for its name (writer/resolve.c, "Ancestors").
 *
 * As in test_integration.c: a real writer on files in its private temp
 * dir, changes made, the sync barrier, and the cached answer compared
 * with stat(2) field by field.  No sleeps.
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(ancestors, .init = itest_setup, .fini = itest_teardown,
	  .timeout = 240);

/* ---- helpers ----------------------------------------------------------- */

/* The fields the cache must agree on with stat(2) (st_blocks is not
 * compared: README, "Limits"). */
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
	SAME(mtime_sec, st_mtim.tv_sec);
	SAME(mtime_nsec, st_mtim.tv_nsec);
	SAME(ctime_sec, st_ctim.tv_sec);
	SAME(ctime_nsec, st_ctim.tv_nsec);
#undef SAME
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

#define XCALL(call, path) \
	cr_assert_eq((call), 0, "%s(%s): %s", #call, (path), strerror(errno))

static void xmkdir(const char *p)
{
	XCALL(mkdir(p, 0755), p);
}
static void xrmdir(const char *p)
{
	XCALL(rmdir(p), p);
}
static void xunlink(const char *p)
{
	XCALL(unlink(p), p);
}
static void xrename(const char *a, const char *b)
{
	XCALL(rename(a, b), a);
}
static void xsymlink(const char *t, const char *l)
{
	XCALL(symlink(t, l), l);
}
static void xexchange(const char *a, const char *b)
{
	XCALL(renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE), a);
}

/* mkdir -p of a relative path in the temp dir. */
static void mkdirs(const char *rel)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", rel);
	for (char *s = strchr(buf, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(P(buf), 0755) < 0)
			cr_assert_eq(errno, EEXIST, "mkdir %s: %s", buf,
				     strerror(errno));
		*s = '/';
	}
	if (mkdir(P(buf), 0755) < 0)
		cr_assert_eq(errno, EEXIST, "mkdir %s: %s", buf,
			     strerror(errno));
}

/* Replace a link atomically, as `ln -sfn` does. */
static void repoint(const char *target, const char *link)
{
	PATH(tmp, "repoint.tmp");
	xsymlink(target, tmp);
	xrename(tmp, link);
}

/* Directories of the temp dir's own path ("/tmp/fsct.x": 2): the
 * ancestors every path in it has but "/", which is never watched for its
 * own move (it has none). */
static unsigned dir_components(void)
{
	unsigned n = 0;
	for (const char *s = W.dir; *s; s++)
		n += *s == '/';
	return n;
}

/* Directory watches: the kernel's watches less the marks on files. */
static uint64_t dir_watches(void)
{
	return fsct_counter(H, FSC_CTR_WATCHES) -
	       fsct_counter(H, FSC_CTR_FILE_MARKS);
}

/* ---- renames above the path's directory (item 1) ------------------------ */

/* The case: mv T/a T/a.old with T/a/b/f watched, then T/a/b/f
 * made again with other content. */
Test(ancestors, rename_two_levels_up)
{
	start(NULL);
	mkdirs("a/b");
	PATH(f, "a/b/f");
	PATH(old, "a.old/b/f");
	fsct_write(f, "old\n", 0);
	watch(f);
	cr_assert(assert_fresh(f).exists);

	xrename(P("a"), P("a.old"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);

	mkdirs("a/b");
	fsct_write(f, "new, and longer\n", 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 16);

	/* The old tree is no business of the path's any more; the new one
	 * is watched. */
	fsct_write(old, "grows in the old tree\n", 1);
	fsct_write(f, "+", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 17);
	stop();
}

Test(ancestors, rename_three_levels_up)
{
	start(NULL);
	mkdirs("a/b/c");
	PATH(f, "a/b/c/f");
	fsct_write(f, "old\n", 0);
	watch(f);
	cr_assert(assert_fresh(f).exists);

	xrename(P("a"), P("a.old"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);

	mkdirs("a/b/c");
	fsct_write(f, "three levels\n", 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 13);
	fsct_write(P("a.old/b/c/f"), "old grows\n", 1);
	fsct_write(f, "++", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 15);

	/* And once more, the middle one this time. */
	xrename(P("a/b"), P("a/b.old"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);
	xrename(P("a/b.old"), P("a/b"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 15);
	stop();
}

/* The ancestor renamed away and another tree renamed into its place,
 * both before the sync. */
Test(ancestors, ancestor_replaced_by_another_tree_at_once)
{
	start(NULL);
	mkdirs("a/b");
	mkdirs("n/b");
	PATH(f, "a/b/f");
	fsct_write(f, "a's\n", 0);
	fsct_write(P("n/b/f"), "the new tree's\n", 0);
	watch(f);
	cr_assert_eq(assert_fresh(f).size, 4);
	xrename(P("a"), P("a.old"));
	xrename(P("n"), P("a"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 15);
	fsct_write(P("a.old/b/f"), "old grows\n", 1);
	fsct_write(f, "+", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 16);
	stop();
}

/* renameat2(RENAME_EXCHANGE) of two ancestors: each path now names the
 * other's file. */
Test(ancestors, exchange_of_two_ancestors)
{
	start(NULL);
	mkdirs("x/b");
	mkdirs("y/b");
	mkdirs("p/q/r");
	mkdirs("s/q/r");
	PATH(xf, "x/b/f");
	PATH(yf, "y/b/f");
	PATH(pf, "p/q/r/f");
	PATH(sf, "s/q/r/f");
	fsct_write(xf, "x\n", 0);
	fsct_write(yf, "y's file\n", 0);
	fsct_write(pf, "p, three levels up\n", 0);
	watch(xf);
	watch(yf);
	watch(pf);
	watch(sf); /* does not exist yet */
	assert_fresh(xf);
	assert_fresh(yf);
	assert_fresh(pf);
	cr_assert_eq(assert_fresh(sf).exists, 0);

	xexchange(P("x"), P("y"));
	xexchange(P("p"), P("s"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(xf).size, 9);
	cr_assert_eq(assert_fresh(yf).size, 2);
	cr_assert_eq(assert_fresh(pf).exists, 0);
	cr_assert_eq(assert_fresh(sf).size, 19);

	/* Each is watched where it is now. */
	fsct_write(xf, "+", 1);
	fsct_write(yf, "++", 1);
	fsct_write(pf, "p again\n", 0);
	fsct_write(sf, "+++", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(xf).size, 10);
	cr_assert_eq(assert_fresh(yf).size, 4);
	cr_assert_eq(assert_fresh(pf).size, 8);
	cr_assert_eq(assert_fresh(sf).size, 22);

	/* And back: an exchange of the directories just above. */
	xexchange(P("x/b"), P("y/b"));
	fsct_sync(H);
	cr_assert_eq(assert_fresh(xf).size, 4);
	cr_assert_eq(assert_fresh(yf).size, 10);
	stop();
}

/* An ancestor gone, a symlink to another tree in its place (rename()
 * will not put a link over a directory); then the link re-pointed. */
Test(ancestors, ancestor_replaced_by_a_symlink)
{
	start(NULL);
	mkdirs("a/b");
	mkdirs("vol1/b");
	mkdirs("vol2/b");
	PATH(f, "a/b/f");
	PATH(a, "a");
	fsct_write(f, "plain\n", 0);
	fsct_write(P("vol1/b/f"), "on vol1, longer\n", 0);
	fsct_write(P("vol2/b/f"), "vol2\n", 0);
	watch(f);
	cr_assert_eq(assert_fresh(f).size, 6);

	xrename(a, P("a.old"));
	xsymlink("vol1", a);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 16);

	fsct_write(P("vol1/b/f"), "+", 1); /* through the link's target */
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 17);

	repoint("vol2", a);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 5);
	fsct_write(P("vol2/b/f"), "++", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 7);

	/* And a plain directory again, the link removed first. */
	xunlink(a);
	xrename(P("a.old"), a);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 6);
	fsct_write(P("vol2/b/f"), "not any more\n", 1);
	fsct_write(f, "+", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 7);
	stop();
}

/* A symlink leading back to the very directory watched: the answers were
 * right before, but re-pointing the new link must be seen too. */
Test(ancestors, ancestor_moved_and_linked_back)
{
	start(NULL);
	mkdirs("logs/app");
	mkdirs("vol");
	mkdirs("other/app");
	PATH(f, "logs/app/x.log");
	PATH(logs, "logs");
	fsct_write(f, "x\n", 0);
	fsct_write(P("other/app/x.log"), "other x\n", 0);
	watch(f);
	assert_fresh(f);
	xrename(logs, P("vol/logs"));
	xsymlink("vol/logs", logs);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 2);
	repoint("other", logs);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 8);
	stop();
}

/* ---- a directory removed while a process holds it (item 4) -------------- */

static int xopen_dir(const char *p)
{
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s: %s", p, strerror(errno));
	return fd;
}

/* The case: rmdir T/h; mkdir T/h; echo new >T/h/f, the old T/h
 * held open. */
Test(ancestors, held_directory_removed_and_made_again)
{
	start(NULL);
	PATH(h, "h");
	PATH(f, "h/f");
	xmkdir(h);
	watch(f);
	cr_assert_eq(assert_fresh(f).exists, 0);

	int fd = xopen_dir(h);
	xrmdir(h);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);
	xmkdir(h);
	fsct_write(f, "new\n", 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 4);
	fsct_write(f, "+", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 5);
	close(fd);
	fsct_sync(H); /* its IN_DELETE_SELF now: nothing changes */
	cr_assert_eq(assert_fresh(f).size, 5);
	stop();
}

/* The same with a process whose working directory it is (a shell cd'd
 * into it), two levels down from the directory removed. */
Test(ancestors, directory_held_as_a_cwd_removed_and_made_again)
{
	start(NULL);
	mkdirs("h/d");
	PATH(h, "h");
	PATH(d, "h/d");
	PATH(f, "h/d/f");
	watch(f);
	cr_assert_eq(assert_fresh(f).exists, 0);

	int go[2], ready[2];
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		close(ready[0]);
		if (chdir(d) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		_exit(read(go[0], &c, 1) == 1 ? 0 : 2);
	}
	close(go[0]);
	close(ready[1]);
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1, "the child did not chdir");

	xrmdir(d);
	xrmdir(h);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).exists, 0);
	mkdirs("h/d");
	fsct_write(f, "made again\n", 0);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 11);

	cr_assert_eq(write(go[1], "g", 1), 1);
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: 0x%x", st);
	close(go[1]);
	close(ready[0]);
	fsct_write(f, "+", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 12);
	stop();
}

/* A held, empty directory renamed over by another holding the file. */
Test(ancestors, held_directory_renamed_over)
{
	start(NULL);
	PATH(h, "h");
	PATH(n, "n");
	PATH(f, "h/f");
	xmkdir(h);
	xmkdir(n);
	fsct_write(P("n/f"), "from n\n", 0);
	watch(f);
	cr_assert_eq(assert_fresh(f).exists, 0);
	int fd = xopen_dir(h);
	xrename(n, h);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 7);
	fsct_write(f, "+", 1);
	fsct_sync(H);
	cr_assert_eq(assert_fresh(f).size, 8);
	close(fd);
	stop();
}

/* ---- what it costs, and the watch limit --------------------------------- */

/*
 * Ancestors shared by many paths are watched once, counted in the watch
 * gauge, and given back with the last path that needs them; a directory
 * that stops being a path's own is lowered to what its remaining paths
 * need (no more events for the writes in it).
 */
Test(ancestors, shared_ancestors_counted_once_and_released)
{
	enum {
		NDIRS = 3
	};
	char files[NDIRS][PATH_MAX];
	start(NULL);
	for (int d = 0; d < NDIRS; d++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "d%d", d);
		xmkdir(P(rel));
		snprintf(rel, sizeof(rel), "d%d/f.log", d);
		snprintf(files[d], PATH_MAX, "%s", P(rel));
		fsct_write(files[d], "x\n", 0);
		watch(files[d]);
	}
	fsct_sync(H);
	/* One per directory, and once each the temp dir (for the names of
	 * d0...) and the directories above it but "/". */
	cr_assert_eq(dir_watches(), NDIRS + dir_components());

	/* A path in the temp dir itself: the temp dir is watched for its
	 * entries' changes then. */
	PATH(top, "top.log");
	PATH(other, "other.log");
	fsct_write(top, "t\n", 0);
	fsct_write(other, "o\n", 0);
	watch(top);
	cr_assert_eq(dir_watches(), NDIRS + dir_components());
	fsct_write(other, "o\n", 1);
	fsct_sync(H);
	assert_fresh(top);

	/* Not any more: writes in the temp dir wake the writer no more. */
	unwatch(top);
	fsct_sync(H);
	uint64_t events = fsct_counter(H, FSC_CTR_EVENTS);
	fsct_write(other, "o\n", 1);
	fsct_sync(H);
	cr_assert_eq(fsct_counter(H, FSC_CTR_EVENTS), events,
		     "a write in a directory watched only as an ancestor "
		     "reached the writer");
	for (int d = 0; d < NDIRS; d++)
		assert_fresh(files[d]);

	for (int d = 0; d < NDIRS; d++)
		unwatch(files[d]);
	fsct_sync(H);
	cr_assert_eq(fsct_counter(H, FSC_CTR_WATCHES), 0);
	cr_assert_eq(fsct_counter(H, FSC_CTR_PATHS), 0);
	stop();
}

/*
 * An ancestor's watch that cannot be made (the watch limit) has the path
 * answered by stat() and counted, never served unwatched.  The path's own
 * directory is watched already (through a bind mount, the same inode as
 * a directory of a path cached before), so only ancestors fail: every
 * watch after the first path's is refused (FSTATCACHE_FAULTS).
 */
static char bound[PATH_MAX]; /* a bind mount to detach at the end */

/* In a mount namespace of its own (the test process and its writer): its
 * mounts die with it, whatever happens to the test. */
static void mount_setup(void) /* after the suite's itest_setup() */
{
	if (unshare(CLONE_NEWNS) < 0) {
		int e = errno;

		itest_teardown(); /* a skipped test gets no .fini */
		cr_skip_test("needs CAP_SYS_ADMIN for a bind mount: unshare: "
			     "%s",
			     strerror(e));
	}
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
		     "making / private: %s", strerror(errno));
}

static void mount_teardown(void)
{
	if (bound[0])
		(void)umount2(bound, MNT_DETACH);
	bound[0] = '\0';
	itest_teardown();
}

Test(ancestors, an_ancestor_past_the_watch_limit_leaves_its_paths_served,
     .init = mount_setup, .fini = mount_teardown)
{
	mkdirs("d");
	mkdirs("m/n/d2");
	PATH(a, "d/a.log");
	PATH(d, "d");
	PATH(d2, "m/n/d2");
	PATH(b, "m/n/d2/a.log");
	fsct_write(a, "abc\n", 0);
	cr_assert_eq(mount(d, d2, NULL, MS_BIND, NULL), 0, "bind: %s",
		     strerror(errno));
	snprintf(bound, sizeof(bound), "%s", d2);

	/* a: its ancestors but "/", and d. */
	char faults[64];
	snprintf(faults, sizeof(faults), "inotify_add_watch=ENOSPC:%u",
		 dir_components() + 1);
	setenv("FSTATCACHE_FAULTS", faults, 1);
	const char *extra[] = { a, NULL };
	start(extra);
	unsetenv("FSTATCACHE_FAULTS");
	fsct_sync(H);
	assert_fresh(a);
	uint64_t failures = fsct_counter(H, FSC_CTR_WATCH_FAILURES);

	/* b's own directory is d's inode (a bind mount), watched already;
	 * its ancestors m and m/n cannot be watched: b is served all the
	 * same (their renaming would go unseen, as before ancestors were
	 * watched; the writer says so once), fresh, and with no watch
	 * failure counted again at each write. */
	watch(b);
	struct fsc_stat c;
	fsct_sync(H);
	cr_assert_eq(fsc_lookup(H, b, &c), 0, "served");
	uint64_t after = fsct_counter(H, FSC_CTR_WATCH_FAILURES);
	for (int i = 0; i < 20; i++) {
		fsct_write(a, "de\n", 1);
		fsct_sync(H);
	}
	cr_assert_eq(assert_fresh(b).size, 4 + 20 * 3);
	cr_assert_eq(assert_fresh(a).size, 4 + 20 * 3);
	cr_assert_eq(fsct_counter(H, FSC_CTR_WATCH_FAILURES), after,
		     "no failure per write");
	(void)failures;
	stop();
}
