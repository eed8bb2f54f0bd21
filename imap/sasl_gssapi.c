/* SPDX-License-Identifier: ISC */
/*
 * sasl_gssapi.c - the GSSAPI SASL mechanism (RFC 4752) over MIT or
 * Heimdal Kerberos 5 through libgssapi.  The only file that includes
 * <gssapi/gssapi.h>.  The exchange:
 *
 *	CONTEXT --token in/out, until GSS_S_COMPLETE--> LAYER
 *	LAYER --unwrap 4 bytes (layers, max size); wrap our choice--> DONE
 *
 * ferry asks for no security layer (TLS protects the link), so after the
 * handshake it only answers the server's offer with "none" and the
 * authorization identity.
 *
 * The library is loaded with dlopen() when GSSAPI is first used: linked
 * in, Kerberos costs every run of ferry its start-up time and memory.
 */
#include "sasl_gssapi.h"

#include <dlfcn.h>
#include <gssapi/gssapi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/os.h"
#include "util/xalloc.h"

enum gss_state {
	GSS_ST_CONTEXT,
	GSS_ST_LAYER,
	GSS_ST_DONE,
};

struct sasl_gss {
	enum gss_state state;
	gss_ctx_id_t ctx;
	gss_name_t target;
	char *authzid;
};

/* The GSS-API calls we make, found by dlopen(). */
static struct {
	int loaded; /* 0 not tried, 1 loaded, -1 not there */
	OM_uint32 (*display_status)(
	    OM_uint32 *, OM_uint32, int, gss_OID, OM_uint32 *, gss_buffer_t);
	OM_uint32 (*release_buffer)(OM_uint32 *, gss_buffer_t);
	OM_uint32 (*import_name)(
	    OM_uint32 *, gss_buffer_t, gss_OID, gss_name_t *);
	OM_uint32 (*init_sec_context)(OM_uint32 *, gss_cred_id_t,
	    gss_ctx_id_t *, gss_name_t, gss_OID, OM_uint32, OM_uint32,
	    gss_channel_bindings_t, gss_buffer_t, gss_OID *, gss_buffer_t,
	    OM_uint32 *, OM_uint32 *);
	OM_uint32 (*unwrap)(OM_uint32 *, gss_ctx_id_t, gss_buffer_t,
	    gss_buffer_t, int *, gss_qop_t *);
	OM_uint32 (*wrap)(OM_uint32 *, gss_ctx_id_t, int, gss_qop_t,
	    gss_buffer_t, int *, gss_buffer_t);
	OM_uint32 (*delete_sec_context)(
	    OM_uint32 *, gss_ctx_id_t *, gss_buffer_t);
	OM_uint32 (*release_name)(OM_uint32 *, gss_name_t *);
} G;

/* MIT Kerberos, then Heimdal. */
static const char *const libs[] = {"libgssapi_krb5.so.2", "libgssapi.so.3"};

/* The OIDs we name (RFC 1964 and RFC 2743), so no library data is used. */
static gss_OID_desc mech_krb5 = {
    9, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"};
static gss_OID_desc nt_hostbased = {
    10, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};

#define SYM(lib, f) os_dlsym(lib, "gss_" #f, &G.f, sizeof(G.f))

static bool
gss_load(void)
{
	void *lib = NULL;
	size_t i;

	if (G.loaded != 0)
		return G.loaded > 0;
	for (i = 0; lib == NULL && i < sizeof(libs) / sizeof(libs[0]); i++)
		lib = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
	G.loaded = -1;
	if (lib == NULL)
		return false;
	if (!SYM(lib, display_status) || !SYM(lib, release_buffer) ||
	    !SYM(lib, import_name) || !SYM(lib, init_sec_context) ||
	    !SYM(lib, unwrap) || !SYM(lib, wrap) ||
	    !SYM(lib, delete_sec_context) || !SYM(lib, release_name)) {
		dlclose(lib);
		return false;
	}
	G.loaded = 1; /* and the library stays loaded */
	return true;
}

bool
sasl_gss_available(void)
{
	return gss_load();
}

/* Put GSS-API's text for (major, minor) into err. */
static int
gss_error(struct err *err, const char *what, OM_uint32 major, OM_uint32 minor)
{
	OM_uint32 min2, ctx = 0;
	gss_buffer_desc m1 = GSS_C_EMPTY_BUFFER, m2 = GSS_C_EMPTY_BUFFER;

	G.display_status(&min2, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &m1);
	ctx = 0;
	G.display_status(
	    &min2, minor, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctx, &m2);
	err_set(err, ERR_AUTH, "GSSAPI: %s: %.*s: %.*s", what, (int)m1.length,
	    (const char *)m1.value, (int)m2.length, (const char *)m2.value);
	G.release_buffer(&min2, &m1);
	G.release_buffer(&min2, &m2);
	return -1;
}

struct sasl_gss *
sasl_gss_new(
    const char *service, const char *host, const char *authzid, struct err *err)
{
	struct sasl_gss *g;
	gss_buffer_desc name;
	OM_uint32 major, minor;
	struct buf b;

	if (!gss_load()) {
		err_set(err, ERR_CONFIG,
		    "GSSAPI: no GSS-API library (%s or %s)", libs[0], libs[1]);
		return NULL;
	}
	buf_init(&b, 1024);
	if (buf_printf(&b, "%s@%s", service, host) == -1) {
		buf_release(&b);
		err_set(err, ERR_CONFIG, "GSSAPI: host name too long");
		return NULL;
	}
	g = xcalloc(1, sizeof(*g));
	g->ctx = GSS_C_NO_CONTEXT;
	g->authzid = xstrdup(authzid);
	name.value = b.data;
	name.length = b.len;
	major = G.import_name(&minor, &name, &nt_hostbased, &g->target);
	buf_release(&b);
	if (GSS_ERROR(major)) {
		gss_error(err, "import_name", major, minor);
		sasl_gss_free(g);
		return NULL;
	}
	return g;
}

static int
gss_context_step(struct sasl_gss *g, const unsigned char *in, size_t len,
    struct buf *out, struct err *err)
{
	gss_buffer_desc ib, ob = GSS_C_EMPTY_BUFFER;
	OM_uint32 major, minor, rel;
	int r = 0;

	ib.value = (void *)(uintptr_t)in;
	ib.length = len;
	major = G.init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &g->ctx,
	    g->target, &mech_krb5, GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG, 0,
	    GSS_C_NO_CHANNEL_BINDINGS, len > 0 ? &ib : GSS_C_NO_BUFFER, NULL,
	    &ob, NULL, NULL);
	if (GSS_ERROR(major))
		r = gss_error(err, "init_sec_context", major, minor);
	else if (ob.length > 0 && buf_append(out, ob.value, ob.length) == -1)
		r = err_set(err, ERR_LIMIT, "GSSAPI: token too long");
	else if (major == GSS_S_COMPLETE)
		g->state = GSS_ST_LAYER;
	G.release_buffer(&rel, &ob);
	return r;
}

/* Unwrap the server's offer, wrap "no security layer" + authzid. */
static int
gss_layer_step(struct sasl_gss *g, const unsigned char *in, size_t len,
    struct buf *out, struct err *err)
{
	gss_buffer_desc ib, pb = GSS_C_EMPTY_BUFFER, wb = GSS_C_EMPTY_BUFFER;
	OM_uint32 major, minor, rel;
	struct buf reply;
	int r = -1;

	ib.value = (void *)(uintptr_t)in;
	ib.length = len;
	major = G.unwrap(&minor, g->ctx, &ib, &pb, NULL, NULL);
	if (GSS_ERROR(major))
		return gss_error(err, "unwrap", major, minor);
	if (pb.length != 4 || !(((unsigned char *)pb.value)[0] & 1)) {
		G.release_buffer(&rel, &pb);
		return err_set(err, ERR_AUTH,
		    "GSSAPI: the server insists on a security layer");
	}
	G.release_buffer(&rel, &pb);
	buf_init(&reply, 1024);
	if (buf_append(&reply, "\x01\0\0\0", 4) == -1 ||
	    buf_puts(&reply, g->authzid) == -1) {
		buf_release(&reply);
		return err_set(err, ERR_LIMIT, "GSSAPI: authzid too long");
	}
	ib.value = reply.data;
	ib.length = reply.len;
	major = G.wrap(&minor, g->ctx, 0, GSS_C_QOP_DEFAULT, &ib, NULL, &wb);
	if (GSS_ERROR(major))
		gss_error(err, "wrap", major, minor);
	else if (buf_append(out, wb.value, wb.length) == -1)
		err_set(err, ERR_LIMIT, "GSSAPI: token too long");
	else {
		g->state = GSS_ST_DONE;
		r = 0;
	}
	G.release_buffer(&rel, &wb);
	buf_release(&reply);
	return r;
}

int
sasl_gss_step(struct sasl_gss *g, const unsigned char *in, size_t len,
    struct buf *out, struct err *err)
{
	switch (g->state) {
	case GSS_ST_CONTEXT:
		return gss_context_step(g, in, len, out, err);
	case GSS_ST_LAYER:
		return gss_layer_step(g, in, len, out, err);
	case GSS_ST_DONE:
	default:
		return err_set(err, ERR_AUTH, "GSSAPI: unexpected challenge");
	}
}

bool
sasl_gss_complete(const struct sasl_gss *g)
{
	return g != NULL && g->state == GSS_ST_DONE;
}

void
sasl_gss_free(struct sasl_gss *g)
{
	OM_uint32 minor;

	if (g == NULL)
		return;
	if (g->ctx != GSS_C_NO_CONTEXT)
		G.delete_sec_context(&minor, &g->ctx, GSS_C_NO_BUFFER);
	if (g->target != GSS_C_NO_NAME)
		G.release_name(&minor, &g->target);
	free(g->authzid);
	free(g);
}
