"""Connection state recovery's cost: fan-out with recovery on vs off, in the same run, and
the memory held per disconnected session.

Like ``socketio_layer.py``: the Socket.IO server layer alone, in process, each Engine.IO
session a fake that counts what it is sent, so the figures are CPU per delivery of the
Socket.IO layer (the part recovery changes). Rounds alternate off/on and the best of each is
kept. Then, with recovery on, N sockets drop abnormally ("transport close") and never come
back: the memory they hold (tracemalloc) is reported per session, with and without packets
addressed to them while away, and again after the window (advanced through ``now``)::

    PYTHONPATH=. .venv/bin/python benchmarks/recovery_fanout.py --emits 200 --receivers 1000

Every delivery is counted; a miscount fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from typing import Any

from socketio_core.aio import AsyncServer

PAYLOAD = "x" * 64


class FakeSession:
    """Stands for an Engine.IO session: counts the messages it is sent."""

    def __init__(self) -> None:
        self.sent = 0
        self.writable = True
        self.transport = "websocket"

    def send(self, data: Any) -> None:
        self.sent += 1

    def close(self) -> None:
        pass


async def settle(turns: int = 100) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


async def server(recovery: bool, receivers: int) -> tuple[AsyncServer, list[FakeSession]]:
    sio = AsyncServer(connection_state_recovery=True if recovery else None)

    @sio.on("join")
    async def join(sid: str) -> None:
        await sio.enter_room(sid, "room")

    hook = sio.eio.message_hook
    assert hook is not None
    connect = sio.eio.handlers["connect"]
    fakes = []
    for i in range(receivers):
        fake = FakeSession()
        sio.eio.sessions[f"r{i}"] = fake  # type: ignore[assignment]
        connect(f"r{i}", {})
        hook(f"r{i}", "0")
        fakes.append(fake)
    await settle()
    for i in range(receivers):
        hook(f"r{i}", '2["join"]')
    await settle(500)
    assert len(sio.manager.registry.members("/", "room")) == receivers
    return sio, fakes


async def fanout(recovery: bool, emits: int, receivers: int, targeted: int) -> tuple[float, float]:
    """CPU µs per delivery of a room broadcast, and per targeted emit (``to=sid``)."""
    sio, fakes = await server(recovery, receivers)
    before = sum(f.sent for f in fakes)
    started = time.process_time()
    for i in range(emits):
        await sio.emit("tick", [i, PAYLOAD], room="room")
    room_us = (time.process_time() - started) / (emits * receivers) * 1e6
    assert sum(f.sent for f in fakes) == before + receivers * emits
    sids = sio.local_sids("/")
    started = time.process_time()
    for i in range(targeted):
        await sio.emit("tick", [i, PAYLOAD], to=sids[i % len(sids)])
    to_us = (time.process_time() - started) / targeted * 1e6
    assert sum(f.sent for f in fakes) == before + receivers * emits + targeted
    return room_us, to_us


async def dropped(recovery: bool, sessions: int, packets: int) -> tuple[int, int, int]:
    """Traced bytes after ``sessions`` sockets drop abnormally, after ``packets`` room
    packets, and after the window (advanced through the store's ``now``)."""
    sio, _ = await server(recovery, sessions)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(sessions):
        await sio.dispatcher.on_eio_disconnect(f"r{i}", "transport close")
    await settle(500)
    gc.collect()
    gone = tracemalloc.get_traced_memory()[0] - base
    for i in range(packets):
        await sio.emit("tick", [i, PAYLOAD], room="room")
    gc.collect()
    logged = tracemalloc.get_traced_memory()[0] - base
    store = sio.manager.recovery
    if store is not None:
        assert store.session_count == sessions, store.session_count
        store.on_timer(time.monotonic() + 10 * store.options.max_disconnection_duration)
        assert store.session_count == 0 and store.log_size == (0, 0)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    await sio.manager.close_recovery()
    return gone, logged, after


async def memory(sessions: int, packets: int) -> tuple[float, float, float]:
    """Bytes held per disconnected session by recovery: the same drops with recovery on
    minus with it off (the connections themselves are freed either way)."""
    on = await dropped(True, sessions, packets)
    off = await dropped(False, sessions, packets)
    return tuple((a - b) / sessions for a, b in zip(on, off, strict=True))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emits", type=int, default=200, help="room broadcasts (200)")
    parser.add_argument("--receivers", type=int, default=1000, help="sockets in the room")
    parser.add_argument("--targeted", type=int, default=20000, help="emits to one sid")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each; the best is kept")
    parser.add_argument("--sessions", type=int, default=1000, help="disconnected sessions")
    parser.add_argument("--packets", type=int, default=100, help="packets while away")
    args = parser.parse_args()
    best: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for recovery in (False, True):
            best[recovery].append(
                asyncio.run(fanout(recovery, args.emits, args.receivers, args.targeted))
            )
    off_room = min(r[0] for r in best[False])
    on_room = min(r[0] for r in best[True])
    off_to = min(r[1] for r in best[False])
    on_to = min(r[1] for r in best[True])
    print(f"room fan-out, {args.receivers} receivers (best of {args.rounds}, CPU per delivery):")
    print(
        f"  recovery off {off_room:.3f} us, on {on_room:.3f} us: "
        f"{100 * (on_room / off_room - 1):+.1f} %"
    )
    print("emit to one sid (CPU per emit):")
    print(f"  recovery off {off_to:.2f} us, on {on_to:.2f} us: {100 * (on_to / off_to - 1):+.1f} %")
    alone, with_packets, after = asyncio.run(memory(args.sessions, args.packets))
    print(f"memory held per disconnected session ({args.sessions} sessions, on minus off):")
    print(
        f"  kept {alone:.0f} B; with {args.packets} room packets logged while away "
        f"{with_packets:.0f} B; after the window {after:.0f} B"
    )


if __name__ == "__main__":
    main()
