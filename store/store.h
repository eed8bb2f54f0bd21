/* SPDX-License-Identifier: ISC */
/*
 * store.h - the endpoint interface every mail store implements.
 *
 * sync/ talks to an IMAP account and to a Maildir tree through exactly
 * this interface and never asks which one it has.  A store is a set of
 * folders with stable UIDs (per folder, under a UIDVALIDITY), flags, and
 * message bodies; the operations below are what a sync needs of it.
 *
 * Names: folder names cross this interface in UTF-8 with '/' as the
 * hierarchy separator, whatever the server's delimiter or the Maildir
 * layout; INBOX is "INBOX".  Drivers translate and validate.
 *
 * Flags: a canonical flag string, as in the state database: tokens
 * (system flags "\Answered" "\Deleted" "\Draft" "\Flagged" "\Seen", and
 * keywords) separated by one space, sorted in strcmp() order, without
 * duplicates; "" for none.  \Recent never appears.  store_flags_*()
 * below build and compare them.
 *
 * Asynchrony: every operation that may talk to a server takes a
 * completion callback and returns at once; the callback runs later from
 * the poll loop, exactly once, never from inside the call that started
 * the operation (drivers that finish at once defer it with a 0 ms timer).
 * Many operations may be outstanding on one store at the same time: a
 * driver spreads them over its connections and pipelines them, and keeps
 * the order of operations on the same folder.  On failure the callback
 * gets err (its kind says whether to skip a message, a folder, or stop).
 *
 * Ownership: results passed to callbacks (folder lists, change sets) are
 * valid only during the callback.  Arguments (names, UID arrays, flag
 * strings, bodies) are copied or fully used before the call returns,
 * unless said otherwise.
 */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct loop;
struct state;
struct store;

#define STORE_FP_LEN 32 /* fingerprint bytes (SHA-256) */
#define STORE_OBJID_MAX 128 /* EMAILID, X-GUID, X-GM-MSGID */
/* Header bytes a fingerprint looks at; drivers need read no more. */
#define STORE_HEADER_MAX (64 * 1024)

/* Folder attributes (LIST attributes and RFC 6154 special use). */
enum store_folder_attr {
	STORE_NOSELECT = 1u << 0, /* a name in the tree, not a folder */
	STORE_ALL = 1u << 1,
	STORE_ARCHIVE = 1u << 2,
	STORE_DRAFTS = 1u << 3,
	STORE_FLAGGED = 1u << 4,
	STORE_JUNK = 1u << 5,
	STORE_SENT = 1u << 6,
	STORE_TRASH = 1u << 7,
};

struct store_folder {
	char *name; /* UTF-8, '/'-separated */
	unsigned attrs; /* enum store_folder_attr */
	/* Cheap status, when has_status (LIST-STATUS, STATUS, Maildir). */
	bool has_status;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t messages;
	uint64_t highestmodseq; /* 0: the folder has no mod-sequences */
	/*
	 * Maildir: a token that changes whenever the folder's cur/ or new/
	 * directory changes (their mtimes); equal tokens mean nothing to
	 * rescan.  Below 2^63 (it is stored as a signed integer).  IMAP: 0.
	 */
	uint64_t change_token;
};

/* One message as a change set reports it. */
struct store_msg {
	uint32_t uid;
	const char *flags; /* canonical flag string */
	uint64_t size; /* bytes (RFC822.SIZE); 0 with flags_only */
	int64_t internaldate; /* seconds since the epoch; 0 unknown */
	uint64_t modseq; /* 0 when unknown */
	/*
	 * Identity: SHA-256 over the normalized Message-ID, the size and the
	 * internal date, or over the header block when there is no
	 * Message-ID (store_fingerprint()).  fp_len is 0 when the driver
	 * did not compute it (flags_only).
	 */
	unsigned char fp[STORE_FP_LEN];
	size_t fp_len;
	const char *objid; /* server's stable id, or NULL */
	bool flags_only; /* a known message whose flags changed */
};

/* What store_scan() says about a folder since a recorded point. */
struct store_changes {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq; /* 0: no mod-sequences here */
	/*
	 * full: msgs lists every message in the folder, so a UID absent
	 * from it is positive evidence that the message is gone.  Otherwise
	 * msgs lists new messages (uid >= the since point's uidnext) and
	 * flag changes of known ones, and vanished lists expunged UIDs that
	 * the server reported (QRESYNC VANISHED, or a UID SEARCH compared
	 * with known_uids).
	 */
	bool full;
	const struct store_msg *msgs;
	size_t nmsgs;
	const uint32_t *vanished;
	size_t nvanished;
	/* Flags the folder keeps (PERMANENTFLAGS), canonical; "*" in
	 * perm_keywords means any keyword. */
	const char *permflags;
	bool perm_keywords;
	/* How the driver found this out, for logs: "qresync",
	 * "condstore", "full", "maildir", "maildir-unchanged". */
	const char *method;
};

/* The point store_scan() reports changes since. */
struct store_since {
	uint32_t uidvalidity; /* 0: nothing known: report in full */
	uint32_t uidnext;
	uint64_t modseq;
	uint64_t change_token; /* Maildir: from store_folder */
	/* UIDs known to exist (sorted), so that expunges can be found
	 * without QRESYNC; may be NULL when uidvalidity is 0. */
	const uint32_t *known_uids;
	size_t nknown;
	/*
	 * A window over the new messages (IMAP): only those with a UID in
	 * [window_lo, window_hi) are reported; window_hi 0: no window.  A
	 * windowed scan is never full.  It bounds what one pass over a big
	 * folder holds; the caller moves the window on pass by pass.
	 */
	uint32_t window_lo, window_hi;
};

/*
 * Where a body goes (store_fetch) or comes from (store_append): an open
 * file descriptor positioned at the start, owned by the caller.  Bodies
 * are never held whole in memory by the drivers.
 */
struct store_body {
	int fd;
	uint64_t size; /* append: bytes to send; fetch: set by driver */
};

/*
 * One message of a batch (store_fetch_batch, store_append_batch).
 *   fetch:  uid in; body.fd is the caller's open file (at its start);
 *           body.size is set by the driver.
 *   append: flags, internaldate, body (fd at the start, size) in; uid out
 *           (0 when the store could not tell; the caller resolves it).
 *   err:    this message's result, set by the driver for every item:
 *           ERR_NONE when done, ERR_MSG / ERR_LIMIT for a failure of this
 *           message alone, any other kind when the batch was cut short
 *           before this message (the same error the batch's callback
 *           gets).
 */
struct store_item {
	uint32_t uid;
	const char *flags;
	int64_t internaldate;
	struct store_body body;
	struct err err;
};

typedef void store_done_cb(void *arg, const struct err *err);
typedef void store_list_cb(
    void *arg, const struct store_folder *, size_t, const struct err *err);
typedef void store_scan_cb(
    void *arg, const struct store_changes *, const struct err *err);
/* new_uid is 0 when the store could not tell (no APPENDUID and the
 * fallback search found nothing); the caller then resolves it later. */
typedef void store_append_cb(
    void *arg, uint32_t new_uid, const struct err *err);

/* The operations a driver implements; see the store_*() wrappers. */
struct store_ops {
	const char *kind; /* "imap", "maildir" */
	int (*connect)(struct store *, struct err *);
	void (*free)(struct store *);
	void (*list)(struct store *, store_list_cb *, void *);
	void (*scan)(struct store *, const char *folder,
	    const struct store_since *, store_scan_cb *, void *);
	void (*fetch_batch)(struct store *, const char *folder,
	    struct store_item *, size_t n, store_done_cb *, void *);
	void (*append_batch)(struct store *, const char *folder,
	    struct store_item *, size_t n, store_done_cb *, void *);
	void (*set_flags)(struct store *, const char *folder,
	    const uint32_t *uids, size_t n, const char *add, const char *remove,
	    store_done_cb *, void *);
	void (*expunge)(struct store *, const char *folder,
	    const uint32_t *uids, size_t n, store_done_cb *, void *);
	void (*create)(
	    struct store *, const char *folder, store_done_cb *, void *);
	void (*rename)(struct store *, const char *from, const char *to,
	    store_done_cb *, void *);
	void (*delete)(
	    struct store *, const char *folder, store_done_cb *, void *);
	/* May be NULL (store_settle() then says nothing). */
	int (*settle)(struct store *, const char *folder, struct store_folder *,
	    struct err *);
	/* May be NULL (store_will_touch() is a hint). */
	void (*will_touch)(
	    struct store *, const char *folder, const uint32_t *uids, size_t n);
};

/* The common head of every driver's store. */
struct store {
	const struct store_ops *ops;
	struct loop *loop;
	char *name; /* the store's name in the config */
};

/*
 * Connecting (IMAP: connect, TLS, login, capabilities; Maildir: check or
 * create the root) runs the loop until done.  Return 0 or -1 with err.
 */
int store_connect(struct store *, struct err *);
/* Log out, close, free; NULL is fine. */
void store_free(struct store *);

void store_list(struct store *, store_list_cb *, void *);
void store_scan(struct store *, const char *folder, const struct store_since *,
    store_scan_cb *, void *);
/* One message: a batch of one, its item's result as the callback's. */
void store_fetch(struct store *, const char *folder, uint32_t uid,
    struct store_body *, store_done_cb *, void *);
void store_append(struct store *, const char *folder, const char *flags,
    int64_t internaldate, const struct store_body *, store_append_cb *, void *);
/*
 * Batches: items[0..n) with their results in items[i].err (see struct
 * store_item); the items must stay put until the callback, whose err is
 * NULL or the error that cut the batch short (not about one message).
 * Items, the strings they point to and their open files must stay put
 * until then too (an IMAP append reads each body while it is sent).
 * A driver does a batch in as few round trips as it can (one UID FETCH
 * over a UID set; MULTIAPPEND), and a Maildir append batch syncs its
 * files to disk in one round: when the callback reports an item done,
 * its message is durable in the store.
 */
void store_fetch_batch(struct store *, const char *folder, struct store_item *,
    size_t n, store_done_cb *, void *);
void store_append_batch(struct store *, const char *folder, struct store_item *,
    size_t n, store_done_cb *, void *);
/* Add and remove flags (canonical strings, either may be "") on uids. */
void store_set_flags(struct store *, const char *folder, const uint32_t *uids,
    size_t n, const char *add, const char *remove, store_done_cb *, void *);
/* Remove exactly these messages (never others marked \Deleted). */
void store_expunge(struct store *, const char *folder, const uint32_t *uids,
    size_t n, store_done_cb *, void *);
void store_create(struct store *, const char *folder, store_done_cb *, void *);
void store_rename(
    struct store *, const char *from, const char *to, store_done_cb *, void *);
void store_delete(struct store *, const char *folder, store_done_cb *, void *);
const char *store_kind(const struct store *);
/* Is uid in sorted[0..n) (ascending)? */
bool store_uid_in(const uint32_t *sorted, size_t n, uint32_t uid);
/*
 * store_will_touch(s, folder, uids, n): a hint that flag changes and
 * expunges of these UIDs follow, in calls of their own, so that the
 * driver can prepare for all of them at once (Maildir: one read of the
 * directory finds their files).  Nothing is returned: a driver may
 * ignore it, and the calls work without it.
 */
void store_will_touch(
    struct store *, const char *folder, const uint32_t *uids, size_t n);
/*
 * store_settle(s, folder, out, err), after a pass over folder whose
 * result the caller recorded: when the store can prove that folder holds
 * exactly what it reported of it since its last scan plus the changes
 * made through it since, fill *out with the folder's status now (as
 * store_list() gives it, has_status set), so that the next run need not
 * scan it for its own changes.  Else has_status is false (always, for a
 * driver that cannot tell).  Synchronous; a Maildir waits a moment for
 * its directories' mtimes to settle.  -1 with err only on an error of
 * the store's state.
 */
int store_settle(
    struct store *, const char *folder, struct store_folder *, struct err *);

/*
 * Fingerprints.  store_fingerprint(header, hlen, size, internaldate, out)
 * hashes the normalized Message-ID found in the header block (or, when
 * there is none, the header block itself) together with size and
 * internaldate into out[STORE_FP_LEN].  The same message yields the same
 * fingerprint on every store.  Only the first STORE_HEADER_MAX bytes of
 * header count, up to its first empty line (so passing more is harmless).
 * The exact input is documented in store.c.
 */
void store_fingerprint(const char *header, size_t hlen, uint64_t size,
    int64_t internaldate, unsigned char *out);

/*
 * Canonical flag strings (see the top of this file).  store_flags_norm
 * turns any space-separated list into canonical form into out (size n),
 * dropping \Recent and duplicates; 0, or -1 when it does not fit or a
 * token is not a valid flag (atom characters only).
 */
int store_flags_norm(const char *in, char *out, size_t n);
bool store_flags_has(const char *flags, const char *flag);

#endif
