/*
 * cmd.h - what the fstatcache tool's files share (private to tools/).
 *
 * args.c parses the options every subcommand has in common into a struct
 * tool_ctx, and fstatcache.c hands the remaining operands to one cmd_*
 * function; those return the process exit status.  Exit statuses: 0
 * success, 1 an operational failure (reported on stderr), 2 a usage error.
 */
#ifndef FSC_TOOLS_CMD_H
#define FSC_TOOLS_CMD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <fstatcache/admin.h>

#define PROG "fstatcache" /* the name in messages */

enum {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_FAIL = 1,
	TOOL_EXIT_USAGE = 2
};

#define TOOL_DEFAULT_TIMEOUT_S 30

/* Options parsed for a subcommand (only the ones it accepts are set). */
struct tool_ctx {
	const char *cmd;   /* the subcommand, for messages */
	const char *name;  /* instance name, resolved (never NULL) */
	int json;          /* --json */
	int timeout_ms;    /* --timeout, -1 for no limit */
	int sort;          /* --sort: TOOL_SORT_* (ls) */
	int interval_ms;   /* --interval (top) */
	long count;        /* --count (top, changes); 0: until interrupted */
	const char *since; /* --since CURSOR (changes) */
	int follow;        /* --follow (changes) */
	const char *files_from; /* --files-from FILE (stat, watch, unwatch) */
	const char *listen;     /* --listen ADDR:PORT (metrics) */
};

/* ls --sort orders. */
enum {
	TOOL_SORT_SLOT,
	TOOL_SORT_RECENCY,
	TOOL_SORT_PATH,
	TOOL_SORT_SIZE
};

/* "fstatcache: " + the message + "\n" on stderr. */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open a handle on ctx->name; on failure report it and return NULL. */
fsc_handle *tool_open(const struct tool_ctx *ctx, unsigned flags);
/* Report fsc_open()'s error `r` (negative) as tool_open() does. */
void tool_open_error(const struct tool_ctx *ctx, int r);

/* The message for a handle that has no live writer behind it. */
void tool_error_no_writer(const struct tool_ctx *ctx);

/*
 * `arg` as an absolute path: relative ones get getcwd() prefixed (symlinks
 * are not resolved, so the spelling stays the user's).  malloc'd; NULL only
 * when out of memory.  If getcwd() fails, a copy of `arg` is returned.
 */
char *tool_absolute_path(const char *arg);

/* Flush stdout; report a write error and return 1, else `status`. */
int tool_finish(int status);

/* "2025-01-02T03:04:05.123456789+0100" (local time) into buf. */
void tool_format_time(char *buf, size_t size, int64_t sec, uint32_t nsec);

/* A CLOCK_REALTIME ns timestamp as tool_format_time() does ("-" for 0). */
void tool_format_time_ns(char *buf, size_t size, uint64_t ns);

/* The time from `then` to `now` (ns) as "350ms", "4.2s", "3m05s", "2h07m",
 * "1d03h"; "-" when `then` is 0 or after `now`. */
void tool_format_age(char *buf, size_t size, uint64_t now, uint64_t then);

/* CLOCK_REALTIME now, in ns (the clock of validated_ns). */
uint64_t tool_realtime_ns(void);

/*
 * `path` (n bytes) with every byte that is not printable ASCII or UTF-8,
 * and every backslash, written as \xNN: one line that cannot fool a
 * terminal.  malloc'd; NULL when out of memory.
 */
char *tool_quote_path(const char *path, size_t n);

/* "PATH source=... exists=yes size=... ...": one answer, as `stat` prints
 * it (text.c). */
void tool_print_stat(const char *path, const struct fsc_stat *st);

/* Subcommands: operands only (options already parsed). */
int cmd_stat(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_sync(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_watch(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_unwatch(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_invalidate(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_ls(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_inspect(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_top(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_check(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_changes(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_metrics(const struct tool_ctx *ctx, int argc, char **argv);
int cmd_health(const struct tool_ctx *ctx, int argc, char **argv);

/* Report a failed view_open() (view.h) of ctx->name; returns TOOL_EXIT_FAIL. */
int tool_view_error(const struct tool_ctx *ctx, int err);

/* JSON output (json.c). */
json_t *tool_json_stat(const char *path, const struct fsc_stat *st);
int tool_json_print(json_t *obj); /* prints one line, takes `obj`; 0/-1 */
/* Length of the valid UTF-8 sequence at s (RFC 3629), or 0 if invalid. */
size_t tool_utf8_seq_len(const unsigned char *s, size_t n);
/* A JSON string of the path bytes (lossy for invalid UTF-8, see json.c). */
json_t *tool_json_path(const char *path);

#endif /* FSC_TOOLS_CMD_H */
