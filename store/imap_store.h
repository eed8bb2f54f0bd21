/* SPDX-License-Identifier: ISC */
/*
 * imap_store.h - the IMAP driver of the store interface (store/store.h).
 *
 * An IMAP account seen as a store: folders are mailboxes, named in UTF-8
 * with '/' whatever the server's delimiter and encoding, and each store
 * operation becomes a few pipelined IMAP commands on one of a small pool
 * of connections (imap/client.h).  The driver picks the cheapest way the
 * server allows to find changes (QRESYNC, then CONDSTORE, then a full
 * listing) and falls back where a capability is missing or misbehaves
 * (no UIDPLUS: APPEND is found again with a search; EXPUNGE only when it
 * cannot remove anything but the given messages).
 *
 * Ownership: imap_store_new() copies every string in opts; the secret
 * callback and its argument are borrowed and must outlive the store.  The
 * store is freed with store_free(), which abandons operations still
 * outstanding without calling their callbacks; it must not be called from
 * inside one of this store's callbacks.
 *
 * Connections: store_connect() opens the first one (and learns the
 * capabilities and the hierarchy delimiter); more are opened when
 * operations queue up, up to opts.connections.  Opening one runs the loop
 * until the server has logged us in, from a timer, so callbacks of other
 * operations may run meanwhile.  Operations issued before store_connect()
 * fail with ERR_CONFIG.
 *
 * Bodies: a fetch batch is one UID FETCH over the batch's UID set (more
 * only when the set is too long for one line), each body written to its
 * item's file as it arrives.  An append batch is as few MULTIAPPEND
 * commands as the server allows (with UIDPLUS), or pipelined APPENDs, or
 * without UIDPLUS one APPEND at a time; bodies are read from the items'
 * files while they are sent (pread from where each file was when the
 * batch was submitted), never held whole in memory, so those files must
 * stay open and unchanged until the batch's callback.  A message above
 * IMAP_STORE_APPEND_MAX bytes is ERR_MSG for that item.
 */
#ifndef FERRY_IMAP_STORE_H
#define FERRY_IMAP_STORE_H

#include <stdint.h>

#include "imap/client.h"

struct buf;
struct err;
struct loop;
struct store;

/* The largest message an append sends. */
#define IMAP_STORE_APPEND_MAX (64u * 1024 * 1024)

struct imap_store_opts {
	struct imap_client_opts
	    client; /* connection settings; strings copied */
	const char *user;
	/*
	 * Called for every new connection to get the password (or token)
	 * into out; 0, or -1 with err.  out is wiped after use.  NULL: no
	 * password (a PREAUTH server).
	 */
	int (*get_secret)(void *arg, struct buf *out, struct err *err);
	void *secret_arg;
	/*
	 * When set, every connection logs in with imap_client_auth() and
	 * this, and get_secret is not used.  The struct is copied; its
	 * strings, mechanism list and callback argument are borrowed and
	 * must outlive the store.  The callback runs once per connection,
	 * so a token command gives each new connection a fresh token.
	 */
	const struct imap_auth *auth;
	unsigned connections; /* 1..32; 0: 4 */
	/*
	 * Space-separated capabilities to ignore, e.g. "QRESYNC" or
	 * "QRESYNC CONDSTORE" or "UIDPLUS" (tests, and a user escape hatch
	 * for broken servers).
	 */
	const char *disable_caps;
};

/*
 * imap_store_new(loop, name, opts, err):
 * A store named name (for logs) talking to the server in opts.  Nothing
 * is sent until store_connect().  Return NULL with err (ERR_CONFIG) when
 * the options are unusable.
 */
struct store *imap_store_new(struct loop *, const char *name,
    const struct imap_store_opts *, struct err *);

/* IMAP commands sent so far, on all connections (benchmarks, summaries). */
uint64_t imap_store_commands_sent(const struct store *);
/* Connections opened so far (including lost ones). */
unsigned imap_store_connections_opened(const struct store *);
/* The most connections that had operations running at the same time. */
unsigned imap_store_peak_busy(const struct store *);

#endif
