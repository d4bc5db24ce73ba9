/*
 * loop.h - the writer: one epoll loop over inotify, the control socket and
 * signals.  It sleeps in epoll_wait with no timeout, so an idle writer
 * makes no wake-ups at all.
 */
#ifndef FSC_WRITER_LOOP_H
#define FSC_WRITER_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fsc_writer_opts {
	const char *name;
	const char *socket_path;
	uint32_t max_entries;   /* --capacity */
	uint32_t path_max;      /* path area, multiple of 8 */
	uint32_t probe_limit;
	mode_t mode;
	int ready_fd;           /* -1, or where to write "READY\n" */
	const char *const *paths; /* initial paths (absolute, canonical) */
	size_t npaths;
};

/* Run until SIGTERM/SIGINT.  0 on a clean stop, else -errno (logged). */
int fsc_writer_run(const struct fsc_writer_opts *opts);

/* Slots for a number of entries: power of two, load at most 3/4. */
uint32_t fsc_writer_slots_for(uint32_t max_entries);

#endif /* FSC_WRITER_LOOP_H */
