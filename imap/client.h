/* SPDX-License-Identifier: ISC */
/*
 * client.h - IMAP client: one connection, tagged commands, pipelining.
 *
 * A struct imap_client owns one struct conn (imap/conn.h) and one parser
 * (imap/parser.h).  Callers build commands with imap_cmd_new() and the
 * imap_cmd_* appenders, then imap_cmd_send() queues them; the client sends
 * as many as its window allows, holds the queue while a command waits for
 * a "+" continuation, and calls each command's done callback exactly once:
 * with the server's tagged reply, or with an error when the connection is
 * lost first.  Untagged responses go to the oldest command in flight whose
 * untagged callback takes them, then to the client's own bookkeeping
 * (capabilities, the selected mailbox's counters), then to the unsolicited
 * handler.
 *
 * Ownership: the client owns its commands; a struct imap_cmd pointer is
 * valid from imap_cmd_new() until its done callback returns.  Responses
 * passed to callbacks are valid only during the call.  Secrets given to
 * imap_cmd_secret() are wiped from memory once sent and never traced.
 *
 * Everything here is asynchronous and runs on the caller's loop; the
 * imap_client_wait() family runs that loop until one thing completes, for
 * simple sequential callers (ferry check, tests).
 */
#ifndef FERRY_IMAP_CLIENT_H
#define FERRY_IMAP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/conn.h"
#include "imap/parser.h"
#include "imap/sasl.h"

struct buf;
struct err;
struct imap_client;
struct imap_cmd;
struct loop;

struct imap_client_opts {
	struct conn_opts conn;
	bool allow_plaintext; /* LOGIN/PLAIN without TLS */
	unsigned window; /* commands in flight; 0: 32 */
	const char *name; /* label for traces */
	const struct imap_limits *limits; /* NULL: defaults */
};

/* What the server said in reply to one command. */
struct imap_reply {
	enum imap_status status; /* OK, NO, BAD; NONE: see err */
	const struct imap_resp *resp; /* tagged response, or NULL */
	const struct err *err; /* connection lost, or NULL */
};

typedef void imap_done_cb(
    struct imap_client *, const struct imap_reply *, void *arg);
/* Return true when the response was taken by this command. */
typedef bool imap_untagged_cb(
    struct imap_client *, const struct imap_resp *, void *arg);
/*
 * A "+" arrived for a command that asked for continuations (AUTHENTICATE,
 * IDLE).  text is what followed "+ ".  Return 0 to send out (the reply
 * line without CRLF; it may be empty), 1 to send nothing (IDLE), or -1 to
 * cancel (the client sends "*").  out is traced as <redacted> and wiped.
 */
typedef int imap_cont_cb(
    struct imap_client *, struct str text, struct buf *out, void *arg);

enum imap_cmd_flags {
	/* Wait until nothing else is in flight, and send nothing after it
	 * until it completes (STARTTLS, COMPRESS, AUTHENTICATE, IDLE). */
	IMAP_CMD_BARRIER = 1u << 0,
	/* Expects "+" continuations handled by the cont callback. */
	IMAP_CMD_CONT = 1u << 1,
	/* SELECT or EXAMINE: reset the selected mailbox's counters. */
	IMAP_CMD_SELECT = 1u << 2,
};

/* The selected mailbox as the server last described it. */
struct imap_mailbox {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t exists;
	uint64_t highestmodseq;
	bool nomodseq;
	bool readonly;
	bool perm_keywords; /* PERMANENTFLAGS has \* */
	char permflags[256]; /* PERMANENTFLAGS, space separated */
};

enum imap_state {
	IMAP_ST_NEW,
	IMAP_ST_CONNECTING,
	IMAP_ST_GREETING,
	IMAP_ST_NOAUTH,
	IMAP_ST_AUTH,
	IMAP_ST_LOGOUT,
	IMAP_ST_CLOSED,
};

struct imap_client *imap_client_new(
    struct loop *, const struct imap_client_opts *);
/* Close the connection (no callbacks) and free; NULL is fine. */
void imap_client_free(struct imap_client *);

/*
 * imap_client_connect(c, err): connect, read the greeting, learn the
 * capabilities, and for STARTTLS upgrade the link (a refused or
 * unannounced STARTTLS is an ERR_TLS error, never a fall back to
 * plaintext; a PREAUTH greeting on a link that must be encrypted is
 * refused).  Runs the loop until done.  Return 0 or -1.
 */
int imap_client_connect(struct imap_client *, struct err *);
/* The same on a socket already connected (tests: a socketpair). */
int imap_client_connect_fd(struct imap_client *, int fd, struct err *);

/*
 * imap_client_login(c, user, pass, err): authenticate with AUTHENTICATE
 * PLAIN (SASL-IR when offered) or LOGIN, refusing both on an unencrypted
 * link unless allow_plaintext, and honouring LOGINDISABLED.  A NO is
 * ERR_AUTH with the server's text.  Learns the capabilities again.
 */
int imap_client_login(
    struct imap_client *, const char *user, const char *pass, struct err *);

/*
 * What imap_client_auth() authenticates with.  Credentials are fetched
 * through get only once a mechanism is chosen, once per call, into a
 * buffer the client wipes.
 */
struct imap_auth {
	const char *user;
	const char *authzid; /* NULL: none */
	const char *host; /* the server's name (GSSAPI, OAUTHBEARER) */
	unsigned port; /* OAUTHBEARER */
	/*
	 * Mechanisms in order of preference.  nmechs 0: the strongest the
	 * server offers among those with a credential in have, then the
	 * LOGIN command.
	 */
	const enum sasl_mech *mechs;
	size_t nmechs;
	unsigned have; /* 1u << enum sasl_cred for each kind on hand */
	/* Append the credential of that kind to out; 0, or -1 with err. */
	int (*get)(void *arg, enum sasl_cred, struct buf *out, struct err *);
	void *arg;
};

/*
 * imap_client_auth(c, auth, err): choose a mechanism as struct imap_auth
 * says among those the server offers (AUTH=...), skipping mechanisms
 * that reveal the secret on an unencrypted link unless allow_plaintext,
 * and run it with AUTHENTICATE (SASL-IR when offered); "LOGIN" falls
 * back to the LOGIN command when the server offers no AUTH=LOGIN and no
 * LOGINDISABLED.  Errors name the mechanism and carry the server's
 * text: ERR_AUTH for a refusal (or a SCRAM server that cannot prove it
 * knows the password), ERR_CONFIG when no mechanism can be used.
 * Learns the capabilities again.  Return 0 or -1.
 */
int imap_client_auth(
    struct imap_client *, const struct imap_auth *, struct err *);

/*
 * imap_client_compress(c, err): COMPRESS DEFLATE (RFC 4978), and on OK
 * compress both directions from the next byte.  Return 0 or -1.
 */
int imap_client_compress(struct imap_client *, struct err *);

/* Run the loop until every queued command completed; 0 or -1. */
int imap_client_drain(struct imap_client *, struct err *);

/*
 * imap_simple(c, untagged, arg, err, fmt, ...): send one command made of
 * fmt (raw text: quote arguments yourself, or build with imap_cmd_*),
 * wait for its reply.  Return 0 on OK, -1 on NO/BAD (ERR_BOX with the
 * server's text) or a lost connection.
 */
int imap_simple(struct imap_client *, imap_untagged_cb *, void *, struct err *,
    const char *, ...) __attribute__((format(printf, 5, 6)));
/* Send a built command and wait for it; as imap_simple. */
int imap_cmd_wait(struct imap_cmd *, struct err *);

/* LOGOUT, wait until it is written (not for the reply), close. */
void imap_client_logout(struct imap_client *);
/* LOGOUT on n clients at once, as imap_client_logout(). */
void imap_client_logout_all(struct imap_client **, size_t n);

/*
 * imap_client_behind_login(c, fn, arg): the next login or AUTHENTICATE
 * calls fn(c, arg) right after queueing its command, so that fn can
 * pipeline commands behind it (one round trip for both).  Those fail if
 * the login does.  Called at most once; a PREAUTH greeting never calls
 * it.
 */
void imap_client_behind_login(
    struct imap_client *, void (*fn)(struct imap_client *, void *), void *);

/* Capabilities (upper case atoms), minus those disabled below. */
bool imap_has_cap(const struct imap_client *, const char *);
/* Whether cap was disabled below. */
bool imap_cap_disabled(const struct imap_client *, const char *);
/* Pretend the server does not offer cap (tests; fallbacks). */
void imap_client_disable_cap(struct imap_client *, const char *);
/* The capability list as received, space separated. */
const char *imap_caps(const struct imap_client *);
bool imap_is_enabled(const struct imap_client *, const char *);
const char *imap_greeting(const struct imap_client *);
enum imap_state imap_client_state(const struct imap_client *);
const char *imap_state_name(enum imap_state);
const struct imap_mailbox *imap_selected(const struct imap_client *);
struct conn *imap_client_conn(struct imap_client *);
bool imap_client_usable(const struct imap_client *);
unsigned imap_client_in_flight(const struct imap_client *);
uint64_t imap_client_cmds_sent(const struct imap_client *);

/* Untagged responses nobody took (EXISTS during IDLE, ...). */
void imap_client_set_unsolicited(
    struct imap_client *, imap_untagged_cb *, void *);
/* Called once when the connection is lost after connect (err set). */
void imap_client_set_on_close(struct imap_client *,
    void (*)(struct imap_client *, const struct err *, void *), void *);

/*
 * Commands.  imap_cmd_new() starts an empty command; appenders add to it
 * (they never fail: the command is bounded by the caller's data); then
 * imap_cmd_send() queues it, after which the caller must not touch it
 * except through callbacks.
 */
struct imap_cmd *imap_cmd_new(
    struct imap_client *, unsigned flags, imap_done_cb *, void *arg);
void imap_cmd_set_untagged(struct imap_cmd *, imap_untagged_cb *, void *);
void imap_cmd_set_cont(struct imap_cmd *, imap_cont_cb *);
/*
 * Literals bigger than the inline limit received while this command is in
 * flight.  With several such commands in flight, each sink's open() is
 * asked in order, oldest first: it returns 0 to take the literal, 1 when
 * `before` shows it belongs to another command (say, another UID), -1 on
 * error.  When all say 1, the oldest gets it.
 */
void imap_cmd_set_sink(struct imap_cmd *, const struct imap_sink *);
/* Raw text, printf-style. */
void imap_cmd_printf(struct imap_cmd *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
/* An astring: atom, quoted string, or literal, whichever fits. */
void imap_cmd_astring(struct imap_cmd *, struct str);
/* A mailbox name given in UTF-8: modified UTF-7 unless UTF8=ACCEPT. */
int imap_cmd_mailbox(struct imap_cmd *, const char *utf8, struct err *);
/* As astring, but wiped after sending and shown as <redacted>. */
void imap_cmd_secret(struct imap_cmd *, struct str);
/*
 * A literal ({n+} with LITERAL+ or with LITERAL- up to 4096 bytes, else
 * {n}, which waits for the server's "+"; at most 64 of those in one
 * command).
 */
void imap_cmd_literal(struct imap_cmd *, const void *, size_t);
/*
 * A literal of n bytes of fd from offset off, read with pread() while it
 * is sent, a piece at a time as the socket takes them, so that it is never
 * in memory whole.  fd must stay open, and the bytes there, until the
 * command's done callback.  A file that cannot be read (or ends early)
 * when its turn comes fails the connection with ERR_SYS: half a literal
 * cannot be taken back.
 */
void imap_cmd_literal_fd(struct imap_cmd *, int fd, uint64_t off, uint64_t n);
void imap_cmd_send(struct imap_cmd *);

/* End IDLE: send DONE for the command in IDLE. */
int imap_idle_done(struct imap_client *, struct err *);

/* Helpers for reading response codes in replies. */
bool imap_reply_code(const struct imap_reply *, const char *code);
/* [APPENDUID uidvalidity uid]: 0, or -1 when absent or malformed. */
int imap_reply_appenduid(
    const struct imap_reply *, uint32_t *uidvalidity, uint32_t *uid);

#endif
