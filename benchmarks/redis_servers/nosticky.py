"""A server of ``benchmarks/nosticky_polling.py``: ours, with ``forward_requests=True``.

Usage: python nosticky.py REDIS_URL CHANNEL [UPGRADE_HOLD]. Prints ``{"port": ..., "uid": ...}``
once it serves. ``echo(data)`` acks ``data``; ``forwarded()`` acks this process's forwarding
counters (its WebSocket relays' in ``relay``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from typing import Any

from socketio_core.aio import AsyncServer
from socketio_core.aio.redis_manager import AsyncRedisManager


async def main() -> None:
    url, channel = sys.argv[1:3]
    hold = float(sys.argv[3]) if len(sys.argv) > 3 else 0.3
    mgr = AsyncRedisManager(url, channel, forward_requests=True, upgrade_hold=hold)
    sio = AsyncServer(client_manager=mgr, ping_interval=300, ping_timeout=60)

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    @sio.event
    async def forwarded(sid: str) -> dict[str, Any]:
        assert mgr.remote_sessions is not None
        relay = dataclasses.asdict(mgr.remote_sessions.relays.stats)
        return {**dataclasses.asdict(mgr.remote_sessions.stats), "relay": relay}

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with sio.listen("127.0.0.1", 0) as front:
        print(json.dumps({"port": front.port, "uid": mgr.uid}), flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
