/* pingbench.c - ping round trips against octostored and a raw libevent echo server. */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <msgpack.h>

#include "octo_proto.h"
#include "unixsock.h"

#define BENCH_MAX_CONNS	1024
#define BENCH_MAX_DEPTH	64
#define BENCH_MAX_ROUNDS	9
#define BENCH_IDS	128		/* msgids cycle below 128: one-byte fixint */
#define BENCH_IN	(64 * 1024)	/* input buffer per connection */
#define BENCH_OUT	(16 * 1024)	/* output buffer per connection */
#define BENCH_STALL_NS	(5ULL * 1000000000)	/* no reply for this long: give up */

/* Latency histogram: exact below 128 ns, then 64 sub-buckets per power of two. */
#define HIST_SUB_BITS	6
#define HIST_SUB	(1U << HIST_SUB_BITS)
#define HIST_BUCKETS	(2 * HIST_SUB + (64 - HIST_SUB_BITS - 1) * HIST_SUB)

extern char **environ;

/* A prepacked message: every ping request and its payload-less reply, by msgid. */
struct frame {
	unsigned char	data[32];
	size_t		len;
};
static struct frame	req_frames[BENCH_IDS];
static struct frame	rep_frames[BENCH_IDS];

/* Generator connection. */
struct gconn {
	int		 fd;
	unsigned	 inflight;
	uint32_t	 seq;
	uint64_t	 sent[BENCH_IDS];	/* send time by msgid, 0 when free */
	unsigned char	 in[BENCH_IN];
	size_t		 inlen;
	unsigned char	 out[BENCH_OUT];
	size_t		 outlen;
	int		 wantout;
};

/* Figures of one run against one socket. */
struct result {
	double		 ops;		/* per second */
	double		 p50_us, p99_us;
	uint64_t	 n;
	uint64_t	 slow;		/* replies that were not byte-identical */
	uint64_t	 reply_bytes;
	uint64_t	 all;		/* replies, warm-up included */
	double		 cpu_us;	/* server CPU per reply, < 0 unknown */
	int		 failed;
};

static uint64_t	 hist[HIST_BUCKETS];
static uint64_t	 hist_n;

/* Monotonic time in nanoseconds. */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* CPU time (user + system) of process pid in microseconds, or -1. */
static double
proc_cpu_us(pid_t pid)
{
	char			 path[64];
	FILE			*f;
	unsigned long long	 ut, st;
	int			 ok;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	/* Fields 14 and 15; the command name (2) is skipped up to its last ')'. */
	ok = fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) == 2;
	fclose(f);
	if (!ok)
		return -1;
	return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* msgpack write callback into a struct frame. */
static int
frame_write(void *data, const char *buf, size_t len)
{
	struct frame *f = data;

	if (f->len + len > sizeof(f->data))
		return -1;
	memcpy(f->data + f->len, buf, len);
	f->len += len;
	return 0;
}

/* Pack [0,id,"ping",[{}]] and [1,id,nil,{}] for every msgid once. */
static void
frames_init(void)
{
	msgpack_packer	pk;
	uint32_t	id;

	for (id = 0; id < BENCH_IDS; id++) {
		msgpack_packer_init(&pk, &req_frames[id], frame_write);
		octo_proto_pack_request(&pk, id, "ping");
		msgpack_pack_map(&pk, 0);
		msgpack_packer_init(&pk, &rep_frames[id], frame_write);
		octo_proto_pack_result(&pk, id);
		msgpack_pack_map(&pk, 0);
	}
}

/* Histogram bucket of a latency. */
static unsigned
hist_index(uint64_t v)
{
	unsigned msb;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	return 2 * HIST_SUB + (msb - HIST_SUB_BITS - 1) * HIST_SUB +
	    (unsigned)((v >> (msb - HIST_SUB_BITS)) - HIST_SUB);
}

/* Middle value of a bucket. */
static double
hist_value(unsigned i)
{
	unsigned	msb, sub;
	double		lo, width;

	if (i < 2 * HIST_SUB)
		return i;
	msb = (i - 2 * HIST_SUB) / HIST_SUB + HIST_SUB_BITS + 1;
	sub = (i - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
	width = (double)(1ULL << (msb - HIST_SUB_BITS));
	lo = sub * width;
	return lo + width / 2;
}

/* Latency at quantile q (0..1) in microseconds. */
static double
hist_quantile(double q)
{
	uint64_t	want, seen = 0;
	unsigned	i;

	if (hist_n == 0)
		return 0;
	want = (uint64_t)(q * (double)hist_n);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return hist_value(i) / 1000;
	}
	return hist_value(HIST_BUCKETS - 1) / 1000;
}

/* Queue up to depth requests in one write; arm EPOLLOUT if it did not all go. */
static int
gconn_fill(struct gconn *c, unsigned depth, uint64_t t, int ep)
{
	struct epoll_event	ev;
	ssize_t			n;

	while (c->inflight < depth) {
		uint32_t id = c->seq % BENCH_IDS;

		if (c->sent[id] != 0 || c->outlen + req_frames[id].len > sizeof(c->out))
			break;
		memcpy(c->out + c->outlen, req_frames[id].data, req_frames[id].len);
		c->outlen += req_frames[id].len;
		c->sent[id] = t;
		c->seq++;
		c->inflight++;
	}
	if (c->outlen == 0)
		return 0;
	n = write(c->fd, c->out, c->outlen);
	if (n == -1 && errno != EAGAIN)
		return -1;
	if (n > 0) {
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	if ((c->outlen > 0) != c->wantout) {
		c->wantout = c->outlen > 0;
		ev.events = EPOLLIN | (c->wantout ? EPOLLOUT : 0);
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
			return -1;
	}
	return 0;
}

/* Match one reply frame to its request; byte-identical replies take the fast path. */
static int
gconn_reply(struct gconn *c, const unsigned char *p, size_t len, uint64_t t,
    int record, msgpack_zone *zone, struct result *res)
{
	struct octo_msg	m;
	uint32_t	id = BENCH_IDS;

	if (len >= 3 && p[2] < BENCH_IDS && len == rep_frames[p[2]].len &&
	    memcmp(p, rep_frames[p[2]].data, len) == 0)
		id = p[2];
	else {
		msgpack_zone_clear(zone);
		if (octo_proto_decode(p, len, zone, &m) != OCTO_OK ||
		    m.type != OCTO_MSG_RESPONSE || m.error->type != MSGPACK_OBJECT_NIL ||
		    m.result->type != MSGPACK_OBJECT_MAP || m.msgid >= BENCH_IDS) {
			fprintf(stderr, "pingbench: unexpected reply of %zu bytes\n", len);
			return -1;
		}
		id = m.msgid;
		res->slow++;
	}
	if (c->sent[id] == 0) {
		fprintf(stderr, "pingbench: reply to msgid %u not outstanding\n", id);
		return -1;
	}
	if (record) {
		hist[hist_index(t - c->sent[id])]++;
		hist_n++;
		res->reply_bytes += len;
	}
	c->sent[id] = 0;
	c->inflight--;
	return 0;
}

/* Read what arrived and consume whole reply frames. */
static int
gconn_read(struct gconn *c, uint64_t t, int record, msgpack_zone *zone,
    struct result *res, uint64_t *done)
{
	struct octo_proto_limits lim;
	size_t	off = 0, len;
	ssize_t	n;
	int	r;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		fprintf(stderr, "pingbench: connection closed by server\n");
		return -1;
	}
	c->inlen += (size_t)n;
	octo_proto_limits_default(&lim);
	while ((r = octo_proto_scan(c->in + off, c->inlen - off, &lim, &len)) == OCTO_OK) {
		if (gconn_reply(c, c->in + off, len, t, record, zone, res) != 0)
			return -1;
		off += len;
		res->all++;
		if (record)
			(*done)++;
	}
	if (r != OCTO_ERR_AGAIN) {
		fprintf(stderr, "pingbench: bad reply stream: %s\n", octo_strerror(r));
		return -1;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

/*
 * One measurement point: nconns connections each keeping depth pings in flight for
 * warm-up plus seconds.  Only replies arriving after the warm-up count.
 */
static int
run_point(const char *path, pid_t pid, unsigned nconns, unsigned depth,
    double seconds, struct result *res)
{
	struct epoll_event	 ev, evs[64];
	struct gconn		*conns;
	msgpack_zone		 zone;
	uint64_t		 t, start, warm, end, last, done = 0;
	double			 cpu0;
	unsigned		 i;
	int			 ep, n, k, rc = -1;

	memset(res, 0, sizeof(*res));
	memset(hist, 0, sizeof(hist));
	hist_n = 0;
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
		return -1;
	for (i = 0; i < nconns; i++)
		conns[i].fd = -1;
	if (!msgpack_zone_init(&zone, 1024) || (ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(conns);
		return -1;
	}
	for (i = 0; i < nconns; i++) {
		if ((conns[i].fd = unixsock_connect(path, UNIXSOCK_NONBLOCK)) == -1) {
			fprintf(stderr, "pingbench: connect %s: %s\n", path, strerror(errno));
			goto out;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = &conns[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) == -1)
			goto out;
	}

	cpu0 = proc_cpu_us(pid);
	start = last = now_ns();
	warm = start + (uint64_t)(seconds * 0.1 * 1e9);
	end = warm + (uint64_t)(seconds * 1e9);
	for (i = 0; i < nconns; i++) {
		if (gconn_fill(&conns[i], depth, start, ep) != 0)
			goto out;
	}
	for (;;) {
		n = epoll_wait(ep, evs, 64, 100);
		if (n == -1 && errno != EINTR)
			goto out;
		t = now_ns();
		for (k = 0; k < n; k++) {
			struct gconn *c = evs[k].data.ptr;

			if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				if (gconn_read(c, t, t >= warm && t < end, &zone, res,
				    &done) != 0)
					goto out;
				last = t;
			}
			if (t < end && gconn_fill(c, depth, t, ep) != 0)
				goto out;
		}
		if (t >= end)
			break;
		if (t - last > BENCH_STALL_NS) {
			fprintf(stderr, "pingbench: no reply for %llu s\n",
			    (unsigned long long)(BENCH_STALL_NS / 1000000000));
			goto out;
		}
	}
	res->cpu_us = -1;
	if (cpu0 >= 0 && res->all > 0 && proc_cpu_us(pid) >= cpu0)
		res->cpu_us = (proc_cpu_us(pid) - cpu0) / (double)res->all;
	res->n = done;
	res->ops = (double)done / seconds;
	res->p50_us = hist_quantile(0.50);
	res->p99_us = hist_quantile(0.99);
	rc = 0;
out:
	if (rc != 0)
		res->failed = 1;
	for (i = 0; i < nconns; i++) {
		if (conns[i].fd != -1)
			close(conns[i].fd);
	}
	close(ep);
	msgpack_zone_destroy(&zone);
	free(conns);
	return rc;
}

/* Parse "1,8,64" into at most max positive numbers no larger than limit. */
static unsigned
parse_list(const char *s, unsigned *out, unsigned max, unsigned limit)
{
	unsigned	n = 0;
	char		*end;
	unsigned long	v;

	while (*s != '\0' && n < max) {
		v = strtoul(s, &end, 10);
		if (end == s || v == 0 || v > limit || (*end != ',' && *end != '\0'))
			return 0;
		out[n++] = (unsigned)v;
		s = *end == ',' ? end + 1 : end;
	}
	return *s == '\0' ? n : 0;
}

/* The round with the median throughput; a failed round makes the point fail. */
static struct result
median(const struct result *r, unsigned n)
{
	unsigned i, j, below;

	for (i = 0; i < n; i++) {
		if (r[i].failed)
			return r[i];
	}
	for (i = 0; i < n; i++) {
		below = 0;
		for (j = 0; j < n; j++) {
			if (r[j].ops < r[i].ops || (r[j].ops == r[i].ops && j < i))
				below++;
		}
		if (below == n / 2)
			return r[i];
	}
	return r[0];
}

/* Print one target's columns. */
static void
print_result(const struct result *r, int cpu)
{
	if (r->failed)
		printf(" %9s %7s %8s", "FAILED", "-", "-");
	else
		printf(" %9.0f %7.1f %8.1f", r->ops, r->p50_us, r->p99_us);
	if (cpu && r->cpu_us >= 0 && !r->failed)
		printf(" %6.2f", r->cpu_us);
	else if (cpu)
		printf(" %6s", "-");
}

/* Print one measurement row; ratio is daemon/echo throughput, cpu ratio echo/daemon. */
static void
print_row(unsigned depth, unsigned conns, const struct result *a,
    const struct result *b, int cpu)
{
	char mode[16];

	if (depth == 1)
		snprintf(mode, sizeof(mode), "strict");
	else
		snprintf(mode, sizeof(mode), "pipe%u", depth);
	printf("%-7s %5u", mode, conns);
	print_result(a, cpu);
	if (b != NULL) {
		print_result(b, cpu);
		if (!a->failed && !b->failed && b->ops > 0)
			printf(" %6.2f", a->ops / b->ops);
		else
			printf(" %6s", "-");
		if (cpu && !a->failed && !b->failed && a->cpu_us > 0 && b->cpu_us >= 0)
			printf(" %6.2f", b->cpu_us / a->cpu_us);
		else if (cpu)
			printf(" %6s", "-");
	}
	printf("\n");
}

/* The load generator: every depth x conns point against one or two sockets. */
static int
bench_main(int argc, char **argv)
{
	unsigned	 conns[8] = { 1, 8, 64 }, depths[8] = { 1, 16 };
	unsigned	 nconns = 3, ndepths = 2, rounds = 1, i, j, k;
	long		 pid_a = 0, pid_b = 0;
	double		 seconds = 2;
	const char	*target, *echo = NULL;
	struct result	 a, b, ra[BENCH_MAX_ROUNDS], rb[BENCH_MAX_ROUNDS];
	uint64_t	 slow = 0;
	char		*end;
	long		 v;
	int		 ch, cpu, failed = 0;

	while ((ch = getopt(argc, argv, "c:d:p:q:r:t:")) != -1) {
		switch (ch) {
		case 'c':
			if ((nconns = parse_list(optarg, conns, 8, BENCH_MAX_CONNS)) == 0)
				goto usage;
			break;
		case 'd':
			if ((ndepths = parse_list(optarg, depths, 8, BENCH_MAX_DEPTH)) == 0)
				goto usage;
			break;
		case 'p':
		case 'q':
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v <= 0)
				goto usage;
			*(ch == 'p' ? &pid_a : &pid_b) = v;
			break;
		case 'r':
			if (parse_list(optarg, &rounds, 1, BENCH_MAX_ROUNDS) != 1)
				goto usage;
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			if (!(seconds >= 0.1 && seconds <= 600))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		goto usage;
	target = argv[0];
	if (argc == 2)
		echo = argv[1];

	printf("# %.1f s per point after %.1f s warm-up, median of %u round%s; ping "
	    "request %zu bytes, reply %zu bytes; latency in microseconds\n", seconds,
	    seconds * 0.1, rounds, rounds > 1 ? "s" : "", req_frames[1].len,
	    rep_frames[1].len);
	cpu = pid_a > 0 && (echo == NULL || pid_b > 0);
	if (cpu)
		printf("# cpu/op: server CPU microseconds per reply (/proc, %ld Hz ticks); "
		    "ratio: daemon/echo ops/s; cpu: echo/daemon cpu/op\n",
		    sysconf(_SC_CLK_TCK));
	printf("%-7s %5s %9s %7s %8s", "mode", "conns", "ops/s", "p50", "p99");
	if (cpu)
		printf(" %6s", "cpu/op");
	if (echo != NULL) {
		printf(" %9s %7s %8s", "echo", "p50", "p99");
		if (cpu)
			printf(" %6s", "cpu/op");
		printf(" %6s", "ratio");
		if (cpu)
			printf(" %6s", "cpu");
	}
	printf("\n");
	fflush(stdout);
	for (i = 0; i < ndepths; i++) {
		for (j = 0; j < nconns; j++) {
			/* Alternate the targets round by round so drift hits both. */
			for (k = 0; k < rounds; k++) {
				if (run_point(target, (pid_t)pid_a, conns[j], depths[i],
				    seconds, &ra[k]) != 0)
					failed = 1;
				slow += ra[k].slow;
				if (echo != NULL && run_point(echo, (pid_t)pid_b,
				    conns[j], depths[i], seconds, &rb[k]) != 0)
					failed = 1;
			}
			a = median(ra, rounds);
			if (echo != NULL)
				b = median(rb, rounds);
			print_row(depths[i], conns[j], &a, echo != NULL ? &b : NULL,
			    cpu);
			fflush(stdout);
		}
	}
	if (slow > 0)
		printf("# %llu replies from %s differed from the reference bytes "
		    "and were decoded\n", (unsigned long long)slow, target);
	return failed ? 1 : 0;
usage:
	fprintf(stderr, "usage: pingbench [-t seconds] [-r rounds] [-c 1,8,64] [-d 1,16] "
	    "[-p pid] [-q echo-pid]\n"
	    "                 SOCKET [ECHO_SOCKET]\n"
	    "       pingbench echo SOCKET\n"
	    "       pingbench probe SOCKET\n"
	    "       pingbench spawn COUNT PROGRAM [ARG...]\n");
	return 64;
}

/* Echo server connection. */
struct econn {
	int		 fd;
	struct event	*rev, *wev;
	unsigned char	 in[BENCH_IN];
	size_t		 inlen;
	unsigned char	 out[BENCH_OUT];
	size_t		 outlen;
	int		 reading, writing;	/* events armed */
};

static unsigned	 echo_nconns;

/* Drop an echo connection. */
static void
echo_free(struct econn *c)
{
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	free(c);
	echo_nconns--;
}

/* Arm or disarm the read and write events to match the buffers. */
static void
echo_arm(struct econn *c)
{
	int wantw = c->outlen > 0;
	int wantr = c->outlen + sizeof(rep_frames[0].data) <= sizeof(c->out);

	if (wantw != c->writing) {
		if (wantw)
			event_add(c->wev, NULL);
		else
			event_del(c->wev);
		c->writing = wantw;
	}
	if (wantr != c->reading) {
		if (wantr)
			event_add(c->rev, NULL);
		else
			event_del(c->rev);
		c->reading = wantr;
	}
}

/*
 * Answer every whole frame in the input with the reply the daemon gives a
 * payload-less ping of the same msgid (any other frame gets msgid 0's), then write.
 * Reading stops while the output buffer is full.
 */
static int
echo_process(struct econn *c)
{
	struct octo_proto_limits lim;
	const struct frame *rep;
	size_t	 off = 0, len;
	ssize_t	 n;
	int	 r, full;

	octo_proto_limits_default(&lim);
	do {
		full = 0;
		for (;;) {
			if (c->outlen + sizeof(rep_frames[0].data) > sizeof(c->out)) {
				full = 1;
				break;
			}
			r = octo_proto_scan(c->in + off, c->inlen - off, &lim, &len);
			if (r == OCTO_ERR_AGAIN)
				break;
			if (r != OCTO_OK)
				return -1;
			rep = &rep_frames[0];
			if (len >= 3 && c->in[off + 2] < BENCH_IDS &&
			    len == req_frames[c->in[off + 2]].len &&
			    memcmp(c->in + off, req_frames[c->in[off + 2]].data, len) == 0)
				rep = &rep_frames[c->in[off + 2]];
			memcpy(c->out + c->outlen, rep->data, rep->len);
			c->outlen += rep->len;
			off += len;
		}
		if (c->outlen > 0) {
			n = write(c->fd, c->out, c->outlen);
			if (n == -1 && errno != EAGAIN)
				return -1;
			if (n > 0) {
				memmove(c->out, c->out + n, c->outlen - (size_t)n);
				c->outlen -= (size_t)n;
			}
		}
	} while (full && c->outlen == 0);
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	echo_arm(c);
	return 0;
}

/* Echo connection readable. */
static void
echo_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct econn	*c = arg;
	ssize_t		 n;

	(void)what;
	if (c->inlen == sizeof(c->in)) {
		echo_free(c);			/* a frame larger than the buffer */
		return;
	}
	n = read(fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		echo_free(c);
		return;
	}
	c->inlen += (size_t)n;
	if (echo_process(c) != 0)
		echo_free(c);
}

/* Echo connection writable again. */
static void
echo_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct econn *c = arg;

	(void)fd;
	(void)what;
	if (echo_process(c) != 0)
		echo_free(c);
}

/* New echo client. */
static void
echo_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct event_base	*base = arg;
	struct econn		*c;
	int			 fd;

	(void)what;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if (echo_nconns >= BENCH_MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, echo_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, echo_write_cb, c);
	c->reading = 1;
	if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) == -1) {
		if (c->rev != NULL)
			event_free(c->rev);
		if (c->wev != NULL)
			event_free(c->wev);
		close(fd);
		free(c);
		return;
	}
	echo_nconns++;
}

/* SIGTERM/SIGINT: leave the loop. */
static void
echo_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

/* The raw echo server: one libevent loop, plain read/write, no bufferevents. */
static int
echo_main(const char *path)
{
	struct sockaddr_un	 sun;
	struct event_base	*base;
	struct event		*lev, *sterm, *sint;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "pingbench: socket path too long\n");
		return 1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || (unlink(path) == -1 && errno != ENOENT) ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 || listen(fd, 256) == -1) {
		fprintf(stderr, "pingbench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if ((base = event_base_new()) == NULL)
		return 1;
	lev = event_new(base, fd, EV_READ | EV_PERSIST, echo_accept_cb, base);
	sterm = evsignal_new(base, SIGTERM, echo_signal_cb, base);
	sint = evsignal_new(base, SIGINT, echo_signal_cb, base);
	if (lev == NULL || sterm == NULL || sint == NULL || event_add(lev, NULL) == -1 ||
	    event_add(sterm, NULL) == -1 || event_add(sint, NULL) == -1)
		return 1;
	event_base_dispatch(base);
	event_free(lev);
	event_free(sterm);
	event_free(sint);
	event_base_free(base);
	close(fd);
	unlink(path);
	return 0;
}

/* One ping with a one-second bound: exit 0 when the server answers it. */
static int
probe_main(const char *path)
{
	struct octo_proto_limits lim;
	struct pollfd	pfd;
	unsigned char	buf[256];
	size_t		have = 0, len;
	uint64_t	deadline;
	ssize_t		n;
	int		fd, r = OCTO_ERR_AGAIN;

	if ((fd = unixsock_connect(path, 0)) == -1)
		return 1;
	if (write(fd, req_frames[1].data, req_frames[1].len) != (ssize_t)req_frames[1].len) {
		close(fd);
		return 1;
	}
	octo_proto_limits_default(&lim);
	deadline = now_ns() + 1000000000;
	while (r == OCTO_ERR_AGAIN && have < sizeof(buf)) {
		uint64_t t = now_ns();

		if (t >= deadline)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)((deadline - t) / 1000000) + 1) <= 0)
			break;
		if ((n = read(fd, buf + have, sizeof(buf) - have)) <= 0)
			break;
		have += (size_t)n;
		r = octo_proto_scan(buf, have, &lim, &len);
	}
	close(fd);
	return r == OCTO_OK ? 0 : 1;
}

/* Spawn a command count times in a row; print the mean wall time per run. */
static int
spawn_main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	unsigned long	count, i, bad = 0;
	uint64_t	t0, t1;
	pid_t		pid;
	int		status;

	if (argc < 2 || (count = strtoul(argv[0], NULL, 10)) == 0 || count > 100000)
		return 64;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	t0 = now_ns();
	for (i = 0; i < count; i++) {
		if (posix_spawn(&pid, argv[1], &fa, NULL, argv + 1, environ) != 0) {
			fprintf(stderr, "pingbench: spawn %s: %s\n", argv[1],
			    strerror(errno));
			return 1;
		}
		if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad++;
	}
	t1 = now_ns();
	posix_spawn_file_actions_destroy(&fa);
	printf("%.1f\n", (double)(t1 - t0) / (double)count / 1000);
	if (bad > 0) {
		fprintf(stderr, "pingbench: %lu of %lu runs of %s failed\n", bad, count,
		    argv[1]);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	frames_init();
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		return echo_main(argv[2]);
	if (argc == 3 && strcmp(argv[1], "probe") == 0)
		return probe_main(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "spawn") == 0)
		return spawn_main(argc - 2, argv + 2);
	return bench_main(argc, argv);
}
