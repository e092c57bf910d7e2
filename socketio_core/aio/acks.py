"""Who waits for an ack, and how the ack (or its failure) reaches them.

The server core (:mod:`socketio_core.server_session`) keeps pending acks and their deadlines
and gives back an opaque token with :class:`~socketio_core.server_events.AckReceived` or
:class:`~socketio_core.server_events.AckFailed`. The tokens are :class:`AckWaiter` objects:

* ``future``: ``call()`` waits on it; it gets :func:`~socketio_core.server_events.ack_value`
  of the arguments, or the error.
* ``callback``: ``emit(callback=)``. Plain ``callback(*args)``, or error-first as in Node
  (``callback(None, *args)`` / ``callback(AckTimeout)``) when the emit had a timeout; the
  callback of a client that left is dropped, as python-socketio does.
* ``collector``: one recipient of a broadcast with acks (:class:`AckCollector`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ..args import ack_value
from ..exceptions import AckTimeout, SocketIOError

__all__ = ["AckCollector", "AckWaiter", "settle"]

logger = logging.getLogger(__name__)


class AckCollector:
    """The acks of one broadcast, by sid; done when every recipient acked or failed.

    Args:
        sids: the recipients.
        on_ack: also called with ``(sid, args)`` for each ack (a cluster relays it).
    """

    def __init__(
        self, sids: Collection[str], on_ack: Callable[[str, list[Any]], None] | None = None
    ) -> None:
        self.total = len(sids)
        self.waiting = set(sids)
        self.responses: dict[str, Any] = {}
        self.on_ack = on_ack
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.waiting:
            self.done.set_result(None)

    def ack(self, sid: str, args: list[Any]) -> None:
        """``sid`` acked with ``args``."""
        self.responses[sid] = ack_value(args)
        if self.on_ack is not None:
            self.on_ack(sid, args)
        self._settled(sid)

    def fail(self, sid: str) -> None:
        """No ack will come from ``sid``."""
        self._settled(sid)

    def _settled(self, sid: str) -> None:
        self.waiting.discard(sid)
        if not self.waiting and not self.done.done():
            self.done.set_result(None)

    def result(self) -> dict[str, Any] | AckTimeout:
        """The responses by sid, or :exc:`AckTimeout` carrying them when some are missing."""
        if self.waiting or len(self.responses) < self.total:
            missing = self.total - len(self.responses)
            return AckTimeout(f"{missing} of {self.total} clients did not ack", self.responses)
        return self.responses


@dataclass(slots=True, eq=False)
class AckWaiter:
    """What to do when the ack of one emit comes back; exactly one field is set."""

    future: asyncio.Future[Any] | None = None
    callback: Callable[..., Any] | None = None
    err_first: bool = False
    collector: AckCollector | None = None


# Async ack callbacks run as tasks; keep them referenced until they finish.
_callback_tasks: set[asyncio.Future[Any]] = set()


def settle(waiter: object, sid: str, args: list[Any] | None, error: SocketIOError | None) -> None:
    """Deliver an ack (``args``) or a failure (``error``) to whoever waits for it."""
    if not isinstance(waiter, AckWaiter):
        return
    if waiter.future is not None:
        if not waiter.future.done():
            if error is not None:
                waiter.future.set_exception(error)
            else:
                waiter.future.set_result(ack_value(args or []))
        return
    if waiter.collector is not None:
        if error is None:
            waiter.collector.ack(sid, args or [])
        else:
            waiter.collector.fail(sid)
        return
    if waiter.callback is None:
        return
    try:
        if error is not None:
            if not (waiter.err_first and isinstance(error, AckTimeout)):
                return  # python-socketio drops callbacks of clients that left
            result = waiter.callback(error)
        elif waiter.err_first:
            result = waiter.callback(None, *(args or ()))
        else:
            result = waiter.callback(*(args or ()))
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            _callback_tasks.add(task)
            task.add_done_callback(_callback_tasks.discard)
    except Exception:
        logger.error("! ack callback failed", exc_info=True)
