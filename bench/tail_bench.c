/*
 * tail_bench.c - fsc-tail-bench: the log-tail agent of examples/logtail,
 * its poll with the cache against the same poll with stat(), side by side.
 *
 *   fsc-tail-bench [--files N] [--changed K] [--rounds R] [--json FILE]
 *
 * N files (spread over --dirs directories) are followed by two agents in
 * this one process: one deciding with fsc_lookup_many() (cache mode), one
 * with stat() (--stat mode); the code is the same (tail.c, compiled in
 * here), only the source of the answers differs.  Each round is an
 * *active* step (a line appended to K of the files, then the writer's sync
 * barrier, then one poll of each agent) and an *idle* step (sync, one poll
 * of each; nothing changed).  The two agents poll in turn, first one then
 * the other, alternating every round, so the shared, noisy machine weighs
 * on both alike.  Per poll: CPU time of this process (CLOCK_PROCESS_
 * CPUTIME_ID), wall time, and the system calls the agent made on files
 * (counted by tail.c: stat, open, fstat, read, lseek, close, watch
 * requests; a cache hit makes none).  The writer's own CPU time over the
 * rounds is read from /proc, since in cache mode it does the stat()s of
 * the files that changed.
 *
 * Every line each agent prints is checked (the right file, the round's
 * text, exactly once): the bench exits non-zero when an agent misses,
 * repeats or invents a line, never because of a timing.
 */
#include "bench.h"

#include "tail.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_FILES 2000u
#define DEFAULT_ROUNDS 200u
#define DEFAULT_DIRS 20u
#define MAXN 1000000u

enum {
	CACHE,
	STAT,
	MODES
};

struct opts {
	unsigned files, changed, rounds, dirs;
	const char *json;
	const char *base;
};

/* What a poll printed, checked against what the round appended. */
struct check {
	const struct tail *t;
	const int *want;     /* per file: round of its pending line, or -1 */
	unsigned long lines; /* printed in this poll */
	const char *mode;
};

/* Per poll samples of one mode and one kind of step. */
struct series {
	double *cpu_us, *wall_us, *sys;
	unsigned n;
};

/* The writer's CPU per step (both modes' polls included: they make no
 * request to it), active and idle. */
struct wseries {
	double *us;
	unsigned n;
};

static struct opts O;

static void usage(void)
{
	printf("Usage: fsc-tail-bench [OPTION]...\n"
	       "The log-tail agent (examples/logtail) polling N files with the cache and\n"
	       "with stat(), side by side in one run; per poll CPU, wall time, syscalls.\n"
	       "  --files N      files followed (default %u)\n"
	       "  --changed K    files appended to per active round (default 1%% of N)\n"
	       "  --rounds R     rounds, each one active and one idle poll per mode\n"
	       "                 (default %u)\n"
	       "  --dirs N       directories the files are spread over (default %u)\n"
	       "  --dir DIR      where to make the temporary tree (default $TMPDIR, /tmp)\n"
	       "  --json FILE    also write the results as JSON (\"-\": stdout)\n"
	       "The writer is $FSTATCACHED, else ../fstatcached next to this program,\n"
	       "else fstatcached on PATH.\n",
	       DEFAULT_FILES, DEFAULT_ROUNDS, DEFAULT_DIRS);
}

static void parse_args(int argc, char **argv)
{
	static const struct option options[] = {
		{ "files", required_argument, NULL, 'f' },
		{ "changed", required_argument, NULL, 'k' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "dirs", required_argument, NULL, 'd' },
		{ "dir", required_argument, NULL, 'D' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	O = (struct opts){ DEFAULT_FILES, 0,    DEFAULT_ROUNDS,
			   DEFAULT_DIRS,  NULL, NULL };
	int c;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			O.files = fb_parse_count("files", optarg, 1, MAXN);
			break;
		case 'k':
			O.changed = fb_parse_count("changed", optarg, 1, MAXN);
			break;
		case 'r':
			O.rounds = fb_parse_count("rounds", optarg, 1, MAXN);
			break;
		case 'd':
			O.dirs = fb_parse_count("dirs", optarg, 1, 1000);
			break;
		case 'D':
			O.base = optarg;
			break;
		case 'j':
			O.json = optarg;
			break;
		case 'h':
			usage();
			exit(0);
		default:
			fprintf(stderr, "Try 'fsc-tail-bench --help'.\n");
			exit(2);
		}
	}
	if (optind < argc)
		fb_die("unexpected argument '%s'", argv[optind]);
	if (!O.changed)
		O.changed = O.files >= 100 ? O.files / 100 : 1;
	if (O.changed > O.files)
		fb_die("--changed %u exceeds --files %u", O.changed, O.files);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the agents ------------------------------------------------------ */

/* The text appended to file i in round r. */
static int line_text(char *buf, size_t size, unsigned r, size_t i)
{
	return snprintf(buf, size, "round %u file %zu", r, i);
}

/* tail.c's emit: the line must be the one pending for that file. */
static void check_line(void *arg, const struct tail_file *f, const char *line,
		       size_t len)
{
	struct check *c = arg;
	size_t i = (size_t)(f - c->t->files);
	char want[64];
	int n = c->want[i] < 0 ? -1
			       : line_text(want, sizeof(want),
					   (unsigned)c->want[i], i);
	if (n < 0 || (size_t)n != len || memcmp(want, line, len))
		fb_die("%s mode printed '%.*s' for %s (expected %s)", c->mode,
		       (int)len, line, f->path, n < 0 ? "nothing" : want);
	c->lines++;
}

static void agent_init(struct tail *t, struct check *c, fsc_handle *h,
		       const int *want, const char *mode)
{
	tail_init(t, h);
	t->emit = check_line;
	t->emit_arg = c;
	t->prog = mode;
	*c = (struct check){ t, want, 0, mode };
	for (unsigned i = 0; i < FB.npool; i++)
		if (tail_add(t, FB.pool[i]) < 0)
			fb_die("out of memory");
}

static void append_line(size_t i, unsigned r)
{
	char buf[64];
	int n = line_text(buf, sizeof(buf) - 1, r, i);
	buf[n++] = '\n';
	FILE *f = fopen(FB.pool[i], "ae");
	if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n || fclose(f))
		fb_die("append to %s: %s", FB.pool[i], strerror(errno));
}

/* One timed poll; dies unless it printed exactly `lines` lines. */
static void timed_poll(struct tail *t, struct check *c, struct series *s,
		       unsigned long lines)
{
	uint64_t sys0 = t->counts.syscalls;
	c->lines = 0;
	uint64_t w0 = fb_now_ns(), c0 = cpu_ns();
	tail_poll(t);
	uint64_t c1 = cpu_ns(), w1 = fb_now_ns();
	if (c->lines != lines)
		fb_die("%s mode printed %lu lines, expected %lu", c->mode,
		       c->lines, lines);
	s->cpu_us[s->n] = (double)(c1 - c0) / 1e3;
	s->wall_us[s->n] = (double)(w1 - w0) / 1e3;
	s->sys[s->n] = (double)(t->counts.syscalls - sys0);
	s->n++;
}

/* ---- results --------------------------------------------------------- */

static void series_alloc(struct series *s, unsigned n)
{
	s->cpu_us = fb_calloc(n, sizeof(double));
	s->wall_us = fb_calloc(n, sizeof(double));
	s->sys = fb_calloc(n, sizeof(double));
	s->n = 0;
}

static void series_free(struct series *s)
{
	free(s->cpu_us);
	free(s->wall_us);
	free(s->sys);
}

static void ratio_str(char *buf, size_t size, double num, double den)
{
	if (den > 0)
		snprintf(buf, size, "%.1f", num / den);
	else
		snprintf(buf, size, "%s", num > 0 ? "inf" : "-");
}

static json_t *print_row(const char *what, const double *cache,
			 const double *stat, unsigned n, const char *fmt)
{
	struct fb_summary a = fb_summarize(cache, n), b = fb_summarize(stat, n);
	char ca[32], sb[32], r[32];
	snprintf(ca, sizeof(ca), fmt, a.median);
	snprintf(sb, sizeof(sb), fmt, b.median);
	ratio_str(r, sizeof(r), b.median, a.median);
	printf("  %-22s %12s %12s %12s   (p90 ", what, ca, sb, r);
	printf(fmt, a.p90);
	printf(" / ");
	printf(fmt, b.p90);
	printf(")\n");
	return json_pack("{s:o, s:o, s:f}", "cache", fb_summary_json(&a),
			 "stat", fb_summary_json(&b), "ratio_stat_to_cache",
			 a.median > 0 ? b.median / a.median : 0.0);
}

static json_t *print_step(const char *title, struct series *s)
{
	printf("%s\n", title);
	json_t *j = json_object();
	unsigned n = s[CACHE].n;
	json_object_set_new(j, "cpu_us",
			    print_row("CPU us per poll", s[CACHE].cpu_us,
				      s[STAT].cpu_us, n, "%.1f"));
	json_object_set_new(j, "wall_us",
			    print_row("wall us per poll", s[CACHE].wall_us,
				      s[STAT].wall_us, n, "%.1f"));
	json_object_set_new(j, "syscalls",
			    print_row("syscalls per poll", s[CACHE].sys,
				      s[STAT].sys, n, "%.0f"));
	return j;
}

static void write_json(json_t *root)
{
	if (!O.json)
		return;
	int flags = JSON_INDENT(2) | JSON_REAL_PRECISION(6);
	int r = strcmp(O.json, "-") ? json_dump_file(root, O.json, flags)
				    : json_dumpf(root, stdout, flags);
	if (r < 0)
		fb_die("%s: cannot write the JSON results", O.json);
}

/* ---- the run --------------------------------------------------------- */

struct run {
	struct fb_writer w;
	fsc_handle *h;
	int *want; /* per file: round of its pending line */
	struct tail t[MODES];
	struct check c[MODES];
	struct series active[MODES], idle[MODES];
	double *writer_active_us, *writer_idle_us; /* per round */
	uint64_t hits, fallbacks; /* cache mode, during the rounds */
	double secs;
};

/* Both agents follow every file; poll twice so the cache serves them. */
static void run_start(struct run *R)
{
	/* No watch list: the cache agent's first poll misses, and its watch
	 * requests make the writer watch the files, as in real use. */
	fb_writer_start(&R->w, NULL, 0, O.files + O.files / 2 + 64);
	int rc = fsc_open(&R->h, R->w.name, FSC_OPEN_ATTACHED);
	if (rc < 0)
		fb_die("fsc_open %s: %s", R->w.name, fsc_strerror(rc));
	R->want = fb_calloc(O.files, sizeof(int));
	for (unsigned i = 0; i < O.files; i++)
		R->want[i] = -1;
	agent_init(&R->t[CACHE], &R->c[CACHE], R->h, R->want, "cache");
	agent_init(&R->t[STAT], &R->c[STAT], NULL, R->want, "stat");
	for (int m = 0; m < MODES; m++)
		tail_poll(&R->t[m]); /* open every file at its end */
	fb_writer_sync(&R->w);       /* the watch requests are served */
	for (int m = 0; m < MODES; m++)
		tail_poll(&R->t[m]);
	for (int m = 0; m < MODES; m++) {
		series_alloc(&R->active[m], O.rounds);
		series_alloc(&R->idle[m], O.rounds);
	}
	R->writer_active_us = fb_calloc(O.rounds, sizeof(double));
	R->writer_idle_us = fb_calloc(O.rounds, sizeof(double));
}

/*
 * Sync, then one timed poll per agent, in an order that alternates; the
 * writer's CPU time since w0 (its reading before the step's changes).
 */
static void step(struct run *R, unsigned r, struct series *s,
		 unsigned long lines, uint64_t w0, double *writer_us)
{
	fb_writer_sync(&R->w);
	for (int j = 0; j < MODES; j++) {
		int m = (int)((r + (unsigned)j) % MODES);
		timed_poll(&R->t[m], &R->c[m], &s[m], lines);
	}
	*writer_us = (double)(fb_sched_cpu_ns(R->w.pid) - w0) / 1e3;
}

static void run_rounds(struct run *R)
{
	uint64_t hits0 = R->t[CACHE].counts.hits;
	uint64_t stats0 = R->t[CACHE].counts.stats;
	uint64_t t0 = fb_now_ns();
	for (unsigned r = 0; r < O.rounds; r++) {
		/* Active: K files get a line (a different K every round);
		 * the writer's time includes handling their events. */
		uint64_t w0 = fb_sched_cpu_ns(R->w.pid);
		for (unsigned k = 0; k < O.changed; k++) {
			size_t i = (r + (size_t)k * (O.files / O.changed)) %
				   O.files;
			R->want[i] = (int)r;
			append_line(i, r);
		}
		step(R, r, R->active, O.changed, w0, &R->writer_active_us[r]);
		for (unsigned i = 0; i < O.files; i++)
			R->want[i] = -1;
		/* Idle: nothing changed; the same barrier and polls. */
		w0 = fb_sched_cpu_ns(R->w.pid);
		step(R, r + 1, R->idle, 0, w0, &R->writer_idle_us[r]);
	}
	R->secs = (double)(fb_now_ns() - t0) / 1e9;
	R->hits = R->t[CACHE].counts.hits - hits0;
	R->fallbacks = R->t[CACHE].counts.stats - stats0;
}

static json_t *report(struct run *R)
{
	printf("fsc-tail-bench %s: %u files in %u dirs, %u appended to per "
	       "active round, %u rounds\n",
	       FSC_VERSION_STRING, O.files, FB.o.dirs, O.changed, O.rounds);
	printf("tree in %s; writer %s; %ld CPUs\n", FB.dir, FB.writer_bin,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("(median over the rounds; syscalls = system calls the agent "
	       "made on files; a cache hit makes none)\n");
	printf("  %-22s %12s %12s %12s\n", "", "cache mode", "stat mode",
	       "stat/cache");
	json_t *root = json_object();
	json_object_set_new(
		root, "active",
		print_step("active poll (a line appended to each changed file):",
			   R->active));
	json_object_set_new(root, "idle",
			    print_step("idle poll (nothing changed):",
				       R->idle));
	struct fb_summary wa = fb_summarize(R->writer_active_us, O.rounds);
	struct fb_summary wi = fb_summarize(R->writer_idle_us, O.rounds);
	printf("writer CPU per step (median; sync included): active %.1f us, "
	       "idle %.1f us\n",
	       wa.median, wi.median);
	/* The cache is not free: the writer stat()s what changed.  Charge
	 * that (active minus idle: the sync costs both) to the cache mode. */
	struct fb_summary ca = fb_summarize(R->active[CACHE].cpu_us, O.rounds);
	struct fb_summary sa = fb_summarize(R->active[STAT].cpu_us, O.rounds);
	double events = wa.median > wi.median ? wa.median - wi.median : 0;
	char ratio[32];
	ratio_str(ratio, sizeof(ratio), sa.median, ca.median + events);
	printf("active poll, cache mode + the writer's work on the changes: "
	       "%.1f us CPU (stat/that %s)\n",
	       ca.median + events, ratio);
	/* Fallbacks after the sync would mean the writer does not serve
	 * every file (a full table, an unwatchable directory): shown, since
	 * the cache-mode figures then include stat() calls. */
	printf("cache mode: %llu hits, %llu stat() fallbacks during the "
	       "rounds; %llu lines checked per mode; %.1f s\n",
	       (unsigned long long)R->hits, (unsigned long long)R->fallbacks,
	       (unsigned long long)R->t[CACHE].counts.lines, R->secs);
	json_object_set_new(
		root, "options",
		json_pack("{s:I, s:I, s:I, s:I}", "files", (json_int_t)O.files,
			  "changed", (json_int_t)O.changed, "rounds",
			  (json_int_t)O.rounds, "dirs", (json_int_t)FB.o.dirs));
	json_object_set_new(root, "writer_cpu_us",
			    json_pack("{s:o, s:o}", "active",
				      fb_summary_json(&wa), "idle",
				      fb_summary_json(&wi)));
	json_object_set_new(root, "active_cache_plus_writer_cpu_us",
			    json_real(ca.median + events));
	json_object_set_new(root, "cache_hits",
			    json_integer((json_int_t)R->hits));
	json_object_set_new(root, "cache_fallbacks",
			    json_integer((json_int_t)R->fallbacks));
	json_object_set_new(root, "seconds", json_real(R->secs));
	return root;
}

static void run_stop(struct run *R)
{
	for (int m = 0; m < MODES; m++) {
		series_free(&R->active[m]);
		series_free(&R->idle[m]);
		tail_free(&R->t[m]);
	}
	free(R->writer_active_us);
	free(R->writer_idle_us);
	free(R->want);
	fsc_close(R->h);
	fb_writer_stop(&R->w);
}

int main(int argc, char **argv)
{
	FB.main_pid = getpid();
	parse_args(argc, argv);
	FB.writer_bin = fb_find_writer();
	FB.o.dirs = O.dirs < O.files ? O.dirs : O.files;
	FB.o.base = O.base;
	atexit(fb_cleanup);
	/* Each agent keeps every file open, as tail -F does. */
	unsigned fds = fb_raise_nofile(64);
	if (fds / 2 < O.files)
		fb_die("%u files need %u descriptors (two agents); "
		       "RLIMIT_NOFILE allows %u",
		       O.files, 2 * O.files, fds);
	fb_pool_create(O.files, 0, 0);

	static struct run R;
	run_start(&R);
	run_rounds(&R);
	if (R.t[CACHE].counts.lines != R.t[STAT].counts.lines)
		fb_die("the two modes printed different numbers of lines");
	json_t *root = report(&R);
	write_json(root);
	json_decref(root);
	run_stop(&R);
	return 0;
}
