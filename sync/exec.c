/* SPDX-License-Identifier: ISC */
/*
 * exec.c - the executor: carries one folder pair's plan out against the
 * two stores and records every result in the state (step 5 and 6 of
 * "The sync algorithm" in DESIGN.md).
 *
 * Dependencies between the ops, in the order they run:
 *   COPY         in batches (see "Copies" below): intents (durable) ->
 *                fetch to temporary files -> append -> one transaction:
 *                msg rows + intents removed.
 *   PAIR/REPAIR  state rows, before the FLAGS that may name them.
 *   FLAGS        one store_set_flags per (side, add, remove) group.
 *   SET_BASE     only for rows none of whose FLAGS failed.
 *   EXPUNGE      one store_expunge per side, then the rows go.
 *   FORGET_SIDE  the row loses that side's UID (nothing is copied back).
 *   DROP_ROW     the row goes.
 * An ERR_MSG result is recorded as a failure of that message and the rest
 * goes on; any other error ends the pass and is returned.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/state.h"
#include "store/store.h"
#include "sync/sync.h"
#include "util/err.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/os.h"
#include "util/xalloc.h"

struct exec;

enum phase {
	PH_COPIES, /* batches of copies in flight */
	PH_FLAGS, /* flag groups in flight */
	PH_EXPUNGES, /* expunges in flight */
	PH_DONE,
};

struct batch;
struct flag_group;

struct exec_q {
	struct exec *ex;
	enum state_side side;
	uint32_t *uids;
	size_t n;
	bool ok;
};

struct exec {
	struct sync_exec *x;
	const struct plan *p;
	struct err err; /* the first error that ends the pass */
	bool stop;
	unsigned outstanding; /* store calls not answered yet */
	enum phase phase;
	bool advancing; /* advance() is on the stack */
	struct batch *b; /* BATCHES of them */
	size_t next; /* the next op to look at for copies */
	size_t max; /* messages per batch */
	struct flag_group *g;
	size_t ng;
	struct exec_q q[2]; /* expunges by side */
	sync_exec_cb *done;
	void *arg;
};

static void advance(struct exec *);

/* Remember the first pass-ending error; ERR_MSG only counts a failure. */
static void
fail_pass(struct exec *ex, const struct err *err)
{
	if (!ex->stop)
		ex->err = *err;
	ex->stop = true;
}

static void
fail_msg(struct exec *ex, enum state_side side, uint32_t uid, const char *kind,
    const struct err *err)
{
	struct sync_exec *x = ex->x;
	struct err e;

	x->incomplete = true;
	x->sum->failed++;
	log_warn("%s: %s of UID %u on %s failed: %s", x->folder[side], kind,
	    uid, state_side_name(side), err->msg);
	if (state_failure_record(
		x->st, x->pair, side, uid, kind, err->msg, NULL, &e) == -1)
		fail_pass(ex, &e);
	else
		sync_crash_point("failure recorded");
}

static void
on_result(struct exec *ex, enum state_side side, uint32_t uid, const char *kind,
    const struct err *err)
{
	if (err->kind == ERR_MSG || err->kind == ERR_LIMIT)
		fail_msg(ex, side, uid, kind, err);
	else
		fail_pass(ex, err);
}

/*
 * Copies, in batches: up to BATCH_MSGS messages (and about BATCH_BYTES
 * by the sizes the scan saw) going the same way.  A batch is
 *   1. its intents, in one transaction (durable before any byte moves);
 *   2. one store_fetch_batch() from the source into temporary files;
 *   3. one store_append_batch() to the destination (a Maildir syncs the
 *      whole batch in one round; an IMAP server takes it in MULTIAPPEND);
 *   4. one transaction: a msg row for every copy whose new UID is known,
 *      its intent removed, its old failure cleared.
 * Two batches are in flight, so that one is fetched while the other is
 * appended.  An intent stays when the destination could not say the new
 * UID or the batch was cut short: the next run resolves it.
 */

#define BATCH_MSGS 64
#define BATCH_BYTES (8u * 1024 * 1024)
#define BATCHES 2

struct batch {
	struct exec *ex;
	enum state_side dest;
	size_t n;
	const struct plan_op **ops;
	int64_t *pending;
	/* The fetch items, then (compacted in place) the append items:
	 * it[k] is ops[app_of[k]]; it[0..nopen) hold every open file. */
	struct store_item *it;
	size_t *app_of;
	size_t napp, nopen;
	bool busy;
};

static void
batch_init(struct batch *b, struct exec *ex, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->ex = ex;
	b->ops = xcalloc(max, sizeof(*b->ops));
	b->pending = xcalloc(max, sizeof(*b->pending));
	b->it = xcalloc(max, sizeof(*b->it));
	b->app_of = xcalloc(max, sizeof(*b->app_of));
}

static void
batch_release(struct batch *b)
{
	free(b->ops);
	free(b->pending);
	free(b->it);
	free(b->app_of);
}

/* Close the batch's files; the batch is free again. */
static void
batch_end(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->nopen; i++)
		if (b->it[i].body.fd != -1)
			close(b->it[i].body.fd);
	b->n = b->napp = b->nopen = 0;
	b->busy = false;
	b->ex->outstanding--;
	advance(b->ex);
}

/*
 * The progress line: rewritten in place on a terminal, at most ten times
 * a second, and cleared when the folder's copies are done.  A folder in
 * windows counts all of its copies, the later windows' estimated.
 */
static void
progress(struct sync_exec *x, bool last)
{
	int64_t now = loop_now_ms();

	if (x->progress == NULL || x->copies_planned == 0)
		return;
	if (!last && now - x->progress_ms < 100)
		return;
	x->progress_ms = now;
	if (last)
		fputs("\r\033[K", x->progress);
	else if (x->copies_before != 0 || x->copies_after != 0)
		fprintf(x->progress,
		    "\r\033[K%s: copied %" PRIu64 " of about %" PRIu64,
		    x->folder[0], x->copies_before + x->copies_done,
		    x->copies_before + x->copies_planned + x->copies_after);
	else
		fprintf(x->progress, "\r\033[K%s: copied %" PRIu64 "/%" PRIu64,
		    x->folder[0], x->copies_done, x->copies_planned);
	fflush(x->progress);
}

/* The msg row of a finished copy. */
static int
record_copy(struct exec *ex, const struct plan_op *op, uint32_t new_uid,
    int64_t pending, struct err *err)
{
	struct sync_exec *x = ex->x;
	enum state_side dest = op->side, src = !op->side;
	struct state_msg m;

	memset(&m, 0, sizeof(m));
	m.pair = x->pair;
	m.uid[src] = op->uid[src];
	m.uid[dest] = new_uid;
	m.flags = op->base != NULL ? op->base : "";
	m.size = op->size;
	m.internaldate = op->internaldate;
	m.fp = op->fp_len > 0 ? op->fp : NULL;
	m.fp_len = op->fp_len;
	m.objid[src] = op->objid[src];
	if (state_msg_add(x->st, &m, NULL, err) == -1 ||
	    state_pending_remove(x->st, pending, err) == -1)
		return -1;
	return state_failure_clear(x->st, x->pair, src, m.uid[src], NULL, err);
}

/*
 * Step 4: record what the destination took.  Failed messages lose their
 * intent (nothing arrived); copies without a known UID keep theirs.
 */
static void
on_appended(void *arg, const struct err *berr)
{
	struct batch *b = arg;
	struct exec *ex = b->ex;
	struct sync_exec *x = ex->x;
	enum state_side src = !b->dest;
	struct err e;
	size_t k;
	int r;

	if (berr != NULL && berr->kind != ERR_NONE)
		fail_pass(ex, berr);
	for (k = 0; k < b->napp; k++) {
		const struct store_item *it = &b->it[k];
		const struct plan_op *op = b->ops[b->app_of[k]];

		if (it->err.kind == ERR_NONE) {
			x->sum->copied[b->dest]++;
			x->sum->copied_bytes[b->dest] += it->body.size;
		} else if (it->err.kind == ERR_MSG || it->err.kind == ERR_LIMIT)
			on_result(ex, src, op->uid[src], "append", &it->err);
		else
			fail_pass(ex, &it->err);
	}
	x->copies_done += b->napp;
	progress(x, false);
	sync_crash_point("append done");
	if (state_begin(x->st, &e) == -1) {
		fail_pass(ex, &e);
		batch_end(b);
		return;
	}
	for (k = 0, r = 0; k < b->napp && r == 0; k++) {
		const struct store_item *it = &b->it[k];
		size_t i = b->app_of[k];

		if (it->err.kind == ERR_MSG || it->err.kind == ERR_LIMIT)
			r = state_pending_remove(x->st, b->pending[i], &e);
		else if (it->err.kind != ERR_NONE)
			continue; /* cut short: the intent resolves it */
		else if (it->uid == 0)
			x->incomplete = true; /* likewise */
		else
			r = record_copy(
			    ex, b->ops[i], it->uid, b->pending[i], &e);
	}
	if (r == 0 && state_commit(x->st, &e) == 0)
		sync_crash_point("copies recorded");
	else {
		state_rollback(x->st, NULL);
		fail_pass(ex, &e);
	}
	batch_end(b);
}

/* Step 3: append what arrived; a message that failed loses its intent. */
static void
on_fetched(void *arg, const struct err *berr)
{
	struct batch *b = arg;
	struct exec *ex = b->ex;
	struct sync_exec *x = ex->x;
	enum state_side src = !b->dest;
	struct err e;
	size_t i;

	if (berr != NULL && berr->kind != ERR_NONE)
		fail_pass(ex, berr);
	/* Compact in place: item k <= i is done with when i is looked at. */
	b->napp = 0;
	for (i = 0; i < b->n; i++) {
		struct store_item *it = &b->it[i], *a;
		const struct plan_op *op = b->ops[i];
		struct store_body body = it->body;

		if (it->err.kind == ERR_MSG || it->err.kind == ERR_LIMIT) {
			on_result(ex, src, op->uid[src], "fetch", &it->err);
			if (state_pending_remove(x->st, b->pending[i], &e) ==
			    -1)
				fail_pass(ex, &e);
			close(body.fd);
			continue;
		}
		if (it->err.kind != ERR_NONE) {
			fail_pass(ex, &it->err);
			close(body.fd);
			continue;
		}
		if (lseek(body.fd, 0, SEEK_SET) == -1) {
			err_sys(&e, "temporary file");
			fail_pass(ex, &e);
			close(body.fd);
			continue;
		}
		a = &b->it[b->napp];
		memset(a, 0, sizeof(*a));
		a->flags = op->flags != NULL ? op->flags : "";
		a->internaldate = op->internaldate;
		a->body = body;
		b->app_of[b->napp++] = i;
	}
	b->nopen = b->napp;
	if (ex->stop || b->napp == 0) {
		/* Nothing of these was sent: their intents can go. */
		for (i = 0; i < b->napp; i++)
			if (state_pending_remove(
				x->st, b->pending[b->app_of[i]], &e) == -1)
				fail_pass(ex, &e);
		b->napp = 0;
		batch_end(b);
		return;
	}
	x->touched[b->dest] = true;
	store_append_batch(x->store[b->dest], x->folder[b->dest], b->it,
	    b->napp, on_appended, b);
}

/*
 * Steps 1 and 2 for the copies from *next on that go the way the first
 * goes; *next moves past them.  -1 ends the pass (ex->err set).
 */
static int
batch_start(struct exec *ex, struct batch *b, const struct plan *p,
    size_t *next, size_t max)
{
	struct sync_exec *x = ex->x;
	uint64_t bytes = 0;
	struct err e;
	size_t i;

	b->n = 0;
	for (i = *next; i < p->nops && b->n < max; i++) {
		const struct plan_op *op = &p->ops[i];

		if (op->kind != PLAN_COPY)
			continue;
		if (b->n > 0 &&
		    (op->side != b->dest || bytes + op->size > BATCH_BYTES))
			break;
		if (op->fp_len == 0) {
			err_set(&e, ERR_MSG, "no fingerprint");
			fail_msg(
			    ex, !op->side, op->uid[!op->side], "fetch", &e);
			continue;
		}
		b->dest = op->side;
		b->ops[b->n++] = op;
		bytes += op->size;
	}
	*next = i;
	if (b->n == 0)
		return 0;
	if (state_begin(x->st, &ex->err) == -1)
		return -1;
	for (i = 0; i < b->n; i++) {
		const struct plan_op *op = b->ops[i];
		struct state_pending pd;

		memset(&pd, 0, sizeof(pd));
		pd.pair = x->pair;
		pd.dest = op->side;
		pd.source_uid = op->uid[!op->side];
		pd.fp = op->fp;
		pd.fp_len = op->fp_len;
		pd.dest_uidnext = x->dest_uidnext[op->side];
		if (state_pending_add(x->st, &pd, &b->pending[i], &ex->err) ==
		    -1) {
			state_rollback(x->st, NULL);
			return -1;
		}
	}
	if (state_commit(x->st, &ex->err) == -1) {
		state_rollback(x->st, NULL);
		return -1;
	}
	sync_crash_point("intents written");
	for (i = 0; i < b->n; i++) {
		memset(&b->it[i], 0, sizeof(b->it[i]));
		b->it[i].uid = b->ops[i]->uid[!b->dest];
		b->it[i].body.fd = -1;
	}
	b->busy = true;
	b->nopen = b->n;
	ex->outstanding++;
	for (i = 0; i < b->n; i++)
		if ((b->it[i].body.fd = os_temp_file("ferry-body")) == -1) {
			err_sys(&ex->err, "temporary file");
			batch_end(b); /* the intents resolve next time */
			return -1;
		}
	store_fetch_batch(x->store[!b->dest], x->folder[!b->dest], b->it, b->n,
	    on_fetched, b);
	return 0;
}

/* Start batches while there are free ones; true when the copies are done. */
static bool
copies_step(struct exec *ex)
{
	const struct plan *p = ex->p;
	unsigned k;

	for (k = 0; k < BATCHES && !ex->stop && ex->next < p->nops; k++)
		if (!ex->b[k].busy &&
		    batch_start(ex, &ex->b[k], p, &ex->next, ex->max) == -1)
			ex->stop = true;
	if (ex->outstanding > 0)
		return false;
	progress(ex->x, true);
	return true;
}

/*
 * State-only ops.
 */

static int
pair_one(struct sync_exec *x, const struct plan_op *op, struct err *err)
{
	struct state_msg m;

	if (op->kind == PLAN_REPAIR)
		return state_msg_set_uid(x->st, op->row, op->side,
		    op->uid[op->side], op->objid[op->side], err);
	memset(&m, 0, sizeof(m));
	m.pair = x->pair;
	m.uid[STATE_FAR] = op->uid[STATE_FAR];
	m.uid[STATE_NEAR] = op->uid[STATE_NEAR];
	m.flags = op->base != NULL ? op->base : "";
	m.size = op->size;
	m.internaldate = op->internaldate;
	m.fp = op->fp_len > 0 ? op->fp : NULL;
	m.fp_len = op->fp_len;
	m.objid[0] = op->objid[0];
	m.objid[1] = op->objid[1];
	return state_msg_add(x->st, &m, NULL, err);
}

/* Run fn over every op of kind in one transaction. */
static int
state_ops(struct exec *ex, const struct plan *p, enum plan_op_kind kind,
    int (*fn)(struct exec *, const struct plan_op *, struct err *))
{
	struct sync_exec *x = ex->x;
	struct err *err = &ex->err;
	size_t i;

	if (p->counts[kind][0] + p->counts[kind][1] == 0)
		return 0;
	if (state_begin(x->st, err) == -1)
		return -1;
	for (i = 0; i < p->nops; i++)
		if (p->ops[i].kind == kind && fn(ex, &p->ops[i], err) == -1)
			goto out_rollback;
	if (state_commit(x->st, err) == -1)
		goto out_rollback;
	sync_crash_point(kind == PLAN_PAIR     ? "pairs recorded"
			 : kind == PLAN_REPAIR ? "re-pairs recorded"
					       : "rows forgotten or dropped");
	return 0;
out_rollback:
	state_rollback(x->st, NULL);
	return -1;
}

static int
do_pair(struct exec *ex, const struct plan_op *op, struct err *err)
{
	if (pair_one(ex->x, op, err) == -1)
		return -1;
	ex->x->sum->paired++;
	return 0;
}

/* The row an op names: op->row, or the row its PAIR created. */
static int
row_of(struct exec *ex, const struct plan_op *op, int64_t *id, struct err *e)
{
	struct state_msg m;
	int r;

	if (op->row != 0) {
		*id = op->row;
		return 0;
	}
	r = state_msg_find(
	    ex->x->st, ex->x->pair, STATE_FAR, op->uid[STATE_FAR], &m, e);
	if (r == 0)
		return err_set(
		    e, ERR_BOX, "no row for far UID %u", op->uid[STATE_FAR]);
	if (r == 1)
		*id = m.id;
	return r == 1 ? 0 : -1;
}

/*
 * Flags: ops with the same side, add and remove go out as one call.
 */

struct flag_group {
	struct exec *ex;
	enum state_side side;
	const char *add, *remove;
	uint32_t *uids;
	size_t n;
	const struct plan_op **ops;
	bool failed;
};

static void
on_flags(void *arg, const struct err *err)
{
	struct flag_group *g = arg;
	struct exec *ex = g->ex;
	size_t i;

	if (err != NULL && err->kind != ERR_NONE) {
		g->failed = true;
		for (i = 0; i < g->n && !(ex->stop); i++)
			on_result(ex, g->side, g->uids[i], "flags", err);
	} else {
		sync_crash_point("flags stored");
		ex->x->sum->flagged += g->n;
	}
	ex->outstanding--;
	advance(ex);
}

static bool
same_group(const struct plan_op *a, const struct plan_op *b)
{
	return a->side == b->side && strcmp(a->add, b->add) == 0 &&
	       strcmp(a->remove, b->remove) == 0;
}

/* Whether a FLAGS op on the same row (or uid pair) as op failed. */
static bool
flags_failed(const struct flag_group *g, size_t ng, const struct plan_op *op)
{
	size_t i, j;

	for (i = 0; i < ng; i++) {
		if (!g[i].failed)
			continue;
		for (j = 0; j < g[i].n; j++) {
			const struct plan_op *f = g[i].ops[j];

			if (op->row != 0
				? f->row == op->row
				: f->row == 0 && f->uid[0] == op->uid[0] &&
				      f->uid[1] == op->uid[1])
				return true;
		}
	}
	return false;
}

static size_t
group_flags(struct exec *ex, const struct plan *p, struct flag_group **out)
{
	struct flag_group *g = NULL;
	size_t ng = 0, i, k;

	for (i = 0; i < p->nops; i++) {
		const struct plan_op *op = &p->ops[i];

		if (op->kind != PLAN_FLAGS)
			continue;
		for (k = 0; k < ng; k++)
			if (same_group(g[k].ops[0], op))
				break;
		if (k == ng) {
			g = xreallocarray(g, ng + 1, sizeof(*g));
			memset(&g[ng], 0, sizeof(g[ng]));
			g[ng].ex = ex;
			g[ng].side = op->side;
			g[ng].add = op->add;
			g[ng].remove = op->remove;
			g[ng].uids = xcalloc(p->nops, sizeof(uint32_t));
			g[ng].ops = xcalloc(p->nops, sizeof(*g[ng].ops));
			ng++;
		}
		g[k].uids[g[k].n] = op->uid[op->side];
		g[k].ops[g[k].n++] = op;
	}
	*out = g;
	return ng;
}

/*
 * Tell each store which of its messages the flag changes and expunges
 * to come touch, so that it prepares for all of them at once.
 */
static void
touch_hint(struct exec *ex)
{
	const struct plan *p = ex->p;
	struct sync_exec *x = ex->x;
	uint32_t *uids;
	size_t i, n;
	int s;

	uids = xcalloc(p->nops + 1, sizeof(*uids));
	for (s = 0; s < 2; s++) {
		for (i = n = 0; i < p->nops; i++)
			if ((p->ops[i].kind == PLAN_FLAGS ||
				p->ops[i].kind == PLAN_EXPUNGE) &&
			    p->ops[i].side == (enum state_side)s)
				uids[n++] = p->ops[i].uid[s];
		store_will_touch(x->store[s], x->folder[s], uids, n);
	}
	free(uids);
}

static void
flags_start(struct exec *ex)
{
	struct sync_exec *x = ex->x;
	struct flag_group *g;
	size_t i;

	touch_hint(ex);
	ex->ng = group_flags(ex, ex->p, &ex->g);
	g = ex->g;
	for (i = 0; i < ex->ng; i++) {
		ex->outstanding++;
		x->touched[g[i].side] = true;
		store_set_flags(x->store[g[i].side], x->folder[g[i].side],
		    g[i].uids, g[i].n, g[i].add, g[i].remove, on_flags, &g[i]);
	}
}

/* The new bases of the rows none of whose flag changes failed. */
static int
flags_record(struct exec *ex)
{
	const struct plan *p = ex->p;
	struct sync_exec *x = ex->x;
	int64_t id = 0;
	size_t i;
	int r = 0;

	if (p->counts[PLAN_SET_BASE][0] + p->counts[PLAN_SET_BASE][1] == 0)
		return 0;
	if (state_begin(x->st, &ex->err) == -1)
		return -1;
	for (i = 0; r == 0 && i < p->nops; i++) {
		const struct plan_op *op = &p->ops[i];

		if (op->kind != PLAN_SET_BASE ||
		    flags_failed(ex->g, ex->ng, op))
			continue;
		if (row_of(ex, op, &id, &ex->err) == -1 ||
		    state_msg_set_flags(x->st, id, op->base, &ex->err) == -1)
			r = -1;
	}
	if (r == 0 && state_commit(x->st, &ex->err) == -1)
		r = -1;
	if (r == -1)
		state_rollback(x->st, NULL);
	else
		sync_crash_point("flags recorded");
	return r;
}

static void
flags_free(struct exec *ex)
{
	size_t i;

	for (i = 0; i < ex->ng; i++) {
		free(ex->g[i].uids);
		free(ex->g[i].ops);
	}
	free(ex->g);
	ex->g = NULL;
	ex->ng = 0;
}

/*
 * Expunges: one call per side, then the rows go.
 */

static void
on_expunge(void *arg, const struct err *err)
{
	struct exec_q *q = arg;
	size_t i;

	if (err != NULL && err->kind != ERR_NONE) {
		for (i = 0; i < q->n && !q->ex->stop; i++)
			on_result(q->ex, q->side, q->uids[i], "expunge", err);
	} else {
		sync_crash_point("expunge done");
		q->ok = true;
	}
	q->ex->outstanding--;
	advance(q->ex);
}

static void
expunges_start(struct exec *ex)
{
	const struct plan *p = ex->p;
	struct sync_exec *x = ex->x;
	size_t i;
	int s;

	for (s = 0; s < 2; s++) {
		memset(&ex->q[s], 0, sizeof(ex->q[s]));
		ex->q[s].ex = ex;
		ex->q[s].side = (enum state_side)s;
		ex->q[s].uids = xcalloc(p->nops + 1, sizeof(uint32_t));
	}
	for (i = 0; i < p->nops; i++)
		if (p->ops[i].kind == PLAN_EXPUNGE) {
			struct exec_q *e = &ex->q[p->ops[i].side];

			e->uids[e->n++] = p->ops[i].uid[p->ops[i].side];
		}
	for (s = 0; s < 2; s++) {
		if (ex->q[s].n == 0)
			continue;
		ex->outstanding++;
		x->touched[s] = true;
		store_expunge(x->store[s], x->folder[s], ex->q[s].uids,
		    ex->q[s].n, on_expunge, &ex->q[s]);
	}
}

/* The rows of what was expunged go. */
static int
expunges_record(struct exec *ex)
{
	struct sync_exec *x = ex->x;
	size_t j;
	int s, r = 0;

	for (s = 0; s < 2 && r == 0; s++) {
		if (!ex->q[s].ok)
			continue;
		for (j = 0; j < ex->q[s].n && r == 0; j++)
			if ((r = state_msg_delete(x->st, x->pair,
				 (enum state_side)s, ex->q[s].uids[j],
				 &ex->err)) == 0)
				sync_crash_point("expunge recorded");
		x->sum->expunged[s] += ex->q[s].n;
	}
	return r;
}

static int
do_forget(struct exec *ex, const struct plan_op *op, struct err *err)
{
	return state_msg_forget_side(ex->x->st, op->row, op->side, err);
}

static int
do_drop(struct exec *ex, const struct plan_op *op, struct err *err)
{
	return state_msg_delete_id(ex->x->st, op->row, err);
}

static void
exec_free(struct exec *ex)
{
	unsigned k;

	for (k = 0; k < BATCHES; k++)
		batch_release(&ex->b[k]);
	free(ex->b);
	flags_free(ex);
	free(ex->q[0].uids);
	free(ex->q[1].uids);
	free(ex);
}

/*
 * Move the pass on as far as it goes without waiting: called when it
 * starts and after every answer.  Each phase starts its store calls and
 * waits for all of them (outstanding) before the next; the state-only
 * steps run in between.  A stop skips to the end once nothing is in
 * flight.
 */
static void
advance(struct exec *ex)
{
	const struct plan *p = ex->p;

	if (ex->advancing)
		return; /* the caller's loop goes on */
	ex->advancing = true;
	for (;;) {
		if (ex->outstanding > 0 && (ex->stop || ex->phase != PH_COPIES))
			break;
		if (ex->stop && ex->outstanding == 0)
			ex->phase = PH_DONE;
		switch (ex->phase) {
		case PH_COPIES:
			if (!copies_step(ex))
				goto out;
			if (state_ops(ex, p, PLAN_PAIR, do_pair) == -1 ||
			    state_ops(ex, p, PLAN_REPAIR, do_pair) == -1) {
				ex->stop = true;
				continue;
			}
			ex->phase = PH_FLAGS;
			flags_start(ex);
			continue;
		case PH_FLAGS:
			if (flags_record(ex) == -1) {
				ex->stop = true;
				continue;
			}
			ex->phase = PH_EXPUNGES;
			expunges_start(ex);
			continue;
		case PH_EXPUNGES:
			if (expunges_record(ex) == -1 ||
			    state_ops(ex, p, PLAN_FORGET_SIDE, do_forget) ==
				-1 ||
			    state_ops(ex, p, PLAN_DROP_ROW, do_drop) == -1)
				ex->stop = true;
			ex->phase = PH_DONE;
			continue;
		case PH_DONE:
			ex->advancing = false;
			ex->done(ex->arg, ex->stop ? &ex->err : NULL);
			exec_free(ex);
			return;
		}
	}
out:
	ex->advancing = false;
}

void
sync_exec_start(
    struct sync_exec *x, const struct plan *p, sync_exec_cb *done, void *arg)
{
	struct exec *ex = xcalloc(1, sizeof(*ex));
	unsigned k;

	ex->x = x;
	ex->p = p;
	ex->done = done;
	ex->arg = arg;
	ex->max = x->batch ? x->batch : BATCH_MSGS;
	ex->b = xcalloc(BATCHES, sizeof(*ex->b));
	for (k = 0; k < BATCHES; k++)
		batch_init(&ex->b[k], ex, ex->max);
	x->copies_done = 0;
	x->copies_planned = p->counts[PLAN_COPY][0] + p->counts[PLAN_COPY][1];
	advance(ex);
}
