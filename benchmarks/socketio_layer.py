"""The Socket.IO server layer alone, in process: CPU per echo and per fan-out delivery.

No sockets, no Engine.IO transport and no load generator: each Engine.IO session is a fake
that counts what it is sent, and messages go in through the Engine.IO server's
``message_hook``, as the real transports hand them over. What is left is the Socket.IO
server (core, driver, handlers, manager) and the event loop, so a change of a few
microseconds on that path shows clearly even on a busy machine, where the end-to-end
benchmark (``socketio_bench.py``) moves by more than that. Run it on two trees to compare::

    PYTHONPATH=. .venv/bin/python benchmarks/socketio_layer.py --echo 20000 --emits 200

Every reply and every delivery is counted; a miscount fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from socketio_core.aio import AsyncServer

PAYLOAD = "x" * 64


class FakeSession:
    """Stands for an Engine.IO session: counts the messages it is sent."""

    def __init__(self) -> None:
        self.sent = 0
        self.writable = True
        self.transport = "websocket"
        self.event: asyncio.Event | None = None

    def send(self, data: Any) -> None:
        self.sent += 1
        if self.event is not None:
            self.event.set()

    def close(self) -> None:
        pass


async def settle(turns: int = 100) -> None:
    """Let the loop run queued work (connect handlers, joins)."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def run(echoes: int, emits: int, receivers: int, sync: bool = False) -> tuple[float, float]:
    sio = AsyncServer()

    async def echo(sid: str, data: Any) -> Any:
        return data

    def echo_sync(sid: str, data: Any) -> Any:
        return data

    sio.on("echo", echo_sync if sync else echo)

    @sio.on("join")
    async def join(sid: str) -> None:
        await sio.enter_room(sid, "room")

    hook = sio.eio.message_hook
    assert hook is not None
    connect = sio.eio.handlers["connect"]

    def open_session(name: str) -> FakeSession:
        fake = FakeSession()
        sio.eio.sessions[name] = fake  # type: ignore[assignment]
        connect(name, {})
        hook(name, "0")  # CONNECT to "/"
        return fake

    first = open_session("e0")
    await settle()
    assert first.sent == 1, "no CONNECT reply"
    first.event = asyncio.Event()
    message = f'21["echo","{PAYLOAD}"]'
    started = time.process_time()
    for _ in range(echoes):
        first.event.clear()
        hook("e0", message)
        await first.event.wait()
    echo_us = (time.process_time() - started) / echoes * 1e6
    assert first.sent == 1 + echoes

    fakes = [open_session(f"r{i}") for i in range(receivers)]
    await settle()
    for i in range(receivers):
        hook(f"r{i}", '2["join"]')
    await settle(500)
    assert len(sio.manager.registry.members("/", "room")) == receivers
    started = time.process_time()
    for i in range(emits):
        await sio.emit("tick", i, room="room")
    fanout_us = (time.process_time() - started) / (emits * receivers) * 1e6
    assert sum(f.sent for f in fakes) == receivers * (1 + emits)
    return echo_us, fanout_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo", type=int, default=20000, help="echo round trips (20,000)")
    parser.add_argument("--emits", type=int, default=200, help="broadcasts (200)")
    parser.add_argument("--receivers", type=int, default=1000, help="sockets in the room")
    parser.add_argument("--rounds", type=int, default=3, help="runs; the best is kept")
    parser.add_argument("--sync", action="store_true", help="a plain function as echo handler")
    args = parser.parse_args()
    results = [
        asyncio.run(run(args.echo, args.emits, args.receivers, args.sync))
        for _ in range(args.rounds)
    ]
    echo_us = min(r[0] for r in results)
    fanout_us = min(r[1] for r in results)
    print(f"echo with ack: {echo_us:.2f} us CPU per round trip (best of {args.rounds})")
    print(f"fan-out: {fanout_us:.3f} us CPU per delivery (best of {args.rounds})")


if __name__ == "__main__":
    main()
