/* SPDX-License-Identifier: ISC */
/*
 * state_lock.c - the state database's lock file and file modes (see
 * state_lock.h).  Kept apart from state.c because none of it needs SQLite:
 * it runs before SQLite opens the file (the lock, the 0600 creation) and
 * once the file is known to be ours (narrowing a mode).
 */
#include "state_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/*
 * The lock.  It lives on a sibling file, not on the database: SQLite
 * holds POSIX byte-range locks on the database itself, which flock() must
 * not disturb (on NFS flock() is emulated with them), and the sibling can
 * hold our pid for the message a second run prints.  It is created 0600
 * and never removed: unlinking a lock file lets a third process lock a new
 * file while the second still waits on the old one.  O_CLOEXEC keeps it
 * from leaking into helper commands that could outlive us.
 */
static int
lock_busy(const char *path, int fd, struct err *err)
{
	char text[32];
	ssize_t n;
	uint64_t pid;
	struct str s;

	n = pread(fd, text, sizeof(text) - 1, 0);
	if (n < 0)
		n = 0;
	s = str_make(text, (size_t)n);
	while (s.len > 0 && (s.p[s.len - 1] == '\n' || s.p[s.len - 1] == ' '))
		s.len--;
	if (str_to_u64(s, INT32_MAX, &pid) && pid > 0)
		return err_set(err, ERR_LOCK,
		    "state %s is in use by another ferry run (pid %" PRIu64 ")",
		    path, pid);
	return err_set(err, ERR_LOCK,
	    "state %s is in use by another ferry run (pid unknown)", path);
}

int
state_lock_take(const char *path, int *fd_out, struct err *err)
{
	char *lockpath = xasprintf("%s.lock", path);
	char pid[32];
	int fd, n, rc = -1;

	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err_sys(err, "cannot open lock file %s", lockpath);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			lock_busy(path, fd, err);
		else
			err_sys(err, "cannot lock %s", lockpath);
		goto out_close;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		err_sys(err, "cannot write lock file %s", lockpath);
		goto out_close;
	}
	*fd_out = fd;
	rc = 0;
	goto out;
out_close:
	close(fd);
out:
	free(lockpath);
	return rc;
}

void
state_lock_release(int fd, const char *path)
{
	if (fd < 0)
		return;
	/* Still ours: a stale pid would only mislead. */
	if (ftruncate(fd, 0) < 0)
		log_debug("state %s: cannot empty the lock file", path);
	close(fd);
}

/* Narrow an open file to 0600 if group or others may read it. */
static int
narrow_fd(int fd, const char *path, struct err *err)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return err_sys(err, "cannot stat %s", path);
	if (!S_ISREG(sb.st_mode))
		return err_set(err, ERR_CONFIG,
		    "state file %s is not a regular file", path);
	if ((sb.st_mode & 077) == 0)
		return 0;
	if (fchmod(fd, sb.st_mode & 0700) < 0)
		return err_sys(err, "cannot make %s private", path);
	log_warn("%s was accessible to group or others; made it private "
		 "(0600)",
	    path);
	return 0;
}

/* Narrow path+suffix, if it exists; a sibling is never followed. */
static int
narrow_sibling(const char *path, const char *suffix, struct err *err)
{
	char *p = xasprintf("%s%s", path, suffix);
	int fd, rc = 0;

	fd = open(p, O_RDONLY | O_CLOEXEC | (*suffix ? O_NOFOLLOW : 0));
	if (fd >= 0) {
		rc = narrow_fd(fd, p, err);
		close(fd);
	}
	free(p);
	return rc;
}

/* Created 0600 before SQLite sees it: SQLite would use 0644. */
int
state_file_create(const char *path, struct err *err)
{
	struct stat sb;
	int fd, rc = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, "cannot open state file %s", path);
	if (fstat(fd, &sb) < 0)
		rc = err_sys(err, "cannot stat %s", path);
	else if (!S_ISREG(sb.st_mode))
		rc = err_set(err, ERR_CONFIG,
		    "state file %s is not a regular file", path);
	close(fd);
	return rc;
}

/*
 * SQLite gives new -wal and -shm files the database's mode; leftovers
 * from before are narrowed too.
 */
int
state_file_narrow(const char *path, struct err *err)
{
	if (narrow_sibling(path, "", err) < 0 ||
	    narrow_sibling(path, "-wal", err) < 0 ||
	    narrow_sibling(path, "-shm", err) < 0)
		return -1;
	return 0;
}
