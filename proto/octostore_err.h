/* octostore_err.h - error codes shared by octostored, liboctostore and octostorectl. */
#ifndef OCTOSTORE_ERR_H
#define OCTOSTORE_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of the public library; everything else is built hidden. */
#ifndef OCTO_API
#define OCTO_API __attribute__((visibility("default")))
#endif

/*
 * Every fallible call in the daemon, the library and the CLI returns one of these.
 * Values are part of the library ABI: append only, never renumber; a retired code
 * stays in the list marked unused.  Each code has a wire name (the "code" string in
 * protocol error maps, see proto/PROTOCOL.md) and a human-readable message.
 */
enum octo_err {
	OCTO_OK = 0,

	/* Local and protocol errors. */
	OCTO_ERR_INTERNAL = 1,		/* internal */
	OCTO_ERR_SYSTEM = 2,		/* system_error: errno holds the cause */
	OCTO_ERR_NOMEM = 3,		/* out_of_memory */
	OCTO_ERR_PROTOCOL = 4,		/* protocol_error: malformed message */
	OCTO_ERR_TOO_LARGE = 5,		/* message_too_large */
	OCTO_ERR_UNKNOWN_METHOD = 6,	/* unknown_method */
	OCTO_ERR_INVALID_ARGUMENT = 7,	/* invalid_argument */
	OCTO_ERR_UNAVAILABLE = 8,	/* unavailable: daemon or upstream unreachable */
	OCTO_ERR_TIMEOUT = 9,		/* timeout */
	OCTO_ERR_BUSY = 10,		/* busy: a limit was reached */
	OCTO_ERR_PERMISSION_DENIED = 11,/* permission_denied */
	OCTO_ERR_NOT_OWNER = 12,	/* not_owner */
	OCTO_ERR_BAD_UPSTREAM_RESPONSE = 13, /* bad_upstream_response */
	OCTO_ERR_UNSUPPORTED_VERSION = 14, /* unsupported_version */
	OCTO_ERR_CLOSED = 15,		/* connection_closed */
	OCTO_ERR_AGAIN = 16,		/* would_block: nothing complete yet */
	OCTO_ERR_SHUTTING_DOWN = 17,	/* shutting_down */
	OCTO_ERR_LOCK_HELD = 18,	/* held: the lock is held by someone else */
	OCTO_ERR_LEASE_LOST = 19,	/* lease_lost */
	OCTO_ERR_CONFIG = 20,		/* config_error */
	OCTO_ERR_UNTRUSTED_DAEMON = 21,	/* untrusted_daemon: the socket's peer is not trusted */

	/* Error codes of the OctoStore HTTP API, passed through unchanged. */
	OCTO_ERR_AUTHENTICATION_REQUIRED = 40,
	OCTO_ERR_AUTHENTICATION_FAILED = 41,
	OCTO_ERR_FORBIDDEN = 42,
	OCTO_ERR_INVALID_INPUT = 43,
	OCTO_ERR_INVALID_TTL = 44,
	OCTO_ERR_INVALID_LOCK_NAME = 45,
	OCTO_ERR_NOT_FOUND = 46,
	OCTO_ERR_SESSION_EXPIRED = 47,
	OCTO_ERR_LEASE_NOT_CURRENT = 48,
	OCTO_ERR_CONFLICT = 49,
	OCTO_ERR_CAPACITY_EXCEEDED = 50,
	OCTO_ERR_LOCK_LIMIT_EXCEEDED = 51,
	OCTO_ERR_RATE_LIMITED = 52,
	OCTO_ERR_UPSTREAM_UNAVAILABLE = 53,
	OCTO_ERR_UPSTREAM_INTERNAL = 54,	/* internal_error */
	OCTO_ERR_UPSTREAM_OTHER = 55,		/* upstream_error: a code we do not know */
	OCTO_ERR_LOCK_DELAYED = 56,		/* delayed: release delay in force */

	OCTO_ERR__MAX
};

/* The families of the Python SDK's exceptions, for callers that want them. */
enum octo_err_class {
	OCTO_CLASS_OK = 0,
	OCTO_CLASS_AUTH,	/* AuthenticationError */
	OCTO_CLASS_NETWORK,	/* NetworkError */
	OCTO_CLASS_LOCK_HELD,	/* LockHeldError */
	OCTO_CLASS_VALIDATION,	/* ValidationError */
	OCTO_CLASS_LOCK,	/* LockError */
	OCTO_CLASS_OTHER	/* OctoStoreError */
};

/* Human-readable message for an error code; never NULL. */
OCTO_API const char *octo_strerror(int err);

/* Wire name of an error code ("invalid_argument"); never NULL. */
OCTO_API const char *octo_err_name(int err);

/* Error code for a wire name; OCTO_ERR_UPSTREAM_OTHER when unknown. */
OCTO_API int octo_err_from_name(const char *name, unsigned long len);

/* SDK exception family of an error code. */
OCTO_API enum octo_err_class octo_err_class(int err);

#ifdef __cplusplus
}
#endif
#endif /* OCTOSTORE_ERR_H */
