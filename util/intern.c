/* SPDX-License-Identifier: ISC */
/*
 * intern.c - see intern.h.  Linear probing, kept at most half full.
 */
#include "util/intern.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/xalloc.h"

static void
grow(struct intern *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64, i, k;
	char **slot = xcalloc(cap, sizeof(*slot));

	for (i = 0; i < t->cap; i++) {
		if (t->slot[i] == NULL)
			continue;
		for (k = str_hash(t->slot[i]) & (cap - 1); slot[k] != NULL;
		     k = (k + 1) & (cap - 1))
			;
		slot[k] = t->slot[i];
	}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
}

const char *
intern(struct intern *t, const char *s)
{
	size_t k;

	if ((t->n + 1) * 2 > t->cap)
		grow(t);
	for (k = str_hash(s) & (t->cap - 1); t->slot[k] != NULL;
	     k = (k + 1) & (t->cap - 1))
		if (strcmp(t->slot[k], s) == 0)
			return t->slot[k];
	t->n++;
	return t->slot[k] = xstrdup(s);
}

void
intern_free(struct intern *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->slot[i]);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}
