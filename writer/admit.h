/*
 * admit.h - which missed path may take a place in a full table.
 *
 * At its memory limit the table evicts to make room, and an insertion
 * policy that admits every miss lets a scan (a poller cycling over more
 * paths than the table holds, a one-time `find`) push out the entries
 * readers use every poll: with CLOCK, a cyclic scan over 1.25 times the
 * table hits about 20 % of the time.  TinyLFU's answer, used here: keep
 * an approximate count of how often each key was wanted recently (a
 * count-min sketch of small saturating counters, halved every so many
 * increments so that old popularity fades, behind a "doorkeeper" bit set
 * that takes each key's first want, so that keys wanted once do not fill
 * the counters), and admit a missed key only
 * if it was wanted more often than the entry CLOCK would evict for it.
 * A key is "wanted" when a reader misses it (its watch request) and when
 * the CLOCK hand finds its use mark set (a reader hit it since the hand
 * last passed).  In a cyclic scan every key is wanted as often as every
 * other, so the residents stay and hit (0.8 of the time at 1.25x); a hot
 * entry is wanted every round and a one-time key once, so the hot entry
 * stays.  Explicit watches (the command line, `fstatcache watch`) are
 * always admitted; only readers' misses go through this.
 *
 * Why not ARC or CLOCK-Pro: both split the cache into a recency and a
 * frequency part sized by ghost lists as long as the cache, and move
 * entries between them; here the table is one open-addressed array that
 * readers probe, and CLOCK over the readers' use marks stays as it is.
 * TinyLFU only decides at the door: a sketch of 16 bytes and a
 * doorkeeper of one byte per entry, private to the writer, and one
 * comparison per insertion.
 */
#ifndef FW_ADMIT_H
#define FW_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

struct fw_table;

struct fw_admit {
	uint8_t *counts; /* FW_ADMIT_ROWS rows of `width` counters */
	uint64_t *door;  /* the doorkeeper: 2 * width bits */
	uint32_t width;  /* a power of two */
	uint32_t added;  /* increments since the last halving */
	uint32_t sample; /* halve after this many */
	uint64_t admitted, rejected;
};

#define FW_ADMIT_ROWS 4
#define FW_ADMIT_MAX 15 /* counters saturate here (estimates: +1) */

/* Size the sketch for a table of `entries`; 0 or -ENOMEM.  A sketch
 * resized (growth) starts empty. */
int fw_admit_init(struct fw_admit *a, uint32_t entries);
void fw_admit_free(struct fw_admit *a);

/* Key `hash` was wanted once more. */
void fw_admit_touch(struct fw_admit *a, uint64_t hash);

/* How often `hash` was wanted recently (an overestimate, 0..16). */
unsigned fw_admit_estimate(const struct fw_admit *a, uint64_t hash);

/*
 * A reader missed `hash`: count it, and say whether it may be inserted
 * into `t` now: yes while the table has room; when full, yes only if it
 * was wanted more often than the entry CLOCK picks to evict.
 */
bool fw_admit_miss(struct fw_admit *a, struct fw_table *t, uint64_t hash);

#endif /* FW_ADMIT_H */
