"""Tests for socketio_core.aio.eager: operations that act at the call."""

from __future__ import annotations

import asyncio

import pytest

from socketio_core.aio.eager import done, start_now


@pytest.mark.asyncio
async def test_a_coroutine_that_never_waits_finishes_at_the_call() -> None:
    ran: list[str] = []

    async def op() -> int:
        ran.append("ran")
        return 7

    future = start_now(op())
    assert ran == ["ran"] and future.done()  # before any await
    assert await future == 7
    assert await done(3) == 3


@pytest.mark.asyncio
async def test_a_failure_is_kept_for_whoever_awaits() -> None:
    async def op() -> None:
        raise KeyError("boom")

    future = start_now(op())
    assert future.done()
    with pytest.raises(KeyError):
        await future


@pytest.mark.asyncio
async def test_a_coroutine_that_waits_goes_on_in_a_task() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def op() -> str:
        steps.append("first")
        await asyncio.sleep(0)  # a bare yield
        value = await gate
        steps.append("second")
        return value + "!"

    future = start_now(op())
    assert steps == ["first"] and not future.done()
    gate.set_result("go")
    assert await asyncio.wait_for(future, 5) == "go!"
    assert steps == ["first", "second"]


@pytest.mark.asyncio
async def test_an_error_after_waiting_and_cancelling_the_result() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def failing() -> None:
        await gate
        raise ValueError("late")

    future = start_now(failing())
    gate.set_result(None)
    with pytest.raises(ValueError, match="late"):
        await asyncio.wait_for(future, 5)

    cleaned: list[str] = []
    forever: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def waiting() -> None:
        try:
            await forever
        except asyncio.CancelledError:
            cleaned.append("cancelled")
            raise

    pending = start_now(waiting())
    pending.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert cleaned == ["cancelled"] and forever.cancelled()
