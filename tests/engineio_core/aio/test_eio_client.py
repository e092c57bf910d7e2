"""Tests for engineio_core.aio.client: our AsyncClient against real servers on loopback.

* Node's engine.io 6.6 (tests/node/eio_server.js, an echo server run with ``node``), over
  polling only, WebSocket only, and polling upgraded to WebSocket;
* python-engineio's AsyncServer under uvicorn, in this process, over the same three modes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import engineio
import pytest
import uvicorn

from engineio_core.aio.client import AsyncClient
from engineio_core.exceptions import ConnectionFailed, LocalProtocolError, SessionClosed

NODE_DIR = Path(__file__).resolve().parents[2] / "node"
NODE_MISSING = (
    "node is not on PATH"
    if shutil.which("node") is None
    else "tests/node/node_modules has no engine.io (run npm ci in tests/node)"
    if not (NODE_DIR / "node_modules" / "engine.io").is_dir()
    else ""
)
skip_without_node = pytest.mark.skipif(bool(NODE_MISSING), reason=NODE_MISSING or "-")

# transports argument -> the transport after connect() returns
MODES: dict[str, tuple[list[str] | None, str]] = {
    "polling": (["polling"], "polling"),
    "websocket": (["websocket"], "websocket"),
    "upgrade": (None, "websocket"),
}


class NodeServer:
    """A running tests/node/eio_server.js."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    async def next_event(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 5)
        event: dict[str, Any] = json.loads(line)
        return event


@asynccontextmanager
async def node_server(**options: Any) -> AsyncIterator[NodeServer]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "eio_server.js"),
        json.dumps(options),
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        yield NodeServer(proc, json.loads(line)["port"])
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


class Recorder:
    """Registers handlers on a client and queues what they see."""

    def __init__(self, client: AsyncClient) -> None:
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        client.on("connect", lambda: self.events.put_nowait(("connect", None)))
        client.on("message", self.on_message)
        client.on("disconnect", lambda reason: self.events.put_nowait(("disconnect", reason)))

    async def on_message(self, data: str | bytes) -> None:
        self.events.put_nowait(("message", data))

    async def next(self, timeout: float = 5.0) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def messages(self, count: int) -> list[str | bytes]:
        received = []
        for _ in range(count):
            kind, data = await self.next()
            assert kind == "message", (kind, data)
            received.append(data)
        return received


def client_tasks() -> set[asyncio.Task[Any]]:
    """The running tasks that belong to our client or its websocket connections."""
    tasks = set()
    for task in asyncio.all_tasks():
        name = getattr(task.get_coro(), "__qualname__", "")
        if name.startswith(("AsyncClient.", "Connection.")):
            tasks.add(task)
    return tasks


async def exchange(client: AsyncClient, recorder: Recorder) -> None:
    """Text and binary both ways, types kept, then a batch of 100 in order."""
    await client.send("hello")
    await client.send(b"\x00\x01\xff")
    await client.send("héllo wörld")
    await client.send(b"")
    assert await recorder.messages(4) == ["hello", b"\x00\x01\xff", "héllo wörld", b""]
    batch: list[str | bytes] = [f"m{i}" if i % 3 else bytes([i]) * i for i in range(100)]
    for item in batch:
        await client.send(item)
    received = await recorder.messages(100)
    assert received == batch
    assert [type(x) for x in received] == [type(x) for x in batch]


# -- against Node's engine.io -------------------------------------------------------------------


@pytest.mark.node
@skip_without_node
@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_node_echo_and_client_disconnect(mode: str) -> None:
    transports, expected = MODES[mode]
    async with node_server(pingInterval=300, pingTimeout=200) as server:
        client = AsyncClient()
        recorder = Recorder(client)
        await client.connect(server.url, transports=transports)
        assert client.transport() == expected
        assert await recorder.next() == ("connect", None)
        connection = await server.next_event()
        assert connection["event"] == "connection" and connection["sid"] == client.sid
        with pytest.raises(LocalProtocolError):
            await client.connect(server.url)
        await exchange(client, recorder)
        await client.disconnect()
        assert await recorder.next() == ("disconnect", "client disconnect")
        assert client.sid is None and client.transport() is None
        assert client_tasks() == set()
        events = [await server.next_event() for _ in range(2 if mode == "upgrade" else 1)]
        assert events[-1]["event"] == "close"
        assert events[-1]["reason"] in ("transport close", "client disconnect")
        with pytest.raises(SessionClosed):
            await client.send("after")
        await client.disconnect()  # nothing to do


@pytest.mark.node
@skip_without_node
@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_node_server_disconnect(mode: str) -> None:
    transports, _ = MODES[mode]
    async with node_server(pingInterval=300, pingTimeout=200) as server:
        client = AsyncClient()
        recorder = Recorder(client)
        await client.connect(server.url, transports=transports)
        assert await recorder.next() == ("connect", None)
        await client.send("__close__")
        await client.wait()
        # Over polling Node sends a close packet; over WebSocket it just closes the socket.
        expected = "server disconnect" if mode == "polling" else "transport close"
        assert await recorder.next() == ("disconnect", expected)
        assert client_tasks() == set()


@pytest.mark.node
@skip_without_node
@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_node_heartbeat_keeps_the_session_alive(mode: str) -> None:
    transports, expected = MODES[mode]
    # A ping every 300 ms; the pong timeout is generous so that a loaded machine does not
    # turn a late pong into a lost session (test_node_silent_server_is_noticed has the short one).
    async with node_server(pingInterval=300, pingTimeout=1000) as server:
        client = AsyncClient()
        recorder = Recorder(client)
        await client.connect(server.url, transports=transports)
        # Four ping intervals: the session must still be there at the end.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.wait(), 1.3)
        assert client.transport() == expected
        await client.send("still there")
        assert await recorder.next() == ("connect", None)
        assert await recorder.messages(1) == ["still there"]
        await client.disconnect()
        assert client_tasks() == set()


@pytest.mark.node
@skip_without_node
@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_node_silent_server_is_noticed(mode: str) -> None:
    transports, _ = MODES[mode]
    async with node_server(pingInterval=300, pingTimeout=200) as server:
        client = AsyncClient(request_timeout=1.0)
        recorder = Recorder(client)
        await client.connect(server.url, transports=transports)
        loop = asyncio.get_running_loop()
        os.kill(server.proc.pid, signal.SIGSTOP)
        stopped_at = loop.time()
        try:
            await asyncio.wait_for(client.wait(), 2.0)
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        # The last packet came before the stop: pingInterval + pingTimeout = 0.5 s at most.
        assert loop.time() - stopped_at < 0.5 + 0.3
        assert await recorder.next() == ("connect", None)
        assert await recorder.next() == ("disconnect", "ping timeout")
        assert client_tasks() == set()


@pytest.mark.node
@skip_without_node
@pytest.mark.asyncio
async def test_node_posts_are_split_by_max_payload() -> None:
    async with node_server(maxHttpBufferSize=100) as server:
        client = AsyncClient()
        recorder = Recorder(client)
        await client.connect(server.url, transports=["polling"])
        # 10 packets of 41 bytes: one POST would be 419 bytes and get a 413 from Node.
        sent = [f"{i}" * 40 for i in range(10)]
        for item in sent:
            await client.send(item)
        assert await recorder.next() == ("connect", None)
        assert await recorder.messages(10) == sent
        await client.disconnect()


@pytest.mark.node
@skip_without_node
@pytest.mark.asyncio
async def test_node_without_upgrades_and_refused_transport() -> None:
    async with node_server(transports=["polling"]) as server:
        client = AsyncClient()
        await client.connect(server.url)  # offered no upgrade: stays on polling
        assert client.transport() == "polling"
        await client.disconnect()
        with pytest.raises(ConnectionFailed) as info:
            await client.connect(server.url, transports=["websocket"])
        assert info.value.status == 400
        assert json.loads(info.value.body) == {"code": 0, "message": "Transport unknown"}
        assert client_tasks() == set()
        with pytest.raises(ConnectionFailed) as info:
            await client.connect(
                server.url, engineio_path="engine.io", headers={"X": "1"}, transports="websocket"
            )
        assert info.value.status == 400


# -- failures without a server ------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
async def test_connection_refused(transports: list[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AsyncClient()
    with pytest.raises(ConnectionFailed) as info:
        await client.connect(f"http://127.0.0.1:{port}", transports=transports)
    assert info.value.status is None
    assert client_tasks() == set()
    await client.wait()  # not connected: returns at once


@pytest.mark.asyncio
async def test_bad_arguments() -> None:
    client = AsyncClient()
    with pytest.raises(ValueError):
        await client.connect("ftp://127.0.0.1:1")
    with pytest.raises(ValueError):
        await client.connect("http://127.0.0.1:1", transports=["carrier pigeon"])
    with pytest.raises(ValueError):
        client.on("upgrade", print)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.on("message", lambda: None)
    with pytest.raises(TypeError):
        client.on("connect", lambda a, b: None)

    @client.on("disconnect")
    def legacy() -> None:  # a disconnect handler may take no reason
        pass

    assert client.handlers["disconnect"] == (legacy, 0)


# -- against python-engineio's server -----------------------------------------------------------


@asynccontextmanager
async def python_server() -> AsyncIterator[str]:
    """python-engineio's AsyncServer as an ASGI app under uvicorn, echoing every message."""
    # Whole seconds: python-engineio 4.15.1 announces int(ping_interval) * 1000, so 0.3 s
    # would go out as "pingInterval":0 (the open packet rounds down to whole seconds).
    eio = engineio.AsyncServer(async_mode="asgi", ping_interval=1, ping_timeout=1)

    @eio.on("message")
    async def echo(sid: str, data: str | bytes) -> None:
        await eio.send(sid, data)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        engineio.ASGIApp(eio), log_level="warning", lifespan="off", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_python_engineio_server(mode: str) -> None:
    transports, expected = MODES[mode]
    async with python_server() as url:
        client = AsyncClient()
        recorder = Recorder(client)
        await client.connect(url, transports=transports)
        assert client.transport() == expected
        assert await recorder.next() == ("connect", None)
        await client.send("hello")
        await client.send(b"\x00\x01\xff")
        assert await recorder.messages(2) == ["hello", b"\x00\x01\xff"]
        await client.disconnect()
        assert await recorder.next() == ("disconnect", "client disconnect")
        assert client_tasks() == set()
