"""Forwarding HTTP requests of Engine.IO sessions between server processes, sans I/O.

Theory of operation
-------------------
Without sticky sessions, a load balancer may send any HTTP request of a long-polling session
to any server process. Each process owns the sessions it opened: the sid it hands out names
it (:func:`make_sid`: ``<node>.<random>``, ``node`` being the process's 16-hex-digit server
id). A polling ``GET`` or ``POST`` that lands on another process is published to the owner on
the owner's own broker channel (``<channel>#fwd#<node>``, see :func:`node_channel`) as a
:class:`ForwardRequest`; the owner runs it through its Engine.IO server exactly as if it had
received it (CORS, compression, parking the GET until it has packets) and publishes the
:class:`ForwardResponse` back on the requester's channel, where it answers the waiting HTTP
request. A requester that gives up (its client went away) publishes a :class:`ForwardCancel`,
and the owner aborts the parked GET as the front door would have.

No coordinator: the owner is read from the sid. A sid of the wrong shape is refused before
any broker round trip (:func:`sid_owner` returns None); a well-shaped sid costs one publish,
and when no process listens on the owner's channel (Redis ``PUBLISH`` answers 0) the request
is answered ``400 Session ID unknown`` at once.

Encoding
--------
One broker message: a JSON object (UTF-8, one line) with the fields below, then ``\\n``, then
the body bytes, raw (a POST body or a response body: no base64, no extra dependency; JSON
escapes every newline, so the first ``\\n`` ends the header)::

    {"v": 1, "kind": "request", "from": node, "rid": 7, "method": "GET", "path": ...,
     "query": ..., "headers": [[name, value], ...], "client": [host, port] | null,
     "scheme": "http", "root_path": "", "too_large": false}\\n<POST body>
    {"v": 1, "kind": "response", "from": node, "rid": 7, "status": 200,
     "headers": [[name, value], ...]}\\n<response body>
    {"v": 1, "kind": "cancel", "from": node, "rid": 7}\\n
    {"v": 1, "kind": "ws", "from": node, "rid": 3, "op": "up", "sid": ""}\\n<messages>

A WebSocket relayed between the process it landed on and the session's owner
(:mod:`socketio_core.aio.ws_relay`) is a :class:`RelayMessage`: ``rid`` is the relay's id on
the process the WebSocket landed on, ``op`` one of :data:`RELAY_OPS`, ``sid`` set on ``open``
only; its body is the WebSocket messages it carries, each as one type byte (``s``: text,
``b``: binary), a 4-byte big-endian length and the message (text in UTF-8).

:func:`decode` never raises: anything too large, malformed, of an unknown version or kind, or
with a field missing, unknown or of the wrong type is a :class:`Rejected` with a reason. The
size limit is checked before anything is parsed.
"""

from __future__ import annotations

import json
import re
import secrets
import struct
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DEFAULT_MAX_FORWARD_SIZE",
    "RELAY_OPS",
    "ForwardCancel",
    "ForwardRequest",
    "ForwardResponse",
    "Rejected",
    "RelayMessage",
    "decode",
    "encode",
    "make_sid",
    "new_node_id",
    "node_channel",
    "relay_size",
    "sid_owner",
]

VERSION: Final = 1
#: A forwarded POST body is at most ``max_http_buffer_size`` (1 MB by default) plus headers.
DEFAULT_MAX_FORWARD_SIZE: Final = 4 * 1024 * 1024
_NODE = re.compile(r"[0-9a-f]{16}")
_SID = re.compile(r"([0-9a-f]{16})\.[A-Za-z0-9_-]{20}")
_MAX_FIELD = 64 * 1024
_MAX_HEADERS = 200
#: The operations of a relayed WebSocket. From the process the WebSocket landed on to the
#: owner: ``open`` (sid), ``up`` (client messages), ``up-close`` (the WebSocket is gone).
#: From the owner: ``opened`` / ``refused`` (the answer to ``open``), ``down`` (messages for
#: the client), ``down-close`` (close the WebSocket), and after the upgrade completed,
#: ``moved`` (the session moves to the WebSocket's process, with the client messages the
#: owner held, sent before it as ``held``) or ``stay`` (it stays with the owner; the relay
#: goes on).
RELAY_OPS: Final = frozenset(
    {"open", "up", "up-close", "opened", "refused", "down", "down-close", "held", "moved", "stay"}
)
_LENGTH = struct.Struct(">I")


def new_node_id() -> str:
    """A fresh server id: 16 lowercase hex digits."""
    return secrets.token_hex(8)


def make_sid(node: str, token: str | None = None) -> str:
    """An Engine.IO sid that names its owner: ``<node>.<20 URL-safe characters>``.

    Args:
        node: the owner's server id (16 lowercase hex digits).
        token: the random part (20 URL-safe base64 characters); a fresh one when None.

    Raises:
        ValueError: ``node`` or ``token`` has the wrong shape.
    """
    if not _NODE.fullmatch(node):
        raise ValueError(f"a node id is 16 lowercase hex digits, not {node!r}")
    sid = f"{node}.{token if token is not None else secrets.token_urlsafe(15)}"
    if not _SID.fullmatch(sid):
        raise ValueError(f"bad sid token {token!r}")
    return sid


def sid_owner(sid: str) -> str | None:
    """The server id a sid names, or None when the sid does not have the shape of ours."""
    match = _SID.fullmatch(sid)
    return match.group(1) if match else None


def node_channel(channel: str, node: str) -> str:
    """The broker channel on which server ``node`` takes requests and answers."""
    return f"{channel}#fwd#{node}"


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """An HTTP request of a session, sent to the process that owns the session.

    Attributes:
        sender: the requester's server id (where to answer).
        rid: the request id, unique per requester.
        method, path, query_string, headers, client, scheme, root_path: the HTTP request.
        body: the POST body (empty for a GET).
        too_large: the body was over ``max_http_buffer_size`` and was not read.
    """

    sender: str
    rid: int
    method: str
    path: str
    query_string: str
    headers: tuple[tuple[str, str], ...]
    client: tuple[str, int] | None
    scheme: str
    root_path: str
    body: bytes
    too_large: bool = False


@dataclass(frozen=True, slots=True)
class ForwardResponse:
    """The owner's complete HTTP response to a :class:`ForwardRequest`."""

    sender: str
    rid: int
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class ForwardCancel:
    """The requester no longer waits for request ``rid`` (its client went away)."""

    sender: str
    rid: int


@dataclass(frozen=True, slots=True)
class RelayMessage:
    """One step of a relayed WebSocket (see the module docstring).

    Attributes:
        sender: the sending process's server id.
        rid: the relay id (allocated by the process the WebSocket landed on).
        op: one of :data:`RELAY_OPS`.
        sid: the Engine.IO sid (``open`` only; empty otherwise).
        messages: WebSocket messages (``str``: text, ``bytes``: binary).
    """

    sender: str
    rid: int
    op: str
    sid: str = ""
    messages: tuple[str | bytes, ...] = ()


def relay_size(message: str | bytes) -> int:
    """Bytes one WebSocket message takes in a :class:`RelayMessage` body (at least)."""
    return _LENGTH.size + 1 + len(message)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A broker message that was not accepted, and why."""

    reason: str


ForwardMessage = ForwardRequest | ForwardResponse | ForwardCancel | RelayMessage


def _pack(messages: tuple[str | bytes, ...]) -> bytes:
    parts: list[bytes] = []
    for message in messages:
        if isinstance(message, str):
            data = message.encode()
            parts += (b"s", _LENGTH.pack(len(data)), data)
        else:
            parts += (b"b", _LENGTH.pack(len(message)), message)
    return b"".join(parts)


def _unpack(body: bytes) -> tuple[str | bytes, ...] | str:
    """The messages of a relay body, or why it is malformed."""
    messages: list[str | bytes] = []
    view = memoryview(body)
    at, end = 0, len(body)
    while at < end:
        if end - at < 1 + _LENGTH.size:
            return "truncated message header"
        kind = body[at]
        (length,) = _LENGTH.unpack_from(body, at + 1)
        at += 1 + _LENGTH.size
        if length > end - at:
            return "truncated message"
        data = bytes(view[at : at + length])
        at += length
        if kind == 0x62:  # b
            messages.append(data)
        elif kind == 0x73:  # s
            try:
                messages.append(data.decode())
            except UnicodeDecodeError:
                return "text message not UTF-8"
        else:
            return f"unknown message type {kind}"
    return tuple(messages)


def encode(message: ForwardMessage) -> bytes:
    """The broker bytes of a message."""
    header: dict[str, Any] = {"v": VERSION, "from": message.sender, "rid": message.rid}
    body = b""
    if isinstance(message, ForwardRequest):
        header.update(
            kind="request",
            method=message.method,
            path=message.path,
            query=message.query_string,
            headers=[list(pair) for pair in message.headers],
            client=list(message.client) if message.client is not None else None,
            scheme=message.scheme,
            root_path=message.root_path,
            too_large=message.too_large,
        )
        body = message.body
    elif isinstance(message, ForwardResponse):
        header.update(
            kind="response",
            status=message.status,
            headers=[list(pair) for pair in message.headers],
        )
        body = message.body
    elif isinstance(message, RelayMessage):
        header.update(kind="ws", op=message.op, sid=message.sid)
        body = _pack(message.messages)
    else:
        header["kind"] = "cancel"
        body = b""
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + body


_COMMON = {"v", "kind", "from", "rid"}
_FIELDS: Final = {
    "request": _COMMON
    | {"method", "path", "query", "headers", "client", "scheme", "root_path", "too_large"},
    "response": _COMMON | {"status", "headers"},
    "cancel": _COMMON,
    "ws": _COMMON | {"op", "sid"},
}


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= _MAX_FIELD


def _is_headers(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= _MAX_HEADERS
        and all(
            isinstance(pair, list) and len(pair) == 2 and all(_is_text(x) for x in pair)
            for pair in value
        )
    )


def _is_client(value: Any) -> bool:
    return value is None or (
        isinstance(value, list)
        and len(value) == 2
        and _is_text(value[0])
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def _check(header: dict[str, Any]) -> str | None:
    kind = header.get("kind")
    if header.get("v") != VERSION:
        return f"unsupported version {header.get('v')!r}"
    if kind not in _FIELDS:
        return f"unknown kind {kind!r}"
    fields = _FIELDS[kind]
    if set(header) != fields:
        return f"{kind}: fields {sorted(set(header) ^ fields)} wrong"
    if not isinstance(header["from"], str) or not _NODE.fullmatch(header["from"]):
        return f"{kind}: bad server id"
    rid = header["rid"]
    if not isinstance(rid, int) or isinstance(rid, bool) or not 0 <= rid < 2**53:
        return f"{kind}: bad rid"
    if kind == "request":
        texts = ("method", "path", "query", "scheme", "root_path")
        if not all(_is_text(header[name]) for name in texts):
            return "request: a text field is not a string"
        if not _is_headers(header["headers"]) or not _is_client(header["client"]):
            return "request: bad headers or client"
        if not isinstance(header["too_large"], bool):
            return "request: too_large is not a bool"
    elif kind == "ws":
        op, sid = header["op"], header["sid"]
        if op not in RELAY_OPS:
            return f"ws: unknown op {op!r}"
        if not isinstance(sid, str) or (not _SID.fullmatch(sid) if op == "open" else sid != ""):
            return "ws: bad sid"
    elif kind == "response":
        status = header["status"]
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status < 600:
            return "response: bad status"
        if not _is_headers(header["headers"]):
            return "response: bad headers"
    return None


def decode(data: bytes, *, max_size: int = DEFAULT_MAX_FORWARD_SIZE) -> ForwardMessage | Rejected:
    """Parse and validate one broker message; never raises.

    Args:
        data: the message as the broker delivered it.
        max_size: larger messages are rejected before parsing.
    """
    if len(data) > max_size:
        return Rejected(f"message of {len(data)} bytes over the limit of {max_size}")
    line, newline, body = data.partition(b"\n")
    if not newline:
        return Rejected("no header line")
    try:
        header = json.loads(line)
    except ValueError:
        return Rejected("header is not JSON")
    if not isinstance(header, dict):
        return Rejected("header is not an object")
    reason = _check(header)
    if reason is not None:
        return Rejected(reason)
    sender, rid, kind = header["from"], header["rid"], header["kind"]
    if kind == "cancel":
        return ForwardCancel(sender, rid) if not body else Rejected("cancel: a body")
    if kind == "ws":
        messages = _unpack(body)
        if isinstance(messages, str):
            return Rejected(f"ws: {messages}")
        return RelayMessage(sender, rid, header["op"], header["sid"], messages)
    headers = tuple((name, value) for name, value in header["headers"])
    if kind == "response":
        return ForwardResponse(sender, rid, header["status"], headers, body)
    client = header["client"]
    return ForwardRequest(
        sender,
        rid,
        header["method"],
        header["path"],
        header["query"],
        headers,
        (client[0], client[1]) if client is not None else None,
        header["scheme"],
        header["root_path"],
        body,
        header["too_large"],
    )
