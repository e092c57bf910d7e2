"""One ordered inbox: jobs run one after another, the first one inline, by a task only when one
waits.

A connection's CONNECT handling, events and final disconnect must reach the application in
arrival order without blocking the reader that received them, and an idle connection must own
no task and no queue (idle memory). :class:`OrderedInbox` is that, written once: jobs are
coroutine functions; a job that raises is logged and the next one runs.

It lives in the Engine.IO layer, the lowest one that needs it: an Engine.IO session delivers its
messages through one, and the Socket.IO session driver (one layer up) imports it from here.

No task per job
---------------
Most handlers never wait (an echo returns its ack at once), so a task per job would cost a task,
a loop turn and the ack's latency for nothing. A job pushed to an idle inbox is therefore run
*eagerly*: its coroutine is stepped inline, in a copy of the caller's context (as a task would
run it), until it returns or first suspends. Only a job that suspends gets a task, which resumes
it where it stopped and then drains what was pushed meanwhile; Python 3.12's eager tasks do the
same. The order rule holds: a job pushed while another one runs (or waits) is queued behind it,
including a job pushed from inside the eager step itself.

Only from Python 3.12 by default. There the inbox uses the event loop's own eager tasks, which
make the job's task ``asyncio.current_task()`` from its first step. Python 3.11 has no eager tasks:
its eager step would run while the caller's task (the connection's reader) is current, so a
handler that ties something to the current task before its first suspension
(``asyncio.timeout()``, a ``TaskGroup``, ``async_timeout``) would cancel the *reader* when its
timer fires and end the connection. On 3.11 every job therefore runs in a task unless the owner
asks for ``eager=True`` knowing its jobs do no such thing (the tests of the eager step do).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

__all__ = ["Job", "OrderedInbox"]

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]

_NATIVE_EAGER = sys.version_info >= (3, 12)


class OrderedInbox:
    """Jobs run in the order they were pushed, one at a time.

    Args:
        name: who the inbox belongs to (for the log line of a failed job).
        eager: run a job pushed to an idle inbox inline until it first suspends; False: every
            job runs in a task. None (the default): eager where the event loop has eager tasks
            (Python 3.12+), in a task on 3.11 (see the module docstring).
    """

    __slots__ = ("_eager", "_eager_task", "_name", "_queue", "_running", "_task")

    def __init__(self, name: str, *, eager: bool | None = None) -> None:
        self._name = name
        self._eager = _NATIVE_EAGER if eager is None else eager
        self._queue: collections.deque[Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._eager_task: asyncio.Task[None] | None = None  # 3.12+: a suspended eager job
        self._running = False  # a job's eager step is on the stack

    @property
    def busy(self) -> bool:
        """Whether a job is queued or running."""
        return self._task is not None or self._running

    def push(self, job: Job) -> None:
        """Run ``job`` after every job pushed before it."""
        if self._task is None and not self._running:
            if self._eager:
                self._run_eagerly(job)
                return
            self._queue = collections.deque((job,))
            self._watch(asyncio.get_running_loop().create_task(self._drain()))
            return
        queue = self._queue
        if queue is None:
            queue = self._queue = collections.deque()
        queue.append(job)

    def cancel(self) -> None:
        """Drop the queued jobs and cancel the running one."""
        if self._task is not None:
            self._task.cancel()
            if self._eager_task is not None:  # the waiter may be cancelled before it ran
                self._eager_task.cancel()
        elif self._queue is not None:
            self._queue.clear()

    def _run_eagerly(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        self._running = True
        try:
            awaitable = job()
            if _NATIVE_EAGER:
                task: asyncio.Task[None] = asyncio.Task(
                    _as_coroutine(awaitable),
                    loop=loop,
                    eager_start=True,  # type: ignore[call-arg,unused-ignore]
                )
                if not task.done():
                    self._eager_task = task
                    self._watch(loop.create_task(self._after(task)))
                    return
                self._report(task)
            else:
                coro = _as_coroutine(awaitable)
                context = contextvars.copy_context()
                try:
                    yielded = context.run(coro.send, None)
                except StopIteration:
                    pass
                except asyncio.CancelledError:
                    pass
                except Exception:
                    logger.error("! job failed for %s", self._name, exc_info=True)
                else:
                    self._watch(loop.create_task(self._resume(coro, yielded), context=context))
                    return
        finally:
            self._running = False
        if self._queue:  # pushed during the eager step
            self._watch(loop.create_task(self._drain()))

    def _watch(self, task: asyncio.Task[None]) -> None:
        """Make ``task`` the running one; if it is cancelled before its first step (so its
        ``finally`` never runs), the inbox still goes idle."""
        self._task = task
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._done()

    def _report(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("! job failed for %s", self._name, exc_info=task.exception())

    async def _after(self, task: asyncio.Task[None]) -> None:
        """Wait for an eager task that suspended, then drain what was pushed meanwhile."""
        try:
            try:
                await task
            except asyncio.CancelledError:
                task.cancel()
                raise
            except Exception:
                logger.error("! job failed for %s", self._name, exc_info=True)
            await self._drain_queue()
        finally:
            self._done()

    async def _resume(self, coro: Coroutine[Any, Any, None], yielded: Any) -> None:
        """Run the rest of a job that suspended in its eager step, then the queue."""
        try:
            try:
                await _continue(coro, yielded)
            except Exception:
                logger.error("! job failed for %s", self._name, exc_info=True)
            await self._drain_queue()
        finally:
            self._done()

    async def _drain(self) -> None:
        try:
            await self._drain_queue()
        finally:
            self._done()

    async def _drain_queue(self) -> None:
        queue = self._queue
        while queue:
            job = queue.popleft()
            try:
                await job()
            except Exception:
                logger.error("! job failed for %s", self._name, exc_info=True)

    def _done(self) -> None:
        self._task = None
        self._eager_task = None
        queue = self._queue
        if queue is not None:
            queue.clear()  # empty, or cancelled with work left: nothing more runs from it
        self._queue = None  # an idle owner holds no queue


def _as_coroutine(awaitable: Awaitable[None]) -> Coroutine[Any, Any, None]:
    if isinstance(awaitable, types.CoroutineType):
        return awaitable

    async def wrap() -> None:
        await awaitable

    return wrap()


@types.coroutine
def _continue(coro: Coroutine[Any, Any, None], yielded: Any) -> Generator[Any, Any, None]:
    """Hand what ``coro`` yielded to the task running this, and resume ``coro`` with the
    outcome, as if the task had run it from the start (cancellation included)."""
    while True:
        try:
            value = yield yielded
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                yielded = coro.send(value)
            except StopIteration:
                return
