/* SPDX-License-Identifier: ISC */
/*
 * test_sasl.c - unit tests for imap/sasl.c: each mechanism fed the
 * challenges of its RFC's example exchange (CRAM-MD5 RFC 2195,
 * SCRAM-SHA-1 RFC 5802, SCRAM-SHA-256 RFC 7677, OTP RFC 2289 appendix
 * C), and the checks a client owes the server (SCRAM's signature).
 * Then imap_client_auth() against a scripted server on a socketpair: the
 * exact AUTHENTICATE bytes, mechanism choice, and refusals.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imap/client.h"
#include "imap/sasl.h"
#include "t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/loop.h"

static struct sasl *
start(enum sasl_mech m, const char *user, const char *secret, const char *nonce)
{
	struct sasl_params p;
	struct sasl *s;
	struct err e;

	memset(&p, 0, sizeof(p));
	p.mech = m;
	p.user = user;
	p.secret = secret;
	p.nonce = nonce;
	p.host = "imap.example.com";
	p.port = 993;
	s = sasl_new(&p, &e);
	if (s == NULL)
		t_fail(__FILE__, __LINE__, "sasl_new: %s", e.msg);
	return s;
}

/* One step with a text challenge (NULL: initial); the reply as text. */
static void
step(struct sasl *s, const char *in, struct buf *out, int want)
{
	struct err e;
	int r;

	buf_reset(out);
	r = sasl_step(
	    s, (const unsigned char *)in, in ? strlen(in) : 0, out, &e);
	if (r != want)
		t_fail(__FILE__, __LINE__, "sasl_step: %d, want %d (%s)", r,
		    want, r == -1 ? e.msg : "");
}

static void
test_names(void)
{
	enum sasl_mech m;

	T_EQ_INT(sasl_mech_parse("scram-sha-256", &m), 0);
	T_EQ_INT(m, SASL_SCRAM_SHA_256);
	T_EQ_INT(sasl_mech_parse("Cram-MD5", &m), 0);
	T_EQ_STR(sasl_mech_name(m), "CRAM-MD5");
	T_EQ_INT(sasl_mech_parse("KERBEROS_V4", &m), -1);
	T_ASSERT(sasl_mech_reveals(SASL_PLAIN));
	T_ASSERT(sasl_mech_reveals(SASL_LOGIN));
	T_ASSERT(!sasl_mech_reveals(SASL_SCRAM_SHA_1));
	T_ASSERT(sasl_strength(SASL_SCRAM_SHA_256) >
		 sasl_strength(SASL_SCRAM_SHA_1));
	T_ASSERT(sasl_strength(SASL_CRAM_MD5) > sasl_strength(SASL_PLAIN));
	T_EQ_INT(sasl_mech_cred(SASL_XOAUTH2), SASL_CRED_TOKEN);
	T_EQ_INT(sasl_mech_cred(SASL_GSSAPI), SASL_CRED_NONE);
}

static void
test_plain(void)
{
	struct sasl *s = start(SASL_PLAIN, "tim", "tanstaaf", NULL);
	struct buf out;
	struct err e;

	buf_init(&out, 4096);
	step(s, NULL, &out, 0);
	T_EQ_MEM(out.data, out.len, "\0tim\0tanstaaf", 13);
	T_EQ_INT(sasl_done(s, &e), 0);
	sasl_free(s);
	buf_release(&out);
}

static void
test_missing_secret(void)
{
	struct sasl_params p;
	struct err e;

	memset(&p, 0, sizeof(p));
	p.mech = SASL_CRAM_MD5;
	p.user = "tim";
	T_ASSERT(sasl_new(&p, &e) == NULL);
	T_EQ_INT(e.kind, ERR_CONFIG);
	T_ASSERT(strstr(e.msg, "CRAM-MD5") != NULL);
}

static void
test_login(void)
{
	struct sasl *s = start(SASL_LOGIN, "tim", "tanstaaf", NULL);
	struct buf out;

	buf_init(&out, 4096);
	step(s, NULL, &out, 0);
	T_EQ_INT(out.len, 0);
	step(s, "Username:", &out, 0);
	T_EQ_STR(out.data, "tim");
	step(s, "Password:", &out, 0);
	T_EQ_STR(out.data, "tanstaaf");
	step(s, "What?", &out, -1);
	sasl_free(s);
	buf_release(&out);
}

/* RFC 2195 section 2. */
static void
test_cram_md5_rfc2195(void)
{
	struct sasl *s = start(SASL_CRAM_MD5, "tim", "tanstaaftanstaaf", NULL);
	struct buf out;

	buf_init(&out, 4096);
	step(s, "<1896.697170952@postoffice.reston.mci.net>", &out, 0);
	T_EQ_STR(out.data, "tim b913a602c7eda7a495b4e6e7334d3890");
	sasl_free(s);
	buf_release(&out);
}

/* RFC 5802 section 5. */
static void
test_scram_sha1_rfc5802(void)
{
	struct sasl *s = start(
	    SASL_SCRAM_SHA_1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
	struct buf out;
	struct err e;

	buf_init(&out, 4096);
	step(s, NULL, &out, 0);
	T_EQ_STR(out.data, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
	step(s,
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,"
	    "i=4096",
	    &out, 0);
	T_EQ_STR(out.data,
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
	T_EQ_INT(sasl_done(s, &e), -1); /* no signature seen yet */
	step(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", &out, 0);
	T_EQ_INT(out.len, 0);
	T_EQ_INT(sasl_done(s, &e), 0);
	sasl_free(s);
	buf_release(&out);
}

static const char sha256_first[] =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

/* RFC 7677 section 3. */
static void
test_scram_sha256_rfc7677(void)
{
	struct sasl *s =
	    start(SASL_SCRAM_SHA_256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
	struct buf out;
	struct err e;

	buf_init(&out, 4096);
	step(s, "", &out, 0); /* no SASL-IR: an empty first challenge */
	T_EQ_STR(out.data, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
	step(s, sha256_first, &out, 0);
	T_EQ_STR(out.data,
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	step(s, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", &out, 0);
	T_EQ_INT(sasl_done(s, &e), 0);
	sasl_free(s);
	buf_release(&out);
}

/* A server that does not know the password cannot forge v=. */
static void
test_scram_bad_server_signature(void)
{
	struct sasl *s =
	    start(SASL_SCRAM_SHA_256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
	struct buf out;
	struct err e;
	int r;

	buf_init(&out, 4096);
	step(s, NULL, &out, 0);
	step(s, sha256_first, &out, 0);
	r = sasl_step(s,
	    (const unsigned char
		    *)"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	    46, &out, &e);
	T_EQ_INT(r, -1);
	T_EQ_INT(e.kind, ERR_AUTH);
	T_ASSERT(strstr(e.msg, "SCRAM-SHA-256") != NULL);
	T_ASSERT(strstr(e.msg, "pencil") == NULL);
	T_EQ_INT(sasl_done(s, &e), -1);
	sasl_free(s);
	buf_release(&out);
}

static void
test_scram_bad_nonce_and_iterations(void)
{
	struct sasl *s = start(
	    SASL_SCRAM_SHA_1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
	struct buf out;

	buf_init(&out, 4096);
	step(s, NULL, &out, 0);
	step(s, "r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096", &out, -1);
	sasl_free(s);
	s = start(SASL_SCRAM_SHA_1, "user", "pencil", "abc");
	step(s, NULL, &out, 0);
	step(s, "r=abcdef,s=QSXCR+Q6sek8bf92,i=999999999", &out, -1);
	sasl_free(s);
	s = start(SASL_SCRAM_SHA_1, "us,er=", "pencil", "abc");
	step(s, NULL, &out, 0);
	T_EQ_STR(out.data, "n,,n=us=2Cer=3D,r=abc");
	step(s, "e=unknown-user", &out, -1);
	sasl_free(s);
	buf_release(&out);
}

static void
test_oauth(void)
{
	struct sasl *s = start(SASL_XOAUTH2, "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL);
	struct buf out;
	struct err e;

	buf_init(&out, 4096);
	step(s, NULL, &out, 0);
	T_EQ_STR(out.data,
	    "user=someuser@example.com\x01"
	    "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
	    "\x01\x01");
	step(s, "{\"status\":\"401\"}", &out, 0);
	T_EQ_INT(out.len, 0);
	sasl_free(s);
	/* RFC 7628 section 4.1, with the port. */
	s = start(SASL_OAUTHBEARER, "user@example.com",
	    "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==", NULL);
	step(s, NULL, &out, 0);
	T_EQ_STR(out.data,
	    "n,a=user@example.com,\x01host=imap.example.com\x01port=993\x01"
	    "auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg=="
	    "\x01\x01");
	step(s, "{\"status\":\"invalid_token\"}", &out, 0);
	T_EQ_STR(out.data, "\x01");
	T_EQ_INT(sasl_done(s, &e), 0);
	sasl_free(s);
	buf_release(&out);
}

struct otp_vec {
	const char *alg, *pass, *seed;
	unsigned seq;
	const char *hex, *words;
};

/* RFC 2289 appendix C. */
static const struct otp_vec otp_vecs[] = {
    {"md5", "This is a test.", "TeSt", 0, "9e876134d90499dd",
	"INCH SEA ANNE LONG AHEM TOUR"},
    {"md5", "This is a test.", "TeSt", 1, "7965e05436f5029f",
	"EASE OIL FUM CURE AWRY AVIS"},
    {"md5", "This is a test.", "TeSt", 99, "50fe1962c4965880",
	"BAIL TUFT BITS GANG CHEF THY"},
    {"md5", "AbCdEfGhIjK", "alpha1", 0, "87066dd9644bf206",
	"FULL PEW DOWN ONCE MORT ARC"},
    {"md5", "AbCdEfGhIjK", "alpha1", 1, "7cd34c1040add14b",
	"FACT HOOF AT FIST SITE KENT"},
    {"md5", "AbCdEfGhIjK", "alpha1", 99, "5aa37a81f212146c",
	"BODE HOP JAKE STOW JUT RAP"},
    {"md5", "OTP's are good", "correct", 0, "f205753943de4cf9",
	"ULAN NEW ARMY FUSE SUIT EYED"},
    {"md5", "OTP's are good", "correct", 1, "ddcdac956f234937",
	"SKIM CULT LOB SLAM POE HOWL"},
    {"md5", "OTP's are good", "correct", 99, "b203e28fa525be47",
	"LONG IVY JULY AJAR BOND LEE"},
    {"sha1", "This is a test.", "TeSt", 0, "bb9e6ae1979d8ff4",
	"MILT VARY MAST OK SEES WENT"},
    {"sha1", "This is a test.", "TeSt", 1, "63d936639734385b",
	"CART OTTO HIVE ODE VAT NUT"},
    {"sha1", "This is a test.", "TeSt", 99, "87fec7768b73ccf9",
	"GAFF WAIT SKID GIG SKY EYED"},
    {"sha1", "AbCdEfGhIjK", "alpha1", 0, "ad85f658ebe383c9",
	"LEST OR HEEL SCOT ROB SUIT"},
    {"sha1", "AbCdEfGhIjK", "alpha1", 1, "d07ce229b5cf119b",
	"RITE TAKE GELD COST TUNE RECK"},
    {"sha1", "AbCdEfGhIjK", "alpha1", 99, "27bc71035aaf3dc6",
	"MAY STAR TIN LYON VEDA STAN"},
    {"sha1", "OTP's are good", "correct", 0, "d51f3e99bf8e6f0b",
	"RUST WELT KICK FELL TAIL FRAU"},
    {"sha1", "OTP's are good", "correct", 1, "82aeb52d943774e4",
	"FLIT DOSE ALSO MEW DRUM DEFY"},
    {"sha1", "OTP's are good", "correct", 99, "4f296a74fe1567ec",
	"AURA ALOE HURL WING BERG WAIT"},
};

static void
test_otp_rfc2289(void)
{
	unsigned char otp[8];
	struct buf words;
	char hex[17];
	size_t i;
	int j;

	buf_init(&words, 64);
	for (i = 0; i < sizeof(otp_vecs) / sizeof(otp_vecs[0]); i++) {
		const struct otp_vec *v = &otp_vecs[i];

		T_EQ_INT(sasl_otp(v->alg, v->seed, v->seq, v->pass, otp), 0);
		for (j = 0; j < 8; j++)
			snprintf(hex + 2 * j, 3, "%02x", otp[j]);
		if (strcmp(hex, v->hex) != 0)
			t_fail(__FILE__, __LINE__, "%s %s %u: %s, want %s",
			    v->alg, v->seed, v->seq, hex, v->hex);
		buf_reset(&words);
		T_EQ_INT(sasl_otp_words(otp, &words), 0);
		T_EQ_STR(words.data, v->words);
	}
	T_EQ_INT(sasl_otp("md4", "TeSt", 0, "x", otp), -1);
	buf_release(&words);
}

/* RFC 2444 exchange, with the RFC 2289 vector as the answer. */
static void
test_otp_exchange(void)
{
	struct sasl *s = start(SASL_OTP, "tim", "This is a test.", NULL);
	struct buf out;
	struct err e;

	buf_init(&out, 4096);
	step(s, NULL, &out, 0);
	T_EQ_MEM(out.data, out.len, "\0tim", 4);
	step(s, "otp-md5 99 TeSt ext", &out, 0);
	T_EQ_STR(out.data, "hex:50fe1962c4965880");
	T_EQ_INT(sasl_done(s, &e), 0);
	sasl_free(s);
	{
		struct sasl_params p = {SASL_OTP, "tim", NULL, "OTP's are good",
		    NULL, 0, NULL, NULL, true};

		s = sasl_new(&p, &e);
		T_ASSERT(s != NULL);
		step(s, NULL, &out, 0);
		step(s, "otp-sha1 99 correct ext", &out, 0);
		T_EQ_STR(out.data, "word:AURA ALOE HURL WING BERG WAIT");
		sasl_free(s);
	}
	s = start(SASL_OTP, "tim", "This is a test.", NULL);
	step(s, NULL, &out, 0);
	step(s, "otp-md4 99 TeSt ext", &out, -1);
	sasl_free(s);
	buf_release(&out);
}

/* A scripted server: everything it says is written before the client runs. */
struct fake {
	struct loop *loop;
	struct imap_client *c;
	int peer;
	char got[8192];
};

static void
say(struct fake *f, const char *text)
{
	T_EQ_INT(write(f->peer, text, strlen(text)), (long)strlen(text));
}

static void
open_fake(struct fake *f, const char *caps, bool allow_plaintext)
{
	struct imap_client_opts o;
	char greeting[512];
	struct err e;
	int sv[2];

	memset(f, 0, sizeof(*f));
	T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->peer = sv[1];
	fcntl(f->peer, F_SETFL, fcntl(f->peer, F_GETFL) | O_NONBLOCK);
	memset(&o, 0, sizeof(o));
	o.conn.host = "fake.example";
	o.conn.port = "143";
	o.conn.tls = CONN_TLS_NONE;
	o.conn.timeout_ms = 2000;
	o.allow_plaintext = allow_plaintext;
	f->loop = loop_new();
	f->c = imap_client_new(f->loop, &o);
	snprintf(greeting, sizeof(greeting),
	    "* OK [CAPABILITY IMAP4rev1 %s] fake\r\n", caps);
	say(f, greeting);
	if (imap_client_connect_fd(f->c, sv[0], &e) == -1)
		t_fail(__FILE__, __LINE__, "connect: %s", e.msg);
}

/* What the client sent so far. */
static const char *
heard(struct fake *f)
{
	size_t n = 0;
	ssize_t r;

	while ((r = read(f->peer, f->got + n, sizeof(f->got) - 1 - n)) > 0)
		n += (size_t)r;
	f->got[n] = '\0';
	return f->got;
}

static void
close_fake(struct fake *f)
{
	imap_client_free(f->c);
	loop_free(f->loop);
	close(f->peer);
}

struct creds {
	const char *password, *token;
	int calls;
};

static int
get_cred(void *arg, enum sasl_cred kind, struct buf *out, struct err *err)
{
	struct creds *cr = arg;
	const char *v = kind == SASL_CRED_TOKEN ? cr->token : cr->password;

	cr->calls++;
	if (v == NULL)
		return err_set(err, ERR_CONFIG, "no such credential");
	return buf_puts(out, v);
}

static void
auth_init(
    struct imap_auth *a, struct creds *cr, const enum sasl_mech *m, size_t n)
{
	memset(a, 0, sizeof(*a));
	a->user = "tim";
	a->host = "fake.example";
	a->port = 143;
	a->mechs = m;
	a->nmechs = n;
	a->have = (cr->password ? 1u << SASL_CRED_PASSWORD |
				      1u << SASL_CRED_PASSPHRASE
				: 0) |
		  (cr->token ? 1u << SASL_CRED_TOKEN : 0);
	a->get = get_cred;
	a->arg = cr;
}

/* RFC 2444 over IMAP with SASL-IR, answered with RFC 2289's vector. */
static void
test_client_otp(void)
{
	static const enum sasl_mech m[] = {SASL_OTP};
	struct creds cr = {"This is a test.", NULL, 0};
	struct imap_auth a;
	struct fake f;
	struct err e;

	open_fake(&f, "AUTH=OTP SASL-IR", false);
	auth_init(&a, &cr, m, 1);
	/* "otp-md5 99 TeSt ext" */
	say(&f, "+ b3RwLW1kNSA5OSBUZVN0IGV4dA==\r\n"
		"1 OK [CAPABILITY IMAP4rev1] done\r\n");
	T_EQ_INT(imap_client_auth(f.c, &a, &e), 0);
	/* "\0tim", then "hex:50fe1962c4965880" */
	T_EQ_STR(heard(&f), "1 AUTHENTICATE OTP AHRpbQ==\r\n"
			    "aGV4OjUwZmUxOTYyYzQ5NjU4ODA=\r\n");
	T_EQ_INT(imap_client_state(f.c), IMAP_ST_AUTH);
	close_fake(&f);
}

/* A NOOP queued behind the login, and how many commands were out then. */
struct behind {
	uint64_t sent;
	int calls;
	enum imap_status status;
};

static void
behind_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct behind *b = arg;

	(void)c;
	b->calls++;
	b->status = r->status;
}

static void
behind_noop(struct imap_client *c, void *arg)
{
	struct behind *b = arg;
	struct imap_cmd *cmd = imap_cmd_new(c, 0, behind_done, b);

	imap_cmd_printf(cmd, "NOOP");
	imap_cmd_send(cmd);
	b->sent = imap_client_cmds_sent(c);
}

/*
 * PLAIN with SASL-IR is one message: what is queued behind it goes out
 * before its answer.  A mechanism with challenges holds it back, since
 * its next line must be the client's response.
 */
static void
test_client_pipelined_behind(void)
{
	static const enum sasl_mech plain[] = {SASL_PLAIN};
	static const enum sasl_mech otp[] = {SASL_OTP};
	struct creds cr = {"pw", NULL, 0};
	struct behind b = {0, 0, IMAP_STATUS_NONE};
	struct imap_auth a;
	struct fake f;
	struct err e;

	open_fake(&f, "AUTH=PLAIN SASL-IR", true);
	auth_init(&a, &cr, plain, 1);
	imap_client_behind_login(f.c, behind_noop, &b);
	say(&f, "1 OK [CAPABILITY IMAP4rev1] in\r\n2 OK done\r\n");
	T_EQ_INT(imap_client_auth(f.c, &a, &e), 0);
	T_EQ_INT(b.sent, 2);
	T_EQ_INT(imap_client_drain(f.c, &e), 0);
	T_EQ_INT(b.calls, 1);
	T_EQ_INT(b.status, IMAP_STATUS_OK);
	T_EQ_STR(heard(&f), "1 AUTHENTICATE PLAIN AHRpbQBwdw==\r\n2 NOOP\r\n");
	close_fake(&f);

	memset(&b, 0, sizeof(b));
	cr.password = "This is a test.";
	open_fake(&f, "AUTH=OTP SASL-IR", false);
	auth_init(&a, &cr, otp, 1);
	imap_client_behind_login(f.c, behind_noop, &b);
	say(&f, "+ b3RwLW1kNSA5OSBUZVN0IGV4dA==\r\n"
		"1 OK [CAPABILITY IMAP4rev1] done\r\n");
	T_EQ_INT(imap_client_auth(f.c, &a, &e), 0);
	T_EQ_INT(b.sent, 1);
	T_EQ_STR(heard(&f), "1 AUTHENTICATE OTP AHRpbQ==\r\n"
			    "aGV4OjUwZmUxOTYyYzQ5NjU4ODA=\r\n2 NOOP\r\n");
	close_fake(&f);
}

/* RFC 2195's exchange; no SASL-IR, so the server speaks first. */
static void
test_client_cram_md5(void)
{
	static const enum sasl_mech m[] = {SASL_SCRAM_SHA_256, SASL_CRAM_MD5};
	struct creds cr = {"tanstaaftanstaaf", NULL, 0};
	struct imap_auth a;
	struct fake f;
	struct err e;

	open_fake(&f, "AUTH=CRAM-MD5 AUTH=PLAIN", false);
	auth_init(&a, &cr, m, 2);
	say(&f, "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"
		"1 OK [CAPABILITY IMAP4rev1] done\r\n");
	T_EQ_INT(imap_client_auth(f.c, &a, &e), 0);
	T_EQ_STR(heard(&f),
	    "1 AUTHENTICATE CRAM-MD5\r\n"
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
	T_EQ_INT(cr.calls, 1);
	close_fake(&f);
}

/* A refusal is ERR_AUTH naming the mechanism and quoting the server. */
static void
test_client_oauthbearer_refused(void)
{
	static const enum sasl_mech m[] = {SASL_OAUTHBEARER};
	struct creds cr = {NULL, "tok123", 0};
	struct imap_auth a;
	struct fake f;
	struct err e;

	open_fake(&f, "AUTH=OAUTHBEARER SASL-IR", true);
	auth_init(&a, &cr, m, 1);
	say(&f, "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n"
		"1 NO [AUTHENTICATIONFAILED] go away\r\n");
	T_EQ_INT(imap_client_auth(f.c, &a, &e), -1);
	T_EQ_INT(e.kind, ERR_AUTH);
	T_ASSERT(strstr(e.msg, "OAUTHBEARER") != NULL);
	T_ASSERT(strstr(e.msg, "go away") != NULL);
	T_ASSERT(strstr(e.msg, "tok123") == NULL);
	/* the ^A that ends a failed OAUTHBEARER exchange is "AQ==" */
	T_ASSERT(strstr(heard(&f), "\r\nAQ==\r\n") != NULL);
	close_fake(&f);
}

/* PLAIN and LOGIN never go over an unencrypted link by default. */
static void
test_client_refuses_plaintext(void)
{
	static const enum sasl_mech m[] = {SASL_PLAIN, SASL_LOGIN};
	struct creds cr = {"pw", NULL, 0};
	struct imap_auth a;
	struct fake f;
	struct err e;

	open_fake(&f, "AUTH=PLAIN AUTH=LOGIN SASL-IR", false);
	auth_init(&a, &cr, m, 2);
	T_EQ_INT(imap_client_auth(f.c, &a, &e), -1);
	T_EQ_INT(e.kind, ERR_CONFIG);
	T_ASSERT(strstr(e.msg, "PLAIN: unencrypted link") != NULL);
	auth_init(&a, &cr, NULL, 0);
	T_EQ_INT(imap_client_auth(f.c, &a, &e), -1);
	T_EQ_INT(e.kind, ERR_CONFIG);
	T_ASSERT(strstr(e.msg, "unencrypted") != NULL);
	T_EQ_STR(heard(&f), "");
	T_EQ_INT(cr.calls, 0);
	close_fake(&f);
}

/* LOGINDISABLED: no LOGIN command; nothing usable is an auth error. */
static void
test_client_logindisabled(void)
{
	static const enum sasl_mech m[] = {SASL_LOGIN};
	struct creds cr = {"pw", NULL, 0};
	struct imap_auth a;
	struct fake f;
	struct err e;

	open_fake(&f, "LOGINDISABLED", true);
	auth_init(&a, &cr, m, 1);
	T_EQ_INT(imap_client_auth(f.c, &a, &e), -1);
	T_EQ_INT(e.kind, ERR_AUTH);
	T_ASSERT(strstr(e.msg, "LOGIN: not offered") != NULL);
	T_EQ_STR(heard(&f), "");
	close_fake(&f);
}

/* Without a list: the strongest offered; LOGIN command as last resort. */
static void
test_client_default_choice(void)
{
	struct creds cr = {"p w", "tok", 0};
	struct imap_auth a;
	struct fake f;
	struct err e;

	open_fake(&f, "AUTH=PLAIN AUTH=XOAUTH2 SASL-IR", true);
	auth_init(&a, &cr, NULL, 0);
	say(&f, "1 OK [CAPABILITY IMAP4rev1] done\r\n");
	T_EQ_INT(imap_client_auth(f.c, &a, &e), 0);
	/* "user=tim^Aauth=Bearer tok^A^A" */
	T_EQ_STR(heard(&f), "1 AUTHENTICATE XOAUTH2 "
			    "dXNlcj10aW0BYXV0aD1CZWFyZXIgdG9rAQE=\r\n");
	close_fake(&f);
	open_fake(&f, "", true);
	cr.token = NULL;
	auth_init(&a, &cr, NULL, 0);
	say(&f, "1 OK [CAPABILITY IMAP4rev1] done\r\n");
	T_EQ_INT(imap_client_auth(f.c, &a, &e), 0);
	T_EQ_STR(heard(&f), "1 LOGIN tim \"p w\"\r\n");
	close_fake(&f);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
	    {"names", test_names},
	    {"plain", test_plain},
	    {"missing_secret", test_missing_secret},
	    {"login", test_login},
	    {"cram_md5_rfc2195", test_cram_md5_rfc2195},
	    {"scram_sha1_rfc5802", test_scram_sha1_rfc5802},
	    {"scram_sha256_rfc7677", test_scram_sha256_rfc7677},
	    {"scram_bad_server_signature", test_scram_bad_server_signature},
	    {"scram_bad_nonce_and_iterations",
		test_scram_bad_nonce_and_iterations},
	    {"oauth", test_oauth},
	    {"otp_rfc2289", test_otp_rfc2289},
	    {"otp_exchange", test_otp_exchange},
	    {"client: OTP transcript", test_client_otp},
	    {"client: pipelined behind PLAIN, not OTP",
		test_client_pipelined_behind},
	    {"client: CRAM-MD5 transcript", test_client_cram_md5},
	    {"client: OAUTHBEARER refused", test_client_oauthbearer_refused},
	    {"client: no PLAIN in the clear", test_client_refuses_plaintext},
	    {"client: LOGINDISABLED", test_client_logindisabled},
	    {"client: default choice", test_client_default_choice},
	};

	return T_MAIN(cases);
}
