/* calls.c - liboctostore typed calls: pack the parameters, check and copy the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* Reading one result map; r keeps the first malformed field. */
struct reply {
	struct octo_client	*c;
	const msgpack_object	*map;
	int			 r;
};

#define REP_OPT		0
#define REP_REQ		1	/* missing is an error */
#define REP_TEXT	2	/* free-form: truncate instead of failing */

/* A field is missing or malformed: the reply breaks the protocol. */
static void
rep_bad(struct reply *rp, const char *key)
{
	if (rp->r == OCTO_OK)
		rp->r = client_error(rp->c, OCTO_ERR_PROTOCOL,
		    "malformed reply from the daemon: field %s", key);
}

/* String field into dst; returns 1 when present. */
static int
rep_str(struct reply *rp, const char *key, char *dst, size_t dstsz, int flags)
{
	const char	*s;
	size_t		 len;
	int		 r;

	dst[0] = '\0';
	if ((r = octo_proto_get_str(rp->map, key, &s, &len)) == OCTO_ERR_AGAIN) {
		if (flags & REP_REQ)
			rep_bad(rp, key);
		return 0;
	}
	if (r != OCTO_OK) {
		rep_bad(rp, key);
		return 0;
	}
	if (flags & REP_TEXT)
		client_copy_text(dst, dstsz, s, len);
	else if (octo_proto_strcpy(dst, dstsz, s, len) != OCTO_OK) {
		rep_bad(rp, key);
		return 0;
	}
	return 1;
}

/* Byte-string field (metadata: may hold anything); returns 1 when present. */
static int
rep_bytes(struct reply *rp, const char *key, char *dst, size_t dstsz, size_t *outlen)
{
	const char	*s;
	size_t		 len;
	int		 r;

	dst[0] = '\0';
	*outlen = 0;
	if ((r = octo_proto_get_str(rp->map, key, &s, &len)) == OCTO_ERR_AGAIN)
		return 0;
	if (r != OCTO_OK || len >= dstsz) {
		rep_bad(rp, key);
		return 0;
	}
	memcpy(dst, s, len);
	dst[len] = '\0';
	*outlen = len;
	return 1;
}

/* Non-negative integer field; dflt when absent. */
static uint64_t
rep_uint(struct reply *rp, const char *key, int flags, uint64_t dflt)
{
	uint64_t	v;
	int		r;

	if ((r = octo_proto_get_uint(rp->map, key, 0, UINT64_MAX, &v)) == OCTO_OK)
		return v;
	if (r != OCTO_ERR_AGAIN || (flags & REP_REQ))
		rep_bad(rp, key);
	return dflt;
}

/* Signed integer field; dflt when absent. */
static int64_t
rep_int(struct reply *rp, const char *key, int flags, int64_t dflt)
{
	int64_t	v;
	int	r;

	if ((r = octo_proto_get_int(rp->map, key, INT64_MIN, INT64_MAX, &v)) == OCTO_OK)
		return v;
	if (r != OCTO_ERR_AGAIN || (flags & REP_REQ))
		rep_bad(rp, key);
	return dflt;
}

/* Boolean field; dflt when absent or nil. */
static int
rep_bool(struct reply *rp, const char *key, int flags, int dflt)
{
	int	v, r;

	if ((r = octo_proto_get_bool(rp->map, key, &v)) == OCTO_OK)
		return v != 0;
	if (r != OCTO_ERR_AGAIN || (flags & REP_REQ))
		rep_bad(rp, key);
	return dflt;
}

/* A required argument was not given. */
static int
arg_missing(struct octo_client *c, const char *param)
{
	client_error(c, OCTO_ERR_INVALID_ARGUMENT, "%s: required", param);
	snprintf(c->errparam, sizeof(c->errparam), "%s", param);
	return OCTO_ERR_INVALID_ARGUMENT;
}

/* Pack "key": "value". */
static void
pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
	octo_proto_pack_str(pk, key);
	octo_proto_pack_str(pk, val);
}

/* Pack "key": integer. */
static void
pack_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
	octo_proto_pack_str(pk, key);
	msgpack_pack_int64(pk, val);
}

/* hello: protocol handshake. */
int
octo_hello(struct octo_client *c, const char *client_name, struct octo_hello *out)
{
	struct octo_hello	 h;
	struct reply		 rp = { c, NULL, OCTO_OK };
	const msgpack_object	*o;
	msgpack_packer		*pk;
	uint32_t		 msgid, i;
	int			 r;

	memset(&h, 0, sizeof(h));
	pk = client_begin(c, "hello", &msgid);
	msgpack_pack_map(pk, client_name != NULL ? 2 : 1);
	pack_kv_int(pk, "version", OCTO_PROTO_VERSION);
	if (client_name != NULL)
		pack_kv_str(pk, "client", client_name);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	h.protocol = (int)rep_int(&rp, "protocol", REP_REQ, 0);
	rep_str(&rp, "version", h.version, sizeof(h.version), REP_TEXT);
	h.max_message_size = rep_uint(&rp, "max_message_size", REP_OPT, 0);
	if (octo_proto_get(rp.map, "methods", &o) == OCTO_OK) {
		if (o->type != MSGPACK_OBJECT_ARRAY)
			rep_bad(&rp, "methods");
		for (i = 0; rp.r == OCTO_OK && i < o->via.array.size &&
		    h.nmethods < OCTO_MAX_METHODS; i++) {
			const msgpack_object *e = &o->via.array.ptr[i];

			if (e->type != MSGPACK_OBJECT_STR || octo_proto_strcpy(
			    h.methods[h.nmethods], OCTO_METHOD_SIZE, e->via.str.ptr,
			    e->via.str.size) != OCTO_OK)
				rep_bad(&rp, "methods");
			else
				h.nmethods++;
		}
	}
	r = rp.r;
out:
	if (out != NULL) {
		if (r != OCTO_OK)
			memset(&h, 0, sizeof(h));
		*out = h;
	}
	return client_end(c, r);
}

/* ping: round trip, echoing an optional payload. */
int
octo_ping(struct octo_client *c, const void *payload, size_t len, void *echo,
    size_t echosz, size_t *echolen)
{
	struct reply		 rp = { c, NULL, OCTO_OK };
	const msgpack_object	*o;
	msgpack_packer		*pk;
	const char		*p = NULL;
	size_t			 n = 0;
	uint32_t		 msgid;
	int			 r;

	if (echolen != NULL)
		*echolen = 0;
	pk = client_begin(c, "ping", &msgid);
	if (payload != NULL) {
		msgpack_pack_map(pk, 1);
		octo_proto_pack_str(pk, "payload");
		msgpack_pack_bin(pk, len);
		msgpack_pack_bin_body(pk, payload, len);
	} else
		msgpack_pack_map(pk, 0);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (octo_proto_get(rp.map, "payload", &o) == OCTO_OK) {
		if (o->type == MSGPACK_OBJECT_BIN) {
			p = o->via.bin.ptr;
			n = o->via.bin.size;
		} else if (o->type == MSGPACK_OBJECT_STR) {
			p = o->via.str.ptr;
			n = o->via.str.size;
		} else {
			rep_bad(&rp, "payload");
			r = rp.r;
			goto out;
		}
	}
	if (echolen != NULL)
		*echolen = n;
	if (echo != NULL && n > 0) {
		memcpy(echo, p, n < echosz ? n : echosz);
		if (n > echosz)
			r = client_error(c, OCTO_ERR_TOO_LARGE,
			    "echo of %zu bytes truncated to %zu", n, echosz);
	}
out:
	return client_end(c, r);
}

/* daemon_status: the daemon's counters. */
int
octo_daemon_status(struct octo_client *c, struct octo_daemon_status *out)
{
	struct reply		 rp = { c, NULL, OCTO_OK };
	const msgpack_object	*o;
	msgpack_packer		*pk;
	uint32_t		 msgid, i;
	int			 r;

	memset(out, 0, sizeof(*out));
	pk = client_begin(c, "daemon_status", &msgid);
	msgpack_pack_map(pk, 0);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	rep_str(&rp, "version", out->version, sizeof(out->version), REP_REQ | REP_TEXT);
	out->pid = rep_int(&rp, "pid", REP_REQ, 0);
	out->uptime_ms = rep_uint(&rp, "uptime_ms", REP_REQ, 0);
	out->connections = rep_uint(&rp, "connections", REP_REQ, 0);
	out->connections_total = rep_uint(&rp, "connections_total", REP_REQ, 0);
	out->errors = rep_uint(&rp, "errors", REP_REQ, 0);
	if (octo_proto_get(rp.map, "requests", &o) == OCTO_OK) {
		if (o->type != MSGPACK_OBJECT_MAP)
			rep_bad(&rp, "requests");
		for (i = 0; rp.r == OCTO_OK && i < o->via.map.size &&
		    out->nrequests < OCTO_MAX_METHODS; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			struct octo_method_count *mc = &out->requests[out->nrequests];

			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    octo_proto_strcpy(mc->method, sizeof(mc->method),
			    kv->key.via.str.ptr, kv->key.via.str.size) != OCTO_OK)
				rep_bad(&rp, "requests");
			else {
				mc->count = kv->val.via.u64;
				out->nrequests++;
			}
		}
	} else
		rep_bad(&rp, "requests");
	r = rp.r;
out:
	if (r != OCTO_OK)
		memset(out, 0, sizeof(*out));
	return client_end(c, r);
}

/* health: the OctoStore server's health as the daemon sees it. */
int
octo_health(struct octo_client *c, struct octo_health *out)
{
	struct reply		 rp = { c, NULL, OCTO_OK }, up;
	const msgpack_object	*o;
	msgpack_packer		*pk;
	uint32_t		 msgid;
	int			 r;

	memset(out, 0, sizeof(*out));
	out->auth_ok = -1;
	out->db_size_bytes = -1;
	pk = client_begin(c, "health", &msgid);
	msgpack_pack_map(pk, 0);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	rep_str(&rp, "status", out->status, sizeof(out->status), REP_REQ);
	rep_str(&rp, "base_url", out->base_url, sizeof(out->base_url), REP_TEXT);
	if (octo_proto_get(rp.map, "upstream", &o) == OCTO_OK) {
		if (o->type != MSGPACK_OBJECT_MAP)
			rep_bad(&rp, "upstream");
		up = rp;
		up.map = o;
		out->reachable = rep_bool(&up, "reachable", REP_OPT, 0);
		out->auth_ok = rep_bool(&up, "auth_ok", REP_OPT, -1);
		rep_str(&up, "last_error", out->last_error, sizeof(out->last_error),
		    REP_TEXT);
		rep_str(&up, "status", out->upstream_status,
		    sizeof(out->upstream_status), REP_TEXT);
		rep_str(&up, "storage", out->storage, sizeof(out->storage), REP_TEXT);
		out->db_size_bytes = rep_int(&up, "db_size_bytes", REP_OPT, -1);
		if (rp.r == OCTO_OK)
			rp.r = up.r;
	}
	r = rp.r;
out:
	if (r != OCTO_OK) {
		memset(out, 0, sizeof(*out));
		out->auth_ok = -1;
		out->db_size_bytes = -1;
	}
	return client_end(c, r);
}

/* acquire: take a lock; held and delayed are returned as errors with out filled. */
int
octo_acquire(struct octo_client *c, const char *name, int ttl, const char *metadata,
    int lock_delay, struct octo_acquire_result *out)
{
	struct reply		 rp = { c, NULL, OCTO_OK };
	msgpack_packer		*pk;
	char			 status[16];
	uint32_t		 msgid;
	int			 r;

	memset(out, 0, sizeof(*out));
	out->renew_after_ms = out->retry_after_ms = -1;
	if (name == NULL)
		return client_end(c, arg_missing(c, "name"));
	pk = client_begin(c, "acquire", &msgid);
	msgpack_pack_map(pk, 1 + (ttl > 0) + (metadata != NULL) + (lock_delay >= 0));
	pack_kv_str(pk, "name", name);
	if (ttl > 0)
		pack_kv_int(pk, "ttl", ttl);
	if (metadata != NULL)
		pack_kv_str(pk, "metadata", metadata);
	if (lock_delay >= 0)
		pack_kv_int(pk, "lock_delay", lock_delay);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;

	rep_str(&rp, "status", status, sizeof(status), REP_REQ);
	if (!rep_str(&rp, "name", out->name, sizeof(out->name), REP_OPT) &&
	    rp.r == OCTO_OK)
		client_copy_text(out->name, sizeof(out->name), name, strlen(name));
	if (rp.r != OCTO_OK)
		;
	else if (strcmp(status, "acquired") == 0) {
		out->status = OCTO_ACQUIRE_ACQUIRED;
		rep_str(&rp, "lease_id", out->lease_id, sizeof(out->lease_id), REP_REQ);
		out->fencing_token = rep_uint(&rp, "fencing_token", REP_REQ, 0);
		rep_str(&rp, "expires_at", out->expires_at, sizeof(out->expires_at),
		    REP_OPT);
		out->renew_after_ms = rep_int(&rp, "renew_after_ms", REP_OPT, -1);
		out->has_metadata = rep_bytes(&rp, "metadata", out->metadata,
		    sizeof(out->metadata), &out->metadata_len);
	} else if (strcmp(status, "held") == 0) {
		out->status = OCTO_ACQUIRE_HELD;
		rep_str(&rp, "holder_id", out->holder_id, sizeof(out->holder_id),
		    REP_OPT);
		rep_str(&rp, "expires_at", out->expires_at, sizeof(out->expires_at),
		    REP_OPT);
		out->retry_after_ms = rep_int(&rp, "retry_after_ms", REP_OPT, -1);
		out->has_metadata = rep_bytes(&rp, "metadata", out->metadata,
		    sizeof(out->metadata), &out->metadata_len);
	} else if (strcmp(status, "delayed") == 0) {
		out->status = OCTO_ACQUIRE_DELAYED;
		rep_str(&rp, "available_at", out->available_at,
		    sizeof(out->available_at), REP_OPT);
		out->retry_after_ms = rep_int(&rp, "retry_after_ms", REP_OPT, -1);
	} else
		rep_bad(&rp, "status");
	if ((r = rp.r) != OCTO_OK || out->status == OCTO_ACQUIRE_ACQUIRED)
		goto out;
	/* Someone else has it: report it the way the SDK raises LockHeldError. */
	r = out->status == OCTO_ACQUIRE_HELD ? OCTO_ERR_LOCK_HELD : OCTO_ERR_LOCK_DELAYED;
	client_error(c, r, NULL);
	c->retry_after_ms = out->retry_after_ms;
	return client_end(c, r);
out:
	if (r != OCTO_OK) {
		memset(out, 0, sizeof(*out));
		out->renew_after_ms = out->retry_after_ms = -1;
	}
	return client_end(c, r);
}

/* release: give a lease back. */
int
octo_release(struct octo_client *c, const char *name, const char *lease_id)
{
	struct reply	 rp = { c, NULL, OCTO_OK };
	msgpack_packer	*pk;
	uint32_t	 msgid;
	int		 r;

	if (name == NULL)
		return client_end(c, arg_missing(c, "name"));
	if (lease_id == NULL)
		return client_end(c, arg_missing(c, "lease_id"));
	pk = client_begin(c, "release", &msgid);
	msgpack_pack_map(pk, 2);
	pack_kv_str(pk, "name", name);
	pack_kv_str(pk, "lease_id", lease_id);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (!rep_bool(&rp, "released", REP_OPT, 1) && rp.r == OCTO_OK)
		rep_bad(&rp, "released");
	r = rp.r;
out:
	return client_end(c, r);
}

/* renew: extend a lease. */
int
octo_renew(struct octo_client *c, const char *name, const char *lease_id, int ttl,
    struct octo_renew_result *out)
{
	struct reply	 rp = { c, NULL, OCTO_OK };
	msgpack_packer	*pk;
	uint32_t	 msgid;
	int		 r;

	memset(out, 0, sizeof(*out));
	out->renew_after_ms = -1;
	if (name == NULL)
		return client_end(c, arg_missing(c, "name"));
	if (lease_id == NULL)
		return client_end(c, arg_missing(c, "lease_id"));
	pk = client_begin(c, "renew", &msgid);
	msgpack_pack_map(pk, 2 + (ttl > 0));
	pack_kv_str(pk, "name", name);
	pack_kv_str(pk, "lease_id", lease_id);
	if (ttl > 0)
		pack_kv_int(pk, "ttl", ttl);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (!rep_str(&rp, "name", out->name, sizeof(out->name), REP_OPT))
		client_copy_text(out->name, sizeof(out->name), name, strlen(name));
	if (!rep_str(&rp, "lease_id", out->lease_id, sizeof(out->lease_id), REP_OPT))
		client_copy_text(out->lease_id, sizeof(out->lease_id), lease_id,
		    strlen(lease_id));
	rep_str(&rp, "expires_at", out->expires_at, sizeof(out->expires_at), REP_REQ);
	out->renew_after_ms = rep_int(&rp, "renew_after_ms", REP_OPT, -1);
	r = rp.r;
out:
	if (r != OCTO_OK) {
		memset(out, 0, sizeof(*out));
		out->renew_after_ms = -1;
	}
	return client_end(c, r);
}

/* One lock's status from a status or list result. */
static void
read_lock_info(struct reply *rp, struct octo_lock_info *li)
{
	char status[16];

	memset(li, 0, sizeof(*li));
	rep_str(rp, "name", li->name, sizeof(li->name), REP_REQ);
	rep_str(rp, "status", status, sizeof(status), REP_REQ);
	if (rp->r != OCTO_OK)
		return;
	if (strcmp(status, "held") == 0)
		li->held = 1;
	else if (strcmp(status, "free") != 0)
		rep_bad(rp, "status");
	rep_str(rp, "holder_id", li->holder_id, sizeof(li->holder_id), REP_OPT);
	li->fencing_token = rep_uint(rp, "fencing_token", REP_OPT, 0);
	rep_str(rp, "expires_at", li->expires_at, sizeof(li->expires_at), REP_OPT);
	li->has_metadata = rep_bytes(rp, "metadata", li->metadata, sizeof(li->metadata),
	    &li->metadata_len);
}

/* status: one lock. */
int
octo_status(struct octo_client *c, const char *name, struct octo_lock_info *out)
{
	struct reply	 rp = { c, NULL, OCTO_OK };
	msgpack_packer	*pk;
	uint32_t	 msgid;
	int		 r;

	memset(out, 0, sizeof(*out));
	if (name == NULL)
		return client_end(c, arg_missing(c, "name"));
	pk = client_begin(c, "status", &msgid);
	msgpack_pack_map(pk, 1);
	pack_kv_str(pk, "name", name);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	read_lock_info(&rp, out);
	r = rp.r;
out:
	if (r != OCTO_OK)
		memset(out, 0, sizeof(*out));
	return client_end(c, r);
}

/* list: locks under a prefix. */
int
octo_list(struct octo_client *c, const char *prefix, struct octo_lock_list *out)
{
	struct reply		 rp = { c, NULL, OCTO_OK }, item;
	const msgpack_object	*o;
	msgpack_packer		*pk;
	uint32_t		 msgid, i;
	int			 r;

	memset(out, 0, sizeof(*out));
	pk = client_begin(c, "list", &msgid);
	msgpack_pack_map(pk, prefix != NULL ? 1 : 0);
	if (prefix != NULL)
		pack_kv_str(pk, "prefix", prefix);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (octo_proto_get(rp.map, "locks", &o) != OCTO_OK ||
	    o->type != MSGPACK_OBJECT_ARRAY) {
		rep_bad(&rp, "locks");
		r = rp.r;
		goto out;
	}
	if (o->via.array.size > 0 &&
	    (out->locks = calloc(o->via.array.size, sizeof(*out->locks))) == NULL) {
		r = client_error(c, OCTO_ERR_NOMEM, NULL);
		goto out;
	}
	for (i = 0; rp.r == OCTO_OK && i < o->via.array.size; i++) {
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_MAP) {
			rep_bad(&rp, "locks");
			break;
		}
		item = rp;
		item.map = &o->via.array.ptr[i];
		read_lock_info(&item, &out->locks[i]);
		rp.r = item.r;
		out->nlocks++;
	}
	out->total = rep_uint(&rp, "total", REP_OPT, out->nlocks);
	out->has_prefix = rep_str(&rp, "prefix", out->prefix, sizeof(out->prefix),
	    REP_OPT);
	r = rp.r;
out:
	if (r != OCTO_OK)
		octo_list_free(out);
	return client_end(c, r);
}

/* Free what octo_list() allocated. */
void
octo_list_free(struct octo_lock_list *l)
{
	if (l == NULL)
		return;
	free(l->locks);
	memset(l, 0, sizeof(*l));
}

/* rotate_token: have the daemon rotate its bearer token. */
int
octo_rotate_token(struct octo_client *c, struct octo_rotate_result *out)
{
	struct reply	 rp = { c, NULL, OCTO_OK };
	msgpack_packer	*pk;
	uint32_t	 msgid;
	int		 r;

	memset(out, 0, sizeof(*out));
	pk = client_begin(c, "rotate_token", &msgid);
	msgpack_pack_map(pk, 0);
	if ((r = client_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (!rep_bool(&rp, "rotated", REP_REQ, 0) && rp.r == OCTO_OK)
		rep_bad(&rp, "rotated");
	rep_str(&rp, "user_id", out->user_id, sizeof(out->user_id), REP_OPT);
	rep_str(&rp, "namespace", out->ns, sizeof(out->ns), REP_OPT);
	out->persisted = rep_bool(&rp, "persisted", REP_OPT, 0);
	r = rp.r;
out:
	if (r != OCTO_OK)
		memset(out, 0, sizeof(*out));
	return client_end(c, r);
}
