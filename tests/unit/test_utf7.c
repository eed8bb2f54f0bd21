/* SPDX-License-Identifier: ISC */
/*
 * test_utf7.c - modified UTF-7 mailbox names (imap/utf7.c).
 *
 * Known pairs in both directions (the RFC 3501 example first), round
 * trips over fixed and pseudo-random names, a table of malformed input
 * in each direction, and the promise that a failed call leaves the
 * output buffer untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/utf7.h"
#include "tests/t.h"
#include "util/buf.h"
#include "util/err.h"

struct pair {
	const char *utf8;
	const char *utf7;
};

static const struct pair pairs[] = {
    {"", ""},
    {"INBOX", "INBOX"},
    {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	"~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
    {"&", "&-"},
    {"&&", "&-&-"},
    {"Tom & Jerry", "Tom &- Jerry"},
    {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
    {"\xf0\x9f\x98\x80", "&2D3eAA-"},
    {"a\xf0\x9f\x98\x80"
     "b&c",
	"a&2D3eAA-b&-c"},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e&\xf0\x9f\x98\x80",
	"&ZeVnLIqe-&-&2D3eAA-"},
    {"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "&BB8EQAQ4BDIENQRC-"},
    {"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", "&BekF3AXVBd0-"},
    {"\x01\x7f", "&AAEAfw-"},
    {" ~", " ~"},
};

static void
expect_to_utf8(const char *in, const char *want)
{
	struct buf b;
	struct err err = {0};

	buf_init(&b, BUF_NOMAX);
	T_EQ_INT(imap_utf7_to_utf8(str_from(in), &b, &err), 0);
	T_EQ_MEM(b.data, b.len, want, strlen(want));
	buf_release(&b);
}

static void
expect_to_utf7(const char *in, const char *want)
{
	struct buf b;
	struct err err = {0};

	buf_init(&b, BUF_NOMAX);
	T_EQ_INT(imap_utf8_to_utf7(str_from(in), &b, &err), 0);
	T_EQ_MEM(b.data, b.len, want, strlen(want));
	buf_release(&b);
}

static void
test_known_pairs(void)
{
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		expect_to_utf8(pairs[i].utf7, pairs[i].utf8);
		expect_to_utf7(pairs[i].utf8, pairs[i].utf7);
	}
}

static void
test_rfc_example(void)
{
	struct buf b;
	struct err err = {0};

	/* Appends to what is already there. */
	buf_init(&b, BUF_NOMAX);
	T_EQ_INT(buf_puts(&b, "> "), 0);
	T_EQ_INT(imap_utf7_to_utf8(
		     str_from("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), &b, &err),
	    0);
	T_EQ_STR(b.data, "> ~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
			 "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	buf_release(&b);
}

/* utf8 -> utf7 -> utf8 gives back the input, and the utf7 is printable. */
static void
round_trip(const char *p, size_t len)
{
	struct buf b7, b8;
	struct err err = {0};
	size_t i;

	buf_init(&b7, BUF_NOMAX);
	buf_init(&b8, BUF_NOMAX);
	T_EQ_INT(imap_utf8_to_utf7(str_make(p, len), &b7, &err), 0);
	for (i = 0; i < b7.len; i++)
		T_ASSERT(b7.data[i] >= 0x20 && b7.data[i] <= 0x7e);
	T_EQ_INT(imap_utf7_to_utf8(str_make(b7.data, b7.len), &b8, &err), 0);
	T_EQ_MEM(b8.data, b8.len, p, len);
	buf_release(&b7);
	buf_release(&b8);
}

static void
test_round_trip_fixed(void)
{
	static const char *const names[] = {
	    "INBOX",
	    "&",
	    "&-",
	    "a&b&&c&",
	    "&\xf0\x9f\x98\x80&",
	    "Archive/2024/\xc3\x84rger",
	    "\xf0\x9f\x93\xa7 Mail \xf0\x9f\x93\xa7",
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82",
	    "\xf0\x90\x80\x80",
	    "\xf4\x8f\xbf\xbf",
	    "\xef\xbf\xbf",
	    "\xee\x80\x80",
	    "\xc2\x80",
	    "\xdf\xbf",
	    "\xe0\xa0\x80",
	    "\xed\x9f\xbf",
	    "\xef\xbb\xbf",
	    "tab\there",
	    "x\xc3\xa9y\xc3\xa9z",
	    "\xe2\x82\xac-\xe2\x82\xac",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		round_trip(names[i], strlen(names[i]));
}

/* A small deterministic generator, so that failures reproduce. */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A random valid code point, not U+0000 and not a surrogate. */
static uint32_t
random_cp(uint32_t *s)
{
	uint32_t cp;

	switch (next_rand(s) % 6) {
	case 0:
	case 1:
		cp = 0x20 + next_rand(s) % 0x5f; /* printable ASCII */
		break;
	case 2:
		cp = next_rand(s) % 3 ? '&' : 1 + next_rand(s) % 0x1f;
		break;
	case 3:
		cp = 0x80 + next_rand(s) % 0x780;
		break;
	case 4:
		cp = 0x800 + next_rand(s) % 0xf800;
		break;
	default:
		cp = 0x10000 + next_rand(s) % 0x100000;
		break;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	return cp;
}

static size_t
put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | cp >> 18);
	p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static void
test_round_trip_random(void)
{
	uint32_t seed = 0x9e3779b9;
	char name[4 * 40];
	int i, j;

	for (i = 0; i < 5000; i++) {
		size_t len = 0;
		int n = (int)(next_rand(&seed) % 40);

		for (j = 0; j < n; j++)
			len += put_utf8(name + len, random_cp(&seed));
		round_trip(name, len);
	}
}

/*
 * Any printable string the decoder accepts must come back byte for byte
 * when encoded again: there is only one valid spelling of each name.
 */
static void
test_decoder_is_canonical(void)
{
	static const char alphabet[] = "&-&-AB,+gw0Z9a-";
	uint32_t seed = 12345;
	struct buf b8, b7;
	struct err err = {0};
	char in[24];
	int i, accepted = 0;

	buf_init(&b8, BUF_NOMAX);
	buf_init(&b7, BUF_NOMAX);
	for (i = 0; i < 100000; i++) {
		size_t len = next_rand(&seed) % sizeof(in), k;

		for (k = 0; k < len; k++)
			in[k] =
			    alphabet[next_rand(&seed) % (sizeof(alphabet) - 1)];
		buf_reset(&b8);
		buf_reset(&b7);
		if (imap_utf7_to_utf8(str_make(in, len), &b8, &err) == -1) {
			T_EQ_INT(err.kind, ERR_PROTO);
			T_EQ_INT(b8.len, 0);
			continue;
		}
		accepted++;
		T_EQ_INT(
		    imap_utf8_to_utf7(str_make(b8.data, b8.len), &b7, &err), 0);
		T_EQ_MEM(b7.data, b7.len, in, len);
	}
	T_ASSERT(accepted > 1000);
	buf_release(&b8);
	buf_release(&b7);
}

struct reject {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *msg;
};

static const struct reject utf7_rejects[] = {
    {"&", 0, "invalid modified UTF-7, byte 0: '&' without a closing '-'"},
    {"a&U,BTFw", 0,
	"invalid modified UTF-7, byte 1: '&' without a closing '-'"},
    {"&-&", 0, "invalid modified UTF-7, byte 2: '&' without a closing '-'"},
    {"a\x01"
     "b",
	0, "invalid modified UTF-7, byte 1: byte 0x01 is not printable ASCII"},
    {"a\tb", 0,
	"invalid modified UTF-7, byte 1: byte 0x09 is not printable ASCII"},
    {"a\x7f", 0,
	"invalid modified UTF-7, byte 1: byte 0x7F is not printable ASCII"},
    {"caf\xc3\xa9", 0,
	"invalid modified UTF-7, byte 3: byte 0xC3 is not printable ASCII"},
    {"a\0b", 3,
	"invalid modified UTF-7, byte 1: byte 0x00 is not printable ASCII"},
    {"&U/BTFw-", 0,
	"invalid modified UTF-7, byte 2: '/' is not a base64 character"},
    {"&U,BTFw=-", 0,
	"invalid modified UTF-7, byte 7: '=' is not a base64 character"},
    {"&&-", 0, "invalid modified UTF-7, byte 1: '&' is not a base64 character"},
    {"&U,B\xc3\xa9-", 0,
	"invalid modified UTF-7, byte 4: byte 0xC3 in a base64 run"},
    {"&AGE-", 0,
	"invalid modified UTF-7, byte 3: printable 'a' must not be encoded"},
    {"&ACY-", 0,
	"invalid modified UTF-7, byte 3: printable '&' must not be encoded"},
    {"&ACA-", 0,
	"invalid modified UTF-7, byte 3: printable ' ' must not be encoded"},
    {"&AAA-", 0, "invalid modified UTF-7, byte 3: encoded U+0000"},
    {"&A-", 0, "invalid modified UTF-7, byte 0: run encodes nothing"},
    {"&AA-", 0, "invalid modified UTF-7, byte 0: run encodes nothing"},
    {"&U,BTFx-", 0,
	"invalid modified UTF-7, byte 7: non-zero bits left over before '-'"},
    {"&APx-", 0,
	"invalid modified UTF-7, byte 4: non-zero bits left over before '-'"},
    {"&U,BTFwA-", 0,
	"invalid modified UTF-7, byte 8: base64 character left "
	"over before '-'"},
    {"&APwA-", 0,
	"invalid modified UTF-7, byte 5: base64 character left "
	"over before '-'"},
    {"&2D0-", 0,
	"invalid modified UTF-7, byte 4: run ends in a lone high "
	"surrogate U+D83D"},
    {"&3gA-", 0, "invalid modified UTF-7, byte 3: lone low surrogate U+DE00"},
    {"&2D3YPQ-", 0,
	"invalid modified UTF-7, byte 6: high surrogate U+D83D "
	"not followed by a low one"},
    {"&2D3,,Q-", 0,
	"invalid modified UTF-7, byte 6: high surrogate U+D83D "
	"not followed by a low one"},
    {"&ZeU-&ZeU-", 0,
	"invalid modified UTF-7, byte 5: two encoded runs in a row must be "
	"one"},
    {"&2D0-&3gA-", 0,
	"invalid modified UTF-7, byte 4: run ends in a lone high surrogate "
	"U+D83D"},
    {"&APw-&AOk-", 0,
	"invalid modified UTF-7, byte 5: two encoded runs in a row must be "
	"one"},
};

static void
test_utf7_rejects(void)
{
	size_t i;

	for (i = 0; i < sizeof(utf7_rejects) / sizeof(utf7_rejects[0]); i++) {
		const struct reject *r = &utf7_rejects[i];
		size_t len = r->len ? r->len : strlen(r->in);
		struct buf b;
		struct err err = {0};

		buf_init(&b, BUF_NOMAX);
		T_EQ_INT(buf_puts(&b, "kept"), 0);
		T_EQ_INT(imap_utf7_to_utf8(str_make(r->in, len), &b, &err), -1);
		T_EQ_INT(err.kind, ERR_PROTO);
		T_EQ_STR(err.msg, r->msg);
		T_EQ_STR(b.data, "kept");
		buf_release(&b);
	}
}

static const struct reject utf8_rejects[] = {
    {"\x80", 0, "invalid UTF-8, byte 0: unexpected continuation byte"},
    {"ab\xbf", 0, "invalid UTF-8, byte 2: unexpected continuation byte"},
    {"\xc0\xaf", 0, "invalid UTF-8, byte 0: overlong encoding"},
    {"\xc1\xbf", 0, "invalid UTF-8, byte 0: overlong encoding"},
    {"\xe0\x80\xaf", 0, "invalid UTF-8, byte 0: overlong encoding"},
    {"\xe0\x9f\xbf", 0, "invalid UTF-8, byte 0: overlong encoding"},
    {"\xf0\x80\x80\xaf", 0, "invalid UTF-8, byte 0: overlong encoding"},
    {"\xf0\x8f\xbf\xbf", 0, "invalid UTF-8, byte 0: overlong encoding"},
    {"x\xed\xa0\x80", 0, "invalid UTF-8, byte 1: encoded surrogate"},
    {"\xed\xbf\xbf", 0, "invalid UTF-8, byte 0: encoded surrogate"},
    {"\xed\xa0\xbd\xed\xb8\x80", 0, "invalid UTF-8, byte 0: encoded surrogate"},
    {"\xf4\x90\x80\x80", 0, "invalid UTF-8, byte 0: code point above U+10FFFF"},
    {"\xf5\x80\x80\x80", 0, "invalid UTF-8, byte 0: code point above U+10FFFF"},
    {"\xf8\x88\x80\x80\x80", 0,
	"invalid UTF-8, byte 0: byte never used in UTF-8"},
    {"\xff", 0, "invalid UTF-8, byte 0: byte never used in UTF-8"},
    {"\xc3", 0, "invalid UTF-8, byte 0: truncated sequence"},
    {"ok\xe6\x97", 0, "invalid UTF-8, byte 2: truncated sequence"},
    {"\xe6\x97"
     "a",
	0, "invalid UTF-8, byte 0: truncated sequence"},
    {"\xf0\x9f\x98", 0, "invalid UTF-8, byte 0: truncated sequence"},
    {"\xf0\x9f\x98\xc3\xa9", 0, "invalid UTF-8, byte 0: truncated sequence"},
    {"a\0b", 3, "invalid UTF-8, byte 1: U+0000 in a mailbox name"},
};

static void
test_utf8_rejects(void)
{
	size_t i;

	for (i = 0; i < sizeof(utf8_rejects) / sizeof(utf8_rejects[0]); i++) {
		const struct reject *r = &utf8_rejects[i];
		size_t len = r->len ? r->len : strlen(r->in);
		struct buf b;
		struct err err = {0};

		buf_init(&b, BUF_NOMAX);
		T_EQ_INT(buf_puts(&b, "kept"), 0);
		T_EQ_INT(imap_utf8_to_utf7(str_make(r->in, len), &b, &err), -1);
		T_EQ_INT(err.kind, ERR_BOX);
		T_EQ_STR(err.msg, r->msg);
		T_EQ_STR(b.data, "kept");
		buf_release(&b);
	}
}

/* Valid input after which a reject comes: nothing of it stays behind. */
static void
test_error_after_output(void)
{
	struct buf b;
	struct err err = {0};

	buf_init(&b, BUF_NOMAX);
	T_EQ_INT(
	    imap_utf7_to_utf8(str_from("Entw&APw-rfe/&AGE-"), &b, &err), -1);
	T_EQ_INT(b.len, 0);
	T_EQ_STR(b.data, "");
	T_EQ_INT(
	    imap_utf8_to_utf7(str_from("Entw\xc3\xbcrfe/\xff"), &b, &err), -1);
	T_EQ_INT(b.len, 0);
	buf_release(&b);
}

static void
test_limit(void)
{
	struct buf b;
	struct err err = {0};

	/* "&U,BTFw-" is 8 bytes; 7 allowed. */
	buf_init(&b, 7);
	T_EQ_INT(
	    imap_utf8_to_utf7(str_from("\xe5\x8f\xb0\xe5\x8c\x97"), &b, &err),
	    -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	T_EQ_INT(b.len, 0);
	/* Each of the 6 output bytes fits in 6, but not in 5. */
	T_EQ_INT(imap_utf7_to_utf8(str_from("&U,BTFw-"), &b, &err), 0);
	T_EQ_INT(b.len, 6);
	buf_release(&b);
	buf_init(&b, 5);
	T_EQ_INT(imap_utf7_to_utf8(str_from("&U,BTFw-"), &b, &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	T_EQ_INT(b.len, 0);
	T_EQ_INT(imap_utf7_to_utf8(str_from("abcdef"), &b, &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	T_EQ_INT(b.len, 0);
	T_EQ_INT(imap_utf8_to_utf7(str_from("abc&"), &b, &err), 0);
	T_EQ_STR(b.data, "abc&-");
	buf_release(&b);
}

static const struct t_case cases[] = {
    {"known pairs both ways", test_known_pairs},
    {"RFC 3501 example, appended", test_rfc_example},
    {"round trip: fixed names", test_round_trip_fixed},
    {"round trip: random names", test_round_trip_random},
    {"decoder accepts one spelling only", test_decoder_is_canonical},
    {"modified UTF-7 rejects", test_utf7_rejects},
    {"UTF-8 rejects", test_utf8_rejects},
    {"error leaves no partial output", test_error_after_output},
    {"output bound is ERR_LIMIT", test_limit},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
