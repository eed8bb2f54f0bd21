/* SPDX-License-Identifier: ISC */
/*
 * os.h - two system chores more than one layer needs.
 */
#ifndef FERRY_UTIL_OS_H
#define FERRY_UTIL_OS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * An anonymous temporary file, open read-write and close-on-exec, that
 * disappears when closed: memory-backed (memfd) where the system has
 * that, else created and unlinked in $TMPDIR (or /tmp).  tag names it
 * for tools like lsof.  The fd, or -1 with errno set.
 */
int os_temp_file(const char *tag);

/*
 * dlsym(lib, name) into the function pointer at fnp (size bytes): POSIX
 * guarantees the conversion that ISO C leaves open.  False when lib has
 * no such symbol.
 */
bool os_dlsym(void *lib, const char *name, void *fnp, size_t size);

#endif
