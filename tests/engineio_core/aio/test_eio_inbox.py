"""Tests for engineio_core.aio.inbox (the ordered inbox of a connection, shared by the
Engine.IO session driver and the Socket.IO session driver)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from engineio_core.aio.inbox import OrderedInbox


def make_client() -> OrderedInbox:
    return OrderedInbox("eio-sid")


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
