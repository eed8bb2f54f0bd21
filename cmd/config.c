/* SPDX-License-Identifier: ISC */
/*
 * config.c - the configuration file: YAML in, struct config out.
 *
 * This is the only file that includes <yaml.h>.  Loading has two steps:
 *
 *   1. libyaml's event parser turns the text into a small tree of
 *      struct ynode (scalars, lists, mappings, each with its line).
 *      This step enforces the bounds (file size, nesting depth, node
 *      count) and refuses what the format does not need: anchors,
 *      aliases, tags, and more than one document.
 *   2. A walk over the tree checks it against the schema below and fills
 *      in a struct config: every key known, every value of the right
 *      type and range, no duplicates, required keys present, defaults
 *      applied, paths resolved.  Every error names file, line and key.
 *
 * The "channels:" section is checked in config_channel.c, which shares
 * the tree type and the value readers through config_priv.h.  The tree
 * is freed before config_load_mem() returns; struct config holds only
 * plain C strings.  config_get_password() fetches a store's
 * secret from the source the file names, and wipes its own copies.
 */
#include "cmd/config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yaml.h>

#include "cmd/config_priv.h"
#include "cmd/oauth.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

#define MAX_NODES 100000 /* YAML nodes in one file */

/* Step 1: the YAML tree (struct ynode, in config_priv.h). */

struct loader {
	yaml_parser_t parser;
	const char *name; /* file name for messages */
	const char *data;
	size_t len;
	size_t nnodes;
	struct err *err;
};

static void
ynode_free(struct ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static unsigned
line_at_offset(const struct loader *l, size_t off)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < off && i < l->len; i++)
		line += l->data[i] == '\n';
	return line;
}

/* Turn libyaml's error state into a message with file, line, column. */
static int
syntax_error(struct loader *l)
{
	const yaml_parser_t *p = &l->parser;
	const char *problem = p->problem ? p->problem : "unknown error";
	size_t at = p->problem_mark.index;
	const char *hint = "";

	if (p->error == YAML_MEMORY_ERROR)
		return err_set(
		    l->err, ERR_CONFIG, "%s: out of memory", l->name);
	if (p->error == YAML_READER_ERROR)
		return err_set(l->err, ERR_CONFIG, "%s:%u: %s at byte %zu",
		    l->name, line_at_offset(l, p->problem_offset), problem,
		    p->problem_offset);
	if (at < l->len && l->data[at] == '\t')
		hint = "; indent with spaces, not tabs";
	if (p->context)
		return err_set(l->err, ERR_CONFIG,
		    "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu)%s",
		    l->name, p->problem_mark.line + 1,
		    p->problem_mark.column + 1, problem, p->context,
		    p->context_mark.line + 1, hint);
	return err_set(l->err, ERR_CONFIG,
	    "%s:%zu:%zu: YAML syntax error: %s%s", l->name,
	    p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
	    hint);
}

static int
next_event(struct loader *l, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&l->parser, ev))
		return syntax_error(l);
	return 0;
}

static int
tree_error(struct loader *l, unsigned line, const char *what)
{
	return err_set(l->err, ERR_CONFIG, "%s:%u: %s", l->name, line, what);
}

/* Refuse what this format does without: anchors, aliases, tags. */
static int
check_node_event(struct loader *l, const yaml_event_t *ev, unsigned line)
{
	static const char no_anchors[] = "anchors and aliases (&name, *name) "
					 "are not supported; write each value "
					 "out";
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (ev->type == YAML_ALIAS_EVENT)
		return tree_error(l, line, no_anchors);
	if (ev->type == YAML_SCALAR_EVENT) {
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	} else if (ev->type == YAML_MAPPING_START_EVENT) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	}
	if (anchor != NULL)
		return tree_error(l, line, no_anchors);
	if (tag != NULL)
		return tree_error(l, line, "tags (!name) are not supported");
	if (++l->nnodes > MAX_NODES)
		return tree_error(l, line, "too many YAML nodes");
	return 0;
}

/*
 * Build the node that starts with event ev (still owned by the caller),
 * reading the events of its children.  depth counts enclosing
 * collections.
 */
static struct ynode *
build(struct loader *l, const yaml_event_t *ev, unsigned depth)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	yaml_event_type_t end = YAML_MAPPING_END_EVENT;
	struct ynode *n;

	if (check_node_event(l, ev, line) == -1)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->line = line;
	if (ev->type == YAML_SCALAR_EVENT) {
		n->kind = YN_SCALAR;
		n->len = ev->data.scalar.length;
		n->text = xstrndup((const char *)ev->data.scalar.value, n->len);
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		return n;
	}
	n->kind = YN_MAP;
	if (ev->type == YAML_SEQUENCE_START_EVENT) {
		n->kind = YN_LIST;
		end = YAML_SEQUENCE_END_EVENT;
	}
	if (depth >= CONFIG_MAX_DEPTH) {
		tree_error(l, line, "nested too deeply");
		goto out_free;
	}
	for (;;) {
		yaml_event_t kid;
		struct ynode *k;

		if (next_event(l, &kid) == -1)
			goto out_free;
		if (kid.type == end) {
			yaml_event_delete(&kid);
			break;
		}
		k = build(l, &kid, depth + 1);
		yaml_event_delete(&kid);
		if (k == NULL)
			goto out_free;
		n->kids =
		    xreallocarray(n->kids, n->nkids + 1, sizeof(*n->kids));
		n->kids[n->nkids++] = k;
	}
	return n;

out_free:
	ynode_free(n);
	return NULL;
}

/*
 * Parse the whole stream: exactly one document, or none at all (then
 * *root_out is NULL).
 */
static int
load_tree(struct loader *l, struct ynode **root_out)
{
	struct ynode *root;
	yaml_event_t ev;
	unsigned line;

	*root_out = NULL;
	if (next_event(l, &ev) == -1) /* stream start */
		return -1;
	yaml_event_delete(&ev);
	if (next_event(l, &ev) == -1)
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev); /* document start */
	if (next_event(l, &ev) == -1)
		return -1;
	root = build(l, &ev, 0);
	yaml_event_delete(&ev);
	if (root == NULL)
		return -1;
	if (next_event(l, &ev) == -1) /* document end */
		goto out_free;
	yaml_event_delete(&ev);
	if (next_event(l, &ev) == -1)
		goto out_free;
	line = (unsigned)ev.start_mark.line + 1;
	if (ev.type != YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		tree_error(l, line, "only one YAML document is allowed");
		goto out_free;
	}
	yaml_event_delete(&ev);
	*root_out = root;
	return 0;

out_free:
	ynode_free(root);
	return -1;
}

/*
 * Step 2: the schema walk, and its messages.  The helpers that
 * config_channel.c shares are declared, with their contracts, in
 * config_priv.h.
 */

void
conf_render(char *dst, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && i < CONF_RENDER_MAX && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			o += (size_t)snprintf(dst + o, size - o, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
	}
	if (i < len)
		o += (size_t)snprintf(dst + o, size - o, "...");
	dst[o] = '\0';
}

size_t
conf_key_push(struct ctx *c, const char *s, size_t len)
{
	size_t old = c->keylen;
	char r[CONF_RENDER_SIZE];

	conf_render(r, sizeof(r), s, len);
	snprintf(c->key + old, sizeof(c->key) - old, "%s%s", old ? "." : "", r);
	c->keylen = strlen(c->key);
	return old;
}

void
conf_key_pop(struct ctx *c, size_t old)
{
	c->keylen = old;
	c->key[old] = '\0';
}

int
conf_error(struct ctx *c, unsigned line, const char *fmt, ...)
{
	char text[sizeof(c->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (c->keylen == 0)
		return err_set(
		    c->err, ERR_CONFIG, "%s:%u: %s", c->file, line, text);
	return err_set(
	    c->err, ERR_CONFIG, "%s:%u: %s: %s", c->file, line, c->key, text);
}

bool
conf_is_null(const struct ynode *v)
{
	return v->kind == YN_SCALAR && v->plain &&
	       (v->len == 0 || strcmp(v->text, "~") == 0 ||
		   strcmp(v->text, "null") == 0 ||
		   strcmp(v->text, "Null") == 0 ||
		   strcmp(v->text, "NULL") == 0);
}

/*
 * Describe what v is, for "expected X, got Y"; typed: X is a number or a
 * boolean, which quotes would make a string.
 */
static const char *
describe(const struct ynode *v, bool typed, char *buf, size_t size)
{
	char r[CONF_RENDER_SIZE];

	if (v->kind == YN_LIST)
		return "a list";
	if (v->kind == YN_MAP)
		return "a mapping";
	if (conf_is_null(v))
		return "nothing";
	conf_render(r, sizeof(r), v->text, v->len);
	snprintf(
	    buf, size, "%s\"%s\"", typed && !v->plain ? "the string " : "", r);
	return buf;
}

static int
expected_typed(
    struct ctx *c, const struct ynode *v, bool typed, const char *what)
{
	char buf[CONF_RENDER_MAX * 4 + 32];

	return conf_error(c, v->line, "expected %s, got %s", what,
	    describe(v, typed, buf, sizeof(buf)));
}

int
conf_expected(struct ctx *c, const struct ynode *v, const char *what)
{
	return expected_typed(c, v, false, what);
}

int
conf_get_str(struct ctx *c, const struct ynode *v, char **out)
{
	if (v->kind != YN_SCALAR || conf_is_null(v))
		return conf_expected(c, v, "a string");
	if (v->len == 0)
		return conf_error(c, v->line, "expected a non-empty string");
	if (v->len > CONFIG_MAX_STRING)
		return conf_error(
		    c, v->line, "longer than %d bytes", CONFIG_MAX_STRING);
	if (memchr(v->text, '\0', v->len) != NULL)
		return conf_error(c, v->line, "contains a NUL byte");
	*out = xstrndup(v->text, v->len);
	return 0;
}

/* A string without spaces or control characters (host names, users). */
static int
get_word(struct ctx *c, const struct ynode *v, char **out)
{
	size_t i;

	if (conf_get_str(c, v, out) == -1)
		return -1;
	for (i = 0; i < v->len; i++) {
		unsigned char ch = (unsigned char)v->text[i];

		if (ch <= 0x20 || ch == 0x7f)
			return conf_error(c, v->line,
			    "contains a space or control character");
	}
	return 0;
}

/* Without leading zeros, which YAML 1.1 would read as octal. */
int
conf_get_uint(struct ctx *c, const struct ynode *v, unsigned min, unsigned max,
    unsigned *out)
{
	char what[64];
	uint64_t n;

	if (v->kind != YN_SCALAR || !v->plain || v->len == 0 ||
	    (v->text[0] == '0' && v->len > 1) ||
	    !str_to_u64(str_make(v->text, v->len), max, &n) || n < min) {
		snprintf(
		    what, sizeof(what), "a number from %u to %u", min, max);
		return expected_typed(c, v, true, what);
	}
	*out = (unsigned)n;
	return 0;
}

int
conf_get_bool(struct ctx *c, const struct ynode *v, bool *out)
{
	if (v->kind == YN_SCALAR && v->plain && strcmp(v->text, "true") == 0)
		*out = true;
	else if (v->kind == YN_SCALAR && v->plain &&
		 strcmp(v->text, "false") == 0)
		*out = false;
	else
		return expected_typed(c, v, true, "true or false");
	return 0;
}

int
conf_get_enum(struct ctx *c, const struct ynode *v, const char *const *names,
    size_t n, int *out)
{
	char what[128] = "";
	size_t i, o = 0;

	for (i = 0; v->kind == YN_SCALAR && i < n; i++) {
		if (strcmp(v->text, names[i]) == 0 &&
		    strlen(names[i]) == v->len) {
			*out = (int)i;
			return 0;
		}
	}
	for (i = 0; i < n && o < sizeof(what); i++)
		o += (size_t)snprintf(what + o, sizeof(what) - o, "%s%s",
		    i == 0       ? ""
		    : i + 1 == n ? " or "
				 : ", ",
		    names[i]);
	return conf_expected(c, v, what);
}

int
conf_expand_path(struct ctx *c, unsigned line, const char *s, char **out)
{
	const char *home;
	size_t hl;

	if (s[0] == '~') {
		if (s[1] != '\0' && s[1] != '/')
			return conf_error(c, line,
			    "~user is not supported; write ~/ or a full path");
		home = getenv("HOME");
		if (home == NULL || home[0] != '/')
			return conf_error(c, line,
			    "cannot expand ~: HOME is not an absolute path");
		hl = strlen(home);
		while (hl > 1 && home[hl - 1] == '/')
			hl--;
		if (hl == 1 && s[1] == '/')
			hl = 0; /* HOME=/ and ~/x: /x, not //x */
		*out = xasprintf("%.*s%s", (int)hl, home, s + 1);
	} else if (s[0] == '/' || c->dir == NULL) {
		*out = xstrdup(s);
	} else {
		*out = xasprintf("%s/%s", c->dir, s);
	}
	return 0;
}

static int
get_path(struct ctx *c, const struct ynode *v, char **out)
{
	char *s = NULL;
	int r;

	if (conf_get_str(c, v, &s) == -1)
		return -1;
	r = conf_expand_path(c, v->line, s, out);
	free(s);
	return r;
}

/* The store keys.  The channel keys are in config_channel.c. */

static const char *const store_type_names[] = {"imap", "maildir"};
static const char *const tls_names[] = {"implicit", "starttls", "none"};
static const char *const layout_names[] = {"fs", "maildir++"};

static int
set_host(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return get_word(c, v, &s->imap.host);
}

static int
set_port(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return conf_get_uint(c, v, 1, 65535, &s->imap.port);
}

static int
set_tls(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	int i;

	if (conf_get_enum(c, v, tls_names, 3, &i) == -1)
		return -1;
	s->imap.tls = (enum conf_tls)i;
	return 0;
}

static int
set_ca_file(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return get_path(c, v, &s->imap.ca_file);
}

static int
set_fingerprint(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	struct imap_conf *ic = &s->imap;

	if (v->kind != YN_SCALAR ||
	    fingerprint_parse(str_make(v->text, v->len), ic->fingerprint) == -1)
		return conf_expected(
		    c, v, "\"sha256:\" and 64 hex digits (colons allowed)");
	ic->fingerprint_len = FINGERPRINT_LEN;
	return 0;
}

static int
set_tls_name(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return get_word(c, v, &s->imap.tls_name);
}

static int
set_user(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return conf_get_str(c, v, &s->imap.user);
}

static int
set_pass_command(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	s->imap.pass_source = CONF_PASS_COMMAND;
	return conf_get_str(c, v, &s->imap.pass);
}

static int
set_pass_file(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	s->imap.pass_source = CONF_PASS_FILE;
	return get_path(c, v, &s->imap.pass);
}

static int
set_pass_env(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	size_t i;

	s->imap.pass_source = CONF_PASS_ENV;
	if (conf_get_str(c, v, &s->imap.pass) == -1)
		return -1;
	for (i = 0; i < v->len; i++) {
		char ch = v->text[i];

		if (!(ch == '_' || (ch >= 'A' && ch <= 'Z') ||
			(ch >= 'a' && ch <= 'z') ||
			(i > 0 && ch >= '0' && ch <= '9')))
			return conf_expected(
			    c, v, "an environment variable name");
	}
	return 0;
}

static int
set_pass_inline(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	s->imap.pass_source = CONF_PASS_INLINE;
	if (conf_get_str(c, v, &s->imap.pass) == -1)
		return -1;
	log_warn("%s:%u: %s: the password is written in the config file; "
		 "prefer password_command or password_file",
	    c->file, v->line, c->key);
	return 0;
}

static int
set_allow_plaintext(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return conf_get_bool(c, v, &s->imap.allow_plaintext);
}

/* "auth: [scram-sha-256, plain]", or one name. */
static int
set_auth(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	struct imap_conf *ic = &s->imap;
	const struct ynode *one = v;
	size_t i, j, n = v->kind == YN_LIST ? v->nkids : 1;
	enum sasl_mech m;

	if (v->kind == YN_MAP || n == 0 || n > SASL_MECH_COUNT)
		return conf_expected(c, v, "a list of SASL mechanism names");
	for (i = 0; i < n; i++) {
		if (v->kind == YN_LIST)
			one = v->kids[i];
		if (one->kind != YN_SCALAR)
			return conf_expected(c, one, "a mechanism name");
		if (strcasecmp(one->text, "kerberos_v4") == 0 ||
		    strcasecmp(one->text, "kerberos-v4") == 0)
			return conf_error(c, one->line,
			    "KERBEROS_V4 is not supported: no maintained "
			    "server or library offers it; use gssapi");
		if (sasl_mech_parse(one->text, &m) == -1)
			return conf_expected(c, one,
			    "one of plain, login, cram-md5, scram-sha-1, "
			    "scram-sha-256, xoauth2, oauthbearer, gssapi, otp");
		for (j = 0; j < ic->nauth; j++)
			if (ic->auth[j] == m)
				return conf_error(c, one->line,
				    "%s is listed twice", sasl_mech_name(m));
		ic->auth[ic->nauth++] = m;
	}
	return 0;
}

/* One key of the oauth: mapping. */
static int
oauth_key(struct ctx *c, const struct ynode *k, const struct ynode *v,
    struct oauth_conf *o)
{
	static const char *const providers[] = {"google", "microsoft"};
	int i;

	if (k->kind != YN_SCALAR)
		return conf_error(c, k->line, "keys must be strings");
	if (strcmp(k->text, "provider") == 0) {
		if (conf_get_enum(c, v, providers, 2, &i) == -1)
			return -1;
		if (o->token_url == NULL)
			o->token_url = xstrdup(
			    i == 0 ? OAUTH_GOOGLE_URL : OAUTH_MICROSOFT_URL);
		return 0;
	}
	if (strcmp(k->text, "token_url") == 0) {
		free(o->token_url);
		o->token_url = NULL;
		if (conf_get_str(c, v, &o->token_url) == -1)
			return -1;
		if (!oauth_url_ok(o->token_url))
			return conf_expected(
			    c, v, "an https URL (or http on 127.0.0.1)");
		return 0;
	}
	if (strcmp(k->text, "client_id") == 0 && o->client_id == NULL)
		return conf_get_str(c, v, &o->client_id);
	if (strcmp(k->text, "client_secret_command") == 0 &&
	    o->client_secret_command == NULL)
		return conf_get_str(c, v, &o->client_secret_command);
	if (strcmp(k->text, "refresh_token_command") == 0 &&
	    o->refresh_token_command == NULL)
		return conf_get_str(c, v, &o->refresh_token_command);
	return conf_error(c, k->line,
	    "unknown or repeated key; valid keys are: provider, token_url, "
	    "client_id, client_secret_command, refresh_token_command");
}

/* oauth: {provider | token_url, client_id, ..._command}. */
static int
set_oauth(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	struct oauth_conf *o;
	size_t i, old;

	if (v->kind != YN_MAP)
		return conf_expected(
		    c, v, "a mapping (provider, client_id, ...)");
	o = s->imap.oauth = xcalloc(1, sizeof(*o));
	for (i = 0; i < v->nkids; i += 2) {
		old = conf_key_push(c, v->kids[i]->text, v->kids[i]->len);
		if (oauth_key(c, v->kids[i], v->kids[i + 1], o) == -1)
			return -1;
		conf_key_pop(c, old);
	}
	if (o->token_url == NULL)
		return conf_error(c, v->line, "needs provider or token_url");
	if (o->client_id == NULL)
		return conf_error(c, v->line, "needs client_id");
	if (o->refresh_token_command == NULL)
		return conf_error(c, v->line, "needs refresh_token_command");
	return 0;
}

static int
set_oauth_command(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return conf_get_str(c, v, &s->imap.oauth_token_command);
}

static int
set_connections(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return conf_get_uint(c, v, 1, 32, &s->imap.connections);
}

static int
set_timeout(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return conf_get_uint(c, v, 1, 3600, &s->imap.timeout);
}

static int
set_path(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	return get_path(c, v, &s->maildir.path);
}

static int
set_layout(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	int i;

	if (conf_get_enum(c, v, layout_names, 2, &i) == -1)
		return -1;
	s->maildir.layout = (enum conf_layout)i;
	return 0;
}

enum {
	FOR_IMAP = 1u << CONF_STORE_IMAP,
	FOR_MAILDIR = 1u << CONF_STORE_MAILDIR,
	FOR_ALL = FOR_IMAP | FOR_MAILDIR,
};

enum key_flags {
	KEY_PASSWORD = 1u << 0, /* one of the exclusive password sources */
};

struct store_key {
	const char *name;
	unsigned types; /* FOR_* */
	unsigned flags; /* enum key_flags */
	int (*set)(struct ctx *, const struct ynode *, struct store_conf *);
};

/* In the order the messages list them; "type" is read before the rest. */
static const struct store_key store_keys[] = {
    {"type", FOR_ALL, 0, NULL},
    {"host", FOR_IMAP, 0, set_host},
    {"port", FOR_IMAP, 0, set_port},
    {"tls", FOR_IMAP, 0, set_tls},
    {"ca_file", FOR_IMAP, 0, set_ca_file},
    {"fingerprint", FOR_IMAP, 0, set_fingerprint},
    {"tls_name", FOR_IMAP, 0, set_tls_name},
    {"user", FOR_IMAP, 0, set_user},
    {"password_command", FOR_IMAP, KEY_PASSWORD, set_pass_command},
    {"password_file", FOR_IMAP, KEY_PASSWORD, set_pass_file},
    {"password", FOR_IMAP, KEY_PASSWORD, set_pass_inline},
    {"password_env", FOR_IMAP, KEY_PASSWORD, set_pass_env},
    {"allow_plaintext", FOR_IMAP, 0, set_allow_plaintext},
    {"auth", FOR_IMAP, 0, set_auth},
    {"oauth_token_command", FOR_IMAP, 0, set_oauth_command},
    {"oauth", FOR_IMAP, 0, set_oauth},
    {"connections", FOR_IMAP, 0, set_connections},
    {"timeout", FOR_IMAP, 0, set_timeout},
    {"path", FOR_MAILDIR, 0, set_path},
    {"layout", FOR_MAILDIR, 0, set_layout},
};

enum {
	NSTORE_KEYS = sizeof(store_keys) / sizeof(store_keys[0]),
};

/* Index of the store key called s[0..len), or -1. */
static int
find_store_key(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < NSTORE_KEYS; i++)
		if (strlen(store_keys[i].name) == len &&
		    memcmp(store_keys[i].name, s, len) == 0)
			return (int)i;
	return -1;
}

/* "type, host, ..." for stores of the given type. */
static const char *
valid_store_keys(enum conf_store_type type, char *buf, size_t size)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < NSTORE_KEYS && o < size; i++)
		if (store_keys[i].types & (1u << type))
			o += (size_t)snprintf(buf + o, size - o, "%s%s",
			    o ? ", " : "", store_keys[i].name);
	return buf;
}

/* Index of a password source key given already, or -1. */
static int
password_given(const unsigned *seen)
{
	size_t i;

	for (i = 0; i < NSTORE_KEYS; i++)
		if ((store_keys[i].flags & KEY_PASSWORD) && seen[i])
			return (int)i;
	return -1;
}

/*
 * Check and apply one "key: value" of store s; seen[i] is the line where
 * store_keys[i] was given, or 0.
 */
static int
store_key(struct ctx *c, const struct ynode *k, const struct ynode *v,
    struct store_conf *s, unsigned *seen)
{
	const char *a = s->type == CONF_STORE_IMAP ? "an" : "a";
	const char *tname = store_type_names[s->type];
	char valid[256];
	int idx, other;
	size_t old;

	if (k->kind != YN_SCALAR)
		return conf_error(c, k->line, "keys must be strings");
	old = conf_key_push(c, k->text, k->len);
	idx = find_store_key(k->text, k->len);
	if (idx < 0)
		return conf_error(c, k->line,
		    "unknown key; valid keys for %s %s store are: %s", a, tname,
		    valid_store_keys(s->type, valid, sizeof(valid)));
	if (!(store_keys[idx].types & (1u << s->type)))
		return conf_error(c, k->line,
		    "not valid for %s %s store; valid keys are: %s", a, tname,
		    valid_store_keys(s->type, valid, sizeof(valid)));
	if (seen[idx])
		return conf_error(c, k->line,
		    "duplicate key (first given at line %u)", seen[idx]);
	if ((store_keys[idx].flags & KEY_PASSWORD) &&
	    (other = password_given(seen)) >= 0)
		return conf_error(c, k->line,
		    "more than one password source (%s at line %u); keep "
		    "only one",
		    store_keys[other].name, seen[other]);
	seen[idx] = k->line;
	if (store_keys[idx].set && store_keys[idx].set(c, v, s) == -1)
		return -1;
	conf_key_pop(c, old);
	return 0;
}

/* Read the "type" key first, wherever it is: the others depend on it. */
static int
store_type(struct ctx *c, const struct ynode *map, struct store_conf *s)
{
	size_t i, old;
	int t;

	for (i = 0; i < map->nkids; i += 2) {
		const struct ynode *k = map->kids[i];

		if (k->kind != YN_SCALAR || strcmp(k->text, "type") != 0 ||
		    k->len != 4)
			continue;
		old = conf_key_push(c, "type", 4);
		if (conf_get_enum(
			c, map->kids[i + 1], store_type_names, 2, &t) == -1)
			return -1;
		conf_key_pop(c, old);
		s->type = (enum conf_store_type)t;
		return 0;
	}
	return conf_error(
	    c, s->line, "missing required key \"type\" (imap or maildir)");
}

/* Line of the store key called name, or 0 when it was not given. */
static unsigned
seen_at(const unsigned *seen, const char *name)
{
	int idx = find_store_key(name, strlen(name));

	assert(idx >= 0);
	return seen[idx];
}

/* An error about the store key called name, at its line. */
static int
key_error(
    struct ctx *c, const unsigned *seen, const char *name, const char *text)
{
	conf_key_push(c, name, strlen(name));
	return conf_error(c, seen_at(seen, name), "%s", text);
}

/* Required keys, combinations, and defaults that depend on other keys. */
static int
finish_imap(struct ctx *c, struct store_conf *s, const unsigned *seen)
{
	static const char *const tls_keys[] = {
	    "ca_file", "fingerprint", "tls_name"};
	struct imap_conf *ic = &s->imap;
	size_t i;

	if (ic->host == NULL)
		return conf_error(c, s->line, "missing required key \"host\"");
	if (ic->user == NULL)
		return conf_error(c, s->line, "missing required key \"user\"");
	for (i = 0; i < 3 && ic->tls == CONF_TLS_NONE; i++)
		if (seen_at(seen, tls_keys[i]))
			return key_error(
			    c, seen, tls_keys[i], "not used with tls: none");
	if (ic->ca_file != NULL && ic->fingerprint_len > 0)
		return key_error(c, seen, "fingerprint",
		    "cannot be combined with ca_file: a pinned certificate "
		    "replaces CA verification");
	if (ic->oauth != NULL && ic->oauth_token_command != NULL)
		return key_error(c, seen, "oauth",
		    "cannot be combined with oauth_token_command; keep one");
	for (i = 0; i < ic->nauth; i++) {
		enum sasl_cred need = sasl_mech_cred(ic->auth[i]);

		if (need != SASL_CRED_NONE &&
		    !(config_credentials(s) & (1u << need)))
			return key_error(c, seen, "auth",
			    need == SASL_CRED_TOKEN
				? "a token mechanism needs "
				  "oauth_token_command"
				: "a password mechanism needs a password "
				  "source (password_command, password_file, "
				  "password_env or password)");
	}
	if (ic->port == 0)
		ic->port = ic->tls == CONF_TLS_IMPLICIT ? 993 : 143;
	if (ic->tls_name == NULL)
		ic->tls_name = xstrdup(ic->host);
	return 0;
}

int
conf_entry_name(struct ctx *c, const struct ynode *k, const char *what,
    unsigned dup_line, size_t count, size_t max, size_t *old_out)
{
	if (k->kind != YN_SCALAR)
		return conf_error(c, k->line, "%s names must be strings", what);
	*old_out = conf_key_push(c, k->text, k->len);
	if (!conf_valid_name(k->text, k->len))
		return conf_error(c, k->line,
		    "%s names use letters, digits, '_', '.' and '-', do not "
		    "start with '.' or '-', and have at most %d bytes",
		    what, CONF_MAX_NAME);
	if (dup_line != 0)
		return conf_error(c, k->line,
		    "duplicate %s name (first defined at line %u)", what,
		    dup_line);
	if (count == max)
		return conf_error(c, k->line, "more than %zu %ss", max, what);
	return 0;
}

bool
conf_valid_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CONF_MAX_NAME || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
			ch == '-'))
			return false;
	}
	return true;
}

/* The settings v of store s, which is already part of the config. */
static int
parse_store(struct ctx *c, const struct ynode *v, struct store_conf *s)
{
	unsigned seen[NSTORE_KEYS] = {0};
	size_t i;

	if (v->kind != YN_MAP)
		return conf_expected(c, v, "a mapping of settings");
	if (store_type(c, v, s) == -1)
		return -1;
	if (s->type == CONF_STORE_IMAP) {
		s->imap.tls = CONF_TLS_IMPLICIT;
		s->imap.connections = 4;
		s->imap.timeout = 30;
	} else {
		s->maildir.layout = CONF_LAYOUT_FS;
	}
	for (i = 0; i < v->nkids; i += 2)
		if (store_key(c, v->kids[i], v->kids[i + 1], s, seen) == -1)
			return -1;
	if (s->type == CONF_STORE_IMAP)
		return finish_imap(c, s, seen);
	if (s->maildir.path == NULL)
		return conf_error(c, s->line, "missing required key \"path\"");
	return 0;
}

static int
parse_stores(struct ctx *c, const struct ynode *v, struct config *cfg)
{
	size_t i, j;

	if (v->kind != YN_MAP)
		return conf_expected(
		    c, v, "a mapping of store names to settings");
	if (v->nkids == 0)
		return conf_error(c, v->line, "no stores defined");
	for (i = 0; i < v->nkids; i += 2) {
		const struct ynode *k = v->kids[i];
		struct store_conf *s;
		size_t old;

		unsigned dup = 0;

		for (j = 0; k->kind == YN_SCALAR && j < cfg->nstores; j++)
			if (strcmp(cfg->stores[j].name, k->text) == 0)
				dup = cfg->stores[j].line;
		if (conf_entry_name(c, k, "store", dup, cfg->nstores,
			CONFIG_MAX_STORES, &old) == -1)
			return -1;
		cfg->stores = xreallocarray(
		    cfg->stores, cfg->nstores + 1, sizeof(*cfg->stores));
		s = &cfg->stores[cfg->nstores++];
		memset(s, 0, sizeof(*s));
		s->name = xstrndup(k->text, k->len);
		s->line = k->line;
		if (parse_store(c, v->kids[i + 1], s) == -1)
			return -1;
		conf_key_pop(c, old);
	}
	return 0;
}

struct top_key {
	const char *name;
	int (*parse)(struct ctx *, const struct ynode *, struct config *);
};

/* In the order they are parsed: channels name stores. */
static const struct top_key top_keys[] = {
    {"stores", parse_stores},
    {"channels", conf_parse_channels},
};

enum {
	NTOP_KEYS = sizeof(top_keys) / sizeof(top_keys[0]),
};

static const char *
valid_top_keys(char *buf, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < NTOP_KEYS && o < size; i++)
		o += (size_t)snprintf(
		    buf + o, size - o, "%s%s", o ? ", " : "", top_keys[i].name);
	return buf;
}

/*
 * Check the top-level keys first, then parse their values in the order
 * of top_keys, whatever the order in the file.
 */
static int
parse_top(struct ctx *c, const struct ynode *root, struct config *cfg)
{
	const struct ynode *val[NTOP_KEYS] = {NULL};
	unsigned seen[NTOP_KEYS] = {0};
	char valid[128];
	size_t i, j, old;

	if (root == NULL || conf_is_null(root))
		return err_set(c->err, ERR_CONFIG,
		    "%s: the file is empty; it needs a \"stores:\" mapping",
		    c->file);
	if (root->kind != YN_MAP)
		return conf_expected(c, root, "a mapping at the top level");
	for (i = 0; i < root->nkids; i += 2) {
		const struct ynode *k = root->kids[i];

		if (k->kind != YN_SCALAR)
			return conf_error(c, k->line, "keys must be strings");
		old = conf_key_push(c, k->text, k->len);
		for (j = 0; j < NTOP_KEYS; j++)
			if (strcmp(top_keys[j].name, k->text) == 0 &&
			    strlen(top_keys[j].name) == k->len)
				break;
		if (j == NTOP_KEYS)
			return conf_error(c, k->line,
			    "unknown key; valid keys are: %s",
			    valid_top_keys(valid, sizeof(valid)));
		if (seen[j])
			return conf_error(c, k->line,
			    "duplicate key (first given at line %u)", seen[j]);
		seen[j] = k->line;
		val[j] = root->kids[i + 1];
		conf_key_pop(c, old);
	}
	if (!seen[0])
		return conf_error(
		    c, root->line, "missing required key \"stores\"");
	for (j = 0; j < NTOP_KEYS; j++) {
		if (val[j] == NULL)
			continue;
		old = conf_key_push(
		    c, top_keys[j].name, strlen(top_keys[j].name));
		if (top_keys[j].parse(c, val[j], cfg) == -1)
			return -1;
		conf_key_pop(c, old);
	}
	return 0;
}

/* Loading. */

int
config_load_mem(const char *data, size_t len, const char *name,
    const char *base_dir, struct config *out, struct err *err)
{
	struct loader l = {.name = name, .data = data, .len = len, .err = err};
	struct ctx c = {.file = name, .dir = base_dir, .err = err};
	struct config cfg = {0};
	struct ynode *root = NULL;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		data = ""; /* libyaml wants an address even for nothing */
	if (len > CONFIG_MAX_FILE)
		return err_set(err, ERR_CONFIG, "%s: larger than %d bytes",
		    name, CONFIG_MAX_FILE);
	if (!yaml_parser_initialize(&l.parser))
		return err_set(err, ERR_CONFIG, "%s: out of memory", name);
	yaml_parser_set_encoding(&l.parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(
	    &l.parser, (const unsigned char *)data, len);
	if (load_tree(&l, &root) == -1)
		goto out_parser;
	cfg.path = xstrdup(name);
	cfg.dir = base_dir ? xstrdup(base_dir) : NULL;
	if (parse_top(&c, root, &cfg) == -1) {
		config_free(&cfg);
		goto out_tree;
	}
	*out = cfg;
	r = 0;

out_tree:
	ynode_free(root);
out_parser:
	yaml_parser_delete(&l.parser);
	return r;
}

/* Read the whole file at path into b (bounded by b->max). */
static int
read_file(const char *path, struct buf *b, struct err *err)
{
	char chunk[8192];
	struct stat st;
	ssize_t n;
	int fd, r = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return err_set(err, ERR_CONFIG, "%s: cannot open: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		err_set(err, ERR_CONFIG, "%s: not a regular file", path);
		goto out_close;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set(err, ERR_CONFIG, "%s: cannot read: %s", path,
			    strerror(errno));
			goto out_close;
		}
		if (n == 0)
			break;
		if (buf_append(b, chunk, (size_t)n) == -1) {
			err_set(err, ERR_CONFIG, "%s: larger than %zu bytes",
			    path, b->max);
			goto out_close;
		}
	}
	r = 0;

out_close:
	close(fd);
	return r;
}

/* The absolute directory of the file at path. */
static int
file_dir(const char *path, char **dir_out, struct err *err)
{
	const char *slash = strrchr(path, '/');
	char cwd[4096];

	if (path[0] == '/') {
		*dir_out = slash == path
			       ? xstrdup("/")
			       : xstrndup(path, (size_t)(slash - path));
		return 0;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return err_set(err, ERR_CONFIG,
		    "%s: cannot find the current directory: %s", path,
		    strerror(errno));
	if (slash == NULL)
		*dir_out = xstrdup(cwd);
	else
		*dir_out = xasprintf("%s/%.*s", cwd, (int)(slash - path), path);
	return 0;
}

int
config_load(const char *path, struct config *out, struct err *err)
{
	struct buf data;
	char *dir = NULL;
	int r = -1;

	memset(out, 0, sizeof(*out));
	buf_init(&data, CONFIG_MAX_FILE);
	if (read_file(path, &data, err) == -1)
		goto out_release;
	if (file_dir(path, &dir, err) == -1)
		goto out_release;
	r = config_load_mem(data.data, data.len, path, dir, out, err);

out_release:
	free(dir);
	buf_release(&data);
	return r;
}

void
config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nstores; i++) {
		struct store_conf *s = &cfg->stores[i];

		free(s->name);
		free(s->imap.host);
		free(s->imap.ca_file);
		free(s->imap.tls_name);
		free(s->imap.user);
		free(s->imap.oauth_token_command);
		oauth_conf_free(s->imap.oauth);
		if (s->imap.pass != NULL)
			explicit_bzero(s->imap.pass, strlen(s->imap.pass));
		free(s->imap.pass);
		free(s->maildir.path);
	}
	free(cfg->stores);
	conf_channels_free(cfg);
	free(cfg->path);
	free(cfg->dir);
	memset(cfg, 0, sizeof(*cfg));
}

const struct store_conf *
config_store(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nstores; i++)
		if (strcmp(cfg->stores[i].name, name) == 0)
			return &cfg->stores[i];
	return NULL;
}

/* Passwords. */

/* Read fd into sec[0..cap) until EOF or cap; return the count or -1. */
static ssize_t
read_all(int fd, char *sec, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap) {
		r = read(fd, sec + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

/* The child: stdout to the pipe, then the shell. */
static void exec_command(int, int, const char *) __attribute__((noreturn));

static void
exec_command(int rfd, int wfd, const char *cmd)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	close(rfd);
	if (wfd != STDOUT_FILENO) {
		if (dup2(wfd, STDOUT_FILENO) == -1)
			_exit(126);
		close(wfd);
	}
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

static int run_key_command(const char *, const char *, const char *, char *,
    size_t, size_t *, struct err *);

/*
 * Run the store's password_command; its output goes to sec[0..cap) and
 * its length to *n_out.  Output that fills sec is an error (too long).
 */
static int
run_command(const struct store_conf *s, char *sec, size_t cap, size_t *n_out,
    struct err *err)
{
	char prefix[CONF_MAX_NAME + 16];

	snprintf(prefix, sizeof(prefix), "stores.%s", s->name);
	return run_key_command(
	    prefix, "password_command", s->imap.pass, sec, cap, n_out, err);
}

/* Run cmdline, the key name.key; otherwise as run_command(). */
static int
run_key_command(const char *name, const char *key, const char *cmdline,
    char *sec, size_t cap, size_t *n_out, struct err *err)
{
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) == -1)
		return err_sys(err, "%s.%s: pipe", name, key);
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	if ((pid = fork()) == -1) {
		err_sys(err, "%s.%s: fork", name, key);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0)
		exec_command(fds[0], fds[1], cmdline);
	close(fds[1]);
	n = read_all(fds[0], sec, cap);
	close(fds[0]);
	if (n == -1 || (size_t)n == cap)
		kill(pid, SIGTERM); /* it has nothing more to tell us */
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return err_sys(err, "%s.%s: waitpid", name, key);
	if (n == -1)
		return err_set(
		    err, ERR_AUTH, "%s.%s: cannot read its output", name, key);
	/* Output that filled sec is too long however it ended: see caller. */
	if ((size_t)n < cap && WIFSIGNALED(status))
		return err_set(err, ERR_AUTH, "%s.%s: killed by signal %d",
		    name, key, WTERMSIG(status));
	if ((size_t)n < cap && WEXITSTATUS(status) != 0)
		return err_set(err, ERR_AUTH, "%s.%s: exited with status %d%s",
		    name, key, WEXITSTATUS(status),
		    WEXITSTATUS(status) == 127 ? " (command not found?)" : "");
	*n_out = (size_t)n;
	return 0;
}

/* Read the first line of the store's password_file into sec. */
static int
read_pass_file(const struct store_conf *s, char *sec, size_t cap, size_t *n_out,
    struct err *err)
{
	const char *path = s->imap.pass;
	struct stat st;
	ssize_t n;
	char *nl;
	int fd, r = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return err_set(err, ERR_CONFIG,
		    "stores.%s.password_file: cannot open %s: %s", s->name,
		    path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		err_set(err, ERR_CONFIG,
		    "stores.%s.password_file: %s is not a regular file",
		    s->name, path);
		goto out_close;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_warn("stores.%s.password_file: %s is readable by group or "
			 "others; chmod 600 it",
		    s->name, path);
	if ((n = read_all(fd, sec, cap)) == -1) {
		err_set(err, ERR_CONFIG,
		    "stores.%s.password_file: cannot read %s: %s", s->name,
		    path, strerror(errno));
		goto out_close;
	}
	if ((nl = memchr(sec, '\n', (size_t)n)) != NULL)
		n = nl - sec;
	if (n > 0 && sec[n - 1] == '\r')
		n--;
	*n_out = (size_t)n;
	r = 0;

out_close:
	close(fd);
	return r;
}

/* Check the fetched secret sec[0..n) and append it to out. */
static int
put_secret(const struct store_conf *s, const char *sec, size_t n,
    struct buf *out, struct err *err)
{
	const char *what = config_pass_name(s->imap.pass_source);
	enum err_kind kind =
	    s->imap.pass_source == CONF_PASS_COMMAND ? ERR_AUTH : ERR_CONFIG;

	if (n == 0)
		return err_set(err, kind, "stores.%s.%s: the password is empty",
		    s->name, what);
	if (n > CONFIG_MAX_SECRET)
		return err_set(err, kind,
		    "stores.%s.%s: the password is longer than %d bytes",
		    s->name, what, CONFIG_MAX_SECRET);
	if (memchr(sec, '\0', n) != NULL)
		return err_set(err, kind,
		    "stores.%s.%s: the password contains a NUL byte", s->name,
		    what);
	if (buf_append(out, sec, n) == -1)
		return err_set(err, ERR_LIMIT,
		    "stores.%s.%s: the password does not fit its buffer",
		    s->name, what);
	return 0;
}

int
config_get_password(
    const struct store_conf *s, struct buf *out, struct err *err)
{
	const struct imap_conf *ic = &s->imap;
	size_t cap = CONFIG_MAX_SECRET + 2, n = 0; /* room for "\r\n" */
	const char *env;
	char *sec = xmalloc(cap);
	int r = -1;

	if (s->type != CONF_STORE_IMAP || ic->pass_source == CONF_PASS_NONE) {
		err_set(err, ERR_CONFIG,
		    "stores.%s: no password_command, password_file, "
		    "password_env or password",
		    s->name);
		goto out_wipe;
	}
	switch (ic->pass_source) {
	case CONF_PASS_COMMAND:
		if (run_command(s, sec, cap, &n, err) == -1)
			goto out_wipe;
		if (n > 0 && sec[n - 1] == '\n') {
			n--;
			if (n > 0 && sec[n - 1] == '\r')
				n--;
		}
		break;
	case CONF_PASS_FILE:
		if (read_pass_file(s, sec, cap, &n, err) == -1)
			goto out_wipe;
		break;
	case CONF_PASS_ENV:
		if ((env = getenv(ic->pass)) == NULL) {
			err_set(err, ERR_CONFIG,
			    "stores.%s.password_env: %s is not set", s->name,
			    ic->pass);
			goto out_wipe;
		}
		n = strlen(env);
		memcpy(sec, env, n < cap ? n : cap);
		break;
	default:
		n = strlen(ic->pass);
		memcpy(sec, ic->pass, n < cap ? n : cap);
		break;
	}
	r = put_secret(s, sec, n, out, err);

out_wipe:
	explicit_bzero(sec, cap);
	free(sec);
	return r;
}

unsigned
config_credentials(const struct store_conf *s)
{
	unsigned have = 0;

	if (s->type != CONF_STORE_IMAP)
		return 0;
	if (s->imap.pass_source != CONF_PASS_NONE)
		have |= 1u << SASL_CRED_PASSWORD | 1u << SASL_CRED_PASSPHRASE;
	if (s->imap.oauth_token_command != NULL || s->imap.oauth != NULL)
		have |= 1u << SASL_CRED_TOKEN;
	return have;
}

int
config_run_command(const char *prefix, const char *key, const char *cmdline,
    struct buf *out, struct err *err)
{
	size_t cap = CONFIG_MAX_TOKEN + 2, n = 0;
	char *sec = xmalloc(cap);
	int r = -1;

	if (run_key_command(prefix, key, cmdline, sec, cap, &n, err) == -1)
		goto out_wipe;
	if (n > 0 && sec[n - 1] == '\n')
		n--;
	if (n > 0 && sec[n - 1] == '\r')
		n--;
	if (n == 0 || n >= CONFIG_MAX_TOKEN || memchr(sec, '\0', n) ||
	    memchr(sec, '\n', n))
		err_set(err, ERR_AUTH,
		    "%s.%s: printed nothing, a NUL, more than one line or more "
		    "than %d bytes",
		    prefix, key, CONFIG_MAX_TOKEN);
	else if (buf_append(out, sec, n) == -1)
		err_set(err, ERR_LIMIT,
		    "%s.%s: the output does not fit its buffer", prefix, key);
	else
		r = 0;
out_wipe:
	explicit_bzero(sec, cap);
	free(sec);
	return r;
}

/* An access token: from oauth_token_command, or refreshed (oauth:). */
static int
get_token(const struct store_conf *s, struct buf *out, struct err *err)
{
	char prefix[CONF_MAX_NAME + 16];

	if (s->imap.oauth != NULL) {
		snprintf(prefix, sizeof(prefix), "stores.%s.oauth", s->name);
		return oauth_token(s->imap.oauth, prefix, out, err);
	}
	snprintf(prefix, sizeof(prefix), "stores.%s", s->name);
	if (s->imap.oauth_token_command == NULL)
		return err_set(err, ERR_CONFIG,
		    "%s: no oauth_token_command or oauth", prefix);
	return config_run_command(prefix, "oauth_token_command",
	    s->imap.oauth_token_command, out, err);
}

int
config_get_credential(const struct store_conf *s, enum sasl_cred kind,
    struct buf *out, struct err *err)
{
	switch (kind) {
	case SASL_CRED_NONE:
		return 0;
	case SASL_CRED_TOKEN:
		return get_token(s, out, err);
	case SASL_CRED_PASSWORD:
	case SASL_CRED_PASSPHRASE:
	default:
		return config_get_password(s, out, err);
	}
}

/* Small public helpers. */

int
config_default_path(struct buf *out)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	const char *base, *sub;
	size_t len;

	if (xdg != NULL && xdg[0] == '/') {
		base = xdg;
		sub = "";
	} else if (home != NULL && home[0] == '/') {
		base = home;
		sub = "/.config";
	} else {
		return -1;
	}
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		len--;
	return buf_printf(out, "%.*s%s/ferry/config.yaml", (int)len, base, sub);
}

const char *
config_store_type_name(enum conf_store_type t)
{
	return (unsigned)t < 2 ? store_type_names[t] : "?";
}

const char *
config_tls_name(enum conf_tls t)
{
	return (unsigned)t < 3 ? tls_names[t] : "?";
}

const char *
config_layout_name(enum conf_layout l)
{
	return (unsigned)l < 2 ? layout_names[l] : "?";
}

const char *
config_pass_name(enum conf_pass p)
{
	static const char *const names[] = {
	    [CONF_PASS_NONE] = "none",
	    [CONF_PASS_COMMAND] = "password_command",
	    [CONF_PASS_FILE] = "password_file",
	    [CONF_PASS_ENV] = "password_env",
	    [CONF_PASS_INLINE] = "password",
	};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}
