"""Tests for websocket.frames: byte-literal tables checked in both directions.

Every table row is parsed (wire -> Frame) and, where the frame is valid, serialized back
(Frame -> wire) and compared byte for byte. Masks are fixed in the tables, never random.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from websocket.exceptions import InvalidUTF8, PayloadTooBig, RemoteProtocolError
from websocket.frames import (
    CLOSE_CODES_OK,
    Frame,
    Opcode,
    apply_mask,
    frame_header,
    is_valid_close_code,
    parse_close,
    parse_frame,
    serialize_close,
    serialize_frame,
)

KEY = bytes.fromhex("37fa213d")  # the masking key of RFC 6455 section 5.7
BIG = 1 << 20


def naive_mask(data: bytes, key: bytes) -> bytes:
    """The RFC 6455 section 5.3 definition, one byte at a time."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def h(text: str) -> bytes:
    """Bytes from hex with spaces."""
    return bytes.fromhex(text)


# --------------------------------------------------------------------------- valid frames


class Valid(NamedTuple):
    """A valid frame: its wire bytes and its fields."""

    name: str
    wire: bytes
    opcode: Opcode
    payload: bytes
    fin: bool
    rsv1: bool
    key: bytes | None


VALID: list[Valid] = [
    Valid(*row)
    for row in [
        # RFC 6455 section 5.7.
        ("5.7 unmasked Hello", h("81 05 48 65 6c 6c 6f"), Opcode.TEXT, b"Hello", True, False, None),
        (
            "5.7 masked Hello",
            h("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
            Opcode.TEXT,
            b"Hello",
            True,
            False,
            KEY,
        ),
        ("5.7 fragment Hel", h("01 03 48 65 6c"), Opcode.TEXT, b"Hel", False, False, None),
        ("5.7 fragment lo", h("80 02 6c 6f"), Opcode.CONT, b"lo", True, False, None),
        ("5.7 unmasked ping", h("89 05 48 65 6c 6c 6f"), Opcode.PING, b"Hello", True, False, None),
        (
            "5.7 masked pong",
            h("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
            Opcode.PONG,
            b"Hello",
            True,
            False,
            KEY,
        ),
        (
            "5.7 256 bytes binary",
            h("82 7e 01 00") + bytes(256),
            Opcode.BINARY,
            bytes(256),
            True,
            False,
            None,
        ),
        (
            "5.7 64 KiB binary",
            h("82 7f 00 00 00 00 00 01 00 00") + bytes(65536),
            Opcode.BINARY,
            bytes(65536),
            True,
            False,
            None,
        ),
        # Length boundaries, unmasked and masked (zero bytes masked are the key itself).
        ("len 0", h("82 00"), Opcode.BINARY, b"", True, False, None),
        ("len 0 masked", h("82 80 37 fa 21 3d"), Opcode.BINARY, b"", True, False, KEY),
        ("len 125", h("82 7d") + b"a" * 125, Opcode.BINARY, b"a" * 125, True, False, None),
        (
            "len 125 masked",
            h("82 fd") + KEY + KEY * 31 + KEY[:1],
            Opcode.BINARY,
            bytes(125),
            True,
            False,
            KEY,
        ),
        ("len 126", h("82 7e 00 7e") + b"b" * 126, Opcode.BINARY, b"b" * 126, True, False, None),
        (
            "len 126 masked",
            h("82 fe 00 7e") + KEY + KEY * 31 + KEY[:2],
            Opcode.BINARY,
            bytes(126),
            True,
            False,
            KEY,
        ),
        (
            "len 65535",
            h("82 7e ff ff") + bytes(65535),
            Opcode.BINARY,
            bytes(65535),
            True,
            False,
            None,
        ),
        (
            "len 65535 masked",
            h("82 fe ff ff") + KEY + KEY * 16383 + KEY[:3],
            Opcode.BINARY,
            bytes(65535),
            True,
            False,
            KEY,
        ),
        (
            "len 65536",
            h("82 7f 00 00 00 00 00 01 00 00") + bytes(65536),
            Opcode.BINARY,
            bytes(65536),
            True,
            False,
            None,
        ),
        (
            "len 65536 masked",
            h("82 ff 00 00 00 00 00 01 00 00") + KEY + KEY * 16384,
            Opcode.BINARY,
            bytes(65536),
            True,
            False,
            KEY,
        ),
        # FIN, RSV1 and every valid opcode.
        ("text not fin", h("01 01 61"), Opcode.TEXT, b"a", False, False, None),
        ("binary not fin", h("02 01 61"), Opcode.BINARY, b"a", False, False, None),
        ("cont not fin", h("00 01 61"), Opcode.CONT, b"a", False, False, None),
        ("cont fin", h("80 00"), Opcode.CONT, b"", True, False, None),
        ("text rsv1", h("c1 01 61"), Opcode.TEXT, b"a", True, True, None),
        ("binary rsv1 not fin", h("42 01 61"), Opcode.BINARY, b"a", False, True, None),
        ("close empty", h("88 00"), Opcode.CLOSE, b"", True, False, None),
        ("close 1000", h("88 02 03 e8"), Opcode.CLOSE, h("03 e8"), True, False, None),
        ("close masked", h("88 82 37 fa 21 3d 34 12"), Opcode.CLOSE, h("03 e8"), True, False, KEY),
        ("ping empty", h("89 00"), Opcode.PING, b"", True, False, None),
        ("ping 125", h("89 7d") + b"p" * 125, Opcode.PING, b"p" * 125, True, False, None),
        ("pong empty masked", h("8a 80 37 fa 21 3d"), Opcode.PONG, b"", True, False, KEY),
    ]
]


def _ids(rows: list[Valid] | list[Reject]) -> list[str]:
    return [row.name for row in rows]


@pytest.mark.parametrize("case", VALID, ids=_ids(VALID))
@pytest.mark.parametrize("buftype", [bytes, bytearray])
def test_parse_valid(case: Valid, buftype: type[bytes] | type[bytearray]) -> None:
    parsed = parse_frame(
        buftype(case.wire), 0, max_size=BIG, mask_required=case.key is not None, allowed_rsv=0x40
    )
    expected = Frame(case.opcode, case.payload, case.fin, case.rsv1, False, False)
    assert parsed == (expected, len(case.wire))
    assert parsed is not None
    frame = parsed[0]
    assert type(frame) is Frame
    assert frame.opcode is case.opcode
    assert type(frame.payload) is bytes
    assert type(frame.fin) is bool
    assert type(frame.rsv1) is bool


@pytest.mark.parametrize("case", VALID, ids=_ids(VALID))
def test_serialize_valid(case: Valid) -> None:
    options = {"fin": case.fin, "rsv1": case.rsv1, "mask_key": case.key}
    header, data = serialize_frame(case.opcode, case.payload, **options)  # type: ignore[arg-type]
    assert header + data == case.wire
    assert type(header) is bytes
    assert type(data) is bytes
    assert frame_header(case.opcode, len(case.payload), **options) == header  # type: ignore[arg-type]
    if case.key is None:
        assert data is case.payload  # an unmasked payload is never copied


@pytest.mark.parametrize("case", VALID, ids=_ids(VALID))
def test_parse_incomplete_at_every_cut(case: Valid) -> None:
    # Long payloads: every cut in the header, then a few in the payload.
    wire = case.wire
    header_len = len(wire) - len(case.payload)
    cuts = range(len(wire)) if len(wire) < 300 else [*range(header_len + 3), len(wire) - 1]
    prefix = b"\x89\x00"  # a complete frame before, so that pos != 0
    for cut in cuts:
        for buf in (wire[:cut], bytearray(prefix + wire[:cut])):
            pos = 0 if type(buf) is bytes else len(prefix)
            result = parse_frame(
                buf, pos, max_size=BIG, mask_required=case.key is not None, allowed_rsv=0x40
            )
            assert result is None, cut


def test_header_only_is_incomplete() -> None:
    # The header is complete and valid, the payload has not arrived.
    assert parse_frame(h("82 7e 01 00"), 0, max_size=BIG, mask_required=False) is None
    assert parse_frame(h("82 fe 01 00") + KEY, 0, max_size=BIG, mask_required=True) is None


def test_parse_back_to_back_and_offsets() -> None:
    wire = b"".join(row.wire for row in VALID if row.key is None)
    for buf in (wire, bytearray(wire)):
        pos = 0
        frames = []
        while (
            parsed := parse_frame(buf, pos, max_size=BIG, mask_required=False, allowed_rsv=0x40)
        ) is not None:
            frame, pos = parsed
            frames.append(frame)
        assert pos == len(wire)
        assert [f.payload for f in frames] == [row.payload for row in VALID if row.key is None]


@pytest.mark.parametrize(
    "length", [0, 1, 2, 3, 4, 5, 125, 256, 257, 1027, 8192, 8193, 16384, 16387, 70001]
)
@pytest.mark.parametrize("buftype", [bytes, bytearray])
def test_masked_roundtrip_against_naive(
    length: int, buftype: type[bytes] | type[bytearray]
) -> None:
    payload = bytes(range(251)) * (length // 251 + 1)
    payload = payload[:length]
    key = h("a1 b2 c3 d4")
    header, data = serialize_frame(Opcode.BINARY, payload, mask_key=key)
    assert data == naive_mask(payload, key)
    buf = buftype(b"xyz" + header + data + b"tail")
    parsed = parse_frame(buf, 3, max_size=BIG, mask_required=True)
    assert parsed == (Frame(Opcode.BINARY, payload), 3 + len(header) + len(data))


@pytest.mark.parametrize("length", [0, 10, 8193, 70001])
def test_unmasked_parse_from_bytearray(length: int) -> None:
    payload = bytes(range(256)) * (length // 256 + 1)
    payload = payload[:length]
    header, _ = serialize_frame(Opcode.BINARY, payload)
    buf = bytearray(b"\x00" + header + payload)
    parsed = parse_frame(buf, 1, max_size=BIG, mask_required=False)
    assert parsed is not None
    assert parsed[0].payload == payload
    assert type(parsed[0].payload) is bytes
    del buf[:]  # no view on the buffer survives parsing: it can be resized


# ---------------------------------------------------------------------- FIN, RSV, opcode


@pytest.mark.parametrize("opcode", [0, 1, 2, 8, 9, 10])
@pytest.mark.parametrize("bits", range(8))
def test_byte0_bits(opcode: int, bits: int) -> None:
    fin, rsv1, rsv2, rsv3 = bool(bits & 4) or opcode >= 8, bool(bits & 2), bool(bits & 1), False
    if opcode >= 8:
        rsv1 = rsv2 = False
    b0 = fin << 7 | rsv1 << 6 | rsv2 << 5 | rsv3 << 4 | opcode
    wire = bytes([b0, 1]) + b"z"
    parsed = parse_frame(wire, 0, max_size=BIG, mask_required=False, allowed_rsv=0x70)
    assert parsed == (Frame(Opcode(opcode), b"z", fin, rsv1, rsv2, rsv3), 3)
    if not rsv2:
        assert b"".join(serialize_frame(opcode, b"z", fin=fin, rsv1=rsv1)) == wire


def test_rsv3_allowed() -> None:
    parsed = parse_frame(h("92 00"), 0, max_size=BIG, mask_required=False, allowed_rsv=0x10)
    assert parsed == (Frame(Opcode.BINARY, b"", True, False, False, True), 2)


# ------------------------------------------------------------------------------ rejects


class Reject(NamedTuple):
    """An invalid frame header, the parse_frame options, and the error it must raise."""

    name: str
    wire: bytes
    options: dict[str, object]
    exc: type[RemoteProtocolError]
    close_code: int


# Every wire is the header only (or less), so each rule is enforced before the payload arrives.
SERVER: dict[str, object] = {"mask_required": True}
CLIENT: dict[str, object] = {"mask_required": False}
REJECTS: list[Reject] = [
    Reject(*row)
    for row in [
        *[
            (f"reserved opcode {op}", bytes([0x80 | op, 0x00]), CLIENT, RemoteProtocolError, 1002)
            for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)
        ],
        *[
            (
                f"reserved opcode {op} masked",
                bytes([op, 0x80]) + KEY,
                SERVER,
                RemoteProtocolError,
                1002,
            )
            for op in (3, 7, 11, 15)
        ],
        ("rsv1 not negotiated", h("c2 00"), CLIENT, RemoteProtocolError, 1002),
        ("rsv2 not negotiated", h("a2 00"), CLIENT, RemoteProtocolError, 1002),
        ("rsv3 not negotiated", h("92 00"), CLIENT, RemoteProtocolError, 1002),
        (
            "rsv2 with rsv1 allowed",
            h("a2 00"),
            {**CLIENT, "allowed_rsv": 0x40},
            RemoteProtocolError,
            1002,
        ),
        (
            "rsv1+rsv2 with rsv1 allowed",
            h("e1 00"),
            {**CLIENT, "allowed_rsv": 0x40},
            RemoteProtocolError,
            1002,
        ),
        (
            "rsv1 on ping, rsv1 allowed",
            h("c9 00"),
            {**CLIENT, "allowed_rsv": 0x40},
            RemoteProtocolError,
            1002,
        ),
        ("rsv1 on close", h("c8 00"), CLIENT, RemoteProtocolError, 1002),
        ("fragmented ping", h("09 00"), CLIENT, RemoteProtocolError, 1002),
        ("fragmented pong", h("0a 00"), CLIENT, RemoteProtocolError, 1002),
        ("fragmented close", h("08 00"), CLIENT, RemoteProtocolError, 1002),
        ("ping payload 126", h("89 7e 00 7e"), CLIENT, RemoteProtocolError, 1002),
        ("close payload 126 masked", h("88 fe 00 7e"), SERVER, RemoteProtocolError, 1002),
        (
            "pong payload 65536",
            h("8a 7f 00 00 00 00 00 01 00 00"),
            CLIENT,
            RemoteProtocolError,
            1002,
        ),
        ("non-minimal 16-bit 0", h("82 7e 00 00"), CLIENT, RemoteProtocolError, 1002),
        ("non-minimal 16-bit 125", h("82 7e 00 7d"), CLIENT, RemoteProtocolError, 1002),
        (
            "non-minimal 64-bit 0",
            h("82 7f 00 00 00 00 00 00 00 00"),
            CLIENT,
            RemoteProtocolError,
            1002,
        ),
        (
            "non-minimal 64-bit 125",
            h("82 7f 00 00 00 00 00 00 00 7d"),
            CLIENT,
            RemoteProtocolError,
            1002,
        ),
        (
            "non-minimal 64-bit 65535",
            h("82 7f 00 00 00 00 00 00 ff ff"),
            CLIENT,
            RemoteProtocolError,
            1002,
        ),
        (
            "64-bit MSB set",
            h("82 7f 80 00 00 00 00 00 00 00"),
            {**CLIENT, "max_size": 1 << 64},
            RemoteProtocolError,
            1002,
        ),
        ("64-bit all ones", h("82 ff ff ff ff ff ff ff ff ff"), SERVER, RemoteProtocolError, 1002),
        ("unmasked to server", h("81 05"), SERVER, RemoteProtocolError, 1002),
        ("unmasked empty to server", h("82 00"), SERVER, RemoteProtocolError, 1002),
        ("masked to client", h("81 85"), CLIENT, RemoteProtocolError, 1002),
        ("masked ping to client", h("89 80"), CLIENT, RemoteProtocolError, 1002),
        ("7-bit over max_size", h("82 7d"), {**CLIENT, "max_size": 124}, PayloadTooBig, 1009),
        (
            "16-bit over max_size",
            h("82 7e 04 01"),
            {**CLIENT, "max_size": 1024},
            PayloadTooBig,
            1009,
        ),
        (
            "64-bit over max_size",
            h("82 ff 00 00 00 01 00 00 00 00") + KEY,
            {**SERVER, "max_size": BIG},
            PayloadTooBig,
            1009,
        ),
        (
            "64-bit over max_size, no key yet",
            h("82 ff 00 00 00 01 00 00 00 00"),
            {**SERVER, "max_size": BIG},
            PayloadTooBig,
            1009,
        ),
        ("max_size 0", h("81 01"), {**CLIENT, "max_size": 0}, PayloadTooBig, 1009),
        # PayloadTooBig is checked before the mask direction.
        (
            "over max_size and unmasked to server",
            h("82 7e 04 01"),
            {**SERVER, "max_size": 1024},
            PayloadTooBig,
            1009,
        ),
    ]
]


@pytest.mark.parametrize("case", REJECTS, ids=_ids(REJECTS))
@pytest.mark.parametrize("offset", [0, 3])
def test_parse_rejects(case: Reject, offset: int) -> None:
    options: dict[str, object] = {"max_size": BIG, **case.options}
    for buf in (b"\x00" * offset + case.wire, bytearray(b"\x00" * offset + case.wire)):
        with pytest.raises(RemoteProtocolError) as info:
            parse_frame(buf, offset, **options)  # type: ignore[arg-type]
        assert type(info.value) is case.exc
        assert info.value.close_code == case.close_code
        assert str(info.value)


def test_payload_at_max_size_is_accepted() -> None:
    wire = h("82 7e 04 00") + bytes(1024)
    assert parse_frame(wire, 0, max_size=1024, mask_required=False) == (
        Frame(Opcode.BINARY, bytes(1024)),
        len(wire),
    )


def test_huge_length_does_not_allocate() -> None:
    # A 2**62-byte length with nothing behind it: rejected on the header alone.
    wire = h("82 7f 40 00 00 00 00 00 00 00")
    with pytest.raises(PayloadTooBig) as info:
        parse_frame(wire, 0, max_size=BIG, mask_required=False)
    assert info.value.close_code == 1009
    # Within max_size, it only waits for more data.
    assert parse_frame(wire, 0, max_size=1 << 63, mask_required=False) is None


# --------------------------------------------------------------------------- serializing


def test_frame_header_limits() -> None:
    assert frame_header(2, (1 << 63) - 1) == h("82 7f 7f ff ff ff ff ff ff ff")
    assert frame_header(2, (1 << 63) - 1, mask_key=KEY) == h("82 ff 7f ff ff ff ff ff ff ff") + KEY
    with pytest.raises(ValueError, match="cannot be framed"):
        frame_header(2, 1 << 63)
    with pytest.raises(ValueError, match="cannot be framed"):
        frame_header(2, 1 << 63, mask_key=KEY)
    for bad in (b"", b"abc", b"abcde"):
        with pytest.raises(ValueError, match="4 bytes"):
            frame_header(2, 5, mask_key=bad)
        with pytest.raises(ValueError, match="4 bytes"):
            serialize_frame(2, b"hello", mask_key=bad)
        with pytest.raises(ValueError, match="4 bytes"):
            serialize_frame(2, b"", mask_key=bad)


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, "82 00"),
        (125, "82 7d"),
        (126, "82 7e 00 7e"),
        (65535, "82 7e ff ff"),
        (65536, "82 7f 00 00 00 00 00 01 00 00"),
        (1 << 32, "82 7f 00 00 00 01 00 00 00 00"),
    ],
)
def test_frame_header_lengths(length: int, header: str) -> None:
    assert frame_header(Opcode.BINARY, length) == h(header)
    masked = bytearray(h(header))
    masked[1] |= 0x80
    assert frame_header(Opcode.BINARY, length, mask_key=KEY) == bytes(masked) + KEY


def test_serialize_masked_payload_types() -> None:
    assert serialize_frame(Opcode.TEXT, b"Hello", mask_key=KEY) == (
        h("81 85") + KEY,
        h("7f 9f 4d 51 58"),
    )
    assert serialize_frame(Opcode.TEXT, b"", mask_key=KEY) == (h("81 80") + KEY, b"")


# ------------------------------------------------------------------------------ close

# (payload, code, reason)
CLOSE_OK: list[tuple[bytes, int, str]] = [
    (b"", 1005, ""),
    *[(code.to_bytes(2, "big"), code, "") for code in (1000, 1001, 1002, 1003)],
    *[(code.to_bytes(2, "big"), code, "") for code in range(1007, 1015)],
    (h("0b b8"), 3000, ""),
    (h("13 87"), 4999, ""),
    (h("03 e8") + b"bye", 1000, "bye"),
    (h("03 e9") + "café ☕".encode(), 1001, "café ☕"),
    (h("03 e8") + b"r" * 123, 1000, "r" * 123),
]


@pytest.mark.parametrize(("payload", "code", "reason"), CLOSE_OK)
def test_close_valid(payload: bytes, code: int, reason: str) -> None:
    assert parse_close(payload) == (code, reason)
    assert serialize_close(code, reason) == payload
    assert is_valid_close_code(code) is (code != 1005)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_close_invalid_code(code: int) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_close(code.to_bytes(2, "big") + b"why")
    assert type(info.value) is RemoteProtocolError
    assert info.value.close_code == 1002
    assert is_valid_close_code(code) is False
    if code != 1005:
        with pytest.raises(ValueError, match="may not be sent"):
            serialize_close(code)


def test_close_one_byte() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_close(b"\x03")
    assert type(info.value) is RemoteProtocolError
    assert info.value.close_code == 1002


@pytest.mark.parametrize("reason", [b"\xff", b"caf\xc3", b"\xed\xa0\x80", b"ok\xc0\xafok"])
def test_close_invalid_utf8(reason: bytes) -> None:
    with pytest.raises(InvalidUTF8) as info:
        parse_close(h("03 e8") + reason)
    assert type(info.value) is InvalidUTF8
    assert info.value.close_code == 1007
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_serialize_close_limits() -> None:
    assert serialize_close(1005) == b""
    assert serialize_close(1005, "ignored") == b""
    assert serialize_close(1000) == h("03 e8")
    assert len(serialize_close(1000, "x" * 123)) == 125
    with pytest.raises(ValueError, match="123 bytes"):
        serialize_close(1000, "x" * 124)
    # The limit is in bytes, not characters: 62 two-byte characters are 124 bytes.
    assert len(serialize_close(1000, "é" * 61)) == 124
    with pytest.raises(ValueError, match="123 bytes"):
        serialize_close(1000, "é" * 62)
    for code in (1004, 1006, 1015, 999, 5000):
        with pytest.raises(ValueError, match="may not be sent"):
            serialize_close(code, "x")


def test_close_codes_ok() -> None:
    assert frozenset({1000, 1001}) == CLOSE_CODES_OK


def test_close_frame_roundtrip() -> None:
    header, data = serialize_frame(Opcode.CLOSE, serialize_close(1001, "going away"), mask_key=KEY)
    parsed = parse_frame(header + data, 0, max_size=125, mask_required=True)
    assert parsed is not None
    assert parse_close(parsed[0].payload) == (1001, "going away")


# ------------------------------------------------------------------------------ masking


@pytest.mark.parametrize("length", [*range(10), 16383, 16384, 16385, 65536, 100_003])
@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_apply_mask_against_naive(length: int, wrap: type) -> None:
    data = bytes((i * 7 + 3) & 0xFF for i in range(length))
    for key in (KEY, h("00 00 00 00"), h("ff ff ff ff"), h("01 02 03 04")):
        masked = apply_mask(wrap(bytearray(data)), key)
        assert masked == naive_mask(data, key)
        assert type(masked) is bytes
        assert apply_mask(masked, key) == data


def test_apply_mask_big_against_naive() -> None:
    data = bytes(range(256)) * 4097 + b"\x01\x02\x03"  # 1 MiB and a bit, over many chunks
    assert apply_mask(data, KEY) == naive_mask(data, KEY)
    view = memoryview(bytearray(b"--" + data))[2:]
    assert apply_mask(view, KEY) == naive_mask(data, KEY)


def test_apply_mask_rfc_example() -> None:
    assert apply_mask(b"Hello", KEY) == h("7f 9f 4d 51 58")


def test_apply_mask_bad_key() -> None:
    for bad in (b"", b"abc", b"abcde"):
        with pytest.raises(ValueError, match="4 bytes"):
            apply_mask(b"data", bad)
    assert apply_mask(b"", b"abc") == b""  # nothing to mask, the key is not looked at
