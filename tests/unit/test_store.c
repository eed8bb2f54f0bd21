/* SPDX-License-Identifier: ISC */
/*
 * test_store.c - unit tests for store/store.c: canonical flag strings
 * (a table of inputs, rejects, \Recent dropping, buffer bounds) and
 * fingerprints (CRLF and folding do not matter, the Message-ID and the
 * size and date do, the header hash when there is no Message-ID, and the
 * exact documented input, recomputed here with OpenSSL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/store.h"
#include "t.h"

struct norm_case {
	const char *in;
	const char *out; /* NULL: rejected */
};

static const struct norm_case norm_cases[] = {
    {"", ""},
    {"   ", ""},
    {"\\Seen", "\\Seen"},
    {"\\seen \\ANSWERED", "\\Answered \\Seen"},
    {"\\Flagged \\Draft \\Deleted", "\\Deleted \\Draft \\Flagged"},
    {"$Junk \\Seen $Junk", "$Junk \\Seen"},
    {"b a c a", "a b c"},
    {"  a\t  b  ", "a b"},
    {"\\Recent", ""},
    {"\\recent \\Seen \\RECENT", "\\Seen"},
    {"\\Important", "\\Important"},
    {"Zeta alpha Alpha", "Alpha Zeta alpha"},
    {"$Forwarded NonJunk", "$Forwarded NonJunk"},
    {"\\Seen \\seen", "\\Seen"},
    {"(a", NULL},
    {"a)", NULL},
    {"a{3}", NULL},
    {"a%", NULL},
    {"a*", NULL},
    {"\\*", NULL},
    {"a\"b", NULL},
    {"a]", NULL},
    {"\\", NULL},
    {"a\\b", NULL},
    {"\\\\Seen", NULL},
    {"caf\xc3\xa9", NULL},
    {"a\x01", NULL},
    {"a\x7f", NULL},
    {"ok \\Seen (bad", NULL},
};

static void
test_flags_norm_table(void)
{
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
		const struct norm_case *c = &norm_cases[i];
		int r = store_flags_norm(c->in, out, sizeof(out));

		if (c->out == NULL) {
			if (r != -1)
				t_fail(__FILE__, __LINE__,
				    "case %zu \"%s\" accepted as \"%s\"", i,
				    c->in, out);
			continue;
		}
		if (r != 0)
			t_fail(__FILE__, __LINE__, "case %zu \"%s\" rejected",
			    i, c->in);
		T_EQ_STR(out, c->out);
	}
}

static void
test_flags_norm_bounds(void)
{
	char out[16], same[32];

	/* "\Seen" needs 6 bytes with its NUL. */
	T_EQ_INT(store_flags_norm("\\Seen", out, 5), -1);
	T_EQ_INT(store_flags_norm("\\Seen", out, 6), 0);
	T_EQ_STR(out, "\\Seen");
	T_EQ_INT(store_flags_norm("b a", out, 3), -1);
	T_EQ_INT(store_flags_norm("b a", out, 4), 0);
	T_EQ_INT(store_flags_norm("b a", out, 0), -1);
	/* Duplicates and \Recent do not count against the size. */
	T_EQ_INT(store_flags_norm("a a a \\Recent", out, 2), 0);
	T_EQ_STR(out, "a");
	/* In place. */
	snprintf(same, sizeof(same), "\\Seen $b \\seen $a");
	T_EQ_INT(store_flags_norm(same, same, sizeof(same)), 0);
	T_EQ_STR(same, "$a $b \\Seen");
}

static void
test_flags_has(void)
{
	T_ASSERT(store_flags_has("\\Seen", "\\Seen"));
	T_ASSERT(store_flags_has("$Junk \\Flagged \\Seen", "\\Flagged"));
	T_ASSERT(store_flags_has("$Junk \\Flagged \\Seen", "$Junk"));
	T_ASSERT(store_flags_has("$Junk \\Flagged \\Seen", "\\Seen"));
	T_ASSERT(!store_flags_has("$Junk \\Flagged \\Seen", "Seen"));
	T_ASSERT(!store_flags_has("$Junk \\Flagged \\Seen", "$Jun"));
	T_ASSERT(!store_flags_has("$Junk \\Flagged \\Seen", "Flagged \\Seen"));
	T_ASSERT(!store_flags_has("$JunkX", "$Junk"));
	T_ASSERT(!store_flags_has("", "\\Seen"));
	T_ASSERT(!store_flags_has("\\Seen", ""));
}

static void
fp(const char *h, uint64_t size, int64_t date, unsigned char *out)
{
	store_fingerprint(h, strlen(h), size, date, out);
}

#define DATE 1700000000

static void
test_fp_crlf_and_folding(void)
{
	unsigned char a[STORE_FP_LEN], b[STORE_FP_LEN], c[STORE_FP_LEN];

	fp("Message-ID: <abc@example.com>\r\nSubject: one\r\n\r\nbody\r\n",
	    1234, DATE, a);
	fp("Subject: two\nmessage-id:\n   <abc@example.com>  \n\n", 1234, DATE,
	    b);
	fp("Message-Id :\t<abc@example.com>\r\n", 1234, DATE, c);
	T_EQ_MEM(a, sizeof(a), b, sizeof(b));
	T_EQ_MEM(a, sizeof(a), c, sizeof(c));
	/* Without brackets it is the same identity. */
	fp("Message-ID: abc@example.com\r\n\r\n", 1234, DATE, b);
	T_EQ_MEM(a, sizeof(a), b, sizeof(b));
}

static void
test_fp_differs(void)
{
	unsigned char a[STORE_FP_LEN], b[STORE_FP_LEN];

	fp("Message-ID: <abc@example.com>\r\n\r\n", 1234, DATE, a);
	fp("Message-ID: <abd@example.com>\r\n\r\n", 1234, DATE, b);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	fp("Message-ID: <ABC@example.com>\r\n\r\n", 1234, DATE, b);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0); /* case kept */
	fp("Message-ID: <abc@example.com>\r\n\r\n", 1235, DATE, b);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	fp("Message-ID: <abc@example.com>\r\n\r\n", 1234, DATE + 1, b);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	fp("Message-ID: <abc@example.com>\r\n\r\n", 1234, -DATE, b);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
}

static void
test_fp_header_fallback(void)
{
	unsigned char a[STORE_FP_LEN], b[STORE_FP_LEN];

	fp("From: a@example.com\r\nSubject: hello\r\n world\r\n\r\nbody", 99,
	    DATE, a);
	fp("From: a@example.com\nSubject: hello\n world\n", 99, DATE, b);
	T_EQ_MEM(a, sizeof(a), b, sizeof(b));
	fp("From: a@example.com\nSubject: hello\n world", 99, DATE, b);
	T_EQ_MEM(a, sizeof(a), b, sizeof(b));
	/* A different header is another message. */
	fp("From: b@example.com\nSubject: hello\n world\n", 99, DATE, b);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	/* A Message-ID in the body does not count. */
	fp("From: a@example.com\r\nSubject: hello\r\n world\r\n\r\n"
	   "Message-ID: <x@y>\r\n",
	    99, DATE, b);
	T_EQ_MEM(a, sizeof(a), b, sizeof(b));
	/* An empty Message-ID falls back to the header too. */
	fp("Message-ID: <>\r\n\r\n", 99, DATE, a);
	fp("Message-ID: <>\n", 99, DATE, b);
	T_EQ_MEM(a, sizeof(a), b, sizeof(b));
	fp("Message-ID: < >\n", 99, DATE, b);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
}

/* SHA-256 of tag || text || 0 || be64(size) || be64(date). */
static void
expected(const char *tag, const char *text, uint64_t size, int64_t date,
    unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char tail[17];
	unsigned int n = 0;
	uint64_t d = (uint64_t)date;
	int i;

	tail[0] = 0;
	for (i = 0; i < 8; i++) {
		tail[1 + i] = (unsigned char)(size >> (56 - 8 * i));
		tail[9 + i] = (unsigned char)(d >> (56 - 8 * i));
	}
	T_ASSERT(ctx != NULL);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, tag, strlen(tag));
	EVP_DigestUpdate(ctx, text, strlen(text));
	EVP_DigestUpdate(ctx, tail, sizeof(tail));
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
	T_EQ_INT(n, STORE_FP_LEN);
}

static void
test_fp_documented_input(void)
{
	unsigned char got[STORE_FP_LEN], want[STORE_FP_LEN];

	fp("To: x\r\nMessage-ID:  <Id.1@Host> \r\n\r\n", 4096, DATE, got);
	expected("ferry-fp1:mid:", "Id.1@Host", 4096, DATE, want);
	T_EQ_MEM(got, sizeof(got), want, sizeof(want));
	fp("To: x\r\nSubject: a\r\n\tb\r\nX: \r\n\r\n", 7, -1, got);
	expected("ferry-fp1:hdr:", "To: x\nSubject: a\tb\nX: ", 7, -1, want);
	T_EQ_MEM(got, sizeof(got), want, sizeof(want));
	fp("", 0, 0, got);
	expected("ferry-fp1:hdr:", "", 0, 0, want);
	T_EQ_MEM(got, sizeof(got), want, sizeof(want));
}

static void
test_fp_bounded(void)
{
	unsigned char a[STORE_FP_LEN], b[STORE_FP_LEN];
	size_t n = STORE_HEADER_MAX + 100, i;
	char *h = malloc(n + 1);

	T_ASSERT(h != NULL);
	/* One long field; a Message-ID beyond the bound is not seen. */
	memcpy(h, "X: ", 3);
	for (i = 3; i < n; i++)
		h[i] = 'a';
	memcpy(h + STORE_HEADER_MAX + 2, "\nMessage-ID: <q@r>\n", 19);
	h[n] = '\0';
	store_fingerprint(h, strlen(h), 1, 2, a);
	store_fingerprint(h, STORE_HEADER_MAX, 1, 2, b);
	free(h);
	T_EQ_MEM(a, sizeof(a), b, sizeof(b));
}

static const struct t_case cases[] = {
    {"flags norm table", test_flags_norm_table},
    {"flags norm bounds and in place", test_flags_norm_bounds},
    {"flags has", test_flags_has},
    {"fp crlf and folding", test_fp_crlf_and_folding},
    {"fp differs", test_fp_differs},
    {"fp header fallback", test_fp_header_fallback},
    {"fp documented input", test_fp_documented_input},
    {"fp bounded", test_fp_bounded},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
