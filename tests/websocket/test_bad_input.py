"""Hostile input: the server never crashes, never blocks other clients, and stays bounded.

Each attack runs against an echo server on 127.0.0.1 (``echo_server`` in ``tests/conftest.py``)
from a :class:`SockClient` on a bare socket, which reads every byte the server sent even when the
connection ends in a TCP reset (a hostile client is usually still writing when it is cut off).
After each attack a fresh, well-behaved client must still get its echo.

Memory is measured with :mod:`tracemalloc` around the attack only (payloads are built first):
the client and the server share this process, so the peak covers both, and the bounds below are
far under what the attack announces or would inflate to.

Every limit of :func:`websocket.aio.serve` has a case here asserting the reply RFC 6455 or HTTP
names for it: ``max_size``, ``max_fragments`` and ``max_buffered`` close with 1009;
``max_header_count`` and ``max_header_bytes`` answer 431; ``handshake_timeout`` drops the TCP
connection without a response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from websocket.aio import ConnectionOptions
from websocket.deflate import DeflateOptions

TIMEOUT = 10.0
CONT, TEXT, BINARY, CLOSE, PING = 0x0, 0x1, 0x2, 0x8, 0x9
RSV1 = 0x40
MIB = 1024 * 1024


@contextlib.contextmanager
def traced_peak() -> Iterator[list[int]]:
    """Trace allocations in the block; the list gets the peak traced size in bytes."""
    result: list[int] = []
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        yield result
        result.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


async def assert_serves(raw_ws: Any, port: int) -> None:
    """A new, well-behaved client still gets its echo and a clean close."""
    client = await raw_ws.open(port)
    client.send_frame(TEXT, b"still alive?")
    await client.expect(b"\x81\x0cstill alive?")
    client.send_frame(CLOSE, b"\x03\xe8")
    await client.expect(b"\x88\x02\x03\xe8")
    await client.expect_eof()


def bomb(size: int, chunk: int = MIB) -> bytes:
    """``size`` zero bytes as one permessage-deflate message (raw deflate, tail removed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(chunk)
    parts = [compressor.compress(zeros) for _ in range(size // chunk)]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(parts)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


# ------------------------------------------------------------------ handshake


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(50) + b"\r\n\r\n",  # TLS hello
        b"garbage garbage garbage\r\n\r\n",
        b"\x00" * 100 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
    ],
    ids=["tls", "text", "nul", "bad-header", "no-host"],
)
async def test_garbage_instead_of_a_handshake_is_400(
    echo_server: Any, raw_ws: Any, garbage: bytes
) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(garbage)
        response = await client.read_to_end()
        assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n"), response[:80]
        assert b"\r\nConnection: close\r\n" in response
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_plain_http_get_is_refused(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        response = await client.read_to_end()
        assert response.startswith(b"HTTP/1.1 4"), response[:80]
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_eof_in_the_middle_of_a_handshake(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(raw_ws.request()[:40])
        client.sock.shutdown(1)  # SHUT_WR: EOF for the server
        response = await client.read_to_end()
        assert response == b"" or response.startswith(b"HTTP/1.1 400 "), response[:80]
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_max_header_count_is_431(echo_server: Any, raw_ws: Any) -> None:
    # The upgrade request has 5 header lines (Host, Upgrade, Connection, key, version).
    async with echo_server(max_header_count=10) as server:
        fine = b"".join(b"X-Extra-%d: 1\r\n" % i for i in range(5))
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(raw_ws.request(extra=fine))
        assert (await client.recv_some()).startswith(b"HTTP/1.1 101 ")
        client.close()

        too_many = b"".join(b"X-Extra-%d: 1\r\n" % i for i in range(6))
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(raw_ws.request(extra=too_many))
        response = await client.read_to_end()
        assert response.startswith(b"HTTP/1.1 431 "), response[:80]
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_max_header_count_default_with_a_header_flood(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server() as server:
        flood = b"".join(b"X-%d: 1\r\n" % i for i in range(10_000))
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(raw_ws.request(extra=flood))
        response = await client.read_to_end()
        assert response.startswith(b"HTTP/1.1 431 "), response[:80]
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_max_header_bytes_is_431(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server(max_header_bytes=1024) as server:
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(raw_ws.request(extra=b"X-Pad: " + b"a" * 600 + b"\r\n"))
        assert (await client.recv_some()).startswith(b"HTTP/1.1 101 ")
        client.close()

        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(raw_ws.request(extra=b"X-Pad: " + b"a" * 1100 + b"\r\n"))
        response = await client.read_to_end()
        assert response.startswith(b"HTTP/1.1 431 "), response[:80]
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_endless_header_line_is_431(echo_server: Any, raw_ws: Any) -> None:
    # A head that never ends: the server must answer once the limit is passed, not wait.
    async with echo_server(max_header_bytes=4096) as server:
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(b"GET / HTTP/1.1\r\nX-Endless: ")
        for _ in range(64):  # at most 64 KiB, far past the limit
            if not await client.send(b"a" * 1024):
                break  # the server answered and closed
        response = await client.read_to_end()
        assert response.startswith(b"HTTP/1.1 431 "), response[:80]
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_handshake_timeout_drops_a_silent_client(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server(handshake_timeout=0.2) as server:
        silent = await raw_ws.open_sock(server.port, handshake=False)
        partial = await raw_ws.open_sock(server.port, handshake=False)
        await partial.send(raw_ws.request()[:-2])  # all but the blank line
        # No HTTP response: the server just closes the TCP connection.
        assert await silent.read_to_end() == b""
        assert await partial.read_to_end() == b""
        await assert_serves(raw_ws, server.port)


# ------------------------------------------------------------------ frames


@pytest.mark.asyncio
async def test_flood_of_tiny_fragments_is_cut_at_max_fragments(
    echo_server: Any, raw_ws: Any
) -> None:
    # 100,000 one-byte fragments: cut at max_fragments (4096 by default) with 1009. After the
    # close frame the server drains the peer's input, at most max_drain bytes (64 KiB here),
    # then closes: it never reads the whole flood.
    async with echo_server(options=ConnectionOptions(max_drain=64 * 1024)) as server:
        client = await raw_ws.open_sock(server.port)
        chunk = b"".join(raw_ws.frame(CONT, b"x", fin=False) for _ in range(1000))
        start = raw_ws.frame(TEXT, b"x", fin=False)
        with traced_peak() as peak:
            await client.send(start)
            sent = 1
            while sent < 100_000 and await client.send(chunk):
                sent += 1000
            reason = await client.expect_close(1009)
        assert "4096" in reason
        assert sent < 100_000, "the server read the whole flood"
        assert peak[0] < 2 * MIB, f"peak traced memory {peak[0]} bytes"
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_max_fragments_boundary(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server(options=ConnectionOptions(max_fragments=100)) as server:
        client = await raw_ws.open_sock(server.port)
        frames = [raw_ws.frame(BINARY, b"\x01", fin=False)]
        frames += [raw_ws.frame(CONT, b"\x01", fin=False) for _ in range(98)]
        await client.send(b"".join(frames) + raw_ws.frame(CONT, b"\x01"))
        echo = b"\x82\x64" + b"\x01" * 100
        while len(client.received) < len(echo):
            assert await client.recv_some()
        assert client.received == echo
        client.received.clear()
        await client.send(b"".join(frames) + raw_ws.frame(CONT, b"\x01", fin=False) * 2)
        await client.expect_close(1009)
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_compression_bomb_is_1009_with_bounded_memory(echo_server: Any, raw_ws: Any) -> None:
    # 50 MB of zeros deflate to about 50 KB: one frame well under max_size on the wire.
    payload = bomb(50 * MIB)
    assert len(payload) < 100_000
    frame = raw_ws.frame(BINARY, payload, rsv=RSV1)
    async with echo_server(compression=DeflateOptions()) as server:
        client = await raw_ws.open_sock(server.port, extensions="permessage-deflate")
        with traced_peak() as peak:
            await client.send(frame)
            await client.expect_close(1009)
        # The server inflates at most max_size + 1 bytes (1 MiB) before giving up.
        assert peak[0] < 4 * MIB, f"peak traced memory {peak[0]} bytes"
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_fragmented_compression_bomb_is_1009(echo_server: Any, raw_ws: Any) -> None:
    # The same bomb cut into 64 frames: each inflates to far more than the budget left.
    payload = bomb(50 * MIB)
    step = len(payload) // 64 + 1
    pieces = [payload[i : i + step] for i in range(0, len(payload), step)]
    frames = [raw_ws.frame(BINARY, pieces[0], fin=False, rsv=RSV1)]
    frames += [raw_ws.frame(CONT, p, fin=i == len(pieces) - 1) for i, p in enumerate(pieces)][1:]
    async with echo_server(compression=DeflateOptions()) as server:
        client = await raw_ws.open_sock(server.port, extensions="permessage-deflate")
        with traced_peak() as peak:
            for frame in frames:
                if not await client.send(frame):
                    break
            await client.expect_close(1009)
        assert peak[0] < 4 * MIB, f"peak traced memory {peak[0]} bytes"
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_small_max_size_bounds_inflation(echo_server: Any, raw_ws: Any) -> None:
    options = ConnectionOptions(max_size=64 * 1024)
    async with echo_server(compression=DeflateOptions(), options=options) as server:
        client = await raw_ws.open_sock(server.port, extensions="permessage-deflate")
        frame = raw_ws.frame(TEXT, bomb(10 * MIB), rsv=RSV1)
        with traced_peak() as peak:
            await client.send(frame)
            await client.expect_close(1009)
        assert peak[0] < MIB, f"peak traced memory {peak[0]} bytes"


@pytest.mark.asyncio
@pytest.mark.parametrize("length", [2**62, 2**32, 2**63 - 1, MIB + 1])
async def test_huge_announced_length_is_1009_at_once(
    echo_server: Any, raw_ws: Any, length: int
) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port)
        with traced_peak() as peak:
            # The header and the masking key only: the server must not wait for the payload.
            await client.send(b"\x82\xff" + struct.pack("!Q", length) + b"\x01\x02\x03\x04")
            await client.expect_close(1009)
        assert peak[0] < MIB, f"peak traced memory {peak[0]} bytes"
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_huge_continuation_is_1009_at_once(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port)
        await client.send(raw_ws.frame(TEXT, b"a" * 1000, fin=False))
        await client.send(b"\x80\xff" + struct.pack("!Q", 2**62) + b"\x01\x02\x03\x04")
        await client.expect_close(1009)
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_length_with_the_high_bit_is_1002(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port)
        await client.send(b"\x82\xff" + struct.pack("!Q", 2**64 - 1) + b"\x01\x02\x03\x04")
        await client.expect_close(1002)
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_max_size_is_1009(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server(options=ConnectionOptions(max_size=4096)) as server:
        client = await raw_ws.open_sock(server.port)
        # Fragments of 1000 bytes each: the fifth goes over the message's budget.
        for i in range(5):
            await client.send(raw_ws.frame(TEXT if i == 0 else CONT, b"a" * 1000, fin=False))
        await client.expect_close(1009)
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_max_buffered_is_1009(echo_server: Any, raw_ws: Any) -> None:
    # max_size allows 1 MiB, but only 1000 wire bytes may wait for the end of a message.
    options = ConnectionOptions(max_size=MIB, max_buffered=1000)
    async with echo_server(options=options) as server:
        client = await raw_ws.open_sock(server.port)
        await client.send(raw_ws.frame(BINARY, b"\x00" * 600, fin=False))
        await client.send(raw_ws.frame(CONT, b"\x00" * 400, fin=False))
        await client.send(raw_ws.frame(CONT, b"", fin=True))
        echo = b"\x82\x7e\x03\xe8" + bytes(1000)
        while len(client.received) < len(echo):
            assert await client.recv_some()
        assert client.received == echo
        client.received.clear()
        await client.send(raw_ws.frame(BINARY, b"\x00" * 600, fin=False))
        await client.send(raw_ws.frame(CONT, b"\x00" * 401, fin=False))
        await client.expect_close(1009)
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_max_buffered_counts_compressed_bytes(echo_server: Any, raw_ws: Any) -> None:
    # Random-ish bytes do not compress: 3000 wire bytes in fragments pass max_buffered=2000.
    options = ConnectionOptions(max_size=MIB, max_buffered=2000)
    data = bytes((i * 7919) % 251 for i in range(3000))
    compressor = zlib.compressobj(0, zlib.DEFLATED, -15)  # stored blocks: no smaller at all
    payload = (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    async with echo_server(compression=DeflateOptions(), options=options) as server:
        client = await raw_ws.open_sock(server.port, extensions="permessage-deflate")
        await client.send(raw_ws.frame(BINARY, payload[:1500], fin=False, rsv=RSV1))
        await client.send(raw_ws.frame(CONT, payload[1500:], fin=True))
        await client.expect_close(1009)
        await assert_serves(raw_ws, server.port)


@pytest.mark.asyncio
async def test_ping_flood_is_answered_and_bounded(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port)
        pings = raw_ws.frame(PING, b"p" * 125) * 2000
        with traced_peak() as peak:
            await client.send(pings + raw_ws.frame(CLOSE, b"\x03\xe8"))
            data = await client.read_to_end()
        pong = b"\x8a\x7d" + b"p" * 125
        assert data == pong * 2000 + b"\x88\x02\x03\xe8"
        assert peak[0] < 4 * MIB, f"peak traced memory {peak[0]} bytes"
        await assert_serves(raw_ws, server.port)


# ------------------------------------------------------------------ many at once


async def attack_garbage(raw_ws: Any, port: int) -> str:
    client = await raw_ws.open_sock(port, handshake=False)
    await client.send(b"\x00\xff garbage\r\n\r\n")
    response = await client.read_to_end()
    assert response.startswith(b"HTTP/1.1 400 "), response[:80]
    return "400"


async def attack_silent(raw_ws: Any, port: int) -> str:
    client = await raw_ws.open_sock(port, handshake=False)
    await client.send(raw_ws.request()[:30])
    assert await client.read_to_end() == b""
    return "dropped"


async def attack_fragments(raw_ws: Any, port: int) -> str:
    client = await raw_ws.open_sock(port)
    chunk = raw_ws.frame(CONT, b"x", fin=False) * 1000
    await client.send(raw_ws.frame(TEXT, b"x", fin=False))
    for _ in range(100):
        if not await client.send(chunk):
            break
    await client.expect_close(1009)
    return "1009"


async def attack_bomb(raw_ws: Any, port: int, frame: bytes) -> str:
    client = await raw_ws.open_sock(port, extensions="permessage-deflate")
    await client.send(frame)
    await client.expect_close(1009)
    return "1009"


async def attack_huge_length(raw_ws: Any, port: int) -> str:
    client = await raw_ws.open_sock(port)
    await client.send(b"\x81\xff" + struct.pack("!Q", 2**62) + b"\x01\x02\x03\x04")
    await client.expect_close(1009)
    return "1009"


async def attack_utf8(raw_ws: Any, port: int) -> str:
    client = await raw_ws.open_sock(port)
    await client.send(raw_ws.frame(TEXT, b"fine so far \xc0\xaf", fin=False))
    await client.expect_close(1007)
    return "1007"


async def attack_stall(raw_ws: Any, port: int, stalled: list[Any]) -> str:
    # Half a frame, then nothing: the server waits on this connection only.
    client = await raw_ws.open_sock(port)
    await client.send(raw_ws.frame(BINARY, bytes(1000))[:500])
    stalled.append(client)
    return "stalled"


async def attack_no_read(raw_ws: Any, port: int, stalled: list[Any]) -> str:
    # Large messages to echo, and never a read: the echoes back up on this connection only.
    client = await raw_ws.open_sock(port)
    message = raw_ws.frame(BINARY, bytes(256 * 1024))
    for _ in range(8):
        await client.send(message)
    stalled.append(client)
    return "not reading"


@pytest.mark.asyncio
async def test_hostile_connections_do_not_block_a_good_client(
    echo_server: Any, raw_ws: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="websocket")
    bomb_frame = raw_ws.frame(BINARY, bomb(20 * MIB), rsv=RSV1)
    stalled: list[Any] = []
    async with echo_server(compression=DeflateOptions(), handshake_timeout=1.0) as server:
        port = server.port
        kinds = [
            lambda: attack_garbage(raw_ws, port),
            lambda: attack_silent(raw_ws, port),
            lambda: attack_fragments(raw_ws, port),
            lambda: attack_bomb(raw_ws, port, bomb_frame),
            lambda: attack_huge_length(raw_ws, port),
            lambda: attack_utf8(raw_ws, port),
            lambda: attack_stall(raw_ws, port, stalled),
            lambda: attack_no_read(raw_ws, port, stalled),
        ]
        attacks = [asyncio.ensure_future(kinds[i % len(kinds)]()) for i in range(20)]
        try:
            # Meanwhile a well-behaved client (the websockets library) echoes normally.
            async with ws_connect(f"ws://127.0.0.1:{port}/") as ws:
                for i in range(200):
                    message = f"message {i} " * (i % 50 + 1)
                    await ws.send(message)
                    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == message
                big = bytes(range(256)) * 2048
                await ws.send(big)
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == big
            outcomes = await asyncio.wait_for(asyncio.gather(*attacks), TIMEOUT)
        finally:
            for attack in attacks:
                attack.cancel()
        assert sorted(set(outcomes)) == [
            "1007",
            "1009",
            "400",
            "dropped",
            "not reading",
            "stalled",
        ]
        # With stalled connections still open, a new client is served.
        assert len(stalled) == 4
        await assert_serves(raw_ws, port)
    # Every attack was refused or failed by the protocol; no handler or server task crashed.
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("failing WebSocket connection (1009)" in r.getMessage() for r in caplog.records)
