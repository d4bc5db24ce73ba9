/*
 * args.c - the fstatcache tool's option parsing: a subcommand's options
 * and operands into a struct tool_ctx (cmd.h), the instance name, and the
 * messages for a command line that is wrong.
 *
 * Options any subcommand accepts: --name NAME and --help (fstatcache.c
 * also takes --name before the subcommand).  Each subcommand's extra
 * options are flags in its table row (args.h); one getopt_long loop
 * serves them all, so every subcommand rejects what it does not take in
 * the same words.  The instance name is --name, else $FSTATCACHE_NAME,
 * else "fstatcache".
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmd.h"

enum {
	LOPT_NAME = 0x100,
	LOPT_JSON,
	LOPT_TIMEOUT,
	LOPT_SORT,
	LOPT_INTERVAL,
	LOPT_COUNT,
	LOPT_SINCE,
	LOPT_FOLLOW,
	LOPT_FILES_FROM,
	LOPT_LISTEN
};

int tool_usage_error(const char *cmd, const char *fmt, ...)
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

static const char *default_name(void)
{
	const char *env = getenv("FSTATCACHE_NAME");
	return env && *env ? env : "fstatcache";
}

int tool_resolve_name(struct tool_ctx *ctx)
{
	if (!ctx->name)
		ctx->name = default_name();
	if (!fsc_name_ok(ctx->name))
		return tool_usage_error(
			ctx->cmd,
			"invalid instance name '%s': "
			"use 1 to %d letters, digits, '_' or '-'",
			ctx->name, FSC_NAME_MAX);
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
		[TOOL_SORT_SLOT] = "slot",
		[TOOL_SORT_RECENCY] = "recency",
		[TOOL_SORT_PATH] = "path",
		[TOOL_SORT_SIZE] = "size",
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
	if (errno || end == s || *end || !isfinite(v) || v < 0.01 || v > 86400)
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

int tool_parse_options(const struct tool_cmd *c, int argc, char **argv,
		       struct tool_ctx *ctx)
{
	const struct option all[] = {
		{ "name", required_argument, NULL, LOPT_NAME },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, LOPT_JSON },
		{ "timeout", required_argument, NULL, LOPT_TIMEOUT },
		{ "sort", required_argument, NULL, LOPT_SORT },
		{ "interval", required_argument, NULL, LOPT_INTERVAL },
		{ "count", required_argument, NULL, LOPT_COUNT },
		{ "since", required_argument, NULL, LOPT_SINCE },
		{ "follow", no_argument, NULL, LOPT_FOLLOW },
		{ "files-from", required_argument, NULL, LOPT_FILES_FROM },
		{ "listen", required_argument, NULL, LOPT_LISTEN },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		int val;
		unsigned opt;
	} needs[] = {
		{ LOPT_JSON, OPT_JSON },
		{ LOPT_TIMEOUT, OPT_TIMEOUT },
		{ LOPT_SORT, OPT_SORT },
		{ LOPT_INTERVAL, OPT_INTERVAL },
		{ LOPT_COUNT, OPT_COUNT },
		{ LOPT_SINCE, OPT_SINCE },
		{ LOPT_FOLLOW, OPT_FOLLOW },
		{ LOPT_FILES_FROM, OPT_FILES_FROM },
		{ LOPT_LISTEN, OPT_LISTEN },
	};
	struct option longopts[sizeof(all) / sizeof(all[0])];
	int n = 0;
	for (int i = 0; all[i].name; i++) {
		int taken = 1;
		for (size_t k = 0; k < sizeof(needs) / sizeof(needs[0]); k++)
			if (all[i].val == needs[k].val &&
			    !(c->opts & needs[k].opt))
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
				return tool_usage_error(
					c->name, "invalid --timeout '%s'",
					optarg);
			break;
		case LOPT_SORT:
			if (parse_sort(optarg, &ctx->sort) < 0)
				return tool_usage_error(
					c->name,
					"invalid --sort '%s': use slot, "
					"recency, path or size",
					optarg);
			break;
		case LOPT_INTERVAL:
			if (parse_interval(optarg, &ctx->interval_ms) < 0)
				return tool_usage_error(
					c->name,
					"invalid --interval '%s': use seconds "
					"from 0.01 to 86400",
					optarg);
			break;
		case LOPT_COUNT:
			if (parse_count(optarg, &ctx->count) < 0)
				return tool_usage_error(
					c->name,
					"invalid --count '%s': use a positive "
					"integer",
					optarg);
			break;
		case LOPT_SINCE:
			ctx->since = optarg;
			break;
		case LOPT_FOLLOW:
			ctx->follow = 1;
			break;
		case LOPT_FILES_FROM:
			ctx->files_from = optarg;
			break;
		case LOPT_LISTEN:
			ctx->listen = optarg;
			break;
		case ':':
			return tool_usage_error(
				c->name, "option '%s' needs a value",
				bad_option(argv, buf, sizeof(buf)));
		default:
			return tool_usage_error(c->name, "unknown option '%s'",
						bad_option(argv, buf,
							   sizeof(buf)));
		}
	}
	return TOOL_ARGS_RUN;
}

int tool_check_operands(const struct tool_cmd *c, int count, char **operands)
{
	if (count < c->min_args)
		return tool_usage_error(c->name, "missing PATH");
	if (c->max_args >= 0 && count > c->max_args)
		return tool_usage_error(c->name, "unexpected argument '%s'",
					operands[c->max_args]);
	return TOOL_ARGS_RUN;
}

/* Append one operand (a copy) to `ops`; 0 or -1. */
static int push_operand(struct tool_operands *ops, size_t *cap, const char *s,
			size_t n)
{
	if ((size_t)ops->argc + 1 >= *cap) {
		size_t want = *cap ? 2 * *cap : 64;
		char **v = realloc(ops->argv, want * sizeof(*v));
		if (!v)
			return -1;
		ops->argv = v;
		*cap = want;
	}
	char *copy = strndup(s, n);
	if (!copy)
		return -1;
	ops->argv[ops->argc++] = copy;
	ops->argv[ops->argc] = NULL;
	return 0;
}

/* Every non-empty line of `f` as an operand; 0, or -1 (out of memory). */
static int push_lines(struct tool_operands *ops, size_t *cap, FILE *f)
{
	char *line = NULL;
	size_t size = 0;
	ssize_t n;
	int r = 0;

	while (!r && (n = getline(&line, &size, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n > 0)
			r = push_operand(ops, cap, line, (size_t)n);
	}
	free(line);
	return r;
}

int tool_expand_operands(const struct tool_cmd *c, const struct tool_ctx *ctx,
			 int argc, char **argv, struct tool_operands *out)
{
	size_t cap = 0;
	int stdin_read = 0, r = 0;

	*out = (struct tool_operands){ argc, argv, 0 };
	if (!(c->opts & OPT_FILES_FROM))
		return TOOL_ARGS_RUN;
	int dash = 0;
	for (int i = 0; i < argc; i++)
		dash |= strcmp(argv[i], "-") == 0;
	if (!dash && !ctx->files_from)
		return TOOL_ARGS_RUN;
	*out = (struct tool_operands){ 0, NULL, 1 };
	for (int i = 0; !r && i < argc; i++) {
		if (strcmp(argv[i], "-") != 0) {
			r = push_operand(out, &cap, argv[i], strlen(argv[i]));
		} else if (!stdin_read++) {
			r = push_lines(out, &cap, stdin);
		}
	}
	if (!r && ctx->files_from) {
		int is_stdin = strcmp(ctx->files_from, "-") == 0;
		FILE *f = is_stdin ? stdin : fopen(ctx->files_from, "re");
		if (!f) {
			tool_error("%s: --files-from %s: %s", c->name,
				   ctx->files_from, strerror(errno));
			tool_operands_free(out);
			return TOOL_EXIT_FAIL;
		}
		if (!is_stdin || !stdin_read++)
			r = push_lines(out, &cap, f);
		if (!is_stdin)
			fclose(f);
	}
	if (r < 0) {
		tool_error("%s: out of memory reading paths", c->name);
		tool_operands_free(out);
		return TOOL_EXIT_FAIL;
	}
	if (!out->argv && !(out->argv = calloc(1, sizeof(char *)))) {
		tool_error("%s: out of memory reading paths", c->name);
		return TOOL_EXIT_FAIL;
	}
	return TOOL_ARGS_RUN; /* an empty list is "missing PATH" */
}

void tool_operands_free(struct tool_operands *ops)
{
	if (!ops->owned)
		return;
	for (int i = 0; ops->argv && i < ops->argc; i++)
		free(ops->argv[i]);
	free(ops->argv);
	ops->argv = NULL;
	ops->owned = 0;
}
