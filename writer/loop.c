/*
 * loop.c - the writer's event loop: inotify events and control requests in,
 * fresh entries out.
 *
 * Events are hints, stat is the truth.  Each wake-up drains the inotify
 * queue completely, which marks the affected paths dirty once each
 * (watches.c dedupes), then stats every dirty path once and rewrites its
 * entry.  A burst of appends to one file thus costs one stat per wake-up,
 * not one per event.  Watches are added before the stat that follows them,
 * so no change can slip between the two.
 *
 * The sync barrier needs no extra machinery: datagrams arrive in the order
 * they were queued, so every miss request sent before a sync is handled
 * before it; and the kernel queues an inotify event before the system call
 * that caused it returns, so draining the inotify queue when the sync
 * request is handled covers every change made before the sync was sent.
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "fstatcache/contract.h"
#include "log.h"
#include "notify.h"
#include "segment.h"
#include "sys.h"
#include "table.h"
#include "watches.h"

#define REQUESTS_PER_WAKEUP 256
#define FSTYPE_CACHE 16

struct fstype_memo {
	uint64_t dev;
	int incomplete;
};

struct writer {
	const struct fw_writer_opts *o;
	struct fw_config *cfg;       /* the config in force (maybe empty) */
	struct fw_strv cli_paths;    /* never unwatched by a reload */
	mode_t mode;                  /* segment and socket, as applied */
	gid_t gid;
	struct fw_segment seg;
	struct fw_table table;
	struct fw_watches *watches;
	struct fw_control *ctl;
	int epfd, sigfd;
	int stop;
	uid_t uid;
	uint64_t watch_failures_logged;
	int watch_retry_pending;      /* some path is NOCACHE for want of a watch */
	size_t nwatches_at_failure;   /* retry once fewer watches are held */
	struct fstype_memo fstypes[FSTYPE_CACHE];
	unsigned nfstypes;
};

uint32_t fw_writer_slots_for(uint32_t max_entries)
{
	uint64_t want = (uint64_t)max_entries * 4 / 3 + 1;
	uint32_t slots = FSC_SLOTS_MIN;
	while (slots < want && slots < FSC_SLOTS_MAX)
		slots <<= 1;
	return slots;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Filesystems whose changes inotify cannot (all) see: answer by stat(). */
static int fstype_incomplete(long type)
{
	static const unsigned long types[] = {
		0x6969,     /* NFS */
		0x517B,     /* SMB */
		0xFF534D42, /* CIFS */
		0xFE534D42, /* SMB2 */
		0x65735546, /* FUSE */
		0x01021997, /* 9P */
		0x9fa0,     /* proc */
		0x62656572, /* sysfs */
		0x794c7630, /* overlayfs: lower layers change unseen */
		0x00c36400, /* ceph */
		0x5346414F, /* AFS */
		0x0027e0eb, /* cgroup */
		0x63677270, /* cgroup2 */
		0x64626720, /* debugfs */
		0x74726163, /* tracefs */
		0x73757245, /* coda */
		0x01161970, /* GFS2 */
		0x7461636f, /* OCFS2 */
		0x0BD00BD0, /* Lustre */
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((unsigned long)type == types[i])
			return 1;
	return 0;
}

/* Remembered per device, so the common case costs no statfs(). */
static int path_on_incomplete_fs(struct writer *w, const char *path,
				 uint64_t dev)
{
	for (unsigned i = 0; i < w->nfstypes; i++)
		if (w->fstypes[i].dev == dev)
			return w->fstypes[i].incomplete;
	struct statfs sf;
	if (statfs(path, &sf) < 0)
		return 0; /* gone meanwhile: the next event re-checks */
	int inc = fstype_incomplete((long)sf.f_type);
	struct fstype_memo *slot = &w->fstypes[w->nfstypes % FSTYPE_CACHE];
	*slot = (struct fstype_memo){ dev, inc };
	if (w->nfstypes < FSTYPE_CACHE)
		w->nfstypes++;
	return inc;
}

static void record_from_stat(struct fw_record *rec, const struct stat *st)
{
	rec->flags = FSC_ENT_EXISTS;
#define FROM_STAT(type, name, member) rec->name = (type)st->member;
	FSC_STAT_FIELDS(FROM_STAT)
#undef FROM_STAT
}

static void note_watch_failure(struct writer *w, const char *path, int err)
{
	fw_segment_count(&w->seg, FSC_CTR_WATCH_FAILURES, 1);
	w->watch_retry_pending = 1;
	w->nwatches_at_failure = fw_watches_nwatches(w->watches);
	/* Loud at first, then every 1000th: the counter tells the rest. */
	uint64_t n = ++w->watch_failures_logged;
	if (n <= 10 || n % 1000 == 0)
		fw_warn("cannot watch for %s: %s%s (answered by stat(); "
			 "%llu such failures so far)", path, strerror(-err),
			 err == -ENOSPC ? " (inotify watch limit reached: "
					  "raise fs.inotify.max_user_watches)"
					: "",
			 (unsigned long long)n);
}

static void on_evict(void *ctx, const char *path, uint32_t len)
{
	struct writer *w = ctx;
	(void)len;
	fw_watches_remove(w->watches, path);
}

/* Watch first, then stat, then publish: the heart of freshness. */
static void refresh_path(struct writer *w, const char *path, int add)
{
	int werr = add ? fw_watches_add(w->watches, path)
		       : fw_watches_refresh(w->watches, path);
	struct fw_record rec = { 0 };
	struct stat st;

	fw_segment_count(&w->seg, FSC_CTR_STATS, 1);
	if (fw_sys_stat(path, &st) == 0) {
		record_from_stat(&rec, &st);
		if (path_on_incomplete_fs(w, path, st.st_dev)) {
			rec.flags |= FSC_ENT_NOCACHE;
			rec.reason = FSC_REASON_FSTYPE;
		}
	} else if (errno != ENOENT && errno != ENOTDIR) {
		rec.flags = FSC_ENT_NOCACHE;
		rec.reason = FSC_REASON_STAT_ERROR;
	}
	if (werr < 0 && werr != -ENOENT) {
		note_watch_failure(w, path, werr);
		rec.flags |= FSC_ENT_NOCACHE;
		rec.reason = werr == -ENOSPC ? FSC_REASON_WATCH_LIMIT
					     : FSC_REASON_WATCH_ERROR;
	}
	if (rec.flags & FSC_ENT_NOCACHE)
		fw_segment_count(&w->seg, FSC_CTR_UNCACHEABLE, 1);
	rec.validated_ns = realtime_ns();
	int64_t r = fw_table_put(&w->table, path, (uint32_t)strlen(path), &rec,
				  on_evict, w);
	if (r < 0) {
		fw_warn("cannot cache %s: %s", path, strerror((int)-r));
		fw_watches_remove(w->watches, path);
	}
}

/* The per-user inotify watch limit, for the inspector; 0 if unknown. */
static uint64_t system_watch_limit(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/proc/sys/fs/inotify/max_user_watches", "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static void update_gauges(struct writer *w)
{
	fw_segment_gauge(&w->seg, FSC_CTR_WATCHES,
			  fw_watches_nwatches(w->watches));
	fw_segment_gauge(&w->seg, FSC_CTR_PATHS,
			  fw_watches_npaths(w->watches));
}

static void process_dirty(struct writer *w)
{
	const char *path;
	while ((path = fw_watches_next_dirty(w->watches)))
		refresh_path(w, path, 0);
}

/*
 * Paths answered by stat() for want of a watch get no event that would
 * bring them back; once watches have been released, try them again.
 */
static void retry_failed_watches(struct writer *w)
{
	if (!w->watch_retry_pending ||
	    fw_watches_nwatches(w->watches) >= w->nwatches_at_failure)
		return;
	w->watch_retry_pending = 0;
	for (uint32_t i = 0; i < w->table.capacity; i++) {
		const struct fsc_entry *e = fw_table_entry(&w->table, i);
		if (e && (e->flags & FSC_ENT_NOCACHE) &&
		    (e->reason == FSC_REASON_WATCH_LIMIT ||
		     e->reason == FSC_REASON_WATCH_ERROR))
			fw_watches_mark_dirty(w->watches,
					       fw_table_entry_path(e));
	}
	process_dirty(w);
}

/* Read everything inotify has queued and bring the entries up to date. */
static void drain_events(struct writer *w)
{
	struct fw_watches_batch b = { 0 };
	int r = fw_watches_read(w->watches, &b);
	if (r < 0)
		fw_err("reading inotify events: %s", strerror(-r));
	if (b.overflow) {
		fw_segment_count(&w->seg, FSC_CTR_OVERFLOWS, 1);
		fw_warn("inotify queue overflowed: re-validating all %zu paths",
			 fw_watches_npaths(w->watches));
		fw_segment_set_status(&w->seg, FSC_STATUS_REVALIDATING);
	}
	if (b.events) {
		fw_segment_count(&w->seg, FSC_CTR_EVENTS, b.events);
		fw_segment_count(&w->seg, FSC_CTR_COALESCED, b.coalesced);
		fw_segment_count(&w->seg, FSC_CTR_BATCHES, 1);
	}
	process_dirty(w);
	if (b.overflow) {
		fw_segment_count(&w->seg, FSC_CTR_REVALIDATIONS, 1);
		fw_segment_set_status(&w->seg, FSC_STATUS_SERVING);
	}
	retry_failed_watches(w);
	if (b.events || b.overflow)
		update_gauges(w);
}

/*
 * Our own user and root may ask anything.  Other users (who can reach the
 * socket only when the cache is shared with their group) may add paths
 * under the allowed prefixes and use the sync barrier, once any prefix is
 * configured; never unwatch or invalidate what others rely on.
 */
static int request_allowed(struct writer *w, const struct fw_ctl_msg *m)
{
	if (m->uid == w->uid || m->uid == 0)
		return 1;
	if (!w->cfg->allow.n)
		return 0;
	switch (m->op) {
	case FSC_OP_SYNC:
		return 1;
	case FSC_OP_MISS:
	case FSC_OP_WATCH:
		return fsc_path_ok(m->path, m->path_len) &&
		       fw_prefix_allows(&w->cfg->allow, m->path, m->path_len);
	default:
		return 0;
	}
}

static void handle_watch(struct writer *w, const struct fw_ctl_msg *m)
{
	if (!fsc_path_ok(m->path, m->path_len)) {
		fw_segment_count(&w->seg, FSC_CTR_REQUESTS_REFUSED, 1);
		fw_control_reply(w->ctl, m, -EINVAL, "not an absolute path "
				  "without empty, '.' or '..' components");
		return;
	}
	if (m->path_len >= w->table.path_max) {
		fw_segment_count(&w->seg, FSC_CTR_REQUESTS_REFUSED, 1);
		fw_control_reply(w->ctl, m, -ENAMETOOLONG,
				  "longer than %u bytes, never cached "
				  "(start the writer with a larger --path-max)",
				  w->table.path_max - 1);
		return;
	}
	if (m->op == FSC_OP_MISS &&
	    fw_table_find(&w->table, m->path, m->path_len) >= 0)
		return; /* another reader's request got there first */
	refresh_path(w, m->path, 1);
	update_gauges(w);
	fw_control_reply(w->ctl, m, 0, "watching");
}

static void handle_unwatch(struct writer *w, const struct fw_ctl_msg *m)
{
	int r = fw_table_remove(&w->table, m->path, m->path_len);
	fw_watches_remove(w->watches, m->path);
	update_gauges(w);
	if (r < 0)
		fw_control_reply(w->ctl, m, r, "not watched");
	else
		fw_control_reply(w->ctl, m, 0, "unwatched");
}

static void handle_request(struct writer *w, const struct fw_ctl_msg *m)
{
	fw_segment_count(&w->seg, FSC_CTR_REQUESTS, 1);
	if (!request_allowed(w, m)) {
		fw_segment_count(&w->seg, FSC_CTR_REQUESTS_REFUSED, 1);
		int admin = m->op == FSC_OP_UNWATCH ||
			    m->op == FSC_OP_INVALIDATE;
		fw_control_reply(w->ctl, m, -EACCES, "requests from uid %u "
				  "are not allowed%s", (unsigned)m->uid,
				  admin ? " to unwatch or invalidate"
				  : w->cfg->allow.n ? " for this path (see "
				  "'allow' in fstatcache.conf)" : "");
		return;
	}
	switch (m->op) {
	case FSC_OP_MISS:
	case FSC_OP_WATCH:
		handle_watch(w, m);
		break;
	case FSC_OP_UNWATCH:
		handle_unwatch(w, m);
		break;
	case FSC_OP_INVALIDATE:
		fw_table_clear(&w->table);
		fw_watches_clear(w->watches);
		update_gauges(w);
		fw_control_reply(w->ctl, m, 0, "cache cleared");
		break;
	case FSC_OP_SYNC:
		drain_events(w);
		fw_segment_count(&w->seg, FSC_CTR_SYNCS, 1);
		fw_control_reply(w->ctl, m, 0, "synced");
		break;
	}
}

static void serve_requests(struct writer *w)
{
	struct fw_ctl_msg *m = malloc(sizeof(*m));
	if (!m) {
		fw_err("out of memory serving requests");
		return;
	}
	/* Bounded per wake-up so inotify events are not starved. */
	for (int i = 0; i < REQUESTS_PER_WAKEUP; i++) {
		int r = fw_control_recv(w->ctl, m);
		if (r == 0)
			break;
		if (r == 1)
			handle_request(w, m);
		else if (r == -EBADMSG)
			fw_segment_count(&w->seg, FSC_CTR_REQUESTS_REFUSED, 1);
		else {
			fw_err("control socket: %s", strerror(-r));
			break;
		}
	}
	retry_failed_watches(w);
	free(m);
}

/* ---- SIGHUP: reload the config file ---------------------------------- */

static gid_t config_gid(const struct fw_config *c)
{
	return (c->set & FW_CONF_GROUP) ? c->gid : getegid();
}

/* Segment objects and socket: mode and group from `c` unless fixed. */
static int apply_access(struct writer *w, const struct fw_config *c)
{
	mode_t mode = (w->o->cli_set & FW_CONF_SEGMENT_MODE) ? w->o->mode
							      : c->segment_mode;
	gid_t gid = config_gid(c);
	if (mode == w->mode && gid == w->gid)
		return 0;
	int r = fw_segment_set_access(&w->seg, mode, gid);
	if (!r)
		r = fw_control_set_access(w->ctl, mode, gid);
	if (r < 0) {
		fw_err("reload: cannot give the cache mode %04o, group %u: "
			"%s", (unsigned)mode, (unsigned)gid, strerror(-r));
		/* Back to what readers had, as far as it goes. */
		(void)fw_segment_set_access(&w->seg, w->mode, w->gid);
		(void)fw_control_set_access(w->ctl, w->mode, w->gid);
		return r;
	}
	fw_info("reload: cache shared as %04o, group %u", (unsigned)mode,
		 (unsigned)gid);
	w->mode = mode;
	w->gid = gid;
	return 0;
}

/* Keys that shape the segment: a new value waits for a restart. */
static void note_restart_keys(struct writer *w, const struct fw_config *c)
{
	const struct fw_writer_opts *o = w->o;
	unsigned fixed = o->cli_set;
	if ((c->set & ~fixed & FW_CONF_NAME) && strcmp(c->name, o->name))
		fw_warn("reload: name %s takes effect at restart", c->name);
	if ((c->set & ~fixed & FW_CONF_CAPACITY) &&
	    c->capacity != o->max_entries)
		fw_warn("reload: capacity %u takes effect at restart "
			 "(serving %u; the watch list is carried over)",
			 c->capacity, o->max_entries);
	if ((c->set & ~fixed & FW_CONF_PATH_MAX) &&
	    (c->path_max + 8) / 8 * 8 != o->path_max)
		fw_warn("reload: path_max %u takes effect at restart",
			 c->path_max);
	if ((c->set & ~fixed & FW_CONF_SOCKET) &&
	    strcmp(c->socket, o->socket_path))
		fw_warn("reload: socket %s takes effect at restart", c->socket);
}

struct reload_counts {
	struct writer *w;
	size_t added, removed;
};

static void reload_removed(void *ctx, const char *path)
{
	struct reload_counts *rc = ctx;
	if (fw_table_remove(&rc->w->table, path, (uint32_t)strlen(path)) >= 0)
		rc->removed++;
	fw_watches_remove(rc->w->watches, path);
}

static void reload_added(void *ctx, const char *path)
{
	struct reload_counts *rc = ctx;
	if (strlen(path) >= rc->w->table.path_max) {
		fw_warn("%s: longer than %u bytes, never cached", path,
			 rc->w->table.path_max - 1);
		return;
	}
	refresh_path(rc->w, path, 1);
	rc->added++;
}

/*
 * A config with any error changes nothing.  A good one is applied key by
 * key; the table is never cleared, so readers keep every answer they had
 * (only paths dropped from the watch list leave it).
 */
static void reload(struct writer *w)
{
	struct fw_config nc;
	char err[1024];
	if (!w->o->config_path) {
		fw_info("SIGHUP: no --config file to reload");
		return;
	}
	fw_notify_reloading();
	int r = fw_config_load(w->o->config_path, &nc, err, sizeof(err));
	if (r < 0)
		fw_err("reload: %s; keeping the configuration in force", err);
	else
		r = apply_access(w, &nc); /* says what went wrong */
	if (r < 0) {
		fw_config_free(&nc);
		fw_notify("READY=1\nSTATUS=reload failed (see the log); "
			   "serving with the previous configuration");
		return;
	}
	note_restart_keys(w, &nc);
	if (!(w->o->cli_set & FW_CONF_LOG_LEVEL))
		fw_log_set_level((enum fw_log_level)nc.log_level);
	struct reload_counts rc = { .w = w };
	if (fw_strv_diff(&w->cfg->watch, &nc.watch, &w->cli_paths,
			  reload_removed, reload_added, &rc) < 0)
		fw_err("reload: out of memory comparing watch lists");
	fw_config_free(w->cfg);
	*w->cfg = nc;
	update_gauges(w);
	fw_info("reloaded %s: %zu paths added, %zu removed, %zu allowed "
		 "prefixes", w->o->config_path, rc.added, rc.removed,
		 w->cfg->allow.n);
	fw_notify("READY=1\nSTATUS=serving (configuration reloaded)");
}

static int handle_signal(struct writer *w)
{
	struct signalfd_siginfo si;
	if (read(w->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		reload(w);
		return 0;
	}
	fw_info("signal %u: stopping", si.ssi_signo);
	w->stop = 1;
	return 0;
}

static int setup_signals(struct writer *w)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	w->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return w->sigfd < 0 ? -errno : 0;
}

static int epoll_watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int run_loop(struct writer *w)
{
	int ino = fw_watches_fd(w->watches), ctl = fw_control_fd(w->ctl);
	int err = 0;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	if ((err = epoll_watch(w->epfd, ino)) || (err = epoll_watch(w->epfd, ctl)) ||
	    (err = epoll_watch(w->epfd, w->sigfd)))
		goto out;
	while (!w->stop) {
		struct epoll_event evs[4];
		int n = epoll_wait(w->epfd, evs, 4, -1); /* no timers: idle = asleep */
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == w->sigfd)
				handle_signal(w);
			else if (evs[i].data.fd == ino)
				drain_events(w);
			else if (evs[i].data.fd == ctl)
				serve_requests(w);
		}
	}
out:
	close(w->epfd);
	return err;
}

/* Paths a previous writer of this name held, collected before replacing it. */
static void collect_path(void *ctx, const char *path)
{
	if (fw_strv_push(ctx, path) < 0)
		fw_err("out of memory taking over %s", path);
}

static void load_path(struct writer *w, const char *path, size_t i,
		      size_t total)
{
	size_t len = strlen(path);
	if (len >= w->table.path_max)
		fw_warn("%s: longer than %u bytes, never cached", path,
			 w->table.path_max - 1);
	else
		refresh_path(w, path, 1);
	if ((i + 1) % 10000 == 0 || (i + 1 == total && total >= 10000))
		fw_info("loaded %zu of %zu paths", i + 1, total);
}

/*
 * The previous segment is gone once taken over: until the taken-over paths
 * are in ours, a crash would lose them.  So publish them all at once, as
 * answer-by-stat() placeholders (no system call each), before the slow
 * watch-and-stat pass; a successor of ours then takes them over from us
 * whenever we die.  Readers see none of this: the status is still INIT.
 */
static void publish_placeholders(struct writer *w, const struct fw_strv *old)
{
	struct fw_record rec = { .flags = FSC_ENT_NOCACHE };
	for (size_t i = 0; i < old->n; i++) {
		size_t len = strlen(old->v[i]);
		if (len < w->table.path_max)
			(void)fw_table_put(&w->table, old->v[i], (uint32_t)len,
					    &rec, on_evict, w);
	}
}

static void load_paths(struct writer *w, const struct fw_writer_opts *o,
		       const struct fw_strv *old)
{
	size_t total = o->npaths + old->n + w->cfg->watch.n;
	if (old->n)
		fw_info("taking over %zu paths from the previous writer",
			 old->n);
	publish_placeholders(w, old);
	for (size_t i = 0; i < old->n; i++)
		load_path(w, old->v[i], i, total);
	for (size_t i = 0; i < o->npaths; i++)
		load_path(w, o->paths[i], old->n + i, total);
	for (size_t i = 0; i < w->cfg->watch.n; i++)
		load_path(w, w->cfg->watch.v[i], old->n + o->npaths + i, total);
	if (total > o->max_entries)
		fw_warn("%zu paths given for a capacity of %u: the least "
			 "recently used were evicted", total, o->max_entries);
}

static int start(struct writer *w, const struct fw_writer_opts *o)
{
	struct fw_strv old = { 0 };
	int r = fw_segment_take_over(o->name, collect_path, &old);
	if (r < 0) {
		if (r != -EBUSY) /* already said who serves it */
			fw_err("cannot take over the segment of '%s': %s%s",
				o->name, strerror(-r), r == -EPERM
				? " (it belongs to another user)" : "");
		fw_strv_free(&old);
		return r;
	}
	struct fw_segment_params p = {
		.name = o->name, .capacity = fw_writer_slots_for(o->max_entries),
		.max_entries = o->max_entries, .path_max = o->path_max,
		.probe_limit = o->probe_limit, .mode = o->mode, .gid = o->gid,
		.socket_path = o->socket_path,
	};
	if (p.probe_limit > p.capacity)
		p.probe_limit = p.capacity;
	if ((r = fw_segment_create(&w->seg, &p)) < 0) {
		fw_err("creating shared memory for '%s': %s", o->name,
			strerror(-r));
	} else if ((r = fw_table_bind(&w->table, w->seg.hdr, w->seg.use)) < 0) {
		fw_err("binding the table: %s", strerror(-r));
	} else if ((r = fw_control_open(&w->ctl, o->socket_path, o->mode,
					 o->gid)) < 0) {
		fw_err("control socket %s: %s", o->socket_path, strerror(-r));
	} else if ((r = fw_watches_new(&w->watches)) < 0) {
		fw_err("inotify: %s", strerror(-r));
	} else {
		fw_segment_gauge(&w->seg, FSC_CTR_WATCH_LIMIT,
				  system_watch_limit());
		load_paths(w, o, &old);
		update_gauges(w);
	}
	fw_strv_free(&old);
	return r;
}

static void announce_ready(const struct fw_writer_opts *o, struct writer *w)
{
	fw_info("serving '%s': %u entries max, %zu paths, socket %s",
		 o->name, o->max_entries, fw_watches_npaths(w->watches),
		 o->socket_path);
	if (o->ready_fd >= 0) {
		ssize_t n = write(o->ready_fd, "READY\n", 6);
		(void)n;
		close(o->ready_fd);
	}
	char msg[160];
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving '%s': %zu paths",
		 o->name, fw_watches_npaths(w->watches));
	fw_notify(msg);
}

static void stop(struct writer *w)
{
	fw_notify("STOPPING=1");
	fw_control_close(w->ctl);
	if (w->watches)
		fw_watches_free(w->watches);
	fw_segment_destroy(&w->seg);
	if (w->sigfd >= 0)
		close(w->sigfd);
}

int fw_writer_run(const struct fw_writer_opts *o)
{
	struct writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	static struct fw_config none;
	w->o = o;
	w->cfg = o->config ? o->config : &none;
	w->uid = geteuid();
	w->mode = o->mode;
	w->gid = o->gid == (gid_t)-1 ? getegid() : o->gid;
	w->sigfd = -1;
	int r = 0;
	for (size_t i = 0; !r && i < o->npaths; i++)
		r = fw_strv_push(&w->cli_paths, o->paths[i]);
	if (r < 0)
		fw_err("out of memory");
	else
		r = setup_signals(w);
	if (r < 0)
		fw_err("signals: %s", strerror(-r));
	else
		r = start(w, o);
	if (r >= 0) {
		fw_segment_set_status(&w->seg, FSC_STATUS_SERVING);
		announce_ready(o, w);
		r = run_loop(w);
		if (r < 0)
			fw_err("event loop: %s", strerror(-r));
	}
	stop(w);
	fw_strv_free(&w->cli_paths);
	free(w);
	return r < 0 ? r : 0;
}
