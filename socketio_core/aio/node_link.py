"""The Redis side of :class:`~socketio_core.aio.node_manager.NodeRedisManager`: connections,
subscriptions per namespace, routing by channel, publishing and the bookkeeping of requests.

Per namespace (``"/"`` and those given as ``namespaces=``, plus any namespace a client
connects to) the link pattern-subscribes to the broadcast channels ``<key>#<nsp>#*`` and
subscribes to the request channel and both response channels, on one Redis connection. It is
then counted by ``PUBSUB NUMSUB <key>-request#<nsp>#``, which is how every server of the
cluster (Node or Python) learns how many answers to wait for. A lost subscription is re-opened
with backoff (as :mod:`socketio_core.aio.pubsub_link`); a publish is retried for
``publish_timeout`` seconds, then raises :exc:`~socketio_core.exceptions.BrokerError`.

A message that does not parse or validate (:mod:`socketio_core.node_adapter`,
:mod:`socketio_core.pysocketio_wire`) is dropped with one WARNING (``stats.rejected``); it
never reaches the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import BrokerError, LocalProtocolError
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
    require_msgpack,
)
from ..packet import Packet
from ..pubsub import Rejected
from ..pysocketio_wire import PySocketIOMessage, decode_pysocketio
from .manager import BroadcastTarget
from .redis_link import RedisLink

__all__ = ["NodeLink", "Pending", "local_target", "wire_selection"]

logger = logging.getLogger(__name__)


def wire_selection(target: BroadcastTarget, timeout: float | None = None) -> Selection:
    """Node's ``opts`` for our broadcast flags (skipped sids are rooms in Node)."""
    return Selection(
        target.rooms or (),
        (*target.except_rooms, *target.skip),
        target.volatile,
        False,
        timeout,
    )


def local_target(namespace: str, selection: Selection) -> BroadcastTarget:
    """The local target of an operation of another server."""
    return BroadcastTarget(
        namespace,
        selection.rooms or None,
        selection.except_rooms,
        (),
        local=True,
        volatile=selection.volatile,
    )


@dataclass(slots=True, eq=False)
class Pending:
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


class NodeLink(RedisLink):
    """The Redis link of a manager on Node's wire; see the module docstring.

    Args:
        url: the Redis server, as :class:`~socketio_core.aio.redis_manager.AsyncRedisManager`.
        write_only: only publish (an emitter in Node's format).
        key: the adapter's ``key`` option (``"socket.io"``).
        namespaces: namespaces to join at start (more are joined as clients connect).
        requests_timeout: the adapter's ``requestsTimeout``, in seconds (default for
            ``fetch_sockets`` and ``server_side_call``).
        publish_on_specific_response_channel: answer on ``<key>-response#<nsp>#<uid>#`` (the
            adapter option of the same name; the requester must have it too).
        pysocketio_channel: also apply what python-socketio's write-only managers publish on
            this channel (None: do not listen).
        **options: :class:`~socketio_core.aio.redis_link.RedisLink`'s (``redis_options``,
            ``connect_timeout``, ``publish_timeout``, ``reconnect_delay``,
            ``max_message_size``, ``parser``).
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
        require_msgpack()  # fail early: Node's broadcasts are msgpack
        super().__init__(url, channel, write_only, **options)
        self.wire = wire
        self.key = key
        self.uid = secrets.token_hex(3)  # Node's uid2(6): six characters
        self.requests_timeout = requests_timeout
        self.specific_responses = publish_on_specific_response_channel
        self.pysocketio_channel = pysocketio_channel
        self.namespaces: dict[str, Channels] = {}
        self._wanted = {ns: Channels(key, ns) for ns in namespaces}
        self._pending: dict[str, Pending] = {}
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
        self.namespaces[ns] = channels
        self._channels[channels.request] = ("request", ns)
        self._channels[channels.response] = ("response", ns)
        self._channels[channels.specific_response(self.uid)] = ("response", ns)
        await pubsub.psubscribe(channels.pattern)
        await pubsub.subscribe(
            channels.request, channels.response, channels.specific_response(self.uid)
        )

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

    async def _on_request(self, channel: str, namespace: str, data: bytes) -> None:
        request = decode_request(data, max_size=self.max_message_size)
        if isinstance(request, Rejected):
            self._reject(channel, request.reason)
            return
        if request.uid == self.uid:
            return
        self.stats.received += 1
        await self._answer(self.namespaces[namespace], request)

    async def _respond(
        self,
        channels: Channels,
        request: NodeRequest,
        kind: RequestType | None,
        *,
        shared: bool = False,
        **fields: Any,
    ) -> None:
        """Answer a request (``shared``: on the shared channel, whatever the option)."""
        if request.request_id is None:
            return
        channel = channels.response
        if self.specific_responses and request.uid is not None and not shared:
            channel = channels.specific_response(request.uid)
        await self._send(channel, encode_response(request.request_id, kind, **fields))

    def _on_response(self, channel: str, data: bytes) -> None:
        response = decode_response(data, max_size=self.max_message_size)
        if isinstance(response, Rejected):
            self._reject(channel, response.reason)
            return
        self._on_answer(response)

    def _on_answer(self, response: NodeResponse) -> None:
        pending = self._pending.get(response.request_id)
        if pending is None:
            return  # an answer to another server's request: the channel is shared
        self._take(pending, response)
        pending.check()

    @staticmethod
    def _take(pending: Pending, response: NodeResponse) -> None:
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

    # ---------------------------------------------------------------- publishing

    async def _publish_raw(self, channel: str, data: bytes) -> None:
        """One ``PUBLISH`` (the sharded mode's is ``SPUBLISH``)."""
        await self._publisher.publish(channel, data)

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
                await self._publish_raw(channel, data)
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
        await self._send(channel, encode_broadcast(self.uid, packet, wire_selection(target)))

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
    ) -> tuple[Pending, int]:
        """Publish a request and wait for the other servers' answers (or ``timeout``)."""
        if self.write_only or not self.subscribed:
            raise BrokerError(f"{self.name}: not subscribed, cannot wait for replies")
        expected = max(await self.server_count(namespace) - 1, 0)
        rid = secrets.token_hex(8)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending = Pending(kind, expected, done)
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

    # ------------------------------------------------------------ the owner's side

    async def _deliver(self, broadcast: Broadcast) -> None:
        """Deliver a broadcast of another server to the local sockets."""
        raise NotImplementedError

    async def _answer(self, channels: Channels, request: NodeRequest) -> None:
        """Apply or answer a request of another server."""
        raise NotImplementedError

    async def _apply_pysocketio(self, message: PySocketIOMessage) -> None:
        """Apply an operation published by python-socketio."""
        raise NotImplementedError
