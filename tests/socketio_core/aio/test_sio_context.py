"""Tests for the per-socket context of socketio_core.aio.dispatch (its handshake description)
and socketio_core.aio.acks defaults."""

from __future__ import annotations

from typing import Any

import pytest

from socketio_core.aio.acks import AckWaiter
from socketio_core.aio.dispatch import SocketContext
from socketio_core.aio.session_driver import ServerSessionDriver
from socketio_core.parsers import JsonParser
from socketio_core.server_session import ServerSession


def make_conn(environ: dict[str, Any]) -> ServerSessionDriver:
    core = ServerSession(JsonParser(), now=0.0, new_sid=lambda: "s", accepts=lambda _: True)
    return ServerSessionDriver("eio-sid", None, environ, core, lambda conn, events: None)


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
