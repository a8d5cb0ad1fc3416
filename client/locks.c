/* locks.c - liboctostore lock calls: acquire, release, renew, status, list, rotate_token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* No local view: the fields that say "not reported". */
static void
local_none(struct octo_local_holder *lh)
{
	memset(lh, 0, sizeof(*lh));
	lh->pid = -1;
	lh->uid = -1;
	lh->detached = -1;
}

/*
 * The "local" map of a status or list entry: { state, pid, pid_stale, uid, detached }
 * (only state for "lost").  Absent: not held through this daemon.
 */
static void
read_local_map(struct reply *rp, struct octo_local_holder *lh)
{
	const msgpack_object	*o;
	struct reply		 sub = *rp;

	local_none(lh);
	if (octo_proto_get(rp->map, "local", &o) != OCTO_OK ||
	    o->type == MSGPACK_OBJECT_NIL)
		return;
	if (o->type != MSGPACK_OBJECT_MAP) {
		reply_bad(rp, "local");
		return;
	}
	sub.map = o;
	reply_str(&sub, "state", lh->state, sizeof(lh->state), REPLY_REQ);
	lh->pid = reply_int(&sub, "pid", REPLY_OPT, -1);
	lh->pid_stale = reply_bool(&sub, "pid_stale", REPLY_OPT, 0);
	lh->uid = reply_int(&sub, "uid", REPLY_OPT, -1);
	lh->detached = reply_bool(&sub, "detached", REPLY_OPT, -1);
	lh->present = sub.r == OCTO_OK;
	rp->r = sub.r;
}

/* The holder fields of a "held" acquire result, when the holder is a local client. */
static void
read_local_held(struct reply *rp, struct octo_local_holder *lh)
{
	local_none(lh);
	if (!reply_bool(rp, "local", REPLY_OPT, 0))
		return;
	strcpy(lh->state, "held");
	lh->pid = reply_int(rp, "holder_pid", REPLY_OPT, -1);
	lh->pid_stale = reply_bool(rp, "holder_pid_stale", REPLY_OPT, 0);
	lh->uid = reply_int(rp, "holder_uid", REPLY_OPT, -1);
	lh->present = rp->r == OCTO_OK;
}

/* Pack "key": seconds, a float when ms is not whole seconds. */
static void
locks_kv_seconds(msgpack_packer *pk, const char *key, int64_t ms)
{
	octo_proto_pack_str(pk, key);
	if (ms % 1000 == 0)
		msgpack_pack_int64(pk, ms / 1000);
	else
		msgpack_pack_double(pk, (double)ms / 1000);
}

/* An argument refused before anything is sent: OCTO_ERR_INVALID_ARGUMENT naming it. */
static int
locks_invalid(struct octo_client *c, const char *param, const char *why)
{
	client_error(c, OCTO_ERR_INVALID_ARGUMENT, "%s: %s", param, why);
	snprintf(c->errparam, sizeof(c->errparam), "%s", param);
	return rpc_end(c, OCTO_ERR_INVALID_ARGUMENT);
}

/* acquire with options: held and delayed are returned as errors with out filled. */
int
octo_acquire_ex(struct octo_client *c, const char *name,
    const struct octo_acquire_opts *opts, struct octo_acquire_result *out)
{
	static const struct octo_acquire_opts defaults = { .lock_delay = -1 };
	struct reply		 rp = { c, NULL, OCTO_OK };
	msgpack_packer		*pk;
	char			 status[16];
	uint32_t		 msgid;
	int64_t			 t;
	int			 r, saved_timeout;

	memset(out, 0, sizeof(*out));
	out->renew_after_ms = out->retry_after_ms = -1;
	if (opts == NULL)
		opts = &defaults;
	if (name == NULL)
		return rpc_end(c, rpc_arg_missing(c, "name"));
	/* 0 asks for the daemon's default; a negative ttl is a caller's mistake. */
	if (opts->ttl < 0)
		return locks_invalid(c, "ttl", "negative (0: the daemon's default)");
	if (opts->wait_ms < 0 || opts->wait_ms > OCTO_WAIT_MAX_MS)
		return locks_invalid(c, "wait", "out of range");
	if ((opts->detach && opts->hold_ms <= 0) || (!opts->detach && opts->hold_ms != 0) ||
	    opts->hold_ms < 0)
		return locks_invalid(c, "hold", "required with detach, and only with it");
	pk = rpc_begin(c, "acquire", &msgid);
	msgpack_pack_map(pk, 1 + (opts->ttl > 0) + (opts->metadata != NULL) +
	    (opts->lock_delay >= 0) + (opts->wait_ms > 0) + 2 * (opts->detach != 0));
	rpc_kv_str(pk, "name", name);
	if (opts->ttl > 0)
		rpc_kv_int(pk, "ttl", opts->ttl);
	if (opts->metadata != NULL)
		rpc_kv_str(pk, "metadata", opts->metadata);
	if (opts->lock_delay >= 0)
		rpc_kv_int(pk, "lock_delay", opts->lock_delay);
	if (opts->wait_ms > 0)
		locks_kv_seconds(pk, "wait", opts->wait_ms);
	if (opts->detach) {
		octo_proto_pack_str(pk, "detach");
		msgpack_pack_true(pk);
		locks_kv_seconds(pk, "hold", opts->hold_ms);
	}
	/* The reply to a waited acquire comes when the wait ends: cover it. */
	saved_timeout = c->timeout_ms;
	if (opts->wait_ms > 0 && c->timeout_ms >= 0) {
		t = opts->wait_ms + OCTO_WAIT_MARGIN_MS;
		if (t > c->timeout_ms)
			c->timeout_ms = t > INT32_MAX ? INT32_MAX : (int)t;
	}
	r = rpc_call(c, msgid, &rp.map);
	c->timeout_ms = saved_timeout;
	if (r != OCTO_OK)
		goto out;

	reply_str(&rp, "status", status, sizeof(status), REPLY_REQ);
	if (!reply_str(&rp, "name", out->name, sizeof(out->name), REPLY_OPT) &&
	    rp.r == OCTO_OK)
		client_copy_text(out->name, sizeof(out->name), name, strlen(name));
	if (rp.r != OCTO_OK)
		;
	else if (strcmp(status, "acquired") == 0) {
		out->status = OCTO_ACQUIRE_ACQUIRED;
		reply_str(&rp, "lease_id", out->lease_id, sizeof(out->lease_id), REPLY_REQ);
		out->fencing_token = reply_uint(&rp, "fencing_token", REPLY_REQ, 0);
		reply_str(&rp, "expires_at", out->expires_at, sizeof(out->expires_at),
		    REPLY_OPT);
		out->renew_after_ms = reply_int(&rp, "renew_after_ms", REPLY_OPT, -1);
		out->has_metadata = reply_bytes(&rp, "metadata", out->metadata,
		    sizeof(out->metadata), &out->metadata_len);
	} else if (strcmp(status, "held") == 0) {
		out->status = OCTO_ACQUIRE_HELD;
		reply_str(&rp, "holder_id", out->holder_id, sizeof(out->holder_id),
		    REPLY_OPT);
		reply_str(&rp, "expires_at", out->expires_at, sizeof(out->expires_at),
		    REPLY_OPT);
		out->retry_after_ms = reply_int(&rp, "retry_after_ms", REPLY_OPT, -1);
		out->has_metadata = reply_bytes(&rp, "metadata", out->metadata,
		    sizeof(out->metadata), &out->metadata_len);
		read_local_held(&rp, &out->local);
	} else if (strcmp(status, "delayed") == 0) {
		out->status = OCTO_ACQUIRE_DELAYED;
		reply_str(&rp, "available_at", out->available_at,
		    sizeof(out->available_at), REPLY_OPT);
		out->retry_after_ms = reply_int(&rp, "retry_after_ms", REPLY_OPT, -1);
	} else
		reply_bad(&rp, "status");
	if ((r = rp.r) != OCTO_OK || out->status == OCTO_ACQUIRE_ACQUIRED)
		goto out;
	/* Someone else has it: report it the way the SDK raises LockHeldError. */
	r = out->status == OCTO_ACQUIRE_HELD ? OCTO_ERR_LOCK_HELD : OCTO_ERR_LOCK_DELAYED;
	client_error(c, r, NULL);
	c->retry_after_ms = out->retry_after_ms;
	return rpc_end(c, r);
out:
	if (r != OCTO_OK) {
		memset(out, 0, sizeof(*out));
		out->renew_after_ms = out->retry_after_ms = -1;
	}
	return rpc_end(c, r);
}

/* acquire: take a lock, without waiting. */
int
octo_acquire(struct octo_client *c, const char *name, int ttl, const char *metadata,
    int lock_delay, struct octo_acquire_result *out)
{
	struct octo_acquire_opts o;

	memset(&o, 0, sizeof(o));
	o.ttl = ttl;
	o.metadata = metadata;
	o.lock_delay = lock_delay;
	return octo_acquire_ex(c, name, &o, out);
}

/* Mark the handles of lease_id lost: a lease_lost notification arrived. */
void
locks_mark_lost(struct octo_client *c, const char *lease_id)
{
	struct octo_lease *l;

	for (l = c->leases; l != NULL; l = l->next) {
		if (strcmp(l->lease_id, lease_id) == 0)
			l->lost = 1;
	}
}

/* Acquire into a new lease handle. */
int
octo_lease_acquire(struct octo_client *c, const char *name,
    const struct octo_acquire_opts *opts, struct octo_lease **out)
{
	struct octo_acquire_result	 a;
	struct octo_lease		*l;
	int				 r;

	*out = NULL;
	if ((r = octo_acquire_ex(c, name, opts, &a)) != OCTO_OK)
		return r;
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		/* Do not keep a lease nobody can release. */
		octo_release(c, a.name, a.lease_id);
		return client_error(c, OCTO_ERR_NOMEM, NULL);
	}
	l->c = c;
	l->fencing_token = a.fencing_token;
	memcpy(l->name, a.name, sizeof(l->name));
	memcpy(l->lease_id, a.lease_id, sizeof(l->lease_id));
	memcpy(l->expires_at, a.expires_at, sizeof(l->expires_at));
	l->next = c->leases;
	c->leases = l;
	*out = l;
	return OCTO_OK;
}

/* Release the lease of a handle; the handle stays until octo_lease_free(). */
int
octo_lease_release(struct octo_lease *l)
{
	if (l->c == NULL)
		return OCTO_ERR_CLOSED;
	return octo_release(l->c, l->name, l->lease_id);
}

/* Whether a lease_lost notification for the lease has arrived. */
int
octo_lease_lost(const struct octo_lease *l)
{
	return l->lost;
}

/* Accessors. */
const char *
octo_lease_name(const struct octo_lease *l)
{
	return l->name;
}

const char *
octo_lease_id(const struct octo_lease *l)
{
	return l->lease_id;
}

uint64_t
octo_lease_fencing_token(const struct octo_lease *l)
{
	return l->fencing_token;
}

const char *
octo_lease_expires_at(const struct octo_lease *l)
{
	return l->expires_at;
}

/* Free a handle (without releasing the lease); NULL is allowed. */
void
octo_lease_free(struct octo_lease *l)
{
	struct octo_lease **p;

	if (l == NULL)
		return;
	if (l->c != NULL) {
		for (p = &l->c->leases; *p != NULL; p = &(*p)->next) {
			if (*p == l) {
				*p = l->next;
				break;
			}
		}
	}
	free(l);
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
		return rpc_end(c, rpc_arg_missing(c, "name"));
	if (lease_id == NULL)
		return rpc_end(c, rpc_arg_missing(c, "lease_id"));
	pk = rpc_begin(c, "release", &msgid);
	msgpack_pack_map(pk, 2);
	rpc_kv_str(pk, "name", name);
	rpc_kv_str(pk, "lease_id", lease_id);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (!reply_bool(&rp, "released", REPLY_OPT, 1) && rp.r == OCTO_OK)
		reply_bad(&rp, "released");
	r = rp.r;
out:
	return rpc_end(c, r);
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
		return rpc_end(c, rpc_arg_missing(c, "name"));
	if (lease_id == NULL)
		return rpc_end(c, rpc_arg_missing(c, "lease_id"));
	if (ttl < 0)
		return locks_invalid(c, "ttl", "negative (0: the daemon's default)");
	pk = rpc_begin(c, "renew", &msgid);
	msgpack_pack_map(pk, 2 + (ttl > 0));
	rpc_kv_str(pk, "name", name);
	rpc_kv_str(pk, "lease_id", lease_id);
	if (ttl > 0)
		rpc_kv_int(pk, "ttl", ttl);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (!reply_str(&rp, "name", out->name, sizeof(out->name), REPLY_OPT))
		client_copy_text(out->name, sizeof(out->name), name, strlen(name));
	if (!reply_str(&rp, "lease_id", out->lease_id, sizeof(out->lease_id), REPLY_OPT))
		client_copy_text(out->lease_id, sizeof(out->lease_id), lease_id,
		    strlen(lease_id));
	reply_str(&rp, "expires_at", out->expires_at, sizeof(out->expires_at), REPLY_REQ);
	out->renew_after_ms = reply_int(&rp, "renew_after_ms", REPLY_OPT, -1);
	r = rp.r;
out:
	if (r != OCTO_OK) {
		memset(out, 0, sizeof(*out));
		out->renew_after_ms = -1;
	}
	return rpc_end(c, r);
}

/* One lock's status from a status or list result. */
static void
read_lock_info(struct reply *rp, struct octo_lock_info *li)
{
	char status[16];

	memset(li, 0, sizeof(*li));
	reply_str(rp, "name", li->name, sizeof(li->name), REPLY_REQ);
	reply_str(rp, "status", status, sizeof(status), REPLY_REQ);
	if (rp->r != OCTO_OK)
		return;
	if (strcmp(status, "held") == 0)
		li->held = 1;
	else if (strcmp(status, "lost") == 0)
		li->lost = 1;
	else if (strcmp(status, "free") != 0)
		reply_bad(rp, "status");
	reply_str(rp, "holder_id", li->holder_id, sizeof(li->holder_id), REPLY_OPT);
	li->fencing_token = reply_uint(rp, "fencing_token", REPLY_OPT, 0);
	reply_str(rp, "expires_at", li->expires_at, sizeof(li->expires_at), REPLY_OPT);
	li->has_metadata = reply_bytes(rp, "metadata", li->metadata, sizeof(li->metadata),
	    &li->metadata_len);
	read_local_map(rp, &li->local);
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
		return rpc_end(c, rpc_arg_missing(c, "name"));
	pk = rpc_begin(c, "status", &msgid);
	msgpack_pack_map(pk, 1);
	rpc_kv_str(pk, "name", name);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	read_lock_info(&rp, out);
	r = rp.r;
out:
	if (r != OCTO_OK)
		memset(out, 0, sizeof(*out));
	return rpc_end(c, r);
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
	pk = rpc_begin(c, "list", &msgid);
	msgpack_pack_map(pk, prefix != NULL ? 1 : 0);
	if (prefix != NULL)
		rpc_kv_str(pk, "prefix", prefix);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (octo_proto_get(rp.map, "locks", &o) != OCTO_OK ||
	    o->type != MSGPACK_OBJECT_ARRAY) {
		reply_bad(&rp, "locks");
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
			reply_bad(&rp, "locks");
			break;
		}
		item = rp;
		item.map = &o->via.array.ptr[i];
		read_lock_info(&item, &out->locks[i]);
		rp.r = item.r;
		out->nlocks++;
	}
	out->total = reply_uint(&rp, "total", REPLY_OPT, out->nlocks);
	out->has_prefix = reply_str(&rp, "prefix", out->prefix, sizeof(out->prefix),
	    REPLY_OPT);
	r = rp.r;
out:
	if (r != OCTO_OK)
		octo_list_free(out);
	return rpc_end(c, r);
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
	pk = rpc_begin(c, "rotate_token", &msgid);
	msgpack_pack_map(pk, 0);
	if ((r = rpc_call(c, msgid, &rp.map)) != OCTO_OK)
		goto out;
	if (!reply_bool(&rp, "rotated", REPLY_REQ, 0) && rp.r == OCTO_OK)
		reply_bad(&rp, "rotated");
	reply_str(&rp, "user_id", out->user_id, sizeof(out->user_id), REPLY_OPT);
	reply_str(&rp, "namespace", out->ns, sizeof(out->ns), REPLY_OPT);
	out->persisted = reply_bool(&rp, "persisted", REPLY_OPT, 0);
	r = rp.r;
out:
	if (r != OCTO_OK)
		memset(out, 0, sizeof(*out));
	return rpc_end(c, r);
}
