/*
 * test_feed.c - the change feed's ring against a model: the writer's
 * appends (writer/feed.c) read back by the reader's walk (reader/
 * changes.h) over a feed made here, in process and across processes.
 *
 * The model is the list of every record appended, with its position: a
 * walk from a cursor must deliver exactly the records after it, in order,
 * or say FSC_RESYNC when (and only when) the ring no longer holds them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstatcache/fstatcache.h>

#include "feed.h"

#define RING FSC_FEED_SIZE_MIN
#define EPOCH UINT64_C(0x1234abcd5678ef90)
#define PATH_MAX_AREA 256u

struct model_rec {
	uint64_t end; /* feed position after it */
	uint32_t kind;
	uint64_t seq;
};

struct model {
	struct fw_feed f;
	struct fsc__feed view; /* what a reader maps */
	void *mem;
	struct model_rec *recs;
	size_t n, cap;
};

static void model_init(struct model *m, void *mem)
{
	memset(m, 0, sizeof(*m));
	m->mem = mem;
	cr_assert_eq(fw_feed_init(&m->f, mem, RING, EPOCH, NULL), 0);
	m->view.base = mem;
	m->view.size = FSC_FEED_HEADER_SIZE + RING;
	m->view.ring = RING;
}

/* "/seq/<n>" padded to a length that depends on n, size n: self-checking. */
static void path_for(uint64_t seq, char *buf, size_t size)
{
	int n = snprintf(buf, size, "/seq/%llu/", (unsigned long long)seq);
	size_t pad = seq * 7919 % 180;
	for (size_t i = 0; i < pad && (size_t)n + 1 < size; i++)
		buf[n++] = (char)('a' + (seq + i) % 26);
	buf[n] = '\0';
	if (buf[n - 1] == '/')
		buf[n - 1] = 'x';
}

static void append_seq(struct fw_feed *f, uint32_t kind, uint64_t seq)
{
	char path[PATH_MAX_AREA];
	struct fw_image img;

	path_for(seq, path, sizeof(path));
	memset(&img, 0, sizeof(img));
	img.e.flags = FSC_ENT_USED | FSC_ENT_EXISTS;
	img.e.path_len = (uint16_t)strlen(path);
	img.e.mode = S_IFREG | 0644;
	img.e.size = (int64_t)seq;
	img.e.ino = seq;
	img.e.mtime_ns = -(int64_t)seq; /* before 1970: floor division */
	img.c.validated_ns = seq;
	fw_feed_append(f, kind, &img, path);
}

static void model_append(struct model *m, uint32_t kind)
{
	uint64_t seq = m->n;

	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->recs = realloc(m->recs, m->cap * sizeof(*m->recs));
		cr_assert(m->recs);
	}
	if (kind == FSC_CHANGE_ALL)
		fw_feed_append(&m->f, kind, NULL, NULL);
	else
		append_seq(&m->f, kind, seq);
	m->recs[m->n++] = (struct model_rec){ m->f.head, kind, seq };
}

struct seen {
	uint64_t seqs[100000];
	uint32_t kinds[100000];
	size_t n;
	size_t stop_after; /* 0: never stop */
	int bad;
};

/* Check a change against its own path: no torn or foreign record. */
static int self_consistent(const struct fsc_change *c, uint64_t *seq)
{
	char want[PATH_MAX_AREA];
	unsigned long long s;

	if (sscanf(c->path, "/seq/%llu/", &s) != 1)
		return 0;
	path_for(s, want, sizeof(want));
	*seq = s;
	if (strcmp(want, c->path) != 0 || c->path_len != strlen(want))
		return 0;
	if (c->kind == FSC_CHANGE_MARKED || c->kind == FSC_CHANGE_EVICTED ||
	    c->kind == FSC_CHANGE_REMOVED) /* no answer: stat() it */
		return c->status == FSC_UNCACHED && c->st.size == 0;
	int64_t sec;
	uint32_t nsec;
	fsc_time_unpack(-(int64_t)s, &sec, &nsec);
	return c->status == 0 && c->st.exists && c->st.size == (int64_t)s &&
	       c->st.ino == s && c->st.source == FSC_SOURCE_CACHE &&
	       c->st.mtime_sec == sec && c->st.mtime_nsec == nsec &&
	       (s == 0 || c->st.mtime_sec < 0);
}

static int collect(void *arg, const struct fsc_change *c)
{
	struct seen *s = arg;
	uint64_t seq;

	if (!self_consistent(c, &seq) || s->n >= 100000) {
		s->bad++;
		return 1;
	}
	s->kinds[s->n] = c->kind;
	s->seqs[s->n++] = seq;
	return s->stop_after && s->n >= s->stop_after;
}

static int walk(struct model *m, struct fsc_cursor *cur, struct seen *s)
{
	return fsc__feed_walk(&m->view, EPOCH, PATH_MAX_AREA, cur, collect, s);
}

/* Position of the oldest record still whole in the ring. */
static uint64_t model_tail(struct model *m)
{
	return m->f.tail;
}

static struct seen seen;
static struct model mdl;
static void *mem;

static void setup(void)
{
	mem = aligned_alloc(64, FSC_FEED_HEADER_SIZE + RING);
	cr_assert(mem);
	memset(mem, 0, FSC_FEED_HEADER_SIZE + RING);
	model_init(&mdl, mem);
	memset(&seen, 0, sizeof(seen));
}

static void teardown(void)
{
	free(mdl.recs);
	free(mem);
}

TestSuite(feed, .init = setup, .fini = teardown);

Test(feed, new_cursor_resyncs_to_now)
{
	struct fsc_cursor cur = FSC_CURSOR_INIT;

	model_append(&mdl, FSC_CHANGE_ADDED);
	cr_assert_eq(walk(&mdl, &cur, &seen), FSC_RESYNC);
	cr_assert_eq(cur.epoch, EPOCH);
	cr_assert_eq(cur.pos, mdl.f.head);
	cr_assert_eq(walk(&mdl, &cur, &seen), 0);
	cr_assert_eq(seen.n, 0);
	model_append(&mdl, FSC_CHANGE_CHANGED);
	cr_assert_eq(walk(&mdl, &cur, &seen), 0);
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.seqs[0], 1);
	cr_assert_eq(seen.kinds[0], FSC_CHANGE_CHANGED);
}

Test(feed, every_record_in_order_across_wraps)
{
	struct fsc_cursor cur = { EPOCH, 0 };
	size_t next = 0;

	/* Poll every few appends: ~40 laps of the ring, never lapped. */
	for (int round = 0; round < 4000; round++) {
		int k = 1 + round % 13;
		for (int i = 0; i < k; i++)
			model_append(&mdl, FSC_CHANGE_ADDED + i % 7);
		seen.n = 0;
		cr_assert_eq(walk(&mdl, &cur, &seen), 0);
		cr_assert_eq(seen.bad, 0);
		cr_assert_eq(seen.n, (size_t)k);
		for (size_t i = 0; i < seen.n; i++, next++) {
			cr_assert_eq(seen.seqs[i], mdl.recs[next].seq);
			cr_assert_eq(seen.kinds[i], mdl.recs[next].kind);
		}
		cr_assert_eq(cur.pos, mdl.f.head);
	}
	cr_assert_gt(mdl.f.head, 20 * (uint64_t)RING, "the ring wrapped");
}

Test(feed, any_cursor_in_the_ring_gets_exactly_what_followed)
{
	for (int i = 0; i < 3000; i++)
		model_append(&mdl, FSC_CHANGE_CHANGED);
	uint64_t tail = model_tail(&mdl);
	size_t checked = 0;

	for (size_t from = 0; from < mdl.n; from++) {
		uint64_t pos = from ? mdl.recs[from - 1].end : 0;
		struct fsc_cursor cur = { EPOCH, pos };
		seen.n = 0;
		int r = walk(&mdl, &cur, &seen);
		if (pos < tail) {
			cr_assert_eq(r, FSC_RESYNC, "cursor %zu is behind",
				     from);
			cr_assert_eq(cur.pos, mdl.f.head);
			cr_assert_eq(seen.n, 0);
			continue;
		}
		cr_assert_eq(r, 0);
		cr_assert_eq(seen.bad, 0);
		cr_assert_eq(seen.n, mdl.n - from);
		cr_assert_eq(seen.seqs[0], from);
		cr_assert_eq(seen.seqs[seen.n - 1], mdl.n - 1);
		checked++;
	}
	cr_assert_gt(checked, 100);
	cr_assert_lt(checked, mdl.n, "some cursors were lapped");
}

Test(feed, another_epoch_or_a_future_cursor_resyncs)
{
	struct fsc_cursor cur = { EPOCH ^ 1, 0 };

	model_append(&mdl, FSC_CHANGE_ADDED);
	cr_assert_eq(walk(&mdl, &cur, &seen), FSC_RESYNC);
	cr_assert_eq(cur.epoch, EPOCH);
	cur.pos = mdl.f.head + 16;
	cr_assert_eq(walk(&mdl, &cur, &seen), FSC_RESYNC);
	cr_assert_eq(cur.pos, mdl.f.head);
	cr_assert_eq(seen.n, 0);
}

Test(feed, all_record_delivers_what_came_before_then_resyncs)
{
	struct fsc_cursor cur = { EPOCH, 0 };

	model_append(&mdl, FSC_CHANGE_ADDED);
	model_append(&mdl, FSC_CHANGE_ALL);
	model_append(&mdl, FSC_CHANGE_DELETED);
	cr_assert_eq(walk(&mdl, &cur, &seen), FSC_RESYNC);
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(cur.pos, mdl.recs[1].end);
	cr_assert_eq(walk(&mdl, &cur, &seen), 0);
	cr_assert_eq(seen.n, 2);
	cr_assert_eq(seen.seqs[1], 2);
}

Test(feed, a_callback_that_stops_leaves_the_cursor_after_its_change)
{
	struct fsc_cursor cur = { EPOCH, 0 };

	for (int i = 0; i < 10; i++)
		model_append(&mdl, FSC_CHANGE_CHANGED);
	seen.stop_after = 3;
	cr_assert_eq(walk(&mdl, &cur, &seen), 0);
	cr_assert_eq(seen.n, 3);
	cr_assert_eq(cur.pos, mdl.recs[2].end);
	seen.stop_after = 0;
	cr_assert_eq(walk(&mdl, &cur, &seen), 0);
	cr_assert_eq(seen.n, 10);
	cr_assert_eq(seen.seqs[9], 9);
}

Test(feed, a_corrupt_record_is_an_error_not_a_skip)
{
	struct fsc_cursor cur = { EPOCH, 0 };

	model_append(&mdl, FSC_CHANGE_CHANGED);
	model_append(&mdl, FSC_CHANGE_CHANGED);
	struct fsc_feed_record *r =
		(void *)((unsigned char *)mem + FSC_FEED_HEADER_SIZE +
			 mdl.recs[0].end);
	r->pos ^= 0x100;
	cr_assert_eq(walk(&mdl, &cur, &seen), -EPROTO);
	cr_assert_eq(seen.n, 1, "the whole record before it was delivered");
	cr_assert_eq(cur.pos, mdl.recs[0].end, "the cursor stays before it");
	r->pos ^= 0x100;
	r->len = 8;
	cr_assert_eq(walk(&mdl, &cur, &seen), -EPROTO);
	r->len = (uint32_t)(mdl.recs[1].end - mdl.recs[0].end);
	cr_assert_eq(walk(&mdl, &cur, &seen), 0, "repaired");
	cr_assert_eq(seen.n, 2);
}

Test(feed, a_kind_from_a_newer_writer_is_a_resync_not_an_error)
{
	struct fsc_cursor cur = { EPOCH, 0 };

	model_append(&mdl, FSC_CHANGE_CHANGED);
	model_append(&mdl, FSC_CHANGE_CHANGED);
	model_append(&mdl, FSC_CHANGE_CHANGED);
	struct fsc_feed_record *r =
		(void *)((unsigned char *)mem + FSC_FEED_HEADER_SIZE +
			 mdl.recs[0].end);
	r->kind = FSC_CHANGE_KNOWN + 3;
	cr_assert_eq(walk(&mdl, &cur, &seen), FSC_RESYNC);
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(cur.pos, mdl.recs[1].end, "on after the unknown record");
	cr_assert_eq(walk(&mdl, &cur, &seen), 0);
	cr_assert_eq(seen.n, 2);
	cr_assert_eq(seen.seqs[1], 2);
}

Test(feed, a_cursor_off_a_record_boundary_is_a_resync)
{
	model_append(&mdl, FSC_CHANGE_CHANGED);
	model_append(&mdl, FSC_CHANGE_CHANGED);
	for (uint64_t off = 1; off < 16; off++) {
		struct fsc_cursor cur = { EPOCH, mdl.recs[0].end - off };
		cr_assert_eq(walk(&mdl, &cur, &seen), FSC_RESYNC);
		cr_assert_eq(cur.pos, mdl.f.head);
	}
	cr_assert_eq(seen.n, 0);
}

Test(feed, longest_paths_fill_the_ring_exactly)
{
	char path[FSC_PATH_MAX_MAX];
	struct fw_image img;
	struct fsc_cursor cur = { EPOCH, 0 };
	uint64_t n = 0;

	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[FSC_PATH_MAX_MAX - 1] = '\0';
	memset(&img, 0, sizeof(img));
	img.e.flags = FSC_ENT_USED;
	img.e.path_len = FSC_PATH_MAX_MAX - 1;
	for (int i = 0; i < 100; i++) {
		fw_feed_append(&mdl.f, FSC_CHANGE_DELETED, &img, path);
		int r = fsc__feed_walk(&mdl.view, EPOCH, FSC_PATH_MAX_MAX, &cur,
				       collect, &seen);
		/* collect() finds no "/seq/" path: it counts it as bad. */
		cr_assert_eq(r, 0);
		n++;
	}
	cr_assert_eq((uint64_t)seen.bad, n);
	cr_assert_eq(cur.pos, mdl.f.head);
}

/*
 * Across processes: one writer appends as fast as it can into a shared
 * mapping while readers walk it; every change a reader is given must be
 * whole (its path and numbers agree) and the next one after the last it
 * saw, unless it was told FSC_RESYNC in between.
 */
#define NREADERS 3

static int reader_child(struct fsc__feed *view, volatile uint32_t *done,
			uint64_t total)
{
	struct fsc_cursor cur = { EPOCH, 0 };
	static struct seen s;
	uint64_t last = UINT64_MAX, resyncs = 0;
	int may_jump = 1; /* the first change, or the first after a resync */

	for (;;) {
		int writer_done = __atomic_load_n(done, __ATOMIC_ACQUIRE);
		s.n = 0;
		int r = fsc__feed_walk(view, EPOCH, PATH_MAX_AREA, &cur,
				       collect, &s);
		if (r < 0 || s.bad)
			return 10; /* torn, foreign or corrupt */
		for (size_t i = 0; i < s.n; i++) {
			if (may_jump ? (last != UINT64_MAX && s.seqs[i] <= last)
				     : s.seqs[i] != last + 1)
				return 11; /* a skipped or repeated change */
			last = s.seqs[i];
			may_jump = 0;
		}
		if (r == FSC_RESYNC) {
			resyncs++;
			may_jump = 1;
		}
		if (writer_done && r == 0)
			break;
	}
	if (resyncs == 0 && last != total - 1)
		return 12; /* never told of a gap, yet missed the end */
	return last == UINT64_MAX || last <= total - 1 ? 0 : 13;
}

Test(feed, writer_and_readers_in_other_processes)
{
	size_t size = FSC_FEED_HEADER_SIZE + RING;
	void *shm = mmap(NULL, size + 64, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(shm != MAP_FAILED);
	volatile uint32_t *done = (uint32_t *)((char *)shm + size);
	struct fw_feed f;
	struct fsc__feed view = { shm, size, RING };
	uint64_t total = 400000;
	pid_t kids[NREADERS + 1];

	cr_assert_eq(fw_feed_init(&f, shm, RING, EPOCH, NULL), 0);
	for (int i = 0; i < NREADERS; i++) {
		kids[i] = fork();
		cr_assert_geq(kids[i], 0);
		if (kids[i] == 0)
			_exit(reader_child(&view, done, total));
	}
	kids[NREADERS] = fork();
	cr_assert_geq(kids[NREADERS], 0);
	if (kids[NREADERS] == 0) {
		for (uint64_t s = 0; s < total; s++)
			append_seq(&f, FSC_CHANGE_CHANGED, s);
		__atomic_store_n(done, 1, __ATOMIC_RELEASE);
		_exit(0);
	}
	for (int i = 0; i <= NREADERS; i++) {
		int st;
		cr_assert_eq(waitpid(kids[i], &st, 0), kids[i]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "child %d: status %d", i,
			  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	munmap(shm, size + 64);
}
