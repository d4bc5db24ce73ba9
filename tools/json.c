/*
 * json.c - the tool's JSON output (Jansson): one compact object per line.
 *
 * An answer becomes an object with the keys of the user-facing contract:
 * path, exists, source, dev, ino, mode, nlink, uid, gid, size, blocks,
 * mtime_ns, ctime_ns (integers; *_ns = seconds * 1e9 + nanoseconds).  For a
 * path that does not exist every number is 0.
 *
 * Paths are bytes, JSON strings are Unicode: a path that is not valid
 * UTF-8 (Jansson refuses it) is written with each invalid byte replaced by
 * U+FFFD and the extra key "path_lossy": true, so a consumer knows the
 * string is not the exact path.  JSON integers here are signed 64-bit; a
 * dev or ino above INT64_MAX (no Linux filesystem we know of makes one)
 * would come out as its two's-complement negative value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

size_t tool_utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* `path` with each byte that is not valid UTF-8 replaced by U+FFFD. */
static json_t *lossy_string(const char *path, size_t n)
{
	const unsigned char *s = (const unsigned char *)path;
	char *buf = malloc(3 * n + 1); /* one byte becomes at most three */
	if (!buf)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t len = tool_utf8_seq_len(s + i, n - i);
		if (len == 0 || s[i] == '\0') {
			memcpy(buf + k, "\xef\xbf\xbd", 3);
			k += 3;
			i++;
			continue;
		}
		memcpy(buf + k, s + i, len);
		k += len;
		i += len;
	}
	json_t *j = json_stringn(buf, k);
	free(buf);
	return j;
}

/* Saturating sec * 1e9 + nsec: no overflow on absurd timestamps. */
static json_int_t time_ns(int64_t sec, uint32_t nsec)
{
	int64_t ns;
	if (__builtin_mul_overflow(sec, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)nsec, &ns))
		return sec < 0 ? INT64_MIN : INT64_MAX;
	return (json_int_t)ns;
}

/* Sets key to a new value; a NULL value (out of memory) is counted. */
static void set(json_t *obj, const char *key, json_t *value, int *err)
{
	if (json_object_set_new(obj, key, value) < 0)
		*err = 1;
}

static void set_int(json_t *obj, const char *key, json_int_t v, int *err)
{
	set(obj, key, json_integer(v), err);
}

static void set_path(json_t *obj, const char *path, int *err)
{
	size_t n = strlen(path);
	json_t *s = json_stringn(path, n);
	if (s) {
		set(obj, "path", s, err);
		return;
	}
	set(obj, "path", lossy_string(path, n), err);
	set(obj, "path_lossy", json_true(), err);
}

json_t *tool_json_path(const char *path)
{
	size_t n = strlen(path);
	json_t *s = json_stringn(path, n);
	return s ? s : lossy_string(path, n);
}

json_t *tool_json_stat(const char *path, const struct fsc_stat *st)
{
	static const struct fsc_stat none; /* all zero */
	const struct fsc_stat *v = st->exists ? st : &none;
	json_t *obj = json_object();
	int err = 0;
	if (!obj)
		return NULL;
	set_path(obj, path, &err);
	set(obj, "exists", json_boolean(st->exists), &err);
	set(obj, "source",
	    json_string(st->source == FSC_SOURCE_CACHE ? "cache" : "stat"),
	    &err);
	set_int(obj, "dev", (json_int_t)v->dev, &err);
	set_int(obj, "ino", (json_int_t)v->ino, &err);
	set_int(obj, "mode", v->mode, &err);
	set_int(obj, "nlink", (json_int_t)v->nlink, &err);
	set_int(obj, "uid", v->uid, &err);
	set_int(obj, "gid", v->gid, &err);
	set_int(obj, "size", v->size, &err);
	set_int(obj, "blocks", v->blocks, &err);
	set_int(obj, "mtime_ns", time_ns(v->mtime_sec, v->mtime_nsec), &err);
	set_int(obj, "ctime_ns", time_ns(v->ctime_sec, v->ctime_nsec), &err);
	if (err) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

int tool_json_print(json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!s) {
		tool_error("out of memory formatting JSON");
		return -1;
	}
	puts(s);
	free(s);
	return 0;
}
