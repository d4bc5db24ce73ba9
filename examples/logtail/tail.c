/*
 * tail.c - the poll loop of fsc-tail: which files changed, and what to read.
 *
 * Per poll, every followed path gets one answer (a struct tail_snap):
 * from the cache by fsc_lookup_many() (no system call), or from stat()
 * when the cache cannot answer (then, on a miss, the writer is asked to
 * watch the path, so the next poll is a hit) or in --stat mode.  The
 * answer is compared with the previous poll's answer for the same path:
 *
 *   unchanged                      nothing to do, no system call at all
 *   same file (dev, ino), changed  read() from our offset to the end
 *   size below our offset          truncated in place (copytruncate):
 *                                  start again at 0
 *   other file, or none            rotated or deleted: read the old file
 *                                  to its end, then open the new one (if
 *                                  any) from its start
 *
 * With thousands of files and few changing, almost every file is in the
 * first row, and there the cache saves the one stat() per file per poll
 * that the classic agent pays.
 *
 * A poll reads at most TAIL_POLL_READ bytes of a file (f->behind: the
 * next poll reads on, whatever the answer), so a file written faster than
 * we read it cannot keep the poll from the other files, nor from ending.
 *
 * The cache is eventually fresh (the writer applies inotify events a
 * moment after they happen), so its answer can be a step behind what we
 * already read from an open descriptor.  That never loses data (a later
 * answer differs, and we read again), but it must not be taken for a
 * rotation or a truncation: those rare events are confirmed with stat()
 * or fstat() before we act on them.
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

/* ---- one poll -------------------------------------------------------- */

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

/* The answer for file i: the cache's, or stat()'s when it has none. */
static void look(struct tail *t, size_t i, struct tail_snap *s)
{
	if (t->h && t->results[i] == 0) {
		const struct fsc_stat *a = &t->answers[i];
		memset(s, 0, sizeof(*s));
		s->from_cache = 1;
		s->exists = a->exists;
		s->dev = a->dev;
		s->ino = a->ino;
		s->size = a->size;
		s->mtime_sec = a->mtime_sec;
		s->mtime_nsec = a->mtime_nsec;
		t->counts.hits++;
		return;
	}
	/* FSC_UNCACHED (no writer, path not cacheable, ...) or a miss. */
	stat_path(t, t->files[i].path, s);
	if (t->h && t->results[i] == FSC_MISS) {
		/* Ask the writer to watch it: from the next poll on it is a
		 * hit.  A refused request only costs the stat() above. */
		t->counts.syscalls++;
		if (fsc_request_watch(t->h, t->files[i].path) == 0)
			t->counts.requests++;
	}
}

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

static void follow(struct tail *t, struct tail_file *f,
		   const struct tail_snap *s)
{
	int changed = !f->seen || !snap_equal(&f->last, s);
	/* The common case, and where the cache pays: nothing changed at the
	 * path since the last poll, so this file costs no system call. */
	if (!changed && !f->behind && (f->fd >= 0 || !s->exists || f->failed))
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

size_t tail_poll(struct tail *t)
{
	size_t behind = 0;
	/* One pass over the shared table for the whole list: the slots of
	 * the next paths are fetched while the current one is compared. */
	if (t->h)
		fsc_lookup_many(t->h, t->paths, t->n, t->answers, t->results);
	for (size_t i = 0; i < t->n; i++) {
		struct tail_snap s;
		look(t, i, &s);
		follow(t, &t->files[i], &s);
		behind += t->files[i].behind != 0;
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
	memset(t, 0, sizeof(*t));
}
