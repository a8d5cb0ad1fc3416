/* peer.c - liboctostore: is the process answering the socket a daemon the client trusts? */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

#define PEER_PWBUF_MIN	1024
#define PEER_PWBUF_MAX	(1024 * 1024)

/*
 * The uid of the configured daemon user, or -1 when there is no such user.  A static
 * octostorectl (CLIENT_NO_NSS) cannot load NSS modules, so it reads /etc/passwd, where
 * systemd-sysusers and useradd put system users.
 */
static long
peer_daemon_user_uid(void)
{
	struct passwd	 pw, *res = NULL;
	char		*buf = NULL, *nbuf;
	size_t		 size = PEER_PWBUF_MIN;
	long		 uid = -1;
	int		 e;
#ifdef CLIENT_NO_NSS
	FILE		*f;

	if ((f = fopen("/etc/passwd", "re")) == NULL)
		return -1;
#endif
	for (;;) {
		if ((nbuf = realloc(buf, size)) == NULL)
			break;
		buf = nbuf;
#ifdef CLIENT_NO_NSS
		while ((e = fgetpwent_r(f, &pw, buf, size, &res)) == 0 &&
		    strcmp(res->pw_name, OCTO_DAEMON_USER) != 0)
			res = NULL;
		if (e == ERANGE && size < PEER_PWBUF_MAX) {
			/* A line longer than the buffer: start again with a larger one. */
			rewind(f);
			size *= 2;
			continue;
		}
#else
		e = getpwnam_r(OCTO_DAEMON_USER, &pw, buf, size, &res);
		if (e == ERANGE && size < PEER_PWBUF_MAX) {
			size *= 2;
			continue;
		}
#endif
		if (e == 0 && res != NULL)
			uid = (long)res->pw_uid;
		break;
	}
#ifdef CLIENT_NO_NSS
	fclose(f);
#endif
	free(buf);
	return uid;
}

/* The uid in $OCTOSTORED_TRUSTED_UID (decimal), or -1 when unset or not a uid. */
static long
peer_env_uid(void)
{
	const char	*s = secure_getenv(OCTO_TRUSTED_UID_ENV);
	unsigned long	 v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 10)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	/* (uid_t)-1 is no one's uid. */
	return v >= (unsigned long)(uid_t)-1 ? -1 : (long)v;
}

/* May the process with this uid answer for the daemon? */
static int
peer_trusted(long uid)
{
	if (uid < 0)
		return 0;
	if (uid == 0 || uid == (long)geteuid() || uid == peer_env_uid())
		return 1;
	return uid == peer_daemon_user_uid();
}

/*
 * Check who listens on the connected socket fd, before anything is sent: root, our
 * own euid, the daemon user or $OCTOSTORED_TRUSTED_UID; never the socket file's owner,
 * which anyone who binds the path first is.  Sets *uid to the peer's uid (-1 when
 * unknown).  Returns OCTO_OK, OCTO_ERR_UNTRUSTED_DAEMON or OCTO_ERR_SYSTEM (errno).
 */
int
client_peer_check(int fd, long *uid)
{
	struct ucred	cr;
	socklen_t	len = sizeof(cr);
	int		saved = errno, ok;

	*uid = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return OCTO_ERR_SYSTEM;
	if (len != sizeof(cr)) {
		errno = EPROTO;
		return OCTO_ERR_SYSTEM;
	}
	*uid = (long)cr.uid;
	ok = peer_trusted(*uid);
	errno = saved;
	return ok ? OCTO_OK : OCTO_ERR_UNTRUSTED_DAEMON;
}
