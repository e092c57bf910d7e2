"""python-socketio's write-only managers reach the clients of a cluster on our own wire.

Teams moving from python-socketio keep their workers (``AsyncRedisManager(write_only=True)``,
5.14+, JSON) while the servers move over: on the shared default channel ``"socketio"``, our
managers take python-socketio's messages besides their own. The Node wire is covered in
``test_sio_node_wire.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis
from cluster_kit import Cluster, RedisBroker, SioClient, fence, open_client, start_cluster

socketio = pytest.importorskip("socketio")


@pytest.fixture(scope="module")
def cluster(redis_broker: RedisBroker) -> Iterator[Cluster]:
    cluster = start_cluster(redis_broker, 2, channel="socketio", peers=1)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest_asyncio.fixture
async def clients(cluster: Cluster) -> AsyncIterator[list[SioClient]]:
    opened: list[SioClient] = []
    try:
        for i, rooms in enumerate([["a"], [], ["a"], ["b"]]):
            opened.append(await open_client(cluster.servers[i // 2], f"c{i}", rooms))
        yield opened
    finally:
        for client in opened:
            await client.close()


def receivers(clients: list[SioClient], event: str) -> list[str]:
    return sorted(c.name for c in clients for _ in c.got(event))


@pytest.mark.asyncio
async def test_python_socketio_write_only_manager(
    cluster: Cluster, clients: list[SioClient], redis_broker: RedisBroker
) -> None:
    c0, c1, c2, c3 = clients
    mgr = socketio.AsyncRedisManager(redis_broker.url, write_only=True)
    try:
        await mgr.emit("all", None, namespace="/")
        await mgr.emit("in_a", {"k": [1, 2]}, room="a", namespace="/")
        await mgr.emit("skip", (1, 2), namespace="/", skip_sid=c1.sid)
        await mgr.enter_room(c1.sid, "/", "b")
        await mgr.close_room("a", namespace="/")
    finally:
        await mgr.redis.aclose()
    await fence(c0, clients, "f1")
    assert receivers(clients, "all") == ["c0", "c1", "c2", "c3"]
    assert c0.got("all") == [[]]
    assert receivers(clients, "in_a") == ["c0", "c2"]
    assert c2.got("in_a") == [[{"k": [1, 2]}]]
    assert receivers(clients, "skip") == ["c0", "c2", "c3"]
    assert c3.got("skip") == [[1, 2]]
    await c0.op(op="emit", event="to_b", to="b")
    await c0.op(op="emit", event="to_a", to="a")
    await fence(c0, clients, "f2")
    assert receivers(clients, "to_b") == ["c1", "c3"]
    assert receivers(clients, "to_a") == []


@pytest.mark.asyncio
async def test_bad_python_socketio_messages_are_dropped(
    cluster: Cluster, clients: list[SioClient], redis_broker: RedisBroker
) -> None:
    c0 = clients[0]
    before = (await c0.op(op="state"))["stats"]["rejected"]
    client = redis.Redis.from_url(redis_broker.url)
    try:
        for data in [
            b'{"method": "emit", "event": 1}',
            b'{"method": "pickle"}',
            b'{"method": "emit", "event": "x", "data": [1], "binary": true}',
            b'{"method": "disconnect", "sid": 3}',
        ]:
            client.publish("socketio", data)
    finally:
        client.close()
    await fence(c0, clients, "f3")
    assert (await c0.op(op="state"))["stats"]["rejected"] - before == 4
