"""Tests for engineio_core.packet: literal frames both ways, malformed input, python-engineio."""

from __future__ import annotations

import pytest

from engineio_core.exceptions import DecodeError
from engineio_core.packet import (
    Packet,
    PacketType,
    decode_packet,
    decode_packet_text,
    encode_packet,
    encode_packet_text,
)

# (packet, WebSocket frame, polling record)
CASES: list[tuple[Packet, str | bytes, str]] = [
    (Packet(PacketType.MESSAGE, "hello"), "4hello", "4hello"),
    (Packet(PacketType.MESSAGE, ""), "4", "4"),
    (Packet(PacketType.MESSAGE, "€ ünïcode"), "4€ ünïcode", "4€ ünïcode"),
    (Packet(PacketType.MESSAGE, '{"a":1}'), '4{"a":1}', '4{"a":1}'),
    (Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04"), b"\x01\x02\x03\x04", "bAQIDBA=="),
    (Packet(PacketType.MESSAGE, b""), b"", "b"),
    (Packet(PacketType.OPEN, '{"sid":"x"}'), '0{"sid":"x"}', '0{"sid":"x"}'),
    (Packet(PacketType.CLOSE), "1", "1"),
    (Packet(PacketType.PING), "2", "2"),
    (Packet(PacketType.PING, "probe"), "2probe", "2probe"),
    (Packet(PacketType.PONG, "probe"), "3probe", "3probe"),
    (Packet(PacketType.PONG), "3", "3"),
    (Packet(PacketType.UPGRADE), "5", "5"),
    (Packet(PacketType.NOOP), "6", "6"),
]


@pytest.mark.parametrize(("packet", "frame", "record"), CASES)
def test_websocket_encoding_both_ways(packet: Packet, frame: str | bytes, record: str) -> None:
    assert encode_packet(packet) == frame
    assert decode_packet(frame) == packet


@pytest.mark.parametrize(("packet", "frame", "record"), CASES)
def test_polling_encoding_both_ways(packet: Packet, frame: str | bytes, record: str) -> None:
    assert encode_packet_text(packet) == record
    assert decode_packet_text(record) == packet


@pytest.mark.parametrize(("packet", "frame", "record"), CASES)
def test_against_python_engineio(packet: Packet, frame: str | bytes, record: str) -> None:
    oracle = pytest.importorskip("engineio.packet")
    # Encoding: python-engineio builds the same frame and record from the same packet.
    assert oracle.Packet(int(packet.type), packet.data).encode() == frame
    assert oracle.Packet(int(packet.type), packet.data).encode(b64=True) == record
    # Decoding: it finds the same type and data (it JSON-decodes non-numeric text; skip that).
    decoded = oracle.Packet(encoded_packet=record)
    assert decoded.packet_type == int(packet.type)
    if isinstance(decoded.data, str | bytes):
        assert decoded.data == packet.data


def test_binary_frame_variants_are_bytes() -> None:
    assert decode_packet(bytearray(b"\x00\xff")) == Packet(PacketType.MESSAGE, b"\x00\xff")
    assert decode_packet(memoryview(b"ab")).data == b"ab"


def test_b_prefix_in_a_text_frame_is_base64_like_the_references() -> None:
    assert decode_packet("bAQIDBA==") == Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")


@pytest.mark.parametrize(
    "text",
    ["", "7", "9hello", "x", " 4", "-1", "bAQID*", "bA", "b====", "b!!"],
)
def test_malformed_text_is_a_decode_error(text: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_packet_text(text)
    assert info.value.status == 400
    assert info.value.code == 3
    with pytest.raises(DecodeError):
        decode_packet(text)


def test_packet_validation() -> None:
    assert Packet(PacketType.MESSAGE, b"x").binary
    assert not Packet(PacketType.MESSAGE, "x").binary
    with pytest.raises(ValueError, match="only message"):
        Packet(PacketType.PING, b"x")
    with pytest.raises(TypeError, match="PacketType"):
        Packet(4, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str or bytes"):
        Packet(PacketType.MESSAGE, 42)  # type: ignore[arg-type]
    packet = Packet(PacketType.MESSAGE, "x")
    with pytest.raises(AttributeError):
        packet.data = "y"  # type: ignore[misc]


def test_packet_types_match_the_spec_table() -> None:
    assert [(t.name.lower(), int(t)) for t in PacketType] == [
        ("open", 0),
        ("close", 1),
        ("ping", 2),
        ("pong", 3),
        ("message", 4),
        ("upgrade", 5),
        ("noop", 6),
    ]
    oracle = pytest.importorskip("engineio.packet")
    assert [t.name for t in PacketType] == oracle.packet_names
