/* SPDX-License-Identifier: ISC */
/*
 * sasl.h - SASL mechanisms as sans-I/O state machines.
 *
 * A struct sasl is one authentication exchange of one mechanism.  It
 * never touches a socket: the IMAP client (imap/client.c) feeds it each
 * server challenge, already base64-decoded, and sends back what it
 * appends to the out buffer (the client does the base64).  For SCRAM the
 * last step checks the server's signature, and sasl_done() refuses an
 * OK from a server that never proved it knows the password.
 *
 *	sasl_new ──> sasl_step(NULL) ──> sasl_step(challenge) ... ──> sasl_done
 *	             (initial response,    (one per "+ " line)          (tagged
 *OK) client-first mechs)
 *
 * Mechanisms: PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login),
 * CRAM-MD5 (RFC 2195), SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, 7677;
 * no channel binding), XOAUTH2 (Google's), OAUTHBEARER (RFC 7628),
 * GSSAPI (RFC 4752, Kerberos 5; in sasl_gssapi.c) and OTP (RFC 2444 over
 * RFC 2289 one-time passwords, MD5 and SHA-1, hex or six-word
 * responses; the dictionary is in sasl_otp.c).
 *
 * Ownership: sasl_new() copies the parameters, secret included; the
 * copy is wiped (explicit_bzero) by sasl_free(), so the caller may wipe
 * its own as soon as sasl_new() returns.  Nothing here logs a secret or
 * puts one into an err message.
 */
#ifndef FERRY_SASL_H
#define FERRY_SASL_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct err;
struct sasl;

/* Mechanisms ferry knows, weakest first (see sasl_strength()). */
enum sasl_mech {
	SASL_LOGIN,
	SASL_PLAIN,
	SASL_CRAM_MD5,
	SASL_OTP,
	SASL_SCRAM_SHA_1,
	SASL_SCRAM_SHA_256,
	SASL_XOAUTH2,
	SASL_OAUTHBEARER,
	SASL_GSSAPI,
	SASL_MECH_COUNT
};

/* What a mechanism needs from the user. */
enum sasl_cred {
	SASL_CRED_NONE, /* GSSAPI: the Kerberos ticket cache */
	SASL_CRED_PASSWORD, /* PLAIN, LOGIN, CRAM-MD5, SCRAM */
	SASL_CRED_TOKEN, /* XOAUTH2, OAUTHBEARER: an OAuth2 access token */
	SASL_CRED_PASSPHRASE, /* OTP: the S/KEY pass phrase */
};

struct sasl_params {
	enum sasl_mech mech;
	const char *user; /* authentication identity */
	const char *authzid; /* NULL or "": the same as user */
	const char *secret; /* see sasl_mech_cred(); NULL for GSSAPI */
	const char *host; /* server name: GSSAPI target, OAUTHBEARER */
	unsigned port; /* OAUTHBEARER; 0: not sent */
	const char *service; /* GSSAPI service name; NULL: "imap" */
	const char *nonce; /* SCRAM client nonce for tests; NULL: random */
	bool otp_words; /* OTP: answer "word:" six words, not "hex:" */
};

/* The IMAP name ("SCRAM-SHA-256"); "?" for an unknown value. */
const char *sasl_mech_name(enum sasl_mech);
/* Parse a name, any case; 0, or -1 when ferry does not know it. */
int sasl_mech_parse(const char *name, enum sasl_mech *out);
enum sasl_cred sasl_mech_cred(enum sasl_mech);
/* The mechanism sends the secret itself (or a bearer token). */
bool sasl_mech_reveals(enum sasl_mech);
/* The server sends the first challenge (no initial response). */
bool sasl_mech_server_first(enum sasl_mech);
/* Larger is preferred when the user names no order. */
int sasl_strength(enum sasl_mech);
/* Whether this build supports the mechanism (GSSAPI may be absent). */
bool sasl_mech_available(enum sasl_mech);

/*
 * sasl_new(params, err): start an exchange.  Return NULL with err
 * (ERR_CONFIG: a needed secret is missing or too long; ERR_AUTH: GSSAPI
 * has no credentials) on failure.
 */
struct sasl *sasl_new(const struct sasl_params *, struct err *);
/* Wipe and free; NULL is fine. */
void sasl_free(struct sasl *);

/*
 * sasl_step(s, in, len, out, err): in[0..len) is the decoded server
 * challenge, or in is NULL for the initial response of a client-first
 * mechanism.  Append the reply to out (it may be empty).  Return 0, or
 * -1 with err (ERR_AUTH, naming the mechanism: a malformed challenge, a
 * wrong server signature, a server error the mechanism reports in a
 * challenge).  After -1 the caller cancels the exchange.
 */
int sasl_step(struct sasl *, const unsigned char *in, size_t len,
    struct buf *out, struct err *);

/*
 * sasl_done(s, err): the server said OK.  Return 0, or -1 with err
 * (ERR_AUTH) when the mechanism's own check is unfinished (SCRAM: the
 * server signature never arrived).
 */
int sasl_done(struct sasl *, struct err *);

/*
 * sasl_otp(alg, seed, seq, passphrase, out): the RFC 2289 one-time
 * password for sequence number seq: 8 bytes into out.  alg is "md5" or
 * "sha1".  Return 0, or -1 for an unknown algorithm.
 */
int sasl_otp(const char *alg, const char *seed, unsigned seq,
    const char *passphrase, unsigned char out[8]);

/*
 * sasl_otp_words(otp, out): append the six-word form of an RFC 2289
 * one-time password ("INCH SEA ANNE LONG AHEM TOUR") to out.  Return 0,
 * or -1 past out's maximum (out unchanged).
 */
int sasl_otp_words(const unsigned char otp[8], struct buf *out);

#endif
