/* SPDX-License-Identifier: ISC */
/*
 * test_imap.c - the IMAP client against the private Dovecot: both TLS
 * modes, the refusals a careful client must make, and every command ferry
 * uses, each checked by what the server then reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "imap/client.h"
#include "t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/str.h"

struct session {
	struct loop *loop;
	struct imap_client *c;
};

static void
open_client(struct session *s, enum conn_tls tls, const char *host,
    bool allow_plaintext)
{
	struct imap_client_opts o;

	memset(&o, 0, sizeof(o));
	o.conn.host = host;
	o.conn.port = th_env(
	    tls == CONN_TLS_IMPLICIT ? "FERRY_IMAPS_PORT" : "FERRY_IMAP_PORT");
	o.conn.tls = tls;
	o.conn.ca_file = th_env("FERRY_CA");
	o.conn.timeout_ms = 10000;
	o.allow_plaintext = allow_plaintext;
	o.name = "test";
	s->loop = loop_new();
	s->c = imap_client_new(s->loop, &o);
}

static void
close_client(struct session *s)
{
	imap_client_free(s->c);
	loop_free(s->loop);
}

/* Connected and logged in as user over implicit TLS. */
static void
login(struct session *s, const char *user)
{
	char var[64];
	struct err e;

	th_need_dovecot();
	open_client(s, CONN_TLS_IMPLICIT, "localhost", false);
	snprintf(var, sizeof(var), "FERRY_PASS_%s", user);
	if (imap_client_connect(s->c, &e) == -1 ||
	    imap_client_login(s->c, user, th_env(var), &e) == -1) {
		close_client(s);
		t_fail(__FILE__, __LINE__, "login as %s: %s", user, e.msg);
	}
}

#define OK(s, ...)                                                          \
	do {                                                                \
		struct err ok_e_;                                           \
		if (imap_simple((s)->c, NULL, NULL, &ok_e_, __VA_ARGS__) == \
		    -1)                                                     \
			t_fail(__FILE__, __LINE__, "%s", ok_e_.msg);        \
	} while (0)

/* Collects the untagged responses of one command, printed. */
static bool
collect(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct buf *b = arg;

	(void)c;
	if (r->status != IMAP_STATUS_NONE)
		return false;
	if (imap_resp_print(r, b) == -1 || buf_putc(b, '\n') == -1)
		abort();
	return true;
}

static int
run_collect(struct session *s, struct buf *out, struct err *e, const char *cmd)
{
	buf_reset(out);
	return imap_simple(s->c, collect, out, e, "%s", cmd);
}

static void
test_implicit_tls(void)
{
	struct session s;

	login(&s, "alice");
	T_ASSERT(conn_is_tls(imap_client_conn(s.c)));
	T_ASSERT(imap_has_cap(s.c, "IMAP4REV1"));
	T_ASSERT(imap_has_cap(s.c, "CONDSTORE")); /* post-login caps */
	T_EQ_INT(imap_client_state(s.c), IMAP_ST_AUTH);
	imap_client_logout(s.c);
	T_EQ_INT(imap_client_state(s.c), IMAP_ST_CLOSED);
	close_client(&s);
}

static void
test_starttls(void)
{
	struct session s;
	struct err e;

	th_need_dovecot();
	open_client(&s, CONN_TLS_STARTTLS, "localhost", false);
	T_EQ_INT(imap_client_connect(s.c, &e), 0);
	T_ASSERT(conn_is_tls(imap_client_conn(s.c)));
	T_ASSERT(
	    !imap_has_cap(s.c, "STARTTLS") || imap_has_cap(s.c, "AUTH=PLAIN"));
	T_EQ_INT(
	    imap_client_login(s.c, "bob", th_env("FERRY_PASS_bob"), &e), 0);
	OK(&s, "NOOP");
	imap_client_logout(s.c);
	close_client(&s);
}

static void
test_plaintext_login_refused(void)
{
	struct session s;
	struct err e;

	th_need_dovecot();
	open_client(&s, CONN_TLS_NONE, "localhost", false);
	T_EQ_INT(imap_client_connect(s.c, &e), 0);
	T_ASSERT(!conn_is_tls(imap_client_conn(s.c)));
	T_EQ_INT(imap_client_login(s.c, "alice", "alice-secret", &e), -1);
	T_EQ_INT(e.kind, ERR_CONFIG);
	T_ASSERT(strstr(e.msg, "unencrypted") != NULL);
	close_client(&s);

	/* Allowed explicitly, it works (Dovecot permits it on loopback). */
	open_client(&s, CONN_TLS_NONE, "localhost", true);
	T_EQ_INT(imap_client_connect(s.c, &e), 0);
	T_EQ_INT(
	    imap_client_login(s.c, "alice", th_env("FERRY_PASS_alice"), &e), 0);
	close_client(&s);
}

static void
test_wrong_password(void)
{
	struct session s;
	struct err e;

	th_need_dovecot();
	open_client(&s, CONN_TLS_IMPLICIT, "localhost", false);
	T_EQ_INT(imap_client_connect(s.c, &e), 0);
	T_EQ_INT(imap_client_login(s.c, "alice", "not-her-password", &e), -1);
	T_EQ_INT(e.kind, ERR_AUTH);
	T_ASSERT(strstr(e.msg, "alice") != NULL);
	T_ASSERT(strstr(e.msg, "not-her-password") == NULL);
	close_client(&s);
}

static void
test_tls_refusals(void)
{
	struct session s;
	struct err e;

	th_need_dovecot();
	/* The certificate names localhost, not 127.0.0.1. */
	open_client(&s, CONN_TLS_IMPLICIT, "127.0.0.1", false);
	T_EQ_INT(imap_client_connect(s.c, &e), -1);
	T_EQ_INT(e.kind, ERR_TLS);
	close_client(&s);
	/* STARTTLS to a name the certificate does not carry. */
	open_client(&s, CONN_TLS_STARTTLS, "127.0.0.1", false);
	T_EQ_INT(imap_client_connect(s.c, &e), -1);
	T_EQ_INT(e.kind, ERR_TLS);
	close_client(&s);
}

static void
test_folders(void)
{
	struct session s;
	struct buf out;
	struct err e;

	login(&s, "alice");
	buf_init(&out, BUF_NOMAX);
	OK(&s, "CREATE \"Work/Sub\"");
	OK(&s, "SUBSCRIBE \"Work/Sub\"");
	OK(&s, "RENAME \"Work/Sub\" \"Work/Renamed\"");
	T_EQ_INT(run_collect(&s, &out, &e,
		     "LIST \"\" \"Work*\" RETURN (SPECIAL-USE STATUS (MESSAGES "
		     "UIDVALIDITY))"),
	    0);
	T_ASSERT(strstr(out.data, "\"Work/Renamed\"") != NULL ||
		 strstr(out.data, "Work/Renamed") != NULL);
	T_ASSERT(strstr(out.data, "MESSAGES 0") != NULL);
	T_EQ_INT(run_collect(&s, &out, &e,
		     "LIST \"\" \"*\" RETURN "
		     "(SPECIAL-USE)"),
	    0);
	T_ASSERT(strstr(out.data, "\\Sent") != NULL);
	T_EQ_INT(run_collect(&s, &out, &e, "NAMESPACE"), 0);
	T_ASSERT(strstr(out.data, "NAMESPACE") != NULL);
	OK(&s, "DELETE \"Work/Renamed\"");
	T_EQ_INT(run_collect(&s, &out, &e, "LIST \"\" \"Work/*\""), 0);
	T_ASSERT(strstr(out.data, "Renamed") == NULL);
	T_EQ_INT(imap_simple(s.c, NULL, NULL, &e, "SELECT \"No/Such\""), -1);
	T_EQ_INT(e.kind, ERR_BOX);
	buf_release(&out);
	imap_client_logout(s.c);
	close_client(&s);
}

static void
test_utf8_mailbox_names(void)
{
	struct session s;
	struct imap_cmd *cmd;
	struct buf out;
	struct err e;

	login(&s, "carol");
	buf_init(&out, BUF_NOMAX);
	cmd = imap_cmd_new(s.c, 0, NULL, NULL);
	imap_cmd_printf(cmd, "CREATE ");
	T_EQ_INT(imap_cmd_mailbox(cmd, "Räksmörgås/日本語", &e), 0);
	T_EQ_INT(imap_cmd_wait(cmd, &e), 0);
	T_EQ_INT(run_collect(&s, &out, &e, "LIST \"\" \"*\""), 0);
	T_ASSERT(strstr(out.data, "R&AOQ-ksm&APY-rg&AOU-s/&ZeVnLIqe-") != NULL);
	buf_release(&out);
	imap_client_logout(s.c);
	close_client(&s);
}

static const char msg1[] = "From: Alice <alice@example.org>\r\n"
			   "To: Bob <bob@example.org>\r\n"
			   "Subject: first\r\n"
			   "Message-ID: <first@example.org>\r\n"
			   "Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
			   "\r\n"
			   "Hello Bob.\r\n";

static void
append(struct session *s, const char *box, const char *flags, const char *date,
    const char *msg, size_t len)
{
	struct imap_cmd *cmd = imap_cmd_new(s->c, 0, NULL, NULL);
	struct err e;

	imap_cmd_printf(cmd, "APPEND %s (%s) \"%s\" ", box, flags, date);
	imap_cmd_literal(cmd, msg, len);
	if (imap_cmd_wait(cmd, &e) == -1)
		t_fail(__FILE__, __LINE__, "APPEND: %s", e.msg);
}

struct appended {
	bool done;
	int status;
	uint32_t uidvalidity, uid;
};

static void
append_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct appended *a = arg;

	(void)c;
	a->done = true;
	a->status = r->status;
	if (imap_reply_appenduid(r, &a->uidvalidity, &a->uid) == -1)
		a->uid = 0;
}

static void
test_append_fetch_store_expunge(void)
{
	struct session s;
	struct appended a = {0};
	struct imap_cmd *cmd;
	struct buf out;
	struct err e;

	login(&s, "alice");
	buf_init(&out, BUF_NOMAX);
	OK(&s, "CREATE Box1");
	/* APPEND with flags, a keyword and an internal date: APPENDUID. */
	cmd = imap_cmd_new(s.c, 0, append_done, &a);
	imap_cmd_printf(cmd, "APPEND Box1 (\\Seen $Label1) "
			     "\"02-Nov-2026 10:00:00 +0000\" ");
	imap_cmd_literal(cmd, msg1, sizeof(msg1) - 1);
	imap_cmd_send(cmd);
	T_EQ_INT(imap_client_drain(s.c, &e), 0);
	T_EQ_INT(a.status, IMAP_STATUS_OK);
	T_ASSERT(a.uid == 1 && a.uidvalidity != 0);
	append(&s, "Box1", "\\Flagged", "03-Nov-2026 11:00:00 +0100", msg1,
	    sizeof(msg1) - 1);

	/* MULTIAPPEND: two messages in one command, one APPENDUID set. */
	T_ASSERT(imap_has_cap(s.c, "MULTIAPPEND"));
	cmd = imap_cmd_new(s.c, 0, NULL, NULL);
	imap_cmd_printf(cmd, "APPEND Box2 (\\Seen) ");
	imap_cmd_literal(cmd, msg1, sizeof(msg1) - 1);
	imap_cmd_printf(cmd, " (\\Draft) ");
	imap_cmd_literal(cmd, msg1, sizeof(msg1) - 1);
	OK(&s, "CREATE Box2");
	T_EQ_INT(imap_cmd_wait(cmd, &e), 0);
	T_EQ_INT(run_collect(&s, &out, &e, "STATUS Box2 (MESSAGES)"), 0);
	T_ASSERT(strstr(out.data, "MESSAGES 2") != NULL);

	OK(&s, "ENABLE CONDSTORE QRESYNC");
	T_ASSERT(imap_is_enabled(s.c, "QRESYNC"));
	OK(&s, "SELECT Box1 (CONDSTORE)");
	T_EQ_INT(imap_selected(s.c)->exists, 2);
	T_EQ_INT(imap_selected(s.c)->uidvalidity, a.uidvalidity);
	T_EQ_INT(imap_selected(s.c)->uidnext, 3);
	T_ASSERT(imap_selected(s.c)->highestmodseq > 0);
	T_ASSERT(imap_selected(s.c)->perm_keywords);

	T_EQ_INT(run_collect(&s, &out, &e,
		     "UID FETCH 1:* (UID FLAGS "
		     "RFC822.SIZE INTERNALDATE MODSEQ)"),
	    0);
	T_ASSERT(strstr(out.data, "FLAGS (\\Seen \\Recent $Label1)") != NULL);
	T_ASSERT(strstr(out.data, "\"02-Nov-2026 10:00:00 +0000\"") != NULL);
	T_ASSERT(strstr(out.data, "RFC822.SIZE 161") != NULL);

	T_EQ_INT(run_collect(&s, &out, &e, "UID FETCH 1 (BODY.PEEK[])"), 0);
	T_ASSERT(strstr(out.data, "BODY[] {161}") != NULL);
	T_EQ_INT(run_collect(&s, &out, &e,
		     "UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"),
	    0);
	T_ASSERT(strstr(out.data, "BODY[HEADER.FIELDS (SUBJECT)]") != NULL);

	T_EQ_INT(run_collect(&s, &out, &e, "UID SEARCH FLAGGED"), 0);
	T_EQ_STR(out.data, "* SEARCH 2\n");
	T_EQ_INT(run_collect(
		     &s, &out, &e, "UID STORE 1:2 +FLAGS.SILENT (\\Answered)"),
	    0);
	T_EQ_INT(run_collect(&s, &out, &e, "UID SEARCH ANSWERED"), 0);
	T_EQ_STR(out.data, "* SEARCH 1 2\n");
	/* UNCHANGEDSINCE 1 is older than both messages: MODIFIED. */
	T_EQ_INT(run_collect(&s, &out, &e,
		     "UID STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Draft)"),
	    0);
	OK(&s, "UID STORE 2 +FLAGS.SILENT (\\Deleted)");
	T_EQ_INT(run_collect(&s, &out, &e, "UID EXPUNGE 2"), 0);
	T_ASSERT(strstr(out.data, "VANISHED 2") != NULL ||
		 strstr(out.data, "EXPUNGE") != NULL);
	T_EQ_INT(imap_selected(s.c)->exists, 1);
	OK(&s, "NOOP");
	OK(&s, "UNSELECT");
	OK(&s, "EXAMINE Box1");
	T_ASSERT(imap_selected(s.c)->readonly);
	OK(&s, "CLOSE");
	buf_release(&out);
	imap_client_logout(s.c);
	close_client(&s);
}

struct counter {
	unsigned done;
	unsigned ok;
	unsigned last_tag_order;
	bool in_order;
};

static void
count_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct counter *n = arg;

	(void)c;
	n->done++;
	if (r->status == IMAP_STATUS_OK)
		n->ok++;
}

static void
test_pipelining(void)
{
	struct session s;
	struct counter n = {0};
	struct err e;
	uint64_t before;
	int i;

	login(&s, "bob");
	before = imap_client_cmds_sent(s.c);
	for (i = 0; i < 200; i++) {
		struct imap_cmd *cmd = imap_cmd_new(s.c, 0, count_done, &n);

		imap_cmd_printf(cmd, "NOOP");
		imap_cmd_send(cmd);
		T_ASSERT(imap_client_in_flight(s.c) <= 200);
	}
	T_EQ_INT(imap_client_drain(s.c, &e), 0);
	T_EQ_INT(n.done, 200);
	T_EQ_INT(n.ok, 200);
	T_EQ_INT(imap_client_cmds_sent(s.c) - before, 200);
	imap_client_logout(s.c);
	close_client(&s);
}

static void
test_synchronising_literal(void)
{
	struct session s;
	struct buf out;
	struct err e;

	login(&s, "bob");
	buf_init(&out, BUF_NOMAX);
	/* Without LITERAL+ the client must wait for "+" each time. */
	imap_client_disable_cap(s.c, "LITERAL+");
	T_ASSERT(!imap_has_cap(s.c, "LITERAL+"));
	OK(&s, "CREATE Lit");
	append(&s, "Lit", "", "04-Nov-2026 12:00:00 +0000", msg1,
	    sizeof(msg1) - 1);
	append(&s, "Lit", "\\Seen", "04-Nov-2026 12:00:00 +0000", msg1,
	    sizeof(msg1) - 1);
	T_EQ_INT(run_collect(&s, &out, &e, "STATUS Lit (MESSAGES)"), 0);
	T_ASSERT(strstr(out.data, "MESSAGES 2") != NULL);
	buf_release(&out);
	imap_client_logout(s.c);
	close_client(&s);
}

struct spool {
	struct buf data;
	uint64_t announced;
	int opens, closes;
};

static int
spool_open(void *arg, uint64_t size, struct str before)
{
	(void)before;
	struct spool *sp = arg;

	sp->opens++;
	sp->announced = size;
	return 0;
}

static int
spool_write(void *arg, const char *p, size_t n)
{
	struct spool *sp = arg;

	return buf_append(&sp->data, p, n);
}

static int
spool_close(void *arg)
{
	struct spool *sp = arg;

	sp->closes++;
	return 0;
}

static void
test_big_body_goes_to_sink(void)
{
	struct session s;
	struct spool sp = {0};
	struct imap_sink sink = {spool_open, spool_write, spool_close, &sp};
	struct imap_cmd *cmd;
	struct buf big;
	struct err e;
	size_t i;

	login(&s, "carol");
	buf_init(&big, BUF_NOMAX);
	buf_init(&sp.data, BUF_NOMAX);
	T_EQ_INT(buf_puts(&big, "Subject: big\r\n\r\n"), 0);
	for (i = 0; big.len < 300 * 1024; i++)
		T_EQ_INT(buf_printf(&big, "line %zu of a big body\r\n", i), 0);
	OK(&s, "CREATE Big");
	append(&s, "Big", "", "05-Nov-2026 12:00:00 +0000", big.data, big.len);
	OK(&s, "SELECT Big");
	cmd = imap_cmd_new(s.c, 0, NULL, NULL);
	imap_cmd_set_sink(cmd, &sink);
	imap_cmd_printf(cmd, "UID FETCH 1 (BODY.PEEK[])");
	T_EQ_INT(imap_cmd_wait(cmd, &e), 0);
	T_EQ_INT(sp.opens, 1);
	T_EQ_INT(sp.closes, 1);
	T_EQ_INT(sp.announced, big.len);
	T_EQ_MEM(sp.data.data, sp.data.len, big.data, big.len);
	buf_release(&big);
	buf_release(&sp.data);
	imap_client_logout(s.c);
	close_client(&s);
}

struct idler {
	bool started;
	bool exists;
};

static int
idle_cont(struct imap_client *c, struct str text, struct buf *out, void *arg)
{
	struct idler *id = arg;

	(void)c;
	(void)text;
	(void)out;
	id->started = true;
	return 1;
}

static bool
idle_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct idler *id = arg;

	(void)c;
	if (r->nargs == 2 && imap_arg_is_atom(&r->args[1], "EXISTS"))
		id->exists = true;
	return false;
}

static void
test_idle_sees_new_mail(void)
{
	struct session s, other;
	struct idler id = {0};
	struct imap_cmd *cmd;
	struct err e;
	int64_t deadline;

	login(&s, "alice");
	OK(&s, "CREATE Idle");
	OK(&s, "SELECT Idle");
	cmd = imap_cmd_new(s.c, IMAP_CMD_BARRIER, NULL, &id);
	imap_cmd_set_cont(cmd, idle_cont);
	imap_cmd_set_untagged(cmd, idle_untagged, &id);
	imap_cmd_printf(cmd, "IDLE");
	imap_client_set_unsolicited(s.c, idle_untagged, &id);
	imap_cmd_send(cmd);
	deadline = loop_now_ms() + 5000;
	while (!id.started && loop_now_ms() < deadline)
		loop_run_once(s.loop, 100);
	login(&other, "alice");
	append(&other, "Idle", "", "06-Nov-2026 12:00:00 +0000", msg1,
	    sizeof(msg1) - 1);
	imap_client_logout(other.c);
	close_client(&other);
	deadline = loop_now_ms() + 5000;
	while (!id.exists && loop_now_ms() < deadline)
		loop_run_once(s.loop, 100);
	T_ASSERT(id.exists);
	T_EQ_INT(imap_idle_done(s.c, &e), 0);
	T_EQ_INT(imap_client_drain(s.c, &e), 0);
	OK(&s, "NOOP");
	imap_client_logout(s.c);
	close_client(&s);
}

static void
test_compress_and_id(void)
{
	struct session s;
	struct buf out;
	struct err e;

	login(&s, "bob");
	buf_init(&out, BUF_NOMAX);
	T_EQ_INT(run_collect(&s, &out, &e,
		     "ID (\"name\" \"ferry\" \"version\" \"test\")"),
	    0);
	T_ASSERT(strstr(out.data, "ID") != NULL);
	T_ASSERT(imap_has_cap(s.c, "COMPRESS=DEFLATE"));
	T_EQ_INT(imap_client_compress(s.c, &e), 0);
	T_EQ_INT(run_collect(&s, &out, &e, "LIST \"\" \"*\""), 0);
	T_ASSERT(strstr(out.data, "INBOX") != NULL);
	buf_release(&out);
	imap_client_logout(s.c);
	close_client(&s);
}

static const struct t_case cases[] = {
    {"implicit TLS", test_implicit_tls},
    {"STARTTLS", test_starttls},
    {"plaintext login refused", test_plaintext_login_refused},
    {"wrong password", test_wrong_password},
    {"TLS refusals", test_tls_refusals},
    {"folders", test_folders},
    {"UTF-8 mailbox names", test_utf8_mailbox_names},
    {"append fetch store expunge", test_append_fetch_store_expunge},
    {"pipelining", test_pipelining},
    {"synchronising literal", test_synchronising_literal},
    {"big body goes to sink", test_big_body_goes_to_sink},
    {"IDLE sees new mail", test_idle_sees_new_mail},
    {"COMPRESS and ID", test_compress_and_id},
};

int
main(int argc, char **argv)
{
	if (getenv("FERRY_TEST_TRACE"))
		log_set_level(LOG_TRACE);
	return T_MAIN(cases);
}
