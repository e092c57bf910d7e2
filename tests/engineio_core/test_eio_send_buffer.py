"""The per-session send buffer limit (issue 9, item 1) in the sans-I/O core.

``max_send_buffer`` bounds the bytes one session holds for a client that does not take them:
past it, volatile packets go first, then the session closes with ``transport error``
(:exc:`SendBufferFull`). The WebSocket backlog follows the same rule.
"""

from __future__ import annotations

import pytest

from engineio_core.events import Closed, CloseReason, HTTPResponse
from engineio_core.exceptions import SendBufferFull, SessionClosed
from engineio_core.handshake import SessionConfig, Sid, Transport
from engineio_core.server_session import ServerSession

SID = Sid("AAAAAAAAAAAAAAAAAAAA")


def open_session(limit: int | None = 1000, max_payload: int = 100_000) -> ServerSession:
    config = SessionConfig(max_payload=max_payload, max_send_buffer=limit)
    session = ServerSession(SID, now=0.0, config=config)
    assert session.receive_get(0.0) is not None  # the handshake GET
    session.events_received()
    return session


def test_default_limit_is_four_times_max_payload() -> None:
    assert SessionConfig().send_buffer_limit == 4_000_000
    assert SessionConfig(max_payload=10).send_buffer_limit == 40
    assert SessionConfig(max_send_buffer=5).send_buffer_limit == 5
    with pytest.raises(ValueError, match="max_send_buffer"):
        SessionConfig(max_send_buffer=0)


def test_a_client_that_never_polls_is_closed_past_the_limit() -> None:
    session = open_session(limit=1000)
    # Each message counts its characters plus the packet type: 100 + 1 bytes.
    for _ in range(9):
        session.send("x" * 100)
    assert not session.closed
    session.send("x" * 100)  # 1010 bytes waiting: over the limit
    assert session.closed
    [closed] = session.events_received()
    assert isinstance(closed, Closed)
    assert closed.reason is CloseReason.TRANSPORT_ERROR
    assert isinstance(closed.error, SendBufferFull)
    with pytest.raises(SessionClosed):
        session.send("more")
    # Like Node: a later GET for the sid is a 400 (unknown session).
    response = session.receive_get(1.0)
    assert response is not None and response.status == 400


def test_a_client_that_polls_is_never_closed() -> None:
    session = open_session(limit=1000)
    for i in range(100):
        for _ in range(5):
            session.send("y" * 100)
        response = session.receive_get(float(i))
        assert response == HTTPResponse(200, b"\x1e".join([b"4" + b"y" * 100] * 5))
    assert not session.closed


def test_volatile_packets_are_dropped_first() -> None:
    session = open_session(limit=1000)
    session.send("keep-1")
    for _ in range(9):
        session.send("v" * 100, volatile=True)
    session.send("keep-2")
    session.send("w" * 100)  # over: the nine volatile packets go, the rest stays
    assert not session.closed
    assert session.receive_get(1.0) == HTTPResponse(200, b"4keep-1\x1e4keep-2\x1e4" + b"w" * 100)


def test_volatile_bookkeeping_follows_what_a_get_takes() -> None:
    session = open_session(limit=1000, max_payload=20)
    session.send("a" * 10)
    session.send("b" * 10, volatile=True)
    session.send("c" * 10)
    # max_payload 20: one GET takes one packet at a time.
    assert session.receive_get(1.0) == HTTPResponse(200, b"4" + b"a" * 10)
    for _ in range(9):
        session.send("d" * 100)
    assert not session.closed
    session.send("e" * 100)  # over 1000: only the one volatile packet can go
    assert session.closed
    assert isinstance(session.error, SendBufferFull)


def test_not_enough_volatile_packets_closes_the_session() -> None:
    session = open_session(limit=1000)
    session.send("v" * 50, volatile=True)
    for _ in range(10):
        session.send("x" * 100)
    assert session.closed
    assert isinstance(session.error, SendBufferFull)


def test_one_large_packet_alone_may_wait() -> None:
    session = open_session(limit=100, max_payload=100_000)
    session.send("z" * 50_000)
    assert not session.closed
    response = session.receive_get(1.0)
    assert response is not None and len(response.body) == 50_001


def test_websocket_backlog_over_the_limit_closes_the_session() -> None:
    config = SessionConfig(max_send_buffer=1000)
    session = ServerSession(SID, now=0.0, transport=Transport.WEBSOCKET, config=config)
    assert session.websocket_data_to_send()[0].startswith("0{")  # type: ignore[union-attr]
    session.websocket_backlog(1000, 1.0)
    assert not session.closed
    session.websocket_backlog(1001, 1.0)
    assert session.closed
    assert session.websocket_should_close
    [closed] = session.events_received()
    assert isinstance(closed, Closed) and isinstance(closed.error, SendBufferFull)
