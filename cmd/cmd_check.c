/* SPDX-License-Identifier: ISC */
/*
 * cmd_check.c - "ferry check STORE": connect to one store and show what
 * ferry sees, step by step, so that a user can tell which step fails and
 * why: the greeting, TLS (version, cipher, certificate), capabilities
 * before and after login, namespaces, and the folders with their
 * special-use attributes and message counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/exitcode.h"
#include "imap/client.h"
#include "imap/utf7.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/sort.h"
#include "util/xalloc.h"

#define MAX_FOLDERS 10000

struct folder {
	char *name; /* UTF-8 */
	char *raw; /* as the server spells it */
	char attrs[256];
	long long messages; /* -1: unknown */
};

struct folders {
	struct folder *v;
	size_t n;
	char delim;
	bool truncated;
};

static void
print_wrapped(const char *label, const char *words)
{
	printf("%s:\n", label);
	printf("  %s\n", words[0] ? words : "(none)");
}

/* The name as UTF-8, or the raw name when it is not valid mUTF-7. */
static char *
decode_name(const struct imap_client *c, struct str raw)
{
	struct buf b;
	struct err e;

	if (imap_is_enabled(c, "UTF8=ACCEPT"))
		return str_dup(raw);
	buf_init(&b, 4096);
	if (imap_utf7_to_utf8(raw, &b, &e) == -1) {
		buf_release(&b);
		return str_dup(raw);
	}
	return buf_detach(&b, NULL);
}

static struct folder *
find_folder(struct folders *f, struct str raw)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (str_eq_cstr(raw, f->v[i].raw))
			return &f->v[i];
	return NULL;
}

static void
on_list(struct folders *f, struct imap_client *c, const struct imap_resp *r)
{
	const struct imap_arg *attrs;
	struct folder *fo;
	struct str delim, raw;
	size_t n, i, len = 0;

	if (r->nargs < 4 || !imap_arg_list(&r->args[1], &attrs, &n) ||
	    !imap_arg_nstring(&r->args[2], &delim) ||
	    !imap_arg_string(&r->args[3], &raw))
		return;
	if (f->n == MAX_FOLDERS) {
		f->truncated = true;
		return;
	}
	if (delim.len == 1)
		f->delim = delim.p[0];
	f->v = xreallocarray(f->v, f->n + 1, sizeof(*f->v));
	fo = &f->v[f->n++];
	memset(fo, 0, sizeof(*fo));
	fo->raw = str_dup(raw);
	fo->name = decode_name(c, raw);
	fo->messages = -1;
	for (i = 0; i < n; i++) {
		struct str a;
		int w;

		if (!imap_arg_string(&attrs[i], &a))
			continue;
		w = snprintf(fo->attrs + len, sizeof(fo->attrs) - len, "%s%.*s",
		    len ? " " : "", (int)a.len, a.p);
		if (w < 0 || (size_t)w >= sizeof(fo->attrs) - len)
			break;
		len += (size_t)w;
	}
}

static void
on_status(struct folders *f, const struct imap_resp *r)
{
	const struct imap_arg *items;
	struct folder *fo;
	struct str raw;
	size_t n, i;
	uint64_t v;

	if (r->nargs < 3 || !imap_arg_string(&r->args[1], &raw) ||
	    !imap_arg_list(&r->args[2], &items, &n) ||
	    (fo = find_folder(f, raw)) == NULL)
		return;
	for (i = 0; i + 1 < n; i += 2)
		if (imap_arg_is_atom(&items[i], "MESSAGES") &&
		    imap_arg_number(&items[i + 1], UINT32_MAX, &v))
			fo->messages = (long long)v;
}

static bool
list_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct folders *f = arg;

	if (r->nargs >= 1 && imap_arg_is_atom(&r->args[0], "LIST")) {
		on_list(f, c, r);
		return true;
	}
	if (r->nargs >= 1 && imap_arg_is_atom(&r->args[0], "STATUS")) {
		on_status(f, r);
		return true;
	}
	return false;
}

static bool
namespace_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct buf *out = arg;

	(void)c;
	if (r->nargs < 1 || !imap_arg_is_atom(&r->args[0], "NAMESPACE"))
		return false;
	(void)imap_resp_print(r, out);
	return true;
}

static int
list_folders(struct imap_client *c, struct folders *f, struct err *err)
{
	size_t i;

	if (imap_has_cap(c, "LIST-STATUS") && imap_has_cap(c, "SPECIAL-USE"))
		return imap_simple(c, list_untagged, f, err,
		    "LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES))");
	if (imap_simple(c, list_untagged, f, err, "LIST \"\" \"*\"") == -1)
		return -1;
	for (i = 0; i < f->n; i++) {
		struct imap_cmd *cmd;

		if (strstr(f->v[i].attrs, "\\Noselect") ||
		    strstr(f->v[i].attrs, "\\NonExistent"))
			continue;
		cmd = imap_cmd_new(c, 0, NULL, NULL);
		imap_cmd_set_untagged(cmd, list_untagged, f);
		imap_cmd_printf(cmd, "STATUS ");
		imap_cmd_astring(cmd, str_from(f->v[i].raw));
		imap_cmd_printf(cmd, " (MESSAGES)");
		imap_cmd_send(cmd);
	}
	return imap_client_drain(c, err);
}

/* INBOX first, then by name. */
static int
folder_cmp(const void *a, const void *b)
{
	const struct folder *x = a, *y = b;
	int xi = strcmp(x->name, "INBOX") == 0,
	    yi = strcmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return yi - xi;
	return strcmp(x->name, y->name);
}

/* Columns a UTF-8 string takes (one per code point; good enough here). */
static size_t
columns(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
print_folders(struct folders *f)
{
	size_t i, w;

	sort_array(f->v, f->n, sizeof(*f->v), folder_cmp);
	printf("folders (%zu, delimiter '%c'):\n", f->n,
	    f->delim ? f->delim : '?');
	for (i = 0; i < f->n; i++) {
		const struct folder *fo = &f->v[i];

		w = columns(fo->name);
		printf("  %s%*s", fo->name, w < 32 ? (int)(32 - w) : 0, "");
		if (fo->messages >= 0)
			printf(" %7lld messages", fo->messages);
		else
			printf(" %7s         ", "-");
		printf("%s%s\n", fo->attrs[0] ? "  " : "", fo->attrs);
	}
	if (f->truncated)
		printf("  (more than %d folders; the rest not shown)\n",
		    MAX_FOLDERS);
}

static void
folders_free(struct folders *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].raw);
	}
	free(f->v);
}

int
cmd_exit_for(const struct err *e)
{
	switch (e->kind) {
	case ERR_CONFIG:
		return EXIT_CONFIG;
	case ERR_CONN:
	case ERR_TEMP:
		return EXIT_CONN;
	case ERR_TLS:
		return EXIT_TLS;
	case ERR_AUTH:
		return EXIT_AUTH;
	case ERR_LOCK:
		return EXIT_LOCKED;
	default:
		return EXIT_FATAL;
	}
}

static void
print_tls(struct imap_client *c)
{
	struct conn *conn = imap_client_conn(c);
	char subject[512], fp[128];

	if (!conn_is_tls(conn)) {
		printf("tls: none (the connection is not encrypted)\n");
		return;
	}
	if (conn_peer_subject(conn, subject, sizeof(subject)) == -1)
		snprintf(subject, sizeof(subject), "?");
	if (conn_peer_fingerprint(conn, fp, sizeof(fp)) == -1)
		snprintf(fp, sizeof(fp), "?");
	printf("tls: %s, %s\n", conn_tls_version(conn), conn_tls_cipher(conn));
	printf("certificate: %s\n", subject);
	printf("fingerprint: %s\n", fp);
}

static int
check_imap(const struct store_conf *sc, struct err *err)
{
	struct loop *loop = loop_new();
	struct imap_client *c = NULL;
	struct folders folders = {0};
	struct imap_auth auth;
	struct buf ns;
	const char *step = "connect";
	int rc = -1;

	buf_init(&ns, 4096);
	printf("store %s: imap %s:%u, tls %s\n", sc->name, sc->imap.host,
	    sc->imap.port, config_tls_name(sc->imap.tls));
	fflush(stdout);
	if ((c = cmd_imap_client(loop, sc, err)) == NULL)
		goto out;
	if (imap_client_connect(c, err) == -1)
		goto out;
	printf("greeting: %s\n", imap_greeting(c));
	print_tls(c);
	print_wrapped("capabilities before login", imap_caps(c));
	step = "login";
	cmd_imap_auth(sc, &auth);
	if (imap_client_auth(c, &auth, err) == -1)
		goto out;
	printf("login: ok as %s\n", sc->imap.user);
	print_wrapped("capabilities after login", imap_caps(c));
	step = "namespace";
	if (imap_has_cap(c, "NAMESPACE")) {
		if (imap_simple(c, namespace_untagged, &ns, err, "NAMESPACE") ==
		    -1)
			goto out;
		/* "* NAMESPACE personal other shared" */
		const char *p = strstr(ns.data, "NAMESPACE ");

		printf("namespaces: %s\n", p ? p + 10 : "(none)");
	}
	step = "list";
	if (list_folders(c, &folders, err) == -1)
		goto out;
	print_folders(&folders);
	imap_client_logout(c);
	rc = 0;
out:
	if (rc == -1)
		err_prefix(err, "%s", step);
	buf_release(&ns);
	folders_free(&folders);
	imap_client_free(c);
	loop_free(loop);
	return rc;
}

static int
check_maildir(const struct store_conf *sc)
{
	struct stat st;

	printf("store %s: maildir %s, layout %s\n", sc->name, sc->maildir.path,
	    config_layout_name(sc->maildir.layout));
	if (stat(sc->maildir.path, &st) == -1)
		printf("the directory does not exist yet; ferry creates it on "
		       "the first sync\n");
	else if (!S_ISDIR(st.st_mode))
		printf("warning: %s exists but is not a directory\n",
		    sc->maildir.path);
	else
		printf("the directory exists\n");
	return 0;
}

int
cmd_check(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct config cfg = {0};
	const struct store_conf *sc;
	struct err err;
	int rc;

	err_clear(&err);
	if (argc != 2) {
		fprintf(stderr, "usage: ferry [-c file] check store\n");
		return EXIT_USAGE;
	}
	if (cmd_load_config(ctx, &cfg, &err) == -1) {
		log_error("%s", err.msg);
		return EXIT_CONFIG;
	}
	if ((sc = config_store(&cfg, argv[1])) == NULL) {
		log_error("%s: no store named \"%s\"", cfg.path, argv[1]);
		config_free(&cfg);
		return EXIT_CONFIG;
	}
	if (sc->type == CONF_STORE_MAILDIR)
		rc = check_maildir(sc);
	else
		rc = check_imap(sc, &err);
	if (rc == -1) {
		log_error("check %s: %s", sc->name, err.msg);
		rc = cmd_exit_for(&err);
	}
	config_free(&cfg);
	return rc;
}
