"""Connection state recovery with Node's socket.io-client 4.8 against our server, standalone
and as an ASGI app under uvicorn, over websocket and polling, through a proxy that cuts the
TCP connections (``tests/node/sio_recovery_client.js``).

While the client is away the server emits 100 events to its room and 10 to its sid; the
client reconnects inside the window: ``socket.recovered === true``, the same ``socket.id``,
the 110 events in order, none twice, five drops in a row. After the window: not recovered, a
new id. Bad input (a forged pid, a huge or negative offset, another session's offset): a new
session and nothing replayed. Waits are bounded: the client's JSON lines are awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from socketio_core.aio import ASGIApp, AsyncServer

pytestmark = [pytest.mark.node, pytest.mark.asyncio]

TIMEOUT = 10.0
MODES = ["websocket", "polling"]
DOORS = ["standalone", "uvicorn"]


@dataclass
class ServerSide:
    sio: AsyncServer
    connects: list[tuple[str, bool, str | None]] = field(default_factory=list)
    disconnects: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    port: int = 0

    async def drop_seen(self) -> tuple[str, str]:
        return await asyncio.wait_for(self.disconnects.get(), TIMEOUT)

    async def emit_while_away(self, sid: str, base: int) -> list[int]:
        for i in range(100):
            await self.sio.emit("news", base + i, room="r")
        for i in range(100, 110):
            await self.sio.emit("news", base + i, to=sid)
        return list(range(base, base + 110))


def make_server(window: float) -> ServerSide:
    sio = AsyncServer(
        connection_state_recovery={"max_disconnection_duration": window},
        ping_interval=0.3,
        ping_timeout=0.5,
    )
    side = ServerSide(sio)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        recovered = environ["socketio.recovered"]
        side.connects.append((sid, recovered, environ["socketio.recovery_failure"]))
        if not recovered:
            await sio.enter_room(sid, "r")
            await sio.emit("welcome", to=sid)

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        side.disconnects.put_nowait((sid, reason))

    @sio.event
    async def barrier(sid: str) -> None:
        await sio.emit("end", to=sid)

    return side


@contextlib.asynccontextmanager
async def served(door: str, window: float = 30.0) -> AsyncIterator[ServerSide]:
    side = make_server(window)
    if door == "standalone":
        async with side.sio.listen("127.0.0.1", 0) as front:
            side.port = front.port
            yield side
        return
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        ASGIApp(side.sio),
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
        side.port = int(sock.getsockname()[1])
        yield side
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)
        sock.close()


class NodeClient:
    """tests/node/sio_recovery_client.js, driven by lines on stdin, read by lines on stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, node: Any, port: int, mode: str, **options: Any) -> NodeClient:
        proc = await asyncio.create_subprocess_exec(
            node.executable,
            node.script("sio_recovery_client.js"),
            f"http://127.0.0.1:{port}",
            mode,
            json.dumps(options),
            cwd=node.directory,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def next(self, kind: str) -> dict[str, Any]:
        """The next line of ``kind`` (the lines of other kinds on the way are kept)."""
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
            assert raw, "the Node client ended"
            line = json.loads(raw)
            assert line["event"] != "error", line
            self.lines.append(line)
            if line["event"] == kind:
                return line

    async def command(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()

    async def news_until_end(self) -> list[list[Any]]:
        """The args of every "news" received until the "end" of a barrier."""
        start = len(self.lines)
        await self.command("emit barrier")
        while True:
            line = await self.next("recv")
            if line["name"] == "end":
                return [x["args"] for x in self.lines[start:] if x.get("name") == "news"]

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.command("exit")
                await asyncio.wait_for(self.proc.wait(), TIMEOUT)
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("mode", MODES)
async def test_node_client_recovers_five_times_in_a_row(
    node: Any, cut_proxy: Any, door: str, mode: str
) -> None:
    async with served(door) as side:
        proxy = await cut_proxy(side.port)
        client = await NodeClient.start(node, proxy.port, mode)
        try:
            first = await client.next("connect")
            assert first["recovered"] is False
            sid = first["id"]
            welcome = await client.next("recv")
            assert welcome["name"] == "welcome" and len(welcome["args"]) == 1  # the offset
            for round_ in range(1, 6):
                proxy.cut()
                gone, reason = await side.drop_seen()
                assert gone == sid, reason
                expected = await side.emit_while_away(sid, 1000 * round_)
                proxy.resume()
                again = await client.next("connect")
                assert (again["id"], again["recovered"]) == (sid, True), round_
                news = await client.news_until_end()
                assert [args[0] for args in news] == expected  # in order, none twice
                offsets = [args[1] for args in news]
                assert len(set(offsets)) == 110 and all(isinstance(o, str) for o in offsets)
                assert side.connects[-1] == (sid, True, None)
        finally:
            await client.close()


async def test_node_client_after_the_window_gets_a_new_session(node: Any, cut_proxy: Any) -> None:
    async with served("standalone", window=0.5) as side:
        proxy = await cut_proxy(side.port)
        client = await NodeClient.start(node, proxy.port, "websocket")
        try:
            sid = (await client.next("connect"))["id"]
            await client.next("recv")  # welcome
            proxy.cut()
            await side.drop_seen()
            await side.emit_while_away(sid, 0)
            store = side.sio.manager.recovery
            assert store is not None
            async with asyncio.timeout(TIMEOUT):
                while store.session_count:  # the window's end: the manager's timer drops it
                    await asyncio.sleep(0.01)
            proxy.resume()
            again = await client.next("connect")
            assert again["recovered"] is False and again["id"] != sid
            assert side.connects[-1] == (again["id"], False, "unknown pid")
            assert await client.news_until_end() == []
        finally:
            await client.close()


@pytest.mark.parametrize("case", ["forged pid", "huge offset", "negative offset", "other offset"])
async def test_node_client_with_bad_recovery_input_gets_a_new_session(
    node: Any, cut_proxy: Any, case: str
) -> None:
    async with served("standalone") as side:
        proxy = await cut_proxy(side.port)
        # Victim: drops with missed packets; other: a live socket whose offsets are known.
        victim = await NodeClient.start(node, proxy.port, "websocket")
        other = await NodeClient.start(node, side.port, "websocket")
        try:
            victim_sid = (await victim.next("connect"))["id"]
            victim_offset = (await victim.next("recv"))["args"][-1]
            other_sid = (await other.next("connect"))["id"]
            other_offset = (await other.next("recv"))["args"][-1]
            proxy.cut()
            await side.drop_seen()
            await side.emit_while_away(victim_sid, 0)
            store = side.sio.manager.recovery
            assert store is not None and store.session_count == 1
            victim_pid = store.pids()[0]
            epoch = victim_offset.rsplit("-", 1)[0]
            auth = {
                "forged pid": {"pid": "forged", "offset": victim_offset},
                "huge offset": {"pid": victim_pid, "offset": f"{epoch}-{'f' * 15}"},
                "negative offset": {"pid": victim_pid, "offset": f"{epoch}--1"},
                "other offset": {"pid": victim_pid, "offset": other_offset},
            }[case]
            thief = await NodeClient.start(node, side.port, "websocket", auth=auth)
            try:
                connect = await thief.next("connect")
                assert connect["recovered"] is False
                assert connect["id"] not in (victim_sid, other_sid)
                reason = "unknown pid" if case == "forged pid" else "unknown offset"
                assert side.connects[-1] == (connect["id"], False, reason)
                assert (await thief.next("recv"))["name"] == "welcome"
                assert await thief.news_until_end() == []  # nothing replayed
            finally:
                await thief.close()
            assert store.session_count == 1  # the victim's session is untouched
            proxy.resume()
            back = await victim.next("connect")
            assert (back["id"], back["recovered"]) == (victim_sid, True)
            assert len(await victim.news_until_end()) == 110
        finally:
            await victim.close()
            await other.close()
