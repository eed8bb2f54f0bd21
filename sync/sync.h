/* SPDX-License-Identifier: ISC */
/*
 * sync.h - one sync run of one channel: folders, then each folder pair
 * (skip the unchanged, scan, plan, execute, record), then a summary.
 *
 * sync_channel() drives two connected stores and the channel's state on
 * one poll loop until the pass is over; it is steps 1-6 of "The sync
 * algorithm" in DESIGN.md.  sync/ knows nothing of the configuration
 * file: cmd/ fills struct sync_channel_opts, including the hooks that
 * select and rename folders.
 *
 * Watermarks: for an IMAP side a pair's state_marks hold UIDVALIDITY,
 * UIDNEXT, HIGHESTMODSEQ and MESSAGES; for a Maildir side marks.modseq
 * holds the driver's change_token (store_folder.change_token) instead of
 * a mod-sequence.  Marks advance only after a pass of the pair that had
 * no failure; a side the pass changed keeps the values seen before the
 * changes, so the next run rescans it once (and plans nothing) rather
 * than risk skipping someone else's change made meanwhile.
 *
 * Ownership: the stores, the state and the loop are borrowed.  Output
 * (plans with dry_run, the summary via sync_summary_print) goes to the
 * FILE in the options or the caller's.
 */
#ifndef FERRY_SYNC_H
#define FERRY_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sync/plan.h"

struct err;
struct loop;
struct state;
struct store;

struct sync_channel_opts {
	const char *name; /* the channel, for messages */
	enum sync_mode mode;
	bool create; /* create missing folders where copies go */
	bool expunge; /* propagate deletions where the mode allows */
	bool force_deletes; /* ignore the deletion brake */
	bool dry_run; /* print the plans; change nothing anywhere */
	unsigned brake_percent, brake_min;
	/* Whether the folder with this far name is synced; required. */
	bool (*selected)(void *arg, const char *far_name);
	/*
	 * The name on side `to` of the folder called name on the other
	 * side, or NULL for the same name.  May be NULL.
	 */
	const char *(*map)(void *arg, const char *name, enum state_side to);
	void *arg;
	const char *only_folder; /* a far name: sync just it; NULL: all */
	unsigned batch; /* messages per copy batch; 0: 64 */
	FILE *out; /* plans (dry run); NULL: stdout */
	FILE *progress; /* a terminal for a progress line, or NULL */
};

#define SYNC_BRAKES_MAX 1024

struct sync_summary {
	unsigned folders; /* pairs looked at */
	unsigned unchanged; /* skipped: status equal to the watermarks */
	unsigned created; /* folders created */
	unsigned failed_folders; /* skipped after a folder-level error */
	uint64_t copied[2], copied_bytes[2]; /* by destination side */
	uint64_t flagged; /* messages whose flags were changed */
	uint64_t expunged[2]; /* by side */
	uint64_t paired; /* pairs and re-pairs recorded */
	uint64_t failed; /* messages that failed (recorded; retried) */
	uint64_t planned; /* operations planned */
	unsigned brakes; /* folders where deletions were held back */
	char brake_text[SYNC_BRAKES_MAX]; /* "folder: reason\n"... */
	int64_t ms; /* wall time */
	bool dry_run;
};

/*
 * sync_channel(loop, opts, far, near, st, out, err):
 * Sync the channel once (or with opts->dry_run, print what would be done
 * and change nothing).  Zero *out and fill it.  Per-message failures are
 * recorded in the state and counted in out->failed; a folder-level error
 * (ERR_BOX, ERR_TEMP) skips that folder and is counted in
 * out->failed_folders.  Return 0 when the channel was gone through, or
 * -1 with err when it had to stop (connection, authentication, state or
 * system errors).
 */
int sync_channel(struct loop *, const struct sync_channel_opts *,
    struct store *far, struct store *near, struct state *,
    struct sync_summary *out, struct err *);

/* Write the summary for humans, headed by the channel's name. */
void sync_summary_print(
    const struct sync_summary *, const char *channel, FILE *);

/*
 * Internal to sync/: executing one folder pair's plan (exec.c).
 */
struct sync_exec {
	struct store *store[2]; /* by side */
	const char *folder[2];
	struct state *st;
	int64_t pair;
	uint32_t dest_uidnext[2]; /* UIDNEXT before the copies, by side */
	unsigned batch;
	struct sync_summary *sum;
	FILE *progress; /* a terminal for "folder: copied n/m", or NULL */
	uint64_t copies_done, copies_planned;
	/* A window's pass: copies made by the folder's earlier windows, and
	 * about how many its later ones will make; 0, 0 otherwise. */
	uint64_t copies_before, copies_after;
	int64_t progress_ms; /* when the line was last shown */
	/* Out: a message failed or a copy is unresolved: keep the marks. */
	bool incomplete;
	bool touched[2]; /* something was changed on that side */
};

/*
 * sync_exec_start(x, plan, done, arg):
 * Carry the plan out in the order plan.h gives and record each result in
 * the state, on the loop; x and plan must stay put until done(arg, err)
 * is called, once (from inside this call when nothing needs a store).
 * Per-message failures are recorded and set x->incomplete.  err is NULL, or
 * ERR_BOX/ERR_TEMP for the folder, any other kind to stop the channel.  Several
 * passes may run at once, on different folder pairs: each state transaction
 * begins and ends inside one callback.
 */
typedef void sync_exec_cb(void *arg, const struct err *err);
void sync_exec_start(
    struct sync_exec *, const struct plan *, sync_exec_cb *, void *);

/*
 * sync_crash_point(what): for tests only (sync/crash.c).  Called right
 * after each durable step of a run; with FERRY_TEST_CRASH_AFTER=N the
 * process _exit(99)s after the Nth, with FERRY_TEST_CRASH_LIST=1 each
 * step's number and name go to stderr.  Reads the environment once.
 */
void sync_crash_point(const char *what);
/*
 * sync_test_window(dflt): the number of new messages a windowed pass
 * takes: dflt, or for tests FERRY_TEST_WINDOW (read once).
 */
unsigned long sync_test_window(unsigned long dflt);

#endif
