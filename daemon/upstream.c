/* upstream.c - HTTP to the OctoStore server: libcurl multi driven by the libevent loop. */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "log.h"
#include "octostore_err.h"
#include "redact.h"
#include "token.h"
#include "upstream.h"

#define UPSTREAM_PENDING_MAX	(256 * 1024)	/* transfers queued or running */
#define UPSTREAM_IDLE_MAX	64	/* easy handles kept for reuse */

/*
 * The shape of curl's docs/examples/hiperfifo.c: curl tells us which sockets to watch
 * (socket callback) and when to wake it (timer callback); libevent reports activity
 * back through curl_multi_socket_action(), and finished transfers are collected with
 * curl_multi_info_read().  Nothing here blocks: name resolution runs in curl's
 * resolver thread and connections are non-blocking.
 */

/* One transfer in flight. */
struct xfer {
	CURL			*easy;
	struct curl_slist	 auth;		/* "Authorization: ..." then a shared list */
	char			*auth_line;	/* wiped and freed with x */
	char			*buf;		/* response body, NUL-terminated */
	size_t			 len;
	size_t			 cap;
	int			 flags;
	int			 too_large;
	upstream_cb		 cb;
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
	int			 queued;	/* waiting in up_queue, not in curl */
	int			 held;		/* a 401 waiting in up_held for a rotation */
	int			 resent;	/* already sent again after a stale 401 */
	int			 rotation;	/* sent with UPSTREAM_ROTATION */
	uint64_t		 gen;		/* token generation in its Authorization */
	/*
	 * The request as text lives behind the struct, in the same allocation, from
	 * upstream_request until x is freed: "<base_url><path>\0<method>\0[<body>\0]".
	 * curl reads the body from there (CURLOPT_POSTFIELDS); it is wiped with x.
	 */
	char			*url;
	const char		*path;		/* inside url */
	const char		*method;
	char			*body;		/* NULL without one */
	size_t			 body_len;
	TAILQ_ENTRY(xfer)	 entry;
	TAILQ_ENTRY(xfer)	 qentry;
};

#define UPSTREAM_WHAT_MAX	63	/* "POST /locks/..." in logs is cut here */

/*
 * The headers every request sends, [1] with a JSON body, [0] without; a request with
 * the token puts its own Authorization line in front (x->auth), so that the token is
 * only ever copied for the life of one transfer.
 */
static struct curl_slist	*up_hdrs[2];

/*
 * One socket curl asked us to watch, by descriptor, from the first watch until curl
 * closes it.  Between transfers a keep-alive connection stays registered for reading
 * ("parked"), so that each request does not cost an epoll_ctl to forget it and another
 * to watch it again; if an idle connection turns readable (the server closed it) it is
 * forgotten then, and curl's own liveness check drops it at the next use.
 */
struct usock {
	struct event		 ev;
	short			 kind;		/* registered events, 0 if none */
	int			 parked;	/* curl is not watching it now */
	int			 ours;		/* opened (so closed) through our hooks */
};

static struct usock		**up_socks;	/* by descriptor */
static size_t			  up_nsocks;
static int			  up_in_timer;	/* inside upstream_timer_cb */

static struct event_base	*up_base;
static CURLM			*up_multi;
static struct event		*up_timer;
static TAILQ_HEAD(, xfer)	 up_xfers = TAILQ_HEAD_INITIALIZER(up_xfers);
static unsigned			 up_nxfers;
/*
 * Transfers wait here until a connection is free.  Handed to curl at once, they would
 * sit in curl's own pending list with their connect and request timeouts already
 * running, and a burst of renewals would time out unsent.
 */
static TAILQ_HEAD(, xfer)	 up_queue = TAILQ_HEAD_INITIALIZER(up_queue);
static unsigned			 up_active;	/* handed to curl */
/*
 * A rotation makes the server refuse the old token at once, while transfers sent with
 * it may still be on the way; their 401s prove nothing about a lease or a session.
 * A 401 to a token since replaced (older generation) is sent again once with the
 * current token; one arriving while a rotation is in flight waits here until the
 * rotation ends, then is sent again if the token changed, or delivered as it is.
 */
static TAILQ_HEAD(, xfer)	 up_held = TAILQ_HEAD_INITIALIZER(up_held);
static unsigned			 up_rotations;	/* rotation transfers in flight */
static unsigned			 up_max_active;
static CURL			*up_idle[UPSTREAM_IDLE_MAX];
static unsigned			 up_nidle;
static int			 up_running;

static char			*up_base_url;	/* without a trailing '/' */
static size_t			 up_base_len;
static char			*up_ca_file;
static int			 up_plain_http;
static int			 up_http2;
static long			 up_connect_ms;
static long			 up_timeout_ms;

static int			 up_reachable = -1;
static int			 up_auth_ok = -1;
static char			 up_last_error[64 + CURL_ERROR_SIZE + 8];

static void	upstream_check_done(void);
static int	upstream_hdrs_init(void);

/* True if host (as curl returns it) is a loopback name or address. */
static int
upstream_loopback(const char *host)
{
	struct in_addr	a4;
	struct in6_addr	a6;
	char		buf[64];
	size_t		n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) == 1)
			return IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return 0;
}

/* Check base_url: http or https, no credentials, query or fragment; plain http to loopback only. */
static int
upstream_check_url(const char *url, int allow_insecure)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL, *part = NULL;
	int	 rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	/* The URL is echoed in messages only once it is known to hold no credentials. */
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		log_error("base_url: not a valid URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK) {
		log_error("base_url: must not hold credentials (user:password@)");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		log_error("base_url %s: no scheme or host", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		log_error("base_url %s: must not hold a query or a fragment", url);
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0)
		up_plain_http = 0;
	else if (strcasecmp(scheme, "http") == 0) {
		up_plain_http = 1;
		if (!upstream_loopback(host)) {
			if (!allow_insecure) {
				log_error("base_url %s: plain http is allowed only to a "
				    "loopback address (the token would cross the network "
				    "in clear); use https or set allow_insecure_http", url);
				goto out;
			}
			log_warn("base_url %s: plain http to a non-loopback host "
			    "(allow_insecure_http): the token crosses the network in clear",
			    url);
		}
	} else {
		log_error("base_url %s: scheme must be https (or http to loopback)", url);
		goto out;
	}
	rc = 0;
out:
	curl_free(part);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/*
 * ca_file must be a readable regular file: found out at start-up, not as every
 * request failing with unavailable.  0, or -1 after logging why.
 */
static int
upstream_check_ca_file(const char *path)
{
	struct stat	st;
	ssize_t		r;
	char		c;
	int		fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		log_error("ca_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		log_error("ca_file %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		log_error("ca_file %s: not a regular file", path);
	else if ((r = read(fd, &c, 1)) != 1)
		log_error("ca_file %s: %s", path, r == 0 ? "empty" : strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

/* Stop watching us (no-op if it is not registered). */
static void
upstream_unwatch(struct usock *us)
{
	if (us->kind != 0)
		event_del(&us->ev);
	us->kind = 0;
	us->parked = 0;
}

/* libevent saw activity on a socket curl watches. */
static void
upstream_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct usock	*us = arg;
	int		 action = 0, running;

	if (us->parked) {
		/* An idle connection: closed by the server, or talking out of turn. */
		upstream_unwatch(us);
		return;
	}
	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(up_multi, fd, action, &running);
	/*
	 * No evtimer_del when running drops to 0, as hiperfifo.c does: a completion
	 * callback may just have started a new transfer, whose timer curl armed through
	 * upstream_timer_fn; curl cancels the timer itself when it needs none.
	 */
	upstream_check_done();
}

/* curl's timeout expired. */
static void
upstream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	int	running;

	(void)fd;
	(void)what;
	(void)arg;
	up_in_timer = 1;
	curl_multi_socket_action(up_multi, CURL_SOCKET_TIMEOUT, 0, &running);
	up_in_timer = 0;
	upstream_check_done();
}

/* CURLMOPT_TIMERFUNCTION: (re)arm or cancel our single timer. */
static int
upstream_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
	struct timeval	tv;

	(void)multi;
	(void)userp;
	if (timeout_ms < 0) {
		evtimer_del(up_timer);
		return 0;
	}
	/*
	 * "As soon as possible" (a transfer was just added): in this turn of the loop,
	 * not after another epoll_wait.  From inside the timer callback itself, the next
	 * turn, so that curl asking again and again cannot starve the sockets.
	 */
	if (timeout_ms == 0 && !up_in_timer) {
		evtimer_del(up_timer);
		event_active(up_timer, EV_TIMEOUT, 0);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(up_timer, &tv) == 0 ? 0 : -1;
}

/* The usock for descriptor s, or NULL. */
static struct usock *
upstream_usock_find(curl_socket_t s)
{
	return s >= 0 && (size_t)s < up_nsocks ? up_socks[s] : NULL;
}

/* The usock for descriptor s, made if need be; NULL when out of memory. */
static struct usock *
upstream_usock(curl_socket_t s)
{
	struct usock	**n;
	size_t		  nn;

	if (s < 0)
		return NULL;
	if ((size_t)s >= up_nsocks) {
		nn = up_nsocks != 0 ? up_nsocks : 64;
		while (nn <= (size_t)s)
			nn *= 2;
		if ((n = reallocarray(up_socks, nn, sizeof(*n))) == NULL)
			return NULL;
		memset(n + up_nsocks, 0, (nn - up_nsocks) * sizeof(*n));
		up_socks = n;
		up_nsocks = nn;
	}
	if (up_socks[s] == NULL)
		up_socks[s] = calloc(1, sizeof(**n));
	return up_socks[s];
}

/* Forget descriptor s before it is closed: its number may come back as another socket. */
static void
upstream_usock_free(curl_socket_t s)
{
	struct usock *us;

	if ((us = upstream_usock_find(s)) == NULL)
		return;
	upstream_unwatch(us);
	free(us);
	up_socks[s] = NULL;
}

/* CURLOPT_OPENSOCKETFUNCTION: a new socket; no stale watch may survive for its number. */
static curl_socket_t
upstream_open_fn(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	curl_socket_t	 s;
	struct usock	*us;

	(void)clientp;
	(void)purpose;
	if ((s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol)) ==
	    CURL_SOCKET_BAD)
		return s;
	upstream_usock_free(s);
	if ((us = upstream_usock(s)) != NULL)
		us->ours = 1;
	return s;
}

/* CURLOPT_CLOSESOCKETFUNCTION: stop watching s, then close it. */
static int
upstream_close_fn(void *clientp, curl_socket_t s)
{
	(void)clientp;
	upstream_usock_free(s);
	return close(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch, rewatch or park socket s. */
static int
upstream_socket_fn(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct usock	*us;
	short		 kind = EV_PERSIST;

	(void)e;
	(void)userp;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		if ((us = upstream_usock_find(s)) == NULL)
			return 0;
		/*
		 * Keep a reading watch over an idle connection whose close we will see.
		 * Anything else goes: curl closes some descriptors of its own (a resolver's
		 * socket pair) without our hook, and may say so only after the close.
		 */
		if (us->ours && us->kind == (EV_READ | EV_PERSIST))
			us->parked = 1;
		else
			upstream_unwatch(us);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if ((us = upstream_usock(s)) == NULL)
		return -1;
	us->parked = 0;
	if (us->kind == kind)
		return 0;
	upstream_unwatch(us);
	if (event_assign(&us->ev, up_base, s, kind, upstream_event_cb, us) != 0 ||
	    event_add(&us->ev, NULL) != 0)
		return -1;
	us->kind = kind;
	return 0;
}

/* CURLOPT_WRITEFUNCTION: append to the body, refusing anything past the cap. */
static size_t
upstream_write_fn(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct xfer	*x = userp;
	size_t		 n = size * nmemb, ncap;
	char		*nbuf;

	if (n > UPSTREAM_BODY_MAX - x->len) {
		x->too_large = 1;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		ncap = x->cap == 0 ? 512 : x->cap;	/* tcache-sized: replies are ~200 B */
		while (ncap < x->len + n + 1)
			ncap *= 2;
		if ((nbuf = malloc(ncap)) == NULL)
			return 0;
		if (x->buf != NULL) {
			memcpy(nbuf, x->buf, x->len);
			if (x->flags & UPSTREAM_SECRET)
				explicit_bzero(x->buf, x->cap);
			free(x->buf);
		}
		x->buf = nbuf;
		x->cap = ncap;
	}
	memcpy(x->buf + x->len, ptr, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

/* Free a transfer, wiping its Authorization header and, if secret, its body. */
static void
upstream_xfer_free(struct xfer *x)
{
	if (x->auth_line != NULL) {
		explicit_bzero(x->auth_line, strlen(x->auth_line));
		free(x->auth_line);
	}
	if (x->buf != NULL && (x->flags & UPSTREAM_SECRET))
		explicit_bzero(x->buf, x->cap);
	free(x->buf);
	if (x->body != NULL)
		explicit_bzero(x->body, x->body_len);
	if (x->easy != NULL) {
		if (up_running && up_nidle < UPSTREAM_IDLE_MAX) {
			/*
			 * Kept configured (no curl_easy_reset): upstream_start sets every
			 * per-request option again.  Nothing may point at x any more.
			 */
			curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
			curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, NULL);
			curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, NULL);
			curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
			curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL);
			up_idle[up_nidle++] = x->easy;
		} else
			curl_easy_cleanup(x->easy);
	}
	free(x);
}

/* Record a failure for the health view. */
static void
upstream_note_error(const char *what, const char *detail)
{
	snprintf(up_last_error, sizeof(up_last_error), "%s: %s", what, detail);
}

/* How many bytes of x's path go into "<method> <path>" for logs. */
static int
upstream_what_len(const struct xfer *x)
{
	int	n = UPSTREAM_WHAT_MAX - (int)strlen(x->method) - 1;

	return n > 0 ? n : 0;
}

/* Record a failure of x for the health view. */
static void
upstream_note_xfer_error(const struct xfer *x, const char *detail)
{
	char	what[UPSTREAM_WHAT_MAX + 1];

	snprintf(what, sizeof(what), "%s %s", x->method, x->path);
	upstream_note_error(what, detail);
}

static void	upstream_pump(void);
static int	upstream_start(struct xfer *);
static void	upstream_deliver(struct xfer *, CURLcode);

/* Take x out of the queue, the held list or curl, wherever it is. */
static void
upstream_detach(struct xfer *x)
{
	if (x->queued) {
		TAILQ_REMOVE(&up_queue, x, qentry);
		x->queued = 0;
	} else if (x->held) {
		TAILQ_REMOVE(&up_held, x, qentry);
		x->held = 0;
	} else {
		curl_multi_remove_handle(up_multi, x->easy);
		up_active--;
	}
}

/*
 * Send x again with the current token (its easy handle is kept and out of curl): now
 * if a connection is free, else first in the queue.  The old Authorization line and
 * whatever body arrived are wiped.
 */
static void
upstream_resend(struct xfer *x)
{
	log_info("upstream %s %.*s -> 401 to a token since replaced; sending it again "
	    "with the current one", x->method, upstream_what_len(x), x->path);
	x->resent = 1;
	if (x->auth_line != NULL) {
		explicit_bzero(x->auth_line, strlen(x->auth_line));
		free(x->auth_line);
		x->auth_line = NULL;
		x->auth.data = NULL;
	}
	if (x->buf != NULL)
		explicit_bzero(x->buf, x->cap);
	x->len = 0;
	x->too_large = 0;
	x->errbuf[0] = '\0';
	if (up_active < up_max_active && TAILQ_EMPTY(&up_queue)) {
		if (upstream_start(x) != OCTO_OK)
			upstream_deliver(x, CURLE_FAILED_INIT);
		return;
	}
	x->queued = 1;
	TAILQ_INSERT_HEAD(&up_queue, x, qentry);
}

/* The last rotation ended: send again or deliver the 401s it held back. */
static void
upstream_release_held(void)
{
	struct xfer	*x;

	while (up_rotations == 0 && (x = TAILQ_FIRST(&up_held)) != NULL) {
		TAILQ_REMOVE(&up_held, x, qentry);
		x->held = 0;
		if (x->gen != token_generation())
			upstream_resend(x);
		else
			upstream_deliver(x, CURLE_OK);
	}
}

/*
 * A transfer ended with curl result cr.  A 401 that may only mean the daemon's own
 * rotation replaced the token is sent again or held (see up_held); anything else is
 * reported.
 */
static void
upstream_finish(struct xfer *x, CURLcode cr)
{
	long	status = 0;

	upstream_detach(x);
	if (cr == CURLE_OK && (x->flags & UPSTREAM_AUTH) && !x->resent &&
	    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status == 401) {
		if (x->gen != token_generation()) {
			upstream_resend(x);
			return;
		}
		if (up_rotations > 0 && !x->rotation) {
			log_info("upstream %s %.*s -> 401 during a token rotation; held "
			    "until it ends", x->method, upstream_what_len(x), x->path);
			x->held = 1;
			TAILQ_INSERT_TAIL(&up_held, x, qentry);
			return;
		}
	}
	upstream_deliver(x, cr);
}

/*
 * Did any of the request leave for the server?  A transfer that timed out before a
 * byte of its request was sent (still resolving or connecting) cannot have been acted
 * on: it is unavailable, not a timeout whose outcome is unknown.
 */
static int
upstream_sent(struct xfer *x)
{
	long n = 0;

	return curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &n) != CURLE_OK || n > 0;
}

/* Report x's outcome (it is out of curl and every list but up_xfers) and free it. */
static void
upstream_deliver(struct xfer *x, CURLcode cr)
{
	struct upstream_result	res;
	curl_off_t		retry = -1;
	char			msg[64];
	int			rotation = x->rotation;

	memset(&res, 0, sizeof(res));
	res.retry_after_ms = -1;
	TAILQ_REMOVE(&up_xfers, x, entry);
	up_nxfers--;
	if (rotation)
		up_rotations--;

	if (cr == CURLE_OK) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.status);
		if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK &&
		    retry > 0 && retry < INT64_MAX / 1000)
			res.retry_after_ms = (int64_t)retry * 1000;
		res.body = x->buf != NULL ? x->buf : "";
		res.len = x->len;
		up_reachable = 1;
		if (x->flags & UPSTREAM_AUTH) {
			if (res.status == 401)
				up_auth_ok = 0;
			else if (res.status >= 200 && res.status < 300)
				up_auth_ok = 1;
		}
		if (res.status >= 400) {
			snprintf(msg, sizeof(msg), "HTTP %ld", res.status);
			upstream_note_xfer_error(x, msg);
		}
		log_debug("upstream %s %.*s -> %ld (%zu bytes)", x->method,
		    upstream_what_len(x), x->path, res.status, x->len);
	} else {
		if (x->too_large) {
			res.err = OCTO_ERR_BAD_UPSTREAM_RESPONSE;
			res.errmsg = "response body larger than 1 MiB";
			up_reachable = 1;
		} else {
			res.err = cr == CURLE_OPERATION_TIMEDOUT && upstream_sent(x) ?
			    OCTO_ERR_TIMEOUT : OCTO_ERR_UNAVAILABLE;
			res.errmsg = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(cr);
			up_reachable = 0;
			/* libcurl may quote the server (a header, a certificate name). */
			if (redact_find(res.errmsg, strlen(res.errmsg)))
				res.errmsg = "transfer failed: " REDACT_TEXT;
		}
		upstream_note_xfer_error(x, res.errmsg);
		log_info("upstream %s %.*s failed: %s", x->method, upstream_what_len(x),
		    x->path, res.errmsg);
	}
	x->cb(&res, x->arg);
	upstream_xfer_free(x);
	/* The rotation's callback has swapped the token in by now. */
	if (rotation)
		upstream_release_held();
	upstream_pump();
}

/* Hand queued transfers to curl while connections are free. */
static void
upstream_pump(void)
{
	struct xfer	*x;
	int		 rc;

	while (up_running && up_active < up_max_active &&
	    (x = TAILQ_FIRST(&up_queue)) != NULL) {
		rc = upstream_start(x);
		if (rc == OCTO_OK) {
			TAILQ_REMOVE(&up_queue, x, qentry);
			x->queued = 0;
			continue;
		}
		/* Still queued and not in curl: finish it as a failed transfer. */
		upstream_finish(x, CURLE_FAILED_INIT);
		return;
	}
}

/* Collect finished transfers. */
static void
upstream_check_done(void)
{
	CURLMsg		*m;
	struct xfer	*x;
	CURLcode	 cr;
	int		 left;

	while ((m = curl_multi_info_read(up_multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		cr = m->data.result;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x) !=
		    CURLE_OK || x == NULL)
			continue;
		upstream_finish(x, cr);
	}
}

/*
 * Every transfer in flight holds about 100 KiB of buffers from libcurl and OpenSSL
 * (download buffer, upload buffer, TLS records), all freed when it ends.  With glibc's
 * default trim threshold (128 KiB) a busy pool gave that memory back to the kernel after
 * each wave of answers and faulted it in again for the next: measured, 0.15 page faults
 * per request over HTTP and 0.5 over HTTPS with 32 connections, against none for the
 * direct libcurl loop.  Keep free at the top of the heap what the whole pool needs at
 * once, and at least 1 MiB.
 */
static void
upstream_keep_heap(long max)
{
#ifdef M_TRIM_THRESHOLD
	long keep = max * 128 * 1024;

	if (keep < 1024 * 1024)
		keep = 1024 * 1024;
	if (mallopt(M_TRIM_THRESHOLD, (int)keep) != 1)
		log_debug("upstream: mallopt(M_TRIM_THRESHOLD) refused");
#else
	(void)max;
#endif
}

/* Set up the pool. */
int
upstream_init(struct event_base *base, const struct config *cfg)
{
	const char	*url = cfg->base_url != NULL ? cfg->base_url :
			    "https://api.octostore.io";
	size_t		 n;
	long		 max = cfg->upstream_max_connections > 0 ?
			    (long)cfg->upstream_max_connections : 8;

	if (upstream_check_url(url, cfg->allow_insecure_http) != 0)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("libcurl initialisation failed");
		return -1;
	}
	if ((up_base_url = strdup(url)) == NULL)
		return -1;
	n = strlen(up_base_url);
	while (n > 0 && up_base_url[n - 1] == '/')
		up_base_url[--n] = '\0';
	up_base_len = n;
	if (cfg->ca_file != NULL && upstream_check_ca_file(cfg->ca_file) != 0)
		return -1;
	if (cfg->ca_file != NULL && (up_ca_file = strdup(cfg->ca_file)) == NULL)
		return -1;
	up_http2 = cfg->http2;
	up_connect_ms = cfg->connect_timeout_ms > 0 ? (long)cfg->connect_timeout_ms : 5000;
	up_timeout_ms = cfg->request_timeout_ms > 0 ? (long)cfg->request_timeout_ms : 10000;

	up_base = base;
	if ((up_multi = curl_multi_init()) == NULL ||
	    (up_timer = evtimer_new(base, upstream_timer_cb, NULL)) == NULL ||
	    upstream_hdrs_init() != 0) {
		log_error("cannot create the upstream pool");
		return -1;
	}
	curl_multi_setopt(up_multi, CURLMOPT_SOCKETFUNCTION, upstream_socket_fn);
	curl_multi_setopt(up_multi, CURLMOPT_TIMERFUNCTION, upstream_timer_fn);
	curl_multi_setopt(up_multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max);
	upstream_keep_heap(max);
	/* HTTP/2 multiplexes streams on one connection: let curl queue those. */
	up_max_active = up_http2 ? (unsigned)max * 100 : (unsigned)max;
	curl_multi_setopt(up_multi, CURLMOPT_MAX_HOST_CONNECTIONS, max);
	curl_multi_setopt(up_multi, CURLMOPT_MAXCONNECTS, max);
	curl_multi_setopt(up_multi, CURLMOPT_PIPELINING,
	    up_http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
	up_running = 1;
	log_info("upstream %s: up to %ld connections, %s, connect timeout %ld ms, "
	    "request timeout %ld ms", up_base_url, max, up_http2 ? "HTTP/2" : "HTTP/1.1",
	    up_connect_ms, up_timeout_ms);
	return 0;
}

/* Fail pending transfers with shutting_down and release everything. */
void
upstream_shutdown(void)
{
	struct upstream_result	 res;
	struct xfer		*x;
	size_t			 n;

	if (up_multi == NULL)
		return;
	up_running = 0;
	memset(&res, 0, sizeof(res));
	res.err = OCTO_ERR_SHUTTING_DOWN;
	res.retry_after_ms = -1;
	res.errmsg = "daemon is shutting down";
	while ((x = TAILQ_FIRST(&up_xfers)) != NULL) {
		upstream_detach(x);
		TAILQ_REMOVE(&up_xfers, x, entry);
		up_nxfers--;
		if (x->rotation)
			up_rotations--;
		x->cb(&res, x->arg);
		upstream_xfer_free(x);
	}
	while (up_nidle > 0)
		curl_easy_cleanup(up_idle[--up_nidle]);
	curl_slist_free_all(up_hdrs[0]);
	curl_slist_free_all(up_hdrs[1]);
	up_hdrs[0] = up_hdrs[1] = NULL;
	curl_multi_cleanup(up_multi);	/* closes connections: REMOVE for each socket */
	up_multi = NULL;
	for (n = 0; n < up_nsocks; n++)
		upstream_usock_free((curl_socket_t)n);
	free(up_socks);
	up_socks = NULL;
	up_nsocks = 0;
	if (up_timer != NULL)
		event_free(up_timer);
	up_timer = NULL;
	free(up_base_url);
	free(up_ca_file);
	up_base_url = up_ca_file = NULL;
	up_base_len = 0;
	curl_global_cleanup();
}

/* The shared header lists; 0 or -1. */
static int
upstream_hdrs_init(void)
{
	const char		*fixed[] = { "Accept: application/json", "Expect:" };
	struct curl_slist	*h;
	size_t			 i;
	int			 body;

	for (body = 0; body < 2; body++) {
		for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
			if ((h = curl_slist_append(up_hdrs[body], fixed[i])) == NULL)
				return -1;
			up_hdrs[body] = h;
		}
		/* "Content-Type:" with no value stops curl's form type on a body-less POST. */
		if ((h = curl_slist_append(up_hdrs[body], body ?
		    "Content-Type: application/json" : "Content-Type:")) == NULL)
			return -1;
		up_hdrs[body] = h;
	}
	return 0;
}

/* The header list for x: the shared one, behind x's own Authorization line if any. */
static int
upstream_headers(struct xfer *x, int body)
{
	static const char	 prefix[] = "Authorization: Bearer ";
	const char		*tok;
	size_t			 len;

	if (!(x->flags & UPSTREAM_AUTH))
		return OCTO_OK;
	if ((tok = token_get(&len)) == NULL)
		return OCTO_ERR_AUTHENTICATION_REQUIRED;
	if ((x->auth_line = malloc(sizeof(prefix) + len)) == NULL)
		return OCTO_ERR_NOMEM;
	memcpy(x->auth_line, prefix, sizeof(prefix) - 1);
	memcpy(x->auth_line + sizeof(prefix) - 1, tok, len);
	x->auth_line[sizeof(prefix) - 1 + len] = '\0';
	x->gen = token_generation();
	x->auth.data = x->auth_line;
	x->auth.next = up_hdrs[body];
	return OCTO_OK;
}

/* A new easy handle with the options every request shares; NULL when out of memory. */
static CURL *
upstream_easy_new(void)
{
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		return NULL;
	/* Never CURLOPT_VERBOSE or a debug callback: they would print the token. */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, up_connect_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, up_timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "octostored/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, up_http2 ? CURL_HTTP_VERSION_2TLS :
	    CURL_HTTP_VERSION_1_1);
	if (up_http2)
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/*
	 * Over TLS, libcurl copies each request into an upload buffer that it allocates
	 * for every transfer, 64 KiB by default.  A request here is a few KiB (a longer
	 * one goes out in pieces): take the smallest buffer libcurl allows.
	 */
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	/*
	 * ca_file replaces the system trust store.  Debian's libcurl also has a
	 * built-in CAPATH (/etc/ssl/certs), which CAINFO alone would only add to.
	 */
	if (up_ca_file != NULL && (curl_easy_setopt(e, CURLOPT_CAINFO, up_ca_file) !=
	    CURLE_OK || curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK)) {
		curl_easy_cleanup(e);
		return NULL;
	}
	/* A proxy from the environment must not carry a clear-text token off the host. */
	if (up_plain_http)
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, upstream_write_fn);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, upstream_open_fn);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, upstream_close_fn);
	return e;
}

/*
 * Give x to curl: an easy handle (an idle one keeps the shared options), the shared
 * header list for its kind, and the per-request options, every one of them set again
 * (method, body, URL, x's pointers).  Returns OCTO_OK or an error; x keeps what it got.
 */
static int
upstream_start(struct xfer *x)
{
	CURL	*e;
	int	 rc = OCTO_ERR_NOMEM;

	/* A transfer sent again keeps its handle. */
	if (x->easy == NULL) {
		if (up_nidle > 0)
			x->easy = up_idle[--up_nidle];
		else if ((x->easy = upstream_easy_new()) == NULL)
			return rc;
	}
	e = x->easy;

	if ((rc = upstream_headers(x, x->body != NULL)) != OCTO_OK)
		return rc;
	if (curl_easy_setopt(e, CURLOPT_URL, x->url) != CURLE_OK)
		return OCTO_ERR_NOMEM;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->auth_line != NULL ? &x->auth :
	    up_hdrs[x->body != NULL]);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
	if (strcmp(x->method, "POST") == 0) {
		/*
		 * A body-less POST still sends Content-Length: 0.  curl reads the body
		 * from x, which outlives the transfer, so it need not copy it.
		 */
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)x->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body != NULL ? x->body : "");
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		if (strcmp(x->method, "GET") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);	/* DELETE */
	}

	if (curl_multi_add_handle(up_multi, e) != CURLM_OK)
		return OCTO_ERR_INTERNAL;
	up_active++;
	return OCTO_OK;
}

/*
 * Start a request, or queue it (as text: no curl handle yet) while connections are
 * busy.  The text is copied once, behind x, and stays there until x is freed.
 */
int
upstream_request(const char *method, const char *path, const char *body, int flags,
    upstream_cb cb, void *arg)
{
	struct xfer	*x;
	size_t		 mlen = strlen(method), plen = strlen(path);
	size_t		 blen = body != NULL ? strlen(body) : 0;
	char		*p;
	int		 rc;

	if (!up_running)
		return OCTO_ERR_SHUTTING_DOWN;
	if (up_nxfers >= UPSTREAM_PENDING_MAX)
		return OCTO_ERR_BUSY;
	if ((flags & UPSTREAM_AUTH) && token_get(NULL) == NULL)
		return OCTO_ERR_AUTHENTICATION_REQUIRED;
	if ((x = calloc(1, sizeof(*x) + up_base_len + plen + 1 + mlen + 1 +
	    (body != NULL ? blen + 1 : 0))) == NULL)
		return OCTO_ERR_NOMEM;
	x->flags = flags;
	x->cb = cb;
	x->arg = arg;
	p = x->url = (char *)(x + 1);
	memcpy(p, up_base_url, up_base_len);
	p += up_base_len;
	x->path = p;
	memcpy(p, path, plen + 1);
	p += plen + 1;
	x->method = p;
	memcpy(p, method, mlen + 1);
	p += mlen + 1;
	if (body != NULL) {
		x->body = p;
		x->body_len = blen;
		memcpy(p, body, blen + 1);
	}
	if (up_active < up_max_active && TAILQ_EMPTY(&up_queue)) {
		if ((rc = upstream_start(x)) != OCTO_OK) {
			upstream_xfer_free(x);
			return rc;
		}
	} else {
		x->queued = 1;
		TAILQ_INSERT_TAIL(&up_queue, x, qentry);
	}
	TAILQ_INSERT_TAIL(&up_xfers, x, entry);
	up_nxfers++;
	if (flags & UPSTREAM_ROTATION) {
		x->rotation = 1;
		up_rotations++;
	}
	return OCTO_OK;
}

/* The daemon's view of the server. */
void
upstream_view(struct upstream_view *v)
{
	v->reachable = up_reachable;
	v->auth_ok = up_auth_ok;
	v->last_error = up_last_error[0] != '\0' ? up_last_error : NULL;
	v->base_url = up_base_url;
}

/* Transfers in progress. */
unsigned
upstream_pending(void)
{
	return up_nxfers;
}
