"""Tests for websocket.assembler: reassembly, and UTF-8 validated as the bytes stream in.

Frames are literal bytes (tests/conftest.py ``build_frame``) fed to a server
:class:`websocket.protocol.Protocol` in every possible split, so that the byte at which the
connection fails is checked, not only the fact that it fails.
"""

from __future__ import annotations

import pytest

from tests.conftest import build_frame
from websocket.assembler import MessageAssembler
from websocket.events import Message
from websocket.exceptions import InvalidUTF8
from websocket.protocol import Protocol, Role

TEXT, CONT, BINARY = 0x1, 0x0, 0x2


def server(**kwargs: int) -> Protocol:
    return Protocol(Role.SERVER, now=0.0, ping_interval=None, **kwargs)  # type: ignore[arg-type]


def first_failing_byte(stream: bytes) -> int | None:
    """Feed one byte at a time; the index of the byte after which the connection failed."""
    conn = server()
    for i in range(len(stream)):
        conn.receive_data(stream[i : i + 1], 0.0)
        conn.events_received()
        conn.fail_pending(0.0)
        if conn.failure is not None:
            assert conn.failure.close_code == 1007
            return i
    return None


@pytest.mark.parametrize(
    ("payload", "bad_at"),
    [
        (b"hello \xff world, and much more text after it", 6),
        (b"ok \xc3\x28 then more", 4),  # a lead byte followed by a non-continuation byte
        (b"surrogate \xed\xa0\x80 ...", 11),  # ED A0: fails on the second byte
        (b"\xf5 out of range", 0),
    ],
)
def test_invalid_utf8_fails_on_the_bad_byte_of_an_incomplete_frame(
    payload: bytes, bad_at: int
) -> None:
    frame = build_frame(TEXT, payload)
    header = len(frame) - len(payload)
    assert first_failing_byte(frame) == header + bad_at


def test_invalid_utf8_in_a_continuation_fails_on_its_byte() -> None:
    # The first frame ends in the middle of a 3-byte character; the continuation completes
    # it wrongly: the validator continues the message's decoder state.
    first = build_frame(TEXT, b"abc\xe2\x82", fin=False)
    second = build_frame(CONT, b"X and more bytes that never matter")
    assert first_failing_byte(first + second) == len(first) + 6  # its header, then "X"


def test_valid_text_split_anywhere_never_fails() -> None:
    text = "héllo wörld, ☃ and 🎉 ".encode() * 3
    stream = build_frame(TEXT, text[:20], fin=False) + build_frame(CONT, text[20:])
    assert first_failing_byte(stream) is None
    conn = server()
    events = []
    for i in range(len(stream)):
        conn.receive_data(stream[i : i + 1], 0.0)
        events += conn.events_received()
    assert events == [Message(text.decode())]


def test_binary_frames_are_not_validated_as_text() -> None:
    assert first_failing_byte(build_frame(BINARY, b"\xff\xfe\xfd")) is None


def test_strict_order_holds_the_failure_behind_the_messages() -> None:
    conn = server()
    data = build_frame(TEXT, b"one") + build_frame(TEXT, b"two") + build_frame(0x3, b"")
    conn.receive_data(data, 0.0)
    assert conn.failure is None and conn.failure_pending
    assert conn.events_received() == [Message("one"), Message("two")]
    conn.send_message("one")  # the application echoes before the close frame
    conn.receive_data(build_frame(TEXT, b"ignored"), 0.0)  # input after the bad frame
    assert conn.events_received() == []
    conn.fail_pending(1.0)
    assert conn.failure is not None and conn.failure.close_code == 1002
    assert b"".join(conn.data_to_send()) == b"\x81\x03one" + b"\x88\x15\x03\xeareserved opcode 0x3"


def test_strict_order_failure_applies_on_timer_and_on_eof() -> None:
    conn = server()
    conn.receive_data(build_frame(TEXT, b"a") + build_frame(TEXT, b"\xff"), 0.0)
    conn.on_timer(1.0)
    assert conn.failure is not None and conn.failure.close_code == 1007
    conn = server()
    conn.receive_data(build_frame(TEXT, b"a") + build_frame(TEXT, b"\xff"), 0.0)
    conn.receive_eof()
    assert conn.close_code == 1007


def test_a_failure_with_no_message_before_it_is_immediate() -> None:
    conn = server()
    conn.receive_data(build_frame(TEXT, b"\xff"), 0.0)
    assert conn.failure is not None and not conn.failure_pending


def test_assembler_limits_and_reset() -> None:
    rx = MessageAssembler(max_size=10, max_fragments=2, max_buffered=10, compressor=None)
    assert rx.budget() == 10
    conn = server(max_size=10, max_fragments=2)
    conn.receive_data(build_frame(TEXT, b"12345", fin=False), 0.0)
    conn.receive_data(build_frame(CONT, b"67", fin=False), 0.0)
    conn.receive_data(build_frame(CONT, b"8"), 0.0)
    assert conn.failure is not None and conn.failure.close_code == 1009  # a third frame
    with pytest.raises(InvalidUTF8):
        rx.check_partial(build_frame(TEXT, b"\xff", length=5), 0)
    rx.reset()
    assert rx.opcode is None and not rx.validating
