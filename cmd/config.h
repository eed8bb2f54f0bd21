/* SPDX-License-Identifier: ISC */
/*
 * config.h - the configuration file, read into a plain struct config.
 *
 * ferry's configuration is one YAML file (by default
 * $XDG_CONFIG_HOME/ferry/config.yaml; sample.yaml documents every key).
 * config.c is the only file that knows YAML: everything else sees the
 * structs below, with every default already applied, every enum already
 * checked and every path already absolute (or relative to the current
 * directory, see config_load_mem()).
 *
 * The loader is strict: unknown keys, wrong types, duplicates, bad values
 * and missing required keys are errors of kind ERR_CONFIG whose message
 * names the file, the line and the key, as in
 *   config.yaml:7: stores.work.port: expected a number from 1 to 65535,
 *   got "99999"
 *
 * A channel pairs two stores, far and near, and says which folders go
 * which way (struct channel_conf).  Its folder patterns are matched with
 * config_folder_selected(), so that every part of ferry selects folders
 * the same way.
 *
 * Secrets: a store_conf records where its password comes from, not the
 * password itself, except for an inline "password:", which is kept (and
 * warned about).  config_get_password() fetches the secret when needed.
 *
 * Ownership: a struct config owns every string and array hanging off it;
 * config_free() releases them all (and wipes an inline password).
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/sasl.h"

struct buf;
struct err;
struct oauth_conf;

enum conf_store_type {
	CONF_STORE_IMAP,
	CONF_STORE_MAILDIR,
};

enum conf_tls {
	CONF_TLS_IMPLICIT, /* TLS from the first byte (port 993) */
	CONF_TLS_STARTTLS, /* plain connect, then STARTTLS, which must work */
	CONF_TLS_NONE, /* no TLS at all */
};

enum conf_layout {
	CONF_LAYOUT_FS, /* folder a/b is the directory a/b */
	CONF_LAYOUT_MAILDIRPP, /* folder a/b is the directory .a.b */
};

enum conf_pass {
	CONF_PASS_NONE, /* no password configured */
	CONF_PASS_COMMAND, /* value: a shell command printing it */
	CONF_PASS_FILE, /* value: a resolved path; its first line */
	CONF_PASS_ENV, /* value: an environment variable's name */
	CONF_PASS_INLINE, /* value: the password itself */
};

struct imap_conf {
	char *host;
	unsigned port; /* default 993 (tls implicit) or 143 */
	enum conf_tls tls; /* default CONF_TLS_IMPLICIT */
	char *ca_file; /* resolved path, or NULL: system CAs */
	/* A pin on the certificate or its public key, both SHA-256. */
	unsigned char fingerprint[32];
	size_t fingerprint_len; /* 0: no pin, else 32 */
	char *tls_name; /* name to verify; defaults to a copy of host */
	char *user;
	enum conf_pass pass_source;
	char *pass; /* see enum conf_pass; NULL with CONF_PASS_NONE */
	bool allow_plaintext; /* default false */
	/*
	 * "auth:": SASL mechanisms in order of preference, no duplicates;
	 * nauth 0: the strongest the server offers that the credentials
	 * allow.  The password (any source above) is the OTP pass phrase.
	 */
	enum sasl_mech auth[SASL_MECH_COUNT];
	size_t nauth;
	char *oauth_token_command; /* prints an OAuth2 access token; NULL */
	struct oauth_conf *oauth; /* "oauth:" refresh settings (cmd/oauth.h) */
	unsigned connections; /* per account, 1..32; default 4 */
	unsigned timeout; /* seconds, 1..3600; default 30 */
};

struct maildir_conf {
	char *path; /* resolved path (see config_load_mem) */
	enum conf_layout layout; /* default CONF_LAYOUT_FS */
};

struct store_conf {
	char *name; /* [A-Za-z0-9_.-], not starting with '.' or '-' */
	unsigned line; /* where the store is defined */
	enum conf_store_type type;
	struct imap_conf imap; /* with CONF_STORE_IMAP; else zeroed */
	struct maildir_conf maildir; /* with CONF_STORE_MAILDIR; else zeroed */
};

/* Which way a channel carries changes.  Names: config_mode_name(). */
enum conf_mode {
	CONF_MODE_TWO_WAY, /* both ways; the default */
	CONF_MODE_PULL, /* far to near; nothing is deleted */
	CONF_MODE_PUSH, /* near to far; nothing is deleted */
	CONF_MODE_MIRROR_PULL, /* near becomes a copy of far */
	CONF_MODE_MIRROR_PUSH, /* far becomes a copy of near */
};

/* An explicit folder rename: far is called near on the near side. */
struct conf_rename {
	char *far;
	char *near;
};

/*
 * A channel.  Invariants after loading: far and near name two different
 * stores of the config, at least one of them IMAP; nfolders >= 1 and at
 * least one pattern includes; no rename has an empty name, and no two
 * share a far or a near name; every rename's far folder is selected;
 * no two channels share a state file.
 */
struct channel_conf {
	char *name; /* [A-Za-z0-9_.-], not starting with '.' or '-' */
	unsigned line; /* where the channel is defined */
	char *far; /* store names, validated to exist */
	char *near;
	enum conf_mode mode; /* default CONF_MODE_TWO_WAY */
	/*
	 * Patterns on far folder names, as written ("!" and all), applied
	 * in order by config_folder_selected(); default a single "*".
	 */
	char **folders;
	size_t nfolders;
	bool create; /* create missing folders; default true */
	bool expunge; /* propagate deletions; default false, never with
			 pull or push */
	/*
	 * The state database: an absolute path (or one relative to the
	 * current directory, see config_load_mem()) without repeated '/'
	 * or "." parts.  Default: $XDG_STATE_HOME/ferry/<name>.db when
	 * XDG_STATE_HOME is absolute, else ~/.local/state/ferry/<name>.db,
	 * as the environment was at load time.
	 */
	char *state;
	unsigned brake_percent; /* 1..100; default 25 */
	unsigned brake_min; /* 0..CONFIG_MAX_BRAKE_MIN; default 10 */
	struct conf_rename *renames; /* in file order */
	size_t nrenames;
};

struct config {
	char *path; /* the file, as named in messages */
	char *dir; /* relative paths were resolved against it; may be NULL */
	struct store_conf *stores; /* in file order */
	size_t nstores;
	struct channel_conf *channels; /* in file order; none is fine */
	size_t nchannels;
};

/* Bounds on the input. */
#define CONFIG_MAX_FILE (1024 * 1024) /* bytes in the file */
#define CONFIG_MAX_DEPTH 16 /* nested mappings and lists */
#define CONFIG_MAX_STRING 4096 /* bytes in one string value */
#define CONFIG_MAX_STORES 512
#define CONFIG_MAX_CHANNELS 512
#define CONFIG_MAX_PATTERNS 256 /* folder patterns in one channel */
#define CONFIG_MAX_RENAMES 1024 /* renames in one channel */
#define CONFIG_MAX_BRAKE_MIN 1000000
#define CONFIG_MAX_SECRET 8192 /* bytes of a fetched password */
#define CONFIG_MAX_TOKEN 16384 /* bytes of a fetched OAuth2 token */

/*
 * config_load(path, out, err):
 * Read and check the configuration file at path into *out.  Relative
 * paths in it are resolved against the file's directory.  Return 0, or
 * -1 with err set (ERR_CONFIG) and *out zeroed.  Release *out with
 * config_free().
 */
int config_load(const char *path, struct config *out, struct err *err)
    __attribute__((warn_unused_result));

/*
 * config_load_mem(data, len, name, base_dir, out, err):
 * Like config_load() on a file holding data[0..len): name is the file
 * name used in messages, and base_dir the directory relative paths are
 * resolved against (NULL: they stay relative to the current directory).
 */
int config_load_mem(const char *data, size_t len, const char *name,
    const char *base_dir, struct config *out, struct err *err)
    __attribute__((warn_unused_result));

/* Release everything *cfg owns and zero it; safe on a zeroed config. */
void config_free(struct config *cfg);

/* The store called name, or NULL. */
const struct store_conf *config_store(
    const struct config *cfg, const char *name);

/* The channel called name, or NULL. */
const struct channel_conf *config_channel(
    const struct config *cfg, const char *name);

/*
 * config_folder_selected(ch, folder):
 * Whether the channel syncs the folder with the given far name (UTF-8,
 * levels separated by '/').  Each pattern of ch->folders that matches
 * (config_glob_match()) decides, the last one winning: a pattern
 * starting with '!' excludes, any other includes.  A folder no pattern
 * matches is not selected.
 */
bool config_folder_selected(const struct channel_conf *ch, const char *folder);

/*
 * config_glob_match(pattern, name):
 * Whether the whole of name matches pattern, byte by byte, where '*'
 * matches any run of bytes (including '/') and '%' any run without a
 * '/'; every other byte, '!' included, matches only itself.  Takes
 * O(strlen(pattern) * strlen(name)) time whatever the input, and memory
 * in proportion to the pattern.
 */
bool config_glob_match(const char *pattern, const char *name);

/*
 * config_get_password(store, out, err):
 * Fetch the password of an IMAP store and append it to out: run its
 * password_command with /bin/sh -c (standard output, minus one trailing
 * newline, is the password; standard input and error stay the
 * terminal's), read the first line of its password_file (with a warning
 * when the file is readable by group or others), read the environment
 * variable named by password_env, or copy the inline password.  Return
 * 0, or -1 with err set: ERR_AUTH when the command fails or prints
 * nothing, ERR_CONFIG for the other failures, ERR_LIMIT when out is too
 * small.  Messages name the store and never contain the secret.  The
 * caller wipes out (explicit_bzero) when done with it; an out buffer
 * reserved in advance never holds stale copies in freed memory.
 */
int config_get_password(const struct store_conf *store, struct buf *out,
    struct err *err) __attribute__((warn_unused_result));

/*
 * config_get_credential(store, kind, out, err):
 * Append what a SASL mechanism needs to out: the password (or OTP pass
 * phrase) as config_get_password(), or for SASL_CRED_TOKEN the output of
 * oauth_token_command (run afresh on every call; one trailing newline
 * dropped); nothing for SASL_CRED_NONE.  Return 0, or -1 with err as
 * config_get_password().
 */
int config_get_credential(const struct store_conf *store, enum sasl_cred kind,
    struct buf *out, struct err *err) __attribute__((warn_unused_result));

/*
 * config_run_command(prefix, key, cmdline, out, err):
 * Run cmdline with /bin/sh -c and append its output, one line without
 * the newline, to out (at most CONFIG_MAX_TOKEN bytes).  Messages name
 * "prefix.key" and never hold the output.  Return 0, or -1 with err
 * (ERR_AUTH when the command fails or prints nothing usable).
 */
int config_run_command(const char *prefix, const char *key, const char *cmdline,
    struct buf *out, struct err *err) __attribute__((warn_unused_result));

/* Which credential kinds the store has (1u << enum sasl_cred). */
unsigned config_credentials(const struct store_conf *store);

/*
 * config_default_path(out):
 * Append the default configuration file path to out:
 * $XDG_CONFIG_HOME/ferry/config.yaml when XDG_CONFIG_HOME is an absolute
 * path, else $HOME/.config/ferry/config.yaml.  Return 0, or -1 when
 * neither variable helps or out is too small.
 */
int config_default_path(struct buf *out) __attribute__((warn_unused_result));

/* Names as written in the file, for messages and "ferry check". */
const char *config_store_type_name(enum conf_store_type);
const char *config_tls_name(enum conf_tls);
const char *config_layout_name(enum conf_layout);
const char *config_pass_name(enum conf_pass);
const char *config_mode_name(enum conf_mode);

#endif
