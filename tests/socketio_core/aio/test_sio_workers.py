"""``serve --workers`` checks (socketio_core/aio/workers.py); the cluster itself is tested in
tests/socketio_core/brokers/test_sio_roundrobin.py."""

from __future__ import annotations

import socket

import pytest

from socketio_core.aio import AsyncServer
from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.aio.workers import check_workers, reserve_port


def test_polling_without_forwarding_is_refused() -> None:
    with pytest.raises(SystemExit, match="forward_requests=True"):
        check_workers(AsyncServer())
    with pytest.raises(SystemExit, match="forward_requests=True"):
        check_workers(AsyncServer(client_manager=AsyncRedisManager("redis://127.0.0.1:1/0")))


def test_websocket_only_or_forwarding_is_accepted() -> None:
    check_workers(AsyncServer(transports=["websocket"]))
    mgr = AsyncRedisManager(
        "redis://127.0.0.1:1/0", forward_requests=True, max_forwarded=5, max_message_size=9999
    )
    sio = AsyncServer(client_manager=mgr)
    check_workers(sio)
    assert sio.eio.remote_sessions is mgr.remote_sessions
    assert mgr.remote_sessions is not None
    assert (mgr.remote_sessions.max_pending, mgr.remote_sessions.max_message_size) == (5, 9999)
    assert mgr.remote_sessions.timeout == 45.0  # ping interval + ping timeout


def test_forwarding_needs_a_subscriber() -> None:
    with pytest.raises(ValueError, match="write-only"):
        AsyncRedisManager("redis://127.0.0.1:1/0", write_only=True, forward_requests=True)


def test_reserved_port_is_shared_with_reuse_port() -> None:
    reserved = reserve_port("127.0.0.1", 0)
    try:
        port = reserved.getsockname()[1]
        assert port > 0
        with socket.socket() as worker:
            worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            worker.bind(("127.0.0.1", port))  # what a worker does; no EADDRINUSE
            worker.listen()
    finally:
        reserved.close()
