"""The Engine.IO v4 packet codec ("Packet encoding" in the spec), pure functions.

Theory of operation
-------------------
A packet is a type (one ASCII digit, ``0`` open to ``6`` noop) and an optional payload, which
is text, or bytes for a binary message. On the wire there are two encodings:

* **WebSocket** (spec "Packet encoding / WebSocket"): one packet per frame. Text is
  ``<type digit><data>`` in a text frame (``4hello``); a binary message is the raw bytes in a
  binary frame, "sent as is, without modification". :func:`encode_packet` and
  :func:`decode_packet` handle this form.
* **HTTP long-polling** (spec "Packet encoding / HTTP long-polling"): text packets as above, a
  binary message as ``b`` + base64 ("Binary payloads MUST be base64-encoded and prefixed with
  a ``b`` character"). :func:`encode_packet_text` and :func:`decode_packet_text` handle one such
  packet; :mod:`engineio_core.payload` joins them with ``\\x1e``.

Rules this file keeps
---------------------
* :class:`Packet` is validated on construction: only a message may carry bytes.
* Decoders raise :exc:`DecodeError` (a remote error, HTTP 400) for anything malformed: an
  empty packet, an unknown type, invalid base64. Like Node's engine.io-parser and
  python-engineio, a text packet starting with ``b`` is decoded as base64 on either transport.
* Packet data stays a ``str``: the open packet's JSON is built and read by the session, not
  here, and message payloads are never JSON-decoded (python-engineio does, for non-numeric
  payloads; Engine.IO itself treats them as opaque).
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass, field
from typing import Final

from .exceptions import DecodeError

__all__ = [
    "BINARY_PREFIX",
    "Packet",
    "PacketType",
    "decode_packet",
    "decode_packet_text",
    "encode_packet",
    "encode_packet_text",
]

BINARY_PREFIX: Final = "b"


class PacketType(enum.IntEnum):
    """Packet types (spec "Protocol", the table of packet types)."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_TYPE_BY_DIGIT: Final[dict[str, PacketType]] = {str(int(t)): t for t in PacketType}


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet.

    Attributes:
        type: the packet type.
        data: the payload: ``str`` (possibly empty), or ``bytes`` for a binary message.
    """

    type: PacketType
    data: str | bytes = ""
    # The WebSocket encoding, memoized: a packet shared by a broadcast is encoded once.
    _wire: str | bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.type, PacketType):
            raise TypeError(f"packet type must be a PacketType, not {self.type!r}")
        if isinstance(self.data, bytes):
            if self.type is not PacketType.MESSAGE:
                raise ValueError("only message packets can carry binary data")
        elif not isinstance(self.data, str):
            raise TypeError(f"packet data must be str or bytes, not {type(self.data).__name__}")

    @property
    def binary(self) -> bool:
        """Whether this is a binary message."""
        return isinstance(self.data, bytes)


def encode_packet(packet: Packet) -> str | bytes:
    """Encode a packet as one WebSocket frame's payload.

    Args:
        packet: the packet.

    Returns:
        ``str`` for a text frame (``"4hello"``), ``bytes`` for a binary frame (the raw data).
    """
    wire = packet._wire
    if wire is None:
        # "Binary payloads are sent as is, without modification."
        wire = packet.data if isinstance(packet.data, bytes) else f"{int(packet.type)}{packet.data}"
        object.__setattr__(packet, "_wire", wire)
    return wire


def decode_packet(frame: str | bytes | bytearray | memoryview) -> Packet:
    """Decode one WebSocket frame's payload.

    Args:
        frame: a text frame as ``str``, or a binary frame as a bytes-like object.

    Returns:
        The packet; a binary frame is always a binary message.

    Raises:
        DecodeError: the frame is not a valid packet.
    """
    if not isinstance(frame, str):
        return Packet(PacketType.MESSAGE, bytes(frame))
    return decode_packet_text(frame)


def encode_packet_text(packet: Packet) -> str:
    """Encode a packet for an HTTP long-polling payload.

    Args:
        packet: the packet.

    Returns:
        ``"<type><data>"``, or ``"b" + base64(data)`` for a binary message.
    """
    if isinstance(packet.data, bytes):
        return BINARY_PREFIX + base64.b64encode(packet.data).decode("ascii")
    return f"{int(packet.type)}{packet.data}"


def decode_packet_text(text: str) -> Packet:
    """Decode one text-encoded packet (a polling payload record, or a WebSocket text frame).

    Args:
        text: the encoded packet.

    Returns:
        The packet.

    Raises:
        DecodeError: empty, unknown type, or invalid base64.
    """
    if not text:
        raise DecodeError("empty packet")
    head = text[0]
    if head == BINARY_PREFIX:
        try:
            data = base64.b64decode(text[1:], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DecodeError("invalid base64 in binary packet") from exc
        return Packet(PacketType.MESSAGE, data)
    packet_type = _TYPE_BY_DIGIT.get(head)
    if packet_type is None:
        raise DecodeError(f"unknown packet type {head!r}")
    return Packet(packet_type, text[1:])
