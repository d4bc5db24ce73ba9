/*
 * reach.c - could another user stat this path?  (reach.h)
 *
 * When the cache is shared with a group, every member reads every entry.
 * A path that only another user asked for must then never publish what
 * that user could not learn by stat() itself: a symlink of theirs under
 * an allowed prefix may point anywhere the writer can reach, and the
 * writer (root, or a service user) can reach more than they can.  The
 * prefix check of the request is on the text; this is the check on what
 * the text resolves to, made again at every re-stat (the path's
 * resolution, a symlink's target, a directory's mode may all change).
 *
 * The walk holds a descriptor on each directory it reaches and looks the
 * next name up relative to it, never following a symlink by itself
 * (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW): it follows each link by reading it,
 * as the kernel does, so each directory whose search permission it checks
 * is the one it then searches.  "Searchable by others" is the mode's
 * S_IXOTH: a member of the directory's group, or a user an ACL names, may
 * be let in or kept out otherwise; the rule is the conservative one for
 * the first (such paths are answered by stat()), and does not see the
 * second (an ACL denying one user search where others have it).
 */
#include "reach.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REACH_MAX_HOPS 40 /* the kernel's MAXSYMLINKS */

struct reach {
	int dfd;              /* the directory reached, O_PATH */
	char canon[PATH_MAX]; /* its path, no symlink in it; "" is "/" */
	size_t clen;
};

static int reach_root(struct reach *r)
{
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (r->dfd >= 0)
		close(r->dfd);
	r->dfd = fd;
	r->clen = 0;
	r->canon[0] = '\0';
	return 0;
}

/* canon + "/" + name into out. */
static int reach_join(const struct reach *r, const char *name, char *out)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", r->canon, name);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Where the walk ended: it must lie under an allowed prefix. */
static int reach_end(const struct fw_strv *prefixes, const char *end, char *why,
		     size_t why_size)
{
	if (fw_prefix_allows(prefixes, end, strlen(end)))
		return 0;
	snprintf(why, why_size, "it resolves to %s, under no allowed prefix",
		 end);
	return -EACCES;
}

/* The walk's loop; r->dfd is closed by the caller. */
static int reach_walk(struct reach *r, const char *path,
		      const struct fw_strv *prefixes, struct stat *st,
		      char *why, size_t why_size)
{
	char todo[PATH_MAX], name[NAME_MAX + 1], target[PATH_MAX];
	char next[PATH_MAX];
	const char *pos;
	int hops = 0, rc;

	if (strlen(path) >= sizeof(todo) || path[0] != '/')
		return -ENAMETOOLONG;
	strcpy(todo, path);
	pos = todo;
	rc = reach_root(r);
	if (rc < 0)
		return rc;
	for (;;) {
		struct stat ds, cs;
		size_t seg;
		const char *after;
		bool last;
		int fd;

		pos += strspn(pos, "/");
		if (!*pos) { /* ended on the directory reached */
			if (fstat(r->dfd, st) < 0)
				return -errno;
			rc = reach_end(prefixes, r->clen ? r->canon : "/", why,
				       why_size);
			return rc;
		}
		seg = strcspn(pos, "/");
		if (seg > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, pos, seg);
		name[seg] = '\0';
		after = pos + seg;
		last = *after == '\0'; /* a trailing slash asks for a dir */
		if (fstat(r->dfd, &ds) < 0)
			return -errno;
		if (!(ds.st_mode & S_IXOTH)) {
			snprintf(why, why_size,
				 "others may not search %s (mode %04o)",
				 r->clen ? r->canon : "/",
				 (unsigned)(ds.st_mode & 07777));
			return -EACCES;
		}
		if (strcmp(name, ".") == 0) {
			pos = after;
			continue;
		}
		if (strcmp(name, "..") == 0) {
			fd = openat(r->dfd, "..",
				    O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				return -errno;
			close(r->dfd);
			r->dfd = fd;
			while (r->clen > 0 && r->canon[--r->clen] != '/')
				;
			r->canon[r->clen] = '\0';
			pos = after;
			continue;
		}
		rc = reach_join(r, name, next);
		if (rc < 0)
			return rc;
		if (fstatat(r->dfd, name, &cs, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				return -errno;
			rc = reach_end(prefixes, next, why, why_size);
			return rc < 0 ? rc : 1; /* stat: does not exist */
		}
		if (S_ISLNK(cs.st_mode)) {
			ssize_t n;

			if (++hops > REACH_MAX_HOPS)
				return -ELOOP;
			n = readlinkat(r->dfd, name, target,
				       sizeof(target) - 1);
			if (n < 0)
				return -errno;
			if (n == 0)
				return 1; /* an empty target: ENOENT */
			target[n] = '\0';
			if ((size_t)n + strlen(after) >= sizeof(next))
				return -ENAMETOOLONG;
			memcpy(next, target, (size_t)n);
			strcpy(next + n, after);
			strcpy(todo, next);
			pos = todo;
			if (target[0] == '/') {
				rc = reach_root(r);
				if (rc < 0)
					return rc;
			}
			continue;
		}
		if (last) {
			*st = cs;
			return reach_end(prefixes, next, why, why_size);
		}
		if (!S_ISDIR(cs.st_mode)) {
			rc = reach_end(prefixes, next, why, why_size);
			return rc < 0 ? rc : 1; /* stat: ENOTDIR */
		}
		fd = openat(r->dfd, name,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			/* Replaced meanwhile (by a symlink, a file): look
			 * at the name again, at the cost of a hop. */
			if ((errno == ELOOP || errno == ENOTDIR ||
			     errno == ENOENT) &&
			    ++hops <= REACH_MAX_HOPS)
				continue;
			return -errno;
		}
		close(r->dfd);
		r->dfd = fd;
		memcpy(r->canon, next, strlen(next) + 1);
		r->clen = strlen(next);
		pos = after;
	}
}

int fw_reach_others(const char *path, const struct fw_strv *prefixes,
		    struct stat *st, char *why, size_t why_size)
{
	struct reach r = { .dfd = -1 };
	int rc;

	if (why_size)
		why[0] = '\0';
	rc = reach_walk(&r, path, prefixes, st, why, why_size);
	if (r.dfd >= 0)
		close(r.dfd);
	if (rc < 0 && why_size && !why[0])
		snprintf(why, why_size, "%s", strerror(-rc));
	return rc;
}
