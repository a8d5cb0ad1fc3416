"""The exception hierarchy of the OctoStore SDK, with every octostored error code mapped.

``OctoStoreError`` is the base; the SDK's families (``AuthenticationError``,
``NetworkError``, ``LockError``, ``LockHeldError``, ``ValidationError``) sit under it, and
each wire code of proto/octostore_err.h has one class under its family.  A code this
module does not know becomes a plain ``OctoStoreError`` carrying that code.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: it costs ~5 ms
    from typing import Any, Dict, Optional, Type



class OctoStoreError(Exception):
    """Base of every error of the client.

    ``code`` is the daemon's wire code ("invalid_argument", ...) or a client-side code
    ("connection_closed", "protocol_error", ...); ``message``, ``param``,
    ``retry_after_ms``, ``request_id`` and ``upstream_code`` are copied from the daemon's
    error map when it sent them, else None.
    """

    default_code = "internal"

    def __init__(self, message: str = "", *, code: Optional[str] = None,
                 param: Optional[str] = None, retry_after_ms: Optional[int] = None,
                 request_id: Optional[str] = None,
                 upstream_code: Optional[str] = None) -> None:
        self.code: str = code if code is not None else self.default_code
        self.message: str = message or self.code
        self.param = param
        self.retry_after_ms = retry_after_ms
        self.request_id = request_id
        self.upstream_code = upstream_code
        super().__init__(self.message)

    def __str__(self) -> str:
        s = self.code if self.message == self.code else f"{self.code}: {self.message}"
        if self.param:
            s += f" (param {self.param})"
        return s


# The SDK's families.
class AuthenticationError(OctoStoreError):
    """The token or the peer is not allowed (authentication or permission)."""
    default_code = "authentication_failed"


class NetworkError(OctoStoreError):
    """The daemon or the OctoStore server could not be reached or answered badly."""
    default_code = "unavailable"


class LockError(OctoStoreError):
    """A lock operation failed (lease lost, not owner, not current, ...)."""
    default_code = "conflict"


class LockHeldError(LockError):
    """Another holder has the lock: ``holder_id`` and ``expires_at`` say who and until when;
    ``local`` (a LocalHolder: host pid and uid) when the holder is a client of this daemon."""
    default_code = "held"

    def __init__(self, message: str = "", *, holder_id: Optional[str] = None,
                 expires_at: Optional[str] = None, local: Any = None, **kw: Any) -> None:
        self.holder_id = holder_id
        self.expires_at = expires_at
        self.local = local
        super().__init__(message or f"lock held by {holder_id} until {expires_at}", **kw)


class ValidationError(OctoStoreError):
    """A parameter is invalid; raised before sending when the client can tell."""
    default_code = "invalid_argument"


# Client-side conditions.
class ConnectionClosedError(NetworkError):
    """The connection to the daemon closed or broke (every lease on it is lost)."""
    default_code = "connection_closed"


class PeerNotTrustedError(NetworkError, AuthenticationError):
    """The process answering on the socket runs as a uid that is not trusted (liboctostore's
    ``untrusted_daemon``): the daemon cannot be reached, and whoever answers is not it."""
    default_code = "untrusted_daemon"


class ProtocolViolationError(NetworkError):
    """The peer sent something that is not octostored's msgpack-RPC (a bad peer)."""
    default_code = "protocol_error"


class RequestTimeoutError(NetworkError, TimeoutError):
    """No reply within the client's timeout."""
    default_code = "timeout"


# One class for each daemon code.
class ProtocolError(OctoStoreError):
    """The daemon says our message was not valid msgpack-RPC."""
    default_code = "protocol_error"


class MessageTooLargeError(ValidationError):
    """A message exceeded the daemon's size limit."""
    default_code = "message_too_large"


class UnknownMethodError(OctoStoreError):
    """The daemon does not know the method."""
    default_code = "unknown_method"


class InvalidArgumentError(ValidationError):
    """A parameter is missing, of the wrong type or out of range (``param`` names it)."""
    default_code = "invalid_argument"


class UnavailableError(NetworkError):
    """The OctoStore server could not be reached."""
    default_code = "unavailable"


class LockWaitTimeout(NetworkError, TimeoutError):
    """The request or the blocking wait timed out in the daemon."""
    default_code = "timeout"


class BusyError(OctoStoreError):
    """A daemon limit was reached (clients, in-flight requests, leases)."""
    default_code = "busy"


class PermissionDeniedError(AuthenticationError):
    """The peer may not do this."""
    default_code = "permission_denied"


class NotOwnerError(LockError):
    """The lease belongs to another connection or user."""
    default_code = "not_owner"


class BadUpstreamResponseError(NetworkError):
    """The OctoStore server answered with something that breaks its contract."""
    default_code = "bad_upstream_response"


class UnsupportedVersionError(OctoStoreError):
    """The daemon does not speak the protocol version asked for."""
    default_code = "unsupported_version"


class ShuttingDownError(NetworkError):
    """The daemon is stopping."""
    default_code = "shutting_down"


class LockDelayedError(LockHeldError):
    """The lock is in its release delay until ``available_at``."""
    default_code = "delayed"

    def __init__(self, message: str = "", *, available_at: Optional[str] = None,
                 **kw: Any) -> None:
        self.available_at = available_at
        super().__init__(message or f"lock delayed until {available_at}", **kw)


class LeaseLostError(LockError):
    """The lease was lost: work done after this must not count as done under the lock."""
    default_code = "lease_lost"


class ConfigError(ValidationError):
    """The method does not apply to the daemon's configuration."""
    default_code = "config_error"


class InternalError(OctoStoreError):
    """A bug in the daemon."""
    default_code = "internal"


class SystemError_(OctoStoreError):
    """A system call failed."""
    default_code = "system_error"


class OutOfMemoryError(OctoStoreError):
    """The daemon ran out of memory."""
    default_code = "out_of_memory"


class AuthenticationRequiredError(AuthenticationError):
    """The server wants a token (none configured in the daemon)."""
    default_code = "authentication_required"


class AuthenticationFailedError(AuthenticationError):
    """The server refused the daemon's token."""
    default_code = "authentication_failed"


class ForbiddenError(AuthenticationError):
    """The server forbids this to the token's user."""
    default_code = "forbidden"


class InvalidInputError(ValidationError):
    """The server found the input invalid."""
    default_code = "invalid_input"


class InvalidTTLError(ValidationError):
    """The server refused the TTL."""
    default_code = "invalid_ttl"


class InvalidLockNameError(ValidationError):
    """The server refused the lock name."""
    default_code = "invalid_lock_name"


class NotFoundError(LockError):
    """The server does not know the lock or lease."""
    default_code = "not_found"


class SessionExpiredError(LockError):
    """The server's session behind the lease expired."""
    default_code = "session_expired"


class LeaseNotCurrentError(LockError):
    """The lease is stale or unknown."""
    default_code = "lease_not_current"


class ConflictError(LockError):
    """The server reports a conflict."""
    default_code = "conflict"


class CapacityExceededError(OctoStoreError):
    """The server's capacity is exceeded."""
    default_code = "capacity_exceeded"


class LockLimitExceededError(LockError):
    """The user's lock limit is reached."""
    default_code = "lock_limit_exceeded"


class RateLimitedError(OctoStoreError):
    """Too many requests; ``retry_after_ms`` says when to retry."""
    default_code = "rate_limited"


class UpstreamUnavailableError(NetworkError):
    """A dependency of the OctoStore server is unavailable."""
    default_code = "upstream_unavailable"


class UpstreamInternalError(OctoStoreError):
    """The OctoStore server had an internal error."""
    default_code = "internal_error"


class UpstreamError(OctoStoreError):
    """A server code the daemon does not know (``upstream_code`` holds it)."""
    default_code = "upstream_error"


# Wire code -> class.  tests/python/test_errors.py keeps it in step with
# proto/octostore_err.h and proto/err.c (codes and families).
ERROR_CLASSES: Dict[str, Type[OctoStoreError]] = {
    "internal": InternalError,
    "system_error": SystemError_,
    "out_of_memory": OutOfMemoryError,
    "protocol_error": ProtocolError,
    "message_too_large": MessageTooLargeError,
    "unknown_method": UnknownMethodError,
    "invalid_argument": InvalidArgumentError,
    "unavailable": UnavailableError,
    "timeout": LockWaitTimeout,
    "busy": BusyError,
    "permission_denied": PermissionDeniedError,
    "not_owner": NotOwnerError,
    "bad_upstream_response": BadUpstreamResponseError,
    "unsupported_version": UnsupportedVersionError,
    "connection_closed": ConnectionClosedError,
    "would_block": OctoStoreError,
    "shutting_down": ShuttingDownError,
    "held": LockHeldError,
    "lease_lost": LeaseLostError,
    "config_error": ConfigError,
    "authentication_required": AuthenticationRequiredError,
    "authentication_failed": AuthenticationFailedError,
    "forbidden": ForbiddenError,
    "invalid_input": InvalidInputError,
    "invalid_ttl": InvalidTTLError,
    "invalid_lock_name": InvalidLockNameError,
    "not_found": NotFoundError,
    "session_expired": SessionExpiredError,
    "lease_not_current": LeaseNotCurrentError,
    "conflict": ConflictError,
    "capacity_exceeded": CapacityExceededError,
    "lock_limit_exceeded": LockLimitExceededError,
    "rate_limited": RateLimitedError,
    "upstream_unavailable": UpstreamUnavailableError,
    "internal_error": UpstreamInternalError,
    "upstream_error": UpstreamError,
    "delayed": LockDelayedError,
    "untrusted_daemon": PeerNotTrustedError,
}


def _opt(m: Dict[Any, Any], key: str, kind: type) -> Any:
    v = m.get(key)
    return v if isinstance(v, kind) and not isinstance(v, bool) else None


def error_from_map(err: Any) -> OctoStoreError:
    """The exception for a daemon error map; never raises, whatever ``err`` is."""
    if not isinstance(err, dict):
        return ProtocolViolationError(f"error that is not a map: {err!r:.200}")
    code = _opt(err, "code", str) or "internal"
    cls = ERROR_CLASSES.get(code, OctoStoreError)
    return cls(_opt(err, "message", str) or code, code=code, param=_opt(err, "param", str),
               retry_after_ms=_opt(err, "retry_after_ms", int),
               request_id=_opt(err, "request_id", str),
               upstream_code=_opt(err, "upstream_code", str))
