/* err.c - names, messages and families of the shared error codes. */
#include <string.h>

#include "octostore_err.h"

struct err_text {
	const char	*name;
	const char	*msg;
	enum octo_err_class class;
};

#define E(code, n, m, c) [code] = { n, m, c }

/* Indexed by enum octo_err; check_err.c verifies every code has an entry. */
static const struct err_text err_table[OCTO_ERR__MAX] = {
	E(OCTO_OK, "ok", "success", OCTO_CLASS_OK),
	E(OCTO_ERR_INTERNAL, "internal", "internal error", OCTO_CLASS_OTHER),
	E(OCTO_ERR_SYSTEM, "system_error", "system call failed", OCTO_CLASS_OTHER),
	E(OCTO_ERR_NOMEM, "out_of_memory", "out of memory", OCTO_CLASS_OTHER),
	E(OCTO_ERR_PROTOCOL, "protocol_error", "malformed message", OCTO_CLASS_OTHER),
	E(OCTO_ERR_TOO_LARGE, "message_too_large", "message exceeds a size limit",
	    OCTO_CLASS_VALIDATION),
	E(OCTO_ERR_UNKNOWN_METHOD, "unknown_method", "unknown method", OCTO_CLASS_OTHER),
	E(OCTO_ERR_INVALID_ARGUMENT, "invalid_argument", "invalid argument",
	    OCTO_CLASS_VALIDATION),
	E(OCTO_ERR_UNAVAILABLE, "unavailable", "service unavailable", OCTO_CLASS_NETWORK),
	E(OCTO_ERR_TIMEOUT, "timeout", "timed out", OCTO_CLASS_NETWORK),
	E(OCTO_ERR_BUSY, "busy", "too busy: a limit was reached", OCTO_CLASS_OTHER),
	E(OCTO_ERR_PERMISSION_DENIED, "permission_denied", "permission denied",
	    OCTO_CLASS_AUTH),
	E(OCTO_ERR_NOT_OWNER, "not_owner", "lease is owned by another client",
	    OCTO_CLASS_LOCK),
	E(OCTO_ERR_BAD_UPSTREAM_RESPONSE, "bad_upstream_response",
	    "malformed response from the OctoStore server", OCTO_CLASS_NETWORK),
	E(OCTO_ERR_UNSUPPORTED_VERSION, "unsupported_version",
	    "unsupported protocol version", OCTO_CLASS_OTHER),
	E(OCTO_ERR_CLOSED, "connection_closed", "connection closed", OCTO_CLASS_NETWORK),
	E(OCTO_ERR_AGAIN, "would_block", "no complete message yet", OCTO_CLASS_OTHER),
	E(OCTO_ERR_SHUTTING_DOWN, "shutting_down", "daemon is shutting down",
	    OCTO_CLASS_NETWORK),
	E(OCTO_ERR_LOCK_HELD, "held", "lock is held by another holder",
	    OCTO_CLASS_LOCK_HELD),
	E(OCTO_ERR_LEASE_LOST, "lease_lost", "lease lost", OCTO_CLASS_LOCK),
	E(OCTO_ERR_CONFIG, "config_error", "invalid configuration", OCTO_CLASS_VALIDATION),
	E(OCTO_ERR_UNTRUSTED_DAEMON, "untrusted_daemon",
	    "the process answering the socket is not a trusted daemon", OCTO_CLASS_AUTH),
	E(OCTO_ERR_AUTHENTICATION_REQUIRED, "authentication_required",
	    "authentication required", OCTO_CLASS_AUTH),
	E(OCTO_ERR_AUTHENTICATION_FAILED, "authentication_failed",
	    "authentication failed", OCTO_CLASS_AUTH),
	E(OCTO_ERR_FORBIDDEN, "forbidden", "forbidden", OCTO_CLASS_AUTH),
	E(OCTO_ERR_INVALID_INPUT, "invalid_input", "invalid input", OCTO_CLASS_VALIDATION),
	E(OCTO_ERR_INVALID_TTL, "invalid_ttl", "invalid TTL", OCTO_CLASS_VALIDATION),
	E(OCTO_ERR_INVALID_LOCK_NAME, "invalid_lock_name", "invalid lock name",
	    OCTO_CLASS_VALIDATION),
	E(OCTO_ERR_NOT_FOUND, "not_found", "not found", OCTO_CLASS_LOCK),
	E(OCTO_ERR_SESSION_EXPIRED, "session_expired", "session expired", OCTO_CLASS_LOCK),
	E(OCTO_ERR_LEASE_NOT_CURRENT, "lease_not_current", "lease is not current",
	    OCTO_CLASS_LOCK),
	E(OCTO_ERR_CONFLICT, "conflict", "conflict", OCTO_CLASS_LOCK),
	E(OCTO_ERR_CAPACITY_EXCEEDED, "capacity_exceeded", "server capacity exceeded",
	    OCTO_CLASS_OTHER),
	E(OCTO_ERR_LOCK_LIMIT_EXCEEDED, "lock_limit_exceeded", "lock limit exceeded",
	    OCTO_CLASS_LOCK),
	E(OCTO_ERR_RATE_LIMITED, "rate_limited", "rate limited", OCTO_CLASS_OTHER),
	E(OCTO_ERR_UPSTREAM_UNAVAILABLE, "upstream_unavailable",
	    "OctoStore server dependency unavailable", OCTO_CLASS_NETWORK),
	E(OCTO_ERR_UPSTREAM_INTERNAL, "internal_error", "OctoStore server internal error",
	    OCTO_CLASS_OTHER),
	E(OCTO_ERR_UPSTREAM_OTHER, "upstream_error", "OctoStore server error",
	    OCTO_CLASS_OTHER),
	E(OCTO_ERR_LOCK_DELAYED, "delayed", "lock is in its release delay",
	    OCTO_CLASS_LOCK_HELD),
};

#undef E

static const struct err_text *
err_lookup(int err)
{
	if (err < 0 || err >= OCTO_ERR__MAX || err_table[err].name == NULL)
		return NULL;
	return &err_table[err];
}

/* Human-readable message for an error code. */
const char *
octo_strerror(int err)
{
	const struct err_text *t = err_lookup(err);

	return t != NULL ? t->msg : "unknown error";
}

/* Wire name of an error code. */
const char *
octo_err_name(int err)
{
	const struct err_text *t = err_lookup(err);

	return t != NULL ? t->name : "unknown";
}

/* Error code for a wire name, for decoding replies and upstream bodies. */
int
octo_err_from_name(const char *name, unsigned long len)
{
	int i;

	for (i = 1; i < OCTO_ERR__MAX; i++) {
		const char *n = err_table[i].name;

		if (n != NULL && strlen(n) == len && memcmp(n, name, len) == 0)
			return i;
	}
	return OCTO_ERR_UPSTREAM_OTHER;
}

/* SDK exception family of an error code. */
enum octo_err_class
octo_err_class(int err)
{
	const struct err_text *t = err_lookup(err);

	return t != NULL ? t->class : OCTO_CLASS_OTHER;
}
