/*
 * preload.c - libfstatcache-preload.so: the stat() family of programs
 * nobody will recompile, answered from the cache (issue 14, part 3).
 *
 * How it works.  Loaded with LD_PRELOAD, it defines stat, stat64, fstatat,
 * fstatat64, statx and, on x86-64, the pre-2.33 __xstat, __xstat64,
 * __fxstatat and __fxstatat64 that older binaries call.  Each looks the
 * path up with fsc_lookup() (the same inline reader every C program
 * compiles: one implementation) and answers from the entry only when all
 * of these hold, else it calls the real function (dlsym(RTLD_NEXT),
 * resolved once, in the constructor) with the caller's arguments:
 *   - $FSTATCACHE_PRELOAD_PREFIXES names directories (colon-separated,
 *     absolute, canonical) and the path is one of them or below one;
 *     without the variable nothing is served;
 *   - symlinks are followed (no AT_SYMLINK_NOFOLLOW, no AT_EMPTY_PATH;
 *     AT_NO_AUTOMOUNT and AT_STATX_DONT_SYNC are plain stat's behaviour)
 *     and statx asks for no more than STATX_BASIC_STATS;
 *   - the lookup is a hit on an existing file (a cached "does not exist"
 *     is answered by the real call: the writer keeps no errno, and
 *     ENOTDIR must stay ENOTDIR), not marked changed (fsc_lookup() returns
 *     FSC_UNCACHED for those), from a live writer whose format holds
 *     blksize and atime (1.4 or newer).
 * A hit proves the spelling canonical (the writer keeps canonical keys
 * only), so relative and non-canonical paths go to the real call.  The
 * shim never asks the writer to watch a path: what is cached is what the
 * writer was told to watch (its PATH arguments, --watch-list, other
 * readers' requests), so a program stat()ing many unrelated paths costs
 * the writer nothing (docs/PRELOAD.md).
 *
 * Safety.  The hot path takes no lock, allocates nothing, and makes no
 * system call on a hit; it is async-signal-safe: a handler may stat()
 * while the thread it interrupted is anywhere, in malloc or in this file.
 * The handle is opened in the constructor (fsc_open() allocates); a
 * re-attach after the writer restarts happens inside a lookup, and
 * allocates its bookkeeping with mmap() (FSC__MAP_ALLOC below) instead of
 * malloc; one thread attaches at a time and the others, a signal handler
 * on the attaching thread included, call the real function meanwhile
 * (reader/attach.h).  After fork() the child keeps the handle: its
 * mappings are MAP_SHARED and inherited, its socket is never used (no
 * requests); the child handler clears the attach flag if fork() came
 * from another thread while one was attaching, which would otherwise
 * keep the child from ever re-attaching.  errno is kept across a served
 * call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A mapping's bookkeeping without malloc (see the top of this file). */
static void *preload_map_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}
#define FSC__MAP_ALLOC(size) preload_map_alloc(size)
#define FSC__MAP_FREE(p, size) munmap((p), (size))

#include "fstatcache/fstatcache.h"
#include "preload.h"

#define API __attribute__((visibility("default")))

#define PREFIX_MAX 64     /* prefixes in the variable */
#define PREFIX_BYTES 4096 /* their total length */
#define STAT_VER_LINUX 1  /* x86-64 glibc's _STAT_VER for __xstat */

struct prefix {
	const char *s; /* without a trailing slash; "" for "/" */
	size_t len;
};

/* Set in the constructor, before any other thread can exist; read only. */
static char prefix_text[PREFIX_BYTES];
static struct prefix prefixes[PREFIX_MAX];
static unsigned nprefixes;
static fsc_handle *handle; /* NULL: serve nothing */
/* Lookups in progress on this thread (a signal handler may nest one). */
static __thread unsigned in_lookup __attribute__((tls_model("initial-exec")));
/* Calls this thread had answered from the cache, for the tests: per
 * thread, so that a hit writes no cache line another thread uses. */
static __thread unsigned long served __attribute__((tls_model("initial-exec")));

typedef int stat_fn(const char *, struct stat *);
typedef int stat64_fn(const char *, struct stat64 *);
typedef int fstatat_fn(int, const char *, struct stat *, int);
typedef int fstatat64_fn(int, const char *, struct stat64 *, int);
typedef int statx_fn(int, const char *, int, unsigned, struct statx *);
typedef int xstat_fn(int, const char *, struct stat *);
typedef int xstat64_fn(int, const char *, struct stat64 *);
typedef int fxstatat_fn(int, int, const char *, struct stat *, int);
typedef int fxstatat64_fn(int, int, const char *, struct stat64 *, int);

static struct {
	stat_fn *stat;
	stat64_fn *stat64;
	fstatat_fn *fstatat;
	fstatat64_fn *fstatat64;
	statx_fn *statx;
	xstat_fn *xstat;
	xstat64_fn *xstat64;
	fxstatat_fn *fxstatat;
	fxstatat64_fn *fxstatat64;
} real;

static void *next_symbol(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static void resolve_real(void)
{
	real.stat = (stat_fn *)next_symbol("stat");
	real.stat64 = (stat64_fn *)next_symbol("stat64");
	real.fstatat = (fstatat_fn *)next_symbol("fstatat");
	real.fstatat64 = (fstatat64_fn *)next_symbol("fstatat64");
	real.statx = (statx_fn *)next_symbol("statx");
	real.xstat = (xstat_fn *)next_symbol("__xstat");
	real.xstat64 = (xstat64_fn *)next_symbol("__xstat64");
	real.fxstatat = (fxstatat_fn *)next_symbol("__fxstatat");
	real.fxstatat64 = (fxstatat64_fn *)next_symbol("__fxstatat64");
}

/*
 * The real function `f`.  Another library's constructor may stat before
 * ours ran: resolve then (load time, one thread).  A libc without it
 * (stat before glibc 2.33) has no caller of it either.
 */
#define REAL(f) (real.f ? real.f : (resolve_real(), real.f))
#define CALL_REAL(f, ...) (REAL(f) ? real.f(__VA_ARGS__) : (errno = ENOSYS, -1))

static void warn(const char *what, const char *detail)
{
	fprintf(stderr, "libfstatcache-preload: %s%s%s; nothing is served\n",
		what, detail ? ": " : "", detail ? detail : "");
}

/* Parse "DIR:DIR..." into prefixes; 0, or -1 with nothing kept. */
static int parse_prefixes(const char *text)
{
	size_t n = strlen(text);
	nprefixes = 0;
	if (n >= sizeof(prefix_text)) {
		warn("FSTATCACHE_PRELOAD_PREFIXES is too long", NULL);
		return -1;
	}
	memcpy(prefix_text, text, n + 1);
	for (char *s = prefix_text, *next; s; s = next) {
		next = strchr(s, ':');
		if (next)
			*next++ = '\0';
		size_t len = strlen(s);
		if (len == 0)
			continue; /* "a::b", a trailing colon */
		if (len > 1 && s[len - 1] == '/')
			s[--len] = '\0';
		if (!fsc_path_ok(s, len) && strcmp(s, "/") != 0) {
			warn("FSTATCACHE_PRELOAD_PREFIXES: not an absolute "
			     "canonical directory",
			     s);
			nprefixes = 0;
			return -1;
		}
		if (nprefixes == PREFIX_MAX) {
			warn("FSTATCACHE_PRELOAD_PREFIXES: too many prefixes",
			     NULL);
			nprefixes = 0;
			return -1;
		}
		if (len == 1) /* "/": every absolute path */
			len = 0;
		prefixes[nprefixes++] = (struct prefix){ s, len };
	}
	return 0;
}

static void after_fork_child(void)
{
	/* fork() from a thread other than one attaching: nobody attaches in
	 * the child.  From a handler that interrupted this thread's attach,
	 * that attach resumes in the child: leave its flag. */
	if (handle && in_lookup == 0)
		uatomic_set(&handle->attaching, 0);
}

static void setup(void)
{
	const char *p = getenv("FSTATCACHE_PRELOAD_PREFIXES");
	if (!p || !*p || parse_prefixes(p) < 0 || nprefixes == 0)
		return;
	fsc_handle *h = NULL;
	int r = fsc_open(&h, NULL, FSC_OPEN_NO_REQUESTS);
	if (r < 0) {
		warn("cannot open a reader handle", fsc_strerror(r));
		return;
	}
	handle = h;
}

__attribute__((constructor)) static void preload_init(void)
{
	resolve_real();
	setup();
	pthread_atfork(NULL, NULL, after_fork_child);
}

/* The lookup counts reach `fstatcache inspect` at exit too. */
__attribute__((destructor)) static void preload_fini(void)
{
	if (handle)
		fsc__publish_counts(handle, uatomic_read(&handle->map));
}

void fsc_preload_reinit(void)
{
	if (handle)
		fsc_close(handle);
	handle = NULL;
	nprefixes = 0;
	setup();
}

unsigned long fsc_preload_served(void)
{
	return served;
}

/*
 * glibc declares the pointers nonnull, so the compiler would drop a plain
 * test; the kernel answers EFAULT for NULL, so the real call must get it.
 */
static inline int given(const void *p)
{
	__asm__("" : "+r"(p));
	return p != NULL;
}

static int under_prefix(const char *path)
{
	for (unsigned i = 0; i < nprefixes; i++) {
		const struct prefix *p = &prefixes[i];
		if (strncmp(path, p->s, p->len) == 0 &&
		    (path[p->len] == '/' || path[p->len] == '\0'))
			return 1;
	}
	return 0;
}

/*
 * The cache's answer for `path`, whole (every field of struct stat), or
 * 0: call the real function.  errno is left as it was.
 */
static int from_cache(const char *path, struct fsc_stat *c)
{
	if (!handle || !given(path) || path[0] != '/' || !under_prefix(path))
		return 0;
	int saved = errno;
	in_lookup++;
	int r = fsc_lookup(handle, path, c);
	in_lookup--;
	errno = saved;
	if (r != 0 || !c->exists ||
	    (c->have & (FSC_HAVE_BLKSIZE | FSC_HAVE_ATIME)) !=
		    (FSC_HAVE_BLKSIZE | FSC_HAVE_ATIME))
		return 0;
	served++;
	return 1;
}

/* Flags with which fstatat() is plain stat(). */
static int plain_at(int flags)
{
	return (flags & ~AT_NO_AUTOMOUNT) == 0;
}

/* struct stat and struct stat64 have the same members by name. */
#define FILL_STAT(st, c) \
	do { \
		memset((st), 0, sizeof(*(st))); \
		FSC_STAT_FIELDS(FILL_MEMBER) \
		(st)->st_atim.tv_sec = (time_t)(c)->atime_sec; \
		(st)->st_atim.tv_nsec = (long)(c)->atime_nsec; \
	} while (0)
#define FILL_MEMBER(type, name, member) st->member = c->name;

static void fill_stat(struct stat *st, const struct fsc_stat *c)
{
	FILL_STAT(st, c);
}

static void fill_stat64(struct stat64 *st, const struct fsc_stat *c)
{
	FILL_STAT(st, c);
}

API int stat(const char *restrict path, struct stat *restrict buf)
{
	struct fsc_stat c;
	if (given(buf) && from_cache(path, &c)) {
		fill_stat(buf, &c);
		return 0;
	}
	return CALL_REAL(stat, path, buf);
}

API int stat64(const char *restrict path, struct stat64 *restrict buf)
{
	struct fsc_stat c;
	if (given(buf) && from_cache(path, &c)) {
		fill_stat64(buf, &c);
		return 0;
	}
	return CALL_REAL(stat64, path, buf);
}

API int fstatat(int fd, const char *restrict path, struct stat *restrict buf,
		int flags)
{
	struct fsc_stat c;
	if (plain_at(flags) && given(buf) && from_cache(path, &c)) {
		fill_stat(buf, &c);
		return 0;
	}
	return CALL_REAL(fstatat, fd, path, buf, flags);
}

API int fstatat64(int fd, const char *restrict path,
		  struct stat64 *restrict buf, int flags)
{
	struct fsc_stat c;
	if (plain_at(flags) && given(buf) && from_cache(path, &c)) {
		fill_stat64(buf, &c);
		return 0;
	}
	return CALL_REAL(fstatat64, fd, path, buf, flags);
}

static struct statx_timestamp stx_time(int64_t sec, uint32_t nsec)
{
	struct statx_timestamp t;
	memset(&t, 0, sizeof(t));
	t.tv_sec = sec;
	t.tv_nsec = nsec;
	return t;
}

/* Only STATX_BASIC_STATS, as stat(2) would fill them; the rest 0. */
static int fill_statx(struct statx *sx, const struct fsc_stat *c)
{
	if (c->nlink > UINT32_MAX)
		return -1;
	memset(sx, 0, sizeof(*sx));
	sx->stx_mask = STATX_BASIC_STATS;
	sx->stx_blksize = c->blksize;
	sx->stx_nlink = (uint32_t)c->nlink;
	sx->stx_uid = c->uid;
	sx->stx_gid = c->gid;
	sx->stx_mode = (uint16_t)c->mode;
	sx->stx_ino = c->ino;
	sx->stx_size = (uint64_t)c->size;
	sx->stx_blocks = (uint64_t)c->blocks;
	sx->stx_atime = stx_time(c->atime_sec, c->atime_nsec);
	sx->stx_ctime = stx_time(c->ctime_sec, c->ctime_nsec);
	sx->stx_mtime = stx_time(c->mtime_sec, c->mtime_nsec);
	sx->stx_rdev_major = major(c->rdev);
	sx->stx_rdev_minor = minor(c->rdev);
	sx->stx_dev_major = major(c->dev);
	sx->stx_dev_minor = minor(c->dev);
	return 0;
}

API int statx(int fd, const char *restrict path, int flags, unsigned mask,
	      struct statx *restrict buf)
{
	struct fsc_stat c;
	if ((flags & ~(AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC)) == 0 &&
	    (mask & ~STATX_BASIC_STATS) == 0 && given(buf) &&
	    from_cache(path, &c) && fill_statx(buf, &c) == 0)
		return 0;
	return CALL_REAL(statx, fd, path, flags, mask, buf);
}

#if defined(__x86_64__)
/* What binaries built against glibc before 2.33 call (not in its headers
 * any more).  Only _STAT_VER_LINUX's layout, struct stat's, is served. */
API int __xstat(int ver, const char *path, struct stat *buf);
API int __xstat64(int ver, const char *path, struct stat64 *buf);
API int __fxstatat(int ver, int fd, const char *path, struct stat *buf,
		   int flags);
API int __fxstatat64(int ver, int fd, const char *path, struct stat64 *buf,
		     int flags);

API int __xstat(int ver, const char *path, struct stat *buf)
{
	struct fsc_stat c;
	if (ver == STAT_VER_LINUX && given(buf) && from_cache(path, &c)) {
		fill_stat(buf, &c);
		return 0;
	}
	return CALL_REAL(xstat, ver, path, buf);
}

API int __xstat64(int ver, const char *path, struct stat64 *buf)
{
	struct fsc_stat c;
	if (ver == STAT_VER_LINUX && given(buf) && from_cache(path, &c)) {
		fill_stat64(buf, &c);
		return 0;
	}
	return CALL_REAL(xstat64, ver, path, buf);
}

API int __fxstatat(int ver, int fd, const char *path, struct stat *buf,
		   int flags)
{
	struct fsc_stat c;
	if (ver == STAT_VER_LINUX && plain_at(flags) && given(buf) &&
	    from_cache(path, &c)) {
		fill_stat(buf, &c);
		return 0;
	}
	return CALL_REAL(fxstatat, ver, fd, path, buf, flags);
}

API int __fxstatat64(int ver, int fd, const char *path, struct stat64 *buf,
		     int flags)
{
	struct fsc_stat c;
	if (ver == STAT_VER_LINUX && plain_at(flags) && given(buf) &&
	    from_cache(path, &c)) {
		fill_stat64(buf, &c);
		return 0;
	}
	return CALL_REAL(fxstatat64, ver, fd, path, buf, flags);
}
#endif
