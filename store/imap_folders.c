/* SPDX-License-Identifier: ISC */
/*
 * imap_folders.c - the IMAP store's folder operations: LIST (with the
 * cheap status of every folder, in the same command with LIST-STATUS,
 * else with pipelined STATUS commands), CREATE (an existing folder is not
 * an error), RENAME and DELETE.  Names are translated at the edge: the
 * server's delimiter becomes '/', modified UTF-7 becomes UTF-8, and a
 * server name that cannot be represented is skipped with a warning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/client.h"
#include "store/imap_priv.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/* Is name folder itself or below it ("A" covers "A" and "A/B")? */
static bool
name_under(const char *name, const char *folder)
{
	size_t n = strlen(folder);

	return name != NULL && strncmp(name, folder, n) == 0 &&
	       (name[n] == '\0' || name[n] == '/');
}

/*
 * LIST, with STATUS for every selectable folder (in the same command with
 * LIST-STATUS, else pipelined).
 */

struct lfolder {
	char *raw;
	struct store_folder f;
};

struct list_op {
	struct iop op;
	store_list_cb *cb;
	void *arg;
	struct lfolder *v;
	size_t n, cap;
	bool statuses_sent;
};

static const struct {
	const char *attr;
	unsigned bit;
} list_attrs[] = {
    {"\\Noselect", STORE_NOSELECT},
    {"\\NonExistent", STORE_NOSELECT},
    {"\\All", STORE_ALL},
    {"\\Archive", STORE_ARCHIVE},
    {"\\Drafts", STORE_DRAFTS},
    {"\\Flagged", STORE_FLAGGED},
    {"\\Junk", STORE_JUNK},
    {"\\Sent", STORE_SENT},
    {"\\Trash", STORE_TRASH},
};

static struct lfolder *
list_find(struct list_op *l, struct str raw)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i].raw) == raw.len &&
		    memcmp(l->v[i].raw, raw.p, raw.len) == 0)
			return &l->v[i];
	return NULL;
}

static void
list_add(struct list_op *l, const struct imap_resp *r)
{
	const struct imap_arg *attrs;
	struct str raw, d, a;
	struct lfolder *f;
	size_t i, j, na;
	struct buf name;
	struct err e;
	char delim = '\0';

	if (!imap_arg_list(&r->args[1], &attrs, &na) ||
	    !imap_arg_string(&r->args[3], &raw) || list_find(l, raw) != NULL)
		return;
	if (imap_arg_string(&r->args[2], &d) && d.len == 1)
		delim = d.p[0];
	buf_init(&name, IMS_NAME_MAX);
	if (ims_name_in(l->op.s, raw, delim, &name, &e) == -1) {
		log_warn("%s: skipping folder \"%.*s\": %s", l->op.s->base.name,
		    (int)raw.len, raw.p, e.msg);
		buf_release(&name);
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	f = &l->v[l->n++];
	memset(f, 0, sizeof(*f));
	f->raw = str_dup(raw);
	f->f.name = buf_detach(&name, NULL);
	for (i = 0; i < na; i++)
		for (j = 0; j < sizeof(list_attrs) / sizeof(list_attrs[0]); j++)
			if (imap_arg_string(&attrs[i], &a) &&
			    str_eq_ci(a, list_attrs[j].attr))
				f->f.attrs |= list_attrs[j].bit;
}

static void
list_status(struct list_op *l, const struct imap_resp *r)
{
	const struct imap_arg *items;
	struct lfolder *f;
	struct str raw;
	size_t i, n;
	uint64_t v;

	if (!imap_arg_string(&r->args[1], &raw) ||
	    (f = list_find(l, raw)) == NULL ||
	    !imap_arg_list(&r->args[2], &items, &n))
		return;
	for (i = 0; i + 1 < n; i += 2) {
		if (!imap_arg_number(&items[i + 1], UINT64_MAX, &v))
			continue;
		if (imap_arg_is_atom(&items[i], "UIDVALIDITY")) {
			f->f.uidvalidity = (uint32_t)v;
			f->f.has_status = v != 0 && v <= UINT32_MAX;
		} else if (imap_arg_is_atom(&items[i], "UIDNEXT"))
			f->f.uidnext = v > UINT32_MAX ? 0 : (uint32_t)v;
		else if (imap_arg_is_atom(&items[i], "MESSAGES"))
			f->f.messages = v > UINT32_MAX ? 0 : (uint32_t)v;
		else if (imap_arg_is_atom(&items[i], "HIGHESTMODSEQ"))
			f->f.highestmodseq = v;
	}
}

static bool
list_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct list_op *l = arg;

	(void)c;
	if (r->status != IMAP_STATUS_NONE || r->nargs < 3)
		return false;
	if (r->nargs >= 4 && imap_arg_is_atom(&r->args[0], "LIST"))
		list_add(l, r);
	else if (imap_arg_is_atom(&r->args[0], "STATUS"))
		list_status(l, r);
	else
		return false;
	return true;
}

static const char *
status_items(const struct imap_client *c)
{
	return imap_has_cap(c, "CONDSTORE")
		   ? "UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ"
		   : "UIDVALIDITY UIDNEXT MESSAGES";
}

static void
list_start(struct iop *op)
{
	struct list_op *l = (struct list_op *)op;
	struct imap_client *c = op->conn->c;
	struct imap_cmd *cmd = ims_cmd(op);

	imap_cmd_set_untagged(cmd, list_untagged, l);
	if (imap_has_cap(c, "LIST-STATUS") && imap_has_cap(c, "SPECIAL-USE")) {
		imap_cmd_printf(cmd,
		    "LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (%s))",
		    status_items(c));
		l->statuses_sent = true;
	} else
		imap_cmd_printf(cmd, "LIST \"\" \"*\"");
	imap_cmd_send(cmd);
}

/* A STATUS that fails leaves its folder without status. */
static void
status_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct iop *op = arg;
	struct err e;

	(void)c;
	if (r->status == IMAP_STATUS_NONE) {
		ims_reply_err(r, ERR_BOX, "STATUS", &e);
		ims_op_fail(op, &e);
	}
	if (--op->cmds == 0)
		ims_op_done(op, NULL);
}

static void
list_cmds_done(struct iop *op)
{
	struct list_op *l = (struct list_op *)op;
	struct imap_cmd *cmd;
	size_t i;

	if (op->failed || l->statuses_sent) {
		ims_op_done(op, NULL);
		return;
	}
	l->statuses_sent = true;
	for (i = 0; i < l->n; i++) {
		if (l->v[i].f.attrs & STORE_NOSELECT)
			continue;
		op->cmds++;
		cmd = imap_cmd_new(op->conn->c, 0, status_done, op);
		imap_cmd_set_untagged(cmd, list_untagged, l);
		imap_cmd_printf(cmd, "STATUS ");
		imap_cmd_astring(cmd, str_from(l->v[i].raw));
		imap_cmd_printf(cmd, " (%s)", status_items(op->conn->c));
		imap_cmd_send(cmd);
	}
	if (op->cmds == 0)
		ims_op_done(op, NULL);
}

static void
list_finish(struct iop *op, const struct err *err)
{
	struct list_op *l = (struct list_op *)op;
	struct store_folder *v = NULL;
	size_t i;

	if (err != NULL) {
		l->cb(l->arg, NULL, 0, err);
		return;
	}
	v = xcalloc(l->n ? l->n : 1, sizeof(*v));
	for (i = 0; i < l->n; i++)
		v[i] = l->v[i].f;
	l->cb(l->arg, v, l->n, NULL);
	free(v);
}

static void
list_destroy(struct iop *op)
{
	struct list_op *l = (struct list_op *)op;
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].raw);
		free(l->v[i].f.name);
	}
	free(l->v);
	free(l);
}

static const struct iop_vt list_vt = {
    "LIST", list_start, list_finish, list_destroy, list_cmds_done};

void
ims_list(struct store *st, store_list_cb *cb, void *arg)
{
	struct imap_store *s = (struct imap_store *)st;
	struct list_op *l = xcalloc(1, sizeof(*l));
	struct err e;

	ims_op_init(&l->op, s, &list_vt, 0);
	l->cb = cb;
	l->arg = arg;
	if (!s->connected) {
		err_set(&e, ERR_CONFIG, "store %s is not connected", st->name);
		ims_op_reject(&l->op, &e);
		return;
	}
	ims_op_submit(&l->op);
}

/*
 * CREATE, RENAME, DELETE.
 */

struct folder_op {
	struct iop op;
	store_done_cb *cb;
	void *arg;
	char *to; /* RENAME: the new name, and as the server spells it */
	char *to_srv;
	bool exists; /* CREATE: the LIST check found it */
	struct err create_err;
};

static void
folder_finish(struct iop *op, const struct err *err)
{
	struct folder_op *f = (struct folder_op *)op;

	f->cb(f->arg, err);
}

static void
folder_destroy(struct iop *op)
{
	struct folder_op *f = (struct folder_op *)op;

	free(f->to);
	free(f->to_srv);
	free(f);
}

static bool
check_untagged(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct folder_op *f = arg;
	const struct imap_arg *attrs;
	struct str raw, d, a;
	struct buf name;
	struct err e;
	size_t i, n;
	bool nonexistent = false;

	(void)c;
	if (r->nargs < 4 || !imap_arg_is_atom(&r->args[0], "LIST") ||
	    !imap_arg_list(&r->args[1], &attrs, &n) ||
	    !imap_arg_string(&r->args[3], &raw))
		return false;
	for (i = 0; i < n; i++)
		if (imap_arg_string(&attrs[i], &a) &&
		    (str_eq_ci(a, "\\NonExistent") ||
			str_eq_ci(a, "\\Noselect")))
			nonexistent = true;
	buf_init(&name, IMS_NAME_MAX);
	if (!imap_arg_string(&r->args[2], &d) || d.len != 1)
		d = str_make("", 1);
	if (ims_name_in(f->op.s, raw, d.p[0], &name, &e) == 0 &&
	    strcmp(name.data, f->op.folder) == 0 && !nonexistent)
		f->exists = true;
	buf_release(&name);
	return true;
}

/* The LIST check after a CREATE that failed without [ALREADYEXISTS]. */
static void
create_cmds_done(struct iop *op)
{
	struct folder_op *f = (struct folder_op *)op;

	ims_op_done(op, op->failed || f->exists ? NULL : &f->create_err);
}

static void
create_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct folder_op *f = arg;
	struct imap_cmd *cmd;
	struct err e;

	(void)c;
	f->op.cmds--;
	if (r->status == IMAP_STATUS_OK ||
	    (r->status == IMAP_STATUS_NO &&
		imap_reply_code(r, "ALREADYEXISTS"))) {
		ims_op_done(&f->op, NULL);
		return;
	}
	ims_reply_err(r, ERR_BOX, "CREATE", &e);
	if (r->status != IMAP_STATUS_NO) {
		ims_op_done(&f->op, &e);
		return;
	}
	/* NO without a code: perhaps the folder exists already. */
	f->create_err = e;
	cmd = ims_cmd(&f->op);
	imap_cmd_set_untagged(cmd, check_untagged, f);
	imap_cmd_printf(cmd, "LIST \"\" ");
	ims_cmd_folder(cmd, &f->op);
	imap_cmd_send(cmd);
}

static void
create_start(struct iop *op)
{
	struct imap_cmd *cmd;

	op->cmds++;
	cmd = imap_cmd_new(op->conn->c, 0, create_done, op);
	imap_cmd_printf(cmd, "CREATE ");
	ims_cmd_folder(cmd, op);
	imap_cmd_send(cmd);
}

/* Forget selections and bindings of folder and below on every connection. */
static void
forget_folder(struct imap_store *s, const char *folder)
{
	struct iconn *cn;

	for (cn = s->conns; cn != NULL; cn = cn->next) {
		if (name_under(cn->sel, folder))
			ims_set_selected(cn, NULL);
		if (name_under(cn->bound, folder)) {
			free(cn->bound);
			cn->bound = NULL;
		}
	}
}

/* RENAME and DELETE: leave the folder first if it is selected here. */
static void
unselect_first(struct iop *op)
{
	struct imap_cmd *cmd;

	if (!name_under(op->conn->sel, op->folder) ||
	    !imap_has_cap(op->conn->c, "UNSELECT"))
		return;
	ims_set_selected(op->conn, NULL);
	cmd = ims_cmd(op);
	imap_cmd_printf(cmd, "UNSELECT");
	imap_cmd_send(cmd);
}

static void
rename_start(struct iop *op)
{
	struct folder_op *f = (struct folder_op *)op;
	struct imap_cmd *cmd;
	struct err e;

	unselect_first(op);
	cmd = ims_cmd(op);
	imap_cmd_printf(cmd, "RENAME ");
	ims_cmd_folder(cmd, op);
	imap_cmd_printf(cmd, " ");
	if (imap_cmd_mailbox(cmd, f->to_srv, &e) == -1)
		log_error("%s: %s", op->s->base.name, e.msg);
	imap_cmd_send(cmd);
}

static void
delete_start(struct iop *op)
{
	struct imap_cmd *cmd;

	unselect_first(op);
	cmd = ims_cmd(op);
	imap_cmd_printf(cmd, "DELETE ");
	ims_cmd_folder(cmd, op);
	imap_cmd_send(cmd);
}

static void
moved_cmds_done(struct iop *op)
{
	struct folder_op *f = (struct folder_op *)op;

	if (!op->failed) {
		forget_folder(op->s, op->folder);
		if (f->to)
			forget_folder(op->s, f->to);
	}
	ims_op_done(op, NULL);
}

static const struct iop_vt create_vt = {
    "CREATE", create_start, folder_finish, folder_destroy, create_cmds_done};
static const struct iop_vt rename_vt = {
    "RENAME", rename_start, folder_finish, folder_destroy, moved_cmds_done};
static const struct iop_vt delete_vt = {
    "DELETE", delete_start, folder_finish, folder_destroy, moved_cmds_done};

static struct folder_op *
folder_op_new(struct imap_store *s, const struct iop_vt *vt, const char *name,
    store_done_cb *cb, void *arg, struct err *e)
{
	struct folder_op *f = xcalloc(1, sizeof(*f));

	ims_op_init(&f->op, s, vt, 0);
	f->cb = cb;
	f->arg = arg;
	if (ims_op_folder(&f->op, name, e) == -1) {
		ims_op_reject(&f->op, e);
		return NULL;
	}
	return f;
}

void
ims_create(struct store *st, const char *name, store_done_cb *cb, void *arg)
{
	struct folder_op *f;
	struct err e;

	f = folder_op_new(
	    (struct imap_store *)st, &create_vt, name, cb, arg, &e);
	if (f != NULL)
		ims_op_submit(&f->op);
}

void
ims_rename(struct store *st, const char *from, const char *to,
    store_done_cb *cb, void *arg)
{
	struct imap_store *s = (struct imap_store *)st;
	struct folder_op *f;
	struct buf b;
	struct err e;

	f = folder_op_new(s, &rename_vt, from, cb, arg, &e);
	if (f == NULL)
		return;
	buf_init(&b, IMS_NAME_MAX);
	if (ims_name_out(s, to, &b, &e) == -1) {
		buf_release(&b);
		ims_op_reject(&f->op, &e);
		return;
	}
	f->to = xstrdup(to);
	f->to_srv = buf_detach(&b, NULL);
	ims_op_submit(&f->op);
}

void
ims_delete(struct store *st, const char *name, store_done_cb *cb, void *arg)
{
	struct folder_op *f;
	struct err e;

	f = folder_op_new(
	    (struct imap_store *)st, &delete_vt, name, cb, arg, &e);
	if (f != NULL)
		ims_op_submit(&f->op);
}
