"""Tests for engineio_core.aio.asgi (and engineio_core.static): ASGIApp under real ASGI servers.

Each test runs the app in this process under uvicorn and under hypercorn, on a socket bound
here to 127.0.0.1 port 0 (so the port is known and connections queue before the server is
up: nothing to wait for). Peers are Node's engine.io-client 6.6 (tests/node/eio_client.js) and
raw HTTP/1.1 requests made with h11, which send the target exactly as written (``..``
included).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import mimetypes
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import hypercorn.asyncio
import hypercorn.config
import pytest
import uvicorn

from engineio_core.aio import ASGIApp, AsyncServer
from engineio_core.aio.asgi import _ASGIWebSocket
from engineio_core.static import StaticFile, resolve_static

TIMEOUT = 10.0
SERVERS = ["uvicorn", "hypercorn"]
TEXT = ["hello", "h\u00e9llo \u2603 \U0001f600"]
BINARY = bytes([0, 1, 2, 254, 255])


# --------------------------------------------------------------------------- harness


@contextlib.asynccontextmanager
async def serve(app: Any, kind: str, **options: Any) -> AsyncIterator[int]:
    """Run ``app`` under uvicorn or hypercorn on 127.0.0.1; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = int(sock.getsockname()[1])
    if kind == "uvicorn":
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            lifespan="on",
            log_level="warning",
            log_config=None,
            timeout_graceful_shutdown=2,
            **options,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            yield port
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, TIMEOUT)
            sock.close()
    else:
        hconfig = hypercorn.config.Config()
        hconfig.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the socket from here
        hconfig.graceful_timeout = 2
        for name, value in options.items():
            setattr(hconfig, name, value)
        stop = asyncio.Event()
        task = asyncio.create_task(
            hypercorn.asyncio.serve(app, hconfig, shutdown_trigger=stop.wait)
        )
        try:
            yield port
        finally:
            stop.set()
            await asyncio.wait_for(task, TIMEOUT)


@dataclass
class Echo:
    """An AsyncServer that echoes every message, and what its handlers saw."""

    eio: AsyncServer
    connects: list[str] = field(default_factory=list)
    environs: list[dict[str, Any]] = field(default_factory=list)
    disconnects: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)

    async def disconnected(self) -> tuple[str, str]:
        return await asyncio.wait_for(self.disconnects.get(), TIMEOUT)


def echo_server(**kwargs: Any) -> Echo:
    echo = Echo(AsyncServer(**kwargs))

    @echo.eio.on("connect")
    def on_connect(sid: str, environ: dict[str, Any]) -> None:
        echo.connects.append(sid)
        echo.environs.append(environ)

    @echo.eio.on("message")
    async def on_message(sid: str, data: str | bytes) -> None:
        if data == "__close__":
            await echo.eio.disconnect(sid)
        else:
            await echo.eio.send(sid, data)

    @echo.eio.on("disconnect")
    def on_disconnect(sid: str, reason: str) -> None:
        echo.disconnects.put_nowait((sid, str(reason)))

    return echo


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


async def http(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Reply:
    """One HTTP/1.1 request on a fresh connection, the target sent as it is."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h11.Connection(h11.CLIENT)
    head = [("Host", f"127.0.0.1:{port}"), ("Connection", "close"), *(headers or [])]
    if method == "POST":
        head.append(("Content-Length", str(len(body))))
    try:
        writer.write(conn.send(h11.Request(method=method, target=target, headers=head)) or b"")
        if body:
            writer.write(conn.send(h11.Data(data=body)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        status, reply_headers, parts = 0, {}, []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await asyncio.wait_for(reader.read(65536), TIMEOUT))
            elif isinstance(event, h11.Response):
                status = event.status_code
                reply_headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return Reply(status, reply_headers, b"".join(parts))
    finally:
        writer.close()


async def handshake(port: int, path: str = "/engine.io/") -> str:
    """Open a polling session; returns its sid."""
    reply = await http(port, "GET", f"{path}?EIO=4&transport=polling")
    assert reply.status == 200, reply
    assert reply.body.startswith(b"0"), reply.body
    sid: str = json.loads(reply.body[1:])["sid"]
    return sid


async def upgrade_status(port: int, target: str, origin: str | None) -> int:
    """Send a WebSocket opening handshake; returns the response status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        return int(head.split(b" ", 2)[1])
    finally:
        writer.transport.abort()


async def run_client(node: Any, port: int, transports: str, **options: Any) -> list[dict[str, Any]]:
    """Run tests/node/eio_client.js to completion; returns the events it printed."""
    proc = await asyncio.create_subprocess_exec(
        node.executable,
        node.script("eio_client.js"),
        f"http://127.0.0.1:{port}",
        transports,
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
    return events


def received(events: list[dict[str, Any]]) -> list[tuple[str | bytes, str]]:
    """(message, transport) for each message the Node client received."""
    result: list[tuple[str | bytes, str]] = []
    for event in events:
        if event["event"] == "message":
            data = event["data"] if event["type"] == "text" else base64.b64decode(event["data"])
            result.append((data, event["transport"]))
    return result


# ----------------------------------------------------------- Node engine.io-client


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize(
    ("mode", "transports", "options"),
    [
        ("polling", "polling", {}),
        ("websocket", "websocket", {}),
        ("upgrade", "polling,websocket", {"waitUpgrade": True}),
    ],
)
async def test_node_client_echo(
    node: Any, kind: str, mode: str, transports: str, options: dict[str, Any]
) -> None:
    echo = echo_server()
    async with serve(ASGIApp(echo.eio), kind) as port:
        events = await run_client(node, port, transports, **options)
        sid, reason = await echo.disconnected()
    opened = events[0]
    assert opened["event"] == "open"
    assert opened["sid"] == sid == echo.connects[0]
    assert opened["transport"] == ("websocket" if mode == "websocket" else "polling")
    one_round: list[str | bytes] = [*TEXT, BINARY]
    messages = received(events)
    if mode == "upgrade":
        assert {"event": "upgrade", "transport": "websocket"} in events
        assert [data for data, _ in messages] == one_round * 2
        assert {transport for _, transport in messages[3:]} == {"websocket"}
    else:
        assert [data for data, _ in messages] == one_round
        assert {transport for _, transport in messages} == {opened["transport"]}
        assert not any(event["event"] == "upgrade" for event in events)
    assert events[-1] == {"event": "close", "reason": "forced close"}
    # engine.io-client sends a close packet under polling, and just closes a WebSocket.
    assert reason == ("client disconnect" if mode == "polling" else "transport close")


@pytest.mark.node
@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize("transports", ["polling", "websocket"])
async def test_node_client_server_disconnect(node: Any, kind: str, transports: str) -> None:
    echo = echo_server()
    async with serve(ASGIApp(echo.eio), kind) as port:
        events = await run_client(node, port, transports, serverClose=True)
        sid, reason = await echo.disconnected()
    assert len(received(events)) == 3
    assert events[-1] == {"event": "close", "reason": "transport close"}
    assert (sid, reason) == (events[0]["sid"], "server disconnect")
    assert echo.eio.sessions == {}


@pytest.mark.node
@pytest.mark.asyncio
async def test_root_path_is_honoured(node: Any) -> None:
    """uvicorn puts root_path in front of path; the Engine.IO path is matched after it."""
    echo = echo_server()
    async with serve(ASGIApp(echo.eio), "uvicorn", root_path="/prefix") as port:
        events = await run_client(node, port, "websocket")
        await echo.disconnected()
    assert echo.environs[0]["SCRIPT_NAME"] == "/prefix"
    assert echo.environs[0]["PATH_INFO"] == "/prefix/engine.io/"
    assert [data for data, _ in received(events)] == [*TEXT, BINARY]


# --------------------------------------------------------------------- polling


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SERVERS)
async def test_parked_get_client_disconnect_closes_session(kind: str) -> None:
    echo = echo_server()
    app = ASGIApp(echo.eio)
    parked = asyncio.Event()

    async def watch(scope: Any, receive: Any, send: Any) -> None:
        """Sets ``parked`` when a polling GET waits for its answer (its second receive)."""
        calls = 0

        async def counting_receive() -> Any:
            nonlocal calls
            calls += 1
            if calls == 2 and "sid=" in scope.get("query_string", b"").decode():
                parked.set()
            return await receive()

        await app(scope, counting_receive, send)

    async with serve(watch, kind) as port:
        sid = await handshake(port)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n\r\n".encode()
        )
        await asyncio.wait_for(parked.wait(), TIMEOUT)
        writer.close()
        assert await echo.disconnected() == (sid, "transport error")
        assert sid not in echo.eio.sessions


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SERVERS)
async def test_polling_post_and_body_limit(kind: str) -> None:
    echo = echo_server(max_http_buffer_size=100)
    async with serve(ASGIApp(echo.eio), kind) as port:
        sid = await handshake(port)
        target = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
        reply = await http(port, "POST", target, body=b"4hi")
        assert (reply.status, reply.body) == (200, b"ok")
        reply = await http(port, "GET", target)
        assert (reply.status, reply.body) == (200, b"4hi")
        # A client that leaves in the middle of a POST body: nothing reaches the session.
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n4abc".encode()
        )
        await writer.drain()
        writer.close()
        reply = await http(port, "POST", target, body=b"4" + b"x" * 200)
        assert reply.status == 413
        assert await echo.disconnected() == (sid, "transport error")


# ------------------------------------------------------------------------ CORS


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SERVERS)
async def test_foreign_origin_refused(kind: str) -> None:
    echo = echo_server()
    async with serve(ASGIApp(echo.eio), kind) as port:
        same = f"http://127.0.0.1:{port}"
        polling = "/engine.io/?EIO=4&transport=polling"
        websocket = "/engine.io/?EIO=4&transport=websocket"
        reply = await http(port, "GET", polling, [("Origin", "http://evil.example")])
        assert reply.status == 403
        assert json.loads(reply.body) == {"code": 4, "message": "Forbidden"}
        reply = await http(port, "GET", polling, [("Origin", same)])
        assert reply.status == 200
        assert reply.headers["access-control-allow-origin"] == same
        assert await upgrade_status(port, websocket, "http://evil.example") == 403
        assert await upgrade_status(port, websocket, same) == 101
        # That last WebSocket-only session ends when its connection is aborted.
        _, reason = await echo.disconnected()
        assert reason == "transport close"
        assert len(echo.connects) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kind", "options", "extension"),
    [
        ("uvicorn", {}, True),
        ("hypercorn", {}, True),
        ("uvicorn", {"ws": "wsproto"}, True),
        ("uvicorn", {}, False),
    ],
    ids=["uvicorn", "hypercorn", "uvicorn-wsproto", "no-extension"],
)
async def test_websocket_refusals(kind: str, options: dict[str, Any], extension: bool) -> None:
    """Refused upgrades get the server's status with the websocket.http.response extension,
    and a close before accept (which the ASGI server answers with 403) without it."""
    echo = echo_server()
    app = ASGIApp(echo.eio)

    async def without_extension(scope: Any, receive: Any, send: Any) -> None:
        """An ASGI server that does not offer websocket.http.response, simulated."""
        scope = {**scope, "extensions": {}} if scope["type"] == "websocket" else scope
        await app(scope, receive, send)

    async with serve(app if extension else without_extension, kind, **options) as port:
        sid = await handshake(port)
        refusals = {
            "/engine.io/?EIO=4&transport=websocket&sid=unknown": 400,
            "/engine.io/?EIO=4&transport=polling": 400,
            "/engine.io/?EIO=3&transport=websocket": 400,
        }
        for target, status in refusals.items():
            assert await upgrade_status(port, target, None) == (status if extension else 403)
        assert await upgrade_status(port, "/engine.io/", "http://evil.example") == 403
        target = f"/engine.io/?EIO=4&transport=websocket&sid={sid}"
        assert await upgrade_status(port, target, None) == 101
        # The probe never came: the aborted upgrade leaves the polling session as it was.
        assert echo.eio.transport(sid) == "polling"
        assert echo.connects == [sid]


# ------------------------------------------- other app, static files, lifespan


@dataclass
class Other:
    """A tiny raw ASGI app that answers every HTTP request and speaks lifespan."""

    log: list[str]
    lifespan: bool = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            if not self.lifespan:
                raise RuntimeError("no lifespan here")
            while True:
                message = await receive()
                self.log.append(f"other {message['type']}")
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            body = f"other {scope['method']} {scope['path']}".encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1000})


async def assert_closed(echo: Echo, sid: str) -> None:
    """The lifespan shutdown closed this polling session at once, as server disconnect."""
    assert await echo.disconnected() == (sid, "server disconnect")
    assert sid not in echo.eio.sessions


def hooks(log: list[str]) -> dict[str, Callable[[], Any]]:
    async def on_startup() -> None:
        log.append("startup")

    def on_shutdown() -> None:
        log.append("shutdown")

    return {"on_startup": on_startup, "on_shutdown": on_shutdown}


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SERVERS)
async def test_other_app_gets_other_paths_and_lifespan(kind: str, tmp_path: Path) -> None:
    log: list[str] = []
    echo = echo_server()
    (tmp_path / "page.html").write_text("<p>page</p>")
    app = ASGIApp(
        echo.eio, Other(log), static_files={"/page": str(tmp_path / "page.html")}, **hooks(log)
    )
    async with serve(app, kind) as port:
        reply = await http(port, "POST", "/api/items?x=1", body=b"{}")
        assert (reply.status, reply.body) == (200, b"other POST /api/items")
        # Both servers run the lifespan startup before they accept a connection.
        assert log == ["other lifespan.startup", "startup"]
        reply = await http(port, "GET", "/page")
        assert (reply.status, reply.body) == (200, b"<p>page</p>")
        assert (await http(port, "GET", "/nope")).body == b"other GET /nope"
        sid = await handshake(port, "/engine.io")
    await assert_closed(echo, sid)
    assert log == ["other lifespan.startup", "startup", "other lifespan.shutdown", "shutdown"]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SERVERS)
async def test_lifespan_hooks_and_shutdown_closes_sessions(kind: str) -> None:
    log: list[str] = []
    echo = echo_server()
    async with serve(ASGIApp(echo.eio, **hooks(log)), kind) as port:
        sid = await handshake(port)
        assert log == ["startup"]
        assert (await http(port, "GET", "/elsewhere")).status == 404
    assert log == ["startup", "shutdown"]
    await assert_closed(echo, sid)


@pytest.mark.asyncio
async def test_other_app_without_lifespan_support() -> None:
    log: list[str] = []
    app = ASGIApp(echo_server().eio, Other(log, lifespan=False), **hooks(log))
    async with serve(app, "uvicorn") as port:
        assert (await http(port, "GET", "/x")).body == b"other GET /x"
    assert log == ["startup", "shutdown"]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", SERVERS)
async def test_static_files(kind: str, tmp_path: Path) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (tmp_path / "index.html").write_text("<h1>index</h1>")
    (tmp_path / "pyproject.toml").write_text("secret")
    (public / "app.js").write_text("let x = 1;")
    (public / "style.css").write_text("p {}")
    static = {"/": str(tmp_path / "index.html"), "/static": str(public)}
    async with serve(ASGIApp(echo_server().eio, static_files=static), kind) as port:
        reply = await http(port, "GET", "/")
        assert (reply.status, reply.body) == (200, b"<h1>index</h1>")
        assert reply.headers["content-type"] == "text/html"
        reply = await http(port, "GET", "/static/app.js")
        assert (reply.status, reply.body) == (200, b"let x = 1;")
        assert reply.headers["content-type"] == mimetypes.guess_type("app.js")[0]
        reply = await http(port, "HEAD", "/static/style.css")
        assert (reply.status, reply.body) == (200, b"")
        assert reply.headers["content-type"] == "text/css"
        for target in [
            "/static/../pyproject.toml",
            "/static/%2e%2e/pyproject.toml",
            "/static/..%2fpyproject.toml",
            "/static/missing.js",
            "/static",
        ]:
            reply = await http(port, "GET", target)
            assert (reply.status, reply.body) == (404, b"not found\n"), target
        assert await upgrade_status(port, "/chat", None) == 404


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", StaticFile("index.html", "text/html")),
        ("/static/app.css", StaticFile("./public/app.css", "text/css")),
        ("/static/", StaticFile("./public/home.htm", "text/html")),
        ("/static/a/b.css", StaticFile("./public/a/b.css", "text/css")),
        ("/logo", StaticFile("logo.svg", "image/x-custom")),
        ("/data/", StaticFile("data/home.htm", "text/html")),
        ("/data/x", StaticFile("data/x", "application/octet-stream")),
        ("/static/../pyproject.toml", None),
        ("/static/a/..", None),
        ("/static//etc/passwd", None),
        ("/static/a\\..\\b", None),
        ("/static/a\x00", None),
        ("/other", StaticFile("index.html/other", "application/octet-stream")),
    ],
)
def test_resolve_static(path: str, expected: StaticFile | None) -> None:
    config = {
        "/": "index.html",
        "/static": "./public",
        "/logo": {"filename": "logo.svg", "content_type": "image/x-custom"},
        "/data/": "data/",
        "": {"filename": "home.htm", "content_type": "text/html"},
    }
    assert resolve_static(path, config) == expected


def test_resolve_static_default_index() -> None:
    assert resolve_static("/d/", {"/d": "dir"}) == StaticFile("dir/index.html", "text/html")
    assert resolve_static("/", {}) is None


# -------------------------------------------------------- the WebSocket adapter


@pytest.mark.asyncio
async def test_websocket_adapter_keeps_order_and_counts_backlog() -> None:
    gate = asyncio.Event()
    sent: list[Any] = []

    async def slow_send(message: Any) -> None:
        await gate.wait()
        sent.append(message)

    ws = _ASGIWebSocket(slow_send)
    sender = asyncio.create_task(ws.run())
    ws.write("h\u00e9llo")
    ws.write(b"\x00" * 10)
    ws.close()
    ws.close()
    ws.write("dropped: closing")
    assert ws.backlog == 6 + 10
    gate.set()
    await asyncio.wait_for(sender, TIMEOUT)
    assert sent == [
        {"type": "websocket.send", "text": "h\u00e9llo"},
        {"type": "websocket.send", "bytes": b"\x00" * 10},
        {"type": "websocket.close", "code": 1000},
    ]
    assert ws.backlog == 0


@pytest.mark.asyncio
async def test_websocket_adapter_stops_on_a_failed_send() -> None:
    async def broken_send(message: Any) -> None:
        raise OSError("gone")

    ws = _ASGIWebSocket(broken_send)
    ws.write("a")
    ws.write("b")
    await asyncio.wait_for(ws.run(), TIMEOUT)
    assert ws.backlog == 0
    ws.write("c")
    assert ws.backlog == 0


# ----------------------------------------------- edge cases, driven by hand
# Branches no ASGI server produces on demand; the app is called with scripted messages.


class Script:
    """Scripted ASGI ``receive`` messages, and the messages the app sent."""

    def __init__(self, *incoming: dict[str, Any], fail_on: str | None = None) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in incoming:
            self.incoming.put_nowait(message)
        self.sent: list[dict[str, Any]] = []
        self.fail_on = fail_on

    async def receive(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.incoming.get(), TIMEOUT)

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == self.fail_on:
            raise OSError("the client is gone")
        self.sent.append(message)


def scope(kind: str, query: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "method": "GET",
        "path": "/engine.io/",
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1234),
        **extra,
    }


async def direct_handshake(app: ASGIApp) -> str:
    script = Script({"type": "http.request", "body": b""})
    await app(scope("http", "EIO=4&transport=polling"), script.receive, script.send)
    sid: str = json.loads(script.sent[1]["body"][1:])["sid"]
    return sid


@pytest.mark.asyncio
async def test_websocket_edge_cases() -> None:
    echo = echo_server()
    app = ASGIApp(echo.eio)
    ws_only = scope("websocket", "EIO=4&transport=websocket")
    # The client leaves before the handshake is handed to the app: no session.
    script = Script({"type": "websocket.disconnect", "code": 1006})
    await app(ws_only, script.receive, script.send)
    assert (script.sent, echo.connects) == ([], [])
    # The accept fails: the new WebSocket-only session ends at once.
    script = Script({"type": "websocket.connect"}, fail_on="websocket.accept")
    await app(ws_only, script.receive, script.send)
    assert await echo.disconnected() == (echo.connects[0], "transport close")
    # An upgrade for a session that is closing is accepted, then closed.
    sid = await direct_handshake(app)
    await echo.eio.disconnect(sid)
    script = Script({"type": "websocket.connect"})
    await app(
        scope("websocket", f"EIO=4&transport=websocket&sid={sid}"), script.receive, script.send
    )
    assert script.sent == [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1000}]
    with pytest.raises(ValueError, match="unsupported ASGI scope type"):
        await app({"type": "telepathy"}, script.receive, script.send)


@pytest.mark.asyncio
async def test_parked_get_ignores_other_messages_until_disconnect() -> None:
    echo = echo_server()
    app = ASGIApp(echo.eio, engineio_path=None)  # None: every path is Engine.IO's
    sid = await direct_handshake(app)
    script = Script(
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b""},
        {"type": "http.request", "body": b"stray"},
        {"type": "http.disconnect"},
    )
    poll = scope("http", f"EIO=4&transport=polling&sid={sid}", path="/anything")
    await app(poll, script.receive, script.send)
    assert script.sent == []
    assert await echo.disconnected() == (sid, "transport error")


class ScriptedOther:
    """An ``other_asgi_app`` whose lifespan behaviour is chosen per test."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.behaviour == "consume-then-raise":
            await receive()
            raise RuntimeError("lifespan? what lifespan?")
        if self.behaviour == "fail-startup":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            return
        await receive()
        await send({"type": "lifespan.startup.complete"})
        raise RuntimeError("crashed after startup")


@pytest.mark.asyncio
async def test_lifespan_edge_cases() -> None:
    log: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    startup = {"type": "lifespan.startup"}
    shutdown = {"type": "lifespan.shutdown"}
    lifespan = {"type": "lifespan"}
    # An other app that takes the startup message and then fails: ours runs from there.
    app = ASGIApp(echo_server().eio, ScriptedOther("consume-then-raise"), **hooks(log))
    script = Script(startup, shutdown)
    await app(lifespan, script.receive, script.send)
    assert [m["type"] for m in script.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert log == ["startup", "shutdown"]
    # An other app that fails its startup: reported as it is, our hook does not run.
    app = ASGIApp(echo_server().eio, ScriptedOther("fail-startup"), **hooks(log))
    script = Script(startup)
    await app(lifespan, script.receive, script.send)
    assert script.sent == [{"type": "lifespan.startup.failed", "message": "no database"}]
    # An other app that crashes once started: the ASGI server sees the crash.
    app = ASGIApp(echo_server().eio, ScriptedOther("crash"), **hooks(log))
    with pytest.raises(RuntimeError, match="crashed after startup"):
        await app(lifespan, Script(startup).receive, Script().send)
    # Failing hooks fail their step.
    app = ASGIApp(echo_server().eio, on_startup=broken, on_shutdown=broken)
    script = Script(startup, shutdown)
    await app(lifespan, script.receive, script.send)
    assert [m["type"] for m in script.sent] == [
        "lifespan.startup.failed",
        "lifespan.shutdown.failed",
    ]
    assert "boom" in script.sent[0]["message"]
