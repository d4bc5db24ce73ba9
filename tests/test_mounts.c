/*
 * test_mounts.c - which mount points mounts.c reports between two reads
 * of a mount table, on made-up tables in a temporary file.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mounts.h"

static char file[] = "/tmp/fsct-mounts.XXXXXX";
static char seen[8][256];
static int nseen;

static void put(const char *text)
{
	FILE *f = fopen(file, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void note(void *ctx, const char *point)
{
	(void)ctx;
	cr_assert_lt(nseen, 8);
	snprintf(seen[nseen++], sizeof(seen[0]), "%s", point);
}

static struct fw_mounts *open_with(const char *text)
{
	struct fw_mounts *m;
	int fd = mkstemp(file);

	cr_assert_geq(fd, 0);
	close(fd);
	put(text);
	cr_assert_eq(fw_mounts_open(&m, file), 0);
	return m;
}

static int changes(struct fw_mounts *m, const char *text)
{
	nseen = 0;
	put(text);
	return fw_mounts_changes(m, note, NULL);
}

static void fini(void)
{
	unlink(file);
}

#define ROOT "21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
#define LOG "30 21 8:2 / /var/log rw - xfs /dev/sda2 rw\n"

TestSuite(mounts, .fini = fini);

Test(mounts, a_mount_that_came_and_one_that_went)
{
	struct fw_mounts *m = open_with(ROOT LOG);

	cr_assert_eq(changes(m, ROOT LOG "31 21 0:40 / /mnt/x rw - tmpfs t "
					 "rw\n"),
		     1);
	cr_assert_str_eq(seen[0], "/mnt/x");
	cr_assert_eq(changes(m, ROOT "31 21 0:40 / /mnt/x rw - tmpfs t rw\n"),
		     1);
	cr_assert_str_eq(seen[0], "/var/log");
	fw_mounts_close(m);
}

Test(mounts, moved_and_remounted_mounts_are_reported)
{
	struct fw_mounts *m = open_with(ROOT LOG);

	cr_assert_eq(changes(m, ROOT "30 21 8:2 / /srv/log rw - xfs /dev/sda2 "
				     "rw\n"),
		     2);
	cr_assert(!strcmp(seen[0], "/var/log") || !strcmp(seen[1], "/var/log"));
	cr_assert(!strcmp(seen[0], "/srv/log") || !strcmp(seen[1], "/srv/log"));
	cr_assert_eq(changes(m, ROOT "30 21 8:2 / /srv/log ro - xfs /dev/sda2 "
				     "ro\n"),
		     2);
	cr_assert_str_eq(seen[0], "/srv/log");
	cr_assert_str_eq(seen[1], "/srv/log");
	fw_mounts_close(m);
}

Test(mounts, escaped_mount_points_are_spelled_out)
{
	struct fw_mounts *m = open_with(ROOT);

	cr_assert_eq(changes(m, ROOT "40 21 0:41 / /a\\040b\\011c\\134d rw - "
				     "tmpfs t rw\n"),
		     1);
	cr_assert_str_eq(seen[0], "/a b\tc\\d");
	fw_mounts_close(m);
}

/* Mount IDs are reused: the same lines after a change mean "anything". */
Test(mounts, a_change_with_the_same_lines_says_everything)
{
	struct fw_mounts *m = open_with(ROOT LOG);

	cr_assert_eq(changes(m, LOG ROOT), 1);
	cr_assert_str_eq(seen[0], "/");
	fw_mounts_close(m);
}

Test(mounts, a_missing_table_is_an_error)
{
	struct fw_mounts *m;

	cr_assert_eq(fw_mounts_open(&m, "/nonexistent/mountinfo"), -ENOENT);
}
