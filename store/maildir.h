/* SPDX-License-Identifier: ISC */
/*
 * maildir.h - the Maildir driver: a local directory tree as a store.
 *
 * The root of the tree is INBOX (cur/ new/ tmp/ at the root); other
 * folders live in subdirectories as the layout says.  Folder names are
 * UTF-8 on disk as they are.  Each folder's UIDVALIDITY, its next UID and
 * the UID of each message (keyed by the file's unique base name) live in
 * the state database, so that the local side has stable UIDs that survive
 * renames of files by a mail program.  Flags live in the file name's
 * ":2,<letters>" suffix; keywords use Dovecot's per-folder
 * "dovecot-keywords" file to map lowercase letters to names.  See the top
 * of maildir.c for the invariants.
 *
 * Ownership: maildir_store_new() copies what it needs from opts except
 * opts->state, which is borrowed and must outlive the store.  The store is
 * freed with store_free().
 */
#ifndef FERRY_MAILDIR_H
#define FERRY_MAILDIR_H

#include <stdbool.h>

struct err;
struct loop;
struct state;
struct store;

enum maildir_layout {
	MAILDIR_LAYOUT_FS = 0, /* folder "Work/Sub" is directory Work/Sub */
	MAILDIR_LAYOUT_PP, /* Maildir++: folder "Work/Sub" is .Work.Sub */
};

struct maildir_opts {
	const char *path; /* the root directory: INBOX */
	enum maildir_layout layout;
	struct state *state; /* required: UIDs live there */
	bool fsync; /* durable delivery (recommended) */
	bool create; /* create the root when missing */
};

/* The defaults: fs layout, fsync on, create off; path and state NULL. */
void maildir_opts_init(struct maildir_opts *);

/*
 * maildir_store_new(loop, name, opts, err):
 * A Maildir store named name (for logs) on opts->path.  Nothing is
 * touched on disk until store_connect(), which checks the root (or
 * creates it with opts->create).  Return NULL with err (ERR_CONFIG) when
 * the options are unusable.
 */
struct store *maildir_store_new(
    struct loop *, const char *name, const struct maildir_opts *, struct err *);

#endif
