/* octo_proto.h - the octostored wire protocol: msgpack-RPC over a Unix stream socket. */
#ifndef OCTO_PROTO_H
#define OCTO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "octostore_err.h"

/* Protocol version carried by "hello"; bumped on incompatible change. */
#define OCTO_PROTO_VERSION	1

/* Default Unix socket path and the environment variable that overrides it. */
#define OCTO_DEFAULT_SOCKET	"/run/octostored/octostored.sock"
#define OCTO_SOCKET_ENV		"OCTOSTORED_SOCKET"

/* msgpack-RPC message types (first element of every message). */
#define OCTO_MSG_REQUEST	0
#define OCTO_MSG_RESPONSE	1
#define OCTO_MSG_NOTIFY		2

/*
 * Methods.  Numbers are internal (the wire carries names) but stable: append only,
 * a retired method keeps its number marked unused.
 */
enum octo_method {
	OCTO_OP_HELLO = 0,
	OCTO_OP_PING,
	OCTO_OP_DAEMON_STATUS,
	OCTO_OP_HEALTH,
	OCTO_OP_ACQUIRE,
	OCTO_OP_RELEASE,
	OCTO_OP_RENEW,
	OCTO_OP_STATUS,
	OCTO_OP_LIST,
	OCTO_OP_ROTATE_TOKEN,
	OCTO_OP__MAX
};

/* Notification names sent by the daemon. */
#define OCTO_NOTIFY_LEASE_LOST	"lease_lost"

/* Frame limits (PROTOCOL.md "Limits"). */
#define OCTO_MAX_MSG_DEFAULT	(64 * 1024)	/* bytes per message, configurable */
#define OCTO_MAX_MSG_CEILING	(16 * 1024 * 1024)
#define OCTO_MAX_DEPTH		16		/* container nesting */
#define OCTO_MAX_ELEMS		4096		/* objects in one message */
#define OCTO_MAX_METHOD_LEN	64

struct octo_proto_limits {
	size_t		max_msg;	/* bytes */
	unsigned	max_depth;
	unsigned	max_elems;
};

/* A decoded message; pointers refer into the zone/buffer it was decoded from. */
struct octo_msg {
	int		 type;		/* OCTO_MSG_* */
	int		 has_msgid;	/* a msgid could be read */
	uint32_t	 msgid;
	const char	*method;	/* request, notification; not NUL-terminated */
	size_t		 method_len;
	const msgpack_object *params;	/* map or NULL (request, notification) */
	const msgpack_object *error;	/* response: nil or map */
	const msgpack_object *result;	/* response: nil or any */
};

/* Name of a method, or NULL. */
const char *octo_proto_method_name(int op);

/* Method number for a wire name, or -1. */
int octo_proto_method_lookup(const char *name, size_t len);

/* Fill default limits. */
void octo_proto_limits_default(struct octo_proto_limits *lim);

/*
 * Find the end of the first msgpack object in buf without decoding it, enforcing lim.
 * Returns OCTO_OK and sets *msglen; OCTO_ERR_AGAIN when more bytes are needed (and the
 * object may still fit the limits); OCTO_ERR_TOO_LARGE when it cannot fit max_msg;
 * OCTO_ERR_PROTOCOL for an invalid byte, too deep nesting or too many elements.
 * msgpack-c's unpacker has no limits and allocates declared container sizes up
 * front, so every buffer is scanned before it reaches msgpack_unpack().
 */
int octo_proto_scan(const void *buf, size_t len, const struct octo_proto_limits *lim,
    size_t *msglen);

/*
 * Decode one complete, scanned message (buf, len) into m, allocating in zone.
 * On OCTO_ERR_PROTOCOL, m->has_msgid tells whether a request id was read, so the
 * caller can address its error reply.
 */
int octo_proto_decode(const void *buf, size_t len, msgpack_zone *zone,
    struct octo_msg *m);

/* Start packing a request; the caller then packs exactly one map (the params). */
void octo_proto_pack_request(msgpack_packer *pk, uint32_t msgid, const char *method);

/* Start packing a success response; the caller then packs exactly one result. */
void octo_proto_pack_result(msgpack_packer *pk, uint32_t msgid);

/*
 * Pack a complete error response {code, message[, param]}; extra fields beyond these
 * go through octo_proto_pack_error_begin() which leaves the map open for nextra pairs.
 */
void octo_proto_pack_error(msgpack_packer *pk, uint32_t msgid, int err,
    const char *message);
void octo_proto_pack_error_begin(msgpack_packer *pk, uint32_t msgid, int err,
    const char *message, unsigned nextra);

/* Start a notification; the caller then packs exactly one map. */
void octo_proto_pack_notify(msgpack_packer *pk, const char *method);

/* Pack a string key or value; helpers for the pack calls above. */
void octo_proto_pack_str(msgpack_packer *pk, const char *s);
void octo_proto_pack_strn(msgpack_packer *pk, const char *s, size_t len);

/*
 * Parameter access.  Each returns OCTO_OK, or OCTO_ERR_AGAIN when the key is absent
 * (so optional parameters need no second lookup), or OCTO_ERR_INVALID_ARGUMENT when
 * present with the wrong type or out of range.  map may be NULL (no params).
 */
int octo_proto_get(const msgpack_object *map, const char *key,
    const msgpack_object **out);
int octo_proto_get_str(const msgpack_object *map, const char *key,
    const char **s, size_t *len);
int octo_proto_get_uint(const msgpack_object *map, const char *key,
    uint64_t min, uint64_t max, uint64_t *out);
int octo_proto_get_int(const msgpack_object *map, const char *key,
    int64_t min, int64_t max, int64_t *out);
int octo_proto_get_bool(const msgpack_object *map, const char *key, int *out);

/*
 * 1 when s[0..len) holds no control character: none of C0 (0x00-0x1f), DEL (0x7f) or,
 * UTF-8 encoded, C1 (U+0080-U+009F).  Acquire metadata must pass it, with either
 * backend.  It does not check that s is valid UTF-8.
 */
int octo_proto_text_ok(const char *s, size_t len);

/* Copy a msgpack string object into a NUL-terminated buffer; OCTO_ERR_TOO_LARGE if it
 * does not fit, OCTO_ERR_INVALID_ARGUMENT if it holds a NUL byte. */
int octo_proto_strcpy(char *dst, size_t dstsz, const char *s, size_t len);

#endif /* OCTO_PROTO_H */
