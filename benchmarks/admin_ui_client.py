"""A stand-in for the Admin UI in ``benchmarks/admin_cost.py``: our client on ``/admin``.

Usage: ``python admin_ui_client.py URL``. Logs in as ``admin`` / ``bench`` (what
``sio_servers/ours_standalone.py`` configures), prints ``{"ready": true}`` once the ``config``
event arrived, counts every admin event it receives, and on SIGTERM prints one JSON line with
the counts by event name, then exits.
"""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socketio_core.aio.client import AsyncClient

EVENTS = (
    "session",
    "config",
    "all_sockets",
    "server_stats",
    "socket_connected",
    "socket_updated",
    "socket_disconnected",
    "room_joined",
    "room_left",
    "event_received",
    "event_sent",
)


async def main(url: str) -> None:
    counts: collections.Counter[str] = collections.Counter()
    ready = asyncio.Event()
    client = AsyncClient(reconnection=False)

    def counter(name: str) -> Any:
        def count(*args: Any) -> None:
            counts[name] += 1
            if name == "config":
                ready.set()

        return count

    for name in EVENTS:
        client.on(name, counter(name), namespace="/admin")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    auth = {"username": "admin", "password": "bench"}
    await client.connect(
        url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=30
    )
    await asyncio.wait_for(ready.wait(), 30)
    print(json.dumps({"ready": True}), flush=True)
    await stop.wait()
    print(json.dumps(dict(counts)), flush=True)
    await client.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
