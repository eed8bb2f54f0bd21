/* SPDX-License-Identifier: ISC */
/*
 * store.c - the shared part of the store layer (see store.h): the
 * store_*() wrappers that dispatch to a driver's ops, canonical flag
 * strings, and message fingerprints.
 *
 * Fingerprints identify "the same message" on two stores without
 * touching it, so that a copy whose result was lost (a crash between the
 * APPEND and its record) is found again instead of copied twice.  They
 * are computed the same way by every driver from the header block, the
 * size and the internal date; the exact input is documented at
 * store_fingerprint() below and must never change without a new tag,
 * because fingerprints are kept in the state database.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "util/sort.h"
#include "util/xalloc.h"

/*
 * Dispatch.
 */

int
store_connect(struct store *s, struct err *err)
{
	return s->ops->connect(s, err);
}

void
store_free(struct store *s)
{
	if (s != NULL)
		s->ops->free(s);
}

void
store_list(struct store *s, store_list_cb *cb, void *arg)
{
	s->ops->list(s, cb, arg);
}

void
store_scan(struct store *s, const char *folder, const struct store_since *since,
    store_scan_cb *cb, void *arg)
{
	s->ops->scan(s, folder, since, cb, arg);
}

bool
store_uid_in(const uint32_t *sorted, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && sorted[lo] == uid;
}

int
store_settle(struct store *s, const char *folder, struct store_folder *out,
    struct err *err)
{
	memset(out, 0, sizeof(*out));
	return s->ops->settle != NULL ? s->ops->settle(s, folder, out, err) : 0;
}

void
store_will_touch(
    struct store *s, const char *folder, const uint32_t *uids, size_t n)
{
	if (s->ops->will_touch != NULL && n > 0)
		s->ops->will_touch(s, folder, uids, n);
}

void
store_fetch_batch(struct store *s, const char *folder, struct store_item *items,
    size_t n, store_done_cb *cb, void *arg)
{
	s->ops->fetch_batch(s, folder, items, n, cb, arg);
}

void
store_append_batch(struct store *s, const char *folder,
    struct store_item *items, size_t n, store_done_cb *cb, void *arg)
{
	s->ops->append_batch(s, folder, items, n, cb, arg);
}

/* A batch of one for store_fetch() and store_append(). */
struct single {
	struct store_item item;
	struct store_body *out; /* fetch: where the size goes */
	char *flags; /* append: the caller's, copied */
	store_done_cb *done;
	store_append_cb *appended;
	void *arg;
};

static void
single_done(void *arg, const struct err *err)
{
	struct single *o = arg;
	struct err e;
	uint32_t uid = o->item.uid;

	e = err != NULL && err->kind != ERR_NONE ? *err : o->item.err;
	if (o->out != NULL)
		o->out->size = o->item.body.size;
	if (o->done != NULL)
		o->done(o->arg, e.kind == ERR_NONE ? NULL : &e);
	else
		o->appended(o->arg, e.kind == ERR_NONE ? uid : 0,
		    e.kind == ERR_NONE ? NULL : &e);
	free(o->flags);
	free(o);
}

void
store_fetch(struct store *s, const char *folder, uint32_t uid,
    struct store_body *body, store_done_cb *cb, void *arg)
{
	struct single *o = xcalloc(1, sizeof(*o));

	o->item.uid = uid;
	o->item.body = *body;
	o->out = body;
	o->done = cb;
	o->arg = arg;
	s->ops->fetch_batch(s, folder, &o->item, 1, single_done, o);
}

void
store_append(struct store *s, const char *folder, const char *flags,
    int64_t internaldate, const struct store_body *body, store_append_cb *cb,
    void *arg)
{
	struct single *o = xcalloc(1, sizeof(*o));

	o->flags = xstrdup(flags != NULL ? flags : "");
	o->item.flags = o->flags;
	o->item.internaldate = internaldate;
	o->item.body = *body;
	o->appended = cb;
	o->arg = arg;
	s->ops->append_batch(s, folder, &o->item, 1, single_done, o);
}

void
store_set_flags(struct store *s, const char *folder, const uint32_t *uids,
    size_t n, const char *add, const char *remove, store_done_cb *cb, void *arg)
{
	s->ops->set_flags(s, folder, uids, n, add, remove, cb, arg);
}

void
store_expunge(struct store *s, const char *folder, const uint32_t *uids,
    size_t n, store_done_cb *cb, void *arg)
{
	s->ops->expunge(s, folder, uids, n, cb, arg);
}

void
store_create(struct store *s, const char *folder, store_done_cb *cb, void *arg)
{
	s->ops->create(s, folder, cb, arg);
}

void
store_rename(struct store *s, const char *from, const char *to,
    store_done_cb *cb, void *arg)
{
	s->ops->rename(s, from, to, cb, arg);
}

void
store_delete(struct store *s, const char *folder, store_done_cb *cb, void *arg)
{
	s->ops->delete (s, folder, cb, arg);
}

const char *
store_kind(const struct store *s)
{
	return s->ops->kind;
}

/*
 * Flags.
 */

/* The system flags, spelled as canonical strings spell them. */
static const char *const system_flags[] = {
    "\\Answered",
    "\\Deleted",
    "\\Draft",
    "\\Flagged",
    "\\Seen",
};

struct token {
	const char *p;
	size_t len;
};

/* RFC 3501 ATOM-CHAR: any CHAR except atom-specials. */
static int
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* A flag: "\" atom (system or extension flag) or an atom (keyword). */
static int
valid_flag(const char *p, size_t len)
{
	size_t i = 0;

	if (len > 0 && p[0] == '\\')
		i = 1;
	if (i == len)
		return 0;
	for (; i < len; i++)
		if (!atom_char((unsigned char)p[i]))
			return 0;
	return 1;
}

static int
token_eq_ci(const struct token *t, const char *s)
{
	return strlen(s) == t->len && strncasecmp(t->p, s, t->len) == 0;
}

/* Spell a system flag canonically; return 0 to drop the token. */
static int
canonical(struct token *t)
{
	size_t i;

	if (token_eq_ci(t, "\\Recent"))
		return 0;
	for (i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++)
		if (token_eq_ci(t, system_flags[i])) {
			t->p = system_flags[i];
			break;
		}
	return 1;
}

static int
token_cmp(const void *va, const void *vb)
{
	const struct token *a = va, *b = vb;
	int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);

	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Split in into valid tokens; return their number, or -1. */
static long
tokenize(const char *in, struct token **out)
{
	struct token *v = NULL, t;
	size_t n = 0, cap = 0;
	const char *p = in;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		t.p = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		t.len = (size_t)(p - t.p);
		if (!valid_flag(t.p, t.len)) {
			free(v);
			return -1;
		}
		if (!canonical(&t))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = t;
	}
	*out = v;
	return (long)n;
}

int
store_flags_norm(const char *in, char *out, size_t n)
{
	struct token *v = NULL;
	size_t i, len = 0;
	char *tmp;
	long k;
	int rc = -1;

	if (n == 0 || (k = tokenize(in, &v)) < 0)
		return -1;
	if (k > 1)
		sort_array(v, (size_t)k, sizeof(*v), token_cmp);
	/* Build aside: in and out may be the same buffer. */
	tmp = xmalloc(n);
	for (i = 0; i < (size_t)k; i++) {
		if (i > 0 && token_cmp(&v[i - 1], &v[i]) == 0)
			continue;
		if (len + (len > 0) + v[i].len >= n)
			goto out;
		if (len > 0)
			tmp[len++] = ' ';
		memcpy(tmp + len, v[i].p, v[i].len);
		len += v[i].len;
	}
	tmp[len] = '\0';
	memcpy(out, tmp, len + 1);
	rc = 0;
out:
	free(tmp);
	free(v);
	return rc;
}

bool
store_flags_has(const char *flags, const char *flag)
{
	size_t n = strlen(flag);
	const char *p = flags;

	if (n == 0)
		return false;
	while ((p = strstr(p, flag)) != NULL) {
		if ((p == flags || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/*
 * Fingerprints.
 *
 * The digest is SHA-256 over, in this order:
 *
 *   tag       "ferry-fp1:mid:" or "ferry-fp1:hdr:" (14 bytes)
 *   text      the normalized Message-ID (tag "mid"), or, when the header
 *             block has no Message-ID field or its value normalizes to
 *             nothing, the normalized header block (tag "hdr")
 *   0x00      one byte
 *   size      8 bytes, big-endian
 *   date      internaldate as a two's complement 64-bit integer, 8 bytes,
 *             big-endian
 *
 * The header block is the first STORE_HEADER_MAX bytes of the input, up
 * to its first empty line.  Lines end at LF; a CR right before a line's
 * end is not part of the line, so CRLF and LF files agree.  A line that
 * starts with SP or HTAB continues the previous one (RFC 5322 unfolding:
 * the line break is removed, the white space kept).
 *
 * Message-ID: the first field whose name is "Message-ID" in any case
 * (white space before the colon allowed).  Its unfolded value is trimmed
 * of SP, HTAB at both ends, then of one "<" at the start and one ">" at
 * the end, then of SP, HTAB again; the case is kept.
 *
 * Normalized header block: its unfolded lines joined with one LF, with no
 * LF after the last one.
 */

#define FP_TAG_MID "ferry-fp1:mid:"
#define FP_TAG_HDR "ferry-fp1:hdr:"

struct lines {
	const char *p; /* the header block */
	size_t len;
	size_t pos; /* start of the next line */
};

/* The next line of the block, without its CR LF; 0 at the block's end. */
static int
next_line(struct lines *ls, struct token *line)
{
	const char *nl;
	size_t n;

	if (ls->pos >= ls->len)
		return 0;
	line->p = ls->p + ls->pos;
	nl = memchr(line->p, '\n', ls->len - ls->pos);
	n = nl ? (size_t)(nl - line->p) : ls->len - ls->pos;
	ls->pos += n + (nl != NULL);
	if (n > 0 && line->p[n - 1] == '\r')
		n--;
	line->len = n;
	if (n == 0) {
		ls->pos = ls->len; /* the empty line ends the block */
		return 0;
	}
	return 1;
}

/* Does the line after pos continue the current field? */
static int
continues(const struct lines *ls)
{
	return ls->pos < ls->len &&
	       (ls->p[ls->pos] == ' ' || ls->p[ls->pos] == '\t');
}

/* If line is a Message-ID field, the start of its value, else NULL. */
static const char *
message_id_field(const struct token *line)
{
	static const char name[] = "Message-ID";
	size_t i = sizeof(name) - 1;

	if (line->len < i || strncasecmp(line->p, name, i) != 0)
		return NULL;
	while (i < line->len && (line->p[i] == ' ' || line->p[i] == '\t'))
		i++;
	if (i == line->len || line->p[i] != ':')
		return NULL;
	return line->p + i + 1;
}

static void
trim_ws(const char **p, size_t *n)
{
	while (*n > 0 && (**p == ' ' || **p == '\t'))
		(*p)++, (*n)--;
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/*
 * Find the Message-ID and put its normalized value in a new heap string
 * *out of *n_out bytes; 0 when there is none (or it is empty).
 */
static int
find_message_id(const char *h, size_t hlen, char **out, size_t *n_out)
{
	struct lines ls = {h, hlen, 0};
	struct token line;
	const char *v, *p;
	char *val;
	size_t n = 0;

	while (next_line(&ls, &line)) {
		if ((v = message_id_field(&line)) == NULL)
			continue;
		val = xmalloc(hlen + 1);
		memcpy(val, v, (size_t)(line.p + line.len - v));
		n = (size_t)(line.p + line.len - v);
		while (continues(&ls) && next_line(&ls, &line)) {
			memcpy(val + n, line.p, line.len);
			n += line.len;
		}
		p = val;
		trim_ws(&p, &n);
		if (n > 0 && *p == '<')
			p++, n--;
		if (n > 0 && p[n - 1] == '>')
			n--;
		trim_ws(&p, &n);
		memmove(val, p, n);
		if (n == 0) {
			free(val);
			return 0;
		}
		*out = val;
		*n_out = n;
		return 1;
	}
	return 0;
}

static void
digest_header(EVP_MD_CTX *ctx, const char *h, size_t hlen)
{
	struct lines ls = {h, hlen, 0};
	struct token line;
	int first = 1;

	while (next_line(&ls, &line)) {
		if (!first && line.p[0] != ' ' && line.p[0] != '\t')
			EVP_DigestUpdate(ctx, "\n", 1);
		EVP_DigestUpdate(ctx, line.p, line.len);
		first = 0;
	}
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

void
store_fingerprint(const char *header, size_t hlen, uint64_t size,
    int64_t internaldate, unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char tail[17];
	char *mid = NULL;
	size_t midlen = 0;
	unsigned int outlen = STORE_FP_LEN;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory: as xmalloc does */
	if (hlen > STORE_HEADER_MAX)
		hlen = STORE_HEADER_MAX;
	if (find_message_id(header, hlen, &mid, &midlen)) {
		EVP_DigestUpdate(ctx, FP_TAG_MID, sizeof(FP_TAG_MID) - 1);
		EVP_DigestUpdate(ctx, mid, midlen);
		free(mid);
	} else {
		EVP_DigestUpdate(ctx, FP_TAG_HDR, sizeof(FP_TAG_HDR) - 1);
		digest_header(ctx, header, hlen);
	}
	tail[0] = 0;
	put_be64(tail + 1, size);
	put_be64(tail + 9, (uint64_t)internaldate);
	EVP_DigestUpdate(ctx, tail, sizeof(tail));
	EVP_DigestFinal_ex(ctx, out, &outlen);
	EVP_MD_CTX_free(ctx);
}
