"""One server process of the recovery cluster test (AsyncRedisManager, recovery on).

Usage: python recovery_server.py REDIS_URL CHANNEL

Prints ``{"port": ...}`` once it serves. A client with ``auth={"control": true}`` joins the
room ``control``, which hears from every process of the cluster: ``seen`` (sid, recovered,
why not, port) at each connection and ``gone`` (sid, reason) at each disconnection. The
``blast`` event (``{"target": sid, "base": n}``) emits 100 events to the room ``r`` and 10 to
``target``, waits until the packet log is in Redis, and acks.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from socketio_core.aio import AsyncServer
from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.aio.redis_recovery import RedisRecovery


async def main(url: str, channel: str) -> None:
    manager = AsyncRedisManager(url, channel, heartbeat_interval=0.5)
    sio = AsyncServer(
        client_manager=manager,
        connection_state_recovery={"max_disconnection_duration": 30},
        ping_interval=0.3,
        ping_timeout=0.5,
    )
    port = 0

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if isinstance(auth, dict) and auth.get("control"):
            await sio.enter_room(sid, "control")
            return
        recovered = environ["socketio.recovered"]
        if not recovered:
            await sio.enter_room(sid, "r")
            await sio.emit("welcome", to=sid)
        why = environ["socketio.recovery_failure"]
        await sio.emit("seen", [sid, recovered, why, port], room="control")

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        await sio.emit("gone", [sid, reason], room="control")

    @sio.event
    async def blast(sid: str, data: dict[str, Any]) -> bool:
        base = data["base"]
        for i in range(100):
            await sio.emit("news", base + i, room="r")
        for i in range(100, 110):
            await sio.emit("news", base + i, to=data["target"])
        backend = manager.recovery_backend
        assert isinstance(backend, RedisRecovery)
        await backend.flush()
        return True

    @sio.event
    async def barrier(sid: str) -> None:
        await sio.emit("end", to=sid)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with sio.listen("127.0.0.1", 0) as front:
        port = front.port
        print(json.dumps({"port": port}), flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
