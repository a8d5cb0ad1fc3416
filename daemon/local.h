/* local.h - the embedded lock authority (backend = local): leases, fencing tokens and
 * sessions kept by the daemon itself, made durable by group commit to a log. */
#ifndef LOCAL_H
#define LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "api.h"
#include "backend.h"

struct event_base;
struct req;

extern const struct backend backend_local;

/*
 * Open (or create) the log in state_dir, replay it and start serving: leases held
 * before a restart stay held until their TTL runs out, tokens continue above the
 * highest persisted one.  Returns 0, or -1 with a message in err.
 */
int local_init(struct event_base *base, const char *state_dir, char *err, size_t errlen);

/* Write what is queued, answer pending calls with shutting_down, close and free. */
void local_shutdown(void);

/*
 * status and list from the table, as the parsed LockStatus / ListLocksResponse the
 * remote path gets; strings stay valid until the next call into this module.  The
 * list's array is allocated: free it with api_list_free().  0, or -1 on ENOMEM.
 */
void local_status(const char *name, struct api_lock_status *out);
int local_list(const char *prefix, struct api_list *out);

/* max_names and max_names_per_uid (config keys), applied to new names from now on. */
void local_set_limits(unsigned max_names, unsigned max_per_uid);

/* 1 when the local backend is in use; then local_pack_status packs the key "names"
 * and its map {count, max_names, max_names_per_uid, by_uid} for daemon_status. */
int local_active(void);
void local_pack_status(msgpack_packer *pk);

/* health of the local authority, in the shape PROTOCOL.md gives for health. */
void local_op_health(struct req *r);

/* release and renew of a lease not held through the lease registry (for example one
 * held before a restart): answered from the table, for the uid that took the lease
 * (recorded in the log) or root; anyone else gets not_owner. */
void local_op_release(struct req *r, const char *name, const char *lease_id);
void local_op_renew(struct req *r, const char *name, const char *lease_id, int64_t ttl);

#endif
