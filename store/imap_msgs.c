/* SPDX-License-Identifier: ISC */
/*
 * imap_msgs.c - the IMAP store's message operations: fetch a body into a
 * file, append one, add and remove flags, expunge given UIDs; and the
 * helpers they and imap_scan.c share (UID sets, IMAP date-times).
 *
 * Every operation here is a handful of commands over UID sets, never one
 * command per message: UID sets are compressed into ranges ("1:5,8") and
 * split so that no command line passes about 8000 bytes, the length
 * servers are asked to accept (RFC 7162 section 4).
 *
 * Two capabilities have fallbacks.  Without UIDPLUS an APPEND is found
 * again with UID SEARCH above the UIDNEXT seen before it (by Message-ID,
 * or as the only newcomer), and EXPUNGE, which removes every \Deleted
 * message of the folder, is sent only when a UID SEARCH DELETED shows that
 * no other message is marked: ferry never removes messages it was not
 * asked to.  (Another client can still mark one between the search and
 * the EXPUNGE; servers without UIDPLUS leave no way to close that gap.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/client.h"
#include "store/imap_priv.h"
#include "store/imap_store.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/sort.h"
#include "util/str.h"
#include "util/xalloc.h"

#define LINE_MAX_BYTES 8000 /* per command line */
#define FLAGS_MAX 4096 /* canonical flag strings we send */
#define MSGID_MAX 998 /* a Message-ID we search for */

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

/* Normalize a flag string for sending; -1 with err when it is not one. */
static int
flags_arg(const char *in, char **out, struct err *err)
{
	char buf[FLAGS_MAX];

	if (store_flags_norm(in ? in : "", buf, sizeof(buf)) == -1)
		return err_set(err, ERR_MSG, "bad flags \"%.100s\"", in);
	*out = xstrdup(buf);
	return 0;
}

/*
 * Fetch: UID FETCH uid (BODY.PEEK[]) into the caller's file.  Bodies
 * above the parser's inline limit arrive through the sink; smaller ones
 * inline in the FETCH response.
 */

struct fetch_op {
	struct iop op;
	store_done_cb *cb;
	void *arg;
	uint32_t uid;
	struct store_body *body;
	struct imap_sink sink;
	bool got;
	uint64_t written;
	int werrno;
};

/* Write to the file; a failure is kept for the end, the bytes dropped. */
static void
body_write(struct fetch_op *f, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0 && f->werrno == 0) {
		w = write(f->body->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			f->werrno = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		n -= (size_t)w;
		f->written += (uint64_t)w;
	}
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
 * Several fetches may be in flight on one connection, and a server may
 * interleave their answers (Dovecot runs pipelined FETCHes in parallel),
 * so a body is taken only when the response names this UID, or names
 * none.
 */
static int
sink_open(void *arg, uint64_t size, struct str before)
{
	struct fetch_op *f = arg;
	uint32_t uid = uid_before(before);

	(void)size;
	return uid != 0 && uid != f->uid ? 1 : 0;
}

static int
sink_write(void *arg, const char *p, size_t n)
{
	body_write(arg, p, n);
	return 0;
}

static int
sink_close(void *arg)
{
	(void)arg;
	return 0;
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

static bool
fetch_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct fetch_op *f = arg;
	const struct imap_arg *body = fetch_item(r, "BODY[]");
	uint64_t uid;
	struct str s;

	(void)c;
	if (body == NULL ||
	    !imap_arg_number(fetch_item(r, "UID"), UINT32_MAX, &uid) ||
	    uid != f->uid || f->got)
		return false;
	f->got = true;
	if (body->type != IMAP_ARG_LITERAL_SINK && imap_arg_string(body, &s))
		body_write(f, s.p, s.len);
	return true;
}

static void
fetch_start(struct iop *op)
{
	struct fetch_op *f = (struct fetch_op *)op;
	struct imap_cmd *cmd = ims_cmd(op);

	f->sink.open = sink_open;
	f->sink.write = sink_write;
	f->sink.close = sink_close;
	f->sink.arg = f;
	imap_cmd_set_untagged(cmd, fetch_untagged, f);
	imap_cmd_set_sink(cmd, &f->sink);
	imap_cmd_printf(cmd, "UID FETCH %u (BODY.PEEK[])", f->uid);
	imap_cmd_send(cmd);
}

static void
fetch_cmds_done(struct iop *op)
{
	struct fetch_op *f = (struct fetch_op *)op;
	struct err e;

	f->body->size = f->written;
	if (op->failed)
		ims_op_done(op, NULL);
	else if (f->werrno != 0) {
		err_set(&e, ERR_SYS, "writing message UID %u: %s", f->uid,
		    strerror(f->werrno));
		ims_op_done(op, &e);
	} else if (!f->got) {
		err_set(&e, ERR_MSG, "message UID %u is no longer in %s",
		    f->uid, op->folder);
		ims_op_done(op, &e);
	} else
		ims_op_done(op, NULL);
}

static void
fetch_finish(struct iop *op, const struct err *err)
{
	struct fetch_op *f = (struct fetch_op *)op;

	f->cb(f->arg, err);
}

static void
plain_destroy(struct iop *op)
{
	free(op);
}

static const struct iop_vt fetch_vt = {
    "FETCH", fetch_start, fetch_finish, plain_destroy, fetch_cmds_done};

static void
ims_fetch(struct store *st, const char *folder, uint32_t uid,
    struct store_body *body, store_done_cb *cb, void *arg)
{
	struct fetch_op *f = xcalloc(1, sizeof(*f));
	struct err e;

	ims_op_init(&f->op, (struct imap_store *)st, &fetch_vt,
	    IOP_BIND | IOP_SELECT | IOP_PIPE);
	f->op.no_kind = ERR_MSG;
	f->cb = cb;
	f->arg = arg;
	f->uid = uid;
	f->body = body;
	body->size = 0;
	if (ims_op_folder(&f->op, folder, &e) == -1)
		ims_op_reject(&f->op, &e);
	else if (uid == 0) {
		err_set(&e, ERR_MSG, "UID 0");
		ims_op_reject(&f->op, &e);
	} else
		ims_op_submit(&f->op);
}

/*
 * Append.  The body is read whole when the call is made (the literal must
 * be in memory to be sent), at most IMAP_STORE_APPEND_MAX bytes.
 */

struct append_op {
	struct iop op;
	store_append_cb *cb;
	void *arg;
	char *data;
	size_t len;
	char *flags;
	int64_t date;
	char *msgid; /* for the search without UIDPLUS */
	uint32_t uid;
	uint32_t before; /* UIDNEXT before the APPEND */
	int step;
	struct uranges found;
};

static void
append_finish(struct iop *op, const struct err *err)
{
	struct append_op *a = (struct append_op *)op;

	a->cb(a->arg, err ? 0 : a->uid, err);
}

static void
append_destroy(struct iop *op)
{
	struct append_op *a = (struct append_op *)op;

	free(a->data);
	free(a->flags);
	free(a->msgid);
	ims_ranges_release(&a->found);
	free(a);
}

static void
append_reply_err(const struct imap_reply *r, struct err *e)
{
	enum err_kind kind = ERR_MSG;

	if (imap_reply_code(r, "TRYCREATE") ||
	    imap_reply_code(r, "NONEXISTENT"))
		kind = ERR_BOX;
	else if (imap_reply_code(r, "OVERQUOTA"))
		kind = ERR_ACCOUNT;
	ims_reply_err(r, kind, "APPEND", e);
}

static struct imap_cmd *
append_cmd(struct append_op *a, imap_done_cb *done)
{
	struct imap_cmd *cmd = imap_cmd_new(a->op.conn->c, 0, done, a);
	char date[IMS_DATE_LEN];

	imap_cmd_printf(cmd, "APPEND ");
	ims_cmd_folder(cmd, &a->op);
	imap_cmd_printf(cmd, " (%s) ", a->flags);
	if (a->date != 0) {
		ims_date_format(a->date, date);
		imap_cmd_printf(cmd, "\"%s\" ", date);
	}
	imap_cmd_literal(cmd, a->data, a->len);
	/* The command holds the bytes now. */
	free(a->data);
	a->data = NULL;
	return cmd;
}

static void
appenduid_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct append_op *a = arg;
	uint32_t uidvalidity;
	struct err e;

	(void)c;
	if (r->status != IMAP_STATUS_OK) {
		append_reply_err(r, &e);
		ims_op_done(&a->op, &e);
		return;
	}
	if (imap_reply_appenduid(r, &uidvalidity, &a->uid) == -1) {
		log_debug("%s: APPEND to %s: OK without APPENDUID",
		    a->op.s->base.name, a->op.folder);
		a->uid = 0;
	}
	ims_op_done(&a->op, NULL);
}

static void fallback_step(
    struct imap_client *, const struct imap_reply *, void *);

static bool
found_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct append_op *a = arg;

	(void)c;
	return ims_search_resp(r, &a->found);
}

/* The only UID >= before among what the search found, or 0. */
static uint32_t
pick_new(struct append_op *a)
{
	uint64_t count = 0;
	uint32_t uid = 0;
	size_t i;

	for (i = 0; i < a->found.n; i++) {
		uint32_t lo = a->found.v[i].lo, hi = a->found.v[i].hi;

		if (hi < a->before)
			continue;
		if (lo < a->before)
			lo = a->before;
		count += (uint64_t)hi - lo + 1;
		uid = hi;
	}
	return count == 1 ? uid : 0;
}

/*
 * Without UIDPLUS: SELECT (for a fresh UIDNEXT), APPEND, NOOP, then
 * UID SEARCH UID before:* [HEADER Message-ID id].
 */
static void
fallback_step(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct append_op *a = arg;
	struct imap_cmd *cmd;
	struct err e;

	if (r->status != IMAP_STATUS_OK && a->step >= 2) {
		/* The message is there: say we cannot tell its UID. */
		ims_reply_err(r, ERR_BOX, "after APPEND", &e);
		log_debug("%s: %s", a->op.s->base.name, e.msg);
		a->uid = 0;
		ims_op_done(&a->op, NULL);
		return;
	}
	if (r->status != IMAP_STATUS_OK) {
		if (a->step == 1)
			append_reply_err(r, &e);
		else
			ims_reply_err(r, ERR_BOX, "SELECT", &e);
		ims_op_done(&a->op, &e);
		return;
	}
	switch (a->step++) {
	case 0:
		ims_set_selected(a->op.conn, a->op.folder);
		a->before = imap_selected(c)->uidnext;
		if (a->before == 0)
			a->before = 1;
		imap_cmd_send(append_cmd(a, fallback_step));
		return;
	case 1:
		cmd = imap_cmd_new(c, 0, fallback_step, a);
		imap_cmd_printf(cmd, "NOOP");
		break;
	case 2:
		cmd = imap_cmd_new(c, 0, fallback_step, a);
		imap_cmd_set_untagged(cmd, found_untagged, a);
		imap_cmd_printf(cmd, "UID SEARCH UID %u:*", a->before);
		if (a->msgid != NULL) {
			imap_cmd_printf(cmd, " HEADER Message-ID ");
			imap_cmd_astring(cmd, str_from(a->msgid));
		}
		break;
	default:
		ims_ranges_norm(&a->found);
		a->uid = pick_new(a);
		if (a->uid == 0)
			log_debug("%s: APPEND to %s: cannot tell its UID",
			    a->op.s->base.name, a->op.folder);
		ims_op_done(&a->op, NULL);
		return;
	}
	imap_cmd_send(cmd);
}

static void
append_start(struct iop *op)
{
	struct append_op *a = (struct append_op *)op;
	struct imap_cmd *cmd;

	if (op->flags & IOP_PIPE) {
		imap_cmd_send(append_cmd(a, appenduid_done));
		return;
	}
	ims_set_selected(op->conn, NULL);
	cmd = imap_cmd_new(op->conn->c, IMAP_CMD_SELECT, fallback_step, a);
	imap_cmd_printf(cmd, "SELECT ");
	ims_cmd_folder(cmd, op);
	imap_cmd_send(cmd);
}

static const struct iop_vt append_vt = {
    "APPEND", append_start, append_finish, append_destroy, NULL};

/* Read exactly n bytes of fd into a new buffer. */
static int
read_body(int fd, size_t n, char **out, struct err *err)
{
	char *p = xmalloc(n ? n : 1);
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(p);
			if (r < 0)
				return err_sys(err, "reading the message");
			return err_set(err, ERR_MSG,
			    "message is shorter than its size (%zu of %zu "
			    "bytes)",
			    got, n);
		}
		got += (size_t)r;
	}
	*out = p;
	return 0;
}

/* The Message-ID field's value, unfolded and trimmed, or NULL. */
static char *
find_msgid(const char *p, size_t n)
{
	static const char name[] = "message-id:";
	size_t i = 0, j, k;
	struct buf v;
	char *out = NULL;

	while (i < n && p[i] != '\r' && p[i] != '\n') {
		for (j = i; j < n && p[j] != '\n'; j++)
			;
		if (j - i >= sizeof(name) - 1 &&
		    strncasecmp(p + i, name, sizeof(name) - 1) == 0)
			break;
		i = j + 1;
	}
	if (i >= n || p[i] == '\r' || p[i] == '\n')
		return NULL;
	buf_init(&v, MSGID_MAX);
	for (k = i + sizeof(name) - 1; k < n; k++) {
		if (p[k] == '\r' || p[k] == '\n') {
			if (p[k] == '\n' && k + 1 < n &&
			    (p[k + 1] == ' ' || p[k + 1] == '\t'))
				continue;
			if (p[k] == '\r')
				continue;
			break;
		}
		if ((unsigned char)p[k] < 0x20 && p[k] != '\t')
			goto out;
		if ((unsigned char)p[k] >= 0x7f || buf_putc(&v, p[k]) == -1)
			goto out; /* not something to search for */
	}
	for (i = 0; i < v.len && (v.data[i] == ' ' || v.data[i] == '\t'); i++)
		;
	for (j = v.len;
	     j > i && (v.data[j - 1] == ' ' || v.data[j - 1] == '\t'); j--)
		;
	if (j > i)
		out = xstrndup(v.data + i, j - i);
out:
	buf_release(&v);
	return out;
}

static void
ims_append(struct store *st, const char *folder, const char *flags,
    int64_t internaldate, const struct store_body *body, store_append_cb *cb,
    void *arg)
{
	struct imap_store *s = (struct imap_store *)st;
	struct append_op *a = xcalloc(1, sizeof(*a));
	struct err e;

	ims_op_init(&a->op, s, &append_vt, s->uidplus ? IOP_PIPE : 0);
	a->cb = cb;
	a->arg = arg;
	a->date = internaldate;
	if (ims_op_folder(&a->op, folder, &e) == -1 ||
	    flags_arg(flags, &a->flags, &e) == -1)
		goto out_reject;
	if (body->size > IMAP_STORE_APPEND_MAX) {
		err_set(&e, ERR_MSG,
		    "message too big (%llu bytes; ferry appends at most %u)",
		    (unsigned long long)body->size, IMAP_STORE_APPEND_MAX);
		goto out_reject;
	}
	a->len = (size_t)body->size;
	if (read_body(body->fd, a->len, &a->data, &e) == -1)
		goto out_reject;
	if (!s->uidplus)
		a->msgid = find_msgid(a->data, a->len);
	a->op.mem = a->len;
	ims_op_submit(&a->op);
	return;
out_reject:
	ims_op_reject(&a->op, &e);
}

/*
 * Batches, one message at a time (pipelined).
 */

struct batch {
	struct store_item *items;
	size_t n, left;
	store_done_cb *cb;
	void *arg;
	struct err err;
};

struct batch_one {
	struct batch *b;
	size_t i;
};

static void
batch_one_done(struct batch_one *o, uint32_t uid, const struct err *err)
{
	struct batch *b = o->b;
	struct store_item *it = &b->items[o->i];

	free(o);
	it->uid = uid;
	if (err != NULL && err->kind != ERR_NONE) {
		it->err = *err;
		if (err->kind != ERR_MSG && err->kind != ERR_LIMIT &&
		    b->err.kind == ERR_NONE)
			b->err = *err;
	}
	if (--b->left == 0) {
		b->cb(b->arg, b->err.kind != ERR_NONE ? &b->err : NULL);
		free(b);
	}
}

static void
batch_fetched(void *arg, const struct err *err)
{
	struct batch_one *o = arg;

	batch_one_done(o, o->b->items[o->i].uid, err);
}

static void
batch_appended(void *arg, uint32_t uid, const struct err *err)
{
	batch_one_done(arg, uid, err);
}

static struct batch *
batch_new(struct store_item *items, size_t n, store_done_cb *cb, void *arg)
{
	struct batch *b = xcalloc(1, sizeof(*b));
	size_t i;

	b->items = items;
	b->n = b->left = n;
	b->cb = cb;
	b->arg = arg;
	for (i = 0; i < n; i++) {
		items[i].err.kind = ERR_NONE;
		items[i].err.msg[0] = '\0';
	}
	return b;
}

static struct batch_one *
batch_at(struct batch *b, size_t i)
{
	struct batch_one *o = xcalloc(1, sizeof(*o));

	o->b = b;
	o->i = i;
	return o;
}

void
ims_fetch_batch(struct store *st, const char *folder, struct store_item *items,
    size_t n, store_done_cb *cb, void *arg)
{
	struct batch *b = batch_new(items, n, cb, arg);
	size_t i;

	for (i = 0; i < n; i++)
		ims_fetch(st, folder, items[i].uid, &items[i].body,
		    batch_fetched, batch_at(b, i));
}

void
ims_append_batch(struct store *st, const char *folder, struct store_item *items,
    size_t n, store_done_cb *cb, void *arg)
{
	struct batch *b = batch_new(items, n, cb, arg);
	size_t i;

	for (i = 0; i < n; i++)
		ims_append(st, folder, items[i].flags, items[i].internaldate,
		    &items[i].body, batch_appended, batch_at(b, i));
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
	char tail[FLAGS_MAX + 32];

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
	if (flags_arg(add, &f->add, &e) == -1 ||
	    flags_arg(remove, &f->remove, &e) == -1) {
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
