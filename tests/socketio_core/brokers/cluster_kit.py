"""Helpers of the pub/sub manager tests: brokers, clusters and clients (see conftest.py).

* ``redis_broker`` / ``amqp_broker`` (session scope): a private ``redis-server`` and a private
  RabbitMQ node, each on free loopback ports of its own, with its data in a temp dir; stopped
  at the end of the session. ``scripts/install-brokers.sh`` (run by ``make setup``) installs
  them; without them the tests are skipped, except under ``CI`` where they fail.
* ``start_cluster(broker)``: three server processes (``cluster_server.py``) sharing one broker
  channel, each on its own port, ready once every server knows the two others.
* ``SioClient``: a raw Engine.IO-over-WebSocket Socket.IO client on :func:`websocket.aio.connect`
  that records the events it gets and answers ``ask`` events with an ack.

Nothing sleeps to wait: broker start-up, membership and deliveries are polled with bounded
deadlines (:func:`until`), reads are bounded by ``TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from websocket.aio import Connection, connect
from websocket.exceptions import ConnectionClosed

HERE = Path(__file__).parent
SERVER_SCRIPT = HERE / "cluster_server.py"
TIMEOUT = 10.0
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], deadline: float, what: str) -> None:
    """Poll until something accepts on 127.0.0.1:port (bounded; fails if ``proc`` dies)."""
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {port} in time")
        time.sleep(0.05)  # polling a child process's port; there is no event to await


def _missing(tool: str) -> None:
    message = f"{tool} is not installed (scripts/install-brokers.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _terminate(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """Stop a process group we started, by its id."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@dataclass
class RedisBroker:
    """A private redis-server."""

    dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    kind: str = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        return f"unix://{self.dir / 'redis.sock'}?db=0"

    def start(self) -> None:
        exe = shutil.which("redis-server") or _missing("redis-server")
        assert exe is not None
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no"]
        args += ["--unixsocket", str(self.dir / "redis.sock"), "--unixsocketperm", "700"]
        with (self.dir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        wait_port(self.port, self.proc, time.monotonic() + 20, "redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc)
            self.proc = None


@dataclass
class AmqpBroker:
    """A private RabbitMQ node: its own node name, ports, epmd port and data dir."""

    dir: Path
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    kind: str = "amqp"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        base = self.dir
        env = dict(os.environ)
        env.update(
            HOME=str(base),
            RABBITMQ_NODENAME=f"sio{self.port}@localhost",
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_CONFIG_FILE=str(base / "rabbitmq"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_PLUGINS_EXPAND_DIR=str(base / "plugins-expand"),
            RABBITMQ_PID_FILE=str(base / "rabbitmq.pid"),
            # the Erlang distribution listens on loopback only
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def start(self) -> None:
        if not RABBITMQ_SERVER.exists():
            _missing("rabbitmq-server")
        for sub in ("mnesia", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n"
            "management_agent.disable_metrics_collector = true\n"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")
        with (self.dir / "rabbitmq.out").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(RABBITMQ_SERVER)],
                env=self.env(),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_port(self.port, self.proc, time.monotonic() + 90, "rabbitmq-server")

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc, grace=30)
            self.proc = None
        # The node started an epmd daemon on its private port: ask that epmd to stop.
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)},
                capture_output=True,
                timeout=10,
                check=False,
            )


# ---------------------------------------------------------------------- clusters


@dataclass
class ServerProc:
    proc: subprocess.Popen[bytes]
    port: int
    uid: str

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"


class Cluster:
    """Server processes that share one broker channel."""

    def __init__(self, broker: Any, servers: list[ServerProc], channel: str) -> None:
        self.broker = broker
        self.servers = servers
        self.channel = channel

    def pause(self, index: int) -> None:
        os.kill(self.servers[index].proc.pid, signal.SIGSTOP)

    def resume(self, index: int) -> None:
        os.kill(self.servers[index].proc.pid, signal.SIGCONT)

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.proc.pid, signal.SIGCONT)
            _terminate(server.proc, grace=10)


def _read_ready(proc: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    assert proc.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            raise RuntimeError(f"server did not start (exit {proc.poll()}): {line!r}")
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"server exited (exit {proc.wait()}): {line!r}")
            line += chunk
    result: dict[str, Any] = json.loads(line)
    return result


def start_cluster(broker: Any, count: int = 3, **options: Any) -> Cluster:
    """Start ``count`` server processes on ``broker``; ready when each knows every other."""
    channel = options.pop("channel", f"sio-test-{os.getpid()}-{time.monotonic_ns()}")
    procs = []
    for _ in range(count):
        args = [sys.executable, str(SERVER_SCRIPT), broker.kind, broker.url, channel]
        args.append(json.dumps(options))
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, start_new_session=True))
    servers = []
    deadline = time.monotonic() + 30
    try:
        for proc in procs:
            ready = _read_ready(proc, deadline)
            servers.append(ServerProc(proc, ready["port"], ready["uid"]))
    except BaseException:
        for proc in procs:
            _terminate(proc)
        raise
    return Cluster(broker, servers, channel)


# ----------------------------------------------------------------------- clients


class SioClient:
    """A raw Socket.IO client that records events and acks ``ask`` events."""

    def __init__(self, ws: Connection, name: str, *, mute: bool = False) -> None:
        self.ws = ws
        self.name = name
        self.mute = mute
        self.sid = ""
        self.events: list[tuple[str, list[Any]]] = []
        self.disconnected = False
        self.changed = asyncio.Event()
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._reader: asyncio.Task[None] | None = None

    async def start(self, auth: dict[str, Any]) -> None:
        opening = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        assert isinstance(opening, str) and opening.startswith("0{"), opening
        await self.ws.send("40" + json.dumps(auth))
        reply = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        assert isinstance(reply, str) and reply.startswith("40{"), reply
        self.sid = json.loads(reply[2:])["sid"]
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                message = await self.ws.recv()
                assert isinstance(message, str), message
                if message == "2":
                    await self.ws.send("3")
                elif message.startswith("42"):
                    await self._on_event(message[2:])
                elif message.startswith("43"):
                    body = message[2:]
                    bracket = body.index("[")
                    future = self._acks.pop(int(body[:bracket]), None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(body[bracket:]))
                elif message.startswith("41"):
                    self.disconnected = True
                self.changed.set()
        except ConnectionClosed:
            self.disconnected = True
            self.changed.set()

    async def _on_event(self, body: str) -> None:
        bracket = body.index("[")
        ack_id = int(body[:bracket]) if bracket else None
        name, *args = json.loads(body[bracket:])
        self.events.append((name, args))
        if ack_id is not None and name == "ask" and not self.mute:
            reply = json.dumps([{"from": self.sid, "args": args}])
            await self.ws.send(f"43{ack_id}{reply}")

    async def op(self, **request: Any) -> Any:
        """Ask the server to run a cluster operation; returns its result."""
        ack_id = self._next
        self._next += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self.ws.send(f"42{ack_id}" + json.dumps(["op", request]))
        result = await asyncio.wait_for(future, 30)
        assert isinstance(result, list) and len(result) == 1, result
        assert "error" not in result[0] or request.get("expect_error"), result[0]
        return result[0]

    def got(self, name: str) -> list[list[Any]]:
        """The argument lists of every ``name`` event received."""
        return [args for event, args in self.events if event == name]

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        with contextlib.suppress(Exception):
            await self.ws.abort()


async def until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` (bounded by ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def open_client(
    server: ServerProc,
    name: str,
    rooms: list[str] = (),
    *,
    mute: bool = False,  # type: ignore[assignment]
) -> SioClient:
    ws = await connect(server.url, compression=None, open_timeout=TIMEOUT)
    client = SioClient(ws, name, mute=mute)
    await client.start({"name": name, "rooms": list(rooms)})
    return client


async def fence(origin: SioClient, clients: list[SioClient], tag: str) -> None:
    """Emit ``fence`` to everyone from ``origin``'s server and wait until every connected
    client got it: whatever that server published before has been handled everywhere."""
    await origin.op(op="emit", event="fence", data=tag)
    await until(
        lambda: all(c.disconnected or [tag] in c.got("fence") for c in clients),
        f"fence {tag}",
    )
