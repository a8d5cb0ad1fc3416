/* codec.c - decoding and encoding of octostored msgpack-RPC messages. */
#include <string.h>

#include "octo_proto.h"

static const char *const method_names[OCTO_OP__MAX] = {
	[OCTO_OP_HELLO] = "hello",
	[OCTO_OP_PING] = "ping",
	[OCTO_OP_DAEMON_STATUS] = "daemon_status",
	[OCTO_OP_HEALTH] = "health",
	[OCTO_OP_ACQUIRE] = "acquire",
	[OCTO_OP_RELEASE] = "release",
	[OCTO_OP_RENEW] = "renew",
	[OCTO_OP_STATUS] = "status",
	[OCTO_OP_LIST] = "list",
	[OCTO_OP_ROTATE_TOKEN] = "rotate_token",
};

/* Name of a method, or NULL. */
const char *
octo_proto_method_name(int op)
{
	if (op < 0 || op >= OCTO_OP__MAX)
		return NULL;
	return method_names[op];
}

/* Method number for a wire name, or -1. */
int
octo_proto_method_lookup(const char *name, size_t len)
{
	int op;

	for (op = 0; op < OCTO_OP__MAX; op++) {
		if (strlen(method_names[op]) == len &&
		    memcmp(method_names[op], name, len) == 0)
			return op;
	}
	return -1;
}

/* A msgid is a non-negative integer that fits 32 bits. */
static int
read_msgid(const msgpack_object *o, uint32_t *id)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX)
		return -1;
	*id = (uint32_t)o->via.u64;
	return 0;
}

/* Request and notification params: [] or [map] (nil inside counts as no params). */
static int
read_params(const msgpack_object *o, const msgpack_object **params)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 1)
		return OCTO_ERR_PROTOCOL;
	*params = NULL;
	if (o->via.array.size == 0 || o->via.array.ptr[0].type == MSGPACK_OBJECT_NIL)
		return OCTO_OK;
	if (o->via.array.ptr[0].type != MSGPACK_OBJECT_MAP)
		return OCTO_ERR_PROTOCOL;
	*params = &o->via.array.ptr[0];
	return OCTO_OK;
}

/* Decode one complete, scanned message into m. */
int
octo_proto_decode(const void *buf, size_t len, msgpack_zone *zone, struct octo_msg *m)
{
	msgpack_object	 obj;
	const msgpack_object *a;
	size_t		 off = 0;
	uint32_t	 n;

	memset(m, 0, sizeof(*m));
	if (msgpack_unpack(buf, len, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS ||
	    off != len)
		return OCTO_ERR_PROTOCOL;
	if (obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size < 1)
		return OCTO_ERR_PROTOCOL;
	a = obj.via.array.ptr;
	n = obj.via.array.size;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 > OCTO_MSG_NOTIFY)
		return OCTO_ERR_PROTOCOL;
	m->type = (int)a[0].via.u64;
	/* Read the msgid before judging the rest, so an error reply can carry it. */
	if (m->type != OCTO_MSG_NOTIFY && n >= 2 && read_msgid(&a[1], &m->msgid) == 0)
		m->has_msgid = 1;
	if (n < 3)
		return OCTO_ERR_PROTOCOL;

	switch (m->type) {
	case OCTO_MSG_REQUEST:
		if (!m->has_msgid)
			return OCTO_ERR_PROTOCOL;
		if (n != 4 || a[2].type != MSGPACK_OBJECT_STR ||
		    a[2].via.str.size == 0 || a[2].via.str.size > OCTO_MAX_METHOD_LEN)
			return OCTO_ERR_PROTOCOL;
		m->method = a[2].via.str.ptr;
		m->method_len = a[2].via.str.size;
		return read_params(&a[3], &m->params);
	case OCTO_MSG_RESPONSE:
		if (n != 4 || !m->has_msgid)
			return OCTO_ERR_PROTOCOL;
		if (a[2].type != MSGPACK_OBJECT_NIL && a[2].type != MSGPACK_OBJECT_MAP)
			return OCTO_ERR_PROTOCOL;
		m->error = &a[2];
		m->result = &a[3];
		return OCTO_OK;
	default:
		if (n != 3 || a[1].type != MSGPACK_OBJECT_STR ||
		    a[1].via.str.size == 0 || a[1].via.str.size > OCTO_MAX_METHOD_LEN)
			return OCTO_ERR_PROTOCOL;
		m->method = a[1].via.str.ptr;
		m->method_len = a[1].via.str.size;
		return read_params(&a[2], &m->params);
	}
}

/* Pack a NUL-terminated string. */
void
octo_proto_pack_str(msgpack_packer *pk, const char *s)
{
	octo_proto_pack_strn(pk, s, strlen(s));
}

/* Pack a string of len bytes. */
void
octo_proto_pack_strn(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

/* [0, msgid, method, [ ...caller packs one map... ]] */
void
octo_proto_pack_request(msgpack_packer *pk, uint32_t msgid, const char *method)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, OCTO_MSG_REQUEST);
	msgpack_pack_uint32(pk, msgid);
	octo_proto_pack_str(pk, method);
	msgpack_pack_array(pk, 1);
}

/* [1, msgid, nil, ...caller packs the result...] */
void
octo_proto_pack_result(msgpack_packer *pk, uint32_t msgid)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, OCTO_MSG_RESPONSE);
	msgpack_pack_uint32(pk, msgid);
	msgpack_pack_nil(pk);
}

/* [1, msgid, {code, message, ...nextra pairs from the caller...}, nil] minus the nil:
 * the caller packs its pairs and then msgpack_pack_nil() for the result. */
void
octo_proto_pack_error_begin(msgpack_packer *pk, uint32_t msgid, int err,
    const char *message, unsigned nextra)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, OCTO_MSG_RESPONSE);
	msgpack_pack_uint32(pk, msgid);
	msgpack_pack_map(pk, 2 + nextra);
	octo_proto_pack_str(pk, "code");
	octo_proto_pack_str(pk, octo_err_name(err));
	octo_proto_pack_str(pk, "message");
	octo_proto_pack_str(pk, message != NULL ? message : octo_strerror(err));
}

/* A complete error response. */
void
octo_proto_pack_error(msgpack_packer *pk, uint32_t msgid, int err, const char *message)
{
	octo_proto_pack_error_begin(pk, msgid, err, message, 0);
	msgpack_pack_nil(pk);
}

/* [2, method, [ ...caller packs one map... ]] */
void
octo_proto_pack_notify(msgpack_packer *pk, const char *method)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint8(pk, OCTO_MSG_NOTIFY);
	octo_proto_pack_str(pk, method);
	msgpack_pack_array(pk, 1);
}

/* Look up key in a map; OCTO_ERR_AGAIN when absent. A nil value counts as absent. */
int
octo_proto_get(const msgpack_object *map, const char *key, const msgpack_object **out)
{
	size_t		klen = strlen(key);
	uint32_t	i;

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return OCTO_ERR_AGAIN;
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0) {
			if (kv->val.type == MSGPACK_OBJECT_NIL)
				return OCTO_ERR_AGAIN;
			*out = &kv->val;
			return OCTO_OK;
		}
	}
	return OCTO_ERR_AGAIN;
}

/* String parameter. */
int
octo_proto_get_str(const msgpack_object *map, const char *key, const char **s,
    size_t *len)
{
	const msgpack_object *o;
	int r;

	if ((r = octo_proto_get(map, key, &o)) != OCTO_OK)
		return r;
	if (o->type != MSGPACK_OBJECT_STR)
		return OCTO_ERR_INVALID_ARGUMENT;
	*s = o->via.str.ptr;
	*len = o->via.str.size;
	return OCTO_OK;
}

/* Unsigned integer parameter within [min, max]. */
int
octo_proto_get_uint(const msgpack_object *map, const char *key, uint64_t min,
    uint64_t max, uint64_t *out)
{
	const msgpack_object *o;
	int r;

	if ((r = octo_proto_get(map, key, &o)) != OCTO_OK)
		return r;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 < min ||
	    o->via.u64 > max)
		return OCTO_ERR_INVALID_ARGUMENT;
	*out = o->via.u64;
	return OCTO_OK;
}

/* Signed integer parameter within [min, max]. */
int
octo_proto_get_int(const msgpack_object *map, const char *key, int64_t min,
    int64_t max, int64_t *out)
{
	const msgpack_object *o;
	int64_t v;
	int r;

	if ((r = octo_proto_get(map, key, &o)) != OCTO_OK)
		return r;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return OCTO_ERR_INVALID_ARGUMENT;
		v = (int64_t)o->via.u64;
	} else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		v = o->via.i64;
	else
		return OCTO_ERR_INVALID_ARGUMENT;
	if (v < min || v > max)
		return OCTO_ERR_INVALID_ARGUMENT;
	*out = v;
	return OCTO_OK;
}

/* Boolean parameter. */
int
octo_proto_get_bool(const msgpack_object *map, const char *key, int *out)
{
	const msgpack_object *o;
	int r;

	if ((r = octo_proto_get(map, key, &o)) != OCTO_OK)
		return r;
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return OCTO_ERR_INVALID_ARGUMENT;
	*out = o->via.boolean;
	return OCTO_OK;
}

/* No C0, DEL or UTF-8 encoded C1 control character in s; see octo_proto.h. */
int
octo_proto_text_ok(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i;

	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return 0;
	}
	return 1;
}

/* Copy a counted string into a C string buffer. */
int
octo_proto_strcpy(char *dst, size_t dstsz, const char *s, size_t len)
{
	if (len >= dstsz)
		return OCTO_ERR_TOO_LARGE;
	if (memchr(s, '\0', len) != NULL)
		return OCTO_ERR_INVALID_ARGUMENT;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return OCTO_OK;
}
