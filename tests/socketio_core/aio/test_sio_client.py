"""Tests for socketio_core.aio.client (AsyncClient), client_namespace and reconnect, on loopback.

Servers, all on 127.0.0.1:

* our :class:`~socketio_core.aio.AsyncServer` (``sio.listen``), over polling, WebSocket and
  polling upgraded to WebSocket;
* Node's socket.io 4.8 (``tests/node/sio_server.js``, a subprocess that prints its port and
  every event it receives as JSON lines); killed with SIGKILL and started again on the same
  port for the reconnection tests;
* python-socketio's ``AsyncServer`` as an ASGI app under uvicorn, in this process, on a
  socket bound here first.

Nothing sleeps: handlers feed queues that the tests await with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
import uvicorn

from socketio_core.aio import AsyncServer
from socketio_core.aio.client import AsyncClient
from socketio_core.aio.client_namespace import ClientNamespace
from socketio_core.exceptions import (
    AckTimeout,
    ConnectFailed,
    ConnectionRefused,
    LocalProtocolError,
    SendBufferFull,
)

TIMEOUT = 10.0
NODE_DIR = Path(__file__).resolve().parents[2] / "node"
MODES = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}
UNICODE = {"h\u00e9llo": ["\u2603", None, True, 1.5]}


CLIENT_FILES = (
    "socketio_core/aio/client.py",
    "socketio_core/aio/reconnect.py",
    "engineio_core/aio/client.py",
    "engineio_core/aio/http_client.py",
)


def client_tasks() -> list[asyncio.Task[Any]]:
    """The running tasks whose coroutine is client code (servers in this process excluded)."""
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and code.co_filename.endswith(CLIENT_FILES):
            found.append(task)
    return found


class Inbox:
    """What the client's handlers saw, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    def put(self, *item: Any) -> None:
        self.queue.put_nowait(item)

    async def get(self) -> tuple[Any, ...]:
        return await asyncio.wait_for(self.queue.get(), TIMEOUT)

    async def until(self, *head: Any) -> tuple[Any, ...]:
        """Skip items until one starts with ``head``."""
        while True:
            item = await self.get()
            if item[: len(head)] == head:
                return item


# ------------------------------------------------------------------------- servers


def install(sio: Any, refuse: Callable[..., Exception]) -> list[Any]:
    """The server side of every scenario, on our server or python-socketio's."""
    auths: list[Any] = []

    for namespace in ("/", "/chat"):

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: Any, auth: Any) -> None:
            auths.append(auth)
            if isinstance(auth, dict) and auth.get("token") == "bad":
                raise refuse("Not authorized", {"reason": "bad token"})

        @sio.on("echo", namespace=namespace)
        async def echo(sid: str, *args: Any, namespace: str = namespace) -> None:
            await sio.emit("echo", args, to=sid, namespace=namespace)

    @sio.event
    def sum(sid: str, a: int, b: int) -> int:
        return a + b

    @sio.event
    async def ask(sid: str, round: int) -> None:
        answer = await sio.call("question", {"q": round}, to=sid, timeout=5)
        await sio.emit("answer", answer, to=sid)

    @sio.event
    async def bin(sid: str, blob: bytes) -> dict[str, Any]:
        await sio.emit("bin", blob, to=sid)
        return {"reversed": blob[::-1]}

    @sio.event
    async def leave(sid: str) -> None:
        await sio.disconnect(sid)

    return auths


@contextlib.asynccontextmanager
async def our_server() -> AsyncIterator[str]:
    sio = AsyncServer()
    install(sio, ConnectionRefused)
    async with sio.listen("127.0.0.1", 0) as front:
        yield f"http://127.0.0.1:{front.port}"


@contextlib.asynccontextmanager
async def python_socketio_server() -> AsyncIterator[str]:
    sio = socketio.AsyncServer(async_mode="asgi")
    install(sio, socketio.exceptions.ConnectionRefusedError)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        socketio.ASGIApp(sio),
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


class NodeServer:
    """A running tests/node/sio_server.js and the JSON lines it printed."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.lines: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.put_nowait(json.loads(line))

    async def expect(self, **fields: Any) -> dict[str, Any]:
        """Skip lines until one has ``fields``."""
        while True:
            line = await asyncio.wait_for(self.lines.get(), TIMEOUT)
            if all(line.get(k) == v for k, v in fields.items()):
                return line

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()  # SIGKILL: no goodbye to the clients
        await self.proc.wait()
        await self.reader


async def start_node(port: int = 0) -> NodeServer:
    proc = await asyncio.create_subprocess_exec(
        "node",
        "sio_server.js",
        json.dumps({"port": port, "pingInterval": 2000, "pingTimeout": 1000}),
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
    return NodeServer(proc, json.loads(line)["port"])


@contextlib.asynccontextmanager
async def node_server() -> AsyncIterator[str]:
    server = await start_node()
    try:
        yield server.url
    finally:
        await server.kill()


SERVERS = {"ours": our_server, "node": node_server, "python-socketio": python_socketio_server}


@pytest.fixture
def node(node: Any) -> Any:
    """Skip (or fail under CI) without Node and its packages (tests/conftest.py)."""
    return node


# ------------------------------------------------------------------------- the scenario


def client_with_handlers(inbox: Inbox, **kwargs: Any) -> AsyncClient:
    sio = AsyncClient(**kwargs)

    @sio.event
    async def connect() -> None:
        inbox.put("connect", "/")

    @sio.on("disconnect")
    def on_disconnect(reason: str) -> None:
        inbox.put("disconnect", "/", reason)

    @sio.event
    async def echo(*args: Any) -> None:
        inbox.put("echo", *args)

    @sio.event
    def question(data: dict[str, int]) -> dict[str, int]:
        return {"a": data["q"] * 2}  # the return value is the ack

    @sio.event
    async def answer(*args: Any) -> None:
        inbox.put("answer", *args)

    @sio.on("*")
    def anything(event: str, *args: Any) -> None:
        inbox.put("any", event, *args)

    class Chat(ClientNamespace):
        async def on_connect(self) -> None:
            inbox.put("connect", "/chat")

        def on_disconnect(self, reason: str) -> None:
            inbox.put("disconnect", "/chat", reason)

        async def on_echo(self, *args: Any) -> None:
            inbox.put("chat-echo", *args)

    sio.register_namespace(Chat("/chat"))
    return sio


async def scenario(url: str, mode: str) -> None:
    inbox = Inbox()
    sio = client_with_handlers(inbox, reconnection=False)
    await sio.connect(url, transports=MODES[mode])
    assert sio.connected and sio.transport() == ("polling" if mode == "polling" else "websocket")
    assert set(sio.namespaces) == {"/", "/chat"} and sio.sid == sio.get_sid("/")
    assert {await inbox.get(), await inbox.get()} == {("connect", "/"), ("connect", "/chat")}

    await sio.emit("echo", ("hello", 1, UNICODE))
    assert await inbox.get() == ("echo", "hello", 1, UNICODE)
    assert await sio.call("sum", (2, 3), timeout=TIMEOUT) == 5
    await sio.emit("ask", 7)  # the server calls our "question" handler
    assert await inbox.get() == ("answer", {"a": 14})
    blob = bytes([0, 1, 255])
    assert await sio.call("bin", blob, timeout=TIMEOUT) == {"reversed": blob[::-1]}
    assert await inbox.get() == ("any", "bin", blob)  # no "bin" handler: the catch-all
    acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    await sio.emit("sum", (1, 2), callback=lambda *a: acked.set_result(a))
    assert await asyncio.wait_for(acked, TIMEOUT) == (3,)
    await sio.emit("echo", "c", namespace="/chat")
    assert await inbox.get() == ("chat-echo", "c")

    await sio.disconnect()
    left = {await inbox.get(), await inbox.get()}
    assert left == {
        ("disconnect", "/", "client disconnect"),
        ("disconnect", "/chat", "client disconnect"),
    }
    assert not sio.connected and sio.sid is None and sio.transport() is None
    await sio.wait()
    assert client_tasks() == []


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", list(MODES))
async def test_against_our_server(mode: str) -> None:
    async with our_server() as url:
        await scenario(url, mode)


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("mode", list(MODES))
async def test_against_node(node: Any, mode: str) -> None:
    async with node_server() as url:
        await scenario(url, mode)


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", list(MODES))
async def test_against_python_socketio(mode: str) -> None:
    async with python_socketio_server() as url:
        await scenario(url, mode)


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", list(SERVERS))
async def test_auth_refused(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "node":
        request.getfixturevalue("node")
    refusals: list[Any] = []
    sio = AsyncClient(reconnection=False)
    sio.on("connect_error", refusals.append)
    async with SERVERS[kind]() as url:
        with pytest.raises(ConnectFailed) as caught:
            await sio.connect(url, auth={"token": "bad"}, wait_timeout=TIMEOUT)
        assert (caught.value.message, caught.value.data) == (
            "Not authorized",
            {"reason": "bad token"},
        )
        assert refusals == [{"message": "Not authorized", "data": {"reason": "bad token"}}]
        assert not sio.connected

        calls = []

        async def auth() -> dict[str, str]:
            calls.append(1)
            return {"token": "good"}

        await sio.connect(url, auth=auth, wait_timeout=TIMEOUT)
        assert sio.connected and calls == [1]
        await sio.disconnect()


@pytest.mark.asyncio
async def test_server_leaves_then_no_reconnection() -> None:
    inbox = Inbox()
    async with our_server() as url:
        sio = client_with_handlers(inbox, reconnection_delay=0.01)
        await sio.connect(url, namespaces="/")
        await sio.emit("leave")
        assert await inbox.until("disconnect") == ("disconnect", "/", "server disconnect")
        await asyncio.wait_for(sio.wait(), TIMEOUT)
        assert not sio.connected


@pytest.mark.asyncio
async def test_misuse() -> None:
    sio = AsyncClient()
    with pytest.raises(TypeError):
        sio.on("connect", lambda a, b: None)
    with pytest.raises(ValueError):
        AsyncClient(serializer="yaml")
    with pytest.raises(ConnectFailed):
        await sio.connect("http://127.0.0.1:1", wait_timeout=0.5)
    async with our_server() as url:
        await sio.connect(url)
        with pytest.raises(LocalProtocolError):
            await sio.connect(url)
        await sio.disconnect()
        await sio.disconnect()  # twice is fine


# ------------------------------------------------------------------------- acks and retries


@pytest.mark.node
@pytest.mark.asyncio
async def test_call_timeout_and_retries(node: Any) -> None:
    server = await start_node()
    try:
        sio = AsyncClient(reconnection=False, retries=2, ack_timeout=0.05)
        await sio.connect(server.url, transports=["websocket"])
        with pytest.raises(AckTimeout):
            await sio.call("slow", timeout=TIMEOUT)  # never acked: sent 3 times, then fails
        ids = [await server.expect(event="recv", name="slow") for _ in range(3)]
        assert len(ids) == 3
        assert await sio.call("sum", (1, 1)) == 2  # the queue moves on
        await sio.disconnect()
    finally:
        await server.kill()


@pytest.mark.asyncio
async def test_call_timeout_without_retries() -> None:
    async with our_server() as url:
        sio = AsyncClient()
        await sio.connect(url)
        with pytest.raises(AckTimeout):
            await sio.call("no-such-event", timeout=0.05)
        await sio.disconnect()


# ------------------------------------------------------------------------- reconnection


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["websocket", "polling"])
async def test_reconnects_after_the_server_is_killed(node: Any, mode: str) -> None:
    server = await start_node()
    inbox = Inbox()
    tokens = iter(range(100))
    sio = client_with_handlers(
        inbox, reconnection_delay=0.05, reconnection_delay_max=0.2, buffer_size=8
    )
    for event in ("reconnect_attempt", "reconnect", "reconnect_error"):
        sio.on(event, functools.partial(inbox.put, event))
    try:
        await sio.connect(server.url, transports=MODES[mode], auth=lambda: {"n": next(tokens)})
        assert {await inbox.get(), await inbox.get()} == {("connect", "/"), ("connect", "/chat")}
        await server.kill()
        gone = {(await inbox.until("disconnect"))[1], (await inbox.until("disconnect"))[1]}
        assert gone == {"/", "/chat"}
        await sio.emit("note", 1)  # buffered during the outage
        await sio.emit("note", 2, namespace="/chat")
        await inbox.until("reconnect_attempt", 1)
        server = await start_node(server.port)  # the same port
        back = await inbox.until("reconnect")
        assert back[1] >= 1
        assert sio.connected and set(sio.namespaces) == {"/", "/chat"}
        notes = {
            (line["nsp"], line["args"][0])
            for line in [await server.expect(name="note"), await server.expect(name="note")]
        }
        assert notes == {("/", 1), ("/chat", 2)}
        assert await sio.call("sum", (20, 22), timeout=TIMEOUT) == 42
        await sio.disconnect()
    finally:
        await server.kill()


@pytest.mark.node
@pytest.mark.asyncio
async def test_disconnect_during_retry_stops_cleanly(node: Any) -> None:
    server = await start_node()
    inbox = Inbox()
    sio = AsyncClient(reconnection_delay=0.01, reconnection_delay_max=0.02, buffer_size=2)
    sio.on("reconnect_error", functools.partial(inbox.put, "reconnect_error"))
    sio.on("disconnect", functools.partial(inbox.put, "disconnect"))
    try:
        await sio.connect(server.url, transports=["websocket"])
    finally:
        await server.kill()
    await inbox.until("disconnect")
    await sio.emit("kept")
    pending = asyncio.ensure_future(sio.call("never", timeout=TIMEOUT))
    await asyncio.sleep(0)  # let the call reach the buffer
    with pytest.raises(SendBufferFull):
        await sio.emit("one too many")
    await inbox.until("reconnect_error")
    await sio.disconnect()
    await asyncio.wait_for(sio.wait(), TIMEOUT)
    with pytest.raises(Exception, match=r"client disconnect"):
        await pending
    assert client_tasks() == []


@pytest.mark.node
@pytest.mark.asyncio
async def test_gives_up_after_the_attempts(node: Any) -> None:
    server = await start_node()
    inbox = Inbox()
    sio = AsyncClient(reconnection_attempts=2, reconnection_delay=0.01, random=lambda: 0.5)
    sio.on("reconnect_failed", functools.partial(inbox.put, "reconnect_failed"))
    sio.on("reconnect_attempt", functools.partial(inbox.put, "reconnect_attempt"))
    try:
        await sio.connect(server.url, transports=["websocket"])
    finally:
        await server.kill()
    assert await inbox.get() == ("reconnect_attempt", 1)
    assert await inbox.get() == ("reconnect_attempt", 2)
    assert await inbox.get() == ("reconnect_failed",)
    await asyncio.wait_for(sio.wait(), TIMEOUT)
