"""The client manager's lifecycle has one owner: the server starts it when it starts serving
and stops it when it stops, on the standalone server and under the ASGI lifespan.

Regression: under ASGI the Redis manager was started but never stopped (its listener task and
its Redis connections outlived the app). Tested with the Redis manager under uvicorn and on
the standalone server: after shutdown no task and no Redis connection is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
import uvicorn
from cluster_kit import RedisBroker

from socketio_core.aio import ASGIApp, AsyncServer
from socketio_core.aio.redis_manager import AsyncRedisManager
from websocket.aio import connect

TIMEOUT = 10.0


async def redis_clients(url: str) -> list[str]:
    """The names of the connections redis-server has open, ours (the probe) excluded."""
    probe = redis_asyncio.Redis.from_url(url)
    try:
        await probe.client_setname("probe")
        listing = await probe.client_list()
    finally:
        await probe.aclose()
    return [c.get("name", "") for c in listing if c.get("name") != "probe"]


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def until(predicate: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def talk(port: int) -> None:
    """One Socket.IO client connects, gets an ack, and leaves."""
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    ws = await connect(url, compression=None, open_timeout=TIMEOUT)
    try:
        opening = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert isinstance(opening, str) and opening.startswith("0{")
        await ws.send("40")
        reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert isinstance(reply, str) and "sid" in json.loads(reply[2:])
        await ws.send('421["ping"]')
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == '431["pong"]'
    finally:
        await ws.close()


def make_server(broker: RedisBroker) -> tuple[AsyncServer, AsyncRedisManager]:
    manager = AsyncRedisManager(broker.url, channel="lifecycle")
    sio = AsyncServer(manager)
    sio.on("ping", lambda sid: "pong")
    return sio, manager


@pytest.mark.asyncio
async def test_asgi_lifespan_starts_and_stops_the_manager(redis_broker: RedisBroker) -> None:
    before = other_tasks()
    sio, manager = make_server(redis_broker)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        ASGIApp(sio), lifespan="on", log_level="warning", log_config=None,
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started, "uvicorn to start")
        assert manager.subscribed  # started by the lifespan, before any client
        assert await redis_clients(redis_broker.url) != []
        await talk(port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT)
        sock.close()
    assert not manager.subscribed
    assert await redis_clients(redis_broker.url) == []
    await until(lambda: other_tasks() <= before, "every task to end")


@pytest.mark.asyncio
async def test_standalone_server_starts_and_stops_the_manager(redis_broker: RedisBroker) -> None:
    before = other_tasks()
    sio, manager = make_server(redis_broker)
    async with sio.listen("127.0.0.1", 0) as front:
        assert manager.subscribed
        await talk(front.port)
    assert not manager.subscribed
    assert await redis_clients(redis_broker.url) == []
    await until(lambda: other_tasks() <= before, "every task to end")
    # serve() too: cancelling it stops the manager.
    serving = asyncio.create_task(sio.serve("127.0.0.1", 0))
    await until(lambda: manager.subscribed, "serve() to start the manager")
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    assert not manager.subscribed
    assert await redis_clients(redis_broker.url) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("wire", ["ours", "node", "node-sharded"])
async def test_an_emit_during_start_up_shares_the_one_publisher(
    redis_broker: RedisBroker, wire: str
) -> None:
    """Regression: an emit that ran while the manager was connecting opened a second publisher
    connection, which replaced the first one: the first was never closed."""
    manager = AsyncRedisManager(redis_broker.url, channel="early", write_only=True, wire=wire)
    # start() runs first, up to its connection to redis; the emit then finds no publisher yet.
    await asyncio.wait_for(asyncio.gather(manager.start(), manager.emit_event("news", 1)), TIMEOUT)
    assert len(await redis_clients(redis_broker.url)) == 1
    await manager.emit_event("news", 2)
    assert len(await redis_clients(redis_broker.url)) == 1
    await manager.stop()
    assert await redis_clients(redis_broker.url) == []
