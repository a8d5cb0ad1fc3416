"""OctoStoreClient: the blocking client, one connection shared by any number of threads.

Calls are multiplexed by msgid.  There is no reader thread in the way of a call: the
caller that finds nobody reading reads the socket itself and hands other callers' replies
to them (leader/follower), so an uncontended call never passes between threads.  While a
``lock()`` lease is held (or an abandoned wait may still be granted), a watcher thread
reads when no caller does, so that ``lease_lost`` reaches the lease at once (and a late
grant is released at once).
"""
from __future__ import annotations

import itertools
import os
import socket
import threading
import weakref
from _thread import allocate_lock as _allocate_lock
from time import monotonic

import msgpack

from . import _models as M
from . import _proto as P
from ._errors import (ConnectionClosedError, LeaseLostError, LeaseNotCurrentError,
                      LockHeldError, LockWaitTimeout, NotFoundError, OctoStoreError,
                      ProtocolViolationError, RequestTimeoutError, ValidationError)
from ._lease import Lease, _LockContext

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: it costs ~5 ms
    from typing import Any, Callable, Dict, List, Optional

_RCVTIMEO = 0.2     # seconds a blocked reader sleeps in the kernel before checking time
_clients: "weakref.WeakSet[OctoStoreClient]" = weakref.WeakSet()
_fork_hook = False


# One Packer for all: pack() runs in C under the GIL from start to end for the plain
# types it accepts (no default= hook), and resets its buffer on error.
_packb = msgpack.Packer(use_bin_type=True).pack


def _pack(obj: Any) -> bytes:
    try:
        return _packb(obj)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValidationError(f"cannot encode the request: {e}") from None


def _timeval(sec: float) -> bytes:
    import struct
    s = int(sec)
    return struct.pack("ll", s, max(int((sec - s) * 1e6), 1000 if s == 0 else 0))


class _Call:
    """One call in flight.  ``park`` is a lock its caller sleeps on (held while armed;
    released once to wake it): far cheaper than a threading.Event."""
    __slots__ = ("done", "error", "result", "park")

    def __init__(self) -> None:
        self.done = False
        self.error: Optional[OctoStoreError] = None
        self.result: Any = None
        self.park: Any = None


def _unpark(call: _Call) -> None:
    p = call.park
    if p is not None:
        try:
            p.release()
        except RuntimeError:    # already woken, not yet asleep again
            pass


class _Conn:
    """One connection: its socket, decoder and calls in flight."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=P.MAX_REPLY_SIZE)
        self.calls: Dict[int, _Call] = {}
        self.abandoned: Dict[int, Optional[Callable[[Any, Any], None]]] = {}
        self.ids = itertools.count(1)
        self.wlock = threading.Lock()       # one writer at a time
        self.rlock = threading.Lock()       # one reader at a time
        self.mu = threading.Lock()          # sleepers, closing
        self.sleepers: Dict[int, _Call] = {}
        self.closed: Optional[OctoStoreError] = None
        self.leases: Dict[str, "Lease"] = {}   # lease_id -> Lease of lock()
        self.watcher: Optional[threading.Thread] = None
        self.rcvtimeo = _RCVTIMEO
        self.buf = bytearray(65536)          # the reader's, under rlock
        self.view = memoryview(self.buf)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(_RCVTIMEO))

    def next_id(self) -> int:
        while True:
            i = next(self.ids) % P.MAX_MSGID
            if i and i not in self.calls and i not in self.abandoned:
                return i


def _after_fork_in_child() -> None:
    for c in list(_clients):
        c._forget_after_fork()


class OctoStoreClient:
    """Blocking client of octostored with the OctoStore SDK's API.

    ``socket`` defaults to $OCTOSTORED_SOCKET, then /run/octostored/octostored.sock;
    ``timeout`` bounds each call (a blocking ``wait`` adds its own length).  There is no
    token: the daemon holds it.  Safe to share between threads.  After ``os.fork()`` the
    child closes its inherited copy of the connection and opens its own when first used;
    leases held by the parent are lost to the child (``lost_reason`` "forked").
    """

    def __init__(self, socket: Optional[str] = None, *, timeout: float = 30.0) -> None:
        global _fork_hook
        self._path = P.socket_path(socket)
        self._timeout = P.check_seconds("timeout", timeout) or 30.0
        self._conn: Optional[_Conn] = None
        self._connlock = threading.Lock()
        self._names = threading.Condition(threading.Lock())
        self._claims: Dict[str, Optional[str]] = {}    # name -> lease_id (None: acquiring)
        self._waits = threading.BoundedSemaphore(P.MAX_WAITS)
        _clients.add(self)
        if not _fork_hook:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook = True

    # -- connection -------------------------------------------------------------------

    def _get_conn(self) -> _Conn:
        c = self._conn
        if c is not None and c.closed is None:
            return c
        old = None
        with self._connlock:
            c = self._conn
            if c is None or c.closed is not None:
                old = c
                sock = P.connect_socket(self._path, self._timeout)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                                _timeval(self._timeout))
                c = self._conn = _Conn(sock)
        if old is not None:
            self._close_conn(old)
        return c

    def _close_conn(self, c: _Conn) -> None:
        self._broken(c, ConnectionClosedError("client closed"), "closed")
        with c.wlock:
            with c.rlock:
                c.sock.close()

    def _broken(self, c: _Conn, err: OctoStoreError, reason: str = "connection_lost") -> None:
        with c.mu:
            if c.closed is not None:
                return
            c.closed = err
            calls = list(c.calls.values())
            c.calls.clear()
            leases = list(c.leases.values())
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for call in calls:
            call.error = type(err)(err.message, code=err.code)
            call.done = True
            _unpark(call)
        for lease in leases:
            lease._lose(reason)
        with self._names:
            for n, lid in list(self._claims.items()):
                if lid is not None:
                    del self._claims[n]
            self._names.notify_all()

    def _forget_after_fork(self) -> None:
        c, self._conn = self._conn, None
        self._connlock = threading.Lock()
        self._names = threading.Condition(threading.Lock())
        self._claims = {}
        self._waits = threading.BoundedSemaphore(P.MAX_WAITS)
        if c is None:
            return
        try:
            os.close(c.sock.detach())   # the parent's connection is the parent's
        except OSError:
            pass
        for lease in c.leases.values():
            lease._lose("forked", callback=False)

    def close(self) -> None:
        """Close the connection: the daemon releases every connection-bound lease."""
        with self._connlock:
            c, self._conn = self._conn, None
        if c is not None:
            self._close_conn(c)

    def __enter__(self) -> "OctoStoreClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- calls ------------------------------------------------------------------------

    def call(self, method: str, params: Optional[Dict[str, Any]] = None, *,
             timeout: Optional[float] = None) -> Dict[str, Any]:
        """One raw msgpack-RPC call; the result map, or the error raised."""
        return self._call(method, params, timeout)

    def _call(self, method: str, params: Optional[Dict[str, Any]],
              timeout: Optional[float] = None,
              on_late: Optional[Callable[[Any, Any], None]] = None,
              via: Optional[List[_Conn]] = None) -> Dict[str, Any]:
        c = self._conn
        if c is None or c.closed is not None:
            c = self._get_conn()
        if via is not None:
            via.append(c)       # the connection a lease taken now belongs to
        msgid = next(c.ids) & 0xFFFFFFFF
        calls = c.calls
        if msgid == 0 or msgid in calls or msgid in c.abandoned:
            msgid = c.next_id()
        data = _pack([0, msgid, method, [params] if params else []])
        if len(data) > P.MAX_MESSAGE_SIZE:
            raise ValidationError(f"request of {len(data)} bytes over the "
                                  f"{P.MAX_MESSAGE_SIZE}-byte limit", code="message_too_large")
        call = _Call()
        calls[msgid] = call
        if c.closed is not None:    # _broken sets closed before it empties calls
            calls.pop(msgid, None)
            raise type(c.closed)(c.closed.message, code=c.closed.code)
        try:
            with c.wlock:
                c.sock.sendall(data)
        except OSError as e:
            self._broken(c, ConnectionClosedError(f"send to octostored failed: {e}"))
        deadline = monotonic() + (timeout if timeout is not None else self._timeout)
        try:
            self._wait(c, msgid, call, deadline)
        except BaseException:
            self._abandon(c, msgid, call, on_late)
            raise
        if call.error is not None:
            raise call.error
        return call.result

    def _abandon(self, c: _Conn, msgid: int, call: _Call,
                 on_late: Optional[Callable[[Any, Any], None]]) -> None:
        with c.mu:
            if c.calls.pop(msgid, None) is not None:
                c.abandoned[msgid] = on_late
                late = True
            else:
                late = False
        if late:
            if on_late is not None:
                self._start_watcher(c)   # someone must read the grant to release it
            return
        if call.done and on_late is not None and call.error is None:
            on_late(None, call.result)

    def _wait(self, c: _Conn, msgid: int, call: _Call, deadline: float) -> None:
        rlock = c.rlock
        while not call.done:
            if rlock.acquire(False):
                try:
                    self._read(c, call, deadline)
                finally:
                    rlock.release()
                    if c.sleepers:
                        self._wake_one(c)
            else:
                p = call.park
                if p is None:
                    p = call.park = _allocate_lock()
                    p.acquire()
                # Register, then try the reader's lock once more: a reader releases it
                # before looking for sleepers, so one of the two sees the other.
                c.sleepers[msgid] = call
                if not call.done and rlock.acquire(False):
                    del c.sleepers[msgid]
                    rlock.release()
                    continue
                if not call.done:
                    remaining = deadline - monotonic()
                    if remaining > 0:
                        p.acquire(True, remaining)
                c.sleepers.pop(msgid, None)
            if not call.done and monotonic() >= deadline:
                if c.sleepers and not rlock.locked():
                    self._wake_one(c)
                raise RequestTimeoutError(f"no reply from octostored at {self._path} "
                                          "within the timeout")

    @staticmethod
    def _wake_one(c: _Conn) -> None:
        """Wake one sleeping caller to read in place of the one that left."""
        for call in list(c.sleepers.values()):
            if not call.done and call.park is not None:
                _unpark(call)
                return

    def _handoff(self, c: _Conn, release: bool = True) -> None:
        if release:
            c.rlock.release()
        if c.sleepers and not c.rlock.locked():
            self._wake_one(c)

    def _read(self, c: _Conn, call: Optional[_Call], deadline: float,
              once: bool = False) -> None:
        """Read and dispatch until ``call`` is done or the deadline (the reader's job)."""
        sock, unpacker, dispatch = c.sock, c.unpacker, self._dispatch
        buf, view = c.buf, c.view
        if not once and deadline - monotonic() < c.rcvtimeo:
            self._set_rcvtimeo(c, deadline)
        while c.closed is None and (call is None or not call.done):
            try:
                n = sock.recv_into(buf, 0, socket.MSG_DONTWAIT if once else 0)
            except (BlockingIOError, InterruptedError, socket.timeout):
                if once or deadline - monotonic() <= 0:
                    return
                self._set_rcvtimeo(c, deadline)
                continue
            except OSError as e:
                return self._broken(c, ConnectionClosedError(f"read failed: {e}"))
            if not n:
                return self._broken(c, ConnectionClosedError(
                    "octostored closed the connection"))
            try:
                unpacker.feed(view[:n])
                for msg in unpacker:
                    dispatch(c, msg)
            except OctoStoreError as e:
                return self._broken(c, e)
            except Exception as e:   # msgpack's errors: garbage, oversized, too deep
                return self._broken(c, ProtocolViolationError(
                    f"undecodable data from the peer: {type(e).__name__}: {e}"))

    @staticmethod
    def _set_rcvtimeo(c: _Conn, deadline: float) -> None:
        """Let a blocked recv return by the deadline (at most _RCVTIMEO from now)."""
        want = min(max(deadline - monotonic(), 0.001), _RCVTIMEO)
        if abs(want - c.rcvtimeo) > 0.0005:
            c.rcvtimeo = want
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(want))

    def _dispatch(self, c: _Conn, msg: Any) -> None:
        if type(msg) is list and len(msg) == 4 and msg[0] == 1:
            msgid, err, result = msg[1], msg[2], msg[3]
            call = c.calls.pop(msgid, None) if type(msgid) is int else None
            if call is None:
                if msgid in c.abandoned:
                    late = c.abandoned.pop(msgid)
                    if late is not None:
                        late(err, result)
                    return
                if msgid == 0 and err is not None:
                    raise P.reply_error(err)
                raise P.bad_message(msg)
            if err is not None:
                call.error = P.reply_error(err)
            elif type(result) is dict:
                call.result = result
            else:
                call.error = ProtocolViolationError(f"result is not a map: {result!r:.80}")
            call.done = True
            if call.park is not None:
                _unpark(call)
        elif type(msg) is list and len(msg) == 3 and msg[0] == 2:
            self._notified(c, msg[1], msg[2])
        else:
            raise P.bad_message(msg)

    def _notified(self, c: _Conn, method: Any, params: Any) -> None:
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
        elif isinstance(name, str):
            with self._names:
                if lid is not None and self._claims.get(name) == lid:
                    del self._claims[name]
                    self._names.notify_all()

    def _send_only(self, c: _Conn, method: str, params: Dict[str, Any]) -> None:
        """Send a request whose reply nobody awaits (a late grant's release)."""
        with c.mu:
            msgid = c.next_id()
            c.abandoned[msgid] = None
        try:
            with c.wlock:
                c.sock.sendall(_pack([0, msgid, method, [params]]))
        except OSError:
            pass

    # -- the watcher ------------------------------------------------------------------

    def _watch(self, c: _Conn) -> None:
        import select
        poller = select.poll()
        poller.register(c.sock.fileno(), select.POLLIN)
        while True:
            with c.mu:
                if c.closed is not None or not (c.leases or c.abandoned):
                    c.watcher = None
                    return
            if not poller.poll(1000):
                continue
            with c.rlock:
                if c.closed is not None:
                    continue
                self._read(c, None, 0.0, once=True)
            self._handoff(c, release=False)

    def _start_watcher(self, c: _Conn) -> None:
        with c.mu:
            if c.watcher is not None or c.closed is not None:
                return
            t = c.watcher = threading.Thread(target=self._watch, args=(c,), daemon=True,
                                             name="octostored-watcher")
        t.start()

    # -- one holder per name in this client ---------------------------------------------

    def _claim(self, name: str, wait: Optional[float]) -> None:
        deadline = monotonic() + wait if wait else None
        with self._names:
            while name in self._claims:
                remaining = deadline - monotonic() if deadline is not None else 0
                if remaining <= 0:
                    if deadline is None:
                        raise LockHeldError(
                            holder_id=f"local:pid={os.getpid()},uid={os.geteuid()}",
                            message=f"{name} is held through this client")
                    raise LockWaitTimeout(f"{name}: still held after the wait")
                self._names.wait(remaining)
            self._claims[name] = None

    def _unclaim(self, name: str, lease_id: Optional[str] = None) -> None:
        with self._names:
            if name in self._claims and self._claims[name] == lease_id:
                del self._claims[name]
                self._names.notify_all()

    def _acquire(self, name: str, ttl: int = 60, *, metadata: Optional[str] = None,
                 wait: Optional[float] = None, lock_delay: Optional[int] = None,
                 detach: bool = False, hold: Optional[float] = None,
                 make_lease: bool = False,
                 on_lost: Optional[Callable[[Lease], Any]] = None) -> Any:
        params = P.acquire_params(name, ttl, metadata, wait, lock_delay, detach, hold)
        t0 = monotonic()
        self._claim(name, wait)
        lease_id = None
        via: List[_Conn] = []
        try:
            if wait:
                left = max(wait - (monotonic() - t0), 0.0)
                if not self._waits.acquire(timeout=left + self._timeout):
                    raise LockWaitTimeout(f"{name}: no wait slot")
                try:
                    left = max(wait - (monotonic() - t0), 0.0)
                    if left > 0:
                        params["wait"] = left
                    else:
                        params.pop("wait", None)
                    r = self._call("acquire", params, self._timeout + left,
                                   on_late=self._late_release(name), via=via)
                finally:
                    self._waits.release()
            else:
                r = self._call("acquire", params, on_late=self._late_release(name), via=via)
            res = M.acquire_result(P.acquired_or_raise(r))
            lease_id = res.lease_id
        finally:
            if lease_id is None:
                self._unclaim(name)
        with self._names:
            if self._claims.get(name, 0) is None:
                self._claims[name] = lease_id
        if not make_lease:
            return res
        lease = Lease(res, on_lost)
        c = via[-1]
        with c.mu:
            if c.closed is None:
                c.leases[lease.lease_id] = lease
        if c.closed is not None:     # broke since the grant: the lease went with it
            lease._lose("connection_lost")
        self._start_watcher(c)
        return lease

    def _late_release(self, name: str) -> Callable[[Any, Any], None]:
        def late(err: Any, result: Any) -> None:
            if err is None and isinstance(result, dict) and result.get("status") == "acquired":
                c = self._conn
                if c is not None and c.closed is None:
                    self._send_only(c, "release", {"name": name,
                                                   "lease_id": result.get("lease_id")})
        return late

    def _release_lease(self, lease: Lease) -> None:
        c = self._conn
        try:
            if not lease.lost.is_set():
                self.release_lock(lease.name, lease.lease_id)
        finally:
            lease._released = True
            self._unclaim(lease.name, lease.lease_id)
            if c is not None:
                with c.mu:
                    c.leases.pop(lease.lease_id, None)
            if lease.lost.is_set() and c is not None and c.closed is None:
                # The daemon declared it lost; tell it we are done (errors ignored).
                self._send_only(c, "release", {"name": lease.name,
                                               "lease_id": lease.lease_id})

    # -- the SDK's methods --------------------------------------------------------------

    def health(self) -> str:
        """The service's status: "ok", "degraded" or "unavailable"."""
        return str(self._call("health", None).get("status"))

    def health_info(self) -> Dict[str, Any]:
        """The whole health map (upstream view, base_url)."""
        return self._call("health", None)

    def ping(self, payload: Any = None) -> Any:
        """Round trip to the daemon; returns the payload echoed."""
        return self._call("ping", {"payload": payload} if payload is not None else None
                          ).get("payload")

    def hello(self, client: str = "octostored-python") -> Dict[str, Any]:
        """Protocol handshake: the daemon's version, methods and limits."""
        return self._call("hello", {"version": P.PROTOCOL_VERSION, "client": client})

    def daemon_status(self) -> Dict[str, Any]:
        """The daemon's own counters."""
        return self._call("daemon_status", None)

    def acquire_lock(self, name: str, ttl: int = 60, *, metadata: Optional[str] = None,
                     wait: Optional[float] = None, lock_delay: Optional[int] = None,
                     detach: bool = False, hold: Optional[float] = None) -> M.AcquireResult:
        """Acquire ``name`` for ``ttl`` seconds; raise LockHeldError if someone has it.

        ``wait`` (seconds) keeps trying that long; ``detach``/``hold`` make the lease
        outlive this client for ``hold`` seconds; ``lock_delay`` sets a release delay.
        """
        return self._acquire(name, ttl, metadata=metadata, wait=wait, lock_delay=lock_delay,
                             detach=detach, hold=hold)

    def release_lock(self, name: str, lease_id: str) -> None:
        """Release a lease."""
        P.check_name(name)
        P.check_lease_id(lease_id)
        try:
            self._call("release", {"name": name, "lease_id": lease_id})
        except (LeaseLostError, LeaseNotCurrentError, NotFoundError):
            self._unclaim(name, lease_id)
            raise
        self._unclaim(name, lease_id)

    def renew_lock(self, name: str, lease_id: str, ttl: int = 60) -> M.RenewResult:
        """Renew a lease with a new TTL (the daemon also renews on its own)."""
        P.check_name(name)
        P.check_lease_id(lease_id)
        P.check_ttl(ttl)
        return M.renew_result(self._call("renew", {"name": name, "lease_id": lease_id,
                                                   "ttl": ttl}))

    def get_lock_status(self, name: str) -> M.LockInfo:
        """The lock's status."""
        return M.lock_info(self._call("status", {"name": P.check_name(name)}))

    def list_locks(self, prefix: Optional[str] = None) -> List[M.UserLock]:
        """The user's locks, optionally only names starting with ``prefix``."""
        if prefix is not None and not isinstance(prefix, str):
            raise ValidationError("prefix: expected a string", param="prefix")
        return M.user_locks(self._call("list", {"prefix": prefix} if prefix else None))

    def rotate_token(self) -> M.TokenInfo:
        """Have the daemon rotate its token (admin only); the token is never returned."""
        return M.token_info(self._call("rotate_token", None))

    def lock(self, name: str, ttl: int = 60, wait: Optional[float] = None,
             metadata: Optional[str] = None, *, lock_delay: Optional[int] = None,
             on_lost: Optional[Callable[[Lease], Any]] = None) -> _LockContext:
        """``with client.lock(name) as lease:`` hold ``name`` for the block.

        The daemon renews the lease; the block's exit releases it.  If the lease is lost,
        ``lease.lost`` is set, ``on_lost(lease)`` runs (in its own thread), and leaving the
        block raises LeaseLostError.
        """
        P.acquire_params(name, ttl, metadata, wait, lock_delay, False, None)
        return _LockContext(self, dict(name=name, ttl=ttl, wait=wait, metadata=metadata,
                                       lock_delay=lock_delay, on_lost=on_lost))
