"""Strict order at the WebSocket layer (issue 9, item 8), over loopback with exact bytes.

Valid messages followed, in the same TCP write, by a frame that fails the connection reach
the application first: an echo server echoes them, then the close frame comes with the close
code for the failure, then a clean end of stream. Invalid UTF-8 fails the connection as soon
as the bad byte arrives, even though the rest of its frame never comes.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from tests.conftest import build_frame

TEXT, CONT, BINARY = 0x1, 0x0, 0x2
GOOD = [b"first", b"second", b"third"]
ECHOES = b"".join(b"\x81" + bytes([len(m)]) + m for m in GOOD)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (build_frame(TEXT, b"x", rsv=0x20), 1002),  # reserved bit RSV2
        (build_frame(0x3, b""), 1002),  # reserved opcode
        (build_frame(CONT, b"x"), 1002),  # continuation of nothing
        (build_frame(TEXT, b"ok \xff"), 1007),  # invalid UTF-8 in a later message
    ],
)
async def test_messages_before_a_failing_frame_are_echoed_first(
    bad: bytes, code: int, echo_server: Any, raw_ws: Any
) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port)
        await client.send(b"".join(build_frame(TEXT, m) for m in GOOD) + bad)
        data = await client.read_to_end()
        assert client.ended == "eof"
        assert data[: len(ECHOES)] == ECHOES, data
        close = data[len(ECHOES) :]
        assert close[:1] == b"\x88" and close[1] == len(close) - 2, close
        assert close[2:4] == struct.pack("!H", code), close


@pytest.mark.asyncio
async def test_invalid_utf8_fails_before_the_frame_is_complete(
    echo_server: Any, raw_ws: Any
) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port)
        # A text frame announcing 1000 bytes; only its first 8 arrive, the 5th is invalid.
        frame = build_frame(TEXT, b"abcd\xffefg" + b"h" * 992)
        await client.send(frame[: 8 + 8])  # 8 bytes of header and mask, 8 of payload
        reason = await client.expect_close(1007)
        assert "UTF-8" in reason


@pytest.mark.asyncio
async def test_invalid_utf8_in_an_incomplete_continuation(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port)
        first = build_frame(TEXT, "déjà ".encode(), fin=False)
        cont = build_frame(CONT, b"vu \xc0\x80" + b"." * 500)  # C0 80: an overlong NUL
        await client.send(first + cont[:14])
        await client.expect_close(1007)
