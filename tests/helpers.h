/* SPDX-License-Identifier: ISC */
/*
 * helpers.h - shared test helpers (see helpers.c).
 */
#ifndef FERRY_TEST_HELPERS_H
#define FERRY_TEST_HELPERS_H

/* The environment variable's value, or NULL when unset or empty. */
const char *th_env(const char *);
/* Skip the current test loudly unless a private Dovecot is running. */
void th_need_dovecot(void);

#endif
