/* ops_lock.c - methods forwarded to the OctoStore server: health, locks, rotate_token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "api.h"
#include "conn.h"
#include "dispatch.h"
#include "lease.h"
#include "local.h"
#include "log.h"
#include "token.h"
#include "upstream.h"

#define OPS_MESSAGE_MAX		512	/* a message of our own about a server answer */

/* One forwarded request; owns nothing but the name it was asked about. */
struct ops_ctx {
	struct req	*r;
	const char	*what;		/* method name for messages */
	char		 name[API_NAME_MAX + 1];
	size_t		 name_len;
};

static int	ops_rotating;	/* a rotate_token is in flight */

/* Allocate a context for r; on failure r is answered and NULL returned. */
static struct ops_ctx *
ops_ctx_new(struct req *r, const char *what)
{
	struct ops_ctx	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		req_error(r, OCTO_ERR_NOMEM, NULL);
		return NULL;
	}
	c->r = r;
	c->what = what;
	return c;
}

/* Read and check the required "name" parameter into c; -1 after answering. */
static int
ops_name(struct ops_ctx *c, const msgpack_object *params)
{
	const char	*s, *why;
	size_t		 len;
	int		 e;

	e = octo_proto_get_str(params, "name", &s, &len);
	if (e == OCTO_ERR_AGAIN) {
		req_error_param(c->r, "name", "missing");
		return -1;
	}
	if (e != OCTO_OK) {
		req_error_param(c->r, "name", "expected a string");
		return -1;
	}
	if (api_name_check(s, len, &why) != OCTO_OK ||
	    access_name_check(s, len, &why) != 0) {
		req_error_param(c->r, "name", "%s", why);
		return -1;
	}
	memcpy(c->name, s, len);
	c->name[len] = '\0';
	c->name_len = len;
	/* Name policy: refused here, before any request leaves the daemon. */
	if (!access_name_allowed(conn_peer(c->r->conn), c->name)) {
		log_info("%s pid=%d uid=%u: name %s outside its allowed prefixes", c->what,
		    (int)c->r->pid, (unsigned)c->r->uid, c->name);
		req_error(c->r, OCTO_ERR_PERMISSION_DENIED, "uid %u may not use the name %s",
		    (unsigned)c->r->uid, c->name);
		return -1;
	}
	return 0;
}

/* Read the optional "ttl" parameter (default 60); -1 after answering. */
static int
ops_ttl(struct req *r, const msgpack_object *params, int64_t *ttl)
{
	int	e;

	e = octo_proto_get_int(params, "ttl", API_TTL_MIN, API_TTL_MAX, ttl);
	if (e == OCTO_ERR_AGAIN) {
		*ttl = API_TTL_DEFAULT;
		return 0;
	}
	if (e != OCTO_OK) {
		req_error_param(r, "ttl", "expected an integer from %d to %d",
		    API_TTL_MIN, API_TTL_MAX);
		return -1;
	}
	return 0;
}

/* Read the required "lease_id" parameter; -1 after answering. */
static int
ops_lease_id(struct req *r, const msgpack_object *params, const char **s, size_t *len)
{
	const char	*why;
	int		 e;

	e = octo_proto_get_str(params, "lease_id", s, len);
	if (e == OCTO_ERR_AGAIN) {
		req_error_param(r, "lease_id", "missing");
		return -1;
	}
	if (e != OCTO_OK) {
		req_error_param(r, "lease_id", "expected a string");
		return -1;
	}
	if (api_lease_id_check(*s, *len, &why) != OCTO_OK) {
		req_error_param(r, "lease_id", "%s", why);
		return -1;
	}
	return 0;
}

/* Longest wait an acquire may ask for, and the config's cap on detached holds. */
#define OPS_WAIT_MAX_MS		(24LL * 3600 * 1000)
static int64_t	ops_max_hold_ms = 3600 * 1000;

/* Set the cap on detached holds (config max_hold). */
void
ops_lock_set_max_hold(int64_t ms)
{
	ops_max_hold_ms = ms;
}

/* Optional duration in seconds (integer or float) into *ms; 0 when absent; -1 after
 * answering. */
static int
ops_seconds(struct req *r, const msgpack_object *params, const char *key, int64_t max_ms,
    int64_t *ms)
{
	const msgpack_object	*o;
	double			 v;

	*ms = 0;
	if (octo_proto_get(params, key, &o) != OCTO_OK)
		return 0;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		v = (double)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
		v = o->via.f64;
	else
		v = -1;
	if (!(v >= 0 && v * 1000 <= (double)max_ms)) {
		req_error_param(r, key, "expected seconds from 0 to %lld",
		    (long long)(max_ms / 1000));
		return -1;
	}
	*ms = (int64_t)(v * 1000);
	return 0;
}

/* Send the request; path and body are consumed.  On failure c is answered and freed. */
static int
ops_send(struct ops_ctx *c, const char *method, char *path, char *body, int need_body,
    int flags, upstream_cb cb)
{
	int	e;

	if (path == NULL || (need_body && body == NULL))
		e = OCTO_ERR_NOMEM;
	else
		e = upstream_request(method, path, body, flags, cb, c);
	free(path);
	free(body);
	if (e == OCTO_OK)
		return 0;
	if (e == OCTO_ERR_AUTHENTICATION_REQUIRED)
		req_error(c->r, e, "no OctoStore token is configured");
	else if (e == OCTO_ERR_BUSY)
		req_error(c->r, e, "too many requests to the OctoStore server pending");
	else
		req_error(c->r, e, NULL);
	free(c);
	return -1;
}

/* Answer c with the error that an unsuccessful transfer or HTTP status carries. */
static void
ops_fail(struct ops_ctx *c, const struct upstream_result *res)
{
	struct api_error	 e;
	char			 msg[OPS_MESSAGE_MAX], esc[4 * API_CODE_MAX + 1];
	int64_t			 retry;

	if (res->err != OCTO_OK) {
		req_error(c->r, res->err, "%s: %s", c->what, res->errmsg);
		return;
	}
	if (api_parse_error(res->body, res->len, &e) == OCTO_OK) {
		retry = e.retry_after_ms >= 0 ? e.retry_after_ms : res->retry_after_ms;
		log_debug("%s pid=%d: server error %s (HTTP %ld)", c->what, (int)c->r->pid,
		    api_escape(esc, sizeof(esc), e.code_name), res->status);
		/*
		 * req_error_upstream cuts the text, drops an overlong request id and passes
		 * the server's code on only for upstream_error.
		 */
		req_error_upstream(c->r, e.code, e.code_name,
		    e.details[0] != '\0' ? e.details : e.error, retry, e.request_id);
		api_error_free(&e);
		return;
	}
	if (res->status >= 500 || res->status == 429) {
		/* A proxy or overloaded server: transient, like a transport failure. */
		snprintf(msg, sizeof(msg), "%s: HTTP %ld from the OctoStore server without "
		    "an error body", c->what, res->status);
		req_error_upstream(c->r, OCTO_ERR_UNAVAILABLE, NULL, msg,
		    res->retry_after_ms, NULL);
		return;
	}
	req_error(c->r, OCTO_ERR_BAD_UPSTREAM_RESPONSE, "%s: HTTP %ld with a body that "
	    "is not a valid answer", c->what, res->status);
}

/* Answer c with bad_upstream_response for a 2xx body that breaks its schema. */
static void
ops_bad(struct ops_ctx *c, const struct upstream_result *res, const char *schema)
{
	log_warn("%s: HTTP %ld body is not a valid %s", c->what, res->status, schema);
	req_error(c->r, OCTO_ERR_BAD_UPSTREAM_RESPONSE, "%s: the server's answer is not "
	    "a valid %s", c->what, schema);
}

/* True for a 2xx answer. */
static int
ops_ok(const struct upstream_result *res)
{
	return res->err == OCTO_OK && res->status >= 200 && res->status < 300;
}

/* Pack a string or nil. */
static void
ops_pack_str(msgpack_packer *pk, const char *key, const char *s)
{
	octo_proto_pack_str(pk, key);
	if (s == NULL)
		msgpack_pack_nil(pk);
	else
		octo_proto_pack_str(pk, s);
}

/* Pack an integer. */
static void
ops_pack_int(msgpack_packer *pk, const char *key, int64_t v)
{
	octo_proto_pack_str(pk, key);
	msgpack_pack_int64(pk, v);
}

/* Pack the "name" pair from c. */
static void
ops_pack_name(msgpack_packer *pk, const struct ops_ctx *c)
{
	octo_proto_pack_str(pk, "name");
	octo_proto_pack_strn(pk, c->name, c->name_len);
}

/* Pack one LockStatus as a status result. */
static void
ops_pack_lock_status(msgpack_packer *pk, const struct api_lock_status *s)
{
	int local = s->name != NULL && lease_local_fields(s->name, s->fencing_token);
	int lost = local && s->held && lease_is_lost(s->name, s->fencing_token);

	msgpack_pack_map(pk, 6 + local);
	ops_pack_str(pk, "name", s->name);
	/* A lease this daemon declared lost is never shown held, whatever the server
	 * still says about it. */
	ops_pack_str(pk, "status", lost ? "lost" : s->held ? "held" : "free");
	ops_pack_str(pk, "holder_id", s->holder_id);
	ops_pack_int(pk, "fencing_token", s->fencing_token);
	ops_pack_str(pk, "expires_at", s->expires_at);
	ops_pack_str(pk, "metadata", s->metadata);
	if (local)
		lease_pack_local(pk, s->name, s->fencing_token);
}

/* health: the server's /health answer. */
static void
ops_health_done(const struct upstream_result *res, void *arg)
{
	struct ops_ctx		*c = arg;
	struct upstream_view	 v;
	struct api_health	 h;
	msgpack_packer		*pk;
	const char		*status;
	int			 parsed = 0;

	if (res->err == OCTO_ERR_SHUTTING_DOWN) {
		req_error(c->r, res->err, NULL);
		free(c);
		return;
	}
	if (ops_ok(res) && api_parse_health(res->body, res->len, &h) == OCTO_OK)
		parsed = 1;
	upstream_view(&v);
	if (res->err != OCTO_OK && res->err != OCTO_ERR_BAD_UPSTREAM_RESPONSE)
		status = "unavailable";
	else if (!parsed || strcmp(h.status, "ok") != 0 || v.auth_ok == 0 ||
	    token_get(NULL) == NULL)
		status = "degraded";
	else
		status = "ok";

	pk = req_result_begin(c->r);
	msgpack_pack_map(pk, 3);
	ops_pack_str(pk, "status", status);
	octo_proto_pack_str(pk, "upstream");
	msgpack_pack_map(pk, 6);
	octo_proto_pack_str(pk, "reachable");
	if (res->err == OCTO_OK || res->err == OCTO_ERR_BAD_UPSTREAM_RESPONSE)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	octo_proto_pack_str(pk, "auth_ok");
	if (token_get(NULL) == NULL || v.auth_ok == 0)
		msgpack_pack_false(pk);
	else if (v.auth_ok == 1)
		msgpack_pack_true(pk);
	else
		msgpack_pack_nil(pk);
	ops_pack_str(pk, "last_error", token_get(NULL) == NULL ?
	    "no OctoStore token is configured" : v.last_error);
	ops_pack_str(pk, "status", parsed ? h.status : NULL);
	ops_pack_str(pk, "storage", parsed ? h.storage : NULL);
	octo_proto_pack_str(pk, "db_size_bytes");
	if (parsed)
		msgpack_pack_int64(pk, h.db_size_bytes);
	else
		msgpack_pack_nil(pk);
	ops_pack_str(pk, "base_url", v.base_url);
	req_result_end(c->r);
	if (parsed)
		api_health_free(&h);
	free(c);
}

/* health: GET /health (no token) plus the daemon's view. */
void
op_health(struct req *r, const msgpack_object *params)
{
	struct ops_ctx	*c;

	(void)params;
	if (backend_current() == &backend_local) {
		local_op_health(r);
		return;
	}
	if ((c = ops_ctx_new(r, "health")) == NULL)
		return;
	ops_send(c, "GET", strdup("/health"), NULL, 0, 0, ops_health_done);
}

/* acquire: name, ttl, metadata, lock_delay -> POST /locks/{name}/acquire. */
void
op_acquire(struct req *r, const msgpack_object *params)
{
	struct ops_ctx		*c;
	struct lease_args	 a;
	const char		*md = NULL, *why;
	size_t			 mdlen = 0;
	int64_t			 ttl, delay = -1;
	int			 e;

	if ((c = ops_ctx_new(r, "acquire")) == NULL)
		return;
	if (ops_name(c, params) != 0 || ops_ttl(r, params, &ttl) != 0)
		goto out;
	e = octo_proto_get_str(params, "metadata", &md, &mdlen);
	if (e == OCTO_ERR_AGAIN)
		md = NULL;
	else if (e != OCTO_OK) {
		req_error_param(r, "metadata", "expected a string");
		goto out;
	}
	e = octo_proto_get_int(params, "lock_delay", 0, API_LOCK_DELAY_MAX, &delay);
	if (e == OCTO_ERR_AGAIN)
		delay = -1;
	else if (e != OCTO_OK) {
		req_error_param(r, "lock_delay", "expected an integer from 0 "
		    "to %d", API_LOCK_DELAY_MAX);
		goto out;
	}
	if (md != NULL && api_metadata_check(md, mdlen, &why) != OCTO_OK) {
		req_error_param(r, "metadata", "%s", why);
		goto out;
	}
	/* The same rule for both backends (issue 21): no control characters. */
	if (md != NULL && !octo_proto_text_ok(md, mdlen)) {
		req_error_param(r, "metadata", "must be text without control characters");
		goto out;
	}
	memset(&a, 0, sizeof(a));
	memcpy(a.name, c->name, c->name_len + 1);
	a.ttl = ttl;
	a.lock_delay = delay;
	if (md != NULL) {
		memcpy(a.metadata, md, mdlen);
		a.metadata[mdlen] = '\0';
		a.has_metadata = 1;
	}
	if (ops_seconds(r, params, "wait", OPS_WAIT_MAX_MS, &a.wait_ms) != 0)
		goto out;
	e = octo_proto_get_bool(params, "detach", &a.detach);
	if (e == OCTO_ERR_INVALID_ARGUMENT) {
		req_error_param(r, "detach", "expected true or false");
		goto out;
	}
	if (ops_seconds(r, params, "hold", ops_max_hold_ms, &a.hold_ms) != 0)
		goto out;
	if (a.detach && a.hold_ms <= 0) {
		req_error_param(r, "hold", "required with detach, in seconds up to "
		    "%lld", (long long)(ops_max_hold_ms / 1000));
		goto out;
	}
	if (!a.detach && a.hold_ms > 0) {
		req_error_param(r, "hold", "only with detach");
		goto out;
	}
	lease_acquire(r, &a);
out:
	free(c);
}

/*
 * A lease held through this daemon is released or renewed by the lease registry,
 * which checks ownership; others go to the server as they are.  True when answered.
 */
static int
ops_local_release(struct ops_ctx *c, const char *id, size_t idlen)
{
	char lid[API_LEASE_ID_MAX + 1];

	if (octo_proto_strcpy(lid, sizeof(lid), id, idlen) != OCTO_OK)
		return 0;
	return lease_release(c->r, c->name, lid);
}

static int
ops_local_renew(struct ops_ctx *c, const char *id, size_t idlen, int64_t ttl)
{
	char lid[API_LEASE_ID_MAX + 1];

	if (octo_proto_strcpy(lid, sizeof(lid), id, idlen) != OCTO_OK)
		return 0;
	return lease_renew(c->r, c->name, lid, ttl);
}

/* Local backend: a lease not held through the registry is answered from its table. */
static void
ops_local_direct(struct ops_ctx *c, const char *id, size_t idlen, int64_t ttl)
{
	char lid[API_LEASE_ID_MAX + 1];

	if (octo_proto_strcpy(lid, sizeof(lid), id, idlen) != OCTO_OK)
		req_error(c->r, OCTO_ERR_LEASE_NOT_CURRENT, "the lease is not current");
	else if (ttl < 0)
		local_op_release(c->r, c->name, lid);
	else
		local_op_renew(c->r, c->name, lid, ttl);
	free(c);
}

/* release: 2xx with a null body. */
static void
ops_release_done(const struct upstream_result *res, void *arg)
{
	struct ops_ctx	*c = arg;
	msgpack_packer	*pk;

	if (!ops_ok(res))
		ops_fail(c, res);
	else if (api_parse_release(res->body, res->len) != OCTO_OK)
		ops_bad(c, res, "release answer");
	else {
		log_debug("release name=%s pid=%d: released", c->name, (int)c->r->pid);
		pk = req_result_begin(c->r);
		msgpack_pack_map(pk, 2);
		ops_pack_name(pk, c);
		octo_proto_pack_str(pk, "released");
		msgpack_pack_true(pk);
		req_result_end(c->r);
	}
	free(c);
}

/* release: name, lease_id -> POST /locks/{name}/release. */
void
op_release(struct req *r, const msgpack_object *params)
{
	struct ops_ctx	*c;
	const char	*id;
	size_t		 idlen;

	if ((c = ops_ctx_new(r, "release")) == NULL)
		return;
	if (ops_name(c, params) != 0 || ops_lease_id(r, params, &id, &idlen) != 0 ||
	    ops_local_release(c, id, idlen)) {
		free(c);
		return;
	}
	if (backend_current() == &backend_local) {
		ops_local_direct(c, id, idlen, -1);
		return;
	}
	ops_send(c, "POST", api_lock_path(c->name, c->name_len, "release"),
	    api_release_body(id, idlen), 1, UPSTREAM_AUTH, ops_release_done);
}

/* renew: RenewLockResponse. */
static void
ops_renew_done(const struct upstream_result *res, void *arg)
{
	struct ops_ctx		*c = arg;
	struct api_renew	 rn;
	msgpack_packer		*pk;

	if (!ops_ok(res))
		ops_fail(c, res);
	else if (api_parse_renew(res->body, res->len, &rn) != OCTO_OK)
		ops_bad(c, res, "RenewLockResponse");
	else {
		pk = req_result_begin(c->r);
		msgpack_pack_map(pk, 4);
		ops_pack_name(pk, c);
		ops_pack_str(pk, "lease_id", rn.lease_id);
		ops_pack_str(pk, "expires_at", rn.expires_at);
		ops_pack_int(pk, "renew_after_ms", rn.renew_after_ms);
		req_result_end(c->r);
		api_renew_free(&rn);
	}
	free(c);
}

/* renew: name, lease_id, ttl -> POST /locks/{name}/renew. */
void
op_renew(struct req *r, const msgpack_object *params)
{
	struct ops_ctx	*c;
	const char	*id;
	size_t		 idlen;
	int64_t		 ttl;

	if ((c = ops_ctx_new(r, "renew")) == NULL)
		return;
	if (ops_name(c, params) != 0 || ops_lease_id(r, params, &id, &idlen) != 0 ||
	    ops_ttl(r, params, &ttl) != 0 || ops_local_renew(c, id, idlen, ttl)) {
		free(c);
		return;
	}
	if (backend_current() == &backend_local) {
		ops_local_direct(c, id, idlen, ttl);
		return;
	}
	ops_send(c, "POST", api_lock_path(c->name, c->name_len, "renew"),
	    api_renew_body(id, idlen, ttl), 1, UPSTREAM_AUTH, ops_renew_done);
}

/* status: LockStatus. */
static void
ops_status_done(const struct upstream_result *res, void *arg)
{
	struct ops_ctx		*c = arg;
	struct api_lock_status	 s;
	msgpack_packer		*pk;

	if (!ops_ok(res))
		ops_fail(c, res);
	else if (api_parse_lock_status(res->body, res->len, &s) != OCTO_OK)
		ops_bad(c, res, "LockStatus");
	else {
		pk = req_result_begin(c->r);
		ops_pack_lock_status(pk, &s);
		req_result_end(c->r);
		api_lock_status_free(&s);
	}
	free(c);
}

/* status: name -> GET /locks/{name}. */
void
op_status(struct req *r, const msgpack_object *params)
{
	struct ops_ctx		*c;
	struct api_lock_status	 s;
	msgpack_packer		*pk;

	if ((c = ops_ctx_new(r, "status")) == NULL)
		return;
	if (ops_name(c, params) != 0) {
		free(c);
		return;
	}
	if (backend_current() == &backend_local) {
		local_status(c->name, &s);
		pk = req_result_begin(r);
		ops_pack_lock_status(pk, &s);
		req_result_end(r);
		free(c);
		return;
	}
	ops_send(c, "GET", api_lock_path(c->name, c->name_len, NULL), NULL, 0,
	    UPSTREAM_AUTH, ops_status_done);
}

/* Answer a list, showing a peer restricted to name prefixes only its own names. */
static void
ops_pack_list(struct ops_ctx *c, const struct api_list *l)
{
	const struct access_peer	*peer = conn_peer(c->r->conn);
	msgpack_packer			*pk;
	size_t				 i, n = 0;
	int				 restricted = access_restricted(peer);

	for (i = 0; i < l->n; i++)
		n += access_name_allowed(peer, l->locks[i].name);
	pk = req_result_begin(c->r);
	msgpack_pack_map(pk, 3);
	octo_proto_pack_str(pk, "locks");
	msgpack_pack_array(pk, n);
	for (i = 0; i < l->n; i++)
		if (access_name_allowed(peer, l->locks[i].name))
			ops_pack_lock_status(pk, &l->locks[i]);
	ops_pack_int(pk, "total", restricted ? (int64_t)n : l->total);
	ops_pack_str(pk, "prefix", l->prefix);
	req_result_end(c->r);
}

/* list: ListLocksResponse. */
static void
ops_list_done(const struct upstream_result *res, void *arg)
{
	struct ops_ctx	*c = arg;
	struct api_list	 l;

	if (!ops_ok(res))
		ops_fail(c, res);
	else if (api_parse_list(res->body, res->len, &l) != OCTO_OK)
		ops_bad(c, res, "ListLocksResponse");
	else {
		ops_pack_list(c, &l);
		api_list_free(&l);
	}
	free(c);
}

/* list from the local backend's table. */
static void
ops_list_local(struct ops_ctx *c, const char *p, size_t plen)
{
	char		 prefix[API_PREFIX_MAX + 1];
	struct api_list	 l;

	if (p != NULL && octo_proto_strcpy(prefix, sizeof(prefix), p, plen) != OCTO_OK) {
		req_error_param(c->r, "prefix", "prefix: too long");
		free(c);
		return;
	}
	if (local_list(p != NULL ? prefix : NULL, &l) != 0) {
		req_error(c->r, OCTO_ERR_NOMEM, NULL);
		free(c);
		return;
	}
	ops_pack_list(c, &l);
	api_list_free(&l);
	free(c);
}

/* list: optional prefix -> GET /locks[?prefix=]. */
void
op_list(struct req *r, const msgpack_object *params)
{
	struct ops_ctx	*c;
	const char	*p = NULL, *why;
	size_t		 plen = 0;
	int		 e;

	if ((c = ops_ctx_new(r, "list")) == NULL)
		return;
	e = octo_proto_get_str(params, "prefix", &p, &plen);
	if (e == OCTO_ERR_AGAIN)
		p = NULL;
	else if (e != OCTO_OK) {
		req_error_param(r, "prefix", "expected a string");
		free(c);
		return;
	} else if (api_prefix_check(p, plen, &why) != OCTO_OK) {
		req_error_param(r, "prefix", "%s", why);
		free(c);
		return;
	}
	if (backend_current() == &backend_local) {
		ops_list_local(c, p, plen);
		return;
	}
	ops_send(c, "GET", api_list_path(p, plen), NULL, 0, UPSTREAM_AUTH, ops_list_done);
}

/* rotate_token: AuthToken; persist and swap before answering. */
static void
ops_rotate_done(const struct upstream_result *res, void *arg)
{
	struct ops_ctx		*c = arg;
	struct api_token	 t;
	msgpack_packer		*pk;
	int			 persisted;

	ops_rotating = 0;
	if (!ops_ok(res)) {
		ops_fail(c, res);
		free(c);
		return;
	}
	if (api_parse_token(res->body, res->len, &t) != OCTO_OK) {
		/* The old token may already be void: say so loudly. */
		log_error("rotate_token: the server answered HTTP %ld but no usable "
		    "AuthToken; the current token may have been invalidated", res->status);
		ops_bad(c, res, "AuthToken");
		free(c);
		return;
	}
	if (token_replace(t.token, t.token_len, &persisted) != 0) {
		log_error("rotate_token: the new token is unusable");
		req_error(c->r, OCTO_ERR_BAD_UPSTREAM_RESPONSE, "rotate_token: the new "
		    "token is unusable");
	} else {
		log_info("token rotated by uid=%u pid=%d; %s", (unsigned)c->r->uid,
		    (int)c->r->pid, persisted ? "token file replaced" :
		    "not persisted: memory only");
		pk = req_result_begin(c->r);
		msgpack_pack_map(pk, 4);
		octo_proto_pack_str(pk, "rotated");
		msgpack_pack_true(pk);
		ops_pack_str(pk, "user_id", t.user_id);
		ops_pack_str(pk, "namespace", t.namespace);
		octo_proto_pack_str(pk, "persisted");
		if (persisted)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		req_result_end(c->r);
	}
	api_token_free(&t);
	free(c);
}

/* rotate_token: admin only -> POST /auth/token/rotate. */
void
op_rotate_token(struct req *r, const msgpack_object *params)
{
	struct ops_ctx	*c;

	(void)params;
	if (!req_is_admin(r)) {
		req_error(r, OCTO_ERR_PERMISSION_DENIED, "rotate_token is for root and "
		    "admin_uids");
		return;
	}
	if (backend_current() == &backend_local) {
		req_error(r, OCTO_ERR_CONFIG, "rotate_token: there is no token "
		    "with backend = local");
		return;
	}
	if (ops_rotating) {
		req_error(r, OCTO_ERR_BUSY, "a token rotation is already in progress");
		return;
	}
	if ((c = ops_ctx_new(r, "rotate_token")) == NULL)
		return;
	if (ops_send(c, "POST", strdup("/auth/token/rotate"), NULL, 0,
	    UPSTREAM_AUTH | UPSTREAM_SECRET | UPSTREAM_ROTATION, ops_rotate_done) == 0)
		ops_rotating = 1;
}
