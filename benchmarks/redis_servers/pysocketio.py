"""Server for benchmarks/redis_fanout.py: python-socketio with its AsyncRedisManager, under uvicorn.

Usage: ``python pysocketio.py REDIS_URL CHANNEL PEERS [asyncio|uvloop]`` (``PEERS`` is
ignored: python-socketio has no membership). ``socketio.AsyncServer(async_mode="asgi",
client_manager=socketio.AsyncRedisManager(REDIS_URL, channel=CHANNEL))`` in
``socketio.ASGIApp``, served by uvicorn with its defaults (``http`` and ``ws`` "auto"), one
worker, ``loop`` as asked, a 300 s ping interval. Binds 127.0.0.1 port 0 itself, prints one
JSON line ``{"port": N, "pid": P, "impl": ...}``, and serves until SIGTERM or SIGINT
(uvicorn's handlers). python-socketio subscribes to Redis when its first client connects.
Handlers: the same as ``ours.py`` (join, fanout).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from importlib import metadata

import socketio
import uvicorn


def main(url: str, channel: str, loop_name: str) -> None:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=socketio.AsyncRedisManager(url, channel=channel),
        ping_interval=300.0,
        ping_timeout=300.0,
    )

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
        "pid": os.getpid(),
        "impl": f"python-socketio {metadata.version('python-socketio')} AsyncRedisManager, "
        f"redis-py {metadata.version('redis')}, uvicorn {uvicorn.__version__} loop={loop} "
        f"http={config.http_protocol_class.__name__} ws={config.ws_protocol_class.__name__}",
    }
    print(json.dumps(info), flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[4] if len(sys.argv) > 4 else "asyncio")
