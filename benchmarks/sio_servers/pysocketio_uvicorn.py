"""Socket.IO server for benchmarks/socketio_bench.py: python-socketio under uvicorn.

Usage: ``python pysocketio_uvicorn.py PING_INTERVAL [asyncio|uvloop]``.
``socketio.AsyncServer(async_mode="asgi")`` wrapped in ``socketio.ASGIApp``, served by uvicorn
with its defaults (``http="auto"``, ``ws="auto"``), one worker, and ``loop`` set to the loop
asked for. Binds 127.0.0.1 port 0 itself, prints one JSON line ``{"port": N, "impl": ...}``
naming what uvicorn resolved, and serves until SIGTERM or SIGINT (uvicorn's own handlers).
Handlers: the same as ``ours_standalone.py`` (echo, join, fanout).
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

import socketio
import uvicorn


def main(ping_interval: float, loop_name: str) -> None:
    sio = socketio.AsyncServer(
        async_mode="asgi", ping_interval=ping_interval, ping_timeout=ping_interval
    )

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

    config = uvicorn.Config(
        socketio.ASGIApp(sio),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        loop=loop_name,
        backlog=2048,
    )
    config.load()
    factory = config.get_loop_factory()
    loop = "asyncio" if factory is None else f"{factory.__module__}.{factory.__qualname__}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    info = {
        "port": sock.getsockname()[1],
        "impl": f"uvicorn {uvicorn.__version__} loop={loop} "
        f"http={config.http_protocol_class.__name__} ws={config.ws_protocol_class.__name__} "
        f"ws_per_message_deflate={config.ws_per_message_deflate}",
    }
    print(json.dumps(info), flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(
        float(sys.argv[1]) if len(sys.argv) > 1 else 300.0,
        sys.argv[2] if len(sys.argv) > 2 else "asyncio",
    )
