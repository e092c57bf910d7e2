"""python-socketio's pub/sub messages (5.14+, JSON), sans I/O: what its ``RedisManager`` /
``AsyncRedisManager(write_only=True)`` publish, so that existing Python workers keep reaching
clients while the servers move over.

python-socketio publishes one JSON object per operation on its channel (``"socketio"`` by
default)::

    {"method": "emit", "event": str, "data": [...args], "binary": bool,
     "namespace": str | null, "room": str | [str] | null, "skip_sid": str | [str] | null,
     "callback": [room, namespace, id] | null, "host_id": str}
    {"method": "disconnect", "sid": str, "namespace": str, "host_id": str}
    {"method": "enter_room" | "leave_room", "sid": str, "room": str, "namespace": str, ...}
    {"method": "close_room", "room": str, "namespace": str, ...}
    {"method": "callback", ...}   (an ack relayed between python-socketio servers: ignored)

With ``"binary": true``, ``data`` is ``[deconstructed args, *base64 attachments]``, the
attachments referred to by ``{"_placeholder": true, "num": N}``. Older python-socketio
versions pickled their messages: those are refused like any other non-JSON message, never
unpickled. An emit that asks for a callback is delivered without it (the ack cannot travel
back to a python-socketio process).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Final

from .pubsub import DEFAULT_MAX_MESSAGE_SIZE, Rejected

__all__ = ["PySocketIOMessage", "decode_pysocketio", "reconstruct"]

METHODS: Final = frozenset({"emit", "disconnect", "enter_room", "leave_room", "close_room"})


@dataclass(frozen=True, slots=True)
class PySocketIOMessage:
    """One validated operation: which sockets (``rooms``, None for all; ``skip``) and what."""

    method: str
    namespace: str
    rooms: tuple[str, ...] | None
    skip: tuple[str, ...] = ()
    event: str = ""
    args: tuple[Any, ...] = ()
    room: str = ""


def reconstruct(value: Any, attachments: list[bytes]) -> Any:
    """Put attachments back in place of ``{"_placeholder": true, "num": N}``.

    Raises:
        ValueError: a placeholder out of range.
    """
    if isinstance(value, list):
        return [reconstruct(item, attachments) for item in value]
    if isinstance(value, dict):
        if value.keys() == {"_placeholder", "num"} and value["_placeholder"] is True:
            num = value["num"]
            if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num < len(attachments):
                raise ValueError("placeholder out of range")
            return attachments[num]
        return {key: reconstruct(item, attachments) for key, item in value.items()}
    return value


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _args(message: dict[str, Any]) -> list[Any] | str:
    data = message.get("data")
    if not isinstance(data, list):
        return "bad data"
    if message.get("binary") is True:
        if not data or not all(isinstance(item, str) for item in data[1:]):
            return "bad binary data"
        attachments = [base64.b64decode(item, validate=True) for item in data[1:]]
        data = reconstruct(data[0], attachments)
        if not isinstance(data, list):
            return "bad binary data"
    if data == [None]:  # python-socketio's emit(event) without data
        return []
    return data


def decode_pysocketio(
    data: bytes, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> PySocketIOMessage | Rejected | None:
    """Parse and validate one message; None for a valid message that servers ignore.

    Never raises: anything else comes back as :class:`Rejected` with the reason.
    """
    if not data:
        return Rejected("empty message")
    if len(data) > max_size:
        return Rejected(f"message of {len(data)} bytes exceeds the {max_size}-byte limit")
    if data[:1] != b"{":
        return Rejected("not a JSON object (pickled python-socketio messages are refused)")
    try:
        message = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        return Rejected(f"cannot parse: {type(exc).__name__}")
    if not isinstance(message, dict):
        return Rejected("not a JSON object")
    method = message.get("method")
    if method == "callback":
        return None
    if method not in METHODS:
        return Rejected(f"unknown method {method!r:.30}")
    namespace = message.get("namespace") or "/"
    if not isinstance(namespace, str) or not namespace.startswith("/"):
        return Rejected("bad namespace")
    if method == "emit":
        event = message.get("event")
        rooms, skip = _names(message.get("room")), _names(message.get("skip_sid"))
        if not isinstance(event, str) or rooms is None or skip is None:
            return Rejected("bad emit")
        try:
            args = _args(message)
        except (ValueError, TypeError) as exc:
            return Rejected(f"bad attachments: {type(exc).__name__}")
        if isinstance(args, str):
            return Rejected(args)
        return PySocketIOMessage("emit", namespace, rooms or None, skip, event, tuple(args))
    room = message.get("room")
    if method == "close_room":
        if not isinstance(room, str):
            return Rejected("bad room")
        return PySocketIOMessage(method, namespace, (room,), room=room)
    sid = message.get("sid")
    if not isinstance(sid, str) or not sid:
        return Rejected("bad sid")
    if method == "disconnect":
        return PySocketIOMessage(method, namespace, (sid,))
    if not isinstance(room, str):
        return Rejected("bad room")
    return PySocketIOMessage(method, namespace, (sid,), room=room)
