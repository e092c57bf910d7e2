"""Where a manager keeps connection state recovery: the seam, and the in-memory backend.

A manager with ``connection_state_recovery`` on holds one :class:`RecoveryBackend`
(``manager.recovery_backend``), made by ``manager.make_recovery_backend``:

* :class:`LocalRecovery` (the in-memory manager): a
  :class:`~socketio_core.recovery.RecoveryStore` in this process, and its one timer;
* :class:`~socketio_core.aio.redis_recovery.RedisRecovery` (``AsyncRedisManager``): the
  sessions and the packet log in Redis, so that a client recovers on any server process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..broadcast import BroadcastTarget
from ..recovery import RecoveryOptions, RecoveryStore, Refused, Restored, SessionRecord

__all__ = ["LocalRecovery", "RecoveryBackend"]


class RecoveryBackend(Protocol):
    """What a manager's recovery backend does (all of it called from the event loop)."""

    options: RecoveryOptions

    def record(
        self, target: BroadcastTarget, encode: Callable[[str], Sequence[str | bytes]]
    ) -> Sequence[str | bytes]:
        """Give a packet its offset (``encode`` makes its messages with it), keep it, and
        return the messages; synchronous, so the emit is encoded at the call."""

    def head(self) -> int:
        """The log position of the next packet (a new socket's ``since``)."""

    async def persist(self, session: SessionRecord) -> None:
        """Keep a socket that left abnormally for the window."""

    async def restore(self, namespace: str, pid: Any, offset: Any) -> Restored | Refused:
        """Take back a session and the messages it missed; never raises on bad input."""

    async def close(self) -> None:
        """Stop timers, close connections."""


class LocalRecovery:
    """The in-memory backend: a :class:`RecoveryStore` and a ``loop.call_at`` at its
    deadline."""

    def __init__(self, options: RecoveryOptions, epoch: str) -> None:
        self.options = options
        self.store = RecoveryStore(options, epoch)
        self._timer: asyncio.TimerHandle | None = None

    def record(
        self, target: BroadcastTarget, encode: Callable[[str], Sequence[str | bytes]]
    ) -> Sequence[str | bytes]:
        messages = self.store.record(
            target.namespace,
            target.rooms,
            target.except_rooms,
            target.skip,
            asyncio.get_running_loop().time(),
            encode,
        )
        self._arm()
        return messages

    def head(self) -> int:
        return self.store.head

    async def persist(self, session: SessionRecord) -> None:
        self.store.persist(session, asyncio.get_running_loop().time())
        self._arm()

    async def restore(self, namespace: str, pid: Any, offset: Any) -> Restored | Refused:
        return self.store.restore(namespace, pid, offset, asyncio.get_running_loop().time())

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        # Deadlines only grow (now + the window), so an armed timer is never late.
        if self._timer is not None:
            return
        deadline = self.store.next_deadline()
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.store.on_timer(asyncio.get_running_loop().time())
        self._arm()
