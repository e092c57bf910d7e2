"""A pub/sub manager on Redis (``redis.asyncio``, the ``redis`` extra).

Every server subscribes to one Redis channel (``PUBLISH``/``SUBSCRIBE``); see
:mod:`socketio_core.aio.pubsub_manager` for what travels on it and the promise made when the
broker goes away. Redis answers ``PUBLISH`` with the number of subscribers that got the
message, which lets the manager log a publish that did not reach every known server.

URLs: ``redis://[user:password@]host:port/db``, ``rediss://`` (TLS), ``unix:///path/to.sock``
and Sentinel as ``redis+sentinel://[user:password@]host1:port1,host2:port2/db/service``.
The redis-py clients are built with no hidden retries: the manager does its own reconnecting,
with backoff and a log line each time.

:class:`RedisLink` is the Redis side shared by the managers of every wire format;
:class:`~socketio_core.aio.redis_manager.AsyncRedisManager` is the public name.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

from ..exceptions import MissingDependency
from ..recovery import RecoveryOptions
from .forwarder import ForwardLink
from .forwarding_manager import ForwardingPubSubManager
from .recovery_backends import RecoveryBackend
from .redis_forwarding import RedisForwardLink

__all__ = ["RedisLink", "parse_sentinel_url", "redis_module"]


def redis_module() -> ModuleType:
    """``redis.asyncio``, or an error naming the extra."""
    try:
        return importlib.import_module("redis.asyncio")
    except ImportError as exc:
        raise MissingDependency("redis", "redis") from exc


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str | None, dict[str, Any]]:
    """Split a ``redis+sentinel://`` URL.

    Returns:
        The sentinels as ``(host, port)``, the service name (None when absent) and the
        connection options (``db``, ``username``, ``password``).

    Raises:
        ValueError: not a Sentinel URL, or a malformed one.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis+sentinel", "valkey+sentinel"):
        raise ValueError(f"not a Sentinel URL: {parts.scheme}://")
    netloc = parts.netloc
    options: dict[str, Any] = {}
    if "@" in netloc:
        credentials, netloc = netloc.rsplit("@", 1)
        user, _, password = credentials.partition(":")
        if user:
            options["username"] = unquote(user)
        if password:
            options["password"] = unquote(password)
    sentinels: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, _, port = item.rpartition(":")
        if not host:
            host, port = port, "26379"
        sentinels.append((host.strip("[]"), int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if len(path) > 2:
        raise ValueError("a Sentinel URL path is /db/service")
    if path:
        options["db"] = int(path[0])
    return sentinels, path[1] if len(path) == 2 else None, options


class RedisLink(ForwardingPubSubManager):
    """Share the sockets of several server processes through Redis pub/sub (the Redis side;
    build it as :class:`~socketio_core.aio.redis_manager.AsyncRedisManager`).

    Example::

        mgr = AsyncRedisManager("redis://127.0.0.1:6379/0")
        sio = AsyncServer(client_manager=mgr)

    Args:
        url: the Redis server (see the module docstring for the schemes).
        channel: the Redis channel; the same for every server.
        write_only: only publish (an emitter: :meth:`emit_event` without a server).
        redis_options: keyword arguments for ``Redis.from_url`` (or ``Sentinel``).
        sentinel_service: the Sentinel service name when the URL does not give one
            (default: the channel name, as python-socketio).
        **options: see :class:`~socketio_core.aio.pubsub_manager.AsyncPubSubManager`.
    """

    name = "redis"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socketio",
        write_only: bool = False,
        *,
        redis_options: dict[str, Any] | None = None,
        sentinel_service: str | None = None,
        **options: Any,
    ) -> None:
        redis_module()  # fail early when the extra is missing
        super().__init__(channel, write_only, **options)
        self.url = url
        self.redis_options = dict(redis_options or {})
        self.sentinel_service = sentinel_service
        self._publisher: Any = None
        # One publisher connection: start() and an emit that runs while it connects share it.
        self._publisher_lock = asyncio.Lock()
        self._subscriber: Any = None

    def _forward_link(self) -> ForwardLink:
        return RedisForwardLink(self._client)

    def _describe(self) -> str:
        parts = urlsplit(self.url)
        host = parts.netloc.rsplit("@", 1)[-1]
        return f"redis at {parts.scheme}://{host}{parts.path}"

    def _client(self, **extra: Any) -> Any:
        module = redis_module()
        retry = importlib.import_module("redis.asyncio.retry").Retry
        no_backoff = importlib.import_module("redis.backoff").NoBackoff
        options: dict[str, Any] = {
            "retry": retry(no_backoff(), 0),
            "socket_connect_timeout": self.connect_timeout,
            **self.redis_options,
            **extra,
        }
        if urlsplit(self.url).scheme.endswith("+sentinel"):
            sentinels, service, connection = parse_sentinel_url(self.url)
            options.update(connection)
            sentinel = module.Sentinel(sentinels, **options)
            return sentinel.master_for(service or self.sentinel_service or self.channel)
        return module.Redis.from_url(self.url, **options)

    async def _connect_publisher(self) -> None:
        async with self._publisher_lock:
            if self._publisher is not None:
                return  # connected meanwhile (start() and an early emit)
            client = self._client(single_connection_client=True)
            try:
                await client.ping()
            except BaseException:
                await client.aclose()
                raise
            self._publisher = client

    async def _publish(self, data: bytes) -> int | None:
        if self._publisher is None:
            await self._connect_publisher()
        return int(await self._publisher.publish(self.channel, data))

    async def _reset_publisher(self) -> None:
        async with self._publisher_lock:  # a connection in progress is closed too
            client, self._publisher = self._publisher, None
            if client is not None:
                await client.aclose()

    async def _subscribe(self) -> AsyncIterator[bytes]:
        await self._close_subscriber()
        client = self._client()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._subscriber = (client, pubsub)
        await pubsub.subscribe(self.channel)
        return self._messages(pubsub)

    async def _messages(self, pubsub: Any) -> AsyncIterator[bytes]:
        channel = self.channel.encode()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if (
                message is not None
                and message.get("type") == "message"
                and message.get("channel") == channel
            ):
                yield message["data"]

    async def _close_subscriber(self) -> None:
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None:
            client, pubsub = subscriber
            try:
                await pubsub.aclose()
            finally:
                await client.aclose()

    def make_recovery_backend(self, options: RecoveryOptions, epoch: str) -> RecoveryBackend:
        """Connection state recovery in Redis (:mod:`socketio_core.aio.redis_recovery`): a
        client recovers on any process of the cluster."""
        from .redis_recovery import RedisRecovery  # noqa: PLC0415 (only when recovery is on)

        return RedisRecovery(self._client(), f"{self.channel}:recovery", options, epoch)

    async def _close(self) -> None:
        try:
            await self._reset_publisher()
        finally:
            try:
                await self._close_subscriber()
            finally:
                await self.close_recovery()
