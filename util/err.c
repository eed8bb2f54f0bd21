/* SPDX-License-Identifier: ISC */
/*
 * err.c - typed errors (see err.h).
 */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[ERR__COUNT] = {
    [ERR_NONE] = "none",
    [ERR_MSG] = "message",
    [ERR_BOX] = "folder",
    [ERR_ACCOUNT] = "account",
    [ERR_TEMP] = "temporary",
    [ERR_PROTO] = "protocol",
    [ERR_SYS] = "system",
    [ERR_CONFIG] = "config",
    [ERR_CONN] = "connection",
    [ERR_TLS] = "tls",
    [ERR_AUTH] = "authentication",
    [ERR_LIMIT] = "limit",
    [ERR_LOCK] = "lock",
};

int
err_vset(struct err *e, enum err_kind kind, const char *fmt, va_list ap)
{
	if (e == NULL)
		return -1;
	e->kind = kind;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return -1;
}

int
err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

int
err_sys(struct err *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	err_vset(e, ERR_SYS, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int
err_prefix(struct err *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	va_list ap;
	int n;

	if (e == NULL)
		return -1;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", old);
	return -1;
}

void
err_clear(struct err *e)
{
	e->kind = ERR_NONE;
	e->msg[0] = '\0';
}

const char *
err_kind_name(enum err_kind k)
{
	if ((unsigned)k >= ERR__COUNT)
		return "unknown";
	return kind_names[k];
}
