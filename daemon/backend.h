/* backend.h - the lock authority behind the lease registry (remote OctoStore server). */
#ifndef BACKEND_H
#define BACKEND_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/*
 * What an operation reports, valid only during the callback.  err is OCTO_OK for a
 * successful answer; otherwise the error, with transient set when retrying may help
 * (transport failures, timeouts, 5xx, rate_limited, capacity_exceeded, and an answer
 * that breaks the contract: bad_upstream_response) and lost set when the answer proves
 * the lease or session is gone (lease_not_current, not_found, 401, session_expired).
 * A transport error or a broken answer is never proof of loss.
 */
struct backend_result {
	int		 err;
	int		 transient;
	int		 lost;
	const char	*code_name;	/* upstream_error: the server's own code, sent as
					   upstream_code if it is well formed; else NULL */
	const char	*message;
	int64_t		 retry_after_ms;	/* -1 when absent */
	const char	*request_id;

	/* acquire */
	int		 status;		/* BACKEND_ACQUIRED, _HELD, _DELAYED */
	const char	*lease_id;
	int64_t		 fencing_token;
	const char	*expires_at;
	int64_t		 renew_after_ms;	/* -1 when absent */
	const char	*metadata;
	const char	*holder_id;
	const char	*available_at;

	/* session */
	const char	*session_id;
	int64_t		 keepalive_ms;
};

#define BACKEND_ACQUIRED	1
#define BACKEND_HELD		2
#define BACKEND_DELAYED		3

typedef void (*backend_cb)(const struct backend_result *res, void *arg);

/*
 * A lock authority: the OctoStore server (remote.c) or the daemon itself (local.c).
 * Each operation returns OCTO_OK and later calls cb exactly once, from the event
 * loop and never from inside the call; or returns an error and never calls cb.
 */
struct backend {
	const char	*name;
	int	(*acquire)(const char *name, int64_t ttl, const char *metadata,
		    int64_t lock_delay, const char *session_id, backend_cb cb, void *arg);
	/* Used instead of acquire when set: uid is who asks, the lease's owner (the
	 * local backend logs it with the grant). */
	int	(*acquire_uid)(const char *name, int64_t ttl, const char *metadata,
		    int64_t lock_delay, const char *session_id, uid_t uid, backend_cb cb,
		    void *arg);
	int	(*renew)(const char *name, const char *lease_id, int64_t ttl,
		    backend_cb cb, void *arg);
	int	(*release)(const char *name, const char *lease_id, backend_cb cb,
		    void *arg);
	int	(*session_create)(int64_t ttl, backend_cb cb, void *arg);
	int	(*session_keepalive)(const char *session_id, backend_cb cb, void *arg);
	int	(*session_terminate)(const char *session_id, backend_cb cb, void *arg);
};

extern const struct backend backend_remote;

/* Choose the authority (before any call); the default is backend_remote. */
void backend_use(const struct backend *b);
const struct backend *backend_current(void);

/* The operations of the chosen backend. */
int backend_acquire(const char *name, int64_t ttl, const char *metadata,
    int64_t lock_delay, const char *session_id, uid_t uid, backend_cb cb, void *arg);
int backend_renew(const char *name, const char *lease_id, int64_t ttl, backend_cb cb,
    void *arg);
int backend_release(const char *name, const char *lease_id, backend_cb cb, void *arg);
int backend_session_create(int64_t ttl, backend_cb cb, void *arg);
int backend_session_keepalive(const char *session_id, backend_cb cb, void *arg);
int backend_session_terminate(const char *session_id, backend_cb cb, void *arg);

#endif
