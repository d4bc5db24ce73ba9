/*
 * fsc-dump - the C reader's answers, one JSON line per path, for
 * tests/test_readers_agree.py, which compares them with the Go and Rust
 * readers' (go/cmd/fscdump, rust/examples/dump.rs print the same lines).
 *
 *     fsc-dump [--many] NAME < PATHS
 *
 * Opens instance NAME (a live writer required), reads paths from stdin,
 * one per line, and looks each up with fsc_lookup() (--many: all at once
 * with fsc_lookup_many()): the cache only, never stat().  Per path:
 *
 *   {"path":P,"status":"hit","exists":B,"err":N,"source":"cache",
 *    "dev":N,"ino":N,"mode":N,"nlink":N,"uid":N,"gid":N,"rdev":N,
 *    "size":N,"blocks":N,"mtime_sec":N,"mtime_nsec":N,"ctime_sec":N,
 *    "ctime_nsec":N,"blksize":N,"atime_sec":N,"atime_nsec":N}
 *   (blksize and atime null when the reader has none: format 1.3)
 *   {"path":P,"status":"miss"}         also "uncached"
 *   {"path":P,"status":"error","errno":N}
 *
 * P is escaped: '"' and '\' with a backslash, bytes below 0x20 and 0x7f as
 * \u00XX, every other byte as it is.  Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fstatcache/fstatcache.h>

static void put_path(const char *p)
{
	putchar('"');
	for (const unsigned char *c = (const unsigned char *)p; *c; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

static void put_answer(const char *path, int r, const struct fsc_stat *st)
{
	fputs("{\"path\":", stdout);
	put_path(path);
	if (r == FSC_MISS || r == FSC_UNCACHED) {
		printf(",\"status\":\"%s\"}\n",
		       r == FSC_MISS ? "miss" : "uncached");
		return;
	}
	if (r != 0) {
		printf(",\"status\":\"error\",\"errno\":%d}\n", -r);
		return;
	}
	printf(",\"status\":\"hit\",\"exists\":%s,\"err\":%d,\"source\":\"%s\"",
	       st->exists ? "true" : "false", st->err,
	       st->source == FSC_SOURCE_CACHE ? "cache" : "stat");
	printf(",\"dev\":%llu,\"ino\":%llu,\"mode\":%lu,\"nlink\":%llu",
	       (unsigned long long)st->dev, (unsigned long long)st->ino,
	       (unsigned long)st->mode, (unsigned long long)st->nlink);
	printf(",\"uid\":%lu,\"gid\":%lu,\"rdev\":%llu", (unsigned long)st->uid,
	       (unsigned long)st->gid, (unsigned long long)st->rdev);
	printf(",\"size\":%lld,\"blocks\":%lld", (long long)st->size,
	       (long long)st->blocks);
	printf(",\"mtime_sec\":%lld,\"mtime_nsec\":%lu",
	       (long long)st->mtime_sec, (unsigned long)st->mtime_nsec);
	printf(",\"ctime_sec\":%lld,\"ctime_nsec\":%lu",
	       (long long)st->ctime_sec, (unsigned long)st->ctime_nsec);
	if (st->have & FSC_HAVE_BLKSIZE)
		printf(",\"blksize\":%lu", (unsigned long)st->blksize);
	else
		printf(",\"blksize\":null");
	if (st->have & FSC_HAVE_ATIME)
		printf(",\"atime_sec\":%lld,\"atime_nsec\":%lu}\n",
		       (long long)st->atime_sec, (unsigned long)st->atime_nsec);
	else
		printf(",\"atime_sec\":null,\"atime_nsec\":null}\n");
}

int main(int argc, char **argv)
{
	int many = argc == 3 && strcmp(argv[1], "--many") == 0;
	if (argc != 2 + many) {
		fprintf(stderr, "usage: fsc-dump [--many] NAME < PATHS\n");
		return 1;
	}
	fsc_handle *h;
	int rc = fsc_open(&h, argv[1 + many],
			  FSC_OPEN_ATTACHED | FSC_OPEN_NO_REQUESTS);
	if (rc < 0) {
		fprintf(stderr, "fsc-dump: open %s: %s\n", argv[1 + many],
			strerror(-rc));
		return 1;
	}
	char **paths = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t len = 0;
	ssize_t got;
	while ((got = getline(&line, &len, stdin)) >= 0) {
		if (got > 0 && line[got - 1] == '\n')
			line[got - 1] = '\0';
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			char **more = realloc(paths, cap * sizeof *paths);
			if (!more) {
				fprintf(stderr, "fsc-dump: out of memory\n");
				return 1;
			}
			paths = more;
		}
		paths[n] = strdup(line);
		if (!paths[n++]) {
			fprintf(stderr, "fsc-dump: out of memory\n");
			return 1;
		}
	}
	free(line);
	if (ferror(stdin)) {
		fprintf(stderr, "fsc-dump: reading stdin: %s\n",
			strerror(errno));
		return 1;
	}
	struct fsc_stat *st = calloc(n ? n : 1, sizeof *st);
	int *res = calloc(n ? n : 1, sizeof *res);
	if (!st || !res) {
		fprintf(stderr, "fsc-dump: out of memory\n");
		return 1;
	}
	if (many)
		fsc_lookup_many(h, (const char *const *)paths, n, st, res);
	else
		for (size_t i = 0; i < n; i++)
			res[i] = fsc_lookup(h, paths[i], &st[i]);
	for (size_t i = 0; i < n; i++) {
		put_answer(paths[i], res[i], &st[i]);
		free(paths[i]);
	}
	free(paths);
	free(st);
	free(res);
	fsc_close(h);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "fsc-dump: writing stdout: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}
