"""Tests for socketio_core.aio.inbox (the ordered inbox of a connection) and the per-socket
context of socketio_core.aio.dispatch (its handshake description)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from socketio_core.aio.acks import AckWaiter
from socketio_core.aio.dispatch import SocketContext
from socketio_core.aio.inbox import OrderedInbox
from socketio_core.aio.session_driver import ServerSessionDriver
from socketio_core.parsers import JsonParser
from socketio_core.server_session import ServerSession


def make_client(environ: dict[str, Any] | None = None) -> OrderedInbox:
    return OrderedInbox("eio-sid")


def make_conn(environ: dict[str, Any]) -> ServerSessionDriver:
    core = ServerSession(JsonParser(), now=0.0, new_sid=lambda: "s", accepts=lambda _: True)
    return ServerSessionDriver("eio-sid", None, environ, core, lambda conn, events: None)


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


def test_ack_waiter_defaults() -> None:
    waiter = AckWaiter()
    assert waiter.future is None and waiter.callback is None and waiter.collector is None
    assert not waiter.err_first


@pytest.mark.asyncio
async def test_handshake_without_a_request() -> None:
    socket = SocketContext("sid", "/", make_conn({}), auth="not a dict")
    handshake = socket.handshake
    assert handshake["headers"] == {} and handshake["query"] == {}
    assert handshake["auth"] == {}
    assert handshake["address"] == "" and handshake["url"] == ""
    assert handshake["xdomain"] is False and handshake["secure"] is False
    assert not socket.accepted and socket.session == {} and socket.data == {}


@pytest.mark.asyncio
async def test_handshake_fields_from_environ() -> None:
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "https",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4",
    }
    socket = SocketContext("sid", "/", make_conn(environ), auth={"k": 1})
    socket.connected_at = 0.0
    handshake = socket.handshake
    assert handshake["secure"] is True
    assert handshake["url"] == "/socket.io/?EIO=4"
    assert handshake["issued"] == 0
    assert handshake["time"] == "Thu Jan 01 1970 00:00:00"
    assert handshake["auth"] == {"k": 1}
