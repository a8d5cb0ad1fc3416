/* check_api.c - unit tests for daemon/api.c: names, paths, bodies, strict parsers (issue 3). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "api.h"
#include "octostore_err.h"
#include "redact.h"

#define BAD	OCTO_ERR_BAD_UPSTREAM_RESPONSE
#define RID	"req_0123456789abcdef0123456789abcdef"

/* Run parse on an exact-size heap copy (no NUL), so ASan sees any over-read. */
#define PARSE(fn, s, out) parse_copy_##fn(s, out)
#define DEF_PARSE(fn, type)						\
static int								\
parse_copy_##fn(const char *s, type *out)				\
{									\
	size_t	 n = strlen(s);						\
	char	*p = malloc(n > 0 ? n : 1);				\
	int	 r;							\
									\
	ck_assert_ptr_nonnull(p);					\
	memcpy(p, s, n);						\
	r = api_parse_##fn(p, n, out);					\
	free(p);							\
	return r;							\
}
DEF_PARSE(error, struct api_error)
DEF_PARSE(acquire, struct api_acquire)
DEF_PARSE(renew, struct api_renew)
DEF_PARSE(lock_status, struct api_lock_status)
DEF_PARSE(list, struct api_list)
DEF_PARSE(health, struct api_health)
DEF_PARSE(token, struct api_token)

/* Check a name; returns the code. */
static int
name(const char *s)
{
	const char *why = NULL;
	int r = api_name_check(s, strlen(s), &why);

	if (r != OCTO_OK)
		ck_assert_ptr_nonnull(why);
	return r;
}

/* True if every byte of s is zero. */
static int
all_zero(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

START_TEST(test_name_valid)
{
	char	long_ok[API_NAME_MAX + 1];

	ck_assert_int_eq(name("a"), OCTO_OK);
	ck_assert_int_eq(name("my-resource"), OCTO_OK);
	ck_assert_int_eq(name("ci/deploy/prod"), OCTO_OK);
	ck_assert_int_eq(name("db.primary_1/x-y"), OCTO_OK);
	ck_assert_int_eq(name("a/./b"), OCTO_OK);
	ck_assert_int_eq(name("caf\xc3\xa9/\xe4\xb8\xad\xe6\x96\x87"), OCTO_OK); /* café/中文 */
	ck_assert_int_eq(name("\xd9\xa3"), OCTO_OK);		/* Arabic-Indic three (Nd) */
	/* 4 components of 63 bytes + 3 slashes = 255; then 256 exactly. */
	memset(long_ok, 'a', API_NAME_MAX);
	long_ok[63] = long_ok[127] = long_ok[191] = '/';
	long_ok[API_NAME_MAX] = '\0';
	ck_assert_int_eq(api_name_check(long_ok, API_NAME_MAX, &(const char *){ NULL }),
	    OCTO_OK);
}
END_TEST

START_TEST(test_name_invalid)
{
	char	buf[API_NAME_MAX + 2];

	ck_assert_int_eq(name(""), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("/a"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("a/"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("a//b"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("a b"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("a?b"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("a%2Fb"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("a:b"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("a\tb"), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("."), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name(".."), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(name("\xe2\x82\xac"), OCTO_ERR_INVALID_ARGUMENT);	/* € */
	ck_assert_int_eq(name("\xc3"), OCTO_ERR_INVALID_ARGUMENT);		/* truncated */
	ck_assert_int_eq(name("\xc0\xaf"), OCTO_ERR_INVALID_ARGUMENT);	/* overlong '/' */
	ck_assert_int_eq(name("\xed\xa0\x80"), OCTO_ERR_INVALID_ARGUMENT);	/* surrogate */
	ck_assert_int_eq(name("\xf4\x90\x80\x80"), OCTO_ERR_INVALID_ARGUMENT); /* > U+10FFFF */
	ck_assert_int_eq(api_name_check("a\0b", 3, &(const char *){ NULL }),
	    OCTO_ERR_INVALID_ARGUMENT);

	/* Component of 65 bytes; whole name of 257 bytes. */
	memset(buf, 'a', 65);
	buf[65] = '\0';
	ck_assert_int_eq(name(buf), OCTO_ERR_INVALID_ARGUMENT);
	buf[64] = '\0';
	ck_assert_int_eq(name(buf), OCTO_OK);
	memset(buf, 'a', API_NAME_MAX + 1);
	buf[63] = buf[127] = buf[191] = buf[255] = '/';
	buf[API_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(name(buf), OCTO_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_lock_path)
{
	char	*p;

	p = api_lock_path("ci/deploy/prod", 14, "acquire");
	ck_assert_str_eq(p, "/locks/ci%2Fdeploy%2Fprod/acquire");
	free(p);
	p = api_lock_path("ci/deploy/prod", 14, NULL);
	ck_assert_str_eq(p, "/locks/ci%2Fdeploy%2Fprod");
	free(p);
	p = api_lock_path("a.b_c-d", 7, "release");
	ck_assert_str_eq(p, "/locks/a.b_c-d/release");
	free(p);
	p = api_lock_path("caf\xc3\xa9", 5, "renew");
	ck_assert_str_eq(p, "/locks/caf%C3%A9/renew");
	free(p);
	p = api_list_path(NULL, 0);
	ck_assert_str_eq(p, "/locks");
	free(p);
	p = api_list_path("service/a b&c=d", 15);
	ck_assert_str_eq(p, "/locks?prefix=service%2Fa%20b%26c%3Dd");
	free(p);
}
END_TEST

START_TEST(test_bodies)
{
	json_t	*o;
	char	*b;

	b = api_acquire_body(60, NULL, 0, -1);
	ck_assert_str_eq(b, "{\"ttl_seconds\":60}");
	free(b);
	b = api_acquire_body(3600, "job=\"x\"\n", 8, 5);
	o = json_loads(b, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "ttl_seconds")), 3600);
	ck_assert_str_eq(json_string_value(json_object_get(o, "metadata")), "job=\"x\"\n");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "lock_delay_seconds")), 5);
	json_decref(o);
	free(b);
	ck_assert_ptr_null(api_acquire_body(60, "\xff", 1, -1));	/* not UTF-8 */

	b = api_release_body("550e8400-e29b-41d4-a716-446655440000", 36);
	ck_assert_str_eq(b, "{\"lease_id\":\"550e8400-e29b-41d4-a716-446655440000\"}");
	free(b);
	b = api_renew_body("x\"y", 3, 30);
	o = json_loads(b, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "lease_id")), "x\"y");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "ttl_seconds")), 30);
	json_decref(o);
	free(b);
}
END_TEST

START_TEST(test_lock_path_buf)
{
	char	buf[API_LOCK_PATH_MAX], name[API_NAME_MAX + 1];
	size_t	n;

	n = api_lock_path_buf(buf, sizeof(buf), "ci/deploy/prod", 14, "renew");
	ck_assert_str_eq(buf, "/locks/ci%2Fdeploy%2Fprod/renew");
	ck_assert_uint_eq(n, strlen(buf));
	n = api_lock_path_buf(buf, sizeof(buf), "caf\xc3\xa9", 5, NULL);
	ck_assert_str_eq(buf, "/locks/caf%C3%A9");
	ck_assert_uint_eq(n, 16);
	/* Exactly fitting, one byte short. */
	ck_assert_uint_eq(api_lock_path_buf(buf, 17, "caf\xc3\xa9", 5, NULL), 16);
	ck_assert_uint_eq(api_lock_path_buf(buf, 16, "caf\xc3\xa9", 5, NULL), 0);
	/* The longest name, every byte escaped, with the longest action, fits. */
	memset(name, 0xff, API_NAME_MAX);
	n = api_lock_path_buf(buf, sizeof(buf), name, API_NAME_MAX, "release");
	ck_assert_uint_eq(n, sizeof(buf) - 1);
	ck_assert_str_eq(buf + n - 11, "%FF/release");
	ck_assert_uint_eq(api_lock_path_buf(buf, sizeof(buf), name, API_NAME_MAX + 1,
	    NULL), 0);
}
END_TEST

START_TEST(test_bodies_buf)
{
	char	buf[API_BODY_BUF], *b;
	size_t	n, i;

	/* Byte for byte what the heap versions make, over and over (one object is reused). */
	for (i = 0; i < 3; i++) {
		n = api_renew_body_buf(buf, sizeof(buf), "550e8400-e29b", 13, 30 + i);
		b = api_renew_body("550e8400-e29b", 13, 30 + i);
		ck_assert_str_eq(buf, b);
		ck_assert_uint_eq(n, strlen(b));
		free(b);
	}
	ck_assert_str_eq(buf, "{\"lease_id\":\"550e8400-e29b\",\"ttl_seconds\":32}");
	n = api_renew_body_buf(buf, sizeof(buf), "x\"y", 3, 3600);
	ck_assert_str_eq(buf, "{\"lease_id\":\"x\\\"y\",\"ttl_seconds\":3600}");
	ck_assert_uint_eq(n, strlen(buf));
	/* Invalid UTF-8 fails, and leaves nothing behind for the next body. */
	ck_assert_uint_eq(api_renew_body_buf(buf, sizeof(buf), "\xff", 1, 30), 0);
	api_renew_body_buf(buf, sizeof(buf), "a", 1, 5);
	ck_assert_str_eq(buf, "{\"lease_id\":\"a\",\"ttl_seconds\":5}");
	/* Exactly fitting (with the NUL), one byte short. */
	ck_assert_uint_eq(api_renew_body_buf(buf, 33, "a", 1, 5), 32);
	ck_assert_str_eq(buf, "{\"lease_id\":\"a\",\"ttl_seconds\":5}");
	ck_assert_uint_eq(api_renew_body_buf(buf, 32, "a", 1, 5), 0);
	ck_assert_uint_eq(api_renew_body_buf(buf, 0, "a", 1, 5), 0);

	n = api_release_body_buf(buf, sizeof(buf), "550e8400-e29b", 13);
	ck_assert_str_eq(buf, "{\"lease_id\":\"550e8400-e29b\"}");
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_uint_eq(api_release_body_buf(buf, 10, "550e8400-e29b", 13), 0);
	ck_assert_uint_eq(api_release_body_buf(buf, sizeof(buf), "\xc3", 1), 0);

	n = api_dumpb(json_pack("{s:I}", "ttl_seconds", (json_int_t)60), buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"ttl_seconds\":60}");
	ck_assert_uint_eq(n, 18);
	ck_assert_uint_eq(api_dumpb(NULL, buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(test_param_checks)
{
	const char	*why;
	char		 md[API_METADATA_MAX + 1];

	ck_assert_int_eq(api_lease_id_check("abc", 3, &why), OCTO_OK);
	ck_assert_int_eq(api_lease_id_check("", 0, &why), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(api_lease_id_check("a\nb", 3, &why), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(api_prefix_check("", 0, &why), OCTO_OK);
	ck_assert_int_eq(api_prefix_check("\xff", 1, &why), OCTO_ERR_INVALID_ARGUMENT);
	memset(md, 'm', sizeof(md));
	ck_assert_int_eq(api_metadata_check(md, API_METADATA_MAX, &why), OCTO_OK);
	ck_assert_int_eq(api_metadata_check(md, API_METADATA_MAX + 1, &why),
	    OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(api_metadata_check("a\0b", 3, &why), OCTO_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(api_token_check("tok_ABC.123-_~", 14), 1);
	ck_assert_int_eq(api_token_check("a b", 3), 0);
	ck_assert_int_eq(api_token_check("a\r\nX-Injected: 1", 16), 0);
	ck_assert_int_eq(api_token_check("", 0), 0);
}
END_TEST

START_TEST(test_error_valid)
{
	struct api_error e;

	ck_assert_int_eq(PARSE(error, "{\"error\":\"Rate limit exceeded\",\"code\":"
	    "\"rate_limited\",\"details\":\"retry in 42 seconds\",\"retry_after_ms\":42000,"
	    "\"request_id\":\"" RID "\",\"extra\":[1,{\"x\":null}]}", &e), OCTO_OK);
	ck_assert_int_eq(e.code, OCTO_ERR_RATE_LIMITED);
	ck_assert_str_eq(e.code_name, "rate_limited");
	ck_assert_str_eq(e.details, "retry in 42 seconds");
	ck_assert_int_eq(e.retry_after_ms, 42000);
	ck_assert_str_eq(e.request_id, RID);
	api_error_free(&e);
	ck_assert_ptr_null(e.root);

	/* No retry_after_ms: -1.  Known server codes map to their enum value. */
	ck_assert_int_eq(PARSE(error, "{\"error\":\"Lease is not current\",\"code\":"
	    "\"lease_not_current\",\"details\":\"Invalid lease ID\",\"request_id\":\"" RID
	    "\"}", &e), OCTO_OK);
	ck_assert_int_eq(e.code, OCTO_ERR_LEASE_NOT_CURRENT);
	ck_assert_int_eq(e.retry_after_ms, -1);
	api_error_free(&e);
	ck_assert_int_eq(PARSE(error, "{\"error\":\"x\",\"code\":\"authentication_failed\","
	    "\"details\":\"\",\"request_id\":\"" RID "\"}", &e), OCTO_OK);
	ck_assert_int_eq(e.code, OCTO_ERR_AUTHENTICATION_FAILED);
	api_error_free(&e);

	/* An unknown code keeps its name; a local code name is not trusted from upstream. */
	ck_assert_int_eq(PARSE(error, "{\"error\":\"x\",\"code\":\"brand_new\",\"details\":"
	    "\"d\",\"request_id\":\"" RID "\"}", &e), OCTO_OK);
	ck_assert_int_eq(e.code, OCTO_ERR_UPSTREAM_OTHER);
	ck_assert_str_eq(e.code_name, "brand_new");
	api_error_free(&e);
	ck_assert_int_eq(PARSE(error, "{\"error\":\"x\",\"code\":\"timeout\",\"details\":"
	    "\"d\",\"request_id\":\"" RID "\"}", &e), OCTO_OK);
	ck_assert_int_eq(e.code, OCTO_ERR_UPSTREAM_OTHER);
	ck_assert_str_eq(e.code_name, "timeout");
	api_error_free(&e);
}
END_TEST

/* Server codes passed on as upstream_code: [a-z0-9_]{1,64} only. */
START_TEST(test_code_check)
{
	char	long_code[API_CODE_MAX + 2];

	ck_assert_int_eq(api_code_check("brand_new"), 1);
	ck_assert_int_eq(api_code_check("protocol_error"), 1);
	ck_assert_int_eq(api_code_check("v2_code_9"), 1);
	ck_assert_int_eq(api_code_check(NULL), 0);
	ck_assert_int_eq(api_code_check(""), 0);
	ck_assert_int_eq(api_code_check("Brand_New"), 0);
	ck_assert_int_eq(api_code_check("a-b"), 0);
	ck_assert_int_eq(api_code_check("a b"), 0);
	ck_assert_int_eq(api_code_check("a\x1b[2J"), 0);
	ck_assert_int_eq(api_code_check("caf\xc3\xa9"), 0);
	memset(long_code, 'a', API_CODE_MAX);
	long_code[API_CODE_MAX] = '\0';
	ck_assert_int_eq(api_code_check(long_code), 1);
	long_code[API_CODE_MAX] = 'a';
	long_code[API_CODE_MAX + 1] = '\0';
	ck_assert_int_eq(api_code_check(long_code), 0);
}
END_TEST

/* Server text in log lines: control bytes, backslashes and non-ASCII escaped, cut. */
START_TEST(test_escape)
{
	char	buf[16];

	ck_assert_str_eq(api_escape(buf, sizeof(buf), "brand_new"), "brand_new");
	ck_assert_str_eq(api_escape(buf, sizeof(buf), "a\nb\x1b[2J"), "a\\x0ab\\x1b[2J");
	ck_assert_str_eq(api_escape(buf, sizeof(buf), "a\\b"), "a\\\\b");
	ck_assert_str_eq(api_escape(buf, sizeof(buf), "caf\xc3\xa9"), "caf\\xc3\\xa9");
	ck_assert_str_eq(api_escape(buf, sizeof(buf), NULL), "");
	/* Cut to fit, never in the middle of an escape. */
	ck_assert_str_eq(api_escape(buf, sizeof(buf), "0123456789abcdefgh"),
	    "0123456789abcde");
	ck_assert_str_eq(api_escape(buf, sizeof(buf), "0123456789a\x7f"),
	    "0123456789a\\x7f");
	ck_assert_str_eq(api_escape(buf, sizeof(buf), "0123456789ab\x7f"), "0123456789ab");
	ck_assert_str_eq(api_escape(buf, 1, "abc"), "");
}
END_TEST

START_TEST(test_error_invalid)
{
	static const char *bad[] = {
		"",
		"not json",
		"null",
		"[]",
		"\"rate_limited\"",
		"{\"error\":\"x\",\"code\":\"rate_limited\",\"details\":\"d\"}",	/* no id */
		"{\"code\":\"rate_limited\",\"details\":\"d\",\"request_id\":\"r\"}",	/* no error */
		"{\"error\":\"x\",\"details\":\"d\",\"request_id\":\"r\"}",		/* no code */
		"{\"error\":\"x\",\"code\":\"\",\"details\":\"d\",\"request_id\":\"r\"}",
		"{\"error\":\"x\",\"code\":7,\"details\":\"d\",\"request_id\":\"r\"}",
		"{\"error\":\"x\",\"code\":\"c\",\"details\":null,\"request_id\":\"r\"}",
		"{\"error\":\"x\",\"code\":\"c\",\"details\":\"d\",\"request_id\":\"r\","
		    "\"retry_after_ms\":\"5\"}",
		"{\"error\":\"x\",\"code\":\"c\",\"details\":\"d\",\"request_id\":\"r\","
		    "\"retry_after_ms\":-1}",
		"{\"error\":\"x\",\"code\":\"c\",\"details\":\"d\",\"request_id\":\"r\","
		    "\"retry_after_ms\":1.5}",
		"{\"error\":\"x\",\"code\":\"c\",\"code\":\"d\",\"details\":\"d\","
		    "\"request_id\":\"r\"}",						/* duplicate */
		"{\"error\":\"x\",\"code\":\"c\",\"details\":\"d\",\"request_id\":\"r\"} x",
		"{\"error\":\"x\",\"code\":\"c\",\"details\":\"d\",\"request_id\":\"r\"",
	};
	struct api_error e;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(PARSE(error, bad[i], &e) == BAD, "accepted: %s", bad[i]);
		ck_assert(all_zero(&e, sizeof(e)));
	}
}
END_TEST

#define ACQ_OK	"{\"status\":\"acquired\",\"lease_id\":\"550e8400-e29b-41d4-a716-446655440000\"," \
		"\"fencing_token\":42,\"expires_at\":\"2026-01-01T00:00:00Z\"," \
		"\"renew_after_ms\":30000,\"metadata\":null"

START_TEST(test_acquire)
{
	struct api_acquire a;

	ck_assert_int_eq(PARSE(acquire, ACQ_OK ",\"new_field\":{}}", &a), OCTO_OK);
	ck_assert_int_eq(a.status, API_ACQUIRED);
	ck_assert_str_eq(a.lease_id, "550e8400-e29b-41d4-a716-446655440000");
	ck_assert_int_eq(a.fencing_token, 42);
	ck_assert_str_eq(a.expires_at, "2026-01-01T00:00:00Z");
	ck_assert_int_eq(a.renew_after_ms, 30000);
	ck_assert_ptr_null(a.metadata);
	api_acquire_free(&a);

	ck_assert_int_eq(PARSE(acquire, "{\"status\":\"held\",\"holder_id\":\"f756c399-166b-4d0a-bee2-ec133219fa3a\","
	    "\"expires_at\":\"2026-01-01T00:00:00Z\",\"retry_after_ms\":1500,"
	    "\"metadata\":\"job 7\"}", &a), OCTO_OK);
	ck_assert_int_eq(a.status, API_HELD);
	ck_assert_str_eq(a.holder_id, "f756c399-166b-4d0a-bee2-ec133219fa3a");
	ck_assert_int_eq(a.retry_after_ms, 1500);
	ck_assert_str_eq(a.metadata, "job 7");
	ck_assert_ptr_null(a.lease_id);
	api_acquire_free(&a);

	ck_assert_int_eq(PARSE(acquire, "{\"status\":\"delayed\",\"available_at\":"
	    "\"2026-01-01T00:00:05Z\",\"lock_delay_seconds\":5,\"retry_after_ms\":5000}",
	    &a), OCTO_OK);
	ck_assert_int_eq(a.status, API_DELAYED);
	ck_assert_str_eq(a.available_at, "2026-01-01T00:00:05Z");
	ck_assert_int_eq(a.lock_delay_seconds, 5);
	ck_assert_int_eq(a.retry_after_ms, 5000);
	api_acquire_free(&a);
}
END_TEST

/* Ids from the server are UUIDs (issue 21): anything else is bad_upstream_response. */
START_TEST(test_id_format)
{
	static const char *const good[] = {
		"550e8400-e29b-41d4-a716-446655440000",
		"550E8400-E29B-41D4-A716-446655440000",
	};
	static const char *const bad[] = {
		"", "l", "h-1", "550e8400-e29b-41d4-a716-44665544000",
		"550e8400-e29b-41d4-a716-4466554400000", "550e8400e29b-41d4-a716-4466554400000",
		"550e8400-e29b-41d4-a716-44665544000g", "550e8400-e29b-41d4-a716+446655440000",
		"550e8400-e29b-41d4-a716-44665544000\\u0000",
		"iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii"
		"iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii",
	};
	struct api_acquire	a;
	struct api_renew	r;
	struct api_lock_status	st;
	struct api_session	ss;
	char			body[512];
	size_t			i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(body, sizeof(body), "{\"status\":\"acquired\",\"lease_id\":\"%s\","
		    "\"fencing_token\":1,\"expires_at\":\"t\",\"renew_after_ms\":1,"
		    "\"metadata\":null}", good[i]);
		ck_assert_int_eq(PARSE(acquire, body, &a), OCTO_OK);
		api_acquire_free(&a);
		snprintf(body, sizeof(body), "{\"session_id\":\"%s\",\"expires_at\":\"t\","
		    "\"keepalive_interval_secs\":30}", good[i]);
		ck_assert_int_eq(api_parse_session(body, strlen(body), 1, &ss), OCTO_OK);
		ck_assert_str_eq(ss.session_id, good[i]);
		ck_assert_int_eq(ss.keepalive_ms, 30000);
		api_session_free(&ss);
	}
	/* Refused in each place an id comes back. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"status\":\"acquired\",\"lease_id\":\"%s\","
		    "\"fencing_token\":1,\"expires_at\":\"t\",\"renew_after_ms\":1,"
		    "\"metadata\":null}", bad[i]);
		ck_assert_msg(PARSE(acquire, body, &a) == BAD, "lease_id %s", bad[i]);
		ck_assert(all_zero(&a, sizeof(a)));
		snprintf(body, sizeof(body), "{\"status\":\"held\",\"holder_id\":\"%s\","
		    "\"expires_at\":\"t\",\"retry_after_ms\":1,\"metadata\":null}", bad[i]);
		ck_assert_msg(PARSE(acquire, body, &a) == BAD, "holder_id %s", bad[i]);
		snprintf(body, sizeof(body), "{\"lease_id\":\"%s\",\"expires_at\":\"t\","
		    "\"renew_after_ms\":1}", bad[i]);
		ck_assert_int_eq(PARSE(renew, body, &r), BAD);
		snprintf(body, sizeof(body), "{\"name\":\"n\",\"status\":\"held\","
		    "\"holder_id\":\"%s\",\"fencing_token\":1,\"expires_at\":\"t\","
		    "\"metadata\":null}", bad[i]);
		ck_assert_int_eq(PARSE(lock_status, body, &st), BAD);
		snprintf(body, sizeof(body), "{\"session_id\":\"%s\",\"expires_at\":\"t\"}",
		    bad[i]);
		ck_assert_int_eq(api_parse_session(body, strlen(body), 0, &ss), BAD);
		ck_assert(all_zero(&ss, sizeof(ss)));
	}
	/* A free lock's holder stays null. */
	ck_assert_int_eq(PARSE(lock_status, "{\"name\":\"n\",\"status\":\"free\","
	    "\"holder_id\":null,\"fencing_token\":0,\"expires_at\":null,"
	    "\"metadata\":null}", &st), OCTO_OK);
	ck_assert_ptr_null(st.holder_id);
	api_lock_status_free(&st);
	/* A request id out of its documented form is dropped, the error kept. */
	{
		struct api_error e;

		ck_assert_int_eq(PARSE(error, "{\"error\":\"x\",\"code\":\"not_found\","
		    "\"details\":\"d\",\"request_id\":\"r\"}", &e), OCTO_OK);
		ck_assert_int_eq(e.code, OCTO_ERR_NOT_FOUND);
		ck_assert_ptr_null(e.request_id);
		api_error_free(&e);
		ck_assert_int_eq(PARSE(error, "{\"error\":\"x\",\"code\":\"not_found\","
		    "\"details\":\"d\",\"request_id\":\"" RID "0\"}", &e), OCTO_OK);
		ck_assert_ptr_null(e.request_id);
		api_error_free(&e);
	}
}
END_TEST

#define SECRET	"s3cr3t-T0ken-abcdefghijklmnopqrstuvwxyz"
#define OLD	"0ld-t0ken-ZYXWVUTSRQPONMLKJIHGFEDCBA"

/* redact_find: any 8-byte piece of the current or previous token, nothing shorter. */
START_TEST(test_redact_find)
{
	size_t	i, n = strlen(SECRET);
	char	buf[64];

	redact_set(SECRET, n, OLD, strlen(OLD));
	for (i = 0; i + REDACT_WINDOW <= n; i++) {
		snprintf(buf, sizeof(buf), "x%.8sy", SECRET + i);
		ck_assert_msg(redact_find(buf, strlen(buf)), "piece at %zu", i);
		/* 7 bytes are not a piece. */
		snprintf(buf, sizeof(buf), "#%.7s#", SECRET + i);
		ck_assert_msg(!redact_find(buf, strlen(buf)), "7 bytes at %zu", i);
	}
	ck_assert(redact_find(OLD + 5, 8));
	ck_assert(redact_find("Bearer " SECRET, strlen("Bearer " SECRET)));
	ck_assert(!redact_find("550e8400-e29b-41d4-a716-446655440000", 36));
	ck_assert(!redact_find("", 0));
	/* Rotation: the token before the previous one is forgotten. */
	redact_set("n3w-t0ken-0123456789", 20, SECRET, n);
	ck_assert(redact_find(SECRET + 3, 8));
	ck_assert(!redact_find(OLD, strlen(OLD)));
	/* A token shorter than the window is looked for whole. */
	redact_set("abc12", 5, NULL, 0);
	ck_assert(redact_find("xxabc12", 7));
	ck_assert(!redact_find("xxabc1", 6));
	redact_set(NULL, 0, NULL, 0);
	ck_assert(!redact_find(SECRET, n));
}
END_TEST

/* Every string of every answer that holds a piece of the token is redacted (issue 21). */
START_TEST(test_redact_answers)
{
	struct api_error	e;
	struct api_acquire	a;
	struct api_lock_status	st;
	struct api_list		l;
	struct api_health	h;
	struct api_token	t;
	struct api_session	ss;
	struct api_renew	r;

	redact_set(SECRET, strlen(SECRET), OLD, strlen(OLD));
	ck_assert_int_eq(PARSE(error, "{\"error\":\"Bearer " SECRET "\",\"code\":"
	    "\"x0ken-abcdefghij\",\"details\":\"bad 0ld-t0ken-Z\",\"request_id\":"
	    "\"req_" SECRET "\"}", &e), OCTO_OK);
	ck_assert_str_eq(e.error, REDACT_TEXT);
	ck_assert_str_eq(e.code_name, REDACT_TEXT);
	ck_assert_int_eq(e.code, OCTO_ERR_UPSTREAM_OTHER);
	ck_assert(!api_code_check(e.code_name));
	ck_assert_str_eq(e.details, REDACT_TEXT);
	ck_assert_ptr_null(e.request_id);
	api_error_free(&e);
	/* JSON escapes do not hide it. */
	ck_assert_int_eq(PARSE(error, "{\"error\":\"\\u0073\\u0033cr3t-T0\",\"code\":"
	    "\"c\",\"details\":\"ok\",\"request_id\":\"" RID "\"}", &e), OCTO_OK);
	ck_assert_str_eq(e.error, REDACT_TEXT);
	ck_assert_str_eq(e.details, "ok");
	ck_assert_str_eq(e.request_id, RID);
	api_error_free(&e);

	ck_assert_int_eq(PARSE(acquire, "{\"status\":\"held\",\"holder_id\":"
	    "\"f756c399-166b-4d0a-bee2-ec133219fa3a\",\"expires_at\":\"t" SECRET "\","
	    "\"retry_after_ms\":1,\"metadata\":\"job -T0ken-ab\"}", &a), OCTO_OK);
	ck_assert_str_eq(a.metadata, REDACT_TEXT);
	ck_assert_str_eq(a.expires_at, REDACT_TEXT);
	api_acquire_free(&a);
	/* An id holding it is no id. */
	ck_assert_int_eq(PARSE(acquire, "{\"status\":\"acquired\",\"lease_id\":\""
	    SECRET "\",\"fencing_token\":1,\"expires_at\":\"t\",\"renew_after_ms\":1,"
	    "\"metadata\":null}", &a), BAD);
	ck_assert_int_eq(PARSE(renew, "{\"lease_id\":\"" OLD "\",\"expires_at\":\"t\","
	    "\"renew_after_ms\":1}", &r), BAD);
	ck_assert_int_eq(PARSE(lock_status, "{\"name\":\"n\",\"status\":\"held\","
	    "\"holder_id\":\"" SECRET "\",\"fencing_token\":1,\"expires_at\":\"t\","
	    "\"metadata\":null}", &st), BAD);
	ck_assert_int_eq(api_parse_session("{\"session_id\":\"" SECRET "\","
	    "\"expires_at\":\"t\"}", 50, 0, &ss), BAD);

	ck_assert_int_eq(PARSE(list, "{\"locks\":[{\"name\":\"n" SECRET "\",\"status\":"
	    "\"free\",\"holder_id\":null,\"fencing_token\":0,\"expires_at\":null,"
	    "\"metadata\":\"" OLD "\",\"acl\":{\"x\":[\"" SECRET "\"]}}],\"total\":1,"
	    "\"prefix\":\"p" SECRET "\"}", &l), OCTO_OK);
	ck_assert_str_eq(l.locks[0].name, REDACT_TEXT);
	ck_assert_str_eq(l.locks[0].metadata, REDACT_TEXT);
	ck_assert_str_eq(l.prefix, REDACT_TEXT);
	api_list_free(&l);
	ck_assert_int_eq(PARSE(health, "{\"status\":\"" SECRET "\",\"storage\":"
	    "\"ok\",\"db_size_bytes\":1}", &h), OCTO_OK);
	ck_assert_str_eq(h.status, REDACT_TEXT);
	api_health_free(&h);
	/* A rotation's answer keeps its new token, and only that. */
	ck_assert_int_eq(PARSE(token, "{\"token\":\"" SECRET "-2\",\"user_id\":\"u"
	    SECRET "\",\"github_username\":\"g\",\"namespace\":null}", &t), OCTO_OK);
	ck_assert_str_eq(t.token, SECRET "-2");
	ck_assert_str_eq(t.user_id, REDACT_TEXT);
	api_token_free(&t);
	redact_set(NULL, 0, NULL, 0);
}
END_TEST

START_TEST(test_acquire_invalid)
{
	static const char *bad[] = {
		"{\"status\":\"acquired\"}",
		"{\"status\":\"unknown\"}",
		"{\"lease_id\":\"x\"}",
		"{\"status\":1}",
		/* each required field of LockAcquired missing in turn */
		"{\"status\":\"acquired\",\"fencing_token\":1,\"expires_at\":\"t\","
		    "\"renew_after_ms\":1,\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"expires_at\":\"t\","
		    "\"renew_after_ms\":1,\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":1,"
		    "\"renew_after_ms\":1,\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":1,"
		    "\"expires_at\":\"t\",\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":1,"
		    "\"expires_at\":\"t\",\"renew_after_ms\":1}",
		/* wrong types and ranges */
		"{\"status\":\"acquired\",\"lease_id\":5,\"fencing_token\":1,"
		    "\"expires_at\":\"t\",\"renew_after_ms\":1,\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":\"1\","
		    "\"expires_at\":\"t\",\"renew_after_ms\":1,\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":0,"
		    "\"expires_at\":\"t\",\"renew_after_ms\":1,\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":1,"
		    "\"expires_at\":null,\"renew_after_ms\":1,\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":1,"
		    "\"expires_at\":\"t\",\"renew_after_ms\":-5,\"metadata\":null}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":1,"
		    "\"expires_at\":\"t\",\"renew_after_ms\":1,\"metadata\":3}",
		"{\"status\":\"acquired\",\"lease_id\":\"l\",\"fencing_token\":"
		    "99999999999999999999,\"expires_at\":\"t\",\"renew_after_ms\":1,"
		    "\"metadata\":null}",
		"{\"status\":\"held\",\"expires_at\":\"t\",\"retry_after_ms\":1,"
		    "\"metadata\":null}",
		"{\"status\":\"held\",\"holder_id\":\"h\",\"expires_at\":\"t\","
		    "\"retry_after_ms\":1.0,\"metadata\":null}",
		"{\"status\":\"held\",\"holder_id\":null,\"expires_at\":\"t\","
		    "\"retry_after_ms\":1,\"metadata\":null}",
		"{\"status\":\"delayed\",\"available_at\":\"t\",\"retry_after_ms\":1}",
		"{\"status\":\"delayed\",\"available_at\":\"t\",\"lock_delay_seconds\":31,"
		    "\"retry_after_ms\":1}",
		"[" ACQ_OK "}]",
	};
	struct api_acquire a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(PARSE(acquire, bad[i], &a) == BAD, "accepted: %s", bad[i]);
		ck_assert(all_zero(&a, sizeof(a)));
	}
}
END_TEST

START_TEST(test_release)
{
	ck_assert_int_eq(api_parse_release("null", 4), OCTO_OK);
	ck_assert_int_eq(api_parse_release("", 0), OCTO_OK);
	ck_assert_int_eq(api_parse_release("\"ok\"", 4), OCTO_OK);
	ck_assert_int_eq(api_parse_release("{}", 2), BAD);
	ck_assert_int_eq(api_parse_release("nul", 3), BAD);
	ck_assert_int_eq(api_parse_release("1", 1), BAD);
}
END_TEST

START_TEST(test_renew)
{
	struct api_renew r;

	ck_assert_int_eq(PARSE(renew, "{\"lease_id\":\"550e8400-e29b-41d4-a716-446655440000\",\"expires_at\":\"t\","
	    "\"renew_after_ms\":100,\"x\":true}", &r), OCTO_OK);
	ck_assert_str_eq(r.lease_id, "550e8400-e29b-41d4-a716-446655440000");
	ck_assert_str_eq(r.expires_at, "t");
	ck_assert_int_eq(r.renew_after_ms, 100);
	api_renew_free(&r);
	ck_assert_int_eq(PARSE(renew, "{\"expires_at\":\"t\",\"renew_after_ms\":100}", &r),
	    BAD);
	ck_assert(all_zero(&r, sizeof(r)));
	ck_assert_int_eq(PARSE(renew, "{\"lease_id\":\"l\",\"expires_at\":\"t\"}", &r), BAD);
	ck_assert_int_eq(PARSE(renew, "{\"lease_id\":\"l\",\"expires_at\":1,"
	    "\"renew_after_ms\":100}", &r), BAD);
	ck_assert_int_eq(PARSE(renew, "{\"lease_id\":\"l\",\"expires_at\":\"t\","
	    "\"renew_after_ms\":true}", &r), BAD);
}
END_TEST

#define ST_FREE	"{\"name\":\"a/b\",\"status\":\"free\",\"holder_id\":null," \
		"\"fencing_token\":3,\"expires_at\":null,\"metadata\":null}"
#define ST_HELD	"{\"name\":\"c\",\"status\":\"held\",\"holder_id\":\"f756c399-166b-4d0a-bee2-ec133219fa3a\"," \
		"\"fencing_token\":4,\"expires_at\":\"t\",\"metadata\":\"m\",\"acl\":null}"

START_TEST(test_lock_status)
{
	struct api_lock_status s;

	ck_assert_int_eq(PARSE(lock_status, ST_FREE, &s), OCTO_OK);
	ck_assert_str_eq(s.name, "a/b");
	ck_assert_int_eq(s.held, 0);
	ck_assert_ptr_null(s.holder_id);
	ck_assert_ptr_null(s.expires_at);
	ck_assert_int_eq(s.fencing_token, 3);
	api_lock_status_free(&s);
	ck_assert_int_eq(PARSE(lock_status, ST_HELD, &s), OCTO_OK);
	ck_assert_int_eq(s.held, 1);
	ck_assert_str_eq(s.holder_id, "f756c399-166b-4d0a-bee2-ec133219fa3a");
	ck_assert_str_eq(s.metadata, "m");
	api_lock_status_free(&s);

	/* Required-but-nullable fields must still be present. */
	ck_assert_int_eq(PARSE(lock_status, "{\"name\":\"a\",\"status\":\"free\","
	    "\"fencing_token\":3,\"expires_at\":null,\"metadata\":null}", &s), BAD);
	ck_assert(all_zero(&s, sizeof(s)));
	ck_assert_int_eq(PARSE(lock_status, "{\"name\":\"a\",\"status\":\"gone\","
	    "\"holder_id\":null,\"fencing_token\":3,\"expires_at\":null,\"metadata\":null}",
	    &s), BAD);
	ck_assert_int_eq(PARSE(lock_status, "{\"name\":\"a\",\"status\":\"free\","
	    "\"holder_id\":null,\"fencing_token\":null,\"expires_at\":null,"
	    "\"metadata\":null}", &s), BAD);
	ck_assert_int_eq(PARSE(lock_status, "{\"name\":null,\"status\":\"free\","
	    "\"holder_id\":null,\"fencing_token\":1,\"expires_at\":null,"
	    "\"metadata\":null}", &s), BAD);
}
END_TEST

START_TEST(test_list)
{
	struct api_list l;

	ck_assert_int_eq(PARSE(list, "{\"locks\":[" ST_FREE "," ST_HELD "],\"total\":2,"
	    "\"prefix\":\"svc/\"}", &l), OCTO_OK);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.total, 2);
	ck_assert_str_eq(l.prefix, "svc/");
	ck_assert_str_eq(l.locks[0].name, "a/b");
	ck_assert_str_eq(l.locks[1].name, "c");
	ck_assert_int_eq(l.locks[1].held, 1);
	api_list_free(&l);
	ck_assert_int_eq(PARSE(list, "{\"locks\":[],\"total\":0,\"prefix\":null}", &l),
	    OCTO_OK);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.prefix);
	api_list_free(&l);

	/* One bad entry spoils the whole answer. */
	ck_assert_int_eq(PARSE(list, "{\"locks\":[" ST_FREE ",{\"name\":\"x\"}],"
	    "\"total\":2,\"prefix\":null}", &l), BAD);
	ck_assert(all_zero(&l, sizeof(l)));
	ck_assert_int_eq(PARSE(list, "{\"locks\":[" ST_FREE ",7],\"total\":2,"
	    "\"prefix\":null}", &l), BAD);
	ck_assert_int_eq(PARSE(list, "{\"locks\":{},\"total\":0,\"prefix\":null}", &l), BAD);
	ck_assert_int_eq(PARSE(list, "{\"locks\":[],\"prefix\":null}", &l), BAD);
	ck_assert_int_eq(PARSE(list, "{\"locks\":[],\"total\":0}", &l), BAD);
	ck_assert_int_eq(PARSE(list, "{\"total\":0,\"prefix\":null}", &l), BAD);
}
END_TEST

START_TEST(test_health)
{
	struct api_health h;

	ck_assert_int_eq(PARSE(health, "{\"status\":\"ok\",\"storage\":\"wal\","
	    "\"db_size_bytes\":4096,\"version\":\"1\"}", &h), OCTO_OK);
	ck_assert_str_eq(h.status, "ok");
	ck_assert_str_eq(h.storage, "wal");
	ck_assert_int_eq(h.db_size_bytes, 4096);
	api_health_free(&h);
	ck_assert_int_eq(PARSE(health, "{\"status\":\"ok\",\"storage\":\"wal\"}", &h), BAD);
	ck_assert(all_zero(&h, sizeof(h)));
	ck_assert_int_eq(PARSE(health, "{\"status\":\"ok\",\"storage\":\"wal\","
	    "\"db_size_bytes\":-1}", &h), BAD);
	ck_assert_int_eq(PARSE(health, "{\"status\":true,\"storage\":\"wal\","
	    "\"db_size_bytes\":1}", &h), BAD);
}
END_TEST

START_TEST(test_token)
{
	struct api_token t;

	ck_assert_int_eq(PARSE(token, "{\"token\":\"new-secret\",\"user_id\":\"u\","
	    "\"github_username\":\"g\",\"namespace\":null}", &t), OCTO_OK);
	ck_assert_str_eq(t.token, "new-secret");
	ck_assert_uint_eq(t.token_len, 10);
	ck_assert_str_eq(t.user_id, "u");
	ck_assert_ptr_null(t.namespace);
	api_token_free(&t);
	ck_assert(all_zero(&t, sizeof(t)));
	ck_assert_int_eq(PARSE(token, "{\"token\":\"a\",\"user_id\":\"u\","
	    "\"github_username\":\"g\",\"namespace\":\"ns\"}", &t), OCTO_OK);
	ck_assert_str_eq(t.namespace, "ns");
	api_token_free(&t);

	/* A token that would break the Authorization header is refused. */
	ck_assert_int_eq(PARSE(token, "{\"token\":\"a\\r\\nX: y\",\"user_id\":\"u\","
	    "\"github_username\":\"g\",\"namespace\":null}", &t), BAD);
	ck_assert_int_eq(PARSE(token, "{\"token\":\"\",\"user_id\":\"u\","
	    "\"github_username\":\"g\",\"namespace\":null}", &t), BAD);
	ck_assert_int_eq(PARSE(token, "{\"token\":\"a\",\"user_id\":\"u\","
	    "\"github_username\":\"g\"}", &t), BAD);
	ck_assert_int_eq(PARSE(token, "{\"token\":7,\"user_id\":\"u\","
	    "\"github_username\":\"g\",\"namespace\":null}", &t), BAD);
	ck_assert(all_zero(&t, sizeof(t)));
}
END_TEST

/* Nesting, huge numbers and stray bytes never crash a parser. */
START_TEST(test_hostile)
{
	struct api_list	 l;
	char		*deep;
	size_t		 i, n = 100000;

	deep = malloc(2 * n + 1);
	ck_assert_ptr_nonnull(deep);
	for (i = 0; i < n; i++) {
		deep[i] = '[';
		deep[n + i] = ']';
	}
	deep[2 * n] = '\0';
	ck_assert_int_eq(PARSE(list, deep, &l), BAD);
	free(deep);
	ck_assert_int_eq(api_parse_list("{\"locks\":[],\"total\":0,\"prefix\":null}\0x",
	    38, &l), BAD);
	ck_assert_int_eq(PARSE(list, "{\"locks\":[],\"total\":1e400,\"prefix\":null}", &l),
	    BAD);
	ck_assert_int_eq(PARSE(list, "{\"locks\":[],\"total\":0,\"prefix\":\"\\u0000\"}",
	    &l), BAD);
}
END_TEST

static Suite *
api_suite(void)
{
	Suite	*s = suite_create("api");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_name_valid);
	tcase_add_test(tc, test_name_invalid);
	tcase_add_test(tc, test_lock_path);
	tcase_add_test(tc, test_bodies);
	tcase_add_test(tc, test_lock_path_buf);
	tcase_add_test(tc, test_bodies_buf);
	tcase_add_test(tc, test_param_checks);
	tcase_add_test(tc, test_error_valid);
	tcase_add_test(tc, test_code_check);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_error_invalid);
	tcase_add_test(tc, test_acquire);
	tcase_add_test(tc, test_acquire_invalid);
	tcase_add_test(tc, test_id_format);
	tcase_add_test(tc, test_redact_find);
	tcase_add_test(tc, test_redact_answers);
	tcase_add_test(tc, test_release);
	tcase_add_test(tc, test_renew);
	tcase_add_test(tc, test_lock_status);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_health);
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_hostile);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(api_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
