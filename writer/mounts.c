/*
 * mounts.c - mount points that changed, from /proc/self/mountinfo
 * (mounts.h).
 *
 * Each line is "ID PARENT MAJ:MIN ROOT POINT OPTIONS ... - TYPE SOURCE
 * SUPER-OPTIONS" with blanks, newlines and backslashes in ROOT and POINT
 * written as octal escapes (proc(5)).  Two tables are compared line by
 * line, sorted and merged: a mount that came, went, moved or was
 * remounted differs in some line, and its POINT is reported.  Mount IDs
 * are reused, so an unmount and a mount just like it between two reads
 * can leave every line as it was: a change with no line changed reports
 * "/", i.e. anything may have changed.
 */
#include "mounts.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct table {
	char *text;  /* the file, its keys' ends overwritten with NUL */
	char **keys; /* "ID POINT", sorted */
	size_t nkeys;
};

struct fw_mounts {
	int fd;
	struct table now;
};

static void table_free(struct table *t)
{
	free(t->text);
	free(t->keys);
	*t = (struct table){ 0 };
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole file from its start: it changes between reads, so no size is
 * known in advance. */
static int slurp(int fd, char **out, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	for (;;) {
		ssize_t r;

		if (cap - n < 4096) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				errno = ENOMEM;
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	return -errno;
}

/* Split the table into its lines, sorted. */
static int table_read(int fd, struct table *t)
{
	size_t len, cap = 0;
	char *line;
	int err = slurp(fd, &t->text, &len);

	if (err)
		return err;
	t->keys = NULL;
	t->nkeys = 0;
	for (line = t->text; *line;) {
		char *eol = strchr(line, '\n');

		if (eol)
			*eol = '\0';
		if (t->nkeys == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nk = realloc(t->keys, ncap * sizeof(*nk));

			if (!nk) {
				table_free(t);
				return -ENOMEM;
			}
			t->keys = nk;
			cap = ncap;
		}
		t->keys[t->nkeys++] = line;
		if (!eol)
			break;
		line = eol + 1;
	}
	if (t->nkeys)
		qsort(t->keys, t->nkeys, sizeof(*t->keys), key_cmp);
	return 0;
}

int fw_mounts_open(struct fw_mounts **out, const char *path)
{
	struct fw_mounts *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	m->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0) {
		err = -errno;
		free(m);
		return err;
	}
	if ((err = table_read(m->fd, &m->now)) < 0) {
		fw_mounts_close(m);
		return err;
	}
	*out = m;
	return 0;
}

void fw_mounts_close(struct fw_mounts *m)
{
	if (!m)
		return;
	close(m->fd);
	table_free(&m->now);
	free(m);
}

int fw_mounts_fd(const struct fw_mounts *m)
{
	return m->fd;
}

/* The mount point of a line (its fifth field), octal escapes undone, into
 * `buf`; "/" if the line has no fifth field (then anything may have
 * changed). */
static void line_point(const char *line, char *buf, size_t size)
{
	const char *s = line;
	size_t n = 0;

	for (int i = 0; s && i < 4; i++)
		if ((s = strchr(s, ' ')) != NULL)
			s++;
	if (!s || !*s) {
		snprintf(buf, size, "/");
		return;
	}
	while (*s && *s != ' ' && n + 1 < size) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			buf[n++] = (char)((s[1] - '0') << 6 |
					  (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else {
			buf[n++] = *s++;
		}
	}
	buf[n] = '\0';
}

static int changes(struct fw_mounts *m, bool told,
		   void (*fn)(void *ctx, const char *point), void *ctx)
{
	struct table old = m->now, now;
	size_t i = 0, j = 0;
	int n = 0, err;
	char point[4096];

	if ((err = table_read(m->fd, &now)) < 0)
		return err;
	while (i < old.nkeys || j < now.nkeys) {
		int c = i == old.nkeys   ? 1
			: j == now.nkeys ? -1
					 : strcmp(old.keys[i], now.keys[j]);
		const char *key = c < 0 ? old.keys[i] : now.keys[j];

		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		if (c == 0)
			continue;
		line_point(key, point, sizeof(point));
		fn(ctx, point);
		n++;
	}
	/* Told it changed, yet the same lines: a mount went and one just
	 * like it came (mount IDs are reused), or came and went.  Which
	 * mount point is not known. */
	if (n == 0 && told) {
		fn(ctx, "/");
		n = 1;
	}
	table_free(&old);
	m->now = now;
	return n;
}

int fw_mounts_changes(struct fw_mounts *m,
		      void (*fn)(void *ctx, const char *point), void *ctx)
{
	return changes(m, true, fn, ctx);
}

int fw_mounts_recheck(struct fw_mounts *m,
		      void (*fn)(void *ctx, const char *point), void *ctx)
{
	return changes(m, false, fn, ctx);
}
