"""The ``forward_requests`` option of the pub/sub managers: their request forwarding.

:class:`ForwardingPubSubManager` is the base of the Redis and RabbitMQ managers. With
``forward_requests=True`` it builds a :class:`~socketio_core.aio.forwarder.RequestForwarder`
on the broker link its subclass gives (:meth:`_forward_link`), exposes it as
``remote_sessions`` (which the server hands to its Engine.IO layer), and starts and stops it
with the manager. See docs/scaling.md, "Without sticky sessions".
"""

from __future__ import annotations

from typing import Any

from .forwarder import ForwardLink, RequestForwarder
from .pubsub_manager import AsyncPubSubManager

__all__ = ["ForwardingPubSubManager"]


class ForwardingPubSubManager(AsyncPubSubManager):
    """A pub/sub manager that can forward HTTP requests of sessions between processes.

    Args:
        channel: the broker channel.
        write_only: only publish (no forwarding then).
        forward_requests: let any process take any HTTP request of any session (no sticky
            sessions needed); every process of the cluster must set it.
        max_forwarded: most forwarded requests waiting in this process at once (past it,
            503 at once). Forwarded requests and responses are broker messages, bounded by
            ``max_message_size`` like the others.
        upgrade_hold: seconds a new polling session's messages wait before they reach the
            application (0.3, as Node's cluster-engine), so that the session can move whole
            to the process its WebSocket upgrade lands on; 0: never move, relay the
            WebSocket to the owner instead (:mod:`socketio_core.aio.ws_relay`).
        **options: see :class:`~socketio_core.aio.pubsub_manager.AsyncPubSubManager`.

    Raises:
        ValueError: ``forward_requests`` on a write-only manager.
    """

    def __init__(
        self,
        channel: str,
        write_only: bool,
        *,
        forward_requests: bool = False,
        max_forwarded: int = 10_000,
        upgrade_hold: float = 0.3,
        **options: Any,
    ) -> None:
        super().__init__(channel, write_only, **options)
        if forward_requests:
            if write_only:
                raise ValueError("a write-only manager serves no request to forward")
            self.remote_sessions = RequestForwarder(
                self._forward_link(),
                channel,
                self.uid,
                max_pending=max_forwarded,
                max_message_size=self.max_message_size,
                connect_timeout=self.connect_timeout,
                upgrade_hold=upgrade_hold,
            )

    def _forward_link(self) -> ForwardLink:
        """The broker link of the request forwarding."""
        raise NotImplementedError

    async def start(self) -> None:
        """Start the manager, then the request forwarding (``forward_requests``)."""
        await super().start()
        if self.remote_sessions is not None:
            try:
                await self.remote_sessions.start()
            except BaseException:
                await super().stop()
                raise

    async def stop(self) -> None:
        """Stop the request forwarding, then the manager."""
        if self.remote_sessions is not None:
            await self.remote_sessions.stop()
        await super().stop()
