"""Result models with the SDK's field names: immutable slotted classes (no dataclasses,
whose import alone costs more than this whole package)."""
from __future__ import annotations

import enum

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: it costs ~5 ms
    from typing import Any, Dict, List, Optional, Tuple


class LockStatus(str, enum.Enum):
    """State of a lock name as the daemon reports it."""
    FREE = "free"
    HELD = "held"
    LOST = "lost"   # the server still shows a lease this daemon declared lost


class _Model:
    """Immutable record: fields given by keyword, compared and printed by value."""
    __slots__: Tuple[str, ...] = ()
    _fields: Tuple[str, ...] = ()

    def __init__(self, **kw: Any) -> None:
        for f in self._fields:
            object.__setattr__(self, f, kw.pop(f, None))
        if kw:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(kw)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), tuple(repr(v) for v in self._values())))

    def __repr__(self) -> str:
        body = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({body})"

    def to_dict(self) -> Dict[str, Any]:
        """The fields as a plain dict."""
        return {f: getattr(self, f) for f in self._fields}


class AcquireResult(_Model):
    """A lock acquired: ``status`` is always "acquired" (a held lock raises LockHeldError)."""
    __slots__ = ("status", "name", "lease_id", "fencing_token", "expires_at", "holder_id",
                 "renew_after_ms", "metadata")
    _fields = __slots__
    status: str
    name: str
    lease_id: Optional[str]
    fencing_token: Optional[int]
    expires_at: Optional[str]
    holder_id: Optional[str]
    renew_after_ms: Optional[int]
    metadata: Optional[str]


class RenewResult(_Model):
    """A lease renewed until ``expires_at``."""
    __slots__ = ("name", "lease_id", "expires_at", "renew_after_ms")
    _fields = __slots__
    name: str
    lease_id: str
    expires_at: Optional[str]
    renew_after_ms: Optional[int]


class LocalHolder(_Model):
    """Who holds a lock through this daemon: ``state`` ("held", "acquiring", "releasing" or
    "lost"), the holder's host ``pid`` (0 with ``pid_stale`` when the process that
    connected has exited, or for a detached lease), its host ``uid`` and ``detached``.
    For "lost" only ``state`` is known."""
    __slots__ = ("state", "pid", "pid_stale", "uid", "detached")
    _fields = __slots__
    state: str
    pid: Optional[int]
    pid_stale: Optional[bool]
    uid: Optional[int]
    detached: Optional[bool]


class LockInfo(_Model):
    """A lock's state; ``local`` says who holds it when that is through this daemon (a
    LocalHolder), else None: the server's ``holder_id`` alone does not tell local holders
    apart."""
    __slots__ = ("name", "status", "holder_id", "fencing_token", "expires_at", "metadata",
                 "local")
    _fields = __slots__
    name: str
    status: LockStatus
    holder_id: Optional[str]
    fencing_token: Optional[int]
    expires_at: Optional[str]
    metadata: Optional[str]
    local: Optional[LocalHolder]


class UserLock(LockInfo):
    """One entry of ``list_locks()`` (shaped like LockInfo)."""
    __slots__ = ()


class TokenInfo(_Model):
    """The outcome of ``rotate_token()``; the token itself never leaves the daemon."""
    __slots__ = ("rotated", "user_id", "namespace", "persisted")
    _fields = __slots__
    rotated: bool
    user_id: Optional[str]
    namespace: Optional[str]
    persisted: Optional[bool]


def _s(v: Any) -> Optional[str]:
    return v if isinstance(v, str) else None


def _i(v: Any) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _b(v: Any) -> Optional[bool]:
    return v if isinstance(v, bool) else None


def local_holder(m: Any) -> Optional[LocalHolder]:
    """A LocalHolder from status's "local" map, or None."""
    if not isinstance(m, dict) or not isinstance(m.get("state"), str):
        return None
    return LocalHolder(state=m["state"], pid=_i(m.get("pid")), pid_stale=_b(m.get("pid_stale")),
                       uid=_i(m.get("uid")), detached=_b(m.get("detached")))


def held_holder(r: Dict[str, Any]) -> Optional[LocalHolder]:
    """A LocalHolder from a "held" acquire answer whose holder is local, or None."""
    if r.get("local") is not True:
        return None
    return LocalHolder(state="held", pid=_i(r.get("holder_pid")),
                       pid_stale=_b(r.get("holder_pid_stale")), uid=_i(r.get("holder_uid")),
                       detached=None)


def acquire_result(r: Dict[str, Any]) -> AcquireResult:
    """An AcquireResult from an "acquired" result map."""
    return AcquireResult(status="acquired", name=_s(r.get("name")),
                         lease_id=_s(r.get("lease_id")),
                         fencing_token=_i(r.get("fencing_token")),
                         expires_at=_s(r.get("expires_at")), holder_id=None,
                         renew_after_ms=_i(r.get("renew_after_ms")),
                         metadata=_s(r.get("metadata")))


def renew_result(r: Dict[str, Any]) -> RenewResult:
    """A RenewResult from a renew result map."""
    return RenewResult(name=_s(r.get("name")), lease_id=_s(r.get("lease_id")),
                       expires_at=_s(r.get("expires_at")),
                       renew_after_ms=_i(r.get("renew_after_ms")))


def lock_info(r: Dict[str, Any], cls: type = LockInfo) -> Any:
    """A LockInfo (or UserLock) from a status map; an unknown status reads as HELD."""
    try:
        st = LockStatus(r.get("status"))
    except ValueError:
        st = LockStatus.HELD
    return cls(name=_s(r.get("name")), status=st, holder_id=_s(r.get("holder_id")),
               fencing_token=_i(r.get("fencing_token")), expires_at=_s(r.get("expires_at")),
               metadata=_s(r.get("metadata")), local=local_holder(r.get("local")))


def user_locks(r: Dict[str, Any]) -> List[UserLock]:
    """The entries of a list result."""
    locks = r.get("locks")
    if not isinstance(locks, list):
        return []
    return [lock_info(m, UserLock) for m in locks if isinstance(m, dict)]


def token_info(r: Dict[str, Any]) -> TokenInfo:
    """A TokenInfo from a rotate_token result."""
    p = r.get("persisted")
    return TokenInfo(rotated=bool(r.get("rotated")), user_id=_s(r.get("user_id")),
                     namespace=_s(r.get("namespace")),
                     persisted=p if isinstance(p, bool) else None)
