"""Tests for websocket.aio.linger: an error response survives unread input, within bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from websocket.aio.linger import linger_close

TIMEOUT = 5.0


@asynccontextmanager
async def pair() -> AsyncIterator[
    tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.StreamReader, asyncio.StreamWriter]
]:
    """A loopback connection: (server reader, server writer, client reader, client writer)."""
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.put_nowait((r, w))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    creader, cwriter = await asyncio.open_connection("127.0.0.1", port)
    sreader, swriter = await asyncio.wait_for(accepted.get(), TIMEOUT)
    try:
        yield sreader, swriter, creader, cwriter
    finally:
        cwriter.transport.abort()
        swriter.transport.abort()
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_response_then_fin_though_input_is_unread() -> None:
    async with pair() as (sreader, swriter, creader, cwriter):
        cwriter.write(b"x" * 200_000)  # the server never reads this as a request
        swriter.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        lingering = asyncio.create_task(linger_close(sreader, swriter, timeout=TIMEOUT))
        assert (
            await asyncio.wait_for(creader.read(), TIMEOUT) == b"HTTP/1.1 400 Bad Request\r\n\r\n"
        )
        cwriter.close()  # the peer closes: the drain ends at its EOF
        await asyncio.wait_for(lingering, TIMEOUT)
        assert swriter.transport.is_closing()


@pytest.mark.asyncio
async def test_drain_stops_at_max_bytes() -> None:
    async with pair() as (sreader, swriter, _, cwriter):
        cwriter.write(b"y" * 300_000)  # more than max_bytes, and the peer never closes
        await asyncio.wait_for(linger_close(sreader, swriter, max_bytes=1000, timeout=60), TIMEOUT)
        assert swriter.transport.is_closing()


@pytest.mark.asyncio
async def test_drain_stops_at_the_timeout() -> None:
    async with pair() as (sreader, swriter, _, _):
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.wait_for(linger_close(sreader, swriter, timeout=0.2), TIMEOUT)
        assert 0.15 < loop.time() - start < TIMEOUT
        assert swriter.transport.is_closing()
