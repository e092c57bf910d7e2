"""One server process of a test cluster.

Usage: python cluster_server.py redis|amqp URL CHANNEL OPTIONS_JSON

Prints ``{"port": ..., "uid": ...}`` on stdout once it serves and knows every peer it was told
to expect (``peers`` in the options). Clients drive cluster operations through the ``op``
event (see :func:`op`); the result comes back as the ack. Every client joins the rooms listed
in its auth (``{"name": ..., "rooms": [...]}``), and its ``name`` goes in its socket data.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import signal
import sys
from typing import Any

from socketio_core.aio import AsyncServer, BroadcastTarget
from socketio_core.aio.aiopika_manager import AsyncAioPikaManager
from socketio_core.aio.node_manager import NodeRedisManager
from socketio_core.aio.pubsub_manager import AsyncPubSubManager
from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.exceptions import AckTimeout, BrokerError, SocketIOError


def build(kind: str, url: str, channel: str, options: dict[str, Any]) -> AsyncPubSubManager:
    settings = {
        "heartbeat_interval": options.get("heartbeat", 1.0),
        "heartbeat_timeout": options.get("heartbeat_timeout", 10.0),
        "publish_timeout": options.get("publish_timeout", 5.0),
        "reconnect_delay": (0.05, 0.5),
        "max_message_size": options.get("max_size", 1_000_000),
        "encoding": options.get("encoding", "json"),
    }
    if kind == "redis":
        wire = options.get("wire", "ours")
        if wire != "ours":
            return AsyncRedisManager(
                url,
                channel,
                wire=wire,
                requests_timeout=options.get("requests_timeout", 3.0),
                namespaces=options.get("namespaces", ["/"]),
                publish_on_specific_response_channel=options.get("specific", False),
                **settings,
            )
        return AsyncRedisManager(url, channel, **settings)
    return AsyncAioPikaManager(url, channel, **settings)


async def main() -> None:
    kind, url, channel, raw = sys.argv[1:5]
    options = json.loads(raw)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    mgr = build(kind, url, channel, options)
    sio = AsyncServer(client_manager=mgr)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        sio.socket_data(sid)["name"] = auth.get("name")
        for room in auth.get("rooms", []):
            await sio.enter_room(sid, room)

    mgr.on_server_event("whoami", lambda *args: {"uid": mgr.uid, "args": list(args)})

    async def note(*args: Any) -> None:
        await sio.emit("noted", {"uid": mgr.uid, "args": list(args)}, local=True)

    mgr.on_server_event("note", note)

    @sio.event
    async def op(sid: str, req: dict[str, Any]) -> Any:
        try:
            return await run(sio, mgr, req)
        except SocketIOError as exc:
            return {"error": type(exc).__name__, "message": str(exc)}

    try:
        await mgr.start()
    except BrokerError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        sys.exit(3)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with sio.listen("127.0.0.1", 0) as front:
        expected = options.get("peers", 2)
        if isinstance(mgr, NodeRedisManager):  # Node's wire: servers are counted by Redis
            while await mgr.server_count() < expected + 1:  # bounded by the start-up deadline
                await asyncio.sleep(0.02)
        while not isinstance(mgr, NodeRedisManager) and len(mgr.peers) < expected:
            await asyncio.sleep(0.02)
        print(json.dumps({"port": front.port, "uid": mgr.uid}), flush=True)
        await stop.wait()
    await sio.shutdown()


def from_wire(value: Any) -> Any:
    """``{"$bin": base64}`` as bytes (how the Node test driver spells binary values)."""
    if isinstance(value, list):
        return [from_wire(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {key: from_wire(item) for key, item in value.items()}
    return value


async def run(sio: AsyncServer, mgr: AsyncPubSubManager, req: dict[str, Any]) -> Any:
    name = req["op"]
    to = req.get("to")
    if name == "emit":
        await sio.emit(
            req["event"],
            from_wire(req.get("data")),
            to=to,
            skip_sid=req.get("skip_sid"),
            except_rooms=req.get("except", ()),
            volatile=req.get("volatile", False),
            local=req.get("local", False),
        )
        return {"ok": True}
    if name == "enter_room":
        await sio.enter_room(req["sid"], req["room"])
    elif name == "leave_room":
        await sio.leave_room(req["sid"], req["room"])
    elif name == "close_room":
        await sio.close_room(req["room"])
    elif name == "disconnect":
        await sio.disconnect(req["sid"])
    elif name == "sockets_join":
        await sio.to(to).except_(req.get("except")).sockets_join(req["rooms"])
    elif name == "sockets_leave":
        await sio.to(to).except_(req.get("except")).sockets_leave(req["rooms"])
    elif name == "disconnect_sockets":
        await sio.to(to).except_(req.get("except")).disconnect_sockets()
    elif name == "fetch_sockets":
        rooms = None if to is None else tuple([to] if isinstance(to, str) else to)
        found = await mgr.fetch_sockets(BroadcastTarget("/", rooms), timeout=req["timeout"])
        sockets = [{"id": s.id, "rooms": list(s.rooms), "data": s.data} for s in found]
        auth = [s.handshake.get("auth") for s in found]
        return {"sockets": sockets, "auth": auth, "missing": list(found.missing)}
    elif name == "call":
        timeout = req.get("timeout", 5.0)
        if "sid" in req:
            return {
                "result": await sio.call(
                    req["event"], req.get("data"), sid=req["sid"], timeout=timeout
                )
            }
        try:
            return {"result": await sio.call(req["event"], req.get("data"), to=to, timeout=timeout)}
        except AckTimeout as exc:
            return {"timeout": str(exc), "partial": exc.responses}
    elif name == "emit_callback":
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await sio.emit(
            req["event"],
            req.get("data"),
            to=to,
            callback=lambda *args: done.set_result(list(args)),
        )
        return {"callback": await asyncio.wait_for(done, 5)}
    elif name == "server_side_emit":
        await mgr.server_side_emit(req["event"], *req["args"])
    elif name == "server_count":
        return {"count": await mgr.server_count()}  # type: ignore[attr-defined]
    elif name == "server_side_call":
        answers = await mgr.server_side_call("whoami", *req["args"], timeout=req["timeout"])
        return {"answers": list(answers), "missing": list(answers.missing)}
    elif name == "state":
        return {
            "uid": mgr.uid,
            "peers": sorted(mgr.peers),
            "subscribed": mgr.subscribed,
            "stats": dataclasses.asdict(mgr.stats),
        }
    elif name == "emit_many":
        outcome: list[str] = []
        for i in range(req["count"]):
            before = mgr.stats.undelivered
            try:
                await sio.emit("seq", i)
                outcome.append("warned" if mgr.stats.undelivered > before else "ok")
            except BrokerError:
                outcome.append("failed")
            await asyncio.sleep(req["interval"])  # pacing of the traffic generator
        return {"outcome": outcome}
    else:
        return {"error": "unknown op"}
    return {"ok": True}


if __name__ == "__main__":
    asyncio.run(main())
