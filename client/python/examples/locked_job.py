#!/usr/bin/env python3
"""Run a job under an OctoStore lock through octostored, sync and async.

    OCTOSTORED_SOCKET=/run/octostored/octostored.sock python3 locked_job.py ci/deploy/prod
"""
import asyncio
import sys

from octostored import (AsyncOctoStoreClient, LeaseLostError, LockHeldError,
                        OctoStoreClient)


def sync_job(name: str) -> None:
    with OctoStoreClient() as client:
        # The SDK's calls, unchanged.
        try:
            result = client.acquire_lock(name, ttl=60)
        except LockHeldError as e:
            print(f"{name} is held by {e.holder_id} until {e.expires_at}")
            return
        print(f"acquired {name}: fencing token {result.fencing_token}")
        client.release_lock(name, result.lease_id)

        # The sidecar's way: renewed by the daemon, released on exit, loss reported.
        try:
            with client.lock(name, ttl=30, wait=10) as lease:
                for step in range(3):
                    lease.check()           # raises LeaseLostError once lost
                    print(f"step {step} under token {lease.fencing_token}")
        except LeaseLostError as e:
            print(f"lost the lock mid-job: {e}")


async def async_job(name: str) -> None:
    async with AsyncOctoStoreClient() as client:
        async with client.lock(name, ttl=30, wait=10) as lease:
            # Cancelled at once if the lease is lost (then LeaseLostError).
            await lease.run(asyncio.sleep(0.1))
            print(f"async work done under token {lease.fencing_token}")


if __name__ == "__main__":
    lock_name = sys.argv[1] if len(sys.argv) > 1 else "example/job"
    sync_job(lock_name)
    asyncio.run(async_job(lock_name))
