/* SPDX-License-Identifier: ISC */
/*
 * maildir_folder.c - Maildir folders (see maildir_int.h): their records
 * in the state and how a replaced directory is noticed, change tokens,
 * listing the tree, and create, rename and delete.
 */
#define _GNU_SOURCE /* statx(): directory birth times */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/maildir_int.h"
#include "util/log.h"
#include "util/sort.h"
#include "util/xalloc.h"

/*
 * Records in the state, and change tokens.
 */

/* Open a transaction unless the caller has one; *mine says if we did. */
int
md_txn_begin(struct maildir *md, bool *mine, struct err *err)
{
	*mine = !state_in_transaction(md->state);
	return *mine ? state_begin(md->state, err) : 0;
}

/* Commit ours when rc is 0, else roll it back; return rc or -1. */
int
md_txn_end(struct maildir *md, bool mine, int rc, struct err *err)
{
	struct err ignored;

	if (!mine)
		return rc;
	if (rc == 0 && state_commit(md->state, err) == 0)
		return 0;
	state_rollback(md->state, &ignored);
	return -1;
}

/* Append "dev.ino.birth;" of path to out. */
static int
ident_add(const char *path, char *out, size_t size)
{
	size_t n = strlen(out);
	int r;
#ifdef STATX_BTIME
	struct statx sx;

	if (statx(AT_FDCWD, path, 0, STATX_INO | STATX_BTIME, &sx) < 0)
		return -1;
	if (!(sx.stx_mask & STATX_BTIME))
		sx.stx_btime.tv_sec = 0, sx.stx_btime.tv_nsec = 0;
	r = snprintf(out + n, size - n, "%u:%u.%llu.%lld.%u;", sx.stx_dev_major,
	    sx.stx_dev_minor, (unsigned long long)sx.stx_ino,
	    (long long)sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec);
#else
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	r = snprintf(out + n, size - n, "%llu.%llu;",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
#endif
	if (r < 0 || (size_t)r >= size - n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
stop_at_first(void *arg, uint32_t uid, const char *base, struct err *err)
{
	(void)uid, (void)base, (void)err;
	*(bool *)arg = true;
	return 1;
}

/*
 * The directory of folder w (record f) was replaced.  If none of the
 * files the state knows is in it (and the state knows some), it is
 * another folder under the same name: start over with a new
 * UIDVALIDITY, so that the sync engine re-pairs by fingerprint instead
 * of taking every message as deleted.
 */
static int
renew(struct maildir *md, const struct where *w, struct state_mdfolder *f,
    struct err *err)
{
	char base[STATE_BASE_MAX + 1];
	struct ents e = {0};
	bool any = false;
	uint32_t uid;
	size_t i;
	int r = 0;

	if (md_read_folder(md, w, &e, err) < 0)
		r = -1;
	for (i = 0; r == 0 && i < e.n; i++) {
		md_ent_base(&e.v[i], base);
		r = state_maildir_lookup(md->state, f->id, base, &uid, err);
	}
	md_ents_free(&e);
	if (r != 0)
		return r < 0 ? -1 : 0; /* a known file: the same folder */
	if (state_maildir_foreach(md->state, f->id, stop_at_first, &any, err) <
	    0)
		return -1;
	if (!any)
		return 0;
	log_debug("maildir %s: folder %s was replaced; new UIDVALIDITY",
	    md->base.name, w->name);
	return state_maildir_folder_reset(md->state, f->id, f, err);
}

/*
 * md_record(md, w, f, err): the state's record of folder w, created on
 * first sight.  Each record remembers its directory's identity (meta
 * "maildir.dir.<id>"); when the directory is another one now, renew()
 * decides what that means before anything else looks at the folder.
 */
int
md_record(struct maildir *md, const struct where *w, struct state_mdfolder *f,
    struct err *err)
{
	char cur[PATH_MAX], old[STATE_META_MAX + 1], key[64];
	char ident[IDENT_MAX] = "";
	int r;

	if (state_maildir_folder(md->state, w->name, f, err) < 0)
		return -1;
	if (md_mkpath(cur, sizeof(cur), w->path, "cur") < 0 ||
	    ident_add(w->path, ident, sizeof(ident)) < 0 ||
	    ident_add(cur, ident, sizeof(ident)) < 0)
		return md_fail_sys(
		    md, err, ERR_BOX, w->name, "stat %s", w->path);
	snprintf(key, sizeof(key), "maildir.dir.%" PRId64, f->id);
	r = state_meta_get(md->state, key, old, sizeof(old), err);
	if (r < 0)
		return -1;
	if (r == 1 && old[0] != '\0') {
		if (strcmp(old, ident) == 0)
			return 0;
		if (renew(md, w, f, err) < 0)
			return -1;
	}
	return state_meta_set(md->state, key, ident, err);
}

static void
mix(uint64_t *h, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8) {
		*h ^= v & 0xff;
		*h *= 0x100000001b3ULL; /* FNV-1a */
	}
}

/*
 * How many ms mtime m stays too fresh to prove anything, from now (0:
 * settled): a file added in the same clock tick as our look would not
 * move it.  Nanosecond mtimes tick with the kernel's clock (a few ms):
 * SETTLE_MS covers that; a file system that keeps whole seconds (or a
 * mtime that happens to fall on one) gets SETTLE_SEC.
 */
static int64_t
unsettled_ms(const struct timespec *m, const struct timespec *now)
{
	int64_t age = ((int64_t)now->tv_sec - (int64_t)m->tv_sec) * 1000 +
		      ((int64_t)now->tv_nsec - (int64_t)m->tv_nsec) / 1000000;
	int64_t need = m->tv_nsec == 0 ? SETTLE_SEC * 1000 : SETTLE_MS;

	return age > need ? 0 : need - age + 1;
}

int
md_stamp(const char *dir, uint64_t *raw, uint64_t *token)
{
	int64_t wait_ms;

	return md_stamp_wait(dir, raw, token, &wait_ms);
}

/*
 * The change token of folder dir: a hash of the nanosecond mtimes and
 * inodes of cur/ and new/ (*raw), and the same as *token unless either
 * directory changed too recently (unsettled_ms()), when *token is 0
 * ("rescan") and *wait_ms says how long until it would not be.
 */
int
md_stamp_wait(const char *dir, uint64_t *raw, uint64_t *token, int64_t *wait_ms)
{
	char p[PATH_MAX];
	struct stat c, n;
	struct timespec now;
	uint64_t h = 0xcbf29ce484222325ULL;
	int64_t wc, wn;

	if (md_mkpath(p, sizeof(p), dir, "cur") < 0 || stat(p, &c) < 0 ||
	    md_mkpath(p, sizeof(p), dir, "new") < 0 || stat(p, &n) < 0)
		return -1;
	mix(&h, (uint64_t)c.st_mtim.tv_sec);
	mix(&h, (uint64_t)c.st_mtim.tv_nsec);
	mix(&h, (uint64_t)n.st_mtim.tv_sec);
	mix(&h, (uint64_t)n.st_mtim.tv_nsec);
	mix(&h, (uint64_t)c.st_ino);
	mix(&h, (uint64_t)n.st_ino);
	/* 63 bits: callers keep it where a signed 64-bit integer goes
	 * (the state database's mod-sequence column). */
	h &= INT64_MAX;
	*raw = h != 0 ? h : 1;
	clock_gettime(CLOCK_REALTIME, &now);
	wc = unsettled_ms(&c.st_mtim, &now);
	wn = unsettled_ms(&n.st_mtim, &now);
	*wait_ms = wc > wn ? wc : wn;
	*token = *wait_ms == 0 ? *raw : 0;
	return 0;
}

/*
 * Listing.
 */

typedef int walk_fn(struct maildir *, const char *name, const char *path,
    bool selectable, void *arg, struct err *);

/*
 * Is path a directory inside the root?  *link says it is reached through
 * a symbolic link (which must stay inside the root).
 */
static bool
walk_dir_ok(const struct maildir *md, const char *path, bool *link)
{
	char real[PATH_MAX];
	struct stat st;

	if (lstat(path, &st) < 0)
		return false;
	*link = S_ISLNK(st.st_mode);
	if (*link && (stat(path, &st) < 0 || realpath(path, real) == NULL ||
			 !md_inside(md, real))) {
		log_debug("maildir %s: skipping %s: a symbolic link that "
			  "leads nowhere or outside the root",
		    md->base.name, path);
		return false;
	}
	return S_ISDIR(st.st_mode);
}

/* Join prefix "/" n into out (STATE_NAME_MAX + 1 bytes); false if long. */
static bool
walk_name(char *out, const char *prefix, const char *n)
{
	int r = prefix ? snprintf(out, STATE_NAME_MAX + 1, "%s/%s", prefix, n)
		       : snprintf(out, STATE_NAME_MAX + 1, "%s", n);

	return r > 0 && r <= STATE_NAME_MAX;
}

/* fs layout: every directory below dir, recursively. */
static int
walk_fs(struct maildir *md, const char *dir, const char *prefix, int depth,
    walk_fn *fn, void *arg, struct err *err)
{
	char name[STATE_NAME_MAX + 1], path[PATH_MAX];
	struct dirent *de;
	bool link;
	int rc = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return depth == 0 ? md_fail_sys(md, err, ERR_ACCOUNT, NULL,
					"reading %s", dir)
				  : 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (n[0] == '.' || md_component_problem(md, n, strlen(n)) ||
		    !walk_name(name, prefix, n) ||
		    md_name_problem(md, name) != NULL ||
		    md_mkpath(path, sizeof(path), dir, n) < 0 ||
		    !walk_dir_ok(md, path, &link))
			continue;
		if (depth == 0 && strcasecmp(n, "INBOX") == 0) {
			/* the root is INBOX; INBOX/x lives in INBOX/ */
			if (strcmp(n, "INBOX") == 0 && !link)
				rc = walk_fs(
				    md, path, name, depth + 1, fn, arg, err);
			continue;
		}
		rc = fn(md, name, path, md_is_maildir(path), arg, err);
		if (rc == 0 && !link && depth + 1 < DEPTH_MAX)
			rc = walk_fs(md, path, name, depth + 1, fn, arg, err);
	}
	closedir(d);
	return rc;
}

/* Maildir++: every ".a.b" directory of the root is folder "a/b". */
static int
walk_pp(struct maildir *md, walk_fn *fn, void *arg, struct err *err)
{
	char name[STATE_NAME_MAX + 1], path[PATH_MAX];
	struct dirent *de;
	bool link;
	size_t i;
	int rc = 0;
	DIR *d;

	if ((d = opendir(md->root)) == NULL)
		return md_fail_sys(
		    md, err, ERR_ACCOUNT, NULL, "reading %s", md->root);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (n[0] != '.' || !walk_name(name, NULL, n + 1))
			continue;
		for (i = 0; name[i] != '\0'; i++)
			if (name[i] == '.')
				name[i] = '/';
		if (md_name_problem(md, name) != NULL || md_not_inbox(name) ||
		    md_mkpath(path, sizeof(path), md->root, n) < 0 ||
		    !walk_dir_ok(md, path, &link) || !md_is_maildir(path))
			continue;
		rc = fn(md, name, path, true, arg, err);
	}
	closedir(d);
	return rc;
}

/* Call fn for INBOX and every folder of the tree. */
static int
walk(struct maildir *md, walk_fn *fn, void *arg, struct err *err)
{
	if (md_is_maildir(md->root) &&
	    fn(md, "INBOX", md->root, true, arg, err) < 0)
		return -1;
	if (md->layout == MAILDIR_LAYOUT_PP)
		return walk_pp(md, fn, arg, err);
	return walk_fs(md, md->root, NULL, 0, fn, arg, err);
}

/* The status of one selectable folder for a listing. */
static int
list_status(struct maildir *md, const struct where *w, struct store_folder *sf,
    struct err *err)
{
	struct state_mdfolder f;
	uint64_t raw;
	struct tally t = {0, 0};
	struct err ignored;

	if (md_record(md, w, &f, err) < 0)
		return -1;
	if (md_stamp(w->path, &raw, &sf->change_token) < 0 ||
	    md_read_sub(md, w, true, NULL, &t, &ignored) < 0 ||
	    md_read_sub(md, w, false, NULL, &t, &ignored) < 0) {
		log_debug(
		    "maildir %s: no status for %s", md->base.name, w->name);
		return 0;
	}
	sf->has_status = true;
	sf->uidvalidity = f.uidvalidity;
	sf->uidnext = f.uidnext;
	sf->messages = t.count > UINT32_MAX ? UINT32_MAX : (uint32_t)t.count;
	return 0;
}

static int
list_one(struct maildir *md, const char *name, const char *path,
    bool selectable, void *arg, struct err *err)
{
	struct flist *fl = arg;
	struct store_folder *sf;
	struct where w;

	if (fl->n == fl->cap) {
		fl->cap = fl->cap ? fl->cap * 2 : 16;
		fl->v = xreallocarray(fl->v, fl->cap, sizeof(*fl->v));
	}
	sf = &fl->v[fl->n++];
	memset(sf, 0, sizeof(*sf));
	sf->name = xstrdup(name);
	sf->attrs = selectable ? 0 : STORE_NOSELECT;
	if (!selectable)
		return 0;
	snprintf(w.name, sizeof(w.name), "%s", name);
	snprintf(w.path, sizeof(w.path), "%s", path);
	return list_status(md, &w, sf, err);
}

/* INBOX first, then by name. */
static int
folder_cmp(const void *va, const void *vb)
{
	const struct store_folder *a = va, *b = vb;
	int ai = strcmp(a->name, "INBOX") == 0,
	    bi = strcmp(b->name, "INBOX") == 0;

	if (ai != bi)
		return bi - ai;
	return strcmp(a->name, b->name);
}

int
md_list_folders(struct maildir *md, struct flist *fl, struct err *err)
{
	if (walk(md, list_one, fl, err) < 0)
		return -1;
	if (fl->n > 1)
		sort_array(fl->v, fl->n, sizeof(*fl->v), folder_cmp);
	return 0;
}

void
md_flist_free(struct flist *fl)
{
	size_t i;

	for (i = 0; i < fl->n; i++)
		free(fl->v[i].name);
	free(fl->v);
	memset(fl, 0, sizeof(*fl));
}

/*
 * Create, rename, delete.
 */

/* The directory that holds w's directory. */
static void
parent_of(const struct where *w, char *out)
{
	char *slash;

	memcpy(out, w->path, strlen(w->path) + 1);
	if ((slash = strrchr(out, '/')) != NULL && slash != out)
		*slash = '\0';
}

int
md_create_folder(struct maildir *md, const struct where *w, struct err *err)
{
	char parent[PATH_MAX];
	struct state_mdfolder f;

	if (!md_is_maildir(w->path)) {
		if ((md->layout == MAILDIR_LAYOUT_FS &&
			md_make_parents(w->path, md->rootlen, true) < 0) ||
		    md_mkdir_ok(w->path) < 0)
			return md_fail_sys(
			    md, err, ERR_BOX, w->name, "creating %s", w->path);
		/* A directory made meanwhile could be a link: check again. */
		if (md_confine(md, w, err) < 0)
			return -1;
	}
	if (md_make_subdirs(w->path) < 0)
		return md_fail_sys(
		    md, err, ERR_BOX, w->name, "creating %s", w->path);
	parent_of(w, parent);
	if (md->fsync &&
	    (md_fsync_dir(w->path) < 0 || md_fsync_dir(parent) < 0))
		return md_fail_sys(md, err, ERR_BOX, w->name, "fsync");
	return md_record(md, w, &f, err);
}

/* Names of a folder and everything below it, as found on disk. */
struct subtree {
	const char *top;
	char **names;
	char **paths;
	size_t n, cap;
};

static int
subtree_add(struct maildir *md, const char *name, const char *path,
    bool selectable, void *arg, struct err *err)
{
	struct subtree *t = arg;
	size_t n = strlen(t->top);

	(void)md, (void)selectable, (void)err;
	if (strncmp(name, t->top, n) != 0 ||
	    (name[n] != '\0' && name[n] != '/'))
		return 0;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->names = xreallocarray(t->names, t->cap, sizeof(char *));
		t->paths = xreallocarray(t->paths, t->cap, sizeof(char *));
	}
	t->names[t->n] = xstrdup(name);
	t->paths[t->n++] = xstrdup(path);
	return 0;
}

static void
subtree_free(struct subtree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->names[i]), free(t->paths[i]);
	free(t->names);
	free(t->paths);
}

/* Maildir++: rename every ".from.x" to ".to.x"; targets checked first. */
static int
rename_pp(struct maildir *md, const struct subtree *t, const char *to,
    struct err *err)
{
	struct where *dst = xcalloc(t->n ? t->n : 1, sizeof(*dst));
	char name[STATE_NAME_MAX + 2];
	struct stat st;
	size_t i, n = strlen(t->top);
	int rc = -1;

	for (i = 0; i < t->n; i++) {
		if (snprintf(name, sizeof(name), "%s%s", to, t->names[i] + n) >
		    STATE_NAME_MAX) {
			md_fail(
			    md, err, ERR_BOX, t->names[i], "new name too long");
			goto out;
		}
		if (md_where(md, name, &dst[i], err) < 0)
			goto out;
		if (lstat(dst[i].path, &st) == 0) {
			md_fail(md, err, ERR_BOX, name, "exists already");
			goto out;
		}
	}
	for (i = 0; i < t->n; i++)
		if (rename(t->paths[i], dst[i].path) < 0) {
			md_fail_sys(md, err, ERR_BOX, t->names[i],
			    "renaming to %s", dst[i].path);
			goto out;
		}
	rc = 0;
out:
	free(dst);
	return rc;
}

int
md_rename_folder(struct maildir *md, const struct where *from,
    const struct where *to, struct err *err)
{
	struct subtree t = {from->name, NULL, NULL, 0, 0};
	struct stat st;
	size_t i, n = strlen(from->name);
	int rc = -1;

	if (strcmp(from->name, "INBOX") == 0 || strcmp(to->name, "INBOX") == 0)
		return md_fail(md, err, ERR_BOX, from->name,
		    "renaming to or from INBOX is not supported");
	if (lstat(from->path, &st) < 0)
		return md_fail(md, err, ERR_BOX, from->name, "no such folder");
	if (lstat(to->path, &st) == 0)
		return md_fail(md, err, ERR_BOX, to->name, "exists already");
	if (strncmp(to->name, from->name, n) == 0 && to->name[n] == '/')
		return md_fail(md, err, ERR_BOX, from->name,
		    "cannot move a folder into itself");
	if (walk(md, subtree_add, &t, err) < 0)
		goto out;
	if (md->layout == MAILDIR_LAYOUT_PP)
		rc = rename_pp(md, &t, to->name, err);
	else if (md_make_parents(to->path, md->rootlen, false) < 0 ||
		 rename(from->path, to->path) < 0)
		rc = md_fail_sys(
		    md, err, ERR_BOX, from->name, "renaming to %s", to->path);
	else
		rc = 0;
	/* The moved folders start over under their new names. */
	for (i = 0; rc == 0 && i < t.n; i++)
		rc = state_maildir_folder_delete(md->state, t.names[i], err);
	if (rc == 0 && md->fsync && md_fsync_dir(md->root) < 0)
		rc = md_fail_sys(md, err, ERR_BOX, to->name, "fsync");
out:
	md_cache_drop(md);
	subtree_free(&t);
	return rc;
}

/* Files a folder may hold besides messages: other programs' indexes. */
static bool
is_metadata(const char *n)
{
	return strcmp(n, "maildirfolder") == 0 ||
	       strncmp(n, "dovecot", 7) == 0 ||
	       strncmp(n, "courierimap", 11) == 0;
}

/*
 * What is in w's directory besides cur/ new/ tmp/: *children says it has
 * subfolders (fs layout); anything unknown fails.
 */
static int
delete_check(
    struct maildir *md, const struct where *w, bool *children, struct err *err)
{
	struct dirent *de;
	struct stat st;
	int rc = 0;
	DIR *d;

	*children = false;
	if ((d = opendir(w->path)) == NULL)
		return md_fail_sys(
		    md, err, ERR_BOX, w->name, "reading %s", w->path);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
		    strcmp(n, "cur") == 0 || strcmp(n, "new") == 0 ||
		    strcmp(n, "tmp") == 0 || is_metadata(n))
			continue;
		if (md->layout == MAILDIR_LAYOUT_FS && n[0] != '.' &&
		    fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			*children = true;
			continue;
		}
		rc = md_fail(md, err, ERR_BOX, w->name,
		    "holds other files (%.100s); not deleting it", n);
	}
	closedir(d);
	return rc;
}

/* Remove the plain files in dir (tmp/ leftovers, metadata). */
static int
remove_files(const char *dir, bool only_metadata)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || strcmp(de->d_name, "..") == 0))
			continue;
		if (only_metadata && !is_metadata(de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT &&
		    errno != EISDIR)
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* Add the number of entries of w's sub (messages or not) to *count. */
static int
count_entries(const struct maildir *md, const struct where *w, const char *sub,
    size_t *count, struct err *err)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (md_mkpath(p, sizeof(p), w->path, sub) < 0 ||
	    (d = opendir(p)) == NULL)
		return md_fail_sys(md, err, ERR_BOX, w->name, "reading %s", p);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			(*count)++;
	closedir(d);
	return 0;
}

int
md_delete_folder(struct maildir *md, const struct where *w, struct err *err)
{
	char p[PATH_MAX], parent[PATH_MAX];
	size_t count = 0;
	bool children;

	if (strcmp(w->name, "INBOX") == 0)
		return md_fail(
		    md, err, ERR_BOX, w->name, "INBOX cannot be deleted");
	if (!md_is_maildir(w->path))
		return md_fail(md, err, ERR_BOX, w->name, "no such folder");
	if (count_entries(md, w, "cur", &count, err) < 0 ||
	    count_entries(md, w, "new", &count, err) < 0)
		return -1;
	if (count > 0)
		return md_fail(md, err, ERR_BOX, w->name,
		    "still holds %zu message file(s); not deleting it", count);
	if (delete_check(md, w, &children, err) < 0)
		return -1;
	if (md_mkpath(p, sizeof(p), w->path, "tmp") < 0 ||
	    remove_files(p, false) < 0 || remove_files(w->path, true) < 0 ||
	    (rmdir(p) < 0 && errno != ENOENT) ||
	    md_mkpath(p, sizeof(p), w->path, "new") < 0 || rmdir(p) < 0 ||
	    md_mkpath(p, sizeof(p), w->path, "cur") < 0 || rmdir(p) < 0 ||
	    (!children && rmdir(w->path) < 0))
		return md_fail_sys(md, err, ERR_BOX, w->name, "removing %s", p);
	md_cache_drop(md);
	parent_of(w, parent);
	if (md->fsync && md_fsync_dir(children ? w->path : parent) < 0)
		return md_fail_sys(md, err, ERR_BOX, w->name, "fsync");
	return state_maildir_folder_delete(md->state, w->name, err);
}
