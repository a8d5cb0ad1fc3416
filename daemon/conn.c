/* conn.c - client connections: bounded buffers, framing, backpressure, one free path. */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <msgpack.h>

#include "access.h"
#include "conn.h"
#include "dispatch.h"
#include "lease.h"
#include "log.h"
#include "octo_proto.h"
#include "procstat.h"
#include "server.h"

/* Output above this stops reading from the client until it drains below OUT_LOW. */
#define OUT_HIGH	(256 * 1024)
#define OUT_LOW		(64 * 1024)
/* A client whose unsent output reaches this is dropped: it is not reading. */
#define OUT_MAX		(16 * 1024 * 1024)
/* Bytes asked of one read(). */
#define READ_CHUNK	(16 * 1024)

struct conn {
	int		 fd;
	uint64_t	 id;
	struct access_peer peer;	/* credentials at connect time */
	int		 peer_proc;	/* PROCSTAT_*: the peer process, as last seen */
	uint64_t	 peer_start;	/* its start time, read at accept */
	int64_t		 peer_seen;	/* loop time (us) of the last look at /proc */
	int		 peer_last;	/* and what it said */
	int		 refs;
	int		 flags;
#define CONN_DEAD	0x1	/* closed; waits for its last reference */
#define CONN_PAUSED	0x2	/* read event removed: backpressure */
#define CONN_DRAIN	0x4	/* close once output is sent (protocol error) */
#define CONN_BATCH	0x8	/* inside the read callback: flush at its end */
#define CONN_NOREAD	0x10	/* shutdown: take no new requests */
#define CONN_PEERGONE	0x20	/* logged that the peer process has exited */
#define CONN_QUEUED	0x40	/* on conn_flushq */
	unsigned	 inflight;
	unsigned	 leases;	/* for max_leases_per_client */

	struct event	*rev;
	struct event	*wev;
	struct event	*idle_ev;	/* a partial message waits too long */

	char		*in;
	size_t		 in_len;
	size_t		 in_cap;

	char		*out;
	size_t		 out_off;	/* sent up to here */
	size_t		 out_len;
	size_t		 out_cap;

	msgpack_packer	 pk;
	msgpack_zone	 zone;

	TAILQ_ENTRY(conn) entry;
	TAILQ_ENTRY(conn) fq;		/* conn_flushq */
};

static TAILQ_HEAD(, conn) conns = TAILQ_HEAD_INITIALIZER(conns);
/* Replies finished in this loop turn, sent at its end (conn_flush_later). */
static TAILQ_HEAD(, conn) conn_flushq = TAILQ_HEAD_INITIALIZER(conn_flushq);
static struct event	*conn_flush_ev;
static unsigned		conn_n;
static uint64_t		conn_next_id = 1;
static uint64_t		conn_total_n;
static unsigned		conn_inflight_n;
static struct conn_limits conn_lim = {
	.max_msg = OCTO_MAX_MSG_DEFAULT,
	.max_inflight = 64,
	.idle_timeout_ms = 30 * 1000,
};

static void	conn_close(struct conn *, const char *);
static void	conn_flush(struct conn *);
static void	conn_flush_later(struct conn *);
static void	conn_update_read(struct conn *);
static void	conn_process(struct conn *);

/* Set the per-connection limits (startup and SIGHUP; max_msg only at startup). */
void
conn_set_limits(const struct conn_limits *lim)
{
	conn_lim = *lim;
}

/* msgpack write callback: append to the output buffer, growing it. */
static int
conn_out_write(void *data, const char *buf, size_t len)
{
	struct conn	*c = data;
	size_t		 need = c->out_len + len, cap;
	char		*p;

	if (need > c->out_cap) {
		/* Reclaim what is already sent before growing. */
		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
			need = c->out_len + len;
		}
		if (need > c->out_cap) {
			cap = c->out_cap != 0 ? c->out_cap : 4096;
			while (cap < need)
				cap *= 2;
			if ((p = realloc(c->out, cap)) == NULL)
				return -1;
			c->out = p;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return 0;
}

/* A partial message waited past idle_timeout: slowloris. */
static void
conn_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	log_info("client id=%llu pid=%d: partial message idle for %u ms, closing",
	    (unsigned long long)c->id, (int)c->peer.pid, conn_lim.idle_timeout_ms);
	conn_close(c, "idle partial message");
}

/* Readable: read once, then decode and dispatch every complete message. */
static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	size_t		 want;
	ssize_t		 n;

	(void)what;
	conn_ref(c);
	if ((want = c->in_cap - c->in_len) == 0) {
		/* Full of requests waiting for in-flight room; stop polling. */
		conn_update_read(c);
		goto out;
	}
	n = read(fd, c->in + c->in_len, want);
	if (n == 0) {
		conn_close(c, c->in_len > 0 ? "eof inside a message" : NULL);
		goto out;
	}
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(c, strerror(errno));
		goto out;
	}
	c->in_len += (size_t)n;
	conn_process(c);
out:
	conn_unref(c);
}

/* Send an error reply and close once it is out: the stream cannot be trusted. */
static void
conn_fail(struct conn *c, const struct octo_msg *m, int err, const char *msg)
{
	log_info("client id=%llu uid=%u pid=%d: %s, closing", (unsigned long long)c->id,
	    (unsigned)c->peer.uid, (int)c->peer.pid, msg);
	octo_proto_pack_error(&c->pk, m != NULL && m->has_msgid ? m->msgid : 0, err, msg);
	c->flags |= CONN_DRAIN;
	c->in_len = 0;
}

/* Decode and dispatch complete messages while limits allow. */
static void
conn_process(struct conn *c)
{
	struct octo_proto_limits lim;
	struct octo_msg	 m;
	size_t		 off = 0, len;
	int		 r;

	octo_proto_limits_default(&lim);
	lim.max_msg = conn_lim.max_msg;
	c->flags |= CONN_BATCH;
	while (!(c->flags & (CONN_DEAD | CONN_DRAIN | CONN_NOREAD)) &&
	    c->inflight < conn_lim.max_inflight && off < c->in_len) {
		r = octo_proto_scan(c->in + off, c->in_len - off, &lim, &len);
		if (r == OCTO_ERR_AGAIN)
			break;
		if (r != OCTO_OK) {
			conn_fail(c, NULL, r, r == OCTO_ERR_TOO_LARGE ?
			    "message exceeds a size limit" : "malformed message");
			break;
		}
		r = octo_proto_decode(c->in + off, len, &c->zone, &m);
		off += len;
		if (r != OCTO_OK) {
			conn_fail(c, &m, r, "malformed message");
			break;
		}
		if (m.type == OCTO_MSG_REQUEST)
			dispatch_request(c, &m);
		else if (m.type == OCTO_MSG_RESPONSE) {
			conn_fail(c, &m, OCTO_ERR_PROTOCOL, "unexpected response message");
			break;
		}
		/* Notifications from clients are ignored (PROTOCOL.md). */
		msgpack_zone_clear(&c->zone);
	}
	if (!(c->flags & (CONN_DEAD | CONN_DRAIN)) && off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	c->flags &= ~CONN_BATCH;
	if (c->flags & CONN_DEAD)
		return;
	/* Slowloris guard: the clock starts when a partial message first sits here. */
	if (c->in_len == 0)
		evtimer_del(c->idle_ev);
	else if (!evtimer_pending(c->idle_ev, NULL)) {
		struct timeval tv = { conn_lim.idle_timeout_ms / 1000,
		    (conn_lim.idle_timeout_ms % 1000) * 1000 };

		evtimer_add(c->idle_ev, &tv);
	}
	conn_flush(c);
}

/* Write what we can; arm the write event for the rest. */
static void
conn_flush(struct conn *c)
{
	ssize_t n;

	if (c->flags & (CONN_DEAD | CONN_BATCH))
		return;
	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (c->out_len - c->out_off > OUT_MAX) {
					conn_close(c, "client does not read its replies");
					return;
				}
				event_add(c->wev, NULL);
				conn_update_read(c);
				return;
			}
			conn_close(c, strerror(errno));
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	event_del(c->wev);
	if (c->flags & CONN_DRAIN) {
		conn_close(c, NULL);
		return;
	}
	conn_update_read(c);
}

/* The end of the loop turn: send what the turn's replies left in the buffers. */
static void
conn_flushq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c;

	(void)fd;
	(void)what;
	(void)arg;
	while ((c = TAILQ_FIRST(&conn_flushq)) != NULL) {
		TAILQ_REMOVE(&conn_flushq, c, fq);
		c->flags &= ~CONN_QUEUED;
		conn_flush(c);
		conn_unref(c);
	}
}

/*
 * Send c's output once the other events that are ready in this loop turn have run (the
 * event is activated, not added: libevent runs it after those, in the same turn, with
 * no system call).  Answers from the server come in waves, a readable socket each;
 * replying to the whole wave at its end, rather than after each answer, let the daemon
 * serve 8 % more requests per second with 32 clients (interleaved A/B, bench/README.md):
 * a client process is woken once for the wave, not once for each answer.
 */
static void
conn_flush_later(struct conn *c)
{
	if (c->flags & (CONN_DEAD | CONN_BATCH | CONN_QUEUED))
		return;
	if (conn_flush_ev == NULL &&
	    (conn_flush_ev = event_new(server_base(), -1, 0, conn_flushq_cb, NULL)) == NULL) {
		conn_flush(c);
		return;
	}
	if (TAILQ_EMPTY(&conn_flushq))
		event_active(conn_flush_ev, 0, 0);
	c->flags |= CONN_QUEUED;
	conn_ref(c);
	TAILQ_INSERT_TAIL(&conn_flushq, c, fq);
}

/* Writable again. */
static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	conn_ref(c);
	conn_flush(c);
	conn_unref(c);
}

/*
 * Backpressure: read only while in-flight requests and unsent output are under their
 * limits.  Resuming first serves messages already buffered, since no read event will
 * announce them.
 */
static void
conn_update_read(struct conn *c)
{
	size_t	pending = c->out_len - c->out_off;
	int	stop;

	if (c->flags & CONN_DEAD)
		return;
	if (c->flags & (CONN_DRAIN | CONN_NOREAD))
		stop = 1;
	else if (c->flags & CONN_PAUSED)
		stop = c->inflight >= conn_lim.max_inflight || pending > OUT_LOW;
	else
		stop = c->inflight >= conn_lim.max_inflight || pending > OUT_HIGH ||
		    c->in_len >= c->in_cap;
	if (stop && !(c->flags & CONN_PAUSED)) {
		event_del(c->rev);
		c->flags |= CONN_PAUSED;
	} else if (!stop && (c->flags & CONN_PAUSED)) {
		c->flags &= ~CONN_PAUSED;
		event_add(c->rev, NULL);
		if (c->in_len > 0 && !(c->flags & CONN_BATCH))
			conn_process(c);
	}
}

/* Take ownership of an accepted socket. */
struct conn *
conn_new(int fd, const struct access_peer *peer)
{
	struct event_base	*base = server_base();
	struct conn		*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	c->fd = fd;
	c->peer = *peer;
	/* Who the pid is now: a pid alone may later name another process. */
	c->peer_proc = procstat_read(peer->pid, &c->peer_start);
	c->refs = 1;
	c->id = conn_next_id++;
	c->in_cap = conn_lim.max_msg + READ_CHUNK;
	if ((c->in = malloc(c->in_cap)) == NULL)
		goto fail;
	if (!msgpack_zone_init(&c->zone, 4096))
		goto fail;
	msgpack_packer_init(&c->pk, c, conn_out_write);
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	c->idle_ev = evtimer_new(base, conn_idle_cb, c);
	if (c->rev == NULL || c->wev == NULL || c->idle_ev == NULL ||
	    event_add(c->rev, NULL) == -1) {
		if (c->rev != NULL)
			event_free(c->rev);
		if (c->wev != NULL)
			event_free(c->wev);
		if (c->idle_ev != NULL)
			event_free(c->idle_ev);
		msgpack_zone_destroy(&c->zone);
		goto fail;
	}
	TAILQ_INSERT_TAIL(&conns, c, entry);
	conn_n++;
	conn_total_n++;
	log_debug("client id=%llu uid=%u gid=%u pid=%d connected",
	    (unsigned long long)c->id, (unsigned)peer->uid, (unsigned)peer->gid,
	    (int)peer->pid);
	return c;
fail:
	log_error("client pid=%d: out of memory", (int)peer->pid);
	if (c != NULL) {
		free(c->in);
		free(c);
	}
	return NULL;
}

/*
 * The one path by which a client goes: mark it dead, stop its events and close the
 * socket, tell the modules that own per-connection state, then drop the reference the
 * connection held on itself.  Pending requests keep theirs and finish into nowhere.
 */
static void
conn_close(struct conn *c, const char *why)
{
	if (c->flags & CONN_DEAD)
		return;
	c->flags |= CONN_DEAD;
	if (why != NULL)
		log_debug("client id=%llu pid=%d closed: %s", (unsigned long long)c->id,
		    (int)c->peer.pid, why);
	else
		log_debug("client id=%llu pid=%d closed", (unsigned long long)c->id,
		    (int)c->peer.pid);
	event_del(c->rev);
	event_del(c->wev);
	evtimer_del(c->idle_ev);
	/* A reply waiting for the end of this loop turn goes now, if the socket takes it. */
	if ((c->flags & CONN_QUEUED) && c->out_off < c->out_len)
		(void)send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	close(c->fd);
	c->fd = -1;
	TAILQ_REMOVE(&conns, c, entry);
	conn_n--;
	/* Its leases are released upstream now; its waits end. */
	lease_conn_gone(c);
	conn_unref(c);
}

/* Take a reference. */
void
conn_ref(struct conn *c)
{
	c->refs++;
}

/* Drop a reference; the last one frees. */
void
conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->idle_ev);
	msgpack_zone_destroy(&c->zone);
	access_peer_clear(&c->peer);
	free(c->in);
	free(c->out);
	free(c);
}

/* True once the client has gone. */
int
conn_dead(const struct conn *c)
{
	return (c->flags & CONN_DEAD) != 0;
}

const struct access_peer *conn_peer(const struct conn *c) { return &c->peer; }
uid_t conn_uid(const struct conn *c) { return c->peer.uid; }
gid_t conn_gid(const struct conn *c) { return c->peer.gid; }
pid_t conn_pid(const struct conn *c) { return c->peer.pid; }
uint64_t conn_id(const struct conn *c) { return c->id; }

/*
 * Is the peer still the process that connected?  Within one loop turn the first answer
 * stands, so that a list of many leases of one client reads /proc once.
 */
int
conn_peer_current(struct conn *c)
{
	struct timeval	tv;
	int64_t		now = -1;
	int		r;

	switch (c->peer_proc) {
	case PROCSTAT_UNKNOWN:
		return -1;
	case PROCSTAT_GONE:
		r = 0;
		break;
	default:
		if (event_base_gettimeofday_cached(server_base(), &tv) == 0)
			now = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
		if (now != -1 && now == c->peer_seen)
			return c->peer_last;
		if ((r = procstat_same(c->peer.pid, c->peer_start)) == 0)
			c->peer_proc = PROCSTAT_GONE;
		c->peer_seen = now;
		c->peer_last = r;
		break;
	}
	if (r == 0 && !(c->flags & (CONN_PEERGONE | CONN_DEAD))) {
		c->flags |= CONN_PEERGONE;
		log_info("client id=%llu: client pid %d exited but its connection (inherited) is "
		    "still open; its leases stay with the connection",
		    (unsigned long long)c->id, (int)c->peer.pid);
	}
	return r;
}

/* The peer's start time as read at accept. */
int
conn_peer_start(const struct conn *c, uint64_t *start)
{
	*start = c->peer_start;
	return c->peer_proc;
}

/* The packer appending to c's output. */
msgpack_packer *
conn_packer(struct conn *c)
{
	return &c->pk;
}

/* Leases counted against c. */
unsigned
conn_leases_adjust(struct conn *c, int delta)
{
	c->leases = (unsigned)((int)c->leases + delta);
	return c->leases;
}

/* A request was accepted for dispatch. */
void
conn_request_begin(struct conn *c)
{
	c->inflight++;
	conn_inflight_n++;
}

/*
 * A reply or notification is complete in the output buffer.  A dead connection drops
 * it; otherwise it is sent at the end of the current read batch or loop turn.
 */
void
conn_message_done(struct conn *c, int was_reply)
{
	if (was_reply) {
		c->inflight--;
		conn_inflight_n--;
	}
	if (c->flags & CONN_DEAD) {
		c->out_off = c->out_len = 0;
		return;
	}
	conn_flush_later(c);
}

/* Stop taking requests; in-flight ones still get their replies. */
void
conn_stop_reading_all(void)
{
	struct conn *c;

	TAILQ_FOREACH(c, &conns, entry) {
		c->flags |= CONN_NOREAD;
		conn_update_read(c);
	}
}

/* Close every connection. */
void
conn_close_all(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&conns)) != NULL)
		conn_close(c, "shutdown");
	/* Drop the queue's references (the loop may not turn again), then its event. */
	conn_flushq_cb(-1, 0, NULL);
	if (conn_flush_ev != NULL) {
		event_free(conn_flush_ev);
		conn_flush_ev = NULL;
	}
}

/* Open connections. */
unsigned
conn_count(void)
{
	return conn_n;
}

/* Open connections from uid. */
unsigned
conn_count_uid(uid_t uid)
{
	struct conn	*c;
	unsigned	 n = 0;

	TAILQ_FOREACH(c, &conns, entry)
		n += c->peer.uid == uid;
	return n;
}

static int
conn_uid_cmp(const void *a, const void *b)
{
	uid_t x = *(const uid_t *)a, y = *(const uid_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Open connections from uids for which is_admin is true, and the most open from any
 * one other uid (sorted copy of the uids: for daemon_status, not the accept path).
 */
void
conn_usage(int (*is_admin)(uid_t), unsigned *admin, unsigned *top)
{
	struct conn	*c;
	uid_t		*u;
	unsigned	 n = 0, i, run;

	*admin = *top = 0;
	if (conn_n == 0 || (u = calloc(conn_n, sizeof(*u))) == NULL)
		return;
	TAILQ_FOREACH(c, &conns, entry) {
		if (is_admin(c->peer.uid))
			(*admin)++;
		else if (n < conn_n)
			u[n++] = c->peer.uid;
	}
	qsort(u, n, sizeof(*u), conn_uid_cmp);
	for (i = 0, run = 0; i < n; i++) {
		run = i > 0 && u[i] == u[i - 1] ? run + 1 : 1;
		if (run > *top)
			*top = run;
	}
	free(u);
}

/* Accepted since start. */
uint64_t
conn_total(void)
{
	return conn_total_n;
}

/* Requests waiting for replies, all connections. */
unsigned
conn_inflight_total(void)
{
	return conn_inflight_n;
}
