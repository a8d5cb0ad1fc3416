/* systemd.h - every libsystemd call of the daemon goes through systemd.c. */
#ifndef SYSTEMD_H
#define SYSTEMD_H

#include <event2/event.h>

/* Listening Unix socket passed by systemd socket activation, or -1 for none. */
int systemd_activation_fd(void);

struct config;

/* Log when an activated socket's group or mode differs from cfg's socket_group and
 * socket_mode (the unit's settings stay). */
void systemd_check_socket(int fd, const struct config *cfg);

/* True when stderr is connected to the journal (JOURNAL_STREAM matches fd 2). */
int systemd_journal_stderr(void);

/* Start the watchdog timer on base when WATCHDOG_USEC asks for it. */
void systemd_watchdog_start(struct event_base *base);

/* Tell the service manager we are ready, reloading, or stopping. */
void systemd_ready(void);
void systemd_reloading(void);
void systemd_stopping(void);

/* One-line status summary (STATUS=); sent only when it changed. */
void systemd_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Stop the watchdog timer and free what systemd.c holds. */
void systemd_shutdown(void);

#endif
