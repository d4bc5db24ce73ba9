/*
 * log.h - the writer's diagnostics on stderr, one line each, with a level
 * prefix journald understands ("<3>" err, "<4>" warning, "<6>" info,
 * "<7>" debug) when FSTATCACHE_LOG_PREFIX=1 or stderr is the journal.
 */
#ifndef FW_LOG_H
#define FW_LOG_H

enum fw_log_level {
	FW_LOG_ERR = 3,
	FW_LOG_WARN = 4,
	FW_LOG_INFO = 6,
	FW_LOG_DEBUG = 7
};

/* Messages above `level` are dropped (default FW_LOG_INFO). */
void fw_log_set_level(enum fw_log_level level);

__attribute__((format(printf, 2, 3))) void fw_log(enum fw_log_level level,
						  const char *fmt, ...);

#define fw_err(...) fw_log(FW_LOG_ERR, __VA_ARGS__)
#define fw_warn(...) fw_log(FW_LOG_WARN, __VA_ARGS__)
#define fw_info(...) fw_log(FW_LOG_INFO, __VA_ARGS__)
#define fw_debug(...) fw_log(FW_LOG_DEBUG, __VA_ARGS__)

#endif /* FW_LOG_H */
