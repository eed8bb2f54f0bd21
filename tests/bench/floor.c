/* SPDX-License-Identifier: ISC */
/*
 * floor.c - the benchmark's lower bound for a first sync: one connection,
 * ferry's IMAP client, every folder EXAMINEd and fetched with
 * "UID FETCH 1:* (BODY.PEEK[])", all pipelined at once, each body written
 * to its own file under OUTDIR (no fsync, no state, no flags).
 *
 *   floor HOST PORT CA_FILE USER PASSWORD_ENV OUTDIR
 *
 * Prints "floor: N messages, B bytes, F folders".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/client.h"
#include "util/err.h"
#include "util/loop.h"
#include "util/str.h"

struct folders {
	char **v;
	size_t n;
};

struct sinkstate {
	const char *dir;
	int fd;
	unsigned long long files, bytes;
	unsigned folder;
};

static bool
on_list(struct imap_client *c, const struct imap_resp *r, void *arg)
{
	struct folders *f = arg;
	const struct imap_arg *a = r->args;

	(void)c;
	if (r->nargs < 4 || a[0].type != IMAP_ARG_ATOM ||
	    !str_eq_ci(a[0].s, "LIST"))
		return false;
	if (a[1].type == IMAP_ARG_LIST)
		for (size_t i = 0; i < a[1].nlist; i++)
			if (str_eq_ci(a[1].list[i].s, "\\Noselect") ||
			    str_eq_ci(a[1].list[i].s, "\\NonExistent"))
				return true;
	f->v = realloc(f->v, (f->n + 1) * sizeof(*f->v));
	if (f->v == NULL)
		abort();
	f->v[f->n++] = str_dup(a[3].s);
	return true;
}

static int
s_open(void *arg, uint64_t size, struct str before)
{
	(void)before;
	struct sinkstate *s = arg;
	char p[4200];

	(void)size;
	snprintf(p, sizeof(p), "%s/%u.%llu", s->dir, s->folder, s->files);
	s->fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	return s->fd == -1 ? -1 : 0;
}

static int
s_write(void *arg, const char *data, size_t len)
{
	struct sinkstate *s = arg;

	s->bytes += len;
	return write(s->fd, data, len) == (ssize_t)len ? 0 : -1;
}

static int
s_close(void *arg)
{
	struct sinkstate *s = arg;

	s->files++;
	return close(s->fd);
}

/* EXAMINE completes before its FETCH starts: switch the file prefix. */
static void
examined(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	(void)c;
	(void)r;
	((struct sinkstate *)arg)->folder++;
}

static void
fetched(struct imap_client *c, const struct imap_reply *r, void *arg)
{
	(void)c;
	if (r->status != IMAP_STATUS_OK)
		*(int *)arg = 1;
}

int
main(int argc, char **argv)
{
	struct imap_client_opts o;
	struct imap_limits lim = imap_default_limits;
	struct folders f = {NULL, 0};
	struct sinkstate s = {NULL, -1, 0, 0, 0};
	struct imap_sink sink = {s_open, s_write, s_close, &s};
	struct loop *loop;
	struct imap_client *c;
	struct err e;
	const char *pass;
	int failed = 0;

	if (argc != 7) {
		fprintf(stderr,
		    "usage: floor HOST PORT CA USER PASSWORD_ENV OUTDIR\n");
		return 2;
	}
	pass = getenv(argv[5]);
	s.dir = argv[6];
	if (mkdir(s.dir, 0700) == -1 && errno != EEXIST) {
		perror(s.dir);
		return 1;
	}
	lim.max_inline_lit = 0; /* every body to the sink */
	memset(&o, 0, sizeof(o));
	o.conn.host = argv[1];
	o.conn.port = argv[2];
	o.conn.tls = CONN_TLS_IMPLICIT;
	o.conn.ca_file = argv[3];
	o.conn.timeout_ms = 60000;
	o.name = "floor";
	o.limits = &lim;
	loop = loop_new();
	c = imap_client_new(loop, &o);
	if (imap_client_connect(c, &e) == -1 ||
	    imap_client_login(c, argv[4], pass ? pass : "", &e) == -1 ||
	    imap_simple(c, on_list, &f, &e, "LIST \"\" \"*\"") == -1) {
		fprintf(stderr, "floor: %s\n", e.msg);
		return 1;
	}
	for (size_t i = 0; i < f.n; i++) {
		struct imap_cmd *cmd;

		cmd = imap_cmd_new(c, 0, examined, &s);
		imap_cmd_printf(cmd, "EXAMINE ");
		imap_cmd_astring(cmd, str_from(f.v[i]));
		imap_cmd_send(cmd);
		cmd = imap_cmd_new(c, 0, fetched, &failed);
		imap_cmd_set_sink(cmd, &sink);
		imap_cmd_printf(cmd, "UID FETCH 1:* (BODY.PEEK[])");
		imap_cmd_send(cmd);
	}
	if (imap_client_drain(c, &e) == -1 || failed) {
		fprintf(stderr, "floor: %s\n", failed ? "FETCH failed" : e.msg);
		return 1;
	}
	imap_client_logout(c);
	imap_client_free(c);
	loop_free(loop);
	printf("floor: %llu messages, %llu bytes, %zu folders\n", s.files,
	    s.bytes, f.n);
	return 0;
}
