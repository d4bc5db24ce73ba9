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
 *
 * What a poll cost is counted, never timed: with --poll-stats the agent
 * prints each poll's counts (stat() calls, lookups, full passes...) on
 * stderr, and agent_poll() keeps them in agent.ps.
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

/* One poll's counts, as --poll-stats prints them. */
struct pstats {
	int valid; /* the poll printed them */
	unsigned long long full_passes, feed_changes, lookups, cache_hits,
		stat_calls, watch_requests, syscalls, lines;
};

struct agent {
	pid_t pid;
	int mode;            /* CACHE or STAT */
	int in, out, err;    /* our ends of its stdin, stdout, stderr */
	struct buf o, e;     /* everything it printed so far */
	unsigned long polls; /* polls asked for after poll 0 */
	struct pstats ps;    /* of the last poll, with --poll-stats */
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

static unsigned long long field(const char *line, const char *key)
{
	unsigned long long v;
	const char *p = strstr(line, key);
	cr_assert(p && sscanf(p + strlen(key), "%llu", &v) == 1,
		  "no '%s' in: %s", key, line);
	return v;
}

/*
 * Take the counts of poll n (--poll-stats: "fsc-tail: poll N: k=v ...")
 * out of what it printed on stderr, into a->ps.
 */
static void take_poll_stats(struct agent *a, unsigned long n, char *err)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "fsc-tail: poll %lu: ", n);
	memset(&a->ps, 0, sizeof(a->ps));
	char *line = strstr(err, prefix);
	if (!line)
		return;
	char *end = strchr(line, '\n');
	cr_assert_not_null(end, "unfinished line: %s", line);
	*end = '\0';
	a->ps.valid = 1;
	a->ps.full_passes = field(line, " full_passes=");
	a->ps.feed_changes = field(line, " feed_changes=");
	a->ps.lookups = field(line, " lookups=");
	a->ps.cache_hits = field(line, " cache_hits=");
	a->ps.stat_calls = field(line, " stat_calls=");
	a->ps.watch_requests = field(line, " watch_requests=");
	a->ps.syscalls = field(line, " syscalls=");
	a->ps.lines = field(line, " lines=");
	memmove(line, end + 1, strlen(end + 1) + 1);
}

/*
 * One poll: a newline on its stdin, then its output up to the marker.
 * Returns what it printed during the poll, stdout and stderr (malloc'd),
 * its counts (--poll-stats) taken out of stderr into a->ps.
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
	take_poll_stats(a, n, *err);
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

/* One poll of every agent, exact output expected. */
static void expect_now(const char *out, const char *err)
{
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

/* After changes: sync, one poll of every agent, exact output expected. */
static void expect(const char *out, const char *err)
{
	if (H)
		fsct_sync(H);
	expect_now(out, err);
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

static void start_writer_with(const char *const *args)
{
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
}

static void start_writer(void)
{
	start_writer_with(NULL);
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

/* ---- the change feed: what a poll costs ------------------------------- */

/*
 * The counts of agent i's last poll (--poll-stats): full passes, paths
 * looked up, stat() calls.
 */
static void cost(int i, unsigned long long full, unsigned long long lookups,
		 unsigned long long stats, const char *what)
{
	const struct pstats *p = &A[i].ps;
	cr_assert(p->valid, "%s: the agent printed no counts", what);
	cr_assert_eq(p->full_passes, full, "%s: %llu full passes", what,
		     p->full_passes);
	cr_assert_eq(p->lookups, lookups, "%s: %llu lookups", what, p->lookups);
	cr_assert_eq(p->stat_calls, stats, "%s: %llu stat() calls", what,
		     p->stat_calls);
}

/* Files m000... (n of them, empty) and "list" naming them, then `more`. */
static void make_list(int n, const char *const *more)
{
	FILE *l = fopen(P("list"), "we");
	cr_assert_not_null(l, "list: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "m%03d", i);
		write_file(name, "");
		fprintf(l, "%s\n", name);
	}
	for (int i = 0; more && more[i]; i++)
		fprintf(l, "%s\n", more[i]);
	cr_assert_eq(fclose(l), 0, "fclose");
}

#define LIST_ARGS "--poll-stats", "--files-from", "list"

/*
 * 100 files and one that does not exist yet: after the first poll (a
 * full pass: every path looked up, missed, stat()'ed and asked for) the
 * agent reads only the change feed.  A poll where nothing changed makes
 * no lookup and no system call; one where one file grew reads that file
 * and nothing else.
 */
Test(logtail, a_poll_costs_what_changed)
{
	enum {
		N = 100
	};
	make_list(N, (const char *[]){ "late", NULL });
	start_writer();
	start(CACHE | STAT, (const char *[]){ LIST_ARGS, NULL },
	      "fsc-tail: late: does not exist yet; waiting for it\n",
	      (const char *[]){ NULL });
	cost(0, 1, N + 1, N + 1, "poll 0");
	cr_assert_eq(A[0].ps.watch_requests, N + 1, "watch requests");
	cost(1, 1, 0, N + 1, "--stat, poll 0");

	expect("", NULL); /* the writer's records of the paths it added */
	cost(0, 0, 0, 0, "poll 1");
	cr_assert_geq(A[0].ps.feed_changes, N + 1, "changes read");
	cr_assert_eq(A[0].ps.cache_hits, N + 1, "cache hits");
	cost(1, 1, 0, N + 1, "--stat, poll 1");

	expect("", NULL);
	cost(0, 0, 0, 0, "nothing changed");
	cr_assert_eq(A[0].ps.syscalls, 0, "system calls");

	append("m042", "one\n");
	expect("m042: one\n", NULL);
	cost(0, 0, 0, 0, "one file grew");
	cr_assert_eq(A[0].ps.syscalls, 1, "system calls: a read() of m042");

	write_file("late", "hi\n");
	expect("late: hi\n", "fsc-tail: late: has appeared; following new "
			     "file\n");
	cost(0, 0, 0, 0, "the late file appeared");
	cr_assert_eq(A[0].ps.syscalls, 3, "open, fstat, read of late");

	expect("", NULL);
	cost(0, 0, 0, 0, "nothing changed again");
	cr_assert_eq(A[0].ps.syscalls, 0, "system calls");
	finish("");
}

/*
 * The writer stopped (every answer by stat()), restarted (a new segment:
 * a full pass), then killed and replaced between two polls: every line
 * written meanwhile is printed, once.
 */
Test(logtail, writer_restart_loses_no_lines)
{
	write_file("a", "");
	write_file("b", "");
	start_writer();
	start(CACHE | STAT, (const char *[]){ "--poll-stats", NULL }, NULL,
	      (const char *[]){ "a", "b", NULL });
	append("a", "1\n");
	expect("a: 1\n", NULL);
	cost(0, 0, 0, 0, "with the writer");

	fsc_close(H);
	H = NULL;
	fsct_writer_stop(&W);
	append("b", "2\n");
	expect("b: 2\n", NULL);
	cost(0, 1, 2, 2, "no writer: a full pass by stat()");

	fsct_writer_restart(&W);
	H = fsct_open(&W);
	append("a", "3\n");
	append("b", "4\n");
	expect("a: 3\nb: 4\n", NULL);
	cr_assert_eq(A[0].ps.full_passes, 1, "restarted: a full pass");

	append("a", "5\n");
	fsc_close(H);
	H = NULL;
	fsct_writer_kill(&W, SIGKILL);
	append("b", "6\n");
	fsct_writer_restart(&W);
	H = fsct_open(&W);
	append("a", "7\n");
	expect("a: 5\na: 7\nb: 6\n", NULL);
	cr_assert_eq(A[0].ps.full_passes, 1, "replaced: a full pass");

	append("b", "8\n");
	expect("b: 8\n", NULL);
	append("a", "9\n");
	expect("a: 9\n", NULL);
	finish("");
}

struct awaited {
	const char *path;
	unsigned kind;
	int seen;
};

static int note_change(void *arg, const struct fsc_change *c)
{
	struct awaited *w = arg;
	w->seen |= c->kind == w->kind && !strcmp(c->path, w->path);
	return 0;
}

/* Wait (hang guard) until the feed lists a change of `kind` to `path`. */
static void wait_change(struct fsc_cursor *cur, const char *path, unsigned kind)
{
	struct awaited w = { path, kind, 0 };
	uint64_t deadline = now_ms() + GUARD_MS;
	for (;;) {
		int r = fsc_changes(H, cur, note_change, &w);
		cr_assert_eq(r, 0, "fsc_changes: %s (%d)", fsc_strerror(r), r);
		if (w.seen)
			return;
		cr_assert_lt(now_ms(), deadline,
			     "no change %u of %s after %d ms (hang guard)",
			     kind, path, GUARD_MS);
		fsc_changes_wait(H, cur, 1000);
	}
}

/*
 * A file written continuously stays marked changed: the writer lists the
 * mark once and no answer after it, so the agent must stat() it every
 * poll (and only it) until the writer answers for it again.
 */
Test(logtail, file_written_continuously_is_followed)
{
	const char *files[] = { "hot", "q0", "q1", "q2", "q3", "q4", NULL };
	for (int i = 0; files[i]; i++)
		write_file(files[i], "");
	/* A settle time no test outlives: only a sync re-stats "hot". */
	start_writer_with((const char *[]){ "--settle-ms", "3600000", NULL });
	start(CACHE | STAT, (const char *[]){ "--poll-stats", NULL }, NULL,
	      files);
	expect("", NULL);
	cost(0, 0, 0, 0, "watched");
	struct fsc_cursor cur = FSC_CURSOR_INIT;
	struct awaited none = { "", 0, 0 };
	cr_assert_eq(fsc_changes(H, &cur, note_change, &none), FSC_RESYNC);

	append("hot", "1\n");
	wait_change(&cur, P("hot"), FSC_CHANGE_MARKED);
	for (int r = 1; r <= 4; r++) {
		char *line = fmt("%d\n", r), *want = fmt("hot: %d\n", r);
		if (r > 1)
			append("hot", line);
		struct fsc_stat st;
		cr_assert_eq(fsc_lookup(H, P("hot"), &st), FSC_UNCACHED,
			     "hot is marked changed");
		expect_now(want, NULL); /* no sync: it would re-stat hot */
		cost(0, 0, 0, 1, "hot marked: stat() of hot alone");
		free(line);
		free(want);
	}
	expect("", NULL); /* the sync re-stats hot: an answer again */
	cost(0, 0, 0, 0, "hot answered by the cache");
	expect("", NULL);
	cost(0, 0, 0, 0, "nothing changed");
	append("hot", "5\n");
	expect("hot: 5\n", NULL);
	cost(0, 0, 0, 0, "hot grew, re-stat'ed by the sync");
	finish("");
}

/*
 * More changes between two polls than the feed's ring holds: the feed
 * cannot list them, the agent looks every file up once (a full pass) and
 * loses nothing, then reads the feed again.
 */
Test(logtail, lapped_feed_is_a_full_pass)
{
	enum {
		N = 200
	};
	make_list(N, NULL);
	start_writer_with((const char *[]){ "--feed-size", "65536", NULL });
	start(CACHE | STAT, (const char *[]){ LIST_ARGS, NULL }, NULL,
	      (const char *[]){ NULL });
	expect("", NULL);
	cost(0, 0, 0, 0, "watched");
	static const char *const words[] = { "x", "y", "z" };
	size_t size = N * 3 * 16 + 1, w = 0;
	char *want = malloc(size);
	cr_assert_not_null(want, "out of memory");
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 3; k++)
			w += (size_t)snprintf(want + w, size - w, "m%03d: %s\n",
					      i, words[k]);
	cr_assert_lt(w, size, "expected output too long");
	/* Each append is a mark and, at the sync, an answer: 2 records of
	 * over 150 bytes per file and round, 3 x 2 x 200 in all. */
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < N; i++) {
			char name[32], *line = fmt("%s\n", words[k]);
			snprintf(name, sizeof(name), "m%03d", i);
			append(name, line);
			free(line);
		}
		fsct_sync(H);
	}
	expect(want, NULL);
	free(want);
	cost(0, 1, N, 0, "lapped: a full pass");
	append("m007", "again\n");
	expect("m007: again\n", NULL);
	cost(0, 0, 0, 0, "back on the feed");
	finish("");
}

/*
 * One file followed under two names, and twice under one: each is
 * followed and printed, as without the cache.
 */
Test(logtail, one_file_followed_under_several_names)
{
	write_file("d", "");
	start_writer();
	start(CACHE | STAT, (const char *[]){ "--poll-stats", NULL }, NULL,
	      (const char *[]){ "d", "./d", "d", NULL });
	append("d", "x\n");
	expect("d: x\n./d: x\nd: x\n", NULL);
	cost(0, 0, 0, 0, "answered by the feed");
	cr_assert_eq(A[0].ps.syscalls, 3, "a read() per name");
	finish("");
}
