/*
 * test_tool.c - integration tests of the fstatcache command-line tool.
 *
 * Each test starts a real fstatcached (tests/harness.c) under a unique
 * name, runs the tool as a child process through fsct_tool() and checks
 * its exit status, stderr and output; JSON lines are parsed with Jansson
 * and compared field by field with stat(2).  Changes are made visible with
 * the sync barrier, never with sleeps.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct fsct_writer w;

static void teardown(void)
{
	fsct_writer_cleanup(&w);
}

TestSuite(tool, .fini = teardown);

/* ---- helpers --------------------------------------------------------- */

#define TOOL(...) fsct_tool_run(&w, (const char *const[]){ __VA_ARGS__, NULL })

/* One line on stderr, "fstatcache: ...", containing `needle`. */
static void expect_error_line(const struct fsct_run *r, const char *needle)
{
	const char *e = r->err;
	cr_assert(strncmp(e, "fstatcache: ", 12) == 0,
		  "stderr should start with 'fstatcache: ': %s", e);
	const char *nl = strchr(e, '\n');
	cr_assert(nl && nl[1] == '\0', "stderr should be one line: %s", e);
	cr_assert(strstr(e, needle), "stderr should mention '%s': %s", needle,
		  e);
}

/* Every line of `out` parsed as a JSON object, into an array. */
static json_t *parse_lines(const char *out)
{
	json_t *arr = json_array();
	cr_assert_not_null(arr);
	const char *p = out;
	while (*p) {
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl, "output does not end with a newline: %s",
				   out);
		json_error_t jerr;
		json_t *obj = json_loadb(p, (size_t)(nl - p), 0, &jerr);
		cr_assert_not_null(obj, "bad JSON line '%.*s': %s",
				   (int)(nl - p), p, jerr.text);
		cr_assert(json_is_object(obj), "not an object: %.*s",
			  (int)(nl - p), p);
		json_array_append_new(arr, obj);
		p = nl + 1;
	}
	return arr;
}

/* The single JSON object `out` holds. */
static json_t *parse_one(const char *out)
{
	json_t *arr = parse_lines(out);
	cr_assert_eq(json_array_size(arr), 1, "want one line, got: %s", out);
	json_t *obj = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	return obj;
}

static long long int_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	cr_assert(json_is_integer(v), "'%s' should be an integer", key);
	return json_integer_value(v);
}

static const char *str_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	cr_assert(json_is_string(v), "'%s' should be a string", key);
	return json_string_value(v);
}

static int bool_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	cr_assert(json_is_boolean(v), "'%s' should be a boolean", key);
	return json_is_true(v);
}

static const char *const stat_keys[] = {
	"path", "exists", "source", "dev",    "ino",      "mode",     "nlink",
	"uid",  "gid",    "size",   "blocks", "mtime_ns", "ctime_ns",
};
#define NSTAT_KEYS (sizeof(stat_keys) / sizeof(stat_keys[0]))

/* Exactly the contract's keys, plus `extra` more (path_lossy, slot...). */
static void expect_stat_keys(json_t *obj, size_t extra)
{
	for (size_t i = 0; i < NSTAT_KEYS; i++)
		cr_assert_not_null(json_object_get(obj, stat_keys[i]),
				   "key '%s' missing", stat_keys[i]);
	cr_assert_eq(json_object_size(obj), NSTAT_KEYS + extra,
		     "unexpected keys: %zu", json_object_size(obj));
}

/* The object equals stat(2) of `path`, and came from `source`. */
static void expect_matches_stat(json_t *obj, const char *path,
				const char *source)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "stat(%s)", path);
	cr_assert_str_eq(str_field(obj, "path"), path);
	cr_assert(bool_field(obj, "exists"), "%s should exist", path);
	if (source) /* NULL: either */
		cr_assert_str_eq(str_field(obj, "source"), source, "%s", path);
	cr_assert_eq(int_field(obj, "dev"), (long long)st.st_dev);
	cr_assert_eq(int_field(obj, "ino"), (long long)st.st_ino);
	cr_assert_eq(int_field(obj, "mode"), (long long)st.st_mode);
	cr_assert_eq(int_field(obj, "nlink"), (long long)st.st_nlink);
	cr_assert_eq(int_field(obj, "uid"), (long long)st.st_uid);
	cr_assert_eq(int_field(obj, "gid"), (long long)st.st_gid);
	cr_assert_eq(int_field(obj, "size"), (long long)st.st_size);
	cr_assert_eq(int_field(obj, "blocks"), (long long)st.st_blocks);
	cr_assert_eq(int_field(obj, "mtime_ns"),
		     st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	cr_assert_eq(int_field(obj, "ctime_ns"),
		     st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
}

/* `stat --json PATH`, which must succeed, as one object. */
static json_t *stat_json(const char *path)
{
	struct fsct_run r = TOOL("stat", "--json", path);
	fsct_expect_ok(&r, "stat --json");
	json_t *obj = parse_one(r.out);
	fsct_run_free(&r);
	expect_stat_keys(obj, 0);
	return obj;
}

/* Every `ls --json` line, checked for the contract's keys. */
static json_t *ls_all(void)
{
	struct fsct_run r = TOOL("ls", "--json");
	fsct_expect_ok(&r, "ls --json");
	json_t *all = parse_lines(r.out);
	fsct_run_free(&r);
	size_t i;
	json_t *obj;
	json_array_foreach(all, i, obj) {
		expect_stat_keys(obj, 2);
		int_field(obj, "slot");
		int_field(obj, "validated_ns");
	}
	return all;
}

/* The entry of `all` for `path`, or NULL. */
static json_t *ls_find(json_t *all, const char *path)
{
	size_t i;
	json_t *obj;
	json_array_foreach(all, i, obj)
		if (strcmp(str_field(obj, "path"), path) == 0)
			return obj;
	return NULL;
}

/* ---- stat ------------------------------------------------------------ */

Test(tool, stat_json_watched_file_comes_from_cache)
{
	fsct_writer_init(&w);
	const char *path = fsct_path(&w, "watched.log");
	fsct_write(path, "hello\n", 0);
	fsct_writer_start(&w, (const char *const[]){ path, NULL });
	fsc_handle *h = fsct_open(&w);
	fsct_write(path, "more\n", 1);
	fsct_sync(h);

	json_t *obj = stat_json(path);
	expect_matches_stat(obj, path, "cache");
	cr_assert_eq(int_field(obj, "size"), 11);
	json_decref(obj);

	fsc_close(h);
	fsct_writer_stop(&w);
}

Test(tool, stat_json_missing_file_is_an_answer)
{
	fsct_writer_start(&w, NULL);
	const char *path = fsct_path(&w, "absent");

	json_t *obj = stat_json(path);
	cr_assert_str_eq(str_field(obj, "path"), path);
	cr_assert_not(bool_field(obj, "exists"));
	for (size_t i = 3; i < NSTAT_KEYS; i++)
		cr_assert_eq(int_field(obj, stat_keys[i]), 0,
			     "'%s' should be 0 for a missing file",
			     stat_keys[i]);
	json_decref(obj);

	fsct_writer_stop(&w);
}

Test(tool, stat_miss_asks_the_writer_to_watch)
{
	fsct_writer_start(&w, NULL);
	fsc_handle *h = fsct_open(&w);
	const char *path = fsct_path(&w, "later.log");
	fsct_write(path, "x\n", 0);

	json_t *first = stat_json(path);
	expect_matches_stat(first, path, "stat");
	json_decref(first);

	fsct_sync(h); /* the tool's miss request was sent before this */
	json_t *second = stat_json(path);
	expect_matches_stat(second, path, "cache");
	json_decref(second);

	fsc_close(h);
	fsct_writer_stop(&w);
}

Test(tool, stat_makes_relative_paths_absolute)
{
	fsct_writer_start(&w, NULL);
	const char *path = fsct_path(&w, "rel.log");
	fsct_write(path, "r\n", 0);
	cr_assert_eq(chdir(w.dir), 0, "chdir(%s)", w.dir);

	json_t *obj = stat_json("rel.log");
	expect_matches_stat(obj, path, "stat");
	json_decref(obj);

	/* Lexically canonical, so the cache can answer them: "." and empty
	 * components go, ".." steps back over the working directory. */
	const char *base = strrchr(w.dir, '/') + 1;
	char up[PATH_MAX];
	snprintf(up, sizeof(up), "../%s/./rel.log", base);
	const char *same[] = { "./rel.log", ".//rel.log", up };
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		obj = stat_json(same[i]);
		expect_matches_stat(obj, path, NULL);
		json_decref(obj);
	}
	/* A ".." after a name the argument gave stays: that name may be a
	 * symlink, so only the kernel can resolve it. */
	cr_assert_eq(mkdir("sub", 0755), 0);
	char kept[PATH_MAX];
	snprintf(kept, sizeof(kept), "%s/sub/../rel.log", w.dir);
	obj = stat_json("sub/../rel.log");
	expect_matches_stat(obj, kept, "stat");
	json_decref(obj);

	cr_assert_eq(chdir("/"), 0);
	fsct_writer_stop(&w);
}

Test(tool, stat_text_names_path_and_source)
{
	fsct_writer_start(&w, NULL);
	const char *path = fsct_path(&w, "text.log");
	const char *absent = fsct_path(&w, "nope");
	fsct_write(path, "t\n", 0);

	struct fsct_run r = TOOL("stat", path, absent);
	fsct_expect_ok(&r, "stat");
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s source=stat exists=yes size=2 ", path);
	cr_assert(strncmp(r.out, want, strlen(want)) == 0,
		  "first line should start '%s': %s", want, r.out);
	snprintf(want, sizeof(want), "\n%s source=stat exists=no\n", absent);
	cr_assert(strstr(r.out, want), "want '%s' in: %s", want, r.out);
	fsct_run_free(&r);

	fsct_writer_stop(&w);
}

Test(tool, stat_error_is_reported_and_others_still_answered)
{
	fsct_writer_start(&w, NULL);
	const char *loop = fsct_path(&w, "loop");
	const char *other = fsct_path(&w, "loop2");
	const char *ok = fsct_path(&w, "ok.log");
	cr_assert_eq(symlink(other, loop), 0);
	cr_assert_eq(symlink(loop, other), 0);
	fsct_write(ok, "ok\n", 0);

	struct fsct_run r = TOOL("stat", "--json", loop, ok);
	cr_assert_eq(r.status, 1, "exit %d, want 1", r.status);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "stat %s: ", loop);
	expect_error_line(&r, want);
	json_t *obj = parse_one(r.out);
	expect_matches_stat(obj, ok, "stat");
	json_decref(obj);
	fsct_run_free(&r);

	fsct_writer_stop(&w);
}

Test(tool, stat_json_non_utf8_path_is_marked_lossy)
{
	fsct_writer_start(&w, NULL);
	const char *path = fsct_path(&w, "bad\xff\xfename");
	fsct_write(path, "b\n", 0);

	struct fsct_run r = TOOL("stat", "--json", path);
	fsct_expect_ok(&r, "stat --json");
	json_t *obj = parse_one(r.out);
	expect_stat_keys(obj, 1);
	cr_assert(bool_field(obj, "path_lossy"));
	cr_assert(bool_field(obj, "exists"));
	char want[PATH_MAX + 16];
	snprintf(want, sizeof(want), "%s/bad\xef\xbf\xbd\xef\xbf\xbdname",
		 w.dir);
	cr_assert_str_eq(str_field(obj, "path"), want);
	json_decref(obj);
	fsct_run_free(&r);

	fsct_writer_stop(&w);
}

/* ---- control subcommands and ls ------------------------------------- */

Test(tool, sync_exits_zero_once_changes_are_visible)
{
	fsct_writer_init(&w);
	const char *path = fsct_path(&w, "grows.log");
	fsct_write(path, "1\n", 0);
	fsct_writer_start(&w, (const char *const[]){ path, NULL });
	fsc_handle *h = fsct_open(&w);
	fsct_write(path, "22\n", 1);

	struct fsct_run r = TOOL("sync");
	fsct_expect_ok(&r, "sync");
	cr_assert_str_empty(r.out);
	fsct_run_free(&r);
	struct fsc_stat st;
	cr_assert_eq(fsc_lookup(h, path, &st), 0, "%s not cached", path);
	cr_assert_eq(st.size, 5, "size %lld after sync, want 5",
		     (long long)st.size);

	r = TOOL("sync", "--timeout", "5");
	fsct_expect_ok(&r, "sync --timeout 5");
	fsct_run_free(&r);
	fsc_close(h);
	fsct_writer_stop(&w);
}

Test(tool, watch_unwatch_show_in_ls)
{
	fsct_writer_start(&w, NULL);
	const char *path = fsct_path(&w, "w.log");
	fsct_write(path, "watch me\n", 0);
	struct fsct_run r = TOOL("watch", path);
	fsct_expect_ok(&r, "watch");
	fsct_run_free(&r);
	json_t *all = ls_all();
	json_t *obj = ls_find(all, path);
	cr_assert_not_null(obj, "watched %s missing from ls", path);
	expect_matches_stat(obj, path, "cache");
	cr_assert_gt(int_field(obj, "validated_ns"), 0);
	json_decref(all);

	r = TOOL("unwatch", path);
	fsct_expect_ok(&r, "unwatch");
	fsct_run_free(&r);
	all = ls_all();
	cr_assert_null(ls_find(all, path), "unwatched %s still listed", path);
	json_decref(all);

	fsct_writer_stop(&w);
}

Test(tool, watch_refusals_exit_one_and_name_the_path)
{
	fsct_writer_start(&w, NULL);
	char odd[PATH_MAX];
	snprintf(odd, sizeof(odd), "%s/./x", w.dir);

	struct fsct_run r = TOOL("watch", odd);
	cr_assert_eq(r.status, 1, "exit %d, want 1", r.status);
	expect_error_line(&r, odd);
	fsct_run_free(&r);

	const char *never = fsct_path(&w, "never-watched");
	r = TOOL("unwatch", never);
	cr_assert_eq(r.status, 1, "exit %d, want 1", r.status);
	expect_error_line(&r, never);
	fsct_run_free(&r);

	fsct_writer_stop(&w);
}

Test(tool, invalidate_empties_the_table)
{
	fsct_writer_start(&w, NULL);
	const char *a = fsct_path(&w, "a.log");
	const char *b = fsct_path(&w, "b.log");
	fsct_write(a, "a\n", 0);
	struct fsct_run r = TOOL("watch", a, b);
	fsct_expect_ok(&r, "watch");
	fsct_run_free(&r);
	json_t *all = ls_all();
	cr_assert_not_null(ls_find(all, a), "%s not listed", a);
	json_t *missing = ls_find(all, b);
	cr_assert_not_null(missing, "%s not listed", b);
	cr_assert_not(bool_field(missing, "exists"));
	json_decref(all);

	r = TOOL("invalidate");
	fsct_expect_ok(&r, "invalidate");
	fsct_run_free(&r);
	all = ls_all();
	cr_assert_eq(json_array_size(all), 0,
		     "table not empty after "
		     "invalidate");
	json_decref(all);

	fsct_writer_stop(&w);
}

Test(tool, ls_text_has_header_and_entry)
{
	fsct_writer_start(&w, NULL);
	const char *path = fsct_path(&w, "l.log");
	fsct_write(path, "12345\n", 0);
	struct fsct_run r = TOOL("watch", path);
	fsct_expect_ok(&r, "watch");
	fsct_run_free(&r);

	r = TOOL("ls");
	fsct_expect_ok(&r, "ls");
	cr_assert(strncmp(r.out, "EXISTS ", 7) == 0, "header: %s", r.out);
	char want[PATH_MAX + 2];
	snprintf(want, sizeof(want), " %s\n", path);
	const char *line = strstr(r.out, want);
	cr_assert_not_null(line, "no line for %s: %s", path, r.out);
	while (line > r.out && line[-1] != '\n')
		line--;
	cr_assert(strncmp(line, "yes    cache ", 13) == 0, "line: %s", line);
	cr_assert(strstr(line, " 6 "), "size 6 missing: %s", line);
	fsct_run_free(&r);

	fsct_writer_stop(&w);
}

/* ---- usage ----------------------------------------------------------- */

static void expect_usage_error(const char *const *argv, const char *needle)
{
	struct fsct_run r = fsct_tool_run(&w, argv);
	cr_assert_eq(r.status, 2, "%s: exit %d, want 2", argv[0] ? argv[0] : "",
		     r.status);
	cr_assert_str_empty(r.out, "usage error printed on stdout: %s", r.out);
	expect_error_line(&r, needle);
	fsct_run_free(&r);
}

Test(tool, bad_usage_exits_two)
{
	fsct_writer_init(&w); /* usage is checked before any writer is needed */
	expect_usage_error((const char *const[]){ NULL }, "missing COMMAND");
	expect_usage_error((const char *const[]){ "frobnicate", NULL },
			   "unknown command 'frobnicate'");
	expect_usage_error((const char *const[]){ "stat", NULL },
			   "missing PATH");
	expect_usage_error((const char *const[]){ "stat", "--bogus", "/",
						  NULL },
			   "unknown option '--bogus'");
	expect_usage_error((const char *const[]){ "sync", "extra", NULL },
			   "unexpected argument 'extra'");
	expect_usage_error((const char *const[]){ "sync", "--timeout", "soon",
						  NULL },
			   "invalid --timeout");
	expect_usage_error((const char *const[]){ "ls", "--timeout", "1",
						  NULL },
			   "unknown option '--timeout'");
	expect_usage_error((const char *const[]){ "sync", "--timeout", NULL },
			   "needs a value");
	expect_usage_error((const char *const[]){ "stat", "--name", "no/slash",
						  "/", NULL },
			   "invalid instance name");
	expect_usage_error((const char *const[]){ "frobnicate", NULL },
			   "unknown command 'frobnicate'");
}

Test(tool, help_and_version_go_to_stdout)
{
	fsct_writer_init(&w);
	const char *cmds[] = { "stat",    "sync",       "watch",
			       "unwatch", "invalidate", "ls" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct fsct_run r = TOOL(cmds[i], "--help");
		fsct_expect_ok(&r, cmds[i]);
		char want[64];
		snprintf(want, sizeof(want), "Usage: fstatcache %s ", cmds[i]);
		cr_assert(strncmp(r.out, want, strlen(want)) == 0,
			  "%s --help: %s", cmds[i], r.out);
		fsct_run_free(&r);
	}
	struct fsct_run r = TOOL("--help");
	fsct_expect_ok(&r, "--help");
	cr_assert(strstr(r.out, "Commands:"), "--help: %s", r.out);
	fsct_run_free(&r);
	r = TOOL("--version");
	fsct_expect_ok(&r, "--version");
	cr_assert_str_eq(r.out, "fstatcache " FSC_VERSION_STRING "\n");
	fsct_run_free(&r);
}

/* ---- no writer ------------------------------------------------------- */

Test(tool, without_writer_stat_works_and_control_fails_clearly)
{
	fsct_writer_init(&w); /* a name nobody serves */
	const char *path = fsct_path(&w, "lonely.log");
	fsct_write(path, "alone\n", 0);

	struct fsct_run s = TOOL("stat", "--json", path);
	cr_assert_eq(s.status, 0, "%s", s.err);
	json_t *obj = parse_one(s.out);
	expect_matches_stat(obj, path, "stat");
	json_decref(obj);
	cr_assert(strstr(s.err, "no fstatcached is serving instance"),
		  "no writer is said: %s", s.err);
	fsct_run_free(&s);
	s = TOOL("stat", "");
	cr_assert_eq(s.status, 2, "an empty PATH is a usage error");
	fsct_run_free(&s);

	char want[FSC_NAME_MAX + 64];
	snprintf(want, sizeof(want), "no fstatcached is serving instance '%s'",
		 w.name);
	const char *const *cmds[] = {
		(const char *const[]){ "sync", NULL },
		(const char *const[]){ "invalidate", NULL },
		(const char *const[]){ "watch", path, NULL },
		(const char *const[]){ "unwatch", path, NULL },
		(const char *const[]){ "ls", NULL },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct fsct_run r = fsct_tool_run(&w, cmds[i]);
		cr_assert_eq(r.status, 1, "%s: exit %d, want 1", cmds[i][0],
			     r.status);
		expect_error_line(&r, want);
		fsct_run_free(&r);
	}
}

/* Lists of paths from a file or standard input, for thousands of paths. */
Test(tool, paths_from_a_file_or_standard_input)
{
	fsct_writer_start(&w, NULL);
	char list[PATH_MAX], one[PATH_MAX];
	snprintf(list, sizeof(list), "%s", fsct_path(&w, "list"));
	FILE *f = fopen(list, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 300; i++) {
		snprintf(one, sizeof(one), "%s/p%03d.log", w.dir, i);
		fsct_write(one, "x", 0);
		fprintf(f, "%s\n%s", one, i % 50 ? "" : "\n"); /* empty lines */
	}
	fclose(f);

	struct fsct_run r = TOOL("watch", "--files-from", list);
	fsct_expect_ok(&r, "watch --files-from");
	fsct_run_free(&r);
	fsc_handle *h = fsct_open(&w);
	cr_assert_eq(fsct_counter(h, FSC_CTR_PATHS), 300);

	fsct_tool_stdin(list);
	snprintf(one, sizeof(one), "%s/p000.log", w.dir);
	r = TOOL("stat", one, "-");
	fsct_tool_stdin(NULL);
	fsct_expect_ok(&r, "stat -");
	size_t lines = 0, cached = 0;
	for (const char *p = r.out; (p = strchr(p, '\n')); p++)
		lines++;
	for (const char *p = r.out; (p = strstr(p, "source=cache")); p++)
		cached++;
	cr_assert_eq(lines, 301, "one line per path: %s", r.out);
	cr_assert_eq(cached, 301);
	fsct_run_free(&r);

	r = TOOL("unwatch", "--files-from", list);
	fsct_expect_ok(&r, "unwatch --files-from");
	fsct_run_free(&r);
	cr_assert_eq(fsct_counter(h, FSC_CTR_PATHS), 0);

	r = TOOL("stat", "--files-from", fsct_path(&w, "missing"));
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "No such file or directory"), "%s", r.err);
	fsct_run_free(&r);
	fsct_tool_stdin("/dev/null");
	r = TOOL("stat", "-");
	cr_assert_eq(r.status, 2, "an empty list is a missing PATH");
	fsct_run_free(&r);
	fsct_tool_stdin(NULL);
	fsc_close(h);
	fsct_writer_stop(&w);
}

/* --json for the reports of watch, unwatch, check and top. */
Test(tool, json_reports_of_watch_check_and_top)
{
	fsct_writer_start(&w, NULL);
	const char *a = fsct_path(&w, "a.log");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", a);
	fsct_write(path, "a\n", 0);

	struct fsct_run r = TOOL("watch", "--json", path, "/no/./pe");
	cr_assert_eq(r.status, 1, "a refused path: %s", r.err);
	cr_assert_str_empty(r.err, "refusals go to stdout with --json");
	json_t *lines = parse_lines(r.out);
	cr_assert_eq(json_array_size(lines), 2);
	json_t *ok = json_array_get(lines, 0), *no = json_array_get(lines, 1);
	cr_assert_str_eq(str_field(ok, "path"), path);
	cr_assert(bool_field(ok, "ok"));
	cr_assert_str_eq(str_field(ok, "message"), "watching");
	cr_assert_null(json_object_get(ok, "errno"));
	cr_assert(!bool_field(no, "ok"));
	cr_assert_eq(int_field(no, "errno"), EINVAL);
	json_decref(lines);
	fsct_run_free(&r);

	r = TOOL("unwatch", "--json", path);
	fsct_expect_ok(&r, "unwatch --json");
	json_t *un = parse_one(r.out);
	cr_assert(bool_field(un, "ok"));
	json_decref(un);
	fsct_run_free(&r);

	r = TOOL("check", "--json");
	fsct_expect_ok(&r, "check --json");
	json_t *chk = parse_one(r.out);
	cr_assert(bool_field(chk, "ok"));
	cr_assert_str_eq(str_field(chk, "name"), w.name);
	cr_assert_eq(json_array_size(json_object_get(chk, "violations")), 0);
	cr_assert_eq(int_field(chk, "more_violations"), 0);
	cr_assert_geq(int_field(chk, "slots"), 16);
	json_decref(chk);
	fsct_run_free(&r);

	r = TOOL("top", "--json", "--count", "2", "--interval", "0.01");
	fsct_expect_ok(&r, "top --json");
	json_t *tops = parse_lines(r.out);
	cr_assert_eq(json_array_size(tops), 2);
	json_t *t2 = json_array_get(tops, 1);
	cr_assert(bool_field(t2, "segment"));
	cr_assert_str_eq(str_field(t2, "liveness"), "alive");
	json_t *totals = json_object_get(t2, "totals"),
	       *rates = json_object_get(t2, "per_second");
	cr_assert_geq(json_integer_value(json_object_get(totals, "requests")),
		      2);
	cr_assert(json_is_number(json_object_get(rates, "requests")),
		  "a rate once there are two samples");
	cr_assert_not_null(json_object_get(totals, "reader_hits"));
	json_decref(tops);
	fsct_run_free(&r);
	fsct_writer_stop(&w);
}

/* health: what a probe needs, the reader's own checks. */
Test(tool, health_says_whether_the_cache_works)
{
	fsct_writer_init(&w);
	struct fsct_run r = TOOL("health");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "no live fstatcached serves it"), "%s", r.err);
	fsct_run_free(&r);

	fsct_writer_start(&w, NULL);
	r = TOOL("health");
	fsct_expect_ok(&r, "health");
	cr_assert(strncmp(r.out, "ok: instance", 12) == 0, "%s", r.out);
	fsct_run_free(&r);
	r = TOOL("health", "--json");
	fsct_expect_ok(&r, "health --json");
	json_t *o = parse_one(r.out);
	cr_assert(bool_field(o, "healthy"));
	json_decref(o);
	fsct_run_free(&r);

	fsct_writer_kill(&w, SIGKILL); /* a dead writer's segment stays */
	r = TOOL("health", "--json");
	cr_assert_eq(r.status, 1);
	o = parse_one(r.out);
	cr_assert(!bool_field(o, "healthy"));
	cr_assert(strstr(str_field(o, "reason"), "no live fstatcached"), "%s",
		  r.out);
	json_decref(o);
	fsct_run_free(&r);
}
