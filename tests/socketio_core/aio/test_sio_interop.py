"""Interop tests of socketio_core.aio.AsyncServer against real Socket.IO clients, over loopback.

Peers:

* Node's socket.io-client 4.8 (``tests/node/sio_client.js``, one subprocess per scenario),
  against the standalone server and against :class:`ASGIApp` under uvicorn, over polling,
  WebSocket, and polling upgraded to WebSocket;
* the same client with socket.io-msgpack-parser, against ``AsyncServer(serializer="msgpack")``;
* python-socketio's ``AsyncClient`` (aiohttp) against the standalone server.

Every scenario's server side is :func:`make_server`; what the Node client saw comes back as
JSON lines (binary values as ``{"$bin": HEX}``), what the server saw is recorded in
:class:`Harness`. Nothing sleeps: the server's ``disconnect`` handler feeds a queue that the
tests await with a timeout, the Node client runs to its own end, and the one wait with no
event to await (python-socketio finishing its own disconnect) polls with a bounded deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
import uvicorn

from socketio_core.aio import ASGIApp, AsyncServer
from socketio_core.exceptions import ConnectionRefused

TIMEOUT = 10.0
#: mode -> the TRANSPORTS argument of sio_client.js
MODES = {"polling": "polling", "websocket": "websocket", "upgrade": "polling,websocket"}
DOORS = ["standalone", "uvicorn"]
UNICODE = {"h\u00e9llo": ["\u2603", "\U0001f600", None, True, 1.5]}


def b(hex_text: str) -> dict[str, str]:
    """How sio_client.js prints a binary value."""
    return {"$bin": hex_text}


# ------------------------------------------------------------------------- server side


@dataclass
class Harness:
    """A server with every scenario's handlers, and what those handlers saw."""

    sio: AsyncServer
    connects: list[tuple[str, str, Any]] = field(default_factory=list)
    disconnects: asyncio.Queue[tuple[str, str, str]] = field(default_factory=asyncio.Queue)
    binaries: list[tuple[Any, ...]] = field(default_factory=list)
    transports: list[str] = field(default_factory=list)
    sequence: list[tuple[int, str | bytes]] = field(default_factory=list)

    async def disconnected(self) -> tuple[str, str, str]:
        """The next ``(namespace, sid, reason)`` the disconnect handlers saw."""
        return await asyncio.wait_for(self.disconnects.get(), TIMEOUT)


def make_server(**kwargs: Any) -> Harness:
    sio = AsyncServer(**kwargs)
    harness = Harness(sio)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        harness.connects.append(("/", sid, auth))
        # Emitted before the CONNECT packet exists: the server holds it until after CONNECT.
        await sio.emit("welcome", sid, to=sid)
        token = auth.get("token") if isinstance(auth, dict) else None
        if token == "good":
            async with sio.session(sid) as session:
                session["user"] = "alice"
        elif token is not None:
            raise ConnectionRefused("Not authorized", {"reason": "bad token", "retry": False})

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        harness.disconnects.put_nowait(("/", sid, reason))

    @sio.event
    async def echo(sid: str, *args: Any) -> None:
        await sio.emit("echo", args, to=sid)

    @sio.event
    def sum(sid: str, a: int, b: int) -> int:
        return a + b

    @sio.event
    def pair(sid: str, value: str) -> tuple[str, int]:
        return value, 1

    @sio.event
    def nothing(sid: str) -> None:
        return None

    @sio.event
    async def ask(sid: str, round: int) -> None:
        harness.transports.append(sio.transport(sid))
        answer = await sio.call("question", {"q": round}, to=sid, timeout=TIMEOUT)
        await sio.emit("answer", answer, to=sid)

    @sio.event
    async def bin(sid: str, nested: Any, blob: bytes) -> dict[str, Any]:
        harness.binaries.append((nested, blob))
        await sio.emit("bin", (nested, blob), to=sid)
        return {"got": nested, "reversed": blob[::-1]}

    @sio.on("bin-ask")
    async def bin_ask(sid: str, blob: bytes) -> None:
        # emit(callback=) rather than call(): the other way to wait for the client's ack.
        acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await sio.emit(
            "bin-question", {"blob": blob}, to=sid, callback=lambda *a: acked.set_result(a)
        )
        reply = await asyncio.wait_for(acked, TIMEOUT)
        harness.binaries.append(reply)
        await sio.emit("bin-answer", reply, to=sid)

    @sio.event
    def seq(sid: str, index: int, value: str | bytes) -> None:
        harness.sequence.append((index, value))

    @sio.on("seq-done")
    def seq_done(sid: str, big: bytes) -> tuple[list[int], int, bytes]:
        return [index for index, _ in harness.sequence], len(big), big[-3:]

    @sio.event
    def where(sid: str) -> tuple[str, str]:
        return "/", sid

    @sio.event
    async def whoami(sid: str) -> Any:
        return (await sio.get_session(sid)).get("user")

    @sio.on("kick me")
    async def kick_me(sid: str) -> None:
        await sio.disconnect(sid)

    @sio.on("connect", namespace="/chat")
    async def chat_connect(sid: str, environ: dict[str, Any]) -> None:
        harness.connects.append(("/chat", sid, None))
        await sio.enter_room(sid, "lobby", namespace="/chat")

    @sio.on("disconnect", namespace="/chat")
    def chat_disconnect(sid: str, reason: str) -> None:
        harness.disconnects.put_nowait(("/chat", sid, reason))

    @sio.on("where", namespace="/chat")
    def chat_where(sid: str) -> tuple[str, str]:
        return "/chat", sid

    @sio.on("chat message", namespace="/chat")
    async def chat_message(sid: str, text: str) -> None:
        # A binary broadcast to a room: encoded once, the same attachments for everyone.
        message = {"from": sid, "text": text, "raw": b"\x00\x01"}
        await sio.emit("chat message", message, room="lobby", namespace="/chat")

    return harness


@contextlib.asynccontextmanager
async def front_door(
    sio: AsyncServer, door: str, socketio_path: str = "socket.io"
) -> AsyncIterator[int]:
    """Serve ``sio`` standalone or as an ASGI app under uvicorn on 127.0.0.1; yields the port."""
    if door == "standalone":
        async with sio.listen("127.0.0.1", 0, socketio_path=socketio_path) as front:
            yield front.port
        return
    # Bound here, so the port is known and connections queue before uvicorn is up.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        ASGIApp(sio, socketio_path=socketio_path),
        host="127.0.0.1",
        port=0,
        lifespan="on",
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)
        sock.close()


# ------------------------------------------------------------------------- Node side


async def run_node(
    node: Any, port: int, mode: str, scenario: str, parser: str = "json", **options: Any
) -> list[dict[str, Any]]:
    """Run tests/node/sio_client.js to completion; returns the events it printed."""
    proc = await asyncio.create_subprocess_exec(
        node.executable,
        node.script("sio_client.js"),
        f"http://127.0.0.1:{port}",
        MODES[mode],
        parser,
        scenario,
        json.dumps(options),
        cwd=node.directory,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    events = [json.loads(line) for line in out.decode().splitlines()]
    assert proc.returncode == 0, (events, err.decode())
    assert events[-1] == {"event": "done"}, events
    return events


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` on each loop iteration, failing after TIMEOUT seconds."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0)


def of(events: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    """The events of one kind whose fields equal ``match``."""
    return [
        e for e in events if e["event"] == kind and all(e.get(k) == v for k, v in match.items())
    ]


def connect_transport(mode: str) -> set[str]:
    """The transports a namespace may be connected over (an upgrade may win the race)."""
    return {"polling", "websocket"} if mode == "upgrade" else {mode}


def check_echo_round(events: list[dict[str, Any]], round: int) -> list[str]:
    """Assert one round of the echo scenario; returns the transports it went over."""
    echo = [e for e in of(events, "recv", name="echo") if e["args"][1] == round]
    assert [e["args"] for e in echo] == [["hello", round, UNICODE]]
    acks = {e["name"]: e["args"] for e in of(events, "ack")}
    assert acks == {"sum": [5], "pair": ["a", 1], "nothing": []}
    answers = [e for e in of(events, "recv", name="answer") if e["args"][0]["answer"] == round + 1]
    assert [e["args"] for e in answers] == [[{"answer": round + 1}, "extra"]]
    return [e["transport"] for e in (*echo, *answers)]


# --------------------------------------------------------------------------- Node tests


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", MODES)
async def test_node_events_and_acks(node: Any, door: str, mode: str) -> None:
    """Events both ways, acks both ways (client emit with ack, server ``call``)."""
    harness = make_server()
    async with front_door(harness.sio, door) as port:
        events = await run_node(node, port, mode, "echo")
        namespace, sid, reason = await harness.disconnected()
    (connected,) = of(events, "connect")
    assert connected["transport"] in connect_transport(mode)
    # What the connect handler emitted arrives right after CONNECT, before anything else.
    first = of(events[events.index(connected) :], "recv")[0]
    assert (first["name"], first["args"]) == ("welcome", [connected["id"]])
    assert (namespace, sid, reason) == ("/", connected["id"], "client namespace disconnect")
    assert harness.connects == [("/", sid, None)]
    transports = check_echo_round(events, 1)
    if mode == "upgrade":
        assert of(events, "upgrade") == [{"event": "upgrade", "transport": "websocket"}]
        assert check_echo_round(events, 2) == ["websocket", "websocket"]
        assert harness.transports[-1] == "websocket"
    else:
        assert transports == [mode, mode]
        assert harness.transports == [mode]
    assert of(events, "disconnect") == [
        {"event": "disconnect", "nsp": "/", "reason": "io client disconnect"}
    ]
    assert harness.sio.eio.sessions == {}


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", MODES)
async def test_node_binary(node: Any, door: str, mode: str) -> None:
    """Nested binary values both ways, in events and in acks."""
    harness = make_server()
    async with front_door(harness.sio, door) as port:
        events = await run_node(node, port, mode, "binary")
        await harness.disconnected()
    check_binary(harness, events)


def check_binary(harness: Harness, events: list[dict[str, Any]]) -> None:
    nested = {"blob": b"\x01\x02\x03", "list": [b"\x00\xff", "text", {"deep": b"caf\xc3\xa9"}]}
    nested["empty"] = b""
    assert harness.binaries[0] == (nested, b"\x09\x08\x07")
    shown = {
        "blob": b("010203"),
        "list": [b("00ff"), "text", {"deep": b("636166c3a9")}],
        "empty": b(""),
    }
    (ack,) = of(events, "ack", name="bin")
    assert ack["args"] == [{"got": shown, "reversed": b("070809")}]
    (echoed,) = of(events, "recv", name="bin")
    assert echoed["args"] == [shown, b("090807")]
    # The server's emit(callback=) to the client, acked with binary values.
    assert harness.binaries[1] == (
        {"back": b"\xde\xad\xbe\xef\xff", "list": [b"", b"\xde\xad\xbe\xef"]},
    )
    (question,) = of(events, "recv", name="bin-question")
    assert question["args"] == [{"blob": b("deadbeef")}]
    (answer,) = of(events, "recv", name="bin-answer")
    assert answer["args"] == [{"back": b("deadbeefff"), "list": [b(""), b("deadbeef")]}]
    # The burst arrived in order, every binary value whole; then the 100 kB attachment.
    assert harness.sequence == [(i, bytes([i]) if i % 2 else f"#{i}") for i in range(20)]
    tail = bytes(i % 251 for i in range(100000 - 3, 100000))
    (done,) = of(events, "ack", name="seq-done")
    assert done["args"] == [list(range(20)), 100000, b(tail.hex())]


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", MODES)
async def test_node_namespaces(node: Any, door: str, mode: str) -> None:
    """ "/" and "/chat" over one connection; an unknown namespace is refused."""
    harness = make_server()
    async with front_door(harness.sio, door) as port:
        events = await run_node(node, port, mode, "namespaces")
        left = [await harness.disconnected(), await harness.disconnected()]
    root = of(events, "connect", nsp="/")[0]
    chat = of(events, "connect", nsp="/chat")[0]
    assert root["engine"] == chat["engine"]  # one Engine.IO connection
    assert root["id"] != chat["id"]  # a sid per namespace
    assert root["transport"] in connect_transport(mode)
    assert sorted(harness.connects) == sorted(
        [("/", root["id"], None), ("/chat", chat["id"], None)]
    )
    assert of(events, "connect_error") == [
        {"event": "connect_error", "nsp": "/nope", "message": "Invalid namespace", "data": None}
    ]
    assert [e["args"] for e in of(events, "ack", name="where")] == [
        ["/", root["id"]],
        ["/chat", chat["id"]],
        ["/", root["id"]],
    ]
    (message,) = of(events, "recv", name="chat message")
    assert message["nsp"] == "/chat"
    assert message["args"] == [{"from": chat["id"], "text": "hi all", "raw": b("0001")}]
    # "welcome" was emitted by the connect handler of "/" only, and came after CONNECT.
    assert [e["nsp"] for e in of(events, "recv", name="welcome")] == ["/"]
    assert events.index(root) < events.index(of(events, "recv", name="welcome")[0])
    assert left == [
        ("/chat", chat["id"], "client namespace disconnect"),
        ("/", root["id"], "client namespace disconnect"),
    ]


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_node_namespace_without_root(node: Any, door: str, mode: str) -> None:
    """io(".../chat") joins "/chat" alone; "/" is never connected."""
    harness = make_server()
    async with front_door(harness.sio, door) as port:
        events = await run_node(node, port, mode, "chat-only")
        left = await harness.disconnected()
    (chat,) = of(events, "connect")
    assert chat["nsp"] == "/chat"
    assert harness.connects == [("/chat", chat["id"], None)]
    assert of(events, "ack", name="where")[0]["args"] == ["/chat", chat["id"]]
    assert left == ("/chat", chat["id"], "client namespace disconnect")


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS)
async def test_node_custom_path(node: Any, door: str) -> None:
    """A socketio_path other than socket.io, on both front doors."""
    harness = make_server()
    async with front_door(harness.sio, door, socketio_path="custom/sio") as port:
        events = await run_node(node, port, "upgrade", "echo", path="/custom/sio/")
        await harness.disconnected()
    check_echo_round(events, 1)
    check_echo_round(events, 2)


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", MODES)
async def test_node_auth(node: Any, door: str, mode: str) -> None:
    """The auth payload reaches the connect handler; a refusal is CONNECT_ERROR with data."""
    harness = make_server()
    async with front_door(harness.sio, door) as port:
        accepted = await run_node(node, port, mode, "auth", token="good")
        _, sid, _ = await harness.disconnected()
        refused = await run_node(node, port, mode, "auth", token="bad")
    assert of(accepted, "connect")[0]["id"] == sid
    assert of(accepted, "ack", name="whoami")[0]["args"] == ["alice"]
    assert harness.connects[0] == ("/", sid, {"token": "good"})
    assert not of(refused, "connect")
    assert of(refused, "connect_error") == [
        {
            "event": "connect_error",
            "nsp": "/",
            "message": "Not authorized",
            "data": {"reason": "bad token", "retry": False},
        }
    ]
    assert harness.connects[1][2] == {"token": "bad"}
    # What the connect handler emitted before refusing is dropped with the socket.
    assert not of(refused, "recv")
    # The refused socket never connected: no disconnect handler ran for it.
    assert harness.disconnects.empty()


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", MODES)
async def test_node_server_disconnect(node: Any, door: str, mode: str) -> None:
    harness = make_server()
    async with front_door(harness.sio, door) as port:
        events = await run_node(node, port, mode, "server-disconnect")
        namespace, sid, reason = await harness.disconnected()
    assert (namespace, sid) == ("/", of(events, "connect")[0]["id"])
    assert reason == "server namespace disconnect"
    assert of(events, "disconnect") == [
        {"event": "disconnect", "nsp": "/", "reason": "io server disconnect"}
    ]


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", ["client-disconnect", "client-close"])
async def test_node_client_disconnect(node: Any, door: str, mode: str, scenario: str) -> None:
    """socket.disconnect() sends DISCONNECT; closing the engine just drops the connection."""
    harness = make_server()
    async with front_door(harness.sio, door) as port:
        events = await run_node(node, port, mode, scenario)
        namespace, sid, reason = await harness.disconnected()
    assert (namespace, sid) == ("/", of(events, "connect")[0]["id"])
    if scenario == "client-disconnect":
        assert reason == "client namespace disconnect"
        assert of(events, "disconnect")[0]["reason"] == "io client disconnect"
    else:
        # engine.io-client sends a close packet under polling, and just closes a WebSocket.
        assert reason == ("client disconnect" if mode == "polling" else "transport close")
        assert of(events, "disconnect")[0]["reason"] == "forced close"
    assert harness.sio.eio.sessions == {}


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("mode", MODES)
async def test_node_msgpack(node: Any, mode: str) -> None:
    """socket.io-msgpack-parser against serializer="msgpack": events, acks, binary, refusal."""
    harness = make_server(serializer="msgpack")
    async with front_door(harness.sio, "standalone") as port:
        events = await run_node(node, port, mode, "echo", parser="msgpack")
        assert (await harness.disconnected())[2] == "client namespace disconnect"
        check_echo_round(events, 1)
        binary = await run_node(node, port, mode, "binary", parser="msgpack")
        await harness.disconnected()
        check_binary(harness, binary)
        refused = await run_node(node, port, mode, "auth", parser="msgpack", token="bad")
        assert of(refused, "connect_error")[0]["data"] == {"reason": "bad token", "retry": False}
        spaces = await run_node(node, port, mode, "namespaces", parser="msgpack")
        await harness.disconnected()
        await harness.disconnected()
    assert of(spaces, "connect_error")[0]["message"] == "Invalid namespace"
    chat = of(spaces, "connect", nsp="/chat")[0]
    (message,) = of(spaces, "recv", name="chat message")
    assert message["args"] == [{"from": chat["id"], "text": "hi all", "raw": b("0001")}]


# ------------------------------------------------------------- python-socketio client


PY_TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("mode", "serializer"),
    [
        ("polling", "default"),
        ("websocket", "default"),
        ("upgrade", "default"),
        ("polling", "msgpack"),
        ("websocket", "msgpack"),
    ],
)
async def test_python_client(mode: str, serializer: str) -> None:
    """python-socketio's AsyncClient: events, acks both ways, binary, two namespaces."""
    harness = make_server(serializer=serializer)
    client = socketio.AsyncClient(reconnection=False, serializer=serializer)
    received: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()

    @client.on("*")
    def any_event(event: str, *args: Any) -> None:
        received.put_nowait((event, args))

    @client.on("*", namespace="/chat")
    def any_chat_event(event: str, *args: Any) -> None:
        received.put_nowait(("/chat " + event, args))

    @client.event
    def question(data: dict[str, int]) -> tuple[dict[str, int], str]:
        return {"answer": data["q"] + 1}, "extra"

    @client.on("bin-question")
    def bin_question(data: dict[str, bytes]) -> dict[str, Any]:
        return {"back": data["blob"] + b"\xff", "list": [b"", data["blob"]]}

    async def next_event() -> tuple[str, tuple[Any, ...]]:
        return await asyncio.wait_for(received.get(), TIMEOUT)

    async with front_door(harness.sio, "standalone") as port:
        await client.connect(
            f"http://127.0.0.1:{port}",
            transports=PY_TRANSPORTS[mode],
            namespaces=["/", "/chat"],
            auth={"token": "good"},
            wait_timeout=TIMEOUT,
        )
        try:
            root_sid = client.get_sid("/")
            chat_sid = client.get_sid("/chat")
            assert client.transport() in connect_transport(mode)
            assert await next_event() == ("welcome", (root_sid,))
            await client.emit("echo", ("hello", 1, UNICODE))
            assert await next_event() == ("echo", ("hello", 1, UNICODE))
            assert await client.call("sum", (2, 3), timeout=TIMEOUT) == 5
            assert await client.call("pair", "a", timeout=TIMEOUT) == ("a", 1)
            assert await client.call("whoami", timeout=TIMEOUT) == "alice"
            assert await client.call("where", namespace="/chat", timeout=TIMEOUT) == (
                "/chat",
                chat_sid,
            )
            await client.emit("ask", 1)
            assert await next_event() == ("answer", ({"answer": 2}, "extra"))
            nested = {"blob": b"\x01\x02", "list": [b"\x00\xff", {"deep": b"\xc3\xa9"}]}
            reply = await client.call("bin", (nested, b"\x09\x08"), timeout=TIMEOUT)
            assert reply == {"got": nested, "reversed": b"\x08\x09"}
            assert await next_event() == ("bin", (nested, b"\x09\x08"))
            assert harness.binaries == [(nested, b"\x09\x08")]
            await client.emit("bin-ask", b"\xde\xad")
            expected = {"back": b"\xde\xad\xff", "list": [b"", b"\xde\xad"]}
            assert await next_event() == ("bin-answer", (expected,))
            await client.emit("chat message", "hi", namespace="/chat")
            message = {"from": chat_sid, "text": "hi", "raw": b"\x00\x01"}
            assert await next_event() == ("/chat chat message", (message,))
        finally:
            await client.disconnect()
        left = {await harness.disconnected(), await harness.disconnected()}
    assert {(namespace, sid) for namespace, sid, _ in left} == {
        ("/", root_sid),
        ("/chat", chat_sid),
    }
    reasons = {reason for _, _, reason in left}
    if mode == "polling":
        assert reasons == {"client namespace disconnect"}
    else:
        # python-engineio closes its WebSocket without flushing its send queue, so the
        # DISCONNECT packets python-socketio queued just before may never be sent.
        assert reasons <= {"client namespace disconnect", "transport close"}


@pytest.mark.asyncio
async def test_python_client_refused() -> None:
    """A refusal reaches python-socketio as connect_error data and a ConnectionError."""
    harness = make_server()
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append)
    async with front_door(harness.sio, "standalone") as port:
        url = f"http://127.0.0.1:{port}"
        with pytest.raises(socketio.exceptions.ConnectionError, match="failed to connect: /"):
            await client.connect(url, auth={"token": "bad"}, wait_timeout=TIMEOUT)
        assert errors == [
            {"message": "Not authorized", "data": {"reason": "bad token", "retry": False}}
        ]
        with pytest.raises(socketio.exceptions.ConnectionError, match="failed to connect: /nope"):
            await client.connect(url, namespaces=["/nope"], wait_timeout=TIMEOUT)
    assert harness.disconnects.empty()


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_python_client_server_disconnect(mode: str) -> None:
    harness = make_server()
    client = socketio.AsyncClient(reconnection=False)
    reasons: asyncio.Queue[Any] = asyncio.Queue()

    @client.event
    def disconnect(reason: Any = None) -> None:
        reasons.put_nowait(reason)

    async with front_door(harness.sio, "standalone") as port:
        await client.connect(f"http://127.0.0.1:{port}", transports=[mode], wait_timeout=TIMEOUT)
        sid = client.get_sid("/")
        await client.emit("kick me")
        assert await harness.disconnected() == ("/", sid, "server namespace disconnect")
        reason = await asyncio.wait_for(reasons.get(), TIMEOUT)
        assert reason == client.reason.SERVER_DISCONNECT
        # The disconnect handler runs before the client has sent its Engine.IO close: let it
        # finish, so no request of it races the server's shutdown.
        await until(lambda: client.eio.state == "disconnected")
        await client.disconnect()
