"""Tests for engineio_core.aio.inbox (the ordered inbox of a connection, shared by the
Engine.IO session driver and the Socket.IO session driver)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable

import pytest

from engineio_core.aio.inbox import OrderedInbox


def make_client() -> OrderedInbox:
    return OrderedInbox("eio-sid", eager=True)


@pytest.mark.asyncio
async def test_jobs_run_in_order_one_at_a_time() -> None:
    client = make_client()
    order: list[str] = []
    gate = asyncio.Event()
    started = asyncio.Event()
    finished = asyncio.Event()

    def job(name: str, wait: bool = False, last: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            order.append(name + " start")
            if wait:
                started.set()
                await gate.wait()
            order.append(name + " end")
            if last:
                finished.set()

        return run

    assert not client.busy
    client.push(job("a", wait=True))
    client.push(job("b"))
    assert client.busy
    await asyncio.wait_for(started.wait(), 5)
    client.push(job("c", last=True))
    assert order == ["a start"]
    gate.set()
    await asyncio.wait_for(finished.wait(), 5)
    assert order == ["a start", "a end", "b start", "b end", "c start", "c end"]
    await asyncio.wait_for(_idle(client), 5)


async def _idle(client: OrderedInbox) -> None:
    # The drain task clears ``busy`` as it ends, a step after its last job.
    while client.busy:
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_a_failing_job_is_logged_and_the_queue_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client()
    done = asyncio.Event()

    async def bad() -> None:
        raise RuntimeError("job boom")

    async def good() -> None:
        done.set()

    with caplog.at_level(logging.ERROR):
        client.push(bad)
        client.push(good)
        await asyncio.wait_for(done.wait(), 5)
    assert "job boom" in caplog.text
    await asyncio.wait_for(_idle(client), 5)


@pytest.mark.asyncio
async def test_cancelled_drain_drops_the_rest() -> None:
    client = make_client()
    ran: list[str] = []
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async def never() -> None:
        ran.append("never")

    client.push(forever)
    client.push(never)
    await asyncio.wait_for(started.wait(), 5)
    client.cancel()
    await asyncio.wait_for(_idle(client), 5)
    assert ran == []
    client.push(never)  # a fresh queue after the cancelled one
    await asyncio.wait_for(_idle(client), 5)
    assert ran == ["never"]


# ------------------------------------------------------------------ no task per job (eager)


@pytest.mark.asyncio
async def test_a_job_that_does_not_wait_runs_at_the_push_without_a_task() -> None:
    client = make_client()
    ran: list[str] = []

    async def quick() -> None:
        ran.append("quick")

    tasks = len(asyncio.all_tasks())
    client.push(quick)
    assert ran == ["quick"]  # done before push() returned
    assert not client.busy and len(asyncio.all_tasks()) == tasks


@pytest.mark.asyncio
async def test_eager_false_runs_every_job_in_a_task() -> None:
    client = OrderedInbox("eio-sid", eager=False)
    ran: list[str] = []

    async def quick() -> None:
        ran.append("quick")

    client.push(quick)
    assert ran == [] and client.busy
    await asyncio.wait_for(_idle(client), 5)
    assert ran == ["quick"]


@pytest.mark.asyncio
async def test_a_job_pushed_from_inside_the_eager_step_runs_after_it() -> None:
    client = make_client()
    order: list[str] = []

    async def second() -> None:
        order.append("second")

    async def first() -> None:
        order.append("first start")
        client.push(second)  # e.g. a disconnect the handler caused
        order.append("first end")

    client.push(first)
    await asyncio.wait_for(_idle(client), 5)
    assert order == ["first start", "first end", "second"]


@pytest.mark.asyncio
async def test_a_job_that_suspends_resumes_in_a_task_and_keeps_the_order() -> None:
    client = make_client()
    order: list[str] = []
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def waits() -> None:
        order.append("a start")
        order.append("a got " + await gate)
        await asyncio.sleep(0)  # a bare yield resumes too
        order.append("a end")

    async def later() -> None:
        order.append("b")

    client.push(waits)
    assert order == ["a start"] and client.busy
    client.push(later)
    gate.set_result("x")
    await asyncio.wait_for(_idle(client), 5)
    assert order == ["a start", "a got x", "a end", "b"]


@pytest.mark.asyncio
async def test_a_failure_after_the_first_suspension_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client()

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("late boom")

    async def fails_at_once() -> None:
        raise RuntimeError("early boom")

    with caplog.at_level(logging.ERROR):
        client.push(fails_at_once)
        assert "early boom" in caplog.text and not client.busy
        client.push(fails_later)
        await asyncio.wait_for(_idle(client), 5)
    assert "late boom" in caplog.text


@pytest.mark.asyncio
async def test_cancel_reaches_a_suspended_eager_job() -> None:
    client = make_client()
    seen: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    client.push(forever)
    await asyncio.sleep(0)
    client.cancel()
    await asyncio.wait_for(_idle(client), 5)
    assert seen == ["cancelled"]


@pytest.mark.asyncio
async def test_the_eager_step_runs_in_its_own_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")
    client = make_client()
    seen: list[str] = []

    async def sets() -> None:
        var.set("inner")
        await asyncio.sleep(0)
        seen.append(var.get())  # the task resumes in the job's context

    client.push(sets)
    assert var.get() == "outer"  # nothing leaked into the caller's context
    await asyncio.wait_for(_idle(client), 5)
    assert seen == ["inner"]


@pytest.mark.asyncio
async def test_by_default_a_timeout_in_a_job_never_reaches_the_pushing_task() -> None:
    # The default inbox is eager only where the loop's eager tasks make the job's own task
    # current (3.12+); on 3.11 an inline step would let asyncio.timeout() capture the pusher
    # (the connection's reader) and cancel it. Either way the pusher must survive.
    inbox = OrderedInbox("eio-sid")
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    never = asyncio.Event()

    async def job() -> None:
        try:
            async with asyncio.timeout(0):
                await never.wait()
        except TimeoutError:
            outcome.set_result("job timed out")

    async def reader() -> str:
        inbox.push(job)
        await asyncio.wait_for(asyncio.shield(outcome), 5)
        await asyncio.sleep(0)  # one more turn: a stray cancellation would land here
        return "reader alive"

    assert await reader() == "reader alive"
    assert outcome.result() == "job timed out"
