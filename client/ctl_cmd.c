/* ctl_cmd.c - octostorectl commands: one call each, printed as text or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ping [PAYLOAD]: the echo must come back unchanged. */
int
ctl_ping(struct octo_client *c, char **argv)
{
	const char	*payload = argv[0];
	size_t		 len = payload != NULL ? strlen(payload) : 0, n = 0;
	char		*echo = NULL;
	json_t		*o;
	int		 r;

	if (payload != NULL && (echo = malloc(len + 1)) == NULL) {
		fprintf(stderr, "octostorectl: ping: out of memory\n");
		return CTL_EXIT_SOFTWARE;
	}
	if ((r = octo_ping(c, payload, len, echo, len, &n)) != OCTO_OK) {
		free(echo);
		return ctl_fail(c, "ping", r);
	}
	if (payload != NULL && (n != len || memcmp(echo, payload, len) != 0)) {
		free(echo);
		fprintf(stderr, "octostorectl: ping: the echo differs from the payload\n");
		return CTL_EXIT_SOFTWARE;
	}
	if (ctl_opts.json) {
		o = json_object();
		if (payload != NULL)
			ctl_json_strn(o, "payload", echo, n);
		ctl_json_print(o);
	} else if (payload != NULL) {
		fputs("pong ", stdout);
		ctl_put_esc(stdout, echo, n);
		putchar('\n');
	} else
		puts("pong");
	free(echo);
	return CTL_EXIT_OK;
}

/* daemon-status: counters. */
int
ctl_daemon_status(struct octo_client *c, char **argv)
{
	struct octo_daemon_status	 st;
	json_t				*o, *req;
	size_t				 i;
	int				 r;

	(void)argv;
	if ((r = octo_daemon_status(c, &st)) != OCTO_OK)
		return ctl_fail(c, "daemon-status", r);
	if (ctl_opts.json) {
		o = json_object();
		ctl_json_str(o, "version", st.version);
		ctl_json_num(o, "uptime_ms", (long long)st.uptime_ms);
		if (!st.full) {
			ctl_json_print(o);
			return CTL_EXIT_OK;
		}
		ctl_json_num(o, "pid", st.pid);
		ctl_json_num(o, "connections", (long long)st.connections);
		ctl_json_num(o, "connections_total", (long long)st.connections_total);
		ctl_json_num(o, "errors", (long long)st.errors);
		req = json_object();
		for (i = 0; i < st.nrequests; i++)
			ctl_json_num(req, st.requests[i].method,
			    (long long)st.requests[i].count);
		json_object_set_new(o, "requests", req);
		if (st.clients.present) {
			req = json_object();
			ctl_json_num(req, "max_clients", (long long)st.clients.max_clients);
			ctl_json_num(req, "max_clients_per_uid",
			    (long long)st.clients.max_clients_per_uid);
			ctl_json_num(req, "reserved_admin_clients",
			    (long long)st.clients.reserved_admin_clients);
			ctl_json_num(req, "admin_connections",
			    (long long)st.clients.admin_connections);
			ctl_json_num(req, "top_uid_connections",
			    (long long)st.clients.top_uid_connections);
			ctl_json_num(req, "refused_per_uid", (long long)st.clients.refused_per_uid);
			ctl_json_num(req, "refused_reserved",
			    (long long)st.clients.refused_reserved);
			ctl_json_num(req, "refused_full", (long long)st.clients.refused_full);
			ctl_json_num(req, "refused_groups", (long long)st.clients.refused_groups);
			json_object_set_new(o, "clients", req);
		}
		if (st.names.present) {
			req = json_object();
			ctl_json_num(req, "count", (long long)st.names.count);
			ctl_json_num(req, "max_names", (long long)st.names.max_names);
			ctl_json_num(req, "max_names_per_uid", (long long)st.names.max_names_per_uid);
			json_object_set_new(o, "names", req);
		}
		ctl_json_print(o);
		return CTL_EXIT_OK;
	}
	ctl_kv("version", st.version);
	ctl_kv_num("uptime_ms", (long long)st.uptime_ms);
	if (!st.full)
		return CTL_EXIT_OK;
	ctl_kv_num("pid", st.pid);
	ctl_kv_num("connections", (long long)st.connections);
	ctl_kv_num("connections_total", (long long)st.connections_total);
	ctl_kv_num("errors", (long long)st.errors);
	puts("requests:");
	for (i = 0; i < st.nrequests; i++) {
		fputs("  ", stdout);
		ctl_put_esc(stdout, st.requests[i].method, strlen(st.requests[i].method));
		printf(": %llu\n", (unsigned long long)st.requests[i].count);
	}
	if (st.clients.present) {
		ctl_kv_num("clients.max_clients", (long long)st.clients.max_clients);
		ctl_kv_num("clients.max_clients_per_uid",
		    (long long)st.clients.max_clients_per_uid);
		ctl_kv_num("clients.reserved_admin_clients",
		    (long long)st.clients.reserved_admin_clients);
		ctl_kv_num("clients.admin_connections", (long long)st.clients.admin_connections);
		ctl_kv_num("clients.top_uid_connections",
		    (long long)st.clients.top_uid_connections);
		ctl_kv_num("clients.refused_per_uid", (long long)st.clients.refused_per_uid);
		ctl_kv_num("clients.refused_reserved", (long long)st.clients.refused_reserved);
		ctl_kv_num("clients.refused_full", (long long)st.clients.refused_full);
		ctl_kv_num("clients.refused_groups", (long long)st.clients.refused_groups);
	}
	if (st.names.present) {
		ctl_kv_num("names.count", (long long)st.names.count);
		ctl_kv_num("names.max_names", (long long)st.names.max_names);
		ctl_kv_num("names.max_names_per_uid", (long long)st.names.max_names_per_uid);
	}
	return CTL_EXIT_OK;
}

/* "yes", "no" or "unknown" for a tri-state. */
static const char *
yesno(int v)
{
	return v < 0 ? "unknown" : v ? "yes" : "no";
}

/* health: the server as the daemon sees it. */
int
ctl_health(struct octo_client *c, char **argv)
{
	struct octo_health	 h;
	json_t			*o, *up;
	int			 r;

	(void)argv;
	if ((r = octo_health(c, &h)) != OCTO_OK)
		return ctl_fail(c, "health", r);
	if (ctl_opts.json) {
		up = json_object();
		json_object_set_new(up, "reachable", json_boolean(h.reachable));
		json_object_set_new(up, "auth_ok", h.auth_ok < 0 ? json_null() :
		    json_boolean(h.auth_ok));
		ctl_json_str_or_null(up, "last_error", h.last_error);
		ctl_json_str_or_null(up, "status", h.upstream_status);
		ctl_json_str_or_null(up, "storage", h.storage);
		json_object_set_new(up, "db_size_bytes", h.db_size_bytes < 0 ?
		    json_null() : json_integer(h.db_size_bytes));
		o = json_object();
		ctl_json_str(o, "status", h.status);
		json_object_set_new(o, "upstream", up);
		ctl_json_str(o, "base_url", h.base_url);
		ctl_json_print(o);
		return CTL_EXIT_OK;
	}
	ctl_kv("status", h.status);
	ctl_kv("base_url", h.base_url);
	ctl_kv("upstream.reachable", yesno(h.reachable));
	ctl_kv("upstream.auth_ok", yesno(h.auth_ok));
	if (h.upstream_status[0] != '\0')
		ctl_kv("upstream.status", h.upstream_status);
	if (h.storage[0] != '\0')
		ctl_kv("upstream.storage", h.storage);
	if (h.db_size_bytes >= 0)
		ctl_kv_num("upstream.db_size_bytes", h.db_size_bytes);
	if (h.last_error[0] != '\0')
		ctl_kv("upstream.last_error", h.last_error);
	return CTL_EXIT_OK;
}

/* The holder's local view as JSON: { state, pid, pid_stale, uid, detached }, or null. */
static json_t *
local_json(const struct octo_local_holder *lh)
{
	json_t *o;

	if (!lh->present)
		return json_null();
	o = json_object();
	ctl_json_str(o, "state", lh->state);
	json_object_set_new(o, "pid", lh->pid < 0 ? json_null() : json_integer(lh->pid));
	json_object_set_new(o, "pid_stale", json_boolean(lh->pid_stale));
	json_object_set_new(o, "uid", lh->uid < 0 ? json_null() : json_integer(lh->uid));
	json_object_set_new(o, "detached", lh->detached < 0 ? json_null() :
	    json_boolean(lh->detached));
	return o;
}

/* The holder's local view as "local.KEY: value" lines; nothing when absent. */
static void
local_text(const struct octo_local_holder *lh)
{
	if (!lh->present)
		return;
	ctl_kv("local.state", lh->state);
	if (lh->pid >= 0)
		ctl_kv_num("local.pid", lh->pid);
	if (lh->pid_stale)
		ctl_kv("local.pid_stale", "yes");
	if (lh->uid >= 0)
		ctl_kv_num("local.uid", lh->uid);
	if (lh->detached >= 0)
		ctl_kv("local.detached", lh->detached ? "yes" : "no");
}

/* acquire NAME: exit 0 when acquired, 10 when someone else has it. */
int
ctl_acquire(struct octo_client *c, char **argv)
{
	struct octo_acquire_result	 a;
	struct octo_acquire_opts	 ao;
	json_t				*o;
	int				 r;

	memset(&ao, 0, sizeof(ao));
	ao.ttl = ctl_opts.ttl;
	ao.metadata = ctl_opts.metadata;
	ao.lock_delay = ctl_opts.lock_delay;
	ao.wait_ms = ctl_opts.wait_ms > 0 ? ctl_opts.wait_ms : 0;
	ao.detach = ctl_opts.detach;
	ao.hold_ms = ctl_opts.detach ? ctl_opts.hold_ms : 0;
	r = octo_acquire_ex(c, argv[0], &ao, &a);
	if (r == OCTO_ERR_TIMEOUT && ao.wait_ms > 0) {
		ctl_fail(c, "acquire", r);
		return CTL_EXIT_WAIT;
	}
	if (r != OCTO_OK && r != OCTO_ERR_LOCK_HELD && r != OCTO_ERR_LOCK_DELAYED)
		return ctl_fail(c, "acquire", r);
	if (ctl_opts.json) {
		o = json_object();
		switch (a.status) {
		case OCTO_ACQUIRE_ACQUIRED:
			ctl_json_str(o, "status", "acquired");
			ctl_json_str(o, "name", a.name);
			ctl_json_str(o, "lease_id", a.lease_id);
			ctl_json_num(o, "fencing_token", (long long)a.fencing_token);
			ctl_json_str_or_null(o, "expires_at", a.expires_at);
			ctl_json_num(o, "renew_after_ms", a.renew_after_ms);
			break;
		case OCTO_ACQUIRE_HELD:
			ctl_json_str(o, "status", "held");
			ctl_json_str(o, "name", a.name);
			ctl_json_str_or_null(o, "holder_id", a.holder_id);
			ctl_json_str_or_null(o, "expires_at", a.expires_at);
			ctl_json_num(o, "retry_after_ms", a.retry_after_ms);
			json_object_set_new(o, "local", local_json(&a.local));
			break;
		default:
			ctl_json_str(o, "status", "delayed");
			ctl_json_str(o, "name", a.name);
			ctl_json_str_or_null(o, "available_at", a.available_at);
			ctl_json_num(o, "retry_after_ms", a.retry_after_ms);
			break;
		}
		if (a.status != OCTO_ACQUIRE_DELAYED) {
			if (a.has_metadata)
				ctl_json_strn(o, "metadata", a.metadata, a.metadata_len);
			else
				json_object_set_new(o, "metadata", json_null());
		}
		ctl_json_print(o);
		return ctl_exit_status(r);
	}
	switch (a.status) {
	case OCTO_ACQUIRE_ACQUIRED:
		ctl_kv("acquired", a.name);
		ctl_kv("lease_id", a.lease_id);
		ctl_kv_num("fencing_token", (long long)a.fencing_token);
		ctl_kv("expires_at", a.expires_at);
		if (a.renew_after_ms >= 0)
			ctl_kv_num("renew_after_ms", a.renew_after_ms);
		break;
	case OCTO_ACQUIRE_HELD:
		ctl_kv("held", a.name);
		ctl_kv("holder_id", a.holder_id);
		ctl_kv("expires_at", a.expires_at);
		if (a.retry_after_ms >= 0)
			ctl_kv_num("retry_after_ms", a.retry_after_ms);
		local_text(&a.local);
		break;
	default:
		ctl_kv("delayed", a.name);
		ctl_kv("available_at", a.available_at);
		if (a.retry_after_ms >= 0)
			ctl_kv_num("retry_after_ms", a.retry_after_ms);
		break;
	}
	if (a.has_metadata)
		ctl_kv_len("metadata", a.metadata, a.metadata_len);
	return ctl_exit_status(r);
}

/* release NAME LEASE_ID */
int
ctl_release(struct octo_client *c, char **argv)
{
	json_t	*o;
	int	 r;

	if ((r = octo_release(c, argv[0], argv[1])) != OCTO_OK)
		return ctl_fail(c, "release", r);
	if (ctl_opts.json) {
		o = json_object();
		ctl_json_str(o, "name", argv[0]);
		json_object_set_new(o, "released", json_true());
		ctl_json_print(o);
	} else
		ctl_kv("released", argv[0]);
	return CTL_EXIT_OK;
}

/* renew NAME LEASE_ID */
int
ctl_renew(struct octo_client *c, char **argv)
{
	struct octo_renew_result	 rn;
	json_t				*o;
	int				 r;

	if ((r = octo_renew(c, argv[0], argv[1], ctl_opts.ttl, &rn)) != OCTO_OK)
		return ctl_fail(c, "renew", r);
	if (ctl_opts.json) {
		o = json_object();
		ctl_json_str(o, "name", rn.name);
		ctl_json_str(o, "lease_id", rn.lease_id);
		ctl_json_str(o, "expires_at", rn.expires_at);
		ctl_json_num(o, "renew_after_ms", rn.renew_after_ms);
		ctl_json_print(o);
		return CTL_EXIT_OK;
	}
	ctl_kv("renewed", rn.name);
	ctl_kv("lease_id", rn.lease_id);
	ctl_kv("expires_at", rn.expires_at);
	if (rn.renew_after_ms >= 0)
		ctl_kv_num("renew_after_ms", rn.renew_after_ms);
	return CTL_EXIT_OK;
}

/* One lock as a JSON object. */
static json_t *
lock_json(const struct octo_lock_info *li)
{
	json_t *o = json_object();

	ctl_json_str(o, "name", li->name);
	ctl_json_str(o, "status", li->held ? "held" : li->lost ? "lost" : "free");
	ctl_json_str_or_null(o, "holder_id", li->holder_id);
	ctl_json_num(o, "fencing_token", (long long)li->fencing_token);
	ctl_json_str_or_null(o, "expires_at", li->expires_at);
	if (li->has_metadata)
		ctl_json_strn(o, "metadata", li->metadata, li->metadata_len);
	else
		json_object_set_new(o, "metadata", json_null());
	json_object_set_new(o, "local", local_json(&li->local));
	return o;
}

/* status NAME */
int
ctl_status(struct octo_client *c, char **argv)
{
	struct octo_lock_info	li;
	int			r;

	if ((r = octo_status(c, argv[0], &li)) != OCTO_OK)
		return ctl_fail(c, "status", r);
	if (ctl_opts.json) {
		ctl_json_print(lock_json(&li));
		return CTL_EXIT_OK;
	}
	ctl_kv("name", li.name);
	ctl_kv("status", li.held ? "held" : li.lost ? "lost" : "free");
	if (li.holder_id[0] != '\0')
		ctl_kv("holder_id", li.holder_id);
	ctl_kv_num("fencing_token", (long long)li.fencing_token);
	if (li.expires_at[0] != '\0')
		ctl_kv("expires_at", li.expires_at);
	if (li.has_metadata)
		ctl_kv_len("metadata", li.metadata, li.metadata_len);
	local_text(&li.local);
	return CTL_EXIT_OK;
}

/* Escaped field of a list line, "-" when empty. */
static void
list_field(const char *s, int last)
{
	if (*s == '\0')
		putchar('-');
	else
		ctl_put_esc(stdout, s, strlen(s));
	putchar(last ? '\n' : '\t');
}

/* The local columns of a list line: state, pid, uid, detached; "-" for each absent. */
static void
list_local(const struct octo_local_holder *lh)
{
	list_field(lh->present ? lh->state : "", 0);
	if (lh->pid >= 0)
		printf("%lld%s\t", (long long)lh->pid, lh->pid_stale ? "(stale)" : "");
	else
		fputs("-\t", stdout);
	if (lh->uid >= 0)
		printf("%lld\t", (long long)lh->uid);
	else
		fputs("-\t", stdout);
	puts(lh->detached < 0 ? "-" : lh->detached ? "yes" : "no");
}

/* list [--prefix P]: one line per lock. */
int
ctl_list(struct octo_client *c, char **argv)
{
	struct octo_lock_list	 l;
	json_t			*o, *a;
	size_t			 i;
	int			 r;

	(void)argv;
	if ((r = octo_list(c, ctl_opts.prefix, &l)) != OCTO_OK)
		return ctl_fail(c, "list", r);
	if (ctl_opts.json) {
		a = json_array();
		for (i = 0; i < l.nlocks; i++)
			json_array_append_new(a, lock_json(&l.locks[i]));
		o = json_object();
		json_object_set_new(o, "locks", a);
		ctl_json_num(o, "total", (long long)l.total);
		if (l.has_prefix)
			ctl_json_str(o, "prefix", l.prefix);
		else
			json_object_set_new(o, "prefix", json_null());
		ctl_json_print(o);
	} else {
		puts("NAME\tSTATUS\tFENCING_TOKEN\tEXPIRES_AT\tHOLDER_ID\t"
		    "LOCAL\tPID\tUID\tDETACHED");
		for (i = 0; i < l.nlocks; i++) {
			list_field(l.locks[i].name, 0);
			printf("%s\t%llu\t", l.locks[i].held ? "held" :
			    l.locks[i].lost ? "lost" : "free",
			    (unsigned long long)l.locks[i].fencing_token);
			list_field(l.locks[i].expires_at, 0);
			list_field(l.locks[i].holder_id, 0);
			list_local(&l.locks[i].local);
		}
	}
	octo_list_free(&l);
	return CTL_EXIT_OK;
}

/* rotate-token (admin only) */
int
ctl_rotate_token(struct octo_client *c, char **argv)
{
	struct octo_rotate_result	 rt;
	json_t				*o;
	int				 r;

	(void)argv;
	if ((r = octo_rotate_token(c, &rt)) != OCTO_OK)
		return ctl_fail(c, "rotate-token", r);
	if (ctl_opts.json) {
		o = json_object();
		json_object_set_new(o, "rotated", json_true());
		ctl_json_str_or_null(o, "user_id", rt.user_id);
		ctl_json_str_or_null(o, "namespace", rt.ns);
		json_object_set_new(o, "persisted", json_boolean(rt.persisted));
		ctl_json_print(o);
		return CTL_EXIT_OK;
	}
	puts("token rotated");
	if (rt.user_id[0] != '\0')
		ctl_kv("user_id", rt.user_id);
	if (rt.ns[0] != '\0')
		ctl_kv("namespace", rt.ns);
	ctl_kv("persisted", rt.persisted ? "yes" : "no");
	return CTL_EXIT_OK;
}
