/* localbench.c - durable acquire+release pairs on the local backend (issue 7).
 *
 *   localbench [-t SECONDS] [-c N,N,...] SOCKET STATE_DIR
 *
 * Measures, in one run against a daemon started with --backend=local: the ping round
 * trip (1 client), write+fdatasync of a 100-byte append in STATE_DIR (the log's own
 * durability step), then acquire+release pairs with each client count (each client a
 * thread with its own connection and its own lock name, strictly one request in
 * flight).  With 1 client it prints the pair time against ping + fsync.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "octostore.h"

#define MAX_CLIENTS	1024

static const char	*sock;
static double		 seconds = 3;
static volatile int	 go, stop;

struct worker {
	pthread_t	t;
	int		id;
	unsigned long	pairs;
	int		err;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One client: acquire and release its own name until told to stop. */
static void *
worker_main(void *arg)
{
	struct worker			*w = arg;
	struct octo_client		*c;
	struct octo_acquire_result	 a;
	char				 name[64];
	int				 e;

	snprintf(name, sizeof(name), "bench/local/%d", w->id);
	if ((e = octo_connect(sock, 10000, &c)) != OCTO_OK) {
		w->err = e;
		return NULL;
	}
	while (!go)
		usleep(1000);
	while (!stop) {
		if ((e = octo_acquire(c, name, 60, NULL, 0, &a)) != OCTO_OK ||
		    a.status != OCTO_ACQUIRE_ACQUIRED ||
		    (e = octo_release(c, name, a.lease_id)) != OCTO_OK) {
			w->err = e != OCTO_OK ? e : OCTO_ERR_LOCK_HELD;
			break;
		}
		w->pairs++;
	}
	octo_close(c);
	return NULL;
}

/* Pairs per second with n clients, after a 10% warm-up; -1 on error. */
static double
run_pairs(int n)
{
	static struct worker	 w[MAX_CLIENTS];
	unsigned long		 before = 0, after = 0;
	double			 t0, t1;
	int			 i, err = 0;

	go = stop = 0;
	for (i = 0; i < n; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		if (pthread_create(&w[i].t, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "localbench: pthread_create failed\n");
			exit(1);
		}
	}
	go = 1;
	usleep((useconds_t)(seconds * 100000));
	for (i = 0; i < n; i++)
		before += w[i].pairs;
	t0 = now_s();
	usleep((useconds_t)(seconds * 1000000));
	for (i = 0; i < n; i++)
		after += w[i].pairs;
	t1 = now_s();
	stop = 1;
	for (i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		if (w[i].err != OCTO_OK)
			err = w[i].err;
	}
	if (err != OCTO_OK) {
		fprintf(stderr, "localbench: a client failed: %s\n", octo_strerror(err));
		return -1;
	}
	return (double)(after - before) / (t1 - t0);
}

/* Mean ping round trip in microseconds. */
static double
run_ping(void)
{
	struct octo_client	*c;
	unsigned long		 n = 0;
	double			 t0, end;

	if (octo_connect(sock, 10000, &c) != OCTO_OK)
		return -1;
	t0 = now_s();
	end = t0 + seconds;
	while (now_s() < end) {
		if (octo_ping(c, NULL, 0, NULL, 0, NULL) != OCTO_OK) {
			octo_close(c);
			return -1;
		}
		n++;
	}
	octo_close(c);
	return (now_s() - t0) / (double)n * 1e6;
}

/* Mean write+fdatasync of a 100-byte append in dir, in microseconds. */
static double
run_fsync(const char *dir)
{
	char		path[4096], buf[100];
	unsigned long	n = 0;
	double		t0, end;
	int		fd;

	snprintf(path, sizeof(path), "%s/localbench.fsync", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600)) == -1) {
		fprintf(stderr, "localbench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(buf, 'x', sizeof(buf));
	t0 = now_s();
	end = t0 + seconds;
	while (now_s() < end) {
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fdatasync(fd) == -1) {
			close(fd);
			unlink(path);
			return -1;
		}
		n++;
	}
	close(fd);
	unlink(path);
	return (now_s() - t0) / (double)n * 1e6;
}

int
main(int argc, char **argv)
{
	const char	*clients = "1,64";
	char		*list, *tok, *save = NULL;
	double		 ping, fs, pairs;
	int		 ch, n, status = 0;

	while ((ch = getopt(argc, argv, "t:c:")) != -1) {
		switch (ch) {
		case 't':
			seconds = atof(optarg);
			break;
		case 'c':
			clients = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || seconds <= 0)
		goto usage;
	sock = argv[optind];
	ping = run_ping();
	fs = run_fsync(argv[optind + 1]);
	if (ping < 0 || fs < 0) {
		fprintf(stderr, "localbench: ping or fsync measurement failed\n");
		return 1;
	}
	printf("%-44s %10.1f us\n", "ping round trip (1 client)", ping);
	printf("%-44s %10.1f us\n", "write+fdatasync, 100 bytes, state dir", fs);
	printf("%-44s %10.1f us\n", "ping + fsync", ping + fs);
	if ((list = strdup(clients)) == NULL)
		return 1;
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		n = atoi(tok);
		if (n < 1 || n > MAX_CLIENTS) {
			fprintf(stderr, "localbench: bad client count %s\n", tok);
			status = 1;
			continue;
		}
		if ((pairs = run_pairs(n)) < 0) {
			status = 1;
			continue;
		}
		printf("%3d client%s, durable acquire+release %10.0f pairs/s  (%.1f us "
		    "per pair per client)\n", n, n == 1 ? " " : "s", pairs, 1e6 * n / pairs);
		if (n == 1)
			printf("%-44s %10.2f (target <= 2)\n", "  pair time / (ping + fsync)",
			    1e6 / pairs / (ping + fs));
		if (n == 64)
			printf("%-44s %10.0f pairs/s (fsync-bound: %.0f clients / %.0f us)\n",
			    "  ceiling of one fsync per acquire", 64 / (fs / 1e6), 64.0, fs);
	}
	free(list);
	return status;
usage:
	fprintf(stderr, "usage: localbench [-t SECONDS] [-c N,N,...] SOCKET STATE_DIR\n");
	return 64;
}
