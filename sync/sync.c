/* SPDX-License-Identifier: ISC */
/*
 * sync.c - one channel's sync run: list both stores' folders, pair them
 * by the channel's rules, and for each pair skip it when neither side's
 * cheap status moved since the watermarks, else scan the sides that
 * moved, plan (sync/plan.c), execute (sync/exec.c) and advance the
 * watermarks.  With a dry run the plans are printed and every state
 * change is rolled back; nothing is sent that changes a store.
 */
#include "sync/sync.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/state.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/sort.h"
#include "util/xalloc.h"

/* Folder pairs started (rows loaded, scans sent) at a time, and of those,
 * how many execute at once. */
#define PAIRS_AHEAD 6
#define PAIRS_EXEC 4

/*
 * Big folders go in windows: a pass over an IMAP side with more than
 * WINDOW new messages takes about WINDOW of them (a range of UIDs at
 * the folder's density), and the pair runs again for the next range
 * until it is done, so that what a pass holds (change sets, rows, plan)
 * is bounded by the window and not by the folder.  See window().
 */
#define WINDOW 10000
#define WINDOWS_MAX 1000 /* windows per folder and run, at most */

/* WINDOW, or for tests FERRY_TEST_WINDOW (sync/crash.c). */
static uint64_t
window_size(void)
{
	return sync_test_window(WINDOW);
}

/* One side's folder list, copied out of the callback. */
struct listing {
	struct store_folder *f;
	size_t n;
	bool done;
	struct err err;
};

/* One side's change set, copied out of the callback. */
struct snap {
	struct store_changes ch;
	struct store_msg *msgs;
	struct intern flags; /* the msgs' flag strings */
	uint32_t *vanished;
	bool done, valid;
	struct err err;
};

/* A folder pair to look at: names and first-list entries by side. */
struct cand {
	char *name[2];
	const struct store_folder *f[2]; /* NULL: missing there */
	bool settle[2]; /* its marks there moved: settle() after the run */
	/* Windows: the next one starts at resume[side]; again: run the
	 * pair once more; now[]: a status proven between two passes. */
	uint32_t resume[2];
	bool again;
	unsigned passes;
	struct store_folder now[2];
	uint64_t copied; /* by the windows so far, for the progress line */
};

struct rows {
	struct plan_row *v;
	size_t n, cap;
	struct intern flags; /* the rows' flag strings */
};

struct cx {
	struct loop *loop;
	const struct sync_channel_opts *o;
	struct store *store[2];
	bool maildir[2];
	struct state *st;
	struct sync_summary *sum;
	FILE *out;
};

static void
wait_for(struct loop *loop, const bool *done)
{
	while (!*done)
		loop_run_once(loop, 100);
}

static bool
failed(const struct err *err)
{
	return err != NULL && err->kind != ERR_NONE;
}

/*
 * Folders.
 */

static void
on_list(
    void *arg, const struct store_folder *f, size_t n, const struct err *err)
{
	struct listing *l = arg;
	size_t i;

	l->done = true;
	if (failed(err)) {
		l->err = *err;
		return;
	}
	l->f = xcalloc(n + 1, sizeof(*l->f));
	for (i = 0; i < n; i++) {
		l->f[i] = f[i];
		l->f[i].name = xstrdup(f[i].name);
	}
	l->n = n;
}

static void
listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->f[i].name);
	free(l->f);
}

static const struct store_folder *
find_folder(const struct listing *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->f[i].name, name) == 0)
			return &l->f[i];
	return NULL;
}

static const char *
map_name(
    const struct sync_channel_opts *o, const char *name, enum state_side to)
{
	const char *m = o->map != NULL ? o->map(o->arg, name, to) : NULL;

	return m != NULL ? m : name;
}

static bool
copies_to(enum sync_mode mode, enum state_side side)
{
	if (side == STATE_NEAR)
		return mode != SYNC_PUSH && mode != SYNC_MIRROR_PUSH;
	return mode != SYNC_PULL && mode != SYNC_MIRROR_PULL;
}

static bool
have_cand(const struct cand *c, size_t n, const char *far)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(c[i].name[STATE_FAR], far) == 0)
			return true;
	return false;
}

static void
add_cand(struct cx *cx, const struct listing *l, struct cand **c, size_t *n,
    const char *far, const char *near)
{
	const struct sync_channel_opts *o = cx->o;

	if (!o->selected(o->arg, far) || have_cand(*c, *n, far))
		return;
	if (o->only_folder != NULL && strcmp(o->only_folder, far) != 0)
		return;
	*c = xreallocarray(*c, *n + 1, sizeof(**c));
	memset(&(*c)[*n], 0, sizeof(**c));
	(*c)[*n].name[STATE_FAR] = xstrdup(far);
	(*c)[*n].name[STATE_NEAR] = xstrdup(near);
	(*c)[*n].f[STATE_FAR] = find_folder(&l[STATE_FAR], far);
	(*c)[*n].f[STATE_NEAR] = find_folder(&l[STATE_NEAR], near);
	(*n)++;
}

static int
cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return strcmp(x->name[STATE_FAR], y->name[STATE_FAR]);
}

/* The folder pairs of the channel, sorted by far name. */
static size_t
candidates(struct cx *cx, const struct listing *l, struct cand **out)
{
	const struct sync_channel_opts *o = cx->o;
	struct cand *c = NULL;
	size_t n = 0, i;

	for (i = 0; i < l[STATE_FAR].n; i++) {
		const struct store_folder *f = &l[STATE_FAR].f[i];

		if (!(f->attrs & STORE_NOSELECT))
			add_cand(cx, l, &c, &n, f->name,
			    map_name(o, f->name, STATE_NEAR));
	}
	for (i = 0; copies_to(o->mode, STATE_FAR) && i < l[STATE_NEAR].n; i++) {
		const struct store_folder *f = &l[STATE_NEAR].f[i];

		if (!(f->attrs & STORE_NOSELECT))
			add_cand(cx, l, &c, &n, map_name(o, f->name, STATE_FAR),
			    f->name);
	}
	if (n > 0)
		sort_array(c, n, sizeof(*c), cmp_cand);
	*out = c;
	return n;
}

/*
 * State rows and change sets.
 */

static int
on_row(void *arg, const struct state_msg *m, struct err *err)
{
	struct rows *r = arg;
	struct plan_row *p;
	unsigned char *fp = NULL;

	(void)err;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	p = &r->v[r->n++];
	memset(p, 0, sizeof(*p));
	p->id = m->id;
	p->uid[0] = m->uid[0];
	p->uid[1] = m->uid[1];
	p->flags = intern(&r->flags, m->flags != NULL ? m->flags : "");
	if (m->fp_len > 0) {
		fp = xmalloc(m->fp_len);
		memcpy(fp, m->fp, m->fp_len);
	}
	p->fp = fp;
	p->fp_len = m->fp_len;
	p->objid[0] = m->objid[0] != NULL ? xstrdup(m->objid[0]) : NULL;
	p->objid[1] = m->objid[1] != NULL ? xstrdup(m->objid[1]) : NULL;
	p->size = m->size;
	return 0;
}

/* What on_row() allocated for p (its flags are the table's). */
static void
row_release(struct plan_row *p)
{
	free((unsigned char *)p->fp);
	free((char *)p->objid[0]);
	free((char *)p->objid[1]);
}

static void
rows_free(struct rows *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		row_release(&r->v[i]);
	free(r->v);
	intern_free(&r->flags);
	memset(r, 0, sizeof(*r));
}

static int
rows_load(struct state *st, int64_t pair, struct rows *r, struct err *err)
{
	rows_free(r);
	return state_msg_foreach(st, pair, STATE_FAR, on_row, r, err);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
on_scan(void *arg, const struct store_changes *ch, const struct err *err)
{
	struct snap *s = arg;
	size_t i;

	s->done = true;
	if (failed(err)) {
		s->err = *err;
		return;
	}
	s->ch = *ch;
	s->msgs = xcalloc(ch->nmsgs + 1, sizeof(*s->msgs));
	for (i = 0; i < ch->nmsgs; i++) {
		s->msgs[i] = ch->msgs[i];
		s->msgs[i].flags = intern(&s->flags, ch->msgs[i].flags);
		s->msgs[i].objid = dup_or_null(ch->msgs[i].objid);
	}
	s->vanished = xcalloc(ch->nvanished + 1, sizeof(uint32_t));
	if (ch->nvanished > 0)
		memcpy(s->vanished, ch->vanished,
		    ch->nvanished * sizeof(uint32_t));
	s->ch.msgs = s->msgs;
	s->ch.vanished = s->vanished;
	s->ch.permflags = dup_or_null(ch->permflags);
	s->ch.method = dup_or_null(ch->method);
	s->valid = true;
}

static void
snap_free(struct snap *s)
{
	size_t i;

	for (i = 0; s->valid && i < s->ch.nmsgs; i++)
		free((char *)s->msgs[i].objid);
	intern_free(&s->flags);
	if (s->valid) {
		free((char *)s->ch.permflags);
		free((char *)s->ch.method);
	}
	free(s->msgs);
	free(s->vanished);
	memset(s, 0, sizeof(*s));
}

/*
 * Watermarks.
 */

/* Whether side's cheap status says nothing moved since the marks. */
static bool
unchanged(const struct cx *cx, const struct store_folder *f,
    const struct state_marks *m, int side)
{
	if (f == NULL || !f->has_status || m->uidvalidity == 0 ||
	    f->uidvalidity != m->uidvalidity || f->uidnext != m->uidnext)
		return false;
	if (cx->maildir[side])
		return f->change_token != 0 && f->change_token == m->modseq;
	/* Without mod-sequences flag changes do not show: always scan. */
	return f->messages == m->messages && f->highestmodseq != 0 &&
	       f->highestmodseq == m->modseq;
}

/*
 * The marks after a complete pass: the status listed before the pass
 * (so a side this pass changed has moved on from them and is rescanned
 * once, and nothing another client did meanwhile can be skipped), or,
 * without a usable status, what the scan said.  settle() may move a
 * Maildir side on to the status after the pass.
 */
static void
next_marks(const struct cx *cx, const struct store_folder *f,
    const struct snap *s, int side, struct state_marks *m)
{
	if (f != NULL && f->has_status &&
	    (!s->valid || s->ch.uidvalidity == f->uidvalidity)) {
		m->uidvalidity = f->uidvalidity;
		m->uidnext = f->uidnext;
		m->messages = f->messages;
		m->modseq =
		    cx->maildir[side] ? f->change_token : f->highestmodseq;
	} else if (s->valid) {
		m->uidvalidity = s->ch.uidvalidity;
		m->uidnext = s->ch.uidnext;
		m->messages = 0;
		m->modseq = cx->maildir[side] ? 0 : s->ch.highestmodseq;
	}
}

/*
 * One folder pair.
 */

struct old_intent {
	int64_t id; /* 0: removed */
	enum state_side dest;
	uint32_t source_uid;
};

struct pass {
	struct cand *c;
	struct state_pair pair;
	struct rows rows;
	struct snap snap[2];
	bool scan[2];
	bool missing[2];
	struct plan plan;
	struct old_intent *old; /* copy intents left by an earlier run */
	size_t nold;
	uint32_t *known[2]; /* the scans' known UIDs, kept until done */
	size_t nknown[2];
	size_t rows_elsewhere; /* rows of the pair not loaded (plan.h) */
	uint32_t win_lo[2], win_hi[2]; /* this pass's window; hi 0: none */
	uint64_t win_rest; /* new messages after the window, estimated */
	bool idle; /* nothing to scan: the pass ends at its start */
	enum {
		P_SCANNING,
		P_EXECUTING,
		P_DONE
	} stage;
	struct sync_exec x; /* while executing */
	bool exec_done;
	struct err exec_err;
	int rc; /* the pass's result, and its error */
	struct err err;
};

static int
on_pending(void *arg, const struct state_pending *p, struct err *err)
{
	struct pass *ps = arg;

	(void)err;
	ps->old = xreallocarray(ps->old, ps->nold + 1, sizeof(*ps->old));
	ps->old[ps->nold].id = p->id;
	ps->old[ps->nold].dest = p->dest;
	ps->old[ps->nold++].source_uid = p->source_uid;
	return 0;
}

static void
on_created(void *arg, const struct err *err)
{
	struct snap *s = arg;

	if (failed(err))
		s->err = *err;
	s->done = true;
}

/*
 * Create the folder missing on side: 0, 1 when the pair has nothing to
 * do (the mode sends nothing there), or -1 with err.
 */
static int
make_folder(struct cx *cx, struct pass *ps, int side, struct err *err)
{
	struct snap s;

	if (!copies_to(cx->o->mode, side))
		return 1; /* nothing would go there */
	if (!cx->o->create)
		return err_set(err, ERR_BOX,
		    "missing on %s, and the channel does not create folders",
		    state_side_name(side));
	ps->missing[side] = true;
	if (cx->o->dry_run) {
		fprintf(cx->out, "%s: create folder on %s\n", ps->c->name[side],
		    state_side_name(side));
		return 0;
	}
	memset(&s, 0, sizeof(s));
	store_create(cx->store[side], ps->c->name[side], on_created, &s);
	wait_for(cx->loop, &s.done);
	if (failed(&s.err)) {
		*err = s.err;
		return -1;
	}
	sync_crash_point("folder created");
	cx->sum->created++;
	return 0;
}

/* Send the scans of the sides that changed; scan_wait() collects them. */
static void
scan_start(struct cx *cx, struct pass *ps)
{
	struct store_since since[2];
	int s;

	for (s = 0; s < 2; s++) {
		const struct state_marks *m = &ps->pair.marks[s];

		memset(&since[s], 0, sizeof(since[s]));
		ps->snap[s].done = true;
		if (!ps->scan[s])
			continue;
		if (ps->missing[s] && cx->o->dry_run) {
			ps->snap[s].ch.full = true; /* does not exist yet */
			ps->snap[s].ch.method = "none";
			continue;
		}
		since[s].known_uids = ps->known[s];
		since[s].nknown = ps->nknown[s];
		since[s].window_lo = ps->win_lo[s];
		since[s].window_hi = ps->win_hi[s];
		since[s].uidvalidity = m->uidvalidity;
		since[s].uidnext = m->uidnext;
		if (cx->maildir[s])
			since[s].change_token = m->modseq;
		else
			since[s].modseq = m->modseq;
		ps->snap[s].done = false;
		store_scan(cx->store[s], ps->c->name[s], &since[s], on_scan,
		    &ps->snap[s]);
	}
}

static int
scan_check(struct pass *ps, struct err *err)
{
	int s;

	for (s = 0; s < 2; s++)
		if (failed(&ps->snap[s].err)) {
			*err = ps->snap[s].err;
			return err_prefix(err, "scan %s", state_side_name(s));
		}
	return 0;
}

static void
note_brakes(struct cx *cx, struct pass *ps)
{
	struct sync_summary *sum = cx->sum;
	size_t len;
	int s;

	for (s = 0; s < 2; s++) {
		if (ps->plan.brake[s] == NULL)
			continue;
		sum->brakes++;
		len = strlen(sum->brake_text);
		snprintf(sum->brake_text + len, sizeof(sum->brake_text) - len,
		    "%s: %s: %s\n", ps->c->name[STATE_FAR], state_side_name(s),
		    ps->plan.brake[s]);
	}
}

static int
cmp_row_id(const void *a, const void *b)
{
	int64_t x = ((const struct plan_row *)a)->id;
	int64_t y = ((const struct plan_row *)b)->id;

	return x < y ? -1 : x > y;
}

/* Rows in id order, each once: a row found by both UIDs came twice. */
static void
rows_unique(struct rows *r)
{
	size_t i, n = 0;

	sort_array(r->v, r->n, sizeof(*r->v), cmp_row_id);
	for (i = 0; i < r->n; i++) {
		if (n > 0 && r->v[n - 1].id == r->v[i].id) {
			row_release(&r->v[i]);
			continue;
		}
		r->v[n++] = r->v[i];
	}
	r->n = n;
}

/*
 * The rows the planner needs.  When no side was listed in full, a row
 * none of whose UIDs was reported or vanished has nothing to plan: only
 * the others are loaded, with the rows that lack a UID on a side (which
 * new messages may re-pair), and the rest are counted (rows_elsewhere).
 * So an incremental pass over a big folder costs memory by its changes,
 * not by the folder.  A full listing needs every row: its absences are
 * deletions.  So does a big change set of known messages, for which one
 * pass over the rows is cheaper than a lookup per UID (a UID no row held
 * when the pass began needs no lookup: a window of new messages costs
 * none).
 */
static int
rows_for_plan(struct cx *cx, struct pass *ps, bool reset, struct err *err)
{
	uint32_t *uids[2] = {NULL, NULL};
	size_t n[2] = {0, 0}, i;
	uint64_t total = 0;
	bool some = !reset;
	int s, r = -1;

	ps->rows_elsewhere = 0;
	for (s = 0; s < 2; s++)
		if (ps->scan[s] && (!ps->snap[s].valid || ps->snap[s].ch.full))
			some = false;
	if (some && state_msg_count(cx->st, ps->pair.id, &total, err) == -1)
		return -1;
	for (s = 0; some && s < 2; s++) {
		const struct store_changes *ch = &ps->snap[s].ch;

		if (!ps->scan[s])
			continue;
		/* Only a UID a row held when the pass began has a row. */
		uids[s] =
		    xcalloc(ch->nmsgs + ch->nvanished + 1, sizeof(uint32_t));
		for (i = 0; i < ch->nmsgs; i++)
			if (store_uid_in(
				ps->known[s], ps->nknown[s], ch->msgs[i].uid))
				uids[s][n[s]++] = ch->msgs[i].uid;
		for (i = 0; i < ch->nvanished; i++)
			if (store_uid_in(
				ps->known[s], ps->nknown[s], ch->vanished[i]))
				uids[s][n[s]++] = ch->vanished[i];
	}
	if (!some || (uint64_t)(n[0] + n[1]) * 4 > total) {
		r = rows_load(cx->st, ps->pair.id, &ps->rows, err);
		goto out;
	}
	rows_free(&ps->rows);
	if (state_msg_foreach_some(cx->st, ps->pair.id,
		(const uint32_t *const *)uids, n, on_row, &ps->rows, err) == -1)
		goto out;
	rows_unique(&ps->rows);
	ps->rows_elsewhere =
	    total > ps->rows.n ? (size_t)(total - ps->rows.n) : 0;
	r = 0;
out:
	free(uids[0]);
	free(uids[1]);
	return r;
}

static int
make_plan(struct cx *cx, struct pass *ps, struct err *err)
{
	const struct sync_channel_opts *o = cx->o;
	struct plan_input in;
	int s;

	memset(&in, 0, sizeof(in));
	in.mode = o->mode;
	in.expunge = o->expunge;
	in.force_deletes = o->force_deletes;
	in.brake_percent = o->brake_percent;
	in.brake_min = o->brake_min;
	for (s = 0; s < 2; s++) {
		const struct state_marks *m = &ps->pair.marks[s];

		in.known_messages[s] = m->messages;
		if (!ps->scan[s])
			continue;
		in.changes[s] = &ps->snap[s].ch;
		if (ps->snap[s].valid && m->uidvalidity != 0 &&
		    ps->snap[s].ch.uidvalidity != m->uidvalidity) {
			log_info("%s: UIDVALIDITY changed on %s",
			    ps->c->name[s], state_side_name(s));
			if (state_msg_reset_side(cx->st, ps->pair.id, s,
				ps->snap[s].ch.uidvalidity, err) == -1)
				return -1;
			if (!o->dry_run)
				sync_crash_point("UIDVALIDITY reset");
			in.uidvalidity_changed[s] = true;
		}
	}
	if (rows_for_plan(cx, ps,
		in.uidvalidity_changed[0] || in.uidvalidity_changed[1],
		err) == -1)
		return -1;
	in.rows = ps->rows.v;
	in.nrows = ps->rows.n;
	in.rows_elsewhere = ps->rows_elsewhere;
	return plan_make(&in, &ps->plan, err);
}

static int
print_plan(struct cx *cx, struct pass *ps, struct err *err)
{
	struct buf b;
	int r = 0;

	buf_init(&b, BUF_NOMAX);
	if (plan_print(&ps->plan, ps->c->name[STATE_FAR], &b) == -1)
		r = err_set(err, ERR_LIMIT, "plan too long to print");
	else
		fputs(b.data, cx->out);
	buf_release(&b);
	return r;
}

/* Whether the plan copies the message an old intent names again. */
static bool
copied_again(const struct plan *p, const struct old_intent *o)
{
	size_t i;

	for (i = 0; i < p->nops && p->ops[i].kind == PLAN_COPY; i++)
		if (p->ops[i].side == o->dest &&
		    p->ops[i].uid[!o->dest] == o->source_uid)
			return true;
	return false;
}

/*
 * Remove the pair's old copy intents: with only_copied, those the plan
 * copies again (before it adds its own; the planner has paired any such
 * copy that did land), else all that are left.
 */
static int
remove_old(struct cx *cx, struct pass *ps, bool only_copied, struct err *err)
{
	size_t i;

	for (i = 0; i < ps->nold; i++) {
		if (ps->old[i].id == 0 ||
		    (only_copied && !copied_again(&ps->plan, &ps->old[i])))
			continue;
		if (state_pending_remove(cx->st, ps->old[i].id, err) == -1)
			return -1;
		sync_crash_point("old intent removed");
		ps->old[i].id = 0;
	}
	return 0;
}

static void
on_executed(void *arg, const struct err *err)
{
	struct pass *ps = arg;

	ps->exec_done = true;
	if (err != NULL)
		ps->exec_err = *err;
}

/* Send the plan to the executor; on_executed() says when it is done. */
static int
execute(struct cx *cx, struct pass *ps, struct err *err)
{
	struct sync_exec *x = &ps->x;
	int s;

	memset(x, 0, sizeof(*x));
	x->st = cx->st;
	x->pair = ps->pair.id;
	x->batch = cx->o->batch;
	x->sum = cx->sum;
	x->progress = cx->o->progress;
	x->copies_before = ps->c->copied;
	x->copies_after = ps->win_rest;
	for (s = 0; s < 2; s++) {
		x->store[s] = cx->store[s];
		x->folder[s] = ps->c->name[s];
		x->dest_uidnext[s] = ps->snap[s].valid
					 ? ps->snap[s].ch.uidnext
					 : ps->pair.marks[s].uidnext;
	}
	if (remove_old(cx, ps, true, err) == -1)
		return -1;
	ps->exec_done = false;
	ps->exec_err.kind = ERR_NONE;
	sync_exec_start(x, &ps->plan, on_executed, ps);
	return 0;
}

/*
 * The marks after a window: everything below its end is done, when
 * everything below its start was (the marks reach it); else the marks
 * stay, and a later run retries what an earlier window left.
 */
static void
window_marks(const struct pass *ps, int s, struct state_marks *m)
{
	const struct state_marks *was = &ps->pair.marks[s];
	bool joined = was->uidvalidity == 0 ? ps->win_lo[s] == 1
					    : was->uidnext >= ps->win_lo[s];

	if (joined)
		m->uidnext = ps->win_hi[s];
	else
		*m = *was;
}

/* After the executor: old intents and, when nothing failed, the marks. */
static int
executed(struct cx *cx, struct pass *ps, struct err *err)
{
	struct state_marks m[2];
	int s;

	if (ps->exec_err.kind != ERR_NONE) {
		*err = ps->exec_err;
		return -1;
	}
	for (s = 0; s < 2; s++)
		if (ps->win_hi[s] != 0) { /* the next window, whatever befell */
			ps->c->resume[s] = ps->win_hi[s];
			ps->c->again = true;
		}
	if (ps->c->again)
		ps->c->copied += ps->x.copies_done;
	if (ps->x.incomplete)
		return 0; /* keep every mark: the failures are retried */
	if (remove_old(cx, ps, false, err) == -1)
		return -1;
	for (s = 0; s < 2; s++) {
		m[s] = ps->pair.marks[s];
		if (ps->plan.held[s])
			continue;
		next_marks(cx, ps->c->f[s], &ps->snap[s], s, &m[s]);
		if (ps->win_hi[s] != 0)
			window_marks(ps, s, &m[s]);
		ps->c->settle[s] = cx->maildir[s] && m[s].uidvalidity != 0 &&
				   (ps->scan[s] || ps->plan.nops > 0);
	}
	ps->pair.marks[0] = m[0];
	ps->pair.marks[1] = m[1];
	ps->pair.last_sync = (int64_t)time(NULL);
	if (state_pair_update(cx->st, &ps->pair, err) == -1)
		return -1;
	sync_crash_point("watermarks advanced");
	return 0;
}

static void
log_status(const struct cand *c, const struct pass *ps, int s)
{
	const struct store_folder *f = c->f[s];
	const struct state_marks *m = &ps->pair.marks[s];

	if (f == NULL)
		return;
	log_debug("%s: %s: status %u %u %u %" PRIu64 "/%" PRIu64
		  ", marks %u %u %u %" PRIu64 ": %s",
	    c->name[s], state_side_name(s), f->uidvalidity, f->uidnext,
	    f->messages, f->highestmodseq, f->change_token, m->uidvalidity,
	    m->uidnext, m->messages, m->modseq,
	    ps->scan[s] ? "scan" : "unchanged");
}

/*
 * The window of this pass on side s, if it needs one: an IMAP side with
 * mod-sequences (later windows are CHANGEDSINCE scans, whose cost does
 * not grow with what the earlier ones copied) and more than WINDOW new
 * messages, facing a side with nothing new, outside a dry run.  On a
 * first sync only while the pair has no rows: a windowed listing is not
 * full, so it could not tell that a row's message is gone.  The range of
 * UIDs is taken at the folder's density (messages per UID, from the
 * server's STATUS, taken as at most one per UID), so sparse UIDs give
 * wider ranges; and never narrower than a WINDOWS_MAX-th of the folder's
 * UIDs, so that a server's wrong MESSAGES cannot make a run of a million
 * passes.
 */
static int
window(struct cx *cx, struct pass *ps, int s, struct err *err)
{
	const struct store_folder *f = ps->c->f[s], *of = ps->c->f[!s];
	const struct state_marks *m = &ps->pair.marks[s];
	uint64_t rows, span, est, width, msgs;
	uint32_t lo;

	if (cx->maildir[s] || cx->o->dry_run || f == NULL || !f->has_status ||
	    f->highestmodseq == 0 || f->messages <= window_size() ||
	    f->uidnext < 2)
		return 0;
	/*
	 * New messages on the other side must meet all of these at once:
	 * one that is the copy of a message in a later window would not
	 * be paired with it (N3 in plan.c), and both would be copied.  So
	 * only when the other side is not scanned (nothing new there), or
	 * missing or empty.
	 */
	if (ps->scan[!s] && of != NULL &&
	    !(of->has_status && of->messages == 0))
		return 0;
	if (m->uidvalidity == 0) {
		if (state_msg_count(cx->st, ps->pair.id, &rows, err) == -1)
			return -1;
		if (rows > 0)
			return 0;
		lo = 1;
	} else if (m->uidvalidity == f->uidvalidity && m->modseq != 0)
		lo = m->uidnext;
	else
		return 0;
	if (ps->c->resume[s] > lo)
		lo = ps->c->resume[s];
	if (lo == 0 || lo >= f->uidnext)
		return 0;
	msgs = f->messages < f->uidnext - 1 ? f->messages : f->uidnext - 1;
	span = f->uidnext - lo;
	est = span * msgs / (f->uidnext - 1);
	if (est <= window_size())
		return 0;
	width = span * window_size() / est;
	if (width < (f->uidnext - 1) / WINDOWS_MAX + 1)
		width = (f->uidnext - 1) / WINDOWS_MAX + 1;
	if (width >= span)
		return 0;
	ps->win_lo[s] = lo;
	ps->win_hi[s] = lo + (uint32_t)width;
	ps->win_rest =
	    (uint64_t)(f->uidnext - ps->win_hi[s]) * msgs / (f->uidnext - 1);
	log_debug("%s: %s: window of UIDs %u:%u", ps->c->name[s],
	    state_side_name(s), lo, ps->win_hi[s] - 1);
	return 0;
}

/*
 * A pass over one folder pair, in steps so that several pairs travel at
 * once: pass_start() creates a missing folder, loads the known UIDs,
 * picks a window and sends the scans of the sides that changed; when
 * they are back, pass_plan() loads the rows it needs, plans and hands
 * the plan to the executor; executed() records the end, and a windowed
 * pass starts the next window (pass_again()).
 */
static int
pass_start(struct cx *cx, struct pass *ps, struct err *err)
{
	struct cand *c = ps->c;
	int s, r;

	ps->idle = true;
	for (s = 0; s < 2; s++)
		if (c->f[s] == NULL && (r = make_folder(cx, ps, s, err)) != 0)
			return r == 1 ? 0 : -1;
	if (state_pair_get_or_create(cx->st, c->name[STATE_FAR],
		c->name[STATE_NEAR], &ps->pair, err) == -1)
		return -1;
	if (c->passes++ == 0)
		cx->sum->folders++;
	for (s = 0; s < 2; s++) {
		ps->scan[s] = !unchanged(cx, c->f[s], &ps->pair.marks[s], s);
		log_status(c, ps, s);
	}
	if (!ps->scan[0] && !ps->scan[1]) {
		if (c->passes == 1)
			cx->sum->unchanged++;
		return 0; /* its rows are not even read */
	}
	if (state_pending_foreach(cx->st, ps->pair.id, on_pending, ps, err) ==
	    -1)
		return -1;
	for (s = 0; s < 2; s++)
		if (ps->scan[s] &&
		    (state_msg_uids(cx->st, ps->pair.id, s, &ps->known[s],
			 &ps->nknown[s], err) == -1 ||
			window(cx, ps, s, err) == -1))
			return -1;
	ps->idle = false;
	scan_start(cx, ps);
	return 0;
}

/* The scans are back: plan, and print or execute. */
static int
pass_plan(struct cx *cx, struct pass *ps, struct err *err)
{
	if (scan_check(ps, err) == -1 || make_plan(cx, ps, err) == -1)
		return -1;
	cx->sum->planned += ps->plan.nops;
	note_brakes(cx, ps);
	if (cx->o->dry_run)
		return print_plan(cx, ps, err);
	if (execute(cx, ps, err) == -1)
		return -1;
	ps->stage = P_EXECUTING;
	return 0;
}

/* Free a pass, once the scans it sent have answered. */
static void
pass_free(struct pass *ps)
{
	state_pair_release(&ps->pair);
	rows_free(&ps->rows);
	snap_free(&ps->snap[0]);
	snap_free(&ps->snap[1]);
	plan_free(&ps->plan);
	free(ps->old);
	free(ps->known[0]);
	free(ps->known[1]);
}

/* A folder-level error skips the folder; anything else stops. */
static bool
folder_level(const struct err *err)
{
	return err->kind == ERR_BOX || err->kind == ERR_TEMP ||
	       err->kind == ERR_MSG || err->kind == ERR_LIMIT;
}

static int settle(struct cx *, struct cand *, size_t, struct err *);

/*
 * The next window of ps's pair, in the same slot: first the proof of
 * what this one did to a Maildir side (so the next pass need not read
 * that folder again), then a new pass.
 */
static int
pass_again(struct cx *cx, struct pass *ps)
{
	struct cand *c = ps->c;
	int r, s;

	c->again = false;
	/*
	 * An IMAP side this window did not window keeps the marks it had
	 * before the pass (a change by another client shows on the next
	 * run): as its status for the next window they say "unchanged", so
	 * that it is not scanned again for what this window appended.
	 */
	for (s = 0; s < 2; s++) {
		const struct state_marks *m = &ps->pair.marks[s];

		if (cx->maildir[s] || ps->win_hi[s] != 0 || m->uidvalidity == 0)
			continue;
		memset(&c->now[s], 0, sizeof(c->now[s]));
		c->now[s].has_status = true;
		c->now[s].uidvalidity = m->uidvalidity;
		c->now[s].uidnext = m->uidnext;
		c->now[s].messages = m->messages;
		c->now[s].highestmodseq = m->modseq;
		c->f[s] = &c->now[s];
	}
	if (settle(cx, c, 1, &ps->err) == -1)
		return -1;
	pass_free(ps);
	memset(ps, 0, sizeof(*ps));
	ps->c = c;
	ps->stage = P_SCANNING;
	r = pass_start(cx, ps, &ps->err);
	if (r != 0 || ps->idle)
		ps->stage = P_DONE;
	return r;
}

/*
 * Move one pass on as far as it can go now; true when it moved.  After a
 * channel-ending error (stopping) nothing new executes: a pass only
 * waits for what it sent.
 */
static bool
pass_poll(struct cx *cx, struct pass *ps, unsigned *executing, bool stopping)
{
	switch (ps->stage) {
	case P_SCANNING:
		if (!ps->snap[0].done || !ps->snap[1].done)
			return false;
		if (stopping) {
			ps->stage = P_DONE;
			return true;
		}
		if (*executing >= PAIRS_EXEC)
			return false;
		ps->stage = P_DONE;
		ps->rc = pass_plan(cx, ps, &ps->err);
		if (ps->stage == P_EXECUTING)
			(*executing)++;
		return true;
	case P_EXECUTING:
		if (!ps->exec_done)
			return false;
		(*executing)--;
		ps->stage = P_DONE;
		ps->rc = executed(cx, ps, &ps->err);
		if (ps->rc == 0 && ps->c->again && !stopping)
			ps->rc = pass_again(cx, ps);
		return true;
	case P_DONE:
		break;
	}
	return false;
}

/*
 * The pairs, PAIRS_AHEAD started and PAIRS_EXEC executing at a time
 * (one in a dry run, whose output follows the order of the pairs), and
 * ended in order.  A folder-level error skips its folder; any other
 * stops the channel once what is in flight has landed.
 */
static int
run_pairs(struct cx *cx, struct cand *c, size_t n, struct err *err)
{
	size_t ahead = cx->o->dry_run ? 1 : PAIRS_AHEAD;
	struct pass *ring = xcalloc(ahead, sizeof(*ring));
	size_t head = 0, tail = 0, i;
	unsigned executing = 0;
	bool moved, stopping = false;
	int r = 0;

	while (tail < n) {
		moved = false;
		for (; !stopping && head < n && head - tail < ahead; head++) {
			struct pass *ps = &ring[head % ahead];

			memset(ps, 0, sizeof(*ps));
			ps->c = &c[head];
			ps->stage = P_SCANNING;
			ps->rc = pass_start(cx, ps, &ps->err);
			if (ps->rc != 0 || ps->idle)
				ps->stage = P_DONE;
			moved = true;
		}
		for (i = tail; i < head; i++)
			if (pass_poll(
				cx, &ring[i % ahead], &executing, stopping))
				moved = true;
		for (; tail < head && ring[tail % ahead].stage == P_DONE;
		     tail++) {
			struct pass *ps = &ring[tail % ahead];

			moved = true;
			pass_free(ps);
			if (ps->rc == 0)
				continue;
			if (folder_level(&ps->err)) {
				log_error("%s: %s: skipped: %s", cx->o->name,
				    c[tail].name[STATE_FAR], ps->err.msg);
				cx->sum->failed_folders++;
			} else if (!stopping) {
				*err = ps->err;
				r = err_prefix(
				    err, "%s", c[tail].name[STATE_FAR]);
				stopping = true;
			}
		}
		if (stopping && tail == head)
			break;
		if (!moved)
			loop_run_once(cx->loop, 100);
	}
	free(ring);
	return r;
}

/*
 * Settle c's flagged sides, inside the caller's transaction.  A side
 * proven takes the status after the pass as its marks, and as the
 * status the pair's next window compares them with (c->now).
 */
static int
settle_cand(struct cx *cx, struct cand *c, struct err *err)
{
	struct store_folder f;
	struct state_pair pair;
	int s, r = 0;

	for (s = 0; s < 2 && r == 0; s++) {
		if (!c->settle[s])
			continue;
		c->settle[s] = false;
		if ((r = store_settle(cx->store[s], c->name[s], &f, err)) ==
			-1 ||
		    !f.has_status)
			continue;
		if ((r = state_pair_get_or_create(cx->st, c->name[STATE_FAR],
			 c->name[STATE_NEAR], &pair, err)) == -1)
			continue;
		if (pair.marks[s].uidvalidity == f.uidvalidity) {
			pair.marks[s].uidnext = f.uidnext;
			pair.marks[s].messages = f.messages;
			pair.marks[s].modseq = f.change_token;
			r = state_pair_update(cx->st, &pair, err);
			c->now[s] = f;
			c->now[s].name = NULL; /* not kept: the listing's is */
			c->f[s] = &c->now[s];
		}
		state_pair_release(&pair);
	}
	return r;
}

/*
 * After the passes (or after a window, for its pair alone: n 1): a
 * Maildir folder a pass scanned or changed moves on from the status
 * listed before the pass (next_marks()) to the status after it, when its
 * store proves that the folder holds just what the pass saw and did
 * (store_settle()).  Then the next run skips it unless something else
 * changed it, instead of reading it in full to find this run's own
 * changes.  A crash in here leaves the earlier marks: a rescan.
 */
static int
settle(struct cx *cx, struct cand *c, size_t n, struct err *err)
{
	size_t i;
	int r = 0;

	for (i = 0; i < n && !c[i].settle[0] && !c[i].settle[1]; i++)
		;
	if (i == n)
		return 0; /* no Maildir folder was looked at */
	if (state_begin(cx->st, err) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++)
		r = settle_cand(cx, &c[i], err);
	if (r == -1) {
		state_rollback(cx->st, NULL);
		return -1;
	}
	if (state_commit(cx->st, err) == -1)
		return -1;
	sync_crash_point("marks settled");
	return 0;
}

static int
list_both(struct cx *cx, struct listing *l, struct err *err)
{
	int s;

	memset(l, 0, 2 * sizeof(*l));
	store_list(cx->store[STATE_FAR], on_list, &l[STATE_FAR]);
	store_list(cx->store[STATE_NEAR], on_list, &l[STATE_NEAR]);
	wait_for(cx->loop, &l[STATE_FAR].done);
	wait_for(cx->loop, &l[STATE_NEAR].done);
	for (s = 0; s < 2; s++)
		if (failed(&l[s].err)) {
			*err = l[s].err;
			return err_prefix(err, "list %s", state_side_name(s));
		}
	return 0;
}

int
sync_channel(struct loop *loop, const struct sync_channel_opts *o,
    struct store *far, struct store *near, struct state *st,
    struct sync_summary *out, struct err *err)
{
	struct cx cx;
	struct listing l[2];
	struct cand *c = NULL;
	size_t n = 0, i;
	int64_t t0 = loop_now_ms();
	int r = -1;

	memset(out, 0, sizeof(*out));
	out->dry_run = o->dry_run;
	memset(&cx, 0, sizeof(cx));
	cx.loop = loop;
	cx.o = o;
	cx.store[STATE_FAR] = far;
	cx.store[STATE_NEAR] = near;
	cx.maildir[STATE_FAR] = strcmp(store_kind(far), "maildir") == 0;
	cx.maildir[STATE_NEAR] = strcmp(store_kind(near), "maildir") == 0;
	cx.st = st;
	cx.sum = out;
	cx.out = o->out != NULL ? o->out : stdout;
	if (o->dry_run && state_begin(st, err) == -1)
		return -1;
	if (list_both(&cx, l, err) == 0) {
		n = candidates(&cx, l, &c);
		r = run_pairs(&cx, c, n, err);
		if (r == 0 && !o->dry_run)
			r = settle(&cx, c, n, err);
	}
	for (i = 0; i < n; i++) {
		free(c[i].name[0]);
		free(c[i].name[1]);
	}
	free(c);
	listing_free(&l[0]);
	listing_free(&l[1]);
	if (o->dry_run)
		state_rollback(st, NULL);
	out->ms = loop_now_ms() - t0;
	return r;
}

static void
print_bytes(FILE *f, uint64_t n)
{
	if (n >= 1024 * 1024)
		fprintf(f, "%.1f MB", (double)n / (1024.0 * 1024.0));
	else if (n >= 1024)
		fprintf(f, "%.1f kB", (double)n / 1024.0);
	else
		fprintf(f, "%" PRIu64 " bytes", n);
}

void
sync_summary_print(const struct sync_summary *s, const char *channel, FILE *f)
{
	fprintf(f, "%s:%s %u folders (%u unchanged, %u created, %u failed)\n",
	    channel, s->dry_run ? " (dry run)" : "", s->folders, s->unchanged,
	    s->created, s->failed_folders);
	if (s->dry_run) {
		fprintf(f, "  planned: %" PRIu64 " operations\n", s->planned);
	} else {
		fprintf(f, "  copied far -> near: %" PRIu64 " messages (",
		    s->copied[STATE_NEAR]);
		print_bytes(f, s->copied_bytes[STATE_NEAR]);
		fprintf(f, ")\n  copied near -> far: %" PRIu64 " messages (",
		    s->copied[STATE_FAR]);
		print_bytes(f, s->copied_bytes[STATE_FAR]);
		fprintf(f,
		    ")\n  flags updated: %" PRIu64 "\n"
		    "  expunged: %" PRIu64 " far, %" PRIu64 " near\n"
		    "  paired: %" PRIu64 "\n"
		    "  failed: %" PRIu64 "\n",
		    s->flagged, s->expunged[STATE_FAR], s->expunged[STATE_NEAR],
		    s->paired, s->failed);
	}
	fprintf(f, "  brakes: %u\n", s->brakes);
	if (s->brakes > 0)
		fprintf(f, "%s", s->brake_text);
	fprintf(f, "  time: %.1f s\n", (double)s->ms / 1000.0);
}
