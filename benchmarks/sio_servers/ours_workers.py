"""Socket.IO server for benchmarks/workers_bench.py: ``python -m socketio_core serve
ours_workers:sio --workers N`` (this folder on ``PYTHONPATH``).

The server is built at import (each worker imports this module): an ``AsyncServer`` on an
``AsyncRedisManager(WB_REDIS_URL, WB_CHANNEL, forward_requests=True)`` (the set-up that
``--workers`` requires when polling is on, docs/scaling.md), ping interval and timeout
``WB_PING`` seconds. The handlers are those of ``ours_standalone.py``:

* ``echo(data)``: acks ``data``;
* ``join()``: enters the room ``"room"``, acks ``true``;
* ``fanout(n)``: emits ``tick`` with ``0 .. n-1`` to ``"room"`` (every worker's clients,
  through Redis), one emit after the other, then acks ``n``.
"""

from __future__ import annotations

import os
from typing import Any

from socketio_core.aio import AsyncServer
from socketio_core.aio.redis_manager import AsyncRedisManager

_ping = float(os.environ.get("WB_PING", "300"))
_mgr = AsyncRedisManager(
    os.environ.get("WB_REDIS_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("WB_CHANNEL", "workers-bench"),
    forward_requests=True,
)
sio = AsyncServer(client_manager=_mgr, ping_interval=_ping, ping_timeout=_ping)


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
