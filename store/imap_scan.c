/* SPDX-License-Identifier: ISC */
/*
 * imap_scan.c - change detection for the IMAP store (store_scan()).
 *
 * One SELECT, then at most three pipelined commands, by the cheapest path
 * the server and the recorded point allow (changes->method):
 *
 *   qresync    SELECT f (QRESYNC (uidvalidity modseq [known-uids])): the
 *              server answers with VANISHED (EARLIER) for expunges and
 *              FETCH for flag changes; then UID FETCH of the new ones.
 *   condstore  SELECT f (CONDSTORE); UID FETCH 1:<uidnext-1> (UID FLAGS
 *              MODSEQ) (CHANGEDSINCE modseq); UID FETCH of the new ones;
 *              UID SEARCH over known_uids (in chunks), whose answer lacks
 *              those expunged.
 *   full       SELECT f; UID FETCH 1:* (UID FLAGS), and the new ones in
 *              full; or, for a folder never seen (or whose UIDVALIDITY
 *              changed), everything in full in one UID FETCH.
 *
 * "The new ones" leaves out the UIDs the caller knows (its own copies
 * since the marks; their flags come with the SELECT's changes or the
 * CHANGEDSINCE fetch): after a first sync, the next run does not fetch
 * every copy's headers again.
 *
 * The recorded point decides between them and the SELECT's answer can
 * only demote: another UIDVALIDITY, NOMODSEQ, or no HIGHESTMODSEQ means a
 * full listing.  "In full" is UID FLAGS [MODSEQ] RFC822.SIZE INTERNALDATE
 * BODY.PEEK[HEADER] [EMAILID], from which the fingerprint is computed;
 * headers bigger than the parser keeps inline arrive through a sink that
 * keeps the first STORE_HEADER_MAX bytes, which is all a fingerprint uses.
 *
 * Beware "UID FETCH n:*" when n is above every UID: "*" is then the
 * highest UID, so the server returns that message.  Everything below the
 * recorded UIDNEXT that comes back from such a range is treated as known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/client.h"
#include "store/imap_priv.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/sort.h"
#include "util/str.h"
#include "util/xalloc.h"

#define ARENA_MAX ((size_t)1 << 30) /* flags and ids of one folder */
#define KNOWN_SET_MAX 4000 /* bytes of known-uids in a SELECT */
#define VANISHED_MAX ((size_t)1 << 24)
/* FETCH responses one scan keeps: a server repeating them cannot make a
 * scan grow without end (4M messages in one folder is beyond any real
 * mailbox). */
#define RECS_MAX ((size_t)1 << 22)
#define FLAGS_BYTES 4096
#define SEARCH_CHUNK 4000 /* known UIDs per UID SEARCH */
#define SEARCH_LINE 7000 /* bytes of one UID SEARCH command */
#define GAPS_MAX 200 /* unknown UID ranges fetch_new() asks for apart */

struct rec {
	uint32_t uid;
	size_t order; /* arrival, so that later answers win */
	uint64_t size;
	uint64_t modseq;
	int64_t date;
	const char *flags; /* arena */
	const char *objid; /* arena */
	unsigned char fp[STORE_FP_LEN];
	bool has_flags, has_size, has_date, has_fp;
};

struct scan_op {
	struct iop op;
	store_scan_cb *cb;
	void *arg;
	struct store_since since;
	uint32_t *known;
	uint32_t since_next; /* since.uidnext, at least 1 */
	bool qresync_select;
	bool new_all; /* every message is new: fetch everything in full */
	bool full;
	bool searched;
	bool modseq_ok; /* the folder has mod-sequences we may use */
	const char *method;
	struct imap_mailbox mbox;
	struct rec *recs;
	size_t nrecs, cap;
	bool recs_full; /* RECS_MAX reached: the scan fails */
	struct arena arena;
	bool arena_full;
	struct uranges vanished; /* as the server said */
	struct uranges present; /* condstore: the UID SEARCH result */
	struct buf hdr;
	struct imap_sink sink;
	/* The result. */
	struct store_changes ch;
	struct store_msg *msgs;
	uint32_t *gone;
	char permflags[FLAGS_BYTES];
};

static const char *
arena_str(struct scan_op *so, struct str s)
{
	char *p = arena_alloc(&so->arena, s.len + 1);

	if (p == NULL) {
		so->arena_full = true;
		return "";
	}
	memcpy(p, s.p, s.len);
	p[s.len] = '\0';
	return p;
}

/*
 * Flags from a parenthesised list (or a space-separated string), in
 * canonical form into out; tokens that are not flags ("\*") are dropped.
 */
static void
flags_canon(const struct imap_arg *l, size_t n, const char *text, char *out,
    size_t outlen)
{
	char tok[FLAGS_BYTES];
	struct buf b;
	size_t i;

	buf_init(&b, FLAGS_BYTES - 1);
	for (i = 0; text == NULL ? i < n : text[i] != '\0';) {
		struct str s;

		if (text != NULL) {
			size_t k = strcspn(text + i, " ");

			s = str_make(text + i, k);
			i += k + (text[i + k] == ' ');
		} else if (!imap_arg_string(&l[i++], &s))
			continue;
		if (s.len == 0 || s.len >= sizeof(tok))
			continue;
		memcpy(tok, s.p, s.len);
		tok[s.len] = '\0';
		if (store_flags_norm(tok, tok, sizeof(tok)) == -1 ||
		    tok[0] == '\0')
			continue;
		if ((b.len > 0 && buf_putc(&b, ' ') == -1) ||
		    buf_puts(&b, tok) == -1)
			break;
	}
	if (store_flags_norm(b.data, out, outlen) == -1)
		out[0] = '\0';
	buf_release(&b);
}

static struct rec *
rec_new(struct scan_op *so, uint32_t uid)
{
	struct rec *r;

	if (so->nrecs == RECS_MAX) {
		so->recs_full = true;
		return NULL;
	}
	if (so->nrecs == so->cap) {
		so->cap = so->cap ? so->cap * 2 : 256;
		so->recs = xreallocarray(so->recs, so->cap, sizeof(*so->recs));
	}
	r = &so->recs[so->nrecs];
	memset(r, 0, sizeof(*r));
	r->uid = uid;
	r->order = so->nrecs++;
	return r;
}

static void
fetch_header(struct scan_op *so, struct rec *r, const struct imap_arg *v)
{
	struct str h = STR_NULL;

	if (v->type == IMAP_ARG_LITERAL_SINK)
		h = str_make(so->hdr.data, so->hdr.len);
	else if (!imap_arg_nstring(v, &h))
		return;
	if (!r->has_size || !r->has_date)
		return;
	store_fingerprint(h.p ? h.p : "", h.len, r->size, r->date, r->fp);
	r->has_fp = true;
}

/* One "* n FETCH (...)" response. */
static void
scan_fetch(struct scan_op *so, const struct imap_arg *l, size_t n)
{
	const struct imap_arg *uidv = NULL, *header = NULL, *sub;
	char flags[FLAGS_BYTES];
	struct rec *r;
	uint64_t v;
	size_t i, ns;
	struct str s;

	for (i = 0; i + 1 < n; i += 2)
		if (imap_arg_is_atom(&l[i], "UID"))
			uidv = &l[i + 1];
	if (!imap_arg_number(uidv, UINT32_MAX, &v) || v == 0)
		return; /* without QRESYNC, unsolicited FETCH may lack UID */
	if ((r = rec_new(so, (uint32_t)v)) == NULL)
		return;
	for (i = 0; i + 1 < n; i += 2) {
		const struct imap_arg *val = &l[i + 1];

		if (imap_arg_is_atom(&l[i], "FLAGS") &&
		    imap_arg_list(val, &sub, &ns)) {
			flags_canon(sub, ns, NULL, flags, sizeof(flags));
			r->flags = arena_str(so, str_from(flags));
			r->has_flags = true;
		} else if (imap_arg_is_atom(&l[i], "MODSEQ") &&
			   imap_arg_list(val, &sub, &ns) && ns == 1 &&
			   imap_arg_number(&sub[0], UINT64_MAX, &v))
			r->modseq = v;
		else if (imap_arg_is_atom(&l[i], "RFC822.SIZE") &&
			 imap_arg_number(val, UINT64_MAX, &v)) {
			r->size = v;
			r->has_size = true;
		} else if (imap_arg_is_atom(&l[i], "INTERNALDATE") &&
			   imap_arg_string(val, &s)) {
			if (ims_date_parse(s, &r->date) == -1) {
				log_debug("%s: bad INTERNALDATE \"%.*s\"",
				    so->op.s->base.name, (int)s.len, s.p);
				r->date = 0;
			}
			r->has_date = true;
		} else if (imap_arg_is_atom(&l[i], "BODY[HEADER]"))
			header = val;
		else if (imap_arg_is_atom(&l[i], "EMAILID") &&
			 imap_arg_list(val, &sub, &ns) && ns == 1 &&
			 imap_arg_string(&sub[0], &s) &&
			 s.len < STORE_OBJID_MAX)
			r->objid = arena_str(so, s);
	}
	if (header != NULL)
		fetch_header(so, r, header);
}

static bool
scan_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct scan_op *so = arg;
	const struct imap_arg *l;
	size_t n, i = 1;
	struct str set;

	(void)c;
	if (r->status != IMAP_STATUS_NONE || r->nargs < 2)
		return false;
	if (imap_arg_is_atom(&r->args[0], "VANISHED")) {
		if (r->args[1].type == IMAP_ARG_LIST)
			i = 2; /* (EARLIER) */
		if (i < r->nargs && imap_arg_string(&r->args[i], &set) &&
		    !ims_ranges_parse(&so->vanished, set))
			log_debug("%s: bad VANISHED set", so->op.s->base.name);
		return true;
	}
	if (r->nargs == 3 && imap_arg_is_atom(&r->args[1], "FETCH") &&
	    imap_arg_list(&r->args[2], &l, &n)) {
		scan_fetch(so, l, n);
		return true;
	}
	if (so->searched)
		return ims_search_resp(r, &so->present);
	return false;
}

/* Headers above the inline limit: keep what a fingerprint reads. */
static int
hdr_open(void *arg, uint64_t size, struct str before)
{
	struct scan_op *so = arg;

	/* One scan per connection at a time: every big header is ours. */
	(void)size;
	(void)before;
	buf_reset(&so->hdr);
	return 0;
}

static int
hdr_write(void *arg, const char *p, size_t n)
{
	struct scan_op *so = arg;
	size_t room = so->hdr.max - so->hdr.len;

	if (buf_append(&so->hdr, p, n < room ? n : room) == -1)
		return -1;
	return 0;
}

static int
hdr_close(void *arg)
{
	(void)arg;
	return 0;
}

/* UID FETCH set of flags [and headers]; raw instead when set is NULL. */
static void
scan_send(struct scan_op *so, bool headers, const char *raw, const char *set)
{
	struct imap_client *c = so->op.conn->c;
	struct imap_cmd *cmd = ims_cmd(&so->op);

	imap_cmd_set_untagged(cmd, scan_untagged, so);
	if (set == NULL) {
		imap_cmd_printf(cmd, "%s", raw);
	} else {
		imap_cmd_printf(cmd, "UID FETCH %s (UID FLAGS%s", set,
		    so->modseq_ok ? " MODSEQ" : "");
		if (headers) {
			imap_cmd_printf(cmd,
			    " RFC822.SIZE INTERNALDATE "
			    "BODY.PEEK[HEADER]%s",
			    imap_has_cap(c, "OBJECTID") ? " EMAILID" : "");
			imap_cmd_set_sink(cmd, &so->sink);
		}
		imap_cmd_printf(cmd, ")");
	}
	imap_cmd_send(cmd);
}

/* raw, or UID FETCH a:b (a:* when b is 0) of flags, [and headers]. */
static void
scan_cmd(
    struct scan_op *so, bool headers, const char *raw, uint32_t a, uint32_t b)
{
	char set[32];

	if (raw != NULL) {
		scan_send(so, headers, raw, NULL);
		return;
	}
	if (b != 0)
		snprintf(set, sizeof(set), "%u:%u", a, b);
	else
		snprintf(set, sizeof(set), "%u:*", a);
	scan_send(so, headers, NULL, set);
}

/*
 * UID SEARCH over the known UIDs, SEARCH_CHUNK at a time: an answer
 * lists at most that many UIDs, so its line stays below the parser's
 * limit even without ESEARCH.
 */
static void
search_known(struct scan_op *so)
{
	bool esearch = imap_has_cap(so->op.conn->c, "ESEARCH");
	size_t i = 0, take;
	struct buf cmd;

	buf_init(&cmd, BUF_NOMAX);
	while (i < so->since.nknown) {
		take = so->since.nknown - i;
		if (take > SEARCH_CHUNK)
			take = SEARCH_CHUNK;
		buf_reset(&cmd);
		if (buf_puts(&cmd, esearch ? "UID SEARCH RETURN (ALL) UID "
					   : "UID SEARCH UID ") == -1)
			abort();
		i += ims_uidset_put(&cmd, so->known + i, take, SEARCH_LINE);
		scan_cmd(so, false, cmd.data, 0, 0);
	}
	buf_release(&cmd);
}

/* The lowest UID whose message may be reported as new. */
static uint32_t
new_lo(const struct scan_op *so)
{
	return so->since.window_lo > so->since_next ? so->since.window_lo
						    : so->since_next;
}

/* Whether the caller knows uid (so->known is sorted). */
static bool
is_known(const struct scan_op *so, uint32_t uid)
{
	return store_uid_in(so->known, so->since.nknown, uid);
}

/* The highest UID the caller knows, or 0. */
static uint32_t
top_known(const struct scan_op *so)
{
	return so->since.nknown > 0 ? so->known[so->since.nknown - 1] : 0;
}

/*
 * The new messages (UID >= since_next) in full, except those the caller
 * already knows (its own copies since the marks): their flags come with
 * QRESYNC's SELECT or the CHANGEDSINCE fetch, and fetching their headers
 * again would cost a rescan of every message a first sync copied.  What
 * is unknown below the highest known UID goes as ranges; more than
 * GAPS_MAX of them and everything new is fetched in full.
 */
static void
fetch_new(struct scan_op *so)
{
	uint32_t sn = new_lo(so), next = sn, end = so->since.window_hi;
	size_t i, gaps = 0;
	struct buf set;

	if (end != 0 && sn >= end)
		return; /* the window is below what is new */
	if (top_known(so) < sn) {
		scan_cmd(so, true, NULL, sn, end ? end - 1 : 0);
		return;
	}
	buf_init(&set, BUF_NOMAX);
	for (i = 0; i < so->since.nknown; i++) {
		uint32_t k = so->known[i];

		if (k < next)
			continue;
		if (end != 0 && next >= end)
			break;
		if (k > next) {
			if (++gaps > GAPS_MAX)
				break;
			if (buf_printf(&set, "%s%u:%u", set.len ? "," : "",
				next,
				end != 0 && k > end ? end - 1 : k - 1) == -1)
				abort();
		}
		next = k + 1;
	}
	if (gaps > GAPS_MAX)
		scan_cmd(so, true, NULL, sn, end ? end - 1 : 0);
	else if (end == 0) {
		if (buf_printf(&set, "%s%u:*", set.len ? "," : "", next) == -1)
			abort();
		scan_send(so, true, NULL, set.data);
	} else {
		if (next < end && buf_printf(&set, "%s%u:%u",
				      set.len ? "," : "", next, end - 1) == -1)
			abort();
		if (set.len > 0)
			scan_send(so, true, NULL, set.data);
	}
	buf_release(&set);
}

/* What to send once the SELECT has told us where the folder stands. */
static void
plan(struct scan_op *so)
{
	const struct imap_mailbox *m = &so->mbox;
	const struct store_since *since = &so->since;
	uint32_t sn = so->since_next, hi;
	bool have_new = m->uidnext == 0 ? m->exists > 0 : m->uidnext > sn;
	bool changed = m->highestmodseq != since->modseq;
	char raw[128];

	if (m->exists == 0)
		have_new = false;
	if (so->full) {
		uint32_t end = since->window_hi;

		if (m->exists > 0)
			scan_cmd(so, so->new_all, NULL, 1, end ? end - 1 : 0);
		if (have_new && !so->new_all && (end == 0 || new_lo(so) < end))
			scan_cmd(so, true, NULL, new_lo(so), end ? end - 1 : 0);
		return;
	}
	/* Flag changes of what we know: below the marks, and our own copies
	 * above them (which fetch_new() leaves out). */
	hi = top_known(so) >= sn ? top_known(so) : sn - 1;
	if (!so->qresync_select && changed && hi >= 1 && m->exists > 0) {
		snprintf(raw, sizeof(raw),
		    "UID FETCH 1:%u (UID FLAGS MODSEQ) (CHANGEDSINCE %llu)", hi,
		    (unsigned long long)since->modseq);
		scan_cmd(so, false, raw, 0, 0);
	}
	if (have_new)
		fetch_new(so);
	if (so->qresync_select || since->nknown == 0)
		return;
	so->searched = true;
	if (m->exists == 0)
		return; /* everything known is gone */
	if (!changed && m->exists == since->nknown && m->uidnext == sn)
		so->searched = false; /* nothing can have vanished */
	else
		search_known(so);
}

static void
select_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct scan_op *so = arg;
	const struct store_since *since = &so->since;
	struct err e;
	bool modseq;

	so->op.cmds--;
	if (r->status != IMAP_STATUS_OK) {
		ims_reply_err(r, ERR_BOX, "SELECT", &e);
		ims_op_done(&so->op, &e);
		return;
	}
	ims_set_selected(so->op.conn, so->op.folder);
	so->mbox = *imap_selected(c);
	modseq = !so->mbox.nomodseq && so->mbox.highestmodseq > 0 &&
		 imap_has_cap(c, "CONDSTORE");
	so->modseq_ok = modseq;
	if (since->uidvalidity == 0 ||
	    so->mbox.uidvalidity != since->uidvalidity) {
		so->method = "full";
		so->full = so->new_all = true;
		so->nrecs = 0;
		so->recs_full = false;
		ims_ranges_release(&so->vanished);
	} else if (!modseq || since->modseq == 0) {
		so->method = "full";
		so->full = true;
		so->qresync_select = false;
	} else
		so->method = so->qresync_select ? "qresync" : "condstore";
	plan(so);
	if (so->op.cmds == 0)
		so->op.vt->cmds_done(&so->op);
}

static void
scan_start(struct iop *op)
{
	struct scan_op *so = (struct scan_op *)op;
	struct imap_client *c = op->conn->c;
	const struct store_since *since = &so->since;
	struct imap_cmd *cmd;
	struct buf set;

	so->sink.open = hdr_open;
	so->sink.write = hdr_write;
	so->sink.close = hdr_close;
	so->sink.arg = so;
	so->qresync_select = imap_is_enabled(c, "QRESYNC") &&
			     since->uidvalidity != 0 && since->modseq != 0;
	ims_set_selected(op->conn, NULL);
	op->cmds++;
	cmd = imap_cmd_new(c, IMAP_CMD_SELECT, select_done, so);
	imap_cmd_set_untagged(cmd, scan_untagged, so);
	imap_cmd_printf(cmd, "SELECT ");
	ims_cmd_folder(cmd, op);
	if (so->qresync_select) {
		imap_cmd_printf(cmd, " (QRESYNC (%u %llu", since->uidvalidity,
		    (unsigned long long)since->modseq);
		buf_init(&set, KNOWN_SET_MAX + 32);
		if (since->nknown > 0 &&
		    ims_uidset_put(&set, so->known, since->nknown,
			KNOWN_SET_MAX) == since->nknown)
			imap_cmd_printf(cmd, " %s", set.data);
		buf_release(&set);
		imap_cmd_printf(cmd, "))");
	} else if (imap_has_cap(c, "CONDSTORE"))
		imap_cmd_printf(cmd, " (CONDSTORE)");
	imap_cmd_send(cmd);
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Fold later answers about the same UID into the first. */
static void
merge(struct rec *into, const struct rec *r)
{
	if (r->has_flags) {
		into->flags = r->flags;
		into->has_flags = true;
	}
	if (r->modseq != 0)
		into->modseq = r->modseq;
	if (r->has_fp && !into->has_fp) {
		into->size = r->size;
		into->date = r->date;
		into->has_size = into->has_date = true;
		memcpy(into->fp, r->fp, sizeof(r->fp));
		into->has_fp = true;
	}
	if (r->objid != NULL)
		into->objid = r->objid;
}

/* Add uid to the vanished result unless it is there. */
static void
gone_add(struct scan_op *so, size_t *cap, uint32_t uid)
{
	if (so->ch.nvanished == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		so->gone = xreallocarray(so->gone, *cap, sizeof(*so->gone));
	}
	so->gone[so->ch.nvanished++] = uid;
}

static void
build_vanished(struct scan_op *so)
{
	const struct store_since *since = &so->since;
	size_t i, cap = 0, nout;
	uint64_t u;
	uint32_t *v;

	ims_ranges_norm(&so->vanished);
	ims_ranges_norm(&so->present);
	for (i = 0; i < since->nknown; i++) {
		uint32_t uid = so->known[i];

		if (ims_ranges_has(&so->vanished, uid) ||
		    (so->searched && !ims_ranges_has(&so->present, uid)))
			gone_add(so, &cap, uid);
	}
	if (since->nknown == 0)
		for (i = 0; i < so->vanished.n; i++)
			for (u = so->vanished.v[i].lo;
			     u <= so->vanished.v[i].hi && u < so->since_next &&
			     so->ch.nvanished < VANISHED_MAX;
			     u++)
				gone_add(so, &cap, (uint32_t)u);
	v = ims_uids_sorted(so->gone, so->ch.nvanished, &nout);
	free(so->gone);
	so->gone = v;
	so->ch.nvanished = nout;
	so->ch.vanished = so->gone;
}

static void
build_msgs(struct scan_op *so)
{
	struct store_msg *m;
	uint32_t maxuid = 0;
	size_t i, j, n = 0;

	if (so->nrecs > 1)
		sort_array(so->recs, so->nrecs, sizeof(*so->recs), rec_cmp);
	so->msgs = xcalloc(so->nrecs ? so->nrecs : 1, sizeof(*so->msgs));
	for (i = 0; i < so->nrecs; i = j) {
		struct rec *r = &so->recs[i];
		bool is_new = so->new_all || (r->uid >= so->since_next &&
						 !is_known(so, r->uid));

		for (j = i + 1; j < so->nrecs && so->recs[j].uid == r->uid; j++)
			merge(r, &so->recs[j]);
		if (ims_ranges_has(&so->vanished, r->uid) || !r->has_flags ||
		    (is_new && !r->has_fp))
			continue;
		if (r->uid > maxuid)
			maxuid = r->uid;
		m = &so->msgs[n++];
		m->uid = r->uid;
		m->flags = r->flags;
		m->modseq = r->modseq;
		m->flags_only = !is_new;
		if (!is_new)
			continue;
		m->size = r->size;
		m->internaldate = r->date;
		memcpy(m->fp, r->fp, STORE_FP_LEN);
		m->fp_len = STORE_FP_LEN;
		m->objid = r->objid;
	}
	/* The records' strings are in the arena: the array can go now, */
	free(so->recs); /* before the caller copies the result. */
	so->recs = NULL;
	so->nrecs = so->cap = 0;
	so->ch.msgs = so->msgs;
	so->ch.nmsgs = n;
	so->ch.uidnext = so->mbox.uidnext;
	if (maxuid != 0 && maxuid >= so->ch.uidnext)
		so->ch.uidnext = maxuid + 1;
}

static void
build_permflags(struct scan_op *so)
{
	const struct imap_mailbox *m = &so->mbox;

	if (m->permflags[0] == '\0' && !m->perm_keywords && !m->readonly) {
		/* No PERMANENTFLAGS: everything is permanent (RFC 3501). */
		snprintf(so->permflags, sizeof(so->permflags),
		    "\\Answered \\Deleted \\Draft \\Flagged \\Seen");
		so->ch.perm_keywords = true;
	} else {
		flags_canon(NULL, 0, m->permflags, so->permflags,
		    sizeof(so->permflags));
		so->ch.perm_keywords = m->perm_keywords;
	}
	so->ch.permflags = so->permflags;
}

static void
scan_cmds_done(struct iop *op)
{
	struct scan_op *so = (struct scan_op *)op;
	struct err e;

	if (op->failed) {
		ims_op_done(op, NULL);
		return;
	}
	if (so->arena_full) {
		err_set(
		    &e, ERR_LIMIT, "%s: too many flags to hold", op->folder);
		ims_op_done(op, &e);
		return;
	}
	if (so->recs_full) {
		err_set(&e, ERR_BOX,
		    "%s: the server sent more than %zu FETCH responses",
		    op->folder, RECS_MAX);
		ims_op_done(op, &e);
		return;
	}
	so->ch.uidvalidity = so->mbox.uidvalidity;
	so->ch.highestmodseq = so->modseq_ok ? so->mbox.highestmodseq : 0;
	so->ch.full = so->full && so->since.window_hi == 0;
	so->ch.method = so->method;
	build_vanished(so);
	build_msgs(so);
	build_permflags(so);
	log_debug("%s: scan %s (%s): %zu messages, %zu vanished",
	    op->s->base.name, op->folder, so->method, so->ch.nmsgs,
	    so->ch.nvanished);
	ims_op_done(op, NULL);
}

static void
scan_finish(struct iop *op, const struct err *err)
{
	struct scan_op *so = (struct scan_op *)op;

	so->cb(so->arg, err ? NULL : &so->ch, err);
}

static void
scan_destroy(struct iop *op)
{
	struct scan_op *so = (struct scan_op *)op;

	free(so->known);
	free(so->recs);
	free(so->msgs);
	free(so->gone);
	arena_release(&so->arena);
	ims_ranges_release(&so->vanished);
	ims_ranges_release(&so->present);
	buf_release(&so->hdr);
	free(so);
}

static const struct iop_vt scan_vt = {
    "scan", scan_start, scan_finish, scan_destroy, scan_cmds_done};

void
ims_scan(struct store *st, const char *folder, const struct store_since *since,
    store_scan_cb *cb, void *arg)
{
	struct scan_op *so = xcalloc(1, sizeof(*so));
	struct err e;

	ims_op_init(&so->op, (struct imap_store *)st, &scan_vt, IOP_BIND);
	so->cb = cb;
	so->arg = arg;
	so->since = *since;
	so->since_next = since->uidnext ? since->uidnext : 1;
	so->known =
	    ims_uids_sorted(since->known_uids ? since->known_uids : NULL,
		since->known_uids ? since->nknown : 0, &so->since.nknown);
	so->since.known_uids = so->known;
	arena_init(&so->arena, ARENA_MAX);
	buf_init(&so->hdr, STORE_HEADER_MAX);
	if (ims_op_folder(&so->op, folder, &e) == -1)
		ims_op_reject(&so->op, &e);
	else
		ims_op_submit(&so->op);
}
