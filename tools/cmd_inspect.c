/*
 * cmd_inspect.c - `fstatcache inspect [--json]`: what is inside a segment.
 *
 * Maps the table and the .use object read-only (view.h) whatever the
 * writer's state, so a dead writer's segment can be looked at too, and
 * reports: the header, occupancy, every counter, the readers' lookup
 * counts from the .use header, entries answered by stat() by reason, a
 * probe-length histogram and the oldest and newest entries.  The last
 * three come from one pass over the slots, each copied under its seqlock;
 * a slot that stays busy (or whose key is malformed: see `check`) is
 * counted as skipped.  With a live writer the figures are a moving
 * picture, not a snapshot: counters are read once, before the pass.
 *
 * The JSON form is one object whose keys are documented in fstatcache(1)
 * and kept stable: new keys may be added, none renamed or removed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "hugepages.h"
#include "view.h"

#define SLOT_TRIES 8 /* seqlock attempts before a busy slot is skipped */
#define NBUCKETS 8   /* 0, 1, 2, 3, 4-7, 8-15, 16-31, 32+ */

static const struct {
	uint32_t from, to; /* to 0: no upper bound */
	const char *label;
} buckets[NBUCKETS] = {
	{ 0, 0, "0" },       { 1, 1, "1" },    { 2, 2, "2" },
	{ 3, 3, "3" },       { 4, 7, "4-7" },  { 8, 15, "8-15" },
	{ 16, 31, "16-31" }, { 32, 0, "32+" },
};

struct landmark { /* the oldest or newest entry */
	int set;
	uint32_t slot;
	uint64_t validated;
	char path[FSC_PATH_MAX_MAX];
};

struct inspect {
	const struct tool_ctx *ctx;
	struct view v;
	struct fsc_header hdr;     /* read just before the pass */
	struct fsc_use_header use; /* valid when use_err is 0 */
	int use_err;
	struct fsc_feed_header feed; /* valid when feed_err is 0 */
	int feed_err;
	struct fsc_req_header req; /* valid when req_err is 0 */
	int req_err;
	uint64_t now_ns; /* CLOCK_REALTIME */
	/* The pass over the slots. */
	uint64_t used, skipped;
	uint64_t nocache[FSC_REASON_RANGE + 1]; /* by reason; [0]: unknown */
	uint64_t hist[NBUCKETS], dist_sum;
	uint32_t dist_max;
	struct landmark oldest, newest;
	struct huge_facts huge; /* is the table in huge pages */
};

static unsigned bucket_of(uint32_t d)
{
	for (unsigned b = 0; b < NBUCKETS - 1; b++)
		if (d <= buckets[b].to)
			return b;
	return NBUCKETS - 1;
}

static void note_landmark(const struct inspect *in, struct landmark *l,
			  uint32_t slot, const struct fsc_entry *e)
{
	l->set = 1;
	l->slot = slot;
	l->validated = view_entry_cold(&in->v, e)->validated_ns;
	memcpy(l->path, view_entry_path(e), e->path_len + 1);
}

static void count_entry(struct inspect *in, uint32_t slot,
			const struct fsc_entry *e)
{
	in->used++;
	uint32_t dist = (slot - ((uint32_t)e->hash & in->v.mask)) & in->v.mask;
	in->hist[bucket_of(dist)]++;
	in->dist_sum += dist;
	if (dist > in->dist_max)
		in->dist_max = dist;
	const struct fsc_entry_cold *c = view_entry_cold(&in->v, e);
	if (e->flags & FSC_ENT_NOCACHE)
		in->nocache[view_reason_name(c->reason) ? c->reason : 0]++;
	if (!in->oldest.set || c->validated_ns < in->oldest.validated)
		note_landmark(in, &in->oldest, slot, e);
	if (!in->newest.set || c->validated_ns > in->newest.validated)
		note_landmark(in, &in->newest, slot, e);
}

/* The pass over every slot (run under view_guarded: SIGBUS-safe). */
static int scan(void *arg)
{
	struct inspect *in = arg;
	_Alignas(8) unsigned char buf[VIEW_ENTRY_BUF];
	const struct fsc_entry *e = (const struct fsc_entry *)buf;
	for (uint32_t slot = 0; slot < in->v.slot_count; slot++) {
		if (view_slot_copy(&in->v, slot, buf, SLOT_TRIES, 0) < 0) {
			in->skipped++;
			continue;
		}
		if (!(e->flags & FSC_ENT_USED))
			continue;
		if (!view_entry_key_ok(&in->v, e)) {
			in->skipped++;
			continue;
		}
		count_entry(in, slot, e);
	}
	huge_facts_read(&in->huge, in->v.base, in->v.size);
	return 0;
}

/* ---- text ------------------------------------------------------------- */

static void print_kv(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void print_kv(const char *key, const char *fmt, ...)
{
	va_list ap;
	printf("%-15s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* The socket path, NUL-terminated within the field whatever it holds. */
static void socket_path(const struct fsc_header *h, char *buf, size_t size)
{
	size_t n =
		strnlen((const char *)h->socket_path, sizeof(h->socket_path));
	if (n >= size)
		n = size - 1;
	memcpy(buf, h->socket_path, n);
	buf[n] = '\0';
}

static double load_factor(const struct inspect *in)
{
	return (double)in->hdr.entry_count / in->hdr.slot_count;
}

static double mean_dist(const struct inspect *in)
{
	return in->used ? (double)in->dist_sum / (double)in->used : 0.0;
}

static void print_liveness(const struct inspect *in)
{
	const struct fsc_header *h = &in->hdr;
	enum view_liveness l = view_liveness(h->writer_alive);
	if (l == VIEW_ALIVE)
		print_kv("liveness", "alive (thread %u)",
			 h->writer_alive & FSC_WRITER_TID_MASK);
	else if (l == VIEW_DEAD)
		print_kv("liveness", "dead (the writer was killed or crashed; "
				     "readers answer by stat())");
	else
		print_kv("liveness", "stopped (the writer exited cleanly)");
}

static void print_header(const struct inspect *in)
{
	const struct fsc_header *h = &in->hdr;
	char when[64], up[24], sock[FSC_SOCKET_PATH_SIZE];
	const char *status = view_status_name(h->status);
	tool_format_time_ns(when, sizeof(when), h->writer_started_ns);
	tool_format_age(up, sizeof(up), in->now_ns, h->writer_started_ns);
	socket_path(h, sock, sizeof(sock));
	char *qsock = tool_quote_path(sock, strlen(sock));
	print_kv("instance", "%s (shared memory %s)", in->ctx->name, in->v.shm);
	print_kv("magic", "0x%016llx", (unsigned long long)h->magic);
	print_kv("format", "%u.%u", h->version_major, h->version_minor);
	print_kv("capacity", "%u slots", h->slot_count);
	print_kv("entry size", "%u bytes (path max %u)", h->entry_size,
		 h->path_max);
	print_kv("probe limit", "%u", h->probe_limit);
	print_kv("segment size", "%llu bytes",
		 (unsigned long long)h->segment_size);
	char why[320];
	enum huge_verdict hv = huge_judge(&in->huge, why, sizeof(why));
	print_kv("huge pages", "%s (%s)", huge_verdict_name(hv), why);
	print_kv("writer pid", "%u", h->writer_pid);
	print_kv("started at", "%s (%s ago)", when, up);
	print_liveness(in);
	print_kv("events", "%s", view_events_name(h->flags));
	if (status)
		print_kv("status", "%s", status);
	else
		print_kv("status", "unknown (%u)", h->status);
	print_kv("socket", "%s", qsock ? qsock : "?");
	free(qsock);
	putchar('\n');
	print_kv("occupancy",
		 "%u entries (max %u) in %u slots, load factor "
		 "%.4f",
		 h->entry_count, h->max_entries, h->slot_count,
		 load_factor(in));
}

static void print_counters(const struct inspect *in)
{
	const uint64_t *c = in->hdr.counters;
	printf("\ncounters\n");
	for (unsigned i = 0; i < FSC_CTR_KNOWN; i++) {
		if (i == FSC_CTR_WATCHES && c[FSC_CTR_WATCH_LIMIT])
			printf("  %-17s %llu / %llu (watch_limit)\n",
			       view_counter_name(i), (unsigned long long)c[i],
			       (unsigned long long)c[FSC_CTR_WATCH_LIMIT]);
		else
			printf("  %-17s %llu\n", view_counter_name(i),
			       (unsigned long long)c[i]);
	}
}

static void print_readers(const struct inspect *in)
{
	if (in->use_err) {
		printf("\nreaders          unknown (%s: %s)\n", in->v.use_shm,
		       in->use_err == -EPROTO ? "does not match the table"
					      : strerror(-in->use_err));
		return;
	}
	printf("\nreaders\n");
	printf("  %-17s %llu\n", "reader_hits",
	       (unsigned long long)in->use.reader_hits);
	printf("  %-17s %llu\n", "reader_misses",
	       (unsigned long long)in->use.reader_misses);
	printf("  %-17s %llu\n", "reader_uncached",
	       (unsigned long long)in->use.reader_uncached);
	printf("  %-17s %llu%s\n", "version_mismatches",
	       (unsigned long long)in->use.version_mismatches,
	       in->use.version_mismatches
		       ? "  (readers of another format major: they answer "
			 "by stat(); upgrade them with the writer)"
		       : "");
}

static const char *req_error(int err)
{
	return err == -ENOENT   ? "none (a writer of format 1.3 or older)"
	       : err == -EPROTO ? "does not match the table"
				: strerror(-err);
}

/* The request ring (1.4): what readers queued, dropped and rang. */
static void print_requests(const struct inspect *in)
{
	const struct fsc_req_header *r = &in->req;

	if (in->req_err) {
		printf("\nrequest ring     %s\n", req_error(in->req_err));
		return;
	}
	printf("\nrequest ring     %u slots of %u bytes%s\n", r->ring_slots,
	       r->slot_size,
	       (r->flags & FSC_REQ_F_CHECKED)
		       ? ", shared: requests judged as other users'"
		       : "");
	printf("  %-17s %llu\n", "ring_requests", (unsigned long long)r->taken);
	printf("  %-17s %llu%s\n", "ring_dropped",
	       (unsigned long long)r->dropped,
	       r->dropped ? "  (the ring was full: those misses were not "
			    "asked for; they are asked again next time)"
			  : "");
	printf("  %-17s %llu\n", "doorbells", (unsigned long long)r->rung);
	printf("  %-17s %u\n", "queued_now", r->head - r->tail);
}

static const char *tags_error(int err)
{
	return err == -ENOENT   ? "none (a writer of format 1.4 or older)"
	       : err == -EPROTO ? "does not match the table: readers "
				  "probe the slots"
	       : err == -EPERM  ? "owner or mode refused: readers probe "
				  "the slots"
				: strerror(-err);
}

/* The tag array (1.5): whether misses can skip the slots. */
static void print_tags(const struct inspect *in)
{
	const struct view *v = &in->v;

	if (v->tags_err) {
		printf("\ntag array        %s\n", tags_error(v->tags_err));
		return;
	}
	printf("\ntag array        %u tags, %.1f KiB (a miss reads tags, "
	       "not slots)\n",
	       v->slot_count, (double)v->tags_size / 1024.0);
}

static json_t *json_tags(const struct inspect *in)
{
	const struct view *v = &in->v;

	if (v->tags_err)
		return json_pack("{s:b, s:s}", "known", 0, "error",
				 tags_error(v->tags_err));
	return json_pack("{s:b, s:I, s:I}", "known", 1, "tags",
			 (json_int_t)v->slot_count, "bytes",
			 (json_int_t)v->tags_size);
}

static void print_feed(const struct inspect *in)
{
	const struct fsc_feed_header *f = &in->feed;

	if (in->feed_err) {
		printf("\nfeed             %s\n",
		       in->feed_err == -ENOENT   ? "none"
		       : in->feed_err == -EPROTO ? "does not match the table"
						 : strerror(-in->feed_err));
		return;
	}
	printf("\nfeed\n");
	printf("  %-17s %u\n", "ring_size", f->ring_size);
	printf("  %-17s %llu\n", "records", (unsigned long long)f->records);
	printf("  %-17s %llu  (bytes appended since the start)\n", "head",
	       (unsigned long long)f->head);
	printf("  %-17s %llu  (oldest record a cursor can resume from)\n",
	       "tail", (unsigned long long)f->tail);
	printf("  %-17s %u\n", "followers",
	       in->use_err ? 0 : in->use.feed_waiters);
}

static void print_scan(const struct inspect *in)
{
	uint64_t total = 0;
	for (unsigned r = 0; r <= FSC_REASON_RANGE; r++)
		total += in->nocache[r];
	printf("\nuncacheable      %llu entries answered by stat()\n",
	       (unsigned long long)total);
	for (uint32_t r = 1; r <= FSC_REASON_RANGE; r++)
		printf("  %-17s %llu\n", view_reason_name(r),
		       (unsigned long long)in->nocache[r]);
	if (in->nocache[0])
		printf("  %-17s %llu\n", "unknown",
		       (unsigned long long)in->nocache[0]);
	printf("\nprobe lengths    %llu entries, max %u, mean %.2f\n",
	       (unsigned long long)in->used, in->dist_max, mean_dist(in));
	for (unsigned b = 0; b < NBUCKETS; b++)
		printf("  %-17s %llu\n", buckets[b].label,
		       (unsigned long long)in->hist[b]);
	if (in->skipped)
		printf("  %-17s %llu (busy or malformed: see 'check')\n",
		       "skipped", (unsigned long long)in->skipped);
	putchar('\n');
	const struct landmark *ls[2] = { &in->oldest, &in->newest };
	const char *names[2] = { "oldest", "newest" };
	for (int i = 0; i < 2; i++) {
		if (!ls[i]->set) {
			print_kv(names[i], "-");
			continue;
		}
		char age[24];
		char *q = tool_quote_path(ls[i]->path, strlen(ls[i]->path));
		tool_format_age(age, sizeof(age), in->now_ns, ls[i]->validated);
		print_kv(names[i], "%s (validated %s ago, slot %u)",
			 q ? q : "?", age, ls[i]->slot);
		free(q);
	}
}

/* ---- JSON ------------------------------------------------------------ */

static json_t *u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Builds with json_pack's "o" (steals), so a NULL part fails the whole. */
static json_t *json_header(const struct inspect *in)
{
	const struct fsc_header *h = &in->hdr;
	char magic[24], when[64], version[24], sock[FSC_SOCKET_PATH_SIZE];
	const char *status = view_status_name(h->status);
	snprintf(magic, sizeof(magic), "0x%016llx",
		 (unsigned long long)h->magic);
	snprintf(version, sizeof(version), "%u.%u", h->version_major,
		 h->version_minor);
	tool_format_time_ns(when, sizeof(when), h->writer_started_ns);
	socket_path(h, sock, sizeof(sock));
	return json_pack(
		"{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		"s:o, s:I, s:s, s:o, s:s, s:s, s:o, s:I, s:I, s:o}",
		"shm", in->v.shm, "magic", magic, "version", version,
		"version_major", (json_int_t)h->version_major, "version_minor",
		(json_int_t)h->version_minor, "header_size",
		(json_int_t)h->header_size, "capacity",
		(json_int_t)h->slot_count, "entry_size",
		(json_int_t)h->entry_size, "path_max", (json_int_t)h->path_max,
		"probe_limit", (json_int_t)h->probe_limit, "segment_size",
		u64(h->segment_size), "writer_pid", (json_int_t)h->writer_pid,
		"started_at", when, "started_ns", u64(h->writer_started_ns),
		"liveness", view_liveness_name(view_liveness(h->writer_alive)),
		"events", view_events_name(h->flags), "status",
		status ? json_string(status) : json_null(), "status_code",
		(json_int_t)h->status, "owner_uid", (json_int_t)h->owner_uid,
		"socket_path", tool_json_path(sock));
}

static json_t *json_huge(const struct inspect *in)
{
	char why[320];
	enum huge_verdict hv = huge_judge(&in->huge, why, sizeof(why));
	return json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:s}", "backed",
			 huge_verdict_name(hv), "huge_bytes",
			 u64(in->huge.huge_bytes), "table_bytes",
			 u64(in->huge.table_bytes), "page_bytes",
			 u64(in->huge.page_size), "why", why, "shmem_enabled",
			 in->huge.shmem_enabled, "dev_shm_huge",
			 in->huge.mount_huge);
}

static json_t *json_counters(const struct inspect *in)
{
	json_t *o = json_object();
	for (unsigned i = 0; o && i < FSC_CTR_KNOWN; i++) {
		if (json_object_set_new(o, view_counter_name(i),
					u64(in->hdr.counters[i])) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

static json_t *json_readers(const struct inspect *in)
{
	if (in->use_err)
		return json_pack("{s:b, s:n, s:n, s:n, s:n, s:s}", "known", 0,
				 "reader_hits", "reader_misses",
				 "reader_uncached", "version_mismatches",
				 "error",
				 in->use_err == -EPROTO
					 ? "does not match the table"
					 : strerror(-in->use_err));
	return json_pack("{s:b, s:o, s:o, s:o, s:o}", "known", 1, "reader_hits",
			 u64(in->use.reader_hits), "reader_misses",
			 u64(in->use.reader_misses), "reader_uncached",
			 u64(in->use.reader_uncached), "version_mismatches",
			 u64(in->use.version_mismatches));
}

static json_t *json_requests(const struct inspect *in)
{
	const struct fsc_req_header *r = &in->req;

	if (in->req_err)
		return json_pack("{s:b, s:s}", "known", 0, "error",
				 req_error(in->req_err));
	return json_pack("{s:b, s:I, s:I, s:b, s:o, s:o, s:o, s:I}", "known", 1,
			 "slots", (json_int_t)r->ring_slots, "slot_size",
			 (json_int_t)r->slot_size, "shared",
			 (r->flags & FSC_REQ_F_CHECKED) != 0, "requests",
			 u64(r->taken), "dropped", u64(r->dropped), "doorbells",
			 u64(r->rung), "queued_now",
			 (json_int_t)(uint32_t)(r->head - r->tail));
}

static json_t *json_feed(const struct inspect *in)
{
	const struct fsc_feed_header *f = &in->feed;

	if (in->feed_err)
		return json_pack("{s:b, s:s}", "known", 0, "error",
				 in->feed_err == -ENOENT ? "none"
				 : in->feed_err == -EPROTO
					 ? "does not match the table"
					 : strerror(-in->feed_err));
	return json_pack("{s:b, s:I, s:o, s:o, s:o, s:I}", "known", 1,
			 "ring_size", (json_int_t)f->ring_size, "records",
			 u64(f->records), "head", u64(f->head), "tail",
			 u64(f->tail), "followers",
			 (json_int_t)(in->use_err ? 0 : in->use.feed_waiters));
}

static json_t *json_uncacheable(const struct inspect *in)
{
	uint64_t total = 0;
	for (unsigned r = 0; r <= FSC_REASON_RANGE; r++)
		total += in->nocache[r];
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "entries", u64(total), "fstype",
			 u64(in->nocache[FSC_REASON_FSTYPE]), "watch_limit",
			 u64(in->nocache[FSC_REASON_WATCH_LIMIT]), "stat_error",
			 u64(in->nocache[FSC_REASON_STAT_ERROR]), "watch_error",
			 u64(in->nocache[FSC_REASON_WATCH_ERROR]), "changed",
			 u64(in->nocache[FSC_REASON_CHANGED]), "private",
			 u64(in->nocache[FSC_REASON_PRIVATE]), "range",
			 u64(in->nocache[FSC_REASON_RANGE]), "unknown",
			 u64(in->nocache[0]));
}

static json_t *json_histogram(const struct inspect *in)
{
	json_t *arr = json_array();
	for (unsigned b = 0; arr && b < NBUCKETS; b++) {
		json_t *to = buckets[b].to || !buckets[b].from
				     ? json_integer(buckets[b].to)
				     : json_null();
		if (json_array_append_new(
			    arr, json_pack("{s:s, s:I, s:o, s:o}", "range",
					   buckets[b].label, "from",
					   (json_int_t)buckets[b].from, "to",
					   to, "count", u64(in->hist[b]))) <
		    0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return json_pack("{s:o, s:o, s:I, s:f, s:o}", "entries", u64(in->used),
			 "buckets", arr, "max", (json_int_t)in->dist_max,
			 "mean", mean_dist(in), "skipped", u64(in->skipped));
}

static json_t *json_landmark(const struct inspect *in, const struct landmark *l)
{
	if (!l->set)
		return json_null();
	uint64_t age = l->validated <= in->now_ns ? in->now_ns - l->validated
						  : 0;
	return json_pack("{s:o, s:I, s:o, s:o}", "path",
			 tool_json_path(l->path), "slot", (json_int_t)l->slot,
			 "validated_ns", u64(l->validated), "age_ns", u64(age));
}

static int print_json(const struct inspect *in)
{
	const struct fsc_header *h = &in->hdr;
	json_t *occupancy = json_pack("{s:I, s:I, s:I, s:f}", "entry_count",
				      (json_int_t)h->entry_count, "max_entries",
				      (json_int_t)h->max_entries, "capacity",
				      (json_int_t)h->slot_count, "load_factor",
				      load_factor(in));
	json_t *obj = json_pack(
		"{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
		"s:o}",
		"name", in->ctx->name, "header", json_header(in), "occupancy",
		occupancy, "huge_pages", json_huge(in), "counters",
		json_counters(in), "readers", json_readers(in), "feed",
		json_feed(in), "request_ring", json_requests(in), "tag_array",
		json_tags(in), "uncacheable", json_uncacheable(in),
		"probe_lengths", json_histogram(in), "oldest",
		json_landmark(in, &in->oldest), "newest",
		json_landmark(in, &in->newest));
	return tool_json_print(obj);
}

int cmd_inspect(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct inspect *in = calloc(1, sizeof(*in));
	if (!in) {
		tool_error("inspect: out of memory");
		return TOOL_EXIT_FAIL;
	}
	in->ctx = ctx;
	int r = view_open(&in->v, ctx->name, 0);
	if (r < 0) {
		free(in);
		return tool_view_error(ctx, r);
	}
	int status = TOOL_EXIT_OK;
	if (!in->v.valid) {
		tool_error("inspect: the segment of instance '%s' fails "
			   "validation; 'fstatcache check' lists what is wrong",
			   ctx->name);
		status = TOOL_EXIT_FAIL;
	} else {
		view_read_header(&in->v, &in->hdr);
		in->use_err = view_read_use(&in->v, &in->use);
		in->feed_err = view_read_feed(&in->v, &in->feed);
		in->req_err = view_read_req(&in->v, &in->req);
		in->now_ns = tool_realtime_ns();
		if (view_guarded(scan, in) < 0) {
			tool_error("inspect: the segment of instance '%s' "
				   "shrank while it was read",
				   ctx->name);
			status = TOOL_EXIT_FAIL;
		}
	}
	if (status == TOOL_EXIT_OK) {
		if (ctx->json) {
			if (print_json(in) < 0)
				status = TOOL_EXIT_FAIL;
		} else {
			print_header(in);
			print_counters(in);
			print_readers(in);
			print_feed(in);
			print_requests(in);
			print_tags(in);
			print_scan(in);
		}
	}
	view_close(&in->v);
	free(in);
	return status;
}
