/*
 * minictl.c - the cheapest client process for one daemon operation: the floor under
 * octostorectl in bench/upbench's process pairs.  No option parsing, no liboctostore, no
 * JSON, no stdio buffering: one request packed with msgpack-c into a stack buffer, written
 * once, one reply read and checked.  Linked like octostorectl (static, see Makefile.am), so
 * that the two differ only in what the CLI does beyond the exchange.
 *
 * usage: minictl SOCKET acquire NAME TTL HOLD   a detached lease; prints its lease_id
 *        minictl SOCKET release NAME LEASE_ID
 * Exit 0 on success, 1 on an error reply or any failure, 2 on bad usage.
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#define MINICTL_BUF	4096

struct minictl_out {
	char	buf[512];
	size_t	len;
};

/* msgpack write callback into the fixed request buffer. */
static int
minictl_write(void *data, const char *p, size_t len)
{
	struct minictl_out *o = data;

	if (len > sizeof(o->buf) - o->len)
		return -1;
	memcpy(o->buf + o->len, p, len);
	o->len += len;
	return 0;
}

/* Pack a str. */
static void
minictl_str(msgpack_packer *pk, const char *s)
{
	size_t len = strlen(s);

	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

/* Write all of p to fd. */
static int
minictl_send(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Is o a str equal to s? */
static int
minictl_is(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	    memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	struct minictl_out	 out = { .len = 0 };
	msgpack_packer		 pk;
	msgpack_unpacked	 msg;
	msgpack_object		*res;
	msgpack_object_kv	*kv;
	char			 buf[MINICTL_BUF];
	size_t			 len = 0, off = 0;
	ssize_t			 n;
	uint32_t		 i;
	int			 fd, acquire, rc = 1;

	if (argc < 5 || strlen(argv[1]) >= sizeof(sun.sun_path))
		return 2;
	acquire = strcmp(argv[2], "acquire") == 0;
	if ((acquire && argc != 6) || (!acquire && (strcmp(argv[2], "release") != 0 ||
	    argc != 5)))
		return 2;

	msgpack_packer_init(&pk, &out, minictl_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 1);
	minictl_str(&pk, argv[2]);
	msgpack_pack_array(&pk, 1);
	if (acquire) {
		msgpack_pack_map(&pk, 4);
		minictl_str(&pk, "name");
		minictl_str(&pk, argv[3]);
		minictl_str(&pk, "ttl");
		msgpack_pack_unsigned_int(&pk, (unsigned)strtoul(argv[4], NULL, 10));
		minictl_str(&pk, "detach");
		msgpack_pack_true(&pk);
		minictl_str(&pk, "hold");
		msgpack_pack_unsigned_int(&pk, (unsigned)strtoul(argv[5], NULL, 10));
	} else {
		msgpack_pack_map(&pk, 2);
		minictl_str(&pk, "name");
		minictl_str(&pk, argv[3]);
		minictl_str(&pk, "lease_id");
		minictl_str(&pk, argv[4]);
	}
	if (out.len == 0 || out.len == sizeof(out.buf))
		return 2;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    minictl_send(fd, out.buf, out.len) == -1)
		goto out;

	/* Read until one whole reply is there: [1, msgid, error, result]. */
	msgpack_unpacked_init(&msg);
	for (;;) {
		if ((n = read(fd, buf + len, sizeof(buf) - len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto done;
		len += (size_t)n;
		off = 0;
		if (msgpack_unpack_next(&msg, buf, len, &off) == MSGPACK_UNPACK_SUCCESS)
			break;
		if (len == sizeof(buf))
			goto done;
	}
	if (msg.data.type != MSGPACK_OBJECT_ARRAY || msg.data.via.array.size != 4 ||
	    msg.data.via.array.ptr[2].type != MSGPACK_OBJECT_NIL ||
	    msg.data.via.array.ptr[3].type != MSGPACK_OBJECT_MAP)
		goto done;
	if (!acquire) {
		rc = 0;
		goto done;
	}
	res = &msg.data.via.array.ptr[3];
	for (i = 0; i < res->via.map.size; i++) {
		kv = &res->via.map.ptr[i];
		if (minictl_is(&kv->key, "lease_id") && kv->val.type == MSGPACK_OBJECT_STR) {
			if (minictl_send(1, kv->val.via.str.ptr, kv->val.via.str.size) == 0 &&
			    minictl_send(1, "\n", 1) == 0)
				rc = 0;
			break;
		}
	}
done:
	msgpack_unpacked_destroy(&msg);
out:
	close(fd);
	return rc;
}
