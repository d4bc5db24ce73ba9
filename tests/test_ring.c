/*
 * test_ring.c - the request ring (format.h, "The request ring"): readers
 * queue their misses in shared memory, the writer collects them.
 *
 *   - many reader processes at once: every request a reader queued (not
 *     dropped) is served once a sync returns; drops are counted, in the
 *     handle and in the ring's header, and agree;
 *   - a reader killed mid-write (a slot claimed, never published) neither
 *     wedges the writer nor loses the requests queued after it, and its
 *     slot comes back for the next lap;
 *   - hostile slot contents (bad position, length, NUL, key, hash; head
 *     moved anywhere) are refused and counted, and change nothing;
 *   - a group-shared ring is judged by the other-user rules: only paths
 *     under the allowed prefixes, while the owner's own reader keeps the
 *     socket (and so its rights).
 *
 * No timing: the sync barrier, and for the stuck slot a wait for the
 * event itself with a hang guard.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define GUARD_MS 60000

static struct fsct_writer W;
static fsc_handle *H;

TestSuite(ring, .init = NULL, .fini = NULL);

static void fini(void)
{
	fsct_fixture_fini(&W, &H);
}

static void start(const char *const *extra)
{
	fsct_fixture_init(&W, &H);
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
}

/* The ring, mapped read-write as any reader allowed to write it. */
struct ring {
	struct fsc_req_header *h;
	size_t size;
	uint32_t n, slot_size, path_max;
	uint64_t seed;
};

static struct ring map_ring(void)
{
	char shm[FSC_SHM_NAME_SIZE];
	struct stat st;
	struct ring r;
	fsc_shm_name(shm, sizeof(shm), W.name, FSC_OBJ_REQ);
	int fd = shm_open(shm, O_RDWR, 0);
	cr_assert_geq(fd, 0, "shm_open(%s): %s", shm, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	r.size = (size_t)st.st_size;
	r.h = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert(r.h != MAP_FAILED);
	close(fd);
	cr_assert_eq(r.h->magic, FSC_REQ_MAGIC);
	r.n = r.h->ring_slots;
	r.slot_size = r.h->slot_size;
	r.path_max = r.slot_size - FSC_REQ_SLOT_FIXED;
	fsc_shm_name(shm, sizeof(shm), W.name, FSC_OBJ_TABLE);
	fd = shm_open(shm, O_RDONLY, 0);
	cr_assert_geq(fd, 0);
	struct fsc_header hd;
	cr_assert_eq(pread(fd, &hd, sizeof(hd), 0), (ssize_t)sizeof(hd));
	close(fd);
	r.seed = hd.hash_seed;
	cr_assert_eq(r.h->epoch, hd.epoch);
	return r;
}

static struct fsc_req_slot *slot(const struct ring *r, uint32_t pos)
{
	return (struct fsc_req_slot *)(void *)((char *)r->h +
					       FSC_REQ_HEADER_SIZE +
					       (size_t)(pos & (r->n - 1)) *
						       r->slot_size);
}

/* Claim the next position as a reader does; returns it. */
static uint32_t claim(const struct ring *r)
{
	for (;;) {
		uint32_t pos = __atomic_load_n(&r->h->head, __ATOMIC_ACQUIRE);
		cr_assert_eq(__atomic_load_n(&slot(r, pos)->seq,
					     __ATOMIC_ACQUIRE),
			     pos, "the ring is not free at %u", pos);
		if (__atomic_compare_exchange_n(&r->h->head, &pos, pos + 1, 0,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return pos;
	}
}

/* Fill a claimed slot with exactly these fields and bytes. */
static void fill(const struct ring *r, uint32_t pos, uint32_t spos,
		 uint32_t len, uint64_t hash, const void *bytes, size_t n)
{
	struct fsc_req_slot *s = slot(r, pos);
	s->pos = spos;
	s->path_len = len;
	s->hash = hash;
	memset((char *)s + FSC_REQ_SLOT_FIXED, 'x', r->path_max);
	memcpy((char *)s + FSC_REQ_SLOT_FIXED, bytes, n);
}

static void publish(const struct ring *r, uint32_t pos)
{
	__atomic_store_n(&slot(r, pos)->seq, pos + 1, __ATOMIC_SEQ_CST);
}

/* Queue `path` as a well-behaved reader would, directly. */
static void queue(const struct ring *r, const char *path)
{
	uint32_t pos = claim(r);
	size_t len = strlen(path);
	fill(r, pos, pos, (uint32_t)len,
	     XXH3_64bits_withSeed(path, len, r->seed), path, len + 1);
	publish(r, pos);
}

static int cached(const char *path)
{
	struct fsc_stat c;
	return fsc_lookup(H, path, &c) == 0;
}

/* ---- many readers ------------------------------------------------------ */

#define KIDS 8
#define PER_KID 400

Test(ring, many_reader_processes_no_request_lost, .fini = fini)
{
	const char *extra[] = { "--capacity", "8192", NULL };
	start(extra);
	/* One flag per request, written by the kid that queued it. */
	int *ok = mmap(NULL, KIDS * PER_KID * sizeof(int),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		       0);
	uint64_t *dropped = mmap(NULL, KIDS * sizeof(uint64_t),
				 PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(ok != MAP_FAILED && dropped != MAP_FAILED);
	pid_t pid[KIDS];
	for (int k = 0; k < KIDS; k++) {
		pid[k] = fork();
		cr_assert_geq(pid[k], 0);
		if (pid[k])
			continue;
		fsc_handle *h = NULL;
		if (fsc_open(&h, W.name, FSC_OPEN_ATTACHED) < 0)
			_exit(1);
		for (int i = 0; i < PER_KID; i++) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/k%d.%d", W.dir, k, i);
			struct fsc_stat c;
			uint64_t before = fsc_requests_dropped(h);
			if (fsc_stat(h, p, &c) != 0 || c.exists)
				_exit(2);
			ok[k * PER_KID + i] = fsc_requests_dropped(h) == before;
		}
		dropped[k] = fsc_requests_dropped(h);
		fsc_close(h);
		_exit(0);
	}
	for (int k = 0; k < KIDS; k++) {
		int st;
		cr_assert_eq(waitpid(pid[k], &st, 0), pid[k]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "reader %d: status 0x%x", k, st);
	}
	fsct_sync(H);
	struct ring r = map_ring();
	uint64_t queued = 0, drops = 0;
	for (int k = 0; k < KIDS; k++) {
		drops += dropped[k];
		for (int i = 0; i < PER_KID; i++) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/k%d.%d", W.dir, k, i);
			if (!ok[k * PER_KID + i])
				continue;
			queued++;
			cr_assert(cached(p), "%s was queued but not served", p);
		}
	}
	cr_assert_eq(queued + drops, KIDS * PER_KID);
	cr_assert_eq(r.h->dropped, drops,
		     "ring says %llu dropped, readers %llu",
		     (unsigned long long)r.h->dropped,
		     (unsigned long long)drops);
	cr_assert_geq(r.h->taken, queued);
	cr_log_info("%llu requests queued, %llu dropped, %llu doorbells",
		    (unsigned long long)queued, (unsigned long long)drops,
		    (unsigned long long)r.h->rung);
	munmap(r.h, r.size);
	munmap(ok, KIDS * PER_KID * sizeof(int));
	munmap(dropped, KIDS * sizeof(uint64_t));
}

/* A full ring drops at once (no waiting) and says so. */
Test(ring, full_ring_drops_and_counts, .fini = fini)
{
	start(NULL);
	struct ring r = map_ring();
	/* A stuck slot at the head holds the ring for a lap: fill the rest
	 * with claims nobody publishes, so the next request finds it full. */
	uint32_t first = claim(&r);
	for (uint32_t i = 1; i < r.n; i++)
		claim(&r);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/full", W.dir);
	struct fsc_stat c;
	uint64_t before = fsc_requests_dropped(H);
	cr_assert_eq(fsc_stat(H, p, &c), 0);
	cr_assert_eq(fsc_requests_dropped(H), before + 1);
	cr_assert_eq(r.h->dropped, 1);
	/* An explicit request keeps its contract: the socket, not a drop. */
	cr_assert_eq(fsc_request_watch(H, p), 0);
	fsct_sync(H);
	cr_assert(cached(p));
	(void)first;
	munmap(r.h, r.size);
}

/* ---- a reader killed mid-write ------------------------------------------- */

Test(ring, killed_reader_mid_write_wedges_nothing, .fini = fini)
{
	start(NULL);
	struct ring r = map_ring();
	/* The dead reader: claimed, half written, never published. */
	uint32_t dead = claim(&r);
	fill(&r, dead, dead, 5, 0, "/half", 5);
	/* Another reader's request after it is served, intact, by a sync. */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/after-the-dead-one", W.dir);
	struct fsc_stat c;
	cr_assert_eq(fsc_stat(H, p, &c), 0);
	cr_assert_eq(fsc_requests_dropped(H), 0);
	fsct_sync(H);
	cr_assert(cached(p), "a request behind a stuck slot was not served");
	/* The stuck slot is given up (FSC_REQ_STUCK_MS), so the ring's room
	 * comes back: the writer frees it for the next lap.  Wait for that
	 * event (the guard only stops a hang). */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (__atomic_load_n(&slot(&r, dead)->seq, __ATOMIC_ACQUIRE) !=
	       dead + r.n) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		cr_assert_lt((t.tv_sec - t0.tv_sec) * 1000, GUARD_MS,
			     "the stuck slot was never given up");
		poll(NULL, 0, 10);
	}
	/* The dead reader waking up now cannot publish over the next lap. */
	uint32_t expect = dead;
	cr_assert_not(__atomic_compare_exchange_n(&slot(&r, dead)->seq, &expect,
						  dead + 1, 0, __ATOMIC_SEQ_CST,
						  __ATOMIC_SEQ_CST));
	/* A full lap more of requests goes through that slot. */
	for (uint32_t i = 0; i < r.n + 1; i++) {
		snprintf(p, sizeof(p), "%s/lap%u", W.dir, i);
		queue(&r, p);
		if (i % 64 == 63)
			fsct_sync(H);
	}
	fsct_sync(H);
	for (uint32_t i = 0; i < r.n + 1; i++) {
		snprintf(p, sizeof(p), "%s/lap%u", W.dir, i);
		cr_assert(cached(p), "%s lost", p);
	}
	munmap(r.h, r.size);
}

/* ---- hostile contents ---------------------------------------------------- */

Test(ring, hostile_slots_refused_and_counted, .fini = fini)
{
	start(NULL);
	struct ring r = map_ring();
	fsct_sync(H);
	uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
	char good[PATH_MAX], dotdot[PATH_MAX], rel[] = "relative/path";
	snprintf(good, sizeof(good), "%s/good", W.dir);
	snprintf(dotdot, sizeof(dotdot), "%s/../%s/x", W.dir,
		 strrchr(W.dir, '/') + 1);
	size_t gl = strlen(good), dl = strlen(dotdot);
	uint64_t gh = XXH3_64bits_withSeed(good, gl, r.seed);
	uint64_t dh = XXH3_64bits_withSeed(dotdot, dl, r.seed);
	char nul[PATH_MAX];
	memcpy(nul, good, gl + 1);
	nul[3] = '\0';
	int bad = 0;
	uint32_t pos;
	/* wrong position */
	pos = claim(&r), fill(&r, pos, pos + 7, (uint32_t)gl, gh, good, gl + 1);
	publish(&r, pos), bad++;
	/* length at path_max, and beyond */
	pos = claim(&r), fill(&r, pos, pos, r.path_max, gh, good, gl + 1);
	publish(&r, pos), bad++;
	pos = claim(&r), fill(&r, pos, pos, 0xffffffffu, gh, good, gl + 1);
	publish(&r, pos), bad++;
	/* no NUL after the path (length one short) */
	pos = claim(&r), fill(&r, pos, pos, (uint32_t)gl - 1, gh, good, gl + 1);
	publish(&r, pos), bad++;
	/* a NUL inside */
	pos = claim(&r), fill(&r, pos, pos, (uint32_t)gl, gh, nul, gl + 1);
	publish(&r, pos), bad++;
	/* not canonical, and relative (with their right hashes) */
	pos = claim(&r), fill(&r, pos, pos, (uint32_t)dl, dh, dotdot, dl + 1);
	publish(&r, pos), bad++;
	pos = claim(&r), fill(&r, pos, pos, (uint32_t)strlen(rel),
			      XXH3_64bits_withSeed(rel, strlen(rel), r.seed),
			      rel, strlen(rel) + 1);
	publish(&r, pos), bad++;
	/* wrong hash (a torn slot) */
	pos = claim(&r), fill(&r, pos, pos, (uint32_t)gl, gh ^ 1, good, gl + 1);
	publish(&r, pos), bad++;
	/* a sequence word from nowhere, at a position not claimed */
	slot(&r, r.h->head + 3)->seq = 12345;
	fsct_sync(H);
	cr_assert_eq(fsct_counter(H, FSC_CTR_REQUESTS_REFUSED), refused + bad);
	cr_assert_not(cached(good), "a hostile slot was acted on");
	cr_assert_not(cached(dotdot));
	/* head moved anywhere: behind the tail, then far ahead */
	uint32_t head = r.h->head;
	__atomic_store_n(&r.h->head, head - 100, __ATOMIC_SEQ_CST);
	fsct_sync(H);
	__atomic_store_n(&r.h->head, head + 100000, __ATOMIC_SEQ_CST);
	fsct_sync(H);
	/* The writer still serves, by the socket and by the ring. */
	__atomic_store_n(&r.h->head, head, __ATOMIC_SEQ_CST);
	for (uint32_t i = head; i != head + r.n; i++) /* repair our mess */
		slot(&r, i)->seq = i;
	fsct_control_ok(H, FSC_OP_WATCH, good);
	cr_assert(cached(good));
	munmap(r.h, r.size);
}

/* ---- other users ----------------------------------------------------------- */

/* The owner's miss of `path` is served, and not through the ring `r`. */
static void expect_owner_miss_by_socket(const struct ring *r, const char *path)
{
	struct fsc_stat c;
	uint64_t taken = r->h->taken;
	cr_assert_eq(fsc_stat(H, path, &c), 0);
	fsct_sync(H);
	cr_assert(cached(path), "the owner's miss was judged as another's");
	cr_assert_eq(r->h->taken, taken, "the owner's reader used the ring");
}

Test(ring, shared_ring_applies_other_user_rules, .fini = fini)
{
	fsct_fixture_init(&W, &H);
	char conf[PATH_MAX], ok[PATH_MAX], no[PATH_MAX], mine[PATH_MAX];
	snprintf(conf, sizeof(conf), "%s", fsct_path(&W, "fstatcache.conf"));
	snprintf(ok, sizeof(ok), "%s", fsct_path(&W, "allowed/a.log"));
	snprintf(no, sizeof(no), "%s", fsct_path(&W, "private/b.log"));
	snprintf(mine, sizeof(mine), "%s", fsct_path(&W, "private/mine.log"));
	char text[PATH_MAX + 32];
	snprintf(text, sizeof(text), "allow = %s\n", fsct_path(&W, "allowed"));
	fsct_write(conf, text, 0);
	/* Other users' paths are cached only where anyone may search
	 * (SERVICE.md, "Other users' paths"): the test's 0700 directory
	 * would make the allowed path private. */
	cr_assert_eq(chmod(W.dir, 0755), 0);
	const char *extra[] = { "--group-readable", "--config", conf, NULL };
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
	struct ring r = map_ring();
	cr_assert(r.h->flags & FSC_REQ_F_CHECKED);
	fsct_sync(H);
	uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
	queue(&r, ok);
	queue(&r, no);
	fsct_sync(H);
	cr_assert(cached(ok), "an allowed ring request was not served");
	cr_assert_not(cached(no), "a ring request outside the allowed "
				  "prefixes was served");
	cr_assert_eq(fsct_counter(H, FSC_CTR_REQUESTS_REFUSED), refused + 1);
	/* The owner's reader keeps its rights: its miss goes by the socket. */
	expect_owner_miss_by_socket(&r, mine);
	munmap(r.h, r.size);
}

/*
 * A reload that shares the segment with a group flags the ring as judged
 * by the other-user rules; the owner's reader, which mapped the ring
 * while it was private, must then send its misses on the socket (which
 * allows it every path), not into a ring where they would be refused.
 */
Test(ring, a_reload_that_shares_the_ring_sends_the_owner_to_the_socket,
     .fini = fini)
{
	fsct_fixture_init(&W, &H);
	char conf[PATH_MAX], first[PATH_MAX], mine[PATH_MAX];
	snprintf(conf, sizeof(conf), "%s", fsct_path(&W, "fstatcache.conf"));
	snprintf(first, sizeof(first), "%s", fsct_path(&W, "first.log"));
	snprintf(mine, sizeof(mine), "%s", fsct_path(&W, "mine.log"));
	fsct_write(first, "1\n", 0);
	fsct_write(mine, "2\n", 0);
	fsct_write(conf, "segment_mode = 0600\n", 0);
	const char *extra[] = { "--config", conf, NULL };
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
	struct ring r = map_ring();
	cr_assert_not(r.h->flags & FSC_REQ_F_CHECKED);
	struct fsc_stat c;
	cr_assert_eq(fsc_stat(H, first, &c), 0); /* maps the ring */
	fsct_sync(H);
	cr_assert(cached(first));
	cr_assert_geq(r.h->taken, 1, "the owner's miss did not use the ring");
	fsct_write(conf, "segment_mode = 0640\n", 0);
	cr_assert_eq(kill(W.pid, SIGHUP), 0);
	/* Wait for the writer to flag the ring (a state, with a hang guard). */
	for (int i = 0; !(uatomic_read(&r.h->flags) & FSC_REQ_F_CHECKED); i++) {
		cr_assert_lt(i, GUARD_MS, "the reload never flagged the ring");
		poll(NULL, 0, 1);
	}
	expect_owner_miss_by_socket(&r, mine);
	munmap(r.h, r.size);
}
