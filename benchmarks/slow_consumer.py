"""Server RSS while a client stops consuming and the application keeps broadcasting.

The scenario of issue 9, item 1: a Socket.IO server (default options) broadcasts new 1 KB
messages as fast as it can (in bursts of 100, yielding between bursts); one client opens a
session, CONNECTs, and then never takes anything again: a polling client that never sends
another GET, or a WebSocket client that never reads. Prints the server's RSS every second.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/slow_consumer.py polling
    PYTHONPATH=. .venv/bin/python benchmarks/slow_consumer.py websocket
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from socketio_core.aio import AsyncServer

ROOT = Path(__file__).resolve().parent.parent
HANDSHAKE = "GET /socket.io/?EIO=4&transport={transport} HTTP/1.1\r\nHost: x\r\n{upgrade}\r\n"
UPGRADE = (
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


async def serve() -> None:
    sio = AsyncServer()

    async def broadcast() -> None:
        n = 0
        while True:
            for _ in range(100):
                await sio.emit("news", f"{n:010d}" + "x" * 1014)
                n += 1
            await asyncio.sleep(0)

    async with sio.listen("127.0.0.1", 0) as front:
        task = asyncio.get_running_loop().create_task(broadcast())
        print(json.dumps({"port": front.port}), flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            task.cancel()


def rss_mib(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


async def run(transport: str, seconds: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, env=env
    )
    try:
        assert server.stdout is not None
        port = json.loads(await asyncio.to_thread(server.stdout.readline))["port"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        upgrade = UPGRADE if transport == "websocket" else ""
        writer.write(HANDSHAKE.format(transport=transport, upgrade=upgrade).encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if transport == "polling":
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            sid = json.loads((await reader.readexactly(length))[1:])["sid"]
            target = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
            writer.write(
                f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40".encode()
            )
            await reader.readuntil(b"ok")
            # One GET (it gets the CONNECT answer and what is queued), then never again.
            writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        else:
            writer.write(b"\x81\x82\x00\x00\x00\x0040")  # "40", masked with a zero key
        writer.transport.pause_reading()  # never read again
        start = time.monotonic()
        print(f"# {transport} client that stops consuming; server RSS (MiB) every second")
        for second in range(seconds + 1):
            print(f"{second}\t{rss_mib(server.pid):.1f}", flush=True)
            await asyncio.sleep(max(0.0, start + second + 1 - time.monotonic()))
        writer.transport.abort()
    finally:
        server.terminate()
        server.wait(5)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        asyncio.run(serve())
    else:
        asyncio.run(run(sys.argv[1] if len(sys.argv) > 1 else "polling", 15))
