#!/usr/bin/env python3
"""pybench.py - the Python client's speed (issue 14) in one run, ratios from one run.

Against one octostored (remote backend, the fake server over HTTPS) and the fake itself:
  ping          OctoStoreClient / AsyncOctoStoreClient vs a minimal blocking msgpack loop
  acq+rel x1    the clients vs the minimal loop vs httpx keep-alive (TCP_NODELAY) direct
  acq+rel x8    8 threads on one sync client, 8 tasks on one async client, vs 8 minimal
                loops on 8 connections, vs 8 httpx clients in 8 threads
  import        `import octostored` (and loading the sync client) vs `import msgpack,
                socket, enum`: medians of interleaved process runs

Rounds are interleaved (every variant once per round) and the median round is reported.
usage: pybench.py --socket S --url U --token-file F [--ca PEM] [--seconds N] [--rounds R]
"""
import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "client", "python"))
import octostored  # noqa: E402


# -- the minimal hand-written client: one blocking socket, no checks -----------------------

class Minimal:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.u = msgpack.Unpacker(raw=False)
        self.i = 0

    def call(self, method, params):
        self.i += 1
        self.s.sendall(msgpack.packb([0, self.i, method, [params] if params else []]))
        while True:
            for m in self.u:
                return m[3]
            self.u.feed(self.s.recv(65536))


def timed(seconds, fn):
    """(calls of ``fn``, elapsed seconds) over about ``seconds``."""
    n, t0 = 0, time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(20):
            fn()
        n += 20
        t = time.perf_counter()
        if t >= end:
            return n, t - t0


def threaded(seconds, fns):
    """(calls, elapsed) summed over one thread per function in ``fns``."""
    k = len(fns)
    counts = [0] * k
    stop = threading.Event()
    go = threading.Barrier(k + 1)

    def run(i):
        f = fns[i]
        go.wait()
        while not stop.is_set():
            for _ in range(10):
                f()
            counts[i] += 10
    ts = [threading.Thread(target=run, args=(i,)) for i in range(k)]
    for t in ts:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    return sum(counts), time.perf_counter() - t0


async def tasks(seconds, k, body):
    """(calls, elapsed) summed over ``k`` tasks running ``body(i)``."""
    counts = [0] * k
    stop = False

    async def run(i):
        while not stop:
            for _ in range(10):
                await body(i)
            counts[i] += 10
    ts = [asyncio.ensure_future(run(i)) for i in range(k)]
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    stop = True
    await asyncio.gather(*ts)
    return sum(counts), time.perf_counter() - t0


def compare(group, seconds, slice_s=0.25):
    """Rates of each variant of ``group`` (name -> slice function), run in alternating
    slices of ``slice_s`` seconds so that every variant sees the same machine load."""
    ops = {k: 0 for k in group}
    el = {k: 0.0 for k in group}
    for _ in range(max(1, round(seconds / slice_s))):
        for k, f in group.items():
            n, t = f(slice_s)
            ops[k] += n
            el[k] += t
    return {k: ops[k] / el[k] for k in group}


# -- the variants -------------------------------------------------------------------------

def minimal_acqrel(m, name):
    def f():
        r = m.call("acquire", {"name": name, "ttl": 60})
        m.call("release", {"name": name, "lease_id": r["lease_id"]})
    return f


def client_acqrel(c, name):
    def f():
        r = c.acquire_lock(name, ttl=60)
        c.release_lock(name, r.lease_id)
    return f


async def async_acqrel(c, i):
    name = f"pybench/a{i}"
    r = await c.acquire_lock(name, ttl=60)
    await c.release_lock(name, r.lease_id)


def httpx_client(args):
    import httpcore.backends.sync as hs
    import httpx
    if not getattr(hs.SyncBackend, "_nodelay", False):
        orig = hs.SyncBackend.connect_tcp

        def connect_tcp(self, *a, **kw):   # Debian's httpx has no socket_options
            stream = orig(self, *a, **kw)
            stream._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return stream
        hs.SyncBackend.connect_tcp = connect_tcp
        hs.SyncBackend._nodelay = True
    tok = open(args.token_file).read().strip()
    return httpx.Client(base_url=args.url, verify=args.ca or True,
                        headers={"Authorization": "Bearer " + tok})


def httpx_acqrel(h, name):
    path = "/locks/" + name.replace("/", "%2F")

    def f():
        r = h.post(path + "/acquire", json={"ttl": 60})
        r.raise_for_status()
        h.post(path + "/release", json={"lease_id": r.json()["lease_id"]}).raise_for_status()
    return f


def import_cost(runs):
    py = sys.executable
    pkg = os.path.join(HERE, "..", "client", "python")
    env = dict(os.environ, PYTHONPATH=pkg)
    variants = {
        "base": "import msgpack, socket, enum",
        "octostored": "import octostored",
        "base+octostored": "import msgpack, socket, enum, octostored",
        "client": "import msgpack, socket, enum; from octostored import OctoStoreClient",
        "async": "import msgpack, socket, enum; from octostored import "
                 "AsyncOctoStoreClient",
    }
    times = {k: [] for k in variants}
    for _ in range(runs):
        for k, code in variants.items():
            t0 = time.perf_counter()
            subprocess.run([py, "-c", code], env=env, check=True)
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--ca")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--import-runs", type=int, default=31)
    ap.add_argument("--no-httpx", action="store_true")
    args = ap.parse_args()
    S = args.seconds
    sync = octostored.OctoStoreClient(args.socket)
    minimal = Minimal(args.socket)
    mins8 = [Minimal(args.socket) for _ in range(8)]
    loop = asyncio.new_event_loop()
    aclient = octostored.AsyncOctoStoreClient(args.socket)
    loop.run_until_complete(aclient.ping())
    have_httpx = not args.no_httpx
    if have_httpx:
        try:
            hx = [httpx_client(args) for _ in range(8)]
        except ImportError:
            have_httpx = False

    async def aping(i):
        await aclient.ping()

    async def aacq(i):
        await async_acqrel(aclient, i)

    def arun(k, body):
        return lambda d: loop.run_until_complete(tasks(d, k, body))

    groups = [
        {"ping minimal": lambda d: timed(d, lambda: minimal.call("ping", None)),
         "ping sync client": lambda d: timed(d, sync.ping),
         "ping async client": arun(1, aping)},
        {"acq+rel x1 minimal": lambda d: timed(d, minimal_acqrel(minimal, "pybench/m")),
         "acq+rel x1 sync client": lambda d: timed(d, client_acqrel(sync, "pybench/s")),
         "acq+rel x1 async client": arun(1, aacq)},
        {"acq+rel x8 minimal, 8 connections": lambda d: threaded(
            d, [minimal_acqrel(mins8[i], f"pybench/m{i}") for i in range(8)]),
         "acq+rel x8 threads, one sync client": lambda d: threaded(
            d, [client_acqrel(sync, f"pybench/s{i}") for i in range(8)]),
         "acq+rel x8 tasks, one async client": arun(8, aacq)},
    ]
    if have_httpx:
        groups[1]["acq+rel x1 httpx direct"] = lambda d: timed(
            d, httpx_acqrel(hx[0], "pybench/h"))
        groups[2]["acq+rel x8 httpx direct, 8 clients"] = lambda d: threaded(
            d, [httpx_acqrel(hx[i], f"pybench/h{i}") for i in range(8)])
    res = {}
    for r in range(args.rounds):
        for g in groups:
            for k, v in compare(g, S).items():
                res.setdefault(k, []).append(v)
        print(f"# round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"{'measurement':40s} {'ops/s':>9s}  (rounds)")
    for k, v in med.items():
        print(f"{k:40s} {v:9.0f}  ({', '.join(f'{x:.0f}' for x in res[k])})")

    def ratio(what, a, b, target):
        xs = sorted(x / y for x, y in zip(res[a], res[b]))
        x = statistics.median(xs)
        print(f"{what:52s} {x:5.2f}x  (rounds {', '.join(f'{v:.2f}' for v in xs)}; "
              f"target >= {target}x) {'ok' if x >= target else 'MISSED'}")
    print()
    ratio("ping: sync client / minimal", "ping sync client", "ping minimal", 0.8)
    ratio("acq+rel x8: threads on one sync client / 8 minimal",
          "acq+rel x8 threads, one sync client", "acq+rel x8 minimal, 8 connections", 0.8)
    ratio("acq+rel x8: tasks on one async client / 8 minimal",
          "acq+rel x8 tasks, one async client", "acq+rel x8 minimal, 8 connections", 0.8)
    if have_httpx:
        ratio("acq+rel x1: sync client / httpx", "acq+rel x1 sync client",
              "acq+rel x1 httpx direct", 3)
        ratio("acq+rel x1: async client / httpx", "acq+rel x1 async client",
              "acq+rel x1 httpx direct", 3)
        ratio("acq+rel x8: sync client / httpx", "acq+rel x8 threads, one sync client",
              "acq+rel x8 httpx direct, 8 clients", 8)
        ratio("acq+rel x8: async client / httpx", "acq+rel x8 tasks, one async client",
              "acq+rel x8 httpx direct, 8 clients", 8)
        ratio("acq+rel x1: minimal / httpx (the ceiling here)", "acq+rel x1 minimal",
              "acq+rel x1 httpx direct", 3)
        ratio("acq+rel x8: 8 minimal / httpx (the ceiling here)",
              "acq+rel x8 minimal, 8 connections", "acq+rel x8 httpx direct, 8 clients", 8)
    if args.import_runs:
        ic = import_cost(args.import_runs)
        print()
        b = ic["base"]
        print(f"import (median of {args.import_runs} interleaved runs): "
              f"`import msgpack, socket, enum` {b:.1f} ms")
        for k, what in (("octostored", "import octostored"),
                        ("base+octostored", "the same + import octostored"),
                        ("client", "the same + OctoStoreClient loaded"),
                        ("async", "the same + AsyncOctoStoreClient loaded")):
            d = ic[k] - b
            note = (f"  (target <= +5 ms) {'ok' if d <= 5 else 'MISSED'}"
                    if k in ("octostored", "base+octostored") else "")
            print(f"  {what:42s} {ic[k]:6.1f} ms  {d:+5.1f} ms{note}")


if __name__ == "__main__":
    main()
