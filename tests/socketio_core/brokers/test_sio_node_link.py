"""The Redis side of the Node-wire managers (socketio_core/aio/node_link.py): a lost
subscription is re-opened and the server is counted again; a publish that cannot reach Redis
raises ``BrokerError`` after ``publish_timeout``; start-up fails fast without Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from cluster_kit import RedisBroker, free_port

from socketio_core.aio.manager import BroadcastTarget
from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.exceptions import BrokerError


async def until_true(predicate: object, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)  # polling Redis' own count: there is no event to await


@pytest.mark.asyncio
@pytest.mark.parametrize("wire", ["node", "node-sharded"])
async def test_lost_subscription_is_reopened(redis_broker: RedisBroker, wire: str) -> None:
    mgr = AsyncRedisManager(
        redis_broker.url, wire=wire, key=f"relink-{wire}", reconnect_delay=(0.05, 0.2)
    )
    await mgr.start()
    admin = aioredis.Redis.from_url(redis_broker.url)
    try:
        assert await mgr.server_count() == 1  # type: ignore[attr-defined]
        await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")

        async def back() -> bool:
            return mgr.stats.reconnects >= 1 and await mgr.server_count() == 1  # type: ignore[attr-defined]

        await until_true(back, "the subscription to come back")
        assert mgr.stats.disconnects >= 1
        assert mgr.subscribed
    finally:
        await mgr.stop()
    try:
        if wire == "node":
            counts = await admin.pubsub_numsub(f"relink-{wire}-request#/#")
        else:
            counts = await admin.execute_command("PUBSUB SHARDNUMSUB", f"relink-{wire}#/#")
        assert counts[0][1] == 0  # stop() left the cluster
    finally:
        await admin.aclose()


@pytest.mark.asyncio
async def test_start_fails_fast_without_redis() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    mgr = AsyncRedisManager(url, wire="node", connect_timeout=1.0)
    with pytest.raises(BrokerError, match="cannot reach redis"):
        await mgr.start()


@pytest.mark.asyncio
async def test_publish_gives_up_after_publish_timeout() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    mgr = AsyncRedisManager(
        url, wire="node", write_only=True, publish_timeout=0.3, reconnect_delay=(0.05, 0.1)
    )
    with pytest.raises(BrokerError, match="cannot publish"):
        await mgr.emit(BroadcastTarget("/", ("a",)), ['2["ev"]'])
    assert mgr.stats.publish_failures == 1
