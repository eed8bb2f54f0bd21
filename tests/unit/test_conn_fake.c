/* SPDX-License-Identifier: ISC */
/*
 * test_conn_fake.c - imap/conn.c against scripted fake servers, no Dovecot.
 *
 * Each test forks a tiny blocking server on the other end of a
 * socketpair(2) (or, for "refused", uses a closed loopback port).  The
 * server speaks plain text, TLS with a certificate made here in memory,
 * and raw DEFLATE, and exits non-zero when the client's bytes are not
 * what the script expects.  The client side runs the real poll loop and
 * checks what a user of conn.h would see: events, bytes, error kinds and
 * messages, and that no callback ever runs inside a conn_*() call.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#define ZLIB_CONST
#include <zlib.h>

#include "imap/conn.h"
#include "tests/t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/loop.h"

#define WAIT_MS 5000
#define BIG ((size_t)4 * 1024 * 1024)

/* The certificate every fake TLS server presents: CN and SAN localhost. */
static EVP_PKEY *srv_key;
static X509 *srv_cert;

static void
make_cert(void)
{
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	X509_NAME *name;

	if (srv_cert != NULL)
		return;
	srv_key = EVP_EC_gen("P-256");
	srv_cert = X509_new();
	if (srv_key == NULL || srv_cert == NULL)
		abort();
	X509_set_version(srv_cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(srv_cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(srv_cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(srv_cert), 86400);
	X509_set_pubkey(srv_cert, srv_key);
	name = X509_get_subject_name(srv_cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(srv_cert, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, srv_cert, srv_cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(
	    NULL, &v3, NID_subject_alt_name, "DNS:localhost");
	if (ext == NULL || !X509_add_ext(srv_cert, ext, -1))
		abort();
	X509_EXTENSION_free(ext);
	if (!X509_sign(srv_cert, srv_key, EVP_sha256()))
		abort();
}

/* The certificate as a PEM file in the test's scratch directory. */
static const char *
cert_file(void)
{
	static char path[4200];
	FILE *f;

	make_cert();
	snprintf(path, sizeof(path), "%s/cert.pem", t_tmpdir());
	f = fopen(path, "w");
	T_ASSERT(f != NULL);
	T_ASSERT(PEM_write_X509(f, srv_cert) == 1);
	T_EQ_INT(fclose(f), 0);
	return path;
}

static void
hex_pin(char *out, size_t n, const unsigned char *md, bool colons)
{
	size_t i, o;

	o = (size_t)snprintf(out, n, "sha256:");
	for (i = 0; i < 32; i++)
		o += (size_t)snprintf(out + o, n - o,
		    colons ? "%s%02X" : "%s%02x", colons && i > 0 ? ":" : "",
		    md[i]);
}

/* "sha256:..." of the certificate (lower case) or of its public key
 * (upper case with colons, as `openssl x509 -fingerprint` prints). */
static void
srv_pin(char *out, size_t n, bool spki)
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int len = 0;
	int dl;

	make_cert();
	if (!spki) {
		T_ASSERT(X509_digest(srv_cert, EVP_sha256(), md, &len) == 1);
		hex_pin(out, n, md, false);
		return;
	}
	dl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(srv_cert), &der);
	T_ASSERT(dl > 0);
	T_ASSERT(EVP_Digest(der, (size_t)dl, md, &len, EVP_sha256(), NULL));
	OPENSSL_free(der);
	hex_pin(out, n, md, true);
}

/* The fake server: blocking I/O, optionally TLS and DEFLATE. */

struct srv {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	bool z;
	z_stream zi, zo;
	char raw[16384];
	char ib[65536];
	size_t ilen;
};

static void srv_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
srv_die(const char *fmt, ...)
{
	va_list ap;

	fputs("fake server: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(3);
}

static ssize_t
srv_raw_read(struct srv *s, char *p, size_t n)
{
	if (s->ssl != NULL) {
		int r = SSL_read(s->ssl, p, (int)n);
		return r > 0 ? r : 0;
	}
	return read(s->fd, p, n);
}

static void
srv_raw_write(struct srv *s, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if (s->ssl != NULL)
			r = SSL_write(s->ssl, p, (int)n);
		else
			r = write(s->fd, p, n);
		if (r <= 0)
			srv_die("write failed");
		p += r;
		n -= (size_t)r;
	}
}

static void
srv_write(struct srv *s, const void *p, size_t n)
{
	char out[16384];

	if (!s->z) {
		srv_raw_write(s, p, n);
		return;
	}
	s->zo.next_in = p;
	s->zo.avail_in = (uInt)n;
	do {
		s->zo.next_out = (Bytef *)out;
		s->zo.avail_out = sizeof(out);
		deflate(&s->zo, Z_SYNC_FLUSH);
		srv_raw_write(s, out, sizeof(out) - s->zo.avail_out);
	} while (s->zo.avail_in > 0 || s->zo.avail_out == 0);
}

static void
srv_puts(struct srv *s, const char *str)
{
	srv_write(s, str, strlen(str));
}

/* Read more into ib; return 0 at EOF. */
static int
srv_fill(struct srv *s)
{
	size_t room = sizeof(s->ib) - s->ilen;
	ssize_t n;
	int r;

	if (room == 0)
		srv_die("input buffer full");
	if (!s->z) {
		if ((n = srv_raw_read(s, s->ib + s->ilen, room)) <= 0)
			return 0;
		s->ilen += (size_t)n;
		return 1;
	}
	if (s->zi.avail_in == 0) {
		if ((n = srv_raw_read(s, s->raw, sizeof(s->raw))) <= 0)
			return 0;
		s->zi.next_in = (const Bytef *)s->raw;
		s->zi.avail_in = (uInt)n;
	}
	s->zi.next_out = (Bytef *)s->ib + s->ilen;
	s->zi.avail_out = (uInt)room;
	r = inflate(&s->zi, Z_SYNC_FLUSH);
	if (r != Z_OK && r != Z_BUF_ERROR)
		srv_die("inflate: %d", r);
	s->ilen += room - s->zi.avail_out;
	return 1;
}

static void
srv_consume(struct srv *s, size_t n)
{
	memmove(s->ib, s->ib + n, s->ilen - n);
	s->ilen -= n;
}

/* Read one line and insist that it is want. */
static void
srv_expect(struct srv *s, const char *want)
{
	char *nl;
	size_t len;

	while ((nl = memchr(s->ib, '\n', s->ilen)) == NULL)
		if (!srv_fill(s))
			srv_die("EOF, expected %s", want);
	len = (size_t)(nl - s->ib) + 1;
	if (len != strlen(want) || memcmp(s->ib, want, len) != 0)
		srv_die("got \"%.*s\", expected \"%s\"", (int)len, s->ib, want);
	srv_consume(s, len);
}

static void
srv_wait_eof(struct srv *s)
{
	while (srv_fill(s))
		s->ilen = 0;
}

static void
srv_tls(struct srv *s)
{
	s->ctx = SSL_CTX_new(TLS_server_method());
	if (s->ctx == NULL || SSL_CTX_use_certificate(s->ctx, srv_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(s->ctx, srv_key) != 1)
		srv_die("server context");
	s->ssl = SSL_new(s->ctx);
	SSL_set_fd(s->ssl, s->fd);
	if (SSL_accept(s->ssl) != 1)
		srv_die("SSL_accept failed");
}

static void
srv_zon(struct srv *s)
{
	if (deflateInit2(&s->zo, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
		Z_DEFAULT_STRATEGY) != Z_OK ||
	    inflateInit2(&s->zi, -15) != Z_OK)
		srv_die("zlib");
	s->z = true;
}

static void
srv_close(struct srv *s)
{
	if (s->ssl != NULL)
		SSL_shutdown(s->ssl);
	close(s->fd);
}

/* A byte of the bulk test pattern at offset i. */
static unsigned char
pat(uint64_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

typedef void script_fn(struct srv *);

/* Fork a server running script on one end of a socketpair; return the
 * other end through *fd_out. */
static pid_t
fake_start(script_fn *script, int *fd_out)
{
	struct srv s;
	int sv[2];
	pid_t pid;

	make_cert();
	T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	T_ASSERT(pid != -1);
	if (pid == 0) {
		close(sv[0]);
		alarm(20);
		signal(SIGPIPE, SIG_IGN);
		memset(&s, 0, sizeof(s));
		s.fd = sv[1];
		script(&s);
		_exit(0);
	}
	close(sv[1]);
	*fd_out = sv[0];
	return pid;
}

/* The server's exit status (0: the client did what it expected). */
static int
fake_wait(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The client side: what a user of conn.h sees. */

struct tc {
	struct loop *loop;
	struct conn *c;
	struct buf in; /* bytes delivered, or those after the pattern */
	int ev[CONN_EV_ERROR + 1];
	bool final; /* CLOSED or ERROR seen */
	bool in_api; /* inside a conn_*() call: no callback allowed */
	struct err err;
	uint64_t npat; /* pattern bytes expected first (bulk tests) */
	uint64_t got_pat;
	bool pat_bad;
	void (*hook)(struct tc *, const char *, size_t);
	void (*ev_hook)(struct tc *, enum conn_event);
};

static void
tc_data(void *arg, const char *p, size_t n)
{
	struct tc *t = arg;

	T_ASSERT(!t->in_api);
	T_ASSERT(!t->final);
	T_ASSERT(n > 0);
	while (n > 0 && t->got_pat < t->npat) {
		if ((unsigned char)*p != pat(t->got_pat))
			t->pat_bad = true;
		t->got_pat++;
		p++;
		n--;
	}
	if (n > 0)
		T_EQ_INT(buf_append(&t->in, p, n), 0);
	if (t->hook != NULL)
		t->hook(t, p, n);
}

static void
tc_event(void *arg, enum conn_event ev, const struct err *e)
{
	struct tc *t = arg;

	T_ASSERT(!t->in_api);
	T_ASSERT(!t->final);
	t->ev[ev]++;
	if (ev == CONN_EV_ERROR) {
		T_ASSERT(e != NULL);
		t->err = *e;
	}
	if (ev == CONN_EV_ERROR || ev == CONN_EV_CLOSED)
		t->final = true;
	if (t->ev_hook != NULL)
		t->ev_hook(t, ev);
}

static void
tc_init(struct tc *t, const struct conn_opts *o)
{
	struct conn_cbs cbs = {tc_data, tc_event, t};

	memset(t, 0, sizeof(*t));
	t->loop = loop_new();
	buf_init(&t->in, 1 << 20);
	err_clear(&t->err);
	t->c = conn_new(t->loop, o, &cbs);
}

static void
tc_release(struct tc *t)
{
	conn_free(t->c);
	loop_free(t->loop);
	buf_release(&t->in);
}

static int
tc_start_fd(struct tc *t, int fd)
{
	struct err e;
	int r;

	t->in_api = true;
	r = conn_start_fd(t->c, fd, &e);
	t->in_api = false;
	return r;
}

static void
tc_write(struct tc *t, const char *s)
{
	struct err e;
	int r;

	t->in_api = true;
	r = conn_write(t->c, s, strlen(s), &e);
	t->in_api = false;
	T_EQ_INT(r, 0);
}

typedef bool pred_fn(const struct tc *, const void *);

static bool
run_until(struct tc *t, pred_fn *pred, const void *arg, int ms)
{
	int64_t end = loop_now_ms() + ms, left;

	while (!pred(t, arg)) {
		if ((left = end - loop_now_ms()) <= 0)
			return false;
		if (loop_run_once(t->loop, left) == -1)
			return pred(t, arg);
	}
	return true;
}

static bool
p_text(const struct tc *t, const void *s)
{
	return strstr(t->in.data, s) != NULL;
}

static bool
p_event(const struct tc *t, const void *ev)
{
	return t->ev[*(const enum conn_event *)ev] > 0;
}

static bool
p_final(const struct tc *t, const void *unused)
{
	(void)unused;
	return t->final;
}

static bool
p_never(const struct tc *t, const void *unused)
{
	(void)t;
	(void)unused;
	return false;
}

static bool
wait_text(struct tc *t, const char *s)
{
	return run_until(t, p_text, s, WAIT_MS);
}

static bool
wait_event(struct tc *t, enum conn_event ev)
{
	return run_until(t, p_event, &ev, WAIT_MS);
}

static bool
wait_final(struct tc *t)
{
	return run_until(t, p_final, NULL, WAIT_MS);
}

static void
run_for(struct tc *t, int ms)
{
	(void)run_until(t, p_never, NULL, ms);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static const struct conn_opts plain_opts = {.host = "localhost"};

/* Plain text: greeting, a command, EOF; byte counts. */

static void
script_plain(struct srv *s)
{
	srv_puts(s, "* OK fake\r\n");
	srv_expect(s, "a NOOP\r\n");
	srv_puts(s, "a OK done\r\n");
	srv_close(s);
}

static void
test_plain_roundtrip(void)
{
	struct tc t;
	int fd;
	pid_t pid = fake_start(script_plain, &fd);

	tc_init(&t, &plain_opts);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_EQ_INT(t.ev[CONN_EV_CONNECTED], 0); /* not from inside the call */
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	T_ASSERT(!conn_is_tls(t.c));
	T_ASSERT(conn_tls_version(t.c) == NULL);
	T_ASSERT(wait_text(&t, "* OK fake\r\n"));
	tc_write(&t, "a NOOP\r\n");
	T_EQ_INT(conn_wpending(t.c), 8);
	T_EQ_INT(t.ev[CONN_EV_DRAINED], 0);
	T_ASSERT(wait_event(&t, CONN_EV_DRAINED));
	T_EQ_INT(conn_wpending(t.c), 0);
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_CLOSED], 1);
	T_EQ_INT(t.ev[CONN_EV_ERROR], 0);
	T_EQ_STR(t.in.data, "* OK fake\r\na OK done\r\n");
	T_EQ_INT(conn_bytes_in(t.c), t.in.len);
	T_EQ_INT(conn_bytes_out(t.c), 8);
	T_EQ_INT(fake_wait(pid), 0);
	tc_release(&t);
}

/* Implicit TLS against the in-memory certificate. */

static void
script_tls(struct srv *s)
{
	srv_tls(s);
	srv_puts(s, "* OK tls\r\n");
	srv_expect(s, "a LOGOUT\r\n");
	srv_puts(s, "* BYE\r\n");
	srv_close(s);
}

static void
script_tls_greet(struct srv *s)
{
	srv_tls(s);
	if (SSL_write(s->ssl, "* OK secret greeting\r\n", 22) != 22)
		return;
	srv_wait_eof(s);
}

/* Connect with o to script_tls; check a complete verified session. */
static void
tls_ok(const struct conn_opts *o)
{
	char buf[200];
	struct tc t;
	int fd;
	pid_t pid = fake_start(script_tls, &fd);

	tc_init(&t, o);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	T_ASSERT(conn_is_tls(t.c));
	T_EQ_STR(conn_tls_version(t.c), "TLSv1.3");
	T_ASSERT(conn_tls_cipher(t.c) != NULL);
	T_EQ_INT(conn_peer_subject(t.c, buf, sizeof(buf)), 0);
	T_EQ_STR(buf, "CN=localhost");
	T_EQ_INT(conn_peer_subject(t.c, buf, 5), -1);
	T_EQ_STR(buf, "CN=l");
	T_ASSERT(wait_text(&t, "* OK tls\r\n"));
	tc_write(&t, "a LOGOUT\r\n");
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_CLOSED], 1);
	T_EQ_STR(t.in.data, "* OK tls\r\n* BYE\r\n");
	T_ASSERT(conn_bytes_in(t.c) > t.in.len); /* TLS records cost */
	T_EQ_INT(fake_wait(pid), 0);
	tc_release(&t);
}

/* Connect with o to a TLS server; expect ERR_TLS mentioning msg. */
static void
tls_refused(const struct conn_opts *o, const char *msg)
{
	struct tc t;
	int fd;
	pid_t pid = fake_start(script_tls_greet, &fd);

	tc_init(&t, o);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_ERROR], 1);
	T_EQ_INT(t.ev[CONN_EV_CONNECTED], 0);
	T_EQ_INT(t.err.kind, ERR_TLS);
	if (strstr(t.err.msg, msg) == NULL)
		t_fail(
		    __FILE__, __LINE__, "\"%s\" lacks \"%s\"", t.err.msg, msg);
	T_EQ_INT(t.in.len, 0); /* not one byte from an unverified server */
	T_ASSERT(!conn_is_tls(t.c));
	tc_release(&t);
	fake_wait(pid); /* its greeting may have hit a closed socket */
}

static void
test_tls_pin_certificate(void)
{
	char pin[120], fp[120];
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_IMPLICIT};
	struct tc t;
	int fd;
	pid_t pid;

	srv_pin(pin, sizeof(pin), false);
	o.fingerprint = pin;
	tls_ok(&o);
	/* conn_peer_fingerprint() prints the form the pin was given in. */
	pid = fake_start(script_tls_greet, &fd);
	tc_init(&t, &o);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	T_EQ_INT(conn_peer_fingerprint(t.c, fp, sizeof(fp)), 0);
	T_EQ_STR(fp, pin);
	T_EQ_INT(conn_peer_fingerprint(t.c, fp, 10), -1);
	tc_release(&t);
	fake_wait(pid);
}

static void
test_tls_pin_public_key(void)
{
	char pin[120];
	struct conn_opts o = {.tls = CONN_TLS_IMPLICIT};

	srv_pin(pin, sizeof(pin), true);
	o.fingerprint = pin;
	o.host = "localhost";
	tls_ok(&o);
	/* A pin overrides name checking too. */
	o.tls_name = "imap.example.org";
	tls_ok(&o);
}

static void
test_tls_pin_mismatch(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_IMPLICIT};
	char pin[120];

	o.fingerprint = "sha256:00112233445566778899aabbccddeeff"
			"00112233445566778899aabbccddeeff";
	tls_refused(&o, "fingerprint mismatch");
	/* A pin mismatch is refused even when the chain verifies. */
	o.ca_file = cert_file();
	tls_refused(&o, "fingerprint mismatch");
	srv_pin(pin, sizeof(pin), false);
	pin[10] = pin[10] == '0' ? '1' : '0';
	o.fingerprint = pin;
	tls_refused(&o, "fingerprint mismatch");
}

static void
test_tls_bad_pin_syntax(void)
{
	static const char *const bad[] = {
	    "00112233",
	    "sha1:0011",
	    "sha256:0011",
	    "sha256:zz",
	    ("sha256:00112233445566778899aabbccddeeff"
	     "00112233445566778899aabbccddeeff00"),
	};
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_IMPLICIT};
	struct err e;
	struct tc t;
	size_t i;
	int sv[2];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.fingerprint = bad[i];
		tc_init(&t, &o);
		T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		T_EQ_INT(conn_start_fd(t.c, sv[0], &e), -1);
		T_EQ_INT(e.kind, ERR_CONFIG);
		T_ASSERT(strstr(e.msg, "fingerprint") != NULL);
		close(sv[1]);
		run_for(&t, 20);
		T_EQ_INT(t.ev[CONN_EV_ERROR], 0); /* no event after -1 */
		tc_release(&t);
	}
}

static void
test_tls_ca_file(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_IMPLICIT};

	o.ca_file = cert_file();
	tls_ok(&o);
	o.tls_name = "imap.example.org";
	tls_refused(&o, "host name mismatch: certificate is not valid for "
			"imap.example.org");
	o.tls_name = "127.0.0.1";
	tls_refused(&o, "host name mismatch: certificate is not valid for "
			"127.0.0.1");
}

static void
test_tls_unknown_ca(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_IMPLICIT};
	struct err e;
	struct tc t;

	tls_refused(&o, "certificate verify failed: self");
	o.ca_file = "/nonexistent/ca.pem";
	o.port = "993";
	tc_init(&t, &o);
	T_EQ_INT(conn_start(t.c, &e), -1);
	T_EQ_INT(e.kind, ERR_TLS);
	T_ASSERT(strstr(e.msg, "/nonexistent/ca.pem") != NULL);
	tc_release(&t);
}

/* STARTTLS and the injection defence. */

static void
script_starttls_inject(struct srv *s)
{
	srv_puts(s, "* OK fake\r\n");
	srv_expect(s, "a STARTTLS\r\n");
	srv_puts(s, "a OK begin\r\n");
	usleep(50000);
	srv_puts(s, "* OK INJECTED\r\n");
	srv_tls(s);
	srv_puts(s, "* OK secure\r\n");
	srv_expect(s, "b NOOP\r\n");
	srv_puts(s, "b OK\r\n");
	srv_close(s);
}

static void
test_starttls_discards_injection(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_STARTTLS};
	struct err e;
	struct tc t;
	int fd, r;
	pid_t pid = fake_start(script_starttls_inject, &fd);

	o.ca_file = cert_file();
	tc_init(&t, &o);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_text(&t, "* OK fake\r\n"));
	T_ASSERT(!conn_is_tls(t.c));
	tc_write(&t, "a STARTTLS\r\n");
	T_ASSERT(wait_text(&t, "a OK begin\r\n"));
	sleep_ms(250); /* the injected line now waits in the socket */
	buf_reset(&t.in);
	t.in_api = true;
	r = conn_starttls(t.c, &e);
	t.in_api = false;
	T_EQ_INT(r, 0);
	T_ASSERT(wait_event(&t, CONN_EV_TLS_READY));
	T_ASSERT(conn_is_tls(t.c));
	T_EQ_INT(t.ev[CONN_EV_CONNECTED], 1);
	T_ASSERT(wait_text(&t, "* OK secure\r\n"));
	tc_write(&t, "b NOOP\r\n");
	T_ASSERT(wait_final(&t));
	T_EQ_STR(t.in.data, "* OK secure\r\nb OK\r\n");
	T_EQ_INT(fake_wait(pid), 0);
	tc_release(&t);
}

static void
script_starttls(struct srv *s)
{
	srv_puts(s, "* OK fake\r\n");
	srv_expect(s, "a STARTTLS\r\n");
	srv_puts(s, "a OK begin\r\n");
	srv_tls(s);
	srv_expect(s, "b NOOP\r\n");
	srv_puts(s, "b OK\r\n");
	srv_close(s);
}

/* conn_starttls() from the data callback that carried the OK. */
static void
hook_starttls(struct tc *t, const char *p, size_t n)
{
	struct err e;

	(void)p;
	(void)n;
	if (strstr(t->in.data, "a OK begin\r\n") == NULL || conn_is_tls(t->c))
		return;
	T_EQ_INT(conn_starttls(t->c, &e), 0);
	T_EQ_INT(conn_starttls(t->c, &e), -1); /* only once */
	buf_reset(&t->in);
}

static void
ev_write_noop(struct tc *t, enum conn_event ev)
{
	struct err e;

	if (ev == CONN_EV_TLS_READY)
		T_EQ_INT(conn_write(t->c, "b NOOP\r\n", 8, &e), 0);
}

static void
test_starttls_from_callback(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_STARTTLS};
	struct err e;
	struct tc t;
	int fd;
	pid_t pid = fake_start(script_starttls, &fd);

	o.ca_file = cert_file();
	tc_init(&t, &o);
	t.hook = hook_starttls;
	t.ev_hook = ev_write_noop;
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_text(&t, "* OK fake\r\n"));
	tc_write(&t, "a STARTTLS\r\n");
	T_EQ_INT(conn_starttls(t.c, &e), -1); /* bytes still queued */
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_TLS_READY], 1);
	T_EQ_INT(t.ev[CONN_EV_CLOSED], 1);
	T_EQ_STR(t.in.data, "b OK\r\n");
	T_EQ_INT(fake_wait(pid), 0);
	tc_release(&t);
}

static void
script_inject_after_hello(struct srv *s)
{
	char b[1];

	srv_puts(s, "* OK fake\r\n");
	srv_expect(s, "a STARTTLS\r\n");
	srv_puts(s, "a OK begin\r\n");
	if (read(s->fd, b, 1) != 1) /* the ClientHello is on its way */
		srv_die("no ClientHello");
	srv_puts(s, "* OK INJECTED\r\n");
	srv_wait_eof(s);
}

static void
test_starttls_injection_after_hello_fails(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_STARTTLS};
	struct err e;
	struct tc t;
	int fd;
	pid_t pid = fake_start(script_inject_after_hello, &fd);

	o.ca_file = cert_file();
	tc_init(&t, &o);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_text(&t, "* OK fake\r\n"));
	tc_write(&t, "a STARTTLS\r\n");
	T_ASSERT(wait_text(&t, "a OK begin\r\n"));
	buf_reset(&t.in);
	T_EQ_INT(conn_starttls(t.c, &e), 0);
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_ERROR], 1);
	T_EQ_INT(t.err.kind, ERR_TLS);
	T_EQ_INT(t.ev[CONN_EV_TLS_READY], 0);
	T_EQ_INT(t.in.len, 0);
	tc_release(&t);
	T_EQ_INT(fake_wait(pid), 0);
}

/* Timeouts. */

static void
script_silent(struct srv *s)
{
	srv_wait_eof(s);
}

static void
test_handshake_timeout(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_IMPLICIT};
	struct tc t;
	int64_t t0;
	int fd;
	pid_t pid = fake_start(script_silent, &fd);

	o.timeout_ms = 200;
	tc_init(&t, &o);
	t0 = loop_now_ms();
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_final(&t));
	T_ASSERT(loop_now_ms() - t0 >= 190);
	T_ASSERT(loop_now_ms() - t0 < 2000);
	T_EQ_INT(t.err.kind, ERR_CONN);
	T_ASSERT(strstr(t.err.msg, "timed out") != NULL);
	tc_release(&t);
	T_EQ_INT(fake_wait(pid), 0);
}

static void
script_greet_then_silent(struct srv *s)
{
	srv_puts(s, "* OK fake\r\n");
	srv_wait_eof(s);
}

static void
test_idle_timeout(void)
{
	struct conn_opts o = {.host = "localhost", .timeout_ms = 200};
	struct tc t;
	int64_t t0;
	int fd;
	pid_t pid = fake_start(script_greet_then_silent, &fd);

	tc_init(&t, &o);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_text(&t, "* OK fake\r\n"));
	conn_expect(t.c, false); /* nothing in flight: wait forever */
	run_for(&t, 500);
	T_ASSERT(!t.final);
	tc_write(&t, "a NOOP\r\n"); /* now an answer is due */
	t0 = loop_now_ms();
	T_ASSERT(wait_final(&t));
	T_ASSERT(loop_now_ms() - t0 >= 190);
	T_EQ_INT(t.err.kind, ERR_CONN);
	T_ASSERT(strstr(t.err.msg, "timed out") != NULL);
	tc_release(&t);
	T_EQ_INT(fake_wait(pid), 0);
}

/* Backpressure and API misuse, with no server at all. */

static void
test_write_queue_cap(void)
{
	struct conn_opts o = {.host = "localhost", .max_wqueue = 1000};
	char data[600] = {0};
	struct err e;
	struct tc t;

	tc_init(&t, &o);
	T_EQ_INT(conn_write(t.c, data, sizeof(data), &e), 0);
	T_EQ_INT(conn_write(t.c, data, sizeof(data), &e), -1);
	T_EQ_INT(e.kind, ERR_LIMIT);
	T_EQ_INT(conn_wpending(t.c), 600);
	T_EQ_INT(conn_write(t.c, data, 400, &e), 0);
	T_EQ_INT(conn_write(t.c, data, 1, &e), -1);
	T_EQ_INT(conn_write(t.c, data, 0, &e), 0);
	T_EQ_INT(conn_wpending(t.c), 1000);
	T_EQ_INT(conn_compress(t.c, &e), -1); /* not open */
	T_EQ_INT(conn_starttls(t.c, &e), -1);
	conn_close(t.c);
	T_EQ_INT(conn_wpending(t.c), 0);
	T_EQ_INT(conn_write(t.c, data, 1, &e), -1);
	T_EQ_INT(e.kind, ERR_CONN);
	tc_release(&t);
	conn_free(NULL);
}

static void
test_resolve_error_is_an_event(void)
{
	struct conn_opts o = {.host = "127.0.0.1", .port = "no-such-port-x"};
	struct err e;
	struct tc t;
	int r;

	tc_init(&t, &o);
	t.in_api = true;
	r = conn_start(t.c, &e);
	t.in_api = false;
	T_EQ_INT(r, 0);
	T_EQ_INT(t.ev[CONN_EV_ERROR], 0);
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_ERROR], 1);
	T_EQ_INT(t.err.kind, ERR_CONN);
	T_ASSERT(strstr(t.err.msg, "cannot resolve") != NULL);
	T_EQ_INT(conn_start(t.c, &e), -1); /* once only */
	tc_release(&t);
}

static void
test_refused(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct conn_opts o = {.host = "127.0.0.1"};
	char port[16];
	struct err e;
	struct tc t;
	int64_t t0;
	int s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_EQ_INT(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	T_EQ_INT(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	close(s); /* nobody listens there now */
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	o.port = port;
	tc_init(&t, &o);
	t0 = loop_now_ms();
	t.in_api = true;
	T_EQ_INT(conn_start(t.c, &e), 0);
	t.in_api = false;
	T_ASSERT(wait_final(&t));
	T_ASSERT(loop_now_ms() - t0 < 1000);
	T_EQ_INT(t.err.kind, ERR_CONN);
	T_ASSERT(strstr(t.err.msg, "refused") != NULL);
	tc_release(&t);
}

/* Closing and freeing from inside callbacks. */

static void
script_chatty(struct srv *s)
{
	int i;

	/* The client may hang up at any point: ignore write errors. */
	for (i = 0; i < 50; i++) {
		if (write(s->fd, "* OK chatter\r\n", 14) != 14)
			break;
		usleep(1000);
	}
	srv_wait_eof(s);
}

static void
hook_free(struct tc *t, const char *p, size_t n)
{
	(void)p;
	(void)n;
	conn_free(t->c);
	t->c = NULL;
}

static void
hook_close(struct tc *t, const char *p, size_t n)
{
	struct err e;

	(void)p;
	(void)n;
	T_EQ_INT(conn_write(t->c, "x", 1, &e), 0);
	conn_close(t->c);
	T_EQ_INT(conn_write(t->c, "x", 1, &e), -1);
}

static void
ev_free(struct tc *t, enum conn_event ev)
{
	if (ev == CONN_EV_CONNECTED) {
		conn_free(t->c);
		t->c = NULL;
	}
}

static void
test_free_and_close_in_callbacks(void)
{
	void (*hooks[])(struct tc *, const char *, size_t) = {
	    hook_free, hook_close, NULL};
	struct tc t;
	size_t i;
	int fd;
	pid_t pid;

	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		pid = fake_start(script_chatty, &fd);
		tc_init(&t, &plain_opts);
		t.hook = hooks[i];
		t.ev_hook = hooks[i] == NULL ? ev_free : NULL;
		T_EQ_INT(tc_start_fd(&t, fd), 0);
		run_for(&t, 150);
		T_EQ_INT(t.ev[CONN_EV_ERROR] + t.ev[CONN_EV_CLOSED], 0);
		if (hooks[i] == NULL)
			T_EQ_INT(t.in.len, 0);
		else
			T_ASSERT(t.in.len > 0 && t.in.len % 14 == 0);
		T_EQ_INT(fake_wait(pid), 0); /* it saw EOF */
		tc_release(&t);
	}
}

/* Bulk data over TLS: 4 MiB each way at once. */

static void
script_bulk(struct srv *s)
{
	char buf[16384];
	uint64_t i, off = 0;
	size_t n, k;

	srv_tls(s);
	for (i = 0; i < BIG; i += n) {
		n = BIG - i < sizeof(buf) ? BIG - i : sizeof(buf);
		for (k = 0; k < n; k++)
			buf[k] = (char)pat(i + k);
		srv_write(s, buf, n);
	}
	while (off < BIG) {
		if (s->ilen == 0 && !srv_fill(s))
			srv_die(
			    "EOF after %llu bytes", (unsigned long long)off);
		for (k = 0; k < s->ilen && off < BIG; k++, off++)
			if ((unsigned char)s->ib[k] != pat(off))
				srv_die("bad byte at %llu",
				    (unsigned long long)off);
		srv_consume(s, k);
	}
	srv_expect(s, "end\r\n");
	srv_puts(s, "ok\r\n");
	srv_close(s);
}

static void
test_tls_bulk_both_ways(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_IMPLICIT};
	static char buf[65536];
	char pin[120];
	struct err e;
	struct tc t;
	uint64_t i;
	size_t k;
	int fd;
	pid_t pid = fake_start(script_bulk, &fd);

	srv_pin(pin, sizeof(pin), false);
	o.fingerprint = pin;
	tc_init(&t, &o);
	t.npat = BIG;
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	for (i = 0; i < BIG; i += sizeof(buf)) {
		for (k = 0; k < sizeof(buf); k++)
			buf[k] = (char)pat(i + k);
		T_EQ_INT(conn_write(t.c, buf, sizeof(buf), &e), 0);
	}
	tc_write(&t, "end\r\n");
	T_ASSERT(run_until(&t, p_text, "ok\r\n", 20000));
	T_EQ_INT(t.got_pat, BIG);
	T_ASSERT(!t.pat_bad);
	T_ASSERT(t.ev[CONN_EV_DRAINED] >= 1);
	T_ASSERT(conn_bytes_out(t.c) > BIG);
	T_ASSERT(conn_bytes_in(t.c) > BIG);
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_CLOSED], 1);
	T_EQ_INT(fake_wait(pid), 0);
	tc_release(&t);
}

/*
 * TLS 1.2 renegotiation started by the server in the middle of a 2 MiB
 * upload: the client's SSL_write() then wants to read, and its SSL_read()
 * may want to write.
 */
static void
script_reneg(struct srv *s)
{
	uint64_t off = 0, half = BIG / 4;
	size_t k;

	s->ctx = SSL_CTX_new(TLS_server_method());
	if (s->ctx == NULL || SSL_CTX_use_certificate(s->ctx, srv_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(s->ctx, srv_key) != 1 ||
	    !SSL_CTX_set_max_proto_version(s->ctx, TLS1_2_VERSION))
		srv_die("server context");
	s->ssl = SSL_new(s->ctx);
	SSL_set_fd(s->ssl, s->fd);
	if (SSL_accept(s->ssl) != 1)
		srv_die("SSL_accept failed");
	while (off < BIG / 2) {
		if (off >= half && half != 0) {
			if (SSL_renegotiate(s->ssl) != 1 ||
			    SSL_do_handshake(s->ssl) != 1)
				srv_die("cannot start renegotiation");
			half = 0;
		}
		if (s->ilen == 0 && !srv_fill(s))
			srv_die(
			    "EOF after %llu bytes", (unsigned long long)off);
		for (k = 0; k < s->ilen && off < BIG / 2; k++, off++)
			if ((unsigned char)s->ib[k] != pat(off))
				srv_die("bad byte at %llu",
				    (unsigned long long)off);
		srv_consume(s, k);
	}
	srv_expect(s, "end\r\n");
	if (SSL_renegotiate_pending(s->ssl) ||
	    SSL_get_secure_renegotiation_support(s->ssl) != 1)
		srv_die("no renegotiation happened");
	srv_puts(s, "ok\r\n");
	srv_close(s);
}

static void
test_tls12_renegotiation(void)
{
	struct conn_opts o = {.host = "localhost", .tls = CONN_TLS_IMPLICIT};
	static char buf[65536];
	char pin[120];
	struct err e;
	struct tc t;
	uint64_t i;
	size_t k;
	int fd;
	pid_t pid = fake_start(script_reneg, &fd);

	srv_pin(pin, sizeof(pin), false);
	o.fingerprint = pin;
	tc_init(&t, &o);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	T_EQ_STR(conn_tls_version(t.c), "TLSv1.2");
	for (i = 0; i < BIG / 2; i += sizeof(buf)) {
		for (k = 0; k < sizeof(buf); k++)
			buf[k] = (char)pat(i + k);
		T_EQ_INT(conn_write(t.c, buf, sizeof(buf), &e), 0);
	}
	tc_write(&t, "end\r\n");
	T_ASSERT(run_until(&t, p_text, "ok\r\n", 20000));
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_CLOSED], 1);
	T_EQ_INT(fake_wait(pid), 0);
	tc_release(&t);
}

/* DEFLATE. */

static void
script_compress(struct srv *s)
{
	char line[64];
	int i;

	srv_puts(s, "* OK fake\r\n");
	srv_expect(s, "c COMPRESS DEFLATE\r\n");
	srv_puts(s, "c OK go\r\n");
	srv_zon(s);
	srv_expect(s, "d NOOP\r\n");
	srv_expect(s, "e NOOP\r\n");
	for (i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line), "* %d line of text\r\n", i);
		srv_expect(s, line);
	}
	srv_puts(s, "d OK\r\ne OK\r\n");
	for (i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line), "* %d EXISTS\r\n", i);
		srv_puts(s, line);
	}
	srv_puts(s, "* BYE\r\n");
	srv_close(s);
}

static void
test_compress_roundtrip(void)
{
	char line[64];
	struct err e;
	struct tc t;
	uint64_t out0;
	int fd, i;
	pid_t pid = fake_start(script_compress, &fd);

	tc_init(&t, &plain_opts);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_text(&t, "* OK fake\r\n"));
	tc_write(&t, "c COMPRESS DEFLATE\r\n");
	T_ASSERT(wait_text(&t, "c OK go\r\n"));
	T_EQ_INT(conn_compress(t.c, &e), 0);
	T_EQ_INT(conn_compress(t.c, &e), -1);
	buf_reset(&t.in);
	out0 = conn_bytes_out(t.c);
	/* Two commands in one batch, then a bulk of lines. */
	tc_write(&t, "d NOOP\r\n");
	tc_write(&t, "e NOOP\r\n");
	for (i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line), "* %d line of text\r\n", i);
		tc_write(&t, line);
	}
	T_ASSERT(wait_text(&t, "* BYE\r\n"));
	T_ASSERT(strncmp(t.in.data, "d OK\r\ne OK\r\n* 0 EXISTS\r\n", 24) == 0);
	T_ASSERT(strstr(t.in.data, "* 19999 EXISTS\r\n* BYE\r\n") != NULL);
	T_ASSERT(conn_bytes_out(t.c) - out0 < 20000 * 10); /* compressed */
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_CLOSED], 1);
	T_EQ_INT(fake_wait(pid), 0);
	tc_release(&t);
}

/* The OK and the first compressed bytes in one read. */
static void
script_compress_rest(struct srv *s)
{
	z_stream *z = &s->zo;
	char out[256];
	size_t n;

	srv_puts(s, "* OK fake\r\n");
	srv_expect(s, "c COMPRESS DEFLATE\r\n");
	memcpy(out, "c OK go\r\n", 9);
	srv_zon(s);
	z->next_in = (const Bytef *)"* 1 EXISTS\r\n";
	z->avail_in = 12;
	z->next_out = (Bytef *)out + 9;
	z->avail_out = sizeof(out) - 9;
	deflate(z, Z_SYNC_FLUSH);
	n = sizeof(out) - z->avail_out;
	srv_raw_write(s, out, n); /* one write: one read on the other end */
	srv_expect(s, "d NOOP\r\n");
	srv_puts(s, "d OK\r\n");
	srv_close(s);
}

static void
hook_compress_rest(struct tc *t, const char *p, size_t n)
{
	const char *ok = "c OK go\r\n";
	struct err e;

	if (n < 9 || memcmp(p, ok, 9) != 0)
		return;
	T_EQ_INT(conn_compress_rest(t->c, p + 9, n - 9, &e), 0);
	buf_reset(&t->in);
}

static void
test_compress_rest(void)
{
	struct tc t;
	int fd;
	pid_t pid = fake_start(script_compress_rest, &fd);

	tc_init(&t, &plain_opts);
	t.hook = hook_compress_rest;
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_text(&t, "* OK fake\r\n"));
	tc_write(&t, "c COMPRESS DEFLATE\r\n");
	T_ASSERT(wait_text(&t, "* 1 EXISTS\r\n"));
	T_EQ_STR(t.in.data, "* 1 EXISTS\r\n");
	tc_write(&t, "d NOOP\r\n");
	T_ASSERT(wait_final(&t));
	T_EQ_STR(t.in.data, "* 1 EXISTS\r\nd OK\r\n");
	T_EQ_INT(fake_wait(pid), 0);
	tc_release(&t);
}

static void
script_bad_deflate(struct srv *s)
{
	srv_puts(s, "* OK fake\r\n");
	srv_expect(s, "c COMPRESS DEFLATE\r\n");
	srv_puts(s, "c OK go\r\n");
	usleep(100000);
	srv_raw_write(s, "\xff\xff\xff\xff garbage", 12);
	srv_wait_eof(s);
}

static void
test_compress_garbage_is_an_error(void)
{
	struct err e;
	struct tc t;
	int fd;
	pid_t pid = fake_start(script_bad_deflate, &fd);

	tc_init(&t, &plain_opts);
	T_EQ_INT(tc_start_fd(&t, fd), 0);
	T_ASSERT(wait_text(&t, "* OK fake\r\n"));
	tc_write(&t, "c COMPRESS DEFLATE\r\n");
	T_ASSERT(wait_text(&t, "c OK go\r\n"));
	T_EQ_INT(conn_compress(t.c, &e), 0);
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.err.kind, ERR_PROTO);
	T_ASSERT(strstr(t.err.msg, "decompress") != NULL);
	tc_release(&t);
	T_EQ_INT(fake_wait(pid), 0);
}

static const struct t_case cases[] = {
    {"plain round trip, EOF, byte counts", test_plain_roundtrip},
    {"TLS pin of the certificate", test_tls_pin_certificate},
    {"TLS pin of the public key", test_tls_pin_public_key},
    {"TLS pin mismatch is refused", test_tls_pin_mismatch},
    {"TLS malformed pin", test_tls_bad_pin_syntax},
    {"TLS with a CA file, name checks", test_tls_ca_file},
    {"TLS unknown CA", test_tls_unknown_ca},
    {"STARTTLS discards injected bytes", test_starttls_discards_injection},
    {"STARTTLS from the data callback", test_starttls_from_callback},
    {"STARTTLS injection after ClientHello",
	test_starttls_injection_after_hello_fails},
    {"handshake timeout", test_handshake_timeout},
    {"idle timeout only while expecting", test_idle_timeout},
    {"write queue cap", test_write_queue_cap},
    {"resolver error is an event", test_resolve_error_is_an_event},
    {"connection refused", test_refused},
    {"free and close inside callbacks", test_free_and_close_in_callbacks},
    {"TLS bulk both ways", test_tls_bulk_both_ways},
    {"TLS 1.2 renegotiation mid-upload", test_tls12_renegotiation},
    {"DEFLATE round trip", test_compress_roundtrip},
    {"DEFLATE bytes after the OK", test_compress_rest},
    {"DEFLATE garbage", test_compress_garbage_is_an_error},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
