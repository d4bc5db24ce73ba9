/*
 * check.h - what `fstatcache check`'s two files share: the state of a
 * pass, and what check_slots.c offers cmd_check.c: the checks of the
 * table's contents (slots, structure, counts, the .use object) and how a
 * violation is recorded.  cmd_check.c checks the object and the header
 * and runs the passes.
 */
#ifndef FSC_TOOL_CHECK_H
#define FSC_TOOL_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "cmd.h"
#include "view.h"

#define SEQ_TRIES 100     /* seqlock attempts per slot, sched_yield between */
#define MAX_REPORTED 1000 /* violation lines printed; the rest are counted */
#define DUP_RUN_MAX 64    /* keys of one hash compared pairwise */

struct key {
	uint64_t hash; /* computed from the key, not the stored one */
	uint32_t slot;
};

struct check {
	const struct tool_ctx *ctx;
	struct view v;
	char **msgs; /* this pass's violations */
	size_t nmsgs, cap;
	uint64_t dropped; /* beyond MAX_REPORTED, or unformattable */
	/* The pass over the slots. */
	uint8_t *used; /* per slot: 0 empty, 1 used, 2 unknown (busy) */
	struct key *keys;
	size_t nkeys;
	uint64_t nused, nnocache, nchanged;
	uint64_t nbusy; /* slots never read consistently: used or not */
	int unverified; /* this pass was not stable: structure not judged */
	int no_slots;   /* the geometry does not allow reading slots */
};

/* check_slots.c: record one violation of this pass (at most MAX_REPORTED
 * are kept). */
void violation(struct check *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* check_slots.c: each slot, copied under its seqlock. */
void check_slots(struct check *c);
/* The structure (reachability, duplicates); from a stable pass only. */
void check_structure(struct check *c);
/* entry_count and the counters against the slots; stable pass only. */
void check_counts(struct check *c, const struct fsc_header *before,
		  const struct fsc_header *after);
/* The .use object beside the table. */
void check_use(struct check *c, const struct fsc_header *h);
/* The tag array's object (its tags are checked with the slots). */
void check_tags(struct check *c, const struct fsc_header *h);
/* The change feed's header and records (check_slots.c). */
void check_feed(struct check *c, const struct fsc_header *h);

#endif
