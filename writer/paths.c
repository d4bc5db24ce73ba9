/*
 * paths.c - absolute paths and watch lists (see paths.h).
 */
#include "paths.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

char *fw_path_absolute(const char *cwd, const char *path)
{
	if (!path[0] || (path[0] != '/' && cwd[0] != '/')) {
		errno = EINVAL;
		return NULL;
	}
	if (path[0] == '/')
		return strdup(path);
	size_t c = strlen(cwd), p = strlen(path);
	while (c > 0 && cwd[c - 1] == '/')
		c--; /* "/" itself becomes "" so the join gives "/path" */
	char *abs = malloc(c + p + 2);
	if (!abs)
		return NULL;
	memcpy(abs, cwd, c);
	abs[c] = '/';
	memcpy(abs + c + 1, path, p + 1);
	return abs;
}

int fw_watch_list_read(FILE *f, int (*add)(void *ctx, const char *path),
		       void *ctx, size_t *lineno)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int err = 0;

	*lineno = 0;
	while (!err && (n = getline(&line, &cap, f)) >= 0) {
		++*lineno;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if ((size_t)n != strlen(line) || line[0] != '/')
			err = -EINVAL;
		else
			err = add(ctx, line);
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	return err;
}
