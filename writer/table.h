/*
 * table.h - the writer's side of the shared open-addressed table.
 *
 * The table lives in the segment (see include/fstatcache/format.h): linear
 * probing over a power-of-two number of slots, no entry further than
 * probe_limit slots from its home, at most max_entries used slots, CLOCK
 * eviction driven by the use bytes readers set.  Only the writer calls
 * these functions (single-threaded); readers follow the seqlock protocol
 * of include/fstatcache/seqlock.h (what guards what: table.c).
 */
#ifndef FW_TABLE_H
#define FW_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "feed.h"
#include "fstatcache/format.h"

/* What the writer knows about one path, to be published in its entry. */
struct fw_record {
	uint32_t flags;  /* FSC_ENT_EXISTS, FSC_ENT_NOCACHE (USED is implied) */
	uint32_t reason; /* FSC_REASON_* with FSC_ENT_NOCACHE */
#define FW_RECORD_FIELD(type, name, member) type name;
	FSC_STAT_FIELDS(FW_RECORD_FIELD) /* mode ... blksize (format.h) */
#undef FW_RECORD_FIELD
	int64_t atime_sec; /* st_atim */
	uint32_t atime_nsec;
	uint64_t validated_ns;
};

/*
 * Whether every value of `rec` fits its place in an entry (format.h:
 * times in 1677-2262, nlink and rdev in 32 bits).  A record that does not
 * is published as FSC_REASON_RANGE.
 */
int fw_record_fits(const struct fw_record *rec);

struct fw_table {
	struct fsc_header *hdr;
	unsigned char *slots; /* (unsigned char *)hdr + hdr->header_size */
	uint8_t *use;         /* capacity bytes of recency marks */
	uint64_t seed;
	uint32_t capacity, mask, entry_size, path_max, probe_limit, max_entries;
	uint32_t hand;        /* CLOCK hand */
	struct fw_feed *feed; /* every publication is appended here */
	uint16_t *tags;       /* capacity tags (format.h, minor 5), or NULL */
	/* Told the key of each entry whose use mark the CLOCK hand finds
	 * set (a reader hit it since the hand last passed), or NULL. */
	void (*used)(void *ctx, uint64_t hash);
	void *used_ctx;
};

/*
 * Called with the key of an entry the table drops to make room.  `path`
 * points into the slot and is valid only during the call; the callback
 * must not call back into the table.
 */
typedef void (*fw_evict_fn)(void *ctx, const char *path, uint32_t len);

/*
 * Bind `t` to a header the segment code has filled in (capacity, entry_size,
 * path_max, probe_limit, max_entries, hash_seed) and to `use`.  Slots must
 * be zeroed already (a fresh segment is).  Returns 0 or -EINVAL.
 */
int fw_table_bind(struct fw_table *t, struct fsc_header *hdr, uint8_t *use);

/*
 * From now on, append a record to `feed` (NULL: none) for every answer
 * published: puts that change what readers see, changed marks, evictions,
 * removals (fw_table_clear: one FSC_CHANGE_ALL).  Moves by backward shift
 * change no answer and are not recorded.
 */
void fw_table_set_feed(struct fw_table *t, struct fw_feed *feed);

/*
 * From now on, keep `tags` (capacity uint16_t, the tag array of format.h;
 * NULL: none) in step with the slots; they are set now from the slots as
 * they are.
 */
void fw_table_set_tags(struct fw_table *t, uint16_t *tags);

/*
 * The entry CLOCK would evict next, without evicting it: its key hash in
 * *hash and its slot, or -1 if the table is empty.  The hand moves (and
 * clears use marks on its way) as for an eviction, and stays on it: an
 * insertion that follows evicts that same entry unless a reader hit it
 * meanwhile.
 */
int64_t fw_table_victim(struct fw_table *t, uint64_t *hash);

/* The key hash readers compute too. */
uint64_t fw_table_hash(const struct fw_table *t, const char *path,
		       uint32_t len);

/* Slot holding `path`, or -1. */
int64_t fw_table_find(const struct fw_table *t, const char *path, uint32_t len);

/*
 * Insert or rewrite the entry for `path`.  When the table is full (or the
 * probe window from the key's home is full) an entry is evicted by CLOCK;
 * `evicted` is told its key before the slot is reused.  Returns the slot,
 * or -ENAMETOOLONG (len >= path_max), -EINVAL (len == 0).
 */
int64_t fw_table_put(struct fw_table *t, const char *path, uint32_t len,
		     const struct fw_record *rec, fw_evict_fn evicted,
		     void *ctx);

/*
 * Mark the entry for `path` changed (FSC_ENT_NOCACHE with
 * FSC_REASON_CHANGED): readers answer it by stat() until the next put.
 * No system call.  1 if marked, 0 if it was answered by stat() already,
 * -ENOENT if not in the table.
 */
int fw_table_mark_changed(struct fw_table *t, const char *path, uint32_t len);

/* Drop the entry for `path` (backward-shift deletion).  0 or -ENOENT. */
int fw_table_remove(struct fw_table *t, const char *path, uint32_t len);

/* Drop every entry. */
void fw_table_clear(struct fw_table *t);

/* Entry at `slot` (writer's own view; no seqlock needed), NULL if empty. */
const struct fsc_entry *fw_table_entry(const struct fw_table *t, uint32_t slot);

/* Its path (NUL-terminated inside the slot). */
const char *fw_table_entry_path(const struct fsc_entry *e);

/* Its cold tail: why it is answered by stat(), when it was validated. */
const struct fsc_entry_cold *fw_table_entry_cold(const struct fw_table *t,
						 const struct fsc_entry *e);

/* What it holds, as a record fw_table_put() would publish the same. */
void fw_table_entry_record(const struct fw_table *t, const struct fsc_entry *e,
			   struct fw_record *rec);

#endif /* FW_TABLE_H */
