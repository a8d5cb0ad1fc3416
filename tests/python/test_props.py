"""Property tests (hypothesis) against the local daemon: payloads survive the framing
both ways, requests split at any byte boundary are answered, and the client's name check
agrees with the daemon's."""
import socket

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import octostored as o
from octostored import _proto

SETTINGS = dict(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = (st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 64 - 1)
           | st.floats(allow_nan=False) | st.text(max_size=40) | st.binary(max_size=40))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) |
                      st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)


@pytest.fixture(scope="module")
def client(local_daemon):
    with o.OctoStoreClient(local_daemon.sock, timeout=10) as c:
        yield c


@settings(**SETTINGS)
@given(payload=values)
def test_ping_payload_round_trip(client, payload):
    assert client.ping(payload) == payload


@settings(**SETTINGS)
@given(payloads=st.lists(st.text(max_size=300), min_size=1, max_size=12),
       cuts=st.lists(st.integers(0, 10 ** 6), max_size=20))
def test_requests_split_anywhere_are_answered(local_daemon, payloads, cuts):
    stream = b"".join(msgpack.packb([0, i + 1, "ping", [{"payload": p}]])
                      for i, p in enumerate(payloads))
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(local_daemon.sock)
        for a, b in zip(points, points[1:]):
            s.sendall(stream[a:b])
        u = msgpack.Unpacker(raw=False)
        got = {}
        while len(got) < len(payloads):
            data = s.recv(65536)
            assert data
            u.feed(data)
            for m in u:
                assert m[0] == 1 and m[2] is None
                got[m[1]] = m[3]["payload"]
    assert got == {i + 1: p for i, p in enumerate(payloads)}


name_chars = st.sampled_from(list("abcXYZ019-_./ ") +
                             ["é", "ß", "中", "Ⅻ", "٣", "²", "\u0301", "😀", "\t", "ǅ", "ª"])


@settings(**SETTINGS)
@given(name=st.text(name_chars, min_size=0, max_size=12) |
       st.text(st.sampled_from("ab/"), min_size=60, max_size=270))
def test_name_check_agrees_with_the_daemon(client, name):
    try:
        _proto.check_name(name)
        client_ok = True
    except o.ValidationError:
        client_ok = False
    try:
        client.call("status", {"name": name})
        daemon_ok = True
    except o.InvalidArgumentError as e:
        assert e.param == "name"
        daemon_ok = False
    assert client_ok == daemon_ok, name
