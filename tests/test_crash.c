/*
 * test_crash.c - the crash matrix: the writer SIGKILLed at many points
 * while a load process appends to, truncates, rotates, deletes and
 * re-creates the files it serves; readers killed at random points.
 *
 * What must hold (DESIGN.md, "Lifetime"; issue 5, item 1):
 *   - after a kill, every answer is a stat() fallback: a lookup that
 *     starts once the writer is reaped never hits, fsc_stat() answers
 *     from stat(2), and no reader hangs (each must report further
 *     lookups, counted, not timed) or crashes;
 *   - while the writer lives, a hit is always plausible for the load
 *     (regular file, one link or none, a size that is a whole number of the
 *     load's fixed-size lines, a mode the load sets), and at every
 *     quiescent point (load idle, sync) every answer equals stat(2);
 *   - a restarted writer serves every path again with no one re-watching
 *     it (readers here send no watch requests), so the watch list is
 *     intact, including when the restarted writer itself is killed while
 *     it re-validates the list it took over;
 *   - readers killed at any point disturb neither the writer nor the
 *     other readers.
 *
 * Kill points are counts, never times: the writer's own counters (events
 * read, stat() calls) or the load's operation count reach a target, then
 * SIGKILL.  FSC_CRASH_SCALE (default 1) multiplies the iterations; the
 * stress suite runs it at 20.  The seed of the load and of the reader
 * kill points is printed; FSC_CRASH_SEED reproduces a run.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MS 60000 /* hang guard for every wait */
#define LINE 32        /* bytes per appended line: sizes are multiples */
#define NDIRS 3
#define NBASE 8                    /* base names per directory */
#define NPATHS (NDIRS * NBASE * 2) /* each base name and its ".1" */
#define NREADERS 2
#define READER_LIMIT 1000000000000L /* iterations: a bound never reached */

static struct fsct_writer W;
static fsc_handle *H;
static char paths[NPATHS][PATH_MAX];

/* Shared with the children (MAP_SHARED | MAP_ANONYMOUS). */
struct reader_stats {
	uint64_t lookups, hits, dead_lookups, alive_hits;
	uint64_t implausible, dead_hits, errors;
	uint32_t seen_phase;
	char first_bad[256];
};

struct shared {
	uint64_t load_ops; /* operations the load has completed */
	uint32_t phase;    /* see PHASE_DEAD / PHASE_ALIVE */
	uint32_t stop;     /* readers: finish */
	struct reader_stats rd[NREADERS];
};

/*
 * Phases, set by the test: 3k+1 the writer is dead and reaped (no hit
 * allowed), 3k+2 restarting (anything goes), 3k+3 (and 0) serving.
 */
#define PHASE_DEAD(p) ((p) % 3 == 1)
#define PHASE_ALIVE(p) ((p) % 3 == 0)

static struct shared *S;
static pid_t load_pid, reader_pids[NREADERS];
static int load_cmd = -1, load_done = -1;
static unsigned seed;

static void setup(void)
{
	load_pid = 0;
	memset(reader_pids, 0, sizeof(reader_pids));
	load_cmd = load_done = -1;
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(S, MAP_FAILED);
	memset(S, 0, sizeof(*S));
	const char *e = getenv("FSC_CRASH_SEED");
	seed = e && *e ? (unsigned)strtoul(e, NULL, 0)
		       : (unsigned)time(NULL) ^ (unsigned)getpid();
	cr_log_info("FSC_CRASH_SEED=%u", seed);
	fsct_fixture_init(&W, &H);
}

static void reap_child(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

static void teardown(void)
{
	reap_child(&load_pid);
	for (int i = 0; i < NREADERS; i++)
		reap_child(&reader_pids[i]);
	if (load_cmd >= 0)
		close(load_cmd);
	if (load_done >= 0)
		close(load_done);
	fsct_fixture_fini(&W, &H);
	munmap(S, sizeof(*S));
}

TestSuite(crash, .init = setup, .fini = teardown, .timeout = 1500);

static int scale(void)
{
	const char *e = getenv("FSC_CRASH_SCALE");
	int s = e && *e ? atoi(e) : 1;
	return s < 1 ? 1 : s;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the files and what a plausible answer for them is ------------------ */

static void make_paths(void)
{
	for (int d = 0; d < NDIRS; d++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "d%d", d);
		cr_assert_eq(mkdir(fsct_path(&W, rel), 0755), 0);
		for (int b = 0; b < NBASE; b++) {
			int i = 2 * (d * NBASE + b);
			snprintf(rel, sizeof(rel), "d%d/f%d.log", d, b);
			snprintf(paths[i], PATH_MAX, "%s", fsct_path(&W, rel));
			size_t n = strlen(paths[i]);
			cr_assert_lt(n + 3, PATH_MAX);
			memcpy(paths[i + 1], paths[i], n);
			memcpy(paths[i + 1] + n, ".1", 3);
			if (b % 4 != 3) /* some start absent */
				fsct_write(paths[i], "", 0);
		}
	}
}

static int plausible(const struct fsc_stat *c)
{
	if (!c->exists)
		return c->err == ENOENT;
	mode_t perm = c->mode & 07777;
	/* nlink 0: stat(2) itself says so when an unlink lands between its
	 * path walk and its reading of the inode; the event follows. */
	return S_ISREG(c->mode) && (perm == 0644 || perm == 0600) &&
	       c->nlink <= 1 && c->size >= 0 && c->size % LINE == 0;
}

static int same_as_stat(const struct fsc_stat *c, const char *path, char *why,
			size_t n)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT || c->exists) {
			snprintf(why, n, "%s: stat %s, answer exists=%d", path,
				 strerror(errno), c->exists);
			return 0;
		}
		return 1;
	}
	int ok = c->exists && c->dev == (uint64_t)st.st_dev &&
		 c->ino == (uint64_t)st.st_ino && c->mode == st.st_mode &&
		 c->nlink == (uint64_t)st.st_nlink && c->uid == st.st_uid &&
		 c->gid == st.st_gid && c->size == st.st_size &&
		 c->mtime_sec == st.st_mtim.tv_sec &&
		 c->mtime_nsec == (uint32_t)st.st_mtim.tv_nsec &&
		 c->ctime_sec == st.st_ctim.tv_sec &&
		 c->ctime_nsec == (uint32_t)st.st_ctim.tv_nsec;
	if (!ok)
		snprintf(why, n,
			 "%s: answer (source %d, exists %d, ino %llu, "
			 "size %lld, mode %o) != stat (ino %llu, size %lld, "
			 "mode %o)",
			 path, c->source, c->exists, (unsigned long long)c->ino,
			 (long long)c->size, c->mode,
			 (unsigned long long)st.st_ino, (long long)st.st_size,
			 st.st_mode);
	return ok;
}

/* ---- the load: a child doing bursts of file operations ----------------- */

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void load_append(const char *p)
{
	char line[LINE + 1];
	snprintf(line, sizeof(line), "%0*d\n", LINE - 1, (int)getpid());
	int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, LINE) != LINE)
		_exit(20);
	close(fd);
}

/* copytruncate: one write() of the whole content, so sizes stay whole lines */
static void load_copytruncate(const char *p, const char *rot)
{
	static char buf[1 << 20];
	int in = open(p, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return;
	ssize_t n = read(in, buf, sizeof(buf));
	close(in);
	if (n < 0)
		_exit(21);
	n -= n % LINE;
	int out = open(rot, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0 || (n > 0 && write(out, buf, (size_t)n) != n))
		_exit(22);
	close(out);
	if (truncate(p, 0) < 0 && errno != ENOENT)
		_exit(23);
}

static void load_op(unsigned *s)
{
	int i = 2 * (int)(rnd(s) % (NDIRS * NBASE));
	const char *p = paths[i], *rot = paths[i + 1];
	unsigned k = rnd(s) % 100;
	if (k < 70) {
		load_append(p);
	} else if (k < 80) {
		load_copytruncate(p, rot);
	} else if (k < 90) { /* rename rotation: the path gets a new inode */
		if (rename(p, rot) == 0) {
			int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd >= 0)
				close(fd);
		}
	} else if (k < 95) {
		unlink(k % 2 ? p : rot);
	} else {
		struct stat st;
		if (stat(p, &st) == 0)
			chmod(p, (st.st_mode & 0777) == 0644 ? 0600 : 0644);
	}
}

/* Reads a budget (uint32) per burst, does it, answers one byte. */
static void load_main(int cmd, int done, unsigned s)
{
	umask(022);
	for (int burst = 0; burst < 1000000; burst++) {
		uint32_t budget;
		ssize_t n = read(cmd, &budget, sizeof(budget));
		if (n == 0)
			_exit(0);
		if (n != (ssize_t)sizeof(budget))
			_exit(24);
		for (uint32_t i = 0; i < budget; i++) {
			load_op(&s);
			uatomic_inc(&S->load_ops);
		}
		if (write(done, "D", 1) != 1)
			_exit(25);
	}
	_exit(0);
}

static void fork_child_prepare(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void start_load(void)
{
	int c[2], d[2];
	cr_assert_eq(pipe2(c, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(d, O_CLOEXEC), 0);
	load_pid = fork();
	cr_assert_geq(load_pid, 0);
	if (load_pid == 0) {
		fork_child_prepare();
		close(c[1]);
		close(d[0]);
		load_main(c[0], d[1], seed);
	}
	close(c[0]);
	close(d[1]);
	load_cmd = c[1];
	load_done = d[0];
}

static void load_burst_begin(uint32_t ops)
{
	cr_assert_eq(write(load_cmd, &ops, sizeof(ops)), (ssize_t)sizeof(ops));
}

static int load_burst_finished(int timeout_ms)
{
	struct pollfd p = { load_done, POLLIN, 0 };
	int r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		return 0;
	char ch;
	cr_assert_eq(read(load_done, &ch, 1), 1, "the load died");
	return 1;
}

static void load_burst_wait(void)
{
	cr_assert(load_burst_finished(GUARD_MS),
		  "load burst did not end "
		  "within %d ms",
		  GUARD_MS);
}

/* ---- readers: children looking paths up without pause ------------------- */

static void reader_note(struct reader_stats *r, const char *what,
			const char *path, int rc, const struct fsc_stat *c)
{
	if (r->first_bad[0])
		return;
	snprintf(r->first_bad, sizeof(r->first_bad),
		 "%s: %s rc=%d source=%d "
		 "exists=%d mode=%o nlink=%llu size=%lld",
		 what, path, rc, c->source, c->exists, c->mode,
		 (unsigned long long)c->nlink, (long long)c->size);
}

static void reader_main(int id)
{
	struct reader_stats *r = &S->rd[id];
	fsc_handle *h;
	/* No watch requests: a restarted writer must know every path itself. */
	if (fsc_open(&h, W.name, FSC_OPEN_NO_REQUESTS) < 0)
		_exit(30);
	for (long it = 0; it < READER_LIMIT && !uatomic_read(&S->stop); it++) {
		uint32_t phase = uatomic_read(&S->phase);
		cmm_smp_rmb();
		const char *p = paths[(it * 7 + id) % NPATHS];
		struct fsc_stat c;
		memset(&c, 0, sizeof(c));
		int rc = (it % 8 == 7) ? fsc_stat(h, p, &c)
				       : fsc_lookup(h, p, &c);
		cmm_smp_rmb();
		int same = uatomic_read(&S->phase) == phase;
		int hit = rc == 0 && c.source == FSC_SOURCE_CACHE;
		if (rc < 0 ||
		    (rc > 0 && rc != FSC_MISS && rc != FSC_UNCACHED)) {
			r->errors++;
			reader_note(r, "error", p, rc, &c);
		} else if (hit && !plausible(&c)) {
			r->implausible++;
			reader_note(r, "implausible hit", p, rc, &c);
		}
		if (PHASE_DEAD(phase) && same) {
			r->dead_lookups++;
			if (hit) {
				r->dead_hits++;
				reader_note(r, "hit with a dead writer", p, rc,
					    &c);
			}
		} else if (PHASE_ALIVE(phase) && same && hit) {
			r->alive_hits++;
		}
		r->hits += hit;
		cmm_smp_wmb();
		uatomic_set(&r->seen_phase, phase);
		uatomic_inc(&r->lookups);
	}
	fsc_close(h);
	_exit(0);
}

static void start_readers(void)
{
	for (int i = 0; i < NREADERS; i++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			fork_child_prepare();
			reader_main(i);
		}
		reader_pids[i] = pid;
	}
}

/* Every reader did `n` more lookups in the current phase (hang guard). */
static void readers_progress(uint64_t n, uint64_t hits_wanted, const char *what)
{
	uint32_t phase = uatomic_read(&S->phase);
	uint64_t base[NREADERS], hits0[NREADERS];
	for (int i = 0; i < NREADERS; i++) {
		base[i] = uatomic_read(&S->rd[i].lookups);
		hits0[i] = uatomic_read(&S->rd[i].alive_hits);
	}
	uint64_t deadline = now_ms() + GUARD_MS;
	for (int i = 0; i < NREADERS; i++) {
		struct reader_stats *r = &S->rd[i];
		while (uatomic_read(&r->seen_phase) != phase ||
		       uatomic_read(&r->lookups) < base[i] + n ||
		       uatomic_read(&r->alive_hits) < hits0[i] + hits_wanted) {
			int st;
			cr_assert_eq(waitpid(reader_pids[i], &st, WNOHANG), 0,
				     "reader %d ended (status 0x%x) during %s",
				     i, st, what);
			cr_assert_lt(now_ms(), deadline,
				     "reader %d made no "
				     "progress (%s) within %d ms: %llu lookups",
				     i, what, GUARD_MS,
				     (unsigned long long)r->lookups);
			sched_yield();
		}
	}
}

static void stop_readers(void)
{
	uatomic_set(&S->stop, 1);
	for (int i = 0; i < NREADERS; i++) {
		int st;
		cr_assert_eq(waitpid(reader_pids[i], &st, 0), reader_pids[i]);
		reader_pids[i] = 0;
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "reader %d: wait status 0x%x", i, st);
		struct reader_stats *r = &S->rd[i];
		cr_log_info("reader %d: %llu lookups, %llu hits, %llu while "
			    "the writer was dead",
			    i, (unsigned long long)r->lookups,
			    (unsigned long long)r->hits,
			    (unsigned long long)r->dead_lookups);
		cr_expect_eq(r->implausible, 0,
			     "reader %d: %llu implausible "
			     "hits; first: %s",
			     i, (unsigned long long)r->implausible,
			     r->first_bad);
		cr_expect_eq(r->dead_hits, 0,
			     "reader %d: %llu hits with a "
			     "dead writer; first: %s",
			     i, (unsigned long long)r->dead_hits, r->first_bad);
		cr_expect_eq(r->errors, 0, "reader %d: %llu errors; first: %s",
			     i, (unsigned long long)r->errors, r->first_bad);
		cr_expect_gt(r->dead_lookups, 0,
			     "reader %d never ran while "
			     "the writer was dead",
			     i);
	}
}

/* ---- checks by the test itself -------------------------------------------- */

static uint64_t counter(unsigned which)
{
	struct fsc_header hdr;
	if (fsc_header_read(H, &hdr) != 0)
		return 0;
	return hdr.counters[which];
}

/* Writer dead: no hit, and fsc_stat() answers from stat(). */
static void check_all_fallback(int quiescent)
{
	char why[512];
	for (int i = 0; i < NPATHS; i++) {
		struct fsc_stat c;
		int rc = fsc_lookup(H, paths[i], &c);
		cr_assert_eq(rc, FSC_UNCACHED,
			     "%s: fsc_lookup = %d with the "
			     "writer dead",
			     paths[i], rc);
		rc = fsc_stat(H, paths[i], &c);
		cr_assert_eq(rc, 0, "%s: fsc_stat = %d", paths[i], rc);
		cr_assert_eq(c.source, FSC_SOURCE_STAT);
		if (quiescent)
			cr_assert(same_as_stat(&c, paths[i], why, sizeof(why)),
				  "%s", why);
	}
}

/* Writer serving, nothing changing: every path a hit equal to stat(). */
static void check_all_fresh(const char *when)
{
	char why[512];
	for (int i = 0; i < NPATHS; i++) {
		struct fsc_stat c;
		int rc = fsc_lookup(H, paths[i], &c);
		cr_assert_eq(rc, 0,
			     "%s: %s: fsc_lookup = %d (%s), want a hit "
			     "(watch list lost?)",
			     when, paths[i], rc, fsc_strerror(rc));
		cr_assert(same_as_stat(&c, paths[i], why, sizeof(why)),
			  "%s: %s", when, why);
	}
}

static void watch_all(void)
{
	for (int i = 0; i < NPATHS; i++) {
		char msg[FSC_REPLY_MSG_MAX + 1];
		int r = fsc_control(H, FSC_OP_WATCH, paths[i], GUARD_MS, msg,
				    sizeof(msg));
		cr_assert_eq(r, 0, "watch %s: %d %s", paths[i], r, msg);
	}
}

static void set_phase(uint32_t p)
{
	cmm_smp_wmb();
	uatomic_set(&S->phase, p);
}

/*
 * Wait until `*value()` reaches `target` or the load burst ends; the kill
 * point is a count.  Returns 1 if the count was reached.
 */
enum kill_kind {
	KILL_EVENTS,
	KILL_LOAD_OPS,
	KILL_STATS,
	KILL_KINDS_
};
static const char *const kill_names[] = { "events", "load ops", "stats" };

static uint64_t kill_measure(enum kill_kind k)
{
	switch (k) {
	case KILL_EVENTS:
		return counter(FSC_CTR_EVENTS);
	case KILL_STATS:
		return counter(FSC_CTR_STATS);
	default:
		return uatomic_read(&S->load_ops);
	}
}

static int wait_count(enum kill_kind k, uint64_t target, int *burst_over)
{
	uint64_t deadline = now_ms() + GUARD_MS;
	for (;;) {
		if (kill_measure(k) >= target)
			return 1;
		if (load_burst_finished(0)) {
			*burst_over = 1;
			return kill_measure(k) >= target;
		}
		cr_assert_lt(now_ms(), deadline, "waiting for %s to reach %llu",
			     kill_names[k], (unsigned long long)target);
		sched_yield();
	}
}

/* ---- the matrix ------------------------------------------------------------ */

static void crash_matrix(int iterations)
{
	static const uint32_t points[] = { 0, 1, 3, 10, 40, 150, 600, 2500 };
	const int npoints = (int)(sizeof(points) / sizeof(points[0]));
	make_paths();
	fsct_writer_start(&W, NULL);
	H = fsct_open(&W);
	watch_all();
	fsct_sync(H);
	check_all_fresh("start");
	start_load();
	start_readers();
	readers_progress(100, 1, "first hits");
	unsigned s = seed;
	int reached = 0;
	for (int it = 0; it < iterations; it++) {
		enum kill_kind kind = (enum kill_kind)(it % KILL_KINDS_);
		uint32_t point = points[(it / KILL_KINDS_ + rnd(&s)) % npoints];
		int burst_over = 0;
		load_burst_begin(3000);
		uint64_t target = kill_measure(kind) + point;
		reached += wait_count(kind, target, &burst_over);
		int st = fsct_writer_kill(&W, SIGKILL);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			  "iteration %d: writer wait status 0x%x", it, st);
		set_phase(3 * (uint32_t)it + 1);
		check_all_fallback(0); /* the load may still be running */
		readers_progress(200, 0, "writer dead");
		if (!burst_over)
			load_burst_wait();
		check_all_fallback(1);

		set_phase(3 * (uint32_t)it + 2);
		fsct_writer_restart(&W);
		fsct_sync(H);
		set_phase(3 * (uint32_t)it + 3);
		check_all_fresh("after restart");
		readers_progress(50, 1, "writer restarted");

		/* The restarted writer follows the load again. */
		load_burst_begin(200);
		load_burst_wait();
		fsct_sync(H);
		check_all_fresh("after the next burst");
	}
	cr_log_info("%d iterations, %d killed at their count (the rest when "
		    "their load burst ended first), %llu load operations",
		    iterations, reached, (unsigned long long)S->load_ops);
	stop_readers();
	close(load_cmd);
	load_cmd = -1;
	int st;
	cr_assert_eq(waitpid(load_pid, &st, 0), load_pid);
	load_pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "load: 0x%x", st);
	fsct_writer_stop(&W);
}

Test(crash, writer_killed_under_load)
{
	crash_matrix(12 * scale());
}

/* ---- killed while re-validating a taken-over watch list ------------------- */

/* Spawn the writer without waiting for READY (the harness would). */
static pid_t spawn_unready(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125);
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0)
			dup2(nul, 2);
		syscall(SYS_close_range, 3, ~0u, 0);
		execl(fsct_writer_binary(), fsct_writer_binary(), "--name",
		      W.name, "--socket", W.socket, "--quiet", "--capacity",
		      "8192", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/*
 * Wait until the segment under W.name belongs to `pid` and its stat()
 * counter reached `stats`, or it serves already; 1 if caught loading.
 */
static int wait_loading(pid_t pid, uint64_t stats)
{
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), W.name, 0);
	uint64_t deadline = now_ms() + GUARD_MS;
	for (;;) {
		cr_assert_lt(now_ms(), deadline, "the writer never loaded");
		int fd = shm_open(shm, O_RDONLY | O_CLOEXEC, 0);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 ||
		    st.st_size < (off_t)FSC_HEADER_SIZE) {
			if (fd >= 0)
				close(fd);
			sched_yield();
			continue;
		}
		const struct fsc_header *h = mmap(NULL, FSC_HEADER_SIZE,
						  PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		cr_assert_neq(h, MAP_FAILED);
		int ours = uatomic_read(&h->writer_pid) == (uint32_t)pid;
		int done = 0, caught = 0;
		while (ours) {
			uint32_t status = uatomic_read(&h->status);
			if (status != FSC_STATUS_INIT) {
				done = 1;
				break;
			}
			if (uatomic_read(&h->counters[FSC_CTR_STATS]) >=
			    stats) {
				caught = done = 1;
				break;
			}
			cr_assert_lt(now_ms(), deadline, "loading stalled");
			sched_yield();
		}
		munmap((void *)h, FSC_HEADER_SIZE);
		if (done)
			return caught;
		sched_yield();
	}
}

Test(crash, writer_killed_while_revalidating_taken_over_list)
{
	enum {
		N = 3000
	};
	static char many[N][PATH_MAX];
	cr_assert_eq(mkdir(fsct_path(&W, "m"), 0755), 0);
	const char *extra[] = { "--capacity", "8192", NULL }; /* all N fit */
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
	for (int i = 0; i < N; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "m/f%04d.log", i);
		snprintf(many[i], PATH_MAX, "%s", fsct_path(&W, rel));
		if (i % 3 == 0)
			fsct_write(many[i], "present\n", 0);
		cr_assert_eq(fsc_request_watch(H, many[i]), 0);
	}
	fsct_sync(H);
	int caught = 0;
	static const uint64_t points[] = { 1, N / 3, 2 * N / 3 };
	for (int round = 0; round < 3 * scale(); round++) {
		int st = fsct_writer_kill(&W, SIGKILL);
		cr_assert(WIFSIGNALED(st));
		/* A successor, killed part-way through re-validating. */
		pid_t b = spawn_unready();
		caught += wait_loading(b, points[round % 3]);
		kill(b, SIGKILL);
		cr_assert_eq(waitpid(b, &st, 0), b);
		fsct_writer_restart(&W);
		fsct_sync(H);
		int lost = 0;
		char first[PATH_MAX] = "";
		for (int i = 0; i < N; i++) {
			struct fsc_stat c;
			int rc = fsc_lookup(H, many[i], &c);
			if (rc != 0 && !lost++)
				memcpy(first, many[i], strlen(many[i]) + 1);
		}
		cr_assert_eq(lost, 0,
			     "round %d: %d of %d watched paths lost "
			     "after a successor was killed while loading "
			     "(first: %s)",
			     round, lost, N, first);
	}
	cr_log_info("%d of %d successors killed while still loading", caught,
		    3 * scale());
	fsct_writer_stop(&W);
}

/* ---- readers killed at random points, under load -------------------------- */

Test(crash, readers_killed_at_random_points_under_load)
{
	make_paths();
	fsct_writer_start(&W, NULL);
	H = fsct_open(&W);
	watch_all();
	fsct_sync(H);
	start_load();
	start_readers(); /* the survivors, checking as they go */
	readers_progress(100, 1, "first hits");
	unsigned s = seed;
	int kills = 20 * scale();
	for (int k = 0; k < kills; k++) {
		/* A victim: one of the reader kinds, killed after a random
		 * number of its own lookups (it reports each on a pipe). */
		int p[2];
		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
		long after = (long)(rnd(&s) % 5000);
		int how = (int)(rnd(&s) % 3);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			fork_child_prepare();
			close(p[0]);
			fsc_handle *h = NULL;
			for (long it = 0; it < READER_LIMIT; it++) {
				if (!h && fsc_open(&h, W.name, 0) < 0)
					_exit(40);
				struct fsc_stat c;
				const char *path = paths[it % NPATHS];
				if (how == 0)
					(void)fsc_lookup(h, path, &c);
				else
					(void)fsc_stat(h, path, &c);
				if (how == 2 && it % 5 == 4) {
					fsc_close(
						h); /* killed while attaching too */
					h = NULL;
				}
				if (it == after && write(p[1], "R", 1) != 1)
					_exit(41);
			}
			_exit(0);
		}
		close(p[1]);
		load_burst_begin(100);
		struct pollfd pf = { p[0], POLLIN, 0 };
		cr_assert_eq(poll(&pf, 1, GUARD_MS), 1, "victim %d silent", k);
		kill(pid, SIGKILL);
		close(p[0]);
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			  "victim %d (kind %d, after %ld): status 0x%x", k, how,
			  after, st);
		load_burst_wait();
	}
	/* Nobody noticed. */
	int st;
	cr_assert_eq(waitpid(W.pid, &st, WNOHANG), 0, "the writer died");
	readers_progress(100, 1, "after the victims");
	fsct_sync(H);
	check_all_fresh("after the victims");
	/* stop_readers() wants them to have seen a dead writer: not here. */
	uatomic_set(&S->stop, 1);
	for (int i = 0; i < NREADERS; i++) {
		cr_assert_eq(waitpid(reader_pids[i], &st, 0), reader_pids[i]);
		reader_pids[i] = 0;
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		struct reader_stats *r = &S->rd[i];
		cr_expect_eq(r->implausible + r->errors, 0, "reader %d: %s", i,
			     r->first_bad);
	}
	close(load_cmd);
	load_cmd = -1;
	cr_assert_eq(waitpid(load_pid, &st, 0), load_pid);
	load_pid = 0;
	fsct_writer_stop(&W);
}
