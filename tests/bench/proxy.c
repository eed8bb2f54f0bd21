/* SPDX-License-Identifier: ISC */
/*
 * proxy.c - a TCP relay on loopback that adds latency, for the benchmark.
 *
 *   proxy LISTEN_PORT TARGET_PORT RTT_MS STATS_FILE
 *
 * Accepts on 127.0.0.1:LISTEN_PORT, connects each client to
 * 127.0.0.1:TARGET_PORT, and forwards bytes both ways, holding every chunk
 * for RTT_MS/2 in each direction, so a request and its answer take RTT_MS
 * longer.  It only moves bytes: TLS passes through unchanged.  Because it
 * cannot read the encrypted commands, it counts what latency costs:
 * "turns", the times a client sends after the server has sent something
 * since the client last did (each is one wait for a round trip).  (It
 * cannot count commands: they are encrypted, and some clients compress
 * them too; the benchmark asks the server for that.)  After every opened
 * and every closed connection it rewrites STATS_FILE with running totals
 * and the number still open: "connections turns bytes_up bytes_down open",
 * so that a caller can wait for a finished client's connections to be
 * drained and counted.  Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 64
#define CHUNK 65536
#define QMAX (4u << 20) /* stop reading while this much is held */

struct chunk {
	struct chunk *next;
	int64_t due;
	size_t len, off;
	char data[];
};

struct dir {
	int from, to;
	struct chunk *head, *tail;
	size_t held;
	int eof; /* from closed: shut down to once drained */
};

struct pair {
	int used;
	struct dir up, down; /* client -> server, server -> client */
	int server_spoke;
};

static struct pair pairs[MAXC];
static int64_t half;
static unsigned long long n_conn, n_turns, n_up, n_down, n_open;
static const char *stats;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
write_stats(void)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", stats);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "%llu %llu %llu %llu %llu\n", n_conn, n_turns, n_up, n_down,
	    n_open);
	fclose(f);
	rename(tmp, stats);
}

static void
nonblock(int fd)
{
	int one = 1;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
close_pair(struct pair *p)
{
	struct dir *d[2] = {&p->up, &p->down};

	for (int i = 0; i < 2; i++)
		while (d[i]->head != NULL) {
			struct chunk *c = d[i]->head;

			d[i]->head = c->next;
			free(c);
		}
	close(p->up.from);
	close(p->down.from);
	memset(p, 0, sizeof(*p));
	n_open--;
	write_stats();
}

/* Read what is there into d's queue; -1 when the pair must go. */
static int
do_read(struct pair *p, struct dir *d, int up)
{
	struct chunk *c = malloc(sizeof(*c) + CHUNK);
	ssize_t n;

	if (c == NULL)
		abort();
	n = read(d->from, c->data, CHUNK);
	if (n <= 0) {
		free(c);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		d->eof = 1;
		return 0;
	}
	c->len = (size_t)n;
	c->off = 0;
	c->due = now_ms() + half;
	c->next = NULL;
	if (d->tail != NULL)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->held += c->len;
	if (up) {
		n_up += (unsigned long long)n;
		if (p->server_spoke) {
			n_turns++;
			p->server_spoke = 0;
		}
	} else {
		n_down += (unsigned long long)n;
		p->server_spoke = 1;
	}
	return 0;
}

static int
do_write(struct dir *d, int64_t now)
{
	while (d->head != NULL && d->head->due <= now) {
		struct chunk *c = d->head;
		ssize_t n = write(d->to, c->data + c->off, c->len - c->off);

		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->off += (size_t)n;
		d->held -= (size_t)n;
		if (c->off < c->len)
			return 0;
		d->head = c->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(c);
	}
	if (d->head == NULL && d->eof == 1) {
		shutdown(d->to, SHUT_WR);
		d->eof = 2;
	}
	return 0;
}

static void
accept_one(int ls, int port)
{
	struct sockaddr_in a;
	int c = accept(ls, NULL, NULL), s;

	if (c == -1)
		return;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s == -1 || connect(s, (struct sockaddr *)&a, sizeof(a)) == -1) {
		perror("proxy: connect");
		close(c);
		if (s != -1)
			close(s);
		return;
	}
	for (int i = 0; i < MAXC; i++)
		if (!pairs[i].used) {
			nonblock(c);
			nonblock(s);
			pairs[i].used = 1;
			pairs[i].up.from = c;
			pairs[i].up.to = s;
			pairs[i].down.from = s;
			pairs[i].down.to = c;
			pairs[i].server_spoke =
			    1; /* the greeting comes first */
			n_conn++;
			n_open++;
			write_stats();
			return;
		}
	close(c);
	close(s);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a;
	int ls, one = 1, target;

	if (argc != 5) {
		fprintf(stderr, "usage: proxy LISTEN_PORT TARGET_PORT RTT_MS "
				"STATS_FILE\n");
		return 2;
	}
	target = (int)strtol(argv[2], NULL, 10);
	half = strtol(argv[3], NULL, 10) / 2;
	stats = argv[4];
	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)strtol(argv[1], NULL, 10));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(ls, 64) == -1) {
		perror("proxy: listen");
		return 1;
	}
	write_stats();
	for (;;) {
		struct pollfd pf[1 + 4 * MAXC];
		struct dir *who[1 + 4 * MAXC];
		int n = 1, timeout = -1;
		int64_t now = now_ms();

		pf[0].fd = ls;
		pf[0].events = POLLIN;
		for (int i = 0; i < MAXC; i++) {
			struct dir *d[2] = {&pairs[i].up, &pairs[i].down};

			if (!pairs[i].used)
				continue;
			for (int k = 0; k < 2; k++) {
				/* Poll d->from for reading, d->to for a
				 * due write. */
				short ev = 0;

				if (!d[k]->eof && d[k]->held < QMAX)
					ev |= POLLIN;
				pf[n].fd = d[k]->from;
				pf[n].events = ev;
				who[n++] = d[k];
				if (d[k]->head == NULL)
					continue;
				int64_t w = d[k]->head->due - now;

				if (w <= 0) {
					/* Due: wait until it can be written. */
					pf[n].fd = d[k]->to;
					pf[n].events = POLLOUT;
					who[n++] = NULL;
				} else if (timeout < 0 || w < timeout) {
					timeout = (int)w;
				}
			}
		}
		if (poll(pf, (nfds_t)n, timeout) == -1 && errno != EINTR) {
			perror("proxy: poll");
			return 1;
		}
		if (pf[0].revents & POLLIN)
			accept_one(ls, target);
		for (int j = 1; j < n; j++)
			if (who[j] != NULL && !who[j]->eof &&
			    (pf[j].revents & (POLLIN | POLLHUP | POLLERR))) {
				struct pair *p = NULL;

				for (int i = 0; i < MAXC; i++)
					if (&pairs[i].up == who[j] ||
					    &pairs[i].down == who[j])
						p = &pairs[i];
				if (p != NULL && p->used)
					do_read(p, who[j], who[j] == &p->up);
			}
		now = now_ms();
		for (int i = 0; i < MAXC; i++) {
			struct pair *p = &pairs[i];

			if (!p->used)
				continue;
			if (do_write(&p->up, now) == -1 ||
			    do_write(&p->down, now) == -1 ||
			    (p->up.eof == 2 && p->down.eof == 2) ||
			    (p->up.eof && p->down.eof && p->up.head == NULL &&
				p->down.head == NULL))
				close_pair(p);
		}
	}
}
