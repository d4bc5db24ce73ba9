/*
 * sec_feed.c - the change feed: what a poll costs when it asks the writer
 * what changed since its cursor (fsc_changes()), against what a program
 * following many files would otherwise do: look every file up
 * (fsc_lookup_many()), stat() every file, or ask Watchman what changed
 * since its clock.
 *
 * Every method is an agent with its own view of the followed files (size,
 * mtime, inode, exists, found through a hash table of their paths, as a
 * real agent would): a poll must end with the agent knowing every change
 * since its previous poll.
 *   feed           fsc_changes() from the last cursor; each change's
 *                  answer goes into the view; a change the cache could
 *                  not answer (MARKED: not re-stat'ed yet) is stat()ed
 *                  after the walk; FSC_RESYNC is a full fsc_lookup_many()
 *                  pass (counted).
 *   feed-warm      right after the feed's poll, the same poll again from
 *                  the same (saved) cursor: its data now in the CPU
 *                  caches; how much of the feed row is cache and TLB
 *                  misses (not used for the targets).
 *   lookup_many    fsc_lookup_many() over every file, each answer compared
 *                  with the view (stat() where the cache cannot answer).
 *   stat           stat(2) of every file, compared with the view.
 *   watchman       a private Watchman server (started for the run, on its
 *                  own socket, state, log and pid files in the bench's
 *                  tree) watching the files' directory; the agent sends
 *                  ["query", ROOT, {"since": CLOCK, "fields": [...],
 *                  "sync_timeout": 0}] as one JSON line over the unix
 *                  socket and parses the reply with Jansson: what the
 *                  server knows now, like the feed.
 *   watchman-sync  the same query without "sync_timeout": 0, so the server
 *                  first syncs with the filesystem through a cookie file
 *                  (what a default Watchman query does).
 * Watchman is looked for as $WATCHMAN, else on PATH; when it is absent,
 * the section says so and measures the rest.
 *
 * 1. Poll cost at F = --files: rounds of (append one byte to K files,
 *    K = 10 and K = 0; the writer's sync barrier, then Watchman's cookie
 *    sync; then one poll of every method, in a new random order each
 *    round), --feed-polls rounds.  Wall time per poll: median, mean, p90;
 *    ratios to the feed; minor page faults per poll.  After every poll
 *    each agent must have found the K files with their new sizes, or the
 *    bench fails.  Untimed warm-up rounds first, until a feed poll takes
 *    no page fault (a reader maps the ring page by page as it first reads
 *    it; an agent that has run a while has all of it mapped).
 * 2. The same at F = --big-files with 1 % of them changed per round,
 *    --feed-polls / 4 rounds; the feed against fsc_lookup_many() (and the
 *    others, for context).  /dev/shm and the fanotify/inotify limits are
 *    checked first; F shrinks to what fits, saying why.
 * 3. Idle CPU: one agent process polls F = --files files at 4 Hz with
 *    nothing changing, for --feed-window seconds (after a quarter-second
 *    warm-up); the CPU of the agent and of the writer or the Watchman
 *    server, exact (the schedstat of every thread), as % of one core, per
 *    mode, and the agent's CPU inside its polls (its thread's CPU clock,
 *    read around each poll in every mode).  "floor" is an agent that
 *    wakes at 4 Hz and does nothing, in the feed agent's window, half a
 *    period out of phase with it.  Only the server a mode needs runs
 *    during its window.
 *
 * Parts 1 and 3 use a tree of their own (F files over --dirs directories)
 * so that Watchman watches exactly the followed files; part 2 uses the
 * bench's pool, whose directory also holds the miss section's files
 * (Watchman watches them too; they do not change).
 */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#define POLL_HZ 4
#define WARMUP_NS 250000000ull
#define ORDER_SEED 0xfeedf00du
#define SMALL_K 10u
/* Hang guards for Watchman, not timing assumptions. */
#define WM_START_MS 30000
#define WM_REPLY_MS 120000
#define WM_SYNC_MS 60000
#define WM_NOT_INSTALLED "not installed (apt-get install watchman)"

enum method {
	M_FEED,
	M_FEED_WARM, /* the feed's poll again, from the same cursor */
	M_LOOKUP,
	M_STAT,
	M_WM,
	M_WM_SYNC,
	M_COUNT
};

static const char *const m_name[M_COUNT] = {
	"feed", "feed-warm", "lookup_many", "stat", "watchman", "watchman-sync",
};
static const char *const m_what[M_COUNT] = {
	"fsc_changes() from the last cursor",
	"the same again from the same cursor, caches hot (not for targets)",
	"fsc_lookup_many() of every file, compared",
	"stat(2) of every file, compared",
	"watchman query since the last clock, no cookie sync",
	"watchman query since the last clock, cookie sync",
};

static int is_wm(int m)
{
	return m == M_WM || m == M_WM_SYNC;
}

/* ---- an agent's view of the files it follows ------------------------------ */

struct seen {
	int64_t size, mtime_sec;
	uint64_t ino;
	uint32_t mtime_nsec;
	int exists;
	int pending;   /* told it changed, with no answer: stat() it */
	uint32_t poll; /* the last poll that found it changed */
};

/* Paths -> index, open addressing on XXH3 (fstatcache.h brings it). */
struct table {
	char *const *paths;
	unsigned n;
	size_t skip; /* bytes of each path left out of the key (Watchman's
		      * names are relative to its root) */
	uint32_t mask;
	uint32_t *slot; /* index + 1; 0: empty */
};

static void table_init(struct table *t, char *const *paths, unsigned n,
		       size_t skip)
{
	uint32_t size = 16;
	while (size < 2u * n)
		size <<= 1;
	*t = (struct table){ paths, n, skip, size - 1,
			     fb_calloc(size, sizeof(uint32_t)) };
	for (unsigned i = 0; i < n; i++) {
		const char *k = paths[i] + skip;
		uint32_t h = (uint32_t)XXH3_64bits(k, strlen(k)) & t->mask;
		while (t->slot[h])
			h = (h + 1) & t->mask;
		t->slot[h] = i + 1;
	}
}

static long table_find(const struct table *t, const char *key, size_t len)
{
	for (uint32_t h = (uint32_t)XXH3_64bits(key, len) & t->mask;;
	     h = (h + 1) & t->mask) {
		uint32_t s = t->slot[h];
		if (!s)
			return -1;
		const char *p = t->paths[s - 1] + t->skip;
		if (!strncmp(p, key, len) && p[len] == '\0')
			return (long)s - 1;
	}
}

/* One poll's findings. */
struct view {
	struct seen *seen;
	unsigned *list; /* files found changed in this poll */
	unsigned found;
	uint32_t poll;
	uint64_t items;   /* feed records / files in Watchman's reply */
	uint64_t stats;   /* stat() calls */
	uint64_t resyncs; /* full passes: FSC_RESYNC, fresh instance */
};

static void view_init(struct view *v, unsigned n)
{
	memset(v, 0, sizeof(*v));
	v->seen = fb_calloc(n, sizeof(struct seen));
	v->list = fb_calloc(n, sizeof(unsigned));
}

static void view_free(struct view *v)
{
	free(v->seen);
	free(v->list);
}

static void view_begin(struct view *v)
{
	v->poll++;
	v->found = 0;
	v->items = v->stats = v->resyncs = 0;
}

static void view_found(struct view *v, unsigned i)
{
	if (v->seen[i].poll != v->poll) {
		v->seen[i].poll = v->poll;
		v->list[v->found++] = i;
	}
}

/* Record an answer; 1 when it differs from the one before. */
static int seen_set(struct seen *s, int exists, int64_t size, int64_t msec,
		    uint32_t mnsec, uint64_t ino)
{
	int changed = s->exists != exists || s->size != size ||
		      s->mtime_sec != msec || s->mtime_nsec != mnsec ||
		      s->ino != ino;
	s->exists = exists;
	s->size = size;
	s->mtime_sec = msec;
	s->mtime_nsec = mnsec;
	s->ino = ino;
	s->pending = 0;
	return changed;
}

static int seen_stat(struct seen *s, const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		return seen_set(s, 1, st.st_size, st.st_mtim.tv_sec,
				(uint32_t)st.st_mtim.tv_nsec, st.st_ino);
	return seen_set(s, 0, 0, 0, 0, 0);
}

/* ---- a Watchman connection: one JSON line each way ------------------------- */

struct wmc {
	int fd;
	char root[PATH_MAX];
	char clock[128];
	char *buf;
	size_t cap, len;
};

static int wmc_connect(struct wmc *c, const char *sock, const char *root)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct timeval tv = { WM_REPLY_MS / 1000, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	snprintf(c->root, sizeof(c->root), "%s", root);
	return 0;
}

static void wmc_close(struct wmc *c)
{
	if (c->fd > 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->cap = c->len = 0;
}

/*
 * Send `req` (taken) as one line and parse the reply line.  NULL with *why
 * set on a broken connection or an unparsable reply; a reply with "error"
 * is returned as it is.
 */
static json_t *wmc_call(struct wmc *c, json_t *req, char *why, size_t whysize)
{
	char *s = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!s)
		fb_die("out of memory");
	size_t n = strlen(s);
	s[n++] = '\n'; /* replaces the NUL; the length is known */
	for (size_t off = 0; off < n;) {
		ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(why, whysize, "send to watchman: %s",
				 w < 0 ? strerror(errno) : "closed");
			free(s);
			return NULL;
		}
		off += (size_t)w;
	}
	free(s);
	size_t scanned = 0;
	char *nl;
	while (!(nl = c->len > scanned
			      ? memchr(c->buf + scanned, '\n', c->len - scanned)
			      : NULL)) {
		scanned = c->len;
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? 2 * c->cap : 262144;
			c->buf = realloc(c->buf, c->cap);
			if (!c->buf)
				fb_die("out of memory");
		}
		ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(why, whysize, "read from watchman: %s",
				 r < 0 ? strerror(errno) : "connection closed");
			return NULL;
		}
		c->len += (size_t)r;
	}
	size_t line = (size_t)(nl - c->buf);
	json_error_t err;
	json_t *rep = json_loadb(c->buf, line, 0, &err);
	c->len -= line + 1;
	memmove(c->buf, nl + 1, c->len);
	if (!rep)
		snprintf(why, whysize, "watchman's reply: %s", err.text);
	return rep;
}

/* The reply's "error", or NULL. */
static const char *wm_error(json_t *rep)
{
	json_t *e = json_object_get(rep, "error");
	return e ? (json_string_value(e) ? json_string_value(e) : "error")
		 : NULL;
}

/* A call that must work (the measurement): dies otherwise. */
static json_t *wmc_must(struct wmc *c, json_t *req, const char *what)
{
	char why[512];
	json_t *rep = wmc_call(c, req, why, sizeof(why));
	if (!rep)
		fb_die("watchman %s: %s", what, why);
	if (wm_error(rep))
		fb_die("watchman %s: %s", what, wm_error(rep));
	return rep;
}

static void wmc_take_clock(struct wmc *c, json_t *rep)
{
	const char *clk = json_string_value(json_object_get(rep, "clock"));
	if (!clk || strlen(clk) >= sizeof(c->clock))
		fb_die("watchman: reply without a clock");
	strcpy(c->clock, clk);
}

/* Until the server has seen every change made before the call. */
static void wmc_sync(struct wmc *c)
{
	json_t *rep = wmc_must(c,
			       json_pack("[s, s, {s:i}]", "clock", c->root,
					 "sync_timeout", WM_SYNC_MS),
			       "clock (sync)");
	json_decref(rep);
}

/* ---- a private Watchman server ------------------------------------------------ */

struct wm {
	pid_t pid;
	char dir[PATH_MAX];
	char sock[108];
	char version[32];
	struct wmc c; /* the bench's own connection */
};

static const char *wm_find(void)
{
	static char buf[PATH_MAX];
	const char *env = getenv("WATCHMAN");
	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t k = strcspn(path, ":");
		if (k && k < sizeof(buf) - 16) {
			snprintf(buf, sizeof(buf), "%.*s/watchman", (int)k,
				 path);
			if (access(buf, X_OK) == 0)
				return buf;
		}
		path += k + (path[k] == ':');
	}
	return NULL;
}

static void wm_file(const struct wm *w, const char *leaf, char *out,
		    size_t size)
{
	if ((size_t)snprintf(out, size, "%s/%s", w->dir, leaf) >= size)
		fb_die("%s: path too long", w->dir);
}

/* The last line of the server's log or output: why it stopped. */
static void wm_last_line(const struct wm *w, char *out, size_t size)
{
	static const char *const leaves[] = { "out", "log" };
	out[0] = '\0';
	for (int i = 0; i < 2 && !out[0]; i++) {
		char p[PATH_MAX + 8], line[512];
		wm_file(w, leaves[i], p, sizeof(p));
		FILE *f = fopen(p, "re");
		while (f && fgets(line, sizeof(line), f))
			if (line[0] != '\n' &&
			    (size_t)snprintf(out, size, "%s", line) >= size)
				out[size - 1] = '\0'; /* cut: fine */
		if (f)
			fclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
}

static void wm_remove_dir(const struct wm *w)
{
	DIR *d = opendir(w->dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[PATH_MAX + 300];
		snprintf(p, sizeof(p), "%s/%s", w->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(w->dir);
}

/* Ask it to exit, wait, kill it if it does not; remove its files. */
static void wm_stop(struct wm *w)
{
	if (!w->pid)
		return;
	if (w->c.fd > 0) {
		char why[256];
		json_decref(wmc_call(&w->c, json_pack("[s]", "shutdown-server"),
				     why, sizeof(why)));
		wmc_close(&w->c);
	}
	uint64_t deadline = fb_now_ns() + 10000000000ull;
	int st;
	pid_t r;
	while ((r = waitpid(w->pid, &st, WNOHANG)) == 0 &&
	       fb_now_ns() < deadline)
		fb_sleep_ns(10000000);
	if (r == 0) {
		printf("(watchman did not exit after shutdown-server: "
		       "killed)\n");
		kill(w->pid, SIGKILL);
		waitpid(w->pid, &st, 0);
	}
	fb_child_untrack(w->pid);
	w->pid = 0;
	wm_remove_dir(w);
}

/*
 * Start a server, watch `root` and wait until it knows at least `expect`
 * files there.  0, or -1 with *why saying what went wrong (the server is
 * stopped then).
 */
static int wm_start(struct wm *w, const char *bin, const char *root,
		    unsigned expect, char *why, size_t whysize)
{
	static unsigned serial;
	memset(w, 0, sizeof(*w));
	w->c.fd = -1;
	if ((size_t)snprintf(w->dir, sizeof(w->dir), "%s/wm%u", FB.dir,
			     serial++) >= sizeof(w->dir))
		fb_die("%s: path too long", FB.dir);
	if (mkdir(w->dir, 0700) < 0)
		fb_die("mkdir %s: %s", w->dir, strerror(errno));
	char sockname[PATH_MAX + 32], logfile[PATH_MAX + 32],
		pidfile[PATH_MAX + 32], statefile[PATH_MAX + 32], out[PATH_MAX];
	wm_file(w, "sock", w->sock, sizeof(w->sock));
	snprintf(sockname, sizeof(sockname), "--sockname=%s", w->sock);
	wm_file(w, "log", out, sizeof(out));
	snprintf(logfile, sizeof(logfile), "--logfile=%s", out);
	wm_file(w, "pid", out, sizeof(out));
	snprintf(pidfile, sizeof(pidfile), "--pidfile=%s", out);
	wm_file(w, "state", out, sizeof(out));
	snprintf(statefile, sizeof(statefile), "--statefile=%s", out);
	wm_file(w, "out", out, sizeof(out));

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fb_die("fork: %s", strerror(errno));
	if (pid == 0) {
		fb_child_setup(); /* killed with the bench */
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(fd, 1) < 0 ||
		    dup2(fd, 2) < 0)
			_exit(126);
		execl(bin, bin, "--foreground", "--no-save-state", sockname,
		      logfile, pidfile, statefile, "--log-level=1",
		      (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	w->pid = pid;
	fb_child_track(pid);

	uint64_t deadline = fb_now_ns() + WM_START_MS * 1000000ull;
	int st, err;
	while ((err = wmc_connect(&w->c, w->sock, root)) < 0) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fb_child_untrack(pid);
			w->pid = 0;
			char last[400];
			wm_last_line(w, last, sizeof(last));
			snprintf(why, whysize,
				 "the server exited (status %#x) before "
				 "listening: %s",
				 st, last[0] ? last : "(no message)");
			wm_remove_dir(w);
			return -1;
		}
		if (fb_now_ns() > deadline) {
			snprintf(why, whysize,
				 "no answer on %s after %d s (%s)", w->sock,
				 WM_START_MS / 1000, strerror(-err));
			wm_stop(w);
			return -1;
		}
		fb_sleep_ns(10000000);
	}
	json_t *rep = wmc_call(&w->c, json_pack("[s, s]", "watch", root), why,
			       whysize);
	if (rep && wm_error(rep)) {
		snprintf(why, whysize, "watch %s: %s", root, wm_error(rep));
		json_decref(rep);
		rep = NULL;
	}
	if (!rep) {
		wm_stop(w);
		return -1;
	}
	const char *v = json_string_value(json_object_get(rep, "version"));
	snprintf(w->version, sizeof(w->version), "%s", v ? v : "?");
	json_decref(rep);
	/* Every file of the crawl, as the server lists them: the check that
	 * the watch covers the files (and a wait for the crawl). */
	rep = wmc_call(&w->c,
		       json_pack("[s, s, {s:[s, s], s:[s], s:i}]", "query",
				 root, "expression", "type", "f", "fields",
				 "name", "sync_timeout", WM_SYNC_MS),
		       why, whysize);
	if (rep && wm_error(rep)) {
		snprintf(why, whysize, "query %s: %s", root, wm_error(rep));
		json_decref(rep);
		rep = NULL;
	}
	size_t listed = rep ? json_array_size(json_object_get(rep, "files"))
			    : 0;
	json_decref(rep);
	if (rep && listed < expect)
		snprintf(why, whysize, "it lists %zu files under %s, not %u",
			 listed, root, expect);
	if (!rep || listed < expect) {
		wm_stop(w);
		return -1;
	}
	return 0;
}

/* ---- the agents ------------------------------------------------------------------ */

struct agent {
	int method;
	unsigned n;
	char *const *paths;
	const struct table *full, *rel;
	fsc_handle *h;
	struct fsc_cursor cur;
	struct fsc_stat *st; /* fsc_lookup_many()'s answers */
	int *r;
	struct wmc wm;
	struct view v;
};

/* Every file through the cache: lookup_many's poll, the feed's resync. */
static void pass_lookup(struct agent *a)
{
	fsc_lookup_many(a->h, (const char *const *)a->paths, a->n, a->st, a->r);
	for (unsigned i = 0; i < a->n; i++) {
		const struct fsc_stat *o = &a->st[i];
		int changed;
		if (a->r[i] != 0) {
			changed = seen_stat(&a->v.seen[i], a->paths[i]);
			a->v.stats++;
		} else {
			changed = seen_set(&a->v.seen[i], o->exists, o->size,
					   o->mtime_sec, o->mtime_nsec, o->ino);
		}
		if (changed)
			view_found(&a->v, i);
	}
}

static void pass_stat(struct agent *a)
{
	for (unsigned i = 0; i < a->n; i++)
		if (seen_stat(&a->v.seen[i], a->paths[i]))
			view_found(&a->v, i);
	a->v.stats += a->n;
}

static int on_change(void *arg, const struct fsc_change *c)
{
	struct agent *a = arg;
	a->v.items++;
	long i = table_find(a->full, c->path, c->path_len);
	if (i < 0)
		return 0; /* not a file this agent follows */
	struct seen *s = &a->v.seen[i];
	if (c->status == 0)
		seen_set(s, c->st.exists, c->st.size, c->st.mtime_sec,
			 c->st.mtime_nsec, c->st.ino);
	else
		s->pending = 1;
	view_found(&a->v, (unsigned)i);
	return 0;
}

static void poll_feed(struct agent *a)
{
	int rc = fsc_changes(a->h, &a->cur, on_change, a);
	if (rc == FSC_RESYNC) {
		a->v.resyncs++;
		pass_lookup(a);
	} else if (rc < 0) {
		fb_die("fsc_changes: %s", fsc_strerror(rc));
	}
	/* Changes the cache could not answer: stat() them. */
	for (unsigned k = 0; k < a->v.found; k++) {
		struct seen *s = &a->v.seen[a->v.list[k]];
		if (s->pending) {
			seen_stat(s, a->paths[a->v.list[k]]);
			a->v.stats++;
		}
	}
}

static void poll_watchman(struct agent *a, int sync)
{
	json_t *req = json_pack("[s, s, {s:s, s:[s, s, s, s, s], s:b}]",
				"query", a->wm.root, "since", a->wm.clock,
				"fields", "name", "size", "mtime_ms", "ino",
				"exists", "empty_on_fresh_instance", 1);
	if (!sync)
		json_object_set_new(json_array_get(req, 2), "sync_timeout",
				    json_integer(0));
	json_t *rep = wmc_must(&a->wm, req, "query");
	wmc_take_clock(&a->wm, rep);
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(rep, "files"), i, f) {
		a->v.items++;
		const char *name =
			json_string_value(json_object_get(f, "name"));
		long j = name ? table_find(a->rel, name, strlen(name)) : -1;
		if (j < 0)
			continue; /* a directory, a cookie, another file */
		json_int_t ms =
			json_integer_value(json_object_get(f, "mtime_ms"));
		seen_set(&a->v.seen[j],
			 json_is_true(json_object_get(f, "exists")),
			 json_integer_value(json_object_get(f, "size")),
			 ms / 1000, (uint32_t)(ms % 1000) * 1000000u,
			 (uint64_t)json_integer_value(
				 json_object_get(f, "ino")));
		view_found(&a->v, (unsigned)j);
	}
	if (json_is_true(json_object_get(rep, "is_fresh_instance"))) {
		a->v.resyncs++; /* the server lost track: look at all */
		pass_stat(a);
	}
	json_decref(rep);
}

static void agent_poll(struct agent *a)
{
	view_begin(&a->v);
	switch (a->method) {
	case M_FEED:
		poll_feed(a);
		break;
	case M_LOOKUP:
		pass_lookup(a);
		break;
	case M_STAT:
		pass_stat(a);
		break;
	case M_WM:
	case M_WM_SYNC:
		poll_watchman(a, a->method == M_WM_SYNC);
		break;
	default:
		break;
	}
}

/*
 * Set an agent up: its view as stat() sees the files now, its cursor or
 * clock at now.  The files must not change meanwhile.
 */
static void agent_init(struct agent *a, int method, unsigned n,
		       char *const *paths, const struct table *full,
		       const struct table *rel, const char *name,
		       const char *wm_sock, const char *root)
{
	memset(a, 0, sizeof(*a));
	a->method = method;
	a->n = n;
	a->paths = paths;
	a->full = full;
	a->rel = rel;
	a->wm.fd = -1;
	view_init(&a->v, n);
	pass_stat(a);
	if (method == M_FEED || method == M_LOOKUP) {
		int err = fsc_open(&a->h, name, FSC_OPEN_ATTACHED);
		if (err < 0)
			fb_die("agent: fsc_open %s: %s", name,
			       fsc_strerror(err));
		a->st = fb_calloc(n, sizeof(*a->st));
		a->r = fb_calloc(n, sizeof(int));
	}
	if (method == M_FEED) {
		int rc = fsc_changes(a->h, &a->cur, on_change, a);
		if (rc != FSC_RESYNC)
			fb_die("fsc_changes from a new cursor: %s",
			       rc ? fsc_strerror(rc) : "no FSC_RESYNC");
	}
	if (is_wm(method)) {
		int err = wmc_connect(&a->wm, wm_sock, root);
		if (err < 0)
			fb_die("connect %s: %s", wm_sock, strerror(-err));
		json_t *rep = wmc_must(&a->wm,
				       json_pack("[s, s, {s:i}]", "clock", root,
						 "sync_timeout", WM_SYNC_MS),
				       "clock");
		wmc_take_clock(&a->wm, rep);
		json_decref(rep);
	}
	view_begin(&a->v); /* the setup's findings are not a poll's */
}

static void agent_free(struct agent *a)
{
	fsc_close(a->h);
	free(a->st);
	free(a->r);
	wmc_close(&a->wm);
	view_free(&a->v);
}

/* ---- the section's own tree -------------------------------------------------------- */

static char **tree_make(const char *root, unsigned n, unsigned ndirs)
{
	char p[PATH_MAX];
	if (mkdir(root, 0700) < 0)
		fb_die("mkdir %s: %s", root, strerror(errno));
	for (unsigned d = 0; d < ndirs; d++) {
		if ((size_t)snprintf(p, sizeof(p), "%s/d%03u", root, d) >=
			    sizeof(p) ||
		    mkdir(p, 0700) < 0)
			fb_die("mkdir %s: %s", p, strerror(errno));
	}
	char **v = fb_calloc(n, sizeof(char *));
	for (unsigned i = 0; i < n; i++) {
		if (asprintf(&v[i], "%s/d%03u/f%07u.log", root, i % ndirs, i) <
		    0)
			fb_die("out of memory");
		int fd = open(v[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0644);
		char line[64];
		int k = snprintf(line, sizeof(line), "line of file %u\n", i);
		if (fd < 0 || write(fd, line, (size_t)k) != k)
			fb_die("%s: %s", v[i], strerror(errno));
		close(fd);
	}
	return v;
}

static void tree_remove(const char *root, char **v, unsigned n)
{
	fb_tree_remove(root);
	fb_paths_free(v, n);
}

static void append_one(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || write(fd, "+", 1) != 1)
		fb_die("append %s: %s", path, strerror(errno));
	close(fd);
}

/* ---- 1 and 2: the cost of a poll ------------------------------------------------------- */

static uint32_t next_random(uint32_t *s)
{
	*s ^= *s << 13; /* xorshift32: only an order, not a secret */
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static double timer_floor_ns(void)
{
	enum {
		N = 10001
	};
	static double d[N];
	for (int i = 0; i < N; i++) {
		uint64_t t0 = fb_now_ns(), t1 = fb_now_ns();
		d[i] = (double)(t1 - t0);
	}
	return fb_summarize(d, N).median;
}

struct cost {
	unsigned n, k, polls;
	char *const *paths;
	const char *root; /* what Watchman watches */
	const struct table *full, *rel;
	const char *name; /* the writer's */
	struct fb_writer *w;
	struct wm *wm;                    /* NULL: no Watchman */
	unsigned next;                    /* the next file to change */
	unsigned warm_rounds, warm_files; /* the warm-up */
	long warm_faults;                 /* the feed's in its last round */
	struct fb_summary s[M_COUNT];
	double found[M_COUNT], items[M_COUNT], stats[M_COUNT], faults[M_COUNT];
	uint64_t resyncs[M_COUNT];
};

/* The j-th of the files changed from `first` on (a block moving on). */
static unsigned changed_file(const struct cost *c, unsigned first, unsigned j)
{
	return (unsigned)(((uint64_t)first + j) % c->n);
}

/* Minor page faults of this process so far. */
static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * Append a byte to k files from c->next on; then the writer's sync (it
 * has published them) and Watchman's cookie sync (it has seen them).
 * Returns the first file changed.
 */
static unsigned change(struct cost *c, unsigned k, int64_t *want)
{
	unsigned first = c->next;
	for (unsigned j = 0; j < k; j++) {
		unsigned i = changed_file(c, first, j);
		append_one(c->paths[i]);
		want[i]++;
	}
	c->next = changed_file(c, first, k);
	fb_writer_sync(c->w);
	if (c->wm)
		wmc_sync(&c->wm->c);
	return first;
}

static void check_poll(const struct cost *c, const struct agent *a,
		       const int64_t *want, unsigned first, unsigned k)
{
	for (unsigned j = 0; j < k; j++) {
		unsigned i = changed_file(c, first, j);
		const struct seen *s = &a->v.seen[i];
		if (s->poll != a->v.poll || !s->exists || s->pending ||
		    s->size != want[i])
			fb_die("%s: after the poll, %s has size %" PRId64
			       " (%s), not %" PRId64 " (%u files found "
			       "changed of %u)",
			       m_name[a->method], c->paths[i], s->size,
			       s->poll != a->v.poll ? "not found changed"
						    : "found changed",
			       want[i], a->v.found, k);
	}
	if (a->v.found < k)
		fb_die("%s: found %u changed files, %u changed",
		       m_name[a->method], a->v.found, k);
}

static int method_on(const struct cost *c, int m)
{
	return !is_wm(m) || c->wm;
}

static void account(struct cost *c, int m, const struct agent *a, double *us,
		    uint64_t t0, uint64_t t1, long faults, const int64_t *want,
		    unsigned first)
{
	us[0] = (double)(t1 - t0) / 1e3;
	check_poll(c, a, want, first, c->k);
	c->faults[m] += (double)faults;
	c->found[m] += a->v.found;
	c->items[m] += (double)a->v.items;
	c->stats[m] += (double)a->v.stats;
	c->resyncs[m] += a->v.resyncs;
}

static void measure(struct cost *c, int64_t *want)
{
	struct agent a[M_COUNT];
	double *us[M_COUNT];
	uint32_t seed = ORDER_SEED;
	for (int m = 0; m < M_COUNT; m++) {
		us[m] = fb_calloc(c->polls, sizeof(double));
		c->found[m] = c->items[m] = c->stats[m] = c->faults[m] = 0;
		c->resyncs[m] = 0;
		if (method_on(c, m) && m != M_FEED_WARM)
			agent_init(&a[m], m, c->n, c->paths, c->full, c->rel,
				   c->name, c->wm ? c->wm->sock : NULL,
				   c->root);
	}
	/*
	 * Warm-up, untimed: rounds of changes to at least 256 files each
	 * until a feed poll takes no page fault (the agent has then read
	 * the whole ring once and maps all of it, as any agent that has run
	 * a while does), at most 64 rounds.
	 */
	unsigned b = c->k > 256 ? c->k : 256;
	b = b < c->n ? b : c->n;
	c->warm_files = b;
	c->warm_rounds = 0;
	do {
		unsigned first = change(c, b, want);
		for (int m = 0; m < M_COUNT; m++) {
			if (!method_on(c, m) || m == M_FEED_WARM)
				continue;
			long f0 = minflt();
			agent_poll(&a[m]);
			if (m == M_FEED)
				c->warm_faults = minflt() - f0;
			check_poll(c, &a[m], want, first, b);
		}
	} while (++c->warm_rounds < 64 &&
		 (c->warm_faults > 0 || c->warm_rounds < 2));
	for (unsigned r = 0; r < c->polls; r++) {
		unsigned first = change(c, c->k, want);
		int order[M_COUNT];
		for (int m = 0; m < M_COUNT; m++)
			order[m] = m;
		for (int m = M_COUNT - 1; m > 0; m--) {
			int j = (int)(next_random(&seed) % (uint32_t)(m + 1));
			int t = order[m];
			order[m] = order[j];
			order[j] = t;
		}
		for (int j = 0; j < M_COUNT; j++) {
			int m = order[j];
			if (!method_on(c, m) || m == M_FEED_WARM)
				continue;
			struct fsc_cursor from = a[M_FEED].cur;
			long f0 = minflt();
			uint64_t t0 = fb_now_ns();
			agent_poll(&a[m]);
			uint64_t t1 = fb_now_ns(), t2 = 0, t3 = 0;
			if (m == M_FEED) {
				/* The cursor is plain data: read the same
				 * changes again, all they touch now cached
				 * (a check and no system call in between). */
				check_poll(c, &a[m], want, first, c->k);
				a[M_FEED].cur = from;
				t2 = fb_now_ns();
				agent_poll(&a[M_FEED]);
				t3 = fb_now_ns();
			}
			long f1 = minflt(); /* the second read takes none */
			if (m == M_FEED)
				account(c, M_FEED_WARM, &a[M_FEED],
					&us[M_FEED_WARM][r], t2, t3, 0, want,
					first);
			account(c, m, &a[m], &us[m][r], t0, t1, f1 - f0, want,
				first);
		}
	}
	for (int m = 0; m < M_COUNT; m++) {
		c->s[m] = fb_summarize(us[m], method_on(c, m) ? c->polls : 0);
		c->found[m] /= c->polls;
		c->items[m] /= c->polls;
		c->stats[m] /= c->polls;
		c->faults[m] /= c->polls;
		free(us[m]);
		if (method_on(c, m) && m != M_FEED_WARM)
			agent_free(&a[m]);
	}
}

static void print_head(void)
{
	printf("%7s %5s  %-14s %11s %11s %11s %8s %8s %6s %7s %7s %6s\n",
	       "files", "K", "method", "median us", "mean us", "p90 us",
	       "med/feed", "mean/fd", "found", "items", "stats", "faults");
}

static json_t *report(const struct cost *c)
{
	json_t *methods = json_object();
	const struct fb_summary *f = &c->s[M_FEED];
	for (int m = 0; m < M_COUNT; m++) {
		if (!method_on(c, m))
			continue;
		const struct fb_summary *s = &c->s[m];
		double rm = f->median > 0 ? s->median / f->median : 0;
		double ra = f->mean > 0 ? s->mean / f->mean : 0;
		printf("%7u %5u  %-14s %11.3f %11.3f %11.3f %8.2f %8.2f %6.1f "
		       "%7.1f %7.1f %6.2f\n",
		       c->n, c->k, m_name[m], s->median, s->mean, s->p90, rm,
		       ra, c->found[m], c->items[m], c->stats[m], c->faults[m]);
		json_object_set_new(
			methods, m_name[m],
			json_pack(
				"{s:o, s:f, s:f, s:f, s:f, s:f, s:f, s:I, "
				"s:s}",
				"wall_us", fb_summary_json(s),
				"median_over_feed", rm, "mean_over_feed", ra,
				"found_per_poll", c->found[m], "items_per_poll",
				c->items[m], "stats_per_poll", c->stats[m],
				"page_faults_per_poll", c->faults[m], "resyncs",
				(json_int_t)c->resyncs[m], "what", m_what[m]));
	}
	for (int m = 0; m < M_COUNT; m++)
		if (method_on(c, m) && c->resyncs[m])
			printf("(%s: %" PRIu64 " of %u polls were full passes: "
			       "%s)\n",
			       m_name[m], c->resyncs[m], c->polls,
			       m == M_FEED ? "FSC_RESYNC"
					   : "a fresh Watchman instance");
	if (c->warm_faults > 0)
		printf("(K=%u: warm-up of %u rounds of %u files stopped with "
		       "the feed still page-faulting: %ld faults)\n",
		       c->k, c->warm_rounds, c->warm_files, c->warm_faults);
	fflush(stdout);
	return json_pack("{s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:o}", "files",
			 (json_int_t)c->n, "changed", (json_int_t)c->k, "polls",
			 (json_int_t)c->polls, "warmup", "rounds",
			 (json_int_t)c->warm_rounds, "files",
			 (json_int_t)c->warm_files, "feed_faults_last_round",
			 (json_int_t)c->warm_faults, "methods", methods);
}

/*
 * Start the writer (and Watchman when there is one), then measure each K
 * of ks[] in turn: rows printed, JSON into arr, figures into out[i].
 */
static void poll_costs(char *const *paths, unsigned n, const char *root,
		       unsigned expect_wm, const unsigned *ks, unsigned nk,
		       unsigned polls, const char *wm_bin, json_t *arr,
		       struct cost *out)
{
	struct fb_writer w;
	struct wm wm;
	struct table full, rel;
	char why[600];
	fb_writer_start(&w, paths, n, n + n / 4);
	struct fsc_header hdr;
	fb_writer_header(&w, &hdr);
	int feed_on = (hdr.flags & FSC_SEG_F_FEED) != 0;
	if (!feed_on)
		fb_die("%s: this writer keeps no change feed", FB.writer_bin);
	/* Every followed file must be answered from the cache. */
	struct fsc_stat *st = fb_calloc(n, sizeof(*st));
	int *rs = fb_calloc(n, sizeof(int));
	fsc_lookup_many(w.h, (const char *const *)paths, n, st, rs);
	unsigned hits = 0;
	for (unsigned i = 0; i < n; i++)
		hits += rs[i] == 0;
	free(st);
	free(rs);
	int have_wm = 0;
	if (wm_bin) {
		uint64_t t0 = fb_now_ns();
		have_wm = wm_start(&wm, wm_bin, root, expect_wm, why,
				   sizeof(why)) == 0;
		if (have_wm)
			printf("watchman %s: private server pid %ld watching "
			       "%s (ready in %.1f s)\n",
			       wm.version, (long)wm.pid, root,
			       (double)(fb_now_ns() - t0) / 1e9);
		else
			printf("watchman: not measured: %s\n", why);
	}
	printf("writer: %u of %u files answered from the cache after its "
	       "sync%s\n",
	       hits, n,
	       hits < n ? " (the others cost a stat() each poll)" : "");
	table_init(&full, paths, n, 0);
	table_init(&rel, paths, n, strlen(root) + 1);
	int64_t *want = fb_calloc(n, sizeof(int64_t));
	for (unsigned i = 0; i < n; i++) {
		struct stat sb;
		if (stat(paths[i], &sb) < 0)
			fb_die("stat %s: %s", paths[i], strerror(errno));
		want[i] = sb.st_size;
	}
	print_head();
	for (unsigned i = 0; i < nk; i++) {
		struct cost c = { .n = n,
				  .k = ks[i],
				  .polls = polls,
				  .paths = paths,
				  .root = root,
				  .full = &full,
				  .rel = &rel,
				  .name = w.name,
				  .w = &w,
				  .wm = have_wm ? &wm : NULL };
		measure(&c, want);
		json_t *j = report(&c);
		json_object_set_new(j, "answered_from_cache",
				    json_integer(hits));
		json_array_append_new(arr, j);
		out[i] = c;
	}
	free(want);
	free(full.slot);
	free(rel.slot);
	if (have_wm)
		wm_stop(&wm);
	fb_writer_stop(&w);
}

/*
 * How many of the pool's files part 2 can follow here: the segment must fit
 * in /dev/shm, the writer's marks in the fanotify and inotify limits.
 */
static unsigned big_fit(unsigned n, char *why, size_t whysize)
{
	why[0] = '\0';
	struct statvfs sv;
	uint64_t cap = (uint64_t)n + n / 4, slots = 1;
	while (slots < cap * 4 / 3 + 1)
		slots <<= 1;
	uint64_t need = slots * 384 * 3 / 2; /* segment, marks, feed, slack */
	if (statvfs("/dev/shm", &sv) == 0) {
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		while (n > 1000 && need > avail) {
			n /= 2;
			need /= 2;
			snprintf(why, whysize,
				 "/dev/shm has %" PRIu64 " MiB free",
				 avail >> 20);
		}
	}
	static const char *const limits[] = {
		"/proc/sys/fs/fanotify/max_user_marks",
		"/proc/sys/fs/inotify/max_user_watches",
	};
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(limits[i], "re");
		unsigned long lim = 0;
		if (f && fscanf(f, "%lu", &lim) == 1 && lim &&
		    lim < (unsigned long)n + FB.o.dirs + 1000) {
			n = lim > FB.o.dirs + 2000u
				    ? (unsigned)(lim - FB.o.dirs - 1000)
				    : 1000;
			snprintf(why, whysize, "%s is %lu", limits[i], lim);
		}
		if (f)
			fclose(f);
	}
	return n;
}

/* ---- 3: an idle agent's CPU at 4 Hz ----------------------------------------------------- */

enum cpu_mode {
	C_FLOOR,
	C_STAT,
	C_LOOKUP,
	C_FEED,
	C_WM,
	C_WM_SYNC,
	C_COUNT
};

static const char *const c_name[C_COUNT] = {
	"floor", "stat", "lookup_many", "feed", "watchman", "watchman-sync",
};
static const char *const c_what[C_COUNT] = {
	"wakes at 4 Hz and does nothing",
	"stat(2) of every file",
	"fsc_lookup_many() of every file",
	"fsc_changes() from its cursor",
	"query since its clock, no cookie sync (server: Watchman)",
	"query since its clock, cookie sync (server: Watchman)",
};
static const int c_method[C_COUNT] = { -1,     M_STAT, M_LOOKUP,
				       M_FEED, M_WM,   M_WM_SYNC };

struct cpu_shared {
	uint32_t ready, stop, polls;
	uint64_t found, stats;
	uint64_t poll_ns; /* the agent's CPU inside its polls */
};

struct cpu_arg {
	struct cpu_shared *sh;
	int mode;
	unsigned n;
	char *const *paths;
	const struct table *full, *rel;
	const char *name, *sock, *root;
};

static void cpu_agent(void *p)
{
	const struct cpu_arg *ca = p;
	struct cpu_shared *sh = ca->sh;
	struct agent a;
	int m = c_method[ca->mode];
	if (m >= 0)
		agent_init(&a, m, ca->n, ca->paths, ca->full, ca->rel, ca->name,
			   ca->sock, ca->root);
	if (m >= 0)
		agent_poll(&a); /* what its setup's answers left to find */
	struct timespec next, c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &next);
	uatomic_set(&sh->ready, 1);
	uint64_t found = 0, stats = 0, in_poll = 0;
	while (!uatomic_read(&sh->stop)) {
		/* The thread's CPU clock around the poll (the floor reads it
		 * around nothing: the two calls' own cost). */
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
		if (m >= 0) {
			agent_poll(&a);
			found += a.v.found;
			stats += a.v.stats;
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		in_poll += (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000000 +
				      (c1.tv_nsec - c0.tv_nsec));
		uatomic_set(&sh->found, found);
		uatomic_set(&sh->stats, stats);
		uatomic_set(&sh->poll_ns, in_poll);
		uatomic_set(&sh->polls, sh->polls + 1);
		uint64_t ns = (uint64_t)next.tv_nsec + 1000000000u / POLL_HZ;
		next.tv_sec += (time_t)(ns / 1000000000u);
		next.tv_nsec = (long)(ns % 1000000000u);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
	}
	if (m >= 0)
		agent_free(&a);
}

struct cpu_res {
	int on;
	double secs;
	uint64_t agent_ns, server_ns, found, stats, poll_ns;
	uint32_t polls;
};

/*
 * One window: agents of modes[0..n) (n <= 2) polling side by side, the
 * second half a period after the first, so that they share the machine's
 * moods but not their moments; res[mode] gets each one's figures, and
 * each one the server's CPU (an idle writer's: both see the same).
 */
static void cpu_window(struct cpu_arg *proto, const int *modes, int n,
		       pid_t server, struct cpu_res *res)
{
	struct cpu_arg ca[2];
	pid_t pid[2];
	struct cpu_shared *sh = fb_shared_alloc(2 * sizeof(*sh));
	for (int i = 0; i < n; i++) {
		ca[i] = *proto;
		ca[i].sh = &sh[i];
		ca[i].mode = modes[i];
		pid[i] = fb_spawn(cpu_agent, &ca[i]);
		uint64_t deadline = fb_now_ns() + READY_TIMEOUT_MS * 1000000ull;
		while (!uatomic_read(&sh[i].ready)) {
			if (fb_now_ns() > deadline)
				fb_die("idle agent: not ready");
			fb_sleep_ns(100000);
		}
		if (i + 1 < n) /* the next one half a period later */
			fb_sleep_ns(1000000000u / POLL_HZ / 2);
	}
	fb_sleep_ns(WARMUP_NS);
	uint64_t a0[2], in0[2], f0[2], st0[2];
	uint32_t p0[2];
	for (int i = 0; i < n; i++) {
		a0[i] = fb_sched_cpu_ns(pid[i]);
		p0[i] = uatomic_read(&sh[i].polls);
		f0[i] = uatomic_read(&sh[i].found);
		st0[i] = uatomic_read(&sh[i].stats);
		in0[i] = uatomic_read(&sh[i].poll_ns);
	}
	uint64_t s0 = server ? fb_sched_cpu_ns(server) : 0;
	uint64_t t0 = fb_now_ns();
	fb_sleep_ns((uint64_t)(FB.o.feed_window_s * 1e9));
	uint64_t t1 = fb_now_ns();
	uint64_t s1 = server ? fb_sched_cpu_ns(server) : 0;
	for (int i = 0; i < n; i++) {
		struct cpu_res *r = &res[modes[i]];
		r->agent_ns = fb_sched_cpu_ns(pid[i]) - a0[i];
		r->on = 1;
		r->secs = (double)(t1 - t0) / 1e9;
		r->server_ns = s1 - s0;
		r->polls = uatomic_read(&sh[i].polls) - p0[i];
		r->found = uatomic_read(&sh[i].found) - f0[i];
		r->stats = uatomic_read(&sh[i].stats) - st0[i];
		r->poll_ns = uatomic_read(&sh[i].poll_ns) - in0[i];
	}
	for (int i = 0; i < n; i++)
		uatomic_set(&sh[i].stop, 1);
	for (int i = 0; i < n; i++) {
		fb_reap(pid[i], "idle agent");
		if (res[modes[i]].found)
			fb_die("idle agent (%s): %" PRIu64 " files found "
			       "changed, none changed",
			       c_name[modes[i]], res[modes[i]].found);
	}
	fb_shared_free(sh, 2 * sizeof(*sh));
}

static double pct(uint64_t ns, double secs)
{
	return secs > 0 ? 100.0 * (double)ns / (secs * 1e9) : 0;
}

struct idle_out {
	double feed_us_s, floor_us_s, feed_poll_us; /* -1: not measured */
};

static json_t *idle_cpu(char *const *paths, unsigned n, const char *root,
			const char *wm_bin, struct idle_out *out)
{
	struct table full, rel;
	table_init(&full, paths, n, 0);
	table_init(&rel, paths, n, strlen(root) + 1);
	struct cpu_res res[C_COUNT];
	memset(res, 0, sizeof(res));
	struct cpu_arg ca = {
		.n = n, .paths = paths, .full = &full, .rel = &rel, .root = root
	};
	char why[600] = "";

	/* The writer alone; the floor beside the feed, in the same window. */
	struct fb_writer w;
	fb_writer_start(&w, paths, n, n + n / 4);
	ca.name = w.name;
	static const int pair[2] = { C_FEED, C_FLOOR };
	static const int lookup[1] = { C_LOOKUP };
	cpu_window(&ca, pair, 2, w.pid, res);
	cpu_window(&ca, lookup, 1, w.pid, res);
	fb_writer_stop(&w);
	/* Nothing running. */
	static const int stat_only[1] = { C_STAT };
	cpu_window(&ca, stat_only, 1, 0, res);
	/* Watchman alone. */
	struct wm wm;
	if (wm_bin && wm_start(&wm, wm_bin, root, n, why, sizeof(why)) == 0) {
		ca.sock = wm.sock;
		for (int m = C_WM; m <= C_WM_SYNC; m++)
			cpu_window(&ca, &m, 1, wm.pid, res);
		wm_stop(&wm);
	} else if (!wm_bin) {
		snprintf(why, sizeof(why), "%s", WM_NOT_INSTALLED);
	}
	free(full.slot);
	free(rel.slot);

	const struct cpu_res *st = &res[C_STAT], *fl = &res[C_FLOOR];
	double base = pct(st->agent_ns + st->server_ns, st->secs);
	double floor_us_s =
		(double)(fl->agent_ns + fl->server_ns) / 1e3 / fl->secs;
	printf("%-14s %5s %9s %9s %9s %10s %10s %9s %8s\n", "mode", "polls",
	       "agent", "server", "total", "total us/s", "-floor", "poll us",
	       "x stat");
	json_t *modes = json_object();
	for (int m = 0; m < C_COUNT; m++) {
		const struct cpu_res *r = &res[m];
		if (!r->on) {
			printf("%-14s %5s %9s %9s %9s %10s %10s %9s %8s  (%s)\n",
			       c_name[m], "-", "-", "-", "-", "-", "-", "-",
			       "-", why);
			json_object_set_new(modes, c_name[m],
					    json_pack("{s:b, s:s}", "measured",
						      0, "note", why));
			continue;
		}
		double tot = pct(r->agent_ns + r->server_ns, r->secs);
		double us_s =
			(double)(r->agent_ns + r->server_ns) / 1e3 / r->secs;
		double in_poll = r->polls ? (double)r->poll_ns / 1e3 / r->polls
					  : 0;
		double x = base > 0 ? tot / base : 0;
		char server[16] = "-";
		if (m != C_STAT)
			snprintf(server, sizeof(server), "%.4f%%",
				 pct(r->server_ns, r->secs));
		printf("%-14s %5u %8.4f%% %9s %8.4f%% %10.1f %10.1f %9.2f "
		       "%8.4f\n",
		       c_name[m], r->polls, pct(r->agent_ns, r->secs), server,
		       tot, us_s, us_s - floor_us_s, in_poll, x);
		json_object_set_new(
			modes, c_name[m],
			json_pack("{s:b, s:f, s:I, s:I, s:I, s:f, s:f, s:f, "
				  "s:f, s:f, s:f, s:I, s:s}",
				  "measured", 1, "window_s", r->secs, "polls",
				  (json_int_t)r->polls, "agent_cpu_ns",
				  (json_int_t)r->agent_ns, "server_cpu_ns",
				  (json_int_t)r->server_ns, "total_cpu_pct",
				  tot, "cpu_us_per_s", us_s,
				  "above_floor_us_per_s", us_s - floor_us_s,
				  "in_poll_us_per_poll", in_poll, "over_stat",
				  x, "agent_stats_per_poll",
				  r->polls ? (double)r->stats / r->polls : 0.0,
				  "found", (json_int_t)r->found, "what",
				  c_what[m]));
		if (m == C_FEED) {
			out->feed_us_s = us_s;
			out->floor_us_s = floor_us_s;
			out->feed_poll_us = in_poll;
		}
	}
	for (int m = 0; m < C_COUNT; m++)
		printf("  %-14s %s%s\n", c_name[m], c_what[m],
		       m == C_FLOOR ? " (beside the feed agent, the writer "
				      "running)"
		       : m == C_FEED || m == C_LOOKUP ? " (the writer running)"
		       : m == C_STAT                  ? " (no writer)"
						      : "");
	return json_pack("{s:I, s:I, s:f, s:o}", "files", (json_int_t)n,
			 "poll_hz", (json_int_t)POLL_HZ, "window_s",
			 FB.o.feed_window_s, "modes", modes);
}

/* ---- the section ----------------------------------------------------------------------- */

void fb_run_feed(void)
{
	const char *wm_bin = wm_find();
	json_t *sec = json_object();
	unsigned n = FB.o.files, polls = FB.o.feed_polls;
	char root[PATH_MAX], why[200];
	if ((size_t)snprintf(root, sizeof(root), "%s/feed", FB.dir) >=
	    sizeof(root))
		fb_die("%s: path too long", FB.dir);

	fb_title("Change feed: a poll for what changed, against looking at "
		 "every file");
	double floor_ns = timer_floor_ns();
	printf("(per poll: wall us, methods in a new random order each round; "
	       "before each round K files get a byte appended, then the "
	       "writer's sync and Watchman's cookie sync; found = followed "
	       "files found changed per poll, items = feed records or files "
	       "in Watchman's reply, stats = stat() calls, faults = minor page "
	       "faults; after an untimed warm-up of rounds of 256 or more "
	       "changes until a feed poll takes no page fault; timer floor "
	       "%.0f ns, in every figure)\n",
	       floor_ns);
	if (wm_bin)
		printf("watchman: %s\n", wm_bin);
	else
		printf("watchman: " WM_NOT_INSTALLED "\n");
	json_object_set_new(sec, "watchman",
			    json_pack("{s:b, s:s}", "installed", wm_bin != NULL,
				      "binary", wm_bin ? wm_bin : ""));
	json_object_set_new(sec, "timer_floor_ns", json_real(floor_ns));

	uint64_t t0 = fb_now_ns();
	char **paths = tree_make(root, n, FB.o.dirs);
	printf("made %u files under %s in %.1f s\n", n, root,
	       (double)(fb_now_ns() - t0) / 1e9);

	/* 1. F files, K = 10 and K = 0. */
	json_t *costs = json_array();
	unsigned ks[2] = { SMALL_K < n ? SMALL_K : 1, 0 };
	struct cost small[2];
	poll_costs(paths, n, root, n, ks, 2, polls, wm_bin, costs, small);

	/* 2. The big pool, 1 % changed per poll. */
	struct cost big;
	int have_big = 0;
	memset(&big, 0, sizeof(big));
	if (FB.o.big_files) {
		unsigned nb = big_fit(FB.o.big_files, why, sizeof(why));
		char pool[PATH_MAX];
		if ((size_t)snprintf(pool, sizeof(pool), "%s/pool", FB.dir) >=
		    sizeof(pool))
			fb_die("%s: path too long", FB.dir);
		printf("\n%u files, %u%% changed per poll%s%s%s\n", nb, 1,
		       why[0] ? " (fewer than --big-files: " : "", why,
		       why[0] ? ")" : "");
		unsigned kb[1] = { nb / 100 ? nb / 100 : 1 };
		poll_costs(FB.pool, nb, pool, nb, kb, 1,
			   polls / 4 > 3 ? polls / 4 : 3, wm_bin, costs, &big);
		have_big = 1;
	} else {
		printf("\n(the large version is skipped: --big-files 0)\n");
	}
	json_object_set_new(sec, "poll", costs);

	/* 3. Idle CPU. */
	fb_title("Change feed: an idle agent polling %u files at %d Hz", n,
		 POLL_HZ);
	printf("(%.1f s windows after a %.2f s warm-up; CPU in %% of one core, "
	       "exact (schedstat of every thread): agent + server (the writer "
	       "or the Watchman server); -floor = total us/s less the floor's; "
	       "poll us = the agent's CPU inside one poll (its thread's CPU "
	       "clock); x stat = total / stat() polling's)\n",
	       FB.o.feed_window_s, WARMUP_NS / 1e9);
	struct idle_out idle = { -1, -1, -1 };
	json_object_set_new(sec, "idle_cpu",
			    idle_cpu(paths, n, root, wm_bin, &idle));
	json_object_set_new(FB.root, "feed", sec);
	tree_remove(root, paths, n);

	/* The targets: in-situ medians, as an agent meets them. */
	char detail[240];
	double k10 = small[0].s[M_FEED].median, k0 = small[1].s[M_FEED].median;
	snprintf(detail, sizeof(detail),
		 "median of %u polls, %u of %u files changed (mean %.2f us, "
		 "caches hot %.2f us; lookup_many %.0fx, stat %.0fx)",
		 small[0].polls, small[0].k, n, small[0].s[M_FEED].mean,
		 small[0].s[M_FEED_WARM].median,
		 small[0].s[M_LOOKUP].median / k10,
		 small[0].s[M_STAT].median / k10);
	fb_target("feed poll, 10 changed <= 5 us", k10, "us", k10 <= 5.0,
		  detail);
	snprintf(detail, sizeof(detail),
		 "median of %u polls, nothing changed, %u files (mean %.0f "
		 "ns, caches hot %.0f ns; timer floor %.0f ns included)",
		 small[1].polls, n, small[1].s[M_FEED].mean * 1e3,
		 small[1].s[M_FEED_WARM].median * 1e3, floor_ns);
	fb_target("feed poll, nothing changed <= 200 ns", k0 * 1e3, "ns",
		  k0 * 1e3 <= 200.0, detail);
	if (have_big) {
		double x = big.s[M_LOOKUP].median / big.s[M_FEED].median;
		snprintf(detail, sizeof(detail),
			 "%u files, %u changed per poll: lookup_many / feed, "
			 "medians of %u polls (means: %.1fx)",
			 big.n, big.k, big.polls,
			 big.s[M_LOOKUP].mean / big.s[M_FEED].mean);
		fb_target("feed <= 1/20 of lookup_many (1 %)", x, "x",
			  x >= 20.0, detail);
	}
	if (idle.feed_us_s >= 0) {
		snprintf(detail, sizeof(detail),
			 "agent + writer CPU, %u files polled at %d Hz, "
			 "nothing changing, %.1f s (500 us/s = 0.05 %% of a "
			 "core); an agent that only wakes: %.1f us/s; inside "
			 "fsc_changes(): %.2f us/poll",
			 n, POLL_HZ, FB.o.feed_window_s, idle.floor_us_s,
			 idle.feed_poll_us);
		fb_target("feed agent idle <= 0.05 % of a core", idle.feed_us_s,
			  "us/s", idle.feed_us_s <= 500.0, detail);
	}
}
