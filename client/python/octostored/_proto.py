"""What the sync and async clients share: limits, validation, the socket and its peer
check, and turning replies into results or exceptions (proto/PROTOCOL.md)."""
from __future__ import annotations

import os
import socket
import struct

from ._errors import (LockDelayedError, LockHeldError, OctoStoreError,
                      PeerNotTrustedError, ProtocolViolationError, UnavailableError,
                      ValidationError, error_from_map)

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: it costs ~5 ms
    from typing import Any, Dict, Optional

PROTOCOL_VERSION = 1
DEFAULT_SOCKET = "/run/octostored/octostored.sock"
MAX_MESSAGE_SIZE = 65536        # bytes of one request
MAX_INFLIGHT = 64               # requests in flight before the daemon stops reading
MAX_WAITS = 48                  # blocking waits a client keeps in flight (the rest queue)
MAX_REPLY_SIZE = 16 * 1024 * 1024   # the most the daemon queues for one connection
MAX_NAME = 256
MAX_COMPONENT = 64
MAX_TTL = 3600
MAX_METADATA = 1024
MAX_LOCK_DELAY = 30
MAX_MSGID = 2 ** 32

_ASCII_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def socket_path(socket_arg: Optional[str]) -> str:
    """The socket: the argument, else $OCTOSTORED_SOCKET, else the default."""
    return socket_arg or os.environ.get("OCTOSTORED_SOCKET") or DEFAULT_SOCKET


def _char_ok(ch: str) -> bool:
    if ch in _ASCII_OK:
        return True
    if ch.isalpha() or ch.isdecimal():
        return True
    import unicodedata
    return unicodedata.category(ch) == "Nl"


# What the daemon refuses in metadata (proto/codec.c octo_proto_text_ok): C0 controls
# (tab and newline too), DEL and C1 controls.
_CONTROL = frozenset(map(chr, [*range(0x20), *range(0x7f, 0xa0)]))


def check_name(name: Any) -> str:
    """Raise ValidationError unless ``name`` is a valid OctoStore lock name."""
    if not isinstance(name, str):
        raise ValidationError("name: expected a string", param="name")
    try:
        b = name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("name: not valid UTF-8", param="name") from None
    if not b or len(b) > MAX_NAME:
        raise ValidationError(f"name: 1 to {MAX_NAME} bytes", param="name")
    for comp in name.split("/"):
        if not comp:
            raise ValidationError("name: empty component", param="name")
        if comp in (".", ".."):
            # The daemon refuses them too: they read as paths in policies (team-b/../team-a).
            raise ValidationError("name: '.' and '..' components are not allowed",
                                  param="name")
        if len(comp.encode("utf-8")) > MAX_COMPONENT:
            raise ValidationError(f"name: component over {MAX_COMPONENT} bytes",
                                  param="name")
        if not (comp.isascii() and set(comp) <= _ASCII_OK):
            for ch in comp:
                if not _char_ok(ch):
                    raise ValidationError(f"name: character {ch!r} not allowed",
                                          param="name")
    return name


def _int_in(what: str, v: Any, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValidationError(f"{what}: expected an integer from {lo} to {hi}", param=what)
    return v


def check_ttl(ttl: Any) -> int:
    """Raise ValidationError unless ``ttl`` is 1 to 3600 seconds."""
    return _int_in("ttl", ttl, 1, MAX_TTL)


def check_seconds(what: str, v: Any) -> float:
    """A non-negative finite number of seconds."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1e9:
        raise ValidationError(f"{what}: expected a number of seconds >= 0", param=what)
    return v


def check_lease_id(lease_id: Any) -> str:
    """A lease id: a non-empty string of at most 128 bytes."""
    if not isinstance(lease_id, str) or not lease_id or len(lease_id.encode()) > 128:
        raise ValidationError("lease_id: expected a string of 1 to 128 bytes",
                              param="lease_id")
    return lease_id


def acquire_params(name: str, ttl: int, metadata: Optional[str], wait: Optional[float],
                   lock_delay: Optional[int], detach: bool,
                   hold: Optional[float]) -> Dict[str, Any]:
    """The checked parameters of an acquire."""
    p: Dict[str, Any] = {"name": check_name(name), "ttl": check_ttl(ttl)}
    if metadata is not None:
        if not isinstance(metadata, str):
            raise ValidationError("metadata: expected a string", param="metadata")
        if len(metadata.encode("utf-8", "surrogatepass")) > MAX_METADATA:
            raise ValidationError(f"metadata: at most {MAX_METADATA} bytes",
                                  param="metadata")
        try:
            metadata.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("metadata: not valid UTF-8", param="metadata") from None
        if not _CONTROL.isdisjoint(metadata):
            raise ValidationError("metadata: control characters are not allowed",
                                  param="metadata")
        p["metadata"] = metadata
    if wait:
        p["wait"] = check_seconds("wait", wait)
    elif wait is not None:
        check_seconds("wait", wait)
    if lock_delay is not None:
        p["lock_delay"] = _int_in("lock_delay", lock_delay, 0, MAX_LOCK_DELAY)
    if detach:
        if hold is None:
            raise ValidationError("hold: required with detach", param="hold")
        p["detach"] = True
    if hold is not None:
        if not detach:
            raise ValidationError("hold: only with detach", param="hold")
        p["hold"] = check_seconds("hold", hold)
    return p


def acquired_or_raise(r: Any) -> Dict[str, Any]:
    """The result map of an acquire that was granted; raise for held and delayed."""
    if not isinstance(r, dict):
        raise ProtocolViolationError("acquire: result is not a map")
    st = r.get("status")
    if st == "acquired":
        return r
    retry = r.get("retry_after_ms")
    retry = retry if isinstance(retry, int) and not isinstance(retry, bool) else None
    if st == "held":
        from ._models import held_holder
        raise LockHeldError(holder_id=r.get("holder_id"), expires_at=r.get("expires_at"),
                            local=held_holder(r), retry_after_ms=retry)
    if st == "delayed":
        raise LockDelayedError(available_at=r.get("available_at"), retry_after_ms=retry)
    raise ProtocolViolationError(f"acquire: unknown status {st!r:.64}")


def reply_error(err: Any) -> OctoStoreError:
    """The exception of a reply's error field."""
    return error_from_map(err)


def trusted_uids() -> set:
    """Uids that may answer on the socket: root, our euid, user octostored, and
    $OCTOSTORED_TRUSTED_UID."""
    uids = {0, os.geteuid()}
    try:
        import pwd
        uids.add(pwd.getpwnam("octostored").pw_uid)
    except (KeyError, ImportError):
        pass
    env = os.environ.get("OCTOSTORED_TRUSTED_UID")
    if env and env.isdigit():
        uids.add(int(env))
    return uids


def check_peer(sock: socket.socket, path: str) -> None:
    """Refuse a peer whose uid (SO_PEERCRED) is not trusted."""
    cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", cred)
    if uid not in trusted_uids():
        raise PeerNotTrustedError(
            f"{path}: the process answering runs as uid {uid}, which is not trusted "
            "(root, this user, user octostored or $OCTOSTORED_TRUSTED_UID)")


def connect_socket(path: str, timeout: float, blocking: bool = True) -> socket.socket:
    """A connected, peer-checked Unix socket to the daemon."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.settimeout(timeout)
        s.connect(path)
        check_peer(s, path)
        s.settimeout(None if blocking else 0.0)
    except OSError as e:
        s.close()
        raise UnavailableError(f"cannot connect to octostored at {path}: {e}",
                               code="unavailable") from e
    except BaseException:
        s.close()
        raise
    return s


def bad_message(msg: Any) -> ProtocolViolationError:
    """The error for a message that is not a response or notification."""
    return ProtocolViolationError(f"unexpected message from the daemon: {msg!r:.120}")
