/*
 * fstatcache/contract.h - the rules the writer, the readers and the tools
 * all obey, each written once.
 *
 *   names     an instance name, and the shared-memory objects it names;
 *   keys      which spelling of a path may be cached (canonical keys);
 *   geometry  which segment headers a reader may trust, and why not;
 *   owners    whose objects are trusted (squatting in /dev/shm);
 *   entries   which copied entry values are sane.
 *
 * The layout itself is format.h, the control datagrams protocol.h, the
 * sequence-count protocol seqlock.h.  Nothing here touches shared memory:
 * every function is pure or looks at a private copy.
 *
 * Needs: POSIX.1-2008 (getpwuid_r, struct stat); C11 or C++11.
 */
#ifndef FSTATCACHE_CONTRACT_H
#define FSTATCACHE_CONTRACT_H

#include <pwd.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- names ------------------------------------------------------------ */

#define FSC_NAME_MAX 64 /* bytes of an instance name */
/* Room for an object name: "/fstatcache." NAME ".feed" and the NUL. */
#define FSC_SHM_NAME_SIZE (FSC_NAME_MAX + 18)

/* An instance name: 1 to FSC_NAME_MAX letters, digits, '_' or '-'. */
static inline int fsc_name_ok(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok || n >= FSC_NAME_MAX)
			return 0;
	}
	return n > 0;
}

/* Which object of an instance (fsc_shm_name()). */
#define FSC_OBJ_TABLE 0 /* "/fstatcache.NAME" */
#define FSC_OBJ_USE 1   /* "/fstatcache.NAME.use", the recency marks */
#define FSC_OBJ_FEED 2  /* "/fstatcache.NAME.feed", the change feed */
#define FSC_OBJ_REQ 3   /* "/fstatcache.NAME.req", the request ring (1.4) */
#define FSC_OBJ_TAGS 4  /* "/fstatcache.NAME.tags", the tag array (1.5) */

/*
 * The shm_open(3) name of an instance's object `which` (FSC_OBJ_*; any
 * other non-zero value means FSC_OBJ_USE, as the old `use` flag did).
 * `name` must pass fsc_name_ok(); buf must hold FSC_SHM_NAME_SIZE bytes
 * (else it is left untouched).
 */
static inline void fsc_shm_name(char *buf, size_t size, const char *name,
				int which)
{
	size_t n = strlen(name);
	if (size < n + 18)
		return;
	memcpy(buf, "/fstatcache.", 12);
	memcpy(buf + 12, name, n + 1);
	if (which == FSC_OBJ_FEED)
		memcpy(buf + 12 + n, ".feed", 6);
	else if (which == FSC_OBJ_REQ)
		memcpy(buf + 12 + n, ".req", 5);
	else if (which == FSC_OBJ_TAGS)
		memcpy(buf + 12 + n, ".tags", 6);
	else if (which)
		memcpy(buf + 12 + n, ".use", 5);
}

/* ---- keys ------------------------------------------------------------- */

/*
 * Keys are absolute paths without empty, "." or ".." components and
 * without a trailing slash: the cache compares strings, so only one
 * spelling per file may be cached.  Other spellings are answered by stat().
 */
static inline int fsc_path_ok(const char *p, size_t len)
{
	if (len < 2 || p[0] != '/' || memchr(p, '\0', len))
		return 0;
	const char *end = p + len,
		   *c = p; /* *c is the '/' before a component */
	while (c) {
		const char *next =
			(const char *)memchr(c + 1, '/', (size_t)(end - c - 1));
		size_t n = (size_t)((next ? next : end) - c - 1);
		if (n == 0 || (n == 1 && c[1] == '.') ||
		    (n == 2 && c[1] == '.' && c[2] == '.'))
			return 0;
		c = next;
	}
	return 1;
}

/* ---- geometry --------------------------------------------------------- */

/*
 * Why a segment header cannot be trusted (fsc_geometry_check()), in the
 * order the rules are checked.  FSC_GEOM_VERSION is not corruption: the
 * segment is of another format major (docs/COMPATIBILITY.md).
 */
enum fsc_geometry {
	FSC_GEOM_OK = 0,
	FSC_GEOM_MAGIC,        /* not an fstatcache table (or byte-swapped) */
	FSC_GEOM_VERSION,      /* version_major is not FSC_FORMAT_MAJOR */
	FSC_GEOM_HEADER_SIZE,  /* header_size is not FSC_HEADER_SIZE */
	FSC_GEOM_SLOTS,        /* slot_count not a power of two in bounds */
	FSC_GEOM_PATH_MAX,     /* path_max out of bounds or not 8-aligned */
	FSC_GEOM_ENTRY_SIZE,   /* entry_size too small, unaligned or huge */
	FSC_GEOM_PROBE_LIMIT,  /* probe_limit 0, over the maximum or slots */
	FSC_GEOM_SEGMENT_SIZE, /* segment_size is not the table's size */
	FSC_GEOM_OBJECT_SIZE   /* the object's size is not segment_size */
};

/*
 * 1 when header `h`, of an object of `object_size` bytes, keeps `rule`
 * (each rule on its own, so that `fstatcache check` can name every rule
 * a header breaks).  A newer minor may make entries longer (fields after
 * the cold tail), so entry_size may exceed FSC_ENTRY_SIZE(path_max), by
 * at most 4096.
 */
static inline int fsc_geometry_rule_ok(const struct fsc_header *h,
				       enum fsc_geometry rule,
				       uint64_t object_size)
{
	uint32_t n = h->slot_count, pm = h->path_max, es = h->entry_size;
	switch (rule) {
	case FSC_GEOM_OK:
		return 1;
	case FSC_GEOM_MAGIC:
		return h->magic == FSC_MAGIC;
	case FSC_GEOM_VERSION:
		return h->version_major == FSC_FORMAT_MAJOR;
	case FSC_GEOM_HEADER_SIZE:
		return h->header_size == FSC_HEADER_SIZE;
	case FSC_GEOM_SLOTS:
		return n >= FSC_SLOTS_MIN && n <= FSC_SLOTS_MAX &&
		       (n & (n - 1)) == 0;
	case FSC_GEOM_PATH_MAX:
		return pm >= FSC_PATH_MAX_MIN && pm <= FSC_PATH_MAX_MAX &&
		       pm % 8 == 0;
	case FSC_GEOM_ENTRY_SIZE:
		return es >= FSC_ENTRY_FIXED + (uint64_t)pm + FSC_ENTRY_COLD &&
		       es % 8 == 0 &&
		       es <= FSC_ENTRY_SIZE(FSC_PATH_MAX_MAX) + 4096;
	case FSC_GEOM_PROBE_LIMIT:
		return h->probe_limit >= 1 &&
		       h->probe_limit <= FSC_PROBE_LIMIT_MAX &&
		       h->probe_limit <= n;
	case FSC_GEOM_SEGMENT_SIZE:
		return h->segment_size == FSC_HEADER_SIZE + (uint64_t)n * es;
	case FSC_GEOM_OBJECT_SIZE:
		return object_size == h->segment_size;
	}
	return 0;
}

/* The first of rules `from`..`to` that `h` breaks, or FSC_GEOM_OK. */
static inline enum fsc_geometry fsc__geometry_first(const struct fsc_header *h,
						    enum fsc_geometry from,
						    enum fsc_geometry to,
						    uint64_t object_size)
{
	for (int r = (int)from; r <= (int)to; r++)
		if (!fsc_geometry_rule_ok(h, (enum fsc_geometry)r, object_size))
			return (enum fsc_geometry)r;
	return FSC_GEOM_OK;
}

/*
 * The slot layout alone (slots, path area, entry size, probe limit):
 * FSC_GEOM_OK when every slot offset and every probe is bounded.
 */
static inline enum fsc_geometry fsc_layout_check(const struct fsc_header *h)
{
	return fsc__geometry_first(h, FSC_GEOM_SLOTS, FSC_GEOM_PROBE_LIMIT, 0);
}

/* The table's size in bytes as the header declares it (layout checked). */
static inline uint64_t fsc_layout_size(const struct fsc_header *h)
{
	return FSC_HEADER_SIZE + (uint64_t)h->slot_count * h->entry_size;
}

/*
 * The one geometry a reader trusts, checked on a private copy of the
 * header (never on the mapping) against the object's real size (fstat):
 * FSC_GEOM_OK, or the first rule broken.
 */
static inline enum fsc_geometry fsc_geometry_check(const struct fsc_header *h,
						   uint64_t object_size)
{
	return fsc__geometry_first(h, FSC_GEOM_MAGIC, FSC_GEOM_OBJECT_SIZE,
				   object_size);
}

/* ---- owners ----------------------------------------------------------- */

/*
 * The system user the packaged service runs as (dist/fstatcached.service).
 * Only root can create users, so an object it owns is not a squatter's.
 */
#ifndef FSC_SERVICE_USER
#define FSC_SERVICE_USER "fstatcache"
#endif

/* 1 when `uid` is the service user's. */
static inline int fsc_service_user(uid_t uid)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	return getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	       strcmp(res->pw_name, FSC_SERVICE_USER) == 0;
}

/*
 * Squatting (anyone can create a name in /dev/shm first): a shared-memory
 * object is trusted when it is a regular file owned by `owner`, root or
 * the service user (the name is looked up only for an object owned by
 * someone else), never writable by others, and, unless `rw` (the recency
 * object, which a group may share for writing), not writable by the group.
 */
static inline int fsc_owner_ok(const struct stat *st, uid_t owner, int rw)
{
	if (!S_ISREG(st->st_mode))
		return 0;
	if (st->st_uid != owner && st->st_uid != 0 &&
	    !fsc_service_user(st->st_uid))
		return 0;
	if (!rw && (st->st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	return !(st->st_mode & S_IWOTH);
}

/* ---- entries ---------------------------------------------------------- */

/* Entry flags this version knows; a slot with others fails validation. */
#define FSC_ENT_KNOWN (FSC_ENT_USED | FSC_ENT_EXISTS | FSC_ENT_NOCACHE)

/* A file type stat(2) can answer (S_IFMT bits of st_mode). */
static inline int fsc_mode_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return 1;
	default:
		return 0;
	}
}

/*
 * The calling process's mount namespace, as the writer records it in the
 * header (mnt_ns, format 1.4) and a reader compares it: the inode number
 * of /proc/self/ns/mnt, or 0 when it cannot be told (no /proc).  A path
 * names the same file for two processes only in the same mount namespace
 * (FORMAT.md, "Readers in another mount namespace").
 */
static inline uint64_t fsc_mnt_ns_self(void)
{
	struct stat st;

	if (stat("/proc/self/ns/mnt", &st) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

/*
 * May a reader in mount namespace `self` (0: unknown) be served from a
 * segment whose writer recorded `writer` (0: unknown, a writer before
 * 1.4 or without /proc)?  Only in the same one, unless it opted in
 * (FSC_OPEN_ANY_MOUNT_NS, FSTATCACHE_ANY_MOUNT_NS=1).  A reader that
 * cannot tell its own is not served: it cannot know the paths agree.
 */
static inline int fsc_mnt_ns_ok(uint64_t writer, uint64_t self, int any)
{
	return any || writer == 0 || (self != 0 && self == writer);
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_CONTRACT_H */
