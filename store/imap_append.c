/* SPDX-License-Identifier: ISC */
/*
 * imap_append.c - the IMAP store's append batches.
 *
 * With UIDPLUS and MULTIAPPEND (RFC 3502) a batch goes as few commands
 *
 *	APPEND box (flags) "date" {n+}
 *	...body... (flags) "date" {n+}
 *	...body...
 *
 * as bounds allow (MULTI_MSGS messages and MULTI_BYTES literal bytes
 * each; one bigger message goes alone), all pipelined, and [APPENDUID v
 * set] gives the new UIDs in the order of the messages.  MULTIAPPEND is
 * all or nothing, so a command the server refuses is sent again one
 * message per APPEND, for each message's own result (unless the refusal
 * is about the folder or the account, which no retry changes).  With
 * UIDPLUS alone: one pipelined APPEND per message.  Without UIDPLUS, one
 * message at a time: SELECT (for a fresh UIDNEXT), APPEND, NOOP, then UID
 * SEARCH above that UIDNEXT (by Message-ID, or as the only newcomer).
 *
 * Bodies are never held in memory: each literal is read from the item's
 * file while it is sent (imap_cmd_literal_fd), from where the file was
 * when the batch was submitted, so that a retry reads it again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/client.h"
#include "store/imap_priv.h"
#include "store/imap_store.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

#define MULTI_MSGS 64 /* messages in one MULTIAPPEND */
#define MULTI_MSGS_SYNC 32 /* without LITERAL+ (each waits for a "+") */
#define MULTI_BYTES (4u * 1024 * 1024) /* literal bytes in one */
#define MSGID_MAX 998 /* a Message-ID we search for */

/* An item to send. */
struct aslot {
	size_t i; /* the item */
	char *flags; /* canonical */
	uint64_t off; /* where its body starts in its file */
};

struct append_op {
	struct iop op;
	store_done_cb *cb;
	void *arg;
	struct store_item *items;
	size_t n;
	struct aslot *slots; /* the items that can go, in order */
	size_t nslots;
	unsigned pending; /* APPEND commands in flight, plus holds */
	/* Without UIDPLUS: slots[cur] is at step (the reply awaited). */
	size_t cur;
	int step;
	uint32_t before; /* UIDNEXT before its APPEND */
	char *msgid;
	struct uranges found;
	bool resolved; /* every item has its result */
};

/* One APPEND command: slots[first..first+n). */
struct agroup {
	struct append_op *a;
	size_t first, n;
};

static void
append_finish(struct iop *op, const struct err *err)
{
	struct append_op *a = (struct append_op *)op;
	size_t k;

	/* Ended before its commands (no connection): all fail. */
	for (k = 0; !a->resolved && err != NULL && k < a->nslots; k++)
		a->items[a->slots[k].i].err = *err;
	a->cb(a->arg, err);
}

static void
append_destroy(struct iop *op)
{
	struct append_op *a = (struct append_op *)op;
	size_t k;

	for (k = 0; k < a->nslots; k++)
		free(a->slots[k].flags);
	free(a->slots);
	free(a->msgid);
	ims_ranges_release(&a->found);
	free(a);
}

/* Every item has its result: the batch is done. */
static void
append_done(struct append_op *a)
{
	a->op.failed = false;
	a->resolved = true;
	ims_op_done(&a->op, ims_items_err(a->items, a->n));
}

/*
 * A refused APPEND: a missing folder is the folder's problem, a full
 * account the account's; anything else, a BAD included (Dovecot says BAD
 * to a flag it does not take), is this message's.
 */
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
	if (r->status == IMAP_STATUS_BAD)
		e->kind = kind;
}

/* " (flags) "date" {n+}" and the body, read from its file when sent. */
static void
put_message(struct imap_cmd *cmd, const struct append_op *a, size_t k)
{
	const struct aslot *sl = &a->slots[k];
	const struct store_item *it = &a->items[sl->i];
	char date[IMS_DATE_LEN];

	imap_cmd_printf(cmd, " (%s) ", sl->flags);
	if (it->internaldate != 0) {
		ims_date_format(it->internaldate, date);
		imap_cmd_printf(cmd, "\"%s\" ", date);
	}
	imap_cmd_literal_fd(cmd, it->body.fd, sl->off, it->body.size);
}

static struct imap_cmd *
append_cmd(
    struct append_op *a, size_t first, size_t n, imap_done_cb *done, void *arg)
{
	struct imap_cmd *cmd = imap_cmd_new(a->op.conn->c, 0, done, arg);
	size_t k;

	imap_cmd_printf(cmd, "APPEND ");
	ims_cmd_folder(cmd, &a->op);
	for (k = first; k < first + n; k++)
		put_message(cmd, a, k);
	return cmd;
}

/*
 * With UIDPLUS.
 */

static void send_group(struct append_op *, size_t first, size_t n);

static void
release(struct append_op *a)
{
	if (--a->pending == 0)
		append_done(a);
}

/*
 * [APPENDUID uidvalidity uid-set]: the set names the new UIDs in the
 * order of the messages (RFC 4315), as ranges or one by one.  Any other
 * count leaves every UID 0, for the caller to resolve.
 */
static void
group_uids(
    struct append_op *a, const struct agroup *g, const struct imap_reply *r)
{
	const struct imap_resp *resp = r->resp;
	struct uranges u = {NULL, 0, 0};
	uint64_t v, count = 0;
	size_t j, k = g->first;
	struct str set;
	uint32_t uid;

	if (!imap_reply_code(r, "APPENDUID") || resp->ncode_args != 2 ||
	    !imap_arg_number(&resp->code_args[0], UINT32_MAX, &v) || v == 0 ||
	    !imap_arg_string(&resp->code_args[1], &set) ||
	    !ims_ranges_parse(&u, set)) {
		log_debug("%s: APPEND to %s: OK without a usable APPENDUID",
		    a->op.s->base.name, a->op.folder);
		goto out;
	}
	for (j = 0; j < u.n; j++)
		count += (uint64_t)u.v[j].hi - u.v[j].lo + 1;
	if (count != g->n) {
		log_debug("%s: APPEND to %s: APPENDUID names %" PRIu64
			  " UIDs for %zu messages",
		    a->op.s->base.name, a->op.folder, count, g->n);
		goto out;
	}
	for (j = 0; j < u.n; j++)
		for (uid = u.v[j].lo;; uid++) {
			a->items[a->slots[k++].i].uid = uid;
			if (uid == u.v[j].hi)
				break;
		}
out:
	ims_ranges_release(&u);
}

static void
group_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct agroup *g = arg;
	struct append_op *a = g->a;
	struct err e;
	size_t k;

	(void)c;
	if (r->status == IMAP_STATUS_OK) {
		group_uids(a, g, r);
		free(g);
		release(a);
		return;
	}
	append_reply_err(r, &e);
	if (g->n > 1 && e.kind == ERR_MSG) {
		/* All or nothing: again one by one, for each one's answer. */
		log_debug("%s: %s: sending its %zu messages one by one",
		    a->op.s->base.name, e.msg, g->n);
		for (k = g->first; k < g->first + g->n; k++)
			send_group(a, k, 1);
	} else
		for (k = g->first; k < g->first + g->n; k++)
			a->items[a->slots[k].i].err = e;
	free(g);
	release(a);
}

static void
send_group(struct append_op *a, size_t first, size_t n)
{
	struct agroup *g = xmalloc(sizeof(*g));

	g->a = a;
	g->first = first;
	g->n = n;
	a->pending++;
	imap_cmd_send(append_cmd(a, first, n, group_done, g));
}

/* How many slots from first go in one command. */
static size_t
group_size(const struct append_op *a, size_t first)
{
	struct imap_client *c = a->op.conn->c;
	size_t max = !a->op.s->multiappend         ? 1
		     : imap_has_cap(c, "LITERAL+") ? MULTI_MSGS
						   : MULTI_MSGS_SYNC;
	uint64_t bytes = 0, size;
	size_t n = 0;

	while (first + n < a->nslots && n < max) {
		size = a->items[a->slots[first + n].i].body.size;
		if (n > 0 && bytes + size > MULTI_BYTES)
			break;
		bytes += size;
		n++;
	}
	return n;
}

/*
 * Without UIDPLUS.
 */

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

/* The Message-ID in the header of slot k's body, or NULL. */
static char *
read_msgid(const struct append_op *a, size_t k)
{
	const struct aslot *sl = &a->slots[k];
	const struct store_item *it = &a->items[sl->i];
	size_t want = it->body.size < STORE_HEADER_MAX ? (size_t)it->body.size
						       : STORE_HEADER_MAX;
	char *p = xmalloc(want ? want : 1), *id = NULL;
	ssize_t got;

	do
		got = pread(it->body.fd, p, want, (off_t)sl->off);
	while (got < 0 && errno == EINTR);
	if (got > 0)
		id = find_msgid(p, (size_t)got);
	free(p);
	return id;
}

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

static void fallback_step(
    struct imap_client *, const struct imap_reply *, void *);

/* Start on slots[cur], or finish when there is none. */
static void
fallback_next(struct append_op *a)
{
	struct imap_cmd *cmd;

	if (a->cur == a->nslots) {
		append_done(a);
		return;
	}
	a->step = 0;
	free(a->msgid);
	a->msgid = read_msgid(a, a->cur);
	ims_ranges_release(&a->found);
	ims_set_selected(a->op.conn, NULL);
	cmd = imap_cmd_new(a->op.conn->c, IMAP_CMD_SELECT, fallback_step, a);
	imap_cmd_printf(cmd, "SELECT ");
	ims_cmd_folder(cmd, &a->op);
	imap_cmd_send(cmd);
}

/* The batch ends with err for slots[from..]. */
static void
fallback_stop(struct append_op *a, size_t from, const struct err *err)
{
	size_t k;

	for (k = from; k < a->nslots; k++)
		a->items[a->slots[k].i].err = *err;
	append_done(a);
}

/*
 * One reply for slots[cur]: 0 SELECT, 1 APPEND, 2 NOOP, 3 UID SEARCH UID
 * before:* [HEADER Message-ID id].
 */
static void
fallback_step(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct append_op *a = arg;
	struct store_item *it = &a->items[a->slots[a->cur].i];
	struct imap_cmd *cmd;
	struct err e;

	if (r->status != IMAP_STATUS_OK && a->step >= 2) {
		/* The message is there: say we cannot tell its UID. */
		ims_reply_err(r, ERR_BOX, "after APPEND", &e);
		log_debug("%s: %s", a->op.s->base.name, e.msg);
		if (r->status == IMAP_STATUS_NONE) {
			fallback_stop(a, a->cur + 1, &e);
			return;
		}
		a->cur++;
		fallback_next(a);
		return;
	}
	if (r->status != IMAP_STATUS_OK) {
		if (a->step == 1)
			append_reply_err(r, &e);
		else
			ims_reply_err(r, ERR_BOX, "SELECT", &e);
		it->err = e;
		if (e.kind != ERR_MSG) {
			fallback_stop(a, a->cur, &e);
			return;
		}
		a->cur++;
		fallback_next(a);
		return;
	}
	switch (a->step++) {
	case 0:
		ims_set_selected(a->op.conn, a->op.folder);
		a->before = imap_selected(c)->uidnext;
		if (a->before == 0)
			a->before = 1;
		cmd = append_cmd(a, a->cur, 1, fallback_step, a);
		break;
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
		it->uid = pick_new(a);
		if (it->uid == 0)
			log_debug("%s: APPEND to %s: cannot tell its UID",
			    a->op.s->base.name, a->op.folder);
		a->cur++;
		fallback_next(a);
		return;
	}
	imap_cmd_send(cmd);
}

/*
 * The operation.
 */

static void
append_start(struct iop *op)
{
	struct append_op *a = (struct append_op *)op;
	size_t k, n;

	if (!(op->flags & IOP_PIPE)) {
		a->cur = 0;
		fallback_next(a);
		return;
	}
	a->pending++; /* held: a command may complete inside imap_cmd_send() */
	for (k = 0; k < a->nslots; k += n) {
		n = group_size(a, k);
		send_group(a, k, n);
	}
	release(a);
}

static const struct iop_vt append_vt = {
    "APPEND", append_start, append_finish, append_destroy, NULL};

/* Check an item before anything is sent; -1 with err (ERR_MSG) if not. */
static int
slot_init(struct aslot *sl, const struct store_item *it, struct err *err)
{
	struct stat st;
	off_t off;

	if (it->body.size > IMAP_STORE_APPEND_MAX)
		return err_set(err, ERR_MSG,
		    "message too big (%" PRIu64 " bytes; ferry appends at "
		    "most %u)",
		    it->body.size, IMAP_STORE_APPEND_MAX);
	if ((off = lseek(it->body.fd, 0, SEEK_CUR)) == -1 ||
	    fstat(it->body.fd, &st) == -1)
		return err_set(err, ERR_MSG, "cannot read the message: %s",
		    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(
		    err, ERR_MSG, "cannot read the message: not a file");
	if (st.st_size < off || (uint64_t)(st.st_size - off) < it->body.size)
		return err_set(err, ERR_MSG,
		    "message is shorter than its size (%" PRIu64 " of %" PRIu64
		    " bytes)",
		    st.st_size < off ? 0 : (uint64_t)(st.st_size - off),
		    it->body.size);
	if (ims_flags_arg(it->flags, &sl->flags, err) == -1)
		return -1;
	sl->off = (uint64_t)off;
	return 0;
}

void
ims_append_batch(struct store *st, const char *folder, struct store_item *items,
    size_t n, store_done_cb *cb, void *arg)
{
	struct imap_store *s = (struct imap_store *)st;
	struct append_op *a = xcalloc(1, sizeof(*a));
	struct err e;
	size_t i;

	ims_op_init(&a->op, s, &append_vt, s->uidplus ? IOP_PIPE : 0);
	a->cb = cb;
	a->arg = arg;
	a->items = items;
	a->n = n;
	ims_items_clear(items, n);
	for (i = 0; i < n; i++)
		items[i].uid = 0;
	if (ims_op_folder(&a->op, folder, &e) == -1) {
		for (i = 0; i < n; i++)
			items[i].err = e;
		ims_op_reject(&a->op, &e);
		return;
	}
	a->slots = xcalloc(n ? n : 1, sizeof(*a->slots));
	for (i = 0; i < n; i++)
		if (slot_init(&a->slots[a->nslots], &items[i], &items[i].err) ==
		    0)
			a->slots[a->nslots++].i = i;
	if (a->nslots == 0)
		ims_op_reject(&a->op, NULL); /* nothing to send */
	else
		ims_op_submit(&a->op);
}
