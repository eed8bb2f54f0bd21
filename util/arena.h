/* SPDX-License-Identifier: ISC */
/*
 * arena.h - bump allocator with a byte bound.
 *
 * Everything allocated from an arena is freed at once by arena_reset() or
 * arena_release().  The parser keeps one response tree per arena and
 * resets it for the next response.  An allocation that would take the
 * arena past its maximum returns NULL: that is the per-response memory
 * bound, and callers report it as an error.
 */
#ifndef FERRY_ARENA_H
#define FERRY_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t used; /* bytes handed out since reset */
	size_t max;
};

void arena_init(struct arena *, size_t max);
void arena_release(struct arena *);
/* Forget all allocations; keep the first chunk for reuse. */
void arena_reset(struct arena *);
/* n bytes aligned for any type, or NULL past max. */
void *arena_alloc(struct arena *, size_t n);

#endif
