/*
 * config.h - fstatcached's configuration file (fstatcache.conf(5); the
 * annotated default is dist/fstatcache.conf).
 *
 * "key = value" lines, read whole and checked whole: a file with any
 * error is rejected with "FILE:LINE: what is wrong" and nothing of it is
 * used, so a bad edit followed by SIGHUP leaves the running writer as it
 * was.  Pure parsing plus the lookups a value needs (group names, the
 * watch_list file); the writer decides what to apply.
 */
#ifndef FW_CONFIG_H
#define FW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fstatcache/contract.h"

/* Keys that take one value; a bit each in fw_config.set. */
enum {
	FW_CONF_NAME = 1u << 0,
	FW_CONF_CAPACITY = 1u << 1,
	FW_CONF_PATH_MAX = 1u << 2,
	FW_CONF_SOCKET = 1u << 3,
	FW_CONF_SEGMENT_MODE = 1u << 4,
	FW_CONF_GROUP = 1u << 5,
	FW_CONF_LOG_LEVEL = 1u << 6,
	FW_CONF_WATCH_LIST = 1u << 7,
	FW_CONF_FEED_SIZE = 1u << 8,
	FW_CONF_MEMORY_LIMIT = 1u << 9,
	FW_CONF_STATE_FILE = 1u << 10,
};

/* A growable list of malloc'd strings. */
struct fw_strv {
	char **v;
	size_t n, cap;
};

struct fw_config {
	unsigned set; /* FW_CONF_* given in the file */
	char name[FSC_NAME_MAX + 1];
	char socket[108];
	uint32_t capacity;
	uint32_t path_max;     /* longest path in bytes, as written */
	uint32_t feed_size;    /* change feed ring, bytes */
	uint64_t memory_limit; /* largest table, bytes; 0: never grow */
	char state_file[4096]; /* FW_CONF_STATE_FILE: absolute path */
	mode_t segment_mode;   /* 0600 or 0640 */
	gid_t gid;             /* FW_CONF_GROUP */
	int log_level;         /* enum fw_log_level */
	struct fw_strv watch;  /* watch keys, then the watch_list file */
	struct fw_strv allow;  /* allowed prefixes for other users */
};

/* Bounds shared with the command line. */
#define FW_CONF_CAPACITY_MAX (FSC_SLOTS_MAX / 2)
#define FW_MEMORY_LIMIT_MAX (UINT64_C(1) << 40)

/*
 * Read `file` into `c` (zeroed first; fw_config_free() it in every case).
 * Returns 0, or -1 with a one-line reason in `err` ("FILE:LINE: ...").
 * The file must not be writable by other users.
 */
int fw_config_load(const char *file, struct fw_config *c, char *err,
		   size_t errlen);
void fw_config_free(struct fw_config *c);

/*
 * A change feed size: a power of two from FSC_FEED_SIZE_MIN to
 * FSC_FEED_SIZE_MAX bytes, with an optional K, M or G suffix (binary).
 * 0 or -EINVAL.
 */
int fw_feed_size_parse(const char *s, uint32_t *out);

/* A size in bytes with an optional K, M, G or T suffix (binary), at most
 * `max`.  0 or -EINVAL. */
int fw_bytes_parse(const char *s, uint64_t max, uint64_t *out);

/* Whether this process may give its objects to group `gid`. */
int fw_config_group_usable(gid_t gid);

int fw_strv_push(struct fw_strv *v, const char *s); /* copies; 0/-ENOMEM */
void fw_strv_free(struct fw_strv *v);

/*
 * Whether canonical absolute `path` (fsc_path_ok) lies under one of the
 * prefixes, whole components only: "/var/log" allows "/var/log" and
 * "/var/log/a", not "/var/logs"; "/" allows everything.
 */
int fw_prefix_allows(const struct fw_strv *prefixes, const char *path,
		     size_t len);

/*
 * Compare watch lists: call `removed` for each path in `old` that is in
 * neither `now` nor `keep`, and `added` for each path in `now` not in
 * `old`.  O(n log n); duplicates are reported once.  0 or -ENOMEM.
 */
int fw_strv_diff(const struct fw_strv *old, const struct fw_strv *now,
		 const struct fw_strv *keep,
		 void (*removed)(void *ctx, const char *path),
		 void (*added)(void *ctx, const char *path), void *ctx);

#endif /* FW_CONFIG_H */
