/* SPDX-License-Identifier: ISC */
/*
 * fuzz_imap_parser.c - libFuzzer target for imap/parser.c.
 *
 * Input: byte 0 chooses how the rest is split into feeds (0: one byte at
 * a time, else random pieces from a generator seeded with it), byte 1 the
 * limits and the sink's behaviour (see setup()), and the rest is what a
 * server sent.  The target feeds that twice, whole and split, and aborts
 * when the two runs disagree: on the printed responses, on what the sink
 * received, or on a fatal error.  Every response must also respect the
 * limits, and a valid one must survive print -> parse -> print.  So the
 * fuzzer finds resumption bugs as well as crashes, leaks and overreads
 * (each piece is fed from its own allocation).
 *
 * tests/fuzz/replay_main.c runs the corpus through this without libFuzzer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parser.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/str.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

enum sink_fail {
	FAIL_NONE,
	FAIL_OPEN,
	FAIL_WRITE,
	FAIL_CLOSE
};

/* Checks the sink protocol and sums up what it was given. */
struct sink_state {
	enum sink_fail fail;
	unsigned fail_at; /* fail the n-th open, write or close */
	unsigned calls[4];
	int is_open;
	uint64_t announced, got;
	uint64_t hash; /* FNV-1a of every callback and byte */
};

struct run {
	struct buf out; /* printed responses, then the fatal error */
	struct sink_state sink;
};

static struct imap_limits lim;
static enum sink_fail fail_kind;
static int use_sink;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_imap_parser: %s\n", what);
		abort();
	}
}

static void
hash_bytes(struct sink_state *s, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		s->hash = (s->hash ^ b[i]) * 0x100000001b3ull;
}

/* Count a callback; return -1 when it is the one that must fail. */
static int
sink_call(struct sink_state *s, enum sink_fail which)
{
	unsigned char tag = (unsigned char)which;

	/* How many writes a literal takes depends on the split. */
	if (which != FAIL_WRITE)
		hash_bytes(s, &tag, 1);
	return s->fail == which && ++s->calls[which] == s->fail_at ? -1 : 0;
}

static int
sk_open(void *arg, uint64_t size, struct str before)
{
	(void)before;
	struct sink_state *s = arg;

	check(!s->is_open, "sink opened twice");
	check(size <= lim.max_literal, "sink literal over max_literal");
	check(size > 0, "empty literal sent to the sink");
	s->is_open = 1;
	s->announced = size;
	s->got = 0;
	hash_bytes(s, &size, sizeof(size));
	return sink_call(s, FAIL_OPEN);
}

static int
sk_write(void *arg, const char *data, size_t len)
{
	struct sink_state *s = arg;

	check(s->is_open, "sink write while closed");
	check(len > 0 && len <= s->announced - s->got, "sink write size");
	s->got += len;
	hash_bytes(s, data, len);
	return sink_call(s, FAIL_WRITE);
}

static int
sk_close(void *arg)
{
	struct sink_state *s = arg;

	check(s->is_open, "sink closed twice");
	check(s->got == s->announced, "sink closed early");
	s->is_open = 0;
	return sink_call(s, FAIL_CLOSE);
}

/* The tree respects the limits; return how many arguments it has. */
static size_t
check_args(const struct imap_arg *a, size_t n, unsigned depth)
{
	size_t i, count = n;

	check(n == 0 || a != NULL, "arguments missing");
	for (i = 0; i < n; i++) {
		check(a[i].s.len == 0 || a[i].s.p != NULL, "NULL slice");
		if (a[i].type == IMAP_ARG_LITERAL)
			check(a[i].s.len <= lim.max_inline_lit,
			    "inline literal too big");
		if (a[i].type != IMAP_ARG_LIST)
			continue;
		check(depth < lim.max_depth, "lists too deep");
		count += check_args(a[i].list, a[i].nlist, depth + 1);
	}
	return count;
}

static int
has_sink_literal(const struct imap_arg *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i].type == IMAP_ARG_LITERAL_SINK ||
		    (a[i].type == IMAP_ARG_LIST &&
			has_sink_literal(a[i].list, a[i].nlist)))
			return 1;
	return 0;
}

/* A valid response prints, parses again and prints the same. */
static void
round_trip(const struct imap_resp *r, struct str printed)
{
	struct imap_limits roomy = lim;
	struct imap_parser *p;
	const struct imap_resp *again;
	struct buf in, out;
	struct err err;
	size_t used;

	if (r->kind == IMAP_RESP_INVALID || has_sink_literal(r->args, r->nargs))
		return;
	/* Printing adds a space between ")(" and may double the text. */
	roomy.max_line = 4 * lim.max_line + 64;
	p = imap_parser_new(&roomy);
	buf_init(&in, BUF_NOMAX);
	buf_init(&out, BUF_NOMAX);
	check(buf_append(&in, printed.p, printed.len) == 0 &&
		  buf_puts(&in, "\r\n") == 0,
	    "buf");
	check(imap_parser_feed(p, in.data, in.len, &used, &again, &err) == 1,
	    "printed response does not parse");
	check(used == in.len, "printed response is not one response");
	check(imap_resp_print(again, &out) == 0, "print");
	if (!str_eq(str_make(out.data, out.len), printed)) {
		fprintf(stderr, "printed: [%.*s]\nagain:   [%.*s]\n",
		    (int)printed.len, printed.p, (int)out.len, out.data);
		check(0, "round trip changed the response");
	}
	buf_release(&in);
	buf_release(&out);
	imap_parser_free(p);
}

static void
check_resp(const struct imap_resp *r, struct buf *out)
{
	size_t start = out->len, n;

	check(r->kind <= IMAP_RESP_INVALID, "kind");
	check(r->kind != IMAP_RESP_INVALID || r->error != NULL, "no error");
	n = check_args(r->args, r->nargs, 0) +
	    check_args(r->code_args, r->ncode_args, 0);
	check(n <= lim.max_args, "too many arguments");
	check(
	    imap_resp_print(r, out) == 0 && buf_putc(out, '\n') == 0, "print");
	round_trip(r, str_make(out->data + start, out->len - start - 1));
}

/* Feed data in pieces: one byte each (seed 0) or random sizes. */
static void
feed(
    struct run *run, const uint8_t *data, size_t size, unsigned seed, int whole)
{
	struct imap_parser *p = imap_parser_new(&lim);
	struct imap_sink sink = {sk_open, sk_write, sk_close, &run->sink};
	uint32_t x = seed * 2654435761u + 1;
	const struct imap_resp *r;
	size_t off = 0, n, pos, used;
	struct err err;
	char *piece;
	int rc = 0;

	if (use_sink)
		imap_parser_set_sink(p, &sink);
	while (off < size && rc != -1) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		n = whole       ? size - off
		    : seed == 0 ? 1
				: 1 + x % (1u << seed % 9);
		n = n > size - off ? size - off : n;
		piece = xmalloc(n);
		memcpy(piece, data + off, n);
		for (pos = 0; pos < n && rc != -1; pos += used) {
			rc = imap_parser_feed(
			    p, piece + pos, n - pos, &used, &r, &err);
			check(used <= n - pos, "used too much");
			if (rc == 1)
				check_resp(r, &run->out);
			else if (rc == 0)
				check(used == n - pos, "0 but not all used");
		}
		free(piece);
		off += n;
	}
	if (rc == -1)
		check(buf_printf(&run->out, "FATAL %d", (int)err.kind) == 0,
		    "print");
	imap_parser_free(p);
}

/* Byte 1: max_inline_lit, sink or not, how it fails, max_depth. */
static void
setup(uint8_t conf)
{
	static const size_t inline_lits[] = {0, 3, 16, 64};

	lim.max_line = 1024;
	lim.max_depth = 2u << (conf >> 6);
	lim.max_args = 64;
	lim.max_inline_lit = inline_lits[conf & 3];
	lim.max_literal = 8192;
	use_sink = (conf & 4) != 0;
	fail_kind =
	    (conf & 0x20) ? (enum sink_fail)((conf >> 3) & 3) : FAIL_NONE;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a, b;

	if (size < 2)
		return 0;
	setup(data[1]);
	memset(&a, 0, sizeof(a));
	buf_init(&a.out, BUF_NOMAX);
	a.sink.fail = fail_kind;
	/* Writes come in pieces that depend on the split: fail the first. */
	a.sink.fail_at = fail_kind == FAIL_WRITE ? 1 : 1 + (data[0] & 1);
	b = a;
	buf_init(&b.out, BUF_NOMAX);
	feed(&a, data + 2, size - 2, 0, 1);
	feed(&b, data + 2, size - 2, data[0], 0);
	check(a.out.len == b.out.len &&
		  memcmp(a.out.data, b.out.data, a.out.len) == 0,
	    "split feed printed something else");
	/* Where a write fails depends on the split. */
	check(fail_kind == FAIL_WRITE || a.sink.hash == b.sink.hash,
	    "split feed gave the sink something else");
	buf_release(&a.out);
	buf_release(&b.out);
	return 0;
}
