/* conn.h - one client connection: buffers, framing, backpressure, lifetime. */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

struct conn;

/* Per-connection limits, from the configuration. */
struct conn_limits {
	size_t		max_msg;	/* max_message_size */
	unsigned	max_inflight;	/* max_inflight */
	unsigned	idle_timeout_ms; /* idle_timeout */
};

/* Set the limits (startup; SIGHUP for all but max_msg). */
void conn_set_limits(const struct conn_limits *lim);

struct access_peer;

/* Take ownership of an accepted, credential-checked socket. */
struct conn *conn_new(int fd, const struct access_peer *peer);

/* Reference counting: whatever outlives a callback holds a reference. */
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* True once the client has gone (or is being closed). */
int conn_dead(const struct conn *c);

/* Peer credentials captured at accept (SO_PEERCRED). */
const struct access_peer *conn_peer(const struct conn *c);
uid_t conn_uid(const struct conn *c);
gid_t conn_gid(const struct conn *c);
pid_t conn_pid(const struct conn *c);
uint64_t conn_id(const struct conn *c);

/*
 * Is the peer still the process that connected (same pid and start time)?  1 yes, 0 it
 * has exited (its pid may name another process now), -1 unknown (pid 0, /proc hidden).
 * One read of /proc: call it when a pid is about to be reported, not per request.
 */
int conn_peer_current(struct conn *c);

/* The peer's start time read at accept: PROCSTAT_ALIVE (*start set), _GONE or _UNKNOWN. */
int conn_peer_start(const struct conn *c, uint64_t *start);

/* The packer that appends to c's output; call conn_flush() when a message is complete. */
msgpack_packer *conn_packer(struct conn *c);

/* Add delta to the leases counted against c; returns the new count. */
unsigned conn_leases_adjust(struct conn *c, int delta);

/* A request was accepted for dispatch (counts against max_inflight). */
void conn_request_begin(struct conn *c);

/* A reply (was_reply) or a notification is complete on conn_packer(): send it. */
void conn_message_done(struct conn *c, int was_reply);

/* Close all connections (shutdown) and report how many are open. */
void conn_close_all(void);
unsigned conn_count(void);
uint64_t conn_total(void);

/* Open connections from uid (max_clients_per_uid). */
unsigned conn_count_uid(uid_t uid);

/* Open from uids is_admin accepts, and the most open from any one other uid. */
void conn_usage(int (*is_admin)(uid_t), unsigned *admin, unsigned *top);

/* Stop reading new requests from every connection (shutdown drains in-flight work). */
void conn_stop_reading_all(void);

/* Number of requests waiting for a reply across all connections. */
unsigned conn_inflight_total(void);

#endif
