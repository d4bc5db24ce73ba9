/*
 * check_slots.c - `fstatcache check` on the table's contents: every slot
 * (seq even, flags, key well formed and NUL-padded, hash, stat fields,
 * reason), then, from a stable pass only, the structure (every key within
 * probe_limit of its home slot with no empty slot between, no duplicate
 * keys) and entry_count and the counters against the slots, and the .use
 * object; and violation(), which every check records its findings with.
 * How passes are run and judged is in cmd_check.c.
 */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- violations ------------------------------------------------------ */

void violation(struct check *c, const char *fmt, ...)
{
	if (c->nmsgs >= MAX_REPORTED) {
		c->dropped++;
		return;
	}
	if (c->nmsgs == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		char **m = realloc(c->msgs, cap * sizeof(*m));
		if (!m) {
			c->dropped++;
			return;
		}
		c->msgs = m;
		c->cap = cap;
	}
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		c->msgs[c->nmsgs++] = s;
	else
		c->dropped++;
}

/* ---- slots ------------------------------------------------------------ */

/* `p` quoted for a one-line message; "?" when out of memory. */
static char *quoted(const char *p, size_t n)
{
	char *q = tool_quote_path(p, n);
	return q ? q : strdup("?");
}

/* The key: path_len, NUL termination and padding.  0 when usable. */
static int check_key(struct check *c, uint32_t slot, const struct fsc_entry *e)
{
	const char *p = view_entry_path(e);
	uint32_t len = e->path_len, pm = c->v.path_max;
	if (len < 1 || len >= pm) {
		violation(c, "slot %u: path_len %u out of range 1..%u", slot,
			  len, pm - 1);
		return -1;
	}
	const char *nul = memchr(p, 0, len);
	if (nul) {
		violation(c,
			  "slot %u: NUL byte inside the key at offset %zu "
			  "(path_len %u)",
			  slot, (size_t)(nul - p), len);
		return -1;
	}
	if (p[len] != '\0')
		violation(c, "slot %u: key not NUL-terminated at path_len %u",
			  slot, len);
	else
		for (uint32_t i = len + 1; i < pm; i++)
			if (p[i]) {
				violation(c,
					  "slot %u: path area not NUL-padded "
					  "(byte %u after the key is 0x%02x)",
					  slot, i, (unsigned char)p[i]);
				break;
			}
	if (!fsc_path_ok(p, len)) {
		char *q = quoted(p, len);
		violation(c,
			  "slot %u: key %s is not a canonical absolute path "
			  "(no reader can look it up)",
			  slot, q);
		free(q);
	}
	return 0;
}

static void check_stat_fields(struct check *c, uint32_t slot,
			      const struct fsc_entry *e)
{
	if (e->flags & FSC_ENT_EXISTS) {
		if (!fsc_mode_ok(e->mode))
			violation(c,
				  "slot %u: mode 0%o is not a known file "
				  "type",
				  slot, e->mode);
		if (e->size < 0 || e->blocks < 0)
			violation(c,
				  "slot %u: negative size (%lld) or blocks "
				  "(%lld)",
				  slot, (long long)e->size,
				  (long long)e->blocks);
	}
	uint32_t why = view_entry_cold(&c->v, e)->reason;
	if ((e->flags & FSC_ENT_NOCACHE) && !view_reason_name(why))
		violation(c, "slot %u: NOCACHE with unknown reason %u", slot,
			  why);
	if (!(e->flags & FSC_ENT_NOCACHE) && why)
		violation(c, "slot %u: reason %u without NOCACHE", slot, why);
}

static void check_used_entry(struct check *c, uint32_t slot,
			     const struct fsc_entry *e)
{
	c->nused++;
	if ((e->flags & FSC_ENT_NOCACHE) &&
	    view_entry_cold(&c->v, e)->reason == FSC_REASON_CHANGED)
		c->nchanged++;
	else if (e->flags & FSC_ENT_NOCACHE)
		c->nnocache++;
	check_stat_fields(c, slot, e);
	if (check_key(c, slot, e) < 0)
		return;
	uint64_t want = XXH3_64bits_withSeed(view_entry_path(e), e->path_len,
					     c->v.seed);
	if (e->hash != want)
		violation(c,
			  "slot %u: hash 0x%016llx does not match its key "
			  "(want 0x%016llx)",
			  slot, (unsigned long long)e->hash,
			  (unsigned long long)want);
	c->keys[c->nkeys++] = (struct key){ want, slot };
}

/* The slot's tag, read in the same seqlock window as the copy. */
static void check_tag(struct check *c, uint32_t slot, const struct fsc_entry *e,
		      uint16_t tag)
{
	uint16_t want = (e->flags & FSC_ENT_USED) ? fsc_tag(e->hash) : 0;
	if (c->v.tags && tag != want)
		violation(c,
			  "slot %u: tag 0x%04x, want 0x%04x (readers that "
			  "probe by tags %s)",
			  slot, tag, want,
			  want ? "miss its key" : "read it for nothing");
}

void check_slots(struct check *c)
{
	_Alignas(8) unsigned char buf[VIEW_ENTRY_BUF];
	const struct fsc_entry *e = (const struct fsc_entry *)buf;
	const uint32_t known = FSC_ENT_USED | FSC_ENT_EXISTS | FSC_ENT_NOCACHE;
	for (uint32_t slot = 0; slot < c->v.slot_count; slot++) {
		uint16_t tag;
		c->used[slot] = 0;
		if (view_slot_copy_tag(&c->v, slot, buf, &tag, SEQ_TRIES, 1) <
		    0) {
			c->used[slot] = 2; /* unknown: no gap blamed on it */
			c->nbusy++;
			violation(c,
				  "slot %u: seq %u %s after %d reads (a "
				  "rewrite was interrupted)",
				  slot, e->seq,
				  (e->seq & 1) ? "stays odd" : "keeps changing",
				  SEQ_TRIES);
			continue;
		}
		if (e->flags & ~known)
			violation(c, "slot %u: unknown flag bits 0x%x", slot,
				  e->flags & ~known);
		check_tag(c, slot, e, tag);
		if (!(e->flags & FSC_ENT_USED))
			continue;
		c->used[slot] = 1;
		check_used_entry(c, slot, e);
	}
}

/* ---- structure --------------------------------------------------------- */

static void check_reachable(struct check *c, const struct key *k)
{
	uint32_t home = (uint32_t)k->hash & c->v.mask;
	uint32_t dist = (k->slot - home) & c->v.mask;
	if (dist >= c->v.probe_limit) {
		violation(c,
			  "slot %u: %u slots from its home slot %u, outside "
			  "the probe window (probe_limit %u): unreachable",
			  k->slot, dist, home, c->v.probe_limit);
		return;
	}
	for (uint32_t s = home; s != k->slot; s = (s + 1) & c->v.mask) {
		if (c->used[s] == 0) {
			violation(c,
				  "slot %u: unreachable: slot %u between its "
				  "home slot %u and it is empty",
				  k->slot, s, home);
			return;
		}
	}
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return (a->slot > b->slot) - (a->slot < b->slot);
}

/* Re-read two slots of equal hash and compare their keys. */
static void compare_keys(struct check *c, uint32_t s1, uint32_t s2)
{
	_Alignas(8) unsigned char b1[VIEW_ENTRY_BUF], b2[VIEW_ENTRY_BUF];
	const struct fsc_entry *e1 = (const void *)b1, *e2 = (const void *)b2;
	if (view_slot_copy(&c->v, s1, b1, SEQ_TRIES, 1) < 0 ||
	    view_slot_copy(&c->v, s2, b2, SEQ_TRIES, 1) < 0 ||
	    !(e1->flags & e2->flags & FSC_ENT_USED) ||
	    e1->path_len != e2->path_len || e1->path_len >= c->v.path_max ||
	    memcmp(view_entry_path(e1), view_entry_path(e2), e1->path_len))
		return;
	char *q = quoted(view_entry_path(e1), e1->path_len);
	violation(c, "slot %u: duplicate key: slot %u holds the same path %s",
		  s2, s1, q);
	free(q);
}

static void check_duplicates(struct check *c)
{
	qsort(c->keys, c->nkeys, sizeof(c->keys[0]), key_cmp);
	for (size_t i = 0; i < c->nkeys;) {
		size_t j = i + 1;
		while (j < c->nkeys && c->keys[j].hash == c->keys[i].hash)
			j++;
		size_t end = j - i > DUP_RUN_MAX ? i + DUP_RUN_MAX : j;
		for (size_t a = i; a < end; a++)
			for (size_t b = a + 1; b < end; b++)
				compare_keys(c, c->keys[a].slot,
					     c->keys[b].slot);
		i = j;
	}
}

void check_structure(struct check *c)
{
	for (size_t i = 0; i < c->nkeys; i++)
		check_reachable(c, &c->keys[i]);
	check_duplicates(c);
}

/*
 * entry_count and the counters against what the pass saw.  `before` was
 * read before the pass, `after` after it: counters only grow, so taking
 * sums from `before` and bounds from `after` stays true while a correct
 * writer runs.
 */
void check_counts(struct check *c, const struct fsc_header *before,
		  const struct fsc_header *after)
{
	const uint64_t *b = before->counters, *a = after->counters;
	if (after->entry_count < c->nused ||
	    after->entry_count > c->nused + c->nbusy) {
		if (c->nbusy)
			violation(c,
				  "header: entry_count %u but %llu slots are "
				  "used (and %llu unreadable)",
				  after->entry_count,
				  (unsigned long long)c->nused,
				  (unsigned long long)c->nbusy);
		else
			violation(c,
				  "header: entry_count %u but %llu slots "
				  "are used",
				  after->entry_count,
				  (unsigned long long)c->nused);
	}
	if (after->entry_count > after->max_entries)
		violation(c, "header: entry_count %u above max_entries %u",
			  after->entry_count, after->max_entries);
	if (a[FSC_CTR_INSERTS] < c->nused)
		violation(c,
			  "header: counters: inserts %llu below the %llu "
			  "used slots",
			  (unsigned long long)a[FSC_CTR_INSERTS],
			  (unsigned long long)c->nused);
	uint64_t gone = b[FSC_CTR_EVICTIONS] + b[FSC_CTR_REMOVALS];
	if (gone > a[FSC_CTR_INSERTS])
		violation(c,
			  "header: counters: evictions + removals %llu "
			  "above inserts %llu",
			  (unsigned long long)gone,
			  (unsigned long long)a[FSC_CTR_INSERTS]);
	if (c->nnocache > a[FSC_CTR_UNCACHEABLE])
		violation(c,
			  "header: counters: %llu entries answered by "
			  "stat() but uncacheable is %llu",
			  (unsigned long long)c->nnocache,
			  (unsigned long long)a[FSC_CTR_UNCACHEABLE]);
	if (c->nchanged > a[FSC_CTR_CHANGED_MARKS])
		violation(c,
			  "header: counters: %llu entries marked changed "
			  "but changed_marks is %llu",
			  (unsigned long long)c->nchanged,
			  (unsigned long long)a[FSC_CTR_CHANGED_MARKS]);
}

/* ---- the .use object --------------------------------------------------- */

static void check_use_header(struct check *c, const struct fsc_use_header *u,
			     const struct fsc_header *h)
{
	if (u->magic != FSC_USE_MAGIC)
		violation(c, "use: bad magic 0x%016llx (want 0x%016llx)",
			  (unsigned long long)u->magic,
			  (unsigned long long)FSC_USE_MAGIC);
	if (u->epoch != h->epoch)
		violation(c,
			  "use: epoch 0x%016llx differs from the table's "
			  "0x%016llx (a stale or foreign .use object)",
			  (unsigned long long)u->epoch,
			  (unsigned long long)h->epoch);
	if (u->slot_count != h->slot_count)
		violation(c, "use: slot_count %u differs from the table's %u",
			  u->slot_count, h->slot_count);
	if (uatomic_read(&u->reserved1))
		violation(c, "use: reserved fields are not 0");
}

void check_use(struct check *c, const struct fsc_header *h)
{
	int fd = shm_open(c->v.use_shm, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		violation(c, "use: cannot open %s: %s", c->v.use_shm,
			  strerror(errno));
		return;
	}
	struct stat st;
	void *p = MAP_FAILED;
	uint64_t want = FSC_USE_HEADER_SIZE + (uint64_t)h->slot_count;
	if (fstat(fd, &st) < 0) {
		violation(c, "use: fstat %s: %s", c->v.use_shm,
			  strerror(errno));
	} else {
		if (!fsc_owner_ok(&st, c->v.owner, 1))
			violation(c,
				  "use: %s belongs to uid %u with mode %04o: "
				  "readers refuse it",
				  c->v.use_shm, (unsigned)st.st_uid,
				  (unsigned)(st.st_mode & 07777));
		if ((uint64_t)st.st_size != want)
			violation(c,
				  "use: size %llu (want %u + slot_count = "
				  "%llu)",
				  (unsigned long long)st.st_size,
				  FSC_USE_HEADER_SIZE,
				  (unsigned long long)want);
		if (st.st_size >= (off_t)FSC_USE_HEADER_SIZE)
			p = mmap(NULL, FSC_USE_HEADER_SIZE, PROT_READ,
				 MAP_SHARED, fd, 0);
	}
	close(fd);
	if (p == MAP_FAILED)
		return;
	check_use_header(c, p, h);
	munmap(p, FSC_USE_HEADER_SIZE);
}

/* ---- the tag array (format 1.5) ------------------------------------------ */

void check_tags(struct check *c, const struct fsc_header *h)
{
	const struct view *v = &c->v;
	if (!(h->flags & FSC_SEG_F_TAGS))
		return; /* a writer of 1.4 or older: readers probe slots */
	if (v->tags_err == -ENOENT && !v->layout_ok)
		return; /* slots not readable: the geometry says why */
	switch (v->tags_err) {
	case 0:
		break;
	case -EPERM:
		violation(c,
			  "tags: %s belongs to uid %u with mode %04o: "
			  "readers refuse it",
			  v->tags_shm, (unsigned)v->tags_st.st_uid,
			  (unsigned)(v->tags_st.st_mode & 07777));
		return;
	case -EPROTO:
		violation(c,
			  "tags: %s does not match the table (size %llu, "
			  "want %u + 2 x slot_count; or its magic, epoch or "
			  "slot_count): readers ignore it",
			  v->tags_shm, (unsigned long long)v->tags_st.st_size,
			  FSC_TAGS_HEADER_SIZE);
		return;
	default:
		violation(c,
			  "tags: the header says the writer keeps %s, but it "
			  "cannot be opened: %s",
			  v->tags_shm, strerror(-v->tags_err));
		return;
	}
	const struct fsc_tags_header *t =
		(const struct fsc_tags_header *)(const void *)v->tags_base;
	int reserved = uatomic_read(&t->reserved0) != 0;
	for (int i = 0; i < 5; i++)
		reserved |= uatomic_read(&t->reserved[i]) != 0;
	if (reserved)
		violation(c, "tags: reserved fields are not 0");
}

/* ---- the change feed ----------------------------------------------------- */

static void check_feed_records(struct check *c, const struct fsc_header *h,
			       uint32_t ring);

static int count_change(void *arg, const struct fsc_change *ch)
{
	(void)ch;
	(*(uint64_t *)arg)++;
	return 0;
}

/*
 * The feed's header against the table, then every record from tail to
 * head through the readers' own walk (reader/changes.h): a record the
 * walk rejects is a violation.  A live writer may lap the walk: then it
 * is tried again, and left unverified after a few laps.
 */
void check_feed(struct check *c, const struct fsc_header *h)
{
	struct fsc_feed_header fh;
	int r = view_read_feed(&c->v, &fh);

	if (r == -ENOENT && !(h->flags & FSC_SEG_F_FEED))
		return; /* an older writer: no feed, none expected */
	if (r < 0) {
		violation(c, "feed: %s: %s", c->v.feed_shm,
			  r == -EPROTO ? "size, magic, epoch or ring size do "
					 "not match the table"
				       : strerror(-r));
		return;
	}
	if (fh.ring_size < FSC_FEED_SIZE_MIN ||
	    fh.ring_size > FSC_FEED_SIZE_MAX ||
	    (fh.ring_size & (fh.ring_size - 1)))
		violation(c,
			  "feed: ring_size %u is not a power of two in "
			  "64K..1G",
			  fh.ring_size);
	else if (fh.tail > fh.head || fh.head - fh.tail > fh.ring_size)
		violation(c,
			  "feed: tail %llu and head %llu are not within "
			  "one ring of each other",
			  (unsigned long long)fh.tail,
			  (unsigned long long)fh.head);
	else
		check_feed_records(c, h, fh.ring_size);
}

static void check_feed_records(struct check *c, const struct fsc_header *h,
			       uint32_t ring)
{
#if FSC_HAVE_U64_ATOMICS
	size_t size = FSC_FEED_HEADER_SIZE + (size_t)ring;
	int fd = shm_open(c->v.feed_shm, O_RDONLY | O_CLOEXEC, 0);
	void *p = fd < 0 ? MAP_FAILED
			 : mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED) {
		violation(c, "feed: cannot map %s: %s", c->v.feed_shm,
			  strerror(errno));
		return;
	}
	struct fsc__feed f = { p, size, ring };
	const struct fsc_feed_header *live = p;
	struct fsc_cursor cur = { h->epoch, fsc_load_u64(&live->tail) };
	uint64_t n = 0;
	int r;
	/* FSC_RESYNC: an ALL record (the walk goes on after it), or lapped
	 * by a live writer (the cursor is then at head: nothing left). */
	do
		r = fsc__feed_walk(&f, h->epoch, h->path_max, &cur,
				   count_change, &n);
	while (r == FSC_RESYNC);
	if (r == -EPROTO)
		violation(c,
			  "feed: the record at position %llu fails validation",
			  (unsigned long long)cur.pos);
	munmap(p, size);
#else
	(void)c;
	(void)h;
	(void)ring;
#endif
}
