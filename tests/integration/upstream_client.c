/* upstream_client.c - liboctostore driver for upstream.sh and locks.sh: a lease's whole
 * life on one connection, acquire/release pairs from parallel processes, and many locks
 * held by one connection (issue 3). */
#include <sys/wait.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "octostore.h"

static int	fails;

/* Print one TAP-like line and count failures. */
static void
expect(int cond, const char *what)
{
	printf("%s - %s\n", cond ? "ok" : "not ok", what);
	if (!cond)
		fails++;
}

/* acquire, status, renew, list, release, status, release again: all on one connection. */
static int
lifecycle(const char *sock, const char *name, const char *prefix)
{
	struct octo_acquire_result	 a;
	struct octo_renew_result	 rn;
	struct octo_lock_info		 st;
	struct octo_lock_list		 l;
	struct octo_client		*c;
	const char			*rid;
	size_t				 i;
	int				 r, found = 0;

	if ((r = octo_connect(sock, 20000, &c)) != OCTO_OK) {
		fprintf(stderr, "connect: %s\n", octo_strerror(r));
		return 1;
	}
	r = octo_acquire(c, name, 30, "job 7", -1, &a);
	expect(r == OCTO_OK && a.status == OCTO_ACQUIRE_ACQUIRED && a.lease_id[0] != '\0' &&
	    a.fencing_token > 0 && a.expires_at[0] != '\0' && a.renew_after_ms >= 0 &&
	    strcmp(a.name, name) == 0 && a.has_metadata && strcmp(a.metadata, "job 7") == 0,
	    "acquire: acquired with lease_id, fencing_token, expires_at, metadata");

	r = octo_status(c, name, &st);
	expect(r == OCTO_OK && st.held && st.fencing_token == a.fencing_token &&
	    st.holder_id[0] != '\0' && strcmp(st.name, name) == 0 &&
	    strcmp(st.metadata, "job 7") == 0, "status: held, same fencing token, holder_id");

	r = octo_renew(c, name, a.lease_id, 120, &rn);
	expect(r == OCTO_OK && strcmp(rn.lease_id, a.lease_id) == 0 &&
	    rn.expires_at[0] != '\0' && rn.renew_after_ms >= 0,
	    "renew: same lease, new expiry, renew_after_ms");

	r = octo_list(c, prefix, &l);
	for (i = 0; r == OCTO_OK && i < l.nlocks; i++)
		if (strcmp(l.locks[i].name, name) == 0 && l.locks[i].held)
			found = 1;
	expect(r == OCTO_OK && found && l.has_prefix && strcmp(l.prefix, prefix) == 0,
	    "list with prefix: our lock, prefix echoed");
	octo_list_free(&l);

	r = octo_list(c, NULL, &l);
	expect(r == OCTO_OK && l.total >= 1, "list without prefix: total counts our lock");
	octo_list_free(&l);

	r = octo_release(c, name, a.lease_id);
	expect(r == OCTO_OK, "release: released");

	r = octo_status(c, name, &st);
	expect(r == OCTO_OK && !st.held && st.holder_id[0] == '\0', "status after release: free");

	r = octo_release(c, name, a.lease_id);
	rid = octo_last_error_request_id(c);
	expect(r == OCTO_ERR_LEASE_NOT_CURRENT && rid != NULL && strncmp(rid, "req_", 4) == 0,
	    "release again: lease_not_current from the server, with its request_id");
	octo_close(c);
	return fails == 0 ? 0 : 1;
}

/* One load worker: pairs acquire+release of its own name. */
static int
worker(const char *sock, const char *prefix, int id, int pairs)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c;
	char				 name[128];
	int				 i, r;

	snprintf(name, sizeof(name), "%s/w%d", prefix, id);
	if ((r = octo_connect(sock, 20000, &c)) != OCTO_OK) {
		fprintf(stderr, "worker %d: connect: %s\n", id, octo_strerror(r));
		return 1;
	}
	for (i = 0; i < pairs; i++) {
		if ((r = octo_acquire(c, name, 30, NULL, -1, &a)) != OCTO_OK) {
			fprintf(stderr, "worker %d: acquire %d: %s (%s)\n", id, i,
			    octo_strerror(r), octo_last_error_code(c));
			break;
		}
		if ((r = octo_release(c, name, a.lease_id)) != OCTO_OK) {
			fprintf(stderr, "worker %d: release %d: %s (%s)\n", id, i,
			    octo_strerror(r), octo_last_error_code(c));
			break;
		}
	}
	octo_close(c);
	return r == OCTO_OK ? 0 : 1;
}

/* PAIRS acquire/release pairs spread over PROCS processes. */
static int
load(const char *sock, const char *prefix, int pairs, int procs)
{
	int	i, status, failed = 0;
	pid_t	pid;

	if (pairs < 1 || procs < 1 || pairs % procs != 0) {
		fprintf(stderr, "upstream_client: PAIRS must be a multiple of PROCS\n");
		return 64;
	}
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == -1) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			_exit(worker(sock, prefix, i, pairs / procs));
	}
	for (i = 0; i < procs; i++) {
		if (wait(&status) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	printf("%d pairs in %d processes: %d failed\n", pairs, procs, failed);
	return failed == 0 ? 0 : 1;
}

/*
 * Acquire PREFIX0..PREFIX<n-1> on one connection, print "held N", then keep the
 * connection (and so the leases) until killed or the daemon goes away.
 */
static int
fill(const char *sock, const char *prefix, int n)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c;
	struct pollfd			 pfd;
	char				 name[300];
	int				 i, r;

	if (n < 1 || n > 1000) {
		fprintf(stderr, "upstream_client: fill: N must be 1..1000\n");
		return 64;
	}
	if ((r = octo_connect(sock, 20000, &c)) != OCTO_OK) {
		fprintf(stderr, "fill: connect: %s\n", octo_strerror(r));
		return 1;
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if ((r = octo_acquire(c, name, 60, NULL, -1, &a)) != OCTO_OK) {
			fprintf(stderr, "fill: acquire %s: %s (%s)\n", name,
			    octo_strerror(r), octo_last_error_code(c));
			octo_close(c);
			return 1;
		}
	}
	printf("held %d\n", n);
	pfd.fd = octo_fd(c);
	pfd.events = POLLIN;
	while (poll(&pfd, 1, -1) >= 0 && octo_poll_events(c) == OCTO_OK)
		;
	octo_close(c);
	return 0;
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "lifecycle") == 0)
		return lifecycle(argv[2], argv[3], argv[4]);
	if (argc == 6 && strcmp(argv[1], "load") == 0)
		return load(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if (argc == 5 && strcmp(argv[1], "fill") == 0)
		return fill(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: upstream_client lifecycle SOCKET NAME PREFIX\n"
	    "       upstream_client load SOCKET PREFIX PAIRS PROCS\n"
	    "       upstream_client fill SOCKET PREFIX N\n");
	return 64;
}
