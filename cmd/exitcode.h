/* SPDX-License-Identifier: ISC */
/*
 * exitcode.h - ferry's exit statuses, one per kind of outcome, so that a
 * script (cron, a migration wrapper) can tell what happened without
 * parsing messages.  README.md lists them; keep the two in step.
 */
#ifndef FERRY_EXITCODE_H
#define FERRY_EXITCODE_H

enum exit_code {
	EXIT_OK = 0, /* everything done */
	EXIT_PARTIAL = 1, /* done, but something was skipped: rerun */
	EXIT_CONFIG = 2, /* the configuration file is wrong */
	EXIT_CONN = 3, /* could not connect, or lost the server */
	EXIT_TLS = 4, /* TLS handshake or certificate check failed */
	EXIT_AUTH = 5, /* the server refused the credentials */
	EXIT_LOCKED = 6, /* another run holds the state lock */
	EXIT_FATAL = 7, /* protocol violation, system error, bug */
	EXIT_USAGE = 64, /* bad command line */
};

#endif
