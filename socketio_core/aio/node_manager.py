"""A Redis manager that speaks Node's ``@socket.io/redis-adapter`` protocol (classic mode).

``AsyncRedisManager(url, wire="node")`` builds a :class:`NodeRedisManager`: the Python server
becomes one more member of a cluster of Node socket.io servers that use
``createAdapter(pubClient, subClient)``, and it takes what ``@socket.io/redis-emitter`` and
python-socketio's ``RedisManager(write_only=True)`` publish. The wire format is
:mod:`socketio_core.node_adapter` (and :mod:`socketio_core.pysocketio_wire`); this module is
the driver: Redis connections, subscriptions per namespace, and the bookkeeping of requests.

Theory of operation
-------------------
Per namespace (``"/"`` and those given as ``namespaces=``, plus any namespace a client
connects to), the manager pattern-subscribes to the broadcast channels ``<key>#<nsp>#*`` and
subscribes to the request channel and both response channels, on one Redis connection. It is
then counted by ``PUBSUB NUMSUB <key>-request#<nsp>#``, which is how every server of the
cluster (Node or Python) learns how many answers to wait for.

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
import contextlib
import inspect
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import AckTimeout, BrokerError, LocalProtocolError, NotConnected
from ..node_adapter import (
    DEFAULT_KEY,
    Broadcast,
    Channels,
    NodeRequest,
    NodeResponse,
    RequestType,
    Selection,
    decode_broadcast,
    decode_request,
    decode_response,
    encode_broadcast,
    encode_request,
    encode_response,
)
from ..packet import Packet
from ..parsers import JsonParser
from ..pubsub import Rejected
from ..pysocketio_wire import PySocketIOMessage, decode_pysocketio
from .manager import AsyncManager, BroadcastTarget, SocketInfo
from .pubsub_link import ClusterList
from .redis_manager import AsyncRedisManager
from .state import AckWaiter

__all__ = ["NodeRedisManager"]

logger = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class _Pending:
    """One request of ours waiting for ``expected`` answers."""

    type: RequestType
    expected: int
    done: asyncio.Future[None]
    answers: list[Any] = field(default_factory=list)
    counts: int = 0
    counted: int = 0
    acks: list[Any] = field(default_factory=list)

    def check(self) -> None:
        if self.done.done():
            return
        if self.type == RequestType.BROADCAST:
            if self.counted >= self.expected and len(self.acks) >= self.counts:
                self.done.set_result(None)
        elif len(self.answers) >= self.expected:
            self.done.set_result(None)


def _selection(target: BroadcastTarget, timeout: float | None = None) -> Selection:
    return Selection(
        target.rooms or (),
        (*target.except_rooms, *target.skip),
        target.volatile,
        False,
        timeout,
    )


def _target(namespace: str, selection: Selection) -> BroadcastTarget:
    return BroadcastTarget(
        namespace,
        selection.rooms or None,
        selection.except_rooms,
        (),
        local=True,
        volatile=selection.volatile,
    )


def _missing(count: int) -> list[str]:
    return [f"unnamed-{n}" for n in range(1, count + 1)]


class NodeRedisManager(AsyncRedisManager):
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

    name = "redis-node"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socketio",
        write_only: bool = False,
        *,
        wire: str = "node",
        key: str = DEFAULT_KEY,
        namespaces: Iterable[str] = ("/",),
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
        pysocketio_channel: str | None = "socketio",
        **options: Any,
    ) -> None:
        super().__init__(url, channel, write_only, **options)
        self.wire = wire
        self.key = key
        self.uid = secrets.token_hex(3)  # Node's uid2(6): six characters
        self.requests_timeout = requests_timeout
        self.specific_responses = publish_on_specific_response_channel
        self.pysocketio_channel = pysocketio_channel
        self.namespaces: dict[str, Channels] = {}
        self._wanted = {ns: Channels(key, ns) for ns in namespaces}
        self._pending: dict[str, _Pending] = {}
        self._pubsub: Any = None
        self._channels: dict[str, tuple[str, str]] = {}

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Connect, subscribe the namespaces' channels (idempotent).

        Raises:
            BrokerError: Redis cannot be reached within ``connect_timeout``.
        """
        if self._started:
            return
        self._started = True
        self._stopping = False
        try:
            await asyncio.wait_for(self._connect_publisher(), self.connect_timeout)
            if not self.write_only:
                await asyncio.wait_for(self._open_subscriber(), self.connect_timeout)
        except Exception as exc:
            self._started = False
            with contextlib.suppress(Exception):
                await self._close()
            raise BrokerError(f"cannot reach {self._describe()}: {exc!r}") from exc
        if not self.write_only:
            self.subscribed = True
            self._listener = asyncio.create_task(self._listen_node())
        logger.info("= %s manager %s started", self.name, self.uid)

    async def stop(self) -> None:
        """Stop listening and close the Redis connections."""
        if not self._started:
            return
        self._stopping = True
        self._started = False
        self.subscribed = False
        tasks = [t for t in (self._listener, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pending in self._pending.values():
            if not pending.done.done():
                pending.done.set_result(None)
        with contextlib.suppress(Exception):
            await self._close()
        self.namespaces.clear()
        logger.info("x %s manager %s stopped", self.name, self.uid)

    async def _open_subscriber(self) -> None:
        await self._close_subscriber()
        client = self._client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._subscriber = (client, pubsub)
        self._pubsub = pubsub
        self.namespaces.clear()
        self._channels.clear()
        if self.pysocketio_channel is not None:
            self._channels[self.pysocketio_channel] = ("pysocketio", "/")
            await pubsub.subscribe(self.pysocketio_channel)
        for channels in list(self._wanted.values()):
            await self._join_namespace(channels)

    async def _join_namespace(self, channels: Channels) -> None:
        pubsub = self._pubsub
        ns = channels.namespace
        self._channels[channels.request] = ("request", ns)
        self._channels[channels.response] = ("response", ns)
        self._channels[channels.specific_response(self.uid)] = ("response", ns)
        await pubsub.psubscribe(channels.pattern)
        await pubsub.subscribe(
            channels.request, channels.response, channels.specific_response(self.uid)
        )
        self.namespaces[ns] = channels

    def connect(self, namespace: str, sid: str) -> None:
        """A socket of this process connected; join its namespace's channels if new."""
        super().connect(namespace, sid)
        if namespace not in self._wanted:
            self._wanted[namespace] = Channels(self.key, namespace)
            if self.subscribed:
                self._spawn(self._join_namespace(self._wanted[namespace]))

    # ----------------------------------------------------------------- listening

    async def _listen_node(self) -> None:
        low, high = self.reconnect_delay
        while True:
            try:
                while True:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=None
                    )
                    if message is not None:
                        await self._on_node_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed = False
                self.stats.disconnects += 1
                logger.warning("! %s: lost the subscription (%r); reconnecting", self.name, exc)
            delay = low
            while True:
                await asyncio.sleep(delay)  # reconnect backoff
                try:
                    await asyncio.wait_for(self._open_subscriber(), self.connect_timeout)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    delay = min(delay * 2, high)
                    logger.warning("! %s: cannot subscribe (%r)", self.name, exc)
            self.subscribed = True
            self.stats.reconnects += 1

    def _reject(self, channel: str, reason: str) -> None:
        self.stats.rejected += 1
        logger.warning("! %s: dropped a message of %s: %s", self.name, channel, reason)

    async def _on_node_message(self, message: dict[str, Any]) -> None:
        """Route one Redis message by its channel; never raises."""
        kind = message.get("type")
        raw_channel = message.get("channel", b"")
        channel = raw_channel.decode("utf-8", "replace") if isinstance(raw_channel, bytes) else ""
        data = message.get("data")
        if not isinstance(data, bytes):
            return
        try:
            if kind == "pmessage":
                await self._on_broadcast(channel, data)
            elif kind == "message":
                role, ns = self._channels.get(channel, ("", ""))
                if role == "request":
                    await self._on_request(channel, ns, data)
                elif role == "response":
                    self._on_response(channel, data)
                elif role == "pysocketio":
                    await self._on_pysocketio(channel, data)
        except Exception:
            logger.error("! %s: handling a message of %s failed", self.name, channel, exc_info=True)

    async def _on_broadcast(self, channel: str, data: bytes) -> None:
        result = decode_broadcast(data, max_size=self.max_message_size)
        if isinstance(result, Rejected):
            self._reject(channel, result.reason)
            return
        if result.uid == self.uid:
            return
        self.stats.received += 1
        await self._deliver(result)

    async def _deliver(self, broadcast: Broadcast) -> None:
        packet = broadcast.packet
        if self._server is None or packet.namespace not in self.namespaces:
            return
        messages = self.server.parser.encode(packet)
        await AsyncManager.emit(self, _target(packet.namespace, broadcast.selection), messages)

    async def _on_request(self, channel: str, namespace: str, data: bytes) -> None:
        request = decode_request(data, max_size=self.max_message_size)
        if isinstance(request, Rejected):
            self._reject(channel, request.reason)
            return
        if request.uid == self.uid:
            return
        self.stats.received += 1
        await self._answer(self.namespaces[namespace], request)

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
                target = _target(ns, fields["selection"])
                apply = AsyncManager.sockets_join if join else AsyncManager.sockets_leave
                await apply(self, target, fields["rooms"])
            elif self.is_connected(ns, fields["sid"]):
                apply_one = AsyncManager.enter_room if join else AsyncManager.leave_room
                await apply_one(self, ns, fields["sid"], fields["room"])
                await self._respond(channels, request, None)
        elif kind == RequestType.REMOTE_DISCONNECT:
            if "selection" in fields:
                target = _target(ns, fields["selection"])
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

    async def _respond(
        self, channels: Channels, request: NodeRequest, kind: RequestType | None, **fields: Any
    ) -> None:
        assert request.request_id is not None
        channel = channels.response
        if self.specific_responses and request.uid is not None:
            channel = channels.specific_response(request.uid)
        await self._send(channel, encode_response(request.request_id, kind, **fields))

    async def _node_fetch(self, channels: Channels, request: NodeRequest) -> None:
        target = _target(channels.namespace, request.fields["selection"])
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
        target = _target(channels.namespace, selection)
        sockets = self.server.dispatcher.sockets
        recipients = [sockets[s] for s in self.select(target) if s in sockets]
        await self._respond(
            channels, request, RequestType.BROADCAST_CLIENT_COUNT, clientCount=len(recipients)
        )

        def collect(sid: str, data: list[Any]) -> None:
            value = data[0] if data else None
            coro = self._respond(channels, request, RequestType.BROADCAST_ACK, packet=value)
            self._spawn(self._quietly(coro))

        event, args = packet.data[0], list(packet.data[1:])
        for socket in recipients:
            self.server.dispatcher.register_ack(
                socket, event, args, AckWaiter(collect=collect), selection.timeout
            )

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
            data = encode_response(request.request_id, RequestType.SERVER_SIDE_EMIT, data=answer)
            await self._quietly(self._send(channels.response, data))

    def _on_response(self, channel: str, data: bytes) -> None:
        response = decode_response(data, max_size=self.max_message_size)
        if isinstance(response, Rejected):
            self._reject(channel, response.reason)
            return
        pending = self._pending.get(response.request_id)
        if pending is None:
            return  # an answer to another server's request: the channel is shared
        self._take(pending, response)
        pending.check()

    @staticmethod
    def _take(pending: _Pending, response: NodeResponse) -> None:
        fields = response.fields
        if pending.type == RequestType.BROADCAST:
            if response.type == RequestType.BROADCAST_CLIENT_COUNT:
                pending.counted += 1
                pending.counts += fields["clientCount"]
            elif response.type == RequestType.BROADCAST_ACK:
                pending.acks.append(fields["packet"])
        elif pending.type == RequestType.REMOTE_FETCH and "sockets" in fields:
            pending.answers.append(fields["sockets"])
        elif pending.type == RequestType.SERVER_SIDE_EMIT and response.type == pending.type:
            pending.answers.append(fields["data"])

    async def _on_pysocketio(self, channel: str, data: bytes) -> None:
        message = decode_pysocketio(data, max_size=self.max_message_size)
        if isinstance(message, Rejected):
            self._reject(channel, message.reason)
            return
        if message is None or self._server is None:
            return  # a python-socketio message that is not for servers (e.g. a callback)
        self.stats.received += 1
        await self._apply_pysocketio(message)

    async def _apply_pysocketio(self, message: PySocketIOMessage) -> None:
        ns = message.namespace
        target = BroadcastTarget(ns, message.rooms, (), message.skip, local=True)
        if message.method == "emit":
            packet = Packet.event([message.event, *message.args], namespace=ns)
            await AsyncManager.emit(self, target, self.server.parser.encode(packet))
        elif message.method == "disconnect":
            await AsyncManager.disconnect_sockets(self, target)
        elif message.method == "enter_room":
            await AsyncManager.sockets_join(self, target, [message.room])
        elif message.method in ("leave_room", "close_room"):
            await AsyncManager.sockets_leave(self, target, [message.room])

    # ---------------------------------------------------------------- publishing

    async def _send(self, channel: str, data: bytes) -> None:
        """Publish, retrying (with reconnects) for ``publish_timeout`` seconds.

        Raises:
            BrokerError: still failing when the window ran out.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.publish_timeout
        delay = self.reconnect_delay[0]
        while True:
            try:
                if self._publisher is None:
                    await self._connect_publisher()
                await self._publisher.publish(channel, data)
                self.stats.published += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping or loop.time() + delay > deadline:
                    self.stats.publish_failures += 1
                    logger.error("! %s: cannot publish to %s: %r", self.name, channel, exc)
                    raise BrokerError(f"cannot publish to {self._describe()}: {exc!r}") from exc
                with contextlib.suppress(Exception):
                    await self._reset_publisher()
                await asyncio.sleep(delay)  # reconnect backoff
                delay = min(delay * 2, self.reconnect_delay[1])

    async def _quietly(self, coro: Any) -> None:
        with contextlib.suppress(BrokerError, LocalProtocolError):
            await coro

    def _channels_of(self, namespace: str) -> Channels:
        return self.namespaces.get(namespace) or Channels(self.key, namespace)

    async def _publish_packet(self, target: BroadcastTarget, packet: Packet) -> None:
        if target.rooms == ():
            return
        channels = self._channels_of(target.namespace)
        rooms = target.rooms or ()
        channel = channels.room(rooms[0]) if len(rooms) == 1 else channels.broadcast
        await self._send(channel, encode_broadcast(self.uid, packet, _selection(target)))

    async def _publish_request(
        self, namespace: str, kind: RequestType, rid: str | None = None, **fields: Any
    ) -> None:
        channel = self._channels_of(namespace).request
        await self._send(channel, encode_request(kind, self.uid, rid, **fields))

    async def server_count(self, namespace: str = "/") -> int:
        """The number of servers of the namespace (``PUBSUB NUMSUB`` of its request channel)."""
        if self._publisher is None:
            await self._connect_publisher()
        counts = await self._publisher.pubsub_numsub(self._channels_of(namespace).request)
        return int(counts[0][1]) if counts else 0

    async def _node_request(
        self, namespace: str, kind: RequestType, timeout: float, **fields: Any
    ) -> tuple[_Pending, int]:
        """Publish a request and wait for the other servers' answers (or ``timeout``)."""
        if self.write_only or not self.subscribed:
            raise BrokerError(f"{self.name}: not subscribed, cannot wait for replies")
        expected = max(await self.server_count(namespace) - 1, 0)
        rid = secrets.token_hex(8)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending = _Pending(kind, expected, done)
        self._pending[rid] = pending
        try:
            if expected:
                await self._publish_request(namespace, kind, rid, **fields)
                pending.check()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(done), timeout)
        finally:
            del self._pending[rid]
        return pending, expected

    # ------------------------------------------------------- cluster operations

    async def emit(self, target: BroadcastTarget, messages: Sequence[str | bytes]) -> int:
        """Send to the selected local sockets, and publish the packet for the other servers."""
        count = await AsyncManager.emit(self, target, messages) if self._server is not None else 0
        if not target.local:
            parser = self._server.parser if self._server is not None else self.parser
            decoder = (parser or JsonParser()).decoder()
            packet = None
            for item in messages:
                packet = decoder.feed(item)
            if packet is None:
                raise LocalProtocolError("the messages of a broadcast do not make a packet")
            await self._publish_packet(target, packet)
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
        args = [] if data is None else list(data) if isinstance(data, tuple) else [data]
        ns = namespace or "/"
        rooms = to if to is not None else room
        names = () if rooms is None else (rooms,) if isinstance(rooms, str) else tuple(rooms)
        skip = () if skip_sid is None else (skip_sid,) if isinstance(skip_sid, str) else skip_sid
        target = BroadcastTarget(
            ns, names or None, tuple(except_rooms), tuple(skip), volatile=volatile
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
        opts = _selection(target).to_wire(flags=False)
        await self._publish_request(target.namespace, kind, opts=opts, rooms=rooms)

    async def sockets_join(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket of the cluster join ``rooms``."""
        names = list(rooms)
        if self._server is not None:
            await AsyncManager.sockets_join(self, target, names)
        if not target.local:
            await self._rooms_request(RequestType.REMOTE_JOIN, target, names)

    async def sockets_leave(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket of the cluster leave ``rooms``."""
        names = list(rooms)
        if self._server is not None:
            await AsyncManager.sockets_leave(self, target, names)
        if not target.local:
            await self._rooms_request(RequestType.REMOTE_LEAVE, target, names)

    async def disconnect_sockets(self, target: BroadcastTarget, *, close: bool = False) -> None:
        """Disconnect every selected socket of the cluster."""
        if self._server is not None:
            await AsyncManager.disconnect_sockets(self, target, close=close)
        if not target.local:
            opts = _selection(target).to_wire(flags=False)
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
        opts = _selection(target).to_wire(flags=False)
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
    ) -> tuple[_Pending, int]:
        packet = Packet.event([event, *args], namespace=target.namespace)
        opts = _selection(target, timeout).to_wire()
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
