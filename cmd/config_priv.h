/* SPDX-License-Identifier: ISC */
/*
 * config_priv.h - what config.c shares with config_channel.c.
 *
 * The loader is split in two files: config.c reads YAML into a tree of
 * struct ynode and checks the top level and the stores; config_channel.c
 * checks the "channels:" section and matches folder patterns.  Only
 * config.c includes <yaml.h>: the tree below is ours, so the channel code
 * never sees a libyaml type.  Nothing outside cmd/config*.c includes this
 * header.
 *
 * Ownership: the tree belongs to config_load_mem(), which frees it before
 * returning; the walk copies what it keeps into struct config.  Every
 * conf_get_*() helper either stores a fresh heap string the caller owns
 * or leaves *out alone and returns -1 with the error set.
 */
#ifndef FERRY_CONFIG_PRIV_H
#define FERRY_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct err;

#define CONF_MAX_NAME 64 /* bytes in a store or channel name */
#define CONF_RENDER_MAX 40 /* bytes of a value quoted in a message */
/* Room for conf_render() of CONF_RENDER_MAX bytes, escapes and "...". */
#define CONF_RENDER_SIZE (CONF_RENDER_MAX * 4 + 8)

enum ynode_kind {
	YN_SCALAR,
	YN_LIST,
	YN_MAP,
};

/* One YAML node.  Invariant: a map has an even nkids. */
struct ynode {
	enum ynode_kind kind;
	unsigned line;
	bool plain; /* a scalar written without quotes */
	char *text; /* scalar: NUL-terminated copy; may hold NULs */
	size_t len;
	struct ynode **kids; /* list items; map keys and values alternate */
	size_t nkids;
};

/* The state of the schema walk. */
struct ctx {
	const char *file; /* the file, as named in messages */
	const char *dir; /* relative paths go under it; may be NULL */
	struct err *err;
	char key[320]; /* dotted path of the key at hand */
	size_t keylen;
};

/*
 * conf_error(c, line, fmt, ...):
 * Set c->err to ERR_CONFIG "file:line: key: text" ("file:line: text" at
 * the top level, where the key path is empty) and return -1.
 */
int conf_error(struct ctx *, unsigned, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* "expected <what>, got <a description of v>"; return -1. */
int conf_expected(struct ctx *, const struct ynode *, const char *what);

/*
 * Write s[0..len) into dst[0..size) for a message: printable ASCII as
 * is, quotes and backslashes escaped, other bytes as \xNN, cut after
 * CONF_RENDER_MAX bytes with "...".  size is at least CONF_RENDER_SIZE.
 */
void conf_render(char *dst, size_t size, const char *s, size_t len);

/* Append ".name" to the key path; return the length to pass to pop. */
size_t conf_key_push(struct ctx *, const char *, size_t);
void conf_key_pop(struct ctx *, size_t);

/* A plain ~, null or empty scalar. */
bool conf_is_null(const struct ynode *);

/*
 * The value readers: each checks v and stores the result in *out, or
 * returns -1 with an error naming the key at hand.  conf_get_str() wants
 * a non-empty string without NUL bytes and never echoes it (it may be a
 * secret); conf_get_uint() an unquoted decimal in [min, max];
 * conf_get_bool() an unquoted true or false; conf_get_enum() one of
 * names[0..n), stored as its index.
 */
int conf_get_str(struct ctx *, const struct ynode *, char **out);
int conf_get_uint(struct ctx *, const struct ynode *, unsigned min,
    unsigned max, unsigned *out);
int conf_get_bool(struct ctx *, const struct ynode *, bool *out);
int conf_get_enum(struct ctx *, const struct ynode *, const char *const *names,
    size_t n, int *out);

/*
 * conf_expand_path(c, line, s, out):
 * Expand a leading "~" or "~/" with $HOME and put a relative s under
 * c->dir; store the new string in *out.  Return 0, or -1 with an error
 * at line.
 */
int conf_expand_path(struct ctx *, unsigned line, const char *s, char **out);

/*
 * A name of at most CONF_MAX_NAME bytes of [A-Za-z0-9_.-], not starting
 * with '.' or '-', as stores and channels have.
 */
bool conf_valid_name(const char *, size_t);
/*
 * The key k of a "stores:" or "channels:" entry (what: "store",
 * "channel"): a string, a valid name, not a duplicate (dup_line: where
 * the same name was defined first, or 0), and not more than max entries.
 * Push it onto the key path (*old_out for conf_key_pop); 0, or -1 with
 * the error reported.
 */
int conf_entry_name(struct ctx *, const struct ynode *, const char *what,
    unsigned dup_line, size_t count, size_t max, size_t *old_out);

/*
 * conf_parse_channels(c, v, cfg):
 * Check the value v of "channels:" and fill cfg->channels.  The stores
 * must already be in cfg.  Return 0 or -1 with the error set; on -1,
 * what was added is still owned by cfg (config_free() releases it).
 */
int conf_parse_channels(struct ctx *, const struct ynode *, struct config *);

/* Release cfg->channels and what hangs off it; set them to empty. */
void conf_channels_free(struct config *);

#endif
