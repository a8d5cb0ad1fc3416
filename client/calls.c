/* calls.c - liboctostore calls about the daemon: hello, ping, daemon_status, health. */
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "client.h"

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
	pk = rpc_begin(c, "hello", &msgid);
	msgpack_pack_map(pk, client_name != NULL ? 2 : 1);
	rpc_kv_int(pk, "version", OCTO_PROTO_VERSION);
	if (client_name != NULL)
		rpc_kv_str(pk, "client", client_name);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	h.protocol = (int)reply_int(&rp, "protocol", REPLY_REQ, 0);
	reply_str(&rp, "version", h.version, sizeof(h.version), REPLY_TEXT);
	h.max_message_size = reply_uint(&rp, "max_message_size", REPLY_OPT, 0);
	if (octo_proto_get(rp.map, "methods", &o) == OCTO_OK) {
		if (o->type != MSGPACK_OBJECT_ARRAY)
			reply_bad(&rp, "methods");
		for (i = 0; rp.r == OCTO_OK && i < o->via.array.size &&
		    h.nmethods < OCTO_MAX_METHODS; i++) {
			const msgpack_object *e = &o->via.array.ptr[i];

			if (e->type != MSGPACK_OBJECT_STR || octo_proto_strcpy(
			    h.methods[h.nmethods], OCTO_METHOD_SIZE, e->via.str.ptr,
			    e->via.str.size) != OCTO_OK)
				reply_bad(&rp, "methods");
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
	return rpc_end(c, r);
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
	pk = rpc_begin(c, "ping", &msgid);
	if (payload != NULL) {
		msgpack_pack_map(pk, 1);
		octo_proto_pack_str(pk, "payload");
		msgpack_pack_bin(pk, len);
		msgpack_pack_bin_body(pk, payload, len);
	} else
		msgpack_pack_map(pk, 0);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (octo_proto_get(rp.map, "payload", &o) == OCTO_OK) {
		if (o->type == MSGPACK_OBJECT_BIN) {
			p = o->via.bin.ptr;
			n = o->via.bin.size;
		} else if (o->type == MSGPACK_OBJECT_STR) {
			p = o->via.str.ptr;
			n = o->via.str.size;
		} else {
			reply_bad(&rp, "payload");
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
	return rpc_end(c, r);
}

/* One unsigned field of a daemon_status sub-map, and where it goes in the struct. */
struct calls_field {
	const char	*key;
	size_t		 off;
};

/*
 * Read the fields of the map at key into the struct at base (each a uint64_t at its
 * offset); *present is set when the map is there.  A missing or mistyped field fails
 * the reply.
 */
static void
calls_uint_map(struct reply *rp, const char *key, const struct calls_field *f, size_t n,
    void *base, int *present)
{
	struct reply	 sub = { rp->c, NULL, OCTO_OK };
	uint64_t	 v;
	size_t		 i;

	if (octo_proto_get(rp->map, key, &sub.map) != OCTO_OK)
		return;
	if (sub.map->type != MSGPACK_OBJECT_MAP) {
		reply_bad(rp, key);
		return;
	}
	for (i = 0; i < n; i++) {
		v = reply_uint(&sub, f[i].key, REPLY_REQ, 0);
		memcpy((char *)base + f[i].off, &v, sizeof(v));
	}
	if (sub.r != OCTO_OK)
		reply_bad(rp, key);
	else
		*present = 1;
}

#define CLIENT_FIELD(k)	{ #k, offsetof(struct octo_client_slots, k) }
static const struct calls_field calls_client_fields[] = {
	CLIENT_FIELD(max_clients), CLIENT_FIELD(max_clients_per_uid),
	CLIENT_FIELD(reserved_admin_clients), CLIENT_FIELD(admin_connections),
	CLIENT_FIELD(top_uid_connections), CLIENT_FIELD(refused_per_uid),
	CLIENT_FIELD(refused_reserved), CLIENT_FIELD(refused_full),
	CLIENT_FIELD(refused_groups),
};
#define NAME_FIELD(k)	{ #k, offsetof(struct octo_name_table, k) }
static const struct calls_field calls_name_fields[] = {
	NAME_FIELD(count), NAME_FIELD(max_names), NAME_FIELD(max_names_per_uid),
};
#define NFIELDS(a)	(sizeof(a) / sizeof((a)[0]))

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
	pk = rpc_begin(c, "daemon_status", &msgid);
	msgpack_pack_map(pk, 0);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	reply_str(&rp, "version", out->version, sizeof(out->version), REPLY_REQ | REPLY_TEXT);
	out->uptime_ms = reply_uint(&rp, "uptime_ms", REPLY_REQ, 0);
	/* Only administrators get the full view, which starts with the pid. */
	out->full = octo_proto_get(rp.map, "pid", &o) == OCTO_OK;
	out->pid = reply_int(&rp, "pid", out->full ? REPLY_REQ : REPLY_OPT, -1);
	out->connections = reply_uint(&rp, "connections", out->full, 0);
	out->connections_total = reply_uint(&rp, "connections_total", out->full, 0);
	out->errors = reply_uint(&rp, "errors", out->full, 0);
	if (octo_proto_get(rp.map, "requests", &o) == OCTO_OK) {
		if (o->type != MSGPACK_OBJECT_MAP)
			reply_bad(&rp, "requests");
		for (i = 0; rp.r == OCTO_OK && i < o->via.map.size &&
		    out->nrequests < OCTO_MAX_METHODS; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			struct octo_method_count *mc = &out->requests[out->nrequests];

			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    octo_proto_strcpy(mc->method, sizeof(mc->method),
			    kv->key.via.str.ptr, kv->key.via.str.size) != OCTO_OK)
				reply_bad(&rp, "requests");
			else {
				mc->count = kv->val.via.u64;
				out->nrequests++;
			}
		}
	} else if (out->full)
		reply_bad(&rp, "requests");
	calls_uint_map(&rp, "clients", calls_client_fields, NFIELDS(calls_client_fields),
	    &out->clients, &out->clients.present);
	calls_uint_map(&rp, "names", calls_name_fields, NFIELDS(calls_name_fields),
	    &out->names, &out->names.present);
	r = rp.r;
out:
	if (r != OCTO_OK)
		memset(out, 0, sizeof(*out));
	return rpc_end(c, r);
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
	pk = rpc_begin(c, "health", &msgid);
	msgpack_pack_map(pk, 0);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	reply_str(&rp, "status", out->status, sizeof(out->status), REPLY_REQ);
	reply_str(&rp, "base_url", out->base_url, sizeof(out->base_url), REPLY_TEXT);
	if (octo_proto_get(rp.map, "upstream", &o) == OCTO_OK) {
		if (o->type != MSGPACK_OBJECT_MAP)
			reply_bad(&rp, "upstream");
		up = rp;
		up.map = o;
		out->reachable = reply_bool(&up, "reachable", REPLY_OPT, 0);
		out->auth_ok = reply_bool(&up, "auth_ok", REPLY_OPT, -1);
		reply_str(&up, "last_error", out->last_error, sizeof(out->last_error),
		    REPLY_TEXT);
		reply_str(&up, "status", out->upstream_status,
		    sizeof(out->upstream_status), REPLY_TEXT);
		reply_str(&up, "storage", out->storage, sizeof(out->storage), REPLY_TEXT);
		out->db_size_bytes = reply_int(&up, "db_size_bytes", REPLY_OPT, -1);
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
	return rpc_end(c, r);
}
