"""Per-connection packet decoders: Engine.IO messages in, complete Socket.IO packets out.

Theory of operation
-------------------
Each Engine.IO connection gets one decoder. The I/O layer feeds it every Engine.IO message,
text (``str``) or binary (bytes-like), in order, and gets back a :class:`Packet` or ``None``
while the attachments of a binary packet are still arriving.

A decoder is a small state machine::

    AWAITING_CONNECT ──CONNECT──► OPEN ◄──last attachment── RECONSTRUCTING
                                   │ └──BINARY_EVENT/BINARY_ACK text──► ┘
    any state ──remote error──► FAILED (terminal)

``AWAITING_CONNECT`` is the first state only with ``require_connect_first`` (the server
side): "If the server does not receive a CONNECT packet first, then it MUST close the
connection immediately" (spec "Connection to a namespace").

Rules this file keeps
---------------------
* Bad peer input raises a :exc:`RemoteProtocolError` subclass, and the decoder moves to
  ``FAILED`` *before* raising, dropping the pending packet and its attachments: nothing stays
  buffered. The I/O layer closes the Engine.IO connection. Feeding a failed decoder is a
  :exc:`LocalProtocolError`.
* Limits are checked before anything is kept: the announced attachment count against
  ``max_attachments`` when the text part arrives, each attachment's size against what is left
  of ``max_attachment_bytes`` before it is stored.
* A text message while attachments are awaited, and a binary message while none are, are
  errors (socket.io-parser: "got plaintext data when reconstructing a packet", "got binary
  data when not reconstructing a packet").
"""

from __future__ import annotations

import abc
import enum
import logging
from typing import Final

from .exceptions import (
    AttachmentError,
    AttachmentLimitExceeded,
    DecodeError,
    LocalProtocolError,
    RemoteProtocolError,
    UnexpectedPacket,
)
from .packet import Packet, PacketType, PendingPacket, decode_text

__all__ = [
    "DEFAULT_MAX_ATTACHMENTS",
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "Decoder",
    "DecoderState",
    "JsonDecoder",
    "Message",
]

logger = logging.getLogger(__name__)

#: socket.io-parser's ``maxAttachments`` default.
DEFAULT_MAX_ATTACHMENTS: Final = 10
#: The total size of one packet's attachments; Engine.IO's default ``maxPayload`` is 1 MB.
DEFAULT_MAX_ATTACHMENT_BYTES: Final = 1_000_000

#: One Engine.IO message: text, or binary.
Message = str | bytes | bytearray | memoryview


class DecoderState(enum.Enum):
    """The states of a :class:`Decoder`."""

    AWAITING_CONNECT = "awaiting connect"
    OPEN = "open"
    RECONSTRUCTING = "reconstructing"
    FAILED = "failed"


_TRANSITIONS: Final[dict[DecoderState, frozenset[DecoderState]]] = {
    DecoderState.AWAITING_CONNECT: frozenset({DecoderState.OPEN, DecoderState.FAILED}),
    DecoderState.OPEN: frozenset({DecoderState.RECONSTRUCTING, DecoderState.FAILED}),
    DecoderState.RECONSTRUCTING: frozenset({DecoderState.OPEN, DecoderState.FAILED}),
    DecoderState.FAILED: frozenset(),
}


class Decoder(abc.ABC):
    """The state and the error handling shared by every parser's decoder.

    Args:
        require_connect_first: the first packet must be CONNECT (set it on the server side).

    Attributes:
        error: the remote error that failed the decoder, or None.
    """

    def __init__(self, *, require_connect_first: bool = False) -> None:
        self._state = DecoderState.AWAITING_CONNECT if require_connect_first else DecoderState.OPEN
        self.error: RemoteProtocolError | None = None

    @property
    def state(self) -> DecoderState:
        """The current state."""
        return self._state

    def _set_state(self, state: DecoderState) -> None:
        """Move to ``state``, refusing transitions the table does not allow."""
        if state is not self._state and state not in _TRANSITIONS[self._state]:
            raise LocalProtocolError(f"decoder cannot go from {self._state} to {state}")
        self._state = state

    def _check_first(self, packet_type: PacketType) -> None:
        """Enforce CONNECT first, as soon as the packet type is known."""
        if self._state is DecoderState.AWAITING_CONNECT:
            if packet_type is not PacketType.CONNECT:
                # "If the server does not receive a CONNECT packet first, then it MUST close
                # the connection immediately."
                raise UnexpectedPacket(f"{packet_type.name} before CONNECT")
            self._set_state(DecoderState.OPEN)

    def feed(self, message: Message) -> Packet | None:
        """Take one Engine.IO message.

        Args:
            message: the payload of an Engine.IO message packet: ``str`` for text, a
                bytes-like object for binary.

        Returns:
            The packet this message completes, or None if more messages are needed.

        Raises:
            RemoteProtocolError: the peer broke the protocol; the decoder is now ``FAILED``
                and holds nothing. Close the connection.
            LocalProtocolError: the decoder had already failed.
        """
        if self._state is DecoderState.FAILED:
            raise LocalProtocolError("the decoder failed; the connection must be closed")
        try:
            return self._feed(message)
        except RemoteProtocolError as exc:
            self._failed(exc)
            raise

    def _failed(self, exc: RemoteProtocolError) -> None:
        """Drop what is buffered and move to FAILED (the peer broke the protocol)."""
        self._discard()
        self._set_state(DecoderState.FAILED)
        self.error = exc
        logger.debug("! invalid packet: %s", exc)

    @abc.abstractmethod
    def _feed(self, message: Message) -> Packet | None:
        """Decode one message; raise a remote error on bad input."""

    @abc.abstractmethod
    def _discard(self) -> None:
        """Drop any buffered state."""


class JsonDecoder(Decoder):
    """The default parser's decoder, with binary reassembly.

    Args:
        max_attachments: the most attachments one packet may announce.
        max_attachment_bytes: the most attachment bytes one packet may bring, in total.
        require_connect_first: the first packet must be CONNECT (set it on the server side).
    """

    def __init__(
        self,
        *,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        require_connect_first: bool = False,
    ) -> None:
        if max_attachments < 0 or max_attachment_bytes < 0:
            raise LocalProtocolError("limits must not be negative")
        super().__init__(require_connect_first=require_connect_first)
        self.max_attachments = max_attachments
        self.max_attachment_bytes = max_attachment_bytes
        self._pending: PendingPacket | None = None
        self._buffers: list[bytes] = []
        self._buffered_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """The attachment bytes held for the packet being reassembled."""
        return self._buffered_bytes

    def _discard(self) -> None:
        self._pending = None
        self._buffers = []
        self._buffered_bytes = 0

    def feed(self, message: Message) -> Packet | None:
        """Take one Engine.IO message; see :meth:`Decoder.feed`.

        The per-message case, a text message between packets, is decoded here at once; the
        others go through :meth:`Decoder.feed`.
        """
        if self._state is DecoderState.OPEN and type(message) is str:
            try:
                decoded = decode_text(message, max_attachments=self.max_attachments)
            except RemoteProtocolError as exc:
                self._failed(exc)
                raise
            if isinstance(decoded, PendingPacket):
                self._pending = decoded
                self._set_state(DecoderState.RECONSTRUCTING)
                return None
            return decoded
        return super().feed(message)

    def _feed(self, message: Message) -> Packet | None:
        if isinstance(message, str):
            return self._feed_text(message)
        if isinstance(message, bytes | bytearray | memoryview):
            return self._feed_binary(message)
        raise LocalProtocolError(f"a message is str or bytes, not {type(message).__name__}")

    def _feed_text(self, text: str) -> Packet | None:
        """Decode a text message: a whole packet, or the text part of a binary one."""
        if self._pending is not None:
            raise AttachmentError("text message while waiting for binary attachments")
        if self._state is DecoderState.AWAITING_CONNECT:
            if not text:
                raise DecodeError("empty packet")
            # Check CONNECT-first on the type digit, before parsing anything else.
            packet_type = PacketType(int(text[0])) if text[0] in "0123456" else None
            if packet_type is not None:
                self._check_first(packet_type)
        decoded = decode_text(text, max_attachments=self.max_attachments)
        if isinstance(decoded, PendingPacket):
            self._pending = decoded
            self._set_state(DecoderState.RECONSTRUCTING)
            return None
        return decoded

    def _feed_binary(self, data: bytes | bytearray | memoryview) -> Packet | None:
        """Take one attachment of the packet being reassembled."""
        pending = self._pending
        if pending is None:
            raise AttachmentError("binary message with no binary packet pending")
        size = memoryview(data).nbytes
        if self._buffered_bytes + size > self.max_attachment_bytes:
            raise AttachmentLimitExceeded(
                f"attachments exceed {self.max_attachment_bytes} bytes in total"
            )
        self._buffers.append(bytes(data))
        self._buffered_bytes += size
        if len(self._buffers) < pending.attachments:
            return None
        buffers = self._buffers
        self._discard()
        self._set_state(DecoderState.OPEN)
        return pending.reconstruct(buffers)
