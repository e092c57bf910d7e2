"""Tests for websocket.aio.timer (the one "core deadline -> loop.call_at" helper)."""

from __future__ import annotations

import asyncio

import pytest

from websocket.aio.timer import DeadlineTimer


@pytest.mark.asyncio
async def test_fires_at_the_deadline_and_clears_itself() -> None:
    loop = asyncio.get_running_loop()
    fired = asyncio.Event()
    seen: list[float | None] = []
    timer: DeadlineTimer

    def on_timer() -> None:
        seen.append(timer.when)  # cleared before the callback: it may set a new deadline
        fired.set()

    timer = DeadlineTimer(loop, on_timer)
    assert timer.when is None
    deadline = loop.time()
    timer.set(deadline)
    assert timer.when == deadline
    await asyncio.wait_for(fired.wait(), 5)
    assert seen == [None] and timer.when is None


@pytest.mark.asyncio
async def test_rearmed_only_when_the_deadline_changes() -> None:
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    timer = DeadlineTimer(loop, lambda: fired.append("x"))
    far = loop.time() + 3600
    timer.set(far)
    handle = timer._handle
    timer.set(far)
    assert timer._handle is handle  # unchanged: the same handle
    timer.set(far + 1)
    assert timer._handle is not handle and handle is not None and handle.cancelled()
    timer.cancel()
    assert timer.when is None and timer._handle is None
    timer.set(None)  # disarming twice is a no-op
    # A deadline in the past fires on the next loop iteration, once.
    done = asyncio.Event()
    timer = DeadlineTimer(loop, done.set)
    timer.set(loop.time() - 1)
    await asyncio.wait_for(done.wait(), 5)
    assert fired == []
