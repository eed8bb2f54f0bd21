/* SPDX-License-Identifier: ISC */
/*
 * hex.c - hexadecimal digits and "sha256:..." fingerprints (see hex.h).
 */
#include "hex.h"

int
hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
fingerprint_parse(struct str s, unsigned char *out)
{
	size_t n = 0;

	if (!str_skip_ci(&s, "sha256:"))
		return -1;
	while (s.len > 0) {
		int hi = hex_digit(s.p[0]);
		int lo = s.len > 1 ? hex_digit(s.p[1]) : -1;

		if (hi < 0 || lo < 0 || n == FINGERPRINT_LEN)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		s.p += 2;
		s.len -= 2;
		/* One ':' between bytes, never at the end. */
		if (s.len > 1 && s.p[0] == ':')
			str_skip_char(&s, ':');
	}
	return n == FINGERPRINT_LEN ? 0 : -1;
}
