/* SPDX-License-Identifier: ISC */
/*
 * state.h - the state database: what ferry last saw of each side of a
 * channel, so that a sync is incremental and survives a crash.
 *
 * One SQLite file per channel holds the folder pairs and their
 * watermarks, one row per message known on both sides (with the last
 * agreed flags, the base of the three-way merge), the copy intents written
 * before each copy, per-message failures, and the Maildir driver's UIDs.
 * store/state.c is the only file in ferry that talks to SQLite; the table
 * layout and its invariants are described at the top of that file.
 *
 * Ownership: a struct state is opened by state_open() and owned by its
 * caller until state_close(); it holds an exclusive lock on the file for
 * all that time.  It must be used from one thread.  Strings passed in are
 * only borrowed for the call.  What comes back out is owned as follows:
 *   - struct state_pair names are heap copies owned by the caller, freed
 *     with state_pair_release() or state_pair_list_free();
 *   - the pointers in a struct state_msg filled by a lookup (state_msg_find
 *     and friends) belong to the state and stay valid until the next call
 *     of any state_ function on the same handle;
 *   - the pointers in a row handed to a foreach callback are valid only
 *     until that callback returns.
 * A foreach callback may look rows up, but must not change the database
 * (state_msg_set_flags, state_begin, ...): such calls fail.  Collect
 * first, change afterwards.
 *
 * Conventions: functions return 0 on success and -1 on error, with err
 * filled in.  Lookups return 1 when found, 0 when not found (the output
 * is then untouched), -1 on error.  A foreach callback returns 0 to go on,
 * 1 to stop early (foreach then returns 0), or -1 to fail (foreach then
 * returns -1 with whatever the callback put in err).  Error kinds:
 * ERR_LOCK (another run holds the file), ERR_CONFIG (not a ferry database,
 * corrupt, or from a newer ferry), ERR_BOX (a folder name is unusable or a
 * uniqueness rule was broken: state and server disagree on a folder),
 * ERR_MSG (a message's data is unusable), ERR_TEMP (SQLite was busy),
 * ERR_SYS (I/O and everything else).
 *
 * UIDs, UIDVALIDITY and UIDNEXT are 32-bit; 0 means "unknown" (it is
 * stored as NULL or 0).  Times are seconds since the epoch.  Text is
 * bounded by the STATE_*_MAX lengths below (bytes, without the NUL).
 */
#ifndef FERRY_STATE_H
#define FERRY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct state;

/* The schema this code creates and understands (PRAGMA user_version). */
#define STATE_SCHEMA_VERSION 2

#define STATE_NAME_MAX 1024 /* a folder name (UTF-8, '/'-separated) */
#define STATE_FLAGS_MAX 4096 /* a canonical flag list */
#define STATE_FP_MAX 64 /* a fingerprint (opaque bytes) */
#define STATE_OBJID_MAX 255 /* EMAILID, X-GUID, X-GM-MSGID (RFC 8474) */
#define STATE_BASE_MAX 255 /* a Maildir file's unique base name */
#define STATE_KIND_MAX 32 /* a failure kind: "fetch", "too-big", ... */
#define STATE_ERROR_MAX 512 /* failure text; longer text is truncated */
#define STATE_META_MAX 1024 /* a meta key or value */

/* Which side of a channel.  Arrays in the structs below are indexed so. */
enum state_side {
	STATE_FAR = 0,
	STATE_NEAR = 1,
};

/* "far" or "near". */
const char *state_side_name(enum state_side);

/*
 * state_open(path, out, err):
 * Open the state database at path, creating it (mode 0600) when missing,
 * and set *out.  Before anything else, take an exclusive lock on the
 * sibling file "<path>.lock" (created 0600, holding our pid); when another
 * process holds it, fail at once with ERR_LOCK and a message naming that
 * process.  Then check, reading only, that the file is ours: one that is
 * not a ferry database or is corrupt, and one whose schema is newer than
 * this code, is refused with ERR_CONFIG and left untouched.  Then narrow
 * the file to 0600 if group or others could read it (with a warning: it
 * names folders and messages), turn on WAL, foreign keys and
 * synchronous=FULL, and migrate the schema to STATE_SCHEMA_VERSION, one
 * transaction per step.  The directory must exist.  The path ":memory:"
 * opens a private in-memory database without a lock (for tests).
 */
int state_open(const char *path, struct state **out, struct err *err);

/*
 * state_close(st):
 * Roll back any open transaction, finalize every statement, close the
 * database and release the lock.  state_close(NULL) does nothing.
 */
void state_close(struct state *);

/* The path given to state_open(); owned by st. */
const char *state_path(const struct state *);

/* The schema version of the open database (STATE_SCHEMA_VERSION). */
int state_schema_version(struct state *, struct err *);

/*
 * state_check(st, err):
 * Run SQLite's quick integrity check and the foreign key check; return 0
 * when both are clean, else -1 with ERR_CONFIG naming the first problem.
 * Reads the whole file: for `ferry verify`, not for every run.
 */
int state_check(struct state *, struct err *);

/*
 * Transactions.  Outside a transaction every change commits on its own.
 * state_begin() opens one (BEGIN IMMEDIATE) so that a batch of results is
 * recorded at once; it fails if one is already open.  state_commit() makes
 * the batch durable (synchronous=FULL: on return it survives power loss);
 * when it fails, call state_rollback().  state_rollback() discards the
 * batch and does nothing when no transaction is open.  Every function
 * that makes several changes does them atomically (in a savepoint), both
 * inside and outside a transaction.
 */
int state_begin(struct state *, struct err *);
int state_commit(struct state *, struct err *);
int state_rollback(struct state *, struct err *);
bool state_in_transaction(struct state *);

/*
 * meta: small key/value settings.  Keys beginning with "state." are this
 * module's own.  state_meta_get() copies the value into out (size bytes,
 * NUL-terminated) and returns 1, 0 when the key is unset, -1 on error
 * (also when out is too small).
 */
int state_meta_get(
    struct state *, const char *key, char *out, size_t size, struct err *);
int state_meta_set(
    struct state *, const char *key, const char *value, struct err *);

/*
 * Folder pairs.
 */

/* What was last seen of one side of a folder pair: the watermarks. */
struct state_marks {
	uint32_t uidvalidity; /* 0: never seen */
	uint32_t uidnext; /* every UID below this has been handled */
	uint64_t modseq; /* HIGHESTMODSEQ handled; 0: none */
	uint32_t messages; /* message count, for the deletion brake */
};

struct state_pair {
	int64_t id; /* > 0, never reused */
	char *name[2]; /* owned; indexed by enum state_side */
	struct state_marks marks[2];
	int64_t last_sync; /* end of the last complete pass; 0: never */
};

/*
 * state_pair_get_or_create(st, far, near, out, err):
 * Find the pair (far, near), or create it with zero watermarks, and fill
 * *out.  A folder belongs to at most one pair on its side: when far is
 * already paired with another near folder (or near with another far
 * folder), fail with ERR_BOX.  Names are UTF-8 without control characters,
 * 1 to STATE_NAME_MAX bytes.
 */
int state_pair_get_or_create(struct state *, const char *far, const char *near,
    struct state_pair *out, struct err *);
/* The pair whose name on side is name: 1 found, 0 not, -1 error. */
int state_pair_find(struct state *, enum state_side, const char *name,
    struct state_pair *out, struct err *);
/* The pair with this id: 1 found, 0 not, -1 error. */
int state_pair_get(
    struct state *, int64_t id, struct state_pair *out, struct err *);
/*
 * state_pair_update(st, p, err):
 * Store p->marks and p->last_sync for the pair p->id (names are not
 * changed).  Advance watermarks only when the pair's pass is complete.
 */
int state_pair_update(struct state *, const struct state_pair *, struct err *);
/*
 * state_pair_list(st, out, n_out, err):
 * All pairs, ordered by far name, as a new array in *out (NULL when there
 * are none) of *n_out entries; free it with state_pair_list_free().
 */
int state_pair_list(
    struct state *, struct state_pair **out, size_t *n_out, struct err *);
/* Delete a pair with all its messages, intents and failures. */
int state_pair_delete(struct state *, int64_t id, struct err *);
/* Free the names of *p (p may hold NULL names); p itself is not freed. */
void state_pair_release(struct state_pair *);
void state_pair_list_free(struct state_pair *, size_t);

/*
 * Messages: one row per message known on both sides.
 *
 * Invariants kept by the database: a UID appears at most once per pair on
 * each side; at least one side's UID is known.  A side's UID is unknown
 * (0) only between state_msg_reset_side() (its UIDVALIDITY changed) and
 * the re-pairing that fills it in with state_msg_set_uid().  A copy in
 * progress has no msg row: it is a pending intent until it is recorded.
 */
struct state_msg {
	int64_t id; /* row id, > 0, never reused */
	int64_t pair;
	uint32_t uid[2]; /* by enum state_side; 0: unknown */
	/*
	 * The last flag set both sides agreed on: tokens of printable ASCII
	 * (system flags like \Seen, and keywords) separated by one space, in
	 * strcmp() order, without duplicates; "" for none.
	 */
	const char *flags;
	uint64_t size; /* RFC822.SIZE */
	int64_t internaldate; /* 0: unknown */
	const unsigned char *fp; /* fingerprint; NULL when fp_len is 0 */
	size_t fp_len;
	const char *objid[2]; /* server's identity per side; NULL: none */
};

/*
 * state_msg_add(st, m, id_out, err):
 * Record that m->uid[STATE_FAR] and m->uid[STATE_NEAR] (both nonzero) are
 * the same message in pair m->pair (m->id is ignored); set *id_out
 * (id_out may be NULL).  A UID already paired on its side fails with
 * ERR_BOX.  Call it only once the copy is durable where it was made (the
 * server's OK to APPEND; a Maildir file renamed into place and its
 * directory synced): a recorded pair must never outlive a lost copy.
 */
int state_msg_add(
    struct state *, const struct state_msg *, int64_t *id_out, struct err *);
/* The row of pair whose side UID is uid: 1 found, 0 not, -1 error. */
int state_msg_find(struct state *, int64_t pair, enum state_side, uint32_t uid,
    struct state_msg *out, struct err *);
/*
 * state_msg_find_fp(st, pair, side, fp, fp_len, out, err):
 * For re-pairing after side's UIDVALIDITY changed: a row of pair whose
 * side UID is unknown and whose fingerprint is fp (the one with the
 * lowest UID on the other side when several match).  1, 0 or -1.
 */
int state_msg_find_fp(struct state *, int64_t pair, enum state_side,
    const void *fp, size_t fp_len, struct state_msg *out, struct err *);
/* Likewise by side's object id (EMAILID, X-GUID, X-GM-MSGID). */
int state_msg_find_objid(struct state *, int64_t pair, enum state_side,
    const char *objid, struct state_msg *out, struct err *);
/* Replace the agreed flags of row id (canonical, as in struct state_msg). */
int state_msg_set_flags(
    struct state *, int64_t id, const char *flags, struct err *);
/*
 * state_msg_set_uid(st, id, side, uid, objid, err):
 * Set row id's UID on side (re-pairing), and its object id there unless
 * objid is NULL.  The UID must not be paired already (ERR_BOX).
 */
int state_msg_set_uid(struct state *, int64_t id, enum state_side, uint32_t uid,
    const char *objid, struct err *);
/*
 * state_msg_forget_side(st, id, side, err):
 * The message of row id is gone from side and stays on the other side
 * (the mode does not propagate that deletion): clear side's UID and
 * object id.  The row must keep the other side's UID; ERR_MSG otherwise.
 */
int state_msg_forget_side(
    struct state *, int64_t id, enum state_side, struct err *);
/* Delete the row of pair whose side UID is uid; none is not an error. */
int state_msg_delete(
    struct state *, int64_t pair, enum state_side, uint32_t uid, struct err *);
/* Delete row id; none is not an error. */
int state_msg_delete_id(struct state *, int64_t id, struct err *);
/*
 * state_msg_foreach(st, pair, order, fn, arg, err):
 * Call fn for every row of pair in ascending order of the order side's
 * UID (rows where that UID is unknown come first).
 */
typedef int (*state_msg_fn)(void *, const struct state_msg *, struct err *);
int state_msg_foreach(struct state *, int64_t pair, enum state_side order,
    state_msg_fn, void *, struct err *);
/*
 * state_msg_foreach_some(st, pair, uids, n, fn, arg, err):
 * Call fn for the rows of pair that lack a UID on a side, then for the
 * row holding each of uids[side][0..n[side]) on that side, if any.  A
 * row may come more than once: the caller removes repeats (by id).
 */
int state_msg_foreach_some(struct state *, int64_t pair,
    const uint32_t *const uids[2], const size_t n[2], state_msg_fn, void *,
    struct err *);
/*
 * state_msg_uids(st, pair, side, out, n_out, err): the UIDs the rows of
 * pair hold on side, ascending, in *out (free() it).
 */
int state_msg_uids(struct state *, int64_t pair, enum state_side,
    uint32_t **out, size_t *n_out, struct err *);
/* Rows of pair, or of all pairs when pair is 0. */
int state_msg_count(
    struct state *, int64_t pair, uint64_t *n_out, struct err *);
/*
 * state_msg_reset_side(st, pair, side, uidvalidity, err):
 * side's UIDVALIDITY changed to uidvalidity: atomically forget every UID
 * of pair on side (rows keep their flags, fingerprint and object ids for
 * re-pairing; rows with no UID left go), drop the pair's pending intents
 * (each names a UID or UIDNEXT of the old UIDVALIDITY; pairing by
 * fingerprint finds any copy that did land) and side's failures, and set
 * side's marks to {uidvalidity, 0, 0, messages unchanged}.
 */
int state_msg_reset_side(struct state *, int64_t pair, enum state_side,
    uint32_t uidvalidity, struct err *);

/*
 * Pending copy intents.  The executor adds one before it sends a copy and
 * removes it in the transaction that records the copy's result.  After a
 * crash, the intents left say which copies may or may not have landed:
 * look on the destination above dest_uidnext for the fingerprint.
 */
struct state_pending {
	int64_t id;
	int64_t pair;
	enum state_side dest; /* where the copy goes */
	uint32_t source_uid; /* the message, on the other side */
	const unsigned char *fp; /* non-empty */
	size_t fp_len;
	uint32_t dest_uidnext; /* destination UIDNEXT before the copy */
	int64_t created; /* set by state_pending_add() */
};

/*
 * state_pending_add(st, p, id_out, err):
 * Record intent p (p->id and p->created are ignored) and set *id_out
 * (may be NULL).  Outside a transaction the intent is durable when this
 * returns; inside one, when state_commit() returns: either way, before
 * the copy is sent.  One intent per source message and destination.
 */
int state_pending_add(struct state *, const struct state_pending *,
    int64_t *id_out, struct err *);
typedef int (*state_pending_fn)(
    void *, const struct state_pending *, struct err *);
/* Call fn for each intent of pair (all pairs if 0), oldest first. */
int state_pending_foreach(
    struct state *, int64_t pair, state_pending_fn, void *, struct err *);
/* Remove intent id; none is not an error. */
int state_pending_remove(struct state *, int64_t id, struct err *);
/* Intents of pair, or of all pairs when pair is 0. */
int state_pending_count(
    struct state *, int64_t pair, uint64_t *n_out, struct err *);

/*
 * Failures: per-message problems are data, retried on later runs.  A
 * failure is keyed by (pair, side, uid, kind); side is where the message
 * lives.
 */
struct state_failure {
	int64_t pair;
	enum state_side side;
	uint32_t uid;
	const char *kind; /* short word, e.g. "fetch", "append", "too-big" */
	uint32_t attempts;
	const char *error; /* the last error text */
	int64_t first_seen;
	int64_t last_seen;
};

/*
 * state_failure_record(st, pair, side, uid, kind, error, attempts_out,
 * err): record a failure, or count one more attempt of a known one (and
 * keep the newest text); set *attempts_out (may be NULL).  kind is 1 to
 * STATE_KIND_MAX printable ASCII bytes without spaces; error is cut to
 * STATE_ERROR_MAX bytes.
 */
int state_failure_record(struct state *, int64_t pair, enum state_side,
    uint32_t uid, const char *kind, const char *error, uint32_t *attempts_out,
    struct err *);
typedef int (*state_failure_fn)(
    void *, const struct state_failure *, struct err *);
/* Call fn for each failure of pair (all pairs if 0), by side, uid, kind. */
int state_failure_foreach(
    struct state *, int64_t pair, state_failure_fn, void *, struct err *);
/* Forget the failure (pair, side, uid, kind), or every kind if NULL. */
int state_failure_clear(struct state *, int64_t pair, enum state_side,
    uint32_t uid, const char *kind, struct err *);
/* Failures of pair, or of all pairs when pair is 0. */
int state_failure_count(
    struct state *, int64_t pair, uint64_t *n_out, struct err *);

/*
 * Maildir identity.  The Maildir driver keeps each folder's UIDVALIDITY
 * and next UID here, and each message's UID keyed by its file's unique
 * base name (the part before ":2,"), so that renaming a file to change
 * its flags keeps its UID.  A folder is named by a key of the driver's
 * choosing (its delimiter-neutral name).  UIDs are never reused within a
 * UIDVALIDITY.  Base names are 1 to STATE_BASE_MAX bytes without '/'.
 */
struct state_mdfolder {
	int64_t id; /* > 0, never reused */
	uint32_t uidvalidity; /* nonzero */
	uint32_t uidnext; /* the UID the next new file gets */
	/* The driver's proof (store/maildir.c): at change token seen_token
	 * (0: none) cur/ and new/ held seen_count files whose names hash
	 * to seen_digest. */
	uint64_t seen_token;
	uint64_t seen_digest;
	uint64_t seen_count;
};

/*
 * state_maildir_folder(st, name, out, err):
 * Find the folder name, or create it with a fresh UIDVALIDITY (the time,
 * and always above any this database handed out before) and UIDNEXT 1.
 */
int state_maildir_folder(
    struct state *, const char *name, struct state_mdfolder *out, struct err *);
/* Re-read folder id: 1 found, 0 not, -1 error. */
int state_maildir_folder_get(
    struct state *, int64_t id, struct state_mdfolder *out, struct err *);
/*
 * state_maildir_folder_set(st, id, uidvalidity, uidnext, err):
 * Set a folder's UIDVALIDITY and UIDNEXT (importing them from elsewhere).
 * uidnext must be above every UID assigned in the folder, and the
 * UIDVALIDITY may change only while no UID is assigned (ERR_BOX).
 */
int state_maildir_folder_set(struct state *, int64_t id, uint32_t uidvalidity,
    uint32_t uidnext, struct err *);
/*
 * state_maildir_folder_reset(st, id, out, err):
 * Start the folder over: a fresh UIDVALIDITY, UIDNEXT 1, every file's UID
 * forgotten; fill *out (may be NULL).
 */
int state_maildir_folder_reset(
    struct state *, int64_t id, struct state_mdfolder *out, struct err *);
/* Record what the driver proved of folder id's directory (see struct
 * state_mdfolder); token 0 forgets it. */
int state_maildir_seen(struct state *, int64_t id, uint64_t token,
    uint64_t digest, uint64_t count, struct err *);
/* Forget folder name and all its files; none is not an error. */
int state_maildir_folder_delete(struct state *, const char *name, struct err *);
/*
 * state_maildir_assign(st, folder, base, uid_out, err):
 * The UID of base in folder: the known one, or else the folder's UIDNEXT,
 * which is then advanced.  Fails with ERR_BOX when the 32-bit UID space
 * is used up (the folder needs state_maildir_folder_reset()).
 */
int state_maildir_assign(struct state *, int64_t folder, const char *base,
    uint32_t *uid_out, struct err *);
/* The UID of base in folder: 1 found, 0 not, -1 error. */
int state_maildir_lookup(struct state *, int64_t folder, const char *base,
    uint32_t *uid_out, struct err *);
/* The base name of uid (into out, size bytes): 1 found, 0 not, -1 error. */
int state_maildir_base(struct state *, int64_t folder, uint32_t uid, char *out,
    size_t size, struct err *);
typedef int (*state_maildir_fn)(
    void *, uint32_t uid, const char *base, struct err *);
/* Call fn for every (uid, base) of folder in ascending UID order. */
int state_maildir_foreach(
    struct state *, int64_t folder, state_maildir_fn, void *, struct err *);
/* The same in ascending base name order (bytes compared as memcmp(), a
 * shorter name first when one is the start of the other). */
int state_maildir_foreach_by_base(
    struct state *, int64_t folder, state_maildir_fn, void *, struct err *);
/* Forget uid in folder (its file is gone); none is not an error. */
int state_maildir_forget(
    struct state *, int64_t folder, uint32_t uid, struct err *);

#endif
