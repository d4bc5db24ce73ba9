/*
 * harness.h - start and stop a real fstatcached for integration tests.
 *
 * Each writer gets a unique instance name and a private temporary
 * directory (files under test and its control socket live there).  The
 * writer is told to report readiness on a pipe (--ready-fd), so no test
 * waits by sleeping; after changes, tests call the sync barrier.  Stopping
 * checks that the writer exited 0 and left no segment or socket behind.
 */
#ifndef FSC_TESTS_HARNESS_H
#define FSC_TESTS_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <fstatcache/admin.h>

struct fsct_writer {
	pid_t pid; /* 0 when not running */
	char name[FSC_NAME_MAX + 1];
	char dir[256];    /* private temp dir, removed by _cleanup */
	char socket[108]; /* control socket path inside dir */
	char *args[32];   /* extra arguments given at start */
	int nargs;
};

/* $FSTATCACHED (meson sets it), or "fstatcached". */
const char *fsct_writer_binary(void);
/* $FSTATCACHE_TOOL, or "fstatcache". */
const char *fsct_tool_binary(void);

/*
 * Is the writer a program of another architecture than the test's own
 * (ELF class or machine differ), so an emulator runs it?  The cross passes
 * drive the armhf writer from native tests under qemu-user, which drops
 * some advice and misreports some signal details; tests of those skip.
 */
int fsct_writer_emulated(void);

/*
 * Make a unique name and temp dir without starting anything (no-op when
 * already done), so a test can create files before the writer starts.
 */
void fsct_writer_init(struct fsct_writer *w);

/*
 * The suite fixture of the integration tests, for .init and .fini: a
 * zeroed writer made ready by fsct_writer_init() and no handle; then the
 * handle closed and the writer cleaned up (fsct_writer_cleanup()).
 */
void fsct_fixture_init(struct fsct_writer *w, fsc_handle **h);
void fsct_fixture_fini(struct fsct_writer *w, fsc_handle **h);

/*
 * Make a unique name and temp dir (unless fsct_writer_init did), start the
 * writer with `extra` (NULL-terminated, may be NULL) after --name/--socket/
 * --ready-fd, and wait until it is serving.  Fails the current test on error.
 */
void fsct_writer_start(struct fsct_writer *w, const char *const *extra);

/* Start again with the same name, dir and extra arguments. */
void fsct_writer_restart(struct fsct_writer *w);

/* Send `sig` and reap the writer; returns its wait status. */
int fsct_writer_kill(struct fsct_writer *w, int sig);

/* SIGTERM; assert exit 0 and that no segment/socket remains. */
void fsct_writer_stop(struct fsct_writer *w);

/* Stop if running (SIGKILL), unlink leftovers, remove the temp dir. */
void fsct_writer_cleanup(struct fsct_writer *w);

/* Path of `rel` inside the writer's temp dir (static buffer rotation: 8). */
const char *fsct_path(const struct fsct_writer *w, const char *rel);

/* Open a reader handle on the writer (asserts success). */
fsc_handle *fsct_open(const struct fsct_writer *w);

/* Control request `op` (FSC_OP_WATCH, _UNWATCH, _INVALIDATE...) on
 * `path` (may be NULL); asserts it returns 0, with the writer's reply and
 * the caller's `file` and `line` (fsct_control_ok() passes them). */
void fsct_control_at(fsc_handle *h, int op, const char *path, const char *file,
		     int line);
#define fsct_control_ok(h, op, path) \
	fsct_control_at((h), (op), (path), __FILE__, __LINE__)

/* The sync barrier; asserts it returns 0. */
void fsct_sync(fsc_handle *h);

/* Counter `which` (FSC_CTR_*) of the writer's header; asserts it reads. */
uint64_t fsct_counter(fsc_handle *h, unsigned which);

/*
 * Wait until fsc_lookup(h, path) returns `want` (and, for 0, the size is
 * `size`): for what the writer does on its own, with no barrier to wait
 * on (an event read, a settle timer).  Polls, yielding; fails the test
 * after a minute.  Returns the last answer.
 */
struct fsc_stat fsct_wait_lookup(fsc_handle *h, const char *path, int want,
				 int64_t size);

/* Wait until counter `which` is at least `min` (same rules). */
void fsct_wait_counter(fsc_handle *h, unsigned which, uint64_t min);

/*
 * Overflow the writer's event queue (stop it first): create more files of
 * distinct names in `dir`, a watched directory, than its source queues
 * (fs.inotify or fs.fanotify max_queued_events, by the header's flags).
 * Distinct names, because fanotify merges every repeat on one file while
 * queued, inotify only repeats of the event before.
 */
void fsct_flood(fsc_handle *h, const char *dir);

/* Wait for child `pid` (hang guard: killed and failed); its wait status. */
int fsct_child_status(pid_t pid);

/* Write/append `text` to a file, creating it. */
void fsct_write(const char *path, const char *text, int append);

/*
 * Run the fstatcache tool with argv (NULL-terminated; --name is added),
 * capture stdout (and stderr) into malloc'd strings; returns exit status.
 */
int fsct_tool(const struct fsct_writer *w, const char *const *argv, char **out,
	      char **err);

/* The next fsct_tool() runs read `path` as standard input (NULL: back
 * to /dev/null, the default). */
void fsct_tool_stdin(const char *path);

/* One run of the tool: exit status and what it printed (malloc'd). */
struct fsct_run {
	int status;
	char *out, *err;
};

/* fsct_tool() into a struct fsct_run; free it with fsct_run_free(). */
struct fsct_run fsct_tool_run(const struct fsct_writer *w,
			      const char *const *argv);
void fsct_run_free(struct fsct_run *r);

/* Assert exit 0 and nothing on stderr. */
void fsct_expect_ok(const struct fsct_run *r, const char *what);

#endif /* FSC_TESTS_HARNESS_H */
