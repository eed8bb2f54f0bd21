/* SPDX-License-Identifier: ISC */
/*
 * log.h - leveled logging to standard error.
 *
 * -q shows errors only, the default adds warnings and notices, -v adds
 * debug detail, -vv adds the protocol trace.  Whoever logs a protocol line
 * must redact secrets first (imap/ does); this module prints what it gets.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

void log_set_level(enum log_level);
enum log_level log_get_level(void);
int log_enabled(enum log_level);
void log_msg(enum log_level, const char *, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_TRACE, __VA_ARGS__)

#endif
