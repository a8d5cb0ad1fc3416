/* localstream.c - a client for tests/integration/local.sh (issue 7).
 *
 *   localstream stream SOCKET PREFIX NNAMES TTL MS
 *	acquire and release PREFIX0..PREFIX<NNAMES-1> in turn for MS milliseconds,
 *	printing "NAME TOKEN" (flushed) for every lease acquired; a lost daemon is
 *	reconnected until the time is up.
 *   localstream hold SOCKET NAME TTL
 *	acquire NAME, print "TOKEN LEASE_ID", then keep the connection until killed.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "octostore.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
stream(const char *sock, const char *prefix, int nnames, int ttl, long long ms)
{
	struct octo_client		*c = NULL;
	struct octo_acquire_result	 a;
	long long			 end = now_ms() + ms;
	char				 name[300];
	unsigned long			 i = 0, got = 0;
	int				 e;

	while (now_ms() < end) {
		if (c == NULL && octo_connect(sock, 2000, &c) != OCTO_OK) {
			c = NULL;
			usleep(20000);
			continue;
		}
		snprintf(name, sizeof(name), "%s%lu", prefix, i++ % (unsigned long)nnames);
		e = octo_acquire(c, name, ttl, NULL, 0, &a);
		if (e == OCTO_ERR_CLOSED || e == OCTO_ERR_SYSTEM || e == OCTO_ERR_TIMEOUT ||
		    e == OCTO_ERR_SHUTTING_DOWN) {
			octo_close(c);
			c = NULL;
			continue;
		}
		if (e != OCTO_OK) {
			fprintf(stderr, "localstream: acquire %s: %s\n", name,
			    octo_strerror(e));
			continue;
		}
		if (a.status != OCTO_ACQUIRE_ACQUIRED)
			continue;
		printf("%s %llu\n", name, (unsigned long long)a.fencing_token);
		fflush(stdout);
		got++;
		e = octo_release(c, name, a.lease_id);
		if (e == OCTO_ERR_CLOSED || e == OCTO_ERR_SYSTEM || e == OCTO_ERR_TIMEOUT) {
			octo_close(c);
			c = NULL;
		}
	}
	octo_close(c);
	fprintf(stderr, "localstream: %lu leases\n", got);
	return 0;
}

static int
hold(const char *sock, const char *name, int ttl)
{
	struct octo_client		*c;
	struct octo_acquire_result	 a;
	struct pollfd			 pfd;
	int				 e;

	if ((e = octo_connect(sock, 2000, &c)) != OCTO_OK ||
	    (e = octo_acquire(c, name, ttl, "held-by-test", 0, &a)) != OCTO_OK) {
		fprintf(stderr, "localstream: hold %s: %s\n", name, octo_strerror(e));
		return 1;
	}
	if (a.status != OCTO_ACQUIRE_ACQUIRED) {
		fprintf(stderr, "localstream: hold %s: not acquired\n", name);
		return 1;
	}
	printf("%llu %s\n", (unsigned long long)a.fencing_token, a.lease_id);
	fflush(stdout);
	/* Until the daemon goes away or we are killed. */
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
	if (argc == 7 && strcmp(argv[1], "stream") == 0)
		return stream(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]),
		    atoll(argv[6]));
	if (argc == 5 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: localstream stream SOCKET PREFIX NNAMES TTL MS\n"
	    "       localstream hold SOCKET NAME TTL\n");
	return 64;
}
