"""AsyncOctoStoreClient against real daemons: every method, errors, lock(), one holder per
name among tasks, 200 tasks on one client, waits beyond the in-flight limit, and a
cancelled wait whose late grant is released at once."""
import asyncio
import os
import time

import pytest

import octostored as o


def new(daemon):
    return o.AsyncOctoStoreClient(daemon.sock, timeout=10)


async def test_methods(daemon, name):
    async with new(daemon) as c:
        assert await c.health() == "ok"
        assert await c.ping([1, "x"]) == [1, "x"]
        assert (await c.hello())["protocol"] == 1
        assert (await c.daemon_status())["pid"] == daemon.proc.pid
        r = await c.acquire_lock(name, ttl=30, metadata="m")
        assert isinstance(r, o.AcquireResult) and r.status == "acquired" and r.lease_id
        info = await c.get_lock_status(name)
        assert info.status is o.LockStatus.HELD and info.fencing_token == r.fencing_token
        rn = await c.renew_lock(name, r.lease_id, ttl=20)
        assert isinstance(rn, o.RenewResult) and rn.lease_id == r.lease_id
        assert [x.name for x in await c.list_locks(prefix=name)] == [name]
        async with new(daemon) as c2:
            with pytest.raises(o.LockHeldError) as ei:
                await c2.acquire_lock(name)
            assert ei.value.holder_id == f"local:pid={os.getpid()},uid={os.geteuid()}"
            with pytest.raises(o.NotOwnerError):
                await c2.release_lock(name, r.lease_id)
        assert await c.release_lock(name, r.lease_id) is None
        assert (await c.get_lock_status(name)).status is o.LockStatus.FREE
        with pytest.raises(o.LeaseNotCurrentError):
            await c.release_lock(name, r.lease_id)
        with pytest.raises(o.UnknownMethodError):
            await c.call("nope")
        with pytest.raises(o.ValidationError):
            await c.acquire_lock("a//b")
        with pytest.raises(o.ValidationError):
            await c.acquire_lock("a", ttl=0)


async def test_rotate_token(daemon):
    async with new(daemon) as c:
        if daemon.config == "/dev/null":
            with pytest.raises(o.ConfigError):
                await c.rotate_token()
        else:
            t = await c.rotate_token()
            assert isinstance(t, o.TokenInfo) and t.rotated and t.user_id
            assert "token" not in t.to_dict()
            assert await c.health() == "ok"


def test_rotate_token_sync(daemon):
    with o.OctoStoreClient(daemon.sock) as c:
        if daemon.config == "/dev/null":
            with pytest.raises(o.ConfigError):
                c.rotate_token()
        else:
            assert c.rotate_token().rotated
            r = c.acquire_lock("py/after-rotate")
            c.release_lock("py/after-rotate", r.lease_id)


async def test_lock_and_one_holder_per_name(daemon, name):
    async with new(daemon) as c:
        inside, overlap = [], []

        async def worker(i):
            for _ in range(5):
                async with c.lock(name, ttl=30, wait=20) as lease:
                    inside.append(i)
                    if len(inside) > 1:
                        overlap.append(list(inside))
                    await asyncio.sleep(0.002)
                    inside.remove(i)
                    lease.check()

        await asyncio.gather(*(worker(i) for i in range(8)))
        assert not overlap
        assert (await c.get_lock_status(name)).status is o.LockStatus.FREE
        async with c.lock(name) as lease:
            assert isinstance(lease, o.AsyncLease)
            with pytest.raises(o.LockHeldError):
                await c.acquire_lock(name)
            assert await lease.run(asyncio.sleep(0, "done")) == "done"


async def test_200_tasks_share_one_client(daemon):
    async with new(daemon) as c:
        async def worker(i):
            for j in range(10):
                p = [i, j, "y" * (i % 50)]
                assert await c.ping(p) == p
        await asyncio.gather(*(worker(i) for i in range(200)))


async def test_waits_beyond_the_inflight_limit(daemon, name):
    n = 70
    async with new(daemon) as holder, new(daemon) as c:
        held = [await holder.acquire_lock(f"{name}/{i}", ttl=30) for i in range(n)]
        tasks = [asyncio.ensure_future(c.acquire_lock(f"{name}/{i}", wait=10))
                 for i in range(n)]
        for _ in range(500):
            if c._conn is not None and len(c._conn.calls) >= o._proto.MAX_WAITS:
                break
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        assert await c.ping("through") == "through"
        assert time.monotonic() - t0 < 1
        assert len(c._conn.calls) <= o._proto.MAX_WAITS
        for r in held:
            await holder.release_lock(r.name, r.lease_id)
        got = await asyncio.gather(*tasks)
        assert sorted(r.name for r in got) == sorted(f"{name}/{i}" for i in range(n))


async def test_cancelled_wait_late_grant_is_released(daemon, name):
    async with new(daemon) as holder, new(daemon) as c:
        r = await holder.acquire_lock(name, ttl=30)
        t = asyncio.ensure_future(c.acquire_lock(name, wait=10))
        for _ in range(500):
            if c._conn is not None and c._conn.calls:
                break
            await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        await holder.release_lock(name, r.lease_id)     # the daemon grants it to c now
        for _ in range(500):
            if (await holder.get_lock_status(name)).status is o.LockStatus.FREE:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the grant after the cancellation stayed held")
        r2 = await holder.acquire_lock(name)
        await holder.release_lock(name, r2.lease_id)


async def test_wait_timeout(daemon, name):
    async with new(daemon) as holder, new(daemon) as c:
        r = await holder.acquire_lock(name, ttl=30)
        with pytest.raises(o.LockWaitTimeout):
            await c.acquire_lock(name, wait=0.2)
        await holder.release_lock(name, r.lease_id)


def test_client_moves_to_a_new_event_loop(local_daemon):
    c = o.AsyncOctoStoreClient(local_daemon.sock, timeout=5)
    assert asyncio.run(c.ping("one")) == "one"
    assert asyncio.run(c.ping("two")) == "two"     # a loop of its own: connects again
    asyncio.run(c.close())
