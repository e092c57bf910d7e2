"""The Admin UI across a cluster: two instrumented servers (in this process) on one channel of a
real redis-server, then of a real RabbitMQ node. The UI (our client speaking the admin
protocol) is connected to one of them and sees the sockets, the stats and the events of both,
and acts on a socket of the other."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cluster_kit import until

from socketio_core.admin import hash_password
from socketio_core.aio import AsyncServer
from socketio_core.aio.aiopika_manager import AsyncAioPikaManager
from socketio_core.aio.client import AsyncClient
from socketio_core.aio.redis_manager import AsyncRedisManager

TIMEOUT = 10.0
LOGIN = {"username": "admin", "password": "pw"}


@contextlib.asynccontextmanager
async def two_servers(broker: Any) -> AsyncIterator[list[tuple[AsyncServer, str]]]:
    channel = f"admin-{os.getpid()}-{time.monotonic_ns()}"
    auth = {"username": "admin", "password": hash_password("pw", n=2**4)}
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for name in ("A", "B"):
            kind = AsyncRedisManager if broker.kind == "redis" else AsyncAioPikaManager
            sio = AsyncServer(kind(broker.url, channel, heartbeat_interval=0.2))
            admin = sio.instrument(auth=auth, server_id=name, server_stats_interval=60)
            front = await stack.enter_async_context(sio.listen("127.0.0.1", 0))
            stack.push_async_callback(admin.shutdown)  # before the manager stops
            servers.append((sio, f"http://127.0.0.1:{front.port}"))
        managers = [sio.manager for sio, _ in servers]
        await until(lambda: all(len(m.peers) == 1 for m in managers), "the servers meet")  # type: ignore[attr-defined]
        yield servers


@pytest.mark.asyncio
@pytest.mark.parametrize("broker_fixture", ["redis_broker", "amqp_broker"])
async def test_ui_on_one_server_sees_both(
    broker_fixture: str, request: pytest.FixtureRequest
) -> None:
    broker = request.getfixturevalue(broker_fixture)
    async with two_servers(broker) as [(sio_a, url_a), (sio_b, url_b)]:
        on_a, on_b = AsyncClient(reconnection=False), AsyncClient(reconnection=False)
        await on_a.connect(url_a, transports=["websocket"], wait_timeout=TIMEOUT)
        await on_b.connect(url_b, transports=["websocket"], wait_timeout=TIMEOUT)
        sid_a, sid_b = on_a.namespaces["/"], on_b.namespaces["/"]

        seen: list[tuple[Any, ...]] = []
        ui = AsyncClient(reconnection=False)
        for name in ("all_sockets", "server_stats", "socket_connected", "room_joined"):
            ui.on(name, lambda *args, name=name: seen.append((name, *args)), namespace="/admin")
        await ui.connect(url_a, namespaces=["/admin"], auth=LOGIN, wait_timeout=TIMEOUT)

        # all_sockets gathers the sockets of both servers (fetch_sockets across the cluster).
        await until(lambda: any(s[0] == "all_sockets" for s in seen), "all_sockets")
        listed = {s["id"]: s for s in next(s[1] for s in seen if s[0] == "all_sockets")}
        assert sid_a in listed and sid_b in listed
        assert listed[sid_b]["transport"] == "websocket" and listed[sid_b]["clientId"]

        # server_stats of each server reach the UI connected to A.
        await sio_b.listener.send_stats()  # type: ignore[union-attr]
        await until(
            lambda: any(s[0] == "server_stats" and s[1]["serverId"] == "B" for s in seen),
            "B's stats on A",
        )

        # A socket connecting to B is announced to the UI on A.
        late = AsyncClient(reconnection=False)
        await late.connect(url_b, transports=["websocket"], wait_timeout=TIMEOUT)
        sid_late = late.namespaces["/"]
        await until(
            lambda: any(s[0] == "socket_connected" and s[1]["id"] == sid_late for s in seen),
            "socket_connected from B",
        )

        # The UI's action, sent to A, reaches the socket on B.
        await ui.emit("join", ("/", "vip", sid_b), namespace="/admin")
        await until(lambda: "vip" in sio_b.rooms(sid_b), "B's socket joins")
        await until(
            lambda: any(s[0] == "room_joined" and s[2:4] == ("vip", sid_b) for s in seen),
            "room_joined from B",
        )
        assert sio_a.manager.registry.sockets("/") == [sid_a]  # nothing moved to A
        for client in (late, on_a, on_b, ui):
            await client.disconnect()
