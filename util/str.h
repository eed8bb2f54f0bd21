/* SPDX-License-Identifier: ISC */
/*
 * str.h - non-owning string slices.
 *
 * A struct str points into memory owned by someone else (a parser's line
 * buffer, a config document) and is valid only as long as that memory is.
 * It is not NUL-terminated.  Cursor helpers take a slice by pointer,
 * consume from its front on success, leave it untouched on failure, and
 * return bool so that they chain with || and &&.
 */
#ifndef FERRY_STR_H
#define FERRY_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct str {
	const char *p;
	size_t len;
};

#define STR_NULL ((struct str){NULL, 0})

struct str str_from(const char *);
struct str str_make(const char *, size_t);
bool str_eq(struct str, struct str);
/* Equal to a C string, ignoring ASCII case. */
bool str_eq_ci(struct str, const char *);
bool str_eq_cstr(struct str, const char *);
bool str_starts_ci(struct str, const char *);
/* Copy into a fresh NUL-terminated heap string. */
char *str_dup(struct str);

/* Consume the exact prefix lit (ASCII case-insensitive). */
bool str_skip_ci(struct str *, const char *);
bool str_skip_char(struct str *, char);
/*
 * Consume a run of decimal digits no greater than max into *out.  Fails
 * on no digits, or when the value would exceed max (checked before any
 * multiplication can overflow).
 */
bool str_take_u64(struct str *, uint64_t max, uint64_t *out);
/* Parse the whole slice as a decimal number <= max. */
bool str_to_u64(struct str, uint64_t max, uint64_t *out);
/* A 64-bit hash (FNV-1a) of the NUL-terminated s: for tables, not for
 * anything an attacker must not collide. */
uint64_t str_hash(const char *s);

#endif
