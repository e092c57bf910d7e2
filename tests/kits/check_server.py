"""A Socket.IO server keeping the official test suite's echo contract, for the kits' tests.

Usage: ``python check_server.py ours|python-socketio [BENCH]``. Listens on 127.0.0.1 (any free
port), prints ``{"port": N}`` once listening, serves until killed. Configured as
socket.io-protocol-v5.md "Test suite" asks: pingInterval 300 ms, pingTimeout 200 ms,
maxPayload 1,000,000, connectTimeout 1 s (python-socketio has no connect timeout). Handlers:

* connect (``/`` and ``/custom``): emit ``auth`` with the CONNECT payload;
* ``message(*args)``: emit ``message-back`` with the same arguments;
* ``message-with-ack(*args)``: ack with the same arguments;
* the bench contract: ``echo(data)`` acks data, ``join()`` enters "room" and acks true,
  ``fanout(n)`` emits ``tick`` 0..n-1 to "room" and acks n.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import socketio
import uvicorn

from socketio_core.aio.server import AsyncServer


def handlers(sio: Any) -> None:
    """Register the echo contract and the bench contract on a python-socketio-style server."""
    for nsp in ("/", "/custom"):

        async def connect(sid: str, environ: Any, auth: Any = None, nsp: str = nsp) -> None:
            await sio.emit("auth", auth if auth is not None else {}, to=sid, namespace=nsp)

        sio.on("connect", connect, namespace=nsp)

    async def message(sid: str, *args: Any) -> None:
        await sio.emit("message-back", args if len(args) != 1 else args[0], to=sid)

    async def message_with_ack(sid: str, *args: Any) -> Any:
        return args

    async def echo(sid: str, data: Any) -> Any:
        return data

    async def join(sid: str) -> bool:
        await sio.enter_room(sid, "room")
        return True

    async def fanout(sid: str, n: int) -> int:
        for i in range(n):
            await sio.emit("tick", i, room="room")
        return n

    sio.on("message", message)
    sio.on("message-with-ack", message_with_ack)
    sio.on("echo", echo)
    sio.on("join", join)
    sio.on("fanout", fanout)


async def ours() -> None:
    sio = AsyncServer(
        ping_interval=0.3, ping_timeout=0.2, max_http_buffer_size=1_000_000, connect_timeout=1.0
    )
    handlers(sio)
    async with sio.listen("127.0.0.1", 0) as front:
        print(json.dumps({"port": front.port}), flush=True)
        await asyncio.Event().wait()


async def python_socketio() -> None:
    sio = socketio.AsyncServer(
        # Whole seconds: python-engineio announces int(ping_interval) * 1000 (0 for 0.3).
        async_mode="asgi",
        ping_interval=1,
        ping_timeout=1,
        max_http_buffer_size=1_000_000,
    )
    handlers(sio)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn serves
    config = uvicorn.Config(socketio.ASGIApp(sio), log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    await server.serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(ours() if sys.argv[1] == "ours" else python_socketio())
