/*
 * badclient.c - misbehaving and probing clients for the integration tests.
 *
 *   badclient wait SOCKET TIMEOUT_MS [PID]  until a ping is answered (PID must stay alive)
 *   badclient ping SOCKET                   one ping round trip
 *   badclient random SOCKET SEED            random bytes; expect an error reply or close
 *   badclient big SOCKET                    a 10 MB message; expect message_too_large
 *   badclient bomb SOCKET                   array header claiming 2^32-1 elements
 *   badclient deep SOCKET                   nesting 10,000 deep
 *   badclient half SOCKET                   half a message, then disconnect
 *   badclient churn SOCKET N                N connections opened and dropped
 *   badclient noread SOCKET N               N pipelined pings, never reading replies;
 *                                           holds the connection until stdin closes
 *   badclient pipeline SOCKET N             N pipelined pings; all N replies by msgid
 *   badclient multi SOCKET N METHOD [K=V..] N calls on one connection, one line each:
 *                                           "ok KEY,KEY,..." (result keys) or
 *                                           "error CODE"; "%d" in a value becomes the
 *                                           call's index, numeric values are integers;
 *                                           with HOLD=1 in the environment the
 *                                           connection stays open until stdin closes;
 *                                           with DUMP=1 each result follows its line
 *                                           as msgpack_object_print writes it
 *   badclient partial SOCKET                half a ping, then report how long (ms) the
 *                                           daemon took to close the connection
 *
 * Exit 0 when the daemon behaved as PROTOCOL.md says, 1 otherwise, with a reason.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "octo_proto.h"
#include "unixsock.h"

static const char *sock_path;

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
dial(void)
{
	return unixsock_connect(sock_path, 0);
}

/*
 * Read one complete message within timeout_ms into m (zone-backed).  Returns 0, or
 * 1 on EOF before a message, -1 on error or timeout.
 */
static int
read_msg(int fd, int timeout_ms, msgpack_zone *z, struct octo_msg *m, char *buf,
    size_t cap, size_t *have)
{
	struct octo_proto_limits lim;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long deadline = now_ms() + timeout_ms;
	size_t len;
	ssize_t n;

	octo_proto_limits_default(&lim);
	lim.max_msg = cap;
	for (;;) {
		if (*have > 0 && octo_proto_scan(buf, *have, &lim, &len) == OCTO_OK) {
			/* msgpack-c points decoded strings into the input: decode a copy. */
			char *copy = msgpack_zone_malloc(z, len);
			int r;

			if (copy == NULL)
				return -1;
			memcpy(copy, buf, len);
			r = octo_proto_decode(copy, len, z, m);
			memmove(buf, buf + len, *have - len);
			*have -= len;
			return r == OCTO_OK ? 0 : -1;
		}
		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			return -1;
		n = read(fd, buf + *have, cap - *have);
		/*
		 * A Unix socket closed by its peer with our bytes still unread in its queue
		 * reads as ECONNRESET, not EOF, once our data is drained: both are "closed".
		 */
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		*have += (size_t)n;
	}
}

/* Pack a ping request with msgid into sb. */
static void
pack_ping(msgpack_sbuffer *sb, uint32_t msgid)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	octo_proto_pack_request(&pk, msgid, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	msgpack_pack_uint32(&pk, msgid);
}

/* One ping round trip on a new connection; 0 when answered correctly. */
static int
ping_once(int timeout_ms)
{
	msgpack_sbuffer sb;
	msgpack_zone z;
	struct octo_msg m;
	char buf[4096];
	size_t have = 0;
	int fd, r = -1;

	if ((fd = dial()) == -1)
		return -1;
	msgpack_sbuffer_init(&sb);
	msgpack_zone_init(&z, 1024);
	pack_ping(&sb, 7);
	if (unixsock_send_all(fd, sb.data, sb.size) == 0 &&
	    read_msg(fd, timeout_ms, &z, &m, buf, sizeof(buf), &have) == 0 &&
	    m.type == OCTO_MSG_RESPONSE && m.msgid == 7 &&
	    m.error->type == MSGPACK_OBJECT_NIL)
		r = 0;
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	close(fd);
	return r;
}

/* Expect one error reply with code (or any code when NULL), then EOF. */
static int
expect_error_close(int fd, const char *code)
{
	msgpack_zone z;
	struct octo_msg m;
	const char *s;
	size_t have = 0, len;
	static char buf[65536];
	int r;

	msgpack_zone_init(&z, 1024);
	r = read_msg(fd, 5000, &z, &m, buf, sizeof(buf), &have);
	if (r == 1) {
		msgpack_zone_destroy(&z);
		fprintf(stderr, "connection closed without an error reply\n");
		return code == NULL ? 0 : -1;
	}
	if (r != 0 || m.type != OCTO_MSG_RESPONSE || m.error->type != MSGPACK_OBJECT_MAP ||
	    octo_proto_get_str(m.error, "code", &s, &len) != OCTO_OK) {
		fprintf(stderr, "no error reply\n");
		msgpack_zone_destroy(&z);
		return -1;
	}
	if (code != NULL && (strlen(code) != len || memcmp(code, s, len) != 0)) {
		fprintf(stderr, "expected %s, got %.*s\n", code, (int)len, s);
		msgpack_zone_destroy(&z);
		return -1;
	}
	msgpack_zone_destroy(&z);
	r = read_msg(fd, 5000, &z, &m, buf, sizeof(buf), &have);
	if (r != 1) {
		fprintf(stderr, "connection not closed after the error\n");
		return -1;
	}
	return 0;
}

/* Send raw bytes (ignoring EPIPE: the daemon may close early) and expect error+close. */
static int
send_expect(const void *buf, size_t len, const char *code)
{
	int fd, r;

	if ((fd = dial()) == -1)
		return -1;
	(void)unixsock_send_all(fd, buf, len);
	r = expect_error_close(fd, code);
	close(fd);
	return r;
}

static int
cmd_big(void)
{
	size_t len = 10 * 1024 * 1024;
	unsigned char *buf = malloc(len);
	int r;

	if (buf == NULL)
		return -1;
	/* [0, 1, "ping", [{"payload": bin32 of ~10 MB}]] */
	static const char head[] = "\x94\x00\x01\xa4ping\x91\x81\xa7payload\xc6";
	size_t hl = sizeof(head) - 1, body = len - hl - 4;

	memcpy(buf, head, hl);
	buf[hl] = (unsigned char)(body >> 24);
	buf[hl + 1] = (unsigned char)(body >> 16);
	buf[hl + 2] = (unsigned char)(body >> 8);
	buf[hl + 3] = (unsigned char)body;
	memset(buf + hl + 4, 'x', body);
	r = send_expect(buf, len, "message_too_large");
	free(buf);
	return r;
}

static int
cmd_deep(void)
{
	size_t depth = 10000;
	unsigned char *buf = malloc(depth + 1);
	int r;

	memset(buf, 0x91, depth);
	buf[depth] = 0xc0;
	r = send_expect(buf, depth + 1, "protocol_error");
	free(buf);
	return r;
}

static int
cmd_random(unsigned seed)
{
	unsigned char buf[4096];
	size_t i;
	int fd, r;

	srand(seed);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand();
	/* Never a valid request by accident: start with a response type. */
	buf[0] = 0x94;
	buf[1] = 0x01;
	if ((fd = dial()) == -1)
		return -1;
	(void)unixsock_send_all(fd, buf, sizeof(buf));
	r = expect_error_close(fd, NULL);
	close(fd);
	return r;
}

static int
cmd_half(void)
{
	msgpack_sbuffer sb;
	int fd;

	msgpack_sbuffer_init(&sb);
	pack_ping(&sb, 1);
	if ((fd = dial()) == -1)
		return -1;
	(void)unixsock_send_all(fd, sb.data, sb.size / 2);
	close(fd);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}

static int
cmd_churn(int n)
{
	int i, fd;

	for (i = 0; i < n; i++) {
		if ((fd = dial()) == -1) {
			fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Pipeline n pings and never read; wait on stdin so the test controls the lifetime. */
static int
cmd_noread(int n)
{
	msgpack_sbuffer sb;
	int fd, i;
	char c;

	if ((fd = dial()) == -1)
		return -1;
	msgpack_sbuffer_init(&sb);
	for (i = 0; i < n; i++)
		pack_ping(&sb, (uint32_t)i);
	/* The daemon stops reading once our unread replies pile up: don't block on it. */
	{
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		size_t off = 0;
		long deadline = now_ms() + 3000;

		while (off < sb.size && now_ms() < deadline) {
			ssize_t w;

			if (poll(&pfd, 1, 100) <= 0)
				continue;
			w = send(fd, sb.data + off, sb.size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				break;
		}
		printf("sent %zu of %zu bytes\n", off, sb.size);
		fflush(stdout);
	}
	msgpack_sbuffer_destroy(&sb);
	while (read(0, &c, 1) > 0)
		;
	close(fd);
	return 0;
}

/* n pipelined pings; every reply must come back, matched by msgid. */
static int
cmd_pipeline(int n)
{
	msgpack_sbuffer sb;
	msgpack_zone z;
	struct octo_msg m;
	static char buf[65536];
	size_t have = 0;
	char *seen = calloc((size_t)n, 1);
	int fd, i, got = 0;

	if ((fd = dial()) == -1 || seen == NULL)
		return -1;
	msgpack_sbuffer_init(&sb);
	for (i = 0; i < n; i++)
		pack_ping(&sb, (uint32_t)i);
	if (unixsock_send_all(fd, sb.data, sb.size) != 0)
		return -1;
	msgpack_zone_init(&z, 4096);
	while (got < n && read_msg(fd, 5000, &z, &m, buf, sizeof(buf), &have) == 0) {
		if (m.type != OCTO_MSG_RESPONSE || m.msgid >= (uint32_t)n || seen[m.msgid])
			break;
		seen[m.msgid] = 1;
		got++;
		msgpack_zone_clear(&z);
	}
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
	free(seen);
	close(fd);
	if (got != n)
		fprintf(stderr, "got %d of %d replies\n", got, n);
	return got == n ? 0 : -1;
}

/* Copy src into dst with each "%d" replaced by idx. */
static void
subst_index(char *dst, size_t len, const char *src, int idx)
{
	size_t o = 0;

	while (*src != '\0' && o + 12 < len) {
		if (src[0] == '%' && src[1] == 'd') {
			o += (size_t)snprintf(dst + o, len - o, "%d", idx);
			src += 2;
		} else
			dst[o++] = *src++;
	}
	dst[o] = '\0';
}

/* Pack "k=v" arguments as a params map, substituting idx for "%d". */
static void
pack_kv_args(msgpack_packer *pk, int argc, char **argv, int idx)
{
	static char val[65536];
	char	*eq, *end;
	long	 n;
	int	 i;

	msgpack_pack_map(pk, (size_t)argc);
	for (i = 0; i < argc; i++) {
		if ((eq = strchr(argv[i], '=')) == NULL)
			eq = argv[i] + strlen(argv[i]);
		octo_proto_pack_strn(pk, argv[i], (size_t)(eq - argv[i]));
		subst_index(val, sizeof(val), *eq != '\0' ? eq + 1 : "", idx);
		n = strtol(val, &end, 10);
		if (*val != '\0' && *end == '\0')
			msgpack_pack_int64(pk, n);
		else if (strcmp(val, "true") == 0)
			msgpack_pack_true(pk);
		else
			octo_proto_pack_str(pk, val);
	}
}

/* Print one reply as "ok KEYS" or "error CODE". */
static void
print_reply(const struct octo_msg *m)
{
	const char	*s;
	size_t		 len;
	uint32_t	 i;

	if (m->error->type == MSGPACK_OBJECT_MAP &&
	    octo_proto_get_str(m->error, "code", &s, &len) == OCTO_OK) {
		printf("error %.*s\n", (int)len, s);
		return;
	}
	printf("ok");
	if (m->result->type == MSGPACK_OBJECT_MAP)
		for (i = 0; i < m->result->via.map.size; i++) {
			const msgpack_object *k = &m->result->via.map.ptr[i].key;

			if (k->type == MSGPACK_OBJECT_STR)
				printf("%s%.*s", i == 0 ? " " : ",", (int)k->via.str.size,
				    k->via.str.ptr);
		}
	printf("\n");
	if (getenv("DUMP") != NULL && strcmp(getenv("DUMP"), "1") == 0) {
		msgpack_object_print(stdout, *m->result);
		printf("\n");
	}
}

/* n calls of method on one connection, one line of output each. */
static int
cmd_multi(int n, const char *method, int argc, char **argv)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	msgpack_zone	 z;
	struct octo_msg	 m;
	static char	 buf[65536];
	size_t		 have = 0;
	const char	*hold = getenv("HOLD");
	int		 fd, i, r = 0;
	char		 c;

	if ((fd = dial()) == -1)
		return -1;
	msgpack_zone_init(&z, 4096);
	for (i = 0; i < n && r == 0; i++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		octo_proto_pack_request(&pk, (uint32_t)i, method);
		pack_kv_args(&pk, argc, argv, i);
		/* A refused client is told why before its request is read: read anyway. */
		(void)unixsock_send_all(fd, sb.data, sb.size);
		if (read_msg(fd, 10000, &z, &m, buf, sizeof(buf), &have) != 0 ||
		    m.type != OCTO_MSG_RESPONSE) {
			printf("closed\n");
			r = -1;
		} else
			print_reply(&m);
		fflush(stdout);
		msgpack_sbuffer_destroy(&sb);
		msgpack_zone_clear(&z);
	}
	msgpack_zone_destroy(&z);
	if (hold != NULL && strcmp(hold, "1") == 0)
		while (read(0, &c, 1) > 0)
			;
	close(fd);
	return r;
}

/* Half a message; print how long until the daemon closes the connection. */
static int
cmd_partial(void)
{
	msgpack_sbuffer sb;
	struct pollfd pfd;
	long t0;
	char c;
	int fd;

	msgpack_sbuffer_init(&sb);
	pack_ping(&sb, 1);
	if ((fd = dial()) == -1)
		return -1;
	(void)unixsock_send_all(fd, sb.data, sb.size / 2);
	msgpack_sbuffer_destroy(&sb);
	t0 = now_ms();
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) <= 0 || read(fd, &c, 1) != 0) {
		close(fd);
		return -1;
	}
	printf("%ld\n", now_ms() - t0);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	int r = -1;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 3) {
		fprintf(stderr, "usage: badclient MODE SOCKET [ARG]\n");
		return 2;
	}
	sock_path = argv[2];
	if (strcmp(argv[1], "wait") == 0 && argc >= 4) {
		long deadline = now_ms() + atol(argv[3]);
		pid_t pid = argc > 4 ? (pid_t)atoi(argv[4]) : 0;

		while (now_ms() < deadline) {
			if (pid > 0 && kill(pid, 0) == -1 && errno == ESRCH) {
				fprintf(stderr, "process %d exited before it was ready\n", (int)pid);
				return 1;
			}
			if (ping_once(1000) == 0)
				return 0;
			poll(NULL, 0, 10);
		}
		fprintf(stderr, "%s: no answer within %s ms\n", sock_path, argv[3]);
		return 1;
	} else if (strcmp(argv[1], "ping") == 0)
		r = ping_once(5000);
	else if (strcmp(argv[1], "random") == 0)
		r = cmd_random(argc > 3 ? (unsigned)atoi(argv[3]) : 1);
	else if (strcmp(argv[1], "big") == 0)
		r = cmd_big();
	else if (strcmp(argv[1], "bomb") == 0)
		r = send_expect("\x94\x00\x01\xa4ping\xdd\xff\xff\xff\xff", 13,
		    "message_too_large");
	else if (strcmp(argv[1], "deep") == 0)
		r = cmd_deep();
	else if (strcmp(argv[1], "half") == 0)
		r = cmd_half();
	else if (strcmp(argv[1], "churn") == 0)
		r = cmd_churn(argc > 3 ? atoi(argv[3]) : 1000);
	else if (strcmp(argv[1], "noread") == 0)
		r = cmd_noread(argc > 3 ? atoi(argv[3]) : 100000);
	else if (strcmp(argv[1], "pipeline") == 0)
		r = cmd_pipeline(argc > 3 ? atoi(argv[3]) : 1000);
	else if (strcmp(argv[1], "multi") == 0 && argc >= 5)
		r = cmd_multi(atoi(argv[3]), argv[4], argc - 5, argv + 5);
	else if (strcmp(argv[1], "partial") == 0)
		r = cmd_partial();
	else {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
	if (r != 0)
		fprintf(stderr, "badclient %s: FAILED\n", argv[1]);
	return r == 0 ? 0 : 1;
}
