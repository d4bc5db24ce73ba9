/*
 * test_paths.c - path handling: cache-key spelling rules (fsc_path_ok),
 * instance names, shm object names, absolute paths from the command line,
 * and watch-list parsing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fstatcache/fstatcache.h>

#include "paths.h"

static int ok(const char *p)
{
	return fsc_path_ok(p, strlen(p));
}

Test(paths, canonical_keys_accepted)
{
	const char *good[] = { "/a",       "/var/log/syslog", "/a/b/c.log",
			       "/.hidden", "/a/..b",          "/a/b..",
			       "/a/...",   "/a b/c\tx",       "/\xff\xfe/x" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect(ok(good[i]), "'%s' should be a key", good[i]);
}

Test(paths, other_spellings_refused)
{
	const char *bad[] = { "",       "/",   "a",     "a/b",     "./a",
			      "/a/",    "//a", "/a//b", "/./a",    "/a/.",
			      "/a/./b", "/..", "/a/..", "/a/../b", "/a/b/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect(!ok(bad[i]), "'%s' should not be a key", bad[i]);
	cr_expect(!fsc_path_ok("/a\0b", 4), "embedded NUL");
}

Test(paths, instance_names)
{
	cr_expect(fsc_name_ok("fstatcache"));
	cr_expect(fsc_name_ok("a_b-C9"));
	cr_expect(!fsc_name_ok(""));
	cr_expect(!fsc_name_ok("a.b"),
		  "'.' would collide with the .use object");
	cr_expect(!fsc_name_ok("a/b"));
	cr_expect(!fsc_name_ok("a b"));
	char longname[FSC_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname));
	longname[FSC_NAME_MAX] = '\0';
	cr_expect(fsc_name_ok(longname));
	longname[FSC_NAME_MAX] = 'x';
	longname[FSC_NAME_MAX + 1] = '\0';
	cr_expect(!fsc_name_ok(longname));
}

Test(paths, shm_object_names)
{
	char buf[96];
	fsc_shm_name(buf, sizeof(buf), "demo", 0);
	cr_expect_str_eq(buf, "/fstatcache.demo");
	fsc_shm_name(buf, sizeof(buf), "demo", 1);
	cr_expect_str_eq(buf, "/fstatcache.demo.use");
}

Test(paths, absolute_against_cwd)
{
	struct {
		const char *cwd, *in, *out;
	} cases[] = {
		{ "/home/u", "a.log", "/home/u/a.log" },
		{ "/home/u/", "a.log", "/home/u/a.log" },
		{ "/", "a.log", "/a.log" },
		{ "/home/u", "/abs/x", "/abs/x" },
		{ "/home/u", "../x", "/home/u/../x" }, /* kept: not canonical */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *abs = fw_path_absolute(cases[i].cwd, cases[i].in);
		cr_assert_not_null(abs);
		cr_expect_str_eq(abs, cases[i].out);
		free(abs);
	}
	errno = 0;
	cr_expect_null(fw_path_absolute("/x", ""));
	cr_expect_eq(errno, EINVAL);
	cr_expect_null(fw_path_absolute("rel", "a"));
}

struct collected {
	char *v[16];
	int n;
	int fail_at; /* return -EEXIST for the nth path (1-based), 0: never */
};

static int collect(void *ctx, const char *path)
{
	struct collected *c = ctx;
	if (c->n + 1 == c->fail_at)
		return -EEXIST;
	cr_assert_lt(c->n, 16);
	c->v[c->n++] = strdup(path);
	return 0;
}

static int parse(const char *text, size_t len, struct collected *c,
		 size_t *lineno)
{
	FILE *f = fmemopen((void *)text, len, "r");
	cr_assert_not_null(f);
	int r = fw_watch_list_read(f, collect, c, lineno);
	fclose(f);
	return r;
}

static void free_collected(struct collected *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->v[i]);
}

Test(paths, watch_list_skips_comments_and_blank_lines)
{
	const char text[] = "# logs\n\n/var/log/a.log\r\n/var/log/b c.log\n"
			    "#/commented/out\n/last/no/newline";
	struct collected c = { .n = 0 };
	size_t line;
	cr_assert_eq(parse(text, sizeof(text) - 1, &c, &line), 0);
	cr_assert_eq(c.n, 3);
	cr_expect_str_eq(c.v[0], "/var/log/a.log");
	cr_expect_str_eq(c.v[1], "/var/log/b c.log");
	cr_expect_str_eq(c.v[2], "/last/no/newline");
	cr_expect_eq(line, 6);
	free_collected(&c);
}

Test(paths, watch_list_relative_line_is_an_error_with_its_number)
{
	const char text[] = "/ok\nrelative/path\n/never/read\n";
	struct collected c = { .n = 0 };
	size_t line;
	cr_assert_eq(parse(text, sizeof(text) - 1, &c, &line), -EINVAL);
	cr_expect_eq(line, 2);
	cr_expect_eq(c.n, 1, "nothing after the bad line is taken");
	free_collected(&c);
}

Test(paths, watch_list_nul_byte_is_an_error)
{
	const char text[] = "/ok\n/a\0b\n";
	struct collected c = { .n = 0 };
	size_t line;
	cr_assert_eq(parse(text, sizeof(text) - 1, &c, &line), -EINVAL);
	cr_expect_eq(line, 2);
	free_collected(&c);
}

Test(paths, watch_list_stops_on_callback_error)
{
	const char text[] = "/a\n/b\n/c\n";
	struct collected c = { .n = 0, .fail_at = 2 };
	size_t line;
	cr_assert_eq(parse(text, sizeof(text) - 1, &c, &line), -EEXIST);
	cr_expect_eq(line, 2);
	cr_expect_eq(c.n, 1);
	free_collected(&c);
}

Test(paths, watch_list_long_line)
{
	size_t n = 70000;
	char *text = malloc(n + 2);
	cr_assert_not_null(text);
	text[0] = '/';
	memset(text + 1, 'x', n - 1);
	text[n] = '\n';
	struct collected c = { .n = 0 };
	size_t line;
	cr_assert_eq(parse(text, n + 1, &c, &line), 0);
	cr_assert_eq(c.n, 1);
	cr_expect_eq(strlen(c.v[0]), n);
	free_collected(&c);
	free(text);
}
