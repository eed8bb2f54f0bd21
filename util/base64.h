/* SPDX-License-Identifier: ISC */
/*
 * base64.h - RFC 4648 base64, as SASL exchanges need it.
 */
#ifndef FERRY_BASE64_H
#define FERRY_BASE64_H

#include <stddef.h>

struct buf;

/* Append the encoding of data to out; 0, or -1 past out's maximum. */
int base64_encode(const void *data, size_t len, struct buf *out);
/*
 * Append the decoding of text to out.  Strict: only the standard
 * alphabet, padding only at the end, no whitespace.  0, or -1 on bad
 * input or past out's maximum (out is then unchanged).
 */
int base64_decode(const char *text, size_t len, struct buf *out);

#endif
