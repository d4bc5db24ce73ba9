/*
 * paths.h - turning what users type into cache keys: absolute paths from
 * the command line and watch-list files.  Pure functions, unit-tested.
 */
#ifndef FW_PATHS_H
#define FW_PATHS_H

#include <stddef.h>
#include <stdio.h>

/*
 * `path` made absolute against `cwd` (itself absolute), without resolving
 * symlinks or "..": the key must be the spelling readers use.  Returns a
 * malloc'd string, or NULL with errno ENOMEM or EINVAL (empty path, or a
 * relative cwd).
 */
char *fw_path_absolute(const char *cwd, const char *path);

/*
 * Read a watch list: one path per line; blank lines and lines starting
 * with '#' are skipped; a trailing "\r" is dropped.  Calls `add` for each
 * path (a nonzero return stops reading and is returned).  Returns 0, the
 * add's error, -EINVAL for a relative path or a NUL byte (with *lineno
 * set to the line), or -EIO.
 */
int fw_watch_list_read(FILE *f, int (*add)(void *ctx, const char *path),
		       void *ctx, size_t *lineno);

#endif /* FW_PATHS_H */
