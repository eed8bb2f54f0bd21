/* SPDX-License-Identifier: ISC */
/*
 * log.c - leveled logging to standard error (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level level = LOG_INFO;

static const char *const prefix[] = {
    [LOG_ERROR] = "ferry: error: ",
    [LOG_WARN] = "ferry: warning: ",
    [LOG_INFO] = "ferry: ",
    [LOG_DEBUG] = "ferry: debug: ",
    [LOG_TRACE] = "",
};

void
log_set_level(enum log_level l)
{
	level = l;
}

enum log_level
log_get_level(void)
{
	return level;
}

int
log_enabled(enum log_level l)
{
	return l <= level;
}

void
log_msg(enum log_level l, const char *fmt, ...)
{
	va_list ap;

	if (l > level)
		return;
	fflush(stdout); /* keep what was printed so far in front */
	fputs(prefix[l], stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
