/* SPDX-License-Identifier: ISC */
/*
 * t.h - ferry's small test runner.
 *
 * Each test file lists its tests in a table and calls t_main():
 *
 *	static const struct t_case cases[] = {
 *		{ "buf grows", test_buf_grows },
 *	};
 *	int main(int argc, char **argv) { return T_MAIN(cases); }
 *
 * An assertion that fails prints "file:line: expression" (with both values
 * for the comparisons) and ends the current test; the others still run.
 * The last line printed is exactly "N passed, N failed", counting tests,
 * and the exit status is 1 when any failed.  A test may call t_skip()
 * with a reason: that is printed loudly and counted as neither.
 */
#ifndef FERRY_T_H
#define FERRY_T_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

struct t_case {
	const char *name;
	void (*fn)(void);
};

extern jmp_buf t_jmp;

int t_main(const struct t_case *, size_t, int, char **);
void t_fail(const char *, int, const char *, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void t_skip(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void t_eq_mem(const char *, int, const char *, const void *, size_t,
    const void *, size_t);
/* A per-test scratch directory under $TMPDIR, removed after the test. */
const char *t_tmpdir(void);

#define T_MAIN(cases) \
	t_main((cases), sizeof(cases) / sizeof((cases)[0]), argc, argv)

#define T_ASSERT(e)                                           \
	do {                                                  \
		if (!(e))                                     \
			t_fail(__FILE__, __LINE__, "%s", #e); \
	} while (0)

#define T_EQ_INT(a, b)                                                      \
	do {                                                                \
		intmax_t t_a_ = (intmax_t)(a), t_b_ = (intmax_t)(b);        \
		if (t_a_ != t_b_)                                           \
			t_fail(__FILE__, __LINE__, "%s == %s (%jd != %jd)", \
			    #a, #b, t_a_, t_b_);                            \
	} while (0)

#define T_EQ_STR(a, b)                                                       \
	do {                                                                 \
		const char *t_a_ = (a), *t_b_ = (b);                         \
		if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) \
			t_fail(__FILE__, __LINE__,                           \
			    "%s == %s (\"%s\" != \"%s\")", #a, #b,           \
			    t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); \
	} while (0)

#define T_EQ_MEM(a, alen, b, blen) \
	t_eq_mem(__FILE__, __LINE__, #a " == " #b, (a), (alen), (b), (blen))

#endif
