"""The wire format of Node's ``@socket.io/redis-adapter`` (8.x, classic mode), sans I/O.

A Python server joins a cluster of Node socket.io servers by speaking the protocol of their
adapter (``createAdapter(pubClient, subClient, opts)``); this module turns its messages into
validated dataclasses and back. It opens no socket and reads no clock; the driver is
:mod:`socketio_core.aio.node_manager`. The shapes below are read from the package's
``dist/index.js`` (``RedisAdapter``) and ``@socket.io/redis-emitter``'s ``dist/index.js``.

Channels (``key`` is the adapter's ``key`` option, ``"socket.io"`` by default)
-----------------------------------------------------------------------------
* ``<key>#<nsp>#`` and ``<key>#<nsp>#<room>#``: broadcasts, a msgpack array
  ``[uid, packet, opts]``; the room suffix is used when a broadcast names exactly one room
  (a server with no member in that room may ignore it). ``packet`` is socket.io-parser's object
  ``{"type": 2, "data": [event, ...args], "nsp": "/"}``, binary values as msgpack ``bin``;
  ``opts`` is ``{"rooms": [...], "except": [...], "flags": {"volatile": true, ...}}``. Every
  server pattern-subscribes to ``<key>#<nsp>#*``.
* ``<key>-request#<nsp>#``: requests, JSON (first byte ``{``) or msgpack, a map with ``type``
  (:class:`RequestType`), ``uid`` (absent from the emitter's), ``requestId`` when an answer is
  wanted, and the fields of the type. The number of servers of a namespace is the number of
  subscribers of this channel (``PUBSUB NUMSUB``): a request waits for that many answers.
* ``<key>-response#<nsp>#`` (and ``<key>-response#<nsp>#<uid>#`` with the
  ``publishOnSpecificResponseChannel`` option): answers, ``{"requestId": ...}`` plus
  ``sockets`` / ``rooms`` / ``type`` and ``data`` / ``clientCount`` / ``packet``.

Validation
----------
A broker is not trusted. Every ``decode_*`` function never raises: a message that is too large
(checked before parsing), not JSON/msgpack, of an unknown type, missing a field or with a
field of the wrong type comes back as :class:`~socketio_core.pubsub.Rejected` with the reason,
which the driver logs before dropping it. msgpack extension types other than notepack's
``undefined`` are refused; nothing is ever unpickled.
"""

from __future__ import annotations

import enum
import importlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

from .decoder import Decoder, JsonDecoder
from .exceptions import LocalProtocolError, MissingDependency, SocketIOError
from .packet import Packet, PacketType, has_binary
from .parsers import JsonParser, Parser
from .pubsub import DEFAULT_MAX_MESSAGE_SIZE, Rejected

__all__ = [
    "DEFAULT_KEY",
    "Broadcast",
    "Channels",
    "NodeRequest",
    "NodeResponse",
    "RequestType",
    "Selection",
    "decode_broadcast",
    "decode_request",
    "decode_response",
    "dumps",
    "encode_broadcast",
    "encode_request",
    "encode_response",
    "loads",
    "node_packet",
    "packet_from_node",
    "packet_of",
    "request_fields",
    "require_msgpack",
    "response_fields",
]

DEFAULT_KEY: Final = "socket.io"
_MAX_ID: Final = 128


class RequestType(enum.IntEnum):
    """The request types of the classic adapter (``RequestType`` in ``dist/index.js``)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


@dataclass(frozen=True, slots=True)
class Channels:
    """The Redis channels of one namespace."""

    key: str
    namespace: str

    @property
    def broadcast(self) -> str:
        """``<key>#<nsp>#``: broadcasts to every socket of the namespace."""
        return f"{self.key}#{self.namespace}#"

    @property
    def pattern(self) -> str:
        """What every server pattern-subscribes to."""
        return f"{self.key}#{self.namespace}#*"

    def room(self, room: str) -> str:
        """``<key>#<nsp>#<room>#``: a broadcast to exactly one room."""
        return f"{self.key}#{self.namespace}#{room}#"

    @property
    def request(self) -> str:
        """``<key>-request#<nsp>#``."""
        return f"{self.key}-request#{self.namespace}#"

    @property
    def response(self) -> str:
        """``<key>-response#<nsp>#``."""
        return f"{self.key}-response#{self.namespace}#"

    def specific_response(self, uid: str) -> str:
        """``<key>-response#<nsp>#<uid>#`` (``publishOnSpecificResponseChannel``)."""
        return f"{self.key}-response#{self.namespace}#{uid}#"


# --------------------------------------------------------------------- parsing


def require_msgpack() -> ModuleType:
    """msgpack (Node's adapter writes its broadcasts with it), or an error naming the extra.

    Raises:
        MissingDependency: the ``msgpack`` extra is not installed.
    """
    try:
        return importlib.import_module("msgpack")
    except ImportError as exc:
        raise MissingDependency("msgpack", "msgpack") from exc


def _ext_hook(code: int, data: bytes) -> Any:
    """notepack.io writes ``undefined`` as fixext 1 type 0; refuse every other extension."""
    if code == 0:
        return None
    raise ValueError(f"msgpack extension type {code}")


def loads(data: bytes, max_size: int) -> Any:
    """A JSON (first byte ``{``) or msgpack value, or a :class:`Rejected`; never raises."""
    if not data:
        return Rejected("empty message")
    if len(data) > max_size:
        return Rejected(f"message of {len(data)} bytes exceeds the {max_size}-byte limit")
    try:
        if data[0] == 0x7B:
            return json.loads(data.decode("utf-8"))
        msgpack = require_msgpack()
        return msgpack.unpackb(data, raw=False, strict_map_key=True, ext_hook=_ext_hook)
    except Exception as exc:  # JSON, UTF-8, msgpack's own (ExtraData, FormatError...), depth
        return Rejected(f"cannot parse: {type(exc).__name__}")


def dumps(body: Mapping[str, Any] | list[Any], *, binary: bool | None = None) -> bytes:
    """JSON, or msgpack when the body holds bytes (or ``binary`` says so).

    Raises:
        LocalProtocolError: a value neither encoding can carry.
    """
    try:
        if binary or (binary is None and has_binary(body)):
            packed: bytes = require_msgpack().packb(body, use_bin_type=True)
            return packed
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, OverflowError) as exc:
        raise LocalProtocolError(f"cannot encode an adapter message: {exc}") from exc


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_ID


def _room(value: Any) -> str | None:
    """Node's rooms are strings; numbers are accepted as their text, as ``hasRoom`` does."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(int(value)) if float(value).is_integer() else str(value)
    return None


def _rooms(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if not isinstance(value, list):
        return None
    names = [_room(item) for item in value]
    if any(name is None for name in names):
        return None
    return tuple(name for name in names if name is not None)


@dataclass(frozen=True, slots=True)
class Selection:
    """Node's broadcast options: which sockets, and the flags that matter across servers."""

    rooms: tuple[str, ...] = ()
    except_rooms: tuple[str, ...] = ()
    volatile: bool = False
    local: bool = False
    timeout: float | None = None

    def to_wire(self, *, flags: bool = True) -> dict[str, Any]:
        """The ``opts`` object (with ``flags`` for broadcasts)."""
        body: dict[str, Any] = {"rooms": list(self.rooms), "except": list(self.except_rooms)}
        if flags:
            wire_flags: dict[str, Any] = {}
            if self.volatile:
                wire_flags["volatile"] = True
            if self.timeout is not None:
                wire_flags["timeout"] = round(self.timeout * 1000)
            body["flags"] = wire_flags
        return body


def _selection(value: Any) -> Selection | str:
    if not isinstance(value, dict):
        return "opts is not an object"
    rooms = _rooms(value.get("rooms"))
    except_rooms = _rooms(value.get("except"))
    if rooms is None or except_rooms is None:
        return "bad rooms in opts"
    flags = value.get("flags")
    if flags is None:
        flags = {}
    if not isinstance(flags, dict):
        return "bad flags"
    timeout = flags.get("timeout")
    if timeout is not None and not (
        isinstance(timeout, int | float)
        and not isinstance(timeout, bool)
        and math.isfinite(timeout)
        and 0 < timeout <= 86_400_000
    ):
        return "bad timeout flag"
    return Selection(
        rooms,
        except_rooms,
        flags.get("volatile") is True,
        flags.get("local") is True,
        None if timeout is None else timeout / 1000,
    )


def packet_from_node(value: Any) -> Packet | str:
    """Our :class:`Packet` for socket.io-parser's packet object, or why it is refused."""
    if not isinstance(value, dict):
        return "packet is not an object"
    nsp = value.get("nsp", "/")
    data = value.get("data")
    ack_id = value.get("id")
    if value.get("type") not in (PacketType.EVENT, PacketType.BINARY_EVENT):
        return "packet is not an EVENT"
    if not isinstance(nsp, str) or not nsp.startswith("/"):
        return "bad packet namespace"
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return "bad packet data"
    if ack_id is not None and not (isinstance(ack_id, int) and not isinstance(ack_id, bool)):
        return "bad packet id"
    try:
        return Packet.event(data, namespace=nsp, id=ack_id)
    except LocalProtocolError as exc:
        return f"bad packet: {exc}"


def node_packet(packet: Packet) -> dict[str, Any]:
    """socket.io-parser's packet object for an EVENT (Node sends type 2 with binary too)."""
    body: dict[str, Any] = {"type": int(PacketType.EVENT), "data": packet.data}
    body["nsp"] = packet.namespace
    if packet.id is not None:
        body["id"] = packet.id
    return body


def packet_of(messages: Sequence[str | bytes], parser: Parser) -> Packet:
    """The packet that ``parser`` encoded into ``messages``: our own output, so the JSON
    decoder gets limits that fit it exactly (not the limits meant for clients' packets).

    Raises:
        LocalProtocolError: the messages do not make one packet.
    """
    decoder: Decoder
    if isinstance(parser, JsonParser):
        binary = [m for m in messages if not isinstance(m, str)]
        decoder = JsonDecoder(
            max_attachments=len(binary), max_attachment_bytes=sum(len(m) for m in binary)
        )
    else:
        decoder = parser.decoder()
    packet = None
    try:
        for item in messages:
            packet = decoder.feed(item)
    except SocketIOError as exc:
        raise LocalProtocolError(
            f"the messages of a broadcast do not make a packet: {exc}"
        ) from exc
    if packet is None:
        raise LocalProtocolError("the messages of a broadcast do not make a packet")
    return packet


# ------------------------------------------------------------------ broadcasts


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A broadcast from another server (or an emitter): ``[uid, packet, opts]``."""

    uid: str
    packet: Packet
    selection: Selection


def decode_broadcast(
    data: bytes, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> Broadcast | Rejected:
    """Parse and validate a message of a broadcast channel; never raises."""
    body = loads(data, max_size)
    if isinstance(body, Rejected):
        return body
    if not isinstance(body, list) or len(body) != 3:
        return Rejected("a broadcast is not [uid, packet, opts]")
    uid, raw_packet, raw_opts = body
    if not _is_id(uid):
        return Rejected("bad uid")
    packet = packet_from_node(raw_packet)
    if isinstance(packet, str):
        return Rejected(packet)
    selection = _selection(raw_opts)
    if isinstance(selection, str):
        return Rejected(selection)
    return Broadcast(uid, packet, selection)


def encode_broadcast(uid: str, packet: Packet, selection: Selection) -> bytes:
    """The msgpack bytes of a broadcast (Node's adapter and emitter use notepack.io)."""
    return dumps([uid, node_packet(packet), selection.to_wire()], binary=True)


# -------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class NodeRequest:
    """A validated request.

    Attributes:
        type: the request type.
        uid: the sending server (None from ``@socket.io/redis-emitter``).
        request_id: present when an answer is wanted.
        fields: by type: ``selection`` (:class:`Selection`), ``rooms`` (rooms to join or
            leave, or of a SOCKETS request), ``close``, ``sid`` and ``room`` (the single-socket
            form of REMOTE_JOIN/LEAVE/DISCONNECT), ``data`` (SERVER_SIDE_EMIT:
            ``[event, *args]``), ``packet`` (BROADCAST: a :class:`Packet`).
    """

    type: RequestType
    uid: str | None
    request_id: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)


def request_fields(kind: RequestType, body: dict[str, Any], rid: Any) -> dict[str, Any] | str:
    """The validated fields of a request of type ``kind``, or why it is refused."""
    fields: dict[str, Any] = {}
    needs_rid = kind in (
        RequestType.SOCKETS,
        RequestType.ALL_ROOMS,
        RequestType.REMOTE_FETCH,
        RequestType.BROADCAST,
    )
    if needs_rid and rid is None:
        return "missing requestId"
    if kind == RequestType.SOCKETS:
        rooms = _rooms(body.get("rooms"))
        if rooms is None:
            return "bad rooms"
        fields["rooms"] = rooms
    elif kind in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE, RequestType.REMOTE_DISCONNECT):
        if "opts" in body:
            selection = _selection(body["opts"])
            if isinstance(selection, str):
                return selection
            fields["selection"] = selection
            if kind == RequestType.REMOTE_DISCONNECT:
                close = body.get("close", False)
                if not isinstance(close, bool):
                    return "bad close"
                fields["close"] = close
            else:
                rooms = _rooms(body.get("rooms"))
                if rooms is None:
                    return "bad rooms"
                fields["rooms"] = rooms
        else:  # the single-socket form, answered with {"requestId"}
            if not _is_id(body.get("sid")):
                return "missing opts or sid"
            if rid is None:
                return "missing requestId"
            fields["sid"] = body["sid"]
            if kind == RequestType.REMOTE_DISCONNECT:
                fields["close"] = body.get("close") is True
            else:
                room = _room(body.get("room"))
                if room is None:
                    return "bad room"
                fields["room"] = room
    elif kind == RequestType.REMOTE_FETCH:
        selection = _selection(body.get("opts"))
        if isinstance(selection, str):
            return selection
        fields["selection"] = selection
    elif kind == RequestType.SERVER_SIDE_EMIT:
        data = body.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            return "bad server-side event"
        fields["data"] = data
    elif kind == RequestType.BROADCAST:
        packet = packet_from_node(body.get("packet"))
        if isinstance(packet, str):
            return packet
        selection = _selection(body.get("opts"))
        if isinstance(selection, str):
            return selection
        fields["packet"] = packet
        fields["selection"] = selection
    return fields


def decode_request(
    data: bytes, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> NodeRequest | Rejected:
    """Parse and validate a message of the request channel; never raises."""
    body = loads(data, max_size)
    if isinstance(body, Rejected):
        return body
    if not isinstance(body, dict):
        return Rejected("a request is not a map")
    raw_type = body.get("type")
    if not isinstance(raw_type, int) or isinstance(raw_type, bool) or not 0 <= raw_type <= 9:
        return Rejected(f"unknown request type {raw_type!r:.20}")
    kind = RequestType(raw_type)
    if kind > RequestType.BROADCAST:
        return Rejected(f"a response type ({int(kind)}) on the request channel")
    uid, rid = body.get("uid"), body.get("requestId")
    if uid is not None and not _is_id(uid):
        return Rejected("bad uid")
    if rid is not None and not _is_id(rid):
        return Rejected("bad requestId")
    fields = request_fields(kind, body, rid)
    if isinstance(fields, str):
        return Rejected(fields)
    return NodeRequest(kind, uid, rid, fields)


def encode_request(
    kind: RequestType, uid: str, request_id: str | None = None, **fields: Any
) -> bytes:
    """The bytes of a request: JSON, msgpack when it holds bytes or is a BROADCAST (as Node).

    ``fields`` are the wire fields (``opts`` as a dict, ``packet`` as a :class:`Packet`).

    Raises:
        LocalProtocolError: a value neither encoding can carry.
    """
    body: dict[str, Any] = {"uid": uid, "type": int(kind)}
    if request_id is not None:
        body["requestId"] = request_id
    for name, value in fields.items():
        body[name] = node_packet(value) if isinstance(value, Packet) else value
    return dumps(body, binary=True if kind == RequestType.BROADCAST else None)


# ------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class NodeResponse:
    """A validated answer: ``request_id``, the ``type`` when the answer has one, and the
    fields that came (``sockets``, ``rooms``, ``data``, ``clientCount``, ``packet``)."""

    request_id: str
    type: RequestType | None
    fields: Mapping[str, Any] = field(default_factory=dict)


def _is_socket(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _is_id(value.get("id"))
        and isinstance(value.get("handshake", {}), dict)
        and _rooms(value.get("rooms")) is not None
        and isinstance(value.get("data", {}), dict | type(None))
    )


_RESPONSE_TYPES: Final = {
    None: None,
    RequestType.SERVER_SIDE_EMIT: "data",
    RequestType.BROADCAST_CLIENT_COUNT: "clientCount",
    RequestType.BROADCAST_ACK: "packet",
}


def response_fields(kind: RequestType | None, body: Mapping[str, Any]) -> dict[str, Any] | str:
    """The validated fields of an answer of type ``kind``, or why it is refused."""
    fields: dict[str, Any] = {}
    if kind is None:
        if "sockets" in body:
            if not isinstance(body["sockets"], list) or not all(
                _is_socket(s) for s in body["sockets"]
            ):
                return "bad sockets"
            fields["sockets"] = body["sockets"]
        if "rooms" in body:
            rooms = _rooms(body["rooms"])
            if rooms is None:
                return "bad rooms"
            fields["rooms"] = rooms
    else:
        name = _RESPONSE_TYPES[kind]
        assert name is not None
        value = body.get(name)
        if kind == RequestType.BROADCAST_CLIENT_COUNT and not (
            isinstance(value, int) and not isinstance(value, bool) and value >= 0
        ):
            return "bad clientCount"
        fields[name] = value
    return fields


def decode_response(
    data: bytes, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> NodeResponse | Rejected:
    """Parse and validate a message of a response channel; never raises."""
    body = loads(data, max_size)
    if isinstance(body, Rejected):
        return body
    if not isinstance(body, dict):
        return Rejected("a response is not a map")
    rid = body.pop("requestId", None)
    if not _is_id(rid):
        return Rejected("bad requestId")
    raw_type = body.pop("type", None)
    kind = None
    if raw_type is not None:
        if not isinstance(raw_type, int) or isinstance(raw_type, bool) or not 0 <= raw_type <= 9:
            return Rejected(f"unknown response type {raw_type!r:.20}")
        kind = RequestType(raw_type)
        if kind not in _RESPONSE_TYPES:
            return Rejected(f"a request type ({int(kind)}) on the response channel")
    fields = response_fields(kind, body)
    if isinstance(fields, str):
        return Rejected(fields)
    return NodeResponse(rid, kind, fields)


def encode_response(request_id: str, kind: RequestType | None = None, **fields: Any) -> bytes:
    """The bytes of an answer (JSON; msgpack when it holds bytes).

    Raises:
        LocalProtocolError: a value neither encoding can carry.
    """
    body: dict[str, Any] = {}
    if kind is not None:
        body["type"] = int(kind)
    body["requestId"] = request_id
    body.update(fields)
    return dumps(body, binary=True if kind == RequestType.BROADCAST_ACK else None)
