/* SPDX-License-Identifier: ISC */
/*
 * test_plan.c - table tests for sync/plan.c, the pure planner: state rows
 * and change sets in, the printed plan (golden text) out.
 *
 * Each test builds its input with the tiny builders below (row(), scan(),
 * msg(), flagged(), gone(), perm()), runs plan_make() and compares what
 * plan_print() prints with the expected text.  Messages are named by a
 * fingerprint word ("A", "B", ...); a message's size is 100 times its UID.
 * Every rule of plan.c is covered in every mode where it applies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/state.h"
#include "store/store.h"
#include "sync/plan.h"
#include "tests/t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/xalloc.h"

#define FAR STATE_FAR
#define NEAR STATE_NEAR
#define MAXR 128
#define MAXM 128

/* The input under construction, and what the last run() saw. */
static struct {
	struct plan_input in;
	struct plan_row rows[MAXR];
	unsigned char rowfp[MAXR][STORE_FP_LEN];
	struct store_changes ch[2];
	struct store_msg msgs[2][MAXM];
	uint32_t van[2][MAXM];
	bool held[2];
} fx;

static const char *const mode_names[] = {
    "two-way", "pull", "push", "mirror-pull", "mirror-push"};

static void
setup(enum sync_mode mode, bool expunge)
{
	memset(&fx, 0, sizeof(fx));
	fx.in.mode = mode;
	fx.in.expunge = expunge;
	fx.in.brake_percent = 25;
	fx.in.brake_min = 10;
	fx.in.rows = fx.rows;
}

static void
fp_of(const char *name, unsigned char *fp)
{
	size_t n = strlen(name);

	memset(fp, 0, STORE_FP_LEN);
	memcpy(fp, name, n < STORE_FP_LEN ? n : STORE_FP_LEN);
}

/* A state row; fp NULL: none. */
static struct plan_row *
row(int64_t id, uint32_t far, uint32_t near, const char *flags, const char *fp)
{
	size_t i = fx.in.nrows;
	struct plan_row *r = &fx.rows[i];

	T_ASSERT(i < MAXR);
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->uid[FAR] = far;
	r->uid[NEAR] = near;
	r->flags = flags;
	r->size = 100;
	if (fp != NULL) {
		fp_of(fp, fx.rowfp[i]);
		r->fp = fx.rowfp[i];
		r->fp_len = STORE_FP_LEN;
	}
	fx.in.nrows++;
	return r;
}

/* Say that side s was scanned, in full or not. */
static struct store_changes *
scan(enum state_side s, bool full)
{
	struct store_changes *ch = &fx.ch[s];

	ch->full = full;
	ch->msgs = fx.msgs[s];
	ch->vanished = fx.van[s];
	fx.in.changes[s] = ch;
	return ch;
}

/* A report in full (a new message, or any message in a full listing). */
static struct store_msg *
msg(enum state_side s, uint32_t uid, const char *flags, const char *fp)
{
	struct store_changes *ch = &fx.ch[s];
	struct store_msg *m = &fx.msgs[s][ch->nmsgs];

	T_ASSERT(fx.in.changes[s] == ch && ch->nmsgs < MAXM);
	ch->nmsgs++;
	memset(m, 0, sizeof(*m));
	m->uid = uid;
	m->flags = flags;
	m->size = 100 * (uint64_t)uid;
	m->internaldate = 1700000000 + (int64_t)uid;
	if (fp != NULL) {
		fp_of(fp, m->fp);
		m->fp_len = STORE_FP_LEN;
	}
	return m;
}

/* A flags-only report of a known message. */
static void
flagged(enum state_side s, uint32_t uid, const char *flags)
{
	struct store_msg *m = msg(s, uid, flags, NULL);

	m->size = 0;
	m->internaldate = 0;
	m->flags_only = true;
}

static void
gone(enum state_side s, uint32_t uid)
{
	T_ASSERT(fx.in.changes[s] == &fx.ch[s] && fx.ch[s].nvanished < MAXM);
	fx.van[s][fx.ch[s].nvanished++] = uid;
}

static void
perm(enum state_side s, const char *flags, bool keywords)
{
	fx.ch[s].permflags = flags;
	fx.ch[s].perm_keywords = keywords;
}

/* Plan fx.in into *p, failing the test on error. */
static void
make(struct plan *p)
{
	struct err err = {0};

	if (plan_make(&fx.in, p, &err) < 0)
		t_fail(__FILE__, __LINE__, "plan_make: %s", err.msg);
}

/* Plan and print; the text stays valid until the next run(). */
static const char *
run(void)
{
	static char text[1 << 16];
	struct plan p;
	struct buf b;

	make(&p);
	fx.held[FAR] = p.held[FAR];
	fx.held[NEAR] = p.held[NEAR];
	buf_init(&b, sizeof(text) - 1);
	if (plan_print(&p, "F", &b) < 0)
		t_fail(__FILE__, __LINE__, "plan_print: too long");
	memcpy(text, b.data, b.len + 1);
	buf_release(&b);
	plan_free(&p);
	return text;
}

/* Compare with a golden text, naming the mode on failure. */
#define EXPECT(want)                                                       \
	do {                                                               \
		const char *got_ = run(), *want_ = (want);                 \
		if (strcmp(got_, want_) != 0)                              \
			t_fail(__FILE__, __LINE__,                         \
			    "%s%s:\n--- got\n%s--- want\n%s",              \
			    mode_names[fx.in.mode],                        \
			    fx.in.expunge ? " expunge" : "", got_, want_); \
	} while (0)

#define NOTHING "F: nothing to do\n"

/*
 * N4: a first run copies everything in the directions the mode allows.
 */

static void
first_run_input(enum sync_mode mode)
{
	setup(mode, true);
	scan(FAR, true);
	msg(FAR, 2, "", "B");
	msg(FAR, 1, "\\Seen", "A");
	scan(NEAR, true);
	msg(NEAR, 1, "\\Flagged", "C");
}

static void
test_first_run_copies(void)
{
	static const char pull[] =
	    "F: copy far 1 -> near (100 bytes) \"\\Seen\"\n"
	    "F: copy far 2 -> near (200 bytes)\n"
	    "F: copy 2 messages (300 bytes) far -> near\n";
	static const char push[] =
	    "F: copy near 1 -> far (100 bytes) \"\\Flagged\"\n"
	    "F: copy 1 message (100 bytes) near -> far\n";
	static const char two_way[] =
	    "F: copy near 1 -> far (100 bytes) \"\\Flagged\"\n"
	    "F: copy far 1 -> near (100 bytes) \"\\Seen\"\n"
	    "F: copy far 2 -> near (200 bytes)\n"
	    "F: copy 2 messages (300 bytes) far -> near, "
	    "copy 1 message (100 bytes) near -> far\n";
	static const char *const want[] = {two_way, pull, push, pull, push};
	int m;

	for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++) {
		first_run_input((enum sync_mode)m);
		EXPECT(want[m]);
	}
}

/* A copy carries what the executor records and appends with. */
static void
test_copy_carries_message(void)
{
	struct plan p;
	struct store_msg *m;
	unsigned char fp[STORE_FP_LEN];

	setup(SYNC_PULL, false);
	scan(FAR, false);
	m = msg(FAR, 7, "$Label \\Seen", "A");
	m->objid = "EMAIL-7";
	scan(NEAR, false);
	perm(NEAR, "\\Seen \\Flagged", false);
	make(&p);
	T_EQ_INT(p.nops, 1);
	T_EQ_INT(p.ops[0].kind, PLAN_COPY);
	T_EQ_INT(p.ops[0].side, NEAR);
	T_EQ_INT(p.ops[0].row, 0);
	T_EQ_INT(p.ops[0].uid[FAR], 7);
	T_EQ_INT(p.ops[0].uid[NEAR], 0);
	T_EQ_STR(p.ops[0].flags, "\\Seen");
	T_EQ_STR(p.ops[0].base, "\\Seen");
	T_EQ_STR(p.ops[0].objid[FAR], "EMAIL-7");
	T_ASSERT(p.ops[0].objid[NEAR] == NULL);
	T_EQ_INT(p.ops[0].size, 700);
	T_EQ_INT(p.ops[0].internaldate, 1700000007);
	fp_of("A", fp);
	T_EQ_MEM(p.ops[0].fp, p.ops[0].fp_len, fp, sizeof(fp));
	T_EQ_INT(p.counts[PLAN_COPY][NEAR], 1);
	T_EQ_INT(p.copy_bytes[NEAR], 700);
	T_EQ_INT(p.copy_bytes[FAR], 0);
	plan_free(&p);
	plan_free(&p); /* a freed plan is zeroed */
}

/*
 * A second run with nothing changed plans nothing, whatever was scanned.
 */

static void
unchanged_rows(void)
{
	row(1, 1, 1, "\\Seen", "A");
	row(2, 2, 5, "", "B");
	row(3, 3, 6, "$Work \\Flagged", "C");
}

static void
test_second_run_plans_nothing(void)
{
	int m, x, how;

	for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++)
		for (x = 0; x < 2; x++)
			for (how = 0; how < 3; how++) {
				setup((enum sync_mode)m, x);
				unchanged_rows();
				if (how == 1) { /* incremental, nothing new */
					scan(FAR, false);
					scan(NEAR, false);
				} else if (how == 2) { /* full listings */
					scan(FAR, true);
					msg(FAR, 1, "\\Seen", "A");
					flagged(FAR, 2, "");
					flagged(FAR, 3, "$Work \\Flagged");
					scan(NEAR, true);
					flagged(NEAR, 1, "\\Seen");
					flagged(NEAR, 5, "");
					msg(NEAR, 6, "$Work \\Flagged", "C");
				}
				EXPECT(NOTHING);
			}
}

/*
 * N3: pairing instead of copying.
 */

static void
test_populated_destination_pairs(void)
{
	static const char pull[] = "F: copy far 3 -> near (300 bytes)\n"
				   "F: pair far 1 = near 8\n"
				   "F: pair far 2 = near 7\n"
				   "F: copy 1 message (300 bytes) far -> near, "
				   "pair 2\n";
	static const char push[] = "F: copy near 9 -> far (900 bytes)\n"
				   "F: pair far 1 = near 8\n"
				   "F: pair far 2 = near 7\n"
				   "F: copy 1 message (900 bytes) near -> far, "
				   "pair 2\n";
	static const char two_way[] =
	    "F: copy near 9 -> far (900 bytes)\n"
	    "F: copy far 3 -> near (300 bytes)\n"
	    "F: pair far 1 = near 8\n"
	    "F: pair far 2 = near 7\n"
	    "F: copy 1 message (300 bytes) far -> near, "
	    "copy 1 message (900 bytes) near -> far, pair 2\n";
	static const char *const want[] = {two_way, pull, push, pull, push};
	int m;

	for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++) {
		setup((enum sync_mode)m, true);
		scan(FAR, true);
		msg(FAR, 1, "\\Seen", "A");
		msg(FAR, 2, "", "B");
		msg(FAR, 3, "", "C");
		scan(NEAR, true);
		msg(NEAR, 9, "", "D");
		msg(NEAR, 8, "\\Seen", "A");
		msg(NEAR, 7, "", "B");
		EXPECT(want[m]);
	}
}

/* The state was lost: everything pairs, nothing is copied. */
static void
test_lost_state_pairs_everything(void)
{
	int m;

	for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++) {
		setup((enum sync_mode)m, true);
		scan(FAR, true);
		msg(FAR, 1, "\\Seen", "A");
		msg(FAR, 2, "\\Seen", "B");
		scan(NEAR, true);
		msg(NEAR, 1, "\\Seen", "B");
		msg(NEAR, 2, "\\Seen", "A");
		EXPECT("F: pair far 1 = near 2\n"
		       "F: pair far 2 = near 1\n"
		       "F: pair 2\n");
	}
}

/* A copy that landed before a crash is found, not made again. */
static void
test_resumed_copy_pairs(void)
{
	setup(SYNC_TWO_WAY, true);
	row(1, 1, 1, "", "A");
	scan(FAR, false);
	msg(FAR, 2, "\\Seen", "B");
	scan(NEAR, false);
	msg(NEAR, 5, "\\Seen", "B");
	EXPECT("F: pair far 2 = near 5\n"
	       "F: pair 1\n");
}

static void
test_duplicates_pair_one_to_one(void)
{
	static const char want[] = "F: copy far 3 -> near (300 bytes)\n"
				   "F: pair far 1 = near 5\n"
				   "F: pair far 2 = near 6\n"
				   "F: copy 1 message (300 bytes) far -> near, "
				   "pair 2\n";

	setup(SYNC_TWO_WAY, false);
	scan(FAR, true);
	msg(FAR, 3, "", "A");
	msg(FAR, 1, "", "A");
	msg(FAR, 2, "", "A");
	scan(NEAR, true);
	msg(NEAR, 6, "", "A");
	msg(NEAR, 5, "", "A");
	EXPECT(want);
	/* the other way round: the third one goes near -> far */
	setup(SYNC_TWO_WAY, false);
	scan(FAR, true);
	msg(FAR, 4, "", "A");
	scan(NEAR, true);
	msg(NEAR, 6, "", "A");
	msg(NEAR, 5, "", "A");
	EXPECT("F: copy near 6 -> far (600 bytes)\n"
	       "F: pair far 4 = near 5\n"
	       "F: copy 1 message (600 bytes) near -> far, pair 1\n");
}

/* Modes that do not copy a side's new messages still pair them. */
static void
test_pairs_against_uncopied_side(void)
{
	setup(SYNC_PULL, true);
	scan(FAR, true);
	msg(FAR, 1, "", "A");
	scan(NEAR, true);
	msg(NEAR, 5, "", "A");
	msg(NEAR, 6, "", "X"); /* near's own: pull leaves it alone */
	EXPECT("F: pair far 1 = near 5\n"
	       "F: pair 1\n");
	setup(SYNC_PUSH, true);
	scan(FAR, true);
	msg(FAR, 1, "", "A");
	msg(FAR, 2, "", "X");
	scan(NEAR, true);
	msg(NEAR, 5, "", "A");
	EXPECT("F: pair far 1 = near 5\n"
	       "F: pair 1\n");
}

/* Object ids are never compared across sides; no fingerprint, no pair. */
static void
test_pair_needs_fingerprint(void)
{
	struct store_msg *m;

	setup(SYNC_TWO_WAY, false);
	scan(FAR, true);
	m = msg(FAR, 1, "", NULL);
	m->objid = "ID1";
	scan(NEAR, true);
	m = msg(NEAR, 1, "", "B");
	m->objid = "ID1";
	EXPECT("F: copy near 1 -> far (100 bytes)\n"
	       "F: copy far 1 -> near (100 bytes)\n"
	       "F: copy 1 message (100 bytes) far -> near, "
	       "copy 1 message (100 bytes) near -> far\n");
}

/* F4 for pairs: the shared flags first, then the merge. */
static void
test_pair_merges_flags(void)
{
	struct plan p;

	setup(SYNC_TWO_WAY, false);
	scan(FAR, true);
	msg(FAR, 1, "\\Answered \\Seen", "A")->objid = "F1";
	scan(NEAR, true);
	msg(NEAR, 5, "\\Flagged \\Seen", "A")->objid = "N5";
	EXPECT("F: pair far 1 = near 5\n"
	       "F: flags far 1 (with near 5) +\"\\Flagged\"\n"
	       "F: flags near 5 (with far 1) +\"\\Answered\"\n"
	       "F: set-base far 1 = near 5 \"\\Answered \\Flagged \\Seen\"\n"
	       "F: pair 1, flags 1 on far, flags 1 on near, set-base 1\n");
	make(&p);
	T_EQ_INT(p.ops[0].kind, PLAN_PAIR);
	T_EQ_STR(p.ops[0].base, "\\Seen");
	T_EQ_STR(p.ops[0].objid[FAR], "F1");
	T_EQ_STR(p.ops[0].objid[NEAR], "N5");
	T_EQ_INT(p.ops[0].size, 100);
	T_EQ_INT(p.ops[0].fp_len, STORE_FP_LEN);
	plan_free(&p);
	fx.in.mode = SYNC_PULL;
	EXPECT("F: pair far 1 = near 5\n"
	       "F: flags near 5 (with far 1) +\"\\Answered\" -\"\\Flagged\"\n"
	       "F: set-base far 1 = near 5 \"\\Answered \\Seen\"\n"
	       "F: pair 1, flags 1 on near, set-base 1\n");
	fx.in.mode = SYNC_MIRROR_PUSH;
	EXPECT("F: pair far 1 = near 5\n"
	       "F: flags far 1 (with near 5) +\"\\Flagged\" -\"\\Answered\"\n"
	       "F: set-base far 1 = near 5 \"\\Flagged \\Seen\"\n"
	       "F: pair 1, flags 1 on far, set-base 1\n");
}

/*
 * F1-F4: flags.
 */

static void
test_flags_merge_two_way(void)
{
	setup(SYNC_TWO_WAY, true);
	scan(FAR, false);
	scan(NEAR, false);
	/* added on far, removed on near */
	row(1, 1, 1, "\\Seen", "A");
	flagged(FAR, 1, "\\Flagged \\Seen");
	flagged(NEAR, 1, "");
	/* added on both */
	row(2, 2, 2, "", "B");
	flagged(FAR, 2, "\\Seen");
	flagged(NEAR, 2, "\\Seen");
	/* added on near only (reported out of order), far not reported */
	row(3, 3, 3, "\\Seen", "C");
	flagged(NEAR, 3, "\\Seen \\Answered");
	/* reported, unchanged */
	row(4, 4, 4, "\\Seen", "D");
	flagged(FAR, 4, "\\Seen");
	/* removed on far, added on near, a keyword kept by both */
	row(5, 5, 5, "$Work \\Seen", "E");
	flagged(FAR, 5, "$Work");
	flagged(NEAR, 5, "$Work \\Flagged \\Seen");
	EXPECT("F: flags far 1 (row 1) -\"\\Seen\"\n"
	       "F: flags far 3 (row 3) +\"\\Answered\"\n"
	       "F: flags far 5 (row 5) +\"\\Flagged\"\n"
	       "F: flags near 1 (row 1) +\"\\Flagged\"\n"
	       "F: flags near 5 (row 5) -\"\\Seen\"\n"
	       "F: set-base row 1 \"\\Flagged\"\n"
	       "F: set-base row 2 \"\\Seen\"\n"
	       "F: set-base row 3 \"\\Answered \\Seen\"\n"
	       "F: set-base row 5 \"$Work \\Flagged\"\n"
	       "F: flags 3 on far, flags 2 on near, set-base 4\n");
}

/* Both sides cleared a flag, or one side set it and the other cleared it
 * from the base: each is one change against one base, never a conflict. */
static void
test_flags_merge_is_per_flag(void)
{
	setup(SYNC_TWO_WAY, false);
	scan(FAR, true);
	scan(NEAR, true);
	row(1, 1, 1, "\\Flagged \\Seen", "A");
	flagged(FAR, 1, "\\Answered \\Flagged"); /* -Seen +Answered */
	flagged(NEAR, 1, "\\Seen"); /* -Flagged */
	EXPECT("F: flags far 1 (row 1) -\"\\Flagged\"\n"
	       "F: flags near 1 (row 1) +\"\\Answered\" -\"\\Seen\"\n"
	       "F: set-base row 1 \"\\Answered\"\n"
	       "F: flags 1 on far, flags 1 on near, set-base 1\n");
}

static void
one_way_input(enum sync_mode mode)
{
	setup(mode, false);
	scan(FAR, false);
	scan(NEAR, false);
	row(1, 1, 1, "\\Seen", "A");
	flagged(FAR, 1, "");
	flagged(NEAR, 1, "\\Flagged \\Seen");
	row(2, 2, 2, "\\Seen", "B");
	flagged(NEAR, 2, "");
}

static void
test_flags_one_way_source_wins(void)
{
	static const char pull[] =
	    "F: flags near 1 (row 1) -\"\\Flagged \\Seen\"\n"
	    "F: flags near 2 (row 2) +\"\\Seen\"\n"
	    "F: set-base row 1 \"\"\n"
	    "F: flags 2 on near, set-base 1\n";
	static const char push[] =
	    "F: flags far 1 (row 1) +\"\\Flagged \\Seen\"\n"
	    "F: flags far 2 (row 2) -\"\\Seen\"\n"
	    "F: set-base row 1 \"\\Flagged \\Seen\"\n"
	    "F: set-base row 2 \"\"\n"
	    "F: flags 2 on far, set-base 2\n";
	static const char *const want[] = {NULL, pull, push, pull, push};
	int m;

	for (m = SYNC_PULL; m <= SYNC_MIRROR_PUSH; m++) {
		one_way_input((enum sync_mode)m);
		EXPECT(want[m]);
	}
}

/*
 * F3: a flag the destination cannot keep causes no op, run after run.
 */

static void
test_permflags_exclusion(void)
{
	static const char *const sys = "\\Answered \\Deleted \\Draft "
				       "\\Flagged \\Seen";
	int i;

	/* first run: the copy leaves $Label out, and records that */
	setup(SYNC_TWO_WAY, true);
	scan(FAR, true);
	msg(FAR, 1, "$Label \\Seen", "A");
	scan(NEAR, true);
	perm(NEAR, sys, false);
	EXPECT("F: copy far 1 -> near (100 bytes) \"\\Seen\"\n"
	       "F: copy 1 message (100 bytes) far -> near\n");
	/* the runs after it: nothing, twice */
	for (i = 0; i < 2; i++) {
		setup(SYNC_TWO_WAY, true);
		row(1, 1, 7, "\\Seen", "A");
		scan(FAR, true);
		msg(FAR, 1, "$Label \\Seen", "A");
		scan(NEAR, true);
		flagged(NEAR, 7, "\\Seen");
		perm(NEAR, sys, false);
		EXPECT(NOTHING);
	}
	/* an old base holding it is corrected once, then nothing */
	fx.rows[0].flags = "$Label \\Seen";
	EXPECT("F: set-base row 1 \"\\Seen\"\n"
	       "F: set-base 1\n");
	fx.rows[0].flags = "\\Seen";
	EXPECT(NOTHING);
	/* near keeps \Seen only (any case): \Flagged stays on far alone */
	perm(NEAR, "\\SEEN", false);
	fx.msgs[FAR][0].flags = "$Label \\Flagged \\Seen";
	EXPECT(NOTHING);
	/* once near can keep them, they go there */
	perm(NEAR, sys, true);
	EXPECT("F: flags near 7 (row 1) +\"$Label \\Flagged\"\n"
	       "F: set-base row 1 \"$Label \\Flagged \\Seen\"\n"
	       "F: flags 1 on near, set-base 1\n");
	/* a removal on near counts only where near can keep the flag */
	fx.msgs[NEAR][0].flags = "";
	perm(NEAR, "\\SEEN", false);
	EXPECT("F: flags far 1 (row 1) -\"\\Seen\"\n"
	       "F: set-base row 1 \"\"\n"
	       "F: flags 1 on far, set-base 1\n");
	/* near keeps \Flagged only: it gets far's, and the base what both
	 * hold */
	perm(NEAR, "\\Flagged", false);
	EXPECT("F: flags near 7 (row 1) +\"\\Flagged\"\n"
	       "F: set-base row 1 \"\\Flagged\"\n"
	       "F: flags 1 on near, set-base 1\n");
}

/* The same through "\*" in PERMANENTFLAGS, and in one-way modes. */
static void
test_permflags_one_way(void)
{
	static const char *const sys = "\\Answered \\Deleted \\Draft "
				       "\\Flagged \\Seen";
	int i;

	for (i = 0; i < 2; i++) {
		setup(i == 0 ? SYNC_PULL : SYNC_MIRROR_PULL, true);
		row(1, 1, 7, "\\Seen", "A");
		scan(FAR, true);
		msg(FAR, 1, "$Label \\Seen", "A");
		scan(NEAR, true);
		flagged(NEAR, 7, "\\Seen");
		perm(NEAR, sys, false);
		EXPECT(NOTHING);
		EXPECT(NOTHING);
		perm(NEAR, "\\* \\Seen", false);
		EXPECT("F: flags near 7 (row 1) +\"$Label\"\n"
		       "F: set-base row 1 \"$Label \\Seen\"\n"
		       "F: flags 1 on near, set-base 1\n");
	}
	/* push: far cannot keep near's keyword */
	setup(SYNC_PUSH, true);
	row(1, 1, 7, "\\Seen", "A");
	scan(FAR, true);
	flagged(FAR, 1, "\\Seen");
	perm(FAR, sys, false);
	scan(NEAR, true);
	flagged(NEAR, 7, "$Label \\Seen");
	EXPECT(NOTHING);
	/* pull, the source cannot keep a keyword: near keeps its own */
	setup(SYNC_PULL, true);
	row(1, 1, 7, "\\Seen", "A");
	scan(FAR, true);
	flagged(FAR, 1, "\\Seen");
	perm(FAR, sys, false);
	scan(NEAR, true);
	flagged(NEAR, 7, "$Label \\Seen");
	EXPECT(NOTHING);
}

/*
 * D1-D3: deletions in each mode, with and without expunge.
 */

static void
deletion_input(enum sync_mode mode, bool expunge, bool full)
{
	uint32_t u;

	setup(mode, expunge);
	for (u = 1; u <= 10; u++)
		row(u, u, u, "", NULL);
	scan(FAR, full);
	scan(NEAR, full);
	if (!full) {
		gone(FAR, 1); /* row 1: gone from far */
		gone(NEAR, 2); /* row 2: gone from near */
		gone(FAR, 3); /* row 3: gone from both */
		gone(NEAR, 3);
		return;
	}
	for (u = 1; u <= 10; u++) {
		if (u != 1 && u != 3)
			flagged(FAR, u, "");
		if (u != 2 && u != 3)
			flagged(NEAR, u, "");
	}
}

static void
test_deletions_each_mode(void)
{
	static const char forget[] = "F: forget far 1 (row 1)\n"
				     "F: forget near 2 (row 2)\n"
				     "F: drop row 3\n"
				     "F: forget 1 on far, forget 1 on near, "
				     "drop 1\n";
	static const char two_way[] = "F: expunge far 2 (row 2)\n"
				      "F: expunge near 1 (row 1)\n"
				      "F: drop row 3\n"
				      "F: expunge 1 on far, expunge 1 on near, "
				      "drop 1\n";
	static const char mirror_pull[] = "F: expunge near 1 (row 1)\n"
					  "F: forget near 2 (row 2)\n"
					  "F: drop row 3\n"
					  "F: expunge 1 on near, forget 1 on "
					  "near, drop 1\n";
	static const char mirror_push[] = "F: expunge far 2 (row 2)\n"
					  "F: forget far 1 (row 1)\n"
					  "F: drop row 3\n"
					  "F: expunge 1 on far, forget 1 on "
					  "far, drop 1\n";
	static const char *const with[] = {
	    two_way, forget, forget, mirror_pull, mirror_push};
	int m, full;

	for (full = 0; full < 2; full++)
		for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++) {
			deletion_input((enum sync_mode)m, false, full);
			EXPECT(forget);
			T_ASSERT(!fx.held[FAR] && !fx.held[NEAR]);
			deletion_input((enum sync_mode)m, true, full);
			EXPECT(with[m]);
			T_ASSERT(!fx.held[FAR] && !fx.held[NEAR]);
		}
}

/* D3: a row known on one side only whose message is gone there. */
static void
test_orphan_rows_drop(void)
{
	int m;

	for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++) {
		setup((enum sync_mode)m, true);
		row(1, 0, 4, "", "A");
		row(2, 5, 0, "", "B");
		row(3, 6, 0, "", "C"); /* still there: waits */
		row(4, 0, 0, "", "D"); /* never valid */
		scan(FAR, false);
		gone(FAR, 5);
		scan(NEAR, true);
		EXPECT("F: drop row 4\n"
		       "F: drop row 2\n"
		       "F: drop row 1\n"
		       "F: drop 3\n");
	}
}

/*
 * P2: deletion evidence must be positive.
 */

static void
test_positive_evidence_only(void)
{
	int m;

	for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++) {
		/* not scanned */
		setup((enum sync_mode)m, true);
		unchanged_rows();
		scan(NEAR, false);
		flagged(NEAR, 1, "\\Seen");
		EXPECT(NOTHING);
		/* incremental and silent about rows 2 and 3 */
		setup((enum sync_mode)m, true);
		unchanged_rows();
		scan(FAR, false);
		msg(FAR, 1, "\\Seen", "A");
		scan(NEAR, false);
		EXPECT(NOTHING);
	}
	/* vanished wins over a report of the same UID */
	setup(SYNC_TWO_WAY, false);
	unchanged_rows();
	scan(FAR, false);
	flagged(FAR, 1, "\\Flagged");
	gone(FAR, 1);
	EXPECT("F: forget far 1 (row 1)\n"
	       "F: forget 1 on far\n");
	/* a vanished new message is not new */
	setup(SYNC_TWO_WAY, false);
	scan(FAR, false);
	msg(FAR, 9, "", "Z");
	gone(FAR, 9);
	EXPECT(NOTHING);
}

/* N1: flags-only reports nobody knows are left alone; repeats count once. */
static void
test_reports_odd_cases(void)
{
	setup(SYNC_TWO_WAY, true);
	scan(NEAR, false);
	flagged(NEAR, 9, "\\Seen");
	EXPECT(NOTHING);
	setup(SYNC_TWO_WAY, true);
	row(1, 1, 1, "", "A");
	scan(FAR, false);
	flagged(FAR, 1, "\\Flagged");
	flagged(FAR, 1, "\\Seen"); /* the later report wins */
	EXPECT("F: flags near 1 (row 1) +\"\\Seen\"\n"
	       "F: set-base row 1 \"\\Seen\"\n"
	       "F: flags 1 on near, set-base 1\n");
}

/*
 * D5, D6: the deletion brake.
 */

/* n rows; the first k gone from far; two-way with expunge. */
static void
brake_input(uint32_t n, uint32_t k)
{
	uint32_t u;

	setup(SYNC_TWO_WAY, true);
	for (u = 1; u <= n; u++)
		row(u, u, u, "", NULL);
	scan(FAR, false);
	for (u = 1; u <= k; u++)
		gone(FAR, u);
}

/* The golden text of k expunges on near, from row 1. */
static const char *
expunges(uint32_t k)
{
	static char text[4096];
	size_t len = 0;
	uint32_t u;

	for (u = 1; u <= k; u++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "F: expunge near %u (row %u)\n", u, u);
	snprintf(text + len, sizeof(text) - len, "F: expunge %u on near\n", k);
	return text;
}

static void
test_brake_thresholds(void)
{
	brake_input(50, 40);
	EXPECT("F: brake on near: would delete 40 of 50 messages (80%) on "
	       "near; run with --force-deletes if that is intended\n" NOTHING);
	T_ASSERT(fx.held[FAR] && !fx.held[NEAR]);
	brake_input(50, 5);
	EXPECT(expunges(5));
	T_ASSERT(!fx.held[FAR]);
	brake_input(20, 11);
	EXPECT("F: brake on near: would delete 11 of 20 messages (55%) on "
	       "near; run with --force-deletes if that is intended\n" NOTHING);
	brake_input(20, 10); /* 50 %, but not more than 10 */
	EXPECT(expunges(10));
	brake_input(3, 3);
	EXPECT("F: brake on near: would delete 3 of 3 messages (100%) on "
	       "near; run with --force-deletes if that is intended\n" NOTHING);
	brake_input(1, 1);
	EXPECT("F: brake on near: would delete 1 of 1 message (100%) on "
	       "near; run with --force-deletes if that is intended\n" NOTHING);
	brake_input(50, 40);
	fx.in.force_deletes = true;
	EXPECT(expunges(40));
	T_ASSERT(!fx.held[FAR]);
	brake_input(50, 40);
	fx.in.brake_percent = 90;
	EXPECT(expunges(40));
}

/*
 * Rows the caller left out because nothing of theirs changed are
 * present on both sides: they count for the brake as if loaded.
 */
static void
test_brake_rows_elsewhere(void)
{
	struct err err = {0};
	struct plan p;
	uint32_t u;

	/* 12 of 50 loaded, 11 of them gone: 22 %, under 25 %. */
	setup(SYNC_TWO_WAY, true);
	for (u = 1; u <= 12; u++)
		row(u, u, u, "", NULL);
	fx.in.rows_elsewhere = 38;
	scan(FAR, false);
	for (u = 1; u <= 11; u++)
		gone(FAR, u);
	EXPECT(expunges(11));
	/* The same rows alone would be 11 of 12. */
	fx.in.rows_elsewhere = 0;
	EXPECT("F: brake on near: would delete 11 of 12 messages (91%) on "
	       "near; run with --force-deletes if that is intended\n" NOTHING);
	/* A full listing needs every row: its absences are deletions. */
	setup(SYNC_TWO_WAY, true);
	row(1, 1, 1, "", NULL);
	fx.in.rows_elsewhere = 5;
	scan(FAR, true);
	T_EQ_INT(plan_make(&fx.in, &p, &err), -1);
	T_EQ_INT(err.kind, ERR_SYS);
	plan_free(&p);
}

/* Copies and flags go ahead; the braked rows are not touched either. */
static void
test_brake_keeps_the_rest(void)
{
	brake_input(50, 40);
	row(51, 51, 0, "", NULL); /* gone too, but not braked: dropped */
	gone(FAR, 51);
	flagged(FAR, 45, "\\Seen");
	msg(FAR, 100, "", "Z");
	EXPECT("F: copy far 100 -> near (10.0 kB)\n"
	       "F: flags near 45 (row 45) +\"\\Seen\"\n"
	       "F: set-base row 45 \"\\Seen\"\n"
	       "F: drop row 51\n"
	       "F: brake on near: would delete 40 of 50 messages (80%) on "
	       "near; run with --force-deletes if that is intended\n"
	       "F: copy 1 message (10.0 kB) far -> near, flags 1 on near, "
	       "set-base 1, drop 1\n");
}

/* A wiped or unmounted near: the side to protect is far. */
static void
wiped_input(enum sync_mode mode, bool expunge)
{
	uint32_t u;

	setup(mode, expunge);
	for (u = 1; u <= 50; u++)
		row(u, u, u + 100, "", NULL);
	fx.in.known_messages[FAR] = 50;
	fx.in.known_messages[NEAR] = 50;
	scan(FAR, false);
	msg(FAR, 60, "", "Z");
	scan(NEAR, true);
}

static void
test_brake_empty_listing(void)
{
	struct plan p;
	int m;

	wiped_input(SYNC_TWO_WAY, true);
	EXPECT("F: copy far 60 -> near (6.0 kB)\n"
	       "F: brake on far: near lists no messages but had 50 at the "
	       "last sync; not deleting 50 messages on far; run with "
	       "--force-deletes if that is intended\n"
	       "F: copy 1 message (6.0 kB) far -> near\n");
	T_ASSERT(fx.held[NEAR] && !fx.held[FAR]);
	/* gone from far as well: still not dropped (near may come back) */
	gone(FAR, 5);
	fx.ch[FAR].nmsgs = 0;
	EXPECT("F: brake on far: near lists no messages but had 50 at the "
	       "last sync; not deleting 49 messages on far; run with "
	       "--force-deletes if that is intended\n" NOTHING);
	T_ASSERT(fx.held[NEAR] && fx.held[FAR]);
	/* no mode forgets or drops the rows either */
	for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++) {
		wiped_input((enum sync_mode)m, false);
		fx.ch[FAR].nmsgs = 0;
		EXPECT(NOTHING);
		T_ASSERT(fx.held[NEAR]);
	}
	/* unless forced */
	wiped_input(SYNC_TWO_WAY, true);
	fx.in.force_deletes = true;
	make(&p);
	T_EQ_INT(p.counts[PLAN_EXPUNGE][FAR], 50);
	T_EQ_INT(p.counts[PLAN_COPY][NEAR], 1);
	T_EQ_INT(p.nops, 51);
	T_ASSERT(p.brake[FAR] == NULL && p.brake[NEAR] == NULL);
	plan_free(&p);
	/* an empty listing where the state saw nothing is just empty */
	wiped_input(SYNC_PULL, false);
	fx.in.known_messages[NEAR] = 0;
	fx.ch[FAR].nmsgs = 0;
	make(&p);
	T_EQ_INT(p.counts[PLAN_FORGET_SIDE][NEAR], 50);
	plan_free(&p);
}

/*
 * N2, D4: UIDVALIDITY changes.
 */

static void
test_uidvalidity_repairs(void)
{
#define REPAIRS                       \
	"F: repair far 101 (row 1)\n" \
	"F: repair far 102 (row 2)\n" \
	"F: repair far 105 (row 4)\n"
#define BRAKE                                                        \
	"F: brake on far: UIDVALIDITY changed on far: not deleting " \
	"1 message on far in this pass\n"
	static const char two_way[] =
	    "F: copy far 103 -> near (10.3 kB)\n" REPAIRS
	    "F: drop row 3\n" BRAKE
	    "F: copy 1 message (10.3 kB) far -> near, repair 3 on far, "
	    "drop 1\n";
	static const char pull[] =
	    "F: copy far 103 -> near (10.3 kB)\n" REPAIRS
	    "F: forget near 14 (row 4)\n"
	    "F: drop row 3\n"
	    "F: copy 1 message (10.3 kB) far -> near, "
	    "repair 3 on far, forget 1 on near, drop 1\n";
	static const char push[] = REPAIRS "F: forget near 14 (row 4)\n"
					   "F: drop row 3\n"
					   "F: repair 3 on far, forget 1 on "
					   "near, drop 1\n";
	static const char mirror_push[] =
	    REPAIRS "F: drop row 3\n" BRAKE "F: repair 3 on far, drop 1\n";
	static const char *const want[] = {
	    two_way, pull, push, pull, mirror_push};
	int m;
#undef REPAIRS
#undef BRAKE

	for (m = SYNC_TWO_WAY; m <= SYNC_MIRROR_PUSH; m++) {
		setup((enum sync_mode)m, true);
		fx.in.uidvalidity_changed[FAR] = true;
		row(1, 0, 11, "\\Seen", "A")->objid[FAR] = "X1";
		row(2, 0, 12, "", "B");
		row(3, 0, 13, "", "C"); /* not found again, gone from near */
		row(4, 0, 14, "", "E"); /* found again, gone from near */
		row(5, 0, 15, "", "G"); /* not found again */
		scan(FAR, true);
		msg(FAR, 101, "\\Seen", "Z")->objid = "X1"; /* by objid */
		msg(FAR, 103, "", "A"); /* A's fp, but row 1 is taken */
		msg(FAR, 102, "", "B"); /* by fingerprint */
		msg(FAR, 105, "", "E");
		scan(NEAR, false);
		gone(NEAR, 13);
		gone(NEAR, 14);
		EXPECT(want[m]);
	}
}

/* Re-paired rows merge flags; the freeze holds even when forced. */
static void
test_uidvalidity_freeze(void)
{
	struct plan p;
	uint32_t u;

	setup(SYNC_TWO_WAY, true);
	fx.in.force_deletes = true;
	fx.in.uidvalidity_changed[NEAR] = true;
	row(1, 1, 0, "\\Seen", "A");
	row(2, 2, 0, "", "B");
	scan(FAR, false);
	gone(FAR, 2);
	scan(NEAR, true);
	msg(NEAR, 21, "\\Flagged \\Seen", "A")->objid = "N21";
	msg(NEAR, 22, "", "B");
	EXPECT("F: repair near 21 (row 1)\n"
	       "F: repair near 22 (row 2)\n"
	       "F: flags far 1 (row 1) +\"\\Flagged\"\n"
	       "F: set-base row 1 \"\\Flagged \\Seen\"\n"
	       "F: brake on near: UIDVALIDITY changed on near: not deleting "
	       "1 message on near in this pass\n"
	       "F: repair 2 on near, flags 1 on far, set-base 1\n");
	T_ASSERT(fx.held[FAR] && !fx.held[NEAR]);
	make(&p);
	T_EQ_INT(p.ops[0].kind, PLAN_REPAIR);
	T_EQ_INT(p.ops[0].uid[NEAR], 21);
	T_EQ_INT(p.ops[0].uid[FAR], 1);
	T_EQ_STR(p.ops[0].objid[NEAR], "N21");
	T_ASSERT(p.ops[1].objid[NEAR] == NULL);
	plan_free(&p);
	/* a UID the caller did not reset: its absence is no evidence */
	setup(SYNC_TWO_WAY, true);
	fx.in.uidvalidity_changed[FAR] = true;
	scan(FAR, true);
	row(1, 5, 15, "", "A");
	for (u = 2; u <= 10; u++) {
		row(u, u + 10, u + 20, "", NULL);
		flagged(FAR, u + 10, "");
	}
	EXPECT("F: brake on near: UIDVALIDITY changed on far: not deleting "
	       "1 message on near in this pass\n" NOTHING);
	T_ASSERT(fx.held[FAR]);
	/* the pass after: deletions flow again */
	fx.in.uidvalidity_changed[FAR] = false;
	EXPECT("F: expunge near 15 (row 1)\n"
	       "F: expunge 1 on near\n");
}

/* N2 outside a UIDVALIDITY change: a forgotten side is found again. */
static void
test_repair_after_forget(void)
{
	setup(SYNC_PULL, true);
	row(1, 1, 0, "\\Seen", "A");
	scan(NEAR, false);
	msg(NEAR, 7, "\\Seen", "A");
	EXPECT("F: repair near 7 (row 1)\n"
	       "F: repair 1 on near\n");
}

/*
 * Input checks, printing, order and size.
 */

static void
test_errors(void)
{
	struct plan p;
	struct err err = {0};

	setup(SYNC_TWO_WAY, true);
	row(1, 1, 1, "", "A");
	row(2, 2, 1, "", "B");
	T_EQ_INT(plan_make(&fx.in, &p, &err), -1);
	T_EQ_INT(err.kind, ERR_BOX);
	T_ASSERT(strstr(err.msg, "near UID 1") != NULL);
	T_ASSERT(p.ops == NULL && p.nops == 0);
	plan_free(&p);
	setup((enum sync_mode)99, true);
	T_EQ_INT(plan_make(&fx.in, &p, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	setup(SYNC_TWO_WAY, true);
	fx.in.nrows = (size_t)PLAN_MAX_ITEMS + 1;
	T_EQ_INT(plan_make(&fx.in, &p, &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	setup(SYNC_TWO_WAY, true);
	scan(FAR, true);
	msg(FAR, 1, "", "A")->fp_len = STORE_FP_LEN + 1;
	T_EQ_INT(plan_make(&fx.in, &p, &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	plan_free(&p);
}

static void
test_print_sizes_and_names(void)
{
	struct buf b;

	setup(SYNC_PULL, true);
	scan(FAR, false);
	msg(FAR, 1, "", "A")->size = 1;
	msg(FAR, 2, "", "B")->size = 999;
	msg(FAR, 3, "", "C")->size = 1234567;
	msg(FAR, 4, "", "D")->size = 999999;
	msg(FAR, 5, "", "E")->size = 3000000000000ULL;
	EXPECT("F: copy far 1 -> near (1 byte)\n"
	       "F: copy far 2 -> near (999 bytes)\n"
	       "F: copy far 3 -> near (1.2 MB)\n"
	       "F: copy far 4 -> near (1.0 MB)\n"
	       "F: copy far 5 -> near (3.0 TB)\n"
	       "F: copy 5 messages (3.0 TB) far -> near\n");
	T_EQ_STR(plan_op_name(PLAN_COPY), "copy");
	T_EQ_STR(plan_op_name(PLAN_SET_BASE), "set-base");
	T_EQ_STR(plan_op_name(PLAN_FORGET_SIDE), "forget");
	T_EQ_STR(plan_op_name(PLAN_DROP_ROW), "drop");
	T_EQ_STR(plan_op_name(PLAN__KINDS), "?");
	/* a full buffer fails */
	buf_init(&b, 4);
	{
		struct plan p;

		make(&p);
		T_EQ_INT(plan_print(&p, "F", &b), -1);
		plan_free(&p);
	}
	buf_release(&b);
}

/*
 * 100,000 messages: nothing to do costs little; pairing is O(n log n).
 */

#define BIG 100000

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double
timed_plan(const struct plan_input *in, struct plan *p)
{
	struct err err = {0};
	double t0 = now_ms();

	if (plan_make(in, p, &err) < 0)
		t_fail(__FILE__, __LINE__, "plan_make: %s", err.msg);
	return now_ms() - t0;
}

static void
test_large_unchanged(void)
{
	struct plan_row *rows = xcalloc(BIG, sizeof(*rows));
	unsigned char(*fps)[STORE_FP_LEN] = xcalloc(BIG, sizeof(*fps));
	struct store_msg *msgs[2];
	struct store_changes ch[2];
	struct plan_input in;
	struct plan p;
	double ms[3];
	uint32_t i;
	int s;

	memset(&in, 0, sizeof(in));
	memset(ch, 0, sizeof(ch));
	in.mode = SYNC_TWO_WAY;
	in.expunge = true;
	in.brake_percent = 25;
	in.brake_min = 10;
	for (s = 0; s < 2; s++)
		msgs[s] = xcalloc(BIG, sizeof(*msgs[s]));
	for (i = 0; i < BIG; i++) {
		memcpy(fps[i], &i, sizeof(i));
		/* reported in reverse, near's UIDs shuffled against far's */
		rows[i] = (struct plan_row){.id = i + 1,
		    .uid = {i + 1, (i * 7919u) % BIG + 1},
		    .flags = i % 3 ? "\\Seen" : "$Work \\Flagged \\Seen",
		    .fp = fps[i],
		    .fp_len = sizeof(fps[i])};
		for (s = 0; s < 2; s++)
			msgs[s][BIG - 1 - i] =
			    (struct store_msg){.uid = rows[i].uid[s],
				.flags = rows[i].flags,
				.flags_only = true};
	}
	in.rows = rows;
	in.nrows = BIG;
	ms[0] = timed_plan(&in, &p);
	T_EQ_INT(p.nops, 0);
	plan_free(&p);
	for (s = 0; s < 2; s++) {
		ch[s].full = true;
		ch[s].msgs = msgs[s];
		ch[s].nmsgs = BIG;
		in.changes[s] = &ch[s];
	}
	ms[1] = timed_plan(&in, &p);
	T_EQ_INT(p.nops, 0);
	plan_free(&p);
	/* the state lost: every message pairs with its twin */
	in.nrows = 0;
	for (i = 0; i < BIG; i++)
		for (s = 0; s < 2; s++) {
			msgs[s][i].flags_only = false;
			memcpy(msgs[s][i].fp, fps[BIG - 1 - i], sizeof(fps[0]));
			msgs[s][i].fp_len = sizeof(fps[0]);
		}
	ms[2] = timed_plan(&in, &p);
	T_EQ_INT(p.counts[PLAN_PAIR][FAR], BIG);
	T_EQ_INT(p.nops, BIG);
	plan_free(&p);
	printf("plan_make, %d messages: unscanned %.1f ms, full listings "
	       "%.1f ms, all paired %.1f ms\n",
	    BIG, ms[0], ms[1], ms[2]);
	for (s = 0; s < 2; s++)
		free(msgs[s]);
	free(fps);
	free(rows);
}

static const struct t_case cases[] = {
    {"first run copies in the allowed directions", test_first_run_copies},
    {"a copy carries the message", test_copy_carries_message},
    {"second run plans nothing", test_second_run_plans_nothing},
    {"populated destination pairs", test_populated_destination_pairs},
    {"lost state pairs everything", test_lost_state_pairs_everything},
    {"resumed copy pairs", test_resumed_copy_pairs},
    {"duplicates pair 1:1", test_duplicates_pair_one_to_one},
    {"pairs against the uncopied side", test_pairs_against_uncopied_side},
    {"pairing needs a fingerprint", test_pair_needs_fingerprint},
    {"pair merges flags", test_pair_merges_flags},
    {"flags merge two-way", test_flags_merge_two_way},
    {"flags merge per flag", test_flags_merge_is_per_flag},
    {"one-way source wins", test_flags_one_way_source_wins},
    {"permflags exclusion", test_permflags_exclusion},
    {"permflags one-way", test_permflags_one_way},
    {"deletions in each mode", test_deletions_each_mode},
    {"orphan rows drop", test_orphan_rows_drop},
    {"positive evidence only", test_positive_evidence_only},
    {"odd reports", test_reports_odd_cases},
    {"brake thresholds", test_brake_thresholds},
    {"brake counts rows left out", test_brake_rows_elsewhere},
    {"brake keeps the rest", test_brake_keeps_the_rest},
    {"brake on an empty listing", test_brake_empty_listing},
    {"uidvalidity re-pairs", test_uidvalidity_repairs},
    {"uidvalidity freezes deletions", test_uidvalidity_freeze},
    {"repair after forget", test_repair_after_forget},
    {"errors", test_errors},
    {"print sizes and names", test_print_sizes_and_names},
    {"100,000 messages", test_large_unchanged},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
