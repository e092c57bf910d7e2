"""The wire format of cluster messages between Socket.IO server processes, sans I/O.

A pub/sub manager (:mod:`socketio_core.aio.pubsub_manager`) publishes one *cluster message* on
the broker channel for every operation that concerns sockets of other processes, and reads the
messages of the other processes from the same channel. This module turns
:class:`ClusterMessage` objects into bytes and back; it opens no socket and reads no clock.

Encoding
--------
A message is a JSON object (UTF-8, first byte ``{``) or a msgpack map (the ``msgpack`` extra).
The decoder tells them apart by the first byte, so processes with different encodings can share
a channel. Nothing else is accepted: never pickle, since anyone who can publish on the broker
channel would then run code in every server. Common keys::

    {"v": 1, "kind": "emit", "uid": "<sender's server id>", "to": null, ...fields of the kind}

``to`` addresses a reply to one server; ``null`` is for every server. JSON cannot carry bytes,
so a JSON message replaces each ``bytes`` value by Socket.IO's placeholder
``{"_placeholder": true, "num": N}`` and lists the attachments, base64, under ``"_att"``
(the same trade-off socket.io makes for binary packets: a user dict of exactly that shape is
taken for a placeholder).

Validation
----------
:func:`decode` never raises: a message that is too large, not JSON/msgpack, of an unknown
version or kind, missing a field, with a field of the wrong type or with an unknown field is
returned as :class:`Rejected` with a reason, which the manager logs before dropping it. The
size limit is checked before anything is parsed.

Kinds (fields besides the common ones)
--------------------------------------
* ``hello`` / ``heartbeat`` / ``bye``: membership; a server answers a ``hello`` from a server
  it did not know with a ``heartbeat``, so a newcomer learns the cluster at once.
* ``emit``: ``target``, ``messages`` (the Engine.IO messages of the packet, encoded once).
* ``emit_ack``: ``rid``, ``target``, ``event``, ``args``, ``timeout``, ``sid_only``: an emit
  whose recipients ack; each server answers ``ack_count`` (``count``) then one ``ack``
  (``sid``, ``args``) per recipient that acked.
* ``sockets_join`` / ``sockets_leave``: ``target``, ``rooms``.
* ``disconnect_sockets``: ``target``, ``close``.
* ``fetch_sockets``: ``rid``, ``target``; answered by ``fetch_sockets_response`` (``rid``,
  ``sockets``: a list of ``{"id", "nsp", "rooms", "data", "handshake"}``).
* ``server_side_emit``: ``event``, ``args``, ``rid`` (null when no answer is wanted); answered
  by ``server_side_response`` (``rid``, ``args``).

A ``target`` is ``{"nsp": str, "rooms": [str] | null, "except": [str], "skip": [str],
"volatile": bool}``: :class:`~socketio_core.broadcast.BroadcastTarget`, the broadcast flags,
encoded by its ``to_wire`` (``local`` is never published).
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final, Literal

from .args import as_args
from .broadcast import BroadcastTarget, names
from .exceptions import LocalProtocolError, MissingDependency
from .packet import DEFAULT_NAMESPACE, Packet
from .parsers import JsonParser, Parser

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "KINDS",
    "WIRE_VERSION",
    "ClusterMessage",
    "Encoding",
    "Rejected",
    "Target",
    "build_emit",
    "decode",
    "encode",
]

WIRE_VERSION: Final = 1
#: Messages above this many bytes are rejected before they are parsed.
DEFAULT_MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024
#: Identifiers (server ids, request ids) are short strings.
_MAX_ID: Final = 128

Encoding = Literal["json", "msgpack"]
Kind = Literal[
    "hello",
    "heartbeat",
    "bye",
    "emit",
    "emit_ack",
    "ack_count",
    "ack",
    "sockets_join",
    "sockets_leave",
    "disconnect_sockets",
    "fetch_sockets",
    "fetch_sockets_response",
    "server_side_emit",
    "server_side_response",
]


#: The ``target`` field is the server's own broadcast value, carried unchanged (one value from
#: the operator to the manager and across the wire); ``Target`` is its historical name here.
Target = BroadcastTarget


@dataclass(frozen=True, slots=True)
class ClusterMessage:
    """One validated cluster message.

    Attributes:
        kind: what the message asks or answers.
        uid: the id of the sending server (or emitter).
        fields: the fields of the kind (``target`` as a :class:`Target`).
        to: the server a reply is addressed to; None for every server.
    """

    kind: Kind
    uid: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    to: str | None = None

    def __post_init__(self) -> None:
        reason = _check_fields(self.kind, self.uid, self.to, dict(self.fields))
        if reason is not None:
            raise LocalProtocolError(f"invalid {self.kind} message: {reason}")


@dataclass(frozen=True, slots=True)
class Rejected:
    """A broker message that was dropped, and why (for the log line)."""

    reason: str


# ------------------------------------------------------------------ validation

Check = Callable[[Any], bool]


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_ID


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_timeout(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= 86400
    )


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(item, str | bytes) for item in value)
    )


def _is_target(value: Any) -> bool:
    if isinstance(value, Target):
        return True
    if not isinstance(value, dict) or set(value) != {"nsp", "rooms", "except", "skip", "volatile"}:
        return False
    return (
        isinstance(value["nsp"], str)
        and value["nsp"].startswith("/")
        and (value["rooms"] is None or _is_str_list(value["rooms"]))
        and _is_str_list(value["except"])
        and _is_str_list(value["skip"])
        and isinstance(value["volatile"], bool)
    )


def _is_socket(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"id", "nsp", "rooms", "data", "handshake"}
        and _is_id(value["id"])
        and isinstance(value["nsp"], str)
        and _is_str_list(value["rooms"])
        and isinstance(value["data"], dict)
        and isinstance(value["handshake"], dict)
    )


def _is_sockets(value: Any) -> bool:
    return isinstance(value, list) and all(_is_socket(item) for item in value)


def _is_optional_id(value: Any) -> bool:
    return value is None or _is_id(value)


#: kind -> (field checks, whether ``to`` is required)
SCHEMA: Final[dict[str, tuple[dict[str, Check], bool]]] = {
    "hello": ({}, False),
    "heartbeat": ({}, False),
    "bye": ({}, False),
    "emit": ({"target": _is_target, "messages": _is_messages}, False),
    "emit_ack": (
        {
            "rid": _is_id,
            "target": _is_target,
            "event": _is_str,
            "args": _is_list,
            "timeout": _is_timeout,
            "sid_only": _is_bool,
        },
        False,
    ),
    "ack_count": ({"rid": _is_id, "count": _is_count}, True),
    "ack": ({"rid": _is_id, "sid": _is_id, "args": _is_list}, True),
    "sockets_join": ({"target": _is_target, "rooms": _is_str_list}, False),
    "sockets_leave": ({"target": _is_target, "rooms": _is_str_list}, False),
    "disconnect_sockets": ({"target": _is_target, "close": _is_bool}, False),
    "fetch_sockets": ({"rid": _is_id, "target": _is_target}, False),
    "fetch_sockets_response": ({"rid": _is_id, "sockets": _is_sockets}, True),
    "server_side_emit": ({"event": _is_str, "args": _is_list, "rid": _is_optional_id}, False),
    "server_side_response": ({"rid": _is_id, "args": _is_list}, True),
}
KINDS: Final = frozenset(SCHEMA)
_COMMON: Final = frozenset({"v", "kind", "uid", "to"})


def _check_fields(kind: str, uid: Any, to: Any, fields: dict[str, Any]) -> str | None:
    """Why the message is invalid, or None."""
    if kind not in SCHEMA:
        return f"unknown kind {kind!r:.40}"
    if not _is_id(uid):
        return "bad uid"
    checks, needs_to = SCHEMA[kind]
    if needs_to and not _is_id(to):
        return "missing 'to'"
    if to is not None and not _is_id(to):
        return "bad 'to'"
    missing = set(checks) - set(fields)
    if missing:
        return f"missing field(s) {sorted(missing)}"
    unknown = set(fields) - set(checks)
    if unknown:
        return f"unknown field(s) {sorted(unknown)[:5]}"
    for name, check in checks.items():
        if not check(fields[name]):
            return f"bad field {name!r}"
    return None


# ------------------------------------------------------------------- encoding


def _import_msgpack() -> ModuleType:
    try:
        return importlib.import_module("msgpack")
    except ImportError as exc:
        raise MissingDependency("msgpack", "msgpack") from exc


def _deconstruct(value: Any, attachments: list[str]) -> Any:
    """Replace bytes by placeholders (JSON only); attachments are appended as base64."""
    if isinstance(value, bytes | bytearray | memoryview):
        attachments.append(base64.b64encode(bytes(value)).decode("ascii"))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(value, list | tuple):
        return [_deconstruct(item, attachments) for item in value]
    if isinstance(value, dict):
        return {key: _deconstruct(item, attachments) for key, item in value.items()}
    return value


def _reconstruct(value: Any, attachments: list[bytes]) -> Any:
    if isinstance(value, list):
        return [_reconstruct(item, attachments) for item in value]
    if isinstance(value, dict):
        if value.keys() == {"_placeholder", "num"} and value["_placeholder"] is True:
            num = value["num"]
            if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num < len(attachments):
                raise ValueError("placeholder out of range")
            return attachments[num]
        return {key: _reconstruct(item, attachments) for key, item in value.items()}
    return value


def _wire_value(value: Any) -> Any:
    """Dataclasses and tuples as plain data, before encoding."""
    if isinstance(value, Target):
        return value.to_wire()
    if isinstance(value, tuple):
        return list(value)
    return value


def encode(message: ClusterMessage, encoding: Encoding = "json") -> bytes:
    """The bytes to publish for ``message``.

    Raises:
        LocalProtocolError: a field holds a value the encoding cannot carry.
        MissingDependency: ``encoding`` is ``"msgpack"`` and msgpack is not installed.
    """
    body: dict[str, Any] = {"v": WIRE_VERSION, "kind": message.kind, "uid": message.uid}
    if message.to is not None:
        body["to"] = message.to
    for name, value in message.fields.items():
        body[name] = _wire_value(value)
    try:
        if encoding == "msgpack":
            packed: bytes = _import_msgpack().packb(body, use_bin_type=True)
            return packed
        attachments: list[str] = []
        body = _deconstruct(body, attachments)
        if attachments:
            body["_att"] = attachments
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, OverflowError) as exc:
        raise LocalProtocolError(f"cannot encode {message.kind} message: {exc}") from exc


def _parse(data: bytes) -> dict[str, Any] | str:
    """The raw map of a message, or why it cannot be parsed."""
    first = data[0]
    if first == 0x7B:  # "{"
        body = json.loads(data.decode("utf-8"))
        if not isinstance(body, dict):
            return "not a JSON object"
        raw = body.pop("_att", None)
        if raw is not None:
            if not _is_str_list(raw):
                return "bad attachments"
            attachments = [base64.b64decode(item, validate=True) for item in raw]
            rebuilt: dict[str, Any] = _reconstruct(body, attachments)
            return rebuilt
        return body
    if 0x80 <= first <= 0x8F or first in (0xDE, 0xDF):  # msgpack fixmap, map16, map32
        try:
            msgpack = _import_msgpack()
        except MissingDependency:
            return "msgpack message, but msgpack is not installed"
        body = msgpack.unpackb(data, raw=False, strict_map_key=True)
        if not isinstance(body, dict):
            return "not a msgpack map"
        return body
    return "neither JSON nor msgpack"


def decode(
    data: bytes | str, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> ClusterMessage | Rejected:
    """Parse and validate one broker message; never raises.

    Args:
        data: the message as the broker delivered it.
        max_size: larger messages are rejected before they are parsed.

    Returns:
        The message, or :class:`Rejected` with the reason it was dropped.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not data:
        return Rejected("empty message")
    if len(data) > max_size:
        return Rejected(f"message of {len(data)} bytes exceeds the {max_size}-byte limit")
    try:
        body = _parse(data)
    except (ValueError, TypeError, RecursionError, binascii.Error) as exc:
        return Rejected(f"cannot parse: {type(exc).__name__}")
    except Exception as exc:  # msgpack's own exceptions (ExtraData, FormatError, ...)
        return Rejected(f"cannot parse: {type(exc).__name__}")
    if isinstance(body, str):
        return Rejected(body)
    version = body.pop("v", None)
    if version != WIRE_VERSION:
        return Rejected(f"unsupported version {version!r:.20}")
    kind = body.pop("kind", None)
    uid = body.pop("uid", None)
    to = body.pop("to", None)
    if not isinstance(kind, str):
        return Rejected("missing kind")
    reason = _check_fields(kind, uid, to, body)
    if reason is not None:
        return Rejected(reason)
    if "target" in body:
        raw = body["target"]
        body["target"] = BroadcastTarget.from_wire(raw)
    return ClusterMessage(kind, uid, body, to)  # type: ignore[arg-type]


# -------------------------------------------------------------------- emitters


def build_emit(
    uid: str,
    event: str,
    data: Any = None,
    *,
    to: Any = None,
    namespace: str | None = None,
    skip_sid: Any = None,
    except_rooms: Any = (),
    volatile: bool = False,
    parser: Parser | None = None,
) -> ClusterMessage:
    """An ``emit`` message for an event, encoded once with ``parser`` (JSON by default).

    This is what write-only emitters publish; ``data`` follows python-socketio (None for no
    argument, a tuple for several).
    """
    ns = namespace or DEFAULT_NAMESPACE
    rooms = names(to)
    target = BroadcastTarget(
        ns, rooms or None, names(except_rooms), names(skip_sid), volatile=volatile
    )
    packet = Packet.event([event, *as_args(data)], namespace=ns)
    messages = (parser or JsonParser()).encode(packet)
    return ClusterMessage("emit", uid, {"target": target, "messages": list(messages)})
