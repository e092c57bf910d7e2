"""The close frame of a failed connection reaches the peer (issue 9, item 6), over loopback.

A client that sends far more than ``max_size`` in one oversized frame is failed with 1009 as
soon as the frame header arrives; the server then half-closes and drains the rest (bounded by
``max_drain`` bytes and ``close_timeout``) instead of closing with unread input, which would
make the kernel send a TCP reset that destroys the close frame in the client's buffer.
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any

import pytest

from engineio_core.aio.server import AsyncServer
from websocket.aio import ConnectionOptions

TIMEOUT = 10.0
MIB = 2**20
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def oversized_frame(size: int) -> bytes:
    """A masked binary frame of ``size`` bytes (mask 0: the payload is sent as is)."""
    return b"\x82\xff" + struct.pack("!Q", size) + b"\x00\x00\x00\x00" + os.urandom(size)


async def send_oversized_and_read_close(port: int, path: str, size: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {KEY.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101 "), head
        # Skip the server's first messages (Engine.IO's open packet), keep its last frame.
        writer.write(oversized_frame(size))  # megabytes: the transport keeps writing them
        frames = []
        while True:
            b0, b1 = await asyncio.wait_for(reader.readexactly(2), TIMEOUT)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await reader.readexactly(2))[0]
            payload = await asyncio.wait_for(reader.readexactly(n), TIMEOUT)
            frames.append((b0, payload))
            if b0 == 0x88:
                break
        # After the close frame: a clean end of stream (FIN), never a reset.
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
        return frames[-1][1]
    finally:
        writer.transport.abort()


@pytest.mark.asyncio
async def test_1009_close_frame_survives_a_large_oversized_frame(echo_server: Any) -> None:
    async with echo_server() as server:
        payload = await send_oversized_and_read_close(server.port, "/", 3 * MIB)
        assert payload[:2] == struct.pack("!H", 1009), payload


@pytest.mark.asyncio
async def test_drain_is_bounded_by_max_drain(echo_server: Any) -> None:
    # The client sends 3 MiB and never closes: with a close_timeout of 60 s only max_drain
    # (64 KiB) can end the drain within the test's timeout.
    options = ConnectionOptions(max_drain=64 * 1024, close_timeout=60.0)
    async with echo_server(options=options) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {KEY.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        writer.write(oversized_frame(3 * MIB))
        code, _ = await asyncio.wait_for(server.record.closes.get(), 5.0)
        assert code == 1009
        writer.transport.abort()


@pytest.mark.asyncio
async def test_1009_close_frame_survives_on_the_engineio_front_door() -> None:
    eio = AsyncServer(max_http_buffer_size=100_000)
    async with eio.listen("127.0.0.1", 0) as front:
        path = "/engine.io/?EIO=4&transport=websocket"
        payload = await send_oversized_and_read_close(front.port, path, 2 * MIB)
        assert payload[:2] == struct.pack("!H", 1009), payload


def test_max_drain_must_be_positive() -> None:
    assert ConnectionOptions().max_drain == 4 * MIB
    with pytest.raises(ValueError, match="max_drain"):
        ConnectionOptions(max_drain=0)
