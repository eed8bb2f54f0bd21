/* SPDX-License-Identifier: ISC */
/*
 * utf7.c - modified UTF-7 mailbox names (RFC 3501 section 5.1.3).
 *
 * Decoding walks the name once: literal printable ASCII is copied, "&-"
 * becomes '&', and each "&...-" run is base64-decoded 6 bits at a time
 * into UTF-16 code units, which are paired into code points and written
 * as UTF-8.  Encoding is the mirror image: UTF-8 is decoded strictly into
 * code points, printable ASCII is copied, and each stretch of anything
 * else becomes one run.  Every rule that makes the encoding unique is
 * checked on the way in (see utf7.h), so decode(encode(x)) == x and
 * encode(decode(y)) == y for every accepted x and y.
 */
#include "imap/utf7.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"
#include "util/err.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* A run of base64 being decoded or encoded. */
struct run {
	uint32_t acc; /* bits not yet consumed, right-aligned */
	unsigned nbits; /* how many of them */
	uint32_t high; /* pending high surrogate when decoding, else 0 */
	size_t units; /* UTF-16 units decoded so far */
};

static bool
is_printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Set err to kind with "what, byte N: reason"; return -1. */
static int vfail(struct err *, enum err_kind, const char *, size_t,
    const char *, va_list) __attribute__((format(printf, 5, 0)));

static int
vfail(struct err *err, enum err_kind kind, const char *what, size_t at,
    const char *fmt, va_list ap)
{
	char reason[256];

	vsnprintf(reason, sizeof(reason), fmt, ap);
	return err_set(err, kind, "%s, byte %zu: %s", what, at, reason);
}

/* A server's name is not modified UTF-7 (ERR_PROTO). */
static int bad_utf7(struct err *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad_utf7(struct err *err, size_t at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, ERR_PROTO, "invalid modified UTF-7", at, fmt, ap);
	va_end(ap);
	return -1;
}

/* A local name is not UTF-8 (ERR_BOX: skip that folder). */
static int bad_utf8(struct err *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad_utf8(struct err *err, size_t at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, ERR_BOX, "invalid UTF-8", at, fmt, ap);
	va_end(ap);
	return -1;
}

static int
limit(struct err *err)
{
	return err_set(err, ERR_LIMIT, "mailbox name too long for its buffer");
}

/* Append code point cp (valid, not a surrogate) as UTF-8. */
static int
put_utf8(struct buf *out, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

/* Take one decoded UTF-16 unit u, which ended at byte at. */
static int
take_unit(
    struct run *r, uint32_t u, size_t at, struct buf *out, struct err *err)
{
	uint32_t cp = u;

	r->units++;
	if (r->high != 0) {
		if (u < 0xdc00 || u > 0xdfff)
			return bad_utf7(err, at,
			    "high surrogate U+%04X not followed by a low one",
			    (unsigned)r->high);
		cp = 0x10000 + ((r->high - 0xd800) << 10) + (u - 0xdc00);
		r->high = 0;
	} else if (u >= 0xd800 && u <= 0xdbff) {
		r->high = u;
		return 0;
	} else if (u >= 0xdc00 && u <= 0xdfff) {
		return bad_utf7(
		    err, at, "lone low surrogate U+%04X", (unsigned)u);
	} else if (u == 0) {
		return bad_utf7(err, at, "encoded U+0000");
	} else if (is_printable(u)) {
		return bad_utf7(
		    err, at, "printable '%c' must not be encoded", (char)u);
	}
	if (put_utf8(out, cp) == -1)
		return limit(err);
	return 0;
}

/*
 * Decode the run whose '&' is at *pos (not "&-"); on success *pos is just
 * past its closing '-'.
 */
static int
decode_run(struct str in, size_t *pos, struct buf *out, struct err *err)
{
	struct run r = {0, 0, 0, 0};
	size_t i;

	for (i = *pos + 1; i < in.len && in.p[i] != '-'; i++) {
		unsigned char c = (unsigned char)in.p[i];
		int v = b64_value(c);

		if (v < 0 && is_printable(c))
			return bad_utf7(
			    err, i, "'%c' is not a base64 character", c);
		if (v < 0)
			return bad_utf7(
			    err, i, "byte 0x%02X in a base64 run", c);
		r.acc = r.acc << 6 | (uint32_t)v;
		r.nbits += 6;
		if (r.nbits < 16)
			continue;
		r.nbits -= 16;
		if (take_unit(&r, r.acc >> r.nbits, i, out, err) == -1)
			return -1;
		r.acc &= (1u << r.nbits) - 1;
	}
	if (i == in.len)
		return bad_utf7(err, *pos, "'&' without a closing '-'");
	if (r.high != 0)
		return bad_utf7(err, i,
		    "run ends in a lone high surrogate U+%04X",
		    (unsigned)r.high);
	if (r.units == 0)
		return bad_utf7(err, *pos, "run encodes nothing");
	if (r.nbits >= 6)
		return bad_utf7(
		    err, i, "base64 character left over before '-'");
	if (r.acc != 0)
		return bad_utf7(err, i, "non-zero bits left over before '-'");
	*pos = i + 1;
	return 0;
}

int
imap_utf7_to_utf8(struct str in, struct buf *out, struct err *err)
{
	size_t start = out->len, i = 0;
	bool after_run = false;

	while (i < in.len) {
		unsigned char c = (unsigned char)in.p[i];

		if (!is_printable(c)) {
			bad_utf7(
			    err, i, "byte 0x%02X is not printable ASCII", c);
			goto out_truncate;
		}
		if (c != '&' || (i + 1 < in.len && in.p[i + 1] == '-')) {
			if (buf_putc(out, (char)c) == -1) {
				limit(err);
				goto out_truncate;
			}
			i += c == '&' ? 2 : 1;
			after_run = false;
			continue;
		}
		if (after_run) {
			bad_utf7(
			    err, i, "two encoded runs in a row must be one");
			goto out_truncate;
		}
		if (decode_run(in, &i, out, err) == -1)
			goto out_truncate;
		after_run = true;
	}
	return 0;

out_truncate:
	buf_truncate(out, start);
	return -1;
}

/*
 * Decode one UTF-8 sequence at p[0..n), n > 0.  Return its length and set
 * *cp, or return 0 and set *why.
 */
static size_t
utf8_decode(const unsigned char *p, size_t n, uint32_t *cp, const char **why)
{
	size_t len, i;
	uint32_t v;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] < 0xc0) {
		*why = "unexpected continuation byte";
		return 0;
	}
	if (p[0] < 0xc2) {
		*why = "overlong encoding";
		return 0;
	}
	if (p[0] > 0xf4) {
		*why = p[0] < 0xf8 ? "code point above U+10FFFF"
				   : "byte never used in UTF-8";
		return 0;
	}
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	v = p[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if (i >= n || (p[i] & 0xc0) != 0x80) {
			*why = "truncated sequence";
			return 0;
		}
		v = v << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000))
		*why = "overlong encoding";
	else if (v >= 0xd800 && v <= 0xdfff)
		*why = "encoded surrogate";
	else if (v > 0x10ffff)
		*why = "code point above U+10FFFF";
	else {
		*cp = v;
		return len;
	}
	return 0;
}

/* Add 16 bits to an open run, writing each complete base64 character. */
static int
put_unit(struct run *r, uint32_t u, struct buf *out)
{
	r->acc = r->acc << 16 | u;
	r->nbits += 16;
	while (r->nbits >= 6) {
		r->nbits -= 6;
		if (buf_putc(out, b64_alphabet[r->acc >> r->nbits & 0x3f]) ==
		    -1)
			return -1;
	}
	r->acc &= (1u << r->nbits) - 1;
	return 0;
}

/* Flush the bits of an open run, zero-padded, and write the closing '-'. */
static int
close_run(struct run *r, struct buf *out)
{
	if (r->nbits > 0 &&
	    buf_putc(out, b64_alphabet[r->acc << (6 - r->nbits) & 0x3f]) == -1)
		return -1;
	r->acc = 0;
	r->nbits = 0;
	r->units = 0;
	return buf_putc(out, '-');
}

/* Write code point cp, opening or closing a run as needed. */
static int
put_cp(struct run *r, uint32_t cp, struct buf *out)
{
	if (is_printable(cp)) {
		if (r->units > 0 && close_run(r, out) == -1)
			return -1;
		if (cp == '&')
			return buf_append(out, "&-", 2);
		return buf_putc(out, (char)cp);
	}
	if (r->units == 0 && buf_putc(out, '&') == -1)
		return -1;
	r->units++;
	if (cp < 0x10000)
		return put_unit(r, cp, out);
	cp -= 0x10000;
	if (put_unit(r, 0xd800 | cp >> 10, out) == -1)
		return -1;
	return put_unit(r, 0xdc00 | (cp & 0x3ff), out);
}

int
imap_utf8_to_utf7(struct str in, struct buf *out, struct err *err)
{
	const unsigned char *p = (const unsigned char *)in.p;
	struct run r = {0, 0, 0, 0};
	size_t start = out->len, i = 0;

	while (i < in.len) {
		const char *why = NULL;
		uint32_t cp = 0;
		size_t n = utf8_decode(p + i, in.len - i, &cp, &why);

		if (n == 0) {
			bad_utf8(err, i, "%s", why);
			goto out_truncate;
		}
		if (cp == 0) {
			bad_utf8(err, i, "U+0000 in a mailbox name");
			goto out_truncate;
		}
		if (put_cp(&r, cp, out) == -1)
			goto out_limit;
		i += n;
	}
	if (r.units > 0 && close_run(&r, out) == -1)
		goto out_limit;
	return 0;

out_limit:
	limit(err);
out_truncate:
	buf_truncate(out, start);
	return -1;
}
