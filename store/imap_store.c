/* SPDX-License-Identifier: ISC */
/*
 * imap_store.c - the IMAP store: its connections, how operations are
 * routed to them, and folder names.  The operations themselves are in
 * imap_folders.c (list, create, rename, delete), imap_msgs.c (fetch,
 * flags, expunge), imap_append.c (append) and imap_scan.c (changes);
 * imap_priv.h is what they share.
 *
 * Routing.  Each connection has at most one selected folder, and is
 * "bound" to the folder of the last operation that needed one.  A new
 * operation goes, in this order of preference:
 *
 *   1. to the connection that is bound to its folder or has operations on
 *      it queued or running, so that operations on one folder run in the
 *      order they were issued and need no new SELECT;
 *   2. behind an operation on the same folder that is still waiting for a
 *      connection (the same reason);
 *   3. to an idle connection (nothing queued or running), preferring one
 *      not bound to any folder;
 *   4. to the waiting list, and a new connection is opened from a timer
 *      if there are fewer than opts.connections.
 *
 * A connection that becomes idle takes the oldest waiting operation and
 * every other waiting one on the same folder.  On a connection, queued
 * operations start in order: one at a time, except that operations marked
 * IOP_PIPE (fetch, flags, UIDPLUS expunge and append) are pipelined
 * beside each other once their folder is selected, up to MAX_PIPE of
 * them.  No operation holds message bodies in memory (appends stream them
 * from their files as the socket takes them, see imap_cmd_literal_fd),
 * so memory does not bound them.
 *
 * A lost connection is never reused: the client fails the commands in
 * flight, which completes the operations running there with ERR_CONN;
 * operations queued there but not started go back to the waiting list.
 */
#include "store/imap_store.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/client.h"
#include "imap/utf7.h"
#include "store/imap_priv.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/str.h"
#include "util/xalloc.h"

#define MAX_CONNS 32
#define DEFAULT_CONNS 4
#define MAX_PIPE 16 /* pipelined operations per connection */
#define SECRET_MAX (64 * 1024)

static void kick(struct iconn *);
static void dispatch(struct imap_store *);
static struct iconn *conn_open(struct imap_store *, struct err *);

/*
 * Queues.
 */

static void
q_push(struct iopq *q, struct iop *op)
{
	op->next = NULL;
	if (q->tail)
		q->tail->next = op;
	else
		q->head = op;
	q->tail = op;
}

static struct iop *
q_shift(struct iopq *q)
{
	struct iop *op = q->head;

	if (op == NULL)
		return NULL;
	q->head = op->next;
	if (q->head == NULL)
		q->tail = NULL;
	op->next = NULL;
	return op;
}

static void
q_remove(struct iopq *q, struct iop *op)
{
	struct iop *prev = NULL, *o;

	for (o = q->head; o != NULL; prev = o, o = o->next) {
		if (o != op)
			continue;
		if (prev)
			prev->next = o->next;
		else
			q->head = o->next;
		if (q->tail == o)
			q->tail = prev;
		o->next = NULL;
		return;
	}
}

/* Put all of from in front of q. */
static void
q_prepend(struct iopq *q, struct iopq *from)
{
	if (from->head == NULL)
		return;
	from->tail->next = q->head;
	if (q->tail == NULL)
		q->tail = from->tail;
	q->head = from->head;
	from->head = from->tail = NULL;
}

/*
 * Names.
 */

/* The store name as the server spells it (UTF-8, its delimiter). */
int
ims_name_out(
    struct imap_store *s, const char *name, struct buf *out, struct err *err)
{
	struct buf probe;
	size_t i, n = strlen(name);
	int r;

	if (n == 0 || name[0] == '/' || name[n - 1] == '/' ||
	    strstr(name, "//") != NULL)
		return err_set(err, ERR_BOX, "bad folder name \"%s\"", name);
	if (s->delim == '\0' && strchr(name, '/') != NULL)
		return err_set(err, ERR_BOX,
		    "folder \"%s\": the server has no hierarchy", name);
	if (s->delim != '/' && s->delim != '\0' &&
	    strchr(name, s->delim) != NULL)
		return err_set(err, ERR_BOX,
		    "folder \"%s\" contains the server's hierarchy delimiter "
		    "'%c'",
		    name, s->delim);
	buf_reset(out);
	for (i = 0; i < n; i++)
		if (buf_putc(out, name[i] == '/' ? s->delim : name[i]) == -1)
			return err_set(err, ERR_BOX, "folder name too long");
	/* Refuse now what imap_cmd_mailbox() could not encode later. */
	buf_init(&probe, IMS_NAME_MAX * 4);
	r = imap_utf8_to_utf7(str_make(out->data, out->len), &probe, err);
	buf_release(&probe);
	return r == -1 ? err_prefix(err, "folder \"%s\"", name) : 0;
}

int
ims_name_in(struct imap_store *s, struct str raw, char delim, struct buf *out,
    struct err *err)
{
	size_t i;

	buf_reset(out);
	if (s->utf8) {
		if (buf_append(out, raw.p, raw.len) == -1)
			return err_set(err, ERR_LIMIT, "name too long");
	} else if (imap_utf7_to_utf8(raw, out, err) == -1)
		return -1;
	if (strlen(out->data) != out->len)
		return err_set(err, ERR_PROTO, "NUL in a mailbox name");
	if (strcasecmp(out->data, "INBOX") == 0)
		memcpy(out->data, "INBOX", 5);
	if (delim == '/' || delim == '\0') {
		if (delim == '\0' && strchr(out->data, '/') != NULL)
			return err_set(err, ERR_BOX,
			    "contains '/' and the server has no hierarchy");
		return 0;
	}
	if (strchr(out->data, '/') != NULL)
		return err_set(err, ERR_BOX,
		    "contains '/', which is not the server's delimiter");
	for (i = 0; i < out->len; i++)
		if (out->data[i] == delim)
			out->data[i] = '/';
	return 0;
}

/*
 * Operations.
 */

void
ims_op_init(struct iop *op, struct imap_store *s, const struct iop_vt *vt,
    unsigned flags)
{
	memset(op, 0, sizeof(*op));
	op->vt = vt;
	op->s = s;
	op->flags = flags;
	op->no_kind = ERR_BOX;
}

int
ims_op_folder(struct iop *op, const char *folder, struct err *err)
{
	struct buf b;

	if (!op->s->connected)
		return err_set(err, ERR_CONFIG, "store %s is not connected",
		    op->s->base.name);
	buf_init(&b, IMS_NAME_MAX);
	if (ims_name_out(op->s, folder, &b, err) == -1) {
		buf_release(&b);
		return -1;
	}
	op->folder = xstrdup(folder);
	op->srv = buf_detach(&b, NULL);
	return 0;
}

void
ims_op_fail(struct iop *op, const struct err *err)
{
	if (op->failed || err == NULL)
		return;
	op->failed = true;
	op->err = *err;
}

static void
op_finish(struct iop *op)
{
	op->vt->finish(op, op->failed ? &op->err : NULL);
	free(op->folder);
	free(op->srv);
	op->vt->destroy(op);
}

static void
op_discard(struct iop *op)
{
	free(op->folder);
	free(op->srv);
	op->vt->destroy(op);
}

static void
finish_timer(void *arg)
{
	struct iop *op = arg;

	op->timer = 0;
	q_remove(&op->s->finishing, op);
	op_finish(op);
}

static void
finish_later(struct iop *op)
{
	struct imap_store *s = op->s;

	q_push(&s->finishing, op);
	op->timer = loop_timer_add(s->base.loop, 0, finish_timer, op);
}

void
ims_op_reject(struct iop *op, const struct err *err)
{
	ims_op_fail(op, err);
	finish_later(op);
}

void
ims_op_done(struct iop *op, const struct err *err)
{
	struct imap_store *s = op->s;
	struct iconn *cn = op->started ? op->conn : NULL;

	ims_op_fail(op, err);
	if (cn != NULL) {
		q_remove(&cn->running, op);
		if (--cn->nrunning == 0)
			s->busy--;
		if (!(op->flags & IOP_PIPE))
			cn->nexcl--;
		op->started = false;
	}
	if (op->failed)
		log_debug("%s: %s %s failed: %s", s->base.name, op->vt->name,
		    op->folder ? op->folder : "", op->err.msg);
	if (s->freeing)
		op_discard(op);
	else if (s->in_call > 0)
		finish_later(op);
	else
		op_finish(op);
	if (cn != NULL && !s->freeing)
		kick(cn);
}

void
ims_reply_err(const struct imap_reply *r, enum err_kind no_kind,
    const char *what, struct err *err)
{
	const char *pre = what ? what : "", *sep = what ? ": " : "";
	struct str code = r->resp ? r->resp->code : STR_NULL;
	struct str text = r->resp ? r->resp->text : STR_NULL;

	if (r->status == IMAP_STATUS_NONE) {
		err_set(err, ERR_CONN, "%s%sconnection lost: %s", pre, sep,
		    r->err ? r->err->msg : "no reply");
		return;
	}
	err_set(err, r->status == IMAP_STATUS_NO ? no_kind : ERR_PROTO,
	    "%s%sserver said %s %s%.*s%s%.*s", pre, sep,
	    r->status == IMAP_STATUS_NO ? "NO" : "BAD", code.len ? "[" : "",
	    (int)code.len, code.p, code.len ? "] " : "", (int)text.len, text.p);
}

/* One of op's commands is done; the last one ends the op. */
static void
cmd_end(struct iop *op)
{
	if (--op->cmds > 0)
		return;
	if (op->vt->cmds_done != NULL)
		op->vt->cmds_done(op);
	else
		ims_op_done(op, NULL);
}

static void
cmd_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct iop *op = arg;
	struct err e;

	(void)c;
	if (r->status != IMAP_STATUS_OK) {
		ims_reply_err(r, op->no_kind, op->vt->name, &e);
		ims_op_fail(op, &e);
	}
	cmd_end(op);
}

/* The SELECT an IOP_EAGER op's commands did not wait for. */
static void
eager_select_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct iop *op = arg;
	struct err e;

	(void)c;
	if (r->status != IMAP_STATUS_OK) {
		if (ims_selected(op))
			ims_set_selected(op->conn, NULL);
		ims_reply_err(r, ERR_BOX, "SELECT", &e);
		ims_op_fail(op, &e); /* first: its commands come back later */
	}
	cmd_end(op);
}

struct imap_cmd *
ims_cmd(struct iop *op)
{
	op->cmds++;
	return imap_cmd_new(op->conn->c, 0, cmd_done, op);
}

void
ims_cmd_folder(struct imap_cmd *cmd, const struct iop *op)
{
	struct err e;
	int r;

	/* ims_name_out() checked that it can be encoded. */
	r = imap_cmd_mailbox(cmd, op->srv, &e);
	assert(r == 0);
	(void)r;
}

bool
ims_selected(const struct iop *op)
{
	return op->conn->sel != NULL && op->folder != NULL &&
	       strcmp(op->conn->sel, op->folder) == 0;
}

void
ims_set_selected(struct iconn *cn, const char *folder)
{
	free(cn->sel);
	cn->sel = folder ? xstrdup(folder) : NULL;
}

/* Routing (see the top of this file). */

static bool
conn_has(const struct iconn *cn, const char *folder)
{
	const struct iop *op;

	if (cn->bound != NULL && strcmp(cn->bound, folder) == 0)
		return true;
	for (op = cn->queue.head; op != NULL; op = op->next)
		if (op->folder != NULL && strcmp(op->folder, folder) == 0)
			return true;
	for (op = cn->running.head; op != NULL; op = op->next)
		if (op->folder != NULL && strcmp(op->folder, folder) == 0)
			return true;
	return false;
}

static bool
conn_idle(const struct iconn *cn)
{
	return !cn->dead && imap_client_usable(cn->c) && cn->nrunning == 0 &&
	       cn->queue.head == NULL;
}

static void
assign(struct iconn *cn, struct iop *op)
{
	op->conn = cn;
	q_push(&cn->queue, op);
	if ((op->flags & IOP_BIND) &&
	    (cn->bound == NULL || strcmp(cn->bound, op->folder) != 0)) {
		free(cn->bound);
		cn->bound = xstrdup(op->folder);
	}
}

static void
spawn(void *arg)
{
	struct imap_store *s = arg;
	struct iconn *cn;
	struct iopq failed;
	struct iop *op;
	struct err e;

	s->spawn_timer = 0;
	if (s->waiting.head == NULL || s->nconns >= s->max_conns)
		return;
	s->connecting = true;
	cn = conn_open(s, &e);
	s->connecting = false;
	if (cn == NULL && s->nconns == 0) {
		/* Nothing could run them: fail what waits. */
		failed = s->waiting;
		s->waiting.head = s->waiting.tail = NULL;
		while ((op = q_shift(&failed)) != NULL) {
			op->conn = NULL;
			ims_op_done(op, &e);
		}
	} else if (cn == NULL) {
		log_warn("%s: could not open another connection: %s",
		    s->base.name, e.msg);
		s->spawn_blocked = true;
	}
	dispatch(s);
}

static void
spawn_maybe(struct imap_store *s)
{
	if (s->freeing || s->connecting || s->spawn_timer != 0 ||
	    s->spawn_blocked || !s->connected)
		return;
	if (s->waiting.head == NULL || s->nconns >= s->max_conns)
		return;
	s->spawn_timer = loop_timer_add(s->base.loop, 0, spawn, s);
}

static void
route(struct imap_store *s, struct iop *op)
{
	struct iconn *cn, *idle = NULL;
	struct iop *w;

	if (op->folder != NULL) {
		for (cn = s->conns; cn != NULL; cn = cn->next)
			if (!cn->dead && conn_has(cn, op->folder)) {
				assign(cn, op);
				kick(cn);
				return;
			}
		for (w = s->waiting.head; w != NULL; w = w->next)
			if (w->folder && strcmp(w->folder, op->folder) == 0) {
				q_push(&s->waiting, op);
				spawn_maybe(s);
				return;
			}
	}
	for (cn = s->conns; cn != NULL; cn = cn->next)
		if (conn_idle(cn) && (idle == NULL || (idle->bound != NULL &&
							  cn->bound == NULL)))
			idle = cn;
	if (idle != NULL) {
		assign(idle, op);
		kick(idle);
		return;
	}
	q_push(&s->waiting, op);
	spawn_maybe(s);
}

void
ims_op_submit(struct iop *op)
{
	struct imap_store *s = op->s;

	s->in_call++;
	route(s, op);
	s->in_call--;
}

/* Move the oldest waiting op, and the others on its folder, to cn. */
static void
take_waiting(struct iconn *cn)
{
	struct imap_store *s = cn->s;
	struct iop *first = q_shift(&s->waiting), *op, *next;
	struct iopq rest = {NULL, NULL};

	if (first == NULL)
		return;
	assign(cn, first);
	if (first->folder == NULL)
		return;
	for (op = s->waiting.head; op != NULL; op = next) {
		next = op->next;
		if (op->folder && strcmp(op->folder, first->folder) == 0)
			assign(cn, op);
		else
			q_push(&rest, op);
	}
	s->waiting = rest;
}

static bool
can_start(const struct iconn *cn, const struct iop *op)
{
	if (cn->nrunning == 0)
		return true;
	if (!(op->flags & IOP_PIPE) || cn->nexcl > 0 ||
	    cn->nrunning >= MAX_PIPE)
		return false;
	return !(op->flags & IOP_SELECT) || ims_selected(op);
}

static void
select_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct iop *op = arg;
	struct err e;

	(void)c;
	if (r->status != IMAP_STATUS_OK) {
		ims_reply_err(r, ERR_BOX, "SELECT", &e);
		ims_op_done(op, &e);
		return;
	}
	ims_set_selected(op->conn, op->folder);
	op->vt->start(op);
	kick(op->conn); /* what waited for this folder may pipeline now */
}

static void
run(struct iconn *cn, struct iop *op)
{
	struct imap_cmd *cmd;

	q_push(&cn->running, op);
	if (cn->nrunning++ == 0 && ++cn->s->busy > cn->s->peak_busy)
		cn->s->peak_busy = cn->s->busy;
	if (!(op->flags & IOP_PIPE))
		cn->nexcl++;
	op->started = true;
	if (!(op->flags & IOP_SELECT) || ims_selected(op)) {
		op->vt->start(op);
		return;
	}
	ims_set_selected(cn, NULL);
	if (op->flags & IOP_EAGER) {
		/* SELECT and the op's commands in one round trip. */
		op->cmds++;
		cmd =
		    imap_cmd_new(cn->c, IMAP_CMD_SELECT, eager_select_done, op);
		imap_cmd_printf(cmd, "SELECT ");
		ims_cmd_folder(cmd, op);
		imap_cmd_send(cmd);
		ims_set_selected(cn, op->folder);
		op->vt->start(op);
		return;
	}
	cmd = imap_cmd_new(cn->c, IMAP_CMD_SELECT, select_done, op);
	imap_cmd_printf(cmd, "SELECT ");
	ims_cmd_folder(cmd, op);
	imap_cmd_send(cmd);
}

static void
kick(struct iconn *cn)
{
	struct imap_store *s = cn->s;
	struct iop *op;

	while (!cn->dead && !s->freeing && imap_client_usable(cn->c)) {
		op = cn->queue.head;
		if (op == NULL) {
			if (cn->nrunning > 0 || s->waiting.head == NULL)
				break;
			take_waiting(cn);
			continue;
		}
		if (!can_start(cn, op))
			break;
		(void)q_shift(&cn->queue);
		run(cn, op);
	}
}

/* Give waiting operations to idle connections; open one if needed. */
static void
dispatch(struct imap_store *s)
{
	struct iconn *cn;

	for (cn = s->conns; cn != NULL; cn = cn->next)
		kick(cn);
	spawn_maybe(s);
}

/*
 * Connections.
 */

static void
reap(void *arg)
{
	struct imap_store *s = arg;
	struct iconn *cn;

	s->reap_timer = 0;
	while ((cn = s->dead) != NULL) {
		s->dead = cn->next;
		s->cmds_dead += imap_client_cmds_sent(cn->c);
		imap_client_free(cn->c);
		ims_spare_close(cn);
		free(cn->bound);
		free(cn->sel);
		free(cn);
	}
}

static void
on_close(struct imap_client *c, const struct err *why, void *arg)
{
	struct iconn *cn = arg, **pp;
	struct imap_store *s = cn->s;
	struct iop *op;

	(void)c;
	log_debug("%s: connection #%u lost: %s", s->base.name, cn->id,
	    why ? why->msg : "");
	cn->dead = true;
	for (pp = &s->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	s->nconns--;
	cn->next = s->dead;
	s->dead = cn;
	for (op = cn->queue.head; op != NULL; op = op->next)
		op->conn = NULL;
	q_prepend(&s->waiting, &cn->queue);
	s->spawn_blocked = false;
	if (s->reap_timer == 0)
		s->reap_timer = loop_timer_add(s->base.loop, 0, reap, s);
	dispatch(s);
}

static bool
delim_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct imap_store *s = arg;
	struct str d;

	(void)c;
	if (r->nargs < 4 || !imap_arg_is_atom(&r->args[0], "LIST"))
		return false;
	if (r->args[2].type == IMAP_ARG_NIL)
		s->delim = '\0';
	else if (imap_arg_string(&r->args[2], &d) && d.len == 1)
		s->delim = d.p[0];
	return true;
}

/* The set-up commands' answers, kept in the connection. */
static void
enable_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct iconn *cn = arg;

	(void)c;
	if (r->status != IMAP_STATUS_OK)
		ims_reply_err(r, ERR_PROTO, "ENABLE", &cn->enable_err);
}

static void
list_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct iconn *cn = arg;

	(void)c;
	if (r->status != IMAP_STATUS_OK)
		ims_reply_err(r, ERR_BOX, "LIST", &cn->list_err);
}

/*
 * Whether to ask for cap: before the login, unless disabled (servers
 * often announce their extensions only once logged in, and ENABLE of
 * one the server lacks enables nothing); after it, if offered.
 */
static bool
want_cap(struct imap_client *c, bool before, const char *cap)
{
	return before ? !imap_cap_disabled(c, cap) : imap_has_cap(c, cap);
}

/*
 * Queue the set-up: ENABLE what we use, and on the first connection a
 * LIST for the delimiter.  Called behind the login command (before its
 * answer, so the two share its round trip) or, when that could not be,
 * after it.  ENABLE goes before the login only when the greeting
 * announced it.
 */
static void
setup_send(struct imap_client *c, void *arg)
{
	struct iconn *cn = arg;
	struct imap_store *s = cn->s;
	bool before = imap_client_state(c) != IMAP_ST_AUTH;
	struct imap_cmd *cmd;
	char list[64];

	snprintf(list, sizeof(list), "%s%s%s",
	    want_cap(c, before, "QRESYNC") && want_cap(c, before, "CONDSTORE")
		? " QRESYNC"
		: "",
	    want_cap(c, before, "CONDSTORE") ? " CONDSTORE" : "",
	    want_cap(c, before, "UTF8=ACCEPT") ? " UTF8=ACCEPT" : "");
	if (!cn->enable_sent && list[0] != '\0' && imap_has_cap(c, "ENABLE")) {
		cmd = imap_cmd_new(c, 0, enable_done, cn);
		imap_cmd_printf(cmd, "ENABLE%s", list);
		imap_cmd_send(cmd);
		cn->enable_sent = true;
	}
	if (!cn->list_sent && !s->connected) {
		s->delim = '/';
		cmd = imap_cmd_new(c, 0, list_done, cn);
		imap_cmd_set_untagged(cmd, delim_untagged, s);
		imap_cmd_printf(cmd, "LIST \"\" \"\"");
		imap_cmd_send(cmd);
		cn->list_sent = true;
	}
}

/* Once logged in: the rest of the set-up, and its answers. */
static int
conn_setup(struct imap_store *s, struct iconn *cn, struct err *err)
{
	struct imap_client *c = cn->c;

	setup_send(c, cn);
	if (imap_client_drain(c, err) == -1)
		return -1;
	if (cn->list_err.kind != ERR_NONE) {
		*err = cn->list_err;
		return -1;
	}
	if (cn->enable_err.kind != ERR_NONE) /* the server's defaults: fine */
		log_debug("%s: %s", s->base.name, cn->enable_err.msg);
	if (s->connected)
		return 0;
	s->utf8 = imap_is_enabled(c, "UTF8=ACCEPT");
	s->uidplus = imap_has_cap(c, "UIDPLUS");
	s->multiappend = imap_has_cap(c, "MULTIAPPEND");
	s->connected = true;
	log_debug("%s: delimiter '%c', QRESYNC %s, UIDPLUS %s, MULTIAPPEND %s",
	    s->base.name, s->delim ? s->delim : ' ',
	    imap_is_enabled(c, "QRESYNC") ? "on" : "off",
	    s->uidplus ? "yes" : "no", s->multiappend ? "yes" : "no");
	return 0;
}

static int
conn_login(struct imap_store *s, struct imap_client *c, struct err *err)
{
	struct buf pw;
	int r = -1;

	if (s->have_auth)
		return imap_client_auth(c, &s->auth, err);
	buf_init(&pw, SECRET_MAX);
	if (s->get_secret == NULL ||
	    s->get_secret(s->secret_arg, &pw, err) == 0)
		r = imap_client_login(c, s->user, pw.data, err);
	explicit_bzero(pw.data, pw.cap);
	buf_release(&pw);
	return r;
}

/* Open, log in and set up one more connection; runs the loop. */
static struct iconn *
conn_open(struct imap_store *s, struct err *err)
{
	struct imap_client_opts o = s->copts;
	struct iconn *cn = xcalloc(1, sizeof(*cn)), **pp;
	char label[128], *caps, *tok, *save = NULL;

	cn->s = s;
	cn->id = ++s->opened;
	cn->spare_fd = -1;
	snprintf(label, sizeof(label), "%s#%u", s->base.name, cn->id);
	o.name = label;
	cn->c = imap_client_new(s->base.loop, &o);
	caps = xstrdup(s->disable_caps);
	for (tok = strtok_r(caps, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save))
		imap_client_disable_cap(cn->c, tok);
	free(caps);
	if (imap_client_connect(cn->c, err) == -1)
		goto out_free;
	imap_client_behind_login(cn->c, setup_send, cn);
	if (conn_login(s, cn->c, err) == -1 || conn_setup(s, cn, err) == -1)
		goto out_free;
	imap_client_set_on_close(cn->c, on_close, cn);
	for (pp = &s->conns; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = cn;
	s->nconns++;
	log_debug("%s: connection #%u ready", s->base.name, cn->id);
	return cn;
out_free:
	s->cmds_dead += imap_client_cmds_sent(cn->c);
	imap_client_free(cn->c);
	free(cn);
	return NULL;
}

/*
 * The store.
 */

static int
imap_connect(struct store *st, struct err *err)
{
	struct imap_store *s = (struct imap_store *)st;
	struct iconn *cn;

	if (s->nconns > 0)
		return 0;
	s->connecting = true;
	cn = conn_open(s, err);
	s->connecting = false;
	if (cn == NULL)
		return -1;
	s->spawn_blocked = false;
	dispatch(s);
	return 0;
}

static void
discard_queue(struct iopq *q)
{
	struct iop *op;

	while ((op = q_shift(q)) != NULL) {
		if (op->timer != 0)
			loop_timer_del(op->s->base.loop, op->timer);
		op_discard(op);
	}
}

static void
imap_free(struct store *st)
{
	struct imap_store *s = (struct imap_store *)st;
	struct iconn *cn, **pp;
	struct imap_client **cs;
	size_t ncs = 0;

	s->freeing = true;
	if (s->spawn_timer != 0)
		loop_timer_del(st->loop, s->spawn_timer);
	if (s->reap_timer != 0)
		loop_timer_del(st->loop, s->reap_timer);
	discard_queue(&s->finishing);
	discard_queue(&s->waiting);
	/* Busy connections first: freeing them calls nothing back. */
	for (pp = &s->conns; (cn = *pp) != NULL;) {
		imap_client_set_on_close(cn->c, NULL, NULL);
		discard_queue(&cn->queue);
		if (cn->nrunning == 0) {
			pp = &cn->next;
			continue;
		}
		*pp = cn->next;
		imap_client_free(cn->c);
		discard_queue(&cn->running);
		cn->c = NULL;
		cn->next = s->dead;
		s->dead = cn;
	}
	cs = xcalloc(s->nconns + 1, sizeof(*cs));
	for (cn = s->conns; cn != NULL; cn = cn->next)
		cs[ncs++] = cn->c;
	imap_client_logout_all(cs, ncs);
	free(cs);
	while ((cn = s->conns) != NULL) {
		s->conns = cn->next;
		cn->next = s->dead;
		s->dead = cn;
	}
	while ((cn = s->dead) != NULL) {
		s->dead = cn->next;
		imap_client_free(cn->c);
		ims_spare_close(cn);
		free(cn->bound);
		free(cn->sel);
		free(cn);
	}
	free(s->host);
	free(s->port);
	free(s->ca_file);
	free(s->fingerprint);
	free(s->tls_name);
	free(s->user);
	free(s->disable_caps);
	free(s->base.name);
	free(s);
}

/*
 * Construction.
 */

static const struct store_ops imap_ops = {
    .kind = "imap",
    .connect = imap_connect,
    .free = imap_free,
    .list = ims_list,
    .scan = ims_scan,
    .fetch_batch = ims_fetch_batch,
    .append_batch = ims_append_batch,
    .set_flags = ims_set_flags,
    .expunge = ims_expunge,
    .create = ims_create,
    .rename = ims_rename,
    .delete = ims_delete,
};

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct store *
imap_store_new(struct loop *loop, const char *name,
    const struct imap_store_opts *opts, struct err *err)
{
	struct imap_store *s;
	struct conn_opts *co;

	if (opts->client.conn.host == NULL || opts->client.conn.port == NULL) {
		err_set(err, ERR_CONFIG, "store %s: host and port are required",
		    name);
		return NULL;
	}
	if (opts->connections > MAX_CONNS) {
		err_set(err, ERR_CONFIG,
		    "store %s: connections must be 1 to %d", name, MAX_CONNS);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &imap_ops;
	s->base.loop = loop;
	s->base.name = xstrdup(name);
	s->copts = opts->client;
	co = &s->copts.conn;
	co->host = s->host = xstrdup(co->host);
	co->port = s->port = xstrdup(co->port);
	co->ca_file = s->ca_file = dup_or_null(co->ca_file);
	co->fingerprint = s->fingerprint = dup_or_null(co->fingerprint);
	co->tls_name = s->tls_name = dup_or_null(co->tls_name);
	if (opts->client.limits != NULL) {
		s->limits = *opts->client.limits;
		s->copts.limits = &s->limits;
	}
	s->user = xstrdup(opts->user ? opts->user : "");
	s->disable_caps = xstrdup(opts->disable_caps ? opts->disable_caps : "");
	s->get_secret = opts->get_secret;
	s->secret_arg = opts->secret_arg;
	if (opts->auth != NULL) {
		s->auth = *opts->auth;
		s->have_auth = true;
	}
	s->max_conns = opts->connections ? opts->connections : DEFAULT_CONNS;
	return &s->base;
}

uint64_t
imap_store_commands_sent(const struct store *st)
{
	const struct imap_store *s = (const struct imap_store *)st;
	const struct iconn *cn;
	uint64_t n = s->cmds_dead;

	for (cn = s->conns; cn != NULL; cn = cn->next)
		n += imap_client_cmds_sent(cn->c);
	for (cn = s->dead; cn != NULL; cn = cn->next)
		n += imap_client_cmds_sent(cn->c);
	return n;
}

unsigned
imap_store_connections_opened(const struct store *st)
{
	return ((const struct imap_store *)st)->opened;
}

unsigned
imap_store_peak_busy(const struct store *st)
{
	return ((const struct imap_store *)st)->peak_busy;
}
