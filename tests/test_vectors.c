/*
 * test_vectors.c - the C reader against the sample segment of
 * tests/vectors/ (made by gen_sample.c): every lookup and every walk of
 * the change feed listed in sample.answers must come out exactly so.
 * Readers in other languages run the same answers against the same files
 * (go/sample_test.go), so all of them read the format alike.
 *
 * The sample's objects are copied under a fresh instance name into
 * /dev/shm (owned by us, 0600, as a writer makes them) and removed after.
 * Its writer_alive holds a thread id the kernel never marks: the snapshot
 * is "live" for as long as the test reads it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <fstatcache/fstatcache.h>

#ifndef FSCT_VECTORS_DIR
#error "FSCT_VECTORS_DIR must name tests/vectors"
#endif

static char name[FSC_NAME_MAX + 1];

static void copy_object(const char *file, int which)
{
	char src[4096], shm[FSC_SHM_NAME_SIZE];
	snprintf(src, sizeof(src), "%s/%s", FSCT_VECTORS_DIR, file);
	FILE *in = fopen(src, "rb");
	cr_assert_not_null(in, "%s: %s", src, strerror(errno));
	fsc_shm_name(shm, sizeof(shm), name, which);
	int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "shm_open(%s): %s", shm, strerror(errno));
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	fclose(in);
	close(fd);
}

static void setup(void)
{
	uint32_t r = 0;
	cr_assert_eq(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
	snprintf(name, sizeof(name), "v%ldx%08" PRIx32, (long)getpid(), r);
	copy_object("sample.table", FSC_OBJ_TABLE);
	copy_object("sample.feed", FSC_OBJ_FEED);
}

static void teardown(void)
{
	char shm[FSC_SHM_NAME_SIZE];
	for (int which = FSC_OBJ_TABLE; which <= FSC_OBJ_FEED; which++) {
		fsc_shm_name(shm, sizeof(shm), name, which);
		shm_unlink(shm);
	}
}

/* An answer in the words of sample.answers (gen_sample.c). */
static void describe(const struct fsc_stat *s, char *buf, size_t size)
{
	if (!s->exists) {
		snprintf(buf, size, " exists=0");
		return;
	}
	snprintf(buf, size,
		 " exists=1 mode=%" PRIu32 " uid=%" PRIu32 " gid=%" PRIu32
		 " dev=%" PRIu64 " ino=%" PRIu64 " nlink=%" PRIu64
		 " rdev=%" PRIu64 " size=%" PRId64 " blocks=%" PRId64
		 " mtime=%" PRId64 ".%09" PRIu32 " ctime=%" PRId64
		 ".%09" PRIu32,
		 s->mode, s->uid, s->gid, s->dev, s->ino, s->nlink, s->rdev,
		 s->size, s->blocks, s->mtime_sec, s->mtime_nsec, s->ctime_sec,
		 s->ctime_nsec);
	size_t n = strlen(buf);
	if (s->have & FSC_HAVE_BLKSIZE)
		n += (size_t)snprintf(buf + n, size - n, " blksize=%" PRIu32,
				      s->blksize);
	if (s->have & FSC_HAVE_ATIME)
		snprintf(buf + n, size - n, " atime=%" PRId64 ".%09" PRIu32,
			 s->atime_sec, s->atime_nsec);
}

static const char *result_word(int r)
{
	return r == 0              ? "hit"
	       : r == FSC_MISS     ? "miss"
	       : r == FSC_UNCACHED ? "uncached"
				   : "error";
}

struct walk {
	char lines[16][512];
	int n;
};

static int on_change(void *arg, const struct fsc_change *c)
{
	struct walk *w = arg;
	char fields[400] = "";
	if (c->status == 0)
		describe(&c->st, fields, sizeof(fields));
	cr_assert_lt(w->n, 16);
	snprintf(w->lines[w->n++], sizeof(w->lines[0]), "change %s %s %s%s",
		 fsc_change_name(c->kind), result_word(c->status), c->path,
		 fields);
	return 0;
}

Test(vectors, sample_answers, .init = setup, .fini = teardown)
{
	fsc_handle *h;
	cr_assert_eq(fsc_open(&h, name,
			      FSC_OPEN_ATTACHED | FSC_OPEN_NO_REQUESTS),
		     0);
	char path[4096];
	snprintf(path, sizeof(path), "%s/sample.answers", FSCT_VECTORS_DIR);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	char line[1024];
	int lookups = 0, walks = 0, changes = 0;
	struct walk w = { .n = 0 };
	int pending = 0; /* change lines still expected of the last walk */
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (pending > 0) {
			cr_assert(strncmp(line, "change ", 7) == 0,
				  "expected a change line: %s", line);
			int i = w.n - pending--;
			cr_expect_str_eq(w.lines[i], line);
			changes++;
			continue;
		}
		char word[16], arg[512], res[16], extra[512];
		int n = sscanf(line, "%15s %511s %15s %511[^\n]", word, arg,
			       res, extra);
		if (n < 2 || word[0] == '#' || strcmp(word, "header") == 0)
			continue;
		if (strcmp(word, "lookup") == 0) {
			struct fsc_stat st;
			char got[1024], fields[400] = "";
			memset(&st, 0, sizeof(st));
			int r = fsc_lookup(h, arg, &st);
			if (r == 0)
				describe(&st, fields, sizeof(fields));
			snprintf(got, sizeof(got), "lookup %s %s%s", arg,
				 result_word(r), fields);
			cr_expect_str_eq(got, line);
			/* The batched call must agree. */
			const char *one[1] = { arg };
			struct fsc_stat many;
			int rm = -1;
			fsc_lookup_many(h, one, 1, &many, &rm);
			cr_expect_eq(rm, r, "%s: lookup_many %d, lookup %d",
				     arg, rm, r);
			lookups++;
		} else if (strcmp(word, "walk") == 0) {
			struct fsc_cursor cur;
			char out[FSC_CURSOR_TEXT_SIZE], want_cur[64];
			int want_n = -1;
			cr_assert_eq(fsc_cursor_parse(arg, &cur), 0, "%s", arg);
			cr_assert_eq(sscanf(extra, "%63s %d", want_cur,
					    &want_n),
				     2, "%s", line);
			w.n = 0;
			int r = fsc_changes(h, &cur, on_change, &w);
			cr_expect_str_eq(r == 0            ? "ok"
					 : r == FSC_RESYNC ? "resync"
							   : "error",
					 res, "walk from %s: %d", arg, r);
			fsc_cursor_format(&cur, out, sizeof(out));
			cr_expect_str_eq(out, want_cur, "walk from %s", arg);
			cr_expect_eq(w.n, want_n, "walk from %s: %d changes",
				     arg, w.n);
			pending = w.n < want_n ? w.n : want_n;
			walks++;
		} else {
			cr_assert_fail("cannot parse: %s", line);
		}
	}
	fclose(f);
	fsc_close(h);
	cr_expect_geq(lookups, 20);
	cr_expect_geq(walks, 9);
	cr_expect_geq(changes, 19);
}
