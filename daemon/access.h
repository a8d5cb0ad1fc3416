/* access.h - who may connect, and which lock names each peer may use. */
#ifndef ACCESS_H
#define ACCESS_H

#include <sys/types.h>

struct config;

/* Maximum supplementary groups kept per peer (SO_PEERGROUPS). */
#define ACCESS_MAX_GROUPS	32

struct access_peer {
	uid_t	uid;
	gid_t	gid;
	pid_t	pid;
	gid_t	groups[ACCESS_MAX_GROUPS];
	int	ngroups;
};

/*
 * Use cfg (kept by pointer: the caller's struct stays valid across reloads) and the
 * listening socket fd.  The group allowed to connect is cfg's socket_group, or when
 * unset the socket file's group.  Called at start and at each reload.
 */
void access_init(const struct config *cfg, int listen_fd);

/* Read the peer's supplementary groups into p (uid, gid, pid already set). */
void access_read_groups(int fd, struct access_peer *p);

/* May this peer connect?  Default: root, our own uid, members of the socket's group;
 * with allow_uids/allow_gids set, root, our uid and those. */
int access_peer_allowed(const struct access_peer *p);

/* Does a [uid:N]/[gid:N] section restrict this peer to name prefixes? */
int access_restricted(const struct access_peer *p);

/* May this peer use name (a lock name, or a list prefix)? */
int access_name_allowed(const struct access_peer *p, const char *name);

#endif
