/*
 * bench_lookup.c - a cache hit against the system calls it replaces.
 *
 * Creates N files in a temporary directory, starts a real fstatcached
 * watching them (--watch-list), waits for it (--ready-fd, then the sync
 * barrier), checks that every lookup hits and equals stat(2), and then
 * times, interleaved in the same run so that frequency scaling, cache
 * state and noisy neighbours affect every method alike:
 *
 *   lookup     fsc_lookup() hit                 (no system call)
 *   fsc_stat   fsc_stat() hit                   (the API most callers use)
 *   stat       stat(2) on the same paths
 *   statx      statx(2), STATX_BASIC_STATS
 *   fstat      fstat(2) on descriptors opened beforehand
 *   miss       fsc_stat() of paths the cache does not hold: lookup, then
 *              stat(2) (a handle opened with FSC_OPEN_NO_REQUESTS, so the
 *              writer is not asked to watch them and they stay misses)
 *
 * Each round runs every method once over all its paths, starting with a
 * different method each round; the report gives per method the median
 * (and minimum) of the per-round ns/operation, and the ratio of each to
 * the lookup hit.  --json FILE writes the same as JSON.
 *
 * Usage: bench_lookup [--files N] [--rounds R] [--json FILE] [--dir DIR]
 * The writer is $FSTATCACHED, else "fstatcached" from PATH.  The bench
 * spawns it itself (same protocol as tests/harness.c) so that nothing here
 * depends on running inside a Criterion test.  It never judges timings:
 * it fails only when the cache answers wrongly or the writer misbehaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstatcache/fstatcache.h>

#define READY_TIMEOUT_MS 60000
#define SYNC_TIMEOUT_MS 60000

enum method { M_LOOKUP, M_FSC_STAT, M_STAT, M_STATX, M_FSTAT, M_MISS, M_COUNT };

static const char *const method_names[M_COUNT] = {
	"lookup", "fsc_stat", "stat", "statx", "fstat", "miss",
};
static const char *const method_what[M_COUNT] = {
	"fsc_lookup() hit",
	"fsc_stat() hit",
	"stat(2)",
	"statx(2)",
	"fstat(2) on open fds",
	"fsc_stat() miss (lookup + stat, no request)",
};

struct bench {
	unsigned nfiles, rounds, nmiss, nfds;
	const char *json, *base;
	char dir[PATH_MAX];
	char name[FSC_NAME_MAX + 1];
	char sock[108];
	char list[PATH_MAX];
	char **paths;  /* cached: in the watch list */
	char **misses; /* never watched */
	int *fds;
	pid_t writer;
	fsc_handle *h, *h_noreq;
	double *ns[M_COUNT]; /* [round] */
	uint64_t nonhits;    /* answers during timing that were not hits */
};

static struct bench B;
static volatile uint64_t sink; /* keeps the timed work observable */

/* ---- cleanup and errors ------------------------------------------------------ */

static void remove_files(void)
{
	char p[PATH_MAX + 64];
	if (!B.dir[0])
		return;
	for (unsigned i = 0; B.paths && i < B.nfiles; i++)
		if (B.paths[i])
			unlink(B.paths[i]);
	for (unsigned i = 0; B.misses && i < B.nmiss; i++)
		if (B.misses[i])
			unlink(B.misses[i]);
	snprintf(p, sizeof(p), "%s/w", B.dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/m", B.dir);
	rmdir(p);
	if (B.list[0])
		unlink(B.list);
	unlink(B.sock); /* only if the writer left it */
	rmdir(B.dir);
	B.dir[0] = 0;
}

static void cleanup(void)
{
	if (B.writer > 0) {
		kill(B.writer, SIGKILL);
		waitpid(B.writer, NULL, 0);
		B.writer = 0;
	}
	remove_files();
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_lookup: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1); /* cleanup() runs from atexit */
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		die("out of memory");
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- setup ----------------------------------------------------------------- */

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "files", required_argument, NULL, 'f' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	B.nfiles = 10000;
	B.rounds = 100;
	int c;
	while ((c = getopt_long(argc, argv, "f:r:j:d:h", opts, NULL)) != -1) {
		char *end;
		unsigned long v;
		switch (c) {
		case 'f':
		case 'r':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v < 1 || v > 4000000 || *optarg == '-')
				die("--%s: expected a positive number, got '%s'",
				    c == 'f' ? "files" : "rounds", optarg);
			*(c == 'f' ? &B.nfiles : &B.rounds) = (unsigned)v;
			break;
		case 'j':
			B.json = optarg;
			break;
		case 'd':
			B.base = optarg;
			break;
		case 'h':
			printf("Usage: %s [--files N] [--rounds R] [--json FILE] "
			       "[--dir DIR]\n", argv[0]);
			exit(0);
		default:
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
}

static char *join(const char *dir, const char *fmt, unsigned i)
{
	char leaf[64], *p;
	snprintf(leaf, sizeof(leaf), fmt, i);
	if (asprintf(&p, "%s/%s", dir, leaf) < 0)
		die("out of memory");
	return p;
}

static void make_file(const char *path, unsigned i)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	char buf[64] = { 0 };
	int n = snprintf(buf, sizeof(buf), "file %u\n", i);
	if (write(fd, buf, (size_t)(n * (i % 4))) < 0) /* sizes vary */
		die("%s: %s", path, strerror(errno));
	close(fd);
}

static void make_files(void)
{
	const char *tmp = B.base ? B.base : getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(B.dir, sizeof(B.dir), "%s/fscbench-XXXXXX", tmp);
	if (!mkdtemp(B.dir)) {
		int e = errno;
		B.dir[0] = 0;
		die("mkdtemp in %s: %s", tmp, strerror(e));
	}
	char w[PATH_MAX + 8], m[PATH_MAX + 8];
	snprintf(w, sizeof(w), "%s/w", B.dir);
	snprintf(m, sizeof(m), "%s/m", B.dir);
	if (mkdir(w, 0700) < 0 || mkdir(m, 0700) < 0)
		die("mkdir in %s: %s", B.dir, strerror(errno));
	if ((size_t)snprintf(B.sock, sizeof(B.sock), "%s/sock", B.dir) >= 92)
		die("%s: too long for a socket path; use --dir", B.dir);
	if ((size_t)snprintf(B.list, sizeof(B.list), "%s/watch.list", B.dir) >=
	    sizeof(B.list))
		die("%s: path too long", B.dir);

	B.paths = xcalloc(B.nfiles, sizeof(char *));
	B.nmiss = B.nfiles < 1000 ? B.nfiles : 1000;
	B.misses = xcalloc(B.nmiss, sizeof(char *));
	FILE *f = fopen(B.list, "we");
	if (!f)
		die("%s: %s", B.list, strerror(errno));
	for (unsigned i = 0; i < B.nfiles; i++) {
		B.paths[i] = join(w, "f%07u.log", i);
		make_file(B.paths[i], i);
		fprintf(f, "%s\n", B.paths[i]);
	}
	if (fclose(f) != 0)
		die("%s: %s", B.list, strerror(errno));
	for (unsigned i = 0; i < B.nmiss; i++) {
		B.misses[i] = join(m, "m%07u.log", i);
		make_file(B.misses[i], i);
	}
}

static void start_writer(void)
{
	const char *bin = getenv("FSTATCACHED");
	if (!bin || !*bin)
		bin = "fstatcached";
	snprintf(B.name, sizeof(B.name), "bench-%ld", (long)getpid());
	uint64_t cap = 64;
	while (cap < 2 * (uint64_t)B.nfiles)
		cap *= 2;
	char capstr[32];
	snprintf(capstr, sizeof(capstr), "%" PRIu64, cap);

	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char fdstr[16];
		snprintf(fdstr, sizeof(fdstr), "%d", ready[1]);
		fcntl(ready[1], F_SETFD, 0); /* the writer inherits this one */
		execlp(bin, bin, "--name", B.name, "--socket", B.sock,
		       "--ready-fd", fdstr, "--capacity", capstr,
		       "--watch-list", B.list, "--quiet", (char *)NULL);
		fprintf(stderr, "bench_lookup: exec %s: %s\n", bin,
			strerror(errno));
		_exit(127);
	}
	B.writer = pid;
	close(ready[1]);

	char buf[16] = { 0 };
	size_t got = 0;
	uint64_t deadline = now_ns() + READY_TIMEOUT_MS * 1000000ull;
	while (got < 6) {
		uint64_t now = now_ns();
		if (now >= deadline)
			die("%s did not report ready in %d s", bin,
			    READY_TIMEOUT_MS / 1000);
		struct pollfd pf = { ready[0], POLLIN, 0 };
		int r = poll(&pf, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		ssize_t n = read(ready[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int st = 0;
			waitpid(pid, &st, 0);
			B.writer = 0;
			die("%s exited before it was ready (status %#x)", bin,
			    st);
		}
		got += (size_t)n;
	}
	close(ready[0]);
	if (strncmp(buf, "READY\n", 6) != 0)
		die("%s wrote '%s' on the ready pipe", bin, buf);
}

static void stop_writer(void)
{
	int st = 0;
	if (kill(B.writer, SIGTERM) < 0)
		die("kill writer: %s", strerror(errno));
	if (waitpid(B.writer, &st, 0) != B.writer)
		die("waitpid writer: %s", strerror(errno));
	B.writer = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("the writer did not exit 0 on SIGTERM (status %#x)", st);
}

static int same_as_stat(const struct fsc_stat *o, const struct stat *st)
{
	return o->exists && o->dev == (uint64_t)st->st_dev &&
	       o->ino == (uint64_t)st->st_ino && o->mode == st->st_mode &&
	       o->nlink == (uint64_t)st->st_nlink && o->uid == st->st_uid &&
	       o->gid == st->st_gid && o->rdev == (uint64_t)st->st_rdev &&
	       o->size == (int64_t)st->st_size &&
	       o->blocks == (int64_t)st->st_blocks &&
	       o->mtime_sec == (int64_t)st->st_mtim.tv_sec &&
	       o->mtime_nsec == (uint32_t)st->st_mtim.tv_nsec &&
	       o->ctime_sec == (int64_t)st->st_ctim.tv_sec &&
	       o->ctime_nsec == (uint32_t)st->st_ctim.tv_nsec;
}

/* Every watched path hits and equals stat(2); every other one misses. */
static void verify(void)
{
	char msg[256];
	int rc = fsc_open(&B.h, B.name, FSC_OPEN_ATTACHED);
	if (rc < 0)
		die("fsc_open %s: %s", B.name, fsc_strerror(rc));
	rc = fsc_open(&B.h_noreq, B.name,
		      FSC_OPEN_ATTACHED | FSC_OPEN_NO_REQUESTS);
	if (rc < 0)
		die("fsc_open %s: %s", B.name, fsc_strerror(rc));
	rc = fsc_control(B.h, FSC_OP_SYNC, NULL, SYNC_TIMEOUT_MS, msg,
			 sizeof(msg));
	if (rc < 0)
		die("sync: %s %s", fsc_strerror(rc), msg);
	for (unsigned i = 0; i < B.nfiles; i++) {
		struct fsc_stat o;
		struct stat st;
		rc = fsc_lookup(B.h, B.paths[i], &o);
		if (rc != 0)
			die("%s: watched (--watch-list) and synced, but the "
			    "lookup answered %s (%s)", B.paths[i],
			    rc == FSC_MISS ? "FSC_MISS" : rc == FSC_UNCACHED
				? "FSC_UNCACHED" : "an error",
			    fsc_strerror(rc));
		if (stat(B.paths[i], &st) < 0)
			die("stat %s: %s", B.paths[i], strerror(errno));
		if (!same_as_stat(&o, &st))
			die("%s: the cached answer differs from stat(2)",
			    B.paths[i]);
		if (fsc_stat(B.h, B.paths[i], &o) != 0 ||
		    o.source != FSC_SOURCE_CACHE || !same_as_stat(&o, &st))
			die("%s: fsc_stat() did not answer from the cache",
			    B.paths[i]);
	}
	for (unsigned i = 0; i < B.nmiss; i++) {
		struct fsc_stat o;
		struct stat st;
		rc = fsc_stat(B.h_noreq, B.misses[i], &o);
		if (rc != 0 || o.source != FSC_SOURCE_STAT ||
		    stat(B.misses[i], &st) < 0 || !same_as_stat(&o, &st))
			die("%s: expected a miss answered by stat()",
			    B.misses[i]);
	}
}

static void open_fds(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t want = (rlim_t)B.nfiles + 64;
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	uint64_t room = rl.rlim_cur > 64 ? (uint64_t)rl.rlim_cur - 64 : 1;
	B.nfds = B.nfiles < room ? B.nfiles : (unsigned)room;
	B.fds = xcalloc(B.nfds, sizeof(int));
	for (unsigned i = 0; i < B.nfds; i++) {
		B.fds[i] = open(B.paths[i], O_RDONLY | O_CLOEXEC);
		if (B.fds[i] < 0)
			die("open %s: %s", B.paths[i], strerror(errno));
	}
}

/* ---- the timed loops ---------------------------------------------------------- */

/* One pass of method m over its paths; returns ns per operation. */
static double run_pass(enum method m)
{
	uint64_t acc = 0, bad = 0;
	unsigned n = m == M_MISS ? B.nmiss : m == M_FSTAT ? B.nfds : B.nfiles;
	struct fsc_stat o;
	struct stat st;
	struct statx sx;
	uint64_t t0 = now_ns();
	switch (m) {
	case M_LOOKUP:
		for (unsigned i = 0; i < n; i++) {
			bad += fsc_lookup(B.h, B.paths[i], &o) != 0;
			acc += (uint64_t)o.size;
		}
		break;
	case M_FSC_STAT:
		for (unsigned i = 0; i < n; i++) {
			bad += fsc_stat(B.h, B.paths[i], &o) != 0 ||
			       o.source != FSC_SOURCE_CACHE;
			acc += (uint64_t)o.size;
		}
		break;
	case M_STAT:
		for (unsigned i = 0; i < n; i++) {
			bad += stat(B.paths[i], &st) != 0;
			acc += (uint64_t)st.st_size;
		}
		break;
	case M_STATX:
		for (unsigned i = 0; i < n; i++) {
			bad += statx(AT_FDCWD, B.paths[i], 0,
				     STATX_BASIC_STATS, &sx) != 0;
			acc += sx.stx_size;
		}
		break;
	case M_FSTAT:
		for (unsigned i = 0; i < n; i++) {
			bad += fstat(B.fds[i], &st) != 0;
			acc += (uint64_t)st.st_size;
		}
		break;
	case M_MISS:
		for (unsigned i = 0; i < n; i++) {
			bad += fsc_stat(B.h_noreq, B.misses[i], &o) != 0;
			acc += (uint64_t)o.size;
		}
		break;
	default:
		break;
	}
	uint64_t t1 = now_ns();
	sink += acc;
	B.nonhits += bad;
	return (double)(t1 - t0) / n;
}

static void measure(void)
{
	for (int m = 0; m < M_COUNT; m++)
		B.ns[m] = xcalloc(B.rounds, sizeof(double));
	for (int m = 0; m < M_COUNT; m++) /* warm caches, fault pages in */
		(void)run_pass((enum method)m);
	B.nonhits = 0;
	for (unsigned r = 0; r < B.rounds; r++)
		for (int j = 0; j < M_COUNT; j++) {
			int m = (int)((r + (unsigned)j) % M_COUNT);
			B.ns[m][r] = run_pass((enum method)m);
		}
}

/* ---- the report ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct summary {
	double median, min, p90;
};

static struct summary summarize(const double *v, unsigned n)
{
	double *s = xcalloc(n, sizeof(double));
	memcpy(s, v, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	struct summary r = {
		.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2,
		.min = s[0],
		.p90 = s[(n - 1) * 9 / 10],
	};
	free(s);
	return r;
}

static void report(void)
{
	struct summary s[M_COUNT];
	for (int m = 0; m < M_COUNT; m++)
		s[m] = summarize(B.ns[m], B.rounds);
	double hit = s[M_LOOKUP].median > 0 ? s[M_LOOKUP].median : 1e-9;

	printf("fstatcache lookup benchmark: %u files (%u fds, %u miss paths), "
	       "%u rounds, methods interleaved\n", B.nfiles, B.nfds, B.nmiss,
	       B.rounds);
	printf("%-9s %12s %12s %12s %10s  %s\n", "method", "median ns/op",
	       "min ns/op", "p90 ns/op", "x lookup", "what");
	for (int m = 0; m < M_COUNT; m++)
		printf("%-9s %12.1f %12.1f %12.1f %10.2f  %s\n",
		       method_names[m], s[m].median, s[m].min, s[m].p90,
		       s[m].median / hit, method_what[m]);
	printf("stat/hit %.1fx, statx/hit %.1fx, fstat/hit %.1fx, miss/hit "
	       "%.1fx\n", s[M_STAT].median / hit, s[M_STATX].median / hit,
	       s[M_FSTAT].median / hit, s[M_MISS].median / hit);
	if (B.nonhits)
		printf("warning: %" PRIu64 " timed answers were not the "
		       "expected hit/miss\n", B.nonhits);

	if (!B.json)
		return;
	FILE *f = strcmp(B.json, "-") ? fopen(B.json, "w") : stdout;
	if (!f)
		die("%s: %s", B.json, strerror(errno));
	fprintf(f, "{\"files\": %u, \"fds\": %u, \"miss_paths\": %u, "
		"\"rounds\": %u, \"unexpected_answers\": %" PRIu64
		", \"methods\": {", B.nfiles, B.nfds, B.nmiss, B.rounds,
		B.nonhits);
	for (int m = 0; m < M_COUNT; m++)
		fprintf(f, "%s\"%s\": {\"median_ns\": %.2f, \"min_ns\": %.2f, "
			"\"p90_ns\": %.2f, \"ratio_to_lookup\": %.3f}",
			m ? ", " : "", method_names[m], s[m].median, s[m].min,
			s[m].p90, s[m].median / hit);
	fprintf(f, "}, \"ratios\": {\"stat_over_hit\": %.3f, "
		"\"statx_over_hit\": %.3f, \"fstat_over_hit\": %.3f, "
		"\"miss_over_hit\": %.3f}}\n", s[M_STAT].median / hit,
		s[M_STATX].median / hit, s[M_FSTAT].median / hit,
		s[M_MISS].median / hit);
	if (f != stdout && fclose(f) != 0)
		die("%s: %s", B.json, strerror(errno));
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	atexit(cleanup);
	make_files();
	start_writer();
	verify();
	open_fds();
	measure();
	fsc_close(B.h);
	fsc_close(B.h_noreq);
	B.h = B.h_noreq = NULL;
	for (unsigned i = 0; i < B.nfds; i++)
		close(B.fds[i]);
	stop_writer();
	report();
	remove_files();
	for (int m = 0; m < M_COUNT; m++)
		free(B.ns[m]);
	for (unsigned i = 0; i < B.nfiles; i++)
		free(B.paths[i]);
	for (unsigned i = 0; i < B.nmiss; i++)
		free(B.misses[i]);
	free(B.paths);
	free(B.misses);
	free(B.fds);
	B.paths = B.misses = NULL;
	return 0;
}
