"""AsyncOctoStoreClient: the native asyncio client, one connection for any number of tasks.

An asyncio.Protocol decodes replies as they arrive and resolves each caller's future by
msgid; a ``lease_lost`` notification sets the lease's asyncio.Event at once.
"""
from __future__ import annotations

import asyncio
import os
import socket
import weakref

import msgpack

from . import _models as M
from . import _proto as P
from ._errors import (ConnectionClosedError, LeaseLostError, LeaseNotCurrentError,
                      LockHeldError, LockWaitTimeout, NotFoundError, OctoStoreError,
                      ProtocolViolationError, RequestTimeoutError, ValidationError)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: it costs ~5 ms
    from typing import Any, Awaitable, Callable, Dict, List, Optional, TypeVar
    T = TypeVar("T")

_clients: "weakref.WeakSet[AsyncOctoStoreClient]" = weakref.WeakSet()
_fork_hook = False


# One Packer for all: pack() runs in C under the GIL from start to end for the plain
# types it accepts (no default= hook), and resets its buffer on error.
_packb = msgpack.Packer(use_bin_type=True).pack


def _pack(obj: Any) -> bytes:
    try:
        return _packb(obj)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValidationError(f"cannot encode the request: {e}") from None


class AsyncLease:
    """A lock held through ``client.lock()``; the daemon renews it while it is held.

    ``lost`` is an asyncio.Event set when the daemon reports the lease lost or the
    connection breaks (``lost_reason`` says why); ``check()`` then raises LeaseLostError,
    and ``await lease.run(coro)`` cancels ``coro`` at once.  ``deadline`` is reserved for a
    holder-side deadline (loop time, issue 19); None today.
    """
    __slots__ = ("name", "lease_id", "fencing_token", "expires_at", "renew_after_ms",
                 "metadata", "lost", "lost_reason", "on_lost", "deadline", "_released",
                 "__weakref__")

    def __init__(self, r: M.AcquireResult, on_lost: Optional[Callable[[AsyncLease], Any]]):
        self.name: str = r.name
        self.lease_id: str = r.lease_id
        self.fencing_token: Optional[int] = r.fencing_token
        self.expires_at: Optional[str] = r.expires_at
        self.renew_after_ms: Optional[int] = r.renew_after_ms
        self.metadata: Optional[str] = r.metadata
        self.lost = asyncio.Event()
        self.lost_reason: Optional[str] = None
        self.on_lost = on_lost
        self.deadline: Optional[float] = None
        self._released = False

    def check(self) -> None:
        """Raise LeaseLostError if the lease is lost (or past its deadline)."""
        if self.lost.is_set():
            raise LeaseLostError(f"lease on {self.name} lost: {self.lost_reason}")
        if self.deadline is not None and \
                asyncio.get_running_loop().time() >= self.deadline:
            raise LeaseLostError(f"lease on {self.name} past its deadline")

    def _lose(self, reason: str, callback: bool = True) -> None:
        if self.lost.is_set() or self._released:
            return
        self.lost_reason = reason
        try:
            self.lost.set()
        except RuntimeError:    # waiters of an event loop that is closed
            pass
        if callback and self.on_lost is not None:
            # Soon, not here: the reader must never run (or fail with) user code.
            try:
                asyncio.get_running_loop().call_soon(self._call_on_lost)
            except RuntimeError:    # no loop running: nobody to call it in
                pass

    def _call_on_lost(self) -> None:
        assert self.on_lost is not None
        r = self.on_lost(self)
        if asyncio.iscoroutine(r):
            asyncio.ensure_future(r)

    async def run(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` under the lease; cancel it and raise LeaseLostError on loss."""
        self.check()
        task = asyncio.ensure_future(coro)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            lost.cancel()
        if task.done():
            return task.result()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            pass
        raise LeaseLostError(f"lease on {self.name} lost: {self.lost_reason}")

    def __repr__(self) -> str:
        return (f"AsyncLease(name={self.name!r}, lease_id={self.lease_id!r}, "
                f"fencing_token={self.fencing_token!r}, lost={self.lost.is_set()})")


class _Proto(asyncio.Protocol):
    """One connection: decodes replies and notifications, resolves futures by msgid."""

    def __init__(self, client: "AsyncOctoStoreClient") -> None:
        self.client = client
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=P.MAX_REPLY_SIZE)
        self.calls: Dict[int, "asyncio.Future[Any]"] = {}
        self.abandoned: Dict[int, Optional[Callable[[Any, Any], None]]] = {}
        self.leases: Dict[str, AsyncLease] = {}
        self.transport: Optional[asyncio.Transport] = None
        self.closed: Optional[OctoStoreError] = None
        self.next = 0
        self.sock: Optional[socket.socket] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    def next_id(self) -> int:
        while True:
            self.next = (self.next + 1) % P.MAX_MSGID
            i = self.next
            if i and i not in self.calls and i not in self.abandoned:
                return i

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.unpacker.feed(data)
            for msg in self.unpacker:
                self.dispatch(msg)
        except OctoStoreError as e:
            self.broken(e)
        except Exception as e:   # msgpack's errors: garbage, oversized, too deep
            self.broken(ProtocolViolationError(
                f"undecodable data from the peer: {type(e).__name__}: {e}"))

    def eof_received(self) -> bool:
        self.broken(ConnectionClosedError("octostored closed the connection"))
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.broken(ConnectionClosedError(
            f"connection to octostored lost{': ' + str(exc) if exc else ''}"))

    def dispatch(self, msg: Any) -> None:
        if type(msg) is list and len(msg) == 4 and msg[0] == 1:
            msgid, err, result = msg[1], msg[2], msg[3]
            fut = self.calls.pop(msgid, None) if type(msgid) is int else None
            if fut is None:
                if msgid in self.abandoned:
                    late = self.abandoned.pop(msgid)
                    if late is not None:
                        late(err, result)
                    return
                if msgid == 0 and err is not None:
                    raise P.reply_error(err)
                raise P.bad_message(msg)
            if fut.done():
                return
            if err is not None:
                fut.set_exception(P.reply_error(err))
            elif type(result) is dict:
                fut.set_result(result)
            else:
                fut.set_exception(ProtocolViolationError(
                    f"result is not a map: {result!r:.80}"))
        elif type(msg) is list and len(msg) == 3 and msg[0] == 2:
            self.client._notified(self, msg[1], msg[2])
        else:
            raise P.bad_message(msg)

    def broken(self, err: OctoStoreError, reason: str = "connection_lost") -> None:
        if self.closed is not None:
            return
        self.closed = err
        calls, self.calls = self.calls, {}
        for fut in calls.values():
            if not fut.done():
                fut.set_exception(type(err)(err.message, code=err.code))
        for lease in list(self.leases.values()):
            lease._lose(reason)
        if self.transport is not None:
            try:
                self.transport.abort()
            except RuntimeError:        # its event loop is closed
                if self.sock is not None:
                    self.sock.close()
        self.client._conn_broken(self)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


def _after_fork_in_child() -> None:
    for c in list(_clients):
        c._forget_after_fork()


class _LockContext:
    """``async with client.lock(name) as lease:`` acquires, and releases on exit."""

    def __init__(self, client: "AsyncOctoStoreClient", kw: Dict[str, Any]) -> None:
        self._client = client
        self._kw = kw
        self._lease: Optional[AsyncLease] = None

    async def __aenter__(self) -> AsyncLease:
        self._lease = await self._client._acquire(make_lease=True, **self._kw)
        return self._lease

    async def __aexit__(self, et: Any, ev: Any, tb: Any) -> None:
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            await self._client._release_lease(lease)
        except OctoStoreError:
            if et is None and not lease.lost.is_set():
                raise
        if lease.lost.is_set() and et is None:
            raise LeaseLostError(f"lease on {lease.name} was lost: {lease.lost_reason}")


class AsyncOctoStoreClient:
    """asyncio client of octostored with the OctoStore SDK's API (methods are coroutines).

    Same arguments and behaviour as OctoStoreClient; one client serves any number of
    tasks of one event loop (used from another loop, it drops the old connection, whose
    leases are then lost, and connects again).  After ``os.fork()`` the child closes its inherited copy of the
    connection; a new event loop in the child connects afresh.
    """

    def __init__(self, socket: Optional[str] = None, *, timeout: float = 30.0) -> None:
        global _fork_hook
        self._path = P.socket_path(socket)
        self._timeout = P.check_seconds("timeout", timeout) or 30.0
        self._conn: Optional[_Proto] = None
        self._connecting: Optional["asyncio.Future[_Proto]"] = None
        self._claims: Dict[str, Optional[str]] = {}
        self._freed: Dict[str, asyncio.Event] = {}
        self._waits: Optional[asyncio.Semaphore] = None
        _clients.add(self)
        if not _fork_hook:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook = True

    # -- connection -------------------------------------------------------------------

    async def _get_conn(self) -> _Proto:
        c = self._conn
        if c is not None and c.closed is None:
            return c
        loop = asyncio.get_running_loop()
        if self._connecting is not None and self._connecting.get_loop() is loop:
            return await asyncio.shield(self._connecting)
        fut = self._connecting = loop.create_future()
        try:
            c = await asyncio.wait_for(self._connect(loop), self._timeout)
            self._conn = c
            fut.set_result(c)
            return c
        except BaseException as e:
            fut.set_exception(e if isinstance(e, Exception) else
                              ConnectionClosedError("connect cancelled"))
            fut.exception()
            raise
        finally:
            self._connecting = None

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Proto:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.setblocking(False)
            try:
                await loop.sock_connect(s, self._path)
            except OSError as e:
                raise P.UnavailableError(
                    f"cannot connect to octostored at {self._path}: {e}") from e
            P.check_peer(s, self._path)
            proto = _Proto(self)
            proto.sock = s
            proto.loop = loop
            await loop.create_unix_connection(lambda: proto, sock=s)
            return proto
        except BaseException:
            s.close()
            raise

    def _conn_broken(self, c: _Proto) -> None:
        if c is self._conn:
            self._conn = None
        for n, lid in list(self._claims.items()):
            if lid is not None:
                self._unclaim(n, lid)

    def _forget_after_fork(self) -> None:
        c, self._conn = self._conn, None
        self._connecting = None
        self._claims = {}
        self._freed = {}
        self._waits = None
        if c is None or c.sock is None:
            return
        try:
            os.close(c.sock.detach())   # never touch the parent's loop or connection
        except OSError:
            pass
        c.closed = ConnectionClosedError("forked")
        for lease in c.leases.values():
            lease._lose("forked", callback=False)

    async def close(self) -> None:
        """Close the connection: the daemon releases every connection-bound lease."""
        c, self._conn = self._conn, None
        if c is not None:
            c.broken(ConnectionClosedError("client closed"), "closed")

    async def __aenter__(self) -> "AsyncOctoStoreClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- calls ------------------------------------------------------------------------

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, *,
                   timeout: Optional[float] = None) -> Dict[str, Any]:
        """One raw msgpack-RPC call; the result map, or the error raised."""
        return await self._call(method, params, timeout)

    async def _call(self, method: str, params: Optional[Dict[str, Any]],
                    timeout: Optional[float] = None,
                    on_late: Optional[Callable[[Any, Any], None]] = None,
                    via: Optional[List[_Proto]] = None) -> Dict[str, Any]:
        loop = asyncio.get_running_loop()
        c = self._conn
        if c is None or c.closed is not None or c.loop is not loop:
            if c is not None and c.closed is None:   # a connection of an earlier loop
                c.broken(ConnectionClosedError("event loop changed"), "loop_changed")
            c = await self._get_conn()
        if via is not None:
            via.append(c)       # the connection a lease taken now belongs to
        msgid = c.next_id()
        data = _pack([0, msgid, method, [params] if params else []])
        if len(data) > P.MAX_MESSAGE_SIZE:
            raise ValidationError(f"request of {len(data)} bytes over the "
                                  f"{P.MAX_MESSAGE_SIZE}-byte limit", code="message_too_large")
        fut = loop.create_future()
        c.calls[msgid] = fut
        c.send(data)
        h = loop.call_later(timeout if timeout is not None else self._timeout,
                            self._expire, fut)
        try:
            return await fut
        except BaseException:
            if c.calls.get(msgid) is fut:
                del c.calls[msgid]
                if c.closed is None:
                    c.abandoned[msgid] = on_late
            elif on_late is not None and fut.done() and not fut.cancelled() \
                    and fut.exception() is None:
                on_late(None, fut.result())
            raise
        finally:
            h.cancel()

    def _expire(self, fut: "asyncio.Future[Any]") -> None:
        if not fut.done():
            fut.set_exception(RequestTimeoutError(
                f"no reply from octostored at {self._path} within the timeout"))

    def _notified(self, c: _Proto, method: Any, params: Any) -> None:
        if method != "lease_lost":
            return
        p = params[0] if isinstance(params, list) and params else params
        if not isinstance(p, dict):
            return
        lid, name = p.get("lease_id"), p.get("name")
        reason = p.get("reason") if isinstance(p.get("reason"), str) else "lost"
        lease = c.leases.get(lid) if isinstance(lid, str) else None
        if lease is not None:
            lease._lose(reason)
        elif isinstance(name, str) and lid is not None:
            self._unclaim(name, lid)

    def _send_only(self, c: _Proto, method: str, params: Dict[str, Any]) -> None:
        if c.closed is not None:
            return
        msgid = c.next_id()
        c.abandoned[msgid] = None
        c.send(_pack([0, msgid, method, [params]]))

    # -- one holder per name in this client ---------------------------------------------

    async def _claim(self, name: str, wait: Optional[float]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait if wait else None
        while name in self._claims:
            if deadline is None:
                raise LockHeldError(holder_id=f"local:pid={os.getpid()},uid={os.geteuid()}",
                                    message=f"{name} is held through this client")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LockWaitTimeout(f"{name}: still held after the wait")
            ev = self._freed.setdefault(name, asyncio.Event())
            try:
                await asyncio.wait_for(ev.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        self._claims[name] = None

    def _unclaim(self, name: str, lease_id: Optional[str] = None) -> None:
        if name in self._claims and self._claims[name] == lease_id:
            del self._claims[name]
            ev = self._freed.pop(name, None)
            if ev is not None:
                ev.set()

    async def _acquire(self, name: str, ttl: int = 60, *, metadata: Optional[str] = None,
                       wait: Optional[float] = None, lock_delay: Optional[int] = None,
                       detach: bool = False, hold: Optional[float] = None,
                       make_lease: bool = False,
                       on_lost: Optional[Callable[[AsyncLease], Any]] = None) -> Any:
        params = P.acquire_params(name, ttl, metadata, wait, lock_delay, detach, hold)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await self._claim(name, wait)
        lease_id = None
        via: List[_Proto] = []
        try:
            if wait:
                if self._waits is None:
                    self._waits = asyncio.Semaphore(P.MAX_WAITS)
                left = max(wait - (loop.time() - t0), 0.0)
                await asyncio.wait_for(self._waits.acquire(), left + self._timeout)
                try:
                    left = max(wait - (loop.time() - t0), 0.0)
                    if left > 0:
                        params["wait"] = left
                    else:
                        params.pop("wait", None)
                    r = await self._call("acquire", params, self._timeout + left,
                                         on_late=self._late_release(name), via=via)
                finally:
                    self._waits.release()
            else:
                r = await self._call("acquire", params, on_late=self._late_release(name),
                                     via=via)
            res = M.acquire_result(P.acquired_or_raise(r))
            lease_id = res.lease_id
        finally:
            if lease_id is None:
                self._unclaim(name)
        if self._claims.get(name, 0) is None:
            self._claims[name] = lease_id
        if not make_lease:
            return res
        lease = AsyncLease(res, on_lost)
        c = via[-1]
        if c.closed is None:
            c.leases[lease.lease_id] = lease
        else:                       # broke since the grant: the lease went with it
            lease._lose("connection_lost")
        return lease

    def _late_release(self, name: str) -> Callable[[Any, Any], None]:
        def late(err: Any, result: Any) -> None:
            if err is None and isinstance(result, dict) and result.get("status") == "acquired":
                c = self._conn
                if c is not None:
                    self._send_only(c, "release", {"name": name,
                                                   "lease_id": result.get("lease_id")})
        return late

    async def _release_lease(self, lease: AsyncLease) -> None:
        c = self._conn
        try:
            if not lease.lost.is_set():
                await self.release_lock(lease.name, lease.lease_id)
        finally:
            lease._released = True
            self._unclaim(lease.name, lease.lease_id)
            if c is not None:
                c.leases.pop(lease.lease_id, None)
                if lease.lost.is_set():
                    self._send_only(c, "release", {"name": lease.name,
                                                   "lease_id": lease.lease_id})

    # -- the SDK's methods --------------------------------------------------------------

    async def health(self) -> str:
        """The service's status: "ok", "degraded" or "unavailable"."""
        return str((await self._call("health", None)).get("status"))

    async def health_info(self) -> Dict[str, Any]:
        """The whole health map (upstream view, base_url)."""
        return await self._call("health", None)

    async def ping(self, payload: Any = None) -> Any:
        """Round trip to the daemon; returns the payload echoed."""
        r = await self._call("ping", {"payload": payload} if payload is not None else None)
        return r.get("payload")

    async def hello(self, client: str = "octostored-python") -> Dict[str, Any]:
        """Protocol handshake: the daemon's version, methods and limits."""
        return await self._call("hello", {"version": P.PROTOCOL_VERSION, "client": client})

    async def daemon_status(self) -> Dict[str, Any]:
        """The daemon's own counters."""
        return await self._call("daemon_status", None)

    async def acquire_lock(self, name: str, ttl: int = 60, *,
                           metadata: Optional[str] = None, wait: Optional[float] = None,
                           lock_delay: Optional[int] = None, detach: bool = False,
                           hold: Optional[float] = None) -> M.AcquireResult:
        """Acquire ``name`` for ``ttl`` seconds; raise LockHeldError if someone has it."""
        return await self._acquire(name, ttl, metadata=metadata, wait=wait,
                                   lock_delay=lock_delay, detach=detach, hold=hold)

    async def release_lock(self, name: str, lease_id: str) -> None:
        """Release a lease."""
        P.check_name(name)
        P.check_lease_id(lease_id)
        try:
            await self._call("release", {"name": name, "lease_id": lease_id})
        except (LeaseLostError, LeaseNotCurrentError, NotFoundError):
            self._unclaim(name, lease_id)
            raise
        self._unclaim(name, lease_id)

    async def renew_lock(self, name: str, lease_id: str, ttl: int = 60) -> M.RenewResult:
        """Renew a lease with a new TTL (the daemon also renews on its own)."""
        P.check_name(name)
        P.check_lease_id(lease_id)
        P.check_ttl(ttl)
        return M.renew_result(await self._call(
            "renew", {"name": name, "lease_id": lease_id, "ttl": ttl}))

    async def get_lock_status(self, name: str) -> M.LockInfo:
        """The lock's status."""
        return M.lock_info(await self._call("status", {"name": P.check_name(name)}))

    async def list_locks(self, prefix: Optional[str] = None) -> List[M.UserLock]:
        """The user's locks, optionally only names starting with ``prefix``."""
        if prefix is not None and not isinstance(prefix, str):
            raise ValidationError("prefix: expected a string", param="prefix")
        return M.user_locks(await self._call("list", {"prefix": prefix} if prefix else None))

    async def rotate_token(self) -> M.TokenInfo:
        """Have the daemon rotate its token (admin only); the token is never returned."""
        return M.token_info(await self._call("rotate_token", None))

    def lock(self, name: str, ttl: int = 60, wait: Optional[float] = None,
             metadata: Optional[str] = None, *, lock_delay: Optional[int] = None,
             on_lost: Optional[Callable[[AsyncLease], Any]] = None) -> _LockContext:
        """``async with client.lock(name) as lease:`` hold ``name`` for the block.

        On loss ``lease.lost`` is set, ``on_lost(lease)`` is called (awaited as a task if
        it returns a coroutine), and leaving the block raises LeaseLostError.
        """
        P.acquire_params(name, ttl, metadata, wait, lock_delay, False, None)
        return _LockContext(self, dict(name=name, ttl=ttl, wait=wait, metadata=metadata,
                                       lock_delay=lock_delay, on_lost=on_lost))
