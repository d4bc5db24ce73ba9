/*
 * sec_busy.c - a busy log host: total CPU of polling agents with the cache
 * against the same agents with stat(), under write load.
 *
 * F watched files; a load process appends W times a second, spread round
 * robin over H of them (the hot files); A agent processes poll all F files
 * 4 times a second.  Two modes, measured one after the other for each cell
 * in the same run:
 *   stat   each agent stat()s every file each poll; no writer runs (what a
 *          user without fstatcache does);
 *   cache  a writer watches the F files; each agent looks every file up
 *          with fsc_lookup_many() and stat()s only those whose answer
 *          changed since its last poll or that the cache could not answer
 *          (what a log shipper would do next: read the file anyway).
 * Reported per cell: the agents' CPU, the writer's, their total, as % of
 * one core over the window (exact: the schedstat of each of their threads),
 * the ratio cache/stat of the totals, and the appender's own CPU per write
 * in each mode (the watches make every write() dearer).  Issue 17's
 * target: cache total <= 0.5 x stat total in every cell.  A cell where
 * stat polling cost too little to measure has no ratio and is not judged.
 *
 * The load is paced in batches every millisecond (W / 1000 writes each),
 * as a sleep per write could not reach 100,000 writes a second; the
 * appender's CPU includes those wake-ups in both modes alike.  Each
 * window follows a quarter-second warm-up.
 *
 * Freshness, in cache mode, after the window and under the same load:
 * FRESH_TRIALS times, 50 ms apart, the bench appends one byte to a
 * watched file the load does not write (the last of the F; a hot one when
 * all are hot) and spins on fsc_stat() of it until
 * the answer has the new size (an entry marked changed is answered by
 * stat(), which counts: it is the answer an agent gets); the time from
 * before the write() to that answer, p50 and p99 per cell.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#define POLL_HZ 4
#define WARMUP_NS 250000000ull
/* Windows of whole poll periods: 4 s (as issue 17 measured), 0.5 s in a
 * --quick smoke run. */
#define WINDOW_S (FB.o.quick ? 0.5 : 4.0)
#define FRESH_TRIALS 20
#define FRESH_LOST_NS 1000000000ull /* a trial given up: counted as 1 s */

enum mode {
	MODE_STAT,
	MODE_CACHE
};

/* One agent's part of the shared memory. */
struct agent {
	uint32_t ready, polls;
	uint64_t stats; /* stat() calls made */
};

struct agents {
	enum mode mode;
	unsigned f, n;
	char name[FSC_NAME_MAX + 1];
	uint32_t stop;
	struct agent a[4];
};

struct agent_arg {
	struct agents *s;
	unsigned id;
};

/* What a poll remembers of a file: enough to see that it changed. */
struct seen {
	int64_t size, mtime_sec;
	uint32_t mtime_nsec;
	uint64_t ino;
	int exists;
};

static int seen_update(struct seen *s, int exists, int64_t size, int64_t msec,
		       uint32_t mnsec, uint64_t ino)
{
	int changed = s->exists != exists || s->size != size ||
		      s->mtime_sec != msec || s->mtime_nsec != mnsec ||
		      s->ino != ino;
	*s = (struct seen){ size, msec, mnsec, ino, exists };
	return changed;
}

static uint64_t stat_one(const char *path, struct seen *s)
{
	struct stat st;
	if (stat(path, &st) == 0)
		seen_update(s, 1, st.st_size, st.st_mtim.tv_sec,
			    (uint32_t)st.st_mtim.tv_nsec, st.st_ino);
	else
		seen_update(s, 0, 0, 0, 0, 0);
	return 1;
}

static void agent_main(void *arg)
{
	const struct agent_arg *aa = arg;
	struct agents *s = aa->s;
	struct agent *me = &s->a[aa->id];
	unsigned f = s->f;
	const char *const *paths = (const char *const *)FB.pool;
	struct seen *seen = fb_calloc(f, sizeof(*seen));
	struct fsc_stat *st = NULL;
	int *r = NULL;
	fsc_handle *h = NULL;
	if (s->mode == MODE_CACHE) {
		st = fb_calloc(f, sizeof(*st));
		r = fb_calloc(f, sizeof(*r));
		int err = fsc_open(&h, s->name, FSC_OPEN_ATTACHED);
		if (err < 0)
			fb_die("agent: fsc_open %s: %s", s->name,
			       fsc_strerror(err));
	}
	uint64_t stats = 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	uatomic_set(&me->ready, 1);
	while (!uatomic_read(&s->stop)) {
		if (s->mode == MODE_STAT) {
			for (unsigned i = 0; i < f; i++)
				stats += stat_one(paths[i], &seen[i]);
		} else {
			fsc_lookup_many(h, paths, f, st, r);
			for (unsigned i = 0; i < f; i++) {
				if (r[i] != 0)
					stats += stat_one(paths[i], &seen[i]);
				else if (seen_update(
						 &seen[i], st[i].exists,
						 st[i].size, st[i].mtime_sec,
						 st[i].mtime_nsec, st[i].ino))
					stats += stat_one(paths[i], &seen[i]);
			}
		}
		uatomic_set(&me->polls, me->polls + 1);
		uatomic_set(&me->stats, stats);
		uint64_t ns = (uint64_t)next.tv_nsec + 1000000000u / POLL_HZ;
		next.tv_sec += (time_t)(ns / 1000000000u);
		next.tv_nsec = (long)(ns % 1000000000u);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
	}
	fsc_close(h);
	free(seen);
	free(st);
	free(r);
}

struct measure {
	double secs;
	uint64_t agents_cpu_ns, writer_cpu_ns, writes, load_cpu_ns, stats;
	uint64_t overflows, lost;
	uint32_t polls;
	struct fb_summary fresh; /* ms; cache mode only */
};

/* One freshness trial on `path` (O_APPEND descriptor fd): ns, or
 * FRESH_LOST_NS when the new size was not seen within it. */
static uint64_t fresh_trial(fsc_handle *h, const char *path, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		fb_die("fstat %s: %s", path, strerror(errno));
	uint64_t t0 = fb_now_ns();
	if (write(fd, "+", 1) != 1)
		fb_die("write %s: %s", path, strerror(errno));
	for (;;) {
		struct fsc_stat c;
		uint64_t now = fb_now_ns();
		if (fsc_stat(h, path, &c) == 0 && c.size > st.st_size)
			return now - t0;
		if (now - t0 >= FRESH_LOST_NS)
			return FRESH_LOST_NS;
	}
}

/* After the CPU window, under the same load: the freshness trials. */
static void fresh_trials(const char *name, const char *probe, struct measure *m)
{
	uint64_t gap = FB.o.quick ? 10000000u : 50000000u;
	fsc_handle *h;
	int err = fsc_open(&h, name, FSC_OPEN_ATTACHED);
	if (err < 0)
		fb_die("fresh probe: fsc_open %s: %s", name, fsc_strerror(err));
	int fd = open(probe, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		fb_die("open %s: %s", probe, strerror(errno));
	double ms[FRESH_TRIALS];
	for (unsigned i = 0; i < FRESH_TRIALS; i++) {
		uint64_t ns = fresh_trial(h, probe, fd);
		m->lost += ns >= FRESH_LOST_NS;
		ms[i] = (double)ns / 1e6;
		fb_sleep_ns(gap);
	}
	m->fresh = fb_summarize(ms, FRESH_TRIALS);
	close(fd);
	fsc_close(h);
}

/* One mode of one cell: start what it needs, measure a window, stop. */
static void run_mode(enum mode mode, unsigned f, unsigned hot, uint64_t w,
		     unsigned na, struct measure *m)
{
	struct fb_writer wr;
	struct fsc_header h0, h1;
	memset(m, 0, sizeof(*m));
	struct agents *s = fb_shared_alloc(sizeof(*s));
	s->mode = mode;
	s->f = f;
	s->n = na;
	if (mode == MODE_CACHE) {
		fb_writer_start(&wr, FB.pool, f, 2 * f);
		snprintf(s->name, sizeof(s->name), "%s", wr.name);
		fb_writer_header(&wr, &h0);
	}
	pid_t pids[4];
	struct agent_arg args[4];
	for (unsigned i = 0; i < na; i++) {
		args[i] = (struct agent_arg){ s, i };
		pids[i] = fb_spawn(agent_main, &args[i]);
	}
	for (unsigned i = 0; i < na; i++)
		while (!uatomic_read(&s->a[i].ready))
			fb_sleep_ns(1000000);
	struct fb_load *load = NULL;
	pid_t lp = 0;
	if (w) {
		load = fb_shared_alloc(sizeof(*load));
		*load = (struct fb_load){ .paths = FB.pool,
					  .n = hot,
					  .rate = w,
					  .tick_ns = 1000000 };
		lp = fb_load_start(load);
	}
	fb_sleep_ns(WARMUP_NS);
	uint64_t pa0[4], pw0 = 0;
	uint64_t a0 = load ? uatomic_read(&load->appends) : 0;
	uint32_t polls0 = 0, polls1 = 0;
	uint64_t stats0 = 0, stats1 = 0;
	for (unsigned i = 0; i < na; i++) {
		pa0[i] = fb_sched_cpu_ns(pids[i]);
		polls0 += uatomic_read(&s->a[i].polls);
		stats0 += uatomic_read(&s->a[i].stats);
	}
	if (mode == MODE_CACHE) {
		pw0 = fb_sched_cpu_ns(wr.pid);
		fb_writer_header(&wr, &h0);
	}
	uint64_t t0 = fb_now_ns();
	fb_sleep_ns((uint64_t)(WINDOW_S * 1e9));
	uint64_t t1 = fb_now_ns();
	uint64_t a1 = load ? uatomic_read(&load->appends) : 0;
	for (unsigned i = 0; i < na; i++) {
		m->agents_cpu_ns += fb_sched_cpu_ns(pids[i]) - pa0[i];
		polls1 += uatomic_read(&s->a[i].polls);
		stats1 += uatomic_read(&s->a[i].stats);
	}
	if (mode == MODE_CACHE) {
		m->writer_cpu_ns = fb_sched_cpu_ns(wr.pid) - pw0;
		fb_writer_header(&wr, &h1);
		m->overflows = h1.counters[FSC_CTR_OVERFLOWS] -
			       h0.counters[FSC_CTR_OVERFLOWS];
	}
	if (mode == MODE_CACHE)
		fresh_trials(s->name, FB.pool[f - 1], m);
	m->secs = (double)(t1 - t0) / 1e9;
	m->polls = polls1 - polls0;
	m->stats = stats1 - stats0;
	if (load) {
		m->writes = a1 - a0;
		fb_load_stop(load, lp);
		/* The whole run's CPU over the whole run's writes. */
		uint64_t all = uatomic_read(&load->appends);
		m->load_cpu_ns =
			all ? uatomic_read(&load->cpu_ns) * m->writes / all : 0;
		fb_shared_free(load, sizeof(*load));
	}
	uatomic_set(&s->stop, 1);
	for (unsigned i = 0; i < na; i++)
		fb_reap(pids[i], "agent");
	if (mode == MODE_CACHE)
		fb_writer_stop(&wr);
	fb_shared_free(s, sizeof(*s));
}

static double pct(uint64_t ns, double secs)
{
	return secs > 0 ? 100.0 * (double)ns / (secs * 1e9) : 0;
}

static double ns_per(uint64_t ns, uint64_t n)
{
	return n ? (double)ns / (double)n : 0;
}

static json_t *mode_json(const struct measure *m)
{
	json_t *o = json_pack(
		"{s:f, s:I, s:I, s:f, s:f, s:f, s:I, s:f, s:I, s:I}",
		"window_s", m->secs, "polls", (json_int_t)m->polls, "stats",
		(json_int_t)m->stats, "agents_cpu_pct",
		pct(m->agents_cpu_ns, m->secs), "writer_cpu_pct",
		pct(m->writer_cpu_ns, m->secs), "total_cpu_pct",
		pct(m->agents_cpu_ns + m->writer_cpu_ns, m->secs), "writes",
		(json_int_t)m->writes, "appender_ns_per_write",
		ns_per(m->load_cpu_ns, m->writes), "overflows",
		(json_int_t)m->overflows, "writer_cpu_ns",
		(json_int_t)m->writer_cpu_ns);
	if (o && m->fresh.max > 0) {
		json_object_set_new(o, "freshness_ms",
				    fb_summary_json(&m->fresh));
		json_object_set_new(o, "freshness_lost",
				    json_integer((json_int_t)m->lost));
	}
	return o;
}

/* Is `v` in the comma-separated `list` (NULL: every value is)? */
static int listed(const char *list, uint64_t v)
{
	const char *p = list;

	if (!list)
		return 1;
	while (*p) {
		char *end;
		unsigned long long x = strtoull(p, &end, 10);

		if (end == p)
			fb_die("busy: bad list '%s'", list);
		if (x == v)
			return 1;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

void fb_run_busy(void)
{
	static const unsigned fs_full[] = { 1000, 10000 };
	static const unsigned hs_full[] = { 10, 100, 1000 };
	static const uint64_t ws_full[] = { 0, 1000, 10000, 100000 };
	static const unsigned as_full[] = { 1, 4 };
	unsigned fs_quick[] = { FB.npool < 100 ? FB.npool : 100 };
	static const unsigned hs_quick[] = { 10 };
	static const uint64_t ws_quick[] = { 0, 1000 };
	static const unsigned as_quick[] = { 1 };
	const unsigned *fs = FB.o.quick ? fs_quick : fs_full;
	const unsigned *hs = FB.o.quick ? hs_quick : hs_full;
	const uint64_t *ws = FB.o.quick ? ws_quick : ws_full;
	const unsigned *as = FB.o.quick ? as_quick : as_full;
	size_t nf = FB.o.quick ? 1 : 2, nh = FB.o.quick ? 1 : 3;
	size_t nw = FB.o.quick ? 2 : 4, na = FB.o.quick ? 1 : 2;

	fb_title("A busy log host: agents polling at %d Hz under write load",
		 POLL_HZ);
	printf("(%.1f s windows; CPU in %% of one core: agents + writer; "
	       "ratio = cache total / stat total; app ns/w = the appender's "
	       "CPU per write)\n",
	       WINDOW_S);
	printf("(fresh: ms from a write() to a cold watched file until fsc_stat() "
	       "answers its new size, p50/p99 of %d)\n",
	       FRESH_TRIALS);
	printf("%6s %5s %7s %2s | %7s %7s | %7s %7s %7s %6s | %9s %9s %5s | "
	       "%13s\n",
	       "files", "hot", "W/s", "A", "stat", "app/w", "agents", "writer",
	       "total", "ratio", "cache app", "writes/s", "ovfl", "fresh ms");
	json_t *arr = json_array();
	unsigned cells = 0, held = 0;
	double worst = 0, p99_10k = -1, p99_100k = -1;
	for (size_t fi = 0; fi < nf; fi++) {
		unsigned f = fs[fi];
		if (f > FB.npool || !listed(FB.o.busy_files, f))
			continue;
		for (size_t hi = 0; hi < nh; hi++) {
			unsigned hot = hs[hi];
			if (hot > f || !listed(FB.o.busy_hot, hot))
				continue;
			for (size_t wi = 0; wi < nw; wi++) {
				if (!listed(FB.o.busy_writes, ws[wi]))
					continue;
				for (size_t ai = 0; ai < na; ai++) {
					struct measure ms, mc;

					if (!listed(FB.o.busy_agents, as[ai]))
						continue;
					run_mode(MODE_STAT, f, hot, ws[wi],
						 as[ai], &ms);
					run_mode(MODE_CACHE, f, hot, ws[wi],
						 as[ai], &mc);
					double st =
						pct(ms.agents_cpu_ns, ms.secs);
					double ct =
						pct(mc.agents_cpu_ns +
							    mc.writer_cpu_ns,
						    mc.secs);
					/* stat polling too cheap to measure:
					 * no ratio, the cell is not judged. */
					double ratio = st > 0 ? ct / st : -1;
					char rs[16] = "     -";
					if (ratio >= 0)
						snprintf(rs, sizeof(rs),
							 "%6.2f", ratio);
					printf("%6u %5u %7" PRIu64
					       " %2u | %6.2f%% %7.0f | %6.2f%% "
					       "%6.2f%% %6.2f%% %s | %9.0f "
					       "%9.0f %5" PRIu64
					       " | %6.3f/%6.3f\n",
					       f, hot, ws[wi], as[ai], st,
					       ns_per(ms.load_cpu_ns,
						      ms.writes),
					       pct(mc.agents_cpu_ns, mc.secs),
					       pct(mc.writer_cpu_ns, mc.secs),
					       ct, rs,
					       ns_per(mc.load_cpu_ns,
						      mc.writes),
					       mc.secs > 0 ? (double)mc.writes /
								     mc.secs
							   : 0,
					       mc.overflows, mc.fresh.median,
					       mc.fresh.p99);
					fflush(stdout);
					cells += ratio >= 0;
					held += ratio >= 0 && ratio <= 0.5;
					if (ratio > worst)
						worst = ratio;
					if (ws[wi] == 10000 &&
					    mc.fresh.p99 > p99_10k)
						p99_10k = mc.fresh.p99;
					if (ws[wi] == 100000 &&
					    mc.fresh.p99 > p99_100k)
						p99_100k = mc.fresh.p99;
					json_array_append_new(
						arr,
						json_pack(
							"{s:I, s:I, s:I, "
							"s:I, s:f, s:o, "
							"s:o}",
							"files", (json_int_t)f,
							"hot", (json_int_t)hot,
							"writes_per_s",
							(json_int_t)ws[wi],
							"agents",
							(json_int_t)as[ai],
							"ratio", ratio, "stat",
							mode_json(&ms), "cache",
							mode_json(&mc)));
				}
			}
		}
	}
	json_object_set_new(FB.root, "busy", arr);
	char detail[96];
	snprintf(detail, sizeof(detail), "%u of %u cells at or under 0.5", held,
		 cells);
	fb_target("busy host: cache total CPU / stat polling, worst cell",
		  worst, "x", cells > 0 && held == cells, detail);
	if (p99_10k >= 0)
		fb_target("busy host: freshness p99 at 10k writes/s, worst",
			  p99_10k, "ms", p99_10k < 2.0, "target < 2 ms");
	if (p99_100k >= 0)
		fb_target("busy host: freshness p99 at 100k writes/s, worst",
			  p99_100k, "ms", p99_100k < 10.0, "target < 10 ms");
}
