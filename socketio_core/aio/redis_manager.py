"""A pub/sub manager on Redis (``redis.asyncio``, the ``redis`` extra): the public name.

The Redis side (connections, URLs, Sentinel, reconnecting) is
:mod:`socketio_core.aio.redis_link`; see :mod:`socketio_core.aio.pubsub_manager` for what
travels on the channel.

Wire formats (``wire=``): ``"ours"`` (the default, :mod:`socketio_core.pubsub`), ``"node"``
(Node's ``@socket.io/redis-adapter``, classic mode: a
:class:`~socketio_core.aio.node_manager.NodeRedisManager` is built instead) and
``"node-sharded"`` (its ``createShardedAdapter``:
:class:`~socketio_core.aio.node_sharded.ShardedNodeRedisManager`). Those two subclass
:class:`~socketio_core.aio.redis_link.RedisLink`, not this class, so that no module imports
back the one that picks it.
"""

from __future__ import annotations

from typing import Any, Final

from .redis_link import RedisLink, parse_sentinel_url

__all__ = ["WIRES", "AsyncRedisManager", "parse_sentinel_url"]

#: The wire formats a Redis manager speaks.
WIRES: Final = ("ours", "node", "node-sharded")


class AsyncRedisManager(RedisLink):
    """Share the sockets of several server processes through Redis pub/sub.

    Example::

        mgr = AsyncRedisManager("redis://127.0.0.1:6379/0")
        sio = AsyncServer(client_manager=mgr)

    Args:
        url: the Redis server (see :mod:`socketio_core.aio.redis_link` for the schemes).
        channel: the Redis channel; the same for every server.
        write_only: only publish (an emitter: :meth:`emit_event` without a server).
        redis_options: keyword arguments for ``Redis.from_url`` (or ``Sentinel``).
        sentinel_service: the Sentinel service name when the URL does not give one
            (default: the channel name, as python-socketio).
        wire: ``"ours"``, or ``"node"`` / ``"node-sharded"`` to join a Node
            ``@socket.io/redis-adapter`` cluster: a
            :class:`~socketio_core.aio.node_manager.NodeRedisManager` (or
            :class:`~socketio_core.aio.node_sharded.ShardedNodeRedisManager`) is returned,
            see it for its options.
        **options: see :class:`~socketio_core.aio.pubsub_manager.AsyncPubSubManager`, and
            ``forward_requests`` (see :mod:`socketio_core.aio.forwarding_manager`; our wire
            only: a Node cluster routes its own requests).
    """

    def __new__(cls, *args: Any, wire: str = "ours", **kwargs: Any) -> Any:
        """Pick the class of the wire format (the codec seam)."""
        if wire not in WIRES:
            raise ValueError(f"unknown wire format {wire!r}; expected one of {WIRES}")
        if wire != "ours" and kwargs.get("forward_requests"):
            raise ValueError("forward_requests needs wire='ours' (sids must name their owner)")
        if wire == "node" and cls is AsyncRedisManager:
            from .node_manager import NodeRedisManager  # noqa: PLC0415 (an optional wire)

            return NodeRedisManager(*args, wire=wire, **kwargs)
        if wire == "node-sharded" and cls is AsyncRedisManager:
            from .node_sharded import ShardedNodeRedisManager  # noqa: PLC0415 (likewise)

            return ShardedNodeRedisManager(*args, wire=wire, **kwargs)
        return super().__new__(cls)

    def __init__(self, *args: Any, wire: str = "ours", **options: Any) -> None:
        super().__init__(*args, **options)
