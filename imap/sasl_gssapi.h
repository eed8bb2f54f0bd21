/* SPDX-License-Identifier: ISC */
/*
 * sasl_gssapi.h - the GSSAPI (Kerberos 5) SASL mechanism, RFC 4752, for
 * sasl.c only.  Separate so that libgssapi-krb5 is confined to one file.
 *
 * Ownership: a struct sasl_gss owns its GSS-API context and names and
 * releases them in sasl_gss_free().
 */
#ifndef FERRY_SASL_GSSAPI_H
#define FERRY_SASL_GSSAPI_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct err;
struct sasl_gss;

/* Whether GSSAPI can be used in this build. */
bool sasl_gss_available(void);
/*
 * sasl_gss_new(service, host, authzid, err): prepare to authenticate to
 * service@host with the default credentials (the ticket cache).  Return
 * NULL with err on failure.
 */
struct sasl_gss *sasl_gss_new(
    const char *service, const char *host, const char *authzid, struct err *);
/* One step, as sasl_step(). */
int sasl_gss_step(struct sasl_gss *, const unsigned char *, size_t,
    struct buf *, struct err *);
/* The security layer negotiation finished. */
bool sasl_gss_complete(const struct sasl_gss *);
/* NULL is fine. */
void sasl_gss_free(struct sasl_gss *);

#endif
