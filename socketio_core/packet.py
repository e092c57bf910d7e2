"""The Socket.IO v5 packet and its default (JSON) text codec, pure functions.

Theory of operation
-------------------
A packet is a type, a namespace, a payload and an optional ack id (spec "Exchange protocol").
The default parser writes it as one Engine.IO text message (spec "Packet encoding / Format")::

    <packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON payload]

followed, for BINARY_EVENT and BINARY_ACK, by the attachments: one binary Engine.IO message
each. Each ``bytes`` value in the payload is swapped for ``{"_placeholder":true,"num":N}``,
numbered in the order of a depth-first walk (socket.io-parser's ``deconstructPacket``), and
swapped back when all N attachments have arrived.

:func:`encode_packet` does the first half. :func:`decode_text` reads one text message into a
:class:`Packet`, or, for a binary packet, into a :class:`PendingPacket` that waits for its
attachments; :class:`socketio_core.decoder.JsonDecoder` feeds them in and keeps the limits.

Rules this file keeps
---------------------
* A :class:`Packet` is valid once constructed. The rules are the ones socket.io-parser checks
  (``isPayloadValid``), plus a few it leaves to luck; each rule is one function shared by the
  constructor (which raises :exc:`LocalProtocolError`) and the decoder (which raises a remote
  error), so what we send and what we accept never drift apart.
* ``bytes`` travel in BINARY_EVENT and BINARY_ACK only, and those always carry at least one
  attachment: socket.io-parser rejects ``50-``. :meth:`Packet.event` and :meth:`Packet.ack`
  choose the type.
* The decoder reads ASCII digits only (``str.isdigit`` would take ``"²"``), bounds every number
  before converting it, and turns each failure into a :exc:`RemoteProtocolError` subclass.
* JSON is strict: no ``NaN``/``Infinity`` either way (``JSON.parse`` rejects them).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NewType

from . import json_codec
from .exceptions import (
    AttachmentError,
    AttachmentLimitExceeded,
    DecodeError,
    InvalidPacket,
    LocalProtocolError,
)

__all__ = [
    "BINARY_TYPES",
    "DEFAULT_NAMESPACE",
    "MAX_ACK_ID",
    "MAX_NESTING",
    "RESERVED_EVENTS",
    "Namespace",
    "NamespaceName",
    "Packet",
    "PacketType",
    "PendingPacket",
    "decode_text",
    "encode_packet",
    "has_binary",
    "packet_problem",
]

#: A namespace name on the wire (``"/"``, ``"/chat"``); not to be confused with the class-based
#: handlers of :class:`socketio_core.aio.Namespace`.
NamespaceName = NewType("NamespaceName", str)
#: The historical name of :data:`NamespaceName`, kept for existing imports.
Namespace = NamespaceName

DEFAULT_NAMESPACE: Final = NamespaceName("/")

#: Event names with a meaning of their own, never sent by a peer: socket.io-parser's
#: ``RESERVED_EVENTS`` (CVE-2023-32695 hardening), plus ``"error"`` (CVE-2024-38355: an
#: ``"error"`` event from a client crashed a socket.io server that had no listener for it).
RESERVED_EVENTS: Final = frozenset(
    {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
        "error",
    }
)

#: The largest ack id: ``Number.MAX_SAFE_INTEGER``; JavaScript peers lose precision above it.
MAX_ACK_ID: Final = 2**53 - 1
_MAX_ID_DIGITS: Final = len(str(MAX_ACK_ID))
#: Attachment counts are bounded by the decoder's limit long before this many digits.
_MAX_COUNT_DIGITS: Final = 6
_DIGITS: Final = frozenset("0123456789")
#: The types a payload walk can skip at once (no bytes inside, nothing to recurse into).
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
#: The deepest nesting of arrays and objects a decoded payload may have (Python code that
#: walks it, ours or a handler's, recurses; ``json.loads`` stops only near the recursion limit).
MAX_NESTING: Final = 500
#: A JSON text with at most this many ``[`` and ``{`` is nested at most this deep: the decoder
#: walks the payload to check :data:`MAX_NESTING` only above it.
_SHALLOW: Final = 64


class PacketType(enum.IntEnum):
    """Packet types (spec "Exchange protocol", the table of packet types)."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


BINARY_TYPES: Final = frozenset({PacketType.BINARY_EVENT, PacketType.BINARY_ACK})
_NEEDS_ID: Final = frozenset({PacketType.ACK, PacketType.BINARY_ACK})
_TYPE_BY_DIGIT: Final = {str(int(t)): t for t in PacketType}
_TYPE_TEXT: Final = {t: str(int(t)) for t in PacketType}


def has_binary(data: Any) -> bool:
    """Tell whether a payload holds ``bytes`` or ``bytearray`` anywhere.

    Args:
        data: a JSON-like payload.

    Returns:
        True if a binary value is found by a depth-first walk.
    """
    if isinstance(data, bytes | bytearray):
        return True
    if isinstance(data, list | tuple):
        return any(has_binary(item) for item in data)
    if isinstance(data, dict):
        return any(has_binary(item) for item in data.values())
    return False


def _count_binary(data: Any) -> int:
    """Count the binary values of a payload (scalars are skipped without a call)."""
    if isinstance(data, bytes | bytearray):
        return 1
    if isinstance(data, list | tuple):
        items: Any = data
    elif isinstance(data, dict):
        items = data.values()
    else:
        return 0
    count = 0
    scalars = _SCALARS
    for item in items:
        if type(item) not in scalars:
            count += _count_binary(item)
    return count


def _is_number(value: Any) -> bool:
    """A JavaScript ``number``: int or float, never bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _namespace_problem(namespace: Any) -> str | None:
    """Why a namespace is invalid, or None."""
    if not isinstance(namespace, str):
        return f"namespace must be a str, not {type(namespace).__name__}"
    # Format: "[<namespace>,]": a namespace starts with "/" and runs up to the comma.
    if not namespace.startswith("/"):
        return f"namespace must start with '/': {namespace[:40]!r}"
    if "," in namespace:
        return f"namespace must not contain ',': {namespace[:40]!r}"
    return None


def _id_problem(packet_type: PacketType, id: Any) -> str | None:
    """Why an ack id is invalid for this packet type, or None."""
    if id is None:
        # "The receiver MUST respond with an ACK packet with the same event ID."
        if packet_type in (PacketType.ACK, PacketType.BINARY_ACK):
            return f"{packet_type.name} requires an ack id"
        return None
    if packet_type not in (
        PacketType.EVENT,
        PacketType.ACK,
        PacketType.BINARY_EVENT,
        PacketType.BINARY_ACK,
    ):
        return f"{packet_type.name} takes no ack id"
    if not isinstance(id, int) or isinstance(id, bool):
        return f"ack id must be an int, not {type(id).__name__}"
    if not 0 <= id <= MAX_ACK_ID:
        return f"ack id out of range: {id}"
    return None


def _data_problem(packet_type: PacketType, data: Any) -> str | None:
    """Why a payload is invalid for this packet type (socket.io-parser ``isPayloadValid``)."""
    if packet_type is PacketType.CONNECT:
        # v5: "the CONNECT packet now can contain a payload" (the auth object, or {sid}).
        if data is not None and not isinstance(data, dict):
            return f"CONNECT payload must be an object, not {type(data).__name__}"
    elif packet_type is PacketType.DISCONNECT:
        if data is not None:
            return "DISCONNECT takes no payload"
    elif packet_type is PacketType.CONNECT_ERROR:
        # v5: "the payload CONNECT_ERROR packet is now an object instead of a plain string";
        # a string is still accepted, as socket.io-parser does.
        if isinstance(data, dict):
            if not isinstance(data.get("message"), str):
                return "CONNECT_ERROR payload must have a string 'message'"
        elif not isinstance(data, str):
            return "CONNECT_ERROR payload must be an object or a string"
    elif packet_type in (PacketType.EVENT, PacketType.BINARY_EVENT):
        # "The payload is mandatory and MUST be a non-empty array."
        if not isinstance(data, list) or not data:
            return f"{packet_type.name} payload must be a non-empty array"
        name = data[0]
        # The event name must be a string or a number (CVE-2023-32695: 2[{"toString":1}]).
        if isinstance(name, str):
            if name in RESERVED_EVENTS:
                return f"reserved event name {name!r}"
        elif not _is_number(name):
            return f"event name must be a string or a number, not {type(name).__name__}"
    elif not isinstance(data, list):  # ACK, BINARY_ACK
        # "The payload is mandatory and MUST be an array (possibly empty)."
        return f"{packet_type.name} payload must be an array"
    return None


def packet_problem(packet_type: PacketType, namespace: Any, data: Any, id: Any) -> str | None:
    """Check the fields of a packet against the spec, whatever the parser.

    Args:
        packet_type: the packet type.
        namespace: the namespace.
        data: the payload, binary values in place or as placeholders.
        id: the ack id.

    Returns:
        Why the packet is invalid, or None if it is valid.
    """
    return (
        _namespace_problem(namespace)
        or _id_problem(packet_type, id)
        or _data_problem(packet_type, data)
    )


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet, binary values in place.

    Attributes:
        type: the packet type.
        namespace: the namespace, ``"/"`` by default.
        data: the payload: an object (CONNECT), nothing (DISCONNECT), an array (EVENT, ACK and
            their binary forms, whose arrays hold ``bytes`` somewhere), or an object with a
            ``message`` (CONNECT_ERROR).
        id: the ack id, or None.
        attachments: the number of binary values in ``data`` (computed).

    Raises:
        LocalProtocolError: the fields break a rule of the spec.
    """

    type: PacketType
    namespace: NamespaceName = DEFAULT_NAMESPACE
    data: Any = None
    id: int | None = None
    attachments: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not isinstance(self.type, PacketType):
            raise LocalProtocolError(f"packet type must be a PacketType, not {self.type!r}")
        problem = packet_problem(self.type, self.namespace, self.data, self.id)
        if problem is not None:
            raise LocalProtocolError(problem)
        count = _count_binary(self.data)
        if self.type in BINARY_TYPES:
            if count == 0:
                raise LocalProtocolError(f"{self.type.name} without binary data")
        elif count:
            raise LocalProtocolError(f"{self.type.name} cannot carry binary data")
        object.__setattr__(self, "attachments", count)

    @classmethod
    def _checked(
        cls, packet_type: PacketType, namespace: str, data: Any, id: int | None, count: int
    ) -> Packet:
        """A packet whose binary count is known: the rules are checked once, not twice."""
        problem = packet_problem(packet_type, namespace, data, id)
        if problem is not None:
            raise LocalProtocolError(problem)
        return cls._trusted(packet_type, NamespaceName(namespace), data, id, count)

    @classmethod
    def _trusted(
        cls,
        packet_type: PacketType,
        namespace: NamespaceName,
        data: Any,
        id: int | None,
        count: int,
    ) -> Packet:
        """A packet from fields the caller has already validated (no second walk)."""
        packet = object.__new__(cls)
        # The slots' own setters: what ``object.__setattr__`` ends in, without the lookup.
        _set_type(packet, packet_type)
        _set_namespace(packet, namespace)
        _set_data(packet, data)
        _set_id(packet, id)
        _set_attachments(packet, count)
        return packet

    @classmethod
    def event(
        cls, data: list[Any], *, namespace: str = DEFAULT_NAMESPACE, id: int | None = None
    ) -> Packet:
        """Build an EVENT, or a BINARY_EVENT if ``data`` holds bytes.

        Args:
            data: ``[event name, *arguments]``.
            namespace: the namespace.
            id: the ack id, when an acknowledgement is wanted.

        Returns:
            The packet.
        """
        count = _count_binary(data)
        packet_type = PacketType.BINARY_EVENT if count else PacketType.EVENT
        return cls._checked(packet_type, namespace, data, id, count)

    @classmethod
    def ack(cls, data: list[Any], *, id: int, namespace: str = DEFAULT_NAMESPACE) -> Packet:
        """Build an ACK, or a BINARY_ACK if ``data`` holds bytes.

        Args:
            data: the acknowledgement's arguments.
            id: the ack id of the event being acknowledged.
            namespace: the namespace.

        Returns:
            The packet.
        """
        count = _count_binary(data)
        packet_type = PacketType.BINARY_ACK if count else PacketType.ACK
        # The common case in one pass of cheap checks (an id read back from the event, a
        # list of arguments); anything else goes through the full rules for their message.
        if (
            type(data) is list
            and type(id) is int
            and 0 <= id <= MAX_ACK_ID
            and (namespace == DEFAULT_NAMESPACE or _namespace_problem(namespace) is None)
        ):
            return cls._trusted(packet_type, NamespaceName(namespace), data, id, count)
        return cls._checked(packet_type, namespace, data, id, count)


_slots: Any = vars(Packet)
_set_type = _slots["type"].__set__
_set_namespace = _slots["namespace"].__set__
_set_data = _slots["data"].__set__
_set_id = _slots["id"].__set__
_set_attachments = _slots["attachments"].__set__


def _deconstruct(data: Any, buffers: list[bytes]) -> Any:
    """Swap binary values for numbered placeholders, depth first."""
    if isinstance(data, bytes | bytearray):
        buffers.append(bytes(data))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if isinstance(data, list | tuple):
        return [_deconstruct(item, buffers) for item in data]
    if isinstance(data, dict):
        return {key: _deconstruct(value, buffers) for key, value in data.items()}
    return data


def _dumps(data: Any) -> str:
    """Serialise a payload as compact JSON, as ``JSON.stringify`` does (:mod:`.json_codec`)."""
    try:
        text = json_codec.dumps(data)
        if not text.isascii():
            text.encode("utf-8")  # lone surrogates cannot travel in a text message
    except (TypeError, ValueError, RecursionError) as exc:
        raise LocalProtocolError(f"payload cannot be encoded as JSON: {exc}") from exc
    return text


def _loads(text: str) -> Any:
    """Parse a JSON payload strictly (:mod:`.json_codec`)."""
    try:
        return json_codec.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"invalid JSON payload: {text[:40]!r}") from exc


def encode_packet(packet: Packet) -> tuple[str, list[bytes]]:
    """Encode a packet with the default parser.

    Args:
        packet: the packet.

    Returns:
        The text message, and the attachments to send after it as binary messages, in
        placeholder order (empty unless the packet is BINARY_EVENT or BINARY_ACK).

    Raises:
        LocalProtocolError: the payload is not JSON-serialisable.
    """
    # Format: <type>[<# of binary attachments>-][<namespace>,][<ack id>][JSON payload]
    packet_type = packet.type
    if packet_type is PacketType.ACK or packet_type is PacketType.EVENT:
        # The per-message shapes, without the list of parts.
        head = _TYPE_TEXT[packet_type]
        if packet.namespace != DEFAULT_NAMESPACE:
            head += packet.namespace + ","
        if packet.id is not None:
            head += str(packet.id)
        return head + _dumps(packet.data), []
    parts = [str(int(packet.type))]
    buffers: list[bytes] = []
    data = packet.data
    if packet.type in BINARY_TYPES:
        data = _deconstruct(data, buffers)
        parts.append(f"{len(buffers)}-")
    # "the namespace is only included if it is different from the main namespace (/)"
    if packet.namespace != DEFAULT_NAMESPACE:
        parts.append(f"{packet.namespace},")
    if packet.id is not None:
        parts.append(str(packet.id))
    if data is not None:
        parts.append(_dumps(data))
    return "".join(parts), buffers


def _scan_digits(text: str, start: int, limit: int, what: str) -> int:
    """Return the end of the ASCII digit run at ``start``; at most ``limit`` digits."""
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
        if end - start > limit:
            raise DecodeError(f"{what} too long")
    return end


def _collect_placeholders(data: Any, count: int, nums: list[int]) -> None:
    """Validate the placeholders of a binary payload, appending their numbers to ``nums``."""
    if isinstance(data, list):
        for item in data:
            _collect_placeholders(item, count, nums)
    elif isinstance(data, dict):
        if data.get("_placeholder") is True:
            num = data.get("num")
            # CVE-2022-2421: "num" must be an integer index into the attachments.
            if not isinstance(num, int) or isinstance(num, bool) or not 0 <= num < count:
                raise AttachmentError(f"invalid placeholder num {num!r} for {count} attachments")
            nums.append(num)
        else:
            for value in data.values():
                _collect_placeholders(value, count, nums)


def _reconstruct(data: Any, buffers: Sequence[bytes]) -> Any:
    """Swap validated placeholders for their attachments."""
    if isinstance(data, list):
        return [_reconstruct(item, buffers) for item in data]
    if isinstance(data, dict):
        if data.get("_placeholder") is True:
            return buffers[data["num"]]
        return {key: _reconstruct(value, buffers) for key, value in data.items()}
    return data


@dataclass(frozen=True, slots=True)
class PendingPacket:
    """The text part of a BINARY_EVENT or BINARY_ACK, waiting for its attachments.

    Attributes:
        type: BINARY_EVENT or BINARY_ACK.
        namespace: the namespace.
        data: the payload with placeholders, already validated against ``attachments``.
        id: the ack id, or None.
        attachments: the number of binary messages that must follow.
    """

    type: PacketType
    namespace: NamespaceName
    data: list[Any]
    id: int | None
    attachments: int

    def reconstruct(self, buffers: Sequence[bytes]) -> Packet:
        """Put the attachments in place of the placeholders.

        Args:
            buffers: exactly ``attachments`` binary values, in the order received.

        Returns:
            The complete packet.

        Raises:
            AttachmentError: the number of buffers is wrong.
            DecodeError: the payload is nested too deeply to rebuild.
        """
        if len(buffers) != self.attachments:
            raise AttachmentError(f"expected {self.attachments} attachments, got {len(buffers)}")
        try:
            return Packet(self.type, self.namespace, _reconstruct(self.data, buffers), self.id)
        except RecursionError as exc:
            raise DecodeError("payload nested too deeply") from exc


def decode_text(text: str, *, max_attachments: int = 10) -> Packet | PendingPacket:
    """Decode one text message of the default parser.

    Args:
        text: the Engine.IO message payload.
        max_attachments: the most attachments a binary packet may announce.

    Returns:
        A :class:`Packet`, or a :class:`PendingPacket` for a binary packet whose attachments
        are still to come.

    Raises:
        DecodeError: the text cannot be split into its parts.
        InvalidPacket: the parts break a rule of the spec.
        AttachmentError: a placeholder does not refer to an announced attachment.
        AttachmentLimitExceeded: more than ``max_attachments`` attachments are announced.
    """
    try:
        return _decode_text(text, max_attachments)
    except RecursionError as exc:
        raise DecodeError("payload nested too deeply") from exc


def _decode_text(text: str, max_attachments: int) -> Packet | PendingPacket:
    """Decode one text message; :func:`decode_text` without the recursion guard."""
    if not text:
        raise DecodeError("empty packet")
    packet_type = _TYPE_BY_DIGIT.get(text[0])
    if packet_type is None:
        raise DecodeError(f"unknown packet type {text[0]!r}")
    i = 1
    count = 0
    if packet_type in BINARY_TYPES:
        # "[<# of binary attachments>-]": mandatory for the binary types, at least 1.
        end = _scan_digits(text, i, _MAX_COUNT_DIGITS, "attachment count")
        if end == i or end == len(text) or text[end] != "-":
            raise DecodeError("missing attachment count")
        count = int(text[i:end])
        if count < 1:
            raise DecodeError("a binary packet needs at least one attachment")
        if count > max_attachments:
            raise AttachmentLimitExceeded(f"{count} attachments, at most {max_attachments}")
        i = end + 1
    namespace = DEFAULT_NAMESPACE
    if text.startswith("/", i):
        # "[<namespace>,]": up to the comma, or to the end ("1/admin" is accepted).
        comma = text.find(",", i)
        end = len(text) if comma == -1 else comma
        namespace = NamespaceName(text[i:end])
        i = end + 1
    id = None
    size = len(text)
    if i < size and text[i] in _DIGITS:
        end = _scan_digits(text, i, _MAX_ID_DIGITS, "ack id")
        id = int(text[i:end])
        i = end
    data = None
    if i < size:
        data = _loads(text[i:])
        if data is None:
            # No type takes null; None stands for "no payload" in a Packet.
            raise InvalidPacket(f"{packet_type.name} payload must not be null")
    # One validation pass. The namespace is valid as read (a "/", up to the first comma);
    # the id is digits, its range and whether the type takes one are left to check. The
    # per-message shapes are checked inline; the rules' own functions say what is wrong.
    if packet_type is PacketType.EVENT:
        valid = (
            (id is None or id <= MAX_ACK_ID)
            and type(data) is list
            and len(data) > 0
            and type(data[0]) is str
            and data[0] not in RESERVED_EVENTS
        )
    elif packet_type is PacketType.ACK:
        valid = id is not None and id <= MAX_ACK_ID and type(data) is list
    else:
        valid = False
    if not valid:
        problem = None
        if id is not None or packet_type in _NEEDS_ID:
            problem = _id_problem(packet_type, id)
        problem = problem or _data_problem(packet_type, data)
        if problem is not None:
            raise InvalidPacket(problem)
    if packet_type in BINARY_TYPES:
        nums: list[int] = []
        _collect_placeholders(data, count, nums)
        # Encoders number attachments 0..N-1 in walk order (socket.io-parser deconstructPacket);
        # an attachment no placeholder refers to would be buffered for nothing.
        if sorted(nums) != list(range(count)):
            raise AttachmentError(f"placeholders {nums} do not match {count} attachments")
        assert isinstance(data, list)  # a binary packet's payload passed the array checks
        return PendingPacket(packet_type, namespace, data, id, count)
    # Checked above, and JSON holds no bytes. The depth is bounded for whoever walks the
    # payload next (a handler, the encoder of the ack); only a text with many brackets can
    # be deep, so the others are not walked.
    if len(text) - i > _SHALLOW and text.count("[", i) + text.count("{", i) > _SHALLOW:
        _check_nesting(data, MAX_NESTING)
    return Packet._trusted(packet_type, namespace, data, id, 0)


def _check_nesting(data: Any, limit: int) -> None:
    """Refuse a decoded JSON value nested more than ``limit`` containers deep."""
    if limit < 0:
        raise DecodeError(f"payload nested more than {MAX_NESTING} deep")
    items: Any
    if type(data) is dict:
        items = data.values()
    elif type(data) is list:
        items = data
    else:
        return
    for item in items:
        kind = type(item)
        if kind is list or kind is dict:
            _check_nesting(item, limit - 1)
