/*
 * view.h - a read-only view of an instance's shared objects, for the
 * operator's subcommands (inspect, top, check).  Private to tools/.
 *
 * A reader handle (fsc_open) maps a segment only while a live writer
 * serves it; an operator also wants to look at a dead writer's segment and
 * at one that fails validation.  A view maps the table and the .use object
 * PROT_READ whatever the status and liveness, keeps a private copy of the
 * geometry taken once at open (never re-read), and bounds every access by
 * the size of the mapping, so a corrupt segment cannot make it read out of
 * bounds.  Nothing here ever writes to either object.
 *
 * Entries are copied under their seqlock (the protocol of fstatcache.h:
 * acquire-ordered seq loads around relaxed loads of the fields) into
 * private memory and examined only there.
 */
#ifndef FSC_TOOLS_VIEW_H
#define FSC_TOOLS_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <fstatcache/admin.h>

#define VIEW_SHM_NAME_MAX (FSC_NAME_MAX + 32)

/* view_open() flags. */
#define VIEW_ANY_OWNER 0x1u /* map even if the owner check fails (check) */

/* Liveness of the writer, from header.writer_alive. */
enum view_liveness {
	VIEW_ALIVE,   /* a thread id, no FSC_WRITER_DIED */
	VIEW_DEAD,    /* FSC_WRITER_DIED: killed or crashed */
	VIEW_STOPPED, /* 0: a clean stop (or never started) */
};

struct view {
	char shm[VIEW_SHM_NAME_MAX], use_shm[VIEW_SHM_NAME_MAX];
	char feed_shm[VIEW_SHM_NAME_MAX];
	char req_shm[VIEW_SHM_NAME_MAX];
	char tags_shm[VIEW_SHM_NAME_MAX];
	uid_t owner;               /* the uid the objects should belong to */
	struct stat st;            /* of the table object */
	int owner_ok;              /* fsc_owner_ok() on st */
	const unsigned char *base; /* PROT_READ mapping of the table */
	size_t size;
	struct fsc_header hdr; /* copied at open: geometry is never re-read */
	/* layout_ok: slot_count, entry_size, path_max and probe_limit are in
	 * their ranges and every slot lies inside the mapping, so entries may
	 * be read (and the fields below are set).  valid: fsc_geometry_check() passes,
	 * the whole check a reader makes before trusting a segment. */
	int layout_ok, valid;
	uint32_t slot_count, mask, entry_size, path_max, probe_limit;
	uint64_t seed;
	/* The .use object: mapped (PROT_READ) when use_err is 0; else the
	 * negative errno of opening it or -EPROTO (size, magic, epoch or
	 * slot_count do not match the table). */
	const unsigned char *use;
	size_t use_size;
	struct stat use_st;
	int use_err;
	/* The tag array (format 1.5): slot_count tags, mapped (PROT_READ)
	 * when tags_err is 0; else -ENOENT (the header says there is none),
	 * the negative errno of opening it, -EPERM (owner or mode) or
	 * -EPROTO (size, magic, epoch or slot_count do not match). */
	const uint16_t *tags;
	const unsigned char *tags_base;
	size_t tags_size;
	struct stat tags_st;
	int tags_err;
};

/*
 * Map instance `name`'s objects read-only.  0; -ENOENT (no such segment),
 * -EPERM (owned by another user or writable by others; not with
 * VIEW_ANY_OWNER), -EBADMSG (smaller than the header page), or an errno of
 * shm_open/fstat/mmap.  A .use object that cannot be mapped is not an
 * error (see use_err).
 */
int view_open(struct view *v, const char *name, unsigned flags);
void view_close(struct view *v);

/* The uid objects must belong to: $FSTATCACHE_OWNER_UID, else geteuid(). */
uid_t view_expected_owner(void);

/* A fresh copy of the header (relaxed loads of the changing fields). */
void view_read_header(const struct view *v, struct fsc_header *out);

/* The .use header; 0, or use_err when the object is not mapped. */
int view_read_use(const struct view *v, struct fsc_use_header *out);

/*
 * The change feed's header (head, tail and records read whole, once):
 * 0; -ENOENT when the writer keeps none (no FSC_SEG_F_FEED) or it is
 * gone; -EPROTO when its size, magic, epoch or ring size do not match
 * the table; -EPERM (owner); or an errno of shm_open/fstat/mmap.
 */
int view_read_feed(const struct view *v, struct fsc_feed_header *out);

/*
 * The request ring's header (format 1.4; its counters read once): 0;
 * -ENOENT when there is none (a writer of 1.3 or older); -EPROTO when its
 * size, magic or epoch do not match the table; -EPERM (owner); or an
 * errno of shm_open/fstat/mmap.
 */
int view_read_req(const struct view *v, struct fsc_req_header *out);

enum view_liveness view_liveness(uint32_t writer_alive);
const char *view_liveness_name(enum view_liveness l);
/* "init", "serving", "revalidating", "retired"; NULL if unknown. */
const char *view_status_name(uint32_t status);
/* Stable snake_case name of counter `i` (FSC_CTR_*); NULL past the last. */
const char *view_counter_name(unsigned i);
/* "fstype", "watch_limit", "stat_error", "watch_error"; NULL if unknown. */
const char *view_reason_name(uint32_t reason);
/* Where the writer's events come from (header flags): "fanotify" or
 * "inotify". */
const char *view_events_name(uint32_t flags);

/* Bytes view_slot_copy() needs: a slot's head, path area and cold tail
 * of any view. */
#define VIEW_ENTRY_BUF (FSC_ENTRY_FIXED + FSC_PATH_MAX_MAX + FSC_ENTRY_COLD)

/*
 * Copy slot `slot` (< v->slot_count; requires layout_ok) into `buf`
 * (VIEW_ENTRY_BUF bytes, 8-aligned) under its seqlock, laid out as the
 * slot is: the head and the cold tail, and the path area when the copy
 * says USED.  Up to `tries` attempts; between
 * them, sched_yield() if `yield` (let a preempted writer finish), else a
 * cpu pause.  0 with a consistent copy; -EBUSY when the seq stayed odd or
 * kept changing (the copy then holds the last seq seen).
 */
int view_slot_copy(const struct view *v, uint32_t slot, void *buf,
		   unsigned tries, int yield);
/* The same, and the slot's tag (0 when there is no tag array) read inside
 * the same seqlock window, so a consistent copy has the matching tag. */
int view_slot_copy_tag(const struct view *v, uint32_t slot, void *buf,
		       uint16_t *tag, unsigned tries, int yield);

/* The copy's path area (path_max bytes). */
static inline const char *view_entry_path(const void *buf)
{
	return (const char *)buf + FSC_ENTRY_FIXED;
}

/* The copy's cold tail: reason and validated_ns. */
static inline const struct fsc_entry_cold *view_entry_cold(const struct view *v,
							   const void *buf)
{
	return fsc_entry_cold(buf, v->path_max);
}

/*
 * 1 when the copy's key is well formed: path_len in 1..path_max-1 and a
 * NUL at path_len with none before it.
 */
int view_entry_key_ok(const struct view *v, const struct fsc_entry *e);

/*
 * Run fn(arg) with SIGBUS turned into an error: an object truncated while
 * it is mapped makes fn's access fault; then fn is abandoned (free what it
 * allocated through `arg`) and -EFAULT returned.  Otherwise fn's result.
 */
int view_guarded(int (*fn)(void *arg), void *arg);

#endif /* FSC_TOOLS_VIEW_H */
