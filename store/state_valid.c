/* SPDX-License-Identifier: ISC */
/*
 * state_valid.c - checks on what goes into the state database (see
 * state_valid.h).  Kept apart from state.c because none of it needs
 * SQLite: it bounds and shapes every string before it is bound.
 */
#include "state_valid.h"

#include <string.h>

#include "state.h"
#include "util/err.h"

bool
state_utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0, len, k;
	uint32_t cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			len = 2, cp = p[i] & 0x1f, min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			len = 3, cp = p[i] & 0x0f, min = 0x800;
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			len = 4, cp = p[i] & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

int
state_valid_name(const char *name, struct err *err)
{
	size_t n, i;

	if (name == NULL || *name == '\0')
		return err_set(err, ERR_BOX, "state: empty folder name");
	n = strnlen(name, STATE_NAME_MAX + 1);
	if (n > STATE_NAME_MAX)
		return err_set(err, ERR_BOX,
		    "state: folder name longer than %d bytes: %.40s...",
		    STATE_NAME_MAX, name);
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return err_set(err, ERR_BOX,
			    "state: control character in folder name");
	if (!state_utf8_valid((const unsigned char *)name, n))
		return err_set(
		    err, ERR_BOX, "state: folder name is not UTF-8: %s", name);
	return 0;
}

/* Length of the token of printable ASCII that starts at p. */
static size_t
atom_len(const char *p)
{
	size_t n = 0;

	while ((unsigned char)p[n] > 0x20 && (unsigned char)p[n] < 0x7f)
		n++;
	return n;
}

/* strcmp() order of two tokens that are not NUL-terminated. */
static int
token_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int
state_valid_flags(const char *flags, struct err *err)
{
	const char *p = flags, *prev = NULL;
	size_t len, prevlen = 0;

	if (strnlen(flags, STATE_FLAGS_MAX + 1) > STATE_FLAGS_MAX)
		return err_set(err, ERR_MSG,
		    "state: flag list longer than %d bytes", STATE_FLAGS_MAX);
	while (*p != '\0') {
		len = atom_len(p);
		if (len == 0 || (p[len] != ' ' && p[len] != '\0') ||
		    (p[len] == ' ' && p[len + 1] == '\0'))
			return err_set(err, ERR_MSG,
			    "state: flags \"%s\" are not one-space-separated "
			    "atoms",
			    flags);
		if (prev && token_cmp(prev, prevlen, p, len) >= 0)
			return err_set(err, ERR_MSG,
			    "state: flags \"%s\" are not sorted and unique",
			    flags);
		prev = p, prevlen = len;
		p += len + (p[len] == ' ');
	}
	return 0;
}

int
state_valid_atom(const char *s, size_t max, bool may_omit, const char *what,
    enum err_kind kind, struct err *err)
{
	size_t n;

	if (s == NULL || *s == '\0')
		return may_omit ? 0
				: err_set(err, kind, "state: empty %s", what);
	n = strnlen(s, max + 1);
	if (n > max)
		return err_set(
		    err, kind, "state: %s longer than %zu bytes", what, max);
	if (atom_len(s) != n)
		return err_set(err, kind, "state: bad character in %s", what);
	return 0;
}

int
state_valid_fp(const void *fp, size_t len, bool may_omit, struct err *err)
{
	if (len == 0 && !may_omit)
		return err_set(err, ERR_MSG, "state: empty fingerprint");
	if (len > STATE_FP_MAX)
		return err_set(err, ERR_MSG,
		    "state: fingerprint longer than %d bytes", STATE_FP_MAX);
	if (len > 0 && fp == NULL)
		return err_set(err, ERR_MSG, "state: fingerprint missing");
	return 0;
}

int
state_valid_base(const char *base, struct err *err)
{
	size_t n;

	if (base == NULL || *base == '\0')
		return err_set(err, ERR_MSG, "state: empty Maildir base name");
	n = strnlen(base, STATE_BASE_MAX + 1);
	if (n > STATE_BASE_MAX)
		return err_set(err, ERR_MSG,
		    "state: Maildir base name longer than %d bytes",
		    STATE_BASE_MAX);
	if (memchr(base, '/', n) != NULL)
		return err_set(err, ERR_MSG,
		    "state: Maildir base name %s contains '/'", base);
	return 0;
}

int
state_valid_uid(uint32_t uid, const char *what, struct err *err)
{
	if (uid == 0)
		return err_set(err, ERR_MSG, "state: %s UID 0", what);
	return 0;
}
