/* check_proto.c - unit tests for proto/: framing, decoding, packing, errors (issue 2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "octo_proto.h"

/* A packer writing into a fresh sbuffer, per test. */
static msgpack_sbuffer	 sb;
static msgpack_packer	 pk;
static msgpack_zone	 zone;

/* Fixture: fresh buffer and zone for each test. */
static void
setup(void)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	ck_assert(msgpack_zone_init(&zone, 2048));
}

/* Fixture: release buffer and zone. */
static void
teardown(void)
{
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_destroy(&zone);
}

/* Empty the sbuffer for the next message. */
static void
reset(void)
{
	msgpack_sbuffer_clear(&sb);
	msgpack_zone_clear(&zone);
}

/* Append raw bytes to the stream being built. */
static void
raw(const void *p, size_t n)
{
	msgpack_sbuffer_write(&sb, p, n);
}

/*
 * Scan with default limits from an exact-size heap copy, so that ASan catches
 * any read past len.
 */
static int
scan_lim(const void *buf, size_t len, const struct octo_proto_limits *lim,
    size_t *msglen)
{
	unsigned char	*copy;
	int		 r;

	copy = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	*msglen = (size_t)-1;
	r = octo_proto_scan(copy, len, lim, msglen);
	free(copy);
	return r;
}

/* Same, default limits. */
static int
scan(const void *buf, size_t len, size_t *msglen)
{
	struct octo_proto_limits lim;

	octo_proto_limits_default(&lim);
	return scan_lim(buf, len, &lim, msglen);
}

/* Scan and decode the whole sbuffer as exactly one message. */
static int
scan_decode(struct octo_msg *m)
{
	size_t	n;
	int	r;

	if ((r = scan(sb.data, sb.size, &n)) != OCTO_OK)
		return r;
	ck_assert_uint_eq(n, sb.size);
	return octo_proto_decode(sb.data, sb.size, &zone, m);
}

/* Compare a counted string with a C string. */
static int
streq(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* Pack a string key and a string value. */
static void
kv_str(const char *k, const char *v)
{
	octo_proto_pack_str(&pk, k);
	octo_proto_pack_str(&pk, v);
}

/* Every method name maps back to its number; unknown names and numbers fail. */
START_TEST(test_method_names)
{
	const char	*want[] = { "hello", "ping", "daemon_status", "health", "acquire",
	    "release", "renew", "status", "list", "rotate_token" };
	int		 op;

	ck_assert_int_eq(OCTO_OP__MAX, (int)(sizeof(want) / sizeof(want[0])));
	for (op = 0; op < OCTO_OP__MAX; op++) {
		const char *n = octo_proto_method_name(op);

		ck_assert_ptr_nonnull(n);
		ck_assert_str_eq(n, want[op]);
		ck_assert_int_eq(octo_proto_method_lookup(n, strlen(n)), op);
	}
	ck_assert_ptr_null(octo_proto_method_name(-1));
	ck_assert_ptr_null(octo_proto_method_name(OCTO_OP__MAX));
	ck_assert_int_eq(octo_proto_method_lookup("pin", 3), -1);
	ck_assert_int_eq(octo_proto_method_lookup("pingx", 5), -1);
	ck_assert_int_eq(octo_proto_method_lookup("PING", 4), -1);
	ck_assert_int_eq(octo_proto_method_lookup("", 0), -1);
	/* Counted, not NUL-terminated: a prefix of a longer buffer matches. */
	ck_assert_int_eq(octo_proto_method_lookup("pingpong", 4), OCTO_OP_PING);
}
END_TEST

/* Default limits are the documented ones. */
START_TEST(test_limits_default)
{
	struct octo_proto_limits lim;

	octo_proto_limits_default(&lim);
	ck_assert_uint_eq(lim.max_msg, 65536);
	ck_assert_uint_eq(lim.max_depth, 16);
	ck_assert_uint_eq(lim.max_elems, 4096);
}
END_TEST

/* A request with params survives pack, scan and decode. */
START_TEST(test_request_roundtrip)
{
	struct octo_msg	 m;
	const char	*s;
	size_t		 len;
	uint64_t	 u;

	octo_proto_pack_request(&pk, 42, "acquire");
	msgpack_pack_map(&pk, 3);
	kv_str("name", "jobs/nightly");
	octo_proto_pack_str(&pk, "ttl");
	msgpack_pack_uint32(&pk, 30);
	kv_str("metadata", "host=a");

	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	ck_assert_int_eq(m.type, OCTO_MSG_REQUEST);
	ck_assert_int_eq(m.has_msgid, 1);
	ck_assert_uint_eq(m.msgid, 42);
	ck_assert(streq(m.method, m.method_len, "acquire"));
	ck_assert_int_eq(octo_proto_method_lookup(m.method, m.method_len),
	    OCTO_OP_ACQUIRE);
	ck_assert_ptr_nonnull(m.params);
	ck_assert_int_eq(m.params->type, MSGPACK_OBJECT_MAP);
	ck_assert_int_eq(octo_proto_get_str(m.params, "name", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "jobs/nightly"));
	ck_assert_int_eq(octo_proto_get_uint(m.params, "ttl", 1, 3600, &u), OCTO_OK);
	ck_assert_uint_eq(u, 30);
	ck_assert_int_eq(octo_proto_get_str(m.params, "metadata", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "host=a"));
	ck_assert_ptr_null(m.error);
	ck_assert_ptr_null(m.result);
}
END_TEST

/* The extreme msgids 0 and 2^32-1 round-trip. */
START_TEST(test_request_msgid_bounds)
{
	struct octo_msg	m;
	uint32_t	ids[] = { 0, 1, 127, 128, 65535, 65536, UINT32_MAX };
	size_t		i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		reset();
		octo_proto_pack_request(&pk, ids[i], "ping");
		msgpack_pack_map(&pk, 0);
		ck_assert_int_eq(scan_decode(&m), OCTO_OK);
		ck_assert_int_eq(m.has_msgid, 1);
		ck_assert_uint_eq(m.msgid, ids[i]);
	}
}
END_TEST

/* Every method name travels in a request and is looked up again. */
START_TEST(test_request_every_method)
{
	struct octo_msg	m;
	int		op;

	for (op = 0; op < OCTO_OP__MAX; op++) {
		reset();
		octo_proto_pack_request(&pk, (uint32_t)op, octo_proto_method_name(op));
		msgpack_pack_map(&pk, 0);
		ck_assert_int_eq(scan_decode(&m), OCTO_OK);
		ck_assert_int_eq(octo_proto_method_lookup(m.method, m.method_len), op);
		ck_assert_ptr_nonnull(m.params);
		ck_assert_uint_eq(m.params->via.map.size, 0);
	}
}
END_TEST

/* [] and [nil] both mean "no params"; a generic client's [0,id,"ping",[]] works. */
START_TEST(test_request_no_params)
{
	struct octo_msg		 m;
	const msgpack_object	*o;

	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 3);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 0);
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	ck_assert_ptr_null(m.params);
	ck_assert_int_eq(octo_proto_get(m.params, "payload", &o), OCTO_ERR_AGAIN);

	reset();
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 3);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	ck_assert_ptr_null(m.params);
}
END_TEST

/* A success response keeps error nil and the result as packed. */
START_TEST(test_response_ok_roundtrip)
{
	struct octo_msg	 m;
	const char	*s;
	size_t		 len;

	octo_proto_pack_result(&pk, 7);
	msgpack_pack_map(&pk, 1);
	kv_str("payload", "hello there");
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	ck_assert_int_eq(m.type, OCTO_MSG_RESPONSE);
	ck_assert_int_eq(m.has_msgid, 1);
	ck_assert_uint_eq(m.msgid, 7);
	ck_assert_ptr_nonnull(m.error);
	ck_assert_int_eq(m.error->type, MSGPACK_OBJECT_NIL);
	ck_assert_ptr_nonnull(m.result);
	ck_assert_int_eq(m.result->type, MSGPACK_OBJECT_MAP);
	ck_assert_int_eq(octo_proto_get_str(m.result, "payload", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "hello there"));
	ck_assert_ptr_null(m.method);
	ck_assert_ptr_null(m.params);
}
END_TEST

/* Error responses carry {code, message[, extra]} and a nil result. */
START_TEST(test_response_error_roundtrip)
{
	struct octo_msg	 m;
	const char	*s;
	size_t		 len;

	octo_proto_pack_error(&pk, 9, OCTO_ERR_INVALID_ARGUMENT, "ttl: out of range");
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	ck_assert_int_eq(m.type, OCTO_MSG_RESPONSE);
	ck_assert_uint_eq(m.msgid, 9);
	ck_assert_int_eq(m.error->type, MSGPACK_OBJECT_MAP);
	ck_assert_uint_eq(m.error->via.map.size, 2);
	ck_assert_int_eq(octo_proto_get_str(m.error, "code", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "invalid_argument"));
	ck_assert_int_eq(octo_err_from_name(s, len), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_str(m.error, "message", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "ttl: out of range"));
	ck_assert_int_eq(m.result->type, MSGPACK_OBJECT_NIL);

	/* NULL message: the code's own text. */
	reset();
	octo_proto_pack_error(&pk, 10, OCTO_ERR_UNKNOWN_METHOD, NULL);
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	ck_assert_int_eq(octo_proto_get_str(m.error, "code", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "unknown_method"));
	ck_assert_int_eq(octo_proto_get_str(m.error, "message", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, octo_strerror(OCTO_ERR_UNKNOWN_METHOD)));

	/* Extra pairs, then the caller's nil result. */
	reset();
	octo_proto_pack_error_begin(&pk, 11, OCTO_ERR_INVALID_ARGUMENT, "bad", 2);
	kv_str("param", "ttl");
	octo_proto_pack_str(&pk, "retry_after_ms");
	msgpack_pack_uint32(&pk, 250);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	ck_assert_uint_eq(m.error->via.map.size, 4);
	ck_assert_int_eq(octo_proto_get_str(m.error, "param", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "ttl"));
	ck_assert_int_eq(m.result->type, MSGPACK_OBJECT_NIL);
}
END_TEST

/* A notification has a method and params and no msgid. */
START_TEST(test_notify_roundtrip)
{
	struct octo_msg	 m;
	const char	*s;
	size_t		 len;
	uint64_t	 u;

	octo_proto_pack_notify(&pk, OCTO_NOTIFY_LEASE_LOST);
	msgpack_pack_map(&pk, 3);
	kv_str("name", "db/primary");
	octo_proto_pack_str(&pk, "fencing_token");
	msgpack_pack_uint64(&pk, 1ULL << 40);
	kv_str("reason", "expired");
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	ck_assert_int_eq(m.type, OCTO_MSG_NOTIFY);
	ck_assert_int_eq(m.has_msgid, 0);
	ck_assert(streq(m.method, m.method_len, "lease_lost"));
	ck_assert_int_eq(octo_proto_get_str(m.params, "reason", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "expired"));
	ck_assert_int_eq(octo_proto_get_uint(m.params, "fencing_token", 0, UINT64_MAX,
	    &u), OCTO_OK);
	ck_assert_uint_eq(u, 1ULL << 40);
}
END_TEST

/*
 * Pack a request whose params use every msgpack encoding: all integer widths, floats,
 * fix/8/16/32 strings and bins, fix/16/32 arrays and maps, fixext and ext 8/16/32.
 * The 32-bit length forms are written by hand since msgpack-c packs minimally.
 */
static void
pack_every_type(void)
{
	static const uint8_t str32[] = { 0xdb, 0, 0, 0, 3, 'a', 'b', 'c' };
	static const uint8_t bin32[] = { 0xc6, 0, 0, 0, 2, 0x00, 0xff };
	static const uint8_t arr32[] = { 0xdd, 0, 0, 0, 2, 0xc0, 0xc3 };
	static const uint8_t map32[] = { 0xdf, 0, 0, 0, 1, 0xa1, 'k', 0x01 };
	static const uint8_t ext16[] = { 0xc8, 0, 2, 0x05, 'x', 'y' };
	static const uint8_t ext32[] = { 0xc9, 0, 0, 0, 1, 0x05, 'z' };
	static const uint8_t fixext[] = {
		0xd4, 1, 0xaa,
		0xd5, 1, 1, 2,
		0xd6, 1, 1, 2, 3, 4,
		0xd7, 1, 1, 2, 3, 4, 5, 6, 7, 8,
		0xd8, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};
	char	big[300];
	int	i;

	memset(big, 'q', sizeof(big));
	octo_proto_pack_request(&pk, 123456, "acquire");
	msgpack_pack_map(&pk, 9);

	octo_proto_pack_str(&pk, "ints");
	msgpack_pack_array(&pk, 18);
	msgpack_pack_uint8(&pk, 5);
	msgpack_pack_uint8(&pk, 200);
	msgpack_pack_uint16(&pk, 60000);
	msgpack_pack_uint32(&pk, 70000);
	msgpack_pack_uint64(&pk, 1ULL << 40);
	msgpack_pack_int8(&pk, -5);
	msgpack_pack_int8(&pk, -100);
	msgpack_pack_int16(&pk, -1000);
	msgpack_pack_int32(&pk, -100000);
	msgpack_pack_int64(&pk, -(1LL << 40));
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, 2.25);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_fix_uint16(&pk, 1);		/* non-minimal widths */
	msgpack_pack_fix_int32(&pk, 1);
	msgpack_pack_fix_uint64(&pk, 1);

	kv_str("fixstr", "short");
	octo_proto_pack_str(&pk, "strs");
	msgpack_pack_array(&pk, 3);
	octo_proto_pack_strn(&pk, big, 40);		/* str8 */
	octo_proto_pack_strn(&pk, big, sizeof(big));	/* str16 */
	raw(str32, sizeof(str32));

	octo_proto_pack_str(&pk, "bins");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "abc", 3);		/* bin8 */
	msgpack_pack_bin(&pk, 300);
	msgpack_pack_bin_body(&pk, big, 300);		/* bin16 */
	raw(bin32, sizeof(bin32));

	octo_proto_pack_str(&pk, "arr16");
	msgpack_pack_array(&pk, 20);
	for (i = 0; i < 20; i++)
		msgpack_pack_int(&pk, i);

	octo_proto_pack_str(&pk, "map16");
	msgpack_pack_map(&pk, 17);
	for (i = 0; i < 17; i++) {
		msgpack_pack_int(&pk, i);
		msgpack_pack_int(&pk, -i);
	}

	octo_proto_pack_str(&pk, "arr32");
	raw(arr32, sizeof(arr32));
	octo_proto_pack_str(&pk, "map32");
	raw(map32, sizeof(map32));

	octo_proto_pack_str(&pk, "ext");
	msgpack_pack_array(&pk, 8);
	msgpack_pack_ext(&pk, 3, 7);			/* ext8 */
	msgpack_pack_ext_body(&pk, "abc", 3);
	raw(ext16, sizeof(ext16));
	raw(ext32, sizeof(ext32));
	raw(fixext, sizeof(fixext));
}

/* A valid message cut at every byte boundary needs more bytes, then is whole. */
START_TEST(test_truncated_every_byte)
{
	struct octo_msg	m;
	size_t		i, n, total;
	int		r;

	pack_every_type();
	total = sb.size;
	for (i = 0; i < total; i++) {
		r = scan(sb.data, i, &n);
		if (r != OCTO_ERR_AGAIN)
			ck_abort_msg("prefix %zu of %zu: scan returned %d", i, total, r);
	}
	ck_assert_int_eq(scan(sb.data, total, &n), OCTO_OK);
	ck_assert_uint_eq(n, total);
	ck_assert_int_eq(octo_proto_decode(sb.data, total, &zone, &m), OCTO_OK);
	ck_assert_uint_eq(m.msgid, 123456);
	ck_assert_uint_eq(m.params->via.map.size, 9);

	/* Trailing bytes of the next message do not change the frame. */
	msgpack_pack_array(&pk, 4);
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_OK);
	ck_assert_uint_eq(n, total);

	/* Decoding a truncated message fails cleanly instead of reading on. */
	msgpack_zone_clear(&zone);
	ck_assert_int_eq(octo_proto_decode(sb.data, total - 1, &zone, &m),
	    OCTO_ERR_PROTOCOL);
	/* And a message with trailing bytes is not one message. */
	ck_assert_int_eq(octo_proto_decode(sb.data, total + 1, &zone, &m),
	    OCTO_ERR_PROTOCOL);
}
END_TEST

/* Each small request prefix also needs more bytes, for every method. */
START_TEST(test_truncated_small)
{
	size_t	i, n;
	int	op;

	for (op = 0; op < OCTO_OP__MAX; op++) {
		reset();
		octo_proto_pack_request(&pk, UINT32_MAX, octo_proto_method_name(op));
		msgpack_pack_map(&pk, 1);
		kv_str("name", "a/b");
		for (i = 0; i < sb.size; i++)
			ck_assert_int_eq(scan(sb.data, i, &n), OCTO_ERR_AGAIN);
		ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_OK);
		ck_assert_uint_eq(n, sb.size);
	}
}
END_TEST

/* Back-to-back messages are framed one at a time, as the daemon consumes them. */
START_TEST(test_pipelined)
{
	struct octo_msg	m;
	size_t		sizes[5], off, n, before;
	uint32_t	id;
	int		count;

	for (id = 0; id < 4; id++) {
		before = sb.size;
		octo_proto_pack_request(&pk, 100 + id, "ping");
		msgpack_pack_map(&pk, id);
		for (n = 0; n < id; n++) {
			msgpack_pack_uint64(&pk, n);
			octo_proto_pack_str(&pk, "value");
		}
		sizes[id] = sb.size - before;
	}
	before = sb.size;
	octo_proto_pack_notify(&pk, "lease_lost");
	msgpack_pack_map(&pk, 0);
	sizes[4] = sb.size - before;
	octo_proto_pack_request(&pk, 999, "ping");	/* partial, cut below */

	off = 0;
	for (count = 0; count < 5; count++) {
		ck_assert_int_eq(scan(sb.data + off, sb.size - 2 - off, &n), OCTO_OK);
		ck_assert_uint_eq(n, sizes[count]);
		msgpack_zone_clear(&zone);
		ck_assert_int_eq(octo_proto_decode(sb.data + off, n, &zone, &m), OCTO_OK);
		if (count < 4) {
			ck_assert_int_eq(m.type, OCTO_MSG_REQUEST);
			ck_assert_uint_eq(m.msgid, 100 + (uint32_t)count);
			ck_assert_uint_eq(m.params->via.map.size, (uint32_t)count);
		} else
			ck_assert_int_eq(m.type, OCTO_MSG_NOTIFY);
		off += n;
	}
	ck_assert_int_eq(scan(sb.data + off, sb.size - 2 - off, &n), OCTO_ERR_AGAIN);
}
END_TEST

/* Bytes arriving one at a time into a growing buffer yield each frame exactly once. */
START_TEST(test_pipelined_bytewise)
{
	unsigned char	 in[4096];
	size_t		 have = 0, fed, n;
	uint32_t	 id, next = 0;
	struct octo_msg	 m;
	int		 r;

	for (id = 0; id < 50; id++) {
		octo_proto_pack_request(&pk, id, id % 2 ? "ping" : "daemon_status");
		msgpack_pack_map(&pk, 1);
		kv_str("payload", "x");
	}
	ck_assert_uint_lt(sb.size, sizeof(in));
	for (fed = 0; fed < sb.size; fed++) {
		in[have++] = (unsigned char)sb.data[fed];
		while ((r = scan(in, have, &n)) == OCTO_OK) {
			msgpack_zone_clear(&zone);
			ck_assert_int_eq(octo_proto_decode(in, n, &zone, &m), OCTO_OK);
			ck_assert_uint_eq(m.msgid, next);
			next++;
			memmove(in, in + n, have - n);
			have -= n;
		}
		ck_assert_int_eq(r, OCTO_ERR_AGAIN);
	}
	ck_assert_uint_eq(next, 50);
	ck_assert_uint_eq(have, 0);
}
END_TEST

/* Declared lengths that cannot fit max_msg are refused from the header alone. */
START_TEST(test_oversize_header)
{
	static const uint8_t hdrs[][5] = {
		{ 0xdb, 0xff, 0xff, 0xff, 0xff },	/* str32 */
		{ 0xc6, 0xff, 0xff, 0xff, 0xff },	/* bin32 */
		{ 0xc9, 0xff, 0xff, 0xff, 0xff },	/* ext32 */
		{ 0xdd, 0xff, 0xff, 0xff, 0xff },	/* array32 of 2^32-1 */
		{ 0xdf, 0xff, 0xff, 0xff, 0xff },	/* map32 of 2^32-1 pairs */
		{ 0xdb, 0x00, 0x01, 0x00, 0x00 },	/* str32 of 65536: + 5 > max */
		{ 0xdd, 0x00, 0x01, 0x00, 0x00 },	/* 65536 one-byte children */
	};
	size_t	i, n;

	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		ck_assert_int_eq(scan(hdrs[i], 5, &n), OCTO_ERR_TOO_LARGE);
		/* One byte short of the length field: just wait. */
		ck_assert_int_eq(scan(hdrs[i], 4, &n), OCTO_ERR_AGAIN);
	}
}
END_TEST

/* The same inside a request: refused as soon as the inner header is in. */
START_TEST(test_oversize_nested)
{
	static const uint8_t str16[] = { 0xda, 0xff, 0xf0 };	/* 65520 bytes */
	static const uint8_t arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	size_t	n;

	octo_proto_pack_request(&pk, 5, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	raw(str16, sizeof(str16));
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_TOO_LARGE);
	ck_assert_int_eq(scan(sb.data, sb.size - 1, &n), OCTO_ERR_AGAIN);

	reset();
	octo_proto_pack_request(&pk, 5, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	raw(arr32, sizeof(arr32));
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_TOO_LARGE);

	reset();
	octo_proto_pack_request(&pk, 5, "ping");
	raw(map32, sizeof(map32));
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_TOO_LARGE);
}
END_TEST

/* A message of exactly max_msg bytes passes; one byte more is refused. */
START_TEST(test_oversize_boundary)
{
	struct octo_proto_limits lim;
	char	pad[200];
	size_t	n, fixed, plen;

	octo_proto_limits_default(&lim);
	lim.max_msg = 100;
	memset(pad, 'p', sizeof(pad));

	/* Measure the request without payload bytes (str8 header for 32..255). */
	octo_proto_pack_request(&pk, 1, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	octo_proto_pack_strn(&pk, pad, 40);
	fixed = sb.size - 40;
	plen = lim.max_msg - fixed;

	reset();
	octo_proto_pack_request(&pk, 1, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	octo_proto_pack_strn(&pk, pad, plen);
	ck_assert_uint_eq(sb.size, 100);
	ck_assert_int_eq(scan_lim(sb.data, sb.size, &lim, &n), OCTO_OK);
	ck_assert_uint_eq(n, 100);

	reset();
	octo_proto_pack_request(&pk, 1, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	octo_proto_pack_strn(&pk, pad, plen + 1);
	ck_assert_uint_eq(sb.size, 101);
	/* Refused from the str header, long before the body arrives. */
	ck_assert_int_eq(scan_lim(sb.data, fixed, &lim, &n), OCTO_ERR_TOO_LARGE);
	ck_assert_int_eq(scan_lim(sb.data, sb.size, &lim, &n), OCTO_ERR_TOO_LARGE);
}
END_TEST

/* max_msg reached while elements are still owed: too large, not "wait". */
START_TEST(test_oversize_owed)
{
	static const uint8_t msg[] = { 0x92, 0xa8, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' };
	struct octo_proto_limits lim;
	size_t	n;

	octo_proto_limits_default(&lim);
	lim.max_msg = sizeof(msg);
	ck_assert_int_eq(scan_lim(msg, sizeof(msg) - 1, &lim, &n), OCTO_ERR_AGAIN);
	ck_assert_int_eq(scan_lim(msg, sizeof(msg), &lim, &n), OCTO_ERR_TOO_LARGE);
	lim.max_msg = sizeof(msg) + 1;
	ck_assert_int_eq(scan_lim(msg, sizeof(msg), &lim, &n), OCTO_ERR_AGAIN);
}
END_TEST

/* The configurable ceiling admits a 1 MiB payload when max_msg allows it. */
START_TEST(test_large_limit)
{
	struct octo_proto_limits lim;
	struct octo_msg	 m;
	char		*big;
	size_t		 n, len = 1024 * 1024;
	const char	*s;

	big = malloc(len);
	ck_assert_ptr_nonnull(big);
	memset(big, 'b', len);
	octo_proto_limits_default(&lim);
	lim.max_msg = OCTO_MAX_MSG_CEILING;
	octo_proto_pack_request(&pk, 77, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	octo_proto_pack_strn(&pk, big, len);
	ck_assert_int_eq(scan_lim(sb.data, sb.size, &lim, &n), OCTO_OK);
	ck_assert_uint_eq(n, sb.size);
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_TOO_LARGE);
	ck_assert_int_eq(octo_proto_decode(sb.data, sb.size, &zone, &m), OCTO_OK);
	ck_assert_int_eq(octo_proto_get_str(m.params, "payload", &s, &n), OCTO_OK);
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(s, big, len);
	free(big);
}
END_TEST

/* One malformed case for the decoder: what it returns and whether msgid was read. */
struct bad_case {
	const char	*what;
	void		(*build)(void);
	int		 has_msgid;
	uint32_t	 msgid;
};

/* Builders of malformed messages, one per bad_cases entry below. */
static void
b_msgid_negative(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_int8(&pk, -1);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

static void
b_msgid_too_big(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint64(&pk, (uint64_t)UINT32_MAX + 1);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

static void
b_msgid_string(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	octo_proto_pack_str(&pk, "1");
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

static void
b_msgid_float(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_double(&pk, 1.0);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

/* [0, 5, <method>, params]: the helpers below vary method and params. */
static void
req_head(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 5);
}

static void
b_method_int(void)
{
	req_head();
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

static void
b_method_bin(void)
{
	req_head();
	msgpack_pack_bin(&pk, 4);
	msgpack_pack_bin_body(&pk, "ping", 4);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

static void
b_method_empty(void)
{
	req_head();
	octo_proto_pack_str(&pk, "");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

static void
b_method_long(void)
{
	char m[OCTO_MAX_METHOD_LEN + 1];

	memset(m, 'm', sizeof(m));
	req_head();
	octo_proto_pack_strn(&pk, m, sizeof(m));
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

static void
b_method_nil(void)
{
	req_head();
	msgpack_pack_nil(&pk);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
}

static void
b_params_int(void)
{
	req_head();
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_uint8(&pk, 3);
}

static void
b_params_nil(void)
{
	req_head();
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_nil(&pk);
}

static void
b_params_bare_map(void)
{
	req_head();
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_map(&pk, 0);
}

static void
b_params_array_of_int(void)
{
	req_head();
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint8(&pk, 1);
}

static void
b_params_array_of_str(void)
{
	req_head();
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
}

static void
b_params_two_maps(void)
{
	req_head();
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_map(&pk, 0);
	msgpack_pack_map(&pk, 0);
}

static void
b_req_three(void)
{
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 5);
	octo_proto_pack_str(&pk, "ping");
}

static void
b_req_five(void)
{
	msgpack_pack_array(&pk, 5);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 5);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 0);
	msgpack_pack_nil(&pk);
}

static void
b_two(void)
{
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 5);
}

static void
b_empty_array(void)
{
	msgpack_pack_array(&pk, 0);
}

static void
b_type_3(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 3);
	msgpack_pack_uint8(&pk, 5);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 0);
}

static void
b_type_negative(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_int8(&pk, -1);
	msgpack_pack_uint8(&pk, 5);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 0);
}

static void
b_type_string(void)
{
	msgpack_pack_array(&pk, 4);
	octo_proto_pack_str(&pk, "0");
	msgpack_pack_uint8(&pk, 5);
	octo_proto_pack_str(&pk, "ping");
	msgpack_pack_array(&pk, 0);
}

static void
b_not_array_map(void)
{
	msgpack_pack_map(&pk, 1);
	kv_str("method", "ping");
}

static void
b_not_array_int(void)
{
	msgpack_pack_uint8(&pk, 0);
}

static void
b_not_array_str(void)
{
	octo_proto_pack_str(&pk, "ping");
}

static void
b_resp_error_str(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint8(&pk, 5);
	octo_proto_pack_str(&pk, "oops");
	msgpack_pack_nil(&pk);
}

static void
b_resp_three(void)
{
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_uint8(&pk, 5);
	msgpack_pack_nil(&pk);
}

static void
b_resp_msgid_negative(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_int8(&pk, -5);
	msgpack_pack_nil(&pk);
	msgpack_pack_nil(&pk);
}

static void
b_notify_method_int(void)
{
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 2);
	msgpack_pack_uint8(&pk, 5);
	msgpack_pack_array(&pk, 0);
}

static void
b_notify_four(void)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint8(&pk, 2);
	octo_proto_pack_str(&pk, "lease_lost");
	msgpack_pack_array(&pk, 0);
	msgpack_pack_nil(&pk);
}

static void
b_notify_params_str(void)
{
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 2);
	octo_proto_pack_str(&pk, "lease_lost");
	octo_proto_pack_str(&pk, "x");
}

static void
b_type_only(void)
{
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint8(&pk, 0);
}

static const struct bad_case bad_cases[] = {
	{ "msgid negative", b_msgid_negative, 0, 0 },
	{ "msgid 2^32", b_msgid_too_big, 0, 0 },
	{ "msgid string", b_msgid_string, 0, 0 },
	{ "msgid float", b_msgid_float, 0, 0 },
	{ "method int", b_method_int, 1, 5 },
	{ "method bin", b_method_bin, 1, 5 },
	{ "method empty", b_method_empty, 1, 5 },
	{ "method too long", b_method_long, 1, 5 },
	{ "method nil", b_method_nil, 1, 5 },
	{ "params int", b_params_int, 1, 5 },
	{ "params nil", b_params_nil, 1, 5 },
	{ "params bare map", b_params_bare_map, 1, 5 },
	{ "params [int]", b_params_array_of_int, 1, 5 },
	{ "params [str]", b_params_array_of_str, 1, 5 },
	{ "params [map, map]", b_params_two_maps, 1, 5 },
	{ "request of 3", b_req_three, 1, 5 },
	{ "request of 5", b_req_five, 1, 5 },
	{ "array of 2", b_two, 1, 5 },
	{ "empty array", b_empty_array, 0, 0 },
	{ "array of 1", b_type_only, 0, 0 },
	{ "type 3", b_type_3, 0, 0 },
	{ "type -1", b_type_negative, 0, 0 },
	{ "type string", b_type_string, 0, 0 },
	{ "top-level map", b_not_array_map, 0, 0 },
	{ "top-level int", b_not_array_int, 0, 0 },
	{ "top-level str", b_not_array_str, 0, 0 },
	{ "response error str", b_resp_error_str, 1, 5 },
	{ "response of 3", b_resp_three, 1, 5 },
	{ "response msgid negative", b_resp_msgid_negative, 0, 0 },
	{ "notify method int", b_notify_method_int, 0, 0 },
	{ "notify of 4", b_notify_four, 0, 0 },
	{ "notify params str", b_notify_params_str, 0, 0 },
};

/* Well-framed but wrongly typed messages: protocol error, msgid when readable. */
START_TEST(test_wrong_types)
{
	const struct bad_case	*c = &bad_cases[_i];
	struct octo_msg		 m;
	int			 r;

	c->build();
	memset(&m, 0xa5, sizeof(m));
	r = scan_decode(&m);
	ck_assert_msg(r == OCTO_ERR_PROTOCOL, "%s: decode returned %d", c->what, r);
	ck_assert_msg(m.has_msgid == c->has_msgid, "%s: has_msgid %d", c->what,
	    m.has_msgid);
	if (c->has_msgid)
		ck_assert_msg(m.msgid == c->msgid, "%s: msgid %u", c->what, m.msgid);
}
END_TEST

/* Pack n nested arrays (map when usemap) around an innermost element or nothing. */
static void
pack_nested(unsigned n, int usemap, int empty)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (i + 1 == n && empty) {
			if (usemap)
				msgpack_pack_map(&pk, 0);
			else
				msgpack_pack_array(&pk, 0);
			return;
		}
		if (usemap) {
			msgpack_pack_map(&pk, 1);
			octo_proto_pack_str(&pk, "k");
		} else
			msgpack_pack_array(&pk, 1);
	}
	msgpack_pack_uint8(&pk, 1);
}

/* 16 levels pass; 17 levels are refused, with or without an inner element. */
START_TEST(test_depth_limit)
{
	struct octo_proto_limits lim;
	size_t	n;
	int	usemap, empty;

	for (usemap = 0; usemap < 2; usemap++) {
		for (empty = 0; empty < 2; empty++) {
			reset();
			pack_nested(OCTO_MAX_DEPTH, usemap, empty);
			ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_OK);
			ck_assert_uint_eq(n, sb.size);

			reset();
			pack_nested(OCTO_MAX_DEPTH + 1, usemap, empty);
			ck_assert_msg(scan(sb.data, sb.size, &n) == OCTO_ERR_PROTOCOL,
			    "17 levels (map %d, empty %d) accepted", usemap, empty);

			/* A larger configured depth is clamped to the fixed one. */
			octo_proto_limits_default(&lim);
			lim.max_depth = 1000;
			ck_assert_int_eq(scan_lim(sb.data, sb.size, &lim, &n),
			    OCTO_ERR_PROTOCOL);
		}
	}

	/* A smaller configured depth is honoured. */
	reset();
	pack_nested(3, 0, 0);
	octo_proto_limits_default(&lim);
	lim.max_depth = 3;
	ck_assert_int_eq(scan_lim(sb.data, sb.size, &lim, &n), OCTO_OK);
	lim.max_depth = 2;
	ck_assert_int_eq(scan_lim(sb.data, sb.size, &lim, &n), OCTO_ERR_PROTOCOL);
}
END_TEST

/* 10,000 levels are refused after the 17th header, without waiting for the rest. */
START_TEST(test_depth_bomb)
{
	size_t	n;

	pack_nested(10000, 0, 0);
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_PROTOCOL);
	ck_assert_int_eq(scan(sb.data, OCTO_MAX_DEPTH + 1, &n), OCTO_ERR_PROTOCOL);
	ck_assert_int_eq(scan(sb.data, OCTO_MAX_DEPTH, &n), OCTO_ERR_AGAIN);

	reset();
	pack_nested(10000, 1, 0);
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_PROTOCOL);

	reset();
	pack_nested(10000, 0, 1);
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_PROTOCOL);
}
END_TEST

/* A scanned 16-deep request still decodes (msgpack-c's own stack is deeper). */
START_TEST(test_depth_decode)
{
	struct octo_msg	m;

	octo_proto_pack_request(&pk, 1, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	pack_nested(OCTO_MAX_DEPTH - 3, 0, 0);
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);

	reset();
	octo_proto_pack_request(&pk, 1, "ping");
	msgpack_pack_map(&pk, 1);
	octo_proto_pack_str(&pk, "payload");
	pack_nested(OCTO_MAX_DEPTH - 2, 0, 0);
	ck_assert_int_eq(scan_decode(&m), OCTO_ERR_PROTOCOL);
}
END_TEST

/* Objects in one message are counted, containers and map keys included. */
START_TEST(test_element_limit)
{
	struct octo_proto_limits lim;
	size_t	n;
	int	i;

	/* An array of 4095 plus itself is exactly 4096 objects. */
	msgpack_pack_array(&pk, OCTO_MAX_ELEMS - 1);
	for (i = 0; i < OCTO_MAX_ELEMS - 1; i++)
		msgpack_pack_uint8(&pk, 1);
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_OK);

	reset();
	msgpack_pack_array(&pk, OCTO_MAX_ELEMS);
	for (i = 0; i < OCTO_MAX_ELEMS; i++)
		msgpack_pack_uint8(&pk, 1);
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_PROTOCOL);
	/* Refused from the 3-byte header alone. */
	ck_assert_int_eq(scan(sb.data, 3, &n), OCTO_ERR_PROTOCOL);

	/* A map of 2048 pairs is 4097 objects. */
	reset();
	msgpack_pack_map(&pk, OCTO_MAX_ELEMS / 2);
	for (i = 0; i < OCTO_MAX_ELEMS / 2; i++) {
		msgpack_pack_uint16(&pk, (uint16_t)i);
		msgpack_pack_uint8(&pk, 1);
	}
	ck_assert_int_eq(scan(sb.data, sb.size, &n), OCTO_ERR_PROTOCOL);

	/* Spread over sibling containers, with a small configured limit. */
	reset();
	octo_proto_limits_default(&lim);
	lim.max_elems = 10;
	msgpack_pack_array(&pk, 3);		/* 1 */
	msgpack_pack_array(&pk, 2);		/* 2 */
	msgpack_pack_uint8(&pk, 1);		/* 3 */
	msgpack_pack_uint8(&pk, 2);		/* 4 */
	msgpack_pack_array(&pk, 2);		/* 5 */
	msgpack_pack_uint8(&pk, 3);		/* 6 */
	msgpack_pack_uint8(&pk, 4);		/* 7 */
	msgpack_pack_array(&pk, 2);		/* 8 */
	msgpack_pack_uint8(&pk, 5);		/* 9 */
	msgpack_pack_uint8(&pk, 6);		/* 10 */
	ck_assert_int_eq(scan_lim(sb.data, sb.size, &lim, &n), OCTO_OK);
	lim.max_elems = 9;
	ck_assert_int_eq(scan_lim(sb.data, sb.size, &lim, &n), OCTO_ERR_PROTOCOL);
}
END_TEST

/* 0xc1 is never valid msgpack, at the top or inside. */
START_TEST(test_byte_c1)
{
	static const uint8_t top[] = { 0xc1 };
	static const uint8_t inner[] = { 0x94, 0x00, 0x01, 0xc1, 0x90 };
	struct octo_msg	m;
	size_t		n;

	ck_assert_int_eq(scan(top, sizeof(top), &n), OCTO_ERR_PROTOCOL);
	ck_assert_int_eq(scan(inner, sizeof(inner), &n), OCTO_ERR_PROTOCOL);
	ck_assert_int_eq(scan(inner, 4, &n), OCTO_ERR_PROTOCOL);
	ck_assert_int_eq(octo_proto_decode(top, sizeof(top), &zone, &m),
	    OCTO_ERR_PROTOCOL);
	ck_assert_int_eq(octo_proto_decode(inner, sizeof(inner), &zone, &m),
	    OCTO_ERR_PROTOCOL);
}
END_TEST

/* An empty buffer needs more bytes. */
START_TEST(test_scan_empty)
{
	size_t n;

	ck_assert_int_eq(scan("", 0, &n), OCTO_ERR_AGAIN);
}
END_TEST

/* Build the map the getter tests read. */
static const msgpack_object *
getter_map(void)
{
	static struct octo_msg m;

	octo_proto_pack_request(&pk, 1, "acquire");
	msgpack_pack_map(&pk, 10);
	kv_str("s", "str");
	kv_str("ss", "longer key");
	octo_proto_pack_str(&pk, "u");
	msgpack_pack_uint8(&pk, 5);
	octo_proto_pack_str(&pk, "neg");
	msgpack_pack_int8(&pk, -3);
	octo_proto_pack_str(&pk, "big");
	msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX + 1);
	octo_proto_pack_str(&pk, "b");
	msgpack_pack_true(&pk);
	octo_proto_pack_str(&pk, "nil");
	msgpack_pack_nil(&pk);
	octo_proto_pack_str(&pk, "f");
	msgpack_pack_double(&pk, 1.5);
	msgpack_pack_uint8(&pk, 7);		/* a non-string key is ignored */
	octo_proto_pack_str(&pk, "intkey");
	msgpack_pack_bin(&pk, 1);		/* so is a bin key */
	msgpack_pack_bin_body(&pk, "x", 1);
	octo_proto_pack_str(&pk, "binkey");
	ck_assert_int_eq(scan_decode(&m), OCTO_OK);
	return m.params;
}

/* Missing and nil keys read as absent (AGAIN); wrong types are invalid arguments. */
START_TEST(test_getters)
{
	const msgpack_object	*map, *o;
	const char		*s;
	size_t			 len;
	uint64_t		 u;
	int64_t			 i;
	int			 b;

	map = getter_map();

	ck_assert_int_eq(octo_proto_get(map, "missing", &o), OCTO_ERR_AGAIN);
	ck_assert_int_eq(octo_proto_get(map, "nil", &o), OCTO_ERR_AGAIN);
	ck_assert_int_eq(octo_proto_get(map, "x", &o), OCTO_ERR_AGAIN);
	ck_assert_int_eq(octo_proto_get(NULL, "s", &o), OCTO_ERR_AGAIN);
	ck_assert_int_eq(octo_proto_get(&map->via.map.ptr[0].val, "s", &o),
	    OCTO_ERR_AGAIN);			/* not a map */
	ck_assert_int_eq(octo_proto_get(map, "u", &o), OCTO_OK);
	ck_assert_int_eq(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);

	ck_assert_int_eq(octo_proto_get_str(map, "s", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "str"));
	ck_assert_int_eq(octo_proto_get_str(map, "ss", &s, &len), OCTO_OK);
	ck_assert(streq(s, len, "longer key"));
	ck_assert_int_eq(octo_proto_get_str(map, "u", &s, &len),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_str(map, "missing", &s, &len), OCTO_ERR_AGAIN);
	ck_assert_int_eq(octo_proto_get_str(map, "nil", &s, &len), OCTO_ERR_AGAIN);

	ck_assert_int_eq(octo_proto_get_uint(map, "u", 0, 10, &u), OCTO_OK);
	ck_assert_uint_eq(u, 5);
	ck_assert_int_eq(octo_proto_get_uint(map, "u", 5, 5, &u), OCTO_OK);
	ck_assert_int_eq(octo_proto_get_uint(map, "u", 6, 10, &u),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_uint(map, "u", 0, 4, &u),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_uint(map, "neg", 0, 10, &u),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_uint(map, "s", 0, 10, &u),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_uint(map, "f", 0, 10, &u),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_uint(map, "b", 0, 10, &u),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_uint(map, "big", 0, UINT64_MAX, &u), OCTO_OK);
	ck_assert_uint_eq(u, (uint64_t)INT64_MAX + 1);
	ck_assert_int_eq(octo_proto_get_uint(map, "missing", 0, 10, &u),
	    OCTO_ERR_AGAIN);
	ck_assert_int_eq(octo_proto_get_uint(map, "nil", 0, 10, &u), OCTO_ERR_AGAIN);

	ck_assert_int_eq(octo_proto_get_int(map, "neg", -5, 5, &i), OCTO_OK);
	ck_assert_int_eq(i, -3);
	ck_assert_int_eq(octo_proto_get_int(map, "neg", -2, 5, &i),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_int(map, "u", -5, 5, &i), OCTO_OK);
	ck_assert_int_eq(i, 5);
	ck_assert_int_eq(octo_proto_get_int(map, "u", -5, 4, &i),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_int(map, "big", INT64_MIN, INT64_MAX, &i),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_int(map, "s", -5, 5, &i),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_int(map, "nil", -5, 5, &i), OCTO_ERR_AGAIN);

	ck_assert_int_eq(octo_proto_get_bool(map, "b", &b), OCTO_OK);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(octo_proto_get_bool(map, "u", &b), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_get_bool(map, "missing", &b), OCTO_ERR_AGAIN);
	ck_assert_int_eq(octo_proto_get_bool(map, "nil", &b), OCTO_ERR_AGAIN);
}
END_TEST

/* strcpy fits exactly, refuses one byte more and embedded NULs. */
START_TEST(test_strcpy)
{
	char	*dst;

	dst = malloc(4);
	ck_assert_ptr_nonnull(dst);
	ck_assert_int_eq(octo_proto_strcpy(dst, 4, "abcdef", 3), OCTO_OK);
	ck_assert_str_eq(dst, "abc");
	ck_assert_int_eq(octo_proto_strcpy(dst, 4, "abcdef", 4), OCTO_ERR_TOO_LARGE);
	ck_assert_str_eq(dst, "abc");
	ck_assert_int_eq(octo_proto_strcpy(dst, 4, "", 0), OCTO_OK);
	ck_assert_str_eq(dst, "");
	ck_assert_int_eq(octo_proto_strcpy(dst, 4, "a\0b", 3),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_proto_strcpy(dst, 0, "", 0), OCTO_ERR_TOO_LARGE);
	free(dst);
}
END_TEST

/* Metadata text: every C0 byte, DEL and C1 (as UTF-8) is refused, the rest passes. */
START_TEST(test_text_ok)
{
	static const char *const good[] = { "", "model=gpt-5 task=release-1842",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", "\xc2\xa0", "~",
	    "\xc3\x80" };
	static const char *const bad[] = { "\t", "a\nb", "\r", "\x1b[31m", "x\x7f",
	    "\xc2\x80", "\xc2\x9b" "2J", "end\xc2\x9f" };
	char	buf[2];
	size_t	i;
	int	c;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(octo_proto_text_ok(good[i], strlen(good[i])),
		    "refused good[%zu]", i);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!octo_proto_text_ok(bad[i], strlen(bad[i])),
		    "accepted bad[%zu]", i);
	for (c = 0; c < 0x20; c++) {
		buf[0] = 'a';
		buf[1] = (char)c;
		ck_assert_msg(!octo_proto_text_ok(buf, 2), "accepted byte 0x%02x", c);
	}
	/* The length bounds the check: a byte past it is not looked at. */
	ck_assert(octo_proto_text_ok("ab\n", 2));
	ck_assert(octo_proto_text_ok("\xc2", 1));
}
END_TEST

/* Every code defined in enum octo_err; keep in step with octostore_err.h. */
static const int err_codes[] = {
	OCTO_OK, OCTO_ERR_INTERNAL, OCTO_ERR_SYSTEM, OCTO_ERR_NOMEM, OCTO_ERR_PROTOCOL,
	OCTO_ERR_TOO_LARGE, OCTO_ERR_UNKNOWN_METHOD, OCTO_ERR_INVALID_ARGUMENT,
	OCTO_ERR_UNAVAILABLE, OCTO_ERR_TIMEOUT, OCTO_ERR_BUSY, OCTO_ERR_PERMISSION_DENIED,
	OCTO_ERR_NOT_OWNER, OCTO_ERR_BAD_UPSTREAM_RESPONSE, OCTO_ERR_UNSUPPORTED_VERSION,
	OCTO_ERR_CLOSED, OCTO_ERR_AGAIN, OCTO_ERR_SHUTTING_DOWN, OCTO_ERR_LOCK_HELD,
	OCTO_ERR_LEASE_LOST, OCTO_ERR_CONFIG, OCTO_ERR_UNTRUSTED_DAEMON,
	OCTO_ERR_AUTHENTICATION_REQUIRED, OCTO_ERR_AUTHENTICATION_FAILED,
	OCTO_ERR_FORBIDDEN, OCTO_ERR_INVALID_INPUT, OCTO_ERR_INVALID_TTL,
	OCTO_ERR_INVALID_LOCK_NAME, OCTO_ERR_NOT_FOUND, OCTO_ERR_SESSION_EXPIRED,
	OCTO_ERR_LEASE_NOT_CURRENT, OCTO_ERR_CONFLICT, OCTO_ERR_CAPACITY_EXCEEDED,
	OCTO_ERR_LOCK_LIMIT_EXCEEDED, OCTO_ERR_RATE_LIMITED,
	OCTO_ERR_UPSTREAM_UNAVAILABLE, OCTO_ERR_UPSTREAM_INTERNAL,
	OCTO_ERR_UPSTREAM_OTHER, OCTO_ERR_LOCK_DELAYED,
};

/* Every defined code has a name and a message. */
START_TEST(test_err_text)
{
	size_t	i;

	for (i = 0; i < sizeof(err_codes) / sizeof(err_codes[0]); i++) {
		int e = err_codes[i];

		ck_assert_int_lt(e, OCTO_ERR__MAX);
		ck_assert_ptr_nonnull(octo_err_name(e));
		ck_assert_ptr_nonnull(octo_strerror(e));
		ck_assert_msg(strcmp(octo_err_name(e), "unknown") != 0 &&
		    *octo_err_name(e) != '\0', "code %d has no name", e);
		ck_assert_msg(strcmp(octo_strerror(e), "unknown error") != 0 &&
		    *octo_strerror(e) != '\0', "code %d has no message", e);
	}
	/* Out of range and unassigned values still give text. */
	ck_assert_str_eq(octo_err_name(-1), "unknown");
	ck_assert_str_eq(octo_err_name(OCTO_ERR__MAX), "unknown");
	ck_assert_str_eq(octo_err_name(30), "unknown");
	ck_assert_str_eq(octo_strerror(-1), "unknown error");
	ck_assert_str_eq(octo_strerror(OCTO_ERR__MAX), "unknown error");
	ck_assert_int_eq(octo_err_class(-1), OCTO_CLASS_OTHER);
	ck_assert_int_eq(octo_err_class(OCTO_OK), OCTO_CLASS_OK);
	ck_assert_int_eq(octo_err_class(OCTO_ERR_LOCK_HELD), OCTO_CLASS_LOCK_HELD);
	ck_assert_int_eq(octo_err_class(OCTO_ERR_AUTHENTICATION_FAILED), OCTO_CLASS_AUTH);
	ck_assert_int_eq(octo_err_class(OCTO_ERR_INVALID_ARGUMENT),
	    OCTO_CLASS_VALIDATION);
	ck_assert_int_eq(octo_err_class(OCTO_ERR_UNAVAILABLE), OCTO_CLASS_NETWORK);
}
END_TEST

/* Names are unique over the whole range and map back to their code. */
START_TEST(test_err_names)
{
	int	a, b, named = 0;

	for (a = 0; a < OCTO_ERR__MAX; a++) {
		const char *n = octo_err_name(a);

		if (strcmp(n, "unknown") == 0)
			continue;
		named++;
		for (b = a + 1; b < OCTO_ERR__MAX; b++)
			ck_assert_msg(strcmp(n, octo_err_name(b)) != 0,
			    "codes %d and %d share name %s", a, b, n);
		if (a == OCTO_OK)
			continue;
		ck_assert_msg(octo_err_from_name(n, strlen(n)) == a,
		    "name %s does not map back to %d", n, a);
	}
	ck_assert_msg(named == (int)(sizeof(err_codes) / sizeof(err_codes[0])),
	    "%d named codes but err_codes lists %d: add new codes to err_codes", named,
	    (int)(sizeof(err_codes) / sizeof(err_codes[0])));

	/* An error map saying "ok" must not read as success. */
	ck_assert_int_ne(octo_err_from_name("ok", 2), OCTO_OK);
	ck_assert_int_eq(octo_err_from_name("no_such_code", 12), OCTO_ERR_UPSTREAM_OTHER);
	ck_assert_int_eq(octo_err_from_name("", 0), OCTO_ERR_UPSTREAM_OTHER);
	ck_assert_int_eq(octo_err_from_name("invalid_argumentX", 16),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(octo_err_from_name("invalid_argumen", 15),
	    OCTO_ERR_UPSTREAM_OTHER);

	/* The wire names PROTOCOL.md and the issue promise. */
	ck_assert_str_eq(octo_err_name(OCTO_ERR_PROTOCOL), "protocol_error");
	ck_assert_str_eq(octo_err_name(OCTO_ERR_TOO_LARGE), "message_too_large");
	ck_assert_str_eq(octo_err_name(OCTO_ERR_UNKNOWN_METHOD), "unknown_method");
	ck_assert_str_eq(octo_err_name(OCTO_ERR_INVALID_ARGUMENT), "invalid_argument");
	ck_assert_str_eq(octo_err_name(OCTO_ERR_LEASE_NOT_CURRENT), "lease_not_current");
	ck_assert_str_eq(octo_err_name(OCTO_ERR_RATE_LIMITED), "rate_limited");
}
END_TEST

/* The proto suite. */
static Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc;

	tc = tcase_create("codec");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_method_names);
	tcase_add_test(tc, test_limits_default);
	tcase_add_test(tc, test_request_roundtrip);
	tcase_add_test(tc, test_request_msgid_bounds);
	tcase_add_test(tc, test_request_every_method);
	tcase_add_test(tc, test_request_no_params);
	tcase_add_test(tc, test_response_ok_roundtrip);
	tcase_add_test(tc, test_response_error_roundtrip);
	tcase_add_test(tc, test_notify_roundtrip);
	tcase_add_loop_test(tc, test_wrong_types, 0,
	    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_strcpy);
	tcase_add_test(tc, test_text_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("scan");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_scan_empty);
	tcase_add_test(tc, test_truncated_every_byte);
	tcase_add_test(tc, test_truncated_small);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_pipelined_bytewise);
	tcase_add_test(tc, test_oversize_header);
	tcase_add_test(tc, test_oversize_nested);
	tcase_add_test(tc, test_oversize_boundary);
	tcase_add_test(tc, test_oversize_owed);
	tcase_add_test(tc, test_large_limit);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_depth_bomb);
	tcase_add_test(tc, test_depth_decode);
	tcase_add_test(tc, test_element_limit);
	tcase_add_test(tc, test_byte_c1);
	suite_add_tcase(s, tc);

	tc = tcase_create("err");
	tcase_add_test(tc, test_err_text);
	tcase_add_test(tc, test_err_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
