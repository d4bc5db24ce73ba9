/*
 * sec_grow.c - the table's growth under a steady poll (issue 18): an agent
 * polls every file of the pool at 4 Hz with fsc_stat() (a miss is answered
 * by stat() and asks for a watch) against a writer started with no options,
 * whose table starts at 8,192 entries and grows, segment by segment, up to
 * its memory limit; then the same poll against a writer started at the size
 * the first one reached.  Nothing writes to the files, so every cached
 * answer must equal the stat() taken before the run (a wrong one is
 * counted).
 *
 * Reported: the growths, the re-attaches the agent's handle made (the
 * mappings it retired: the reader keeps each until close), wrong answers,
 * the polls until every path was a hit, and the cost of a steady poll per
 * path in both writers, their polls alternating once both are full.
 */
#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define POLL_NS 250000000ull /* 4 Hz */
#define STEADY_POLLS 8
#define MAX_POLLS 2400 /* ten minutes at 4 Hz: a bound, never a timing */

struct poll_run {
	unsigned polls_to_all_hits; /* 0: never got there */
	unsigned reattaches, growths, wrong;
	uint32_t max_entries;
	double steady_ns; /* per path, median of STEADY_POLLS polls */
};

struct truth {
	uint64_t *ino;
	int64_t *size;
};

/* The mappings a handle retired: one per re-attach (reader/attach.h). */
static unsigned reattaches(const fsc_handle *h)
{
	unsigned n = 0;
	for (const struct fsc__map *m = h->retired; m; m = m->retired_next)
		n++;
	return n;
}

/* One poll of every path; returns the hits, counts wrong answers. */
static unsigned poll_once(fsc_handle *h, unsigned n, const struct truth *t,
			  unsigned *wrong, double *ns_per_path)
{
	unsigned hits = 0;
	uint64_t t0 = fb_now_ns();
	for (unsigned i = 0; i < n; i++) {
		struct fsc_stat st;
		if (fsc_stat(h, FB.pool[i], &st) != 0) {
			(*wrong)++; /* the files exist: stat() cannot fail */
			continue;
		}
		if (st.ino != t->ino[i] || st.size != t->size[i])
			(*wrong)++;
		hits += st.source == FSC_SOURCE_CACHE;
	}
	*ns_per_path = (double)(fb_now_ns() - t0) / n;
	return hits;
}

/* A writer, its agent's handle and what was counted of them. */
struct poller {
	struct fb_writer w;
	fsc_handle *h;
	struct fsc_header h0;
	struct poll_run r;
	double steady[STEADY_POLLS];
};

/*
 * Start a writer (capacity 0: no options) and poll at 4 Hz until every
 * path is a hit; dies if that never happens within MAX_POLLS.
 */
static void fill(struct poller *p, unsigned n, unsigned capacity,
		 const struct truth *t)
{
	double ns;
	fb_writer_start(&p->w, NULL, 0, capacity);
	int rc = fsc_open(&p->h, p->w.name, FSC_OPEN_ATTACHED);
	if (rc < 0)
		fb_die("fsc_open %s: %s", p->w.name, fsc_strerror(rc));
	fb_writer_header(&p->w, &p->h0);
	uint64_t next = fb_now_ns();
	for (unsigned k = 1; k <= MAX_POLLS; k++) {
		if (poll_once(p->h, n, t, &p->r.wrong, &ns) == n) {
			p->r.polls_to_all_hits = k;
			return;
		}
		next += POLL_NS;
		uint64_t now = fb_now_ns();
		if (next > now)
			fb_sleep_ns(next - now);
		else
			next = now; /* a poll longer than 250 ms: no catching up */
	}
	fb_die("grow: %s never served all %u paths in %u polls", p->w.name, n,
	       MAX_POLLS);
}

static void finish(struct poller *p)
{
	struct fsc_header h1;
	fb_writer_header(&p->w, &h1);
	p->r.growths = (unsigned)(h1.counters[FSC_CTR_GROWTHS] -
				  p->h0.counters[FSC_CTR_GROWTHS]);
	p->r.max_entries = h1.max_entries;
	p->r.reattaches = reattaches(p->h);
	p->r.steady_ns = fb_summarize(p->steady, STEADY_POLLS).median;
	fsc_close(p->h);
	fb_writer_stop(&p->w);
}

static json_t *run_json(const struct poll_run *r)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "polls_to_all_hits",
			 (json_int_t)r->polls_to_all_hits, "growths",
			 (json_int_t)r->growths, "reattaches",
			 (json_int_t)r->reattaches, "wrong_answers",
			 (json_int_t)r->wrong, "max_entries",
			 (json_int_t)r->max_entries, "steady_ns_per_path",
			 r->steady_ns);
}

static void print_run(const char *what, const struct poll_run *r)
{
	printf("%-26s %9u %7u %9u %6u %10u %10.1f\n", what,
	       r->polls_to_all_hits, r->growths, r->reattaches, r->wrong,
	       r->max_entries, r->steady_ns);
}

void fb_run_grow(void)
{
	unsigned n = FB.npool;
	fb_title("Growth under a steady poll: %u files at 4 Hz", n);
	struct truth t = { fb_calloc(n, sizeof(uint64_t)),
			   fb_calloc(n, sizeof(int64_t)) };
	for (unsigned i = 0; i < n; i++) {
		struct stat st;
		if (stat(FB.pool[i], &st) < 0)
			fb_die("%s: %s", FB.pool[i], strerror(errno));
		t.ino[i] = (uint64_t)st.st_ino;
		t.size[i] = (int64_t)st.st_size;
	}
	/* The grown writer's table, then one started at the size it reached;
	 * their steady polls alternate, 4 Hz each, so that both meet the
	 * same neighbours. */
	struct poller *g = fb_calloc(1, sizeof(*g)),
		      *f = fb_calloc(1, sizeof(*f));
	fill(g, n, 0, &t); /* no options: 8,192, then growth */
	struct fsc_header now;
	fb_writer_header(&g->w, &now);
	fill(f, n, now.max_entries, &t);
	for (unsigned k = 0; k < STEADY_POLLS; k++) {
		uint64_t t0 = fb_now_ns();
		poll_once(g->h, n, &t, &g->r.wrong, &g->steady[k]);
		poll_once(f->h, n, &t, &f->r.wrong, &f->steady[k]);
		uint64_t spent = fb_now_ns() - t0;
		if (spent < POLL_NS)
			fb_sleep_ns(POLL_NS - spent);
	}
	finish(g);
	finish(f);
	struct poll_run grown = g->r, fixed = f->r;
	free(g);
	free(f);
	printf("%-26s %9s %7s %9s %6s %10s %10s\n", "writer", "polls",
	       "growths", "reattach", "wrong", "entries", "poll ns");
	print_run("no options (grows)", &grown);
	print_run("--capacity (that size)", &fixed);
	double ratio = fixed.steady_ns > 0 ? grown.steady_ns / fixed.steady_ns
					   : 0;
	printf("steady poll after growth / a table started at that size: "
	       "%.2fx (median of %d polls each; poll ns: per path)\n",
	       ratio, STEADY_POLLS);
	fb_target("no wrong answer while the table grows", grown.wrong, "wrong",
		  grown.wrong == 0 && fixed.wrong == 0,
		  "answers differing from stat() of unchanged files");
	fb_target("at most one re-attach per growth", grown.reattaches,
		  "re-attaches", grown.reattaches <= grown.growths,
		  "the agent handle's retired mappings vs growths");
	fb_target("poll after growth ~ a table of that size", ratio, "x",
		  ratio <= 1.1,
		  "steady poll per path, grown / started at that size");
	json_object_set_new(FB.root, "grow",
			    json_pack("{s:I, s:o, s:o, s:f}", "files",
				      (json_int_t)n, "grown", run_json(&grown),
				      "fixed", run_json(&fixed), "steady_ratio",
				      ratio));
	free(t.ino);
	free(t.size);
}
