/* SPDX-License-Identifier: ISC */
/*
 * test_imap_store.c - the IMAP store driver against the private Dovecot:
 * listing (with and without LIST-STATUS), each change-detection path
 * (QRESYNC, CONDSTORE, full) seeing new messages, flag changes and
 * expunges made by a second client, append with and without UIDPLUS,
 * fetch of small and big bodies, fetch and append batches (one UID FETCH,
 * MULTIAPPEND, the fallbacks, per-message refusals), flags over large UID
 * sets, exact expunges, several connections at once, and folder
 * operations.  A scripted server in a child process plays what Dovecot
 * will not: a UID after a big body, no LITERAL+, a connection dropped.
 *
 * Each test works in folders of its own ("IS-..."), since the users are
 * shared by every test of the run.  Changes "by a second client" are made
 * with a plain imap_client on the same loop.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "imap/client.h"
#include "store/imap_priv.h"
#include "store/imap_store.h"
#include "store/store.h"
#include "t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/str.h"

#define MAXMSG 1200

struct ctx {
	struct loop *loop;
	struct store *s;
	struct imap_client *other; /* the second client */
	const char *user;
};

/* The loop runs until *flag is set; a test fails after 30 s. */
static void
run_until(struct loop *loop, const bool *flag)
{
	int64_t deadline = loop_now_ms() + 30000;

	while (!*flag) {
		if (loop_now_ms() > deadline)
			t_fail(__FILE__, __LINE__, "timed out waiting");
		if (loop_run_once(loop, 100) == -1)
			t_fail(
			    __FILE__, __LINE__, "loop has nothing to wait for");
	}
}

static int
get_secret(void *arg, struct buf *out, struct err *err)
{
	const char *user = arg;
	char var[64];
	const char *pw;

	snprintf(var, sizeof(var), "FERRY_PASS_%s", user);
	pw = th_env(var);
	if (pw == NULL)
		return err_set(err, ERR_CONFIG, "no %s", var);
	if (buf_puts(out, pw) == -1)
		return err_set(err, ERR_LIMIT, "password too long");
	return 0;
}

static void
client_opts(struct imap_client_opts *o, const char *name)
{
	memset(o, 0, sizeof(*o));
	o->conn.host = "localhost";
	o->conn.port = th_env("FERRY_IMAPS_PORT");
	o->conn.tls = CONN_TLS_IMPLICIT;
	o->conn.ca_file = th_env("FERRY_CA");
	o->conn.timeout_ms = 15000;
	o->name = name;
}

/* A connected store for user, and a second client for the same user. */
static void
open_ctx(struct ctx *x, const char *user, unsigned conns, const char *disable)
{
	struct imap_store_opts o;
	struct imap_client_opts co;
	struct buf pw;
	struct err e;

	th_need_dovecot();
	memset(x, 0, sizeof(*x));
	x->loop = loop_new();
	x->user = user;
	memset(&o, 0, sizeof(o));
	client_opts(&o.client, "store");
	o.user = user;
	o.get_secret = get_secret;
	o.secret_arg = (void *)user;
	o.connections = conns;
	o.disable_caps = disable;
	x->s = imap_store_new(x->loop, "test", &o, &e);
	if (x->s == NULL)
		t_fail(__FILE__, __LINE__, "imap_store_new: %s", e.msg);
	if (store_connect(x->s, &e) == -1)
		t_fail(__FILE__, __LINE__, "store_connect: %s", e.msg);
	client_opts(&co, "other");
	x->other = imap_client_new(x->loop, &co);
	buf_init(&pw, 1024);
	if (get_secret((void *)user, &pw, &e) == -1 ||
	    imap_client_connect(x->other, &e) == -1 ||
	    imap_client_login(x->other, user, pw.data, &e) == -1)
		t_fail(__FILE__, __LINE__, "second client: %s", e.msg);
	buf_release(&pw);
}

static void
close_ctx(struct ctx *x)
{
	store_free(x->s);
	imap_client_logout(x->other);
	imap_client_free(x->other);
	loop_free(x->loop);
}

/* The second client runs a command and must get OK. */
static void other(struct ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
other(struct ctx *x, const char *fmt, ...)
{
	char line[1024];
	struct err e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (imap_simple(x->other, NULL, NULL, &e, "%s", line) == -1)
		t_fail(__FILE__, __LINE__, "%s: %s", line, e.msg);
}

static bool
collect_search(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct buf *b = arg;
	size_t i;
	struct str s;

	(void)c;
	if (r->nargs < 1 || !imap_arg_is_atom(&r->args[0], "SEARCH"))
		return false;
	for (i = 1; i < r->nargs; i++)
		if (imap_arg_string(&r->args[i], &s) &&
		    (buf_putc(b, ' ') == -1 || buf_append(b, s.p, s.len) == -1))
			abort();
	return true;
}

/* " 1 2 3" (or "") from the second client's UID SEARCH in folder. */
static const char *
other_search(struct ctx *x, const char *folder, const char *what)
{
	static char out[8192];
	struct buf b;
	struct err e;

	other(x, "SELECT \"%s\"", folder);
	buf_init(&b, sizeof(out) - 1);
	if (imap_simple(
		x->other, collect_search, &b, &e, "UID SEARCH %s", what) == -1)
		t_fail(__FILE__, __LINE__, "SEARCH: %s", e.msg);
	memcpy(out, b.data, b.len + 1);
	buf_release(&b);
	return out;
}

/* Test messages: number i of folder, with or without a Message-ID. */
static size_t
make_msg(char *out, size_t n, const char *folder, int i, bool msgid)
{
	int len;

	len = snprintf(out, n,
	    "From: Alice <alice@example.org>\r\n"
	    "To: Bob <bob@example.org>\r\n"
	    "Subject: message %d of %s\r\n"
	    "%s%d%s%s%s"
	    "\r\n"
	    "Body of message %d.\r\n",
	    i, folder, msgid ? "Message-ID: <" : "X-Seq: ", i, msgid ? "." : "",
	    msgid ? folder : "", msgid ? "@test>\r\n" : "\r\n", i);
	return (size_t)len;
}

static const char date_str[] = "02-Nov-2026 10:00:00 +0100";
static const int64_t date_val = 1793610000; /* the same instant */

struct count {
	unsigned done, ok;
};

static void
count_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct count *n = arg;

	(void)c;
	n->done++;
	n->ok += r->status == IMAP_STATUS_OK;
}

/* The second client creates folder and appends n messages, pipelined. */
static void
seed(struct ctx *x, const char *folder, int n)
{
	struct count cnt = {0, 0};
	char msg[1024];
	struct err e;
	int i;

	other(x, "CREATE \"%s\"", folder);
	for (i = 1; i <= n; i++) {
		struct imap_cmd *cmd =
		    imap_cmd_new(x->other, 0, count_done, &cnt);
		size_t len = make_msg(msg, sizeof(msg), folder, i, true);

		imap_cmd_printf(
		    cmd, "APPEND \"%s\" () \"%s\" ", folder, date_str);
		imap_cmd_literal(cmd, msg, len);
		imap_cmd_send(cmd);
	}
	if (imap_client_drain(x->other, &e) == -1)
		t_fail(__FILE__, __LINE__, "seed: %s", e.msg);
	T_EQ_INT(cnt.ok, n);
}

/* Results, copied out of callbacks (which must not fail a test). */

struct done_res {
	bool done, failed;
	struct err err;
	uint32_t uid;
};

static void
done_cb(void *arg, const struct err *err)
{
	struct done_res *r = arg;

	r->done = true;
	if (err != NULL) {
		r->failed = true;
		r->err = *err;
	}
}

static void
append_cb(void *arg, uint32_t uid, const struct err *err)
{
	struct done_res *r = arg;

	r->uid = uid;
	done_cb(arg, err);
}

/* Run one store operation that reports with done_cb to its end. */
#define RUN_OK(x, res)                                                   \
	do {                                                             \
		run_until((x)->loop, &(res).done);                       \
		if ((res).failed)                                        \
			t_fail(__FILE__, __LINE__, "%s", (res).err.msg); \
	} while (0)

struct scan_msg {
	uint32_t uid;
	char flags[128];
	bool flags_only;
	uint64_t size;
	int64_t date;
	size_t fp_len;
	unsigned char fp[STORE_FP_LEN];
};

struct scan_res {
	bool done, failed;
	struct err err;
	char method[32];
	bool full;
	uint32_t uidvalidity, uidnext;
	uint64_t hms;
	char permflags[256];
	bool perm_keywords;
	size_t n, nv, nv_total;
	struct scan_msg m[MAXMSG];
	uint32_t v[MAXMSG];
};

static void
scan_cb(void *arg, const struct store_changes *ch, const struct err *err)
{
	struct scan_res *r = arg;
	size_t i;

	r->done = true;
	if (err != NULL) {
		r->failed = true;
		r->err = *err;
		return;
	}
	snprintf(r->method, sizeof(r->method), "%s", ch->method);
	snprintf(r->permflags, sizeof(r->permflags), "%s", ch->permflags);
	r->perm_keywords = ch->perm_keywords;
	r->full = ch->full;
	r->uidvalidity = ch->uidvalidity;
	r->uidnext = ch->uidnext;
	r->hms = ch->highestmodseq;
	r->n = ch->nmsgs < MAXMSG ? ch->nmsgs : MAXMSG;
	for (i = 0; i < r->n; i++) {
		const struct store_msg *m = &ch->msgs[i];

		r->m[i].uid = m->uid;
		snprintf(r->m[i].flags, sizeof(r->m[i].flags), "%s", m->flags);
		r->m[i].flags_only = m->flags_only;
		r->m[i].size = m->size;
		r->m[i].date = m->internaldate;
		r->m[i].fp_len = m->fp_len;
		memcpy(r->m[i].fp, m->fp, sizeof(m->fp));
	}
	r->nv_total = ch->nvanished;
	r->nv = ch->nvanished < MAXMSG ? ch->nvanished : MAXMSG;
	memcpy(r->v, ch->vanished, r->nv * sizeof(*r->v));
}

static struct scan_res *
scan(struct ctx *x, const char *folder, const struct store_since *since)
{
	struct scan_res *r = calloc(1, sizeof(*r));

	store_scan(x->s, folder, since, scan_cb, r);
	run_until(x->loop, &r->done);
	if (r->failed)
		t_fail(__FILE__, __LINE__, "scan %s: %s", folder, r->err.msg);
	return r;
}

static const struct scan_msg *
find_msg(const struct scan_res *r, uint32_t uid)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->m[i].uid == uid)
			return &r->m[i];
	return NULL;
}

struct list_res {
	bool done, failed;
	struct err err;
	size_t n;
	struct {
		char name[128];
		unsigned attrs;
		bool has_status;
		uint32_t uidvalidity, uidnext, messages;
		uint64_t hms;
	} f[64];
};

static void
list_cb(
    void *arg, const struct store_folder *f, size_t n, const struct err *err)
{
	struct list_res *r = arg;
	size_t i;

	r->done = true;
	if (err != NULL) {
		r->failed = true;
		r->err = *err;
		return;
	}
	for (i = 0; i < n && r->n < 64; i++, r->n++) {
		snprintf(
		    r->f[r->n].name, sizeof(r->f[r->n].name), "%s", f[i].name);
		r->f[r->n].attrs = f[i].attrs;
		r->f[r->n].has_status = f[i].has_status;
		r->f[r->n].uidvalidity = f[i].uidvalidity;
		r->f[r->n].uidnext = f[i].uidnext;
		r->f[r->n].messages = f[i].messages;
		r->f[r->n].hms = f[i].highestmodseq;
	}
}

static int
list_find(const struct list_res *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->f[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
list(struct ctx *x, struct list_res *r)
{
	memset(r, 0, sizeof(*r));
	store_list(x->s, list_cb, r);
	RUN_OK(x, *r);
}

static void
folder_op(struct ctx *x, const char *what, const char *a, const char *b)
{
	struct done_res r = {0};

	if (strcmp(what, "create") == 0)
		store_create(x->s, a, done_cb, &r);
	else if (strcmp(what, "rename") == 0)
		store_rename(x->s, a, b, done_cb, &r);
	else
		store_delete(x->s, a, done_cb, &r);
	RUN_OK(x, r);
}

/* A file in the test's directory holding len bytes of data. */
static int
temp_file(const char *name, const void *data, size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t_tmpdir(), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, len) != (ssize_t)len ||
	    lseek(fd, 0, SEEK_SET) != 0)
		t_fail(__FILE__, __LINE__, "temp file %s", path);
	return fd;
}

static uint32_t
append(struct ctx *x, const char *folder, const char *flags, const void *msg,
    size_t len)
{
	struct done_res r = {0};
	struct store_body body;

	body.fd = temp_file("append", msg, len);
	body.size = len;
	store_append(x->s, folder, flags, date_val, &body, append_cb, &r);
	RUN_OK(x, r); /* the body is read while it is sent */
	close(body.fd);
	return r.uid;
}

/* Fetch folder's uid and compare it with want. */
static void
fetch_equals(struct ctx *x, const char *folder, uint32_t uid, const char *want,
    size_t len)
{
	struct done_res r = {0};
	struct store_body body;
	char *got = malloc(len + 1);
	ssize_t n;

	body.fd = temp_file("fetch", "", 0);
	body.size = 0;
	store_fetch(x->s, folder, uid, &body, done_cb, &r);
	RUN_OK(x, r);
	T_EQ_INT(body.size, len);
	T_EQ_INT(lseek(body.fd, 0, SEEK_SET), 0);
	n = read(body.fd, got, len + 1);
	T_EQ_INT(n, (ssize_t)len);
	T_EQ_MEM(got, len, want, len);
	free(got);
	close(body.fd);
}

/*
 * Tests.
 */

static void
test_dates(void)
{
	char out[IMS_DATE_LEN];
	int64_t t;

	T_EQ_INT(ims_date_parse(str_from(date_str), &t), 0);
	T_EQ_INT(t, date_val);
	T_EQ_INT(ims_date_parse(str_from(" 1-Jan-1970 00:00:00 +0000"), &t), 0);
	T_EQ_INT(t, 0);
	T_EQ_INT(ims_date_parse(str_from("29-Feb-2024 23:59:59 -0130"), &t), 0);
	T_EQ_INT(t, 1709251199 + 5400);
	T_EQ_INT(
	    ims_date_parse(str_from("29-Feb-2023 00:00:00 +0000"), &t), -1);
	T_EQ_INT(
	    ims_date_parse(str_from("01-Foo-2023 00:00:00 +0000"), &t), -1);
	T_EQ_INT(
	    ims_date_parse(str_from("01-Jan-2023 24:00:00 +0000"), &t), -1);
	T_EQ_INT(ims_date_parse(str_from("1-Jan-2023 00:00:00 +0000"), &t), -1);
	ims_date_format(date_val, out);
	T_EQ_STR(out, "02-Nov-2026 09:00:00 +0000");
	ims_date_format(-86400, out);
	T_EQ_STR(out, "31-Dec-1969 00:00:00 +0000");
	ims_date_format(951782400, out);
	T_EQ_STR(out, "29-Feb-2000 00:00:00 +0000");
	T_EQ_INT(ims_date_parse(str_from(out), &t), 0);
	T_EQ_INT(t, 951782400);
}

static void
test_uidsets(void)
{
	static const uint32_t in[] = {12, 1, 2, 3, 5, 3, 10, 11, 0, 7};
	struct uranges r = {0};
	uint32_t *v;
	struct buf b;
	size_t n;

	v = ims_uids_sorted(in, sizeof(in) / sizeof(in[0]), &n);
	T_EQ_INT(n, 8);
	buf_init(&b, 1024);
	T_EQ_INT(ims_uidset_put(&b, v, n, 1024), 8);
	T_EQ_STR(b.data, "1:3,5,7,10:12");
	buf_reset(&b);
	T_EQ_INT(ims_uidset_put(&b, v, n, 6), 4);
	T_EQ_STR(b.data, "1:3,5");
	T_ASSERT(ims_ranges_parse(&r, str_from("9:7,1,3:4")));
	T_ASSERT(!ims_ranges_parse(&r, str_from("1:*")));
	ims_ranges_norm(&r);
	T_ASSERT(ims_ranges_has(&r, 8) && ims_ranges_has(&r, 4));
	T_ASSERT(!ims_ranges_has(&r, 2) && !ims_ranges_has(&r, 10));
	ims_ranges_release(&r);
	buf_release(&b);
	free(v);
}

/*
 * Batches.
 */

/* A body of about size bytes, the i-th of a test, with a Message-ID. */
static void
make_body(struct buf *b, const char *tag, int i, size_t size)
{
	size_t line;

	buf_reset(b);
	if (buf_printf(b,
		"From: Alice <alice@example.org>\r\n"
		"Message-ID: <%d.%s@test>\r\n"
		"Subject: batch message %d of %s\r\n\r\n",
		i, tag, i, tag) == -1)
		abort();
	for (line = 0; b->len < size; line++)
		if (buf_printf(b, "line %zu of message %d, %s\r\n", line, i,
			tag) == -1)
			abort();
}

struct batch_msg {
	struct buf body;
	char flags[128];
	int64_t date;
};

/*
 * n messages for tag: every seventh above the parser's inline limit (or
 * the big-th one of big bytes), flags and dates of every kind.
 */
static struct batch_msg *
batch_msgs(const char *tag, int n, size_t big)
{
	static const char *const flags[] = {"\\Seen", "$Label1 \\Flagged", "",
	    "$Work \\Answered \\Draft", "\\Deleted \\Seen $Junk"};
	struct batch_msg *m = calloc((size_t)n, sizeof(*m));
	int i;

	for (i = 0; i < n; i++) {
		buf_init(&m[i].body, BUF_NOMAX);
		make_body(&m[i].body, tag, i,
		    big && i % 10 == 5 ? big
		    : i % 7 == 3       ? 70 * 1024 + (size_t)i * 100
				       : 200 + (size_t)i * 10);
		snprintf(m[i].flags, sizeof(m[i].flags), "%s", flags[i % 5]);
		m[i].date = date_val - (int64_t)i * 86400 - i * 37;
	}
	return m;
}

static void
batch_msgs_free(struct batch_msg *m, int n)
{
	int i;

	for (i = 0; i < n; i++)
		buf_release(&m[i].body);
	free(m);
}

/* The second client appends m[0..n) to folder (created), UIDs 1..n. */
static void
seed_msgs(struct ctx *x, const char *folder, const struct batch_msg *m, int n)
{
	struct count cnt = {0, 0};
	struct err e;
	int i;

	other(x, "CREATE \"%s\"", folder);
	for (i = 0; i < n; i++) {
		struct imap_cmd *cmd =
		    imap_cmd_new(x->other, 0, count_done, &cnt);

		imap_cmd_printf(
		    cmd, "APPEND \"%s\" () \"%s\" ", folder, date_str);
		imap_cmd_literal(cmd, m[i].body.data, m[i].body.len);
		imap_cmd_send(cmd);
	}
	if (imap_client_drain(x->other, &e) == -1)
		t_fail(__FILE__, __LINE__, "seed: %s", e.msg);
	T_EQ_INT(cnt.ok, n);
}

/* The file holds exactly want. */
static void
fd_equals(int fd, const struct buf *want)
{
	char *got = malloc(want->len + 1);
	ssize_t n;

	T_EQ_INT(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, got, want->len + 1);
	T_EQ_INT(n, (ssize_t)want->len);
	T_EQ_MEM(got, want->len, want->data, want->len);
	free(got);
}

/* Fetch uids[0..n) of folder in one batch into fresh files. */
static struct store_item *
fetch_batch(struct ctx *x, const char *folder, const uint32_t *uids, size_t n,
    struct done_res *r)
{
	struct store_item *it = calloc(n, sizeof(*it));
	char name[32];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "fetch%zu", i);
		it[i].uid = uids[i];
		it[i].body.fd = temp_file(name, "", 0);
		it[i].body.size = 12345;
	}
	memset(r, 0, sizeof(*r));
	store_fetch_batch(x->s, folder, it, n, done_cb, r);
	T_ASSERT(!r->done); /* never from inside the call */
	run_until(x->loop, &r->done);
	return it;
}

static void
items_close(struct store_item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close(it[i].body.fd);
	free(it);
}

/*
 * 40 messages, some above the inline limit (so they stream through the
 * sink), asked for in a shuffled order with a UID that does not exist:
 * SELECT and one UID FETCH.
 */
#define N 40
static void
test_fetch_batch(void)
{
	struct batch_msg *m = batch_msgs("IS-FetchBatch", N, 0);
	struct store_item *it;
	struct done_res r;
	uint32_t uids[N + 1];
	uint64_t before;
	struct ctx x;
	size_t i;

	open_ctx(&x, "alice", 1, NULL);
	seed_msgs(&x, "IS-FetchBatch", m, N);
	for (i = 0; i < N; i++)
		uids[i] = (uint32_t)((i * 17) % N + 1);
	uids[N] = 4000;
	uids[N / 2] ^= uids[N];
	uids[N] ^= uids[N / 2];
	uids[N / 2] ^= uids[N]; /* the missing one in the middle */
	before = imap_store_commands_sent(x.s);
	it = fetch_batch(&x, "IS-FetchBatch", uids, N + 1, &r);
	T_ASSERT(!r.failed);
	T_EQ_INT(imap_store_commands_sent(x.s) - before, 2);
	for (i = 0; i <= N; i++) {
		if (it[i].uid == 4000) {
			T_EQ_INT(it[i].err.kind, ERR_MSG);
			T_ASSERT(strstr(it[i].err.msg, "no longer") != NULL);
			T_EQ_INT(it[i].body.size, 0);
			continue;
		}
		T_EQ_INT(it[i].err.kind, ERR_NONE);
		T_EQ_INT(it[i].body.size, m[it[i].uid - 1].body.len);
		fd_equals(it[i].body.fd, &m[it[i].uid - 1].body);
	}
	items_close(it, N + 1);

	/* UID 0 and a UID twice: refused alone; a batch of none is fine. */
	uids[0] = 0;
	uids[1] = 3;
	uids[2] = 3;
	it = fetch_batch(&x, "IS-FetchBatch", uids, 3, &r);
	T_ASSERT(!r.failed);
	T_EQ_INT(it[0].err.kind, ERR_MSG);
	T_EQ_INT(it[1].err.kind, ERR_NONE);
	fd_equals(it[1].body.fd, &m[2].body);
	T_EQ_INT(it[2].err.kind, ERR_MSG);
	items_close(it, 3);
	it = fetch_batch(&x, "IS-FetchBatch", uids, 0, &r);
	T_ASSERT(!r.failed);
	free(it);
	/* A folder that is not there: NO to the SELECT, for all. */
	uids[2] = 4;
	it = fetch_batch(&x, "IS-FetchBatch-None", uids + 1, 2, &r);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_BOX);
	T_EQ_INT(it[0].err.kind, ERR_BOX);
	T_EQ_INT(it[1].err.kind, ERR_BOX);
	items_close(it, 2);
	close_ctx(&x);
	batch_msgs_free(m, N);
}
#undef N

/* Append m[0..n) to folder in one batch; the items, files still open. */
static struct store_item *
append_batch(struct ctx *x, const char *folder, const struct batch_msg *m,
    size_t n, struct done_res *r)
{
	struct store_item *it = calloc(n, sizeof(*it));
	char name[32];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "append%zu", i);
		it[i].flags = m[i].flags;
		it[i].internaldate = m[i].date;
		it[i].body.fd = temp_file(name, m[i].body.data, m[i].body.len);
		it[i].body.size = m[i].body.len;
		it[i].uid = 77;
	}
	memset(r, 0, sizeof(*r));
	store_append_batch(x->s, folder, it, n, done_cb, r);
	T_ASSERT(!r->done);
	run_until(x->loop, &r->done);
	return it;
}

/* What the items say arrived is there: bodies, flags, dates, UIDs. */
static void
check_appended(struct ctx *x, const char *folder, const struct batch_msg *m,
    const struct store_item *app, size_t n)
{
	struct store_since since;
	const struct scan_msg *sm;
	struct store_item *it;
	struct scan_res *sr;
	struct done_res r;
	uint32_t *uids = calloc(n, sizeof(*uids));
	char want[128];
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (app[i].err.kind == ERR_NONE)
			uids[k++] = app[i].uid;
	it = fetch_batch(x, folder, uids, k, &r);
	T_ASSERT(!r.failed);
	memset(&since, 0, sizeof(since));
	sr = scan(x, folder, &since);
	T_EQ_INT(sr->n, k);
	for (i = 0, k = 0; i < n; i++) {
		if (app[i].err.kind != ERR_NONE)
			continue;
		T_EQ_INT(it[k].err.kind, ERR_NONE);
		fd_equals(it[k++].body.fd, &m[i].body);
		sm = find_msg(sr, app[i].uid);
		T_ASSERT(sm != NULL);
		T_EQ_INT(store_flags_norm(m[i].flags, want, sizeof(want)), 0);
		T_EQ_STR(sm->flags, want);
		T_EQ_INT(sm->date, m[i].date);
		T_EQ_INT(sm->size, m[i].body.len);
	}
	free(sr);
	items_close(it, k);
	free(uids);
}

/*
 * 30 messages, three of 1.5 MB: with MULTIAPPEND two commands (at most
 * 4 MB of literals each), without it one per message, without UIDPLUS
 * four per message; each way the UIDs come back in order.
 */
#define N 30
static void
append_batch_story(const char *disable, const char *folder, int cmds)
{
	struct batch_msg *m = batch_msgs(folder, N, 1536 * 1024);
	struct store_item *it;
	struct done_res r;
	uint64_t before;
	struct ctx x;
	size_t i;

	open_ctx(&x, "bob", 1, disable);
	folder_op(&x, "create", folder, NULL);
	before = imap_store_commands_sent(x.s);
	it = append_batch(&x, folder, m, N, &r);
	T_ASSERT(!r.failed);
	T_EQ_INT(imap_store_commands_sent(x.s) - before, cmds);
	for (i = 0; i < N; i++) {
		T_EQ_INT(it[i].err.kind, ERR_NONE);
		T_EQ_INT(it[i].uid, i + 1);
	}
	check_appended(&x, folder, m, it, N);
	items_close(it, N);
	T_EQ_INT(imap_store_connections_opened(x.s), 1);
	close_ctx(&x);
	batch_msgs_free(m, N);
}
#undef N

static void
test_append_batch_multi(void)
{
	append_batch_story(NULL, "IS-Multiappend", 2);
}

static void
test_append_batch_pipelined(void)
{
	append_batch_story("MULTIAPPEND", "IS-AppendPipe", 30);
}

static void
test_append_batch_no_uidplus(void)
{
	append_batch_story("UIDPLUS", "IS-AppendNoUidplus", 4 * 30);
}

/*
 * Messages Dovecot refuses (an empty one, a keyword too long) make it
 * refuse the whole MULTIAPPEND; sent again one by one, each gets its own
 * answer.  A flag no server takes never leaves: Dovecot would say BAD
 * before reading the literal, and read the message as commands.
 */
#define N 6
static void
append_refused(const char *disable, const char *folder)
{
	struct batch_msg *m = batch_msgs(folder, N, 0);
	struct store_item *it;
	struct done_res r;
	struct ctx x;
	size_t i;

	buf_reset(&m[1].body);
	memset(m[3].flags, 'k', 100);
	m[3].flags[100] = '\0';
	snprintf(m[4].flags, sizeof(m[4].flags), "\\Seen \\Important");
	open_ctx(&x, "carol", 1, disable);
	folder_op(&x, "create", folder, NULL);
	it = append_batch(&x, folder, m, N, &r);
	T_ASSERT(!r.failed);
	for (i = 0; i < N; i++)
		T_EQ_INT(it[i].err.kind,
		    i == 1 || i == 3 || i == 4 ? ERR_MSG : ERR_NONE);
	T_ASSERT(strstr(it[1].err.msg, "zero byte") != NULL);
	T_ASSERT(strstr(it[3].err.msg, "Keyword") != NULL);
	T_ASSERT(strstr(it[4].err.msg, "\\Important") != NULL);
	T_ASSERT(it[0].uid != 0 && it[2].uid != 0 && it[5].uid != 0);
	check_appended(&x, folder, m, it, N);
	items_close(it, N);
	T_EQ_INT(imap_store_connections_opened(x.s), 1);

	/* A folder that is not there: ERR_BOX for all, and the batch. */
	it = append_batch(&x, "IS-No-Such-Folder", m, 3, &r);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_BOX);
	for (i = 0; i < 3; i++)
		T_EQ_INT(it[i].err.kind, ERR_BOX);
	items_close(it, 3);
	close_ctx(&x);
	batch_msgs_free(m, N);
}
#undef N

static void
test_append_batch_refused(void)
{
	append_refused(NULL, "IS-AppendRefused");
	append_refused("MULTIAPPEND", "IS-AppendRefused2");
	append_refused("UIDPLUS", "IS-AppendRefused3");
}

/*
 * A scripted server on a socket, in a child process, for what Dovecot
 * will not do: put the UID after a big BODY[] literal, so that the store
 * learns whose body it was only once it is all in.
 */

#define FAKE_CAPS "IMAP4rev1 LITERAL+ UIDPLUS"

/* The test body of UID uid, size bytes (no header needed). */
static void
fake_body(struct buf *b, uint32_t uid, size_t size)
{
	size_t i;

	buf_reset(b);
	for (i = 0; b->len < size; i++)
		if (buf_printf(b, "uid %u line %zu\r\n", uid, i) == -1)
			abort();
	buf_truncate(b, size);
}

static void
fake_write(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0 && (w = write(fd, p, n)) > 0) {
		p += w;
		n -= (size_t)w;
	}
}

static void fake_say(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fake_say(int fd, const char *fmt, ...)
{
	char out[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
	fake_write(fd, out, (size_t)n);
}

/* "* seq FETCH (" [UID uid SP] "BODY[] {n}" body [SP UID uid] ")". */
static void
fake_fetch(int fd, unsigned seq, uint32_t uid, size_t size, bool uid_first)
{
	struct buf b;

	buf_init(&b, BUF_NOMAX);
	fake_body(&b, uid, size);
	if (uid_first)
		fake_say(
		    fd, "* %u FETCH (UID %u BODY[] {%zu}\r\n", seq, uid, size);
	else
		fake_say(fd, "* %u FETCH (BODY[] {%zu}\r\n", seq, size);
	fake_write(fd, b.data, b.len);
	if (uid_first)
		fake_say(fd, ")\r\n");
	else
		fake_say(fd, " UID %u)\r\n", uid);
	buf_release(&b);
}

/*
 * The answers to the UID FETCH commands, once all are in: tags[0] is
 * the first sent.
 *   script 1: one batch of 7, 8, 9 and 3 (which is gone);
 *   script 2: batches {7} and {8}; 8's body comes first, unnamed, so
 *             the older fetch's sink holds it for the other one;
 *   script 4: 7's body, then the connection drops.
 */
static void
fake_fetches(int fd, int script, char (*tags)[16])
{
	if (script == 1) {
		fake_fetch(fd, 1, 7, 100000, false);
		fake_say(fd, "* 2 FETCH (FLAGS (\\Seen) UID 8)\r\n");
		fake_fetch(fd, 2, 8, 70000, true);
		fake_fetch(fd, 3, 9, 5, false);
		fake_say(fd, "%s OK done\r\n", tags[0]);
		return;
	}
	if (script == 4) {
		fake_fetch(fd, 1, 7, 5, true);
		_exit(0); /* the connection drops */
	}
	fake_fetch(fd, 2, 8, 90000, false);
	fake_say(fd, "%s OK done\r\n", tags[1]);
	fake_fetch(fd, 1, 7, 80000, false);
	fake_say(fd, "%s OK done\r\n", tags[0]);
}

/*
 * One command into b, its literals included (a "+" for each that waits
 * for one); false at the end of the input.
 */
static bool
fake_command(int fd, struct buf *b)
{
	unsigned long n;
	char ch, *brace, *end;

	buf_reset(b);
	for (;;) {
		while (read(fd, &ch, 1) == 1)
			if (buf_putc(b, ch) == -1 || ch == '\n')
				break;
		if (b->len < 2 || b->data[b->len - 1] != '\n')
			return false;
		if (b->len < 3 || b->data[b->len - 3] != '}' ||
		    (brace = strrchr(b->data, '{')) == NULL)
			return true;
		n = strtoul(brace + 1, &end, 10);
		if (*end != '+')
			fake_say(fd, "+ go on\r\n");
		while (n-- > 0 && read(fd, &ch, 1) == 1)
			if (buf_putc(b, ch) == -1)
				return false;
	}
}

/*
 * The child: one connection, until LOGOUT.  Scripts 1 and 2 are for
 * fetches (fake_fetches); script 3 has no LITERAL+ and answers the first
 * APPEND with three UIDs, the next one with one, whatever they hold (the
 * APPEND commands go to the file named log); script 4 drops the
 * connection at the first APPEND; script 5 says BAD to every APPEND.
 */
static void
fake_serve(int lfd, int script, int nfetch, const char *log)
{
	const char *caps =
	    script == 3 ? "IMAP4rev1 UIDPLUS MULTIAPPEND" : FAKE_CAPS;
	char tags[4][16], *cmd;
	int fd = accept(lfd, NULL, NULL), nf = 0, na = 0;
	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	struct buf b;

	buf_init(&b, 1024 * 1024);
	fake_say(fd, "* OK [CAPABILITY %s] fake\r\n", caps);
	while (fake_command(fd, &b) && (cmd = strchr(b.data, ' ')) != NULL) {
		*cmd++ = '\0';
		if (strncmp(cmd, "LOGIN", 5) == 0)
			fake_say(
			    fd, "%s OK [CAPABILITY %s] in\r\n", b.data, caps);
		else if (strncmp(cmd, "LIST", 4) == 0)
			fake_say(
			    fd, "* LIST () \"/\" \"\"\r\n%s OK\r\n", b.data);
		else if (strncmp(cmd, "SELECT", 6) == 0)
			fake_say(fd,
			    "* 3 EXISTS\r\n* OK [UIDVALIDITY 5] v\r\n"
			    "* OK [UIDNEXT 20] n\r\n%s OK [READ-WRITE] s\r\n",
			    b.data);
		else if (strncmp(cmd, "UID FETCH", 9) == 0 && nf < 4) {
			snprintf(tags[nf], sizeof(tags[nf]), "%.15s", b.data);
			if (++nf == nfetch)
				fake_fetches(fd, script, tags);
		} else if (strncmp(cmd, "APPEND", 6) == 0 && script == 4)
			break;
		else if (strncmp(cmd, "APPEND", 6) == 0 && script == 5)
			fake_say(fd, "%s BAD no such flag\r\n", b.data);
		else if (strncmp(cmd, "APPEND", 6) == 0) {
			fake_write(logfd, cmd, b.len - (size_t)(cmd - b.data));
			fake_say(fd, "%s OK [APPENDUID 5 %s] done\r\n", b.data,
			    na++ == 0 ? "20:22" : "30");
		} else if (strncmp(cmd, "LOGOUT", 6) == 0) {
			fake_say(fd, "* BYE bye\r\n%s OK\r\n", b.data);
			break;
		} else
			fake_say(fd, "%s OK\r\n", b.data);
	}
	_exit(0);
}

static int
fake_secret(void *arg, struct buf *out, struct err *err)
{
	(void)arg;
	(void)err;
	return buf_puts(out, "pw");
}

/* A store connected to a fake server running script; *pid its child. */
static struct store *
fake_store(struct loop *loop, int script, int nfetch, pid_t *pid)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	struct imap_store_opts o;
	struct store *s;
	char port[16], log[4096];
	struct err e;
	int lfd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	T_ASSERT(lfd >= 0);
	T_EQ_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_EQ_INT(listen(lfd, 1), 0);
	T_EQ_INT(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sa.sin_port));
	snprintf(log, sizeof(log), "%s/fake-append", t_tmpdir());
	if ((*pid = fork()) == 0)
		fake_serve(lfd, script, nfetch, log);
	close(lfd);
	memset(&o, 0, sizeof(o));
	o.client.conn.host = "127.0.0.1";
	o.client.conn.port = port;
	o.client.conn.tls = CONN_TLS_NONE;
	o.client.conn.timeout_ms = 5000;
	o.client.allow_plaintext = true;
	o.user = "u";
	o.get_secret = fake_secret;
	o.connections = 1;
	s = imap_store_new(loop, "fake", &o, &e);
	T_ASSERT(s != NULL);
	if (store_connect(s, &e) == -1)
		t_fail(__FILE__, __LINE__, "store_connect: %s", e.msg);
	return s;
}

static void
fake_item_equals(const struct store_item *it, uint32_t uid, size_t size)
{
	struct buf want;

	buf_init(&want, BUF_NOMAX);
	fake_body(&want, uid, size);
	T_EQ_INT(it->err.kind, ERR_NONE);
	T_EQ_INT(it->body.size, size);
	fd_equals(it->body.fd, &want);
	buf_release(&want);
}

static void
test_fetch_uid_after_body(void)
{
	struct store_item it[4], a, b;
	struct done_res r, ra, rb;
	struct loop *loop = loop_new();
	struct store *s;
	pid_t pid;
	size_t i;

	memset(it, 0, sizeof(it));
	it[0].uid = 3;
	it[1].uid = 9;
	it[2].uid = 8;
	it[3].uid = 7;
	for (i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "fake%zu", i);
		it[i].body.fd = temp_file(name, "", 0);
	}
	s = fake_store(loop, 1, 1, &pid);
	memset(&r, 0, sizeof(r));
	store_fetch_batch(s, "INBOX", it, 4, done_cb, &r);
	run_until(loop, &r.done);
	T_ASSERT(!r.failed);
	T_EQ_INT(it[0].err.kind, ERR_MSG);
	fake_item_equals(&it[1], 9, 5);
	fake_item_equals(&it[2], 8, 70000);
	fake_item_equals(&it[3], 7, 100000);
	for (i = 0; i < 4; i++)
		close(it[i].body.fd);
	store_free(s);
	T_EQ_INT(waitpid(pid, NULL, 0), pid);

	/* Two batches in flight; the second's body comes first, unnamed. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.uid = 7;
	b.uid = 8;
	a.body.fd = temp_file("fake-a", "", 0);
	b.body.fd = temp_file("fake-b", "", 0);
	s = fake_store(loop, 2, 2, &pid);
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	store_fetch_batch(s, "INBOX", &a, 1, done_cb, &ra);
	store_fetch_batch(s, "INBOX", &b, 1, done_cb, &rb);
	run_until(loop, &ra.done);
	run_until(loop, &rb.done);
	T_ASSERT(!ra.failed && !rb.failed);
	fake_item_equals(&a, 7, 80000);
	fake_item_equals(&b, 8, 90000);
	close(a.body.fd);
	close(b.body.fd);
	store_free(s);
	T_EQ_INT(waitpid(pid, NULL, 0), pid);
	loop_free(loop);
}

/* A connection lost in the middle: the rest of the batch, and the batch. */
static void
test_batch_lost_connection(void)
{
	struct store_item it[3];
	struct loop *loop = loop_new();
	struct done_res r;
	struct store *s;
	pid_t pid;
	size_t i;

	memset(it, 0, sizeof(it));
	for (i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "lost%zu", i);
		it[i].uid = (uint32_t)(7 + i);
		it[i].body.fd = temp_file(name, "", 0);
	}
	s = fake_store(loop, 4, 1, &pid);
	memset(&r, 0, sizeof(r));
	store_fetch_batch(s, "INBOX", it, 3, done_cb, &r);
	run_until(loop, &r.done);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_CONN);
	fake_item_equals(&it[0], 7, 5);
	T_EQ_INT(it[1].err.kind, ERR_CONN);
	T_EQ_INT(it[2].err.kind, ERR_CONN);
	store_free(s);
	T_EQ_INT(waitpid(pid, NULL, 0), pid);

	/* The same with an append batch: nothing is known of any of it. */
	T_EQ_INT(lseek(it[0].body.fd, 0, SEEK_SET), 0);
	s = fake_store(loop, 4, 1, &pid);
	memset(&r, 0, sizeof(r));
	store_append_batch(s, "INBOX", it, 1, done_cb, &r);
	run_until(loop, &r.done);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_CONN);
	T_EQ_INT(it[0].err.kind, ERR_CONN);
	T_EQ_INT(it[0].uid, 0);
	store_free(s);
	T_EQ_INT(waitpid(pid, NULL, 0), pid);

	/*
	 * A BAD to an APPEND whose {n+} literal the server may not have
	 * read: that message failed, and nothing more goes on that link.
	 */
	T_EQ_INT(lseek(it[0].body.fd, 0, SEEK_SET), 0);
	close(it[1].body.fd);
	it[1] = it[0];
	it[1].body.fd = dup(it[0].body.fd);
	s = fake_store(loop, 5, 1, &pid);
	memset(&r, 0, sizeof(r));
	store_append_batch(s, "INBOX", it, 2, done_cb, &r);
	run_until(loop, &r.done);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_CONN);
	T_EQ_INT(it[0].err.kind, ERR_MSG);
	T_ASSERT(strstr(it[0].err.msg, "BAD") != NULL);
	T_EQ_INT(it[1].err.kind, ERR_CONN);
	store_free(s);
	T_EQ_INT(waitpid(pid, NULL, 0), pid);
	for (i = 0; i < 3; i++)
		close(it[i].body.fd);
	loop_free(loop);
}

/*
 * MULTIAPPEND without LITERAL+: each literal waits for its "+", and is
 * read from its file only then.  An APPENDUID that names fewer UIDs than
 * messages leaves them 0.
 */
static void
test_multiappend_sync_literals(void)
{
	static const size_t sizes[3] = {5000, 70000, 10};
	struct store_item it[3];
	struct buf want, body;
	struct loop *loop = loop_new();
	struct done_res r;
	struct store *s;
	char path[4096], *got;
	pid_t pid;
	ssize_t n;
	size_t i;
	int fd;

	memset(it, 0, sizeof(it));
	buf_init(&want, BUF_NOMAX);
	buf_init(&body, BUF_NOMAX);
	T_EQ_INT(buf_puts(&want, "APPEND INBOX"), 0);
	for (i = 0; i < 3; i++) {
		char name[16];

		fake_body(&body, (uint32_t)i, sizes[i]);
		snprintf(name, sizeof(name), "multi%zu", i);
		it[i].body.fd = temp_file(name, body.data, body.len);
		it[i].body.size = body.len;
		it[i].flags = i == 1 ? "\\Seen" : "";
		it[i].internaldate = i == 2 ? date_val : 0;
		T_EQ_INT(buf_printf(&want, " (%s) %s{%zu}\r\n", it[i].flags,
			     i == 2 ? "\"02-Nov-2026 09:00:00 +0000\" " : "",
			     body.len),
		    0);
		T_EQ_INT(buf_append(&want, body.data, body.len), 0);
	}
	T_EQ_INT(buf_puts(&want, "\r\n"), 0);
	s = fake_store(loop, 3, 0, &pid);
	memset(&r, 0, sizeof(r));
	store_append_batch(s, "INBOX", it, 3, done_cb, &r);
	run_until(loop, &r.done);
	T_ASSERT(!r.failed);
	for (i = 0; i < 3; i++) {
		T_EQ_INT(it[i].err.kind, ERR_NONE);
		T_EQ_INT(it[i].uid, 20 + i);
	}
	memset(&r, 0, sizeof(r));
	store_append_batch(s, "INBOX", it, 2, done_cb, &r);
	run_until(loop, &r.done);
	T_ASSERT(!r.failed);
	T_EQ_INT(it[0].err.kind, ERR_NONE);
	T_EQ_INT(it[0].uid, 0);
	T_EQ_INT(it[1].uid, 0);
	store_free(s);
	T_EQ_INT(waitpid(pid, NULL, 0), pid);
	snprintf(path, sizeof(path), "%s/fake-append", t_tmpdir());
	fd = open(path, O_RDONLY);
	T_ASSERT(fd >= 0);
	got = malloc(want.len + 1);
	n = read(fd, got, want.len + 1);
	T_ASSERT(n >= (ssize_t)want.len);
	T_EQ_MEM(got, want.len, want.data, want.len);
	free(got);
	close(fd);
	for (i = 0; i < 3; i++)
		close(it[i].body.fd);
	buf_release(&want);
	buf_release(&body);
	loop_free(loop);
}

static void
check_list(struct ctx *x, const char *folder)
{
	struct list_res r;
	int i;

	list(x, &r);
	T_ASSERT(list_find(&r, "INBOX") >= 0);
	i = list_find(&r, "Sent");
	T_ASSERT(i >= 0);
	T_ASSERT(r.f[i].attrs & STORE_SENT);
	i = list_find(&r, folder);
	T_ASSERT(i >= 0);
	T_ASSERT(r.f[i].has_status);
	T_ASSERT(r.f[i].uidvalidity != 0);
	T_EQ_INT(r.f[i].messages, 2);
	T_EQ_INT(r.f[i].uidnext, 3);
	T_ASSERT(r.f[i].hms > 0);
	i = list_find(&r, "IS-List");
	T_ASSERT(i >= 0);
}

static void
test_list(void)
{
	struct ctx x;
	uint64_t before, with_status, without;

	open_ctx(&x, "alice", 1, NULL);
	seed(&x, "IS-List/Child", 2);
	before = imap_store_commands_sent(x.s);
	check_list(&x, "IS-List/Child");
	with_status = imap_store_commands_sent(x.s) - before;
	T_EQ_INT(with_status, 1);
	close_ctx(&x);

	/* Without LIST-STATUS: LIST, then one STATUS per folder. */
	open_ctx(&x, "alice", 1, "LIST-STATUS");
	before = imap_store_commands_sent(x.s);
	check_list(&x, "IS-List/Child");
	without = imap_store_commands_sent(x.s) - before;
	T_ASSERT(without > 3);
	close_ctx(&x);
}

/*
 * The three change-detection paths see the same story: three messages,
 * then another client adds one, flags one and expunges one.
 */
static void
scan_story(const char *disable, const char *folder, const char *method)
{
	struct store_since since;
	struct scan_res *r;
	const struct scan_msg *m;
	uint32_t known[3] = {1, 2, 3};
	char msg[1024];
	size_t len;
	struct ctx x;

	open_ctx(&x, "bob", 1, disable);
	seed(&x, folder, 3);
	memset(&since, 0, sizeof(since));
	r = scan(&x, folder, &since);
	T_EQ_STR(r->method, "full");
	T_ASSERT(r->full);
	T_EQ_INT(r->n, 3);
	T_EQ_INT(r->uidnext, 4);
	T_ASSERT(r->permflags[0] != '\0');
	T_ASSERT(r->perm_keywords);
	m = find_msg(r, 2);
	T_ASSERT(m != NULL && !m->flags_only);
	T_EQ_STR(m->flags, "");
	T_EQ_INT(m->date, date_val);
	T_EQ_INT(m->fp_len, STORE_FP_LEN);
	len = make_msg(msg, sizeof(msg), folder, 2, true);
	T_EQ_INT(m->size, len);
	since.uidvalidity = r->uidvalidity;
	since.uidnext = r->uidnext;
	since.modseq = r->hms;
	since.known_uids = known;
	since.nknown = 3;
	if (strstr(disable ? disable : "", "CONDSTORE") == NULL)
		T_ASSERT(r->hms > 0);
	free(r);

	/* Another client: a new message, a flag, an expunge. */
	len = make_msg(msg, sizeof(msg), folder, 4, true);
	other(&x, "SELECT \"%s\"", folder);
	other(&x, "UID STORE 1 +FLAGS.SILENT (\\Flagged $Seen-Elsewhere)");
	other(&x, "UID STORE 2 +FLAGS.SILENT (\\Deleted)");
	other(&x, "EXPUNGE");
	{
		struct imap_cmd *cmd = imap_cmd_new(x.other, 0, NULL, NULL);
		struct err e;

		imap_cmd_printf(
		    cmd, "APPEND \"%s\" (\\Seen) \"%s\" ", folder, date_str);
		imap_cmd_literal(cmd, msg, len);
		T_EQ_INT(imap_cmd_wait(cmd, &e), 0);
	}

	r = scan(&x, folder, &since);
	T_EQ_STR(r->method, method);
	m = find_msg(r, 1);
	T_ASSERT(m != NULL && m->flags_only);
	T_EQ_STR(m->flags, "$Seen-Elsewhere \\Flagged");
	T_EQ_INT(m->fp_len, 0);
	T_ASSERT(find_msg(r, 2) == NULL);
	m = find_msg(r, 4);
	T_ASSERT(m != NULL && !m->flags_only);
	T_EQ_STR(m->flags, "\\Seen");
	T_EQ_INT(m->size, len);
	T_EQ_INT(m->date, date_val);
	{
		unsigned char fp[STORE_FP_LEN];
		const char *end = strstr(msg, "\r\n\r\n");

		store_fingerprint(
		    msg, (size_t)(end + 4 - msg), len, date_val, fp);
		T_EQ_MEM(m->fp, sizeof(fp), fp, sizeof(fp));
	}
	T_EQ_INT(r->uidnext, 5);
	if (strcmp(method, "full") == 0) {
		/* Absence is the evidence: 1, 3 and the new 4. */
		T_ASSERT(r->full);
		T_EQ_INT(r->n, 3);
		T_ASSERT(find_msg(r, 3) != NULL);
		T_EQ_INT(r->hms, 0);
	} else {
		T_ASSERT(!r->full);
		T_EQ_INT(r->nv, 1);
		T_EQ_INT(r->v[0], 2);
		T_EQ_INT(r->n, 2); /* 3 did not change */
		T_ASSERT(r->hms > since.modseq);
		/* Nothing changed since: nothing reported. */
		since.uidnext = r->uidnext;
		since.modseq = r->hms;
		known[1] = 4;
		free(r);
		r = scan(&x, folder, &since);
		T_EQ_STR(r->method, method);
		T_EQ_INT(r->n, 0);
		T_EQ_INT(r->nv, 0);
	}
	free(r);
	close_ctx(&x);
}

/* APPEND message n of folder as the other client, with flags. */
static void
other_append(struct ctx *x, const char *folder, int n, const char *flags)
{
	struct imap_cmd *cmd = imap_cmd_new(x->other, 0, NULL, NULL);
	char msg[1024];
	size_t len = make_msg(msg, sizeof(msg), folder, n, true);
	struct err e;

	imap_cmd_printf(
	    cmd, "APPEND \"%s\" (%s) \"%s\" ", folder, flags, date_str);
	imap_cmd_literal(cmd, msg, len);
	T_EQ_INT(imap_cmd_wait(cmd, &e), 0);
}

/*
 * Messages above the marks that the caller knows (its own copies) come
 * back as flag changes only, without their headers; unknown ones, in a
 * gap between them or above them, in full.
 */
static void
known_above_story(const char *disable, const char *folder, const char *method)
{
	uint32_t known[5] = {1, 2, 3, 5, 6};
	struct store_since since;
	const struct scan_msg *m;
	struct scan_res *r;
	struct ctx x;

	open_ctx(&x, "bob", 1, disable);
	seed(&x, folder, 3);
	memset(&since, 0, sizeof(since));
	r = scan(&x, folder, &since);
	T_EQ_INT(r->uidnext, 4);
	since.uidvalidity = r->uidvalidity;
	since.uidnext = r->uidnext;
	since.modseq = r->hms;
	since.known_uids = known;
	since.nknown = 5;
	free(r);
	/* 4 by another client, 5 and 6 "ours", 5 flagged, 7 another's. */
	other(&x, "SELECT \"%s\"", folder);
	other_append(&x, folder, 4, "");
	other_append(&x, folder, 5, "");
	other_append(&x, folder, 6, "\\Seen");
	other(&x, "UID STORE 5 +FLAGS.SILENT (\\Flagged)");
	other_append(&x, folder, 7, "");
	r = scan(&x, folder, &since);
	T_EQ_STR(r->method, method);
	T_EQ_INT(r->uidnext, 8);
	m = find_msg(r, 4);
	T_ASSERT(m != NULL && !m->flags_only && m->fp_len == STORE_FP_LEN);
	m = find_msg(r, 7);
	T_ASSERT(m != NULL && !m->flags_only && m->fp_len == STORE_FP_LEN);
	m = find_msg(r, 5);
	T_ASSERT(m != NULL && m->flags_only && m->fp_len == 0);
	T_EQ_STR(m->flags, "\\Flagged");
	m = find_msg(r, 6);
	T_ASSERT(m != NULL && m->flags_only);
	T_EQ_STR(m->flags, "\\Seen");
	T_ASSERT(find_msg(r, 1) == NULL); /* unchanged since the marks */
	free(r);
	close_ctx(&x);
}

static void
test_scan_known_above_marks(void)
{
	known_above_story(NULL, "IS-Known-Q", "qresync");
	known_above_story("QRESYNC", "IS-Known-C", "condstore");
}

static void
test_scan_qresync(void)
{
	scan_story(NULL, "IS-Qresync", "qresync");
}

static void
test_scan_condstore(void)
{
	scan_story("QRESYNC", "IS-Condstore", "condstore");
}

static void
test_scan_full(void)
{
	scan_story("QRESYNC CONDSTORE", "IS-Full", "full");
}

static void
test_scan_uidvalidity_change(void)
{
	struct store_since since;
	struct scan_res *r;
	struct ctx x;

	open_ctx(&x, "bob", 1, NULL);
	seed(&x, "IS-Uidvalidity", 2);
	memset(&since, 0, sizeof(since));
	r = scan(&x, "IS-Uidvalidity", &since);
	since.uidvalidity = r->uidvalidity + 1; /* not what the server has */
	since.uidnext = r->uidnext;
	since.modseq = r->hms;
	free(r);
	r = scan(&x, "IS-Uidvalidity", &since);
	T_EQ_STR(r->method, "full");
	T_ASSERT(r->full);
	T_EQ_INT(r->n, 2);
	T_ASSERT(!r->m[0].flags_only && r->m[0].fp_len == STORE_FP_LEN);
	free(r);
	/* A folder that does not exist. */
	memset(&since, 0, sizeof(since));
	r = calloc(1, sizeof(*r));
	store_scan(x.s, "IS-No-Such", &since, scan_cb, r);
	run_until(x.loop, &r->done);
	T_ASSERT(r->failed);
	T_EQ_INT(r->err.kind, ERR_BOX);
	free(r);
	close_ctx(&x);
}

/* Many known UIDs, most of them gone: the search goes in chunks. */
static void
test_scan_many_known(void)
{
	static uint32_t known[5000];
	struct store_since since;
	struct scan_res *r;
	uint64_t before;
	struct ctx x;
	size_t i;

	open_ctx(&x, "bob", 1, "QRESYNC");
	seed(&x, "IS-Known", 3);
	memset(&since, 0, sizeof(since));
	r = scan(&x, "IS-Known", &since);
	since.uidvalidity = r->uidvalidity;
	since.modseq = r->hms;
	since.uidnext = 5001;
	free(r);
	for (i = 0; i < 5000; i++)
		known[i] = (uint32_t)(5000 - i);
	since.known_uids = known;
	since.nknown = 5000;
	before = imap_store_commands_sent(x.s);
	r = scan(&x, "IS-Known", &since);
	T_EQ_INT(imap_store_commands_sent(x.s) - before, 3); /* SELECT, 2 */
	T_EQ_STR(r->method, "condstore");
	T_EQ_INT(r->n, 0);
	T_EQ_INT(r->nv_total, 4997);
	T_EQ_INT(r->v[0], 4);
	free(r);
	close_ctx(&x);
}

static void
test_append_fetch(void)
{
	static const char msg1[] = "From: a@example.org\r\n"
				   "Message-ID: <app1@test>\r\n"
				   "Subject: one\r\n\r\nHello.\r\n";
	struct done_res r = {0};
	struct store_body body;
	struct scan_res *sr;
	struct store_since since;
	struct buf big;
	struct ctx x;
	size_t i;

	open_ctx(&x, "carol", 2, NULL);
	folder_op(&x, "create", "IS-Append", NULL);
	T_EQ_INT(
	    append(&x, "IS-Append", "\\Seen $Label", msg1, sizeof(msg1) - 1),
	    1);
	T_EQ_INT(append(&x, "IS-Append", "", msg1, sizeof(msg1) - 1), 2);
	fetch_equals(&x, "IS-Append", 1, msg1, sizeof(msg1) - 1);
	memset(&since, 0, sizeof(since));
	sr = scan(&x, "IS-Append", &since);
	T_EQ_INT(sr->n, 2);
	T_EQ_STR(sr->m[0].flags, "$Label \\Seen");
	T_EQ_INT(sr->m[0].date, date_val);
	free(sr);

	/* 1 MB: sent as one literal, fetched through the sink. */
	buf_init(&big, BUF_NOMAX);
	T_EQ_INT(buf_puts(&big, "Subject: big\r\n\r\n"), 0);
	for (i = 0; big.len < 1024 * 1024; i++)
		T_EQ_INT(buf_printf(&big, "line %zu of a big body\r\n", i), 0);
	T_EQ_INT(append(&x, "IS-Append", "", big.data, big.len), 3);
	fetch_equals(&x, "IS-Append", 3, big.data, big.len);
	/* 12 MB: more than the connection's default write queue. */
	while (big.len < 12 * 1024 * 1024)
		T_EQ_INT(
		    buf_printf(&big, "line %zu of a big body\r\n", i++), 0);
	T_EQ_INT(append(&x, "IS-Append", "", big.data, big.len), 4);
	fetch_equals(&x, "IS-Append", 4, big.data, big.len);
	buf_release(&big);

	/* Over the limit: refused before anything is read or sent. */
	body.fd = temp_file("huge", "", 0);
	body.size = (uint64_t)IMAP_STORE_APPEND_MAX + 1;
	store_append(x.s, "IS-Append", "", 0, &body, append_cb, &r);
	close(body.fd);
	run_until(x.loop, &r.done);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_MSG);
	T_ASSERT(strstr(r.err.msg, "too big") != NULL);
	memset(&r, 0, sizeof(r));

	/* A message the server does not have. */
	body.fd = temp_file("missing", "", 0);
	store_fetch(x.s, "IS-Append", 99, &body, done_cb, &r);
	run_until(x.loop, &r.done);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_MSG);
	close(body.fd);

	/* A body shorter than announced, and bad flags. */
	memset(&r, 0, sizeof(r));
	body.fd = temp_file("short", "abc", 3);
	body.size = 10;
	store_append(x.s, "IS-Append", "", 0, &body, append_cb, &r);
	close(body.fd);
	run_until(x.loop, &r.done);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_MSG);
	memset(&r, 0, sizeof(r));
	body.fd = temp_file("flags", msg1, sizeof(msg1) - 1);
	body.size = sizeof(msg1) - 1;
	store_append(x.s, "IS-Append", "bad(flag", 0, &body, append_cb, &r);
	close(body.fd);
	run_until(x.loop, &r.done);
	T_ASSERT(r.failed);
	close_ctx(&x);
}

static void
test_append_without_uidplus(void)
{
	char a[1024], b[1024];
	size_t alen, blen;
	struct ctx x;

	open_ctx(&x, "carol", 1, "UIDPLUS");
	seed(&x, "IS-NoUidplus", 1);
	alen = make_msg(a, sizeof(a), "IS-NoUidplus", 7, true);
	blen = make_msg(b, sizeof(b), "IS-NoUidplus", 8, false);
	T_EQ_INT(append(&x, "IS-NoUidplus", "\\Flagged", a, alen), 2);
	T_EQ_INT(append(&x, "IS-NoUidplus", "", b, blen), 3);
	/* The same Message-ID again: still the new one. */
	T_EQ_INT(append(&x, "IS-NoUidplus", "", a, alen), 4);
	fetch_equals(&x, "IS-NoUidplus", 2, a, alen);
	fetch_equals(&x, "IS-NoUidplus", 3, b, blen);
	close_ctx(&x);
}

static void
test_set_flags_many(void)
{
	static uint32_t uids[3000];
	struct done_res r = {0};
	uint64_t before;
	const char *res;
	struct ctx x;
	size_t i;
	int n;

	open_ctx(&x, "alice", 1, NULL);
	seed(&x, "IS-Flags", 1000);
	/* Odd UIDs 1..5999: 500 exist; the set is ~15 kB: two commands. */
	for (i = 0; i < 3000; i++)
		uids[i] = (uint32_t)(2 * i + 1);
	before = imap_store_commands_sent(x.s);
	store_set_flags(
	    x.s, "IS-Flags", uids, 3000, "\\Seen $Tag", "", done_cb, &r);
	RUN_OK(&x, r);
	T_EQ_INT(imap_store_commands_sent(x.s) - before, 3); /* SELECT + 2 */
	res = other_search(&x, "IS-Flags", "KEYWORD $Tag");
	for (n = 0, i = 0; res[i] != '\0'; i++)
		n += res[i] == ' ';
	T_EQ_INT(n, 500);
	T_ASSERT(strncmp(res, " 1 3 5 7 ", 9) == 0);

	/* All of them, contiguous: one command. */
	for (i = 0; i < 1000; i++)
		uids[i] = (uint32_t)(1000 - i);
	memset(&r, 0, sizeof(r));
	before = imap_store_commands_sent(x.s);
	store_set_flags(x.s, "IS-Flags", uids, 1000, "", "$Tag", done_cb, &r);
	RUN_OK(&x, r);
	T_EQ_INT(imap_store_commands_sent(x.s) - before, 1);
	T_EQ_STR(other_search(&x, "IS-Flags", "KEYWORD $Tag"), "");
	T_ASSERT(strlen(other_search(&x, "IS-Flags", "SEEN")) > 1000);
	close_ctx(&x);
}

static void
test_expunge_exact(void)
{
	static const uint32_t ours[] = {3, 2};
	static const uint32_t one[] = {1};
	struct done_res r = {0};
	struct ctx x;

	open_ctx(&x, "alice", 1, NULL);
	seed(&x, "IS-Expunge", 5);
	other(&x, "SELECT IS-Expunge");
	other(&x, "UID STORE 5 +FLAGS.SILENT (\\Deleted)");
	store_expunge(x.s, "IS-Expunge", ours, 2, done_cb, &r);
	RUN_OK(&x, r);
	T_EQ_STR(other_search(&x, "IS-Expunge", "ALL"), " 1 4 5");
	T_EQ_STR(other_search(&x, "IS-Expunge", "DELETED"), " 5");
	close_ctx(&x);

	/* Without UIDPLUS: refused while another message is \Deleted. */
	open_ctx(&x, "alice", 1, "UIDPLUS");
	seed(&x, "IS-Expunge2", 4);
	other(&x, "SELECT IS-Expunge2");
	other(&x, "UID STORE 4 +FLAGS.SILENT (\\Deleted)");
	memset(&r, 0, sizeof(r));
	store_expunge(x.s, "IS-Expunge2", one, 1, done_cb, &r);
	run_until(x.loop, &r.done);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_BOX);
	T_ASSERT(strstr(r.err.msg, "UID 4") != NULL);
	T_EQ_STR(other_search(&x, "IS-Expunge2", "ALL"), " 1 2 3 4");
	T_EQ_STR(other_search(&x, "IS-Expunge2", "DELETED"), " 4");
	other(&x, "UID STORE 4 -FLAGS.SILENT (\\Deleted)");
	memset(&r, 0, sizeof(r));
	store_expunge(x.s, "IS-Expunge2", one, 1, done_cb, &r);
	RUN_OK(&x, r);
	T_EQ_STR(other_search(&x, "IS-Expunge2", "ALL"), " 2 3 4");
	close_ctx(&x);
}

/* Scan the folders all at once; each since[i] becomes the new point. */
static void
scan_all(struct ctx *x, char (*name)[32], struct store_since *since,
    const char *method)
{
	struct scan_res *r[8];
	int64_t deadline;
	bool all = false;
	int i;

	for (i = 0; i < 8; i++) {
		r[i] = calloc(1, sizeof(*r[i]));
		store_scan(x->s, name[i], &since[i], scan_cb, r[i]);
	}
	deadline = loop_now_ms() + 30000;
	while (!all && loop_now_ms() < deadline) {
		loop_run_once(x->loop, 100);
		for (all = true, i = 0; i < 8; i++)
			all = all && r[i]->done;
	}
	T_ASSERT(all);
	for (i = 0; i < 8; i++) {
		T_ASSERT(!r[i]->failed);
		T_EQ_STR(r[i]->method, method);
		T_EQ_INT(r[i]->n, since[i].uidvalidity ? 0 : 2 + i);
		since[i].uidvalidity = r[i]->uidvalidity;
		since[i].uidnext = r[i]->uidnext;
		since[i].modseq = r[i]->hms;
		free(r[i]);
	}
}

static void
test_connections(void)
{
	struct store_since since[8];
	char name[8][32];
	struct ctx x;
	int i;

	open_ctx(&x, "bob", 4, NULL);
	for (i = 0; i < 8; i++) {
		snprintf(name[i], sizeof(name[i]), "IS-Multi/F%d", i);
		seed(&x, name[i], 2 + i);
	}
	memset(since, 0, sizeof(since));
	/*
	 * The first round queues up and more connections are opened; on
	 * loopback the first one may finish everything meanwhile.  The
	 * second round finds them ready and spreads over them.
	 */
	scan_all(&x, name, since, "full");
	T_ASSERT(imap_store_connections_opened(x.s) > 1);
	scan_all(&x, name, since, "qresync");
	T_ASSERT(imap_store_peak_busy(x.s) > 1);
	T_ASSERT(imap_store_connections_opened(x.s) <= 4);
	close_ctx(&x);
}

static void
test_folders(void)
{
	struct list_res r;
	struct done_res d = {0};
	struct ctx x;
	const char *raw;

	open_ctx(&x, "carol", 1, NULL);
	folder_op(&x, "create", "IS-Fold/Räksmörgås", NULL);
	folder_op(&x, "create", "IS-Fold/Räksmörgås", NULL); /* exists: OK */
	list(&x, &r);
	T_ASSERT(list_find(&r, "IS-Fold/Räksmörgås") >= 0);
	raw = other_search(&x, "IS-Fold/R&AOQ-ksm&APY-rg&AOU-s", "ALL");
	T_EQ_STR(raw, "");
	folder_op(&x, "rename", "IS-Fold/Räksmörgås", "IS-Fold/日本語");
	list(&x, &r);
	T_ASSERT(list_find(&r, "IS-Fold/Räksmörgås") < 0);
	T_ASSERT(list_find(&r, "IS-Fold/日本語") >= 0);
	other(&x, "SELECT \"IS-Fold/&ZeVnLIqe-\"");
	other(&x, "UNSELECT");
	folder_op(&x, "delete", "IS-Fold/日本語", NULL);
	list(&x, &r);
	T_ASSERT(list_find(&r, "IS-Fold/日本語") < 0);
	/* Names the store refuses. */
	store_create(x.s, "IS-Fold//x", done_cb, &d);
	run_until(x.loop, &d.done);
	T_ASSERT(d.failed);
	T_EQ_INT(d.err.kind, ERR_BOX);
	memset(&d, 0, sizeof(d));
	store_delete(x.s, "IS-Fold/No-Such", done_cb, &d);
	run_until(x.loop, &d.done);
	T_ASSERT(d.failed);
	close_ctx(&x);
}

static void
test_lost_connection(void)
{
	struct store_since since;
	struct scan_res *r, *lost, *abandoned;
	struct imap_client *c;
	struct imap_cmd *cmd;
	struct ctx x;

	open_ctx(&x, "carol", 2, NULL);
	seed(&x, "IS-Lost", 3);
	memset(&since, 0, sizeof(since));
	r = scan(&x, "IS-Lost", &since); /* binds connection #1 */
	free(r);
	/* The server closes #1 while a scan is in flight on it. */
	c = ((struct imap_store *)x.s)->conns->c;
	lost = calloc(1, sizeof(*lost));
	store_scan(x.s, "IS-Lost", &since, scan_cb, lost);
	cmd = imap_cmd_new(c, 0, NULL, NULL);
	imap_cmd_printf(cmd, "LOGOUT");
	imap_cmd_send(cmd);
	run_until(x.loop, &lost->done);
	T_ASSERT(lost->failed);
	T_EQ_INT(lost->err.kind, ERR_CONN);
	free(lost);
	/* The next operation gets a new connection. */
	r = scan(&x, "IS-Lost", &since);
	T_EQ_INT(r->n, 3);
	free(r);
	T_EQ_INT(imap_store_connections_opened(x.s), 2);
	/* store_free() abandons what is outstanding, without callbacks. */
	abandoned = calloc(1, sizeof(*abandoned));
	store_scan(x.s, "IS-Lost", &since, scan_cb, abandoned);
	close_ctx(&x);
	T_ASSERT(!abandoned->done);
	free(abandoned);
}

static void
test_not_connected(void)
{
	struct imap_store_opts o;
	struct list_res r;
	struct loop *loop;
	struct store *s;
	struct err e;

	th_need_dovecot();
	loop = loop_new();
	memset(&o, 0, sizeof(o));
	client_opts(&o.client, "store");
	o.connections = 33;
	T_ASSERT(imap_store_new(loop, "test", &o, &e) == NULL);
	T_EQ_INT(e.kind, ERR_CONFIG);
	o.connections = 0;
	s = imap_store_new(loop, "test", &o, &e);
	T_ASSERT(s != NULL);
	T_EQ_STR(store_kind(s), "imap");
	memset(&r, 0, sizeof(r));
	store_list(s, list_cb, &r);
	T_ASSERT(!r.done); /* never from inside the call */
	run_until(loop, &r.done);
	T_ASSERT(r.failed);
	T_EQ_INT(r.err.kind, ERR_CONFIG);
	/* A wrong password. */
	o.user = "alice";
	o.get_secret = get_secret;
	o.secret_arg = (void *)"bob";
	store_free(s);
	s = imap_store_new(loop, "test", &o, &e);
	T_EQ_INT(store_connect(s, &e), -1);
	T_EQ_INT(e.kind, ERR_AUTH);
	store_free(s);
	loop_free(loop);
}

static const struct t_case cases[] = {
    {"IMAP dates", test_dates},
    {"UID sets", test_uidsets},
    {"list with and without LIST-STATUS", test_list},
    {"scan: qresync", test_scan_qresync},
    {"scan: condstore", test_scan_condstore},
    {"scan: full", test_scan_full},
    {"scan: UIDVALIDITY change, missing folder", test_scan_uidvalidity_change},
    {"scan: many known UIDs", test_scan_many_known},
    {"scan: own copies above the marks", test_scan_known_above_marks},
    {"append and fetch", test_append_fetch},
    {"append without UIDPLUS", test_append_without_uidplus},
    {"fetch batch: one UID FETCH, any order", test_fetch_batch},
    {"fetch batch: UID after a big body (fake server)",
	test_fetch_uid_after_body},
    {"batch: lost connection (fake server)", test_batch_lost_connection},
    {"append batch: MULTIAPPEND", test_append_batch_multi},
    {"append batch: synchronising literals (fake server)",
	test_multiappend_sync_literals},
    {"append batch: without MULTIAPPEND", test_append_batch_pipelined},
    {"append batch: without UIDPLUS", test_append_batch_no_uidplus},
    {"append batch: refused messages", test_append_batch_refused},
    {"set_flags over large sets", test_set_flags_many},
    {"expunge exactly the given UIDs", test_expunge_exact},
    {"several connections", test_connections},
    {"create, rename, delete", test_folders},
    {"lost connection", test_lost_connection},
    {"not connected, bad options, wrong password", test_not_connected},
};

int
main(int argc, char **argv)
{
	if (getenv("FERRY_TEST_TRACE"))
		log_set_level(LOG_TRACE);
	else if (getenv("FERRY_TEST_DEBUG"))
		log_set_level(LOG_DEBUG);
	return T_MAIN(cases);
}
