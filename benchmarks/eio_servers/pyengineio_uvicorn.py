"""Echo server for benchmarks/engineio_echo.py: python-engineio's AsyncServer under uvicorn.

Usage: ``python pyengineio_uvicorn.py PING_INTERVAL``. ``AsyncServer(async_mode="asgi")``
wrapped in ``engineio.ASGIApp``, served by uvicorn with its defaults (``loop="auto"``,
``http="auto"``, ``ws="auto"``), one worker. Binds 127.0.0.1 port 0 itself, prints one JSON
line ``{"port": N, "impl": ...}`` naming what uvicorn's "auto" resolved to, and echoes every
message back until SIGTERM or SIGINT (uvicorn's own handlers).
"""

from __future__ import annotations

import json
import socket
import sys

import engineio
import uvicorn


def main(ping_interval: float) -> None:
    eio = engineio.AsyncServer(
        async_mode="asgi", ping_interval=ping_interval, ping_timeout=ping_interval
    )

    @eio.on("message")
    async def message(sid: str, data: str | bytes) -> None:
        await eio.send(sid, data)

    config = uvicorn.Config(
        engineio.ASGIApp(eio), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    config.load()
    factory = config.get_loop_factory()
    loop_name = "asyncio" if factory is None else f"{factory.__module__}.{factory.__qualname__}"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    info = {
        "port": sock.getsockname()[1],
        "impl": f"uvicorn {uvicorn.__version__} loop={loop_name} "
        f"http={config.http_protocol_class.__name__} ws={config.ws_protocol_class.__name__} "
        f"ws_per_message_deflate={config.ws_per_message_deflate}",
    }
    print(json.dumps(info), flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 300.0)
