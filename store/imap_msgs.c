/* SPDX-License-Identifier: ISC */
/*
 * imap_msgs.c - the IMAP store's message operations: fetch a batch of
 * bodies into files, add and remove flags, expunge given UIDs; and the
 * helpers they, imap_append.c and imap_scan.c share (UID sets, IMAP
 * date-times, flag arguments, batch results).
 *
 * Every operation here is a handful of commands over UID sets, never one
 * command per message: UID sets are compressed into ranges ("1:5,8") and
 * split so that no command line passes about 8000 bytes, the length
 * servers are asked to accept (RFC 7162 section 4).
 *
 * Without UIDPLUS, EXPUNGE, which removes every \Deleted message of the
 * folder, is sent only when a UID SEARCH DELETED shows that no other
 * message is marked: ferry never removes messages it was not asked to.
 * (Another client can still mark one between the search and the EXPUNGE;
 * servers without UIDPLUS leave no way to close that gap.)
 */
#define _GNU_SOURCE /* memfd_create() */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imap/client.h"
#include "store/imap_priv.h"
#include "store/imap_store.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/os.h"
#include "util/sort.h"
#include "util/str.h"
#include "util/xalloc.h"

#define LINE_MAX_BYTES 8000 /* per command line */

/*
 * UID sets.
 */

void
ims_ranges_add(struct uranges *r, uint32_t lo, uint32_t hi)
{
	if (lo > hi) {
		uint32_t t = lo;

		lo = hi;
		hi = t;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	r->v[r->n].lo = lo;
	r->v[r->n].hi = hi;
	r->n++;
}

bool
ims_ranges_parse(struct uranges *r, struct str s)
{
	uint64_t lo, hi;

	if (s.len == 0)
		return false;
	while (s.len > 0) {
		if (!str_take_u64(&s, UINT32_MAX, &lo))
			return false;
		hi = lo;
		if (str_skip_char(&s, ':') &&
		    !str_take_u64(&s, UINT32_MAX, &hi))
			return false;
		if (lo == 0 || hi == 0)
			return false;
		ims_ranges_add(r, (uint32_t)lo, (uint32_t)hi);
		if (s.len > 0 && !str_skip_char(&s, ','))
			return false;
	}
	return true;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct urange *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void
ims_ranges_norm(struct uranges *r)
{
	size_t i, j = 0;

	if (r->n < 2)
		return;
	sort_array(r->v, r->n, sizeof(*r->v), range_cmp);
	for (i = 1; i < r->n; i++) {
		if ((uint64_t)r->v[i].lo <= (uint64_t)r->v[j].hi + 1) {
			if (r->v[i].hi > r->v[j].hi)
				r->v[j].hi = r->v[i].hi;
		} else
			r->v[++j] = r->v[i];
	}
	r->n = j + 1;
}

bool
ims_ranges_has(const struct uranges *r, uint32_t uid)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (uid < r->v[mid].lo)
			hi = mid;
		else if (uid > r->v[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

void
ims_ranges_release(struct uranges *r)
{
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

bool
ims_search_resp(const struct imap_resp *r, struct uranges *out)
{
	struct str s;
	uint64_t v;
	size_t i;

	if (r->status != IMAP_STATUS_NONE || r->nargs < 1)
		return false;
	if (imap_arg_is_atom(&r->args[0], "SEARCH")) {
		for (i = 1; i < r->nargs; i++)
			if (imap_arg_number(&r->args[i], UINT32_MAX, &v) &&
			    v > 0)
				ims_ranges_add(out, (uint32_t)v, (uint32_t)v);
		return true;
	}
	if (!imap_arg_is_atom(&r->args[0], "ESEARCH"))
		return false;
	for (i = 1; i < r->nargs; i++) {
		if (r->args[i].type == IMAP_ARG_LIST ||
		    imap_arg_is_atom(&r->args[i], "UID"))
			continue;
		if (i + 1 < r->nargs && imap_arg_is_atom(&r->args[i], "ALL") &&
		    imap_arg_string(&r->args[i + 1], &s) &&
		    !ims_ranges_parse(out, s))
			log_debug("bad ESEARCH ALL set");
		i++; /* the return item's value */
	}
	return true;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

uint32_t *
ims_uids_sorted(const uint32_t *uids, size_t n, size_t *nout)
{
	uint32_t *v = xreallocarray(NULL, n ? n : 1, sizeof(*v));
	size_t i, j = 0;

	if (n > 0)
		memcpy(v, uids, n * sizeof(*v));
	sort_array(v, n, sizeof(*v), uid_cmp);
	for (i = 0; i < n; i++)
		if (v[i] != 0 && (j == 0 || v[j - 1] != v[i]))
			v[j++] = v[i];
	*nout = j;
	return v;
}

size_t
ims_uidset_put(struct buf *b, const uint32_t *uids, size_t n, size_t max)
{
	size_t i = 0, j, start = b->len;
	char item[32];
	int len;

	while (i < n) {
		const char *comma = b->len > start ? "," : "";

		for (j = i; j + 1 < n && uids[j + 1] == uids[j] + 1; j++)
			;
		if (j == i)
			len = snprintf(
			    item, sizeof(item), "%s%u", comma, uids[i]);
		else
			len = snprintf(item, sizeof(item), "%s%u:%u", comma,
			    uids[i], uids[j]);
		if ((i > 0 && b->len + (size_t)len > max) ||
		    buf_append(b, item, (size_t)len) == -1)
			break;
		i = j + 1;
	}
	return i;
}

/*
 * Dates: date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
 *                    SP time SP zone DQUOTE          (RFC 3501)
 * e.g. " 2-Nov-2026 10:00:00 +0100" or "02-Nov-2026 10:00:00 +0100".
 */

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const int month_days[12] = {
    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static bool
leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	return month_days[m] + (m == 1 && leap_year(y));
}

/* Days from 1970-01-01 to January 1st of year y (1 <= y <= 9999). */
static int64_t
days_to_year(int64_t y)
{
	int64_t a = y - 1, b = 1969;

	return 365 * (y - 1970) + (a / 4 - a / 100 + a / 400) -
	       (b / 4 - b / 100 + b / 400);
}

/* n decimal digits at p; -1 if any is not one. */
static int64_t
digits(const char *p, int n)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

int
ims_date_parse(struct str s, int64_t *out)
{
	const char *p = s.p;
	int64_t day, year, hh, mm, ss, zh, zm, days;
	int m, i;

	if (s.len != 26 || p[2] != '-' || p[6] != '-' || p[11] != ' ' ||
	    p[14] != ':' || p[17] != ':' || p[20] != ' ' ||
	    (p[21] != '+' && p[21] != '-'))
		return -1;
	day = p[0] == ' ' ? digits(p + 1, 1) : digits(p, 2);
	for (m = -1, i = 0; i < 12; i++)
		if (strncasecmp(p + 3, months[i], 3) == 0)
			m = i;
	year = digits(p + 7, 4);
	hh = digits(p + 12, 2);
	mm = digits(p + 15, 2);
	ss = digits(p + 18, 2);
	zh = digits(p + 22, 2);
	zm = digits(p + 24, 2);
	if (m < 0 || year < 1 || day < 1 || day > days_in_month(year, m) ||
	    hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 ||
	    zh < 0 || zh > 23 || zm < 0 || zm > 59)
		return -1;
	days = days_to_year(year) + day - 1;
	for (i = 0; i < m; i++)
		days += days_in_month(year, i);
	*out = days * 86400 + hh * 3600 + mm * 60 + ss -
	       (p[21] == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
	return 0;
}

void
ims_date_format(int64_t t, char out[IMS_DATE_LEN])
{
	int64_t days, secs, y;
	char tmp[64];
	int m;

	/* Keep to years 1..9999, which the format can carry. */
	if (t < days_to_year(1) * 86400)
		t = days_to_year(1) * 86400;
	if (t >= days_to_year(10000) * 86400)
		t = days_to_year(10000) * 86400 - 1;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	y = 1970 + days * 400 / 146097;
	while (y > 1 && days_to_year(y) > days)
		y--;
	while (days_to_year(y + 1) <= days)
		y++;
	days -= days_to_year(y);
	for (m = 0; m < 11 && days >= days_in_month(y, m); m++)
		days -= days_in_month(y, m);
	/* The values are in range, but the compiler cannot know it. */
	snprintf(tmp, sizeof(tmp), "%02d-%s-%04d %02d:%02d:%02d +0000",
	    (int)days + 1, months[m], (int)y, (int)(secs / 3600),
	    (int)(secs / 60 % 60), (int)(secs % 60));
	memcpy(out, tmp, IMS_DATE_LEN - 1);
	out[IMS_DATE_LEN - 1] = '\0';
}

static bool
system_flag(const char *p, size_t len)
{
	static const char *const sys[] = {
	    "\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"};
	size_t i;

	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (strlen(sys[i]) == len && memcmp(sys[i], p, len) == 0)
			return true;
	return false;
}

/*
 * A server says BAD to a system flag it does not know, and Dovecot says
 * it before reading the {n+} literal that follows in an APPEND, whose
 * lines it then reads as commands: such a flag is never sent.
 */
int
ims_flags_arg(const char *in, char **out, struct err *err)
{
	char buf[IMS_FLAGS_MAX];
	const char *p;
	size_t len;

	if (store_flags_norm(in ? in : "", buf, sizeof(buf)) == -1)
		return err_set(err, ERR_MSG, "bad flags \"%.100s\"", in);
	for (p = buf; *p != '\0'; p += len + (p[len] == ' ')) {
		len = strcspn(p, " ");
		if (*p == '\\' && !system_flag(p, len))
			return err_set(err, ERR_MSG,
			    "%.*s is no IMAP system flag",
			    (int)(len > 100 ? 100 : len), p);
	}
	*out = xstrdup(buf);
	return 0;
}

/*
 * Fetch a batch: UID FETCH set (UID BODY.PEEK[]) over all its UIDs, split
 * only where the set would pass the line length.  The answers come in any
 * order, each routed to its item by UID (a binary search over the items
 * sorted by UID).  Bodies up to the parser's inline limit arrive in the
 * FETCH response; bigger ones stream through the sink as they arrive:
 * straight into the item's file when the response named the UID before
 * the literal ("* 3 FETCH (UID 7 BODY[] {n}"), else into the connection's
 * spare file, which dup2() puts in place of the item's file once the
 * whole response says whose body it was (callers seek to the start before
 * reading, so the file's offset does not matter).
 */

struct fslot {
	uint32_t uid;
	size_t i; /* the item */
	uint64_t lit; /* the literal streamed straight here; 0: none */
	uint64_t written;
	int werrno;
	bool got;
	bool astray; /* its big body went where it could not be kept */
};

struct fetch_op {
	struct iop op;
	store_done_cb *cb;
	void *arg;
	struct store_item *items;
	size_t n;
	struct fslot *slots; /* by UID, without duplicates */
	size_t nslots;
	struct fslot *cur; /* where the streaming literal goes; NULL: spare */
	struct imap_sink sink;
	bool resolved; /* every item has its result */
};

void
ims_items_clear(struct store_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		err_clear(&items[i].err);
}

const struct err *
ims_items_err(const struct store_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i].err.kind != ERR_NONE &&
		    items[i].err.kind != ERR_MSG &&
		    items[i].err.kind != ERR_LIMIT)
			return &items[i].err;
	return NULL;
}

/* Write all of p to fd; a failure is kept for the end, the bytes dropped. */
static void
fd_write(int fd, const char *p, size_t n, uint64_t *written, int *werrno)
{
	ssize_t w;

	while (n > 0 && *werrno == 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*werrno = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		n -= (size_t)w;
		*written += (uint64_t)w;
	}
}

/* The spare, empty, for the literal being opened. */
static void
spare_reset(struct iconn *cn)
{
	cn->spare_lit = cn->nlit;
	cn->spare_len = 0;
	cn->spare_errno = 0;
	if (cn->spare_fd == -1 &&
	    (cn->spare_fd = os_temp_file("ferry-fetch")) == -1)
		cn->spare_errno = errno; /* the bytes are dropped */
	else if (ftruncate(cn->spare_fd, 0) == -1 ||
		 lseek(cn->spare_fd, 0, SEEK_SET) == -1)
		cn->spare_errno = errno;
}

void
ims_spare_close(struct iconn *cn)
{
	if (cn->spare_fd != -1)
		close(cn->spare_fd);
	cn->spare_fd = -1;
	cn->spare_lit = 0;
}

static struct fslot *
slot_find(struct fetch_op *f, uint32_t uid)
{
	size_t lo = 0, hi = f->nslots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->slots[mid].uid < uid)
			lo = mid + 1;
		else if (f->slots[mid].uid > uid)
			hi = mid;
		else
			return &f->slots[mid];
	}
	return NULL;
}

static int
slot_cmp(const void *a, const void *b)
{
	const struct fslot *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * The UID a FETCH response names before its body literal ("* 3 FETCH
 * (UID 7 BODY[] {n}"), or 0 when it names none there.
 */
static uint32_t
uid_before(struct str s)
{
	uint64_t uid;
	size_t i;

	for (i = 0; i + 4 < s.len; i++) {
		struct str t;

		if ((s.p[i] != '(' && s.p[i] != ' ') ||
		    strncasecmp(s.p + i + 1, "UID ", 4) != 0)
			continue;
		t = str_make(s.p + i + 5, s.len - i - 5);
		if (str_take_u64(&t, UINT32_MAX, &uid))
			return (uint32_t)uid;
	}
	return 0;
}

/*
 * Several fetches may be in flight on one connection, and their answers
 * may interleave (Dovecot runs pipelined FETCHes in parallel), so a big
 * body named by UID is taken only when the UID is one of ours.  One not
 * named yet goes to the spare: the sink of the oldest fetch is asked
 * first, and whichever fetch the UID turns out to be claims it.
 */
static int
sink_open(void *arg, uint64_t size, struct str before)
{
	struct fetch_op *f = arg;
	struct iconn *cn = f->op.conn;
	uint32_t uid = uid_before(before);
	struct fslot *sl = NULL;

	(void)size;
	if (uid != 0 && ((sl = slot_find(f, uid)) == NULL || sl->got))
		return 1;
	cn->nlit++;
	f->cur = sl;
	if (sl != NULL)
		sl->lit = cn->nlit;
	else
		spare_reset(cn);
	return 0;
}

static int
sink_write(void *arg, const char *p, size_t n)
{
	struct fetch_op *f = arg;
	struct iconn *cn = f->op.conn;
	struct fslot *sl = f->cur;

	if (sl != NULL)
		fd_write(
		    f->items[sl->i].body.fd, p, n, &sl->written, &sl->werrno);
	else
		fd_write(cn->spare_fd, p, n, &cn->spare_len, &cn->spare_errno);
	return 0;
}

static int
sink_close(void *arg)
{
	(void)arg;
	return 0;
}

/*
 * sl's body was streamed: the literal of the response being handled is
 * the connection's latest, either in sl's file or in the spare.
 */
static void
take_streamed(struct fetch_op *f, struct fslot *sl)
{
	struct iconn *cn = f->op.conn;

	if (sl->lit != 0 && sl->lit == cn->nlit)
		return;
	if (cn->spare_lit == 0 || cn->spare_lit != cn->nlit) {
		sl->astray = true;
		return;
	}
	if (cn->spare_errno != 0)
		sl->werrno = cn->spare_errno;
	else if (dup2(cn->spare_fd, f->items[sl->i].body.fd) == -1)
		sl->werrno = errno;
	else
		sl->written = cn->spare_len;
	ims_spare_close(cn); /* the item's file now, or useless */
}

/* The value of item name in a FETCH response's list, or NULL. */
static const struct imap_arg *
fetch_item(const struct imap_resp *r, const char *name)
{
	const struct imap_arg *l;
	size_t i, n;

	if (r->status != IMAP_STATUS_NONE || r->nargs != 3 ||
	    !imap_arg_is_atom(&r->args[1], "FETCH") ||
	    !imap_arg_list(&r->args[2], &l, &n))
		return NULL;
	for (i = 0; i + 1 < n; i += 2)
		if (imap_arg_is_atom(&l[i], name))
			return &l[i + 1];
	return NULL;
}

/* A body for one of ours; anything else (flag updates) is for others. */
static bool
fetch_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct fetch_op *f = arg;
	const struct imap_arg *body = fetch_item(r, "BODY[]");
	struct fslot *sl;
	uint64_t uid;
	struct str s;

	(void)c;
	if (body == NULL ||
	    !imap_arg_number(fetch_item(r, "UID"), UINT32_MAX, &uid) ||
	    (sl = slot_find(f, (uint32_t)uid)) == NULL || sl->got)
		return false;
	if (body->type == IMAP_ARG_LITERAL_SINK)
		take_streamed(f, sl);
	else if (imap_arg_string(body, &s))
		fd_write(f->items[sl->i].body.fd, s.p, s.len, &sl->written,
		    &sl->werrno);
	else
		return true; /* NIL: gone meanwhile */
	sl->got = true;
	return true;
}

static void
fetch_start(struct iop *op)
{
	struct fetch_op *f = (struct fetch_op *)op;
	uint32_t *uids = xreallocarray(NULL, f->nslots, sizeof(*uids));
	struct imap_cmd *cmd;
	struct buf set;
	size_t i, put;

	f->sink.open = sink_open;
	f->sink.write = sink_write;
	f->sink.close = sink_close;
	f->sink.arg = f;
	for (i = 0; i < f->nslots; i++)
		uids[i] = f->slots[i].uid;
	buf_init(&set, BUF_NOMAX);
	op->cmds++; /* held: a command may complete inside imap_cmd_send() */
	for (i = 0; i < f->nslots; i += put) {
		buf_reset(&set);
		put = ims_uidset_put(
		    &set, uids + i, f->nslots - i, LINE_MAX_BYTES - 64);
		cmd = ims_cmd(op);
		imap_cmd_set_untagged(cmd, fetch_untagged, f);
		imap_cmd_set_sink(cmd, &f->sink);
		imap_cmd_printf(
		    cmd, "UID FETCH %s (UID BODY.PEEK[])", set.data);
		imap_cmd_send(cmd);
	}
	buf_release(&set);
	free(uids);
	if (--op->cmds == 0)
		op->vt->cmds_done(op);
}

/*
 * Each item's result.  A NO (op->no_kind ERR_MSG), a BAD or a lost
 * connection is the result of every item that got no body; only the
 * last two cut the batch short.
 */
static void
fetch_cmds_done(struct iop *op)
{
	struct fetch_op *f = (struct fetch_op *)op;
	struct fslot *sl;
	struct store_item *it;
	size_t k;

	for (k = 0; k < f->nslots; k++) {
		sl = &f->slots[k];
		it = &f->items[sl->i];
		it->body.size = sl->written;
		if (sl->werrno != 0)
			err_set(&it->err, ERR_SYS, "writing message UID %u: %s",
			    sl->uid, strerror(sl->werrno));
		else if (sl->astray)
			err_set(&it->err, ERR_PROTO,
			    "message UID %u: its body arrived where it could "
			    "not be kept",
			    sl->uid);
		else if (sl->got)
			continue;
		else if (op->failed)
			it->err = op->err;
		else
			err_set(&it->err, ERR_MSG,
			    "message UID %u is no longer in %s", sl->uid,
			    op->folder);
	}
	op->failed = false;
	f->resolved = true;
	ims_op_done(op, ims_items_err(f->items, f->n));
}

static void
fetch_finish(struct iop *op, const struct err *err)
{
	struct fetch_op *f = (struct fetch_op *)op;
	size_t k;

	/* Ended before its commands (the SELECT, no connection): all fail. */
	for (k = 0; !f->resolved && err != NULL && k < f->nslots; k++)
		f->items[f->slots[k].i].err = *err;
	f->cb(f->arg, err);
}

static void
fetch_destroy(struct iop *op)
{
	struct fetch_op *f = (struct fetch_op *)op;

	free(f->slots);
	free(f);
}

static const struct iop_vt fetch_vt = {
    "FETCH", fetch_start, fetch_finish, fetch_destroy, fetch_cmds_done};

/* Every item fails as the batch does (a folder the store refuses). */
static void
items_fail(struct store_item *items, size_t n, const struct err *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		items[i].err = *err;
}

void
ims_fetch_batch(struct store *st, const char *folder, struct store_item *items,
    size_t n, store_done_cb *cb, void *arg)
{
	struct fetch_op *f = xcalloc(1, sizeof(*f));
	struct fslot *sl;
	struct err e;
	size_t i, k;

	ims_op_init(&f->op, (struct imap_store *)st, &fetch_vt,
	    IOP_BIND | IOP_SELECT | IOP_PIPE | IOP_EAGER);
	f->op.no_kind = ERR_MSG;
	f->cb = cb;
	f->arg = arg;
	f->items = items;
	f->n = n;
	ims_items_clear(items, n);
	for (i = 0; i < n; i++)
		items[i].body.size = 0;
	if (ims_op_folder(&f->op, folder, &e) == -1) {
		items_fail(items, n, &e);
		ims_op_reject(&f->op, &e);
		return;
	}
	f->slots = xcalloc(n ? n : 1, sizeof(*f->slots));
	for (i = 0; i < n; i++) {
		f->slots[i].uid = items[i].uid;
		f->slots[i].i = i;
	}
	sort_array(f->slots, n, sizeof(*f->slots), slot_cmp);
	for (i = k = 0; i < n; i++) {
		sl = &f->slots[i];
		if (sl->uid == 0)
			err_set(&items[sl->i].err, ERR_MSG, "UID 0");
		else if (k > 0 && f->slots[k - 1].uid == sl->uid)
			err_set(&items[sl->i].err, ERR_MSG,
			    "message UID %u is twice in one fetch", sl->uid);
		else
			f->slots[k++] = *sl;
	}
	f->nslots = k;
	if (k == 0)
		ims_op_reject(&f->op, NULL); /* nothing to ask the server */
	else
		ims_op_submit(&f->op);
}

/*
 * Flags: UID STORE set +FLAGS.SILENT (add), -FLAGS.SILENT (remove), each
 * over as few UID sets as the line length allows.
 */

struct flags_op {
	struct iop op;
	store_done_cb *cb;
	void *arg;
	uint32_t *uids;
	size_t n;
	char *add;
	char *remove;
	int step;
	struct uranges deleted; /* expunge without UIDPLUS */
};

static void
flags_finish(struct iop *op, const struct err *err)
{
	struct flags_op *f = (struct flags_op *)op;

	f->cb(f->arg, err);
}

static void
flags_destroy(struct iop *op)
{
	struct flags_op *f = (struct flags_op *)op;

	free(f->uids);
	free(f->add);
	free(f->remove);
	ims_ranges_release(&f->deleted);
	free(f);
}

/* Send "UID <verb> <set><tail>" for all uids, as few as fit a line. */
static void
send_over_set(struct flags_op *f, const char *verb, const char *tail)
{
	size_t room, i = 0, put;
	struct imap_cmd *cmd;
	struct buf set;

	room = LINE_MAX_BYTES - 32 - strlen(verb) - strlen(tail);
	if (room < 1000 || room > LINE_MAX_BYTES)
		room = 1000;
	buf_init(&set, BUF_NOMAX);
	while (i < f->n) {
		buf_reset(&set);
		put = ims_uidset_put(&set, f->uids + i, f->n - i, room);
		i += put;
		cmd = ims_cmd(&f->op);
		imap_cmd_printf(cmd, "UID %s %s%s", verb, set.data, tail);
		imap_cmd_send(cmd);
	}
	buf_release(&set);
}

static void
flags_start(struct iop *op)
{
	struct flags_op *f = (struct flags_op *)op;
	char tail[IMS_FLAGS_MAX + 32];

	if (f->add[0] != '\0') {
		snprintf(tail, sizeof(tail), " +FLAGS.SILENT (%s)", f->add);
		send_over_set(f, "STORE", tail);
	}
	if (f->remove[0] != '\0') {
		snprintf(tail, sizeof(tail), " -FLAGS.SILENT (%s)", f->remove);
		send_over_set(f, "STORE", tail);
	}
}

static const struct iop_vt flags_vt = {
    "STORE", flags_start, flags_finish, flags_destroy, NULL};

/* The common part of flags and expunge ops; NULL when rejected. */
static struct flags_op *
flags_op_new(struct imap_store *s, const struct iop_vt *vt, unsigned opf,
    const char *folder, const uint32_t *uids, size_t n, store_done_cb *cb,
    void *arg)
{
	struct flags_op *f = xcalloc(1, sizeof(*f));
	struct err e;

	ims_op_init(&f->op, s, vt, opf);
	f->cb = cb;
	f->arg = arg;
	if (ims_op_folder(&f->op, folder, &e) == -1) {
		ims_op_reject(&f->op, &e);
		return NULL;
	}
	f->uids = ims_uids_sorted(uids, n, &f->n);
	return f;
}

void
ims_set_flags(struct store *st, const char *folder, const uint32_t *uids,
    size_t n, const char *add, const char *remove, store_done_cb *cb, void *arg)
{
	struct flags_op *f;
	struct err e;

	f = flags_op_new((struct imap_store *)st, &flags_vt,
	    IOP_BIND | IOP_SELECT | IOP_PIPE, folder, uids, n, cb, arg);
	if (f == NULL)
		return;
	if (ims_flags_arg(add, &f->add, &e) == -1 ||
	    ims_flags_arg(remove, &f->remove, &e) == -1) {
		ims_op_reject(&f->op, &e);
		return;
	}
	if (f->n == 0 || (f->add[0] == '\0' && f->remove[0] == '\0'))
		ims_op_reject(&f->op, NULL); /* nothing to do: success */
	else
		ims_op_submit(&f->op);
}

/*
 * Expunge.  With UIDPLUS: UID STORE +FLAGS.SILENT (\Deleted), then
 * UID EXPUNGE over the same sets, all pipelined.  Without: see the top.
 */

static void expunge_step(struct flags_op *);

static void
expunge_start(struct iop *op)
{
	struct flags_op *f = (struct flags_op *)op;

	if (op->flags & IOP_PIPE) {
		send_over_set(f, "STORE", " +FLAGS.SILENT (\\Deleted)");
		send_over_set(f, "EXPUNGE", "");
		return;
	}
	f->step = 0;
	expunge_step(f);
}

static bool
deleted_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct flags_op *f = arg;

	(void)c;
	return ims_search_resp(r, &f->deleted);
}

/* The first UID marked \Deleted that is not ours, or 0. */
static uint32_t
foreign_deleted(struct flags_op *f)
{
	size_t i, lo, hi;
	uint64_t ours;

	ims_ranges_norm(&f->deleted);
	for (i = 0; i < f->deleted.n; i++) {
		const struct urange *r = &f->deleted.v[i];

		/* Count our UIDs inside r: all of r must be ours. */
		for (lo = 0, hi = f->n; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;

			if (f->uids[mid] < r->lo)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (ours = 0; lo + ours < f->n && f->uids[lo + ours] <= r->hi;
		     ours++)
			;
		if (ours != (uint64_t)r->hi - r->lo + 1) {
			size_t k;

			for (k = 0; k < ours && f->uids[lo + k] == r->lo + k;
			     k++)
				;
			return r->lo + (uint32_t)k;
		}
	}
	return 0;
}

/*
 * Without UIDPLUS, one command at a time:
 *
 *	0 NOOP, 1 UID SEARCH DELETED, 2 UID STORE +FLAGS.SILENT (\Deleted),
 *	3 NOOP, 4 UID SEARCH DELETED again, 5 EXPUNGE
 *
 * The second search catches a message another client marked meanwhile.
 * Each NOOP makes the server take in other sessions' changes first, and
 * the SEARCH must wait for it: Dovecot answers a SEARCH pipelined behind
 * a NOOP before the NOOP's sync.
 */
static void
expunge_step(struct flags_op *f)
{
	struct imap_cmd *cmd;

	if (f->step == 2) {
		send_over_set(f, "STORE", " +FLAGS.SILENT (\\Deleted)");
		return;
	}
	cmd = ims_cmd(&f->op);
	if (f->step == 1 || f->step == 4) {
		ims_ranges_release(&f->deleted);
		imap_cmd_set_untagged(cmd, deleted_untagged, f);
		imap_cmd_printf(cmd, "UID SEARCH DELETED");
	} else
		imap_cmd_printf(cmd, f->step == 5 ? "EXPUNGE" : "NOOP");
	imap_cmd_send(cmd);
}

static void
expunge_cmds_done(struct iop *op)
{
	struct flags_op *f = (struct flags_op *)op;
	uint32_t other;
	struct err e;

	if (op->failed || (op->flags & IOP_PIPE) || f->step == 5) {
		ims_op_done(op, NULL);
		return;
	}
	if ((f->step == 1 || f->step == 4) &&
	    (other = foreign_deleted(f)) != 0) {
		err_set(&e, ERR_BOX,
		    "%s: message UID %u is marked \\Deleted too, and the "
		    "server has no UIDPLUS: not expunging, so as not to "
		    "remove other messages",
		    op->folder, other);
		ims_op_done(op, &e);
		return;
	}
	f->step++;
	expunge_step(f);
}

static const struct iop_vt expunge_vt = {
    "EXPUNGE", expunge_start, flags_finish, flags_destroy, expunge_cmds_done};

void
ims_expunge(struct store *st, const char *folder, const uint32_t *uids,
    size_t n, store_done_cb *cb, void *arg)
{
	struct imap_store *s = (struct imap_store *)st;
	struct flags_op *f;

	f = flags_op_new(s, &expunge_vt,
	    IOP_BIND | IOP_SELECT | (s->uidplus ? IOP_PIPE : 0), folder, uids,
	    n, cb, arg);
	if (f == NULL)
		return;
	if (f->n == 0)
		ims_op_reject(&f->op, NULL);
	else
		ims_op_submit(&f->op);
}
