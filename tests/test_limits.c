/*
 * test_limits.c - the kernel's limits and the table's (issue 5, item 2).
 *
 *   - the real inotify watch limit: the writer runs in a user namespace
 *     of its own (tests/userns_exec.c) whose
 *     /proc/sys/user/max_inotify_watches is lowered (a per-namespace
 *     limit; the global fs.inotify.max_user_watches is never touched: root
 *     in a user namespace may write it, and it is system-wide).  The
 *     writer reaches ENOSPC for real:
 *     it keeps running, answers those paths by stat(), counts them, the
 *     inspector reports them, and once watches are released it serves
 *     them again.  Where user namespaces are unavailable the test is
 *     skipped; test_faults.c simulates ENOSPC through fault injection.
 *   - inotify queue overflow in the middle of creations, deletions,
 *     renames and appends over many directories: afterwards every entry
 *     equals stat(2) (test_faults.c covers appends to two files).
 *   - a full table under churn: eviction keeps the table within its
 *     bounds, every listed slot is valid, the watches of evicted paths
 *     are released, and every hit equals stat(2).
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD_MS 60000

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

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 240);

static int control(int op, const char *path)
{
	char msg[FSC_REPLY_MSG_MAX + 1];
	return fsc_control(H, op, path, GUARD_MS, msg, sizeof(msg));
}

static int equals_stat(const struct fsc_stat *c, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return (errno == ENOENT || errno == ENOTDIR) && !c->exists;
	return c->exists && c->dev == (uint64_t)st.st_dev &&
	       c->ino == (uint64_t)st.st_ino && c->mode == st.st_mode &&
	       c->nlink == (uint64_t)st.st_nlink && c->size == st.st_size &&
	       c->uid == st.st_uid && c->gid == st.st_gid &&
	       c->mtime_sec == st.st_mtim.tv_sec &&
	       c->mtime_nsec == (uint32_t)st.st_mtim.tv_nsec &&
	       c->ctime_sec == st.st_ctim.tv_sec &&
	       c->ctime_nsec == (uint32_t)st.st_ctim.tv_nsec;
}

/* ---- the real watch limit, in a user namespace -------------------------- */

/*
 * Run the writer through tests/userns_exec (FSCT_USERNS_EXEC, set by
 * meson): in a user namespace of its own whose watch limit is `limit`.
 * Skips the test where user namespaces are unavailable.
 */
/* Criterion runs no .fini after a skip: clean up first. */
#define skip(...) \
	do { \
		fsct_writer_cleanup(&W); \
		cr_skip_test(__VA_ARGS__); \
	} while (0)

static void writer_in_userns(unsigned limit)
{
	const char *helper = getenv("FSCT_USERNS_EXEC");
	if (!helper || !*helper)
		skip("FSCT_USERNS_EXEC not set (run through meson)");
	char val[32];
	snprintf(val, sizeof(val), "%u", limit);
	setenv("FSCT_USERNS_WATCHES", val, 1);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0)
			dup2(nul, 2);
		execl(helper, helper, "--probe", (char *)NULL);
		_exit(78);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		skip("no user namespace with its own inotify limit here "
		     "(test_faults.c simulates the limit)");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "userns_exec --probe: status 0x%x", st);
	setenv("FSCT_USERNS_PROGRAM", fsct_writer_binary(), 1);
	setenv("FSTATCACHED", helper, 1);
}

static json_t *inspect_json(void)
{
	const char *argv[] = { "inspect", "--json", NULL };
	char *out = NULL, *err = NULL;
	int rc = fsct_tool(&W, argv, &out, &err);
	cr_assert_eq(rc, 0, "fstatcache inspect: exit %d: %s", rc, err);
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);
	cr_assert_not_null(j, "inspect --json: %s: %s", je.text, out);
	free(out);
	free(err);
	return j;
}

Test(limits, real_watch_limit_in_a_user_namespace)
{
	enum {
		NDIRS = 9,
		LIMIT = 6
	};
	writer_in_userns(LIMIT);
	char files[NDIRS][PATH_MAX];
	for (int d = 0; d < NDIRS; d++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "d%d", d);
		cr_assert_eq(mkdir(fsct_path(&W, rel), 0755), 0);
		snprintf(rel, sizeof(rel), "d%d/f.log", d);
		snprintf(files[d], PATH_MAX, "%s", fsct_path(&W, rel));
		fsct_write(files[d], "0\n", 0);
	}
	fsct_writer_start(&W, NULL);
	H = fsct_open(&W);
	for (int d = 0; d < NDIRS; d++)
		cr_assert_eq(control(FSC_OP_WATCH, files[d]), 0);
	fsct_sync(H);

	/* One watch per directory, and with fanotify one mark per file too:
	 * LIMIT / marks-per-path paths cached, the rest by stat(). */
	const int per = fsct_counter(H, FSC_CTR_FILE_MARKS) ? 2 : 1;
	/* The directories above them are watched once for all. */
	int shared = 0;
	for (const char *s = W.dir; *s; s++)
		shared += *s == '/';
	const int fit = (LIMIT - shared) / per;
	int cached = 0, uncached = 0;
	int is_cached[NDIRS];
	for (int d = 0; d < NDIRS; d++) {
		struct fsc_stat c;
		int r = fsc_lookup(H, files[d], &c);
		cr_assert(r == 0 || r == FSC_UNCACHED, "%s: %d", files[d], r);
		is_cached[d] = r == 0;
		cached += r == 0;
		uncached += r == FSC_UNCACHED;
		fsct_write(files[d], "appended\n", 1);
		cr_assert_eq(fsc_stat(H, files[d], &c), 0);
		if (r == FSC_UNCACHED)
			cr_assert_eq(c.source, FSC_SOURCE_STAT);
	}
	fsct_sync(H);
	for (int d = 0; d < NDIRS; d++) {
		struct fsc_stat c;
		cr_assert_eq(fsc_stat(H, files[d], &c), 0);
		cr_assert(equals_stat(&c, files[d]),
			  "%s: stale answer (source "
			  "%d)",
			  files[d], c.source);
	}
	cr_assert_eq(cached, fit,
		     "%d paths cached with a limit of %d "
		     "watches, %d per path",
		     cached, LIMIT, per);
	cr_assert_eq(uncached, NDIRS - fit);
	cr_assert_geq(fsct_counter(H, FSC_CTR_WATCH_FAILURES),
		      (uint64_t)(NDIRS - fit));
	cr_assert_eq(fsct_counter(H, FSC_CTR_WATCHES), LIMIT);

	/* The inspector reports it. */
	json_t *j = inspect_json();
	json_t *ctr = json_object_get(j, "counters");
	cr_assert_not_null(ctr, "inspect --json has no counters");
	json_t *wf = json_object_get(ctr, "watch_failures");
	cr_assert(json_is_integer(wf), "no counters.watch_failures");
	cr_assert_geq(json_integer_value(wf), NDIRS - fit);
	json_decref(j);

	/* Release two watches: two of the others are served again. */
	int released = 0;
	for (int d = 0; d < NDIRS && released < 2; d++) {
		if (is_cached[d]) {
			cr_assert_eq(control(FSC_OP_UNWATCH, files[d]), 0);
			released++;
		}
	}
	fsct_sync(H);
	int now_cached = 0;
	for (int d = 0; d < NDIRS; d++) {
		struct fsc_stat c;
		if (fsc_lookup(H, files[d], &c) == 0) {
			now_cached++;
			cr_assert(equals_stat(&c, files[d]), "%s", files[d]);
		}
	}
	cr_assert_eq(now_cached, fit,
		     "after releasing 2 paths, %d paths "
		     "are cached",
		     now_cached);
	int st;
	cr_assert_eq(waitpid(W.pid, &st, WNOHANG), 0, "the writer died");
	fsct_writer_stop(&W);
}

/* ---- queue overflow under churn --------------------------------------- */

static int queued_events_limit(void)
{
	int v = 16384;
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 16384;
		fclose(f);
	}
	return v;
}

Test(limits, overflow_during_churn_every_entry_correct)
{
	enum {
		NDIRS = 5,
		PER = 10,
		N = NDIRS * PER
	};
	static char paths[N][PATH_MAX];
	for (int d = 0; d < NDIRS; d++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "o%d", d);
		cr_assert_eq(mkdir(fsct_path(&W, rel), 0755), 0);
		for (int k = 0; k < PER; k++) {
			snprintf(rel, sizeof(rel), "o%d/f%d", d, k);
			snprintf(paths[d * PER + k], PATH_MAX, "%s",
				 fsct_path(&W, rel));
			if (k % 3)
				fsct_write(paths[d * PER + k], "", 0);
		}
	}
	fsct_writer_start(&W, NULL);
	H = fsct_open(&W);
	for (int i = 0; i < N; i++)
		cr_assert_eq(control(FSC_OP_WATCH, paths[i]), 0);
	fsct_sync(H);

	int st;
	cr_assert_eq(kill(W.pid, SIGSTOP), 0);
	cr_assert_eq(waitpid(W.pid, &st, WUNTRACED), W.pid);
	cr_assert(WIFSTOPPED(st));
	int events = queued_events_limit() + 2000;
	unsigned rng = 777;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", fsct_path(&W, "tmp"));
	for (int i = 0; i < events; i++) { /* each op makes >= 1 event */
		rng = rng * 1103515245u + 12345u;
		const char *p = paths[(rng >> 8) % N];
		switch ((rng >> 20) % 5) {
		case 0:
			unlink(p);
			break;
		case 1:
			fsct_write(tmp, "renamed over\n", 0);
			cr_assert_eq(rename(tmp, p), 0);
			break;
		case 2:
			chmod(p, (rng >> 4) % 2 ? 0600 : 0644);
			/* fall through */
		default:
			fsct_write(p, "line\n", 1);
			break;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s", fsct_path(&W, "o0"));
	fsct_flood(H, tmp); /* fanotify merged the churn */
	cr_assert_eq(kill(W.pid, SIGCONT), 0);
	fsct_sync(H);
	cr_assert_geq(fsct_counter(H, FSC_CTR_OVERFLOWS), 1,
		      "no overflow was forced");
	for (int i = 0; i < N; i++) {
		struct fsc_stat c;
		int r = fsc_lookup(H, paths[i], &c);
		cr_assert_eq(r, 0, "%s: %d after the overflow", paths[i], r);
		cr_assert(equals_stat(&c, paths[i]),
			  "%s: stale after the "
			  "overflow",
			  paths[i]);
	}
	fsct_writer_stop(&W);
}

/* ---- a full table under churn ------------------------------------------ */

Test(limits, full_table_under_churn)
{
	enum {
		NDIRS = 4,
		PER = 50,
		N = NDIRS * PER,
		CAP = 16,
		ROUNDS = 30
	};
	static char paths[N][PATH_MAX];
	for (int d = 0; d < NDIRS; d++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "c%d", d);
		cr_assert_eq(mkdir(fsct_path(&W, rel), 0755), 0);
		for (int k = 0; k < PER; k++) {
			snprintf(rel, sizeof(rel), "c%d/f%02d", d, k);
			snprintf(paths[d * PER + k], PATH_MAX, "%s",
				 fsct_path(&W, rel));
		}
	}
	const char *extra[] = { "--capacity", "16", NULL };
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
	unsigned rng = 4242;
	long hits = 0, answers = 0;
	for (int round = 0; round < ROUNDS; round++) {
		/* Churn a random third of the files. */
		for (int i = 0; i < N / 3; i++) {
			rng = rng * 1103515245u + 12345u;
			const char *p = paths[(rng >> 8) % N];
			switch ((rng >> 20) % 4) {
			case 0:
				unlink(p);
				break;
			case 1:
				fsct_write(p, "", 0);
				break;
			default:
				fsct_write(p, "more\n", 1);
				break;
			}
		}
		fsct_sync(H);
		/* A reader polls all of them: misses teach the writer, which
		 * must evict to make room. */
		for (int i = 0; i < N; i++) {
			struct fsc_stat c;
			cr_assert_eq(fsc_stat(H, paths[i], &c), 0);
			cr_assert(equals_stat(&c, paths[i]),
				  "%s: round %d, "
				  "source %d",
				  paths[i], round, c.source);
			answers++;
			hits += c.source == FSC_SOURCE_CACHE;
		}
		fsct_sync(H);
		/* The table stays within bounds and every slot is sound. */
		struct fsc_header hdr;
		cr_assert_eq(fsc_header_read(H, &hdr), 0);
		cr_assert_leq(hdr.entry_count, hdr.max_entries);
		cr_assert_leq(hdr.max_entries, CAP);
		uint32_t used = 0;
		for (uint32_t s = 0; s < fsc_slot_count(H); s++) {
			char p[PATH_MAX];
			struct fsc_stat c;
			int r = fsc_slot_read(H, s, p, sizeof(p), &c, NULL);
			cr_assert(r == 0 || r == FSC_MISS, "slot %u: %d", s, r);
			if (r == 0) {
				used++;
				cr_assert(equals_stat(&c, p),
					  "slot %u (%s) "
					  "stale",
					  s, p);
			}
		}
		cr_assert_eq(used, hdr.entry_count);
		/* The last paths polled were the last misses: cached now. */
		for (int i = N - 8; i < N; i++) {
			struct fsc_stat c;
			int r = fsc_lookup(H, paths[i], &c);
			cr_assert(r == 0 || r == FSC_MISS, "%s: %d", paths[i],
				  r);
			if (r == 0) {
				hits++;
				cr_assert(equals_stat(&c, paths[i]),
					  "%s: stale "
					  "hit",
					  paths[i]);
			}
		}
		/* Evicted paths give their watches back: one per directory
		 * (and with fanotify one per file cached). */
		int shared = 0; /* the directories above, watched once */
		for (const char *s = W.dir; *s; s++)
			shared += *s == '/';
		cr_assert_leq(hdr.counters[FSC_CTR_WATCHES] -
				      hdr.counters[FSC_CTR_FILE_MARKS],
			      (uint64_t)(NDIRS + shared));
		cr_assert_leq(hdr.counters[FSC_CTR_FILE_MARKS],
			      hdr.counters[FSC_CTR_PATHS]);
		cr_assert_leq(hdr.counters[FSC_CTR_PATHS], CAP);
	}
	cr_assert_gt(fsct_counter(H, FSC_CTR_EVICTIONS), (uint64_t)N);
	cr_assert_gt(hits, 0, "nothing was ever served from the cache");
	cr_log_info("%ld answers, %ld from the cache, %llu evictions", answers,
		    hits,
		    (unsigned long long)fsct_counter(H, FSC_CTR_EVICTIONS));
	int st;
	cr_assert_eq(waitpid(W.pid, &st, WNOHANG), 0, "the writer died");
	fsct_writer_stop(&W);
}
