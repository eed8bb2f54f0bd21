/* SPDX-License-Identifier: ISC */
/*
 * test_maildir.c - unit tests for the Maildir driver (store/maildir.c)
 * in a scratch directory: delivery, fetch, listing and change tokens,
 * flags changed by ferry and by a mail program, UIDs that survive
 * renames and moves, duplicated base names, keywords, both layouts,
 * non-ASCII and hostile folder names, a replaced folder, expunge, and
 * folder creation, renaming and deletion.
 *
 * Each test opens a fresh store on t_tmpdir()/mail with an in-memory
 * state, drives it through the store_*() interface, and runs the loop
 * until the completion arrives (checking that it never arrives inside the
 * call).  What a "mail program" does is done here with plain file calls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/maildir.h"
#include "store/state.h"
#include "store/store.h"
#include "t.h"
#include "util/err.h"
#include "util/loop.h"

#define DATE 1700000000
#define MAXMSG 64
#define MAXFOLDER 32

struct res {
	int done;
	bool failed;
	struct err err;
	uint32_t uid;
	/* scan */
	uint32_t uidvalidity, uidnext;
	bool full, perm_keywords;
	char method[32];
	char permflags[1024];
	size_t n;
	struct {
		uint32_t uid;
		char flags[1024];
		uint64_t size;
		int64_t date;
		size_t fp_len;
		unsigned char fp[STORE_FP_LEN];
		bool flags_only;
	} m[MAXMSG];
	/* list */
	size_t nf;
	struct {
		char name[256];
		unsigned attrs;
		bool has_status;
		uint32_t uidvalidity, uidnext, messages;
		uint64_t token;
	} f[MAXFOLDER];
};

static struct {
	struct loop *loop;
	struct state *st;
	struct store *s;
	char root[PATH_MAX];
	int bodies;
} E;

/* printf into buf (PATH_MAX bytes). */
static char *__attribute__((format(printf, 2, 3)))
P(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	T_ASSERT(n > 0 && n < PATH_MAX);
	return buf;
}

static void
open_env(enum maildir_layout layout)
{
	struct maildir_opts o;
	struct err err = {0};

	memset(&E, 0, sizeof(E));
	P(E.root, "%s/mail", t_tmpdir());
	E.loop = loop_new();
	T_EQ_INT(state_open(":memory:", &E.st, &err), 0);
	maildir_opts_init(&o);
	o.path = E.root;
	o.layout = layout;
	o.state = E.st;
	o.create = true;
	E.s = maildir_store_new(E.loop, "test", &o, &err);
	T_ASSERT(E.s != NULL);
	T_EQ_STR(store_kind(E.s), "maildir");
	if (store_connect(E.s, &err) < 0)
		t_fail(__FILE__, __LINE__, "connect: %s", err.msg);
}

static void
close_env(void)
{
	store_free(E.s);
	state_close(E.st);
	loop_free(E.loop);
	memset(&E, 0, sizeof(E));
}

/* Run the loop until r's completion arrived (once). */
static void
wait_for(struct res *r)
{
	int i;

	T_EQ_INT(r->done, 0); /* never from inside the call */
	for (i = 0; i < 100 && r->done == 0; i++)
		T_ASSERT(loop_run_once(E.loop, 1000) >= 0);
	T_EQ_INT(r->done, 1);
}

#define OK(r)                                                           \
	do {                                                            \
		if ((r)->failed)                                        \
			t_fail(__FILE__, __LINE__, "%s", (r)->err.msg); \
	} while (0)

#define FAILS(r, k)                                                 \
	do {                                                        \
		if (!(r)->failed)                                   \
			t_fail(__FILE__, __LINE__, "did not fail"); \
		T_EQ_INT((r)->err.kind, k);                         \
	} while (0)

static void
finish(struct res *r, const struct err *err)
{
	r->done++;
	if (err != NULL) {
		r->failed = true;
		r->err = *err;
	}
}

static void
on_done(void *arg, const struct err *err)
{
	finish(arg, err);
}

static void
on_append(void *arg, uint32_t uid, const struct err *err)
{
	struct res *r = arg;

	r->uid = uid;
	finish(r, err);
}

static void
on_scan(void *arg, const struct store_changes *ch, const struct err *err)
{
	struct res *r = arg;
	size_t i;

	finish(r, err);
	if (err != NULL)
		return;
	r->uidvalidity = ch->uidvalidity;
	r->uidnext = ch->uidnext;
	r->full = ch->full;
	r->perm_keywords = ch->perm_keywords;
	snprintf(r->method, sizeof(r->method), "%s", ch->method);
	snprintf(r->permflags, sizeof(r->permflags), "%s",
	    ch->permflags ? ch->permflags : "");
	T_ASSERT(ch->nmsgs <= MAXMSG);
	T_EQ_INT(ch->nvanished, 0);
	r->n = ch->nmsgs;
	for (i = 0; i < ch->nmsgs; i++) {
		const struct store_msg *m = &ch->msgs[i];

		if (i > 0)
			T_ASSERT(m->uid > ch->msgs[i - 1].uid);
		r->m[i].uid = m->uid;
		snprintf(r->m[i].flags, sizeof(r->m[i].flags), "%s", m->flags);
		r->m[i].size = m->size;
		r->m[i].date = m->internaldate;
		r->m[i].fp_len = m->fp_len;
		r->m[i].flags_only = m->flags_only;
		memcpy(r->m[i].fp, m->fp, sizeof(m->fp));
		T_ASSERT(m->objid == NULL);
	}
}

static void
on_list(
    void *arg, const struct store_folder *f, size_t n, const struct err *err)
{
	struct res *r = arg;
	size_t i;

	finish(r, err);
	if (err != NULL)
		return;
	T_ASSERT(n <= MAXFOLDER);
	r->nf = n;
	for (i = 0; i < n; i++) {
		snprintf(r->f[i].name, sizeof(r->f[i].name), "%s", f[i].name);
		r->f[i].attrs = f[i].attrs;
		r->f[i].has_status = f[i].has_status;
		r->f[i].uidvalidity = f[i].uidvalidity;
		r->f[i].uidnext = f[i].uidnext;
		r->f[i].messages = f[i].messages;
		r->f[i].token = f[i].change_token;
	}
}

static void
do_scan(const char *folder, const struct store_since *since, struct res *r)
{
	memset(r, 0, sizeof(*r));
	store_scan(E.s, folder, since, on_scan, r);
	wait_for(r);
}

static void
do_list(struct res *r)
{
	memset(r, 0, sizeof(*r));
	store_list(E.s, on_list, r);
	wait_for(r);
}

static void
do_create(const char *folder, struct res *r)
{
	memset(r, 0, sizeof(*r));
	store_create(E.s, folder, on_done, r);
	wait_for(r);
}

static void
do_flags(const char *folder, const uint32_t *uids, size_t n, const char *add,
    const char *remove, struct res *r)
{
	memset(r, 0, sizeof(*r));
	store_set_flags(E.s, folder, uids, n, add, remove, on_done, r);
	wait_for(r);
}

static void
do_expunge(const char *folder, const uint32_t *uids, size_t n, struct res *r)
{
	memset(r, 0, sizeof(*r));
	store_expunge(E.s, folder, uids, n, on_done, r);
	wait_for(r);
}

/* A message body in a scratch file, open for reading. */
static int
body_fd(const char *text, size_t len)
{
	char path[PATH_MAX];
	int fd;

	P(path, "%s/body.%d", t_tmpdir(), E.bodies++);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
	T_ASSERT(fd >= 0);
	T_ASSERT(write(fd, text, len) == (ssize_t)len);
	T_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

static void
do_append(const char *folder, const char *flags, int64_t date, const char *text,
    size_t len, struct res *r)
{
	struct store_body body;

	memset(r, 0, sizeof(*r));
	body.fd = body_fd(text, len);
	body.size = len;
	store_append(E.s, folder, flags, date, &body, on_append, r);
	close(body.fd);
	wait_for(r);
}

static const char *
msg_text(int i)
{
	static char buf[256];

	snprintf(buf, sizeof(buf),
	    "Message-ID: <%d@test.example>\r\nSubject: message %d\r\n\r\n"
	    "body %d\r\n",
	    i, i, i);
	return buf;
}

/* Append message i; return its UID. */
static uint32_t
put(const char *folder, const char *flags, int i)
{
	struct res r;
	const char *t = msg_text(i);

	do_append(folder, flags, DATE + i, t, strlen(t), &r);
	OK(&r);
	T_ASSERT(r.uid > 0);
	return r.uid;
}

static void
mkfile(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);

	T_ASSERT(fd >= 0);
	T_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	T_EQ_INT(close(fd), 0);
}

static void
mkdirs(const char *dir)
{
	char p[PATH_MAX];

	T_EQ_INT(mkdir(dir, 0700), 0);
	T_EQ_INT(mkdir(P(p, "%s/cur", dir), 0700), 0);
	T_EQ_INT(mkdir(P(p, "%s/new", dir), 0700), 0);
	T_EQ_INT(mkdir(P(p, "%s/tmp", dir), 0700), 0);
}

/* Entries of dir other than "." and "..". */
static int
count_dir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	T_ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The first entry of dir whose name starts with prefix, into out. */
static bool
find_file(const char *dir, const char *prefix, char *out)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	bool found = false;

	T_ASSERT(d != NULL);
	while (!found && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(out, NAME_MAX + 1, "%s", de->d_name);
			found = true;
		}
	closedir(d);
	return found;
}

/* The file of uid in folder directory dir (via the state). */
static void
file_of(const char *folder, const char *dir, uint32_t uid, char *path)
{
	struct state_mdfolder f;
	struct err err = {0};
	char base[STATE_BASE_MAX + 1], name[NAME_MAX + 1], sub[PATH_MAX];

	T_EQ_INT(state_maildir_folder(E.st, folder, &f, &err), 0);
	T_EQ_INT(
	    state_maildir_base(E.st, f.id, uid, base, sizeof(base), &err), 1);
	if (find_file(P(sub, "%s/cur", dir), base, name)) {
		P(path, "%s/%s", sub, name);
		return;
	}
	T_ASSERT(find_file(P(sub, "%s/new", dir), base, name));
	P(path, "%s/%s", sub, name);
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Move cur/ and new/ mtimes into the past, as if nothing happened lately. */
static void
backdate(const char *dir)
{
	struct timespec ts[2];
	char p[PATH_MAX];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 100;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	T_EQ_INT(utimensat(AT_FDCWD, P(p, "%s/cur", dir), ts, 0), 0);
	T_EQ_INT(utimensat(AT_FDCWD, P(p, "%s/new", dir), ts, 0), 0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void
rm_tree(const char *path)
{
	T_EQ_INT(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static size_t
find_folder(const struct res *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nf; i++)
		if (strcmp(r->f[i].name, name) == 0)
			return i;
	t_fail(__FILE__, __LINE__, "folder %s not listed", name);
}

static bool
listed(const struct res *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nf; i++)
		if (strcmp(r->f[i].name, name) == 0)
			return true;
	return false;
}

static const char *
read_all(const char *path, size_t *len)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	T_ASSERT(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	T_ASSERT(n >= 0);
	close(fd);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/*
 * Tests.
 */

static void
test_append_delivers(void)
{
	char p[PATH_MAX], name[NAME_MAX + 1];
	struct stat st;
	const char *t = msg_text(1), *got;
	size_t len;
	struct res r;

	open_env(MAILDIR_LAYOUT_FS);
	do_append("INBOX", "\\Seen \\Flagged", DATE, t, strlen(t), &r);
	OK(&r);
	T_EQ_INT(r.uid, 1);
	T_EQ_INT(count_dir(P(p, "%s/cur", E.root)), 1);
	T_EQ_INT(count_dir(P(p, "%s/new", E.root)), 0);
	T_EQ_INT(count_dir(P(p, "%s/tmp", E.root)), 0);
	T_ASSERT(find_file(P(p, "%s/cur", E.root), "", name));
	T_ASSERT(strlen(name) > 5);
	T_EQ_STR(name + strlen(name) - 5, ":2,FS");
	P(p, "%s/cur/%s", E.root, name);
	T_EQ_INT(stat(p, &st), 0);
	T_EQ_INT(st.st_mtime, DATE);
	T_EQ_INT(st.st_size, strlen(t));
	T_EQ_INT(st.st_mode & 0777, 0600);
	got = read_all(p, &len);
	T_EQ_MEM(got, len, t, strlen(t));
	/* No flags: still cur/ with an empty suffix; UIDs go up. */
	do_append("INBOX", "", 0, t, strlen(t), &r);
	OK(&r);
	T_EQ_INT(r.uid, 2);
	/* Into a folder that does not exist. */
	do_append("Nope", "", 0, t, strlen(t), &r);
	FAILS(&r, ERR_BOX);
	close_env();
}

/*
 * A batch: every good message lands in cur/ with its flags and date and
 * UIDs in order; a message with flags that cannot be stored fails alone;
 * nothing stays in tmp/; a fetch batch returns each one's bytes and a
 * failure for a UID that does not exist.
 */
static void
test_append_batch(void)
{
	enum {
		N = 12
	};
	struct store_item it[N + 1];
	char p[PATH_MAX];
	const char *got;
	size_t i, len;
	struct res r;

	open_env(MAILDIR_LAYOUT_FS);
	memset(it, 0, sizeof(it));
	for (i = 0; i < N; i++) {
		const char *t = msg_text((int)i);

		it[i].flags = i % 3 == 0 ? "\\Seen" : "";
		it[i].internaldate = DATE + (int64_t)i;
		it[i].body.fd = body_fd(t, strlen(t));
		it[i].body.size = strlen(t);
	}
	it[5].flags = "bad(flag";
	memset(&r, 0, sizeof(r));
	store_append_batch(E.s, "INBOX", it, N, on_done, &r);
	wait_for(&r);
	OK(&r);
	for (i = 0; i < N; i++) {
		close(it[i].body.fd);
		if (i == 5) {
			T_EQ_INT(it[i].err.kind, ERR_MSG);
			T_EQ_INT(it[i].uid, 0);
			continue;
		}
		T_EQ_INT(it[i].err.kind, ERR_NONE);
		T_EQ_INT(it[i].uid, i < 5 ? i + 1 : i);
	}
	T_EQ_INT(count_dir(P(p, "%s/cur", E.root)), N - 1);
	T_EQ_INT(count_dir(P(p, "%s/tmp", E.root)), 0);
	for (i = 0; i < N; i += 3) { /* \Seen and the date on each */
		struct stat st;

		file_of("INBOX", E.root, it[i].uid, p);
		T_EQ_STR(p + strlen(p) - 4, ":2,S");
		T_EQ_INT(stat(p, &st), 0);
		T_EQ_INT(st.st_mtime, DATE + (int64_t)i);
	}
	/* Fetch them back in one batch, with a UID that is not there. */
	memset(it, 0, sizeof(it));
	for (i = 0; i < N; i++) {
		it[i].uid = (uint32_t)i + 1;
		it[i].body.fd = body_fd("", 0);
	}
	memset(&r, 0, sizeof(r));
	store_fetch_batch(E.s, "INBOX", it, N, on_done, &r);
	wait_for(&r);
	OK(&r);
	for (i = 0; i < N; i++) {
		const char *t = msg_text(i < 5 ? (int)i : (int)i + 1);

		if (i == N - 1) {
			T_EQ_INT(it[i].err.kind, ERR_MSG);
			close(it[i].body.fd);
			continue;
		}
		T_EQ_INT(it[i].err.kind, ERR_NONE);
		T_EQ_INT(it[i].body.size, strlen(t));
		P(p, "/proc/self/fd/%d", it[i].body.fd);
		got = read_all(p, &len);
		T_EQ_MEM(got, len, t, strlen(t));
		close(it[i].body.fd);
	}
	close_env();
}

/* Set cur/ and new/ mtimes to now minus ms milliseconds, or (whole) to
 * a whole second that long ago. */
static void
set_age(const char *dir, int64_t ms, bool whole)
{
	struct timespec now, ts[2];
	int64_t ns;
	char p[PATH_MAX];

	clock_gettime(CLOCK_REALTIME, &now);
	ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - ms * 1000000;
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(ns / 1000000000);
	ts[0].tv_nsec = ts[1].tv_nsec = whole ? 0 : (long)(ns % 1000000000);
	if (!whole && ts[0].tv_nsec == 0)
		ts[0].tv_nsec = ts[1].tv_nsec = 1;
	T_EQ_INT(utimensat(AT_FDCWD, P(p, "%s/cur", dir), ts, 0), 0);
	T_EQ_INT(utimensat(AT_FDCWD, P(p, "%s/new", dir), ts, 0), 0);
}

static uint64_t
inbox_token(void)
{
	struct res r;
	size_t i;

	do_list(&r);
	OK(&r);
	for (i = 0; i < r.nf; i++)
		if (strcmp(r.f[i].name, "INBOX") == 0)
			return r.f[i].token;
	T_ASSERT(!"no INBOX listed");
	return 0;
}

/*
 * A change token says "rescan" (0) only while a change could still hide
 * in the directories' last clock tick: 100 ms with nanosecond mtimes, two
 * seconds for whole-second ones.
 */
static void
test_token_settle(void)
{
	open_env(MAILDIR_LAYOUT_FS);
	put("INBOX", "", 1);
	set_age(E.root, 20, false);
	T_EQ_INT(inbox_token(), 0);
	set_age(E.root, 500, false);
	T_ASSERT(inbox_token() != 0);
	set_age(E.root, 1000, true);
	T_EQ_INT(inbox_token(), 0);
	set_age(E.root, 5000, true);
	T_ASSERT(inbox_token() != 0);
	close_env();
}

static void
test_fetch_exact_bytes(void)
{
	static const char text[] = "Subject: bin\r\n\r\n\0\x01\xff\r\n.\r\nend";
	char p[PATH_MAX];
	struct store_body body;
	const char *got;
	size_t len;
	struct res r;
	uint32_t uid;

	open_env(MAILDIR_LAYOUT_FS);
	do_append("INBOX", "", DATE, text, sizeof(text) - 1, &r);
	OK(&r);
	uid = r.uid;
	P(p, "%s/fetched", t_tmpdir());
	body.fd = open(p, O_CREAT | O_RDWR | O_TRUNC, 0600);
	body.size = 0;
	T_ASSERT(body.fd >= 0);
	memset(&r, 0, sizeof(r));
	store_fetch(E.s, "INBOX", uid, &body, on_done, &r);
	wait_for(&r);
	OK(&r);
	close(body.fd);
	T_EQ_INT(body.size, sizeof(text) - 1);
	got = read_all(p, &len);
	T_EQ_MEM(got, len, text, sizeof(text) - 1);
	/* Unknown UID. */
	body.fd = open(p, O_RDWR | O_TRUNC);
	memset(&r, 0, sizeof(r));
	store_fetch(E.s, "INBOX", 42, &body, on_done, &r);
	wait_for(&r);
	close(body.fd);
	FAILS(&r, ERR_MSG);
	T_ASSERT(strstr(r.err.msg, "UID 42") != NULL);
	close_env();
}

static void
test_list_status(void)
{
	struct res r, c;
	size_t i;

	open_env(MAILDIR_LAYOUT_FS);
	do_create("Work/Sub", &c);
	OK(&c);
	do_create("Archive", &c);
	OK(&c);
	put("INBOX", "", 1);
	put("INBOX", "\\Seen", 2);
	do_list(&r);
	OK(&r);
	T_EQ_INT(r.nf, 4);
	T_EQ_STR(r.f[0].name, "INBOX");
	T_EQ_STR(r.f[1].name, "Archive");
	T_EQ_STR(r.f[2].name, "Work");
	T_EQ_STR(r.f[3].name, "Work/Sub");
	T_EQ_INT(r.f[2].attrs, STORE_NOSELECT);
	T_ASSERT(!r.f[2].has_status);
	for (i = 0; i < 4; i++) {
		if (i == 2)
			continue;
		T_EQ_INT(r.f[i].attrs, 0);
		T_ASSERT(r.f[i].has_status);
		T_ASSERT(r.f[i].uidvalidity != 0);
	}
	T_EQ_INT(r.f[0].messages, 2);
	T_EQ_INT(r.f[0].uidnext, 3);
	T_EQ_INT(r.f[1].messages, 0);
	T_EQ_INT(r.f[1].uidnext, 1);
	close_env();
}

static void
test_scan_change_tokens(void)
{
	char p[PATH_MAX];
	unsigned char fp[STORE_FP_LEN];
	static const uint32_t known[] = {1, 2};
	struct store_since since = {0};
	struct stat st;
	struct res l, r;
	const char *text = "Subject: no id\r\n\r\nhello\r\n";

	open_env(MAILDIR_LAYOUT_FS);
	put("INBOX", "", 1);
	put("INBOX", "\\Seen", 2);
	/* Just changed: the token says "rescan". */
	do_list(&l);
	T_EQ_INT(l.f[0].token, 0);
	backdate(E.root);
	do_list(&l);
	T_ASSERT(l.f[0].token != 0);
	/* It is kept in a signed 64-bit column. */
	T_ASSERT(l.f[0].token <= (uint64_t)INT64_MAX);
	since.uidvalidity = l.f[0].uidvalidity;
	since.uidnext = l.f[0].uidnext;
	since.change_token = l.f[0].token;
	do_scan("INBOX", &since, &r);
	OK(&r);
	T_EQ_STR(r.method, "maildir-unchanged");
	T_ASSERT(!r.full);
	T_EQ_INT(r.n, 0);
	T_EQ_INT(r.uidvalidity, since.uidvalidity);
	T_EQ_INT(r.uidnext, 3);
	/* Another UIDVALIDITY or no token: a full listing, every message
	 * the caller does not know described in full. */
	since.change_token = 0;
	do_scan("INBOX", &since, &r);
	OK(&r);
	T_EQ_STR(r.method, "maildir");
	T_ASSERT(r.full);
	T_EQ_INT(r.n, 2);
	T_EQ_INT(r.m[0].uid, 1);
	T_EQ_STR(r.m[0].flags, "");
	T_ASSERT(!r.m[0].flags_only);
	T_EQ_INT(r.m[0].date, DATE + 1);
	T_EQ_INT(r.m[0].size, strlen(msg_text(1)));
	T_EQ_INT(r.m[0].fp_len, STORE_FP_LEN);
	T_EQ_STR(r.m[1].flags, "\\Seen");
	/* Messages the caller knows come with their flags only: no stat,
	 * no read. */
	since.known_uids = known;
	since.nknown = 2;
	do_scan("INBOX", &since, &r);
	OK(&r);
	T_ASSERT(r.full);
	T_EQ_INT(r.n, 2);
	T_ASSERT(r.m[0].flags_only && r.m[1].flags_only);
	T_EQ_STR(r.m[1].flags, "\\Seen");
	T_EQ_INT(r.m[0].size, 0);
	T_EQ_INT(r.m[0].fp_len, 0);
	/* A delivery by another program changes the token. */
	mkfile(P(p, "%s/new/1700000100.M5P6.other", E.root), text);
	since.change_token = l.f[0].token;
	do_scan("INBOX", &since, &r);
	OK(&r);
	T_EQ_STR(r.method, "maildir");
	T_ASSERT(r.full);
	T_EQ_INT(r.n, 3);
	T_EQ_INT(r.m[2].uid, 3);
	T_EQ_INT(r.uidnext, 4);
	T_EQ_STR(r.m[2].flags, "");
	T_EQ_INT(stat(p, &st), 0);
	T_EQ_INT(r.m[2].fp_len, STORE_FP_LEN);
	store_fingerprint(
	    text, strlen(text), (uint64_t)st.st_size, (int64_t)st.st_mtime, fp);
	T_EQ_MEM(r.m[2].fp, STORE_FP_LEN, fp, STORE_FP_LEN);
	T_EQ_INT(r.m[2].size, strlen(text));
	T_ASSERT(strstr(r.permflags, "\\Seen") != NULL);
	T_ASSERT(r.perm_keywords);
	/* A missing folder. */
	do_scan("Nope", NULL, &r);
	FAILS(&r, ERR_BOX);
	T_ASSERT(strstr(r.err.msg, "Nope") != NULL);
	close_env();
}

static void
test_flags_by_ferry(void)
{
	char p[PATH_MAX], dir[PATH_MAX];
	const char *kw;
	struct res r;
	size_t len;
	uint32_t uid;

	open_env(MAILDIR_LAYOUT_FS);
	uid = put("INBOX", "\\Seen", 1);
	do_flags("INBOX", &uid, 1, "\\Flagged $Junk", "\\Seen", &r);
	OK(&r);
	file_of("INBOX", E.root, uid, p);
	T_EQ_STR(p + strlen(p) - 5, ":2,Fa");
	kw = read_all(P(dir, "%s/dovecot-keywords", E.root), &len);
	T_EQ_STR(kw, "0 $Junk\n");
	do_scan("INBOX", NULL, &r);
	OK(&r);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, uid);
	T_EQ_STR(r.m[0].flags, "$Junk \\Flagged");
	do_flags("INBOX", &uid, 1, "$Forwarded \\Answered", "$Junk", &r);
	OK(&r);
	file_of("INBOX", E.root, uid, p);
	T_EQ_STR(p + strlen(p) - 6, ":2,FPR");
	do_scan("INBOX", NULL, &r);
	T_EQ_STR(r.m[0].flags, "$Forwarded \\Answered \\Flagged");
	/* Flags nobody can store here are left out, as IMAP does. */
	do_flags("INBOX", &uid, 1, "\\Important", "", &r);
	OK(&r);
	do_scan("INBOX", NULL, &r);
	T_EQ_STR(r.m[0].flags, "$Forwarded \\Answered \\Flagged");
	do_flags("INBOX", &uid, 1, "(bad", "", &r);
	FAILS(&r, ERR_MSG);
	close_env();
}

static void
test_flags_by_mail_program(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct res r;
	uint32_t uid, other;

	open_env(MAILDIR_LAYOUT_FS);
	uid = put("INBOX", "", 1);
	other = put("INBOX", "", 2);
	do_scan("INBOX", NULL, &r);
	T_EQ_INT(r.n, 2);
	/* The program renames the file: same UID, new flags. */
	file_of("INBOX", E.root, uid, p);
	snprintf(q, sizeof(q), "%.*sRS", (int)(strlen(p)), p);
	T_EQ_INT(rename(p, q), 0);
	do_scan("INBOX", NULL, &r);
	OK(&r);
	T_EQ_INT(r.n, 2);
	T_EQ_INT(r.m[0].uid, uid);
	T_EQ_STR(r.m[0].flags, "\\Answered \\Seen");
	T_EQ_INT(r.m[1].uid, other);
	/* Again behind ferry's back, then ferry changes it: no stale name. */
	T_EQ_INT(rename(q, p), 0);
	do_flags("INBOX", &uid, 1, "\\Flagged", "", &r);
	OK(&r);
	file_of("INBOX", E.root, uid, p);
	T_EQ_STR(p + strlen(p) - 4, ":2,F");
	close_env();
}

static void
test_new_to_cur_keeps_uid(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct res r;

	open_env(MAILDIR_LAYOUT_FS);
	mkfile(P(p, "%s/new/1700000000.M1P1.host", E.root), msg_text(1));
	do_scan("INBOX", NULL, &r);
	OK(&r);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, 1);
	T_EQ_STR(r.m[0].flags, "");
	T_EQ_INT(r.m[0].fp_len, STORE_FP_LEN);
	T_EQ_INT(rename(p, P(q, "%s/cur/1700000000.M1P1.host:2,S", E.root)), 0);
	do_scan("INBOX", NULL, &r);
	OK(&r);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, 1);
	T_EQ_STR(r.m[0].flags, "\\Seen");
	T_EQ_INT(r.uidnext, 2);
	/* Info in new/ is no flags; Dovecot's ,S= stays in the base. */
	mkfile(P(p, "%s/new/1700000001.M2P2.host,S=9:2,S", E.root), "x");
	do_scan("INBOX", NULL, &r);
	T_EQ_INT(r.n, 2);
	T_EQ_STR(r.m[1].flags, "");
	T_EQ_INT(
	    rename(p, P(q, "%s/cur/1700000001.M2P2.host,S=9:2,T", E.root)), 0);
	do_scan("INBOX", NULL, &r);
	T_EQ_INT(r.n, 2);
	T_EQ_INT(r.m[1].uid, 2);
	T_EQ_STR(r.m[1].flags, "\\Deleted");
	close_env();
}

static void
test_duplicate_base_name(void)
{
	char p[PATH_MAX], cur[PATH_MAX], name[NAME_MAX + 1];
	struct dirent *de;
	int plain = 0, renamed = 0;
	struct res r;
	DIR *d;

	open_env(MAILDIR_LAYOUT_FS);
	mkfile(P(p, "%s/cur/dup.host:2,S", E.root), msg_text(1));
	do_scan("INBOX", NULL, &r);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, 1);
	/* Copied without renaming, once into cur/ and once into new/. */
	mkfile(P(p, "%s/cur/dup.host:2,FS", E.root), msg_text(1));
	mkfile(P(p, "%s/new/dup.host", E.root), msg_text(1));
	do_scan("INBOX", NULL, &r);
	OK(&r);
	T_EQ_INT(r.n, 3);
	T_EQ_INT(r.m[0].uid, 1);
	T_EQ_INT(r.m[1].uid, 2);
	T_EQ_INT(r.m[2].uid, 3);
	T_EQ_INT(r.m[1].fp_len, STORE_FP_LEN);
	T_EQ_INT(r.m[2].fp_len, STORE_FP_LEN);
	/* All three files are kept; the copies got fresh base names. */
	T_EQ_INT(count_dir(P(cur, "%s/cur", E.root)), 2);
	T_EQ_INT(count_dir(P(p, "%s/new", E.root)), 1);
	T_ASSERT(!find_file(p, "dup.host", name));
	d = opendir(cur);
	T_ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "dup.host:", 9) == 0)
			plain++;
		else if (de->d_name[0] != '.')
			renamed++;
	}
	closedir(d);
	T_EQ_INT(plain, 1);
	T_EQ_INT(renamed, 1);
	/* Stable from now on. */
	do_scan("INBOX", NULL, &r);
	T_EQ_INT(r.n, 3);
	T_EQ_INT(r.m[2].uid, 3);
	T_EQ_INT(r.uidnext, 4);
	close_env();
}

static void
test_moved_to_other_folder(void)
{
	char p[PATH_MAX], q[PATH_MAX], name[NAME_MAX + 1];
	struct res r;
	uint32_t uid;

	open_env(MAILDIR_LAYOUT_FS);
	do_create("Archive", &r);
	OK(&r);
	uid = put("INBOX", "\\Seen", 1);
	put("INBOX", "", 2);
	file_of("INBOX", E.root, uid, p);
	snprintf(name, sizeof(name), "%s", strrchr(p, '/') + 1);
	T_EQ_INT(rename(p, P(q, "%s/Archive/cur/%s", E.root, name)), 0);
	do_scan("INBOX", NULL, &r);
	OK(&r);
	T_ASSERT(r.full);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, 2);
	do_scan("Archive", NULL, &r);
	OK(&r);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, 1);
	T_EQ_STR(r.m[0].flags, "\\Seen");
	T_EQ_INT(r.m[0].fp_len, STORE_FP_LEN);
	close_env();
}

static void
test_keywords(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	const char *kw;
	struct res r;
	uint32_t a, b, c;
	size_t len;

	open_env(MAILDIR_LAYOUT_FS);
	a = put("INBOX", "$Label1 \\Seen $Junk", 1);
	file_of("INBOX", E.root, a, p);
	T_EQ_STR(p + strlen(p) - 6, ":2,Sab");
	kw = read_all(P(q, "%s/dovecot-keywords", E.root), &len);
	T_EQ_STR(kw, "0 $Junk\n1 $Label1\n");
	b = put("INBOX", "$Label1", 2);
	file_of("INBOX", E.root, b, p);
	T_EQ_STR(p + strlen(p) - 4, ":2,b");
	do_scan("INBOX", NULL, &r);
	T_EQ_STR(r.m[0].flags, "$Junk $Label1 \\Seen");
	T_EQ_STR(r.m[1].flags, "$Label1");
	T_ASSERT(strstr(r.permflags, "$Junk") != NULL);
	T_ASSERT(strstr(r.permflags, "$Label1") != NULL);
	T_ASSERT(r.perm_keywords);
	/* A letter without meaning is not reported but kept. */
	snprintf(q, sizeof(q), "%sz", p);
	T_EQ_INT(rename(p, q), 0);
	do_scan("INBOX", NULL, &r);
	T_EQ_STR(r.m[1].flags, "$Label1");
	do_flags("INBOX", &b, 1, "\\Seen", "$Label1", &r);
	OK(&r);
	file_of("INBOX", E.root, b, p);
	T_EQ_STR(p + strlen(p) - 5, ":2,Sz");
	/* A mapping written by Dovecot is read. */
	do_create("Dove", &r);
	mkfile(
	    P(p, "%s/Dove/dovecot-keywords", E.root), "3 Work\r\n0 $x\nbad\n");
	mkfile(P(p, "%s/Dove/cur/1.M1.h:2,Sd", E.root), "x");
	do_scan("Dove", NULL, &r);
	T_EQ_STR(r.m[0].flags, "Work \\Seen");
	c = r.m[0].uid;
	do_flags("Dove", &c, 1, "$y", "", &r);
	OK(&r);
	kw = read_all(P(q, "%s/Dove/dovecot-keywords", E.root), &len);
	T_EQ_STR(kw, "0 $x\n1 $y\n3 Work\n");
	file_of("Dove", P(q, "%s/Dove", E.root), c, p);
	T_EQ_STR(p + strlen(p) - 6, ":2,Sbd");
	/* Two letters for one keyword (and P): removing clears them all. */
	do_create("Twice", &r);
	mkfile(P(p, "%s/Twice/dovecot-keywords", E.root),
	    "0 k\n1 k\n2 $Forwarded\n");
	mkfile(P(p, "%s/Twice/cur/2.M2.h:2,Pabc", E.root), "x");
	do_scan("Twice", NULL, &r);
	T_EQ_STR(r.m[0].flags, "$Forwarded k");
	c = r.m[0].uid;
	do_flags("Twice", &c, 1, "", "k $Forwarded", &r);
	OK(&r);
	do_scan("Twice", NULL, &r);
	T_EQ_STR(r.m[0].flags, "");
	close_env();
}

static void
test_keyword_limit(void)
{
	char add[1024];
	struct res r;
	size_t n = 0;
	uint32_t uid;
	int i;

	open_env(MAILDIR_LAYOUT_FS);
	uid = put("INBOX", "", 1);
	for (i = 0; i < 27; i++)
		n += (size_t)snprintf(
		    add + n, sizeof(add) - n, "%sk%02d", i ? " " : "", i);
	do_flags("INBOX", &uid, 1, add, "", &r);
	OK(&r);
	do_scan("INBOX", NULL, &r);
	T_ASSERT(!r.perm_keywords);
	T_ASSERT(strstr(r.m[0].flags, "k25") != NULL);
	T_ASSERT(strstr(r.m[0].flags, "k26") == NULL);
	T_ASSERT(strstr(r.permflags, "k00") != NULL);
	T_ASSERT(strstr(r.permflags, "k26") == NULL);
	close_env();
}

static void
test_maildirpp_layout(void)
{
	char p[PATH_MAX];
	struct res r;

	open_env(MAILDIR_LAYOUT_PP);
	do_create("Work/Sub", &r);
	OK(&r);
	T_ASSERT(exists(P(p, "%s/.Work.Sub/cur", E.root)));
	T_ASSERT(!exists(P(p, "%s/.Work", E.root)));
	do_create("Reisen/Gr\xc3\xb6\xc3\x9f"
		  "e",
	    &r);
	OK(&r);
	T_ASSERT(exists(P(p,
	    "%s/.Reisen.Gr\xc3\xb6\xc3\x9f"
	    "e/new",
	    E.root)));
	put("Work/Sub", "\\Seen", 1);
	do_list(&r);
	OK(&r);
	T_EQ_INT(r.nf, 3);
	T_EQ_STR(r.f[0].name, "INBOX");
	T_EQ_STR(r.f[1].name, "Reisen/Gr\xc3\xb6\xc3\x9f"
			      "e");
	T_EQ_STR(r.f[2].name, "Work/Sub");
	T_EQ_INT(r.f[2].messages, 1);
	do_scan("Work/Sub", NULL, &r);
	T_EQ_INT(r.n, 1);
	T_EQ_STR(r.m[0].flags, "\\Seen");
	do_create("a.b", &r);
	FAILS(&r, ERR_BOX);
	do_create("a/.b", &r);
	FAILS(&r, ERR_BOX);
	/* Rename moves the children along. */
	memset(&r, 0, sizeof(r));
	store_rename(E.s, "Work", "Job", on_done, &r);
	wait_for(&r);
	FAILS(&r, ERR_BOX); /* no folder "Work" itself */
	do_create("Work", &r);
	OK(&r);
	memset(&r, 0, sizeof(r));
	store_rename(E.s, "Work", "Job", on_done, &r);
	wait_for(&r);
	OK(&r);
	T_ASSERT(exists(P(p, "%s/.Job.Sub/cur", E.root)));
	T_ASSERT(!exists(P(p, "%s/.Work.Sub", E.root)));
	do_scan("Job/Sub", NULL, &r);
	T_EQ_INT(r.n, 1);
	close_env();
}

static void
test_non_ascii_names(void)
{
	static const char name[] = "Reisen/Gr\xc3\xb6\xc3\x9f"
				   "e";
	char p[PATH_MAX];
	struct res r;

	open_env(MAILDIR_LAYOUT_FS);
	do_create(name, &r);
	OK(&r);
	T_ASSERT(exists(P(p, "%s/%s/cur", E.root, name)));
	put(name, "", 1);
	do_list(&r);
	T_EQ_INT(r.nf, 3);
	T_EQ_STR(r.f[1].name, "Reisen");
	T_EQ_INT(r.f[1].attrs, STORE_NOSELECT);
	T_EQ_STR(r.f[2].name, name);
	T_EQ_INT(r.f[2].messages, 1);
	do_scan(name, NULL, &r);
	T_EQ_INT(r.n, 1);
	/* Not UTF-8. */
	do_create("Gr\xf6\xdf"
		  "e",
	    &r);
	FAILS(&r, ERR_BOX);
	close_env();
}

static void
test_hostile_names(void)
{
	static const char *const bad[] = {"../x", "/etc", "a//b", "a/./b",
	    "a/../b", "..", ".", "a/", "", "a\nb", "a\x01z", "tab\there",
	    "del\x7f", ".hidden", "a/.b", "cur", "x/tmp", "a\\b"};
	char p[PATH_MAX], longname[1200];
	struct store_body body;
	struct res r;
	size_t i;

	open_env(MAILDIR_LAYOUT_FS);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		do_create(bad[i], &r);
		if (!r.failed)
			t_fail(__FILE__, __LINE__, "created \"%s\"", bad[i]);
		T_EQ_INT(r.err.kind, ERR_BOX);
		T_ASSERT(strstr(r.err.msg, "folder \"") != NULL);
		do_scan(bad[i], NULL, &r);
		FAILS(&r, ERR_BOX);
	}
	do_create("a\nb", &r);
	T_ASSERT(strstr(r.err.msg, "a\\x0ab") != NULL);
	T_ASSERT(strchr(r.err.msg, '\n') == NULL);
	/* Too long: one component, and the whole name. */
	memset(longname, 'x', 300);
	longname[300] = '\0';
	do_create(longname, &r);
	FAILS(&r, ERR_BOX);
	for (i = 0; i < 1100; i++)
		longname[i] = i % 10 == 9 ? '/' : 'y';
	longname[1100] = '\0';
	do_create(longname, &r);
	FAILS(&r, ERR_BOX);
	/* The other operations check too. */
	memset(&r, 0, sizeof(r));
	body.fd = body_fd("x", 1);
	body.size = 1;
	store_append(E.s, "../x", "", 0, &body, on_append, &r);
	close(body.fd);
	wait_for(&r);
	FAILS(&r, ERR_BOX);
	memset(&r, 0, sizeof(r));
	store_rename(E.s, "INBOX", "../y", on_done, &r);
	wait_for(&r);
	FAILS(&r, ERR_BOX);
	T_ASSERT(!exists(P(p, "%s/x", t_tmpdir())));
	T_ASSERT(!exists(P(p, "%s/y", t_tmpdir())));
	/* Only INBOX's own directories exist. */
	T_EQ_INT(count_dir(E.root), 3);
	close_env();
}

static void
test_symlink_outside(void)
{
	char p[PATH_MAX], out[PATH_MAX];
	struct res r;

	open_env(MAILDIR_LAYOUT_FS);
	mkdirs(P(out, "%s/outside", t_tmpdir()));
	mkfile(P(p, "%s/outside/cur/1.M1.h:2,S", t_tmpdir()), "secret");
	T_EQ_INT(symlink(out, P(p, "%s/Evil", E.root)), 0);
	do_scan("Evil", NULL, &r);
	FAILS(&r, ERR_BOX);
	T_ASSERT(strstr(r.err.msg, "outside") != NULL);
	do_create("Evil/Sub", &r);
	FAILS(&r, ERR_BOX);
	T_ASSERT(!exists(P(p, "%s/outside/Sub", t_tmpdir())));
	do_list(&r);
	OK(&r);
	T_ASSERT(!listed(&r, "Evil"));
	/* A link that stays inside the root is fine. */
	do_create("Work", &r);
	OK(&r);
	T_EQ_INT(symlink("Work", P(p, "%s/Alias", E.root)), 0);
	put("Alias", "", 1);
	do_scan("Alias", NULL, &r);
	OK(&r);
	T_EQ_INT(r.n, 1);
	do_list(&r);
	T_ASSERT(listed(&r, "Alias"));
	close_env();
}

static void
test_folder_replaced(void)
{
	char p[PATH_MAX], q[PATH_MAX], dir[PATH_MAX], name[NAME_MAX + 1];
	struct res r;
	uint32_t uv;

	open_env(MAILDIR_LAYOUT_FS);
	do_create("Work", &r);
	put("Work", "", 1);
	put("Work", "", 2);
	do_scan("Work", NULL, &r);
	T_EQ_INT(r.n, 2);
	uv = r.uidvalidity;
	/* Moved to a new directory with its files: the same folder. */
	P(dir, "%s/Work", E.root);
	mkdirs(P(q, "%s/Work2", E.root));
	while (find_file(P(p, "%s/cur", dir), "", name))
		T_EQ_INT(rename(P(p, "%s/cur/%s", dir, name),
			     P(q, "%s/Work2/cur/%s", E.root, name)),
		    0);
	rm_tree(dir);
	T_EQ_INT(rename(P(q, "%s/Work2", E.root), dir), 0);
	do_scan("Work", NULL, &r);
	OK(&r);
	T_EQ_INT(r.uidvalidity, uv);
	T_EQ_INT(r.n, 2);
	T_EQ_INT(r.m[1].uid, 2);
	/* Deleted and made again with other mail: a new UIDVALIDITY. */
	rm_tree(dir);
	mkdirs(dir);
	mkfile(P(p, "%s/cur/1700000009.M1P1.h:2,", dir), msg_text(9));
	do_scan("Work", NULL, &r);
	OK(&r);
	T_ASSERT(r.uidvalidity != uv);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, 1);
	T_EQ_INT(r.m[0].fp_len, STORE_FP_LEN);
	uv = r.uidvalidity;
	/* Again, now through ferry's own create and append. */
	rm_tree(dir);
	do_create("Work", &r);
	OK(&r);
	put("Work", "", 3);
	do_scan("Work", NULL, &r);
	T_ASSERT(r.uidvalidity != uv);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, 1);
	close_env();
}

static void
test_expunge_exact(void)
{
	char p1[PATH_MAX], p2[PATH_MAX], p3[PATH_MAX], base[64];
	struct state_mdfolder f;
	struct err err = {0};
	struct res r;
	uint32_t u[3], two, gone[2];

	open_env(MAILDIR_LAYOUT_FS);
	u[0] = put("INBOX", "\\Deleted", 1);
	u[1] = put("INBOX", "\\Deleted", 2);
	u[2] = put("INBOX", "", 3);
	file_of("INBOX", E.root, u[0], p1);
	file_of("INBOX", E.root, u[1], p2);
	file_of("INBOX", E.root, u[2], p3);
	two = u[1];
	do_expunge("INBOX", &two, 1, &r);
	OK(&r);
	T_ASSERT(exists(p1));
	T_ASSERT(!exists(p2));
	T_ASSERT(exists(p3));
	do_scan("INBOX", NULL, &r);
	T_EQ_INT(r.n, 2);
	T_EQ_INT(r.m[0].uid, u[0]);
	T_EQ_INT(r.m[1].uid, u[2]);
	/* Already gone, or never known: forgotten without complaint. */
	T_EQ_INT(unlink(p1), 0);
	gone[0] = u[0];
	gone[1] = 99;
	do_expunge("INBOX", gone, 2, &r);
	OK(&r);
	T_EQ_INT(state_maildir_folder(E.st, "INBOX", &f, &err), 0);
	T_EQ_INT(
	    state_maildir_base(E.st, f.id, u[0], base, sizeof(base), &err), 0);
	T_EQ_INT(
	    state_maildir_base(E.st, f.id, u[1], base, sizeof(base), &err), 0);
	T_EQ_INT(
	    state_maildir_base(E.st, f.id, u[2], base, sizeof(base), &err), 1);
	do_scan("INBOX", NULL, &r);
	T_EQ_INT(r.n, 1);
	T_EQ_INT(r.m[0].uid, u[2]);
	T_EQ_INT(r.uidnext, 4);
	close_env();
}

static void reopen_store(void);

/*
 * Flags and expunges read only the files they act on: each operation
 * finds its files, also ones a mail program renamed meanwhile, whatever
 * an earlier operation or a read-ahead (store_will_touch) left in the
 * directory cache.
 */
static void
test_ops_read_their_files(void)
{
	char p[PATH_MAX], q[PATH_MAX], dir[PATH_MAX], sub[PATH_MAX];
	const char *f;
	struct res r;
	uint32_t u[4];
	int i, ahead;

	open_env(MAILDIR_LAYOUT_FS);
	for (ahead = 0; ahead < 2; ahead++) {
		f = ahead ? "Ahead" : "INBOX";
		P(dir, "%s%s%s", E.root, ahead ? "/" : "", ahead ? f : "");
		if (ahead) {
			do_create(f, &r);
			OK(&r);
		}
		for (i = 0; i < 4; i++)
			u[i] = put(f, "", i + 1);
		reopen_store(); /* nothing cached */
		if (ahead)
			store_will_touch(E.s, f, u, 4);
		do_flags(f, &u[0], 1, "\\Flagged", "", &r);
		OK(&r);
		file_of(f, dir, u[0], p);
		T_EQ_STR(p + strlen(p) - 4, ":2,F");
		file_of(f, dir, u[2], p);
		T_EQ_STR(p + strlen(p) - 3, ":2,");
		P(q, "%sS", p);
		T_EQ_INT(rename(p, q), 0); /* a mail program marks it seen */
		do_expunge(f, &u[1], 1, &r);
		OK(&r);
		do_flags(f, &u[2], 1, "\\Flagged", "", &r);
		OK(&r);
		file_of(f, dir, u[2], p);
		T_EQ_STR(p + strlen(p) - 5, ":2,FS");
		do_flags(f, &u[0], 1, "", "\\Flagged", &r);
		OK(&r);
		file_of(f, dir, u[0], p);
		T_EQ_STR(p + strlen(p) - 3, ":2,");
		T_EQ_INT(count_dir(P(sub, "%s/cur", dir)) +
			     count_dir(P(sub, "%s/new", dir)),
		    3);
	}
	close_env();
}

static void
test_flags_on_vanished(void)
{
	char p[PATH_MAX];
	struct res r;
	uint32_t u[2];

	open_env(MAILDIR_LAYOUT_FS);
	u[0] = put("INBOX", "", 1);
	u[1] = put("INBOX", "", 2);
	file_of("INBOX", E.root, u[0], p);
	T_EQ_INT(unlink(p), 0);
	do_flags("INBOX", u, 2, "\\Seen", "", &r);
	FAILS(&r, ERR_MSG);
	T_ASSERT(strstr(r.err.msg, "UID 1") != NULL);
	file_of("INBOX", E.root, u[1], p);
	T_EQ_STR(p + strlen(p) - 4, ":2,S");
	close_env();
}

static void
test_folders(void)
{
	char p[PATH_MAX];
	struct res r;
	uint32_t uid;

	open_env(MAILDIR_LAYOUT_FS);
	do_create("Work", &r);
	OK(&r);
	do_create("Work", &r); /* again: fine */
	OK(&r);
	uid = put("Work", "", 1);
	memset(&r, 0, sizeof(r));
	store_delete(E.s, "Work", on_done, &r);
	wait_for(&r);
	FAILS(&r, ERR_BOX);
	T_ASSERT(strstr(r.err.msg, "holds 1 message") != NULL);
	do_expunge("Work", &uid, 1, &r);
	OK(&r);
	mkfile(P(p, "%s/Work/tmp/leftover", E.root), "x");
	mkfile(P(p, "%s/Work/dovecot-uidlist", E.root), "x");
	memset(&r, 0, sizeof(r));
	store_delete(E.s, "Work", on_done, &r);
	wait_for(&r);
	OK(&r);
	T_ASSERT(!exists(P(p, "%s/Work", E.root)));
	memset(&r, 0, sizeof(r));
	store_delete(E.s, "INBOX", on_done, &r);
	wait_for(&r);
	FAILS(&r, ERR_BOX);
	/* A parent with children stays as a name in the tree. */
	do_create("A/B", &r);
	do_create("A", &r);
	memset(&r, 0, sizeof(r));
	store_delete(E.s, "A", on_done, &r);
	wait_for(&r);
	OK(&r);
	do_list(&r);
	T_EQ_INT(r.f[find_folder(&r, "A")].attrs, STORE_NOSELECT);
	/* Foreign files stop a delete. */
	mkfile(P(p, "%s/A/B/notes.txt", E.root), "x");
	memset(&r, 0, sizeof(r));
	store_delete(E.s, "A/B", on_done, &r);
	wait_for(&r);
	FAILS(&r, ERR_BOX);
	/* Rename in fs layout. */
	put("A/B", "", 1);
	memset(&r, 0, sizeof(r));
	store_rename(E.s, "A", "C/D", on_done, &r);
	wait_for(&r);
	OK(&r);
	do_list(&r);
	T_ASSERT(!listed(&r, "A"));
	T_ASSERT(listed(&r, "C/D/B"));
	do_scan("C/D/B", NULL, &r);
	T_EQ_INT(r.n, 1);
	memset(&r, 0, sizeof(r));
	store_rename(E.s, "C", "C/E", on_done, &r);
	wait_for(&r);
	FAILS(&r, ERR_BOX);
	close_env();
}

static void
test_inbox_children_and_ignored(void)
{
	char p[PATH_MAX];
	struct res r;

	open_env(MAILDIR_LAYOUT_FS);
	do_create("inbox/Sub", &r);
	OK(&r);
	T_ASSERT(exists(P(p, "%s/INBOX/Sub/cur", E.root)));
	do_list(&r);
	T_EQ_INT(r.nf, 2);
	T_EQ_STR(r.f[0].name, "INBOX");
	T_EQ_INT(r.f[0].attrs, 0);
	T_EQ_STR(r.f[1].name, "INBOX/Sub");
	/* Files that are no messages are ignored. */
	mkfile(P(p, "%s/cur/.hidden", E.root), "x");
	mkfile(P(p, "%s/cur/:2,S", E.root), "x");
	T_EQ_INT(mkdir(P(p, "%s/cur/subdir", E.root), 0700), 0);
	mkfile(P(p, "%s/cur/good:2,S", E.root), "x");
	do_scan("INBOX", NULL, &r);
	OK(&r);
	T_EQ_INT(r.n, 1);
	T_EQ_STR(r.m[0].flags, "\\Seen");
	close_env();
}

static void
test_lifecycle(void)
{
	char p[PATH_MAX];
	struct maildir_opts o;
	struct err err = {0};
	struct store *s;
	struct res r;

	open_env(MAILDIR_LAYOUT_FS);
	/* Freed with completions pending: they never run. */
	memset(&r, 0, sizeof(r));
	store_list(E.s, on_list, &r);
	store_free(E.s);
	E.s = NULL;
	T_ASSERT(loop_run_once(E.loop, 10) <= 0);
	T_EQ_INT(r.done, 0);
	/* Options are checked; a missing root is not made unless asked. */
	maildir_opts_init(&o);
	T_ASSERT(o.fsync);
	T_ASSERT(maildir_store_new(E.loop, "x", &o, &err) == NULL);
	T_EQ_INT(err.kind, ERR_CONFIG);
	o.path = P(p, "%s/none", t_tmpdir());
	T_ASSERT(maildir_store_new(E.loop, "x", &o, &err) == NULL);
	o.state = E.st;
	s = maildir_store_new(E.loop, "x", &o, &err);
	T_ASSERT(s != NULL);
	T_EQ_INT(store_connect(s, &err), -1);
	T_EQ_INT(err.kind, ERR_ACCOUNT);
	store_free(s);
	store_free(NULL);
	close_env();
}

/* A new store on the same state, as the next run opens it. */
static void
reopen_store(void)
{
	struct maildir_opts o;
	struct err err = {0};

	store_free(E.s);
	maildir_opts_init(&o);
	o.path = E.root;
	o.layout = MAILDIR_LAYOUT_FS;
	o.state = E.st;
	E.s = maildir_store_new(E.loop, "test", &o, &err);
	T_ASSERT(E.s != NULL);
	T_EQ_INT(store_connect(E.s, &err), 0);
}

static void
test_settle(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct store_since since = {0};
	struct store_folder f, g;
	struct err err = {0};
	struct res l, r;
	uint32_t u1, u2, u3;

	open_env(MAILDIR_LAYOUT_FS);
	/* Nothing looked at or changed: nothing to prove. */
	T_EQ_INT(store_settle(E.s, "INBOX", &f, &err), 0);
	T_ASSERT(!f.has_status);
	u1 = put("INBOX", "", 1);
	u2 = put("INBOX", "\\Seen", 2);
	/* A full scan, then the driver's own changes of every kind. */
	do_scan("INBOX", NULL, &r);
	OK(&r);
	u3 = put("INBOX", "", 3);
	do_flags("INBOX", &u1, 1, "\\Flagged", "", &r);
	OK(&r);
	do_expunge("INBOX", &u2, 1, &r);
	OK(&r);
	T_EQ_INT(store_settle(E.s, "INBOX", &f, &err), 0);
	T_ASSERT(f.has_status);
	T_ASSERT(f.change_token != 0);
	T_EQ_INT(f.messages, 2);
	T_EQ_INT(f.uidnext, u3 + 1);
	/* That is the status the next listing gives. */
	do_list(&l);
	T_EQ_INT(l.f[0].token, f.change_token);
	T_EQ_INT(l.f[0].uidvalidity, f.uidvalidity);
	T_EQ_INT(l.f[0].uidnext, f.uidnext);
	T_EQ_INT(l.f[0].messages, 2);
	/* A proof is where the journal goes on from (the next window of a
	 * big folder settles again): unchanged, the same status. */
	T_EQ_INT(store_settle(E.s, "INBOX", &g, &err), 0);
	T_ASSERT(g.has_status);
	T_EQ_INT(g.change_token, f.change_token);
	T_EQ_INT(g.messages, 2);

	/* The next run skips the scan at that token; its own delivery is
	 * proven from the listing the state recorded. */
	reopen_store();
	since.uidvalidity = f.uidvalidity;
	since.uidnext = f.uidnext;
	since.change_token = f.change_token;
	do_scan("INBOX", &since, &r);
	OK(&r);
	T_EQ_STR(r.method, "maildir-unchanged");
	put("INBOX", "\\Seen", 4);
	T_EQ_INT(store_settle(E.s, "INBOX", &f, &err), 0);
	T_ASSERT(f.has_status);
	T_EQ_INT(f.messages, 3);

	/* A mail program delivers during the run: no proof. */
	reopen_store();
	put("INBOX", "", 5);
	mkfile(P(p, "%s/new/1700000200.M1P2.other", E.root), msg_text(6));
	T_EQ_INT(store_settle(E.s, "INBOX", &f, &err), 0);
	T_ASSERT(!f.has_status);

	/* Nor when one changes flags (renames a file) during the run. */
	reopen_store();
	do_scan("INBOX", NULL, &r);
	OK(&r);
	put("INBOX", "", 7);
	file_of("INBOX", E.root, u3, p);
	P(q, "%sT", p);
	T_EQ_INT(rename(p, q), 0);
	T_EQ_INT(store_settle(E.s, "INBOX", &f, &err), 0);
	T_ASSERT(!f.has_status);

	/* Nor when the folder moved on from the recorded listing before the
	 * driver's first change: that listing is not the start any more. */
	do_scan("INBOX", NULL, &r);
	OK(&r);
	T_EQ_INT(store_settle(E.s, "INBOX", &f, &err), 0);
	T_ASSERT(f.has_status);
	reopen_store();
	T_EQ_INT(unlink(q), 0);
	put("INBOX", "", 8);
	T_EQ_INT(store_settle(E.s, "INBOX", &f, &err), 0);
	T_ASSERT(!f.has_status);
	close_env();
}

static const struct t_case cases[] = {
    {"append delivers into cur", test_append_delivers},
    {"append and fetch batches", test_append_batch},
    {"change tokens settle", test_token_settle},
    {"fetch returns the exact bytes", test_fetch_exact_bytes},
    {"list with status", test_list_status},
    {"scan and change tokens", test_scan_change_tokens},
    {"settle proves the driver's own changes", test_settle},
    {"flags set by ferry", test_flags_by_ferry},
    {"flags set by a mail program", test_flags_by_mail_program},
    {"new to cur keeps the uid", test_new_to_cur_keeps_uid},
    {"duplicate base name", test_duplicate_base_name},
    {"moved to another folder", test_moved_to_other_folder},
    {"keywords round trip", test_keywords},
    {"keyword limit", test_keyword_limit},
    {"maildir++ layout", test_maildirpp_layout},
    {"non-ascii names", test_non_ascii_names},
    {"hostile names refused", test_hostile_names},
    {"symlink outside the root", test_symlink_outside},
    {"replaced folder gets a new uidvalidity", test_folder_replaced},
    {"expunge removes exactly those", test_expunge_exact},
    {"operations read only their files", test_ops_read_their_files},
    {"flags on a vanished file", test_flags_on_vanished},
    {"create delete rename", test_folders},
    {"inbox children and ignored files", test_inbox_children_and_ignored},
    {"lifecycle", test_lifecycle},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
