/* server.h - the listening Unix socket: creation, activation, accept. */
#ifndef SERVER_H
#define SERVER_H

#include <stdint.h>

#include <event2/event.h>

#include "config.h"

/*
 * Start listening: adopt activated_fd when >= 0 (socket activation; the socket file is
 * then systemd's), otherwise create cfg->socket_path race-free.  Returns 0 or -1 with a
 * message in err.
 */
int server_start(struct event_base *base, const struct config *cfg, int activated_fd,
    char *err, size_t errlen);

/* Stop accepting; remove the socket file if we created it. */
void server_stop(void);

/* SIGHUP: apply cfg's socket_group and socket_mode to the socket we created (an
 * activated one keeps its unit's; a difference is logged) and to the policy. */
void server_reconfigure(const struct config *cfg);

/*
 * Limits that may change at runtime (SIGHUP): max_clients, max_clients_per_uid,
 * reserved_admin_clients and the admin uids that may use the reserved slots.
 */
void server_set_limits(const struct config *cfg);

/* Client slot limits in force and refusals counted, for daemon_status. */
struct server_stats {
	unsigned	max_clients;
	unsigned	max_clients_per_uid;
	unsigned	reserved_admin_clients;
	unsigned	admin_connections;	/* open now from root and admin_uids */
	unsigned	top_uid_connections;	/* most open now from one non-admin uid */
	uint64_t	refused_per_uid;	/* max_clients_per_uid reached */
	uint64_t	refused_reserved;	/* only reserved slots were left */
	uint64_t	refused_full;		/* max_clients reached */
	uint64_t	refused_groups;		/* groups could not be read */
};
void server_stats(struct server_stats *st);

/* The event base, for modules that need it. */
struct event_base *server_base(void);

#endif
