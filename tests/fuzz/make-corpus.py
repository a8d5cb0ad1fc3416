#!/usr/bin/env python3
"""make-corpus.py - write the seed corpus of tests/fuzz/fuzz_proto.

Usage: python3 tests/fuzz/make-corpus.py [DIR]   (default: tests/fuzz/corpus/proto)

Seeds are valid msgpack-RPC messages for every method name in proto/octo_proto.h, the
daemon's replies and notification, and a few malformed messages. The bytes are built by
hand (python3 only, no msgpack module) so the generator runs on a bare Debian 12.
"""
import os
import struct
import sys


def enc(v):
    """Encode v as msgpack, smallest form, like msgpack-c's packer."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v <= 0x7F:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack(">b", v)
        if 0 <= v <= 0xFF:
            return b"\xcc" + struct.pack(">B", v)
        if 0 <= v <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", v)
        if 0 <= v <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", v)
        if v > 0:
            return b"\xcf" + struct.pack(">Q", v)
        if v >= -0x80:
            return b"\xd0" + struct.pack(">b", v)
        if v >= -0x8000:
            return b"\xd1" + struct.pack(">h", v)
        if v >= -0x80000000:
            return b"\xd2" + struct.pack(">i", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        n = len(b)
        if n <= 31:
            return bytes([0xA0 | n]) + b
        if n <= 0xFF:
            return b"\xd9" + bytes([n]) + b
        if n <= 0xFFFF:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(v, bytes):
        n = len(v)
        if n <= 0xFF:
            return b"\xc4" + bytes([n]) + v
        if n <= 0xFFFF:
            return b"\xc5" + struct.pack(">H", n) + v
        return b"\xc6" + struct.pack(">I", n) + v
    if isinstance(v, (list, tuple)):
        n = len(v)
        if n <= 15:
            h = bytes([0x90 | n])
        elif n <= 0xFFFF:
            h = b"\xdc" + struct.pack(">H", n)
        else:
            h = b"\xdd" + struct.pack(">I", n)
        return h + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        if n <= 15:
            h = bytes([0x80 | n])
        elif n <= 0xFFFF:
            h = b"\xde" + struct.pack(">H", n)
        else:
            h = b"\xdf" + struct.pack(">I", n)
        return h + b"".join(enc(k) + enc(x) for k, x in v.items())
    raise TypeError(type(v))


def request(msgid, method, params):
    return enc([0, msgid, method, [params]])


# One valid request per method (names from enum octo_method in proto/octo_proto.h).
METHODS = {
    "hello": {"version": 1, "client": "fuzz-seed"},
    "ping": {"payload": "hello"},
    "daemon_status": {},
    "health": {},
    "acquire": {"name": "jobs/nightly", "ttl": 60, "metadata": "host=a pid=1",
                "lock_delay": 0},
    "release": {"name": "jobs/nightly", "lease_id": "lease_0123456789abcdef"},
    "renew": {"name": "jobs/nightly", "lease_id": "lease_0123456789abcdef",
              "ttl": 3600},
    "status": {"name": "db/primary"},
    "list": {"prefix": "jobs/"},
    "rotate_token": {},
}


def seeds():
    out = {}
    for i, (m, p) in enumerate(METHODS.items()):
        out["req-" + m] = request(i + 1, m, p)
    out["req-ping-noparams"] = enc([0, 7, "ping", []])
    out["req-ping-nil"] = enc([0, 7, "ping", [None]])
    out["req-ping-payload-map"] = request(
        0xFFFFFFFF, "ping",
        {"payload": {"a": [1, -1, 300, -300, 70000, -70000, 1 << 40, -(1 << 40),
                           1.5, True, False, None, b"\x00\xff", "x" * 40]}})
    out["req-unknown-method"] = request(9, "frobnicate", {})
    out["resp-ok"] = enc([1, 7, None, {"payload": "hello"}])
    out["resp-error"] = enc([1, 9, {"code": "invalid_argument",
                                    "message": "ttl: expected 1 to 3600",
                                    "param": "ttl", "retry_after_ms": 250}, None])
    out["notify-lease-lost"] = enc([2, "lease_lost", [{
        "name": "jobs/nightly", "lease_id": "lease_01", "fencing_token": 42,
        "reason": "expired"}]])
    out["pipeline-3"] = b"".join(request(i, "ping", {}) for i in range(3))

    # Malformed.
    whole = request(5, "acquire", {"name": "a/b", "ttl": 30})
    out["bad-truncated"] = whole[:-3]
    out["bad-c1"] = b"\x94\x00\x05\xc1\x90"
    out["bad-array32-huge"] = b"\xdd\xff\xff\xff\xff"
    out["bad-map32-huge"] = b"\xdf\xff\xff\xff\xff"
    out["bad-str32-huge"] = b"\x94\x00\x05\xdb\xff\xff\xff\xff"
    out["bad-deep-20"] = b"\x91" * 20 + b"\x01"
    out["bad-deep-empty-17"] = b"\x91" * 16 + b"\x90"
    out["bad-msgid-negative"] = enc([0, -1, "ping", [{}]])
    out["bad-msgid-2^32"] = enc([0, 1 << 32, "ping", [{}]])
    out["bad-method-int"] = enc([0, 5, 1, [{}]])
    out["bad-params-bare-map"] = enc([0, 5, "ping", {}])
    out["bad-short"] = enc([0, 5])
    out["bad-ttl-string"] = request(6, "acquire", {"name": "a", "ttl": "60"})
    out["bad-elements"] = enc([0, 5, "ping", [{"payload": list(range(4200))}]])
    out["bad-then-good"] = b"\xc1" + request(1, "ping", {})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "proto")
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
