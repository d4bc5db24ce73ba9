/*
 * grow.c - room for more paths: the table grows, and when it cannot, its
 * thrashing is counted and said.
 *
 * A segment never changes size (readers checked its size when they
 * mapped it).  When a path must be inserted into a full table and the
 * memory limit allows, the writer builds a segment with twice the
 * entries beside the one it serves (segment.c, "staged"), copies every
 * entry into it (no system call: the answers are as fresh as they were),
 * then puts it in the old one's place with rename(2) and retires the old
 * one; readers re-attach once, as to any replacement, and answer by
 * stat() for the moment between.  The change feed starts afresh with the
 * new segment (a new epoch: followers do one full pass).
 *
 * At the limit the table evicts (CLOCK over the readers' use marks).  An
 * evicted key is remembered (its hash, in a small direct-mapped array);
 * one asked for again while remembered is a refault: the working set is
 * larger than the table.  Refaults are counted in the header and said in
 * the log at most once a minute.
 */
#include <errno.h>
#include <string.h>

#include "fstatcache/atomics.h"
#include "log.h"
#include "sys.h"
#include "writer.h"

#define REFAULT_WARN_NS (60ull * 1000000000u)

static uint64_t table_bytes(uint32_t slots, uint32_t entry_size)
{
	return FSC_HEADER_SIZE + (uint64_t)slots * entry_size +
	       FSC_USE_HEADER_SIZE + slots;
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* Copy every entry of `from` into the empty table `to`, as it is. */
static void copy_entries(const struct fw_table *from, struct fw_table *to)
{
	for (uint32_t i = 0; i < from->capacity; i++) {
		const struct fsc_entry *e = fw_table_entry(from, i);
		if (!e)
			continue;
		struct fw_record rec;

		fw_table_entry_record(from, e, &rec);
		(void)fw_table_put(to, fw_table_entry_path(e), e->path_len,
				   &rec, NULL, NULL);
	}
}

/* The entries of the next size up, or 0 if the limit forbids it. */
static uint32_t next_size(const struct writer *w)
{
	const struct fw_table *t = &w->table;
	uint32_t max = t->max_entries * 2u;
	if (max > FW_CONF_CAPACITY_MAX)
		max = FW_CONF_CAPACITY_MAX;
	if (max <= t->max_entries ||
	    table_bytes(fw_writer_slots_for(max), t->entry_size) >
		    w->memory_limit)
		return 0;
	return max;
}

static bool can_grow(const struct writer *w)
{
	return next_size(w) != 0;
}

/* Twice the entries, if the limit allows: 0, or -ENOSPC / -errno. */
/*
 * Serve a new segment for `max` entries in place of the current one, every
 * entry copied over (no system call: the answers are as fresh as they
 * were), the counters carried on.
 */
static int replace_table(struct writer *w, uint32_t max)
{
	const struct fw_table *t = &w->table;
	uint32_t slots = fw_writer_slots_for(max);

	struct fw_segment_params p = {
		.name = w->o->name,
		.capacity = slots,
		.max_entries = max,
		.path_max = t->path_max,
		.probe_limit = t->probe_limit,
		.mode = w->mode,
		.gid = w->gid,
		.socket_path = w->o->socket_path,
		.feed_size = w->seg.feed_base ? w->feed.size : 0,
	};
	struct fw_segment ns;
	struct fw_table nt;
	int r = fw_segment_stage(&ns, &p);
	if (r < 0) {
		fw_warn("cannot make a table of %u entries (%.1f MiB): %s", max,
			mib(table_bytes(slots, t->entry_size)), strerror(-r));
		return r;
	}
	ns.hdr->flags |= w->seg.hdr->flags & FSC_SEG_F_FANOTIFY;
	if ((r = fw_table_bind(&nt, ns.hdr, ns.use)) < 0) {
		fw_segment_discard(&ns);
		return r;
	}
	fw_table_set_tags(&nt, ns.tags);
	copy_entries(t, &nt);
	/* The counters go on where they were (the copy's inserts are no
	 * inserts). */
	memcpy(ns.hdr->counters, w->seg.hdr->counters,
	       sizeof(ns.hdr->counters));

	uint32_t status = w->seg.hdr->status; /* INIT while starting */
	if ((r = fw_segment_replace(&w->seg, &ns)) < 0) {
		fw_err("cannot put the grown table in place: %s", strerror(-r));
		fw_segment_discard(&ns);
		return r;
	}
	/* Followers asleep on the old feed see it retired now. */
	fw_feed_close(&w->feed);
	/* A reader that published in the old ring before it saw it retired
	 * is found now (it re-checks the status after publishing: one of
	 * the two sees the other, reader/request.h); handled before the
	 * writer sleeps (fw_serve_ring), judged as the old ring's. */
	cmm_smp_mb();
	fw_ring_collect(&w->ring, fw_monotonic_ns(), w->seg.req_checked,
			&w->ring_reqs);
	fw_segment_release(&w->seg);
	w->seg = ns;
	w->table = nt;
	if (w->seg.feed_base &&
	    fw_feed_init(&w->feed, w->seg.feed_base, p.feed_size,
			 w->seg.hdr->epoch, w->seg.use_base) == 0)
		fw_table_set_feed(&w->table, &w->feed);
	fw_admit_bind(w);
	fw_ring_bind(&w->ring, w->seg.req, w->seg.req_slots,
		     w->seg.req_slot_size, w->seg.hdr->path_max,
		     w->seg.hdr->hash_seed);
	fw_segment_set_status(&w->seg, status);
	return 0;
}

static int grow(struct writer *w)
{
	uint32_t old_max = w->table.max_entries;
	uint32_t max = next_size(w);
	int r;

	if (!max)
		return -ENOSPC;
	if ((r = replace_table(w, max)) < 0)
		return r;
	fw_segment_count(&w->seg, FSC_CTR_GROWTHS, 1);
	fw_info("table grown from %u to %u entries: %.1f MiB of shared "
		"memory (limit %.1f MiB)",
		old_max, max,
		mib(table_bytes(w->table.capacity, w->table.entry_size)),
		mib(w->memory_limit));
	return 0;
}

void fw_renew_table(struct writer *w)
{
	if (fw_segment_use_lost()) {
		fw_err("%s was truncated under the writer (by a reader who "
		       "may write it): serving a new segment; readers "
		       "re-attach",
		       w->seg.use_name + 1);
		w->renew_pending = true;
	}
	if (!w->renew_pending ||
	    replace_table(w, w->table.max_entries) < 0) /* said; again */
		return;
	w->renew_pending = false;
	fw_segment_count(&w->seg, FSC_CTR_USE_TRUNCATED, 1);
}

static uint64_t *ghost(struct writer *w, uint64_t hash)
{
	return &w->evicted_recently[hash & (FW_GHOSTS - 1)];
}

void fw_note_eviction(struct writer *w, const char *path, uint32_t len)
{
	uint64_t h = fw_table_hash(&w->table, path, len);
	*ghost(w, h) = h | 1; /* never 0: 0 is an empty ghost */
}

/* A refault: count it; warn at most once a minute. */
static void refault(struct writer *w)
{
	uint64_t now = fw_monotonic_ns();
	uint64_t n = w->seg.hdr->counters[FSC_CTR_REFAULTS] + 1;

	fw_segment_gauge(&w->seg, FSC_CTR_REFAULTS, n);
	if (w->refaults_warned_ns &&
	    now - w->refaults_warned_ns < REFAULT_WARN_NS)
		return;
	fw_warn("the table thrashes: %llu paths were asked for again soon "
		"after their eviction (%llu so far), %u entries in %.1f MiB; "
		"raise --memory-limit or --capacity",
		(unsigned long long)(n - w->refaults_warned),
		(unsigned long long)n, w->table.max_entries,
		mib(table_bytes(w->table.capacity, w->table.entry_size)));
	w->refaults_warned = n;
	w->refaults_warned_ns = now;
}

void fw_make_room(struct writer *w, const char *path, uint32_t len)
{
	if (w->table.hdr->entry_count < w->table.max_entries ||
	    fw_table_find(&w->table, path, len) >= 0)
		return;
	if (w->memory_limit && grow(w) == 0)
		return;
	if (!w->at_limit_said) {
		w->at_limit_said = 1;
		fw_info("the table is full at %u entries (%s): the least "
			"recently used are evicted from now on",
			w->table.max_entries,
			w->memory_limit ? "at the memory limit"
					: "--capacity without --memory-limit");
	}
	uint64_t h = fw_table_hash(&w->table, path, len);
	if (*ghost(w, h) == (h | 1)) {
		*ghost(w, h) = 0;
		refault(w);
	}
}

static void key_used(void *ctx, uint64_t hash)
{
	fw_admit_touch(ctx, hash);
}

void fw_admit_bind(struct writer *w)
{
	/* Sized for the table; a grown table starts counting afresh. */
	if (fw_admit_init(&w->admit, w->table.max_entries) < 0)
		fw_warn("out of memory for the admission sketch: every miss "
			"is admitted");
	w->table.used = key_used;
	w->table.used_ctx = &w->admit;
}

bool fw_admit_path(struct writer *w, const char *path, uint32_t len)
{
	uint64_t h = fw_table_hash(&w->table, path, len);
	struct fw_table *t = &w->table;

	/* Room now, or after growing: no question. */
	if (t->hdr->entry_count < t->max_entries || !w->admit.counts)
		return true;
	if (fw_table_find(t, path, len) >= 0)
		return true;
	if (w->memory_limit && can_grow(w))
		return true;
	if (fw_admit_miss(&w->admit, t, h))
		return true;
	fw_segment_count(&w->seg, FSC_CTR_NOT_ADMITTED, 1);
	if (*ghost(w, h) == (h | 1)) {
		*ghost(w, h) = 0;
		refault(w);
	}
	return false;
}
