"""Cluster-wide operations on three server processes, on Redis and on RabbitMQ.

Six clients are spread over the three servers (two each), in rooms ``a`` and ``b``::

    server 0: c0 [a]   c1 [b]
    server 1: c2 [a,b] c3 []
    server 2: c4 [a]   c5 [b]

Each operation is run from one server and must reach the same clients as in one process,
once each. A *fence* (an emit to everyone from the same server, awaited on every client)
proves that everything published before it was handled everywhere, so "did not receive" is
checked without sleeping.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from cluster_kit import Cluster, SioClient, fence, open_client, start_cluster, until

ROOMS = [["a"], ["b"], ["a", "b"], [], ["a"], ["b"]]


@pytest.fixture(scope="module", params=["redis", "amqp"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    broker = request.getfixturevalue(f"{request.param}_broker")
    cluster = start_cluster(broker)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest_asyncio.fixture
async def clients(cluster: Cluster) -> AsyncIterator[list[SioClient]]:
    opened: list[SioClient] = []
    try:
        for i, rooms in enumerate(ROOMS):
            opened.append(await open_client(cluster.servers[i // 2], f"c{i}", rooms))
        yield opened
    finally:
        for client in opened:
            await client.close()


def receivers(clients: list[SioClient], event: str) -> list[str]:
    """Names of the clients that got ``event``, once per delivery."""
    return sorted(c.name for c in clients for _ in c.got(event))


@pytest.mark.asyncio
async def test_emit_reaches_the_same_clients_once(clients: list[SioClient]) -> None:
    c0, _c1, c2, c3, _c4, _c5 = clients
    await c0.op(op="emit", event="all", data=1)
    await c0.op(op="emit", event="room_a", to="a")
    await c0.op(op="emit", event="to_sid", to=c3.sid)
    await c0.op(op="emit", event="skip", to="a", skip_sid=c2.sid)
    await c0.op(op="emit", event="except_b", **{"except": ["b"]})
    await c0.op(op="emit", event="a_or_b", to=["a", "b"])
    await c3.op(op="emit", event="from_1", to="a", skip_sid=c0.sid)
    await fence(c0, clients, "f1")
    await fence(c3, clients, "f2")
    assert receivers(clients, "all") == ["c0", "c1", "c2", "c3", "c4", "c5"]
    assert receivers(clients, "room_a") == ["c0", "c2", "c4"]
    assert receivers(clients, "to_sid") == ["c3"]
    assert receivers(clients, "skip") == ["c0", "c4"]
    assert receivers(clients, "except_b") == ["c0", "c3", "c4"]
    assert receivers(clients, "a_or_b") == ["c0", "c1", "c2", "c4", "c5"]
    assert receivers(clients, "from_1") == ["c2", "c4"]
    assert c0.got("all") == [[1]]


@pytest.mark.asyncio
async def test_room_operations_on_sockets_of_other_processes(clients: list[SioClient]) -> None:
    c0, _c1, _c2, c3, c4, _c5 = clients
    await c0.op(op="enter_room", sid=c4.sid, room="x")
    await c0.op(op="emit", event="x1", to="x")
    await c0.op(op="leave_room", sid=c4.sid, room="x")
    await c0.op(op="emit", event="x2", to="x")
    await c0.op(op="sockets_join", to="a", rooms=["y"])
    await c0.op(op="emit", event="y1", to="y")
    await c0.op(op="sockets_leave", to="b", rooms=["y"])
    await c0.op(op="emit", event="y2", to="y")
    await c0.op(op="sockets_join", rooms=["z"], **{"except": ["a"]})
    await c0.op(op="emit", event="z1", to="z")
    await c0.op(op="close_room", room="z")
    await c0.op(op="emit", event="z2", to="z")
    await fence(c0, clients, "f")
    assert receivers(clients, "x1") == ["c4"]
    assert receivers(clients, "x2") == []
    assert receivers(clients, "y1") == ["c0", "c2", "c4"]
    assert receivers(clients, "y2") == ["c0", "c4"]
    assert receivers(clients, "z1") == ["c1", "c3", "c5"]
    assert receivers(clients, "z2") == []
    state = await c3.op(op="fetch_sockets", to=c4.sid, timeout=5)
    assert [s["rooms"] for s in state["sockets"]] == [[c4.sid, "a", "y"]]


@pytest.mark.asyncio
async def test_disconnects_across_processes(clients: list[SioClient]) -> None:
    c0, c1, c2, c3, c4, c5 = clients
    await c0.op(op="disconnect", sid=c5.sid)
    await until(lambda: c5.disconnected, "c5 disconnected")
    await c3.op(op="disconnect_sockets", to="a")
    await until(lambda: c0.disconnected and c2.disconnected and c4.disconnected, "room a gone")
    await fence(c1, clients, "f")
    assert not c1.disconnected and not c3.disconnected
    found = await c1.op(op="fetch_sockets", timeout=5)
    assert sorted(s["id"] for s in found["sockets"]) == sorted([c1.sid, c3.sid])


@pytest.mark.asyncio
async def test_fetch_sockets_sees_every_client(clients: list[SioClient]) -> None:
    c0, *_ = clients
    found = await clients[3].op(op="fetch_sockets", timeout=5)
    assert found["missing"] == []
    by_id = {s["id"]: s for s in found["sockets"]}
    assert sorted(by_id) == sorted(c.sid for c in clients)
    for client, rooms in zip(clients, ROOMS, strict=True):
        assert by_id[client.sid]["rooms"] == [client.sid, *rooms]
        assert by_id[client.sid]["data"] == {"name": client.name}
    assert {a["name"] for a in found["auth"]} == {c.name for c in clients}
    in_a = await c0.op(op="fetch_sockets", to="a", timeout=5)
    assert sorted(s["id"] for s in in_a["sockets"]) == sorted(
        c.sid for c, rooms in zip(clients, ROOMS, strict=True) if "a" in rooms
    )


@pytest.mark.asyncio
async def test_partial_results_when_a_server_is_stopped(
    cluster: Cluster, clients: list[SioClient]
) -> None:
    c0, *_ = clients
    cluster.pause(2)
    try:
        found = await c0.op(op="fetch_sockets", timeout=0.5)
        answers = await c0.op(op="server_side_call", args=[7], timeout=0.5)
        acks = await c0.op(op="call", event="ask", to="a", data=1, timeout=0.5)
    finally:
        cluster.resume(2)
    stopped = cluster.servers[2].uid
    assert found["missing"] == [stopped]
    assert sorted(s["id"] for s in found["sockets"]) == sorted(c.sid for c in clients[:4])
    assert answers["missing"] == [stopped]
    assert answers["answers"] == [{"uid": cluster.servers[1].uid, "args": [7]}]
    assert stopped in acks["timeout"]
    assert sorted(acks["partial"]) == sorted([clients[0].sid, clients[2].sid])
    # once it runs again, it answers again
    complete = await c0.op(op="server_side_call", args=[8], timeout=5)
    assert complete["missing"] == []
    assert sorted(a["uid"] for a in complete["answers"]) == sorted(
        s.uid for s in cluster.servers[1:]
    )


@pytest.mark.asyncio
async def test_acks_from_sockets_of_other_processes(clients: list[SioClient]) -> None:
    c0, _c1, c2, c3, c4, _c5 = clients
    one = await c0.op(op="call", event="ask", sid=c4.sid, data=5)
    assert one["result"] == {"from": c4.sid, "args": [5]}
    cb = await c0.op(op="emit_callback", event="ask", to=c3.sid, data=6)
    assert cb["callback"] == [{"from": c3.sid, "args": [6]}]
    everyone = await c0.op(op="call", event="ask", to="a", data=9)
    assert everyone["result"] == {c.sid: {"from": c.sid, "args": [9]} for c in (c0, c2, c4)}
    gone = await c0.op(op="call", event="ask", sid="nobody-anywhere", expect_error=True)
    assert gone["error"] == "NotConnected"
    # to= a sid (or room) that no server of the cluster has: nobody can answer.
    gone = await c0.op(op="call", event="ask", to="nobody-anywhere", expect_error=True)
    assert gone["error"] == "NotConnected"


@pytest.mark.asyncio
async def test_broadcast_ack_timeout_keeps_partial_responses(cluster: Cluster) -> None:
    talker = await open_client(cluster.servers[0], "t", ["q"])
    mute = await open_client(cluster.servers[1], "m", ["q"], mute=True)
    other = await open_client(cluster.servers[2], "o", ["q"])
    try:
        result = await talker.op(op="call", event="ask", to="q", data=1, timeout=0.5)
        assert sorted(result["partial"]) == sorted([talker.sid, other.sid])
        assert "missing" not in result and "servers that did not answer" not in result["timeout"]
        assert mute.got("ask") == [[1]]
    finally:
        for client in (talker, mute, other):
            with contextlib.suppress(Exception):
                await client.close()


def _unused(value: Any) -> None:  # keeps the Any import for fixtures' annotations
    del value
