"""A pub/sub manager on RabbitMQ (aio-pika, the ``amqp`` extra).

The channel is a non-durable *fanout exchange* of that name (as python-socketio declares it);
every server binds an exclusive, server-named queue to it, so each server gets every message.
Publishes wait for the broker's confirm. AMQP does not say how many queues got a message, so
the "reached N of M servers" warning of the Redis manager has no equivalent here; see
:mod:`socketio_core.aio.pubsub_manager` for the rest of the promise.

The connections are plain (not aio-pika's "robust" ones): the manager reconnects by itself,
with backoff and a log line, like every pub/sub manager.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from ..exceptions import MissingDependency
from ..recovery import RecoveryOptions
from .aiopika_forwarding import AmqpForwardLink
from .forwarder import ForwardLink
from .forwarding_manager import ForwardingPubSubManager
from .recovery_backends import RecoveryBackend

__all__ = ["AsyncAioPikaManager"]

_LOST = object()


def _aio_pika() -> ModuleType:
    """``aio_pika``, or an error naming the extra."""
    try:
        return importlib.import_module("aio_pika")
    except ImportError as exc:
        raise MissingDependency("aio_pika", "amqp") from exc


class AsyncAioPikaManager(ForwardingPubSubManager):
    """Share the sockets of several server processes through a RabbitMQ fanout exchange.

    Args:
        url: the AMQP URL, ``amqp://user:password@host:port/vhost`` (``amqps://`` for TLS).
        channel: the exchange name; the same for every server.
        write_only: only publish (an emitter: :meth:`emit_event` without a server).
        **options: see :class:`~socketio_core.aio.pubsub_manager.AsyncPubSubManager`, and
            ``forward_requests`` (see :mod:`socketio_core.aio.forwarding_manager`).
    """

    name = "amqp"

    def make_recovery_backend(self, options: RecoveryOptions, epoch: str) -> RecoveryBackend:
        """Not with RabbitMQ: a fanout exchange keeps nothing (a missed packet is gone), and a
        process-local store would miss what other processes emit; see docs/recovery.md.

        Raises:
            ValueError: always.
        """
        raise ValueError(
            "connection_state_recovery needs a shared store: use AsyncRedisManager "
            "(or the in-memory manager in one process); RabbitMQ is not supported"
        )

    def __init__(
        self,
        url: str = "amqp://guest:guest@localhost:5672//",
        channel: str = "socketio",
        write_only: bool = False,
        **options: Any,
    ) -> None:
        _aio_pika()  # fail early when the extra is missing
        self.url = url
        super().__init__(channel, write_only, **options)
        self._publisher: Any = None
        self._exchange: Any = None
        # One publisher connection: start() and an emit that runs while it connects share it.
        self._publisher_lock = asyncio.Lock()
        self._subscriber: Any = None

    def _forward_link(self) -> ForwardLink:
        return AmqpForwardLink(self.url, self.connect_timeout)

    def _describe(self) -> str:
        parts = urlsplit(self.url)
        host = parts.netloc.rsplit("@", 1)[-1]
        return f"rabbitmq at {parts.scheme}://{host}{parts.path}"

    async def _open(self) -> tuple[Any, Any, Any]:
        """A connection, a channel and the fanout exchange."""
        aio_pika = _aio_pika()
        connection = await aio_pika.connect(self.url, timeout=self.connect_timeout)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(self.channel, aio_pika.ExchangeType.FANOUT)
        except BaseException:
            await connection.close()
            raise
        return connection, channel, exchange

    async def _connect_publisher(self) -> None:
        async with self._publisher_lock:
            if self._exchange is not None:
                return  # connected meanwhile (start() and an early emit)
            self._publisher, _, self._exchange = await self._open()

    async def _publish(self, data: bytes) -> int | None:
        if self._exchange is None:
            await self._connect_publisher()
        aio_pika = _aio_pika()
        message = aio_pika.Message(data, delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT)
        await self._exchange.publish(message, routing_key="")
        return None

    async def _reset_publisher(self) -> None:
        async with self._publisher_lock:  # a connection in progress is closed too
            connection, self._publisher, self._exchange = self._publisher, None, None
            if connection is not None:
                await connection.close()

    async def _subscribe(self) -> AsyncIterator[bytes]:
        await self._close_subscriber()
        connection, channel, exchange = await self._open()
        self._subscriber = connection
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        def lost(*_: Any) -> None:
            inbox.put_nowait(_LOST)

        connection.close_callbacks.add(lost)
        channel.close_callbacks.add(lost)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)

        async def on_message(message: Any) -> None:
            inbox.put_nowait(message.body)

        await queue.consume(on_message, no_ack=True)
        return self._messages(inbox)

    @staticmethod
    async def _messages(inbox: asyncio.Queue[Any]) -> AsyncIterator[bytes]:
        while True:
            item = await inbox.get()
            if item is _LOST:
                raise ConnectionError("the AMQP connection closed")
            yield item

    async def _close_subscriber(self) -> None:
        connection, self._subscriber = self._subscriber, None
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def _close(self) -> None:
        try:
            await self._reset_publisher()
        finally:
            await self._close_subscriber()
