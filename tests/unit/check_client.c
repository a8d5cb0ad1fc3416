/* check_client.c - liboctostore against a scripted fake daemon (issues 2 and 3). */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <msgpack.h>

#include "octo_proto.h"
#include "octostore.h"

/*
 * The fake: a thread accepting one connection on a Unix socket in a fresh directory
 * and running a script that reads requests and writes canned replies.  Scripts never
 * call ck_assert (it is not thread-safe); FAKE_CHECK records the failing line, which
 * the test asserts after joining.
 */
struct fake {
	char		 dir[64];
	char		 path[128];
	int		 lfd;
	int		 fd;
	pthread_t	 thr;
	void		(*script)(struct fake *);
	int		 failed;	/* line of the first failed FAKE_CHECK */
	char		*buf;
	size_t		 len;
	size_t		 mlen;		/* length of the message in f->m */
	msgpack_zone	 zone;
	struct octo_msg	 m;
};

#define FAKE_BUF	(1024 * 1024)

#define FAKE_CHECK(f, cond) do {					\
	if (!(cond)) {							\
		if ((f)->failed == 0)					\
			(f)->failed = __LINE__;				\
		return;							\
	}								\
} while (0)

static struct fake *fk;

/* Read the next complete message into f->m: 1, or 0 at EOF or on error. */
static int
fake_next(struct fake *f)
{
	struct octo_proto_limits	lim;
	size_t				len;
	ssize_t				n;
	int				r;

	memmove(f->buf, f->buf + f->mlen, f->len - f->mlen);
	f->len -= f->mlen;
	f->mlen = 0;
	msgpack_zone_clear(&f->zone);
	octo_proto_limits_default(&lim);
	lim.max_msg = FAKE_BUF;
	for (;;) {
		r = octo_proto_scan(f->buf, f->len, &lim, &len);
		if (r == OCTO_OK) {
			f->mlen = len;
			return octo_proto_decode(f->buf, len, &f->zone, &f->m) == OCTO_OK;
		}
		if (r != OCTO_ERR_AGAIN)
			return 0;
		n = read(f->fd, f->buf + f->len, FAKE_BUF - f->len);
		if (n <= 0)
			return 0;
		f->len += n;
	}
}

/* Next message must be a request for method; returns its msgid, 0 on failure. */
static uint32_t
fake_expect(struct fake *f, const char *method)
{
	if (!fake_next(f) || f->m.type != OCTO_MSG_REQUEST ||
	    f->m.method_len != strlen(method) ||
	    memcmp(f->m.method, method, f->m.method_len) != 0)
		return 0;
	return f->m.msgid;
}

/* Wait for the client to hang up, draining whatever it sends. */
static void
fake_wait_eof(struct fake *f)
{
	char	b[4096];

	while (read(f->fd, b, sizeof(b)) > 0)
		;
}

/* Write all bytes of a packed buffer, then empty it. */
static void
fake_send(struct fake *f, msgpack_sbuffer *sb)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < sb->size) {
		if ((n = send(f->fd, sb->data + off, sb->size - off, MSG_NOSIGNAL)) <= 0)
			break;
		off += n;
	}
	msgpack_sbuffer_clear(sb);
}

/* Pack "key": "value". */
static void
kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	octo_proto_pack_str(pk, k);
	octo_proto_pack_str(pk, v);
}

/* Pack "key": integer. */
static void
kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
	octo_proto_pack_str(pk, k);
	msgpack_pack_int64(pk, v);
}

/* A ping reply echoing payload (NULL: none). */
static void
pack_pong(msgpack_packer *pk, uint32_t msgid, const char *payload)
{
	octo_proto_pack_result(pk, msgid);
	if (payload == NULL) {
		msgpack_pack_map(pk, 0);
		return;
	}
	msgpack_pack_map(pk, 1);
	octo_proto_pack_str(pk, "payload");
	msgpack_pack_bin(pk, strlen(payload));
	msgpack_pack_bin_body(pk, payload, strlen(payload));
}

/* A lease_lost notification. */
static void
pack_lease_lost(msgpack_packer *pk, const char *name)
{
	octo_proto_pack_notify(pk, "lease_lost");
	msgpack_pack_map(pk, 4);
	kv_str(pk, "name", name);
	kv_str(pk, "lease_id", "0b6c1a52-0000-4000-8000-000000000001");
	kv_int(pk, "fencing_token", 42);
	kv_str(pk, "reason", "expired");
}

/* Fake thread: accept one client, run the script, hang up. */
static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	if ((f->fd = accept(f->lfd, NULL, NULL)) == -1) {
		f->failed = __LINE__;
		return NULL;
	}
	f->script(f);
	close(f->fd);
	return NULL;
}

/* Start a fake running script on a socket in a fresh directory. */
static struct fake *
fake_start(void (*script)(struct fake *))
{
	struct sockaddr_un	 sun;
	struct fake		*f;

	f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(f->buf = malloc(FAKE_BUF));
	ck_assert(msgpack_zone_init(&f->zone, 2048));
	strcpy(f->dir, "/tmp/check_client.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, f->path);
	ck_assert_int_ne(f->lfd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(f->lfd, 4), 0);
	f->script = script;
	ck_assert_int_eq(pthread_create(&f->thr, NULL, fake_main, f), 0);
	return f;
}

/* Join the fake and check its script saw what it expected. */
static void
fake_finish(struct fake *f)
{
	ck_assert_int_eq(pthread_join(f->thr, NULL), 0);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	msgpack_zone_destroy(&f->zone);
	free(f->buf);
	ck_assert_msg(f->failed == 0, "fake script failed at line %d", f->failed);
	free(f);
}

/* Connect a client to the fake. */
static struct octo_client *
connect_fake(struct fake *f, int timeout_ms)
{
	struct octo_client *c;

	ck_assert_int_eq(octo_connect(f->path, timeout_ms, &c), OCTO_OK);
	ck_assert_int_ge(octo_fd(c), 0);
	return c;
}

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Events seen by the callback. */
struct seen {
	int	n;
	int	type;
	char	name[64];
	char	lease_id[64];
	char	reason[32];
	uint64_t token;
	int	pending_in_call;	/* c's queue length inside the callback */
};

static void
record_event(struct octo_client *c, const struct octo_event *ev, void *arg)
{
	struct seen *s = arg;

	s->n++;
	s->type = ev->type;
	snprintf(s->name, sizeof(s->name), "%s", ev->name);
	snprintf(s->lease_id, sizeof(s->lease_id), "%s", ev->lease_id);
	snprintf(s->reason, sizeof(s->reason), "%s", ev->reason);
	s->token = ev->fencing_token;
	s->pending_in_call = (int)octo_pending_events(c);
}

/* --- ping with a payload: the request carries it as bin, the echo comes back. */
static void
script_ping(struct fake *f)
{
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	const msgpack_object	*o;
	uint32_t		 id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "payload", &o) == OCTO_OK);
	FAKE_CHECK(f, o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 5 &&
	    memcmp(o->via.bin.ptr, "hello", 5) == 0);
	pack_pong(&pk, id, "hello");
	fake_send(f, &sb);
	FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "payload", &o) == OCTO_ERR_AGAIN);
	pack_pong(&pk, id, NULL);
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_ping_payload)
{
	struct octo_client	*c;
	char			 echo[16];
	size_t			 n = 99;

	fk = fake_start(script_ping);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_ping(c, "hello", 5, echo, sizeof(echo), &n), OCTO_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(echo, "hello", 5) == 0);
	ck_assert_int_eq(octo_last_error(c), OCTO_OK);
	ck_assert_str_eq(octo_last_error_code(c), "ok");
	ck_assert_int_eq(octo_ping(c, NULL, 0, echo, sizeof(echo), &n), OCTO_OK);
	ck_assert_uint_eq(n, 0);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- out of order: a late reply to a timed-out call must not answer the next one. */
static void
script_out_of_order(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	uint32_t	id1, id2, id3;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id1 = fake_expect(f, "ping")) != 0);	/* left to time out */
	FAKE_CHECK(f, (id2 = fake_expect(f, "ping")) != 0);
	FAKE_CHECK(f, id1 != id2);
	pack_pong(&pk, id2, "two");		/* newest first, then the stale one */
	pack_pong(&pk, id1, "one");
	fake_send(f, &sb);
	FAKE_CHECK(f, (id3 = fake_expect(f, "ping")) != 0);
	FAKE_CHECK(f, id3 != id1 && id3 != id2);
	pack_pong(&pk, id1, "one");		/* stale again, before the real one */
	pack_pong(&pk, id3, "three");
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_out_of_order)
{
	struct octo_client	*c;
	char			 echo[16];
	size_t			 n;

	fk = fake_start(script_out_of_order);
	c = connect_fake(fk, 100);
	ck_assert_int_eq(octo_ping(c, "one", 3, echo, sizeof(echo), &n), OCTO_ERR_TIMEOUT);
	ck_assert_int_eq(octo_last_error(c), OCTO_ERR_TIMEOUT);
	octo_set_timeout(c, 5000);
	ck_assert_int_eq(octo_ping(c, "two", 3, echo, sizeof(echo), &n), OCTO_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(echo, "two", 3) == 0);
	ck_assert_int_eq(octo_ping(c, "three", 5, echo, sizeof(echo), &n), OCTO_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(echo, "three", 5) == 0);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- a notification arriving before the reply is delivered, not lost. */
static void
script_notify_before_reply(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	uint32_t	id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
	pack_lease_lost(&pk, "ci/deploy");
	pack_pong(&pk, id, NULL);
	fake_send(f, &sb);
	/* Second round: the client has no callback yet. */
	FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
	pack_lease_lost(&pk, "second");
	pack_pong(&pk, id, NULL);
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_notify_before_reply)
{
	struct octo_client	*c;
	struct seen		 s;

	memset(&s, 0, sizeof(s));
	fk = fake_start(script_notify_before_reply);
	c = connect_fake(fk, 5000);
	octo_set_notify_cb(c, record_event, &s);
	ck_assert_int_eq(octo_ping(c, NULL, 0, NULL, 0, NULL), OCTO_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.type, OCTO_EVENT_LEASE_LOST);
	ck_assert_str_eq(s.name, "ci/deploy");
	ck_assert_str_eq(s.lease_id, "0b6c1a52-0000-4000-8000-000000000001");
	ck_assert_str_eq(s.reason, "expired");
	ck_assert_uint_eq(s.token, 42);
	ck_assert_uint_eq(octo_pending_events(c), 0);

	/* Without a callback the event waits in the queue. */
	octo_set_notify_cb(c, NULL, NULL);
	ck_assert_int_eq(octo_ping(c, NULL, 0, NULL, 0, NULL), OCTO_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(octo_pending_events(c), 1);
	octo_set_notify_cb(c, record_event, &s);
	ck_assert_int_eq(octo_poll_events(c), OCTO_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.name, "second");
	ck_assert_int_eq(s.pending_in_call, 0);
	ck_assert_uint_eq(octo_pending_events(c), 0);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- notifications outside any call, read through octo_fd + octo_poll_events. */
static void
script_notify_async(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	uint32_t	id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id = fake_expect(f, "hello")) != 0);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 4);
	kv_int(&pk, "protocol", 1);
	kv_str(&pk, "version", "0.1.0");
	octo_proto_pack_str(&pk, "methods");
	msgpack_pack_array(&pk, 2);
	octo_proto_pack_str(&pk, "hello");
	octo_proto_pack_str(&pk, "ping");
	kv_int(&pk, "max_message_size", 65536);
	/* Two notifications after the reply, then an unknown one, then hang up. */
	pack_lease_lost(&pk, "a");
	pack_lease_lost(&pk, "b");
	octo_proto_pack_notify(&pk, "something_new");
	msgpack_pack_map(&pk, 0);
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
}

/* Count events by type. */
static void
count_event(struct octo_client *c, const struct octo_event *ev, void *arg)
{
	int *counts = arg;

	(void)c;
	counts[ev->type == OCTO_EVENT_LEASE_LOST ? 0 : 1]++;
}

START_TEST(test_notify_async)
{
	struct octo_client	*c;
	struct octo_hello	 h;
	struct pollfd		 pfd;
	int			 counts[2] = { 0, 0 }, r = OCTO_OK, i;

	fk = fake_start(script_notify_async);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_hello(c, "check_client", &h), OCTO_OK);
	ck_assert_int_eq(h.protocol, 1);
	ck_assert_str_eq(h.version, "0.1.0");
	ck_assert_uint_eq(h.nmethods, 2);
	ck_assert_str_eq(h.methods[1], "ping");
	ck_assert_uint_eq(h.max_message_size, 65536);
	octo_set_notify_cb(c, count_event, counts);
	/* The caller's event loop: poll the fd, read what arrived, until EOF. */
	for (i = 0; i < 100 && r == OCTO_OK; i++) {
		pfd.fd = octo_fd(c);
		pfd.events = POLLIN;
		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
		r = octo_poll_events(c);
	}
	ck_assert_int_eq(r, OCTO_ERR_CLOSED);
	ck_assert_int_eq(counts[0], 2);
	ck_assert_int_eq(counts[1], 1);
	/* The connection is dead from now on. */
	ck_assert_int_eq(octo_ping(c, NULL, 0, NULL, 0, NULL), OCTO_ERR_CLOSED);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- a callback may make calls on its client; events it causes are not delivered nested. */
static void
script_reentrant(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	uint32_t	id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
	pack_lease_lost(&pk, "first");
	pack_pong(&pk, id, NULL);
	fake_send(f, &sb);
	/* The callback's own ping; another event arrives before its reply. */
	FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
	pack_lease_lost(&pk, "second");
	pack_pong(&pk, id, "nested");
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

struct reentry {
	int	depth;		/* callbacks running now */
	int	maxdepth;
	int	n;
	int	nested_r;
	char	last[16];
};

static void
reentrant_event(struct octo_client *c, const struct octo_event *ev, void *arg)
{
	struct reentry	*re = arg;
	char		 echo[16];
	size_t		 n;

	re->n++;
	if (++re->depth > re->maxdepth)
		re->maxdepth = re->depth;
	snprintf(re->last, sizeof(re->last), "%s", ev->name);
	if (re->n == 1)
		re->nested_r = octo_ping(c, "nested", 6, echo, sizeof(echo), &n);
	re->depth--;
}

START_TEST(test_callback_reentrant)
{
	struct octo_client	*c;
	struct reentry		 re;

	memset(&re, 0, sizeof(re));
	re.nested_r = -1;
	fk = fake_start(script_reentrant);
	c = connect_fake(fk, 5000);
	octo_set_notify_cb(c, reentrant_event, &re);
	ck_assert_int_eq(octo_ping(c, NULL, 0, NULL, 0, NULL), OCTO_OK);
	ck_assert_int_eq(re.nested_r, OCTO_OK);
	ck_assert_int_eq(re.n, 2);
	ck_assert_int_eq(re.maxdepth, 1);
	ck_assert_str_eq(re.last, "second");
	ck_assert_uint_eq(octo_pending_events(c), 0);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- error replies: code, message, param, retry_after_ms, request_id, unknown code. */
static void
script_errors(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	uint32_t	id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id = fake_expect(f, "acquire")) != 0);
	octo_proto_pack_error_begin(&pk, id, OCTO_ERR_INVALID_ARGUMENT,
	    "ttl: expected an integer from 1 to 3600", 1);
	kv_str(&pk, "param", "ttl");
	msgpack_pack_nil(&pk);
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "acquire")) != 0);
	octo_proto_pack_error_begin(&pk, id, OCTO_ERR_RATE_LIMITED, "slow down", 2);
	kv_int(&pk, "retry_after_ms", 1500);
	kv_str(&pk, "request_id", "req_abc123");
	msgpack_pack_nil(&pk);
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "release")) != 0);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, OCTO_MSG_RESPONSE);
	msgpack_pack_uint32(&pk, id);
	msgpack_pack_map(&pk, 2);
	kv_str(&pk, "code", "brand_new_code");
	kv_str(&pk, "message", "\x1b[31mred");
	msgpack_pack_nil(&pk);
	fake_send(f, &sb);

	/* The connection is still fine after error replies. */
	FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
	pack_pong(&pk, id, NULL);
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_error_replies)
{
	struct octo_client		*c;
	struct octo_acquire_result	 a;

	fk = fake_start(script_errors);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_acquire(c, "x", 99999, NULL, -1, &a),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_last_error(c), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_str_eq(octo_last_error_code(c), "invalid_argument");
	ck_assert_str_eq(octo_last_error_message(c),
	    "ttl: expected an integer from 1 to 3600");
	ck_assert_str_eq(octo_last_error_param(c), "ttl");
	ck_assert_int_eq(octo_last_error_retry_after_ms(c), -1);
	ck_assert_ptr_null(octo_last_error_request_id(c));
	ck_assert_int_eq(a.status, 0);

	ck_assert_int_eq(octo_acquire(c, "x", 10, NULL, -1, &a), OCTO_ERR_RATE_LIMITED);
	ck_assert_int_eq(octo_last_error_retry_after_ms(c), 1500);
	ck_assert_str_eq(octo_last_error_request_id(c), "req_abc123");
	ck_assert_ptr_null(octo_last_error_param(c));

	ck_assert_int_eq(octo_release(c, "x", "lease"), OCTO_ERR_UPSTREAM_OTHER);
	ck_assert_str_eq(octo_last_error_code(c), "brand_new_code");
	ck_assert_str_eq(octo_last_error_message(c), "\x1b[31mred");

	ck_assert_int_eq(octo_ping(c, NULL, 0, NULL, 0, NULL), OCTO_OK);
	ck_assert_int_eq(octo_last_error(c), OCTO_OK);
	ck_assert_ptr_null(octo_last_error_param(c));
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- half a reply, then the daemon hangs up. */
static void
script_truncated(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	uint32_t	id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
	pack_pong(&pk, id, "truncated");
	sb.size -= 4;
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
}

START_TEST(test_truncated_then_close)
{
	struct octo_client	*c;
	char			 echo[16];

	fk = fake_start(script_truncated);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_ping(c, "truncated", 9, echo, sizeof(echo), NULL),
	    OCTO_ERR_CLOSED);
	ck_assert_int_eq(octo_ping(c, NULL, 0, NULL, 0, NULL), OCTO_ERR_CLOSED);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/*
 * --- a reply over the size limit kills the connection, reported as found by the
 * library (the CLI exits 70 for it, not 65); the default limit admits it.
 */
static void
script_oversize(struct fake *f)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	uint32_t	 id;
	char		*big;
	int		 i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (big = malloc(100000)) != NULL);
	memset(big, 'x', 100000);
	for (i = 0; i < 2; i++) {
		FAKE_CHECK(f, (id = fake_expect(f, "ping")) != 0);
		octo_proto_pack_result(&pk, id);
		msgpack_pack_map(&pk, 1);
		octo_proto_pack_str(&pk, "payload");
		msgpack_pack_bin(&pk, 100000);
		msgpack_pack_bin_body(&pk, big, 100000);
		fake_send(f, &sb);
		if (i == 0) {
			/* The first client gives up; take the second. */
			fake_wait_eof(f);
			close(f->fd);
			f->len = f->mlen = 0;
			FAKE_CHECK(f, (f->fd = accept(f->lfd, NULL, NULL)) != -1);
		}
	}
	free(big);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_oversize_reply)
{
	struct octo_client	*c;
	static char		 echo[100000];
	size_t			 n;

	fk = fake_start(script_oversize);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_set_max_message_size(c, 64 * 1024), OCTO_OK);
	ck_assert_int_eq(octo_ping(c, "x", 1, echo, sizeof(echo), &n), OCTO_ERR_TOO_LARGE);
	ck_assert_int_eq(octo_last_error_from_daemon(c), 0);
	ck_assert_str_eq(octo_last_error_message(c),
	    "reply from the daemon exceeds the client's limit of 65536 bytes");
	ck_assert_int_eq(octo_ping(c, NULL, 0, NULL, 0, NULL), OCTO_ERR_CLOSED);
	octo_close(c);

	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_set_max_message_size(c, 100), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_set_max_message_size(c, 16 * 1024 * 1024 + 1),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_ping(c, "x", 1, echo, sizeof(echo), &n), OCTO_OK);
	ck_assert_uint_eq(n, 100000);
	ck_assert_int_eq(echo[99999], 'x');
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/*
 * --- a list of 2,000 locks: some 26,000 objects and 150 KiB, far over the request
 * limits (4,096 objects, 64 KiB) that once applied to replies too.
 */
#define BIG_LIST	2000

static void
script_big_list(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	char		name[32];
	uint32_t	id;
	int		i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id = fake_expect(f, "list")) != 0);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 3);
	octo_proto_pack_str(&pk, "locks");
	msgpack_pack_array(&pk, BIG_LIST);
	for (i = 0; i < BIG_LIST; i++) {
		snprintf(name, sizeof(name), "fill/%d", i);
		msgpack_pack_map(&pk, 6);
		kv_str(&pk, "name", name);
		kv_str(&pk, "status", "held");
		kv_str(&pk, "holder_id", "99999999-2222-4333-8444-555555555555");
		kv_int(&pk, "fencing_token", i + 1);
		kv_str(&pk, "expires_at", "2026-11-27T16:00:00Z");
		octo_proto_pack_str(&pk, "metadata");
		msgpack_pack_nil(&pk);
	}
	kv_int(&pk, "total", BIG_LIST);
	kv_str(&pk, "prefix", "fill/");
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_big_list)
{
	struct octo_client	*c;
	struct octo_lock_list	 l;

	fk = fake_start(script_big_list);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_list(c, "fill/", &l), OCTO_OK);
	ck_assert_uint_eq(l.nlocks, BIG_LIST);
	ck_assert_uint_eq(l.total, BIG_LIST);
	ck_assert_str_eq(l.locks[BIG_LIST - 1].name, "fill/1999");
	ck_assert_uint_eq(l.locks[BIG_LIST - 1].fencing_token, BIG_LIST);
	octo_list_free(&l);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/*
 * --- the largest valid fields: metadata of 1,024 four-byte characters (the server
 * counts characters; the daemon passes up to 4,096 bytes) and a 128-byte holder id;
 * one byte more of either breaks the protocol.
 */
#define MD_CHAR		"\xf0\x9f\x98\x80"	/* U+1F600, 4 bytes of UTF-8 */
#define MD_CHARS	1024

static char	big_md[4 * MD_CHARS + 2];
static char	big_holder[130];

/* A status result with metadata md and holder id holder. */
static void
pack_status(msgpack_packer *pk, uint32_t id, const char *md, const char *holder)
{
	octo_proto_pack_result(pk, id);
	msgpack_pack_map(pk, 6);
	kv_str(pk, "name", "big");
	kv_str(pk, "status", "held");
	kv_str(pk, "holder_id", holder);
	kv_int(pk, "fencing_token", 3);
	kv_str(pk, "expires_at", "2026-11-27T16:00:00Z");
	kv_str(pk, "metadata", md);
}

static void
script_big_fields(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	uint32_t	id;
	int		i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, (id = fake_expect(f, "status")) != 0);
	pack_status(&pk, id, big_md, big_holder);
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "acquire")) != 0);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 6);
	kv_str(&pk, "status", "held");
	kv_str(&pk, "name", "big");
	kv_str(&pk, "holder_id", big_holder);
	kv_str(&pk, "expires_at", "2026-11-27T16:00:00Z");
	kv_int(&pk, "retry_after_ms", 2500);
	kv_str(&pk, "metadata", big_md);
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "list")) != 0);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 2);
	octo_proto_pack_str(&pk, "locks");
	msgpack_pack_array(&pk, 2);
	for (i = 0; i < 2; i++) {
		msgpack_pack_map(&pk, 3);
		kv_str(&pk, "name", i == 0 ? "big" : "small");
		kv_str(&pk, "status", "held");
		kv_str(&pk, "metadata", i == 0 ? big_md : "m");
	}
	kv_int(&pk, "total", 2);
	fake_send(f, &sb);

	/* One byte over: the metadata, then (on a new connection) the holder id. */
	FAKE_CHECK(f, (id = fake_expect(f, "status")) != 0);
	strcat(big_md, "x");
	pack_status(&pk, id, big_md, "h");
	fake_send(f, &sb);
	fake_wait_eof(f);
	close(f->fd);
	f->len = f->mlen = 0;
	FAKE_CHECK(f, (f->fd = accept(f->lfd, NULL, NULL)) != -1);
	FAKE_CHECK(f, (id = fake_expect(f, "status")) != 0);
	strcat(big_holder, "x");
	pack_status(&pk, id, "m", big_holder);
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_big_fields)
{
	struct octo_client		*c;
	struct octo_lock_info		 li;
	struct octo_acquire_result	 a;
	struct octo_lock_list		 l;
	char				 md[sizeof(big_md)];
	int				 i;

	for (i = 0; i < MD_CHARS; i++)
		memcpy(big_md + 4 * i, MD_CHAR, 4);
	big_md[4 * MD_CHARS] = '\0';
	memset(big_holder, 'h', 128);
	big_holder[128] = '\0';
	memcpy(md, big_md, sizeof(md));
	fk = fake_start(script_big_fields);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_status(c, "big", &li), OCTO_OK);
	ck_assert_int_eq(li.has_metadata, 1);
	ck_assert_uint_eq(li.metadata_len, 4096);
	ck_assert_str_eq(li.metadata, md);
	ck_assert_uint_eq(strlen(li.holder_id), 128);
	ck_assert_int_eq(octo_acquire(c, "big", 0, NULL, -1, &a), OCTO_ERR_LOCK_HELD);
	ck_assert_uint_eq(a.metadata_len, 4096);
	ck_assert_str_eq(a.metadata, md);
	ck_assert_uint_eq(strlen(a.holder_id), 128);
	ck_assert_int_eq(octo_list(c, NULL, &l), OCTO_OK);
	ck_assert_uint_eq(l.nlocks, 2);
	ck_assert_str_eq(l.locks[0].metadata, md);
	ck_assert_str_eq(l.locks[1].metadata, "m");
	octo_list_free(&l);
	ck_assert_int_eq(octo_status(c, "big", &li), OCTO_ERR_PROTOCOL);
	ck_assert_str_eq(li.metadata, "");
	octo_close(c);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_status(c, "big", &li), OCTO_ERR_PROTOCOL);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/*
 * --- a negative ttl is refused locally (it once meant "the default", like 0); 0 still
 * sends no ttl, so the daemon applies its default.
 */
static void
script_ttl(struct fake *f)
{
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	const msgpack_object	*o;
	uint32_t		 id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* The first request to arrive: nothing was sent for the refused calls. */
	FAKE_CHECK(f, (id = fake_expect(f, "acquire")) != 0);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "ttl", &o) == OCTO_ERR_AGAIN);
	octo_proto_pack_error(&pk, id, OCTO_ERR_LEASE_NOT_CURRENT, "stop here");
	fake_send(f, &sb);
	FAKE_CHECK(f, (id = fake_expect(f, "renew")) != 0);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "ttl", &o) == OCTO_ERR_AGAIN);
	octo_proto_pack_error(&pk, id, OCTO_ERR_LEASE_NOT_CURRENT, "stop here");
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_negative_ttl)
{
	struct octo_client		*c;
	struct octo_acquire_result	 a;
	struct octo_acquire_opts	 o;
	struct octo_renew_result	 rn;

	fk = fake_start(script_ttl);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_acquire(c, "a", -1, NULL, -1, &a), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_str_eq(octo_last_error_param(c), "ttl");
	ck_assert_int_eq(octo_last_error_from_daemon(c), 0);
	memset(&o, 0, sizeof(o));
	o.lock_delay = -1;
	o.ttl = -3600;
	ck_assert_int_eq(octo_acquire_ex(c, "a", &o, &a), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_str_eq(octo_last_error_param(c), "ttl");
	ck_assert_int_eq(octo_renew(c, "a", "11111111-2222-4333-8444-555555555555", -1, &rn),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_str_eq(octo_last_error_param(c), "ttl");
	ck_assert_int_eq(rn.renew_after_ms, -1);
	ck_assert_int_eq(octo_acquire(c, "a", 0, NULL, -1, &a), OCTO_ERR_LEASE_NOT_CURRENT);
	ck_assert_int_eq(octo_renew(c, "a", "11111111-2222-4333-8444-555555555555", 0, &rn),
	    OCTO_ERR_LEASE_NOT_CURRENT);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- no reply at all: the call returns after its timeout, not before. */
static void
script_silent(struct fake *f)
{
	FAKE_CHECK(f, fake_expect(f, "daemon_status") != 0);
	fake_wait_eof(f);
}

START_TEST(test_timeout)
{
	struct octo_client		*c;
	struct octo_daemon_status	 st;
	int64_t				 t0, dt;

	fk = fake_start(script_silent);
	c = connect_fake(fk, 150);
	t0 = now_ms();
	ck_assert_int_eq(octo_daemon_status(c, &st), OCTO_ERR_TIMEOUT);
	dt = now_ms() - t0;
	ck_assert_int_ge(dt, 149);
	ck_assert_int_lt(dt, 2000);
	ck_assert_str_eq(octo_last_error_code(c), "timeout");
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- a msgid 0 error (the daemon could not read our message) answers the call. */
static void
script_msgid0(struct fake *f)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	FAKE_CHECK(f, fake_expect(f, "ping") != 0);
	octo_proto_pack_error(&pk, 0, OCTO_ERR_TOO_LARGE, "message exceeds 65536 bytes");
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
}

START_TEST(test_msgid0_error)
{
	struct octo_client *c;

	fk = fake_start(script_msgid0);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_ping(c, "x", 1, NULL, 0, NULL), OCTO_ERR_TOO_LARGE);
	ck_assert_int_eq(octo_last_error_from_daemon(c), 1);
	ck_assert_str_eq(octo_last_error_message(c), "message exceeds 65536 bytes");
	ck_assert_int_eq(octo_ping(c, NULL, 0, NULL, 0, NULL), OCTO_ERR_CLOSED);
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- typed lock calls: parameters sent, results parsed, held reported as an error. */
static void
script_locks(struct fake *f)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	const char	*s;
	size_t		 len;
	uint64_t	 u;
	uint32_t	 id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

	FAKE_CHECK(f, (id = fake_expect(f, "acquire")) != 0);
	FAKE_CHECK(f, octo_proto_get_str(f->m.params, "name", &s, &len) == OCTO_OK &&
	    len == 14 && memcmp(s, "ci/deploy/prod", 14) == 0);
	FAKE_CHECK(f, octo_proto_get_uint(f->m.params, "ttl", 1, 3600, &u) == OCTO_OK &&
	    u == 30);
	FAKE_CHECK(f, octo_proto_get_str(f->m.params, "metadata", &s, &len) == OCTO_OK &&
	    len == 4 && memcmp(s, "job7", 4) == 0);
	FAKE_CHECK(f, octo_proto_get_uint(f->m.params, "lock_delay", 0, 30, &u) ==
	    OCTO_ERR_AGAIN);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 7);
	kv_str(&pk, "status", "acquired");
	kv_str(&pk, "name", "ci/deploy/prod");
	kv_str(&pk, "lease_id", "11111111-2222-4333-8444-555555555555");
	kv_int(&pk, "fencing_token", 7);
	kv_str(&pk, "expires_at", "2026-11-27T16:00:00Z");
	kv_int(&pk, "renew_after_ms", 10000);
	kv_str(&pk, "metadata", "job7");
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "acquire")) != 0);
	FAKE_CHECK(f, octo_proto_get_uint(f->m.params, "lock_delay", 0, 30, &u) ==
	    OCTO_OK && u == 5);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 6);
	kv_str(&pk, "status", "held");
	kv_str(&pk, "name", "ci/deploy/prod");
	kv_str(&pk, "holder_id", "99999999-2222-4333-8444-555555555555");
	kv_str(&pk, "expires_at", "2026-11-27T16:00:00Z");
	kv_int(&pk, "retry_after_ms", 2500);
	octo_proto_pack_str(&pk, "metadata");
	msgpack_pack_nil(&pk);
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "renew")) != 0);
	FAKE_CHECK(f, octo_proto_get_str(f->m.params, "lease_id", &s, &len) == OCTO_OK);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 4);
	kv_str(&pk, "name", "ci/deploy/prod");
	kv_str(&pk, "lease_id", "11111111-2222-4333-8444-555555555555");
	kv_str(&pk, "expires_at", "2026-11-27T16:01:00Z");
	kv_int(&pk, "renew_after_ms", 20000);
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "list")) != 0);
	FAKE_CHECK(f, octo_proto_get_str(f->m.params, "prefix", &s, &len) == OCTO_OK &&
	    len == 3);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 3);
	octo_proto_pack_str(&pk, "locks");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_map(&pk, 6);
	kv_str(&pk, "name", "ci/a");
	kv_str(&pk, "status", "held");
	kv_str(&pk, "holder_id", "99999999-2222-4333-8444-555555555555");
	kv_int(&pk, "fencing_token", 3);
	kv_str(&pk, "expires_at", "2026-11-27T16:00:00Z");
	kv_str(&pk, "metadata", "m");
	msgpack_pack_map(&pk, 3);
	kv_str(&pk, "name", "ci/b");
	kv_str(&pk, "status", "free");
	kv_int(&pk, "fencing_token", 9);
	kv_int(&pk, "total", 2);
	kv_str(&pk, "prefix", "ci/");
	fake_send(f, &sb);

	/* A status reply missing its required status field. */
	FAKE_CHECK(f, (id = fake_expect(f, "status")) != 0);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 1);
	kv_str(&pk, "name", "ci/a");
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "release")) != 0);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 2);
	kv_str(&pk, "name", "ci/deploy/prod");
	octo_proto_pack_str(&pk, "released");
	msgpack_pack_true(&pk);
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	fake_wait_eof(f);
}

START_TEST(test_lock_calls)
{
	struct octo_client		*c;
	struct octo_acquire_result	 a;
	struct octo_renew_result	 rn;
	struct octo_lock_list		 l;
	struct octo_lock_info		 li;

	fk = fake_start(script_locks);
	c = connect_fake(fk, 5000);
	ck_assert_int_eq(octo_acquire(c, "ci/deploy/prod", 30, "job7", -1, &a), OCTO_OK);
	ck_assert_int_eq(a.status, OCTO_ACQUIRE_ACQUIRED);
	ck_assert_str_eq(a.lease_id, "11111111-2222-4333-8444-555555555555");
	ck_assert_uint_eq(a.fencing_token, 7);
	ck_assert_str_eq(a.expires_at, "2026-11-27T16:00:00Z");
	ck_assert_int_eq(a.renew_after_ms, 10000);
	ck_assert_int_eq(a.has_metadata, 1);
	ck_assert_uint_eq(a.metadata_len, 4);
	ck_assert_str_eq(a.metadata, "job7");

	ck_assert_int_eq(octo_acquire(c, "ci/deploy/prod", 0, NULL, 5, &a),
	    OCTO_ERR_LOCK_HELD);
	ck_assert_int_eq(a.status, OCTO_ACQUIRE_HELD);
	ck_assert_str_eq(a.holder_id, "99999999-2222-4333-8444-555555555555");
	ck_assert_int_eq(a.retry_after_ms, 2500);
	ck_assert_int_eq(a.has_metadata, 0);
	ck_assert_str_eq(a.lease_id, "");
	ck_assert_int_eq(octo_last_error_retry_after_ms(c), 2500);
	ck_assert_str_eq(octo_last_error_code(c), "held");

	ck_assert_int_eq(octo_renew(c, "ci/deploy/prod",
	    "11111111-2222-4333-8444-555555555555", 60, &rn), OCTO_OK);
	ck_assert_str_eq(rn.expires_at, "2026-11-27T16:01:00Z");
	ck_assert_int_eq(rn.renew_after_ms, 20000);

	ck_assert_int_eq(octo_list(c, "ci/", &l), OCTO_OK);
	ck_assert_uint_eq(l.nlocks, 2);
	ck_assert_uint_eq(l.total, 2);
	ck_assert_str_eq(l.prefix, "ci/");
	ck_assert_str_eq(l.locks[0].name, "ci/a");
	ck_assert_int_eq(l.locks[0].held, 1);
	ck_assert_uint_eq(l.locks[0].fencing_token, 3);
	ck_assert_str_eq(l.locks[1].name, "ci/b");
	ck_assert_int_eq(l.locks[1].held, 0);
	ck_assert_str_eq(l.locks[1].holder_id, "");
	octo_list_free(&l);
	ck_assert_ptr_null(l.locks);
	ck_assert_uint_eq(l.nlocks, 0);

	ck_assert_int_eq(octo_status(c, "ci/a", &li), OCTO_ERR_PROTOCOL);
	ck_assert_str_eq(li.name, "");

	ck_assert_int_eq(octo_release(c, "ci/deploy/prod",
	    "11111111-2222-4333-8444-555555555555"), OCTO_OK);
	ck_assert_int_eq(octo_release(c, NULL, "x"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_str_eq(octo_last_error_param(c), "name");
	octo_close(c);
	fake_finish(fk);
}
END_TEST

/* --- issue 4: acquire options, lease handles, octo_wait_event, non-admin status. */
static void
script_leases(struct fake *f)
{
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	const msgpack_object	*o;
	uint64_t		 u;
	uint32_t		 id;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

	/* A waited acquire: answered after the client's own 300 ms timeout. */
	FAKE_CHECK(f, (id = fake_expect(f, "acquire")) != 0);
	FAKE_CHECK(f, octo_proto_get_uint(f->m.params, "wait", 0, 100, &u) == OCTO_OK &&
	    u == 1);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "detach", &o) != OCTO_OK);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "hold", &o) != OCTO_OK);
	usleep(800 * 1000);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 5);
	kv_str(&pk, "status", "acquired");
	kv_str(&pk, "name", "a");
	kv_str(&pk, "lease_id", "11111111-2222-4333-8444-555555555555");
	kv_int(&pk, "fencing_token", 5);
	kv_str(&pk, "expires_at", "2026-11-27T16:00:00Z");
	fake_send(f, &sb);

	/* Detached with a fractional hold, then lost. */
	FAKE_CHECK(f, (id = fake_expect(f, "acquire")) != 0);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "detach", &o) == OCTO_OK &&
	    o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "hold", &o) == OCTO_OK &&
	    o->type == MSGPACK_OBJECT_FLOAT64 && o->via.f64 == 1.5);
	FAKE_CHECK(f, octo_proto_get(f->m.params, "wait", &o) != OCTO_OK);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 5);
	kv_str(&pk, "status", "acquired");
	kv_str(&pk, "name", "b");
	kv_str(&pk, "lease_id", "0b6c1a52-0000-4000-8000-000000000001");
	kv_int(&pk, "fencing_token", 42);
	kv_str(&pk, "expires_at", "2026-11-27T16:00:01Z");
	fake_send(f, &sb);
	pack_lease_lost(&pk, "b");
	fake_send(f, &sb);

	/* The non-admin view of daemon_status. */
	FAKE_CHECK(f, (id = fake_expect(f, "daemon_status")) != 0);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 2);
	kv_str(&pk, "version", "9.9");
	kv_int(&pk, "uptime_ms", 1234);
	fake_send(f, &sb);

	FAKE_CHECK(f, (id = fake_expect(f, "release")) != 0);
	octo_proto_pack_result(&pk, id);
	msgpack_pack_map(&pk, 2);
	kv_str(&pk, "name", "a");
	octo_proto_pack_str(&pk, "released");
	msgpack_pack_true(&pk);
	fake_send(f, &sb);
	msgpack_sbuffer_destroy(&sb);
	/* Hang up: octo_wait_event() must then say so. */
}

START_TEST(test_leases)
{
	struct octo_client		*c;
	struct octo_acquire_opts	 o;
	struct octo_acquire_result	 a;
	struct octo_daemon_status	 st;
	struct octo_lease		*l1, *l2;
	struct octo_event		 ev;
	int64_t				 t0;

	fk = fake_start(script_leases);
	c = connect_fake(fk, 300);
	memset(&o, 0, sizeof(o));
	o.lock_delay = -1;
	o.hold_ms = 1000;
	ck_assert_int_eq(octo_acquire_ex(c, "a", &o, &a), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_str_eq(octo_last_error_param(c), "hold");
	o.hold_ms = 0;
	o.wait_ms = OCTO_WAIT_MAX_MS + 1;
	ck_assert_int_eq(octo_acquire_ex(c, "a", &o, &a), OCTO_ERR_INVALID_ARGUMENT);

	o.wait_ms = 1000;
	t0 = now_ms();
	ck_assert_int_eq(octo_lease_acquire(c, "a", &o, &l1), OCTO_OK);
	ck_assert_int_ge(now_ms() - t0, 700);
	ck_assert_str_eq(octo_lease_name(l1), "a");
	ck_assert_str_eq(octo_lease_id(l1), "11111111-2222-4333-8444-555555555555");
	ck_assert_uint_eq(octo_lease_fencing_token(l1), 5);
	ck_assert_str_eq(octo_lease_expires_at(l1), "2026-11-27T16:00:00Z");
	ck_assert_int_eq(octo_lease_lost(l1), 0);

	memset(&o, 0, sizeof(o));
	o.lock_delay = -1;
	o.detach = 1;
	o.hold_ms = 1500;
	ck_assert_int_eq(octo_lease_acquire(c, "b", &o, &l2), OCTO_OK);
	ck_assert_uint_eq(octo_lease_fencing_token(l2), 42);
	ck_assert_int_eq(octo_wait_event(c, 2000, &ev), OCTO_OK);
	ck_assert_int_eq(ev.type, OCTO_EVENT_LEASE_LOST);
	ck_assert_str_eq(ev.name, "b");
	ck_assert_str_eq(ev.reason, "expired");
	ck_assert_uint_eq(ev.fencing_token, 42);
	ck_assert_int_eq(octo_lease_lost(l2), 1);
	ck_assert_int_eq(octo_lease_lost(l1), 0);
	t0 = now_ms();
	ck_assert_int_eq(octo_wait_event(c, 100, &ev), OCTO_ERR_TIMEOUT);
	ck_assert_int_ge(now_ms() - t0, 90);
	octo_lease_free(l2);

	ck_assert_int_eq(octo_daemon_status(c, &st), OCTO_OK);
	ck_assert_int_eq(st.full, 0);
	ck_assert_str_eq(st.version, "9.9");
	ck_assert_uint_eq(st.uptime_ms, 1234);
	ck_assert_int_eq(st.pid, -1);

	ck_assert_int_eq(octo_lease_release(l1), OCTO_OK);
	ck_assert_int_eq(octo_wait_event(c, 5000, &ev), OCTO_ERR_CLOSED);
	octo_close(c);
	/* A handle outlives its client; only its accessors are useful then. */
	ck_assert_str_eq(octo_lease_name(l1), "a");
	ck_assert_int_eq(octo_lease_release(l1), OCTO_ERR_CLOSED);
	octo_lease_free(l1);
	fake_finish(fk);
}
END_TEST

/* --- connecting: socket path resolution and errno on failure. */
START_TEST(test_connect_errors)
{
	struct octo_client	*c = (struct octo_client *)1;
	char			 dir[] = "/tmp/check_client.XXXXXX", path[128];
	char			 longpath[200];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	errno = 0;
	ck_assert_int_eq(octo_connect(path, 1000, &c), OCTO_ERR_SYSTEM);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(c);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(octo_connect(longpath, 1000, &c), OCTO_ERR_INVALID_ARGUMENT);
	rmdir(dir);

	setenv("OCTOSTORED_SOCKET", "/tmp/from-env.sock", 1);
	ck_assert_str_eq(octo_socket_path(NULL), "/tmp/from-env.sock");
	ck_assert_str_eq(octo_socket_path("/x.sock"), "/x.sock");
	unsetenv("OCTOSTORED_SOCKET");
	ck_assert_str_eq(octo_socket_path(NULL), OCTO_DEFAULT_SOCKET);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite	*s = suite_create("client");
	TCase	*tc = tcase_create("fake");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_ping_payload);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_notify_before_reply);
	tcase_add_test(tc, test_notify_async);
	tcase_add_test(tc, test_callback_reentrant);
	tcase_add_test(tc, test_error_replies);
	tcase_add_test(tc, test_truncated_then_close);
	tcase_add_test(tc, test_oversize_reply);
	tcase_add_test(tc, test_big_list);
	tcase_add_test(tc, test_big_fields);
	tcase_add_test(tc, test_negative_ttl);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_msgid0_error);
	tcase_add_test(tc, test_lock_calls);
	tcase_add_test(tc, test_leases);
	tcase_add_test(tc, test_connect_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(client_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
