"""The RFC 6455 frame codec: parse and serialize single frames, mask payloads.

Theory of operation
-------------------
A frame on the wire (RFC 6455 section 5.2) is a 2-byte base header, an extended payload
length of 0, 2 or 8 bytes, a 4-byte masking key when the MASK bit is set, and the payload::

    byte 0: FIN RSV1 RSV2 RSV3 opcode(4)      byte 1: MASK length(7)

This module is pure: it holds no connection state, reads no clock and does no I/O. The
connection state machine (:mod:`websocket.protocol`) feeds it a buffer and a position and gets a
:class:`Frame` plus the position after it, or ``None`` when the buffer does not hold a whole
frame yet. Everything that makes a single frame invalid on its own is checked here, before any
payload is sliced out of the buffer, so that a hostile length never allocates anything:

* reserved opcodes, RSV bits that no negotiated extension allows (1002);
* control frames that are fragmented or longer than 125 bytes (1002);
* a length that is not in its minimal encoding, or has the most significant bit set (1002);
* a length over the caller's ``max_size`` (1009);
* a missing mask from a client, or a mask from a server (1002).

Rules that span frames (continuation without a start, UTF-8 across fragments, close codes)
belong to the state machine.

Speed
-----
Parsing is one function with no generator and no per-frame object besides the result. One
lookup in a 256-entry table checks byte 0 (opcode, RSV bits, FIN of a control frame), another
gives the four flags, and the frame is built with ``tuple.__new__``. Masking XORs two big
integers (one pass in C over the payload) instead of looping over bytes: the 32-bit key times
an integer with a 1 in every 32-bit word gives the repeated mask without converting bytes, and
payloads over 16 KiB are masked 16 KiB at a time so that the integers stay in the CPU cache.
An unmasked payload is copied out of the buffer once (small ones twice, which is faster than
making a memoryview). Serialization packs the header with one precomputed :mod:`struct` format
and hands back the header and the payload separately, so that the I/O layer can write both
without joining them (an unmasked payload is never copied). ``benchmarks/frames.py`` measures
all of this against wsproto and websockets.

C speedup
---------
Pure-Python masking still costs about 2 ns per byte plus a fixed cost per call, which dominates
masked frames of up to a few KiB. The optional extension :mod:`websocket._speedups` (built from
``_speedups.c`` by ``setup.py`` when a C compiler is present) masks 8 bytes at a time. It comes
in through one seam, the ``_c_apply_mask`` / ``_c_unmask_at`` globals set below: when they are
None, everything runs the pure-Python reference above, which stays the specification and is
tested on its own. Set the environment variable ``WEBSOCKET_NO_SPEEDUPS`` to any non-empty
value before the import to force the reference even when the extension is built. Both paths
return the same bytes; ``tests/websocket/test_speedups.py`` checks them against each other.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Callable
from typing import Final, NamedTuple, NoReturn

from .exceptions import InvalidUTF8, PayloadTooBig, RemoteProtocolError

__all__ = [
    "CLOSE_CODES_OK",
    "Frame",
    "Opcode",
    "PreparedMessage",
    "apply_mask",
    "frame_header",
    "is_valid_close_code",
    "parse_close",
    "parse_frame",
    "serialize_close",
    "serialize_frame",
    "simple_frames",
    "unmask_at",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 section 5.2); 3-7 and 11-15 are reserved."""

    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


OP_CONT: Final = Opcode.CONT
OP_TEXT: Final = Opcode.TEXT
OP_BINARY: Final = Opcode.BINARY
OP_CLOSE: Final = Opcode.CLOSE
OP_PING: Final = Opcode.PING
OP_PONG: Final = Opcode.PONG

# Indexed by the 4-bit opcode: the enum member, or None for a reserved opcode.
_OPCODES: Final[tuple[Opcode | None, ...]] = tuple(
    Opcode(i) if i in Opcode._value2member_map_ else None for i in range(16)
)

MAX_CONTROL_PAYLOAD: Final = 125
#: Close codes that mean a normal closure (ConnectionClosedOK).
CLOSE_CODES_OK: Final = frozenset({1000, 1001})
# RFC 6455 section 7.4.1 defines 1000-1003 and 1007-1011; IANA added 1012-1014. 1004, 1005,
# 1006 and 1015 "MUST NOT be set as a status code in a Close control frame by an endpoint".
_WIRE_CLOSE_CODES: Final = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)

_U16: Final = struct.Struct("!H")
_unpack_u16: Final = _U16.unpack_from
_unpack_u64: Final = struct.Struct("!Q").unpack_from
# The masking key read as a little-endian integer, to XOR with a little-endian payload.
_unpack_key: Final = struct.Struct("<I").unpack_from
# Headers without and with a masking key, for the three length encodings.
_pack_head8: Final = struct.Struct("!BB").pack
_pack_head16: Final = struct.Struct("!BBH").pack
_pack_head64: Final = struct.Struct("!BBQ").pack
_pack_head8_key: Final = struct.Struct("!BB4s").pack
_pack_head16_key: Final = struct.Struct("!BBH4s").pack
_pack_head64_key: Final = struct.Struct("!BBQ4s").pack
_tuple_new: Final = tuple.__new__


def _opcode_if_valid(b0: int) -> Opcode | None:
    """The opcode of byte 0 if it needs no further check, else None (see ``_B0_OPCODE``)."""
    opcode = _OPCODES[b0 & 0x0F]
    if opcode is None or b0 & 0x70 or (opcode >= 8 and not b0 & 0x80):
        return None
    return opcode


# Indexed by byte 0 with the RSV bits that an extension allows cleared: the opcode, or None
# when the byte breaks a rule (reserved opcode, RSV bit, fragmented control frame). A control
# frame must still be checked for RSV bits an extension allows on data frames only.
_B0_OPCODE: Final[tuple[Opcode | None, ...]] = tuple(_opcode_if_valid(b0) for b0 in range(256))
# Indexed by byte 0 >> 4: the FIN, RSV1, RSV2 and RSV3 flags.
_B0_FLAGS: Final[tuple[tuple[bool, bool, bool, bool], ...]] = tuple(
    (bool(i & 8), bool(i & 4), bool(i & 2), bool(i & 1)) for i in range(16)
)

# Masking works on chunks of this many bytes: the integers stay in the CPU cache, and the
# repeated mask is built once per payload, by multiplying the 32-bit key by _MASK_ONES (the
# integer with a 1 in the low bit of every 32-bit word) rather than converting bytes.
_MASK_CHUNK: Final = 1 << 14
_MASK_ONES: Final = int.from_bytes(b"\x01\x00\x00\x00" * (_MASK_CHUNK >> 2), "little")
# _MASK_ONES cut to k words, for payloads of up to 256 bytes (a shift costs more than a lookup).
_MASK_ONES_SMALL: Final = tuple(_MASK_ONES >> ((_MASK_CHUNK // 4 - k) << 5) for k in range(65))
# Below this size, copying a slice of a bytearray twice beats one copy through a memoryview.
_VIEW_MIN: Final = 8192

# The seam for the C speedup (see "C speedup" above): None means the pure-Python reference.
_c_apply_mask: Callable[[bytes | bytearray | memoryview, bytes], bytes] | None = None
_c_unmask_at: Callable[[bytes | bytearray, int, int], bytes] | None = None
_c_simple_frames: Callable[[bytearray, int, bool, int], tuple[list[bytes | str], int]] | None = None
if not os.environ.get("WEBSOCKET_NO_SPEEDUPS"):
    try:
        from . import _speedups
    except ImportError:  # built without a C compiler: keep the reference
        pass
    else:
        _c_apply_mask = _speedups.apply_mask
        _c_unmask_at = _speedups.unmask_at
        # An extension built before simple_frames existed still serves the two above.
        _c_simple_frames = getattr(_speedups, "simple_frames", None)


def _mask_int(key: int, n: int) -> int:
    """The 32-bit ``key`` repeated over ``4 * ceil(n / 4)`` bytes, as a little-endian integer."""
    return key * (_MASK_ONES >> (((_MASK_CHUNK - n) >> 2) << 5))


def _unmask(data: bytes | bytearray | memoryview, key: int) -> bytes:
    """XOR ``data`` with the little-endian 32-bit ``key`` repeated; see :func:`apply_mask`."""
    n = len(data)
    if n <= _MASK_CHUNK:
        x = int.from_bytes(data, "little") ^ _mask_int(key, n)
        if n & 3:
            return x.to_bytes((n + 3) & ~3, "little")[:n]
        return x.to_bytes(n, "little")
    view = memoryview(data)
    mask_int = key * _MASK_ONES
    from_bytes = int.from_bytes
    chunk = _MASK_CHUNK
    stop = n - n % chunk
    parts = [
        (from_bytes(view[i : i + chunk], "little") ^ mask_int).to_bytes(chunk, "little")
        for i in range(0, stop, chunk)
    ]
    if stop < n:
        # The chunk size is a multiple of 4, so the tail starts on a key boundary.
        parts.append(_unmask(view[stop:], key))
    return b"".join(parts)


def unmask_at(buf: bytes | bytearray, head: int, length: int) -> bytes:
    """The unmasked payload of ``length`` bytes whose 4-byte masking key is at ``buf[head]``.

    The same bytes as :func:`parse_frame` returns for a masked frame; the caller has checked
    that ``buf`` holds the key and the whole payload. Goes through the C speedup when built.
    """
    c_unmask_at = _c_unmask_at
    if c_unmask_at is not None:
        return c_unmask_at(buf, head, length)
    start = head + 4
    return _unmask(memoryview(buf)[start : start + length], _unpack_key(buf, head)[0])


def simple_frames(
    buf: bytearray, pos: int, mask_required: bool, max_size: int
) -> tuple[list[bytes | str], int]:
    """The messages of the whole, unfragmented data frames at ``buf[pos]`` (receive fast path).

    Takes frames while each one is a complete text or binary frame with FIN set and no RSV bit,
    masked exactly when ``mask_required`` (section 5.1), with a 7-bit or minimal 16-bit length
    of at most ``max_size``, and, for text, valid UTF-8 (section 8.1). It stops before anything
    else, without raising: the caller hands the rest to :func:`parse_frame`, which gives the
    same payloads for these frames and owns every error. Goes through the C speedup when built.

    Returns:
        The messages (``bytes`` for binary, ``str`` for text) and where it stopped.
    """
    c_simple_frames = _c_simple_frames
    if c_simple_frames is not None:
        return c_simple_frames(buf, pos, mask_required, max_size)
    messages: list[bytes | str] = []
    append = messages.append
    size = len(buf)
    mask_bit = 0x80 if mask_required else 0
    while size - pos >= 2:
        b0 = buf[pos]
        if b0 not in {0x82, 0x81}:  # FIN + BINARY, FIN + TEXT
            break
        b1 = buf[pos + 1]
        if b1 & 0x80 != mask_bit:
            break
        length = b1 & 0x7F
        head = pos + 2
        if length > 125:
            if length != 126 or size < pos + 4:
                break
            length = (buf[head] << 8) | buf[head + 1]
            if length < 126:  # non-minimal: parse_frame fails the connection
                break
            head += 2
        if length > max_size:
            break
        if mask_required:
            end = head + 4 + length
            if end > size:
                break
            payload = unmask_at(buf, head, length)
        else:
            end = head + length
            if end > size:
                break
            payload = bytes(buf[head:end])
        if b0 == 0x81:
            try:
                append(payload.decode("utf-8"))
            except UnicodeDecodeError:
                break  # parse_frame + the assembler raise InvalidUTF8 for it
        else:
            append(payload)
        pos = end
    return messages, pos


class Frame(NamedTuple):
    """One frame, with its payload unmasked.

    A ``NamedTuple`` rather than a dataclass: it is immutable and costs half as much to build,
    which matters at several hundred thousand frames per second.
    """

    opcode: Opcode
    payload: bytes
    fin: bool = True
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False


def apply_mask(data: bytes | bytearray | memoryview, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (RFC 6455 section 5.3).

    Masking and unmasking are the same operation.

    Args:
        data: the payload.
        mask: the masking key.

    Returns:
        The masked (or unmasked) payload.

    Raises:
        ValueError: ``mask`` is not 4 bytes long (and ``data`` is not empty).
    """
    if _c_apply_mask is not None:
        return _c_apply_mask(data, mask)
    if not len(data):
        return b""
    if len(mask) != 4:
        raise ValueError("the mask must be 4 bytes long")
    return _unmask(data, _unpack_key(mask)[0])


def _reject_b0(b0: int, length: int, allowed_rsv: int) -> NoReturn:
    """Raise the error for a byte 0 that ``_B0_OPCODE`` flagged."""
    opcode = _OPCODES[b0 & 0x0F]
    if opcode is None:
        # Section 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail_".
        raise RemoteProtocolError(f"reserved opcode {b0 & 0x0F:#x}")
    if opcode >= 8:
        # Section 5.5: "All control frames MUST have a payload length of 125 bytes or less
        # and MUST NOT be fragmented."
        if not b0 & 0x80:
            raise RemoteProtocolError(f"fragmented control frame ({opcode.name})")
        if length > MAX_CONTROL_PAYLOAD:
            raise RemoteProtocolError(f"control frame payload of {length} bytes")
        raise RemoteProtocolError("RSV bit set on a control frame")
    # Section 5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines
    # meanings for non-zero values".
    raise RemoteProtocolError(f"reserved bits {(b0 & 0x70) >> 4:#05b} set")


def parse_frame(
    buf: bytes | bytearray,
    pos: int,
    *,
    max_size: int,
    mask_required: bool,
    allowed_rsv: int = 0,
) -> tuple[Frame, int] | None:
    """Parse the frame that starts at ``buf[pos]``.

    Args:
        buf: received bytes.
        pos: where the frame starts in ``buf``.
        max_size: the largest payload accepted; a longer one raises before any allocation.
        mask_required: True on a server (client frames must be masked), False on a client
            (server frames must not be).
        allowed_rsv: the RSV bits (as the byte-0 mask, e.g. ``0x40`` for RSV1) that a
            negotiated extension allows on data frames.

    Returns:
        The frame and the position just after it, or None if ``buf`` does not yet hold it.

    Raises:
        RemoteProtocolError: the frame breaks a rule of RFC 6455 section 5 (close code 1002).
        PayloadTooBig: its length is over ``max_size`` (close code 1009).
    """
    size = len(buf)
    head = pos + 2
    if size < head:
        return None
    b0 = buf[pos]
    b1 = buf[pos + 1]
    length = b1 & 0x7F
    if length > 125:
        if length == 126:
            if size < pos + 4:
                return None
            length = _unpack_u16(buf, head)[0]
            head = pos + 4
            # Section 5.2: "the minimal number of bytes MUST be used to encode the length".
            if length < 126:
                raise RemoteProtocolError(f"non-minimal 16-bit length {length}")
        else:
            if size < pos + 10:
                return None
            length = _unpack_u64(buf, head)[0]
            head = pos + 10
            # Section 5.2: "the most significant bit MUST be 0".
            if length >> 63:
                raise RemoteProtocolError("64-bit length with the most significant bit set")
            if length < 65536:
                raise RemoteProtocolError(f"non-minimal 64-bit length {length}")

    # One lookup validates the opcode, the RSV bits of a data frame and the FIN bit of a
    # control frame; control frames also need their length and RSV bits checked.
    opcode = _B0_OPCODE[b0 & ~(allowed_rsv & 0x70)]
    if opcode is None or (b0 & 0x08 and (length > MAX_CONTROL_PAYLOAD or b0 & 0x70)):
        _reject_b0(b0, length, allowed_rsv)
    if length > max_size:
        raise PayloadTooBig(f"frame payload of {length} bytes exceeds the limit of {max_size}")

    if b1 & 0x80:
        if not mask_required:
            # Section 5.1: "A client MUST close a connection if it detects a masked frame."
            raise RemoteProtocolError("masked frame from the server")
        start = head + 4
        end = start + length
        if size < end:
            return None
        if _c_unmask_at is not None:
            payload = _c_unmask_at(buf, head, length)
        elif not length:
            payload = b""
        elif length <= 256:
            # Inline copy of _unmask() for small frames, which saves a call and a shift.
            x = (
                int.from_bytes(buf[start:end], "little")
                ^ _unpack_key(buf, head)[0] * _MASK_ONES_SMALL[(length + 3) >> 2]
            )
            if length & 3:
                payload = x.to_bytes((length + 3) & ~3, "little")[:length]
            else:
                payload = x.to_bytes(length, "little")
        elif length <= _VIEW_MIN:
            # Inline copy of _unmask() for one chunk, which saves a call.
            x = int.from_bytes(buf[start:end], "little") ^ _unpack_key(buf, head)[0] * (
                _MASK_ONES >> (((_MASK_CHUNK - length) >> 2) << 5)
            )
            if length & 3:
                payload = x.to_bytes((length + 3) & ~3, "little")[:length]
            else:
                payload = x.to_bytes(length, "little")
        else:
            payload = _unmask(memoryview(buf)[start:end], _unpack_key(buf, head)[0])
    else:
        if mask_required:
            # Section 5.1: "The server MUST close the connection upon receiving a frame that
            # is not masked."
            raise RemoteProtocolError("unmasked frame from the client")
        end = head + length
        if size < end:
            return None
        if length <= _VIEW_MIN or type(buf) is bytes:
            payload = bytes(buf[head:end])
        else:
            payload = bytes(memoryview(buf)[head:end])
    fin, rsv1, rsv2, rsv3 = _B0_FLAGS[b0 >> 4]
    return _tuple_new(Frame, (opcode, payload, fin, rsv1, rsv2, rsv3)), end


def frame_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """Serialize a frame header (with the masking key, if any) in its minimal length encoding.

    Args:
        opcode: the frame opcode.
        length: the payload length.
        fin: the FIN bit.
        rsv1: the RSV1 bit (set by permessage-deflate on a compressed message).
        mask_key: the 4-byte masking key, or None for an unmasked frame.

    Returns:
        The header, masking key included.

    Raises:
        ValueError: ``length`` cannot be encoded, or ``mask_key`` is not 4 bytes long.
    """
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if mask_key is None:
        if length < 126:
            return _pack_head8(b0, length)
        if length < 65536:
            return _pack_head16(b0, 126, length)
        if length >> 63 == 0:
            return _pack_head64(b0, 127, length)
    else:
        if len(mask_key) != 4:
            raise ValueError("the mask must be 4 bytes long")
        if length < 126:
            return _pack_head8_key(b0, 0x80 | length, mask_key)
        if length < 65536:
            return _pack_head16_key(b0, 0xFE, length, mask_key)
        if length >> 63 == 0:
            return _pack_head64_key(b0, 0xFF, length, mask_key)
    raise ValueError(f"payload of {length} bytes cannot be framed")


def serialize_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> tuple[bytes, bytes]:
    """Serialize a frame as ``(header, payload)``, masking the payload when ``mask_key`` is set.

    The two parts are returned separately so that the caller can write them without joining
    them: an unmasked payload is passed through untouched.

    Args:
        opcode: the frame opcode.
        payload: the payload, unmasked.
        fin: the FIN bit.
        rsv1: the RSV1 bit.
        mask_key: the 4-byte masking key (a client's fresh random key), or None.

    Returns:
        The header and the payload as it goes on the wire.

    Raises:
        ValueError: the payload is too long to frame, or ``mask_key`` is not 4 bytes long.
    """
    length = len(payload)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if mask_key is None:
        if length < 126:
            return _pack_head8(b0, length), payload
        return frame_header(opcode, length, fin=fin, rsv1=rsv1), payload
    if len(mask_key) != 4:
        raise ValueError("the mask must be 4 bytes long")
    if length < 126:
        header = _pack_head8_key(b0, 0x80 | length, mask_key)
    else:
        header = frame_header(opcode, length, fin=fin, rsv1=rsv1, mask_key=mask_key)
    if _c_apply_mask is not None:
        return header, _c_apply_mask(payload, mask_key)
    return header, _unmask(payload, _unpack_key(mask_key)[0]) if length else b""


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame (RFC 6455 section 7.4)."""
    return code in _WIRE_CLOSE_CODES or 3000 <= code <= 4999


def parse_close(payload: bytes) -> tuple[int, str]:
    """Parse the payload of a close frame into ``(code, reason)``.

    An empty payload gives code 1005 ("no status received", section 7.1.5).

    Raises:
        RemoteProtocolError: a 1-byte payload or a code that may not be sent (1002).
        InvalidUTF8: the reason is not UTF-8 (1007).
    """
    if not payload:
        return 1005, ""
    if len(payload) == 1:
        raise RemoteProtocolError("close frame with a 1-byte payload")
    code = _unpack_u16(payload)[0]
    if not is_valid_close_code(code):
        raise RemoteProtocolError(f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError as exc:
        # Section 5.5.1: the reason is UTF-8; section 8.1: fail on invalid UTF-8.
        raise InvalidUTF8("close reason is not valid UTF-8") from exc
    return code, reason


def serialize_close(code: int, reason: str = "") -> bytes:
    """Serialize a close frame payload; code 1005 gives an empty payload."""
    if code == 1005:
        return b""
    if not is_valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent")
    data = _U16.pack(code) + reason.encode("utf-8")
    if len(data) > MAX_CONTROL_PAYLOAD:
        raise ValueError("close reason is longer than 123 bytes")
    return data


class PreparedMessage:
    """A message encoded once for sending on many server connections (a broadcast).

    Server frames are never masked (section 5.1), so every connection that sends the message
    uncompressed sends the very same bytes: :attr:`frame` is built once, on first use, and
    shared. A connection that compresses it (permessage-deflate keeps a context per
    connection) uses :attr:`payload` instead.
    """

    __slots__ = ("_frame", "opcode", "payload")

    def __init__(self, data: str | bytes) -> None:
        if isinstance(data, str):
            self.opcode: int = OP_TEXT
            self.payload: bytes = data.encode("utf-8")
        else:
            self.opcode = OP_BINARY
            self.payload = bytes(data)
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        """The whole unmasked, uncompressed frame: header and payload."""
        frame = self._frame
        if frame is None:
            frame = self._frame = frame_header(self.opcode, len(self.payload)) + self.payload
        return frame
