/* backend.c - the chosen lock authority, called through one table. */
#include "backend.h"

static const struct backend *backend = &backend_remote;

/* Choose the authority. */
void
backend_use(const struct backend *b)
{
	backend = b;
}

/* The chosen authority. */
const struct backend *
backend_current(void)
{
	return backend;
}

int
backend_acquire(const char *name, int64_t ttl, const char *metadata, int64_t lock_delay,
    const char *session_id, uid_t uid, backend_cb cb, void *arg)
{
	if (backend->acquire_uid != NULL)
		return backend->acquire_uid(name, ttl, metadata, lock_delay, session_id,
		    uid, cb, arg);
	return backend->acquire(name, ttl, metadata, lock_delay, session_id, cb, arg);
}

int
backend_renew(const char *name, const char *lease_id, int64_t ttl, backend_cb cb,
    void *arg)
{
	return backend->renew(name, lease_id, ttl, cb, arg);
}

int
backend_release(const char *name, const char *lease_id, backend_cb cb, void *arg)
{
	return backend->release(name, lease_id, cb, arg);
}

int
backend_session_create(int64_t ttl, backend_cb cb, void *arg)
{
	return backend->session_create(ttl, cb, arg);
}

int
backend_session_keepalive(const char *session_id, backend_cb cb, void *arg)
{
	return backend->session_keepalive(session_id, cb, arg);
}

int
backend_session_terminate(const char *session_id, backend_cb cb, void *arg)
{
	return backend->session_terminate(session_id, cb, arg);
}
