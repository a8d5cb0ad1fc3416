"""The Python error table and limits stay in step with proto/octostore_err.h, proto/err.c
and proto/PROTOCOL.md (read here, not copied)."""
import os
import re

import pytest

from conftest import SRCDIR
import octostored
from octostored import _errors, _proto

FAMILY = {
    "OCTO_CLASS_AUTH": octostored.AuthenticationError,
    "OCTO_CLASS_NETWORK": octostored.NetworkError,
    "OCTO_CLASS_LOCK_HELD": octostored.LockHeldError,
    "OCTO_CLASS_VALIDATION": octostored.ValidationError,
    "OCTO_CLASS_LOCK": octostored.LockError,
    "OCTO_CLASS_OTHER": octostored.OctoStoreError,
}
SDK = (octostored.AuthenticationError, octostored.NetworkError, octostored.LockError,
       octostored.ValidationError)


def read(*parts):
    with open(os.path.join(SRCDIR, *parts), encoding="utf-8") as f:
        return f.read()


def c_table():
    """(wire name, family) of every code in proto/err.c."""
    rows = re.findall(r'E\((OCTO_\w+),\s*"(\w+)",\s*"(?:[^"\\]|\\.)*"\s*,\s*(OCTO_CLASS_\w+)\)',
                      read("proto", "err.c"))
    return {name: cls for code, name, cls in rows if code != "OCTO_OK"}


def test_every_code_in_the_header_has_a_row():
    codes = set(re.findall(r"^\s*(OCTO_ERR_\w+) = \d+", read("proto", "octostore_err.h"),
                           re.M))
    rows = set(re.findall(r"E\((OCTO_ERR_\w+),", read("proto", "err.c")))
    assert codes and codes == rows


def test_every_wire_code_maps_to_its_family():
    table = c_table()
    assert set(table) == set(_errors.ERROR_CLASSES), "codes differ from proto/err.c"
    for name, fam in table.items():
        cls = _errors.ERROR_CLASSES[name]
        assert issubclass(cls, FAMILY[fam]), (name, cls, fam)
        if fam == "OCTO_CLASS_OTHER":
            assert not issubclass(cls, SDK), (name, cls)
        if fam == "OCTO_CLASS_LOCK":
            assert not issubclass(cls, octostored.LockHeldError), name
        e = _errors.error_from_map({"code": name, "message": "m"})
        assert type(e) is cls and e.code == name


def test_every_protocol_md_code_is_known():
    doc = read("proto", "PROTOCOL.md")
    local = re.findall(r"^\| `(\w+)` \| ", doc.split("Local codes:")[1].split("## Limits")[0],
                       re.M)
    passed = re.findall(r"`(\w+)`", doc.split("Codes of the OctoStore HTTP API")[1]
                        .split("Any other server code")[0].split(":", 1)[1])
    assert len(local) >= 15 and len(passed) >= 15
    for code in local + passed + ["upstream_error"]:
        assert code in _errors.ERROR_CLASSES, code


def test_limits_match_protocol_md():
    doc = read("proto", "PROTOCOL.md")
    num = lambda s: int(s.replace(",", ""))
    assert num(re.search(r"\| message size \| ([\d,]+) bytes", doc).group(1)) == \
        _proto.MAX_MESSAGE_SIZE
    assert num(re.search(r"\| requests in flight per connection \| (\d+)", doc).group(1)) \
        == _proto.MAX_INFLIGHT
    assert _proto.MAX_WAITS < _proto.MAX_INFLIGHT
    assert re.search(r"accept replies up to\s+16 MiB", doc) and \
        _proto.MAX_REPLY_SIZE == 16 << 20
    assert re.search(r"`ttl` is 1 to (\d+)", doc).group(1) == str(_proto.MAX_TTL)
    assert re.search(r"at\s+most\s+(\d+)\s+bytes\s+each,\s+at\s+most\s+(\d+)\s+bytes\s+in\s+all", doc).groups() \
        == (str(_proto.MAX_COMPONENT), str(_proto.MAX_NAME))
    assert num(re.search(r"`metadata` \| string \| at most ([\d,]+) bytes", doc).group(1)) \
        == _proto.MAX_METADATA
    assert re.search(r"`lock_delay` \| integer \| 0 to (\d+) s", doc).group(1) == \
        str(_proto.MAX_LOCK_DELAY)
    assert re.search(r"below 2\^(\d+)", doc).group(1) == "32" and _proto.MAX_MSGID == 2 ** 32


@pytest.mark.parametrize("bad", [None, 3, "x", [], {"code": 7}, {"message": "m"},
                                 {"code": "no_such_code", "retry_after_ms": "x"}])
def test_error_map_never_crashes(bad):
    e = _errors.error_from_map(bad)
    assert isinstance(e, octostored.OctoStoreError)


def test_unknown_code_is_plain_octostore_error_with_it():
    e = _errors.error_from_map({"code": "brand_new", "message": "m", "retry_after_ms": 5,
                                "request_id": "req_1"})
    assert type(e) is octostored.OctoStoreError
    assert (e.code, e.message, e.retry_after_ms, e.request_id) == ("brand_new", "m", 5,
                                                                    "req_1")


def test_sdk_names_exported():
    for n in ("OctoStoreClient", "AsyncOctoStoreClient", "OctoStoreError",
              "AuthenticationError", "NetworkError", "LockError", "LockHeldError",
              "ValidationError", "AcquireResult", "RenewResult", "LockInfo", "UserLock",
              "TokenInfo", "LockStatus", "LeaseLostError", "NotOwnerError",
              "PermissionDeniedError", "RateLimitedError", "LockWaitTimeout",
              "LockDelayedError"):
        assert getattr(octostored, n).__doc__, n
    assert issubclass(octostored.LockDelayedError, octostored.LockError)
    assert issubclass(octostored.LockWaitTimeout, TimeoutError)
    assert {m.name for m in octostored.LockStatus} == {"FREE", "HELD", "LOST"}


def test_models_are_immutable():
    r = octostored.AcquireResult(status="acquired", lease_id="x")
    with pytest.raises(AttributeError):
        r.lease_id = "y"
    assert r == octostored.AcquireResult(status="acquired", lease_id="x")
    assert r.fencing_token is None and "lease_id='x'" in repr(r)


def test_every_public_name_has_a_docstring():
    missing = []
    for n in octostored.__all__:
        obj = getattr(octostored, n)
        if not isinstance(obj, dict) and not (obj.__doc__ or "").strip():
            missing.append(n)
        if isinstance(obj, type) and n in ("OctoStoreClient", "AsyncOctoStoreClient",
                                           "Lease", "AsyncLease"):
            for m, f in vars(obj).items():
                if not m.startswith("_") and callable(f) and not (f.__doc__ or "").strip():
                    missing.append(f"{n}.{m}")
    assert missing == []
