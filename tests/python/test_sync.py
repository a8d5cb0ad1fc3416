"""OctoStoreClient against real daemons (local backend, and remote with the fake server):
every method, the errors, lock(), one holder per name, threads sharing one client."""
import os
import threading
import time

import pytest

from conftest import wait_until
import octostored as o


@pytest.fixture
def client(daemon):
    with o.OctoStoreClient(daemon.sock, timeout=10) as c:
        yield c


def other(daemon):
    return o.OctoStoreClient(daemon.sock, timeout=10)


def test_health_ping_hello_status(client, daemon):
    assert client.health() == "ok"
    assert client.ping({"a": [1, 2.5, None, True, b"\x00"]}) == \
        {"a": [1, 2.5, None, True, b"\x00"]}
    assert client.hello()["protocol"] == 1
    assert client.daemon_status()["pid"] == daemon.proc.pid


def test_acquire_status_renew_list_release(client, name):
    r = client.acquire_lock(name, ttl=30, metadata="job 7")
    assert isinstance(r, o.AcquireResult) and r.status == "acquired"
    assert r.lease_id and r.fencing_token >= 1 and r.expires_at and r.metadata == "job 7"
    info = client.get_lock_status(name)
    assert isinstance(info, o.LockInfo) and info.status is o.LockStatus.HELD
    assert info.fencing_token == r.fencing_token and info.local == o.LocalHolder(
        state="held", pid=os.getpid(), pid_stale=False, uid=os.geteuid(), detached=False)
    rn = client.renew_lock(name, r.lease_id, ttl=40)
    assert isinstance(rn, o.RenewResult) and rn.lease_id == r.lease_id and rn.expires_at
    locks = client.list_locks(prefix=name)
    assert [(type(x), x.name) for x in locks] == [(o.UserLock, name)]
    assert client.release_lock(name, r.lease_id) is None
    assert client.get_lock_status(name).status is o.LockStatus.FREE
    assert client.list_locks(prefix=name) == []
    with pytest.raises(o.LeaseNotCurrentError) as ei:
        client.release_lock(name, r.lease_id)
    assert isinstance(ei.value, o.LockError) and ei.value.code == "lease_not_current"


def test_held_by_another_client(client, daemon, name):
    r = client.acquire_lock(name, ttl=30)
    with other(daemon) as c2:
        with pytest.raises(o.LockHeldError) as ei:
            c2.acquire_lock(name)
        assert ei.value.holder_id == f"local:pid={os.getpid()},uid={os.geteuid()}"
        assert ei.value.local == o.LocalHolder(state="held", pid=os.getpid(), pid_stale=False,
                                               uid=os.geteuid(), detached=None)
        assert ei.value.expires_at
        with pytest.raises(o.NotOwnerError):
            c2.release_lock(name, r.lease_id)
        with pytest.raises(o.NotOwnerError):
            c2.renew_lock(name, r.lease_id)
    client.release_lock(name, r.lease_id)


def test_lock_delay_raises_delayed(local_daemon, name):
    """The local backend's delay binds every acquirer (the server's spares the holder's
    own user, which every client of one daemon is)."""
    client = other(local_daemon)
    r = client.acquire_lock(name, ttl=30, lock_delay=5)
    client.release_lock(name, r.lease_id)
    with other(local_daemon) as c2:
        with pytest.raises(o.LockDelayedError) as ei:
            c2.acquire_lock(name)
    assert isinstance(ei.value, o.LockError) and ei.value.available_at
    assert ei.value.retry_after_ms > 0


def test_wait_granted_on_release_and_wait_timeout(client, daemon, name):
    r = client.acquire_lock(name, ttl=30)
    with other(daemon) as c2:
        t0 = time.monotonic()
        with pytest.raises(o.LockWaitTimeout):
            c2.acquire_lock(name, wait=0.3)
        assert 0.25 < time.monotonic() - t0 < 5
        got = []
        t = threading.Thread(target=lambda: got.append(c2.acquire_lock(name, wait=10)))
        t.start()
        wait_until(lambda: c2._conn and c2._conn.calls, 5, "the waiter to be sent")
        client.release_lock(name, r.lease_id)
        t.join(10)
        assert got and got[0].status == "acquired" and got[0].lease_id != r.lease_id


def test_close_releases_connection_bound_leases_not_detached(daemon, name):
    c = other(daemon)
    c.acquire_lock(name + "a", ttl=30)
    d = c.acquire_lock(name + "d", ttl=30, detach=True, hold=30)
    c.close()
    with other(daemon) as c2:
        wait_until(lambda: c2.get_lock_status(name + "a").status is o.LockStatus.FREE, 5,
                   "the connection-bound lease to be released")
        assert c2.get_lock_status(name + "d").status is o.LockStatus.HELD
        c2.release_lock(name + "d", d.lease_id)


def test_validation_before_sending(client, daemon):
    before = client.daemon_status()["requests"]
    bad = [dict(name=""), dict(name="a//b"), dict(name="/a"), dict(name="a" * 65),
           dict(name="x/" * 200), dict(name=".."), dict(name="a/./b"),
           dict(name="team-b/../team-a/x"), dict(name="a b"), dict(name="a\x00"),
           dict(name="é²"), dict(name="\udc80"), dict(name=5), dict(name="a", ttl=0),
           dict(name="a", ttl=3601), dict(name="a", ttl="60"), dict(name="a", ttl=True),
           dict(name="a", metadata="x" * 1025), dict(name="a", metadata=3),
           dict(name="a", lock_delay=31), dict(name="a", wait=-1), dict(name="a", wait="1"),
           dict(name="a", detach=True), dict(name="a", hold=3)]
    for kw in bad:
        with pytest.raises(o.ValidationError) as ei:
            client.acquire_lock(**kw)
        assert ei.value.param, kw
    for call in (lambda: client.release_lock("a", ""), lambda: client.renew_lock("a", 5),
                 lambda: client.renew_lock("a", "x", ttl=0),
                 lambda: client.get_lock_status("a/"), lambda: client.list_locks(prefix=3),
                 lambda: client.lock("a", ttl=-1), lambda: client.ping("x" * 70000)):
        with pytest.raises(o.ValidationError):
            call()
    after = client.daemon_status()["requests"]
    assert {k: v for k, v in after.items() if k != "daemon_status"} == \
        {k: v for k, v in before.items() if k != "daemon_status"}


def test_daemon_refusals_map_to_classes(client):
    with pytest.raises(o.UnknownMethodError):
        client.call("no_such_method")
    with pytest.raises(o.InvalidArgumentError) as ei:
        client.call("acquire", {"name": "a", "ttl": 0})
    assert ei.value.param == "ttl" and isinstance(ei.value, o.ValidationError)


def test_lock_context_manager(client, daemon, name):
    with client.lock(name, ttl=30, metadata="m") as lease:
        assert isinstance(lease, o.Lease) and lease.lease_id and lease.fencing_token
        assert not lease.lost.is_set()
        lease.check()
        with other(daemon) as c2:
            with pytest.raises(o.LockHeldError):
                c2.acquire_lock(name)
    assert client.get_lock_status(name).status is o.LockStatus.FREE


def test_one_holder_per_name_in_a_client(client, name):
    inside = []
    overlap = []

    def worker(i):
        for _ in range(5):
            with client.lock(name, ttl=30, wait=20) as lease:
                inside.append(i)
                if len(inside) > 1:
                    overlap.append(list(inside))
                time.sleep(0.002)
                inside.remove(i)
                lease.check()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not overlap
    assert client.get_lock_status(name).status is o.LockStatus.FREE
    r = client.acquire_lock(name)
    with pytest.raises(o.LockHeldError):
        client.acquire_lock(name)           # the daemon alone would answer the same lease
    with pytest.raises(o.LockHeldError):
        with client.lock(name):
            pass
    client.release_lock(name, r.lease_id)


def test_first_holders_exit_cannot_release_the_second(client, name):
    r1 = client.acquire_lock(name, ttl=30)
    client.release_lock(name, r1.lease_id)
    r2 = client.acquire_lock(name, ttl=30)
    with pytest.raises(o.LeaseNotCurrentError):
        client.release_lock(name, r1.lease_id)
    assert client.get_lock_status(name).fencing_token == r2.fencing_token
    assert client.get_lock_status(name).status is o.LockStatus.HELD
    client.release_lock(name, r2.lease_id)


def test_50_threads_share_one_client(client):
    errors = []

    def worker(i):
        try:
            for j in range(40):
                p = [i, j, "x" * (i * 7 % 300)]
                got = client.ping(p)
                if got != p:
                    errors.append((p, got))
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert errors == []


def test_waits_never_starve_the_connection(daemon, name):
    """More blocking waits than the daemon's in-flight limit: other calls still pass,
    the client keeps at most MAX_WAITS waits in flight and queues the rest."""
    n = 70
    with other(daemon) as holder, other(daemon) as c:
        held = [holder.acquire_lock(f"{name}/{i}", ttl=30) for i in range(n)]
        results = []
        ts = [threading.Thread(target=lambda i=i: results.append(
            _try(lambda: c.acquire_lock(f"{name}/{i}", wait=10)))) for i in range(n)]
        for t in ts:
            t.start()
        wait_until(lambda: c._conn is not None and
                   len(c._conn.calls) >= o._proto.MAX_WAITS, 10, "the waits to be sent")
        t0 = time.monotonic()
        assert c.ping("through") == "through"
        assert c.get_lock_status(f"{name}/0").status is o.LockStatus.HELD
        assert time.monotonic() - t0 < 1
        assert len(c._conn.calls) <= o._proto.MAX_WAITS
        for r in held:
            holder.release_lock(r.name, r.lease_id)
        for t in ts:
            t.join(30)
        assert sorted(r.name for r in results if isinstance(r, o.AcquireResult)) == \
            sorted(f"{name}/{i}" for i in range(n))


def _try(f):
    try:
        return f()
    except o.OctoStoreError as e:
        return e


class _Interrupt(Exception):
    pass


def test_interrupted_wait_late_grant_is_released(daemon, name):
    """A blocking acquire abandoned by its caller (here a signal, as Ctrl-C would) leaves
    no lock held by nobody: the grant that arrives later is released at once."""
    import signal

    def boom(*_):
        raise _Interrupt()
    old = signal.signal(signal.SIGALRM, boom)
    try:
        with other(daemon) as holder, other(daemon) as c:
            r = holder.acquire_lock(name, ttl=30)
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            with pytest.raises(_Interrupt):
                c.acquire_lock(name, wait=10)
            assert c._conn.abandoned                      # the wait is still queued
            holder.release_lock(name, r.lease_id)         # ... and granted to c now
            wait_until(lambda: holder.get_lock_status(name).status is o.LockStatus.FREE,
                       5, "the late grant to be released")
            assert c.ping("still") == "still"
            r2 = c.acquire_lock(name)                     # the name is not left claimed
            c.release_lock(name, r2.lease_id)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("md", ["a\tb", "line\n", "esc\x1b[2J", "del\x7f", "csi\x9b"])
def test_metadata_with_control_characters_is_refused_before_sending(md):
    # No daemon: the check runs before anything is sent (the daemon refuses the same).
    with pytest.raises(o.ValidationError) as ei:
        o.OctoStoreClient("/nonexistent/octostored.sock").acquire_lock(
            "a", metadata=md)
    assert ei.value.param == "metadata"
