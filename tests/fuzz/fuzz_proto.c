/* fuzz_proto.c - libFuzzer target: frame, decode and answer a byte stream as the daemon does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "octo_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Parameter names of every method in PROTOCOL.md, plus error-map fields. */
static const char *const param_names[] = {
	"name", "ttl", "lease_id", "fencing_token", "expires_at", "metadata",
	"payload", "version", "client", "prefix", "lock_delay",
	"code", "message", "param", "retry_after_ms", "request_id",
};

/* Read every known parameter with every getter; results must stay in range. */
static void
poke_params(const msgpack_object *map)
{
	const msgpack_object	*o;
	const char		*s;
	char			 buf[OCTO_MAX_METHOD_LEN + 1];
	size_t			 i, len;
	uint64_t		 u;
	int64_t			 v;
	int			 b, r;

	for (i = 0; i < sizeof(param_names) / sizeof(param_names[0]); i++) {
		const char *k = param_names[i];

		if (octo_proto_get(map, k, &o) == OCTO_OK &&
		    o->type == MSGPACK_OBJECT_NIL)
			abort();
		if (octo_proto_get_str(map, k, &s, &len) == OCTO_OK) {
			r = octo_proto_strcpy(buf, sizeof(buf), s, len);
			if (r == OCTO_OK && strlen(buf) != len)
				abort();
			if (r != OCTO_OK && r != OCTO_ERR_TOO_LARGE &&
			    r != OCTO_ERR_INVALID_ARGUMENT)
				abort();
			if (strcmp(k, "code") == 0)
				(void)octo_err_from_name(s, len);
		}
		if (octo_proto_get_uint(map, k, 1, 3600, &u) == OCTO_OK &&
		    (u < 1 || u > 3600))
			abort();
		if (octo_proto_get_int(map, k, -30, 30, &v) == OCTO_OK &&
		    (v < -30 || v > 30))
			abort();
		if (octo_proto_get_bool(map, k, &b) == OCTO_OK && b != 0 && b != 1)
			abort();
	}
}

/*
 * Decode one frame, touch what it holds and pack the reply the daemon would send.
 * Returns the decode result: the daemon closes the connection after a malformed one.
 */
static int
one_frame(const uint8_t *p, size_t n, msgpack_zone *zone, msgpack_sbuffer *sb)
{
	struct octo_proto_limits lim;
	struct octo_msg	 m, back;
	msgpack_packer	 pk;
	msgpack_object	 obj;
	size_t		 off = 0, n2;
	int		 r, op, err;

	/*
	 * A scanned frame is one whole msgpack object: msgpack-c must agree on its
	 * length, and every proper prefix must still be incomplete.
	 */
	if (msgpack_unpack((const char *)p, n, &off, zone, &obj) !=
	    MSGPACK_UNPACK_SUCCESS || off != n)
		abort();
	octo_proto_limits_default(&lim);
	if (octo_proto_scan(p, n - 1, &lim, &n2) != OCTO_ERR_AGAIN)
		abort();
	msgpack_zone_clear(zone);

	r = octo_proto_decode(p, n, zone, &m);
	err = r;
	if (r == OCTO_OK) {
		switch (m.type) {
		case OCTO_MSG_REQUEST:
		case OCTO_MSG_NOTIFY:
			if (m.method == NULL || m.method_len == 0 ||
			    m.method_len > OCTO_MAX_METHOD_LEN)
				abort();
			if (m.params != NULL && m.params->type != MSGPACK_OBJECT_MAP)
				abort();
			op = octo_proto_method_lookup(m.method, m.method_len);
			if (op >= 0 && octo_proto_method_name(op) == NULL)
				abort();
			poke_params(m.params);
			err = op >= 0 ? OCTO_ERR_INVALID_ARGUMENT : OCTO_ERR_UNKNOWN_METHOD;
			break;
		case OCTO_MSG_RESPONSE:
			if (!m.has_msgid || m.error == NULL || m.result == NULL)
				abort();
			poke_params(m.error);
			poke_params(m.result);
			err = OCTO_ERR_PROTOCOL;
			break;
		default:
			abort();
		}
	} else if (r != OCTO_ERR_PROTOCOL)
		abort();

	/* The error reply must itself be a valid response carrying the msgid. */
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	octo_proto_pack_error(&pk, m.has_msgid ? m.msgid : 0, err, NULL);
	if (octo_proto_scan(sb->data, sb->size, &lim, &n2) != OCTO_OK || n2 != sb->size)
		abort();
	msgpack_zone_clear(zone);
	if (octo_proto_decode(sb->data, sb->size, zone, &back) != OCTO_OK ||
	    back.type != OCTO_MSG_RESPONSE ||
	    back.msgid != (m.has_msgid ? m.msgid : 0))
		abort();
	msgpack_zone_clear(zone);
	return r;
}

/* Consume frames from the input as the daemon's read loop does, until one fails. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct octo_proto_limits lim;
	msgpack_zone	 zone;
	msgpack_sbuffer	 sb;
	size_t		 off = 0, n;
	int		 r = OCTO_OK;

	octo_proto_limits_default(&lim);
	if (!msgpack_zone_init(&zone, 2048))
		return 0;
	msgpack_sbuffer_init(&sb);
	while (off < size) {
		r = octo_proto_scan(data + off, size - off, &lim, &n);
		if (r != OCTO_OK)
			break;
		if (n == 0 || n > size - off || n > lim.max_msg)
			abort();
		off += n;
		if ((r = one_frame(data + off - n, n, &zone, &sb)) != OCTO_OK)
			break;
	}
	if (r != OCTO_OK && r != OCTO_ERR_AGAIN && r != OCTO_ERR_TOO_LARGE &&
	    r != OCTO_ERR_PROTOCOL)
		abort();
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_destroy(&zone);
	return 0;
}
