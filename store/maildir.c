/* SPDX-License-Identifier: ISC */
/*
 * maildir.c - the Maildir driver (see maildir.h and store.h).
 *
 * A folder is a directory with cur/ new/ tmp/; a message is one file in
 * cur/ or new/, named "<base>:2,<letters>" (in new/ usually just
 * "<base>").  Every operation works on the file system at once, inside
 * the call, and only its completion is deferred through the loop.
 *
 * Invariants:
 *   1. A message's identity is its base name: the part of its file name
 *      before the first ':'.  Its UID is the state's maildir_file row for
 *      (folder, base).  Renaming a file to change its flags, or moving it
 *      from new/ to cur/, keeps its UID; a file that appears under a new
 *      base name (copied or moved in from elsewhere) is a new message.
 *   2. The file exists before its state row: append renames the file into
 *      cur/ and syncs the directory before it assigns the UID, so a crash
 *      leaves at worst a file without a UID, which the next scan numbers.
 *   3. UIDs are never reused within a UIDVALIDITY (the state's UIDNEXT only
 *      grows).  A folder gets a new UIDVALIDITY only when its directory was
 *      replaced (identity: device, inode, birth time of the folder and its
 *      cur/) and none of the files the state knows remain in it.
 *   4. One file per base name and folder.  When a scan meets a second file
 *      with the same base name (copied without renaming), the first in
 *      order (cur/ before new/, then by name) keeps the base name and its
 *      UID; every other one is renamed to a fresh base name (same
 *      directory, same flag suffix) and numbered as a new message.  No file
 *      is ever removed but by store_expunge().
 *   5. A scan is full only when cur/ and new/ were read between two equal
 *      stats of both directories; a folder that keeps changing is reported
 *      as not full, so that nothing is taken as deleted.
 *   6. The scan never forgets UIDs: a file that is gone is simply absent
 *      from the full listing.  store_expunge() forgets the UIDs it is
 *      given, also those whose files are already gone: that is how the
 *      sync engine says it has dealt with a disappearance.
 *   7. Keywords: lowercase letters map to names through the folder's
 *      "dovecot-keywords" file (Dovecot's format, "<n> <keyword>" lines, n
 *      0..25 for 'a'..'z').  A letter, once given, keeps its meaning; the
 *      file is written and synced before any file name uses a new letter;
 *      letters this driver does not understand are kept on every rename.
 *      "P" (passed) is the keyword $Forwarded.  A folder holds at most 26
 *      keywords; PERMANENTFLAGS says so once they are used up, and flags
 *      a folder cannot store are left out (as an IMAP server does).
 *   8. Nothing outside the root is touched: folder names are checked
 *      component by component, and a path whose existing part resolves
 *      (realpath) outside the root is refused.
 */
#include "store/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir_int.h"
#include "util/intern.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/sort.h"
#include "util/xalloc.h"

enum job_kind {
	JOB_DONE,
	JOB_LIST,
	JOB_SCAN,
};

/* A finished operation whose callback waits for the loop. */
struct job {
	struct job *next;
	struct maildir *md;
	uint64_t timer;
	enum job_kind kind;
	union {
		store_done_cb *done;
		store_list_cb *list;
		store_scan_cb *scan;
	} cb;
	void *arg;
	int rc;
	struct err err;
	struct flist folders;
	struct store_changes ch;
	struct store_msg *msgs;
	size_t nmsgs;
	struct intern flags; /* the msgs' flag strings */
	char *permflags;
};

/*
 * Completions.
 */

static struct job *
job_new(struct maildir *md, enum job_kind kind, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));

	md->op++;
	j->md = md;
	j->kind = kind;
	j->arg = arg;
	return j;
}

static void
job_free(struct job *j)
{
	md_flist_free(&j->folders);
	intern_free(&j->flags);
	free(j->msgs);
	free(j->permflags);
	free(j);
}

static void
job_fire(void *arg)
{
	struct job *j = arg, **pp;
	const struct err *e = j->rc < 0 ? &j->err : NULL;

	for (pp = &j->md->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	switch (j->kind) {
	case JOB_DONE:
		j->cb.done(j->arg, e);
		break;
	case JOB_LIST:
		j->cb.list(
		    j->arg, e ? NULL : j->folders.v, e ? 0 : j->folders.n, e);
		break;
	case JOB_SCAN:
		j->cb.scan(j->arg, e ? NULL : &j->ch, e);
		break;
	}
	job_free(j);
}

/* Deliver j's result from the loop, never from inside the call. */
static void
job_defer(struct job *j)
{
	j->next = j->md->jobs;
	j->md->jobs = j;
	j->timer = loop_timer_add(j->md->base.loop, 0, job_fire, j);
}

/*
 * Scanning.
 */

/* Read the folder between two equal stamps; *full when that worked. */
static int
read_stable(struct maildir *md, const struct where *w, struct ents *e,
    bool *full, struct err *err)
{
	uint64_t before, after, token;
	int i;

	for (i = 0; i < SCAN_TRIES; i++) {
		md_ents_clear(e);
		if (md_stamp(w->path, &before, &token) < 0)
			return md_fail_sys(
			    md, err, ERR_BOX, w->name, "stat %s", w->path);
		if (md_read_folder(md, w, e, err) < 0)
			return -1;
		if (md_stamp(w->path, &after, &token) < 0)
			return md_fail_sys(
			    md, err, ERR_BOX, w->name, "stat %s", w->path);
		if (before == after) {
			*full = true;
			return 0;
		}
	}
	log_debug("maildir %s: folder %s kept changing during the scan; "
		  "the listing is partial",
	    md->base.name, w->name);
	*full = false;
	return 0;
}

/* Rename e to a fresh base name (it shares its base with another file). */
static int
rename_dup(
    struct maildir *md, const struct where *w, struct ent *e, struct err *err)
{
	char from[PATH_MAX], to[PATH_MAX], base[STATE_BASE_MAX + 1];
	struct ent fresh = *e;

	if (md_unique_base(md, base, sizeof(base)) < 0)
		return md_fail(md, err, ERR_BOX, w->name, "host name too long");
	fresh.name = xasprintf("%s%s", base, e->name + e->baselen);
	fresh.baselen = strlen(base);
	if (md_ent_path(w, e, from, sizeof(from)) < 0 ||
	    md_ent_path(w, &fresh, to, sizeof(to)) < 0) {
		free(fresh.name);
		return md_fail(md, err, ERR_BOX, w->name, "path too long");
	}
	if (rename(from, to) < 0) {
		free(fresh.name);
		if (errno == ENOENT) { /* moved meanwhile: seen elsewhere */
			e->gone = true;
			return 0;
		}
		return md_fail_sys(
		    md, err, ERR_BOX, w->name, "renaming duplicate %s", from);
	}
	log_debug("maildir %s: %s shares its base name with another file; "
		  "renamed to %s",
	    md->base.name, from, to);
	free(e->name);
	*e = fresh;
	return 0;
}

/* Does p hold the empty line that ends a header block? */
static bool
header_ends(const char *p, size_t len)
{
	size_t i;

	if ((len > 0 && p[0] == '\n') ||
	    (len > 1 && p[0] == '\r' && p[1] == '\n'))
		return true;
	for (i = 0; i + 1 < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n' ||
		    (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n'))
			return true;
	}
	return false;
}

/* Count the LFs of p[0..n) without a CR before them; *prev: last byte. */
static uint64_t
bare_lfs(const char *p, size_t n, char *prev)
{
	uint64_t k = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && *prev != '\r')
			k++;
		*prev = p[i];
	}
	return k;
}

/*
 * The size of the message IMAP would give (RFC822.SIZE, every line ending
 * a CR LF): the head's n bytes and the rest of fd, plus one per bare LF.
 * A mail program writes bare LFs, a server counts CR LFs, and the
 * fingerprint holds the size: with the file's size a message copied to
 * an IMAP server would not be found there again after a crash (or a lost
 * state), and would be copied twice.  -1 on a read error.
 */
static int64_t
imap_size(int fd, const char *head, size_t n)
{
	char buf[16384], prev = '\0';
	uint64_t size = n, extra = bare_lfs(head, n, &prev);
	ssize_t r;

	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		size += (uint64_t)r;
		extra += bare_lfs(buf, (size_t)r, &prev);
	}
	return (int64_t)(size + extra);
}

/*
 * Fingerprint e from its header block (at most STORE_HEADER_MAX bytes),
 * and set its size to what IMAP would count (imap_size).
 */
static void
ent_fingerprint(const struct maildir *md, const struct where *w, struct ent *e)
{
	char p[PATH_MAX], *buf;
	size_t len = 0, want;
	ssize_t r = 0;
	int64_t size;
	int fd;

	if (md_ent_path(w, e, p, sizeof(p)) < 0 ||
	    (fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		log_debug("maildir %s: no fingerprint for %s: %s",
		    md->base.name, e->name, strerror(errno));
		return;
	}
	buf = xmalloc(STORE_HEADER_MAX);
	while (len < STORE_HEADER_MAX && !header_ends(buf, len)) {
		want = STORE_HEADER_MAX - len < 8192 ? STORE_HEADER_MAX - len
						     : 8192;
		r = read(fd, buf + len, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (r >= 0 && (size = imap_size(fd, buf, len)) >= 0)
		e->size = (uint64_t)size;
	if (r >= 0 || len > 0) {
		if (e->fp == NULL)
			e->fp = xmalloc(STORE_FP_LEN);
		store_fingerprint(buf, len, e->size, e->mtime, e->fp);
	}
	close(fd);
	free(buf);
}

/* Set e's size and mtime from its file; false when it is gone. */
static bool
ent_stat(const struct maildir *md, const struct where *w, struct ent *e)
{
	char p[PATH_MAX];
	struct stat st;

	if (md_ent_path(w, e, p, sizeof(p)) < 0 || lstat(p, &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		log_debug("maildir %s: %s/%s is gone: %s", md->base.name,
		    w->name, e->name, strerror(errno));
		e->gone = true;
		return false;
	}
	e->size = (uint64_t)st.st_size;
	e->mtime = (int64_t)st.st_mtim.tv_sec;
	return true;
}

/* The state's (uid, base) rows in base order, merged into sorted e. */
struct merge {
	struct ents *e;
	size_t i;
};

static int
merge_uid(void *arg, uint32_t uid, const char *base, struct err *err)
{
	struct merge *m = arg;
	size_t blen = strlen(base);
	int c = -1;

	(void)err;
	for (; m->i < m->e->n; m->i++) {
		const struct ent *x = &m->e->v[m->i];

		if ((c = md_base_cmp(x->name, x->baselen, base, blen)) >= 0)
			break;
	}
	if (m->i < m->e->n && c == 0)
		m->e->v[m->i++].uid = uid; /* the first file of that base */
	return m->i < m->e->n ? 0 : 1; /* 1: no file left to number */
}

/*
 * Give every file of e its UID: the known one for its base name, or a
 * new one.  The known ones come from one pass over the folder's rows in
 * base name order, merged with the sorted listing (a base the merge
 * misses is looked up again when it is numbered, so the result does not
 * depend on the two orders agreeing).  Duplicated base names are handled
 * by rename_dup() (see the invariants), and new files are numbered
 * oldest first.
 */
static int
number(struct maildir *md, const struct where *w,
    const struct state_mdfolder *f, struct ents *e, struct err *err)
{
	char base[STATE_BASE_MAX + 1];
	struct ent **fresh = NULL, *x, *prev = NULL;
	struct merge mg = {e, 0};
	size_t i, nfresh = 0;
	int r = 0;

	sort_array(e->v, e->n, sizeof(e->v[0]), md_ent_cmp);
	if (e->n > 0 && state_maildir_foreach_by_base(
			    md->state, f->id, merge_uid, &mg, err) < 0)
		return -1;
	for (i = 0; i < e->n && r >= 0; i++) {
		x = &e->v[i];
		if (prev != NULL && md_base_cmp(prev->name, prev->baselen,
					x->name, x->baselen) == 0) {
			x->uid = 0;
			r = rename_dup(md, w, x, err);
		} else
			prev = x;
	}
	if (r < 0)
		return -1;
	fresh = xreallocarray(NULL, e->n + 1, sizeof(*fresh));
	for (i = 0; i < e->n; i++)
		if (e->v[i].uid == 0 && !e->v[i].gone &&
		    ent_stat(md, w, &e->v[i]))
			fresh[nfresh++] = &e->v[i];
	sort_array(fresh, nfresh, sizeof(*fresh), md_ent_age_cmp);
	for (i = 0; i < nfresh && r >= 0; i++) {
		md_ent_base(fresh[i], base);
		r = state_maildir_assign(
		    md->state, f->id, base, &fresh[i]->uid, err);
		if (r >= 0)
			ent_fingerprint(md, w, fresh[i]);
	}
	free(fresh);
	return r < 0 ? -1 : 0;
}

/*
 * Mark the files the caller knows (flags_only: their flags are all it
 * needs), and give every other one its size, date and fingerprint.  The
 * sync engine copies and pairs those by identity, also one it lost track
 * of (a crash after delivery but before its state row) whose base name
 * is known here.  A known file costs no stat and no read.
 */
static void
describe(struct maildir *md, const struct where *w, struct ents *e,
    const struct store_since *since)
{
	struct ent *x;
	size_t i;

	for (i = 0; i < e->n; i++) {
		x = &e->v[i];
		if (x->gone || x->uid == 0)
			continue;
		if (since != NULL &&
		    store_uid_in(since->known_uids, since->nknown, x->uid)) {
			x->known = true;
			continue;
		}
		if (x->fp == NULL && ent_stat(md, w, x))
			ent_fingerprint(md, w, x);
	}
}

static int
msg_uid_cmp(const void *va, const void *vb)
{
	const struct store_msg *a = va, *b = vb;

	return (a->uid > b->uid) - (a->uid < b->uid);
}

/* Fill j's change set from the numbered files e. */
static void
report(struct job *j, const struct state_mdfolder *f, const struct ents *e,
    const struct kwmap *kw, bool full)
{
	char buf[MD_FLAGS_MAX];
	struct store_msg *m;
	struct letters l;
	size_t i;

	j->msgs = xcalloc(e->n + 1, sizeof(*j->msgs));
	for (i = 0; i < e->n; i++) {
		if (e->v[i].gone || e->v[i].uid == 0)
			continue;
		m = &j->msgs[j->nmsgs++];
		md_letters_of(&e->v[i], &l);
		m->uid = e->v[i].uid;
		m->flags = intern(&j->flags, md_letters_flags(&l, kw, buf));
		m->flags_only = e->v[i].known;
		if (m->flags_only)
			continue;
		m->size = e->v[i].size;
		m->internaldate = e->v[i].mtime;
		if (e->v[i].fp != NULL) {
			memcpy(m->fp, e->v[i].fp, STORE_FP_LEN);
			m->fp_len = STORE_FP_LEN;
		}
	}
	sort_array(j->msgs, j->nmsgs, sizeof(*j->msgs), msg_uid_cmp);
	j->ch.uidvalidity = f->uidvalidity;
	j->ch.uidnext = f->uidnext;
	j->ch.full = full;
	j->ch.msgs = j->msgs;
	j->ch.nmsgs = j->nmsgs;
	j->ch.method = "maildir";
}

static int
scan_folder(struct maildir *md, const struct where *w,
    const struct store_since *since, struct job *j, struct err *err)
{
	struct ents e = {0};
	struct kwmap kw;
	struct state_mdfolder f;
	uint64_t raw, token;
	bool full = false;

	if (md_record(md, w, &f, err) < 0 || md_kw_load(md, w, &kw, err) < 0)
		return -1;
	j->permflags = md_permflags(&kw, &j->ch.perm_keywords);
	j->ch.permflags = j->permflags;
	if (md_stamp(w->path, &raw, &token) < 0) {
		md_kw_release(&kw);
		return md_fail_sys(
		    md, err, ERR_BOX, w->name, "stat %s", w->path);
	}
	if (since != NULL && since->uidvalidity == f.uidvalidity &&
	    token != 0 && since->change_token == token) {
		j->ch.uidvalidity = f.uidvalidity;
		j->ch.uidnext = f.uidnext;
		j->ch.method = "maildir-unchanged";
		md_kw_release(&kw);
		return 0;
	}
	if (read_stable(md, w, &e, &full, err) < 0 ||
	    number(md, w, &f, &e, err) < 0 ||
	    state_maildir_folder_get(md->state, f.id, &f, err) < 0) {
		md_ents_free(&e);
		md_kw_release(&kw);
		return -1;
	}
	describe(md, w, &e,
	    since != NULL && since->uidvalidity == f.uidvalidity ? since
								 : NULL);
	report(j, &f, &e, &kw, full);
	md_journal_set(md, w, &e, full);
	md_cache_take(md, w, &e);
	md_kw_release(&kw);
	return 0;
}

/*
 * Operations: each does its work now and defers its completion.
 */

/*
 * Check folder into *w for job j; false, with j's error set, when it is
 * unusable or (must_exist) no folder.
 */
static bool
job_where(struct job *j, const char *folder, struct where *w, bool must_exist)
{
	if (md_where(j->md, folder, w, &j->err) < 0)
		j->rc = -1;
	else if (must_exist && !md_is_maildir(w->path))
		j->rc =
		    md_fail(j->md, &j->err, ERR_BOX, w->name, "no such folder");
	return j->rc == 0;
}

static void
op_scan(struct store *s, const char *folder, const struct store_since *since,
    store_scan_cb *cb, void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_SCAN, arg);
	struct where w;
	bool mine;

	j->cb.scan = cb;
	if (job_where(j, folder, &w, true) &&
	    (j->rc = md_txn_begin(md, &mine, &j->err)) == 0)
		j->rc = md_txn_end(
		    md, mine, scan_folder(md, &w, since, j, &j->err), &j->err);
	job_defer(j);
}

static void
op_list(struct store *s, store_list_cb *cb, void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_LIST, arg);
	bool mine;

	j->cb.list = cb;
	if (md->root == NULL)
		j->rc =
		    md_fail(md, &j->err, ERR_ACCOUNT, NULL, "not connected");
	else if ((j->rc = md_txn_begin(md, &mine, &j->err)) == 0)
		j->rc = md_txn_end(md, mine,
		    md_list_folders(md, &j->folders, &j->err), &j->err);
	job_defer(j);
}

/* Fetch each item; a failure of one message does not stop the others. */
static void
op_fetch_batch(struct store *s, const char *folder, struct store_item *items,
    size_t n, store_done_cb *cb, void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_DONE, arg);
	struct where w;
	size_t i;

	j->cb.done = cb;
	for (i = 0; i < n; i++)
		items[i].err.kind = ERR_NONE;
	if (job_where(j, folder, &w, true))
		for (i = 0; i < n && j->rc == 0; i++) {
			items[i].body.size = 0;
			if (md_fetch_msg(md, &w, items[i].uid, &items[i].body,
				&items[i].err) == 0 ||
			    items[i].err.kind == ERR_MSG)
				continue;
			j->err = items[i].err;
			j->rc = -1;
		}
	for (; i < n; i++)
		if (j->rc < 0)
			items[i].err = j->err;
	job_defer(j);
}

static void
op_append_batch(struct store *s, const char *folder, struct store_item *items,
    size_t n, store_done_cb *cb, void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_DONE, arg);
	struct where w;
	size_t i;

	j->cb.done = cb;
	if (job_where(j, folder, &w, true))
		j->rc = md_append_batch(md, &w, items, n, &j->err);
	else
		for (i = 0; i < n; i++) {
			items[i].uid = 0;
			items[i].err = j->err;
		}
	job_defer(j);
}

static void
op_set_flags(struct store *s, const char *folder, const uint32_t *uids,
    size_t n, const char *add, const char *remove, store_done_cb *cb, void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_DONE, arg);
	struct where w;

	j->cb.done = cb;
	if (job_where(j, folder, &w, true))
		j->rc = md_set_flags(md, &w, uids, n, add, remove, &j->err);
	job_defer(j);
}

static void
op_expunge(struct store *s, const char *folder, const uint32_t *uids, size_t n,
    store_done_cb *cb, void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_DONE, arg);
	struct where w;

	j->cb.done = cb;
	if (job_where(j, folder, &w, true))
		j->rc = md_expunge(md, &w, uids, n, &j->err);
	job_defer(j);
}

static void
op_create(struct store *s, const char *folder, store_done_cb *cb, void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_DONE, arg);
	struct where w;

	j->cb.done = cb;
	if (job_where(j, folder, &w, false))
		j->rc = md_create_folder(md, &w, &j->err);
	job_defer(j);
}

static void
op_rename(struct store *s, const char *from, const char *to, store_done_cb *cb,
    void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_DONE, arg);
	struct where wf, wt;

	j->cb.done = cb;
	md_journal_break_all(md); /* children move too */
	if (job_where(j, from, &wf, false) && job_where(j, to, &wt, false))
		j->rc = md_rename_folder(md, &wf, &wt, &j->err);
	job_defer(j);
}

static int
op_settle(struct store *s, const char *folder, struct store_folder *out,
    struct err *err)
{
	struct maildir *md = (struct maildir *)s;
	struct err ignored;
	struct where w;

	if (md_where(md, folder, &w, &ignored) < 0 || !md_is_maildir(w.path))
		return 0;
	return md_settle(md, &w, out, err);
}

static void
op_will_touch(
    struct store *s, const char *folder, const uint32_t *uids, size_t n)
{
	struct maildir *md = (struct maildir *)s;
	struct err err;
	struct where w;

	if (md_where(md, folder, &w, &err) < 0 || !md_is_maildir(w.path) ||
	    md_will_touch(md, &w, uids, n, &err) < 0)
		log_debug(
		    "maildir %s: %s: not read ahead", md->base.name, folder);
}

static void
op_delete(struct store *s, const char *folder, store_done_cb *cb, void *arg)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j = job_new(md, JOB_DONE, arg);
	struct where w;

	j->cb.done = cb;
	md_journal_break_all(md);
	if (job_where(j, folder, &w, false))
		j->rc = md_delete_folder(md, &w, &j->err);
	job_defer(j);
}

/*
 * The store.
 */

static int
op_connect(struct store *s, struct err *err)
{
	struct maildir *md = (struct maildir *)s;
	char real[PATH_MAX];
	struct stat st;

	if (md->root != NULL)
		return 0;
	if (stat(md->path, &st) < 0 && errno == ENOENT && md->create) {
		if (md_make_parents(md->path, 0, true) < 0)
			return md_fail_sys(md, err, ERR_ACCOUNT, NULL,
			    "creating %s", md->path);
	}
	if (stat(md->path, &st) < 0)
		return md_fail_sys(md, err, ERR_ACCOUNT, NULL, "%s", md->path);
	if (!S_ISDIR(st.st_mode))
		return md_fail(
		    md, err, ERR_ACCOUNT, NULL, "%s is no directory", md->path);
	if (realpath(md->path, real) == NULL)
		return md_fail_sys(md, err, ERR_ACCOUNT, NULL, "%s", md->path);
	if (md->create && md_make_subdirs(real) < 0)
		return md_fail_sys(
		    md, err, ERR_ACCOUNT, NULL, "creating %s", real);
	md->root = xstrdup(real);
	md->rootlen = strlen(real);
	return 0;
}

static void
op_free(struct store *s)
{
	struct maildir *md = (struct maildir *)s;
	struct job *j;

	while ((j = md->jobs) != NULL) {
		md->jobs = j->next;
		loop_timer_del(md->base.loop, j->timer);
		job_free(j);
	}
	md_cache_drop(md);
	md_journal_free(md);
	free(md->base.name);
	free(md->path);
	free(md->root);
	free(md);
}

static const struct store_ops maildir_ops = {
    .kind = "maildir",
    .connect = op_connect,
    .free = op_free,
    .list = op_list,
    .scan = op_scan,
    .fetch_batch = op_fetch_batch,
    .append_batch = op_append_batch,
    .set_flags = op_set_flags,
    .expunge = op_expunge,
    .create = op_create,
    .rename = op_rename,
    .delete = op_delete,
    .settle = op_settle,
    .will_touch = op_will_touch,
};

void
maildir_opts_init(struct maildir_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->layout = MAILDIR_LAYOUT_FS;
	o->fsync = true;
}

struct store *
maildir_store_new(struct loop *loop, const char *name,
    const struct maildir_opts *opts, struct err *err)
{
	const char *nm = name != NULL ? name : "maildir";
	struct maildir *md;

	if (opts == NULL || opts->path == NULL || opts->path[0] == '\0') {
		err_set(err, ERR_CONFIG, "maildir %s: no path", nm);
		return NULL;
	}
	if (opts->state == NULL) {
		err_set(err, ERR_CONFIG, "maildir %s: no state database", nm);
		return NULL;
	}
	if (opts->layout != MAILDIR_LAYOUT_FS &&
	    opts->layout != MAILDIR_LAYOUT_PP) {
		err_set(err, ERR_CONFIG, "maildir %s: unknown layout", nm);
		return NULL;
	}
	md = xcalloc(1, sizeof(*md));
	md->base.ops = &maildir_ops;
	md->base.loop = loop;
	md->base.name = xstrdup(nm);
	md->path = xstrdup(opts->path);
	md->layout = opts->layout;
	md->state = opts->state;
	md->fsync = opts->fsync;
	md->create = opts->create;
	md_set_host(md);
	return &md->base;
}
