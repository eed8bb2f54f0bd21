/* SPDX-License-Identifier: ISC */
/*
 * main.c - ferry's command line: global options, then one subcommand.
 *
 * The global options (-c, -v, -q) come before the subcommand; each
 * subcommand parses the rest of the line itself.  A subcommand returns an
 * exit status from exitcode.h.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/exitcode.h"
#include "util/log.h"

static const struct command commands[] = {
    {"sync", "sync channels (-n: only print the plan)", cmd_sync},
    {"check", "connect to a store and show what ferry sees", cmd_check},
    {"version", "print the version", cmd_version},
    {"help", "show this help", cmd_help},
};

static const size_t ncommands = sizeof(commands) / sizeof(commands[0]);

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ferry [-hqVv] [-c file] command [argument ...]\n"
		   "\n"
		   "Options:\n"
		   "  -c file   configuration file (default:"
		   " $XDG_CONFIG_HOME/ferry/config.yaml)\n"
		   "  -h        show this help\n"
		   "  -q        quiet: errors only\n"
		   "  -V        print the version\n"
		   "  -v        verbose; -vv adds an IMAP trace with secrets "
		   "redacted\n"
		   "\n"
		   "Commands:\n");
	for (i = 0; i < ncommands; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
}

int
cmd_version(struct cmd_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	printf("ferry %s\n", FERRY_VERSION);
	return EXIT_OK;
}

int
cmd_help(struct cmd_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	usage(stdout);
	return EXIT_OK;
}

/* Parse the global options; return the index of the command or -1. */
static int
global_options(struct cmd_ctx *ctx, int argc, char **argv)
{
	int i, verbose = 0;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return i + 1;
		if (strcmp(a, "--help") == 0)
			a = "-h";
		else if (strcmp(a, "--version") == 0)
			a = "-V";
		else if (a[1] == '-') {
			fprintf(stderr, "ferry: unknown option '%s'\n", a);
			return -1;
		}
		for (a++; *a != '\0'; a++) {
			switch (*a) {
			case 'c':
				if (a[1] != '\0')
					ctx->config_path = a + 1;
				else if (i + 1 < argc)
					ctx->config_path = argv[++i];
				else {
					fprintf(stderr,
					    "ferry: -c needs a file name\n");
					return -1;
				}
				a = " "; /* rest of the word consumed */
				break;
			case 'h':
				ctx->help = 1;
				break;
			case 'V':
				ctx->version = 1;
				break;
			case 'q':
				ctx->quiet = 1;
				break;
			case 'v':
				verbose++;
				break;
			default:
				fprintf(stderr, "ferry: unknown option '-%c'\n",
				    *a);
				return -1;
			}
			if (*a == ' ')
				break;
		}
	}
	ctx->verbose = verbose;
	return i;
}

int
main(int argc, char **argv)
{
	struct cmd_ctx ctx = {0};
	int first;
	size_t i;

	if ((first = global_options(&ctx, argc, argv)) == -1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (ctx.quiet)
		log_set_level(LOG_ERROR);
	else if (ctx.verbose >= 2)
		log_set_level(LOG_TRACE);
	else if (ctx.verbose == 1)
		log_set_level(LOG_DEBUG);
	if (ctx.version)
		return cmd_version(&ctx, 0, NULL);
	if (ctx.help) {
		usage(stdout);
		return EXIT_OK;
	}
	if (first >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < ncommands; i++)
		if (strcmp(argv[first], commands[i].name) == 0)
			return commands[i].fn(&ctx, argc - first, argv + first);
	fprintf(stderr, "ferry: unknown command '%s' (see 'ferry --help')\n",
	    argv[first]);
	return EXIT_USAGE;
}
