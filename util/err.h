/* SPDX-License-Identifier: ISC */
/*
 * err.h - typed errors.
 *
 * A caller owns a struct err and passes it down; a failing callee fills it
 * with a kind and a message and returns -1 (or NULL).  The kind tells the
 * layer that decides (sync/ or cmd/) what to do: skip one message, skip a
 * folder, stop the account, retry later, and so on.  Lower layers never
 * print errors themselves; the deciding layer reports each one once.
 * Messages must never contain secrets.
 */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

#include <stdarg.h>

enum err_kind {
	ERR_NONE = 0,
	ERR_MSG, /* skip this message, go on */
	ERR_BOX, /* skip this folder, go on */
	ERR_ACCOUNT, /* stop working with this account */
	ERR_TEMP, /* transient: retry later */
	ERR_PROTO, /* the peer broke the protocol */
	ERR_SYS, /* a system call failed; errno text is in msg */
	ERR_CONFIG, /* configuration or usage is wrong */
	ERR_CONN, /* could not reach the server, or lost it */
	ERR_TLS, /* TLS handshake or certificate verification */
	ERR_AUTH, /* the server refused our credentials */
	ERR_LIMIT, /* a configured bound was hit */
	ERR_LOCK, /* another run holds the state lock */
	ERR__COUNT
};

struct err {
	enum err_kind kind;
	char msg[512];
};

/* Set kind and message; return -1 for `return err_set(...)`. */
int err_set(struct err *, enum err_kind, const char *, ...)
    __attribute__((format(printf, 3, 4)));
int err_vset(struct err *, enum err_kind, const char *, va_list)
    __attribute__((format(printf, 3, 0)));
/* Like err_set(ERR_SYS, ...) with ": strerror(errno)" appended. */
int err_sys(struct err *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
/* Put "context: " in front of the current message; return -1. */
int err_prefix(struct err *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
void err_clear(struct err *);
const char *err_kind_name(enum err_kind);

#endif
