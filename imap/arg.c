/* SPDX-License-Identifier: ISC */
/*
 * arg.c - reading and printing what imap/parser.c returns.
 *
 * The parser builds struct imap_resp and struct imap_arg trees; this file
 * holds what callers do with them afterwards: the accessors that tolerate
 * NULL and wrong types (so client.c can test a shape in one condition, as
 * with Dovecot's imap-arg.h), the names of status responses, and the
 * canonical printed form used by tests, traces and the fuzzer.  All of it
 * is declared in parser.h; none of it allocates except into the caller's
 * bounded struct buf.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parser.h"
#include "util/buf.h"
#include "util/str.h"

const char *
imap_status_name(enum imap_status st)
{
	switch (st) {
	case IMAP_STATUS_NONE:
		break;
	case IMAP_STATUS_OK:
		return "OK";
	case IMAP_STATUS_NO:
		return "NO";
	case IMAP_STATUS_BAD:
		return "BAD";
	case IMAP_STATUS_PREAUTH:
		return "PREAUTH";
	case IMAP_STATUS_BYE:
		return "BYE";
	}
	return NULL;
}

bool
imap_arg_is_atom(const struct imap_arg *a, const char *ci)
{
	return a != NULL && a->type == IMAP_ARG_ATOM && str_eq_ci(a->s, ci);
}

bool
imap_arg_string(const struct imap_arg *a, struct str *out)
{
	if (a == NULL ||
	    (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_STRING &&
		a->type != IMAP_ARG_LITERAL))
		return false;
	*out = a->s;
	return true;
}

bool
imap_arg_nstring(const struct imap_arg *a, struct str *out)
{
	if (a != NULL && a->type == IMAP_ARG_NIL) {
		*out = STR_NULL;
		return true;
	}
	return imap_arg_string(a, out);
}

bool
imap_arg_number(const struct imap_arg *a, uint64_t max, uint64_t *out)
{
	return a != NULL && a->type == IMAP_ARG_ATOM &&
	       str_to_u64(a->s, max, out);
}

bool
imap_arg_list(const struct imap_arg *a, const struct imap_arg **list, size_t *n)
{
	if (a == NULL || a->type != IMAP_ARG_LIST)
		return false;
	*list = a->list;
	*n = a->nlist;
	return true;
}

/* Printing, for tests and traces. */

static int print_args(const struct imap_arg *, size_t, struct buf *, bool);

static int
print_quoted(struct str s, struct buf *b)
{
	size_t i;

	if (buf_putc(b, '"') == -1)
		return -1;
	for (i = 0; i < s.len; i++) {
		if (s.p[i] == '"' || s.p[i] == '\\') {
			if (buf_putc(b, '\\') == -1)
				return -1;
		}
		if (buf_putc(b, s.p[i]) == -1)
			return -1;
	}
	return buf_putc(b, '"');
}

/* brief: literal bytes are shown as their size only (traces). */
static int
print_arg(const struct imap_arg *a, struct buf *b, bool brief)
{
	switch (a->type) {
	case IMAP_ARG_NIL:
		return buf_puts(b, "NIL");
	case IMAP_ARG_ATOM:
		return buf_append(b, a->s.p, a->s.len);
	case IMAP_ARG_STRING:
		return print_quoted(a->s, b);
	case IMAP_ARG_LITERAL:
		if (brief)
			return buf_printf(b, "{%zu}", a->s.len);
		if (buf_printf(b, "{%zu}\r\n", a->s.len) == -1)
			return -1;
		return buf_append(b, a->s.p, a->s.len);
	case IMAP_ARG_LITERAL_SINK:
		/* The bytes went elsewhere: only the size. */
		return buf_printf(b, "{%" PRIu64 "}", a->size);
	case IMAP_ARG_LIST:
		if (buf_putc(b, '(') == -1 ||
		    print_args(a->list, a->nlist, b, brief) == -1)
			return -1;
		return buf_putc(b, ')');
	}
	return -1;
}

static int
print_args(const struct imap_arg *args, size_t n, struct buf *b, bool brief)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((i > 0 && buf_putc(b, ' ') == -1) ||
		    print_arg(&args[i], b, brief) == -1)
			return -1;
	return 0;
}

/* SP and s, unless s is empty. */
static int
print_text(struct str s, struct buf *b)
{
	if (s.len == 0)
		return 0;
	if (buf_putc(b, ' ') == -1)
		return -1;
	return buf_append(b, s.p, s.len);
}

static int
print_status(const struct imap_resp *r, struct buf *b, bool brief)
{
	if (buf_printf(b, " %s", imap_status_name(r->status)) == -1)
		return -1;
	if (r->code.len > 0 &&
	    (buf_puts(b, " [") == -1 ||
		buf_append(b, r->code.p, r->code.len) == -1 ||
		(r->ncode_args > 0 && buf_putc(b, ' ') == -1) ||
		print_args(r->code_args, r->ncode_args, b, brief) == -1 ||
		buf_putc(b, ']') == -1))
		return -1;
	return print_text(r->text, b);
}

static int
print_resp(const struct imap_resp *r, struct buf *b, bool brief)
{
	if (r->kind == IMAP_RESP_INVALID) {
		if (buf_puts(b, "INVALID") == -1 || print_text(r->tag, b) == -1)
			return -1;
		return buf_printf(b, ": %s", r->error ? r->error : "?");
	}
	if (buf_append(b, r->tag.p, r->tag.len) == -1)
		return -1;
	if (r->kind == IMAP_RESP_CONTINUE)
		return print_text(r->text, b);
	if (r->status != IMAP_STATUS_NONE)
		return print_status(r, b, brief);
	if (buf_putc(b, ' ') == -1)
		return -1;
	return print_args(r->args, r->nargs, b, brief);
}

int
imap_resp_print(const struct imap_resp *r, struct buf *b)
{
	size_t start = b->len;

	if (print_resp(r, b, false) == -1) {
		buf_truncate(b, start);
		return -1;
	}
	return 0;
}

int
imap_resp_trace(const struct imap_resp *r, struct buf *b)
{
	return print_resp(r, b, true);
}
