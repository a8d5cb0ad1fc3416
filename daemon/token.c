/* token.c - the OctoStore bearer token: sources, reload, rotation, wiping. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "log.h"
#include "redact.h"
#include "token.h"

enum token_src {
	TOKEN_NONE = 0,
	TOKEN_FILE,		/* token_file / --token-file */
	TOKEN_CREDENTIAL,	/* $CREDENTIALS_DIRECTORY/token */
	TOKEN_ENV		/* $OCTOSTORE_TOKEN */
};

/*
 * The one copy of the token the daemon keeps; everything else is wiped after use.
 * Page-aligned whole pages, so that they can be locked in RAM and left out of cores.
 */
#define TOKEN_BUF_SIZE		8192
static char		token_buf[TOKEN_BUF_SIZE] __attribute__((aligned(4096)));
static int		token_protected;
static size_t		token_len;
/*
 * The token the last change replaced: an answer to a transfer sent with it may still
 * arrive and reflect it, so redact.c looks for both.  Protected like token_buf.
 */
static char		token_old[TOKEN_BUF_SIZE] __attribute__((aligned(4096)));
static size_t		token_old_len;
static enum token_src	token_src;
static char		token_path[PATH_MAX];
/*
 * Bumped whenever the token in memory changes (rotation, or a SIGHUP that read another
 * token), so that upstream.c can tell a 401 to a token since replaced from a real one.
 */
static uint64_t		token_gen;

/*
 * After a rotation the file could not take (a credential, or no write access), the
 * file still holds the revoked token: the identity it had then, so that a SIGHUP
 * keeps the rotated token unless someone has put a new file there since.
 */
struct token_file_id {
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
	struct timespec	ctime;
};
static int			token_mem_only;
static struct token_file_id	token_mem_id;

/* The identity of the file st describes. */
static void
token_file_id(const struct stat *st, struct token_file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

/* True if a and b are the same file, unchanged. */
static int
token_file_same(const struct token_file_id *a, const struct token_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * Read a token file into buf (API_TOKEN_MAX + 1 bytes), stripping trailing newlines;
 * id (if not NULL) gets the identity of the file read.  Returns 0 and *len, -1 with
 * err (ENOENT in errno when the file does not exist).
 */
static int
token_read_file(const char *path, char *buf, size_t *len, struct token_file_id *id,
    char *err, size_t errlen)
{
	struct stat	st;
	char		tmp[API_TOKEN_MAX + 2];
	size_t		n = 0;
	ssize_t		r;
	int		fd, saved, rc = -1;

	/*
	 * O_NONBLOCK: a FIFO (or a device) at the path must not block start-up, or the
	 * whole loop on SIGHUP; fstat then refuses anything but a regular file.  Symbolic
	 * links are followed, as ever.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		saved = errno;
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "token file %s: not a regular file (%s)", path,
		    S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory" :
		    S_ISSOCK(st.st_mode) ? "a socket" : "a device");
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "token file %s is accessible by group or others "
		    "(mode %04o): refusing it; chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (;;) {
		r = read(fd, tmp + n, sizeof(tmp) - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof(tmp)) {
			snprintf(err, errlen, "token file %s: longer than %d bytes", path,
			    API_TOKEN_MAX);
			goto out;
		}
	}
	while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r'))
		n--;
	if (n == 0) {
		snprintf(err, errlen, "token file %s is empty", path);
		goto out;
	}
	if (!api_token_check(tmp, n)) {
		snprintf(err, errlen, "token file %s: the token holds spaces, control or "
		    "non-ASCII characters", path);
		goto out;
	}
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	*len = n;
	if (id != NULL)
		token_file_id(&st, id);
	rc = 0;
out:
	explicit_bzero(tmp, sizeof(tmp));
	close(fd);
	return rc;
}

/* Keep the buffer out of swap and core dumps (best effort: limits may forbid it). */
static void
token_protect(void)
{
	if (token_protected++)
		return;
	if (mlock(token_buf, sizeof(token_buf)) == -1 ||
	    mlock(token_old, sizeof(token_old)) == -1)
		log_debug("token: mlock: %s", strerror(errno));
	if (madvise(token_buf, sizeof(token_buf), MADV_DONTDUMP) == -1 ||
	    madvise(token_old, sizeof(token_old), MADV_DONTDUMP) == -1)
		log_debug("token: madvise(MADV_DONTDUMP): %s", strerror(errno));
}

/*
 * Put tok in the buffer; a different token is a new generation, and the one it
 * replaces becomes the previous token (wiping the one before).
 */
static void
token_set(const char *tok, size_t len)
{
	token_protect();
	if (len != token_len || memcmp(token_buf, tok, len) != 0) {
		token_gen++;
		explicit_bzero(token_old, sizeof(token_old));
		memcpy(token_old, token_buf, token_len);
		token_old_len = token_len;
	}
	explicit_bzero(token_buf, sizeof(token_buf));
	memcpy(token_buf, tok, len);
	token_buf[len] = '\0';
	token_len = len;
	redact_set(token_buf, token_len, token_old, token_old_len);
}

/* Load the token from the first source that exists. */
int
token_load(const struct config *cfg, char *err, size_t errlen)
{
	char		 tmp[API_TOKEN_MAX + 1];
	const char	*dir;
	char		*env;
	size_t		 len;
	int		 rc = -1;

	token_wipe();
	token_mem_only = 0;
	env = getenv("OCTOSTORE_TOKEN");

	if (cfg->token_file != NULL) {
		if (snprintf(token_path, sizeof(token_path), "%s", cfg->token_file) >=
		    (int)sizeof(token_path)) {
			snprintf(err, errlen, "token file path too long");
			goto out;
		}
		if (token_read_file(token_path, tmp, &len, NULL, err, errlen) != 0)
			goto out;
		token_src = TOKEN_FILE;
	} else if ((dir = getenv("CREDENTIALS_DIRECTORY")) != NULL && *dir != '\0' &&
	    snprintf(token_path, sizeof(token_path), "%s/token", dir) <
	    (int)sizeof(token_path) && access(token_path, F_OK) == 0) {
		if (token_read_file(token_path, tmp, &len, NULL, err, errlen) != 0)
			goto out;
		token_src = TOKEN_CREDENTIAL;
	} else if (env != NULL && *env != '\0') {
		len = strlen(env);
		if (!api_token_check(env, len)) {
			snprintf(err, errlen, "OCTOSTORE_TOKEN holds spaces, control or "
			    "non-ASCII characters, or is longer than %d bytes", API_TOKEN_MAX);
			goto out;
		}
		memcpy(tmp, env, len);
		token_src = TOKEN_ENV;
		token_path[0] = '\0';
		log_warn("token taken from OCTOSTORE_TOKEN; a token file (token_file, or "
		    "LoadCredential= under systemd) is safer than the environment");
	} else {
		token_path[0] = '\0';
		log_warn("no token: set token_file, LoadCredential=token or OCTOSTORE_TOKEN; "
		    "lock methods fail with authentication_required until then");
		rc = 0;
		goto out;
	}
	token_set(tmp, len);
	log_info("token loaded from %s%s%s", token_source(),
	    token_path[0] != '\0' ? " " : "", token_path);
	rc = 0;
out:
	/* Children must never inherit it, nor /proc/PID/environ show it. */
	if (env != NULL) {
		explicit_bzero(env, strlen(env));
		unsetenv("OCTOSTORE_TOKEN");
	}
	explicit_bzero(tmp, sizeof(tmp));
	return rc;
}

/* Re-read the token file on SIGHUP. */
int
token_reload(void)
{
	struct token_file_id	id;
	char			tmp[API_TOKEN_MAX + 1], err[PATH_MAX + 128];
	size_t			len;

	if (token_src != TOKEN_FILE && token_src != TOKEN_CREDENTIAL) {
		log_info("token from %s: nothing to reload", token_source());
		return 0;
	}
	if (token_read_file(token_path, tmp, &len, &id, err, sizeof(err)) != 0) {
		log_error("%s; keeping the current token", err);
		return -1;
	}
	if (token_mem_only && token_file_same(&id, &token_mem_id)) {
		/* Still the token the rotation revoked. */
		explicit_bzero(tmp, sizeof(tmp));
		log_info("token file %s unchanged since a rotation that could not be "
		    "written to it: keeping the rotated token", token_path);
		return 0;
	}
	if (token_mem_only)
		log_info("token file %s changed since a rotation that could not be written "
		    "to it: taking the file's token", token_path);
	token_mem_only = 0;
	token_set(tmp, len);
	explicit_bzero(tmp, sizeof(tmp));
	log_info("token reloaded from %s", token_path);
	return 0;
}

/* Wipe the token, the previous one and redact.c's copies. */
void
token_wipe(void)
{
	explicit_bzero(token_buf, sizeof(token_buf));
	token_len = 0;
	explicit_bzero(token_old, sizeof(token_old));
	token_old_len = 0;
	redact_set(NULL, 0, NULL, 0);
}

/* The token, or NULL. */
const char *
token_get(size_t *len)
{
	if (token_len == 0)
		return NULL;
	if (len != NULL)
		*len = token_len;
	return token_buf;
}

/* The token's generation. */
uint64_t
token_generation(void)
{
	return token_gen;
}

/* Name of the token source. */
const char *
token_source(void)
{
	switch (token_src) {
	case TOKEN_FILE:
		return "file";
	case TOKEN_CREDENTIAL:
		return "credential";
	case TOKEN_ENV:
		return "environment";
	default:
		return "none";
	}
}

/* Write all of buf to fd. */
static int
token_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	r;

	while (len > 0) {
		if ((r = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Replace the token file atomically: temp in the same directory, fsync, rename, fsync dir. */
static int
token_persist(const char *tok, size_t len)
{
	char		real[PATH_MAX], dirbuf[PATH_MAX], tmp[PATH_MAX + 16];
	struct stat	st;
	const char	*dir;
	int		fd = -1, dfd = -1, rc = -1;

	/* Follow a symlink so the link is kept and its target replaced. */
	if (realpath(token_path, real) == NULL) {
		log_error("token file %s: %s", token_path, strerror(errno));
		return -1;
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s", real);
	dir = dirname(dirbuf);
	if (stat(real, &st) == -1 || access(real, W_OK) == -1 || access(dir, W_OK) == -1) {
		log_warn("token file %s is not writable: the rotated token lives in memory "
		    "only and is lost on restart", real);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s/.token.XXXXXX", dir);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		log_error("token file %s: temporary file: %s", real, strerror(errno));
		return -1;
	}
	if (fchmod(fd, S_IRUSR | S_IWUSR) == -1 ||
	    (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) == -1) ||
	    token_write_all(fd, tok, len) == -1 || token_write_all(fd, "\n", 1) == -1 ||
	    fsync(fd) == -1) {
		log_error("token file %s: writing %s: %s", real, tmp, strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_error("token file %s: closing %s: %s", real, tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, real) == -1) {
		log_error("token file %s: rename: %s", real, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 || fsync(dfd) == -1) {
		log_error("token file %s: fsync of %s: %s", real, dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (tmp[0] != '\0')
		unlink(tmp);
	return rc;
}

/* Take a rotated token: persist, then swap. */
int
token_replace(const char *tok, size_t len, int *persisted)
{
	struct stat	st;

	*persisted = 0;
	if (!api_token_check(tok, len))
		return -1;
	if (token_src == TOKEN_FILE)
		*persisted = token_persist(tok, len) == 0;
	else
		log_warn("token from %s: the rotated token lives in memory only and is "
		    "lost on restart", token_source());
	/* The file still holds the revoked token: remember it, for token_reload. */
	token_mem_only = !*persisted && token_path[0] != '\0';
	if (token_mem_only) {
		if (stat(token_path, &st) == 0)
			token_file_id(&st, &token_mem_id);
		else
			memset(&token_mem_id, 0, sizeof(token_mem_id));
	}
	token_set(tok, len);
	return 0;
}
