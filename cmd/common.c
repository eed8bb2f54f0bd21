/* SPDX-License-Identifier: ISC */
/*
 * common.c - what several subcommands share: finding and loading the
 * configuration file, and turning an IMAP store's configuration into a
 * client ready to connect and the credentials it logs in with.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/config.h"
#include "imap/client.h"
#include "util/buf.h"
#include "util/err.h"

int
cmd_load_config(const struct cmd_ctx *ctx, struct config *cfg, struct err *err)
{
	struct buf path;
	int r;

	buf_init(&path, 4096);
	if (ctx->config_path != NULL) {
		if (buf_puts(&path, ctx->config_path) == -1)
			r = err_set(err, ERR_CONFIG, "config path too long");
		else
			r = config_load(path.data, cfg, err);
	} else if (config_default_path(&path) == -1) {
		r = err_set(err, ERR_CONFIG,
		    "no configuration file: give one "
		    "with -c, or set HOME or XDG_CONFIG_HOME");
	} else {
		r = config_load(path.data, cfg, err);
	}
	buf_release(&path);
	return r;
}

void
cmd_client_opts(const struct store_conf *sc, struct imap_client_opts *o,
    struct cmd_client_strs *b)
{
	const struct imap_conf *ic = &sc->imap;
	size_t i;

	memset(o, 0, sizeof(*o));
	snprintf(b->port, sizeof(b->port), "%u", ic->port);
	o->conn.host = ic->host;
	o->conn.port = b->port;
	o->conn.tls = ic->tls == CONF_TLS_IMPLICIT   ? CONN_TLS_IMPLICIT
		      : ic->tls == CONF_TLS_STARTTLS ? CONN_TLS_STARTTLS
						     : CONN_TLS_NONE;
	o->conn.ca_file = ic->ca_file;
	o->conn.tls_name = ic->tls_name;
	o->conn.timeout_ms = (int)ic->timeout * 1000;
	if (ic->fingerprint_len > 0) {
		memcpy(b->fp, "sha256:", 7);
		for (i = 0; i < ic->fingerprint_len && i < 32; i++)
			snprintf(
			    b->fp + 7 + 2 * i, 3, "%02x", ic->fingerprint[i]);
		o->conn.fingerprint = b->fp;
	}
	o->allow_plaintext = ic->allow_plaintext;
	o->name = sc->name;
}

struct imap_client *
cmd_imap_client(struct loop *loop, const struct store_conf *sc, struct err *err)
{
	struct imap_client_opts o;
	struct cmd_client_strs b;

	if (sc->type != CONF_STORE_IMAP) {
		err_set(
		    err, ERR_CONFIG, "store %s is not an IMAP store", sc->name);
		return NULL;
	}
	cmd_client_opts(sc, &o, &b);
	return imap_client_new(loop, &o);
}

/* imap_auth's callback: the store's credential of that kind. */
static int
get_credential(void *arg, enum sasl_cred kind, struct buf *out, struct err *err)
{
	return config_get_credential(arg, kind, out, err);
}

void
cmd_imap_auth(const struct store_conf *sc, struct imap_auth *a)
{
	const struct imap_conf *ic = &sc->imap;

	memset(a, 0, sizeof(*a));
	a->user = ic->user;
	a->host = ic->tls_name ? ic->tls_name : ic->host;
	a->port = ic->port;
	a->mechs = ic->auth;
	a->nmechs = ic->nauth;
	a->have = config_credentials(sc);
	a->get = get_credential;
	a->arg = (void *)(uintptr_t)sc;
}
