/* rpc.c - liboctostore requests and replies: framing, msgid matching, notifications. */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define RPC_READ_MIN		4096	/* first input buffer */
#define RPC_READ_KEEP		(64 * 1024)	/* a larger one is freed once empty */
#define RPC_POLL_READS		64	/* reads per octo_poll_events(), then yield */

/* Milliseconds on the monotonic clock. */
static int64_t
rpc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection cannot be used any more: record why.  Returns err. */
static int
rpc_kill(struct octo_client *c, int err, const char *what)
{
	c->dead = 1;
	c->out.size = c->outoff = 0;
	if (err == OCTO_ERR_SYSTEM)
		return client_error(c, err, "%s: %s", what, strerror(errno));
	return client_error(c, err, "%s", what);
}

/*
 * Record an error reply {code, message, param, retry_after_ms, request_id,
 * upstream_code}.
 */
static int
rpc_reply_error(struct octo_client *c, const msgpack_object *e)
{
	const char	*s;
	size_t		 len;
	int64_t		 ms;

	if (octo_proto_get_str(e, "code", &s, &len) != OCTO_OK)
		return client_error(c, OCTO_ERR_PROTOCOL, "error reply without a code");
	client_reset_error(c);
	c->err = octo_err_from_name(s, len);
	c->errdaemon = 1;
	client_copy_text(c->errcode, sizeof(c->errcode), s, len);
	if (octo_proto_get_str(e, "message", &s, &len) == OCTO_OK)
		client_copy_text(c->errmsg, sizeof(c->errmsg), s, len);
	else
		snprintf(c->errmsg, sizeof(c->errmsg), "%s", octo_strerror(c->err));
	if (octo_proto_get_str(e, "param", &s, &len) == OCTO_OK)
		client_copy_text(c->errparam, sizeof(c->errparam), s, len);
	if (octo_proto_get_int(e, "retry_after_ms", 0, INT64_MAX, &ms) == OCTO_OK)
		c->retry_after_ms = ms;
	if (octo_proto_get_str(e, "request_id", &s, &len) == OCTO_OK)
		client_copy_text(c->errreqid, sizeof(c->errreqid), s, len);
	if (octo_proto_get_str(e, "upstream_code", &s, &len) == OCTO_OK)
		client_copy_text(c->errupcode, sizeof(c->errupcode), s, len);
	/* The daemon closes the connection after these (PROTOCOL.md "Errors"). */
	if (c->err == OCTO_ERR_PROTOCOL || c->err == OCTO_ERR_TOO_LARGE)
		c->dead = 1;
	return c->err;
}

/* Copy a notification into the queue; dropped when the queue is full. */
static int
rpc_queue(struct octo_client *c, const struct octo_msg *m)
{
	static const char *const keys[] = { "name", "lease_id", "reason" };
	struct client_event	*e;
	const char		*s[3];
	size_t			 len[3], total, i;
	uint64_t		 token = 0;
	char			*p;

	if (c->nevents >= CLIENT_EVENTS_MAX)
		return OCTO_ERR_BUSY;
	total = sizeof(*e) + m->method_len + 1;
	for (i = 0; i < 3; i++) {
		if (octo_proto_get_str(m->params, keys[i], &s[i], &len[i]) != OCTO_OK) {
			s[i] = "";
			len[i] = 0;
		}
		total += len[i] + 1;
	}
	if (octo_proto_get_uint(m->params, "fencing_token", 0, UINT64_MAX,
	    &token) != OCTO_OK)
		token = 0;
	if ((e = malloc(total)) == NULL)
		return OCTO_ERR_NOMEM;
	p = (char *)(e + 1);
	e->method = p;
	client_copy_text(p, m->method_len + 1, m->method, m->method_len);
	p += m->method_len + 1;
	e->name = p;
	client_copy_text(p, len[0] + 1, s[0], len[0]);
	p += len[0] + 1;
	e->lease_id = p;
	client_copy_text(p, len[1] + 1, s[1], len[1]);
	p += len[1] + 1;
	e->reason = p;
	client_copy_text(p, len[2] + 1, s[2], len[2]);
	e->fencing_token = token;
	e->type = strcmp(e->method, OCTO_NOTIFY_LEASE_LOST) == 0 ?
	    OCTO_EVENT_LEASE_LOST : OCTO_EVENT_OTHER;
	if (e->type == OCTO_EVENT_LEASE_LOST)
		locks_mark_lost(c, e->lease_id);
	e->next = NULL;
	if (c->evtail != NULL)
		c->evtail->next = e;
	else
		c->evhead = e;
	c->evtail = e;
	c->nevents++;
	return OCTO_OK;
}

/* Hand queued notifications to the callback, unless already doing so further up. */
static void
rpc_deliver(struct octo_client *c)
{
	struct client_event	*e;
	struct octo_event	 ev;
	int			 saved = errno;

	if (c->delivering)
		return;
	c->delivering = 1;
	while (c->cb != NULL && (e = c->evhead) != NULL) {
		if ((c->evhead = e->next) == NULL)
			c->evtail = NULL;
		c->nevents--;
		ev.type = e->type;
		ev.method = e->method;
		ev.name = e->name;
		ev.lease_id = e->lease_id;
		ev.reason = e->reason;
		ev.fencing_token = e->fencing_token;
		c->cb(c, &ev, c->cbarg);
		free(e);
	}
	c->delivering = 0;
	errno = saved;
}

/* Register the notification callback. */
void
octo_set_notify_cb(struct octo_client *c, octo_notify_cb cb, void *arg)
{
	c->cb = cb;
	c->cbarg = arg;
}

/* Notifications received and not yet delivered. */
size_t
octo_pending_events(const struct octo_client *c)
{
	return c->nevents;
}

/* Write queued output without blocking: OCTO_OK when all is out, OCTO_ERR_AGAIN. */
static int
rpc_flush(struct octo_client *c)
{
	ssize_t n;

	while (c->outoff < c->out.size) {
		n = send(c->fd, c->out.data + c->outoff, c->out.size - c->outoff,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return OCTO_ERR_AGAIN;
			if (errno == EPIPE || errno == ECONNRESET) {
				/* Its last words (an error reply) may still be readable. */
				c->out.size = c->outoff = 0;
				return OCTO_OK;
			}
			return rpc_kill(c, OCTO_ERR_SYSTEM, "send");
		}
		c->outoff += n;
	}
	c->out.size = c->outoff = 0;
	return OCTO_OK;
}

/* Read what is available: OCTO_OK when bytes came, OCTO_ERR_AGAIN when none. */
static int
rpc_read(struct octo_client *c)
{
	size_t	 size;
	ssize_t	 n;
	char	*p;

	if (c->inoff > 0) {
		memmove(c->in, c->in + c->inoff, c->inlen - c->inoff);
		c->inlen -= c->inoff;
		c->inoff = 0;
	}
	if (c->inlen == c->insize) {
		size = c->insize == 0 ? RPC_READ_MIN : c->insize * 2;
		if (size > c->lim.max_msg)
			size = c->lim.max_msg;
		if (size <= c->insize) {
			/* Not reached: octo_proto_scan() refuses a full buffer first. */
			return rpc_kill(c, OCTO_ERR_TOO_LARGE,
			    "reply from the daemon exceeds the client's limit");
		}
		if ((p = realloc(c->in, size)) == NULL)
			return client_error(c, OCTO_ERR_NOMEM, NULL);
		c->in = p;
		c->insize = size;
	}
	for (;;) {
		n = recv(c->fd, c->in + c->inlen, c->insize - c->inlen, MSG_DONTWAIT);
		if (n > 0) {
			c->inlen += n;
			return OCTO_OK;
		}
		if (n == 0)
			return rpc_kill(c, OCTO_ERR_CLOSED, "daemon closed the connection");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return OCTO_ERR_AGAIN;
		if (errno == ECONNRESET)
			return rpc_kill(c, OCTO_ERR_CLOSED, "daemon reset the connection");
		return rpc_kill(c, OCTO_ERR_SYSTEM, "recv");
	}
}

/*
 * Work through the complete messages buffered: queue notifications, drop replies to
 * other requests (ones that timed out earlier).  Returns OCTO_OK with the reply to want
 * decoded in *m and held at the front of the buffer; OCTO_ERR_AGAIN when it has not
 * arrived; a connection error.  A msgid 0 error reply is the daemon's last word on a
 * message it could not read, so it answers whatever call is waiting.
 */
static int
rpc_process(struct octo_client *c, uint32_t want, struct octo_msg *m)
{
	char	what[128];
	size_t	len;
	int	r;

	while (c->inoff < c->inlen) {
		r = octo_proto_scan(c->in + c->inoff, c->inlen - c->inoff, &c->lim, &len);
		if (r == OCTO_ERR_AGAIN)
			return r;
		if (r == OCTO_ERR_TOO_LARGE) {
			snprintf(what, sizeof(what), "reply from the daemon exceeds the "
			    "client's limit of %zu bytes", c->lim.max_msg);
			return rpc_kill(c, r, what);
		}
		if (r != OCTO_OK)
			return rpc_kill(c, r, "malformed message from the daemon");
		if (octo_proto_decode(c->in + c->inoff, len, &c->zone, m) != OCTO_OK) {
			msgpack_zone_clear(&c->zone);
			return rpc_kill(c, OCTO_ERR_PROTOCOL,
			    "malformed message from the daemon");
		}
		if (m->type == OCTO_MSG_RESPONSE && want != 0 && (m->msgid == want ||
		    (m->msgid == 0 && m->error->type == MSGPACK_OBJECT_MAP))) {
			c->held = len;
			return OCTO_OK;
		}
		if (m->type == OCTO_MSG_NOTIFY)
			rpc_queue(c, m);
		msgpack_zone_clear(&c->zone);
		c->inoff += len;
	}
	return OCTO_ERR_AGAIN;
}

/* Start a call: reset the last error and return the packer for one params map. */
msgpack_packer *
rpc_begin(struct octo_client *c, const char *method, uint32_t *msgid)
{
	client_reset_error(c);
	*msgid = c->next_msgid++;
	if (c->next_msgid == 0)
		c->next_msgid = 1;
	c->reqstart = c->out.size;
	c->packfail = 0;
	octo_proto_pack_request(&c->pk, *msgid, method);
	return &c->pk;
}

/* Send the request and wait for its reply, within the client's timeout. */
int
rpc_call(struct octo_client *c, uint32_t msgid, const msgpack_object **result)
{
	struct octo_msg	m;
	struct pollfd	pfd;
	int64_t		deadline = -1, left;
	int		r, n;

	*result = NULL;
	if (c->dead) {
		c->out.size = c->outoff = 0;
		return client_error(c, OCTO_ERR_CLOSED, "connection is closed");
	}
	if (c->packfail) {
		c->out.size = c->reqstart;
		return client_error(c, OCTO_ERR_NOMEM, NULL);
	}
	if (c->timeout_ms >= 0)
		deadline = rpc_now() + c->timeout_ms;
	for (;;) {
		if ((r = rpc_flush(c)) != OCTO_OK && r != OCTO_ERR_AGAIN)
			return r;
		pfd.events = POLLIN | (r == OCTO_ERR_AGAIN ? POLLOUT : 0);
		if ((r = rpc_process(c, msgid, &m)) == OCTO_OK)
			break;
		if (r != OCTO_ERR_AGAIN)
			return r;
		left = -1;
		if (deadline >= 0 && (left = deadline - rpc_now()) < 0)
			left = 0;
		pfd.fd = c->fd;
		pfd.revents = 0;
		if ((n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left)) == -1) {
			if (errno == EINTR)
				continue;
			return rpc_kill(c, OCTO_ERR_SYSTEM, "poll");
		}
		if (n == 0) {
			if (deadline >= 0 && rpc_now() >= deadline)
				return client_error(c, OCTO_ERR_TIMEOUT,
				    "no reply within %d ms", c->timeout_ms);
			continue;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = rpc_read(c);
			if (r != OCTO_OK && r != OCTO_ERR_AGAIN)
				return r;
		}
	}
	if (m.error->type == MSGPACK_OBJECT_MAP)
		return rpc_reply_error(c, m.error);
	if (m.result->type != MSGPACK_OBJECT_MAP)
		return client_error(c, OCTO_ERR_PROTOCOL, "reply result is not a map");
	*result = m.result;
	return OCTO_OK;
}

/* Finish a call: drop the reply, deliver queued events; returns r unchanged. */
int
rpc_end(struct octo_client *c, int r)
{
	if (c->held > 0) {
		c->inoff += c->held;
		c->held = 0;
		msgpack_zone_clear(&c->zone);
	}
	/* A big reply's buffer is not kept for the life of the connection. */
	if (c->inoff == c->inlen && c->insize > RPC_READ_KEEP) {
		free(c->in);
		c->in = NULL;
		c->inoff = c->inlen = c->insize = 0;
	}
	rpc_deliver(c);
	return r;
}

/* Read what has arrived without blocking and deliver notifications. */
int
octo_poll_events(struct octo_client *c)
{
	struct octo_msg	m;
	int		r = OCTO_OK, i;

	client_reset_error(c);
	if (c->dead)
		return rpc_end(c, client_error(c, OCTO_ERR_CLOSED,
		    "connection is closed"));
	if ((r = rpc_flush(c)) == OCTO_ERR_AGAIN)
		r = OCTO_OK;
	for (i = 0; r == OCTO_OK; i++) {
		if ((r = rpc_process(c, 0, &m)) != OCTO_ERR_AGAIN)
			break;
		r = OCTO_OK;
		if (i == RPC_POLL_READS)
			break;
		if ((r = rpc_read(c)) == OCTO_ERR_AGAIN) {
			r = OCTO_OK;
			break;
		}
	}
	return rpc_end(c, r);
}

/* Wait for the next notification, taking it from the queue past the callback. */
int
octo_wait_event(struct octo_client *c, int timeout_ms, struct octo_event *ev)
{
	struct client_event	*e;
	struct octo_msg		 m;
	struct pollfd		 pfd;
	int64_t			 deadline = -1, left;
	int			 r, n;

	memset(ev, 0, sizeof(*ev));
	free(c->waited);
	c->waited = NULL;
	client_reset_error(c);
	if (timeout_ms >= 0)
		deadline = rpc_now() + timeout_ms;
	for (;;) {
		if ((e = c->evhead) != NULL) {
			if ((c->evhead = e->next) == NULL)
				c->evtail = NULL;
			c->nevents--;
			c->waited = e;
			ev->type = e->type;
			ev->method = e->method;
			ev->name = e->name;
			ev->lease_id = e->lease_id;
			ev->reason = e->reason;
			ev->fencing_token = e->fencing_token;
			return OCTO_OK;
		}
		if (c->dead)
			return client_error(c, OCTO_ERR_CLOSED, "connection is closed");
		if ((r = rpc_flush(c)) != OCTO_OK && r != OCTO_ERR_AGAIN)
			return r;
		if ((r = rpc_process(c, 0, &m)) != OCTO_ERR_AGAIN)
			return r;
		if (c->evhead != NULL)
			continue;
		left = -1;
		if (deadline >= 0 && (left = deadline - rpc_now()) < 0)
			left = 0;
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if ((n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left)) == -1) {
			if (errno == EINTR)
				continue;
			return rpc_kill(c, OCTO_ERR_SYSTEM, "poll");
		}
		if (n == 0) {
			if (deadline >= 0 && rpc_now() >= deadline)
				return client_error(c, OCTO_ERR_TIMEOUT,
				    "no event within %d ms", timeout_ms);
			continue;
		}
		r = rpc_read(c);
		if (r != OCTO_OK && r != OCTO_ERR_AGAIN) {
			/* Events read before the hang-up still come first. */
			if (c->evhead != NULL)
				continue;
			return r;
		}
	}
}

/* Pack "key": "value". */
void
rpc_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
	octo_proto_pack_str(pk, key);
	octo_proto_pack_str(pk, val);
}

/* Pack "key": integer. */
void
rpc_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
	octo_proto_pack_str(pk, key);
	msgpack_pack_int64(pk, val);
}

/* A required argument was not given. */
int
rpc_arg_missing(struct octo_client *c, const char *param)
{
	client_error(c, OCTO_ERR_INVALID_ARGUMENT, "%s: required", param);
	snprintf(c->errparam, sizeof(c->errparam), "%s", param);
	return OCTO_ERR_INVALID_ARGUMENT;
}
