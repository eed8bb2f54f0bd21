/* SPDX-License-Identifier: ISC */
/*
 * replay_main.c - run a fuzz target's corpus without libFuzzer.
 *
 * Linked with one fuzz_*.c, this replays every file in the directory
 * REPLAY_CORPUS (a string the Makefile defines), or the files named on the
 * command line, through LLVMFuzzerTestOneInput().  A target signals a bug
 * by crashing or aborting; otherwise the last line is "N passed, 0 failed"
 * as the test runner expects.  A missing or empty corpus, or a file that
 * cannot be read, is a failure: a replay that checks nothing must not
 * look like a pass.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"

#ifndef REPLAY_CORPUS
#error "define REPLAY_CORPUS as the corpus directory, in quotes"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Read path into b.  Return 0, or -1 with a message printed. */
static int
read_file(const char *path, struct buf *b)
{
	char chunk[65536];
	size_t n;
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) == -1) {
			fprintf(stderr, "%s: too big\n", path);
			rc = -1;
			goto out_close;
		}
	if (ferror(f)) {
		perror(path);
		rc = -1;
	}
out_close:
	fclose(f);
	return rc;
}

/* Replay one file; return 0 or -1. */
static int
replay(const char *path)
{
	struct buf b;
	int rc;

	buf_init(&b, 64u << 20);
	if ((rc = read_file(path, &b)) == 0)
		LLVMFuzzerTestOneInput((const uint8_t *)b.data, b.len);
	buf_release(&b);
	return rc;
}

/* Skip ".", "..", hidden files and anything that is not a regular file. */
static int
is_input(const struct dirent *d)
{
	char path[4096];
	struct stat st;

	if (d->d_name[0] == '.')
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", REPLAY_CORPUS, d->d_name) >=
	    (int)sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void
replay_dir(unsigned *passed, unsigned *failed)
{
	struct dirent **names;
	char path[4096];
	int i, n;

	if ((n = scandir(REPLAY_CORPUS, &names, is_input, alphasort)) == -1) {
		perror(REPLAY_CORPUS);
		(*failed)++;
		return;
	}
	if (n == 0) {
		fprintf(stderr, "%s: empty corpus\n", REPLAY_CORPUS);
		(*failed)++;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", REPLAY_CORPUS,
		    names[i]->d_name);
		if (replay(path) == 0)
			(*passed)++;
		else
			(*failed)++;
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		replay_dir(&passed, &failed);
	for (i = 1; i < argc; i++) {
		if (replay(argv[i]) == 0)
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
