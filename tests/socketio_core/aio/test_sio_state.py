"""Tests for the per-connection state (socketio_core.aio.state): the ordered client queue,
ack waiters and the handshake description of a socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from socketio_core.aio.state import AckWaiter, Client, Socket
from socketio_core.decoder import JsonDecoder


def make_client(environ: dict[str, Any] | None = None) -> Client:
    return Client("eio-sid", environ or {}, JsonDecoder(require_connect_first=True))


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
    client.enqueue(job("a", wait=True))
    client.enqueue(job("b"))
    assert client.busy
    await asyncio.wait_for(started.wait(), 5)
    client.enqueue(job("c", last=True))
    assert order == ["a start"]
    gate.set()
    await asyncio.wait_for(finished.wait(), 5)
    assert order == ["a start", "a end", "b start", "b end", "c start", "c end"]
    await asyncio.wait_for(_idle(client), 5)


async def _idle(client: Client) -> None:
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
        client.enqueue(bad)
        client.enqueue(good)
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

    client.enqueue(forever)
    client.enqueue(never)
    await asyncio.wait_for(started.wait(), 5)
    task = client._task
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not client.busy
    assert ran == []
    assert not client._queue


def test_ack_waiter_defaults() -> None:
    waiter = AckWaiter()
    assert waiter.future is None and waiter.callback is None and waiter.collect is None
    assert waiter.timer is None and not waiter.err_first


def test_handshake_without_a_request() -> None:
    socket = Socket("sid", "/", make_client(), auth="not a dict")
    handshake = socket.handshake
    assert handshake["headers"] == {} and handshake["query"] == {}
    assert handshake["auth"] == {}
    assert handshake["address"] == "" and handshake["url"] == ""
    assert handshake["xdomain"] is False and handshake["secure"] is False
    assert not socket.connected and socket.held == [] and socket.acks == {}


def test_handshake_fields_from_environ() -> None:
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "https",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4",
    }
    socket = Socket("sid", "/", make_client(environ), auth={"k": 1}, connected_at=0.0)
    handshake = socket.handshake
    assert handshake["secure"] is True
    assert handshake["url"] == "/socket.io/?EIO=4"
    assert handshake["issued"] == 0
    assert handshake["time"] == "Thu Jan 01 1970 00:00:00"
    assert handshake["auth"] == {"k": 1}
