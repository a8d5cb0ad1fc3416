"""Lease and the lock() context of the sync client (OctoStoreClient)."""
from __future__ import annotations

import threading
from time import monotonic

from ._errors import LeaseLostError, OctoStoreError

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: it costs ~5 ms
    from typing import Any, Callable, Dict, Optional

    from . import _models as M
    from ._sync import OctoStoreClient


class Lease:
    """A lock held through ``client.lock()``; the daemon renews it while it is held.

    ``lost`` is a threading.Event set when the daemon reports the lease lost (or the
    connection to the daemon breaks); ``lost_reason`` then says why.  ``check()`` raises
    LeaseLostError once lost.  ``deadline`` is reserved for a holder-side deadline
    (monotonic seconds, issue 19); it is None today and ``check()`` will honour it.
    """
    __slots__ = ("name", "lease_id", "fencing_token", "expires_at", "renew_after_ms",
                 "metadata", "lost", "lost_reason", "on_lost", "deadline", "_released",
                 "__weakref__")

    def __init__(self, r: M.AcquireResult, on_lost: Optional[Callable[["Lease"], Any]]):
        self.name: str = r.name
        self.lease_id: str = r.lease_id
        self.fencing_token: Optional[int] = r.fencing_token
        self.expires_at: Optional[str] = r.expires_at
        self.renew_after_ms: Optional[int] = r.renew_after_ms
        self.metadata: Optional[str] = r.metadata
        self.lost = threading.Event()
        self.lost_reason: Optional[str] = None
        self.on_lost = on_lost
        self.deadline: Optional[float] = None
        self._released = False

    def check(self) -> None:
        """Raise LeaseLostError if the lease is lost (or past its deadline)."""
        if self.lost.is_set():
            raise LeaseLostError(f"lease on {self.name} lost: {self.lost_reason}")
        if self.deadline is not None and monotonic() >= self.deadline:
            raise LeaseLostError(f"lease on {self.name} past its deadline")

    def _lose(self, reason: str, callback: bool = True) -> None:
        if self.lost.is_set() or self._released:
            return
        self.lost_reason = reason
        self.lost.set()
        if callback and self.on_lost is not None:
            threading.Thread(target=self.on_lost, args=(self,), daemon=True).start()

    def __repr__(self) -> str:
        return (f"Lease(name={self.name!r}, lease_id={self.lease_id!r}, "
                f"fencing_token={self.fencing_token!r}, lost={self.lost.is_set()})")


class _LockContext:
    """``with client.lock(name) as lease:`` acquires, and releases on exit."""

    def __init__(self, client: "OctoStoreClient", kw: Dict[str, Any]) -> None:
        self._client = client
        self._kw = kw
        self._lease: Optional[Lease] = None

    def __enter__(self) -> Lease:
        self._lease = self._client._acquire(make_lease=True, **self._kw)
        return self._lease

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            self._client._release_lease(lease)
        except OctoStoreError:
            if et is None and not lease.lost.is_set():
                raise
        if lease.lost.is_set() and et is None:
            raise LeaseLostError(f"lease on {lease.name} was lost: {lease.lost_reason}")
