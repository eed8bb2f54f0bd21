/* SPDX-License-Identifier: ISC */
/*
 * sasl.c - the SASL mechanisms of sasl.h: PLAIN, LOGIN, CRAM-MD5,
 * SCRAM-SHA-1/256, XOAUTH2, OAUTHBEARER and OTP, each a small state
 * machine over decoded challenges, with OpenSSL's HMAC, digests and
 * PBKDF2.  GSSAPI lives in sasl_gssapi.c and is reached through
 * sasl_gssapi.h.  No I/O, no logging of anything secret.
 *
 * SCRAM, the only mechanism with more than one state:
 *
 *	START --step(NULL)--> SENT_FIRST --step(server-first)-->
 *	SENT_FINAL --step(server-final, signature ok)--> VERIFIED --done--> ok
 *	                                   done before VERIFIED --> error
 */
#include "sasl.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "imap/sasl_gssapi.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

#define SECRET_MAX 8192
#define SCRAM_MIN_ITER 1
#define SCRAM_MAX_ITER 10000000u
#define OTP_MAX_SEQ 10000u

enum sasl_state {
	ST_START,
	ST_SENT_FIRST, /* initial response (or LOGIN's user name) sent */
	ST_SENT_FINAL, /* SCRAM client-final / LOGIN password sent */
	ST_VERIFIED, /* SCRAM server signature checked */
	ST_FAILED, /* the server reported an error in a challenge */
};

static const char *const strstate[] = {
    [ST_START] = "start",
    [ST_SENT_FIRST] = "sent-first",
    [ST_SENT_FINAL] = "sent-final",
    [ST_VERIFIED] = "verified",
    [ST_FAILED] = "failed",
};

struct sasl {
	enum sasl_mech mech;
	enum sasl_state state;
	char *user;
	char *authzid;
	char *secret;
	char *host;
	unsigned port;
	bool otp_words;
	struct buf first_bare; /* SCRAM client-first-message-bare */
	char nonce[64]; /* SCRAM client nonce */
	unsigned char server_sig[EVP_MAX_MD_SIZE];
	unsigned sig_len;
	struct sasl_gss *gss;
};

static const struct {
	const char *name;
	enum sasl_cred cred;
	bool reveals;
	bool server_first;
} mechs[SASL_MECH_COUNT] = {
    [SASL_LOGIN] = {"LOGIN", SASL_CRED_PASSWORD, true, true},
    [SASL_PLAIN] = {"PLAIN", SASL_CRED_PASSWORD, true, false},
    [SASL_CRAM_MD5] = {"CRAM-MD5", SASL_CRED_PASSWORD, false, true},
    [SASL_OTP] = {"OTP", SASL_CRED_PASSPHRASE, false, false},
    [SASL_SCRAM_SHA_1] = {"SCRAM-SHA-1", SASL_CRED_PASSWORD, false, false},
    [SASL_SCRAM_SHA_256] = {"SCRAM-SHA-256", SASL_CRED_PASSWORD, false, false},
    [SASL_XOAUTH2] = {"XOAUTH2", SASL_CRED_TOKEN, true, false},
    [SASL_OAUTHBEARER] = {"OAUTHBEARER", SASL_CRED_TOKEN, true, false},
    [SASL_GSSAPI] = {"GSSAPI", SASL_CRED_NONE, false, false},
};

const char *
sasl_mech_name(enum sasl_mech m)
{
	return (unsigned)m < SASL_MECH_COUNT ? mechs[m].name : "?";
}

int
sasl_mech_parse(const char *name, enum sasl_mech *out)
{
	unsigned i;

	for (i = 0; i < SASL_MECH_COUNT; i++)
		if (strcasecmp(name, mechs[i].name) == 0) {
			*out = (enum sasl_mech)i;
			return 0;
		}
	return -1;
}

enum sasl_cred
sasl_mech_cred(enum sasl_mech m)
{
	return mechs[m].cred;
}

bool
sasl_mech_reveals(enum sasl_mech m)
{
	return mechs[m].reveals;
}

bool
sasl_mech_server_first(enum sasl_mech m)
{
	return mechs[m].server_first;
}

int
sasl_strength(enum sasl_mech m)
{
	return (int)m;
}

bool
sasl_mech_available(enum sasl_mech m)
{
	return m != SASL_GSSAPI || sasl_gss_available();
}

static char *
dup_secret(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int
random_nonce(char *out, size_t cap)
{
	unsigned char raw[18];
	struct buf b;
	int r = -1;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	buf_init(&b, cap - 1);
	if (base64_encode(raw, sizeof(raw), &b) == 0) {
		memcpy(out, b.data, b.len + 1);
		r = 0;
	}
	buf_release(&b);
	return r;
}

struct sasl *
sasl_new(const struct sasl_params *p, struct err *err)
{
	struct sasl *s;
	const char *name = sasl_mech_name(p->mech);

	if ((unsigned)p->mech >= SASL_MECH_COUNT) {
		err_set(err, ERR_CONFIG, "unknown SASL mechanism");
		return NULL;
	}
	if (mechs[p->mech].cred != SASL_CRED_NONE &&
	    (p->secret == NULL || p->secret[0] == '\0')) {
		err_set(err, ERR_CONFIG, "%s: no %s", name,
		    mechs[p->mech].cred == SASL_CRED_TOKEN ? "access token"
							   : "password");
		return NULL;
	}
	if (p->secret != NULL && strlen(p->secret) > SECRET_MAX) {
		err_set(err, ERR_CONFIG, "%s: the secret is too long", name);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->mech = p->mech;
	s->user = xstrdup(p->user ? p->user : "");
	s->authzid = xstrdup(p->authzid ? p->authzid : "");
	s->secret = dup_secret(p->secret);
	s->host = xstrdup(p->host ? p->host : "");
	s->port = p->port;
	s->otp_words = p->otp_words;
	buf_init(&s->first_bare, 4096);
	if (p->nonce != NULL && strlen(p->nonce) < sizeof(s->nonce))
		memcpy(s->nonce, p->nonce, strlen(p->nonce) + 1);
	else if (random_nonce(s->nonce, sizeof(s->nonce)) == -1) {
		err_set(err, ERR_SYS, "%s: no random bytes", name);
		sasl_free(s);
		return NULL;
	}
	if (p->mech == SASL_GSSAPI &&
	    (s->gss = sasl_gss_new(p->service ? p->service : "imap", s->host,
		 s->authzid, err)) == NULL) {
		sasl_free(s);
		return NULL;
	}
	return s;
}

void
sasl_free(struct sasl *s)
{
	if (s == NULL)
		return;
	wipe_free(s->user);
	wipe_free(s->authzid);
	wipe_free(s->secret);
	free(s->host);
	explicit_bzero(s->first_bare.data, s->first_bare.len);
	buf_release(&s->first_bare);
	sasl_gss_free(s->gss);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

static int
too_long(struct sasl *s, struct err *err)
{
	return err_set(
	    err, ERR_LIMIT, "%s: response too long", sasl_mech_name(s->mech));
}

/* RFC 4616: authzid NUL authcid NUL passwd. */
static int
plain_step(struct sasl *s, struct buf *out, struct err *err)
{
	if (buf_puts(out, s->authzid) == -1 || buf_putc(out, '\0') == -1 ||
	    buf_puts(out, s->user) == -1 || buf_putc(out, '\0') == -1 ||
	    buf_puts(out, s->secret) == -1)
		return too_long(s, err);
	return 0;
}

/* "Username:" then "Password:"; the prompts' text is not relied on. */
static int
login_step(struct sasl *s, struct buf *out, struct err *err)
{
	if (s->state == ST_START) {
		s->state = ST_SENT_FIRST;
		return buf_puts(out, s->user) == -1 ? too_long(s, err) : 0;
	}
	if (s->state == ST_SENT_FIRST) {
		s->state = ST_SENT_FINAL;
		return buf_puts(out, s->secret) == -1 ? too_long(s, err) : 0;
	}
	return err_set(err, ERR_AUTH, "LOGIN: unexpected third challenge");
}

static int
put_hex(struct buf *out, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++)
		if (buf_putc(out, hex[p[i] >> 4]) == -1 ||
		    buf_putc(out, hex[p[i] & 15]) == -1)
			return -1;
	return 0;
}

/* RFC 2195: user SP hex(HMAC-MD5(password, challenge)). */
static int
cram_step(struct sasl *s, const unsigned char *in, size_t len, struct buf *out,
    struct err *err)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (s->state != ST_START)
		return err_set(err, ERR_AUTH, "CRAM-MD5: unexpected challenge");
	s->state = ST_SENT_FINAL;
	if (HMAC(EVP_md5(), s->secret, (int)strlen(s->secret), in, len, mac,
		&n) == NULL)
		return err_set(err, ERR_AUTH, "CRAM-MD5: HMAC failed");
	if (buf_puts(out, s->user) == -1 || buf_putc(out, ' ') == -1 ||
	    put_hex(out, mac, n) == -1)
		return too_long(s, err);
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

/* RFC 5802 saslname: ',' and '=' escaped as =2C and =3D. */
static int
put_saslname(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		int r = *s == ','   ? buf_puts(out, "=2C")
			: *s == '=' ? buf_puts(out, "=3D")
				    : buf_putc(out, *s);
		if (r == -1)
			return -1;
	}
	return 0;
}

static const EVP_MD *
scram_md(const struct sasl *s)
{
	return s->mech == SASL_SCRAM_SHA_1 ? EVP_sha1() : EVP_sha256();
}

/*
 * gs2-header: "n," [ "a=" saslname ] ",".  OAUTHBEARER names the user
 * there (servers such as Dovecot take the login name from it).
 */
static int
put_gs2_header(struct buf *out, const struct sasl *s)
{
	const char *a = s->authzid;

	if (a[0] == '\0' && s->mech == SASL_OAUTHBEARER)
		a = s->user;
	if (buf_puts(out, "n,") == -1)
		return -1;
	if (a[0] != '\0' &&
	    (buf_puts(out, "a=") == -1 || put_saslname(out, a) == -1))
		return -1;
	return buf_putc(out, ',');
}

static int
scram_first(struct sasl *s, struct buf *out, struct err *err)
{
	struct buf *b = &s->first_bare;

	if (buf_puts(b, "n=") == -1 || put_saslname(b, s->user) == -1 ||
	    buf_puts(b, ",r=") == -1 || buf_puts(b, s->nonce) == -1 ||
	    put_gs2_header(out, s) == -1 ||
	    buf_append(out, b->data, b->len) == -1)
		return too_long(s, err);
	s->state = ST_SENT_FIRST;
	return 0;
}

/*
 * Find attribute "k=" in a SCRAM message (comma separated); set *v and
 * *vlen.  Return 0, or -1 when absent.
 */
static int
scram_attr(const char *msg, size_t len, char k, const char **v, size_t *vlen)
{
	size_t i = 0, j;

	while (i < len) {
		for (j = i; j < len && msg[j] != ','; j++)
			;
		if (j - i >= 2 && msg[i] == k && msg[i + 1] == '=') {
			*v = msg + i + 2;
			*vlen = j - i - 2;
			return 0;
		}
		i = j + 1;
	}
	return -1;
}

struct scram_keys {
	unsigned char salted[EVP_MAX_MD_SIZE];
	unsigned char client_key[EVP_MAX_MD_SIZE];
	unsigned char stored_key[EVP_MAX_MD_SIZE];
	unsigned char client_sig[EVP_MAX_MD_SIZE];
	unsigned char server_key[EVP_MAX_MD_SIZE];
};

/* Compute the proof into proof[0..mdlen) and keep the server signature. */
static int
scram_keys(struct sasl *s, const struct buf *salt, unsigned iter,
    const struct buf *authmsg, unsigned char *proof)
{
	const EVP_MD *md = scram_md(s);
	int mdlen = EVP_MD_size(md), i, r = -1;
	struct scram_keys k;
	unsigned n;

	if (PKCS5_PBKDF2_HMAC(s->secret, (int)strlen(s->secret),
		(const unsigned char *)salt->data, (int)salt->len, (int)iter,
		md, mdlen, k.salted) != 1)
		goto out_wipe;
	if (HMAC(md, k.salted, mdlen, (const unsigned char *)"Client Key", 10,
		k.client_key, &n) == NULL ||
	    EVP_Digest(k.client_key, (size_t)mdlen, k.stored_key, NULL, md,
		NULL) != 1 ||
	    HMAC(md, k.stored_key, mdlen, (const unsigned char *)authmsg->data,
		authmsg->len, k.client_sig, &n) == NULL ||
	    HMAC(md, k.salted, mdlen, (const unsigned char *)"Server Key", 10,
		k.server_key, &n) == NULL ||
	    HMAC(md, k.server_key, mdlen, (const unsigned char *)authmsg->data,
		authmsg->len, s->server_sig, &s->sig_len) == NULL)
		goto out_wipe;
	for (i = 0; i < mdlen; i++)
		proof[i] = k.client_key[i] ^ k.client_sig[i];
	r = 0;
out_wipe:
	explicit_bzero(&k, sizeof(k));
	return r;
}

/* Parse server-first: nonce, salt, iteration count. */
static int
scram_parse_first(struct sasl *s, const char *in, size_t len, struct str *nonce,
    struct buf *salt, unsigned *iter, struct err *err)
{
	const char *name = sasl_mech_name(s->mech), *v;
	size_t vlen, nl = strlen(s->nonce);
	unsigned long it = 0;

	if (len > 0 && in[0] == 'e')
		return err_set(err, ERR_AUTH, "%s: server error: %.*s", name,
		    (int)(len > 100 ? 100 : len), in);
	if (scram_attr(in, len, 'r', &v, &vlen) == -1 || vlen <= nl ||
	    memcmp(v, s->nonce, nl) != 0)
		return err_set(err, ERR_AUTH,
		    "%s: server nonce missing or does not extend ours", name);
	*nonce = str_make(v, vlen);
	if (scram_attr(in, len, 's', &v, &vlen) == -1 ||
	    base64_decode(v, vlen, salt) == -1 || salt->len == 0)
		return err_set(err, ERR_AUTH, "%s: bad salt", name);
	if (scram_attr(in, len, 'i', &v, &vlen) == -1 || vlen == 0 || vlen > 9)
		return err_set(err, ERR_AUTH, "%s: bad iteration count", name);
	for (; vlen > 0; v++, vlen--) {
		if (!isdigit((unsigned char)*v))
			return err_set(
			    err, ERR_AUTH, "%s: bad iteration count", name);
		it = it * 10 + (unsigned long)(*v - '0');
	}
	if (it < SCRAM_MIN_ITER || it > SCRAM_MAX_ITER)
		return err_set(err, ERR_AUTH,
		    "%s: iteration count %lu out of range", name, it);
	*iter = (unsigned)it;
	return 0;
}

static int
scram_final(struct sasl *s, const unsigned char *in, size_t len,
    struct buf *out, struct err *err)
{
	const char *name = sasl_mech_name(s->mech);
	unsigned char proof[EVP_MAX_MD_SIZE];
	struct buf salt, authmsg, gs2;
	struct str nonce;
	unsigned iter = 0;
	size_t start;
	int r = -1;

	buf_init(&salt, 1024);
	buf_init(&authmsg, 16384);
	buf_init(&gs2, 1024);
	if (scram_parse_first(
		s, (const char *)in, len, &nonce, &salt, &iter, err) == -1)
		goto out_release;
	start = out->len;
	if (put_gs2_header(&gs2, s) == -1 || buf_puts(out, "c=") == -1 ||
	    base64_encode(gs2.data, gs2.len, out) == -1 ||
	    buf_puts(out, ",r=") == -1 ||
	    buf_append(out, nonce.p, nonce.len) == -1 ||
	    buf_append(&authmsg, s->first_bare.data, s->first_bare.len) == -1 ||
	    buf_putc(&authmsg, ',') == -1 ||
	    buf_append(&authmsg, in, len) == -1 ||
	    buf_putc(&authmsg, ',') == -1 ||
	    buf_append(&authmsg, out->data + start, out->len - start) == -1) {
		r = too_long(s, err);
		goto out_release;
	}
	if (scram_keys(s, &salt, iter, &authmsg, proof) == -1) {
		r = err_set(err, ERR_AUTH, "%s: key derivation failed", name);
		goto out_release;
	}
	if (buf_puts(out, ",p=") == -1 ||
	    base64_encode(proof, (size_t)EVP_MD_size(scram_md(s)), out) == -1) {
		r = too_long(s, err);
		goto out_release;
	}
	s->state = ST_SENT_FINAL;
	r = 0;
out_release:
	explicit_bzero(proof, sizeof(proof));
	buf_release(&salt);
	buf_release(&authmsg);
	buf_release(&gs2);
	return r;
}

static int
scram_verify(
    struct sasl *s, const unsigned char *in, size_t len, struct err *err)
{
	const char *name = sasl_mech_name(s->mech), *v;
	size_t vlen;
	struct buf sig;
	int ok;

	if (scram_attr((const char *)in, len, 'e', &v, &vlen) == 0)
		return err_set(err, ERR_AUTH, "%s: server error: %.*s", name,
		    (int)(vlen > 100 ? 100 : vlen), v);
	if (scram_attr((const char *)in, len, 'v', &v, &vlen) == -1)
		return err_set(err, ERR_AUTH, "%s: no server signature", name);
	buf_init(&sig, EVP_MAX_MD_SIZE);
	ok = base64_decode(v, vlen, &sig) == 0 && sig.len == s->sig_len &&
	     CRYPTO_memcmp(sig.data, s->server_sig, sig.len) == 0;
	buf_release(&sig);
	if (!ok)
		return err_set(err, ERR_AUTH,
		    "%s: the server's signature is wrong: it does not know "
		    "the password (or something is in the middle)",
		    name);
	s->state = ST_VERIFIED;
	return 0;
}

static int
scram_step(struct sasl *s, const unsigned char *in, size_t len, struct buf *out,
    struct err *err)
{
	switch (s->state) {
	case ST_START:
		return scram_first(s, out, err);
	case ST_SENT_FIRST:
		return scram_final(s, in, len, out, err);
	case ST_SENT_FINAL:
		return scram_verify(s, in, len, err);
	case ST_VERIFIED:
	case ST_FAILED:
	default:
		return err_set(err, ERR_AUTH, "%s: unexpected challenge in %s",
		    sasl_mech_name(s->mech), strstate[s->state]);
	}
}

/*
 * XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A.  OAUTHBEARER
 * (RFC 7628): gs2-header ^A "host=" h ^A "port=" p ^A "auth=Bearer "
 * token ^A ^A.  A later challenge is a JSON error: XOAUTH2 answers it
 * with an empty line, OAUTHBEARER with ^A; the server then says NO.
 */
/* An OAuth error challenge is JSON with a status, never a secret. */
static void
log_json_error(const char *mech, const unsigned char *in, size_t len)
{
	log_debug("%s: server error: %.*s", mech, (int)(len > 300 ? 300 : len),
	    (const char *)in);
}

static int
oauth_step(struct sasl *s, const unsigned char *in, size_t len, struct buf *out,
    struct err *err)
{
	int r;

	if (s->state != ST_START) {
		s->state = ST_FAILED;
		log_json_error(sasl_mech_name(s->mech), in, len);
		if (s->mech == SASL_OAUTHBEARER)
			return buf_putc(out, '\x01') == -1 ? too_long(s, err)
							   : 0;
		return 0;
	}
	s->state = ST_SENT_FIRST;
	if (s->mech == SASL_XOAUTH2)
		r = buf_printf(out, "user=%s\x01", s->user);
	else {
		r = put_gs2_header(out, s);
		if (r == 0 && s->host[0] != '\0')
			r = buf_printf(out, "\x01host=%s", s->host);
		if (r == 0 && s->port != 0)
			r = buf_printf(out, "\x01port=%u", s->port);
		if (r == 0)
			r = buf_putc(out, '\x01');
	}
	if (r == -1 || buf_puts(out, "auth=Bearer ") == -1 ||
	    buf_puts(out, s->secret) == -1 || buf_puts(out, "\x01\x01") == -1)
		return too_long(s, err);
	return 0;
}

/* RFC 2289 fold of a digest to 64 bits (SHA-1 words little-endian). */
static void
otp_fold(bool sha1, const unsigned char *d, unsigned char out[8])
{
	unsigned char t[8];
	int i;

	for (i = 0; i < 8; i++)
		t[i] = d[i] ^ d[i + 8];
	if (!sha1) {
		memcpy(out, t, 8);
		return;
	}
	for (i = 0; i < 4; i++)
		t[i] ^= d[i + 16];
	for (i = 0; i < 8; i++)
		out[i] = t[(i & ~3) + 3 - (i & 3)];
}

int
sasl_otp(const char *alg, const char *seed, unsigned seq,
    const char *passphrase, unsigned char out[8])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	const EVP_MD *md;
	EVP_MD_CTX *ctx;
	char lseed[17];
	size_t i, n = strlen(seed);
	bool sha1;

	if (strcasecmp(alg, "md5") == 0)
		md = EVP_md5();
	else if (strcasecmp(alg, "sha1") == 0)
		md = EVP_sha1();
	else
		return -1;
	sha1 = md == EVP_sha1();
	if (n == 0 || n >= sizeof(lseed))
		return -1;
	for (i = 0; i <= n; i++)
		lseed[i] = (char)tolower((unsigned char)seed[i]);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, lseed, n) != 1 ||
	    EVP_DigestUpdate(ctx, passphrase, strlen(passphrase)) != 1 ||
	    EVP_DigestFinal_ex(ctx, d, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	EVP_MD_CTX_free(ctx);
	otp_fold(sha1, d, out);
	for (; seq > 0; seq--) {
		if (EVP_Digest(out, 8, d, NULL, md, NULL) != 1)
			return -1;
		otp_fold(sha1, d, out);
	}
	explicit_bzero(d, sizeof(d));
	return 0;
}

/*
 * RFC 2444: the initial response is authzid NUL authcid; the challenge
 * "otp-<alg> <seq> <seed> ext" is answered with "hex:" and 16 digits.
 */
static int
otp_step(struct sasl *s, const unsigned char *in, size_t len, struct buf *out,
    struct err *err)
{
	char ch[128], alg[16], seed[32];
	unsigned char otp[8];
	unsigned seq;
	int r;

	if (s->state == ST_START) {
		s->state = ST_SENT_FIRST;
		if (buf_puts(out, s->authzid) == -1 ||
		    buf_putc(out, '\0') == -1 || buf_puts(out, s->user) == -1)
			return too_long(s, err);
		return 0;
	}
	if (s->state != ST_SENT_FIRST || len >= sizeof(ch))
		return err_set(err, ERR_AUTH, "OTP: unexpected challenge");
	memcpy(ch, in, len);
	ch[len] = '\0';
	if (sscanf(ch, "otp-%15[a-z0-9] %u %31[A-Za-z0-9]", alg, &seq, seed) !=
		3 ||
	    seq > OTP_MAX_SEQ)
		return err_set(
		    err, ERR_AUTH, "OTP: bad challenge \"%.60s\"", ch);
	if (sasl_otp(alg, seed, seq, s->secret, otp) == -1)
		return err_set(err, ERR_AUTH,
		    "OTP: unsupported algorithm or seed in \"%.60s\"", ch);
	s->state = ST_SENT_FINAL;
	if (s->otp_words)
		r = buf_puts(out, "word:") == -1 ||
		    sasl_otp_words(otp, out) == -1;
	else
		r = buf_puts(out, "hex:") == -1 || put_hex(out, otp, 8) == -1;
	explicit_bzero(otp, sizeof(otp));
	return r ? too_long(s, err) : 0;
}

int
sasl_step(struct sasl *s, const unsigned char *in, size_t len, struct buf *out,
    struct err *err)
{
	if (in == NULL && mechs[s->mech].server_first)
		return 0;
	if (in == NULL)
		len = 0;
	switch (s->mech) {
	case SASL_PLAIN:
		if (s->state != ST_START)
			return err_set(
			    err, ERR_AUTH, "PLAIN: unexpected challenge");
		s->state = ST_SENT_FINAL;
		return plain_step(s, out, err);
	case SASL_LOGIN:
		return login_step(s, out, err);
	case SASL_CRAM_MD5:
		return cram_step(s, in, len, out, err);
	case SASL_SCRAM_SHA_1:
	case SASL_SCRAM_SHA_256:
		return scram_step(s, in, len, out, err);
	case SASL_XOAUTH2:
	case SASL_OAUTHBEARER:
		return oauth_step(s, in, len, out, err);
	case SASL_OTP:
		return otp_step(s, in, len, out, err);
	case SASL_GSSAPI:
		return sasl_gss_step(s->gss, in, len, out, err);
	case SASL_MECH_COUNT:
	default:
		break;
	}
	return err_set(err, ERR_AUTH, "unknown SASL mechanism");
}

int
sasl_done(struct sasl *s, struct err *err)
{
	if ((s->mech == SASL_SCRAM_SHA_1 || s->mech == SASL_SCRAM_SHA_256) &&
	    s->state != ST_VERIFIED)
		return err_set(err, ERR_AUTH,
		    "%s: the server accepted us without proving it knows "
		    "the password; refusing the session",
		    sasl_mech_name(s->mech));
	if (s->mech == SASL_GSSAPI && !sasl_gss_complete(s->gss))
		return err_set(err, ERR_AUTH,
		    "GSSAPI: the server said OK before the exchange ended");
	return 0;
}
