"""One ordered inbox: jobs run one after another, by a task that exists only while there is work.

A connection's CONNECT handling, events and final disconnect must reach the application in
arrival order without blocking the reader that received them, and an idle connection must own
no task and no queue (idle memory). :class:`OrderedInbox` is that, written once: jobs are
coroutine functions; a job that raises is logged and the next one runs.

It lives in the Engine.IO layer, the lowest one that needs it: an Engine.IO session delivers its
messages through one, and the Socket.IO session driver (one layer up) imports it from here.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable

__all__ = ["Job", "OrderedInbox"]

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class OrderedInbox:
    """Jobs run in the order they were pushed, one at a time."""

    __slots__ = ("_name", "_queue", "_task")

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: collections.deque[Job] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        """Whether a job is queued or running."""
        return self._task is not None

    def push(self, job: Job) -> None:
        """Run ``job`` after every job pushed before it."""
        queue = self._queue
        if queue is None:
            queue = self._queue = collections.deque()
        queue.append(job)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(queue))

    def cancel(self) -> None:
        """Drop the queued jobs and cancel the running one."""
        if self._task is not None:
            self._task.cancel()

    async def _drain(self, queue: collections.deque[Job]) -> None:
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except Exception:
                    logger.error("! job failed for %s", self._name, exc_info=True)
        finally:
            self._task = None
            queue.clear()  # empty, or cancelled with work left: nothing more runs from it
            if self._queue is queue:
                self._queue = None  # an idle owner holds no queue
