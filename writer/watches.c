/*
 * watches.c - which inotify watches serve which tracked paths, and which
 * tracked paths an event makes dirty.
 *
 * How it works
 *
 * Three kinds of record, joined by lists:
 *   wpath  a tracked path.  Owns its string (handed out by next_dirty),
 *          a dirty flag with its place on the dirty list, and the list of
 *          its dependencies.
 *   wdir   one live inotify watch, i.e. one directory inode.  Found by
 *          watch descriptor.  Two paths naming the same directory (through
 *          a symlink, say) get the same wd from the kernel and so share the
 *          record: reference counting is per inode, as inotify's is.
 *   wdep   "path P cares about name N in directory D": the edge between a
 *          wpath and a wdir.  Found by (wdir, name); several paths may
 *          share a key (two links to one file, say).  A wildcard wdep
 *          (no name) cares about every event on D: it serves a path whose
 *          final target is itself a directory, whose mtime any change of
 *          an entry moves.
 * The lookups are liburcu lock-free hash tables keyed with XXH3:
 * path -> wpath, wd -> wdir, (wdir, name) -> wdep.  The writer is single
 * threaded, so RCU buys nothing but costs little; it is used by the book:
 * every table access sits in a read-side section, and a record unlinked
 * from a table is freed only after synchronize_rcu(), run once per public
 * call outside the read-side section (see bury() and reclaim()).  With
 * CDS_LFHT_AUTO_RESIZE liburcu 0.13 starts one resize worker thread per
 * process while any such table exists; it sleeps on a futex when idle
 * (no periodic wake-ups) and exits when the last table is destroyed.
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
 * watched (a watch on /, /home... for every path would be waste): one
 * openat2(RESOLVE_NO_SYMLINKS) of the path's directory tells that none of
 * them is a symlink, and only otherwise is the path walked a component
 * (an lstat()) at a time.  So a plain path costs four system calls per
 * resolution: openat2, close, inotify_add_watch, lstat.  Every directory
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
 *     IN_MOVE_SELF, IN_IGNORED, IN_UNMOUNT);
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
 * the call made and the resolution did not adopt is removed).  That keeps
 * the blind spot below nearly as narrow as when every refresh
 * re-resolved.  So an append to a watched file costs the writer two system
 * calls (this one and its stat) instead of five.
 *
 * Known blind spot: renaming a plain (not symlinked) ancestor of a watched
 * directory (mv /logs /logs.old, /logs/app watched) sends nothing to it;
 * the next event on the old directory for the path's name makes it dirty,
 * and refresh, finding that /logs/app is no longer the directory watched,
 * re-resolves it.  Replacing a plain ancestor by a symlink needs it gone
 * first (rename() will not put a link over a directory), which is either
 * that rename or a removal the path's own directory watch sees; if such a
 * symlink leads back to the very directory watched (mv /logs /vol/logs;
 * ln -s /vol/logs /logs), the answers stay right, but re-pointing that new
 * link is seen only once something re-resolves the path (an event other
 * than content on its names, overflow, or the writer's restart).
 *
 * Events are hints and stat is the truth, so this file never tries to
 * interpret moves (cookies) or orderings: an event concerning a name marks
 * the paths that depend on it dirty; an event that the watched directory
 * itself is gone (IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED, IN_UNMOUNT)
 * marks every dependent path dirty and retires the watch (its record
 * lingers, unlisted, until the dependent paths are refreshed or removed).
 * IN_IGNORED for a watch we removed ourselves finds no record and is
 * merely counted.
 */
#include "watches.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <urcu.h>
#include <urcu/list.h>
#include <urcu/rculfhash.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "log.h"
#include "sys.h"
#include "watches_impl.h"

/* ---- hashing and matching ---------------------------------------------- */

static unsigned long hash_path(const char *path, size_t len)
{
	return (unsigned long)XXH3_64bits(path, len);
}

static unsigned long hash_wd(int wd)
{
	return (unsigned long)XXH3_64bits(&wd, sizeof wd);
}

static unsigned long hash_dep(const struct dep_key *k)
{
	return (unsigned long)XXH3_64bits_withSeed(k->name, k->len,
						   (uint64_t)(uintptr_t)k->dir);
}

static int match_path(struct cds_lfht_node *node, const void *key)
{
	const struct wpath *p = caa_container_of(node, struct wpath, node);

	return strcmp(p->path, key) == 0;
}

static int match_wd(struct cds_lfht_node *node, const void *key)
{
	const struct wdir *d = caa_container_of(node, struct wdir, node);

	return d->wd == *(const int *)key;
}

static int match_dep(struct cds_lfht_node *node, const void *key)
{
	const struct wdep *dep = caa_container_of(node, struct wdep, node);
	const struct dep_key *k = key;

	return dep->dir == k->dir && dep->len == k->len &&
	       memcmp(dep->name, k->name, k->len) == 0;
}

/* liburcu's cds_lfht_for_each_entry*() end by taking container_of(NULL),
 * which UBSan rightly rejects: iterate nodes, convert the non-NULL ones. */
static struct wpath *path_of(struct cds_lfht_node *node)
{
	return caa_container_of(node, struct wpath, node);
}

/* ---- deferred frees ------------------------------------------------------ */

static void bury(struct fw_watches *w, struct grave *g)
{
	g->next = w->graves;
	w->graves = g;
}

/* Outside any read-side section: one grace period frees the whole batch. */
static void reclaim(struct fw_watches *w)
{
	struct grave *g = w->graves;

	if (!g)
		return;
	w->graves = NULL;
	synchronize_rcu();
	while (g) {
		struct grave *next = g->next;

		free(g);
		g = next;
	}
}

/* ---- lookups (read-side section held) ------------------------------------ */

static struct wpath *path_find(struct fw_watches *w, const char *path)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(w->paths, hash_path(path, strlen(path)), match_path,
			path, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? path_of(node) : NULL;
}

struct wdir *fw_dir_find(struct fw_watches *w, int wd)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(w->wds, hash_wd(wd), match_wd, &wd, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct wdir, node) : NULL;
}

/* ---- dirty list ------------------------------------------------------------ */

/* True if the path was clean.  `resolve`: the event may have changed what
 * the path resolves to, so its refresh must re-resolve it. */
static bool path_mark(struct fw_watches *w, struct wpath *p, bool resolve)
{
	if (resolve)
		p->needs_resolve = true;
	if (p->dirty)
		return false;
	p->dirty = true;
	cds_list_add_tail(&p->dirty_link, &w->dirty);
	return true;
}

static void path_unmark(struct wpath *p)
{
	if (!p->dirty)
		return;
	p->dirty = false;
	cds_list_del(&p->dirty_link);
}

/* ---- watches --------------------------------------------------------------- */

/* Stop listening on a watch: unlist it, and remove the kernel's watch
 * unless the kernel already did. */
static void dir_retire(struct fw_watches *w, struct wdir *d, bool rm)
{
	if (d->wd < 0)
		return;
	/* EINVAL when the kernel dropped it first: nothing to undo. */
	if (rm)
		(void)inotify_rm_watch(w->fd, d->wd);
	cds_lfht_del(w->wds, &d->node);
	d->wd = -1;
	w->nwatches--;
}

static void dir_put_if_unused(struct fw_watches *w, struct wdir *d)
{
	if (d->refs > 0)
		return;
	dir_retire(w, d, true);
	bury(w, &d->grave);
}

static void note_watch_failure(struct fw_watches *w, const char *dir, int err)
{
	if (err == ENOSPC && !w->limit_warned) {
		w->limit_warned = true;
		fw_warn("inotify watch limit reached at %s "
			"(fs.inotify.max_user_watches): paths there are "
			"answered by stat()",
			dir);
		return;
	}
	fw_debug("inotify_add_watch %s: %s", dir, strerror(err));
}

/* Watch a directory, or find the record of the watch it already has. */
static int dir_watch(struct fw_watches *w, const char *dir, struct wdir **out)
{
	int wd = fw_sys_inotify_add_watch(w->fd, dir, FW_WATCHES_MASK);
	struct wdir *d;
	size_t len = strlen(dir);

	if (wd < 0) {
		int err = errno;

		if (err != ENOENT && err != ENOTDIR && err != ELOOP)
			note_watch_failure(w, dir, err);
		return -err;
	}
	w->limit_warned = false;
	d = fw_dir_find(w, wd);
	if (!d) {
		d = malloc(sizeof(*d) + len + 1);
		if (!d) {
			(void)inotify_rm_watch(w->fd, wd);
			return -ENOMEM;
		}
		d->wd = wd;
		d->refs = 0;
		CDS_INIT_LIST_HEAD(&d->deps);
		CDS_INIT_LIST_HEAD(&d->any);
		memcpy(d->path, dir, len + 1);
		cds_lfht_node_init(&d->node);
		cds_lfht_add(w->wds, hash_wd(wd), &d->node);
		w->nwatches++;
	}
	*out = d;
	return 0;
}

/* ---- dependencies ---------------------------------------------------------- */

static struct wdep *dep_in(struct cds_list_head *list, const struct wdir *d,
			   const char *name, bool any)
{
	struct wdep *dep;
	size_t len = any ? 0 : strlen(name);

	cds_list_for_each_entry(dep, list, path_link) {
		if (dep->dir == d && dep->any == any && dep->len == len &&
		    memcmp(dep->name, name ? name : "", len) == 0)
			return dep;
	}
	return NULL;
}

static struct wdep *dep_new(struct fw_watches *w, struct wpath *p,
			    struct wdir *d, const char *name, bool any)
{
	size_t len = any ? 0 : strlen(name);
	struct wdep *dep = malloc(sizeof(*dep) + len + 1);

	if (!dep)
		return NULL;
	dep->path = p;
	dep->dir = d;
	dep->any = any;
	dep->len = len;
	memcpy(dep->name, any ? "" : name, len + 1);
	cds_list_add_tail(&dep->path_link, &p->deps);
	if (any) {
		cds_list_add_tail(&dep->dir_link, &d->any);
	} else {
		struct dep_key k = { d, dep->name, len };

		cds_list_add_tail(&dep->dir_link, &d->deps);
		cds_lfht_node_init(&dep->node);
		cds_lfht_add(w->deps, hash_dep(&k), &dep->node);
	}
	d->refs++;
	return dep;
}

static void dep_release(struct fw_watches *w, struct wdep *dep)
{
	struct wdir *d = dep->dir;

	if (!dep->any)
		cds_lfht_del(w->deps, &dep->node);
	cds_list_del(&dep->dir_link);
	cds_list_del(&dep->path_link);
	bury(w, &dep->grave);
	d->refs--;
	dir_put_if_unused(w, d);
}

void fw_deps_release(struct fw_watches *w, struct cds_list_head *list)
{
	struct wdep *dep, *tmp;

	cds_list_for_each_entry_safe(dep, tmp, list, path_link)
		dep_release(w, dep);
}

/* Make the path depend on (d, name): already so, kept from its previous
 * resolution (k->old), or new.  k->last is then that dependency, and
 * k->last_again whether this resolution needed it before. */
static int dep_need(struct walk *k, struct wdir *d, const char *name, bool any)
{
	struct wdep *dep = dep_in(&k->p->deps, d, name, any);

	k->last_again = dep != NULL;
	if (!dep) {
		dep = dep_in(k->old, d, name, any);
		if (dep)
			cds_list_move(&dep->path_link, &k->p->deps);
		else
			dep = dep_new(k->w, k->p, d, name, any);
	}
	k->last = dep;
	return dep ? 0 : -ENOMEM;
}

int fw_watch_need(struct walk *k, const char *dir, const char *name, bool any)
{
	struct wdir *d = NULL;
	int rc = dir_watch(k->w, dir, &d);

	if (rc < 0)
		return rc;
	rc = dep_need(k, d, name, any);
	if (rc < 0)
		dir_put_if_unused(k->w, d);
	return rc;
}

static struct wpath *path_track(struct fw_watches *w, const char *path)
{
	size_t len = strlen(path);
	struct wpath *p = malloc(sizeof(*p) + len + 1);

	if (!p)
		return NULL;
	CDS_INIT_LIST_HEAD(&p->deps);
	p->dirty = false;
	p->needs_resolve = true;
	p->quiet = NULL;
	p->qdir = NULL;
	p->qdir_len = 0;
	p->len = len;
	memcpy(p->path, path, len + 1);
	cds_lfht_node_init(&p->node);
	cds_lfht_add(w->paths, hash_path(path, len), &p->node);
	w->npaths++;
	return p;
}

static void path_forget(struct fw_watches *w, struct wpath *p)
{
	cds_lfht_del(w->paths, &p->node);
	w->npaths--;
	path_unmark(p);
	fw_path_quiet_clear(p); /* ours alone: no reader to wait for */
	fw_deps_release(w, &p->deps);
	bury(w, &p->grave);
}

static bool path_acceptable(const char *path)
{
	return path && path[0] == '/' && strlen(path) < PATH_MAX;
}

/* ---- public: lifetime -------------------------------------------------------- */

static void rcu_register_once(void)
{
	static _Thread_local bool registered;

	if (!registered) {
		rcu_register_thread();
		registered = true;
	}
}

static struct cds_lfht *table_new(void)
{
	return cds_lfht_new(16, 16, 0,
			    CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
}

/* Outside any read-side section: destroy waits for a resize in flight,
 * whose worker waits for a grace period. */
static void table_destroy(struct cds_lfht *ht, const char *what)
{
	/* -EPERM if not empty: a bookkeeping bug, and the table leaks. */
	if (ht && cds_lfht_destroy(ht, NULL) != 0)
		fw_err("watches: %s table not empty at exit", what);
}

static void tables_destroy(struct fw_watches *w)
{
	table_destroy(w->paths, "path");
	table_destroy(w->wds, "watch");
	table_destroy(w->deps, "dependency");
}

int fw_watches_new(struct fw_watches **out)
{
	struct fw_watches *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	rcu_register_once();
	CDS_INIT_LIST_HEAD(&w->dirty);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		int err = errno;

		free(w);
		return -err;
	}
	w->paths = table_new();
	w->wds = table_new();
	w->deps = table_new();
	if (!w->paths || !w->wds || !w->deps) {
		tables_destroy(w);
		close(w->fd);
		free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

void fw_watches_free(struct fw_watches *w)
{
	if (!w)
		return;
	fw_watches_clear(w);
	tables_destroy(w);
	close(w->fd);
	free(w);
}

int fw_watches_fd(const struct fw_watches *w)
{
	return w->fd;
}

/* ---- public: tracking ------------------------------------------------------- */

int fw_watches_add(struct fw_watches *w, const char *path)
{
	struct wpath *p;
	int rc;

	if (!path_acceptable(path))
		return -EINVAL;
	rcu_read_lock();
	p = path_find(w, path);
	if (!p)
		p = path_track(w, path);
	rc = p ? fw_path_resolve(w, p) : -ENOMEM;
	rcu_read_unlock();
	reclaim(w);
	return rc;
}

int fw_watches_refresh(struct fw_watches *w, const char *path)
{
	struct wpath *p;
	int rc = 0, stray = -1;

	if (!path_acceptable(path))
		return -ENOENT;
	rcu_read_lock();
	p = path_find(w, path);
	if (!p) {
		rc = -ENOENT;
	} else if (!fw_path_intact(w, p, &stray)) {
		rc = fw_path_resolve(w, p);
		/* EINVAL if the kernel dropped it meanwhile: nothing to undo. */
		if (stray >= 0 && !fw_dir_find(w, stray))
			(void)inotify_rm_watch(w->fd, stray);
	}
	rcu_read_unlock();
	reclaim(w);
	return rc;
}

int fw_watches_remove(struct fw_watches *w, const char *path)
{
	struct wpath *p;

	if (!path_acceptable(path))
		return -ENOENT;
	rcu_read_lock();
	p = path_find(w, path);
	if (p)
		path_forget(w, p);
	rcu_read_unlock();
	reclaim(w);
	return p ? 0 : -ENOENT;
}

void fw_watches_clear(struct fw_watches *w)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	rcu_read_lock();
	/* An unlinked node stays traversable until the grace period. */
	cds_lfht_for_each(w->paths, &it, node)
		path_forget(w, path_of(node));
	rcu_read_unlock();
	reclaim(w);
}

/* ---- public: events --------------------------------------------------------- */

/* The watch is gone: every path depending on it re-resolves.  True if
 * some path became dirty. */
static bool dir_mark_all(struct fw_watches *w, struct wdir *d)
{
	struct wdep *dep;
	bool any = false;

	cds_list_for_each_entry(dep, &d->deps, dir_link)
		any |= path_mark(w, dep->path, true);
	cds_list_for_each_entry(dep, &d->any, dir_link)
		any |= path_mark(w, dep->path, true);
	return any;
}

/* An event on `name` in d: the paths depending on that name re-resolve,
 * unless it is their quiet name and the event is content only; a tracked
 * directory's entries (wildcards) are no name it resolves through. */
static bool dir_mark_name(struct fw_watches *w, struct wdir *d,
			  const char *name, size_t len, uint32_t mask)
{
	struct dep_key k = { d, name, len };
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	struct wdep *dep;
	bool content = (mask & ~(uint32_t)FW_WATCHES_CONTENT) == 0;
	bool any = false;

	cds_lfht_for_each_duplicate(w->deps, hash_dep(&k), match_dep, &k, &it,
				    node)
	{
		dep = caa_container_of(node, struct wdep, node);
		any |= path_mark(w, dep->path,
				 !content || dep->path->quiet != dep);
	}
	cds_list_for_each_entry(dep, &d->any, dir_link)
		any |= path_mark(w, dep->path, false);
	return any;
}

static void overflow(struct fw_watches *w, struct fw_watches_batch *b)
{
	b->overflow = true;
	fw_warn("inotify queue overflow: re-validating all %zu paths",
		w->npaths);
	fw_watches_mark_all_dirty(w);
}

/* Returns true if the event made some path dirty. */
static bool event_apply(struct fw_watches *w, const struct inotify_event *ev,
			struct fw_watches_batch *b)
{
	struct wdir *d;

	if (ev->mask & IN_Q_OVERFLOW) {
		overflow(w, b);
		return true;
	}
	d = fw_dir_find(w, ev->wd);
	if (!d) /* IN_IGNORED after our rm_watch, or a name-less race */
		return false;
	if (ev->mask & FW_WATCHES_GONE) {
		bool any = dir_mark_all(w, d);

		/* A moved directory stays watched by the kernel, but its path
		 * no longer names it: refresh finds what the path names now. */
		dir_retire(w, d, (ev->mask & IN_MOVE_SELF) != 0);
		return any;
	}
	return dir_mark_name(w, d, ev->name, strnlen(ev->name, ev->len),
			     ev->mask);
}

static void events_apply(struct fw_watches *w, size_t n,
			 struct fw_watches_batch *b)
{
	const char *pos = w->buf;

	rcu_read_lock();
	while (pos < w->buf + n) {
		const struct inotify_event *ev = (const void *)pos;

		b->events++;
		if (!event_apply(w, ev, b))
			b->coalesced++;
		pos += sizeof(*ev) + ev->len;
	}
	rcu_read_unlock();
}

int fw_watches_read(struct fw_watches *w, struct fw_watches_batch *batch)
{
	struct fw_watches_batch local;
	struct fw_watches_batch *b = batch ? batch : &local;

	*b = (struct fw_watches_batch){ 0 };
	for (;;) {
		ssize_t n = read(w->fd, w->buf, sizeof w->buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		events_apply(w, (size_t)n, b);
	}
	reclaim(w);
	return 0;
}

int fw_watches_mark_dirty(struct fw_watches *w, const char *path)
{
	struct wpath *p;

	if (!path_acceptable(path))
		return -ENOENT;
	rcu_read_lock();
	p = path_find(w, path);
	if (p)
		path_mark(w, p, true);
	rcu_read_unlock();
	return p ? 0 : -ENOENT;
}

void fw_watches_mark_all_dirty(struct fw_watches *w)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	rcu_read_lock();
	cds_lfht_for_each(w->paths, &it, node)
		path_mark(w, path_of(node), true);
	rcu_read_unlock();
}

const char *fw_watches_next_dirty(struct fw_watches *w)
{
	struct wpath *p;

	if (cds_list_empty(&w->dirty))
		return NULL;
	p = cds_list_first_entry(&w->dirty, struct wpath, dirty_link);
	path_unmark(p);
	return p->path;
}

size_t fw_watches_npaths(const struct fw_watches *w)
{
	return w->npaths;
}

size_t fw_watches_nwatches(const struct fw_watches *w)
{
	return w->nwatches;
}

uint64_t fw_watches_resolutions(const struct fw_watches *w)
{
	return w->resolutions;
}

void fw_watches_foreach(struct fw_watches *w,
			void (*fn)(void *ctx, const char *path), void *ctx)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	rcu_read_lock();
	cds_lfht_for_each(w->paths, &it, node)
		fn(ctx, path_of(node)->path);
	rcu_read_unlock();
}
