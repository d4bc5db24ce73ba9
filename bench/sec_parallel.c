/*
 * sec_parallel.c - readers in parallel: aggregate lookups per second with
 * 1, 2 and 4 reader processes on the same table while the writer applies
 * updates.
 *
 * The writer holds --files paths.  An updater process appends one byte at
 * a time to 100 of those same files at a modest, paced 1,000 appends/s, so
 * readers meet entries being rewritten (seqlock retries, cache lines
 * moving between cores).  Each reader is its own process with its own
 * handle, looking the files up round robin from its own starting offset.
 * Beside each fsc_lookup() run, the same number of processes runs stat(2)
 * on the same files for the same window: the ratio is the speed-up as the
 * readers see it.  The machine may have fewer cores than readers; the
 * figures say what it does, not what it would do with more.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <urcu/uatomic.h>

#define MAX_READERS 4
#define UPDATE_FILES 100
#define UPDATE_RATE 1000

struct pshared {
	uint32_t ready, start, stop;
	uint64_t ops[MAX_READERS];
	uint64_t nonhits[MAX_READERS];
};

struct preader {
	struct pshared *sh;
	const char *name;
	unsigned index, nreaders, n;
	int use_stat;
};

static void reader_main(void *arg)
{
	struct preader *r = arg;
	fsc_handle *h = NULL;
	if (!r->use_stat) {
		int rc = fsc_open(&h, r->name, FSC_OPEN_ATTACHED);
		if (rc < 0)
			fb_die("reader: fsc_open: %s", fsc_strerror(rc));
	}
	unsigned i = (unsigned)((uint64_t)r->index * r->n / r->nreaders);
	uint64_t ops = 0, bad = 0, acc = 0;
	struct fsc_stat o;
	struct stat st;
	uatomic_inc(&r->sh->ready);
	while (!uatomic_read(&r->sh->start))
		fb_sleep_ns(50000);
	while (!uatomic_read(&r->sh->stop)) {
		for (int k = 0; k < 64; k++) {
			if (r->use_stat) {
				bad += stat(FB.pool[i], &st) != 0;
				acc += (uint64_t)st.st_size;
			} else {
				bad += fsc_lookup(h, FB.pool[i], &o) != 0;
				acc += (uint64_t)o.size;
			}
			i = i + 1 < r->n ? i + 1 : 0;
		}
		ops += 64;
	}
	fb_consume(acc);
	r->sh->ops[r->index] = ops;
	r->sh->nonhits[r->index] = bad;
	fsc_close(h);
}

/* One window with k readers; returns the aggregate operations per second. */
static double run_window(struct pshared *sh, const char *name, unsigned k,
			 int use_stat, uint64_t *nonhits)
{
	memset(sh, 0, sizeof(*sh));
	pid_t pids[MAX_READERS];
	struct preader r[MAX_READERS];
	for (unsigned i = 0; i < k; i++) {
		r[i] = (struct preader){ sh, name, i, k, FB.o.files, use_stat };
		pids[i] = fb_spawn(reader_main, &r[i]);
	}
	while (uatomic_read(&sh->ready) < k)
		fb_sleep_ns(100000);
	uint64_t t0 = fb_now_ns();
	uatomic_set(&sh->start, 1);
	fb_sleep_ns((uint64_t)(FB.o.window_s * 1e9));
	uatomic_set(&sh->stop, 1);
	uint64_t t1 = fb_now_ns();
	uint64_t ops = 0;
	*nonhits = 0;
	for (unsigned i = 0; i < k; i++) {
		fb_reap(pids[i], "reader");
		ops += sh->ops[i];
		*nonhits += sh->nonhits[i];
	}
	return (double)ops * 1e9 / (double)(t1 - t0);
}

void fb_run_parallel(void)
{
	fb_title("Readers in parallel: aggregate lookups/s while the writer "
		 "applies updates");
	struct fb_writer w;
	fb_writer_start(&w, FB.pool, FB.o.files, FB.o.files);
	unsigned nup = FB.o.files < UPDATE_FILES ? FB.o.files : UPDATE_FILES;
	char **up = fb_calloc(nup, sizeof(char *));
	for (unsigned i = 0; i < nup; i++)
		up[i] = FB.pool[(uint64_t)i * FB.o.files / nup];
	struct fb_load *load = fb_shared_alloc(sizeof(*load));
	*load = (struct fb_load){ .paths = up, .n = nup, .rate = UPDATE_RATE };
	struct pshared *sh = fb_shared_alloc(sizeof(*sh));
	struct fsc_header h0, h1;
	fb_writer_header(&w, &h0);
	pid_t lp = fb_load_start(load);
	uint64_t t0 = fb_now_ns();

	static const unsigned ks[] = { 1, 2, 4 };
	double agg[3][2];
	uint64_t nonhits[3][2];
	for (int i = 0; i < 3; i++)
		for (int s = 0; s < 2; s++)
			agg[i][s] = run_window(sh, w.name, ks[i], s,
					       &nonhits[i][s]);
	uint64_t t1 = fb_now_ns();
	fb_load_stop(load, lp);
	fb_writer_sync(&w);
	fb_writer_header(&w, &h1);

	double secs = (double)(t1 - t0) / 1e9;
	uint64_t updates =
		h1.counters[FSC_CTR_STATS] - h0.counters[FSC_CTR_STATS];
	printf("%u files, %.1f s per window; updater: %" PRIu64 " appends to "
	       "%u of the files (%.0f/s), writer re-stats %" PRIu64 "\n",
	       FB.o.files, FB.o.window_s, uatomic_read(&load->appends), nup,
	       (double)uatomic_read(&load->appends) / secs, updates);
	printf("%8s %14s %14s %12s %14s %10s %9s\n", "readers", "lookups/s",
	       "per reader", "x 1 reader", "stat()/s", "x 1 reader", "x stat");
	json_t *arr = json_array();
	for (int i = 0; i < 3; i++) {
		double x1 = agg[i][0] / agg[0][0], s1 = agg[i][1] / agg[0][1];
		printf("%8u %14.0f %14.0f %12.2f %14.0f %10.2f %9.1f\n", ks[i],
		       agg[i][0], agg[i][0] / ks[i], x1, agg[i][1], s1,
		       agg[i][0] / agg[i][1]);
		json_array_append_new(
			arr,
			json_pack("{s:I, s:f, s:f, s:f, s:f, s:I, s:I}",
				  "readers", (json_int_t)ks[i], "lookups_per_s",
				  agg[i][0], "scaling", x1, "stat_per_s",
				  agg[i][1], "lookup_over_stat",
				  agg[i][0] / agg[i][1], "lookup_nonhits",
				  (json_int_t)nonhits[i][0], "stat_failures",
				  (json_int_t)nonhits[i][1]));
	}
	for (int i = 0; i < 3; i++)
		if (nonhits[i][0] || nonhits[i][1])
			printf("%u reader(s): %" PRIu64 " lookups were not "
			       "hits (FSC_UNCACHED: the entry stayed busy for "
			       "%d tries), %" PRIu64 " stats failed\n",
			       ks[i], nonhits[i][0], FSC_RETRY_MAX,
			       nonhits[i][1]);
	json_object_set_new(FB.root, "parallel",
			    json_pack("{s:I, s:f, s:I, s:I, s:o}", "files",
				      (json_int_t)FB.o.files, "window_s",
				      FB.o.window_s, "update_appends",
				      (json_int_t)uatomic_read(&load->appends),
				      "writer_restats", (json_int_t)updates,
				      "runs", arr));
	fb_shared_free(sh, sizeof(*sh));
	fb_shared_free(load, sizeof(*load));
	free(up);
	fb_writer_stop(&w);
}
