"""The broker link of the pub/sub managers: publishing, listening, membership, requests.

Theory of operation
-------------------
Every server process subscribes to one broker channel. An operation that concerns sockets of
other processes (an emit, a room change, a disconnect) is applied to the local sockets with
``super()`` (:class:`~socketio_core.aio.manager.AsyncManager`) and published as a cluster
message (:mod:`socketio_core.pubsub`); every other process applies it to its own sockets.
A server ignores its own messages, and messages addressed (``to``) to another server.

Membership. Each server publishes ``hello`` when it (re)subscribes, a ``heartbeat`` every
``heartbeat_interval`` seconds and ``bye`` when it stops, and answers a ``hello`` with a
``heartbeat``. A peer not heard from for ``heartbeat_timeout`` seconds is forgotten. Write-only
emitters never announce themselves, so they are never waited for.

Requests. ``fetch_sockets``, ``server_side_call`` and emits with acks to sockets of other
processes are requests: the server publishes the request with a request id and waits for a
reply from each peer it knows, until every one answered or the timeout ran out. The result
holds what came (partial results) and :attr:`ClusterList.missing` names the peers that did not
answer. An emit with acks is answered by an ``ack_count`` from each server, then one ``ack`` per
recipient; it is complete when every server counted and every counted ack came.

Broker trouble (the documented promise)
---------------------------------------
* Start-up: :meth:`AsyncPubSubManager.start` raises :exc:`~socketio_core.exceptions.BrokerError`
  naming the broker when it cannot connect (and subscribe) within ``connect_timeout``.
* A lost subscription is logged (WARNING) and re-opened with exponential backoff (from
  ``reconnect_delay[0]`` to ``reconnect_delay[1]`` seconds); the server keeps serving its local
  clients meanwhile, and announces itself again when it is back.
* A publish that fails is retried, reconnecting with the same backoff, for ``publish_timeout``
  seconds; then the operation raises :exc:`BrokerError` and logs an ERROR line. The local
  sockets were served before the publish, so they got the message either way.
* A broker's pub/sub keeps nothing for a subscriber that is away: what is published while a
  peer is re-subscribing does not reach that peer. Where the broker says how many subscribers
  got a message (Redis), a publish that reached fewer servers than are known logs a WARNING
  and counts in :attr:`PubSubStats.undelivered`. Nothing is dropped without a log line.
* A malformed or unknown broker message is dropped with a WARNING naming the reason
  (:attr:`PubSubStats.rejected`); it never reaches an exception handler of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from ..exceptions import BrokerError, LocalProtocolError
from ..parsers import Parser
from ..pubsub import DEFAULT_MAX_MESSAGE_SIZE, ClusterMessage, Encoding, Rejected, decode, encode
from .manager import AsyncManager

__all__ = ["ClusterList", "PendingRequest", "PubSubLink", "PubSubStats"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_REPLIES: Final = frozenset({"ack_count", "ack", "fetch_sockets_response", "server_side_response"})


class ClusterList(list[_T], Generic[_T]):
    """A list gathered from the cluster; ``missing`` names the servers that did not answer."""

    def __init__(self, items: Iterable[_T] = (), missing: Iterable[str] = ()) -> None:
        super().__init__(items)
        self.missing: tuple[str, ...] = tuple(sorted(missing))


@dataclass(slots=True)
class PubSubStats:
    """Counters of a pub/sub manager, for monitoring and tests."""

    published: int = 0
    publish_failures: int = 0
    undelivered: int = 0
    received: int = 0
    rejected: int = 0
    disconnects: int = 0
    reconnects: int = 0


@dataclass(slots=True, eq=False)
class PendingRequest:
    """A request waiting for the replies of the peers it was sent to."""

    waiting: set[str]
    done: asyncio.Future[None]
    replies: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    acks: dict[str, list[Any]] = field(default_factory=dict)
    acking: bool = False

    def check(self) -> None:
        """Complete the request once nothing more is expected."""
        if self.done.done() or self.waiting:
            return
        if self.acking and self.short():
            return
        self.done.set_result(None)

    def missing(self) -> set[str]:
        """Peers that did not answer (a client that did not ack is not a missing server)."""
        return set(self.waiting)

    def short(self) -> bool:
        """Whether some counted acks did not come."""
        return any(self.received.get(u, 0) < n for u, n in self.counts.items())

    def forget(self, uid: str) -> None:
        """A peer left: stop waiting for it."""
        self.waiting.discard(uid)
        if uid in self.counts:
            self.counts[uid] = self.received.get(uid, 0)
        self.check()


class PubSubLink(AsyncManager):
    """The broker side of a pub/sub manager: connections, publishing, listening, membership
    and requests. :class:`~socketio_core.aio.pubsub_manager.AsyncPubSubManager` adds the
    cluster operations; a broker subclass implements :meth:`_connect_publisher`,
    :meth:`_publish`, :meth:`_reset_publisher`, :meth:`_subscribe` and :meth:`_close`.

    Args:
        channel: the broker channel; the same for every server of the cluster.
        write_only: only publish (an emitter in a process that serves no client).
        encoding: ``"json"`` or ``"msgpack"`` (the ``msgpack`` extra) for what this process
            publishes; both are understood on receipt.
        heartbeat_interval: seconds between two heartbeats.
        heartbeat_timeout: a peer silent for this long is forgotten (3 intervals by default).
        connect_timeout: seconds to connect and subscribe, at start-up and on each reconnect.
        publish_timeout: seconds a failing publish is retried before :exc:`BrokerError`.
        reconnect_delay: the first and the largest delay of the reconnect backoff.
        max_message_size: broker messages above this many bytes are dropped unparsed.
        parser: the Socket.IO parser a write-only manager encodes packets with (a server's
            manager uses the server's).
    """

    name = "pubsub"

    def __init__(
        self,
        channel: str = "socketio",
        write_only: bool = False,
        *,
        encoding: Encoding = "json",
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float | None = None,
        connect_timeout: float = 5.0,
        publish_timeout: float = 5.0,
        reconnect_delay: tuple[float, float] = (0.1, 5.0),
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        parser: Parser | None = None,
    ) -> None:
        super().__init__()
        if encoding not in ("json", "msgpack"):
            raise ValueError(f"unknown encoding {encoding!r}")
        self.channel = channel
        self.write_only = write_only
        self.encoding: Encoding = encoding
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout or 3 * heartbeat_interval
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.reconnect_delay = reconnect_delay
        self.max_message_size = max_message_size
        self.parser = parser
        self.uid = secrets.token_hex(8)
        #: Known peers (server ids) and when each was last heard from (loop time).
        self.peers: dict[str, float] = {}
        self.stats = PubSubStats()
        self.subscribed = False
        self._requests: dict[str, PendingRequest] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._started = False
        self._stopping = False

    # ------------------------------------------------------------ broker seam

    async def _connect_publisher(self) -> None:
        """Connect the publishing side; raise when the broker cannot be reached."""
        raise NotImplementedError

    async def _publish(self, data: bytes) -> int | None:
        """Publish one message; the number of subscribers that got it when the broker says."""
        raise NotImplementedError

    async def _reset_publisher(self) -> None:
        """Drop the publishing connection, so that the next publish reconnects."""
        raise NotImplementedError

    async def _subscribe(self) -> AsyncIterator[bytes]:
        """Subscribe to the channel; the iterator ends or raises when the subscription is lost."""
        raise NotImplementedError

    async def _close(self) -> None:
        """Close every broker connection."""
        raise NotImplementedError

    def _describe(self) -> str:
        """The broker, for error messages (no credentials)."""
        return self.name

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Connect to the broker, subscribe, and announce this server (idempotent).

        Raises:
            BrokerError: the broker cannot be reached within ``connect_timeout``.
        """
        if self._started:
            return
        self._started = True
        self._stopping = False
        try:
            await asyncio.wait_for(self._connect_publisher(), self.connect_timeout)
            messages = None
            if not self.write_only:
                messages = await asyncio.wait_for(self._subscribe(), self.connect_timeout)
        except Exception as exc:
            self._started = False
            with contextlib.suppress(Exception):
                await self._close()
            raise BrokerError(f"cannot reach {self._describe()}: {exc!r}") from exc
        if messages is None:
            logger.info("= %s manager %s started (write-only)", self.name, self.uid)
            return
        self.subscribed = True
        self._listener = asyncio.create_task(self._listen(messages))
        self._heartbeat = asyncio.create_task(self._beat())
        logger.info("= %s manager %s subscribed to %r", self.name, self.uid, self.channel)
        await self._announce("hello")

    async def stop(self) -> None:
        """Say goodbye, stop the background tasks and close the broker connections."""
        if not self._started:
            return
        if self.subscribed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._publish(encode(ClusterMessage("bye", self.uid), self.encoding)), 1.0
                )
        self._stopping = True
        self._started = False
        self.subscribed = False
        tasks = [t for t in (self._listener, self._heartbeat, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for request in self._requests.values():
            if not request.done.done():
                request.done.set_result(None)
        with contextlib.suppress(Exception):
            await self._close()
        logger.info("x %s manager %s stopped", self.name, self.uid)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --------------------------------------------------------------- publishing

    async def publish(self, message: ClusterMessage) -> None:
        """Publish a cluster message, retrying for ``publish_timeout`` seconds.

        Raises:
            BrokerError: the publish still failed when the retry window ran out.
            LocalProtocolError: the message holds values the encoding cannot carry.
        """
        data = encode(message, self.encoding)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.publish_timeout
        delay = self.reconnect_delay[0]
        while True:
            try:
                receivers = await self._publish(data)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping or loop.time() + delay > deadline:
                    self.stats.publish_failures += 1
                    logger.error(
                        "! %s: cannot publish a %s message to %s: %r",
                        self.name,
                        message.kind,
                        self._describe(),
                        exc,
                    )
                    raise BrokerError(f"cannot publish to {self._describe()}: {exc!r}") from exc
                logger.warning(
                    "! %s: publish failed (%r); retrying in %.2fs", self.name, exc, delay
                )
                with contextlib.suppress(Exception):
                    await self._reset_publisher()
                await asyncio.sleep(delay)  # reconnect backoff
                delay = min(delay * 2, self.reconnect_delay[1])
        self.stats.published += 1
        if receivers is not None and message.to is None and not self.write_only:
            expected = len(self.peers) + (1 if self.subscribed else 0)
            if receivers < expected:
                self.stats.undelivered += 1
                logger.warning(
                    "! %s: a %s message reached %d of %d servers (the others are away)",
                    self.name,
                    message.kind,
                    receivers,
                    expected,
                )

    async def _publish_quietly(self, message: ClusterMessage) -> None:
        """Publish from a background task: failures are logged by :meth:`publish`."""
        with contextlib.suppress(BrokerError, LocalProtocolError):
            await self.publish(message)

    async def _announce(self, kind: str) -> None:
        await self._publish_quietly(ClusterMessage(kind, self.uid))  # type: ignore[arg-type]

    # ---------------------------------------------------------------- listening

    async def _listen(self, messages: AsyncIterator[bytes]) -> None:
        low, high = self.reconnect_delay
        while True:
            try:
                async for data in messages:
                    await self._on_data(data)
                raise ConnectionError("the subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed = False
                self.stats.disconnects += 1
                logger.warning(
                    "! %s: lost the subscription to %s (%r); reconnecting",
                    self.name,
                    self._describe(),
                    exc,
                )
            delay = low
            while True:
                await asyncio.sleep(delay)  # reconnect backoff
                try:
                    messages = await asyncio.wait_for(self._subscribe(), self.connect_timeout)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    delay = min(delay * 2, high)
                    logger.warning(
                        "! %s: cannot subscribe (%r); retrying in %.2fs", self.name, exc, delay
                    )
            self.subscribed = True
            self.stats.reconnects += 1
            logger.info("= %s: subscribed again to %r", self.name, self.channel)
            self._spawn(self._announce("hello"))

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.heartbeat_interval)  # the heartbeat period
            if self.subscribed:
                await self._announce("heartbeat")
            now = loop.time()
            for uid, seen in list(self.peers.items()):
                if now - seen > self.heartbeat_timeout:
                    logger.info("x %s: peer %s silent, forgotten", self.name, uid)
                    self._forget_peer(uid)

    def _forget_peer(self, uid: str) -> None:
        self.peers.pop(uid, None)
        for request in self._requests.values():
            request.forget(uid)

    async def _on_data(self, data: bytes) -> None:
        """Handle one broker message; never raises."""
        result = decode(data, max_size=self.max_message_size)
        if isinstance(result, Rejected):
            self.stats.rejected += 1
            logger.warning("! %s: dropped a broker message: %s", self.name, result.reason)
            return
        if result.uid == self.uid or (result.to is not None and result.to != self.uid):
            return
        self.stats.received += 1
        try:
            await self._handle(result)
        except Exception:
            logger.error(
                "! %s: handling a %s message failed", self.name, result.kind, exc_info=True
            )

    async def _handle(self, message: ClusterMessage) -> None:
        kind, uid = message.kind, message.uid
        if kind in ("hello", "heartbeat"):
            if uid not in self.peers:
                logger.info("= %s: peer %s joined", self.name, uid)
            self.peers[uid] = asyncio.get_running_loop().time()
            if kind == "hello":
                self._spawn(self._announce("heartbeat"))
        elif kind == "bye":
            logger.info("x %s: peer %s left", self.name, uid)
            self._forget_peer(uid)
        elif kind in _REPLIES:
            self._reply(message)
        else:
            await self._apply(message)

    async def _apply(self, message: ClusterMessage) -> None:
        """Apply an operation or answer a request of another server."""
        raise NotImplementedError

    def _reply(self, message: ClusterMessage) -> None:
        fields = message.fields
        request = self._requests.get(fields["rid"])
        if request is None:
            logger.debug("< %s: late %s from %s dropped", self.name, message.kind, message.uid)
            return
        uid = message.uid
        if message.kind == "ack_count":
            request.counts[uid] = fields["count"]
            request.waiting.discard(uid)
        elif message.kind == "ack":
            request.acks[fields["sid"]] = fields["args"]
            request.received[uid] = request.received.get(uid, 0) + 1
        else:  # fetch_sockets_response, server_side_response
            key = "sockets" if message.kind == "fetch_sockets_response" else "args"
            request.replies[uid] = fields[key]
            request.waiting.discard(uid)
        request.check()

    # --------------------------------------------------------------- requests

    async def _request(
        self, kind: str, fields: dict[str, Any], timeout: float, *, acking: bool = False
    ) -> PendingRequest:
        if self.write_only or not self.subscribed:
            raise BrokerError(f"{self.name}: not subscribed, cannot wait for replies")
        rid = secrets.token_hex(8)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        request = PendingRequest(set(self.peers), future, acking=acking)
        self._requests[rid] = request
        try:
            if request.waiting:
                message = ClusterMessage(kind, self.uid, {**fields, "rid": rid})  # type: ignore[arg-type]
                await self.publish(message)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            del self._requests[rid]
        return request
