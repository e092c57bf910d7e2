"""Interoperability with real peers over loopback: the ``websockets`` library and Node's ``ws``.

Our server is driven by the ``websockets`` asyncio client and by a scripted ``ws`` client
(``tests/node/ws_client.js``); our client drives a ``websockets`` asyncio server and a ``ws``
server (``tests/node/ws_server.js``). Each pairing runs with and without permessage-deflate and
exchanges text, binary, empty, 512 KiB and fragmented messages, a ping, and a closing handshake
whose code and reason must be visible on the other side.

The Node scripts print one JSON line per event; the tests read those lines with timeouts. They
need ``node`` and ``tests/node/node_modules`` (``make setup``); see the ``node`` fixture.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed as WsConnectionClosed

from websocket.aio import Connection, connect, serve
from websocket.deflate import DeflateOptions
from websocket.exceptions import ConnectionClosed

TIMEOUT = 10.0
LARGE = 512 * 1024
LARGE_BINARY = (bytes(range(251)) * (LARGE // 251 + 1))[:LARGE]
LARGE_TEXT = ("abcdefghijklmnopqrstuvwxyz" * (LARGE // 26 + 1))[:LARGE]

#: Whole messages every pairing exchanges, echoed back unchanged.
MESSAGES: list[str | bytes] = [
    "hello",
    b"\x00\x01\x02\xff binary",
    "",
    b"",
    "κόσμε \U0001d11e " * 20,
    "compressible " * 100,
    LARGE_BINARY,
    LARGE_TEXT,
]

compression_modes = pytest.mark.parametrize("deflate", [True, False], ids=["deflate", "plain"])


def extensions(headers: Any) -> str:
    """The Sec-WebSocket-Extensions value of a header collection, or ''."""
    if isinstance(headers, tuple):  # ours: (name, value) pairs
        values = [v for k, v in headers if k.lower() == "sec-websocket-extensions"]
        return ", ".join(values)
    return str(headers.get("Sec-WebSocket-Extensions", ""))


def check_negotiated(header: str, deflate: bool) -> None:
    """permessage-deflate is in the answer exactly when both sides wanted it."""
    assert ("permessage-deflate" in header) is deflate, header


async def recv(conn: Any) -> str | bytes:
    """Receive one message from either library's connection, with a timeout."""
    return await asyncio.wait_for(conn.recv(), TIMEOUT)  # type: ignore[no-any-return]


# ------------------------------------------------- websockets client -> our server


@pytest.mark.asyncio
@compression_modes
async def test_websockets_client_with_our_server(echo_server: Any, deflate: bool) -> None:
    options = DeflateOptions() if deflate else None
    async with echo_server(compression=options) as server:
        uri = f"ws://127.0.0.1:{server.port}/interop"
        async with ws_connect(uri, compression="deflate" if deflate else None) as ws:
            check_negotiated(extensions(ws.response.headers), deflate)
            for message in MESSAGES:
                await ws.send(message)
                assert await recv(ws) == message
            # Fragmented messages: websockets sends an iterable as one frame per item.
            await ws.send(["frag", "ment", "ed ✓"])
            assert await recv(ws) == "fragmented ✓"
            await ws.send([b"\x01", b"", b"\x02\x03"])
            assert await recv(ws) == b"\x01\x02\x03"
            pong = await ws.ping(b"interop ping")
            await asyncio.wait_for(pong, TIMEOUT)
            await ws.close(4001, "client done")
        assert (ws.close_code, ws.close_reason) == (4001, "client done")
        seen = await asyncio.wait_for(server.record.closes.get(), TIMEOUT)
        assert seen == (4001, "client done")


@pytest.mark.asyncio
async def test_our_server_close_code_reaches_websockets_client() -> None:
    async def handler(conn: Connection) -> None:
        assert await conn.recv() == "close me"
        await conn.close(4002, "server bye ✓")

    async with serve(handler, "127.0.0.1", 0) as server:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/") as ws:
            await ws.send("close me")
            with pytest.raises(WsConnectionClosed):
                await recv(ws)
        assert (ws.close_code, ws.close_reason) == (4002, "server bye ✓")


# ------------------------------------------------- our client -> websockets server


@contextlib.asynccontextmanager
async def websockets_echo(deflate: bool) -> AsyncIterator[tuple[int, asyncio.Queue[Any]]]:
    """A websockets echo server; the queue gets each message's fragments, then the close."""
    seen: asyncio.Queue[Any] = asyncio.Queue()

    async def handler(ws: ServerConnection) -> None:
        try:
            while True:
                fragments = [fragment async for fragment in ws.recv_streaming()]
                seen.put_nowait(fragments)
                message: str | bytes
                if fragments and isinstance(fragments[0], str):
                    message = "".join(fragments)
                else:
                    message = b"".join(fragments)
                if message == "close-me":
                    await ws.close(4003, "websockets bye")
                    break
                await ws.send(message)
        except WsConnectionClosed:
            pass
        await ws.wait_closed()
        seen.put_nowait(("closed", ws.close_code, ws.close_reason))

    compression = "deflate" if deflate else None
    async with ws_serve(handler, "127.0.0.1", 0, compression=compression) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield port, seen


@pytest.mark.asyncio
@compression_modes
async def test_our_client_with_websockets_server(deflate: bool) -> None:
    options = DeflateOptions() if deflate else None
    async with websockets_echo(deflate) as (port, seen):
        async with connect(f"ws://127.0.0.1:{port}/", compression=options) as conn:
            check_negotiated(extensions(conn.response_headers), deflate)
            for message in MESSAGES:
                await conn.send(message)
                assert await recv(conn) == message
                assert len(await asyncio.wait_for(seen.get(), TIMEOUT)) == 1
            await conn.send(["frag", "ment", "ed ✓"])
            assert await recv(conn) == "fragmented ✓"
            # The server saw three frames, not one.
            assert await asyncio.wait_for(seen.get(), TIMEOUT) == ["frag", "ment", "ed ✓"]
            await conn.send([b"\x01", b"\x02\x03"])
            assert await recv(conn) == b"\x01\x02\x03"
            assert await asyncio.wait_for(seen.get(), TIMEOUT) == [b"\x01", b"\x02\x03"]
            rtt = await asyncio.wait_for(await conn.ping(b"interop ping"), TIMEOUT)
            assert rtt >= 0
            await conn.close(4000, "bye")
        assert (conn.close_code, conn.close_reason) == (4000, "bye")
        assert await asyncio.wait_for(seen.get(), TIMEOUT) == ("closed", 4000, "bye")


@pytest.mark.asyncio
async def test_websockets_server_close_code_reaches_our_client() -> None:
    async with (
        websockets_echo(deflate=True) as (port, _seen),
        connect(f"ws://127.0.0.1:{port}/") as conn,
    ):
        await conn.send("close-me")
        with pytest.raises(ConnectionClosed) as info:
            await recv(conn)
        assert (info.value.code, info.value.reason) == (4003, "websockets bye")
        await conn.wait_closed()
        assert (conn.close_code, conn.close_reason) == (4003, "websockets bye")


# ------------------------------------------------- Node ws


class NodeProcess:
    """A Node script run as a subprocess, read as JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def event(self) -> dict[str, Any]:
        """The next JSON line on the script's stdout."""
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
        assert line, f"the Node script ended early: {await self.stderr()}"
        return json.loads(line)  # type: ignore[no-any-return]

    async def events(self) -> list[dict[str, Any]]:
        """Every remaining JSON line, until the script exits."""
        assert self.proc.stdout is not None
        out = await asyncio.wait_for(self.proc.stdout.read(), TIMEOUT)
        return [json.loads(line) for line in out.splitlines()]

    async def stderr(self) -> str:
        """What the script wrote to stderr."""
        assert self.proc.stderr is not None
        return (await asyncio.wait_for(self.proc.stderr.read(), TIMEOUT)).decode()


@contextlib.asynccontextmanager
async def run_node(node: Any, script: str, config: dict[str, Any]) -> AsyncIterator[NodeProcess]:
    """Run ``tests/node/<script>`` with a JSON config; it must exit 0 by the end of the block."""
    proc = await asyncio.create_subprocess_exec(
        node.executable,
        node.script(script),
        json.dumps(config),
        cwd=node.directory,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield NodeProcess(proc)
        returncode = await asyncio.wait_for(proc.wait(), TIMEOUT)
        assert returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def node_view(message: str | bytes) -> dict[str, Any]:
    """How the Node scripts print a message they received."""
    data = message.encode() if isinstance(message, str) else message
    kind = "text" if isinstance(message, str) else "binary"
    if len(data) > 1000:
        return {"type": kind, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(message, bytes):
        return {"type": kind, "b64": base64.b64encode(message).decode()}
    return {"type": kind, "data": message}


def node_step(message: str | bytes) -> dict[str, Any]:
    """The ws_client.js step that sends ``message``."""
    if message is LARGE_BINARY:
        return {"large": LARGE, "binary": True}
    if message is LARGE_TEXT:
        return {"large": LARGE, "binary": False}
    if isinstance(message, str):
        return {"text": message}
    return {"binary": base64.b64encode(message).decode()}


@pytest.mark.node
@pytest.mark.asyncio
@compression_modes
async def test_node_ws_client_with_our_server(echo_server: Any, node: Any, deflate: bool) -> None:
    steps = [node_step(m) for m in MESSAGES]
    steps += [
        {"fragments": ["frag", "ment", "ed ✓"]},
        {"fragments": ["\x01", "", "\x02"], "binary": True},
        {"ping": "node ping"},
    ]
    options = DeflateOptions() if deflate else None
    async with echo_server(compression=options) as server:
        config = {
            "url": f"ws://127.0.0.1:{server.port}/node",
            "deflate": deflate,
            "steps": steps,
            "close": {"code": 4000, "reason": "bye"},
        }
        async with run_node(node, "ws_client.js", config) as proc:
            events = await proc.events()
        assert events[0]["event"] == "open"
        check_negotiated(events[0]["extensions"], deflate)
        expected = [{"event": "message", **node_view(m)} for m in MESSAGES]
        expected += [
            {"event": "message", **node_view("fragmented ✓")},
            {"event": "message", **node_view(b"\x01\x02")},
            {"event": "pong", "data": "node ping"},
            {"event": "close", "code": 4000, "reason": "bye"},
        ]
        assert events[1:] == expected
        seen = await asyncio.wait_for(server.record.closes.get(), TIMEOUT)
        assert seen == (4000, "bye")


@pytest.mark.node
@pytest.mark.asyncio
@compression_modes
async def test_our_client_with_node_ws_server(node: Any, deflate: bool) -> None:
    options = DeflateOptions() if deflate else None
    async with run_node(node, "ws_server.js", {"deflate": deflate}) as proc:
        listening = await proc.event()
        assert listening["event"] == "listening"
        async with connect(f"ws://127.0.0.1:{listening['port']}/", compression=options) as conn:
            opened = await proc.event()
            assert opened["event"] == "connection"
            check_negotiated(opened["extensions"], deflate)
            check_negotiated(extensions(conn.response_headers), deflate)
            for message in MESSAGES:
                await conn.send(message)
                assert await recv(conn) == message
                assert await proc.event() == {"event": "message", **node_view(message)}
            await conn.send(["frag", "ment", "ed ✓"])
            assert await recv(conn) == "fragmented ✓"
            assert await proc.event() == {"event": "message", **node_view("fragmented ✓")}
            await asyncio.wait_for(await conn.ping(b"node ping"), TIMEOUT)
            assert await proc.event() == {"event": "ping", "data": "node ping"}
            await conn.close(4000, "bye")
        assert (conn.close_code, conn.close_reason) == (4000, "bye")
        assert await proc.events() == [{"event": "close", "code": 4000, "reason": "bye"}]


@pytest.mark.node
@pytest.mark.asyncio
async def test_node_ws_server_close_code_reaches_our_client(node: Any) -> None:
    async with run_node(node, "ws_server.js", {"deflate": True}) as proc:
        listening = await proc.event()
        async with connect(f"ws://127.0.0.1:{listening['port']}/") as conn:
            assert (await proc.event())["event"] == "connection"
            await conn.send("close-me 4004 node bye")
            with pytest.raises(ConnectionClosed) as info:
                await recv(conn)
            assert (info.value.code, info.value.reason) == (4004, "node bye")
            await conn.wait_closed()
        events = await proc.events()
        assert events[-1] == {"event": "close", "code": 4004, "reason": "node bye"}
