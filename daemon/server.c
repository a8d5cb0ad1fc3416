/* server.c - listening socket: race-free creation, activation, accept, peer credentials. */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <msgpack.h>

#include "access.h"
#include "conn.h"
#include "log.h"
#include "octo_proto.h"
#include "server.h"
#include "systemd.h"

static struct event_base *server_evbase;
static struct event	*server_ev;		/* accept */
static struct event	*server_pause_ev;	/* re-arm accept after EMFILE */
static int		 server_fd = -1;
static int		 server_lock_fd = -1;
static int		 server_owns_path;	/* created the socket file */
static int		 server_activated;	/* the socket file is the unit's */
static char		*server_path;
static char		*server_dir;		/* the directory, when we created it */
static char		*server_lock_path;
static unsigned		 server_max_clients;
static unsigned		 server_per_uid;	/* max_clients_per_uid in force */
static unsigned		 server_reserved;	/* reserved_admin_clients in force */
static uid_t		 server_admins[CONFIG_MAX_UIDS];
static unsigned		 server_nadmins;
static uint64_t		 server_refused[4];	/* SERVER_REFUSE_* */
static time_t		 server_logged_at[4];	/* last refusal line of each kind */
static unsigned		 server_unlogged[4];	/* refusals since, not logged */

enum {
	SERVER_REFUSE_GROUPS,
	SERVER_REFUSE_FULL,
	SERVER_REFUSE_RESERVED,
	SERVER_REFUSE_PER_UID,
};

/* The event base. */
struct event_base *
server_base(void)
{
	return server_evbase;
}

/*
 * Change the client limits.  max_clients_per_uid 0 means a quarter of max_clients;
 * reserved_admin_clients is kept below max_clients so that others have a slot.
 */
void
server_set_limits(const struct config *cfg)
{
	server_max_clients = cfg->max_clients;
	server_per_uid = cfg->max_clients_per_uid;
	if (server_per_uid == 0 && (server_per_uid = cfg->max_clients / 4) == 0)
		server_per_uid = 1;
	server_reserved = cfg->reserved_admin_clients;
	if (server_reserved >= server_max_clients) {
		server_reserved = server_max_clients - 1;
		if (cfg->reserved_admin_clients != CONFIG_RESERVED_ADMIN_DEFAULT)
			log_warn("reserved_admin_clients=%u is not below max_clients=%u; "
			    "keeping %u", cfg->reserved_admin_clients, server_max_clients,
			    server_reserved);
	}
	memcpy(server_admins, cfg->admin_uids, cfg->n_admin_uids * sizeof(uid_t));
	server_nadmins = cfg->n_admin_uids;
}

/* Root or one of admin_uids: may use the reserved slots, has no per-uid cap. */
static int
server_is_admin(uid_t uid)
{
	unsigned i;

	if (uid == 0)
		return 1;
	for (i = 0; i < server_nadmins; i++)
		if (server_admins[i] == uid)
			return 1;
	return 0;
}

/* Which limit refuses this peer, or -1 when it may connect. */
static int
server_limit(uid_t uid)
{
	unsigned n = conn_count();

	if (n >= server_max_clients)
		return SERVER_REFUSE_FULL;
	if (server_is_admin(uid))
		return -1;
	if (n + server_reserved >= server_max_clients)
		return SERVER_REFUSE_RESERVED;
	if (conn_count_uid(uid) >= server_per_uid)
		return SERVER_REFUSE_PER_UID;
	return -1;
}

/* Count a refusal; log at most one line of each kind a second, with what was skipped. */
static void
server_note_refusal(int why, const struct access_peer *p)
{
	static const char *const what[] = {
		[SERVER_REFUSE_GROUPS] = "its groups cannot be read",
		[SERVER_REFUSE_FULL] = "max_clients reached",
		[SERVER_REFUSE_RESERVED] = "only the slots reserved for admins are left",
		[SERVER_REFUSE_PER_UID] = "max_clients_per_uid reached",
	};
	time_t now = time(NULL);

	server_refused[why]++;
	if (now == server_logged_at[why]) {
		server_unlogged[why]++;
		return;
	}
	log_warn("refusing client uid=%u pid=%d: %s (max_clients=%u max_clients_per_uid=%u "
	    "reserved_admin_clients=%u; %u more such refusals not logged)",
	    (unsigned)p->uid, (int)p->pid, what[why], server_max_clients, server_per_uid,
	    server_reserved, server_unlogged[why]);
	server_logged_at[why] = now;
	server_unlogged[why] = 0;
}

/* Limits and refusals for daemon_status. */
void
server_stats(struct server_stats *st)
{
	st->max_clients = server_max_clients;
	st->max_clients_per_uid = server_per_uid;
	st->reserved_admin_clients = server_reserved;
	conn_usage(server_is_admin, &st->admin_connections, &st->top_uid_connections);
	st->refused_per_uid = server_refused[SERVER_REFUSE_PER_UID];
	st->refused_reserved = server_refused[SERVER_REFUSE_RESERVED];
	st->refused_full = server_refused[SERVER_REFUSE_FULL];
	st->refused_groups = server_refused[SERVER_REFUSE_GROUPS];
}

/* Refuse a client over the limit with one "busy" reply; best effort, never blocks. */
static void
server_refuse(int fd, int err, const char *msg)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	ssize_t		n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	octo_proto_pack_error(&pk, 0, err, msg);
	n = send(fd, sb.data, sb.size, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	msgpack_sbuffer_destroy(&sb);
}

/* After EMFILE/ENFILE, accept again a little later instead of spinning. */
static void
server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (server_ev != NULL)
		event_add(server_ev, NULL);
}

/* Accept every pending client, reading its credentials before anything else. */
static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct access_peer peer;
	struct ucred	 cred;
	socklen_t	 len;
	int		 fd, i, why;

	(void)what;
	(void)arg;
	for (i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				struct timeval tv = { 0, 100 * 1000 };

				log_warn("accept: %s; pausing accepts", strerror(errno));
				event_del(server_ev);
				evtimer_add(server_pause_ev, &tv);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
			log_warn("SO_PEERCRED: %s", strerror(errno));
			close(fd);
			continue;
		}
		peer.uid = cred.uid;
		peer.gid = cred.gid;
		peer.pid = cred.pid;
		/* Without its groups neither admission nor [gid:N] can be decided. */
		if (access_read_groups(fd, &peer) == -1) {
			server_note_refusal(SERVER_REFUSE_GROUPS, &peer);
			server_refuse(fd, OCTO_ERR_PERMISSION_DENIED,
			    "cannot read this client's groups");
			close(fd);
			continue;
		}
		if (!access_peer_allowed(&peer)) {
			log_warn("denied client uid=%u gid=%u pid=%d: not allowed to connect",
			    (unsigned)cred.uid, (unsigned)cred.gid, (int)cred.pid);
			server_refuse(fd, OCTO_ERR_PERMISSION_DENIED,
			    "this user may not use octostored");
			access_peer_clear(&peer);
			close(fd);
			continue;
		}
		if ((why = server_limit(peer.uid)) != -1) {
			server_note_refusal(why, &peer);
			server_refuse(fd, OCTO_ERR_BUSY, why == SERVER_REFUSE_PER_UID ?
			    "too many clients from this user" : "too many clients");
			access_peer_clear(&peer);
			close(fd);
			continue;
		}
		if (conn_new(fd, &peer) == NULL) {
			access_peer_clear(&peer);
			close(fd);
		}
	}
}

/*
 * Is a live daemon answering on path?  1 yes, 0 no (absent or stale), -1 error.
 */
static int
server_probe(const struct sockaddr_un *sun)
{
	int fd, r;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (r == 0)
		return 1;
	if (errno == ECONNREFUSED || errno == ENOENT)
		return 0;
	return -1;
}

/* The group the socket and our directory get: socket_group; -1 (unset) leaves the
 * group they were created with, or that an administrator gave them, as it is. */
static gid_t
server_group(const struct config *cfg)
{
	return cfg->socket_group != NULL ? cfg->socket_gid : (gid_t)-1;
}

/*
 * Give path (a socket or a directory we made, never a link) its group, then its mode.
 * The daemon must be root or a member of the group.
 */
static int
server_set_perms(const char *path, gid_t gid, mode_t mode, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode) && !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a socket or directory", path);
		return -1;
	}
	if (gid != (gid_t)-1 && st.st_gid != gid && lchown(path, (uid_t)-1, gid) == -1) {
		snprintf(err, errlen, "%s: cannot give it group %u: %s", path,
		    (unsigned)gid, strerror(errno));
		return -1;
	}
	if (chmod(path, mode) == -1) {
		snprintf(err, errlen, "%s: chmod %04o: %s", path, (unsigned)mode,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The mode of a directory we create: never writable by group or others. */
static mode_t
server_dir_mode(const struct config *cfg)
{
	return cfg->socket_group != NULL ? 0750 : 0755;
}

/*
 * Create the socket's directory when it is missing (one level: its parent must
 * exist), owned by us with the socket's group.  An existing directory is left as it is.
 */
static int
server_make_dir(const struct config *cfg, char *err, size_t errlen)
{
	char *dir, *slash;

	if ((dir = strdup(cfg->socket_path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	if (mkdir(dir, 0700) == -1) {
		if (errno == EEXIST) {
			free(dir);
			return 0;
		}
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	server_dir = dir;
	log_info("created socket directory %s group=%s mode=%04o", dir,
	    cfg->socket_group != NULL ? cfg->socket_group : "(ours)",
	    (unsigned)server_dir_mode(cfg));
	return server_set_perms(dir, server_group(cfg), server_dir_mode(cfg), err, errlen);
}

/*
 * Create the socket file.  A lock file beside it, held for the daemon's life, makes
 * the probe-unlink-bind sequence race-free against a second daemon starting at once;
 * binding under a umask that denies everyone means no one can connect before the
 * mode is set.
 */
static int
server_create(const struct config *cfg, char *err, size_t errlen)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			fd = -1, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cfg->socket_path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", cfg->socket_path);
		return -1;
	}
	strcpy(sun.sun_path, cfg->socket_path);
	if (server_make_dir(cfg, err, errlen) == -1)
		return -1;

	if (asprintf(&server_lock_path, "%s.lock", cfg->socket_path) == -1) {
		server_lock_path = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	server_lock_fd = open(server_lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (server_lock_fd == -1) {
		snprintf(err, errlen, "%s: %s", server_lock_path, strerror(errno));
		return -1;
	}
	if (flock(server_lock_fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "%s: another octostored owns this socket",
		    cfg->socket_path);
		return -1;
	}

	r = server_probe(&sun);
	if (r == 1) {
		snprintf(err, errlen, "%s: a live daemon already answers there",
		    cfg->socket_path);
		return -1;
	}
	if (r == 0 && unlink(cfg->socket_path) == 0)
		log_info("removed stale socket %s", cfg->socket_path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0777);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r == -1) {
		snprintf(err, errlen, "bind %s: %s", cfg->socket_path, strerror(errno));
		close(fd);
		return -1;
	}
	server_owns_path = 1;
	if (server_set_perms(cfg->socket_path, server_group(cfg), cfg->socket_mode, err,
	    errlen) == -1) {
		close(fd);
		return -1;
	}
	if (listen(fd, 512) == -1) {
		snprintf(err, errlen, "%s: %s", cfg->socket_path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Start listening. */
int
server_start(struct event_base *base, const struct config *cfg, int activated_fd,
    char *err, size_t errlen)
{
	server_evbase = base;
	server_set_limits(cfg);
	server_path = strdup(cfg->socket_path);
	if (activated_fd >= 0) {
		server_fd = activated_fd;
		if (evutil_make_socket_nonblocking(server_fd) == -1 ||
		    evutil_make_socket_closeonexec(server_fd) == -1) {
			snprintf(err, errlen, "activated socket: %s", strerror(errno));
			return -1;
		}
		server_activated = 1;
		log_info("listening on activated socket fd=%d", server_fd);
		systemd_check_socket(server_fd, cfg);
	} else {
		if ((server_fd = server_create(cfg, err, errlen)) == -1)
			return -1;
		log_info("listening on %s group=%s mode=%04o", cfg->socket_path,
		    cfg->socket_group != NULL ? cfg->socket_group : "(ours)",
		    (unsigned)cfg->socket_mode);
	}
	access_init(cfg, server_fd);
	server_ev = event_new(base, server_fd, EV_READ | EV_PERSIST, server_accept_cb, NULL);
	server_pause_ev = evtimer_new(base, server_resume_cb, NULL);
	if (server_ev == NULL || server_pause_ev == NULL || event_add(server_ev, NULL) == -1) {
		snprintf(err, errlen, "cannot register the listening socket");
		return -1;
	}
	return 0;
}

/*
 * SIGHUP: give the socket (and the directory we created) the group and mode of cfg,
 * and admit by that group from now on.  An activated socket keeps the unit's.
 */
void
server_reconfigure(const struct config *cfg)
{
	char err[512];

	if (server_fd == -1)
		return;
	if (server_activated)
		systemd_check_socket(server_fd, cfg);
	else if (server_owns_path) {
		if (server_set_perms(server_path, server_group(cfg), cfg->socket_mode, err,
		    sizeof(err)) == -1)
			log_error("reload: %s", err);
		if (server_dir != NULL && server_set_perms(server_dir, server_group(cfg),
		    server_dir_mode(cfg), err, sizeof(err)) == -1)
			log_error("reload: %s", err);
	}
	access_init(cfg, server_fd);
}

/* Stop accepting; remove what we created. */
void
server_stop(void)
{
	if (server_ev != NULL) {
		event_free(server_ev);
		server_ev = NULL;
	}
	if (server_pause_ev != NULL) {
		event_free(server_pause_ev);
		server_pause_ev = NULL;
	}
	if (server_fd != -1) {
		close(server_fd);
		server_fd = -1;
	}
	if (server_owns_path && server_path != NULL)
		unlink(server_path);
	server_owns_path = 0;
	if (server_lock_fd != -1) {
		close(server_lock_fd);
		server_lock_fd = -1;
	}
	free(server_lock_path);
	server_lock_path = NULL;
	free(server_path);
	server_path = NULL;
	free(server_dir);
	server_dir = NULL;
	server_activated = 0;
}
