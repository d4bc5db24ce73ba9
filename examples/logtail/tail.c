/*
 * tail.c - the poll loop of fsc-tail: which files changed, and what to read.
 *
 * Per poll, each followed path that may have changed gets an answer (a
 * struct tail_snap), compared with the previous answer for the same path:
 *
 *   unchanged                      nothing to do, no system call at all
 *   same file (dev, ino), changed  read() from our offset to the end
 *   size below our offset          truncated in place (copytruncate):
 *                                  start again at 0
 *   other file, or none            rotated or deleted: read the old file
 *                                  to its end, then open the new one (if
 *                                  any) from its start
 *
 * In --stat mode every path gets a stat() every poll.  In cache mode the
 * answers come from three places (f->source says which, per file):
 *
 *   The change feed.  The writer lists every answer it publishes.  The
 *   agent keeps a cursor and each poll reads the changes since it
 *   (fsc_changes(): no system call, one load when nothing changed).  A
 *   change of a path we follow (found by bsearch in `keys`, the followed
 *   paths sorted; one path may be followed twice) that carries an answer
 *   is that path's new answer; the last one wins when a path changed
 *   more than once.  Changes of other paths are skipped: the writer
 *   serves other readers too.  A path nobody changed keeps its answer
 *   and costs nothing, so a poll costs what changed, not what is
 *   followed.
 *
 *   The stat set.  A path the cache has no answer for gets no record when
 *   it changes: one marked changed (written to and not re-stat'ed yet; a
 *   file written continuously stays so), evicted or removed, answered by
 *   stat() by the writer (a filesystem inotify cannot see, the watch
 *   limit), not in the table at all, not canonical, and every path while
 *   there is no writer.  Such a path is stat()'ed every poll, as it was
 *   before the feed, until a change with an answer comes for it.  One the
 *   table lacks (a lookup's FSC_MISS, an eviction, a removal) also gets a
 *   watch request each poll; the writer's "added" record then brings it
 *   back to the feed.
 *
 *   A full pass.  When the feed cannot list the changes since our cursor
 *   (FSC_RESYNC: the first poll, a restarted writer, a ring that has
 *   overwritten what we had not read, an invalidation, no writer; or an
 *   error), every path is looked up with one fsc_lookup_many(), stat()'ed
 *   when the cache cannot answer (with a watch request on a miss), and
 *   the next poll carries on from the new cursor.  fsc_changes() moves
 *   the cursor before we look up, so whatever changes after a lookup is
 *   listed after the cursor.
 *
 * A poll also looks again, without a change, at the files it could not
 * finish (`again`): those with more to read than one poll reads, and
 * those it could not open.  Files are handled in the order they were
 * given, not in the order of the changes, so the output is the same with
 * or without the cache.
 *
 * A poll reads at most TAIL_POLL_READ bytes of a file (f->behind: the
 * next poll reads on, whatever the answer), so a file written faster than
 * we read it cannot keep the poll from the other files, nor from ending.
 *
 * The cache is eventually fresh (the writer applies inotify events a
 * moment after they happen), so its answer can be a step behind what we
 * already read from an open descriptor.  That never loses data (a later
 * answer differs, and is listed in the feed, and we read again), but it
 * must not be taken for a rotation or a truncation: those rare events are
 * confirmed with stat() or fstat() before we act on them.
 */
#include "tail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK 65536

/* f->source: where a file's next answer comes from (cache mode). */
enum {
	SRC_FEED,   /* the cache's answer: the feed lists its changes */
	SRC_STAT,   /* the cache cannot answer it: stat() every poll */
	SRC_MISS,   /* not in the table: stat() and a watch request */
	SRC_LOOKUP, /* added since the last poll: look it up */
};

/* f->change: the last thing this poll's changes said of f's path. */
enum {
	CHG_NONE,
	CHG_ANSWER,   /* a new answer, in f->answer */
	CHG_UNCACHED, /* no answer: marked changed, or answered by stat() */
	CHG_LEFT,     /* no answer: it left the table (evicted, removed) */
};

void tail_init(struct tail *t, fsc_handle *h)
{
	memset(t, 0, sizeof(*t));
	t->h = h;
	t->log = stderr;
	t->prog = "fsc-tail";
}

/* ---- paths ----------------------------------------------------------- */

/*
 * The cache's keys are absolute paths without empty, "." or ".."
 * components (it compares strings, so only one spelling per file is
 * cached).  "." and "//" can be dropped without changing the file named;
 * ".." cannot (the directory may be a symlink), so a path with ".." gets
 * its directory resolved by realpath() when that directory exists.
 * Whatever stays non-canonical is still followed correctly, answered by
 * stat() every poll.
 */
static char *canonical(const char *path)
{
	char *cwd = NULL;
	if (path[0] != '/' && !(cwd = getcwd(NULL, 0)))
		return NULL;
	size_t n = (cwd ? strlen(cwd) : 0) + strlen(path) + 2;
	char *in = malloc(n), *out = malloc(n);
	if (!in || !out)
		goto fail;
	snprintf(in, n, "%s/%s", cwd ? cwd : "", path);
	size_t o = 0;
	int dotdot = 0;
	for (char *c = strtok(in, "/"); c; c = strtok(NULL, "/")) {
		if (!strcmp(c, "."))
			continue;
		dotdot |= !strcmp(c, "..");
		o += (size_t)snprintf(out + o, n - o, "/%s", c);
	}
	if (!o)
		strcpy(out, "/");
	char *slash = strrchr(out, '/');
	if (dotdot && slash > out) {
		*slash = '\0';
		char *dir = realpath(out, NULL);
		*slash = '/';
		if (dir) {
			snprintf(in, n, "%s", slash);
			free(out);
			out = malloc(strlen(dir) + strlen(in) + 1);
			if (out)
				sprintf(out, "%s%s",
					strcmp(dir, "/") ? dir : "", in);
			free(dir);
		}
	}
	free(in);
	free(cwd);
	return out;
fail:
	free(in);
	free(out);
	free(cwd);
	errno = ENOMEM;
	return NULL;
}

static int grow(struct tail *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	struct tail_file *f = realloc(t->files, cap * sizeof(*f));
	if (!f)
		return -ENOMEM;
	t->files = f;
	const char **p = realloc(t->paths, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	t->paths = p;
	struct fsc_stat *a = realloc(t->answers, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	t->answers = a;
	int *r = realloc(t->results, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	t->results = r;
	size_t *w = realloc(t->work, cap * sizeof(*w));
	if (!w)
		return -ENOMEM;
	t->work = w;
	w = realloc(t->again, cap * sizeof(*w));
	if (!w)
		return -ENOMEM;
	t->again = w;
	t->cap = cap;
	return 0;
}

int tail_add(struct tail *t, const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	if (t->n == t->cap && grow(t) < 0)
		return -ENOMEM;
	struct tail_file *f = &t->files[t->n];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->path = canonical(path);
	if (!f->path)
		return -errno;
	f->label = strdup(path);
	if (!f->label) {
		free(f->path);
		return -ENOMEM;
	}
	if (t->h && !fsc_path_ok(f->path, strlen(f->path)) && t->log)
		fprintf(t->log,
			"%s: %s: cannot be cached (not a canonical "
			"path: %s); answered by stat() every poll\n",
			t->prog, f->label, f->path);
	f->source = SRC_LOOKUP;
	/* The first poll looks every file up; later ones, only new ones. */
	if (t->h && t->started)
		t->again[t->nagain++] = t->n;
	t->paths[t->n++] = f->path;
	return 0;
}

/* ---- output ---------------------------------------------------------- */

static void notice(struct tail *t, const struct tail_file *f, const char *what,
		   int err)
{
	if (!t->log)
		return;
	fprintf(t->log, "%s: %s: %s%s%s\n", t->prog, f->label, what,
		err ? ": " : "", err ? strerror(err) : "");
}

static void emit(struct tail *t, const struct tail_file *f, const char *line,
		 size_t len)
{
	t->counts.lines++;
	if (t->emit)
		t->emit(t->emit_arg, f, line, len);
}

static void flush_partial(struct tail *t, struct tail_file *f)
{
	if (f->plen)
		emit(t, f, f->partial, f->plen);
	f->plen = 0;
}

/* Keep the start of a line until its newline arrives (at most LINE_MAX). */
static void hold(struct tail *t, struct tail_file *f, const char *p, size_t len)
{
	while (len) {
		if (f->plen == TAIL_LINE_MAX)
			flush_partial(t, f); /* too long: split it */
		size_t k = TAIL_LINE_MAX - f->plen;
		k = len < k ? len : k;
		if (f->plen + k > f->pcap) {
			size_t cap = f->pcap ? f->pcap * 2 : 256;
			while (cap < f->plen + k)
				cap *= 2;
			cap = cap < TAIL_LINE_MAX ? cap : TAIL_LINE_MAX;
			char *np = realloc(f->partial, cap);
			if (!np) { /* no memory to wait: print what we have */
				flush_partial(t, f);
				emit(t, f, p, k);
				p += k;
				len -= k;
				continue;
			}
			f->partial = np;
			f->pcap = cap;
		}
		memcpy(f->partial + f->plen, p, k);
		f->plen += k;
		p += k;
		len -= k;
	}
}

static void split_lines(struct tail *t, struct tail_file *f, const char *p,
			size_t n)
{
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			hold(t, f, p, (size_t)(end - p));
			return;
		}
		if (f->plen) {
			hold(t, f, p, (size_t)(nl - p));
			flush_partial(t, f);
		} else {
			emit(t, f, p, (size_t)(nl - p));
		}
		p = nl + 1;
	}
}

/* ---- the files ------------------------------------------------------- */

/*
 * Read from our offset to the end of the open file, or TAIL_POLL_READ
 * bytes of it: then f->behind, the rest is for the next poll.
 */
static void read_new(struct tail *t, struct tail_file *f)
{
	char buf[READ_CHUNK];
	size_t total = 0;
	f->behind = 0;
	while (total < TAIL_POLL_READ) {
		ssize_t n = read(f->fd, buf, sizeof(buf));
		t->counts.syscalls++;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			notice(t, f, "read error", errno);
			return;
		}
		f->offset += n;
		total += (size_t)n;
		t->counts.bytes += (uint64_t)n;
		split_lines(t, f, buf, (size_t)n);
		/* A short read of a regular file ends at its end: no need to
		 * pay one more read() to see 0. */
		if ((size_t)n < sizeof(buf))
			return;
	}
	f->behind = 1;
}

/*
 * The file at path is another one now, or none: finish the old one.
 * 0 while it holds more than a poll reads: the new one waits till then.
 */
static int leave(struct tail *t, struct tail_file *f)
{
	read_new(t, f); /* lines written just before the rotation */
	if (f->behind)
		return 0;
	flush_partial(t, f); /* no one will complete it in this file */
	close(f->fd);
	t->counts.syscalls++;
	f->fd = -1;
	return 1;
}

/* Open path: 1 when following it now.  `why` is said for a later open. */
static int enter(struct tail *t, struct tail_file *f, const char *why)
{
	/* O_NONBLOCK: a FIFO at the path must not hang the poll. */
	int fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	t->counts.syscalls++;
	if (fd < 0) {
		/* Gone again since the lookup: try next poll.  Any other
		 * error: say it once, retry when the path changes. */
		if (errno != ENOENT && errno != ENOTDIR) {
			notice(t, f, "cannot open", errno);
			f->failed = 1;
		}
		return 0;
	}
	t->counts.syscalls++;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		notice(t, f, "not a regular file; ignored", 0);
		close(fd);
		f->failed = 1;
		return 0;
	}
	f->fd = fd;
	f->dev = (uint64_t)st.st_dev;
	f->ino = (uint64_t)st.st_ino;
	f->offset = 0;
	if (!t->started && !t->from_start) {
		f->offset = lseek(fd, st.st_size, SEEK_SET);
		t->counts.syscalls++;
	} else if (t->started) {
		notice(t, f, why, 0);
	}
	return 1;
}

/* Our offset is past the size the answer gave: truncated, or a late answer? */
static void check_truncated(struct tail *t, struct tail_file *f)
{
	struct stat st;
	t->counts.syscalls++;
	if (fstat(f->fd, &st) < 0 || st.st_size >= f->offset)
		return; /* the answer was a step behind what we read */
	notice(t, f, "file truncated", 0);
	flush_partial(t, f);
	f->offset = lseek(f->fd, 0, SEEK_SET);
	t->counts.syscalls++;
}

/* ---- answers --------------------------------------------------------- */

static void stat_path(struct tail *t, const char *path, struct tail_snap *s)
{
	struct stat st;
	memset(s, 0, sizeof(*s));
	t->counts.stats++;
	t->counts.syscalls++;
	if (stat(path, &st) < 0) {
		s->err = errno == ENOENT || errno == ENOTDIR ? 0 : errno;
		return;
	}
	s->exists = 1;
	s->dev = (uint64_t)st.st_dev;
	s->ino = (uint64_t)st.st_ino;
	s->size = (int64_t)st.st_size;
	s->mtime_sec = (int64_t)st.st_mtim.tv_sec;
	s->mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
}

static void snap_from(struct tail_snap *s, const struct fsc_stat *a)
{
	memset(s, 0, sizeof(*s));
	s->from_cache = 1;
	s->exists = a->exists;
	s->dev = a->dev;
	s->ino = a->ino;
	s->size = a->size;
	s->mtime_sec = a->mtime_sec;
	s->mtime_nsec = a->mtime_nsec;
}

/* Ask the writer to watch f: a refused request only costs a stat(). */
static void request(struct tail *t, const struct tail_file *f)
{
	t->counts.syscalls++;
	if (fsc_request_watch(t->h, f->path) == 0)
		t->counts.requests++;
}

/*
 * The answer of the lookup (or of --stat mode) for file i: the cache's,
 * or stat()'s when it has none (then 1).  Sets where the next comes from.
 */
static int look(struct tail *t, size_t i, struct tail_snap *s)
{
	struct tail_file *f = &t->files[i];
	if (t->h && t->results[i] == 0) {
		snap_from(s, &t->answers[i]);
		f->source = SRC_FEED;
		return 0;
	}
	/* FSC_UNCACHED (no writer, path not cacheable, marked...) or a
	 * miss: stat() it now and every poll until the feed answers. */
	stat_path(t, f->path, s);
	if (!t->h)
		return 1;
	f->source = t->results[i] == FSC_MISS ? SRC_MISS : SRC_STAT;
	if (f->source == SRC_MISS) /* the next poll then hears of it */
		request(t, f);
	return 1;
}

/*
 * The answer for file i in a poll that read the feed: its last change's,
 * or stat()'s when the cache has none (then 1), or a lookup's for a new
 * file; else, for a file looked at again, its last answer.
 */
static int answer(struct tail *t, size_t i, struct tail_snap *s)
{
	struct tail_file *f = &t->files[i];
	if (f->source == SRC_LOOKUP) {
		t->results[i] = fsc_lookup(t->h, f->path, &t->answers[i]);
		t->counts.lookups++;
		return look(t, i, s);
	}
	if (f->change == CHG_ANSWER) {
		*s = f->answer;
		f->source = SRC_FEED;
		return 0;
	}
	if (f->change == CHG_UNCACHED)
		f->source = SRC_STAT;
	else if (f->change == CHG_LEFT)
		f->source = SRC_MISS;
	if (f->source == SRC_FEED) { /* unchanged: behind, or not open */
		*s = f->last;
		return 0;
	}
	stat_path(t, f->path, s);
	if (f->source == SRC_MISS)
		request(t, f);
	return 1;
}

/* ---- one file -------------------------------------------------------- */

static int snap_equal(const struct tail_snap *a, const struct tail_snap *b)
{
	return a->exists == b->exists && a->err == b->err && a->dev == b->dev &&
	       a->ino == b->ino && a->size == b->size &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec;
}

static int holds(const struct tail_file *f, const struct tail_snap *s)
{
	return s->exists && s->dev == f->dev && s->ino == f->ino;
}

/* Nothing to do for f until its answer changes. */
static int settled(const struct tail_file *f)
{
	return !f->behind && (f->fd >= 0 || !f->last.exists || f->failed);
}

static void follow(struct tail *t, struct tail_file *f,
		   const struct tail_snap *s)
{
	int changed = !f->seen || !snap_equal(&f->last, s);
	/* The common case, and where the cache pays: nothing changed at the
	 * path since the last poll, so this file costs no system call. */
	if (!changed && settled(f))
		return;
	if (changed && s->err)
		notice(t, f, "cannot stat", s->err);
	if (changed)
		f->failed = 0;
	f->last = *s;
	f->seen = 1;

	struct tail_snap now = *s;
	if (f->fd >= 0 && !holds(f, &now) && now.from_cache)
		stat_path(t, f->path, &now); /* confirm: rare, worth a stat() */
	int replaced = 0;
	if (f->fd >= 0 && !holds(f, &now)) {
		if (!leave(t, f))
			return; /* the old file's rest first, next poll */
		replaced = now.exists;
		if (!replaced)
			notice(t, f, "has become inaccessible", 0);
	}
	if (f->fd < 0) {
		if (!now.exists) {
			if (!t->started && !now.err)
				notice(t, f,
				       "does not exist yet; waiting "
				       "for it",
				       0);
			return;
		}
		if (!enter(t, f,
			   replaced ? "has been replaced; following new "
				      "file"
				    : "has appeared; following new file"))
			return;
		if (!t->started && !t->from_start)
			return; /* opened at its end: nothing to read yet */
	}
	if (now.size < f->offset)
		check_truncated(t, f);
	read_new(t, f);
}

/*
 * After file i had its turn: the next poll looks at it again if the feed
 * will not tell when it changes, or if it has work left.
 */
static void after(struct tail *t, size_t i)
{
	const struct tail_file *f = &t->files[i];
	if (t->h && (f->source != SRC_FEED || !settled(f)))
		t->again[t->nagain++] = i;
}

/* ---- the change feed ------------------------------------------------- */

static int key_cmp(const void *a, const void *b)
{
	const struct tail_key *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x->file > y->file) - (x->file < y->file);
}

/* Sort the followed paths (again, when files were added): 0 or -ENOMEM. */
static int index_paths(struct tail *t)
{
	if (t->keyed == t->n)
		return 0;
	struct tail_key *k = realloc(t->keys, t->n * sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		k[i] = (struct tail_key){ t->files[i].path, i };
	qsort(k, t->n, sizeof(*k), key_cmp);
	t->keys = k;
	t->keyed = t->n;
	return 0;
}

static void queue(struct tail *t, size_t i)
{
	if (!t->files[i].queued) {
		t->files[i].queued = 1;
		t->work[t->nwork++] = i;
	}
}

/* fsc_changes()'s callback: note the change of each file at its path. */
static int on_change(void *arg, const struct fsc_change *c)
{
	struct tail *t = arg;
	size_t lo = 0, hi = t->keyed;
	t->counts.changes++;
	while (lo < hi) { /* the first key >= path */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(t->keys[mid].path, c->path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->keyed && !strcmp(t->keys[lo].path, c->path); lo++) {
		struct tail_file *f = &t->files[t->keys[lo].file];
		if (c->status == 0) {
			f->change = CHG_ANSWER;
			snap_from(&f->answer, &c->st);
		} else if (c->kind == FSC_CHANGE_EVICTED ||
			   c->kind == FSC_CHANGE_REMOVED) {
			f->change = CHG_LEFT; /* a lookup would say FSC_MISS */
		} else {
			f->change = CHG_UNCACHED;
		}
		queue(t, t->keys[lo].file);
	}
	return 0;
}

/* Forget what a walk of the feed queued (a full pass follows). */
static void unqueue(struct tail *t)
{
	for (size_t k = 0; k < t->nwork; k++) {
		t->files[t->work[k]].queued = 0;
		t->files[t->work[k]].change = CHG_NONE;
	}
	t->nwork = 0;
}

/* An error of the feed: said once if it will last; then full passes. */
static void feed_failed(struct tail *t, int err)
{
	if ((err == -EOPNOTSUPP || err == -ENOSYS) && err != t->feed_error &&
	    t->log)
		fprintf(t->log,
			"%s: no change feed (%s): looking every file up "
			"every poll\n",
			t->prog, fsc_strerror(err));
	t->feed_error = err;
	/* A new cursor: the next call says FSC_RESYNC when it can list
	 * changes again (past a record it could not read, say). */
	t->cursor = (struct fsc_cursor)FSC_CURSOR_INIT;
}

/* ---- one poll -------------------------------------------------------- */

static int index_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

/* Every file: one lookup each (or stat() in --stat mode). */
static size_t full_pass(struct tail *t)
{
	size_t behind = 0, by_stat = 0;
	/* One pass over the shared table for the whole list: the slots of
	 * the next paths are fetched while the current one is compared. */
	if (t->h) {
		fsc_lookup_many(t->h, t->paths, t->n, t->answers, t->results);
		t->counts.lookups += t->n;
	}
	t->counts.full_passes++;
	t->nagain = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct tail_snap s;
		by_stat += (size_t)look(t, i, &s);
		follow(t, &t->files[i], &s);
		behind += t->files[i].behind != 0;
		after(t, i);
	}
	if (t->h)
		t->counts.hits += t->n - by_stat;
	return behind;
}

/* The files the feed named, then those looked at anyway, in file order. */
static size_t feed_pass(struct tail *t)
{
	size_t behind = 0, by_stat = 0;
	for (size_t k = 0; k < t->nagain; k++)
		queue(t, t->again[k]);
	t->nagain = 0;
	qsort(t->work, t->nwork, sizeof(*t->work), index_cmp);
	for (size_t k = 0; k < t->nwork; k++) {
		size_t i = t->work[k];
		struct tail_file *f = &t->files[i];
		struct tail_snap s;
		by_stat += (size_t)answer(t, i, &s);
		f->queued = 0;
		f->change = CHG_NONE;
		follow(t, f, &s);
		behind += f->behind != 0;
		after(t, i);
	}
	t->nwork = 0;
	t->counts.hits += t->n - by_stat; /* no change: the cache's answer */
	return behind;
}

size_t tail_poll(struct tail *t)
{
	size_t behind;
	if (!t->h) {
		behind = full_pass(t);
	} else {
		int indexed = index_paths(t) == 0;
		int r = fsc_changes(t->h, &t->cursor, on_change, t);
		if (r < 0)
			feed_failed(t, r);
		else
			t->feed_error = 0;
		if (r != 0 || !indexed || !t->started) {
			unqueue(t);
			behind = full_pass(t);
		} else {
			behind = feed_pass(t);
		}
	}
	t->started = 1;
	t->counts.polls++;
	return behind;
}

void tail_finish(struct tail *t)
{
	for (size_t i = 0; i < t->n; i++)
		flush_partial(t, &t->files[i]);
}

void tail_free(struct tail *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tail_file *f = &t->files[i];
		if (f->fd >= 0)
			close(f->fd);
		free(f->path);
		free(f->label);
		free(f->partial);
	}
	free(t->files);
	free(t->paths);
	free(t->answers);
	free(t->results);
	free(t->keys);
	free(t->work);
	free(t->again);
	memset(t, 0, sizeof(*t));
}
