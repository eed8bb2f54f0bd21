/* SPDX-License-Identifier: ISC */
/*
 * plan.c - the sync planner: a pure function from one folder pair's state
 * rows and both sides' change sets to the operations that bring the two
 * sides together (step 4 of "The sync algorithm" in DESIGN.md).  It does
 * no I/O, keeps no globals and calls no one back; sync/exec.c carries the
 * plan out.  Everything is sorted once and looked up by binary search or
 * merged in order, so a pass is O(n log n) in rows plus reports.
 *
 * Words: a row is a state msg row; a side is far or near; a report is a
 * struct store_msg in a side's change set; a new message is a report whose
 * UID no row holds on that side.  Each rule below is implemented by the
 * function named in brackets.
 *
 * Presence
 *  P1 [look_row] A row's message on a side is present with its base flags
 *     when the side was not scanned (changes NULL).  With a full listing it
 *     is present iff its UID is reported.  Otherwise it is present unless
 *     its UID is in vanished (which wins over a report), with the reported
 *     flags when reported (flags_only or not), else its base flags.  A row
 *     whose UID there is 0 is unknown there until re-paired (N2).
 *  P2 Deletion evidence is positive only: absent from a full listing, or
 *     in vanished.  An unscanned side never yields a deletion.
 *
 * New messages
 *  N1 [index_side] New messages are the reports whose UID no row holds on
 *     that side and that are not flags_only (those lack the identity to
 *     copy or pair them; the caller reports a retried message in full),
 *     and, in a change set that is not full, not also in vanished.  A UID
 *     reported twice counts once, with the last report.
 *  N2 [match_repair] A row whose UID on a side is 0 is re-paired with a new
 *     message there: first by equal object id on that side (the same
 *     server's identity), then by equal fingerprint; 1:1 in UID order.
 *     -> REPAIR, and the row goes on as present there (its flags merge).
 *     Unmatched ones stay as they are: no deletion, no copy back.
 *  N3 [match_pair] A new message on far and a new message on near with the
 *     same fingerprint are one message -> PAIR, whatever the mode.  1:1 in
 *     UID order: two equal messages on far pair with two on near and a
 *     third is copied.  This is how a first run against a populated
 *     destination, a run after the state was lost and a resumed crashed
 *     copy avoid duplicates.  Object ids are not compared across sides:
 *     they are each server's own names, and a false match would leave a
 *     message uncopied.
 *  N4 [plan_copies] Any other new message is copied when the mode copies
 *     from its side (two-way: both; pull, mirror-pull: far -> near; push,
 *     mirror-push: near -> far) -> COPY, with the flags the destination
 *     can keep (F3); else it is left alone.
 *
 * Flags (for a row present on both sides whose flags differ from its base
 * on either side; when both equal it, every flag merges to itself)
 *  F1 [flag_result] Two-way: a three-way merge per flag against the base.
 *     A flag in the base can only have been removed (a side that lacks it
 *     removed it); a flag not in the base can only have been added (a side
 *     that has it added it).  Removals and additions win over "unchanged".
 *     A flag cannot conflict against one base: "added on one side and
 *     removed on the other" would need it both absent from and present in
 *     the base.  (A flag set and cleared again on one side while the other
 *     set it ends up set: only final states are seen.)
 *  F2 [flag_result] One-way modes: the source's flags win (far for pull and
 *     mirror-pull, near for push and mirror-push), and only the destination
 *     is changed.  Where the source cannot keep a flag (F3) it has no say,
 *     and the destination keeps what it has.
 *  F3 [keeps] A flag a side cannot keep (not in its PERMANENTFLAGS; for a
 *     keyword, unless any keyword may be kept; NULL or empty PERMANENTFLAGS
 *     keep everything) is left out of that side's comparison: never added
 *     or removed there, and its absence there is not a removal.
 *  F4 [merge_one] The base recorded is the agreed set: the flags both sides
 *     hold once the ops are done.  So a flag one side cannot keep never
 *     enters the base and never causes an update every run.  -> FLAGS for
 *     each side whose flags change (add, remove), then SET_BASE when the
 *     agreed set differs from the base (see plan.h for the order).  A COPY
 *     records the flags it appends with; a PAIR records the flags both
 *     messages already share, and its FLAGS and SET_BASE (row 0) follow.
 *
 * Deletions
 *  D1 [rule_one_gone] Present on one side, gone from the other: when the
 *     mode propagates deletions from the gone side (two-way with expunge;
 *     mirror-pull with expunge: far's; mirror-push with expunge: near's)
 *     -> EXPUNGE on the other side (the executor drops the row after);
 *     otherwise -> FORGET_SIDE of the gone side: the row keeps the other
 *     side, and the message is not copied back.
 *  D2 [rule_both_gone] Gone from both sides -> DROP_ROW (unless D4 or D5
 *     discounts either side's evidence: then the row is left alone).
 *  D3 [rule_orphan] Unknown on one side (UID 0) and gone from the other ->
 *     DROP_ROW.  Unknown on both (never written by the state) -> DROP_ROW.
 *  D4 [rule_one_gone, frozen] UIDVALIDITY changed on a side: in this pass
 *     its absences count for nothing (normally it has none: its rows were
 *     reset to UID 0) and nothing is expunged there.  A row that D1 would
 *     expunge there is left alone, and brake[side] says why; the other
 *     side's deletions that only forget (the mode does not propagate them)
 *     and D3 still happen.  Forcing does not lift this: it lasts one pass.
 *  D5 [index_side, suspect] A side whose full listing is empty although the
 *     state saw messages there (a wiped Maildir, a wrong mount) gives no
 *     evidence: its rows are left alone (not forgotten or dropped either),
 *     and when that spares messages on the other side, brake[other] says
 *     so.  Unless force_deletes.
 *  D6 [apply_brake] After planning, when the expunges on a side are more
 *     than brake_percent % of the messages present there (rows present,
 *     counting the rows the caller left out as present (rows_elsewhere),
 *     plus reported messages no row holds, before this pass) and more than
 *     brake_min, or all of them (when there were any), every EXPUNGE on
 *     that side is removed, the rows concerned are left alone, and
 *     brake[side] says why.  Unless force_deletes.  Copies and flags go
 *     ahead.  Whenever D4-D6 leave rows alone, held[] names the side whose
 *     deletions were seen, so that its watermarks are kept.
 *
 * Output
 *  O1 [finish] Ops are sorted by kind, side, UID on that side (a copy's
 *     source UID), row; counts and copy bytes are totalled per side.
 */
#include "plan.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/state.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/sort.h"
#include "util/xalloc.h"

#define NONE SIZE_MAX
/* Bytes of strings a plan may hold. */
#define MEM_MAX ((size_t)1 << 30)

/*
 * Flag strings as sorted token lists.
 */

struct tok {
	const char *p;
	size_t len;
};

struct toks {
	struct tok *v;
	size_t n, cap;
};

static int
tok_cmp(struct tok a, struct tok b)
{
	int c = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);

	if (c != 0)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

/* ASCII case-insensitive: IMAP flag names are. */
static int
tok_casecmp(struct tok a, struct tok b)
{
	int c = strncasecmp(a.p, b.p, a.len < b.len ? a.len : b.len);

	if (c != 0)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

static int
tok_qcmp(const void *a, const void *b)
{
	return tok_cmp(*(const struct tok *)a, *(const struct tok *)b);
}

static int
tok_qcasecmp(const void *a, const void *b)
{
	return tok_casecmp(*(const struct tok *)a, *(const struct tok *)b);
}

static void
toks_push(struct toks *t, struct tok k)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = k;
}

/* Sort with cmp and drop repeats. */
static void
toks_sort(struct toks *t, int (*cmp)(const void *, const void *))
{
	size_t i, n = 0;

	sort_array(t->v, t->n, sizeof(*t->v), cmp);
	for (i = 0; i < t->n; i++)
		if (n == 0 || cmp(&t->v[n - 1], &t->v[i]) != 0)
			t->v[n++] = t->v[i];
	t->n = n;
}

/*
 * Split a flag string (NULL: none) into tokens, sorted and distinct.  A
 * canonical string already is, and costs one pass.
 */
static void
toks_parse(struct toks *t, const char *s)
{
	bool sorted = true;
	struct tok k;

	t->n = 0;
	if (s == NULL)
		return;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		k.p = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		k.len = (size_t)(s - k.p);
		if (t->n > 0 && tok_cmp(t->v[t->n - 1], k) >= 0)
			sorted = false;
		toks_push(t, k);
	}
	if (!sorted)
		toks_sort(t, tok_qcmp);
}

/*
 * F3: what a side can keep.
 */

struct keep {
	bool all; /* no PERMANENTFLAGS known: everything */
	bool keywords; /* any keyword (\*) */
	struct toks perm; /* sorted case-insensitively */
};

static void
keep_init(struct keep *k, const struct store_changes *ch)
{
	size_t i, n = 0;

	memset(k, 0, sizeof(*k));
	k->all = true;
	if (ch == NULL || ch->permflags == NULL)
		return;
	toks_parse(&k->perm, ch->permflags);
	if (k->perm.n == 0)
		return;
	k->all = false;
	k->keywords = ch->perm_keywords;
	for (i = 0; i < k->perm.n; i++) {
		if (k->perm.v[i].len == 2 &&
		    memcmp(k->perm.v[i].p, "\\*", 2) == 0)
			k->keywords = true;
		else
			k->perm.v[n++] = k->perm.v[i];
	}
	k->perm.n = n;
	toks_sort(&k->perm, tok_qcasecmp);
}

static bool
keeps(const struct keep *k, struct tok f)
{
	if (k->all || (f.p[0] != '\\' && k->keywords))
		return true;
	return bsearch(&f, k->perm.v, k->perm.n, sizeof(f), tok_qcasecmp) !=
	       NULL;
}

/*
 * The planner's working state.
 */

/* What the planner knows of one side. */
struct side {
	const struct store_changes *ch; /* NULL: not scanned */
	struct keep keep;
	size_t *msg; /* indices into ch->msgs by UID, one per UID */
	size_t nmsg;
	uint32_t *van; /* ch->vanished, sorted */
	size_t nvan;
	size_t *row_msg; /* by row: index into msg[] of its report, or NONE */
	size_t *repair; /* by row: index into msg[] re-paired to it, or NONE */
	size_t nwait; /* rows awaiting re-pairing here (UID 0) */
	size_t *fresh; /* indices into msg[]: the new messages (N1) */
	size_t nfresh;
	bool *taken; /* by msg[] index: matched by N2 or N3 */
	bool frozen; /* D4 */
	bool suspect; /* D5 */
	size_t present; /* messages here now, for D6 */
	size_t nexp; /* expunges planned here */
	size_t frozen_exp, suspect_exp; /* deletions here held by D4, D5 */
};

struct ctx {
	const struct plan_input *in;
	struct plan *p;
	struct side s[2];
	size_t cap; /* of p->ops */
	int src; /* F2: the side whose flags win; -1: F1 */
	/* merge_flags() in and out; reused for every row */
	struct toks base, cur[2];
	struct buf add[2], rem[2];
	struct buf now; /* flags both sides hold before the ops */
	struct buf agreed; /* flags both sides hold after them (F4) */
	struct buf scratch;
	bool oom; /* a string did not fit in MEM_MAX */
};

static enum state_side
other(enum state_side s)
{
	return s == STATE_FAR ? STATE_NEAR : STATE_FAR;
}

static const char *
side_name(enum state_side s)
{
	return s == STATE_FAR ? "far" : "near";
}

static const struct store_msg *
msg_at(const struct side *sd, size_t i)
{
	return &sd->ch->msgs[sd->msg[i]];
}

static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* N4: whether the mode copies new messages from side src. */
static bool
copies_from(enum sync_mode mode, enum state_side src)
{
	switch (mode) {
	case SYNC_TWO_WAY:
		return true;
	case SYNC_PULL:
	case SYNC_MIRROR_PULL:
		return src == STATE_FAR;
	case SYNC_PUSH:
	case SYNC_MIRROR_PUSH:
		return src == STATE_NEAR;
	}
	return false;
}

/* D1: whether a deletion on side gone is expunged on the other side. */
static bool
propagates_from(const struct plan_input *in, enum state_side gone)
{
	if (!in->expunge)
		return false;
	switch (in->mode) {
	case SYNC_TWO_WAY:
		return true;
	case SYNC_MIRROR_PULL:
		return gone == STATE_FAR;
	case SYNC_MIRROR_PUSH:
		return gone == STATE_NEAR;
	case SYNC_PULL:
	case SYNC_PUSH:
		break;
	}
	return false;
}

/* F2: the side whose flags win, or -1 for the two-way merge (F1). */
static int
flag_source(enum sync_mode mode)
{
	switch (mode) {
	case SYNC_PULL:
	case SYNC_MIRROR_PULL:
		return STATE_FAR;
	case SYNC_PUSH:
	case SYNC_MIRROR_PUSH:
		return STATE_NEAR;
	case SYNC_TWO_WAY:
		break;
	}
	return -1;
}

/*
 * Strings the plan owns.  On overflow the plan gets "" and c->oom, and
 * plan_make() fails.
 */

static const char *
save(struct ctx *c, const char *s, size_t len)
{
	char *d;

	if (len == 0)
		return "";
	d = arena_alloc(c->p->mem, len + 1);
	if (d == NULL) {
		c->oom = true;
		return "";
	}
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

static const char *
save_buf(struct ctx *c, const struct buf *b)
{
	return save(c, b->data, b->len);
}

/* NULL stays NULL: no object id. */
static const char *
save_str(struct ctx *c, const char *s)
{
	return s != NULL ? save(c, s, strlen(s)) : NULL;
}

static void
put_tok(struct ctx *c, struct buf *b, struct tok t)
{
	if ((b->len > 0 && buf_putc(b, ' ') < 0) ||
	    buf_append(b, t.p, t.len) < 0)
		c->oom = true;
}

static struct plan_op *
op_new(struct ctx *c, enum plan_op_kind kind, enum state_side side, int64_t row)
{
	struct plan *p = c->p;
	struct plan_op *op;

	if (p->nops == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		p->ops = xreallocarray(p->ops, c->cap, sizeof(*p->ops));
	}
	op = &p->ops[p->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->side = side;
	op->row = row;
	return op;
}

/*
 * Room at once for an op per message new to the state (almost each is a
 * copy or a pair), so that a first sync's array of 100,000 ops is not
 * built by doubling, which holds up to three times the final size while
 * the array moves.
 */
static void
reserve_ops(struct ctx *c)
{
	size_t i, n = 0;
	int s;

	for (s = 0; s < 2; s++)
		for (i = 0;
		     c->in->changes[s] != NULL && i < c->in->changes[s]->nmsgs;
		     i++)
			n += !c->in->changes[s]->msgs[i].flags_only;
	if (n > 64) {
		c->cap = n;
		c->p->ops = xreallocarray(NULL, n, sizeof(*c->p->ops));
	}
}

static void
op_fp(struct plan_op *op, const unsigned char *fp, size_t len)
{
	if (len > 0) {
		op->fp = fp;
		op->fp_len = len;
	}
}

/*
 * Indexing: sort every side's reports, vanished UIDs and rows by UID.
 */

struct ent {
	uint32_t uid;
	size_t i;
};

static int
ent_cmp(const void *va, const void *vb)
{
	const struct ent *a = va, *b = vb;

	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

static int
u32_cmp(const void *va, const void *vb)
{
	uint32_t a = *(const uint32_t *)va, b = *(const uint32_t *)vb;

	return (a > b) - (a < b);
}

static bool
vanished(const struct side *sd, uint32_t uid)
{
	return bsearch(&uid, sd->van, sd->nvan, sizeof(uid), u32_cmp) != NULL;
}

/* The side's reports by UID, one per UID: the last report wins (N1). */
static void
index_msgs(struct side *sd)
{
	const struct store_changes *ch = sd->ch;
	struct ent *e = xcalloc(ch->nmsgs + 1, sizeof(*e));
	size_t i, n = 0;

	for (i = 0; i < ch->nmsgs; i++)
		if (ch->msgs[i].uid != 0)
			e[n++] = (struct ent){ch->msgs[i].uid, i};
	sort_array(e, n, sizeof(*e), ent_cmp);
	sd->msg = xcalloc(n + 1, sizeof(*sd->msg));
	for (i = 0; i < n; i++) {
		if (i + 1 < n && e[i + 1].uid == e[i].uid)
			continue;
		sd->msg[sd->nmsg++] = e[i].i;
	}
	free(e);
	sd->van = xcalloc(ch->nvanished + 1, sizeof(*sd->van));
	if (ch->nvanished > 0)
		memcpy(sd->van, ch->vanished, ch->nvanished * sizeof(*sd->van));
	sd->nvan = ch->nvanished;
	sort_array(sd->van, sd->nvan, sizeof(*sd->van), u32_cmp);
}

/* The rows with a UID on side s, by that UID; ERR_BOX on a repeat. */
static struct ent *
index_rows(struct ctx *c, enum state_side s, size_t *n_out, struct err *err)
{
	const struct plan_input *in = c->in;
	struct ent *e = xcalloc(in->nrows + 1, sizeof(*e));
	size_t i, n = 0;

	for (i = 0; i < in->nrows; i++)
		if (in->rows[i].uid[s] != 0)
			e[n++] = (struct ent){in->rows[i].uid[s], i};
	sort_array(e, n, sizeof(*e), ent_cmp);
	for (i = 1; i < n; i++)
		if (e[i].uid == e[i - 1].uid) {
			err_set(err, ERR_BOX,
			    "state rows %" PRId64 " and %" PRId64
			    " both hold %s UID %" PRIu32,
			    in->rows[e[i - 1].i].id, in->rows[e[i].i].id,
			    side_name(s), e[i].uid);
			free(e);
			return NULL;
		}
	*n_out = n;
	return e;
}

/*
 * Join rows and reports on side s (both sorted by UID) to find each row's
 * report, the new messages (N1), and how many messages are here (D6).
 */
static void
join_rows(struct ctx *c, enum state_side s, const struct ent *rows, size_t nr)
{
	struct side *sd = &c->s[s];
	const bool full = sd->ch->full;
	size_t i = 0, k;

	sd->row_msg = xcalloc(c->in->nrows + 1, sizeof(*sd->row_msg));
	for (k = 0; k < c->in->nrows; k++)
		sd->row_msg[k] = NONE;
	sd->fresh = xcalloc(sd->nmsg + 1, sizeof(*sd->fresh));
	for (k = 0; k < sd->nmsg; k++) {
		const struct store_msg *m = msg_at(sd, k);

		while (i < nr && rows[i].uid < m->uid)
			i++;
		if (i < nr && rows[i].uid == m->uid) {
			sd->row_msg[rows[i].i] = k;
			continue;
		}
		if (!full && vanished(sd, m->uid))
			continue;
		sd->present++;
		if (!m->flags_only)
			sd->fresh[sd->nfresh++] = k;
	}
	for (i = 0; i < nr; i++) {
		k = sd->row_msg[rows[i].i];
		if (full ? k != NONE : !vanished(sd, rows[i].uid))
			sd->present++;
	}
}

static int
index_side(struct ctx *c, enum state_side s, struct err *err)
{
	const struct plan_input *in = c->in;
	struct side *sd = &c->s[s];
	struct ent *rows;
	size_t nr = 0, i;

	sd->ch = in->changes[s];
	sd->frozen = in->uidvalidity_changed[s];
	keep_init(&sd->keep, sd->ch);
	sd->repair = xcalloc(in->nrows + 1, sizeof(*sd->repair));
	for (i = 0; i < in->nrows; i++) {
		sd->repair[i] = NONE;
		sd->nwait += in->rows[i].uid[s] == 0;
	}
	if ((rows = index_rows(c, s, &nr, err)) == NULL)
		return -1;
	sd->present = in->rows_elsewhere;
	if (sd->ch == NULL) {
		sd->present += nr;
	} else {
		index_msgs(sd);
		sd->taken = xcalloc(sd->nmsg + 1, sizeof(*sd->taken));
		join_rows(c, s, rows, nr);
		sd->suspect =
		    sd->ch->full && sd->nmsg == 0 && in->known_messages[s] > 0;
	}
	free(rows);
	return 0;
}

/*
 * Matching by identity (N2, N3).
 */

struct key {
	uint64_t head; /* the first bytes, compared first */
	const unsigned char *p;
	size_t len;
	int list; /* 0: left, 1: right */
	uint32_t ord; /* UID: pair in UID order */
	size_t idx; /* what the entry names in its list */
};

struct match {
	size_t l, r;
};

static int
key_same(const struct key *a, const struct key *b)
{
	return a->head == b->head && a->len == b->len &&
	       memcmp(a->p, b->p, a->len) == 0;
}

static int
key_cmp(const void *va, const void *vb)
{
	const struct key *a = va, *b = vb;
	int c;

	if (a->head != b->head)
		return a->head < b->head ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if ((c = memcmp(a->p, b->p, a->len)) != 0)
		return c;
	if (a->list != b->list)
		return a->list - b->list;
	if (a->ord != b->ord)
		return a->ord < b->ord ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

/*
 * Sort keys and, within each run of equal keys, match the k-th left entry
 * with the k-th right one: 1:1, in UID order.  Return the matches in out
 * (room for n / 2 of them).
 */
static size_t
match_keys(struct key *keys, size_t n, struct match *out)
{
	size_t a = 0, b, m, i, nout = 0;

	sort_array(keys, n, sizeof(*keys), key_cmp);
	while (a < n) {
		for (b = a + 1; b < n && key_same(&keys[a], &keys[b]); b++)
			;
		for (m = a; m < b && keys[m].list == 0; m++)
			;
		for (i = 0; a + i < m && m + i < b; i++)
			out[nout++] =
			    (struct match){keys[a + i].idx, keys[m + i].idx};
		a = b;
	}
	return nout;
}

/* The identity a key is made of: an object id, or a fingerprint. */
static bool
key_set(struct key *k, bool by_objid, const char *objid,
    const unsigned char *fp, size_t fp_len)
{
	if (by_objid) {
		k->p = (const unsigned char *)objid;
		k->len = objid != NULL ? strlen(objid) : 0;
	} else {
		k->p = fp;
		k->len = fp != NULL ? fp_len : 0;
	}
	if (k->len == 0)
		return false;
	k->head = 0;
	memcpy(&k->head, k->p, k->len < 8 ? k->len : 8);
	return true;
}

/* N2: re-pair rows whose UID on s is 0 with new messages there. */
static void
match_repair(struct ctx *c, enum state_side s, bool by_objid)
{
	struct side *sd = &c->s[s];
	struct key *keys;
	struct match *mt;
	size_t i, n = 0, nm;

	if (sd->ch == NULL || sd->nfresh == 0 || sd->nwait == 0)
		return;
	keys = xcalloc(c->in->nrows + sd->nfresh + 1, sizeof(*keys));
	for (i = 0; i < c->in->nrows; i++) {
		const struct plan_row *r = &c->in->rows[i];
		struct key *k = &keys[n];

		if (r->uid[s] != 0 || r->uid[other(s)] == 0 ||
		    sd->repair[i] != NONE)
			continue;
		*k = (struct key){.list = 0, .ord = r->uid[other(s)], .idx = i};
		n += key_set(k, by_objid, r->objid[s], r->fp, r->fp_len);
	}
	for (i = 0; i < sd->nfresh; i++) {
		const struct store_msg *m = msg_at(sd, sd->fresh[i]);
		struct key *k = &keys[n];

		if (sd->taken[sd->fresh[i]])
			continue;
		*k =
		    (struct key){.list = 1, .ord = m->uid, .idx = sd->fresh[i]};
		n += key_set(k, by_objid, m->objid, m->fp, m->fp_len);
	}
	mt = xcalloc(n / 2 + 1, sizeof(*mt));
	nm = match_keys(keys, n, mt);
	for (i = 0; i < nm; i++) {
		sd->repair[mt[i].l] = mt[i].r;
		sd->taken[mt[i].r] = true;
	}
	free(mt);
	free(keys);
}

static void emit_pair(
    struct ctx *, const struct store_msg *, const struct store_msg *);

/* N3: pair new messages on far with new messages on near. */
static void
match_pair(struct ctx *c)
{
	struct side *f = &c->s[STATE_FAR], *nr = &c->s[STATE_NEAR];
	struct key *keys;
	struct match *mt;
	size_t i, n = 0, nm;
	int s;

	if (f->nfresh == 0 || nr->nfresh == 0)
		return;
	keys = xcalloc(f->nfresh + nr->nfresh, sizeof(*keys));
	for (s = 0; s < 2; s++) {
		struct side *sd = &c->s[s];

		for (i = 0; i < sd->nfresh; i++) {
			const struct store_msg *m = msg_at(sd, sd->fresh[i]);
			struct key *k = &keys[n];

			if (sd->taken[sd->fresh[i]])
				continue;
			*k = (struct key){
			    .list = s, .ord = m->uid, .idx = sd->fresh[i]};
			n += key_set(k, false, NULL, m->fp, m->fp_len);
		}
	}
	mt = xcalloc(n / 2 + 1, sizeof(*mt));
	nm = match_keys(keys, n, mt);
	for (i = 0; i < nm; i++) {
		f->taken[mt[i].l] = true;
		nr->taken[mt[i].r] = true;
		emit_pair(c, msg_at(f, mt[i].l), msg_at(nr, mt[i].r));
	}
	free(mt);
	free(keys);
}

/*
 * Flags (F1-F4).
 */

/* F1, F2: whether flag f is set once the row is merged. */
static bool
flag_result(int src, bool in_base, const bool has[2], const bool keep[2])
{
	if (src >= 0)
		return has[src] || (!keep[src] && has[1 - src]);
	if (in_base)
		return !((keep[0] && !has[0]) || (keep[1] && !has[1]));
	return has[0] || has[1];
}

/* Decide flag f and write it where it goes (F3, F4). */
static void
merge_one(struct ctx *c, struct tok f, bool in_base, const bool has[2])
{
	bool keep[2], after[2], result;
	int s;

	for (s = 0; s < 2; s++)
		keep[s] = keeps(&c->s[s].keep, f);
	result = flag_result(c->src, in_base, has, keep);
	for (s = 0; s < 2; s++) {
		bool acts = keep[s] && s != c->src;

		after[s] = acts ? result : has[s];
		if (acts && result && !has[s])
			put_tok(c, &c->add[s], f);
		else if (acts && !result && has[s])
			put_tok(c, &c->rem[s], f);
	}
	if (has[0] && has[1])
		put_tok(c, &c->now, f);
	if (after[0] && after[1])
		put_tok(c, &c->agreed, f);
}

/*
 * Merge one message's flags on far and near against base: fill add[],
 * rem[], now and agreed.  The three lists are walked together in order.
 */
static void
merge_flags(struct ctx *c, const char *base, const char *far, const char *near)
{
	const struct toks *l[3] = {&c->base, &c->cur[0], &c->cur[1]};
	size_t i[3] = {0, 0, 0};
	int k, s;

	toks_parse(&c->base, base);
	toks_parse(&c->cur[0], far);
	toks_parse(&c->cur[1], near);
	for (s = 0; s < 2; s++) {
		buf_reset(&c->add[s]);
		buf_reset(&c->rem[s]);
	}
	buf_reset(&c->now);
	buf_reset(&c->agreed);
	for (;;) {
		struct tok t = {NULL, 0};
		bool in[3];

		for (k = 0; k < 3; k++)
			if (i[k] < l[k]->n &&
			    (t.p == NULL || tok_cmp(l[k]->v[i[k]], t) < 0))
				t = l[k]->v[i[k]];
		if (t.p == NULL)
			break;
		for (k = 0; k < 3; k++) {
			in[k] =
			    i[k] < l[k]->n && tok_cmp(l[k]->v[i[k]], t) == 0;
			i[k] += in[k];
		}
		merge_one(c, t, in[0], in + 1);
	}
}

/* FLAGS for each side whose flags change, after merge_flags(). */
static void
emit_flag_ops(struct ctx *c, int64_t row, const uint32_t uid[2])
{
	struct plan_op *op;
	int s;

	for (s = 0; s < 2; s++) {
		if (c->add[s].len == 0 && c->rem[s].len == 0)
			continue;
		op = op_new(c, PLAN_FLAGS, (enum state_side)s, row);
		op->uid[0] = uid[0];
		op->uid[1] = uid[1];
		op->add = save_buf(c, &c->add[s]);
		op->remove = save_buf(c, &c->rem[s]);
	}
}

static void
emit_set_base(struct ctx *c, int64_t row, const uint32_t uid[2])
{
	struct plan_op *op = op_new(c, PLAN_SET_BASE, STATE_FAR, row);

	op->uid[0] = uid[0];
	op->uid[1] = uid[1];
	op->base = save_buf(c, &c->agreed);
}

/* N3, F4: record two new messages as one, then agree on their flags. */
static void
emit_pair(struct ctx *c, const struct store_msg *f, const struct store_msg *n)
{
	const uint32_t uid[2] = {f->uid, n->uid};
	struct plan_op *op;

	merge_flags(c, "", f->flags, n->flags);
	op = op_new(c, PLAN_PAIR, STATE_FAR, 0);
	op->uid[0] = uid[0];
	op->uid[1] = uid[1];
	op->base = save_buf(c, &c->now);
	op->objid[STATE_FAR] = save_str(c, f->objid);
	op->objid[STATE_NEAR] = save_str(c, n->objid);
	op->size = f->size;
	op->internaldate = f->internaldate;
	op_fp(op, f->fp, f->fp_len);
	emit_flag_ops(c, 0, uid);
	if (strcmp(c->agreed.data, c->now.data) != 0)
		emit_set_base(c, 0, uid);
}

/* N4: copy m from src with the flags the destination can keep (F3). */
static void
emit_copy(struct ctx *c, enum state_side src, const struct store_msg *m)
{
	enum state_side dst = other(src);
	struct plan_op *op = op_new(c, PLAN_COPY, dst, 0);
	size_t i;

	toks_parse(&c->cur[0], m->flags);
	buf_reset(&c->scratch);
	for (i = 0; i < c->cur[0].n; i++)
		if (keeps(&c->s[dst].keep, c->cur[0].v[i]))
			put_tok(c, &c->scratch, c->cur[0].v[i]);
	op->uid[src] = m->uid;
	op->flags = op->base = save_buf(c, &c->scratch);
	op->objid[src] = save_str(c, m->objid);
	op->size = m->size;
	op->internaldate = m->internaldate;
	op_fp(op, m->fp, m->fp_len);
}

static void
plan_copies(struct ctx *c, enum state_side src)
{
	struct side *sd = &c->s[src];
	size_t i;

	if (!copies_from(c->in->mode, src))
		return;
	for (i = 0; i < sd->nfresh; i++)
		if (!sd->taken[sd->fresh[i]])
			emit_copy(c, src, msg_at(sd, sd->fresh[i]));
}

/*
 * Rows.
 */

enum presence {
	LOOK_UNKNOWN, /* UID 0 there and not re-paired */
	LOOK_PRESENT,
	LOOK_GONE,
};

/* A row's message on one side, as this pass sees it. */
struct look {
	enum presence st;
	uint32_t uid; /* the row's, or the re-paired message's */
	const char *flags; /* now; the base when not reported */
	const struct store_msg *repaired; /* N2 */
};

/* P1, P2 (and N2: a re-paired side is present with the new message). */
static void
look_row(const struct ctx *c, size_t r, enum state_side s, struct look *l)
{
	const struct plan_row *row = &c->in->rows[r];
	const struct side *sd = &c->s[s];
	const uint32_t uid = row->uid[s];
	size_t k;

	*l = (struct look){LOOK_PRESENT, uid, nz(row->flags), NULL};
	if (uid == 0)
		k = sd->repair[r];
	else if (sd->ch == NULL)
		return;
	else
		k = sd->row_msg[r];
	if (uid == 0 && k == NONE)
		l->st = LOOK_UNKNOWN;
	else if (uid != 0 && (sd->ch->full ? k == NONE : vanished(sd, uid)))
		l->st = LOOK_GONE;
	if (l->st != LOOK_PRESENT || k == NONE)
		return;
	l->flags = nz(msg_at(sd, k)->flags);
	if (uid == 0) {
		l->repaired = msg_at(sd, k);
		l->uid = l->repaired->uid;
	}
}

/* D4-D6: rows whose deletions wait; the caller keeps side's marks. */
static void
hold(struct ctx *c, enum state_side s)
{
	c->p->held[s] = true;
}

/* D4, D5: whether absences on s count as evidence in this pass. */
static bool
evidence_counts(const struct ctx *c, enum state_side s)
{
	const struct side *sd = &c->s[s];

	return !sd->frozen && !(sd->suspect && !c->in->force_deletes);
}

static struct plan_op *
emit_row_op(struct ctx *c, enum plan_op_kind kind, enum state_side side,
    const struct plan_row *row, const struct look l[2])
{
	struct plan_op *op = op_new(c, kind, side, row->id);

	op->uid[0] = l[0].uid;
	op->uid[1] = l[1].uid;
	return op;
}

/* D1 with D4, D5: present on the other side, gone from side g. */
static void
rule_one_gone(struct ctx *c, const struct plan_row *row, enum state_side g,
    const struct look l[2])
{
	enum state_side t = other(g);
	bool prop = propagates_from(c->in, g);

	if (c->s[g].frozen || (prop && c->s[t].frozen)) {
		hold(c, g);
		c->s[t].frozen_exp += prop;
	} else if (!evidence_counts(c, g)) {
		hold(c, g);
		c->s[t].suspect_exp += prop;
	} else if (!prop) {
		emit_row_op(c, PLAN_FORGET_SIDE, g, row, l);
	} else {
		emit_row_op(c, PLAN_EXPUNGE, t, row, l);
		c->s[t].nexp++;
	}
}

/* D2: gone from both sides.  When either side's evidence does not count,
 * the row stays, and neither side's evidence is used. */
static void
rule_both_gone(
    struct ctx *c, const struct plan_row *row, const struct look l[2])
{
	if (evidence_counts(c, STATE_FAR) && evidence_counts(c, STATE_NEAR)) {
		emit_row_op(c, PLAN_DROP_ROW, STATE_FAR, row, l);
		return;
	}
	hold(c, STATE_FAR);
	hold(c, STATE_NEAR);
}

/* D3: unknown on one side, gone from side g. */
static void
rule_orphan(struct ctx *c, const struct plan_row *row, enum state_side g,
    const struct look l[2])
{
	if (!evidence_counts(c, g))
		hold(c, g);
	else
		emit_row_op(c, PLAN_DROP_ROW, g, row, l);
}

/* F1-F4 for a row present on both sides. */
static void
rule_flags(struct ctx *c, const struct plan_row *row, const struct look l[2])
{
	const uint32_t uid[2] = {l[0].uid, l[1].uid};
	const char *base = nz(row->flags);

	/* Both hold exactly the base: every flag merges to itself. */
	if (strcmp(l[0].flags, base) == 0 && strcmp(l[1].flags, base) == 0)
		return;
	merge_flags(c, base, l[0].flags, l[1].flags);
	emit_flag_ops(c, row->id, uid);
	if (strcmp(c->agreed.data, base) != 0)
		emit_set_base(c, row->id, uid);
}

static void
plan_row(struct ctx *c, size_t r)
{
	const struct plan_row *row = &c->in->rows[r];
	struct look l[2];
	enum presence f, n;
	int s;

	look_row(c, r, STATE_FAR, &l[0]);
	look_row(c, r, STATE_NEAR, &l[1]);
	for (s = 0; s < 2; s++)
		if (l[s].repaired != NULL)
			emit_row_op(c, PLAN_REPAIR, (enum state_side)s, row, l)
			    ->objid[s] = save_str(c, l[s].repaired->objid);
	f = l[STATE_FAR].st;
	n = l[STATE_NEAR].st;
	if (f == LOOK_PRESENT && n == LOOK_PRESENT)
		rule_flags(c, row, l);
	else if (f == LOOK_GONE && n == LOOK_GONE)
		rule_both_gone(c, row, l);
	else if (f == LOOK_GONE || n == LOOK_GONE) {
		enum state_side g = f == LOOK_GONE ? STATE_FAR : STATE_NEAR;

		if (l[other(g)].st == LOOK_PRESENT)
			rule_one_gone(c, row, g, l);
		else
			rule_orphan(c, row, g, l);
	} else if (f == LOOK_UNKNOWN && n == LOOK_UNKNOWN)
		emit_row_op(c, PLAN_DROP_ROW, STATE_FAR, row, l);
	/* Present on one side, unknown on the other: waits for N2. */
}

/*
 * The deletion brake (D4-D6).
 */

static void set_brake(struct ctx *c, enum state_side s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first reason found stands. */
static void
set_brake(struct ctx *c, enum state_side s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	if (c->p->brake[s] != NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	c->p->brake[s] = save(c, msg, (size_t)n);
}

/* D6: more than brake_percent % and more than brake_min, or all. */
static bool
brake_trips(const struct plan_input *in, size_t n, size_t present)
{
	if (n == 0 || in->force_deletes)
		return false;
	if (n >= present)
		return true;
	return (uint64_t)n * 100 > (uint64_t)in->brake_percent * present &&
	       n > in->brake_min;
}

/* Remove the expunges planned on side t. */
static void
drop_expunges(struct ctx *c, enum state_side t)
{
	struct plan *p = c->p;
	size_t i, n = 0;

	for (i = 0; i < p->nops; i++)
		if (p->ops[i].kind != PLAN_EXPUNGE || p->ops[i].side != t)
			p->ops[n++] = p->ops[i];
	p->nops = n;
}

static void
apply_brake(struct ctx *c, enum state_side t)
{
	const struct side *sd = &c->s[t];
	enum state_side o = other(t);
	size_t n = sd->nexp, pct;

	if (sd->frozen_exp > 0)
		set_brake(c, t,
		    "UIDVALIDITY changed on %s: not deleting %zu message%s on "
		    "%s in this pass",
		    side_name(sd->frozen ? t : o), sd->frozen_exp,
		    plural(sd->frozen_exp), side_name(t));
	if (sd->suspect_exp > 0)
		set_brake(c, t,
		    "%s lists no messages but had %" PRIu32
		    " at the last sync; not deleting %zu message%s on %s; run "
		    "with --force-deletes if that is intended",
		    side_name(o), c->in->known_messages[o], sd->suspect_exp,
		    plural(sd->suspect_exp), side_name(t));
	if (!brake_trips(c->in, n, sd->present))
		return;
	pct = sd->present > 0 ? (size_t)((uint64_t)n * 100 / sd->present) : 100;
	set_brake(c, t,
	    "would delete %zu of %zu message%s (%zu%%) on %s; run with "
	    "--force-deletes if that is intended",
	    n, sd->present, plural(sd->present), pct, side_name(t));
	drop_expunges(c, t);
	hold(c, o);
}

/*
 * O1: order and totals.
 */

static uint32_t
op_uid(const struct plan_op *op)
{
	return op->uid[op->side] != 0 ? op->uid[op->side]
				      : op->uid[other(op->side)];
}

static int
op_cmp(const void *va, const void *vb)
{
	const struct plan_op *a = va, *b = vb;
	uint32_t ua = op_uid(a), ub = op_uid(b);

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->side != b->side)
		return a->side < b->side ? -1 : 1;
	if (ua != ub)
		return ua < ub ? -1 : 1;
	if (a->row != b->row)
		return a->row < b->row ? -1 : 1;
	if (a->uid[0] != b->uid[0])
		return a->uid[0] < b->uid[0] ? -1 : 1;
	return (a->uid[1] > b->uid[1]) - (a->uid[1] < b->uid[1]);
}

static void
finish(struct ctx *c)
{
	struct plan *p = c->p;
	size_t i;

	if (p->nops > 1)
		sort_array(p->ops, p->nops, sizeof(*p->ops), op_cmp);
	for (i = 0; i < p->nops; i++) {
		p->counts[p->ops[i].kind][p->ops[i].side]++;
		if (p->ops[i].kind == PLAN_COPY)
			p->copy_bytes[p->ops[i].side] += p->ops[i].size;
	}
}

/*
 * plan_make() and its helpers.
 */

static int
check_changes(const struct store_changes *ch, struct err *err)
{
	size_t i;

	if (ch == NULL)
		return 0;
	if (ch->nmsgs > PLAN_MAX_ITEMS || ch->nvanished > PLAN_MAX_ITEMS)
		return err_set(err, ERR_LIMIT,
		    "plan: %zu messages and %zu vanished UIDs in one folder",
		    ch->nmsgs, ch->nvanished);
	for (i = 0; i < ch->nmsgs; i++)
		if (ch->msgs[i].fp_len > STORE_FP_LEN)
			return err_set(err, ERR_LIMIT,
			    "plan: a fingerprint of %zu bytes",
			    ch->msgs[i].fp_len);
	return 0;
}

static int
check_input(const struct plan_input *in, struct err *err)
{
	size_t i;

	if (in->mode != SYNC_TWO_WAY && in->mode != SYNC_PULL &&
	    in->mode != SYNC_PUSH && in->mode != SYNC_MIRROR_PULL &&
	    in->mode != SYNC_MIRROR_PUSH)
		return err_set(err, ERR_CONFIG, "plan: unknown sync mode %d",
		    (int)in->mode);
	if (in->nrows > PLAN_MAX_ITEMS)
		return err_set(err, ERR_LIMIT,
		    "plan: %zu state rows in one "
		    "folder",
		    in->nrows);
	for (i = 0; i < in->nrows; i++)
		if (in->rows[i].fp_len > PLAN_FP_MAX)
			return err_set(err, ERR_LIMIT,
			    "plan: row %" PRId64 " has a fingerprint of %zu "
			    "bytes",
			    in->rows[i].id, in->rows[i].fp_len);
	if (check_changes(in->changes[STATE_FAR], err) < 0 ||
	    check_changes(in->changes[STATE_NEAR], err) < 0)
		return -1;
	if (in->rows_elsewhere > 0 &&
	    ((in->changes[STATE_FAR] && in->changes[STATE_FAR]->full) ||
		(in->changes[STATE_NEAR] && in->changes[STATE_NEAR]->full)))
		return err_set(err, ERR_SYS,
		    "plan: rows left out of a pass with a full listing");
	return 0;
}

static void
ctx_init(struct ctx *c, const struct plan_input *in, struct plan *p)
{
	int s;

	memset(c, 0, sizeof(*c));
	c->in = in;
	c->p = p;
	c->src = flag_source(in->mode);
	for (s = 0; s < 2; s++) {
		buf_init(&c->add[s], MEM_MAX);
		buf_init(&c->rem[s], MEM_MAX);
	}
	buf_init(&c->now, MEM_MAX);
	buf_init(&c->agreed, MEM_MAX);
	buf_init(&c->scratch, MEM_MAX);
}

static void
ctx_release(struct ctx *c)
{
	int s;

	for (s = 0; s < 2; s++) {
		struct side *sd = &c->s[s];

		free(sd->keep.perm.v);
		free(sd->msg);
		free(sd->van);
		free(sd->row_msg);
		free(sd->repair);
		free(sd->fresh);
		free(sd->taken);
		buf_release(&c->add[s]);
		buf_release(&c->rem[s]);
		free(c->cur[s].v);
	}
	free(c->base.v);
	buf_release(&c->now);
	buf_release(&c->agreed);
	buf_release(&c->scratch);
}

int
plan_make(const struct plan_input *in, struct plan *out, struct err *err)
{
	struct ctx c;
	size_t r;
	int rc = -1, s;

	memset(out, 0, sizeof(*out));
	if (check_input(in, err) < 0)
		return -1;
	out->mem = xmalloc(sizeof(*out->mem));
	arena_init(out->mem, MEM_MAX);
	ctx_init(&c, in, out);
	reserve_ops(&c);
	if (index_side(&c, STATE_FAR, err) < 0 ||
	    index_side(&c, STATE_NEAR, err) < 0)
		goto out;
	for (s = 0; s < 2; s++)
		match_repair(&c, (enum state_side)s, true);
	for (s = 0; s < 2; s++)
		match_repair(&c, (enum state_side)s, false);
	match_pair(&c);
	plan_copies(&c, STATE_FAR);
	plan_copies(&c, STATE_NEAR);
	for (r = 0; r < in->nrows; r++)
		plan_row(&c, r);
	apply_brake(&c, STATE_FAR);
	apply_brake(&c, STATE_NEAR);
	if (c.oom) {
		err_set(err, ERR_LIMIT, "plan: more than %zu bytes of flags",
		    MEM_MAX);
		goto out;
	}
	finish(&c);
	if (out->nops > 0 && out->nops < c.cap) /* held while executing */
		out->ops =
		    xreallocarray(out->ops, out->nops, sizeof(*out->ops));
	rc = 0;
out:
	ctx_release(&c);
	if (rc < 0)
		plan_free(out);
	return rc;
}

void
plan_free(struct plan *p)
{
	if (p->mem != NULL) {
		arena_release(p->mem);
		free(p->mem);
	}
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

/*
 * Printing.
 */

const char *
plan_op_name(enum plan_op_kind kind)
{
	static const char *const names[PLAN__KINDS] = {
	    [PLAN_COPY] = "copy",
	    [PLAN_PAIR] = "pair",
	    [PLAN_REPAIR] = "repair",
	    [PLAN_FLAGS] = "flags",
	    [PLAN_SET_BASE] = "set-base",
	    [PLAN_EXPUNGE] = "expunge",
	    [PLAN_FORGET_SIDE] = "forget",
	    [PLAN_DROP_ROW] = "drop",
	};

	if ((unsigned)kind >= PLAN__KINDS)
		return "?";
	return names[kind];
}

/* "120 bytes", "1.2 MB" (powers of 1000). */
static void
fmt_size(uint64_t n, char *out, size_t size)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
	double v = (double)n;
	size_t u = 0;

	if (n < 1000) {
		snprintf(out, size, "%" PRIu64 " byte%s", n, plural(n));
		return;
	}
	v /= 1000;
	while (v >= 999.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	snprintf(out, size, "%.1f %s", v, units[u]);
}

/* "near 5 (row 7) +\"\\Seen\"": row 0 names the partner instead. */
static int
print_flags(const struct plan_op *op, struct buf *out)
{
	enum state_side s = op->side, o = other(op->side);
	int rc;

	if (op->row != 0)
		rc = buf_printf(out, "%s %" PRIu32 " (row %" PRId64 ")",
		    side_name(s), op->uid[s], op->row);
	else
		rc = buf_printf(out, "%s %" PRIu32 " (with %s %" PRIu32 ")",
		    side_name(s), op->uid[s], side_name(o), op->uid[o]);
	if (rc < 0 || (*op->add && buf_printf(out, " +\"%s\"", op->add) < 0))
		return -1;
	if (*op->remove && buf_printf(out, " -\"%s\"", op->remove) < 0)
		return -1;
	return buf_putc(out, '\n');
}

static int
print_op(const struct plan_op *op, const char *folder, struct buf *out)
{
	const char *sn = side_name(op->side), *on = side_name(other(op->side));
	uint32_t u = op->uid[op->side], ou = op->uid[other(op->side)];
	char size[32];

	if (buf_printf(out, "%s: %s ", folder, plan_op_name(op->kind)) < 0)
		return -1;
	switch (op->kind) {
	case PLAN_COPY:
		fmt_size(op->size, size, sizeof(size));
		return buf_printf(out, "%s %" PRIu32 " -> %s (%s)%s%s%s\n", on,
		    ou, sn, size, *op->flags ? " \"" : "", op->flags,
		    *op->flags ? "\"" : "");
	case PLAN_PAIR:
		return buf_printf(out, "far %" PRIu32 " = near %" PRIu32 "\n",
		    op->uid[STATE_FAR], op->uid[STATE_NEAR]);
	case PLAN_FLAGS:
		return print_flags(op, out);
	case PLAN_SET_BASE:
		if (op->row == 0)
			return buf_printf(out,
			    "far %" PRIu32 " = near %" PRIu32 " \"%s\"\n",
			    op->uid[STATE_FAR], op->uid[STATE_NEAR], op->base);
		return buf_printf(
		    out, "row %" PRId64 " \"%s\"\n", op->row, op->base);
	case PLAN_REPAIR:
	case PLAN_EXPUNGE:
	case PLAN_FORGET_SIDE:
		return buf_printf(
		    out, "%s %" PRIu32 " (row %" PRId64 ")\n", sn, u, op->row);
	case PLAN_DROP_ROW:
	case PLAN__KINDS:
		break;
	}
	return buf_printf(out, "row %" PRId64 "\n", op->row);
}

static int part(struct buf *out, bool *first, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One item of the totals line, after ", " unless it is the first. */
static int
part(struct buf *out, bool *first, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (!*first && buf_puts(out, ", ") < 0)
		return -1;
	*first = false;
	va_start(ap, fmt);
	rc = buf_vprintf(out, fmt, ap);
	va_end(ap);
	return rc;
}

static int
print_totals(const struct plan *p, const char *folder, struct buf *out)
{
	static const enum plan_op_kind sided[] = {
	    PLAN_REPAIR, PLAN_FLAGS, PLAN_EXPUNGE, PLAN_FORGET_SIDE};
	bool first = true;
	char size[32];
	size_t i, n;
	int s;

	if (buf_printf(out, "%s: ", folder) < 0)
		return -1;
	for (s = STATE_NEAR; s >= STATE_FAR; s--) { /* far -> near first */
		if ((n = p->counts[PLAN_COPY][s]) == 0)
			continue;
		fmt_size(p->copy_bytes[s], size, sizeof(size));
		if (part(out, &first, "copy %zu message%s (%s) %s -> %s", n,
			plural(n), size, side_name(other((enum state_side)s)),
			side_name((enum state_side)s)) < 0)
			return -1;
	}
	if ((n = p->counts[PLAN_PAIR][0] + p->counts[PLAN_PAIR][1]) > 0 &&
	    part(out, &first, "pair %zu", n) < 0)
		return -1;
	for (i = 0; i < sizeof(sided) / sizeof(sided[0]); i++)
		for (s = 0; s < 2; s++)
			if ((n = p->counts[sided[i]][s]) > 0 &&
			    part(out, &first, "%s %zu on %s",
				plan_op_name(sided[i]), n,
				side_name((enum state_side)s)) < 0)
				return -1;
	if ((n = p->counts[PLAN_SET_BASE][0] + p->counts[PLAN_SET_BASE][1]) >
		0 &&
	    part(out, &first, "set-base %zu", n) < 0)
		return -1;
	if ((n = p->counts[PLAN_DROP_ROW][0] + p->counts[PLAN_DROP_ROW][1]) >
		0 &&
	    part(out, &first, "drop %zu", n) < 0)
		return -1;
	if (first && buf_puts(out, "nothing to do") < 0)
		return -1;
	return buf_putc(out, '\n');
}

int
plan_print(const struct plan *p, const char *folder, struct buf *out)
{
	size_t i;
	int s;

	for (i = 0; i < p->nops; i++)
		if (print_op(&p->ops[i], folder, out) < 0)
			return -1;
	for (s = 0; s < 2; s++)
		if (p->brake[s] != NULL &&
		    buf_printf(out, "%s: brake on %s: %s\n", folder,
			side_name((enum state_side)s), p->brake[s]) < 0)
			return -1;
	return print_totals(p, folder, out);
}
