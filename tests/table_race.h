/*
 * table_race.h - the writer's table raced by a seqlock reader thread, in
 * one process: run by test_table (Criterion) and by the ThreadSanitizer
 * pass (tsan_table_race.c), which cannot use Criterion (its runner does
 * not start under TSan, Criterion issue #274).
 */
#ifndef FSC_TABLE_RACE_H
#define FSC_TABLE_RACE_H

#include <stdint.h>

#include "table.h"

struct table_race_report {
	unsigned long reads, present_reads, torn, false_misses, gave_up;
	unsigned long evictions; /* none may happen: the test keeps room */
	uint64_t writes, moves;
};

struct table_race;

/* A fake segment holding the race's keys; NULL if memory ran out. */
struct table_race *table_race_new(uint64_t seed);
/* Run the writer here and the reader on a thread until both did enough;
 * 0, or a negative errno if the thread could not start or a table call
 * failed (what failed is in `why`). */
int table_race_run(struct table_race *r, struct table_race_report *out,
		   char *why, size_t why_size);
/* The table and the segment the race ran on, for the caller's checks. */
const struct fw_table *table_race_table(const struct table_race *r);
void table_race_free(struct table_race *r);

#endif
