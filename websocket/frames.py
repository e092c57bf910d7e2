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
Parsing is one function with no generator and no per-frame object besides the result, and
masking XORs two big integers (one pass in C over the payload) instead of looping over bytes.
Serialization builds the header with precomputed :mod:`struct` formats and hands back the header
and the payload separately, so that the I/O layer can write both without joining them (an
unmasked payload is never copied). ``benchmarks/frames.py`` measures all of this.
"""

from __future__ import annotations

import enum
import struct
from typing import Final, NamedTuple

from .exceptions import InvalidUTF8, PayloadTooBig, RemoteProtocolError

__all__ = [
    "CLOSE_CODES_OK",
    "Frame",
    "Opcode",
    "apply_mask",
    "frame_header",
    "is_valid_close_code",
    "parse_close",
    "parse_frame",
    "serialize_close",
    "serialize_frame",
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
_WIRE_CLOSE_CODES: Final = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                                      1013, 1014})

_U16: Final = struct.Struct("!H")
_U64: Final = struct.Struct("!Q")
_HEAD16: Final = struct.Struct("!BBH")
_HEAD64: Final = struct.Struct("!BBQ")
_unpack_u16 = _U16.unpack_from
_unpack_u64 = _U64.unpack_from


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
    """
    n = len(data)
    if n == 0:
        return b""
    if len(mask) != 4:
        raise ValueError("the mask must be 4 bytes long")
    data_int = int.from_bytes(data, "little")
    mask_int = int.from_bytes(mask * (n >> 2) + mask[: n & 3], "little")
    return (data_int ^ mask_int).to_bytes(n, "little")


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
    avail = len(buf) - pos
    if avail < 2:
        return None
    b0 = buf[pos]
    b1 = buf[pos + 1]
    length = b1 & 0x7F
    head = pos + 2
    if length == 126:
        if avail < 4:
            return None
        length = _unpack_u16(buf, head)[0]
        head += 2
        # Section 5.2: "the minimal number of bytes MUST be used to encode the length".
        if length < 126:
            raise RemoteProtocolError(f"non-minimal 16-bit length {length}")
    elif length == 127:
        if avail < 10:
            return None
        length = _unpack_u64(buf, head)[0]
        head += 8
        # Section 5.2: "the most significant bit MUST be 0".
        if length >> 63:
            raise RemoteProtocolError("64-bit length with the most significant bit set")
        if length < 65536:
            raise RemoteProtocolError(f"non-minimal 64-bit length {length}")

    opcode = _OPCODES[b0 & 0x0F]
    if opcode is None:
        # Section 5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail_".
        raise RemoteProtocolError(f"reserved opcode {b0 & 0x0F:#x}")
    fin = b0 & 0x80 != 0
    if opcode >= 8:
        # Section 5.5: "All control frames MUST have a payload length of 125 bytes or less
        # and MUST NOT be fragmented."
        if not fin:
            raise RemoteProtocolError(f"fragmented control frame ({opcode.name})")
        if length > MAX_CONTROL_PAYLOAD:
            raise RemoteProtocolError(f"control frame payload of {length} bytes")
        if b0 & 0x70:
            raise RemoteProtocolError("RSV bit set on a control frame")
    elif b0 & 0x70 & ~allowed_rsv:
        # Section 5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines
        # meanings for non-zero values".
        raise RemoteProtocolError(f"reserved bits {(b0 & 0x70) >> 4:#05b} set")
    if length > max_size:
        raise PayloadTooBig(f"frame payload of {length} bytes exceeds the limit of {max_size}")

    masked = b1 & 0x80
    if masked:
        if not mask_required:
            # Section 5.1: "A client MUST close a connection if it detects a masked frame."
            raise RemoteProtocolError("masked frame from the server")
        end = head + 4 + length
        if len(buf) < end:
            return None
        mask = bytes(buf[head : head + 4])
        payload = apply_mask(memoryview(buf)[head + 4 : end], mask) if length else b""
    else:
        if mask_required:
            # Section 5.1: "The server MUST close the connection upon receiving a frame that
            # is not masked."
            raise RemoteProtocolError("unmasked frame from the client")
        end = head + length
        if len(buf) < end:
            return None
        payload = bytes(buf[head:end])
    return Frame(opcode, payload, fin, bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10)), end


def frame_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask_key: bytes | None = None,
) -> bytes:
    """Serialize a frame header (with the masking key, if any) in its minimal length encoding."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mbit = 0x80 if mask_key is not None else 0
    if length < 126:
        header = bytes((b0, mbit | length))
    elif length < 65536:
        header = _HEAD16.pack(b0, mbit | 126, length)
    elif length >> 63 == 0:
        header = _HEAD64.pack(b0, mbit | 127, length)
    else:
        raise ValueError(f"payload of {length} bytes cannot be framed")
    return header if mask_key is None else header + mask_key


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
    """
    header = frame_header(opcode, len(payload), fin=fin, rsv1=rsv1, mask_key=mask_key)
    if mask_key is not None:
        payload = apply_mask(payload, mask_key)
    return header, payload


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
