/*
 * text.c - how the tool writes times, ages and paths in text output.
 *
 * Paths come from the segment or the command line and may hold any byte
 * but NUL: text output quotes the bytes a terminal would interpret (and
 * newlines, which would split one report line into two), so every line
 * the tool prints is one line and means what it says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "cmd.h"

uint64_t tool_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tool_format_time(char *buf, size_t size, int64_t sec, uint32_t nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char date[32], zone[8];
	if (!localtime_r(&t, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) ||
	    !strftime(zone, sizeof(zone), "%z", &tm)) {
		snprintf(buf, size, "@%lld.%09u", (long long)sec, nsec);
		return;
	}
	snprintf(buf, size, "%s.%09u%s", date, nsec, zone);
}

void tool_format_time_ns(char *buf, size_t size, uint64_t ns)
{
	if (ns == 0) {
		snprintf(buf, size, "-");
		return;
	}
	tool_format_time(buf, size, (int64_t)(ns / 1000000000u),
			 (uint32_t)(ns % 1000000000u));
}

void tool_format_age(char *buf, size_t size, uint64_t now, uint64_t then)
{
	if (then == 0 || then > now) {
		snprintf(buf, size, "-");
		return;
	}
	unsigned long long ms = (now - then) / 1000000u, s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, size, "%llums", ms);
	else if (s < 60)
		snprintf(buf, size, "%llu.%llus", s, ms % 1000 / 100);
	else if (s < 3600)
		snprintf(buf, size, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%llud%02lluh", s / 86400,
			 s % 86400 / 3600);
}

char *tool_quote_path(const char *path, size_t n)
{
	const unsigned char *s = (const unsigned char *)path;
	char *buf = malloc(4 * n + 1); /* one byte becomes at most \xNN */
	if (!buf)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t len = s[i] >= 0x80 ? tool_utf8_seq_len(s + i, n - i) : 0;
		if (len == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)
			len = 0; /* C1 controls: some terminals act on them */
		if (len > 1) {   /* other valid multi-byte UTF-8 is text */
			memcpy(buf + k, s + i, len);
			k += len;
			i += len;
			continue;
		}
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf[k++] = (char)s[i];
		else
			k += (size_t)sprintf(buf + k, "\\x%02x", s[i]);
		i++;
	}
	buf[k] = '\0';
	return buf;
}

void tool_print_stat(const char *path, const struct fsc_stat *st)
{
	const char *source = st->source == FSC_SOURCE_CACHE ? "cache" : "stat";
	if (!st->exists) {
		printf("%s source=%s exists=no\n", path, source);
		return;
	}
	char mtime[64], ctime[64];
	tool_format_time(mtime, sizeof(mtime), st->mtime_sec, st->mtime_nsec);
	tool_format_time(ctime, sizeof(ctime), st->ctime_sec, st->ctime_nsec);
	printf("%s source=%s exists=yes size=%lld mtime=%s ino=%llu "
	       "dev=%u:%u mode=0%o nlink=%llu uid=%u gid=%u blocks=%lld "
	       "ctime=%s\n",
	       path, source, (long long)st->size, mtime,
	       (unsigned long long)st->ino, major((dev_t)st->dev),
	       minor((dev_t)st->dev), st->mode, (unsigned long long)st->nlink,
	       st->uid, st->gid, (long long)st->blocks, ctime);
}
