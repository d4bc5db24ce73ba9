/*
 * loop.h - the writer: one epoll loop over inotify, the control socket and
 * signals.  It sleeps in epoll_wait with no timeout whenever no changed
 * file waits to be re-stat'ed, so an idle writer makes no wake-ups at all.
 */
#ifndef FW_LOOP_H
#define FW_LOOP_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct fw_config;

struct fw_writer_opts {
	const char *name;
	const char *socket_path;
	uint32_t max_entries; /* --capacity */
	uint32_t path_max;    /* path area, multiple of 8 */
	uint32_t probe_limit;
	uint32_t settle_ms; /* --settle-ms: quiet time before a re-stat */
	uint32_t batch_us;  /* --batch-us: least time between busy drains */
	uint32_t cpu_budget_ppm;  /* --cpu-budget, millionths of a core */
	uint32_t feed_size;       /* --feed-size: change feed ring, bytes */
	uint64_t memory_limit;    /* --memory-limit: largest table the writer
				   * grows to, bytes; 0: never grows */
	int source;               /* --events: enum fw_source_kind */
	bool no_file_marks;       /* --no-file-marks */
	bool check_config;        /* --check-config: check, do not serve */
	const char *state_file;   /* --state-file: paths kept across stops */
	mode_t mode;              /* 0600 or 0640 */
	gid_t gid;                /* group of segment and socket; -1: ours */
	int ready_fd;             /* -1, or where to write "READY\n" */
	const char *const *paths; /* command-line paths (absolute, canonical) */
	size_t npaths;
	/*
	 * --config: the file SIGHUP re-reads (NULL: none), its contents as
	 * read at start (the loop replaces them on each good reload), and the
	 * FW_CONF_* keys the command line fixed, which a reload leaves alone.
	 */
	const char *config_path;
	struct fw_config *config;
	unsigned cli_set;
};

/*
 * Run until SIGTERM/SIGINT.  0 on a clean stop, else -errno (logged).
 * SIGHUP re-reads the config file and applies what can change while
 * serving (watch list, allowed prefixes, segment mode and group, log
 * level); the cache itself is kept.
 */
int fw_writer_run(const struct fw_writer_opts *opts);

/* Slots for a number of entries: power of two, load at most 3/4. */
uint32_t fw_writer_slots_for(uint32_t max_entries);

#endif /* FW_LOOP_H */
