/*
 * config.c - read and check fstatcache.conf (see config.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fstatcache/contract.h"
#include "log.h"
#include "paths.h"

#define LINE_MAX_BYTES 8192

int fw_strv_push(struct fw_strv *v, const char *s)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		char **nv = realloc(v->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	char *dup = strdup(s);
	if (!dup)
		return -ENOMEM;
	v->v[v->n++] = dup;
	return 0;
}

void fw_strv_free(struct fw_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	memset(v, 0, sizeof(*v));
}

void fw_config_free(struct fw_config *c)
{
	fw_strv_free(&c->watch);
	fw_strv_free(&c->allow);
}

int fw_prefix_allows(const struct fw_strv *prefixes, const char *path,
		     size_t len)
{
	for (size_t i = 0; i < prefixes->n; i++) {
		const char *p = prefixes->v[i];
		size_t n = strlen(p);
		if (n == 1) /* "/" */
			return 1;
		if (len >= n && !memcmp(path, p, n) &&
		    (len == n || path[n] == '/'))
			return 1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted copy of the pointers (the strings stay where they are). */
static const char **sorted(const struct fw_strv *v)
{
	const char **s = malloc((v->n + 1) * sizeof(*s));
	if (!s)
		return NULL;
	if (v->n)
		memcpy(s, v->v, v->n * sizeof(*s));
	qsort(s, v->n, sizeof(*s), cmp_str);
	return s;
}

static int sorted_has(const char **s, size_t n, const char *key)
{
	return bsearch(&key, s, n, sizeof(*s), cmp_str) != NULL;
}

int fw_strv_diff(const struct fw_strv *old, const struct fw_strv *now,
		 const struct fw_strv *keep,
		 void (*removed)(void *ctx, const char *path),
		 void (*added)(void *ctx, const char *path), void *ctx)
{
	const char **o = sorted(old), **n = sorted(now), **k = sorted(keep);
	int err = o && n && k ? 0 : -ENOMEM;
	for (size_t i = 0; !err && i < old->n; i++)
		if ((i == 0 || strcmp(o[i], o[i - 1])) &&
		    !sorted_has(n, now->n, o[i]) &&
		    !sorted_has(k, keep->n, o[i]))
			removed(ctx, o[i]);
	for (size_t i = 0; !err && i < now->n; i++)
		if ((i == 0 || strcmp(n[i], n[i - 1])) &&
		    !sorted_has(o, old->n, n[i]))
			added(ctx, n[i]);
	free(o);
	free(n);
	free(k);
	return err;
}

int fw_config_group_usable(gid_t gid)
{
	if (geteuid() == 0 || getegid() == gid)
		return 1;
	int n = getgroups(0, NULL), found = 0;
	gid_t *groups = n > 0 ? calloc((size_t)n, sizeof(*groups)) : NULL;
	if (groups)
		n = getgroups(n, groups);
	for (int i = 0; groups && i < n; i++)
		found |= groups[i] == gid;
	free(groups);
	return found;
}

/* Parsing state: where we are, for messages. */
struct parse {
	const char *file;
	size_t line;
	unsigned lines[11]; /* line of each FW_CONF_* key, by bit */
	char *err;
	size_t errlen;
	struct fw_config *c;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parse *p,
						      const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->line)
		snprintf(p->err, p->errlen, "%s:%zu: %s", p->file, p->line,
			 what);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->file, what);
	return -1;
}

static int parse_u32(const char *s, unsigned long min, unsigned long max,
		     uint32_t *out)
{
	char *end;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int canonical(const char *s)
{
	return s[0] == '/' && fsc_path_ok(s, strlen(s));
}

static int parse_group(struct parse *p, const char *v)
{
	char buf[16384];
	struct group gr, *res = NULL;
	uint32_t num;
	if (parse_u32(v, 0, UINT32_MAX - 1, &num) == 0) {
		p->c->gid = (gid_t)num;
	} else {
		int r = getgrnam_r(v, &gr, buf, sizeof(buf), &res);
		if (r || !res)
			return fail(p, "group: no group named '%s'%s%s", v,
				    r ? ": " : "", r ? strerror(r) : "");
		p->c->gid = res->gr_gid;
	}
	if (!fw_config_group_usable(p->c->gid))
		return fail(p,
			    "group: fstatcached's user is not a member of "
			    "'%s' (add it, e.g. SupplementaryGroups=%s in the "
			    "unit)",
			    v, v);
	return 0;
}

static int parse_level(struct parse *p, const char *v)
{
	static const struct {
		const char *word;
		int level;
	} levels[] = {
		{ "error", FW_LOG_ERR },
		{ "warning", FW_LOG_WARN },
		{ "info", FW_LOG_INFO },
		{ "debug", FW_LOG_DEBUG },
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(v, levels[i].word)) {
			p->c->log_level = levels[i].level;
			return 0;
		}
	return fail(p,
		    "log_level: expected error, warning, info or debug, "
		    "got '%s'",
		    v);
}

static int add_watch(void *ctx, const char *path)
{
	struct fw_config *c = ctx;
	if (!fsc_path_ok(path, strlen(path)))
		return -EINVAL;
	return fw_strv_push(&c->watch, path);
}

static int read_watch_list(struct parse *p, const char *v)
{
	if (v[0] != '/')
		return fail(p, "watch_list: '%s' is not an absolute path", v);
	FILE *f = fopen(v, "re");
	if (!f)
		return fail(p, "watch_list: %s: %s", v, strerror(errno));
	size_t lineno;
	int r = fw_watch_list_read(f, add_watch, p->c, &lineno);
	fclose(f);
	if (r == -EINVAL)
		return fail(p,
			    "watch_list: %s:%zu: not a canonical absolute "
			    "path",
			    v, lineno);
	if (r)
		return fail(p, "watch_list: %s: %s", v, strerror(-r));
	return 0;
}

/* One "key = value" with both trimmed and non-empty. */
static int apply_key(struct parse *p, const char *key, const char *v)
{
	static const char *const single[] = {
		"name",         "capacity",     "path_max",   "socket",
		"segment_mode", "group",        "log_level",  "watch_list",
		"feed_size",    "memory_limit", "state_file",
	};
	struct fw_config *c = p->c;
	for (unsigned i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		if (strcmp(key, single[i]))
			continue;
		if (c->set & (1u << i))
			return fail(p, "'%s' given twice (first on line %u)",
				    key, p->lines[i]);
		c->set |= 1u << i;
		p->lines[i] = (unsigned)p->line;
		break;
	}
	if (!strcmp(key, "name")) {
		if (!fsc_name_ok(v))
			return fail(p,
				    "name: '%s' is not 1-64 letters, digits, "
				    "'_' or '-'",
				    v);
		snprintf(c->name, sizeof(c->name), "%s", v);
	} else if (!strcmp(key, "capacity")) {
		if (parse_u32(v, 1, FW_CONF_CAPACITY_MAX, &c->capacity))
			return fail(p, "capacity: expected 1..%u, got '%s'",
				    FW_CONF_CAPACITY_MAX, v);
	} else if (!strcmp(key, "path_max")) {
		if (parse_u32(v, FSC_PATH_MAX_MIN - 1, FSC_PATH_MAX_MAX - 1,
			      &c->path_max))
			return fail(p, "path_max: expected %u..%u, got '%s'",
				    FSC_PATH_MAX_MIN - 1, FSC_PATH_MAX_MAX - 1,
				    v);
	} else if (!strcmp(key, "feed_size")) {
		if (fw_feed_size_parse(v, &c->feed_size) < 0)
			return fail(p,
				    "feed_size: expected a power of two from "
				    "64K to 1G, got '%s'",
				    v);
	} else if (!strcmp(key, "state_file")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->state_file))
			return fail(p,
				    "state_file: '%s' is not an absolute path "
				    "shorter than %zu bytes",
				    v, sizeof(c->state_file));
		snprintf(c->state_file, sizeof(c->state_file), "%s", v);
	} else if (!strcmp(key, "memory_limit")) {
		if (fw_bytes_parse(v, FW_MEMORY_LIMIT_MAX, &c->memory_limit) <
		    0)
			return fail(p,
				    "memory_limit: expected a size such as "
				    "64M (0: never grow), got '%s'",
				    v);
	} else if (!strcmp(key, "socket")) {
		if (v[0] != '/' || strlen(v) >= 92)
			return fail(p,
				    "socket: '%s' must be an absolute path "
				    "shorter than 92 bytes",
				    v);
		snprintf(c->socket, sizeof(c->socket), "%s", v);
	} else if (!strcmp(key, "segment_mode")) {
		if (!strcmp(v, "0600") || !strcmp(v, "600"))
			c->segment_mode = 0600;
		else if (!strcmp(v, "0640") || !strcmp(v, "640"))
			c->segment_mode = 0640;
		else
			return fail(p,
				    "segment_mode: expected 0600 or 0640, "
				    "got '%s'",
				    v);
	} else if (!strcmp(key, "group")) {
		return parse_group(p, v);
	} else if (!strcmp(key, "log_level")) {
		return parse_level(p, v);
	} else if (!strcmp(key, "watch_list")) {
		return read_watch_list(p, v);
	} else if (!strcmp(key, "watch") || !strcmp(key, "allow")) {
		if (!canonical(v))
			return fail(p,
				    "%s: '%s' is not a canonical absolute "
				    "path (no empty, '.' or '..' components, "
				    "no trailing '/')",
				    key, v);
		if (fw_strv_push(key[0] == 'w' ? &c->watch : &c->allow, v))
			return fail(p, "out of memory");
	} else {
		return fail(p, "unknown key '%s' (see fstatcache.conf(5))",
			    key);
	}
	return 0;
}

int fw_bytes_parse(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case 'T':
	case 't':
		shift = 40;
		break;
	}
	if (shift)
		end++;
	if (*end || v > (max >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int fw_feed_size_parse(const char *s, uint32_t *out)
{
	uint64_t v;

	if (fw_bytes_parse(s, FSC_FEED_SIZE_MAX, &v) < 0 ||
	    v < FSC_FEED_SIZE_MIN || (v & (v - 1)))
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int parse_line(struct parse *p, char *line, size_t len)
{
	if (len != strlen(line))
		return fail(p, "NUL byte in line");
	if (len > LINE_MAX_BYTES)
		return fail(p, "line longer than %d bytes", LINE_MAX_BYTES);
	char *s = trim(line);
	if (!*s || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(p, "expected 'key = value', got '%.64s'", s);
	*eq = '\0';
	char *key = trim(s), *v = trim(eq + 1);
	if (!*key)
		return fail(p, "missing key before '='");
	if (!*v)
		return fail(p,
			    "%s: missing value (comment the line out to get "
			    "the default)",
			    key);
	return apply_key(p, key, v);
}

static int check_file(struct parse *p, FILE *f)
{
	struct stat st;
	if (fstat(fileno(f), &st) < 0)
		return fail(p, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(p, "not a regular file");
	if (st.st_mode & S_IWOTH)
		return fail(p,
			    "writable by every user (mode %04o): refusing it",
			    (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Rules between keys, checked once the whole file is read. */
static int check_whole(struct parse *p)
{
	struct fw_config *c = p->c;
	p->line = 0;
	if ((c->set & FW_CONF_GROUP) && c->segment_mode != 0640) {
		p->line = p->lines[__builtin_ctz(FW_CONF_GROUP)];
		return fail(p, "group: needs segment_mode = 0640 (with 0600 "
			       "only fstatcached's user can read the cache)");
	}
	return 0;
}

int fw_config_load(const char *file, struct fw_config *c, char *err,
		   size_t errlen)
{
	struct parse p = { .file = file, .err = err, .errlen = errlen, .c = c };
	memset(c, 0, sizeof(*c));
	c->segment_mode = 0600;
	c->log_level = FW_LOG_INFO;
	FILE *f = fopen(file, "re");
	if (!f)
		return fail(&p, "%s", strerror(errno));
	int r = check_file(&p, f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while (!r && (n = getline(&line, &cap, f)) >= 0) {
		p.line++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		r = parse_line(&p, line, (size_t)n);
	}
	if (!r && ferror(f)) {
		p.line = 0;
		r = fail(&p, "read error");
	}
	free(line);
	fclose(f);
	if (!r)
		r = check_whole(&p);
	return r;
}
