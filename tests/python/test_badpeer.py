"""A socket that is not octostored: garbage, oversized and endless frames, wrong msgids,
a peer that never answers or hangs up, an untrusted uid.  Each gives a clear
NetworkError/OctoStoreError within the timeout, never a hang or a wrong reply."""
import asyncio
import os
import socket
import struct
import threading
import time

import msgpack
import pytest

import octostored as o


class BadPeer:
    """A Unix socket server answering each request the way ``mode`` says."""

    def __init__(self, path, mode):
        self.path, self.mode = path, mode
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(8)
        self.conns = []
        self.stop = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stop:
            try:
                s, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(s)
            threading.Thread(target=self.handle, args=(s,), daemon=True).start()

    def handle(self, s):
        u = msgpack.Unpacker(raw=False)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return
                u.feed(data)
                for req in u:
                    self.answer(s, req[1], req[3])
        except OSError:
            return

    def answer(self, s, msgid, params):
        m = self.mode
        if m == "garbage":
            s.sendall(b"\xc1\xc1\xc1\xc1")
        elif m == "oversized":
            # A 100 MiB string, sent on: the client's buffer stops at 16 MiB.
            s.sendall(b"\xdb" + struct.pack(">I", 100 << 20))
            try:
                for _ in range(300):                             # 19 MiB of it
                    s.sendall(b"x" * 65536)
            except OSError:
                pass
        elif m == "endless":
            # A reply whose result is an array of 2^31-1 nils: refused at its header.
            s.sendall(msgpack.packb([1, msgid, None])[:-1] + b"\xdd\x7f\xff\xff\xff")
            chunk = b"\xc0" * 65536
            try:
                for _ in range(400):
                    s.sendall(chunk)
            except OSError:
                pass
        elif m == "wrong_msgid":
            s.sendall(msgpack.packb([1, msgid + 1000, None, {}]))
        elif m == "duplicate":
            echo = params[0]["payload"] if params else None
            s.sendall(msgpack.packb([1, msgid, None, {"payload": echo}]) * 2)
        elif m == "not_a_map":
            s.sendall(msgpack.packb([1, msgid, None, 5]))
        elif m == "bad_shape":
            s.sendall(msgpack.packb([3, msgid]))
        elif m == "bad_notification":
            s.sendall(msgpack.packb([2, "lease_lost", 7]) +
                      msgpack.packb([2, 5, [{"lease_id": 3}]]) +
                      msgpack.packb([1, msgid, None, {"payload": "ok"}]))
        elif m == "error_then_close":
            s.sendall(msgpack.packb([1, 0, {"code": "protocol_error", "message": "bad"},
                                     None]))
            s.close()
        elif m == "hangup":
            s.shutdown(socket.SHUT_RDWR)
        elif m == "silent":
            pass
        elif m == "weird_error":
            s.sendall(msgpack.packb([1, msgid, {"code": 17, "message": ["x"]}, None]))

    def close(self):
        self.stop = True
        self.srv.close()
        for s in self.conns:
            s.close()


@pytest.fixture
def peer(tmpdir_private, request):
    made = []

    def make(mode):
        path = os.path.join(tmpdir_private, f"bad-{mode}-{time.monotonic_ns()}.sock")
        p = BadPeer(path, mode)
        made.append(p)
        return p
    yield make
    for p in made:
        p.close()


@pytest.fixture
def request_cleanup():
    fns = []
    yield fns
    for f in fns:
        f()


EXPECT = {
    "garbage": o.ProtocolViolationError,
    "oversized": o.ProtocolViolationError,
    "endless": o.ProtocolViolationError,
    "wrong_msgid": o.ProtocolViolationError,
    "not_a_map": o.ProtocolViolationError,
    "bad_shape": o.ProtocolViolationError,
    "error_then_close": o.ProtocolError,
    "hangup": o.ConnectionClosedError,
    "silent": o.RequestTimeoutError,
    "weird_error": o.InternalError,
}


def run_async(path, timeout, coro_fn):
    async def main():
        c = o.AsyncOctoStoreClient(path, timeout=timeout)
        try:
            return await coro_fn(c)
        finally:
            await c.close()
    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("mode", sorted(EXPECT))
def test_bad_peer_gives_clear_error_within_timeout(peer, mode, kind):
    p = peer(mode)
    t0 = time.monotonic()
    with pytest.raises(EXPECT[mode]) as ei:
        if kind == "sync":
            with o.OctoStoreClient(p.path, timeout=0.5) as c:
                c.ping()
        else:
            run_async(p.path, 0.5, lambda c: c.ping())
    assert isinstance(ei.value, o.OctoStoreError) and str(ei.value)
    assert time.monotonic() - t0 < 1.5, mode


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_duplicate_reply_is_refused_not_handed_on(peer, kind):
    """A second copy of a reply never reaches the next caller: the connection is
    dropped as broken, and the next call gets its own answer on a new one."""
    p = peer("duplicate")

    async def two(c):
        assert await c.ping("first") == "first"
        first = c._conn
        assert first is None or first.closed is not None
        assert await c.ping("second") == "second"      # on a connection of its own

    if kind == "sync":
        with o.OctoStoreClient(p.path, timeout=0.5) as c:
            assert c.ping("first") == "first"
            first = c._conn
            assert first.closed is not None
            assert c.ping("second") == "second"
            assert c._conn is not first
    else:
        run_async(p.path, 0.5, two)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_malformed_notifications_are_ignored(peer, kind):
    p = peer("bad_notification")
    if kind == "sync":
        with o.OctoStoreClient(p.path, timeout=1) as c:
            assert c.ping() == "ok"
    else:
        assert run_async(p.path, 1, lambda c: c.ping()) == "ok"


def test_many_threads_on_a_silent_peer_all_time_out(peer):
    p = peer("silent")
    c = o.OctoStoreClient(p.path, timeout=0.5)
    errs = []

    def one():
        try:
            c.ping()
        except o.RequestTimeoutError as e:
            errs.append(e)
    ts = [threading.Thread(target=one) for _ in range(20)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(5)
    assert len(errs) == 20 and time.monotonic() - t0 < 2
    c.close()


def test_no_daemon_is_unavailable(tmpdir_private):
    path = os.path.join(tmpdir_private, "nobody-here.sock")
    with pytest.raises(o.UnavailableError):
        o.OctoStoreClient(path, timeout=1).ping()
    with pytest.raises(o.NetworkError):
        run_async(path, 1, lambda c: c.ping())


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a peer as another uid")
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_untrusted_peer_uid_is_refused(request_cleanup, kind, monkeypatch):
    """A squatter running as uid 65534 answers on the socket: refused, naming the uid;
    trusted through $OCTOSTORED_TRUSTED_UID."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="octo-py-squat.")
    os.chmod(d, 0o755)
    os.chown(d, 65534, 65534)
    request_cleanup.append(lambda: shutil.rmtree(d, ignore_errors=True))
    path = os.path.join(d, "s.sock")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            srv = socket.socket(socket.AF_UNIX)
            srv.bind(path)
            srv.listen(4)
            os.write(w, b"x")
            while True:
                s, _ = srv.accept()
                try:
                    req = msgpack.unpackb(s.recv(4096))
                    s.sendall(msgpack.packb([1, req[1], None, {"payload": "fake"}]))
                except (ValueError, OSError):
                    pass
                s.close()
        finally:
            os._exit(0)
    try:
        os.close(w)
        assert os.read(r, 1) == b"x"
        monkeypatch.delenv("OCTOSTORED_TRUSTED_UID", raising=False)
        with pytest.raises(o.PeerNotTrustedError) as ei:
            if kind == "sync":
                o.OctoStoreClient(path, timeout=1).ping()
            else:
                run_async(path, 1, lambda c: c.ping())
        assert "65534" in str(ei.value) and isinstance(ei.value, o.NetworkError)
        monkeypatch.setenv("OCTOSTORED_TRUSTED_UID", "65534")
        if kind == "sync":
            assert o.OctoStoreClient(path, timeout=1).ping("x") == "fake"
        else:
            assert run_async(path, 1, lambda c: c.ping("x")) == "fake"
    finally:
        os.close(r)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
