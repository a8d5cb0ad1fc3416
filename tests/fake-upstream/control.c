/* control.c - /_fake/ control endpoint: faults, latency, forced expiry, stats. */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "fake.h"

#define CONTROL_OVERSIZE	(2 * 1024 * 1024)

enum control_mode {
	MODE_ERROR,
	MODE_CLOSE,
	MODE_MALFORMED,
	MODE_OVERSIZE,
	MODE_HANG
};

static const char *const control_modes[] = {
	[MODE_ERROR] = "error",
	[MODE_CLOSE] = "close",
	[MODE_MALFORMED] = "malformed",
	[MODE_OVERSIZE] = "oversize",
	[MODE_HANG] = "hang",
};

/* One injected fault rule; the first matching rule applies. */
struct fault {
	TAILQ_ENTRY(fault)	 entry;
	enum control_mode	 mode;
	long long		 count;		/* -1: until cleared */
	char			*prefix;	/* raw path prefix, or NULL */
	int			 status;
	char			*code;
	long long		 retry_after_ms;	/* -1: none */
	char			*body;		/* raw answer instead of an Error */
	char			*details;	/* Error details, or NULL */
};
TAILQ_HEAD(faults, fault);

/* A request held back: delayed by latency (ev set) or hung forever. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	struct fake_req		*fr;
	struct event		*ev;
};
TAILQ_HEAD(pendings, pending);

static const char *const control_ep_names[FAKE_EP__MAX] = {
	[FAKE_EP_HEALTH] = "health",
	[FAKE_EP_ACQUIRE] = "acquire",
	[FAKE_EP_RELEASE] = "release",
	[FAKE_EP_RENEW] = "renew",
	[FAKE_EP_STATUS] = "status",
	[FAKE_EP_LIST] = "list",
	[FAKE_EP_SESSION_CREATE] = "session_create",
	[FAKE_EP_KEEPALIVE] = "keepalive",
	[FAKE_EP_SESSION_STATUS] = "session_status",
	[FAKE_EP_SESSION_DELETE] = "session_delete",
	[FAKE_EP_ROTATE] = "rotate",
	[FAKE_EP_OTHER] = "other",
};

static struct faults	 control_faults = TAILQ_HEAD_INITIALIZER(control_faults);
static struct pendings	 control_pending = TAILQ_HEAD_INITIALIZER(control_pending);
static long long	 control_latency_ms;
static uint64_t		 control_connections;
static uint64_t		 control_counts[FAKE_EP__MAX];
static char		*control_big;
static char		 control_ua[256];	/* last API request's User-Agent */
static uint64_t		 control_no_length;	/* POSTs refused with 411 */
static int		 control_reflect;	/* CONTROL_REFLECT_* */

/* Prepare the oversize body once. */
void
control_init(void)
{
	if ((control_big = malloc(CONTROL_OVERSIZE)) == NULL)
		abort();
	memset(control_big, 'x', CONTROL_OVERSIZE);
	memcpy(control_big, "{\"status\":\"ok\",\"padding\":\"", 26);
	memcpy(control_big + CONTROL_OVERSIZE - 2, "\"}", 2);
}

/* Count one accepted TCP connection. */
void
control_connection(void)
{
	control_connections++;
}

/* Count one API request. */
void
control_count(enum fake_ep ep)
{
	control_counts[ep]++;
}

/* Remember the User-Agent of an API request ("" when it had none), cut to fit. */
void
control_user_agent(const char *ua)
{
	snprintf(control_ua, sizeof(control_ua), "%s", ua != NULL ? ua : "");
}

/* Count one POST refused for its missing Content-Length. */
void
control_length_required(void)
{
	control_no_length++;
}

/* Timer: the delayed request goes on. */
static void
control_delay_done(evutil_socket_t fd, short events, void *arg)
{
	struct pending	*p = arg;
	struct fake_req	*fr = p->fr;

	(void)fd;
	(void)events;
	TAILQ_REMOVE(&control_pending, p, entry);
	event_free(p->ev);
	free(p);
	route_serve(fr);
}

/* Hold fr back (ms < 0: forever). */
static void
control_hold(struct fake_req *fr, long long ms)
{
	struct pending	*p;
	struct timeval	 tv;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		abort();
	p->fr = fr;
	if (ms >= 0) {
		p->ev = evtimer_new(fake_base(), control_delay_done, p);
		if (p->ev == NULL)
			abort();
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(p->ev, &tv);
	}
	TAILQ_INSERT_TAIL(&control_pending, p, entry);
}

/* Delay fr if latency is set: returns CONTROL_KEPT, else CONTROL_PASS. */
int
control_latency(struct fake_req *fr)
{
	if (control_latency_ms <= 0)
		return CONTROL_PASS;
	control_hold(fr, control_latency_ms);
	return CONTROL_KEPT;
}

/* Once the partial body is flushed, drop the connection. */
static void
control_close_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)arg;
	evhttp_connection_free(evcon);
}

/* Unlink and free a fault rule. */
static void
control_fault_free(struct fault *f)
{
	TAILQ_REMOVE(&control_faults, f, entry);
	free(f->prefix);
	free(f->code);
	free(f->body);
	free(f->details);
	free(f);
}

/* Apply the first matching fault rule to fr; see CONTROL_* for the result. */
int
control_fault(struct fake_req *fr)
{
	struct fault		*f;
	struct evkeyvalq	*h;
	enum control_mode	 mode;
	struct evbuffer		*b;
	static const char	 partial[] = "{\"status\":\"acquired\",\"lease";
	static const char	 bad[] = "{\"status\":\"acquired\",\"lease_id\":";

	TAILQ_FOREACH(f, &control_faults, entry) {
		if (f->prefix == NULL ||
		    strncmp(fr->path, f->prefix, strlen(f->prefix)) == 0)
			break;
	}
	if (f == NULL)
		return CONTROL_PASS;
	mode = f->mode;
	if (fake_verbose())
		fprintf(stderr, "octofake: %s %s -> fault %s\n", fr->method,
		    fr->path, control_modes[mode]);

	h = evhttp_request_get_output_headers(fr->req);
	switch (mode) {
	case MODE_ERROR:
		if (f->body != NULL) {
			evhttp_add_header(h, "X-Request-Id", fr->request_id);
			evhttp_add_header(h, "Content-Type", "application/json");
			evbuffer_add(evhttp_request_get_output_buffer(fr->req),
			    f->body, strlen(f->body));
			evhttp_send_reply(fr->req, f->status, "Fault", NULL);
			break;
		}
		http_reply_error(fr, f->status, f->code, f->details,
		    f->retry_after_ms);
		break;
	case MODE_CLOSE:
		if (evhttp_request_get_connection(fr->req) == NULL) {
			/* The client left while delayed: this frees the request. */
			evhttp_send_reply(fr->req, 200, "OK", NULL);
			break;
		}
		evhttp_add_header(h, "X-Request-Id", fr->request_id);
		evhttp_add_header(h, "Content-Type", "application/json");
		evhttp_add_header(h, "Content-Length", "512");
		evhttp_send_reply_start(fr->req, 200, "OK");
		if ((b = evbuffer_new()) == NULL)
			abort();
		evbuffer_add(b, partial, sizeof(partial) - 1);
		evhttp_send_reply_chunk_with_cb(fr->req, b, control_close_cb,
		    NULL);
		evbuffer_free(b);
		break;
	case MODE_MALFORMED:
		evhttp_add_header(h, "X-Request-Id", fr->request_id);
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(fr->req), bad,
		    sizeof(bad) - 1);
		evhttp_send_reply(fr->req, 200, "OK", NULL);
		break;
	case MODE_OVERSIZE:
		evhttp_add_header(h, "X-Request-Id", fr->request_id);
		evhttp_add_header(h, "Content-Type", "application/json");
		/* A copy: a reference could outlive control_big at exit. */
		evbuffer_add(evhttp_request_get_output_buffer(fr->req),
		    control_big, CONTROL_OVERSIZE);
		evhttp_send_reply(fr->req, 200, "OK", NULL);
		break;
	case MODE_HANG:
		control_hold(fr, -1);
		break;
	}
	if (f->count > 0 && --f->count == 0)
		control_fault_free(f);
	return mode == MODE_HANG ? CONTROL_KEPT : CONTROL_DONE;
}

/* details repeated n times into a new string (NULL if details is NULL). */
static char *
control_repeat(const char *details, long long n)
{
	size_t	 len, i;
	char	*s;

	if (details == NULL)
		return NULL;
	len = strlen(details);
	if ((s = malloc(len * (size_t)n + 1)) == NULL)
		abort();
	for (i = 0; i < (size_t)n; i++)
		memcpy(s + i * len, details, len);
	s[len * (size_t)n] = '\0';
	return s;
}

/* Parse a POST /_fake/fault body into a rule and/or the latency. */
static void
control_add_fault(struct fake_req *fr)
{
	struct fault	*f;
	json_t		*body;
	const char	*mode_s, *code, *prefix, *raw, *details;
	long long	 lat, status, count, retry, repeat;
	size_t		 n = 0, i;

	if (http_body(fr, &body) != 0)
		return;
	if (http_get_int(fr, body, "latency_ms", -1, &lat) != 0 ||
	    http_get_string(fr, body, "mode", &mode_s) != 0 ||
	    http_get_int(fr, body, "status", -1, &status) != 0 ||
	    http_get_int(fr, body, "count", 1, &count) != 0 ||
	    http_get_int(fr, body, "retry_after_ms", -1, &retry) != 0 ||
	    http_get_string(fr, body, "code", &code) != 0 ||
	    http_get_string(fr, body, "path_prefix", &prefix) != 0 ||
	    http_get_string(fr, body, "body", &raw) != 0 ||
	    http_get_string(fr, body, "details", &details) != 0 ||
	    http_get_int(fr, body, "details_repeat", 1, &repeat) != 0)
		goto out;
	/* A raw body may come with any status, 200 included. */
	if (lat < -1 || (status != -1 && (status < (raw != NULL ? 200 : 400) ||
	    status > 599)) || count == 0 || count < -1 || retry < -1 ||
	    repeat < 1 || repeat > 1024 * 1024 ||
	    (details != NULL && strlen(details) * (size_t)repeat > 4 * 1024 * 1024) ||
	    ((raw != NULL || details != NULL) && mode_s != NULL &&
	    strcmp(mode_s, "error") != 0) ||
	    (lat == -1 && mode_s == NULL && status == -1 && raw == NULL)) {
		http_reply_error(fr, 400, "invalid_input", "Bad fault", -1);
		goto out;
	}
	for (i = 0; mode_s != NULL && i < nitems(control_modes); i++) {
		if (strcmp(mode_s, control_modes[i]) == 0)
			break;
	}
	if (i == nitems(control_modes)) {
		http_reply_error(fr, 400, "invalid_input", "Unknown mode", -1);
		goto out;
	}
	if (lat != -1)
		control_latency_ms = lat;
	if (mode_s != NULL || status != -1 || raw != NULL) {
		if ((f = calloc(1, sizeof(*f))) == NULL)
			abort();
		f->mode = mode_s != NULL ? (enum control_mode)i : MODE_ERROR;
		f->count = count;
		f->status = status != -1 ? (int)status : 503;
		f->code = strdup(code != NULL ? code :
		    http_default_code(f->status));
		f->prefix = prefix != NULL ? strdup(prefix) : NULL;
		f->body = raw != NULL ? strdup(raw) : NULL;
		f->details = control_repeat(details, repeat);
		if (f->code == NULL || (prefix != NULL && f->prefix == NULL) ||
		    (raw != NULL && f->body == NULL))
			abort();
		f->retry_after_ms = retry;
		TAILQ_INSERT_TAIL(&control_faults, f, entry);
	}
	TAILQ_FOREACH(f, &control_faults, entry)
		n++;
	http_reply(fr, 200, json_pack("{s:b, s:I, s:I}", "ok", 1, "faults",
	    (json_int_t)n, "latency_ms", (json_int_t)control_latency_ms));
out:
	json_decref(body);
}

/* POST /_fake/expire {"name"} or /_fake/expire_session {"session_id"}. */
static void
control_expire(struct fake_req *fr, int session)
{
	json_t		*body;
	const char	*key = session ? "session_id" : "name", *v;
	int		 r;

	if (http_body(fr, &body) != 0)
		return;
	if (http_get_string(fr, body, key, &v) != 0)
		goto out;
	if (v == NULL) {
		http_reply_error(fr, 422, "invalid_input", key, -1);
		goto out;
	}
	r = session ? sessions_expire(v) : locks_expire(v);
	if (r != 0) {
		http_reply_error(fr, 404, "not_found", session ?
		    "No such session" : "Lock not held", -1);
	} else
		http_reply(fr, 200, json_pack("{s:b}", "ok", 1));
out:
	json_decref(body);
}

/* POST /_fake/token_state {"token"}: current, previous or unknown. */
static void
control_token_state(struct fake_req *fr)
{
	json_t		*body;
	const char	*v;

	if (http_body(fr, &body) != 0)
		return;
	if (http_get_string(fr, body, "token", &v) != 0)
		goto out;
	if (v == NULL)
		http_reply_error(fr, 422, "invalid_input", "token", -1);
	else
		http_reply(fr, 200, json_pack("{s:s}", "state", auth_token_state(v)));
out:
	json_decref(body);
}

/* The reflect mode, for http_reply. */
int
control_reflect_mode(void)
{
	return control_reflect;
}

/* POST /_fake/reflect {"mode": "whole" | "piece" | "off"}. */
static void
control_set_reflect(struct fake_req *fr)
{
	json_t		*body;
	const char	*v;

	if (http_body(fr, &body) != 0)
		return;
	if (http_get_string(fr, body, "mode", &v) != 0)
		goto out;
	if (v != NULL && strcmp(v, "whole") == 0)
		control_reflect = CONTROL_REFLECT_WHOLE;
	else if (v != NULL && strcmp(v, "piece") == 0)
		control_reflect = CONTROL_REFLECT_PIECE;
	else if (v != NULL && strcmp(v, "off") == 0)
		control_reflect = CONTROL_REFLECT_OFF;
	else {
		http_reply_error(fr, 422, "invalid_input", "mode", -1);
		goto out;
	}
	http_reply(fr, 200, json_pack("{s:b}", "ok", 1));
out:
	json_decref(body);
}

/* GET /_fake/stats. */
static void
control_stats(struct fake_req *fr)
{
	json_t		*req;
	uint64_t	 total = 0;
	int		 i;

	req = json_object();
	for (i = 0; i < FAKE_EP__MAX; i++) {
		json_object_set_new(req, control_ep_names[i],
		    json_integer((json_int_t)control_counts[i]));
		total += control_counts[i];
	}
	http_reply(fr, 200, json_pack("{s:I, s:o, s:I, s:I, s:I, s:s, s:I}",
	    "connections_accepted", (json_int_t)control_connections,
	    "requests", req, "requests_total", (json_int_t)total,
	    "locks_held", (json_int_t)locks_held(),
	    "sessions", (json_int_t)sessions_active(),
	    "last_user_agent", control_ua,
	    "length_required", (json_int_t)control_no_length));
}

/* Drop every fault rule and the latency; held requests stay held. */
static void
control_clear(void)
{
	while (!TAILQ_EMPTY(&control_faults))
		control_fault_free(TAILQ_FIRST(&control_faults));
	control_latency_ms = 0;
}

/* Serve a /_fake/ request: no auth, never faulted, never counted. */
void
control_dispatch(struct evhttp_request *req, const char *path)
{
	struct fake_req	fr;
	int		post;

	memset(&fr, 0, sizeof(fr));
	fr.req = req;
	fr.path = (char *)path;
	post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
	fr.method = post ? "POST" : "GET";
	memcpy(fr.request_id, "req_", 4);
	http_random_hex(fr.request_id + 4, 16);

	if (post && strcmp(path, "/_fake/fault") == 0)
		control_add_fault(&fr);
	else if (post && strcmp(path, "/_fake/clear") == 0) {
		control_clear();
		http_reply(&fr, 200, json_pack("{s:b}", "ok", 1));
	} else if (post && strcmp(path, "/_fake/expire") == 0)
		control_expire(&fr, 0);
	else if (post && strcmp(path, "/_fake/expire_session") == 0)
		control_expire(&fr, 1);
	else if (post && strcmp(path, "/_fake/token_state") == 0)
		control_token_state(&fr);
	else if (post && strcmp(path, "/_fake/reflect") == 0)
		control_set_reflect(&fr);
	else if (!post && strcmp(path, "/_fake/stats") == 0)
		control_stats(&fr);
	else
		http_reply_error(&fr, 404, "not_found", "No such control", -1);
}

/*
 * Shutdown: answer every held request with 503 so that libevent frees it
 * (a request whose connection already closed is freed by the reply itself).
 */
void
control_free(void)
{
	struct pending	*p;

	control_clear();
	while ((p = TAILQ_FIRST(&control_pending)) != NULL) {
		TAILQ_REMOVE(&control_pending, p, entry);
		if (p->ev != NULL)
			event_free(p->ev);
		evhttp_send_error(p->fr->req, 503, NULL);
		route_req_free(p->fr);
		free(p);
	}
	free(control_big);
	control_big = NULL;
}
