/* SPDX-License-Identifier: ISC */
/*
 * str.c - non-owning string slices (see str.h).
 */
#include "str.h"

#include <string.h>
#include <strings.h>

#include "xalloc.h"

struct str
str_from(const char *s)
{
	return (struct str){s, s ? strlen(s) : 0};
}

struct str
str_make(const char *p, size_t len)
{
	return (struct str){p, len};
}

bool
str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool
str_eq_cstr(struct str a, const char *s)
{
	return str_eq(a, str_from(s));
}

bool
str_eq_ci(struct str a, const char *s)
{
	size_t n = strlen(s);

	return a.len == n && (n == 0 || strncasecmp(a.p, s, n) == 0);
}

bool
str_starts_ci(struct str a, const char *s)
{
	size_t n = strlen(s);

	return a.len >= n && (n == 0 || strncasecmp(a.p, s, n) == 0);
}

char *
str_dup(struct str s)
{
	return xstrndup(s.len ? s.p : "", s.len);
}

bool
str_skip_ci(struct str *s, const char *lit)
{
	size_t n = strlen(lit);

	if (!str_starts_ci(*s, lit))
		return false;
	s->p += n;
	s->len -= n;
	return true;
}

bool
str_skip_char(struct str *s, char c)
{
	if (s->len == 0 || s->p[0] != c)
		return false;
	s->p++;
	s->len--;
	return true;
}

bool
str_take_u64(struct str *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < s->len && s->p[i] >= '0' && s->p[i] <= '9'; i++) {
		unsigned d = (unsigned)(s->p[i] - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (i == 0)
		return false;
	s->p += i;
	s->len -= i;
	*out = v;
	return true;
}

bool
str_to_u64(struct str s, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (!str_take_u64(&s, max, &v) || s.len != 0)
		return false;
	*out = v;
	return true;
}

uint64_t
str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}
