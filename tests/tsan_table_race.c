/*
 * tsan_table_race.c - test_table's concurrent test (table_race.c) as a
 * plain program, for the builds where Criterion cannot run it: the
 * ThreadSanitizer pass (Criterion's runner does not start under TSan,
 * Criterion issue #274) and cross builds without Criterion (armhf).
 * Exit 0 when the reader saw no torn entry and no false miss; TSan makes
 * any data race it sees fail the run (exit code 66).
 *
 *   tsan_table_race [SEED]        (or FSC_SEED=SEED)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "table_race.h"

int main(int argc, char **argv)
{
	const char *env = getenv("FSC_SEED");
	const char *arg = argc > 1 ? argv[1] : env;
	uint64_t seed = arg && *arg ? strtoull(arg, NULL, 0)
				    : (uint64_t)time(NULL) ^
					      ((uint64_t)getpid() << 32);
	struct table_race *r = table_race_new(seed);
	struct table_race_report rep;
	char why[128] = "";

	if (!r) {
		fprintf(stderr, "table_race: out of memory\n");
		return 1;
	}
	int err = table_race_run(r, &rep, why, sizeof(why));
	table_race_free(r);
	printf("table_race: seed %" PRIu64 ": %lu reads (%lu of keys present "
	       "throughout), %lu gave up, %" PRIu64 " writes, %" PRIu64
	       " moves; torn %lu, false misses %lu, evictions %lu\n",
	       seed, rep.reads, rep.present_reads, rep.gave_up, rep.writes,
	       rep.moves, rep.torn, rep.false_misses, rep.evictions);
	if (err) {
		fprintf(stderr, "table_race: %s\n", why);
		return 1;
	}
	if (rep.torn || rep.false_misses || rep.evictions || !rep.moves) {
		fprintf(stderr, "table_race: FAIL (FSC_SEED=%" PRIu64 ")\n",
			seed);
		return 1;
	}
	printf("table_race: PASS\n");
	return 0;
}
