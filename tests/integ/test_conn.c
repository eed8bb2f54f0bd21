/* SPDX-License-Identifier: ISC */
/*
 * test_conn.c - imap/conn.c against the private Dovecot of tests/dovecot.sh.
 *
 * Run it as `tests/dovecot.sh run build/tests/test_conn`; without the
 * FERRY_* settings every test is skipped loudly.  The server's certificate
 * is issued by a throwaway CA ($FERRY_CA) for "localhost" only.  Each test
 * drives the real poll loop through a small synchronous helper and checks
 * what a user would see: events, the server's words, error kinds and
 * messages.  Nothing here changes any mailbox.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imap/conn.h"
#include "tests/helpers.h"
#include "tests/t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/loop.h"

#define WAIT_MS 10000

struct tc {
	struct loop *loop;
	struct conn *c;
	struct buf in; /* every byte delivered */
	int ev[CONN_EV_ERROR + 1];
	bool final; /* CLOSED or ERROR seen */
	bool in_api; /* inside a conn_*() call: no callback allowed */
	struct err err;
};

static void
tc_data(void *arg, const char *p, size_t n)
{
	struct tc *t = arg;

	T_ASSERT(!t->in_api);
	T_ASSERT(!t->final);
	T_EQ_INT(buf_append(&t->in, p, n), 0);
}

static void
tc_event(void *arg, enum conn_event ev, const struct err *e)
{
	struct tc *t = arg;

	T_ASSERT(!t->in_api);
	T_ASSERT(!t->final);
	t->ev[ev]++;
	if (ev == CONN_EV_ERROR)
		t->err = *e;
	if (ev == CONN_EV_ERROR || ev == CONN_EV_CLOSED)
		t->final = true;
}

/* Set up and start a connection; conn_start() must return 0. */
static void
tc_start(struct tc *t, const struct conn_opts *o)
{
	struct conn_cbs cbs = {tc_data, tc_event, t};
	struct err e;
	int r;

	memset(t, 0, sizeof(*t));
	t->loop = loop_new();
	buf_init(&t->in, 16 << 20);
	t->c = conn_new(t->loop, o, &cbs);
	t->in_api = true;
	r = conn_start(t->c, &e);
	t->in_api = false;
	if (r != 0)
		t_fail(__FILE__, __LINE__, "conn_start: %s", e.msg);
}

static void
tc_release(struct tc *t)
{
	conn_free(t->c);
	loop_free(t->loop);
	buf_release(&t->in);
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

/* Run the loop until cond(t, arg) holds or ms pass; return cond. */
static bool
run_until(struct tc *t, bool (*cond)(const struct tc *, const void *),
    const void *arg, int ms)
{
	int64_t end = loop_now_ms() + ms, left;

	while (!cond(t, arg)) {
		if ((left = end - loop_now_ms()) <= 0)
			return false;
		if (loop_run_once(t->loop, left) == -1)
			return cond(t, arg);
	}
	return true;
}

static bool
c_text(const struct tc *t, const void *s)
{
	return strstr(t->in.data, s) != NULL;
}

static bool
c_event(const struct tc *t, const void *ev)
{
	return t->ev[*(const enum conn_event *)ev] > 0;
}

static bool
c_final(const struct tc *t, const void *unused)
{
	(void)unused;
	return t->final;
}

/* Whether a complete line "tag ..." has arrived. */
static bool
c_tagged(const struct tc *t, const void *tag)
{
	const char *p = t->in.data;
	size_t n = strlen(tag);

	for (; p != NULL; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL)
		if (strncmp(p, tag, n) == 0 && p[n] == ' ')
			return strstr(p, "\r\n") != NULL;
	return false;
}

static bool
wait_tagged(struct tc *t, const char *tag)
{
	return run_until(t, c_tagged, tag, WAIT_MS);
}

static bool
wait_text(struct tc *t, const char *s)
{
	return run_until(t, c_text, s, WAIT_MS);
}

static bool
wait_event(struct tc *t, enum conn_event ev)
{
	return run_until(t, c_event, &ev, WAIT_MS);
}

static bool
wait_final(struct tc *t)
{
	return run_until(t, c_final, NULL, WAIT_MS);
}

static void
assert_contains(const char *file, int line, const char *hay, const char *s)
{
	if (strstr(hay, s) == NULL)
		t_fail(file, line, "\"%s\" lacks \"%s\"", hay, s);
}
#define T_CONTAINS(hay, s) assert_contains(__FILE__, __LINE__, (hay), (s))

static struct conn_opts
imaps(const char *host)
{
	struct conn_opts o = {.host = host, .tls = CONN_TLS_IMPLICIT};

	th_need_dovecot();
	o.port = th_env("FERRY_IMAPS_PORT");
	return o;
}

/* Expect the connection to end with ERR_TLS naming what failed. */
static void
expect_tls_error(const struct conn_opts *o, const char *msg)
{
	struct tc t;

	tc_start(&t, o);
	T_ASSERT(wait_final(&t));
	T_EQ_INT(t.ev[CONN_EV_CONNECTED], 0);
	T_EQ_INT(t.ev[CONN_EV_ERROR], 1);
	T_EQ_INT(t.err.kind, ERR_TLS);
	T_CONTAINS(t.err.msg, msg);
	T_EQ_INT(t.in.len, 0);
	tc_release(&t);
}

static void
test_implicit_tls(void)
{
	struct conn_opts o = imaps("localhost");
	const char *v;
	char subj[256];
	struct tc t;

	o.ca_file = th_env("FERRY_CA");
	tc_start(&t, &o);
	T_EQ_INT(t.ev[CONN_EV_CONNECTED], 0);
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	T_ASSERT(conn_is_tls(t.c));
	T_ASSERT((v = conn_tls_version(t.c)) != NULL);
	T_ASSERT(strcmp(v, "TLSv1.2") == 0 || strcmp(v, "TLSv1.3") == 0);
	T_EQ_INT(conn_peer_subject(t.c, subj, sizeof(subj)), 0);
	T_CONTAINS(subj, "CN=localhost");
	T_ASSERT(wait_text(&t, "\r\n"));
	T_ASSERT(strncmp(t.in.data, "* OK ", 5) == 0);
	tc_write(&t, "a LOGOUT\r\n");
	T_ASSERT(wait_final(&t));
	T_CONTAINS(t.in.data, "* BYE");
	T_CONTAINS(t.in.data, "a OK");
	T_EQ_INT(t.ev[CONN_EV_CLOSED], 1);
	T_EQ_INT(t.ev[CONN_EV_ERROR], 0);
	T_ASSERT(conn_bytes_in(t.c) > t.in.len);
	tc_release(&t);
}

static void
test_unknown_ca_system(void)
{
	struct conn_opts o = imaps("localhost");

	expect_tls_error(&o, "certificate verify failed: unable to get local "
			     "issuer certificate");
}

static void
test_unknown_ca_file(void)
{
	struct conn_opts o = imaps("localhost");
	char cmd[1024], ca[512];
	const char *dir = t_tmpdir();

	snprintf(ca, sizeof(ca), "%s/other-ca.pem", dir);
	snprintf(cmd, sizeof(cmd),
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
	    " -nodes -keyout '%s/other-ca.key' -out '%s' -days 1"
	    " -subj '/CN=some other CA' >/dev/null 2>&1",
	    dir, ca);
	T_EQ_INT(system(cmd), 0);
	o.ca_file = ca;
	expect_tls_error(&o, "certificate verify failed: unable to get local "
			     "issuer certificate");
}

static void
test_name_mismatch(void)
{
	struct conn_opts o = imaps("127.0.0.1");

	o.ca_file = th_env("FERRY_CA");
	expect_tls_error(
	    &o, "host name mismatch: certificate is not valid for 127.0.0.1");
}

/* The server certificate's fingerprint, learned over a verified link. */
static void
server_fingerprint(char *fp, size_t n)
{
	struct conn_opts o = imaps("localhost");
	struct tc t;

	o.ca_file = th_env("FERRY_CA");
	tc_start(&t, &o);
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	T_EQ_INT(conn_peer_fingerprint(t.c, fp, n), 0);
	T_ASSERT(strncmp(fp, "sha256:", 7) == 0);
	T_EQ_INT(strlen(fp), 7 + 64);
	tc_release(&t);
}

static void
test_pin_accepted(void)
{
	struct conn_opts o = imaps("127.0.0.1"); /* name would not match */
	char fp[100], pin[200];
	size_t i, o2 = 7;
	struct tc t;

	server_fingerprint(fp, sizeof(fp));
	/* Pins are accepted in upper case with colons too. */
	memcpy(pin, "SHA256:", 7);
	for (i = 7; fp[i] != '\0'; i++) {
		if (i > 7 && (i - 7) % 2 == 0)
			pin[o2++] = ':';
		pin[o2++] = (char)(fp[i] >= 'a' ? fp[i] - 32 : fp[i]);
	}
	pin[o2] = '\0';
	o.fingerprint = pin; /* and no CA: the system's do not know it */
	tc_start(&t, &o);
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	T_ASSERT(wait_text(&t, "\r\n"));
	T_ASSERT(strncmp(t.in.data, "* OK ", 5) == 0);
	tc_release(&t);
}

static void
test_pin_mismatch(void)
{
	struct conn_opts o = imaps("localhost");
	char fp[100];

	server_fingerprint(fp, sizeof(fp));
	fp[7] = fp[7] == 'a' ? 'b' : 'a';
	o.fingerprint = fp;
	o.ca_file = th_env("FERRY_CA"); /* the chain is fine, the pin not */
	expect_tls_error(&o, "fingerprint mismatch");
}

static void
test_starttls(void)
{
	struct conn_opts o = imaps("localhost");
	struct err e;
	struct tc t;
	int r;

	o.port = th_env("FERRY_IMAP_PORT");
	o.tls = CONN_TLS_STARTTLS;
	o.ca_file = th_env("FERRY_CA");
	tc_start(&t, &o);
	T_ASSERT(wait_event(&t, CONN_EV_CONNECTED));
	T_ASSERT(!conn_is_tls(t.c));
	T_ASSERT(wait_text(&t, "\r\n"));
	T_ASSERT(strncmp(t.in.data, "* OK ", 5) == 0);
	tc_write(&t, "a STARTTLS\r\n");
	T_ASSERT(wait_tagged(&t, "a"));
	T_CONTAINS(t.in.data, "\r\na OK");
	buf_reset(&t.in);
	t.in_api = true;
	r = conn_starttls(t.c, &e);
	t.in_api = false;
	T_EQ_INT(r, 0);
	T_ASSERT(wait_event(&t, CONN_EV_TLS_READY));
	T_ASSERT(conn_is_tls(t.c));
	tc_write(&t, "b CAPABILITY\r\n");
	T_ASSERT(wait_tagged(&t, "b"));
	T_CONTAINS(t.in.data, "b OK");
	T_CONTAINS(t.in.data, "* CAPABILITY IMAP4rev1");
	T_ASSERT(strstr(t.in.data, "STARTTLS") == NULL); /* done already */
	tc_release(&t);
}

static void
test_refused(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct conn_opts o = imaps("127.0.0.1");
	char port[16];
	int64_t t0;
	struct tc t;
	int s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_EQ_INT(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	T_EQ_INT(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	close(s);
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	o.port = port;
	t0 = loop_now_ms();
	tc_start(&t, &o);
	T_ASSERT(wait_final(&t));
	T_ASSERT(loop_now_ms() - t0 < 1000);
	T_EQ_INT(t.ev[CONN_EV_ERROR], 1);
	T_EQ_INT(t.err.kind, ERR_CONN);
	T_CONTAINS(t.err.msg, "refused");
	tc_release(&t);
}

/* A listener that never accepts: TCP connects, TLS never answers. */
static void
test_timeout(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct conn_opts o = imaps("localhost");
	char port[16];
	int64_t t0, dt;
	struct tc t;
	int s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_EQ_INT(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	T_EQ_INT(listen(s, 4), 0);
	T_EQ_INT(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	o.port = port;
	o.ca_file = th_env("FERRY_CA");
	o.timeout_ms = 300;
	t0 = loop_now_ms();
	tc_start(&t, &o);
	T_ASSERT(wait_final(&t));
	dt = loop_now_ms() - t0;
	close(s);
	T_ASSERT(dt >= 250 && dt < 3000);
	T_EQ_INT(t.err.kind, ERR_CONN);
	T_CONTAINS(t.err.msg, "timed out");
	tc_release(&t);
}

/*
 * Log in, COMPRESS, then pipeline many NOOPs (about 300 KiB up and 600
 * KiB down) and log out.  Over implicit TLS and over plain text.
 */
static void
compress_session(struct conn_opts *o)
{
	enum {
		NOOPS = 20000
	};
	const char *pass = th_env("FERRY_PASS_alice");
	char line[256];
	uint64_t out0;
	struct err e;
	struct tc t;
	int i;

	T_ASSERT(pass != NULL);
	tc_start(&t, o);
	T_ASSERT(wait_text(&t, "\r\n"));
	T_ASSERT(strncmp(t.in.data, "* OK ", 5) == 0);
	snprintf(line, sizeof(line), "a LOGIN \"alice\" \"%s\"\r\n", pass);
	tc_write(&t, line);
	T_ASSERT(wait_tagged(&t, "a"));
	T_CONTAINS(t.in.data, "\r\na OK");
	T_CONTAINS(t.in.data, "COMPRESS=DEFLATE");
	buf_reset(&t.in);
	tc_write(&t, "c COMPRESS DEFLATE\r\n");
	T_ASSERT(wait_tagged(&t, "c"));
	T_ASSERT(strncmp(t.in.data, "c OK", 4) == 0);
	T_EQ_INT(conn_compress(t.c, &e), 0);
	buf_reset(&t.in);
	tc_write(&t, "d NOOP\r\n");
	T_ASSERT(wait_tagged(&t, "d"));
	T_CONTAINS(t.in.data, "d OK");
	out0 = conn_bytes_out(t.c);
	for (i = 0; i < NOOPS; i++) {
		snprintf(line, sizeof(line), "n%d NOOP\r\n", i);
		tc_write(&t, line);
	}
	snprintf(line, sizeof(line), "\r\nn%d OK", NOOPS - 1);
	T_ASSERT(run_until(&t, c_text, line, 60000));
	T_ASSERT(conn_bytes_out(t.c) - out0 < NOOPS * 4); /* compressed */
	tc_write(&t, "e LOGOUT\r\n");
	T_ASSERT(wait_final(&t));
	T_CONTAINS(t.in.data, "* BYE");
	T_CONTAINS(t.in.data, "e OK");
	T_EQ_INT(t.ev[CONN_EV_CLOSED], 1);
	tc_release(&t);
}

static void
test_compress_tls(void)
{
	struct conn_opts o = imaps("localhost");

	o.ca_file = th_env("FERRY_CA");
	compress_session(&o);
}

static void
test_compress_plain(void)
{
	struct conn_opts o = imaps("localhost");

	o.port = th_env("FERRY_IMAP_PORT");
	o.tls = CONN_TLS_NONE;
	compress_session(&o);
}

static const struct t_case cases[] = {
    {"implicit TLS with the CA file", test_implicit_tls},
    {"unknown CA (system CAs)", test_unknown_ca_system},
    {"unknown CA (another CA file)", test_unknown_ca_file},
    {"host name mismatch", test_name_mismatch},
    {"fingerprint pin accepted without CA", test_pin_accepted},
    {"fingerprint pin mismatch refused", test_pin_mismatch},
    {"STARTTLS then CAPABILITY", test_starttls},
    {"connection refused", test_refused},
    {"handshake timeout", test_timeout},
    {"COMPRESS over TLS", test_compress_tls},
    {"COMPRESS over plain text", test_compress_plain},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
