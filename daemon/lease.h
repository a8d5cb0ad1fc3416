/* lease.h - the registry of leases held through this daemon: ownership, local
 * arbitration, automatic renewal, loss and release. */
#ifndef LEASE_H
#define LEASE_H

#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include "api.h"

struct event_base;
struct req;
struct conn;

/* A validated acquire request. */
struct lease_args {
	char		name[API_NAME_MAX + 1];
	int64_t		ttl;			/* seconds */
	char		metadata[API_METADATA_MAX + 1];
	int		has_metadata;
	int64_t		lock_delay;		/* seconds */
	int64_t		wait_ms;		/* 0: answer at once */
	int		detach;
	int64_t		hold_ms;		/* detached: renew this long */
};

/* Set up on base. */
void lease_init(struct event_base *base);

/* Limits: leases per client connection and per uid (detached ones count for the uid). */
void lease_set_limits(unsigned per_client, unsigned per_uid);

/* acquire: answers r, now or later. */
void lease_acquire(struct req *r, const struct lease_args *a);

/*
 * release and renew of a lease held through this daemon: answer r and return 1; or
 * return 0 when this daemon holds no such lease (the caller forwards the request).
 */
int lease_release(struct req *r, const char *name, const char *lease_id);
int lease_renew(struct req *r, const char *name, const char *lease_id, int64_t ttl);

/* status/list: extra fields for a name held through this daemon. */
int lease_local_fields(const char *name, int64_t upstream_token);
void lease_pack_local(msgpack_packer *pk, const char *name, int64_t upstream_token);

/* True when (name, token) is a lease this daemon declared lost. */
int lease_is_lost(const char *name, int64_t upstream_token);

/* Release a detached lease a previous daemon recorded (leasefile.c): 0, or -1. */
int lease_recover(const char *name, const char *lease_id, uid_t uid);

/* Hooks: a client connection went away; the upstream session was lost. */
void lease_conn_gone(struct conn *c);
void lease_session_lost(const char *why);

/* Shutdown: answer waiters, release every lease. */
void lease_shutdown(void);

/* Leases and names in the registry (held, acquiring or releasing). */
unsigned lease_count(void);

/* Free what remains (after shutdown). */
void lease_free_all(void);

#endif
