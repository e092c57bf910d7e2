"""Real Socket.IO clients on three server processes that share a broker (Redis, RabbitMQ).

Where ``test_sio_cluster.py`` drives the cluster with a raw frame-level client, this module
uses the clients people run: Node's socket.io-client 4.8 (``tests/node/sio_cluster_client.js``,
one process per client, driven over stdin) and our :class:`socketio_core.aio.AsyncClient`,
mixed over the three servers and over both transports::

    server 0: n0 Node [a]             o0 ours [b]
    server 1: n1 Node, polling [a,b]  o1 ours, polling []
    server 2: n2 Node [b]             o2 ours [a]

Each client joins its rooms through the server's ``op`` event (``enter_room``), and asks its
server to run cluster operations through the same event (``cluster_server.py``). A *fence*
(an emit to everyone, awaited on every client) proves that what a server published before it
was handled everywhere, so "did not receive" is checked without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cluster_kit import TIMEOUT, Cluster, ServerProc, fence, start_cluster, until

from socketio_core.aio import AsyncClient

ROOT = Path(__file__).resolve().parents[3]

#: (server, kind, name, rooms, transport)
LAYOUT: list[tuple[int, str, str, list[str], str]] = [
    (0, "node", "n0", ["a"], "websocket"),
    (0, "ours", "o0", ["b"], "websocket"),
    (1, "node", "n1", ["a", "b"], "polling"),
    (1, "ours", "o1", [], "polling"),
    (2, "node", "n2", ["b"], "websocket"),
    (2, "ours", "o2", ["a"], "websocket"),
]

#: A write-only emitter in a process of its own: ``python -c EMITTER KIND URL CHANNEL``.
EMITTER = """
import asyncio, sys
kind, url, channel = sys.argv[1:4]
if kind == "redis":
    from socketio_core.emitter import Emitter
    emitter = Emitter.redis(url, channel)
    emitter.emit("news", {"n": 1})
    emitter.emit("news_a", (1, "two"), to="a")
    emitter.emit("news_not_b", None, except_rooms=["b"])
    emitter.close()
else:
    from socketio_core.aio.aiopika_manager import AsyncAioPikaManager
    async def main():
        mgr = AsyncAioPikaManager(url, channel, write_only=True)
        await mgr.start()
        try:
            await mgr.emit_event("news", {"n": 1})
            await mgr.emit_event("news_a", (1, "two"), room="a")
            await mgr.emit_event("news_not_b", None, except_rooms=["b"])
        finally:
            await mgr.stop()
    asyncio.run(main())
"""


class NodeClient:
    """A socket.io-client process: records the events it prints, runs commands."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.sid = ""
        self.events: list[tuple[str, list[Any]]] = []
        self.disconnected = False
        self.errors: list[str] = []
        self._ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls, node: Any, server: ServerProc, name: str, rooms: list[str], transport: str
    ) -> NodeClient:
        proc = await asyncio.create_subprocess_exec(
            node.executable,
            node.script("sio_cluster_client.js"),
            f"http://127.0.0.1:{server.port}",
            json.dumps({"name": name, "rooms": rooms, "transports": [transport]}),
            cwd=node.directory,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        client = cls(proc, name)
        try:
            client.sid = await asyncio.wait_for(asyncio.shield(client._ready), TIMEOUT)
        except BaseException:
            await client.close()
            raise
        return client

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            item = json.loads(line)
            kind = item["event"]
            if kind == "ready" and not self._ready.done():
                self._ready.set_result(item["sid"])
            elif kind == "recv":
                self.events.append((item["name"], item["args"]))
            elif kind == "reply":
                future = self._replies.pop(item["id"])
                if not future.done():
                    future.set_result(item["args"][0])
            elif kind == "disconnect":
                self.disconnected = True
            elif kind == "error":
                self.errors.append(item["message"])
        self.disconnected = True
        error = RuntimeError(f"{self.name} exited: {self.errors}")
        for future in [self._ready, *self._replies.values()]:
            if not future.done():
                future.set_exception(error)

    async def op(self, **request: Any) -> Any:
        """Ask this client's server to run a cluster operation; returns its result."""
        assert self.proc.stdin is not None
        ident, self._next = self._next, self._next + 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[ident] = future
        self.proc.stdin.write(json.dumps({"id": ident, "emit": "op", "data": request}).encode())
        self.proc.stdin.write(b"\n")
        await self.proc.stdin.drain()
        result = await asyncio.wait_for(future, 30)
        assert "error" not in result or request.get("expect_error"), result
        return result

    def got(self, name: str) -> list[list[Any]]:
        return [args for event, args in self.events if event == name]

    async def close(self) -> None:
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.write(b'{"close": true}\n')
                await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(BaseException):
            await self._reader


class OurClient:
    """Our AsyncClient: records every event (catch-all), acks ``ask`` events."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sio = AsyncClient(reconnection=False)
        self.events: list[tuple[str, list[Any]]] = []
        self.sid = ""

        @self.sio.on("*")
        async def any_event(event: str, *args: Any) -> Any:
            self.events.append((event, list(args)))
            if event == "ask":
                return {"from": self.sio.sid, "args": list(args)}
            return None

    @classmethod
    async def open(
        cls, server: ServerProc, name: str, rooms: list[str], transport: str
    ) -> OurClient:
        client = cls(name)
        await client.sio.connect(
            f"http://127.0.0.1:{server.port}",
            auth={"name": name},
            transports=[transport],
            wait_timeout=TIMEOUT,
        )
        client.sid = client.sio.sid or ""
        for room in rooms:
            await client.op(op="enter_room", sid=client.sid, room=room)
        return client

    @property
    def disconnected(self) -> bool:
        return not self.sio.connected

    async def op(self, **request: Any) -> Any:
        result = await self.sio.call("op", request, timeout=30)
        assert isinstance(result, dict), result
        assert "error" not in result or request.get("expect_error"), result
        return result

    def got(self, name: str) -> list[list[Any]]:
        return [args for event, args in self.events if event == name]

    async def close(self) -> None:
        await self.sio.disconnect()


Client = NodeClient | OurClient


@pytest.fixture(scope="module", params=["redis", "amqp"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    broker = request.getfixturevalue(f"{request.param}_broker")
    cluster = start_cluster(broker)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest_asyncio.fixture
async def clients(cluster: Cluster, node: Any) -> AsyncIterator[list[Client]]:
    async def one(server: int, kind: str, name: str, rooms: list[str], transport: str) -> Client:
        where = cluster.servers[server]
        if kind == "node":
            return await NodeClient.open(node, where, name, rooms, transport)
        return await OurClient.open(where, name, rooms, transport)

    results = await asyncio.gather(*(one(*spec) for spec in LAYOUT), return_exceptions=True)
    opened = [c for c in results if not isinstance(c, BaseException)]
    try:
        for result in results:
            if isinstance(result, BaseException):
                raise result
        yield opened
    finally:
        await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)


def receivers(clients: list[Client], event: str) -> list[str]:
    """Names of the clients that got ``event``, once per delivery."""
    return sorted(c.name for c in clients for _ in c.got(event))


def names(clients: list[Client], rooms: set[str] | None = None) -> list[str]:
    return sorted(
        c.name
        for c, spec in zip(clients, LAYOUT, strict=True)
        if rooms is None or rooms & set(spec[3])
    )


@pytest.mark.node
@pytest.mark.asyncio
async def test_emits_reach_the_right_clients_once(clients: list[Client]) -> None:
    n0, _o0, n1, o1, n2, o2 = clients
    await n0.op(op="emit", event="all", data={"k": [1, "x"]})
    await n0.op(op="emit", event="room_a", to="a")
    await n0.op(op="emit", event="to_node_sid", to=n2.sid, data=2)
    await n0.op(op="emit", event="to_our_sid", to=o1.sid, data=3)
    await n0.op(op="emit", event="skip_node", to="a", skip_sid=n1.sid)
    await n0.op(op="emit", event="skip_ours", to="a", skip_sid=o2.sid)
    await n0.op(op="emit", event="except_b", **{"except": ["b"]})
    await n0.op(op="emit", event="a_or_b", to=["a", "b"])
    await o1.op(op="emit", event="from_ours", to="b", skip_sid=n2.sid)
    await o2.op(op="emit", event="ours_to_node", to=n0.sid, data=[1, 2])
    await o2.op(op="emit", event="a_except_b", to="a", **{"except": ["b"]})
    await fence(n0, clients, "f0")
    await fence(o1, clients, "f1")
    await fence(o2, clients, "f2")
    assert receivers(clients, "all") == names(clients)
    assert all(c.got("all") == [[{"k": [1, "x"]}]] for c in clients)
    assert receivers(clients, "room_a") == ["n0", "n1", "o2"]
    assert n2.got("to_node_sid") == [[2]] and receivers(clients, "to_node_sid") == ["n2"]
    assert o1.got("to_our_sid") == [[3]] and receivers(clients, "to_our_sid") == ["o1"]
    assert receivers(clients, "skip_node") == ["n0", "o2"]
    assert receivers(clients, "skip_ours") == ["n0", "n1"]
    assert receivers(clients, "except_b") == ["n0", "o1", "o2"]
    assert receivers(clients, "a_or_b") == ["n0", "n1", "n2", "o0", "o2"]
    assert receivers(clients, "from_ours") == ["n1", "o0"]
    assert n0.got("ours_to_node") == [[[1, 2]]] and receivers(clients, "ours_to_node") == ["n0"]
    assert receivers(clients, "a_except_b") == ["n0", "o2"]
    assert not any(c.disconnected for c in clients)


@pytest.mark.node
@pytest.mark.asyncio
async def test_room_changes_on_clients_of_other_servers(clients: list[Client]) -> None:
    n0, o0, _n1, o1, n2, o2 = clients
    await o0.op(op="enter_room", sid=n2.sid, room="x")
    await o0.op(op="enter_room", sid=o1.sid, room="x")
    await o0.op(op="emit", event="x1", to="x")
    await n0.op(op="leave_room", sid=n2.sid, room="x")
    await n0.op(op="emit", event="x2", to="x")
    await o2.op(op="sockets_join", to="b", rooms=["y"])
    await o2.op(op="emit", event="y1", to="y")
    await fence(o0, clients, "f0")
    await fence(n0, clients, "f1")
    await fence(o2, clients, "f2")
    assert receivers(clients, "x1") == ["n2", "o1"]
    assert receivers(clients, "x2") == ["o1"]
    assert receivers(clients, "y1") == names(clients, {"b"})


@pytest.mark.node
@pytest.mark.asyncio
async def test_fetch_sockets_sees_every_client(clients: list[Client]) -> None:
    for asker in (clients[0], clients[3]):  # a Node client on server 0, ours on server 1
        found = await asker.op(op="fetch_sockets", timeout=5)
        assert found["missing"] == []
        by_id = {s["id"]: s for s in found["sockets"]}
        assert sorted(by_id) == sorted(c.sid for c in clients)
        for client, spec in zip(clients, LAYOUT, strict=True):
            assert by_id[client.sid]["rooms"] == [client.sid, *spec[3]]
            assert by_id[client.sid]["data"] == {"name": client.name}
        assert sorted(a["name"] for a in found["auth"]) == names(clients)
    in_a = await clients[4].op(op="fetch_sockets", to="a", timeout=5)
    assert sorted(s["data"]["name"] for s in in_a["sockets"]) == names(clients, {"a"})


@pytest.mark.node
@pytest.mark.asyncio
async def test_acks_from_clients_of_other_servers(clients: list[Client]) -> None:
    n0, o0, n1, _o1, n2, o2 = clients
    one = await o0.op(op="call", event="ask", sid=n2.sid, data=5)
    assert one["result"] == {"from": n2.sid, "args": [5]}
    ours = await n0.op(op="call", event="ask", sid=o2.sid, data=6)
    assert ours["result"] == {"from": o2.sid, "args": [6]}
    room = await n1.op(op="call", event="ask", to="a", data=7)
    assert room["result"] == {c.sid: {"from": c.sid, "args": [7]} for c in (n0, n1, o2)}


@pytest.mark.node
@pytest.mark.asyncio
async def test_write_only_emitter_reaches_every_server(
    cluster: Cluster, clients: list[Client]
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        EMITTER,
        cluster.broker.kind,
        cluster.broker.url,
        cluster.channel,
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    # The emitter's messages were published (and, on RabbitMQ, confirmed) before it exited,
    # so every server gets them before a fence published after that.
    await until(lambda: len(receivers(clients, "news")) == len(clients), "news everywhere")
    await fence(clients[2], clients, "f")
    assert all(c.got("news") == [[{"n": 1}]] for c in clients)
    assert receivers(clients, "news_a") == names(clients, {"a"})
    assert all(args == [1, "two"] for c in clients for args in c.got("news_a"))
    assert receivers(clients, "news_not_b") == ["n0", "o1", "o2"]
    assert all(args == [] for c in clients for args in c.got("news_not_b"))
