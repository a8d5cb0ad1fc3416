/* statedir.c - checked opens, exclusive temporaries and atomic replacement in the state
 * directory: never through a symbolic link, never a file or directory of another user. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "statedir.h"

/* Create dir and make its entry durable. */
int
statedir_mkdir(const char *dir)
{
	char	*parent, *slash;
	int	 pfd, e = 0;

	if (mkdir(dir, 0700) == -1)
		return errno == EEXIST ? 0 : -1;
	if ((parent = strdup(dir)) == NULL)
		return -1;
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash != parent)
		*slash = '\0';
	if ((slash = strrchr(parent, '/')) == NULL)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if ((pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(pfd) == -1)
		e = -1;
	if (pfd != -1)
		close(pfd);
	free(parent);
	return e;
}

/* Why the state directory at fd may not be used, or NULL. */
const char *
statedir_dir_bad(int fd, char *buf, size_t len)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return strerror(errno);
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(buf, len, "owned by uid %u, not by this daemon's uid %u or root",
		    (unsigned)st.st_uid, (unsigned)geteuid());
		return buf;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(buf, len, "writable by group or others (mode %04o)",
		    (unsigned)(st.st_mode & 07777));
		return buf;
	}
	return NULL;
}

/* Why the open file fd may not be used, or NULL: it must be a regular file of ours. */
static const char *
statedir_file_bad(int fd, char *buf, size_t len)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return strerror(errno);
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (st.st_uid != geteuid()) {
		snprintf(buf, len, "owned by uid %u, not by this daemon's uid %u",
		    (unsigned)st.st_uid, (unsigned)geteuid());
		return buf;
	}
	if (st.st_nlink != 1) {
		snprintf(buf, len, "has %ju links", (uintmax_t)st.st_nlink);
		return buf;
	}
	return NULL;
}

/* Open a file of ours, never through a link. */
int
statedir_openat(int dirfd, const char *name, int flags, char *msg, size_t msglen)
{
	const char	*bad;
	char		 why[96];
	int		 fd, e;

	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd == -1) {
		e = errno;
		snprintf(msg, msglen, "%s: %s", name, e == ELOOP ?
		    "is a symbolic link; refusing to follow it" : strerror(e));
		errno = e;
		return -1;
	}
	if ((bad = statedir_file_bad(fd, why, sizeof(why))) != NULL) {
		snprintf(msg, msglen, "%s: %s; refusing to use it", name, bad);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Remove a leftover temporary file of ours; anything else stays and is an error. */
int
statedir_remove_stale(int dirfd, const char *name, char *msg, size_t msglen)
{
	struct stat	 st;
	const char	*why = NULL;
	char		 buf[64];

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(msg, msglen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode))
		why = "is a symbolic link";
	else if (!S_ISREG(st.st_mode))
		why = "is not a regular file";
	else if (st.st_uid != geteuid()) {
		snprintf(buf, sizeof(buf), "is owned by uid %u", (unsigned)st.st_uid);
		why = buf;
	}
	if (why != NULL) {
		snprintf(msg, msglen, "%s %s; left in place, refusing to write through it",
		    name, why);
		errno = EPERM;
		return -1;
	}
	if (unlinkat(dirfd, name, 0) == -1) {
		snprintf(msg, msglen, "%s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* A new temporary file, O_EXCL. */
int
statedir_tmp_create(int dirfd, const char *name, char *msg, size_t msglen)
{
	if (statedir_remove_stale(dirfd, name, msg, msglen) != 0)
		return -1;
	return statedir_openat(dirfd, name, O_RDWR | O_APPEND | O_CREAT | O_EXCL, msg,
	    msglen);
}

/* Write all of p. */
int
statedir_write_all(int fd, const void *p, size_t n)
{
	const unsigned char	*b = p;
	ssize_t			 w;

	while (n > 0) {
		if ((w = write(fd, b, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Replace name atomically and durably. */
int
statedir_replace(int dirfd, const char *tmpname, const char *name, const void *p,
    size_t n, char *msg, size_t msglen)
{
	int fd, e;

	if ((fd = statedir_tmp_create(dirfd, tmpname, msg, msglen)) == -1)
		return -1;
	if (statedir_write_all(fd, p, n) != 0 || fsync(fd) == -1 ||
	    renameat(dirfd, tmpname, dirfd, name) == -1) {
		e = errno;
		snprintf(msg, msglen, "%s: %s", tmpname, strerror(e));
		close(fd);
		unlinkat(dirfd, tmpname, 0);
		errno = e;
		return -1;
	}
	close(fd);
	if (fsync(dirfd) == -1) {
		snprintf(msg, msglen, "%s: fsync of the directory: %s", name,
		    strerror(errno));
		return -1;
	}
	return 0;
}
