"""A Redis manager that speaks Node's sharded adapter (``createShardedAdapter``).

``AsyncRedisManager(url, wire="node-sharded")`` builds a :class:`ShardedNodeRedisManager`:
the operations and the answers are :class:`~socketio_core.aio.node_manager.NodeRedisManager`'s;
only the Redis side differs (:mod:`socketio_core.node_sharded` for the format):

* ``SSUBSCRIBE`` to ``<prefix>#<nsp>#`` (every message) and ``<prefix>#<nsp>#<uid>#`` (our
  answers), ``SPUBLISH`` to publish, ``PUBSUB SHARDNUMSUB`` to count the servers;
* ``subscription_mode="dynamic"`` (Node's default): a broadcast to exactly one room that does
  not look like a socket id goes to ``<prefix>#<nsp>#<room>#``; the manager subscribes to the
  channel of each public room that has a local member, and unsubscribes when the room empties
  (``"static"``: one channel for all; ``"dynamic-private"``: socket ids too).

Answers name their server (``uid``), but nothing announces the servers (no heartbeat in
``ShardedRedisAdapter``): the count of expected answers comes from ``SHARDNUMSUB``, and a
silent server is still reported as ``"unnamed-<n>"``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable
from typing import Any, Final

from ..node_adapter import Channels, NodeRequest, NodeResponse, RequestType, Selection
from ..node_sharded import Ignored, MessageType, decode, encode, looks_like_a_socket_id
from ..packet import Packet
from ..pubsub import Rejected
from ..pysocketio_wire import PySocketIOMessage
from .manager import BroadcastTarget
from .node_link import wire_selection
from .node_manager import NodeRedisManager

__all__ = ["ShardedNodeRedisManager"]

logger = logging.getLogger(__name__)

MODES: Final = ("dynamic", "static", "dynamic-private")
_TYPES: Final = {
    RequestType.REMOTE_JOIN: MessageType.SOCKETS_JOIN,
    RequestType.REMOTE_LEAVE: MessageType.SOCKETS_LEAVE,
    RequestType.REMOTE_DISCONNECT: MessageType.DISCONNECT_SOCKETS,
    RequestType.REMOTE_FETCH: MessageType.FETCH_SOCKETS,
    RequestType.SERVER_SIDE_EMIT: MessageType.SERVER_SIDE_EMIT,
    RequestType.BROADCAST: MessageType.BROADCAST,
}


def _opts(value: Any) -> Any:
    """The cluster adapter's ``opts`` always carry ``flags``."""
    if isinstance(value, dict) and "flags" not in value:
        return {**value, "flags": {}}
    return value


class ShardedNodeRedisManager(NodeRedisManager):
    """Join a Node cluster on ``createShardedAdapter`` (build it as
    ``AsyncRedisManager(url, wire="node-sharded")``).

    Args:
        subscription_mode: the adapter's ``subscriptionMode`` (``"dynamic"``).
        **options: :class:`~socketio_core.aio.node_manager.NodeRedisManager`'s (``key`` is
            the ``channelPrefix``).
    """

    name = "redis-node-sharded"

    def __init__(self, *args: Any, subscription_mode: str = "dynamic", **options: Any) -> None:
        if subscription_mode not in MODES:
            raise ValueError(f"unknown subscription mode {subscription_mode!r}")
        super().__init__(*args, **options)
        self.subscription_mode = subscription_mode
        self.uid = secrets.token_hex(8)  # socket.io-adapter's randomId(): 16 hex digits
        self._room_channels: set[str] = set()
        self._rooms_lock = asyncio.Lock()

    # ------------------------------------------------------------------ channels

    def _response_channel(self, channels: Channels, uid: str) -> str:
        return channels.room(uid)

    async def _open_subscriber(self) -> None:
        self._room_channels = set()
        await super()._open_subscriber()
        await self._sync_rooms()

    async def _join_namespace(self, channels: Channels) -> None:
        ns = channels.namespace
        main, mine = channels.broadcast, self._response_channel(channels, self.uid)
        self.namespaces[ns] = channels
        self._channels[main] = ("sharded", ns)
        self._channels[mine] = ("sharded", ns)
        await self._pubsub.ssubscribe(main, mine)

    def _public(self, namespace: str, room: str, sids: set[str]) -> bool:
        if self.subscription_mode == "static":
            return False
        return self.subscription_mode == "dynamic-private" or room not in sids

    async def _sync_rooms(self) -> None:
        """(Un)subscribe the channels of the public rooms that have local members."""
        if self._pubsub is None or not self._started:
            return
        async with self._rooms_lock:
            wanted: dict[str, str] = {}
            for ns, channels in self.namespaces.items():
                sids = set(self.registry.sockets(ns))
                for room in self.registry.rooms(ns):
                    if self._public(ns, room, sids):
                        wanted[channels.room(room)] = ns
            new = [c for c in wanted if c not in self._room_channels]
            old = [c for c in self._room_channels if c not in wanted]
            for channel in new:
                self._channels[channel] = ("sharded", wanted[channel])
            if new:
                await self._pubsub.ssubscribe(*new)
            if old:
                await self._pubsub.sunsubscribe(*old)
            for channel in old:
                self._channels.pop(channel, None)
            self._room_channels = set(wanted)

    def _rooms_changed(self) -> None:
        if self.subscribed:
            self._spawn(self._sync_rooms())

    # ----------------------------------------------------------------- listening

    async def _on_node_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "smessage":
            await super()._on_node_message(message)
            return
        raw_channel = message.get("channel", b"")
        channel = raw_channel.decode("utf-8", "replace") if isinstance(raw_channel, bytes) else ""
        data = message.get("data")
        role, ns = self._channels.get(channel, ("", ""))
        if role != "sharded" or not isinstance(data, bytes):
            return
        try:
            await self._on_sharded(channel, ns, data)
        except Exception:
            logger.error("! %s: handling a message of %s failed", self.name, channel, exc_info=True)

    async def _on_sharded(self, channel: str, namespace: str, data: bytes) -> None:
        result = decode(data, namespace, max_size=self.max_message_size)
        if isinstance(result, Rejected):
            self._reject(channel, result.reason)
            return
        if isinstance(result, Ignored):
            return
        if isinstance(result, NodeRequest):
            if result.uid == self.uid:
                return
            self.stats.received += 1
            await self._answer(self.namespaces[namespace], result)
            self._rooms_changed()
        elif isinstance(result, NodeResponse):
            self._on_answer(result)
        elif result.uid != self.uid:
            self.stats.received += 1
            await self._deliver(result)

    # ---------------------------------------------------------------- publishing

    async def _publish_raw(self, channel: str, data: bytes) -> None:
        await self._publisher.spublish(channel, data)

    async def server_count(self, namespace: str = "/") -> int:
        """The number of servers of the namespace (``PUBSUB SHARDNUMSUB``)."""
        if self._publisher is None:
            await self._connect_publisher()
        main = self._channels_of(namespace).broadcast
        counts = await self._publisher.execute_command("PUBSUB SHARDNUMSUB", main)
        return int(counts[0][1]) if counts else 0

    async def _publish_packet(self, target: BroadcastTarget, packet: Packet) -> None:
        if target.rooms == ():
            return
        channels = self._channels_of(target.namespace)
        rooms = target.rooms or ()
        channel = channels.broadcast
        if len(rooms) == 1 and (
            (self.subscription_mode == "dynamic" and not looks_like_a_socket_id(rooms[0]))
            or self.subscription_mode == "dynamic-private"
        ):
            channel = channels.room(rooms[0])
        selection: Selection = wire_selection(target)
        fields = {"packet": packet, "opts": selection.to_wire()}
        await self._send(channel, encode(self.uid, target.namespace, MessageType.BROADCAST, fields))

    async def _publish_request(
        self, namespace: str, kind: RequestType, rid: str | None = None, **fields: Any
    ) -> None:
        data = {name: _opts(value) if name == "opts" else value for name, value in fields.items()}
        if kind == RequestType.SERVER_SIDE_EMIT:
            data["packet"] = data.pop("data")
        if rid is not None:
            data["requestId"] = rid
        channel = self._channels_of(namespace).broadcast
        await self._send(channel, encode(self.uid, namespace, _TYPES[kind], data))

    async def _respond(
        self,
        channels: Channels,
        request: NodeRequest,
        kind: RequestType | None,
        *,
        shared: bool = False,
        **fields: Any,
    ) -> None:
        if request.uid is None or request.request_id is None:
            return
        data: dict[str, Any] = {"requestId": request.request_id}
        if kind is None:
            if "sockets" not in fields:
                return  # classic-only answers (legacy single-socket requests, rooms)
            message_type = MessageType.FETCH_SOCKETS_RESPONSE
            data["sockets"] = fields["sockets"]
        elif kind == RequestType.SERVER_SIDE_EMIT:
            message_type = MessageType.SERVER_SIDE_EMIT_RESPONSE
            data["packet"] = fields["data"]
        elif kind == RequestType.BROADCAST_CLIENT_COUNT:
            message_type = MessageType.BROADCAST_CLIENT_COUNT
            data["clientCount"] = fields["clientCount"]
        else:
            message_type = MessageType.BROADCAST_ACK
            data["packet"] = fields["packet"]
        channel = self._response_channel(channels, request.uid)
        await self._send(channel, encode(self.uid, channels.namespace, message_type, data))

    # ------------------------------------------------- room changes (subscriptions)

    def connect(self, namespace: str, sid: str) -> None:
        """A socket connected (its namespace's channels are joined when new)."""
        super().connect(namespace, sid)
        if self.subscription_mode == "dynamic-private":
            self._rooms_changed()

    def disconnect(self, namespace: str, sid: str) -> None:
        """A socket left: rooms it was the last member of are unsubscribed."""
        super().disconnect(namespace, sid)
        self._rooms_changed()

    async def enter_room(self, namespace: str, sid: str, room: str) -> None:
        """Add a socket of any server to a room."""
        await super().enter_room(namespace, sid, room)
        await self._sync_rooms()

    async def leave_room(self, namespace: str, sid: str, room: str) -> None:
        """Remove a socket of any server from a room."""
        await super().leave_room(namespace, sid, room)
        await self._sync_rooms()

    async def sockets_join(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket of the cluster join ``rooms``."""
        await super().sockets_join(target, rooms)
        await self._sync_rooms()

    async def sockets_leave(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket of the cluster leave ``rooms``."""
        await super().sockets_leave(target, rooms)
        await self._sync_rooms()

    async def _apply_pysocketio(self, message: PySocketIOMessage) -> None:
        await super()._apply_pysocketio(message)
        self._rooms_changed()
