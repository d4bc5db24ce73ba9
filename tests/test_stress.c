/*
 * test_stress.c - cross-process seqlock stress with self-checking entries.
 *
 * One "writer" child rewrites a fabricated segment as fast as it can
 * through the writer's real table code (fw_table_put/fw_table_remove in
 * writer/table.c: in-place rewrites, backward-shift moves, CLOCK and
 * probe-window evictions), while reader children look random keys up with
 * fsc_lookup().  Every field of an entry is derived from one per-write
 * counter c and the key number k (see record_for()), so a reader can tell
 * from its private copy alone whether all the fields it got come from one
 * write of that key:
 *
 *   torn      fields from different writes of the key (or values no write
 *             produces: a hit for a write that was NOCACHE or not-exists)
 *   foreign   fields written for another key
 *   regressed an older write of a key after a newer one, in one reader
 *             (a seqlock read is linearizable, so answers never go back)
 *   absent    a hit for a key never inserted
 *   falsemiss FSC_MISS for a key that was in the table for the whole
 *             lookup: a key moving under a probe (backward shift) must not
 *             look absent (header.table_gen).  The writer publishes, in a
 *             shared map outside the segment, per key a "present" flag it
 *             sets after each put and a "gone" count it bumps before each
 *             removal or eviction; a reader that saw present before its
 *             lookup and the same gone count around it knows the key was
 *             there throughout.
 *
 * All must be 0.  Misses and FSC_UNCACHED (retry budget spent on a busy
 * slot) are legitimate and only counted.  The run is bounded by counts:
 * each reader does a fixed number of lookups and reports on a pipe; the
 * writer does at least a fixed number of operations and stops when the
 * parent, having heard from every reader, tells it to.  No sleeps, no
 * timing.  FSC_STRESS_SCALE multiplies every count (meson's stress suite
 * runs 20).  At the end the parent checks the table against the writer's
 * own record of which write each key holds (a model check of table.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <fstatcache/admin.h>

#include "segment.h"
#include "table.h"

#define NREADERS 4
#define KEY_SIZE 96

/* ---- cleanup: objects we created, children we started ------------------ */

static char g_objects[4][96];
static int g_nobjects;
static pid_t g_children[NREADERS + 1];
static int g_nchildren;

static void cleanup(void)
{
	for (int i = 0; i < g_nchildren; i++) {
		if (g_children[i] > 0) {
			kill(g_children[i], SIGKILL);
			waitpid(g_children[i], NULL, 0);
		}
	}
	g_nchildren = 0;
	for (int i = 0; i < g_nobjects; i++)
		shm_unlink(g_objects[i]);
	g_nobjects = 0;
}

TestSuite(stress, .fini = cleanup);

static unsigned scale(void)
{
	const char *e = getenv("FSC_STRESS_SCALE");
	long v = e && *e ? strtol(e, NULL, 10) : 1;
	return v < 1 ? 1 : (unsigned)v;
}

static uint64_t mix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
	*s += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(*s);
}

/* ---- the self-checking payload ----------------------------------------- */

/* Write c of key k: c % 8 == 0 publishes "does not exist", c % 16 == 3
 * publishes a NOCACHE entry (readers answer FSC_UNCACHED for it). */
static int c_exists(uint64_t c)
{
	return c % 8 != 0;
}
static int c_nocache(uint64_t c)
{
	return c % 16 == 3;
}

static struct fw_record record_for(unsigned k, uint64_t c)
{
	struct fw_record r;
	memset(&r, 0, sizeof(r));
	r.flags = c_exists(c) ? FSC_ENT_EXISTS : 0;
	if (c_nocache(c)) {
		r.flags |= FSC_ENT_NOCACHE;
		r.reason = FSC_REASON_FSTYPE;
	}
	r.dev = mix64(k + 1);
	r.ino = (uint64_t)k * 1000003u ^ c;
	r.mode = S_IFREG | (uint32_t)(c & 0777);
	r.uid = (uint32_t)(c * 2654435761u);
	r.gid = 1000 + k;
	r.nlink = (uint32_t)(c ^ ((uint64_t)k << 20)); /* entries: 32 bits */
	r.rdev = (uint32_t)(r.dev ^ c);
	r.size = (int64_t)c;
	r.blocks = (int64_t)c * 7;
	r.mtime_sec = (int64_t)c;
	r.mtime_nsec = (uint32_t)(c % 1000000000u);
	r.ctime_sec = (int64_t)(c + k);
	r.ctime_nsec = (uint32_t)((c * 13) % 1000000000u);
	r.validated_ns = c;
	return r;
}

static int fields_equal(const struct fw_record *r, const struct fsc_stat *o)
{
	return o->dev == r->dev && o->ino == r->ino && o->mode == r->mode &&
	       o->uid == r->uid && o->gid == r->gid && o->nlink == r->nlink &&
	       o->rdev == r->rdev && o->size == r->size &&
	       o->blocks == r->blocks && o->mtime_sec == r->mtime_sec &&
	       o->mtime_nsec == r->mtime_nsec && o->ctime_sec == r->ctime_sec &&
	       o->ctime_nsec == r->ctime_nsec;
}

/* ---- one run's configuration and shared state --------------------------- */

struct params {
	const char *what;
	uint32_t capacity, path_max, probe_limit, max_entries;
	unsigned nstable;    /* keys 0..nstable-1: never removed by the test */
	unsigned nchurn;     /* the next nchurn keys: put and removed */
	unsigned remove_pct; /* share of churn operations that remove */
	int evictions;       /* 1: evictions expected, 0: must not happen */
	unsigned lookups;    /* per reader, before scaling */
	unsigned min_ops;    /* writer operations at least, before scaling */
};

struct counts {
	uint32_t reader;
	uint32_t open_err;
	uint64_t lookups, hits, hits_enoent, misses, uncached, errors;
	uint64_t torn, foreign, regressed, absent, falsemiss;
	uint64_t quiet_hits, quiet_bad;
};

struct wstats {
	uint64_t ops, puts, removes, evicted, final_c;
	uint32_t status; /* 0 ok; else what failed */
};

struct run {
	const struct params *p;
	char name[FSC_NAME_MAX + 1];
	char shm[96], use_shm[96];
	unsigned char *base;
	size_t size;
	uint8_t *use_base;
	size_t use_size;
	struct fw_table t;
	unsigned nkeys;
	char (*keys)[KEY_SIZE];
	char (*absent)[KEY_SIZE];
	/* MAP_SHARED, outside the segment, written by the writer only: */
	uint64_t *truth;   /* the write each key holds, 0 if none */
	uint32_t *gone;    /* bumped before the key leaves the table */
	uint32_t *present; /* 1 once a put of the key has returned */
	size_t shared_size;
	uint64_t seed;
};

static void key_path(char *buf, unsigned k)
{
	static const char pad[] = "abcdefghijklmnopqrstuvwxyz0123456789"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	/* Lengths 10..70: keys of different sizes replace each other in place
	 * and move over each other, which exercises the NUL-padding rule. */
	snprintf(buf, KEY_SIZE, "/stress/%u-%.*s", k, (int)((k * 13) % 60),
		 pad);
}

static int key_number(const char *path, uint32_t len, unsigned *k)
{
	char buf[KEY_SIZE];
	if (len >= sizeof(buf) || len < 9 || memcmp(path, "/stress/", 8))
		return -1;
	memcpy(buf, path, len);
	buf[len] = 0;
	char *end;
	unsigned long v = strtoul(buf + 8, &end, 10);
	if (*end != '-')
		return -1;
	*k = (unsigned)v;
	return 0;
}

static int make_object(const char *shm, size_t size, void **out)
{
	int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	snprintf(g_objects[g_nobjects++], sizeof(g_objects[0]), "%s", shm);
	int err = 0;
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0)
		err = -errno;
	if (!err) {
		*out = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			    0);
		if (*out == MAP_FAILED)
			err = -errno;
	}
	close(fd);
	return err;
}

static void run_setup(struct run *r, const struct params *p, uint64_t seed)
{
	static unsigned counter;
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->seed = seed;
	snprintf(r->name, sizeof(r->name), "t-stress-%ld-%u", (long)getpid(),
		 counter++);
	fsc_shm_name(r->shm, sizeof(r->shm), r->name, 0);
	fsc_shm_name(r->use_shm, sizeof(r->use_shm), r->name, 1);

	r->size = FSC_HEADER_SIZE +
		  (size_t)p->capacity * FSC_ENTRY_SIZE(p->path_max);
	void *b;
	int err = make_object(r->shm, r->size, &b);
	cr_assert_eq(err, 0, "%s: %s", r->shm, strerror(-err));
	r->base = b;
	r->use_size = FSC_USE_HEADER_SIZE + p->capacity;
	err = make_object(r->use_shm, r->use_size, &b);
	cr_assert_eq(err, 0, "%s: %s", r->use_shm, strerror(-err));
	r->use_base = b;

	struct fsc_header *h = (struct fsc_header *)r->base;
	struct fw_segment_params sp = {
		.capacity = p->capacity,
		.max_entries = p->max_entries,
		.path_max = p->path_max,
		.probe_limit = p->probe_limit,
		.socket_path = "/nonexistent/sock",
	};
	fw_segment_format(h, &sp, r->size);
	h->hash_seed = mix64(seed ^ 0x5eed); /* reproducible from the seed */
	h->epoch = mix64(seed ^ 0xe90c);
	struct fsc_use_header *u = (struct fsc_use_header *)r->use_base;
	u->magic = FSC_USE_MAGIC;
	u->epoch = h->epoch;
	u->slot_count = p->capacity;
	cr_assert_eq(fw_table_bind(&r->t, h, r->use_base + FSC_USE_HEADER_SIZE),
		     0);

	r->nkeys = p->nstable + p->nchurn;
	r->keys = calloc(r->nkeys, KEY_SIZE);
	r->absent = calloc(r->nkeys, KEY_SIZE);
	cr_assert(r->keys && r->absent);
	for (unsigned k = 0; k < r->nkeys; k++) {
		key_path(r->keys[k], k);
		snprintf(r->absent[k], KEY_SIZE, "/stress/absent/%u", k);
	}
	r->shared_size = r->nkeys * (sizeof(uint64_t) + 2 * sizeof(uint32_t));
	void *sh = mmap(NULL, r->shared_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(sh, MAP_FAILED);
	r->truth = sh;
	r->gone = (uint32_t *)(r->truth + r->nkeys);
	r->present = r->gone + r->nkeys;

	cmm_smp_wmb(); /* geometry before status, as a real writer does */
	h->writer_alive =
		((uint32_t)syscall(SYS_gettid) & FSC_WRITER_TID_MASK) | 1u;
	h->status = FSC_STATUS_SERVING;
}

static void run_teardown(struct run *r)
{
	munmap(r->truth, r->shared_size);
	free(r->keys);
	free(r->absent);
	munmap(r->base, r->size);
	munmap(r->use_base, r->use_size);
}

/* ---- the writer child ----------------------------------------------------- */

/* Before key k leaves the table (removal or eviction). */
static void key_leaving(struct run *r, unsigned k)
{
	uatomic_set(&r->present[k], 0);
	cmm_smp_wmb(); /* a reader that sees the new count sees present 0 */
	uatomic_set(&r->gone[k], r->gone[k] + 1);
	cmm_smp_mb(); /* the count before any table change a reader can see */
	r->truth[k] = 0;
}

static void on_evict(void *ctx, const char *path, uint32_t len)
{
	struct run *r = ctx;
	unsigned k;
	if (key_number(path, len, &k) == 0 && k < r->nkeys)
		key_leaving(r, k);
	else
		r->truth[0] = UINT64_MAX; /* poison: unknown key evicted */
}

static void writer_put(struct run *r, unsigned k, uint64_t c, struct wstats *ws)
{
	struct fw_record rec = record_for(k, c);
	int64_t slot = fw_table_put(&r->t, r->keys[k],
				    (uint32_t)strlen(r->keys[k]), &rec,
				    on_evict, r);
	if (slot < 0)
		ws->status = 1;
	r->truth[k] = c;
	cmm_smp_wmb(); /* the entry is published before `present` says so */
	uatomic_set(&r->present[k], 1);
	ws->puts++;
}

static int stop_asked(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	return poll(&pf, 1, 0) > 0;
}

static void writer_main(struct run *r, int go_fd, int stop_fd, int out_fd,
			uint64_t c)
{
	struct wstats ws;
	memset(&ws, 0, sizeof(ws));
	char b;
	if (read(go_fd, &b, 1) != 1) /* the parent gave up */
		_exit(3);
	const struct params *p = r->p;
	uint64_t rng = r->seed ^ 0x3717e5;
	uint64_t min_ops = (uint64_t)p->min_ops * scale();
	uint64_t evictions0 = r->t.hdr->counters[FSC_CTR_EVICTIONS];
	for (;;) {
		if (ws.ops % 256 == 0 && ws.ops >= min_ops &&
		    stop_asked(stop_fd))
			break;
		uint64_t x = rng_next(&rng);
		if (p->nstable && (x & 3) == 0) {
			writer_put(r, (unsigned)((x >> 8) % p->nstable), ++c,
				   &ws);
		} else {
			unsigned k =
				p->nstable + (unsigned)((x >> 8) % p->nchurn);
			if ((x >> 40) % 100 < p->remove_pct) {
				uint32_t len = (uint32_t)strlen(r->keys[k]);
				int had = r->truth[k] != 0;
				key_leaving(r, k);
				int rc =
					fw_table_remove(&r->t, r->keys[k], len);
				if (rc == 0 && !had)
					ws.status =
						2; /* removed a key it lacked */
				if (rc == -ENOENT && had)
					ws.status = 3; /* lost a key it had */
				ws.removes++;
			} else {
				writer_put(r, k, ++c, &ws);
			}
		}
		ws.ops++;
	}
	ws.evicted = r->t.hdr->counters[FSC_CTR_EVICTIONS] - evictions0;
	ws.final_c = c;
	if (r->truth[0] == UINT64_MAX)
		ws.status = 4;
	if (write(out_fd, &ws, sizeof(ws)) != (ssize_t)sizeof(ws))
		_exit(2);
	_exit(0);
}

/* ---- the reader children -------------------------------------------------- */

/* Check one lookup answer for key k; `last` is this reader's latest c. */
static void check_answer(const struct run *r, unsigned k, int rc,
			 const struct fsc_stat *o, int was_present,
			 uint64_t *last, struct counts *n)
{
	n->lookups++;
	if (rc == FSC_MISS) {
		n->misses++;
		if (was_present)
			n->falsemiss++;
		return;
	}
	if (rc == FSC_UNCACHED) {
		n->uncached++;
		return;
	}
	if (rc != 0) {
		n->errors++;
		return;
	}
	n->hits++;
	if (o->source != FSC_SOURCE_CACHE) {
		n->torn++;
		return;
	}
	if (!o->exists) {
		/* Only the flags speak for a cached "does not exist". */
		n->hits_enoent++;
		if (o->err != ENOENT)
			n->torn++;
		return;
	}
	uint64_t c = (uint64_t)o->size;
	if (o->size <= 0) {
		n->torn++;
		return;
	}
	if (o->gid != 1000 + k) {
		/* One whole write of another key, or a mix of anything. */
		uint32_t j = o->gid - 1000;
		struct fw_record other = record_for(j, c);
		if (o->gid >= 1000 && j < r->nkeys && fields_equal(&other, o))
			n->foreign++;
		else
			n->torn++;
		return;
	}
	struct fw_record want = record_for(k, c);
	if (!c_exists(c) || c_nocache(c) || !fields_equal(&want, o)) {
		n->torn++;
		return;
	}
	if (c < last[k])
		n->regressed++;
	last[k] = c;
}

static void reader_main(struct run *r, unsigned id, int ready_fd, int out_fd)
{
	struct counts n;
	memset(&n, 0, sizeof(n));
	n.reader = id;
	fsc_handle *h = NULL;
	int rc = fsc_open(&h, r->name, FSC_OPEN_ATTACHED);
	uint64_t *last = calloc(r->nkeys, sizeof(uint64_t));
	if (rc < 0 || !last) {
		n.open_err = (uint32_t)-rc;
		(void)!write(ready_fd, "x", 1);
		(void)!write(out_fd, &n, sizeof(n));
		_exit(1);
	}
	/* Quiet phase: the writer has not started; every key in the table
	 * must answer exactly the write the parent made. */
	for (unsigned k = 0; k < r->nkeys; k++) {
		struct fsc_stat o;
		rc = fsc_lookup(h, r->keys[k], &o);
		uint64_t c = r->truth[k];
		struct fw_record want = record_for(k, c);
		int ok;
		if (c == 0)
			ok = rc == FSC_MISS;
		else if (c_nocache(c))
			ok = rc == FSC_UNCACHED;
		else if (!c_exists(c))
			ok = rc == 0 && !o.exists;
		else
			ok = rc == 0 && o.exists && fields_equal(&want, &o);
		n.quiet_hits += rc == 0;
		n.quiet_bad += !ok;
		if (rc == 0 && o.exists)
			last[k] = (uint64_t)o.size;
	}
	if (write(ready_fd, "r", 1) != 1)
		_exit(2);

	uint64_t rng = r->seed ^ mix64(id + 1);
	uint64_t total = (uint64_t)r->p->lookups * scale();
	for (uint64_t i = 0; i < total; i++) {
		uint64_t x = rng_next(&rng);
		unsigned k = (unsigned)((x >> 8) % r->nkeys);
		struct fsc_stat o;
		if ((x & 15) == 0) {
			rc = fsc_lookup(h, r->absent[k], &o);
			n.lookups++;
			if (rc == 0)
				n.absent++;
			else if (rc < 0)
				n.errors++;
			continue;
		}
		uint32_t g1 = uatomic_read(&r->gone[k]);
		cmm_smp_rmb(); /* pairs with the wmb in key_leaving() */
		uint32_t pres = uatomic_read(&r->present[k]);
		cmm_smp_rmb(); /* pairs with the wmb in writer_put() */
		rc = fsc_lookup(h, r->keys[k], &o);
		cmm_smp_rmb(); /* pairs with the mb in key_leaving() */
		uint32_t g2 = uatomic_read(&r->gone[k]);
		check_answer(r, k, rc, &o, pres && g1 == g2, last, &n);
	}
	fsc_close(h);
	free(last);
	if (write(out_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		_exit(2);
	_exit(0);
}

/* ---- the parent ------------------------------------------------------------ */

static pid_t spawn(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Never outlive a failed test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(9);
		return 0;
	}
	g_children[g_nchildren++] = pid;
	return pid;
}

static void reap_all(void)
{
	for (int i = 0; i < g_nchildren; i++) {
		int st = 0;
		pid_t pid = g_children[i];
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		g_children[i] = 0;
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "child %d (%s) ended with status %#x", (int)pid,
			  i == 0 ? "writer" : "reader", st);
	}
	g_nchildren = 0;
}

static void xpipe(int fds[2])
{
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
}

/* Fill the table before any child starts; returns the last write number. */
static uint64_t populate(struct run *r)
{
	uint64_t c = 0;
	struct wstats ws;
	memset(&ws, 0, sizeof(ws));
	/* Churn keys first, so stable keys start displaced by keys that
	 * will be removed, and move back under the readers. */
	for (unsigned i = 0; i < r->nkeys; i++) {
		unsigned k = (i + r->p->nstable) % r->nkeys;
		writer_put(r, k, ++c, &ws);
		cr_assert_eq(ws.status, 0);
	}
	cr_assert_neq(r->truth[0], UINT64_MAX);
	for (unsigned k = 0; k < r->p->nstable; k++)
		cr_assert_neq(r->truth[k], 0, "stable key %u evicted", k);
	return c;
}

/* After the writer stopped: the table holds exactly what the writer says. */
static void check_final_table(struct run *r)
{
	fsc_handle *h = NULL;
	cr_assert_eq(fsc_open(&h, r->name, FSC_OPEN_ATTACHED), 0);
	unsigned present = 0;
	for (unsigned k = 0; k < r->nkeys; k++) {
		struct fsc_stat o;
		uint64_t c = r->truth[k];
		int rc = fsc_lookup(h, r->keys[k], &o);
		if (c == 0) {
			cr_assert_eq(rc, FSC_MISS,
				     "%s: key %u should be gone: %d",
				     r->p->what, k, rc);
			continue;
		}
		present++;
		if (c_nocache(c)) {
			cr_assert_eq(rc, FSC_UNCACHED);
			continue;
		}
		cr_assert_eq(rc, 0, "%s: key %u (write %" PRIu64 "): %d",
			     r->p->what, k, c, rc);
		cr_assert_eq(o.exists, c_exists(c));
		if (o.exists) {
			struct fw_record want = record_for(k, c);
			cr_assert(
				fields_equal(&want, &o),
				"%s: key %u: final fields are not write %" PRIu64,
				r->p->what, k, c);
		}
	}
	struct fsc_header hc;
	cr_assert_eq(fsc_header_read(h, &hc), 0);
	cr_assert_eq(hc.entry_count, present, "%s: entry_count %u, keys %u",
		     r->p->what, hc.entry_count, present);
	cr_assert_leq(hc.entry_count, r->p->max_entries);
	cr_assert_eq(hc.table_gen % 2, 0);
	fsc_close(h);
}

/* The pipes between the parent and its children. */
struct pipes {
	int ready[2];   /* readers -> parent: quiet phase checked */
	int results[2]; /* readers -> parent: struct counts */
	int go[2];      /* parent -> writer: start */
	int stop[2];    /* parent -> writer: every reader is done */
	int wout[2];    /* writer -> parent: struct wstats */
};

static void close_pair(int fds[2])
{
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	fds[0] = fds[1] = -1;
}

/* Fork the writer (waiting for "go") and the readers; keep our ends. */
static void start_children(struct run *r, struct pipes *pp, uint64_t c)
{
	xpipe(pp->ready);
	xpipe(pp->results);
	xpipe(pp->go);
	xpipe(pp->stop);
	xpipe(pp->wout);
	if (spawn() == 0) {
		close_pair(pp->ready);
		close_pair(pp->results);
		close(pp->go[1]);
		close(pp->stop[1]);
		close(pp->wout[0]);
		writer_main(r, pp->go[0], pp->stop[0], pp->wout[1], c);
	}
	for (unsigned i = 0; i < NREADERS; i++) {
		if (spawn() == 0) {
			close(pp->ready[0]);
			close(pp->results[0]);
			close_pair(pp->go);
			close_pair(pp->stop);
			close_pair(pp->wout);
			reader_main(r, i, pp->ready[1], pp->results[1]);
		}
	}
	close(pp->ready[1]);
	close(pp->results[1]);
	close(pp->go[0]);
	close(pp->stop[0]);
	close(pp->wout[1]);
	pp->ready[1] = pp->results[1] = pp->go[0] = pp->stop[0] = -1;
	pp->wout[1] = -1;
}

/*
 * Go once every reader checked the quiet table; stop the writer once every
 * reader reported; reap everyone.  Returns how many readers reported.
 */
static unsigned run_children(struct pipes *pp, struct counts *each,
			     struct wstats *ws, ssize_t *wn)
{
	char buf[NREADERS];
	size_t got = 0;
	while (got < NREADERS) {
		ssize_t k = read(pp->ready[0], buf + got, NREADERS - got);
		if (k <= 0)
			break; /* a reader died; its report is missing too */
		got += (size_t)k;
	}
	cr_assert_eq(write(pp->go[1], "g", 1), 1);
	unsigned nres = 0;
	while (nres < NREADERS &&
	       read(pp->results[0], &each[nres], sizeof(each[0])) ==
		       (ssize_t)sizeof(each[0]))
		nres++;
	cr_assert_eq(write(pp->stop[1], "s", 1), 1);
	*wn = read(pp->wout[0], ws, sizeof(*ws));
	close_pair(pp->ready);
	close_pair(pp->results);
	close_pair(pp->go);
	close_pair(pp->stop);
	close_pair(pp->wout);
	reap_all();
	return nres;
}

static struct counts sum_counts(const struct counts *each, unsigned n)
{
	struct counts sum;
	memset(&sum, 0, sizeof(sum));
	for (unsigned i = 0; i < n; i++) {
		const struct counts *c = &each[i];
		cr_assert_eq(c->open_err, 0, "reader %u: fsc_open: %s",
			     c->reader, strerror((int)c->open_err));
		sum.lookups += c->lookups;
		sum.hits += c->hits;
		sum.hits_enoent += c->hits_enoent;
		sum.misses += c->misses;
		sum.uncached += c->uncached;
		sum.errors += c->errors;
		sum.torn += c->torn;
		sum.foreign += c->foreign;
		sum.regressed += c->regressed;
		sum.absent += c->absent;
		sum.falsemiss += c->falsemiss;
		sum.quiet_hits += c->quiet_hits;
		sum.quiet_bad += c->quiet_bad;
	}
	return sum;
}

static void log_counts(const struct run *r, const struct counts *sum,
		       const struct wstats *ws)
{
	const struct fsc_header *h = (const struct fsc_header *)r->base;
	cr_log_info("%s (seed %#" PRIx64 ", scale %u): %" PRIu64 " lookups: "
		    "%" PRIu64 " hits (%" PRIu64 " cached ENOENT), %" PRIu64
		    " misses, %" PRIu64 " uncached; torn %" PRIu64
		    ", foreign %" PRIu64 ", regressed %" PRIu64
		    ", absent hits %" PRIu64 ", false misses %" PRIu64
		    ", errors %" PRIu64,
		    r->p->what, r->seed, scale(), sum->lookups, sum->hits,
		    sum->hits_enoent, sum->misses, sum->uncached, sum->torn,
		    sum->foreign, sum->regressed, sum->absent, sum->falsemiss,
		    sum->errors);
	cr_log_info("%s: writer %" PRIu64 " ops (%" PRIu64 " puts, %" PRIu64
		    " removes), %" PRIu64 " evictions, %" PRIu64
		    " moves, table_gen %u, %u entries",
		    r->p->what, ws->ops, ws->puts, ws->removes, ws->evicted,
		    h->counters[FSC_CTR_MOVES], h->table_gen, h->entry_count);
}

static void check_counts(const struct run *r, const struct counts *sum,
			 const struct wstats *ws)
{
	const struct params *p = r->p;
	const struct fsc_header *h = (const struct fsc_header *)r->base;
	uint64_t seed = r->seed;
	cr_assert_eq(ws->status, 0,
		     "%s: writer saw an inconsistent table "
		     "(%u); seed %#" PRIx64,
		     p->what, ws->status, seed);
	cr_assert_eq(sum->quiet_bad, 0,
		     "%s: wrong answers with no writer "
		     "running: %" PRIu64 "; seed %#" PRIx64,
		     p->what, sum->quiet_bad, seed);
	cr_assert_gt(sum->quiet_hits, 0);
	cr_assert_eq(sum->torn, 0,
		     "%s: %" PRIu64 " torn answers; seed %#" PRIx64, p->what,
		     sum->torn, seed);
	cr_assert_eq(sum->foreign, 0,
		     "%s: %" PRIu64 " answers of another "
		     "key; seed %#" PRIx64,
		     p->what, sum->foreign, seed);
	cr_assert_eq(sum->regressed, 0,
		     "%s: %" PRIu64 " answers older than "
		     "one seen before; seed %#" PRIx64,
		     p->what, sum->regressed, seed);
	cr_assert_eq(sum->absent, 0,
		     "%s: %" PRIu64 " hits for absent keys; "
		     "seed %#" PRIx64,
		     p->what, sum->absent, seed);
	cr_assert_eq(sum->falsemiss, 0,
		     "%s: %" PRIu64 " misses of keys "
		     "present throughout; seed %#" PRIx64,
		     p->what, sum->falsemiss, seed);
	cr_assert_eq(sum->errors, 0);
	cr_assert_eq(sum->lookups, (uint64_t)NREADERS * p->lookups * scale());
	cr_assert_geq(ws->ops, (uint64_t)p->min_ops * scale());
	/* The writer's operations are fixed by the seed (FSC_TEST_SEED
	 * replays them) and their minimum number alone makes these happen. */
	cr_assert_gt(h->counters[FSC_CTR_MOVES], 0, "%s: no moves", p->what);
	if (p->evictions)
		cr_assert_gt(ws->evicted, 0, "%s: no evictions", p->what);
	else
		cr_assert_eq(ws->evicted, 0, "%s: unexpected evictions",
			     p->what);
}

static void stress_run(const struct params *p)
{
	const char *e = getenv("FSC_TEST_SEED");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t seed = e && *e ? strtoull(e, NULL, 0)
				: mix64((uint64_t)ts.tv_nsec ^
					((uint64_t)getpid() << 32));
	struct run r;
	run_setup(&r, p, seed);
	uint64_t c = populate(&r);

	struct pipes pp;
	struct counts each[NREADERS];
	struct wstats ws;
	ssize_t wn = 0;
	start_children(&r, &pp, c);
	unsigned nres = run_children(&pp, each, &ws, &wn);
	cr_assert_eq(nres, NREADERS, "%s: %u of %d readers reported", p->what,
		     nres, NREADERS);
	cr_assert_eq(wn, (ssize_t)sizeof(ws), "%s: writer did not report",
		     p->what);
	struct counts sum = sum_counts(each, nres);
	log_counts(&r, &sum, &ws);
	check_counts(&r, &sum, &ws);
	check_final_table(&r);
	run_teardown(&r);
}

/*
 * More keys than max_entries and a short probe window: CLOCK evictions
 * (with the readers' use marks), probe-window evictions that overwrite an
 * entry in place with another key, removals with backward shift.
 */
Test(stress, churn_and_evict, .timeout = 0)
{
	static const struct params p = {
		.what = "churn_and_evict",
		.capacity = 256,
		.path_max = 128,
		.probe_limit = 8,
		.max_entries = 192,
		.nstable = 0,
		.nchurn = 320,
		.remove_pct = 20,
		.evictions = 1,
		.lookups = 1500000,
		.min_ops = 300000,
	};
	stress_run(&p);
}

/*
 * A crowded table (up to 86% full) where stable keys are only rewritten in
 * place and churn keys come and go: long clusters, so backward shifts keep
 * moving present keys under the readers, which must never report them
 * missing.  The probe window spans the table and the keys fit under
 * max_entries, so nothing is ever evicted.
 */
Test(stress, moves_without_false_misses, .timeout = 0)
{
	static const struct params p = {
		.what = "moves_without_false_misses",
		.capacity = 256,
		.path_max = 128,
		.probe_limit = 256,
		.max_entries = 240,
		.nstable = 120,
		.nchurn = 100,
		.remove_pct = 50,
		.evictions = 0,
		.lookups = 1500000,
		.min_ops = 300000,
	};
	stress_run(&p);
}
