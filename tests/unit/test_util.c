/* SPDX-License-Identifier: ISC */
/*
 * test_util.c - unit tests for util/: buffers, slices, errors, the arena
 * and the poll loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "util/arena.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hex.h"
#include "util/intern.h"
#include "util/loop.h"
#include "util/str.h"

static void
test_buf_grows_and_stays_terminated(void)
{
	struct buf b;
	int i;

	buf_init(&b, BUF_NOMAX);
	T_EQ_STR(b.data, "");
	for (i = 0; i < 1000; i++)
		T_EQ_INT(buf_puts(&b, "abc"), 0);
	T_EQ_INT(b.len, 3000);
	T_EQ_INT(b.data[b.len], '\0');
	T_ASSERT(b.cap > b.len);
	buf_reset(&b);
	T_EQ_STR(b.data, "");
	T_EQ_INT(buf_printf(&b, "%d-%s", 42, "x"), 0);
	T_EQ_STR(b.data, "42-x");
	buf_release(&b);
}

static void
test_buf_max_fails_cleanly(void)
{
	struct buf b;

	buf_init(&b, 5);
	T_EQ_INT(buf_puts(&b, "1234"), 0);
	T_EQ_INT(buf_puts(&b, "56"), -1);
	T_EQ_STR(b.data, "1234");
	T_EQ_INT(buf_putc(&b, '5'), 0);
	T_EQ_INT(buf_putc(&b, '6'), -1);
	T_EQ_INT(buf_printf(&b, "%s", "x"), -1);
	T_ASSERT(buf_reserve(&b, 1) == NULL);
	T_EQ_STR(b.data, "12345");
	buf_release(&b);
}

static void
test_buf_reserve_commit_consume(void)
{
	struct buf b;
	char *p;
	size_t len;

	buf_init(&b, 100);
	p = buf_reserve(&b, 10);
	T_ASSERT(p != NULL);
	memcpy(p, "hello\0wor", 9);
	buf_commit(&b, 9);
	T_EQ_MEM(b.data, b.len, "hello\0wor", 9);
	buf_consume(&b, 6);
	T_EQ_STR(b.data, "wor");
	buf_truncate(&b, 1);
	T_EQ_STR(b.data, "w");
	p = buf_detach(&b, &len);
	T_EQ_STR(p, "w");
	T_EQ_INT(len, 1);
	T_EQ_STR(b.data, "");
	free(p);
	buf_release(&b);
}

static void
test_str_numbers(void)
{
	struct str s = str_from("4294967295 rest");
	uint64_t v;

	T_ASSERT(str_take_u64(&s, UINT32_MAX, &v));
	T_EQ_INT(v, 4294967295u);
	T_ASSERT(str_skip_char(&s, ' '));
	T_ASSERT(str_eq_cstr(s, "rest"));
	T_ASSERT(!str_to_u64(str_from("4294967296"), UINT32_MAX, &v));
	T_ASSERT(str_to_u64(str_from("18446744073709551615"), UINT64_MAX, &v));
	T_ASSERT(v == UINT64_MAX);
	T_ASSERT(!str_to_u64(str_from("18446744073709551616"), UINT64_MAX, &v));
	T_ASSERT(
	    !str_to_u64(str_from("99999999999999999999999"), UINT64_MAX, &v));
	T_ASSERT(!str_to_u64(str_from(""), UINT64_MAX, &v));
	T_ASSERT(!str_to_u64(str_from("12a"), UINT64_MAX, &v));
}

static void
test_str_compare(void)
{
	struct str s = str_from("UID FETCH");

	T_ASSERT(str_starts_ci(s, "uid "));
	T_ASSERT(str_skip_ci(&s, "uid "));
	T_ASSERT(str_eq_ci(s, "fetch"));
	T_ASSERT(!str_eq_ci(s, "fetc"));
	T_ASSERT(!str_skip_ci(&s, "fetchx"));
	T_ASSERT(str_eq(str_make("ab", 2), str_from("ab")));
	/* FNV-1a's published values. */
	T_ASSERT(str_hash("") == 0xcbf29ce484222325ULL);
	T_ASSERT(str_hash("a") == 0xaf63dc4c8601ec8cULL);
	T_ASSERT(str_hash("foobar") == 0x85944171f73967e8ULL);
}

static void
test_err_kinds_and_prefix(void)
{
	struct err e;

	err_clear(&e);
	T_EQ_INT(err_set(&e, ERR_PROTO, "bad %s", "literal"), -1);
	T_EQ_INT(e.kind, ERR_PROTO);
	T_EQ_STR(e.msg, "bad literal");
	err_prefix(&e, "folder %s", "INBOX");
	T_EQ_STR(e.msg, "folder INBOX: bad literal");
	errno = ENOENT;
	err_sys(&e, "open %s", "x");
	T_EQ_INT(e.kind, ERR_SYS);
	T_EQ_STR(e.msg, "open x: No such file or directory");
	T_EQ_STR(err_kind_name(ERR_TLS), "tls");
	T_EQ_STR(err_kind_name((enum err_kind)999), "unknown");
}

static void
test_arena_bounds(void)
{
	struct arena a;
	char *p, *q;

	arena_init(&a, 10000);
	p = arena_alloc(&a, 100);
	q = arena_alloc(&a, 5000);
	T_ASSERT(p != NULL && q != NULL);
	memset(p, 1, 100);
	memset(q, 2, 5000);
	T_ASSERT(arena_alloc(&a, 6000) == NULL);
	arena_reset(&a);
	T_EQ_INT(a.used, 0);
	T_ASSERT(arena_alloc(&a, 9000) != NULL);
	T_ASSERT(arena_alloc(&a, (size_t)-1) == NULL);
	arena_release(&a);
}

struct loop_probe {
	struct loop *l;
	int timers;
	int reads;
	char got[16];
};

static void
on_timer(void *arg)
{
	struct loop_probe *p = arg;

	p->timers++;
}

static void
on_read(int fd, unsigned ev, void *arg)
{
	struct loop_probe *p = arg;
	ssize_t n;

	T_ASSERT(ev & LOOP_READ);
	n = read(fd, p->got, sizeof(p->got) - 1);
	T_ASSERT(n > 0);
	p->got[n] = '\0';
	p->reads++;
	loop_fd_del(p->l, fd); /* removing oneself inside a callback */
}

static void
test_loop_fds_and_timers(void)
{
	struct loop_probe p = {0};
	int fds[2];
	uint64_t cancelled;
	int64_t t0;

	p.l = loop_new();
	T_EQ_INT(pipe(fds), 0);
	loop_fd_add(p.l, fds[0], LOOP_READ, on_read, &p);
	loop_timer_add(p.l, 10, on_timer, &p);
	cancelled = loop_timer_add(p.l, 5, on_timer, &p);
	loop_timer_del(p.l, cancelled);
	T_EQ_INT(write(fds[1], "ping", 4), 4);
	t0 = loop_now_ms();
	loop_run(p.l); /* returns when nothing is left */
	T_EQ_INT(p.reads, 1);
	T_EQ_STR(p.got, "ping");
	T_EQ_INT(p.timers, 1);
	T_ASSERT(loop_now_ms() - t0 >= 9);
	T_EQ_INT(loop_run_once(p.l, 0), -1);
	close(fds[0]);
	close(fds[1]);
	loop_free(p.l);
}

static void
test_base64_round_trip(void)
{
	static const char *const vec[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	struct buf b;
	size_t i;

	buf_init(&b, 100);
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_reset(&b);
		T_EQ_INT(base64_encode(vec[i][0], strlen(vec[i][0]), &b), 0);
		T_EQ_STR(b.data, vec[i][1]);
		buf_reset(&b);
		T_EQ_INT(base64_decode(vec[i][1], strlen(vec[i][1]), &b), 0);
		T_EQ_STR(b.data, vec[i][0]);
	}
	buf_reset(&b);
	T_EQ_INT(base64_encode("\0alice\0pw", 9, &b), 0);
	T_EQ_STR(b.data, "AGFsaWNlAHB3");
	buf_release(&b);
}

static void
test_base64_rejects(void)
{
	static const char *const bad[] = {
	    "Zg=",
	    "Z===",
	    "Zg==Zg==",
	    "Zm9v!A==",
	    "Zm 9",
	    "=Zg=",
	    "Zg=a",
	};
	struct buf b;
	size_t i;

	buf_init(&b, 100);
	T_EQ_INT(buf_puts(&b, "keep"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ_INT(base64_decode(bad[i], strlen(bad[i]), &b), -1);
		T_EQ_STR(b.data, "keep");
	}
	buf_release(&b);
}

static void
test_fingerprint_parse(void)
{
	const char *hex = "00112233445566778899aabbccddeeff"
			  "00112233445566778899AABBCCDDEEFF";
	unsigned char fp[FINGERPRINT_LEN];
	char buf[200];
	int i;

	snprintf(buf, sizeof(buf), "sha256:%s", hex);
	T_EQ_INT(fingerprint_parse(str_from(buf), fp), 0);
	T_EQ_INT(fp[0], 0x00);
	T_EQ_INT(fp[15], 0xff);
	T_EQ_INT(fp[31], 0xff);
	/* Colons between bytes, upper-case prefix. */
	memcpy(buf, "SHA256:", 7);
	for (i = 0; i < FINGERPRINT_LEN; i++)
		snprintf(buf + 7 + 3 * i, 4, "%.2s:", hex + 2 * i);
	buf[7 + 3 * FINGERPRINT_LEN - 1] = '\0';
	T_EQ_INT(fingerprint_parse(str_from(buf), fp), 0);
	T_EQ_INT(fp[31], 0xff);
	T_EQ_INT(fingerprint_parse(str_from("sha256:0011"), fp), -1);
	T_EQ_INT(fingerprint_parse(str_from("sha1:00"), fp), -1);
	snprintf(buf, sizeof(buf), "sha256:%s00", hex);
	T_EQ_INT(fingerprint_parse(str_from(buf), fp), -1);
	snprintf(buf, sizeof(buf), "sha256:%.63sg", hex);
	T_EQ_INT(fingerprint_parse(str_from(buf), fp), -1);
}

static void
test_intern_one_copy(void)
{
	struct intern t = {0};
	const char *seen, *a;
	char buf[32];
	int i;

	seen = intern(&t, "\\Seen");
	T_ASSERT(seen != NULL);
	T_EQ_STR(seen, "\\Seen");
	/* Equal strings give the same copy, also across growth. */
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "$kw%d", i % 300);
		a = intern(&t, buf);
		T_EQ_STR(a, buf);
		T_ASSERT(a != buf);
	}
	T_EQ_INT(t.n, 301);
	T_ASSERT(intern(&t, "\\Seen") == seen);
	T_ASSERT(intern(&t, "$kw7") == intern(&t, "$kw7"));
	T_ASSERT(intern(&t, "") != NULL);
	T_EQ_INT(t.n, 302);
	intern_free(&t);
	T_EQ_INT(t.n, 0);
	T_EQ_STR(intern(&t, "again"), "again");
	intern_free(&t);
}

static const struct t_case cases[] = {
    {"fingerprint parse", test_fingerprint_parse},
    {"base64 round trip", test_base64_round_trip},
    {"base64 rejects", test_base64_rejects},
    {"buf grows and stays terminated", test_buf_grows_and_stays_terminated},
    {"buf max fails cleanly", test_buf_max_fails_cleanly},
    {"buf reserve/commit/consume", test_buf_reserve_commit_consume},
    {"str numbers", test_str_numbers},
    {"str compare", test_str_compare},
    {"err kinds and prefix", test_err_kinds_and_prefix},
    {"arena bounds", test_arena_bounds},
    {"intern keeps one copy", test_intern_one_copy},
    {"loop fds and timers", test_loop_fds_and_timers},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
