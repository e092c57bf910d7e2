"""Tests for socketio_core.decoder: reassembly, limits, CONNECT first, and the failed state."""

from __future__ import annotations

import pytest

from socketio_core.decoder import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_ATTACHMENTS,
    DecoderState,
    JsonDecoder,
    Message,
)
from socketio_core.exceptions import (
    AttachmentError,
    AttachmentLimitExceeded,
    DecodeError,
    InvalidPacket,
    LocalProtocolError,
    RemoteProtocolError,
    UnexpectedPacket,
)
from socketio_core.packet import Namespace, Packet, PacketType

T = PacketType
BIN1 = '51-["up",{"_placeholder":true,"num":0}]'
BIN2 = '52-/admin,7["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'


def feed_all(decoder: JsonDecoder, messages: list[Message]) -> list[Packet | None]:
    """Feed messages in order; collect what each returns."""
    return [decoder.feed(message) for message in messages]


def test_defaults() -> None:
    decoder = JsonDecoder()
    assert decoder.max_attachments == DEFAULT_MAX_ATTACHMENTS == 10
    assert decoder.max_attachment_bytes == DEFAULT_MAX_ATTACHMENT_BYTES == 1_000_000
    assert decoder.state is DecoderState.OPEN
    assert decoder.error is None


def test_text_packets_come_out_at_once() -> None:
    decoder = JsonDecoder()
    assert feed_all(decoder, ["0", '2["a"]', "1"]) == [
        Packet(T.CONNECT),
        Packet(T.EVENT, data=["a"]),
        Packet(T.DISCONNECT),
    ]


def test_binary_reassembly() -> None:
    decoder = JsonDecoder()
    assert decoder.feed(BIN2) is None
    assert decoder.state is DecoderState.RECONSTRUCTING
    assert decoder.feed(b"\x01") is None
    assert decoder.buffered_bytes == 1
    packet = decoder.feed(bytearray(b"\x02\x03"))
    assert packet == Packet(T.BINARY_EVENT, Namespace("/admin"), ["up", b"\x01", b"\x02\x03"], 7)
    assert decoder.state is DecoderState.OPEN
    assert decoder.buffered_bytes == 0
    # and again, with a memoryview, then a text packet
    assert feed_all(decoder, [BIN1, memoryview(b"xyz"), '2["b"]']) == [
        None,
        Packet(T.BINARY_EVENT, data=["up", b"xyz"]),
        Packet(T.EVENT, data=["b"]),
    ]


def test_attachments_are_copied() -> None:
    decoder = JsonDecoder()
    buffer = bytearray(b"ab")
    decoder.feed(BIN1)
    packet = decoder.feed(buffer)
    buffer[0] = 0
    assert packet is not None
    assert packet.data == ["up", b"ab"]


def test_empty_attachment() -> None:
    decoder = JsonDecoder()
    assert feed_all(decoder, [BIN1, b""]) == [None, Packet(T.BINARY_EVENT, data=["up", b""])]


def expect_failure(
    decoder: JsonDecoder, messages: list[Message], error: type[RemoteProtocolError]
) -> None:
    """Feed messages; the last one must fail the decoder with ``error``."""
    for message in messages[:-1]:
        decoder.feed(message)
    with pytest.raises(error) as info:
        decoder.feed(messages[-1])
    # The connection is closed, state reset, nothing buffered.
    assert decoder.state is DecoderState.FAILED
    assert decoder.error is info.value
    assert decoder.buffered_bytes == 0
    assert decoder._pending is None
    assert decoder._buffers == []
    with pytest.raises(LocalProtocolError, match="failed"):
        decoder.feed('2["a"]')


def test_text_during_reassembly() -> None:
    expect_failure(JsonDecoder(), [BIN2, b"\x01", '2["a"]'], AttachmentError)


def test_binary_packet_text_during_reassembly() -> None:
    expect_failure(JsonDecoder(), [BIN1, BIN1], AttachmentError)


def test_binary_when_nothing_is_pending() -> None:
    expect_failure(JsonDecoder(), [b"\x01"], AttachmentError)


def test_binary_after_a_complete_packet() -> None:
    expect_failure(JsonDecoder(), [BIN1, b"1", b"2"], AttachmentError)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("42[{}]"[1:], InvalidPacket),  # "42[{}]" on the wire
        ("2[]", InvalidPacket),
        ("0/admin,garbage", DecodeError),
        ("", DecodeError),
        ("9", DecodeError),
    ],
)
def test_invalid_text_fails_the_decoder(text: str, error: type[RemoteProtocolError]) -> None:
    expect_failure(JsonDecoder(), [text], error)


def test_too_many_attachments_announced() -> None:
    text = "511-[" + ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(11)) + "]"
    expect_failure(JsonDecoder(), [text], AttachmentLimitExceeded)


def test_max_attachments_is_passed_on() -> None:
    decoder = JsonDecoder(max_attachments=1)
    expect_failure(decoder, [BIN2], AttachmentLimitExceeded)


def test_attachment_bytes_limit_total() -> None:
    decoder = JsonDecoder(max_attachment_bytes=4)
    expect_failure(decoder, [BIN2, b"123", b"45"], AttachmentLimitExceeded)


def test_attachment_bytes_limit_single() -> None:
    decoder = JsonDecoder(max_attachment_bytes=4)
    expect_failure(decoder, [BIN1, b"12345"], AttachmentLimitExceeded)


def test_attachment_bytes_limit_is_inclusive() -> None:
    decoder = JsonDecoder(max_attachment_bytes=4)
    assert feed_all(decoder, [BIN2, b"12", b"34"])[-1] is not None


def test_invalid_limits() -> None:
    with pytest.raises(LocalProtocolError):
        JsonDecoder(max_attachments=-1)
    with pytest.raises(LocalProtocolError):
        JsonDecoder(max_attachment_bytes=-1)


def test_wrong_message_type_is_a_local_error() -> None:
    decoder = JsonDecoder()
    with pytest.raises(LocalProtocolError):
        decoder.feed(1)  # type: ignore[arg-type]


# --- CONNECT first (the server side) --------------------------------------------------------


def test_connect_first() -> None:
    decoder = JsonDecoder(require_connect_first=True)
    assert decoder.state is DecoderState.AWAITING_CONNECT
    assert decoder.feed('0/admin,{"token":"1"}') == Packet(
        T.CONNECT, Namespace("/admin"), {"token": "1"}
    )
    assert decoder.state is DecoderState.OPEN
    assert decoder.feed('2/admin,["a"]') == Packet(T.EVENT, Namespace("/admin"), ["a"])


@pytest.mark.parametrize("text", ['2["a"]', "1", "3[]", '4{"message":"x"}', "61-1[]", BIN1])
def test_any_packet_before_connect(text: str) -> None:
    expect_failure(JsonDecoder(require_connect_first=True), [text], UnexpectedPacket)


def test_binary_before_connect() -> None:
    expect_failure(JsonDecoder(require_connect_first=True), [b"\x01"], AttachmentError)


def test_invalid_connect_first() -> None:
    expect_failure(JsonDecoder(require_connect_first=True), ["0[]"], InvalidPacket)


def test_unknown_type_before_connect() -> None:
    expect_failure(JsonDecoder(require_connect_first=True), ["x"], DecodeError)


def test_transition_table_is_enforced() -> None:
    decoder = JsonDecoder()
    decoder._set_state(DecoderState.OPEN)  # staying put is always allowed
    with pytest.raises(LocalProtocolError):
        decoder._set_state(DecoderState.AWAITING_CONNECT)
