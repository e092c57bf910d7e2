"""python-socketio's ``RedisManager`` and ``KombuManager`` names.

``Server`` here runs an :class:`~socketio_core.aio.AsyncServer` on an event-loop thread, so a
server's manager is always an asyncio one: ``RedisManager(url)`` is an
:class:`~socketio_core.aio.redis_manager.AsyncRedisManager`, and ``KombuManager(url)`` an
:class:`~socketio_core.aio.aiopika_manager.AsyncAioPikaManager` on the same AMQP broker
(RabbitMQ): kombu itself is not used, and not needed. The servers of one cluster must all run
this package (the cluster wire format is :mod:`socketio_core.pubsub`), unless
``RedisManager(url, wire="node")`` (or ``"node-sharded"``) joins a cluster of Node servers on
``@socket.io/redis-adapter`` instead (:mod:`socketio_core.aio.node_manager`).

With ``write_only=True`` (python-socketio's emitter, for a process that serves no client: a
script, a worker, a WSGI view), both return a *blocking* write-only emitter with
python-socketio's ``emit(event, data, to=..., room=..., skip_sid=..., namespace=...)``:
:class:`socketio_core.emitter.Emitter` over a Redis client, or over an AMQP publisher that
runs on a loop thread of its own (:class:`_AmqpPublisher`).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from typing import Any

from ..emitter import Emitter
from ..exceptions import MissingDependency
from .aiopika_manager import AsyncAioPikaManager
from .redis_manager import AsyncRedisManager

__all__ = ["KombuManager", "RedisManager"]  # functions with python-socketio's class names

logger = logging.getLogger(__name__)


def RedisManager(
    url: str = "redis://localhost:6379/0",
    channel: str = "socketio",
    write_only: bool = False,
    logger: Any = None,
    redis_options: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """python-socketio's ``RedisManager``: an :class:`AsyncRedisManager` for a server, or a
    blocking :class:`Emitter` when ``write_only``.

    Args:
        url: the Redis URL (``redis://``, ``rediss://``; ``redis+sentinel://`` too).
        channel: the channel every server of the cluster uses.
        write_only: return a write-only emitter.
        logger: accepted (python-socketio's option); our records go to ``socketio_core``.
        redis_options: options of the Redis client.
        **options: the :class:`AsyncRedisManager` options (``wire="node"`` and ``key``: Node's
            wire, for a write-only emitter too).
    """
    if write_only:
        node = {name: options[name] for name in ("wire", "key") if name in options}
        return Emitter.redis(url, channel, **node, **dict(redis_options or {}))
    return AsyncRedisManager(url, channel, redis_options=redis_options, **options)


def KombuManager(
    url: str = "amqp://guest:guest@localhost:5672//",
    channel: str = "socketio",
    write_only: bool = False,
    logger: Any = None,
    connection_options: dict[str, Any] | None = None,
    exchange_options: dict[str, Any] | None = None,
    queue_options: dict[str, Any] | None = None,
    producer_options: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """python-socketio's ``KombuManager`` over aio-pika: the same AMQP broker, no kombu.

    Only AMQP URLs are served (kombu's other transports, e.g. ``redis://``, are refused with
    a message naming :func:`RedisManager`). kombu's ``*_options`` are accepted and not used:
    the exchange is a fanout named ``channel`` and each server has an exclusive queue.

    Raises:
        ValueError: a URL that is not ``amqp://`` or ``amqps://``.
    """
    scheme = url.partition("://")[0].lower()
    if scheme not in ("amqp", "amqps", "pyamqp"):
        raise ValueError(
            f"KombuManager({url!r}): only AMQP brokers are served here; use RedisManager "
            "for redis:// URLs"
        )
    if scheme == "pyamqp":
        url = "amqp" + url[len("pyamqp") :]
    if url.rstrip("/") in ("amqp:", "amqps:"):  # kombu's 'amqp://': the local broker
        url = url.rstrip("/") + "//guest:guest@localhost:5672//"
    if write_only:
        publisher = _AmqpPublisher(url, channel)
        return Emitter(publisher.publish, close=publisher.close)
    return AsyncAioPikaManager(url, channel, **options)


class _AmqpPublisher:
    """Publishes bytes on the fanout exchange ``channel`` from any thread (a blocking call),
    with an aio-pika connection on a loop thread of its own."""

    def __init__(self, url: str, channel: str) -> None:
        try:
            importlib.import_module("aio_pika")
        except ImportError as exc:
            raise MissingDependency("aio_pika", "amqp") from exc
        self._url, self._channel = url, channel
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="socketio-amqp-emitter", daemon=True
        )
        self._thread.start()
        self._exchange: Any = None
        self._connection: Any = None

    async def _publish(self, data: bytes) -> None:
        aio_pika = importlib.import_module("aio_pika")
        if self._exchange is None:
            self._connection = await aio_pika.connect(self._url)
            chan = await self._connection.channel()
            self._exchange = await chan.declare_exchange(
                self._channel, aio_pika.ExchangeType.FANOUT
            )
        await self._exchange.publish(aio_pika.Message(body=data), routing_key="")

    def publish(self, data: bytes) -> None:
        asyncio.run_coroutine_threadsafe(self._publish(data), self._loop).result(30)

    async def _close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
