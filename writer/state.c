/*
 * state.c - the watch list kept across clean restarts (--state-file).
 *
 * A writer that crashes leaves its segment, and its successor takes the
 * paths over from it (segment.c).  A clean stop removes the segment, so
 * without a state file `systemctl restart` forgot every path readers had
 * asked for.  With one, the writer writes every path its table holds
 * when it stops cleanly, and a writer starting reads them back and
 * watches them again (each re-validated: watched, then stat()ed, as any
 * path), as Watchman keeps its watches in its state file.
 *
 * The file: the line "fstatcache-state 1", then each path followed by a
 * NUL byte (a path may hold a newline).  Written to FILE.tmp, flushed to
 * disk and renamed over FILE, so a crash while writing leaves the old
 * file whole.  Read only if it belongs to this user (or root) and no
 * other user may write it, like the configuration file; a record that
 * is not a canonical absolute path is skipped and counted in the log.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fstatcache/contract.h"
#include "log.h"

#define STATE_MAGIC "fstatcache-state 1\n"

int fw_state_save(const char *file, const struct fw_table *t)
{
	char tmp[4096];
	size_t n = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	fputs(STATE_MAGIC, f);
	for (uint32_t i = 0; i < t->capacity; i++) {
		const struct fsc_entry *e = fw_table_entry(t, i);
		if (!e)
			continue;
		fwrite(fw_table_entry_path(e), 1, e->path_len + 1, f);
		n++;
	}
	int err = 0;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		err = -errno;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, file) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return (int)(n > INT32_MAX ? INT32_MAX : n);
}

int fw_state_load(const char *file, int (*add)(void *ctx, const char *path),
		  void *ctx)
{
	struct stat st;
	char magic[sizeof(STATE_MAGIC)];
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 0022)) {
		close(fd);
		return -EPERM;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	int count = 0, bad = 0, err = 0;
	if (fread(magic, 1, strlen(STATE_MAGIC), f) != strlen(STATE_MAGIC) ||
	    memcmp(magic, STATE_MAGIC, strlen(STATE_MAGIC)) != 0) {
		fclose(f);
		return -EPROTO;
	}
	char *rec = NULL;
	size_t size = 0;
	ssize_t len;
	while (!err && (len = getdelim(&rec, &size, '\0', f)) > 0) {
		size_t plen = (size_t)len - (rec[len - 1] == '\0');
		if (rec[len - 1] != '\0' || !fsc_path_ok(rec, plen)) {
			bad++;
			continue;
		}
		if ((err = add(ctx, rec)) == 0)
			count++;
	}
	free(rec);
	fclose(f);
	if (bad)
		fw_warn("%s: %d records are not canonical absolute paths: "
			"skipped",
			file, bad);
	return err < 0 ? err : count;
}
