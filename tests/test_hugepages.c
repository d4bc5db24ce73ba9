/*
 * test_hugepages.c - the tools' huge-page report (tools/hugepages.c), on
 * made-up facts: what /sys, mountinfo and smaps say is given as text, so
 * no test depends on this machine's THP settings or on what its kernel
 * did.  Whether the writer and readers ask for huge pages is checked in
 * test_inspect.c, on real mappings.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../tools/hugepages.h"

#define MiB ((uint64_t)1 << 20)

static struct huge_facts facts(uint64_t table, uint64_t huge)
{
	struct huge_facts f;
	memset(&f, 0, sizeof(f));
	f.thp = 1;
	strcpy(f.shmem_enabled, "never");
	strcpy(f.mount_huge, "never");
	f.page_size = 2 * MiB;
	f.table_bytes = table;
	f.smaps_ok = 1;
	f.huge_bytes = huge;
	return f;
}

static enum huge_verdict judge(const struct huge_facts *f, char *why)
{
	return huge_judge(f, why, 320);
}

Test(hugepages, all_whole_pages_mapped_is_yes)
{
	char why[320];
	/* 96 MiB + the 4 KiB header: 48 whole huge pages, a 4 KiB tail. */
	struct huge_facts f = facts(96 * MiB + 4096, 96 * MiB);
	cr_assert_eq(judge(&f, why), HUGE_YES);
	cr_assert(strstr(why, "48 of 48"), "%s", why);
	cr_assert_str_eq(huge_verdict_name(HUGE_YES), "yes");
}

Test(hugepages, some_pages_is_partly)
{
	char why[320];
	struct huge_facts f = facts(96 * MiB + 4096, 10 * MiB);
	cr_assert_eq(judge(&f, why), HUGE_PARTLY);
	cr_assert(strstr(why, "5 of 48"), "%s", why);
}

Test(hugepages, small_table_is_no_whatever_the_system)
{
	char why[320];
	struct huge_facts f = facts(MiB, 0);
	cr_assert_eq(judge(&f, why), HUGE_NO);
	cr_assert(strstr(why, "smaller than one huge page"), "%s", why);
}

Test(hugepages, reasons_for_no)
{
	char why[320];
	struct huge_facts f = facts(6 * MiB, 0);
	f.thp = 0;
	cr_assert_eq(judge(&f, why), HUGE_NO);
	cr_assert(strstr(why, "no transparent huge pages"), "%s", why);

	f = facts(6 * MiB, 0);
	strcpy(f.shmem_enabled, "deny");
	cr_assert_eq(judge(&f, why), HUGE_NO);
	cr_assert(strstr(why, "deny"), "%s", why);

	f = facts(6 * MiB, 0);
	strcpy(f.mount_huge, "advise");
	cr_assert_eq(judge(&f, why), HUGE_NO);
	cr_assert(strstr(why, "offered (/dev/shm huge=advise)"), "%s", why);
	cr_assert(strstr(why, "MADV_COLLAPSE"), "%s", why);

	/* The default mount: not offered, and how to ask anyway. */
	f = facts(6 * MiB, 0);
	cr_assert_eq(judge(&f, why), HUGE_NO);
	cr_assert(strstr(why, "not offered: /dev/shm is mounted huge=never"),
		  "%s", why);
	cr_assert(strstr(why, "FSTATCACHE_HUGE_PAGES=1"), "%s", why);
}

Test(hugepages, unreadable_smaps_is_unknown)
{
	char why[320];
	struct huge_facts f = facts(6 * MiB, 0);
	f.smaps_ok = 0;
	cr_assert_eq(judge(&f, why), HUGE_UNKNOWN);
	cr_assert_str_eq(huge_verdict_name(HUGE_UNKNOWN), "unknown");
}

Test(hugepages, other_page_sizes)
{
	char why[320];
	struct huge_facts f = facts(1024 * MiB + 4096, 512 * MiB);
	f.page_size = 512 * MiB; /* arm64 with 64 KiB pages */
	cr_assert_eq(judge(&f, why), HUGE_PARTLY);
	cr_assert(strstr(why, "1 of 2 huge pages of 524288 KiB"), "%s", why);
	f.huge_bytes = 1024 * MiB;
	cr_assert_eq(judge(&f, why), HUGE_YES);
}

Test(hugepages, sysfs_choice)
{
	char out[16];
	huge_choice("always within_size advise [never] deny force\n", out,
		    sizeof(out));
	cr_assert_str_eq(out, "never");
	huge_choice("[always] madvise never\n", out, sizeof(out));
	cr_assert_str_eq(out, "always");
	huge_choice("", out, sizeof(out));
	cr_assert_str_eq(out, "");
}

static void mount_option(const char *text, char *out, size_t size)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	cr_assert_not_null(f);
	huge_mount_option(f, "/dev/shm", out, size);
	fclose(f);
}

Test(hugepages, mount_option_from_mountinfo)
{
	char out[16];
	mount_option("24 29 0:22 / /proc rw,nosuid - proc proc rw\n"
		     "26 29 0:24 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs "
		     "rw,size=24683784k,inode64\n",
		     out, sizeof(out));
	cr_assert_str_eq(out, "never", "no huge= means never");
	mount_option("26 29 0:24 / /dev/shm rw,relatime shared:5 - tmpfs "
		     "tmpfs rw,size=65536k,huge=within_size,inode64\n",
		     out, sizeof(out));
	cr_assert_str_eq(out, "within_size");
	/* The last mount at the point is the one in use. */
	mount_option("26 29 0:24 / /dev/shm rw - tmpfs tmpfs rw,huge=always\n"
		     "40 26 0:30 / /dev/shm rw - tmpfs shm rw,huge=advise\n",
		     out, sizeof(out));
	cr_assert_str_eq(out, "advise");
	mount_option("26 29 0:24 / /dev/shmx rw - tmpfs tmpfs huge=always\n",
		     out, sizeof(out));
	cr_assert_str_eq(out, "", "not a mount at /dev/shm");
}

static const char smaps[] =
	"7fe57ecff000-7fe57ee00000 rw-s 00000000 00:1b 237        "
	"/dev/shm/fstatcache.x.feed\n"
	"Size:               1028 kB\n"
	"ShmemPmdMapped:        0 kB\n"
	"FilePmdMapped:         0 kB\n"
	"VmFlags: rd wr sh mr mw me ms \n"
	"7fe57ee00000-7fe584e01000 r--s 00000000 00:1b 235        "
	"/dev/shm/fstatcache.x\n"
	"Size:              98308 kB\n"
	"Rss:               98308 kB\n"
	"FilePmdMapped:      2048 kB\n"
	"ShmemPmdMapped:    96256 kB\n"
	"VmFlags: rd sh mr mw me ms hg \n"
	"7fe5850e8000-7fe585129000 rw-s 00000000 00:1b 236        "
	"/dev/shm/fstatcache.x.use\n"
	"ShmemPmdMapped:     4096 kB\n";

static int64_t pmd_kb(uintptr_t start)
{
	FILE *f = fmemopen((void *)smaps, strlen(smaps), "r");
	cr_assert_not_null(f);
	int64_t kb = huge_smaps_pmd_kb(f, start);
	fclose(f);
	return kb;
}

Test(hugepages, smaps_of_one_mapping)
{
	cr_assert_eq(pmd_kb(0x7fe57ee00000), 98304,
		     "both PMD counts of that mapping, no other's");
	cr_assert_eq(pmd_kb(0x7fe57ecff000), 0);
	cr_assert_eq(pmd_kb(0x7fe5850e8000), 4096);
	cr_assert_eq(pmd_kb(0x1000), -1, "no such mapping");
}
