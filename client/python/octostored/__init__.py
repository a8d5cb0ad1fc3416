"""octostored: the OctoStore SDK's API, through the local octostored daemon.

``from octostored import OctoStoreClient`` replaces ``from octostore import
OctoStoreClient``; the client takes a socket path instead of a URL and token.  Names are
loaded on first use, so ``import octostored`` costs next to nothing.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: it costs ~5 ms
    from typing import Any


__version__ = "0.1.0"

_WHERE = {
    "OctoStoreClient": "_sync", "Lease": "_lease",
    "AsyncOctoStoreClient": "_async", "AsyncLease": "_async",
    "AcquireResult": "_models", "RenewResult": "_models", "LockInfo": "_models",
    "LocalHolder": "_models",
    "UserLock": "_models", "TokenInfo": "_models", "LockStatus": "_models",
}
_ERRORS = (
    "OctoStoreError", "AuthenticationError", "NetworkError", "LockError", "LockHeldError",
    "ValidationError", "ConnectionClosedError", "PeerNotTrustedError",
    "ProtocolViolationError", "RequestTimeoutError", "ProtocolError",
    "MessageTooLargeError", "UnknownMethodError", "InvalidArgumentError",
    "UnavailableError", "LockWaitTimeout", "BusyError", "PermissionDeniedError",
    "NotOwnerError", "BadUpstreamResponseError", "UnsupportedVersionError",
    "ShuttingDownError", "LockDelayedError", "LeaseLostError", "ConfigError",
    "InternalError", "AuthenticationRequiredError", "AuthenticationFailedError",
    "ForbiddenError", "InvalidInputError", "InvalidTTLError", "InvalidLockNameError",
    "NotFoundError", "SessionExpiredError", "LeaseNotCurrentError", "ConflictError",
    "CapacityExceededError", "LockLimitExceededError", "RateLimitedError",
    "UpstreamUnavailableError", "UpstreamInternalError", "UpstreamError",
    "ERROR_CLASSES",
)
for _n in _ERRORS:
    _WHERE[_n] = "_errors"
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'octostored' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return __all__ + ["__version__"]
