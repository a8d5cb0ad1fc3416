/*
 * leaseclient.c - lease clients for leases.sh (issue 4): racing acquirers, a holder
 * killed while a waiter queues, a lease kept by the daemon alone, renewal faults and
 * lease_lost timing, detached leases and ownership.
 *
 *   leaseclient race SOCK NAME ROUNDS            two processes race for NAME each round
 *   leaseclient owner SOCK NAME                  renew/release from another connection
 *   leaseclient queue SOCK NAME                  FIFO waiters, disconnect, wait timeout
 *   leaseclient killholder SOCK NAME LIMIT_MS    SIGKILL the holder; release latency
 *   leaseclient keep SOCK NAME TTL SECONDS       held without client action
 *   leaseclient hold SOCK NAME TTL               acquire, print, hold until closed or lost
 *   leaseclient fault SOCK URL NAME TTL KIND     renewal faults (recover-503, recover-close,
 *                                                recover-429, persist-503, persist-hang)
 *   leaseclient expire SOCK URL NAME TTL         lease expired upstream: lease_lost
 *   leaseclient renewttl SOCK URL NAME           renew to a longer TTL during a renewal
 *   leaseclient sessionlost SOCK URL NAME        keepalive answered session_expired
 *   leaseclient detach SOCK NAME TTL HOLD        detached acquire; prints LEASE_ID TOKEN
 *                                                and the monotonic time in ms
 *   leaseclient waitfree SOCK NAME TIMEOUT_MS    until free; prints "free" and the time
 *   leaseclient release SOCK NAME LEASE_ID       prints "released" or the error code
 *   leaseclient renew SOCK NAME LEASE_ID TTL     prints "renewed" or the error code
 *   leaseclient status SOCK NAME [AT_MS]         prints STATUS TOKEN LOCAL_STATE DETACHED
 *                                                (at monotonic time AT_MS)
 *
 * URL is the fake OctoStore server (its /_fake/ control API).  Checks print as
 * "ok - ..." or "not ok - ..." lines; the exit status is 1 when any failed.
 * liboctostore carries what it covers (acquire, release, lease_lost); the rest (wait,
 * detach, hold, the status "local" map) is raw msgpack-RPC through proto/.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <msgpack.h>

#include "octo_proto.h"
#include "octostore.h"
#include "unixsock.h"

#define RC_BUF		65536
#define RC_TIMEOUT	10000

/* A raw msgpack-RPC connection; the last message read lives in its zone. */
struct rc {
	int		 fd;
	char		 buf[RC_BUF];
	size_t		 have;
	msgpack_zone	 z;
	uint32_t	 next_id;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
};

/* What the lease_lost callback saw. */
struct lost {
	int		 n;
	long		 at;		/* monotonic ms of the first */
	char		 name[OCTO_NAME_SIZE];
	char		 reason[64];
	uint64_t	 token;
};

static const char	*sock_path;
static const char	*fake_url;
static int		 fails;

/* Monotonic milliseconds. */
static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds (pacing of polls only, never synchronization). */
static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Print one check and count failures. */
static int
expect(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int
expect(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		fails++;
	return cond;
}

/* Connect a raw client; exits on failure (nothing else can be tested then). */
static struct rc *
rc_open(void)
{
	struct rc	*rc;

	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		abort();
	if ((rc->fd = unixsock_connect(sock_path, 0)) == -1) {
		fprintf(stderr, "leaseclient: connect %s: %s\n", sock_path, strerror(errno));
		exit(2);
	}
	msgpack_zone_init(&rc->z, 4096);
	msgpack_sbuffer_init(&rc->sb);
	msgpack_packer_init(&rc->pk, &rc->sb, msgpack_sbuffer_write);
	rc->next_id = 1;
	return rc;
}

/* Close a raw client. */
static void
rc_close(struct rc *rc)
{
	if (rc == NULL)
		return;
	close(rc->fd);
	msgpack_zone_destroy(&rc->z);
	msgpack_sbuffer_destroy(&rc->sb);
	free(rc);
}

/* Start a request with npairs named parameters; returns its msgid. */
static uint32_t
rc_begin(struct rc *rc, const char *method, unsigned npairs)
{
	uint32_t id = rc->next_id++;

	msgpack_sbuffer_clear(&rc->sb);
	octo_proto_pack_request(&rc->pk, id, method);
	msgpack_pack_map(&rc->pk, npairs);
	return id;
}

/* Pack one string parameter. */
static void
kv_str(struct rc *rc, const char *k, const char *v)
{
	octo_proto_pack_str(&rc->pk, k);
	octo_proto_pack_str(&rc->pk, v);
}

/* Pack one integer parameter. */
static void
kv_int(struct rc *rc, const char *k, int64_t v)
{
	octo_proto_pack_str(&rc->pk, k);
	msgpack_pack_int64(&rc->pk, v);
}

/* Pack one number parameter (seconds). */
static void
kv_double(struct rc *rc, const char *k, double v)
{
	octo_proto_pack_str(&rc->pk, k);
	msgpack_pack_double(&rc->pk, v);
}

/* Pack one true parameter. */
static void
kv_true(struct rc *rc, const char *k)
{
	octo_proto_pack_str(&rc->pk, k);
	msgpack_pack_true(&rc->pk);
}

/* Send the request built since rc_begin. */
static void
rc_send(struct rc *rc)
{
	if (unixsock_send_all(rc->fd, rc->sb.data, rc->sb.size) == -1) {
		fprintf(stderr, "leaseclient: send: %s\n", strerror(errno));
		exit(2);
	}
}

/*
 * Read one message within timeout_ms into m (decoded in rc's zone, valid until the
 * next read).  Returns 0, 1 on EOF, -1 on timeout or error.
 */
static int
rc_read(struct rc *rc, int timeout_ms, struct octo_msg *m)
{
	struct octo_proto_limits	 lim;
	struct pollfd			 pfd = { .fd = rc->fd, .events = POLLIN };
	long				 deadline = now_ms() + timeout_ms;
	size_t				 len;
	ssize_t				 n;
	char				*copy;
	int				 r;

	octo_proto_limits_default(&lim);
	for (;;) {
		if (rc->have > 0 && octo_proto_scan(rc->buf, rc->have, &lim, &len) == OCTO_OK) {
			msgpack_zone_clear(&rc->z);
			/* Decoded strings point into the input: decode a copy. */
			if ((copy = msgpack_zone_malloc(&rc->z, len)) == NULL)
				return -1;
			memcpy(copy, rc->buf, len);
			r = octo_proto_decode(copy, len, &rc->z, m);
			memmove(rc->buf, rc->buf + len, rc->have - len);
			rc->have -= len;
			return r == OCTO_OK ? 0 : -1;
		}
		if (deadline - now_ms() <= 0)
			return -1;
		r = poll(&pfd, 1, (int)(deadline - now_ms()));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n = read(rc->fd, rc->buf + rc->have, sizeof(rc->buf) - rc->have);
		if (n == 0)
			return 1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		rc->have += (size_t)n;
	}
}

/* Whether a message is waiting (or arrives within timeout_ms). */
static int
rc_pending(struct rc *rc, int timeout_ms)
{
	struct pollfd pfd = { .fd = rc->fd, .events = POLLIN };

	return rc->have > 0 || poll(&pfd, 1, timeout_ms) > 0;
}

/* Copy string field key of map into buf ("" when absent or not a string). */
static const char *
field_str(const msgpack_object *map, const char *key, char *buf, size_t size)
{
	const char	*s;
	size_t		 len;

	buf[0] = '\0';
	if (map != NULL && map->type == MSGPACK_OBJECT_MAP &&
	    octo_proto_get_str(map, key, &s, &len) == OCTO_OK)
		snprintf(buf, size, "%.*s", (int)len, s);
	return buf;
}

/* Integer field key of map, or -1. */
static int64_t
field_int(const msgpack_object *map, const char *key)
{
	int64_t v;

	if (map != NULL && map->type == MSGPACK_OBJECT_MAP &&
	    octo_proto_get_int(map, key, INT64_MIN, INT64_MAX, &v) == OCTO_OK)
		return v;
	return -1;
}

/* Boolean field key of map: 1, 0, or -1 when absent. */
static int
field_bool(const msgpack_object *map, const char *key)
{
	int v;

	if (map != NULL && map->type == MSGPACK_OBJECT_MAP &&
	    octo_proto_get_bool(map, key, &v) == OCTO_OK)
		return v;
	return -1;
}

/* Nested map key of map, or NULL. */
static const msgpack_object *
field_map(const msgpack_object *map, const char *key)
{
	const msgpack_object *o;

	if (map != NULL && map->type == MSGPACK_OBJECT_MAP &&
	    octo_proto_get(map, key, &o) == OCTO_OK && o->type == MSGPACK_OBJECT_MAP)
		return o;
	return NULL;
}

/*
 * Wait for the response to msgid.  Returns its result map (NULL on error) and copies
 * the error code into code ("" on success, "eof"/"timeout"/"unexpected" locally).
 * Notifications on a raw connection are unexpected here and count as failures.
 */
static const msgpack_object *
rc_reply(struct rc *rc, uint32_t msgid, int timeout_ms, char *code, size_t size)
{
	struct octo_msg	m;
	int		r;

	if ((r = rc_read(rc, timeout_ms, &m)) != 0) {
		snprintf(code, size, "%s", r == 1 ? "eof" : "timeout");
		return NULL;
	}
	if (m.type != OCTO_MSG_RESPONSE || m.msgid != msgid) {
		snprintf(code, size, "unexpected");
		return NULL;
	}
	if (m.error != NULL && m.error->type == MSGPACK_OBJECT_MAP) {
		field_str(m.error, "code", code, size);
		return NULL;
	}
	code[0] = '\0';
	return m.result;
}

/* Send the built request and wait for its reply. */
static const msgpack_object *
rc_call(struct rc *rc, uint32_t msgid, char *code, size_t size)
{
	rc_send(rc);
	return rc_reply(rc, msgid, RC_TIMEOUT, code, size);
}

/* One status answer, flattened. */
struct st {
	char		code[64];	/* error code, "" on success */
	char		status[16];	/* free, held, lost */
	int64_t		token;
	char		local[16];	/* local.state, "" without a local map */
	int64_t		pid;		/* local.pid */
	int		detached;	/* local.detached */
	char		holder[OCTO_ID_SIZE];
};

/* status NAME over rc. */
static void
rc_status(struct rc *rc, const char *name, struct st *st)
{
	const msgpack_object	*res, *loc;
	uint32_t		 id;

	memset(st, 0, sizeof(*st));
	id = rc_begin(rc, "status", 1);
	kv_str(rc, "name", name);
	if ((res = rc_call(rc, id, st->code, sizeof(st->code))) == NULL)
		return;
	field_str(res, "status", st->status, sizeof(st->status));
	field_str(res, "holder_id", st->holder, sizeof(st->holder));
	st->token = field_int(res, "fencing_token");
	st->pid = -1;
	st->detached = -1;
	if ((loc = field_map(res, "local")) != NULL) {
		field_str(loc, "state", st->local, sizeof(st->local));
		st->pid = field_int(loc, "pid");
		st->detached = field_bool(loc, "detached");
	}
}

/* One acquire answer, flattened. */
struct acq {
	char		code[64];
	char		status[16];	/* acquired, held, delayed */
	char		lease_id[OCTO_ID_SIZE];
	int64_t		token;
	char		holder[OCTO_ID_SIZE];
	int		local;
	int64_t		holder_pid;
};

/* Flatten an acquire result. */
static void
acq_fill(struct acq *a, const msgpack_object *res)
{
	field_str(res, "status", a->status, sizeof(a->status));
	field_str(res, "lease_id", a->lease_id, sizeof(a->lease_id));
	field_str(res, "holder_id", a->holder, sizeof(a->holder));
	a->token = field_int(res, "fencing_token");
	a->local = field_bool(res, "local");
	a->holder_pid = field_int(res, "holder_pid");
}

/* Send acquire NAME (ttl, wait seconds or <0 for none); returns the msgid. */
static uint32_t
rc_acquire_send(struct rc *rc, const char *name, int ttl, double wait)
{
	uint32_t id = rc_begin(rc, "acquire", wait >= 0 ? 3 : 2);

	kv_str(rc, "name", name);
	kv_int(rc, "ttl", ttl);
	if (wait >= 0)
		kv_double(rc, "wait", wait);
	rc_send(rc);
	return id;
}

/* Wait for an acquire reply. */
static void
rc_acquire_reply(struct rc *rc, uint32_t id, int timeout_ms, struct acq *a)
{
	const msgpack_object *res;

	memset(a, 0, sizeof(*a));
	if ((res = rc_reply(rc, id, timeout_ms, a->code, sizeof(a->code))) != NULL)
		acq_fill(a, res);
}

/* acquire NAME now (no wait). */
static void
rc_acquire(struct rc *rc, const char *name, int ttl, struct acq *a)
{
	rc_acquire_reply(rc, rc_acquire_send(rc, name, ttl, -1), RC_TIMEOUT, a);
}

/* release or renew (ttl > 0); returns the error code, "" on success. */
static const char *
rc_lease_op(struct rc *rc, const char *method, const char *name, const char *lease_id,
    int ttl, char *code, size_t size)
{
	uint32_t id = rc_begin(rc, method, ttl > 0 ? 3 : 2);

	kv_str(rc, "name", name);
	kv_str(rc, "lease_id", lease_id);
	if (ttl > 0)
		kv_int(rc, "ttl", ttl);
	rc_call(rc, id, code, size);
	return code;
}

/*
 * Send a ping and wait for its reply: everything sent before it on rc has been
 * dispatched.  Returns 0, or -1 when something else arrived first (or nothing).
 */
static int
rc_sync(struct rc *rc)
{
	char		code[64];
	uint32_t	id = rc_begin(rc, "ping", 0);

	rc_send(rc);
	return rc_reply(rc, id, RC_TIMEOUT, code, sizeof(code)) != NULL ? 0 : -1;
}

/* liboctostore lease_lost callback: remember the first event. */
static void
lost_cb(struct octo_client *c, const struct octo_event *ev, void *arg)
{
	struct lost *l = arg;

	(void)c;
	if (ev->type != OCTO_EVENT_LEASE_LOST)
		return;
	if (l->n++ == 0) {
		l->at = now_ms();
		snprintf(l->name, sizeof(l->name), "%s", ev->name);
		snprintf(l->reason, sizeof(l->reason), "%s", ev->reason);
		l->token = ev->fencing_token;
	}
}

/* Library client with the lease_lost callback; exits on failure. */
static struct octo_client *
lib_open(struct lost *l)
{
	struct octo_client	*c;
	int			 r;

	if ((r = octo_connect(sock_path, RC_TIMEOUT, &c)) != OCTO_OK) {
		fprintf(stderr, "leaseclient: octo_connect: %s\n", octo_strerror(r));
		exit(2);
	}
	if (l != NULL) {
		memset(l, 0, sizeof(*l));
		octo_set_notify_cb(c, lost_cb, l);
	}
	return c;
}

/* Wait up to timeout_ms for a lease_lost on c (delivered through the callback). */
static void
lib_wait_lost(struct octo_client *c, struct lost *l, long timeout_ms)
{
	struct pollfd	pfd = { .fd = octo_fd(c), .events = POLLIN };
	long		deadline = now_ms() + timeout_ms, left;

	while (l->n == 0 && (left = deadline - now_ms()) > 0) {
		if (poll(&pfd, 1, (int)left) > 0 && octo_poll_events(c) != OCTO_OK)
			break;
	}
}

/* libcurl write callback into a growing buffer. */
static size_t
http_write(char *p, size_t size, size_t n, void *arg)
{
	char	**buf = arg, *nb;
	size_t	  len = *buf != NULL ? strlen(*buf) : 0;

	if ((nb = realloc(*buf, len + size * n + 1)) == NULL)
		return 0;
	memcpy(nb + len, p, size * n);
	nb[len + size * n] = '\0';
	*buf = nb;
	return size * n;
}

/* GET or POST (body non-NULL) to the fake; returns the parsed JSON answer or NULL. */
static json_t *
fake_call(const char *path, const char *body)
{
	struct curl_slist	*h = NULL;
	json_t			*j = NULL;
	char			 url[512], *out = NULL;
	long			 status = 0;
	CURL			*cu;

	if ((cu = curl_easy_init()) == NULL)
		return NULL;
	snprintf(url, sizeof(url), "%s%s", fake_url, path);
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &out);
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
	}
	if (curl_easy_perform(cu) == CURLE_OK &&
	    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status == 200 && out != NULL)
		j = json_loads(out, 0, NULL);
	if (j == NULL)
		fprintf(stderr, "leaseclient: %s %s failed (HTTP %ld)\n",
		    body != NULL ? "POST" : "GET", path, status);
	free(out);
	curl_slist_free_all(h);
	curl_easy_cleanup(cu);
	return j;
}

/* One counter of the fake's stats ("renew", "release", ...), or -1. */
static long
fake_count(const char *what)
{
	json_t	*j = fake_call("/_fake/stats", NULL), *v;
	long	 n = -1;

	if (j == NULL)
		return -1;
	if ((v = json_object_get(json_object_get(j, "requests"), what)) != NULL ||
	    (v = json_object_get(j, what)) != NULL)
		n = (long)json_integer_value(v);
	json_decref(j);
	return n;
}

/* POST a control request to the fake; 0 on success. */
static int
fake_post(const char *path, const char *body)
{
	json_t *j = fake_call(path, body);

	json_decref(j);
	return j != NULL ? 0 : -1;
}

/* NAME as one percent-encoded path segment (as the daemon sends it). */
static void
url_segment(const char *name, char *buf, size_t size)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 o = 0;
	unsigned char		 ch;

	for (; *name != '\0' && o + 4 < size; name++) {
		ch = (unsigned char)*name;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
		    ch == '~')
			buf[o++] = (char)ch;
		else {
			buf[o++] = '%';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	buf[o] = '\0';
}

/* What a racer reports back for one command. */
struct race_msg {
	int		r;
	uint64_t	token;
	char		lease_id[OCTO_ID_SIZE];
	char		holder[OCTO_ID_SIZE];
};

/* One racer: on 'g' acquire, on 'r' release, on 'q' or EOF exit. */
static int
racer(const char *name, int cmd, int res)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c = lib_open(NULL);
	struct race_msg			 m;
	char				 ch;

	memset(&a, 0, sizeof(a));
	while (read(cmd, &ch, 1) == 1 && ch != 'q') {
		memset(&m, 0, sizeof(m));
		if (ch == 'g') {
			m.r = octo_acquire(c, name, 30, NULL, -1, &a);
			m.token = a.fencing_token;
			snprintf(m.lease_id, sizeof(m.lease_id), "%s", a.lease_id);
			snprintf(m.holder, sizeof(m.holder), "%s", a.holder_id);
		} else
			m.r = octo_release(c, name, a.lease_id);
		if (write(res, &m, sizeof(m)) != sizeof(m))
			break;
	}
	octo_close(c);
	return 0;
}

/* Two processes race for name: exactly one acquires each round. */
static int
race(const char *name, int rounds)
{
	struct race_msg	 m[2];
	pid_t		 pid[2];
	int		 cmd[2][2], res[2][2], i, k, w, wins[2] = { 0, 0 }, bad = 0;
	char		 want[OCTO_ID_SIZE];
	uint64_t	 last = 0;
	long		 t0 = now_ms();

	for (k = 0; k < 2; k++) {
		if (pipe(cmd[k]) == -1 || pipe(res[k]) == -1)
			return 2;
		if ((pid[k] = fork()) == -1)
			return 2;
		if (pid[k] == 0) {
			close(cmd[k][1]);
			close(res[k][0]);
			_exit(racer(name, cmd[k][0], res[k][1]));
		}
		close(cmd[k][0]);
		close(res[k][1]);
	}
	for (i = 0; i < rounds && bad == 0; i++) {
		/* Both racers block in read(): one write each sets them off together. */
		if (write(cmd[0][1], "g", 1) != 1 || write(cmd[1][1], "g", 1) != 1)
			return 2;
		for (k = 0; k < 2; k++)
			if (read(res[k][0], &m[k], sizeof(m[k])) != sizeof(m[k]))
				return 2;
		if ((m[0].r == OCTO_OK) == (m[1].r == OCTO_OK)) {
			expect(0, "round %d: exactly one acquired (got %s and %s)", i,
			    octo_err_name(m[0].r), octo_err_name(m[1].r));
			bad++;
			break;
		}
		w = m[0].r == OCTO_OK ? 0 : 1;
		wins[w]++;
		snprintf(want, sizeof(want), "local:pid=%d,uid=%u", (int)pid[w],
		    (unsigned)getuid());
		if (m[!w].r != OCTO_ERR_LOCK_HELD || strcmp(m[!w].holder, want) != 0) {
			expect(0, "round %d: the other is told held by %s (got %s, %s)", i,
			    want, octo_err_name(m[!w].r), m[!w].holder);
			bad++;
		}
		if (m[w].token <= last) {
			expect(0, "round %d: fencing token %llu after %llu", i,
			    (unsigned long long)m[w].token, (unsigned long long)last);
			bad++;
		}
		last = m[w].token;
		if (write(cmd[w][1], "r", 1) != 1 ||
		    read(res[w][0], &m[w], sizeof(m[w])) != sizeof(m[w]))
			return 2;
		if (m[w].r != OCTO_OK) {
			expect(0, "round %d: winner's release: %s", i, octo_err_name(m[w].r));
			bad++;
		}
	}
	for (k = 0; k < 2; k++) {
		if (write(cmd[k][1], "q", 1) != 1)
			bad++;
		waitpid(pid[k], NULL, 0);
	}
	printf("# %d rounds in %ld ms, wins %d/%d\n", i, now_ms() - t0, wins[0], wins[1]);
	expect(bad == 0 && i == rounds, "%d rounds: exactly one acquired, the other held by "
	    "the winner's local pid, fencing tokens rising, every release ok", rounds);
	/* Without this the test would not show that the two ever raced. */
	expect(wins[0] > 0 && wins[1] > 0, "both racers won some rounds (%d/%d)", wins[0],
	    wins[1]);
	return fails != 0;
}

/* renew/release of a lease from another connection: not_owner; the owner may. */
static int
owner(const char *name)
{
	struct rc	*a = rc_open(), *b = rc_open();
	struct acq	 x, y;
	struct st	 st;
	char		 code[64];

	rc_acquire(a, name, 30, &x);
	if (!expect(strcmp(x.status, "acquired") == 0, "owner: A acquires %s", name))
		return 1;
	expect(strcmp(rc_lease_op(b, "renew", name, x.lease_id, 30, code, sizeof(code)),
	    "not_owner") == 0, "renew from another connection: not_owner (got %s)", code);
	expect(strcmp(rc_lease_op(b, "release", name, x.lease_id, 0, code, sizeof(code)),
	    "not_owner") == 0, "release from another connection: not_owner (got %s)", code);
	rc_acquire(b, name, 30, &y);
	expect(strcmp(y.status, "held") == 0 && y.local == 1 && y.holder_pid == getpid(),
	    "acquire from another connection: held, local, holder_pid (got %s %d %lld)",
	    y.status, y.local, (long long)y.holder_pid);
	rc_status(b, name, &st);
	expect(strcmp(st.status, "held") == 0 && st.token == x.token &&
	    strcmp(st.local, "held") == 0 && st.pid == getpid() && st.detached == 0,
	    "status: still held by A, same token, local held (got %s %s)", st.status, st.local);
	expect(*rc_lease_op(a, "renew", name, x.lease_id, 20, code, sizeof(code)) == '\0',
	    "the owner's renew works (got %s)", code);
	expect(*rc_lease_op(a, "release", name, x.lease_id, 0, code, sizeof(code)) == '\0',
	    "the owner's release works (got %s)", code);
	expect(strcmp(rc_lease_op(b, "release", name, x.lease_id, 0, code, sizeof(code)),
	    "lease_not_current") == 0, "release of the released lease: lease_not_current "
	    "(got %s)", code);
	rc_close(a);
	rc_close(b);
	return fails != 0;
}

/* Local waiters queue FIFO; one that disconnects leaves; a short wait times out. */
static int
queue(const char *name)
{
	struct rc	*h = rc_open(), *w1 = rc_open(), *w2 = rc_open(), *w3 = rc_open();
	struct rc	*w4 = rc_open();
	struct acq	 x, a1, a2, a4;
	struct st	 st;
	uint32_t	 i1, i2, i4;
	long		 t0;
	char		 code[64];

	rc_acquire(h, name, 30, &x);
	if (!expect(strcmp(x.status, "acquired") == 0, "queue: holder acquires %s", name))
		return 1;
	i1 = rc_acquire_send(w1, name, 30, 20);
	expect(rc_sync(w1) == 0, "waiter 1 queued (no answer before a later ping)");
	i2 = rc_acquire_send(w2, name, 30, 20);
	expect(rc_sync(w2) == 0, "waiter 2 queued");
	rc_acquire_send(w3, name, 30, 20);
	expect(rc_sync(w3) == 0, "waiter 3 queued");
	rc_close(w3);

	t0 = now_ms();
	i4 = rc_acquire_send(w4, name, 30, 0.3);
	rc_acquire_reply(w4, i4, RC_TIMEOUT, &a4);
	expect(strcmp(a4.code, "timeout") == 0 && now_ms() - t0 >= 290,
	    "wait 0.3 s behind a local holder: timeout after %ld ms (got %s)",
	    now_ms() - t0, a4.code[0] != '\0' ? a4.code : a4.status);

	expect(*rc_lease_op(h, "release", name, x.lease_id, 0, code, sizeof(code)) == '\0',
	    "holder releases (got %s)", code);
	rc_acquire_reply(w1, i1, RC_TIMEOUT, &a1);
	expect(strcmp(a1.status, "acquired") == 0 && a1.token > x.token,
	    "first waiter gets the lock with a higher fencing token (got %s %s)",
	    a1.status, a1.code);
	expect(!rc_pending(w2, 0) && rc_sync(w4) == 0 && !rc_pending(w2, 0),
	    "second waiter still waits");
	expect(*rc_lease_op(w1, "release", name, a1.lease_id, 0, code, sizeof(code)) == '\0',
	    "first waiter releases (got %s)", code);
	rc_acquire_reply(w2, i2, RC_TIMEOUT, &a2);
	expect(strcmp(a2.status, "acquired") == 0 && a2.token > a1.token,
	    "second waiter gets it next (got %s %s)", a2.status, a2.code);
	expect(*rc_lease_op(w2, "release", name, a2.lease_id, 0, code, sizeof(code)) == '\0',
	    "second waiter releases (got %s)", code);
	rc_status(h, name, &st);
	expect(strcmp(st.status, "free") == 0 && st.local[0] == '\0',
	    "the disconnected third waiter left the queue: %s is free (got %s %s)", name,
	    st.status, st.local);
	rc_close(h);
	rc_close(w1);
	rc_close(w2);
	rc_close(w4);
	return fails != 0;
}

/* SIGKILL a holder: the server sees the release within limit_ms; a waiter gets it. */
static int
killholder(const char *name, long limit_ms)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c;
	struct rc			*w, *o;
	struct acq			 wa;
	struct st			 st;
	uint64_t			 token = 0;
	uint32_t			 wid;
	long				 t0, t_rel = -1, t_w = -1, polls = 0;
	int				 p[2], r;
	pid_t				 pid;
	char				 code[64];

	if (pipe(p) == -1 || (pid = fork()) == -1)
		return 2;
	if (pid == 0) {
		close(p[0]);
		c = lib_open(NULL);
		r = octo_acquire(c, name, 30, NULL, -1, &a);
		token = r == OCTO_OK ? a.fencing_token : 0;
		if (write(p[1], &token, sizeof(token)) != sizeof(token))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &token, sizeof(token)) != sizeof(token) || token == 0) {
		expect(0, "killholder: the holder acquired %s", name);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 1;
	}
	close(p[0]);
	w = rc_open();
	o = rc_open();
	wid = rc_acquire_send(w, name, 30, 10);
	expect(rc_sync(w) == 0, "a local waiter is queued behind the holder");
	rc_status(o, name, &st);
	expect(strcmp(st.status, "held") == 0 && (uint64_t)st.token == token &&
	    strcmp(st.local, "held") == 0 && st.pid == pid,
	    "status before the kill: held by the holder's pid (got %s %s %lld)", st.status,
	    st.local, (long long)st.pid);

	t0 = now_ms();
	kill(pid, SIGKILL);
	/* The old lease is gone upstream once status shows anything but it. */
	while (now_ms() - t0 < 5000) {
		rc_status(o, name, &st);
		polls++;
		if (t_w < 0 && rc_pending(w, 0)) {
			rc_acquire_reply(w, wid, RC_TIMEOUT, &wa);
			t_w = now_ms();
		}
		if (st.code[0] == '\0' &&
		    !(strcmp(st.status, "held") == 0 && (uint64_t)st.token == token)) {
			t_rel = now_ms();
			break;
		}
	}
	if (t_w < 0) {
		rc_acquire_reply(w, wid, 5000, &wa);
		t_w = now_ms();
	}
	waitpid(pid, NULL, 0);
	printf("# release seen upstream %ld ms after SIGKILL (%ld status polls); waiter "
	    "acquired after %ld ms\n", t_rel - t0, polls, t_w - t0);
	expect(t_rel >= 0 && t_rel - t0 < limit_ms,
	    "the killed holder's lease was released upstream within %ld ms (took %ld ms)",
	    limit_ms, t_rel - t0);
	expect(strcmp(wa.status, "acquired") == 0 && (uint64_t)wa.token > token,
	    "the queued waiter got the lock, new fencing token (got %s %s)", wa.status,
	    wa.code);
	rc_status(o, name, &st);
	expect(strcmp(st.status, "held") == 0 && st.token == wa.token &&
	    st.pid == getpid(), "status: held by the waiter (got %s %lld)", st.status,
	    (long long)st.pid);
	expect(*rc_lease_op(w, "release", name, wa.lease_id, 0, code, sizeof(code)) == '\0',
	    "the waiter releases (got %s)", code);
	rc_close(w);
	rc_close(o);
	return fails != 0;
}

/* Hold a lease with no client action for secs; status must show it held throughout. */
static int
keep(const char *name, int ttl, int secs)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c;
	struct lost			 l;
	struct rc			*o = rc_open();
	struct st			 st;
	long				 t0, n = 0, bad = 0;
	int				 r;

	c = lib_open(&l);
	r = octo_acquire(c, name, ttl, NULL, -1, &a);
	if (!expect(r == OCTO_OK,
	    "keep: acquire %s ttl %d (%s)", name, ttl, octo_err_name(r)))
		return 1;
	printf("token %llu\n", (unsigned long long)a.fencing_token);
	t0 = now_ms();
	while (now_ms() - t0 < secs * 1000L) {
		rc_status(o, name, &st);
		n++;
		if (strcmp(st.status, "held") != 0 || (uint64_t)st.token != a.fencing_token ||
		    strcmp(st.local, "held") != 0 || st.pid != getpid()) {
			if (bad++ == 0)
				printf("# at %ld ms: %s %s token %lld local %s\n",
				    now_ms() - t0, st.code, st.status, (long long)st.token,
				    st.local);
		}
		/* Only reads what the daemon sent; the lease itself is left alone. */
		octo_poll_events(c);
		nap(100);
	}
	octo_poll_events(c);
	expect(bad == 0 && n > 0, "%d s with ttl %d s: %ld status checks all held, same "
	    "fencing token, local.state held (%ld bad)", secs, ttl, n, bad);
	expect(l.n == 0, "no lease_lost (got %d, %s)", l.n, l.reason);
	expect(octo_release(c, name, a.lease_id) == OCTO_OK, "release after %d s", secs);
	octo_close(c);
	rc_close(o);
	return fails != 0;
}

/* Acquire and hold until the connection closes (prints "closed", exits 4) or the
 * lease is lost (prints "lost REASON", exits 3). */
static int
hold(const char *name, int ttl)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c;
	struct lost			 l;
	struct pollfd			 pfd;
	int				 r;

	c = lib_open(&l);
	if ((r = octo_acquire(c, name, ttl, NULL, -1, &a)) != OCTO_OK) {
		printf("error %s\n", octo_last_error_code(c));
		return 1;
	}
	printf("acquired %llu %s\n", (unsigned long long)a.fencing_token, a.lease_id);
	pfd.fd = octo_fd(c);
	pfd.events = POLLIN;
	for (;;) {
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			break;
		if (octo_poll_events(c) != OCTO_OK) {
			printf("closed\n");
			r = 4;
			break;
		}
		if (l.n > 0) {
			printf("lost %s\n", l.reason);
			r = 3;
			break;
		}
	}
	octo_close(c);
	return r;
}

/* Wait until the fake counts one more renew request; returns when, or -1. */
static long
sync_renewal(void)
{
	long n0 = fake_count("renew"), n, t0 = now_ms();

	while (n0 >= 0 && now_ms() - t0 < 10000) {
		if ((n = fake_count("renew")) < 0)
			return -1;
		if (n > n0)
			return now_ms();
		nap(2);
	}
	return -1;
}

/* Renewal faults: a passing one is survived; a lasting one ends in lease_lost in time. */
static int
fault(const char *name, int ttl, const char *kind)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c;
	struct lost			 l;
	struct rc			*o = rc_open();
	struct acq			 x;
	struct st			 st;
	char				 seg[3 * OCTO_NAME_SIZE], body[2048], prefix[1024];
	const char			*rule;
	long				 t_sync, t_inj, t_end, deadline, r0, n = 0, bad = 0;
	int				 persist = strncmp(kind, "persist", 7) == 0, r;

	if (strcmp(kind, "recover-503") == 0)
		rule = "\"status\":503,\"code\":\"upstream_unavailable\",\"count\":3";
	else if (strcmp(kind, "recover-close") == 0)
		rule = "\"mode\":\"close\",\"count\":2";
	else if (strcmp(kind, "recover-429") == 0)
		rule = "\"status\":429,\"code\":\"rate_limited\",\"retry_after_ms\":200,"
		    "\"count\":2";
	else if (strcmp(kind, "persist-503") == 0)
		rule = "\"status\":503,\"code\":\"upstream_unavailable\",\"count\":-1";
	else if (strcmp(kind, "persist-hang") == 0)
		rule = "\"mode\":\"hang\",\"count\":-1";
	else {
		fprintf(stderr, "leaseclient: unknown fault kind %s\n", kind);
		return 64;
	}
	c = lib_open(&l);
	r = octo_acquire(c, name, ttl, NULL, -1, &a);
	if (!expect(r == OCTO_OK,
	    "%s: acquire %s ttl %d (%s)", kind, name, ttl, octo_err_name(r)))
		return 1;
	url_segment(name, seg, sizeof(seg));
	snprintf(prefix, sizeof(prefix), "/locks/%s/renew", seg);
	snprintf(body, sizeof(body), "{%s,\"path_prefix\":\"%s\"}", rule, prefix);

	/*
	 * Inject just after a renewal reached the fake: that renewal, sent before t_sync,
	 * is the last one that succeeds, so its authority ends before t_sync + 80% TTL.
	 */
	if ((t_sync = sync_renewal()) < 0 || fake_post("/_fake/fault", body) != 0) {
		expect(0, "%s: saw a renewal and injected the fault", kind);
		return 1;
	}
	t_inj = now_ms();
	r0 = fake_count("renew");
	deadline = t_sync + ttl * 800L;
	printf("# %s: fault injected %ld ms after the last good renewal arrived\n", kind,
	    t_inj - t_sync);

	if (!persist) {
		/* Watch two TTLs: held throughout, no loss, renewals get through again. */
		t_end = t_sync + ttl * 2000L;
		while (now_ms() < t_end) {
			rc_status(o, name, &st);
			n++;
			if (strcmp(st.status, "held") != 0 || (uint64_t)st.token !=
			    a.fencing_token || strcmp(st.local, "held") != 0)
				bad++;
			octo_poll_events(c);
			nap(50);
		}
		octo_poll_events(c);
		expect(l.n == 0, "%s: no lease_lost (got %s)", kind, l.reason);
		expect(bad == 0, "%s: status held with the same token in all %ld checks "
		    "(%ld not)", kind, n, bad);
		expect(fake_count("renew") - r0 >= 2, "%s: renewals reached the server after "
		    "the fault (%ld more)", kind, fake_count("renew") - r0);
		expect(octo_release(c, name, a.lease_id) == OCTO_OK, "%s: release", kind);
		octo_close(c);
		rc_close(o);
		return fails != 0;
	}

	lib_wait_lost(c, &l, ttl * 2000L);
	if (l.n > 0)
		printf("# %s: lease_lost %ld ms after the last good renewal, %ld ms before "
		    "the 80%% deadline (ttl %d s)\n", kind, l.at - t_sync, deadline - l.at, ttl);
	expect(l.n == 1 && strcmp(l.reason, "expired") == 0 && strcmp(l.name, name) == 0 &&
	    l.token == a.fencing_token, "%s: one lease_lost, reason expired, name and "
	    "fencing token (got %d %s)", kind, l.n, l.reason);
	expect(l.n > 0 && l.at < deadline, "%s: lease_lost before 80%% of the TTL from the "
	    "last good renewal (margin %ld ms)", kind, deadline - l.at);
	expect(fake_count("renew") > r0 || strcmp(kind, "persist-hang") == 0,
	    "%s: the daemon kept retrying the renewal meanwhile", kind);
	/* From the notification on, until the server forgets it: never held. */
	t_end = t_sync + ttl * 1000L + 500;
	while (now_ms() < t_end) {
		rc_status(o, name, &st);
		n++;
		if (st.code[0] != '\0' || strcmp(st.status, "held") == 0 ||
		    strcmp(st.local, "held") == 0) {
			if (bad++ == 0)
				printf("# status after loss: %s %s local %s\n", st.code,
				    st.status, st.local);
		}
		nap(50);
	}
	expect(bad == 0 && n > 0, "%s: status never held after the loss (%ld checks)",
	    kind, n);
	fake_post("/_fake/clear", "{}");
	rc_status(o, name, &st);
	expect(strcmp(st.status, "free") == 0, "%s: free once the TTL passed (got %s)", kind,
	    st.status);
	rc_acquire(o, name, ttl, &x);
	expect(strcmp(x.status, "acquired") == 0 && (uint64_t)x.token > a.fencing_token,
	    "%s: acquirable again, higher fencing token (got %s %s)", kind, x.status, x.code);
	octo_close(c);
	rc_close(o);
	return fails != 0;
}

/*
 * An explicit renew with a longer TTL arrives while an automatic renewal (sent with the
 * old TTL) is in flight.  That renewal's success vouches for the old TTL only: when every
 * later renewal fails, lease_lost must still come before 80% of the old TTL.
 */
static int
renewttl(const char *name)
{
	struct octo_acquire_result	 a;
	struct octo_renew_result	 rn;
	struct octo_client		*c;
	struct lost			 l;
	char				 seg[3 * OCTO_NAME_SIZE], body[2048];
	long				 t_sync, deadline;
	int				 r, ttl = 10;
	pid_t				 pid;

	c = lib_open(&l);
	r = octo_acquire(c, name, ttl, NULL, -1, &a);
	if (!expect(r == OCTO_OK, "renewttl: acquire %s ttl %d (%s)", name, ttl,
	    octo_err_name(r)))
		return 1;
	url_segment(name, seg, sizeof(seg));
	snprintf(body, sizeof(body), "{\"status\":503,\"code\":\"upstream_unavailable\","
	    "\"count\":-1,\"path_prefix\":\"/locks/%s/renew\"}", seg);
	/* Every answer 400 ms late: the next renewal stays in flight that long. */
	if (fake_post("/_fake/fault", "{\"latency_ms\":400}") != 0 ||
	    (t_sync = sync_renewal()) < 0) {
		expect(0, "renewttl: latency set, a renewal seen");
		return 1;
	}
	deadline = t_sync + ttl * 800L;
	/*
	 * Faults apply when a request is served, after its latency: injected 600 ms after
	 * the in-flight renewal arrived, the fault spares it (served at 400 ms) and catches
	 * the next one (sent at about 400 ms, served at about 800 ms).
	 */
	if ((pid = fork()) == 0) {
		nap(600 - (now_ms() - t_sync));
		_exit(fake_post("/_fake/fault", body) == 0 ? 0 : 1);
	}
	r = octo_renew(c, name, a.lease_id, 60, &rn);
	expect(r != OCTO_OK, "renewttl: the renewal with ttl 60 was refused by the fault "
	    "(got %s %s)", octo_err_name(r), octo_last_error_code(c));
	waitpid(pid, NULL, 0);
	lib_wait_lost(c, &l, ttl * 1000L);
	if (l.n > 0)
		printf("# renewttl: lease_lost %ld ms after the last good renewal arrived, "
		    "%ld ms before 80%% of its ttl %d s\n", l.at - t_sync, deadline - l.at, ttl);
	expect(l.n == 1 && strcmp(l.reason, "expired") == 0 && l.at < deadline,
	    "renewttl: lease_lost (expired) before 80%% of the TTL the last good renewal "
	    "was sent with (got %d %s, %ld ms after it)", l.n, l.reason,
	    l.n > 0 ? l.at - t_sync : -1);
	fake_post("/_fake/clear", "{}");
	octo_close(c);
	return fails != 0;
}

/*
 * The session's keepalive is answered session_expired: every lease on it is lost
 * (reason session_expired), and the name can be had again on a new session once the
 * server lets go of the old one.
 */
static int
sessionlost(const char *name)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c;
	struct lost			 l;
	struct rc			*o = rc_open();
	struct st			 st;
	struct acq			 x;
	long				 t_inj, t0;
	int				 r;

	c = lib_open(&l);
	r = octo_acquire(c, name, 30, NULL, -1, &a);
	if (!expect(r == OCTO_OK, "sessionlost: acquire %s (%s)", name, octo_err_name(r)))
		return 1;
	if (fake_post("/_fake/fault", "{\"status\":410,\"code\":\"session_expired\","
	    "\"path_prefix\":\"/sessions/\",\"count\":1}") != 0)
		return 1;
	t_inj = now_ms();
	lib_wait_lost(c, &l, 5000);
	printf("# sessionlost: lease_lost %ld ms after the keepalive fault was set\n",
	    l.at - t_inj);
	expect(l.n == 1 && strcmp(l.reason, "session_expired") == 0 &&
	    l.token == a.fencing_token, "sessionlost: lease_lost, reason session_expired "
	    "(got %d %s)", l.n, l.reason);
	/* Keepalives go every second (session_ttl 2 s). */
	expect(l.n > 0 && l.at - t_inj < 2000, "sessionlost: with the next keepalive "
	    "(%ld ms)", l.at - t_inj);
	rc_status(o, name, &st);
	expect(strcmp(st.status, "held") != 0 && strcmp(st.local, "held") != 0,
	    "sessionlost: status not held afterwards (got %s, local %s)", st.status,
	    st.local);
	/* The abandoned session expires on the server within its 2 s TTL. */
	t0 = now_ms();
	while (strcmp(st.status, "free") != 0 && now_ms() - t0 < 5000) {
		nap(20);
		rc_status(o, name, &st);
	}
	printf("# sessionlost: free upstream %ld ms later\n", now_ms() - t0);
	rc_acquire(o, name, 30, &x);
	expect(strcmp(x.status, "acquired") == 0 && (uint64_t)x.token > a.fencing_token,
	    "sessionlost: free within 5 s, acquired again on a new session (got %s %s)", x.status, x.code);
	octo_close(c);
	rc_close(o);
	return fails != 0;
}

/* The server expires the lease: the next renewal proves the loss. */
static int
expire(const char *name, int ttl)
{
	struct octo_acquire_result	 a;
	struct octo_client		*c;
	struct lost			 l;
	struct rc			*o = rc_open();
	struct st			 st;
	struct acq			 x;
	char				 body[1024];
	long				 t_exp;
	int				 r;

	c = lib_open(&l);
	r = octo_acquire(c, name, ttl, NULL, -1, &a);
	if (!expect(r == OCTO_OK,
	    "expire: acquire %s ttl %d (%s)", name, ttl, octo_err_name(r)))
		return 1;
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	t_exp = now_ms();
	if (!expect(fake_post("/_fake/expire", body) == 0, "the fake expired the lease"))
		return 1;
	lib_wait_lost(c, &l, ttl * 1000L);
	printf("# lease_lost %ld ms after the server expired the lease\n", l.at - t_exp);
	expect(l.n == 1 && strcmp(l.reason, "lease_not_current") == 0 &&
	    l.token == a.fencing_token && strcmp(l.name, name) == 0,
	    "lease_lost with reason lease_not_current, name and token (got %d %s)", l.n,
	    l.reason);
	/* The loss is proven at the next renewal, due by ttl/3 (+ jitter and a round trip). */
	expect(l.n > 0 && l.at - t_exp < ttl * 1000L / 2,
	    "it came with the next renewal (%ld ms)", l.at - t_exp);
	rc_status(o, name, &st);
	expect(strcmp(st.status, "free") == 0 && strcmp(st.local, "held") != 0,
	    "status free, not held locally (got %s %s)", st.status, st.local);
	rc_acquire(o, name, ttl, &x);
	expect(strcmp(x.status, "acquired") == 0 && (uint64_t)x.token > a.fencing_token,
	    "another client acquires it (got %s %s)", x.status, x.code);
	octo_close(c);
	rc_close(o);
	return fails != 0;
}

/* Detached acquire; prints LEASE_ID TOKEN. */
static int
detach(const char *name, int ttl, double holds)
{
	struct rc	*rc = rc_open();
	struct acq	 x;
	uint32_t	 id;

	id = rc_begin(rc, "acquire", 4);
	kv_str(rc, "name", name);
	kv_int(rc, "ttl", ttl);
	kv_true(rc, "detach");
	kv_double(rc, "hold", holds);
	rc_send(rc);
	rc_acquire_reply(rc, id, RC_TIMEOUT, &x);
	rc_close(rc);
	if (strcmp(x.status, "acquired") != 0) {
		printf("error %s\n", x.code[0] != '\0' ? x.code : x.status);
		return 1;
	}
	printf("%s %lld %ld\n", x.lease_id, (long long)x.token, now_ms());
	return 0;
}

/* Poll status until NAME is free; prints "free MONOTONIC_MS" or the last status. */
static int
waitfree(const char *name, long timeout_ms)
{
	struct rc	*rc = rc_open();
	struct st	 st;
	long		 t0 = now_ms();

	for (;;) {
		rc_status(rc, name, &st);
		if (strcmp(st.status, "free") == 0 || now_ms() - t0 >= timeout_ms)
			break;
		nap(10);
	}
	if (strcmp(st.status, "free") == 0)
		printf("free %ld\n", now_ms());
	else
		printf("%s %s\n", st.status, st.code);
	rc_close(rc);
	return 0;
}

/* Run one subcommand (see the comment at the top). */
int
main(int argc, char **argv)
{
	struct rc	*rc;
	struct st	 st;
	char		 code[64];
	int		 r = 64;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 4)
		goto usage;
	sock_path = argv[2];
	if (strcmp(argv[1], "race") == 0 && argc == 5)
		return race(argv[3], atoi(argv[4]));
	if (strcmp(argv[1], "owner") == 0 && argc == 4)
		return owner(argv[3]);
	if (strcmp(argv[1], "queue") == 0 && argc == 4)
		return queue(argv[3]);
	if (strcmp(argv[1], "killholder") == 0 && argc == 5)
		return killholder(argv[3], atol(argv[4]));
	if (strcmp(argv[1], "keep") == 0 && argc == 6)
		return keep(argv[3], atoi(argv[4]), atoi(argv[5]));
	if (strcmp(argv[1], "hold") == 0 && argc == 5)
		return hold(argv[3], atoi(argv[4]));
	if (strcmp(argv[1], "detach") == 0 && argc == 6)
		return detach(argv[3], atoi(argv[4]), atof(argv[5]));
	if ((strcmp(argv[1], "fault") == 0 && argc == 7) ||
	    (strcmp(argv[1], "expire") == 0 && argc == 6) ||
	    (strcmp(argv[1], "renewttl") == 0 && argc == 5) ||
	    (strcmp(argv[1], "sessionlost") == 0 && argc == 5)) {
		fake_url = argv[3];
		curl_global_init(CURL_GLOBAL_DEFAULT);
		if (argv[1][0] == 'f')
			r = fault(argv[4], atoi(argv[5]), argv[6]);
		else if (argv[1][0] == 'r')
			r = renewttl(argv[4]);
		else if (argv[1][0] == 's')
			r = sessionlost(argv[4]);
		else
			r = expire(argv[4], atoi(argv[5]));
		curl_global_cleanup();
		return r;
	}
	if (strcmp(argv[1], "release") == 0 && argc == 5) {
		rc = rc_open();
		rc_lease_op(rc, "release", argv[3], argv[4], 0, code, sizeof(code));
		printf("%s\n", code[0] != '\0' ? code : "released");
		rc_close(rc);
		return 0;
	}
	if (strcmp(argv[1], "renew") == 0 && argc == 6) {
		rc = rc_open();
		rc_lease_op(rc, "renew", argv[3], argv[4], atoi(argv[5]), code, sizeof(code));
		printf("%s\n", code[0] != '\0' ? code : "renewed");
		rc_close(rc);
		return 0;
	}
	if (strcmp(argv[1], "waitfree") == 0 && argc == 5)
		return waitfree(argv[3], atol(argv[4]));
	if (strcmp(argv[1], "status") == 0 && (argc == 4 || argc == 5)) {
		if (argc == 5)
			nap(atol(argv[4]) - now_ms() > 0 ? atol(argv[4]) - now_ms() : 0);
		rc = rc_open();
		rc_status(rc, argv[3], &st);
		if (st.code[0] != '\0')
			printf("error %s\n", st.code);
		else
			printf("%s %lld %s %s\n", st.status, (long long)st.token,
			    st.local[0] != '\0' ? st.local : "-",
			    st.detached == 1 ? "detached" : "-");
		rc_close(rc);
		return 0;
	}
usage:
	fprintf(stderr, "usage: see the comment at the top of leaseclient.c\n");
	return r;
}
