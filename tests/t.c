/* SPDX-License-Identifier: ISC */
/*
 * t.c - ferry's small test runner (see t.h).
 */
#include "t.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

jmp_buf t_jmp;
static char tmpdir[4096];

static void
escape(FILE *f, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\')
			fputs("\\\\", f);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else if (p[i] == '\r')
			fputs("\\r", f);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else
			fprintf(f, "\\x%02x", p[i]);
	}
}

void
t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	longjmp(t_jmp, 1);
}

void
t_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIPPED: ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	longjmp(t_jmp, 2);
}

void
t_eq_mem(const char *file, int line, const char *expr, const void *a,
    size_t alen, const void *b, size_t blen)
{
	if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
		return;
	fprintf(stdout, "%s:%d: %s\n  got:  \"", file, line, expr);
	escape(stdout, a, alen);
	fputs("\"\n  want: \"", stdout);
	escape(stdout, b, blen);
	fputs("\"\n", stdout);
	fflush(stdout);
	longjmp(t_jmp, 1);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

const char *
t_tmpdir(void)
{
	const char *base;

	if (tmpdir[0] != '\0')
		return tmpdir;
	base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/ferry-test.XXXXXX",
	    base && *base ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return tmpdir;
}

static void
tmpdir_cleanup(void)
{
	if (tmpdir[0] == '\0')
		return;
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

int
t_main(const struct t_case *cases, size_t n, int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	volatile unsigned passed = 0, failed = 0;
	volatile size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < n; i++) {
		int r;

		if (only && strstr(cases[i].name, only) == NULL)
			continue;
		r = setjmp(t_jmp);
		if (r == 0) {
			cases[i].fn();
			passed++;
		} else if (r == 1) {
			printf("FAIL: %s\n", cases[i].name);
			failed++;
		}
		tmpdir_cleanup();
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
