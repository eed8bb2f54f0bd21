/* SPDX-License-Identifier: ISC */
/*
 * parser.c - incremental IMAP response parser (see parser.h).
 *
 * Two layers, run at different times.  Framing runs as bytes arrive: it
 * copies the text of the response into p->text until a line ends.  A line
 * ending in a literal announcement ({n}, {n+} or ~{n}) switches to literal
 * mode for exactly n bytes, which go to p->text (small literals) or to the
 * sink (big ones), and then the line goes on.  Framing keeps counters, no
 * position inside a token, so it resumes at any split: inside "{123}\r\n",
 * between CR and LF, inside a literal.
 *
 *            byte (not LF): append, count against max_line
 *             +----+
 *             |    v
 *           [LINE] ---- LF, no literal announced ----> [DONE] -> return 1
 *             ^  |                                   (tokenise p->text)
 *   n bytes   |  | LF after {n}
 *             |  v
 *           [LITERAL] -- bytes to p->text or the sink
 *
 *   any state -- limit hit, bad literal size, sink failure --> [FAILED]
 *
 * In p->text the CRLF after a literal announcement becomes a marker: "\n",
 * then 'I' and the n bytes (held in memory) or 'S' (sent to the sink).  No
 * other "\n" can be in the text of a line, so the server cannot forge one.
 *
 * Tokenising runs once the response is complete and turns p->text into a
 * tree of struct imap_arg.  Atoms, quoted strings (unescaped in place,
 * which only shrinks them) and literals are slices of p->text; argument
 * arrays, and the strings of a response code, live in an arena reset for
 * each response.  A malformed response becomes IMAP_RESP_INVALID; framing
 * has already found its end, so the next response parses normally.
 *
 * Status responses ("a1 OK ...", "* BYE ...") and continuation requests
 * are one line by their grammar (resp-text holds no literal).  Framing
 * recognises them on their first line and never takes a "{5}" ending their
 * text (a mailbox name echoed in a NO) for a literal, which would swallow
 * the next response.
 */
#include "parser.h"

#include <assert.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/*
 * In-memory literals of one response may add up to this many times
 * max_inline_lit.  A response carries a few: a header, an envelope name
 * with odd characters, one small body.  Past the budget, literals go to
 * the sink like big ones, so one response never holds more than
 * max_line + INLINE_BUDGET * max_inline_lit bytes.
 */
#define INLINE_BUDGET 4

/* digit = %x30-39 */
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
/* CTL = %x00-1F / %x7F */
#define IS_CTL(c) ((unsigned char)(c) < 0x20 || (c) == 0x7f)
/*
 * ATOM-CHAR = <any CHAR except atom-specials>
 * atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                 quoted-specials / resp-specials
 * Leniently we also take list-wildcards ("%" / "*", as in the flag \*),
 * "\" (flags), resp-specials ("]", as in ASTRING-CHAR) and 8-bit bytes;
 * "]" ends an atom only inside a response code.
 */
#define IS_ATOM_CHAR(c)                                                        \
	(!IS_CTL(c) && (c) != ' ' && (c) != '(' && (c) != ')' && (c) != '{' && \
	    (c) != '"')
/*
 * tag = 1*<any ASTRING-CHAR except "+">
 * ASTRING-CHAR = ATOM-CHAR / resp-specials
 * Strictly so: we made the tag, and anything else is garbage.
 */
#define IS_TAG_CHAR(c)                                                 \
	((unsigned char)(c) < 0x80 && IS_ATOM_CHAR(c) && (c) != '+' && \
	    (c) != '%' && (c) != '*' && (c) != '\\')

const struct imap_limits imap_default_limits = {
    .max_line = 64 * 1024,
    .max_depth = 16,
    .max_args = 100000,
    .max_inline_lit = 64 * 1024,
    .max_literal = (uint64_t)1 << 30,
};

enum state {
	ST_LINE, /* text of a line */
	ST_LITERAL, /* the bytes of a literal */
	ST_DONE, /* p->resp is complete; reset on the next feed */
	ST_FAILED, /* framing lost: every feed fails */
};

static const char *const strstate[] = {
    [ST_LINE] = "line",
    [ST_LITERAL] = "literal",
    [ST_DONE] = "done",
    [ST_FAILED] = "failed",
};

struct imap_parser {
	struct imap_limits lim;
	struct imap_sink sink; /* sink.open == NULL: none */
	enum state state;
	struct err fatal; /* FAILED: why, repeated by every feed */

	/* Framing. */
	struct buf text; /* this response: lines, markers, literals */
	size_t line_start; /* where the current line begins in text */
	size_t nontext; /* non-literal bytes so far, CRLF included */
	size_t inline_left; /* in-memory literal budget left */
	uint64_t lit_left; /* LITERAL: bytes still to come */
	bool lit_to_sink; /* LITERAL: they go to lit_sink */
	struct imap_sink lit_sink; /* the sink that opened this literal */
	bool saw_nul; /* a NUL byte in the text of a line */

	/* Tokenising. */
	struct arena arena; /* argument arrays of p->resp */
	struct imap_arg *stack; /* arguments of the lists still open */
	size_t sp, stack_cap;
	size_t *frames; /* per open list: where its children start */
	size_t frames_cap;
	unsigned depth;
	size_t nargs;
	bool limit_hit; /* the response broke a limit, not the syntax */
	bool brackets_off; /* an unmatched "[" in this line segment */
	struct imap_resp resp;
};

struct cursor {
	char *start;
	char *s;
	char *end;
};

static size_t
sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t
sat_mul(size_t a, size_t b)
{
	return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

static void
set_state(struct imap_parser *p, enum state s)
{
	/* The trace shows literals and failures, not every response. */
	if (log_enabled(LOG_TRACE) && p->state != s && p->state != ST_DONE &&
	    s != ST_DONE)
		log_trace(
		    "imap parser: %s -> %s", strstate[p->state], strstate[s]);
	p->state = s;
}

/* Record a fatal error; every later feed repeats it. */
static int __attribute__((format(printf, 3, 4)))
fatal(struct imap_parser *p, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(&p->fatal, kind, fmt, ap);
	va_end(ap);
	set_state(p, ST_FAILED);
	return -1;
}

/*
 * The status of the line s, "tag 1*SP status-word [SP ...]", or
 * IMAP_STATUS_NONE.  *rest_out is set to the offset after the word.  The
 * word must end like an atom: "* OK(" is a status response, as "* OK (" is
 * (so printing stays faithful), and "* OKAY" is not.
 */
static enum imap_status
line_status(const char *s, size_t len, size_t *rest_out)
{
	const char *sp = memchr(s, ' ', len), *word;
	enum imap_status st;
	struct str w;

	if (sp == NULL)
		return IMAP_STATUS_NONE;
	for (word = sp; word < s + len && *word == ' '; word++)
		continue;
	for (st = IMAP_STATUS_OK; st <= IMAP_STATUS_BYE; st++) {
		w = str_make(word, len - (size_t)(word - s));
		if (str_skip_ci(&w, imap_status_name(st)) &&
		    (w.len == 0 || !IS_ATOM_CHAR(w.p[0]))) {
			*rest_out = (size_t)(w.p - s);
			return st;
		}
	}
	return IMAP_STATUS_NONE;
}

/*
 * Whether the line just ended announces a literal: 1 with its size, 0
 * when it does not, -1 on a bad or too big size.
 * literal = "{" number64 ["+"] "}" CRLF; literal8 = "~{" ...
 * The digits are checked one by one against max_literal, so no size the
 * server announces can overflow or be allocated.
 */
static int
literal_size(struct imap_parser *p, uint64_t *size_out)
{
	const char *line = p->text.data + p->line_start;
	size_t i = p->text.len - p->line_start;
	size_t digits_end;

	if (i == 0 || line[i - 1] != '}')
		return 0;
	i--;
	if (i > 0 && line[i - 1] == '+')
		i--;
	digits_end = i;
	while (i > 0 && IS_DIGIT(line[i - 1]))
		i--;
	if (i == 0 || line[i - 1] != '{')
		return 0;
	if (i == digits_end)
		return fatal(p, ERR_PROTO, "literal without a size");
	if (!str_to_u64(str_make(line + i, digits_end - i), p->lim.max_literal,
		size_out))
		return fatal(p, ERR_LIMIT,
		    "literal of %.*s bytes: over %" PRIu64,
		    (int)(digits_end - i > 24 ? 24 : digits_end - i), line + i,
		    p->lim.max_literal);
	return 1;
}

static int
end_literal(struct imap_parser *p)
{
	if (p->lit_to_sink && p->lit_sink.close(p->lit_sink.arg) == -1)
		return fatal(p, ERR_SYS, "literal sink failed to close");
	p->line_start = p->text.len;
	set_state(p, ST_LINE);
	return 0;
}

/* Set up a literal of n bytes: in memory when it fits, else the sink. */
static int
start_literal(struct imap_parser *p, uint64_t n)
{
	bool in_memory = n <= p->lim.max_inline_lit && n <= p->inline_left;
	const char mark[2] = {'\n', in_memory ? 'I' : 'S'};

	if (in_memory) {
		p->inline_left -= (size_t)n;
	} else if (p->sink.open == NULL) {
		return fatal(p, ERR_LIMIT,
		    "literal of %" PRIu64 " bytes: no room in memory, no sink",
		    n);
	} else {
		p->lit_sink = p->sink;
		if (p->lit_sink.open(p->lit_sink.arg, n,
			str_make(p->text.data, p->text.len)) == -1)
			return fatal(p, ERR_SYS, "literal sink failed to open");
	}
	if (buf_append(&p->text, mark, sizeof(mark)) == -1)
		return fatal(p, ERR_LIMIT, "response too big");
	p->lit_left = n;
	p->lit_to_sink = !in_memory;
	set_state(p, ST_LITERAL);
	if (n == 0)
		return end_literal(p);
	return 0;
}

/*
 * Take text up to and including a LF.  Return 1 when the response is
 * complete, 0 when more is needed (possibly a literal), -1 on failure.
 */
static int
feed_line(struct imap_parser *p, const char *data, size_t len, size_t *used)
{
	const char *lf = memchr(data, '\n', len);
	size_t n = lf ? (size_t)(lf - data) + 1 : len;
	size_t keep = lf ? n - 1 : n, rest;
	uint64_t size;
	int r;

	*used = n;
	if (n > p->lim.max_line - p->nontext)
		return fatal(p, ERR_LIMIT, "response text over %zu bytes",
		    p->lim.max_line);
	p->nontext += n;
	if (memchr(data, '\0', keep) != NULL)
		p->saw_nul = true;
	if (buf_append(&p->text, data, keep) == -1)
		return fatal(p, ERR_LIMIT, "response too big");
	if (lf == NULL)
		return 0;
	/* Be lenient: a bare LF ends a line too. */
	if (p->text.len > p->line_start &&
	    p->text.data[p->text.len - 1] == '\r')
		buf_truncate(&p->text, p->text.len - 1);
	/* A status response or continuation request is one line. */
	if (p->line_start == 0 &&
	    ((p->text.len > 0 && p->text.data[0] == '+') ||
		line_status(p->text.data, p->text.len, &rest) !=
		    IMAP_STATUS_NONE))
		return 1;
	if ((r = literal_size(p, &size)) <= 0)
		return r == 0 ? 1 : -1;
	return start_literal(p, size);
}

/* Take literal bytes.  Return 0, or -1 when the sink failed. */
static int
feed_literal(struct imap_parser *p, const char *data, size_t len, size_t *used)
{
	size_t n = len < p->lit_left ? len : (size_t)p->lit_left;

	*used = n;
	if (p->lit_to_sink) {
		if (p->lit_sink.write(p->lit_sink.arg, data, n) == -1)
			return fatal(
			    p, ERR_SYS, "literal sink failed to write");
	} else if (buf_append(&p->text, data, n) == -1) {
		return fatal(p, ERR_LIMIT, "response too big");
	}
	p->lit_left -= n;
	if (p->lit_left == 0)
		return end_literal(p);
	return 0;
}

/* Tokenising.  These return 0, or -1 with p->resp.error set. */

static int
invalid(struct imap_parser *p, const char *why)
{
	p->resp.error = why;
	return -1;
}

static int
over_limit(struct imap_parser *p, const char *why)
{
	p->limit_hit = true;
	return invalid(p, why);
}

static int
push(struct imap_parser *p, const struct imap_arg *a)
{
	if (p->nargs >= p->lim.max_args)
		return over_limit(p, "too many arguments");
	if (p->sp == p->stack_cap) {
		p->stack_cap = p->stack_cap ? p->stack_cap * 2 : 32;
		p->stack = xreallocarray(p->stack, p->stack_cap, sizeof(*a));
	}
	p->nargs++;
	p->stack[p->sp++] = *a;
	return 0;
}

/* Move the arguments from stack[start] on into the arena. */
static int
collect(
    struct imap_parser *p, size_t start, struct imap_arg **out, size_t *n_out)
{
	size_t n = p->sp - start;

	*out = NULL;
	*n_out = n;
	if (n == 0)
		return 0;
	if ((*out = arena_alloc(&p->arena, n * sizeof(**out))) == NULL)
		return over_limit(p, "response too big");
	memcpy(*out, p->stack + start, n * sizeof(**out));
	p->sp = start;
	return 0;
}

static int
open_list(struct imap_parser *p)
{
	struct imap_arg list = {.type = IMAP_ARG_LIST};

	if (p->depth >= p->lim.max_depth)
		return over_limit(p, "lists nested too deep");
	if (push(p, &list) == -1)
		return -1;
	if (p->depth == p->frames_cap) {
		p->frames_cap = p->frames_cap ? p->frames_cap * 2 : 8;
		p->frames =
		    xreallocarray(p->frames, p->frames_cap, sizeof(*p->frames));
	}
	p->frames[p->depth++] = p->sp;
	return 0;
}

static int
close_list(struct imap_parser *p)
{
	size_t start;

	if (p->depth == 0)
		return invalid(p, "unbalanced ')'");
	start = p->frames[--p->depth];
	return collect(
	    p, start, &p->stack[start - 1].list, &p->stack[start - 1].nlist);
}

/*
 * Where the "[" at s is closed, or NULL when not in this line segment.
 * A section may hold spaces, lists and quoted strings:
 * BODY[HEADER.FIELDS (FROM "X]")]<0>.
 */
static char *
match_bracket(char *s, const char *end)
{
	size_t depth = 0;

	for (; s < end && *s != '\n'; s++) {
		if (*s == '[') {
			depth++;
		} else if (*s == ']') {
			if (--depth == 0)
				return s;
		} else if (*s == '"') {
			for (s++; s < end && *s != '"' && *s != '\n'; s++)
				if (*s == '\\' && s + 1 < end && s[1] != '\n')
					s++;
			if (s == end || *s == '\n')
				return NULL;
		}
	}
	return NULL;
}

/*
 * An atom, or NIL.  "[" starts a section that runs to its matching "]";
 * when there is none the "[" is plain, and so are the later ones in the
 * line (which keeps this linear in the length of the line).
 */
static void
parse_atom(
    struct imap_parser *p, struct cursor *c, bool code, struct imap_arg *a)
{
	char *start = c->s, *close;

	while (c->s < c->end) {
		if (*c->s == '[' && !p->brackets_off) {
			if ((close = match_bracket(c->s, c->end)) != NULL) {
				c->s = close + 1;
				continue;
			}
			p->brackets_off = true;
		} else if (!IS_ATOM_CHAR(*c->s) || (code && *c->s == ']')) {
			break;
		}
		c->s++;
	}
	a->s = str_make(start, (size_t)(c->s - start));
	a->type = str_eq_ci(a->s, "NIL") ? IMAP_ARG_NIL : IMAP_ARG_ATOM;
	if (a->type == IMAP_ARG_NIL)
		a->s = STR_NULL;
}

/*
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE
 * QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> /
 *               "\" quoted-specials
 * Leniently, "\" before any other byte keeps that byte.  Unescaped in
 * place, except inside a response code: the code may yet fail to parse,
 * and then its raw bytes are the text, so the copy goes to the arena.
 */
static int
parse_quoted(
    struct imap_parser *p, struct cursor *c, bool code, struct imap_arg *a)
{
	char *start = ++c->s, *w;
	size_t i, len, nesc = 0;

	for (; c->s < c->end && *c->s != '"' && *c->s != '\n'; c->s++)
		if (*c->s == '\\' && c->s + 1 < c->end && c->s[1] != '\n') {
			c->s++;
			nesc++;
		}
	if (c->s == c->end || *c->s != '"')
		return invalid(p, "unterminated quoted string");
	len = (size_t)(c->s++ - start);
	a->type = IMAP_ARG_STRING;
	a->s = str_make(start, len);
	if (nesc == 0)
		return 0;
	if ((w = code ? arena_alloc(&p->arena, len - nesc) : start) == NULL)
		return over_limit(p, "response too big");
	a->s = str_make(w, len - nesc);
	for (i = 0; i < len; i++)
		*w++ = start[i] == '\\' ? start[++i] : start[i];
	return 0;
}

/*
 * literal = "{" number64 ["+"] "}" CRLF *CHAR8
 * literal8 = "~{" number64 ["+"] "}" CRLF *OCTET
 * Framing has checked the size and put its marker after the "}".
 */
static int
parse_literal(struct imap_parser *p, struct cursor *c, struct imap_arg *a)
{
	struct str s;
	uint64_t n;

	if (*c->s == '~')
		c->s++;
	s = str_make(c->s + 1, (size_t)(c->end - c->s - 1));
	if (!str_take_u64(&s, p->lim.max_literal, &n))
		return invalid(p, "bad literal");
	str_skip_char(&s, '+');
	if (!str_skip_char(&s, '}') || !str_skip_char(&s, '\n'))
		return invalid(p, "literal not at the end of a line");
	assert(s.len > 0 && (s.p[0] == 'I' || s.p[0] == 'S'));
	if (s.p[0] == 'I') {
		assert(n <= s.len - 1);
		a->type = IMAP_ARG_LITERAL;
		a->s = str_make(s.p + 1, (size_t)n);
		c->s += (size_t)(s.p - c->s) + 1 + (size_t)n;
	} else {
		a->type = IMAP_ARG_LITERAL_SINK;
		a->size = n;
		c->s += (size_t)(s.p - c->s) + 1;
	}
	p->brackets_off = false;
	return 0;
}

static int
parse_token(struct imap_parser *p, struct cursor *c, bool code)
{
	struct imap_arg a = {.type = IMAP_ARG_NIL};
	char ch = *c->s;
	int r = 0;

	if (ch == '{' || (ch == '~' && c->end - c->s > 1 && c->s[1] == '{'))
		r = parse_literal(p, c, &a);
	else if (ch == '"')
		r = parse_quoted(p, c, code, &a);
	else if (IS_ATOM_CHAR(ch) && !(code && ch == ']'))
		parse_atom(p, c, code, &a);
	else
		return invalid(p, "unexpected character");
	if (r == -1)
		return -1;
	return push(p, &a);
}

/*
 * Tokens up to the end (or, in a response code, the "]" that closes it)
 * into *out.  Lists may follow anything without a space: "(a)(b)".
 */
static int
parse_args(struct imap_parser *p, struct cursor *c, bool code,
    struct imap_arg **out, size_t *n_out)
{
	size_t base = p->sp;
	int r;

	for (;;) {
		while (c->s < c->end && *c->s == ' ')
			c->s++;
		if (c->s == c->end || (code && *c->s == ']' && p->depth == 0))
			break;
		if (*c->s == '(') {
			c->s++;
			r = open_list(p);
		} else if (*c->s == ')') {
			c->s++;
			r = close_list(p);
		} else {
			r = parse_token(p, c, code);
		}
		if (r == -1)
			return -1;
	}
	if (p->depth > 0)
		return invalid(p, "unbalanced '('");
	return collect(p, base, out, n_out);
}

/* "[" resp-text-code "]" into code and code_args. */
static int
parse_code(struct imap_parser *p, struct cursor *c)
{
	struct imap_resp *r = &p->resp;
	char *name = ++c->s;

	while (c->s < c->end && IS_ATOM_CHAR(*c->s) && *c->s != ']')
		c->s++;
	r->code = str_make(name, (size_t)(c->s - name));
	if (r->code.len == 0)
		return -1;
	if (c->s < c->end && *c->s == ' ' &&
	    parse_args(p, c, true, &r->code_args, &r->ncode_args) == -1)
		return -1;
	if (c->s == c->end || *c->s != ']')
		return -1;
	c->s++;
	return 0;
}

/*
 * resp-text = ["[" resp-text-code "]" SP] [text]
 * A code that does not parse is left in the text: the text is for humans
 * and the status is what matters.  Breaking a limit still fails.
 */
static int
parse_resp_text(struct imap_parser *p, struct cursor *c)
{
	struct imap_resp *r = &p->resp;
	char *open = c->s;

	if (c->s < c->end && *c->s == '[' && parse_code(p, c) == 0) {
		if (c->s < c->end && *c->s == ' ')
			c->s++;
	} else if (p->limit_hit) {
		return -1;
	} else {
		r->code = STR_NULL;
		r->code_args = NULL;
		r->ncode_args = 0;
		r->error = NULL;
		p->sp = p->nargs = 0;
		p->depth = 0;
		c->s = open;
	}
	r->text = str_make(c->s, (size_t)(c->end - c->s));
	return 0;
}

static bool
valid_tag(struct str tag)
{
	size_t i;

	for (i = 0; i < tag.len; i++)
		if (!IS_TAG_CHAR(tag.p[i]))
			return false;
	return tag.len > 0;
}

/*
 * response = continue-req / response-data / response-tagged ...
 * continue-req = "+" SP (resp-text / base64) CRLF
 */
static int
parse_response(struct imap_parser *p, struct cursor *c)
{
	struct imap_resp *r = &p->resp;
	char *tag = c->s, *first;
	size_t rest;

	if (c->s == c->end)
		return invalid(p, "empty line");
	if (*c->s == '+') {
		r->kind = IMAP_RESP_CONTINUE;
		r->tag = str_make(c->s++, 1);
		if (p->saw_nul)
			return invalid(p, "NUL byte in line");
		if (c->s < c->end && *c->s == ' ')
			c->s++;
		r->text = str_make(c->s, (size_t)(c->end - c->s));
		return 0;
	}
	while (c->s < c->end && *c->s != ' ' && *c->s != '\n')
		c->s++;
	r->tag = str_make(tag, (size_t)(c->s - tag));
	r->kind =
	    str_eq_cstr(r->tag, "*") ? IMAP_RESP_UNTAGGED : IMAP_RESP_TAGGED;
	if (r->kind == IMAP_RESP_TAGGED && !valid_tag(r->tag)) {
		r->tag = STR_NULL;
		return invalid(p, "bad tag");
	}
	if (p->saw_nul)
		return invalid(p, "NUL byte in line");
	if (c->s == c->end)
		return invalid(p, "nothing after the tag");
	/* As framing did: on the first line. */
	first = memchr(c->s, '\n', (size_t)(c->end - c->s));
	r->status = line_status(
	    c->start, (size_t)((first ? first : c->end) - c->start), &rest);
	if (r->status != IMAP_STATUS_NONE) {
		c->s = c->start + rest;
		if (c->s < c->end && *c->s == ' ')
			c->s++;
		return parse_resp_text(p, c);
	}
	if (parse_args(p, c, false, &r->args, &r->nargs) == -1)
		return -1;
	if (r->nargs == 0)
		return invalid(p, "nothing after the tag");
	return 0;
}

/* Turn the complete p->text into p->resp. */
static void
parse(struct imap_parser *p)
{
	struct cursor c = {
	    p->text.data, p->text.data, p->text.data + p->text.len};
	struct imap_resp *r = &p->resp;

	memset(r, 0, sizeof(*r));
	p->sp = p->nargs = 0;
	p->depth = 0;
	p->limit_hit = p->brackets_off = false;
	if (parse_response(p, &c) == -1)
		*r = (struct imap_resp){.kind = IMAP_RESP_INVALID,
		    .tag = r->tag,
		    .error = r->error};
}

/* The next response starts: forget the previous one. */
static void
reset_response(struct imap_parser *p)
{
	buf_reset(&p->text);
	arena_reset(&p->arena);
	p->line_start = 0;
	p->nontext = 0;
	p->inline_left = sat_mul(p->lim.max_inline_lit, INLINE_BUDGET);
	p->saw_nul = false;
	memset(&p->resp, 0, sizeof(p->resp));
	set_state(p, ST_LINE);
}

struct imap_parser *
imap_parser_new(const struct imap_limits *lim)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));
	size_t per_arg = sizeof(struct imap_arg) + alignof(max_align_t);

	p->lim = lim ? *lim : imap_default_limits;
	/*
	 * Stored text is at most the counted text plus a 2-byte marker per
	 * literal, and each literal costs at least 4 counted bytes ("{0}\n").
	 */
	buf_init(&p->text, sat_add(sat_mul(p->lim.max_line, 2),
			       sat_mul(p->lim.max_inline_lit, INLINE_BUDGET)));
	/*
	 * Each argument is copied to the arena once, in one array per list;
	 * strings unescaped there come from a line.
	 */
	arena_init(
	    &p->arena, sat_add(p->lim.max_line,
			   sat_mul(sat_add(p->lim.max_args, 2), per_arg)));
	err_clear(&p->fatal);
	reset_response(p);
	return p;
}

void
imap_parser_free(struct imap_parser *p)
{
	if (p == NULL)
		return;
	buf_release(&p->text);
	arena_release(&p->arena);
	free(p->stack);
	free(p->frames);
	free(p);
}

void
imap_parser_set_sink(struct imap_parser *p, const struct imap_sink *sink)
{
	if (sink == NULL || sink->open == NULL) {
		memset(&p->sink, 0, sizeof(p->sink));
		return;
	}
	assert(sink->write != NULL && sink->close != NULL);
	p->sink = *sink;
}

int
imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
    size_t *used_out, const struct imap_resp **resp_out, struct err *err)
{
	size_t used = 0, n = 0;
	int r = 0;

	*resp_out = NULL;
	if (p->state == ST_DONE)
		reset_response(p);
	while (r == 0 && used < len && p->state != ST_FAILED) {
		if (p->state == ST_LINE)
			r = feed_line(p, data + used, len - used, &n);
		else
			r = feed_literal(p, data + used, len - used, &n);
		used += n;
	}
	*used_out = used;
	if (p->state == ST_FAILED) {
		if (err != NULL)
			*err = p->fatal;
		r = -1;
	} else if (r == 1) {
		parse(p);
		set_state(p, ST_DONE);
		*resp_out = &p->resp;
	}
	return r;
}
