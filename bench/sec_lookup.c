/*
 * sec_lookup.c - the classic workload: N files, each looked up R times,
 * round robin over all files per round (as a log shipper polls), through
 * the cache and through the system calls it replaces:
 *
 *   fsc_lookup  fsc_lookup() hit (no system call)
 *   lookup_many fsc_lookup_many() hits, in batches of MANY_BATCH paths
 *               (a poll list: the call overlaps the lookups' memory loads)
 *   fsc_stat    fsc_stat() hit (the API most callers use)
 *   stat        stat(2) on the same paths
 *   statx       statx(2), STATX_BASIC_STATS
 *   fstat       fstat(2) on descriptors opened beforehand (as many as
 *               RLIMIT_NOFILE's hard limit allows: the first nfds files)
 *   io_uring    IORING_OP_STATX: a batch of up to --uring-depth SQEs
 *               submitted at once, all completions reaped, per file cost
 *
 * Each round runs every method once over all its files, in a new random
 * order each round (seeded; the seed is in the JSON), so frequency
 * scaling, cache state and neighbours affect every method alike and no
 * method always follows the one that warmed the caches for it.  A pass
 * therefore starts with the caches holding whatever the previous method
 * touched, much as a log shipper's poll follows other work.  Three extra
 * rows, "-warm", run fsc_lookup, stat and fstat twice in a row and time
 * only the second pass: the same work with its own data as hot as it gets,
 * to show how much of each cost is cache misses.  They are not used for
 * the targets.
 *
 * Per method: median, min and p90 of the per-round wall ns/lookup, and
 * the CPU ns/lookup of the whole process (io_uring runs statx in kernel
 * worker threads, which it counts).  Before timing, every file must hit
 * and equal stat(2).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef FSC_BENCH_URING
#include <liburing.h>
#endif

enum lm {
	LM_LOOKUP,
	LM_MANY,
	LM_FSC_STAT,
	LM_STAT,
	LM_STATX,
	LM_FSTAT,
	LM_URING,
	LM_LOOKUP_WARM,
	LM_MANY_WARM,
	LM_STAT_WARM,
	LM_FSTAT_WARM,
	LM_COUNT
};

static const char *const lm_name[LM_COUNT] = {
	"fsc_lookup", "lookup_many",     "fsc_stat",
	"stat",       "statx",           "fstat",
	"io_uring",   "fsc_lookup-warm", "lookup_many-warm",
	"stat-warm",  "fstat-warm",
};
static const char *const lm_what[LM_COUNT] = {
	"fsc_lookup() hit, no system call",
	"fsc_lookup_many() hits, batches of 256",
	"fsc_stat() hit",
	"stat(2)",
	"statx(2) STATX_BASIC_STATS",
	"fstat(2) on open descriptors",
	"IORING_OP_STATX, batched",
	"fsc_lookup(), 2nd of two passes in a row",
	"fsc_lookup_many(), 2nd of two passes in a row",
	"stat(2), 2nd of two passes in a row",
	"fstat(2), 2nd of two passes in a row",
};
/* What a method runs: the warm rows run their base method (twice). */
static const int lm_base[LM_COUNT] = {
	LM_LOOKUP, LM_MANY,   LM_FSC_STAT, LM_STAT, LM_STATX, LM_FSTAT,
	LM_URING,  LM_LOOKUP, LM_MANY,     LM_STAT, LM_FSTAT,
};

#define MANY_BATCH 256 /* paths per fsc_lookup_many() call */

#define ORDER_SEED 0x5eed0f5cu

struct lk {
	unsigned n, nfds, rounds, depth;
	char *const *paths;
	int *fds;
	fsc_handle *h;
	int uring_ok;
	char uring_note[160];
#ifdef FSC_BENCH_URING
	struct io_uring ring;
	struct statx *sx;
#endif
	double *wall[LM_COUNT], *cpu[LM_COUNT]; /* [round] ns per lookup */
	uint64_t unexpected[LM_COUNT];
};

/* ---- setup -------------------------------------------------------------------- */

static int same_as_stat(const struct fsc_stat *o, const struct stat *st)
{
	return o->exists && o->dev == (uint64_t)st->st_dev &&
	       o->ino == (uint64_t)st->st_ino && o->mode == st->st_mode &&
	       o->nlink == (uint64_t)st->st_nlink && o->uid == st->st_uid &&
	       o->gid == st->st_gid && o->size == (int64_t)st->st_size &&
	       o->mtime_sec == (int64_t)st->st_mtim.tv_sec &&
	       o->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
	       o->ctime_sec == (int64_t)st->st_ctim.tv_sec &&
	       o->ctime_nsec == (uint32_t)st->st_ctim.tv_nsec;
}

/* Every file hits, through both calls, and equals stat(2). */
static void verify_hits(struct lk *k)
{
	for (unsigned i = 0; i < k->n; i++) {
		struct fsc_stat o;
		struct stat st;
		int rc = fsc_lookup(k->h, k->paths[i], &o);
		if (rc != 0)
			fb_die("%s: watched and synced, but fsc_lookup() "
			       "answered %s",
			       k->paths[i], fsc_strerror(rc));
		if (stat(k->paths[i], &st) < 0)
			fb_die("stat %s: %s", k->paths[i], strerror(errno));
		if (!same_as_stat(&o, &st))
			fb_die("%s: the cached answer differs from stat(2)",
			       k->paths[i]);
		if (fsc_stat(k->h, k->paths[i], &o) != 0 ||
		    o.source != FSC_SOURCE_CACHE || !same_as_stat(&o, &st))
			fb_die("%s: fsc_stat() did not answer from the cache",
			       k->paths[i]);
	}
}

static void open_fds(struct lk *k)
{
	unsigned room = fb_raise_nofile(256);
	k->nfds = k->n < room ? k->n : room;
	k->fds = fb_calloc(k->nfds, sizeof(int));
	for (unsigned i = 0; i < k->nfds; i++) {
		k->fds[i] = open(k->paths[i], O_RDONLY | O_CLOEXEC);
		if (k->fds[i] < 0)
			fb_die("open %s: %s", k->paths[i], strerror(errno));
	}
}

static void uring_setup(struct lk *k)
{
#ifdef FSC_BENCH_URING
	int r = io_uring_queue_init(k->depth, &k->ring, 0);
	if (r < 0) {
		snprintf(k->uring_note, sizeof(k->uring_note),
			 "skipped: io_uring_queue_init: %s", strerror(-r));
		return;
	}
	struct io_uring_probe *p = io_uring_get_probe_ring(&k->ring);
	int ok = p && io_uring_opcode_supported(p, IORING_OP_STATX);
	io_uring_free_probe(p);
	if (!ok) {
		io_uring_queue_exit(&k->ring);
		snprintf(k->uring_note, sizeof(k->uring_note),
			 "skipped: the kernel lacks IORING_OP_STATX");
		return;
	}
	k->sx = fb_calloc(k->depth, sizeof(struct statx));
	k->uring_ok = 1;
	snprintf(k->uring_note, sizeof(k->uring_note), "batches of %u SQEs",
		 k->depth);
#else
	snprintf(k->uring_note, sizeof(k->uring_note),
		 "skipped: built without liburing");
#endif
}

static void uring_teardown(struct lk *k)
{
#ifdef FSC_BENCH_URING
	if (k->uring_ok)
		io_uring_queue_exit(&k->ring);
	free(k->sx);
#else
	(void)k;
#endif
}

/* ---- one pass of one method over all its files ---------------------------------------- */

static uint64_t pass_lookup(struct lk *k, uint64_t *bad)
{
	struct fsc_stat o;
	uint64_t acc = 0;
	for (unsigned i = 0; i < k->n; i++) {
		*bad += fsc_lookup(k->h, k->paths[i], &o) != 0;
		acc += (uint64_t)o.size;
	}
	return acc;
}

static uint64_t pass_many(struct lk *k, uint64_t *bad)
{
	struct fsc_stat o[MANY_BATCH];
	int r[MANY_BATCH];
	uint64_t acc = 0;
	for (unsigned base = 0; base < k->n; base += MANY_BATCH) {
		unsigned m = k->n - base < MANY_BATCH ? k->n - base
						      : MANY_BATCH;
		fsc_lookup_many(k->h, (const char *const *)k->paths + base, m,
				o, r);
		for (unsigned j = 0; j < m; j++) {
			*bad += r[j] != 0;
			acc += (uint64_t)o[j].size;
		}
	}
	return acc;
}

static uint64_t pass_fsc_stat(struct lk *k, uint64_t *bad)
{
	struct fsc_stat o;
	uint64_t acc = 0;
	for (unsigned i = 0; i < k->n; i++) {
		*bad += fsc_stat(k->h, k->paths[i], &o) != 0 ||
			o.source != FSC_SOURCE_CACHE;
		acc += (uint64_t)o.size;
	}
	return acc;
}

static uint64_t pass_stat(struct lk *k, uint64_t *bad)
{
	struct stat st;
	uint64_t acc = 0;
	for (unsigned i = 0; i < k->n; i++) {
		*bad += stat(k->paths[i], &st) != 0;
		acc += (uint64_t)st.st_size;
	}
	return acc;
}

static uint64_t pass_statx(struct lk *k, uint64_t *bad)
{
	struct statx sx;
	uint64_t acc = 0;
	for (unsigned i = 0; i < k->n; i++) {
		*bad += statx(AT_FDCWD, k->paths[i], 0, STATX_BASIC_STATS,
			      &sx) != 0;
		acc += sx.stx_size;
	}
	return acc;
}

static uint64_t pass_fstat(struct lk *k, uint64_t *bad)
{
	struct stat st;
	uint64_t acc = 0;
	for (unsigned i = 0; i < k->nfds; i++) {
		*bad += fstat(k->fds[i], &st) != 0;
		acc += (uint64_t)st.st_size;
	}
	return acc;
}

#ifdef FSC_BENCH_URING
/* Reap `want` completions of the batch in flight. */
static uint64_t uring_reap(struct lk *k, unsigned want, uint64_t *bad)
{
	uint64_t acc = 0;
	unsigned seen = 0;
	while (seen < want) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&k->ring, &cqe);
		if (r < 0)
			fb_die("io_uring_wait_cqe: %s", strerror(-r));
		unsigned head, got = 0;
		io_uring_for_each_cqe(&k->ring, head, cqe) {
			uint64_t j = cqe->user_data;
			if (cqe->res < 0 || j >= k->depth)
				(*bad)++;
			else
				acc += k->sx[j].stx_size;
			got++;
		}
		io_uring_cq_advance(&k->ring, got);
		seen += got;
	}
	return acc;
}

static uint64_t pass_uring(struct lk *k, uint64_t *bad)
{
	uint64_t acc = 0;
	for (unsigned base = 0; base < k->n; base += k->depth) {
		unsigned m = k->n - base < k->depth ? k->n - base : k->depth;
		for (unsigned j = 0; j < m; j++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&k->ring);
			if (!sqe)
				fb_die("io_uring: no free SQE");
			io_uring_prep_statx(sqe, AT_FDCWD, k->paths[base + j],
					    0, STATX_BASIC_STATS, &k->sx[j]);
			io_uring_sqe_set_data64(sqe, j);
		}
		int r = io_uring_submit_and_wait(&k->ring, m);
		if (r < 0)
			fb_die("io_uring_submit_and_wait: %s", strerror(-r));
		acc += uring_reap(k, m, bad);
	}
	return acc;
}
#endif

static int method_on(const struct lk *k, int m)
{
	m = lm_base[m];
	return (m != LM_URING || k->uring_ok) && (m != LM_FSTAT || k->nfds);
}

/* Run method m once over its files: *wall and *cpu get ns per lookup. */
static void run_pass(struct lk *k, int m, double *wall, double *cpu)
{
	uint64_t acc = 0, *bad = &k->unexpected[m];
	int base = lm_base[m];
	unsigned n = base == LM_FSTAT ? k->nfds : k->n;
	if (base != m) { /* warm: the same pass right before, untimed */
		double w, c;
		run_pass(k, base, &w, &c);
	}
	uint64_t c0 = fb_cpu_ns(), t0 = fb_now_ns();
	switch (base) {
	case LM_LOOKUP:
		acc = pass_lookup(k, bad);
		break;
	case LM_MANY:
		acc = pass_many(k, bad);
		break;
	case LM_FSC_STAT:
		acc = pass_fsc_stat(k, bad);
		break;
	case LM_STAT:
		acc = pass_stat(k, bad);
		break;
	case LM_STATX:
		acc = pass_statx(k, bad);
		break;
	case LM_FSTAT:
		acc = pass_fstat(k, bad);
		break;
#ifdef FSC_BENCH_URING
	case LM_URING:
		acc = pass_uring(k, bad);
		break;
#endif
	default:
		break;
	}
	uint64_t t1 = fb_now_ns(), c1 = fb_cpu_ns();
	fb_consume(acc);
	*wall = (double)(t1 - t0) / n;
	*cpu = (double)(c1 - c0) / n;
}

static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13; /* xorshift32: only an order, not a secret */
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A random permutation of the methods (Fisher-Yates). */
static void shuffle(int *order, uint32_t *seed)
{
	for (int i = 0; i < LM_COUNT; i++)
		order[i] = i;
	for (int i = LM_COUNT - 1; i > 0; i--) {
		int j = (int)(next_random(seed) % (uint32_t)(i + 1));
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

static void measure(struct lk *k)
{
	double w, c;
	uint32_t seed = ORDER_SEED;
	int order[LM_COUNT];
	for (int m = 0; m < LM_COUNT; m++) {
		k->wall[m] = fb_calloc(k->rounds, sizeof(double));
		k->cpu[m] = fb_calloc(k->rounds, sizeof(double));
		if (method_on(k, m) && lm_base[m] == m) /* fault pages in */
			run_pass(k, m, &w, &c);
	}
	memset(k->unexpected, 0, sizeof(k->unexpected));
	for (unsigned r = 0; r < k->rounds; r++) {
		shuffle(order, &seed);
		for (int j = 0; j < LM_COUNT; j++)
			if (method_on(k, order[j]))
				run_pass(k, order[j], &k->wall[order[j]][r],
					 &k->cpu[order[j]][r]);
	}
}

/* ---- report ---------------------------------------------------------------------------- */

static json_t *report(struct lk *k, double *stat_x, double *fstat_x)
{
	struct fb_summary s[LM_COUNT], c[LM_COUNT];
	for (int m = 0; m < LM_COUNT; m++) {
		s[m] = fb_summarize(k->wall[m],
				    method_on(k, m) ? k->rounds : 0);
		c[m] = fb_summarize(k->cpu[m], method_on(k, m) ? k->rounds : 0);
	}
	double hit = s[LM_LOOKUP].median > 0 ? s[LM_LOOKUP].median : 1e-9;
	printf("%u files x %u rounds (%" PRIu64 " lookups per method), methods "
	       "interleaved; fstat over %u open fds%s\n",
	       k->n, k->rounds, (uint64_t)k->n * k->rounds, k->nfds,
	       k->nfds < k->n ? " (RLIMIT_NOFILE hard limit)" : "");
	printf("%-15s %9s %9s %9s %10s %9s  %s\n", "method", "ns/op", "min",
	       "p90", "cpu ns/op", "x hit", "what");
	json_t *methods = json_object();
	for (int m = 0; m < LM_COUNT; m++) {
		if (!method_on(k, m)) {
			printf("%-15s %9s %9s %9s %10s %9s  %s (%s)\n",
			       lm_name[m], "-", "-", "-", "-", "-", lm_what[m],
			       m == LM_URING ? k->uring_note : "no fds");
			json_object_set_new(
				methods, lm_name[m],
				json_pack("{s:b, s:s}", "measured", 0, "note",
					  m == LM_URING ? k->uring_note
							: "no fds"));
			continue;
		}
		printf("%-15s %9.1f %9.1f %9.1f %10.1f %9.2f  %s%s%s\n",
		       lm_name[m], s[m].median, s[m].min, s[m].p90, c[m].median,
		       s[m].median / hit, lm_what[m], m == LM_URING ? ", " : "",
		       m == LM_URING ? k->uring_note : "");
		json_t *j = json_pack("{s:b, s:o, s:f, s:f, s:I, s:s}",
				      "measured", 1, "wall_ns",
				      fb_summary_json(&s[m]), "cpu_ns_median",
				      c[m].median, "ratio_to_hit",
				      s[m].median / hit, "unexpected_answers",
				      (json_int_t)k->unexpected[m], "what",
				      lm_what[m]);
		if (lm_base[m] == LM_FSTAT)
			json_object_set_new(j, "files", json_integer(k->nfds));
		if (m == LM_URING)
			json_object_set_new(j, "note",
					    json_string(k->uring_note));
		json_object_set_new(methods, lm_name[m], j);
	}
	*stat_x = s[LM_STAT].median / hit;
	*fstat_x = method_on(k, LM_FSTAT) ? s[LM_FSTAT].median / hit : 0;
	printf("hit is %.1fx faster than stat(), %.1fx than statx(), %.1fx "
	       "than fstat()",
	       *stat_x, s[LM_STATX].median / hit, *fstat_x);
	if (k->uring_ok)
		printf(", %.1fx than io_uring statx", s[LM_URING].median / hit);
	printf("\nin fsc_lookup_many() %.1f ns, %.1fx faster than stat()",
	       s[LM_MANY].median, s[LM_STAT].median / s[LM_MANY].median);
	double warm = s[LM_LOOKUP_WARM].median;
	printf("\nwarm (2nd pass in a row): hit %.1f ns, %.1fx faster than "
	       "stat()",
	       warm, s[LM_STAT_WARM].median / warm);
	if (method_on(k, LM_FSTAT))
		printf(", %.1fx than fstat()", s[LM_FSTAT_WARM].median / warm);
	printf("\n");
	for (int m = 0; m < LM_COUNT; m++)
		if (k->unexpected[m])
			printf("warning: %s: %" PRIu64
			       " timed answers were not "
			       "hits/successes\n",
			       lm_name[m], k->unexpected[m]);
	return json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:o}", "files",
			 (json_int_t)k->n, "rounds", (json_int_t)k->rounds,
			 "fds", (json_int_t)k->nfds, "order_seed",
			 (json_int_t)ORDER_SEED, "stat_over_hit", *stat_x,
			 "fstat_over_hit", *fstat_x, "methods", methods);
}

static void lookup_one(unsigned n, json_t *arr)
{
	struct lk k = { .n = n,
			.rounds = FB.o.rounds,
			.paths = FB.pool,
			.depth = FB.o.uring_depth };
	struct fb_writer w;
	fb_title("Classic workload: %u files x %u lookups each", n,
		 FB.o.rounds);
	fb_writer_start(&w, FB.pool, n, n);
	k.h = w.h;
	verify_hits(&k);
	open_fds(&k);
	uring_setup(&k);
	measure(&k);
	double stat_x, fstat_x;
	json_t *j = report(&k, &stat_x, &fstat_x);
	json_array_append_new(arr, j);

	char detail[160];
	snprintf(detail, sizeof(detail),
		 "%u files; fsc_lookup() hit vs "
		 "stat(2), median ns per lookup",
		 n);
	fb_target("hit >= 25x faster than stat()", stat_x, "x", stat_x >= 25,
		  detail);
	snprintf(detail, sizeof(detail),
		 "%u files; fsc_lookup() hit vs "
		 "fstat(2) on %u open fds",
		 n, k.nfds);
	if (k.nfds)
		fb_target("hit >= 15x faster than fstat()", fstat_x, "x",
			  fstat_x >= 15, detail);

	uring_teardown(&k);
	for (unsigned i = 0; i < k.nfds; i++)
		close(k.fds[i]);
	free(k.fds);
	for (int m = 0; m < LM_COUNT; m++) {
		free(k.wall[m]);
		free(k.cpu[m]);
	}
	fb_writer_stop(&w);
}

void fb_run_lookup(void)
{
	json_t *arr = json_array();
	lookup_one(FB.o.files, arr);
	if (FB.o.big_files)
		lookup_one(FB.o.big_files, arr);
	json_object_set_new(FB.root, "lookup", arr);
}
