"""Tests for the in-memory client manager (socketio_core.aio.manager)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from socketio_core.aio import AsyncManager, AsyncServer, BroadcastTarget, SocketInfo

# ``serve`` (conftest.py): ``harness = await serve(sio)``; conftest cannot be imported.
Serve = Callable[[AsyncServer], Awaitable[Any]]


def test_a_manager_needs_a_server() -> None:
    manager = AsyncManager()
    with pytest.raises(RuntimeError):
        manager.server  # noqa: B018
    sio = AsyncServer(client_manager=manager)
    assert manager.server is sio
    assert sio.manager is manager


def test_targets_and_infos_are_frozen_values() -> None:
    target = BroadcastTarget("/")
    assert target.rooms is None and target.except_rooms == () and target.skip == ()
    assert not target.local and not target.volatile
    with pytest.raises(AttributeError):
        target.namespace = "/x"  # type: ignore[misc]
    info = SocketInfo("sid", "/", ("sid",))
    assert info.data == {} and info.handshake == {}


@pytest.mark.asyncio
async def test_local_membership() -> None:
    sio = AsyncServer()
    manager = sio.manager
    await manager.start()
    manager.connect("/", "a")
    manager.connect("/", "b")
    await manager.enter_room("/", "a", "r")
    await manager.enter_room("/", "ghost", "r")  # not connected: ignored
    assert manager.is_connected("/", "a") and not manager.is_connected("/", "ghost")
    assert manager.rooms("/", "a") == ["a", "r"]
    assert manager.select(BroadcastTarget("/", ("r",))) == ["a"]
    assert manager.select(BroadcastTarget("/", skip=("a",))) == ["b"]
    assert manager.select(BroadcastTarget("/", except_rooms=("r",))) == ["b"]
    await manager.leave_room("/", "a", "r")
    await manager.enter_room("/", "b", "r")
    await manager.close_room("/", "r")
    assert manager.rooms("/", "b") == ["b"]
    manager.disconnect("/", "a")
    manager.disconnect("/", "b")
    assert manager.registry.namespaces() == []
    await manager.stop()


class RecordingManager(AsyncManager):
    """What a pub/sub manager does: see every cluster operation, then act locally."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, Any]] = []
        self.started = 0

    async def start(self) -> None:
        self.started += 1

    async def emit(self, target: BroadcastTarget, messages: Sequence[str | bytes]) -> int:
        self.log.append(("emit", (target, list(messages))))
        return await super().emit(target, messages)


@pytest.mark.asyncio
async def test_a_subclass_sees_every_broadcast(serve: Serve) -> None:
    manager = RecordingManager()
    sio = AsyncServer(client_manager=manager)
    h = await serve(sio)
    (a, sa), (b, _) = [await h.connected() for _ in range(2)]
    assert manager.started == 1  # started once, with the first client
    await sio.emit("hi", 1, skip_sid=sa)
    await b.expect('42["hi",1]')
    target, messages = manager.log[0][1]
    assert target == BroadcastTarget("/", None, (), (sa,))
    assert messages == ['2["hi",1]']
    assert await manager.emit(BroadcastTarget("/"), ['2["direct"]']) == 2
    await a.expect('42["direct"]')
    await b.expect('42["direct"]')
    # Messages for a sid of another namespace, or an unknown sid, are dropped.
    sio.deliver("/other", sa, ['2["x"]'])
    sio.deliver("/", "unknown", ['2["x"]'])
    await a.barrier()


class StartStopManager(AsyncManager):
    """An in-memory manager that records start() and stop()."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")


@pytest.mark.asyncio
async def test_listen_starts_the_manager_before_serving_and_stops_it_after() -> None:
    manager = StartStopManager()
    sio = AsyncServer(client_manager=manager)
    async with sio.listen("127.0.0.1", 0) as front:
        assert front.port > 0
        assert manager.calls == ["start"]  # before any client connected
    assert manager.calls == ["start", "stop"]
