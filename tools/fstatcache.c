/*
 * fstatcache.c - the command-line tool's entry point: the table of
 * subcommands and their usage texts, the options before the subcommand
 * (--name, --help, --version) and the dispatch to a cmd_* function.
 * Option parsing is in args.c; the helpers every subcommand shares are in
 * common.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cmd.h"

#define TOP_DEFAULT_INTERVAL_MS 1000

static const struct tool_cmd commands[] = {
	{ "stat", cmd_stat, OPT_JSON | OPT_FILES_FROM, 1, -1,
	  "[--json] [--files-from FILE] PATH...",
	  "stat paths through the cache",
	  "Stat each PATH through the cache (stat(2) answers what the cache\n"
	  "cannot, and the writer is asked to watch paths it missed).\n"
	  "Relative paths are made absolute and lexically canonical with the\n"
	  "current directory ('.' and '//' go, a leading '..' steps back; a\n"
	  "'..' after a name given stays: it may follow a symlink); only\n"
	  "canonical absolute paths (no '.', '..', '//' or trailing '/') can\n"
	  "be cached.\n"
	  "\n"
	  "  --json   one JSON object per line: path, exists, source\n"
	  "           (\"cache\" or \"stat\"), dev, ino, mode, nlink, uid, gid,\n"
	  "           size, blocks, mtime_ns, ctime_ns; for a path that does\n"
	  "           not exist, exists is false and the numbers are 0.\n"
	  "           A path that is not valid UTF-8 has its bad bytes\n"
	  "           replaced by U+FFFD and \"path_lossy\": true.\n"
	  "\n"
	  "  --files-from FILE\n"
	  "           also every line of FILE ('-': standard input), one\n"
	  "           path per line; a PATH '-' reads standard input too\n"
	  "\n"
	  "Exit status 0 when every PATH was answered (a missing file is an\n"
	  "answer), 1 when stat failed otherwise (reported on stderr).\n" },
	{ "sync", cmd_sync, OPT_TIMEOUT, 0, 0, "[--timeout SECONDS]",
	  "wait until the cache reflects every earlier change",
	  "Wait until every change made before this call, and every watch\n"
	  "request sent before it, is visible in the cache.\n" },
	{ "watch", cmd_watch, OPT_TIMEOUT | OPT_FILES_FROM | OPT_JSON, 1, -1,
	  "[--json] [--timeout SECONDS] [--files-from FILE] PATH...",
	  "start watching and caching paths",
	  "Ask the writer to watch and cache each PATH (made absolute like\n"
	  "'stat' does); returns once each is cached.  --files-from FILE and\n"
	  "a PATH '-' add the lines of FILE or standard input, one path per\n"
	  "line.  Exit status 1 if any PATH was refused.\n"
	  "\n"
	  "  --json   one JSON object per PATH on stdout: path, ok and the\n"
	  "           writer's message; a refused one also has errno.\n" },
	{ "unwatch", cmd_unwatch, OPT_TIMEOUT | OPT_FILES_FROM | OPT_JSON, 1,
	  -1, "[--json] [--timeout SECONDS] [--files-from FILE] PATH...",
	  "stop watching paths and drop their entries",
	  "Ask the writer to stop watching each PATH and drop its entry.\n"
	  "--files-from FILE, a PATH '-' and --json as for 'watch'.  Exit\n"
	  "status 1 if any PATH was refused.\n" },
	{ "invalidate", cmd_invalidate, OPT_TIMEOUT, 0, 0,
	  "[--timeout SECONDS]", "unwatch everything and clear the cache",
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
	  "  --json   one JSON object (keys documented in fstatcache(1)).\n"
	  "\n"
	  "Exit status 1 when there is no segment or it fails validation\n"
	  "(then run 'fstatcache check').\n" },
	{ "top", cmd_top, OPT_INTERVAL | OPT_COUNT | OPT_JSON, 0, 0,
	  "[--json] [--interval SECONDS] [--count N]",
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
	  "  --json              one JSON object per refresh instead (never\n"
	  "                      the full-screen view): name, interval_s,\n"
	  "                      segment, writer_pid, liveness, status,\n"
	  "                      entry_count, max_entries, slots, totals and\n"
	  "                      per_second (null before a second sample);\n"
	  "                      'top --json --count 1' is one snapshot\n"
	  "\n"
	  "Exit status 0 when stopped by 'q', --count, SIGINT or SIGTERM.\n" },
	{ "changes", cmd_changes, OPT_JSON | OPT_SINCE | OPT_FOLLOW | OPT_COUNT,
	  0, 0, "[--json] [--since CURSOR] [--follow] [--count N]",
	  "list what changed since a cursor (the change feed)",
	  "List every answer the writer published since CURSOR, one line per\n"
	  "change: its kind, then the path and the new answer as 'stat' prints\n"
	  "it.  Kinds: added (now watched), changed, created, deleted, marked\n"
	  "(changed, not re-stat'ed yet: source=stat, stat() it), evicted and\n"
	  "removed (no longer cached).  Then 'cursor CURSOR': pass it to the\n"
	  "next call's --since.  Without --since, start from now.\n"
	  "\n"
	  "A line 'resync' means the changes since CURSOR cannot be listed\n"
	  "(another writer or segment since, or so many changes that the feed's\n"
	  "ring overwrote them, or an invalidate): look at every path you\n"
	  "follow once, then carry on from the cursor printed after it.\n"
	  "\n"
	  "  --follow   keep listing changes as they come (a futex(2) wait on\n"
	  "             the feed, woken by the writer: no polling), printing\n"
	  "             the cursor after each batch, until SIGINT or SIGTERM\n"
	  "  --count N  stop after N changes\n"
	  "  --json     one JSON object per line: {\"change\": KIND, then the\n"
	  "             keys of 'stat --json'}, {\"resync\": true}, and\n"
	  "             {\"cursor\": CURSOR}\n"
	  "\n"
	  "Exit status 0; 1 when the writer keeps no feed or it fails\n"
	  "validation; 2 for a malformed CURSOR.\n" },
	{ "health", cmd_health, OPT_JSON, 0, 0, "[--json]",
	  "whether a live writer serves the instance (for probes)",
	  "Exit 0 and print 'ok: ...' when a live fstatcached serves the\n"
	  "instance and readers can attach to it (the checks a reader makes,\n"
	  "liveness included); else exit 1 with the reason on stderr.\n"
	  "'inspect' reads any segment, a dead writer's too; this says\n"
	  "whether the cache works.\n"
	  "\n"
	  "  --json   one JSON object instead: name, healthy and, when not,\n"
	  "           reason; the same exit status.\n" },
	{ "metrics", cmd_metrics, OPT_LISTEN, 0, 0, "[--listen ADDR:PORT]",
	  "the counters for Prometheus",
	  "Print the writer's counters in the Prometheus text exposition\n"
	  "format (0.0.4): fstatcache_up (1 when a live writer serves the\n"
	  "instance; 0, never empty output, when it is dead, stopped or\n"
	  "absent), fstatcache_info, the table's size, every counter (as\n"
	  "_total; the levels as gauges), the readers' lookup totals and the\n"
	  "change feed, each labelled name=\"INSTANCE\".  Suits\n"
	  "node_exporter's textfile collector.\n"
	  "\n"
	  "  --listen ADDR:PORT  serve them over HTTP at /metrics instead\n"
	  "                      ([ADDR]:PORT for IPv6; port 0 picks one),\n"
	  "                      saying where on stderr, until SIGINT or\n"
	  "                      SIGTERM; each scrape reads the segment anew\n"
	  "\n"
	  "Exit status 0; 1 if it cannot listen; 2 for a bad ADDR:PORT.\n" },
	{ "check", cmd_check, OPT_JSON, 0, 0, "[--json]",
	  "verify every invariant of the segment",
	  "Map the instance's segment read-only and verify every invariant of\n"
	  "docs/FORMAT.md: magic, version, header size, geometry bounds,\n"
	  "segment size, status; for every slot an even seqcount, known flags,\n"
	  "a well-formed NUL-padded key, its hash, its place within the probe\n"
	  "limit of its home slot with no empty slot before it, no duplicate\n"
	  "keys, sane stat fields; entry_count and the counters against the\n"
	  "table; the .use object's size, magic, epoch and slot count; the\n"
	  "change feed's header and every record from its tail to its head.\n"
	  "Works\n"
	  "whatever the writer's state (alive, dead, stopped); with a live\n"
	  "writer, what may be a change in progress is re-checked before it\n"
	  "is reported.  It never writes to the segment.\n"
	  "\n"
	  "Each violation is one line on stderr, 'fstatcache: check: WHERE:\n"
	  "WHAT'; exit status 1 if there is any (or no segment), else 0 after\n"
	  "'ok: N entries, M slots' on stdout.\n"
	  "\n"
	  "  --json   instead, one JSON object on stdout: name, ok,\n"
	  "           entries, slots, violations (strings), more_violations\n"
	  "           (beyond the first 1000) and notes; same exit status.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char common_help[] =
	"  --name NAME         the instance (default: $FSTATCACHE_NAME, else\n"
	"                      \"fstatcache\")\n"
	"  -h, --help          show this help\n";

static const char timeout_help[] =
	"  --timeout SECONDS   how long to wait for the writer (default 30;\n"
	"                      0: no limit)\n";

static void print_overview(FILE *f)
{
	fprintf(f, "Usage: " PROG " [--name NAME] COMMAND [OPTIONS] [ARGS]\n"
		   "       " PROG " --help | --version\n\nCommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-11s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f,
		"\nOptions of every command:\n%s"
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
	struct tool_operands ops;
	r = tool_expand_operands(c, &ctx, argc - optind, argv + optind, &ops);
	if (r >= 0)
		return r;
	r = tool_check_operands(c, ops.argc, ops.argv);
	if (r < 0)
		r = c->run(&ctx, ops.argc, ops.argv);
	tool_operands_free(&ops);
	return tool_finish(r);
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
				return -(tool_usage_error(
						 NULL,
						 "option "
						 "'--name' needs a value") +
					 1);
			*name = argv[i];
		} else {
			return -(tool_usage_error(NULL, "unknown option '%s'",
						  a) +
				 1);
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
