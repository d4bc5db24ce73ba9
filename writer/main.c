/*
 * main.c - fstatcached's command line: parse options and the watch list,
 * then hand over to the event loop (loop.c).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "defaults.h"
#include "fstatcache/contract.h"
#include "fstatcache/version.h"
#include "log.h"
#include "loop.h"
#include "paths.h"
#include "source.h"
#include "sys.h"

#define DEFAULT_CAPACITY FW_DEFAULT_ENTRIES /* meson option default_capacity */
#define MAX_CAPACITY FW_CONF_CAPACITY_MAX

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: fstatcached [OPTION]... [PATH]...\n"
		"Keep the stat(2) answers for PATHs, and for every path a reader asks for,\n"
		"fresh in shared memory from inotify, for fstatcache readers.\n"
		"\n"
		"      --config FILE       read settings from FILE (fstatcache.conf(5));\n"
		"                          options given here win; SIGHUP re-reads it\n"
		"      --state-file FILE   on a clean stop, write every cached path to\n"
		"                          FILE; at start, watch them again\n"
		"      --check-config [FILE]  check FILE (default: --config's) and the\n"
		"                          options with it, say 'ok' or what is wrong,\n"
		"                          and exit (0 ok, 2 not) without serving\n"
		"  -n, --name NAME         instance name (default: the config's, else\n"
		"                          $FSTATCACHE_NAME, else \"fstatcache\"); letters,\n"
		"                          digits, '_' and '-'\n"
		"  -c, --capacity N        most paths cached at once (default %u); the least\n"
		"                          recently used are evicted beyond it\n"
		"  -w, --watch-list FILE   also watch the paths in FILE, one per line\n"
		"                          (blank lines and lines starting with '#' skipped)\n"
		"      --path-max N        longest path cached, in bytes (default %u, at most\n"
		"                          %u); longer paths are answered by stat()\n"
		"      --socket PATH       control socket (default $RUNTIME_DIRECTORY/NAME.sock\n"
		"                          under systemd, else in $XDG_RUNTIME_DIR, /run for\n"
		"                          root, or /tmp: fstatcache.NAME.sock)\n"
		"      --events SOURCE     where events come from: fanotify, inotify or\n"
		"                          auto (default: fanotify where the kernel\n"
		"                          allows it, else inotify)\n"
		"      --no-file-marks     with fanotify, mark only directories, not also\n"
		"                          the watched files (one mark per file less;\n"
		"                          writes through other hard links then go\n"
		"                          unseen until the file's next event)\n"
		"      --settle-ms N       re-stat a changed file once it has been quiet\n"
		"                          for N ms (default %u; readers stat() it until\n"
		"                          then); 0: at once\n"
		"      --batch-us N        under load, read events at most every N us\n"
		"                          (default %u; 0: at every wake-up)\n"
		"      --cpu-budget PCT    under load, lengthen the pause between event\n"
		"                          reads (up to 100 ms, 10 ms with file marks)\n"
		"                          to keep the writer under\n"
		"                          PCT %% of one core (default %s; 0: no budget)\n"
		"      --feed-size BYTES   the change feed's ring (default %uK; a power\n"
		"                          of two from 64K to 1G, suffix K, M or G);\n"
		"                          a reader further behind does a full pass\n"
		"      --memory-limit SIZE grow the table, when full, up to SIZE bytes\n"
		"                          of shared memory (suffix K, M, G; default\n"
		"                          %uM, or 0 when --capacity is given: a\n"
		"                          fixed size); 0: never grow\n"
		"      --group-readable    share with the file's group: segment 0640, socket\n"
		"                          and recency marks 0660 (default owner-only 0600)\n"
		"      --ready-fd FD       write \"READY\\n\" to FD once serving\n"
		"  -v, --verbose           log debug messages\n"
		"  -q, --quiet             log only warnings and errors\n"
		"  -h, --help              show this help\n"
		"  -V, --version           show the version\n"
		"\n"
		"Stops cleanly on SIGTERM or SIGINT (exit 0); SIGHUP reloads the config\n"
		"file, keeping the cache.  A writer restarted after a crash takes over the\n"
		"previous one's watch list.  Exit status: 0 stopped cleanly, 1 failed\n"
		"while starting or serving, 2 bad command line or config file.\n",
		DEFAULT_CAPACITY, FW_DEFAULT_PATH_MAX - 1, FSC_PATH_MAX_MAX - 1,
		FW_DEFAULT_SETTLE_MS, FW_DEFAULT_BATCH_US,
		FW_DEFAULT_CPU_BUDGET, FW_DEFAULT_FEED_SIZE / 1024,
		(unsigned)(FW_DEFAULT_MEMORY_LIMIT >> 20));
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "fstatcached: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'fstatcached --help'.\n");
	return 2;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int push_path(struct fw_strv *p, const char *path)
{
	char cwd[PATH_MAX] = "/";
	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	char *abs = fw_path_absolute(cwd, path);
	if (!abs) {
		fprintf(stderr, "fstatcached: '%s': %s\n", path,
			strerror(errno));
		return -errno;
	}
	if (!fsc_path_ok(abs, strlen(abs))) {
		fprintf(stderr,
			"fstatcached: %s: not a canonical path (no "
			"empty, '.' or '..' components, no trailing '/')\n",
			abs);
		free(abs);
		return -EINVAL;
	}
	int err = fw_strv_push(p, abs);
	free(abs);
	return err;
}

static int add_listed(void *ctx, const char *path)
{
	return push_path(ctx, path);
}

static int read_watch_list(struct fw_strv *p, const char *file)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		fprintf(stderr, "fstatcached: %s: %s\n", file, strerror(errno));
		return -errno;
	}
	size_t lineno;
	int err = fw_watch_list_read(f, add_listed, p, &lineno);
	if (err == -EIO)
		fprintf(stderr, "fstatcached: %s: read error\n", file);
	else if (err)
		fprintf(stderr, "fstatcached: %s:%zu: %s\n", file, lineno,
			err == -EINVAL ? "not a canonical absolute path"
				       : strerror(-err));
	if (f != stdin)
		fclose(f);
	return err;
}

static const char *default_socket(const char *name, char *buf, size_t size)
{
	/* systemd's RuntimeDirectory= (the first, if several). */
	const char *rd = getenv("RUNTIME_DIRECTORY");
	if (rd && rd[0] == '/') {
		snprintf(buf, size, "%.*s/%s.sock", (int)strcspn(rd, ":"), rd,
			 name);
		return buf;
	}
	const char *dir = getenv("XDG_RUNTIME_DIR");
	if (!dir || dir[0] != '/')
		dir = geteuid() == 0 ? "/run" : "/tmp";
	snprintf(buf, size, "%s/fstatcache.%s.sock", dir, name);
	return buf;
}

enum {
	OPT_PATH_MAX = 256,
	OPT_SOCKET,
	OPT_READY_FD,
	OPT_GROUP,
	OPT_CONFIG,
	OPT_CHECK_CONFIG,
	OPT_STATE_FILE,
	OPT_SETTLE_MS,
	OPT_BATCH_US,
	OPT_EVENTS,
	OPT_CPU_BUDGET,
	OPT_FEED_SIZE,
	OPT_MEMORY_LIMIT,
	OPT_NO_FILE_MARKS
};

static const struct option options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "check-config", optional_argument, NULL, OPT_CHECK_CONFIG },
	{ "state-file", required_argument, NULL, OPT_STATE_FILE },
	{ "name", required_argument, NULL, 'n' },
	{ "capacity", required_argument, NULL, 'c' },
	{ "watch-list", required_argument, NULL, 'w' },
	{ "path-max", required_argument, NULL, OPT_PATH_MAX },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "settle-ms", required_argument, NULL, OPT_SETTLE_MS },
	{ "events", required_argument, NULL, OPT_EVENTS },
	{ "no-file-marks", no_argument, NULL, OPT_NO_FILE_MARKS },
	{ "batch-us", required_argument, NULL, OPT_BATCH_US },
	{ "cpu-budget", required_argument, NULL, OPT_CPU_BUDGET },
	{ "feed-size", required_argument, NULL, OPT_FEED_SIZE },
	{ "memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT },
	{ "group-readable", no_argument, NULL, OPT_GROUP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int parse_option(int c, struct fw_writer_opts *o, struct fw_strv *p)
{
	unsigned long v;
	switch (c) {
	case OPT_CONFIG:
		o->config_path = optarg;
		return 0;
	case OPT_STATE_FILE:
		if (optarg[0] != '/')
			return usage_error("--state-file: '%s' is not an "
					   "absolute path",
					   optarg);
		o->state_file = optarg;
		o->cli_set |= FW_CONF_STATE_FILE;
		return 0;
	case OPT_CHECK_CONFIG:
		o->check_config = true;
		if (optarg)
			o->config_path = optarg;
		return 0;
	case 'n':
		o->name = optarg;
		o->cli_set |= FW_CONF_NAME;
		return 0;
	case 'c':
		if (parse_uint(optarg, 1, MAX_CAPACITY, &v))
			return usage_error("--capacity: expected 1..8388608, "
					   "got '%s'",
					   optarg);
		o->max_entries = (uint32_t)v;
		o->cli_set |= FW_CONF_CAPACITY;
		return 0;
	case 'w':
		return read_watch_list(p, optarg) ? 2 : 0;
	case OPT_PATH_MAX:
		if (parse_uint(optarg, FSC_PATH_MAX_MIN - 1,
			       FSC_PATH_MAX_MAX - 1, &v))
			return usage_error("--path-max: expected 63..4095, "
					   "got '%s'",
					   optarg);
		o->path_max = (uint32_t)((v + 1 + 7) & ~7ul);
		o->cli_set |= FW_CONF_PATH_MAX;
		return 0;
	case OPT_SOCKET:
		o->socket_path = optarg;
		o->cli_set |= FW_CONF_SOCKET;
		return 0;
	case OPT_READY_FD:
		if (parse_uint(optarg, 0, INT_MAX, &v))
			return usage_error("--ready-fd: bad descriptor '%s'",
					   optarg);
		o->ready_fd = (int)v;
		return 0;
	case OPT_EVENTS:
		if (fw_source_parse(optarg) < 0)
			return usage_error("--events: expected auto, inotify "
					   "or fanotify, got '%s'",
					   optarg);
		o->source = fw_source_parse(optarg);
		return 0;
	case OPT_NO_FILE_MARKS:
		o->no_file_marks = true;
		return 0;
	case OPT_SETTLE_MS:
		if (parse_uint(optarg, 0, FW_SETTLE_MS_MAX, &v))
			return usage_error("--settle-ms: expected 0..3600000, "
					   "got '%s'",
					   optarg);
		o->settle_ms = (uint32_t)v;
		return 0;
	case OPT_BATCH_US:
		if (parse_uint(optarg, 0, FW_BATCH_US_MAX, &v))
			return usage_error("--batch-us: expected 0..1000000, "
					   "got '%s'",
					   optarg);
		o->batch_us = (uint32_t)v;
		return 0;
	case OPT_CPU_BUDGET: {
		char *end;
		errno = 0;
		double pct = strtod(optarg, &end);
		if (errno || end == optarg || *end || !(pct >= 0 && pct <= 100))
			return usage_error(
				"--cpu-budget: expected a percentage "
				"of one core, 0 to 100, got '%s'",
				optarg);
		o->cpu_budget_ppm = (uint32_t)(pct * 10000 + 0.5);
		return 0;
	}
	case OPT_FEED_SIZE:
		if (fw_feed_size_parse(optarg, &o->feed_size) < 0)
			return usage_error(
				"--feed-size: expected a power of two "
				"from 64K to 1G, got '%s'",
				optarg);
		o->cli_set |= FW_CONF_FEED_SIZE;
		return 0;
	case OPT_MEMORY_LIMIT:
		if (fw_bytes_parse(optarg, FW_MEMORY_LIMIT_MAX,
				   &o->memory_limit) < 0)
			return usage_error("--memory-limit: expected a size "
					   "such as 64M (0: never grow), got "
					   "'%s'",
					   optarg);
		o->cli_set |= FW_CONF_MEMORY_LIMIT;
		return 0;
	case OPT_GROUP:
		o->mode = 0640;
		o->cli_set |= FW_CONF_SEGMENT_MODE;
		return 0;
	case 'v':
		fw_log_set_level(FW_LOG_DEBUG);
		o->cli_set |= FW_CONF_LOG_LEVEL;
		return 0;
	case 'q':
		fw_log_set_level(FW_LOG_WARN);
		o->cli_set |= FW_CONF_LOG_LEVEL;
		return 0;
	case 'h':
		usage(stdout);
		return -1;
	case 'V':
		printf("fstatcached %s\n", FSC_VERSION_STRING);
		return -1;
	default:
		fprintf(stderr, "Try 'fstatcached --help'.\n");
		return 2;
	}
}

static int check_opts(const struct fw_writer_opts *o)
{
	if (!fsc_name_ok(o->name))
		return usage_error("--name: '%s' is not 1-64 letters, digits, "
				   "'_' or '-'",
				   o->name);
	if (o->socket_path[0] != '/' || strlen(o->socket_path) >= 92)
		return usage_error("--socket: '%s' must be an absolute path "
				   "shorter than 92 bytes",
				   o->socket_path);
	return 0;
}

/* The config file fills in what the command line left unset. */
static int merge_config(struct fw_writer_opts *o, struct fw_config *cfg)
{
	static char abs[PATH_MAX];
	char err[1024], cwd[PATH_MAX] = "/";
	/* SIGHUP re-reads it from wherever we are then. */
	if (o->config_path[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		char *a = fw_path_absolute(cwd, o->config_path);
		if (a && strlen(a) < sizeof(abs)) {
			strcpy(abs, a);
			o->config_path = abs;
		}
		free(a);
	}
	if (fw_config_load(o->config_path, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "fstatcached: %s\n", err);
		return 2;
	}
	/* Copies: a reload rewrites cfg, not the segment we serve. */
	static char name[sizeof(cfg->name)], socket[sizeof(cfg->socket)];
	unsigned take = cfg->set & ~o->cli_set;
	if (take & FW_CONF_NAME)
		o->name = memcpy(name, cfg->name, sizeof(name));
	if (take & FW_CONF_CAPACITY)
		o->max_entries = cfg->capacity;
	if (take & FW_CONF_PATH_MAX)
		o->path_max = (cfg->path_max + 1 + 7) & ~7u;
	if (take & FW_CONF_FEED_SIZE)
		o->feed_size = cfg->feed_size;
	if (take & FW_CONF_MEMORY_LIMIT)
		o->memory_limit = cfg->memory_limit;
	static char state[sizeof(cfg->state_file)];
	if (take & FW_CONF_STATE_FILE)
		o->state_file = memcpy(state, cfg->state_file, sizeof(state));
	if (take & FW_CONF_SOCKET)
		o->socket_path = memcpy(socket, cfg->socket, sizeof(socket));
	if (!(o->cli_set & FW_CONF_SEGMENT_MODE))
		o->mode = cfg->segment_mode;
	if (cfg->set & FW_CONF_GROUP)
		o->gid = cfg->gid;
	if (take & FW_CONF_LOG_LEVEL)
		fw_log_set_level((enum fw_log_level)cfg->log_level);
	o->config = cfg;
	return 0;
}

int main(int argc, char **argv)
{
	struct fw_writer_opts o = {
		.max_entries = DEFAULT_CAPACITY,
		.path_max = FW_DEFAULT_PATH_MAX,
		.probe_limit = FW_DEFAULT_PROBE_LIMIT,
		.settle_ms = FW_DEFAULT_SETTLE_MS,
		.batch_us = FW_DEFAULT_BATCH_US,
		.cpu_budget_ppm = FW_DEFAULT_CPU_BUDGET_PPM,
		.feed_size = FW_DEFAULT_FEED_SIZE,
		.mode = 0600,
		.gid = (gid_t)-1,
		.ready_fd = -1,
	};
	struct fw_config cfg = { 0 };
	struct fw_strv p = { 0 };
	char sock[256];
	int c, r = 0;

	while (!r &&
	       (c = getopt_long(argc, argv, "n:c:w:vqhV", options, NULL)) != -1)
		r = parse_option(c, &o, &p);
	/* `--check-config FILE`, as nginx -t and sshd -t users type it. */
	if (!r && o.check_config && !o.config_path && optind == argc - 1)
		o.config_path = argv[optind++];
	if (!r && o.config_path)
		r = merge_config(&o, &cfg);
	if (!o.name)
		o.name = getenv("FSTATCACHE_NAME");
	if (!o.name || !*o.name)
		o.name = "fstatcache";
	for (int i = optind; !r && i < argc; i++)
		r = push_path(&p, argv[i]) ? 2 : 0;
	const char *faults = getenv("FSTATCACHE_FAULTS");
	if (!r && faults && fw_sys_faults_parse(faults) < 0)
		r = usage_error("FSTATCACHE_FAULTS: cannot parse '%s'", faults);
	if (!r && !o.socket_path)
		o.socket_path = default_socket(o.name, sock, sizeof(sock));
	/* A capacity given without a memory limit is a fixed size, as it
	 * always was; otherwise the table grows up to the limit. */
	if (!(o.cli_set & FW_CONF_MEMORY_LIMIT) &&
	    !(cfg.set & FW_CONF_MEMORY_LIMIT))
		o.memory_limit = ((o.cli_set | cfg.set) & FW_CONF_CAPACITY)
					 ? 0
					 : FW_DEFAULT_MEMORY_LIMIT;
	if (!r)
		r = check_opts(&o);
	if (!r && o.check_config) {
		printf("fstatcached: %s: ok (instance '%s', socket %s)\n",
		       o.config_path ? o.config_path : "no configuration file",
		       o.name, o.socket_path);
		r = -1; /* exit 0 without serving */
	}
	if (!r) {
		o.paths = (const char *const *)p.v;
		o.npaths = p.n;
		r = fw_writer_run(&o) < 0 ? 1 : 0;
	}
	fw_strv_free(&p);
	fw_config_free(&cfg);
	return r < 0 ? 0 : r;
}
