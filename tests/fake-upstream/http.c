/* http.c - clock, identifiers and JSON replies shared by the fake's handlers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "fake.h"

/* Human-readable summaries for the Error schema's codes. */
static const struct {
	const char	*code;
	const char	*error;
} http_errors[] = {
	{ "authentication_required", "Authorization header required" },
	{ "authentication_failed", "Invalid token" },
	{ "forbidden", "Forbidden" },
	{ "invalid_input", "Invalid input" },
	{ "invalid_ttl", "Invalid TTL" },
	{ "invalid_lock_name", "Invalid lock name" },
	{ "not_found", "Not found" },
	{ "session_expired", "Session expired" },
	{ "lease_not_current", "Lease is not current" },
	{ "conflict", "Conflict" },
	{ "capacity_exceeded", "Capacity exceeded" },
	{ "lock_limit_exceeded", "Lock limit exceeded" },
	{ "rate_limited", "Rate limit exceeded" },
	{ "upstream_unavailable", "Upstream unavailable" },
	{ "internal_error", "Internal server error" },
};

/* Monotonic milliseconds: all expiry arithmetic uses this clock. */
uint64_t
http_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* RFC 3339 UTC wall-clock time of a monotonic instant. */
void
http_time(uint64_t mono_ms, char *buf, size_t len)
{
	struct timespec	ts;
	struct tm	tm;
	int64_t		wall_ms;
	time_t		t;

	clock_gettime(CLOCK_REALTIME, &ts);
	wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	wall_ms += (int64_t)mono_ms - (int64_t)http_now_ms();
	t = (time_t)(wall_ms / 1000);
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Fill buf with 2*n random lowercase hex digits and a NUL. */
void
http_random_hex(char *buf, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 b[64];
	size_t			 i;

	if (n > sizeof(b))
		abort();
	arc4random_buf(b, n);
	for (i = 0; i < n; i++) {
		buf[2 * i] = hex[b[i] >> 4];
		buf[2 * i + 1] = hex[b[i] & 15];
	}
	buf[2 * n] = '\0';
}

/* A random version 4 UUID in canonical form (buf holds 37 bytes). */
void
http_uuid(char *buf)
{
	unsigned char	b[16];

	arc4random_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, FAKE_UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Whether s is a UUID in 8-4-4-4-12 hex form. */
int
http_uuid_valid(const char *s)
{
	size_t	i;

	if (strlen(s) != FAKE_UUID_LEN)
		return 0;
	for (i = 0; i < FAKE_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Reason phrase for the statuses the fake sends. */
static const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Status";
}

/* Error code a bare status stands for, for injected faults. */
const char *
http_default_code(int status)
{
	switch (status) {
	case 400:
	case 422: return "invalid_input";
	case 401: return "authentication_failed";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 409: return "conflict";
	case 410: return "session_expired";
	case 429: return "rate_limited";
	case 502:
	case 503:
	case 504: return "upstream_unavailable";
	}
	return "internal_error";
}

/*
 * Reflect mode (issue 21): add the request's Authorization header (CONTROL_REFLECT_WHOLE)
 * or an 8-byte piece of its token, a different one each time (CONTROL_REFLECT_PIECE), to
 * every string value in v, as a hostile server or proxy would.
 */
static void
http_reflect(json_t *v, const char *auth, int mode, size_t *k)
{
	const char	*key, *tok;
	json_t		*m;
	size_t		 i, tl;
	char		*s;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, key, m)
			http_reflect(m, auth, mode, k);
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, m)
			http_reflect(m, auth, mode, k);
		break;
	case JSON_STRING:
		tok = strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : auth;
		tl = strlen(tok);
		if (mode == CONTROL_REFLECT_PIECE && tl < 8)
			break;
		if (mode == CONTROL_REFLECT_WHOLE) {
			if (asprintf(&s, "%s %s", json_string_value(v), auth) == -1)
				abort();
		} else {
			i = (*k)++ % (tl - 7);
			if (asprintf(&s, "%s%.8s", json_string_value(v), tok + i) == -1)
				abort();
		}
		json_string_set(v, s);
		free(s);
		break;
	default:
		break;
	}
}

/* Send status with body (stolen; NULL means no body) and X-Request-Id. */
void
http_reply(struct fake_req *fr, int status, json_t *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(fr->req);
	struct evbuffer		*out = evhttp_request_get_output_buffer(fr->req);
	static size_t		 k;
	const char		*auth;
	char			*s;
	int			 mode = control_reflect_mode();

	evhttp_add_header(h, "X-Request-Id", fr->request_id);
	auth = evhttp_find_header(evhttp_request_get_input_headers(fr->req),
	    "Authorization");
	if (body != NULL && mode != CONTROL_REFLECT_OFF && auth != NULL)
		http_reflect(body, auth, mode, &k);
	if (body != NULL) {
		s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(body);
		if (s == NULL)
			abort();
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(out, s, strlen(s));
		free(s);
	}
	if (fake_verbose())
		fprintf(stderr, "octofake: %s %s -> %d %s\n", fr->method,
		    fr->path, status, fr->request_id);
	evhttp_send_reply(fr->req, status, http_reason(status), NULL);
}

/* Send an Error body; retry_after_ms < 0 leaves the field out. */
void
http_reply_error(struct fake_req *fr, int status, const char *code,
    const char *details, int64_t retry_after_ms)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(fr->req);
	const char		*error = "Error";
	json_t			*o;
	char			 secs[32];
	size_t			 i;

	for (i = 0; i < sizeof(http_errors) / sizeof(http_errors[0]); i++) {
		if (strcmp(http_errors[i].code, code) == 0)
			error = http_errors[i].error;
	}
	o = json_pack("{s:s, s:s, s:s, s:s}", "error", error, "code", code,
	    "details", details != NULL ? details : error,
	    "request_id", fr->request_id);
	if (o == NULL)
		abort();
	if (retry_after_ms >= 0) {
		json_object_set_new(o, "retry_after_ms",
		    json_integer(retry_after_ms));
		snprintf(secs, sizeof(secs), "%lld",
		    (long long)(retry_after_ms + 999) / 1000 > 0 ?
		    (long long)(retry_after_ms + 999) / 1000 : 1);
		evhttp_add_header(h, "Retry-After", secs);
	}
	if (status == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer");
	http_reply(fr, status, o);
}

/*
 * Parse the request body as a JSON object into *out (an empty body reads as
 * {}). On failure the error reply is sent and -1 returned: 400 for a syntax
 * error, 422 for valid JSON that is not an object.
 */
int
http_body(struct fake_req *fr, json_t **out)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(fr->req);
	size_t		 len = evbuffer_get_length(in);
	json_error_t	 err;
	json_t		*o;

	if (len == 0) {
		*out = json_object();
		return 0;
	}
	o = json_loadb((const char *)evbuffer_pullup(in, -1), len,
	    JSON_REJECT_DUPLICATES, &err);
	if (o == NULL) {
		http_reply_error(fr, 400, "invalid_input",
		    "Request body is not valid JSON", -1);
		return -1;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		http_reply_error(fr, 422, "invalid_input",
		    "Request body must be a JSON object", -1);
		return -1;
	}
	*out = o;
	return 0;
}

/*
 * Optional integer member key into *v (def when absent or null). A value of
 * the wrong type sends 422 invalid_input and returns -1.
 */
int
http_get_int(struct fake_req *fr, json_t *o, const char *key, long long def,
    long long *v)
{
	json_t	*j = json_object_get(o, key);
	char	 details[128];

	if (j == NULL || json_is_null(j)) {
		*v = def;
		return 0;
	}
	if (!json_is_integer(j)) {
		snprintf(details, sizeof(details), "%s must be an integer", key);
		http_reply_error(fr, 422, "invalid_input", details, -1);
		return -1;
	}
	*v = json_integer_value(j);
	return 0;
}

/* Optional string member key into *v (NULL when absent or null); else 422. */
int
http_get_string(struct fake_req *fr, json_t *o, const char *key,
    const char **v)
{
	json_t	*j = json_object_get(o, key);
	char	 details[128];

	if (j == NULL || json_is_null(j)) {
		*v = NULL;
		return 0;
	}
	if (!json_is_string(j)) {
		snprintf(details, sizeof(details), "%s must be a string", key);
		http_reply_error(fr, 422, "invalid_input", details, -1);
		return -1;
	}
	*v = json_string_value(j);
	return 0;
}
