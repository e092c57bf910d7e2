"""A round-robin TCP proxy, a cluster of ``roundrobin_server.py`` processes, and the scenario
clients of ``test_sio_roundrobin.py`` (ours in process, Node's as a subprocess).

The proxy sends each new TCP connection to the next server, with no affinity. So that every
HTTP request can land on any server, it adds ``Connection: close`` to the head of each
request that is not a WebSocket upgrade: the server closes after its response, and the client
opens a new connection (to the next server) for its next request. A server that refuses the
connection (killed) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster_kit import _read_ready, _terminate

from socketio_core.aio import AsyncClient

HERE = Path(__file__).parent
SERVER_SCRIPT = HERE / "roundrobin_server.py"
MAX_HEAD = 64 * 1024


@dataclass
class RoundRobinProxy:
    """Each accepted connection goes to the next port of ``backends``."""

    backends: list[int]
    port: int = 0
    connections: int = 0
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await self._relay(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # stop(): end quietly (asyncio logs a cancelled handler)
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        for _ in range(len(self.backends)):
            port = self.backends[self.connections % len(self.backends)]
            self.connections += 1
            with contextlib.suppress(OSError):
                return await asyncio.open_connection("127.0.0.1", port)
        raise OSError("no backend accepts")

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            return
        lines = head.decode("latin-1").split("\r\n")
        if not any(line.lower().startswith("upgrade:") for line in lines):
            kept = [line for line in lines[1:] if not line.lower().startswith("connection:")]
            lines = [lines[0], "Connection: close", *kept]
            head = "\r\n".join(lines).encode("latin-1")
        up_reader, up_writer = await self._connect()
        try:
            up_writer.write(head)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    uid: str


def start_servers(url: str, channel: str, count: int = 3) -> list[Server]:
    """Start ``count`` ``roundrobin_server.py`` processes on one Redis channel."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), url, channel],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    servers = []
    deadline = time.monotonic() + 30
    try:
        for proc in procs:
            ready = _read_ready(proc, deadline)
            servers.append(Server(proc, ready["port"], ready["uid"]))
    except BaseException:
        for proc in procs:
            _terminate(proc)
        raise
    return servers


def stop_servers(servers: list[Server]) -> None:
    for server in servers:
        _terminate(server.proc)


class Barrier:
    """Start the rounds once every client of a test is connected (and in its room)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.go = asyncio.Event()

    def arrived(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.go.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.go.wait(), 60)


@dataclass
class Outcome:
    """What a scenario client saw."""

    name: str
    received: dict[str, list[int]]
    transport: str
    reconnects: int
    errors: list[str]
    sessions: list[str]


async def run_ours(
    url: str,
    name: str,
    room: str,
    peers: list[str],
    rounds: int,
    transports: list[str],
    barrier: Barrier,
    *,
    retry: bool = False,
    on_progress: Callable[[int], None] | None = None,
    on_session: Callable[[str], None] | None = None,
) -> Outcome:
    """The scenario of ``tests/node/sio_roundrobin_client.js``, with our AsyncClient."""
    client = AsyncClient(reconnection=retry, reconnection_delay=0.1, reconnection_delay_max=0.5)
    received: dict[str, list[int]] = {}
    errors: list[str] = []
    owners: list[str] = []
    connects = 0
    changed = asyncio.Event()

    @client.on("double")
    async def double(n: int) -> int:
        return 2 * n

    @client.on("room_msg")
    async def room_msg(msg: dict[str, Any]) -> None:
        received.setdefault(msg["from"], []).append(msg["k"])
        changed.set()

    @client.on("connect")
    async def connected() -> None:
        nonlocal connects
        connects += 1

    async def call(event: str, data: Any = None) -> Any:
        for _ in range(100):
            try:
                return await client.call(event, data, timeout=15)
            except Exception as exc:
                if not retry:
                    raise
                errors.append(f"retried {event}: {exc!r}")
                await asyncio.sleep(0.1)  # reconnecting: the client's own backoff runs
        raise AssertionError(f"{name}: {event} failed 100 times")

    await client.connect(url, auth={"name": name, "room": room}, transports=transports)
    try:
        barrier.arrived()
        await barrier.wait()
        owners.append((await call("stats"))["uid"])
        if on_session is not None:
            on_session(owners[0])
        for k in range(rounds):
            echoed = await call("echo", {"name": name, "k": k})
            if echoed != {"name": name, "k": k}:
                errors.append(f"echo {k}: {echoed}")
            if (doubled := await call("ask_back", k)) != 2 * k:
                errors.append(f"ask_back {k}: {doubled}")
            if await call("to_room", {"room": room, "from": name, "k": k}) is not True:
                errors.append(f"to_room {k}")
            if on_progress is not None:
                on_progress(k)
        owners.append((await call("stats"))["uid"])
        deadline = time.monotonic() + 20

        def complete() -> bool:
            if retry:  # what was sent while a client was reconnecting is lost (no recovery)
                waited = [name] if connects > 1 else peers
                return all(rounds - 1 in received.get(p, []) for p in waited)
            return all(len(received.get(p, [])) >= rounds for p in peers)

        while not complete() and time.monotonic() < deadline:
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), deadline - time.monotonic())
        return Outcome(name, received, client.transport() or "", connects - 1, errors, owners)
    finally:
        await client.disconnect()


async def run_node(
    node: Any,
    url: str,
    name: str,
    room: str,
    peers: list[str],
    rounds: int,
    transports: list[str],
    barrier: Barrier,
    *,
    retry: bool = False,
    on_progress: Callable[[int], None] | None = None,
    on_session: Callable[[str], None] | None = None,
) -> Outcome:
    """Run ``sio_roundrobin_client.js``; its outcome."""
    options = {
        "name": name,
        "room": room,
        "peers": peers,
        "rounds": rounds,
        "transports": transports,
        "retry": retry,
    }
    proc = await asyncio.create_subprocess_exec(
        node.executable,
        node.script("sio_roundrobin_client.js"),
        url,
        json.dumps(options),
        cwd=node.directory,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    stdin = proc.stdin

    async def start() -> None:
        await barrier.wait()
        stdin.write(b"go\n")
        await stdin.drain()

    starter: asyncio.Task[None] | None = None
    sessions: list[str] = []
    try:
        async with asyncio.timeout(100):
            while line := await proc.stdout.readline():
                item = json.loads(line)
                if item["event"] == "connected":
                    barrier.arrived()
                    starter = asyncio.create_task(start())
                elif item["event"] == "session":
                    sessions.append(item["uid"])  # the process serving it
                    if on_session is not None:
                        on_session(sessions[-1])
                elif item["event"] == "progress" and on_progress is not None:
                    on_progress(item["k"])
                elif item["event"] == "done":
                    return Outcome(
                        name,
                        item["received"],
                        item["transport"],
                        item["reconnects"],
                        item["errors"],
                        sessions,
                    )
                elif item["event"] == "error":
                    raise AssertionError(f"{name}: {item['message']}")
            raise AssertionError(f"{name} exited with {await proc.wait()}")
    finally:
        if starter is not None:
            starter.cancel()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
