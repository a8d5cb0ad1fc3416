/* statedir.h - files in the local backend's state directory, opened so that no link,
 * foreign file or other user's directory is ever written through. */
#ifndef STATEDIR_H
#define STATEDIR_H

#include <stddef.h>

/*
 * Every function that can fail writes why into msg (msglen bytes), beginning with the
 * file's name, and keeps errno.
 */

/* Create dir 0700 (its parent must exist) and make its entry durable; 0 if it exists. */
int statedir_mkdir(const char *dir);

/* Why the state directory open at fd may not be used (into buf), or NULL: it must be
 * owned by this euid or root and not writable by group or others. */
const char *statedir_dir_bad(int fd, char *buf, size_t len);

/*
 * Open name in the directory dirfd with flags (O_NOFOLLOW, O_NONBLOCK and O_CLOEXEC
 * added), only if it is a regular file of this euid with one link: a symbolic link is
 * ELOOP, anything else foreign EPERM.  The fd, or -1.
 */
int statedir_openat(int dirfd, const char *name, int flags, char *msg, size_t msglen);

/* Remove a temporary file left by a run that died: only a regular file of ours; a
 * link or anything else is left in place and is an error (EPERM).  0 or -1. */
int statedir_remove_stale(int dirfd, const char *name, char *msg, size_t msglen);

/* A new temporary file, created exclusively (O_EXCL), for appending; fd or -1. */
int statedir_tmp_create(int dirfd, const char *name, char *msg, size_t msglen);

/* Write all of p to fd, retrying short writes; 0 or -1. */
int statedir_write_all(int fd, const void *p, size_t n);

/* Replace name with the n bytes at p: temporary file tmpname, fsync, rename, fsync of
 * the directory.  0 or -1. */
int statedir_replace(int dirfd, const char *tmpname, const char *name, const void *p,
    size_t n, char *msg, size_t msglen);

#endif
