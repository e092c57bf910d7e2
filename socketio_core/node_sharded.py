"""The wire format of Node's sharded Redis adapter (``createShardedAdapter``), sans I/O.

``@socket.io/redis-adapter``'s ``ShardedRedisAdapter`` is socket.io-adapter's
``ClusterAdapter`` on Redis 7 sharded pub/sub (``SSUBSCRIBE``/``SPUBLISH``). Every message is
``{"uid": <server>, "nsp": <namespace>, "type": <MessageType>, "data": {...}}``, JSON, or
msgpack when a message that may carry binary values does (BROADCAST, FETCH_SOCKETS_RESPONSE,
SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE, BROADCAST_ACK).

Channels (``channelPrefix``, ``"socket.io"`` by default)
-------------------------------------------------------
* ``<prefix>#<nsp>#``: every message for every server of the namespace; the number of its
  subscribers (``PUBSUB SHARDNUMSUB``) is the number of servers.
* ``<prefix>#<nsp>#<uid>#``: the answers to the requests of server ``uid``.
* ``<prefix>#<nsp>#<room>#`` (``subscriptionMode: "dynamic"``, the default): a broadcast
  without ack to exactly one room that does not look like a socket id (20 characters) goes
  there; a server subscribes to the channel of each public room it has a member in.

This module translates those messages into the classic mode's dataclasses
(:class:`~socketio_core.node_adapter.Broadcast`, :class:`~socketio_core.node_adapter.NodeRequest`,
:class:`~socketio_core.node_adapter.NodeResponse`), so that one driver answers both, and back.
Validation is the classic mode's: :func:`decode` never raises and returns
:class:`~socketio_core.pubsub.Rejected` with a reason.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .node_adapter import (
    Broadcast,
    NodeRequest,
    NodeResponse,
    RequestType,
    dumps,
    loads,
    node_packet,
    request_fields,
    response_fields,
)
from .packet import Packet, has_binary
from .pubsub import DEFAULT_MAX_MESSAGE_SIZE, Rejected

__all__ = [
    "SOCKET_ID_LENGTH",
    "Ignored",
    "MessageType",
    "decode",
    "encode",
    "looks_like_a_socket_id",
]

#: The sharded adapter's ``looksLikeASocketId``: our sids are 20 characters too.
SOCKET_ID_LENGTH: Final = 20


class MessageType(enum.IntEnum):
    """socket.io-adapter's ``MessageType`` (``dist/cluster-adapter.js``)."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


def looks_like_a_socket_id(room: str) -> bool:
    """The sharded adapter's test: a broadcast to such a room uses the main channel."""
    return len(room) == SOCKET_ID_LENGTH


@dataclass(frozen=True, slots=True)
class Ignored:
    """A valid message that needs nothing from us (heartbeats of other adapters)."""

    type: MessageType


_REQUESTS: Final = {
    MessageType.SOCKETS_JOIN: RequestType.REMOTE_JOIN,
    MessageType.SOCKETS_LEAVE: RequestType.REMOTE_LEAVE,
    MessageType.DISCONNECT_SOCKETS: RequestType.REMOTE_DISCONNECT,
    MessageType.FETCH_SOCKETS: RequestType.REMOTE_FETCH,
    MessageType.SERVER_SIDE_EMIT: RequestType.SERVER_SIDE_EMIT,
    MessageType.BROADCAST: RequestType.BROADCAST,
}
_RESPONSES: Final = {
    MessageType.FETCH_SOCKETS_RESPONSE: None,
    MessageType.SERVER_SIDE_EMIT_RESPONSE: RequestType.SERVER_SIDE_EMIT,
    MessageType.BROADCAST_CLIENT_COUNT: RequestType.BROADCAST_CLIENT_COUNT,
    MessageType.BROADCAST_ACK: RequestType.BROADCAST_ACK,
}
_MAY_CARRY_BINARY: Final = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_ACK,
    }
)


def decode(
    data: bytes, namespace: str, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> Broadcast | NodeRequest | NodeResponse | Ignored | Rejected:
    """Parse and validate one message of a namespace's channels; never raises.

    A message of another namespace is rejected (the channels are per namespace).
    """
    body = loads(data, max_size)
    if isinstance(body, Rejected):
        return body
    if not isinstance(body, dict):
        return Rejected("a message is not a map")
    uid, nsp, raw_type, fields = (
        body.get("uid"),
        body.get("nsp"),
        body.get("type"),
        body.get("data"),
    )
    if not isinstance(uid, str) or not 0 < len(uid) <= 128:
        return Rejected("bad uid")
    if nsp != namespace:
        return Rejected("wrong namespace")
    if not isinstance(raw_type, int) or isinstance(raw_type, bool) or not 1 <= raw_type <= 13:
        return Rejected(f"unknown message type {raw_type!r:.20}")
    kind = MessageType(raw_type)
    if kind in (MessageType.INITIAL_HEARTBEAT, MessageType.HEARTBEAT, MessageType.ADAPTER_CLOSE):
        return Ignored(kind)
    if not isinstance(fields, dict):
        return Rejected("data is not a map")
    rid = fields.get("requestId")
    if rid is not None and not (isinstance(rid, str) and 0 < len(rid) <= 128):
        return Rejected("bad requestId")
    if kind in _RESPONSES:
        if rid is None:
            return Rejected("missing requestId")
        classic = dict(fields)
        if kind == MessageType.SERVER_SIDE_EMIT_RESPONSE:
            classic["data"] = classic.pop("packet", None)
        response_type = _RESPONSES[kind]
        checked = response_fields(response_type, classic)
        if isinstance(checked, str):
            return Rejected(checked)
        if kind == MessageType.FETCH_SOCKETS_RESPONSE and "sockets" not in checked:
            return Rejected("missing sockets")
        return NodeResponse(rid, response_type, checked)
    if kind == MessageType.BROADCAST and rid is None:
        request = request_fields(RequestType.BROADCAST, fields, "-")
        if isinstance(request, str):
            return Rejected(request)
        return Broadcast(uid, request["packet"], request["selection"])
    classic = dict(fields)
    if kind == MessageType.SERVER_SIDE_EMIT:
        classic["data"] = classic.pop("packet", None)
    if kind in (MessageType.SOCKETS_JOIN, MessageType.SOCKETS_LEAVE, MessageType.FETCH_SOCKETS):
        classic.setdefault("opts", None)  # the opts form, never the single-socket one
    if kind == MessageType.DISCONNECT_SOCKETS:
        classic.setdefault("opts", None)
    request_type = _REQUESTS[kind]
    checked = request_fields(request_type, classic, rid)
    if isinstance(checked, str):
        return Rejected(checked)
    return NodeRequest(request_type, uid, rid, checked)


def encode(uid: str, namespace: str, kind: MessageType, data: Mapping[str, Any]) -> bytes:
    """The bytes of a message (msgpack when a binary-capable message holds bytes).

    ``data`` holds wire values; a :class:`Packet` is written as socket.io-parser's object.

    Raises:
        LocalProtocolError: a value neither encoding can carry.
    """
    wire = {k: node_packet(v) if isinstance(v, Packet) else v for k, v in data.items()}
    binary = kind in _MAY_CARRY_BINARY and has_binary(wire)
    return dumps({"uid": uid, "nsp": namespace, "type": int(kind), "data": wire}, binary=binary)
