/* SPDX-License-Identifier: ISC */
/*
 * xalloc.h - allocation that cannot fail.
 *
 * Running out of memory is not an error ferry can recover from in a useful
 * way, so these wrappers print a message and abort instead of returning
 * NULL.  Limits on what a peer may make us allocate are enforced by the
 * callers (buffer maxima, parser limits); these only cover the allocator.
 */
#ifndef FERRY_XALLOC_H
#define FERRY_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
char *xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
