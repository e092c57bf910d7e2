"""Tests for engineio_core.payload: the spec's examples, byte budgets, malformed bodies."""

from __future__ import annotations

import pytest

from engineio_core.exceptions import DecodeError, LocalProtocolError, PayloadTooLarge
from engineio_core.packet import Packet, PacketType
from engineio_core.payload import (
    SEPARATOR,
    decode_payload,
    encode_payload,
    encode_payload_within,
)

M = PacketType.MESSAGE

# (packets, payload text) — the first two are the spec's examples.
CASES: list[tuple[list[Packet], str]] = [
    (
        [Packet(M, "hello"), Packet(PacketType.PING), Packet(M, "world")],
        "4hello\x1e2\x1e4world",
    ),
    ([Packet(M, "hello"), Packet(M, b"\x01\x02\x03\x04")], "4hello\x1ebAQIDBA=="),
    ([Packet(M, "hello")], "4hello"),
    ([Packet(PacketType.NOOP)], "6"),
    ([Packet(PacketType.CLOSE)], "1"),
    ([Packet(M, "€")], "4€"),
    ([Packet(M, ""), Packet(M, "")], "4\x1e4"),
    ([Packet(M, b"\xff" * 3), Packet(PacketType.PONG)], "b////\x1e3"),
]


@pytest.mark.parametrize(("packets", "text"), CASES)
def test_encode_and_decode(packets: list[Packet], text: str) -> None:
    assert encode_payload(packets) == text
    assert decode_payload(text.encode(), max_payload=10_000) == packets
    assert decode_payload(text, max_payload=10_000) == packets


@pytest.mark.parametrize(("packets", "text"), CASES)
def test_against_python_engineio(packets: list[Packet], text: str) -> None:
    oracle_packet = pytest.importorskip("engineio.packet")
    oracle_payload = pytest.importorskip("engineio.payload")
    theirs = oracle_payload.Payload(
        packets=[oracle_packet.Packet(int(p.type), p.data) for p in packets]
    )
    assert theirs.encode() == text
    decoded = oracle_payload.Payload(encoded_payload=text).packets
    assert [p.packet_type for p in decoded] == [int(p.type) for p in packets]
    for mine, their in zip(packets, decoded, strict=True):
        if isinstance(their.data, str | bytes):  # python-engineio JSON-decodes some text
            assert their.data == mine.data


def test_hundred_small_packets_in_one_post() -> None:
    # python-engineio refuses more than 16 packets per payload; we count bytes, not packets.
    packets = [Packet(M, str(i)) for i in range(100)]
    body = encode_payload(packets).encode()
    assert body.count(b"\x1e") == 99
    assert decode_payload(body, max_payload=len(body)) == packets


def test_python_engineio_caps_packets_we_do_not() -> None:
    oracle_payload = pytest.importorskip("engineio.payload")
    body = "\x1e".join(f"4{i}" for i in range(100))
    with pytest.raises(ValueError, match="Too many packets"):
        oracle_payload.Payload(encoded_payload=body)
    assert len(decode_payload(body, max_payload=len(body))) == 100


def test_max_payload_is_counted_in_utf8_bytes() -> None:
    body = "4€€".encode()  # 3 characters, 7 bytes
    assert decode_payload(body, max_payload=7) == [Packet(M, "€€")]
    with pytest.raises(PayloadTooLarge) as info:
        decode_payload(body, max_payload=6)
    assert info.value.status == 413
    assert decode_payload("4€€", max_payload=7) == [Packet(M, "€€")]
    with pytest.raises(PayloadTooLarge):
        decode_payload("4€€", max_payload=6)
    with pytest.raises(PayloadTooLarge):
        decode_payload("4" + "x" * 100, max_payload=100)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x1e",
        b"4a\x1e",
        b"\x1e4a",
        b"4a\x1e\x1e4b",
        b"8",
        b"4a\x1ez",
        b"bnot*base64",
        b"4\xff\xfe",
    ],
)
def test_malformed_payloads_are_rejected(body: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_payload(body, max_payload=1000)
    assert info.value.status == 400


def test_encode_within_budget_takes_whole_packets_in_order() -> None:
    packets = [Packet(M, "aaaa"), Packet(M, "bbbb"), Packet(M, "cccc")]  # 5 bytes each
    assert encode_payload_within(packets, 5) == (b"4aaaa", 1)
    assert encode_payload_within(packets, 10) == (b"4aaaa", 1)  # 11 with the separator
    assert encode_payload_within(packets, 11) == (b"4aaaa\x1e4bbbb", 2)
    assert encode_payload_within(packets, 17) == (b"4aaaa\x1e4bbbb\x1e4cccc", 3)
    # A packet over the budget alone still goes, alone, so that the session never stalls.
    assert encode_payload_within([Packet(M, "x" * 50), Packet(M, "y")], 10) == (
        b"4" + b"x" * 50,
        1,
    )
    # Bytes, not characters: "4€" is 4 bytes.
    assert encode_payload_within([Packet(M, "€"), Packet(M, "€")], 8) == (b"4\xe2\x82\xac", 1)
    assert encode_payload_within([Packet(M, "€"), Packet(M, "€")], 9)[1] == 2


def test_encode_refuses_empty_and_separator() -> None:
    with pytest.raises(LocalProtocolError):
        encode_payload([])
    with pytest.raises(LocalProtocolError):
        encode_payload_within([], 100)
    with pytest.raises(LocalProtocolError):
        encode_payload([Packet(M, "a" + SEPARATOR + "b")])
    # Binary data may hold 0x1e: it is base64-encoded.
    assert encode_payload([Packet(M, b"\x1e")]) == "bHg=="
