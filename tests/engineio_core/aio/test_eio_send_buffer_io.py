"""Memory stays flat under a slow consumer, on both transports (issue 9, item 1), over loopback.

The application sends 1 KB messages, each a new string, to a client that never takes them: a
polling client that never polls again, and a WebSocket client that never reads. The session
holds at most ``max_send_buffer`` bytes (4 MB by default: four 1 MB GET bodies), then closes
with ``transport error``; tracemalloc's peak over the whole run stays under a stated bound,
where without the limit it would grow with everything sent (40 MB).
"""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from eio_kit import TIMEOUT, Recorder, handshake

from engineio_core.aio.server import AsyncServer

MIB = 2**20
TOTAL = 40_000  # messages of 1 KB: 40 MB if nothing bounded the session
BOUND = 10 * MIB  # the 4 MB limit, the packet objects around it, and the test's own


async def flood(eio: AsyncServer, sid: str) -> int:
    """Send 1 KB messages until the session is gone; returns how many were sent."""
    sent = 0
    while sid in eio.sessions and sent < TOTAL:
        await eio.send(sid, f"{sent:08d}" + "x" * 1016)
        sent += 1
        if sent % 500 == 0:
            await asyncio.sleep(0)  # let the loop run: the transport writes, readers read
    return sent


@pytest.mark.asyncio
async def test_polling_client_that_never_polls_has_bounded_memory() -> None:
    eio = AsyncServer(ping_interval=60, ping_timeout=60)
    rec = Recorder(eio)
    async with eio.listen("127.0.0.1", 0) as front:
        conn, sid, _ = await handshake(front.port)  # one GET, then never again
        tracemalloc.start()
        try:
            sent = await flood(eio, sid)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert await rec.disconnect() == (sid, "transport error")
        assert 3_800 < sent < 4_100  # 4 MB of 1 KB messages, then the session closed
        assert peak < BOUND, f"peak traced memory {peak} bytes"
        conn.close()


@pytest.mark.asyncio
async def test_websocket_client_that_never_reads_has_bounded_memory() -> None:
    eio = AsyncServer(ping_interval=60, ping_timeout=60)
    rec = Recorder(eio)
    async with eio.listen("127.0.0.1", 0) as front:
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        writer.write(
            b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101 ")
        writer.transport.pause_reading()  # never read again: the kernel buffers fill up
        await asyncio.wait_for(_one_session(eio), TIMEOUT)
        [sid] = eio.sessions
        tracemalloc.start()
        try:
            sent = await flood(eio, sid)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert await rec.disconnect() == (sid, "transport error")
        assert sent < TOTAL
        assert peak < BOUND, f"peak traced memory {peak} bytes"
        writer.transport.abort()


async def _one_session(eio: AsyncServer) -> None:
    while len(eio.sessions) != 1:
        await asyncio.sleep(0.005)
