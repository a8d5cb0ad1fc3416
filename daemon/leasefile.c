/* leasefile.c - the remote backend's record of detached leases, replaced atomically. */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leasefile.h"
#include "log.h"

#define LEASEFILE_TMP		LEASEFILE_NAME ".tmp"
#define LEASEFILE_HEADER	"octostored remote-leases 1\n"

/*
 * A detached lease outlives its client, and after a crash the daemon would not know
 * it belongs to anyone: anyone holding its id could release it.  So each one is
 * written here (uid, lease id, name) before the client hears of it, and a daemon
 * that starts after a crash releases what it finds (see lease_recover).  The file is
 * small (detached leases are few) and rewritten whole on each change.
 *
 * TODO(issue 21): share the state_dir checks with wal.c once both are merged.
 */
enum lf_state {
	LF_OFF,		/* not the remote backend: nothing to record */
	LF_CLOSED,	/* state_dir not taken yet */
	LF_OPEN,
	LF_BUSY		/* another daemon holds state_dir */
};

static enum lf_state		 lf_state = LF_OFF;
static char			*lf_dir;
static int			 lf_dirfd = -1;
static struct leasefile_rec	*lf_recs;
static size_t			 lf_n, lf_cap;

/* Refuse a file or directory st that others could have put there or can change. */
static int
leasefile_check(const struct stat *st, const char *what, char *err, size_t errlen)
{
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		snprintf(err, errlen, "%s is owned by uid %u, neither this daemon's uid "
		    "nor root", what, (unsigned)st->st_uid);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s is writable by group or others (mode %04o)", what,
		    (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Open and take state_dir (create it when create and missing); 0, 1 busy/absent, -1. */
static int
leasefile_open_dir(int create, char *err, size_t errlen)
{
	struct stat	st;
	int		fd, e;

	fd = open(lf_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create && mkdir(lf_dir, 0700) == 0)
		fd = open(lf_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		e = errno;
		snprintf(err, errlen, "state_dir %s: %s", lf_dir, e == ENOTDIR ||
		    e == ELOOP ? "not a directory (or a symlink)" : strerror(e));
		return e == ENOENT || e == EACCES ? 1 : -1;
	}
	if (fstat(fd, &st) == -1 || leasefile_check(&st, "state_dir", err, errlen) != 0) {
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "state_dir %s is in use by another daemon", lf_dir);
		close(fd);
		lf_state = LF_BUSY;
		return 1;
	}
	lf_dirfd = fd;
	lf_state = LF_OPEN;
	return 0;
}

/* Add a record to the list. */
static int
leasefile_add(const char *name, const char *lease_id, uid_t uid)
{
	struct leasefile_rec	*r;
	size_t			 cap;

	if (strlen(name) > API_NAME_MAX || strlen(lease_id) > API_LEASE_ID_MAX)
		return -1;
	if (lf_n == lf_cap) {
		cap = lf_cap ? lf_cap * 2 : 16;
		if ((r = reallocarray(lf_recs, cap, sizeof(*r))) == NULL)
			return -1;
		lf_recs = r;
		lf_cap = cap;
	}
	r = &lf_recs[lf_n++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->lease_id, sizeof(r->lease_id), "%s", lease_id);
	r->uid = uid;
	return 0;
}

/* Read the record left by the previous daemon into the list. */
static int
leasefile_read(char *err, size_t errlen)
{
	struct stat	 st;
	FILE		*f;
	char		 line[API_NAME_MAX + API_LEASE_ID_MAX + 64], *id, *name, *end;
	unsigned long	 uid;
	int		 fd, lineno = 0;

	if ((fd = openat(lf_dirfd, LEASEFILE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s/%s: %s", lf_dir, LEASEFILE_NAME, errno == ELOOP ?
		    "a symlink" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s/%s: not a regular file", lf_dir, LEASEFILE_NAME);
		close(fd);
		return -1;
	}
	if (leasefile_check(&st, LEASEFILE_NAME, err, errlen) != 0 ||
	    (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (lineno++ == 0 && strcmp(line, LEASEFILE_HEADER) == 0)
			continue;
		/* "uid lease_id name\n"; names and ids never hold a space. */
		line[strcspn(line, "\n")] = '\0';
		uid = strtoul(line, &end, 10);
		if (end == line || *end != ' ' || (id = end + 1, name = strchr(id, ' ')) == NULL) {
			log_warn("%s/%s: line %d malformed, skipped", lf_dir, LEASEFILE_NAME,
			    lineno);
			continue;
		}
		*name++ = '\0';
		if (*id == '\0' || *name == '\0' || leasefile_add(name, id, (uid_t)uid) != 0)
			log_warn("%s/%s: line %d malformed, skipped", lf_dir, LEASEFILE_NAME,
			    lineno);
	}
	fclose(f);
	return 0;
}

/* Write every fd byte of buf. */
static int
leasefile_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Replace the file with the list: a new temporary file (O_EXCL, never through a
 * link), written and fsync'd, renamed over it, and the directory fsync'd.
 */
static int
leasefile_save(void)
{
	char	 line[API_NAME_MAX + API_LEASE_ID_MAX + 64];
	size_t	 i;
	int	 fd, n, rc = -1;

	fd = openat(lf_dirfd, LEASEFILE_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST && unlinkat(lf_dirfd, LEASEFILE_TMP, 0) == 0)
		fd = openat(lf_dirfd, LEASEFILE_TMP, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		goto out;
	if (leasefile_write_all(fd, LEASEFILE_HEADER, strlen(LEASEFILE_HEADER)) != 0)
		goto out;
	for (i = 0; i < lf_n; i++) {
		n = snprintf(line, sizeof(line), "%u %s %s\n", (unsigned)lf_recs[i].uid,
		    lf_recs[i].lease_id, lf_recs[i].name);
		if (n < 0 || (size_t)n >= sizeof(line) ||
		    leasefile_write_all(fd, line, (size_t)n) != 0)
			goto out;
	}
	explicit_bzero(line, sizeof(line));
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (renameat(lf_dirfd, LEASEFILE_TMP, lf_dirfd, LEASEFILE_NAME) == -1)
		goto out;
	rc = fsync(lf_dirfd);
out:
	if (rc != 0)
		log_error("%s/%s: %s", lf_dir, LEASEFILE_NAME, strerror(errno));
	if (fd != -1) {
		close(fd);
		unlinkat(lf_dirfd, LEASEFILE_TMP, 0);
	}
	return rc;
}

/* Start-up: see leasefile.h. */
int
leasefile_init(const char *state_dir, struct leasefile_rec **recs, size_t *n,
    char *err, size_t errlen)
{
	int	r;

	*recs = NULL;
	*n = 0;
	if ((lf_dir = strdup(state_dir)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	lf_state = LF_CLOSED;
	if ((r = leasefile_open_dir(0, err, errlen)) != 0) {
		if (r < 0)
			return -1;
		/* Absent or not ours to take now: nothing recorded to recover. */
		log_info("%s; detached leases are refused until it can be used", err);
		return 0;
	}
	if (leasefile_read(err, errlen) != 0)
		return -1;
	if (lf_n > 0) {
		if ((*recs = calloc(lf_n, sizeof(**recs))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(*recs, lf_recs, lf_n * sizeof(**recs));
		*n = lf_n;
	}
	return 0;
}

/* Can detached leases be recorded now? */
int
leasefile_ready(char *err, size_t errlen)
{
	if (lf_state == LF_OFF || lf_state == LF_OPEN)
		return 1;
	if (leasefile_open_dir(1, err, errlen) != 0)
		return 0;
	/* Taken only now: a previous daemon's record would be recovered at start-up. */
	if (leasefile_read(err, errlen) != 0 || lf_n > 0) {
		if (lf_n > 0)
			snprintf(err, errlen, "%s/%s holds leases of a previous run: restart "
			    "the daemon to release them", lf_dir, LEASEFILE_NAME);
		close(lf_dirfd);
		lf_dirfd = -1;
		lf_n = 0;
		lf_state = LF_CLOSED;
		return 0;
	}
	return 1;
}

/* Record a detached lease. */
int
leasefile_put(const char *name, const char *lease_id, uid_t uid)
{
	if (lf_state == LF_OFF)
		return 0;
	if (lf_state != LF_OPEN || leasefile_add(name, lease_id, uid) != 0)
		return -1;
	if (leasefile_save() != 0) {
		lf_n--;
		return -1;
	}
	return 0;
}

/* Forget a detached lease. */
void
leasefile_del(const char *name, const char *lease_id)
{
	size_t	i;

	if (lf_state != LF_OPEN)
		return;
	for (i = 0; i < lf_n; i++) {
		if (strcmp(lf_recs[i].name, name) == 0 &&
		    strcmp(lf_recs[i].lease_id, lease_id) == 0)
			break;
	}
	if (i == lf_n)
		return;
	explicit_bzero(&lf_recs[i], sizeof(lf_recs[i]));
	lf_recs[i] = lf_recs[--lf_n];
	(void)leasefile_save();
}

/* Leases recorded now. */
size_t
leasefile_count(void)
{
	return lf_n;
}

/* Close. */
void
leasefile_close(void)
{
	if (lf_dirfd != -1)
		close(lf_dirfd);
	lf_dirfd = -1;
	if (lf_recs != NULL)
		explicit_bzero(lf_recs, lf_cap * sizeof(*lf_recs));
	free(lf_recs);
	lf_recs = NULL;
	lf_n = lf_cap = 0;
	free(lf_dir);
	lf_dir = NULL;
	lf_state = LF_OFF;
}
