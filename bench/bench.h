/*
 * bench.h - what the parts of fsc-bench share: options, the file pool, a
 * real fstatcached to measure against, child processes, /proc readings,
 * statistics and the results (printed table + JSON).
 *
 * fsc-bench measures every figure side by side in one run: the machine it
 * runs on is assumed shared and noisy, so each section reports ratios to a
 * baseline measured in the same run (stat(2), a pipe wake-up, ...) beside
 * the absolute numbers.  It never judges timings: it exits non-zero only
 * when the cache answers wrongly or a process misbehaves.
 */
#ifndef FSC_BENCH_H
#define FSC_BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <fstatcache/admin.h>

/* Hang guards of the writer's start and sync, not timing assumptions. */
#define READY_TIMEOUT_MS 300000
#define SYNC_TIMEOUT_MS 300000

struct fb_opts {
	unsigned files;       /* the classic workload: files ... */
	unsigned rounds;      /* ... each looked up this many times */
	unsigned big_files;   /* the large version (0: skipped) */
	unsigned dirs;        /* the pool is spread over this many dirs */
	unsigned key_len;     /* pool paths padded to this length (0: not) */
	unsigned trials;      /* freshness trials per phase */
	unsigned load_files;  /* files the load process appends to */
	unsigned uring_depth; /* statx SQEs per io_uring submission */
	unsigned repeats;     /* cold builds per size */
	double window_s;      /* throughput and parallel-reader windows */
	double idle_s;        /* idle wake-up window */
	double gap_s;         /* pause between freshness trials */
	double phase_max_s;   /* longest freshness phase */
	unsigned feed_polls;  /* change feed: polls per method and K */
	double feed_window_s; /* change feed: idle CPU window */
	int quick;            /* smoke run: tiny windows and counts */
	const char *out;      /* JSON file, "-" for stdout */
	const char *base;     /* where the temporary tree goes */
	const char *only;     /* comma-separated sections, NULL for all */
	/* busy: the cells to run (comma-separated lists; NULL: all) */
	const char *busy_files, *busy_hot, *busy_writes, *busy_agents;
};

/* The run: options, files, results.  One instance, FB. */
struct fb {
	struct fb_opts o;
	pid_t main_pid;
	const char *writer_bin;
	const char *events; /* --events for every writer, NULL: its choice */
	char dir[PATH_MAX]; /* temporary tree, removed at exit */
	char **pool;        /* npool files, watched by the sections' writers */
	unsigned npool;
	char **fresh; /* nfresh files no writer was told about */
	unsigned nfresh;
	char **load;        /* the load process appends to these */
	char *target;       /* the file the freshness trials append to */
	unsigned writers;   /* writers started so far (unique names) */
	json_t *root;       /* the results */
	json_t *targets;    /* [{target, figure, holds, ...}] */
	pid_t children[64]; /* killed at exit if still running */
	unsigned nchildren;
};

extern struct fb FB;

/* ---- errors, memory, time ------------------------------------------------ */

__attribute__((noreturn, format(printf, 1, 2))) void fb_die(const char *fmt,
							    ...);
void *fb_calloc(size_t n, size_t size);
uint64_t fb_now_ns(void);
void fb_sleep_ns(uint64_t ns);
/* CPU time of this process (all threads) in ns. */
uint64_t fb_cpu_ns(void);
/* Prevent the compiler from dropping a computed value. */
void fb_consume(uint64_t v);

/* ---- the file pool (common.c) ------------------------------------------ */

/* Make the temporary tree: pool, fresh, load and target files. */
void fb_pool_create(unsigned npool, unsigned nfresh, unsigned nload);
void fb_pool_remove(void);
/* Remove a directory tree (files and directories below it, then it). */
void fb_tree_remove(const char *root);
/* Free n malloc'd strings and the array holding them (NULL: nothing). */
void fb_paths_free(char **v, unsigned n);
/* Kill the children still running and remove the tree (atexit). */
void fb_cleanup(void);
/* $FSTATCACHED, else fstatcached next to this program's build dir, else $PATH. */
const char *fb_find_writer(void);
/* --NAME's value as a count in [min, max], else fb_die() saying so. */
unsigned fb_parse_count(const char *name, const char *s, unsigned min,
			unsigned max);
/* Raise RLIMIT_NOFILE to the hard limit; returns the descriptors usable. */
unsigned fb_raise_nofile(unsigned reserve);

/* ---- a writer under test ------------------------------------------------- */

struct fb_writer {
	pid_t pid;
	char name[FSC_NAME_MAX + 1];
	char sock[108];
	char list[PATH_MAX];
	char log[PATH_MAX];      /* the writer's stderr */
	unsigned long log_lines; /* counted at stop */
	fsc_handle *h;           /* attached reader handle of the bench */
	uint64_t spawn_ns;       /* fork() */
	uint64_t ready_ns;       /* READY read from --ready-fd */
	uint64_t synced_ns;      /* first sync returned */
};

/*
 * Start fstatcached with `paths` in a --watch-list and --capacity
 * `capacity` (0: none, the writer's defaults, which grow the table), wait
 * for READY, attach a handle and sync.
 */
void fb_writer_start(struct fb_writer *w, char *const *paths, size_t n,
		     unsigned capacity);
void fb_writer_sync(struct fb_writer *w);
/* SIGTERM; the writer must exit 0.  Prints how much it logged. */
void fb_writer_stop(struct fb_writer *w);
/* The segment's header (counters, geometry). */
void fb_writer_header(struct fb_writer *w, struct fsc_header *hdr);

/* ---- /proc --------------------------------------------------------------- */

struct fb_proc {
	uint64_t hwm_kb, rss_kb, anon_kb, file_kb, shmem_kb;
	uint64_t ctxt_vol, ctxt_invol; /* summed over every thread */
	unsigned threads;
	uint64_t cpu_ns; /* utime + stime, clock-tick grain */
};

void fb_proc_read(pid_t pid, struct fb_proc *p);
/* CPU time of the live threads of pid in ns, exact (the schedstat of each
 * /proc/PID/task entry); 0 if unreadable. */
uint64_t fb_sched_cpu_ns(pid_t pid);

/* ---- child processes ------------------------------------------------------ */

/* Zeroed MAP_SHARED memory, inherited by children. */
void *fb_shared_alloc(size_t size);
void fb_shared_free(void *p, size_t size);
/* Children the bench kills at exit: note one, forget one (reaped). */
void fb_child_track(pid_t pid);
void fb_child_untrack(pid_t pid);
/* In a fresh child: die with the bench (PR_SET_PDEATHSIG). */
void fb_child_setup(void);
/* Fork a child running fn(arg), then _exit(0); killed if the bench dies. */
pid_t fb_spawn(void (*fn)(void *), void *arg);
/* Reap a child; dies unless it exited 0. */
void fb_reap(pid_t pid, const char *what);

/*
 * The load process: appends one byte at a time to paths[0..n), round
 * robin, as fast as it can (rate 0) or `rate` appends per second, from
 * `start` until `stop` is set.  Counts appends in `appends`.  With
 * `tick_ns`, a rate is kept in batches: every tick_ns, the appends due
 * since the start (a sleep per append cannot reach 100,000 a second).
 */
struct fb_load {
	char *const *paths;
	unsigned n;
	uint64_t rate;
	uint64_t tick_ns;
	uint32_t ready, start, stop; /* shared flags */
	uint64_t appends;
	uint64_t cpu_ns; /* the load process's CPU time */
};
/* `l` must live in fb_shared_alloc() memory. */
pid_t fb_load_start(struct fb_load *l);
void fb_load_stop(struct fb_load *l, pid_t pid);

/* ---- statistics ------------------------------------------------------------ */

struct fb_summary {
	double median, mean, min, max, p90, p99;
};

struct fb_summary fb_summarize(const double *v, size_t n);

/* ---- results ----------------------------------------------------------------- */

json_t *fb_summary_json(const struct fb_summary *s);
/* Record a target and whether it holds (printed at the end). */
void fb_target(const char *what, double figure, const char *unit, int holds,
	       const char *detail);
/* Print a section title. */
void fb_title(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when --only is unset or names `section`. */
int fb_section_on(const char *section);

/* ---- the sections ------------------------------------------------------------ */

void fb_run_build(void);      /* cold build, RSS, footprint, idle wake-ups */
void fb_run_lookup(void);     /* the classic workload, both sizes */
void fb_run_miss(void);       /* first-time misses against stat() */
void fb_run_parallel(void);   /* 1, 2, 4 readers while updates apply */
void fb_run_throughput(void); /* inotify events absorbed */
void fb_run_fresh(void);      /* change-to-visible latency */
void fb_run_busy(void);       /* agents' + writer's CPU under write load */
void fb_run_feed(void);       /* the change feed against polling, Watchman */
void fb_run_grow(void);       /* the table's growth under a 4 Hz poll */

#endif /* FSC_BENCH_H */
