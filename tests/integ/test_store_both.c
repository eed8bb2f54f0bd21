/* SPDX-License-Identifier: ISC */
/*
 * test_store_both.c - one sequence of store operations (create, list,
 * scan, append, scan since, fetch, set flags, expunge, scan again) run
 * through the IMAP driver against the private Dovecot and through the
 * Maildir driver in a scratch directory.  Each run is written down as a
 * transcript with the store's own UIDs replaced by the order of
 * appending; the two transcripts must be identical, fingerprints
 * included, which is what lets the sync engine treat both alike.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/imap_store.h"
#include "store/maildir.h"
#include "store/state.h"
#include "store/store.h"
#include "tests/helpers.h"
#include "tests/t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/loop.h"

#define NMSG 3

static const char *const bodies[NMSG] = {
    "From: a@example.org\r\nSubject: one\r\nMessage-ID: <one@x>\r\n\r\n"
    "first body\r\n",
    "From: b@example.org\r\nSubject: two\r\nMessage-ID: <two@x>\r\n\r\n"
    "second body, a little longer\r\n",
    "From: c@example.org\r\nSubject: three (no Message-ID)\r\n\r\n"
    "third\r\n",
};
static const char *const flags[NMSG] = {"\\Seen", "$Label1 \\Flagged", ""};
static const int64_t dates[NMSG] = {1793000000, 1793003600, 1793007200};

struct run {
	struct loop *loop;
	struct store *st;
	bool done;
	struct err err;
	bool failed;
	uint32_t uid[NMSG]; /* by append order */
	struct buf log; /* the transcript */
	struct store_since since;
};

static void
wait(struct run *r)
{
	int n = 0;

	while (!r->done && n++ < 2000)
		loop_run_once(r->loop, 10);
	if (!r->done)
		t_fail(__FILE__, __LINE__, "operation never completed");
	r->done = false;
	if (r->failed)
		t_fail(__FILE__, __LINE__, "%s", r->err.msg);
}

static void
note(struct run *r, const char *s)
{
	if (buf_puts(&r->log, s) == -1)
		abort();
}

static void
on_done(void *arg, const struct err *err)
{
	struct run *r = arg;

	r->done = true;
	r->failed = err != NULL;
	if (err)
		r->err = *err;
}

static void
on_list(
    void *arg, const struct store_folder *f, size_t n, const struct err *err)
{
	struct run *r = arg;
	size_t i;

	on_done(arg, err);
	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, "Both/Test") == 0) {
			char line[128];

			snprintf(line, sizeof(line),
			    "list: Both/Test %u msgs\n", f[i].messages);
			note(r, line);
		}
}

/* The index (in append order) of a UID, or -1. */
static int
idx(const struct run *r, uint32_t uid)
{
	int i;

	for (i = 0; i < NMSG; i++)
		if (r->uid[i] == uid)
			return i;
	return -1;
}

static void
on_scan(void *arg, const struct store_changes *ch, const struct err *err)
{
	struct run *r = arg;
	char line[512];
	size_t i, k;

	on_done(arg, err);
	if (err)
		return;
	r->since.uidvalidity = ch->uidvalidity;
	r->since.uidnext = ch->uidnext;
	r->since.modseq = ch->highestmodseq;
	for (i = 0; i < ch->nmsgs; i++) {
		const struct store_msg *m = &ch->msgs[i];
		char fp[2 * STORE_FP_LEN + 1] = "";

		for (k = 0; k < m->fp_len; k++)
			snprintf(fp + 2 * k, 3, "%02x", m->fp[k]);
		if (m->flags_only)
			snprintf(line, sizeof(line), "  msg %d flags [%s]\n",
			    idx(r, m->uid), m->flags);
		else
			snprintf(line, sizeof(line),
			    "  msg %d flags [%s] size %llu date %lld fp "
			    "%.16s\n",
			    idx(r, m->uid), m->flags,
			    (unsigned long long)m->size,
			    (long long)m->internaldate, fp);
		note(r, line);
	}
	for (i = 0; i < ch->nvanished; i++) {
		snprintf(line, sizeof(line), "  vanished %d\n",
		    idx(r, ch->vanished[i]));
		note(r, line);
	}
}

static void
on_append(void *arg, uint32_t uid, const struct err *err)
{
	struct run *r = arg;
	int i;

	on_done(arg, err);
	for (i = 0; i < NMSG; i++)
		if (r->uid[i] == 0) {
			r->uid[i] = uid;
			break;
		}
}

static int
tmpfile_with(const char *data)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/body.XXXXXX", t_tmpdir());
	fd = mkstemp(path);
	T_ASSERT(fd >= 0);
	unlink(path);
	if (data) {
		T_EQ_INT(write(fd, data, strlen(data)), (long)strlen(data));
		T_EQ_INT(lseek(fd, 0, SEEK_SET), 0);
	}
	return fd;
}

/* Scan in full: the set of messages, whatever the driver's method. */
static void
scan_full(struct run *r, const char *title)
{
	struct store_since zero = {0};

	note(r, title);
	store_scan(r->st, "Both/Test", &zero, on_scan, r);
	wait(r);
}

static void
sequence(struct run *r)
{
	struct store_body b;
	uint32_t one;
	int i;

	store_create(r->st, "Both/Test", on_done, r);
	wait(r);
	scan_full(r, "scan empty:\n");
	for (i = 0; i < NMSG; i++) {
		b.fd = tmpfile_with(bodies[i]);
		b.size = strlen(bodies[i]);
		store_append(
		    r->st, "Both/Test", flags[i], dates[i], &b, on_append, r);
		wait(r);
		close(b.fd);
		T_ASSERT(r->uid[i] != 0);
	}
	store_list(r->st, on_list, r);
	wait(r);
	scan_full(r, "scan after append:\n");
	for (i = 0; i < NMSG; i++) {
		char got[512];
		ssize_t n;

		b.fd = tmpfile_with(NULL);
		b.size = 0;
		store_fetch(r->st, "Both/Test", r->uid[i], &b, on_done, r);
		wait(r);
		T_EQ_INT(b.size, strlen(bodies[i]));
		T_EQ_INT(lseek(b.fd, 0, SEEK_SET), 0);
		n = read(b.fd, got, sizeof(got));
		T_EQ_MEM(got, (size_t)n, bodies[i], strlen(bodies[i]));
		close(b.fd);
	}
	one = r->uid[0];
	store_set_flags(
	    r->st, "Both/Test", &one, 1, "\\Answered", "\\Seen", on_done, r);
	wait(r);
	one = r->uid[1];
	store_expunge(r->st, "Both/Test", &one, 1, on_done, r);
	wait(r);
	scan_full(r, "scan after flags and expunge:\n");
}

static const char expected_head[] = "scan empty:\n"
				    "list: Both/Test 3 msgs\n"
				    "scan after append:\n";

static void
check_transcript(const struct run *r)
{
	const char *tail;

	T_ASSERT(strncmp(r->log.data, expected_head,
		     sizeof(expected_head) - 1) == 0);
	tail = strstr(r->log.data, "scan after flags and expunge:\n");
	T_ASSERT(tail != NULL);
	T_ASSERT(strstr(tail, "msg 0 flags [\\Answered]") != NULL);
	T_ASSERT(strstr(tail, "msg 1 ") == NULL);
	T_ASSERT(strstr(tail, "msg 2 flags []") != NULL);
	T_ASSERT(
	    strstr(r->log.data, "msg 1 flags [$Label1 \\Flagged]") != NULL);
}

static int
imap_secret(void *arg, struct buf *out, struct err *err)
{
	(void)arg;
	if (buf_puts(out, th_env("FERRY_PASS_carol")) == -1)
		return err_set(err, ERR_LIMIT, "password too long");
	return 0;
}

static void
run_imap(struct run *r)
{
	struct imap_store_opts o;
	struct err e;

	memset(&o, 0, sizeof(o));
	o.client.conn.host = "localhost";
	o.client.conn.port = th_env("FERRY_IMAPS_PORT");
	o.client.conn.tls = CONN_TLS_IMPLICIT;
	o.client.conn.ca_file = th_env("FERRY_CA");
	o.user = "carol";
	o.get_secret = imap_secret;
	o.connections = 2;
	r->st = imap_store_new(r->loop, "imap", &o, &e);
	T_ASSERT(r->st != NULL);
	if (store_connect(r->st, &e) == -1)
		t_fail(__FILE__, __LINE__, "connect: %s", e.msg);
	sequence(r);
}

static void
run_maildir(struct run *r, struct state **stp)
{
	struct maildir_opts o;
	char path[4096];
	struct err e;

	snprintf(path, sizeof(path), "%s/state.db", t_tmpdir());
	T_EQ_INT(state_open(path, stp, &e), 0);
	snprintf(path, sizeof(path), "%s/Mail", t_tmpdir());
	maildir_opts_init(&o);
	o.path = path;
	o.state = *stp;
	o.create = true;
	r->st = maildir_store_new(r->loop, "maildir", &o, &e);
	T_ASSERT(r->st != NULL);
	T_EQ_INT(store_connect(r->st, &e), 0);
	sequence(r);
}

static void
test_same_sequence_same_results(void)
{
	struct run a, b;
	struct state *st = NULL;

	th_need_dovecot();
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	buf_init(&a.log, BUF_NOMAX);
	buf_init(&b.log, BUF_NOMAX);
	a.loop = loop_new();
	b.loop = loop_new();
	run_imap(&a);
	run_maildir(&b, &st);
	check_transcript(&a);
	check_transcript(&b);
	T_EQ_STR(a.log.data, b.log.data);
	if (getenv("FERRY_TEST_SHOW"))
		fputs(a.log.data, stdout);
	store_free(a.st);
	store_free(b.st);
	state_close(st);
	loop_free(a.loop);
	loop_free(b.loop);
	buf_release(&a.log);
	buf_release(&b.log);
}

static const struct t_case cases[] = {
    {"same sequence, same results", test_same_sequence_same_results},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
