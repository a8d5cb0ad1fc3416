/* ctl_run.c - octostorectl run: hold a lock while a command runs, like flock(1). */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/*
 * The lease is owned by this process's connection to the daemon, which renews it for
 * as long as the connection is open, so the connection stays open while CMD runs.
 *
 * Waiting: without --wait or -n, wait indefinitely (the daemon takes at most 24 h per
 * request, so the acquire is repeated after a timeout); -n answers at once; --wait D
 * waits up to D.  Busy with -n, or the wait ran out: exit 11.  SIGINT, SIGTERM or
 * SIGHUP while waiting ends run at once with 128 + the signal: the process exits
 * from the handler, the connection closes and the daemon drops the queued request (or
 * releases a lease it granted in the same instant), so nothing is left acquired.
 *
 * Loss: a lease_lost notification, or the connection to the daemon failing (then no one
 * renews the lease), sends SIGTERM to CMD and SIGKILL after the grace, and run exits 20
 * once CMD is gone.  The grace is min(--kill-after, TTL / 5).  run never sees the
 * daemon's renewals, so it cannot know the server's expiry; what it does know is that
 * the daemon reports a loss at the latest at its authority deadline, 80% of the TTL
 * after the last renewal was sent, which leaves at least 20% of the TTL before the
 * server lets anyone else take the name.  (The TTL is --ttl, or the daemon's default
 * of 60 s.)
 */

#define RUN_WAIT_FOREVER_MS	(24LL * 3600 * 1000)
#define RUN_DEFAULT_TTL		60

static volatile sig_atomic_t	run_lost;
static const char		*run_lease_id;

/* Milliseconds on the monotonic clock. */
static int64_t
run_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A signal while waiting to acquire: exit at once; the daemon drops the request. */
static void
run_wait_signal(int sig)
{
	static const char msg[] = "octostorectl: run: interrupted while waiting\n";
	ssize_t n;

	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(128 + sig);
}

/* Notification callback: our lease was lost. */
static void
run_notify(struct octo_client *c, const struct octo_event *ev, void *arg)
{
	(void)c;
	(void)arg;
	if (ev->type == OCTO_EVENT_LEASE_LOST && run_lease_id != NULL &&
	    strcmp(ev->lease_id, run_lease_id) == 0) {
		fprintf(stderr, "octostorectl: run: lease lost (");
		ctl_put_esc(stderr, ev->reason, strlen(ev->reason));
		fputs(")\n", stderr);
		run_lost = 1;
	}
}

/* Acquire, waiting as the options say; returns an error code. */
static int
run_acquire(struct octo_client *c, const char *name, struct octo_acquire_result *a)
{
	struct octo_acquire_opts	o;
	int64_t				start;
	int				r;

	memset(&o, 0, sizeof(o));
	o.ttl = ctl_opts.ttl;
	o.metadata = ctl_opts.metadata;
	o.lock_delay = ctl_opts.lock_delay;
	if (ctl_opts.nowait)
		o.wait_ms = 0;
	else if (ctl_opts.wait_ms >= 0)
		o.wait_ms = ctl_opts.wait_ms;
	else
		o.wait_ms = RUN_WAIT_FOREVER_MS;
	for (;;) {
		start = run_now();
		r = octo_acquire_ex(c, name, &o, a);
		if (r != OCTO_ERR_TIMEOUT || ctl_opts.nowait || ctl_opts.wait_ms >= 0)
			return r;
		/* Only the daemon's own timeout is retried, not a reply that never came. */
		if (run_now() - start >= o.wait_ms + OCTO_WAIT_MARGIN_MS)
			return r;
	}
}

/* In the child: die with the parent, take the lease's environment, exec CMD. */
static void
run_child(pid_t parent, const sigset_t *oldmask, const struct octo_acquire_result *a,
    char **argv)
{
	char	tok[32];

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1) {
		fprintf(stderr, "octostorectl: run: prctl: %s\n", strerror(errno));
		_exit(127);
	}
	/* The parent may have died before prctl: then the lease is gone already. */
	if (getppid() != parent)
		_exit(127);
	snprintf(tok, sizeof(tok), "%" PRIu64, a->fencing_token);
	if (setenv("OCTOSTORE_LOCK_NAME", a->name, 1) == -1 ||
	    setenv("OCTOSTORE_FENCING_TOKEN", tok, 1) == -1 ||
	    setenv("OCTOSTORE_LEASE_EXPIRES_AT", a->expires_at, 1) == -1 ||
	    unsetenv("OCTOSTORE_TOKEN") == -1) {
		fprintf(stderr, "octostorectl: run: setenv: %s\n", strerror(errno));
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	execvp(argv[0], argv);
	fprintf(stderr, "octostorectl: run: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Install handler for the wait signals, except where the caller ignores them. */
static void
run_wait_handlers(struct sigaction *saved)
{
	static const int	 sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = run_wait_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 3; i++) {
		sigaction(sigs[i], NULL, &saved[i]);
		if (saved[i].sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
}

/* Put back the dispositions run_wait_handlers() replaced. */
static void
run_restore_handlers(const struct sigaction *saved)
{
	static const int	sigs[] = { SIGINT, SIGTERM, SIGHUP };
	size_t			i;

	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &saved[i], NULL);
}

/* run NAME -- CMD [ARGS...]: exit with CMD's status, 11 when busy, 20 on loss. */
int
ctl_run(struct octo_client *c, char **argv)
{
	struct octo_acquire_result	 a;
	struct sigaction		 saved[3], dfl;
	struct signalfd_siginfo		 si;
	struct pollfd			 pfd[2];
	sigset_t			 mask, oldmask;
	pid_t				 child, parent, w;
	int64_t				 grace, kill_at = -1, now;
	int				 r, sfd = -1, status, ttl, killed = 0, n, timeout;
	int				 lost_reported = 0, conn_ok = 1;

	/* A child's exit must be seen, not reaped by an inherited SIG_IGN. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, NULL);

	run_wait_handlers(saved);
	r = run_acquire(c, argv[0], &a);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	run_restore_handlers(saved);
	if (r == OCTO_ERR_LOCK_HELD || r == OCTO_ERR_LOCK_DELAYED ||
	    (r == OCTO_ERR_TIMEOUT && !ctl_opts.nowait)) {
		ctl_fail(c, "run", r);
		return CTL_EXIT_WAIT;
	}
	if (r != OCTO_OK)
		return ctl_fail(c, "run", r);
	run_lease_id = a.lease_id;
	octo_set_notify_cb(c, run_notify, NULL);

	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) == -1) {
		fprintf(stderr, "octostorectl: run: signalfd: %s\n", strerror(errno));
		octo_release(c, a.name, a.lease_id);
		return CTL_EXIT_SOFTWARE;
	}
	fflush(stdout);
	fflush(stderr);
	parent = getpid();
	if ((child = fork()) == -1) {
		fprintf(stderr, "octostorectl: run: fork: %s\n", strerror(errno));
		octo_release(c, a.name, a.lease_id);
		close(sfd);
		return CTL_EXIT_SOFTWARE;
	}
	if (child == 0)
		run_child(parent, &oldmask, &a, argv + 1);

	ttl = ctl_opts.ttl > 0 ? ctl_opts.ttl : RUN_DEFAULT_TTL;
	grace = ctl_opts.kill_after_ms;
	if (grace > (int64_t)ttl * 1000 / 5)
		grace = (int64_t)ttl * 1000 / 5;

	/* Deliver what arrived with the acquire's reply, before the callback was set. */
	if (octo_poll_events(c) != OCTO_OK)
		conn_ok = 0;
	for (;;) {
		if ((run_lost || !conn_ok) && !lost_reported) {
			if (!conn_ok)
				fprintf(stderr, "octostorectl: run: connection to the "
				    "daemon lost; the lease cannot be renewed\n");
			lost_reported = 1;
			kill(child, SIGTERM);
			kill_at = run_now() + grace;
		}
		timeout = -1;
		if (kill_at >= 0 && !killed) {
			now = run_now();
			if (now >= kill_at) {
				kill(child, SIGKILL);
				killed = 1;
			} else
				timeout = (int)(kill_at - now);
		}
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = conn_ok ? octo_fd(c) : -1;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if ((n = poll(pfd, 2, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "octostorectl: run: poll: %s\n", strerror(errno));
			kill(child, SIGKILL);
			_exit(CTL_EXIT_SOFTWARE);
		}
		if (pfd[1].revents != 0 && octo_poll_events(c) != OCTO_OK)
			conn_ok = 0;
		if (pfd[0].revents == 0)
			continue;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGCHLD) {
				kill(child, (int)si.ssi_signo);
				continue;
			}
		}
		w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
	}
	close(sfd);
	if (run_lost || !conn_ok)
		return CTL_EXIT_LOST;
	/* A loss reported while CMD was exiting still counts. */
	if (octo_poll_events(c) != OCTO_OK || run_lost)
		return CTL_EXIT_LOST;
	if ((r = octo_release(c, a.name, a.lease_id)) != OCTO_OK)
		ctl_fail(c, "run: release", r);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
