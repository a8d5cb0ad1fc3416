/* dispatch.c - the method table, policy checks and the request/reply life cycle. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "log.h"

/* Indexed by method number; rows with fn NULL are answered unknown_method. */
static const struct dispatch_entry dispatch_table[OCTO_OP__MAX] = {
	[OCTO_OP_HELLO] = { "hello", op_hello, 0 },
	[OCTO_OP_PING] = { "ping", op_ping, 0 },
	[OCTO_OP_DAEMON_STATUS] = { "daemon_status", op_daemon_status, 0 },
	[OCTO_OP_HEALTH] = { "health", op_health, 0 },
	[OCTO_OP_ACQUIRE] = { "acquire", op_acquire, 0 },
	[OCTO_OP_RELEASE] = { "release", op_release, 0 },
	[OCTO_OP_RENEW] = { "renew", op_renew, 0 },
	[OCTO_OP_STATUS] = { "status", op_status, 0 },
	[OCTO_OP_LIST] = { "list", op_list, 0 },
	[OCTO_OP_ROTATE_TOKEN] = { "rotate_token", op_rotate_token, DISPATCH_ADMIN },
};

static uint64_t		 dispatch_counts[OCTO_OP__MAX];
static uint64_t		 dispatch_unknown;
static uint64_t		 dispatch_nerrors;
static struct req	*req_free;
static uid_t		 dispatch_admins[CONFIG_MAX_UIDS];
static unsigned		 dispatch_nadmins;

/* Admin uids besides root (config admin_uids). */
void
dispatch_set_admins(const uid_t *uids, unsigned n)
{
	memcpy(dispatch_admins, uids, n * sizeof(*uids));
	dispatch_nadmins = n;
}

/* Root or a configured admin uid. */
int
req_is_admin(const struct req *r)
{
	unsigned i;

	if (r->uid == 0)
		return 1;
	for (i = 0; i < dispatch_nadmins; i++)
		if (dispatch_admins[i] == r->uid)
			return 1;
	return 0;
}

/* True when the table has a handler for op. */
int
dispatch_has_method(int op)
{
	return op >= 0 && op < OCTO_OP__MAX && dispatch_table[op].fn != NULL;
}

/* Requests served per method. */
uint64_t
dispatch_count(int op)
{
	if (op < 0 || op >= OCTO_OP__MAX)
		return dispatch_unknown;
	return dispatch_counts[op];
}

/* Error replies sent. */
uint64_t
dispatch_errors(void)
{
	return dispatch_nerrors;
}

/* Free the request pool (shutdown, for leak checkers). */
void
dispatch_free(void)
{
	struct req *r;

	while ((r = req_free) != NULL) {
		req_free = r->next;
		free(r);
	}
}

/* Release r after its reply went to the connection. */
static void
req_finish(struct req *r)
{
	struct conn *c = r->conn;

	conn_message_done(c, 1);
	conn_unref(c);
	r->conn = NULL;
	r->next = req_free;
	req_free = r;
}

/* Start a success reply. */
msgpack_packer *
req_result_begin(struct req *r)
{
	msgpack_packer *pk = conn_packer(r->conn);

	octo_proto_pack_result(pk, r->msgid);
	return pk;
}

/* The result is packed. */
void
req_result_end(struct req *r)
{
	req_finish(r);
}

/* Format an error message; the text may quote client input, so keep it printable. */
static void
req_vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	char *p;

	vsnprintf(buf, len, fmt, ap);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

/* Finish with an error. */
void
req_error(struct req *r, int err, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	dispatch_nerrors++;
	if (fmt != NULL) {
		va_start(ap, fmt);
		req_vformat(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	octo_proto_pack_error(conn_packer(r->conn), r->msgid, err,
	    fmt != NULL ? msg : NULL);
	req_finish(r);
}

/* Finish with invalid_argument naming the parameter. */
void
req_error_param(struct req *r, const char *param, const char *fmt, ...)
{
	msgpack_packer	*pk = conn_packer(r->conn);
	char		 msg[256];
	size_t		 n;
	va_list		 ap;

	dispatch_nerrors++;
	n = (size_t)snprintf(msg, sizeof(msg), "%s: ", param);
	if (n >= sizeof(msg))
		n = sizeof(msg) - 1;
	va_start(ap, fmt);
	req_vformat(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	octo_proto_pack_error_begin(pk, r->msgid, OCTO_ERR_INVALID_ARGUMENT, msg, 1);
	octo_proto_pack_str(pk, "param");
	octo_proto_pack_str(pk, param);
	msgpack_pack_nil(pk);
	req_finish(r);
}

/* Server text passed on to clients: a whole message stays far below any frame limit. */
#define DISPATCH_UPSTREAM_TEXT_MAX	511	/* bytes; liboctostore keeps 511 */
#define DISPATCH_REQUEST_ID_MAX		128

/* Length of s cut to at most max bytes, between UTF-8 characters. */
static size_t
dispatch_utf8_cut(const char *s, size_t max)
{
	size_t	n = strlen(s);

	if (n <= max)
		return n;
	/* Back off continuation bytes (10xxxxxx): the cut lands before a lead byte. */
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Finish with an error from the OctoStore server, passed through. */
void
req_error_upstream(struct req *r, int err, const char *upstream_code,
    const char *message, int64_t retry_after_ms, const char *request_id)
{
	msgpack_packer	*pk = conn_packer(r->conn);
	unsigned	 extra;

	if (err != OCTO_ERR_UPSTREAM_OTHER || !api_code_check(upstream_code))
		upstream_code = NULL;
	if (message == NULL)
		message = octo_strerror(err);
	/* A request id is all or nothing: a cut one would name another request. */
	if (request_id != NULL && strlen(request_id) > DISPATCH_REQUEST_ID_MAX)
		request_id = NULL;
	extra = (retry_after_ms >= 0) + (request_id != NULL) + (upstream_code != NULL);
	dispatch_nerrors++;
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint8(pk, OCTO_MSG_RESPONSE);
	msgpack_pack_uint32(pk, r->msgid);
	msgpack_pack_map(pk, 2 + extra);
	octo_proto_pack_str(pk, "code");
	octo_proto_pack_str(pk, octo_err_name(err));
	if (upstream_code != NULL) {
		octo_proto_pack_str(pk, "upstream_code");
		octo_proto_pack_str(pk, upstream_code);
	}
	octo_proto_pack_str(pk, "message");
	octo_proto_pack_strn(pk, message, dispatch_utf8_cut(message,
	    DISPATCH_UPSTREAM_TEXT_MAX));
	if (retry_after_ms >= 0) {
		octo_proto_pack_str(pk, "retry_after_ms");
		msgpack_pack_int64(pk, retry_after_ms);
	}
	if (request_id != NULL) {
		octo_proto_pack_str(pk, "request_id");
		octo_proto_pack_str(pk, request_id);
	}
	msgpack_pack_nil(pk);
	req_finish(r);
}

/* Handle one decoded request: count, check policy, run the handler. */
void
dispatch_request(struct conn *c, const struct octo_msg *m)
{
	const struct dispatch_entry	*e = NULL;
	struct req			*r;
	int				 op;

	if ((r = req_free) != NULL)
		req_free = r->next;
	else if ((r = malloc(sizeof(*r))) == NULL) {
		octo_proto_pack_error(conn_packer(c), m->msgid, OCTO_ERR_NOMEM, NULL);
		conn_message_done(c, 0);
		return;
	}
	conn_ref(c);
	conn_request_begin(c);
	r->conn = c;
	r->msgid = m->msgid;
	r->uid = conn_uid(c);
	r->gid = conn_gid(c);
	r->pid = conn_pid(c);
	r->next = NULL;

	op = octo_proto_method_lookup(m->method, m->method_len);
	if (op >= 0)
		e = &dispatch_table[op];
	r->op = op;
	if (e == NULL || e->fn == NULL) {
		dispatch_unknown++;
		req_error(r, OCTO_ERR_UNKNOWN_METHOD, "unknown method \"%.*s\"",
		    (int)m->method_len, m->method);
		return;
	}
	dispatch_counts[op]++;
	if ((e->flags & DISPATCH_ADMIN) && !req_is_admin(r)) {
		log_info("client pid=%d uid=%u: %s refused, not an admin", (int)r->pid,
		    (unsigned)r->uid, e->name);
		req_error(r, OCTO_ERR_PERMISSION_DENIED, "%s is for administrators",
		    e->name);
		return;
	}
	e->fn(r, m->params);
}
