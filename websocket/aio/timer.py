"""One ``loop.call_at`` handle kept at a sans-I/O core's ``next_deadline()``.

Every core in the stack exposes "when do you next need me" (``next_deadline()``) and "it is now
T" (``on_timer(now)``); every asyncio driver turns the first into one timer handle and the second
into its callback. :class:`DeadlineTimer` is that, written once, in the lowest layer so the
drivers above (Engine.IO client and server session, Socket.IO session) import it downward.

Rules it keeps: the handle is re-armed only when the deadline changes (a driver may call
:meth:`DeadlineTimer.set` after every input at the cost of one comparison), ``None`` means no
timer, and the callback runs with the handle already cleared, so it may set a new deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["DeadlineTimer"]


class DeadlineTimer:
    """A ``loop.call_at`` handle that follows a core's next deadline.

    Args:
        loop: The running event loop (its clock is the ``now`` the core is fed).
        callback: Called, without arguments, when the deadline is reached; it usually calls the
            core's ``on_timer(loop.time())`` and moves the core's output.
    """

    __slots__ = ("_callback", "_handle", "_loop", "_when")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._when: float | None = None

    @property
    def when(self) -> float | None:
        """The deadline the handle is armed for, or ``None`` when there is none."""
        return self._when

    def set(self, deadline: float | None) -> None:
        """Arm the handle for ``deadline`` (``None``: disarm); a no-op when unchanged."""
        if deadline == self._when:
            return
        handle = self._handle
        if handle is not None:
            handle.cancel()
            self._handle = None
        self._when = deadline
        if deadline is not None:
            self._handle = self._loop.call_at(deadline, self._fire)

    def cancel(self) -> None:
        """Disarm the handle (the connection is gone)."""
        self.set(None)

    def _fire(self) -> None:
        self._handle = None
        self._when = None
        self._callback()
