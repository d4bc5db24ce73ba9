/*
 * test_wide.c - sizes past 4 GiB and times past January 2038 on every
 * target, 32-bit ARM included.
 *
 * On armhf a program built without _TIME_BITS=64 gets EOVERFLOW from
 * stat() for a file dated after 2038-01-19, so the writer could only
 * answer "cannot cache" and the tool failed; the build sets _TIME_BITS=64
 * and _FILE_OFFSET_BITS=64 (meson.build).  The cross pass runs these tests
 * against the armhf writer and tool (.ci/test).
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct fsct_writer W;
static fsc_handle *H;

static void setup(void)
{
	fsct_fixture_init(&W, &H);
}

static void teardown(void)
{
	fsct_fixture_fini(&W, &H);
}

TestSuite(wide, .init = setup, .fini = teardown, .timeout = 120);

#define Y2040 INT64_C(2208988800) /* 2040-01-01T00:00:00Z */
#define BIG (INT64_C(5) << 30)    /* 5 GiB, sparse */

Test(wide, after_2038_and_past_4_gib)
{
	char late[PATH_MAX], big[PATH_MAX];
	snprintf(late, sizeof(late), "%s", fsct_path(&W, "late.log"));
	snprintf(big, sizeof(big), "%s", fsct_path(&W, "big.log"));
	fsct_write(late, "x\n", 0);
	struct timespec t[2] = { { (time_t)Y2040, 5 }, { (time_t)Y2040, 7 } };
	cr_assert_eq(utimensat(AT_FDCWD, late, t, 0), 0);
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)BIG), 0);
	close(fd);

	const char *args[] = { late, big, NULL };
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);

	struct fsc_stat c;
	int r = fsc_lookup(H, late, &c);
	cr_assert_eq(r, 0, "%s: %d (%s): the writer could not stat it", late, r,
		     fsc_strerror(r));
	cr_assert_eq(c.mtime_sec, Y2040);
	cr_assert_eq(c.mtime_nsec, 7u);
	r = fsc_lookup(H, big, &c);
	cr_assert_eq(r, 0, "%s: %d (%s)", big, r, fsc_strerror(r));
	cr_assert_eq(c.size, BIG);

	/* The tool (a reader built for the same target) prints them too. */
	char *out = NULL, *err = NULL;
	const char *argv[] = { "stat", "--json", late, big, NULL };
	int st = fsct_tool(&W, argv, &out, &err);
	cr_assert_eq(st, 0, "fstatcache stat: %d: %s", st, err ? err : "");
	cr_assert(strstr(out, "\"mtime_ns\": 2208988800000000007") ||
			  strstr(out, "\"mtime_ns\":2208988800000000007"),
		  "no 2040 mtime in: %s", out);
	cr_assert(strstr(out, "5368709120"), "no 5 GiB size in: %s", out);
	free(out);
	free(err);
	fsct_writer_stop(&W);
}
