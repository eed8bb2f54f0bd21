/* SPDX-License-Identifier: ISC */
/*
 * state_lock.h - the state database's lock file and file modes; used only
 * by store/state.c.
 *
 * Ownership: state_lock_take() hands the caller a file descriptor that
 * holds the lock until state_lock_release() closes it.  Paths are borrowed.
 */
#ifndef FERRY_STATE_LOCK_H
#define FERRY_STATE_LOCK_H

struct err;

/*
 * state_lock_take(path, fd_out, err):
 * Take an exclusive lock on "<path>.lock" (created 0600) without waiting,
 * write our pid into it and set *fd_out.  When another process (or another
 * open in this one) holds it, fail with ERR_LOCK: "state PATH is in use by
 * another ferry run (pid N)".
 */
int state_lock_take(const char *path, int *fd_out, struct err *);
/* Empty the lock file and release the lock; fd < 0 does nothing. */
void state_lock_release(int fd, const char *path);
/*
 * state_file_create(path, err):
 * Create path with mode 0600 if it is missing; fail (ERR_CONFIG) if it is
 * not a regular file.
 */
int state_file_create(const char *path, struct err *);
/*
 * state_file_narrow(path, err):
 * Make path and its "-wal" and "-shm" siblings, where they exist, private
 * (0600) if group or others could read them, with a warning.
 */
int state_file_narrow(const char *path, struct err *);

#endif
