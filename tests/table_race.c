/*
 * table_race.c - a reader thread follows the protocol of seqlock.h
 * against the writer's table (writer/table.c) inserting, updating and
 * removing keys that share four home slots, so backward shifts move
 * entries all the time.  Every other round of reads follows the tag
 * array (format.h, minor 5) as the C reader does.
 *
 * For each key the writer keeps a presence version, odd while the key is
 * in the table: it is bumped after an insert and before a removal (each
 * side of a cmm_smp_wmb), so a reader that sees the same odd version
 * before and after its lookup knows the key was present throughout, and a
 * miss is a false miss.  Every payload holds blocks == ~size and ino ==
 * key number, so a torn copy shows.  Counts, not timing, end the run.
 */
#include "table_race.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fstatcache/atomics.h"
#include "fstatcache/format.h"
#include "fstatcache/seqlock.h"

#define RACE_KEYS 48
#define RACE_PATH 64
#define READS_WANTED 200000ul
#define WRITES_WANTED 300000
#define WRITES_MAX (50 * 1000 * 1000)
/* No eviction can happen: 48 keys, window 256, room for 1000. */
#define SLOTS 1024u
#define PATH_MAX_AREA 64u
#define PROBE_LIMIT 256u
#define MAX_ENTRIES 1000u

struct table_race {
	void *mem;
	struct fsc_header *hdr;
	uint8_t *use;
	uint16_t *tags; /* the tag array (format.h, minor 5) */
	struct fw_table t;
	uint64_t rng;
	char keys[RACE_KEYS][RACE_PATH];
	uint32_t presence[RACE_KEYS];
	int done;
	unsigned long reads, torn, false_misses, gave_up, present_reads;
	unsigned long evictions;
};

enum {
	R_FOUND,
	R_MISS,
	R_GAVE_UP
};

struct snapshot {
	uint32_t flags, path_len;
	uint64_t hash, ino, validated_ns; /* validated_ns: the cold tail */
	int64_t size, blocks, mtime_ns;
	char path[RACE_PATH];
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static const struct fsc_entry *slot_at(const struct table_race *r, uint32_t i)
{
	return (const struct fsc_entry *)(r->t.slots +
					  (size_t)i * r->t.entry_size);
}

/* Copy slot i under its seqlock; 0 on success, -1 when retries ran out. */
static int read_slot(const struct table_race *r, uint32_t i,
		     struct snapshot *out)
{
	const struct fsc_entry *e = slot_at(r, i);
	const uint64_t *words = (const uint64_t *)fw_table_entry_path(e);

	for (int tries = 0; tries < 1000; tries++) {
		uint32_t s1 = fsc_seq_read_begin(&e->seq);

		if (s1 & 1) {
			caa_cpu_relax();
			continue;
		}
		out->flags = uatomic_read(&e->flags);
		out->hash = uatomic_read(&e->hash);
		out->path_len = uatomic_read(&e->path_len);
		out->ino = uatomic_read(&e->ino);
		out->size = uatomic_read(&e->size);
		out->blocks = uatomic_read(&e->blocks);
		out->mtime_ns = uatomic_read(&e->mtime_ns);
		out->validated_ns = uatomic_read(
			&fw_table_entry_cold(&r->t, e)->validated_ns);
		for (unsigned w = 0; w < RACE_PATH / 8; w++) {
			uint64_t word = uatomic_read(&words[w]);

			memcpy(out->path + 8 * w, &word, 8);
		}
		if (!fsc_seq_read_retry(&e->seq, s1))
			return 0;
	}
	return -1;
}

/*
 * Look a key up as a reader does: by its slots alone, or (`tags`) reading
 * the tag array first and only the slots whose tag is the key's, a 0 tag
 * ending the probe (reader/lookup.h).
 */
static int read_key(const struct table_race *r, const char *key, int tags,
		    struct snapshot *snap)
{
	const struct fw_table *t = &r->t;
	uint32_t len = (uint32_t)strlen(key);
	uint64_t hash = fw_table_hash(t, key, len);

	for (int tries = 0; tries < 1000; tries++) {
		uint32_t g1 = fsc_seq_read_begin(&r->hdr->table_gen);
		int failed = 0;

		if (g1 & 1) {
			caa_cpu_relax();
			continue;
		}
		for (uint32_t d = 0; d < t->probe_limit; d++) {
			uint32_t i = ((uint32_t)hash + d) & t->mask;
			if (tags) {
				uint16_t tag = uatomic_read(&r->tags[i]);
				if (tag == 0)
					break;
				if (tag != fsc_tag(hash))
					continue;
			}
			if (read_slot(r, i, snap) < 0) {
				failed = 1;
				break;
			}
			if (!(snap->flags & FSC_ENT_USED))
				break;
			if (snap->hash == hash && snap->path_len == len &&
			    memcmp(snap->path, key, len) == 0)
				return R_FOUND;
		}
		if (!failed && !fsc_seq_read_retry(&r->hdr->table_gen, g1))
			return R_MISS;
	}
	return R_GAVE_UP;
}

/* Ties a slot's cold tail to its head in every put. */
#define RACE_COLD UINT64_C(0x5eed0000c01d0000)

static int torn(const struct snapshot *s, unsigned k)
{
	return s->blocks != ~s->size || s->ino != k ||
	       s->mtime_ns != s->size * 1000000000 ||
	       s->validated_ns != ((uint64_t)s->size ^ RACE_COLD) ||
	       s->path_len >= RACE_PATH || s->path[s->path_len] != '\0';
}

static void *reader_main(void *arg)
{
	struct table_race *r = arg;

	for (unsigned n = 0; !uatomic_read(&r->done); n++) {
		unsigned k = n % RACE_KEYS;
		struct snapshot snap;
		uint32_t v1 = uatomic_read(&r->presence[k]);

		cmm_smp_rmb();
		int res = read_key(r, r->keys[k], n / RACE_KEYS % 2, &snap);

		cmm_smp_rmb();
		int stayed = (v1 & 1) && uatomic_read(&r->presence[k]) == v1;

		if (res == R_FOUND && torn(&snap, k))
			r->torn++;
		else if (res == R_MISS && stayed)
			r->false_misses++;
		else if (res == R_GAVE_UP)
			r->gave_up++;
		r->present_reads += stayed;
		uatomic_set(&r->reads, r->reads + 1);
	}
	return NULL;
}

static void evicted(void *ctx, const char *path, uint32_t len)
{
	struct table_race *r = ctx;

	(void)path;
	(void)len;
	r->evictions++;
}

static int race_put(struct table_race *r, unsigned k, int64_t version)
{
	struct fw_record rec = { 0 };
	int fresh = !(r->presence[k] & 1);

	rec.flags = FSC_ENT_EXISTS;
	rec.mode = 0100644;
	rec.nlink = 1;
	rec.ino = k;
	rec.size = version;
	rec.blocks = ~version;
	rec.mtime_sec = version; /* the head's second line */
	rec.validated_ns = (uint64_t)version ^ RACE_COLD; /* the cold tail */
	if (fw_table_put(&r->t, r->keys[k], (uint32_t)strlen(r->keys[k]), &rec,
			 evicted, r) < 0)
		return -1;
	if (fresh) {
		cmm_smp_wmb(); /* the entry before the news that it is there */
		uatomic_set(&r->presence[k], r->presence[k] + 1);
	}
	return 0;
}

static int race_remove(struct table_race *r, unsigned k)
{
	if (!(r->presence[k] & 1))
		return 0;
	uatomic_set(&r->presence[k], r->presence[k] + 1);
	cmm_smp_wmb(); /* the news that it is going before it goes */
	return fw_table_remove(&r->t, r->keys[k],
			       (uint32_t)strlen(r->keys[k])) == 0
		       ? 0
		       : -1;
}

/* Brute-force a path whose home slot is `home`. */
static int path_with_home(struct table_race *r, uint32_t home, unsigned k)
{
	for (unsigned n = 0; n < 1000000u; n++) {
		char *p = r->keys[k];

		snprintf(p, RACE_PATH, "/var/log/race%u/%u.log", k, n);
		if (((uint32_t)fw_table_hash(&r->t, p, strlen(p)) &
		     r->t.mask) == home)
			return 0;
	}
	return -1;
}

struct table_race *table_race_new(uint64_t seed)
{
	struct table_race *r = calloc(1, sizeof(*r));
	size_t size =
		FSC_HEADER_SIZE + (size_t)SLOTS * FSC_ENTRY_SIZE(PATH_MAX_AREA);
	struct fsc_header *h;

	if (!r)
		return NULL;
	size = (size + 4095) & ~(size_t)4095;
	r->mem = aligned_alloc(4096, size);
	r->use = calloc(SLOTS, 1);
	r->tags = calloc(SLOTS, sizeof(*r->tags));
	if (!r->mem || !r->use || !r->tags) {
		table_race_free(r);
		return NULL;
	}
	memset(r->mem, 0, size);
	h = r->hdr = r->mem;
	h->magic = FSC_MAGIC;
	h->version_major = FSC_FORMAT_MAJOR;
	h->version_minor = FSC_FORMAT_MINOR;
	h->header_size = FSC_HEADER_SIZE;
	h->entry_size = FSC_ENTRY_SIZE(PATH_MAX_AREA);
	h->slot_count = SLOTS;
	h->probe_limit = PROBE_LIMIT;
	h->path_max = PATH_MAX_AREA;
	h->max_entries = MAX_ENTRIES;
	h->hash_seed = 77;
	h->segment_size = FSC_HEADER_SIZE +
			  (uint64_t)SLOTS * FSC_ENTRY_SIZE(PATH_MAX_AREA);
	r->rng = seed | 1;
	if (fw_table_bind(&r->t, r->hdr, r->use) != 0) {
		table_race_free(r);
		return NULL;
	}
	fw_table_set_tags(&r->t, r->tags);
	return r;
}

int table_race_run(struct table_race *r, struct table_race_report *out,
		   char *why, size_t why_size)
{
	pthread_t th;
	int64_t v;
	int err;

	memset(out, 0, sizeof(*out));
	for (unsigned k = 0; k < RACE_KEYS; k++) {
		if (path_with_home(r, 100 + k % 4, k) < 0 ||
		    race_put(r, k, 0) < 0) {
			snprintf(why, why_size, "setting up key %u failed", k);
			return -EINVAL;
		}
	}
	err = pthread_create(&th, NULL, reader_main, r);
	if (err) {
		snprintf(why, why_size, "pthread_create: %s", strerror(err));
		return -err;
	}
	while (uatomic_read(&r->reads) == 0)
		sched_yield();
	for (v = 1; v < WRITES_MAX && (v < WRITES_WANTED ||
				       uatomic_read(&r->reads) < READS_WANTED);
	     v++) {
		unsigned k = (unsigned)(rng_next(&r->rng) % RACE_KEYS);

		/* Mostly present keys, so most lookups have a key to find. */
		if (rng_next(&r->rng) % 4 == 0 ? race_remove(r, k) < 0
					       : race_put(r, k, v) < 0) {
			snprintf(why, why_size, "table call failed on key %u",
				 k);
			err = -EIO;
			break;
		}
	}
	uatomic_set(&r->done, 1);
	pthread_join(th, NULL);
	out->reads = r->reads;
	out->present_reads = r->present_reads;
	out->torn = r->torn;
	out->false_misses = r->false_misses;
	out->gave_up = r->gave_up;
	out->evictions = r->evictions;
	out->writes = (uint64_t)v;
	out->moves = r->hdr->counters[FSC_CTR_MOVES];
	return err;
}

const struct fw_table *table_race_table(const struct table_race *r)
{
	return &r->t;
}

void table_race_free(struct table_race *r)
{
	if (!r)
		return;
	free(r->mem);
	free(r->use);
	free(r->tags);
	free(r);
}
