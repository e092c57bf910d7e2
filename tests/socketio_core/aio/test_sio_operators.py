"""Tests for Node's broadcast operators (socketio_core.aio.operators).

``sio.to(...).except_(...).volatile.timeout(...)`` with ``emit``, ``send``, ``call``, and the
socket operations ``sockets_join``, ``sockets_leave``, ``disconnect_sockets`` and
``fetch_sockets``, over real loopback WebSockets.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from socketio_core.aio import AsyncManager, AsyncServer, BroadcastOperator, BroadcastTarget
from socketio_core.exceptions import AckTimeout

# ``serve`` (conftest.py): ``harness = await serve(sio)``; conftest cannot be imported.
Serve = Callable[[AsyncServer], Awaitable[Any]]

EVENT_WITH_ID = re.compile(r"42(\d+)(\[.*)")


async def answer(client: Any, reply: str, expected_payload: str) -> None:
    """Read an event that wants an ack and acknowledge it with ``reply``."""
    message = await client.recv()
    match = EVENT_WITH_ID.fullmatch(message)
    assert match is not None, message
    assert match[2] == expected_payload
    await client.send(f"43{match[1]}{reply}")


def test_operators_are_immutable() -> None:
    sio = AsyncServer()
    base = sio.to("a")
    chained = base.to(["b", "c"]).except_("d").volatile.local.timeout(2)
    assert base.rooms == ("a",) and not base.is_volatile
    assert chained.rooms == ("a", "b", "c")
    assert chained.except_rooms == ("d",)
    assert chained.is_volatile and chained.is_local and chained.ack_timeout == 2
    assert sio.in_("x").to(None).rooms == ("x",)
    assert sio.of("/chat").namespace == "/chat"
    assert isinstance(sio.except_("z"), BroadcastOperator)
    assert sio.except_("z").rooms == ()


@pytest.mark.asyncio
async def test_operator_emit_and_send(serve: Serve) -> None:
    sio = AsyncServer(namespaces=["/chat"])
    h = await serve(sio)
    (a, sa), (b, sb), (c, sc) = [await h.connected() for _ in range(3)]
    chat_sid = await c.connect("/chat")
    await sio.enter_room(sa, "x")
    await sio.enter_room(sb, "x")
    await sio.enter_room(sb, "y")
    await sio.to("x").except_("y").emit("one", 1)
    await sio.to("x").to(sc).emit("two", (1, 2))
    await sio.except_(["x"]).send("three")
    await sio.to(sb).local.emit("four")
    await sio.of("/chat").to(chat_sid).emit("five")
    await sio.of("/chat").emit("six")
    await a.expect('42["one",1]', '42["two",1,2]')
    await b.expect('42["two",1,2]', '42["four"]')
    await c.expect('42["two",1,2]', '42["message","three"]')
    await c.expect('42/chat,["five"]', '42/chat,["six"]')


@pytest.mark.asyncio
async def test_broadcast_call_collects_every_ack(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    pairs = [await h.connected() for _ in range(3)]
    for _, sid in pairs:
        await sio.enter_room(sid, "r")
    task = asyncio.create_task(sio.to("r").timeout(5).call("vote", "q"))
    await answer(pairs[0][0], '["yes"]', '["vote","q"]')
    await answer(pairs[1][0], '["no",2]', '["vote","q"]')
    await answer(pairs[2][0], "[]", '["vote","q"]')
    # One rule for ack values (server_events.ack_value): several are a tuple, none is None.
    assert await task == {pairs[0][1]: "yes", pairs[1][1]: ("no", 2), pairs[2][1]: None}
    for _, sid in pairs:
        assert sio.pending_acks(sid) == 0
    # To everyone, through the server API.
    task = asyncio.create_task(sio.call("all", timeout=5))
    for client, _ in pairs:
        await answer(client, "[1]", '["all"]')
    assert await task == {sid: 1 for _, sid in pairs}
    # Nobody in the room: an empty result at once.
    assert await sio.to("empty").timeout(5).call("x") == {}


@pytest.mark.asyncio
async def test_broadcast_call_partial_results_on_timeout(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    (a, sa), (b, sb) = [await h.connected() for _ in range(2)]
    task = asyncio.create_task(sio.of("/").timeout(0.2).call("vote"))
    await answer(a, '["yes"]', '["vote"]')
    message = await b.recv()  # b never answers
    with pytest.raises(AckTimeout) as info:
        await task
    assert info.value.responses == {sa: "yes"}
    # Nothing stays pending for the silent client, and its late ack is ignored.
    assert sio.pending_acks(sb) == 0
    match = EVENT_WITH_ID.fullmatch(message)
    assert match is not None
    await b.send(f"43{match[1]}[1]")
    await b.barrier()


@pytest.mark.asyncio
async def test_broadcast_emit_with_callback(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    (a, sa), (b, sb) = [await h.connected() for _ in range(2)]
    await sio.enter_room(sa, "r")
    await sio.enter_room(sb, "r")
    results: list[tuple[Any, ...]] = []

    async def everyone_answers() -> None:
        await answer(a, "[1]", '["q"]')
        await answer(b, "[2]", '["q"]')

    helper = asyncio.create_task(everyone_answers())
    await sio.to("r").timeout(5).emit("q", callback=lambda *args: results.append(args))
    await helper
    assert results == [(None, {sa: 1, sb: 2})]

    # One client never answers: callback(AckTimeout) with the partial responses.
    results.clear()
    helper = asyncio.create_task(answer(a, '["late?"]', '["q2"]'))
    await sio.to("r").timeout(0.2).emit("q2", callback=lambda *args: results.append(args))
    await helper
    assert len(results) == 1
    (error,) = results[0]
    assert isinstance(error, AckTimeout) and error.responses == {sa: "late?"}
    message = await b.recv()  # b got the event but never answered
    assert isinstance(message, str) and message.endswith('["q2"]')
    assert sio.pending_acks(sb) == 0


@pytest.mark.asyncio
async def test_sockets_join_leave_and_fetch(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        sio.socket_data(sid)["user"] = (auth or {}).get("user")

    a = await h.client("&token=abc")
    sa = await a.connect(auth={"user": "ann"})
    _b, sb = await h.connected(auth={"user": "bob"})
    await sio.to(sa).sockets_join(["r1", "r2"])
    await sio.to("r1").to(sb).sockets_join("both")
    assert sio.rooms(sa) == [sa, "r1", "r2", "both"]
    assert sio.rooms(sb) == [sb, "both"]
    await sio.to("both").except_(sb).sockets_leave(["r2", "both"])
    assert sio.rooms(sa) == [sa, "r1"]

    infos = await sio.fetch_sockets()
    assert [info.id for info in infos] == [sa, sb]
    info = infos[0]
    assert info.namespace == "/"
    assert info.rooms == (sa, "r1")
    assert info.data == {"user": "ann"}
    handshake = info.handshake
    assert handshake["auth"] == {"user": "ann"}
    assert handshake["query"]["token"] == "abc"
    assert handshake["query"]["EIO"] == "4"
    assert handshake["address"] == "127.0.0.1"
    assert handshake["url"].startswith("/socket.io/?EIO=4&transport=websocket&token=abc")
    assert handshake["secure"] is False
    assert handshake["headers"]["host"].startswith("127.0.0.1")
    assert isinstance(handshake["issued"], int) and isinstance(handshake["time"], str)
    assert [i.id for i in await sio.fetch_sockets("r1")] == [sa]
    assert [i.id for i in await sio.to("both").fetch_sockets()] == [sb]
    assert [i.id for i in await sio.fetch_sockets(except_rooms=["r1"])] == [sb]
    # A copy: editing what fetch_sockets returned does not touch the socket.
    info.data["user"] = "eve"
    assert sio.socket_data(sa) == {"user": "ann"}


@pytest.mark.asyncio
async def test_disconnect_sockets(serve: Serve) -> None:
    sio = AsyncServer()
    reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    sio.on("disconnect", lambda sid, reason: reasons.put_nowait((sid, reason)))
    h = await serve(sio)
    (a, sa), (b, sb), (c, sc) = [await h.connected() for _ in range(3)]
    await sio.enter_room(sa, "r")
    await sio.enter_room(sb, "r")
    await sio.to("r").except_(sb).disconnect_sockets()
    await a.expect("41")
    assert await reasons.get() == (sa, "server namespace disconnect")
    await a.barrier()  # the connection stays
    await sio.to(sb).disconnect_sockets(close=True)
    await b.expect("41")
    await b.expect_closed()
    assert await reasons.get() == (sb, "server namespace disconnect")
    assert sio.local_sids() == [sc]
    await sio.to("nobody").disconnect_sockets()
    await c.barrier()
    assert reasons.empty()


def test_server_level_operator_shortcuts() -> None:
    sio = AsyncServer()
    assert sio.timeout(3).ack_timeout == 3
    assert sio.volatile.is_volatile and sio.volatile.rooms == ()
    assert sio.local.is_local
    assert sio.of("/chat").namespace == "/chat"
    assert sio.except_("x").except_rooms == ("x",)


class RecordingManager(AsyncManager):
    """The in-memory manager, recording the broadcast value each operation receives."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[BroadcastTarget] = []

    async def broadcast_with_acks(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> Any:
        self.targets.append(target)
        return await super().broadcast_with_acks(target, event, args, timeout)


@pytest.mark.asyncio
async def test_call_keeps_except_and_local(serve: Serve) -> None:
    """Regression: ``sio.to("a").except_("b").local.timeout(1).call("x")`` dropped
    ``except_`` and ``local`` (the operator re-spelled its flags as keyword arguments and
    ``call`` swallowed those it did not know)."""
    manager = RecordingManager()
    sio = AsyncServer(manager)
    h = await serve(sio)
    (a, sa), (b, sb) = [await h.connected() for _ in range(2)]
    for sid in (sa, sb):
        await sio.enter_room(sid, "a")
    await sio.enter_room(sb, "b")
    task = asyncio.create_task(sio.to("a").except_("b").local.timeout(1).call("x"))
    await answer(a, '["from a"]', '["x"]')
    assert await task == {sa: "from a"}
    assert manager.targets == [
        BroadcastTarget("/", ("a",), ("b",), local=True)
    ]  # the operator's value, unchanged
    await b.barrier()  # b got nothing: the next message it reads is the barrier's answer
    assert sio.pending_acks(sa) == 0 and sio.pending_acks(sb) == 0
