/* SPDX-License-Identifier: ISC */
/*
 * sort.h - qsort(3) that accepts an empty array.
 *
 * qsort's base must not be NULL even when there is nothing to sort, and
 * an empty growable array often has no storage yet; sort_array() is the
 * one place that knows.
 */
#ifndef FERRY_SORT_H
#define FERRY_SORT_H

#include <stdlib.h>

static inline void
sort_array(
    void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

#endif
