"""Echo server for benchmarks/engineio_echo.py: our AsyncServer on its standalone front door.

Usage: ``python ours_standalone.py PING_INTERVAL``. Listens on 127.0.0.1, port 0, prints one
JSON line ``{"port": N, "impl": ...}`` once listening, and echoes every message back as it
came until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engineio_core.aio.server import AsyncServer


async def main(ping_interval: float) -> None:
    eio = AsyncServer(ping_interval=ping_interval, ping_timeout=ping_interval)

    async def message(sid: str, data: str | bytes) -> None:
        await eio.send(sid, data)

    eio.on("message", message)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with eio.listen("127.0.0.1", 0) as front:
        info = {
            "port": front.port,
            "impl": f"standalone (h11 + websocket.aio), loop {type(loop).__module__}."
            f"{type(loop).__name__}, websocket_compression={eio.websocket_compression}",
        }
        print(json.dumps(info), flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 300.0))
