"""The RabbitMQ side of request forwarding (:mod:`socketio_core.aio.forwarder`).

Each process consumes an exclusive, auto-deleted queue named after its own channel
(``<channel>#fwd#<server id>``), and the others publish to it through the default exchange
(routing key = queue name) with ``mandatory`` set and publisher confirms: a message no queue
takes comes back (``basic.return``, :exc:`aio_pika.exceptions.PublishError`), which tells the
requester that the owner is gone, as Redis's subscriber count of 0 does. The queue dies with
its process's connection.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["AmqpForwardLink"]

_LOST = object()


class AmqpForwardLink:
    """A :class:`~socketio_core.aio.forwarder.ForwardLink` on aio-pika.

    Args:
        url: the AMQP URL.
        connect_timeout: connecting, in seconds.
    """

    def __init__(self, url: str, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._publisher: Any = None
        self._publish_channel: Any = None
        self._subscriber: Any = None
        self._lock = asyncio.Lock()

    async def _connect(self) -> Any:
        aio_pika = importlib.import_module("aio_pika")
        return await aio_pika.connect(self.url, timeout=self.connect_timeout)

    async def publish(self, channel: str, data: bytes) -> int | None:
        """Publish to the queue ``channel``; 0 when no queue took it."""
        aio_pika = importlib.import_module("aio_pika")
        async with self._lock:
            if self._publish_channel is None or self._publish_channel.is_closed:
                if self._publisher is not None:
                    await self._publisher.close()
                self._publisher = await self._connect()
                self._publish_channel = await self._publisher.channel(
                    publisher_confirms=True, on_return_raises=True
                )
        message = aio_pika.Message(data, delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT)
        try:
            await self._publish_channel.default_exchange.publish(
                message, routing_key=channel, mandatory=True
            )
        except aio_pika.exceptions.PublishError:
            return 0
        return 1

    async def subscribe(self, channel: str) -> AsyncIterator[bytes]:
        """Consume the exclusive queue ``channel`` on a connection of its own."""
        connection = await self._connect()
        self._subscriber = connection
        inbox: asyncio.Queue[Any] = asyncio.Queue()

        def lost(*_: Any) -> None:
            inbox.put_nowait(_LOST)

        connection.close_callbacks.add(lost)
        amqp_channel = await connection.channel()
        amqp_channel.close_callbacks.add(lost)
        queue = await amqp_channel.declare_queue(channel, exclusive=True, auto_delete=True)

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

    async def close(self) -> None:
        """Close both connections."""
        publisher, self._publisher, self._publish_channel = self._publisher, None, None
        subscriber, self._subscriber = self._subscriber, None
        try:
            if publisher is not None and not publisher.is_closed:
                await publisher.close()
        finally:
            if subscriber is not None and not subscriber.is_closed:
                await subscriber.close()
