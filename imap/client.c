/* SPDX-License-Identifier: ISC */
/*
 * client.c - IMAP client: tags, command queue, pipelining, continuations,
 * and the bookkeeping every caller needs (capabilities, selected mailbox).
 *
 * Commands move through two FIFOs:
 *
 *	imap_cmd_send()        sendable()          tagged reply
 *	    ---> pending  -------------> in_flight --------------> done()
 *	                                    |  ^
 *	                 "{n}" literal sent |  | "+" arrives
 *	                                    v  |
 *	                                waiting_cont
 *
 * sendable() holds the queue while the window is full, while a command
 * waits for a "+", while a command is still being written, and around
 * barrier commands (STARTTLS, COMPRESS, AUTHENTICATE, IDLE), which are
 * sent alone.  Each command's bytes are built in full when it is created,
 * except literals taken from a file (imap_cmd_literal_fd), which are read
 * as the socket takes them, so that a message body is never held whole in
 * memory.  A synchronising literal splits a command into segments, and
 * the next segment goes out when the "+" comes; the command's text is
 * freed once it is all out.
 *
 * Connection states, each change traced as "old -> new":
 *
 *	NEW -> CONNECTING -> GREETING -> NOAUTH -> AUTH -> LOGOUT -> CLOSED
 *	                               \-> AUTH (PREAUTH)
 *
 * Any state may go to CLOSED when the connection drops; every command
 * still queued or in flight then completes with that error.
 */
#include "client.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/utf7.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/loop.h"
#include "util/str.h"
#include "util/xalloc.h"

#define MAX_SEGMENTS 64 /* synchronising literals per command */
#define MAX_HIDDEN 8 /* ranges a trace hides, per command */
#define WRITE_LOW_WATER (256 * 1024)
#define WRITE_HIGH_WATER (4 * 1024 * 1024)
#define MAX_CAPS 4096 /* bytes of capability text kept */
#define LITERAL_MINUS 4096 /* RFC 7888: LITERAL- non-sync limit */
/* File literals: read this much at a time, while the queue is below. */
#define FILE_CHUNK (64 * 1024)
#define FILE_HIGH_WATER (256 * 1024)

/* Literal bytes read from a file when sent, inserted at out[at]. */
struct piece {
	size_t at;
	int fd;
	uint64_t off, len;
};

struct imap_cmd {
	struct imap_cmd *next;
	struct imap_client *c;
	unsigned flags;
	unsigned tag;
	struct buf out; /* bytes after "tag " */
	size_t seg[MAX_SEGMENTS]; /* ends of segments */
	size_t nseg;
	size_t segsent; /* segment ends passed (each waited for a "+") */
	bool lit_wait; /* stopped at a segment end, waiting for its "+" */
	bool nonsync; /* has a {n+} literal */
	struct piece *pieces; /* in order of at */
	size_t npieces;
	/* Sending: out[0..pos) and pieces[0..psent) are out, and
	 * poff bytes of pieces[psent]. */
	bool started;
	size_t pos;
	size_t psent;
	uint64_t poff;
	/* Ranges of out that traces hide: secrets and literal payloads. */
	struct hidden {
		size_t from, to;
		bool secret;
	} hide[MAX_HIDDEN];
	size_t nhide;
	bool has_secret; /* wipe out once sent */
	imap_done_cb *done;
	imap_untagged_cb *untagged;
	void *untagged_arg;
	imap_cont_cb *cont;
	const struct imap_sink *sink;
	void *arg;
};

struct cmdq {
	struct imap_cmd *head;
	struct imap_cmd *tail;
	unsigned n;
};

struct imap_client {
	struct loop *loop;
	struct imap_client_opts opts;
	char *name;
	struct conn *conn;
	struct imap_parser *parser;
	enum imap_state state;
	struct cmdq pending;
	struct cmdq in_flight;
	struct imap_cmd *waiting_cont; /* sent up to a "{n}" or CONT */
	struct imap_cmd *sending; /* a file literal waits for queue room */
	char *fbuf; /* FILE_CHUNK bytes, for file literals */
	struct imap_cmd *barrier; /* in flight, alone */
	unsigned next_tag;
	uint64_t sent;
	char caps[MAX_CAPS];
	char disabled[512];
	char enabled[256];
	char greeting[512];
	bool tls_active;
	bool utf8_accept;
	bool tls_ready; /* STARTTLS handshake done */
	bool connected;
	bool bye;
	bool discard_input; /* after STARTTLS OK */
	bool start_compress; /* after COMPRESS OK */
	struct imap_mailbox mbox;
	struct err fail; /* why the connection ended */
	imap_untagged_cb *unsolicited;
	void *unsolicited_arg;
	void (*on_close)(struct imap_client *, const struct err *, void *);
	void *on_close_arg;
	void (*behind_login)(struct imap_client *, void *);
	void *behind_login_arg;
	struct imap_sink sink; /* forwards to the command's */
	struct imap_cmd *sink_cmd;
};

static const char *const state_names[] = {
    [IMAP_ST_NEW] = "new",
    [IMAP_ST_CONNECTING] = "connecting",
    [IMAP_ST_GREETING] = "greeting",
    [IMAP_ST_NOAUTH] = "not-authenticated",
    [IMAP_ST_AUTH] = "authenticated",
    [IMAP_ST_LOGOUT] = "logout",
    [IMAP_ST_CLOSED] = "closed",
};

static void pump(struct imap_client *);
static void fail_connection(struct imap_client *, const struct err *);

const char *
imap_state_name(enum imap_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[s];
}

static void
set_state(struct imap_client *c, enum imap_state s)
{
	if (c->state == s)
		return;
	log_debug("%s: %s -> %s", c->name, imap_state_name(c->state),
	    imap_state_name(s));
	c->state = s;
}

/* Queues. */

static void
q_push(struct cmdq *q, struct imap_cmd *cmd)
{
	cmd->next = NULL;
	if (q->tail)
		q->tail->next = cmd;
	else
		q->head = cmd;
	q->tail = cmd;
	q->n++;
}

static struct imap_cmd *
q_shift(struct cmdq *q)
{
	struct imap_cmd *cmd = q->head;

	if (cmd == NULL)
		return NULL;
	q->head = cmd->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	cmd->next = NULL;
	return cmd;
}

/* Unlink the in-flight command with this tag; NULL if there is none. */
static struct imap_cmd *
q_take_tag(struct cmdq *q, unsigned tag)
{
	struct imap_cmd *prev = NULL, *cmd;

	for (cmd = q->head; cmd != NULL; prev = cmd, cmd = cmd->next) {
		if (cmd->tag != tag)
			continue;
		if (prev)
			prev->next = cmd->next;
		else
			q->head = cmd->next;
		if (q->tail == cmd)
			q->tail = prev;
		q->n--;
		cmd->next = NULL;
		return cmd;
	}
	return NULL;
}

static void
cmd_free(struct imap_cmd *cmd)
{
	if (cmd->out.cap)
		explicit_bzero(cmd->out.data, cmd->out.cap);
	buf_release(&cmd->out);
	free(cmd->pieces);
	free(cmd);
}

static void
cmd_finish(struct imap_cmd *cmd, const struct imap_reply *r)
{
	struct imap_client *c = cmd->c;

	if (c->waiting_cont == cmd)
		c->waiting_cont = NULL;
	if (c->sending == cmd)
		c->sending = NULL;
	if (c->barrier == cmd)
		c->barrier = NULL;
	if (c->sink_cmd == cmd)
		c->sink_cmd = NULL;
	if (cmd->done)
		cmd->done(c, r, cmd->arg);
	cmd_free(cmd);
}

/* Tracing: secrets become <redacted>, literal payloads <N bytes>. */

static void
trace_out(
    struct imap_client *c, const struct imap_cmd *cmd, size_t from, size_t to)
{
	struct buf t;
	size_t i, pos = from;

	if (!log_enabled(LOG_TRACE))
		return;
	buf_init(&t, 4096);
	if (from == 0 && buf_printf(&t, "%u ", cmd->tag) == -1)
		goto out;
	for (i = 0; i < cmd->nhide; i++) {
		const struct hidden *h = &cmd->hide[i];

		if (h->to <= pos || h->from >= to)
			continue;
		if (h->from > pos &&
		    buf_append(&t, cmd->out.data + pos, h->from - pos) == -1)
			break;
		if ((h->secret ? buf_puts(&t, "<redacted>")
			       : buf_printf(
				     &t, "<%zu bytes>", h->to - h->from)) == -1)
			break;
		pos = h->to;
	}
	if (pos < to && buf_append(&t, cmd->out.data + pos, to - pos) == -1) {
		/* a trace line cut at its maximum is fine */
	}
	while (t.len > 0 &&
	       (t.data[t.len - 1] == '\n' || t.data[t.len - 1] == '\r'))
		buf_truncate(&t, t.len - 1);
	for (i = 0; i < t.len; i++)
		if (t.data[i] == '\r' || t.data[i] == '\n')
			t.data[i] = ' ';
out:
	/* Nothing but the CRLF after a file literal: not worth a line. */
	if (t.len > 0)
		log_trace(
		    "%s C: %s%s", c->name, t.data, t.len == t.max ? "..." : "");
	buf_release(&t);
}

static void
trace_in(struct imap_client *c, const struct imap_resp *r)
{
	struct buf t;
	bool cut;

	if (!log_enabled(LOG_TRACE))
		return;
	buf_init(&t, 1024);
	cut = imap_resp_trace(r, &t) == -1;
	log_trace("%s S: %s%s", c->name, t.data, cut ? " ..." : "");
	buf_release(&t);
}

/* Writing commands. */

static int
send_bytes(struct imap_client *c, const void *p, size_t n)
{
	struct err e;

	err_clear(&e);
	if (conn_write(c->conn, p, n, &e) == -1) {
		fail_connection(c, &e);
		return -1;
	}
	return 0;
}

/*
 * Stream the file literal at cmd's position while the write queue has
 * room.  Return 1 when it is all out, 0 when it waits for room (in
 * c->sending), -1 when the connection failed.
 */
static int
send_piece(struct imap_client *c, struct imap_cmd *cmd)
{
	const struct piece *pc = &cmd->pieces[cmd->psent];
	size_t want;
	ssize_t n;
	struct err e;

	if (c->fbuf == NULL)
		c->fbuf = xmalloc(FILE_CHUNK);
	while (cmd->poff < pc->len) {
		if (conn_wpending(c->conn) >= FILE_HIGH_WATER) {
			c->sending = cmd; /* CONN_EV_DRAINED pumps again */
			return 0;
		}
		want = pc->len - cmd->poff < FILE_CHUNK
			   ? (size_t)(pc->len - cmd->poff)
			   : FILE_CHUNK;
		n = pread(pc->fd, c->fbuf, want, (off_t)(pc->off + cmd->poff));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Half a literal is out: nothing else can follow. */
			if (n < 0)
				err_sys(&e, "reading a literal to send");
			else
				err_set(&e, ERR_SYS,
				    "reading a literal to send: the file "
				    "ends %" PRIu64 " bytes short",
				    pc->len - cmd->poff);
			fail_connection(c, &e);
			return -1;
		}
		if (send_bytes(c, c->fbuf, (size_t)n) == -1)
			return -1;
		cmd->poff += (uint64_t)n;
	}
	log_trace("%s C: <%" PRIu64 " bytes>", c->name, pc->len);
	cmd->psent++;
	cmd->poff = 0;
	return 1;
}

/* All of cmd is out: wipe secrets, free its text, wait for "+" if asked. */
static void
sent_all(struct imap_client *c, struct imap_cmd *cmd)
{
	if (cmd->has_secret) {
		explicit_bzero(cmd->out.data, cmd->out.len);
		cmd->has_secret = false;
	}
	buf_release(&cmd->out);
	if (cmd->flags & IMAP_CMD_CONT)
		c->waiting_cont = cmd;
}

/*
 * Send what comes next of cmd: up to a segment end (then wait for "+"),
 * while file literals find room, or to its end.  -1 when the connection
 * failed.
 */
static int
send_more(struct imap_client *c, struct imap_cmd *cmd)
{
	char tag[24];
	size_t stop;
	int n, r;

	c->sending = NULL;
	if (!cmd->started) {
		cmd->started = true;
		n = snprintf(tag, sizeof(tag), "%u ", cmd->tag);
		if (send_bytes(c, tag, (size_t)n) == -1)
			return -1;
	}
	for (;;) {
		stop = cmd->out.len;
		if (cmd->segsent < cmd->nseg && cmd->seg[cmd->segsent] < stop)
			stop = cmd->seg[cmd->segsent];
		if (cmd->psent < cmd->npieces &&
		    cmd->pieces[cmd->psent].at < stop)
			stop = cmd->pieces[cmd->psent].at;
		if (cmd->pos < stop) {
			trace_out(c, cmd, cmd->pos, stop);
			if (send_bytes(c, cmd->out.data + cmd->pos,
				stop - cmd->pos) == -1)
				return -1;
			cmd->pos = stop;
			continue;
		}
		if (cmd->segsent < cmd->nseg &&
		    cmd->seg[cmd->segsent] == cmd->pos) {
			cmd->segsent++;
			cmd->lit_wait = true;
			c->waiting_cont = cmd;
			return 0;
		}
		if (cmd->psent == cmd->npieces ||
		    cmd->pieces[cmd->psent].at != cmd->pos)
			break;
		if ((r = send_piece(c, cmd)) <= 0)
			return r;
	}
	sent_all(c, cmd);
	return 0;
}

static bool
sendable(const struct imap_client *c)
{
	const struct imap_cmd *next = c->pending.head;
	unsigned window = c->opts.window ? c->opts.window : 32;

	if (next == NULL || !c->connected || c->waiting_cont || c->barrier ||
	    c->sending)
		return false;
	if (c->state == IMAP_ST_CLOSED || c->state == IMAP_ST_GREETING)
		return false;
	if (c->in_flight.n >= window)
		return false;
	if ((next->flags & IMAP_CMD_BARRIER) && c->in_flight.n > 0)
		return false;
	/*
	 * Backpressure: while the socket has not taken what was queued,
	 * hold further commands (CONN_EV_DRAINED pumps again), so that a
	 * run of big APPENDs waits instead of overflowing the write queue.
	 */
	if (conn_wpending(c->conn) > WRITE_LOW_WATER &&
	    conn_wpending(c->conn) + next->out.len > WRITE_HIGH_WATER)
		return false;
	return true;
}

static void
pump(struct imap_client *c)
{
	if (c->sending != NULL && c->connected &&
	    (send_more(c, c->sending) == -1 || c->sending != NULL))
		return;
	while (sendable(c)) {
		struct imap_cmd *cmd = q_shift(&c->pending);

		if (cmd ==
		    NULL) /* sendable() saw one; this tells the compiler */
			break;
		cmd->tag = c->next_tag++;
		q_push(&c->in_flight, cmd);
		c->sent++;
		if (cmd->flags & IMAP_CMD_SELECT)
			memset(&c->mbox, 0, sizeof(c->mbox));
		if (cmd->flags & IMAP_CMD_BARRIER)
			c->barrier = cmd;
		if (send_more(c, cmd) == -1)
			return;
	}
}

/* Building commands. */

struct imap_cmd *
imap_cmd_new(
    struct imap_client *c, unsigned flags, imap_done_cb *done, void *arg)
{
	struct imap_cmd *cmd = xcalloc(1, sizeof(*cmd));

	cmd->c = c;
	cmd->flags = flags;
	cmd->done = done;
	cmd->arg = arg;
	buf_init(&cmd->out, BUF_NOMAX);
	return cmd;
}

void
imap_cmd_set_untagged(struct imap_cmd *cmd, imap_untagged_cb *cb, void *arg)
{
	cmd->untagged = cb;
	cmd->untagged_arg = arg;
}

void
imap_cmd_set_cont(struct imap_cmd *cmd, imap_cont_cb *cb)
{
	cmd->cont = cb;
	cmd->flags |= IMAP_CMD_CONT;
}

void
imap_cmd_set_sink(struct imap_cmd *cmd, const struct imap_sink *sink)
{
	cmd->sink = sink;
}

static void
put(struct imap_cmd *cmd, const void *p, size_t n)
{
	if (buf_append(&cmd->out, p, n) == -1)
		abort(); /* BUF_NOMAX: only on absurd sizes */
}

void
imap_cmd_printf(struct imap_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&cmd->out, fmt, ap);
	va_end(ap);
	if (r == -1)
		abort();
}

/* Start hiding out from offset from; hide_end() closes the range. */
static void
hide(struct imap_cmd *cmd, size_t from, bool secret)
{
	if (secret)
		cmd->has_secret = true;
	/* Nested in a range already open (a secret sent as a literal). */
	if (cmd->nhide > 0 && cmd->hide[cmd->nhide - 1].to == SIZE_MAX)
		return;
	if (cmd->nhide == MAX_HIDDEN) {
		/* Out of slots: hide everything from here on. */
		cmd->hide[MAX_HIDDEN - 1].to = SIZE_MAX;
		return;
	}
	cmd->hide[cmd->nhide].from = from;
	cmd->hide[cmd->nhide].to = SIZE_MAX;
	cmd->hide[cmd->nhide].secret = secret;
	cmd->nhide++;
}

static void
hide_end(struct imap_cmd *cmd)
{
	struct hidden *h = &cmd->hide[cmd->nhide - 1];

	if (h->to == SIZE_MAX && cmd->nhide < MAX_HIDDEN)
		h->to = cmd->out.len;
}

/* The "{n}" or "{n+}" of a literal; a sync one ends a segment. */
static void
literal_head(struct imap_cmd *cmd, uint64_t n)
{
	const struct imap_client *c = cmd->c;
	bool nonsync = imap_has_cap(c, "LITERAL+") ||
		       (imap_has_cap(c, "LITERAL-") && n <= LITERAL_MINUS);

	imap_cmd_printf(cmd, "{%" PRIu64 "%s}\r\n", n, nonsync ? "+" : "");
	cmd->nonsync = cmd->nonsync || nonsync;
	if (!nonsync) {
		if (cmd->nseg == MAX_SEGMENTS)
			abort(); /* a programming error: too many */
		cmd->seg[cmd->nseg++] = cmd->out.len;
	}
}

void
imap_cmd_literal(struct imap_cmd *cmd, const void *p, size_t n)
{
	literal_head(cmd, n);
	hide(cmd, cmd->out.len, false);
	put(cmd, p, n);
	hide_end(cmd);
}

void
imap_cmd_literal_fd(struct imap_cmd *cmd, int fd, uint64_t off, uint64_t n)
{
	struct piece *pc;

	literal_head(cmd, n);
	cmd->pieces =
	    xreallocarray(cmd->pieces, cmd->npieces + 1, sizeof(*cmd->pieces));
	pc = &cmd->pieces[cmd->npieces++];
	pc->at = cmd->out.len;
	pc->fd = fd;
	pc->off = off;
	pc->len = n;
}

/*
 * ATOM-CHAR = <any CHAR except atom-specials>
 * atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                 quoted-specials / resp-specials
 */
static bool
is_atom_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && strchr("(){%*\"\\]", ch) == NULL;
}

/* QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials */
static bool
is_quotable(unsigned char ch, bool utf8)
{
	return (ch >= 0x20 && ch < 0x7f) || (utf8 && ch >= 0x80);
}

void
imap_cmd_astring(struct imap_cmd *cmd, struct str s)
{
	bool atom = s.len > 0, quote = true;
	size_t i;

	for (i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		atom = atom && is_atom_char(ch);
		quote = quote && is_quotable(ch, cmd->c->utf8_accept);
	}
	if (atom) {
		put(cmd, s.p, s.len);
		return;
	}
	if (!quote || s.len > 1024) {
		imap_cmd_literal(cmd, s.p, s.len);
		return;
	}
	put(cmd, "\"", 1);
	for (i = 0; i < s.len; i++) {
		if (s.p[i] == '"' || s.p[i] == '\\')
			put(cmd, "\\", 1);
		put(cmd, &s.p[i], 1);
	}
	put(cmd, "\"", 1);
}

void
imap_cmd_secret(struct imap_cmd *cmd, struct str s)
{
	hide(cmd, cmd->out.len, true);
	imap_cmd_astring(cmd, s);
	hide_end(cmd);
}

int
imap_cmd_mailbox(struct imap_cmd *cmd, const char *utf8, struct err *err)
{
	struct buf b;
	int r = 0;

	if (cmd->c->utf8_accept || strcasecmp(utf8, "INBOX") == 0) {
		imap_cmd_astring(cmd, str_from(utf8));
		return 0;
	}
	buf_init(&b, 4096);
	if (imap_utf8_to_utf7(str_from(utf8), &b, err) == -1)
		r = err_prefix(err, "mailbox name \"%s\"", utf8);
	else
		imap_cmd_astring(cmd, str_make(b.data, b.len));
	buf_release(&b);
	return r;
}

void
imap_cmd_send(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->c;

	put(cmd, "\r\n", 2);
	if (c->state == IMAP_ST_CLOSED) {
		struct imap_reply r = {IMAP_STATUS_NONE, NULL, &c->fail};

		cmd_finish(cmd, &r);
		return;
	}
	q_push(&c->pending, cmd);
	pump(c);
}

/* Capabilities. */

static void
set_caps(struct imap_client *c, const struct imap_arg *args, size_t n)
{
	struct buf b;
	size_t i;

	buf_init(&b, sizeof(c->caps) - 1);
	for (i = 0; i < n; i++) {
		struct str s;

		if (!imap_arg_string(&args[i], &s))
			continue;
		if ((b.len && buf_putc(&b, ' ') == -1) ||
		    buf_append(&b, s.p, s.len) == -1)
			break;
	}
	for (i = 0; i < b.len; i++)
		b.data[i] = (char)toupper((unsigned char)b.data[i]);
	memcpy(c->caps, b.data, b.len + 1);
	buf_release(&b);
	log_debug("%s: capabilities: %s", c->name, c->caps);
}

/* Is word one of the space-separated words of list (ASCII case)? */
static bool
word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t len = strcspn(p, " ");

		if (len == n && strncasecmp(p, word, n) == 0)
			return true;
		p += len;
		p += strspn(p, " ");
	}
	return false;
}

bool
imap_has_cap(const struct imap_client *c, const char *cap)
{
	return word_in(c->caps, cap) && !word_in(c->disabled, cap);
}

bool
imap_cap_disabled(const struct imap_client *c, const char *cap)
{
	return word_in(c->disabled, cap);
}

void
imap_client_behind_login(
    struct imap_client *c, void (*fn)(struct imap_client *, void *), void *arg)
{
	c->behind_login = fn;
	c->behind_login_arg = arg;
}

void
imap_client_disable_cap(struct imap_client *c, const char *cap)
{
	size_t n = strlen(c->disabled);

	snprintf(c->disabled + n, sizeof(c->disabled) - n, "%s%s", n ? " " : "",
	    cap);
}

const char *
imap_caps(const struct imap_client *c)
{
	return c->caps;
}

bool
imap_is_enabled(const struct imap_client *c, const char *ext)
{
	return word_in(c->enabled, ext);
}

/* Responses. */

static void
mailbox_code(struct imap_client *c, const struct imap_resp *r)
{
	struct imap_mailbox *m = &c->mbox;
	const struct imap_arg *a = r->ncode_args ? &r->code_args[0] : NULL;
	uint64_t v;

	if (str_eq_ci(r->code, "UIDVALIDITY") &&
	    imap_arg_number(a, UINT32_MAX, &v))
		m->uidvalidity = (uint32_t)v;
	else if (str_eq_ci(r->code, "UIDNEXT") &&
		 imap_arg_number(a, UINT32_MAX, &v))
		m->uidnext = (uint32_t)v;
	else if (str_eq_ci(r->code, "HIGHESTMODSEQ") &&
		 imap_arg_number(a, UINT64_MAX, &v))
		m->highestmodseq = v;
	else if (str_eq_ci(r->code, "NOMODSEQ"))
		m->nomodseq = true;
	else if (str_eq_ci(r->code, "READ-ONLY"))
		m->readonly = true;
	else if (str_eq_ci(r->code, "PERMANENTFLAGS")) {
		const struct imap_arg *l;
		struct buf b;
		size_t n, i;

		if (!imap_arg_list(a, &l, &n))
			return;
		buf_init(&b, sizeof(m->permflags) - 1);
		m->perm_keywords = false;
		for (i = 0; i < n; i++) {
			struct str s;

			if (!imap_arg_string(&l[i], &s))
				continue;
			if (str_eq_cstr(s, "\\*"))
				m->perm_keywords = true;
			if ((b.len && buf_putc(&b, ' ') == -1) ||
			    buf_append(&b, s.p, s.len) == -1)
				break;
		}
		memcpy(m->permflags, b.data, b.len + 1);
		buf_release(&b);
	}
}

/* Codes that matter whichever command they arrive with. */
static void
status_code(struct imap_client *c, const struct imap_resp *r)
{
	if (r->code.len == 0)
		return;
	if (str_eq_ci(r->code, "CAPABILITY"))
		set_caps(c, r->code_args, r->ncode_args);
	else if (str_eq_ci(r->code, "ALERT"))
		log_warn("%s: server alert: %.*s", c->name, (int)r->text.len,
		    r->text.p);
	else if (str_eq_ci(r->code, "CLOSED"))
		memset(&c->mbox, 0, sizeof(c->mbox));
	else
		mailbox_code(c, r);
}

/*
 * How many UIDs "1,4:6" names, at most max (a count cannot exceed the
 * messages that exist); 0 for anything malformed.
 */
static uint32_t
uidset_count(const struct imap_arg *a, uint32_t max)
{
	struct str s;
	uint64_t lo, hi, n = 0;

	if (!imap_arg_string(a, &s) || a->type != IMAP_ARG_ATOM)
		return 0;
	while (s.len > 0) {
		if (!str_take_u64(&s, UINT32_MAX, &lo))
			return 0;
		hi = lo;
		if (str_skip_char(&s, ':') &&
		    !str_take_u64(&s, UINT32_MAX, &hi))
			return 0;
		n += lo < hi ? hi - lo + 1 : lo - hi + 1;
		if (n >= max)
			return max;
		if (s.len > 0 && !str_skip_char(&s, ','))
			return 0;
	}
	return (uint32_t)n;
}

/* The client's own view of untagged data; true when fully handled. */
static bool
own_untagged(struct imap_client *c, const struct imap_resp *r)
{
	const struct imap_arg *a = r->args;
	uint64_t v;

	if (r->status == IMAP_STATUS_BYE) {
		c->bye = true;
		log_debug("%s: server says BYE: %.*s", c->name,
		    (int)r->text.len, r->text.p);
		return true;
	}
	if (r->status != IMAP_STATUS_NONE)
		return r->code.len != 0 && !str_eq_ci(r->code, "ALERT");
	if (r->nargs >= 1 && imap_arg_is_atom(&a[0], "CAPABILITY")) {
		set_caps(c, a + 1, r->nargs - 1);
		return true;
	}
	if (r->nargs >= 1 && imap_arg_is_atom(&a[0], "ENABLED")) {
		size_t i, n = strlen(c->enabled);

		for (i = 1; i < r->nargs; i++) {
			struct str s;

			if (imap_arg_string(&a[i], &s))
				n += (size_t)snprintf(c->enabled + n,
				    n < sizeof(c->enabled)
					? sizeof(c->enabled) - n
					: 0,
				    " %.*s", (int)s.len, s.p);
			if (n >= sizeof(c->enabled))
				n = sizeof(c->enabled) - 1;
		}
		c->utf8_accept = word_in(c->enabled, "UTF8=ACCEPT");
		return true;
	}
	if (r->nargs == 2 && imap_arg_is_atom(&a[1], "EXISTS") &&
	    imap_arg_number(&a[0], UINT32_MAX, &v))
		c->mbox.exists = (uint32_t)v;
	else if (r->nargs == 2 && imap_arg_is_atom(&a[0], "VANISHED"))
		c->mbox.exists -= uidset_count(&a[1], c->mbox.exists);
	else if (r->nargs == 2 && imap_arg_is_atom(&a[1], "EXPUNGE") &&
		 c->mbox.exists > 0)
		c->mbox.exists--;
	return false;
}

static void
dispatch_untagged(struct imap_client *c, const struct imap_resp *r)
{
	struct imap_cmd *cmd;
	bool own;

	status_code(c, r);
	own = own_untagged(c, r);
	for (cmd = c->in_flight.head; cmd != NULL; cmd = cmd->next)
		if (cmd->untagged && cmd->untagged(c, r, cmd->untagged_arg))
			return;
	if (own)
		return;
	if (c->unsolicited && c->unsolicited(c, r, c->unsolicited_arg))
		return;
	if (r->status == IMAP_STATUS_NONE)
		log_debug("%s: ignoring untagged response", c->name);
}

static void
dispatch_cont(struct imap_client *c, const struct imap_resp *r)
{
	struct imap_cmd *cmd = c->waiting_cont;
	struct err e;
	struct buf reply;
	int rc;

	if (cmd == NULL) {
		err_set(&e, ERR_PROTO,
		    "server sent a continuation request "
		    "that no command asked for");
		fail_connection(c, &e);
		return;
	}
	if (cmd->lit_wait) {
		/* The server is ready for the literal we announced. */
		cmd->lit_wait = false;
		c->waiting_cont = NULL;
		(void)send_more(c, cmd);
		pump(c);
		return;
	}
	if (cmd->cont == NULL) {
		err_set(&e, ERR_PROTO, "unexpected continuation request");
		fail_connection(c, &e);
		return;
	}
	buf_init(&reply, 64 * 1024);
	rc = cmd->cont(c, r->text, &reply, cmd->arg);
	if (rc == -1) {
		buf_reset(&reply);
		if (buf_putc(&reply, '*') == -1)
			abort();
	}
	if (rc == 1)
		conn_expect(
		    c->conn, false); /* IDLE: the server may be silent */
	if (rc != 1) {
		log_trace("%s C: <redacted>", c->name);
		if (buf_append(&reply, "\r\n", 2) == -1) {
			err_set(&e, ERR_LIMIT, "continuation reply too long");
			fail_connection(c, &e);
		} else {
			send_bytes(c, reply.data, reply.len);
		}
	}
	explicit_bzero(reply.data, reply.len);
	buf_release(&reply);
}

static void
dispatch_tagged(struct imap_client *c, const struct imap_resp *r)
{
	struct imap_reply reply = {r->status, r, NULL};
	struct imap_cmd *cmd;
	uint64_t tag;
	struct err e;

	status_code(c, r);
	if (!str_to_u64(r->tag, UINT32_MAX, &tag) ||
	    (cmd = q_take_tag(&c->in_flight, (unsigned)tag)) == NULL) {
		err_set(&e, ERR_PROTO,
		    "server answered a command never sent "
		    "(tag \"%.*s\")",
		    (int)(r->tag.len > 32 ? 32 : r->tag.len), r->tag.p);
		fail_connection(c, &e);
		return;
	}
	if (r->status != IMAP_STATUS_OK && r->status != IMAP_STATUS_NO &&
	    r->status != IMAP_STATUS_BAD) {
		err_set(&e, ERR_PROTO, "tagged reply is not OK, NO or BAD");
		reply.status = IMAP_STATUS_NONE;
		reply.err = &e;
	}
	if (c->sending == cmd) {
		/*
		 * Answered in the middle of a literal we are still writing:
		 * the rest of it would be read as commands.
		 */
		c->sending = NULL;
		err_set(&e, ERR_PROTO,
		    "server answered a command before its literal was sent");
		fail_connection(c, &e);
		reply.status = IMAP_STATUS_NONE;
		reply.err = &c->fail;
	} else if (r->status == IMAP_STATUS_BAD && cmd->nonsync) {
		/*
		 * A server may say BAD before reading a {n+} literal (Dovecot
		 * does, for a flag it does not know) and read the literal's
		 * lines as commands: nothing more may be sent here.
		 */
		err_set(&e, ERR_PROTO,
		    "server said BAD to a command with literals: %.*s",
		    (int)r->text.len, r->text.p);
		fail_connection(c, &e);
	}
	cmd_finish(cmd, &reply);
	/* Nothing owed by the server: silence is no longer a timeout. */
	if (c->in_flight.n == 0 && c->pending.n == 0 &&
	    c->state != IMAP_ST_CLOSED)
		conn_expect(c->conn, false);
}

static void
on_response(struct imap_client *c, const struct imap_resp *r)
{
	struct err e;

	trace_in(c, r);
	switch (r->kind) {
	case IMAP_RESP_CONTINUE:
		dispatch_cont(c, r);
		break;
	case IMAP_RESP_UNTAGGED:
		if (c->state == IMAP_ST_GREETING) {
			struct buf g;

			buf_init(&g, sizeof(c->greeting) - 1);
			(void)imap_resp_print(r, &g);
			memcpy(c->greeting, g.data, g.len + 1);
			buf_release(&g);
			status_code(c, r);
			if (r->status == IMAP_STATUS_PREAUTH)
				set_state(c, IMAP_ST_AUTH);
			else if (r->status == IMAP_STATUS_OK)
				set_state(c, IMAP_ST_NOAUTH);
			else {
				err_set(&e, ERR_CONN,
				    "server refused the "
				    "connection: %.*s",
				    (int)r->text.len, r->text.p);
				fail_connection(c, &e);
			}
			break;
		}
		dispatch_untagged(c, r);
		break;
	case IMAP_RESP_TAGGED:
		dispatch_tagged(c, r);
		break;
	case IMAP_RESP_INVALID:
		/* Framed but malformed: fail the command it belongs to. */
		if (r->tag.len > 0 && !str_eq_cstr(r->tag, "*") &&
		    !str_eq_cstr(r->tag, "+")) {
			dispatch_tagged(c, r);
			break;
		}
		log_debug(
		    "%s: ignoring malformed response: %s", c->name, r->error);
		break;
	}
}

/* Connection events. */

static void
on_data(void *arg, const char *data, size_t len)
{
	struct imap_client *c = arg;
	const struct imap_resp *r;
	size_t used;
	struct err e;
	int rc;

	err_clear(&e);
	while (len > 0 && c->state != IMAP_ST_CLOSED) {
		rc = imap_parser_feed(c->parser, data, len, &used, &r, &e);
		if (rc == -1) {
			fail_connection(c, &e);
			return;
		}
		data += used;
		len -= used;
		if (rc == 1)
			on_response(c, r);
		if (c->discard_input) {
			c->discard_input = false;
			break;
		}
		if (c->start_compress) {
			/* What follows the OK is already compressed. */
			c->start_compress = false;
			if (conn_compress_rest(c->conn, data, len, &e) == -1) {
				fail_connection(c, &e);
				return;
			}
			break;
		}
	}
	pump(c);
}

static void
on_conn_event(void *arg, enum conn_event ev, const struct err *err)
{
	struct imap_client *c = arg;
	struct err e;

	switch (ev) {
	case CONN_EV_CONNECTED:
		c->connected = true;
		c->tls_active = c->opts.conn.tls == CONN_TLS_IMPLICIT;
		set_state(c, IMAP_ST_GREETING);
		break;
	case CONN_EV_TLS_READY:
		c->tls_active = true;
		c->tls_ready = true;
		pump(c);
		break;
	case CONN_EV_DRAINED:
		pump(c);
		break;
	case CONN_EV_CLOSED:
		if (c->state == IMAP_ST_LOGOUT)
			err_set(&e, ERR_CONN, "logged out");
		else
			err_set(&e, ERR_CONN, "server closed the connection%s",
			    c->bye ? " (BYE)" : "");
		fail_connection(c, &e);
		break;
	case CONN_EV_ERROR:
		fail_connection(c, err);
		break;
	}
}

static void
fail_connection(struct imap_client *c, const struct err *why)
{
	struct imap_reply r = {IMAP_STATUS_NONE, NULL, &c->fail};
	struct imap_cmd *cmd;
	bool was_open = c->state != IMAP_ST_CLOSED;

	if (!was_open)
		return;
	c->fail = *why;
	if (c->state != IMAP_ST_LOGOUT)
		log_debug("%s: connection lost: %s", c->name, why->msg);
	set_state(c, IMAP_ST_CLOSED);
	c->connected = false;
	conn_close(c->conn);
	while ((cmd = q_shift(&c->in_flight)) != NULL)
		cmd_finish(cmd, &r);
	while ((cmd = q_shift(&c->pending)) != NULL)
		cmd_finish(cmd, &r);
	if (c->on_close)
		c->on_close(c, &c->fail, c->on_close_arg);
}

/* The sink hook: forward big literals to the command that wants them. */

static struct imap_cmd *
sink_owner(struct imap_client *c, uint64_t size, struct str before, int *rc)
{
	struct imap_cmd *cmd, *oldest = NULL;

	for (cmd = c->in_flight.head; cmd != NULL; cmd = cmd->next) {
		if (cmd->sink == NULL)
			continue;
		if (oldest == NULL)
			oldest = cmd;
		*rc = cmd->sink->open(cmd->sink->arg, size, before);
		if (*rc != 1)
			return cmd;
	}
	/* Nobody recognised it: the oldest, as the server answers in order. */
	*rc = 2;
	return oldest;
}

static int
sink_open(void *arg, uint64_t size, struct str before)
{
	struct imap_client *c = arg;
	int rc = -1;

	c->sink_cmd = sink_owner(c, size, before, &rc);
	if (c->sink_cmd == NULL)
		return -1;
	if (rc == 2) /* an empty `before` means: it is yours */
		rc = c->sink_cmd->sink->open(
		    c->sink_cmd->sink->arg, size, STR_NULL);
	return rc == 0 ? 0 : -1;
}

static int
sink_write(void *arg, const char *data, size_t len)
{
	struct imap_client *c = arg;

	if (c->sink_cmd == NULL)
		return -1;
	return c->sink_cmd->sink->write(c->sink_cmd->sink->arg, data, len);
}

static int
sink_close(void *arg)
{
	struct imap_client *c = arg;

	if (c->sink_cmd == NULL)
		return -1;
	return c->sink_cmd->sink->close(c->sink_cmd->sink->arg);
}

/* Life cycle. */

struct imap_client *
imap_client_new(struct loop *loop, const struct imap_client_opts *opts)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));
	struct conn_cbs cbs = {on_data, on_conn_event, c};

	c->loop = loop;
	c->opts = *opts;
	c->name = xstrdup(opts->name ? opts->name : opts->conn.host);
	c->opts.name = c->name;
	c->conn = conn_new(loop, &opts->conn, &cbs);
	/* conn keeps its own copies; ours would dangle. */
	c->opts.conn.host = c->opts.conn.port = NULL;
	c->opts.conn.ca_file = c->opts.conn.fingerprint = NULL;
	c->opts.conn.tls_name = NULL;
	c->parser = imap_parser_new(opts->limits);
	c->sink.open = sink_open;
	c->sink.write = sink_write;
	c->sink.close = sink_close;
	c->sink.arg = c;
	imap_parser_set_sink(c->parser, &c->sink);
	c->next_tag = 1;
	return c;
}

void
imap_client_free(struct imap_client *c)
{
	struct imap_cmd *cmd;

	if (c == NULL)
		return;
	c->on_close = NULL;
	while ((cmd = q_shift(&c->in_flight)) != NULL)
		cmd_free(cmd);
	while ((cmd = q_shift(&c->pending)) != NULL)
		cmd_free(cmd);
	conn_free(c->conn);
	imap_parser_free(c->parser);
	free(c->fbuf);
	free(c->name);
	free(c);
}

/* Run the loop until *flag is set or the connection is gone. */
static int
run_until(struct imap_client *c, const bool *flag, struct err *err)
{
	while (!*flag) {
		if (c->state == IMAP_ST_CLOSED) {
			if (err)
				*err = c->fail;
			return -1;
		}
		if (loop_run_once(c->loop, -1) == -1)
			return err_set(err, ERR_CONN, "nothing to wait for");
	}
	return 0;
}

struct waiter {
	bool done;
	enum imap_status status;
	struct err err;
	char text[400];
	char code[32];
};

static void
wait_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct waiter *w = arg;

	(void)c;
	w->done = true;
	w->status = r->status;
	if (r->err)
		w->err = *r->err;
	if (r->resp) {
		snprintf(w->text, sizeof(w->text), "%.*s",
		    (int)r->resp->text.len, r->resp->text.p);
		snprintf(w->code, sizeof(w->code), "%.*s",
		    (int)r->resp->code.len, r->resp->code.p);
	}
}

/* The reply w waits for, as wait_for() returns it. */
static int
wait_reply(struct imap_client *c, struct waiter *w, struct err *err)
{
	if (run_until(c, &w->done, err) == -1)
		return -1;
	if (w->status == IMAP_STATUS_OK)
		return 0;
	if (w->status == IMAP_STATUS_NONE) {
		if (err)
			*err = w->err;
		return -1;
	}
	return err_set(err, ERR_BOX, "server said %s%s%s%s %s",
	    w->status == IMAP_STATUS_NO ? "NO" : "BAD", w->code[0] ? " [" : "",
	    w->code, w->code[0] ? "]" : "", w->text);
}

/* Send cmd, whose answer goes to w. */
static void
send_waited(struct imap_cmd *cmd, struct waiter *w)
{
	/* Special completions (compress_done) chain to wait_done. */
	if (cmd->done == NULL) {
		cmd->done = wait_done;
		cmd->arg = w;
	}
	assert(cmd->arg == w);
	imap_cmd_send(cmd);
}

static int
wait_for(struct imap_client *c, struct imap_cmd *cmd, struct waiter *w,
    struct err *err)
{
	send_waited(cmd, w);
	return wait_reply(c, w, err);
}

/*
 * Send the login command cmd, then what its caller pipelines behind it
 * (imap_client_behind_login), and wait for cmd.
 */
static int
wait_login(struct imap_client *c, struct imap_cmd *cmd, struct waiter *w,
    struct err *err)
{
	void (*fn)(struct imap_client *, void *) = c->behind_login;

	send_waited(cmd, w);
	c->behind_login = NULL;
	if (fn != NULL)
		fn(c, c->behind_login_arg);
	c->caps[0] = '\0'; /* the answer may bring the new ones */
	return wait_reply(c, w, err);
}

int
imap_cmd_wait(struct imap_cmd *cmd, struct err *err)
{
	struct waiter w;

	memset(&w, 0, sizeof(w));
	return wait_for(cmd->c, cmd, &w, err);
}

int
imap_simple(struct imap_client *c, imap_untagged_cb *untagged, void *arg,
    struct err *err, const char *fmt, ...)
{
	struct imap_cmd *cmd;
	struct waiter w;
	va_list ap;
	int r;

	memset(&w, 0, sizeof(w));
	cmd = imap_cmd_new(c, 0, NULL, NULL);
	va_start(ap, fmt);
	r = buf_vprintf(&cmd->out, fmt, ap);
	va_end(ap);
	if (r == -1)
		abort();
	imap_cmd_set_untagged(cmd, untagged, arg);
	return wait_for(c, cmd, &w, err);
}

int
imap_client_drain(struct imap_client *c, struct err *err)
{
	while (c->pending.n > 0 || c->in_flight.n > 0) {
		if (c->state == IMAP_ST_CLOSED) {
			if (err)
				*err = c->fail;
			return -1;
		}
		if (loop_run_once(c->loop, -1) == -1)
			return err_set(err, ERR_CONN, "nothing to wait for");
	}
	return 0;
}

/* Connecting. */

static bool
greeted(const struct imap_client *c)
{
	return c->state != IMAP_ST_CONNECTING && c->state != IMAP_ST_GREETING;
}

static int
wait_greeting(struct imap_client *c, struct err *err)
{
	while (!greeted(c))
		if (loop_run_once(c->loop, -1) == -1)
			return err_set(err, ERR_CONN, "nothing to wait for");
	if (c->state == IMAP_ST_CLOSED) {
		*err = c->fail;
		return -1;
	}
	return 0;
}

static void
starttls_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	struct waiter *w = arg;
	struct err e;

	wait_done(c, r, w);
	if (r->status != IMAP_STATUS_OK)
		return;
	/*
	 * Whatever the server sent after its OK was sent in plaintext and
	 * may be an attacker's: the parser starts afresh, and conn discards
	 * what it has not delivered yet.
	 */
	imap_parser_free(c->parser);
	c->parser = imap_parser_new(c->opts.limits);
	imap_parser_set_sink(c->parser, &c->sink);
	c->discard_input = true;
	c->caps[0] = '\0';
	err_clear(&e);
	if (conn_starttls(c->conn, &e) == -1)
		fail_connection(c, &e);
}

static int connect_with(struct imap_client *, int, struct err *);

static int
starttls(struct imap_client *c, struct err *err)
{
	struct imap_cmd *cmd;
	struct waiter w;

	if (c->state == IMAP_ST_AUTH)
		return err_set(err, ERR_TLS,
		    "server sent PREAUTH on a "
		    "connection that must be upgraded with STARTTLS; "
		    "refusing to continue unencrypted");
	if (!imap_has_cap(c, "STARTTLS"))
		return err_set(err, ERR_TLS,
		    "server does not offer STARTTLS "
		    "(configure tls: implicit, or tls: none to allow "
		    "plaintext)");
	memset(&w, 0, sizeof(w));
	cmd = imap_cmd_new(c, IMAP_CMD_BARRIER, NULL, NULL);
	imap_cmd_printf(cmd, "STARTTLS");
	put(cmd, "\r\n", 2);
	cmd->done = starttls_done;
	cmd->arg = &w;
	q_push(&c->pending, cmd);
	pump(c);
	if (run_until(c, &w.done, err) == -1)
		return -1;
	if (w.status != IMAP_STATUS_OK)
		return err_set(
		    err, ERR_TLS, "server refused STARTTLS: %s", w.text);
	if (run_until(c, &c->tls_ready, err) == -1)
		return -1;
	return 0;
}

int
imap_client_connect(struct imap_client *c, struct err *err)
{
	return connect_with(c, -1, err);
}

int
imap_client_connect_fd(struct imap_client *c, int fd, struct err *err)
{
	return connect_with(c, fd, err);
}

/* Start on fd, or connect when fd is -1; then as imap_client_connect. */
static int
connect_with(struct imap_client *c, int fd, struct err *err)
{
	int r;

	set_state(c, IMAP_ST_CONNECTING);
	r = fd == -1 ? conn_start(c->conn, err)
		     : conn_start_fd(c->conn, fd, err);
	if (r == -1) {
		set_state(c, IMAP_ST_CLOSED);
		return -1;
	}
	if (wait_greeting(c, err) == -1)
		return -1;
	if (c->opts.conn.tls == CONN_TLS_STARTTLS && c->caps[0] == '\0' &&
	    c->state == IMAP_ST_NOAUTH &&
	    imap_simple(c, NULL, NULL, err, "CAPABILITY") == -1)
		return -1;
	if (c->opts.conn.tls == CONN_TLS_STARTTLS && starttls(c, err) == -1)
		return -1;
	if (c->caps[0] == '\0' &&
	    imap_simple(c, NULL, NULL, err, "CAPABILITY") == -1)
		return -1;
	return 0;
}

static void
compress_done(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	wait_done(c, r, arg);
	/* on_data switches with the bytes that followed the OK. */
	if (r->status == IMAP_STATUS_OK)
		c->start_compress = true;
}

int
imap_client_compress(struct imap_client *c, struct err *err)
{
	struct imap_cmd *cmd;
	struct waiter w;

	if (!imap_has_cap(c, "COMPRESS=DEFLATE"))
		return err_set(err, ERR_PROTO,
		    "server does not offer "
		    "COMPRESS=DEFLATE");
	memset(&w, 0, sizeof(w));
	cmd = imap_cmd_new(c, IMAP_CMD_BARRIER, compress_done, &w);
	imap_cmd_printf(cmd, "COMPRESS DEFLATE");
	return wait_for(c, cmd, &w, err) == -1 ? -1 : 0;
}

/* Logging in. */

/* RFC 4616: authzid NUL authcid NUL passwd, base64. */
static int
sasl_plain(const char *user, const char *pass, struct buf *out)
{
	struct buf raw;
	int r = -1;

	buf_init(&raw, 2048);
	if (buf_putc(&raw, '\0') == 0 && buf_puts(&raw, user) == 0 &&
	    buf_putc(&raw, '\0') == 0 && buf_puts(&raw, pass) == 0)
		r = base64_encode(raw.data, raw.len, out);
	explicit_bzero(raw.data, raw.len);
	buf_release(&raw);
	return r;
}

static int
login_refused(const char *user, const char *how, struct err *err)
{
	struct err e = *err;

	if (err->kind != ERR_BOX)
		return -1; /* the connection failed; keep that error */
	return err_set(err, ERR_AUTH, "%s for user %s failed: %s", how, user,
	    e.msg + (strncmp(e.msg, "server said ", 12) ? 0 : 12));
}

int
imap_client_login(
    struct imap_client *c, const char *user, const char *pass, struct err *err)
{
	struct imap_cmd *cmd;
	struct waiter w;
	struct buf ir;
	int r;

	if (c->state == IMAP_ST_AUTH)
		return 0; /* PREAUTH */
	if (c->state != IMAP_ST_NOAUTH)
		return err_set(err, ERR_CONN, "not connected");
	if (!c->tls_active && !c->opts.allow_plaintext)
		return err_set(err, ERR_CONFIG,
		    "refusing to send the password "
		    "over an unencrypted connection (use tls: starttls or "
		    "implicit, or set allow_plaintext: true)");
	cmd = imap_cmd_new(c, 0, NULL, NULL);
	if (imap_has_cap(c, "AUTH=PLAIN") && imap_has_cap(c, "SASL-IR")) {
		buf_init(&ir, 4096);
		if (sasl_plain(user, pass, &ir) == -1) {
			buf_release(&ir);
			cmd_free(cmd);
			return err_set(err, ERR_CONFIG,
			    "user name or password "
			    "too long");
		}
		imap_cmd_printf(cmd, "AUTHENTICATE PLAIN ");
		hide(cmd, cmd->out.len, true);
		put(cmd, ir.data, ir.len);
		hide_end(cmd);
		explicit_bzero(ir.data, ir.len);
		buf_release(&ir);
	} else if (imap_has_cap(c, "LOGINDISABLED")) {
		cmd_free(cmd);
		return err_set(err, ERR_AUTH,
		    "server has disabled LOGIN and "
		    "offers no mechanism ferry can use here");
	} else {
		imap_cmd_printf(cmd, "LOGIN ");
		imap_cmd_astring(cmd, str_from(user));
		imap_cmd_printf(cmd, " ");
		imap_cmd_secret(cmd, str_from(pass));
	}
	memset(&w, 0, sizeof(w));
	r = wait_login(c, cmd, &w, err);
	if (r == -1)
		return login_refused(user, "login", err);
	set_state(c, IMAP_ST_AUTH);
	if (c->caps[0] == '\0' &&
	    imap_simple(c, NULL, NULL, err, "CAPABILITY") == -1)
		return -1;
	return 0;
}

/* AUTHENTICATE with a mechanism of imap/sasl.h. */

/* One exchange; w comes first so that cmd->arg points at both. */
struct auth_run {
	struct waiter w;
	struct sasl *sasl;
	enum sasl_mech m;
	const char *mech;
	bool login_cmd; /* the LOGIN command, not AUTHENTICATE */
	bool failed; /* the mechanism gave up; err says why */
	struct err err;
};

/* Strongest first: the order tried when the user names none. */
static const enum sasl_mech auth_default[] = {
    SASL_GSSAPI,
    SASL_OAUTHBEARER,
    SASL_XOAUTH2,
    SASL_SCRAM_SHA_256,
    SASL_SCRAM_SHA_1,
    SASL_OTP,
    SASL_CRAM_MD5,
    SASL_PLAIN,
    SASL_LOGIN,
};

/* A "+" during AUTHENTICATE: decode, step, encode; -1 cancels. */
static int
auth_cont(struct imap_client *c, struct str text, struct buf *out, void *arg)
{
	struct auth_run *a = arg;
	struct buf in, raw;
	int r = -1;

	(void)c;
	if (a->failed)
		return -1;
	buf_init(&in, 64 * 1024);
	buf_init(&raw, 64 * 1024);
	if (base64_decode(text.p, text.len, &in) == -1)
		err_set(&a->err, ERR_AUTH,
		    "%s: the server's challenge is not base64", a->mech);
	else if (sasl_step(a->sasl, (const unsigned char *)in.data, in.len,
		     &raw, &a->err) == 0 &&
		 base64_encode(raw.data, raw.len, out) == 0)
		r = 0;
	else if (a->err.kind == ERR_NONE)
		err_set(&a->err, ERR_LIMIT, "%s: response too long", a->mech);
	if (r == -1)
		a->failed = true;
	explicit_bzero(raw.data, raw.len);
	buf_release(&raw);
	buf_release(&in);
	return r;
}

/* Whether the server lets us use m; "LOGIN" may be the LOGIN command. */
static bool
auth_offered(struct imap_client *c, enum sasl_mech m)
{
	char cap[32];

	snprintf(cap, sizeof(cap), "AUTH=%s", sasl_mech_name(m));
	if (imap_has_cap(c, cap))
		return true;
	return m == SASL_LOGIN && !imap_has_cap(c, "LOGINDISABLED");
}

/* Note why a mechanism was passed over; past why's bound, stop noting. */
static void
why_add(struct buf *why, const char *name, const char *no)
{
	if (buf_printf(why, "%s%s: %s", why->len ? ", " : "", name, no) == -1)
		return;
}

/*
 * The first usable mechanism of the list, or -1 with err explaining why
 * none is (every reason, so that the user sees what to change).
 */
static int
auth_choose(struct imap_client *c, const struct imap_auth *a,
    enum sasl_mech *out, struct err *err)
{
	const enum sasl_mech *list = a->nmechs ? a->mechs : auth_default;
	size_t i, n = a->nmechs
			  ? a->nmechs
			  : sizeof(auth_default) / sizeof(auth_default[0]);
	bool plaintext = false;
	struct buf why;
	int r = -1;

	buf_init(&why, sizeof(err->msg) - 100);
	for (i = 0; i < n; i++) {
		enum sasl_mech m = list[i];
		const char *name = sasl_mech_name(m), *no = NULL;
		enum sasl_cred cred = sasl_mech_cred(m);

		if (!sasl_mech_available(m))
			no = "not built in";
		else if (!auth_offered(c, m))
			no = "not offered";
		else if (!(a->have & (1u << cred)) &&
			 (cred != SASL_CRED_NONE || a->nmechs == 0))
			no = "no credentials";
		else if (sasl_mech_reveals(m) && !c->tls_active &&
			 !c->opts.allow_plaintext) {
			no = "unencrypted link";
			plaintext = true;
		}
		if (no == NULL) {
			*out = m;
			r = 0;
			break;
		}
		if (a->nmechs)
			why_add(&why, name, no);
	}
	if (r == -1 && plaintext && a->nmechs == 0)
		err_set(err, ERR_CONFIG,
		    "refusing to send the password over an unencrypted "
		    "connection (use tls: starttls or implicit, or set "
		    "allow_plaintext: true)");
	else if (r == -1)
		err_set(err, plaintext ? ERR_CONFIG : ERR_AUTH,
		    "no usable authentication mechanism%s%s%s",
		    why.len ? " (" : "", why.data, why.len ? ")" : "");
	buf_release(&why);
	return r;
}

/* The LOGIN command, for a server without AUTH=LOGIN. */
static struct imap_cmd *
auth_login_cmd(struct imap_client *c, const char *user, const struct buf *pw)
{
	struct imap_cmd *cmd = imap_cmd_new(c, 0, NULL, NULL);

	imap_cmd_printf(cmd, "LOGIN ");
	imap_cmd_astring(cmd, str_from(user));
	imap_cmd_printf(cmd, " ");
	imap_cmd_secret(cmd, str_make(pw->data, pw->len));
	return cmd;
}

/* AUTHENTICATE m, with an initial response when SASL-IR allows. */
static struct imap_cmd *
auth_sasl_cmd(struct imap_client *c, struct auth_run *run, struct err *err)
{
	struct imap_cmd *cmd;
	struct buf raw;
	int r = 0;

	cmd = imap_cmd_new(c, IMAP_CMD_BARRIER | IMAP_CMD_CONT, NULL, NULL);
	imap_cmd_printf(cmd, "AUTHENTICATE %s", run->mech);
	imap_cmd_set_cont(cmd, auth_cont);
	if (!imap_has_cap(c, "SASL-IR") || sasl_mech_server_first(run->m))
		return cmd;
	buf_init(&raw, 64 * 1024);
	r = sasl_step(run->sasl, NULL, 0, &raw, err);
	if (r == 0) {
		imap_cmd_printf(cmd, " ");
		hide(cmd, cmd->out.len, true);
		if (raw.len == 0)
			put(cmd, "=", 1);
		else if (base64_encode(raw.data, raw.len, &cmd->out) == -1)
			abort();
		hide_end(cmd);
	}
	explicit_bzero(raw.data, raw.len);
	buf_release(&raw);
	if (r == -1) {
		cmd_free(cmd);
		return NULL;
	}
	/*
	 * PLAIN is whole in its initial response: the server has nothing
	 * left to ask, so what follows may be pipelined behind it.  (A "+"
	 * would now be an unexpected continuation, a protocol error, so the
	 * next line is never taken for a SASL response.)
	 */
	if (run->m == SASL_PLAIN)
		cmd->flags &= ~(unsigned)(IMAP_CMD_BARRIER | IMAP_CMD_CONT);
	return cmd;
}

/* Fetch the credential m needs, start m, and send its command. */
static struct imap_cmd *
auth_start(struct imap_client *c, const struct imap_auth *a, enum sasl_mech m,
    struct auth_run *run, struct err *err)
{
	enum sasl_cred cred = sasl_mech_cred(m);
	struct sasl_params p;
	struct imap_cmd *cmd = NULL;
	struct buf secret;

	buf_init(&secret, 64 * 1024);
	if (cred != SASL_CRED_NONE &&
	    (a->get == NULL || a->get(a->arg, cred, &secret, err) == -1)) {
		if (a->get == NULL)
			err_set(err, ERR_CONFIG, "%s: no credentials",
			    sasl_mech_name(m));
		goto out_wipe;
	}
	if (m == SASL_LOGIN && !imap_has_cap(c, "AUTH=LOGIN")) {
		run->mech = "LOGIN command";
		run->login_cmd = true;
		cmd = auth_login_cmd(c, a->user, &secret);
		goto out_wipe;
	}
	memset(&p, 0, sizeof(p));
	p.mech = m;
	p.user = a->user;
	p.authzid = a->authzid;
	p.secret = cred != SASL_CRED_NONE ? secret.data : NULL;
	p.host = a->host;
	p.port = a->port;
	if ((run->sasl = sasl_new(&p, err)) != NULL)
		cmd = auth_sasl_cmd(c, run, err);
out_wipe:
	explicit_bzero(secret.data, secret.cap);
	buf_release(&secret);
	return cmd;
}

int
imap_client_auth(
    struct imap_client *c, const struct imap_auth *a, struct err *err)
{
	struct imap_cmd *cmd;
	struct auth_run run;
	enum sasl_mech m;
	char how[64];
	int r = -1;

	if (c->state == IMAP_ST_AUTH)
		return 0; /* PREAUTH */
	if (c->state != IMAP_ST_NOAUTH)
		return err_set(err, ERR_CONN, "not connected");
	if (auth_choose(c, a, &m, err) == -1)
		return -1;
	memset(&run, 0, sizeof(run));
	run.m = m;
	run.mech = sasl_mech_name(m);
	log_debug(
	    "%s: authenticating as %s with %s", c->name, a->user, run.mech);
	if ((cmd = auth_start(c, a, m, &run, err)) == NULL)
		goto out_free;
	snprintf(how, sizeof(how), "%s%s", run.login_cmd ? "" : "AUTHENTICATE ",
	    run.mech);
	cmd->done = wait_done;
	cmd->arg = &run.w;
	if (wait_login(c, cmd, &run.w, err) == -1) {
		if (run.failed && err->kind == ERR_BOX)
			*err = run.err;
		else
			login_refused(a->user, how, err);
		goto out_free;
	}
	if (run.sasl != NULL && sasl_done(run.sasl, err) == -1)
		goto out_free;
	set_state(c, IMAP_ST_AUTH);
	if (c->caps[0] == '\0' &&
	    imap_simple(c, NULL, NULL, err, "CAPABILITY") == -1)
		goto out_free;
	r = 0;
out_free:
	sasl_free(run.sasl);
	return r;
}

/* Everything queued on c is in the kernel's hands. */
static bool
all_written(const struct imap_client *c)
{
	return c->pending.n == 0 && c->sending == NULL &&
	       c->waiting_cont == NULL && conn_wpending(c->conn) == 0;
}

void
imap_client_logout_all(struct imap_client **cs, size_t n)
{
	struct loop *loop = NULL;
	struct imap_cmd *cmd;
	size_t i, left;
	struct err e;

	for (i = 0; i < n; i++) {
		if (cs[i]->state == IMAP_ST_CLOSED ||
		    cs[i]->state == IMAP_ST_NEW)
			continue;
		cmd = imap_cmd_new(cs[i], 0, NULL, NULL);
		imap_cmd_printf(cmd, "LOGOUT");
		set_state(cs[i], IMAP_ST_LOGOUT);
		loop = cs[i]->loop;
		imap_cmd_send(cmd);
	}
	/*
	 * The server's BYE is not awaited: it would cost a round trip and
	 * say nothing that matters once every command has its answer.
	 * Only the LOGOUT itself must be written.
	 */
	for (;;) {
		for (i = left = 0; i < n; i++)
			if (cs[i]->state == IMAP_ST_LOGOUT &&
			    !all_written(cs[i]))
				left++;
		if (left == 0 || loop_run_once(loop, -1) == -1)
			break;
	}
	err_set(&e, ERR_CONN, "logged out");
	for (i = 0; i < n; i++)
		if (cs[i]->state == IMAP_ST_LOGOUT)
			fail_connection(cs[i], &e);
}

void
imap_client_logout(struct imap_client *c)
{
	imap_client_logout_all(&c, 1);
}

int
imap_idle_done(struct imap_client *c, struct err *err)
{
	if (c->waiting_cont == NULL ||
	    !(c->waiting_cont->flags & IMAP_CMD_CONT))
		return err_set(err, ERR_PROTO, "no command is idling");
	c->waiting_cont = NULL;
	log_trace("%s C: DONE", c->name);
	return send_bytes(c, "DONE\r\n", 6);
}

/* Accessors. */

const char *
imap_greeting(const struct imap_client *c)
{
	return c->greeting;
}

enum imap_state
imap_client_state(const struct imap_client *c)
{
	return c->state;
}

const struct imap_mailbox *
imap_selected(const struct imap_client *c)
{
	return &c->mbox;
}

struct conn *
imap_client_conn(struct imap_client *c)
{
	return c->conn;
}

bool
imap_client_usable(const struct imap_client *c)
{
	return c->state == IMAP_ST_AUTH || c->state == IMAP_ST_NOAUTH;
}

unsigned
imap_client_in_flight(const struct imap_client *c)
{
	return c->in_flight.n + c->pending.n;
}

uint64_t
imap_client_cmds_sent(const struct imap_client *c)
{
	return c->sent;
}

void
imap_client_set_unsolicited(
    struct imap_client *c, imap_untagged_cb *cb, void *arg)
{
	c->unsolicited = cb;
	c->unsolicited_arg = arg;
}

void
imap_client_set_on_close(struct imap_client *c,
    void (*cb)(struct imap_client *, const struct err *, void *), void *arg)
{
	c->on_close = cb;
	c->on_close_arg = arg;
}

bool
imap_reply_code(const struct imap_reply *r, const char *code)
{
	return r->resp != NULL && str_eq_ci(r->resp->code, code);
}

int
imap_reply_appenduid(
    const struct imap_reply *r, uint32_t *uidvalidity, uint32_t *uid)
{
	uint64_t v, u;

	if (!imap_reply_code(r, "APPENDUID") || r->resp->ncode_args != 2)
		return -1;
	if (!imap_arg_number(&r->resp->code_args[0], UINT32_MAX, &v) ||
	    !imap_arg_number(&r->resp->code_args[1], UINT32_MAX, &u) ||
	    v == 0 || u == 0)
		return -1;
	*uidvalidity = (uint32_t)v;
	*uid = (uint32_t)u;
	return 0;
}
