/* SPDX-License-Identifier: ISC */
/*
 * maildir_fs.c - the Maildir driver's ground floor (see maildir_int.h):
 * error messages, small file system helpers, folder names and the paths
 * they map to, message file names, reading cur/ and new/, and the
 * directory cache.
 *
 * Folder names are checked here, once, for every operation: each
 * '/'-separated component must be non-empty, not "." or "..", free of
 * control characters and backslashes, no longer than NAME_MAX, and valid
 * UTF-8; in fs layout it must not start with '.' (hidden) nor be "cur",
 * "new" or "tmp" (a folder's own directories); in Maildir++ it must not
 * contain '.' (the separator on disk).  Then the existing part of the
 * path must resolve inside the root, so that a symbolic link cannot lead
 * ferry elsewhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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
 * Errors.
 */

/* s made printable for messages: control characters as \xNN. */
static const char *
shown(const char *s, char *buf, size_t size)
{
	size_t i = 0;

	for (; *s != '\0' && i + 8 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			i += (size_t)snprintf(buf + i, size - i, "\\x%02x", c);
		else
			buf[i++] = (char)c;
	}
	if (*s != '\0')
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static int __attribute__((format(printf, 5, 0)))
vfail(const struct maildir *md, struct err *err, enum err_kind kind,
    const char *folder, const char *fmt, va_list ap)
{
	char msg[384], nm[160];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (folder == NULL)
		return err_set(err, kind, "maildir %s: %s", md->base.name, msg);
	return err_set(err, kind, "maildir %s: folder \"%s\": %s",
	    md->base.name, shown(folder, nm, sizeof(nm)), msg);
}

/* Fail with kind, naming the store and folder (may be NULL). */
int __attribute__((format(printf, 5, 6)))
md_fail(const struct maildir *md, struct err *err, enum err_kind kind,
    const char *folder, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(md, err, kind, folder, fmt, ap);
	va_end(ap);
	return -1;
}

/* Likewise with ": strerror(errno)" appended. */
int __attribute__((format(printf, 5, 6)))
md_fail_sys(const struct maildir *md, struct err *err, enum err_kind kind,
    const char *folder, const char *fmt, ...)
{
	int saved = errno;
	size_t n;
	va_list ap;

	/* A full or broken file system is no folder's fault. */
	if (saved == ENOSPC || saved == EDQUOT || saved == EIO ||
	    saved == EROFS)
		kind = ERR_SYS;
	va_start(ap, fmt);
	vfail(md, err, kind, folder, fmt, ap);
	va_end(ap);
	if (err != NULL) {
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s",
		    strerror(saved));
	}
	errno = saved;
	return -1;
}

/*
 * File system helpers.
 */

/* a "/" b into out; -1 with ENAMETOOLONG when it does not fit. */
int
md_mkpath(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static bool
is_dir_at(const char *dir, const char *sub)
{
	char p[PATH_MAX];
	struct stat st;

	return md_mkpath(p, sizeof(p), dir, sub) == 0 && lstat(p, &st) == 0 &&
	       S_ISDIR(st.st_mode);
}

bool
md_is_maildir(const char *dir)
{
	return is_dir_at(dir, "cur") && is_dir_at(dir, "new");
}

/* mkdir that accepts an existing directory. */
int
md_mkdir_ok(const char *p)
{
	struct stat st;

	if (mkdir(p, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (stat(p, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Create dir's cur/ new/ tmp/ where missing. */
int
md_make_subdirs(const char *dir)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	char p[PATH_MAX];
	size_t i;

	for (i = 0; i < 3; i++)
		if (md_mkpath(p, sizeof(p), dir, subs[i]) < 0 ||
		    md_mkdir_ok(p) < 0)
			return -1;
	return 0;
}

/* Create every directory on path after its first skip bytes. */
int
md_make_parents(const char *path, size_t skip, bool last_too)
{
	char p[PATH_MAX];
	size_t i, n = strlen(path);

	if (n >= sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, path, n + 1);
	for (i = skip + 1; i < n; i++) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		if (md_mkdir_ok(p) < 0)
			return -1;
		p[i] = '/';
	}
	return last_too ? md_mkdir_ok(p) : 0;
}

int
md_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = -1;
	close(fd);
	return rc;
}

/* md_fsync_dir() of dir/sub. */
int
md_fsync_sub(const char *dir, const char *sub)
{
	char p[PATH_MAX];

	return md_mkpath(p, sizeof(p), dir, sub) < 0 ? -1 : md_fsync_dir(p);
}

/* Everything from p into fd, through short writes and EINTR. */
int
md_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy in to out until EOF; *n_out bytes; *reading says which side failed. */
int
md_copy_fd(int in, int out, uint64_t *n_out, bool *reading)
{
	char *buf = xmalloc(COPY_CHUNK);
	ssize_t r;
	int rc = -1;

	*n_out = 0;
	for (;;) {
		*reading = true;
		r = read(in, buf, COPY_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		*reading = false;
		if (md_write_all(out, buf, (size_t)r) < 0)
			goto out;
		*n_out += (uint64_t)r;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/*
 * Folder names.
 */

static bool
utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0, len, k;
	uint32_t cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			len = 2, cp = p[i] & 0x1fu, min = 0x80;
		else if ((p[i] & 0xf0) == 0xe0)
			len = 3, cp = p[i] & 0x0fu, min = 0x800;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			len = 4, cp = p[i] & 0x07u, min = 0x10000;
		else
			return false;
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Why c (n bytes) cannot be one component of a folder name, or NULL. */
const char *
md_component_problem(const struct maildir *md, const char *c, size_t n)
{
	bool fs = md->layout == MAILDIR_LAYOUT_FS;
	size_t i;

	if (n == 0)
		return "empty name component";
	if (n > NAME_MAX)
		return "name component too long";
	if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
		return "\".\" and \"..\" are not folder names";
	for (i = 0; i < n; i++) {
		if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
			return "control character in name";
		if (c[i] == '\\')
			return "backslash in name";
		if (!fs && c[i] == '.')
			return "'.' cannot be stored in a Maildir++ name";
	}
	if (fs && c[0] == '.')
		return "a name component starting with '.' would be hidden";
	if (fs && n == 3 &&
	    (memcmp(c, "cur", 3) == 0 || memcmp(c, "new", 3) == 0 ||
		memcmp(c, "tmp", 3) == 0))
		return "\"cur\", \"new\" and \"tmp\" are reserved in a Maildir";
	return NULL;
}

/* Why name cannot be a folder name here, or NULL. */
const char *
md_name_problem(const struct maildir *md, const char *name)
{
	size_t n = strnlen(name, STATE_NAME_MAX + 1), start = 0, i;
	const char *why;

	if (n == 0)
		return "empty folder name";
	if (n > STATE_NAME_MAX)
		return "folder name too long";
	if (name[0] == '/')
		return "absolute paths are not folder names";
	if (!utf8_ok((const unsigned char *)name, n))
		return "folder name is not UTF-8";
	for (i = 0; i <= n; i++) {
		if (i < n && name[i] != '/')
			continue;
		if ((why = md_component_problem(md, name + start, i - start)))
			return why;
		start = i + 1;
	}
	if (md->layout == MAILDIR_LAYOUT_PP && n + 1 > NAME_MAX)
		return "folder name too long for Maildir++";
	return NULL;
}

/* Is real the root or below it? */
bool
md_inside(const struct maildir *md, const char *real)
{
	return strncmp(real, md->root, md->rootlen) == 0 &&
	       (real[md->rootlen] == '\0' || real[md->rootlen] == '/' ||
		   md->root[md->rootlen - 1] == '/');
}

/* Refuse w when the existing part of its path leads outside the root. */
int
md_confine(const struct maildir *md, const struct where *w, struct err *err)
{
	char p[PATH_MAX], real[PATH_MAX];
	struct stat st;
	size_t n = strlen(w->path);

	memcpy(p, w->path, n + 1);
	while (lstat(p, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return md_fail_sys(md, err, ERR_BOX, w->name, "%s", p);
		while (n > md->rootlen && p[n - 1] != '/')
			n--;
		if (n <= md->rootlen)
			return md_fail(md, err, ERR_ACCOUNT, NULL,
			    "the root %s is gone", md->root);
		p[--n] = '\0';
	}
	if (realpath(p, real) == NULL)
		return md_fail_sys(md, err, ERR_BOX, w->name, "%s", p);
	if (!md_inside(md, real))
		return md_fail(md, err, ERR_BOX, w->name,
		    "leads outside the Maildir root (symbolic link to %s)",
		    real);
	return 0;
}

/*
 * Is name's first component INBOX in another spelling, or INBOX itself?
 * The root is INBOX; other spellings would be ambiguous.
 */
bool
md_not_inbox(const char *name)
{
	return strncasecmp(name, "INBOX", 5) == 0 &&
	       (name[5] == '\0' ||
		   (name[5] == '/' && strncmp(name, "INBOX", 5) != 0));
}

/* Check folder and find its directory. */
int
md_where(const struct maildir *md, const char *folder, struct where *w,
    struct err *err)
{
	const char *why;
	size_t i, n;
	int r;

	if (md->root == NULL)
		return md_fail(md, err, ERR_ACCOUNT, NULL, "not connected");
	if ((why = md_name_problem(md, folder)) != NULL)
		return md_fail(md, err, ERR_BOX, folder, "%s", why);
	n = strlen(folder);
	memcpy(w->name, folder, n + 1);
	if (strncasecmp(folder, "INBOX", 5) == 0 &&
	    (folder[5] == '\0' || folder[5] == '/'))
		memcpy(w->name, "INBOX", 5);
	if (strcmp(w->name, "INBOX") == 0)
		r = snprintf(w->path, sizeof(w->path), "%s", md->root);
	else if (md->layout == MAILDIR_LAYOUT_FS)
		r = snprintf(
		    w->path, sizeof(w->path), "%s/%s", md->root, w->name);
	else
		r = snprintf(
		    w->path, sizeof(w->path), "%s/.%s", md->root, w->name);
	if (r < 0 || (size_t)r >= sizeof(w->path))
		return md_fail(md, err, ERR_BOX, folder, "path too long");
	if (md->layout == MAILDIR_LAYOUT_PP && strcmp(w->name, "INBOX") != 0)
		for (i = md->rootlen + 2; w->path[i] != '\0'; i++)
			if (w->path[i] == '/')
				w->path[i] = '.';
	return md_confine(md, w, err);
}

/*
 * Message file names.
 */

/* Deliveries by this process: the Maildir "Q" number, per process. */
static unsigned long deliveries;

void
md_set_host(struct maildir *md)
{
	char h[256];
	size_t i, o = 0;

	if (gethostname(h, sizeof(h)) < 0 || h[0] == '\0')
		snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = '\0';
	for (i = 0; h[i] != '\0' && o + 4 <= HOST_MAX; i++) {
		if (h[i] == '/')
			memcpy(md->host + o, "\\057", 4), o += 4;
		else if (h[i] == ':')
			memcpy(md->host + o, "\\072", 4), o += 4;
		else if ((unsigned char)h[i] <= 0x20 || h[i] == 0x7f ||
			 (unsigned char)h[i] >= 0x80)
			md->host[o++] = '_';
		else
			md->host[o++] = h[i];
	}
	md->host[o] = '\0';
}

/* A fresh unique base name: <time>.M<usec>P<pid>Q<n>.<host>. */
int
md_unique_base(const struct maildir *md, char *out, size_t size)
{
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(out, size, "%lld.M%ldP%ldQ%lu.%s", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (long)getpid(), ++deliveries, md->host);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* The base name of e as a string. */
void
md_ent_base(const struct ent *e, char out[STATE_BASE_MAX + 1])
{
	memcpy(out, e->name, e->baselen);
	out[e->baselen] = '\0';
}

int
md_base_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* By base name, then cur/ before new/, then by file name. */
int
md_ent_cmp(const void *va, const void *vb)
{
	const struct ent *a = va, *b = vb;
	int c = md_base_cmp(a->name, a->baselen, b->name, b->baselen);

	if (c != 0)
		return c;
	if (a->in_new != b->in_new)
		return a->in_new ? 1 : -1;
	return strcmp(a->name, b->name);
}

/* Oldest first, for numbering new messages in arrival order. */
int
md_ent_age_cmp(const void *va, const void *vb)
{
	const struct ent *a = *(const struct ent *const *)va;
	const struct ent *b = *(const struct ent *const *)vb;

	if (a->mtime != b->mtime)
		return a->mtime < b->mtime ? -1 : 1;
	return strcmp(a->name, b->name);
}

void
md_ents_clear(struct ents *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->v[i].name);
		free(e->v[i].fp);
	}
	e->n = 0;
}

void
md_ents_free(struct ents *e)
{
	md_ents_clear(e);
	free(e->v);
	e->v = NULL;
	e->cap = 0;
}

static struct ent *
ents_push(struct ents *e)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
	}
	memset(&e->v[e->n], 0, sizeof(e->v[0]));
	return &e->v[e->n++];
}

/* "cur" or "new". */
static const char *
ent_sub(const struct ent *e)
{
	return e->in_new ? "new" : "cur";
}

/* The full path of e in folder w. */
int
md_ent_path(const struct where *w, const struct ent *e, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%s/%s", w->path, ent_sub(e), e->name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Reading cur/ and new/.
 */

/* Whether e->want holds the base name of name (baselen bytes). */
static bool
wanted(const struct ents *e, const char *name, size_t baselen)
{
	size_t lo = 0, hi = e->nwant, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = md_base_cmp(
		    e->want[mid], strlen(e->want[mid]), name, baselen);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Read the message files of w's cur/ or new/ into e (when e is NULL,
 * tally them in *t).  Names that are no message are skipped.
 */
int
md_read_sub(const struct maildir *md, const struct where *w, bool in_new,
    struct ents *e, struct tally *t, struct err *err)
{
	char p[PATH_MAX], nm[160];
	struct dirent *de;
	struct stat st;
	struct ent *x;
	size_t baselen;
	DIR *d;

	if (md_mkpath(p, sizeof(p), w->path, in_new ? "new" : "cur") < 0 ||
	    (d = opendir(p)) == NULL)
		return md_fail_sys(md, err, ERR_BOX, w->name, "reading %s", p);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		baselen = strcspn(de->d_name, ":");
		if (baselen == 0 || baselen > STATE_BASE_MAX) {
			log_debug("maildir %s: ignoring %s/%s: not a message "
				  "file name",
			    md->base.name, p,
			    shown(de->d_name, nm, sizeof(nm)));
			continue;
		}
		if (de->d_type != DT_REG) { /* DT_UNKNOWN, or no file */
			if (fstatat(dirfd(d), de->d_name, &st,
				AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				break;
			}
			if (!S_ISREG(st.st_mode))
				continue;
		}
		if (e == NULL) {
			t->count++;
			t->digest += md_name_hash(de->d_name, in_new);
			continue;
		}
		if (e->want != NULL && !wanted(e, de->d_name, baselen))
			continue;
		x = ents_push(e);
		x->name = xstrdup(de->d_name);
		x->baselen = baselen;
		x->in_new = in_new;
	}
	if (errno != 0) {
		md_fail_sys(md, err, ERR_BOX, w->name, "reading %s", p);
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

/* Read new/ first: files move from new/ to cur/, never back. */
int
md_read_folder(const struct maildir *md, const struct where *w, struct ents *e,
    struct err *err)
{
	return md_read_sub(md, w, true, e, NULL, err) < 0 ||
		       md_read_sub(md, w, false, e, NULL, err) < 0
		   ? -1
		   : 0;
}

/*
 * The directory cache: the file names of the folder last looked at, so
 * that fetching, flagging and expunging many messages costs one
 * directory read and not one per message.  A base name the cache lacks,
 * or a name that turns out stale (ENOENT), makes the folder be read
 * again, at most once per operation (md->op counts operations).
 */

void
md_cache_drop(struct maildir *md)
{
	md_ents_free(&md->cache);
	free(md->cache_folder);
	md->cache_folder = NULL;
}

/* Keep e (sorted here) as the cache of folder w; e is emptied. */
void
md_cache_take(struct maildir *md, const struct where *w, struct ents *e)
{
	md_cache_drop(md);
	sort_array(e->v, e->n, sizeof(e->v[0]), md_ent_cmp);
	md->cache = *e;
	memset(e, 0, sizeof(*e));
	md->cache_folder = xstrdup(w->name);
	md->cache_op = md->op;
	md->cache_some = false;
}

static int
cache_fill(struct maildir *md, const struct where *w, struct err *err)
{
	struct ents e = {0};

	if (md_read_folder(md, w, &e, err) < 0) {
		md_ents_free(&e);
		return -1;
	}
	md_cache_take(md, w, &e);
	return 0;
}

/* The first cached file with this base name (cur/ before new/). */
static struct ent *
cache_search(struct maildir *md, const char *base)
{
	size_t lo = 0, hi = md->cache.n, mid, blen = strlen(base);
	struct ent *v = md->cache.v;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (md_base_cmp(v[mid].name, v[mid].baselen, base, blen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < md->cache.n &&
	    md_base_cmp(v[lo].name, v[lo].baselen, base, blen) == 0)
		return &v[lo];
	return NULL;
}

bool
md_cache_whole(const struct maildir *md, const struct where *w)
{
	return md->cache_folder != NULL && !md->cache_some &&
	       strcmp(md->cache_folder, w->name) == 0;
}

int
md_cache_some(struct maildir *md, const struct where *w, char **bases, size_t n,
    struct err *err)
{
	struct ents e = {0};
	size_t i;

	if (md_cache_whole(md, w))
		return 0;
	if (md->cache_folder != NULL &&
	    strcmp(md->cache_folder, w->name) == 0) {
		for (i = 0; i < n; i++)
			if (cache_search(md, bases[i]) == NULL)
				break;
		if (i == n)
			return 0; /* all read ahead */
	}
	e.want = bases;
	e.nwant = n;
	if (md_read_folder(md, w, &e, err) < 0) {
		md_ents_free(&e);
		return -1;
	}
	e.want = NULL;
	e.nwant = 0;
	md_cache_take(md, w, &e);
	md->cache_some = true;
	return 0;
}

/*
 * md_locate(md, w, base, stale, out, err): the file of base in w.  From the
 * cache when it holds w and base; else (or when the caller found the
 * cached name stale) from the folder read again, unless that was done
 * during this operation already.  1 found, 0 not, -1 on error.
 */
int
md_locate(struct maildir *md, const struct where *w, const char *base,
    bool stale, struct ent **out, struct err *err)
{
	bool mine =
	    md->cache_folder != NULL && strcmp(md->cache_folder, w->name) == 0;

	if (mine && !stale && (*out = cache_search(md, base)) != NULL)
		return 1;
	if (mine && md->cache_op == md->op)
		return 0;
	if (cache_fill(md, w, err) < 0)
		return -1;
	return (*out = cache_search(md, base)) != NULL;
}
