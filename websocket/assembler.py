"""Reassembly of incoming messages and streaming UTF-8 validation (RFC 6455 5.4, 8.1), sans I/O.

Theory of operation
-------------------
:class:`websocket.protocol.Protocol` parses whole frames; a :class:`MessageAssembler` turns
them into messages. A message in one frame is decoded at once; the frames of a fragmented
message are added one by one, each checked against the limits before it is kept
(``max_fragments`` frames, ``max_buffered`` wire bytes, ``max_size`` bytes after inflation),
and a text message is validated incrementally as its frames arrive.

Validation does not even wait for a frame to be complete. Section 8.1: "When an endpoint is to
interpret a byte stream as UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8
stream, that endpoint MUST _Fail the WebSocket Connection_"; websockets and Autobahn's "fail
fast" cases expect it on the first bad byte. So when a read ends inside an uncompressed text
frame, :meth:`MessageAssembler.check_partial` unmasks and validates the payload bytes that
have arrived, with a decoder that continues the message's state, and remembers how far it got:
each byte is validated once while the frame streams in (and once more when it is decoded).

Rules this file keeps
---------------------
* Every error raises :exc:`~websocket.exceptions.RemoteProtocolError` (a subclass with the
  close code: 1007 invalid UTF-8, 1009 too big); the connection fails the connection.
* Nothing is kept of a message that broke a limit: :meth:`MessageAssembler.reset`.
"""

from __future__ import annotations

import codecs
from typing import Protocol

from .exceptions import InvalidUTF8, PayloadTooBig, TooManyFragments
from .frames import OP_BINARY, OP_CONT, OP_TEXT, Frame, apply_mask

__all__ = ["MessageAssembler"]

_new_decoder = codecs.getincrementaldecoder("utf-8")


class _Inflater(Protocol):
    def decode(self, data: bytes, *, fin: bool, max_size: int) -> bytes:
        """Inflate one fragment of an incoming message."""


def _check_surrogate(decoder: codecs.IncrementalDecoder) -> None:
    """Fail on ED A0..BF at once: CPython's decoder waits for a third byte before failing."""
    pending = decoder.getstate()[0]
    if len(pending) >= 2 and pending[0] == 0xED and pending[1] >= 0xA0:
        raise InvalidUTF8("text message is not valid UTF-8 (a surrogate)")


class MessageAssembler:
    """The incoming message being reassembled, and the limits it must keep.

    Args:
        max_size: largest message, after decompression.
        max_fragments: most frames in one message.
        max_buffered: most wire bytes held for one unfinished message.
        compressor: the negotiated permessage-deflate instance, or None.

    Attributes:
        opcode: OP_TEXT or OP_BINARY while a fragmented message is unfinished, else None.
        compressed: whether that message is compressed (RSV1 on its first frame).
        size: bytes of that message so far, after decompression.
    """

    __slots__ = (
        "_checked",
        "_validator",
        "compressed",
        "compressor",
        "decoder",
        "frames",
        "max_buffered",
        "max_fragments",
        "max_size",
        "opcode",
        "parts",
        "size",
        "text_parts",
        "wire",
    )

    def __init__(
        self, *, max_size: int, max_fragments: int, max_buffered: int, compressor: _Inflater | None
    ) -> None:
        self.max_size = max_size
        self.max_fragments = max_fragments
        self.max_buffered = max_buffered
        self.compressor = compressor
        self.opcode: int | None = None
        self.compressed = False
        self.parts: list[bytes] = []
        self.text_parts: list[str] = []
        self.decoder: codecs.IncrementalDecoder | None = None
        self.size = 0
        self.wire = 0
        self.frames = 0
        # Streaming validation of the frame a read ended in (see the module docstring).
        self._validator: codecs.IncrementalDecoder | None = None
        self._checked = 0

    def budget(self) -> int:
        """The largest payload the next frame may carry (checked on its header)."""
        if self.opcode is not None and not self.compressed:
            return self.max_size - self.size
        return self.max_size

    def reset(self) -> None:
        """Drop the unfinished message (the connection failed or is closing)."""
        self.opcode = None
        self.decoder = None
        self.parts = []
        self.text_parts = []
        self._validator = None
        self._checked = 0

    def single(self, frame: Frame) -> str | bytes:
        """The message of one unfragmented data frame."""
        payload = frame.payload
        if frame.rsv1:
            assert self.compressor is not None
            payload = self.compressor.decode(payload, fin=True, max_size=self.max_size)
        if frame.opcode == OP_BINARY:
            return payload
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidUTF8("text message is not valid UTF-8") from exc

    def start(self, frame: Frame) -> None:
        """The first frame of a fragmented message."""
        self.opcode = frame.opcode
        self.compressed = frame.rsv1
        self.size = 0
        self.wire = 0
        self.frames = 0
        self.parts = []
        self.text_parts = []
        self.decoder = _new_decoder() if frame.opcode == OP_TEXT else None
        self.add(frame)

    def add(self, frame: Frame) -> str | bytes | None:
        """Add a frame of the unfinished message; returns the message after its last frame."""
        self.frames += 1
        if self.frames > self.max_fragments:
            raise TooManyFragments(f"message in more than {self.max_fragments} frames")
        payload = frame.payload
        self.wire += len(payload)
        if self.wire > self.max_buffered:
            raise PayloadTooBig(f"unfinished message over {self.max_buffered} buffered bytes")
        if self.compressed:
            assert self.compressor is not None
            payload = self.compressor.decode(
                payload, fin=frame.fin, max_size=self.max_size - self.size
            )
        self.size += len(payload)
        if self.size > self.max_size:
            raise PayloadTooBig(f"message over {self.max_size} bytes")
        decoder = self.decoder
        if decoder is not None:
            try:
                # Incremental validation: fails on the first invalid byte (section 8.1).
                self.text_parts.append(decoder.decode(payload, frame.fin))
            except UnicodeDecodeError as exc:
                raise InvalidUTF8("text message is not valid UTF-8") from exc
            _check_surrogate(decoder)
        else:
            self.parts.append(payload)
        if not frame.fin:
            return None
        data = "".join(self.text_parts) if decoder is not None else b"".join(self.parts)
        self.opcode = None
        self.decoder = None
        self.parts = []
        self.text_parts = []
        return data

    def frame_done(self) -> None:
        """A frame was parsed whole: forget the streaming validation of its first bytes."""
        self._validator = None
        self._checked = 0

    @property
    def validating(self) -> bool:
        """Whether a partial frame has been validated in part (see :meth:`frame_done`)."""
        return self._validator is not None

    def check_partial(self, buf: bytes | bytearray, pos: int) -> None:
        """Validate the UTF-8 received so far of the incomplete frame at ``buf[pos]``.

        Called when a read ends inside a frame whose header ``parse_frame`` has already
        validated (it returns None only for a missing payload, or an incomplete header, which
        this method skips). Compressed frames are validated once inflated, whole.

        Raises:
            InvalidUTF8: the bytes so far cannot start valid UTF-8 (close code 1007).
        """
        size = len(buf)
        if size < pos + 2:
            return
        b0, b1 = buf[pos], buf[pos + 1]
        opcode = b0 & 0x0F
        if b0 & 0x40:
            return
        if opcode == OP_CONT:
            if self.decoder is None or self.compressed:
                return
        elif opcode != OP_TEXT:
            return
        length = b1 & 0x7F
        head = pos + 2
        if length == 126:
            head = pos + 4
            if size < head:
                return
            length = int.from_bytes(buf[pos + 2 : head], "big")
        elif length == 127:
            head = pos + 10
            if size < head:
                return
            length = int.from_bytes(buf[pos + 2 : head], "big")
        key = b""
        if b1 & 0x80:
            if size < head + 4:
                return
            key = bytes(buf[head : head + 4])
            head += 4
        available = min(size - head, length)
        checked = self._checked
        if available <= checked:
            return
        validator = self._validator
        if validator is None:
            validator = self._validator = _new_decoder()
            if opcode == OP_CONT and self.decoder is not None:
                validator.setstate(self.decoder.getstate())
        chunk = bytes(buf[head + checked : head + available])
        if key:
            shift = checked & 3
            chunk = apply_mask(chunk, key[shift:] + key[:shift])
        try:
            validator.decode(chunk, False)
        except UnicodeDecodeError as exc:
            raise InvalidUTF8("text message is not valid UTF-8") from exc
        _check_surrogate(validator)
        self._checked = available
