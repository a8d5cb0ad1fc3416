/* access.h - who may connect, and which lock names each peer may use. */
#ifndef ACCESS_H
#define ACCESS_H

#include <sys/types.h>

struct config;

/* Groups asked for first; the buffer grows to what the kernel says it needs. */
#define ACCESS_GROUPS_FIRST	64

struct access_peer {
	uid_t	 uid;
	gid_t	 gid;
	pid_t	 pid;
	gid_t	*groups;	/* supplementary groups, sorted; owned (access_peer_clear) */
	int	 ngroups;
};

/*
 * Use cfg (kept by pointer: the caller's struct stays valid across reloads) and the
 * listening socket fd.  The group allowed to connect is cfg's socket_group, or when
 * unset the socket file's group.  Called at start and at each reload.
 */
void access_init(const struct config *cfg, int listen_fd);

/*
 * Read the peer's supplementary groups into p (uid, gid, pid already set), however
 * many there are.  -1 with errno when they cannot be read: the caller refuses the
 * peer, since without its groups neither admission nor [gid:N] restrictions can be
 * decided.
 */
int access_read_groups(int fd, struct access_peer *p);

/* Free what access_read_groups allocated. */
void access_peer_clear(struct access_peer *p);

/* Is the name free of "." and ".." components?  0, or -1 with *why set. */
int access_name_check(const char *name, size_t len, const char **why);

/* May this peer connect?  Default: root, our own uid, members of the socket's group;
 * with allow_uids/allow_gids set, root, our uid and those. */
int access_peer_allowed(const struct access_peer *p);

/* Does a [uid:N]/[gid:N] section restrict this peer to name prefixes? */
int access_restricted(const struct access_peer *p);

/* May this peer use name (a lock name, or a list prefix)? */
int access_name_allowed(const struct access_peer *p, const char *name);

#endif
