/*
 * notifyrecv.c - play systemd's side of sd_notify for one daemon run and check it.
 *
 * usage: notifyrecv -s SOCKPATH [-w WATCHDOG_USEC] [-W WINDOW_MS] [-H] -- CMD [ARG...]
 *
 * Binds a datagram socket at SOCKPATH, starts CMD with NOTIFY_SOCKET (and, with -w,
 * WATCHDOG_USEC and WATCHDOG_PID) set, and checks: READY=1 arrives; a STATUS= line
 * arrives; WATCHDOG=1 arrives at half the watchdog interval over a window of
 * WINDOW_MS after READY=1 (none at all without -w); with -H, SIGHUP gives
 * RELOADING=1 with a current MONOTONIC_USEC, then READY=1; SIGTERM gives STOPPING=1
 * and the daemon exits 0.  Every message must come from the daemon's own pid (as
 * NotifyAccess=main requires).  Prints each message with its time, then "ok" or
 * "FAIL" lines; exits 0 when all checks pass.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* struct ucred */
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int	 nr_fd = -1;
static pid_t	 nr_child = -1;
static long long nr_t0;
static int	 nr_failed;

/* Milliseconds on CLOCK_MONOTONIC. */
static long long
nr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Record one check. */
static void
nr_check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		nr_failed = 1;
}

/*
 * Receive one message, waiting until deadline (ms on CLOCK_MONOTONIC).  Returns 1
 * with the text in buf, 0 at the deadline.  A message from another pid is a failure.
 */
static int
nr_recv(char *buf, size_t len, long long deadline)
{
	struct pollfd	 pfd = { .fd = nr_fd, .events = POLLIN };
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	struct ucred	 uc;
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(struct ucred))];
	} cbuf;
	ssize_t		 n;
	long long	 left;
	int		 r, havecred;
	char		*p;

	for (;;) {
		left = deadline - nr_now_ms();
		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			perror("poll");
			exit(2);
		}
		if (r == 0)
			return (0);

		memset(&mh, 0, sizeof mh);
		iov.iov_base = buf;
		iov.iov_len = len - 1;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof cbuf.buf;
		n = recvmsg(nr_fd, &mh, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1) {
			perror("recvmsg");
			exit(2);
		}
		buf[n] = '\0';

		havecred = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&uc, CMSG_DATA(cm), sizeof uc);
				havecred = 1;
			}
		}
		if (!havecred || uc.pid != nr_child) {
			printf("message from pid %ld, expected %ld\n",
			    havecred ? (long)uc.pid : -1L, (long)nr_child);
			nr_check(0, "every message comes from the main pid");
		}

		printf("%6lld ms  ", nr_now_ms() - nr_t0);
		for (p = buf; *p != '\0'; p++)
			putchar(*p == '\n' ? '|' : *p);
		putchar('\n');
		fflush(stdout);
		return (1);
	}
}

/* True when the newline-separated message contains the assignment line. */
static int
nr_has(const char *msg, const char *line)
{
	size_t		 len = strlen(line);
	const char	*p = msg;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
			return (1);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (0);
}

/* Value of KEY= in the message, or NULL. */
static const char *
nr_value(const char *msg, const char *key)
{
	size_t		 len = strlen(key);
	const char	*p = msg;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, len) == 0 && p[len] == '=')
			return (p + len + 1);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (NULL);
}

/* Bookkeeping common to every received message. */
static void
nr_note(const char *msg, int *status, int *watchdogs)
{
	if (nr_value(msg, "STATUS") != NULL)
		*status = 1;
	if (nr_has(msg, "WATCHDOG=1"))
		(*watchdogs)++;
}

/*
 * Wait for a message holding line; other messages are noted.  Returns 1 when it
 * arrived before timeout_ms.
 */
static int
nr_wait_for(const char *line, long long timeout_ms, char *buf, size_t len,
    int *status, int *watchdogs)
{
	long long deadline = nr_now_ms() + timeout_ms;

	while (nr_recv(buf, len, deadline)) {
		nr_note(buf, status, watchdogs);
		if (nr_has(buf, line))
			return (1);
	}
	return (0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: notifyrecv -s SOCKPATH [-w WATCHDOG_USEC] "
	    "[-W WINDOW_MS] [-H] -- CMD [ARG...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	const char		*path = NULL, *v;
	char			 buf[4096], env[64], what[160];
	long long		 wd_usec = 0, window = 1000, t, deadline, mono;
	long long		 expect, lo, hi;
	int			 ch, reload = 0, one = 1, status = 0, watchdogs = 0;
	int			 n, wstatus, exited;
	struct timespec		 ts;
	struct pollfd		 pfd;

	while ((ch = getopt(argc, argv, "s:w:W:H")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'w':
			wd_usec = atoll(optarg);
			break;
		case 'W':
			window = atoll(optarg);
			break;
		case 'H':
			reload = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (path == NULL || argc == 0 || window <= 0 || wd_usec < 0)
		usage();

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		usage();
	strcpy(sun.sun_path, path);
	if ((nr_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(nr_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == -1 ||
	    bind(nr_fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		perror(path);
		return (2);
	}

	nr_t0 = nr_now_ms();
	if ((nr_child = fork()) == -1) {
		perror("fork");
		return (2);
	}
	if (nr_child == 0) {
		setenv("NOTIFY_SOCKET", path, 1);
		if (wd_usec > 0) {
			snprintf(env, sizeof env, "%lld", wd_usec);
			setenv("WATCHDOG_USEC", env, 1);
			snprintf(env, sizeof env, "%ld", (long)getpid());
			setenv("WATCHDOG_PID", env, 1);
		} else {
			unsetenv("WATCHDOG_USEC");
			unsetenv("WATCHDOG_PID");
		}
		execvp(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}

	/* Startup. */
	n = nr_wait_for("READY=1", 10000, buf, sizeof buf, &status, &watchdogs);
	nr_check(n, "READY=1 within 10 s of start");
	if (!n)
		goto stop;

	/* Watchdog cadence over the window after READY=1. */
	watchdogs = 0;
	deadline = nr_now_ms() + window;
	while (nr_recv(buf, sizeof buf, deadline))
		nr_note(buf, &status, &watchdogs);
	if (wd_usec > 0) {
		expect = window * 1000 / (wd_usec / 2);
		lo = expect * 7 / 10;
		hi = expect * 13 / 10 + 1;
		snprintf(what, sizeof what, "WATCHDOG=1 %d times in %lld ms "
		    "(expected %lld, within %lld..%lld)", watchdogs, window, expect,
		    lo, hi);
		nr_check(watchdogs >= lo && watchdogs <= hi, what);
	} else {
		snprintf(what, sizeof what, "no WATCHDOG=1 without WATCHDOG_USEC "
		    "(got %d in %lld ms)", watchdogs, window);
		nr_check(watchdogs == 0, what);
	}

	/* Reload: RELOADING=1 with MONOTONIC_USEC near our clock, then READY=1. */
	if (reload) {
		kill(nr_child, SIGHUP);
		t = nr_now_ms();
		n = 0;
		deadline = t + 5000;
		while (nr_recv(buf, sizeof buf, deadline)) {
			nr_note(buf, &status, &watchdogs);
			if (nr_has(buf, "RELOADING=1")) {
				n = 1;
				break;
			}
		}
		nr_check(n, "RELOADING=1 after SIGHUP");
		if (n) {
			v = nr_value(buf, "MONOTONIC_USEC");
			clock_gettime(CLOCK_MONOTONIC, &ts);
			mono = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
			nr_check(v != NULL && mono - atoll(v) >= 0 &&
			    mono - atoll(v) < 5000000,
			    "RELOADING=1 carries a current MONOTONIC_USEC");
			n = nr_wait_for("READY=1", 5000, buf, sizeof buf, &status,
			    &watchdogs);
			nr_check(n, "READY=1 after RELOADING=1");
		}
	}

stop:
	kill(nr_child, SIGTERM);
	n = nr_wait_for("STOPPING=1", 5000, buf, sizeof buf, &status, &watchdogs);
	nr_check(n, "STOPPING=1 after SIGTERM");
	nr_check(status, "a STATUS= line was sent");

	/* Await the daemon's exit (pidfd readable), bounded. */
	exited = 0;
	if ((pfd.fd = (int)syscall(SYS_pidfd_open, nr_child, 0)) == -1) {
		perror("pidfd_open");
		return (2);
	}
	pfd.events = POLLIN;
	while ((n = poll(&pfd, 1, 10000)) == -1 && errno == EINTR)
		;
	if (n == 1 && waitpid(nr_child, &wstatus, 0) == nr_child)
		exited = 1;
	close(pfd.fd);
	if (!exited) {
		kill(nr_child, SIGKILL);
		waitpid(nr_child, &wstatus, 0);
		nr_check(0, "daemon exits within 10 s of SIGTERM");
	} else {
		snprintf(what, sizeof what, "daemon exit status 0 after SIGTERM "
		    "(status 0x%x)", wstatus);
		nr_check(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, what);
	}
	unlink(path);
	return (nr_failed ? 1 : 0);
}
