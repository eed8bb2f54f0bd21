/* SPDX-License-Identifier: ISC */
/*
 * imap_priv.h - what the files of the IMAP driver share, and nothing
 * else may use: imap_store.c (connections, routing, names),
 * imap_folders.c (list, create, rename, delete), imap_msgs.c (fetch,
 * flags, expunge, and the UID-set, date and batch helpers), imap_append.c
 * (append) and imap_scan.c (change detection).
 *
 * Every store operation is a struct iop (embedded first in a larger
 * struct of its own kind) that goes through these states:
 *
 *	ims_op_submit()      kick: can start          last command done
 *	   ---> waiting / conn queue -----> running ----------> ims_op_done()
 *	                                                         |
 *	                          user callback (deferred with a 0 ms timer
 *	                          when inside a store call), then destroy
 *
 * A running op always has a command in flight (or a deferred completion),
 * so a lost connection completes it through its commands' errors.
 */
#ifndef FERRY_STORE_IMAP_PRIV_H
#define FERRY_STORE_IMAP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/client.h"
#include "store/store.h"
#include "util/err.h"
#include "util/str.h"

struct buf;
struct iconn;
struct imap_store;
struct iop;

enum iop_flags {
	IOP_BIND = 1u << 0, /* route to, and bind, a connection for folder */
	IOP_SELECT = 1u << 1, /* folder selected (plain SELECT) before start */
	IOP_PIPE = 1u << 2, /* may run beside other IOP_PIPE operations */
	/* With IOP_SELECT: its commands may follow the SELECT before its
	 * answer (they only read; after a failed SELECT no folder is
	 * selected, so they fail too, and the op with the SELECT's error). */
	IOP_EAGER = 1u << 3,
};

struct iop_vt {
	const char *name;
	/* Send the first commands on op->conn; never completes at once. */
	void (*start)(struct iop *);
	/* Call the user's callback with err (NULL on success). */
	void (*finish)(struct iop *, const struct err *);
	/* Free the op and what it holds. */
	void (*destroy)(struct iop *);
	/* All ims_cmd() commands are done; NULL: ims_op_done(). */
	void (*cmds_done)(struct iop *);
};

struct iop {
	struct iop *next;
	const struct iop_vt *vt;
	struct imap_store *s;
	struct iconn *conn; /* where it is queued or runs; NULL: waiting */
	unsigned flags; /* enum iop_flags */
	char *folder; /* UTF-8, '/'; NULL for none (LIST) */
	char *srv; /* folder as the server names it, in UTF-8 */
	bool started;
	unsigned cmds; /* ims_cmd() commands in flight */
	enum err_kind no_kind; /* what a NO to an ims_cmd() means */
	bool failed;
	struct err err;
	uint64_t timer; /* deferred completion */
};

struct iopq {
	struct iop *head;
	struct iop *tail;
};

struct iconn {
	struct iconn *next;
	struct imap_store *s;
	struct imap_client *c;
	unsigned id;
	char *bound; /* folder routed here, or NULL */
	char *sel; /* folder the server has selected for us */
	bool dead;
	struct iopq queue; /* assigned, not started */
	struct iopq running;
	unsigned nrunning;
	unsigned nexcl; /* running ops without IOP_PIPE */
	/*
	 * Big FETCH bodies (imap_msgs.c): each literal streamed on this
	 * connection gets a number; one whose UID the response had not named
	 * yet goes to the spare file until the response says whose it is.
	 */
	uint64_t nlit; /* literals streamed so far */
	int spare_fd; /* -1: none yet */
	uint64_t spare_lit; /* the literal in it; 0: none */
	uint64_t spare_len;
	int spare_errno;
	/* Set-up commands, pipelined behind the login (imap_store.c). */
	bool enable_sent, list_sent;
	struct err enable_err, list_err; /* ERR_NONE: answered OK */
};

struct imap_store {
	struct store base;
	struct imap_client_opts copts;
	struct imap_limits limits;
	char *host, *port, *ca_file, *fingerprint, *tls_name;
	char *user;
	char *disable_caps;
	int (*get_secret)(void *, struct buf *, struct err *);
	void *secret_arg;
	struct imap_auth auth; /* copied from the options */
	bool have_auth; /* log in with auth, not get_secret */
	unsigned max_conns;

	/* Learnt from the first connection. */
	bool connected;
	char delim; /* '\0': the server has none (NIL) */
	bool utf8; /* UTF8=ACCEPT enabled */
	bool uidplus;
	bool multiappend;

	struct iconn *conns;
	unsigned nconns;
	unsigned opened;
	unsigned busy, peak_busy; /* connections running operations */
	struct iconn *dead;
	struct iopq waiting; /* no connection could take them yet */
	struct iopq finishing; /* completions deferred to a timer */
	unsigned in_call; /* depth of store_*() calls on the stack */
	bool connecting;
	bool freeing;
	bool spawn_blocked; /* a lazy connect failed; wait for a change */
	uint64_t spawn_timer;
	uint64_t reap_timer;
	uint64_t cmds_dead; /* commands sent by freed connections */
};

/* Operations (imap_store.c). */
void ims_op_init(
    struct iop *, struct imap_store *, const struct iop_vt *, unsigned flags);
/* Set op->folder and op->srv; -1 with err when the name is unusable. */
int ims_op_folder(struct iop *, const char *folder, struct err *);
void ims_op_submit(struct iop *);
/* Fail an op at submit time; its callback runs from the loop. */
void ims_op_reject(struct iop *, const struct err *);
void ims_op_done(struct iop *, const struct err *);
/* Record a failure; the first one is kept. */
void ims_op_fail(struct iop *, const struct err *);

/*
 * A command counted in op->cmds, whose completion records errors (a NO
 * becomes op->no_kind) and, when it is the last one in flight, calls
 * vt->cmds_done or completes op.
 */
struct imap_cmd *ims_cmd(struct iop *);
/* The reply as an error: NO -> no_kind, BAD -> ERR_PROTO, lost -> ERR_CONN. */
void ims_reply_err(const struct imap_reply *, enum err_kind no_kind,
    const char *what, struct err *);
/* Append op's folder to cmd, encoded for the server. */
void ims_cmd_folder(struct imap_cmd *, const struct iop *);
/* Is op's folder what its connection has selected? */
bool ims_selected(const struct iop *);
void ims_set_selected(struct iconn *, const char *folder);

#define IMS_NAME_MAX 4096 /* bytes of a folder name */

/* A store name as the server spells it (UTF-8, its delimiter) into out. */
int ims_name_out(
    struct imap_store *, const char *, struct buf *out, struct err *);
/*
 * A server name (modified UTF-7 unless UTF8=ACCEPT, with delimiter delim)
 * as a store name in out.  -1 with err when it cannot be represented.
 */
int ims_name_in(struct imap_store *, struct str raw, char delim,
    struct buf *out, struct err *);

/* The kinds (imap_folders.c, imap_msgs.c, imap_append.c, imap_scan.c). */
void ims_list(struct store *, store_list_cb *, void *);
void ims_create(struct store *, const char *, store_done_cb *, void *);
void ims_rename(
    struct store *, const char *, const char *, store_done_cb *, void *);
void ims_delete(struct store *, const char *, store_done_cb *, void *);
void ims_scan(struct store *, const char *, const struct store_since *,
    store_scan_cb *, void *);
void ims_fetch_batch(struct store *, const char *, struct store_item *, size_t,
    store_done_cb *, void *);
void ims_append_batch(struct store *, const char *, struct store_item *, size_t,
    store_done_cb *, void *);
void ims_set_flags(struct store *, const char *, const uint32_t *, size_t,
    const char *, const char *, store_done_cb *, void *);
void ims_expunge(struct store *, const char *, const uint32_t *, size_t,
    store_done_cb *, void *);
/* Close the connection's spare file (imap_msgs.c). */
void ims_spare_close(struct iconn *);

/* UID sets (imap_msgs.c). */
struct urange {
	uint32_t lo, hi;
};
struct uranges {
	struct urange *v;
	size_t n, cap;
};
void ims_ranges_add(struct uranges *, uint32_t lo, uint32_t hi);
/* Parse "1:3,7" and add it; false when malformed ("*" included). */
bool ims_ranges_parse(struct uranges *, struct str);
/* Sort and merge; after this ims_ranges_has() works. */
void ims_ranges_norm(struct uranges *);
bool ims_ranges_has(const struct uranges *, uint32_t);
void ims_ranges_release(struct uranges *);
/*
 * Collect the UIDs of "* SEARCH n..." or "* ESEARCH ... ALL set" into
 * out; true when r was one of those.
 */
bool ims_search_resp(const struct imap_resp *, struct uranges *out);
/* A sorted copy of uids without duplicates or zeros. */
uint32_t *ims_uids_sorted(const uint32_t *, size_t n, size_t *nout);
/*
 * Append uids[0..n) (sorted, unique) to b as a UID set with ranges,
 * stopping before b (with what it held before) would pass max bytes, but
 * putting at least one; return how many UIDs were put.
 */
size_t ims_uidset_put(struct buf *, const uint32_t *, size_t n, size_t max);

/* IMAP date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (imap_msgs.c). */
int ims_date_parse(struct str, int64_t *out);
#define IMS_DATE_LEN 27 /* with the NUL */
void ims_date_format(int64_t, char out[IMS_DATE_LEN]);

/*
 * A canonical flag string to send, in *out (free it); -1 (ERR_MSG) when
 * in is not a flag list or names a system flag other than RFC 3501's
 * five (imap_msgs.c).
 */
#define IMS_FLAGS_MAX 4096
int ims_flags_arg(const char *in, char **out, struct err *);

/*
 * Batches (imap_msgs.c): clear every item's err; and the error that cut
 * the batch short, for its callback: the first item error that is not
 * about that message alone (ERR_MSG, ERR_LIMIT), or NULL.
 */
void ims_items_clear(struct store_item *, size_t n);
const struct err *ims_items_err(const struct store_item *, size_t n);

#endif
