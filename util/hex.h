/* SPDX-License-Identifier: ISC */
/*
 * hex.h - hexadecimal digits, and certificate fingerprints written as
 * "sha256:" followed by 64 hex digits (any case, ':' allowed between
 * bytes), the form the config file and the connection module share.
 */
#ifndef FERRY_HEX_H
#define FERRY_HEX_H

#include "str.h"

#define FINGERPRINT_LEN 32

/* The value of one hex digit, or -1. */
int hex_digit(char);
/* Parse s into out[FINGERPRINT_LEN]; 0, or -1 when s is not that form. */
int fingerprint_parse(struct str s, unsigned char *out);

#endif
