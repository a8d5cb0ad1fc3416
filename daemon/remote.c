/* remote.c - the backend operations as OctoStore HTTP requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "backend.h"
#include "log.h"
#include "octostore_err.h"
#include "upstream.h"

enum remote_kind {
	REMOTE_ACQUIRE,
	REMOTE_RENEW,
	REMOTE_RELEASE,
	REMOTE_SESSION_CREATE,
	REMOTE_SESSION_KEEPALIVE,
	REMOTE_SESSION_TERMINATE
};

struct remote_call {
	enum remote_kind kind;
	backend_cb	 cb;
	void		*arg;
};

/* Start a call; path and body are borrowed (upstream copies them). */
static int
remote_send(enum remote_kind kind, const char *method, const char *path,
    const char *body, backend_cb cb, void *arg);

/*
 * Transient: worth retrying. Loss: proves the lease or session is gone.  An answer
 * that breaks the contract (over the size cap, not JSON, an error status without an
 * Error body) proves nothing either way: it is retried like a transport error, and a
 * lease or session ends only when its deadline passes without a good answer.
 */
static void
remote_classify(struct backend_result *br, long status)
{
	if (br->err == OCTO_ERR_BAD_UPSTREAM_RESPONSE) {
		/* Whatever its status: without a valid Error body it proves nothing. */
		br->transient = 1;
		return;
	}
	switch (br->err) {
	case OCTO_ERR_UNAVAILABLE:
	case OCTO_ERR_TIMEOUT:
	case OCTO_ERR_RATE_LIMITED:
	case OCTO_ERR_CAPACITY_EXCEEDED:
	case OCTO_ERR_UPSTREAM_UNAVAILABLE:
	case OCTO_ERR_UPSTREAM_INTERNAL:
	case OCTO_ERR_BUSY:
		br->transient = 1;
		break;
	case OCTO_ERR_LEASE_NOT_CURRENT:
	case OCTO_ERR_NOT_FOUND:
	case OCTO_ERR_SESSION_EXPIRED:
	case OCTO_ERR_AUTHENTICATION_FAILED:
	case OCTO_ERR_AUTHENTICATION_REQUIRED:
		br->lost = 1;
		break;
	default:
		break;
	}
	if (status >= 500 || status == 429)
		br->transient = 1, br->lost = 0;
	else if (status == 401 || status == 404 || status == 410)
		br->lost = 1, br->transient = 0;
}

/* A transfer finished: parse what the kind expects and report. */
static void
remote_done(const struct upstream_result *res, void *arg)
{
	struct remote_call	*rc = arg;
	struct backend_result	 br;
	struct api_error	 ae;
	struct api_acquire	 aq;
	struct api_renew	 rn;
	struct api_session	 ss;
	int			 have_ae = 0, have_aq = 0, have_rn = 0, have_ss = 0, ok;

	memset(&br, 0, sizeof(br));
	br.retry_after_ms = -1;
	br.renew_after_ms = -1;
	ok = res->err == OCTO_OK && res->status >= 200 && res->status < 300;
	/* LockDelayed (or LockHeld) comes as 409 with an acquire-shaped body; a lease
	 * never does, so a 409 "acquired" falls through to the Error parse and fails. */
	if (rc->kind == REMOTE_ACQUIRE && res->err == OCTO_OK && res->status == 409 &&
	    api_parse_acquire(res->body, res->len, &aq) == OCTO_OK) {
		if (aq.status == API_ACQUIRED)
			api_acquire_free(&aq);
		else {
			have_aq = 1;
			ok = 1;
		}
	}
	if (!ok) {
		if (res->err != OCTO_OK) {
			br.err = res->err;
			br.message = res->errmsg;
		} else if (api_parse_error(res->body, res->len, &ae) == OCTO_OK) {
			have_ae = 1;
			br.err = ae.code;
			br.code_name = ae.code == OCTO_ERR_UPSTREAM_OTHER ? ae.code_name : NULL;
			br.message = ae.details[0] != '\0' ? ae.details : ae.error;
			br.retry_after_ms = ae.retry_after_ms;
			br.request_id = ae.request_id;
		} else if (res->status >= 500 || res->status == 429) {
			/* A proxy or an overloaded server, as in ops_fail. */
			br.err = OCTO_ERR_UNAVAILABLE;
			br.message = "HTTP error from the OctoStore server without an error body";
		} else {
			/*
			 * The OpenAPI document gives every 4xx an Error body: a 401, 404 or
			 * 410 without one (a proxy, a wrong base_url) proves no loss.
			 */
			br.err = OCTO_ERR_BAD_UPSTREAM_RESPONSE;
			br.message = "the server's error answer is not valid";
		}
		if (br.retry_after_ms < 0)
			br.retry_after_ms = res->retry_after_ms;
		remote_classify(&br, res->err == OCTO_OK ? res->status : 0);
		goto report;
	}
	switch (rc->kind) {
	case REMOTE_ACQUIRE:
		if (!have_aq && api_parse_acquire(res->body, res->len, &aq) != OCTO_OK)
			goto bad;
		have_aq = 1;
		br.status = aq.status;
		br.lease_id = aq.lease_id;
		br.fencing_token = aq.fencing_token;
		br.expires_at = aq.expires_at;
		br.renew_after_ms = aq.renew_after_ms;
		br.metadata = aq.metadata;
		br.holder_id = aq.holder_id;
		br.retry_after_ms = aq.retry_after_ms;
		br.available_at = aq.available_at;
		break;
	case REMOTE_RENEW:
		if (api_parse_renew(res->body, res->len, &rn) != OCTO_OK)
			goto bad;
		have_rn = 1;
		br.lease_id = rn.lease_id;
		br.expires_at = rn.expires_at;
		br.renew_after_ms = rn.renew_after_ms;
		break;
	case REMOTE_RELEASE:
		if (api_parse_release(res->body, res->len) != OCTO_OK)
			goto bad;
		break;
	case REMOTE_SESSION_CREATE:
	case REMOTE_SESSION_KEEPALIVE:
		if (api_parse_session(res->body, res->len, rc->kind ==
		    REMOTE_SESSION_CREATE, &ss) != OCTO_OK)
			goto bad;
		have_ss = 1;
		br.session_id = ss.session_id;
		br.keepalive_ms = ss.keepalive_ms;
		break;
	case REMOTE_SESSION_TERMINATE:
		break;
	}
	goto report;
bad:
	br.err = OCTO_ERR_BAD_UPSTREAM_RESPONSE;
	br.message = "the server's answer does not match its schema";
	/* A broken answer proves nothing about the lease: retry like a transport error. */
	br.transient = 1;
report:
	rc->cb(&br, rc->arg);
	if (have_ae)
		api_error_free(&ae);
	if (have_aq)
		api_acquire_free(&aq);
	if (have_rn)
		api_renew_free(&rn);
	if (have_ss)
		api_session_free(&ss);
	free(rc);
}

static int
remote_send(enum remote_kind kind, const char *method, const char *path,
    const char *body, backend_cb cb, void *arg)
{
	struct remote_call	*rc;
	int			 e;

	if ((rc = malloc(sizeof(*rc))) == NULL)
		return OCTO_ERR_NOMEM;
	rc->kind = kind;
	rc->cb = cb;
	rc->arg = arg;
	e = upstream_request(method, path, body, UPSTREAM_AUTH, remote_done, rc);
	if (e != OCTO_OK)
		free(rc);
	return e;
}

/*
 * Send a POST whose body is in buf (blen > 0), or, when it did not fit there (blen
 * 0), in heap (NULL on ENOMEM).  Both are wiped afterwards: they hold the lease id.
 */
static int
remote_post(enum remote_kind kind, const char *path, char *buf, size_t size,
    size_t blen, char *heap, backend_cb cb, void *arg)
{
	int	e = OCTO_ERR_NOMEM;

	if (blen > 0)
		e = remote_send(kind, "POST", path, buf, cb, arg);
	else if (heap != NULL)
		e = remote_send(kind, "POST", path, heap, cb, arg);
	explicit_bzero(buf, size);
	if (heap != NULL) {
		explicit_bzero(heap, strlen(heap));
		free(heap);
	}
	return e;
}

/* POST /locks/{name}/acquire, ephemeral on the session when one is given. */
static int
remote_acquire(const char *name, int64_t ttl, const char *metadata, int64_t lock_delay,
    const char *session_id, backend_cb cb, void *arg)
{
	char	 path[API_LOCK_PATH_MAX], body[API_BODY_BUF], *heap = NULL;
	size_t	 blen;
	json_t	*o;

	if (api_lock_path_buf(path, sizeof(path), name, strlen(name), "acquire") == 0 ||
	    (o = json_object()) == NULL)
		return OCTO_ERR_NOMEM;
	json_object_set_new(o, "ttl_seconds", json_integer(ttl));
	if (metadata != NULL)
		json_object_set_new(o, "metadata", json_string(metadata));
	if (lock_delay > 0)
		json_object_set_new(o, "lock_delay_seconds", json_integer(lock_delay));
	if (session_id != NULL) {
		json_object_set_new(o, "session_id", json_string(session_id));
		json_object_set_new(o, "ephemeral", json_true());
	}
	/* Long metadata does not fit in body: then a heap copy. */
	json_incref(o);
	if ((blen = api_dumpb(o, body, sizeof(body))) == 0)
		heap = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return remote_post(REMOTE_ACQUIRE, path, body, sizeof(body), blen, heap, cb, arg);
}

/* POST /locks/{name}/renew. */
static int
remote_renew(const char *name, const char *lease_id, int64_t ttl, backend_cb cb,
    void *arg)
{
	char	path[API_LOCK_PATH_MAX], body[API_BODY_BUF], *heap = NULL;
	size_t	idlen = strlen(lease_id), blen;

	if (api_lock_path_buf(path, sizeof(path), name, strlen(name), "renew") == 0)
		return OCTO_ERR_NOMEM;
	if ((blen = api_renew_body_buf(body, sizeof(body), lease_id, idlen, ttl)) == 0)
		heap = api_renew_body(lease_id, idlen, ttl);
	return remote_post(REMOTE_RENEW, path, body, sizeof(body), blen, heap, cb, arg);
}

/* POST /locks/{name}/release. */
static int
remote_release(const char *name, const char *lease_id, backend_cb cb, void *arg)
{
	char	path[API_LOCK_PATH_MAX], body[API_BODY_BUF], *heap = NULL;
	size_t	idlen = strlen(lease_id), blen;

	if (api_lock_path_buf(path, sizeof(path), name, strlen(name), "release") == 0)
		return OCTO_ERR_NOMEM;
	if ((blen = api_release_body_buf(body, sizeof(body), lease_id, idlen)) == 0)
		heap = api_release_body(lease_id, idlen);
	return remote_post(REMOTE_RELEASE, path, body, sizeof(body), blen, heap, cb, arg);
}

/* POST /sessions. */
static int
remote_session_create(int64_t ttl, backend_cb cb, void *arg)
{
	char	body[API_BODY_BUF];

	if (api_dumpb(json_pack("{s:I}", "ttl_seconds", (json_int_t)ttl), body,
	    sizeof(body)) == 0)
		return OCTO_ERR_NOMEM;
	return remote_send(REMOTE_SESSION_CREATE, "POST", "/sessions", body, cb, arg);
}

/* "/sessions/<id>[/suffix]" into path; the id was checked when it arrived. */
static int
remote_session_path(char *path, size_t size, const char *id, const char *suffix)
{
	int	n = snprintf(path, size, "/sessions/%s%s", id, suffix);

	return n >= 0 && (size_t)n < size ? 0 : -1;
}

/* POST /sessions/{id}/keepalive. */
static int
remote_session_keepalive(const char *session_id, backend_cb cb, void *arg)
{
	char	path[256];

	if (remote_session_path(path, sizeof(path), session_id, "/keepalive") != 0)
		return OCTO_ERR_NOMEM;
	return remote_send(REMOTE_SESSION_KEEPALIVE, "POST", path, NULL, cb, arg);
}

/* DELETE /sessions/{id}. */
static int
remote_session_terminate(const char *session_id, backend_cb cb, void *arg)
{
	char	path[256];

	if (remote_session_path(path, sizeof(path), session_id, "") != 0)
		return OCTO_ERR_NOMEM;
	return remote_send(REMOTE_SESSION_TERMINATE, "DELETE", path, NULL, cb, arg);
}

const struct backend backend_remote = {
	.name = "remote",
	.acquire = remote_acquire,
	.renew = remote_renew,
	.release = remote_release,
	.session_create = remote_session_create,
	.session_keepalive = remote_session_keepalive,
	.session_terminate = remote_session_terminate,
};
