/*
 * soak.c - a long run of the whole system: one real fstatcached, reader
 * processes looking paths up without pause, and file churn the way log
 * shippers see it (appends, copytruncate and rename rotations, deletions,
 * creations, chmod, a whole directory removed and re-made), for a given
 * time or number of rounds.  Issue 5, item 6.
 *
 *   fsc-soak [--seconds N | --rounds N] [--readers N] [--threads N]
 *            [--capacity N] [--kill-every N] [--seed N] [--writer PATH]
 *            [--quiet]
 *
 * Each round: the coordinator applies a random number of operations, asks
 * for the sync barrier, and then, with nothing changing, every reader
 * compares its answer for every path with stat(2) (all fields but
 * st_blocks, which writeback changes without an event), and so does the
 * coordinator for every cache hit.  Between checks the readers run free,
 * and a hit must still be plausible (a known file type, no negative size).
 * With --kill-every N the writer is SIGKILLed every N rounds (mid-churn,
 * after a count of operations) and restarted; readers must fall back to
 * stat() and re-attach on their own.  With --threads N each reader process
 * runs N threads sharing one handle, as the header allows: the re-attach
 * and the lookup counts are then raced in process, where ThreadSanitizer
 * can see them (the TSan pass in .ci/test runs it so).
 *
 * Prints the lookups, hits, comparisons, mismatches (must be 0), and the
 * writer's counters; exit 0 only when nothing went wrong.  Every wait has
 * a hang guard; children die with the coordinator (PR_SET_PDEATHSIG);
 * the temporary directory, the segment and the socket are removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstatcache/admin.h>

#define GUARD_MS 120000
#define MAX_READERS 16 /* reader threads, over all processes */
#define NDIRS 4
#define NBASE 12
#define NSUB 4 /* files in each directory's removable subdirectory */
/* per dir: base names, their ".1", the subdirectory and its files */
#define PER_DIR (2 * NBASE + 1 + NSUB)
#define NPATHS (NDIRS * PER_DIR + NDIRS)

struct reader_stats {
	uint64_t lookups, hits, compared, mismatches, implausible, errors;
	uint32_t done_phase;
	char first_bad[320];
};

struct shared {
	uint32_t phase; /* odd: check now (nothing changes); even: run free */
	uint32_t stop;
	struct reader_stats rd[MAX_READERS];
};

static struct shared *S;
static char dir[64], name[FSC_NAME_MAX + 1], sock[128];
static char paths[NPATHS][PATH_MAX];
static const char *writer_bin;
static pid_t writer_pid, reader_pids[MAX_READERS];
static int nreaders = 4, nthreads = 1, quiet;
static volatile sig_atomic_t interrupted;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fsc-soak: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* ---- the files ----------------------------------------------------------- */

static const char *base_path(int d, int b)
{
	return paths[d * PER_DIR + 2 * b];
}
static const char *rot_path(int d, int b)
{
	return paths[d * PER_DIR + 2 * b + 1];
}
static const char *sub_path(int d)
{
	return paths[d * PER_DIR + 2 * NBASE];
}
static const char *subfile_path(int d, int k)
{
	return paths[d * PER_DIR + 2 * NBASE + 1 + k];
}

static void make_paths(void)
{
	for (int d = 0; d < NDIRS; d++) {
		char *dp = paths[NDIRS * PER_DIR + d];
		snprintf(dp, PATH_MAX, "%s/d%d", dir, d);
		if (mkdir(dp, 0755) < 0)
			die("mkdir %s: %s", dp, strerror(errno));
		for (int b = 0; b < NBASE; b++) {
			snprintf(paths[d * PER_DIR + 2 * b], PATH_MAX,
				 "%s/app%d.log", dp, b);
			snprintf(paths[d * PER_DIR + 2 * b + 1], PATH_MAX,
				 "%s/app%d.log.1", dp, b);
		}
		snprintf(paths[d * PER_DIR + 2 * NBASE], PATH_MAX, "%s/sub",
			 dp);
		for (int k = 0; k < NSUB; k++)
			snprintf(paths[d * PER_DIR + 2 * NBASE + 1 + k],
				 PATH_MAX, "%s/sub/s%d.log", dp, k);
	}
}

static void append(const char *p, const char *text)
{
	int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == ENOENT) /* its directory is gone this round */
			return;
		die("open %s: %s", p, strerror(errno));
	}
	if (write(fd, text, strlen(text)) < 0)
		die("write %s: %s", p, strerror(errno));
	close(fd);
}

static void copytruncate(const char *p, const char *rot)
{
	static char buf[1 << 16];
	int in = open(p, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return;
	ssize_t n = read(in, buf, sizeof(buf));
	close(in);
	int out = open(rot, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0 || (n > 0 && write(out, buf, (size_t)n) != n))
		die("copy to %s: %s", rot, strerror(errno));
	close(out);
	if (truncate(p, 0) < 0 && errno != ENOENT)
		die("truncate %s: %s", p, strerror(errno));
}

static void remove_sub(int d)
{
	for (int k = 0; k < NSUB; k++)
		unlink(subfile_path(d, k));
	rmdir(sub_path(d));
}

/*
 * What the churn last did to each base name, for the report of a
 * mismatch: the operation and when (CLOCK_REALTIME, comparable with
 * ctime and with the entry's validated_ns).
 */
#define HISTORY 6
static const char *const op_names[] = {
	"append", "copytruncate", "rename-rotate", "unlink",
	"chmod",  "sub-append",   "sub-remove",
};
static struct {
	uint8_t op[HISTORY];
	uint64_t ns[HISTORY];
	unsigned n;
} history[NDIRS][NBASE];

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void remember(int d, int b, int op)
{
	unsigned i = history[d][b].n++ % HISTORY;
	history[d][b].op[i] = (uint8_t)op;
	history[d][b].ns[i] = realtime_ns();
}

static uint64_t churn_op(unsigned *s)
{
	int d = (int)(rnd(s) % NDIRS), b = (int)(rnd(s) % NBASE);
	unsigned k = rnd(s) % 1000;
	const char *p = base_path(d, b), *rot = rot_path(d, b);
	remember(d, b,
		 k < 600   ? 0
		 : k < 680 ? 1
		 : k < 760 ? 2
		 : k < 830 ? 3
		 : k < 880 ? 4
		 : k < 960 ? 5
			   : 6);
	if (k < 600) {
		append(p,
		       "2026-11-24T12:00:00Z level=info msg=\"soak line\"\n");
	} else if (k < 680) {
		copytruncate(p, rot);
	} else if (k < 760) {
		if (rename(p, rot) == 0)
			append(p, "");
	} else if (k < 830) {
		unlink(k % 2 ? p : rot);
	} else if (k < 880) {
		struct stat st;
		if (stat(p, &st) == 0)
			chmod(p, (st.st_mode & 0777) == 0644 ? 0640 : 0644);
	} else if (k < 960) {
		int f = (int)(rnd(s) % NSUB);
		if (mkdir(sub_path(d), 0755) == 0 || errno == EEXIST)
			append(subfile_path(d, f), "sub line\n");
	} else {
		remove_sub(d);
	}
	return 1;
}

/* ---- comparing answers ------------------------------------------------- */

static int equal_to_stat(const struct fsc_stat *c, const char *p, char *why,
			 size_t n)
{
	struct stat st;
	if (stat(p, &st) < 0) {
		if ((errno == ENOENT || errno == ENOTDIR) && !c->exists)
			return 1;
		snprintf(why, n,
			 "%s: stat says %s, answer (source %d) exists=%d", p,
			 strerror(errno), c->source, c->exists);
		return 0;
	}
	if (c->exists && c->dev == (uint64_t)st.st_dev &&
	    c->ino == (uint64_t)st.st_ino && c->mode == st.st_mode &&
	    c->nlink == (uint64_t)st.st_nlink && c->uid == st.st_uid &&
	    c->gid == st.st_gid && c->rdev == (uint64_t)st.st_rdev &&
	    c->size == st.st_size && c->mtime_sec == st.st_mtim.tv_sec &&
	    c->mtime_nsec == (uint32_t)st.st_mtim.tv_nsec &&
	    c->ctime_sec == st.st_ctim.tv_sec &&
	    c->ctime_nsec == (uint32_t)st.st_ctim.tv_nsec)
		return 1;
	snprintf(why, n,
		 "%s: answer (source %d, exists %d, ino %llu, size "
		 "%lld, mode %o, nlink %llu, ctime %lld.%09u) != stat (ino "
		 "%llu, size %lld, mode %o, nlink %llu, ctime %lld.%09ld)",
		 p, c->source, c->exists, (unsigned long long)c->ino,
		 (long long)c->size, c->mode, (unsigned long long)c->nlink,
		 (long long)c->ctime_sec, c->ctime_nsec,
		 (unsigned long long)st.st_ino, (long long)st.st_size,
		 st.st_mode, (unsigned long long)st.st_nlink,
		 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	return 0;
}

static void keep_first(char *dst, size_t size, const char *why)
{
	if (dst[0])
		return;
	size_t n = strnlen(why, size - 1);
	memcpy(dst, why, n);
	dst[n] = '\0';
}

static void note(struct reader_stats *r, const char *why)
{
	keep_first(r->first_bad, sizeof(r->first_bad), why);
}

/* ---- readers ----------------------------------------------------------- */

static void reader_check(fsc_handle *h, struct reader_stats *r)
{
	char why[320];
	for (int i = 0; i < NPATHS; i++) {
		struct fsc_stat c;
		int rc = fsc_stat(h, paths[i], &c);
		r->lookups++;
		if (rc != 0) {
			r->errors++;
			snprintf(why, sizeof(why), "%.200s: fsc_stat %d",
				 paths[i], rc);
			note(r, why);
			continue;
		}
		r->hits += c.source == FSC_SOURCE_CACHE;
		r->compared++;
		if (!equal_to_stat(&c, paths[i], why, sizeof(why))) {
			r->mismatches++;
			note(r, why);
		}
	}
}

struct reader_thread {
	fsc_handle *h;
	int id;
	pthread_t th;
};

static void *reader_loop(void *arg)
{
	const struct reader_thread *rt = arg;
	fsc_handle *h = rt->h;
	int id = rt->id;
	struct reader_stats *r = &S->rd[id];
	unsigned s = 0x9e3779b9u * (unsigned)(id + 1);
	for (uint64_t it = 0; !uatomic_read(&S->stop); it++) {
		uint32_t phase = uatomic_read(&S->phase);
		cmm_smp_rmb();
		if ((phase & 1) && uatomic_read(&r->done_phase) != phase) {
			reader_check(h, r);
			cmm_smp_wmb();
			uatomic_set(&r->done_phase, phase);
			continue;
		}
		const char *p = paths[rnd(&s) % NPATHS];
		struct fsc_stat c;
		int rc = fsc_stat(h, p, &c);
		r->lookups++;
		if (rc != 0) {
			r->errors++;
			note(r, "fsc_stat failed while running free");
		} else if (c.source == FSC_SOURCE_CACHE) {
			r->hits++;
			if (c.exists &&
			    ((!S_ISREG(c.mode) && !S_ISDIR(c.mode)) ||
			     c.size < 0)) {
				r->implausible++;
				note(r, "implausible hit");
			}
		}
		if (it % 64 == 63)
			sched_yield(); /* leave the churn some CPU */
	}
	return NULL;
}

/* Reader process `proc`: nthreads threads on one handle, stats slots
 * proc * nthreads ... + nthreads - 1. */
static void reader_main(int proc)
{
	struct reader_thread rt[MAX_READERS];
	fsc_handle *h;
	if (fsc_open(&h, name, 0) < 0)
		_exit(30);
	for (int k = 0; k < nthreads; k++) {
		rt[k].h = h;
		rt[k].id = proc * nthreads + k;
		if (k > 0 &&
		    pthread_create(&rt[k].th, NULL, reader_loop, &rt[k]) != 0)
			_exit(31);
	}
	reader_loop(&rt[0]);
	for (int k = 1; k < nthreads; k++)
		pthread_join(rt[k].th, NULL);
	fsc_close(h);
	_exit(0);
}

/* ---- the writer ------------------------------------------------------ */

static void start_writer(int capacity)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	char cap[32];
	snprintf(cap, sizeof(cap), "%d", capacity);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125);
		if (dup2(p[1], 3) < 0)
			_exit(126);
		execl(writer_bin, writer_bin, "--name", name, "--socket", sock,
		      "--ready-fd", "3", "--capacity", cap, "--quiet",
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[8] = "";
	struct pollfd pf = { p[0], POLLIN, 0 };
	if (poll(&pf, 1, GUARD_MS) != 1 || read(p[0], buf, 6) != 6 ||
	    memcmp(buf, "READY\n", 6))
		die("the writer (%s) did not become ready", writer_bin);
	close(p[0]);
	writer_pid = pid;
}

static void sync_or_die(fsc_handle *h)
{
	char msg[FSC_REPLY_MSG_MAX + 1];
	int r = fsc_control(h, FSC_OP_SYNC, NULL, GUARD_MS, msg, sizeof(msg));
	if (r != 0)
		die("sync: %s %s", fsc_strerror(r), msg);
}

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void cleanup(void)
{
	uatomic_set(&S->stop, 1);
	for (int i = 0; i < nreaders; i++) {
		if (reader_pids[i] > 0) {
			kill(reader_pids[i], SIGKILL);
			waitpid(reader_pids[i], NULL, 0);
			reader_pids[i] = 0;
		}
	}
	if (writer_pid > 0) {
		kill(writer_pid, SIGKILL);
		waitpid(writer_pid, NULL, 0);
		writer_pid = 0;
	}
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), name, 0);
	shm_unlink(shm);
	fsc_shm_name(shm, sizeof(shm), name, FSC_OBJ_USE);
	shm_unlink(shm);
	fsc_shm_name(shm, sizeof(shm), name, FSC_OBJ_FEED);
	shm_unlink(shm);
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- the coordinator ----------------------------------------------------- */

struct totals {
	uint64_t rounds, ops, kills, checked_hits, coord_mismatches;
	uint64_t events, stats, overflows, evictions, requests, refused;
	char first_bad[320];
};

static void add_writer_counters(fsc_handle *h, struct totals *t)
{
	struct fsc_header hdr;
	if (fsc_header_read(h, &hdr) != 0)
		return;
	t->events += hdr.counters[FSC_CTR_EVENTS];
	t->stats += hdr.counters[FSC_CTR_STATS];
	t->overflows += hdr.counters[FSC_CTR_OVERFLOWS];
	t->evictions += hdr.counters[FSC_CTR_EVICTIONS];
	t->requests += hdr.counters[FSC_CTR_REQUESTS];
	t->refused += hdr.counters[FSC_CTR_REQUESTS_REFUSED];
}

/* Say when the writer last stat()ed the path and what the churn did. */
static void explain(fsc_handle *h, int i, const char *why)
{
	uint64_t vns = 0;
	for (uint32_t slot = 0; slot < fsc_slot_count(h); slot++) {
		char p[PATH_MAX];
		struct fsc_stat c;
		uint64_t v;
		if (fsc_slot_read(h, slot, p, sizeof(p), &c, &v) == 0 &&
		    !strcmp(p, paths[i]))
			vns = v;
	}
	printf("fsc-soak: MISMATCH %s\nfsc-soak:   the writer's last stat: "
	       "%llu.%09llu\n",
	       why, (unsigned long long)(vns / 1000000000u),
	       (unsigned long long)(vns % 1000000000u));
	int di = i % PER_DIR, d = i / PER_DIR;
	if (i >= NDIRS * PER_DIR || di >= 2 * NBASE)
		return;
	int b = di / 2;
	unsigned n = history[d][b].n;
	for (unsigned k = n > HISTORY ? n - HISTORY : 0; k < n; k++) {
		uint64_t ns = history[d][b].ns[k % HISTORY];
		printf("fsc-soak:   churn on app%d.log: %-13s at %llu.%09llu\n",
		       b, op_names[history[d][b].op[k % HISTORY]],
		       (unsigned long long)(ns / 1000000000u),
		       (unsigned long long)(ns % 1000000000u));
	}
	fflush(stdout);
}

/* Everyone compares every path with stat(), nothing changing. */
static void check_round(fsc_handle *h, uint32_t phase, struct totals *t)
{
	cmm_smp_wmb();
	uatomic_set(&S->phase, phase);
	char why[320];
	for (int i = 0; i < NPATHS; i++) {
		struct fsc_stat c;
		if (fsc_lookup(h, paths[i], &c) != 0)
			continue;
		t->checked_hits++;
		if (!equal_to_stat(&c, paths[i], why, sizeof(why))) {
			t->coord_mismatches++;
			keep_first(t->first_bad, sizeof(t->first_bad), why);
			if (t->coord_mismatches <= 5)
				explain(h, i, why);
		}
	}
	uint64_t deadline = now_ms() + GUARD_MS;
	for (int i = 0; i < nreaders * nthreads; i++) {
		while (uatomic_read(&S->rd[i].done_phase) != phase) {
			int st;
			if (waitpid(reader_pids[i / nthreads], &st, WNOHANG) !=
			    0)
				die("reader %d died (status 0x%x)", i, st);
			if (now_ms() > deadline)
				die("reader %d did not check within %d ms", i,
				    GUARD_MS);
			sched_yield();
		}
	}
	cmm_smp_wmb();
	uatomic_set(&S->phase, phase + 1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fsc-soak [--seconds N | --rounds N] "
		"[--readers N] [--threads N] [--capacity N] [--kill-every N] "
		"[--seed N] [--writer PATH] [--quiet]\n"
		"(readers x threads at most %d)\n",
		MAX_READERS);
	exit(2);
}

int main(int argc, char **argv)
{
	long seconds = 0, rounds = 0, kill_every = 0;
	int capacity = 8192;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "readers", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "kill-every", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 'S' },
		{ "writer", required_argument, NULL, 'w' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seconds = atol(optarg);
			break;
		case 'r':
			rounds = atol(optarg);
			break;
		case 'n':
			nreaders = atoi(optarg);
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'c':
			capacity = atoi(optarg);
			break;
		case 'k':
			kill_every = atol(optarg);
			break;
		case 'S':
			seed = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			writer_bin = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage();
		}
	}
	if ((seconds <= 0) == (rounds <= 0) || nreaders < 1 || nthreads < 1 ||
	    nreaders * nthreads > MAX_READERS || capacity < 1)
		usage();
	if (!writer_bin)
		writer_bin = getenv("FSTATCACHED");
	if (!writer_bin || !*writer_bin)
		writer_bin = "fstatcached";

	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	memset(S, 0, sizeof(*S));
	snprintf(dir, sizeof(dir), "/tmp/fsc-soak.XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(name, sizeof(name), "soak%ld", (long)getpid());
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	make_paths();
	printf("fsc-soak: seed %u, %d readers x %d threads, %d paths, capacity %d, %s %ld%s\n",
	       seed, nreaders, nthreads, NPATHS, capacity,
	       seconds ? "seconds" : "rounds", seconds ? seconds : rounds,
	       kill_every ? ", writer killed "
			    "every few rounds"
			  : "");
	fflush(stdout);

	start_writer(capacity);
	fsc_handle *h;
	if (fsc_open(&h, name, FSC_OPEN_ATTACHED) < 0)
		die("cannot attach to the writer");
	for (int i = 0; i < nreaders; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			reader_main(i);
		}
		reader_pids[i] = pid;
	}

	struct totals t = { 0 };
	unsigned s = seed;
	uint64_t end = now_ms() + (uint64_t)seconds * 1000u;
	uint32_t phase = 0;
	for (long round = 0; !interrupted; round++) {
		if (rounds ? round >= rounds : now_ms() >= end)
			break;
		uint32_t ops = 1 + rnd(&s) % 2000;
		int kill_now = kill_every &&
			       round % kill_every == kill_every - 1;
		uint32_t kill_at = kill_now ? rnd(&s) % ops : ops;
		for (uint32_t i = 0; i < ops; i++) {
			if (i == kill_at) {
				add_writer_counters(h, &t);
				kill(writer_pid, SIGKILL);
				waitpid(writer_pid, NULL, 0);
				writer_pid = 0;
				t.kills++;
			}
			t.ops += churn_op(&s);
		}
		if (kill_now)
			start_writer(capacity);
		sync_or_die(h);
		phase += 2;
		check_round(h, phase - 1, &t);
		t.rounds++;
		if (!quiet && t.rounds % 100 == 0) {
			uint64_t l = 0, m = 0;
			for (int i = 0; i < nreaders * nthreads; i++) {
				l += S->rd[i].lookups;
				m += S->rd[i].mismatches;
			}
			printf("fsc-soak: %llu rounds, %llu lookups, %llu "
			       "mismatches\n",
			       (unsigned long long)t.rounds,
			       (unsigned long long)l, (unsigned long long)m);
			fflush(stdout);
		}
	}
	add_writer_counters(h, &t);
	fsc_close(h);

	uatomic_set(&S->stop, 1);
	int bad_exit = 0;
	struct reader_stats sum = { 0 };
	const char *first = t.first_bad[0] ? t.first_bad : NULL;
	for (int i = 0; i < nreaders; i++) {
		int st;
		if (waitpid(reader_pids[i], &st, 0) != reader_pids[i] ||
		    !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad_exit++;
		reader_pids[i] = 0;
	}
	for (int i = 0; i < nreaders * nthreads; i++) {
		struct reader_stats *r = &S->rd[i];
		sum.lookups += r->lookups;
		sum.hits += r->hits;
		sum.compared += r->compared;
		sum.mismatches += r->mismatches;
		sum.implausible += r->implausible;
		sum.errors += r->errors;
		if (!first && r->first_bad[0])
			first = r->first_bad;
	}
	kill(writer_pid, SIGTERM);
	int st;
	waitpid(writer_pid, &st, 0);
	writer_pid = 0;
	int writer_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;

	uint64_t mismatches = sum.mismatches + t.coord_mismatches;
	printf("fsc-soak: %llu rounds, %llu churn operations, %llu writer "
	       "kills\n",
	       (unsigned long long)t.rounds, (unsigned long long)t.ops,
	       (unsigned long long)t.kills);
	printf("fsc-soak: readers: %llu lookups, %llu from the cache, %llu "
	       "compared with stat() at quiescent points\n",
	       (unsigned long long)sum.lookups, (unsigned long long)sum.hits,
	       (unsigned long long)sum.compared);
	printf("fsc-soak: writer: %llu inotify events, %llu stat() calls, "
	       "%llu overflows, %llu evictions, %llu requests (%llu refused)\n",
	       (unsigned long long)t.events, (unsigned long long)t.stats,
	       (unsigned long long)t.overflows, (unsigned long long)t.evictions,
	       (unsigned long long)t.requests, (unsigned long long)t.refused);
	printf("fsc-soak: mismatches %llu (readers %llu, coordinator %llu of "
	       "%llu hits checked), implausible hits %llu, errors %llu, "
	       "reader exits bad %d, writer clean stop %s\n",
	       (unsigned long long)mismatches,
	       (unsigned long long)sum.mismatches,
	       (unsigned long long)t.coord_mismatches,
	       (unsigned long long)t.checked_hits,
	       (unsigned long long)sum.implausible,
	       (unsigned long long)sum.errors, bad_exit,
	       writer_ok ? "yes" : "NO");
	if (first)
		printf("fsc-soak: first problem: %s\n", first);
	int ok = !mismatches && !sum.implausible && !sum.errors && !bad_exit &&
		 writer_ok && t.rounds > 0 && !interrupted;
	printf("fsc-soak: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
