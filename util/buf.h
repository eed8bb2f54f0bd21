/* SPDX-License-Identifier: ISC */
/*
 * buf.h - bounded growable byte buffer.
 *
 * Invariants, after buf_init() and until buf_release():
 *   - data is never NULL and data[len] == '\0' (so it is always a C string,
 *     though it may also hold NUL bytes inside);
 *   - len < cap, and len <= max;
 *   - an operation that would make len exceed max fails with -1 and leaves
 *     the buffer unchanged.  Hitting max is an ordinary error: callers use
 *     it to bound what a peer can make us hold.
 * The buffer owns data.  Writing in place goes through buf_reserve() and
 * buf_commit(); nothing else hands out a writable pointer.
 */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_NOMAX ((size_t)-1 / 2)

/* Start an empty buffer that may grow to max bytes of content. */
void buf_init(struct buf *, size_t max);
/* Free the storage; the buffer must be initialised again before reuse. */
void buf_release(struct buf *);
/* Empty the buffer, keeping its storage. */
void buf_reset(struct buf *);

/* Append n bytes.  Return 0, or -1 when max would be exceeded. */
int buf_append(struct buf *, const void *, size_t)
    __attribute__((warn_unused_result));
int buf_puts(struct buf *, const char *) __attribute__((warn_unused_result));
int buf_putc(struct buf *, char) __attribute__((warn_unused_result));
int buf_printf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));
int buf_vprintf(struct buf *, const char *, va_list)
    __attribute__((format(printf, 2, 0), warn_unused_result));

/*
 * buf_reserve(b, n): make room for n more bytes and return where they go,
 * or NULL when that would exceed max.  Nothing is added until
 * buf_commit(b, k) with k <= n.
 */
char *buf_reserve(struct buf *, size_t);
void buf_commit(struct buf *, size_t);

/* Remove the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *, size_t);
/* Shorten to n bytes (n <= len). */
void buf_truncate(struct buf *, size_t);
/* Hand the storage to the caller (free() it); the buffer is emptied. */
char *buf_detach(struct buf *, size_t *len_out);

#endif
