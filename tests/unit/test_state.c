/* SPDX-License-Identifier: ISC */
/*
 * test_state.c - unit tests for store/state.c, the SQLite state database:
 * every function's round trip, the uniqueness rules, transactions, the
 * file mode, the lock against another process, durability of intents
 * across a close and a crash, migrations, and refusal of files that are
 * not ours (foreign, newer, corrupt).
 *
 * Most tests use ":memory:"; those about files use t_tmpdir().  A few
 * fixtures are made with raw SQLite, because they are databases that
 * ferry itself never writes (another program's, a future version's, an
 * empty older one); nothing else here talks to SQLite.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/state.h"
#include "tests/t.h"
#include "util/err.h"
#include "util/log.h"

/* A path in the test's scratch directory. */
static void
tpath(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", t_tmpdir(), name);

	T_ASSERT(n > 0 && (size_t)n < size);
}

static struct state *
open_ok(const char *path)
{
	struct state *st = NULL;
	struct err err = {0};

	if (state_open(path, &st, &err) < 0)
		t_fail(__FILE__, __LINE__, "state_open(%s): %s", path, err.msg);
	return st;
}

static int64_t
mkpair(struct state *st, const char *far, const char *near)
{
	struct state_pair p;
	struct err err = {0};
	int64_t id;

	if (state_pair_get_or_create(st, far, near, &p, &err) < 0)
		t_fail(__FILE__, __LINE__, "pair %s: %s", far, err.msg);
	id = p.id;
	state_pair_release(&p);
	return id;
}

static int64_t
addmsg(
    struct state *st, int64_t pair, uint32_t far, uint32_t near, const char *fp)
{
	struct state_msg m = {0};
	struct err err = {0};
	int64_t id = 0;

	m.pair = pair;
	m.uid[STATE_FAR] = far;
	m.uid[STATE_NEAR] = near;
	m.flags = "\\Seen";
	m.fp = (const unsigned char *)fp;
	m.fp_len = fp ? strlen(fp) : 0;
	if (state_msg_add(st, &m, &id, &err) < 0)
		t_fail(__FILE__, __LINE__, "add %u/%u: %s", far, near, err.msg);
	return id;
}

static uint64_t
count_msgs(struct state *st, int64_t pair)
{
	struct err err = {0};
	uint64_t n = 0;

	T_EQ_INT(state_msg_count(st, pair, &n, &err), 0);
	return n;
}

/* Make a database by hand with raw SQLite (see the top of the file). */
static void
fixture(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	T_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	T_EQ_INT(rc, SQLITE_OK);
	T_EQ_INT(chmod(path, 0600), 0);
}

static int64_t
fixture_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	T_EQ_INT(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	T_ASSERT(fd >= 0);
	T_EQ_INT(write(fd, data, len), (ssize_t)len);
	close(fd);
	T_EQ_INT(chmod(path, mode), 0);
}

static mode_t
file_mode(const char *path)
{
	struct stat sb;

	T_EQ_INT(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	T_EQ_INT(stat(path, &sb), 0);
	return sb.st_size;
}

static void
test_open_memory(void)
{
	struct state *st = open_ok(":memory:");
	struct err err = {0};

	T_EQ_STR(state_path(st), ":memory:");
	T_EQ_INT(state_schema_version(st, &err), STATE_SCHEMA_VERSION);
	T_ASSERT(!state_in_transaction(st));
	T_EQ_INT(state_check(st, &err), 0);
	T_EQ_INT(count_msgs(st, 0), 0);
	state_close(st);
	state_close(NULL);
	T_EQ_STR(state_side_name(STATE_FAR), "far");
	T_EQ_STR(state_side_name(STATE_NEAR), "near");
}

static void
test_meta(void)
{
	struct state *st = open_ok(":memory:");
	struct err err = {0};
	char v[16];

	T_EQ_INT(state_meta_get(st, "channel.hash", v, sizeof(v), &err), 0);
	T_EQ_INT(state_meta_set(st, "channel.hash", "abc", &err), 0);
	T_EQ_INT(state_meta_get(st, "channel.hash", v, sizeof(v), &err), 1);
	T_EQ_STR(v, "abc");
	T_EQ_INT(
	    state_meta_set(st, "channel.hash", "0123456789abcdef", &err), 0);
	T_EQ_INT(state_meta_get(st, "channel.hash", v, sizeof(v), &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	T_EQ_INT(state_meta_set(st, "", "x", &err), -1);
	T_EQ_INT(state_meta_set(st, "a key", "x", &err), -1);
	/* The migration recorded when the file was made. */
	T_EQ_INT(state_meta_get(st, "state.created", v, sizeof(v), &err), 1);
	T_ASSERT(strtoll(v, NULL, 10) > 1600000000);
	state_close(st);
}

static void
test_file_created_private(void)
{
	char path[4096], lock[4096], wal[4096], log[4096], pid[32];
	char text[32] = "";
	struct state *st;
	mode_t old = umask(022);
	int fd, saved;

	tpath(path, sizeof(path), "s.db");
	tpath(lock, sizeof(lock), "s.db.lock");
	tpath(wal, sizeof(wal), "s.db-wal");
	tpath(log, sizeof(log), "stderr");
	/* Created private, not created wide and then narrowed (a warning). */
	fflush(stderr);
	saved = dup(2);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	st = open_ok(path);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	umask(old);
	T_EQ_INT(file_size(log), 0);
	T_EQ_INT(file_mode(path), 0600);
	T_EQ_INT(file_mode(lock), 0600);
	mkpair(st, "INBOX", "INBOX");
	T_EQ_INT(file_mode(wal), 0600);
	/* The lock file names us. */
	fd = open(lock, O_RDONLY);
	T_ASSERT(fd >= 0);
	T_ASSERT(read(fd, text, sizeof(text) - 1) > 0);
	close(fd);
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	T_EQ_STR(text, pid);
	state_close(st);
}

static void
test_existing_file_narrowed(void)
{
	char path[4096];
	struct state *st;
	enum log_level lvl = log_get_level();

	tpath(path, sizeof(path), "wide.db");
	write_file(path, "", 0, 0644);
	log_set_level(LOG_ERROR);
	st = open_ok(path);
	log_set_level(lvl);
	T_EQ_INT(file_mode(path), 0600);
	state_close(st);
}

static void
test_pair_roundtrip(void)
{
	struct state *st = open_ok(":memory:");
	struct state_pair p, q, *v;
	struct err err = {0};
	int64_t inbox, arch;
	size_t n;

	T_EQ_INT(state_pair_get_or_create(st, "INBOX", "INBOX", &p, &err), 0);
	inbox = p.id;
	T_ASSERT(inbox > 0);
	T_EQ_STR(p.name[STATE_FAR], "INBOX");
	T_EQ_INT(p.marks[STATE_FAR].uidvalidity, 0);
	T_EQ_INT(p.last_sync, 0);
	state_pair_release(&p);
	T_EQ_INT(mkpair(st, "INBOX", "INBOX"), inbox);
	arch = mkpair(st, "Archive/2024", "Archiv/2024");
	T_ASSERT(arch != inbox);

	T_EQ_INT(state_pair_find(st, STATE_NEAR, "Archiv/2024", &p, &err), 1);
	T_EQ_INT(p.id, arch);
	T_EQ_STR(p.name[STATE_FAR], "Archive/2024");
	state_pair_release(&p);
	T_EQ_INT(state_pair_find(st, STATE_FAR, "Archiv/2024", &p, &err), 0);
	T_EQ_INT(state_pair_get(st, 9999, &p, &err), 0);

	T_EQ_INT(state_pair_get(st, inbox, &p, &err), 1);
	p.marks[STATE_FAR] = (struct state_marks){7, 101, 1ull << 40, 99};
	p.marks[STATE_NEAR] = (struct state_marks){4000000000u, 55, 0, 54};
	p.last_sync = 1700000000;
	T_EQ_INT(state_pair_update(st, &p, &err), 0);
	T_EQ_INT(state_pair_get(st, inbox, &q, &err), 1);
	T_EQ_INT(q.marks[STATE_FAR].uidvalidity, 7);
	T_EQ_INT(q.marks[STATE_FAR].uidnext, 101);
	T_EQ_INT(q.marks[STATE_FAR].modseq, 1ull << 40);
	T_EQ_INT(q.marks[STATE_FAR].messages, 99);
	T_EQ_INT(q.marks[STATE_NEAR].uidvalidity, 4000000000u);
	T_EQ_INT(q.marks[STATE_NEAR].uidnext, 55);
	T_EQ_INT(q.marks[STATE_NEAR].messages, 54);
	T_EQ_INT(q.last_sync, 1700000000);
	state_pair_release(&q);
	p.id = 9999;
	T_EQ_INT(state_pair_update(st, &p, &err), -1);
	state_pair_release(&p);

	T_EQ_INT(state_pair_list(st, &v, &n, &err), 0);
	T_EQ_INT(n, 2);
	T_EQ_STR(v[0].name[STATE_FAR], "Archive/2024");
	T_EQ_STR(v[1].name[STATE_FAR], "INBOX");
	T_EQ_INT(v[1].marks[STATE_FAR].uidnext, 101);
	state_pair_list_free(v, n);

	T_EQ_INT(state_pair_delete(st, arch, &err), 0);
	T_EQ_INT(state_pair_get(st, arch, &p, &err), 0);
	T_EQ_INT(state_pair_list(st, &v, &n, &err), 0);
	T_EQ_INT(n, 1);
	state_pair_list_free(v, n);
	state_close(st);
}

static void
test_pair_names(void)
{
	struct state *st = open_ok(":memory:");
	struct state_pair p;
	struct err err = {0};
	char long_name[STATE_NAME_MAX + 2];

	mkpair(st, "a", "b");
	T_EQ_INT(state_pair_get_or_create(st, "a", "c", &p, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	T_ASSERT(strstr(err.msg, "already paired with near folder \"b\""));
	T_EQ_INT(state_pair_get_or_create(st, "d", "b", &p, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	T_ASSERT(strstr(err.msg, "near folder \"b\""));

	mkpair(st, "Entw\xc3\xbcrfe", "\xe8\x8d\x89\xe7\xa8\xbf");
	T_EQ_INT(state_pair_get_or_create(st, "x\x01", "y", &p, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	T_EQ_INT(state_pair_get_or_create(st, "x", "\xff", &p, &err), -1);
	T_EQ_INT(state_pair_get_or_create(st, "x", "\xc0\xaf", &p, &err), -1);
	T_EQ_INT(
	    state_pair_get_or_create(st, "x", "\xe0\x80\xaf", &p, &err), -1);
	T_EQ_INT(
	    state_pair_get_or_create(st, "x", "\xf4\x90\x80\x80", &p, &err),
	    -1);
	T_EQ_INT(state_pair_get_or_create(st, "x", "\xe2\x82", &p, &err), -1);
	T_EQ_INT(
	    state_pair_get_or_create(st, "\xed\xa0\x80", "y", &p, &err), -1);
	T_EQ_INT(state_pair_get_or_create(st, "", "y", &p, &err), -1);
	T_EQ_INT(state_pair_get_or_create(st, NULL, "y", &p, &err), -1);
	memset(long_name, 'a', sizeof(long_name));
	long_name[STATE_NAME_MAX + 1] = '\0';
	T_EQ_INT(state_pair_get_or_create(st, long_name, "y", &p, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	long_name[STATE_NAME_MAX] = '\0';
	mkpair(st, long_name, "y");
	T_EQ_INT(state_pair_find(st, STATE_FAR, "", &p, &err), -1);
	state_close(st);
}

static void
test_pair_delete_cascades(void)
{
	struct state *st = open_ok(":memory:");
	struct state_pending pd = {0};
	struct err err = {0};
	int64_t a = mkpair(st, "a", "a"), b = mkpair(st, "b", "b");
	uint64_t n;

	addmsg(st, a, 1, 1, "fp1");
	addmsg(st, b, 1, 1, "fp1");
	pd.pair = a;
	pd.dest = STATE_NEAR;
	pd.source_uid = 2;
	pd.fp = (const unsigned char *)"fp2";
	pd.fp_len = 3;
	T_EQ_INT(state_pending_add(st, &pd, NULL, &err), 0);
	T_EQ_INT(
	    state_failure_record(st, a, STATE_FAR, 3, "fetch", "x", NULL, &err),
	    0);
	T_EQ_INT(state_pair_delete(st, a, &err), 0);
	T_EQ_INT(count_msgs(st, 0), 1);
	T_EQ_INT(count_msgs(st, b), 1);
	T_EQ_INT(state_pending_count(st, 0, &n, &err), 0);
	T_EQ_INT(n, 0);
	T_EQ_INT(state_failure_count(st, 0, &n, &err), 0);
	T_EQ_INT(n, 0);
	state_close(st);
}

static void
test_msg_roundtrip(void)
{
	struct state *st = open_ok(":memory:");
	static const unsigned char fp[] = {0x01, 0x00, 0xfe, 0x7f};
	struct state_msg m = {0}, r;
	struct err err = {0};
	int64_t p = mkpair(st, "INBOX", "INBOX"), id;

	m.pair = p;
	m.uid[STATE_FAR] = 10;
	m.uid[STATE_NEAR] = 4294967295u;
	m.flags = "$Forwarded \\Flagged \\Seen";
	m.size = 5000000000ull;
	m.internaldate = 1700000123;
	m.fp = fp;
	m.fp_len = sizeof(fp);
	m.objid[STATE_FAR] = "M6d99ac3275bb4e";
	T_EQ_INT(state_msg_add(st, &m, &id, &err), 0);
	T_ASSERT(id > 0);

	T_EQ_INT(state_msg_find(st, p, STATE_FAR, 10, &r, &err), 1);
	T_EQ_INT(r.id, id);
	T_EQ_INT(r.pair, p);
	T_EQ_INT(r.uid[STATE_FAR], 10);
	T_EQ_INT(r.uid[STATE_NEAR], 4294967295u);
	T_EQ_STR(r.flags, "$Forwarded \\Flagged \\Seen");
	T_EQ_INT(r.size, 5000000000ull);
	T_EQ_INT(r.internaldate, 1700000123);
	T_EQ_MEM(r.fp, r.fp_len, fp, sizeof(fp));
	T_EQ_STR(r.objid[STATE_FAR], "M6d99ac3275bb4e");
	T_ASSERT(r.objid[STATE_NEAR] == NULL);
	T_EQ_INT(state_msg_find(st, p, STATE_NEAR, 4294967295u, &r, &err), 1);
	T_EQ_INT(r.id, id);
	T_EQ_INT(state_msg_find(st, p, STATE_NEAR, 10, &r, &err), 0);
	T_EQ_INT(state_msg_find(st, p + 1, STATE_FAR, 10, &r, &err), 0);

	T_EQ_INT(state_msg_set_flags(st, id, "\\Answered", &err), 0);
	T_EQ_INT(state_msg_find(st, p, STATE_FAR, 10, &r, &err), 1);
	T_EQ_STR(r.flags, "\\Answered");
	T_EQ_INT(state_msg_set_flags(st, id, NULL, &err), 0);
	T_EQ_INT(state_msg_find(st, p, STATE_FAR, 10, &r, &err), 1);
	T_EQ_STR(r.flags, "");
	T_EQ_INT(state_msg_set_flags(st, id + 100, "", &err), -1);

	addmsg(st, p, 11, 7, NULL);
	T_EQ_INT(state_msg_find(st, p, STATE_FAR, 11, &r, &err), 1);
	T_ASSERT(r.fp == NULL);
	T_EQ_INT(r.fp_len, 0);
	T_EQ_INT(count_msgs(st, p), 2);
	T_EQ_INT(state_msg_delete(st, p, STATE_FAR, 10, &err), 0);
	T_EQ_INT(state_msg_delete(st, p, STATE_FAR, 10, &err), 0);
	T_EQ_INT(count_msgs(st, p), 1);
	T_EQ_INT(state_msg_delete(st, p, STATE_NEAR, 7, &err), 0);
	T_EQ_INT(count_msgs(st, p), 0);
	id = addmsg(st, p, 12, 8, NULL);
	T_EQ_INT(state_msg_delete_id(st, id, &err), 0);
	T_EQ_INT(count_msgs(st, 0), 0);
	/* Ids are never reused. */
	T_ASSERT(addmsg(st, p, 12, 8, NULL) > id);
	state_close(st);
}

struct collect {
	uint32_t far[16];
	uint32_t near[16];
	int n;
	int stop_after;
};

static int
collect_msg(void *arg, const struct state_msg *m, struct err *err)
{
	struct collect *c = arg;

	(void)err;
	c->far[c->n] = m->uid[STATE_FAR];
	c->near[c->n] = m->uid[STATE_NEAR];
	c->n++;
	return c->n == c->stop_after ? 1 : 0;
}

static void
test_msg_foreach_order(void)
{
	struct state *st = open_ok(":memory:");
	struct collect c = {0};
	struct err err = {0};
	int64_t p = mkpair(st, "a", "a"), q = mkpair(st, "b", "b");

	addmsg(st, p, 30, 1, NULL);
	addmsg(st, p, 10, 3, NULL);
	addmsg(st, p, 20, 2, NULL);
	addmsg(st, q, 5, 5, NULL);
	T_EQ_INT(state_msg_foreach(st, p, STATE_FAR, collect_msg, &c, &err), 0);
	T_EQ_INT(c.n, 3);
	T_EQ_INT(c.far[0], 10);
	T_EQ_INT(c.far[1], 20);
	T_EQ_INT(c.far[2], 30);
	memset(&c, 0, sizeof(c));
	T_EQ_INT(
	    state_msg_foreach(st, p, STATE_NEAR, collect_msg, &c, &err), 0);
	T_EQ_INT(c.n, 3);
	T_EQ_INT(c.near[0], 1);
	T_EQ_INT(c.far[0], 30);
	T_EQ_INT(c.near[2], 3);
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	T_EQ_INT(state_msg_foreach(st, p, STATE_FAR, collect_msg, &c, &err), 0);
	T_EQ_INT(c.n, 2);
	/* The statement was reset: it runs again. */
	memset(&c, 0, sizeof(c));
	T_EQ_INT(state_msg_foreach(st, q, STATE_FAR, collect_msg, &c, &err), 0);
	T_EQ_INT(c.n, 1);
	T_EQ_INT(count_msgs(st, 0), 4);
	state_close(st);
}

/* The rows a partial pass loads, and the UIDs a scan is told it knows. */
static void
test_msg_some_and_uids(void)
{
	static const uint32_t far[] = {20, 99}, near[] = {3};
	const uint32_t *const uids[2] = {far, near};
	const size_t n[2] = {2, 1};
	struct state *st = open_ok(":memory:");
	struct collect c = {0};
	struct err err = {0};
	int64_t p = mkpair(st, "a", "a"), q = mkpair(st, "b", "b");
	uint32_t *v;
	size_t nv;

	addmsg(st, p, 10, 1, NULL);
	addmsg(st, p, 20, 2, NULL);
	addmsg(st, p, 30, 3, NULL);
	/* Known on far only, then on near only. */
	T_EQ_INT(state_msg_forget_side(
		     st, addmsg(st, p, 40, 4, NULL), STATE_NEAR, &err),
	    0);
	T_EQ_INT(state_msg_forget_side(
		     st, addmsg(st, p, 50, 5, NULL), STATE_FAR, &err),
	    0);
	addmsg(st, q, 20, 3, NULL);
	T_EQ_INT(
	    state_msg_foreach_some(st, p, uids, n, collect_msg, &c, &err), 0);
	/* The one-sided rows first, then far 20, then near 3; 99 is none. */
	T_EQ_INT(c.n, 4);
	T_ASSERT((c.far[0] == 40 && c.near[1] == 5) ||
		 (c.far[1] == 40 && c.near[0] == 5));
	T_EQ_INT(c.far[2], 20);
	T_EQ_INT(c.near[2], 2);
	T_EQ_INT(c.far[3], 30);
	T_EQ_INT(c.near[3], 3);
	T_EQ_INT(state_msg_uids(st, p, STATE_FAR, &v, &nv, &err), 0);
	T_EQ_INT(nv, 4);
	T_EQ_INT(v[0], 10);
	T_EQ_INT(v[3], 40);
	free(v);
	T_EQ_INT(state_msg_uids(st, p, STATE_NEAR, &v, &nv, &err), 0);
	T_EQ_INT(nv, 4);
	T_EQ_INT(v[0], 1);
	T_EQ_INT(v[3], 5);
	free(v);
	state_close(st);
}

static void
test_msg_uid_unique(void)
{
	struct state *st = open_ok(":memory:");
	struct state_msg m = {0};
	struct err err = {0};
	int64_t p = mkpair(st, "a", "a"), q = mkpair(st, "b", "b");

	addmsg(st, p, 1, 1, NULL);
	m.pair = p;
	m.uid[STATE_FAR] = 1;
	m.uid[STATE_NEAR] = 2;
	T_EQ_INT(state_msg_add(st, &m, NULL, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	T_ASSERT(strstr(err.msg, "far UID 1 = near UID 2"));
	m.uid[STATE_FAR] = 2;
	m.uid[STATE_NEAR] = 1;
	T_EQ_INT(state_msg_add(st, &m, NULL, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	m.uid[STATE_NEAR] = 0;
	T_EQ_INT(state_msg_add(st, &m, NULL, &err), -1);
	T_EQ_INT(err.kind, ERR_MSG);
	/* The same UIDs in another pair are another message. */
	addmsg(st, q, 1, 1, NULL);
	/* A pair that does not exist. */
	m.pair = 999;
	m.uid[STATE_NEAR] = 5;
	T_EQ_INT(state_msg_add(st, &m, NULL, &err), -1);
	T_EQ_INT(count_msgs(st, p), 1);
	T_EQ_INT(count_msgs(st, 0), 2);
	state_close(st);
}

static void
test_msg_flags_canonical(void)
{
	static const char *const good[] = {"", "\\Seen", "$Junk \\Seen",
	    "$Forwarded $Junk \\Answered \\Draft \\Flagged \\Seen", "a ab b"};
	static const char *const bad[] = {" \\Seen", "\\Seen ", "\\Seen  \\X",
	    "\\Seen \\Flagged", "\\Seen \\Seen", "a\tb", "caf\xc3\xa9", "b ab"};
	struct state *st = open_ok(":memory:");
	struct state_msg r;
	struct err err = {0};
	int64_t p = mkpair(st, "a", "a"), id = addmsg(st, p, 1, 1, NULL);
	char big[STATE_FLAGS_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		T_EQ_INT(state_msg_set_flags(st, id, good[i], &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ_INT(state_msg_set_flags(st, id, bad[i], &err), -1);
		T_EQ_INT(err.kind, ERR_MSG);
	}
	memset(big, 'k', sizeof(big));
	big[STATE_FLAGS_MAX + 1] = '\0';
	T_EQ_INT(state_msg_set_flags(st, id, big, &err), -1);
	big[STATE_FLAGS_MAX] = '\0';
	T_EQ_INT(state_msg_set_flags(st, id, big, &err), 0);
	T_EQ_INT(state_msg_find(st, p, STATE_FAR, 1, &r, &err), 1);
	T_EQ_INT(strlen(r.flags), STATE_FLAGS_MAX);
	state_close(st);
}

static void
test_msg_reset_and_repair(void)
{
	struct state *st = open_ok(":memory:");
	struct state_pending pd = {0};
	struct state_pair pr;
	struct state_msg m = {0}, r;
	struct err err = {0};
	int64_t p = mkpair(st, "a", "a"), row1, row2, row3;
	uint64_t n;

	T_EQ_INT(state_pair_get(st, p, &pr, &err), 1);
	pr.marks[STATE_FAR] = (struct state_marks){5, 4, 9, 3};
	pr.marks[STATE_NEAR] = (struct state_marks){6, 104, 0, 3};
	T_EQ_INT(state_pair_update(st, &pr, &err), 0);
	state_pair_release(&pr);
	m.pair = p;
	m.uid[STATE_FAR] = 1;
	m.uid[STATE_NEAR] = 101;
	m.flags = "\\Seen";
	m.fp = (const unsigned char *)"A";
	m.fp_len = 1;
	m.objid[STATE_FAR] = "E1";
	T_EQ_INT(state_msg_add(st, &m, &row1, &err), 0);
	row2 = addmsg(st, p, 2, 99, "A");
	row3 = addmsg(st, p, 3, 102, "B");
	pd.pair = p;
	pd.dest = STATE_NEAR;
	pd.source_uid = 4;
	pd.fp = (const unsigned char *)"C";
	pd.fp_len = 1;
	T_EQ_INT(state_pending_add(st, &pd, NULL, &err), 0);
	T_EQ_INT(
	    state_failure_record(st, p, STATE_FAR, 9, "fetch", "", NULL, &err),
	    0);
	T_EQ_INT(
	    state_failure_record(st, p, STATE_NEAR, 9, "fetch", "", NULL, &err),
	    0);

	T_EQ_INT(state_msg_reset_side(st, p, STATE_FAR, 777, &err), 0);
	T_EQ_INT(state_pair_get(st, p, &pr, &err), 1);
	T_EQ_INT(pr.marks[STATE_FAR].uidvalidity, 777);
	T_EQ_INT(pr.marks[STATE_FAR].uidnext, 0);
	T_EQ_INT(pr.marks[STATE_FAR].modseq, 0);
	T_EQ_INT(pr.marks[STATE_FAR].messages, 3);
	T_EQ_INT(pr.marks[STATE_NEAR].uidnext, 104);
	state_pair_release(&pr);
	T_EQ_INT(count_msgs(st, p), 3);
	T_EQ_INT(state_msg_find(st, p, STATE_FAR, 1, &r, &err), 0);
	T_EQ_INT(state_msg_find(st, p, STATE_NEAR, 101, &r, &err), 1);
	T_EQ_INT(r.uid[STATE_FAR], 0);
	T_EQ_STR(r.flags, "\\Seen");
	T_EQ_INT(state_pending_count(st, p, &n, &err), 0);
	T_EQ_INT(n, 0);
	T_EQ_INT(state_failure_count(st, p, &n, &err), 0);
	T_EQ_INT(n, 1);

	/* Of two with one fingerprint, the lowest UID on the other side. */
	T_EQ_INT(state_msg_find_fp(st, p, STATE_FAR, "A", 1, &r, &err), 1);
	T_EQ_INT(r.id, row2);
	T_EQ_INT(r.uid[STATE_NEAR], 99);

	/* Re-pair: by object id first, then by fingerprint. */
	T_EQ_INT(state_msg_find_objid(st, p, STATE_FAR, "E1", &r, &err), 1);
	T_EQ_INT(r.id, row1);
	T_EQ_INT(state_msg_set_uid(st, row1, STATE_FAR, 50, NULL, &err), 0);
	T_EQ_INT(state_msg_find_objid(st, p, STATE_FAR, "E1", &r, &err), 0);
	T_EQ_INT(state_msg_find(st, p, STATE_FAR, 50, &r, &err), 1);
	T_EQ_STR(r.objid[STATE_FAR], "E1");
	T_EQ_INT(state_msg_find_fp(st, p, STATE_FAR, "A", 1, &r, &err), 1);
	T_EQ_INT(r.id, row2);
	T_EQ_INT(state_msg_set_uid(st, row2, STATE_FAR, 50, NULL, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	T_EQ_INT(state_msg_set_uid(st, row2, STATE_FAR, 51, "E2", &err), 0);
	T_EQ_INT(state_msg_find_fp(st, p, STATE_FAR, "A", 1, &r, &err), 0);
	T_EQ_INT(state_msg_find_fp(st, p, STATE_FAR, "B", 1, &r, &err), 1);
	T_EQ_INT(r.id, row3);
	T_EQ_INT(state_msg_find_fp(st, p, STATE_FAR, "", 0, &r, &err), -1);
	T_EQ_INT(state_msg_set_uid(st, 9999, STATE_FAR, 52, NULL, &err), -1);

	/* Now the near side: row3 has no UID left at all and goes. */
	T_EQ_INT(state_msg_reset_side(st, p, STATE_NEAR, 888, &err), 0);
	T_EQ_INT(count_msgs(st, p), 2);
	T_EQ_INT(state_msg_find(st, p, STATE_FAR, 51, &r, &err), 1);
	T_EQ_INT(r.uid[STATE_NEAR], 0);
	T_EQ_STR(r.objid[STATE_FAR], "E2");
	T_EQ_INT(state_failure_count(st, p, &n, &err), 0);
	T_EQ_INT(n, 0);
	T_EQ_INT(state_msg_reset_side(st, 9999, STATE_NEAR, 1, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	state_close(st);
}

static void
test_transactions(void)
{
	struct state *st = open_ok(":memory:");
	struct state_pair p;
	struct err err = {0};

	T_EQ_INT(state_rollback(st, &err), 0);
	T_EQ_INT(state_commit(st, &err), -1);
	T_EQ_INT(state_begin(st, &err), 0);
	T_ASSERT(state_in_transaction(st));
	T_EQ_INT(state_begin(st, &err), -1);
	mkpair(st, "a", "a");
	T_EQ_INT(state_rollback(st, &err), 0);
	T_ASSERT(!state_in_transaction(st));
	T_EQ_INT(state_pair_find(st, STATE_FAR, "a", &p, &err), 0);

	T_EQ_INT(state_begin(st, &err), 0);
	mkpair(st, "a", "a");
	/* A failing call inside undoes only itself. */
	T_EQ_INT(state_pair_get_or_create(st, "a", "b", &p, &err), -1);
	T_ASSERT(state_in_transaction(st));
	mkpair(st, "c", "c");
	T_EQ_INT(state_commit(st, &err), 0);
	T_EQ_INT(state_pair_find(st, STATE_FAR, "a", &p, &err), 1);
	state_pair_release(&p);
	T_EQ_INT(state_pair_find(st, STATE_FAR, "c", &p, &err), 1);
	state_pair_release(&p);
	state_close(st);
}

static void
test_close_rolls_back(void)
{
	char path[4096];
	struct state *st;
	struct state_pair p;
	struct err err = {0};

	tpath(path, sizeof(path), "rb.db");
	st = open_ok(path);
	mkpair(st, "kept", "kept");
	T_EQ_INT(state_begin(st, &err), 0);
	mkpair(st, "lost", "lost");
	state_close(st);
	st = open_ok(path);
	T_EQ_INT(state_pair_find(st, STATE_FAR, "kept", &p, &err), 1);
	state_pair_release(&p);
	T_EQ_INT(state_pair_find(st, STATE_FAR, "lost", &p, &err), 0);
	state_close(st);
}

/* In a child: try to open path; exit 0 if refused naming pid. */
static int
child_expect_locked(const char *path, long pid)
{
	struct state *st = NULL;
	struct err err = {0};
	char want[64];

	alarm(10); /* "at once": never wait for the lock */
	if (state_open(path, &st, &err) == 0)
		return 2;
	snprintf(want, sizeof(want), "(pid %ld)", pid);
	if (err.kind != ERR_LOCK || strstr(err.msg, want) == NULL ||
	    strstr(err.msg, "in use by another ferry run") == NULL)
		return 3;
	return 0;
}

/* In a child: open path and find the pair the parent made. */
static int
child_expect_open(const char *path)
{
	struct state *st = NULL;
	struct state_pair p;
	struct err err = {0};
	int r;

	alarm(10);
	if (state_open(path, &st, &err) < 0)
		return 4;
	r = state_pair_find(st, STATE_FAR, "INBOX", &p, &err);
	if (r == 1)
		state_pair_release(&p);
	state_close(st);
	return r == 1 ? 0 : 5;
}

static int
run_child(int (*fn)(const char *, long), const char *path, long arg)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0)
		_exit(fn(path, arg));
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_ASSERT(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int
child_open(const char *path, long unused)
{
	(void)unused;
	return child_expect_open(path);
}

static void
test_lock_other_process(void)
{
	char path[4096];
	struct state *st, *st2 = NULL;
	struct err err = {0};

	tpath(path, sizeof(path), "lock.db");
	st = open_ok(path);
	mkpair(st, "INBOX", "INBOX");
	T_EQ_INT(run_child(child_expect_locked, path, (long)getpid()), 0);
	/* A second open in this process is refused just the same. */
	T_EQ_INT(state_open(path, &st2, &err), -1);
	T_EQ_INT(err.kind, ERR_LOCK);
	T_ASSERT(st2 == NULL);
	state_close(st);
	T_EQ_INT(run_child(child_open, path, 0), 0);
	/* And back here once the child is done. */
	st = open_ok(path);
	state_close(st);
}

static void
test_pending_roundtrip(void)
{
	struct state *st = open_ok(":memory:");
	struct state_pending pd = {0};
	struct err err = {0};
	int64_t p = mkpair(st, "a", "a"), q = mkpair(st, "b", "b"), id1, id2;
	uint64_t n;

	pd.pair = p;
	pd.dest = STATE_NEAR;
	pd.source_uid = 42;
	pd.fp = (const unsigned char *)"fingerprint-1";
	pd.fp_len = 13;
	pd.dest_uidnext = 1000;
	T_EQ_INT(state_pending_add(st, &pd, &id1, &err), 0);
	T_EQ_INT(state_pending_add(st, &pd, NULL, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	pd.dest = STATE_FAR; /* the other direction is another intent */
	pd.source_uid = 42;
	pd.dest_uidnext = 7;
	T_EQ_INT(state_pending_add(st, &pd, &id2, &err), 0);
	T_ASSERT(id2 > id1);
	pd.pair = q;
	T_EQ_INT(state_pending_add(st, &pd, NULL, &err), 0);
	pd.fp_len = 0;
	T_EQ_INT(state_pending_add(st, &pd, NULL, &err), -1);
	T_EQ_INT(err.kind, ERR_MSG);
	pd.fp_len = STATE_FP_MAX + 1;
	T_EQ_INT(state_pending_add(st, &pd, NULL, &err), -1);
	pd.fp_len = 3;
	pd.source_uid = 0;
	T_EQ_INT(state_pending_add(st, &pd, NULL, &err), -1);
	pd.pair = 999;
	pd.source_uid = 1;
	T_EQ_INT(state_pending_add(st, &pd, NULL, &err), -1);

	T_EQ_INT(state_pending_count(st, p, &n, &err), 0);
	T_EQ_INT(n, 2);
	T_EQ_INT(state_pending_count(st, 0, &n, &err), 0);
	T_EQ_INT(n, 3);
	T_EQ_INT(state_pending_remove(st, id1, &err), 0);
	T_EQ_INT(state_pending_remove(st, id1, &err), 0);
	T_EQ_INT(state_pending_count(st, p, &n, &err), 0);
	T_EQ_INT(n, 1);
	state_close(st);
}

struct pend_seen {
	struct state_pending p[4];
	unsigned char fp[4][STATE_FP_MAX];
	int n;
};

static int
collect_pending(void *arg, const struct state_pending *p, struct err *err)
{
	struct pend_seen *s = arg;

	(void)err;
	if (s->n == 4)
		return -1;
	s->p[s->n] = *p;
	memcpy(s->fp[s->n], p->fp, p->fp_len);
	s->p[s->n].fp = s->fp[s->n];
	s->n++;
	return 0;
}

static void
test_pending_survives_reopen(void)
{
	char path[4096];
	struct state *st;
	struct state_pending pd = {0};
	struct pend_seen seen = {0};
	struct err err = {0};
	int64_t p, id;

	tpath(path, sizeof(path), "pend.db");
	st = open_ok(path);
	p = mkpair(st, "INBOX", "INBOX");
	pd.pair = p;
	pd.dest = STATE_FAR;
	pd.source_uid = 9;
	pd.fp = (const unsigned char *)"\x00\x01xyz";
	pd.fp_len = 5;
	pd.dest_uidnext = 300;
	T_EQ_INT(state_pending_add(st, &pd, &id, &err), 0);
	state_close(st);

	st = open_ok(path);
	T_EQ_INT(state_pending_foreach(st, p, collect_pending, &seen, &err), 0);
	T_EQ_INT(seen.n, 1);
	T_EQ_INT(seen.p[0].id, id);
	T_EQ_INT(seen.p[0].pair, p);
	T_EQ_INT(seen.p[0].dest, STATE_FAR);
	T_EQ_INT(seen.p[0].source_uid, 9);
	T_EQ_MEM(seen.p[0].fp, seen.p[0].fp_len, "\x00\x01xyz", 5);
	T_EQ_INT(seen.p[0].dest_uidnext, 300);
	T_ASSERT(seen.p[0].created > 1600000000);
	state_close(st);
}

/*
 * In a child: add one intent on its own and one in a transaction that is
 * never committed, then die without closing anything (as kill -9 would).
 */
static int
child_crash(const char *path, long pair)
{
	struct state *st = NULL;
	struct state_pending pd = {0};
	struct err err = {0};

	if (state_open(path, &st, &err) < 0)
		return 6;
	pd.pair = pair;
	pd.dest = STATE_NEAR;
	pd.source_uid = 1;
	pd.fp = (const unsigned char *)"durable";
	pd.fp_len = 7;
	if (state_pending_add(st, &pd, NULL, &err) < 0)
		return 7;
	pd.source_uid = 2;
	pd.fp = (const unsigned char *)"lost";
	pd.fp_len = 4;
	if (state_begin(st, &err) < 0 ||
	    state_pending_add(st, &pd, NULL, &err) < 0)
		return 8;
	_exit(0);
}

static void
test_pending_survives_crash(void)
{
	char path[4096];
	struct state *st;
	struct pend_seen seen = {0};
	struct err err = {0};
	int64_t p;

	tpath(path, sizeof(path), "crash.db");
	st = open_ok(path);
	p = mkpair(st, "INBOX", "INBOX");
	state_close(st);
	T_EQ_INT(run_child(child_crash, path, (long)p), 0);
	st = open_ok(path);
	T_EQ_INT(state_pending_foreach(st, 0, collect_pending, &seen, &err), 0);
	T_EQ_INT(seen.n, 1);
	T_EQ_INT(seen.p[0].source_uid, 1);
	T_EQ_MEM(seen.p[0].fp, seen.p[0].fp_len, "durable", 7);
	T_EQ_INT(state_check(st, &err), 0);
	state_close(st);
}

struct fail_seen {
	char kind[4][STATE_KIND_MAX + 1];
	char error[4][STATE_ERROR_MAX + 1];
	struct state_failure f[4];
	int n;
};

static int
collect_failure(void *arg, const struct state_failure *f, struct err *err)
{
	struct fail_seen *s = arg;

	(void)err;
	if (s->n == 4)
		return -1;
	s->f[s->n] = *f;
	snprintf(s->kind[s->n], sizeof(s->kind[0]), "%s", f->kind);
	snprintf(s->error[s->n], sizeof(s->error[0]), "%s", f->error);
	s->n++;
	return 0;
}

static void
test_failures(void)
{
	struct state *st = open_ok(":memory:");
	struct fail_seen seen = {0};
	struct err err = {0};
	int64_t p = mkpair(st, "a", "a"), q = mkpair(st, "b", "b");
	char longtext[STATE_ERROR_MAX + 40];
	uint32_t attempts = 0;
	uint64_t n;

	T_EQ_INT(state_failure_record(st, p, STATE_FAR, 5, "fetch",
		     "NO [UNAVAILABLE] try later", &attempts, &err),
	    0);
	T_EQ_INT(attempts, 1);
	T_EQ_INT(state_failure_record(st, p, STATE_FAR, 5, "fetch",
		     "connection reset", &attempts, &err),
	    0);
	T_EQ_INT(attempts, 2);
	T_EQ_INT(state_failure_record(
		     st, p, STATE_FAR, 5, "too-big", NULL, &attempts, &err),
	    0);
	T_EQ_INT(attempts, 1);
	T_EQ_INT(state_failure_record(
		     st, q, STATE_NEAR, 5, "append", "x", NULL, &err),
	    0);
	T_EQ_INT(state_failure_record(
		     st, p, STATE_FAR, 5, "has space", "x", NULL, &err),
	    -1);
	T_EQ_INT(err.kind, ERR_MSG);
	T_EQ_INT(
	    state_failure_record(st, p, STATE_FAR, 5, "", "x", NULL, &err), -1);

	T_EQ_INT(state_failure_foreach(st, p, collect_failure, &seen, &err), 0);
	T_EQ_INT(seen.n, 2);
	T_EQ_STR(seen.kind[0], "fetch");
	T_EQ_INT(seen.f[0].attempts, 2);
	T_EQ_STR(seen.error[0], "connection reset");
	T_EQ_INT(seen.f[0].side, STATE_FAR);
	T_EQ_INT(seen.f[0].uid, 5);
	T_ASSERT(seen.f[0].first_seen > 1600000000);
	T_ASSERT(seen.f[0].first_seen <= seen.f[0].last_seen);
	T_EQ_STR(seen.kind[1], "too-big");
	T_EQ_STR(seen.error[1], "");
	T_EQ_INT(state_failure_count(st, 0, &n, &err), 0);
	T_EQ_INT(n, 3);

	T_EQ_INT(state_failure_clear(st, p, STATE_FAR, 5, "fetch", &err), 0);
	T_EQ_INT(state_failure_count(st, p, &n, &err), 0);
	T_EQ_INT(n, 1);
	T_EQ_INT(state_failure_clear(st, q, STATE_NEAR, 5, NULL, &err), 0);
	T_EQ_INT(state_failure_count(st, 0, &n, &err), 0);
	T_EQ_INT(n, 1);

	/* Long text is cut, and never inside a UTF-8 character. */
	memset(longtext, 'x', sizeof(longtext));
	longtext[STATE_ERROR_MAX - 1] = '\xc3';
	longtext[STATE_ERROR_MAX] = '\xa9';
	longtext[sizeof(longtext) - 1] = '\0';
	T_EQ_INT(state_failure_record(
		     st, q, STATE_FAR, 1, "fetch", longtext, NULL, &err),
	    0);
	memset(&seen, 0, sizeof(seen));
	T_EQ_INT(state_failure_foreach(st, q, collect_failure, &seen, &err), 0);
	T_EQ_INT(seen.n, 1);
	T_EQ_INT(strlen(seen.error[0]), STATE_ERROR_MAX - 1);
	state_close(st);
}

struct md_seen {
	uint32_t uid[8];
	char base[8][STATE_BASE_MAX + 1];
	int n;
};

static int
collect_md(void *arg, uint32_t uid, const char *base, struct err *err)
{
	struct md_seen *s = arg;

	(void)err;
	if (s->n == 8)
		return -1;
	s->uid[s->n] = uid;
	snprintf(s->base[s->n], sizeof(s->base[0]), "%s", base);
	s->n++;
	return 0;
}

static void
test_maildir_identity(void)
{
	struct state *st = open_ok(":memory:");
	struct state_mdfolder f, g, h;
	struct md_seen seen = {0};
	struct err err = {0};
	char base[STATE_BASE_MAX + 2];
	uint32_t uid;

	T_EQ_INT(state_maildir_folder(st, "INBOX", &f, &err), 0);
	T_ASSERT(f.id > 0);
	T_ASSERT(f.uidvalidity > 1600000000u);
	T_EQ_INT(f.uidnext, 1);
	T_EQ_INT(state_maildir_folder(st, "INBOX", &g, &err), 0);
	T_EQ_INT(g.id, f.id);
	T_EQ_INT(g.uidvalidity, f.uidvalidity);
	T_EQ_INT(state_maildir_folder(st, "Sent", &g, &err), 0);
	T_ASSERT(g.id != f.id);
	T_ASSERT(g.uidvalidity > f.uidvalidity);

	T_EQ_INT(
	    state_maildir_assign(st, f.id, "1700000000.M1P2.host", &uid, &err),
	    0);
	T_EQ_INT(uid, 1);
	T_EQ_INT(state_maildir_assign(st, f.id, "b", &uid, &err), 0);
	T_EQ_INT(uid, 2);
	T_EQ_INT(
	    state_maildir_assign(st, f.id, "1700000000.M1P2.host", &uid, &err),
	    0);
	T_EQ_INT(uid, 1);
	T_EQ_INT(state_maildir_assign(st, g.id, "b", &uid, &err), 0);
	T_EQ_INT(uid, 1);
	T_EQ_INT(state_maildir_lookup(st, f.id, "b", &uid, &err), 1);
	T_EQ_INT(uid, 2);
	T_EQ_INT(state_maildir_lookup(st, f.id, "nope", &uid, &err), 0);
	T_EQ_INT(state_maildir_base(st, f.id, 2, base, sizeof(base), &err), 1);
	T_EQ_STR(base, "b");
	T_EQ_INT(state_maildir_base(st, f.id, 1, base, 4, &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	T_EQ_INT(state_maildir_base(st, f.id, 9, base, sizeof(base), &err), 0);
	T_EQ_INT(state_maildir_folder_get(st, f.id, &h, &err), 1);
	T_EQ_INT(h.uidnext, 3);
	T_EQ_INT(state_maildir_folder_get(st, 9999, &h, &err), 0);
	T_EQ_INT(state_maildir_foreach(st, f.id, collect_md, &seen, &err), 0);
	T_EQ_INT(seen.n, 2);
	T_EQ_INT(seen.uid[0], 1);
	T_EQ_STR(seen.base[0], "1700000000.M1P2.host");
	T_EQ_STR(seen.base[1], "b");

	/* Forgotten UIDs are never handed out again. */
	T_EQ_INT(state_maildir_forget(st, f.id, 1, &err), 0);
	T_EQ_INT(
	    state_maildir_lookup(st, f.id, "1700000000.M1P2.host", &uid, &err),
	    0);
	T_EQ_INT(
	    state_maildir_assign(st, f.id, "1700000000.M1P2.host", &uid, &err),
	    0);
	T_EQ_INT(uid, 3);

	/* Bad base names. */
	T_EQ_INT(state_maildir_assign(st, f.id, "a/b", &uid, &err), -1);
	T_EQ_INT(err.kind, ERR_MSG);
	T_EQ_INT(state_maildir_assign(st, f.id, "", &uid, &err), -1);
	memset(base, 'n', sizeof(base));
	base[STATE_BASE_MAX + 1] = '\0';
	T_EQ_INT(state_maildir_assign(st, f.id, base, &uid, &err), -1);
	T_EQ_INT(state_maildir_assign(st, 9999, "z", &uid, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	state_close(st);
}

static void
test_maildir_folder_set_reset(void)
{
	struct state *st = open_ok(":memory:");
	struct state_mdfolder f, g;
	struct md_seen seen = {0};
	struct err err = {0};
	uint32_t uid;

	T_EQ_INT(state_maildir_folder(st, "INBOX", &f, &err), 0);
	T_EQ_INT(state_maildir_assign(st, f.id, "a", &uid, &err), 0);
	T_EQ_INT(state_maildir_assign(st, f.id, "b", &uid, &err), 0);
	T_EQ_INT(
	    state_maildir_folder_set(st, f.id, f.uidvalidity, 2, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	T_EQ_INT(
	    state_maildir_folder_set(st, f.id, f.uidvalidity + 5, 10, &err),
	    -1);
	T_EQ_INT(state_maildir_folder_set(st, f.id, 0, 10, &err), -1);
	T_EQ_INT(state_maildir_folder_set(st, 9999, 1, 10, &err), -1);
	T_EQ_INT(
	    state_maildir_folder_set(st, f.id, f.uidvalidity, 10, &err), 0);
	T_EQ_INT(state_maildir_assign(st, f.id, "c", &uid, &err), 0);
	T_EQ_INT(uid, 10);

	T_EQ_INT(state_maildir_folder_reset(st, f.id, &g, &err), 0);
	T_EQ_INT(g.id, f.id);
	T_ASSERT(g.uidvalidity > f.uidvalidity);
	T_EQ_INT(g.uidnext, 1);
	T_EQ_INT(state_maildir_foreach(st, f.id, collect_md, &seen, &err), 0);
	T_EQ_INT(seen.n, 0);
	/* With no UIDs left, the UIDVALIDITY may be set (an import). */
	T_EQ_INT(state_maildir_folder_set(st, f.id, 12345, 77, &err), 0);
	T_EQ_INT(state_maildir_assign(st, f.id, "a", &uid, &err), 0);
	T_EQ_INT(uid, 77);

	/* The top of the UID space. */
	T_EQ_INT(
	    state_maildir_folder_set(st, f.id, 12345, UINT32_MAX - 1, &err), 0);
	T_EQ_INT(state_maildir_assign(st, f.id, "top", &uid, &err), 0);
	T_EQ_INT(uid, UINT32_MAX - 1);
	T_EQ_INT(state_maildir_assign(st, f.id, "over", &uid, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	T_ASSERT(strstr(err.msg, "used up"));
	T_EQ_INT(
	    state_maildir_folder_set(st, f.id, 12345, UINT32_MAX, &err), -1);

	T_EQ_INT(state_maildir_folder_delete(st, "INBOX", &err), 0);
	T_EQ_INT(state_maildir_folder_get(st, f.id, &g, &err), 0);
	T_EQ_INT(state_maildir_lookup(st, f.id, "top", &uid, &err), 0);
	T_EQ_INT(state_maildir_folder(st, "INBOX", &g, &err), 0);
	T_ASSERT(g.id != f.id);
	T_EQ_INT(state_maildir_folder_delete(st, "never", &err), 0);
	state_close(st);
}

struct reenter {
	struct state *st;
	int calls;
	int mode;
};

static int
reenter_cb(void *arg, const struct state_msg *m, struct err *err)
{
	struct reenter *r = arg;
	struct state_msg other;

	r->calls++;
	switch (r->mode) {
	case 0: /* a lookup is fine */
		if (state_msg_find(
			r->st, m->pair, STATE_NEAR, 2, &other, err) != 1)
			return -1;
		return other.uid[STATE_FAR] == 2 ? 0 : -1;
	case 1: /* a change is not */
		return state_msg_set_flags(r->st, m->id, "", err);
	case 2: /* nor running the same query again */
		return state_msg_foreach(
		    r->st, m->pair, STATE_FAR, reenter_cb, r, err);
	default:
		return state_begin(r->st, err);
	}
}

static void
test_foreach_callbacks(void)
{
	struct state *st = open_ok(":memory:");
	struct reenter r = {st, 0, 0};
	struct err err = {0};
	int64_t p = mkpair(st, "a", "a");

	addmsg(st, p, 1, 1, NULL);
	addmsg(st, p, 2, 2, NULL);
	T_EQ_INT(state_msg_foreach(st, p, STATE_FAR, reenter_cb, &r, &err), 0);
	T_EQ_INT(r.calls, 2);
	r = (struct reenter){st, 0, 1};
	T_EQ_INT(state_msg_foreach(st, p, STATE_FAR, reenter_cb, &r, &err), -1);
	T_EQ_INT(r.calls, 1);
	T_ASSERT(strstr(err.msg, "inside a foreach callback"));
	r = (struct reenter){st, 0, 2};
	T_EQ_INT(state_msg_foreach(st, p, STATE_FAR, reenter_cb, &r, &err), -1);
	T_ASSERT(strstr(err.msg, "already running"));
	r = (struct reenter){st, 0, 3};
	T_EQ_INT(state_msg_foreach(st, p, STATE_FAR, reenter_cb, &r, &err), -1);
	/* Everything still works afterwards. */
	T_EQ_INT(state_msg_set_flags(st, 1, "\\Deleted", &err), 0);
	r = (struct reenter){st, 0, 0};
	T_EQ_INT(state_msg_foreach(st, p, STATE_NEAR, reenter_cb, &r, &err), 0);
	T_EQ_INT(r.calls, 2);
	state_close(st);
}

static void
test_migrate_from_empty_file(void)
{
	char path[4096];
	struct state *st;
	struct err err = {0};

	/* A zero-length file is an SQLite database of version 0. */
	tpath(path, sizeof(path), "empty.db");
	write_file(path, "", 0, 0600);
	st = open_ok(path);
	T_EQ_INT(state_schema_version(st, &err), STATE_SCHEMA_VERSION);
	mkpair(st, "INBOX", "INBOX");
	state_close(st);
	T_EQ_INT(
	    fixture_int(path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	T_EQ_INT(fixture_int(path, "PRAGMA application_id"), 0x46657279);
	T_EQ_INT(fixture_int(path, "SELECT count(*) FROM folder_pair"), 1);
}

static void
test_migrate_from_older_fixture(void)
{
	char path[4096], wal[4096];
	struct state *st;
	struct state_pair p;
	struct err err = {0};
	struct stat sb;

	/*
	 * Version 0 as another tool left it: pages written, rollback
	 * journal, odd page size, no tables.  When version 2 comes, a
	 * fixture of the version 1 schema with rows joins this one.
	 */
	tpath(path, sizeof(path), "old.db");
	tpath(wal, sizeof(wal), "old.db-wal");
	fixture(path, "PRAGMA page_size = 1024; PRAGMA journal_mode = DELETE;"
		      "CREATE TABLE scratch(x); DROP TABLE scratch;");
	T_EQ_INT(fixture_int(path, "PRAGMA user_version"), 0);
	st = open_ok(path);
	T_EQ_INT(state_schema_version(st, &err), STATE_SCHEMA_VERSION);
	mkpair(st, "INBOX", "INBOX");
	T_EQ_INT(stat(wal, &sb), 0); /* now in WAL mode */
	T_EQ_INT(state_check(st, &err), 0);
	state_close(st);

	/* Reopening a current database migrates nothing and keeps rows. */
	st = open_ok(path);
	T_EQ_INT(state_pair_find(st, STATE_FAR, "INBOX", &p, &err), 1);
	state_pair_release(&p);
	state_close(st);
	T_EQ_INT(fixture_int(path, "PRAGMA page_size"), 1024);
}

static void
test_newer_version_refused(void)
{
	char path[4096];
	struct state *st = NULL;
	struct err err = {0};

	tpath(path, sizeof(path), "future.db");
	fixture(path, "PRAGMA application_id = 1181053561;"
		      "PRAGMA user_version = 99; CREATE TABLE future(x);");
	T_EQ_INT(state_open(path, &st, &err), -1);
	T_ASSERT(st == NULL);
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_ASSERT(strstr(err.msg, "schema version 99"));
	T_ASSERT(strstr(err.msg, "newer"));
	/* Left as it was: no migration, no WAL. */
	T_EQ_INT(fixture_int(path, "PRAGMA user_version"), 99);
	T_EQ_INT(fixture_int(path,
		     "SELECT count(*) FROM sqlite_master WHERE name = 'meta'"),
	    0);
	T_EQ_INT(fixture_int(path, "SELECT count(*) FROM pragma_journal_mode "
				   "WHERE journal_mode = 'delete'"),
	    1);
	/* The lock was released: refused the same way again. */
	T_EQ_INT(state_open(path, &st, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
}

static void
test_foreign_db_refused(void)
{
	char path[4096], other[4096];
	struct state *st = NULL;
	struct err err = {0};

	tpath(path, sizeof(path), "notes.db");
	fixture(path, "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);");
	T_EQ_INT(chmod(path, 0644), 0);
	T_EQ_INT(state_open(path, &st, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_ASSERT(strstr(err.msg, "is not a ferry database or is corrupt"));
	T_ASSERT(strstr(err.msg, "notes.db"));
	/* Not ours: neither its rows nor its mode are touched. */
	T_EQ_INT(fixture_int(path, "SELECT count(*) FROM notes"), 1);
	T_EQ_INT(file_mode(path), 0644);

	tpath(other, sizeof(other), "other.db");
	fixture(other, "PRAGMA application_id = 1234;");
	T_EQ_INT(state_open(other, &st, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_ASSERT(strstr(err.msg, "is not a ferry database"));
}

static void
test_corrupt_file_refused(void)
{
	char path[4096], junk[8192];
	struct state *st = NULL;
	struct err err = {0};
	size_t i;
	int fd;

	tpath(path, sizeof(path), "garbage.db");
	write_file(path, "this is not a database\n", 23, 0600);
	T_EQ_INT(state_open(path, &st, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_ASSERT(strstr(err.msg, "is not a ferry database or is corrupt"));

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 2654435761u >> 13);
	write_file(path, junk, sizeof(junk), 0600);
	T_EQ_INT(state_open(path, &st, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);

	/* A ferry database whose data pages were overwritten. */
	tpath(path, sizeof(path), "damaged.db");
	st = open_ok(path);
	for (i = 1; i <= 200; i++)
		addmsg(st, mkpair(st, "a", "a"), (uint32_t)i, (uint32_t)i,
		    "fingerprint");
	state_close(st);
	fd = open(path, O_WRONLY);
	T_ASSERT(fd >= 0);
	for (i = 1; i < 6; i++)
		T_EQ_INT(pwrite(fd, junk, 4096, (off_t)(4096 * i)), 4096);
	close(fd);
	st = NULL;
	if (state_open(path, &st, &err) == 0) {
		T_EQ_INT(state_check(st, &err), -1);
		state_close(st);
	}
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_ASSERT(strstr(err.msg, "is not a ferry database or is corrupt"));
}

static void
test_bad_paths(void)
{
	char path[4096];
	struct state *st = NULL;
	struct err err = {0};

	tpath(path, sizeof(path), "no/such/dir/s.db");
	T_EQ_INT(state_open(path, &st, &err), -1);
	T_EQ_INT(err.kind, ERR_SYS);
	tpath(path, sizeof(path), "adir");
	T_EQ_INT(mkdir(path, 0700), 0);
	T_EQ_INT(state_open(path, &st, &err), -1);
	T_EQ_INT(err.kind, ERR_SYS);
	T_EQ_INT(state_open("", &st, &err), -1);
	T_ASSERT(st == NULL);
}

static const struct t_case cases[] = {
    {"open :memory:", test_open_memory},
    {"meta round trip", test_meta},
    {"file created 0600 with a lock naming us", test_file_created_private},
    {"existing wide file narrowed", test_existing_file_narrowed},
    {"pair round trip", test_pair_roundtrip},
    {"pair names unique per side and checked", test_pair_names},
    {"pair delete cascades", test_pair_delete_cascades},
    {"msg round trip", test_msg_roundtrip},
    {"msg foreach order", test_msg_foreach_order},
    {"rows by UID, and UIDs alone", test_msg_some_and_uids},
    {"msg uid unique per side", test_msg_uid_unique},
    {"msg flags canonical", test_msg_flags_canonical},
    {"msg reset side and re-pair", test_msg_reset_and_repair},
    {"transactions", test_transactions},
    {"close rolls back", test_close_rolls_back},
    {"lock against another process", test_lock_other_process},
    {"pending round trip", test_pending_roundtrip},
    {"pending survives reopen", test_pending_survives_reopen},
    {"pending survives a crash", test_pending_survives_crash},
    {"failures", test_failures},
    {"maildir identity", test_maildir_identity},
    {"maildir folder set and reset", test_maildir_folder_set_reset},
    {"foreach callbacks", test_foreach_callbacks},
    {"migrate from an empty file", test_migrate_from_empty_file},
    {"migrate from an older fixture", test_migrate_from_older_fixture},
    {"newer version refused", test_newer_version_refused},
    {"foreign database refused", test_foreign_db_refused},
    {"corrupt file refused", test_corrupt_file_refused},
    {"bad paths", test_bad_paths},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
