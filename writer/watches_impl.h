/*
 * watches_impl.h - the records shared by watches.c (the watch bookkeeping
 * and event dispatch) and resolve.c (path resolution): what each record
 * is, and the calls one file makes into the other.  Private to writer/.
 * How it all works: the comment on top of watches.c.
 */
#ifndef FW_WATCHES_IMPL_H
#define FW_WATCHES_IMPL_H

#include <limits.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/inotify.h>

#include <urcu.h>
#include <urcu/list.h>
#include <urcu/rculfhash.h>

#include "source.h"
#include "watches.h"

/* What the kernel gives up at (fs/namei.c MAXSYMLINKS). */
#define FW_WATCHES_MAX_HOPS 40
/* Many events per read(); a queue of 16384 events drains in a few reads. */
#define FW_WATCHES_BUF (64 * 1024)

/* Settle levels: a path that keeps changing waits settle << level (see
 * graph.c, "dirty list"). */
#define FW_WATCHES_LEVELS 7

/* The directory's own watch is gone or about to be. */
#define FW_WATCHES_GONE \
	(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT) /* (1) */
/* (1) fanotify has the first two, with the same values (source.h). */

/* What an event on a quiet name may carry and leave its path's resolution
 * standing: what the named file holds or its metadata, not which file the
 * name is.  Anything else in the mask re-resolves. */
#define FW_WATCHES_CONTENT \
	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN | \
	 IN_ACCESS | IN_ISDIR)

/* First member of every record: unlinked records wait here for a grace
 * period, and free(grave) frees the record. */
struct grave {
	struct grave *next;
};

struct wpath {
	struct grave grave;
	struct cds_lfht_node node;       /* in paths */
	struct cds_list_head deps;       /* wdep.path_link */
	struct cds_list_head dirty_link; /* in fw_watches.dirty when dirty */
	uint64_t last_event_ns; /* fw_watches.now_ns of its last mark */
	uint64_t clean_ns;      /* when it was last taken off the list */
	uint8_t level;          /* settle level, < FW_WATCHES_LEVELS */
	bool dirty;
	uint8_t heard;      /* events while dirty, up to 255 (events.c,
			     * file_quiet_maybe) */
	bool needs_resolve; /* refresh must re-resolve: see the top comment */
	bool linked;        /* its last resolution followed a symlink */
	bool incomplete;    /* ... went through a directory on such a
			     * filesystem (fw_fstype_incomplete) */
	uint8_t asked;      /* enum fw_asker bits: who asked for it */
	bool blocked;       /* ... stopped at a directory the writer may not
			     * search or read (EACCES, EPERM): re-resolved by
			     * any directory's attribute change we cannot
			     * place (FW_EVENT_WD_UNMAPPED) */
	/* The final target's name, if it was there and no symlink at the last
	 * resolution: content events on it leave the resolution standing.
	 * NULL if none.  Its directory, to check the watch by, is qdir, or
	 * when NULL the first qdir_len bytes of path. */
	struct wdep *quiet;
	char *qdir;
	size_t qdir_len;
	size_t len;
	char path[];
};

struct wdir {
	struct grave grave;
	struct cds_lfht_node node; /* in wds while wd >= 0 */
	int wd;                    /* -1 once retired */
	bool file;                 /* a file's own mark, not a directory's */
	bool incomplete; /* on a filesystem events do not fully report */
	bool stuck;      /* could not be lowered (fw_dir_lower): not again */
	uint8_t level;   /* a directory's: what its kernel watch reports
			  * (enum fw_watch_level, source.h) */
	bool quiet;      /* content events ignored (fw_source_quiet) */
	size_t refs;     /* wdeps on this watch */
	size_t lrefs[FW_WATCH_LEVELS]; /* ... by level */
	struct cds_list_head deps; /* wdep.dir_link: named ones (FULL, NAMES) */
	struct cds_list_head any;  /* wdep.dir_link: wildcards */
	struct cds_list_head self; /* wdep.dir_link: ancestors' (SELF) */
	char path[];               /* as first resolved, for messages */
};

struct wdep {
	struct grave grave;
	struct cds_lfht_node node; /* in deps, unless a wildcard */
	struct wpath *path;
	struct wdir *dir;
	struct cds_list_head path_link;
	struct cds_list_head dir_link;
	bool any;
	/* FW_WATCH_FULL: the path's own names (and wildcards); NAMES: the
	 * name of a directory the path's resolution watches, in its parent;
	 * SELF: a directory above those, for its own deletion or move (no
	 * name).  See "Ancestors" on top of resolve.c. */
	uint8_t level;
	size_t len;
	char name[];
};

struct dep_key {
	const struct wdir *dir;
	const char *name;
	size_t len;
};

struct fw_watches {
	struct fw_source *src;
	struct cds_lfht *paths;
	struct cds_lfht *wds;
	struct cds_lfht *deps;
	/* Dirty paths by settle level, each list in last-event order. */
	struct cds_list_head dirty[FW_WATCHES_LEVELS];
	uint64_t settle_ns;
	uint64_t now_ns; /* CLOCK_MONOTONIC of this batch */
	fw_watches_dirty_fn on_dirty;
	void *on_dirty_ctx;
	size_t ndirty;
	size_t npaths;
	size_t nwatches;   /* directories watched (every level) */
	size_t nancestors; /* ... of them, those below FW_WATCH_FULL */
	size_t nfiles;     /* files marked (fw_source_add_file) */
	size_t ndeps;      /* named dependencies, in deps */
	/* Buckets each table was last sized to (graph.c, table_fit). */
	unsigned long paths_buckets, wds_buckets, deps_buckets;
	uint64_t quieted; /* times a file's content events were silenced */
	struct fw_watches_batch *batch; /* of the read in progress, or NULL */
	struct grave *graves;
	uint64_t resolutions; /* full resolutions, for tests and benchmarks */
	bool limit_warned; /* ENOSPC said once until a watch succeeds again */
	bool no_openat2;   /* refused: walk every path component by lstat() */
	bool openat2_said; /* which way paths are checked, logged once */
	uint64_t ancestors_unwatched;  /* ancestor watches that failed */
	bool ancestors_unwatched_said; /* ... logged once */
	bool no_file_marks;            /* fw_watches_set_file_marks(false) */
	bool ancestors;                /* fw_watches_set_ancestors(true) */
	bool file_mark_warned;         /* a file's mark failed: said once */
	/* Tests only (fw_watches_set_walk_hook): called where the walk has
	 * found a directory missing, before it watches the one above. */
	void (*walk_hook)(void *ctx, const char *missing);
	void *walk_hook_ctx;
};

/* One resolution of one path: what it needs, and what it may take over. */
struct walk {
	struct fw_watches *w;
	struct wpath *p;
	struct cds_list_head *old; /* the previous resolution's wdeps */
	int hops;                  /* symlinks followed, components and chain */
	int again;                 /* ... and looks again (walk_again) */
	int rc;                    /* the first error */
	struct wdep *last;         /* what the last dep_need() gave */
	bool last_again;           /* ... needed before in this resolution */
};

/* watches.c: the graph of paths, watches and dependencies. */
/* graph.c: lookups (in a read-side section), records, the dirty list. */
struct wpath *fw_path_find(struct fw_watches *w, const char *path);
struct wpath *fw_path_of(struct cds_lfht_node *node);
struct wpath *fw_path_track(struct fw_watches *w, const char *path);
void fw_path_forget(struct fw_watches *w, struct wpath *p);
void fw_path_unmark(struct fw_watches *w, struct wpath *p);
/* The dirty path due first if it is due at `now` (any, with `all`), taken
 * off the list; else NULL and *due is when the next one is, 0 if none is
 * dirty. */
struct wpath *fw_dirty_take(struct fw_watches *w, uint64_t now, bool all,
			    uint64_t *due);
void fw_path_quiet_clear(struct wpath *p);
struct wdir *fw_dir_find(struct fw_watches *w, int wd);
void fw_dir_retire(struct fw_watches *w, struct wdir *d, bool rm);
unsigned long fw_dep_hash(const struct dep_key *k);
int fw_dep_match(struct cds_lfht_node *node, const void *key);
bool fw_path_mark(struct fw_watches *w, struct wpath *p, bool resolve);
void fw_watches_reclaim(struct fw_watches *w);
void fw_deps_release(struct fw_watches *w, struct cds_list_head *list);
int fw_watch_need(struct walk *k, const char *dir, const char *name, bool any);
/* A directory above a watched one, not following a symlink as its last
 * component: at FW_WATCH_NAMES for `name` (the watched directory's name in
 * it), or with no name at FW_WATCH_SELF. */
int fw_ancestor_need(struct walk *k, const char *dir, const char *name);
/* The kernel's watch of d was raised to `level` behind the graph's back
 * (fw_path_intact): record it, so fw_dir_lower() can take it back. */
void fw_dir_raised(struct fw_watches *w, struct wdir *d,
		   enum fw_watch_level level);
/* Buckets the tables are made with (watches.c). */
#define FW_WATCHES_BUCKETS_MIN 16

/* Lower d's kernel watch to the highest level its dependencies need. */
void fw_dir_lower(struct fw_watches *w, struct wdir *d);
/* The mark on a regular file's own inode, where the source has them
 * (fw_source_add_file): a wildcard dependency, as a directory's self. */
int fw_file_need(struct walk *k, const char *path);
/* Hear the file of a quiet mark again (before a re-stat, a new path). */
void fw_file_unquiet(struct fw_watches *w, struct wdir *d);
/* A changed file is silenced once it brought this many events while
 * dirty (each fanotify event of a marked file counts twice: its name in
 * its directory and its own handle).  Measured on Linux 6.18, reading one
 * such event costs the writer about 2.5 us (most of it fanotify_read()
 * copying two file handles), and silencing a file and hearing it again
 * about 6 system calls, 5 us: two writes' worth.  A file still written
 * while it waits for its re-stat stays dirty at least a settle delay
 * more, so the second write that brings no news silences it (events.c). */
#define FW_WATCHES_QUIET_EVENTS 4

/* resolve.c: path arithmetic and resolution. */
int fw_path_resolve(struct fw_watches *w, struct wpath *p);
bool fw_path_intact(struct fw_watches *w, struct wpath *p, int *stray,
		    char *stray_dir);

/* A key the graph accepts: absolute and shorter than PATH_MAX. */
static inline bool fw_path_acceptable(const char *path)
{
	return path && path[0] == '/' && strlen(path) < PATH_MAX;
}

#endif /* FW_WATCHES_IMPL_H */
