/*
 * tsan_ring_race.c - the request ring raced by threads in one process,
 * a plain program for the ThreadSanitizer pass (as tsan_feed_race.c).
 * Producer threads queue distinct paths with the reader's code
 * (reader/request.h) while one thread collects them with the writer's
 * (writer/ring.c), arming and disarming the doorbell as the writer's
 * loop does.  Every request queued must be collected exactly once and
 * intact; every one not queued must be counted as dropped.  TSan fails
 * the run on any data race it sees (exit 66).  tests/test_ring.c runs the
 * same protocol across processes against the real writer.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fstatcache/fstatcache.h>

#include "ring.h"

#define NPROD 3
#define PER 20000u
#define SLOTS 64u
#define PATH_MAX_AREA 64u

static struct fsc__map map;
static struct fsc_header table; /* only its status is read */
static fsc_handle handle;
static uint32_t producing = NPROD;

struct prod {
	pthread_t t;
	int id;
	unsigned queued, dropped;
};

static void *produce(void *arg)
{
	struct prod *p = arg;
	char path[64];
	int sent = 0;
	for (unsigned i = 0; i < PER; i++) {
		int n = snprintf(path, sizeof(path), "/p%d/%u", p->id, i);
		if (fsc__ring_push(&handle, &map, path, (size_t)n, 0, &sent) ==
		    0)
			p->queued++;
		else
			p->dropped++;
		if (i % 64 == 0)
			sched_yield();
	}
	uatomic_add(&producing, -1);
	return NULL;
}

int main(void)
{
	uint32_t slot_size = FSC_REQ_SLOT_FIXED + PATH_MAX_AREA;
	size_t size = FSC_REQ_HEADER_SIZE + (size_t)SLOTS * slot_size;
	struct fsc_req_header *r = aligned_alloc(64, size);
	if (!r)
		return 2;
	memset(r, 0, size);
	r->magic = FSC_REQ_MAGIC;
	r->ring_slots = SLOTS;
	r->slot_size = slot_size;
	for (uint32_t i = 0; i < SLOTS; i++)
		((struct fsc_req_slot *)(void *)((char *)r +
						 FSC_REQ_HEADER_SIZE +
						 (size_t)i * slot_size))
			->seq = i;
	table.status = FSC_STATUS_SERVING;
	map.base = (const unsigned char *)&table;
	map.seed = UINT64_C(0x5eed);
	map.path_max = PATH_MAX_AREA;
	map.req = r;
	map.req_size = size;
	map.req_slots = SLOTS;
	map.req_slot_size = slot_size;
	handle.sock = -1; /* a doorbell "sent" fails quietly: counted only */

	struct fw_ring ring;
	fw_ring_bind(&ring, r, SLOTS, slot_size, PATH_MAX_AREA, map.seed);
	struct prod p[NPROD];
	for (int i = 0; i < NPROD; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].id = i;
		pthread_create(&p[i].t, NULL, produce, &p[i]);
	}
	struct fw_ring_reqs reqs = { 0 };
	struct fw_strv *const got_own = &reqs.own;
	for (unsigned turn = 0;; turn++) {
		int last = uatomic_read(&producing) == 0;
		fw_ring_collect(&ring, turn, false, &reqs);
		if (last)
			break;
		if (!fw_ring_arm(&ring))
			sched_yield(); /* "asleep" */
		fw_ring_disarm(&ring);
	}
	unsigned queued = 0, dropped = 0;
	for (int i = 0; i < NPROD; i++) {
		pthread_join(p[i].t, NULL);
		queued += p[i].queued;
		dropped += p[i].dropped;
	}
	fw_ring_collect(&ring, 0, false, &reqs);
	struct fw_strv got = *got_own;
	/* Each collected path once, each from a producer's sequence. */
	unsigned char *seen = calloc(NPROD * PER, 1);
	int bad = 0;
	for (size_t i = 0; i < got.n; i++) {
		int id;
		unsigned k;
		if (sscanf(got.v[i], "/p%d/%u", &id, &k) != 2 || id < 0 ||
		    id >= NPROD || k >= PER || seen[id * PER + k]++) {
			fprintf(stderr, "bad or repeated: %s\n", got.v[i]);
			bad = 1;
		}
	}
	printf("queued %u, dropped %u, collected %zu, refused %llu, "
	       "doorbells %llu\n",
	       queued, dropped, got.n, (unsigned long long)ring.refused,
	       (unsigned long long)r->rung);
	if (got.n != queued || r->dropped != dropped || ring.refused)
		bad = 1;
	free(seen);
	fw_ring_reqs_free(&reqs);
	free(r);
	return bad;
}
