/*
 * sec_throughput.c - writer throughput: inotify events absorbed per second
 * while a load process appends to N watched files at full speed, and what
 * the writer pays per event.
 *
 * The writer watches only the N load files.  After a short warm-up, the
 * segment's counters (events read, batches, stats done, coalesced,
 * overflows) and the writer's CPU time (utime + stime of all its threads,
 * /proc/PID/stat, clock-tick grain) are read at both ends of a window
 * while the load runs, so the figures are the steady state, backlog and
 * all.  Two coalescing factors: appends per event read (the kernel merges
 * identical consecutive events in the queue) and events per stat (the
 * writer dedupes a batch and stats each dirty path once).
 */
#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <urcu/uatomic.h>

struct tput {
	unsigned n;
	double secs;
	uint64_t appends, ctr[FSC_NCOUNTERS], cpu_ns, load_cpu_ns;
	uint64_t overflows_total;
};

static void ctr_delta(struct tput *t, const struct fsc_header *a,
		      const struct fsc_header *b)
{
	for (unsigned i = 0; i < FSC_NCOUNTERS; i++)
		t->ctr[i] = b->counters[i] - a->counters[i];
}

static void run_config(struct tput *t)
{
	struct fb_writer w;
	fb_writer_start(&w, FB.load, t->n, t->n);
	struct fb_load *load = fb_shared_alloc(sizeof(*load));
	*load = (struct fb_load){ .paths = FB.load, .n = t->n };
	struct fsc_header h0, h1, h2;
	struct fb_proc p0, p1;
	fb_writer_header(&w, &h2);
	uint64_t base_overflows = h2.counters[FSC_CTR_OVERFLOWS];

	pid_t lp = fb_load_start(load);
	fb_sleep_ns((uint64_t)(FB.o.window_s * 1e8)); /* warm-up: 1/10 */
	uint64_t a0 = uatomic_read(&load->appends), t0 = fb_now_ns();
	fb_writer_header(&w, &h0);
	fb_proc_read(w.pid, &p0);
	fb_sleep_ns((uint64_t)(FB.o.window_s * 1e9));
	uint64_t a1 = uatomic_read(&load->appends), t1 = fb_now_ns();
	fb_writer_header(&w, &h1);
	fb_proc_read(w.pid, &p1);
	fb_load_stop(load, lp);
	fb_writer_sync(&w);
	fb_writer_header(&w, &h2);

	t->secs = (double)(t1 - t0) / 1e9;
	t->appends = a1 - a0;
	ctr_delta(t, &h0, &h1);
	t->cpu_ns = p1.cpu_ns - p0.cpu_ns;
	t->load_cpu_ns = uatomic_read(&load->cpu_ns);
	t->overflows_total = h2.counters[FSC_CTR_OVERFLOWS] - base_overflows;
	fb_shared_free(load, sizeof(*load));
	fb_writer_stop(&w);
}

static double per(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static json_t *report(const struct tput *t)
{
	uint64_t ev = t->ctr[FSC_CTR_EVENTS], st = t->ctr[FSC_CTR_STATS];
	uint64_t ba = t->ctr[FSC_CTR_BATCHES], co = t->ctr[FSC_CTR_COALESCED];
	double evs = (double)ev / t->secs;
	printf("%6u %11.0f %11.0f %10.0f %8.1f %8.1f %8.1f %6.0f%% %8.0f "
	       "%8.0f %5" PRIu64 "\n",
	       t->n, (double)t->appends / t->secs, evs, (double)st / t->secs,
	       per(t->appends, ev), per(ev, st), per(ev, ba),
	       100.0 * (double)t->cpu_ns / (t->secs * 1e9), per(t->cpu_ns, ev),
	       per(t->cpu_ns, st), t->overflows_total);
	return json_pack("{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, "
			 "s:f, s:f, s:f, s:f, s:f, s:f, s:I}",
			 "files", (json_int_t)t->n, "window_s", t->secs,
			 "appends", (json_int_t)t->appends, "events",
			 (json_int_t)ev, "stats", (json_int_t)st, "batches",
			 (json_int_t)ba, "coalesced", (json_int_t)co,
			 "writer_cpu_ns", (json_int_t)t->cpu_ns, "events_per_s",
			 evs, "appends_per_event", per(t->appends, ev),
			 "events_per_stat", per(ev, st), "events_per_batch",
			 per(ev, ba), "coalesced_fraction", per(co, ev),
			 "writer_cpu_fraction",
			 (double)t->cpu_ns / (t->secs * 1e9),
			 "writer_cpu_ns_per_event", per(t->cpu_ns, ev),
			 "writer_cpu_ns_per_stat", per(t->cpu_ns, st),
			 "overflows", (json_int_t)t->overflows_total);
}

void fb_run_throughput(void)
{
	unsigned ns[2] = { FB.o.load_files, FB.o.load_files < 10 ? 1 : 10 };
	fb_title("Writer throughput: N files appended at full speed");
	printf("(%.1f s window; appends/event: merged by the kernel; "
	       "events/stat: coalesced by the writer; cpu: writer, all "
	       "threads)\n",
	       FB.o.window_s);
	printf("%6s %11s %11s %10s %8s %8s %8s %7s %8s %8s %5s\n", "files",
	       "appends/s", "events/s", "stats/s", "app/ev", "ev/stat",
	       "ev/batch", "cpu", "ns/event", "ns/stat", "ovfl");
	json_t *arr = json_array();
	for (int i = 0; i < 2; i++) {
		struct tput t = { .n = ns[i] };
		run_config(&t);
		json_array_append_new(arr, report(&t));
	}
	json_object_set_new(FB.root, "throughput", arr);
}
