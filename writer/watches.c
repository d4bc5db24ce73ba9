/*
 * watches.c - which inotify watches serve which tracked paths: the public
 * calls of watches.h.
 *
 * The records (wpath, wdir, wdep), their lookups, the watches and the
 * dependencies are graph.c's; resolving a path into its watches, and
 * when a refresh re-resolves, is resolve.c's (its top comment states the
 * rule and the blind spots); applying inotify events and marking paths
 * dirty is events.c's.  This file is the public face: lifetime, tracking
 * (add, refresh, remove), the dirty list's consumer and the counts.
 */
#include "watches.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <urcu.h>
#include <urcu/rculfhash.h>

#include "log.h"
#include "sys.h"
#include "watches_impl.h"

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
	return cds_lfht_new(FW_WATCHES_BUCKETS_MIN, FW_WATCHES_BUCKETS_MIN, 0,
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

int fw_watches_new(struct fw_watches **out, enum fw_source_kind kind, char *why,
		   size_t why_size)
{
	struct fw_watches *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	rcu_register_once();
	for (unsigned l = 0; l < FW_WATCHES_LEVELS; l++)
		CDS_INIT_LIST_HEAD(&w->dirty[l]);
	err = fw_source_open(&w->src, kind, why, why_size);
	if (err < 0) {
		free(w);
		return err;
	}
	w->paths = table_new();
	w->wds = table_new();
	w->deps = table_new();
	w->paths_buckets = w->wds_buckets = w->deps_buckets =
		FW_WATCHES_BUCKETS_MIN;
	if (!w->paths || !w->wds || !w->deps) {
		tables_destroy(w);
		fw_source_close(w->src);
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
	fw_source_close(w->src);
	free(w);
}

int fw_watches_fd(const struct fw_watches *w)
{
	return fw_source_fd(w->src);
}

enum fw_source_kind fw_watches_source(const struct fw_watches *w)
{
	return fw_source_kind(w->src);
}

uint64_t fw_watches_orphans(const struct fw_watches *w)
{
	return fw_source_orphans(w->src);
}

uint64_t fw_watches_limit(const struct fw_watches *w)
{
	return fw_source_limit(w->src);
}

void fw_watches_set_settle(struct fw_watches *w, uint64_t settle_ns)
{
	w->settle_ns = settle_ns;
}

/* ---- public: tracking ------------------------------------------------------- */

int fw_watches_add(struct fw_watches *w, const char *path)
{
	struct wpath *p;
	int rc;

	if (!fw_path_acceptable(path))
		return -EINVAL;
	rcu_read_lock();
	p = fw_path_find(w, path);
	if (!p)
		p = fw_path_track(w, path);
	if (p)
		fw_path_unmark(w, p);
	rc = p ? fw_path_resolve(w, p) : -ENOMEM;
	rcu_read_unlock();
	fw_watches_reclaim(w);
	return rc;
}

int fw_watches_refresh(struct fw_watches *w, const char *path)
{
	struct wpath *p;
	int rc = 0, stray = -1;
	char stray_dir[PATH_MAX];

	if (!fw_path_acceptable(path))
		return -ENOENT;
	rcu_read_lock();
	p = fw_path_find(w, path);
	if (p)
		fw_path_unmark(w,
			       p); /* what the stat after this sees is news */
	if (!p) {
		rc = -ENOENT;
	} else if (!fw_path_intact(w, p, &stray, stray_dir)) {
		struct wdir *d;

		rc = fw_path_resolve(w, p);
		d = stray >= 0 ? fw_dir_find(w, stray) : NULL;
		if (stray >= 0 && !d)
			fw_source_rm(w->src, stray, stray_dir, true);
		/* The check watched it at FULL; the resolution may need less
		 * of it (an ancestor's). */
		if (d) {
			fw_dir_raised(w, d, FW_WATCH_FULL);
			fw_dir_lower(w, d);
		}
	}
	rcu_read_unlock();
	fw_watches_reclaim(w);
	return rc;
}

bool fw_watches_incomplete(struct fw_watches *w, const char *path)
{
	struct wpath *p;
	bool inc;

	if (!fw_path_acceptable(path))
		return false;
	rcu_read_lock();
	p = fw_path_find(w, path);
	inc = p && p->incomplete;
	rcu_read_unlock();
	return inc;
}

void fw_watches_asked(struct fw_watches *w, const char *path, enum fw_asker who)
{
	struct wpath *p;

	if (!fw_path_acceptable(path))
		return;
	rcu_read_lock();
	p = fw_path_find(w, path);
	if (p)
		p->asked |= (uint8_t)who;
	rcu_read_unlock();
}

bool fw_watches_others_only(struct fw_watches *w, const char *path)
{
	struct wpath *p;
	bool only;

	if (!fw_path_acceptable(path))
		return false;
	rcu_read_lock();
	p = fw_path_find(w, path);
	only = p && p->asked == FW_ASKED_OTHER;
	rcu_read_unlock();
	return only;
}

int fw_watches_remove(struct fw_watches *w, const char *path)
{
	struct wpath *p;

	if (!fw_path_acceptable(path))
		return -ENOENT;
	rcu_read_lock();
	p = fw_path_find(w, path);
	if (p)
		fw_path_forget(w, p);
	rcu_read_unlock();
	fw_watches_reclaim(w);
	return p ? 0 : -ENOENT;
}

void fw_watches_clear(struct fw_watches *w)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	rcu_read_lock();
	/* An unlinked node stays traversable until the grace period. */
	cds_lfht_for_each(w->paths, &it, node)
		fw_path_forget(w, fw_path_of(node));
	rcu_read_unlock();
	fw_watches_reclaim(w);
}

/* ---- public: dirty paths ------------------------------------------------------ */

const char *fw_watches_next_dirty(struct fw_watches *w)
{
	uint64_t due;
	struct wpath *p = fw_dirty_take(w, fw_monotonic_ns(), true, &due);

	return p ? p->path : NULL;
}

const char *fw_watches_next_settled(struct fw_watches *w, uint64_t now_ns,
				    uint64_t *due_ns)
{
	struct wpath *p = fw_dirty_take(w, now_ns, false, due_ns);

	return p ? p->path : NULL;
}

void fw_watches_on_dirty(struct fw_watches *w, fw_watches_dirty_fn fn,
			 void *ctx)
{
	w->on_dirty = fn;
	w->on_dirty_ctx = ctx;
}

size_t fw_watches_ndirty(const struct fw_watches *w)
{
	return w->ndirty;
}

size_t fw_watches_npaths(const struct fw_watches *w)
{
	return w->npaths;
}

size_t fw_watches_nwatches(const struct fw_watches *w)
{
	return w->nwatches;
}

bool fw_watches_file_marks(const struct fw_watches *w)
{
	return !w->no_file_marks && fw_source_file_marks(w->src);
}

void fw_watches_set_walk_hook(struct fw_watches *w,
			      void (*fn)(void *ctx, const char *missing),
			      void *ctx)
{
	w->walk_hook = fn;
	w->walk_hook_ctx = ctx;
}

void fw_watches_set_file_marks(struct fw_watches *w, bool on)
{
	w->no_file_marks = !on;
}

size_t fw_watches_nancestors(const struct fw_watches *w)
{
	return w->nancestors;
}

void fw_watches_set_ancestors(struct fw_watches *w, bool on)
{
	w->ancestors = on;
}

unsigned long fw_watches_path_buckets(const struct fw_watches *w)
{
	return w->paths_buckets;
}

uint64_t fw_watches_quieted(const struct fw_watches *w)
{
	return w->quieted;
}

size_t fw_watches_nfiles(const struct fw_watches *w)
{
	return w->nfiles;
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
		fn(ctx, fw_path_of(node)->path);
	rcu_read_unlock();
}
