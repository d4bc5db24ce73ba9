/*
 * tsan_feed_race.c - the change feed's ring raced by threads in one
 * process, a plain program for the ThreadSanitizer pass (Criterion's
 * runner does not start under TSan) and cross builds without Criterion.
 * One thread appends self-checking records (writer/feed.c) while reader
 * threads walk the ring (reader/changes.h): every change a reader is
 * given must be whole and the one after the last it saw, unless it was
 * told FSC_RESYNC in between.  TSan fails the run on any data race it
 * sees (exit 66): every shared access goes through the atomics of
 * fstatcache/atomics.h.  tests/test_feed.c runs the same check across
 * processes.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fstatcache/fstatcache.h>

#include "feed.h"

#define RING FSC_FEED_SIZE_MIN
#define EPOCH UINT64_C(0x5eed)
#define NREADERS 2
#define TOTAL 200000u

static struct fw_feed feed;
static struct fsc__feed view;
static uint32_t done;

struct reader {
	pthread_t t;
	uint64_t last, changes, resyncs;
	int may_jump; /* the first change after a resync may jump ahead */
	int bad;
};

static int check(void *arg, const struct fsc_change *c)
{
	struct reader *r = arg;
	unsigned long long seq;
	char want[64];

	if (sscanf(c->path, "/race/%llu", &seq) != 1 ||
	    c->st.size != (int64_t)seq) {
		r->bad = 1;
		return 1;
	}
	snprintf(want, sizeof(want), "/race/%llu", seq);
	if (strcmp(want, c->path) ||
	    (r->last != UINT64_MAX &&
	     (r->may_jump ? seq <= r->last : seq != r->last + 1))) {
		fprintf(stderr, "feed_race: change %llu after %llu\n", seq,
			(unsigned long long)r->last);
		r->bad = 2; /* a skipped or repeated change */
		return 1;
	}
	r->may_jump = 0;
	r->last = seq;
	r->changes++;
	return 0;
}

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	struct fsc_cursor cur = { EPOCH, 0 };

	r->last = UINT64_MAX;
	for (;;) {
		int finished = __atomic_load_n(&done, __ATOMIC_ACQUIRE);
		int ret = fsc__feed_walk(&view, EPOCH, 256, &cur, check, r);
		if (ret < 0 || r->bad) {
			r->bad = r->bad ? r->bad : 3;
			break;
		}
		if (ret == FSC_RESYNC) {
			r->resyncs++;
			r->may_jump = 1;
		}
		if (finished && ret == 0)
			break;
	}
	return NULL;
}

int main(void)
{
#if !FSC_HAVE_U64_ATOMICS
	puts("feed_race: no lock-free 64-bit atomics here: skipped");
	return 77;
#else
	size_t size = FSC_FEED_HEADER_SIZE + RING;
	void *mem = aligned_alloc(64, size);
	struct reader rd[NREADERS];

	if (!mem)
		return 1;
	memset(mem, 0, size);
	if (fw_feed_init(&feed, mem, RING, EPOCH, NULL) < 0)
		return 1;
	view = (struct fsc__feed){ mem, size, RING };
	memset(rd, 0, sizeof(rd));
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&rd[i].t, NULL, read_loop, &rd[i]);
	for (uint32_t s = 0; s < TOTAL; s++) {
		char path[64];
		struct fw_image img;
		memset(&img, 0, sizeof(img));
		snprintf(path, sizeof(path), "/race/%u", s);
		img.e.flags = FSC_ENT_USED | FSC_ENT_EXISTS;
		img.e.mode = S_IFREG | 0644;
		img.e.size = s;
		img.e.path_len = (uint16_t)strlen(path);
		fw_feed_append(&feed, FSC_CHANGE_CHANGED, &img, path);
		if (s % 64 == 0) /* let readers keep up now and then */
			sched_yield();
	}
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	int bad = 0;
	for (int i = 0; i < NREADERS; i++) {
		pthread_join(rd[i].t, NULL);
		printf("feed_race: reader %d: %llu changes, %llu resyncs, "
		       "last %llu, bad %d\n",
		       i, (unsigned long long)rd[i].changes,
		       (unsigned long long)rd[i].resyncs,
		       (unsigned long long)rd[i].last, rd[i].bad);
		bad |= rd[i].bad;
	}
	free(mem);
	puts(bad ? "feed_race: FAIL" : "feed_race: PASS");
	return bad ? 1 : 0;
#endif
}
