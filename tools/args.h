/*
 * args.h - the fstatcache tool's command line (private to tools/): the
 * table row that describes a subcommand, and the parsers of args.c that
 * fstatcache.c calls to turn its argv into a struct tool_ctx (cmd.h).
 */
#ifndef FSC_TOOLS_ARGS_H
#define FSC_TOOLS_ARGS_H

#include "cmd.h"

/* Options a subcommand takes besides --name and --help. */
#define OPT_JSON 0x1u
#define OPT_TIMEOUT 0x2u
#define OPT_SORT 0x4u
#define OPT_INTERVAL 0x8u
#define OPT_COUNT 0x10u
#define OPT_SINCE 0x20u
#define OPT_FOLLOW 0x40u
#define OPT_FILES_FROM 0x80u /* --files-from FILE, and "-" as an operand */
#define OPT_LISTEN 0x100u

/* What the parsers return besides an exit status. */
enum {
	TOOL_ARGS_RUN = -1, /* go on: run the subcommand */
	TOOL_ARGS_HELP = -2 /* --help: print the subcommand's help */
};

/* A subcommand: one row of the command table in fstatcache.c. */
struct tool_cmd {
	const char *name;
	int (*run)(const struct tool_ctx *ctx, int argc, char **argv);
	unsigned opts;          /* OPT_* it takes */
	int min_args, max_args; /* operands; max -1: no limit */
	const char *synopsis;   /* after "fstatcache NAME " */
	const char *summary;    /* one line for the overview */
	const char *help;       /* the rest of `fstatcache NAME --help` */
};

/* Operands after expanding "-" and --files-from (malloc'd when `owned`). */
struct tool_operands {
	int argc;
	char **argv;
	int owned;
};

/*
 * For a subcommand with OPT_FILES_FROM: the operands with each "-"
 * replaced by the lines of standard input and the lines of
 * ctx->files_from ("-": standard input) appended, one path per line,
 * empty lines skipped; else the operands as they are.  TOOL_ARGS_RUN, or
 * an exit status after reporting (unreadable file, out of memory).
 */
int tool_expand_operands(const struct tool_cmd *c, const struct tool_ctx *ctx,
			 int argc, char **argv, struct tool_operands *out);
void tool_operands_free(struct tool_operands *ops);

/* "fstatcache: [CMD: ]MESSAGE (see 'fstatcache [CMD] --help')" on stderr;
 * returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Parse the subcommand's options (argv[0] is the subcommand).  Returns
 * TOOL_ARGS_RUN to go on with operands argv[optind..], TOOL_ARGS_HELP at
 * --help (the options after it are not looked at), else the exit status.
 */
int tool_parse_options(const struct tool_cmd *c, int argc, char **argv,
		       struct tool_ctx *ctx);

/*
 * ctx->name as --name left it, else $FSTATCACHE_NAME, else "fstatcache";
 * then checked.  TOOL_ARGS_RUN, or the exit status.
 */
int tool_resolve_name(struct tool_ctx *ctx);

/* The operand count against the row: TOOL_ARGS_RUN, or the exit status. */
int tool_check_operands(const struct tool_cmd *c, int count, char **operands);

#endif /* FSC_TOOLS_ARGS_H */
