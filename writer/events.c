/*
 * events.c - applying a batch of events (source.c) to the tracked paths:
 * each event makes dirty the paths that depend on what it names
 * (watches_impl.h has the records; watches.c keeps them).
 *
 * Events are hints and stat is the truth, so this file never tries to
 * interpret moves (cookies) or orderings: an event concerning a name marks
 * the paths that depend on it dirty; an event that the watched directory
 * itself is gone (IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED, IN_UNMOUNT)
 * marks every dependent path dirty and retires the watch (its record
 * lingers, unlisted, until the dependent paths are refreshed or removed).
 * IN_IGNORED for a watch we removed ourselves finds no record and is
 * merely counted.
 *
 * The resolution flag an event sets follows the rule on top of resolve.c:
 * a content-only event on a path's quiet name leaves it clear.  An
 * ancestor's dependencies (resolve.c, "Ancestors") ask for less: a NAMES
 * one is made dirty by every event on its name but a write, a SELF one by
 * its directory's own deletion or move.
 *
 * Attribute changes of a directory (chmod, chown, ACLs) re-resolve every
 * path depending on it, whatever the level: they decide whether the
 * writer may search it, so whether stat() of a path below succeeds
 * (EACCES for a writer running as an ordinary user).  They come as the
 * directory's own nameless event on its watch, and as a named one on its
 * parent's NAMES watch; the second is what brings a directory back that
 * was made unreadable, as its own watch could not be placed again.
 */
#include "watches_impl.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "sys.h"

/* ---- events --------------------------------------------------------- */

/* The watch is gone: every path depending on it re-resolves.  True if
 * some path became dirty. */
static bool dir_mark_all(struct fw_watches *w, struct wdir *d)
{
	struct wdep *dep;
	bool any = false;

	cds_list_for_each_entry(dep, &d->deps, dir_link)
		any |= fw_path_mark(w, dep->path, true);
	cds_list_for_each_entry(dep, &d->any, dir_link)
		any |= fw_path_mark(w, dep->path, true);
	cds_list_for_each_entry(dep, &d->self, dir_link)
		any |= fw_path_mark(w, dep->path, true);
	return any;
}

/* The directory's own attributes changed: the paths below it re-resolve
 * (whether they can be looked up depends on its search permission); a
 * path naming the directory itself (a wildcard) is only re-stat'ed, as
 * for its entries' changes: looking it up needs its parent's permission,
 * not its own. */
static bool dir_mark_attrib(struct fw_watches *w, struct wdir *d)
{
	struct wdep *dep;
	bool any = false;

	cds_list_for_each_entry(dep, &d->deps, dir_link)
		any |= fw_path_mark(w, dep->path, true);
	cds_list_for_each_entry(dep, &d->any, dir_link)
		any |= fw_path_mark(w, dep->path, false);
	cds_list_for_each_entry(dep, &d->self, dir_link)
		any |= fw_path_mark(w, dep->path, true);
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

	cds_lfht_for_each_duplicate(w->deps, fw_dep_hash(&k), fw_dep_match, &k,
				    &it, node) {
		dep = caa_container_of(node, struct wdep, node);
		/* A watched directory's name: its writes change nothing
		 * below it, its attributes (search permission) may. */
		if (content && !(mask & IN_ATTRIB) &&
		    dep->level == FW_WATCH_NAMES)
			continue;
		any |= fw_path_mark(w, dep->path,
				    !content || dep->path->quiet != dep);
	}
	cds_list_for_each_entry(dep, &d->any, dir_link)
		any |= fw_path_mark(w, dep->path, false);
	return any;
}

/*
 * A file that keeps changing: once every path of its mark is dirty (its
 * entries marked changed, their readers stat() it) and one of them brought
 * a few events since (FW_WATCHES_QUIET_EVENTS, a write or two after the
 * one that made it dirty), its further writes carry no news until its
 * re-stat.  Stop hearing them: a file appended to 10 or 10,000 times a
 * second then costs a few system calls per settle delay, not an event per
 * write or per drain, and the events the writer still reads are mostly
 * news (a file not yet marked changed), which the pacer then need not
 * hold back (pacer.h).  Silencing and hearing a file again cost about as
 * much as the events of that threshold.  When its path comes due, one
 * fstat() of it says whether it is still written (graph.c, still_written):
 * if so it stays silenced for a longer delay; the re-stat, or a new path
 * on the file, hears it first.
 */
static void file_quiet_maybe(struct fw_watches *w, struct wdir *d)
{
	struct wdep *dep;
	bool hot = false;

	if (d->quiet || d->wd < 0)
		return;
	cds_list_for_each_entry(dep, &d->any, dir_link) {
		if (!dep->path->dirty)
			return;
		hot |= dep->path->heard >= FW_WATCHES_QUIET_EVENTS;
	}
	if (hot && fw_source_quiet(w->src, d->wd, d->path, true) == 0) {
		d->quiet = true;
		w->quieted++;
		if (w->batch)
			w->batch->quieted++;
	}
}

/* Some directory we no longer map changed attributes: the paths that
 * stopped at a directory the writer could not search try again. */
static bool blocked_mark_all(struct fw_watches *w)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	bool any = false;

	cds_lfht_for_each(w->paths, &it, node) {
		struct wpath *p = fw_path_of(node);

		if (p->blocked)
			any |= fw_path_mark(w, p, true);
	}
	return any;
}

static void overflow(struct fw_watches *w, struct fw_watches_batch *b)
{
	b->overflow = true;
	fw_watches_mark_all_dirty(w); /* the caller logs it */
}

struct apply {
	struct fw_watches *w;
	struct fw_watches_batch *b;
};

/* Returns true if the event made some path dirty. */
static bool event_apply(struct fw_watches *w, const struct fw_event *ev,
			struct fw_watches_batch *b)
{
	struct wdir *d;
	bool any;

	if (ev->wd == FW_EVENT_WD_UNMAPPED)
		return blocked_mark_all(w);
	if (ev->wd < 0) { /* the queue overflowed */
		overflow(w, b);
		return true;
	}
	d = fw_dir_find(w, ev->wd);
	if (!d) /* IN_IGNORED after our rm_watch, or a name-less race */
		return false;
	/* A directory renamed carries any mount below it to a new path,
	 * and the mount table polls no change for that (mounts.h). */
	if (((ev->mask & (IN_MOVED_FROM | IN_MOVED_TO)) &&
	     (ev->mask & IN_ISDIR)) ||
	    ((ev->mask & IN_MOVE_SELF) && !d->file))
		b->dir_moved = true;
	if (ev->mask & FW_WATCHES_GONE) {
		bool any = dir_mark_all(w, d);

		/* A moved directory stays watched by the kernel, but its path
		 * no longer names it: refresh finds what the path names now. */
		fw_dir_retire(w, d, (ev->mask & IN_MOVE_SELF) != 0);
		return any;
	}
	/* The directory's own attributes: a chmod, chown or ACL change may
	 * take away (or give back) the search permission every path below
	 * it is looked up with. */
	if (!d->file && ev->len == 0 && (ev->mask & IN_ATTRIB))
		return dir_mark_attrib(w, d);
	any = dir_mark_name(w, d, ev->name, ev->len, ev->mask);
	if (d->file)
		file_quiet_maybe(w, d);
	return any;
}

static void event_count(void *ctx, const struct fw_event *ev)
{
	struct apply *a = ctx;

	a->b->events++;
	if (!event_apply(a->w, ev, a->b))
		a->b->coalesced++;
}

int fw_watches_read(struct fw_watches *w, struct fw_watches_batch *batch)
{
	struct fw_watches_batch local;
	struct apply a = { w, batch ? batch : &local };
	int r;

	*a.b = (struct fw_watches_batch){ 0 };
	w->now_ns = fw_monotonic_ns();
	w->batch = a.b;
	rcu_read_lock();
	r = fw_source_read(w->src, event_count, &a);
	rcu_read_unlock();
	w->batch = NULL;
	fw_watches_reclaim(w);
	return r;
}

/* ---- marking paths dirty ------------------------------------------- */

int fw_watches_mark_dirty(struct fw_watches *w, const char *path)
{
	struct wpath *p;

	if (!fw_path_acceptable(path))
		return -ENOENT;
	w->now_ns = fw_monotonic_ns();
	rcu_read_lock();
	p = fw_path_find(w, path);
	if (p)
		fw_path_mark(w, p, true);
	rcu_read_unlock();
	return p ? 0 : -ENOENT;
}

void fw_watches_mark_all_dirty(struct fw_watches *w)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	w->now_ns = fw_monotonic_ns();
	rcu_read_lock();
	cds_lfht_for_each(w->paths, &it, node)
		fw_path_mark(w, fw_path_of(node), true);
	rcu_read_unlock();
}

/* Is `point` the path or one of its directories, name by name? */
static bool point_above(const struct wpath *p, const char *point)
{
	size_t n = strlen(point);

	if (n == 1 && point[0] == '/')
		return true;
	return n <= p->len && memcmp(p->path, point, n) == 0 &&
	       (p->path[n] == '/' || p->path[n] == '\0');
}

size_t fw_watches_mount_changed(struct fw_watches *w, const char *point)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	size_t n = 0;

	w->now_ns = fw_monotonic_ns();
	rcu_read_lock();
	fw_source_mounts_changed(w->src);
	cds_lfht_for_each(w->paths, &it, node) {
		struct wpath *p = fw_path_of(node);

		if (p->linked || point_above(p, point)) {
			fw_path_mark(w, p, true);
			n++;
		}
	}
	rcu_read_unlock();
	return n;
}
