"""Tests for engineio_core.server_session, driven with a fake clock (plain ``now`` floats)."""

from __future__ import annotations

import json
import logging

import pytest

from engineio_core.events import (
    APPLICATION_JSON,
    Closed,
    CloseReason,
    HTTPResponse,
    MessageReceived,
    Upgraded,
)
from engineio_core.exceptions import (
    DecodeError,
    HeartbeatError,
    LocalProtocolError,
    PayloadTooLarge,
    RemoteProtocolError,
    RequestOverlap,
    SessionClosed,
)
from engineio_core.handshake import SessionConfig, Sid, Transport
from engineio_core.packet import Packet, PacketType
from engineio_core.server_session import ServerSession, SessionState

SID = Sid("AAAAAAAAAAAAAAAAAAAA")
CONFIG = SessionConfig(
    ping_interval=0.3, ping_timeout=0.2, max_payload=1000, upgrade_timeout=1.0, close_timeout=5.0
)
OK = HTTPResponse(200, b"ok")


def body(text: str) -> HTTPResponse:
    return HTTPResponse(200, text.encode())


def open_session(now: float = 0.0, config: SessionConfig = CONFIG) -> ServerSession:
    """A polling session whose handshake GET has been answered."""
    session = ServerSession(SID, now=now, config=config)
    handshake = session.receive_get(now)
    assert handshake is not None
    assert handshake.body.startswith(b"0{")
    return session


def post(session: ServerSession, data: bytes, now: float) -> HTTPResponse:
    assert session.begin_post(now) is None
    return session.receive_post(data, now)


def upgrade(session: ServerSession, now: float) -> None:
    assert session.attach_websocket(now)
    session.receive_ws_message("2probe", now)
    assert session.websocket_data_to_send() == ["3probe"]
    session.receive_ws_message("5", now)
    assert session.state is SessionState.WEBSOCKET


# -- handshake ---------------------------------------------------------------------------------


def test_polling_handshake_open_packet() -> None:
    session = ServerSession(SID, now=0.0, config=CONFIG)
    assert session.state is SessionState.POLLING
    assert session.transport is Transport.POLLING
    response = session.receive_get(0.0)
    assert response is not None
    assert response.status == 200
    assert response.content_type == "text/plain; charset=UTF-8"
    assert response.body[:1] == b"0"
    handshake = json.loads(response.body[1:])
    assert handshake == {
        "sid": SID,
        "upgrades": ["websocket"],
        "pingInterval": 300,
        "pingTimeout": 200,
        "maxPayload": 1000,
    }
    assert list(handshake) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]


def test_handshake_without_upgrades() -> None:
    session = ServerSession(SID, now=0.0, config=SessionConfig(allow_upgrades=False))
    response = session.receive_get(0.0)
    assert response is not None
    assert json.loads(response.body[1:])["upgrades"] == []
    assert not session.attach_websocket(0.0)


def test_websocket_only_session() -> None:
    session = ServerSession(SID, now=0.0, transport=Transport.WEBSOCKET, config=CONFIG)
    assert session.state is SessionState.WEBSOCKET
    assert session.transport is Transport.WEBSOCKET
    (frame,) = session.websocket_data_to_send()
    assert isinstance(frame, str)
    assert json.loads(frame[1:])["upgrades"] == []
    session.receive_ws_message("4hi", 0.1)
    session.receive_ws_message(b"\x00\x01", 0.1)
    assert session.events_received() == [MessageReceived("hi"), MessageReceived(b"\x00\x01")]
    session.send("back")
    session.send(b"\x02")
    session.send("may\x1econtain the separator on websocket")
    assert session.websocket_data_to_send() == [
        "4back",
        b"\x02",
        "4may\x1econtain the separator on websocket",
    ]
    # A second websocket for the same session is refused (spec "WebSocket").
    assert not session.attach_websocket(0.1)
    # Polling requests on a websocket session are a bad request; the session survives.
    get = session.receive_get(0.1)
    assert get is not None
    assert (get.status, get.content_type) == (400, APPLICATION_JSON)
    assert json.loads(get.body) == {"code": 3, "message": "Bad request"}
    posted = session.begin_post(0.1)
    assert posted is not None
    assert posted.status == 400
    assert not session.closed


# -- polling -----------------------------------------------------------------------------------


def test_get_parks_until_data_then_gets_it() -> None:
    session = open_session()
    assert session.receive_get(0.1) is None
    assert session.get_response() is None
    session.send("hello")
    session.send(b"\x01\x02\x03\x04")  # queued after the GET was answered
    assert session.get_response() == body("4hello")
    assert session.get_response() is None
    assert session.receive_get(0.1) == body("bAQIDBA==")


def test_buffered_packets_go_out_together_within_max_payload() -> None:
    session = open_session()
    session.send("hello")
    session.send(b"\x01\x02\x03\x04")
    session.send("x" * 600)
    session.send("y" * 600)
    assert session.receive_get(0.1) == body("4hello\x1ebAQIDBA==\x1e4" + "x" * 600)
    assert session.receive_get(0.1) == body("4" + "y" * 600)
    assert session.receive_get(0.1) is None


def test_post_delivers_messages_and_answers_ok() -> None:
    session = open_session()
    assert post(session, b"4hello\x1ebAQIDBA==\x1e6\x1e4world", 0.1) == OK
    assert session.events_received() == [
        MessageReceived("hello"),
        MessageReceived(b"\x01\x02\x03\x04"),
        MessageReceived("world"),
    ]


def test_hundred_small_packets_in_one_post() -> None:
    session = open_session()
    data = "\x1e".join(f"4m{i}" for i in range(100)).encode()
    assert post(session, data, 0.1) == OK
    assert session.events_received() == [MessageReceived(f"m{i}") for i in range(100)]


def test_second_concurrent_get_closes_the_session() -> None:
    session = open_session()
    assert session.receive_get(0.1) is None
    second = session.receive_get(0.2)
    assert second is not None
    assert second.status == 400
    assert json.loads(second.body)["code"] == 3
    # The parked GET is answered with the close packet.
    assert session.get_response() == body("1")
    assert session.closed
    assert isinstance(session.error, RequestOverlap)
    (closed,) = session.events_received()
    assert closed == Closed(CloseReason.TRANSPORT_ERROR, session.error)
    # Once closed, requests for the sid are "Session ID unknown".
    later = session.receive_get(0.3)
    assert later is not None
    assert json.loads(later.body) == {"code": 1, "message": "Session ID unknown"}
    later = session.begin_post(0.3)
    assert later is not None
    assert json.loads(later.body)["code"] == 1


def test_second_concurrent_post_closes_the_session() -> None:
    session = open_session()
    assert session.begin_post(0.1) is None
    second = session.begin_post(0.1)
    assert second is not None
    assert second.status == 400
    assert session.closed
    assert session.close_reason is CloseReason.TRANSPORT_ERROR
    # The first POST's body arrives after the session closed.
    late = session.receive_post(b"4a", 0.2)
    assert late.status == 400
    assert json.loads(late.body)["code"] == 1


def test_post_dropped_after_the_session_closed() -> None:
    session = open_session()
    assert session.begin_post(0.1) is None
    assert session.begin_post(0.1) is not None
    session.events_received()
    session.abort_post(0.2)  # the first POST's connection goes away: no second Closed
    assert session.events_received() == []


def test_aborted_get_closes_the_session() -> None:
    session = open_session()
    session.abort_get(0.1)  # nothing parked: nothing happens
    assert not session.closed
    assert session.receive_get(0.1) is None
    session.abort_get(0.2)
    assert session.closed
    assert session.events_received() == [Closed(CloseReason.TRANSPORT_ERROR)]
    assert session.get_response() is None


def test_aborted_post_closes_the_session() -> None:
    session = open_session()
    session.abort_post(0.1)
    assert not session.closed
    assert session.begin_post(0.1) is None
    session.abort_post(0.1)
    assert session.close_reason is CloseReason.TRANSPORT_ERROR


def test_receive_post_without_begin_post_is_a_local_error() -> None:
    session = open_session()
    with pytest.raises(LocalProtocolError):
        session.receive_post(b"4a", 0.1)


@pytest.mark.parametrize(
    ("data", "error", "reason", "status"),
    [
        (b"", DecodeError, CloseReason.PARSE_ERROR, 400),
        (b"4a\x1e\x1e4b", DecodeError, CloseReason.PARSE_ERROR, 400),
        (b"9", DecodeError, CloseReason.PARSE_ERROR, 400),
        (b"x" * 1001, PayloadTooLarge, CloseReason.TRANSPORT_ERROR, 413),
        (b"4a\x1e2", HeartbeatError, CloseReason.TRANSPORT_ERROR, 400),
        (b"0{}", RemoteProtocolError, CloseReason.TRANSPORT_ERROR, 400),
        (b"5", RemoteProtocolError, CloseReason.TRANSPORT_ERROR, 400),
    ],
)
def test_bad_post_closes_the_session(
    data: bytes, error: type[Exception], reason: CloseReason, status: int
) -> None:
    session = open_session()
    assert session.receive_get(0.1) is None
    response = post(session, data, 0.1)
    assert response.status == status
    assert isinstance(session.error, error)
    assert session.close_reason is reason
    assert session.get_response() == body("1")
    events = session.events_received()
    assert events[-1] == Closed(reason, session.error)


def test_ping_from_client_is_an_error_in_v4() -> None:
    session = open_session()
    response = post(session, b"2", 0.1)
    assert response.status == 400
    assert isinstance(session.error, HeartbeatError)
    assert session.close_reason is CloseReason.TRANSPORT_ERROR


def test_close_packet_from_client() -> None:
    session = open_session()
    assert session.receive_get(0.1) is None
    assert post(session, b"4bye\x1e1\x1e4ignored", 0.1) == OK
    assert session.events_received() == [
        MessageReceived("bye"),
        Closed(CloseReason.CLIENT_DISCONNECT),
    ]
    # Node answers the parked GET with a noop, then closes the session (issue 9, item 7).
    assert session.get_response() == body("6")
    assert session.next_deadline() is None
    later = session.receive_get(0.2)
    assert later is not None and later.status == 400
    with pytest.raises(SessionClosed, match="client disconnect"):
        session.send("late")


def test_send_refuses_the_separator_on_polling() -> None:
    session = open_session()
    with pytest.raises(LocalProtocolError):
        session.send("a\x1eb")
    session.send(b"a\x1eb")  # binary is base64-encoded: fine


# -- heartbeat ---------------------------------------------------------------------------------


def test_pings_every_ping_interval_after_each_pong() -> None:
    session = open_session(now=10.0)
    assert session.next_deadline() == pytest.approx(10.3)
    assert session.receive_get(10.0) is None
    session.on_timer(10.29)  # early: nothing
    assert session.get_response() is None
    session.on_timer(10.3)
    assert session.get_response() == body("2")
    assert session.next_deadline() == pytest.approx(10.5)  # pong deadline
    assert post(session, b"3", 10.4) == OK
    assert session.next_deadline() == pytest.approx(10.7)  # next ping
    assert session.receive_get(10.4) is None
    deadline = session.next_deadline()
    assert deadline is not None
    session.on_timer(deadline)
    assert session.get_response() == body("2")
    assert post(session, b"3", 10.8) == OK
    assert not session.closed
    assert session.events_received() == []


def test_no_pong_within_ping_timeout_closes() -> None:
    session = open_session()
    session.on_timer(0.3)
    assert session.receive_get(0.31) == body("2")
    assert session.receive_get(0.31) is None
    session.on_timer(0.49)
    assert not session.closed
    session.on_timer(0.5)
    assert session.closed
    assert session.close_reason is CloseReason.PING_TIMEOUT
    assert session.events_received() == [Closed(CloseReason.PING_TIMEOUT)]
    assert session.get_response() == body("1")
    assert session.next_deadline() is None
    session.on_timer(10.0)  # nothing more happens


def test_unsolicited_pong_changes_nothing() -> None:
    session = open_session()
    assert post(session, b"3", 0.1) == OK
    assert session.next_deadline() == pytest.approx(0.3)


# -- server close ------------------------------------------------------------------------------


def test_server_close_on_polling_waits_for_the_get() -> None:
    session = open_session()
    session.send("last")
    session.close(1.0)
    session.close(1.0)  # idempotent
    assert session.state is SessionState.CLOSING
    assert session.next_deadline() == pytest.approx(6.0)
    with pytest.raises(SessionClosed):
        session.send("too late")
    assert post(session, b"4ignored", 1.1) == OK  # packets are ignored once closing
    assert session.events_received() == []
    assert session.receive_get(1.2) == body("4last\x1e1")
    assert session.closed
    assert session.events_received() == [Closed(CloseReason.SERVER_DISCONNECT)]


def test_server_close_with_parked_get_and_close_timeout() -> None:
    session = open_session()
    assert session.receive_get(0.1) is None
    session.close(0.2)
    assert session.get_response() == body("1")
    assert session.closed

    session = open_session()
    session.close(0.2)
    session.on_timer(5.1)
    assert session.state is SessionState.CLOSING
    session.on_timer(5.2)
    assert session.closed
    assert session.close_reason is CloseReason.SERVER_DISCONNECT


def test_server_close_on_websocket() -> None:
    session = open_session()
    upgrade(session, 0.1)
    session.close(0.2)
    assert session.websocket_data_to_send() == ["1"]
    assert session.websocket_should_close
    assert session.closed
    assert session.events_received()[-1] == Closed(CloseReason.SERVER_DISCONNECT)
    session.websocket_closed(0.3)
    assert not session.websocket_should_close


# -- upgrade -----------------------------------------------------------------------------------


def test_upgrade_flow() -> None:
    session = open_session()
    assert session.receive_get(0.1) is None  # the client's pending GET
    assert session.attach_websocket(0.2)
    assert session.state.name == "PROBING"
    assert session.next_deadline() == pytest.approx(0.3)  # the ping comes first
    session.receive_ws_message("2probe", 0.2)
    assert session.websocket_data_to_send() == ["3probe"]
    assert session.state.name == "UPGRADING"
    assert session.get_response() == body("6")  # noop to the pending GET
    assert session.receive_get(0.25) == body("6")  # any further GET: noop at once
    session.receive_ws_message("5", 0.25)
    assert session.state is SessionState.WEBSOCKET
    assert session.transport is Transport.WEBSOCKET
    assert session.events_received() == [Upgraded()]
    session.send("over ws")
    assert session.websocket_data_to_send() == ["4over ws"]
    # Heartbeat goes on over the websocket.
    session.on_timer(0.3)
    assert session.websocket_data_to_send() == ["2"]
    session.receive_ws_message("3", 0.35)
    assert session.next_deadline() == pytest.approx(0.65)
    # A ping from the client over websocket is an error too.
    session.receive_ws_message("2", 0.4)
    assert isinstance(session.error, HeartbeatError)
    assert session.websocket_should_close


def test_packets_buffered_during_upgrade_are_delivered_once_on_websocket() -> None:
    session = open_session()
    assert session.receive_get(0.1) is None
    assert session.attach_websocket(0.1)
    session.send("before probe")  # polling still current: goes to the parked GET
    assert session.get_response() == body("4before probe")
    session.receive_ws_message("2probe", 0.2)
    session.send("during 1")
    session.send(b"\x07")
    assert post(session, b"4from in-flight post", 0.2) == OK  # the client's last POST
    assert session.receive_get(0.2) == body("6")  # held, not handed to polling
    session.on_timer(0.3)  # a ping falls due mid-upgrade: held as well
    session.receive_ws_message("5", 0.31)
    assert session.websocket_data_to_send() == ["3probe", "4during 1", b"\x07", "2"]
    assert session.websocket_data_to_send() == []
    assert session.events_received() == [MessageReceived("from in-flight post"), Upgraded()]
    # The pong to the held ping arrives on the websocket, in time.
    session.receive_ws_message("3", 0.4)
    session.on_timer(0.55)
    assert not session.closed


@pytest.mark.parametrize(
    ("step", "expected_state"),
    [("probe", SessionState.PROBING), ("upgrade", SessionState.UPGRADING)],
)
def test_upgrade_timeout_returns_to_polling_with_the_buffer(
    step: str, expected_state: SessionState
) -> None:
    config = SessionConfig(ping_interval=100, ping_timeout=100, upgrade_timeout=1.0)
    session = open_session(config=config)
    assert session.attach_websocket(0.0)
    if step == "upgrade":
        session.receive_ws_message("2probe", 0.1)
    assert session.state is expected_state
    session.send("held")
    assert session.next_deadline() == pytest.approx(1.0)
    session.on_timer(1.0)
    assert session.state is SessionState.POLLING
    assert session.websocket_should_close
    assert session.websocket_data_to_send() == []
    session.receive_ws_message("5", 1.1)  # late: ignored
    assert session.state is SessionState.POLLING
    assert not session.attach_websocket(1.1)  # the old one is not gone yet
    session.websocket_closed(1.2)
    assert not session.websocket_should_close
    assert session.receive_get(1.3) == body("4held")
    # A new attempt may follow.
    assert session.attach_websocket(1.4)
    session.receive_ws_message("2probe", 1.4)
    assert session.websocket_data_to_send() == ["3probe"]


@pytest.mark.parametrize(
    ("messages", "state_after_first"),
    [
        (["4hi"], None),
        (["2"], None),
        (["2probe", "4hi"], SessionState.UPGRADING),
        (["2probe", "2probe"], SessionState.UPGRADING),
        (["9"], None),
        ([b"\x00"], None),
        (["4" + "x" * 1000], None),
    ],
)
def test_bad_upgrade_sequence_abandons_the_upgrade_only(
    messages: list[str | bytes], state_after_first: SessionState | None
) -> None:
    session = open_session()
    assert session.attach_websocket(0.1)
    for i, message in enumerate(messages):
        session.receive_ws_message(message, 0.1)
        if i == 0 and state_after_first is not None:
            assert session.state == state_after_first
    assert session.state is SessionState.POLLING
    assert session.websocket_should_close
    assert not session.closed
    assert session.events_received() == []
    session.send("still polling")
    assert session.receive_get(0.2) == body("4still polling")


def test_websocket_closed_during_upgrade_returns_to_polling() -> None:
    session = open_session()
    assert session.attach_websocket(0.1)
    session.receive_ws_message("2probe", 0.1)
    session.send("kept")
    session.websocket_closed(0.2)
    assert session.state is SessionState.POLLING
    assert not session.websocket_should_close
    assert session.receive_get(0.3) == body("4kept")
    session.websocket_closed(0.3)  # idempotent
    with pytest.raises(LocalProtocolError):
        session.receive_ws_message("4x", 0.3)


def test_websocket_closed_after_upgrade_closes_the_session() -> None:
    session = open_session()
    upgrade(session, 0.1)
    session.events_received()
    session.websocket_closed(0.2)
    assert session.closed
    assert session.events_received() == [Closed(CloseReason.TRANSPORT_CLOSE)]
    assert not session.websocket_should_close  # it is gone already
    with pytest.raises(LocalProtocolError):
        session.receive_ws_message("4late", 0.3)


@pytest.mark.parametrize(
    ("frame", "error", "reason"),
    [
        ("", DecodeError, CloseReason.PARSE_ERROR),
        ("8", DecodeError, CloseReason.PARSE_ERROR),
        ("4" + "€" * 400, PayloadTooLarge, CloseReason.TRANSPORT_ERROR),
        (b"x" * 1001, PayloadTooLarge, CloseReason.TRANSPORT_ERROR),
        ("0", RemoteProtocolError, CloseReason.TRANSPORT_ERROR),
    ],
)
def test_bad_websocket_message_closes_an_upgraded_session(
    frame: str | bytes, error: type[Exception], reason: CloseReason
) -> None:
    session = open_session()
    upgrade(session, 0.1)
    session.receive_ws_message(frame, 0.2)
    assert isinstance(session.error, error)
    assert session.close_reason is reason
    assert session.websocket_should_close
    session.receive_ws_message("4after", 0.3)  # ignored
    assert MessageReceived("after") not in session.events_received()


def test_close_packet_over_websocket_and_noop() -> None:
    session = open_session()
    upgrade(session, 0.1)
    session.receive_ws_message("6", 0.2)
    session.receive_ws_message("1", 0.2)
    assert session.events_received() == [Upgraded(), Closed(CloseReason.CLIENT_DISCONNECT)]
    assert session.websocket_should_close


def test_server_close_during_upgrade_abandons_it() -> None:
    session = open_session()
    assert session.attach_websocket(0.1)
    session.receive_ws_message("2probe", 0.1)
    session.send("last")
    session.close(0.2)
    assert session.websocket_should_close
    assert session.state is SessionState.CLOSING
    assert not session.attach_websocket(0.2)
    assert session.receive_get(0.3) == body("4last\x1e1")
    assert session.closed


def test_attach_refused_when_closed() -> None:
    session = open_session()
    session.close(0.0)
    assert not session.attach_websocket(0.1)


def test_transitions_outside_the_table_are_refused() -> None:
    session = open_session()
    upgrade(session, 0.1)
    with pytest.raises(LocalProtocolError, match="WEBSOCKET to CLOSING"):
        session._set_state(SessionState.CLOSING)


def test_traffic_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="engineio_core.server_session")
    session = open_session()
    post(session, b"4a", 0.1)
    upgrade(session, 0.2)
    messages = [record.getMessage() for record in caplog.records]
    assert f"> {SID}: OPEN" in messages
    assert f"< {SID}: POST of 1 packets" in messages
    assert f"< {SID}: ws PING" in messages
    assert f"= {SID}: POLLING -> PROBING" in messages
    assert all(record.levelno <= logging.INFO for record in caplog.records)
    assert not any("4a" in message for message in messages)  # no payloads in logs


# -- shared packets and forced close -------------------------------------------------------------


def test_a_shared_packet_is_encoded_once_for_every_websocket_session() -> None:
    shared = Packet(PacketType.MESSAGE, "hello")
    sessions = [open_session(), open_session()]
    for session in sessions:
        upgrade(session, 0.1)
        session.send(shared)
    first, second = (session.websocket_data_to_send() for session in sessions)
    assert first == ["4hello"]
    assert first[0] is second[0]


def test_send_takes_message_packets_only() -> None:
    session = open_session()
    with pytest.raises(LocalProtocolError):
        session.send(Packet(PacketType.PING))


def test_forced_close_answers_the_parked_get_and_closes_at_once() -> None:
    session = open_session()
    assert session.receive_get(0.1) is None
    session.close(0.2, force=True)
    assert session.get_response() == body("1")
    assert session.state is SessionState.CLOSED
    assert session.events_received()[-1] == Closed(CloseReason.SERVER_DISCONNECT)


def test_graceful_close_waits_for_the_get() -> None:
    session = open_session()
    session.send("bye")
    session.close(0.2)
    assert session.state is SessionState.CLOSING
    assert session.receive_get(0.3) == body("4bye\x1e1")
    assert session.state is SessionState.CLOSED
