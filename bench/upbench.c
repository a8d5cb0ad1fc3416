/* upbench.c - acquire+release pairs through octostored against direct libcurl baselines. */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <msgpack.h>

#include "octo_proto.h"
#include "unixsock.h"

#define UB_MAX_CLIENTS	256
#define UB_IN		(64 * 1024)
#define UB_LEASE_MAX	128
#define UB_BODY_MAX	(64 * 1024)
#define UB_STALL_NS	(10ULL * 1000000000)

extern char **environ;

/* Latency samples of one run, in nanoseconds. */
struct lat {
	uint64_t	*v;
	size_t		 n, cap;
};

/* Options shared by every mode. */
static struct {
	double		 seconds;
	unsigned	 clients;
	unsigned	 maxconn;
	unsigned	 count;
	unsigned	 ttl;
	const char	*url;
	const char	*token_file;
	const char	*cacert;
	const char	*label;
} opt = { 3.0, 1, 0, 200, 30, NULL, NULL, NULL, NULL };

static struct lat	 lat;
static uint64_t		 errors;
static char		 token[512];

/* Monotonic time in nanoseconds. */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Record one latency. */
static void
lat_add(uint64_t ns)
{
	uint64_t *nv;

	if (lat.n == lat.cap) {
		lat.cap = lat.cap == 0 ? 65536 : lat.cap * 2;
		if ((nv = realloc(lat.v, lat.cap * sizeof(*nv))) == NULL) {
			perror("upbench: realloc");
			exit(2);
		}
		lat.v = nv;
	}
	lat.v[lat.n++] = ns;
}

/* qsort comparator. */
static int
lat_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Print one result line: throughput over the elapsed time and latency quantiles. */
static void
lat_report(const char *mode, uint64_t elapsed_ns)
{
	double		sum = 0, p50 = 0, p99 = 0;
	size_t		i;

	qsort(lat.v, lat.n, sizeof(*lat.v), lat_cmp);
	for (i = 0; i < lat.n; i++)
		sum += (double)lat.v[i];
	if (lat.n > 0) {
		p50 = (double)lat.v[lat.n / 2] / 1000;
		p99 = (double)lat.v[lat.n * 99 / 100] / 1000;
	}
	printf("result mode=%s label=%s clients=%u ops_per_s=%.1f mean_us=%.1f "
	    "p50_us=%.1f p99_us=%.1f ops=%zu errors=%llu maxconn=%u\n", mode,
	    opt.label != NULL ? opt.label : "-", opt.clients,
	    (double)lat.n * 1e9 / (double)elapsed_ns,
	    lat.n > 0 ? sum / (double)lat.n / 1000 : 0.0, p50, p99, lat.n,
	    (unsigned long long)errors, opt.maxconn);
	fflush(stdout);
}

/* Read the bearer token (trailing newline stripped). */
static void
token_load(void)
{
	FILE	*f;
	size_t	 n;

	if (opt.token_file == NULL || (f = fopen(opt.token_file, "r")) == NULL) {
		fprintf(stderr, "upbench: cannot read the token file\n");
		exit(2);
	}
	n = fread(token, 1, sizeof(token) - 1, f);
	fclose(f);
	token[n] = '\0';
	while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r'))
		token[--n] = '\0';
}

/* ---- through the daemon: raw msgpack-RPC over the Unix socket ---- */

/* One client connection: one request in flight, acquire then release, forever. */
struct dclient {
	int		 fd;
	unsigned	 idx;
	int		 releasing;	/* the request in flight is a release */
	char		 name[64];
	char		 lease_id[UB_LEASE_MAX];
	uint32_t	 msgid;
	uint64_t	 sent;
	unsigned char	 in[UB_IN];
	size_t		 inlen;
	msgpack_zone	 zone;
};

/* Send the client's next request: acquire, or release of the lease it holds. */
static int
dclient_send(struct dclient *c)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	int		rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	c->msgid++;
	if (!c->releasing) {
		octo_proto_pack_request(&pk, c->msgid, "acquire");
		msgpack_pack_map(&pk, 2);
		octo_proto_pack_str(&pk, "name");
		octo_proto_pack_str(&pk, c->name);
		octo_proto_pack_str(&pk, "ttl");
		msgpack_pack_uint32(&pk, opt.ttl);
	} else {
		octo_proto_pack_request(&pk, c->msgid, "release");
		msgpack_pack_map(&pk, 2);
		octo_proto_pack_str(&pk, "name");
		octo_proto_pack_str(&pk, c->name);
		octo_proto_pack_str(&pk, "lease_id");
		octo_proto_pack_str(&pk, c->lease_id);
	}
	c->sent = now_ns();
	rc = unixsock_send_all(c->fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* Handle one decoded reply; returns 1 when the client's request completed. */
static int
dclient_reply(struct dclient *c, const struct octo_msg *m, uint64_t t, int measuring)
{
	const char	*s;
	size_t		 len;

	if (m->type != OCTO_MSG_RESPONSE)
		return 0;		/* a notification */
	if (m->msgid != c->msgid) {
		fprintf(stderr, "upbench: client %u: unexpected msgid %u\n", c->idx,
		    m->msgid);
		errors++;
		return 0;
	}
	if (m->error != NULL && m->error->type != MSGPACK_OBJECT_NIL) {
		errors++;
		c->releasing = 0;	/* start over with an acquire */
		return 1;
	}
	if (measuring)
		lat_add(t - c->sent);
	if (!c->releasing) {
		if (octo_proto_get_str(m->result, "status", &s, &len) != OCTO_OK ||
		    len != 8 || memcmp(s, "acquired", 8) != 0 ||
		    octo_proto_get_str(m->result, "lease_id", &s, &len) != OCTO_OK ||
		    octo_proto_strcpy(c->lease_id, sizeof(c->lease_id), s, len) !=
		    OCTO_OK) {
			errors++;
			return 1;
		}
		c->releasing = 1;
	} else
		c->releasing = 0;
	return 1;
}

/* Read what the socket has and handle every complete message; -1 on EOF or error. */
static int
dclient_read(struct dclient *c, int measuring, int *done)
{
	struct octo_proto_limits	lim;
	struct octo_msg			m;
	size_t				mlen, off = 0;
	ssize_t				n;
	uint64_t			t;
	int				r;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	t = now_ns();
	c->inlen += (size_t)n;
	octo_proto_limits_default(&lim);
	*done = 0;
	while (off < c->inlen) {
		r = octo_proto_scan(c->in + off, c->inlen - off, &lim, &mlen);
		if (r == OCTO_ERR_AGAIN)
			break;
		if (r != OCTO_OK)
			return -1;
		if (octo_proto_decode(c->in + off, mlen, &c->zone, &m) != OCTO_OK)
			return -1;
		if (dclient_reply(c, &m, t, measuring))
			*done = 1;
		msgpack_zone_clear(&c->zone);
		off += mlen;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

/*
 * N clients, each with one acquire or release in flight, for a warm-up second and then
 * opt.seconds measured.  Each client leaves with its lease released (or the connection
 * closed, which releases it as well).
 */
static int
daemon_main(const char *path)
{
	static struct dclient	 cl[UB_MAX_CLIENTS];
	struct epoll_event	 ev, evs[64];
	struct timeval		 rcvto = { 10, 0 };
	uint64_t		 start, t, t0 = 0, end, last = 0;
	unsigned		 i;
	int			 ep, n, k, done, measuring = 0;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 2;
	for (i = 0; i < opt.clients; i++) {
		struct dclient *c = &cl[i];

		c->idx = i;
		snprintf(c->name, sizeof(c->name), "bench/up/%s/c%u",
		    opt.label != NULL ? opt.label : "x", i);
		msgpack_zone_init(&c->zone, 2048);
		if ((c->fd = unixsock_connect(path, 0)) == -1) {
			fprintf(stderr, "upbench: connect %s: %s\n", path, strerror(errno));
			return 2;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1 || dclient_send(c) == -1)
			return 2;
	}
	start = now_ns();
	end = start + 1000000000ULL + (uint64_t)(opt.seconds * 1e9);
	last = start;
	for (;;) {
		t = now_ns();
		if (!measuring && t >= start + 1000000000ULL) {
			measuring = 1;
			t0 = t;
		}
		if (t >= end)
			break;
		if (t - last > UB_STALL_NS) {
			fprintf(stderr, "upbench: no reply for %llu s\n",
			    (unsigned long long)(UB_STALL_NS / 1000000000));
			return 1;
		}
		if ((n = epoll_wait(ep, evs, 64, 100)) == -1) {
			if (errno == EINTR)
				continue;
			return 2;
		}
		for (k = 0; k < n; k++) {
			struct dclient *c = evs[k].data.ptr;

			if (dclient_read(c, measuring, &done) == -1) {
				fprintf(stderr, "upbench: client %u: connection lost\n",
				    c->idx);
				return 1;
			}
			if (done) {
				last = now_ns();
				if (dclient_send(c) == -1)
					return 1;
			}
		}
	}
	t = now_ns();
	lat_report("daemon", t - t0);
	/* Drain: let each client finish its request and release what it holds. */
	for (i = 0; i < opt.clients; i++) {
		struct dclient *c = &cl[i];
		uint64_t dl = now_ns() + UB_STALL_NS;

		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &rcvto, sizeof(rcvto));
		for (;;) {
			if (now_ns() > dl || dclient_read(c, 0, &done) == -1)
				break;
			if (done && c->releasing) {
				dclient_send(c);
				continue;
			}
			if (done)
				break;
		}
		close(c->fd);
		msgpack_zone_destroy(&c->zone);
	}
	close(ep);
	return errors == 0 ? 0 : 1;
}

/* ---- bare Unix-socket echo round trip ---- */

/*
 * A child process echoes whatever arrives on one end of a socketpair; the parent sends an
 * acquire-sized request and waits for all of it to come back, one message in flight.
 */
static int
echo_main(void)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	char		buf[4096];
	uint64_t	start, t0, t1, end;
	ssize_t		n;
	size_t		got;
	pid_t		pid;
	int		sv[2], status;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return 2;
	if ((pid = fork()) == -1)
		return 2;
	if (pid == 0) {
		close(sv[0]);
		while ((n = read(sv[1], buf, sizeof(buf))) > 0)
			if (unixsock_send_all(sv[1], buf, (size_t)n) == -1)
				break;
		_exit(0);
	}
	close(sv[1]);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	octo_proto_pack_request(&pk, 1, "acquire");
	msgpack_pack_map(&pk, 2);
	octo_proto_pack_str(&pk, "name");
	octo_proto_pack_str(&pk, "bench/up/echo/c0");
	octo_proto_pack_str(&pk, "ttl");
	msgpack_pack_uint32(&pk, opt.ttl);
	start = now_ns();
	end = start + 1000000000ULL + (uint64_t)(opt.seconds * 1e9);
	t0 = 0;
	for (;;) {
		t1 = now_ns();
		if (t0 == 0 && t1 >= start + 1000000000ULL)
			t0 = t1;
		if (t1 >= end)
			break;
		if (unixsock_send_all(sv[0], sb.data, sb.size) == -1)
			return 1;
		for (got = 0; got < sb.size; got += (size_t)n)
			if ((n = read(sv[0], buf, sizeof(buf))) <= 0)
				return 1;
		if (t0 != 0)
			lat_add(now_ns() - t1);
	}
	lat_report("echo", now_ns() - t0);
	msgpack_sbuffer_destroy(&sb);
	close(sv[0]);
	waitpid(pid, &status, 0);
	return 0;
}

/* ---- direct HTTP: keep-alive libcurl ---- */

/* One direct client: an easy handle doing acquire then release on its own name. */
struct hclient {
	CURL		*easy;
	unsigned	 idx;
	int		 releasing;
	char		 name[64];
	char		 lease_id[UB_LEASE_MAX];
	char		 url[512];
	char		 body[256];
	char		 resp[UB_BODY_MAX];
	size_t		 resplen;
	uint64_t	 sent;
};

static struct curl_slist *http_headers;

/* Append a response body, truncating at the buffer (bodies here are tiny). */
static size_t
hclient_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct hclient	*h = arg;
	size_t		 n = size * nmemb;

	if (h->resplen + n >= sizeof(h->resp))
		return 0;
	memcpy(h->resp + h->resplen, p, n);
	h->resplen += n;
	return n;
}

/* Set up a direct client's easy handle. */
static void
hclient_init(struct hclient *h, unsigned idx, const char *mode)
{
	char hdr[600];

	if (http_headers == NULL) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
		http_headers = curl_slist_append(NULL, hdr);
		http_headers = curl_slist_append(http_headers,
		    "Content-Type: application/json");
		explicit_bzero(hdr, sizeof(hdr));
	}
	h->idx = idx;
	snprintf(h->name, sizeof(h->name), "%s/%s/c%u", mode,
	    opt.label != NULL ? opt.label : "x", idx);
	h->easy = curl_easy_init();
	curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, http_headers);
	curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, hclient_write);
	curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->easy, CURLOPT_PRIVATE, h);
	curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "upbench");
	curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, 10000L);
	if (opt.cacert != NULL)
		curl_easy_setopt(h->easy, CURLOPT_CAINFO, opt.cacert);
}

/* Point the handle at the next request: acquire, or release of the held lease. */
static void
hclient_prepare(struct hclient *h)
{
	char *ename;

	ename = curl_easy_escape(h->easy, h->name, 0);
	if (!h->releasing) {
		snprintf(h->url, sizeof(h->url), "%s/locks/%s/acquire", opt.url, ename);
		snprintf(h->body, sizeof(h->body), "{\"ttl_seconds\":%u}", opt.ttl);
	} else {
		snprintf(h->url, sizeof(h->url), "%s/locks/%s/release", opt.url, ename);
		snprintf(h->body, sizeof(h->body), "{\"lease_id\":\"%s\"}", h->lease_id);
	}
	curl_free(ename);
	curl_easy_setopt(h->easy, CURLOPT_URL, h->url);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, h->body);
	h->resplen = 0;
	h->sent = now_ns();
}

/* A transfer finished: check it and flip acquire/release; 0 when it succeeded. */
static int
hclient_done(struct hclient *h, CURLcode cc, int measuring)
{
	json_t		*o = NULL, *v;
	long		 code = 0;
	int		 rc = -1;

	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK || code != 200) {
		if (errors++ < 5)
			fprintf(stderr, "upbench: %s %s: %s, HTTP %ld\n", h->name,
			    h->releasing ? "release" : "acquire",
			    curl_easy_strerror(cc), code);
		h->releasing = 0;
		return -1;
	}
	if (measuring)
		lat_add(now_ns() - h->sent);
	if (h->releasing) {
		h->releasing = 0;
		return 0;
	}
	h->resp[h->resplen] = '\0';
	if ((o = json_loadb(h->resp, h->resplen, 0, NULL)) == NULL ||
	    (v = json_object_get(o, "status")) == NULL || !json_is_string(v) ||
	    strcmp(json_string_value(v), "acquired") != 0 ||
	    (v = json_object_get(o, "lease_id")) == NULL || !json_is_string(v) ||
	    strlen(json_string_value(v)) >= sizeof(h->lease_id)) {
		errors++;
		goto out;
	}
	strcpy(h->lease_id, json_string_value(v));
	h->releasing = 1;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* One easy handle, one request at a time, connection kept alive. */
static int
easy_main(void)
{
	struct hclient	*h;
	uint64_t	 start, t0 = 0, end, t;
	CURLcode	 cc;

	token_load();
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return 2;
	hclient_init(h, 0, "bench/easy");
	start = now_ns();
	end = start + 1000000000ULL + (uint64_t)(opt.seconds * 1e9);
	for (;;) {
		t = now_ns();
		if (t0 == 0 && t >= start + 1000000000ULL)
			t0 = t;
		if (t >= end && !h->releasing)
			break;
		hclient_prepare(h);
		cc = curl_easy_perform(h->easy);
		if (hclient_done(h, cc, t0 != 0 && t < end) == -1 && errors > 100)
			return 1;
	}
	lat_report("easy", t - t0);
	curl_easy_cleanup(h->easy);
	free(h);
	return errors == 0 ? 0 : 1;
}

/* ---- direct HTTP: curl multi on libevent, N transfers in parallel ---- */

static struct event_base	*mbase;
static CURLM			*multi;
static struct event		*mtimer;
static int			 mstopping, mmeasuring, mactive;
static uint64_t			 mend;

/* Per-socket event, attached to the socket with curl_multi_assign. */
struct msock {
	struct event	*ev;
};

/* Collect finished transfers and start each client's next request. */
static void
multi_check(void)
{
	struct hclient	*h;
	CURLMsg		*msg;
	int		 left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&h);
		curl_multi_remove_handle(multi, h->easy);
		hclient_done(h, msg->data.result, mmeasuring && now_ns() < mend);
		if (errors > 100 || (mstopping && !h->releasing)) {
			if (--mactive == 0)
				event_base_loopbreak(mbase);
			continue;
		}
		hclient_prepare(h);
		curl_multi_add_handle(multi, h->easy);
	}
}

/* Socket activity: hand it to curl. */
static void
multi_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int running, action = 0;

	(void)arg;
	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(multi, fd, action, &running);
	multi_check();
}

/* curl's timeout expired. */
static void
multi_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	int running;

	(void)fd;
	(void)what;
	(void)arg;
	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	multi_check();
}

/* CURLMOPT_TIMERFUNCTION: (re)arm the single timer. */
static int
multi_timerfn(CURLM *m, long ms, void *arg)
{
	struct timeval tv;

	(void)m;
	(void)arg;
	if (ms < 0) {
		evtimer_del(mtimer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(mtimer, &tv);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: keep one persistent event per socket in sync. */
static int
multi_sockfn(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct msock	*ms = sockp;
	short		 kind;

	(void)e;
	(void)arg;
	if (what == CURL_POLL_REMOVE) {
		if (ms != NULL) {
			event_free(ms->ev);
			free(ms);
			curl_multi_assign(multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (ms == NULL) {
		if ((ms = calloc(1, sizeof(*ms))) == NULL)
			abort();
		curl_multi_assign(multi, s, ms);
	} else
		event_free(ms->ev);
	ms->ev = event_new(mbase, s, kind, multi_event_cb, NULL);
	event_add(ms->ev, NULL);
	return 0;
}

/* Phase timer: end of warm-up, then end of the measured interval. */
static void
multi_phase_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event	*self = arg;
	struct timeval	 tv;

	(void)fd;
	(void)what;
	if (!mmeasuring) {
		mmeasuring = 1;
		lat.n = 0;
		mend = now_ns() + (uint64_t)(opt.seconds * 1e9);
		tv.tv_sec = (time_t)opt.seconds;
		tv.tv_usec = (suseconds_t)((opt.seconds - (double)tv.tv_sec) * 1e6);
		evtimer_add(self, &tv);
		return;
	}
	mstopping = 1;
}

/* N parallel clients through one multi handle driven by libevent, like the daemon. */
static int
multi_main(void)
{
	struct hclient	*hs;
	struct event	*phase;
	struct timeval	 one = { 1, 0 };
	uint64_t	 t0;
	unsigned	 i;

	token_load();
	if ((hs = calloc(opt.clients, sizeof(*hs))) == NULL)
		return 2;
	mbase = event_base_new();
	multi = curl_multi_init();
	mtimer = evtimer_new(mbase, multi_timer_cb, NULL);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, multi_sockfn);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, multi_timerfn);
	if (opt.maxconn > 0)
		curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)opt.maxconn);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)opt.clients);
	for (i = 0; i < opt.clients; i++) {
		hclient_init(&hs[i], i, "bench/multi");
		hclient_prepare(&hs[i]);
		curl_multi_add_handle(multi, hs[i].easy);
	}
	mactive = (int)opt.clients;
	phase = evtimer_new(mbase, multi_phase_cb, event_self_cbarg());
	evtimer_add(phase, &one);
	t0 = now_ns();
	event_base_dispatch(mbase);
	(void)t0;
	lat_report("multi", (uint64_t)(opt.seconds * 1e9));
	for (i = 0; i < opt.clients; i++)
		curl_easy_cleanup(hs[i].easy);
	curl_multi_cleanup(multi);
	event_free(phase);
	event_free(mtimer);
	event_base_free(mbase);
	free(hs);
	return errors == 0 ? 0 : 1;
}

/* ---- new processes: curl per HTTP request against octostorectl per operation ---- */

/* Run argv, its stdout into out (NUL-terminated); returns the exit status or -1. */
static int
spawn_capture(char *const argv[], char *out, size_t outsz, uint64_t *ns)
{
	posix_spawn_file_actions_t	 fa;
	uint64_t			 t;
	size_t				 len = 0;
	ssize_t				 n;
	pid_t				 pid;
	int				 p[2], status, rc = -1;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	t = now_ns();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		close(p[0]);
		close(p[1]);
		goto out;
	}
	close(p[1]);
	while (len + 1 < outsz && (n = read(p[0], out + len, outsz - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	out[len] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			goto out;
	*ns += now_ns() - t;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
out:
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* lease_id of a JSON acquire answer, copied into id; -1 if absent. */
static int
json_lease_id(const char *s, char *id, size_t idsz)
{
	json_t	*o, *v;
	int	 rc = -1;

	if ((o = json_loads(s, 0, NULL)) == NULL)
		return -1;
	v = json_object_get(o, "lease_id");
	if (json_is_string(v) && strlen(json_string_value(v)) < idsz) {
		strcpy(id, json_string_value(v));
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* One bench/minictl pair: a detached acquire of bench/proc/mini, then its release. */
static int
procs_mini(char *mini, char *sock, char *ttl, uint64_t *ns)
{
	char	 id[256], out[256], *nl;
	char	*argv[7];
	int	 rc;

	argv[0] = mini;
	argv[1] = sock;
	argv[2] = (char *)"acquire";
	argv[3] = (char *)"bench/proc/mini";
	argv[4] = ttl;
	argv[5] = ttl;
	argv[6] = NULL;
	if ((rc = spawn_capture(argv, id, sizeof(id), ns)) != 0 ||
	    (nl = strchr(id, '\n')) == NULL || nl == id) {
		fprintf(stderr, "upbench: minictl acquire failed (%d): %.200s\n", rc, id);
		return -1;
	}
	*nl = '\0';
	argv[2] = (char *)"release";
	argv[4] = id;
	argv[5] = NULL;
	if ((rc = spawn_capture(argv, out, sizeof(out), ns)) != 0) {
		fprintf(stderr, "upbench: minictl release failed (%d)\n", rc);
		return -1;
	}
	return 0;
}

/*
 * procs CURL HEADER_FILE CTL SOCKET DETACH [MINICTL]: opt.count rounds, each one curl pair
 * (acquire, release, one process each, the bearer header read from a file so it is not in
 * argv), one octostorectl pair and, with MINICTL, one pair of bench/minictl, the cheapest
 * client process for the same two operations, interleaved so that all see the same machine.
 * Without --detach in the CLI an acquired lease goes with the acquiring process's
 * connection, so the release process then gets lease_not_current from the server:
 * it still makes the same round trip through the daemon, and that exit status is
 * accepted (and counted) instead of success.
 */
static int
procs_main(int argc, char **argv)
{
	char		 out[8192], url[512], body[256], hdr[600], id[UB_LEASE_MAX];
	char		 ttl[16];
	char		*cargv[20];
	uint64_t	 t_curl = 0, t_ctl = 0, t_mini = 0;
	unsigned	 i, stale = 0;
	int		 a, rc, detach;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "upbench: procs CURL HEADER_FILE CTL SOCKET DETACH [MINICTL]\n");
		return 2;
	}
	detach = strcmp(argv[5], "1") == 0;
	snprintf(hdr, sizeof(hdr), "@%s", argv[2]);
	snprintf(ttl, sizeof(ttl), "%u", opt.ttl);
	for (i = 0; i < opt.count; i++) {
		/* curl acquire */
		a = 0;
		cargv[a++] = argv[1];
		cargv[a++] = (char *)"-sS";
		cargv[a++] = (char *)"--noproxy";
		cargv[a++] = (char *)"*";
		cargv[a++] = (char *)"-H";
		cargv[a++] = hdr;
		cargv[a++] = (char *)"-H";
		cargv[a++] = (char *)"Content-Type: application/json";
		if (opt.cacert != NULL) {
			cargv[a++] = (char *)"--cacert";
			cargv[a++] = (char *)opt.cacert;
		}
		cargv[a++] = (char *)"-d";
		cargv[a++] = body;
		cargv[a++] = url;
		cargv[a] = NULL;
		snprintf(url, sizeof(url), "%s/locks/bench%%2Fproc%%2Fcurl/acquire", opt.url);
		snprintf(body, sizeof(body), "{\"ttl_seconds\":%u}", opt.ttl);
		if ((rc = spawn_capture(cargv, out, sizeof(out), &t_curl)) != 0 ||
		    json_lease_id(out, id, sizeof(id)) == -1) {
			fprintf(stderr, "upbench: curl acquire failed (%d): %.200s\n", rc, out);
			return 1;
		}
		snprintf(url, sizeof(url), "%s/locks/bench%%2Fproc%%2Fcurl/release", opt.url);
		snprintf(body, sizeof(body), "{\"lease_id\":\"%s\"}", id);
		if ((rc = spawn_capture(cargv, out, sizeof(out), &t_curl)) != 0) {
			fprintf(stderr, "upbench: curl release failed (%d)\n", rc);
			return 1;
		}

		/*
		 * octostorectl acquire + release; the minictl pair goes first in every other
		 * round, so that neither always follows curl's (larger) processes.
		 */
		if (argc == 7 && i % 2 == 1 && procs_mini(argv[6], argv[4], ttl, &t_mini) == -1)
			return 1;
		a = 0;
		cargv[a++] = argv[3];
		cargv[a++] = (char *)"--socket";
		cargv[a++] = argv[4];
		cargv[a++] = (char *)"--json";
		cargv[a++] = (char *)"acquire";
		cargv[a++] = (char *)"bench/proc/ctl";
		cargv[a++] = (char *)"--ttl";
		cargv[a++] = ttl;
		if (detach) {
			cargv[a++] = (char *)"--detach";
			cargv[a++] = (char *)"--hold";
			cargv[a++] = ttl;
		}
		cargv[a] = NULL;
		if ((rc = spawn_capture(cargv, out, sizeof(out), &t_ctl)) != 0 ||
		    json_lease_id(out, id, sizeof(id)) == -1) {
			fprintf(stderr, "upbench: octostorectl acquire failed (%d): %.200s\n",
			    rc, out);
			return 1;
		}
		a = 4;
		cargv[a++] = (char *)"release";
		cargv[a++] = (char *)"bench/proc/ctl";
		cargv[a++] = id;
		cargv[a] = NULL;
		rc = spawn_capture(cargv, out, sizeof(out), &t_ctl);
		if (rc == 1 && !detach && strstr(out, "lease_not_current") != NULL)
			stale++;
		else if (rc != 0) {
			fprintf(stderr, "upbench: octostorectl release failed (%d): %.200s\n",
			    rc, out);
			return 1;
		}
		if (argc == 7 && i % 2 == 0 && procs_mini(argv[6], argv[4], ttl, &t_mini) == -1)
			return 1;
	}
	printf("result mode=procs label=%s pairs=%u curl_pair_us=%.1f ctl_pair_us=%.1f "
	    "ratio=%.2f ctl_release_stale=%u", opt.label != NULL ? opt.label : "-",
	    opt.count, (double)t_curl / opt.count / 1000, (double)t_ctl / opt.count / 1000,
	    (double)t_curl / (double)t_ctl, stale);
	if (argc == 7)
		printf(" mini_pair_us=%.1f mini_ratio=%.2f ctl_over_mini=%.2f",
		    (double)t_mini / opt.count / 1000, (double)t_curl / (double)t_mini,
		    (double)t_ctl / (double)t_mini);
	printf("\n");
	return 0;
}

/* Usage message. */
static void
usage(void)
{
	fprintf(stderr,
	    "usage: upbench [-t SECONDS] [-c CLIENTS] [-m MAXCONN] [-n COUNT] [-T TTL]\n"
	    "               [-u URL] [-k TOKEN_FILE] [-C CA_FILE] [-l LABEL] MODE [ARGS]\n"
	    "modes: daemon SOCKET   acquire+release pairs through octostored\n"
	    "       echo            bare Unix-socket echo round trip\n"
	    "       easy            keep-alive libcurl, one easy handle (-u, -k)\n"
	    "       multi           curl multi on libevent, -c transfers (-u, -k)\n"
	    "       procs CURL HEADER_FILE CTL SOCKET DETACH(0|1) [MINICTL]\n"
	    "                       new processes: curl pair against octostorectl pair\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int ch, rc;

	while ((ch = getopt(argc, argv, "t:c:m:n:T:u:k:C:l:")) != -1) {
		switch (ch) {
		case 't':
			opt.seconds = strtod(optarg, NULL);
			break;
		case 'c':
			opt.clients = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			opt.maxconn = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			opt.count = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'T':
			opt.ttl = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			opt.url = optarg;
			break;
		case 'k':
			opt.token_file = optarg;
			break;
		case 'C':
			opt.cacert = optarg;
			break;
		case 'l':
			opt.label = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || opt.seconds <= 0 || opt.clients < 1 ||
	    opt.clients > UB_MAX_CLIENTS || opt.count < 1 || opt.ttl < 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[0], "daemon") == 0 && argc == 2)
		rc = daemon_main(argv[1]);
	else if (strcmp(argv[0], "echo") == 0)
		rc = echo_main();
	else if (strcmp(argv[0], "easy") == 0 && opt.url != NULL)
		rc = easy_main();
	else if (strcmp(argv[0], "multi") == 0 && opt.url != NULL)
		rc = multi_main();
	else if (strcmp(argv[0], "procs") == 0 && opt.url != NULL)
		rc = procs_main(argc, argv);
	else
		usage();
	curl_global_cleanup();
	return rc;
}
