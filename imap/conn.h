/* SPDX-License-Identifier: ISC */
/*
 * conn.h - one non-blocking TCP connection, optionally TLS and DEFLATE.
 *
 * The connection is the byte pipe under the IMAP client (client.c): it
 * resolves and connects, runs the TLS handshake (implicit, or later on
 * conn_starttls()), verifies the server, compresses and decompresses
 * (RFC 4978) and moves bytes between a write queue and the data callback.
 * It knows nothing about IMAP.  Everything is driven by the poll loop
 * (util/loop.h): the connection registers its socket and its timers there
 * and reports through the two callbacks in struct conn_cbs.
 *
 * Ownership: the caller owns the struct conn and frees it with
 * conn_free(); the connection copies every string in conn_opts and owns
 * its socket, its TLS state and its queued bytes.  The loop must outlive
 * the connection.
 *
 * Callbacks: never called from inside a conn_*() call, only from the
 * loop, so the caller's state is consistent whenever one arrives.  Inside
 * any callback the caller may call any conn_*() function on the same
 * connection, conn_close() and conn_free() included.  CONN_EV_ERROR and
 * CONN_EV_CLOSED are final: one of them is reported, once, and nothing
 * follows.  After conn_close() nothing at all follows.
 *
 * Security: certificates are verified by default (chain and host name,
 * against the system CAs or ca_file, TLS 1.2 at least); a fingerprint pin
 * replaces chain checking but a mismatch is always refused; bytes received
 * before a STARTTLS handshake are discarded; nothing secret is logged.
 *
 * Timeouts: timeout_ms bounds connecting plus the handshake (the time is
 * shared among the addresses the name resolves to), and later the silence
 * while bytes are expected: then, timeout_ms without a byte moving in
 * either direction ends the connection with ERR_CONN.  Bytes are expected
 * from CONN_EV_CONNECTED on (the greeting) and again from every
 * conn_write() until the caller says otherwise with conn_expect(c, false)
 * (nothing in flight, or IDLE), and always while the write queue is not
 * empty.  conn_start() resolves the name synchronously (getaddrinfo).
 */
#ifndef FERRY_IMAP_CONN_H
#define FERRY_IMAP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct err;
struct loop;

enum conn_tls {
	CONN_TLS_NONE,
	CONN_TLS_IMPLICIT, /* handshake right after connect */
	CONN_TLS_STARTTLS, /* plain until conn_starttls() */
};

struct conn_opts {
	const char *host; /* name or address to connect to */
	const char *port; /* service, e.g. "993" */
	enum conn_tls tls;
	const char *ca_file; /* PEM bundle trusted instead of the system CAs */
	/*
	 * "sha256:HEX" (colons allowed, any case) of the server certificate
	 * or of its SubjectPublicKeyInfo.  When set, a match is accepted even
	 * if chain or name verification fails, and a mismatch is refused.
	 */
	const char *fingerprint;
	const char *tls_name; /* verified and sent as SNI; NULL: host */
	int timeout_ms; /* see above; 0: 30000 */
	size_t max_wqueue; /* write queue cap in bytes; 0: 8 MiB */
};

enum conn_event {
	CONN_EV_CONNECTED, /* TCP is up; for IMPLICIT, TLS too, verified */
	CONN_EV_TLS_READY, /* the conn_starttls() handshake completed */
	CONN_EV_DRAINED, /* the write queue became empty */
	CONN_EV_CLOSED, /* the peer closed the connection (EOF); final */
	CONN_EV_ERROR, /* ERR_CONN, ERR_TLS, ERR_PROTO or ERR_SYS; final */
};

struct conn_cbs {
	/* Decrypted, decompressed bytes; the callee consumes all of them. */
	void (*data)(void *arg, const char *data, size_t len);
	/* err is set only for CONN_EV_ERROR and valid only during the call. */
	void (*event)(void *arg, enum conn_event, const struct err *);
	void *arg;
};

/* A new idle connection; nothing happens until conn_start(). */
struct conn *conn_new(
    struct loop *, const struct conn_opts *, const struct conn_cbs *);

/*
 * conn_start(c, err): resolve host and port (IPv4 and IPv6) and start a
 * non-blocking connect to each address in turn.  Return 0, after which
 * exactly one of CONNECTED or ERROR follows (resolver failures and
 * refused connections included), or -1 without any event when the
 * options are unusable (no host or port, a malformed fingerprint:
 * ERR_CONFIG; an unreadable ca_file: ERR_TLS) or the connection was
 * already started.
 */
int conn_start(struct conn *, struct err *);

/*
 * conn_start_fd(c, fd, err): like conn_start() for a socket that is
 * already connected or connecting, e.g. one end of a socketpair(2) in a
 * test; the connection owns fd from now on, even on failure.  TLS still
 * needs opts.host or opts.tls_name as the name to verify.  Return 0
 * (CONNECTED or ERROR follows) or -1 (fd is closed, no event).
 */
int conn_start_fd(struct conn *, int, struct err *);

/*
 * conn_write(c, data, len, err): queue len bytes, compressed and
 * encrypted as configured; never blocks and never calls back.  Return 0,
 * or -1 with ERR_LIMIT when the queue would exceed max_wqueue (wait for
 * CONN_EV_DRAINED) or ERR_CONN when the connection is finished.
 * Compressed output is flushed (Z_SYNC_FLUSH) once per batch of writes,
 * before the socket is next written.
 */
int conn_write(struct conn *, const void *, size_t, struct err *);

/*
 * conn_starttls(c, err): begin the TLS handshake now; CONN_EV_TLS_READY
 * follows when it has completed and been verified.  Bytes received but
 * not yet delivered, and any that arrive before the handshake, are
 * discarded (STARTTLS command injection).  Bytes the data callback has
 * already received are the caller's: when conn_starttls() is called from
 * the data callback that delivered the tagged OK, the caller must drop
 * whatever followed the OK in that delivery.  Return -1 if the
 * connection is not open, already uses TLS, is compressed, or still has
 * bytes to write.
 */
int conn_starttls(struct conn *, struct err *);

/*
 * conn_compress(c, err): from now on, raw DEFLATE (RFC 4978, zlib
 * windowBits -15) in both directions.  Call it when the tagged OK to
 * COMPRESS arrives.  Return -1 if the connection is not open or is
 * already compressed.
 *
 * conn_compress_rest(c, rest, len, err): the same, for when the data
 * callback that delivered the OK also delivered bytes after it: those
 * are the start of the compressed stream, so they are inflated and
 * delivered (from the loop) before any newer byte.  len is at most 1 MiB.
 */
int conn_compress(struct conn *, struct err *);
int conn_compress_rest(struct conn *, const void *, size_t, struct err *);

/* Say whether bytes from the peer are expected (see "Timeouts"). */
void conn_expect(struct conn *, bool);

/* Close now, dropping queued bytes; no event follows. */
void conn_close(struct conn *);
/* Close and free; NULL is fine; safe inside the connection's callbacks. */
void conn_free(struct conn *);

/* Whether a verified TLS session is up. */
bool conn_is_tls(const struct conn *);
/* Protocol version ("TLSv1.3") and cipher name, or NULL without TLS. */
const char *conn_tls_version(const struct conn *);
const char *conn_tls_cipher(const struct conn *);
/*
 * Write the server certificate's subject on one line (RFC 2253 form,
 * "CN=localhost,O=...") or its fingerprint ("sha256:" and 64 lower-case
 * hex digits) into buf.  Return 0, or -1 when there is no certificate or
 * buf is too small (buf then holds a truncated string when n > 0).  Both
 * stay available after verification failed, for error reports.
 */
int conn_peer_subject(const struct conn *, char *, size_t);
int conn_peer_fingerprint(const struct conn *, char *, size_t);

/* Bytes queued and not yet written to the socket. */
size_t conn_wpending(const struct conn *);
/* Bytes received and sent on the wire (TLS and compression included). */
uint64_t conn_bytes_in(const struct conn *);
uint64_t conn_bytes_out(const struct conn *);

#endif
