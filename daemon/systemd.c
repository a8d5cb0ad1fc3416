/* systemd.c - socket activation, sd_notify, watchdog and journal detection. */

#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "config.h"
#include "log.h"
#include "systemd.h"

/* Longest STATUS= line kept; longer summaries are cut. */
#define SYSTEMD_STATUS_MAX	256

#ifdef HAVE_SYSTEMD
static struct event	*systemd_watchdog_ev;
static char		 systemd_last_status[SYSTEMD_STATUS_MAX];
static int		 systemd_notify_failed;

/* Send one notification; log the first failure only, the loop keeps going. */
static void
systemd_notify(const char *msg)
{
	int	r;

	r = sd_notify(0, msg);
	if (r < 0 && !systemd_notify_failed) {
		systemd_notify_failed = 1;
		log_warn("sd_notify failed: %s", strerror(-r));
	}
}

/* Watchdog timer: tell the manager the event loop still turns. */
static void
systemd_watchdog_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;

	systemd_notify("WATCHDOG=1");
}
#endif

/*
 * The listening socket passed by systemd, or -1 when none was passed.  A passed set
 * that is not exactly one listening Unix stream socket is logged as an error and
 * also gives -1 (the passed descriptors are closed).  The socket returned is
 * close-on-exec and non-blocking; its file belongs to the socket unit.
 */
int
systemd_activation_fd(void)
{
#ifdef HAVE_SYSTEMD
	int	n, r, fd, i, flags;

	n = sd_listen_fds(1);
	if (n < 0) {
		log_error("sd_listen_fds: %s", strerror(-n));
		return (-1);
	}
	if (n == 0)
		return (-1);
	if (n != 1) {
		log_error("socket activation passed %d sockets, expected 1", n);
		goto fail;
	}

	fd = SD_LISTEN_FDS_START;
	r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
	if (r < 0) {
		log_error("sd_is_socket_unix: %s", strerror(-r));
		goto fail;
	}
	if (r == 0) {
		log_error("activation socket is not a listening Unix stream socket");
		goto fail;
	}

	if ((flags = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1 ||
	    (flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		log_error("activation socket fcntl: %s", strerror(errno));
		goto fail;
	}
	log_info("using socket from systemd activation fd=%d", fd);
	return (fd);

fail:
	for (i = 0; i < n; i++)
		close(SD_LISTEN_FDS_START + i);
	return (-1);
#else
	return (-1);
#endif
}

/*
 * An activated socket keeps the group and mode its unit gave it (SocketGroup=,
 * SocketMode=); say so when they are not what the configuration asks for.
 */
void
systemd_check_socket(int fd, const struct config *cfg)
{
	struct sockaddr_un	sun;
	socklen_t		len = sizeof(sun);
	struct stat		st;
	int			group_differs, mode_differs;

	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    sun.sun_path[0] != '/' || stat(sun.sun_path, &st) == -1) {
		log_warn("activated socket: cannot read its file's group and mode");
		return;
	}
	group_differs = cfg->socket_group != NULL && st.st_gid != cfg->socket_gid;
	mode_differs = (st.st_mode & 07777) != cfg->socket_mode;
	if (group_differs || mode_differs)
		log_warn("activated socket %s has gid=%u mode=%04o from its unit "
		    "(SocketGroup=, SocketMode=), which the daemon keeps; the configuration "
		    "says socket_group=%s socket_mode=%04o", sun.sun_path,
		    (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777),
		    cfg->socket_group != NULL ? cfg->socket_group : "(unset)",
		    (unsigned)cfg->socket_mode);
}

/*
 * True when fd 2 is the stream the service manager connected to the journal:
 * JOURNAL_STREAM holds "device:inode" of that stream.  Needs no libsystemd, so
 * it works in a --without-systemd build too.
 */
int
systemd_journal_stderr(void)
{
	const char		*env;
	struct stat		 sb;
	unsigned long long	 dev, ino;
	char			 trail;

	if ((env = getenv("JOURNAL_STREAM")) == NULL)
		return (0);
	if (sscanf(env, "%llu:%llu%c", &dev, &ino, &trail) != 2)
		return (0);
	if (fstat(STDERR_FILENO, &sb) == -1)
		return (0);
	return ((unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino);
}

/* Start the watchdog timer at half the interval the manager asked for. */
void
systemd_watchdog_start(struct event_base *base)
{
#ifdef HAVE_SYSTEMD
	uint64_t	usec;
	struct timeval	tv;
	int		r;

	if (systemd_watchdog_ev != NULL)
		return;
	r = sd_watchdog_enabled(0, &usec);
	if (r < 0) {
		log_warn("sd_watchdog_enabled: %s", strerror(-r));
		return;
	}
	if (r == 0 || usec == 0)
		return;

	usec /= 2;
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	systemd_watchdog_ev = event_new(base, -1, EV_PERSIST, systemd_watchdog_cb,
	    NULL);
	if (systemd_watchdog_ev == NULL) {
		log_error("watchdog: event_new failed");
		return;
	}
	if (event_add(systemd_watchdog_ev, &tv) == -1) {
		log_error("watchdog: event_add failed");
		event_free(systemd_watchdog_ev);
		systemd_watchdog_ev = NULL;
		return;
	}
	log_debug("watchdog every %" PRIu64 "us", usec);
	systemd_notify("WATCHDOG=1");
#else
	(void)base;
#endif
}

/* Listening and configured: the manager may start dependent units. */
void
systemd_ready(void)
{
#ifdef HAVE_SYSTEMD
	systemd_notify("READY=1");
#endif
}

/*
 * Reload begins; systemd_ready() ends it.  MONOTONIC_USEC is what systemd 253's
 * Type=notify-reload requires; older managers ignore it.
 */
void
systemd_reloading(void)
{
#ifdef HAVE_SYSTEMD
	struct timespec	ts;
	char		msg[64];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		systemd_notify("RELOADING=1");
		return;
	}
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	systemd_notify(msg);
#endif
}

/* Shutdown begins. */
void
systemd_stopping(void)
{
#ifdef HAVE_SYSTEMD
	systemd_notify("STOPPING=1");
#endif
}

/* Send STATUS= when the summary differs from the last one sent. */
void
systemd_status(const char *fmt, ...)
{
#ifdef HAVE_SYSTEMD
	char	status[SYSTEMD_STATUS_MAX];
	char	msg[sizeof "STATUS=" + SYSTEMD_STATUS_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof status, fmt, ap);
	va_end(ap);

	/* One line: a newline would start a new KEY= assignment. */
	status[strcspn(status, "\n")] = '\0';
	if (strcmp(status, systemd_last_status) == 0)
		return;
	memcpy(systemd_last_status, status, sizeof systemd_last_status);

	snprintf(msg, sizeof msg, "STATUS=%s", status);
	systemd_notify(msg);
#else
	(void)fmt;
#endif
}

/* Stop the watchdog and forget the last status. */
void
systemd_shutdown(void)
{
#ifdef HAVE_SYSTEMD
	if (systemd_watchdog_ev != NULL) {
		event_free(systemd_watchdog_ev);
		systemd_watchdog_ev = NULL;
	}
	systemd_last_status[0] = '\0';
#endif
}
