/*
 * common.c - the plumbing every section of fsc-bench uses: the temporary
 * file tree, child processes, the load process, /proc readings and
 * statistics.  The writer under test is in writer.c.
 *
 * Children are fork()ed, never exec()ed, and leave with _exit(): the
 * bench's atexit cleanup (kill the writers, remove the tree) belongs to the
 * main process only.  Every child asks the kernel to kill it when the bench
 * dies (PR_SET_PDEATHSIG), so an aborted run leaves nothing behind.
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <urcu/uatomic.h>

struct fb FB;

/* ---- errors, memory, time ------------------------------------------------ */

void fb_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (getpid() != FB.main_pid)
		_exit(1);
	exit(1); /* the atexit cleanup kills writers and removes the tree */
}

void *fb_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		fb_die("out of memory");
	return p;
}

uint64_t fb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fb_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
			       (long)(ns % 1000000000u) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t fb_cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		       1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		       1000u;
}

static volatile uint64_t fb_sink;

void fb_consume(uint64_t v)
{
	fb_sink += v;
}

/* ---- the file pool ----------------------------------------------------------- */

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		fb_die("out of memory");
	return p;
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0700) < 0)
		fb_die("mkdir %s: %s", path, strerror(errno));
}

/* A small file whose size varies with i (0 to 3 short lines). */
static void make_file(const char *path, unsigned i)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		fb_die("%s: %s", path, strerror(errno));
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "line of file %u\n", i);
	for (unsigned k = 0; k < i % 4; k++)
		if (write(fd, buf, (size_t)n) != n)
			fb_die("%s: %s", path, strerror(errno));
	close(fd);
}

static char **make_files(const char *fmt_dir, unsigned ndirs, const char *leaf,
			 unsigned n)
{
	char **v = fb_calloc(n, sizeof(char *));
	for (unsigned i = 0; i < n; i++) {
		v[i] = xasprintf("%s/%s/d%03u/%s%07u.log", FB.dir, fmt_dir,
				 i % ndirs, leaf, i);
		make_file(v[i], i);
	}
	return v;
}

void fb_pool_create(unsigned npool, unsigned nfresh, unsigned nload)
{
	const char *tmp = FB.o.base ? FB.o.base : getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(FB.dir, sizeof(FB.dir), "%s/fscbench-XXXXXX", tmp);
	if (!mkdtemp(FB.dir)) {
		int e = errno;
		FB.dir[0] = 0;
		fb_die("mkdtemp in %s: %s", tmp, strerror(e));
	}
	if (strlen(FB.dir) > 64)
		fb_die("%s: too long for socket paths; use --dir", FB.dir);
	unsigned ndirs = FB.o.dirs, nloaddirs = nload < 10 ? 1 : 10;
	char p[PATH_MAX + 32];
	snprintf(p, sizeof(p), "%s/pool", FB.dir);
	make_dir(p);
	for (unsigned d = 0; d < ndirs; d++) {
		snprintf(p, sizeof(p), "%s/pool/d%03u", FB.dir, d);
		make_dir(p);
	}
	snprintf(p, sizeof(p), "%s/load", FB.dir);
	make_dir(p);
	for (unsigned d = 0; d < nloaddirs; d++) {
		snprintf(p, sizeof(p), "%s/load/d%03u", FB.dir, d);
		make_dir(p);
	}
	snprintf(p, sizeof(p), "%s/target", FB.dir);
	make_dir(p);
	snprintf(p, sizeof(p), "%s/target/d000", FB.dir);
	make_dir(p);
	FB.npool = npool;
	/* --key-len: the leaf names padded so that the pool's paths are that
	 * long ("DIR/pool/d000/" + leaf + "0000000.log"). */
	char fleaf[256] = "f", mleaf[256] = "m";
	size_t base = strlen(FB.dir) + strlen("/pool/d000/f0000000.log");
	if (FB.o.key_len) {
		if (FB.o.key_len < base)
			fb_die("--key-len %u: the paths are %zu bytes already",
			       FB.o.key_len, base);
		size_t pad = FB.o.key_len - base;
		memset(fleaf + 1, 'x', pad);
		memset(mleaf + 1, 'x', pad);
		fleaf[pad + 1] = mleaf[pad + 1] = '\0';
	}
	FB.pool = make_files("pool", ndirs, fleaf, npool);
	/* Fresh files live in the pool's (watched) directories, as a new log
	 * file would; made now, before any writer, so they cause no event. */
	FB.nfresh = nfresh;
	FB.fresh = make_files("pool", ndirs, mleaf, nfresh);
	FB.load = make_files("load", nloaddirs, "l", nload);
	char **t = make_files("target", 1, "t", 1);
	FB.target = t[0];
	free(t);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void fb_tree_remove(const char *root)
{
	nftw(root, remove_entry, 64, FTW_DEPTH | FTW_PHYS);
}

void fb_paths_free(char **v, unsigned n)
{
	for (unsigned i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void fb_pool_remove(void)
{
	if (FB.dir[0])
		fb_tree_remove(FB.dir);
	FB.dir[0] = 0;
	fb_paths_free(FB.pool, FB.npool);
	fb_paths_free(FB.fresh, FB.nfresh);
	fb_paths_free(FB.load, FB.o.load_files);
	free(FB.target);
	FB.pool = FB.fresh = FB.load = NULL;
	FB.target = NULL;
}

unsigned fb_raise_nofile(unsigned reserve)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	uint64_t cur = rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : rl.rlim_cur;
	return cur > reserve ? (unsigned)(cur - reserve) : 0;
}

/* ---- child processes ------------------------------------------------------------ */

void fb_child_track(pid_t pid)
{
	if (FB.nchildren < sizeof(FB.children) / sizeof(FB.children[0]))
		FB.children[FB.nchildren++] = pid;
}

void fb_child_untrack(pid_t pid)
{
	for (unsigned i = 0; i < FB.nchildren; i++)
		if (FB.children[i] == pid) {
			FB.children[i] = FB.children[--FB.nchildren];
			return;
		}
}

void *fb_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fb_die("mmap: %s", strerror(errno));
	return p;
}

void fb_shared_free(void *p, size_t size)
{
	munmap(p, size);
}

/* In a fresh child: die with the bench. */
void fb_child_setup(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != FB.main_pid)
		_exit(1);
}

pid_t fb_spawn(void (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fb_die("fork: %s", strerror(errno));
	if (pid == 0) {
		fb_child_setup();
		fn(arg);
		_exit(0);
	}
	fb_child_track(pid);
	return pid;
}

void fb_reap(pid_t pid, const char *what)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			fb_die("waitpid %s: %s", what, strerror(errno));
	fb_child_untrack(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fb_die("%s (pid %ld) failed (status %#x)", what, (long)pid, st);
}

/* Wait (sleeping, not spinning: the machine has 2 cores) for a flag. */
static void wait_flag(const uint32_t *flag, const char *what)
{
	uint64_t deadline = fb_now_ns() + READY_TIMEOUT_MS * 1000000ull;
	while (!uatomic_read(flag)) {
		if (fb_now_ns() > deadline)
			fb_die("%s: not ready after %d s", what,
			       READY_TIMEOUT_MS / 1000);
		fb_sleep_ns(100000);
	}
}

/* The paced load in batches: every tick, the appends due since the start. */
static void load_batches(struct fb_load *l, int *fds, uint64_t cpu0)
{
	uint64_t t0 = fb_now_ns(), n = 0;
	unsigned i = 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!uatomic_read(&l->stop)) {
		uint64_t due = (fb_now_ns() - t0) * l->rate / 1000000000u;
		for (; n < due; n++, i = i + 1 < l->n ? i + 1 : 0)
			if (write(fds[i], "x", 1) != 1)
				fb_die("load: write %s: %s", l->paths[i],
				       strerror(errno));
		uatomic_set(&l->appends, n);
		uint64_t ns = (uint64_t)next.tv_nsec + l->tick_ns;
		next.tv_sec += (time_t)(ns / 1000000000u);
		next.tv_nsec = (long)(ns % 1000000000u);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
	}
	uatomic_set(&l->cpu_ns, fb_cpu_ns() - cpu0);
	for (unsigned k = 0; k < l->n; k++)
		close(fds[k]);
	free(fds);
}

static void load_main(void *arg)
{
	struct fb_load *l = arg;
	int *fds = fb_calloc(l->n, sizeof(int));
	for (unsigned i = 0; i < l->n; i++) {
		fds[i] = open(l->paths[i], O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fds[i] < 0)
			fb_die("load: open %s: %s", l->paths[i],
			       strerror(errno));
	}
	uatomic_set(&l->ready, 1);
	wait_flag(&l->start, "load start");
	uint64_t cpu0 = fb_cpu_ns(), n = 0;
	uint64_t period = l->rate ? 1000000000u / l->rate : 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	if (l->rate && l->tick_ns) {
		load_batches(l, fds, cpu0);
		return;
	}
	for (unsigned i = 0; !uatomic_read(&l->stop);
	     i = i + 1 < l->n ? i + 1 : 0) {
		if (write(fds[i], "x", 1) != 1)
			fb_die("load: write %s: %s", l->paths[i],
			       strerror(errno));
		uatomic_set(&l->appends, ++n);
		if (!period)
			continue;
		uint64_t ns = (uint64_t)next.tv_nsec + period;
		next.tv_sec += (time_t)(ns / 1000000000u);
		next.tv_nsec = (long)(ns % 1000000000u);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
	}
	uatomic_set(&l->cpu_ns, fb_cpu_ns() - cpu0);
	for (unsigned i = 0; i < l->n; i++)
		close(fds[i]);
	free(fds);
}

pid_t fb_load_start(struct fb_load *l)
{
	pid_t pid = fb_spawn(load_main, l);
	wait_flag(&l->ready, "load process");
	uatomic_set(&l->start, 1);
	return pid;
}

void fb_load_stop(struct fb_load *l, pid_t pid)
{
	uatomic_set(&l->stop, 1);
	fb_reap(pid, "load process");
}

/* ---- /proc ------------------------------------------------------------------------ */

static uint64_t status_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static size_t read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* utime + stime of the whole process (dead threads included), in ns. */
static uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!read_text(path, buf, sizeof(buf)))
		return 0;
	const char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long ut = 0, st = 0;
	/* fields 3..13 precede utime (14) and stime (15) */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		   &st) != 2)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return (ut + st) * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

uint64_t fb_sched_cpu_ns(pid_t pid)
{
	char path[64 + sizeof(((struct dirent *)0)->d_name)], buf[256];
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	uint64_t sum = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/schedstat",
			 (long)pid, e->d_name);
		if (read_text(path, buf, sizeof(buf)))
			sum += strtoull(buf, NULL, 10);
	}
	closedir(d);
	return sum;
}

void fb_proc_read(pid_t pid, struct fb_proc *p)
{
	char path[64 + sizeof(((struct dirent *)0)->d_name)], buf[4096];
	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if (!read_text(path, buf, sizeof(buf)))
		fb_die("%s: %s", path, strerror(errno));
	p->hwm_kb = status_field(buf, "VmHWM:");
	p->rss_kb = status_field(buf, "VmRSS:");
	p->anon_kb = status_field(buf, "RssAnon:");
	p->file_kb = status_field(buf, "RssFile:");
	p->shmem_kb = status_field(buf, "RssShmem:");
	p->cpu_ns = proc_cpu_ns(pid);
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	DIR *d = opendir(path);
	if (!d)
		fb_die("%s: %s", path, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/status",
			 (long)pid, de->d_name);
		if (!read_text(path, buf, sizeof(buf)))
			continue; /* the thread just exited */
		p->threads++;
		p->ctxt_vol += status_field(buf, "\nvoluntary_ctxt_switches:");
		p->ctxt_invol +=
			status_field(buf, "nonvoluntary_ctxt_switches:");
	}
	closedir(d);
}

/* ---- statistics ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted s[0..n). */
static double rank(const double *s, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);
	return s[k ? (k > n ? n - 1 : k - 1) : 0];
}

struct fb_summary fb_summarize(const double *v, size_t n)
{
	struct fb_summary r = { 0 };
	if (!n)
		return r;
	double *s = fb_calloc(n, sizeof(double));
	memcpy(s, v, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	r.mean = sum / (double)n;
	r.min = s[0];
	r.max = s[n - 1];
	r.p90 = rank(s, n, 0.90);
	r.p99 = rank(s, n, 0.99);
	free(s);
	return r;
}

/* ---- results ---------------------------------------------------------------------------- */

json_t *fb_summary_json(const struct fb_summary *s)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "median", s->median,
			 "mean", s->mean, "min", s->min, "max", s->max, "p90",
			 s->p90, "p99", s->p99);
}

void fb_target(const char *what, double figure, const char *unit, int holds,
	       const char *detail)
{
	json_array_append_new(FB.targets,
			      json_pack("{s:s, s:f, s:s, s:b, s:s}", "target",
					what, "figure", figure, "unit", unit,
					"holds", holds, "detail",
					detail ? detail : ""));
}

void fb_title(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("\n== ");
	vprintf(fmt, ap);
	printf(" ==\n");
	va_end(ap);
	fflush(stdout);
}

int fb_section_on(const char *section)
{
	if (!FB.o.only)
		return 1;
	size_t n = strlen(section);
	for (const char *p = FB.o.only; *p;) {
		const char *e = strchr(p, ',');
		size_t k = e ? (size_t)(e - p) : strlen(p);
		if (k == n && !strncmp(p, section, n))
			return 1;
		p += k + (e != NULL);
	}
	return 0;
}

void fb_cleanup(void)
{
	if (getpid() != FB.main_pid)
		return;
	for (unsigned i = 0; i < FB.nchildren; i++) {
		kill(FB.children[i], SIGKILL);
		waitpid(FB.children[i], NULL, 0);
	}
	FB.nchildren = 0;
	fb_pool_remove();
}

const char *fb_find_writer(void)
{
	const char *env = getenv("FSTATCACHED");
	if (env && *env)
		return env;
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n > 0) {
		path[n] = '\0';
		char *slash = strrchr(path, '/');
		if (slash) {
			strcpy(slash, "/../fstatcached");
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return "fstatcached";
}

unsigned fb_parse_count(const char *name, const char *s, unsigned min,
			unsigned max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		fb_die("--%s: expected %u..%u, got '%s'", name, min, max, s);
	return (unsigned)v;
}
