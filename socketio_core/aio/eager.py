"""Act at the call: run a coroutine now, up to its first suspension.

``AsyncServer.emit`` and its siblings were coroutines: called without ``await`` from a plain
``def`` handler they did nothing at all, silently. :func:`start_now` runs an operation's
coroutine at once, synchronously, and returns an awaitable of its result: awaiting it is
optional when the caller needs neither the result nor the failure.

The server uses it for the in-memory manager's operations, which complete in that first step
(they never wait). Should a coroutine suspend, the rest runs in a task; a coroutine that ties
something to the current task across that suspension (``asyncio.timeout``, a task group)
must not be started this way: the server starts the operations of a pub/sub manager, which
wait for a broker, as ordinary tasks instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["Started", "done", "start_now"]

T = TypeVar("T")


class Started(asyncio.Future[T]):
    """The awaitable returned by an operation that already started (an ``asyncio.Future``).

    An operation that failed and is never awaited has its exception logged by asyncio when the
    future is collected ("exception was never retrieved").
    """


def done(value: Any = None) -> asyncio.Future[Any]:
    """An awaitable that is already complete (an operation that finished at the call)."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def start_now(coro: Coroutine[Any, Any, T]) -> Started[T]:
    """Run ``coro`` now until it finishes or suspends; returns the future of its result."""
    loop = asyncio.get_running_loop()
    result: Started[T] = Started(loop=loop)
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        result.set_result(stop.value)
        return result
    except BaseException as exc:  # the caller gets it when awaiting
        result.set_exception(exc)
        return result
    task = loop.create_task(_resume(coro, yielded))
    task.add_done_callback(lambda done: _copy(done, result))
    result.add_done_callback(lambda fut: task.cancel() if fut.cancelled() else None)
    return result


async def _resume(coro: Coroutine[Any, Any, T], yielded: Any) -> T:
    """Drive the rest of ``coro`` as an asyncio task would: wait for what it yielded, resume."""
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)  # a bare yield: give the loop one turn
            else:
                await _Waiter(yielded)
        except asyncio.CancelledError as exc:
            if isinstance(yielded, asyncio.Future):
                yielded.cancel()
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


class _Waiter:
    """Await a future without taking its result (the coroutine that yielded it takes it)."""

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future

    def __await__(self) -> Generator[Any, None, None]:
        if not self.future.done():
            self.future._asyncio_future_blocking = True  # asyncio's protocol
            yield self.future


def _copy(task: asyncio.Task[T], result: Started[T]) -> None:
    if result.done():
        return
    if task.cancelled():
        result.cancel()
    elif (exc := task.exception()) is not None:
        result.set_exception(exc)
    else:
        result.set_result(task.result())
