/* SPDX-License-Identifier: ISC */
/*
 * conn.c - one TCP connection with optional TLS and DEFLATE (see conn.h).
 *
 * This is the only file under imap/ that touches sockets, OpenSSL's SSL
 * layer and zlib.  The IMAP client (client.c) sits on top and sees a byte
 * pipe with events.
 *
 *	NEW --start--> CONNECTING --TCP up, IMPLICIT--> HANDSHAKE --ok--> OPEN
 *	                   |                               ^                |
 *	                   +--TCP up, no TLS yet--> OPEN   +--conn_starttls-+
 *
 *	any state --error, EOF or conn_close()--> DONE
 *
 * Layers, from the wire up: sock_send()/sock_recv(), which count bytes,
 * note activity for the idle timeout and never raise SIGPIPE; TLS, whose
 * BIO calls them; DEFLATE; the caller.  Output goes through a queue of
 * chunks that holds bytes already compressed but not yet encrypted, so
 * that SSL_write() can be retried with the same bytes after WANT_READ or
 * WANT_WRITE.  Input is read until the socket or the TLS layer has no
 * more (bounded per wakeup, with a 0 ms "kick" timer to continue), so no
 * decrypted byte is ever left waiting inside OpenSSL.
 *
 * Reentrancy: every loop callback runs between enter() and leave(), and
 * checks the state after each user callback.  conn_free() inside a user
 * callback only closes and marks the connection; leave() frees it.  An
 * API function never calls a user callback: fail() outside a loop
 * callback stores the error and reports it from the kick timer.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#define ZLIB_CONST
#include <zlib.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/xalloc.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#define SSL_get1_peer_certificate SSL_get_peer_certificate
#endif
#ifndef SSL_OP_IGNORE_UNEXPECTED_EOF
#define SSL_OP_IGNORE_UNEXPECTED_EOF 0
#endif
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* the BSDs: SO_NOSIGPIPE is set instead */
#endif

#define CHUNK_SIZE 16384 /* write queue chunk; one TLS record */
#define READ_SIZE 16384
#define READ_BUDGET (1024 * 1024) /* bytes per wakeup before yielding */
#define REST_MAX (1024 * 1024) /* conn_compress_rest() bytes */
#define DISCARD_MAX (1024 * 1024) /* pre-STARTTLS bytes dropped at once */
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_WQUEUE ((size_t)8 * 1024 * 1024)
#define ZPIECE ((size_t)1 << 30) /* fits zlib's uInt */

enum conn_state {
	CS_NEW,
	CS_CONNECTING,
	CS_HANDSHAKE,
	CS_OPEN,
	CS_DONE,
};

static const char *const strstate[] = {
    [CS_NEW] = "new",
    [CS_CONNECTING] = "connecting",
    [CS_HANDSHAKE] = "handshake",
    [CS_OPEN] = "open",
    [CS_DONE] = "done",
};

static const char *const strevent[] = {
    [CONN_EV_CONNECTED] = "connected",
    [CONN_EV_TLS_READY] = "tls-ready",
    [CONN_EV_DRAINED] = "drained",
    [CONN_EV_CLOSED] = "closed",
    [CONN_EV_ERROR] = "error",
};

/* A piece of the write queue: data[off..len) is still to be sent. */
struct chunk {
	struct chunk *next;
	size_t off, len;
	char data[CHUNK_SIZE];
};

struct conn {
	struct loop *loop;
	struct conn_cbs cbs;
	char *host, *port, *ca_file, *fingerprint, *tls_name;
	char *label; /* "host port N", for messages and traces */
	enum conn_tls tls_mode;
	int timeout_ms;
	size_t max_wqueue;

	enum conn_state state;
	int fd;
	unsigned interest; /* what the loop watches fd for */
	int busy; /* loop callbacks of ours on the stack */
	bool doomed; /* conn_free() ran inside a callback */

	struct addrinfo *ai, *ai_cur; /* addresses; the next to try */
	char addr[64]; /* numeric address being tried */
	int conn_errno; /* why the last attempt failed */
	int64_t deadline; /* end of connect + handshake */
	int64_t attempt_deadline; /* end of the current address's turn */

	uint64_t timer; /* deadline or idle timer */
	int64_t timer_at;
	uint64_t kick; /* 0 ms timer: deferred error or more input */
	struct err pending; /* error for the kick timer to report */
	bool expecting; /* the caller waits for bytes */
	bool watching; /* the idle timer is running */
	int64_t last_io; /* last byte moved, either way */

	struct chunk *qhead, *qtail;
	size_t wpending;

	SSL_CTX *ctx;
	BIO_METHOD *biom;
	SSL *ssl;
	X509 *peer;
	unsigned char pin[FINGERPRINT_LEN];
	bool pinned, starttls, tls_up;
	bool hs_want_write; /* the handshake waits for POLLOUT */
	bool wr_wants_read; /* SSL_write waits for input */
	bool rd_wants_write; /* SSL_read waits for POLLOUT */
	bool rd_eof; /* the socket returned EOF (for BIO_eof) */
	int io_errno; /* the socket error behind SSL_ERROR_SYSCALL */

	z_stream zin, zout;
	bool zon, zdirty, zin_end;
	struct buf rest; /* raw input to process before the socket's */

	uint64_t bytes_in, bytes_out;
};

static void pump(struct conn *);
static void on_io(int, unsigned, void *);

/* Loop callbacks and the user's callbacks. */

static void
enter(struct conn *c)
{
	c->busy++;
}

static void
destroy(struct conn *c)
{
	SSL_free(c->ssl); /* frees the BIO */
	BIO_meth_free(c->biom);
	SSL_CTX_free(c->ctx);
	X509_free(c->peer);
	if (c->zon) {
		deflateEnd(&c->zout);
		inflateEnd(&c->zin);
	}
	buf_release(&c->rest);
	free(c->host);
	free(c->port);
	free(c->ca_file);
	free(c->fingerprint);
	free(c->tls_name);
	free(c->label);
	free(c);
}

static void
leave(struct conn *c)
{
	if (--c->busy == 0 && c->doomed)
		destroy(c);
}

static void
emit(struct conn *c, enum conn_event ev, const struct err *e)
{
	assert(c->busy > 0);
	log_trace("conn %s: event %s", c->label, strevent[ev]);
	if (c->cbs.event != NULL)
		c->cbs.event(c->cbs.arg, ev, e);
}

static void
set_state(struct conn *c, enum conn_state s)
{
	log_trace(
	    "conn %s: %s -> %s", c->label, strstate[c->state], strstate[s]);
	c->state = s;
}

/* Timers. */

static void on_timer(void *);

static void
arm_timer(struct conn *c, int64_t at)
{
	if (c->timer != 0) {
		if (c->timer_at == at)
			return;
		loop_timer_del(c->loop, c->timer);
	}
	c->timer_at = at;
	c->timer = loop_timer_add(c->loop, at - loop_now_ms(), on_timer, c);
}

static void
disarm_timer(struct conn *c)
{
	if (c->timer != 0)
		loop_timer_del(c->loop, c->timer);
	c->timer = 0;
}

static void
on_kick(void *arg)
{
	struct conn *c = arg;
	struct err e;

	c->kick = 0;
	enter(c);
	if (c->pending.kind != ERR_NONE) {
		e = c->pending;
		err_clear(&c->pending);
		emit(c, CONN_EV_ERROR, &e);
	} else if (c->state == CS_OPEN) {
		pump(c);
	}
	leave(c);
}

static void
arm_kick(struct conn *c)
{
	if (c->kick == 0)
		c->kick = loop_timer_add(c->loop, 0, on_kick, c);
}

/* Whether the idle timeout applies now (see "Timeouts" in conn.h). */
static bool
watch_wanted(const struct conn *c)
{
	return c->state == CS_OPEN &&
	       (c->expecting || c->wpending > 0 || c->zdirty);
}

static void
update_watch(struct conn *c)
{
	bool want = watch_wanted(c);

	if (want && !c->watching) {
		c->last_io = loop_now_ms();
		arm_timer(c, c->last_io + c->timeout_ms);
	} else if (!want && c->watching) {
		disarm_timer(c);
	}
	c->watching = want;
}

/* Tell the loop what the socket waits for in the current state. */
static void
update_interest(struct conn *c)
{
	unsigned ev;

	switch (c->state) {
	case CS_CONNECTING:
		ev = LOOP_WRITE;
		break;
	case CS_HANDSHAKE:
		ev = c->hs_want_write ? LOOP_WRITE : LOOP_READ;
		break;
	case CS_OPEN:
		ev = LOOP_READ;
		if (((c->wpending > 0 || c->zdirty) && !c->wr_wants_read) ||
		    c->rd_wants_write)
			ev |= LOOP_WRITE;
		break;
	default:
		return;
	}
	if (c->fd >= 0 && ev != c->interest) {
		loop_fd_set(c->loop, c->fd, ev);
		c->interest = ev;
	}
}

/* Errors and the end of the connection. */

/* Free a chunk; it may hold a LOGIN command, so wipe it first. */
static void
chunk_free(struct chunk *k)
{
	explicit_bzero(k->data, k->len);
	free(k);
}

static void
q_free(struct conn *c)
{
	struct chunk *k, *next;

	for (k = c->qhead; k != NULL; k = next) {
		next = k->next;
		chunk_free(k);
	}
	c->qhead = c->qtail = NULL;
	c->wpending = 0;
	c->zdirty = false;
}

static void
drop_socket(struct conn *c)
{
	if (c->fd < 0)
		return;
	loop_fd_del(c->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->interest = 0;
}

/* Release the socket, timers and queues; keep TLS state for queries. */
static void
teardown(struct conn *c)
{
	drop_socket(c);
	disarm_timer(c);
	c->watching = false;
	q_free(c);
	if (c->ai != NULL)
		freeaddrinfo(c->ai);
	c->ai = c->ai_cur = NULL;
	buf_reset(&c->rest);
}

static enum err_kind
errkind(int e)
{
	switch (e) {
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case ENOTCONN:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return ERR_CONN;
	default:
		return ERR_SYS;
	}
}

/*
 * Finish the connection with an error: report it now from a loop
 * callback, or from the kick timer when called from conn_start().
 * Return -1.
 */
static int fail(struct conn *c, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct conn *c, enum err_kind kind, const char *fmt, ...)
{
	struct err e;
	va_list ap;

	va_start(ap, fmt);
	err_vset(&e, kind, fmt, ap);
	va_end(ap);
	log_debug("conn %s: %s", c->label, e.msg);
	teardown(c);
	set_state(c, CS_DONE);
	if (c->busy > 0) {
		emit(c, CONN_EV_ERROR, &e);
	} else {
		c->pending = e;
		arm_kick(c);
	}
	return -1;
}

/* The peer closed the connection; return -1. */
static int
peer_closed(struct conn *c)
{
	teardown(c);
	set_state(c, CS_DONE);
	emit(c, CONN_EV_CLOSED, NULL);
	return -1;
}

/* The socket. */

static ssize_t
sock_recv(struct conn *c, void *p, size_t n)
{
	ssize_t r;

	do
		r = recv(c->fd, p, n, 0);
	while (r == -1 && errno == EINTR);
	if (r > 0) {
		c->bytes_in += (uint64_t)r;
		c->last_io = loop_now_ms();
	}
	return r;
}

static ssize_t
sock_send(struct conn *c, const void *p, size_t n)
{
	ssize_t r;

	do
		r = send(c->fd, p, n, MSG_NOSIGNAL);
	while (r == -1 && errno == EINTR);
	if (r > 0) {
		c->bytes_out += (uint64_t)r;
		c->last_io = loop_now_ms();
	}
	return r;
}

static int
sock_setup(int fd)
{
	int one = 1, fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	/* Commands are small and pipelined: send them at once.  This
	 * fails harmlessly on sockets that are not TCP. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef SO_NOSIGPIPE
	(void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
	return 0;
}

/* OpenSSL reaches the socket through this BIO. */

static int
bio_write(BIO *b, const char *p, size_t n, size_t *done)
{
	struct conn *c = BIO_get_data(b);
	ssize_t r = sock_send(c, p, n);

	BIO_clear_retry_flags(b);
	*done = 0;
	if (r >= 0) {
		*done = (size_t)r;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_write(b);
	else
		c->io_errno = errno;
	return 0;
}

static int
bio_read(BIO *b, char *p, size_t n, size_t *done)
{
	struct conn *c = BIO_get_data(b);
	ssize_t r = sock_recv(c, p, n);

	BIO_clear_retry_flags(b);
	*done = 0;
	if (r > 0) {
		*done = (size_t)r;
		return 1;
	}
	if (r == 0)
		c->rd_eof = true;
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_read(b);
	else
		c->io_errno = errno;
	return 0;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct conn *c = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return c->rd_eof;
	default:
		return 0;
	}
}

/* TLS setup and verification. */

static const char *
verify_name(const struct conn *c)
{
	return c->tls_name != NULL ? c->tls_name : c->host;
}

static bool
is_ip_literal(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* The reason of OpenSSL's earliest queued error; clears the queue. */
static void
tls_reason(char *buf, size_t n)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (r != NULL)
		snprintf(buf, n, "%s", r);
	else if (e != 0)
		ERR_error_string_n(e, buf, n);
	else
		snprintf(buf, n, "unknown error");
	ERR_clear_error();
}

/* Parse opts.fingerprint, "sha256:HEX" with optional colons. */
static int
parse_pin(struct conn *c, struct err *err)
{
	if (c->fingerprint == NULL)
		return 0;
	if (fingerprint_parse(str_from(c->fingerprint), c->pin) == -1)
		goto bad;
	c->pinned = true;
	return 0;
bad:
	return err_set(err, ERR_CONFIG,
	    "bad fingerprint \"%s\": want \"sha256:\" and 64 hex digits",
	    c->fingerprint);
}

static int
make_ctx(struct conn *c, struct err *err)
{
	char why[256];
	int ok;

	ERR_clear_error();
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto out_openssl;
	if (SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1)
		goto out_openssl;
	SSL_CTX_set_options(
	    c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * Verification runs during the handshake, but its verdict is
	 * judged by verify_peer() once the handshake is over, so that a
	 * pin can override it.  No application byte moves before that.
	 */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	if (c->ca_file != NULL)
		ok = SSL_CTX_load_verify_locations(c->ctx, c->ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(c->ctx);
	if (ok != 1) {
		tls_reason(why, sizeof(why));
		return err_set(err, ERR_TLS,
		    "cannot load CA certificates%s%s: %s",
		    c->ca_file ? " from " : "", c->ca_file ? c->ca_file : "",
		    why);
	}
	return 0;
out_openssl:
	tls_reason(why, sizeof(why));
	return err_set(err, ERR_TLS, "cannot set up TLS: %s", why);
}

/* Create the SSL object for a client handshake to verify_name(c). */
static int
tls_begin(struct conn *c, struct err *err)
{
	const char *name = verify_name(c);
	X509_VERIFY_PARAM *param;
	char why[256];
	BIO *bio;
	int ok;

	if (c->ctx == NULL && make_ctx(c, err) == -1)
		return -1;
	ERR_clear_error();
	if (c->biom == NULL) {
		c->biom = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "ferry-conn");
		if (c->biom == NULL ||
		    !BIO_meth_set_write_ex(c->biom, bio_write) ||
		    !BIO_meth_set_read_ex(c->biom, bio_read) ||
		    !BIO_meth_set_ctrl(c->biom, bio_ctrl))
			goto out_openssl;
	}
	if ((c->ssl = SSL_new(c->ctx)) == NULL)
		goto out_openssl;
	/* Read whole socket buffers, not a record header then its body: a
	 * big FETCH takes half the recv() calls. */
	SSL_set_read_ahead(c->ssl, 1);
	if ((bio = BIO_new(c->biom)) == NULL)
		goto out_openssl;
	BIO_set_data(bio, c);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio);
	param = SSL_get0_param(c->ssl);
	X509_VERIFY_PARAM_set_hostflags(
	    param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (is_ip_literal(name))
		ok = X509_VERIFY_PARAM_set1_ip_asc(param, name);
	else
		ok = X509_VERIFY_PARAM_set1_host(param, name, 0) &&
		     SSL_set_tlsext_host_name(c->ssl, name);
	if (!ok)
		goto out_openssl;
	SSL_set_connect_state(c->ssl);
	return 0;
out_openssl:
	tls_reason(why, sizeof(why));
	return err_set(err, ERR_TLS, "cannot set up TLS for %s: %s", name, why);
}

/* Whether the peer's certificate or its public key matches the pin. */
static bool
pin_matches(const struct conn *c)
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int len = 0;
	bool ok = false;
	int n;

	if (X509_digest(c->peer, EVP_sha256(), md, &len) == 1 &&
	    len == sizeof(c->pin) && CRYPTO_memcmp(md, c->pin, len) == 0)
		return true;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c->peer), &der);
	if (n > 0 && EVP_Digest(der, (size_t)n, md, &len, EVP_sha256(), NULL) &&
	    len == sizeof(c->pin) && CRYPTO_memcmp(md, c->pin, len) == 0)
		ok = true;
	OPENSSL_free(der);
	return ok;
}

/* Judge the server after the handshake; fail() and return -1 if bad. */
static int
verify_peer(struct conn *c)
{
	long vr = SSL_get_verify_result(c->ssl);
	char fp[80];

	if (c->peer == NULL)
		return fail(c, ERR_TLS, "%s sent no certificate", c->label);
	if (c->pinned) {
		if (pin_matches(c))
			return 0;
		(void)conn_peer_fingerprint(c, fp, sizeof(fp));
		return fail(c, ERR_TLS,
		    "fingerprint mismatch: the server's certificate is %s", fp);
	}
	if (vr == X509_V_OK)
		return 0;
	if (vr == X509_V_ERR_HOSTNAME_MISMATCH ||
	    vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
		return fail(c, ERR_TLS,
		    "host name mismatch: certificate is not valid for %s",
		    verify_name(c));
	return fail(c, ERR_TLS, "certificate verify failed: %s",
	    X509_verify_cert_error_string(vr));
}

/* Report a failed SSL call; what is e.g. "TLS handshake with". */
static int
tls_fail(struct conn *c, int e, const char *what)
{
	char why[256];

	if (e == SSL_ERROR_SYSCALL && c->io_errno != 0)
		return fail(c, errkind(c->io_errno), "%s %s: %s", what,
		    c->label, strerror(c->io_errno));
	if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
		return fail(c, ERR_CONN, "%s %s: connection closed by peer",
		    what, c->label);
	tls_reason(why, sizeof(why));
	return fail(c, ERR_TLS, "%s %s: %s", what, c->label, why);
}

/* The connection is up: OPEN, tell the caller, then move bytes. */
static void
became_open(struct conn *c, enum conn_event ev)
{
	disarm_timer(c);
	c->watching = false;
	if (ev == CONN_EV_CONNECTED)
		c->expecting = true; /* the greeting */
	set_state(c, CS_OPEN);
	update_watch(c);
	emit(c, ev, NULL);
	if (c->state == CS_OPEN)
		pump(c);
}

static void
handshake(struct conn *c)
{
	int r, e;

	ERR_clear_error();
	c->io_errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		e = SSL_get_error(c->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			tls_fail(c, e, "TLS handshake with");
			return;
		}
		c->hs_want_write = e == SSL_ERROR_WANT_WRITE;
		update_interest(c);
		return;
	}
	c->peer = SSL_get1_peer_certificate(c->ssl);
	if (verify_peer(c) == -1)
		return;
	c->tls_up = true;
	log_trace("conn %s: %s %s", c->label, SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl));
	became_open(c, c->starttls ? CONN_EV_TLS_READY : CONN_EV_CONNECTED);
}

/* Connecting. */

static void
fail_connect(struct conn *c)
{
	const char *a = c->addr[0] != '\0' && c->host != NULL &&
				strcmp(c->addr, c->host) != 0
			    ? c->addr
			    : NULL;

	if (c->conn_errno == ETIMEDOUT)
		fail(c, ERR_CONN, "connection to %s timed out after %d ms",
		    c->label, c->timeout_ms);
	else
		fail(c, errkind(c->conn_errno),
		    "cannot connect to %s%s%s%s: %s", c->label, a ? " (" : "",
		    a ? a : "", a ? ")" : "", strerror(c->conn_errno));
}

static int
open_socket(struct conn *c, const struct addrinfo *ai)
{
	int fd;

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, c->addr, sizeof(c->addr),
		NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(c->addr, sizeof(c->addr), "?");
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd == -1) {
		c->conn_errno = errno;
		return -1;
	}
	if (sock_setup(fd) == -1)
		goto out_close;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS && errno != EINTR)
		goto out_close;
	log_trace("conn %s: connecting to %s", c->label, c->addr);
	c->fd = fd;
	c->interest = LOOP_WRITE;
	loop_fd_add(c->loop, fd, LOOP_WRITE, on_io, c);
	return 0;
out_close:
	c->conn_errno = errno;
	close(fd);
	return -1;
}

/* Try the remaining addresses, each with a fair share of the time left. */
static void
connect_next(struct conn *c)
{
	int64_t now = loop_now_ms();
	const struct addrinfo *ai;
	struct addrinfo *cur;
	int left;

	while ((cur = c->ai_cur) != NULL && now < c->deadline) {
		c->ai_cur = cur->ai_next;
		if (open_socket(c, cur) == -1)
			continue;
		for (left = 0, ai = cur; ai != NULL; ai = ai->ai_next)
			left++;
		c->attempt_deadline = now + (c->deadline - now) / left;
		arm_timer(c, c->attempt_deadline);
		return;
	}
	if (now >= c->deadline)
		c->conn_errno = ETIMEDOUT;
	fail_connect(c);
}

static void
connect_done(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int so = 0;
	struct err e;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so, &len) == -1)
		so = errno;
	if (so != 0) {
		c->conn_errno = so;
		drop_socket(c);
		connect_next(c);
		return;
	}
	len = sizeof(ss);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == -1 &&
	    errno == ENOTCONN)
		return; /* not yet: a stale wakeup */
	if (c->ai != NULL)
		freeaddrinfo(c->ai);
	c->ai = c->ai_cur = NULL;
	if (c->tls_mode != CONN_TLS_IMPLICIT) {
		became_open(c, CONN_EV_CONNECTED);
		return;
	}
	if (tls_begin(c, &e) == -1) {
		fail(c, e.kind, "%s", e.msg);
		return;
	}
	set_state(c, CS_HANDSHAKE);
	arm_timer(c, c->deadline);
	handshake(c);
}

/* The write queue and compression. */

/* The tail chunk, appending a new one when it is full. */
static struct chunk *
q_tail(struct conn *c)
{
	struct chunk *k = c->qtail;

	if (k == NULL || k->len == CHUNK_SIZE) {
		k = xmalloc(sizeof(*k));
		k->next = NULL;
		k->off = k->len = 0;
		if (c->qtail != NULL)
			c->qtail->next = k;
		else
			c->qhead = k;
		c->qtail = k;
	}
	return k;
}

static void
q_append(struct conn *c, const char *p, size_t n)
{
	struct chunk *k;
	size_t m;

	while (n > 0) {
		k = q_tail(c);
		m = CHUNK_SIZE - k->len < n ? CHUNK_SIZE - k->len : n;
		memcpy(k->data + k->len, p, m);
		k->len += m;
		c->wpending += m;
		p += m;
		n -= m;
	}
}

/* Deflate n bytes (n may be 0 for a flush) onto the queue. */
static void
zpush(struct conn *c, const char *p, size_t n, int flush)
{
	z_stream *z = &c->zout;
	struct chunk *k;
	size_t piece, room;
	int r;

	do {
		piece = n < ZPIECE ? n : ZPIECE;
		z->next_in = (const Bytef *)p;
		z->avail_in = (uInt)piece;
		do {
			k = q_tail(c);
			room = CHUNK_SIZE - k->len;
			z->next_out = (Bytef *)k->data + k->len;
			z->avail_out = (uInt)room;
			r = deflate(z, piece == n ? flush : Z_NO_FLUSH);
			assert(r == Z_OK || r == Z_BUF_ERROR);
			(void)r;
			k->len += room - z->avail_out;
			c->wpending += room - z->avail_out;
		} while (z->avail_in > 0 || z->avail_out == 0);
		p += piece;
		n -= piece;
	} while (n > 0);
}

static ssize_t
plain_write(struct conn *c, const char *p, size_t n)
{
	ssize_t r = sock_send(c, p, n);

	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	return fail(c, errkind(errno), "cannot write to %s: %s", c->label,
	    strerror(errno));
}

static ssize_t
tls_write(struct conn *c, const char *p, size_t n)
{
	size_t done = 0;
	int e;

	ERR_clear_error();
	c->io_errno = 0;
	c->wr_wants_read = false;
	if (SSL_write_ex(c->ssl, p, n, &done) == 1)
		return (ssize_t)done;
	e = SSL_get_error(c->ssl, 0);
	if (e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_WANT_READ) {
		c->wr_wants_read = true; /* e.g. a renegotiation */
		return 0;
	}
	return tls_fail(c, e, "TLS write to");
}

/* Write queued bytes until the socket is full; -1 when finished. */
static int
flush_out(struct conn *c)
{
	bool had = c->wpending > 0 || c->zdirty;
	struct chunk *k;
	ssize_t n;

	if (c->zdirty) {
		zpush(c, "", 0, Z_SYNC_FLUSH);
		c->zdirty = false;
	}
	while ((k = c->qhead) != NULL) {
		if (k->off < k->len) {
			n = c->ssl ? tls_write(
					 c, k->data + k->off, k->len - k->off)
				   : plain_write(
					 c, k->data + k->off, k->len - k->off);
			if (n <= 0)
				return (int)n;
			k->off += (size_t)n;
			c->wpending -= (size_t)n;
		}
		if (k->off == k->len) {
			c->qhead = k->next;
			if (c->qhead == NULL)
				c->qtail = NULL;
			chunk_free(k);
		}
	}
	if (had) {
		emit(c, CONN_EV_DRAINED, NULL);
		if (c->state != CS_OPEN)
			return -1;
	}
	return 0;
}

/* Input. */

/* Hand bytes to the caller, inflating first if compression is on. */
static int
deliver(struct conn *c, const char *p, size_t n)
{
	char out[READ_SIZE];
	size_t got;
	int r;

	if (!c->zon) {
		c->cbs.data(c->cbs.arg, p, n);
		return c->state == CS_OPEN ? 0 : -1;
	}
	if (c->zin_end)
		return fail(c, ERR_PROTO,
		    "%s sent data after the end of "
		    "its compressed stream",
		    c->label);
	c->zin.next_in = (const Bytef *)p;
	c->zin.avail_in = (uInt)n;
	for (;;) {
		c->zin.next_out = (Bytef *)out;
		c->zin.avail_out = sizeof(out);
		r = inflate(&c->zin, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
			return fail(c, ERR_PROTO,
			    "cannot decompress data from "
			    "%s: %s",
			    c->label, c->zin.msg ? c->zin.msg : zError(r));
		got = sizeof(out) - c->zin.avail_out;
		if (got > 0) {
			c->cbs.data(c->cbs.arg, out, got);
			if (c->state != CS_OPEN)
				return -1;
		}
		if (r == Z_STREAM_END) {
			c->zin_end = true;
			if (c->zin.avail_in == 0)
				return 0;
			return fail(c, ERR_PROTO,
			    "%s sent data after the end "
			    "of its compressed stream",
			    c->label);
		}
		if (c->zin.avail_in == 0 && c->zin.avail_out != 0)
			return 0;
	}
}

static ssize_t
plain_read(struct conn *c, char *p, size_t n)
{
	ssize_t r = sock_recv(c, p, n);

	if (r > 0)
		return r;
	if (r == 0)
		return peer_closed(c);
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	return fail(c, errkind(errno), "cannot read from %s: %s", c->label,
	    strerror(errno));
}

static ssize_t
tls_read(struct conn *c, char *p, size_t n)
{
	size_t got = 0;
	int e;

	ERR_clear_error();
	c->io_errno = 0;
	c->rd_wants_write = false;
	if (SSL_read_ex(c->ssl, p, n, &got) == 1)
		return (ssize_t)got;
	e = SSL_get_error(c->ssl, 0);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		c->rd_wants_write = true;
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN ||
	    (e == SSL_ERROR_SYSCALL && c->io_errno == 0)) {
		ERR_clear_error();
		return peer_closed(c);
	}
	return tls_fail(c, e, "TLS read from");
}

/* Deliver what can be read now; -1 when the connection left OPEN. */
static int
read_in(struct conn *c)
{
	char buf[READ_SIZE], *p;
	size_t total = 0, len;
	ssize_t n;
	int r;

	while (c->state == CS_OPEN) {
		if (c->rest.len > 0) {
			p = buf_detach(&c->rest, &len);
			buf_init(&c->rest, REST_MAX);
			r = deliver(c, p, len);
			free(p);
			if (r == -1)
				return -1;
			continue;
		}
		if (total >= READ_BUDGET) {
			arm_kick(c); /* let other connections run */
			return 0;
		}
		n = c->ssl ? tls_read(c, buf, sizeof(buf))
			   : plain_read(c, buf, sizeof(buf));
		if (n <= 0)
			return (int)n;
		total += (size_t)n;
		if (deliver(c, buf, (size_t)n) == -1)
			return -1;
	}
	return -1;
}

/* Move bytes both ways in the OPEN state, then set what to wait for. */
static void
pump(struct conn *c)
{
	if (read_in(c) == -1)
		return;
	if (flush_out(c) == -1)
		return;
	/* SSL_write() may have read a record with application data, or
	 * more bytes than one record (read-ahead). */
	if (c->ssl != NULL && SSL_has_pending(c->ssl))
		arm_kick(c);
	update_interest(c);
	update_watch(c);
}

static void
on_io(int fd, unsigned events, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)events;
	enter(c);
	switch (c->state) {
	case CS_CONNECTING:
		connect_done(c);
		break;
	case CS_HANDSHAKE:
		handshake(c);
		break;
	case CS_OPEN:
		pump(c);
		break;
	default:
		break;
	}
	leave(c);
}

static void
on_timer(void *arg)
{
	struct conn *c = arg;
	int64_t now = loop_now_ms();

	c->timer = 0;
	enter(c);
	switch (c->state) {
	case CS_CONNECTING:
		if (now < c->attempt_deadline) {
			arm_timer(c, c->attempt_deadline);
			break;
		}
		c->conn_errno = ETIMEDOUT;
		drop_socket(c);
		connect_next(c);
		break;
	case CS_HANDSHAKE:
		if (now < c->deadline)
			arm_timer(c, c->deadline);
		else
			fail(c, ERR_CONN,
			    "TLS handshake with %s timed out "
			    "after %d ms",
			    c->label, c->timeout_ms);
		break;
	case CS_OPEN:
		if (!watch_wanted(c))
			c->watching = false;
		else if (now - c->last_io < c->timeout_ms)
			arm_timer(c, c->last_io + c->timeout_ms);
		else
			fail(c, ERR_CONN,
			    "connection to %s timed out: "
			    "nothing moved for %d ms",
			    c->label, c->timeout_ms);
		break;
	default:
		break;
	}
	leave(c);
}

/* The API. */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct conn *
conn_new(
    struct loop *loop, const struct conn_opts *o, const struct conn_cbs *cbs)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	assert(cbs->data != NULL);
	c->loop = loop;
	c->cbs = *cbs;
	c->host = dup_or_null(o->host);
	c->port = dup_or_null(o->port);
	c->ca_file = dup_or_null(o->ca_file);
	c->fingerprint = dup_or_null(o->fingerprint);
	c->tls_name = dup_or_null(o->tls_name);
	if (c->host != NULL && c->port != NULL)
		c->label = xasprintf("%s port %s", c->host, c->port);
	else
		c->label = xstrdup(c->host != NULL ? c->host : "socket");
	c->tls_mode = o->tls;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->max_wqueue = o->max_wqueue > 0 ? o->max_wqueue : DEFAULT_MAX_WQUEUE;
	c->fd = -1;
	buf_init(&c->rest, REST_MAX);
	return c;
}

/* What conn_start() and conn_start_fd() check before connecting. */
static int
prepare(struct conn *c, struct err *err)
{
	if (c->state != CS_NEW)
		return err_set(err, ERR_SYS, "%s: already started", c->label);
	if (parse_pin(c, err) == -1)
		return -1;
	if (c->tls_mode != CONN_TLS_NONE && verify_name(c) == NULL)
		return err_set(err, ERR_CONFIG, "TLS needs a host name");
	if (c->tls_mode != CONN_TLS_NONE && make_ctx(c, err) == -1)
		return -1;
	c->deadline = loop_now_ms() + c->timeout_ms;
	return 0;
}

int
conn_start(struct conn *c, struct err *err)
{
	struct addrinfo hints;
	int r;

	if (c->host == NULL || c->port == NULL)
		return err_set(
		    err, ERR_CONFIG, "no host or port to connect to");
	if (prepare(c, err) == -1)
		return -1;
	set_state(c, CS_CONNECTING);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(c->host, c->port, &hints, &c->ai);
	if (r != 0) {
		c->ai = NULL;
		fail(c, ERR_CONN, "cannot resolve %s: %s", c->label,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return 0;
	}
	c->ai_cur = c->ai;
	connect_next(c);
	return 0;
}

int
conn_start_fd(struct conn *c, int fd, struct err *err)
{
	if (prepare(c, err) == -1)
		goto out_close;
	if (sock_setup(fd) == -1) {
		err_sys(err, "cannot set up socket");
		goto out_close;
	}
	set_state(c, CS_CONNECTING);
	c->fd = fd;
	c->interest = LOOP_WRITE;
	loop_fd_add(c->loop, fd, LOOP_WRITE, on_io, c);
	c->attempt_deadline = c->deadline;
	arm_timer(c, c->deadline);
	return 0;
out_close:
	close(fd);
	return -1;
}

int
conn_write(struct conn *c, const void *p, size_t n, struct err *err)
{
	if (c->state == CS_DONE)
		return err_set(
		    err, ERR_CONN, "connection to %s is closed", c->label);
	if (c->wpending > c->max_wqueue || n > c->max_wqueue - c->wpending)
		return err_set(err, ERR_LIMIT,
		    "write queue full: %zu bytes pending, %zu more refused",
		    c->wpending, n);
	if (n == 0)
		return 0;
	if (c->zon) {
		zpush(c, p, n, Z_NO_FLUSH);
		c->zdirty = true; /* flushed by flush_out(), once a batch */
	} else {
		q_append(c, p, n);
	}
	c->expecting = true;
	update_interest(c);
	update_watch(c);
	return 0;
}

/* Drop what the server sent before our ClientHello (an injection). */
static void
discard_input(struct conn *c)
{
	size_t dropped = c->rest.len;
	char buf[4096];
	ssize_t n;

	buf_reset(&c->rest);
	while (
	    dropped < DISCARD_MAX && (n = sock_recv(c, buf, sizeof(buf))) > 0)
		dropped += (size_t)n;
	if (dropped > 0)
		log_debug("conn %s: dropped %zu bytes received before the "
			  "TLS handshake",
		    c->label, dropped);
}

int
conn_starttls(struct conn *c, struct err *err)
{
	if (c->state != CS_OPEN || c->ssl != NULL)
		return err_set(err, ERR_TLS, "cannot start TLS with %s: %s",
		    c->label, c->ssl ? "TLS is already on" : "not connected");
	if (c->zon)
		return err_set(err, ERR_TLS,
		    "cannot start TLS with %s: compression is on", c->label);
	if (c->wpending > 0 || c->zdirty)
		return err_set(err, ERR_TLS,
		    "cannot start TLS with %s: %zu bytes still to write",
		    c->label, c->wpending);
	if (tls_begin(c, err) == -1) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	discard_input(c);
	c->starttls = true;
	c->hs_want_write = true; /* the ClientHello */
	c->rd_wants_write = c->wr_wants_read = false;
	disarm_timer(c);
	c->watching = false;
	c->deadline = loop_now_ms() + c->timeout_ms;
	arm_timer(c, c->deadline);
	set_state(c, CS_HANDSHAKE);
	update_interest(c);
	return 0;
}

int
conn_compress(struct conn *c, struct err *err)
{
	if (c->state != CS_OPEN)
		return err_set(
		    err, ERR_CONN, "cannot compress: %s is not open", c->label);
	if (c->zon)
		return err_set(
		    err, ERR_PROTO, "%s is already compressed", c->label);
	memset(&c->zout, 0, sizeof(c->zout));
	memset(&c->zin, 0, sizeof(c->zin));
	if (deflateInit2(&c->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
		Z_DEFAULT_STRATEGY) != Z_OK)
		return err_set(err, ERR_SYS, "cannot start zlib deflate");
	if (inflateInit2(&c->zin, -15) != Z_OK) {
		deflateEnd(&c->zout);
		return err_set(err, ERR_SYS, "cannot start zlib inflate");
	}
	c->zon = true;
	log_trace("conn %s: DEFLATE on", c->label);
	return 0;
}

int
conn_compress_rest(struct conn *c, const void *p, size_t n, struct err *err)
{
	if (c->state == CS_OPEN && n > REST_MAX - c->rest.len)
		return err_set(err, ERR_LIMIT,
		    "%zu bytes are too many to "
		    "hand back",
		    n);
	if (conn_compress(c, err) == -1)
		return -1;
	if (n == 0)
		return 0;
	if (buf_append(&c->rest, p, n) == -1) /* cannot happen: checked */
		return err_set(err, ERR_LIMIT, "too many bytes to hand back");
	arm_kick(c);
	return 0;
}

void
conn_expect(struct conn *c, bool on)
{
	c->expecting = on;
	update_watch(c);
}

void
conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->state == CS_OPEN && c->tls_up && c->wpending == 0) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl); /* close_notify, best effort */
		ERR_clear_error();
	}
	teardown(c);
	if (c->kick != 0)
		loop_timer_del(c->loop, c->kick);
	c->kick = 0;
	err_clear(&c->pending);
	if (c->state != CS_DONE)
		set_state(c, CS_DONE);
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	conn_close(c);
	if (c->busy > 0)
		c->doomed = true;
	else
		destroy(c);
}

bool
conn_is_tls(const struct conn *c)
{
	return c->tls_up;
}

const char *
conn_tls_version(const struct conn *c)
{
	return c->tls_up ? SSL_get_version(c->ssl) : NULL;
}

const char *
conn_tls_cipher(const struct conn *c)
{
	return c->tls_up ? SSL_get_cipher_name(c->ssl) : NULL;
}

/* Copy len bytes and a NUL into buf[n]; -1 (truncated) if too long. */
static int
copy_out(char *buf, size_t n, const char *p, size_t len)
{
	int r = 0;

	if (n == 0)
		return -1;
	if (len >= n) {
		len = n - 1;
		r = -1;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	return r;
}

int
conn_peer_subject(const struct conn *c, char *buf, size_t n)
{
	BIO *m;
	char *p = NULL;
	long len;
	int r = -1;

	if (n > 0)
		buf[0] = '\0';
	if (c->peer == NULL || (m = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (X509_NAME_print_ex(m, X509_get_subject_name(c->peer), 0,
		XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(m, &p);
		if (len >= 0 && p != NULL)
			r = copy_out(buf, n, p, (size_t)len);
	}
	BIO_free(m);
	return r;
}

int
conn_peer_fingerprint(const struct conn *c, char *buf, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	char s[7 + 2 * EVP_MAX_MD_SIZE + 1];
	unsigned int len = 0, i;

	if (n > 0)
		buf[0] = '\0';
	if (c->peer == NULL ||
	    X509_digest(c->peer, EVP_sha256(), md, &len) != 1)
		return -1;
	memcpy(s, "sha256:", 7);
	for (i = 0; i < len; i++) {
		s[7 + 2 * i] = hex[md[i] >> 4];
		s[8 + 2 * i] = hex[md[i] & 15];
	}
	return copy_out(buf, n, s, 7 + 2 * (size_t)len);
}

size_t
conn_wpending(const struct conn *c)
{
	return c->wpending;
}

uint64_t
conn_bytes_in(const struct conn *c)
{
	return c->bytes_in;
}

uint64_t
conn_bytes_out(const struct conn *c)
{
	return c->bytes_out;
}
