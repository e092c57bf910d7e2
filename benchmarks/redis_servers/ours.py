"""Server for benchmarks/redis_fanout.py: our AsyncServer with our AsyncRedisManager.

Usage: ``python ours.py REDIS_URL CHANNEL PEERS [asyncio|uvloop] [ours|node]``; with
``node`` the manager speaks Node's ``@socket.io/redis-adapter`` protocol (``wire="node"``,
CHANNEL as its ``key``) and the peers are counted by Redis (``PUBSUB NUMSUB``). Serves on its
standalone front door (h11 + ``websocket.aio``) on 127.0.0.1, port 0, with a 300 s ping
interval; prints one JSON line ``{"port": N, "pid": P, "impl": ...}`` once it listens and
knows ``PEERS`` other servers on the channel (bounded: gives up after 20 s), then serves until
SIGTERM or SIGINT.
Handlers (the same in ``pysocketio.py``):

* ``join()``: enters the room ``"room"``, acks ``true``;
* ``fanout(n)``: emits ``tick`` with ``0 .. n-1`` to ``"room"`` (every server's clients in it),
  one ``await sio.emit`` after the other, then acks ``n``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.aio.server import AsyncServer


async def known(mgr: AsyncRedisManager, wire: str) -> int:
    """The other servers this one knows of."""
    if wire == "node":
        return int(await mgr.server_count()) - 1  # type: ignore[attr-defined]
    return len(mgr.peers)


async def main(url: str, channel: str, peers: int, wire: str = "ours") -> None:
    if wire == "node":
        mgr = AsyncRedisManager(url, wire="node", key=channel)
    else:
        mgr = AsyncRedisManager(url, channel)
    sio = AsyncServer(client_manager=mgr, ping_interval=300.0, ping_timeout=300.0)

    @sio.on("join")
    async def join(sid: str) -> bool:
        await sio.enter_room(sid, "room")
        return True

    @sio.on("fanout")
    async def fanout(sid: str, n: int) -> int:
        for i in range(n):
            await sio.emit("tick", i, room="room")
        return n

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with sio.listen("127.0.0.1", 0) as front:
        deadline = loop.time() + 20
        while await known(mgr, wire) < peers and loop.time() < deadline:
            await asyncio.sleep(0.02)  # membership arrives on the broker; bounded poll
        info = {
            "port": front.port,
            "pid": os.getpid(),
            "peers": await known(mgr, wire),
            "impl": "socketio_core standalone + socketio_core AsyncRedisManager"
            f"(wire={wire!r}), loop {type(loop).__module__}.{type(loop).__name__}",
        }
        print(json.dumps(info), flush=True)
        await stop.wait()
    await sio.shutdown()


if __name__ == "__main__":
    redis_url, channel_name, peer_count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    loop_name = sys.argv[4] if len(sys.argv) > 4 else "asyncio"
    wire_name = sys.argv[5] if len(sys.argv) > 5 else "ours"
    if loop_name == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main(redis_url, channel_name, peer_count, wire_name))
    elif loop_name == "asyncio":
        asyncio.run(main(redis_url, channel_name, peer_count, wire_name))
    else:
        raise SystemExit(f"unknown loop {loop_name!r}")
