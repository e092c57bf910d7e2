"""AsyncAioPikaManager against a real RabbitMQ node: a write-only manager, start-up errors,
hostile messages on the exchange, and a broker restart in the middle of traffic."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
from cluster_kit import (
    RABBITMQ_SERVER,
    AmqpBroker,
    Cluster,
    SioClient,
    fence,
    open_client,
    start_cluster,
    until,
)

from socketio_core.aio.aiopika_manager import AsyncAioPikaManager
from socketio_core.exceptions import BrokerError


@pytest.fixture(scope="module")
def cluster(amqp_broker: AmqpBroker) -> Iterator[Cluster]:
    cluster = start_cluster(amqp_broker)
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


async def until_state(client: SioClient, predicate: Callable[[Any], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not predicate(await client.op(op="state")):
        assert loop.time() < deadline, "timed out waiting for the server state"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_write_only_manager_reaches_every_server(
    cluster: Cluster, clients: list[SioClient]
) -> None:
    mgr = AsyncAioPikaManager(cluster.broker.url, cluster.channel, write_only=True)
    await mgr.start()
    try:
        await mgr.emit_event("news", {"n": 1})
        await mgr.emit_event("news", ("room", "x"), to="r")
    finally:
        await mgr.stop()
    await until(lambda: all(c.got("news") for c in clients), "news everywhere")
    await fence(clients[0], clients, "f")
    assert clients[0].got("news") == [[{"n": 1}]]
    assert clients[1].got("news") == clients[2].got("news") == [[{"n": 1}], ["room", "x"]]


@pytest.mark.asyncio
async def test_unreachable_broker_is_a_clear_start_up_error(amqp_broker: AmqpBroker) -> None:
    closed = amqp_broker.dist_port + 1 if amqp_broker.dist_port < 65535 else 1
    url = f"amqp://guest:guest@127.0.0.1:{closed}/"
    mgr = AsyncAioPikaManager(url, connect_timeout=2)
    with pytest.raises(BrokerError, match=rf"cannot reach rabbitmq at amqp://127.0.0.1:{closed}/"):
        await mgr.start()


GARBAGE = [
    b"\x00\xff\xfe",
    b"not json",
    b'{"v": 1, "kind": "emit", "uid": "x", "target": {}, "messages": []}',
    b'{"v": 1, "kind": "nope", "uid": "x"}',
    b"[" * 100_000,
    b"{" + b" " * 1_200_000 + b"}",
]


@pytest.mark.asyncio
async def test_malformed_broker_messages_are_dropped(
    cluster: Cluster, clients: list[SioClient]
) -> None:
    before = [await c.op(op="state") for c in clients]
    connection = await aio_pika.connect(cluster.broker.url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(cluster.channel, aio_pika.ExchangeType.FANOUT)
        for body in GARBAGE:
            await exchange.publish(aio_pika.Message(body), routing_key="")
    await fence(clients[0], clients, "after garbage")
    await fence(clients[2], clients, "after garbage 2")
    for old, client in zip(before, clients, strict=True):
        new = await client.op(op="state")
        assert new["stats"]["rejected"] - old["stats"]["rejected"] == len(GARBAGE)
        assert new["subscribed"] and len(new["peers"]) == 2


@pytest.mark.asyncio
async def test_broker_restart_mid_traffic(cluster: Cluster, clients: list[SioClient]) -> None:
    origin = clients[0]
    task = asyncio.ensure_future(origin.op(op="emit_many", count=60, interval=0.01))
    await until(lambda: all(len(c.got("seq")) >= 20 for c in clients), "traffic flowing")
    await asyncio.to_thread(cluster.broker.stop)
    await asyncio.to_thread(cluster.broker.start)
    outcome = (await task)["outcome"]
    for client in clients:
        await until_state(client, lambda s: s["subscribed"] and len(s["peers"]) == 2)
        stats = (await client.op(op="state"))["stats"]
        assert stats["disconnects"] >= 1 and stats["reconnects"] >= 1
    await origin.op(op="emit", event="after")
    await until(lambda: all(c.got("after") == [[]] for c in clients), "delivery resumed")
    # local clients get everything; others get every emit that was confirmed before the
    # broker went away; an emit during the outage either failed loudly or was delivered
    # (or fell in a window that the receiving server logged as lost and reconnecting)
    assert [a[0] for a in origin.got("seq")] == list(range(len(outcome)))
    first_failure = outcome.index("failed") if "failed" in outcome else len(outcome)
    for client in clients[1:]:
        got = [a[0] for a in client.got("seq")]
        assert len(got) == len(set(got))
        assert set(range(20)) <= set(got)
        assert set(got) <= {i for i, what in enumerate(outcome) if what != "failed"}
    assert first_failure >= 20


def broker_connections(broker: AmqpBroker) -> int:
    """How many AMQP connections the RabbitMQ node has open (``rabbitmqctl``)."""
    ctl = RABBITMQ_SERVER.with_name("rabbitmqctl")
    node = ["-n", f"sio{broker.port}@localhost"]
    done = subprocess.run(
        [str(ctl), *node, "-q", "list_connections", "--no-table-headers", "pid"],
        env=broker.env(),
        capture_output=True,
        timeout=60,
        check=True,
    )
    return len([line for line in done.stdout.decode().splitlines() if line.strip()])


@pytest.mark.asyncio
async def test_an_emit_during_start_up_shares_the_one_publisher(amqp_broker: AmqpBroker) -> None:
    """Regression: an emit that ran while the manager was connecting opened a second publisher
    connection, which replaced the first one: the first was never closed."""
    before = await asyncio.to_thread(broker_connections, amqp_broker)
    manager = AsyncAioPikaManager(amqp_broker.url, channel="early", write_only=True)
    # start() runs first, up to its connection; the emit then finds no publisher yet.
    await asyncio.wait_for(asyncio.gather(manager.start(), manager.emit_event("news", 1)), 30)
    try:
        assert await asyncio.to_thread(broker_connections, amqp_broker) == before + 1
    finally:
        await manager.stop()
    assert await asyncio.to_thread(broker_connections, amqp_broker) == before
