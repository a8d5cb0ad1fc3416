/* renewbench.c - many leases held through octostored: renewal rate, CPU, memory, losses. */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <msgpack.h>

#include "octo_proto.h"
#include "unixsock.h"

#define RB_MAX_CONNS	256
#define RB_IN		(256 * 1024)
#define RB_DEPTH	32		/* requests in flight per connection, below max_inflight */
#define RB_STALL_NS	(30ULL * 1000000000)

/* One client connection holding its share of the leases. */
struct rconn {
	int		 fd;
	unsigned	 idx;
	unsigned	 first, count;	/* its leases: [first, first + count) */
	unsigned	 next;		/* next lease to acquire */
	unsigned	 inflight;
	unsigned	 acquired;
	unsigned char	 in[RB_IN];
	size_t		 inlen;
	msgpack_zone	 zone;
};

/* Counters read from the fake's /_fake/stats. */
struct fstats {
	long long	renew, acquire, release, keepalive, locks_held, conns;
};

/* Daemon process figures from /proc. */
struct pstat {
	unsigned long long	ticks;		/* utime + stime */
	long long		rss_kb;
};

static struct {
	unsigned	 leases, conns, ttl;
	double		 seconds;
	double		 rate;		/* acquires per second, 0 = as fast as possible */
	pid_t		 pid;
	const char	*stats_url;
} opt = { 10000, 16, 30, 120, 0, 0, NULL };

static struct rconn	*conns;
static uint64_t		 errors, lost;
static uint64_t		 acq_start;	/* pacing: when acquiring began */
static unsigned		 acq_sent;
static CURL		*stats_easy;
static char		 stats_buf[16384];
static size_t		 stats_len;

/* Monotonic time in nanoseconds. */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* libcurl write callback into stats_buf. */
static size_t
stats_write(char *p, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;

	(void)arg;
	if (stats_len + n >= sizeof(stats_buf))
		return 0;
	memcpy(stats_buf + stats_len, p, n);
	stats_len += n;
	return n;
}

/* Integer at a JSON path of one or two keys, -1 when absent. */
static long long
json_num(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);

	if (k2 != NULL)
		v = json_object_get(v, k2);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* Fetch the fake's counters over one kept-alive connection; -1 on failure. */
static int
stats_fetch(struct fstats *fs)
{
	json_t *o;

	if (stats_easy == NULL) {
		stats_easy = curl_easy_init();
		curl_easy_setopt(stats_easy, CURLOPT_URL, opt.stats_url);
		curl_easy_setopt(stats_easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(stats_easy, CURLOPT_TIMEOUT_MS, 5000L);
		curl_easy_setopt(stats_easy, CURLOPT_WRITEFUNCTION, stats_write);
	}
	stats_len = 0;
	if (curl_easy_perform(stats_easy) != CURLE_OK)
		return -1;
	if ((o = json_loadb(stats_buf, stats_len, 0, NULL)) == NULL)
		return -1;
	fs->renew = json_num(o, "requests", "renew");
	fs->acquire = json_num(o, "requests", "acquire");
	fs->release = json_num(o, "requests", "release");
	fs->keepalive = json_num(o, "requests", "keepalive");
	fs->locks_held = json_num(o, "locks_held", NULL);
	fs->conns = json_num(o, "connections_accepted", NULL);
	json_decref(o);
	return 0;
}

/* utime + stime and VmRSS of the daemon. */
static int
pstat_read(struct pstat *ps)
{
	char			 path[64], buf[2048], *p;
	unsigned long long	 ut, st;
	FILE			*f;
	size_t			 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)opt.pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is field 3. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return -1;
	ps->ticks = ut + st;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)opt.pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	ps->rss_kb = -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "VmRSS: %lld kB", &ps->rss_kb) == 1)
			break;
	fclose(f);
	return ps->rss_kb < 0 ? -1 : 0;
}

/* Send acquires until the connection has RB_DEPTH in flight or all are sent. */
static int
rconn_fill(struct rconn *c)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	char		name[64];
	int		rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	while (c->inflight < RB_DEPTH && c->next < c->first + c->count) {
		if (opt.rate > 0 && acq_sent >=
		    (double)(now_ns() - acq_start) / 1e9 * opt.rate)
			break;
		acq_sent++;
		snprintf(name, sizeof(name), "bench/renew/c%u/l%u", c->idx, c->next);
		octo_proto_pack_request(&pk, c->next, "acquire");
		msgpack_pack_map(&pk, 2);
		octo_proto_pack_str(&pk, "name");
		octo_proto_pack_str(&pk, name);
		octo_proto_pack_str(&pk, "ttl");
		msgpack_pack_uint32(&pk, opt.ttl);
		c->next++;
		c->inflight++;
	}
	rc = sb.size > 0 ? unixsock_send_all(c->fd, sb.data, sb.size) : 0;
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* A string parameter of a map as a printable NUL-terminated copy. */
static void
get_str(const msgpack_object *map, const char *key, char *dst, size_t dstsz)
{
	const char	*s;
	size_t		 len;

	if (octo_proto_get_str(map, key, &s, &len) != OCTO_OK)
		len = 0;
	snprintf(dst, dstsz, "%.*s", (int)len, len > 0 ? s : "");
}

/* One decoded message: an acquire's answer or a notification. */
static void
rconn_msg(struct rconn *c, const struct octo_msg *m)
{
	char a[300], b[64], e[128];

	if (m->type == OCTO_MSG_NOTIFY) {
		if (m->method_len == strlen(OCTO_NOTIFY_LEASE_LOST) &&
		    memcmp(m->method, OCTO_NOTIFY_LEASE_LOST, m->method_len) == 0) {
			if (lost++ < 10) {
				get_str(m->params, "name", a, sizeof(a));
				get_str(m->params, "reason", b, sizeof(b));
				fprintf(stderr, "renewbench: lease_lost name=%s reason=%s\n",
				    a, b);
			}
		}
		return;
	}
	if (m->type != OCTO_MSG_RESPONSE)
		return;
	c->inflight--;
	if (m->error != NULL && m->error->type != MSGPACK_OBJECT_NIL) {
		if (errors++ < 10) {
			get_str(m->error, "code", e, sizeof(e));
			fprintf(stderr, "renewbench: acquire #%u: %s\n", m->msgid, e);
		}
		return;
	}
	get_str(m->result, "status", b, sizeof(b));
	if (strcmp(b, "acquired") != 0) {
		if (errors++ < 10)
			fprintf(stderr, "renewbench: acquire #%u: %s\n", m->msgid, b);
		return;
	}
	c->acquired++;
}

/* Read and handle every complete message; -1 when the connection is gone. */
static int
rconn_read(struct rconn *c)
{
	struct octo_proto_limits	lim;
	struct octo_msg			m;
	size_t				mlen, off = 0;
	ssize_t				n;
	int				r;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	c->inlen += (size_t)n;
	octo_proto_limits_default(&lim);
	while (off < c->inlen) {
		r = octo_proto_scan(c->in + off, c->inlen - off, &lim, &mlen);
		if (r == OCTO_ERR_AGAIN)
			break;
		if (r != OCTO_OK ||
		    octo_proto_decode(c->in + off, mlen, &c->zone, &m) != OCTO_OK)
			return -1;
		rconn_msg(c, &m);
		msgpack_zone_clear(&c->zone);
		off += mlen;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

/* Wait for events for at most ms; handle replies; -1 when a connection is lost. */
static int
poll_conns(int ep, int ms)
{
	struct epoll_event	evs[64];
	int			n, k;

	if ((n = epoll_wait(ep, evs, 64, ms)) == -1)
		return errno == EINTR ? 0 : -1;
	for (k = 0; k < n; k++) {
		struct rconn *c = evs[k].data.ptr;

		if (rconn_read(c) == -1) {
			fprintf(stderr, "renewbench: connection %u lost\n", c->idx);
			return -1;
		}
		if (rconn_fill(c) == -1)
			return -1;
	}
	if (opt.rate > 0)
		for (k = 0; k < (int)opt.conns; k++)
			if (rconn_fill(&conns[k]) == -1)
				return -1;
	return n;
}

/* Usage message. */
static void
usage(void)
{
	fprintf(stderr,
	    "usage: renewbench [-n LEASES] [-c CONNS] [-T TTL] [-t SECONDS] [-r ACQUIRES_PER_S]\n"
	    "                  -p DAEMON_PID\n"
	    "                  -S STATS_URL SOCKET\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct epoll_event	 ev;
	struct fstats		 f0, f1, fprev, fcur;
	struct pstat		 p_before, p0, p1;
	uint64_t		 t, tstart, tacq, thold, tnext, last;
	long long		 d, busiest = 0, *series;
	unsigned		 i, per, total = 0, sec, nsec;
	int			 ch, ep, ms, status = 0;

	while ((ch = getopt(argc, argv, "n:c:T:t:r:p:S:")) != -1) {
		switch (ch) {
		case 'n':
			opt.leases = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			opt.conns = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'T':
			opt.ttl = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			opt.seconds = strtod(optarg, NULL);
			break;
		case 'r':
			opt.rate = strtod(optarg, NULL);
			break;
		case 'p':
			opt.pid = (pid_t)strtol(optarg, NULL, 10);
			break;
		case 'S':
			opt.stats_url = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || opt.pid <= 0 || opt.stats_url == NULL || opt.leases < 1 ||
	    opt.conns < 1 || opt.conns > RB_MAX_CONNS || opt.seconds < 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	nsec = (unsigned)opt.seconds;
	if ((series = calloc(nsec + 1, sizeof(*series))) == NULL ||
	    (conns = calloc(opt.conns, sizeof(*conns))) == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 2;

	/* Connect everything first, so that the RSS baseline includes the connections. */
	per = opt.leases / opt.conns;
	for (i = 0; i < opt.conns; i++) {
		struct rconn *c = &conns[i];

		c->idx = i;
		c->first = total;
		c->count = per + (i < opt.leases % opt.conns ? 1 : 0);
		c->next = c->first;
		total += c->count;
		msgpack_zone_init(&c->zone, 4096);
		if ((c->fd = unixsock_connect(argv[0], 0)) == -1) {
			fprintf(stderr, "renewbench: connect %s: %s\n", argv[0],
			    strerror(errno));
			return 2;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
			return 2;
	}
	if (stats_fetch(&f0) == -1 || pstat_read(&p_before) == -1) {
		fprintf(stderr, "renewbench: cannot read the fake's stats or /proc/%d\n",
		    (int)opt.pid);
		return 2;
	}

	/* Acquire every lease. */
	tstart = last = acq_start = now_ns();
	for (i = 0; i < opt.conns; i++)
		if (rconn_fill(&conns[i]) == -1)
			return 1;
	for (;;) {
		unsigned got = 0, pending = 0;

		for (i = 0; i < opt.conns; i++) {
			got += conns[i].acquired;
			pending += conns[i].inflight +
			    (conns[i].first + conns[i].count - conns[i].next);
		}
		if (pending == 0)
			break;
		if (now_ns() - last > RB_STALL_NS) {
			fprintf(stderr, "renewbench: acquire stalled at %u\n", got);
			return 1;
		}
		if (poll_conns(ep, opt.rate > 0 ? 5 : 1000) == -1)
			return 1;
		last = now_ns();
	}
	tacq = now_ns();
	total = 0;
	for (i = 0; i < opt.conns; i++)
		total += conns[i].acquired;
	printf("acquired %u of %u leases (TTL %u s) over %u connections in %.2f s "
	    "(%.0f acquires/s), %llu errors\n", total, opt.leases, opt.ttl, opt.conns,
	    (double)(tacq - tstart) / 1e9, total * 1e9 / (double)(tacq - tstart),
	    (unsigned long long)errors);
	fflush(stdout);
	if (total != opt.leases)
		status = 1;

	/* Hold: sample the fake's renew counter and the daemon's CPU once a second. */
	if (stats_fetch(&f1) == -1 || pstat_read(&p0) == -1)
		return 1;
	fprev = f1;
	thold = now_ns();
	tnext = thold + 1000000000ULL;
	for (sec = 0; sec < nsec;) {
		t = now_ns();
		if (t >= tnext) {
			if (stats_fetch(&fcur) == -1)
				return 1;
			series[sec] = fcur.renew - fprev.renew;
			fprev = fcur;
			sec++;
			tnext += 1000000000ULL;
			continue;
		}
		ms = (int)((tnext - t) / 1000000) + 1;
		if (poll_conns(ep, ms) == -1)
			return 1;
	}
	t = now_ns();
	if (pstat_read(&p1) == -1)
		return 1;
	d = fprev.renew - f1.renew;
	for (sec = 0; sec < nsec; sec++)
		if (series[sec] > busiest)
			busiest = series[sec];
	{
		double wall = (double)(t - thold) / 1e9;
		double mean = (double)d / wall;
		double cpu = (double)(p1.ticks - p0.ticks) / (double)sysconf(_SC_CLK_TCK) /
		    wall * 100;
		double rss = (double)(p1.rss_kb - p_before.rss_kb) * 1024 / total;

		printf("held for %.1f s: %lld renewals, %.1f renewals/s, busiest second %lld "
		    "(%.2fx the mean)\n", wall, d, mean, busiest,
		    mean > 0 ? (double)busiest / mean : 0.0);
		printf("per-second renewals:");
		for (sec = 0; sec < nsec; sec++)
			printf(" %lld", series[sec]);
		printf("\n");
		printf("daemon cpu %.2f%% of one core (%llu ticks in %.1f s)\n", cpu,
		    p1.ticks - p0.ticks, wall);
		printf("daemon rss %lld kB before, %lld kB with leases: %.0f bytes per lease\n",
		    p_before.rss_kb, p1.rss_kb, rss);
		printf("fake: locks_held %lld, acquire %lld, keepalive %lld, "
		    "new upstream connections during hold %lld\n", fprev.locks_held,
		    fprev.acquire - f1.acquire, fprev.keepalive - f1.keepalive,
		    fprev.conns - f1.conns);
		printf("lease_lost notifications %llu\n", (unsigned long long)lost);
		printf("result leases=%u renew_per_s=%.1f busiest=%lld burst_ratio=%.2f "
		    "cpu_pct=%.2f rss_per_lease=%.0f lost=%llu locks_held=%lld\n", total, mean,
		    busiest, mean > 0 ? (double)busiest / mean : 0.0, cpu, rss,
		    (unsigned long long)lost, fprev.locks_held);
	}
	if (lost > 0 || fprev.locks_held < (long long)total)
		status = 1;

	/* Close every connection: the daemon releases their leases at once. */
	for (i = 0; i < opt.conns; i++)
		close(conns[i].fd);
	tstart = now_ns();
	for (;;) {
		if (stats_fetch(&fcur) == -1)
			return 1;
		if (fcur.locks_held <= 0 || now_ns() - tstart > RB_STALL_NS)
			break;
		usleep(50000);
	}
	printf("after closing the connections: locks_held %lld after %.2f s\n",
	    fcur.locks_held, (double)(now_ns() - tstart) / 1e9);
	(void)f0;
	for (i = 0; i < opt.conns; i++)
		msgpack_zone_destroy(&conns[i].zone);
	free(conns);
	free(series);
	close(ep);
	curl_easy_cleanup(stats_easy);
	curl_global_cleanup();
	return status;
}
