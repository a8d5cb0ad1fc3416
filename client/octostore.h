/* octostore.h - liboctostore, the client library of octostored. */
#ifndef OCTOSTORE_H
#define OCTOSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <octostore_err.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * liboctostore talks to a local octostored over its Unix socket (proto/PROTOCOL.md).
 *
 * Conventions:
 * - Every fallible call returns an enum octo_err value: OCTO_OK or an error code.  Wording
 *   is left to the caller: octo_strerror() for the code, octo_last_error_message() for the
 *   daemon's own message.  The library never prints, never exits and never raises signals
 *   (writes use MSG_NOSIGNAL).
 * - OCTO_ERR_SYSTEM means a system call failed: errno holds the cause and is left intact.
 * - Calls are synchronous and each one is bounded by the client's timeout (octo_connect(),
 *   octo_set_timeout()), measured on the monotonic clock.  A call that times out returns
 *   OCTO_ERR_TIMEOUT and the connection stays usable: the late reply is discarded.
 * - After OCTO_ERR_CLOSED, OCTO_ERR_PROTOCOL or OCTO_ERR_TOO_LARGE from the connection
 *   itself (the daemon hung up, or sent a reply that is malformed or over the size limit),
 *   the connection is dead and every later call returns OCTO_ERR_CLOSED; octo_close() it.
 * - A struct octo_client is not thread-safe; use one per thread or lock around it.
 * - Result structs are filled by the library and owned by the caller.  Strings in them
 *   are fixed NUL-terminated arrays ("" when the daemon sent nil or nothing), except
 *   struct octo_lock_list, whose array is allocated and freed by octo_list_free().  On
 *   error a result struct is zeroed, except where a call documents otherwise.
 */

#ifndef OCTO_DEFAULT_SOCKET
#define OCTO_DEFAULT_SOCKET	"/run/octostored/octostored.sock"
#endif
#ifndef OCTO_SOCKET_ENV
#define OCTO_SOCKET_ENV		"OCTOSTORED_SOCKET"
#endif
/* The daemon's user (configure --with-daemon-user), trusted to answer the socket. */
#ifndef OCTO_DAEMON_USER
#define OCTO_DAEMON_USER	"octostored"
#endif
/* A decimal uid also trusted to answer the socket (tests, a daemon run by hand). */
#ifndef OCTO_TRUSTED_UID_ENV
#define OCTO_TRUSTED_UID_ENV	"OCTOSTORED_TRUSTED_UID"
#endif

/* Sizes of the fixed string fields below, each including its terminating NUL. */
#define OCTO_NAME_SIZE		257	/* lock names: at most 256 bytes */
#define OCTO_ID_SIZE		129	/* lease, holder, user and request ids: 128 bytes */
#define OCTO_TIME_SIZE		64	/* RFC 3339 timestamps */
/* Metadata: the server allows 1,024 characters, up to 4,096 bytes of UTF-8. */
#define OCTO_METADATA_SIZE	4097
#define OCTO_METHOD_SIZE	65	/* method names: at most 64 bytes */
#define OCTO_VERSION_SIZE	64
#define OCTO_TEXT_SIZE		512	/* free-form text, truncated to fit */
#define OCTO_MAX_METHODS	32	/* method entries kept from hello/daemon_status */

struct octo_client;

/*
 * Connect to the daemon.  socket_path NULL means $OCTOSTORED_SOCKET, else
 * OCTO_DEFAULT_SOCKET.  timeout_ms bounds the connect and becomes the client's per-call
 * timeout (-1: wait forever).  Returns OCTO_OK and sets *out, or OCTO_ERR_SYSTEM with
 * errno (ENOENT, ECONNREFUSED, EACCES, ...), OCTO_ERR_TIMEOUT, OCTO_ERR_INVALID_ARGUMENT
 * (path too long), OCTO_ERR_NOMEM, OCTO_ERR_UNTRUSTED_DAEMON.
 *
 * Right after connecting, before anything is sent, the library asks the kernel who
 * listens on the socket (SO_PEERCRED) and accepts only root, the caller's own effective
 * uid, the uid of the user OCTO_DAEMON_USER ("octostored" unless configured otherwise;
 * no uid when there is no such user) and the decimal uid in $OCTOSTORED_TRUSTED_UID
 * (ignored when not a plain decimal uid, and in set-id programs).  The socket file's
 * owner is not asked: whoever binds a path first owns that file.  Any other peer
 * (someone squatting the path) gets the connection closed and OCTO_ERR_UNTRUSTED_DAEMON.
 */
OCTO_API int octo_connect(const char *socket_path, int timeout_ms,
    struct octo_client **out);

/*
 * octo_connect(), also setting *peer_uid to the uid of the process that answered (-1
 * when the connect failed before that was known), so that a caller can name it after
 * OCTO_ERR_UNTRUSTED_DAEMON.  peer_uid may be NULL.
 */
OCTO_API int octo_connect_peer(const char *socket_path, int timeout_ms,
    struct octo_client **out, long *peer_uid);

/* The socket path octo_connect() uses for socket_path (NULL: environment, default). */
OCTO_API const char *octo_socket_path(const char *socket_path);

/* Close the connection and free the client; NULL is allowed.  Queued events are dropped. */
OCTO_API void octo_close(struct octo_client *c);

/*
 * The connected socket, for the caller's event loop: when it polls readable, call
 * octo_poll_events().  Do not read from, write to or close it directly.
 */
OCTO_API int octo_fd(const struct octo_client *c);

/* Set the timeout of each later call in milliseconds; -1 waits forever. */
OCTO_API void octo_set_timeout(struct octo_client *c, int timeout_ms);

/*
 * Largest reply accepted, in bytes (default 16 MiB, the most a daemon sends; a list
 * reply takes about 100 bytes per lock, more with long names or metadata).  The input
 * buffer grows as a reply needs, up to this, and is freed again after a reply over
 * 64 KiB.  A reply over the limit fails the call with OCTO_ERR_TOO_LARGE and kills the
 * connection; octo_last_error_from_daemon() is then 0, which tells it from the
 * daemon's message_too_large about a request.  Returns OCTO_ERR_INVALID_ARGUMENT
 * outside 1 KiB..16 MiB.
 */
OCTO_API int octo_set_max_message_size(struct octo_client *c, size_t size);

/*
 * The last call's error, for reports.  These describe the most recent call on c (each
 * call resets them) and stay valid until the next call.
 * - octo_last_error: the code returned (OCTO_OK after a success).
 * - octo_last_error_code: the wire code string as the daemon sent it, which may be an
 *   upstream code this library does not know (then the call returned
 *   OCTO_ERR_UPSTREAM_OTHER); "ok" after a success.  Never NULL.
 * - octo_last_error_message: the daemon's message, or a local description.  Untrusted
 *   text from the server: escape it before showing it on a terminal.  Never NULL.
 * - octo_last_error_param: the parameter at fault (invalid_argument), or NULL.
 * - octo_last_error_retry_after_ms: when to retry, or -1 when the daemon gave no hint.
 * - octo_last_error_request_id: the OctoStore server's request id, or NULL.
 * - octo_last_error_upstream_code: with OCTO_ERR_UPSTREAM_OTHER, the server's own error
 *   code when it sent a well-formed one ([a-z0-9_], at most 64 bytes), else NULL.
 * - octo_last_error_from_daemon: 1 when the error came in an error reply from the
 *   daemon, 0 when the library found it (connection, limits, a malformed reply, an
 *   argument it checks itself, a held lock) or after a success.
 */
OCTO_API int octo_last_error(const struct octo_client *c);
OCTO_API const char *octo_last_error_code(const struct octo_client *c);
OCTO_API const char *octo_last_error_message(const struct octo_client *c);
OCTO_API const char *octo_last_error_param(const struct octo_client *c);
OCTO_API int64_t octo_last_error_retry_after_ms(const struct octo_client *c);
OCTO_API const char *octo_last_error_request_id(const struct octo_client *c);
OCTO_API const char *octo_last_error_upstream_code(const struct octo_client *c);
OCTO_API int octo_last_error_from_daemon(const struct octo_client *c);

/* Notifications from the daemon (PROTOCOL.md "Notifications"). */
enum octo_event_type {
	OCTO_EVENT_OTHER = 0,		/* a notification this library does not know */
	OCTO_EVENT_LEASE_LOST = 1	/* "lease_lost": treat the lease as gone */
};

/* One notification; every pointer is valid only during the callback. */
struct octo_event {
	int		 type;		/* enum octo_event_type */
	const char	*method;	/* wire name, e.g. "lease_lost" */
	const char	*name;		/* lease_lost: lock name ("" if absent) */
	const char	*lease_id;	/* lease_lost */
	const char	*reason;	/* lease_lost: expired, lease_not_current, ... */
	uint64_t	 fencing_token;	/* lease_lost; 0 if absent */
};

typedef void (*octo_notify_cb)(struct octo_client *c, const struct octo_event *ev,
    void *arg);

/*
 * Register the notification callback (NULL to unset).  Notifications are never lost:
 * those read while a synchronous call waits for its reply are queued, and the queue is
 * delivered just before that call returns, or by the next octo_poll_events().  The
 * callback never runs in the middle of a call, may make calls on c itself, and must
 * not octo_close() c.  Without a callback, up to 1,024 events wait in the queue.
 */
OCTO_API void octo_set_notify_cb(struct octo_client *c, octo_notify_cb cb, void *arg);

/*
 * Read whatever has arrived without blocking and deliver queued notifications to the
 * callback.  Returns OCTO_OK (also when nothing arrived), or OCTO_ERR_CLOSED when the
 * daemon hung up (events received before that are delivered first), or another
 * connection error.
 */
OCTO_API int octo_poll_events(struct octo_client *c);

/* Number of notifications waiting in the queue (received, not yet delivered). */
OCTO_API size_t octo_pending_events(const struct octo_client *c);

/*
 * For callers without an event loop: wait up to timeout_ms (-1: forever) for the next
 * notification and return it in *ev.  A queued one is returned at once.  Events taken
 * this way do not go to the callback; use one way or the other.  The strings in *ev stay
 * valid until the next octo_wait_event() or octo_close().  Returns OCTO_OK,
 * OCTO_ERR_TIMEOUT, or OCTO_ERR_CLOSED once the daemon hung up and the queue is empty.
 */
OCTO_API int octo_wait_event(struct octo_client *c, int timeout_ms,
    struct octo_event *ev);

/* hello: protocol handshake.  client_name may be NULL; out may be NULL. */
struct octo_hello {
	int		protocol;		/* protocol version of the daemon */
	char		version[OCTO_VERSION_SIZE];	/* daemon version */
	uint64_t	max_message_size;	/* 0 if not reported */
	size_t		nmethods;		/* at most OCTO_MAX_METHODS */
	char		methods[OCTO_MAX_METHODS][OCTO_METHOD_SIZE];
};
OCTO_API int octo_hello(struct octo_client *c, const char *client_name,
    struct octo_hello *out);

/*
 * ping: round trip.  With payload non-NULL, len bytes are sent (msgpack bin) and the
 * echo is copied into echo (echosz bytes of room) with its length in *echolen; an echo
 * longer than echosz is truncated and the call returns OCTO_ERR_TOO_LARGE.  echo and
 * echolen may be NULL when the echo is not wanted.
 */
OCTO_API int octo_ping(struct octo_client *c, const void *payload, size_t len,
    void *echo, size_t echosz, size_t *echolen);

/*
 * daemon_status: the daemon's counters.  Only administrators (root, admin_uids) get
 * them all (full = 1); anyone else gets version and uptime_ms, with full = 0, pid -1
 * and the rest zero.
 */
struct octo_method_count {
	char		method[OCTO_METHOD_SIZE];
	uint64_t	count;
};
/* daemon_status "clients": the client slot limits in force and refusals since start. */
struct octo_client_slots {
	int		present;		/* 1: the daemon sent them */
	uint64_t	max_clients;
	uint64_t	max_clients_per_uid;
	uint64_t	reserved_admin_clients;	/* slots kept for root and admin_uids */
	uint64_t	admin_connections;	/* open now from root and admin_uids */
	uint64_t	top_uid_connections;	/* most open now from one other uid */
	uint64_t	refused_per_uid;
	uint64_t	refused_reserved;
	uint64_t	refused_full;
	uint64_t	refused_groups;		/* the peer's groups could not be read */
};

/* daemon_status "names" (local backend): the lock name table and its bounds. */
struct octo_name_table {
	int		present;		/* 1: the daemon sent it (local backend) */
	uint64_t	count;
	uint64_t	max_names;
	uint64_t	max_names_per_uid;
};

struct octo_daemon_status {
	char		version[OCTO_VERSION_SIZE];
	int64_t		pid;
	uint64_t	uptime_ms;
	uint64_t	connections;		/* open now */
	uint64_t	connections_total;	/* accepted since start */
	uint64_t	errors;			/* error replies since start */
	size_t		nrequests;		/* at most OCTO_MAX_METHODS */
	struct octo_method_count requests[OCTO_MAX_METHODS];
	int		full;			/* the administrator's full view */
	struct octo_client_slots clients;	/* full view only */
	struct octo_name_table	 names;		/* full view, local backend only */
};
OCTO_API int octo_daemon_status(struct octo_client *c, struct octo_daemon_status *out);

/* health: the OctoStore server's health as the daemon sees it. */
struct octo_health {
	char		status[16];		/* "ok", "degraded" or "unavailable" */
	char		base_url[OCTO_TEXT_SIZE];
	int		reachable;		/* 1 or 0 */
	int		auth_ok;		/* 1, 0, or -1 when unknown */
	char		last_error[OCTO_TEXT_SIZE];	/* "" when none */
	char		upstream_status[64];	/* the server's /health status, "" if nil */
	char		storage[64];		/* "" if nil */
	int64_t		db_size_bytes;		/* -1 if nil */
};
OCTO_API int octo_health(struct octo_client *c, struct octo_health *out);

/*
 * The local view of a lock's holder: who holds it through this daemon.  pid is the
 * holder's pid as the host sees it (SO_PEERCRED, also for a process in a container's
 * pid namespace), uid its uid as the host sees it (a user namespace's root is the
 * host uid it maps to).  present is 0 when the lock is not held through this daemon
 * (free, or held by another host).
 */
#define OCTO_LOCAL_STATE_SIZE	16
struct octo_local_holder {
	int		present;	/* 1: the daemon sent its local view */
	char		state[OCTO_LOCAL_STATE_SIZE];	/* held, acquiring, releasing, lost */
	int64_t		pid;		/* 0: no process (detached, or it has exited);
					   -1: not reported (state lost) */
	int		pid_stale;	/* 1: the process that connected has exited while
					   its connection, inherited, lives on */
	int64_t		uid;		/* -1: not reported (state lost) */
	int		detached;	/* 1 detached lease, 0 not, -1 not reported */
};

/* acquire: take a lock. */
enum octo_acquire_status {
	OCTO_ACQUIRE_ACQUIRED = 1,
	OCTO_ACQUIRE_HELD = 2,		/* another holder has it */
	OCTO_ACQUIRE_DELAYED = 3	/* free, but in its release delay */
};
struct octo_acquire_result {
	int		status;			/* enum octo_acquire_status */
	char		name[OCTO_NAME_SIZE];
	char		lease_id[OCTO_ID_SIZE];		/* acquired */
	uint64_t	fencing_token;			/* acquired */
	char		expires_at[OCTO_TIME_SIZE];	/* acquired, held */
	int64_t		renew_after_ms;			/* acquired; -1 if absent */
	/* held: "local:pid=P,uid=U" ("local:uid=U") for a holder on this daemon, else
	 * the authority's holder id as in struct octo_lock_info */
	char		holder_id[OCTO_ID_SIZE];
	int64_t		retry_after_ms;			/* held, delayed; -1 if absent */
	int		has_metadata;			/* metadata was not nil */
	size_t		metadata_len;
	char		metadata[OCTO_METADATA_SIZE];	/* acquired, held */
	char		available_at[OCTO_TIME_SIZE];	/* delayed */
	struct octo_local_holder local;	/* held by a local client: state "held",
					   detached -1 (holder_id says local:uid=U) */
};

/*
 * Acquire name for ttl seconds (0: the daemon's default, 60; negative:
 * OCTO_ERR_INVALID_ARGUMENT, param "ttl", nothing sent).  metadata may be NULL;
 * lock_delay is the release delay in seconds (-1: not sent).  Returns OCTO_OK when
 * acquired; OCTO_ERR_LOCK_HELD or OCTO_ERR_LOCK_DELAYED when someone else has the lock,
 * with out filled (status, holder_id, expires_at, retry_after_ms, available_at) and
 * octo_last_error_retry_after_ms() set, like the SDK's LockHeldError.
 */
OCTO_API int octo_acquire(struct octo_client *c, const char *name, int ttl,
    const char *metadata, int lock_delay, struct octo_acquire_result *out);

/* Options of octo_acquire_ex(); zero them (then set lock_delay = -1) before use. */
struct octo_acquire_opts {
	int		 ttl;		/* seconds; 0: the daemon's default, 60; not < 0 */
	const char	*metadata;	/* NULL: none */
	int		 lock_delay;	/* release delay in seconds; -1: not sent */
	int64_t		 wait_ms;	/* wait up to this long while held; 0: answer at once */
	int		 detach;	/* the lease outlives the connection; needs hold_ms */
	int64_t		 hold_ms;	/* with detach: keep renewing this long (> 0) */
};

#define OCTO_WAIT_MAX_MS	(24LL * 3600 * 1000)	/* the daemon's limit on wait */
#define OCTO_WAIT_MARGIN_MS	10000	/* reply timeout beyond the wait */

/*
 * Acquire name with options; opts NULL means all defaults.  Like octo_acquire(), and:
 * with wait_ms > 0 the daemon queues the request while the lock is held (local holders
 * first come, first served; remote ones retried) and answers when it is granted, or
 * with OCTO_ERR_TIMEOUT when the wait ran out; the call's reply timeout is then
 * max(the client's timeout, wait_ms + OCTO_WAIT_MARGIN_MS).  wait_ms is sent in seconds
 * (fractions allowed), at most OCTO_WAIT_MAX_MS.  With detach the lease is owned by the
 * caller's uid rather than this connection, may be renewed or released by any
 * connection of that uid, and is renewed by the daemon for hold_ms.
 * OCTO_ERR_INVALID_ARGUMENT for wait_ms out of range, or hold_ms without detach or
 * detach without hold_ms > 0.
 */
OCTO_API int octo_acquire_ex(struct octo_client *c, const char *name,
    const struct octo_acquire_opts *opts, struct octo_acquire_result *out);

/*
 * Lease handles.  octo_lease_acquire() acquires like octo_acquire_ex() and, on OCTO_OK,
 * returns a handle holding the name, lease id, fencing token and expiry of the
 * acquire (on error *out is NULL and, for held or delayed, the last error says so).
 * octo_lease_lost() becomes 1 as soon as a lease_lost notification for the lease has
 * been read from the daemon, whether it was then delivered to the callback, taken by
 * octo_wait_event() or is still queued: call octo_poll_events() or octo_wait_event() to
 * read it.  octo_lease_release() releases the lease through the client it came from
 * (OCTO_ERR_CLOSED after octo_close()); octo_lease_free() frees the handle without
 * releasing (the daemon releases a connection's leases when it closes).  Handles may
 * outlive their client but then only their accessors are useful.
 */
struct octo_lease;
OCTO_API int octo_lease_acquire(struct octo_client *c, const char *name,
    const struct octo_acquire_opts *opts, struct octo_lease **out);
OCTO_API int octo_lease_release(struct octo_lease *l);
OCTO_API int octo_lease_lost(const struct octo_lease *l);
OCTO_API const char *octo_lease_name(const struct octo_lease *l);
OCTO_API const char *octo_lease_id(const struct octo_lease *l);
OCTO_API uint64_t octo_lease_fencing_token(const struct octo_lease *l);
OCTO_API const char *octo_lease_expires_at(const struct octo_lease *l);
OCTO_API void octo_lease_free(struct octo_lease *l);

/* release: give a lease back.  OCTO_ERR_LEASE_NOT_CURRENT when stale or unknown. */
OCTO_API int octo_release(struct octo_client *c, const char *name,
    const char *lease_id);

/*
 * renew: extend a lease to ttl seconds from now (0: the daemon's default; negative:
 * OCTO_ERR_INVALID_ARGUMENT, param "ttl", nothing sent).
 */
struct octo_renew_result {
	char		name[OCTO_NAME_SIZE];
	char		lease_id[OCTO_ID_SIZE];
	char		expires_at[OCTO_TIME_SIZE];
	int64_t		renew_after_ms;		/* -1 if absent */
};
OCTO_API int octo_renew(struct octo_client *c, const char *name, const char *lease_id,
    int ttl, struct octo_renew_result *out);

/* status: one lock. */
struct octo_lock_info {
	char		name[OCTO_NAME_SIZE];
	int		held;			/* 1 held, 0 free or lost */
	/* The authority's holder id, "" when free: the server's (remote backend), or a
	 * UUID for the daemon's session, or "previous-run" (local backend). */
	char		holder_id[OCTO_ID_SIZE];
	uint64_t	fencing_token;
	char		expires_at[OCTO_TIME_SIZE];	/* "" when free */
	int		has_metadata;
	size_t		metadata_len;
	char		metadata[OCTO_METADATA_SIZE];
	int		lost;	/* 1: "lost", declared lost by the daemon, not yet freed */
	struct octo_local_holder local;	/* held, being acquired or released, or lost
					   through this daemon */
};
OCTO_API int octo_status(struct octo_client *c, const char *name,
    struct octo_lock_info *out);

/* list: locks whose names start with prefix (NULL: all the caller may see). */
struct octo_lock_list {
	struct octo_lock_info *locks;		/* nlocks entries, freed by octo_list_free */
	size_t		nlocks;
	uint64_t	total;			/* as reported by the server */
	int		has_prefix;
	char		prefix[OCTO_NAME_SIZE];	/* the prefix the server applied */
};
OCTO_API int octo_list(struct octo_client *c, const char *prefix,
    struct octo_lock_list *out);

/* Free what octo_list() allocated and zero the list; safe on a zeroed list. */
OCTO_API void octo_list_free(struct octo_lock_list *l);

/* rotate_token: have the daemon rotate its bearer token (admin only). */
struct octo_rotate_result {
	char		user_id[OCTO_ID_SIZE];
	char		ns[OCTO_NAME_SIZE];	/* namespace, "" if nil */
	int		persisted;		/* the new token was written to its file */
};
OCTO_API int octo_rotate_token(struct octo_client *c, struct octo_rotate_result *out);

#ifdef __cplusplus
}
#endif
#endif /* OCTOSTORE_H */
