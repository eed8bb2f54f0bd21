/* SPDX-License-Identifier: ISC */
/*
 * helpers.c - what several test programs need: the private Dovecot's
 * settings from the environment that tests/dovecot.sh exports.
 */
#include "helpers.h"

#include <stdlib.h>

#include "t.h"

const char *
th_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void
th_need_dovecot(void)
{
	if (th_env("FERRY_IMAPS_PORT") == NULL || th_env("FERRY_CA") == NULL)
		t_skip("no Dovecot: run under tests/dovecot.sh");
}
