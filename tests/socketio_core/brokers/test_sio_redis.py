"""AsyncRedisManager against a real redis-server: emitters, start-up errors, hostile
messages on the channel, and a broker restart in the middle of traffic."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis
from cluster_kit import Cluster, RedisBroker, SioClient, fence, open_client, start_cluster, until

from socketio_core.aio.redis_manager import AsyncRedisManager, parse_sentinel_url
from socketio_core.exceptions import BrokerError


@pytest.fixture(scope="module")
def cluster(redis_broker: RedisBroker) -> Iterator[Cluster]:
    cluster = start_cluster(redis_broker)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest_asyncio.fixture
async def clients(cluster: Cluster) -> AsyncIterator[list[SioClient]]:
    opened: list[SioClient] = []
    try:
        for i, server in enumerate(cluster.servers):
            opened.append(await open_client(server, f"c{i}", ["r"] if i else []))
        yield opened
    finally:
        for client in opened:
            await client.close()


@pytest.mark.asyncio
async def test_blocking_emitter_from_a_plain_script(
    cluster: Cluster, clients: list[SioClient]
) -> None:
    script = textwrap.dedent(
        f"""
        from socketio_core.emitter import Emitter
        emitter = Emitter.redis({cluster.broker.url!r}, channel={cluster.channel!r})
        emitter.emit("news", {{"n": 1}})
        emitter.emit("news", ("room", 2), to="r")
        emitter.sockets_join("joined", to={clients[0].sid!r})
        emitter.emit("news", "to joined", to="joined")
        emitter.close()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    await until(lambda: all(len(c.got("news")) >= 2 for c in clients), "news everywhere")
    await fence(clients[0], clients, "f")
    assert clients[0].got("news") == [[{"n": 1}], ["to joined"]]
    assert clients[1].got("news") == clients[2].got("news") == [[{"n": 1}], ["room", 2]]


@pytest.mark.asyncio
async def test_write_only_manager_over_a_unix_socket(
    cluster: Cluster, clients: list[SioClient]
) -> None:
    mgr = AsyncRedisManager(cluster.broker.unix_url, cluster.channel, write_only=True)
    await mgr.start()
    try:
        await mgr.emit_event("unix", [1, 2], to="r", skip_sid=clients[2].sid)
    finally:
        await mgr.stop()
    await until(lambda: clients[1].got("unix") == [[[1, 2]]], "unix emit")
    await fence(clients[0], clients, "f")
    assert clients[0].got("unix") == clients[2].got("unix") == []


@pytest.mark.asyncio
async def test_unreachable_broker_is_a_clear_start_up_error(redis_broker: RedisBroker) -> None:
    closed = redis_broker.port + 1 if redis_broker.port < 65535 else 1
    mgr = AsyncRedisManager(f"redis://127.0.0.1:{closed}/0", connect_timeout=2)
    with pytest.raises(BrokerError, match=rf"cannot reach redis at redis://127.0.0.1:{closed}/0"):
        await mgr.start()
    assert not mgr.subscribed


def test_sentinel_urls() -> None:
    assert parse_sentinel_url("redis+sentinel://u:p%40w@h1:1,h2:2/3/svc") == (
        [("h1", 1), ("h2", 2)],
        "svc",
        {"username": "u", "password": "p@w", "db": 3},
    )
    assert parse_sentinel_url("redis+sentinel://h") == ([("h", 26379)], None, {})
    with pytest.raises(ValueError, match="not a Sentinel URL"):
        parse_sentinel_url("redis://h")
    with pytest.raises(ValueError, match="/db/service"):
        parse_sentinel_url("redis+sentinel://h/0/a/b")


GARBAGE = [
    b"\x00\xff\xfe",
    b"not json at all",
    b"[1, 2, 3]",
    b'{"v": 1}',
    b'{"v": 2, "kind": "emit", "uid": "x"}',
    b'{"v": 1, "kind": "pickle", "uid": "x"}',
    b'{"v": 1, "kind": "emit", "uid": "x", "target": {"nsp": "/", "rooms": 5, "except": [],'
    b' "skip": [], "volatile": false}, "messages": ["42[\\"x\\"]"]}',
    b'{"v": 1, "kind": "emit", "uid": "x", "target": {}, "messages": []}',
    b'{"v": 1, "kind": "fetch_sockets", "uid": "x", "rid": 7, "target": null}',
    b'{"v": 1, "kind": "ack", "uid": "x", "rid": "r", "sid": "s", "args": []}',
    b"\x82\xa1v\x01\xa4kind\xc3",  # msgpack map with a bool kind
    b"[" * 100_000,
    b'{"v": 1, "kind": "emit", "uid": "x", "_att": ["!!"]}',
    b"{" + b" " * 1_200_000 + b"}",  # above the servers' 1 MB limit
]


@pytest.mark.asyncio
async def test_malformed_broker_messages_are_dropped(
    cluster: Cluster, clients: list[SioClient]
) -> None:
    before = [await c.op(op="state") for c in clients]
    with redis.Redis.from_url(cluster.broker.url) as raw:
        for message in GARBAGE:
            assert raw.publish(cluster.channel, message) == 3
    await fence(clients[0], clients, "after garbage")
    await fence(clients[2], clients, "after garbage 2")
    after = [await c.op(op="state") for c in clients]
    for old, new in zip(before, after, strict=True):
        assert new["stats"]["rejected"] - old["stats"]["rejected"] == len(GARBAGE)
        assert new["subscribed"] and len(new["peers"]) == 2


@pytest.mark.asyncio
async def test_broker_restart_mid_traffic(cluster: Cluster, clients: list[SioClient]) -> None:
    origin = clients[0]
    count = 150
    traffic = origin.op(op="emit_many", count=count, interval=0.01)
    task = asyncio.ensure_future(traffic)
    await until(lambda: len(clients[1].got("seq")) >= 20, "traffic flowing")
    cluster.broker.stop()
    cluster.broker.start()
    outcome = (await task)["outcome"]
    assert len(outcome) == count
    # every server reconnects, announces itself again and keeps serving
    for client in clients:
        await until_state(client, lambda s: s["subscribed"] and len(s["peers"]) == 2)
    for client in clients:
        stats = (await client.op(op="state"))["stats"]
        assert stats["disconnects"] >= 1 and stats["reconnects"] >= 1
    await fence(origin, clients, "back")
    # local clients get everything; other servers get every emit that neither failed loudly
    # nor logged that it reached fewer servers than known; none gets one twice
    assert [args[0] for args in origin.got("seq")] == list(range(count))
    for client in clients[1:]:
        got = [args[0] for args in client.got("seq")]
        assert len(got) == len(set(got))
        promised = {i for i, what in enumerate(outcome) if what == "ok"}
        assert promised <= set(got), sorted(promised - set(got))
        assert set(got) <= {i for i, what in enumerate(outcome) if what != "failed"}
    assert outcome.count("ok") >= 20


async def until_state(client: SioClient, predicate: object) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not predicate(await client.op(op="state")):
        assert loop.time() < deadline, "timed out waiting for the server state"
        await asyncio.sleep(0.05)
