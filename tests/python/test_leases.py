"""Leases over time and processes: renewal past the TTL with no client calls,
lease_lost before the deadline (sync and async), SIGKILL of a holder, fork, restart."""
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest

from conftest import wait_until
import octostored as o

HOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "holder.py")


def flat(name):
    return name.replace("/", "-")


def test_renewed_past_ttl_without_calls(daemon, name):
    async def async_part(nm):
        async with o.AsyncOctoStoreClient(daemon.sock) as ac:
            async with ac.lock(nm, ttl=1) as lease:
                await asyncio.sleep(2.5)
                assert not lease.lost.is_set()
                info = await ac.get_lock_status(nm)
                assert info.status is o.LockStatus.HELD
                assert info.fencing_token == lease.fencing_token

    with o.OctoStoreClient(daemon.sock) as c:
        with c.lock(name, ttl=1) as lease:
            asyncio.run(async_part(name + "-a"))    # 2.5 s: both leases outlive 1 s TTLs
            assert not lease.lost.is_set()
            info = c.get_lock_status(name)
            assert info.status is o.LockStatus.HELD
            assert info.fencing_token == lease.fencing_token


def _fail_renewals(fake, name):
    fake.post("/_fake/fault", {"mode": "close", "count": -1,
                               "path_prefix": "/locks/" + urllib.parse.quote(name, safe="")
                               + "/renew"})


def test_lease_lost_reaches_sync_holder_before_deadline(remote_daemon, name):
    name = flat(name)
    fake = remote_daemon.fake
    called = []
    try:
        with o.OctoStoreClient(remote_daemon.sock) as c:
            with pytest.raises(o.LeaseLostError):
                with c.lock(name, ttl=3, on_lost=called.append) as lease:
                    t_acq = time.monotonic()
                    _fail_renewals(fake, name)
                    assert lease.lost.wait(5), "no lease_lost"
                    t_lost = time.monotonic()
                    with pytest.raises(o.LeaseLostError):
                        lease.check()
            assert t_lost < t_acq + 0.8 * 3, t_lost - t_acq
            assert lease.lost_reason == "expired"
            wait_until(lambda: called == [lease], 5, "on_lost to run")
            # The daemon answers another lock now that the holder has left the block.
            fake.post("/_fake/clear", {})
            wait_until(lambda: _free(c, name), 10, "the lost lock to be free")
    finally:
        fake.post("/_fake/clear", {})


def _free(c, name):
    return c.get_lock_status(name).status is o.LockStatus.FREE


def test_lease_lost_reaches_async_holder_and_cancels_run(remote_daemon, name):
    name = flat(name)
    fake = remote_daemon.fake

    async def main():
        async with o.AsyncOctoStoreClient(remote_daemon.sock) as c:
            cancelled = []
            called = []

            async def work():
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    cancelled.append(time.monotonic())
                    raise

            with pytest.raises(o.LeaseLostError):
                async with c.lock(name, ttl=3, on_lost=called.append) as lease:
                    t_acq = time.monotonic()
                    _fail_renewals(fake, name)
                    with pytest.raises(o.LeaseLostError):
                        await lease.run(work())
            assert cancelled and cancelled[0] < t_acq + 0.8 * 3
            assert lease.lost.is_set() and lease.lost_reason == "expired"
            assert called == [lease]

    try:
        asyncio.run(main())
    finally:
        fake.post("/_fake/clear", {})


def _readline(p, timeout=10.0):
    """One line of the helper's output, or fail after ``timeout`` (never hang)."""
    import select
    if not select.select([p.stdout], [], [], timeout)[0]:
        p.kill()
        raise AssertionError("the helper printed nothing in time")
    return p.stdout.readline().split()


def _spawn(sock, name, mode):
    p = subprocess.Popen([sys.executable, HOLDER, sock, name, mode], stdout=subprocess.PIPE,
                         text=True, bufsize=1)
    line = _readline(p)
    assert line and line[0] == "held", line
    return p, line


def _freed_within(c, name, p):
    """Seconds from SIGKILL to the lock reading free."""
    t_kill = time.monotonic()
    p.kill()
    p.wait()
    wait_until(lambda: _free(c, name), 5, "the lock to be freed")
    return time.monotonic() - t_kill


def test_sigkilled_holder_frees_the_lock_within_100ms(daemon, name):
    with o.OctoStoreClient(daemon.sock) as c:
        p, _ = _spawn(daemon.sock, name, "hold")
        assert c.get_lock_status(name).status is o.LockStatus.HELD
        dt = _freed_within(c, name, p)
        assert dt < 0.1, f"freed {dt * 1000:.0f} ms after SIGKILL"


def test_fork_child_does_not_keep_parents_lease(local_daemon, name):
    """The child closes its inherited connection: the parent's death frees its lock at
    once although the child lives on."""
    with o.OctoStoreClient(local_daemon.sock) as c:
        p, line = _spawn(local_daemon.sock, name, "forkhold")
        child = int(line[1])
        try:
            dt = _freed_within(c, name, p)
            assert os.path.exists(f"/proc/{child}")
            assert dt < 0.1
        finally:
            os.kill(child, signal.SIGKILL)


def test_fork_child_gets_its_own_connection(local_daemon, name):
    p = subprocess.Popen([sys.executable, HOLDER, local_daemon.sock, name, "forkuse"],
                         stdout=subprocess.PIPE, text=True, bufsize=1)
    held = None
    try:
        lines = [_readline(p), _readline(p)]
        held = next(x for x in lines if x[0] == "held")
        child = next(x for x in lines if x[0] == "child")
        assert child[1:3] == ["ok", "forked"], child
        with o.OctoStoreClient(local_daemon.sock) as c:
            assert c.get_lock_status(name).local.pid == p.pid
    finally:
        p.kill()
        p.wait()
        if held:
            os.kill(int(held[1]), signal.SIGKILL)


def test_daemon_restart_is_loss_then_reconnect(fresh_local, name):
    c = o.OctoStoreClient(fresh_local.sock, timeout=5)
    with pytest.raises(o.LeaseLostError):
        with c.lock(name, ttl=30) as lease:
            fresh_local.restart()
            assert lease.lost.wait(5)
            assert lease.lost_reason == "connection_lost"
    assert c.ping("again") == "again"
    r = c.acquire_lock(name)
    c.release_lock(name, r.lease_id)

    async def main():
        ac = o.AsyncOctoStoreClient(fresh_local.sock, timeout=5)
        with pytest.raises(o.LeaseLostError):
            async with ac.lock(name, ttl=30) as lease:
                fresh_local.restart()
                await asyncio.wait_for(lease.lost.wait(), 5)
        assert await ac.ping("again") == "again"
        await ac.close()
    asyncio.run(main())
    c.close()


ASYNC_FORK = r"""
import asyncio, os, sys
sys.path.insert(0, sys.argv[2])
import octostored as o

async def main():
    c = o.AsyncOctoStoreClient(sys.argv[1])
    async with c.lock(sys.argv[3]) as lease:
        pid = os.fork()
        if pid == 0:
            async def child():
                print("child", lease.lost.is_set(), lease.lost_reason, await c.ping("c"),
                      flush=True)
            asyncio.run(child())
            os._exit(0)
        os.waitpid(pid, 0)
        st = await c.get_lock_status(sys.argv[3])
        print("parent", lease.lost.is_set(), st.status.name, flush=True)
asyncio.run(main())
"""


def test_async_fork_child_gets_its_own_connection(local_daemon, name):
    pkg = os.path.join(os.path.dirname(HOLDER), "..", "..", "client", "python")
    out = subprocess.run([sys.executable, "-c", ASYNC_FORK, local_daemon.sock, pkg, name],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.split("\n")[:2] == ["child True forked c", "parent False HELD"], out
