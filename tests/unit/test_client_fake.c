/* SPDX-License-Identifier: ISC */
/*
 * test_client_fake.c - transcript tests of the IMAP client against a
 * scripted server on a socketpair: the exact bytes the client sends, and
 * how it copes with what a real server will not do on request (LITERAL-
 * limits, no LITERAL+, BYE in the middle of a command, replies to
 * commands never sent, stray continuations, malformed and hostile
 * responses, refused or missing STARTTLS, PREAUTH where TLS is due).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imap/client.h"
#include "tests/t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/loop.h"

struct fake {
	struct loop *loop;
	struct imap_client *c;
	int peer;
	char got[65536];
	size_t ngot;
};

struct result {
	int calls;
	enum imap_status status;
	enum err_kind err;
	char code[32];
};

static void
on_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct result *res = arg;

	(void)c;
	res->calls++;
	res->status = r->status;
	res->err = r->err ? r->err->kind : ERR_NONE;
	if (r->resp)
		snprintf(res->code, sizeof(res->code), "%.*s",
		    (int)r->resp->code.len, r->resp->code.p);
}

static void
say(struct fake *f, const char *s)
{
	T_EQ_INT(write(f->peer, s, strlen(s)), (long)strlen(s));
}

/* Run the client's loop until it has nothing more to do right now. */
static void
spin(struct fake *f)
{
	int i;

	for (i = 0; i < 50; i++)
		if (loop_run_once(f->loop, 5) <= 0 && i > 2)
			break;
}

/* What the client sent since the last call, as a C string. */
static const char *
heard(struct fake *f)
{
	ssize_t n;

	spin(f);
	f->ngot = 0;
	while ((n = read(f->peer, f->got + f->ngot,
		    sizeof(f->got) - 1 - f->ngot)) > 0)
		f->ngot += (size_t)n;
	f->got[f->ngot] = '\0';
	return f->got;
}

static int
start(struct fake *f, enum conn_tls tls, const char *greeting, struct err *e)
{
	struct imap_client_opts o;
	int sv[2];

	memset(f, 0, sizeof(*f));
	T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f->peer = sv[1];
	fcntl(f->peer, F_SETFL, fcntl(f->peer, F_GETFL) | O_NONBLOCK);
	memset(&o, 0, sizeof(o));
	o.conn.host = "fake.example";
	o.conn.port = "143";
	o.conn.tls = tls;
	o.conn.timeout_ms = 2000;
	o.allow_plaintext = true;
	o.window = 4;
	f->loop = loop_new();
	f->c = imap_client_new(f->loop, &o);
	say(f, greeting);
	return imap_client_connect_fd(f->c, sv[0], e);
}

static void
open_fake(struct fake *f, const char *caps)
{
	char greeting[512];
	struct err e;

	snprintf(greeting, sizeof(greeting),
	    "* OK [CAPABILITY IMAP4rev1 %s] fake ready\r\n", caps);
	if (start(f, CONN_TLS_NONE, greeting, &e) == -1)
		t_fail(__FILE__, __LINE__, "connect: %s", e.msg);
	T_EQ_INT(imap_client_state(f->c), IMAP_ST_NOAUTH);
}

static void
stop(struct fake *f)
{
	imap_client_free(f->c);
	loop_free(f->loop);
	close(f->peer);
}

static void
send_cmd(struct fake *f, struct result *res, const char *text)
{
	struct imap_cmd *cmd = imap_cmd_new(f->c, 0, on_done, res);

	imap_cmd_printf(cmd, "%s", text);
	imap_cmd_send(cmd);
}

static void
send_append(struct fake *f, struct result *res, size_t n)
{
	struct imap_cmd *cmd = imap_cmd_new(f->c, 0, on_done, res);
	char *body = malloc(n);

	memset(body, 'x', n);
	imap_cmd_printf(cmd, "APPEND INBOX ");
	imap_cmd_literal(cmd, body, n);
	imap_cmd_send(cmd);
	free(body);
}

static void
test_pipelined_bytes_and_window(void)
{
	struct fake f;
	struct result r[6] = {{0}};
	int i;

	open_fake(&f, "LITERAL+");
	for (i = 0; i < 6; i++)
		send_cmd(&f, &r[i], "NOOP");
	/* The window is 4: two wait until the first replies arrive. */
	T_EQ_STR(heard(&f), "1 NOOP\r\n2 NOOP\r\n3 NOOP\r\n4 NOOP\r\n");
	say(&f, "2 OK done\r\n1 OK done\r\n");
	T_EQ_STR(heard(&f), "5 NOOP\r\n6 NOOP\r\n");
	say(&f, "3 OK a\r\n4 NO b\r\n5 BAD c\r\n6 OK [ALERT] d\r\n");
	spin(&f);
	for (i = 0; i < 6; i++)
		T_EQ_INT(r[i].calls, 1);
	T_EQ_INT(r[3].status, IMAP_STATUS_NO);
	T_EQ_INT(r[4].status, IMAP_STATUS_BAD);
	T_EQ_INT(r[5].status, IMAP_STATUS_OK);
	stop(&f);
}

static void
test_literal_plus(void)
{
	struct fake f;
	struct result r = {0};

	open_fake(&f, "LITERAL+");
	send_append(&f, &r, 5000);
	heard(&f);
	T_ASSERT(strncmp(f.got, "1 APPEND INBOX {5000+}\r\nxxx", 27) == 0);
	T_EQ_INT(f.ngot, 24 + 5000 + 2);
	say(&f, "1 OK [APPENDUID 7 9] done\r\n");
	spin(&f);
	T_EQ_INT(r.status, IMAP_STATUS_OK);
	T_EQ_STR(r.code, "APPENDUID");
	stop(&f);
}

static void
test_literal_minus_limit(void)
{
	struct fake f;
	struct result small = {0}, big = {0}, after = {0};

	open_fake(&f, "LITERAL-");
	send_append(&f, &small, 4096);
	heard(&f);
	T_ASSERT(strncmp(f.got, "1 APPEND INBOX {4096+}\r\n", 24) == 0);
	T_EQ_INT(f.ngot, 24 + 4096 + 2);
	/* Above 4096 bytes LITERAL- allows only a synchronising literal. */
	send_append(&f, &big, 4097);
	send_cmd(&f, &after, "NOOP");
	T_EQ_STR(heard(&f), "2 APPEND INBOX {4097}\r\n");
	/* Nothing more until the server says go, not even the NOOP. */
	T_EQ_STR(heard(&f), "");
	say(&f, "+ go ahead\r\n");
	heard(&f);
	T_EQ_INT(f.ngot, 4097 + 2 + strlen("3 NOOP\r\n"));
	T_ASSERT(strcmp(f.got + 4099, "3 NOOP\r\n") == 0);
	say(&f, "1 OK a\r\n2 OK b\r\n3 OK c\r\n");
	spin(&f);
	T_EQ_INT(small.calls + big.calls + after.calls, 3);
	stop(&f);
}

static void
test_no_literal_plus_waits(void)
{
	struct fake f;
	struct result r = {0};

	open_fake(&f, "");
	send_append(&f, &r, 10);
	T_EQ_STR(heard(&f), "1 APPEND INBOX {10}\r\n");
	say(&f, "+ Ready for literal data\r\n");
	T_EQ_STR(heard(&f), "xxxxxxxxxx\r\n");
	say(&f, "1 NO [TRYCREATE] no such mailbox\r\n");
	spin(&f);
	T_EQ_INT(r.status, IMAP_STATUS_NO);
	T_EQ_STR(r.code, "TRYCREATE");
	stop(&f);
}

static void
test_bye_in_the_middle(void)
{
	struct fake f;
	struct result a = {0}, b = {0};

	open_fake(&f, "");
	send_cmd(&f, &a, "UID FETCH 1:* (FLAGS)");
	send_cmd(&f, &b, "NOOP");
	heard(&f);
	say(&f, "* 1 FETCH (UID 1 FLAGS ())\r\n* BYE going down\r\n");
	shutdown(f.peer, SHUT_WR);
	spin(&f);
	T_EQ_INT(a.calls, 1);
	T_EQ_INT(b.calls, 1);
	T_EQ_INT(a.status, IMAP_STATUS_NONE);
	T_EQ_INT(a.err, ERR_CONN);
	T_EQ_INT(imap_client_state(f.c), IMAP_ST_CLOSED);
	/* A command queued afterwards fails at once, exactly once. */
	send_cmd(&f, &b, "NOOP");
	T_EQ_INT(b.calls, 2);
	stop(&f);
}

static void
test_reply_to_unknown_tag(void)
{
	struct fake f;
	struct result a = {0};

	open_fake(&f, "");
	send_cmd(&f, &a, "NOOP");
	heard(&f);
	say(&f, "99 OK I never got that\r\n");
	spin(&f);
	T_EQ_INT(a.calls, 1);
	T_EQ_INT(a.err, ERR_PROTO);
	T_EQ_INT(imap_client_state(f.c), IMAP_ST_CLOSED);
	stop(&f);
}

static void
test_stray_continuation(void)
{
	struct fake f;
	struct result a = {0};

	open_fake(&f, "");
	send_cmd(&f, &a, "NOOP");
	heard(&f);
	say(&f, "+ nobody asked\r\n");
	spin(&f);
	T_EQ_INT(a.err, ERR_PROTO);
	T_EQ_INT(imap_client_state(f.c), IMAP_ST_CLOSED);
	stop(&f);
}

static void
test_malformed_responses_are_survived(void)
{
	struct fake f;
	struct result a = {0}, b = {0};

	open_fake(&f, "");
	send_cmd(&f, &a, "UID FETCH 1 (FLAGS)");
	heard(&f);
	/* Unbalanced parentheses, a NUL byte: framed, so only skipped. */
	say(&f, "* 1 FETCH (UID 1 FLAGS (\\Seen)\r\n");
	T_EQ_INT(write(f.peer, "* 2 FETCH (UID\0 2)\r\n", 20), 20);
	say(&f, "1 OK done\r\n");
	spin(&f);
	T_EQ_INT(a.status, IMAP_STATUS_OK);
	send_cmd(&f, &b, "NOOP");
	T_EQ_STR(heard(&f), "2 NOOP\r\n");
	/* A malformed tagged reply fails its command, not the session. */
	say(&f, "2 OK (unbalanced\r\n");
	spin(&f);
	T_EQ_INT(b.calls, 1);
	T_ASSERT(imap_client_usable(f.c));
	stop(&f);
}

static void
test_huge_literal_is_fatal(void)
{
	struct fake f;
	struct result a = {0};

	open_fake(&f, "");
	send_cmd(&f, &a, "UID FETCH 1 (BODY.PEEK[])");
	heard(&f);
	say(&f, "* 1 FETCH (BODY[] {9223372036854775808}\r\nxx");
	spin(&f);
	T_EQ_INT(a.calls, 1);
	T_EQ_INT(a.status, IMAP_STATUS_NONE);
	T_EQ_INT(imap_client_state(f.c), IMAP_ST_CLOSED);
	stop(&f);
}

static void
test_login_quotes_and_plaintext(void)
{
	struct fake f;
	struct err e;

	/* AUTH=PLAIN without SASL-IR: LOGIN with a quoted password. */
	open_fake(&f, "AUTH=PLAIN");
	say(&f, "1 OK [CAPABILITY IMAP4rev1 IDLE] logged in\r\n");
	T_EQ_INT(imap_client_login(f.c, "alice", "p\"w d", &e), 0);
	T_EQ_STR(heard(&f), "1 LOGIN alice \"p\\\"w d\"\r\n");
	T_EQ_INT(imap_client_state(f.c), IMAP_ST_AUTH);
	T_ASSERT(imap_has_cap(f.c, "IDLE"));
	stop(&f);
}

/* Behind the login: a NOOP, and how many commands were out by then. */
struct behind {
	struct fake *f;
	struct result r;
	uint64_t sent;
};

static void
behind_noop(struct imap_client *c, void *arg)
{
	struct behind *b = arg;

	send_cmd(b->f, &b->r, "NOOP");
	b->sent = imap_client_cmds_sent(c);
}

static void
test_pipelined_behind_login(void)
{
	struct behind b;
	struct fake f;
	struct err e;

	/*
	 * AUTHENTICATE PLAIN with an initial response: the NOOP queued
	 * behind it goes out before the server's answer, in the same
	 * round trip.
	 */
	open_fake(&f, "AUTH=PLAIN SASL-IR");
	memset(&b, 0, sizeof(b));
	b.f = &f;
	imap_client_behind_login(f.c, behind_noop, &b);
	say(&f, "1 OK [CAPABILITY IMAP4rev1 ENABLE] in\r\n2 OK done\r\n");
	T_EQ_INT(imap_client_login(f.c, "alice", "pw", &e), 0);
	T_EQ_INT(b.sent, 2); /* not held until the login's answer */
	T_EQ_STR(heard(&f), "1 AUTHENTICATE PLAIN AGFsaWNlAHB3\r\n2 NOOP\r\n");
	T_EQ_INT(imap_client_drain(f.c, &e), 0);
	T_EQ_INT(b.r.calls, 1);
	T_EQ_INT(b.r.status, IMAP_STATUS_OK);
	T_ASSERT(imap_has_cap(f.c, "ENABLE"));
	/* LOGOUT is written, and the connection closed without its reply. */
	imap_client_logout(f.c);
	T_EQ_STR(heard(&f), "3 LOGOUT\r\n");
	T_EQ_INT(imap_client_state(f.c), IMAP_ST_CLOSED);
	stop(&f);

	/* A refused login fails what was pipelined behind it, too. */
	open_fake(&f, "AUTH=PLAIN SASL-IR");
	memset(&b, 0, sizeof(b));
	b.f = &f;
	imap_client_behind_login(f.c, behind_noop, &b);
	say(&f, "1 NO [AUTHENTICATIONFAILED] no\r\n2 BAD log in first\r\n");
	T_EQ_INT(imap_client_login(f.c, "alice", "pw", &e), -1);
	T_EQ_INT(e.kind, ERR_AUTH);
	spin(&f);
	T_EQ_INT(b.r.calls, 1);
	T_EQ_INT(b.r.status, IMAP_STATUS_BAD);
	stop(&f);
}

static void
test_logindisabled(void)
{
	struct fake f;
	struct err e;

	open_fake(&f, "LOGINDISABLED");
	T_EQ_INT(imap_client_login(f.c, "alice", "pw", &e), -1);
	T_EQ_INT(e.kind, ERR_AUTH);
	T_EQ_STR(heard(&f), "");
	stop(&f);
}

static void
test_preauth_on_starttls_link_refused(void)
{
	struct fake f;
	struct err e;

	T_EQ_INT(
	    start(&f, CONN_TLS_STARTTLS,
		"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n", &e),
	    -1);
	T_EQ_INT(e.kind, ERR_TLS);
	T_ASSERT(strstr(e.msg, "PREAUTH") != NULL);
	stop(&f);
}

static void
test_starttls_missing_or_refused(void)
{
	struct fake f;
	struct err e;

	T_EQ_INT(start(&f, CONN_TLS_STARTTLS,
		     "* OK [CAPABILITY IMAP4rev1] no tls here\r\n", &e),
	    -1);
	T_EQ_INT(e.kind, ERR_TLS);
	T_ASSERT(strstr(e.msg, "STARTTLS") != NULL);
	stop(&f);

	/* Offered, then refused: still no plaintext.  The server runs in a
	 * child so that it can answer the command the client sends. */
	memset(&f, 0, sizeof(f));
	{
		struct imap_client_opts o;
		char line[256];
		int sv[2];
		pid_t pid;

		T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		if ((pid = fork()) == 0) {
			ssize_t n;

			close(sv[0]);
			dprintf(sv[1], "* OK [CAPABILITY IMAP4rev1 STARTTLS] "
				       "hi\r\n");
			n = read(sv[1], line, sizeof(line) - 1);
			if (n > 0 && strncmp(line, "1 STARTTLS\r\n", 12) == 0)
				dprintf(sv[1], "1 NO not today\r\n");
			_exit(0);
		}
		close(sv[1]);
		f.peer = -1;
		memset(&o, 0, sizeof(o));
		o.conn.host = "fake.example";
		o.conn.port = "143";
		o.conn.tls = CONN_TLS_STARTTLS;
		f.loop = loop_new();
		f.c = imap_client_new(f.loop, &o);
		T_EQ_INT(imap_client_connect_fd(f.c, sv[0], &e), -1);
		T_EQ_INT(e.kind, ERR_TLS);
		T_ASSERT(strstr(e.msg, "refused") != NULL);
		imap_client_free(f.c);
		loop_free(f.loop);
		T_EQ_INT(waitpid(pid, NULL, 0), pid);
	}
}

static const struct t_case cases[] = {
    {"pipelined bytes and window", test_pipelined_bytes_and_window},
    {"LITERAL+", test_literal_plus},
    {"LITERAL- limit", test_literal_minus_limit},
    {"no LITERAL+ waits for +", test_no_literal_plus_waits},
    {"BYE in the middle", test_bye_in_the_middle},
    {"reply to unknown tag", test_reply_to_unknown_tag},
    {"stray continuation", test_stray_continuation},
    {"malformed responses survived", test_malformed_responses_are_survived},
    {"huge literal is fatal", test_huge_literal_is_fatal},
    {"login quotes", test_login_quotes_and_plaintext},
    {"LOGINDISABLED", test_logindisabled},
    {"pipelined behind the login", test_pipelined_behind_login},
    {"PREAUTH on STARTTLS link", test_preauth_on_starttls_link_refused},
    {"STARTTLS missing or refused", test_starttls_missing_or_refused},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
