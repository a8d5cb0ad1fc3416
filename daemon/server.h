/* server.h - the listening Unix socket: creation, activation, accept. */
#ifndef SERVER_H
#define SERVER_H

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

/* Limits that may change at runtime (SIGHUP). */
void server_set_max_clients(unsigned max_clients);

/* The event base, for modules that need it. */
struct event_base *server_base(void);

#endif
