/*
 * test_config.c - the config file, SIGHUP reload, allowed prefixes, the
 * systemd readiness protocol and the service user (issue 6, item 2).
 *
 *   - config_parse: every key, and every kind of bad input, rejected with
 *     "FILE:LINE: reason" (writer/config.c, in-process);
 *   - config: the real writer started with --config applies it, the
 *     command line wins over it, and a bad file stops it with exit 2;
 *   - reload: SIGHUP adds and removes watch-list paths and changes the
 *     segment's mode and group while every other answer stays cached in
 *     the same segment; a bad file changes nothing.  Reload completion is
 *     seen through $NOTIFY_SOCKET (RELOADING=1, then READY=1), not waited
 *     for;
 *   - allow: another user's requests are honoured only under the allowed
 *     prefixes (whole components), never unwatch or invalidate;
 *   - service_user: readers trust a segment owned by the service user
 *     (built here with FSC_SERVICE_USER "nobody"), and no other user.
 */
#define FSC_SERVICE_USER "nobody"
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define GUARD_MS 60000
#define NOBODY 65534

static struct fsct_writer W;
static fsc_handle *H;
static int notify_fd = -1;

static void setup(void)
{
	fsct_fixture_init(&W, &H);
}

static void teardown(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	unsetenv("NOTIFY_SOCKET");
	fsct_fixture_fini(&W, &H);
}

/* ---- helpers ----------------------------------------------------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "open(%s): %s", path, strerror(errno));
	size_t n = strlen(text);
	cr_assert_eq(write(fd, text, n), (ssize_t)n);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* The config file of this test, in the writer's private directory. */
static const char *conf_path(void)
{
	static char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", fsct_path(&W, "fstatcache.conf"));
	return p;
}

static void write_conf(const char *text)
{
	write_file(conf_path(), text, 0644);
}

/* Parse `text` as a config file; returns fw_config_load's result. */
static int parse(const char *text, struct fw_config *c, char *err,
		 size_t errlen)
{
	write_conf(text);
	return fw_config_load(conf_path(), c, err, errlen);
}

static void expect_bad(const char *text, const char *want)
{
	struct fw_config c;
	char err[1024] = "";
	int r = parse(text, &c, err, sizeof(err));
	fw_config_free(&c);
	cr_expect_eq(r, -1, "accepted:\n%s", text);
	cr_expect(strstr(err, want) != NULL,
		  "for:\n%s\nsaid: %s\nwant it to contain: %s", text, err,
		  want);
	cr_expect(strncmp(err, conf_path(), strlen(conf_path())) == 0,
		  "message does not start with the file name: %s", err);
}

/* Bind a datagram socket for $NOTIFY_SOCKET in the private directory. */
static void notify_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fsct_path(&W, "n"));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(notify_fd, 0);
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "bind %s: %s", sa.sun_path, strerror(errno));
	cr_assert_eq(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
}

/* The next notification (hang guard only); returns a static buffer. */
static const char *notify_next(void)
{
	static char buf[1024];
	struct pollfd p = { notify_fd, POLLIN, 0 };
	cr_assert_eq(poll(&p, 1, GUARD_MS), 1,
		     "no notification from the "
		     "writer within %d ms",
		     GUARD_MS);
	ssize_t n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	return buf;
}

static void expect_notify(const char *want)
{
	const char *got = notify_next();
	cr_assert(strncmp(got, want, strlen(want)) == 0,
		  "notification '%s', want it to start with '%s'", got, want);
}

/* SIGHUP and wait for the reload to finish; returns the READY message. */
static const char *reload(void)
{
	cr_assert_eq(kill(W.pid, SIGHUP), 0);
	expect_notify("RELOADING=1\nMONOTONIC_USEC=");
	const char *ready = notify_next();
	cr_assert(strncmp(ready, "READY=1", 7) == 0, "after RELOADING: '%s'",
		  ready);
	return ready;
}

static void start(const char *const *extra)
{
	notify_listen();
	fsct_writer_start(&W, extra);
	expect_notify("READY=1\nSTATUS=serving");
	H = fsct_open(&W);
}

static int cached(const char *path, struct fsc_stat *st)
{
	return fsc_lookup(H, path, st);
}

static void expect_cached(const char *path)
{
	struct fsc_stat st;
	int r = cached(path, &st);
	cr_assert_eq(r, 0, "%s: lookup %d (%s), want a cache hit", path, r,
		     fsc_strerror(r));
}

static void expect_not_cached(const char *path)
{
	struct fsc_stat st;
	int r = cached(path, &st);
	cr_assert_eq(r, FSC_MISS, "%s: lookup %d, want FSC_MISS", path, r);
}

static uint64_t header_epoch(void)
{
	struct fsc_header h;
	cr_assert_eq(fsc_header_read(H, &h), 0);
	return h.epoch;
}

static void object_access(int which, mode_t *mode, gid_t *gid)
{
	char shm[FSC_NAME_MAX + 32], dev[FSC_NAME_MAX + 48];
	fsc_shm_name(shm, sizeof(shm), W.name, which);
	snprintf(dev, sizeof(dev), "/dev/shm%s", shm);
	struct stat st;
	cr_assert_eq(stat(dev, &st), 0, "stat(%s): %s", dev, strerror(errno));
	*mode = st.st_mode & 07777;
	*gid = st.st_gid;
}

/* Every object of the instance: the ones readers only read have the
 * segment's mode, the ones they write (.use, .req) the recency marks'. */
static void expect_access(mode_t seg, mode_t use, mode_t sock, gid_t gid)
{
	static const struct {
		int which;
		const char *what;
		int written; /* by readers */
	} objs[] = {
		{ FSC_OBJ_TABLE, "segment", 0 },
		{ FSC_OBJ_USE, "recency marks", 1 },
		{ FSC_OBJ_FEED, "change feed", 0 },
		{ FSC_OBJ_REQ, "request ring", 1 },
		{ FSC_OBJ_TAGS, "tag array", 0 },
	};
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		mode_t m, want = objs[i].written ? use : seg;
		gid_t g;
		object_access(objs[i].which, &m, &g);
		cr_expect_eq(m, want, "%s mode %o, want %o", objs[i].what, m,
			     want);
		cr_expect_eq(g, gid, "%s group %u, want %u", objs[i].what, g,
			     gid);
	}
	struct stat st;
	cr_assert_eq(lstat(W.socket, &st), 0);
	cr_expect_eq(st.st_mode & 07777, sock, "socket mode %o, want %o",
		     st.st_mode & 07777, sock);
	cr_expect_eq(st.st_gid, gid, "socket group %u, want %u", st.st_gid,
		     gid);
}

/* Run the writer expecting it to refuse to start; returns its stderr. */
static const char *writer_refuses(const char *const *args, int want_exit)
{
	static char msg[4096];
	const char *argv[16] = { fsct_writer_binary(), "--name", W.name,
				 "--socket", W.socket };
	int n = 5;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int fds[2];
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t k;
	while (got < sizeof(msg) - 1 &&
	       (k = read(fds[0], msg + got, sizeof(msg) - 1 - got)) > 0)
		got += (size_t)k;
	msg[got] = '\0';
	close(fds[0]);
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == want_exit,
		  "writer: wait status 0x%x, want exit %d; stderr: %s", st,
		  want_exit, msg);
	return msg;
}

/* ---- parsing ----------------------------------------------------------- */

TestSuite(config_parse, .init = setup, .fini = teardown, .timeout = 60);

Test(config_parse, every_key)
{
	char list[PATH_MAX], text[4 * PATH_MAX], err[1024] = "";
	snprintf(list, sizeof(list), "%s", fsct_path(&W, "paths"));
	write_file(list, "# listed\n/var/log/listed.log\r\n\n/tmp/x\n", 0644);
	snprintf(text, sizeof(text),
		 "# a comment\n"
		 "\n"
		 "   name   =   svc-1_a  \n"
		 "capacity = 1000\r\n"
		 "path_max=127\n"
		 "socket = /run/fstatcache/x.sock\n"
		 "\t# indented comment\n"
		 "watch = /var/log/syslog\n"
		 "watch = /var/log/a b.log\n"
		 "watch_list = %s\n"
		 "allow = /var/log\n"
		 "allow = /srv/logs\n"
		 "segment_mode = 0640\n"
		 "group = %u\n"
		 "log_level = warning\n",
		 list, (unsigned)getegid());
	struct fw_config c;
	cr_assert_eq(parse(text, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(c.name, "svc-1_a");
	cr_expect_eq(c.capacity, 1000);
	cr_expect_eq(c.path_max, 127);
	cr_expect_str_eq(c.socket, "/run/fstatcache/x.sock");
	cr_expect_eq(c.segment_mode, 0640);
	cr_expect_eq(c.gid, getegid());
	cr_expect_eq(c.log_level, FW_LOG_WARN);
	cr_expect_eq(c.set, FW_CONF_NAME | FW_CONF_CAPACITY | FW_CONF_PATH_MAX |
				    FW_CONF_SOCKET | FW_CONF_SEGMENT_MODE |
				    FW_CONF_GROUP | FW_CONF_LOG_LEVEL |
				    FW_CONF_WATCH_LIST);
	cr_assert_eq(c.watch.n, 4);
	cr_expect_str_eq(c.watch.v[0], "/var/log/syslog");
	cr_expect_str_eq(c.watch.v[1], "/var/log/a b.log");
	cr_expect_str_eq(c.watch.v[2], "/var/log/listed.log");
	cr_expect_str_eq(c.watch.v[3], "/tmp/x");
	cr_assert_eq(c.allow.n, 2);
	cr_expect_str_eq(c.allow.v[1], "/srv/logs");
	fw_config_free(&c);
}

Test(config_parse, defaults_and_group_by_name)
{
	struct fw_config c;
	char err[1024] = "";
	cr_assert_eq(parse("", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.set, 0);
	cr_expect_eq(c.segment_mode, 0600);
	cr_expect_eq(c.log_level, FW_LOG_INFO);
	cr_expect_eq(c.watch.n + c.allow.n, 0);
	fw_config_free(&c);
	struct group *g = getgrgid(getegid());
	cr_assert_not_null(g);
	char text[256];
	snprintf(text, sizeof(text), "segment_mode = 640\ngroup = %s\n",
		 g->gr_name);
	cr_assert_eq(parse(text, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.gid, getegid());
	fw_config_free(&c);
}

Test(config_parse, bad_input_named_with_its_line)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "colour = blue\n", ":1: unknown key 'colour'" },
		{ "\n\ncapacity\n", ":3: expected 'key = value'" },
		{ "= 5\n", ":1: missing key" },
		{ "capacity =\n", ":1: capacity: missing value" },
		{ "capacity = 0\n", "capacity: expected 1..8388608, got '0'" },
		{ "capacity = 8388609\n", "expected 1..8388608" },
		{ "capacity = -1\n", "got '-1'" },
		{ "capacity = 12k\n", "got '12k'" },
		{ "capacity = 99999999999999999999\n", "capacity: expected" },
		{ "path_max = 62\n", "path_max: expected 63..4095, got '62'" },
		{ "path_max = 4096\n", "path_max: expected 63..4095" },
		{ "name = a/b\n", "name: 'a/b' is not 1-64 letters" },
		{ "socket = run/x.sock\n", "socket: 'run/x.sock' must be an "
					   "absolute path" },
		{ "segment_mode = 0644\n", "segment_mode: expected 0600 or "
					   "0640, got '0644'" },
		{ "segment_mode = 0666\n", "expected 0600 or 0640" },
		{ "segment_mode = 0640\ngroup = no-such-group-xyz\n",
		  ":2: group: no group named 'no-such-group-xyz'" },
		{ "group = 0\n", ":1: group: needs segment_mode = 0640" },
		{ "log_level = loud\n", "log_level: expected error, warning, "
					"info or debug, got 'loud'" },
		{ "watch = var/log/x\n", "watch: 'var/log/x' is not a "
					 "canonical absolute path" },
		{ "watch = /var/log/../etc/passwd\n", "is not a canonical" },
		{ "watch = /var/log/\n", "is not a canonical" },
		{ "watch = /var//log\n", "is not a canonical" },
		{ "allow = /var/./log\n", "allow: '/var/./log' is not a "
					  "canonical" },
		{ "capacity = 5\n# x\ncapacity = 6\n",
		  ":3: 'capacity' given "
		  "twice (first on line 1)" },
		{ "watch_list = /no/such/list\n",
		  ":1: watch_list: "
		  "/no/such/list: No such file or directory" },
		{ "watch_list = paths\n", "watch_list: 'paths' is not an "
					  "absolute path" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].text, cases[i].want);
}

Test(config_parse, bad_files)
{
	struct fw_config c;
	char err[1024] = "", text[PATH_MAX + 32], list[PATH_MAX];
	/* A bad line inside the watch list names both files. */
	snprintf(list, sizeof(list), "%s", fsct_path(&W, "paths"));
	write_file(list, "/ok\nrelative/path\n", 0644);
	snprintf(text, sizeof(text), "watch_list = %s\n", list);
	expect_bad(text, ":1: watch_list: ");
	expect_bad(text, "paths:2: not a canonical absolute path");
	/* A NUL byte. */
	write_file(conf_path(), "", 0644);
	int fd = open(conf_path(), O_WRONLY | O_CLOEXEC);
	cr_assert_eq(write(fd, "name = a\0b\n", 11), 11);
	close(fd);
	cr_expect_eq(fw_config_load(conf_path(), &c, err, sizeof(err)), -1);
	cr_expect(strstr(err, ":1: NUL byte") != NULL, "%s", err);
	fw_config_free(&c);
	/* Writable by everyone: anybody could rewrite the watch list. */
	write_file(conf_path(), "capacity = 5\n", 0666);
	cr_expect_eq(fw_config_load(conf_path(), &c, err, sizeof(err)), -1);
	cr_expect(strstr(err, "writable by every user (mode 0666)") != NULL,
		  "%s", err);
	fw_config_free(&c);
	/* Missing, or not a file. */
	cr_expect_eq(fw_config_load(fsct_path(&W, "none"), &c, err,
				    sizeof(err)),
		     -1);
	cr_expect(strstr(err, "none: No such file or directory") != NULL, "%s",
		  err);
	fw_config_free(&c);
	cr_expect_eq(fw_config_load(W.dir, &c, err, sizeof(err)), -1);
	cr_expect(strstr(err, "not a regular file") != NULL, "%s", err);
	fw_config_free(&c);
}

/* As a user with one supplementary group: only that and its own usable. */
Test(config_parse, group_must_be_ours)
{
	if (geteuid() != 0) {
		fsct_writer_cleanup(&W);
		cr_skip_test("needs root to switch to another uid");
	}
	cr_assert_eq(chmod(W.dir, 0755), 0);
	write_conf("segment_mode = 0640\ngroup = 65533\n");
	char other[PATH_MAX];
	snprintf(other, sizeof(other), "%s", fsct_path(&W, "other.conf"));
	write_file(other, "segment_mode = 0640\ngroup = 0\n", 0644);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		gid_t sup = 65533;
		if (setgroups(1, &sup) < 0 ||
		    setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(90);
		struct fw_config c;
		char err[1024];
		int ok = fw_config_load(conf_path(), &c, err, sizeof(err)) == 0;
		fw_config_free(&c);
		int refused = fw_config_load(other, &c, err, sizeof(err)) < 0 &&
			      strstr(err,
				     ":2: group: fstatcached's user is not a "
				     "member of '0'") != NULL;
		fw_config_free(&c);
		_exit(ok && refused ? 0 : 1);
	}
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: 0x%x", st);
}

Test(config_parse, prefixes_match_whole_components)
{
	struct fw_strv v = { 0 };
	cr_assert_eq(fw_strv_push(&v, "/var/log"), 0);
	cr_assert_eq(fw_strv_push(&v, "/srv/a"), 0);
#define ALLOWS(p) fw_prefix_allows(&v, p, strlen(p))
	cr_expect(ALLOWS("/var/log"));
	cr_expect(ALLOWS("/var/log/syslog"));
	cr_expect(ALLOWS("/var/log/nginx/access.log"));
	cr_expect(ALLOWS("/srv/a/b"));
	cr_expect(!ALLOWS("/var/logs/x"));
	cr_expect(!ALLOWS("/var/lo"));
	cr_expect(!ALLOWS("/var"));
	cr_expect(!ALLOWS("/etc/shadow"));
	cr_expect(!ALLOWS("/srv/ab"));
	fw_strv_free(&v);
	cr_expect(!ALLOWS("/var/log/x"), "nothing allowed by no prefix");
	cr_assert_eq(fw_strv_push(&v, "/"), 0);
	cr_expect(ALLOWS("/etc/shadow"));
#undef ALLOWS
	fw_strv_free(&v);
}

struct diff_seen {
	char out[512];
};

static void seen_removed(void *ctx, const char *p)
{
	struct diff_seen *d = ctx;
	size_t n = strlen(d->out);
	snprintf(d->out + n, sizeof(d->out) - n, "-%s ", p);
}

static void seen_added(void *ctx, const char *p)
{
	struct diff_seen *d = ctx;
	size_t n = strlen(d->out);
	snprintf(d->out + n, sizeof(d->out) - n, "+%s ", p);
}

Test(config_parse, watch_list_diff)
{
	struct fw_strv old = { 0 }, now = { 0 }, keep = { 0 };
	const char *o[] = { "/c", "/a", "/b", "/a", "/k" };
	const char *n[] = { "/d", "/b", "/d", "/e" };
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(fw_strv_push(&old, o[i]), 0);
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(fw_strv_push(&now, n[i]), 0);
	cr_assert_eq(fw_strv_push(&keep, "/k"), 0);
	struct diff_seen d = { "" };
	cr_assert_eq(fw_strv_diff(&old, &now, &keep, seen_removed, seen_added,
				  &d),
		     0);
	/* /a removed once, /k kept (command line), /d added once. */
	cr_expect_str_eq(d.out, "-/a -/c +/d +/e ");
	fw_strv_free(&old);
	fw_strv_free(&now);
	fw_strv_free(&keep);
}

/* ---- the writer with a config file ------------------------------------- */

TestSuite(config, .init = setup, .fini = teardown, .timeout = 120);

Test(config, applied_at_start_and_command_line_wins)
{
	char a[PATH_MAX], text[2 * PATH_MAX];
	snprintf(a, sizeof(a), "%s", fsct_path(&W, "a.log"));
	fsct_write(a, "one\n", 0);
	/* name and socket come from the harness's command line. */
	snprintf(text, sizeof(text),
		 "name = not-this-one\n"
		 "socket = /nonexistent/dir/s.sock\n"
		 "capacity = 100\nwatch = %s\n",
		 a);
	write_conf(text);
	const char *args[] = { "--config", conf_path(), "--path-max", "100",
			       NULL };
	start(args);
	struct fsc_header h;
	cr_assert_eq(fsc_header_read(H, &h), 0);
	cr_expect_eq(h.max_entries, 100, "capacity from the file: %u",
		     h.max_entries);
	cr_expect_eq(h.path_max, 104, "--path-max from the command line");
	/* Watched from the start: cached before any reader asked. */
	expect_cached(a);
	fsct_writer_stop(&W);
}

Test(config, bad_file_stops_the_start)
{
	write_conf("capacity = 10\nwatch = relative.log\n");
	const char *args[] = { "--config", conf_path(), NULL };
	const char *msg = writer_refuses(args, 2);
	cr_expect(strstr(msg, "fstatcache.conf:2: watch: 'relative.log' is "
			      "not a canonical absolute path") != NULL,
		  "%s", msg);
	char shm[FSC_NAME_MAX + 32], dev[FSC_NAME_MAX + 48];
	fsc_shm_name(shm, sizeof(shm), W.name, 0);
	snprintf(dev, sizeof(dev), "/dev/shm%s", shm);
	cr_expect_eq(access(dev, F_OK), -1, "a segment was created");
	const char *none[] = { "--config", fsct_path(&W, "missing.conf"),
			       NULL };
	msg = writer_refuses(none, 2);
	cr_expect(strstr(msg, "missing.conf: No such file or directory") !=
			  NULL,
		  "%s", msg);
}

/* The options of the writer's cost model refuse what they cannot mean. */
Test(config, bad_cost_options_stop_the_start)
{
	static const struct {
		const char *opt, *val, *msg;
	} bad[] = {
		{ "--events", "dnotify",
		  "--events: expected auto, inotify or fanotify" },
		{ "--settle-ms", "-1", "--settle-ms: expected 0..3600000" },
		{ "--settle-ms", "3600001", "--settle-ms: expected" },
		{ "--batch-us", "1000001", "--batch-us: expected 0..1000000" },
		{ "--cpu-budget", "101",
		  "--cpu-budget: expected a percentage" },
		{ "--cpu-budget", "-0.5", "--cpu-budget: expected" },
		{ "--cpu-budget", "1%", "--cpu-budget: expected" },
		{ "--cpu-budget", "nan", "--cpu-budget: expected" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = { bad[i].opt, bad[i].val, NULL };
		const char *msg = writer_refuses(args, 2);
		cr_expect(strstr(msg, bad[i].msg) != NULL, "%s %s: %s",
			  bad[i].opt, bad[i].val, msg);
	}
}

Test(config, reload_changes_the_watch_list_and_keeps_the_cache)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], text[3 * PATH_MAX];
	snprintf(a, sizeof(a), "%s", fsct_path(&W, "a.log"));
	snprintf(b, sizeof(b), "%s", fsct_path(&W, "b.log"));
	snprintf(c, sizeof(c), "%s", fsct_path(&W, "c.log"));
	fsct_write(a, "a\n", 0);
	fsct_write(b, "b\n", 0);
	fsct_write(c, "c\n", 0);
	snprintf(text, sizeof(text), "watch = %s\n", a);
	write_conf(text);
	/* The command line's paths stay whatever the file says. */
	const char *args[] = { "--config", conf_path(), c, NULL };
	start(args);
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", fsct_path(&W, "d.log"));
	fsct_write(d, "d\n", 0);
	struct fsc_stat st;
	cr_assert_eq(fsc_stat(H, d, &st), 0); /* a reader's miss */
	fsct_sync(H);
	expect_cached(a);
	expect_cached(c);
	expect_cached(d);
	uint64_t epoch = header_epoch();

	snprintf(text, sizeof(text), "# a moved out, b in\nwatch = %s\n", b);
	write_conf(text);
	const char *ready = reload();
	cr_expect(strstr(ready, "configuration reloaded") != NULL, "%s", ready);
	expect_not_cached(a);
	expect_cached(b);
	expect_cached(c);
	expect_cached(d);
	cr_expect_eq(header_epoch(), epoch, "reload replaced the segment");
	/* And b is watched, not just stat'ed once. */
	fsct_write(b, "more\n", 1);
	fsct_sync(H);
	cr_assert_eq(cached(b, &st), 0);
	cr_expect_eq(st.size, 7);
	fsct_writer_stop(&W);
	expect_notify("STOPPING=1");
}

Test(config, bad_reload_changes_nothing)
{
	char a[PATH_MAX], text[2 * PATH_MAX];
	snprintf(a, sizeof(a), "%s", fsct_path(&W, "a.log"));
	fsct_write(a, "a\n", 0);
	snprintf(text, sizeof(text), "watch = %s\nallow = %s\n", a, W.dir);
	write_conf(text);
	const char *args[] = { "--config", conf_path(), NULL };
	start(args);
	expect_cached(a);
	/* Valid lines first, then one bad one: none of it may apply. */
	write_conf("segment_mode = 0640\nwatch = /elsewhere\ncapacity = x\n");
	const char *ready = reload();
	cr_expect(strstr(ready, "reload failed") != NULL, "%s", ready);
	expect_cached(a);
	expect_not_cached("/elsewhere");
	expect_access(0600, 0600, 0600, getegid());
	/* Nor may a file that vanished. */
	cr_assert_eq(unlink(conf_path()), 0);
	ready = reload();
	cr_expect(strstr(ready, "reload failed") != NULL, "%s", ready);
	expect_cached(a);
	fsct_writer_stop(&W);
}

Test(config, reload_changes_mode_and_group)
{
	if (geteuid() != 0) {
		fsct_writer_cleanup(&W);
		cr_skip_test("needs root to give objects to another group");
	}
	write_conf("");
	const char *args[] = { "--config", conf_path(), NULL };
	start(args);
	expect_access(0600, 0600, 0600, getegid());
	write_conf("segment_mode = 0640\ngroup = 65534\n");
	reload();
	expect_access(0640, 0660, 0660, 65534);
	write_conf("segment_mode = 0640\n");
	reload();
	expect_access(0640, 0660, 0660, getegid());
	write_conf("");
	reload();
	expect_access(0600, 0600, 0600, getegid());
	fsct_writer_stop(&W);
}

Test(config, reload_without_config_is_harmless)
{
	start(NULL);
	cr_assert_eq(kill(W.pid, SIGHUP), 0);
	fsct_sync(H); /* still serving */
	fsct_writer_stop(&W);
	expect_notify("STOPPING=1");
}

Test(config, notify_socket_abstract_address)
{
	char name[96];
	snprintf(name, sizeof(name), "@fsct-notify-%s", W.name);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(notify_fd, 0);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				    strlen(name));
	cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, len), 0);
	cr_assert_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	fsct_writer_start(&W, NULL);
	expect_notify("READY=1\nSTATUS=serving '");
	fsct_writer_stop(&W);
	expect_notify("STOPPING=1");
}

/* ---- other users and the allowed prefixes ------------------------------ */

/*
 * In a child running as nobody (keeping our groups, which own the shared
 * segment): send `op` for `path` through the API; exit 0 when the reply
 * status is `want`.
 */
static int request_as_nobody(int op, const char *path, int want)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(90);
		setenv("FSTATCACHE_OWNER_UID", "0", 1);
		fsc_handle *h = NULL;
		if (fsc_open(&h, W.name, FSC_OPEN_ATTACHED) < 0)
			_exit(91);
		char msg[FSC_REPLY_MSG_MAX + 1];
		int r = fsc_control(h, op, path, GUARD_MS, msg, sizeof(msg));
		fsc_close(h);
		_exit(r == want ? 0 : 92);
	}
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st), "child: 0x%x", st);
	return WEXITSTATUS(st);
}

Test(config, other_users_only_under_allowed_prefixes)
{
	if (geteuid() != 0) {
		fsct_writer_cleanup(&W);
		cr_skip_test("needs root to switch to another uid");
	}
	cr_assert_eq(chmod(W.dir, 0755), 0);
	char in[PATH_MAX], deep[PATH_MAX], out[PATH_MAX], near[PATH_MAX];
	char allowed[PATH_MAX], text[2 * PATH_MAX];
	snprintf(allowed, sizeof(allowed), "%s", fsct_path(&W, "logs"));
	snprintf(in, sizeof(in), "%s", fsct_path(&W, "logs/in.log"));
	snprintf(deep, sizeof(deep), "%s", fsct_path(&W, "logs/x/deep.log"));
	snprintf(out, sizeof(out), "%s", fsct_path(&W, "private.log"));
	snprintf(near, sizeof(near), "%s", fsct_path(&W, "logs2/n.log"));
	snprintf(text, sizeof(text), "segment_mode = 0640\nallow = %s\n",
		 allowed);
	write_conf(text);
	const char *args[] = { "--config", conf_path(), NULL };
	start(args);
	uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);

	cr_expect_eq(request_as_nobody(FSC_OP_WATCH, in, 0), 0,
		     "watch under an allowed prefix refused");
	cr_expect_eq(request_as_nobody(FSC_OP_WATCH, deep, 0), 0);
	cr_expect_eq(request_as_nobody(FSC_OP_SYNC, NULL, 0), 0,
		     "sync refused");
	cr_expect_eq(request_as_nobody(FSC_OP_WATCH, out, -EACCES), 0,
		     "watch outside the prefixes honoured");
	cr_expect_eq(request_as_nobody(FSC_OP_WATCH, near, -EACCES), 0,
		     "prefix matched a partial component");
	fsct_sync(H);
	expect_cached(in);
	expect_cached(deep);
	expect_not_cached(out);
	expect_not_cached(near);
	/* Never unwatch or invalidate what others rely on. */
	cr_expect_eq(request_as_nobody(FSC_OP_UNWATCH, in, -EACCES), 0);
	cr_expect_eq(request_as_nobody(FSC_OP_INVALIDATE, NULL, -EACCES), 0);
	fsct_sync(H);
	expect_cached(in);
	cr_expect_eq(fsct_counter(H, FSC_CTR_REQUESTS_REFUSED), refused + 4);

	/* A reload that drops the prefix shuts the door again. */
	write_conf("segment_mode = 0640\n");
	reload();
	cr_expect_eq(request_as_nobody(FSC_OP_SYNC, NULL, -EACCES), 0);
	cr_expect_eq(request_as_nobody(FSC_OP_WATCH, in, -EACCES), 0);
	fsct_writer_stop(&W);
}

/* ---- the service user -------------------------------------------------- */

/* Run the writer as `uid` through setpriv(1), with a private wrapper. */
static void start_as(uid_t uid)
{
	char wrapper[PATH_MAX], text[2 * PATH_MAX];
	snprintf(wrapper, sizeof(wrapper), "%s", fsct_path(&W, "as-user"));
	snprintf(text, sizeof(text),
		 "#!/bin/sh\nexec setpriv --reuid=%u "
		 "--regid=%u --clear-groups -- '%s' \"$@\"\n",
		 (unsigned)uid, (unsigned)uid, fsct_writer_binary());
	write_file(wrapper, text, 0755);
	cr_assert_eq(chown(W.dir, uid, uid), 0);
	char *saved = strdup(fsct_writer_binary());
	cr_assert_eq(setenv("FSTATCACHED", wrapper, 1), 0);
	fsct_writer_start(&W, NULL);
	cr_assert_eq(setenv("FSTATCACHED", saved, 1), 0);
	free(saved);
}

static int attach_status(void)
{
	fsc_handle *h = NULL;
	int r = fsc_open(&h, W.name, FSC_OPEN_ATTACHED);
	fsc_close(h);
	return r;
}

Test(service_user, segment_of_the_service_user_is_trusted, .init = setup,
     .fini = teardown, .timeout = 120)
{
	if (geteuid() != 0) {
		fsct_writer_cleanup(&W);
		cr_skip_test("needs root to run the writer as another user");
	}
	unsetenv("FSTATCACHE_OWNER_UID");
	start_as(NOBODY); /* named "nobody": FSC_SERVICE_USER here */
	/* Opened here, not by the harness: FSC_SERVICE_USER is ours. */
	cr_assert_eq(fsc_open(&H, W.name, FSC_OPEN_ATTACHED), 0,
		     "a reader refused the service user's segment");
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	fsct_write(f, "abc\n", 0);
	cr_assert_eq(fsc_control(H, FSC_OP_WATCH, f, GUARD_MS, NULL, 0), 0);
	fsct_sync(H);
	expect_cached(f);
	fsct_writer_stop(&W);
}

Test(service_user, segment_of_another_user_is_not, .init = setup,
     .fini = teardown, .timeout = 120)
{
	if (geteuid() != 0) {
		fsct_writer_cleanup(&W);
		cr_skip_test("needs root to run the writer as another user");
	}
	unsetenv("FSTATCACHE_OWNER_UID");
	start_as(65533); /* no such user: not the service user */
	cr_assert_eq(attach_status(), -EPERM);
	fsct_writer_stop(&W);
}

/* ---- the writer without the harness's --name and --socket ------------- */

/*
 * Start `fstatcached ARGS...` with only what the test gives (and, unless
 * NULL, $RUNTIME_DIRECTORY); readiness from $NOTIFY_SOCKET.  The writer's
 * socket must be `socket` for fsct_writer_stop's leftover check.
 */
static void spawn_plain(const char *const *args, const char *runtime_dir,
			const char *socket)
{
	const char *argv[8] = { fsct_writer_binary() };
	for (int i = 0; args[i]; i++)
		argv[i + 1] = args[i];
	notify_listen();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		closefrom(3); /* nothing of Criterion's kept open */
		if (runtime_dir)
			setenv("RUNTIME_DIRECTORY", runtime_dir, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	W.pid = pid; /* the harness kills it if we fail below */
	snprintf(W.socket, sizeof(W.socket), "%s", socket);
	expect_notify("READY=1");
	cr_assert_eq(fsc_open(&H, W.name, FSC_OPEN_ATTACHED), 0);
	struct fsc_header h;
	cr_assert_eq(fsc_header_read(H, &h), 0);
	cr_expect_str_eq((const char *)h.socket_path, socket);
	struct stat st;
	cr_expect_eq(lstat(socket, &st), 0, "no socket at %s", socket);
	cr_expect(S_ISSOCK(st.st_mode));
	fsct_sync(H);
}

/*
 * With RuntimeDirectory=, systemd sets $RUNTIME_DIRECTORY and the unit
 * gives no --socket: the socket must land there (the sandbox makes the
 * other defaults read-only).
 */
Test(config, socket_in_the_runtime_directory)
{
	char want[sizeof(W.socket)];
	int n = snprintf(want, sizeof(want), "%s/%s.sock", W.dir, W.name);
	cr_assert_lt(n, (int)sizeof(want));
	const char *args[] = { "--name", W.name, NULL };
	spawn_plain(args, W.dir, want);
	fsct_writer_stop(&W);
}

/* name and socket from the file; a reload that changes them waits. */
Test(config, name_and_socket_from_the_file)
{
	char text[512];
	snprintf(text, sizeof(text), "name = %s\nsocket = %s\n", W.name,
		 W.socket);
	write_conf(text);
	const char *args[] = { "--config", conf_path(), NULL };
	char sock[sizeof(W.socket)];
	memcpy(sock, W.socket, sizeof(sock));
	spawn_plain(args, NULL, sock);
	uint64_t epoch = header_epoch();
	write_conf("name = another\nsocket = /tmp/elsewhere.sock\n");
	reload();
	fsct_sync(H); /* the same socket still serves */
	cr_expect_eq(header_epoch(), epoch);
	fsct_writer_stop(&W);
}

/* --check-config: the file and options checked, nothing served. */
Test(config, check_config_says_ok_or_what_is_wrong)
{
	char shm[FSC_NAME_MAX + 32], dev[FSC_NAME_MAX + 48];
	fsc_shm_name(shm, sizeof(shm), W.name, 0);
	snprintf(dev, sizeof(dev), "/dev/shm%s", shm);

	write_conf("capacity = 10\nfeed_size = 128K\nmemory_limit = 16M\n");
	const char *good[] = { "--check-config", conf_path(), NULL };
	writer_refuses(good, 0);
	char eq[PATH_MAX + 32];
	snprintf(eq, sizeof(eq), "--check-config=%s", conf_path());
	const char *good_eq[] = { eq, NULL };
	writer_refuses(good_eq, 0);
	const char *with_config[] = { "--config", conf_path(), "--check-config",
				      NULL };
	writer_refuses(with_config, 0);
	cr_expect_eq(access(dev, F_OK), -1, "a segment was created");

	write_conf("capacity = 10\nfeed_size = 100K\n");
	const char *msg = writer_refuses(good, 2);
	cr_expect(strstr(msg, "fstatcache.conf:2: feed_size: expected a "
			      "power of two") != NULL,
		  "%s", msg);
	const char *bad_opt[] = { "--check-config", conf_path(),
				  "--memory-limit", "12Q", NULL };
	write_conf("capacity = 10\n");
	msg = writer_refuses(bad_opt, 2);
	cr_expect(strstr(msg, "--memory-limit: expected a size") != NULL, "%s",
		  msg);
	cr_expect_eq(access(dev, F_OK), -1, "a segment was created");
}

Test(config_parse, sizes)
{
	char err[1024] = "";
	struct fw_config c;
	cr_assert_eq(parse("feed_size = 64K\nmemory_limit = 2G\n", &c, err,
			   sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(c.feed_size, 65536);
	cr_expect_eq(c.memory_limit, UINT64_C(2) << 30);
	cr_expect_eq(c.set, FW_CONF_FEED_SIZE | FW_CONF_MEMORY_LIMIT);
	fw_config_free(&c);
	cr_assert_eq(parse("memory_limit = 0\n", &c, err, sizeof(err)), 0);
	cr_expect_eq(c.memory_limit, 0);
	fw_config_free(&c);
	expect_bad("feed_size = 32K\n", "feed_size: expected a power of two");
	expect_bad("feed_size = 2G\n", "feed_size: expected a power of two");
	expect_bad("feed_size = 1M5\n", "feed_size: expected a power of two");
	expect_bad("memory_limit = -1\n", "memory_limit: expected a size");
	expect_bad("memory_limit = 2P\n", "memory_limit: expected a size");
	expect_bad("memory_limit = 2048T\n", "memory_limit: expected a size");
}

/* --state-file: a clean stop keeps the watch list for the next start. */
Test(config, state_file_keeps_watches_across_a_clean_restart)
{
	char state[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	snprintf(state, sizeof(state), "%s", fsct_path(&W, "state"));
	snprintf(a, sizeof(a), "%s", fsct_path(&W, "a.log"));
	snprintf(b, sizeof(b), "%s", fsct_path(&W, "sub/b.log"));
	fsct_write(a, "a\n", 0);
	const char *args[] = { "--state-file", state, NULL };
	start(args);
	char msg[FSC_REPLY_MSG_MAX + 1];
	cr_assert_eq(fsc_control(H, FSC_OP_WATCH, a, 10000, msg, sizeof(msg)),
		     0, "%s", msg);
	cr_assert_eq(fsc_control(H, FSC_OP_WATCH, b, 10000, msg, sizeof(msg)),
		     0, "%s", msg); /* does not exist yet: kept too */
	fsc_close(H);
	H = NULL;
	fsct_writer_stop(&W);
	struct stat st;
	cr_assert_eq(stat(state, &st), 0, "no state file written");
	cr_expect_eq(st.st_mode & 0777, 0600);

	fsct_writer_restart(&W);
	H = fsct_open(&W);
	fsct_sync(H);
	expect_cached(a);
	expect_cached(b);

	/* Another user's, or writable by others: refused, said, not read. */
	fsc_close(H);
	H = NULL;
	fsct_writer_stop(&W);
	cr_assert_eq(chmod(state, 0666), 0);
	fsct_writer_restart(&W);
	H = fsct_open(&W);
	fsct_sync(H);
	expect_not_cached(a);
}

Test(config, state_file_with_bad_records)
{
	char state[PATH_MAX], a[PATH_MAX];
	snprintf(state, sizeof(state), "%s", fsct_path(&W, "state"));
	snprintf(a, sizeof(a), "%s", fsct_path(&W, "a.log"));
	fsct_write(a, "a\n", 0);
	FILE *f = fopen(state, "w");
	cr_assert_not_null(f);
	fputs("fstatcache-state 1\n", f);
	fwrite("relative/x", 1, 11, f);
	fwrite("/a/../b", 1, 8, f);
	fwrite(a, 1, strlen(a) + 1, f);
	fclose(f);
	cr_assert_eq(chmod(state, 0600), 0);
	const char *args[] = { "--state-file", state, NULL };
	start(args);
	fsct_sync(H);
	expect_cached(a);
	cr_assert_eq(fsct_counter(H, FSC_CTR_PATHS), 1);
	const char *bad[] = { "--state-file", "relative", NULL };
	const char *msg = writer_refuses(bad, 2);
	cr_expect(strstr(msg, "--state-file: 'relative' is not an absolute") !=
			  NULL,
		  "%s", msg);
}
