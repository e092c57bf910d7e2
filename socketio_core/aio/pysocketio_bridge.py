"""Apply python-socketio's pub/sub messages (:mod:`socketio_core.pysocketio_wire`) to the
sockets of this process: shared by the managers of both wire formats, so that python-socketio
workers (``RedisManager(write_only=True)``) keep reaching clients during a migration."""

from __future__ import annotations

from ..packet import Packet
from ..pysocketio_wire import PySocketIOMessage
from .manager import AsyncManager, BroadcastTarget

__all__ = ["apply_pysocketio", "looks_like_pysocketio"]


def looks_like_pysocketio(data: bytes) -> bool:
    """python-socketio's ``json.dumps`` writes ``method`` first; our messages start with
    ``{"v":``, so one prefix test tells them apart on a shared channel."""
    return data.startswith((b'{"method":', b'{"method" :'))


async def apply_pysocketio(manager: AsyncManager, message: PySocketIOMessage) -> None:
    """Apply one operation to the local sockets only (python-socketio publishes it to every
    server, so nothing is published again)."""
    ns = message.namespace
    target = BroadcastTarget(ns, message.rooms, (), message.skip, local=True)
    if message.method == "emit":
        packet = Packet.event([message.event, *message.args], namespace=ns)
        await AsyncManager.emit(manager, target, manager.server.parser.encode(packet))
    elif message.method == "disconnect":
        await AsyncManager.disconnect_sockets(manager, target)
    elif message.method == "enter_room":
        await AsyncManager.sockets_join(manager, target, [message.room])
    else:  # leave_room, close_room
        await AsyncManager.sockets_leave(manager, target, [message.room])
