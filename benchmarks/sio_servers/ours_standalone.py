"""Socket.IO server for benchmarks/socketio_bench.py: our AsyncServer on its standalone front door.

Usage: ``python ours_standalone.py PING_INTERVAL [asyncio|uvloop] [ADMIN]``. Listens on 127.0.0.1,
port 0, prints one JSON line ``{"port": N, "impl": ...}`` once listening, and serves until
SIGTERM or SIGINT. With ``uvloop`` the event loop is uvloop's (``asyncio.Runner`` with
``loop_factory=uvloop.new_event_loop``). The handlers are the same in all three servers:

* ``echo(data)``: acks ``data``;
* ``join()``: enters the room ``"room"``, acks ``true``;
* ``fanout(n)``: emits ``tick`` with ``0 .. n-1`` to ``"room"``, one emit after the other,
  then acks ``n``.

``ADMIN`` (``benchmarks/admin_cost.py``): ``none`` (the default), or ``development`` /
``production`` to call ``sio.instrument(mode=ADMIN)`` (login ``admin`` / ``bench``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from socketio_core.aio.server import AsyncServer


async def main(ping_interval: float, admin_mode: str = "none") -> None:
    sio = AsyncServer(ping_interval=ping_interval, ping_timeout=ping_interval)
    admin = None
    if admin_mode != "none":
        auth = {"username": "admin", "password": "bench"}
        admin = sio.instrument(auth=auth, mode=admin_mode)

    @sio.on("echo")
    async def echo(sid: str, data: Any) -> Any:
        return data

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
        info = {
            "port": front.port,
            "impl": f"socketio_core standalone (h11 + websocket.aio), loop "
            f"{type(loop).__module__}.{type(loop).__name__}",
        }
        print(json.dumps(info), flush=True)
        await stop.wait()
        if admin is not None:
            await admin.shutdown()


if __name__ == "__main__":
    ping = float(sys.argv[1]) if len(sys.argv) > 1 else 300.0
    loop_name = sys.argv[2] if len(sys.argv) > 2 else "asyncio"
    admin_mode = sys.argv[3] if len(sys.argv) > 3 else "none"
    if loop_name == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main(ping, admin_mode))
    elif loop_name == "asyncio":
        asyncio.run(main(ping, admin_mode))
    else:
        raise SystemExit(f"unknown loop {loop_name!r}")
