/*
 * test_logtail.c - fsc-tail driven as a user runs it, against a real writer.
 *
 * Each scenario changes files the way programs and log rotation do, calls
 * the writer's sync barrier, then makes the agent poll once
 * (--poll-on-stdin: a newline on its stdin, "== poll N done" back) and
 * compares what it printed, on stdout and stderr, with what `tail -F`
 * would say.  The barrier and the marker are the only synchronisation:
 * there are no sleeps.  The same scenarios run with the agent in --stat
 * mode beside the cached one (their output must be identical) and with no
 * writer at all (every answer by stat()).
 *
 * The agent runs in the writer's temp dir and is given relative names, so
 * its labels are short ("f: line") and its path handling is exercised.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MS 60000 /* hang guard for every wait on the agent */

enum {
	CACHE = 1,
	STAT = 2
};

struct buf {
	char *p;
	size_t len, cap;
};

struct agent {
	pid_t pid;
	int mode;            /* CACHE or STAT */
	int in, out, err;    /* our ends of its stdin, stdout, stderr */
	struct buf o, e;     /* everything it printed so far */
	unsigned long polls; /* polls asked for after poll 0 */
};

static struct fsct_writer W;
static fsc_handle *H; /* NULL when the scenario runs without writer */
static struct agent A[2];
static int NA;

static void setup(void)
{
	memset(A, 0, sizeof(A));
	NA = 0;
	signal(SIGPIPE, SIG_IGN); /* a dead agent: EPIPE, not a dead test */
	fsct_fixture_init(&W, &H);
}

static void agent_kill(struct agent *a)
{
	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		while (waitpid(a->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (a->in >= 0)
		close(a->in);
	if (a->out >= 0)
		close(a->out);
	if (a->err >= 0)
		close(a->err);
	free(a->o.p);
	free(a->e.p);
	memset(a, 0, sizeof(*a));
}

static void teardown(void)
{
	for (int i = 0; i < NA; i++)
		agent_kill(&A[i]);
	NA = 0;
	fsct_fixture_fini(&W, &H);
}

TestSuite(logtail, .init = setup, .fini = teardown, .timeout = 240);

#define P(rel) fsct_path(&W, rel)

static const char *tail_binary(void)
{
	const char *p = getenv("FSC_TAIL");
	return p && *p ? p : "fsc-tail";
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A string built like printf (freed by the caller). */
__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	va_start(ap, f);
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	cr_assert(n >= 0, "out of memory");
	return s;
}

/* ---- the agent process ----------------------------------------------- */

/* Run fsc-tail with argv (NULL-terminated) in W.dir, stdio on pipes. */
static void agent_spawn(struct agent *a, const char *const *argv)
{
	const char *args[300];
	int n = 0;
	args[n++] = tail_binary();
	for (int i = 0; argv[i]; i++) {
		cr_assert(n < 298, "too many arguments");
		args[n++] = argv[i];
	}
	args[n] = NULL;
	int pi[2], po[2], pe[2];
	cr_assert(pipe2(pi, O_CLOEXEC) == 0 && pipe2(po, O_CLOEXEC) == 0 &&
			  pipe2(pe, O_CLOEXEC) == 0,
		  "pipe2: %s", strerror(errno));
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(pi[0], 0) < 0 || dup2(po[1], 1) < 0 ||
		    dup2(pe[1], 2) < 0 || chdir(W.dir) < 0)
			_exit(126);
		if (syscall(SYS_close_range, 3, ~0u, 0) < 0)
			for (int fd = 3; fd < 1024; fd++)
				close(fd);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* die with the test */
		if (getppid() != parent)
			_exit(125);
		execv(args[0], (char *const *)args);
		execvp(args[0], (char *const *)args);
		_exit(127);
	}
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	a->pid = pid;
	a->in = pi[1];
	a->out = po[0];
	a->err = pe[0];
}

static void buf_read(struct agent *a, int *fd, struct buf *b)
{
	if (b->cap - b->len < 4096) {
		b->cap = b->cap * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p, "out of memory");
		b->p[b->len] = '\0';
	}
	ssize_t n = read(*fd, b->p + b->len, b->cap - b->len - 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	cr_assert(n >= 0, "read from agent %d: %s", (int)a->pid,
		  strerror(errno));
	if (n == 0) {
		close(*fd);
		*fd = -1;
	}
	b->len += (size_t)n;
	b->p[b->len] = '\0';
}

static int has_marker(const struct buf *b, size_t from, const char *marker)
{
	return b->p && b->len >= from && strstr(b->p + from, marker);
}

/*
 * Read the agent's stdout and stderr until stdout (after byte `from`)
 * holds `marker`, or, with marker NULL, until both reach EOF.
 */
static void agent_pump(struct agent *a, size_t from, const char *marker)
{
	uint64_t deadline = now_ms() + GUARD_MS;
	for (;;) {
		if (marker ? has_marker(&a->o, from, marker)
			   : a->out < 0 && a->err < 0)
			return;
		cr_assert(!marker || a->out >= 0,
			  "agent exited before '%s'; stdout: %s; stderr: %s",
			  marker, a->o.p ? a->o.p : "", a->e.p ? a->e.p : "");
		struct pollfd p[2];
		int np = 0;
		if (a->out >= 0)
			p[np++] = (struct pollfd){ a->out, POLLIN, 0 };
		if (a->err >= 0)
			p[np++] = (struct pollfd){ a->err, POLLIN, 0 };
		uint64_t now = now_ms();
		int r = poll(p, (nfds_t)np,
			     now < deadline ? (int)(deadline - now) : 0);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert(r >= 0, "poll: %s", strerror(errno));
		cr_assert(r > 0,
			  "agent %d silent for %d ms (hang guard); "
			  "stdout: %s",
			  (int)a->pid, GUARD_MS, a->o.p ? a->o.p : "");
		for (int i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == a->out)
				buf_read(a, &a->out, &a->o);
			else
				buf_read(a, &a->err, &a->e);
		}
	}
}

/* Whatever the agent wrote to stderr so far, without waiting. */
static void agent_drain_err(struct agent *a)
{
	int fl = fcntl(a->err, F_GETFL);
	fcntl(a->err, F_SETFL, fl | O_NONBLOCK);
	size_t before;
	do {
		before = a->e.len;
		buf_read(a, &a->err, &a->e);
	} while (a->err >= 0 && a->e.len > before);
	if (a->err >= 0)
		fcntl(a->err, F_SETFL, fl);
}

/*
 * One poll: a newline on its stdin, then its output up to the marker.
 * Returns what it printed during the poll, stdout and stderr (malloc'd).
 */
static void agent_poll(struct agent *a, int ask, char **out, char **err)
{
	size_t o0 = a->o.len, e0 = a->e.len;
	unsigned long n = ask ? ++a->polls : 0;
	if (ask)
		cr_assert_eq(write(a->in, "\n", 1), 1, "write to agent: %s",
			     strerror(errno));
	char marker[64];
	snprintf(marker, sizeof(marker), "== poll %lu done\n", n);
	agent_pump(a, o0, marker);
	agent_drain_err(a);
	const char *m = strstr(a->o.p + o0, marker);
	cr_assert_eq(m[strlen(marker)], '\0', "output after the marker: %s",
		     m + strlen(marker));
	*out = fmt("%.*s", (int)(m - (a->o.p + o0)), a->o.p + o0);
	*err = fmt("%s", a->e.p ? a->e.p + e0 : "");
}

/* Close its stdin: it prints the partial lines it holds and exits 0. */
static void agent_stop(struct agent *a, char **out, char **err)
{
	size_t o0 = a->o.len, e0 = a->e.len;
	close(a->in);
	a->in = -1;
	agent_pump(a, 0, NULL);
	int st = 0;
	while (waitpid(a->pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	a->pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "agent exit status %#x; stderr: %s", st, a->e.p);
	*out = fmt("%s", a->o.p ? a->o.p + o0 : "");
	*err = fmt("%s", a->e.p ? a->e.p + e0 : "");
}

/* ---- scenarios ------------------------------------------------------- */

/*
 * Start one agent per mode in `modes` following `files` (NULL-terminated)
 * with `extra` options first (may be NULL); check poll 0 printed nothing
 * and said `err0` on stderr.
 */
static void start(int modes, const char *const *extra, const char *err0,
		  const char *const *files)
{
	for (int mode = CACHE; mode <= STAT; mode++) {
		if (!(modes & mode))
			continue;
		const char *argv[290];
		int n = 0;
		argv[n++] = "--poll-on-stdin";
		if (mode == STAT) {
			argv[n++] = "--stat";
		} else {
			argv[n++] = "--name";
			argv[n++] = W.name;
		}
		for (int i = 0; extra && extra[i]; i++)
			argv[n++] = extra[i];
		for (int i = 0; files[i]; i++) {
			cr_assert(n < 288, "too many files");
			argv[n++] = files[i];
		}
		argv[n] = NULL;
		struct agent *a = &A[NA++];
		a->in = a->out = a->err = -1;
		a->mode = mode;
		agent_spawn(a, argv);
		char *out, *err;
		agent_poll(a, 0, &out, &err);
		const char *nowriter =
			!H && mode == CACHE
				? "fsc-tail: no fstatcache writer serving"
				: NULL;
		if (nowriter) { /* said once, before the first poll */
			cr_assert(!strncmp(err, nowriter, strlen(nowriter)),
				  "stderr: %s", err);
			char *rest = fmt("%s", strchr(err, '\n') + 1);
			free(err);
			err = rest;
		}
		cr_assert_str_eq(out, "", "poll 0 printed: %s", out);
		cr_assert_str_eq(err, err0 ? err0 : "", "poll 0 stderr: %s",
				 err);
		free(out);
		free(err);
	}
	if (H) /* the agents' watch requests are in before anything changes */
		fsct_sync(H);
}

/* After changes: sync, one poll of every agent, exact output expected. */
static void expect(const char *out, const char *err)
{
	if (H)
		fsct_sync(H);
	for (int i = 0; i < NA; i++) {
		char *o, *e;
		agent_poll(&A[i], 1, &o, &e);
		cr_assert_str_eq(o, out,
				 "%s agent, poll %lu printed:\n%s\n"
				 "expected:\n%s",
				 A[i].mode == CACHE ? "cached" : "--stat",
				 A[i].polls, o, out);
		cr_assert_str_eq(e, err ? err : "",
				 "%s agent, poll %lu "
				 "stderr:\n%s",
				 A[i].mode == CACHE ? "cached" : "--stat",
				 A[i].polls, e);
		free(o);
		free(e);
	}
}

/* Stop every agent; each prints `out` (partial lines) at exit. */
static void finish(const char *out)
{
	for (int i = 0; i < NA; i++) {
		char *o, *e;
		agent_stop(&A[i], &o, &e);
		cr_assert_str_eq(o, out, "at exit: %s", o);
		cr_assert_str_eq(e, "", "stderr at exit: %s", e);
		free(o);
		free(e);
		agent_kill(&A[i]); /* frees the buffers */
	}
	NA = 0;
}

static void write_file(const char *rel, const char *text)
{
	fsct_write(P(rel), text, 0);
}

static void append(const char *rel, const char *text)
{
	fsct_write(P(rel), text, 1);
}

static void scenario_append(int modes)
{
	write_file("a1", "old line\n");
	write_file("a2", "old\nlines\n");
	start(modes, NULL, NULL, (const char *[]){ "a1", "a2", NULL });
	append("a1", "one\ntwo\n");
	append("a2", "three\n");
	expect("a1: one\na1: two\na2: three\n", NULL);
	expect("", NULL); /* nothing changed: nothing printed twice */
	append("a2", "four\n");
	append("a1", "five\n");
	expect("a1: five\na2: four\n", NULL);
	finish("");
}

static void scenario_copytruncate(int modes)
{
	write_file("c", "before the agent\n");
	start(modes, NULL, NULL, (const char *[]){ "c", NULL });
	append("c", "1\n2\n");
	expect("c: 1\nc: 2\n", NULL);
	/* logrotate's copytruncate: copy, then truncate in place. */
	write_file("c.1", "before the agent\n1\n2\n");
	cr_assert_eq(truncate(P("c"), 0), 0, "truncate: %s", strerror(errno));
	append("c", "3\n");
	expect("c: 3\n", "fsc-tail: c: file truncated\n");
	append("c", "4\n");
	expect("c: 4\n", NULL);
	finish("");
}

static void scenario_rename(int modes)
{
	write_file("r", "old\n");
	start(modes, NULL, NULL, (const char *[]){ "r", NULL });
	append("r", "a\n");
	expect("r: a\n", NULL);
	/* Written just before the rotation, never polled in the old file:
	 * still printed, the unfinished line too. */
	append("r", "b\nunfinished");
	cr_assert_eq(rename(P("r"), P("r.1")), 0, "rename: %s",
		     strerror(errno));
	write_file("r", "c\n");
	expect("r: b\nr: unfinished\nr: c\n",
	       "fsc-tail: r: has been replaced; following new file\n");
	append("r.1", "late write to the old file\n"); /* not followed */
	append("r", "d\n");
	expect("r: d\n", NULL);
	finish("");
}

static void scenario_created(int modes)
{
	start(modes, NULL,
	      "fsc-tail: n.log: does not exist yet; waiting for "
	      "it\n",
	      (const char *[]){ "n.log", NULL });
	expect("", NULL);
	write_file("n.log", "hello\nworld\n");
	expect("n.log: hello\nn.log: world\n",
	       "fsc-tail: n.log: has appeared; following new file\n");
	append("n.log", "again\n");
	expect("n.log: again\n", NULL);
	finish("");
}

static void scenario_recreated(int modes)
{
	write_file("d", "x\n");
	start(modes, NULL, NULL, (const char *[]){ "d", NULL });
	cr_assert_eq(unlink(P("d")), 0, "unlink: %s", strerror(errno));
	expect("", "fsc-tail: d: has become inaccessible\n");
	write_file("d", "y\n");
	expect("d: y\n", "fsc-tail: d: has appeared; following new file\n");
	/* Deleted and re-created between two polls: the old file's last
	 * line comes first. */
	append("d", "z\n");
	cr_assert_eq(unlink(P("d")), 0, "unlink: %s", strerror(errno));
	write_file("d", "w\n");
	expect("d: z\nd: w\n",
	       "fsc-tail: d: has been replaced; following new file\n");
	finish("");
}

static void scenario_partial(int modes)
{
	write_file("p", "");
	start(modes, NULL, NULL, (const char *[]){ "p", NULL });
	append("p", "hel");
	expect("", NULL);
	append("p", "lo\nwor");
	expect("p: hello\n", NULL);
	append("p", "ld\n");
	expect("p: world\n", NULL);
	append("p", "no newline yet");
	expect("", NULL);
	finish("p: no newline yet\n"); /* held lines are printed at exit */
}

static void (*const scenarios[])(int) = {
	scenario_append,  scenario_copytruncate, scenario_rename,
	scenario_created, scenario_recreated,    scenario_partial,
};

static void start_writer(void)
{
	fsct_writer_start(&W, NULL);
	H = fsct_open(&W);
}

/* ---- tests ----------------------------------------------------------- */

Test(logtail, appended_lines_once_in_order)
{
	start_writer();
	scenario_append(CACHE);
}

Test(logtail, copytruncate_rotation)
{
	start_writer();
	scenario_copytruncate(CACHE);
}

Test(logtail, rename_rotation_loses_nothing)
{
	start_writer();
	scenario_rename(CACHE);
}

Test(logtail, file_created_after_start)
{
	start_writer();
	scenario_created(CACHE);
}

Test(logtail, file_deleted_and_recreated)
{
	start_writer();
	scenario_recreated(CACHE);
}

Test(logtail, partial_line_completed_later)
{
	start_writer();
	scenario_partial(CACHE);
}

/* Every scenario, the cached agent and the --stat agent side by side. */
Test(logtail, stat_mode_prints_the_same)
{
	start_writer();
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		scenarios[i](CACHE | STAT);
}

/* No writer: every answer comes from stat(), and nothing changes. */
Test(logtail, no_writer_falls_back_to_stat)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		scenarios[i](CACHE);
}

/* Append a line to k of the n files m000...; the agent's expected output. */
static void append_round(int r, int n, int k, char *want, size_t size)
{
	size_t w = 0;
	want[0] = '\0';
	for (int i = 0; i < n; i++) {
		int picked = 0;
		for (int j = 0; j < k; j++) /* distinct: 67 * j < n */
			picked |= (r * 37 + j * 67) % n == i;
		if (!picked)
			continue;
		char name[32], *line = fmt("round %d\n", r);
		snprintf(name, sizeof(name), "m%03d", i);
		append(name, line);
		free(line);
		w += (size_t)snprintf(want + w, size - w, "%s: round %d\n",
				      name, r);
		cr_assert(w < size, "expected output too long");
	}
}

/*
 * 200 files, a few changing per poll.  After poll 0 (misses: stat() and a
 * watch request each) every answer is a cache hit: no stat() at all.
 */
Test(logtail, many_files_few_changing)
{
	enum {
		N = 200,
		ROUNDS = 5,
		PER_ROUND = 3
	};
	char *list = fmt("%s", P("list"));
	FILE *l = fopen(list, "we");
	cr_assert_not_null(l, "%s: %s", list, strerror(errno));
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "m%03d", i);
		write_file(name, "existing\n");
		fprintf(l, "%s\n", name);
	}
	cr_assert_eq(fclose(l), 0, "fclose");
	start_writer();
	start(CACHE | STAT,
	      (const char *[]){ "--stats", "--files-from", "list", NULL }, NULL,
	      (const char *[]){ NULL });
	for (int r = 0; r < ROUNDS; r++) {
		char want[512];
		append_round(r, N, PER_ROUND, want, sizeof(want));
		expect(want, NULL);
	}
	for (int i = 0; i < NA; i++) {
		char *o, *e;
		agent_stop(&A[i], &o, &e);
		cr_assert_str_eq(o, "", "at exit: %s", o);
		unsigned long long hits, stats;
		const char *s = strstr(e, "cache_hits=");
		const char *t = strstr(e, "stat_calls=");
		cr_assert(s && t && sscanf(s, "cache_hits=%llu", &hits) == 1 &&
				  sscanf(t, "stat_calls=%llu", &stats) == 1,
			  "no stats line: %s", e);
		if (A[i].mode == CACHE) {
			cr_assert_eq(stats, N, "stat() calls: %llu", stats);
			cr_assert_eq(hits, N * ROUNDS, "hits: %llu", hits);
		} else {
			cr_assert_eq(stats, N * (ROUNDS + 1),
				     "stat() calls: "
				     "%llu",
				     stats);
			cr_assert_eq(hits, 0, "hits: %llu", hits);
		}
		free(o);
		free(e);
		agent_kill(&A[i]);
	}
	NA = 0;
	free(list);
}

Test(logtail, from_start_prints_existing_lines)
{
	start_writer();
	write_file("s", "first\nsecond\n");
	const char *argv[] = {
		"--poll-on-stdin", "--from-start", "--name", W.name, "s", NULL
	};
	struct agent *a = &A[NA++];
	a->in = a->out = a->err = -1;
	a->mode = CACHE;
	agent_spawn(a, argv);
	char *out, *err;
	agent_poll(a, 0, &out, &err);
	cr_assert_str_eq(out, "s: first\ns: second\n", "poll 0: %s", out);
	cr_assert_str_eq(err, "", "stderr: %s", err);
	free(out);
	free(err);
	fsct_sync(H);
	append("s", "third\n");
	expect("s: third\n", NULL);
	finish("");
}

Test(logtail, sigterm_exits_cleanly)
{
	start_writer();
	write_file("t", "");
	start(CACHE, NULL, NULL, (const char *[]){ "t", NULL });
	append("t", "held");
	expect("", NULL);
	struct agent *a = &A[0];
	cr_assert_eq(kill(a->pid, SIGTERM), 0, "kill: %s", strerror(errno));
	agent_pump(a, 0, NULL);
	int st = 0;
	while (waitpid(a->pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	a->pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	cr_assert(strstr(a->o.p, "t: held\n"), "stdout: %s", a->o.p);
}

/* ---- stop signals and big files --------------------------------------- */

/* n lines "<tag> NNNNNNNNN\n" (malloc'd), or with label "L: " before each. */
static char *numbered(const char *label, const char *tag, int n)
{
	size_t size = (size_t)n * (strlen(label) + strlen(tag) + 16) + 1, w = 0;
	char *s = malloc(size);
	cr_assert_not_null(s, "out of memory");
	s[0] = '\0';
	for (int i = 0; i < n; i++)
		w += (size_t)snprintf(s + w, size - w, "%s%s %09d\n", label,
				      tag, i);
	return s;
}

/* Wait (hang guard) until `fd` is readable, without reading it. */
static void wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int r;
	while ((r = poll(&p, 1, GUARD_MS)) < 0 && errno == EINTR)
		;
	cr_assert(r > 0, "nothing to read after %d ms (hang guard)", GUARD_MS);
}

/*
 * Wait for the agent to exit without reading its stdout: its stderr is
 * read to EOF (hang guard), then it is reaped.  Its wait status.
 */
static int agent_exit_status(struct agent *a)
{
	while (a->err >= 0) {
		wait_readable(a->err);
		buf_read(a, &a->err, &a->e);
	}
	int st = 0;
	while (waitpid(a->pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	a->pid = 0;
	return st;
}

/*
 * The reader of its stdout stalls (say `fsc-tail ... | sleep 3`) while
 * the agent has far more to print than the pipe holds: SIGTERM must still
 * stop it, exit status 0, before anyone reads the pipe.
 */
Test(logtail, sigterm_stops_agent_blocked_on_stdout)
{
	start_writer();
	write_file("big", "");
	start(CACHE, NULL, NULL, (const char *[]){ "big", NULL });
	char *text = numbered("", "line", 1 << 16); /* 1 MiB */
	append("big", text);
	free(text);
	fsct_sync(H);
	struct agent *a = &A[0];
	cr_assert_eq(write(a->in, "\n", 1), 1, "write to agent: %s",
		     strerror(errno));
	wait_readable(
		a->out); /* it is printing poll 1: it will fill the pipe */
	cr_assert_eq(kill(a->pid, SIGTERM), 0, "kill: %s", strerror(errno));
	int st = agent_exit_status(a);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "status %#x; "
		  "stderr: %s",
		  st, a->e.p ? a->e.p : "");
	cr_assert_eq(a->e.len, 0, "stderr: %s", a->e.p);
	/* What it did print is whole lines of the file, in order. */
	size_t o0 = a->o.len;
	agent_pump(a, 0, NULL);
	const char *o = a->o.p + o0;
	size_t len = a->o.len - o0;
	cr_assert_lt(len, (size_t)1 << 20, "printed all of it");
	while (len && o[len - 1] != '\n')
		len--;
	char *all = numbered("big: ", "line", 1 << 16);
	cr_assert(len > 0 && !memcmp(o, all, len), "stdout: %.200s", o);
	free(all);
}

/*
 * Poll agent a until its stdout holds `last` (at most `max` polls);
 * everything printed on stdout and stderr meanwhile.  Returns the polls.
 */
static int poll_until(struct agent *a, const char *last, int max, char **out,
		      char **err)
{
	size_t o0 = a->o.len, e0 = a->e.len;
	int polls = 0;
	while (!has_marker(&a->o, o0, last)) {
		cr_assert_lt(polls, max, "no '%s' after %d polls", last, max);
		char *o, *e;
		agent_poll(a, 1, &o, &e);
		free(o);
		free(e);
		polls++;
	}
	/* Without the markers, which agent_poll has checked. */
	struct buf b = { 0 };
	const char *p = a->o.p + o0;
	b.p = malloc(a->o.len - o0 + 1);
	cr_assert_not_null(b.p, "out of memory");
	for (const char *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (strncmp(p, "== poll ", 8)) {
			memcpy(b.p + b.len, p, (size_t)(nl + 1 - p));
			b.len += (size_t)(nl + 1 - p);
		}
	}
	b.p[b.len] = '\0';
	*out = b.p;
	*err = fmt("%s", a->e.p ? a->e.p + e0 : "");
	return polls;
}

/*
 * A file that got 4 MiB does not hold the others up: the one new line of
 * another file is printed by the same poll, and the 4 MiB over the next
 * polls (TAIL_POLL_READ each), in order, each line once.
 */
Test(logtail, fast_file_does_not_starve_the_others)
{
	enum {
		LINES = 1 << 18
	}; /* of 16 bytes: 4 MiB */
	start_writer();
	write_file("fast", "");
	write_file("slow", "");
	start(CACHE | STAT, NULL, NULL,
	      (const char *[]){ "fast", "slow", NULL });
	char *text = numbered("", "line", LINES);
	append("fast", text);
	free(text);
	append("slow", "one line\n");
	if (H)
		fsct_sync(H);
	char *want = numbered("fast: ", "line", LINES);
	char last[64];
	snprintf(last, sizeof(last), "fast: line %09d\n", LINES - 1);
	for (int i = 0; i < NA; i++) {
		char *o, *e;
		agent_poll(&A[i], 1, &o, &e);
		cr_assert(strstr(o, "slow: one line\n"), "poll 1 printed no "
							 "line of slow");
		cr_assert_null(strstr(o, last), "poll 1 read all of fast");
		cr_assert_str_eq(e, "", "stderr: %s", e);
		/* Whole lines of fast so far (the cap may split one). */
		char *slow = strstr(o, "slow: one line\n");
		size_t n = (size_t)(slow - o);
		cr_assert(n > 0 && !strncmp(o, want, n),
			  "poll 1 printed "
			  "%.100s",
			  o);
		free(o);
		free(e);
		int polls = poll_until(&A[i], last, 16, &o, &e);
		cr_assert_geq(polls, 3, "the rest in %d polls", polls);
		cr_assert_str_eq(o, want + n, "fast, after poll 1, differs");
		cr_assert_str_eq(e, "", "stderr: %s", e);
		free(o);
		free(e);
	}
	free(want);
	expect("", NULL); /* nothing left over */
	finish("");
}

/*
 * Renamed away with more unread than a poll reads: the old file is read
 * to its end over several polls, then the new file is followed.
 */
Test(logtail, rotation_of_a_file_behind_loses_nothing)
{
	enum {
		LINES = 3 << 16
	}; /* of 16 bytes: 3 MiB */
	start_writer();
	write_file("r", "");
	start(CACHE | STAT, NULL, NULL, (const char *[]){ "r", NULL });
	char *text = numbered("", "old", LINES);
	append("r", text);
	free(text);
	cr_assert_eq(rename(P("r"), P("r.1")), 0, "rename: %s",
		     strerror(errno));
	write_file("r", "new\n");
	char *old = numbered("r: ", "old", LINES);
	char *want = fmt("%sr: new\n", old);
	free(old);
	if (H)
		fsct_sync(H);
	for (int i = 0; i < NA; i++) {
		char *o, *e;
		int polls = poll_until(&A[i], "r: new\n", 16, &o, &e);
		cr_assert_geq(polls, 3, "read in %d polls", polls);
		cr_assert_str_eq(o, want, "output differs");
		cr_assert_str_eq(e,
				 "fsc-tail: r: has been replaced; "
				 "following new file\n",
				 "stderr: %s", e);
		free(o);
		free(e);
	}
	free(want);
	append("r", "newer\n");
	expect("r: newer\n", NULL);
	finish("");
}

/* Run fsc-tail to completion with stdin at EOF; its exit status. */
static int run_once(const char *const *argv, char **err)
{
	struct agent *a = &A[NA++];
	a->in = a->out = a->err = -1;
	agent_spawn(a, argv);
	close(a->in);
	a->in = -1;
	agent_pump(a, 0, NULL);
	int st = 0;
	while (waitpid(a->pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	a->pid = 0;
	*err = fmt("%s", a->e.p ? a->e.p : "");
	agent_kill(a);
	NA--;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

Test(logtail, bad_arguments_are_reported)
{
	static const struct {
		const char *argv[6];
		const char *says;
	} cases[] = {
		{ { NULL }, "no files to follow" },
		{ { "--interval", "0", "f", NULL }, "--interval: expected" },
		{ { "--interval", "12x", "f", NULL }, "--interval: expected" },
		{ { "--interval", "-5", "f", NULL }, "--interval: expected" },
		{ { "--stat", "--name", "x", "f", NULL },
		  "exclude each other" },
		{ { "--name", "no/slash", "f", NULL }, "not an instance name" },
		{ { "--files-from", "/nonexistent/list", NULL },
		  "--files-from /nonexistent/list: No such file" },
		{ { "--bogus", "f", NULL }, "unrecognized option" },
		{ { "", NULL }, "empty file name" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err;
		int st = run_once(cases[i].argv, &err);
		cr_assert_eq(st, 2, "case %zu: exit %d, stderr: %s", i, st,
			     err);
		cr_assert(strstr(err, cases[i].says), "case %zu: stderr: %s", i,
			  err);
		free(err);
	}
	char *err;
	cr_assert_eq(run_once((const char *[]){ "--help", NULL }, &err), 0);
	free(err);
}
