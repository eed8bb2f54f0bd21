/* SPDX-License-Identifier: ISC */
/*
 * parser.h - incremental IMAP response parser; performs no I/O.
 *
 * The caller feeds bytes as they arrive, in any split; the parser returns
 * each complete server response as a tree of struct imap_arg.  It works
 * byte by byte, so a response split anywhere (even inside a literal size
 * or a CRLF) parses exactly as if it arrived whole.
 *
 * Ownership: the parser owns the returned response and every slice in it;
 * they stay valid until the next imap_parser_feed() or imap_parser_free().
 *
 * Bounds (struct imap_limits): the non-literal text of one response, the
 * list nesting depth, the number of arguments, the size of a literal held
 * in memory, and the size of any literal at all.  A literal larger than
 * max_inline_lit is streamed to the sink set with imap_parser_set_sink()
 * instead of being held in memory; with no sink it is an error.  The
 * literals held in memory for one response may add up to 4 times
 * max_inline_lit; past that they go to the sink too.  max_line counts every
 * byte that is not literal data, CRLFs included.  Memory stays within
 * bounds derived from the limits, whatever the server announces.
 *
 * Status responses (OK NO BAD PREAUTH BYE) and continuation requests are
 * one line by the grammar: a "{5}" at the end of their text is text, not
 * a literal.
 *
 * Two kinds of error:
 *   - fatal (return -1): the framing is lost (a line longer than max_line,
 *     a literal over max_literal, an unparseable literal size, a sink
 *     that failed).  The connection must be dropped; every later feed
 *     fails the same way.
 *   - per-response (return 1, resp->kind == IMAP_RESP_INVALID, resp->error
 *     says why): the response was framed but its contents are malformed
 *     (unbalanced parentheses or quotes, too deep, NUL byte in a line,
 *     bad token).  The caller may fail just the command concerned.
 */
#ifndef FERRY_IMAP_PARSER_H
#define FERRY_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

struct err;
struct imap_parser;

struct imap_limits {
	size_t max_line; /* non-literal bytes per response */
	unsigned max_depth; /* nested parenthesised lists */
	size_t max_args; /* arguments in one response, all lists */
	size_t max_inline_lit; /* literals above this go to the sink */
	uint64_t max_literal; /* any literal; above: fatal */
};

/* 64 KiB lines, depth 16, 100000 args, 64 KiB inline, 1 GiB literals. */
extern const struct imap_limits imap_default_limits;

enum imap_arg_type {
	IMAP_ARG_NIL, /* NIL */
	IMAP_ARG_ATOM, /* atom, number, flag, BODY[...]<..> */
	IMAP_ARG_STRING, /* quoted string, unescaped */
	IMAP_ARG_LITERAL, /* {n} literal held in memory */
	IMAP_ARG_LITERAL_SINK, /* {n} literal sent to the sink */
	IMAP_ARG_LIST, /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	struct str s; /* ATOM, STRING, LITERAL */
	uint64_t size; /* LITERAL_SINK: bytes sent to sink */
	struct imap_arg *list; /* LIST: nlist children */
	size_t nlist;
};

enum imap_resp_kind {
	IMAP_RESP_TAGGED, /* "tag ..." */
	IMAP_RESP_UNTAGGED, /* "* ..." */
	IMAP_RESP_CONTINUE, /* "+ text" */
	IMAP_RESP_INVALID, /* framed but malformed; see error */
};

/* Status responses: OK NO BAD PREAUTH BYE (tagged or untagged). */
enum imap_status {
	IMAP_STATUS_NONE, /* not a status response */
	IMAP_STATUS_OK,
	IMAP_STATUS_NO,
	IMAP_STATUS_BAD,
	IMAP_STATUS_PREAUTH,
	IMAP_STATUS_BYE,
};

struct imap_resp {
	enum imap_resp_kind kind;
	struct str tag; /* TAGGED: the tag; INVALID: if known */
	enum imap_status status;
	/*
	 * For a status response: the response code in brackets, if any
	 * (code is its name, e.g. "UIDVALIDITY", code_args its arguments,
	 * parsed as tokens; "CAPABILITY" and "PERMANENTFLAGS" too), and the
	 * human-readable text after it.  For CONTINUE, text is everything
	 * after "+ " (base64 or text).
	 */
	struct str code;
	struct imap_arg *code_args;
	size_t ncode_args;
	struct str text;
	/*
	 * Everything else, as tokens after the tag or "*": for
	 * "* 12 FETCH (UID 7)" args are ATOM "12", ATOM "FETCH", LIST.  For a
	 * status response args is empty.
	 */
	struct imap_arg *args;
	size_t nargs;
	const char *error; /* INVALID: what was wrong */
};

/*
 * A sink receives big literals in pieces.  open() is called with the
 * announced size before the first byte, write() with each piece, close()
 * after the last byte (also for size 0).  Any callback returning -1 makes
 * the feed fail fatally, and no callback follows: the sink's owner cleans
 * up, as it does when the parser is freed in the middle of a literal.  A
 * literal is streamed as it arrives, before the rest of its response is
 * seen, so it may belong to a response that turns out IMAP_RESP_INVALID.
 */
/*
 * open() also gets what the response said before the literal, up to and
 * including its announcement (for a FETCH, e.g. "* 3 FETCH (UID 7 BODY[]
 * {250000}"), valid during the call, so that the owner of several
 * commands in flight can tell whose literal it is.
 */
struct imap_sink {
	int (*open)(void *arg, uint64_t size, struct str before);
	int (*write)(void *arg, const char *data, size_t len);
	int (*close)(void *arg);
	void *arg;
};

/* NULL limits means imap_default_limits. */
struct imap_parser *imap_parser_new(const struct imap_limits *);
void imap_parser_free(struct imap_parser *);
/*
 * Set (or, with NULL, clear) where big literals go.  The struct is copied;
 * open, write and close must all be set.  A literal already streaming
 * keeps the sink it started with.
 */
void imap_parser_set_sink(struct imap_parser *, const struct imap_sink *);

/*
 * imap_parser_feed(p, data, len, used_out, resp_out, err):
 * Consume bytes from data[0..len) and set *used_out to how many were
 * consumed.  Return 1 when *resp_out holds a complete response (valid until
 * the next call; the caller feeds the rest, data + *used_out, again), 0
 * when all input was consumed and more is needed, and -1 on a fatal error
 * described in err (kind ERR_PROTO or ERR_LIMIT, or ERR_SYS when a sink
 * callback failed).
 */
int imap_parser_feed(struct imap_parser *, const char *, size_t,
    size_t *used_out, const struct imap_resp **resp_out, struct err *);

/* "OK", "NO", "BAD", "PREAUTH", "BYE"; NULL for IMAP_STATUS_NONE. */
const char *imap_status_name(enum imap_status);

/* Accessors that tolerate NULL and wrong types (imap/arg.c). */
bool imap_arg_is_atom(const struct imap_arg *, const char *ci);
/* ATOM, STRING or LITERAL (not NIL): its bytes. */
bool imap_arg_string(const struct imap_arg *, struct str *out);
/* ATOM, STRING or LITERAL, or NIL (then out is STR_NULL). */
bool imap_arg_nstring(const struct imap_arg *, struct str *out);
/* An ATOM that is a number <= max. */
bool imap_arg_number(const struct imap_arg *, uint64_t max, uint64_t *out);
bool imap_arg_list(
    const struct imap_arg *, const struct imap_arg **list, size_t *n);

/*
 * Append a canonical printed form of resp to out (for tests and traces):
 * tokens separated by spaces, strings quoted, literals as {n}, NIL, lists
 * in parentheses; status responses as "TAG OK [CODE args] text".
 * Literals held in memory print as "{n}\r\n" and their bytes, so that a
 * printed response parses back to the same tree; literals sent to the sink
 * print as "{n}" alone.  Untagged responses print with tag "*", invalid
 * ones as "INVALID tag: error".  Return 0, or -1 (out unchanged) when
 * out's maximum is reached.
 */
struct buf;
int imap_resp_print(const struct imap_resp *, struct buf *);

/*
 * Like imap_resp_print, for traces: literals show only their size, and
 * when out's maximum is reached it keeps what fits and returns -1.
 */
int imap_resp_trace(const struct imap_resp *, struct buf *);

#endif
