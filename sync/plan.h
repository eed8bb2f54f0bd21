/* SPDX-License-Identifier: ISC */
/*
 * plan.h - the sync planner: for one folder pair, the stored state rows
 * and both sides' change sets in, a list of operations out.
 *
 * plan_make() is a pure function: no I/O, no callbacks, no globals.  It
 * decides which messages to copy, pair, re-pair, flag, expunge or forget;
 * the executor (sync/exec.c) carries the operations out and records their
 * results in the state.  The rules are listed at the top of plan.c.
 *
 * Ownership: plan_make() only reads its input, and keeps one kind of
 * pointer into it: an op's fingerprint points at the input's (so the
 * change sets must outlive the plan).  Everything else a struct plan
 * points to (the op array, every string in it, the brake reasons) is
 * owned by the plan and freed by plan_free(); callers treat it as
 * read-only.
 *
 * Executing a plan: ops come sorted by kind in the order of enum
 * plan_op_kind, which is also an order that works: pairs and re-pairs
 * before the flag updates that may name them, and a PLAN_SET_BASE only
 * after every PLAN_FLAGS op of the same row (same uid pair when row is 0)
 * succeeded.  When one failed, skip the SET_BASE: the next pass merges
 * against the old base and reaches the same result again, whereas a base
 * recorded too early would read as a deletion of the missing flag.
 */
#ifndef FERRY_PLAN_H
#define FERRY_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/state.h"

struct arena;
struct buf;
struct err;
struct store_changes;

/* Larger inputs are refused with ERR_LIMIT (a folder, not a mail store). */
#define PLAN_MAX_ITEMS (1u << 26)
/* Fingerprint bytes an op carries at most (the state's limit). */
#define PLAN_FP_MAX STATE_FP_MAX

enum sync_mode {
	SYNC_TWO_WAY, /* copy, flags and (with expunge) deletions both ways */
	SYNC_PULL, /* far -> near: copies and far's flags; no deletions */
	SYNC_PUSH, /* near -> far: copies and near's flags; no deletions */
	SYNC_MIRROR_PULL, /* pull, and (with expunge) far's deletions */
	SYNC_MIRROR_PUSH, /* push, and (with expunge) near's deletions */
};

/* One state row (struct state_msg), as the planner needs it. */
struct plan_row {
	int64_t id; /* > 0 */
	/* By enum state_side; 0: unknown there (after a UIDVALIDITY reset,
	 * or after PLAN_FORGET_SIDE), awaiting re-pairing. */
	uint32_t uid[2];
	const char *flags; /* the last agreed flags: the merge base */
	const unsigned char *fp; /* fingerprint; fp_len 0: none */
	size_t fp_len;
	const char *objid[2]; /* NULL: none */
	uint64_t size;
};

struct plan_input {
	enum sync_mode mode;
	bool expunge; /* propagate deletions where the mode allows */
	bool force_deletes; /* skip the deletion brake (not the freeze) */
	unsigned brake_percent; /* default 25 */
	unsigned brake_min; /* default 10 */
	const struct plan_row *rows;
	size_t nrows;
	/*
	 * Rows of the pair left out of rows, because none of their UIDs is
	 * reported or vanished: each holds a UID on both sides and is
	 * present on both with its base flags.  They count for the brake
	 * (D6).  0 whenever a change set is full, whose absences would make
	 * them gone.
	 */
	size_t rows_elsewhere;
	/*
	 * By enum state_side.  NULL: that side was not scanned (unchanged):
	 * every row is present there with its base flags, and nothing there
	 * is new or gone.
	 */
	const struct store_changes *changes[2];
	/* Messages the state last saw per side (state_marks.messages). */
	uint32_t known_messages[2];
	/*
	 * This pass follows a UIDVALIDITY change on that side, whose rows
	 * the caller has reset (state_msg_reset_side): no deletion on that
	 * side, and none from its absences, in this pass.
	 */
	bool uidvalidity_changed[2];
};

/* In the order ops come out, which is an order they can run in. */
enum plan_op_kind {
	PLAN_COPY, /* copy a new message to side */
	PLAN_PAIR, /* two new messages are one: record a row */
	PLAN_REPAIR, /* set row's uid on side (re-pairing) */
	PLAN_FLAGS, /* add and remove flags of uid[side] */
	PLAN_SET_BASE, /* record base as the row's agreed flags */
	PLAN_EXPUNGE, /* expunge uid[side], then drop the row */
	PLAN_FORGET_SIDE, /* the message is gone from side: set its uid to 0 */
	PLAN_DROP_ROW, /* the message is gone everywhere: drop the row */
	PLAN__KINDS
};

/*
 * One operation.  Fields that do not apply to the kind are 0 or NULL.
 *
 *   kind          side      row  uid[]                  strings
 *   COPY          dest      0    uid[src]; uid[side]=0  flags, base, objid[src]
 *   PAIR          FAR       0    both                   base, objid[]
 *   REPAIR        side      id   the row's, new uid     objid[side] (or NULL)
 *   FLAGS         side      id/0 both                   add, remove
 *   SET_BASE      FAR       id/0 both                   base
 *   EXPUNGE       side      id   the row's
 *   FORGET_SIDE   side      id   the row's (old uid)
 *   DROP_ROW      FAR/NEAR  id   the row's              (side: a known uid)
 *
 * COPY, PAIR also carry size, internaldate and the fingerprint (of the
 * source; of the far message) for the new row and the copy intent.  Row 0
 * in FLAGS and SET_BASE means the row a PAIR of the same uids creates.
 * An op is 104 bytes, one per message on a first sync: the fingerprint
 * is the input's, not a copy (the plan must not outlive its input).
 */
struct plan_op {
	enum plan_op_kind kind;
	enum state_side side; /* the side acted on */
	uint32_t uid[2]; /* by side; 0: not there (yet) */
	int64_t row; /* state row id; 0: a new message or pair */
	const char *add, *remove; /* FLAGS: canonical, either may be "" */
	const char *flags; /* COPY: the flags to append with */
	const char *base; /* COPY, PAIR, SET_BASE: agreed flags to record */
	const char *objid[2]; /* identities to record, by side */
	uint64_t size;
	int64_t internaldate;
	const unsigned char *fp; /* in the input's store_msg; NULL: none */
	size_t fp_len;
};

struct plan {
	struct plan_op *ops; /* sorted by kind, side, uid on side, row */
	size_t nops;
	size_t counts[PLAN__KINDS][2]; /* ops by kind and side */
	uint64_t copy_bytes[2]; /* by destination side */
	/* NULL, or why deletions planned on that side were held back. */
	const char *brake[2];
	/*
	 * Deletions seen on that side were not acted on (brake or freeze):
	 * their rows were left alone, so the caller must not advance that
	 * side's watermarks past them, or the evidence is never seen again.
	 */
	bool held[2];
	struct arena *mem; /* owns every string above */
};

/*
 * plan_make(in, out, err):
 * Plan one pass over one folder pair.  Fill *out (overwritten; free it
 * with plan_free() whatever is returned) and return 0, or -1 with err:
 * ERR_LIMIT when an input exceeds PLAN_MAX_ITEMS (or the plan's strings
 * exceed a gigabyte), ERR_CONFIG for an unknown mode, ERR_BOX when the
 * rows break the state's rule of one row per UID and side.
 */
int plan_make(const struct plan_input *, struct plan *out, struct err *);

/* Free what *p owns and zero it; a zeroed plan is fine. */
void plan_free(struct plan *);

/*
 * plan_print(p, folder, out):
 * Append the plan for --dry-run: one line per op and per brake, then a
 * line of totals ("copy 12 messages (1.2 MB) far -> near, ..." or
 * "nothing to do"), each line starting with "folder: ".  0, or -1 when
 * out is full.
 */
int plan_print(const struct plan *, const char *folder, struct buf *out);

/* "copy", "pair", "repair", "flags", "set-base", "expunge", "forget",
 * "drop"; "?" for anything else. */
const char *plan_op_name(enum plan_op_kind);

#endif
