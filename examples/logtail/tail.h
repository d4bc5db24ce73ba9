/*
 * tail.h - the core of fsc-tail, a `tail -F` for many files that asks
 * fstatcache, not stat(2), which files changed.
 *
 * A log shipper polls: every interval it must learn, for each of its files,
 * whether the file grew, was truncated, was replaced (rotated) or vanished.
 * The classic way is one stat() per file per poll, and most of them answer
 * "nothing changed".  With fstatcache the writer keeps those answers fresh
 * from inotify and lists every answer it changes in its change feed, so a
 * poll reads what changed since the last one (no system call, no lookup
 * of the files that did not change) and the agent makes system calls only
 * for the files that did change: read() the new bytes, open() a rotated
 * file.  A poll costs what changed, not what is followed (tail.c says how).
 *
 * Usage (main.c and bench/tail_bench.c are the two callers):
 *
 *     struct tail t;
 *     tail_init(&t, h);                // h: fsc_open() handle, NULL: stat()
 *     t.emit = print_line;             // called for every complete line
 *     tail_add(&t, "/var/log/syslog"); // ... for each file
 *     size_t behind = tail_poll(&t);   // first poll: open at the end
 *     for (;;) {                       // no sleep while files are behind
 *         if (!behind) sleep(interval);
 *         behind = tail_poll(&t);
 *     }
 *     tail_finish(&t);                 // print held partial lines
 *     tail_free(&t);
 *
 * Not thread-safe: one thread polls a struct tail.
 */
#ifndef FSC_EXAMPLES_TAIL_H
#define FSC_EXAMPLES_TAIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <fstatcache/fstatcache.h>

/* Longest line held back waiting for its newline; longer ones are split. */
#define TAIL_LINE_MAX 65536
/* Most bytes of one file read by one poll (16 reads of 64 KiB). */
#define TAIL_POLL_READ (16 * 65536)

/* What a poll learnt about a path: the fields that tell what changed. */
struct tail_snap {
	int exists;
	int err;        /* errno of a failed stat() other than ENOENT */
	int from_cache; /* answered by the cache (may be a step behind) */
	uint64_t dev, ino;
	int64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
};

struct tail_file {
	char *path;            /* absolute, canonical: the cache's key */
	char *label;           /* as the user spelt it; printed before lines */
	int fd;                /* -1 when no file is open */
	uint64_t dev, ino;     /* identity of the open file (fstat of fd) */
	int64_t offset;        /* bytes of fd already consumed */
	struct tail_snap last; /* the previous poll's answer for path */
	int seen;              /* last is valid */
	int failed;    /* open error reported; retried when path changes */
	char *partial; /* bytes after the last newline, held back */
	size_t plen, pcap;
	int behind; /* more to read than one poll reads: next poll */
	/* Cache mode (tail.c, "the change feed"): */
	int source;              /* where the next answer comes from */
	int change;              /* what this poll's feed said last of path */
	int queued;              /* in this poll's work list */
	struct tail_snap answer; /* the feed's answer, when change has one */
};

/* System calls and lookups made by a struct tail (the bench reads them). */
struct tail_counts {
	uint64_t polls;
	/* Files answered by the cache in a poll, with no system call: a
	 * lookup hit, or, from the change feed, a change with an answer or
	 * no change at all (so every file not stat()'ed). */
	uint64_t hits;
	uint64_t stats;    /* stat() of a path: --stat mode or fallback */
	uint64_t requests; /* watch requests sent on a cache miss */
	uint64_t syscalls; /* every system call on a file (stat included) */
	uint64_t lookups;  /* paths looked up (full passes, files added) */
	uint64_t changes;  /* change feed records read (followed or not) */
	/* Polls that looked at every path: lookups (the feed could not list
	 * the changes) or, in --stat mode, stat() (every poll). */
	uint64_t full_passes;
	uint64_t lines, bytes;
};

/* A followed path, for finding the files a change names. */
struct tail_key {
	const char *path; /* files[file].path */
	size_t file;
};

struct tail {
	struct tail_file *files;
	size_t n, cap;
	const char **paths;       /* files[i].path: for fsc_lookup_many */
	struct fsc_stat *answers; /* per file, reused every poll */
	int *results;
	fsc_handle *h; /* NULL: decide with stat() (--stat) */
	/* The change feed (cache mode): */
	struct fsc_cursor cursor; /* feed position after the last poll */
	struct tail_key *keys;    /* files by path, sorted; `keyed` of them */
	size_t keyed;
	size_t *work, nwork;   /* files this poll looks at, queued */
	size_t *again, nagain; /* files the next poll looks at anyway */
	int feed_error;        /* the feed's last error (said once) */
	int from_start;        /* first poll reads files from the start */
	int started;           /* the first poll is done */
	/* A complete line (without its newline) of f. */
	void (*emit)(void *arg, const struct tail_file *f, const char *line,
		     size_t len);
	void *emit_arg;
	FILE *log;        /* notices (truncation...); NULL: none */
	const char *prog; /* prefix of notices */
	struct tail_counts counts;
};

/* h: an fsc_open() handle (the struct does not own it) or NULL for stat(). */
void tail_init(struct tail *t, fsc_handle *h);
/*
 * Follow `path` (made absolute and canonical; printed as given).
 * 0, -ENOMEM, -EINVAL (empty path), or -errno of getcwd().
 */
int tail_add(struct tail *t, const char *path);
/*
 * One poll: learn what changed (from the change feed; every path looked
 * up on the first poll and whenever the feed cannot list the changes;
 * every path stat()'ed in --stat mode), read it, follow rotations and
 * truncations.  The first poll opens existing files at their end (at
 * their start with from_start); later polls open new files at their start.
 * A poll reads at most TAIL_POLL_READ bytes of each file, so one file
 * growing faster than we read cannot starve the others or hold the poll
 * (and a stop) for long; the rest is read by the next polls.  Returns how
 * many files are so behind: poll again without waiting when not 0.
 */
size_t tail_poll(struct tail *t);
/* Emit the partial lines still held (at exit). */
void tail_finish(struct tail *t);
/* Close every file and free everything (not t->h). */
void tail_free(struct tail *t);

#endif /* FSC_EXAMPLES_TAIL_H */
