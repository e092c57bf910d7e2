"""websocket.aio.client: connect() as awaitable and context manager, and how it fails."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Any

import pytest

from websocket.aio import Connection, connect, serve
from websocket.exceptions import ConnectionClosedOK, InvalidHandshake, InvalidStatus, InvalidURI
from websocket.handshake import Request, Response

pytestmark = pytest.mark.asyncio

TIMEOUT = 5


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1/", "ws://", "ws://127.0.0.1:notaport/", "ws://127.0.0.1/#frag"]
)
async def test_invalid_uri(uri: str) -> None:
    with pytest.raises(InvalidURI):
        await connect(uri)


async def test_ssl_context_for_ws_uri_is_refused() -> None:
    with pytest.raises(ValueError, match="ws://"):
        await connect("ws://127.0.0.1:1/", ssl=ssl.create_default_context())


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nobody listens on the port any more.
    with pytest.raises(OSError):
        await asyncio.wait_for(connect(f"ws://127.0.0.1:{port}/"), TIMEOUT)


async def test_open_timeout_against_silent_server() -> None:
    """A server that accepts TCP and reads, but never answers the handshake."""
    got_request = asyncio.Event()
    finished = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(100):
                data = await reader.read(65536)
                if not data:
                    break
                got_request.set()
        except ConnectionError:
            pass  # the client aborts
        finally:
            writer.close()
            finished.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            await connect(f"ws://127.0.0.1:{port}/", open_timeout=0.1)
        assert 0.09 <= time.monotonic() - start < 1.0
        assert got_request.is_set()
        await asyncio.wait_for(finished.wait(), TIMEOUT)


async def test_server_answering_garbage() -> None:
    finished = asyncio.Event()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(65536)
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()
            finished.set()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(InvalidHandshake) as info:
            await asyncio.wait_for(connect(f"ws://127.0.0.1:{port}/"), TIMEOUT)
        assert not isinstance(info.value, InvalidStatus)
        await asyncio.wait_for(finished.wait(), TIMEOUT)


async def test_invalid_status_carries_the_response(kit: Any) -> None:
    def refuse(request: Request) -> Response:
        return Response(401, (("WWW-Authenticate", "Bearer"),), b"log in first")

    async with serve(kit.echo, "127.0.0.1", 0, process_request=refuse) as server:
        with pytest.raises(InvalidStatus) as info:
            await connect(kit.uri(server))
    assert info.value.status == 401
    assert ("www-authenticate", "Bearer") in info.value.headers
    assert info.value.body == b"log in first"
    assert "401" in str(info.value)


async def test_await_and_context_manager(kit: Any) -> None:
    closes: list[int | None] = []

    async def record(conn: Connection) -> None:
        await kit.echo(conn)
        closes.append(conn.close_code)

    async with serve(record, "127.0.0.1", 0) as server:
        ws = await connect(kit.uri(server))
        await ws.send("awaited")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "awaited"
        await ws.close()
        async with connect(kit.uri(server)) as ws2:
            await ws2.send("managed")
            assert await asyncio.wait_for(ws2.recv(), TIMEOUT) == "managed"
        # Leaving the block closed the connection with 1000.
        assert ws2.close_code == 1000
        with pytest.raises(ConnectionClosedOK):
            await ws2.recv()
    assert closes == [1000, 1000]


async def test_context_manager_closes_on_error(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0) as server:
        with pytest.raises(KeyError):
            async with connect(kit.uri(server)) as ws:
                raise KeyError("boom")
        assert ws.close_code == 1000


async def test_host_header_and_resource(kit: Any) -> None:
    seen: list[Request] = []

    def look(request: Request) -> None:
        seen.append(request)

    async with (
        serve(kit.echo, "127.0.0.1", 0, process_request=look) as server,
        connect(f"ws://127.0.0.1:{server.port}/a/b?c=d"),
    ):
        pass
    assert seen[0].target == "/a/b?c=d"
    assert seen[0].header("host") == f"127.0.0.1:{server.port}"
