/*
 * admit.c - the admission policy (admit.h): a count-min sketch of how
 * often keys were wanted, and the comparison at the door.
 */
#include "admit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

int fw_admit_init(struct fw_admit *a, uint32_t entries)
{
	uint32_t width = 1024;

	/* Four counters per entry a row: room for the keys wanted in one
	 * sample (ten per entry) beyond the doorkeeper. */
	while (width < 4u * entries && width < (1u << 28))
		width <<= 1;
	uint8_t *c = calloc(FW_ADMIT_ROWS, width);
	uint64_t *d = calloc(2u * width / 64u, sizeof(uint64_t));
	if (!c || !d) {
		free(c);
		free(d);
		return -ENOMEM;
	}
	fw_admit_free(a);
	a->counts = c;
	a->door = d;
	a->width = width;
	a->added = 0;
	/* TinyLFU's sample: ten wants per entry of the table. */
	a->sample = 10u * (entries ? entries : 1u);
	return 0;
}

void fw_admit_free(struct fw_admit *a)
{
	free(a->counts);
	free(a->door);
	a->counts = NULL;
	a->door = NULL;
}

/* The doorkeeper's two bits for `hash`. */
static void door_bits(const struct fw_admit *a, uint64_t hash, uint32_t b[2])
{
	uint32_t mask = 2u * a->width - 1;
	b[0] = (uint32_t)hash & mask;
	b[1] = (uint32_t)(hash >> 32) & mask;
}

static bool door_has(const struct fw_admit *a, uint64_t hash)
{
	uint32_t b[2];
	door_bits(a, hash, b);
	return (a->door[b[0] / 64] >> (b[0] % 64) & 1) &&
	       (a->door[b[1] / 64] >> (b[1] % 64) & 1);
}

static void door_add(struct fw_admit *a, uint64_t hash)
{
	uint32_t b[2];
	door_bits(a, hash, b);
	a->door[b[0] / 64] |= UINT64_C(1) << (b[0] % 64);
	a->door[b[1] / 64] |= UINT64_C(1) << (b[1] % 64);
}

/* Row r's counter for `hash`: 16 bits of the hash each, mixed again. */
static uint8_t *counter(const struct fw_admit *a, unsigned r, uint64_t hash)
{
	uint64_t h = (hash >> (16 * r)) * UINT64_C(0x9E3779B97F4A7C15);
	return &a->counts[(size_t)r * a->width +
			  ((uint32_t)(h >> 32) & (a->width - 1))];
}

static void halve(struct fw_admit *a)
{
	for (size_t i = 0; i < (size_t)FW_ADMIT_ROWS * a->width; i++)
		a->counts[i] >>= 1;
	memset(a->door, 0, 2u * a->width / 8u);
	a->added = 0;
}

void fw_admit_touch(struct fw_admit *a, uint64_t hash)
{
	if (!a->counts)
		return;
	if (++a->added >= a->sample)
		halve(a);
	if (!door_has(a, hash)) { /* a first want only passes the door */
		door_add(a, hash);
		return;
	}
	for (unsigned r = 0; r < FW_ADMIT_ROWS; r++) {
		uint8_t *c = counter(a, r, hash);
		if (*c < FW_ADMIT_MAX)
			(*c)++;
	}
}

unsigned fw_admit_estimate(const struct fw_admit *a, uint64_t hash)
{
	unsigned m = FW_ADMIT_MAX;

	if (!a->counts)
		return 0;
	for (unsigned r = 0; r < FW_ADMIT_ROWS; r++) {
		unsigned v = *counter(a, r, hash);
		if (v < m)
			m = v;
	}
	return m + door_has(a, hash);
}

bool fw_admit_miss(struct fw_admit *a, struct fw_table *t, uint64_t hash)
{
	uint64_t victim;

	fw_admit_touch(a, hash);
	if (t->hdr->entry_count < t->max_entries ||
	    fw_table_victim(t, &victim) < 0) {
		a->admitted++;
		return true;
	}
	if (fw_admit_estimate(a, hash) > fw_admit_estimate(a, victim)) {
		a->admitted++;
		return true;
	}
	a->rejected++;
	return false;
}
