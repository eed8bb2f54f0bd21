/* SPDX-License-Identifier: ISC */
/*
 * utf7.h - modified UTF-7 mailbox names (RFC 3501 section 5.1.3).
 *
 * IMAP servers without UTF8=ACCEPT name mailboxes in modified UTF-7:
 * printable US-ASCII stands for itself, except '&', which is written
 * "&-"; everything else is UTF-16 in a base64 variant (',' instead of
 * '/', no padding) between '&' and '-'.  ferry keeps names in UTF-8
 * everywhere else (state database, Maildir), so the IMAP store converts
 * at the edge with these two functions.
 *
 * Both directions are strict: a name has exactly one valid spelling in
 * each form, so a name that round-trips is never changed by ferry, and
 * malformed input is an error, never silently repaired or passed on.
 *
 * Ownership: the output is appended to a buffer the caller owns.  On
 * error the buffer is left exactly as it was.
 */
#ifndef FERRY_IMAP_UTF7_H
#define FERRY_IMAP_UTF7_H

#include "util/str.h"

struct buf;
struct err;

/*
 * imap_utf7_to_utf8(in, out, err):
 * Decode the modified UTF-7 name in and append its UTF-8 form to out.
 * Return 0, or -1 with err set: ERR_PROTO when in is not valid modified
 * UTF-7 (the message says what is wrong and at which byte), ERR_LIMIT
 * when out would grow past its maximum.  Rejected: bytes outside
 * printable ASCII, an unterminated or empty shift, bad base64, leftover
 * bits that are not zero or that make a whole base64 character, encoded
 * printable ASCII or U+0000, unpaired surrogates, and two encoded runs
 * back to back (they must be one run).
 */
int imap_utf7_to_utf8(struct str in, struct buf *out, struct err *err)
    __attribute__((warn_unused_result));

/*
 * imap_utf8_to_utf7(in, out, err):
 * Encode the UTF-8 name in as modified UTF-7 and append it to out.
 * Return 0, or -1 with err set: ERR_BOX when in is not valid UTF-8
 * (overlong forms, surrogates, code points above U+10FFFF, truncated or
 * stray continuation bytes) or contains U+0000, ERR_LIMIT when out would
 * grow past its maximum.
 */
int imap_utf8_to_utf7(struct str in, struct buf *out, struct err *err)
    __attribute__((warn_unused_result));

#endif
