"""The Redis side of request forwarding (:mod:`socketio_core.aio.forwarder`).

Each process subscribes to its own channel (``<channel>#fwd#<server id>``) on a connection of
its own, and publishes requests, responses and cancels on the pooled connections of a second
client (several forwarded requests are in flight at once). ``PUBLISH`` answers with the number
of subscribers that got the message: 0 tells the requester that the owner is gone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

__all__ = ["RedisForwardLink"]


class RedisForwardLink:
    """A :class:`~socketio_core.aio.forwarder.ForwardLink` on ``redis.asyncio``.

    Args:
        client: makes a ``redis.asyncio.Redis`` client (the manager's factory, with its URL,
            options and timeouts).
    """

    def __init__(self, client: Callable[..., Any]) -> None:
        self._make_client = client
        self._publisher: Any = None
        self._subscriber: Any = None

    async def publish(self, channel: str, data: bytes) -> int | None:
        """``PUBLISH``; the number of subscribers that got it."""
        if self._publisher is None:
            self._publisher = self._make_client()
        return int(await self._publisher.publish(channel, data))

    async def subscribe(self, channel: str) -> AsyncIterator[bytes]:
        """``SUBSCRIBE`` on a connection of its own; then the messages of ``channel``."""
        client = self._make_client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._subscriber = (client, pubsub)
        await pubsub.subscribe(channel)
        return self._messages(pubsub, channel.encode())

    @staticmethod
    async def _messages(pubsub: Any, channel: bytes) -> AsyncIterator[bytes]:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if (
                message is not None
                and message.get("type") == "message"
                and message.get("channel") == channel
            ):
                yield message["data"]

    async def close(self) -> None:
        """Close both clients."""
        publisher, self._publisher = self._publisher, None
        subscriber, self._subscriber = self._subscriber, None
        try:
            if publisher is not None:
                await publisher.aclose()
        finally:
            if subscriber is not None:
                client, pubsub = subscriber
                try:
                    await pubsub.aclose()
                finally:
                    await client.aclose()
