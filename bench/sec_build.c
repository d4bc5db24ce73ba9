/*
 * sec_build.c - cold build and footprint.
 *
 * Cold build: the time from starting fstatcached with N paths in its
 * --watch-list until the first sync returns (the writer adds its watches
 * and stats every path before it reports READY), repeated, median shown;
 * beside it the time this process takes to stat() the same N paths, so
 * the ratio survives a noisy machine.  Dentries and inodes are warm (the
 * files were just made); the bench does not drop the host's caches.
 *
 * Footprint: the segment's bytes per entry (from its header: entry size,
 * slots, max entries, plus the recency-mark object), and the writer's
 * memory from /proc/PID/status after the sync: VmHWM (peak), VmRSS and its
 * anonymous and shared-memory parts, at each size.
 *
 * Idle wake-ups: with the writer holding --files paths and nothing
 * changing, the voluntary + involuntary context switches of all its
 * threads (/proc/PID/task/(star)/status) are read, then again after
 * --idle seconds.  A short settle period after the sync comes first and
 * its switches are shown separately, so nothing is hidden.
 */
#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

struct build {
	unsigned n;
	double *ms, *ready_ms; /* [repeat] */
	double *stat_ns;       /* [repeat] stat() per path, same run */
	struct fb_proc proc;   /* after the first build's sync */
	struct fsc_header hdr;
};

static double stat_all_ns(unsigned n)
{
	struct stat st;
	uint64_t acc = 0, t0 = fb_now_ns();
	for (unsigned i = 0; i < n; i++)
		if (stat(FB.pool[i], &st) == 0)
			acc += (uint64_t)st.st_size;
	uint64_t dt = fb_now_ns() - t0;
	fb_consume(acc);
	return (double)dt / n;
}

/* The writer is idle: count its threads' context switches over a window. */
static json_t *idle_wakeups(struct fb_writer *w)
{
	struct fb_proc a, b, c;
	double settle = FB.o.quick ? 0.05 : 1.0;
	fb_proc_read(w->pid, &a);
	fb_sleep_ns((uint64_t)(settle * 1e9));
	fb_proc_read(w->pid, &b);
	fb_sleep_ns((uint64_t)(FB.o.idle_s * 1e9));
	fb_proc_read(w->pid, &c);
	uint64_t settle_sw =
		(b.ctxt_vol + b.ctxt_invol) - (a.ctxt_vol + a.ctxt_invol);
	uint64_t vol = c.ctxt_vol - b.ctxt_vol;
	uint64_t invol = c.ctxt_invol - b.ctxt_invol;
	return json_pack("{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:f, s:I}",
			 "paths", (json_int_t)FB.o.files, "window_s",
			 FB.o.idle_s, "wakeups", (json_int_t)(vol + invol),
			 "voluntary", (json_int_t)vol, "involuntary",
			 (json_int_t)invol, "threads_before",
			 (json_int_t)b.threads, "threads_after",
			 (json_int_t)c.threads, "settle_s", settle,
			 "settle_wakeups", (json_int_t)settle_sw);
}

#define JI(o, k) ((uint64_t)json_integer_value(json_object_get(o, k)))

static void report_idle(json_t *j)
{
	uint64_t n = JI(j, "wakeups");
	printf("idle writer (%" PRIu64 " paths): %" PRIu64
	       " wake-ups in %.1f s "
	       "(%" PRIu64 " voluntary, %" PRIu64
	       " involuntary; threads %" PRIu64 " before, %" PRIu64
	       " after); %" PRIu64 " during the "
	       "%.2f s settle after its sync\n",
	       JI(j, "paths"), n, FB.o.idle_s, JI(j, "voluntary"),
	       JI(j, "involuntary"), JI(j, "threads_before"),
	       JI(j, "threads_after"), JI(j, "settle_wakeups"),
	       json_real_value(json_object_get(j, "settle_s")));
	char detail[160];
	snprintf(detail, sizeof(detail),
		 "context switches of all writer "
		 "threads during %.1f s idle",
		 FB.o.idle_s);
	fb_target("zero idle wake-ups", (double)n, "wake-ups", n == 0, detail);
}

static void build_size(struct build *b, json_t **idle)
{
	b->ms = fb_calloc(FB.o.repeats, sizeof(double));
	b->ready_ms = fb_calloc(FB.o.repeats, sizeof(double));
	b->stat_ns = fb_calloc(FB.o.repeats, sizeof(double));
	for (unsigned r = 0; r < FB.o.repeats; r++) {
		struct fb_writer w;
		b->stat_ns[r] = stat_all_ns(b->n);
		fb_writer_start(&w, FB.pool, b->n, b->n);
		b->ms[r] = (double)(w.synced_ns - w.spawn_ns) / 1e6;
		b->ready_ms[r] = (double)(w.ready_ns - w.spawn_ns) / 1e6;
		if (r == 0) {
			fb_proc_read(w.pid, &b->proc);
			fb_writer_header(&w, &b->hdr);
			if (b->hdr.entry_count < b->n)
				fb_die("%u paths given, %u cached", b->n,
				       b->hdr.entry_count);
			if (b->n == FB.o.files && fb_section_on("idle"))
				*idle = idle_wakeups(&w);
		}
		fb_writer_stop(&w);
	}
}

static json_t *report_size(const struct build *b)
{
	struct fb_summary ms = fb_summarize(b->ms, FB.o.repeats);
	struct fb_summary rd = fb_summarize(b->ready_ms, FB.o.repeats);
	struct fb_summary st = fb_summarize(b->stat_ns, FB.o.repeats);
	const struct fsc_header *h = &b->hdr;
	uint64_t use = 64 + (uint64_t)h->slot_count;
	double per_path_us = ms.median * 1e3 / b->n;
	double per_entry = (double)(h->segment_size + use) / h->max_entries;
	printf("%9u %9.1f %9.1f %8.2f %8.1f %9.1f %9.1f %9.1f %9.1f %8.1f"
	       " %7.0f\n",
	       b->n, ms.median, rd.median, per_path_us,
	       per_path_us * 1e3 / st.median, b->proc.hwm_kb / 1024.0,
	       b->proc.rss_kb / 1024.0, b->proc.anon_kb / 1024.0,
	       b->proc.shmem_kb / 1024.0, (double)h->segment_size / 1048576,
	       per_entry);
	return json_pack("{s:I, s:o, s:o, s:f, s:f, s:f, s:{s:I, s:I, s:I, "
			 "s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:f}}",
			 "paths", (json_int_t)b->n, "build_ms",
			 fb_summary_json(&ms), "ready_ms", fb_summary_json(&rd),
			 "build_us_per_path", per_path_us, "stat_ns_per_path",
			 st.median, "build_over_stat",
			 per_path_us * 1e3 / st.median, "writer_kb", "vm_hwm",
			 (json_int_t)b->proc.hwm_kb, "vm_rss",
			 (json_int_t)b->proc.rss_kb, "rss_anon",
			 (json_int_t)b->proc.anon_kb, "rss_file",
			 (json_int_t)b->proc.file_kb, "rss_shmem",
			 (json_int_t)b->proc.shmem_kb, "segment", "entry_size",
			 (json_int_t)h->entry_size, "slots",
			 (json_int_t)h->slot_count, "max_entries",
			 (json_int_t)h->max_entries, "entries",
			 (json_int_t)h->entry_count, "segment_bytes",
			 (json_int_t)h->segment_size, "use_bytes",
			 (json_int_t)use, "bytes_per_entry", per_entry);
}

void fb_run_build(void)
{
	unsigned sizes[3] = { FB.o.files / 10 ? FB.o.files / 10 : 1, FB.o.files,
			      FB.o.big_files };
	json_t *arr = json_array(), *idle = NULL;
	fb_title("Cold build and footprint (%u run%s per size, median)",
		 FB.o.repeats, FB.o.repeats > 1 ? "s" : "");
	printf("(build = writer start until the first sync returns; x stat = "
	       "build time per path / stat() per path; MB = MiB)\n");
	printf("%9s %9s %9s %8s %8s %9s %9s %9s %9s %8s %7s\n", "paths",
	       "build ms", "ready ms", "us/path", "x stat", "VmHWM MB",
	       "VmRSS MB", "anon MB", "shmem MB", "seg MB", "B/entry");
	for (int i = 0; i < 3; i++) {
		struct build b = { .n = sizes[i] };
		if (!b.n || (i == 2 && sizes[2] <= sizes[1]))
			continue;
		build_size(&b, &idle);
		json_array_append_new(arr, report_size(&b));
		free(b.ms);
		free(b.ready_ms);
		free(b.stat_ns);
	}
	json_object_set_new(FB.root, "cold_build", arr);
	if (idle) {
		report_idle(idle);
		json_object_set_new(FB.root, "idle", idle);
	}
}
