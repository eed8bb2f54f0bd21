/* SPDX-License-Identifier: ISC */
/*
 * maildir_msg.c - messages in a Maildir folder (see maildir_int.h): the
 * flag letters of file names and the keyword mapping, and fetch, append
 * (delivery), set flags and expunge.
 *
 * Flag letters: D \Draft, F \Flagged, P $Forwarded, R \Answered, S \Seen,
 * T \Deleted; 'a'..'z' are keywords through the folder's
 * "dovecot-keywords" file (Dovecot's format: "<n> <keyword>" lines).
 * Letters written in ASCII order; letters without a meaning here are
 * kept on every rename.
 */
#define _GNU_SOURCE /* sync_file_range() */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/maildir_int.h"
#include "util/log.h"
#include "util/sort.h"
#include "util/xalloc.h"

/*
 * Keywords and flag letters.
 */

static bool
keyword_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > KW_LEN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f ||
		    strchr("(){%*\"\\]", s[i]) != NULL)
			return false;
	return true;
}

void
md_kw_release(struct kwmap *m)
{
	size_t i;

	for (i = 0; i < KW_MAX; i++)
		free(m->kw[i]);
	memset(m, 0, sizeof(*m));
}

/* Parse one "<n> <keyword>" line into m; bad lines are ignored. */
static void
kw_line(struct kwmap *m, const char *p, size_t n)
{
	size_t i = 0, idx = 0;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	while (i < n && i < 3 && p[i] >= '0' && p[i] <= '9')
		idx = idx * 10 + (size_t)(p[i++] - '0');
	if (i == 0 || i == n || p[i] != ' ' || idx >= KW_MAX ||
	    m->kw[idx] != NULL || !keyword_ok(p + i + 1, n - i - 1))
		return;
	m->kw[idx] = xstrndup(p + i + 1, n - i - 1);
}

int
md_kw_load(const struct maildir *md, const struct where *w, struct kwmap *m,
    struct err *err)
{
	char p[PATH_MAX], *buf, *s, *nl;
	ssize_t r;
	size_t len = 0;
	int fd;

	memset(m, 0, sizeof(*m));
	if (md_mkpath(p, sizeof(p), w->path, KW_FILE) < 0)
		return md_fail(md, err, ERR_BOX, w->name, "path too long");
	if ((fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0
				       : md_fail_sys(md, err, ERR_BOX, w->name,
					     "reading %s", p);
	buf = xmalloc(KW_FILE_MAX + 1);
	while (len < KW_FILE_MAX &&
	       ((r = read(fd, buf + len, KW_FILE_MAX - len)) > 0 ||
		   (r < 0 && errno == EINTR)))
		len += r > 0 ? (size_t)r : 0;
	close(fd);
	buf[len] = '\0';
	for (s = buf; s < buf + len; s = nl + 1) {
		if ((nl = memchr(s, '\n', (size_t)(buf + len - s))) == NULL)
			nl = buf + len;
		kw_line(m, s, (size_t)(nl - s));
	}
	free(buf);
	return 0;
}

/* Write m to the folder's keyword file (atomically, durably). */
static int
kw_save(const struct maildir *md, const struct where *w, struct kwmap *m,
    struct err *err)
{
	char tmp[PATH_MAX], dst[PATH_MAX], base[STATE_BASE_MAX + 1], line[300];
	int fd, n, rc = -1;
	size_t i;

	if (!m->dirty)
		return 0;
	if (md_unique_base(md, base, sizeof(base)) < 0 ||
	    snprintf(tmp, sizeof(tmp), "%s/tmp/%s", w->path, base) >=
		(int)sizeof(tmp) ||
	    md_mkpath(dst, sizeof(dst), w->path, KW_FILE) < 0)
		return md_fail(md, err, ERR_BOX, w->name, "path too long");
	if (md_make_subdirs(w->path) < 0 ||
	    (fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600)) < 0)
		return md_fail_sys(
		    md, err, ERR_BOX, w->name, "creating %s", tmp);
	for (i = 0; i < KW_MAX; i++) {
		if (m->kw[i] == NULL)
			continue;
		n = snprintf(line, sizeof(line), "%zu %s\n", i, m->kw[i]);
		if (n < 0 || (size_t)n >= sizeof(line)) {
			errno = ENAMETOOLONG;
			goto out;
		}
		if (md_write_all(fd, line, (size_t)n) < 0)
			goto out;
	}
	if (md->fsync && fsync(fd) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) < 0 || (md->fsync && md_fsync_dir(w->path) < 0))
		goto out;
	m->dirty = false;
	rc = 0;
out:
	if (rc < 0) {
		md_fail_sys(md, err, ERR_BOX, w->name, "writing %s", dst);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	return rc;
}

/* The letter of keyword kw, or a free one; 0 when all 26 are taken. */
static char
kw_letter(struct kwmap *m, const char *kw, size_t n)
{
	size_t i, free_slot = KW_MAX;

	for (i = 0; i < KW_MAX; i++) {
		if (m->kw[i] == NULL) {
			if (free_slot == KW_MAX)
				free_slot = i;
			continue;
		}
		if (strlen(m->kw[i]) == n && memcmp(m->kw[i], kw, n) == 0)
			return (char)('a' + i);
	}
	if (free_slot == KW_MAX || !keyword_ok(kw, n))
		return 0;
	m->kw[free_slot] = xstrndup(kw, n);
	m->dirty = true;
	return (char)('a' + free_slot);
}

static const struct {
	char letter;
	const char *flag;
} sysletters[] = {
    {'D', "\\Draft"},
    {'F', "\\Flagged"},
    {'P', "$Forwarded"},
    {'R', "\\Answered"},
    {'S', "\\Seen"},
    {'T', "\\Deleted"},
};

void
md_letters_of(const struct ent *e, struct letters *l)
{
	const char *p = e->name + e->baselen;

	memset(l, 0, sizeof(*l));
	if (e->in_new || strncmp(p, ":2,", 3) != 0)
		return;
	for (p += 3; *p != '\0'; p++)
		if ((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
			l->on[(unsigned char)*p] = true;
}

/* The letters in ASCII order (the Maildir spec's order). */
static void
letters_str(const struct letters *l, char out[128])
{
	size_t i, n = 0;

	for (i = 0; i < 128; i++)
		if (l->on[i])
			out[n++] = (char)i;
	out[n] = '\0';
}

/* The letter of one flag (a new one for a new keyword when there is one
 * free): 0 when this folder cannot store it. */
static char
flag_letter(struct kwmap *m, const char *f, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(sysletters) / sizeof(sysletters[0]); i++)
		if (strlen(sysletters[i].flag) == n &&
		    memcmp(sysletters[i].flag, f, n) == 0)
			return sysletters[i].letter;
	if (f[0] == '\\')
		return 0;
	return kw_letter(m, f, n);
}

/* Turn off every letter that means flag f (n bytes); there may be two. */
static void
clear_flag(struct letters *l, const struct kwmap *m, const char *f, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(sysletters) / sizeof(sysletters[0]); i++)
		if (strlen(sysletters[i].flag) == n &&
		    memcmp(sysletters[i].flag, f, n) == 0)
			l->on[(unsigned char)sysletters[i].letter] = false;
	for (i = 0; i < KW_MAX; i++)
		if (m->kw[i] != NULL && strlen(m->kw[i]) == n &&
		    memcmp(m->kw[i], f, n) == 0)
			l->on['a' + i] = false;
}

/*
 * Turn the letters of canonical flags on (giving new keywords a letter
 * when there is one free) or off in l.
 */
static void
letters_apply(struct letters *l, struct kwmap *m, const char *flags, bool on,
    const char *folder)
{
	const char *p = flags;
	size_t n;
	char c;

	while (*p != '\0') {
		n = strcspn(p, " ");
		if (n > 0 && !on)
			clear_flag(l, m, p, n);
		else if (n > 0 && (c = flag_letter(m, p, n)) != 0)
			l->on[(unsigned char)c] = true;
		else if (n > 0)
			log_debug("maildir: folder %s cannot store flag %.*s",
			    folder, (int)n, p);
		p += n + (p[n] == ' ');
	}
}

/* The canonical flags of letters l, in s. */
const char *
md_letters_flags(
    const struct letters *l, const struct kwmap *m, char s[MD_FLAGS_MAX])
{
	size_t n = 0, i, k;
	const char *f;

	for (i = 0; i < 128; i++) {
		if (!l->on[i])
			continue;
		f = NULL;
		for (k = 0; k < sizeof(sysletters) / sizeof(sysletters[0]); k++)
			if (sysletters[k].letter == (char)i)
				f = sysletters[k].flag;
		if (f == NULL && i >= 'a' && i <= 'z')
			f = m->kw[i - 'a'];
		if (f == NULL)
			continue;
		if (n > 0)
			s[n++] = ' ';
		memcpy(s + n, f, strlen(f));
		n += strlen(f);
	}
	s[n] = '\0';
	if (store_flags_norm(s, s, n + 1) < 0)
		s[0] = '\0'; /* cannot happen: every token is valid */
	return s;
}

/* PERMANENTFLAGS: the system flags and the keywords already mapped. */
char *
md_permflags(const struct kwmap *m, bool *more_out)
{
	char buf[MD_FLAGS_MAX];
	struct letters l;
	size_t i, used = 0;

	memset(&l, 0, sizeof(l));
	for (i = 0; i < sizeof(sysletters) / sizeof(sysletters[0]); i++)
		l.on[(unsigned char)sysletters[i].letter] = true;
	for (i = 0; i < KW_MAX; i++)
		if (m->kw[i] != NULL)
			l.on['a' + i] = true, used++;
	*more_out = used < KW_MAX;
	return xstrdup(md_letters_flags(&l, m, buf));
}

/* Normalize caller's flags into out, or fail with ERR_MSG. */
static int
norm_flags(const struct maildir *md, const char *folder, const char *in,
    char *out, size_t size, struct err *err)
{
	if (store_flags_norm(in ? in : "", out, size) < 0)
		return md_fail(
		    md, err, ERR_MSG, folder, "bad flag list \"%.100s\"", in);
	return 0;
}

/*
 * Fetch and append.
 */

/* Where a message's UID comes from: folder id and base name. */
static int
base_of(struct maildir *md, const struct where *w, uint32_t uid,
    struct state_mdfolder *f, char base[STATE_BASE_MAX + 1], struct err *err)
{
	int r;

	if (md_record(md, w, f, err) < 0 ||
	    (r = state_maildir_base(
		 md->state, f->id, uid, base, STATE_BASE_MAX + 1, err)) < 0)
		return -1;
	return r;
}

int
md_fetch_msg(struct maildir *md, const struct where *w, uint32_t uid,
    struct store_body *body, struct err *err)
{
	char base[STATE_BASE_MAX + 1], p[PATH_MAX];
	struct state_mdfolder f;
	struct ent *e;
	bool reading;
	int r, fd = -1, try;

	if ((r = base_of(md, w, uid, &f, base, err)) <= 0)
		return r < 0 ? -1
			     : md_fail(md, err, ERR_MSG, w->name,
				   "no message with UID %" PRIu32, uid);
	for (try = 0; fd < 0 && try < 2; try++) {
		if ((r = md_locate(md, w, base, try > 0, &e, err)) < 0)
			return -1;
		if (r == 0)
			break;
		if (md_ent_path(w, e, p, sizeof(p)) < 0 ||
		    ((fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 &&
			errno != ENOENT))
			return md_fail_sys(md, err, ERR_MSG, w->name,
			    "opening UID %" PRIu32, uid);
	}
	if (fd < 0)
		return md_fail(md, err, ERR_MSG, w->name,
		    "the file of UID %" PRIu32 " (%s) is gone", uid, base);
	r = md_copy_fd(fd, body->fd, &body->size, &reading);
	if (r < 0)
		md_fail_sys(md, err, reading ? ERR_MSG : ERR_SYS, w->name,
		    "%s UID %" PRIu32, reading ? "reading" : "writing out",
		    uid);
	close(fd);
	return r;
}

/* Write body into a new file in w's tmp/; set *fd_out and tmp. */
static int
deliver_tmp(struct maildir *md, const struct where *w, char *base, char *tmp,
    int *fd_out, struct err *err)
{
	int i, fd = -1;

	for (i = 0; fd < 0 && i < 3; i++) {
		if (md_unique_base(md, base, STATE_BASE_MAX + 1) < 0 ||
		    snprintf(tmp, PATH_MAX, "%s/tmp/%s", w->path, base) >=
			PATH_MAX)
			return md_fail(
			    md, err, ERR_BOX, w->name, "path too long");
		fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0 && errno == ENOENT && md_make_subdirs(w->path) == 0)
			fd = open(
			    tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return md_fail_sys(
		    md, err, ERR_BOX, w->name, "creating %s", tmp);
	*fd_out = fd;
	return 0;
}

/* Fill the tmp file: the body and its time (synced later, by the batch). */
static int
deliver_body(struct maildir *md, const struct where *w, int fd,
    int64_t internaldate, const struct store_body *body, struct err *err)
{
	struct timespec ts[2];
	uint64_t n;
	bool reading;

	if (md_copy_fd(body->fd, fd, &n, &reading) < 0)
		return md_fail_sys(md, err, reading ? ERR_SYS : ERR_BOX,
		    w->name, "%s the message", reading ? "reading" : "writing");
	if (body->size != 0 && n != body->size)
		return md_fail(md, err, ERR_MSG, w->name,
		    "the message has %" PRIu64 " bytes, not %" PRIu64, n,
		    body->size);
	if (internaldate > 0) {
		ts[0].tv_sec = ts[1].tv_sec = (time_t)internaldate;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (futimens(fd, ts) < 0)
			return md_fail_sys(
			    md, err, ERR_BOX, w->name, "futimens");
	}
#ifdef SYNC_FILE_RANGE_WRITE
	/* Start the write-back now, so that the batch's fsync() calls find
	 * the data on its way and share one journal commit. */
	if (md->fsync)
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	return 0;
}

/* One message of an append batch on its way in. */
struct delivery {
	char base[STATE_BASE_MAX + 1];
	char letters[128];
	char tmp[PATH_MAX];
	int fd; /* tmp/<base> while written, else -1 */
	enum {
		D_NONE,
		D_TMP,
		D_CUR
	} at; /* where the file is */
};

/* Give every item not yet decided the batch's error. */
static void
items_fail(struct store_item *items, size_t n, const struct err *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i].err.kind == ERR_NONE && items[i].uid == 0)
			items[i].err = *err;
}

/*
 * Write every item's file into tmp/ (flags as letters, keywords in the
 * folder's keyword file first); per-item failures land in items[i].err.
 */
static int
deliver_all(struct maildir *md, const struct where *w, struct store_item *items,
    struct delivery *d, size_t n, struct err *err)
{
	char norm[STATE_FLAGS_MAX + 1];
	struct letters l;
	struct kwmap kw;
	size_t i;
	int rc = -1;

	if (md_kw_load(md, w, &kw, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (norm_flags(md, w->name, items[i].flags, norm, sizeof(norm),
			&items[i].err) < 0)
			continue;
		memset(&l, 0, sizeof(l));
		letters_apply(&l, &kw, norm, true, w->name);
		letters_str(&l, d[i].letters);
	}
	/* The keyword file is on disk before any name uses its letters. */
	if (kw_save(md, w, &kw, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (items[i].err.kind != ERR_NONE)
			continue;
		if (deliver_tmp(md, w, d[i].base, d[i].tmp, &d[i].fd, err) < 0)
			goto out;
		d[i].at = D_TMP;
		if (deliver_body(md, w, d[i].fd, items[i].internaldate,
			&items[i].body, &items[i].err) < 0) {
			close(d[i].fd);
			d[i].fd = -1;
			unlink(d[i].tmp);
			d[i].at = D_NONE;
			if (items[i].err.kind != ERR_MSG) {
				*err = items[i].err;
				items[i].err.kind = ERR_NONE;
				goto out;
			}
		}
	}
	rc = 0;
out:
	md_kw_release(&kw);
	return rc;
}

/*
 * Deliver a batch.  Every file is written into tmp/ (O_EXCL) with its
 * body and time; then all are synced (their write-back started as each
 * was written), renamed into cur/<base>:2,<letters>, and cur/ synced
 * once; only then are the UIDs given, in one transaction.
 *
 * Why one sync round per batch is as safe as one per message: a file's
 * data is on disk before its name enters cur/, and the names are on disk
 * before the state records them, so a crash at any point leaves files in
 * tmp/ (never read as messages), or complete files in cur/ without UIDs
 * (the next scan numbers them, and the sync engine's intents pair them
 * with their source), never a half-written message nor a UID without a
 * file.
 */
int
md_append_batch(struct maildir *md, const struct where *w,
    struct store_item *items, size_t n, struct err *err)
{
	struct delivery *d = xcalloc(n ? n : 1, sizeof(*d));
	struct state_mdfolder f;
	char dst[PATH_MAX];
	size_t i, moved = 0;
	bool mine;
	int rc = -1;

	for (i = 0; i < n; i++) {
		d[i].fd = -1;
		items[i].uid = 0;
		items[i].err.kind = ERR_NONE;
		items[i].err.msg[0] = '\0';
	}
	if (md_record(md, w, &f, err) < 0)
		goto out;
	md_journal_begin(md, w);
	if (deliver_all(md, w, items, d, n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (d[i].fd < 0)
			continue;
		if ((md->fsync && fsync(d[i].fd) < 0) || close(d[i].fd) < 0) {
			d[i].fd = -1;
			md_fail_sys(
			    md, err, ERR_BOX, w->name, "writing %s", d[i].tmp);
			goto out;
		}
		d[i].fd = -1;
	}
	for (i = 0; i < n; i++) {
		if (d[i].at != D_TMP)
			continue;
		if (snprintf(dst, sizeof(dst), "%s/cur/%s:2,%s", w->path,
			d[i].base, d[i].letters) >= (int)sizeof(dst)) {
			md_fail(md, err, ERR_BOX, w->name, "path too long");
			goto out;
		}
		if (rename(d[i].tmp, dst) < 0) {
			md_fail_sys(
			    md, err, ERR_BOX, w->name, "rename to %s", dst);
			goto out;
		}
		md_journal_add(md, w, strrchr(dst, '/') + 1, false);
		d[i].at = D_CUR;
		moved++;
	}
	if (moved > 0 && md->fsync && md_fsync_sub(w->path, "cur") < 0) {
		md_fail_sys(md, err, ERR_BOX, w->name, "fsync cur/");
		goto out;
	}
	if (md_txn_begin(md, &mine, err) < 0)
		goto out;
	rc = 0;
	for (i = 0; i < n && rc == 0; i++)
		if (d[i].at == D_CUR)
			rc = state_maildir_assign(
			    md->state, f.id, d[i].base, &items[i].uid, err);
	if ((rc = md_txn_end(md, mine, rc, err)) < 0)
		for (i = 0; i < n; i++)
			items[i].uid = 0;
out:
	for (i = 0; i < n; i++) {
		if (d[i].fd >= 0)
			close(d[i].fd);
		if (d[i].at == D_TMP)
			unlink(d[i].tmp);
	}
	if (rc < 0) {
		items_fail(items, n, err);
		md_journal_break(md, w);
	}
	free(d);
	return rc;
}

/*
 * Flags and expunge.
 */

/* What md_set_flags() does to every message. */
struct flagop {
	char add[STATE_FLAGS_MAX + 1];
	char remove[STATE_FLAGS_MAX + 1];
	struct kwmap kw;
	bool moved_new; /* a file left new/: sync it too */
};

/* Rename uid's file to carry op's flags; 1 when renamed, 0 unchanged. */
static int
flag_one(struct maildir *md, const struct where *w, struct flagop *op,
    uint32_t uid, struct err *err)
{
	char base[STATE_BASE_MAX + 1], from[PATH_MAX], to[PATH_MAX], str[128];
	struct state_mdfolder f;
	struct letters l;
	struct ent *e, moved;
	int r, try;

	if ((r = base_of(md, w, uid, &f, base, err)) <= 0)
		return r < 0 ? -1
			     : md_fail(md, err, ERR_MSG, w->name,
				   "no message with UID %" PRIu32, uid);
	for (try = 0; try < 2; try++) {
		if ((r = md_locate(md, w, base, try > 0, &e, err)) <= 0)
			break;
		md_letters_of(e, &l);
		letters_apply(&l, &op->kw, op->add, true, w->name);
		letters_apply(&l, &op->kw, op->remove, false, w->name);
		letters_str(&l, str);
		moved = *e;
		moved.in_new = false;
		moved.name = xasprintf("%s:2,%s", base, str);
		if (strlen(moved.name) > NAME_MAX ||
		    md_ent_path(w, e, from, sizeof(from)) < 0 ||
		    md_ent_path(w, &moved, to, sizeof(to)) < 0) {
			free(moved.name);
			return md_fail(md, err, ERR_MSG, w->name,
			    "file name of UID %" PRIu32 " too long", uid);
		}
		if (strcmp(from, to) == 0) {
			free(moved.name);
			return 0;
		}
		if (rename(from, to) == 0) {
			op->moved_new |= e->in_new;
			md_journal_del(md, w, e->name, e->in_new);
			md_journal_add(md, w, moved.name, false);
			free(e->name);
			*e = moved;
			return 1;
		}
		free(moved.name);
		md_journal_break(md, w); /* gone, or moved by someone else */
		if (errno != ENOENT)
			return md_fail_sys(md, err, ERR_MSG, w->name,
			    "renaming UID %" PRIu32, uid);
	}
	md_journal_break(md, w); /* its file is not there */
	return r < 0
		   ? -1
		   : md_fail(md, err, ERR_MSG, w->name,
			 "the file of UID %" PRIu32 " (%s) is gone", uid, base);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Before acting on these n UIDs of w: the directory cache need only
 * hold their files (unless it holds the whole folder, or these files
 * were read ahead).  A few hundred changes in a folder of 100,000 files
 * then keep a few hundred names, not the whole listing (10 MB).
 */
int
md_will_touch(struct maildir *md, const struct where *w, const uint32_t *uids,
    size_t n, struct err *err)
{
	char base[STATE_BASE_MAX + 1], **bases;
	struct state_mdfolder f;
	size_t i, k = 0;
	int r = 0;

	if (md_cache_whole(md, w))
		return 0; /* a scan left the whole listing */
	bases = xcalloc(n + 1, sizeof(*bases));
	for (i = 0; i < n && r >= 0; i++)
		if ((r = base_of(md, w, uids[i], &f, base, err)) > 0)
			bases[k++] = xstrdup(base);
	if (r >= 0) {
		sort_array(bases, k, sizeof(*bases), cmp_str);
		r = md_cache_some(md, w, bases, k, err);
	}
	for (i = 0; i < k; i++)
		free(bases[i]);
	free(bases);
	return r < 0 ? -1 : 0;
}

/* Run fn on every uid; keep going after errors, report the first. */
static int
each_uid(struct maildir *md, const struct where *w, const uint32_t *uids,
    size_t n,
    int (*fn)(
	struct maildir *, const struct where *, void *, uint32_t, struct err *),
    void *arg, size_t *changed, struct err *err)
{
	struct err one;
	size_t i;
	int r, rc = 0;

	for (i = 0; i < n; i++) {
		err_clear(&one);
		r = fn(md, w, arg, uids[i], &one);
		if (r > 0)
			(*changed)++;
		if (r < 0 && rc == 0)
			*err = one;
		if (r < 0)
			rc = -1;
		if (r < 0 && one.kind != ERR_MSG)
			break;
	}
	return rc;
}

static int
flag_each(struct maildir *md, const struct where *w, void *arg, uint32_t uid,
    struct err *err)
{
	return flag_one(md, w, arg, uid, err);
}

int
md_set_flags(struct maildir *md, const struct where *w, const uint32_t *uids,
    size_t n, const char *add, const char *remove, struct err *err)
{
	struct flagop *op = xcalloc(1, sizeof(*op));
	struct letters l;
	size_t changed = 0;
	int rc = -1;

	if (norm_flags(md, w->name, add, op->add, sizeof(op->add), err) < 0 ||
	    norm_flags(
		md, w->name, remove, op->remove, sizeof(op->remove), err) < 0 ||
	    md_kw_load(md, w, &op->kw, err) < 0)
		goto out;
	/* New keywords get their letters, on disk, before any rename. */
	memset(&l, 0, sizeof(l));
	letters_apply(&l, &op->kw, op->add, true, w->name);
	if (kw_save(md, w, &op->kw, err) < 0)
		goto out;
	md_journal_begin(md, w);
	if (md_will_touch(md, w, uids, n, err) < 0)
		goto out;
	rc = each_uid(md, w, uids, n, flag_each, op, &changed, err);
	if (changed > 0 && md->fsync &&
	    (md_fsync_sub(w->path, "cur") < 0 ||
		(op->moved_new && md_fsync_sub(w->path, "new") < 0)))
		rc = md_fail_sys(md, err, ERR_BOX, w->name, "fsync");
out:
	md_kw_release(&op->kw);
	free(op);
	return rc;
}

/* Unlink uid's file (gone already is fine) and forget the UID. */
static int
expunge_one(struct maildir *md, const struct where *w, void *arg, uint32_t uid,
    struct err *err)
{
	char base[STATE_BASE_MAX + 1], p[PATH_MAX];
	struct state_mdfolder f;
	struct ent *e;
	int r, try;

	(void)arg;
	if ((r = base_of(md, w, uid, &f, base, err)) <= 0)
		return r; /* unknown: nothing to remove */
	for (try = 0; try < 2; try++) {
		if ((r = md_locate(md, w, base, try > 0, &e, err)) < 0)
			return -1;
		if (r == 0)
			break;
		if (md_ent_path(w, e, p, sizeof(p)) < 0)
			return md_fail(
			    md, err, ERR_MSG, w->name, "path too long");
		if (unlink(p) == 0) {
			md_journal_del(md, w, e->name, e->in_new);
			e->gone = true;
			break;
		}
		md_journal_break(md, w); /* gone already, or cannot go */
		if (errno != ENOENT)
			return md_fail_sys(md, err, ERR_MSG, w->name,
			    "removing UID %" PRIu32, uid);
	}
	if (r == 0)
		md_journal_break(md, w); /* its file was gone */
	if (state_maildir_forget(md->state, f.id, uid, err) < 0)
		return -1;
	return 1;
}

int
md_expunge(struct maildir *md, const struct where *w, const uint32_t *uids,
    size_t n, struct err *err)
{
	size_t changed = 0;
	bool mine;
	int rc;

	if (md_txn_begin(md, &mine, err) < 0)
		return -1;
	md_journal_begin(md, w);
	rc = md_will_touch(md, w, uids, n, err);
	if (rc == 0)
		rc = each_uid(md, w, uids, n, expunge_one, NULL, &changed, err);
	/* Forget what was removed even when another message failed. */
	if (md_txn_end(md, mine, 0, err) < 0)
		return -1;
	if (changed > 0 && md->fsync &&
	    (md_fsync_sub(w->path, "cur") < 0 ||
		md_fsync_sub(w->path, "new") < 0))
		return md_fail_sys(md, err, ERR_BOX, w->name, "fsync");
	return rc;
}
