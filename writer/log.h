/*
 * log.h - the writer's diagnostics on stderr, one line each, with a level
 * prefix journald understands ("<3>" err, "<4>" warning, "<6>" info,
 * "<7>" debug) when FSTATCACHE_LOG_PREFIX=1 or stderr is the journal.
 */
#ifndef FSC_WRITER_LOG_H
#define FSC_WRITER_LOG_H

enum fsc_log_level { FSC_LOG_ERR = 3, FSC_LOG_WARN = 4, FSC_LOG_INFO = 6,
		     FSC_LOG_DEBUG = 7 };

/* Messages above `level` are dropped (default FSC_LOG_INFO). */
void fsc_log_set_level(enum fsc_log_level level);

__attribute__((format(printf, 2, 3)))
void fsc_log(enum fsc_log_level level, const char *fmt, ...);

#define fsc_err(...) fsc_log(FSC_LOG_ERR, __VA_ARGS__)
#define fsc_warn(...) fsc_log(FSC_LOG_WARN, __VA_ARGS__)
#define fsc_info(...) fsc_log(FSC_LOG_INFO, __VA_ARGS__)
#define fsc_debug(...) fsc_log(FSC_LOG_DEBUG, __VA_ARGS__)

#endif /* FSC_WRITER_LOG_H */
