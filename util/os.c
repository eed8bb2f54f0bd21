/* SPDX-License-Identifier: ISC */
/*
 * os.c - see os.h.
 */
#define _GNU_SOURCE /* memfd_create() */
#include "util/os.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int
os_temp_file(const char *tag)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd, n;

#ifdef MFD_CLOEXEC
	if ((fd = memfd_create(tag, MFD_CLOEXEC)) != -1)
		return fd;
#endif
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	n = snprintf(path, sizeof(path), "%s/%s.XXXXXX", dir, tag);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(path)) == -1)
		return -1;
	unlink(path);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

bool
os_dlsym(void *lib, const char *name, void *fnp, size_t size)
{
	void *p = dlsym(lib, name);

	if (p == NULL)
		return false;
	memcpy(fnp, &p, size);
	return true;
}
