/*
 * test_grow.c - a full table: the writer grows it by replacing its
 * segment (readers re-attach, answers stay right, the watch list and the
 * counters carry over); at the memory limit, or when growing fails, it
 * evicts and counts the paths asked for again (refaults); a writer killed
 * in the middle of growing leaves nothing a successor would lose.
 */
#include "harness.h"
#include "itest.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NFILES 200

TestSuite(grow, .init = itest_setup, .fini = itest_teardown, .timeout = 240);

static char paths[NFILES][PATH_MAX];

static int ignore(void *arg, const struct fsc_change *c)
{
	(void)arg;
	(void)c;
	return 0;
}

static void make_files(int n)
{
	for (int i = 0; i < n; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "f%03d.log", i);
		snprintf(paths[i], sizeof(paths[i]), "%s", fsct_path(&W, rel));
		fsct_write(paths[i], rel, 0);
	}
}

/* Every one of the first n files is a hit equal to stat(2). */
static void expect_all_cached(fsc_handle *h, int n)
{
	for (int i = 0; i < n; i++) {
		struct fsc_stat c;
		struct stat st;
		int r = fsc_lookup(h, paths[i], &c);
		cr_assert_eq(r, 0, "%s: %s", paths[i], fsc_strerror(r));
		cr_assert_eq(stat(paths[i], &st), 0);
		cr_assert_eq(c.ino, (uint64_t)st.st_ino, "%s", paths[i]);
		cr_assert_eq(c.size, (int64_t)st.st_size, "%s", paths[i]);
	}
}

Test(grow, a_full_table_grows_and_readers_follow)
{
	make_files(NFILES);
	const char *const args[] = { "--capacity", "16", "--memory-limit", "4M",
				     NULL };
	start(args);
	fsc_handle *early = fsct_open(&W); /* attached to the first segment */
	struct fsc_cursor cur = FSC_CURSOR_INIT;
	struct fsc_stat st;
	cr_assert_eq(fsc_lookup(early, paths[0], &st), FSC_MISS);
	cr_assert_eq(fsc_changes(H, &cur, ignore, NULL), FSC_RESYNC);
	uint64_t epoch = cur.epoch;

	for (int i = 0; i < NFILES; i++)
		watch(paths[i]);
	fsct_sync(H);
	/* 16 -> 32 -> 64 -> 128 -> 256 entries. */
	cr_assert_eq(fsct_counter(H, FSC_CTR_GROWTHS), 4);
	cr_assert_eq(fsct_counter(H, FSC_CTR_EVICTIONS), 0);
	cr_assert_eq(fsct_counter(H, FSC_CTR_INSERTS), NFILES,
		     "counters carried over, copies not counted");
	cr_assert_geq(fsc_slot_count(H), 256 * 4 / 3);
	expect_all_cached(H, NFILES);
	expect_all_cached(early, NFILES); /* re-attached by itself */
	fsc_close(early);

	/* The feed is a new one: a follower does one full pass. */
	cr_assert_eq(fsc_changes(H, &cur, ignore, NULL), FSC_RESYNC);
	cr_assert_neq(cur.epoch, epoch);
	fsct_write(paths[7], "more\n", 1);
	fsct_sync(H);
	expect_all_cached(H, NFILES);

	/* A successor of a crashed writer takes over every path (it grows
	 * while it loads them, before it serves). */
	fsc_close(H);
	H = NULL;
	fsct_writer_kill(&W, SIGKILL);
	fsct_writer_restart(&W);
	H = fsct_open(&W);
	fsct_sync(H);
	expect_all_cached(H, NFILES);
}

Test(grow, at_the_limit_it_evicts_and_counts_refaults)
{
	make_files(40);
	/* A fixed capacity: --capacity without --memory-limit. */
	const char *const args[] = { "--capacity", "16", NULL };
	start(args);
	for (int i = 0; i < 40; i++)
		watch(paths[i]);
	fsct_sync(H);
	cr_assert_eq(fsct_counter(H, FSC_CTR_GROWTHS), 0);
	cr_assert_geq(fsct_counter(H, FSC_CTR_EVICTIONS), 24);
	cr_assert_eq(fsct_counter(H, FSC_CTR_REFAULTS), 0);

	/* Ask again for one that was evicted: a refault. */
	int evicted = -1;
	for (int i = 0; i < 40 && evicted < 0; i++) {
		struct fsc_stat st;
		if (fsc_lookup(H, paths[i], &st) == FSC_MISS)
			evicted = i;
	}
	cr_assert_geq(evicted, 0);
	watch(paths[evicted]);
	cr_assert_eq(fsct_counter(H, FSC_CTR_REFAULTS), 1);
}

Test(grow, a_failed_growth_falls_back_to_eviction)
{
	make_files(40);
	/* The five objects at start size fine; the staged table does not. */
	setenv("FSTATCACHE_FAULTS", "ftruncate=ENOSPC:5", 1);
	const char *const args[] = { "--capacity", "16", "--memory-limit", "4M",
				     NULL };
	start(args);
	unsetenv("FSTATCACHE_FAULTS");
	for (int i = 0; i < 40; i++)
		watch(paths[i]);
	fsct_sync(H);
	cr_assert_eq(fsct_counter(H, FSC_CTR_GROWTHS), 0);
	cr_assert_geq(fsct_counter(H, FSC_CTR_EVICTIONS), 24);
	/* Nothing staged was left behind. */
	char shm[FSC_SHM_NAME_SIZE + 8];
	fsc_shm_name(shm, sizeof(shm), W.name, FSC_OBJ_TABLE);
	strcat(shm, ".new");
	int fd = shm_open(shm, O_RDONLY, 0);
	cr_assert_lt(fd, 0, "%s left behind", shm);
}

/* Move /dev/shm/fstatcache.FROM{,.use,.feed} to TO's names + ".new". */
static void stage_as(const char *from, const char *to)
{
	for (int obj = FSC_OBJ_TABLE; obj <= FSC_OBJ_TAGS; obj++) {
		char a[FSC_SHM_NAME_SIZE], b[FSC_SHM_NAME_SIZE];
		char pa[FSC_SHM_NAME_SIZE + 16], pb[FSC_SHM_NAME_SIZE + 24];
		fsc_shm_name(a, sizeof(a), from, obj);
		fsc_shm_name(b, sizeof(b), to, obj);
		snprintf(pa, sizeof(pa), "/dev/shm%s", a);
		snprintf(pb, sizeof(pb), "/dev/shm%s.new", b);
		cr_assert_eq(rename(pa, pb), 0, "rename %s %s: %s", pa, pb,
			     strerror(errno));
	}
}

/*
 * Killed while growing, after the staged segment was complete and before
 * it took the old one's place: the successor takes over the paths of
 * both (the staged one may hold the path that made it grow) and removes
 * the staged objects.  Reproduced exactly: a second writer's segment,
 * killed, is moved under the staged names of the first.
 */
Test(grow, a_writer_killed_while_growing_loses_nothing)
{
	make_files(2);
	struct fsct_writer other;
	memset(&other, 0, sizeof(other));
	fsct_writer_init(&other);
	const char *const a_args[] = { paths[0], NULL };
	const char *const b_args[] = { paths[1], NULL };
	fsct_writer_start(&other, b_args);
	fsct_writer_kill(&other, SIGKILL);
	start(a_args);
	fsc_close(H);
	H = NULL;
	fsct_writer_kill(&W, SIGKILL);
	stage_as(other.name, W.name);
	fsct_writer_cleanup(&other);

	fsct_writer_restart(&W);
	H = fsct_open(&W);
	fsct_sync(H);
	expect_all_cached(H, 2);
	char shm[FSC_SHM_NAME_SIZE + 8];
	for (int obj = FSC_OBJ_TABLE; obj <= FSC_OBJ_TAGS; obj++) {
		fsc_shm_name(shm, sizeof(shm), W.name, obj);
		strcat(shm, ".new");
		int fd = shm_open(shm, O_RDONLY, 0);
		cr_assert_lt(fd, 0, "%s left behind", shm);
	}
}

/* At the limit, a path missed once does not push out what readers use. */
Test(grow, a_one_time_miss_does_not_push_out_used_entries)
{
	make_files(17);
	const char *const args[] = { "--capacity", "16", NULL };
	start(args);
	for (int i = 0; i < 16; i++)
		watch(paths[i]);
	fsct_sync(H);
	expect_all_cached(H, 16); /* readers use every entry */

	struct fsc_stat st;
	cr_assert_eq(fsc_stat(H, paths[16], &st), 0); /* a miss: stat() */
	cr_assert_eq(st.source, FSC_SOURCE_STAT);
	fsct_sync(H); /* its watch request is handled */
	cr_assert_eq(fsct_counter(H, FSC_CTR_NOT_ADMITTED), 1);
	cr_assert_eq(fsct_counter(H, FSC_CTR_EVICTIONS), 0);
	expect_all_cached(H, 16);
	cr_assert_eq(fsc_lookup(H, paths[16], &st), FSC_MISS);

	/* An explicit watch always gets in. */
	watch(paths[16]);
	cr_assert_eq(fsct_counter(H, FSC_CTR_EVICTIONS), 1);
	cr_assert_eq(fsc_lookup(H, paths[16], &st), 0);
}
