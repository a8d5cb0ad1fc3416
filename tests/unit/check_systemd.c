/*
 * check_systemd.c - unit tests for daemon/systemd.c (issue 5): socket activation
 * checks, journal stream detection, and the notification messages.  Each test runs in
 * its own forked process (check's default), so it may take over fd 3 and the
 * environment.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "systemd.h"

START_TEST(activation_none)
{
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	ck_assert_int_eq(systemd_activation_fd(), -1);
}
END_TEST

#ifdef HAVE_SYSTEMD
/* Put a fresh socket of type on fd 3, listening when asked; returns its path. */
static void
fd3_socket(int type, int listening, char *path, size_t len)
{
	struct sockaddr_un	sun;
	int			fd;

	snprintf(path, len, "/tmp/check_systemd.%ld.sock", (long)getpid());
	unlink(path);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof sun.sun_path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, type, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 8), 0);
	if (fd != 3) {
		ck_assert_int_eq(dup2(fd, 3), 3);
		close(fd);
	}
}

/* Announce n passed descriptors to this process, as systemd does. */
static void
set_listen_env(int n, pid_t pid)
{
	char	buf[32];

	snprintf(buf, sizeof buf, "%ld", (long)pid);
	setenv("LISTEN_PID", buf, 1);
	snprintf(buf, sizeof buf, "%d", n);
	setenv("LISTEN_FDS", buf, 1);
}

/* True when fd is open. */
static int
fd_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1 || errno != EBADF);
}

START_TEST(activation_one_unix_stream)
{
	char	path[108];
	int	fd;

	fd3_socket(SOCK_STREAM, 1, path, sizeof path);
	set_listen_env(1, getpid());
	fd = systemd_activation_fd();
	ck_assert_int_eq(fd, 3);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	/* Not passed on to children. */
	ck_assert_ptr_null(getenv("LISTEN_FDS"));
	ck_assert_ptr_null(getenv("LISTEN_PID"));
	unlink(path);
}
END_TEST

START_TEST(activation_datagram_refused)
{
	char	path[108];

	fd3_socket(SOCK_DGRAM, 0, path, sizeof path);
	set_listen_env(1, getpid());
	ck_assert_int_eq(systemd_activation_fd(), -1);
	ck_assert(!fd_open(3));
	unlink(path);
}
END_TEST

START_TEST(activation_not_listening_refused)
{
	char	path[108];

	fd3_socket(SOCK_STREAM, 0, path, sizeof path);
	set_listen_env(1, getpid());
	ck_assert_int_eq(systemd_activation_fd(), -1);
	unlink(path);
}
END_TEST

START_TEST(activation_two_refused)
{
	char	path[108];

	fd3_socket(SOCK_STREAM, 1, path, sizeof path);
	ck_assert_int_eq(dup2(3, 4), 4);
	set_listen_env(2, getpid());
	ck_assert_int_eq(systemd_activation_fd(), -1);
	ck_assert(!fd_open(3));
	ck_assert(!fd_open(4));
	unlink(path);
}
END_TEST

START_TEST(activation_other_pid_ignored)
{
	char	path[108];

	fd3_socket(SOCK_STREAM, 1, path, sizeof path);
	set_listen_env(1, getpid() + 1);
	ck_assert_int_eq(systemd_activation_fd(), -1);
	/* Meant for another process: left alone. */
	ck_assert(fd_open(3));
	unlink(path);
}
END_TEST
#endif

/* Point fd 2 at a fresh file; returns its "dev:ino". */
static void
stderr_to_file(char *devino, size_t len)
{
	char		path[64];
	struct stat	sb;
	int		fd;

	snprintf(path, sizeof path, "/tmp/check_systemd.%ld.err", (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
	unlink(path);
	ck_assert_int_eq(fstat(2, &sb), 0);
	snprintf(devino, len, "%llu:%llu", (unsigned long long)sb.st_dev,
	    (unsigned long long)sb.st_ino);
}

START_TEST(journal_detection)
{
	char	devino[64], other[80];

	stderr_to_file(devino, sizeof devino);
	unsetenv("JOURNAL_STREAM");
	ck_assert_int_eq(systemd_journal_stderr(), 0);

	setenv("JOURNAL_STREAM", devino, 1);
	ck_assert_int_eq(systemd_journal_stderr(), 1);

	/* Inherited from a parent whose stderr went to the journal: not ours. */
	snprintf(other, sizeof other, "%s1", devino);
	setenv("JOURNAL_STREAM", other, 1);
	ck_assert_int_eq(systemd_journal_stderr(), 0);

	snprintf(other, sizeof other, "%sx", devino);
	setenv("JOURNAL_STREAM", other, 1);
	ck_assert_int_eq(systemd_journal_stderr(), 0);

	setenv("JOURNAL_STREAM", "garbage", 1);
	ck_assert_int_eq(systemd_journal_stderr(), 0);
	setenv("JOURNAL_STREAM", "", 1);
	ck_assert_int_eq(systemd_journal_stderr(), 0);
}
END_TEST

#ifdef HAVE_SYSTEMD
static int	 notify_fd = -1;
static char	 notify_path[108];

/* Fixture: a datagram socket standing in for the service manager. */
static void
notify_setup(void)
{
	struct sockaddr_un sun;

	snprintf(notify_path, sizeof notify_path, "/tmp/check_systemd.%ld.notify",
	    (long)getpid());
	unlink(notify_path);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(notify_path), sizeof sun.sun_path);
	memcpy(sun.sun_path, notify_path, strlen(notify_path) + 1);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(notify_fd, 0);
	ck_assert_int_eq(bind(notify_fd, (struct sockaddr *)&sun, sizeof sun), 0);
	setenv("NOTIFY_SOCKET", notify_path, 1);
}

/* Fixture: remove the socket. */
static void
notify_teardown(void)
{
	close(notify_fd);
	unlink(notify_path);
	systemd_shutdown();
}

/* The next message, or "" when none arrives within ms. */
static const char *
notify_next(int ms)
{
	static char	buf[1024];
	struct pollfd	pfd = { .fd = notify_fd, .events = POLLIN };
	ssize_t		n;

	buf[0] = '\0';
	if (poll(&pfd, 1, ms) != 1)
		return (buf);
	n = recv(notify_fd, buf, sizeof buf - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return (buf);
}

START_TEST(notify_messages)
{
	const char *m;

	systemd_ready();
	ck_assert_str_eq(notify_next(1000), "READY=1");

	systemd_reloading();
	m = notify_next(1000);
	ck_assert_msg(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0, "got %s", m);
	ck_assert_msg(strtoull(m + 27, NULL, 10) > 0, "got %s", m);

	systemd_stopping();
	ck_assert_str_eq(notify_next(1000), "STOPPING=1");
}
END_TEST

START_TEST(notify_status_only_on_change)
{
	systemd_status("%d leases, upstream %s", 0, "ok");
	ck_assert_str_eq(notify_next(1000), "STATUS=0 leases, upstream ok");
	systemd_status("%d leases, upstream %s", 0, "ok");
	ck_assert_str_eq(notify_next(100), "");
	systemd_status("%d leases, upstream %s", 2, "ok");
	ck_assert_str_eq(notify_next(1000), "STATUS=2 leases, upstream ok");
	/* A newline would start another assignment: cut there. */
	systemd_status("line one\nWATCHDOG=trigger");
	ck_assert_str_eq(notify_next(1000), "STATUS=line one");
}
END_TEST

/* Count WATCHDOG=1 messages; stop the loop at the fourth. */
static void
notify_count_cb(evutil_socket_t fd, short events, void *arg)
{
	struct event_base	*base = arg;
	static int		 n;
	char			 buf[64];
	ssize_t			 len;

	(void)events;
	len = recv(fd, buf, sizeof buf - 1, 0);
	ck_assert_int_ge(len, 0);
	buf[len] = '\0';
	ck_assert_str_eq(buf, "WATCHDOG=1");
	if (++n == 4)
		event_base_loopbreak(base);
}

START_TEST(notify_watchdog)
{
	struct event_base	*base;
	struct event		*ev;
	struct timeval		 tv = { 5, 0 };
	struct timespec		 t0, t1;
	char			 buf[32];
	long			 ms;

	/*
	 * 100 ms asked for: a ping at once, then every 50 ms.  Four pings take 150 ms;
	 * the upper bound is loose because a loaded machine may starve the process.
	 */
	setenv("WATCHDOG_USEC", "100000", 1);
	snprintf(buf, sizeof buf, "%ld", (long)getpid());
	setenv("WATCHDOG_PID", buf, 1);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ev = event_new(base, notify_fd, EV_READ | EV_PERSIST, notify_count_cb, base);
	event_add(ev, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	systemd_watchdog_start(base);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(event_base_got_break(base), "fewer than 4 pings in 5 s");
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 135 && ms < 2000, "4 pings took %ld ms, expected 150", ms);
	event_free(ev);
	systemd_shutdown();
	event_base_free(base);
}
END_TEST

START_TEST(notify_watchdog_other_pid)
{
	struct event_base	*base;
	struct timeval		 tv = { 0, 100 * 1000 };
	char			 buf[32];

	/* WATCHDOG_PID names another process: not ours to ping. */
	setenv("WATCHDOG_USEC", "20000", 1);
	snprintf(buf, sizeof buf, "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", buf, 1);
	base = event_base_new();
	systemd_watchdog_start(base);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_str_eq(notify_next(0), "");
	systemd_shutdown();
	event_base_free(base);
}
END_TEST
#endif

static Suite *
systemd_suite(void)
{
	Suite	*s = suite_create("systemd");
	TCase	*tc;

	tc = tcase_create("activation");
	tcase_add_test(tc, activation_none);
#ifdef HAVE_SYSTEMD
	tcase_add_test(tc, activation_one_unix_stream);
	tcase_add_test(tc, activation_datagram_refused);
	tcase_add_test(tc, activation_not_listening_refused);
	tcase_add_test(tc, activation_two_refused);
	tcase_add_test(tc, activation_other_pid_ignored);
#endif
	suite_add_tcase(s, tc);

	tc = tcase_create("journal");
	tcase_add_test(tc, journal_detection);
	suite_add_tcase(s, tc);

#ifdef HAVE_SYSTEMD
	tc = tcase_create("notify");
	tcase_add_checked_fixture(tc, notify_setup, notify_teardown);
	tcase_add_test(tc, notify_messages);
	tcase_add_test(tc, notify_status_only_on_change);
	tcase_add_test(tc, notify_watchdog);
	tcase_add_test(tc, notify_watchdog_other_pid);
	suite_add_tcase(s, tc);
#endif
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(systemd_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
