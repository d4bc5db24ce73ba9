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

#include "fstatcache/fstatcache.h"
#include "log.h"
#include "loop.h"
#include "paths.h"
#include "sys.h"

#define DEFAULT_CAPACITY FSC_DEFAULT_ENTRIES /* meson option default_capacity */
#define MAX_CAPACITY (FSC_CAPACITY_MAX / 2)

struct paths {
	char **v;
	size_t n, cap;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: fstatcached [OPTION]... [PATH]...\n"
"Keep the stat(2) answers for PATHs, and for every path a reader asks for,\n"
"fresh in shared memory from inotify, for fstatcache readers.\n"
"\n"
"  -n, --name NAME         instance name (default $FSTATCACHE_NAME, else\n"
"                          \"fstatcache\"); letters, digits, '_' and '-'\n"
"  -c, --capacity N        most paths cached at once (default %u); the least\n"
"                          recently used are evicted beyond it\n"
"  -w, --watch-list FILE   also watch the paths in FILE, one per line\n"
"                          (blank lines and lines starting with '#' skipped)\n"
"      --path-max N        longest path cached, in bytes (default %u, at most\n"
"                          %u); longer paths are answered by stat()\n"
"      --socket PATH       control socket (default $XDG_RUNTIME_DIR, /run for\n"
"                          root, else /tmp: fstatcache.NAME.sock)\n"
"      --group-readable    share with the file's group: segment 0640, socket\n"
"                          and recency marks 0660 (default owner-only 0600)\n"
"      --ready-fd FD       write \"READY\\n\" to FD once serving\n"
"  -v, --verbose           log debug messages\n"
"  -q, --quiet             log only warnings and errors\n"
"  -h, --help              show this help\n"
"  -V, --version           show the version\n"
"\n"
"Stops cleanly on SIGTERM or SIGINT (exit 0).  A writer restarted after a\n"
"crash takes over the previous one's watch list.\n",
		DEFAULT_CAPACITY, FSC_DEFAULT_PATH_MAX - 1, FSC_PATH_MAX_MAX - 1);
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

static int push_path(struct paths *p, const char *path)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		char **v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	char cwd[PATH_MAX] = "/";
	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	char *abs = fsc_path_absolute(cwd, path);
	if (!abs) {
		fprintf(stderr, "fstatcached: '%s': %s\n", path, strerror(errno));
		return -errno;
	}
	if (!fsc_path_ok(abs, strlen(abs))) {
		fprintf(stderr, "fstatcached: %s: not a canonical path (no "
			"empty, '.' or '..' components, no trailing '/')\n", abs);
		free(abs);
		return -EINVAL;
	}
	p->v[p->n++] = abs;
	return 0;
}

static int add_listed(void *ctx, const char *path)
{
	return push_path(ctx, path);
}

static int read_watch_list(struct paths *p, const char *file)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		fprintf(stderr, "fstatcached: %s: %s\n", file, strerror(errno));
		return -errno;
	}
	size_t lineno;
	int err = fsc_watch_list_read(f, add_listed, p, &lineno);
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
	const char *dir = getenv("XDG_RUNTIME_DIR");
	if (!dir || dir[0] != '/')
		dir = geteuid() == 0 ? "/run" : "/tmp";
	snprintf(buf, size, "%s/fstatcache.%s.sock", dir, name);
	return buf;
}

enum { OPT_PATH_MAX = 256, OPT_SOCKET, OPT_READY_FD, OPT_GROUP };

static const struct option options[] = {
	{ "name", required_argument, NULL, 'n' },
	{ "capacity", required_argument, NULL, 'c' },
	{ "watch-list", required_argument, NULL, 'w' },
	{ "path-max", required_argument, NULL, OPT_PATH_MAX },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "group-readable", no_argument, NULL, OPT_GROUP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int parse_option(int c, struct fsc_writer_opts *o, struct paths *p)
{
	unsigned long v;
	switch (c) {
	case 'n':
		o->name = optarg;
		return 0;
	case 'c':
		if (parse_uint(optarg, 1, MAX_CAPACITY, &v))
			return usage_error("--capacity: expected 1..8388608, "
					   "got '%s'", optarg);
		o->max_entries = (uint32_t)v;
		return 0;
	case 'w':
		return read_watch_list(p, optarg) ? 2 : 0;
	case OPT_PATH_MAX:
		if (parse_uint(optarg, FSC_PATH_MAX_MIN - 1,
			       FSC_PATH_MAX_MAX - 1, &v))
			return usage_error("--path-max: expected 63..4095, "
					   "got '%s'", optarg);
		o->path_max = (uint32_t)((v + 1 + 7) & ~7ul);
		return 0;
	case OPT_SOCKET:
		o->socket_path = optarg;
		return 0;
	case OPT_READY_FD:
		if (parse_uint(optarg, 0, INT_MAX, &v))
			return usage_error("--ready-fd: bad descriptor '%s'",
					   optarg);
		o->ready_fd = (int)v;
		return 0;
	case OPT_GROUP:
		o->mode = 0640;
		return 0;
	case 'v':
		fsc_log_set_level(FSC_LOG_DEBUG);
		return 0;
	case 'q':
		fsc_log_set_level(FSC_LOG_WARN);
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

static int check_opts(const struct fsc_writer_opts *o)
{
	if (!fsc_name_ok(o->name))
		return usage_error("--name: '%s' is not 1-64 letters, digits, "
				   "'_' or '-'", o->name);
	if (o->socket_path[0] != '/' || strlen(o->socket_path) >= 92)
		return usage_error("--socket: '%s' must be an absolute path "
				   "shorter than 92 bytes", o->socket_path);
	return 0;
}

int main(int argc, char **argv)
{
	struct fsc_writer_opts o = {
		.name = getenv("FSTATCACHE_NAME"),
		.max_entries = DEFAULT_CAPACITY,
		.path_max = FSC_DEFAULT_PATH_MAX,
		.probe_limit = FSC_DEFAULT_PROBE_LIMIT,
		.mode = 0600,
		.ready_fd = -1,
	};
	struct paths p = { 0 };
	char sock[256];
	int c, r = 0;

	if (!o.name || !*o.name)
		o.name = "fstatcache";
	while (!r && (c = getopt_long(argc, argv, "n:c:w:vqhV", options,
				      NULL)) != -1)
		r = parse_option(c, &o, &p);
	for (int i = optind; !r && i < argc; i++)
		r = push_path(&p, argv[i]) ? 2 : 0;
	const char *faults = getenv("FSTATCACHE_FAULTS");
	if (!r && faults && fsc_sys_faults_parse(faults) < 0)
		r = usage_error("FSTATCACHE_FAULTS: cannot parse '%s'", faults);
	if (!r && !o.socket_path)
		o.socket_path = default_socket(o.name, sock, sizeof(sock));
	if (!r)
		r = check_opts(&o);
	if (!r) {
		o.paths = (const char *const *)p.v;
		o.npaths = p.n;
		r = fsc_writer_run(&o) < 0 ? 1 : 0;
	}
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i]);
	free(p.v);
	return r < 0 ? 0 : r;
}
