/* SPDX-License-Identifier: ISC */
/*
 * arena.c - bump allocator (see arena.h).
 *
 * Chunks form a list, newest first.  A chunk is at least CHUNK bytes, or
 * the size of the request when that is bigger.  Reset frees every chunk
 * but the oldest, which is where a typical small response fits.
 */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "xalloc.h"

#define CHUNK 4096

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t off;
	alignas(max_align_t) unsigned char data[];
};

void
arena_init(struct arena *a, size_t max)
{
	a->head = NULL;
	a->used = 0;
	a->max = max;
}

void
arena_release(struct arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->used = 0;
}

void
arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->head;

	if (c == NULL)
		return;
	while (c->next != NULL) {
		struct arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	c->off = 0;
	a->head = c;
	a->used = 0;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	struct arena_chunk *c = a->head;
	size_t size;
	void *p;

	if (n > SIZE_MAX - align)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	if (n == 0)
		n = align;
	if (n > a->max - a->used || a->used > a->max)
		return NULL;
	if (c == NULL || c->size - c->off < n) {
		size = n > CHUNK ? n : CHUNK;
		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->off;
	c->off += n;
	a->used += n;
	return p;
}
