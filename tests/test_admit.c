/*
 * test_admit.c - the admission policy (writer/admit.c) on the real table
 * code, against a model of readers: each "poll" looks keys up; a hit
 * sets the key's use mark as a reader does, a miss asks the writer,
 * which inserts the key only if fw_admit_miss() says so.  Hit rates are
 * counted, never timed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admit.h"
#include "table.h"

#define PATH_AREA 64u

struct sim {
	void *mem;
	struct fsc_header *hdr;
	uint8_t *use;
	struct fw_table t;
	struct fw_admit a;
	int admission; /* 0: every miss inserted (plain CLOCK) */
	uint64_t hits, misses;
};

static void key_used(void *ctx, uint64_t hash)
{
	fw_admit_touch(ctx, hash);
}

static void sim_open(struct sim *s, uint32_t max_entries, int admission)
{
	uint32_t slots = 16;
	while (slots < max_entries * 4 / 3 + 1)
		slots <<= 1;
	size_t size =
		FSC_HEADER_SIZE + (size_t)slots * FSC_ENTRY_SIZE(PATH_AREA);
	memset(s, 0, sizeof(*s));
	s->mem = aligned_alloc(4096, (size + 4095) & ~(size_t)4095);
	cr_assert_not_null(s->mem);
	memset(s->mem, 0, size);
	s->hdr = s->mem;
	s->use = calloc(slots, 1);
	struct fsc_header *h = s->hdr;
	h->magic = FSC_MAGIC;
	h->version_major = FSC_FORMAT_MAJOR;
	h->version_minor = FSC_FORMAT_MINOR;
	h->header_size = FSC_HEADER_SIZE;
	h->entry_size = FSC_ENTRY_SIZE(PATH_AREA);
	h->slot_count = slots;
	h->probe_limit = 64;
	h->path_max = PATH_AREA;
	h->max_entries = max_entries;
	h->hash_seed = 42;
	h->segment_size = size;
	cr_assert_eq(fw_table_bind(&s->t, s->hdr, s->use), 0);
	cr_assert_eq(fw_admit_init(&s->a, max_entries), 0);
	s->t.used = key_used;
	s->t.used_ctx = &s->a;
	s->admission = admission;
}

static void sim_close(struct sim *s)
{
	fw_admit_free(&s->a);
	free(s->use);
	free(s->mem);
}

static uint32_t key_path(char *buf, unsigned k)
{
	return (uint32_t)snprintf(buf, PATH_AREA, "/var/log/k%u.log", k);
}

/* A reader looks key k up: a hit marks use; a miss asks for a watch. */
static void access_key(struct sim *s, unsigned k, int counted)
{
	char p[PATH_AREA];
	uint32_t len = key_path(p, k);
	int64_t slot = fw_table_find(&s->t, p, len);

	if (slot >= 0) {
		s->use[slot] = 1;
		s->hits += counted;
		return;
	}
	s->misses += counted;
	uint64_t h = fw_table_hash(&s->t, p, len);
	if (s->admission && !fw_admit_miss(&s->a, &s->t, h))
		return;
	struct fw_record rec = { .flags = FSC_ENT_EXISTS,
				 .mode = S_IFREG | 0644 };
	cr_assert_geq(fw_table_put(&s->t, p, len, &rec, NULL, NULL), 0);
}

static double hit_rate(const struct sim *s)
{
	return (double)s->hits / (double)(s->hits + s->misses);
}

/* Readers cycle over 1.25 times as many keys as the table holds. */
static double cyclic_scan(uint32_t n, int admission)
{
	struct sim s;
	unsigned keys = n + n / 4;

	sim_open(&s, n, admission);
	for (int round = 0; round < 30; round++)
		for (unsigned k = 0; k < keys; k++)
			access_key(&s, k, round >= 10);
	double r = hit_rate(&s);
	cr_log_info("cyclic scan over %u keys, table of %u, admission %d: "
		    "hit rate %.3f (admitted %llu, rejected %llu)",
		    keys, n, admission, r, (unsigned long long)s.a.admitted,
		    (unsigned long long)s.a.rejected);
	sim_close(&s);
	return r;
}

Test(admit, a_cyclic_scan_over_more_than_the_table_keeps_hitting)
{
	double plain = cyclic_scan(1000, 0);
	double with = cyclic_scan(1000, 1);

	cr_expect_lt(plain, 0.5, "plain CLOCK thrashes (the model bites)");
	cr_expect_geq(with, 0.75, "hit rate %.3f with admission", with);
	cr_expect_geq(cyclic_scan(8192, 1), 0.75);
}

/* A hot set used every round survives one-time keys passing through. */
Test(admit, one_time_misses_do_not_push_out_the_hot_set)
{
	struct sim s;
	unsigned n = 1000, hot = 800, cold = 0;

	sim_open(&s, n, 1);
	for (int round = 0; round < 40; round++) {
		for (unsigned k = 0; k < hot; k++) {
			access_key(&s, k, round >= 10);
			/* Two never-seen keys per hot access: a find(1). */
			access_key(&s, 1000000 + cold++, 0);
			access_key(&s, 1000000 + cold++, 0);
		}
	}
	cr_expect_geq(hit_rate(&s), 0.95, "hot set hit rate %.3f",
		      hit_rate(&s));
	sim_close(&s);
}

/* Popularity fades: a new hot set takes over from an old one. */
Test(admit, a_new_working_set_replaces_an_old_one)
{
	struct sim s;
	unsigned n = 1000;

	sim_open(&s, n, 1);
	for (int round = 0; round < 20; round++)
		for (unsigned k = 0; k < 900; k++)
			access_key(&s, k, 0);
	for (int round = 0; round < 60; round++)
		for (unsigned k = 5000; k < 5900; k++)
			access_key(&s, k, round >= 50);
	cr_expect_geq(hit_rate(&s), 0.95, "new set hit rate %.3f",
		      hit_rate(&s));
	sim_close(&s);
}

Test(admit, room_is_never_refused)
{
	struct sim s;

	sim_open(&s, 100, 1);
	for (unsigned k = 0; k < 100; k++)
		access_key(&s, k, 0);
	cr_assert_eq(s.hdr->entry_count, 100);
	cr_assert_eq(s.a.rejected, 0);
	sim_close(&s);
}

Test(admit, the_sketch_counts_saturates_and_halves)
{
	struct fw_admit a = { 0 };

	cr_assert_eq(fw_admit_init(&a, 10), 0);
	cr_assert_eq(a.width, 1024);
	cr_assert_eq(fw_admit_estimate(&a, 0x1234), 0);
	fw_admit_touch(&a, 0x1234);
	cr_assert_eq(fw_admit_estimate(&a, 0x1234), 1, "the doorkeeper");
	for (int i = 0; i < 20; i++)
		fw_admit_touch(&a, 0x1234);
	cr_assert_eq(fw_admit_estimate(&a, 0x1234), FW_ADMIT_MAX + 1);
	cr_assert_leq(fw_admit_estimate(&a, 0x99999), 1);
	/* After `sample` increments every counter is halved. */
	uint32_t left = a.sample - a.added;
	for (uint32_t i = 0; i < left; i++)
		fw_admit_touch(&a, 0xABCDEF00u + i * 7919u);
	cr_assert_eq(a.added, 0);
	cr_assert_leq(fw_admit_estimate(&a, 0x1234), FW_ADMIT_MAX / 2,
		      "halved, and the doorkeeper cleared");
	fw_admit_free(&a);
}
