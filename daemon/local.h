/* local.h - the embedded lock authority (backend = local): leases, fencing tokens and
 * sessions kept by the daemon itself, made durable by group commit to a log. */
#ifndef LOCAL_H
#define LOCAL_H

#include <stddef.h>
#include <stdint.h>

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

/* health of the local authority, in the shape PROTOCOL.md gives for health. */
void local_op_health(struct req *r);

/* release and renew of a lease not held through the lease registry (for example one
 * held before a restart): answered from the table. */
void local_op_release(struct req *r, const char *name, const char *lease_id);
void local_op_renew(struct req *r, const char *name, const char *lease_id, int64_t ttl);

#endif
