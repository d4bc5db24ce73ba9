/*
 * graph.c - the dependency graph between tracked paths and inotify
 * watches: its records, their lookups and their lifetimes.
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
 *          record: reference counting is per inode, as inotify's is.  The
 *          kernel's watch reports what the highest level among its wdeps
 *          asks for (source.h: FULL, NAMES, SELF), and is lowered when
 *          the last wdep of that level goes (fw_dir_lower).
 *   wdep   "path P cares about name N in directory D": the edge between a
 *          wpath and a wdir.  Found by (wdir, name); several paths may
 *          share a key (two links to one file, say).  A wildcard wdep
 *          (no name) cares about every event on D: it serves a path whose
 *          final target is itself a directory, whose mtime any change of
 *          an entry moves.  An ancestor's wdep (resolve.c, "Ancestors")
 *          is a named one at level NAMES, which entry events re-resolve
 *          and content events leave alone, or at level SELF with no name,
 *          on the wdir's own list, which only the directory's own
 *          deletion or move concerns.
 * The lookups are liburcu lock-free hash tables keyed with XXH3:
 * path -> wpath, wd -> wdir, (wdir, name) -> wdep.  The writer is single
 * threaded, so RCU buys nothing but costs little; it is used by the book:
 * every table access sits in a read-side section, and a record unlinked
 * from a table is freed only after synchronize_rcu(), run once per public
 * call outside the read-side section (see bury() and
 * fw_watches_reclaim()).  With CDS_LFHT_AUTO_RESIZE liburcu 0.13 starts
 * one resize worker thread per process while any such table exists; it
 * sleeps on a futex when idle (no periodic wake-ups) and exits when the
 * last table is destroyed.  Its growth is lazy and, past 2,048 entries,
 * only considered when the count crosses a power of two: 10,000 paths
 * added at start were left in 16 buckets (measured: 1 us a lookup, and
 * most of a busy writer's time).  So the tables are also grown here
 * (table_fit), by the counts this file keeps, to twice their entries.
 */
#include "watches_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "log.h"
#include "sys.h"

/* ---- hashing and matching ---------------------------------------------- */

static unsigned long hash_path(const char *path, size_t len)
{
	return (unsigned long)XXH3_64bits(path, len);
}

static unsigned long hash_wd(int wd)
{
	return (unsigned long)XXH3_64bits(&wd, sizeof wd);
}

unsigned long fw_dep_hash(const struct dep_key *k)
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

int fw_dep_match(struct cds_lfht_node *node, const void *key)
{
	const struct wdep *dep = caa_container_of(node, struct wdep, node);
	const struct dep_key *k = key;

	return dep->dir == k->dir && dep->len == k->len &&
	       memcmp(dep->name, k->name, k->len) == 0;
}

/* liburcu's cds_lfht_for_each_entry*() end by taking container_of(NULL),
 * which UBSan rightly rejects: iterate nodes, convert the non-NULL ones. */
struct wpath *fw_path_of(struct cds_lfht_node *node)
{
	return caa_container_of(node, struct wpath, node);
}

/* ---- deferred frees ------------------------------------------------------ */

static void bury(struct fw_watches *w, struct grave *g)
{
	g->next = w->graves;
	w->graves = g;
}

/* Outside any read-side section: a table with more entries than buckets
 * is grown to twice as many buckets as entries (see the top comment).
 * Never shrunk here: liburcu's own resizing does that on removals. */
static void table_fit(struct cds_lfht *ht, size_t count, unsigned long *buckets)
{
	unsigned long want = *buckets;

	if (count <= *buckets)
		return;
	while (want < 2 * count && want < ULONG_MAX / 2)
		want <<= 1;
	cds_lfht_resize(ht, want);
	*buckets = want;
}

/* Outside any read-side section: one grace period frees the whole batch;
 * and the tables are grown to their counts. */
void fw_watches_reclaim(struct fw_watches *w)
{
	struct grave *g = w->graves;

	table_fit(w->paths, w->npaths, &w->paths_buckets);
	table_fit(w->wds, w->nwatches + w->nfiles, &w->wds_buckets);
	table_fit(w->deps, w->ndeps, &w->deps_buckets);
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

struct wpath *fw_path_find(struct fw_watches *w, const char *path)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(w->paths, hash_path(path, strlen(path)), match_path,
			path, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? fw_path_of(node) : NULL;
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

/*
 * A dirty path waits to be re-stat'ed until it has been quiet for its
 * delay, settle_ns << level.  Its level rises when it is dirty again soon
 * after its last refresh (within four delays) and falls when it is not
 * (after sixteen), so a file written every 100 ms climbs until it never
 * settles: its entry stays marked changed, its readers stat() it, and the
 * writer pays nothing but reading its events.
 *
 * dirty[l] holds the dirty paths at level l in order of their last event
 * (an event moves a path to the tail), so each list is in order of due
 * time and the next due path is at one of the heads.  Only a path that
 * becomes dirty is reported to the owner's hook: the entry it marks stays
 * marked until the path is refreshed.
 */
static uint64_t delay_ns(const struct fw_watches *w, unsigned level)
{
	return w->settle_ns << level;
}

static void level_adapt(struct fw_watches *w, struct wpath *p, uint64_t now)
{
	uint64_t since = now - p->clean_ns, d = delay_ns(w, p->level);

	if (!p->clean_ns)
		return;
	if (since < 4 * d && p->level + 1 < FW_WATCHES_LEVELS)
		p->level++;
	else if (since > 16 * d && p->level > 0)
		p->level--;
}

/* True if the path was clean.  `resolve`: the event may have changed what
 * the path resolves to, so its refresh must re-resolve it. */
bool fw_path_mark(struct fw_watches *w, struct wpath *p, bool resolve)
{
	uint64_t now = w->now_ns;

	if (resolve)
		p->needs_resolve = true;
	if (p->dirty) {
		if (p->heard < UINT8_MAX)
			p->heard++;
		p->last_event_ns = now;
		cds_list_del(&p->dirty_link);
		cds_list_add_tail(&p->dirty_link, &w->dirty[p->level]);
		return false;
	}
	level_adapt(w, p, now);
	p->dirty = true;
	p->last_event_ns = now;
	cds_list_add_tail(&p->dirty_link, &w->dirty[p->level]);
	w->ndirty++;
	if (w->on_dirty)
		w->on_dirty(w->on_dirty_ctx, p->path, p->len);
	return true;
}

void fw_path_unmark(struct fw_watches *w, struct wpath *p)
{
	struct wdep *dep;

	if (!p->dirty)
		return;
	/* Its file is heard again before the re-stat that follows. */
	cds_list_for_each_entry(dep, &p->deps, path_link)
		if (dep->dir->file)
			fw_file_unquiet(w, dep->dir);
	p->dirty = false;
	p->heard = 0;
	p->clean_ns = w->now_ns;
	cds_list_del(&p->dirty_link);
	w->ndirty--;
}

/*
 * A silenced file's path that comes due has had no event for its delay
 * because it could not have one, not because its file is quiet.  So it
 * is asked instead, with one fstat() of the descriptor held on it
 * (fw_source_quiet_changed): changed since it was silenced or last asked,
 * it is still written, stays silenced and waits a longer delay (its level
 * rises); unchanged for the whole delay, it is re-stat'ed, heard again
 * first (fw_path_unmark).  A file written all the time then costs one
 * fstat() per delay, the longest delay once it has climbed there, and no
 * event, stat() or publish.  True if `p` was such a path, still written.
 */
static bool still_written(struct fw_watches *w, struct wpath *p, uint64_t now)
{
	struct wdep *dep;
	bool changed = false;

	cds_list_for_each_entry(dep, &p->deps, path_link)
		if (dep->dir->file && dep->dir->quiet && dep->dir->wd >= 0)
			changed |= fw_source_quiet_changed(w->src,
							   dep->dir->wd) > 0;
	if (!changed)
		return false;
	if (p->level + 1 < FW_WATCHES_LEVELS)
		p->level++;
	p->last_event_ns = now;
	cds_list_del(&p->dirty_link);
	cds_list_add_tail(&p->dirty_link, &w->dirty[p->level]);
	return true;
}

/* The dirty path due first, and when; NULL if none. */
static struct wpath *due_first(struct fw_watches *w, uint64_t *due)
{
	struct wpath *best = NULL;

	for (unsigned l = 0; l < FW_WATCHES_LEVELS; l++) {
		struct wpath *p;
		uint64_t t;

		if (cds_list_empty(&w->dirty[l]))
			continue;
		p = cds_list_first_entry(&w->dirty[l], struct wpath,
					 dirty_link);
		t = p->last_event_ns + delay_ns(w, l);
		if (!best || t < *due) {
			best = p;
			*due = t;
		}
	}
	return best;
}

struct wpath *fw_dirty_take(struct fw_watches *w, uint64_t now, bool all,
			    uint64_t *due)
{
	struct wpath *p;

	w->now_ns = now;
	do {
		p = due_first(w, due);
		if (!p) {
			*due = 0;
			return NULL;
		}
		if (!all && *due > now)
			return NULL;
	} while (!all && still_written(w, p, now));
	fw_path_unmark(w, p);
	return p;
}

/* ---- watches --------------------------------------------------------------- */

/* A directory's watch reports `level` now: keep the counts with it. */
static void dir_level_set(struct fw_watches *w, struct wdir *d, uint8_t level)
{
	if (d->level < FW_WATCH_FULL)
		w->nancestors--;
	d->level = level;
	if (d->level < FW_WATCH_FULL)
		w->nancestors++;
}

/* Stop listening on a watch: unlist it, and remove the kernel's watch
 * unless the kernel already did. */
void fw_dir_retire(struct fw_watches *w, struct wdir *d, bool rm)
{
	if (d->wd < 0)
		return;
	fw_source_rm(w->src, d->wd, d->path, rm);
	cds_lfht_del(w->wds, &d->node);
	d->wd = -1;
	if (d->file) {
		w->nfiles--;
	} else {
		w->nwatches--;
		if (d->level < FW_WATCH_FULL)
			w->nancestors--;
	}
}

void fw_dir_raised(struct fw_watches *w, struct wdir *d,
		   enum fw_watch_level level)
{
	if (d->wd >= 0 && !d->file && level > d->level) {
		dir_level_set(w, d, (uint8_t)level);
		d->stuck = false;
	}
}

/*
 * Ask the kernel for no more than the dependencies need: a directory no
 * longer the parent of a watched path, but still above one, must not keep
 * waking the writer for every write in it.  Where the path no longer
 * names the inode (source.c cannot reach it), the watch keeps its level
 * (extra events, nothing lost) and is not tried again until raised.
 */
void fw_dir_lower(struct fw_watches *w, struct wdir *d)
{
	int need = FW_WATCH_FULL, made = -1;

	if (d->wd < 0 || d->file || d->refs == 0 || d->stuck)
		return;
	while (need > 0 && d->lrefs[need] == 0)
		need--;
	if (need >= d->level)
		return;
	if (fw_source_lower(w->src, d->wd, d->path, (enum fw_watch_level)need,
			    &made) == 0)
		dir_level_set(w, d, (uint8_t)need);
	else
		d->stuck = true;
	/* What the path names now, watched to find out: not ours. */
	if (made >= 0 && !fw_dir_find(w, made))
		fw_source_rm(w->src, made, NULL, true);
}

static void dir_put_if_unused(struct fw_watches *w, struct wdir *d)
{
	if (d->refs > 0)
		return;
	fw_dir_retire(w, d, true);
	bury(w, &d->grave);
}

static void note_watch_failure(struct fw_watches *w, const char *dir, int err)
{
	if (err == ENOSPC && !w->limit_warned) {
		w->limit_warned = true;
		fw_warn("%s watch limit reached at %s (%s): paths there "
			"are answered by stat()",
			fw_source_kind_name(fw_source_kind(w->src)), dir,
			fw_source_kind(w->src) == FW_SOURCE_FANOTIFY
				? "fs.fanotify.max_user_marks"
				: "fs.inotify.max_user_watches");
		return;
	}
	fw_debug("watching %s: %s", dir, strerror(err));
}

/* Watch a directory at `level` (or with `file`, a file's own inode), or
 * find the record of the watch it already has (raised to `level`). */
static int dir_watch(struct fw_watches *w, const char *dir, bool file,
		     enum fw_watch_level level, bool nofollow,
		     struct wdir **out)
{
	int wd = file ? fw_source_add_file(w->src, dir)
		      : fw_source_watch(w->src, dir, level, nofollow);
	struct wdir *d;
	struct statfs sf;
	size_t len = strlen(dir);

	if (wd < 0) {
		int err = errno;

		if (!file && err != ENOENT && err != ENOTDIR && err != ELOOP)
			note_watch_failure(w, dir, err);
		return -err;
	}
	w->limit_warned = false;
	d = fw_dir_find(w, wd);
	if (!d) {
		d = malloc(sizeof(*d) + len + 1);
		if (!d) {
			fw_source_rm(w->src, wd, dir, true);
			return -ENOMEM;
		}
		d->wd = wd;
		d->file = file;
		d->incomplete = statfs(dir, &sf) == 0 &&
				fw_fstype_incomplete((long)sf.f_type);
		d->stuck = false;
		d->level = file ? FW_WATCH_FULL : (uint8_t)level;
		d->quiet = false;
		d->refs = 0;
		memset(d->lrefs, 0, sizeof(d->lrefs));
		CDS_INIT_LIST_HEAD(&d->deps);
		CDS_INIT_LIST_HEAD(&d->any);
		CDS_INIT_LIST_HEAD(&d->self);
		memcpy(d->path, dir, len + 1);
		cds_lfht_node_init(&d->node);
		cds_lfht_add(w->wds, hash_wd(wd), &d->node);
		if (file) {
			w->nfiles++;
		} else {
			w->nwatches++;
			if (d->level < FW_WATCH_FULL)
				w->nancestors++;
		}
	} else {
		fw_dir_raised(w, d, level);
	}
	*out = d;
	return 0;
}

/* ---- dependencies ---------------------------------------------------------- */

/* A SELF dependency has no name (and no wildcard's meaning). */
static struct wdep *dep_in(struct cds_list_head *list, const struct wdir *d,
			   const char *name, bool any, uint8_t level)
{
	struct wdep *dep;
	size_t len = any || !name ? 0 : strlen(name);

	cds_list_for_each_entry(dep, list, path_link) {
		if (dep->dir == d && dep->any == any && dep->level == level &&
		    dep->len == len &&
		    memcmp(dep->name, name ? name : "", len) == 0)
			return dep;
	}
	return NULL;
}

static struct wdep *dep_new(struct fw_watches *w, struct wpath *p,
			    struct wdir *d, const char *name, bool any,
			    uint8_t level)
{
	size_t len = any || !name ? 0 : strlen(name);
	struct wdep *dep = malloc(sizeof(*dep) + len + 1);

	if (!dep)
		return NULL;
	dep->path = p;
	dep->dir = d;
	dep->any = any;
	dep->level = level;
	dep->len = len;
	memcpy(dep->name, any || !name ? "" : name, len + 1);
	cds_list_add_tail(&dep->path_link, &p->deps);
	if (any) {
		cds_list_add_tail(&dep->dir_link, &d->any);
	} else if (level == FW_WATCH_SELF) {
		cds_list_add_tail(&dep->dir_link, &d->self);
	} else {
		struct dep_key k = { d, dep->name, len };

		cds_list_add_tail(&dep->dir_link, &d->deps);
		cds_lfht_node_init(&dep->node);
		cds_lfht_add(w->deps, fw_dep_hash(&k), &dep->node);
		w->ndeps++;
	}
	d->refs++;
	d->lrefs[level]++;
	return dep;
}

static void dep_release(struct fw_watches *w, struct wdep *dep)
{
	struct wdir *d = dep->dir;

	if (!dep->any && dep->level != FW_WATCH_SELF) {
		cds_lfht_del(w->deps, &dep->node);
		w->ndeps--;
	}
	cds_list_del(&dep->dir_link);
	cds_list_del(&dep->path_link);
	bury(w, &dep->grave);
	d->refs--;
	d->lrefs[dep->level]--;
	dir_put_if_unused(w, d);
	if (d->refs > 0 && d->lrefs[dep->level] == 0)
		fw_dir_lower(w, d);
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
static int dep_need(struct walk *k, struct wdir *d, const char *name, bool any,
		    uint8_t level)
{
	struct wdep *dep = dep_in(&k->p->deps, d, name, any, level);

	k->last_again = dep != NULL;
	if (!dep) {
		dep = dep_in(k->old, d, name, any, level);
		if (dep)
			cds_list_move(&dep->path_link, &k->p->deps);
		else
			dep = dep_new(k->w, k->p, d, name, any, level);
	}
	k->last = dep;
	return dep ? 0 : -ENOMEM;
}

/* The watch of `dir` (a file's own mark with `file`) and this path's
 * dependency on it. */
static int watch_need(struct walk *k, const char *dir, bool file,
		      const char *name, bool any, enum fw_watch_level level,
		      bool nofollow)
{
	struct wdir *d = NULL;
	int rc = dir_watch(k->w, dir, file, level, nofollow, &d);

	if (rc < 0)
		return rc;
	if (file)
		fw_file_unquiet(k->w, d); /* this path may be clean */
	rc = dep_need(k, d, name, any, (uint8_t)level);
	if (rc < 0) {
		dir_put_if_unused(k->w, d);
		if (d->refs > 0)
			fw_dir_lower(k->w, d);
	}
	return rc;
}

int fw_watch_need(struct walk *k, const char *dir, const char *name, bool any)
{
	return watch_need(k, dir, false, name, any, FW_WATCH_FULL, false);
}

int fw_ancestor_need(struct walk *k, const char *dir, const char *name)
{
	return watch_need(k, dir, false, name, false,
			  name ? FW_WATCH_NAMES : FW_WATCH_SELF, true);
}

int fw_file_need(struct walk *k, const char *path)
{
	if (k->w->no_file_marks)
		return -EOPNOTSUPP;
	return watch_need(k, path, true, NULL, true, FW_WATCH_FULL, false);
}

void fw_file_unquiet(struct fw_watches *w, struct wdir *d)
{
	if (!d->quiet)
		return;
	d->quiet = false;
	if (d->wd >= 0)
		(void)fw_source_quiet(w->src, d->wd, d->path, false);
}

struct wpath *fw_path_track(struct fw_watches *w, const char *path)
{
	size_t len = strlen(path);
	struct wpath *p = malloc(sizeof(*p) + len + 1);

	if (!p)
		return NULL;
	CDS_INIT_LIST_HEAD(&p->deps);
	p->dirty = false;
	p->heard = 0;
	p->last_event_ns = 0;
	p->clean_ns = 0;
	p->level = 0;
	p->needs_resolve = true;
	p->linked = false;
	p->incomplete = false;
	p->blocked = false;
	p->asked = 0;
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

/* The path's quiet name is no longer known (see resolve.c). */
void fw_path_quiet_clear(struct wpath *p)
{
	p->quiet = NULL;
	free(p->qdir);
	p->qdir = NULL;
	p->qdir_len = 0;
}

void fw_path_forget(struct fw_watches *w, struct wpath *p)
{
	cds_lfht_del(w->paths, &p->node);
	w->npaths--;
	fw_path_unmark(w, p);
	fw_path_quiet_clear(p); /* ours alone: no reader to wait for */
	fw_deps_release(w, &p->deps);
	bury(w, &p->grave);
}
