"""Interop tests for the Engine.IO server: reference clients against our standalone server.

* Node's engine.io-client 6.6 (tests/node/eio_standalone_client.js, run with ``node``);
* python-engineio's ``AsyncClient`` (aiohttp), in this process.

Each over polling only, WebSocket only, and polling upgraded to WebSocket: text and binary
messages both ways (types kept), 100 messages in order each way, and the end of the session
from either side.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import engineio
import pytest

from engineio_core.aio.server import AsyncServer
from engineio_core.aio.standalone import StandaloneServer

TIMEOUT = 10.0
NODE_DIR = Path(__file__).resolve().parents[2] / "node"
NODE_MISSING = (
    "node is not on PATH"
    if shutil.which("node") is None
    else "tests/node/node_modules has no engine.io-client (run npm ci in tests/node)"
    if not (NODE_DIR / "node_modules" / "engine.io-client").is_dir()
    else ""
)
skip_without_node = pytest.mark.skipif(bool(NODE_MISSING), reason=NODE_MISSING or "-")

# mode -> (client transports, transport once connected)
MODES: dict[str, tuple[list[str], str]] = {
    "polling": (["polling"], "polling"),
    "websocket": (["websocket"], "websocket"),
    "upgrade": (["polling", "websocket"], "websocket"),
}


class Recorder:
    """The server application: every event lands in a queue."""

    def __init__(self, eio: AsyncServer) -> None:
        self.connected: asyncio.Queue[str] = asyncio.Queue()
        self.messages: asyncio.Queue[tuple[str, str | bytes]] = asyncio.Queue()
        self.disconnects: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        eio.on("connect", lambda sid, environ: self.connected.put_nowait(sid))
        eio.on("message", lambda sid, data: self.messages.put_nowait((sid, data)))
        eio.on("disconnect", lambda sid, reason: self.disconnects.put_nowait((sid, reason)))

    async def message(self) -> tuple[str, str | bytes]:
        return await asyncio.wait_for(self.messages.get(), TIMEOUT)

    async def disconnect(self) -> tuple[str, str]:
        return await asyncio.wait_for(self.disconnects.get(), TIMEOUT)


@asynccontextmanager
async def running() -> AsyncIterator[tuple[AsyncServer, StandaloneServer, Recorder]]:
    # Short heartbeat, so that pings and pongs happen during every test.
    eio = AsyncServer(ping_interval=0.5, ping_timeout=2.0)
    recorder = Recorder(eio)
    async with eio.listen("127.0.0.1", 0) as front:
        yield eio, front, recorder


async def until(predicate: Any, timeout: float = TIMEOUT) -> None:
    """Poll a condition with a bounded deadline."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


TEXT_OUT = ["hello", "héllo wörld ✓", ""]
BINARY_OUT = [b"\x00\x01\xff", bytes(range(256))]


# ------------------------------------------------------------------------------ Node


class NodeClient:
    """A running tests/node/eio_standalone_client.js."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def event(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
        assert line, "the Node client exited"
        event: dict[str, Any] = json.loads(line)
        return event

    async def command(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()

    async def messages(self, count: int) -> list[str | bytes]:
        got: list[str | bytes] = []
        while len(got) < count:
            event = await self.event()
            assert event["event"] == "message", event
            data = event["data"]
            got.append(base64.b64decode(data) if event["type"] == "binary" else data)
        return got


@asynccontextmanager
async def node_client(port: int, transports: list[str]) -> AsyncIterator[NodeClient]:
    options = {"transports": transports, "upgrade": len(transports) > 1}
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "eio_standalone_client.js"),
        f"http://127.0.0.1:{port}",
        json.dumps(options),
        cwd=NODE_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield NodeClient(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


@pytest.mark.node
@skip_without_node
@pytest.mark.asyncio
@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("mode", MODES)
async def test_node_client(mode: str, side: str) -> None:
    transports, expected = MODES[mode]
    async with running() as (eio, front, rec), node_client(front.port, transports) as client:
        opened = await client.event()
        assert opened["event"] == "open"
        sid = opened["sid"]
        assert opened["transport"] == transports[0]
        assert await asyncio.wait_for(rec.connected.get(), TIMEOUT) == sid
        if mode == "upgrade":
            assert await client.event() == {"event": "upgrade", "transport": "websocket"}
            await until(lambda: eio.transport(sid) == "websocket")
        assert eio.transport(sid) == expected

        # Server -> client: text stays text, binary stays binary.
        for item in [*TEXT_OUT, *BINARY_OUT]:
            await eio.send(sid, item)
        assert await client.messages(5) == [*TEXT_OUT, *BINARY_OUT]
        # Client -> server.
        for text in TEXT_OUT:
            await client.command(send=text)
        for data in BINARY_OUT:
            await client.command(sendBinary=base64.b64encode(data).decode())
        assert [await rec.message() for _ in range(5)] == [
            (sid, item) for item in [*TEXT_OUT, *BINARY_OUT]
        ]
        # 100 each way, in order.
        await client.command(burst=100, prefix="c")
        assert [await rec.message() for _ in range(100)] == [(sid, f"c{i}") for i in range(100)]
        for i in range(100):
            await eio.send(sid, f"s{i}")
        assert await client.messages(100) == [f"s{i}" for i in range(100)]

        if side == "server":
            await eio.disconnect(sid)
            closed = await client.event()
            assert closed["event"] == "close"
            assert closed["reason"] in ("transport close", "forced close")
            assert await rec.disconnect() == (sid, "server disconnect")
        else:
            await client.command(close=True)
            assert (await client.event())["event"] == "close"
            got_sid, reason = await rec.disconnect()
            assert got_sid == sid
            # Over polling the client posts a close packet; over WebSocket it closes the socket.
            assert reason == ("client disconnect" if expected == "polling" else "transport close")
        await until(lambda: eio.sessions == {})
        assert client.proc.stdin is not None
        client.proc.stdin.close()
        assert await asyncio.wait_for(client.proc.wait(), TIMEOUT) == 0


# --------------------------------------------------------------------- python-engineio


class PyClient:
    """python-engineio's AsyncClient with its events queued."""

    def __init__(self) -> None:
        self.client = engineio.AsyncClient()
        self.messages: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.disconnected: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.client.on("message", self.messages.put_nowait)
        self.client.on("disconnect", lambda *args: self.disconnected.put_nowait(args))

    async def received(self, count: int) -> list[str | bytes]:
        return [await asyncio.wait_for(self.messages.get(), TIMEOUT) for _ in range(count)]


@pytest.mark.asyncio
@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("mode", MODES)
async def test_python_engineio_peer(mode: str, side: str) -> None:
    transports, expected = MODES[mode]
    async with running() as (eio, front, rec):
        peer = PyClient()
        await peer.client.connect(f"http://127.0.0.1:{front.port}", transports=transports)
        try:
            sid = peer.client.sid
            assert await asyncio.wait_for(rec.connected.get(), TIMEOUT) == sid
            await until(lambda: eio.transport(sid) == expected)
            assert peer.client.transport() == expected

            # python-engineio JSON-decodes text messages; these are not JSON.
            text_out = ["hello", "héllo wörld ✓"]
            for item in [*text_out, *BINARY_OUT]:
                await eio.send(sid, item)
            assert await peer.received(4) == [*text_out, *BINARY_OUT]
            for item in [*text_out, *BINARY_OUT]:
                await peer.client.send(item)
            assert [await rec.message() for _ in range(4)] == [
                (sid, item) for item in [*text_out, *BINARY_OUT]
            ]
            for i in range(100):
                await peer.client.send(f"c{i}")
            assert [await rec.message() for _ in range(100)] == [(sid, f"c{i}") for i in range(100)]
            # python-engineio's client refuses a polling payload of more than 16 packets
            # (payload.Payload.max_decode_packets), and a server (Node, python-engineio, ours)
            # sends whatever is queued in one payload: send in batches of 10.
            for batch in range(10):
                for i in range(10):
                    await eio.send(sid, f"s{batch * 10 + i}")
                assert await peer.received(10) == [f"s{batch * 10 + i}" for i in range(10)]
        finally:
            if side == "server":
                await eio.disconnect(sid)
                assert await rec.disconnect() == (sid, "server disconnect")
                assert await asyncio.wait_for(peer.disconnected.get(), TIMEOUT) is not None
                # python-engineio's write loop only notices at its next queue timeout
                # (pingTimeout + 5 s): tell it instead of waiting.
                await peer.client.disconnect(abort=True)
            else:
                await peer.client.disconnect()
                got_sid, reason = await rec.disconnect()
                assert got_sid == sid
                assert reason in ("client disconnect", "transport close")
                assert await asyncio.wait_for(peer.disconnected.get(), TIMEOUT) is not None
        await until(lambda: eio.sessions == {})
