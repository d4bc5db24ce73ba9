/*
 * sec_fresh.c - freshness: from an append to a watched file until a
 * busy-polling reader in another process sees the new size.
 *
 * A trial: take t0 (CLOCK_MONOTONIC, system-wide), append one byte to the
 * target file; the reader process, spinning on fsc_stat() of the target
 * (an entry marked changed is answered by stat(), as an agent would take
 * it), takes t1 when the size changes and sends (size, t1) down a pipe;
 * the bench blocks on that pipe (it must not spin: the machine has two
 * cores, and the writer needs one).  t0 is taken before write(2), so the
 * write itself is included.  Between trials the bench sleeps --gap, so the
 * writer is back asleep in epoll_wait when the next append comes ("idle").
 *
 * Beside every trial, a baseline trial: the same bench writes t0 to a pipe
 * on which another child sleeps in read(2); it takes t1 on waking.  That
 * is the machine's floor for "wake a sleeping process", which the writer
 * must pay too; the ratios say how far above the floor freshness is.
 *
 * Two phases of --trials trials each: the writer otherwise idle, and while
 * a load process appends to --load-files other watched files as fast as it
 * can.  A phase also ends after --phase-max seconds (so a slow writer
 * cannot stretch the run past its budget); the trials done are reported.
 * Lookups answered by stat() (an entry marked changed that the writer has
 * not re-stat'ed yet) are counted as uncached; a trial not seen within
 * 10 s is lost (counted, and latency 10 s).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#define LOST_NS 10000000000ull

struct seen {
	int64_t size;
	uint64_t t;
};

struct fshared {
	uint32_t ready, quit;
	uint64_t polls, uncached, misses;
};

struct fresh {
	struct fshared *sh;
	const char *name;
	int seen_w, seen_r; /* reader -> bench */
	int ping_w, ping_r; /* bench -> baseline child */
	int pong_w, pong_r; /* baseline child -> bench */
	int target;         /* O_APPEND descriptor */
	int64_t size;       /* the target's size now */
};

/* ---- the two children ---------------------------------------------------------- */

static void reader_main(void *arg)
{
	struct fresh *f = arg;
	fsc_handle *h;
	int rc = fsc_open(&h, f->name, FSC_OPEN_ATTACHED);
	if (rc < 0)
		fb_die("fresh reader: fsc_open: %s", fsc_strerror(rc));
	int64_t last = -1;
	uint64_t polls = 0, uncached = 0, misses = 0;
	uatomic_set(&f->sh->ready, 1);
	while (!uatomic_read(&f->sh->quit)) {
		struct fsc_stat o;
		/* A changed mark sends the caller to stat(): as an agent
		 * would, take stat()'s answer then (fsc_stat does). */
		rc = fsc_stat(h, FB.target, &o);
		polls++;
		if (rc == 0 && o.source == FSC_SOURCE_STAT)
			uncached++;
		if (rc == 0 && o.size != last) {
			struct seen s = { o.size, fb_now_ns() };
			last = o.size;
			if (write(f->seen_w, &s, sizeof(s)) != sizeof(s))
				fb_die("fresh reader: write: %s",
				       strerror(errno));
		} else if (rc != 0) {
			misses++; /* an error: fsc_stat answers the rest */
		}
		if ((polls & 0xfff) == 0) {
			uatomic_set(&f->sh->polls, polls);
			uatomic_set(&f->sh->uncached, uncached);
			uatomic_set(&f->sh->misses, misses);
		}
	}
	uatomic_set(&f->sh->polls, polls);
	uatomic_set(&f->sh->uncached, uncached);
	uatomic_set(&f->sh->misses, misses);
	fsc_close(h);
}

static void baseline_main(void *arg)
{
	struct fresh *f = arg;
	uint64_t t0;
	close(f->ping_w);
	while (read(f->ping_r, &t0, sizeof(t0)) == sizeof(t0)) {
		uint64_t t1 = fb_now_ns();
		if (write(f->pong_w, &t1, sizeof(t1)) != sizeof(t1))
			fb_die("baseline: write: %s", strerror(errno));
	}
}

/* ---- trials ---------------------------------------------------------------------- */

/* Read what the reader saw until it reports `want`; 0 when lost. */
static uint64_t wait_seen(struct fresh *f, int64_t want)
{
	uint64_t deadline = fb_now_ns() + LOST_NS;
	for (;;) {
		uint64_t now = fb_now_ns();
		if (now >= deadline)
			return 0;
		struct pollfd p = { f->seen_r, POLLIN, 0 };
		int r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r < 0 && errno != EINTR)
			fb_die("poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		struct seen s;
		if (read(f->seen_r, &s, sizeof(s)) != sizeof(s))
			fb_die("fresh reader died");
		if (s.size >= want)
			return s.t;
	}
}

static double trial_fresh(struct fresh *f, uint64_t *lost)
{
	int64_t want = f->size + 1;
	uint64_t t0 = fb_now_ns();
	if (write(f->target, "x", 1) != 1)
		fb_die("append %s: %s", FB.target, strerror(errno));
	f->size = want;
	uint64_t t1 = wait_seen(f, want);
	if (!t1) {
		(*lost)++;
		return (double)LOST_NS;
	}
	return t1 > t0 ? (double)(t1 - t0) : 0;
}

static double trial_wakeup(struct fresh *f)
{
	uint64_t t0 = fb_now_ns(), t1;
	if (write(f->ping_w, &t0, sizeof(t0)) != sizeof(t0) ||
	    read(f->pong_r, &t1, sizeof(t1)) != sizeof(t1))
		fb_die("baseline child died");
	return t1 > t0 ? (double)(t1 - t0) : 0;
}

struct phase {
	const char *name;
	unsigned trials; /* done (fewer than asked if --phase-max hit) */
	struct fb_summary fresh, wake;
	uint64_t lost, polls, uncached, misses, overflows, load_appends;
	double secs;
};

static void run_phase(struct fresh *f, struct fb_writer *w, struct phase *ph)
{
	unsigned n = FB.o.trials;
	double *fr = fb_calloc(n, sizeof(double));
	double *wk = fb_calloc(n, sizeof(double));
	uint64_t gap = (uint64_t)(FB.o.gap_s * 1e9);
	uint64_t u0 = uatomic_read(&f->sh->uncached);
	uint64_t m0 = uatomic_read(&f->sh->misses);
	uint64_t p0 = uatomic_read(&f->sh->polls);
	struct fsc_header h0, h1;
	fb_writer_header(w, &h0);
	uint64_t t0 = fb_now_ns();
	uint64_t end = t0 + (uint64_t)(FB.o.phase_max_s * 1e9);
	unsigned i;
	for (i = 0; i < n && fb_now_ns() < end; i++) {
		fb_sleep_ns(gap);
		if (i & 1) { /* alternate which goes first */
			wk[i] = trial_wakeup(f);
			fb_sleep_ns(gap);
			fr[i] = trial_fresh(f, &ph->lost);
		} else {
			fr[i] = trial_fresh(f, &ph->lost);
			fb_sleep_ns(gap);
			wk[i] = trial_wakeup(f);
		}
	}
	ph->secs = (double)(fb_now_ns() - t0) / 1e9;
	ph->trials = n = i;
	fb_writer_header(w, &h1);
	for (i = 0; i < n; i++) {
		fr[i] /= 1e3; /* µs */
		wk[i] /= 1e3;
	}
	ph->fresh = fb_summarize(fr, n);
	ph->wake = fb_summarize(wk, n);
	ph->overflows =
		h1.counters[FSC_CTR_OVERFLOWS] - h0.counters[FSC_CTR_OVERFLOWS];
	ph->uncached = uatomic_read(&f->sh->uncached) - u0;
	ph->misses = uatomic_read(&f->sh->misses) - m0;
	ph->polls = uatomic_read(&f->sh->polls) - p0;
	free(fr);
	free(wk);
}

/* ---- setup and report --------------------------------------------------------------- */

static void make_pipe(int *r, int *w)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		fb_die("pipe: %s", strerror(errno));
	*r = p[0];
	*w = p[1];
}

static json_t *report(const struct phase *ph)
{
	const struct fb_summary *a = &ph->fresh, *b = &ph->wake;
	printf("%-6s %-9s %9.1f %9.1f %9.1f %9.1f %10.1f\n", ph->name,
	       "freshness", a->median, a->p90, a->p99, a->max, a->mean);
	printf("%-6s %-9s %9.1f %9.1f %9.1f %9.1f %10.1f\n", "", "wake-up",
	       b->median, b->p90, b->p99, b->max, b->mean);
	printf("%-6s %-9s %9.1f %9.1f %9.1f %9.1f %10.1f\n", "", "ratio",
	       a->median / b->median, a->p90 / b->p90, a->p99 / b->p99,
	       a->max / b->max, a->mean / b->mean);
	return json_pack("{s:I, s:o, s:o, s:f, s:f, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:f}",
			 "trials", (json_int_t)ph->trials, "freshness_us",
			 fb_summary_json(a), "wakeup_floor_us",
			 fb_summary_json(b), "p50_over_floor",
			 a->median / b->median, "p99_over_floor",
			 a->p99 / b->p99, "lost_trials", (json_int_t)ph->lost,
			 "reader_polls", (json_int_t)ph->polls,
			 "reader_uncached", (json_int_t)ph->uncached,
			 "reader_misses", (json_int_t)ph->misses, "overflows",
			 (json_int_t)ph->overflows, "load_appends",
			 (json_int_t)ph->load_appends, "seconds", ph->secs);
}

static void note_phase(const struct phase *ph)
{
	printf("%-6s %u trials in %.1f s, lost %" PRIu64 "; reader polls "
	       "answered FSC_UNCACHED %.3g%% (%" PRIu64 " of %" PRIu64 "), "
	       "misses %" PRIu64 "; inotify overflows %" PRIu64 "; load "
	       "appends %.0f/s\n",
	       ph->name, ph->trials, ph->secs, ph->lost,
	       ph->polls ? 100.0 * (double)ph->uncached / (double)ph->polls
			 : 0.0,
	       ph->uncached, ph->polls, ph->misses, ph->overflows,
	       (double)ph->load_appends / ph->secs);
}

static void targets(const struct phase *idle, const struct phase *load)
{
	char d[160];
	snprintf(d, sizeof(d),
		 "p99 of %u trials, writer idle (p50 %.1f us, "
		 "max %.1f us; wake-up floor p99 %.1f us)",
		 idle->trials, idle->fresh.median, idle->fresh.max,
		 idle->wake.p99);
	fb_target("freshness p99 < 200 us idle", idle->fresh.p99, "us",
		  idle->fresh.p99 < 200 && !idle->lost, d);
	snprintf(d, sizeof(d),
		 "p99 of %u trials, %u other files appended "
		 "at full speed (p50 %.1f us, max %.1f us)",
		 load->trials, FB.o.load_files, load->fresh.median,
		 load->fresh.max);
	fb_target("freshness p99 < 2 ms under load", load->fresh.p99, "us",
		  load->fresh.p99 < 2000 && !load->lost, d);
}

void fb_run_fresh(void)
{
	fb_title("Freshness: append until a busy reader sees the new size "
		 "(us)");
	unsigned n = FB.o.files + FB.o.load_files + 1;
	char **paths = fb_calloc(n, sizeof(char *));
	memcpy(paths, FB.pool, FB.o.files * sizeof(char *));
	memcpy(paths + FB.o.files, FB.load, FB.o.load_files * sizeof(char *));
	paths[n - 1] = FB.target;
	struct fb_writer w;
	fb_writer_start(&w, paths, n, n);

	struct fresh f = { .name = w.name };
	f.sh = fb_shared_alloc(sizeof(*f.sh));
	make_pipe(&f.seen_r, &f.seen_w);
	make_pipe(&f.ping_r, &f.ping_w);
	make_pipe(&f.pong_r, &f.pong_w);
	f.target = open(FB.target, O_WRONLY | O_APPEND | O_CLOEXEC);
	struct stat st;
	if (f.target < 0 || fstat(f.target, &st) < 0)
		fb_die("%s: %s", FB.target, strerror(errno));
	f.size = st.st_size;
	pid_t rp = fb_spawn(reader_main, &f);
	pid_t bp = fb_spawn(baseline_main, &f);
	close(f.ping_r);
	while (!uatomic_read(&f.sh->ready))
		fb_sleep_ns(100000);
	if (!wait_seen(&f, f.size))
		fb_die("the reader never saw %s", FB.target);

	struct phase idle = { .name = "idle" }, load = { .name = "load" };
	run_phase(&f, &w, &idle);
	struct fb_load *lg = fb_shared_alloc(sizeof(*lg));
	*lg = (struct fb_load){ .paths = FB.load, .n = FB.o.load_files };
	pid_t lp = fb_load_start(lg);
	run_phase(&f, &w, &load);
	load.load_appends = uatomic_read(&lg->appends);
	fb_load_stop(lg, lp);

	printf("%u trials per phase (at most %.0f s), %.0f us gap; floor = a "
	       "sleeping process woken through a pipe, measured alternately\n",
	       FB.o.trials, FB.o.phase_max_s, FB.o.gap_s * 1e6);
	printf("%-6s %-9s %9s %9s %9s %9s %10s\n", "phase", "", "p50", "p90",
	       "p99", "max", "mean");
	json_t *ji = report(&idle), *jl = report(&load);
	note_phase(&idle);
	note_phase(&load);
	targets(&idle, &load);
	json_object_set_new(FB.root, "freshness",
			    json_pack("{s:I, s:I, s:f, s:f, s:o, s:o}",
				      "trials_asked", (json_int_t)FB.o.trials,
				      "load_files", (json_int_t)FB.o.load_files,
				      "gap_us", FB.o.gap_s * 1e6, "phase_max_s",
				      FB.o.phase_max_s, "idle", ji, "load",
				      jl));

	uatomic_set(&f.sh->quit, 1);
	close(f.ping_w);
	fb_reap(rp, "fresh reader");
	fb_reap(bp, "baseline child");
	close(f.seen_r);
	close(f.seen_w);
	close(f.pong_r);
	close(f.pong_w);
	close(f.target);
	fb_shared_free(lg, sizeof(*lg));
	fb_shared_free(f.sh, sizeof(*f.sh));
	free(paths);
	fb_writer_stop(&w);
}
