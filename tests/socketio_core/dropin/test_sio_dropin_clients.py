"""Our clients, with python-socketio's names, against python-socketio's own server in the
shape of its fiddle example: the ``connect`` handler emits ``hello`` before the CONNECT reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio as python_socketio
import uvicorn

import socketio_core as socketio
from socketio_core import exceptions

TIMEOUT = 5.0
HELLO = ["hello", 1, 2, {"hello": "you"}]


@contextlib.asynccontextmanager
async def fiddle_server() -> AsyncIterator[str]:
    """python-socketio's examples/server/asgi/fiddle.py, served in this process."""
    sio = python_socketio.AsyncServer(async_mode="asgi")

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.emit("hello", (1, 2, {"hello": "you"}), to=sid)

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        await sio.emit("echoed", data, to=sid)
        return data

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    config = uvicorn.Config(
        python_socketio.ASGIApp(sio),
        log_level="warning",
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)
        sock.close()


TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}


@pytest.mark.asyncio
@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_async_client_gets_the_connect_handler_emit(transport: str) -> None:
    got: asyncio.Queue[Any] = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)

    @sio.event
    async def connect() -> None:
        got.put_nowait("connect")

    @sio.event
    def hello(a: int, b: int, c: dict[str, str]) -> None:
        got.put_nowait(["hello", a, b, c])

    async with fiddle_server() as url:
        await sio.connect(url, auth={"token": "my-token"}, transports=TRANSPORTS[transport])
        assert await asyncio.wait_for(got.get(), TIMEOUT) == "connect"
        assert await asyncio.wait_for(got.get(), TIMEOUT) == HELLO
        await sio.disconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_async_simple_client(transport: str) -> None:
    async with fiddle_server() as url:
        async with socketio.AsyncSimpleClient() as sio:
            await sio.connect(url, auth={"token": "t"}, transports=TRANSPORTS[transport])
            assert sio.sid is not None and sio.transport in ("polling", "websocket")
            assert await sio.receive(timeout=TIMEOUT) == HELLO
            assert await sio.call("echo", {"n": 1}, timeout=TIMEOUT) == {"n": 1}
            assert await sio.receive(timeout=TIMEOUT) == ["echoed", {"n": 1}]
            await sio.emit("echo", [1, 2])
            assert await sio.receive(timeout=TIMEOUT) == ["echoed", [1, 2]]
            with pytest.raises(exceptions.TimeoutError):
                await sio.receive(timeout=0.05)
        with pytest.raises(exceptions.DisconnectedError):
            await sio.receive(timeout=TIMEOUT)
        with pytest.raises(exceptions.DisconnectedError):
            await sio.emit("echo", 1)


@pytest.mark.asyncio
async def test_blocking_simple_client_and_client() -> None:
    async with fiddle_server() as url:

        def run() -> list[Any]:
            results: list[Any] = []
            with socketio.SimpleClient() as sio:
                sio.connect(url, auth={"token": "t"})
                results.append(sio.receive(timeout=TIMEOUT))
                results.append(sio.call("echo", "x", timeout=TIMEOUT))
                results.append(sio.receive(timeout=TIMEOUT))
            client = socketio.Client(reconnection=False)
            seen: list[Any] = []
            done = __import__("threading").Event()

            @client.event
            def hello(*args: Any) -> None:
                seen.append(["hello", *args])
                done.set()

            client.connect(url)
            done.wait(TIMEOUT)
            thread = client.start_background_task(seen.append, "background")
            thread.join(TIMEOUT)
            client.shutdown()
            results.append(seen)
            return results

        results = await asyncio.to_thread(run)
    assert results == [HELLO, "x", ["echoed", "x"], [HELLO, "background"]]


@pytest.mark.asyncio
async def test_async_client_background_task_sleep_shutdown() -> None:
    sio = socketio.AsyncClient(reconnection=False)
    ran: list[int] = []

    async def task(n: int) -> None:
        await sio.sleep(0)
        ran.append(n)

    async with fiddle_server() as url:
        await sio.connect(url)
        await sio.start_background_task(task, 7)
        await sio.shutdown()
        assert ran == [7] and not sio.connected
