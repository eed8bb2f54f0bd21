/* SPDX-License-Identifier: ISC */
/*
 * loop.c - poll() loop with file descriptors and timers (see loop.h).
 *
 * File descriptors live in a dense array mirrored into a pollfd array each
 * round; ferry watches tens of sockets, not thousands, so a linear scan is
 * the simple right choice.  Timers are an unsorted array for the same
 * reason.  Removal marks an entry dead so that iteration during dispatch
 * stays valid; dead entries are swept before the next poll.
 */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "xalloc.h"

struct watch {
	int fd; /* -1 when removed */
	unsigned events;
	loop_fd_cb *cb;
	void *arg;
};

struct timer {
	uint64_t id; /* 0 when removed */
	int64_t when;
	loop_timer_cb *cb;
	void *arg;
};

struct loop {
	struct watch *w;
	size_t nw, capw;
	struct timer *t;
	size_t nt, capt;
	uint64_t next_id;
	struct pollfd *pfd;
	size_t cappfd;
	bool stop;
};

int64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *
loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	l->next_id = 1;
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	free(l->w);
	free(l->t);
	free(l->pfd);
	free(l);
}

static struct watch *
find_watch(struct loop *l, int fd)
{
	size_t i;

	for (i = 0; i < l->nw; i++)
		if (l->w[i].fd == fd)
			return &l->w[i];
	return NULL;
}

void
loop_fd_add(struct loop *l, int fd, unsigned events, loop_fd_cb *cb, void *arg)
{
	struct watch *w = find_watch(l, fd);

	if (w == NULL) {
		if (l->nw == l->capw) {
			l->capw = l->capw ? l->capw * 2 : 8;
			l->w = xreallocarray(l->w, l->capw, sizeof(*l->w));
		}
		w = &l->w[l->nw++];
	}
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->arg = arg;
}

void
loop_fd_set(struct loop *l, int fd, unsigned events)
{
	struct watch *w = find_watch(l, fd);

	if (w != NULL)
		w->events = events;
}

void
loop_fd_del(struct loop *l, int fd)
{
	struct watch *w = find_watch(l, fd);

	if (w != NULL)
		w->fd = -1;
}

uint64_t
loop_timer_add(struct loop *l, int64_t ms, loop_timer_cb *cb, void *arg)
{
	struct timer *t;

	if (l->nt == l->capt) {
		l->capt = l->capt ? l->capt * 2 : 8;
		l->t = xreallocarray(l->t, l->capt, sizeof(*l->t));
	}
	t = &l->t[l->nt++];
	t->id = l->next_id++;
	t->when = loop_now_ms() + (ms < 0 ? 0 : ms);
	t->cb = cb;
	t->arg = arg;
	return t->id;
}

void
loop_timer_del(struct loop *l, uint64_t id)
{
	size_t i;

	for (i = 0; i < l->nt; i++)
		if (l->t[i].id == id)
			l->t[i].id = 0;
}

void
loop_stop(struct loop *l)
{
	l->stop = true;
}

static void
sweep(struct loop *l)
{
	size_t i, j;

	for (i = j = 0; i < l->nw; i++)
		if (l->w[i].fd != -1)
			l->w[j++] = l->w[i];
	l->nw = j;
	for (i = j = 0; i < l->nt; i++)
		if (l->t[i].id != 0)
			l->t[j++] = l->t[i];
	l->nt = j;
}

/* Run due timers; return how many ran. */
static int
run_timers(struct loop *l)
{
	int64_t now = loop_now_ms();
	size_t i, n = l->nt;
	int ran = 0;

	for (i = 0; i < n && i < l->nt; i++) {
		struct timer t = l->t[i];

		if (t.id == 0 || t.when > now)
			continue;
		l->t[i].id = 0;
		t.cb(t.arg);
		ran++;
	}
	return ran;
}

static int64_t
next_timeout(struct loop *l, int64_t max_ms)
{
	int64_t now = loop_now_ms(), best = max_ms;
	size_t i;

	for (i = 0; i < l->nt; i++) {
		int64_t d;

		if (l->t[i].id == 0)
			continue;
		d = l->t[i].when - now;
		if (d < 0)
			d = 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best;
}

static int
dispatch(struct loop *l, size_t n)
{
	size_t i;
	int ran = 0;

	for (i = 0; i < n; i++) {
		struct pollfd *p = &l->pfd[i];
		struct watch *w;
		unsigned ev = 0;

		if (p->revents == 0)
			continue;
		if ((w = find_watch(l, p->fd)) == NULL)
			continue; /* removed by an earlier callback */
		if (p->revents & POLLIN)
			ev |= LOOP_READ;
		if (p->revents & POLLOUT)
			ev |= LOOP_WRITE;
		if (p->revents & (POLLERR | POLLHUP | POLLNVAL))
			ev |= LOOP_ERROR;
		w->cb(w->fd, ev, w->arg);
		ran++;
	}
	return ran;
}

int
loop_run_once(struct loop *l, int64_t max_ms)
{
	size_t i, n = 0;
	int64_t timeout;
	int r, ran;

	sweep(l);
	if (l->nw == 0 && l->nt == 0)
		return -1;
	if (l->cappfd < l->nw) {
		l->cappfd = l->nw;
		l->pfd = xreallocarray(l->pfd, l->cappfd, sizeof(*l->pfd));
	}
	for (i = 0; i < l->nw; i++) {
		short ev = 0;

		if (l->w[i].events & LOOP_READ)
			ev |= POLLIN;
		if (l->w[i].events & LOOP_WRITE)
			ev |= POLLOUT;
		l->pfd[n].fd = l->w[i].fd;
		l->pfd[n].events = ev;
		l->pfd[n].revents = 0;
		n++;
	}
	timeout = next_timeout(l, max_ms);
	if (timeout > 86400000)
		timeout = 86400000;
	r = poll(l->pfd, n, (int)timeout);
	if (r == -1 && errno != EINTR)
		return -1;
	ran = r > 0 ? dispatch(l, n) : 0;
	ran += run_timers(l);
	return ran > 0;
}

void
loop_run(struct loop *l)
{
	l->stop = false;
	while (!l->stop && loop_run_once(l, -1) != -1)
		;
}
