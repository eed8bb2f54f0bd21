/* SPDX-License-Identifier: ISC */
/*
 * state.c - the state database (see state.h), the only file in ferry that
 * talks to SQLite.
 *
 * One file per channel remembers what ferry last saw of each side, so
 * that the next run only looks at what changed and a run killed at any
 * instant resumes without losing or duplicating mail.  The sync engine
 * reads the rows, plans, copies, and records the results here; the
 * Maildir driver keeps its UIDs here too.
 *
 * Tables (schema version 2; "side" columns hold 'far' or 'near'):
 *
 *   meta(key, value)              small settings; "state.*" keys are ours
 *   folder_pair(id, far_name, near_name,
 *       {far,near}_{uidvalidity, uidnext, modseq, messages},
 *       last_sync, created)       one row per paired folder: watermarks
 *   msg(id, pair, far_uid, near_uid, flags, size, internaldate,
 *       fingerprint, far_objid, near_objid)
 *                                 one row per message known on both sides
 *   pending(id, pair, side, source_uid, fingerprint, dest_uidnext, created)
 *                                 a copy to side that may have happened
 *   failure(pair, side, uid, kind, attempts, last_error, first_seen,
 *       last_seen)                per-message problems, retried later
 *   maildir_folder(id, name, uidvalidity, uidnext,
 *       seen_token, seen_digest, seen_count)
 *   maildir_file(folder, uid, base)
 *                                 the Maildir driver's message identity
 *
 * Invariants:
 *   1. A folder name is in at most one pair on its side (UNIQUE).
 *   2. Within a pair a UID appears at most once on each side (UNIQUE),
 *      and every msg row has at least one UID (CHECK).  A UID is NULL only
 *      after its side's UIDVALIDITY changed and before re-pairing.
 *   3. A msg row exists only once the copy it names is durable on the
 *      destination (the server said OK to the APPEND; the Maildir file is
 *      in cur/ or new/ and its directory synced).  The caller orders this;
 *      so a crash never leaves a row naming a copy that was lost.
 *   4. A pending row is durable before its copy is sent (synchronous=FULL
 *      and the executor commits it first), and is removed in the same
 *      transaction that records the copy's result.  So after a crash,
 *      every copy that may have landed unrecorded has a pending row.
 *   5. Watermarks say "everything below was handled": they advance only
 *      when a pair's pass is complete.
 *   6. Maildir UIDs are below their folder's uidnext, which never goes
 *      down within a UIDVALIDITY; a folder's UIDVALIDITY changes only with
 *      all its UIDs forgotten; new UIDVALIDITYs only go up (the last one
 *      handed out is in meta "state.maildir_uidvalidity").
 *   7. Deleting a folder_pair or maildir_folder deletes its rows
 *      (ON DELETE CASCADE, foreign_keys=ON).
 *
 * Transitions, and who performs them:
 *   folder_pair  created      state_pair_get_or_create()
 *                watermarks   state_pair_update() after a complete pass
 *                one side     state_msg_reset_side() (UIDVALIDITY change)
 *                deleted      state_pair_delete()
 *   msg          recorded     state_msg_add() after a durable copy, a
 *                             fingerprint match, or a resolved intent
 *                flags        state_msg_set_flags() once both sides agree
 *                UID -> NULL  state_msg_reset_side(); state_msg_forget_side()
 *                             (the message is gone from that side only and
 *                             the mode does not propagate the deletion)
 *                NULL -> UID  state_msg_set_uid() (re-pairing)
 *                deleted      state_msg_delete(), state_msg_delete_id()
 *   pending      added        state_pending_add() before the copy
 *                removed      state_pending_remove() with the result;
 *                             state_msg_reset_side()
 *   failure      recorded     state_failure_record() (insert or count up)
 *                cleared      state_failure_clear(); state_msg_reset_side()
 *   maildir_*    created      state_maildir_folder()
 *                UID given    state_maildir_assign() (insert + uidnext++)
 *                UID gone     state_maildir_forget()
 *                set          state_maildir_folder_set()
 *                restarted    state_maildir_folder_reset()
 *                seen         state_maildir_seen() (0: nothing proven;
 *                             a new UIDVALIDITY clears it)
 *                deleted      state_maildir_folder_delete()
 *
 * Opening: the lock comes first (store/state_lock.c), before SQLite
 * reads a byte; then the file is checked to be ours (application_id and
 * user_version in its header) before anything writes to it; then its mode
 * is narrowed, WAL, foreign keys and synchronous=FULL are turned on, and
 * the migrations run, each one transaction that also bumps user_version.
 * FULL, not WAL's usual NORMAL: NORMAL may lose the last commits on power
 * loss, and the last commit may be the intent for a copy already sent.
 * Every statement is prepared once, on first use, and finalized by
 * state_close().  Functions that change several rows do so in a savepoint,
 * which nests inside the caller's transaction or stands alone.  Strings
 * are checked (store/state_valid.c) and always bound, never spliced.
 */
#include "state.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "state_lock.h"
#include "state_valid.h"
#include "util/err.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* PRAGMA application_id of a ferry state file: "Fery". */
#define STATE_APP_ID 0x46657279

/* How long SQLite waits for an outside reader (the sqlite3 tool). */
#define BUSY_TIMEOUT_MS 5000

#define PAIR_COLS                                                            \
	"id, far_name, near_name, far_uidvalidity, near_uidvalidity, "       \
	"far_uidnext, near_uidnext, far_modseq, near_modseq, far_messages, " \
	"near_messages, last_sync"
#define MSG_COLS                                                   \
	"id, pair, far_uid, near_uid, flags, size, internaldate, " \
	"fingerprint, far_objid, near_objid"
#define PEND_COLS \
	"id, pair, side, source_uid, fingerprint, dest_uidnext, created"
#define FAIL_COLS \
	"pair, side, uid, kind, attempts, last_error, first_seen, last_seen"

/*
 * Every statement ferry runs after opening.  Side-dependent statements
 * come in FAR, NEAR order, so that S_X_FAR + side picks the right one.
 */
enum stmt_id {
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_VERSION,
	S_META_GET,
	S_META_SET,
	S_PAIR_BY_ID,
	S_PAIR_BY_FAR,
	S_PAIR_BY_NEAR,
	S_PAIR_ALL,
	S_PAIR_INSERT,
	S_PAIR_UPDATE,
	S_PAIR_RESET_FAR,
	S_PAIR_RESET_NEAR,
	S_PAIR_DELETE,
	S_MSG_INSERT,
	S_MSG_BY_FAR,
	S_MSG_BY_NEAR,
	S_MSG_FP_FAR,
	S_MSG_FP_NEAR,
	S_MSG_OBJID_FAR,
	S_MSG_OBJID_NEAR,
	S_MSG_SET_FLAGS,
	S_MSG_SET_FAR,
	S_MSG_SET_NEAR,
	S_MSG_DEL_FAR,
	S_MSG_DEL_NEAR,
	S_MSG_DEL_ID,
	S_MSG_ALL_FAR,
	S_MSG_ALL_NEAR,
	S_MSG_ONE_SIDED,
	S_MSG_UIDS_FAR,
	S_MSG_UIDS_NEAR,
	S_MSG_COUNT,
	S_MSG_COUNT_ALL,
	S_MSG_DROP_FAR,
	S_MSG_DROP_NEAR,
	S_MSG_FORGET_FAR,
	S_MSG_FORGET_NEAR,
	S_MSG_UNSET_FAR,
	S_MSG_UNSET_NEAR,
	S_PEND_INSERT,
	S_PEND_LIST,
	S_PEND_DEL,
	S_PEND_DEL_PAIR,
	S_PEND_COUNT,
	S_FAIL_BUMP,
	S_FAIL_INSERT,
	S_FAIL_ATTEMPTS,
	S_FAIL_LIST,
	S_FAIL_CLEAR,
	S_FAIL_CLEAR_SIDE,
	S_FAIL_COUNT,
	S_MDF_BY_NAME,
	S_MDF_BY_ID,
	S_MDF_INSERT,
	S_MDF_SET,
	S_MDF_DELETE,
	S_MDF_USED,
	S_MDF_SEEN,
	S_MD_BY_BASE,
	S_MD_BY_UID,
	S_MD_INSERT,
	S_MD_ALL,
	S_MD_ALL_BY_BASE,
	S_MD_FORGET,
	S_MD_FORGET_ALL,
	S__COUNT
};

static const char *const sql_text[S__COUNT] = {
    [S_SAVEPOINT] = "SAVEPOINT state_op",
    [S_RELEASE] = "RELEASE state_op",
    [S_ROLLBACK_TO] = "ROLLBACK TO state_op",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_VERSION] = "PRAGMA user_version",
    [S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [S_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
    [S_PAIR_BY_ID] = "SELECT " PAIR_COLS " FROM folder_pair WHERE id = ?1",
    [S_PAIR_BY_FAR] =
	"SELECT " PAIR_COLS " FROM folder_pair WHERE far_name = ?1",
    [S_PAIR_BY_NEAR] =
	"SELECT " PAIR_COLS " FROM folder_pair WHERE near_name = ?1",
    [S_PAIR_ALL] = "SELECT " PAIR_COLS " FROM folder_pair ORDER BY far_name",
    [S_PAIR_INSERT] = "INSERT INTO folder_pair(far_name, near_name, created) "
		      "VALUES (?1, ?2, ?3)",
    [S_PAIR_UPDATE] =
	"UPDATE folder_pair SET far_uidvalidity = ?2, far_uidnext = ?3, "
	"far_modseq = ?4, far_messages = ?5, near_uidvalidity = ?6, "
	"near_uidnext = ?7, near_modseq = ?8, near_messages = ?9, "
	"last_sync = ?10 WHERE id = ?1",
    [S_PAIR_RESET_FAR] = "UPDATE folder_pair SET far_uidvalidity = ?2, "
			 "far_uidnext = 0, far_modseq = 0 WHERE id = ?1",
    [S_PAIR_RESET_NEAR] = "UPDATE folder_pair SET near_uidvalidity = ?2, "
			  "near_uidnext = 0, near_modseq = 0 WHERE id = ?1",
    [S_PAIR_DELETE] = "DELETE FROM folder_pair WHERE id = ?1",
    [S_MSG_INSERT] = "INSERT INTO msg(pair, far_uid, near_uid, flags, size, "
		     "internaldate, fingerprint, far_objid, near_objid) "
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_MSG_BY_FAR] =
	"SELECT " MSG_COLS " FROM msg WHERE pair = ?1 AND far_uid = ?2",
    [S_MSG_BY_NEAR] =
	"SELECT " MSG_COLS " FROM msg WHERE pair = ?1 AND near_uid = ?2",
    [S_MSG_FP_FAR] = "SELECT " MSG_COLS " FROM msg WHERE pair = ?1 AND "
		     "fingerprint = ?2 AND far_uid IS NULL "
		     "ORDER BY near_uid LIMIT 1",
    [S_MSG_FP_NEAR] = "SELECT " MSG_COLS " FROM msg WHERE pair = ?1 AND "
		      "fingerprint = ?2 AND near_uid IS NULL "
		      "ORDER BY far_uid LIMIT 1",
    [S_MSG_OBJID_FAR] = "SELECT " MSG_COLS " FROM msg WHERE pair = ?1 AND "
			"far_objid = ?2 AND far_uid IS NULL "
			"ORDER BY near_uid LIMIT 1",
    [S_MSG_OBJID_NEAR] = "SELECT " MSG_COLS " FROM msg WHERE pair = ?1 AND "
			 "near_objid = ?2 AND near_uid IS NULL "
			 "ORDER BY far_uid LIMIT 1",
    [S_MSG_SET_FLAGS] = "UPDATE msg SET flags = ?2 WHERE id = ?1",
    [S_MSG_SET_FAR] = "UPDATE msg SET far_uid = ?2, "
		      "far_objid = coalesce(?3, far_objid) WHERE id = ?1",
    [S_MSG_SET_NEAR] = "UPDATE msg SET near_uid = ?2, "
		       "near_objid = coalesce(?3, near_objid) WHERE id = ?1",
    [S_MSG_DEL_FAR] = "DELETE FROM msg WHERE pair = ?1 AND far_uid = ?2",
    [S_MSG_DEL_NEAR] = "DELETE FROM msg WHERE pair = ?1 AND near_uid = ?2",
    [S_MSG_DEL_ID] = "DELETE FROM msg WHERE id = ?1",
    [S_MSG_ALL_FAR] =
	"SELECT " MSG_COLS " FROM msg WHERE pair = ?1 ORDER BY far_uid",
    [S_MSG_ALL_NEAR] =
	"SELECT " MSG_COLS " FROM msg WHERE pair = ?1 ORDER BY near_uid",
    [S_MSG_ONE_SIDED] = "SELECT " MSG_COLS " FROM msg WHERE pair = ?1 AND "
			"(far_uid IS NULL OR near_uid IS NULL)",
    [S_MSG_UIDS_FAR] = "SELECT far_uid FROM msg WHERE pair = ?1 AND "
		       "far_uid IS NOT NULL ORDER BY far_uid",
    [S_MSG_UIDS_NEAR] = "SELECT near_uid FROM msg WHERE pair = ?1 AND "
			"near_uid IS NOT NULL ORDER BY near_uid",
    [S_MSG_COUNT] = "SELECT count(*) FROM msg WHERE pair = ?1",
    [S_MSG_COUNT_ALL] = "SELECT count(*) FROM msg",
    [S_MSG_DROP_FAR] = "DELETE FROM msg WHERE pair = ?1 AND near_uid IS NULL",
    [S_MSG_DROP_NEAR] = "DELETE FROM msg WHERE pair = ?1 AND far_uid IS NULL",
    [S_MSG_FORGET_FAR] = "UPDATE msg SET far_uid = NULL WHERE pair = ?1",
    [S_MSG_FORGET_NEAR] = "UPDATE msg SET near_uid = NULL WHERE pair = ?1",
    [S_MSG_UNSET_FAR] = "UPDATE msg SET far_uid = NULL, far_objid = NULL "
			"WHERE id = ?1 AND near_uid IS NOT NULL",
    [S_MSG_UNSET_NEAR] = "UPDATE msg SET near_uid = NULL, near_objid = NULL "
			 "WHERE id = ?1 AND far_uid IS NOT NULL",
    [S_PEND_INSERT] = "INSERT INTO pending(pair, side, source_uid, "
		      "fingerprint, dest_uidnext, created) "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_PEND_LIST] = "SELECT " PEND_COLS " FROM pending "
		    "WHERE ?1 = 0 OR pair = ?1 ORDER BY id",
    [S_PEND_DEL] = "DELETE FROM pending WHERE id = ?1",
    [S_PEND_DEL_PAIR] = "DELETE FROM pending WHERE pair = ?1",
    [S_PEND_COUNT] = "SELECT count(*) FROM pending WHERE ?1 = 0 OR pair = ?1",
    [S_FAIL_BUMP] = "UPDATE failure SET attempts = attempts + 1, "
		    "last_error = ?5, last_seen = ?6 WHERE pair = ?1 AND "
		    "side = ?2 AND uid = ?3 AND kind = ?4",
    [S_FAIL_INSERT] = "INSERT INTO failure(" FAIL_COLS
		      ") VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6)",
    [S_FAIL_ATTEMPTS] = "SELECT attempts FROM failure WHERE pair = ?1 AND "
			"side = ?2 AND uid = ?3 AND kind = ?4",
    [S_FAIL_LIST] = "SELECT " FAIL_COLS " FROM failure WHERE ?1 = 0 OR "
		    "pair = ?1 ORDER BY pair, side, uid, kind",
    [S_FAIL_CLEAR] = "DELETE FROM failure WHERE pair = ?1 AND side = ?2 AND "
		     "uid = ?3 AND (?4 IS NULL OR kind = ?4)",
    [S_FAIL_CLEAR_SIDE] = "DELETE FROM failure WHERE pair = ?1 AND side = ?2",
    [S_FAIL_COUNT] = "SELECT count(*) FROM failure WHERE ?1 = 0 OR pair = ?1",
    [S_MDF_BY_NAME] = "SELECT id, uidvalidity, uidnext, seen_token, "
		      "seen_digest, seen_count FROM maildir_folder "
		      "WHERE name = ?1",
    [S_MDF_BY_ID] = "SELECT id, uidvalidity, uidnext, seen_token, "
		    "seen_digest, seen_count FROM maildir_folder WHERE id = ?1",
    [S_MDF_INSERT] = "INSERT INTO maildir_folder(name, uidvalidity, uidnext) "
		     "VALUES (?1, ?2, 1)",
    [S_MDF_SET] = "UPDATE maildir_folder SET uidvalidity = ?2, uidnext = ?3, "
		  "seen_token = CASE WHEN uidvalidity = ?2 THEN seen_token "
		  "ELSE 0 END WHERE id = ?1",
    [S_MDF_SEEN] = "UPDATE maildir_folder SET seen_token = ?2, "
		   "seen_digest = ?3, seen_count = ?4 WHERE id = ?1",
    [S_MDF_DELETE] = "DELETE FROM maildir_folder WHERE name = ?1",
    [S_MDF_USED] = "SELECT count(*), coalesce(max(uid), 0) FROM maildir_file "
		   "WHERE folder = ?1",
    [S_MD_BY_BASE] = "SELECT uid FROM maildir_file WHERE folder = ?1 AND "
		     "base = ?2",
    [S_MD_BY_UID] = "SELECT base FROM maildir_file WHERE folder = ?1 AND "
		    "uid = ?2",
    [S_MD_INSERT] = "INSERT INTO maildir_file(folder, uid, base) "
		    "VALUES (?1, ?2, ?3)",
    [S_MD_ALL] = "SELECT uid, base FROM maildir_file WHERE folder = ?1 "
		 "ORDER BY uid",
    [S_MD_ALL_BY_BASE] = "SELECT uid, base FROM maildir_file "
			 "WHERE folder = ?1 ORDER BY base",
    [S_MD_FORGET] = "DELETE FROM maildir_file WHERE folder = ?1 AND uid = ?2",
    [S_MD_FORGET_ALL] = "DELETE FROM maildir_file WHERE folder = ?1",
};

struct state {
	sqlite3 *db;
	char *path;
	int lock_fd; /* -1: none (":memory:") */
	int iterating; /* foreach callbacks running: no changes allowed */
	bool ready; /* fully opened and migrated */
	sqlite3_stmt *stmt[S__COUNT];
	/* Storage behind the strings of the last lookup's struct state_msg. */
	struct {
		char flags[STATE_FLAGS_MAX + 1];
		unsigned char fp[STATE_FP_MAX];
		char objid[2][STATE_OBJID_MAX + 1];
	} row;
};

static const char *const side_names[2] = {"far", "near"};

/* Sides index arrays and statement pairs: anything else is a bug. */
#define SIDE_OK(side) ((side) == STATE_FAR || (side) == STATE_NEAR)

const char *
state_side_name(enum state_side side)
{
	return side == STATE_NEAR ? "near" : "far";
}

static enum state_side
side_from_text(const unsigned char *t)
{
	return t && strcmp((const char *)t, "near") == 0 ? STATE_NEAR
							 : STATE_FAR;
}

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

/*
 * Errors.
 */

static int __attribute__((format(printf, 4, 0)))
db_vfail(struct state *st, struct err *err, int rc, const char *fmt, va_list ap)
{
	const char *why = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	enum err_kind kind;
	char what[256];

	vsnprintf(what, sizeof(what), fmt, ap);
	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return err_set(err, ERR_CONFIG,
		    "state file %s is not a ferry database or is corrupt: "
		    "%s: %s",
		    st->path, what, why);
	case SQLITE_CONSTRAINT:
		kind = ERR_BOX;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		kind = ERR_TEMP;
		break;
	default:
		kind = ERR_SYS;
		break;
	}
	return err_set(err, kind, "state %s: %s: %s", st->path, what, why);
}

/* Describe SQLite's error rc while doing what; return -1. */
static int __attribute__((format(printf, 4, 5)))
db_fail(struct state *st, struct err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	db_vfail(st, err, rc, fmt, ap);
	va_end(ap);
	return -1;
}

static int
corrupt(struct state *st, struct err *err, const char *what)
{
	return err_set(err, ERR_CONFIG,
	    "state file %s is not a ferry database or is corrupt: %s", st->path,
	    what);
}

/* Refuse changes from inside a foreach callback. */
static int
writable(struct state *st, struct err *err)
{
	if (st->iterating == 0)
		return 0;
	return err_set(err, ERR_SYS,
	    "state %s: changes are not allowed inside a foreach callback",
	    st->path);
}

/*
 * Statements.
 */

/* The prepared statement id, ready for binding; NULL on error. */
static sqlite3_stmt *
stmt(struct state *st, enum stmt_id id, struct err *err)
{
	sqlite3_stmt **sp = &st->stmt[id];
	int rc;

	if (*sp == NULL) {
		rc = sqlite3_prepare_v3(st->db, sql_text[id], -1,
		    SQLITE_PREPARE_PERSISTENT, sp, NULL);
		if (rc != SQLITE_OK) {
			db_fail(st, err, rc, "preparing \"%s\"", sql_text[id]);
			sqlite3_finalize(*sp);
			*sp = NULL;
		}
	} else if (sqlite3_stmt_busy(*sp)) {
		err_set(err, ERR_SYS,
		    "state %s: \"%s\" is already running (re-entered from a "
		    "callback?)",
		    st->path, sql_text[id]);
		return NULL;
	}
	return *sp;
}

/* Make s ready for its next use and drop its borrowed bindings. */
static void
done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/*
 * finish(st, s, rc, err, fmt, ...): reset s after a step that returned
 * rc.  Return 0 when rc says all went well, else -1 with err describing
 * the failure in the context fmt.
 */
static int __attribute__((format(printf, 5, 6))) finish(struct state *st,
    sqlite3_stmt *s, int rc, struct err *err, const char *fmt, ...)
{
	va_list ap;

	if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) {
		done(s);
		return 0;
	}
	va_start(ap, fmt);
	db_vfail(st, err, rc, fmt, ap);
	va_end(ap);
	done(s);
	return -1;
}

/* Step s to completion (it returns no rows); 0 or -1. */
static int
run(struct state *st, sqlite3_stmt *s, struct err *err)
{
	return finish(st, s, sqlite3_step(s), err, "%s", sqlite3_sql(s));
}

/* Binding failed (it cannot, short of a bug): reset s and fail. */
static int
bind_fail(struct state *st, sqlite3_stmt *s, struct err *err)
{
	return finish(
	    st, s, SQLITE_MISUSE, err, "binding \"%s\"", sqlite3_sql(s));
}

static int
bind_text(sqlite3_stmt *s, int i, const char *t)
{
	return sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

static int
bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	if (n == 0)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_blob(s, i, p, (int)n, SQLITE_STATIC);
}

/* A UID, or NULL for 0 (unknown). */
static int
bind_uid(sqlite3_stmt *s, int i, uint32_t uid)
{
	if (uid == 0)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_int64(s, i, uid);
}

/*
 * run_int(st, id, a, b, err): run statement id with ?1 = a and, when it
 * has a second parameter, ?2 = b.  Set *changes_out (may be NULL) to the
 * number of rows changed.
 */
static int
run_int(struct state *st, enum stmt_id id, int64_t a, int64_t b,
    int *changes_out, struct err *err)
{
	sqlite3_stmt *s = stmt(st, id, err);

	if (s == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, a) != SQLITE_OK ||
	    (sqlite3_bind_parameter_count(s) > 1 &&
		sqlite3_bind_int64(s, 2, b) != SQLITE_OK))
		return bind_fail(st, s, err);
	if (run(st, s, err) < 0)
		return -1;
	if (changes_out)
		*changes_out = sqlite3_changes(st->db);
	return 0;
}

/* Run statement id (a count) with ?1 = a, if it has one; into *n_out. */
static int
count_int(struct state *st, enum stmt_id id, int64_t a, uint64_t *n_out,
    struct err *err)
{
	sqlite3_stmt *s = stmt(st, id, err);
	int rc;

	if (s == NULL)
		return -1;
	if (sqlite3_bind_parameter_count(s) > 0 &&
	    sqlite3_bind_int64(s, 1, a) != SQLITE_OK)
		return bind_fail(st, s, err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n_out = (uint64_t)sqlite3_column_int64(s, 0);
	return finish(st, s, rc, err, "%s", sqlite3_sql(s));
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? (const char *)t : "";
}

static const char *
col_text_or_null(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

static uint32_t
col_u32(sqlite3_stmt *s, int i)
{
	return (uint32_t)sqlite3_column_int64(s, i);
}

/* Run a statement made of constant text (never of user input). */
static int
exec_sql(struct state *st, const char *sql, struct err *err)
{
	char *msg = NULL;
	int rc;

	rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		return 0;
	db_fail(st, err, rc, "%s", sql);
	sqlite3_free(msg);
	return -1;
}

/* One value of a one-off query of constant text; what names it. */
static int
query_int(struct state *st, const char *sql, const char *what, int64_t *out,
    struct err *err)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	}
	if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(st, err, rc, "%s", what);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Savepoints: every function that changes more than one row wraps the
 * changes in sp_begin() and sp_end(), so that they happen entirely or not
 * at all, inside the caller's transaction or alone.
 */
static int
sp_begin(struct state *st, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_SAVEPOINT, err);

	return s ? run(st, s, err) : -1;
}

/* End the savepoint: keep its changes if rc is 0, else undo them. */
static int
sp_end(struct state *st, int rc, struct err *err)
{
	sqlite3_stmt *s;
	struct err ignored;

	if (rc == 0) {
		s = stmt(st, S_RELEASE, err);
		if (s && run(st, s, err) == 0)
			return 0;
	}
	/* SQLite may already have rolled everything back (I/O errors). */
	if (sqlite3_get_autocommit(st->db))
		return -1;
	s = stmt(st, S_ROLLBACK_TO, &ignored);
	if (s)
		run(st, s, &ignored);
	s = stmt(st, S_RELEASE, &ignored);
	if (s)
		run(st, s, &ignored);
	return -1;
}

static const char *
empty_to_null(const char *s)
{
	return s && *s ? s : NULL;
}

/*
 * Migrations.  migrations[i] takes a database from version i to i + 1;
 * the runner does each in its own transaction together with the new
 * user_version and application_id, so a crash leaves either version.
 * A new version is one more function and one more line in the table.
 */
static int
migrate_to_1(struct state *st, struct err *err)
{
	static const char schema[] =
	    "CREATE TABLE meta (\n"
	    "	key	TEXT PRIMARY KEY NOT NULL,\n"
	    "	value	TEXT NOT NULL\n"
	    ") WITHOUT ROWID;\n"
	    "CREATE TABLE folder_pair (\n"
	    "	id		INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	    "	far_name	TEXT NOT NULL UNIQUE,\n"
	    "	near_name	TEXT NOT NULL UNIQUE,\n"
	    "	far_uidvalidity	INTEGER NOT NULL DEFAULT 0,\n"
	    "	near_uidvalidity INTEGER NOT NULL DEFAULT 0,\n"
	    "	far_uidnext	INTEGER NOT NULL DEFAULT 0,\n"
	    "	near_uidnext	INTEGER NOT NULL DEFAULT 0,\n"
	    "	far_modseq	INTEGER NOT NULL DEFAULT 0,\n"
	    "	near_modseq	INTEGER NOT NULL DEFAULT 0,\n"
	    "	far_messages	INTEGER NOT NULL DEFAULT 0,\n"
	    "	near_messages	INTEGER NOT NULL DEFAULT 0,\n"
	    "	last_sync	INTEGER NOT NULL DEFAULT 0,\n"
	    "	created		INTEGER NOT NULL\n"
	    ");\n"
	    "CREATE TABLE msg (\n"
	    "	id		INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	    "	pair		INTEGER NOT NULL\n"
	    "			REFERENCES folder_pair(id) ON DELETE CASCADE,\n"
	    "	far_uid		INTEGER\n"
	    "			CHECK (far_uid BETWEEN 1 AND 4294967295),\n"
	    "	near_uid	INTEGER\n"
	    "			CHECK (near_uid BETWEEN 1 AND 4294967295),\n"
	    "	flags		TEXT NOT NULL DEFAULT '',\n"
	    "	size		INTEGER NOT NULL DEFAULT 0,\n"
	    "	internaldate	INTEGER NOT NULL DEFAULT 0,\n"
	    "	fingerprint	BLOB,\n"
	    "	far_objid	TEXT,\n"
	    "	near_objid	TEXT,\n"
	    "	CHECK (far_uid IS NOT NULL OR near_uid IS NOT NULL),\n"
	    "	UNIQUE (pair, far_uid),\n"
	    "	UNIQUE (pair, near_uid)\n"
	    ");\n"
	    "CREATE INDEX msg_fingerprint ON msg(pair, fingerprint)\n"
	    "	WHERE fingerprint IS NOT NULL;\n"
	    "CREATE INDEX msg_far_objid ON msg(pair, far_objid)\n"
	    "	WHERE far_objid IS NOT NULL;\n"
	    "CREATE INDEX msg_near_objid ON msg(pair, near_objid)\n"
	    "	WHERE near_objid IS NOT NULL;\n"
	    "CREATE TABLE pending (\n"
	    "	id		INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	    "	pair		INTEGER NOT NULL\n"
	    "			REFERENCES folder_pair(id) ON DELETE CASCADE,\n"
	    "	side		TEXT NOT NULL CHECK (side IN ('far', "
	    "'near')),\n"
	    "	source_uid	INTEGER NOT NULL\n"
	    "			CHECK (source_uid BETWEEN 1 AND 4294967295),\n"
	    "	fingerprint	BLOB NOT NULL,\n"
	    "	dest_uidnext	INTEGER NOT NULL,\n"
	    "	created		INTEGER NOT NULL,\n"
	    "	UNIQUE (pair, side, source_uid)\n"
	    ");\n"
	    "CREATE TABLE failure (\n"
	    "	pair		INTEGER NOT NULL\n"
	    "			REFERENCES folder_pair(id) ON DELETE CASCADE,\n"
	    "	side		TEXT NOT NULL CHECK (side IN ('far', "
	    "'near')),\n"
	    "	uid		INTEGER NOT NULL,\n"
	    "	kind		TEXT NOT NULL,\n"
	    "	attempts	INTEGER NOT NULL DEFAULT 1,\n"
	    "	last_error	TEXT NOT NULL,\n"
	    "	first_seen	INTEGER NOT NULL,\n"
	    "	last_seen	INTEGER NOT NULL,\n"
	    "	PRIMARY KEY (pair, side, uid, kind)\n"
	    ") WITHOUT ROWID;\n"
	    "CREATE TABLE maildir_folder (\n"
	    "	id		INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	    "	name		TEXT NOT NULL UNIQUE,\n"
	    "	uidvalidity	INTEGER NOT NULL\n"
	    "			CHECK (uidvalidity BETWEEN 1 AND 4294967295),\n"
	    "	uidnext		INTEGER NOT NULL\n"
	    "			CHECK (uidnext BETWEEN 1 AND 4294967295)\n"
	    ");\n"
	    "CREATE TABLE maildir_file (\n"
	    "	folder		INTEGER NOT NULL\n"
	    "			REFERENCES maildir_folder(id) ON DELETE "
	    "CASCADE,\n"
	    "	uid		INTEGER NOT NULL\n"
	    "			CHECK (uid BETWEEN 1 AND 4294967295),\n"
	    "	base		TEXT NOT NULL,\n"
	    "	PRIMARY KEY (folder, uid),\n"
	    "	UNIQUE (folder, base)\n"
	    ") WITHOUT ROWID;\n"
	    "INSERT INTO meta(key, value)\n"
	    "	VALUES ('state.created', strftime('%s', 'now'));\n";

	return exec_sql(st, schema, err);
}

struct migration {
	const char *what;
	int (*apply)(struct state *, struct err *);
};

/* What the Maildir driver last proved of a folder's directory. */
static int
migrate_to_2(struct state *st, struct err *err)
{
	static const char schema[] =
	    "ALTER TABLE maildir_folder\n"
	    "	ADD COLUMN seen_token INTEGER NOT NULL DEFAULT 0;\n"
	    "ALTER TABLE maildir_folder\n"
	    "	ADD COLUMN seen_digest INTEGER NOT NULL DEFAULT 0;\n"
	    "ALTER TABLE maildir_folder\n"
	    "	ADD COLUMN seen_count INTEGER NOT NULL DEFAULT 0;\n";

	return exec_sql(st, schema, err);
}

static const struct migration migrations[] = {
    {"the first schema", migrate_to_1},
    {"Maildir listings proven at a change token", migrate_to_2},
};

_Static_assert(nitems(migrations) == STATE_SCHEMA_VERSION,
    "one migration per schema version");

static int
migrate_step(struct state *st, int to, struct err *err)
{
	char pragma[96];

	if (exec_sql(st, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	snprintf(pragma, sizeof(pragma),
	    "PRAGMA application_id = %d; PRAGMA user_version = %d",
	    STATE_APP_ID, to);
	if (migrations[to - 1].apply(st, err) < 0 ||
	    exec_sql(st, pragma, err) < 0 || exec_sql(st, "COMMIT", err) < 0) {
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return err_prefix(err, "upgrading state %s to version %d (%s)",
		    st->path, to, migrations[to - 1].what);
	}
	log_debug("state %s: upgraded to version %d (%s)", st->path, to,
	    migrations[to - 1].what);
	return 0;
}

static int
migrate(struct state *st, int from, struct err *err)
{
	int v;

	for (v = from + 1; v <= STATE_SCHEMA_VERSION; v++)
		if (migrate_step(st, v, err) < 0)
			return -1;
	return 0;
}

/*
 * Decide, reading only, whether the file is ours: a new empty database
 * (version 0, no tables), or a ferry database of a version we know.
 * Set *version_out.
 */
static int
classify(struct state *st, int *version_out, struct err *err)
{
	int64_t app, version, tables;
	char why[128];

	if (query_int(st, "PRAGMA application_id", "reading its header", &app,
		err) < 0 ||
	    query_int(st, "PRAGMA user_version", "reading its header", &version,
		err) < 0 ||
	    query_int(st, "SELECT count(*) FROM sqlite_master",
		"reading its schema", &tables, err) < 0)
		return -1;
	if ((app != 0 && app != STATE_APP_ID) ||
	    (version != 0 && app != STATE_APP_ID) ||
	    (version == 0 && tables != 0) || version < 0) {
		snprintf(why, sizeof(why),
		    "another program's SQLite database (application id "
		    "%#" PRIx64 ", version %" PRId64 ", %" PRId64 " tables)",
		    (uint64_t)app, version, tables);
		return corrupt(st, err, why);
	}
	if (version > STATE_SCHEMA_VERSION)
		return err_set(err, ERR_CONFIG,
		    "state file %s has schema version %" PRId64
		    ", newer than this ferry knows (%d): use a newer ferry",
		    st->path, version, STATE_SCHEMA_VERSION);
	*version_out = (int)version;
	return 0;
}

/* WAL, foreign keys, synchronous=FULL; see the header for why FULL. */
static int
configure(struct state *st, bool mem, struct err *err)
{
	sqlite3_stmt *s = NULL;
	const char *mode;
	int64_t fk, sync;
	int rc;

	rc = sqlite3_prepare_v2(
	    st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		db_fail(st, err, rc, "turning on WAL");
		sqlite3_finalize(s);
		return -1;
	}
	mode = col_text(s, 0);
	if (strcmp(mode, mem ? "memory" : "wal") != 0) {
		err_set(err, ERR_SYS, "state %s: cannot use WAL (mode %s)",
		    st->path, mode);
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	if (exec_sql(st,
		"PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
		"PRAGMA journal_size_limit = 67108864; "
		/* 1 MB of page cache (not SQLite's 2 MB): rows are read
		 * in order and looked up by index; the system caches the
		 * file anyway. */
		"PRAGMA cache_size = -1024",
		err) < 0 ||
	    query_int(st, "PRAGMA foreign_keys", "turning on foreign keys", &fk,
		err) < 0 ||
	    query_int(st, "PRAGMA synchronous", "setting synchronous", &sync,
		err) < 0)
		return -1;
	if (fk != 1 || sync != 2)
		return err_set(err, ERR_SYS,
		    "state %s: SQLite refused foreign keys or synchronous=FULL",
		    st->path);
	return 0;
}

static int
db_open(struct state *st, struct err *err)
{
	int rc;

	rc = sqlite3_open_v2(st->path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, err, rc, "opening");
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
#ifdef SQLITE_DBCONFIG_DEFENSIVE
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
#endif
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
	sqlite3_db_config(
	    st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
#endif
	return 0;
}

int
state_open(const char *path, struct state **out, struct err *err)
{
	struct state *st;
	int version = 0;
	bool mem;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return err_set(err, ERR_CONFIG, "state: no file name");
	st = xcalloc(1, sizeof(*st));
	st->path = xstrdup(path);
	st->lock_fd = -1;
	mem = strcmp(path, ":memory:") == 0;
	if (!mem && (state_lock_take(path, &st->lock_fd, err) < 0 ||
			state_file_create(path, err) < 0))
		goto out_close;
	if (db_open(st, err) < 0 || classify(st, &version, err) < 0 ||
	    (!mem && state_file_narrow(path, err) < 0) ||
	    configure(st, mem, err) < 0 || migrate(st, version, err) < 0)
		goto out_close;
	st->ready = true;
	*out = st;
	return 0;
out_close:
	state_close(st);
	return -1;
}

void
state_close(struct state *st)
{
	size_t i;

	if (st == NULL)
		return;
	if (st->db) {
		if (!sqlite3_get_autocommit(st->db))
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		for (i = 0; i < nitems(st->stmt); i++)
			sqlite3_finalize(st->stmt[i]);
		if (st->ready)
			sqlite3_exec(
			    st->db, "PRAGMA optimize", NULL, NULL, NULL);
		if (sqlite3_close(st->db) != SQLITE_OK)
			log_debug("state %s: close: %s", st->path,
			    sqlite3_errmsg(st->db));
	}
	/* Only now, with the WAL checkpointed and closed, may others in. */
	state_lock_release(st->lock_fd, st->path);
	free(st->path);
	free(st);
}

const char *
state_path(const struct state *st)
{
	return st->path;
}

int
state_schema_version(struct state *st, struct err *err)
{
	uint64_t v = 0;

	if (count_int(st, S_VERSION, 0, &v, err) < 0)
		return -1;
	return (int)v;
}

/* Collect the rows of a check pragma; the first bad one fails. */
static int
check_pragma(
    struct state *st, const char *sql, const char *good, struct err *err)
{
	sqlite3_stmt *s = NULL;
	char what[256] = "";
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW)
			break;
		if (good && strcmp(col_text(s, 0), good) == 0)
			continue;
		snprintf(what, sizeof(what), "%s: %s%s%s", sql, col_text(s, 0),
		    good ? "" : " row ", good ? "" : col_text(s, 1));
		break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_fail(st, err, rc, "%s", sql);
	else if (what[0] != '\0')
		corrupt(st, err, what);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE && what[0] == '\0' ? 0 : -1;
}

int
state_check(struct state *st, struct err *err)
{
	if (check_pragma(st, "PRAGMA quick_check", "ok", err) < 0 ||
	    check_pragma(st, "PRAGMA foreign_key_check", NULL, err) < 0)
		return -1;
	return 0;
}

/*
 * Transactions.
 */

static int
exec_id(struct state *st, enum stmt_id id, struct err *err)
{
	sqlite3_stmt *s = stmt(st, id, err);

	return s ? run(st, s, err) : -1;
}

int
state_begin(struct state *st, struct err *err)
{
	if (writable(st, err) < 0)
		return -1;
	if (!sqlite3_get_autocommit(st->db))
		return err_set(err, ERR_SYS,
		    "state %s: a transaction is already open", st->path);
	return exec_id(st, S_BEGIN, err);
}

int
state_commit(struct state *st, struct err *err)
{
	if (writable(st, err) < 0)
		return -1;
	if (sqlite3_get_autocommit(st->db))
		return err_set(err, ERR_SYS,
		    "state %s: no transaction to commit", st->path);
	return exec_id(st, S_COMMIT, err);
}

int
state_rollback(struct state *st, struct err *err)
{
	if (writable(st, err) < 0)
		return -1;
	if (sqlite3_get_autocommit(st->db))
		return 0;
	return exec_id(st, S_ROLLBACK, err);
}

bool
state_in_transaction(struct state *st)
{
	return !sqlite3_get_autocommit(st->db);
}

/*
 * meta
 */

int
state_meta_get(
    struct state *st, const char *key, char *out, size_t size, struct err *err)
{
	sqlite3_stmt *s;
	const char *v;
	size_t n;
	int rc;

	if (state_valid_atom(
		key, STATE_META_MAX, false, "meta key", ERR_SYS, err) < 0)
		return -1;
	if ((s = stmt(st, S_META_GET, err)) == NULL)
		return -1;
	if (bind_text(s, 1, key) != SQLITE_OK)
		return bind_fail(st, s, err);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return finish(st, s, rc, err, "reading meta %s", key);
	v = col_text(s, 0);
	n = strlen(v);
	if (n < size)
		memcpy(out, v, n + 1);
	done(s);
	if (n >= size)
		return err_set(err, ERR_LIMIT,
		    "state %s: meta %s: value longer than %zu bytes", st->path,
		    key, size);
	return 1;
}

int
state_meta_set(
    struct state *st, const char *key, const char *value, struct err *err)
{
	sqlite3_stmt *s;

	if (state_valid_atom(
		key, STATE_META_MAX, false, "meta key", ERR_SYS, err) < 0 ||
	    writable(st, err) < 0)
		return -1;
	if (value == NULL ||
	    strnlen(value, STATE_META_MAX + 1) > STATE_META_MAX)
		return err_set(
		    err, ERR_LIMIT, "state: meta %s: bad value", key);
	if ((s = stmt(st, S_META_SET, err)) == NULL)
		return -1;
	if (bind_text(s, 1, key) != SQLITE_OK ||
	    bind_text(s, 2, value) != SQLITE_OK)
		return bind_fail(st, s, err);
	return run(st, s, err);
}

/*
 * Folder pairs.
 */

static void
pair_from_row(sqlite3_stmt *s, struct state_pair *p)
{
	int side;

	p->id = sqlite3_column_int64(s, 0);
	p->name[STATE_FAR] = xstrdup(col_text(s, 1));
	p->name[STATE_NEAR] = xstrdup(col_text(s, 2));
	for (side = 0; side < 2; side++) {
		p->marks[side].uidvalidity = col_u32(s, 3 + side);
		p->marks[side].uidnext = col_u32(s, 5 + side);
		p->marks[side].modseq =
		    (uint64_t)sqlite3_column_int64(s, 7 + side);
		p->marks[side].messages = col_u32(s, 9 + side);
	}
	p->last_sync = sqlite3_column_int64(s, 11);
}

/* Step a bound pair query: 1 and *out filled, 0, or -1. */
static int
pair_query(
    struct state *st, sqlite3_stmt *s, struct state_pair *out, struct err *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		pair_from_row(s, out);
		done(s);
		return 1;
	}
	return finish(st, s, rc, err, "looking up a folder pair");
}

static int
pair_find(struct state *st, enum state_side side, const char *name,
    struct state_pair *out, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_PAIR_BY_FAR + side, err);

	if (s == NULL)
		return -1;
	if (bind_text(s, 1, name) != SQLITE_OK)
		return bind_fail(st, s, err);
	return pair_query(st, s, out, err);
}

int
state_pair_find(struct state *st, enum state_side side, const char *name,
    struct state_pair *out, struct err *err)
{
	assert(SIDE_OK(side));
	if (state_valid_name(name, err) < 0)
		return -1;
	return pair_find(st, side, name, out, err);
}

int
state_pair_get(
    struct state *st, int64_t id, struct state_pair *out, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_PAIR_BY_ID, err);

	if (s == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK)
		return bind_fail(st, s, err);
	return pair_query(st, s, out, err);
}

/* Fail because side's name is paired in p with another folder. */
static int
pair_taken(struct state *st, struct state_pair *p, enum state_side side,
    struct err *err)
{
	enum state_side other = !side;

	err_set(err, ERR_BOX,
	    "state %s: %s folder \"%s\" is already paired with %s folder "
	    "\"%s\"",
	    st->path, side_names[side], p->name[side], side_names[other],
	    p->name[other]);
	state_pair_release(p);
	return -1;
}

static int
pair_create(struct state *st, const char *far, const char *near,
    struct state_pair *out, struct err *err)
{
	struct state_pair p = {0};
	sqlite3_stmt *s;
	int r;

	if ((r = pair_find(st, STATE_FAR, far, &p, err)) < 0)
		return -1;
	if (r == 1 && strcmp(p.name[STATE_NEAR], near) == 0) {
		*out = p;
		return 0;
	}
	if (r == 1)
		return pair_taken(st, &p, STATE_FAR, err);
	if ((r = pair_find(st, STATE_NEAR, near, &p, err)) != 0)
		return r < 0 ? -1 : pair_taken(st, &p, STATE_NEAR, err);
	if ((s = stmt(st, S_PAIR_INSERT, err)) == NULL)
		return -1;
	if (bind_text(s, 1, far) != SQLITE_OK ||
	    bind_text(s, 2, near) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, now()) != SQLITE_OK)
		return bind_fail(st, s, err);
	if (run(st, s, err) < 0)
		return -1;
	r = state_pair_get(st, sqlite3_last_insert_rowid(st->db), out, err);
	return r == 1 ? 0 : -1;
}

int
state_pair_get_or_create(struct state *st, const char *far, const char *near,
    struct state_pair *out, struct err *err)
{
	if (state_valid_name(far, err) < 0 || state_valid_name(near, err) < 0 ||
	    writable(st, err) < 0 || sp_begin(st, err) < 0)
		return -1;
	return sp_end(st, pair_create(st, far, near, out, err), err);
}

int
state_pair_update(struct state *st, const struct state_pair *p, struct err *err)
{
	sqlite3_stmt *s;
	int side, i, bad = 0;

	if (writable(st, err) < 0)
		return -1;
	for (side = 0; side < 2; side++)
		if (p->marks[side].modseq > INT64_MAX)
			return err_set(err, ERR_BOX,
			    "state: mod-sequence %" PRIu64 " out of range",
			    p->marks[side].modseq);
	if ((s = stmt(st, S_PAIR_UPDATE, err)) == NULL)
		return -1;
	bad |= sqlite3_bind_int64(s, 1, p->id);
	for (side = 0; side < 2; side++) {
		i = 2 + 4 * side;
		bad |= sqlite3_bind_int64(s, i, p->marks[side].uidvalidity);
		bad |= sqlite3_bind_int64(s, i + 1, p->marks[side].uidnext);
		bad |= sqlite3_bind_int64(
		    s, i + 2, (int64_t)p->marks[side].modseq);
		bad |= sqlite3_bind_int64(s, i + 3, p->marks[side].messages);
	}
	bad |= sqlite3_bind_int64(s, 10, p->last_sync);
	if (bad != SQLITE_OK)
		return bind_fail(st, s, err);
	if (run(st, s, err) < 0)
		return -1;
	if (sqlite3_changes(st->db) == 0)
		return err_set(err, ERR_BOX,
		    "state %s: no folder pair %" PRId64, st->path, p->id);
	return 0;
}

int
state_pair_list(
    struct state *st, struct state_pair **out, size_t *n_out, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_PAIR_ALL, err);
	struct state_pair *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*n_out = 0;
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		pair_from_row(s, &v[n++]);
	}
	if (finish(st, s, rc, err, "listing folder pairs") < 0) {
		state_pair_list_free(v, n);
		return -1;
	}
	*out = v;
	*n_out = n;
	return 0;
}

int
state_pair_delete(struct state *st, int64_t id, struct err *err)
{
	if (writable(st, err) < 0)
		return -1;
	return run_int(st, S_PAIR_DELETE, id, 0, NULL, err);
}

void
state_pair_release(struct state_pair *p)
{
	free(p->name[STATE_FAR]);
	free(p->name[STATE_NEAR]);
	p->name[STATE_FAR] = p->name[STATE_NEAR] = NULL;
}

void
state_pair_list_free(struct state_pair *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		state_pair_release(&v[i]);
	free(v);
}

/*
 * Messages.
 */

/* Point m at the current row of s (valid until s moves). */
static void
msg_from_row(sqlite3_stmt *s, struct state_msg *m)
{
	m->id = sqlite3_column_int64(s, 0);
	m->pair = sqlite3_column_int64(s, 1);
	m->uid[STATE_FAR] = col_u32(s, 2);
	m->uid[STATE_NEAR] = col_u32(s, 3);
	m->flags = col_text(s, 4);
	m->size = (uint64_t)sqlite3_column_int64(s, 5);
	m->internaldate = sqlite3_column_int64(s, 6);
	m->fp = sqlite3_column_blob(s, 7);
	m->fp_len = (size_t)sqlite3_column_bytes(s, 7);
	if (m->fp_len == 0)
		m->fp = NULL;
	m->objid[STATE_FAR] = col_text_or_null(s, 8);
	m->objid[STATE_NEAR] = col_text_or_null(s, 9);
}

/* Copy the strings of m into st->row, so they outlive the statement. */
static int
keep_row(struct state *st, struct state_msg *m, struct err *err)
{
	size_t n = strlen(m->flags);
	int side;

	if (n > STATE_FLAGS_MAX || m->fp_len > STATE_FP_MAX)
		return corrupt(st, err, "a message row is too long");
	memcpy(st->row.flags, m->flags, n + 1);
	m->flags = st->row.flags;
	if (m->fp_len > 0)
		m->fp = memcpy(st->row.fp, m->fp, m->fp_len);
	for (side = 0; side < 2; side++) {
		if (m->objid[side] == NULL)
			continue;
		n = strlen(m->objid[side]);
		if (n > STATE_OBJID_MAX)
			return corrupt(st, err, "an object id is too long");
		m->objid[side] =
		    memcpy(st->row.objid[side], m->objid[side], n + 1);
	}
	return 0;
}

/* Step a bound message query: 1 with *out kept, 0, or -1. */
static int
msg_query(
    struct state *st, sqlite3_stmt *s, struct state_msg *out, struct err *err)
{
	struct state_msg m;
	int rc = sqlite3_step(s);

	if (rc != SQLITE_ROW)
		return finish(st, s, rc, err, "looking up a message");
	msg_from_row(s, &m);
	rc = keep_row(st, &m, err);
	done(s);
	if (rc < 0)
		return -1;
	*out = m;
	return 1;
}

static int
check_msg(const struct state_msg *m, struct err *err)
{
	if (state_valid_uid(m->uid[STATE_FAR], "far", err) < 0 ||
	    state_valid_uid(m->uid[STATE_NEAR], "near", err) < 0 ||
	    state_valid_flags(m->flags ? m->flags : "", err) < 0 ||
	    state_valid_fp(m->fp, m->fp_len, true, err) < 0 ||
	    state_valid_atom(m->objid[STATE_FAR], STATE_OBJID_MAX, true,
		"object id", ERR_MSG, err) < 0 ||
	    state_valid_atom(m->objid[STATE_NEAR], STATE_OBJID_MAX, true,
		"object id", ERR_MSG, err) < 0)
		return -1;
	if (m->size > INT64_MAX)
		return err_set(
		    err, ERR_MSG, "state: message size out of range");
	return 0;
}

int
state_msg_add(struct state *st, const struct state_msg *m, int64_t *id_out,
    struct err *err)
{
	sqlite3_stmt *s;

	if (check_msg(m, err) < 0 || writable(st, err) < 0)
		return -1;
	if ((s = stmt(st, S_MSG_INSERT, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, m->pair) != SQLITE_OK ||
	    bind_uid(s, 2, m->uid[STATE_FAR]) != SQLITE_OK ||
	    bind_uid(s, 3, m->uid[STATE_NEAR]) != SQLITE_OK ||
	    bind_text(s, 4, m->flags ? m->flags : "") != SQLITE_OK ||
	    sqlite3_bind_int64(s, 5, (int64_t)m->size) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 6, m->internaldate) != SQLITE_OK ||
	    bind_blob(s, 7, m->fp, m->fp_len) != SQLITE_OK ||
	    bind_text(s, 8, empty_to_null(m->objid[STATE_FAR])) != SQLITE_OK ||
	    bind_text(s, 9, empty_to_null(m->objid[STATE_NEAR])) != SQLITE_OK)
		return bind_fail(st, s, err);
	if (finish(st, s, sqlite3_step(s), err,
		"recording far UID %" PRIu32 " = near UID %" PRIu32
		" in folder pair %" PRId64,
		m->uid[STATE_FAR], m->uid[STATE_NEAR], m->pair) < 0)
		return -1;
	if (id_out)
		*id_out = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int
state_msg_find(struct state *st, int64_t pair, enum state_side side,
    uint32_t uid, struct state_msg *out, struct err *err)
{
	sqlite3_stmt *s;

	assert(SIDE_OK(side));
	if ((s = stmt(st, S_MSG_BY_FAR + side, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, uid) != SQLITE_OK)
		return bind_fail(st, s, err);
	return msg_query(st, s, out, err);
}

int
state_msg_find_fp(struct state *st, int64_t pair, enum state_side side,
    const void *fp, size_t fp_len, struct state_msg *out, struct err *err)
{
	sqlite3_stmt *s;

	assert(SIDE_OK(side));
	if (state_valid_fp(fp, fp_len, false, err) < 0)
		return -1;
	if ((s = stmt(st, S_MSG_FP_FAR + side, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK ||
	    bind_blob(s, 2, fp, fp_len) != SQLITE_OK)
		return bind_fail(st, s, err);
	return msg_query(st, s, out, err);
}

int
state_msg_find_objid(struct state *st, int64_t pair, enum state_side side,
    const char *objid, struct state_msg *out, struct err *err)
{
	sqlite3_stmt *s;

	assert(SIDE_OK(side));
	if (state_valid_atom(
		objid, STATE_OBJID_MAX, false, "object id", ERR_MSG, err) < 0)
		return -1;
	if ((s = stmt(st, S_MSG_OBJID_FAR + side, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK ||
	    bind_text(s, 2, objid) != SQLITE_OK)
		return bind_fail(st, s, err);
	return msg_query(st, s, out, err);
}

int
state_msg_set_flags(
    struct state *st, int64_t id, const char *flags, struct err *err)
{
	sqlite3_stmt *s;

	if (flags == NULL)
		flags = "";
	if (state_valid_flags(flags, err) < 0 || writable(st, err) < 0)
		return -1;
	if ((s = stmt(st, S_MSG_SET_FLAGS, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK ||
	    bind_text(s, 2, flags) != SQLITE_OK)
		return bind_fail(st, s, err);
	if (run(st, s, err) < 0)
		return -1;
	if (sqlite3_changes(st->db) == 0)
		return err_set(err, ERR_MSG,
		    "state %s: no message row %" PRId64, st->path, id);
	return 0;
}

int
state_msg_set_uid(struct state *st, int64_t id, enum state_side side,
    uint32_t uid, const char *objid, struct err *err)
{
	sqlite3_stmt *s;

	assert(SIDE_OK(side));
	if (state_valid_uid(uid, side_names[side], err) < 0 ||
	    state_valid_atom(
		objid, STATE_OBJID_MAX, true, "object id", ERR_MSG, err) < 0 ||
	    writable(st, err) < 0)
		return -1;
	if ((s = stmt(st, S_MSG_SET_FAR + side, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK ||
	    bind_uid(s, 2, uid) != SQLITE_OK ||
	    bind_text(s, 3, empty_to_null(objid)) != SQLITE_OK)
		return bind_fail(st, s, err);
	if (finish(st, s, sqlite3_step(s), err,
		"setting %s UID %" PRIu32 " of message row %" PRId64,
		side_names[side], uid, id) < 0)
		return -1;
	if (sqlite3_changes(st->db) == 0)
		return err_set(err, ERR_MSG,
		    "state %s: no message row %" PRId64, st->path, id);
	return 0;
}

int
state_msg_forget_side(
    struct state *st, int64_t id, enum state_side side, struct err *err)
{
	int changes = 0;

	assert(SIDE_OK(side));
	if (writable(st, err) < 0 ||
	    run_int(st, S_MSG_UNSET_FAR + side, id, 0, &changes, err) < 0)
		return -1;
	if (changes == 0)
		return err_set(err, ERR_MSG,
		    "state %s: message row %" PRId64 " has no %s UID to keep",
		    st->path, id, side_names[1 - side]);
	return 0;
}

int
state_msg_delete(struct state *st, int64_t pair, enum state_side side,
    uint32_t uid, struct err *err)
{
	assert(SIDE_OK(side));
	if (writable(st, err) < 0)
		return -1;
	return run_int(st, S_MSG_DEL_FAR + side, pair, uid, NULL, err);
}

int
state_msg_delete_id(struct state *st, int64_t id, struct err *err)
{
	if (writable(st, err) < 0)
		return -1;
	return run_int(st, S_MSG_DEL_ID, id, 0, NULL, err);
}

/*
 * Step s, already bound, handing each row to each(); the shared loop of
 * every foreach.  each() converts the row and calls the user's callback.
 */
static int
foreach_row(struct state *st, sqlite3_stmt *s,
    int (*each)(sqlite3_stmt *, void *, struct err *), void *ctx,
    struct err *err)
{
	int rc, r = 0;

	st->iterating++;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((r = each(s, ctx, err)) != 0)
			break;
	st->iterating--;
	if (rc == SQLITE_ROW) {
		done(s);
		return r < 0 ? -1 : 0;
	}
	return finish(st, s, rc, err, "%s", sqlite3_sql(s));
}

struct msg_ctx {
	state_msg_fn fn;
	void *arg;
};

static int
msg_each(sqlite3_stmt *s, void *ctx, struct err *err)
{
	struct msg_ctx *c = ctx;
	struct state_msg m;

	msg_from_row(s, &m);
	return c->fn(c->arg, &m, err);
}

int
state_msg_foreach(struct state *st, int64_t pair, enum state_side order,
    state_msg_fn fn, void *arg, struct err *err)
{
	struct msg_ctx c = {fn, arg};
	sqlite3_stmt *s;

	assert(SIDE_OK(order));
	if ((s = stmt(st, S_MSG_ALL_FAR + order, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK)
		return bind_fail(st, s, err);
	return foreach_row(st, s, msg_each, &c, err);
}

int
state_msg_foreach_some(struct state *st, int64_t pair,
    const uint32_t *const uids[2], const size_t n[2], state_msg_fn fn,
    void *arg, struct err *err)
{
	struct msg_ctx c = {fn, arg};
	sqlite3_stmt *s;
	size_t i;
	int side;

	if ((s = stmt(st, S_MSG_ONE_SIDED, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK)
		return bind_fail(st, s, err);
	if (foreach_row(st, s, msg_each, &c, err) == -1)
		return -1;
	for (side = 0; side < 2; side++)
		for (i = 0; i < n[side]; i++) {
			s = stmt(st, S_MSG_BY_FAR + side, err);
			if (s == NULL)
				return -1;
			if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK ||
			    sqlite3_bind_int64(s, 2, uids[side][i]) !=
				SQLITE_OK)
				return bind_fail(st, s, err);
			if (foreach_row(st, s, msg_each, &c, err) == -1)
				return -1;
		}
	return 0;
}

int
state_msg_uids(struct state *st, int64_t pair, enum state_side side,
    uint32_t **out, size_t *n_out, struct err *err)
{
	sqlite3_stmt *s;
	size_t n = 0, cap = 64;
	uint32_t *v;
	int rc;

	assert(SIDE_OK(side));
	*out = NULL;
	*n_out = 0;
	if ((s = stmt(st, S_MSG_UIDS_FAR + side, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK)
		return bind_fail(st, s, err);
	v = xreallocarray(NULL, cap, sizeof(*v));
	st->iterating++;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap *= 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	st->iterating--;
	if (finish(st, s, rc, err, "%s", sqlite3_sql(s)) == -1) {
		free(v);
		return -1;
	}
	*out = v;
	*n_out = n;
	return 0;
}

int
state_msg_count(
    struct state *st, int64_t pair, uint64_t *n_out, struct err *err)
{
	return count_int(
	    st, pair ? S_MSG_COUNT : S_MSG_COUNT_ALL, pair, n_out, err);
}

static int
reset_side(struct state *st, int64_t pair, enum state_side side,
    uint32_t uidvalidity, struct err *err)
{
	sqlite3_stmt *s;
	int changed;

	if (run_int(st, S_PAIR_RESET_FAR + side, pair, uidvalidity, &changed,
		err) < 0)
		return -1;
	if (changed == 0)
		return err_set(err, ERR_BOX,
		    "state %s: no folder pair %" PRId64, st->path, pair);
	if (run_int(st, S_MSG_DROP_FAR + side, pair, 0, NULL, err) < 0 ||
	    run_int(st, S_MSG_FORGET_FAR + side, pair, 0, NULL, err) < 0 ||
	    run_int(st, S_PEND_DEL_PAIR, pair, 0, NULL, err) < 0)
		return -1;
	if ((s = stmt(st, S_FAIL_CLEAR_SIDE, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK ||
	    bind_text(s, 2, side_names[side]) != SQLITE_OK)
		return bind_fail(st, s, err);
	return run(st, s, err);
}

int
state_msg_reset_side(struct state *st, int64_t pair, enum state_side side,
    uint32_t uidvalidity, struct err *err)
{
	assert(SIDE_OK(side));
	if (writable(st, err) < 0 || sp_begin(st, err) < 0)
		return -1;
	return sp_end(st, reset_side(st, pair, side, uidvalidity, err), err);
}

/*
 * Pending copy intents.
 */

int
state_pending_add(struct state *st, const struct state_pending *p,
    int64_t *id_out, struct err *err)
{
	sqlite3_stmt *s;

	assert(SIDE_OK(p->dest));
	if (state_valid_uid(p->source_uid, "source", err) < 0 ||
	    state_valid_fp(p->fp, p->fp_len, false, err) < 0 ||
	    writable(st, err) < 0)
		return -1;
	if ((s = stmt(st, S_PEND_INSERT, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, p->pair) != SQLITE_OK ||
	    bind_text(s, 2, side_names[p->dest]) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, p->source_uid) != SQLITE_OK ||
	    bind_blob(s, 4, p->fp, p->fp_len) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 5, p->dest_uidnext) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 6, now()) != SQLITE_OK)
		return bind_fail(st, s, err);
	if (finish(st, s, sqlite3_step(s), err,
		"recording the copy of %s UID %" PRIu32
		" in folder pair %" PRId64,
		side_names[!p->dest], p->source_uid, p->pair) < 0)
		return -1;
	if (id_out)
		*id_out = sqlite3_last_insert_rowid(st->db);
	return 0;
}

struct pending_ctx {
	state_pending_fn fn;
	void *arg;
};

static int
pending_each(sqlite3_stmt *s, void *ctx, struct err *err)
{
	struct pending_ctx *c = ctx;
	struct state_pending p;

	p.id = sqlite3_column_int64(s, 0);
	p.pair = sqlite3_column_int64(s, 1);
	p.dest = side_from_text(sqlite3_column_text(s, 2));
	p.source_uid = col_u32(s, 3);
	p.fp = sqlite3_column_blob(s, 4);
	p.fp_len = (size_t)sqlite3_column_bytes(s, 4);
	p.dest_uidnext = col_u32(s, 5);
	p.created = sqlite3_column_int64(s, 6);
	return c->fn(c->arg, &p, err);
}

int
state_pending_foreach(struct state *st, int64_t pair, state_pending_fn fn,
    void *arg, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_PEND_LIST, err);
	struct pending_ctx c = {fn, arg};

	if (s == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK)
		return bind_fail(st, s, err);
	return foreach_row(st, s, pending_each, &c, err);
}

int
state_pending_remove(struct state *st, int64_t id, struct err *err)
{
	if (writable(st, err) < 0)
		return -1;
	return run_int(st, S_PEND_DEL, id, 0, NULL, err);
}

int
state_pending_count(
    struct state *st, int64_t pair, uint64_t *n_out, struct err *err)
{
	return count_int(st, S_PEND_COUNT, pair, n_out, err);
}

/*
 * Failures.
 */

/* Bind the key (pair, side, uid, kind) of a failure statement. */
static int
bind_failure_key(sqlite3_stmt *s, int64_t pair, enum state_side side,
    uint32_t uid, const char *kind)
{
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK ||
	    bind_text(s, 2, side_names[side]) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, uid) != SQLITE_OK ||
	    bind_text(s, 4, kind) != SQLITE_OK)
		return -1;
	return 0;
}

/* Bump a known failure or insert a new one; then read its attempts. */
static int
failure_record(struct state *st, int64_t pair, enum state_side side,
    uint32_t uid, const char *kind, const char *text, size_t len,
    uint32_t *attempts_out, struct err *err)
{
	enum stmt_id ids[] = {S_FAIL_BUMP, S_FAIL_INSERT};
	sqlite3_stmt *s;
	uint64_t n = 0;
	size_t i;
	int rc;

	for (i = 0; i < nitems(ids); i++) {
		if ((s = stmt(st, ids[i], err)) == NULL)
			return -1;
		if (bind_failure_key(s, pair, side, uid, kind) < 0 ||
		    sqlite3_bind_text(s, 5, text, (int)len, SQLITE_STATIC) !=
			SQLITE_OK ||
		    sqlite3_bind_int64(s, 6, now()) != SQLITE_OK)
			return bind_fail(st, s, err);
		if (run(st, s, err) < 0)
			return -1;
		if (sqlite3_changes(st->db) > 0)
			break;
	}
	if ((s = stmt(st, S_FAIL_ATTEMPTS, err)) == NULL)
		return -1;
	if (bind_failure_key(s, pair, side, uid, kind) < 0)
		return bind_fail(st, s, err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		n = (uint64_t)sqlite3_column_int64(s, 0);
	if (finish(st, s, rc, err, "reading a failure") < 0)
		return -1;
	if (attempts_out)
		*attempts_out = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	return 0;
}

int
state_failure_record(struct state *st, int64_t pair, enum state_side side,
    uint32_t uid, const char *kind, const char *error, uint32_t *attempts_out,
    struct err *err)
{
	size_t len;
	int rc;

	assert(SIDE_OK(side));
	if (error == NULL)
		error = "";
	if (state_valid_atom(kind, STATE_KIND_MAX, false, "failure kind",
		ERR_MSG, err) < 0 ||
	    writable(st, err) < 0)
		return -1;
	/* Cut at a character boundary: back off over continuation bytes. */
	len = strnlen(error, STATE_ERROR_MAX + 1);
	if (len > STATE_ERROR_MAX) {
		len = STATE_ERROR_MAX;
		while (len > 0 && ((unsigned char)error[len] & 0xc0) == 0x80)
			len--;
	}
	if (sp_begin(st, err) < 0)
		return -1;
	rc = failure_record(
	    st, pair, side, uid, kind, error, len, attempts_out, err);
	return sp_end(st, rc, err);
}

struct failure_ctx {
	state_failure_fn fn;
	void *arg;
};

static int
failure_each(sqlite3_stmt *s, void *ctx, struct err *err)
{
	struct failure_ctx *c = ctx;
	struct state_failure f;
	int64_t attempts;

	f.pair = sqlite3_column_int64(s, 0);
	f.side = side_from_text(sqlite3_column_text(s, 1));
	f.uid = col_u32(s, 2);
	f.kind = col_text(s, 3);
	attempts = sqlite3_column_int64(s, 4);
	f.attempts = attempts > UINT32_MAX ? UINT32_MAX : (uint32_t)attempts;
	f.error = col_text(s, 5);
	f.first_seen = sqlite3_column_int64(s, 6);
	f.last_seen = sqlite3_column_int64(s, 7);
	return c->fn(c->arg, &f, err);
}

int
state_failure_foreach(struct state *st, int64_t pair, state_failure_fn fn,
    void *arg, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_FAIL_LIST, err);
	struct failure_ctx c = {fn, arg};

	if (s == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, pair) != SQLITE_OK)
		return bind_fail(st, s, err);
	return foreach_row(st, s, failure_each, &c, err);
}

int
state_failure_clear(struct state *st, int64_t pair, enum state_side side,
    uint32_t uid, const char *kind, struct err *err)
{
	sqlite3_stmt *s;

	assert(SIDE_OK(side));
	if (writable(st, err) < 0 || (s = stmt(st, S_FAIL_CLEAR, err)) == NULL)
		return -1;
	if (bind_failure_key(s, pair, side, uid, empty_to_null(kind)) < 0)
		return bind_fail(st, s, err);
	return run(st, s, err);
}

int
state_failure_count(
    struct state *st, int64_t pair, uint64_t *n_out, struct err *err)
{
	return count_int(st, S_FAIL_COUNT, pair, n_out, err);
}

/*
 * Maildir identity.
 */

#define MD_UIDVALIDITY_KEY "state.maildir_uidvalidity"

/* A UIDVALIDITY above every one handed out before, and near the time. */
static int
fresh_uidvalidity(struct state *st, uint32_t *out, struct err *err)
{
	char text[32];
	uint64_t last = 0, v;
	int64_t t = now();
	int r;

	r = state_meta_get(st, MD_UIDVALIDITY_KEY, text, sizeof(text), err);
	if (r < 0)
		return -1;
	if (r == 1 && !str_to_u64(str_from(text), UINT32_MAX, &last))
		return corrupt(st, err, "bad " MD_UIDVALIDITY_KEY);
	v = t > 0 && t <= UINT32_MAX ? (uint64_t)t : 1;
	if (v <= last)
		v = last < UINT32_MAX ? last + 1 : 1;
	snprintf(text, sizeof(text), "%" PRIu64, v);
	if (state_meta_set(st, MD_UIDVALIDITY_KEY, text, err) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
mdfolder_query(struct state *st, sqlite3_stmt *s, struct state_mdfolder *out,
    struct err *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(s, 0);
		out->uidvalidity = col_u32(s, 1);
		out->uidnext = col_u32(s, 2);
		out->seen_token = (uint64_t)sqlite3_column_int64(s, 3);
		out->seen_digest = (uint64_t)sqlite3_column_int64(s, 4);
		out->seen_count = (uint64_t)sqlite3_column_int64(s, 5);
		done(s);
		return 1;
	}
	return finish(st, s, rc, err, "looking up a Maildir folder");
}

static int
mdfolder_create(struct state *st, const char *name, struct state_mdfolder *out,
    struct err *err)
{
	sqlite3_stmt *s;
	uint32_t uv;

	if (fresh_uidvalidity(st, &uv, err) < 0 ||
	    (s = stmt(st, S_MDF_INSERT, err)) == NULL)
		return -1;
	if (bind_text(s, 1, name) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, uv) != SQLITE_OK)
		return bind_fail(st, s, err);
	if (run(st, s, err) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_last_insert_rowid(st->db);
	out->uidvalidity = uv;
	out->uidnext = 1;
	return 0;
}

int
state_maildir_folder(struct state *st, const char *name,
    struct state_mdfolder *out, struct err *err)
{
	sqlite3_stmt *s;
	int r;

	if (state_valid_name(name, err) < 0 ||
	    (s = stmt(st, S_MDF_BY_NAME, err)) == NULL)
		return -1;
	if (bind_text(s, 1, name) != SQLITE_OK)
		return bind_fail(st, s, err);
	if ((r = mdfolder_query(st, s, out, err)) != 0)
		return r < 0 ? -1 : 0;
	if (writable(st, err) < 0 || sp_begin(st, err) < 0)
		return -1;
	return sp_end(st, mdfolder_create(st, name, out, err), err);
}

int
state_maildir_folder_get(
    struct state *st, int64_t id, struct state_mdfolder *out, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_MDF_BY_ID, err);

	if (s == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK)
		return bind_fail(st, s, err);
	return mdfolder_query(st, s, out, err);
}

/* The folder id, which must exist. */
static int
mdfolder_must(
    struct state *st, int64_t id, struct state_mdfolder *out, struct err *err)
{
	int r = state_maildir_folder_get(st, id, out, err);

	if (r == 0)
		return err_set(err, ERR_BOX,
		    "state %s: no Maildir folder %" PRId64, st->path, id);
	return r < 0 ? -1 : 0;
}

static int
mdfolder_store(struct state *st, int64_t id, uint32_t uidvalidity,
    uint32_t uidnext, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_MDF_SET, err);

	if (s == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, uidvalidity) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, uidnext) != SQLITE_OK)
		return bind_fail(st, s, err);
	return run(st, s, err);
}

static int
mdfolder_set(struct state *st, int64_t id, uint32_t uidvalidity,
    uint32_t uidnext, struct err *err)
{
	struct state_mdfolder f;
	sqlite3_stmt *s;
	uint64_t files = 0, maxuid = 0;
	int rc;

	if (mdfolder_must(st, id, &f, err) < 0 ||
	    (s = stmt(st, S_MDF_USED, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK)
		return bind_fail(st, s, err);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		files = (uint64_t)sqlite3_column_int64(s, 0);
		maxuid = (uint64_t)sqlite3_column_int64(s, 1);
	}
	if (finish(st, s, rc, err, "counting Maildir UIDs") < 0)
		return -1;
	if (uidnext <= maxuid)
		return err_set(err, ERR_BOX,
		    "state %s: UIDNEXT %" PRIu32 " is not above UID %" PRIu64
		    " of Maildir folder %" PRId64,
		    st->path, uidnext, maxuid, id);
	if (uidvalidity != f.uidvalidity && files > 0)
		return err_set(err, ERR_BOX,
		    "state %s: Maildir folder %" PRId64
		    " has UIDs; reset it to change its UIDVALIDITY",
		    st->path, id);
	return mdfolder_store(st, id, uidvalidity, uidnext, err);
}

int
state_maildir_folder_set(struct state *st, int64_t id, uint32_t uidvalidity,
    uint32_t uidnext, struct err *err)
{
	if (uidvalidity == 0 || uidnext == 0 || uidnext == UINT32_MAX)
		return err_set(err, ERR_BOX,
		    "state: bad UIDVALIDITY %" PRIu32 " or UIDNEXT %" PRIu32,
		    uidvalidity, uidnext);
	if (writable(st, err) < 0 || sp_begin(st, err) < 0)
		return -1;
	return sp_end(st, mdfolder_set(st, id, uidvalidity, uidnext, err), err);
}

static int
mdfolder_reset(
    struct state *st, int64_t id, struct state_mdfolder *out, struct err *err)
{
	struct state_mdfolder f;

	if (mdfolder_must(st, id, &f, err) < 0 ||
	    run_int(st, S_MD_FORGET_ALL, id, 0, NULL, err) < 0 ||
	    fresh_uidvalidity(st, &f.uidvalidity, err) < 0 ||
	    mdfolder_store(st, id, f.uidvalidity, 1, err) < 0)
		return -1;
	f.uidnext = 1;
	if (out)
		*out = f;
	return 0;
}

int
state_maildir_folder_reset(
    struct state *st, int64_t id, struct state_mdfolder *out, struct err *err)
{
	if (writable(st, err) < 0 || sp_begin(st, err) < 0)
		return -1;
	return sp_end(st, mdfolder_reset(st, id, out, err), err);
}

int
state_maildir_seen(struct state *st, int64_t id, uint64_t token,
    uint64_t digest, uint64_t count, struct err *err)
{
	sqlite3_stmt *s;

	if (writable(st, err) < 0 || (s = stmt(st, S_MDF_SEEN, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (int64_t)(token & INT64_MAX)) !=
		SQLITE_OK ||
	    sqlite3_bind_int64(s, 3, (int64_t)digest) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, (int64_t)count) != SQLITE_OK)
		return bind_fail(st, s, err);
	return run(st, s, err);
}

int
state_maildir_folder_delete(struct state *st, const char *name, struct err *err)
{
	sqlite3_stmt *s;

	if (state_valid_name(name, err) < 0 || writable(st, err) < 0 ||
	    (s = stmt(st, S_MDF_DELETE, err)) == NULL)
		return -1;
	if (bind_text(s, 1, name) != SQLITE_OK)
		return bind_fail(st, s, err);
	return run(st, s, err);
}

int
state_maildir_lookup(struct state *st, int64_t folder, const char *base,
    uint32_t *uid_out, struct err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (state_valid_base(base, err) < 0 ||
	    (s = stmt(st, S_MD_BY_BASE, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, folder) != SQLITE_OK ||
	    bind_text(s, 2, base) != SQLITE_OK)
		return bind_fail(st, s, err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*uid_out = col_u32(s, 0);
		done(s);
		return 1;
	}
	return finish(st, s, rc, err, "looking up Maildir file %s", base);
}

static int
md_assign(struct state *st, int64_t folder, const char *base, uint32_t *uid_out,
    struct err *err)
{
	struct state_mdfolder f;
	sqlite3_stmt *s;

	if (mdfolder_must(st, folder, &f, err) < 0)
		return -1;
	if (f.uidnext == UINT32_MAX)
		return err_set(err, ERR_BOX,
		    "state %s: Maildir folder %" PRId64
		    " has used up its UIDs; it needs a new UIDVALIDITY",
		    st->path, folder);
	if ((s = stmt(st, S_MD_INSERT, err)) == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, folder) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, f.uidnext) != SQLITE_OK ||
	    bind_text(s, 3, base) != SQLITE_OK)
		return bind_fail(st, s, err);
	if (finish(st, s, sqlite3_step(s), err, "giving %s UID %" PRIu32, base,
		f.uidnext) < 0 ||
	    mdfolder_store(st, folder, f.uidvalidity, f.uidnext + 1, err) < 0)
		return -1;
	*uid_out = f.uidnext;
	return 0;
}

int
state_maildir_assign(struct state *st, int64_t folder, const char *base,
    uint32_t *uid_out, struct err *err)
{
	int r = state_maildir_lookup(st, folder, base, uid_out, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (writable(st, err) < 0 || sp_begin(st, err) < 0)
		return -1;
	return sp_end(st, md_assign(st, folder, base, uid_out, err), err);
}

int
state_maildir_base(struct state *st, int64_t folder, uint32_t uid, char *out,
    size_t size, struct err *err)
{
	sqlite3_stmt *s = stmt(st, S_MD_BY_UID, err);
	const char *base;
	size_t n;
	int rc;

	if (s == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, folder) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, uid) != SQLITE_OK)
		return bind_fail(st, s, err);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		return finish(
		    st, s, rc, err, "looking up Maildir UID %" PRIu32, uid);
	base = col_text(s, 0);
	n = strlen(base);
	if (n < size)
		memcpy(out, base, n + 1);
	done(s);
	if (n >= size)
		return err_set(err, ERR_LIMIT,
		    "state %s: Maildir base name longer than %zu bytes",
		    st->path, size);
	return 1;
}

struct maildir_ctx {
	state_maildir_fn fn;
	void *arg;
};

static int
maildir_each(sqlite3_stmt *s, void *ctx, struct err *err)
{
	struct maildir_ctx *c = ctx;

	return c->fn(c->arg, col_u32(s, 0), col_text(s, 1), err);
}

static int
maildir_foreach(struct state *st, int which, int64_t folder,
    state_maildir_fn fn, void *arg, struct err *err)
{
	sqlite3_stmt *s = stmt(st, which, err);
	struct maildir_ctx c = {fn, arg};

	if (s == NULL)
		return -1;
	if (sqlite3_bind_int64(s, 1, folder) != SQLITE_OK)
		return bind_fail(st, s, err);
	return foreach_row(st, s, maildir_each, &c, err);
}

int
state_maildir_foreach(struct state *st, int64_t folder, state_maildir_fn fn,
    void *arg, struct err *err)
{
	return maildir_foreach(st, S_MD_ALL, folder, fn, arg, err);
}

int
state_maildir_foreach_by_base(struct state *st, int64_t folder,
    state_maildir_fn fn, void *arg, struct err *err)
{
	return maildir_foreach(st, S_MD_ALL_BY_BASE, folder, fn, arg, err);
}

int
state_maildir_forget(
    struct state *st, int64_t folder, uint32_t uid, struct err *err)
{
	if (writable(st, err) < 0)
		return -1;
	return run_int(st, S_MD_FORGET, folder, uid, NULL, err);
}
