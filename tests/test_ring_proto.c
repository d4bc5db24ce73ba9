/*
 * test_ring_proto.c - the request ring's protocol in one process: the
 * reader's code (reader/request.h) and the writer's (writer/ring.c) on a
 * ring in private memory, each case a situation the review of the ring
 * found or a rule of docs/FORMAT.md, "The request ring":
 *
 *   - the writer takes the ring's geometry from its own record, never
 *     from the header readers may write (a guard page after the ring
 *     turns any read past it into a crash);
 *   - a head moved out of reach (a hostile store) is put back, and the
 *     ring serves again;
 *   - the doorbell stays armed until the writer is awake: a reader whose
 *     datagram failed (or who died before sending it) does not keep the
 *     next reader from ringing;
 *   - after a replacement, the fallback of a request that may not wait
 *     (fsc_stat()'s) never blocks on a full socket queue;
 *   - a reader stalled past FSC_REQ_STUCK_MS who then writes its slot
 *     cannot pass its path off as the next lap's request: that request is
 *     refused and counted, the stalled reader's publish fails;
 *   - readers that claim and publish slots of the next lap before the
 *     writer's scan reaches them lose nothing.
 *
 * tests/test_ring.c runs the protocol across processes against the real
 * writer; tsan_ring_race.c races it under ThreadSanitizer.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstatcache/fstatcache.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ring.h"

#define SLOTS 16u
#define AREA 64u /* path_max */
#define SLOT_SIZE (FSC_REQ_SLOT_FIXED + AREA)
#define RING_SIZE (FSC_REQ_HEADER_SIZE + SLOTS * SLOT_SIZE)
#define SEED UINT64_C(0x5eed)
#define STUCK_NS ((uint64_t)FSC_REQ_STUCK_MS * 1000000u)

static struct fsc__map map;
static struct fsc_header table; /* only its status is read */
static fsc_handle handle;
static struct fsc_req_header *R;
static char *pages_base; /* the ring's pages, then one PROT_NONE page */
static size_t mapped;    /* their size */
static struct fw_ring ring;
static struct fw_ring_reqs got;

static struct fsc_req_slot *slot(uint32_t pos)
{
	return (struct fsc_req_slot *)(void *)((char *)R + FSC_REQ_HEADER_SIZE +
					       (size_t)(pos % SLOTS) *
						       SLOT_SIZE);
}

/* A ring as segment.c makes it, at the end of its pages: the byte after
 * its last slot is on a page nobody may read. */
static void setup(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (RING_SIZE + pg - 1) / pg;
	mapped = (pages + 1) * pg;
	char *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(p != MAP_FAILED);
	cr_assert_eq(mprotect(p + pages * pg, pg, PROT_NONE), 0);
	pages_base = p;
	R = (struct fsc_req_header *)(void *)(p + pages * pg - RING_SIZE);
	memset(R, 0, RING_SIZE);
	R->magic = FSC_REQ_MAGIC;
	R->ring_slots = SLOTS;
	R->slot_size = SLOT_SIZE;
	for (uint32_t i = 0; i < SLOTS; i++)
		slot(i)->seq = i;
	table.status = FSC_STATUS_SERVING;
	memset(&map, 0, sizeof(map));
	map.base = (const unsigned char *)&table;
	map.seed = SEED;
	map.path_max = AREA;
	map.req = R;
	map.req_size = RING_SIZE;
	map.req_slots = SLOTS;
	map.req_slot_size = SLOT_SIZE;
	memset(&handle, 0, sizeof(handle));
	handle.sock = -1; /* a doorbell "sent" fails: counted only */
	memset(&got, 0, sizeof(got));
}

static void teardown(void)
{
	fw_ring_reqs_free(&got);
	munmap(pages_base, mapped);
	if (handle.sock >= 0)
		close(handle.sock);
}

TestSuite(ring_proto, .init = setup, .fini = teardown, .timeout = 30);

static void bind_ring(void)
{
	fw_ring_bind(&ring, R, SLOTS, SLOT_SIZE, AREA, SEED);
}

static int push(const char *path)
{
	int sent = 0;
	return fsc__ring_push(&handle, &map, path, strlen(path), 0, &sent);
}

static int collected(const struct fw_strv *v, const char *path)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->v[i], path))
			return 1;
	return 0;
}

Test(ring_proto, geometry_is_the_writers_not_the_headers)
{
	/* What a group member may store while a grown segment is staged,
	 * before the writer binds to it. */
	R->ring_slots = FSC_REQ_SLOTS_MAX;
	R->slot_size = 1u << 20;
	R->tail = 7;
	bind_ring();
	cr_assert_eq(push("/a/one"), 0);
	cr_assert_eq(push("/a/two"), 0);
	/* Positions up to a lap ahead are looked at: only this ring's. */
	fw_ring_collect(&ring, 1, false, &got);
	cr_assert_eq(got.own.n, 2);
	cr_assert(collected(&got.own, "/a/one"));
	cr_assert(collected(&got.own, "/a/two"));
	cr_assert_eq(ring.refused, 0);
	cr_assert(!fw_ring_arm(&ring));
}

Test(ring_proto, a_head_out_of_reach_is_put_back)
{
	bind_ring();
	cr_assert_eq(push("/b/first"), 0);
	fw_ring_collect(&ring, 1, false, &got);
	cr_assert_eq(got.own.n, 1);
	/* A hostile store: no slot is free for that position, so no
	 * reader could claim one again. */
	uatomic_set(&R->head, UINT32_C(1000000));
	cr_assert_eq(push("/b/lost"), -EAGAIN);
	cr_assert_eq(R->dropped, 1);
	fw_ring_collect(&ring, 2, false, &got);
	cr_assert_eq(R->head, 1, "head %u, not put back", R->head);
	cr_assert_eq(push("/b/again"), 0);
	fw_ring_collect(&ring, 3, false, &got);
	cr_assert(collected(&got.own, "/b/again"));
	/* Behind the tail is out of reach too. */
	uatomic_set(&R->head, UINT32_C(0));
	fw_ring_collect(&ring, 4, false, &got);
	cr_assert_eq(R->head, 2);
	cr_assert_eq(push("/b/last"), 0);
	fw_ring_collect(&ring, 5, false, &got);
	cr_assert(collected(&got.own, "/b/last"));
	cr_assert_eq(ring.refused, 0);
}

Test(ring_proto, the_doorbell_stays_armed_until_the_writer_wakes)
{
	bind_ring();
	cr_assert(!fw_ring_arm(&ring)); /* asleep, nothing waiting */
	cr_assert_eq(R->doorbell, 1);
	/* This reader's datagram fails (no socket): as if it died first. */
	cr_assert_eq(push("/c/one"), 0);
	cr_assert_eq(R->rung, 1);
	cr_assert_eq(R->doorbell, 1, "a reader disarmed the doorbell");
	/* So the next reader rings too. */
	cr_assert_eq(push("/c/two"), 0);
	cr_assert_eq(R->rung, 2);
	/* Awake: nobody rings. */
	fw_ring_disarm(&ring);
	cr_assert_eq(push("/c/three"), 0);
	cr_assert_eq(R->rung, 2);
	/* Requests waiting: arming finds them and does not sleep. */
	cr_assert(fw_ring_arm(&ring));
	cr_assert_eq(R->doorbell, 0);
	fw_ring_collect(&ring, 1, false, &got);
	cr_assert_eq(got.own.n, 3);
}

Test(ring_proto, a_request_that_may_not_wait_never_blocks_after_retirement)
{
	bind_ring();
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	/* The writer's queue is full. */
	char byte = 0;
	while (send(sv[0], &byte, 1, MSG_DONTWAIT) == 1)
		;
	cr_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	handle.sock = sv[0];
	handle.sock_map = &map; /* connected to this writer already */
	table.status = FSC_STATUS_RETIRED;
	cr_assert(!fw_ring_arm(&ring));
	/* A blocking send here would hang: the alarm fails the test.  The
	 * send fails (the queue is full): the request may be lost with the
	 * old ring, so the caller hears of it and counts it. */
	const char *p = "/d/after-retirement";
	int sent = 0;
	alarm(10);
	cr_assert_eq(fsc__ring_push(&handle, &map, p, strlen(p), 0, &sent),
		     -EAGAIN);
	alarm(0);
	cr_assert_eq(sent, 1);
	cr_assert_eq(R->rung, 1);
	close(sv[1]);
}

Test(ring_proto, a_stalled_reader_cannot_pass_as_the_next_lap)
{
	bind_ring();
	/* Reader A claims position 0 and stalls before writing. */
	cr_assert_eq(uatomic_cmpxchg(&R->head, 0u, 1u), 0u);
	cr_assert_eq(push("/e/b0"), 0); /* position 1 */
	uint64_t t = 1000;
	fw_ring_collect(&ring, t, false, &got);
	cr_assert_eq(got.own.n, 1);
	/* Not given up before FSC_REQ_STUCK_MS. */
	fw_ring_collect(&ring, t + STUCK_NS / 2, false, &got);
	cr_assert_eq(ring.skipped, 0);
	fw_ring_collect(&ring, t + STUCK_NS, false, &got);
	cr_assert_eq(ring.skipped, 1);
	/* Reader B fills a lap; its last request lands in A's slot. */
	char path[32];
	for (unsigned i = 2; i <= SLOTS; i++) {
		snprintf(path, sizeof(path), "/e/b%u", i);
		cr_assert_eq(push(path), 0, "%s", path);
	}
	cr_assert_eq(slot(SLOTS)->seq, SLOTS + 1); /* B's, published */
	/* A wakes up and writes its slot as its own, then publishes. */
	struct fsc_req_slot *s = slot(0);
	const char *a = "/e/stalled";
	s->pos = 0;
	s->path_len = (uint32_t)strlen(a);
	s->hash = XXH3_64bits_withSeed(a, strlen(a), SEED);
	memcpy((char *)s + FSC_REQ_SLOT_FIXED, a, strlen(a) + 1);
	cr_assert_neq(uatomic_cmpxchg(&s->seq, 0u, 1u), 0u,
		      "the stalled reader published");
	uint64_t refused = ring.refused;
	fw_ring_collect(&ring, t + STUCK_NS + 1, false, &got);
	cr_assert(!collected(&got.own, a), "the stalled path was taken");
	cr_assert_eq(ring.refused, refused + 1);
	cr_assert(!collected(&got.own, "/e/b16"));
	cr_assert_eq(got.own.n, 1 + SLOTS - 2);
	/* The ring goes on. */
	cr_assert_eq(push("/e/next"), 0);
	fw_ring_collect(&ring, t + STUCK_NS + 2, false, &got);
	cr_assert(collected(&got.own, "/e/next"));
}

Test(ring_proto, a_shared_rings_requests_stay_judged_as_others)
{
	bind_ring();
	cr_assert_eq(push("/f/shared"), 0);
	/* Collected from a ring that is (or was) shared with a group, as
	 * grow.c does before it binds the new ring: the path keeps that
	 * ring's judgement whatever ring serves when it is handled. */
	fw_ring_collect(&ring, 1, true, &got);
	bind_ring();
	cr_assert_eq(push("/f/own"), 0);
	fw_ring_collect(&ring, 2, false, &got);
	cr_assert_eq(got.others.n, 1);
	cr_assert_str_eq(got.others.v[0], "/f/shared");
	cr_assert_eq(got.own.n, 1);
	cr_assert_str_eq(got.own.v[0], "/f/own");
	cr_assert_eq(fw_ring_reqs_n(&got), 2);
}

Test(ring_proto, a_filling_ring_wakes_the_writer_unarmed)
{
	bind_ring();
	/* The writer is awake or in its grace: the doorbell is not armed,
	 * and it last published tail 0. */
	cr_assert_eq(R->doorbell, 0);
	char path[32];
	for (unsigned i = 0; i < SLOTS; i++) {
		snprintf(path, sizeof(path), "/g/%u", i);
		cr_assert_eq(push(path), 0, "%s", path);
		/* Half full from position 8; a datagram at every quarter. */
		cr_assert_eq(R->rung,
			     i < SLOTS / 2       ? 0
			     : i < 3 * SLOTS / 4 ? 1
						 : 2,
			     "position %u: rung %llu", i,
			     (unsigned long long)R->rung);
	}
	cr_assert_eq(push("/g/full"), -EAGAIN);
	cr_assert_eq(R->dropped, 1);
	fw_ring_collect(&ring, 1, false, &got);
	cr_assert_eq(got.own.n, SLOTS);
	cr_assert_eq(R->tail, SLOTS);
	/* Emptied: a request rings no more. */
	cr_assert_eq(push("/g/after"), 0);
	cr_assert_eq(R->rung, 2);
}

/* One hostile store of seq = head + 1 in the slot at head (head ==
 * tail) made every reader see "taken" there and drop, for good. */
Test(ring_proto, a_slot_published_at_an_unmoved_head_is_taken_in)
{
	bind_ring();
	cr_assert_eq(push("/h/one"), 0);
	fw_ring_collect(&ring, 1, false, &got);
	cr_assert_eq(got.own.n, 1);
	uatomic_set(&slot(1)->seq, 2u);
	fw_ring_collect(&ring, 2, false, &got);
	cr_assert_eq(push("/h/two"), 0, "wedged: head %u tail %u seq %u",
		     R->head, ring.tail, slot(1)->seq);
	fw_ring_collect(&ring, 3, false, &got);
	cr_assert(collected(&got.own, "/h/two"));
	cr_assert_eq(ring.refused, 1); /* the forged slot */
}

/* A head moved far while the slot at the tail is published: putting head
 * back must neither wedge the ring nor lose that request. */
Test(ring_proto, a_far_head_keeps_the_published_request)
{
	bind_ring();
	cr_assert_eq(push("/h/pending"), 0);
	uatomic_set(&R->head, UINT32_C(1000000));
	fw_ring_collect(&ring, 1, false, &got);
	fw_ring_collect(&ring, 2, false, &got);
	cr_assert(collected(&got.own, "/h/pending"));
	cr_assert_eq(push("/h/after"), 0);
	fw_ring_collect(&ring, 3, false, &got);
	cr_assert(collected(&got.own, "/h/after"));
	cr_assert_eq(ring.refused, 0);
}

/*
 * Readers outrun the writer's scan: the writer took position 0, which a
 * reader had held up, so its tail moved to 1; readers then claimed and
 * published positions SLOTS and SLOTS + 1 in slots 0 and 1 (slot 1 was
 * freed out of order by an earlier scan) before the scan looked at 1.
 * Found by the armhf pass of tsan_ring_race (a slow emulated writer): the
 * scan took slot 1's "published for the next lap" for a reader at work,
 * its tail stayed at 1 for good, head ran more than a lap ahead and was
 * put back, and requests were lost.
 */
Test(ring_proto, readers_that_outrun_the_scan_lose_nothing)
{
	cr_assert(fw_ring_consumed(SLOTS, 1, 1 + SLOTS));
	cr_assert(fw_ring_consumed(SLOTS, 1, 1 + SLOTS + 1));
	cr_assert(!fw_ring_consumed(SLOTS, 1, 1));
	cr_assert(!fw_ring_consumed(SLOTS, 1, 2));
	cr_assert(fw_ring_consumed(SLOTS, UINT32_MAX, UINT32_MAX + SLOTS + 1));

	bind_ring();
	/* A reader claims position 0 and is held up; 1..15 come in. */
	cr_assert_eq(uatomic_cmpxchg(&R->head, 0u, 1u), 0u);
	char path[32];
	for (unsigned i = 1; i < SLOTS; i++) {
		snprintf(path, sizeof(path), "/o/a%u", i);
		cr_assert_eq(push(path), 0, "%s", path);
	}
	fw_ring_collect(&ring, 1, false, &got); /* 1..15, out of order */
	cr_assert_eq(got.own.n, SLOTS - 1);
	cr_assert_eq(ring.tail, 0u);
	/* The next scan read head (SLOTS) and took position 0 (the held-up
	 * reader's request, published meanwhile): its tail is 1 now. */
	uatomic_set(&slot(0)->seq, SLOTS);
	ring.tail = 1;
	/* Readers claim and publish SLOTS (slot 0) and SLOTS + 1 (slot 1). */
	cr_assert_eq(push("/o/b0"), 0);
	cr_assert_eq(push("/o/b1"), 0);
	cr_assert_eq(slot(1)->seq, 1 + SLOTS + 1);
	/* The rest of that scan, with the head it read. */
	uatomic_set(&R->head, SLOTS);
	fw_ring_collect(&ring, 2, false, &got);
	cr_assert_eq(ring.tail, SLOTS, "tail %u", ring.tail);
	uatomic_set(&R->head, SLOTS + 2); /* where the readers left it */
	fw_ring_collect(&ring, 3, false, &got);
	cr_assert(collected(&got.own, "/o/b0"));
	cr_assert(collected(&got.own, "/o/b1"));
	cr_assert_eq(ring.tail, SLOTS + 2, "tail %u", ring.tail);
	/* A whole lap more: nothing dropped, head never out of reach. */
	for (unsigned i = 0; i < SLOTS; i++) {
		snprintf(path, sizeof(path), "/o/c%u", i);
		cr_assert_eq(push(path), 0, "%s dropped", path);
	}
	fw_ring_collect(&ring, 4, false, &got);
	cr_assert_eq(got.own.n, SLOTS - 1 + 2 + SLOTS);
	cr_assert_eq(ring.refused, 0);
	cr_assert_eq(R->dropped, 0);
}
