"""Pluggable parsers: how packets become Engine.IO messages and back.

Both ends of a connection must use the same parser (spec "Packet encoding": the JavaScript
implementations "also support custom parsers"). A :class:`Parser` encodes a packet into the
Engine.IO messages to send and makes one :class:`~socketio_core.decoder.Decoder` per
connection.

* :class:`JsonParser`, the default: socket.io-parser's text format, binary values sent as
  attachments after the text (:mod:`socketio_core.packet`).
* :class:`MsgpackParser`, wire-compatible with npm ``socket.io-msgpack-parser`` 3.x: each packet
  is one binary message, the msgpack encoding of the map ``{type, data, nsp, id}``; binary
  values stay in place, so there are no attachments and types 5 and 6 never travel. Needs
  the ``msgpack`` extra, imported when the parser is created.

Wire notes for msgpack (npm ``notepack.io``, which the npm parser uses)
-----------------------------------------------------------------------
* JavaScript ``undefined`` is the fixext 1 of type 0 (``d4 00 00``): socket.io-client sends
  ``data: undefined`` in a CONNECT without ``auth``. It decodes to "absent".
* An ``ArrayBuffer`` (what browsers send) is an ext of type 0; it decodes to ``bytes``. A Node
  ``Buffer`` is msgpack bin, and so is what we send. Python's msgpack cannot tell the format
  byte of an ext, so a one-byte ``ArrayBuffer`` holding ``00`` reads as "absent" and a
  ``Date`` (fixext 8, type 0) as its 8 raw bytes. Other ext types are rejected.
* Absent ``data`` and ``id`` are left out of the map: the npm decoder rejects ``null`` where
  it expects nothing (``DISCONNECT``) or an object (``CONNECT``). Extra keys, such as the
  ``options`` socket.io-client adds, are ignored.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, Final, Protocol, runtime_checkable

from .decoder import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_ATTACHMENTS,
    Decoder,
    JsonDecoder,
    Message,
)
from .exceptions import DecodeError, InvalidPacket, LocalProtocolError, MissingDependency
from .packet import (
    BINARY_TYPES,
    Namespace,
    Packet,
    PacketType,
    encode_packet,
    has_binary,
    packet_problem,
)

__all__ = ["JsonParser", "MsgpackDecoder", "MsgpackParser", "Parser"]


@runtime_checkable
class Parser(Protocol):
    """What the Socket.IO layers need from a parser."""

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode a packet as the Engine.IO messages to send, in order.

        Args:
            packet: the packet.

        Returns:
            ``str`` items go as text messages, ``bytes`` items as binary messages.

        Raises:
            LocalProtocolError: the payload cannot be encoded.
        """
        ...

    def decoder(self, *, require_connect_first: bool = False) -> Decoder:
        """Make a decoder for one connection.

        Args:
            require_connect_first: the first packet must be CONNECT (the server side).

        Returns:
            A fresh decoder.
        """
        ...


class JsonParser:
    """The default parser (socket.io-parser): text packets plus binary attachments.

    Args:
        max_attachments: the most attachments one incoming packet may announce.
        max_attachment_bytes: the most attachment bytes one incoming packet may bring.
    """

    def __init__(
        self,
        *,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    ) -> None:
        self.max_attachments = max_attachments
        self.max_attachment_bytes = max_attachment_bytes

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode a packet: the text message, then one binary message per attachment.

        Args:
            packet: the packet.

        Returns:
            ``[text, *attachments]``.

        Raises:
            LocalProtocolError: the payload is not JSON-serialisable.
        """
        text, buffers = encode_packet(packet)
        return [text, *buffers]

    def decoder(self, *, require_connect_first: bool = False) -> JsonDecoder:
        """Make a decoder for one connection, with this parser's limits.

        Args:
            require_connect_first: the first packet must be CONNECT (the server side).

        Returns:
            A fresh :class:`~socketio_core.decoder.JsonDecoder`.
        """
        return JsonDecoder(
            max_attachments=self.max_attachments,
            max_attachment_bytes=self.max_attachment_bytes,
            require_connect_first=require_connect_first,
        )


def _import_msgpack() -> ModuleType:
    """Import msgpack, or name the extra that installs it."""
    try:
        return importlib.import_module("msgpack")
    except ImportError as exc:
        raise MissingDependency("msgpack", "msgpack") from exc


#: The packet types of npm socket.io-msgpack-parser: CONNECT to CONNECT_ERROR.
_MSGPACK_TYPES: Final = {int(t): t for t in PacketType if t not in BINARY_TYPES}
_UNDEFINED: Final = b"\x00"


class MsgpackParser:
    """The msgpack parser, wire-compatible with npm socket.io-msgpack-parser.

    Raises:
        MissingDependency: msgpack is not installed (``pip install socketio-stack[msgpack]``).
    """

    def __init__(self) -> None:
        self._msgpack = _import_msgpack()

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode a packet as one binary message.

        Args:
            packet: the packet; BINARY_EVENT and BINARY_ACK go as types 2 and 3.

        Returns:
            ``[the msgpack map]``.

        Raises:
            LocalProtocolError: the payload cannot be packed.
        """
        packet_type = packet.type
        if packet_type is PacketType.BINARY_EVENT:
            packet_type = PacketType.EVENT
        elif packet_type is PacketType.BINARY_ACK:
            packet_type = PacketType.ACK
        message: dict[str, Any] = {"type": int(packet_type)}
        if packet.data is not None:
            message["data"] = packet.data
        message["nsp"] = packet.namespace
        if packet.id is not None:
            message["id"] = packet.id
        try:
            encoded: bytes = self._msgpack.packb(message, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise LocalProtocolError(f"payload cannot be packed: {exc}") from exc
        return [encoded]

    def decoder(self, *, require_connect_first: bool = False) -> MsgpackDecoder:
        """Make a decoder for one connection.

        Args:
            require_connect_first: the first packet must be CONNECT (the server side).

        Returns:
            A fresh :class:`MsgpackDecoder`.
        """
        return MsgpackDecoder(self._msgpack, require_connect_first=require_connect_first)


class MsgpackDecoder(Decoder):
    """Decodes msgpack packets, one per binary message; keeps no state between messages.

    Args:
        msgpack: the msgpack module.
        require_connect_first: the first packet must be CONNECT (the server side).
    """

    def __init__(self, msgpack: ModuleType, *, require_connect_first: bool = False) -> None:
        super().__init__(require_connect_first=require_connect_first)
        self._unpackb: Callable[..., Any] = msgpack.unpackb
        self._errors: tuple[type[BaseException], ...] = (
            ValueError,
            TypeError,
            RecursionError,
            msgpack.UnpackException,
        )

    def _discard(self) -> None:
        """Nothing is buffered between messages."""

    def _ext_hook(self, code: int, data: bytes) -> Any:
        """Map notepack's type-0 extensions: ``undefined`` and ``ArrayBuffer``."""
        if code != 0:
            raise DecodeError(f"unsupported msgpack extension type {code}")
        return None if data == _UNDEFINED else data

    def _feed(self, message: Message) -> Packet | None:
        if isinstance(message, str):
            raise DecodeError("text message: the msgpack parser sends binary messages only")
        if not isinstance(message, bytes | bytearray | memoryview):
            raise LocalProtocolError(f"a message is str or bytes, not {type(message).__name__}")
        try:
            decoded = self._unpackb(message, raw=False, ext_hook=self._ext_hook)
        except DecodeError:
            raise
        except self._errors as exc:
            raise DecodeError(f"invalid msgpack packet: {exc}") from exc
        if not isinstance(decoded, dict):
            raise DecodeError("a msgpack packet is a map")
        raw_type = decoded.get("type")
        # npm isTypeValid: an integer from CONNECT (0) to CONNECT_ERROR (4).
        if not isinstance(raw_type, int) or isinstance(raw_type, bool):
            raise DecodeError(f"invalid packet type {raw_type!r}")
        packet_type = _MSGPACK_TYPES.get(raw_type)
        if packet_type is None:
            raise DecodeError(f"invalid packet type {raw_type!r}")
        self._check_first(packet_type)
        namespace = decoded.get("nsp")
        data = decoded.get("data")
        id = decoded.get("id")
        try:
            return self._packet(packet_type, namespace, data, id)
        except RecursionError as exc:
            raise DecodeError("payload nested too deeply") from exc

    @staticmethod
    def _packet(packet_type: PacketType, namespace: Any, data: Any, id: Any) -> Packet:
        """Validate the fields and build the packet; binary values make types 5 and 6."""
        if has_binary(data):
            if packet_type is PacketType.EVENT:
                packet_type = PacketType.BINARY_EVENT
            elif packet_type is PacketType.ACK:
                packet_type = PacketType.BINARY_ACK
        problem = packet_problem(packet_type, namespace, data, id)
        if problem is not None:
            raise InvalidPacket(problem)
        try:
            return Packet(packet_type, Namespace(namespace), data, id)
        except LocalProtocolError as exc:  # bytes in a CONNECT or CONNECT_ERROR payload
            raise InvalidPacket(str(exc)) from exc
