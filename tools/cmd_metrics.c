/*
 * cmd_metrics.c - `fstatcache metrics [--listen ADDR:PORT]`: the writer's
 * counters in the Prometheus text exposition format (version 0.0.4), on
 * standard output (for node_exporter's textfile collector, or a cron job)
 * or served over HTTP at /metrics.
 *
 * What it says: whether a live writer serves the instance (fstatcache_up,
 * from a reader handle's own liveness check: a dead writer, a stopped one
 * or no segment at all is an explicit 0, never empty output), then, when
 * a segment exists (even a dead writer's), the table's size and growth,
 * every counter of the header (counters as _total, the few gauges as
 * they are), the readers' lookup totals and the change feed.  All from a
 * read-only view of the segment (view.h), mapped anew for every scrape,
 * so a restarted writer is followed.  Label: name="INSTANCE" (not
 * "instance", which Prometheus gives every target).
 *
 * The server is deliberately small: one connection at a time, HTTP/1.0,
 * GET /metrics (or /), a request read with a 5 s timeout, the answer
 * written and the connection closed.  SIGINT or SIGTERM stops it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cmd.h"
#include "hugepages.h"
#include "view.h"

#include <fstatcache/version.h>

static volatile sig_atomic_t got_stop;

static void on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

/* Header counters that are levels, not totals. */
static int is_gauge(unsigned i)
{
	return i == FSC_CTR_WATCHES || i == FSC_CTR_WATCH_LIMIT ||
	       i == FSC_CTR_PATHS || i == FSC_CTR_PAUSE_US ||
	       i == FSC_CTR_FILE_MARKS;
}

static const char *const counter_help[FSC_CTR_KNOWN] = {
	[FSC_CTR_EVENTS] = "Filesystem events read.",
	[FSC_CTR_BATCHES] = "Event batches applied.",
	[FSC_CTR_COALESCED] = "Events that needed no stat() of their own.",
	[FSC_CTR_STATS] = "stat() calls made by the writer.",
	[FSC_CTR_INSERTS] = "Entries inserted.",
	[FSC_CTR_UPDATES] = "Entries rewritten after a change.",
	[FSC_CTR_EVICTIONS] = "Entries evicted to make room.",
	[FSC_CTR_OVERFLOWS] = "Event queue overflows.",
	[FSC_CTR_WATCHES] = "Watches and marks held now.",
	[FSC_CTR_WATCH_FAILURES] = "Watches that could not be made.",
	[FSC_CTR_REQUESTS] = "Control requests received.",
	[FSC_CTR_REQUESTS_REFUSED] = "Control requests refused.",
	[FSC_CTR_UNCACHEABLE] = "Entries published as answer-by-stat().",
	[FSC_CTR_REVALIDATIONS] = "Full re-validation passes.",
	[FSC_CTR_MOVES] = "Entries moved by deletions.",
	[FSC_CTR_SYNCS] = "Sync barriers acknowledged.",
	[FSC_CTR_PATHS] = "Paths watched now.",
	[FSC_CTR_REMOVALS] = "Entries removed (unwatch, invalidate).",
	[FSC_CTR_WATCH_LIMIT] = "The kernel's watch limit at start.",
	[FSC_CTR_CHANGED_MARKS] = "Entries marked changed.",
	[FSC_CTR_DRAIN_PAUSES] = "Event reads put off to batch events.",
	[FSC_CTR_PAUSE_US] = "(exported as pause_seconds)",
	[FSC_CTR_MOUNT_CHANGES] = "Mounts that came, went or moved.",
	[FSC_CTR_FILE_MARKS] = "Files marked on their own inode now.",
	[FSC_CTR_FEED_WAKES] = "Wake-ups of change feed followers.",
	[FSC_CTR_GROWTHS] = "Times the table was replaced by a larger one.",
	[FSC_CTR_REFAULTS] = "Paths asked for again soon after their "
			     "eviction.",
	[FSC_CTR_NOT_ADMITTED] = "Misses not let into the full table.",
	[FSC_CTR_QUIETED] = "Changed files silenced until their re-stat.",
	[FSC_CTR_USE_TRUNCATED] = "Readers' objects found truncated (segment "
				  "replaced).",
};

struct out {
	FILE *f;
	const char *name;
};

/* HELP, TYPE and the sample's name and labels, up to its value. */
static void sample_head(struct out *o, const char *type, const char *metric,
			const char *help, const char *labels)
{
	fprintf(o->f, "# HELP fstatcache_%s %s\n", metric, help);
	fprintf(o->f, "# TYPE fstatcache_%s %s\n", metric, type);
	fprintf(o->f, "fstatcache_%s{name=\"%s\"%s%s} ", metric, o->name,
		labels[0] ? "," : "", labels);
}

static void metric(struct out *o, const char *type, const char *metric,
		   const char *help, const char *labels, double value)
{
	sample_head(o, type, metric, help, labels);
	fprintf(o->f, "%.17g\n", value);
}

/* Integers exactly (a double holds 53 bits). */
static void metric_u64_labels(struct out *o, const char *type, const char *name,
			      const char *help, uint64_t value,
			      const char *labels)
{
	sample_head(o, type, name, help, labels);
	fprintf(o->f, "%llu\n", (unsigned long long)value);
}

static void metric_u64(struct out *o, const char *type, const char *name,
		       const char *help, uint64_t value)
{
	sample_head(o, type, name, help, "");
	fprintf(o->f, "%llu\n", (unsigned long long)value);
}

struct huge_pass {
	struct view *v;
	struct huge_facts f;
};

/* Under view_guarded(): the facts touch the table (hugepages.h). */
static int huge_pass(void *arg)
{
	struct huge_pass *hp = arg;
	huge_facts_read(&hp->f, hp->v->base, hp->v->size);
	return 0;
}

static void render_segment(struct out *o, struct view *v)
{
	struct fsc_header h;
	struct fsc_use_header u;
	struct fsc_feed_header fh;
	struct fsc_req_header rq;
	char labels[160];

	view_read_header(v, &h);
	snprintf(labels, sizeof(labels),
		 "version=\"%s\",format=\"%u.%u\",events=\"%s\"",
		 FSC_VERSION_STRING, h.version_major, h.version_minor,
		 (h.flags & FSC_SEG_F_FANOTIFY) ? "fanotify" : "inotify");
	metric(o, "gauge", "info",
	       "The writer's package and segment format versions and event "
	       "source.",
	       labels, 1);
	metric(o, "gauge", "writer_start_time_seconds",
	       "When the writer serving the segment started (Unix time).", "",
	       (double)h.writer_started_ns / 1e9);
	metric_u64(o, "gauge", "entries", "Entries in the table now.",
		   h.entry_count);
	metric_u64(o, "gauge", "max_entries",
		   "Entries the table holds before it grows or evicts.",
		   h.max_entries);
	metric_u64(o, "gauge", "slots", "Slots of the table.", h.slot_count);
	metric_u64(o, "gauge", "segment_bytes",
		   "Size of the table's shared-memory object.", h.segment_size);
	struct huge_pass hp = { .v = v };
	if (view_guarded(huge_pass, &hp) == 0) {
		char why[320];
		enum huge_verdict hv = huge_judge(&hp.f, why, sizeof(why));
		snprintf(labels, sizeof(labels), "backed=\"%s\"",
			 huge_verdict_name(hv));
		metric_u64_labels(
			o, "gauge", "huge_page_bytes",
			"Bytes of the table backed by huge pages (backed: "
			"yes, partly, no, unknown; fstatcache inspect says "
			"why).",
			hp.f.huge_bytes, labels);
	}
	metric_u64(o, "gauge", "tag_array_bytes",
		   "Size of the tag array readers probe before the slots (0: "
		   "none usable, so each miss reads slots; fstatcache "
		   "inspect says why).",
		   v->tags ? v->tags_size : 0);
	for (unsigned i = 0; i < FSC_CTR_KNOWN; i++) {
		char name[64];
		if (i ==
		    FSC_CTR_PAUSE_US) { /* base units, as Prometheus asks */
			metric(o, "gauge", "pause_seconds",
			       "Pause between busy event reads now.", "",
			       (double)h.counters[i] / 1e6);
			continue;
		}
		snprintf(name, sizeof(name), "%s%s", view_counter_name(i),
			 is_gauge(i) ? "" : "_total");
		metric_u64(o, is_gauge(i) ? "gauge" : "counter", name,
			   counter_help[i], h.counters[i]);
	}
	if (view_read_use(v, &u) == 0) {
		metric_u64(o, "counter", "reader_hits_total",
			   "Lookups answered from the table (published by "
			   "readers in batches).",
			   u.reader_hits);
		metric_u64(o, "counter", "reader_misses_total",
			   "Lookups of paths not in the table.",
			   u.reader_misses);
		metric_u64(o, "counter", "reader_uncached_total",
			   "Lookups the table could not answer.",
			   u.reader_uncached);
		metric_u64(o, "counter", "reader_version_mismatches_total",
			   "Readers of another format major that found the "
			   "instance.",
			   u.version_mismatches);
	}
	if (view_read_req(v, &rq) == 0) {
		metric_u64(o, "counter", "ring_requests_total",
			   "Watch requests the writer took from the request "
			   "ring.",
			   rq.taken);
		metric_u64(o, "counter", "ring_dropped_total",
			   "Watch requests readers dropped: the request ring "
			   "was full.",
			   rq.dropped);
		metric_u64(o, "counter", "ring_doorbells_total",
			   "Doorbells readers rang to wake the sleeping "
			   "writer.",
			   rq.rung);
	}
	if (view_read_feed(v, &fh) == 0) {
		metric_u64(o, "counter", "feed_records_total",
			   "Records appended to the change feed.", fh.records);
		metric_u64(o, "gauge", "feed_ring_bytes",
			   "Size of the change feed's ring.", fh.ring_size);
		metric_u64(o, "gauge", "feed_followers",
			   "Readers asleep waiting for changes now.",
			   view_read_use(v, &u) == 0 ? u.feed_waiters : 0);
	}
}

/* The whole exposition into a malloc'd buffer; NULL when out of memory. */
static char *render(const struct tool_ctx *ctx, size_t *len)
{
	char *buf = NULL;
	struct out o = { open_memstream(&buf, len), ctx->name };
	fsc_handle *h = NULL;
	struct view v;

	if (!o.f)
		return NULL;
	int up = fsc_open(&h, ctx->name, FSC_OPEN_NO_REQUESTS) == 0 &&
		 fsc_attached(h);
	fsc_close(h);
	metric(&o, "gauge", "up",
	       "Whether a live writer serves the instance (1) or not (0).", "",
	       up);
	if (view_open(&v, ctx->name, 0) == 0) {
		if (v.valid)
			render_segment(&o, &v);
		view_close(&v);
	}
	if (fclose(o.f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* "ADDR:PORT" ("[v6]:PORT" for IPv6; ADDR may be a host name). */
static int listen_on(const char *spec, char *shown, size_t size)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || !colon[1] ||
	    (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	char *h = host;
	size_t n = strlen(h);
	if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
		h[n - 1] = '\0';
		h++;
	}
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM },
			*ai;
	if (getaddrinfo(h, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	int err = fd < 0 ? -errno : 0;
	if (!err)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!err &&
	    (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0))
		err = -errno;
	freeaddrinfo(ai);
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	char addr[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
		if (sa.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;
			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			port = ntohs(s6->sin6_port);
			snprintf(shown, size, "[%s]:%d", addr, port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
			inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
			port = ntohs(s4->sin_port);
			snprintf(shown, size, "%s:%d", addr, port);
		}
	}
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void respond(int fd, const char *status, const char *type,
		    const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 status, type, len);
	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

/* One connection: read the request line, answer, close. */
static void serve_one(const struct tool_ctx *ctx, int fd)
{
	char req[8192];
	size_t got = 0;
	struct timeval tv = { 5, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (got < sizeof(req) - 1) {
		ssize_t k = recv(fd, req + got, sizeof(req) - 1 - got, 0);
		if (k <= 0)
			break;
		got += (size_t)k;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = '\0';
	char method[16], path[256];
	if (sscanf(req, "%15s %255s", method, path) != 2) {
		respond(fd, "400 Bad Request", "text/plain", "bad request\n",
			12);
		return;
	}
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		respond(fd, "405 Method Not Allowed", "text/plain",
			"only GET\n", 9);
		return;
	}
	if (strcmp(path, "/metrics") != 0 && strcmp(path, "/") != 0) {
		respond(fd, "404 Not Found", "text/plain", "see /metrics\n",
			13);
		return;
	}
	size_t len = 0;
	char *body = render(ctx, &len);
	if (!body) {
		respond(fd, "500 Internal Server Error", "text/plain",
			"out of memory\n", 14);
		return;
	}
	respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
		strcmp(method, "HEAD") ? body : "",
		strcmp(method, "HEAD") ? len : 0);
	free(body);
}

static int serve(const struct tool_ctx *ctx)
{
	char shown[128] = "";
	int fd = listen_on(ctx->listen, shown, sizeof(shown));
	if (fd < 0) {
		tool_error("metrics: cannot listen on '%s': %s", ctx->listen,
			   fd == -EINVAL ? "expected ADDR:PORT"
					 : strerror(-fd));
		return fd == -EINVAL ? TOOL_EXIT_USAGE : TOOL_EXIT_FAIL;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: accept() returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "fstatcache: metrics: serving http://%s/metrics\n",
		shown);
	while (!got_stop) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			tool_error("metrics: accept: %s", strerror(errno));
			close(fd);
			return TOOL_EXIT_FAIL;
		}
		serve_one(ctx, c);
		close(c);
	}
	close(fd);
	return TOOL_EXIT_OK;
}

int cmd_metrics(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (ctx->listen)
		return serve(ctx);
	size_t len = 0;
	char *body = render(ctx, &len);
	if (!body) {
		tool_error("metrics: out of memory");
		return TOOL_EXIT_FAIL;
	}
	fwrite(body, 1, len, stdout);
	free(body);
	return TOOL_EXIT_OK;
}
