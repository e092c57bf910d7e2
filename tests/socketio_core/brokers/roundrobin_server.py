"""One server process of a cluster without sticky sessions (``forward_requests=True``).

Usage: python roundrobin_server.py BROKER_URL CHANNEL (``redis://`` or ``amqp://``)

Prints ``{"port": ..., "uid": ...}`` on stdout once it serves. Each client joins the room named
in its auth (``{"name": ..., "room": ...}``) and drives the scenario of
``test_sio_roundrobin.py``:

* ``echo(data)`` acks ``data`` (client -> server ack);
* ``ask_back(n)`` calls the client's ``double`` event with ``n`` and acks what the client
  answered (server -> client ack, while the client's own ack waits);
* ``to_room(msg)`` emits ``room_msg`` with ``msg`` to ``msg["room"]`` (every process) and acks
  true;
* ``stats()`` acks this process's forwarding counters (and its WebSocket relays' in
  ``relay``).

``sio`` is also importable (``roundrobin_server:sio``) for ``python -m socketio_core serve``,
which then reads the broker URL from ``RR_REDIS_URL`` and ``RR_CHANNEL``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from typing import Any

from socketio_core.aio import AsyncServer
from socketio_core.aio.aiopika_manager import AsyncAioPikaManager
from socketio_core.aio.forwarding_manager import ForwardingPubSubManager
from socketio_core.aio.redis_manager import AsyncRedisManager


def build(url: str, channel: str) -> tuple[AsyncServer, ForwardingPubSubManager]:
    kind = AsyncAioPikaManager if url.startswith("amqp") else AsyncRedisManager
    mgr = kind(url, channel, forward_requests=True, heartbeat_interval=1.0)
    sio = AsyncServer(client_manager=mgr, ping_interval=5, ping_timeout=5)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        await sio.enter_room(sid, auth["room"])

    @sio.event
    async def echo(sid: str, data: Any) -> Any:
        return data

    @sio.event
    async def ask_back(sid: str, n: int) -> Any:
        return await sio.call("double", n, to=sid, timeout=10)

    @sio.event
    async def to_room(sid: str, msg: dict[str, Any]) -> bool:
        await sio.emit("room_msg", msg, room=msg["room"])
        return True

    @sio.event
    async def stats(sid: str) -> dict[str, Any]:
        forwarder = mgr.remote_sessions
        assert forwarder is not None
        relay = dataclasses.asdict(forwarder.relays.stats)
        return {"uid": mgr.uid, **dataclasses.asdict(forwarder.stats), "relay": relay}

    return sio, mgr


if os.environ.get("RR_REDIS_URL"):
    sio, _ = build(os.environ["RR_REDIS_URL"], os.environ.get("RR_CHANNEL", "socketio"))


async def main() -> None:
    url, channel = sys.argv[1:3]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    server, mgr = build(url, channel)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server.listen("127.0.0.1", 0) as front:
        print(json.dumps({"port": front.port, "uid": mgr.uid}), flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
