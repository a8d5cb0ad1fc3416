/* upstream.h - HTTP to the OctoStore server: libcurl multi driven by the libevent loop. */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config;

#define UPSTREAM_BODY_MAX	(1024 * 1024)	/* response bodies are capped here */

/*
 * What a finished transfer reports.  err is OCTO_OK when an HTTP response arrived
 * (any status); otherwise OCTO_ERR_UNAVAILABLE (transport failure), OCTO_ERR_TIMEOUT,
 * OCTO_ERR_BAD_UPSTREAM_RESPONSE (body over the cap) or OCTO_ERR_SHUTTING_DOWN, with
 * errmsg saying why.  Every transport error is transient.  body is NUL-terminated and
 * valid only during the callback.
 */
struct upstream_result {
	int		 err;
	long		 status;
	const char	*body;
	size_t		 len;
	int64_t		 retry_after_ms;	/* Retry-After header, -1 when absent */
	const char	*errmsg;
};

typedef void (*upstream_cb)(const struct upstream_result *res, void *arg);

/* Request flags. */
#define UPSTREAM_AUTH		0x1	/* send the bearer token */
#define UPSTREAM_SECRET		0x2	/* the response holds a secret: wipe it after use */
#define UPSTREAM_ROTATION	0x4	/* the token rotation: 401s to others wait for it */

/* The daemon's view of the server, for the health method. */
struct upstream_view {
	int		 reachable;	/* last transfer got an HTTP answer; -1 unknown */
	int		 auth_ok;	/* last authenticated answer was not 401; -1 unknown */
	const char	*last_error;	/* most recent failure, NULL if none */
	const char	*base_url;
};

/* Set up the pool from cfg on base; 0, or -1 after logging why. */
int upstream_init(struct event_base *base, const struct config *cfg);

/* Fail every pending transfer with shutting_down and free everything. */
void upstream_shutdown(void);

/*
 * Start method ("GET", "POST" or "DELETE") on path (already encoded, relative to
 * base_url) with an optional JSON body (POST only).  All three are copied: the caller
 * may wipe or reuse them on return.  Returns OCTO_OK, and cb is called exactly once
 * later from the loop; or an error code, and cb is never called.
 */
int upstream_request(const char *method, const char *path, const char *body,
    int flags, upstream_cb cb, void *arg);

/* Current view of the server. */
void upstream_view(struct upstream_view *v);

/* Transfers in progress. */
unsigned upstream_pending(void);

#endif
