/*
 * harness.c - start, stop and kill a real fstatcached for integration tests.
 *
 * Every writer gets a unique instance name ("t<pid>x<counter>x<random>") and
 * a private directory made by mkdtemp(); its control socket lives there.
 * Readiness is a pipe handed to the writer as --ready-fd: the writer writes
 * "READY\n" once it serves, so no test ever waits by sleeping.  Every wait
 * in this file (readiness, exit, tool output) has a generous safety timeout
 * that fails the test with a message: a hang guard, never a timing
 * assumption.
 *
 * Children are spawned with fork()+execv() and get nothing the test process
 * holds open except what they are given (stdio, the ready pipe), so a writer
 * never keeps a Criterion pipe alive.  A writer is also killed by the kernel
 * (PR_SET_PDEATHSIG) if the thread that started it dies, so a crashing test
 * leaves no daemon behind; start and restart from the test's main thread.
 *
 * Failures use Criterion assertions, so these functions must run inside a
 * test (or its .init/.fini), on the thread that runs the test.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FSCT_GUARD_MS 60000 /* hang guard for every wait below */
#define FSCT_READY_FD 3     /* where the child finds the ready pipe */

const char *fsct_writer_binary(void)
{
	const char *p = getenv("FSTATCACHED");
	return p && *p ? p : "fstatcached";
}

const char *fsct_tool_binary(void)
{
	const char *p = getenv("FSTATCACHE_TOOL");
	return p && *p ? p : "fstatcache";
}

/* The ELF class and machine of a program (0 if unreadable). */
static unsigned elf_kind(const char *path)
{
	unsigned char e[20];
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(e, 1, sizeof(e), f) : 0;
	if (f)
		fclose(f);
	if (n < sizeof(e) || memcmp(e, "\177ELF", 4) != 0)
		return 0;
	return (unsigned)e[4] << 16 | (unsigned)e[18] | (unsigned)e[19] << 8;
}

int fsct_writer_emulated(void)
{
	const char *w = fsct_writer_binary();

	/* A bare name is found on $PATH, where fopen() does not look: an
	 * installed writer, taken as native. */
	return strchr(w, '/') && elf_kind(w) != elf_kind("/proc/self/exe");
}

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds left until `deadline` (>= 0). */
static int left_ms(uint64_t deadline)
{
	uint64_t now = now_ms();
	return now >= deadline ? 0 : (int)(deadline - now);
}

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)%s",
			 WTERMSIG(status), strsignal(WTERMSIG(status)),
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, size, "wait status 0x%x", status);
}

/*
 * Reap `pid`, waiting at most timeout_ms (a hang guard).  0 with *status
 * set, or -ETIMEDOUT (the child is still running and not reaped).
 */
static int reap(pid_t pid, int timeout_ms, int *status)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = { pfd, POLLIN, 0 };
		uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
		int r;
		do {
			r = poll(&p, 1, left_ms(deadline));
		} while (r < 0 && errno == EINTR);
		close(pfd);
		if (r == 0)
			return -ETIMEDOUT;
	}
	/* Without pidfd (old kernel) this blocks: nothing better to do. */
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			cr_assert_fail("waitpid(%d): %s", (int)pid,
				       strerror(errno));
		}
	}
	return 0;
}

/* Kill a child that outlived the hang guard, so the test can fail cleanly. */
static void reap_or_fail(pid_t pid, int *status, const char *what)
{
	if (reap(pid, FSCT_GUARD_MS, status) == 0)
		return;
	kill(pid, SIGKILL);
	(void)reap(pid, FSCT_GUARD_MS, status);
	cr_assert_fail("%s (pid %d) did not exit within %d ms; killed it", what,
		       (int)pid, FSCT_GUARD_MS);
}

/*
 * In a freshly forked child, before execv: async-signal-safe calls only
 * (the test may have threads).  Moves `keep` (or nothing, -1) to fd
 * FSCT_READY_FD, closes every other descriptor above stderr, and resets
 * what the test process may have changed about signals.
 */
static void child_prepare(int keep, pid_t parent)
{
	if (keep >= 0) {
		if (keep == FSCT_READY_FD) {
			if (fcntl(keep, F_SETFD, 0) < 0)
				_exit(126);
		} else if (dup2(keep, FSCT_READY_FD) < 0) {
			_exit(126);
		}
	}
	unsigned first = keep >= 0 ? FSCT_READY_FD + 1 : 3;
	if (syscall(SYS_close_range, first, ~0u, 0) < 0) {
		for (unsigned fd = first; fd < 1024; fd++)
			close((int)fd);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	/* Die with the thread that started us; the check closes the race. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);
}

/* ---- names and directories ------------------------------------------- */

static void make_name(char *buf, size_t size)
{
	static unsigned counter;
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)now_ms() ^ (uint32_t)getpid() * 2654435761u;
	unsigned n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	snprintf(buf, size, "t%ldx%ux%08x", (long)getpid(), n, rnd);
}

void fsct_writer_init(struct fsct_writer *w)
{
	if (w->dir[0])
		return;
	w->pid = 0;
	make_name(w->name, sizeof(w->name));
	cr_assert(fsc_name_ok(w->name), "bad generated name '%s'", w->name);
	char tmpl[] = "/tmp/fsct.XXXXXX";
	cr_assert_not_null(mkdtemp(tmpl), "mkdtemp(%s): %s", tmpl,
			   strerror(errno));
	snprintf(w->dir, sizeof(w->dir), "%s", tmpl);
	int n = snprintf(w->socket, sizeof(w->socket), "%s/ctl.sock", w->dir);
	cr_assert(n > 0 && (size_t)n < sizeof(w->socket),
		  "socket path too long");
}

const char *fsct_path(const struct fsct_writer *w, const char *rel)
{
	static _Thread_local char bufs[8][PATH_MAX];
	static _Thread_local unsigned next;
	char *b = bufs[next++ % 8];
	while (*rel == '/')
		rel++;
	int n = snprintf(b, PATH_MAX, "%s/%s", w->dir, rel);
	cr_assert(n > 0 && n < PATH_MAX, "path too long: %s/%s", w->dir, rel);
	return b;
}

/* ---- the writer -------------------------------------------------------- */

/* Wait for "READY\n" on `fd`; on EOF or error report how the writer ended. */
static void wait_ready(struct fsct_writer *w, int fd)
{
	char buf[64];
	size_t got = 0;
	uint64_t deadline = now_ms() + FSCT_GUARD_MS;
	for (;;) {
		size_t cmp = got < 6 ? got : 6;
		cr_assert(memcmp(buf, "READY\n", cmp) == 0,
			  "writer %s wrote '%.*s' on --ready-fd, not READY",
			  w->name, (int)got, buf);
		if (got >= 6)
			return;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, left_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert(r >= 0, "poll on ready pipe: %s", strerror(errno));
		if (r == 0) {
			kill(w->pid, SIGKILL);
			int st;
			(void)reap(w->pid, FSCT_GUARD_MS, &st);
			w->pid = 0;
			cr_assert_fail("writer %s (%s) not READY within %d ms "
				       "(hang guard); killed it",
				       w->name, fsct_writer_binary(),
				       FSCT_GUARD_MS);
		}
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		/* EOF (or error) before READY: the writer gave up. */
		int st = 0;
		pid_t pid = w->pid;
		reap_or_fail(pid, &st, "writer that closed --ready-fd");
		w->pid = 0;
		char why[96];
		describe_status(st, why, sizeof(why));
		cr_assert_fail("writer %s (pid %d, %s) %s before READY "
			       "(read %s, got '%.*s')",
			       w->name, (int)pid, fsct_writer_binary(), why,
			       n < 0 ? strerror(errno) : "EOF", (int)got, buf);
	}
}

static void spawn_writer(struct fsct_writer *w)
{
	cr_assert_eq(w->pid, 0, "writer %s already running", w->name);
	const char *argv[48];
	int n = 0;
	argv[n++] = fsct_writer_binary();
	argv[n++] = "--name";
	argv[n++] = w->name;
	argv[n++] = "--socket";
	argv[n++] = w->socket;
	argv[n++] = "--ready-fd";
	argv[n++] = "3"; /* FSCT_READY_FD */
	/* The event source under test: the suite runs once per source. */
	const char *events = getenv("FSCT_EVENTS");
	if (events && *events) {
		argv[n++] = "--events";
		argv[n++] = events;
	}
	for (int i = 0; i < w->nargs; i++)
		argv[n++] = w->args[i];
	argv[n] = NULL;

	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		child_prepare(p[1], parent);
		execv(argv[0], (char *const *)argv);
		execvp(argv[0], (char *const *)argv); /* bare name: $PATH */
		char msg[] = "harness: cannot exec the writer\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	close(p[1]);
	w->pid = pid;
	wait_ready(w, p[0]);
	close(p[0]);
}

uint64_t fsct_counter(fsc_handle *h, unsigned which)
{
	struct fsc_header hdr;
	cr_assert_eq(fsc_header_read(h, &hdr), 0);
	return hdr.counters[which];
}

#define WAIT_NS (60ull * 1000000000u)

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct fsc_stat fsct_wait_lookup(fsc_handle *h, const char *path, int want,
				 int64_t size)
{
	uint64_t end = mono_ns() + WAIT_NS;
	struct fsc_stat c;
	int r;

	for (;;) {
		memset(&c, 0, sizeof(c));
		r = fsc_lookup(h, path, &c);
		if (r == want && (want != 0 || c.size == size))
			return c;
		cr_assert_lt(mono_ns(), end,
			     "%s: lookup still %d (size %lld), want %d "
			     "(size %lld) after a minute",
			     path, r, (long long)c.size, want, (long long)size);
		sched_yield();
	}
}

void fsct_wait_counter(fsc_handle *h, unsigned which, uint64_t min)
{
	uint64_t end = mono_ns() + WAIT_NS;

	while (fsct_counter(h, which) < min) {
		cr_assert_lt(mono_ns(), end,
			     "counter %u below %llu after a "
			     "minute",
			     which, (unsigned long long)min);
		sched_yield();
	}
}

void fsct_flood(fsc_handle *h, const char *dir)
{
	struct fsc_header hdr;
	long limit = 16384;

	cr_assert_eq(fsc_header_read(h, &hdr), 0);
	FILE *f = fopen((hdr.flags & FSC_SEG_F_FANOTIFY)
				? "/proc/sys/fs/fanotify/max_queued_events"
				: "/proc/sys/fs/inotify/max_queued_events",
			"re");
	if (f) {
		if (fscanf(f, "%ld", &limit) != 1)
			limit = 16384;
		fclose(f);
	}
	for (long i = 0; i <= limit + 100; i++) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s/flood.%ld", dir, i);
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
		close(fd);
	}
}

int fsct_child_status(pid_t pid)
{
	int st = 0;
	reap_or_fail(pid, &st, "child process");
	return st;
}

void fsct_fixture_init(struct fsct_writer *w, fsc_handle **h)
{
	memset(w, 0, sizeof(*w));
	*h = NULL;
	fsct_writer_init(w);
}

void fsct_fixture_fini(struct fsct_writer *w, fsc_handle **h)
{
	fsc_close(*h);
	*h = NULL;
	fsct_writer_cleanup(w);
}

void fsct_writer_start(struct fsct_writer *w, const char *const *extra)
{
	fsct_writer_init(w);
	cr_assert_eq(w->nargs, 0, "fsct_writer_start called twice on %s",
		     w->name);
	for (int i = 0; extra && extra[i]; i++) {
		cr_assert(i < (int)(sizeof(w->args) / sizeof(w->args[0])),
			  "too many extra writer arguments");
		w->args[i] = strdup(extra[i]);
		cr_assert_not_null(w->args[i], "strdup");
		w->nargs = i + 1;
	}
	spawn_writer(w);
}

void fsct_writer_restart(struct fsct_writer *w)
{
	cr_assert(w->dir[0], "restart of a writer that was never started");
	spawn_writer(w);
}

/*
 * A writer without robust futexes (FSC_SEG_F_PID_LIVENESS, as under
 * qemu-user) is not marked dead by the kernel: readers learn it from its
 * lock within FSC_LIVENESS_CHECK_MS, which test_liveness.c tests.  The
 * other tests assert the robust-futex guarantee "the first lookup after the
 * writer is reaped falls back"; for them the harness, having reaped the
 * writer, checks that its lock is gone and marks the word as the kernel
 * would.  On a kernel with robust futexes this does nothing.
 */
static void mark_dead_like_the_kernel(const struct fsct_writer *w)
{
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), w->name, 0);
	int fd = shm_open(shm, O_RDWR, 0);
	if (fd < 0)
		return;
	struct fsc_header *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd, 0);
	if (h != MAP_FAILED && (h->flags & FSC_SEG_F_PID_LIVENESS) &&
	    uatomic_read(&h->writer_alive) != 0) {
		struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
		cr_assert_eq(fcntl(fd, F_OFD_GETLK, &fl), 0, "F_OFD_GETLK: %s",
			     strerror(errno));
		cr_assert_eq(fl.l_type, F_UNLCK,
			     "writer %s is reaped but its "
			     "liveness lock is still held",
			     w->name);
		uatomic_or(&h->writer_alive, FSC_WRITER_DIED);
	}
	if (h != MAP_FAILED)
		munmap(h, sizeof(*h));
	close(fd);
}

int fsct_writer_kill(struct fsct_writer *w, int sig)
{
	cr_assert(w->pid > 0, "writer %s is not running", w->name);
	cr_assert_eq(kill(w->pid, sig), 0, "kill(%d, %d): %s", (int)w->pid, sig,
		     strerror(errno));
	int st = 0;
	reap_or_fail(w->pid, &st, "writer after a signal");
	w->pid = 0;
	if (WIFSIGNALED(st))
		mark_dead_like_the_kernel(w);
	return st;
}

/* 1 when the shared-memory object exists, 0 when it does not. */
static int shm_exists(const char *name, int which)
{
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), name, which);
	int fd = shm_open(shm, O_RDONLY, 0);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return errno != ENOENT;
}

void fsct_writer_stop(struct fsct_writer *w)
{
	int st = fsct_writer_kill(w, SIGTERM);
	char why[96];
	describe_status(st, why, sizeof(why));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "writer %s on SIGTERM: %s, want exit 0", w->name, why);
	for (int obj = FSC_OBJ_TABLE; obj <= FSC_OBJ_TAGS; obj++) {
		char shm[FSC_SHM_NAME_SIZE];
		fsc_shm_name(shm, sizeof(shm), w->name, obj);
		cr_assert(!shm_exists(w->name, obj),
			  "writer %s left /dev/shm%s behind", w->name, shm);
	}
	struct stat sb;
	cr_assert(lstat(w->socket, &sb) < 0 && errno == ENOENT,
		  "writer %s left its socket %s behind", w->name, w->socket);
}

static int remove_one(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

void fsct_writer_cleanup(struct fsct_writer *w)
{
	if (w->pid > 0) {
		int st;
		kill(w->pid, SIGKILL);
		if (reap(w->pid, FSCT_GUARD_MS, &st) < 0)
			cr_log_error("writer %d survived SIGKILL", (int)w->pid);
		w->pid = 0;
	}
	if (w->name[0]) {
		char shm[FSC_NAME_MAX + 32];
		for (int obj = FSC_OBJ_TABLE; obj <= FSC_OBJ_TAGS; obj++) {
			fsc_shm_name(shm, sizeof(shm), w->name, obj);
			if (shm_unlink(shm) < 0 && errno != ENOENT)
				cr_log_warn("shm_unlink(%s): %s", shm,
					    strerror(errno));
		}
	}
	if (w->dir[0]) {
		if (nftw(w->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
			cr_log_warn("cannot remove %s: %s", w->dir,
				    strerror(errno));
	}
	for (int i = 0; i < w->nargs; i++)
		free(w->args[i]);
	memset(w, 0, sizeof(*w));
}

/* ---- reader side --------------------------------------------------------- */

fsc_handle *fsct_open(const struct fsct_writer *w)
{
	fsc_handle *h = NULL;
	int r = fsc_open(&h, w->name, FSC_OPEN_ATTACHED);
	cr_assert_eq(r, 0, "fsc_open(%s): %s", w->name, fsc_strerror(r));
	return h;
}

void fsct_control_at(fsc_handle *h, int op, const char *path, const char *file,
		     int line)
{
	char msg[FSC_REPLY_MSG_MAX + 1];
	int r = fsc_control(h, op, path, FSCT_GUARD_MS, msg, sizeof(msg));
	cr_assert_eq(r, 0, "%s:%d: control op %d on %s: %s (%d) %s", file, line,
		     op, path ? path : "-", fsc_strerror(r), r, msg);
}

void fsct_sync(fsc_handle *h)
{
	char msg[FSC_REPLY_MSG_MAX + 1];
	int r = fsc_control(h, FSC_OP_SYNC, NULL, FSCT_GUARD_MS, msg,
			    sizeof(msg));
	cr_assert_eq(r, 0, "sync on %s: %s (%d)%s%s", h->name, fsc_strerror(r),
		     r, msg[0] ? ": " : "", msg);
}

void fsct_write(const char *path, const char *text, int append)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC |
		    (append ? O_APPEND : O_TRUNC);
	int fd = open(path, flags, 0644);
	cr_assert(fd >= 0, "open(%s): %s", path, strerror(errno));
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		cr_assert(n > 0, "write(%s): %s", path, strerror(errno));
		off += (size_t)n;
	}
	cr_assert_eq(close(fd), 0, "close(%s): %s", path, strerror(errno));
}

/* ---- the command-line tool --------------------------------------------- */

struct capture {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Read what is available; 1 at EOF. */
static int capture_read(struct capture *c)
{
	if (c->cap - c->len < 4096) {
		c->cap = c->cap * 2 + 4096;
		c->buf = realloc(c->buf, c->cap);
		cr_assert_not_null(c->buf, "out of memory");
	}
	ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	cr_assert(n >= 0, "read from the tool: %s", strerror(errno));
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return n == 0;
}

/* Drain both pipes until both reach EOF (hang guard: FSCT_GUARD_MS). */
static void capture_all(struct capture *c, pid_t pid)
{
	uint64_t deadline = now_ms() + FSCT_GUARD_MS;
	int open_n = 2;
	while (open_n > 0) {
		struct pollfd p[2];
		int idx[2], np = 0;
		for (int i = 0; i < 2; i++) {
			if (c[i].fd >= 0) {
				p[np] = (struct pollfd){ c[i].fd, POLLIN, 0 };
				idx[np++] = i;
			}
		}
		int r = poll(p, (nfds_t)np, left_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert(r >= 0, "poll: %s", strerror(errno));
		if (r == 0) {
			kill(pid, SIGKILL);
			int st;
			(void)reap(pid, FSCT_GUARD_MS, &st);
			cr_assert_fail("%s did not finish within %d ms; "
				       "killed it",
				       fsct_tool_binary(), FSCT_GUARD_MS);
		}
		for (int k = 0; k < np; k++) {
			if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct capture *ci = &c[idx[k]];
			if (capture_read(ci)) {
				close(ci->fd);
				ci->fd = -1;
				open_n--;
			}
		}
	}
}

static char tool_stdin[PATH_MAX] = "/dev/null";

void fsct_tool_stdin(const char *path)
{
	snprintf(tool_stdin, sizeof(tool_stdin), "%s",
		 path ? path : "/dev/null");
}

int fsct_tool(const struct fsct_writer *w, const char *const *argv, char **out,
	      char **err)
{
	const char *args[64];
	int n = 0;
	args[n++] = fsct_tool_binary();
	int i = 0;
	if (argv && argv[0])
		args[n++] = argv[i++];
	args[n++] = "--name";
	args[n++] = w->name;
	for (; argv && argv[i]; i++) {
		cr_assert(n < 63, "too many tool arguments");
		args[n++] = argv[i];
	}
	args[n] = NULL;

	int po[2], pe[2];
	cr_assert_eq(pipe2(po, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		int nul = open(tool_stdin, O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(po[1], 1) < 0 ||
		    dup2(pe[1], 2) < 0)
			_exit(126);
		child_prepare(-1, parent);
		execv(args[0], (char *const *)args);
		execvp(args[0], (char *const *)args);
		char msg[] = "harness: cannot exec the tool\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	struct capture c[2] = { { po[0], NULL, 0, 0 }, { pe[0], NULL, 0, 0 } };
	capture_all(c, pid);
	int st = 0;
	reap_or_fail(pid, &st, fsct_tool_binary());
	for (int k = 0; k < 2; k++) {
		char **dst = k == 0 ? out : err;
		if (!c[k].buf)
			c[k].buf = calloc(1, 1);
		cr_assert_not_null(c[k].buf, "out of memory");
		if (dst)
			*dst = c[k].buf;
		else
			free(c[k].buf);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	char why[96];
	describe_status(st, why, sizeof(why));
	cr_log_warn("%s %s: %s", fsct_tool_binary(),
		    argv && argv[0] ? argv[0] : "", why);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

struct fsct_run fsct_tool_run(const struct fsct_writer *w,
			      const char *const *argv)
{
	struct fsct_run r;
	r.status = fsct_tool(w, argv, &r.out, &r.err);
	return r;
}

void fsct_run_free(struct fsct_run *r)
{
	free(r->out);
	free(r->err);
}

void fsct_expect_ok(const struct fsct_run *r, const char *what)
{
	cr_assert_eq(r->status, 0, "%s: exit %d, stderr: %s", what, r->status,
		     r->err);
	cr_assert_str_empty(r->err, "%s: stderr: %s", what, r->err);
}
