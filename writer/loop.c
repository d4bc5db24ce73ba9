/*
 * loop.c - the writer's event loop: inotify events, control requests and
 * signals in (one epoll set, no timers), fresh entries out; start-up
 * (segment, socket, the watch list taken over from a dead writer) and a
 * clean stop.  What each wake-up does is refresh.c, requests.c and
 * reload.c.
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
#include "state.h"
#include "sys.h"
#include "table.h"
#include "watches.h"
#include "writer.h"

uint32_t fw_writer_slots_for(uint32_t max_entries)
{
	uint64_t want = (uint64_t)max_entries * 4 / 3 + 1;
	uint32_t slots = FSC_SLOTS_MIN;
	while (slots < want && slots < FSC_SLOTS_MAX)
		slots <<= 1;
	return slots;
}

static int handle_signal(struct writer *w)
{
	struct signalfd_siginfo si;
	if (read(w->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		fw_reload(w);
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

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Drain events, then sleep the pause when busy (pacer.c says why). */
static void drain_paced(struct writer *w)
{
	bool busy = fw_pacer_busy(&w->pacer, fw_monotonic_ns());
	uint64_t pause;

	fw_drain_events(w);
	if (fw_pacer_drained(&w->pacer, fw_monotonic_ns(),
			     w->pacer.budget_ppm ? thread_cpu_ns() : 0))
		fw_segment_gauge(&w->seg, FSC_CTR_PAUSE_US,
				 w->pacer.pause_ns / 1000u);
	pause = w->pacer.pause_ns;
	if (busy && pause) {
		struct timespec ts = { (time_t)(pause / 1000000000u),
				       (long)(pause % 1000000000u) };

		fw_segment_count(&w->seg, FSC_CTR_DRAIN_PAUSES, 1);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

/* epoll_wait's timeout until `due` (CLOCK_MONOTONIC ns; 0: none). */
static int timeout_until(uint64_t due)
{
	uint64_t now;

	if (!due)
		return -1; /* no timers: idle = asleep */
	now = fw_monotonic_ns();
	if (due <= now)
		return 0;
	return (int)((due - now + 999999u) / 1000000u);
}

/* The sooner of two due times (0: none). */
static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/*
 * The ring's grace: after handling requests from the ring, the writer
 * keeps looking at it every FW_RING_POLL_NS, its doorbell disarmed, until
 * FW_RING_GRACE_NS passed without one; only then does it arm the doorbell
 * and sleep with no timeout.  Misses come in runs (a reader working
 * through new files, a shipper starting): within a run a reader's request
 * then costs no system call, where ringing a sleeping writer costs a
 * datagram and a wake-up, more than the stat() the miss already paid.  At
 * most FW_RING_GRACE_NS / FW_RING_POLL_NS wake-ups follow the last
 * request; none when no request comes (idle stays idle).  Returns when
 * to look next, or 0: the grace is over.
 */
static uint64_t ring_grace_due(const struct writer *w, uint64_t now)
{
	if (!w->ring.h || !w->ring_served_ns)
		return 0;
	uint64_t end = w->ring_served_ns + FW_RING_GRACE_NS;
	if (now >= end)
		return 0;
	return now + FW_RING_POLL_NS < end ? now + FW_RING_POLL_NS : end;
}

/*
 * How long to sleep: not at all while collected requests wait (nothing
 * would wake us for them); with the doorbell disarmed during the ring's
 * grace; else arm it, look at the ring once more, and sleep until the
 * next timer, or for good.
 */
static int sleep_ms(struct writer *w, uint64_t due)
{
	due = earliest(due, w->ring_due);
	if (fw_ring_reqs_n(&w->ring_reqs))
		return 0;
	uint64_t grace = ring_grace_due(w, fw_monotonic_ns());
	if (grace)
		return timeout_until(earliest(due, grace));
	return fw_ring_arm(&w->ring) ? 0 : timeout_until(due);
}

static int run_loop(struct writer *w)
{
	int ino = fw_watches_fd(w->watches), ctl = fw_control_fd(w->ctl);
	int err = 0;
	uint64_t due = 0; /* when dirty paths next settle */
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	if ((err = epoll_watch(w->epfd, ino)) ||
	    (err = epoll_watch(w->epfd, ctl)) ||
	    (err = epoll_watch(w->epfd, w->sigfd)))
		goto out;
	if (w->mounts) {
		struct epoll_event ev = { .events = EPOLLPRI,
					  .data.fd = fw_mounts_fd(w->mounts) };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
			err = -errno;
			goto out;
		}
		/* Adding it may have consumed a change made since the
		 * table was read at start: compare now. */
		fw_recheck_mounts(w);
	}
	while (!w->stop) {
		struct epoll_event evs[4];
		/* Requests in the ring are handled before sleeping; the
		 * doorbell is armed only for the sleep (ring.h). */
		int n = epoll_wait(w->epfd, evs, 4, sleep_ms(w, due));
		fw_ring_disarm(&w->ring);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		/* The mount table first: reporting it ready consumed its
		 * change, which a sync among the requests would look for. */
		for (int i = 0; i < n; i++)
			if (evs[i].data.fd != w->sigfd &&
			    evs[i].data.fd != ino && evs[i].data.fd != ctl)
				fw_check_mounts(w, true);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == w->sigfd)
				handle_signal(w);
			else if (evs[i].data.fd == ino)
				drain_paced(w);
			else if (evs[i].data.fd == ctl)
				fw_serve_requests(w);
		}
		fw_serve_ring(w);
		due = fw_watches_ndirty(w->watches)
			      ? fw_refresh_settled(w, fw_monotonic_ns())
			      : 0;
		if (fw_feed_flush(&w->feed))
			fw_segment_gauge(&w->seg, FSC_CTR_FEED_WAKES,
					 w->feed.wakes);
		fw_renew_table(w);
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

static int collect_state(void *ctx, const char *path)
{
	int r = fw_strv_push(ctx, path);
	if (r < 0)
		fw_err("out of memory reading the state file");
	return r;
}

/* The paths of the state file a clean stop wrote, with those taken over. */
static void load_state(const struct fw_writer_opts *o, struct fw_strv *old)
{
	int r;

	if (!o->state_file)
		return;
	r = fw_state_load(o->state_file, collect_state, old);
	if (r > 0)
		fw_info("%s: %d paths kept from the last clean stop",
			o->state_file, r);
	else if (r < 0)
		fw_warn("%s: %s: the paths kept at the last stop are not "
			"watched again",
			o->state_file,
			r == -EPERM    ? "owned by another user or writable "
					 "by others"
			: r == -EPROTO ? "not an fstatcache state file"
				       : strerror(-r));
}

static void load_path(struct writer *w, const char *path, size_t i,
		      size_t total, enum fw_asker who)
{
	size_t len = strlen(path);
	if (len >= w->table.path_max)
		fw_warn("%s: longer than %u bytes, never cached", path,
			w->table.path_max - 1);
	else
		fw_refresh_path(w, path, (int)who);
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
		if (len >= w->table.path_max)
			continue;
		fw_make_room(w, old->v[i], (uint32_t)len);
		(void)fw_table_put(&w->table, old->v[i], (uint32_t)len, &rec,
				   fw_on_evict, w);
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
	/* Who asked for a kept path is not kept: one another user may have
	 * asked for (under an allowed prefix) is held to their rule until
	 * its owner asks again (or names it below). */
	for (size_t i = 0; i < old->n; i++)
		load_path(w, old->v[i], i, total,
			  fw_prefix_allows(&w->cfg->allow, old->v[i],
					   strlen(old->v[i]))
				  ? FW_ASKED_OTHER
				  : FW_ASKED_OWNER);
	for (size_t i = 0; i < o->npaths; i++)
		load_path(w, o->paths[i], old->n + i, total, FW_ASKED_OWNER);
	for (size_t i = 0; i < w->cfg->watch.n; i++)
		load_path(w, w->cfg->watch.v[i], old->n + o->npaths + i, total,
			  FW_ASKED_OWNER);
	if (total > o->max_entries)
		fw_warn("%zu paths given for a capacity of %u: the least "
			"recently used were evicted",
			total, o->max_entries);
}

/* The event source, said in the log and in the header (before SERVING). */
static int open_source(struct writer *w, const struct fw_writer_opts *o)
{
	char why[160];
	int r = fw_watches_new(&w->watches, o->source, why, sizeof(why));
	enum fw_source_kind k;

	if (r < 0) {
		fw_err("%s: %s", fw_source_kind_name(o->source), strerror(-r));
		return r;
	}
	k = fw_watches_source(w->watches);
	if (o->no_file_marks)
		fw_watches_set_file_marks(w->watches, false);
	if ((r = fw_mounts_open(&w->mounts, "/proc/self/mountinfo")) < 0)
		fw_warn("cannot follow the mount table (/proc/self/mountinfo: "
			"%s): a mount or unmount over a watched path goes "
			"unseen%s",
			strerror(-r),
			k == FW_SOURCE_FANOTIFY
				? ", and so do watches an unmount drops"
				: "");
	fw_watches_set_settle(w->watches, w->settle_ns);
	if (k == FW_SOURCE_FANOTIFY)
		w->seg.hdr->flags |= FSC_SEG_F_FANOTIFY;
	if (o->source != FW_SOURCE_AUTO)
		fw_info("events from %s (as configured)",
			fw_source_kind_name(k));
	else
		fw_info("events from %s (chosen automatically%s%s)",
			fw_source_kind_name(k), why[0] ? ": " : "", why);
	if (k == FW_SOURCE_FANOTIFY)
		fw_info("files marked too, for writes through other hard "
			"links: %s",
			fw_watches_file_marks(w->watches) ? "yes"
			: o->no_file_marks
				? "no (--no-file-marks)"
				: "no (fanotify reports no file handles "
				  "before Linux 5.9)");
	return 0;
}

static int bind_feed(struct writer *w, const struct fw_writer_opts *o)
{
	struct fsc_use_header *u = w->seg.use_base;
	int r;

	if (!w->seg.feed_base)
		return 0;
	r = fw_feed_init(&w->feed, w->seg.feed_base, o->feed_size,
			 w->seg.hdr->epoch, u);
	if (r == 0)
		fw_table_set_feed(&w->table, &w->feed);
	return r;
}

static int start(struct writer *w, const struct fw_writer_opts *o)
{
	struct fw_strv old = { 0 };
	int r = fw_segment_take_over(o->name, collect_path, &old);
	if (r >= 0)
		load_state(o, &old);
	if (r < 0) {
		if (r != -EBUSY) /* already said who serves it */
			fw_err("cannot take over the segment of '%s': %s%s",
			       o->name, strerror(-r),
			       r == -EPERM ? " (it belongs to another user)"
					   : "");
		fw_strv_free(&old);
		return r;
	}
	struct fw_segment_params p = {
		.name = o->name,
		.capacity = fw_writer_slots_for(o->max_entries),
		.max_entries = o->max_entries,
		.path_max = o->path_max,
		.probe_limit = o->probe_limit,
		.mode = o->mode,
		.gid = o->gid,
		.socket_path = o->socket_path,
		.feed_size = o->feed_size,
	};
	if (p.probe_limit > p.capacity)
		p.probe_limit = p.capacity;
	if ((r = fw_segment_create(&w->seg, &p)) < 0) {
		fw_err("creating shared memory for '%s': %s", o->name,
		       strerror(-r));
	} else if ((r = fw_table_bind(&w->table, w->seg.hdr, w->seg.use)) < 0) {
		fw_err("binding the table: %s", strerror(-r));
	} else if ((fw_table_set_tags(&w->table, w->seg.tags), fw_admit_bind(w),
		    fw_ring_bind(&w->ring, w->seg.req, w->seg.req_slots,
				 w->seg.req_slot_size, w->seg.hdr->path_max,
				 w->seg.hdr->hash_seed),
		    r = bind_feed(w, o)) < 0) {
		fw_err("binding the change feed: %s", strerror(-r));
	} else if ((r = fw_control_open(&w->ctl, o->socket_path, o->mode,
					o->gid)) < 0) {
		fw_err("control socket %s: %s", o->socket_path, strerror(-r));
	} else if ((r = open_source(w, o)) == 0) {
		fw_refresh_init(w);
		fw_segment_gauge(&w->seg, FSC_CTR_WATCH_LIMIT,
				 fw_watches_limit(w->watches));
		load_paths(w, o, &old);
		fw_update_gauges(w);
	}
	fw_strv_free(&old);
	return r;
}

static void announce_ready(const struct fw_writer_opts *o, struct writer *w)
{
	fw_info("serving '%s': %u entries max, %zu paths, socket %s", o->name,
		o->max_entries, fw_watches_npaths(w->watches), o->socket_path);
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

static void save_state(struct writer *w)
{
	int r;

	if (!w->o->state_file || !w->seg.hdr)
		return;
	r = fw_state_save(w->o->state_file, &w->table);
	if (r < 0)
		fw_err("%s: cannot keep the watch list: %s", w->o->state_file,
		       strerror(-r));
	else
		fw_info("%s: kept %d paths for the next start",
			w->o->state_file, r);
}

static void stop(struct writer *w)
{
	fw_notify("STOPPING=1");
	save_state(w);
	fw_control_close(w->ctl);
	if (w->watches)
		fw_watches_free(w->watches);
	fw_mounts_close(w->mounts);
	/* Retired first: the followers woken see it at once. */
	if (w->seg.hdr)
		fw_segment_set_status(&w->seg, FSC_STATUS_RETIRED);
	fw_feed_close(&w->feed);
	fw_segment_destroy(&w->seg);
	fw_admit_free(&w->admit);
	fw_ring_reqs_free(&w->ring_reqs);
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
	w->settle_ns = (uint64_t)o->settle_ms * 1000000u;
	w->memory_limit = o->memory_limit;
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
		fw_pacer_init(&w->pacer, (uint64_t)o->batch_us * 1000u,
			      o->cpu_budget_ppm, fw_monotonic_ns(),
			      thread_cpu_ns());
		if (fw_watches_file_marks(w->watches))
			fw_pacer_set_max(&w->pacer, FW_PAUSE_MAX_SILENCED_NS);
		fw_segment_gauge(&w->seg, FSC_CTR_PAUSE_US,
				 w->pacer.pause_ns / 1000u);
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
