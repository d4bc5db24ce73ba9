/*
 * test_liveness.c - the liveness fallback for kernels without robust futexes
 * (FSC_SEG_F_PID_LIVENESS, format.h), forced on a native kernel.
 *
 * qemu-user answers set_robust_list(2) with ENOSYS, so there the writer
 * holds a lock on its table object instead, and readers query that lock at
 * most every FSC_LIVENESS_CHECK_MS.  FSTATCACHE_FAULTS=set_robust_list=ENOSYS
 * (writer/sys.h) makes a native writer do the same, so this file tests the
 * fallback on every CI pass, not only under emulation.
 *
 * The writer is killed and reaped here directly, not with fsct_writer_kill(),
 * which would mark the dead writer the way the kernel marks a robust futex
 * (harness.c): what is tested is that readers notice by themselves.  The
 * wait for them to notice is a count of lookups, with a generous bound on
 * elapsed time only as a hang guard; nothing here sleeps.
 */
#include "harness.h"

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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FORCE_FALLBACK "set_robust_list=ENOSYS"
#define LOOKUP_LIMIT 1000000000L         /* lookups: never reached, a bound */
#define GUARD_NS (60ull * 1000000000ull) /* hang guard only */

static struct fsct_writer W;
static fsc_handle *H;

static void setup(void)
{
	fsct_fixture_init(&W, &H);
	setenv("FSTATCACHE_FAULTS", FORCE_FALLBACK, 1);
}

static void teardown(void)
{
	unsetenv("FSTATCACHE_FAULTS");
	fsct_fixture_fini(&W, &H);
}

TestSuite(liveness, .init = setup, .fini = teardown, .timeout = 120);

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct fsc_header header(void)
{
	struct fsc_header hdr;
	cr_assert_eq(fsc_header_read(H, &hdr), 0, "not attached");
	return hdr;
}

static void assert_hit(const char *path)
{
	struct fsc_stat st;
	int r = fsc_lookup(H, path, &st);
	cr_assert_eq(r, 0, "fsc_lookup(%s) = %d (%s), want a hit", path, r,
		     fsc_strerror(r));
	cr_assert_eq(st.source, FSC_SOURCE_CACHE);
}

/* SIGKILL and reap, without the harness's kernel-like marking. */
static void kill_and_reap(void)
{
	cr_assert(W.pid > 0);
	cr_assert_eq(kill(W.pid, SIGKILL), 0);
	int st;
	cr_assert_eq(waitpid(W.pid, &st, 0), W.pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status 0x%x",
		  st);
	W.pid = 0;
}

/* Look `path` up until the cache declines; returns the lookups it took. */
static long lookups_until_uncached(const char *path)
{
	uint64_t start = now_ns();
	for (long n = 1; n <= LOOKUP_LIMIT; n++) {
		struct fsc_stat st;
		int r = fsc_lookup(H, path, &st);
		if (r == FSC_UNCACHED)
			return n;
		cr_assert_eq(r, 0, "lookup %ld: %d (%s)", n, r,
			     fsc_strerror(r));
		if ((n & 4095) == 0)
			cr_assert_lt(now_ns() - start, GUARD_NS,
				     "hang guard: "
				     "%ld lookups still hit a dead writer",
				     n);
	}
	cr_assert_fail("%ld lookups still hit a dead writer", LOOKUP_LIMIT);
	return -1;
}

/* The fallback announces itself and serves as usual. */
Test(liveness, fallback_flagged_and_serving)
{
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	fsct_write(f, "one\n", 0);
	const char *args[] = { f, NULL };
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);

	struct fsc_header hdr = header();
	cr_assert_eq(hdr.flags & FSC_SEG_F_PID_LIVENESS, FSC_SEG_F_PID_LIVENESS,
		     "flags 0x%x", hdr.flags);
	cr_assert_neq(hdr.writer_alive & FSC_WRITER_TID_MASK, 0u);
	cr_assert_eq(hdr.writer_alive & FSC_WRITER_DIED, 0u);
	assert_hit(f);
	fsct_write(f, "two\n", 1);
	fsct_sync(H);
	struct fsc_stat st;
	cr_assert_eq(fsc_lookup(H, f, &st), 0);
	cr_assert_eq(st.size, 8, "the fallback writer keeps entries fresh");
	fsct_writer_stop(&W); /* a clean stop unlinks everything as usual */
	cr_assert_eq(fsc_lookup(H, f, &st), FSC_UNCACHED);
}

/* SIGKILL: readers notice by themselves, within a bounded number of
 * lookups, and then stay on stat() without a system call per lookup. */
Test(liveness, sigkill_noticed_by_readers)
{
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	fsct_write(f, "one\n", 0);
	const char *args[] = { f, NULL };
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);
	assert_hit(f);
	cr_assert_eq(header().flags & FSC_SEG_F_PID_LIVENESS,
		     FSC_SEG_F_PID_LIVENESS);

	kill_and_reap();
	/* Nothing marked the word: only the lock tells. */
	long n = lookups_until_uncached(f);
	cr_log_info("dead writer noticed after %ld lookups", n);
	cr_assert_eq(fsc_attached(H), 0);
	for (int i = 0; i < 1000; i++) {
		struct fsc_stat st;
		cr_assert_eq(fsc_lookup(H, f, &st), FSC_UNCACHED,
			     "a hit after the death was noticed");
	}
	/* fsc_stat() answers from stat(2), including changes made since. */
	fsct_write(f, "two\n", 1);
	struct fsc_stat st;
	cr_assert_eq(fsc_stat(H, f, &st), 0);
	cr_assert_eq(st.source, FSC_SOURCE_STAT);
	cr_assert_eq(st.size, 8);
}

/* A second handle opened after the death never attaches to the corpse. */
Test(liveness, open_after_sigkill_does_not_attach)
{
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	fsct_write(f, "one\n", 0);
	const char *args[] = { f, NULL };
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);
	kill_and_reap();

	fsc_handle *late;
	cr_assert_eq(fsc_open(&late, W.name, FSC_OPEN_ATTACHED), -ENOENT,
		     "attached to a dead writer's segment");
	cr_assert_eq(fsc_open(&late, W.name, 0), 0);
	struct fsc_stat st;
	cr_assert_eq(fsc_lookup(late, f, &st), FSC_UNCACHED,
		     "the first lookup of a new handle hit a dead writer");
	fsc_close(late);
}

/* A live fallback writer keeps its name; a dead one's is taken over, watch
 * list included, and readers re-attach. */
Test(liveness, takeover_only_after_death)
{
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	fsct_write(f, "one\n", 0);
	const char *args[] = { f, NULL };
	fsct_writer_start(&W, args);
	H = fsct_open(&W);
	fsct_sync(H);

	/* A second writer for the name must refuse while the first lives. */
	char sock[PATH_MAX];
	snprintf(sock, sizeof(sock), "%s", fsct_path(&W, "second.sock"));
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(fsct_writer_binary(), "fstatcached", "--name", W.name,
		      "--socket", sock, (char *)NULL);
		_exit(127);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		  "a second writer started over a live one (status 0x%x)", st);
	assert_hit(f);

	kill_and_reap();
	lookups_until_uncached(f);
	/* The successor (robust futexes where the kernel has them) takes over. */
	unsetenv("FSTATCACHE_FAULTS");
	fsct_writer_restart(&W);
	fsct_sync(H);
	struct fsc_stat s;
	int r = fsc_lookup(H, f, &s);
	cr_assert_eq(r, 0, "the taken-over path is not served: %d (%s)", r,
		     fsc_strerror(r));
	fsct_writer_stop(&W);
}

/*
 * A writer upgraded in place from format 1.x takes over its dead
 * predecessor's watch list: a 1.x table (slots as 1.x laid them out:
 * flags at 4, path_len at 16, the path at 128) left under the name, the
 * new writer serves every path it held, in its own format.
 */
Test(liveness, takes_over_the_paths_of_a_format_1_segment)
{
	enum {
		SLOTS = 16,
		PMAX = 64,
		ES = 128 + PMAX
	};
	static unsigned char seg[FSC_HEADER_SIZE + SLOTS * ES];
	char f[3][PATH_MAX], shm[FSC_SHM_NAME_SIZE];

	unsetenv("FSTATCACHE_FAULTS");
	fsct_writer_init(&W);
	struct fsc_header *h = (struct fsc_header *)(void *)seg;
	h->magic = FSC_MAGIC;
	h->version_major = 1;
	h->version_minor = 5;
	h->header_size = FSC_HEADER_SIZE;
	h->entry_size = ES;
	h->slot_count = SLOTS;
	h->probe_limit = 8;
	h->path_max = PMAX;
	h->segment_size = sizeof(seg);
	h->status = FSC_STATUS_SERVING;
	h->writer_alive = FSC_WRITER_DIED | 1; /* the kernel's mark */
	h->owner_uid = (uint32_t)geteuid();
	h->max_entries = 12;
	for (uint32_t i = 0; i < 3; i++) {
		char rel[16];
		snprintf(rel, sizeof(rel), "old%u.log", i);
		snprintf(f[i], sizeof(f[i]), "%s", fsct_path(&W, rel));
		fsct_write(f[i], rel, 0);
		unsigned char *e = seg + FSC_HEADER_SIZE + (3 * i + 1) * ES;
		uint32_t flags = FSC_ENT_USED | FSC_ENT_EXISTS;
		uint32_t len = (uint32_t)strlen(f[i]);
		cr_assert_lt(len, PMAX);
		memcpy(e + 4, &flags, 4);
		memcpy(e + 16, &len, 4);
		memcpy(e + 128, f[i], len);
	}
	fsc_shm_name(shm, sizeof(shm), W.name, FSC_OBJ_TABLE);
	int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0, "%s: %s", shm, strerror(errno));
	cr_assert_eq(write(fd, seg, sizeof(seg)), (ssize_t)sizeof(seg));
	close(fd);

	fsct_writer_start(&W, NULL);
	H = fsct_open(&W);
	fsct_sync(H);
	for (int i = 0; i < 3; i++)
		assert_hit(f[i]);
	struct fsc_header now = header();
	cr_assert_eq(now.version_major, FSC_FORMAT_MAJOR);
	fsct_writer_stop(&W);
}
