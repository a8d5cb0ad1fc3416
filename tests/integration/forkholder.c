/*
 * forkholder.c - a lease whose connection outlives the process that opened it, for
 * peer.sh (issue 4).
 *
 *   forkholder hold SOCK NAME    acquire NAME, print "acquired PID", then read stdin: on
 *                                a line "fork" fork; the parent exits at once, and the
 *                                child, keeping the connection, prints "ready CHILDPID"
 *                                once the parent is gone and waits for EOF on stdin (or
 *                                SIGTERM); EOF before "fork" just exits
 *   forkholder probe SOCK NAME   status, list and acquire of NAME on a new connection;
 *                                prints one line: status=S local=STATE pid=P
 *                                pid_stale=B list_pid=P list_pid_stale=B held=S
 *                                holder_pid=P holder_pid_stale=B holder_id=ID
 *                                (B is true, false or absent; -1 for an absent number)
 *
 * Exit status 0, or 1 on any failure (with a message on stderr).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "octo_proto.h"
#include "octostore.h"
#include "unixsock.h"

#define PROBE_BUF	65536
#define PROBE_TIMEOUT	10000

/* A raw msgpack-RPC connection, enough for two calls. */
struct probe {
	int		fd;
	char		buf[PROBE_BUF];
	size_t		have;
	msgpack_zone	z;
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
};

/* Print a failure and exit 1. */
static void __attribute__((noreturn))
die(const char *what, const char *why)
{
	fprintf(stderr, "forkholder: %s: %s\n", what, why);
	exit(1);
}

/* Read a line from stdin into buf; 0, or -1 at EOF. */
static int
read_line(char *buf, size_t size)
{
	size_t	n = 0;
	ssize_t	r;
	char	c;

	for (;;) {
		r = read(STDIN_FILENO, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

/* hold: acquire, then fork on request and leave the connection to the child. */
static int
hold(const char *sock, const char *name)
{
	struct octo_acquire_result	 res;
	struct octo_client		*c;
	char				 line[64], byte;
	int				 r, gone[2];
	pid_t				 pid;

	if ((r = octo_connect(sock, PROBE_TIMEOUT, &c)) != OCTO_OK)
		die("connect", octo_strerror(r));
	if ((r = octo_acquire(c, name, 30, NULL, -1, &res)) != OCTO_OK)
		die("acquire", octo_strerror(r));
	printf("acquired %d\n", (int)getpid());
	fflush(stdout);
	do {
		if (read_line(line, sizeof(line)) == -1)
			goto out;
	} while (strcmp(line, "fork") != 0);
	/* The child learns the parent has exited from EOF on this pipe. */
	if (pipe(gone) == -1)
		die("pipe", strerror(errno));
	if ((pid = fork()) == -1)
		die("fork", strerror(errno));
	if (pid != 0)
		_exit(0);
	close(gone[1]);
	while (read(gone[0], &byte, 1) == -1 && errno == EINTR)
		;
	close(gone[0]);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (read_line(line, sizeof(line)) == 0)
		;
out:
	/* Only the last process with the connection closes it (the parent never does). */
	octo_close(c);
	return 0;
}

/* Connect a raw client. */
static void
probe_open(struct probe *p, const char *sock)
{
	if ((p->fd = unixsock_connect(sock, 0)) == -1)
		die("connect", strerror(errno));
	p->have = 0;
	msgpack_zone_init(&p->z, 4096);
	msgpack_sbuffer_init(&p->sb);
	msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

/* Call method with {key: value}; the result map (valid until the next call). */
static const msgpack_object *
probe_call(struct probe *p, uint32_t msgid, const char *method, const char *key,
    const char *value)
{
	struct octo_proto_limits	 lim;
	struct pollfd			 pfd = { .fd = p->fd, .events = POLLIN };
	struct octo_msg			 m;
	size_t				 len;
	ssize_t				 n;
	char				*copy;

	msgpack_sbuffer_clear(&p->sb);
	octo_proto_pack_request(&p->pk, msgid, method);
	msgpack_pack_map(&p->pk, 1);
	octo_proto_pack_str(&p->pk, key);
	octo_proto_pack_str(&p->pk, value);
	if (unixsock_send_all(p->fd, p->sb.data, p->sb.size) == -1)
		die("send", strerror(errno));
	octo_proto_limits_default(&lim);
	while (p->have == 0 || octo_proto_scan(p->buf, p->have, &lim, &len) != OCTO_OK) {
		if (poll(&pfd, 1, PROBE_TIMEOUT) != 1)
			die(method, "no reply");
		if ((n = read(p->fd, p->buf + p->have, sizeof(p->buf) - p->have)) <= 0)
			die(method, n == 0 ? "eof" : strerror(errno));
		p->have += (size_t)n;
	}
	msgpack_zone_clear(&p->z);
	if ((copy = msgpack_zone_malloc(&p->z, len)) == NULL)
		die(method, "out of memory");
	memcpy(copy, p->buf, len);
	memmove(p->buf, p->buf + len, p->have - len);
	p->have -= len;
	if (octo_proto_decode(copy, len, &p->z, &m) != OCTO_OK ||
	    m.type != OCTO_MSG_RESPONSE || m.msgid != msgid)
		die(method, "unexpected message");
	if (m.result == NULL || m.result->type != MSGPACK_OBJECT_MAP)
		die(method, "error reply");
	return m.result;
}

/* Print key=value for string field key of map ("-" when absent). */
static void
put_str(const char *label, const msgpack_object *map, const char *key)
{
	const char	*s;
	size_t		 len;

	if (map != NULL && octo_proto_get_str(map, key, &s, &len) == OCTO_OK)
		printf(" %s=%.*s", label, (int)len, s);
	else
		printf(" %s=-", label);
}

/* Print key=value for integer field key of map (-1 when absent). */
static void
put_int(const char *label, const msgpack_object *map, const char *key)
{
	int64_t v = -1;

	if (map != NULL)
		(void)octo_proto_get_int(map, key, INT64_MIN, INT64_MAX, &v);
	printf(" %s=%lld", label, (long long)v);
}

/* Print key=value for boolean field key of map (true, false or absent). */
static void
put_bool(const char *label, const msgpack_object *map, const char *key)
{
	int v;

	if (map != NULL && octo_proto_get_bool(map, key, &v) == OCTO_OK)
		printf(" %s=%s", label, v ? "true" : "false");
	else
		printf(" %s=absent", label);
}

/* probe: what status and a competing acquire say about NAME's holder. */
static int
probe(const char *sock, const char *name)
{
	struct probe		 p;
	const msgpack_object	*res, *loc, *locks, *e;
	const char		*s;
	size_t			 len;
	uint32_t		 i;

	probe_open(&p, sock);
	res = probe_call(&p, 1, "status", "name", name);
	if (octo_proto_get(res, "local", &loc) != OCTO_OK ||
	    loc->type != MSGPACK_OBJECT_MAP)
		loc = NULL;
	put_str("status", res, "status");
	put_str("local", loc, "state");
	put_int("pid", loc, "pid");
	put_bool("pid_stale", loc, "pid_stale");
	/* list: the entry for name, with its own local view. */
	res = probe_call(&p, 2, "list", "prefix", name);
	loc = NULL;
	if (octo_proto_get(res, "locks", &locks) == OCTO_OK &&
	    locks->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < locks->via.array.size; i++) {
			e = &locks->via.array.ptr[i];
			if (e->type == MSGPACK_OBJECT_MAP &&
			    octo_proto_get_str(e, "name", &s, &len) == OCTO_OK &&
			    len == strlen(name) && memcmp(s, name, len) == 0 &&
			    octo_proto_get(e, "local", &loc) == OCTO_OK &&
			    loc->type != MSGPACK_OBJECT_MAP)
				loc = NULL;
		}
	put_int("list_pid", loc, "pid");
	put_bool("list_pid_stale", loc, "pid_stale");
	res = probe_call(&p, 3, "acquire", "name", name);
	put_str("held", res, "status");
	put_int("holder_pid", res, "holder_pid");
	put_bool("holder_pid_stale", res, "holder_pid_stale");
	put_str("holder_id", res, "holder_id");
	putchar('\n');
	close(p.fd);
	msgpack_zone_destroy(&p.z);
	msgpack_sbuffer_destroy(&p.sb);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "hold") == 0)
		return hold(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "probe") == 0)
		return probe(argv[2], argv[3]);
	fprintf(stderr, "usage: forkholder hold|probe SOCK NAME\n");
	return 2;
}
