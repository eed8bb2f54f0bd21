/* SPDX-License-Identifier: ISC */
/*
 * buf.c - bounded growable byte buffer (see buf.h for the invariants).
 */
#include "buf.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static char nul_byte[1];

void
buf_init(struct buf *b, size_t max)
{
	b->data = nul_byte;
	b->len = 0;
	b->cap = 0;
	b->max = max > BUF_NOMAX ? BUF_NOMAX : max;
}

void
buf_release(struct buf *b)
{
	if (b->cap)
		free(b->data);
	b->data = nul_byte;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->data[0] = '\0';
}

/* Make room for len + n + 1 bytes.  Return 0 or -1 past max. */
static int
grow(struct buf *b, size_t n)
{
	size_t want, cap;

	if (n > b->max - b->len)
		return -1;
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap = cap > BUF_NOMAX / 2 ? want : cap * 2;
	if (b->cap == 0) {
		b->data = xmalloc(cap);
		b->data[0] = '\0';
	} else {
		b->data = xrealloc(b->data, cap);
	}
	b->cap = cap;
	return 0;
}

char *
buf_reserve(struct buf *b, size_t n)
{
	if (grow(b, n) == -1)
		return NULL;
	return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	assert(n == 0 || b->len + n < b->cap);
	if (n == 0)
		return;
	b->len += n;
	b->data[b->len] = '\0';
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	char *dst;

	if (n == 0)
		return 0;
	if ((dst = buf_reserve(b, n)) == NULL)
		return -1;
	memcpy(dst, p, n);
	buf_commit(b, n);
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	char *dst;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((dst = buf_reserve(b, (size_t)n)) == NULL)
		return -1;
	vsnprintf(dst, (size_t)n + 1, fmt, ap);
	buf_commit(b, (size_t)n);
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
buf_consume(struct buf *b, size_t n)
{
	assert(n <= b->len);
	if (n == 0)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
buf_truncate(struct buf *b, size_t n)
{
	assert(n <= b->len);
	if (b->cap == 0)
		return;
	b->len = n;
	b->data[n] = '\0';
}

char *
buf_detach(struct buf *b, size_t *len_out)
{
	char *p;

	if (b->cap == 0)
		p = xstrdup("");
	else
		p = b->data;
	if (len_out)
		*len_out = b->len;
	b->data = nul_byte;
	b->len = b->cap = 0;
	return p;
}
