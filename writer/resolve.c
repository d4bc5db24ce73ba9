/*
 * resolve.c - resolving a tracked path into the watches it depends on.
 *
 * A path is followed as the kernel's own walk follows it, every symlink on
 * the way a link of the chain (at most FW_WATCHES_MAX_HOPS, the kernel's
 * ELOOP); the directory holding each symlink is watched for its name, the
 * last directory reached for the final name, and for a missing directory
 * the nearest existing one for the missing name.  Plain directory
 * components are watched only as ancestors, for less (see "Ancestors"
 * below): one openat2(RESOLVE_NO_SYMLINKS) of the path's directory tells
 * that none of them is a symlink, and only otherwise is the path walked
 * an lstat() at a time.  What a resolution
 * needs is recorded as wdeps (watches_impl.h); new ones are taken before
 * the previous resolution's are released, so a refresh never drops a
 * watch it still needs.  fw_path_intact() is the one-system-call check a
 * refresh makes instead when nothing asked for a re-resolution.
 *
 * Resolving a path (add and refresh) follows it as the kernel's own walk
 * does, every symlink on the way being a link of the chain, at most
 * FW_WATCHES_MAX_HOPS of them as the kernel's ELOOP: a symlink that is the
 * last component (the path, or a link's target) and a symlink that is a
 * directory component (/logs -> /data1 in /logs/app/x.log) alike get the
 * directory holding them watched for their name, and resolution goes on
 * through their target; so re-pointing any of them is seen.  The last
 * directory reached is watched for the final name (and, when the final
 * target is itself a directory, watched whole); if a directory on the way
 * does not exist, the nearest existing one is watched for the missing
 * name, so its creation is seen.  Plain directory components are not
 * watched for their entries' changes (/, /home... for every path would
 * flood the writer), only as ancestors: one openat2(RESOLVE_NO_SYMLINKS)
 * of the path's directory tells that none of them is a symlink, and only
 * otherwise is the path walked a component (an lstat()) at a time.  So a
 * plain path n directories below / costs n + 3 system calls per
 * resolution: openat2, close, an inotify_add_watch for each of those n
 * directories (its ancestors, then its own), lstat.  Every directory
 * is watched by calling inotify_add_watch() again, not by trusting a cached
 * path -> watch map: the call costs what a stat() of the directory would,
 * is a no-op for a directory already watched (same wd back), and answers
 * for the directory the path names now.  New dependencies are taken
 * before old ones are dropped, so a refresh never removes a watch it
 * still needs (watch before stat).
 *
 * When refresh re-resolves (the rule)
 *
 * A dirty path is not always re-resolved: most events (appends, above
 * all) change what a file holds, not which file the path names.  Each
 * path has a needs_resolve flag, and refresh re-resolves exactly when it
 * is set; it is set
 *   - when the path is added (add always resolves);
 *   - by every event on a name the path depends on (its final name, every
 *     symlink name of its chain, a missing component awaited in an
 *     ancestor), except a content or metadata event (IN_MODIFY, IN_ATTRIB,
 *     IN_CLOSE_WRITE, and the like: nothing but those bits in the mask)
 *     on its quiet name: the final target's name, in the last directory
 *     reached, when that name existed and was not a symlink at the last
 *     resolution (for a plain path, its own name; through symlinks, the
 *     last link's target).  So any event on a symlink or a missing name,
 *     and any creation, deletion or rename of the quiet name, re-resolves;
 *   - when a watch the path depends on is gone (IN_DELETE_SELF,
 *     IN_MOVE_SELF, IN_IGNORED, IN_UNMOUNT), an ancestor's included;
 *   - by an event that creates, deletes or renames the name of a watched
 *     directory in its parent (an ancestor's NAMES dependency, below);
 *   - for every path on queue overflow (fw_watches_mark_all_dirty), and
 *     by fw_watches_mark_dirty();
 * and cleared by a resolution that succeeded (an error, say ENOSPC, leaves
 * it set: the next refresh tries again).  Events on the entries of a
 * tracked directory (its wildcard) make it dirty, its mtime having moved,
 * but name nothing it depends on.  A path with no quiet name (missing, a
 * dangling link, a loop) is re-resolved by every refresh.  Our own
 * inotify_rm_watch() only ever removes a watch no path depends on.
 *
 * A refresh that finds the flag clear makes one system call: the quiet
 * name's directory, as the last resolution reached it, is watched again
 * (inotify_add_watch, a no-op for a watched directory) and must give back
 * the quiet dependency's watch; any other answer re-resolves (and a watch
 * the call made and the resolution did not adopt is removed, one it
 * raised is lowered again).  So an append to a watched file costs the
 * writer two system calls (this one and its stat) instead of n + 4.
 *
 * Ancestors
 *
 * Nothing reaches a directory's watch when a directory above it is renamed
 * (mv /logs /logs.old, /logs/app watched), exchanged with another
 * (renameat2 RENAME_EXCHANGE), or moved away and replaced by a symlink; nor
 * when the watched directory itself is removed or renamed over while some
 * process holds it (a shell cd'd into it, an open descriptor): its
 * IN_DELETE_SELF waits for the last reference, and a directory made again
 * under the same name is another inode, unwatched.  So for every directory
 * D the resolution watches for a name (ancestors_need, from parent_need,
 * before D itself):
 *   - D's parent is watched for D's name, at FW_WATCH_NAMES (source.h):
 *     creations, deletions and renames of entries, and their attribute
 *     changes, no writes.  An event on that name re-resolves the path.
 *     That sees D removed or renamed over, held or not (and moved away,
 *     as D's own watch does), and D's chmod once D itself cannot be
 *     watched (made unreadable);
 *   - every directory above that, but /, is watched at FW_WATCH_SELF: its
 *     own deletion, move or attribute change only, so a busy one (/tmp,
 *     /var) costs a watch and few events (inotify reports its entries'
 *     attribute changes too, dropped at once).  Any of them moved,
 *     exchanged or deleted re-resolves every path below it; deleting one
 *     needs it emptied first, which a watch below sees.  / is neither
 *     renamed nor removed (EBUSY), and what a mount does is mounts.c's.
 * Any watched directory's own attribute change (chmod, chown, ACLs: its
 * search permission) re-resolves every path below it, so that a writer
 * running as an ordinary user answers EACCES (by stat()) once it may no
 * longer search a directory on the way, and the cache again once it may.
 * A directory the writer cannot search or read stops the walk there: the
 * directory above it is watched for its name (parent_need from the walk,
 * or ancestor_watch_above), which reports the chmod that gives it back;
 * with fanotify that event names the directory by its own handle, which
 * is no longer mapped, so it re-resolves every path that stopped so
 * (wpath.blocked).  A chmod of / itself is not watched.
 * Each is watched from the top down, each before the lookup of the one
 * below it goes through it, with IN_DONT_FOLLOW (O_NOFOLLOW): whatever
 * changes after a watch is placed is reported, what changed before is
 * what the next lookup finds; one that is missing or has become a symlink
 * meanwhile is handled as a missing directory (its parent watched for it,
 * and looked at again).  Watches are per inode and shared: /tmp is one
 * watch for every path below it, reference counted by its wdeps like any
 * other, at the highest level any of them needs, lowered when the last
 * dependency of that level goes (graph.c) and removed with the last.
 * An ancestor that cannot be watched (the watch limit, a directory the
 * writer may search but not read) does not fail the path: it is served
 * with that directory's renaming or removal unseen, as before ancestors
 * were watched, and the writer says so once (ancestor_unwatched).
 * Ancestors do not make a path
 * "incomplete" (fw_watches_incomplete): only the filesystems of its own
 * directories do.
 *
 * What remains: an ancestor emptied, removed while held and made again in
 * the instant between the placement of its own watch and of the next one
 * down is not seen (its parent is watched at SELF only); closing that
 * would take every watch placed twice.
 */
#include "watches_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <urcu.h>
#include <urcu/list.h>
#include <urcu/rculfhash.h>

#include "log.h"
#include "sys.h"

/* ---- path arithmetic (absolute paths, < PATH_MAX) ------------------------ */

/* "/a/b/c" -> "/a/b" and "c"; "/c" -> "/" and "c"; "/" -> "/" and "". */
static void path_split(const char *path, char *dir, char *name)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash > path ? (size_t)(slash - path) : 1;

	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	strcpy(name, slash + 1);
}

/* Collapse "//", "." and ".." as text: right for a path none of whose
 * directories is a symlink, which is all it is used for. */
static void path_lexical(const char *in, char *out)
{
	size_t n = 0;

	while (*in) {
		size_t seg;

		while (*in == '/')
			in++;
		seg = strcspn(in, "/");
		if (seg == 0 || (seg == 1 && in[0] == '.')) {
			/* nothing */
		} else if (seg == 2 && in[0] == '.' && in[1] == '.') {
			while (n > 0 && out[--n] != '/')
				;
		} else {
			out[n++] = '/';
			memcpy(out + n, in, seg);
			n += seg;
		}
		in += seg;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
}

/* What a link at `base`/name means in place, followed by `rest`: its
 * target, relative to `base` unless absolute.  Left as text ("//", "..")
 * for dirs_resolve(). */
static int link_splice(char *out, const char *base, const char *target,
		       const char *rest)
{
	int n = snprintf(out, PATH_MAX, "%s/%s%s%s",
			 target[0] == '/' ? "" : base, target, *rest ? "/" : "",
			 rest);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int link_read(const char *link, char *target)
{
	ssize_t n = readlink(link, target, PATH_MAX - 1);

	if (n < 0)
		return -errno;
	/* PATH_MAX - 1 bytes may be a cut-off target; nothing fits it. */
	if (n >= PATH_MAX - 1)
		return -ENAMETOOLONG;
	target[n] = '\0';
	return 0;
}

/* ---- resolution -------------------------------------------------------------- */

static void walk_error(struct walk *k, int err)
{
	if (err < 0 && k->rc == 0)
		k->rc = err;
}

/* One more symlink; false past the kernel's limit, where stat(2) says
 * ELOOP.  The links seen up to there are watched, so re-pointing one of
 * them is noticed. */
static bool walk_hop(struct walk *k)
{
	return k->hops++ < FW_WATCHES_MAX_HOPS;
}

/* Something the walk found missing exists after all, now that the watch
 * that would report its creation is in place: walk again, at the cost of a
 * hop so a directory that keeps coming and going cannot hold the walk. */
static int walk_again(struct walk *k)
{
	k->again++;
	if (walk_hop(k))
		return 2;
	walk_error(k, -EAGAIN); /* answered by stat(), resolved again */
	return -EAGAIN;
}

/* What says that a directory is not there (any more) as a directory. */
static bool gone_error(int rc)
{
	return rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP;
}

/*
 * The ancestors of `dir`, a directory about to be watched for a name (see
 * "Ancestors" on top): its parent for dir's name (FW_WATCH_NAMES), every
 * directory above that for its own deletion or move (FW_WATCH_SELF), from
 * the top down, each before the lookup of the one below it goes through
 * it, and none followed if it has become a symlink.  "/" is not watched
 * at SELF: it can be neither renamed nor removed.  0; or, when one is not
 * there (any more) as a directory, -ENOENT (or ENOTDIR, ELOOP) with *gap
 * the length of its path in `dir`, so that `dir` cannot exist; or -ENOMEM.
 * Other errors (ENOSPC, EACCES) are recorded in k->rc, which has the path
 * answered by stat(), and the rest are still watched.
 */
/*
 * An ancestor that cannot be watched (the watch limit; a directory the
 * writer may search but not read, such as a 0711 home directory, which
 * an unprivileged service meets often) does not cost its paths the
 * cache: they are served as before ancestors were watched, with renaming
 * or removing that one directory unseen by them, and it is said once
 * (README, "Limits").  Failing the path instead would answer every path
 * below such a directory by stat() for good, and re-resolve it, and fail
 * again, at every write.
 */
static void ancestor_unwatched(struct walk *k, const char *dir, int rc)
{
	k->w->ancestors_unwatched++;
	if (k->w->ancestors_unwatched_said)
		return;
	k->w->ancestors_unwatched_said = true;
	fw_warn("cannot watch %s, above watched paths: %s: its renaming or "
		"removal goes unseen by them (said once; the paths are "
		"served)",
		dir, strerror(-rc));
}

/*
 * An ancestor `anc` (its first `len` bytes) the writer may not read: its
 * own attribute changes cannot reach us, so its parent is watched for its
 * name (FW_WATCH_NAMES, which reports the chmod that gives it back).
 */
static void ancestor_watch_above(struct walk *k, const char *anc, size_t len)
{
	char up[PATH_MAX];
	size_t j = len;

	while (j > 0 && anc[j - 1] != '/')
		j--;
	if (j == 0 || j == len)
		return;
	memcpy(up, anc, j > 1 ? j - 1 : 1);
	up[j > 1 ? j - 1 : 1] = '\0';
	if (fw_ancestor_need(k, up, anc + j) == -ENOMEM)
		walk_error(k, -ENOMEM);
}

static int ancestors_need(struct walk *k, const char *dir, size_t *gap)
{
	const char *slash = strrchr(dir, '/');
	size_t plen = slash ? (size_t)(slash - dir) : 0;
	char anc[PATH_MAX];
	int rc;

	if (!k->w->ancestors || !slash || !slash[1])
		return 0; /* off, or dir is "/" */
	for (size_t i = 1; i <= plen; i++) {
		if (i < plen && dir[i] != '/')
			continue;
		if (i < plen && dir[i - 1] == '/')
			continue; /* "//": not a component */
		memcpy(anc, dir, i);
		anc[i] = '\0';
		rc = fw_ancestor_need(k, anc, i == plen ? slash + 1 : NULL);
		if (gone_error(rc)) {
			*gap = i;
			return rc;
		}
		if (rc == -ENOMEM) {
			walk_error(k, rc);
			return rc;
		}
		if (rc < 0)
			ancestor_unwatched(k, anc, rc);
		if (rc == -EACCES)
			ancestor_watch_above(k, anc, i);
	}
	if (plen == 0) { /* dir's parent is "/" */
		rc = fw_ancestor_need(k, "/", slash + 1);
		if (rc == -ENOMEM) {
			walk_error(k, rc);
			return rc;
		}
		if (rc < 0 && !gone_error(rc))
			ancestor_unwatched(k, "/", rc);
	}
	return 0;
}

/*
 * Watch the directory holding `cur` for its name, or, while that directory
 * does not exist, the nearest existing ancestor for the next name down;
 * and the ancestors of the one watched (ancestors_need), first.  0, or 1
 * when it had to go up (so `cur` cannot exist), 2 when the name it went
 * up for exists after all once watched (walk again), or -errno (also
 * recorded in k->rc).
 */
static int parent_need(struct walk *k, const char *cur)
{
	char dir[PATH_MAX], name[PATH_MAX], up[PATH_MAX];
	int missing = 0;
	struct stat st;

	path_split(cur, dir, name);
	for (;;) {
		size_t gap = 0;
		int rc = ancestors_need(k, dir, &gap);

		if (gone_error(rc)) {
			/* An ancestor of dir is not there: watch its parent
			 * for it instead, as for dir itself below. */
			memcpy(up, dir, gap);
			up[gap] = '\0';
			path_split(up, dir, name);
			missing = 1;
			continue;
		}
		if (rc == 0)
			rc = fw_watch_need(k, dir, name, false);

		/* Missing when looked at, but maybe made since, before the
		 * watch could see it: look once more, the watch in place. */
		if (rc == 0 && missing && lstat(up, &st) == 0)
			return walk_again(k);
		if (rc == 0)
			return missing;
		if (!gone_error(rc) || strcmp(dir, "/") == 0) {
			walk_error(k, rc);
			return rc;
		}
		strcpy(up, dir); /* missing: watch its parent for it */
		path_split(up, dir, name);
		missing = 1;
	}
}

/* The target is a directory: any change of an entry moves its mtime. */
/*
 * A regular file's own mark, where there are such marks: writes through
 * its other names (hard links) reach no directory watch of ours.  An
 * extra: without it (no such marks, the file gone, fanotify_mark()'s
 * EACCES on a file the writer may stat but not read, the mark limit) the
 * path is still served, its directory's watch seeing what comes through
 * its own name; said once, then in debug lines.
 */
static void file_need(struct walk *k, const char *cur)
{
	int rc = fw_file_need(k, cur);

	if (rc == -ENOMEM)
		walk_error(k, rc);
	else if (rc < 0 && rc != -EOPNOTSUPP && rc != -ENOENT &&
		 rc != -ENOTDIR) {
		if (!k->w->file_mark_warned)
			fw_warn("cannot mark %s itself (%s): writes through "
				"other hard links of such files are seen at "
				"their next event",
				cur, strerror(-rc));
		else
			fw_debug("cannot mark %s itself: %s", cur,
				 strerror(-rc));
		k->w->file_mark_warned = true;
	}
}

static void self_need(struct walk *k, const char *cur)
{
	int rc = fw_watch_need(k, cur, NULL, true);

	/* Gone already: its parent's watch has seen that. */
	if (rc != -ENOENT && rc != -ENOTDIR)
		walk_error(k, rc);
}

/*
 * True if `dir` exists and no component of it is a symlink: one
 * openat2(RESOLVE_NO_SYMLINKS) and a close() instead of an lstat() per
 * component.  Where openat2 is refused as a whole (Linux < 5.6, seccomp
 * filters), false from then on, and every path takes the walk.
 */
static bool dir_plain(struct fw_watches *w, const char *dir)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	long fd;

	if (w->no_openat2)
		return false;
	fd = syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof how);
	if (fd >= 0) {
		close((int)fd);
		if (!w->openat2_said) {
			w->openat2_said = true;
			fw_info("paths are checked with openat2("
				"RESOLVE_NO_SYMLINKS): one call per path");
		}
		return true;
	}
	if (errno == ENOSYS || errno == EPERM) {
		w->no_openat2 = true;
		w->openat2_said = true;
		/* Slower, so said where operators look (a seccomp filter,
		 * such as systemd's RestrictSUIDSGID=, or Linux < 5.6). */
		fw_info("openat2: %s: paths are checked with an lstat() per "
			"component instead",
			strerror(errno));
	}
	return false;
}

/*
 * One pass of the kernel's walk over the directories of `cur`, an lstat()
 * each, up to the first symlink: that link joins the chain (its directory
 * watched for its name) and its target is spliced into `cur`.  Returns 0
 * when there was none (`cur` normalised), 2 when it spliced one in, 1 when
 * `cur` cannot exist (a directory on the way is missing or is not one: the
 * directory above is watched for that name; or one symlink too many), or
 * -errno.
 */
static int dirs_walk(struct walk *k, char *cur)
{
	char done[PATH_MAX], target[PATH_MAX], spliced[PATH_MAX];
	const char *s = cur;
	/* done[0..n): walked, no symlink in it, "" the root.  Never longer
	 * than the part of `cur` it came from. */
	size_t n = 0;

	for (;;) {
		size_t seg, up = n;
		const char *next;
		struct stat st;
		int r;

		s += strspn(s, "/");
		if (!*s)
			break;
		seg = strcspn(s, "/");
		next = s + seg + strspn(s + seg, "/");
		if (seg == 1 && s[0] == '.') {
			s = next;
			continue;
		}
		if (seg == 2 && s[0] == '.' && s[1] == '.') {
			while (n > 0 && done[--n] != '/')
				;
			s = next;
			continue;
		}
		done[n] = '/';
		memcpy(done + n + 1, s, seg);
		n += seg + 1;
		done[n] = '\0';
		if (!*next)
			break; /* the last name is the chain's business */
		s = next;
		if (lstat(done, &st) < 0) {
			if (errno != ENOENT && errno != ENOTDIR) {
				/* A directory on the way the writer may not
				 * search (EACCES): watch what can be, so the
				 * chmod that gives it back is seen. */
				r = -errno;
				(void)parent_need(k, done);
				return r;
			}
			if (k->w->walk_hook)
				k->w->walk_hook(k->w->walk_hook_ctx, done);
			r = parent_need(k, done);
			if (r == 0 && lstat(done, &st) == 0)
				return walk_again(k); /* made meanwhile */
			return r == 2 || r == -EAGAIN ? r : 1;
		}
		if (S_ISDIR(st.st_mode))
			continue;
		r = parent_need(k, done); /* a link, or stat(2)'s ENOTDIR */
		if (r == 2 || r == -EAGAIN)
			return r;
		if (!S_ISLNK(st.st_mode) || r == 1 || r == -ENOMEM ||
		    !walk_hop(k))
			return 1;
		/* Changed since the lstat: the watch is there, look again. */
		if (link_read(done, target) < 0)
			return 2;
		done[up] = '\0';
		if (link_splice(spliced, done, target, next) < 0)
			return -ENAMETOOLONG;
		strcpy(cur, spliced);
		return 2;
	}
	done[n] = '\0';
	strcpy(cur, n ? done : "/");
	return 0;
}

/*
 * Rewrite `cur` to name the same thing with no symlink, "." or ".." in
 * its directory part, as the kernel resolves it (".." after a symlinked
 * directory is its target's parent).  Each symlinked directory on the way
 * is a link of the chain, so re-pointing it is seen; plain directories are
 * watched as ancestors only (the top comment, "Ancestors").
 * 0, 1 if `cur` cannot exist, or -errno.
 */
static int dirs_resolve(struct walk *k, char *cur)
{
	char dir[PATH_MAX], name[PATH_MAX];
	int r;

	do {
		path_split(cur, dir, name);
		if (dir_plain(k->w, dir)) {
			path_lexical(cur, dir);
			strcpy(cur, dir);
			return 0;
		}
		r = dirs_walk(k, cur);
	} while (r == 2);
	return r;
}

/* Replace the symlink `cur` (its directory resolved) by its target. */
static int link_follow(char *cur)
{
	char target[PATH_MAX], dir[PATH_MAX], name[PATH_MAX];
	int r = link_read(cur, target);

	if (r < 0)
		return r;
	path_split(cur, dir, name);
	return link_splice(cur, strcmp(dir, "/") ? dir : "", target, "");
}

/* `cur` (its directory resolved) exists and is no symlink, and k->last is
 * the dependency on its name: content events there need no resolution.
 * Remember the directory to check the watch by, as a prefix of the path's
 * own string when it is one (a plain path: no copy). */
static void path_quiet_set(struct walk *k, const char *cur)
{
	struct wpath *p = k->p;
	const char *slash = strrchr(cur, '/');
	size_t dlen = slash > cur ? (size_t)(slash - cur) : 1;

	/* Needed for something else too (only a race makes it so). */
	if (k->last_again)
		return;
	if (dlen <= p->len && memcmp(p->path, cur, dlen) == 0) {
		p->qdir = NULL;
	} else {
		p->qdir = strndup(cur, dlen);
		if (!p->qdir)
			return; /* no quiet name: every refresh resolves */
	}
	p->qdir_len = dlen;
	p->quiet = k->last;
}

/* Take every dependency the path has now; reuse those of k->old that
 * still apply.  A failed watch does not stop the walk: the rest still
 * help. */
static int path_resolve_chain(struct walk *k)
{
	char cur[PATH_MAX];

	strcpy(cur, k->p->path);
	for (;;) {
		struct stat st;
		int r = dirs_resolve(k, cur);

		if (r != 0) {
			walk_error(k, r);
			break;
		}
		r = parent_need(k, cur);
		if (r == 2)
			continue;
		if (r == 1 || r == -ENOMEM || r == -EAGAIN ||
		    lstat(cur, &st) < 0)
			break;
		if (!S_ISLNK(st.st_mode)) {
			if (r == 0)
				path_quiet_set(k, cur);
			if (S_ISDIR(st.st_mode))
				self_need(k, cur);
			else if (S_ISREG(st.st_mode))
				file_need(k, cur);
			break;
		}
		if (!walk_hop(k) || link_follow(cur) < 0)
			break;
	}
	return k->rc;
}

/* New dependencies first, then drop the old ones: watch before release. */
int fw_path_resolve(struct fw_watches *w, struct wpath *p)
{
	struct cds_list_head old;
	struct walk k = { .w = w, .p = p, .old = &old };
	struct wdep *dep;
	int rc;

	w->resolutions++;
	fw_path_quiet_clear(p);
	CDS_INIT_LIST_HEAD(&old);
	cds_list_splice(&p->deps, &old);
	CDS_INIT_LIST_HEAD(&p->deps);
	rc = path_resolve_chain(&k);
	p->linked = k.hops > k.again; /* symlinks, not looks again */
	p->incomplete = false;
	/* Its own directories decide, not its ancestors': a container's /
	 * on overlayfs must not have every path answered by stat(). */
	cds_list_for_each_entry(dep, &p->deps, path_link)
		p->incomplete |= dep->level == FW_WATCH_FULL &&
				 dep->dir->incomplete;
	fw_deps_release(w, &old);
	p->needs_resolve = rc != 0;
	p->blocked = rc == -EACCES || rc == -EPERM;
	return rc;
}

/*
 * The flag clear, is the last resolution still good?  Checked with one
 * system call: the quiet name's directory, watched again, must be the
 * watch its dependency is on.  Any other wd is left in *stray: one we
 * have no record of is a watch this call just made, which the caller
 * takes back unless the resolution that follows adopts it; one we have a
 * record of was raised to FW_WATCH_FULL by this call, which the caller
 * lowers again to what the resolution needs of it.
 */
bool fw_path_intact(struct fw_watches *w, struct wpath *p, int *stray,
		    char *stray_dir)
{
	const char *dir = p->qdir;
	int wd;

	if (p->needs_resolve || !p->quiet)
		return false;
	if (!dir) {
		memcpy(stray_dir, p->path, p->qdir_len);
		stray_dir[p->qdir_len] = '\0';
		dir = stray_dir;
	}
	wd = fw_source_add(w->src, dir);
	if (wd >= 0 && wd == p->quiet->dir->wd)
		return true;
	if (wd >= 0) {
		*stray = wd;
		if (dir != stray_dir)
			snprintf(stray_dir, PATH_MAX, "%s", dir);
	}
	return false;
}
