/*
 * fstatcache.c - the command-line tool's entry point: the table of
 * subcommands, their usage texts and option parsing.  The helpers every
 * subcommand shares are in common.c.
 *
 * Options any subcommand accepts: --name NAME (before or after the
 * subcommand) and --help.  Each subcommand's extra options are flags in
 * its table row; one getopt_long loop serves them all, so every
 * subcommand rejects what it does not take in the same words.  The
 * instance name is --name, else $FSTATCACHE_NAME, else "fstatcache".
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"


/* Options a subcommand takes besides --name and --help. */
#define OPT_JSON 0x1u
#define OPT_TIMEOUT 0x2u
#define OPT_SORT 0x4u
#define OPT_INTERVAL 0x8u
#define OPT_COUNT 0x10u

enum { LOPT_NAME = 0x100, LOPT_JSON, LOPT_TIMEOUT, LOPT_SORT, LOPT_INTERVAL,
       LOPT_COUNT };

#define TOP_DEFAULT_INTERVAL_MS 1000

/* What the parsers return besides an exit status. */
enum { TOOL_ARGS_RUN = -1, /* go on: run the subcommand */
       TOOL_ARGS_HELP = -2 /* --help: print the subcommand's help */ };

struct tool_cmd {
	const char *name;
	int (*run)(const struct tool_ctx *ctx, int argc, char **argv);
	unsigned opts;
	int min_args, max_args; /* operands; max -1: no limit */
	const char *synopsis;   /* after "fstatcache NAME " */
	const char *summary;    /* one line for the overview */
	const char *help;       /* the rest of `fstatcache NAME --help` */
};

static const struct tool_cmd commands[] = {
	{ "stat", cmd_stat, OPT_JSON, 1, -1, "[--json] PATH...",
	  "stat paths through the cache",
	  "Stat each PATH through the cache (stat(2) answers what the cache\n"
	  "cannot, and the writer is asked to watch paths it missed).\n"
	  "Relative paths are made absolute with the current directory\n"
	  "(symlinks are not resolved); only canonical absolute paths (no\n"
	  "'.', '..', '//' or trailing '/') can be cached.\n"
	  "\n"
	  "  --json   one JSON object per line: path, exists, source\n"
	  "           (\"cache\" or \"stat\"), dev, ino, mode, nlink, uid, gid,\n"
	  "           size, blocks, mtime_ns, ctime_ns; for a path that does\n"
	  "           not exist, exists is false and the numbers are 0.\n"
	  "           A path that is not valid UTF-8 has its bad bytes\n"
	  "           replaced by U+FFFD and \"path_lossy\": true.\n"
	  "\n"
	  "Exit status 0 when every PATH was answered (a missing file is an\n"
	  "answer), 1 when stat failed otherwise (reported on stderr).\n" },
	{ "sync", cmd_sync, OPT_TIMEOUT, 0, 0, "[--timeout SECONDS]",
	  "wait until the cache reflects every earlier change",
	  "Wait until every change made before this call, and every watch\n"
	  "request sent before it, is visible in the cache.\n" },
	{ "watch", cmd_watch, OPT_TIMEOUT, 1, -1, "[--timeout SECONDS] PATH...",
	  "start watching and caching paths",
	  "Ask the writer to watch and cache each PATH (made absolute like\n"
	  "'stat' does); returns once each is cached.  Exit status 1 if any\n"
	  "PATH was refused.\n" },
	{ "unwatch", cmd_unwatch, OPT_TIMEOUT, 1, -1,
	  "[--timeout SECONDS] PATH...",
	  "stop watching paths and drop their entries",
	  "Ask the writer to stop watching each PATH and drop its entry.\n"
	  "Exit status 1 if any PATH was refused.\n" },
	{ "invalidate", cmd_invalidate, OPT_TIMEOUT, 0, 0,
	  "[--timeout SECONDS]",
	  "unwatch everything and clear the cache",
	  "Ask the writer to unwatch every path and clear the table.\n" },
	{ "ls", cmd_ls, OPT_JSON | OPT_SORT, 0, 0,
	  "[--json] [--sort slot|recency|path|size]",
	  "list the entries in the cache",
	  "List every entry of the table: whether the file exists, where the\n"
	  "answer comes from (\"stat\": watched but not cacheable), size,\n"
	  "mtime, the time since the writer last validated it, and the path.\n"
	  "\n"
	  "  --json   one JSON object per line with the keys of 'stat --json'\n"
	  "           plus slot and validated_ns (CLOCK_REALTIME, ns).\n"
	  "  --sort ORDER\n"
	  "           slot (default): table order; recency: most recently\n"
	  "           validated first; path: by path (bytes); size: largest\n"
	  "           first, missing files last.  Ties keep slot order.\n" },
	{ "inspect", cmd_inspect, OPT_JSON, 0, 0, "[--json]",
	  "show the shared-memory segment: header, counters, histogram",
	  "Map the instance's segment read-only and show its header (format,\n"
	  "geometry, writer pid, start time, liveness, status), occupancy and\n"
	  "load factor, every counter, the readers' lookup counts, entries\n"
	  "answered by stat() grouped by reason, a histogram of probe lengths\n"
	  "(distance of each entry from its home slot) and the oldest and\n"
	  "newest entries by validation time.  Works on a dead writer's\n"
	  "segment too (liveness says so); it never writes to the segment.\n"
	  "\n"
	  "  --json   one JSON object (keys documented in docs/TOOLS.md).\n"
	  "\n"
	  "Exit status 1 when there is no segment or it fails validation\n"
	  "(then run 'fstatcache check').\n" },
	{ "top", cmd_top, OPT_INTERVAL | OPT_COUNT, 0, 0,
	  "[--interval SECONDS] [--count N]",
	  "live view of the counters as rates",
	  "Show the writer's counters and the readers' lookup counts as rates\n"
	  "per second, refreshed every interval, with occupancy and watches.\n"
	  "On a terminal the screen is redrawn in place; 'q' or Ctrl-C quits.\n"
	  "Otherwise one block of plain lines is printed per interval.\n"
	  "\n"
	  "  --interval SECONDS  time between refreshes (default 1; fractions\n"
	  "                      allowed, at least 0.01)\n"
	  "  --count N           stop after N refreshes (default: until 'q',\n"
	  "                      SIGINT or SIGTERM)\n"
	  "\n"
	  "Exit status 0 when stopped by 'q', --count, SIGINT or SIGTERM.\n" },
	{ "check", cmd_check, 0, 0, 0, "",
	  "verify every invariant of the segment",
	  "Map the instance's segment read-only and verify every invariant of\n"
	  "docs/FORMAT.md: magic, version, header size, geometry bounds,\n"
	  "segment size, status; for every slot an even seqcount, known flags,\n"
	  "a well-formed NUL-padded key, its hash, its place within the probe\n"
	  "limit of its home slot with no empty slot before it, no duplicate\n"
	  "keys, sane stat fields; entry_count and the counters against the\n"
	  "table; the .use object's size, magic, epoch and slot count.  Works\n"
	  "whatever the writer's state (alive, dead, stopped); with a live\n"
	  "writer, what may be a change in progress is re-checked before it\n"
	  "is reported.  It never writes to the segment.\n"
	  "\n"
	  "Each violation is one line on stderr, 'fstatcache: check: WHERE:\n"
	  "WHAT'; exit status 1 if there is any (or no segment), else 0 after\n"
	  "'ok: N entries, M slots' on stdout.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char common_help[] =
	"  --name NAME         the instance (default: $FSTATCACHE_NAME, else\n"
	"                      \"fstatcache\")\n"
	"  -h, --help          show this help\n";

static const char timeout_help[] =
	"  --timeout SECONDS   how long to wait for the writer (default 30;\n"
	"                      0: no limit)\n";

static int tool_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int tool_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs(PROG ": ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '" PROG "%s%s --help')\n", cmd ? " " : "",
		cmd ? cmd : "");
	return TOOL_EXIT_USAGE;
}

static void print_overview(FILE *f)
{
	fprintf(f, "Usage: " PROG " [--name NAME] COMMAND [OPTIONS] [ARGS]\n"
		   "       " PROG " --help | --version\n\nCommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nOptions of every command:\n%s"
		   "\nRun '" PROG " COMMAND --help' for a command's options.\n",
		common_help);
}

static void print_command_help(const struct tool_cmd *c)
{
	printf("Usage: " PROG " %s [--name NAME] %s\n\n%s\nOptions:\n%s",
	       c->name, c->synopsis, c->help, common_help);
	if (c->opts & OPT_TIMEOUT)
		fputs(timeout_help, stdout);
}

static const struct tool_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const char *default_name(void)
{
	const char *env = getenv("FSTATCACHE_NAME");
	return env && *env ? env : "fstatcache";
}

/*
 * ctx->name as --name left it, else $FSTATCACHE_NAME, else "fstatcache";
 * then checked.  TOOL_ARGS_RUN, or the exit status.
 */
static int tool_resolve_name(struct tool_ctx *ctx)
{
	if (!ctx->name)
		ctx->name = default_name();
	if (!fsc_name_ok(ctx->name))
		return tool_usage_error(ctx->cmd, "invalid instance name '%s': "
			"use 1 to %d letters, digits, '_' or '-'", ctx->name,
			FSC_NAME_MAX);
	return TOOL_ARGS_RUN;
}

/* SECONDS (fractions allowed) to milliseconds; 0 means no limit (-1). */
static int parse_timeout(const char *s, int *ms_out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 ||
	    v > INT_MAX / 1000)
		return -1;
	double ms = v * 1000;
	*ms_out = (int)ms;
	if (*ms_out < ms)
		(*ms_out)++; /* round up: 0.0001 s is not "no limit" */
	if (v == 0)
		*ms_out = -1;
	return 0;
}

static int parse_sort(const char *s, int *out)
{
	static const char *const names[] = {
		[TOOL_SORT_SLOT] = "slot", [TOOL_SORT_RECENCY] = "recency",
		[TOOL_SORT_PATH] = "path", [TOOL_SORT_SIZE] = "size",
	};
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

/* SECONDS (fractions allowed), 0.01 to 86400, to milliseconds. */
static int parse_interval(const char *s, int *ms_out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0.01 ||
	    v > 86400)
		return -1;
	*ms_out = (int)(v * 1000 + 0.5);
	return 0;
}

static int parse_count(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1)
		return -1;
	*out = v;
	return 0;
}

/* The option the last getopt_long error was about, for the message. */
static const char *bad_option(char **argv, char *buf, size_t size)
{
	if (optopt > 0 && optopt < 0x100) {
		snprintf(buf, size, "-%c", optopt);
		return buf;
	}
	return argv[optind - 1];
}

/*
 * Parse the subcommand's options (argv[0] is the subcommand).  Returns
 * TOOL_ARGS_RUN to go on with operands argv[optind..], TOOL_ARGS_HELP at
 * --help (the options after it are not looked at), else the exit status.
 */
static int tool_parse_options(const struct tool_cmd *c, int argc,
			      char **argv, struct tool_ctx *ctx)
{
	const struct option all[] = {
		{ "name", required_argument, NULL, LOPT_NAME },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, LOPT_JSON },
		{ "timeout", required_argument, NULL, LOPT_TIMEOUT },
		{ "sort", required_argument, NULL, LOPT_SORT },
		{ "interval", required_argument, NULL, LOPT_INTERVAL },
		{ "count", required_argument, NULL, LOPT_COUNT },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { int val; unsigned opt; } needs[] = {
		{ LOPT_JSON, OPT_JSON }, { LOPT_TIMEOUT, OPT_TIMEOUT },
		{ LOPT_SORT, OPT_SORT }, { LOPT_INTERVAL, OPT_INTERVAL },
		{ LOPT_COUNT, OPT_COUNT },
	};
	struct option longopts[sizeof(all) / sizeof(all[0])];
	int n = 0;
	for (int i = 0; all[i].name; i++) {
		int taken = 1;
		for (size_t k = 0; k < sizeof(needs) / sizeof(needs[0]); k++)
			if (all[i].val == needs[k].val && !(c->opts & needs[k].opt))
				taken = 0;
		if (taken)
			longopts[n++] = all[i];
	}
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	char buf[8];
	int opt;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case LOPT_NAME:
			ctx->name = optarg;
			break;
		case 'h':
			return TOOL_ARGS_HELP;
		case LOPT_JSON:
			ctx->json = 1;
			break;
		case LOPT_TIMEOUT:
			if (parse_timeout(optarg, &ctx->timeout_ms) < 0)
				return tool_usage_error(c->name,
					"invalid --timeout '%s'", optarg);
			break;
		case LOPT_SORT:
			if (parse_sort(optarg, &ctx->sort) < 0)
				return tool_usage_error(c->name,
					"invalid --sort '%s': use slot, "
					"recency, path or size", optarg);
			break;
		case LOPT_INTERVAL:
			if (parse_interval(optarg, &ctx->interval_ms) < 0)
				return tool_usage_error(c->name,
					"invalid --interval '%s': use seconds "
					"from 0.01 to 86400", optarg);
			break;
		case LOPT_COUNT:
			if (parse_count(optarg, &ctx->count) < 0)
				return tool_usage_error(c->name,
					"invalid --count '%s': use a positive "
					"integer", optarg);
			break;
		case ':':
			return tool_usage_error(c->name,
				"option '%s' needs a value",
				bad_option(argv, buf, sizeof(buf)));
		default:
			return tool_usage_error(c->name, "unknown option '%s'",
				bad_option(argv, buf, sizeof(buf)));
		}
	}
	return TOOL_ARGS_RUN;
}

/* The operand count against the row: TOOL_ARGS_RUN, or the exit status. */
static int tool_check_operands(const struct tool_cmd *c, int count,
			       char **operands)
{
	if (count < c->min_args)
		return tool_usage_error(c->name, "missing PATH");
	if (c->max_args >= 0 && count > c->max_args)
		return tool_usage_error(c->name, "unexpected argument '%s'",
					operands[c->max_args]);
	return TOOL_ARGS_RUN;
}

static int run_command(const struct tool_cmd *c, const char *name, int argc,
		       char **argv)
{
	struct tool_ctx ctx = {
		.cmd = c->name,
		.name = name,
		.timeout_ms = TOOL_DEFAULT_TIMEOUT_S * 1000,
		.interval_ms = TOP_DEFAULT_INTERVAL_MS,
	};
	int r = tool_parse_options(c, argc, argv, &ctx);
	if (r == TOOL_ARGS_HELP) {
		print_command_help(c);
		return tool_finish(TOOL_EXIT_OK);
	}
	if (r >= 0)
		return r;
	r = tool_resolve_name(&ctx);
	if (r >= 0)
		return r;
	r = tool_check_operands(c, argc - optind, argv + optind);
	if (r >= 0)
		return r;
	return tool_finish(c->run(&ctx, argc - optind, argv + optind));
}

/*
 * Options before the subcommand: --name, --help, --version.  Returns the
 * index of the subcommand, or -(exit status + 1) when done.
 */
static int parse_global(int argc, char **argv, const char **name)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_overview(stdout);
			return -(tool_finish(TOOL_EXIT_OK) + 1);
		}
		if (strcmp(a, "--version") == 0) {
			printf(PROG " %s\n", FSC_VERSION_STRING);
			return -(tool_finish(TOOL_EXIT_OK) + 1);
		}
		if (strncmp(a, "--name=", 7) == 0) {
			*name = a + 7;
		} else if (strcmp(a, "--name") == 0) {
			if (++i == argc)
				return -(tool_usage_error(NULL, "option "
					"'--name' needs a value") + 1);
			*name = argv[i];
		} else {
			return -(tool_usage_error(NULL, "unknown option '%s'",
						  a) + 1);
		}
	}
	if (i == argc)
		return -(tool_usage_error(NULL, "missing COMMAND") + 1);
	return i;
}

int main(int argc, char **argv)
{
	const char *name = NULL;
	int i = parse_global(argc, argv, &name);
	if (i < 0)
		return -i - 1;
	const struct tool_cmd *c = find_command(argv[i]);
	if (!c)
		return tool_usage_error(NULL, "unknown command '%s'", argv[i]);
	return run_command(c, name, argc - i, argv + i);
}
