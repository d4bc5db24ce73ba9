/*
 * sec_miss.c - the miss path: what fsc_stat() costs on a path the cache
 * does not hold, against plain stat(2).
 *
 * What the target means is a first-time miss on a new path: lookup, then
 * stat(), then a watch request to the writer.  A path missed once is
 * cached by the writer soon after, so every call here uses a path never
 * asked about before: each method gets its own set of "fresh" files, made
 * before any writer started in the writer's watched directories (as a new
 * log file appears next to old ones), their dentries and inodes as hot as
 * those stat() gets.  Methods:
 *
 *   stat         stat(2) of a fresh path
 *   miss         fsc_stat() of a fresh path: lookup + stat + request
 *   miss_noreq   the same through a handle opened FSC_OPEN_NO_REQUESTS:
 *                lookup + stat, to show what the request costs
 *
 * Three regimes, because the request's cost depends on the writer, and
 * the lookup's on whether the handle's mapping is warm:
 *
 *   isolated  one call at a time, --gap-us apart, so the writer has
 *             handled the previous request and sleeps (a new log file
 *             appearing now and then).  Each call timed alone; the
 *             target uses the median (robust to the machine's noise).
 *   burst     calls back to back, in blocks of 50 interleaved between
 *             the methods (a shipper starting on thousands of new files).
 *             When the writer handles requests slower than they come,
 *             its socket queue fills and sendto() waits for it: that is
 *             part of the cost, so the target uses the mean over all
 *             calls (total time / calls).
 *   fresh     as isolated, but each fsc_stat() call is the first on a
 *             handle opened just before it (not timed: its cost is shown
 *             apart), so it pays for the first touch of the segment's
 *             pages (a reader that starts, looks at a new file, exits).
 *   asleep    as isolated, but ASLEEP_GAP_S apart, longer than the
 *             writer's grace after requests (writer/ring.h, 20 ms): the
 *             writer has gone back to sleep, so every request rings its
 *             doorbell (one datagram that wakes it).  Isolated misses
 *             500 us apart fall within the grace and ring none.
 *
 * The writer has room for every requested path (no eviction) and runs on
 * the other core, as it would.  Afterwards a sync must make every
 * requested path a hit but those dropped (counted: a full request ring
 * drops rather than waits): the requests were really served.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

enum ms {
	MS_STAT,
	MS_MISS,
	MS_NOREQ,
	MS_COUNT
};

static const char *const ms_name[MS_COUNT] = { "stat", "miss", "miss_noreq" };
static const char *const ms_what[MS_COUNT] = {
	"stat(2) of a path never looked at",
	"fsc_stat() first-time miss: lookup + stat + watch request",
	"fsc_stat() miss without request (FSC_OPEN_NO_REQUESTS)",
};

/* Longer than the writer's grace (FW_RING_GRACE_NS, 20 ms). */
#define ASLEEP_GAP_S 0.05

struct regime {
	const char *name;
	unsigned calls, block;   /* per method; block 1: isolated */
	double gap_s;            /* between single calls; 0: --gap-us */
	int fresh;               /* a new handle for every call */
	uint64_t open_ns, opens; /* fsc_open() + its first lookup's setup */
	char **paths[MS_COUNT];
	double *ns[MS_COUNT];     /* [block] ns per call */
	uint64_t total[MS_COUNT]; /* ns over all calls */
	uint64_t csw[MS_COUNT];   /* our context switches during the calls */
	uint64_t unexpected[MS_COUNT];
};

struct mrun {
	fsc_handle *h, *h_noreq;
	struct regime iso, burst, fresh, asleep;
	const char *name;
	uint64_t fresh_dropped;
};

/* Context switches of this process so far (voluntary + involuntary). */
static uint64_t switches(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

/* Time `block` calls of method m on the regime's paths from `first`. */
static void run_block(struct mrun *r, struct regime *g, int m, unsigned first)
{
	char **p = g->paths[m] + first;
	struct fsc_stat o;
	struct stat st;
	fsc_handle *h = m == MS_MISS ? r->h : r->h_noreq;
	if (g->fresh && m != MS_STAT) {
		uint64_t t = fb_now_ns();
		int rc = fsc_open(&h, r->name,
				  FSC_OPEN_ATTACHED |
					  (m == MS_NOREQ ? FSC_OPEN_NO_REQUESTS
							 : 0));
		if (rc < 0)
			fb_die("fsc_open: %s", fsc_strerror(rc));
		g->open_ns += fb_now_ns() - t;
		g->opens++;
	}
	uint64_t acc = 0, bad = 0, sw = switches();
	uint64_t t0 = fb_now_ns();
	for (unsigned i = 0; i < g->block; i++) {
		if (m == MS_STAT) {
			bad += stat(p[i], &st) != 0;
			acc += (uint64_t)st.st_size;
		} else {
			bad += fsc_stat(h, p[i], &o) != 0 ||
			       o.source != FSC_SOURCE_STAT;
			acc += (uint64_t)o.size;
		}
	}
	uint64_t dt = fb_now_ns() - t0;
	g->csw[m] += switches() - sw;
	if (g->fresh && m != MS_STAT) {
		if (m == MS_MISS) /* its drops count with the others */
			r->fresh_dropped += fsc_requests_dropped(h);
		fsc_close(h);
	}
	fb_consume(acc);
	g->unexpected[m] += bad;
	g->total[m] += dt;
	g->ns[m][first / g->block] = (double)dt / g->block;
}

static void run_regime(struct mrun *r, struct regime *g)
{
	double gap_s = g->gap_s ? g->gap_s : FB.o.gap_s;
	uint64_t gap = g->block == 1 ? (uint64_t)(gap_s * 1e9) : 0;
	for (unsigned b = 0; b < g->calls / g->block; b++)
		for (int j = 0; j < MS_COUNT; j++) {
			if (gap)
				fb_sleep_ns(gap);
			run_block(r, g, (int)((b + (unsigned)j) % MS_COUNT),
				  b * g->block);
		}
}

/* After a sync every requested path must be cached. */
static unsigned count_served(struct mrun *r, const struct regime *g)
{
	unsigned hits = 0;
	for (unsigned i = 0; i < g->calls; i++) {
		struct fsc_stat o;
		hits += fsc_lookup(r->h_noreq, g->paths[MS_MISS][i], &o) == 0;
	}
	return hits;
}

/* Prints the regime's rows; returns the ratio its target uses. */
static double report(const struct regime *g, json_t *out)
{
	unsigned n = g->calls / g->block;
	int iso = g->block == 1;
	struct fb_summary s[MS_COUNT];
	double mean[MS_COUNT];
	for (int m = 0; m < MS_COUNT; m++) {
		s[m] = fb_summarize(g->ns[m], n);
		mean[m] = (double)g->total[m] / g->calls;
	}
	json_t *methods = json_object();
	for (int m = 0; m < MS_COUNT; m++) {
		double csw = (double)g->csw[m] / g->calls;
		printf("%-9s %-11s %9.1f %9.1f %9.1f %9.2f %9.2f %6.2f  %s\n",
		       m ? "" : g->name, ms_name[m], s[m].median, mean[m],
		       s[m].p90, s[m].median / s[MS_STAT].median,
		       mean[m] / mean[MS_STAT], csw, ms_what[m]);
		json_object_set_new(
			methods, ms_name[m],
			json_pack("{s:f, s:f, s:o, s:f, s:f, s:I, s:s}",
				  "context_switches_per_call", csw, "mean_ns",
				  mean[m], iso ? "call_ns" : "block_ns",
				  fb_summary_json(&s[m]), "median_over_stat",
				  s[m].median / s[MS_STAT].median,
				  "mean_over_stat", mean[m] / mean[MS_STAT],
				  "unexpected_answers",
				  (json_int_t)g->unexpected[m], "what",
				  ms_what[m]));
	}
	json_object_set_new(out, g->name,
			    json_pack("{s:I, s:I, s:o}", "calls_per_method",
				      (json_int_t)g->calls, "block",
				      (json_int_t)g->block, "methods",
				      methods));
	return iso ? s[MS_MISS].median / s[MS_STAT].median
		   : mean[MS_MISS] / mean[MS_STAT];
}

static void targets(const struct mrun *r, double iso_x, double burst_x,
		    double fresh_x)
{
	char d[200];
	snprintf(d, sizeof(d),
		 "isolated first-time miss (lookup + stat + "
		 "request) vs stat(2), median of %u single calls",
		 r->iso.calls);
	fb_target("miss <= 1.3x stat() (isolated)", iso_x, "x", iso_x <= 1.3,
		  d);
	snprintf(d, sizeof(d),
		 "burst of %u first-time misses back to back "
		 "vs as many stat(2), mean per call",
		 r->burst.calls);
	fb_target("miss <= 1.3x stat() (burst)", burst_x, "x", burst_x <= 1.3,
		  d);
	snprintf(d, sizeof(d),
		 "first-time miss as the first call on a just-opened "
		 "handle vs stat(2), median of %u single calls",
		 r->fresh.calls);
	fb_target("miss <= 1.3x stat() (fresh handle)", fresh_x, "x",
		  fresh_x <= 1.3, d);
}

static void regime_init(struct regime *g, const char *name, unsigned calls,
			unsigned block, char **paths, unsigned stride)
{
	g->name = name;
	g->block = block;
	g->calls = calls / block * block;
	for (int m = 0; m < MS_COUNT; m++) {
		g->paths[m] = paths + (size_t)m * stride;
		g->ns[m] = fb_calloc(g->calls / block, sizeof(double));
	}
}

void fb_run_miss(void)
{
	/* FB.fresh: per method, burst paths then isolated paths. */
	unsigned per = FB.nfresh / MS_COUNT, niso = per / 4;
	unsigned nfr = per / 12 ? per / 12 : 1;
	unsigned nasleep = per / 75 ? per / 75 : 1;
	unsigned nburst = per - niso - nfr - nasleep;
	unsigned block = nburst / 10 < 50 ? (nburst / 10 ? nburst / 10 : 1)
					  : 50;
	struct mrun r = { 0 };
	regime_init(&r.iso, "isolated", niso, 1, FB.fresh + nburst, per);
	regime_init(&r.burst, "burst", nburst, block, FB.fresh, per);
	regime_init(&r.fresh, "fresh", nfr, 1, FB.fresh + nburst + niso, per);
	r.fresh.fresh = 1;
	regime_init(&r.asleep, "asleep", nasleep, 1,
		    FB.fresh + nburst + niso + nfr, per);
	r.asleep.gap_s = ASLEEP_GAP_S;

	fb_title("Miss path: first-time fsc_stat() misses vs stat() (ns)");
	struct fb_writer w;
	fb_writer_start(&w, FB.pool, FB.o.files, FB.o.files + per);
	r.h = w.h;
	r.name = w.name;
	int rc = fsc_open(&r.h_noreq, w.name,
			  FSC_OPEN_ATTACHED | FSC_OPEN_NO_REQUESTS);
	if (rc < 0)
		fb_die("fsc_open: %s", fsc_strerror(rc));
	run_regime(&r, &r.iso);
	fb_writer_sync(&w);
	run_regime(&r, &r.burst);
	fb_writer_sync(&w);
	run_regime(&r, &r.fresh);
	fb_writer_sync(&w);
	run_regime(&r, &r.asleep);
	fb_writer_sync(&w);
	unsigned served =
		count_served(&r, &r.iso) + count_served(&r, &r.burst) +
		count_served(&r, &r.fresh) + count_served(&r, &r.asleep);

	printf("writer holds %u paths; isolated: %u calls per method, %.0f us "
	       "apart; burst: %u calls per method in blocks of %u\n",
	       FB.o.files, r.iso.calls, FB.o.gap_s * 1e6, r.burst.calls,
	       r.burst.block);
	printf("(csw: context switches of the calling process per call: the "
	       "writer, woken by a request, may run on the caller's CPU)\n");
	printf("%-9s %-11s %9s %9s %9s %9s %9s %6s  %s\n", "regime", "method",
	       "median", "mean", "p90", "med/stat", "mean/stat", "csw", "what");
	json_t *j = json_object();
	double iso_x = report(&r.iso, j), burst_x = report(&r.burst, j);
	double fresh_x = report(&r.fresh, j);
	double asleep_x = report(&r.asleep, j);
	double open_us = (double)r.fresh.open_ns / r.fresh.opens / 1e3;
	printf("fresh: fsc_open() (not in the times above) took %.1f us on "
	       "average\n",
	       open_us);
	json_object_set_new(j, "fresh_open_us", json_real(open_us));
	uint64_t dropped = fsc_requests_dropped(r.h) + r.fresh_dropped;
	unsigned want =
		r.iso.calls + r.burst.calls + r.fresh.calls + r.asleep.calls;
	printf("after sync %u of %u requested paths hit, %" PRIu64 " requests "
	       "dropped\n",
	       served, want, dropped);
	for (int m = 0; m < MS_COUNT; m++)
		if (r.iso.unexpected[m] || r.burst.unexpected[m] ||
		    r.fresh.unexpected[m] || r.asleep.unexpected[m])
			printf("warning: %s: %" PRIu64 " unexpected answers\n",
			       ms_name[m],
			       r.iso.unexpected[m] + r.burst.unexpected[m] +
				       r.fresh.unexpected[m] +
				       r.asleep.unexpected[m]);
	json_object_set_new(j, "writer_paths", json_integer(FB.o.files));
	json_object_set_new(j, "requests_served", json_integer(served));
	json_object_set_new(j, "requests_dropped",
			    json_integer((json_int_t)dropped));
	json_object_set_new(FB.root, "miss", j);
	/* Every request not dropped (counted) was served. */
	if (served + dropped < want)
		fb_die("only %u of %u requested paths were cached after sync "
		       "(%" PRIu64 " dropped)",
		       served, want, dropped);
	printf("asleep: %u calls per method, %.0f ms apart (the writer's "
	       "grace is 20 ms): median miss/stat %.2fx, every request rings "
	       "the doorbell\n",
	       r.asleep.calls, ASLEEP_GAP_S * 1e3, asleep_x);
	targets(&r, iso_x, burst_x, fresh_x);
	fsc_close(r.h_noreq);
	for (int m = 0; m < MS_COUNT; m++) {
		free(r.iso.ns[m]);
		free(r.burst.ns[m]);
		free(r.fresh.ns[m]);
		free(r.asleep.ns[m]);
	}
	fb_writer_stop(&w);
}
