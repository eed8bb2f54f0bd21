/* SPDX-License-Identifier: ISC */
/*
 * intern.h - one copy of each distinct string.
 *
 * Flag strings repeat: the 100,000 messages of a folder carry a few
 * dozen distinct sets.  A table keeps one copy of each, so that a scan or
 * the rows of a folder hold pointers instead of a string per message.
 * The strings live until intern_free(); the table grows as needed.
 */
#ifndef FERRY_INTERN_H
#define FERRY_INTERN_H

#include <stddef.h>

struct intern {
	char **slot; /* open addressing; NULL: empty */
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

/* The table's copy of s (made on first sight). */
const char *intern(struct intern *, const char *s);
/* Free every copy; the table is empty and usable again. */
void intern_free(struct intern *);

#endif
