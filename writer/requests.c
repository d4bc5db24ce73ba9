/*
 * requests.c - the control socket's requests: who may ask what, and the
 * handlers (miss, watch, unwatch, invalidate, sync).
 *
 * The sync barrier needs no extra machinery: datagrams arrive in the order
 * they were queued, so every miss request sent before a sync is handled
 * before it; and the kernel queues an inotify event before the system call
 * that caused it returns, so draining the inotify queue when the sync
 * request is handled covers every change made before the sync was sent.
 * A sync then re-stats every path still waiting to settle, so after it
 * every entry that can be served from the table is.  Every request
 * drains the events first, for the same reason: what it re-stats is not
 * then marked changed by an event older than it.
 */

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
#include "writer.h"

#define REQUESTS_PER_WAKEUP 256

/*
 * Our own user and root may ask anything.  Other users (who can reach the
 * socket only when the cache is shared with their group) may add paths
 * under the allowed prefixes and use the sync barrier, once any prefix is
 * configured; never unwatch or invalidate what others rely on.
 */
static int request_allowed(struct writer *w, const struct fw_ctl_msg *m,
			   int key_ok)
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
		return key_ok &&
		       fw_prefix_allows(&w->cfg->allow, m->path, m->path_len);
	default:
		return 0;
	}
}

/*
 * The reply to a watch: "watching", unless the path, though watched, is
 * answered by stat() for a reason a retry will not change: then say why,
 * with an error status, so `fstatcache watch` does not report a success
 * the cache cannot give.  (A changed file, one past the watch limit, or
 * one stat() fails on for now — a symlink loop, permissions — is served
 * again by itself once that changes: those are successes.)
 */
static void reply_watched(struct writer *w, const struct fw_ctl_msg *m)
{
	int64_t slot = fw_table_find(&w->table, m->path, m->path_len);
	const struct fsc_entry *e =
		slot >= 0 ? fw_table_entry(&w->table, (uint32_t)slot) : NULL;
	uint32_t why = e ? fw_table_entry_cold(&w->table, e)->reason : 0;

	if (e && (e->flags & FSC_ENT_NOCACHE) && why == FSC_REASON_PRIVATE) {
		fw_control_reply(w->ctl, m, -EACCES,
				 "watched, but answered by stat(): another "
				 "user could not stat what it resolves to (a "
				 "directory on the way others may not search, "
				 "or a symlink leading outside the allowed "
				 "prefixes)");
		return;
	}
	if (e && (e->flags & FSC_ENT_NOCACHE) && why == FSC_REASON_FSTYPE) {
		fw_control_reply(w->ctl, m, -EOPNOTSUPP,
				 "watched, but answered by stat(): it is on, "
				 "or resolves through, a filesystem whose "
				 "changes the kernel does not report (proc, "
				 "sysfs, network, FUSE, overlay)");
		return;
	}
	fw_control_reply(w->ctl, m, 0,
			 e && (e->flags & FSC_ENT_NOCACHE) &&
					 why == FSC_REASON_WATCH_LIMIT
				 ? "watching (answered by stat() until a watch "
				   "is free: the watch limit is reached)"
				 : "watching");
}

static void handle_watch(struct writer *w, const struct fw_ctl_msg *m,
			 int key_ok)
{
	if (!key_ok) {
		fw_segment_count(&w->seg, FSC_CTR_REQUESTS_REFUSED, 1);
		fw_control_reply(w->ctl, m, -EINVAL,
				 "not an absolute path "
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
	if (m->op == FSC_OP_MISS && !fw_admit_path(w, m->path, m->path_len))
		return;            /* less wanted than what it would push out */
	if (m->op == FSC_OP_WATCH) /* always in, and wanted */
		fw_admit_touch(&w->admit,
			       fw_table_hash(&w->table, m->path, m->path_len));
	fw_refresh_path(w, m->path,
			m->uid == w->uid || m->uid == 0 ? FW_ASKED_OWNER
							: FW_ASKED_OTHER);
	fw_update_gauges(w);
	reply_watched(w, m);
}

static void handle_unwatch(struct writer *w, const struct fw_ctl_msg *m)
{
	int r = fw_table_remove(&w->table, m->path, m->path_len);
	fw_watches_remove(w->watches, m->path);
	fw_update_gauges(w);
	if (r < 0)
		fw_control_reply(w->ctl, m, r, "not watched");
	else
		fw_control_reply(w->ctl, m, 0, "unwatched");
}

static void handle_request(struct writer *w, const struct fw_ctl_msg *m)
{
	if (m->op == FSC_OP_DOORBELL)
		return; /* the loop looks at the ring after every wake-up */
	fw_segment_count(&w->seg, FSC_CTR_REQUESTS, 1);
	/* The one check of a requested path (control.c parsed the datagram:
	 * length and no NUL): a canonical absolute key, or nothing happens.
	 * The prefix rule for other users relies on it (no ".." escapes). */
	int key_ok = (m->op == FSC_OP_MISS || m->op == FSC_OP_WATCH) &&
		     fsc_path_ok(m->path, m->path_len);
	if (!request_allowed(w, m, key_ok)) {
		fw_segment_count(&w->seg, FSC_CTR_REQUESTS_REFUSED, 1);
		int admin = m->op == FSC_OP_UNWATCH ||
			    m->op == FSC_OP_INVALIDATE;
		fw_control_reply(w->ctl, m, -EACCES,
				 "requests from uid %u "
				 "are not allowed%s",
				 (unsigned)m->uid,
				 admin ? " to unwatch or invalidate"
				 : w->cfg->allow.n
					 ? " for this path (see "
					   "'allow' in fstatcache.conf)"
					 : "");
		return;
	}
	switch (m->op) {
	case FSC_OP_MISS:
	case FSC_OP_WATCH:
		handle_watch(w, m, key_ok);
		break;
	case FSC_OP_UNWATCH:
		handle_unwatch(w, m);
		break;
	case FSC_OP_INVALIDATE:
		fw_table_clear(&w->table);
		fw_watches_clear(w->watches);
		fw_update_gauges(w);
		fw_control_reply(w->ctl, m, 0, "cache cleared");
		break;
	case FSC_OP_SYNC:
		fw_drain_events(w);
		/* Every request a reader published before it sent the sync
		 * is in the ring now: handled before the answer. */
		fw_serve_ring(w);
		fw_check_mounts(w, false);
		fw_refresh_all(w);
		fw_segment_count(&w->seg, FSC_CTR_SYNCS, 1);
		fw_control_reply(w->ctl, m, 0, "synced");
		break;
	}
}

/* Handle the paths of one list as FSC_OP_MISS requests from `uid`. */
static void serve_ring_list(struct writer *w, struct fw_strv *list, uid_t uid,
			    struct fw_ctl_msg *m)
{
	for (size_t i = 0; i < list->n; i++) {
		memset(m, 0, offsetof(struct fw_ctl_msg, path));
		m->op = FSC_OP_MISS;
		m->uid = uid;
		m->path_len = (uint32_t)strlen(list->v[i]);
		memcpy(m->path, list->v[i], m->path_len + 1);
		m->from_len = 0;
		handle_request(w, m);
	}
}

/*
 * The ring has no credentials: what only our own user (or root) could
 * have written is ours; anything else is judged as from another user,
 * by the same rule as the socket's (request_allowed), whichever segment
 * serves when it is handled.
 */
void fw_serve_ring(struct writer *w)
{
	uint64_t refused = w->ring.refused;
	w->ring_due = fw_ring_collect(&w->ring, fw_monotonic_ns(),
				      w->seg.req_checked, &w->ring_reqs);
	fw_segment_count(&w->seg, FSC_CTR_REQUESTS, w->ring.refused - refused);
	fw_segment_count(&w->seg, FSC_CTR_REQUESTS_REFUSED,
			 w->ring.refused - refused);
	if (!fw_ring_reqs_n(&w->ring_reqs))
		return;
	struct fw_ctl_msg *m = malloc(sizeof(*m));
	if (!m) {
		fw_err("out of memory serving requests");
		return;
	}
	/* Taken out of the lists first: handling one may grow the table,
	 * which collects what the replaced ring still held into them; so
	 * round again until they stay empty (the loop must not sleep on
	 * them: nothing would wake it). */
	while (fw_ring_reqs_n(&w->ring_reqs)) {
		struct fw_ring_reqs batch = w->ring_reqs;
		memset(&w->ring_reqs, 0, sizeof(w->ring_reqs));
		serve_ring_list(w, &batch.own, w->uid, m);
		serve_ring_list(w, &batch.others, (uid_t)-1, m);
		fw_ring_reqs_free(&batch);
	}
	w->ring_served_ns = fw_monotonic_ns();
	free(m);
}

void fw_serve_requests(struct writer *w)
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
		/* Events queued before this request was sent apply first:
		 * else an old event read after its re-stat would mark the
		 * fresh entry changed (harmless, but the requester's next
		 * lookup would be answered by stat()).  Before each request,
		 * as its sender may have changed files since the one before
		 * it; one read when nothing is queued. */
		if (r == 1)
			fw_drain_events(w);
		if (r == 1)
			handle_request(w, m);
		else if (r == -EBADMSG)
			fw_segment_count(&w->seg, FSC_CTR_REQUESTS_REFUSED, 1);
		else {
			fw_err("control socket: %s", strerror(-r));
			break;
		}
	}
	fw_retry_failed_watches(w);
	free(m);
}
