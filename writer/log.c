/*
 * log.c - one line per message on stderr.  Under systemd (JOURNAL_STREAM
 * set) or FSTATCACHE_LOG_PREFIX=1 each line starts with a "<N>" syslog
 * level prefix that journald turns into the message priority; otherwise it
 * starts with the program name and a word for the level.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static enum fw_log_level max_level = FW_LOG_INFO;

void fw_log_set_level(enum fw_log_level level)
{
	max_level = level;
}

static int use_prefix(void)
{
	static int cached = -1;
	if (cached < 0) {
		const char *p = getenv("FSTATCACHE_LOG_PREFIX");
		cached = (p && *p == '1') || getenv("JOURNAL_STREAM") != NULL;
	}
	return cached;
}

static const char *level_word(enum fw_log_level level)
{
	switch (level) {
	case FW_LOG_ERR:
		return "error";
	case FW_LOG_WARN:
		return "warning";
	case FW_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void fw_log(enum fw_log_level level, const char *fmt, ...)
{
	int saved = errno;
	char line[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (use_prefix())
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else
		fprintf(stderr, "fstatcached: %s: %s\n", level_word(level),
			line);
	errno = saved;
}
