/* SPDX-License-Identifier: ISC */
/*
 * state_valid.h - checks on what goes into the state database; used only
 * by store/state.c.
 *
 * Ownership: pure functions on borrowed strings; nothing is kept.  Each
 * returns 0 when the value may be stored, else -1 with err saying why:
 * ERR_BOX for folder names, ERR_MSG for message data, or the kind given.
 * The bounds are the STATE_*_MAX lengths of store/state.h.
 */
#ifndef FERRY_STATE_VALID_H
#define FERRY_STATE_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Well-formed UTF-8: no overlong forms, surrogates or code points past
 * U+10FFFF. */
bool state_utf8_valid(const unsigned char *, size_t);
/* A folder name: 1..STATE_NAME_MAX bytes of UTF-8, no control chars. */
int state_valid_name(const char *, struct err *);
/*
 * A canonical flag list: tokens of printable ASCII separated by one space,
 * strictly ascending in strcmp() order (so no duplicates), at most
 * STATE_FLAGS_MAX bytes; "" is the empty list.
 */
int state_valid_flags(const char *, struct err *);
/*
 * state_valid_atom(s, max, may_omit, what, kind, err):
 * 1..max bytes of printable ASCII without spaces; NULL and "" pass only
 * when may_omit.  Errors are of kind and name the value as what.
 */
int state_valid_atom(const char *, size_t max, bool may_omit, const char *what,
    enum err_kind, struct err *);
/* A fingerprint of at most STATE_FP_MAX bytes, empty only if may_omit. */
int state_valid_fp(const void *, size_t, bool may_omit, struct err *);
/* A Maildir base name: 1..STATE_BASE_MAX bytes without '/'. */
int state_valid_base(const char *, struct err *);
/* A UID other than 0; what names its side in the error. */
int state_valid_uid(uint32_t, const char *what, struct err *);

#endif
