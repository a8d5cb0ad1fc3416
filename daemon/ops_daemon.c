/* ops_daemon.c - methods about the daemon itself: hello, ping, daemon_status. */
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "local.h"
#include "log.h"
#include "server.h"

#include "autoconf.h"

static struct timespec	ops_started;
static size_t		ops_max_message;

/* Remember start time and limits reported by hello and daemon_status. */
void
ops_daemon_init(size_t max_message)
{
	clock_gettime(CLOCK_MONOTONIC, &ops_started);
	ops_max_message = max_message;
}

/* Log the client's name from hello, printable ASCII only (at most 64 bytes). */
static void
ops_log_client(struct req *r, const char *name, size_t len)
{
	char	buf[65];
	size_t	i;

	for (i = 0; i < len && i < sizeof(buf) - 1; i++)
		buf[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	buf[i] = '\0';
	log_debug("client id=%llu uid=%u pid=%d: hello from \"%s\"",
	    (unsigned long long)conn_id(r->conn), (unsigned)r->uid, (int)r->pid, buf);
}

/* hello: protocol version, daemon version, method list. */
void
op_hello(struct req *r, const msgpack_object *params)
{
	msgpack_packer	*pk;
	uint64_t	 version;
	const char	*client;
	size_t		 clen;
	int		 op, n, e;

	e = octo_proto_get_uint(params, "version", 0, UINT32_MAX, &version);
	if (e == OCTO_ERR_INVALID_ARGUMENT) {
		req_error_param(r, "version", "expected a non-negative integer");
		return;
	}
	if (e == OCTO_OK && version != OCTO_PROTO_VERSION) {
		req_error(r, OCTO_ERR_UNSUPPORTED_VERSION,
		    "protocol version %llu not supported; this daemon speaks %d",
		    (unsigned long long)version, OCTO_PROTO_VERSION);
		return;
	}
	e = octo_proto_get_str(params, "client", &client, &clen);
	if (e == OCTO_ERR_INVALID_ARGUMENT || (e == OCTO_OK && clen > 64)) {
		req_error_param(r, "client", "expected a string of at most 64 bytes");
		return;
	}

	if (e == OCTO_OK)
		ops_log_client(r, client, clen);

	pk = req_result_begin(r);
	msgpack_pack_map(pk, 4);
	octo_proto_pack_str(pk, "protocol");
	msgpack_pack_uint32(pk, OCTO_PROTO_VERSION);
	octo_proto_pack_str(pk, "version");
	octo_proto_pack_str(pk, PACKAGE_VERSION);
	octo_proto_pack_str(pk, "methods");
	for (n = 0, op = 0; op < OCTO_OP__MAX; op++)
		n += dispatch_has_method(op);
	msgpack_pack_array(pk, (size_t)n);
	for (op = 0; op < OCTO_OP__MAX; op++)
		if (dispatch_has_method(op))
			octo_proto_pack_str(pk, octo_proto_method_name(op));
	octo_proto_pack_str(pk, "max_message_size");
	msgpack_pack_uint64(pk, ops_max_message);
	req_result_end(r);
}

/* ping: echo the optional payload. */
void
op_ping(struct req *r, const msgpack_object *params)
{
	const msgpack_object	*payload;
	msgpack_packer		*pk;

	if (octo_proto_get(params, "payload", &payload) != OCTO_OK)
		payload = NULL;
	pk = req_result_begin(r);
	if (payload == NULL)
		msgpack_pack_map(pk, 0);
	else {
		msgpack_pack_map(pk, 1);
		octo_proto_pack_str(pk, "payload");
		msgpack_pack_object(pk, *payload);
	}
	req_result_end(r);
}

/* daemon_status "clients": slot limits in force, their use, refusals. */
static void
ops_pack_clients(msgpack_packer *pk)
{
	struct server_stats st;

	server_stats(&st);
	octo_proto_pack_str(pk, "clients");
	msgpack_pack_map(pk, 9);
	octo_proto_pack_str(pk, "max_clients");
	msgpack_pack_uint32(pk, st.max_clients);
	octo_proto_pack_str(pk, "max_clients_per_uid");
	msgpack_pack_uint32(pk, st.max_clients_per_uid);
	octo_proto_pack_str(pk, "reserved_admin_clients");
	msgpack_pack_uint32(pk, st.reserved_admin_clients);
	octo_proto_pack_str(pk, "admin_connections");
	msgpack_pack_uint32(pk, st.admin_connections);
	octo_proto_pack_str(pk, "top_uid_connections");
	msgpack_pack_uint32(pk, st.top_uid_connections);
	octo_proto_pack_str(pk, "refused_per_uid");
	msgpack_pack_uint64(pk, st.refused_per_uid);
	octo_proto_pack_str(pk, "refused_reserved");
	msgpack_pack_uint64(pk, st.refused_reserved);
	octo_proto_pack_str(pk, "refused_full");
	msgpack_pack_uint64(pk, st.refused_full);
	octo_proto_pack_str(pk, "refused_groups");
	msgpack_pack_uint64(pk, st.refused_groups);
}

/* daemon_status: version, uptime, connections, counters per method. */
void
op_daemon_status(struct req *r, const msgpack_object *params)
{
	struct timespec	 now;
	msgpack_packer	*pk;
	uint64_t	 up;
	int		 op, n;

	(void)params;
	clock_gettime(CLOCK_MONOTONIC, &now);
	up = (uint64_t)(now.tv_sec - ops_started.tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - ops_started.tv_nsec) / 1000000);
	pk = req_result_begin(r);
	if (!req_is_admin(r)) {
		/* The full view (pids, counters) is for administrators. */
		msgpack_pack_map(pk, 2);
		octo_proto_pack_str(pk, "version");
		octo_proto_pack_str(pk, PACKAGE_VERSION);
		octo_proto_pack_str(pk, "uptime_ms");
		msgpack_pack_uint64(pk, up);
		req_result_end(r);
		return;
	}
	msgpack_pack_map(pk, 8 + (local_active() ? 1 : 0));
	octo_proto_pack_str(pk, "version");
	octo_proto_pack_str(pk, PACKAGE_VERSION);
	octo_proto_pack_str(pk, "pid");
	msgpack_pack_int32(pk, (int32_t)getpid());
	octo_proto_pack_str(pk, "uptime_ms");
	msgpack_pack_uint64(pk, up);
	octo_proto_pack_str(pk, "connections");
	msgpack_pack_uint32(pk, conn_count());
	octo_proto_pack_str(pk, "connections_total");
	msgpack_pack_uint64(pk, conn_total());
	octo_proto_pack_str(pk, "requests");
	for (n = 0, op = 0; op < OCTO_OP__MAX; op++)
		n += dispatch_has_method(op);
	msgpack_pack_map(pk, (size_t)n);
	for (op = 0; op < OCTO_OP__MAX; op++) {
		if (!dispatch_has_method(op))
			continue;
		octo_proto_pack_str(pk, octo_proto_method_name(op));
		msgpack_pack_uint64(pk, dispatch_count(op));
	}
	octo_proto_pack_str(pk, "errors");
	msgpack_pack_uint64(pk, dispatch_errors());
	ops_pack_clients(pk);
	if (local_active())
		local_pack_status(pk);
	req_result_end(r);
}
