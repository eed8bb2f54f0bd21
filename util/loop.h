/* SPDX-License-Identifier: ISC */
/*
 * loop.h - one poll() loop: file descriptors and timers.
 *
 * ferry is single-threaded; every connection registers its socket here and
 * is called back when it may read or write.  Callbacks receive the cookie
 * they were registered with.  A callback may add or remove any fd or timer,
 * including its own.  The loop owns nothing but its tables: closing file
 * descriptors is the caller's business (remove them first).
 */
#ifndef FERRY_LOOP_H
#define FERRY_LOOP_H

#include <stdint.h>

struct loop;

enum loop_events {
	LOOP_READ = 1u << 0,
	LOOP_WRITE = 1u << 1,
	LOOP_ERROR = 1u << 2, /* reported only: POLLERR, POLLHUP, POLLNVAL */
};

typedef void loop_fd_cb(int fd, unsigned events, void *arg);
typedef void loop_timer_cb(void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *);

/* Watch fd for events (LOOP_READ|LOOP_WRITE); one registration per fd. */
void loop_fd_add(struct loop *, int fd, unsigned events, loop_fd_cb *, void *);
void loop_fd_set(struct loop *, int fd, unsigned events);
void loop_fd_del(struct loop *, int fd);

/* Call cb once after ms milliseconds; return an id for loop_timer_del. */
uint64_t loop_timer_add(struct loop *, int64_t ms, loop_timer_cb *, void *);
void loop_timer_del(struct loop *, uint64_t id);

/* Monotonic milliseconds. */
int64_t loop_now_ms(void);

/*
 * loop_run_once(l, max_ms): wait up to max_ms (-1: no limit other than
 * timers) and dispatch what is ready.  Return 1 if anything was
 * dispatched, 0 if nothing was, -1 when there is nothing left to wait for.
 */
int loop_run_once(struct loop *, int64_t max_ms);
/* Run until loop_stop() or until nothing is registered. */
void loop_run(struct loop *);
void loop_stop(struct loop *);

#endif
