/* SPDX-License-Identifier: ISC */
/*
 * cmd.h - the subcommands and what they share.
 *
 * Each subcommand gets the global options in a struct cmd_ctx and its own
 * argument vector (argv[0] is the command name) and returns an exit status
 * from exitcode.h.  Subcommands report their errors themselves: they are
 * the layer that decides.
 */
#ifndef FERRY_CMD_H
#define FERRY_CMD_H

struct cmd_ctx {
	const char *config_path; /* -c, or NULL for the default */
	int verbose; /* count of -v */
	int quiet;
	int help;
	int version;
};

struct command {
	const char *name;
	const char *help;
	int (*fn)(struct cmd_ctx *, int, char **);
};

struct config;
struct err;
struct imap_auth;
struct imap_client;
struct loop;
struct store_conf;

int cmd_version(struct cmd_ctx *, int, char **);
int cmd_help(struct cmd_ctx *, int, char **);
int cmd_check(struct cmd_ctx *, int, char **);
int cmd_sync(struct cmd_ctx *, int, char **);

/* Load -c FILE, or the default file; 0, or -1 with err (ERR_CONFIG). */
int cmd_load_config(const struct cmd_ctx *, struct config *, struct err *);
/* A client for an IMAP store, not yet connected; NULL with err. */
/* Strings an imap_client_opts points into, owned by the caller. */
struct cmd_client_strs {
	char port[8];
	char fp[8 + 64];
};
struct imap_client_opts;
/* The connection options of an IMAP store's configuration. */
void cmd_client_opts(const struct store_conf *, struct imap_client_opts *,
    struct cmd_client_strs *);
struct imap_client *cmd_imap_client(
    struct loop *, const struct store_conf *, struct err *);
/*
 * How to log in to an IMAP store: its auth: list, the credential kinds it
 * has, and a callback fetching them (config_get_credential()).  Strings
 * are borrowed from the store, which must outlive *out.
 */
void cmd_imap_auth(const struct store_conf *, struct imap_auth *out);
/* The exit status for an error of this kind (exitcode.h). */
int cmd_exit_for(const struct err *);

#endif
