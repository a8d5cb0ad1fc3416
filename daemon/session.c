/* session.c - one upstream session: lazy creation, keepalive, loss, termination. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "backend.h"
#include "lease.h"
#include "log.h"
#include "octostore_err.h"
#include "policy.h"
#include "session.h"

struct session_waiter {
	session_cb		 cb;
	void			*arg;
	struct session_waiter	*next;
};

static struct event_base	*sess_base;
static struct event		*sess_timer;	/* keepalive or retry */
static struct event		*sess_wake;	/* answer waiters from the loop */
static char			 sess_id[65];
static int			 sess_active;
static int			 sess_creating;
static int			 sess_busy;	/* a keepalive or terminate in flight */
static int64_t			 sess_ttl_ms;
static int64_t			 sess_keepalive_ms;
static int64_t			 sess_deadline;	/* monotonic: expiry if not kept alive */
static int64_t			 sess_sent;
static unsigned			 sess_attempt;
static unsigned			 sess_gen;	/* bumped for each new session */
static struct session_waiter	*sess_waiters;
static void			(*sess_done)(void);

static void	session_keepalive_cb(evutil_socket_t, short, void *);
static void	session_notify(int, const char *);

/* Waiters of an already active session are answered here, never re-entrantly. */
static void
session_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (sess_active)
		session_notify(OCTO_OK, NULL);
}

/* Set up. */
void
session_init(struct event_base *base, int64_t ttl_ms)
{
	sess_base = base;
	sess_ttl_ms = ttl_ms;
	sess_timer = evtimer_new(base, session_keepalive_cb, NULL);
	sess_wake = evtimer_new(base, session_wake_cb, NULL);
}

/* Current id or NULL. */
const char *
session_current(void)
{
	return sess_active ? sess_id : NULL;
}

/* none, creating, active. */
const char *
session_state(void)
{
	return sess_active ? "active" : sess_creating ? "creating" : "none";
}

/* Arm the timer ms from now. */
static void
session_arm(int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(sess_timer, &tv);
}

/* Answer every waiter. */
static void
session_notify(int err, const char *message)
{
	struct session_waiter *w;

	while ((w = sess_waiters) != NULL) {
		sess_waiters = w->next;
		w->cb(err, err == OCTO_OK ? sess_id : NULL, message, w->arg);
		free(w);
	}
}

/* The session is gone: every ephemeral lease on it is gone too. */
static void
session_lost(const char *why)
{
	char	esc[256];

	log_warn("upstream session lost: %s", api_escape(esc, sizeof(esc), why));
	sess_active = 0;
	evtimer_del(sess_timer);
	lease_session_lost(why);
}

/* Which session is current: acquires remember it, to drop it if the server denies it. */
unsigned
session_generation(void)
{
	return sess_gen;
}

/* The server does not know session generation gen (a 404 or 410 on an acquire). */
void
session_invalidate(unsigned gen, const char *why)
{
	if (sess_active && gen == sess_gen)
		session_lost(why);
}

/* POST /sessions answered. */
static void
session_created(const struct backend_result *res, void *arg)
{
	char	esc[256];

	(void)arg;
	sess_creating = 0;
	if (res->err != OCTO_OK) {
		log_warn("creating the upstream session failed: %s", api_escape(esc,
		    sizeof(esc), res->message != NULL ? res->message :
		    octo_strerror(res->err)));
		session_notify(res->err, res->message);
		return;
	}
	strncpy(sess_id, res->session_id, sizeof(sess_id) - 1);
	sess_id[sizeof(sess_id) - 1] = '\0';
	sess_active = 1;
	sess_gen++;
	sess_attempt = 0;
	sess_keepalive_ms = res->keepalive_ms;
	/* The server sets the interval to half the TTL it granted. */
	sess_deadline = sess_sent + 2 * res->keepalive_ms;
	log_info("upstream session created, keepalive every %lld ms",
	    (long long)res->keepalive_ms);
	session_arm(res->keepalive_ms);
	session_notify(OCTO_OK, NULL);
}

/* Start creating a session if none is on the way. */
static int
session_create(void)
{
	int e;

	if (sess_creating)
		return OCTO_OK;
	sess_sent = policy_mono_ms();
	e = backend_session_create((sess_ttl_ms + 999) / 1000, session_created, NULL);
	if (e == OCTO_OK)
		sess_creating = 1;
	return e;
}

/* Wait for a session. */
int
session_wait(session_cb cb, void *arg)
{
	struct session_waiter *w, **p;
	int e;

	if (sess_done != NULL)
		return OCTO_ERR_SHUTTING_DOWN;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return OCTO_ERR_NOMEM;
	if (!sess_active && (e = session_create()) != OCTO_OK) {
		free(w);
		return e;
	}
	w->cb = cb;
	w->arg = arg;
	for (p = &sess_waiters; *p != NULL; p = &(*p)->next)
		;
	*p = w;
	if (sess_active) {
		struct timeval tv = { 0, 0 };

		evtimer_add(sess_wake, &tv);
	}
	return OCTO_OK;
}

/* Drop the waiters for arg. */
void
session_cancel(void *arg)
{
	struct session_waiter **p = &sess_waiters, *w;

	while ((w = *p) != NULL) {
		if (w->arg == arg) {
			*p = w->next;
			free(w);
		} else
			p = &w->next;
	}
}

/* Keepalive answered. */
static void
session_kept(const struct backend_result *res, void *arg)
{
	int64_t now = policy_mono_ms(), delay;

	(void)arg;
	sess_busy = 0;
	if (sess_done != NULL || !sess_active)
		return;
	if (res->err == OCTO_OK) {
		sess_attempt = 0;
		sess_deadline = sess_sent + 2 * sess_keepalive_ms;
		session_arm(sess_keepalive_ms);
		return;
	}
	if (res->lost || !res->transient) {
		session_lost(res->message != NULL ? res->message : octo_strerror(res->err));
		return;
	}
	delay = policy_backoff(sess_attempt++, res->retry_after_ms, policy_rand32());
	if (now + delay >= sess_deadline) {
		session_lost("keepalives failed until the session expired");
		return;
	}
	log_debug("session keepalive failed (%s); retrying in %lld ms",
	    octo_err_name(res->err), (long long)delay);
	session_arm(delay);
}

/* Timer: send a keepalive. */
static void
session_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!sess_active || sess_busy)
		return;
	if (policy_mono_ms() >= sess_deadline) {
		session_lost("session expired before a keepalive succeeded");
		return;
	}
	sess_sent = policy_mono_ms();
	if (backend_session_keepalive(sess_id, session_kept, NULL) == OCTO_OK)
		sess_busy = 1;
	else
		session_arm(policy_backoff(sess_attempt++, -1, policy_rand32()));
}

/* DELETE answered (or failed: the server expires the session by itself). */
static void
session_terminated(const struct backend_result *res, void *arg)
{
	void (*done)(void) = sess_done;

	(void)arg;
	sess_busy = 0;
	if (res->err != OCTO_OK)
		log_info("terminating the upstream session: %s; it expires by itself",
		    octo_err_name(res->err));
	else
		log_info("upstream session terminated");
	sess_active = 0;
	if (done != NULL)
		done();
}

/* Shutdown: end the session upstream, then call done. */
void
session_terminate(void (*done)(void))
{
	sess_done = done;
	evtimer_del(sess_timer);
	evtimer_del(sess_wake);
	session_notify(OCTO_ERR_SHUTTING_DOWN, "the daemon is shutting down");
	if (!sess_active ||
	    backend_session_terminate(sess_id, session_terminated, NULL) != OCTO_OK) {
		sess_active = 0;
		done();
	}
}

/* Free everything. */
void
session_free(void)
{
	struct session_waiter *w;

	while ((w = sess_waiters) != NULL) {
		sess_waiters = w->next;
		free(w);
	}
	if (sess_timer != NULL)
		event_free(sess_timer);
	if (sess_wake != NULL)
		event_free(sess_wake);
	sess_timer = sess_wake = NULL;
	explicit_bzero(sess_id, sizeof(sess_id));
}
