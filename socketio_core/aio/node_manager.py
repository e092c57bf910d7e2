"""A Redis manager that speaks Node's ``@socket.io/redis-adapter`` protocol (classic mode).

``AsyncRedisManager(url, wire="node")`` builds a :class:`NodeRedisManager`: the Python server
becomes one more member of a cluster of Node socket.io servers that use
``createAdapter(pubClient, subClient)``, and it takes what ``@socket.io/redis-emitter`` and
python-socketio's ``RedisManager(write_only=True)`` publish. The wire format is
:mod:`socketio_core.node_adapter` (and :mod:`socketio_core.pysocketio_wire`); this driver
answers the other servers and runs the cluster operations; the Redis side (connections,
subscriptions, routing, requests) is :mod:`socketio_core.aio.node_link`.

Theory of operation
-------------------
Each server of the cluster (Node or Python) subscribes to its namespaces' channels and is
counted by ``PUBSUB NUMSUB`` of their request channel (see :mod:`~socketio_core.aio.node_link`).

* A broadcast from another server is a socket.io-parser packet: it is encoded once with this
  server's parser and delivered with :meth:`AsyncManager.emit`. A broadcast of ours is the
  packet of the pre-encoded messages, decoded once, published as ``[uid, packet, opts]``.
* Requests carry no per-server addressing: each server applies ``REMOTE_JOIN``/``LEAVE``/
  ``DISCONNECT`` to its own sockets and answers ``REMOTE_FETCH``, ``SOCKETS``, ``ALL_ROOMS``,
  ``SERVER_SIDE_EMIT`` (with a ``requestId``) and ``BROADCAST`` (acks) on the response channel.
* A request of ours waits for ``NUMSUB - 1`` answers or ``requests_timeout``. Classic answers
  do not name their server, so :attr:`ClusterList.missing` can only count the silent servers
  (entries ``"unnamed-<n>"``); the acks of a broadcast do not name their socket, so the acks
  of sockets of Node servers are keyed ``"node-ack-<n>"`` in the responses by sid.

A message that does not parse or validate is dropped with one WARNING (``stats.rejected``);
it never reaches the server.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from ..args import ack_value, as_args
from ..broadcast import names
from ..exceptions import AckTimeout, LocalProtocolError, NotConnected
from ..node_adapter import Broadcast, Channels, NodeRequest, RequestType, Selection, packet_of
from ..packet import Packet
from ..parsers import JsonParser
from ..pysocketio_wire import PySocketIOMessage
from .manager import AsyncManager, BroadcastTarget, SocketInfo
from .node_link import NodeLink, Pending, local_target, wire_selection
from .pubsub_link import ClusterList
from .pysocketio_bridge import apply_pysocketio

__all__ = ["NodeRedisManager"]

logger = logging.getLogger(__name__)


def _missing(count: int) -> list[str]:
    return [f"unnamed-{n}" for n in range(1, count + 1)]


class NodeRedisManager(NodeLink):
    """Join a Node ``@socket.io/redis-adapter`` cluster (build it as
    ``AsyncRedisManager(url, wire="node")``).

    Args:
        url: the Redis server, as :class:`AsyncRedisManager`.
        write_only: only publish (an emitter in Node's format).
        key: the adapter's ``key`` option (``"socket.io"``).
        namespaces: namespaces to join at start (more are joined as clients connect).
        requests_timeout: the adapter's ``requestsTimeout``, in seconds (default for
            ``fetch_sockets`` and ``server_side_call``).
        publish_on_specific_response_channel: answer on ``<key>-response#<nsp>#<uid>#`` (the
            adapter option of the same name; the requester must have it too).
        pysocketio_channel: also apply what python-socketio's write-only managers publish on
            this channel (None: do not listen).
        **options: :class:`AsyncRedisManager`'s (``redis_options``, ``connect_timeout``,
            ``publish_timeout``, ``reconnect_delay``, ``max_message_size``, ``parser``).
    """

    # ------------------------------------------------------------------ answers

    async def _deliver(self, broadcast: Broadcast) -> None:
        packet = broadcast.packet
        if self._server is None or packet.namespace not in self.namespaces:
            return
        messages = self.server.parser.encode(packet)
        await AsyncManager.emit(self, local_target(packet.namespace, broadcast.selection), messages)

    async def _answer(self, channels: Channels, request: NodeRequest) -> None:
        kind, fields, ns = request.type, request.fields, channels.namespace
        if kind == RequestType.SERVER_SIDE_EMIT:
            self._spawn(self._node_server_side(channels, request))
            return
        if self._server is None:
            return
        if kind in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE):
            join = kind == RequestType.REMOTE_JOIN
            if "selection" in fields:
                target = local_target(ns, fields["selection"])
                apply = AsyncManager.sockets_join if join else AsyncManager.sockets_leave
                await apply(self, target, fields["rooms"])
            elif self.is_connected(ns, fields["sid"]):
                apply_one = AsyncManager.enter_room if join else AsyncManager.leave_room
                await apply_one(self, ns, fields["sid"], fields["room"])
                await self._respond(channels, request, None)
        elif kind == RequestType.REMOTE_DISCONNECT:
            if "selection" in fields:
                target = local_target(ns, fields["selection"])
            elif self.is_connected(ns, fields["sid"]):
                target = BroadcastTarget(ns, (fields["sid"],), local=True)
            else:
                return
            await AsyncManager.disconnect_sockets(self, target, close=fields["close"])
            if "sid" in fields:
                await self._respond(channels, request, None)
        elif kind == RequestType.REMOTE_FETCH:
            await self._node_fetch(channels, request)
        elif kind == RequestType.SOCKETS:
            rooms = fields["rooms"] or None
            sids = self.select(BroadcastTarget(ns, rooms))
            await self._respond(channels, request, None, sockets=sids)
        elif kind == RequestType.ALL_ROOMS:
            await self._respond(channels, request, None, rooms=self.registry.rooms(ns))
        elif kind == RequestType.BROADCAST:
            await self._answer_broadcast_ack(channels, request)

    async def _node_fetch(self, channels: Channels, request: NodeRequest) -> None:
        target = local_target(channels.namespace, request.fields["selection"])
        sockets = [
            {
                "id": info.id,
                "handshake": info.handshake,
                "rooms": list(info.rooms),
                "data": info.data,
            }
            for info in await AsyncManager.fetch_sockets(self, target)
        ]
        try:
            await self._respond(channels, request, None, sockets=sockets)
        except LocalProtocolError:
            logger.error("! %s: socket data cannot be encoded; sent without it", self.name)
            for item in sockets:
                item["data"] = {}
            await self._respond(channels, request, None, sockets=sockets)

    async def _answer_broadcast_ack(self, channels: Channels, request: NodeRequest) -> None:
        selection: Selection = request.fields["selection"]
        packet: Packet = request.fields["packet"]
        target = local_target(channels.namespace, selection)
        sids = self.select(target)
        await self._respond(
            channels, request, RequestType.BROADCAST_CLIENT_COUNT, clientCount=len(sids)
        )

        def relay(sid: str, data: list[Any]) -> None:
            # Node relays one value per ack; ours is the one rule of socketio_core.args.
            coro = self._respond(
                channels, request, RequestType.BROADCAST_ACK, packet=ack_value(data)
            )
            self._spawn(self._quietly(coro))

        event, args = packet.data[0], list(packet.data[1:])
        self.server.emit_for_acks(target.namespace, sids, event, args, selection.timeout, relay)

    async def _node_server_side(self, channels: Channels, request: NodeRequest) -> None:
        event, *args = request.fields["data"]
        handler = self._server_handlers.get(event)
        if handler is None:
            logger.debug("< %s: no server-side handler for %r", self.name, event)
            return
        try:
            result = handler(*args)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            logger.error("! server-side handler for %r failed", event, exc_info=True)
            return
        if request.request_id is not None:
            answer = list(result) if isinstance(result, tuple) else result
            # Node answers a serverSideEmit on the shared response channel, whatever the option.
            kind = RequestType.SERVER_SIDE_EMIT
            await self._quietly(self._respond(channels, request, kind, shared=True, data=answer))

    async def _apply_pysocketio(self, message: PySocketIOMessage) -> None:
        await apply_pysocketio(self, message)

    # ------------------------------------------------------- cluster operations

    async def emit(self, target: BroadcastTarget, messages: Sequence[str | bytes]) -> int:
        """Send to the selected local sockets, and publish the packet for the other servers."""
        count = await AsyncManager.emit(self, target, messages) if self._server is not None else 0
        if not target.local:
            parser = self._server.parser if self._server is not None else self.parser
            await self._publish_packet(target, packet_of(messages, parser or JsonParser()))
        return count

    async def emit_event(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        *,
        except_rooms: Iterable[str] = (),
        volatile: bool = False,
    ) -> None:
        """Emit an event cluster-wide in Node's format (what a write-only manager is for)."""
        args = as_args(data)
        ns = namespace or "/"
        rooms = names(to if to is not None else room)
        target = BroadcastTarget(
            ns, rooms or None, names(except_rooms), names(skip_sid), volatile=volatile
        )
        packet = Packet.event([event, *args], namespace=ns)
        if self._server is not None:
            await AsyncManager.emit(self, target, self.server.parser.encode(packet))
        await self._publish_packet(target, packet)

    async def enter_room(self, namespace: str, sid: str, room: str) -> None:
        """Add a socket of any server to a room."""
        if self.is_connected(namespace, sid):
            await AsyncManager.enter_room(self, namespace, sid, room)
        else:
            await self.sockets_join(BroadcastTarget(namespace, (sid,)), [room])

    async def leave_room(self, namespace: str, sid: str, room: str) -> None:
        """Remove a socket of any server from a room."""
        if self.is_connected(namespace, sid):
            await AsyncManager.leave_room(self, namespace, sid, room)
        else:
            await self.sockets_leave(BroadcastTarget(namespace, (sid,)), [room])

    async def close_room(self, namespace: str, room: str) -> None:
        """Remove every socket of the cluster from a room."""
        await self.sockets_leave(BroadcastTarget(namespace, (room,)), [room])

    async def _rooms_request(
        self, kind: RequestType, target: BroadcastTarget, rooms: list[str]
    ) -> None:
        opts = wire_selection(target).to_wire(flags=False)
        await self._publish_request(target.namespace, kind, opts=opts, rooms=rooms)

    async def sockets_join(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket of the cluster join ``rooms``."""
        joined = list(rooms)
        if self._server is not None:
            await AsyncManager.sockets_join(self, target, joined)
        if not target.local:
            await self._rooms_request(RequestType.REMOTE_JOIN, target, joined)

    async def sockets_leave(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket of the cluster leave ``rooms``."""
        left = list(rooms)
        if self._server is not None:
            await AsyncManager.sockets_leave(self, target, left)
        if not target.local:
            await self._rooms_request(RequestType.REMOTE_LEAVE, target, left)

    async def disconnect_sockets(self, target: BroadcastTarget, *, close: bool = False) -> None:
        """Disconnect every selected socket of the cluster."""
        if self._server is not None:
            await AsyncManager.disconnect_sockets(self, target, close=close)
        if not target.local:
            opts = wire_selection(target).to_wire(flags=False)
            await self._publish_request(
                target.namespace, RequestType.REMOTE_DISCONNECT, opts=opts, close=close
            )

    async def fetch_sockets(
        self, target: BroadcastTarget, *, timeout: float | None = None
    ) -> ClusterList[SocketInfo]:
        """Describe every selected socket of the cluster.

        Returns:
            Local sockets and those of every server that answered in time; ``missing`` holds
            one ``"unnamed-<n>"`` per silent server (classic answers carry no server id).
        """
        local = await AsyncManager.fetch_sockets(self, target)
        if target.local:
            return ClusterList(local)
        opts = wire_selection(target).to_wire(flags=False)
        wait = self.requests_timeout if timeout is None else timeout
        pending, expected = await self._node_request(
            target.namespace, RequestType.REMOTE_FETCH, wait, opts=opts
        )
        items = list(local)
        for sockets in pending.answers:
            for s in sockets:
                items.append(
                    SocketInfo(
                        s["id"],
                        target.namespace,
                        tuple(str(r) for r in s.get("rooms") or ()),
                        dict(s.get("data") or {}),
                        dict(s.get("handshake") or {}),
                    )
                )
        missing = _missing(expected - len(pending.answers))
        if missing:
            logger.warning(
                "! %s: fetch_sockets: %d server(s) did not answer within %ss",
                self.name,
                len(missing),
                wait,
            )
        return ClusterList(items, missing)

    async def _broadcast_ack_request(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> tuple[Pending, int]:
        packet = Packet.event([event, *args], namespace=target.namespace)
        opts = wire_selection(target, timeout).to_wire()
        return await self._node_request(
            target.namespace, RequestType.BROADCAST, timeout, packet=packet, opts=opts
        )

    async def broadcast_with_acks(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> Any:
        """Emit with acks to every selected socket of the cluster.

        Returns:
            The responses by sid (acks of sockets of other servers keyed ``"node-ack-<n>"``:
            Node's answers do not name the socket), or :exc:`AckTimeout` with the partial
            responses.
        """
        if target.local:
            return await AsyncManager.broadcast_with_acks(self, target, event, args, timeout)
        local_task = asyncio.ensure_future(
            AsyncManager.broadcast_with_acks(self, target, event, args, timeout)
        )
        try:
            pending, expected = await self._broadcast_ack_request(target, event, args, timeout)
        finally:
            local = await local_task
        responses = dict(local.responses if isinstance(local, AckTimeout) else local)
        for n, value in enumerate(pending.acks, 1):
            responses[f"node-ack-{n}"] = value
        silent = expected - pending.counted
        if isinstance(local, AckTimeout) or silent or len(pending.acks) < pending.counts:
            servers = f"; {silent} server(s) did not answer" if silent else ""
            return AckTimeout(f"not every client acked within {timeout}s{servers}", responses)
        return responses

    async def call_socket(
        self, namespace: str, sid: str, event: str, args: list[Any], timeout: float
    ) -> list[Any]:
        """Emit to a socket of another server and wait for its ack (its first argument).

        Raises:
            NotConnected: no server of the cluster has that socket.
            AckTimeout: no ack within ``timeout`` (or a server did not answer).
        """
        target = BroadcastTarget(namespace, (sid,))
        pending, expected = await self._broadcast_ack_request(target, event, args, timeout)
        if pending.acks:
            return [pending.acks[0]]
        if pending.counts or pending.counted < expected:
            raise AckTimeout(f"no ack from {sid} within {timeout}s")
        raise NotConnected(f"{sid} is not connected to any server of the cluster")

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to every other server of namespace ``/`` (``serverSideEmit``)."""
        await self._publish_request("/", RequestType.SERVER_SIDE_EMIT, data=[event, *args])

    async def server_side_call(
        self, event: str, *args: Any, timeout: float | None = None
    ) -> ClusterList[Any]:
        """Send an event to every other server and gather one answer from each.

        Returns:
            The answers; ``missing`` counts the servers that did not answer in time.
        """
        wait = self.requests_timeout if timeout is None else timeout
        pending, expected = await self._node_request(
            "/", RequestType.SERVER_SIDE_EMIT, wait, data=[event, *args]
        )
        return ClusterList(pending.answers, _missing(expected - len(pending.answers)))
