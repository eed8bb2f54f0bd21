/* SPDX-License-Identifier: ISC */
/*
 * base64.c - RFC 4648 base64 encoding and strict decoding.
 */
#include "base64.h"

#include <stdint.h>

#include "buf.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_encode(const void *data, size_t len, struct buf *out)
{
	const unsigned char *p = data;
	size_t i, start = out->len;
	char q[4];

	for (i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		q[0] = alphabet[(v >> 18) & 63];
		q[1] = alphabet[(v >> 12) & 63];
		q[2] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
		q[3] = left > 2 ? alphabet[v & 63] : '=';
		if (buf_append(out, q, 4) == -1) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 0;
}

static int
value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *text, size_t len, struct buf *out)
{
	size_t i, start = out->len;
	unsigned char b[3];

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		int v[4], k, pad = 0;
		uint32_t w;

		for (k = 0; k < 4; k++) {
			if (text[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad || (v[k] = value(text[i + k])) < 0)
				goto fail;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		b[0] = (unsigned char)(w >> 16);
		b[1] = (unsigned char)(w >> 8);
		b[2] = (unsigned char)w;
		if (buf_append(out, b, (size_t)(3 - pad)) == -1)
			goto fail;
	}
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}
