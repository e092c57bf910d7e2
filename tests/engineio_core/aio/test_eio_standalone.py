"""Tests for engineio_core.aio.standalone: the h11 + WebSocket front door on asyncio streams.

The protocol itself is covered in test_eio_server.py and hostile input in
test_eio_bad_input.py; here: keep-alive, one task per TCP connection, the fallback for other
paths, and shutting down (``close()``, ``serve()`` cancelled) with sessions and connections
still open.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import warnings
from pathlib import Path
from typing import Any

import pytest

from engineio_core.aio.server import AsyncServer, PreparedResponse
from engineio_core.aio.standalone import StandaloneServer
from engineio_core.request import HTTPRequest
from websocket.aio import connect
from websocket.exceptions import ConnectionClosed

TIMEOUT = 5.0
POLLING = "/engine.io/?EIO=4&transport=polling"

# Every test runs with the polling fast path on and with h11 alone (conftest.py).
pytestmark = pytest.mark.usefixtures("http_parser")


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[bytes, bytes]:
    """Send one request; return the response head and body (Content-Length framed)."""
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    body = await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
    return head, body


def get(target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def connection_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if "StandaloneServer._on_client" in repr(t.get_coro())}


@pytest.mark.asyncio
async def test_keep_alive_and_one_task_per_connection() -> None:
    eio = AsyncServer()
    async with eio.listen("127.0.0.1", 0) as front:
        assert isinstance(front, StandaloneServer)
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        try:
            head, body = await exchange(reader, writer, get(POLLING))
            assert head.startswith(b"HTTP/1.1 200 ")
            assert b"server: socketio-stack" in head.lower()
            sid = json.loads(body[1:])["sid"]
            target = f"{POLLING}&sid={sid}"
            # Several requests on the same connection, one task for all of them.
            for i in range(5):
                post = (
                    f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\n4m{i}"
                )
                _, body = await exchange(reader, writer, post.encode())
                assert body == b"ok"
            assert len(connection_tasks()) == 1
            # Pipelined: two requests in one write, answered in order.
            await eio.send(sid, "queued")
            writer.write(get(target) + get("/engine.io/?EIO=3&transport=polling"))
            head1 = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
            assert head1.startswith(b"HTTP/1.1 200 ")
            assert await asyncio.wait_for(reader.readexactly(7), TIMEOUT) == b"4queued"
            head2 = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
            assert head2.startswith(b"HTTP/1.1 400 ")
        finally:
            writer.transport.abort()
        await eio.disconnect(sid)


@pytest.mark.asyncio
async def test_fallback_for_other_paths() -> None:
    def fallback(request: HTTPRequest) -> PreparedResponse:
        body = f"hello {request.path}".encode()
        return PreparedResponse(200, [("Content-Length", str(len(body)))], body)

    eio = AsyncServer()
    async with eio.listen("127.0.0.1", 0, fallback=fallback, engineio_path="/eio/") as front:
        assert front.path == "/eio/"
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        try:
            _, body = await exchange(reader, writer, get("/index.html"))
            assert body == b"hello /index.html"
            head, _ = await exchange(reader, writer, get("/eio/?EIO=4&transport=polling"))
            assert head.startswith(b"HTTP/1.1 200 ")
        finally:
            writer.transport.abort()
        await eio.disconnect()


@pytest.mark.asyncio
async def test_static_files_before_the_fallback(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>chat</p>")
    (tmp_path / "app.js").write_text("console.log(1)")
    static = {"/": str(tmp_path / "index.html"), "/static": str(tmp_path)}

    def fallback(request: HTTPRequest) -> PreparedResponse:
        return PreparedResponse(418, [("Content-Length", "0")], b"")

    eio = AsyncServer()
    async with eio.listen("127.0.0.1", 0, static_files=static, fallback=fallback) as front:
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        try:
            head, body = await exchange(reader, writer, get("/"))
            assert body == b"<p>chat</p>"
            assert b"content-type: text/html" in head.lower()
            head, body = await exchange(reader, writer, get("/static/app.js"))
            assert body == b"console.log(1)"
            assert b"javascript" in head.lower()
            head, _ = await exchange(reader, writer, get("/static/../index.html"))
            assert head.startswith(b"HTTP/1.1 418 ")  # traversal refused: not served
            head, _ = await exchange(reader, writer, get("/static/missing.js"))
            assert head.startswith(b"HTTP/1.1 418 ")
        finally:
            writer.transport.abort()


@pytest.mark.asyncio
async def test_close_ends_sessions_and_connections() -> None:
    eio = AsyncServer()
    disconnects: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    eio.on("disconnect", lambda sid, reason: disconnects.put_nowait((sid, reason)))
    front = await eio.listen("127.0.0.1", 0)
    port = front.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    _, body = await exchange(reader, writer, get(POLLING))
    sid = json.loads(body[1:])["sid"]
    writer.write(get(f"{POLLING}&sid={sid}"))  # parked
    ws = await connect(
        f"ws://127.0.0.1:{front.port}/engine.io/?EIO=4&transport=websocket", compression=None
    )
    ws_sid = json.loads(str(await asyncio.wait_for(ws.recv(), TIMEOUT))[1:])["sid"]
    await asyncio.wait_for(front.close(), TIMEOUT)
    assert connection_tasks() == set()
    # The parked GET got the close packet before its connection ended.
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert await asyncio.wait_for(reader.read(), TIMEOUT) == b"1"
    writer.close()
    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "1"
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    got = {await asyncio.wait_for(disconnects.get(), TIMEOUT) for _ in range(2)}
    assert got == {(sid, "server disconnect"), (ws_sid, "server disconnect")}
    assert eio.sessions == {}
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.asyncio
async def test_serve_until_cancelled() -> None:
    eio = AsyncServer()
    front = eio.listen("127.0.0.1", 0)
    task = asyncio.create_task(front.serve_forever())
    await asyncio.wait_for(_until_listening(front), TIMEOUT)
    reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
    head, _ = await exchange(reader, writer, get(POLLING))
    assert head.startswith(b"HTTP/1.1 200 ")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
    writer.close()
    assert connection_tasks() == set()


async def _until_listening(front: StandaloneServer) -> None:
    while not front.sockets:
        await asyncio.sleep(0.005)


@pytest.mark.asyncio
@pytest.mark.parametrize("steps", [0, 1, 2, 3])
async def test_close_right_after_an_accept_leaks_nothing(steps: int) -> None:
    """A connection accepted just before close() is closed too (CPython 3.11 race)."""
    front = await AsyncServer().listen("127.0.0.1", 0)
    client = socket.create_connection(("127.0.0.1", front.port))
    try:
        for _ in range(steps):
            await asyncio.sleep(0)
        await front.close()
    finally:
        client.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            await asyncio.sleep(0)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
