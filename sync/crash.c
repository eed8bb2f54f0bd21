/* SPDX-License-Identifier: ISC */
/*
 * crash.c - hooks for the tests, and nothing else: crash points, and
 * the window size (FERRY_TEST_WINDOW, see sync_test_window()).
 *
 * The executor and the pass call sync_crash_point() right after each
 * durable step of a run: every state commit (a copy intent written, a row
 * recorded, flags recorded, an expunge recorded, watermarks advanced) and
 * every store operation that changed a side (an append, a flag store, an
 * expunge).  Two environment variables, read once on the first call:
 *
 *   FERRY_TEST_CRASH_AFTER=N  _exit(99) right after the Nth step, as a
 *                             kill -9 there would (no atexit, no flush of
 *                             stdio, no rollback, no LOGOUT);
 *   FERRY_TEST_CRASH_LIST=1   print "crash point N: what" for each step
 *                             to stderr, so a test can count them.
 *
 * tests/integ/test_crash.sh runs a sync once per step with a crash there,
 * then resumes it and compares both sides with an uninterrupted run.
 * Without the variables a step costs a counter increment; the getenv()
 * calls happen once per process.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sync/sync.h"

static unsigned long crash_after; /* 0: never */
static unsigned long crash_steps;
static bool crash_list, crash_init;

static unsigned long
parse_count(const char *s)
{
	unsigned long n = 0;

	if (s == NULL)
		return 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > 1000000000ul)
			return 0;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	return *s == '\0' ? n : 0;
}

void
sync_crash_point(const char *what)
{
	const char *l;

	if (!crash_init) {
		crash_init = true;
		crash_after = parse_count(getenv("FERRY_TEST_CRASH_AFTER"));
		l = getenv("FERRY_TEST_CRASH_LIST");
		crash_list = l != NULL && strcmp(l, "1") == 0;
	}
	crash_steps++;
	if (crash_list)
		fprintf(stderr, "crash point %lu: %s\n", crash_steps, what);
	if (crash_after != 0 && crash_steps == crash_after) {
		if (crash_list)
			fflush(stderr);
		_exit(99);
	}
}

unsigned long
sync_test_window(unsigned long dflt)
{
	static unsigned long w;

	if (w == 0) {
		w = parse_count(getenv("FERRY_TEST_WINDOW"));
		if (w == 0)
			w = dflt;
	}
	return w;
}
