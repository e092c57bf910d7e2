"""Rooms and broadcast semantics with 100 real clients (socketio_core.aio.manager, rooms).

100 raw WebSocket clients in one event loop join overlapping rooms; a sequence of emits (to a
room, to several rooms, except rooms, skip_sid, to one sid, to everyone, broadcast operators,
binary) must reach exactly the right clients, each message once, in emit order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from socketio_core.aio import AsyncServer

# ``serve`` (conftest.py): ``harness = await serve(sio)``; conftest cannot be imported.
Serve = Callable[[AsyncServer], Awaitable[Any]]

N = 100


def rooms_of(i: int) -> set[str]:
    return {f"m{k}" for k in (2, 3, 5) if i % k == 0}


@pytest.mark.asyncio
async def test_hundred_clients_in_overlapping_rooms(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    pairs = await asyncio.gather(*(h.connected() for _ in range(N)))
    clients = [client for client, _ in pairs]
    sids = [sid for _, sid in pairs]
    index = {sid: i for i, sid in enumerate(sids)}
    for i, sid in enumerate(sids):
        for room in sorted(rooms_of(i)):
            await sio.enter_room(sid, room)
    # The server agrees on who is where.
    assert sorted(index[s] for s in sio.manager.registry.members("/", "m3")) == list(range(0, N, 3))

    expected: list[list[str]] = [[] for _ in range(N)]

    def expect(packet: str, who: Callable[[int], bool]) -> None:
        for i in range(N):
            if who(i):
                expected[i].append(packet)

    def r(i: int) -> set[str]:
        return rooms_of(i)

    await sio.emit("e", 1, to="m2")
    expect('42["e",1]', lambda i: "m2" in r(i))
    await sio.emit("e", 2, to=["m3", "m5"])
    expect('42["e",2]', lambda i: bool({"m3", "m5"} & r(i)))
    await sio.emit("e", 3, except_rooms=["m2"])
    expect('42["e",3]', lambda i: "m2" not in r(i))
    await sio.emit("e", 4, to="m3", except_rooms=["m2"])
    expect('42["e",4]', lambda i: "m3" in r(i) and "m2" not in r(i))
    await sio.emit("e", 5, skip_sid=sids[:10])
    expect('42["e",5]', lambda i: i >= 10)
    await sio.emit("e", 6)
    expect('42["e",6]', lambda i: True)
    await sio.to("m2").to("m5").except_("m3").emit("e", 7)
    expect('42["e",7]', lambda i: bool({"m2", "m5"} & r(i)) and "m3" not in r(i))
    await sio.emit("e", 8, to=sids[7])
    expect('42["e",8]', lambda i: i == 7)
    await sio.emit("e", 9, to=["m2", "m2", sids[4], sids[7]])
    expect('42["e",9]', lambda i: "m2" in r(i) or i == 7)
    await sio.emit("e", 10, to="m5", skip_sid=[sids[5], sids[10]], except_rooms=["m3"])
    expect('42["e",10]', lambda i: "m5" in r(i) and "m3" not in r(i) and i not in (5, 10))
    await sio.except_(["m2", "m3", "m5"]).emit("e", 11)
    expect('42["e",11]', lambda i: not r(i))
    await sio.emit("b", b"\x07", to="m3")
    expect('451-["b",{"_placeholder":true,"num":0}]', lambda i: "m3" in r(i))
    await sio.emit("e", 12, to="nobody")
    await sio.emit("end")

    async def read(i: int) -> list[str | bytes]:
        got: list[str | bytes] = []
        while (message := await clients[i].recv()) != '42["end"]':
            got.append(message)
        return got

    received = await asyncio.gather(*(read(i) for i in range(N)))
    for i in range(N):
        want: list[str | bytes] = []
        for packet in expected[i]:
            want.append(packet)
            if packet.startswith("451-"):
                want.append(b"\x07")
        assert received[i] == want, f"client {i} in {sorted(r(i))}"
    assert sum(len(x) for x in expected) > 5 * N

    # Rooms move with sockets_join / sockets_leave, and go away when their clients leave.
    await sio.to("m5").sockets_join("five")
    await sio.in_("m3").sockets_leave("m3")
    assert sio.manager.registry.members("/", "m3") == []
    await sio.emit("f", to="five")
    await sio.emit("end")
    received = await asyncio.gather(*(read(i) for i in range(N)))
    assert [i for i in range(N) if received[i]] == list(range(0, N, 5))
    await asyncio.gather(*(client.aclose() for client in clients))
    await h.until_empty()
