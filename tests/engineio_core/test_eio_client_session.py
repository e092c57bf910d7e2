"""Tests for engineio_core.client_session: the client state machine, on a fake clock.

Literal packets first, then a client session paired in memory with our ServerSession.
"""

from __future__ import annotations

import pytest

from engineio_core.client_handshake import Connected, OpenInfo
from engineio_core.client_session import ClientSession, ClientState
from engineio_core.events import Closed, CloseReason, MessageReceived, Upgraded
from engineio_core.exceptions import (
    DecodeError,
    LocalProtocolError,
    PayloadTooLarge,
    RemoteProtocolError,
    SessionClosed,
)
from engineio_core.handshake import SessionConfig, Sid, Transport, new_sid
from engineio_core.server_session import ServerSession, SessionState

OPEN = (
    b'0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,'
    b'"pingTimeout":200,"maxPayload":1000}'
)
INFO = OpenInfo(Sid("abc"), ("websocket",), 0.3, 0.2, 1000)


def polling(now: float = 0.0, body: bytes = OPEN, **kwargs: object) -> ClientSession:
    """A client session connected over polling, its events drained."""
    session = ClientSession(now=now, **kwargs)  # type: ignore[arg-type]
    assert session.next_get()
    session.receive_get_response(200, body, now)
    assert session.events_received() == [Connected(INFO, Transport.POLLING)]
    return session


def upgraded(now: float = 0.0) -> ClientSession:
    """A client session upgraded to websocket with no GET in flight."""
    session = polling(now)
    assert session.upgrade_wanted()
    session.websocket_opened(now)
    session.receive_ws_message("3probe", now)
    assert session.websocket_data_to_send() == ["2probe", "5"]
    assert session.events_received() == [Upgraded()]
    return session


# -- handshake ----------------------------------------------------------------------------------


def test_polling_handshake() -> None:
    session = ClientSession(now=0.0)
    assert session.state is ClientState.OPENING
    assert session.transport is Transport.POLLING
    assert session.sid is None
    assert session.query(Transport.POLLING) == "EIO=4&transport=polling"
    assert session.next_get()
    assert not session.next_get()  # one GET at a time
    assert session.next_post() is None
    session.receive_get_response(200, OPEN, 1.0)
    assert session.events_received() == [Connected(INFO, Transport.POLLING)]
    assert session.state is ClientState.POLLING
    assert session.sid == "abc"
    assert session.query(Transport.WEBSOCKET) == "EIO=4&transport=websocket&sid=abc"
    assert session.next_deadline() == pytest.approx(1.5)
    assert session.next_get()


def test_open_packet_followed_by_a_message_in_the_same_payload() -> None:
    session = ClientSession(now=0.0)
    session.next_get()
    session.receive_get_response(200, OPEN + b"\x1e4hi", 0.0)
    assert session.events_received() == [
        Connected(INFO, Transport.POLLING),
        MessageReceived("hi"),
    ]


def test_websocket_only_handshake() -> None:
    session = ClientSession(now=0.0, transport=Transport.WEBSOCKET)
    assert session.transport is Transport.WEBSOCKET
    assert not session.next_get()
    assert not session.upgrade_wanted()
    session.websocket_opened(0.0)
    assert session.websocket_data_to_send() == []
    session.receive_ws_message(OPEN.decode(), 0.0)
    assert session.events_received() == [Connected(INFO, Transport.WEBSOCKET)]
    assert session.state is ClientState.WEBSOCKET
    session.send(b"\x01")
    session.send("a\x1eb")  # the separator is fine on websocket
    assert session.websocket_data_to_send() == [b"\x01", "4a\x1eb"]


@pytest.mark.parametrize(
    ("status", "body", "reason", "error"),
    [
        (400, b'{"code":5}', CloseReason.TRANSPORT_ERROR, RemoteProtocolError),
        (200, b"", CloseReason.PARSE_ERROR, DecodeError),
        (200, b"9", CloseReason.PARSE_ERROR, DecodeError),
        (200, b"0not json", CloseReason.PARSE_ERROR, DecodeError),
        (200, b"4hello", CloseReason.TRANSPORT_ERROR, RemoteProtocolError),
    ],
)
def test_bad_handshake_response_closes(
    status: int, body: bytes, reason: CloseReason, error: type[Exception]
) -> None:
    session = ClientSession(now=0.0)
    session.next_get()
    session.receive_get_response(status, body, 0.0)
    [event] = session.events_received()
    assert isinstance(event, Closed)
    assert event.reason is reason
    assert isinstance(event.error, error)
    assert session.closed and session.close_reason is reason
    assert session.next_deadline() is None


def test_websocket_only_handshake_failures() -> None:
    session = ClientSession(now=0.0, transport=Transport.WEBSOCKET)
    session.websocket_opened(0.0)
    session.receive_ws_message(b"\x00", 0.0)
    [event] = session.events_received()
    assert isinstance(event, Closed) and event.reason is CloseReason.TRANSPORT_ERROR
    assert session.websocket_should_close

    session = ClientSession(now=0.0, transport=Transport.WEBSOCKET)
    session.websocket_closed(0.0)  # the websocket never opened
    assert session.close_reason is CloseReason.TRANSPORT_ERROR


# -- heartbeat ----------------------------------------------------------------------------------


def test_ping_is_answered_with_a_pong_over_polling() -> None:
    session = polling()
    session.next_get()
    session.receive_get_response(200, b"2", 0.25)
    assert session.events_received() == []
    assert session.next_post() == b"3"
    assert session.next_post() is None  # one POST at a time
    session.receive_post_response(200, b"ok", 0.26)
    assert session.next_post() is None


def test_ping_is_answered_with_a_pong_over_websocket() -> None:
    session = upgraded()
    session.receive_ws_message("2", 1.0)
    assert session.websocket_data_to_send() == ["3"]


def test_silent_server_is_noticed_after_ping_interval_plus_ping_timeout() -> None:
    session = polling(now=10.0)
    assert session.next_deadline() == pytest.approx(10.5)
    session.on_timer(10.49)
    assert not session.closed
    session.next_get()
    session.receive_get_response(200, b"2", 10.4)  # a ping re-arms the deadline
    assert session.next_deadline() == pytest.approx(10.9)
    session.on_timer(10.9)
    assert session.events_received() == [Closed(CloseReason.PING_TIMEOUT)]
    assert session.closed


def test_any_packet_proves_the_server_alive() -> None:
    session = upgraded()
    session.receive_ws_message("4x", 0.4)
    assert session.next_deadline() == pytest.approx(0.9)


# -- messages and POST bodies -------------------------------------------------------------------


def test_messages_both_ways_over_polling() -> None:
    session = polling()
    session.next_get()
    session.receive_get_response(200, b"4hello\x1ebAAEC", 0.1)
    assert session.events_received() == [MessageReceived("hello"), MessageReceived(b"\x00\x01\x02")]
    session.send("hé")
    session.send(b"\xff")
    assert session.next_post() == "4hé\x1eb/w==".encode()


def test_post_bodies_are_split_by_max_payload_in_bytes() -> None:
    # maxPayload 11: "4aaaa" is 5 bytes, two of them with the separator make 11.
    body = OPEN.replace(b'"maxPayload":1000', b'"maxPayload":11')
    session = ClientSession(now=0.0)
    session.next_get()
    session.receive_get_response(200, body, 0.0)
    for _ in range(5):
        session.send("aaaa")
    bodies = []
    while (chunk := session.next_post()) is not None:
        bodies.append(chunk)
        session.receive_post_response(200, b"ok", 0.0)
    assert bodies == [b"4aaaa\x1e4aaaa", b"4aaaa\x1e4aaaa", b"4aaaa"]
    # Bytes, not characters: "4éé" is 5 bytes, "4ééé" 7, so they no longer pair up.
    session.send("éé")
    session.send("ééé")
    assert session.next_post() == "4éé".encode()
    session.receive_post_response(200, b"ok", 0.0)
    assert session.next_post() == "4ééé".encode()
    session.receive_post_response(200, b"ok", 0.0)
    # A single packet over the budget still leaves, alone.
    session.send("x" * 20)
    assert session.next_post() == b"4" + b"x" * 20


def test_sends_before_the_handshake_wait_for_it() -> None:
    session = ClientSession(now=0.0)
    session.send("early")
    assert session.next_post() is None
    session.next_get()
    session.receive_get_response(200, OPEN, 0.0)
    assert session.next_post() == b"4early"


def test_send_checks() -> None:
    session = polling()
    with pytest.raises(LocalProtocolError):
        session.send("a\x1eb")
    with pytest.raises(TypeError):
        session.send(1)  # type: ignore[arg-type]
    session.abort(0.0)
    assert session.events_received() == [Closed(CloseReason.CLIENT_DISCONNECT)]
    with pytest.raises(SessionClosed):
        session.send("late")


def test_reporting_responses_without_requests_is_a_local_error() -> None:
    session = polling()
    with pytest.raises(LocalProtocolError):
        session.receive_get_response(200, b"6", 0.0)
    with pytest.raises(LocalProtocolError):
        session.receive_post_response(200, b"ok", 0.0)
    with pytest.raises(LocalProtocolError):
        session.receive_ws_message("3probe", 0.0)
    with pytest.raises(ValueError):
        ClientSession(now=0.0, max_receive=0)
    with pytest.raises(ValueError):
        ClientSession(now=0.0, close_timeout=0)


# -- malformed server input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason", "error"),
    [
        (b"", CloseReason.PARSE_ERROR, DecodeError),
        (b"4a\x1e\x1e4b", CloseReason.PARSE_ERROR, DecodeError),
        (b"b!!", CloseReason.PARSE_ERROR, DecodeError),
        (b"\xff", CloseReason.PARSE_ERROR, DecodeError),
        (b"0{}", CloseReason.TRANSPORT_ERROR, RemoteProtocolError),
        (b"3", CloseReason.TRANSPORT_ERROR, RemoteProtocolError),
        (b"5", CloseReason.TRANSPORT_ERROR, RemoteProtocolError),
        (b"4" + b"x" * 200, CloseReason.TRANSPORT_ERROR, PayloadTooLarge),
    ],
)
def test_malformed_get_response_closes(
    body: bytes, reason: CloseReason, error: type[Exception]
) -> None:
    session = polling(max_receive=120)
    session.next_get()
    session.receive_get_response(200, body, 0.0)
    [event] = session.events_received()
    assert isinstance(event, Closed) and event.reason is reason
    assert isinstance(event.error, error) and session.error is event.error
    assert not session.next_get() and session.next_post() is None


@pytest.mark.parametrize(
    ("message", "reason"),
    [("", CloseReason.PARSE_ERROR), ("x", CloseReason.PARSE_ERROR), ("0{}", None)],
)
def test_malformed_websocket_message_closes(message: str, reason: CloseReason | None) -> None:
    session = upgraded()
    session.receive_ws_message(message, 0.0)
    [event] = session.events_received()
    assert isinstance(event, Closed)
    assert event.reason is (reason or CloseReason.TRANSPORT_ERROR)
    assert session.websocket_should_close


def test_oversized_websocket_message_closes() -> None:
    session = ClientSession(now=0.0, transport=Transport.WEBSOCKET, max_receive=100)
    session.websocket_opened(0.0)
    session.receive_ws_message(OPEN.decode().replace("1000", "1"), 0.0)
    session.events_received()
    session.receive_ws_message("4" + "é" * 50, 0.0)  # 101 bytes
    [event] = session.events_received()
    assert isinstance(event, Closed) and isinstance(event.error, PayloadTooLarge)


def test_http_errors_and_failures_close_with_transport_error() -> None:
    session = polling()
    session.send("x")
    session.next_post()
    session.receive_post_response(400, b"{}", 0.0)
    assert session.close_reason is CloseReason.TRANSPORT_ERROR
    for fail in ("get", "post"):
        session = polling()
        session.next_get()
        session.send("x")
        session.next_post()
        getattr(session, f"{fail}_failed")(0.0)
        assert session.events_received() == [Closed(CloseReason.TRANSPORT_ERROR)]
        # Responses after the close are ignored.
        if fail == "get":
            session.receive_post_response(200, b"ok", 0.0)
        else:
            session.receive_get_response(200, b"4x", 0.0)
        assert session.events_received() == []


# -- closing ------------------------------------------------------------------------------------


def test_server_close_packet() -> None:
    session = polling()
    session.next_get()
    session.receive_get_response(200, b"4a\x1e1\x1e4b", 0.0)
    assert session.events_received() == [
        MessageReceived("a"),
        Closed(CloseReason.SERVER_DISCONNECT),
    ]


def test_client_close_over_polling_sends_queued_packets_then_close() -> None:
    session = polling()
    session.send("bye")
    session.close(1.0)
    session.close(1.0)  # idempotent
    assert session.state is ClientState.CLOSING
    with pytest.raises(SessionClosed):
        session.send("late")
    session.next_get()
    session.receive_get_response(200, b"4ignored", 1.0)  # nothing counts once closing
    assert session.next_post() == b"4bye\x1e1"
    assert session.events_received() == []
    session.receive_post_response(200, b"ok", 1.1)
    assert session.events_received() == [Closed(CloseReason.CLIENT_DISCONNECT)]


def test_client_close_over_polling_times_out() -> None:
    session = polling()
    session.close(1.0)
    assert session.next_deadline() == pytest.approx(6.0)
    session.next_post()
    session.on_timer(6.0)
    assert session.events_received() == [Closed(CloseReason.CLIENT_DISCONNECT)]


def test_client_close_over_websocket_and_before_the_handshake() -> None:
    session = upgraded()
    session.close(1.0)
    assert session.websocket_data_to_send() == ["1"]
    assert session.websocket_should_close
    assert session.events_received() == [Closed(CloseReason.CLIENT_DISCONNECT)]
    session.receive_ws_message("4late", 1.0)  # ignored
    session.websocket_closed(1.0)
    assert session.events_received() == []
    assert not session.websocket_should_close

    session = ClientSession(now=0.0)
    session.close(0.0)
    assert session.events_received() == [Closed(CloseReason.CLIENT_DISCONNECT)]


def test_websocket_lost_after_the_upgrade() -> None:
    session = upgraded()
    session.websocket_closed(2.0)
    assert session.events_received() == [Closed(CloseReason.TRANSPORT_CLOSE)]


# -- upgrade ------------------------------------------------------------------------------------


def test_upgrade_waits_for_the_get_in_flight() -> None:
    session = polling()
    assert session.next_get()  # the long-poll GET is in flight
    assert session.upgrade_wanted()
    assert not session.upgrade_wanted()  # once
    session.websocket_opened(0.1)
    assert session.state is ClientState.PROBING
    assert session.websocket_data_to_send() == ["2probe"]
    session.receive_ws_message("3probe", 0.2)
    assert session.state is ClientState.PAUSING
    assert session.websocket_data_to_send() == []
    session.send("held")  # waits for the new transport
    assert not session.next_get() and session.next_post() is None
    # The server answers the paused GET with a noop (and maybe a last packet).
    session.receive_get_response(200, b"4last\x1e6", 0.3)
    assert session.state is ClientState.WEBSOCKET
    assert session.transport is Transport.WEBSOCKET
    assert session.websocket_data_to_send() == ["5", "4held"]
    assert session.events_received() == [MessageReceived("last"), Upgraded()]
    assert not session.next_get()


def test_upgrade_waits_for_the_post_in_flight() -> None:
    session = polling()
    session.send("a")
    assert session.next_post() == b"4a"
    session.upgrade_wanted()
    session.websocket_opened(0.0)
    session.receive_ws_message("3probe", 0.0)
    assert session.websocket_data_to_send() == ["2probe"]
    session.receive_post_response(200, b"ok", 0.0)
    assert session.websocket_data_to_send() == ["5"]


def test_polling_carries_on_while_probing() -> None:
    session = polling()
    session.upgrade_wanted()
    session.websocket_opened(0.0)
    session.send("during probe")
    assert session.next_post() == b"4during probe"
    assert session.next_get()


@pytest.mark.parametrize("how", ["closed", "wrong answer", "binary", "timeout", "closed pausing"])
def test_failed_upgrade_resumes_polling(how: str) -> None:
    session = polling()
    session.next_get()
    session.upgrade_wanted()
    session.websocket_opened(0.0)
    session.websocket_data_to_send()
    assert session.next_deadline() == pytest.approx(0.2)  # the probe's deadline
    if how == "closed":
        session.websocket_closed(0.1)
    elif how == "wrong answer":
        session.receive_ws_message("3nope", 0.1)
    elif how == "binary":
        session.receive_ws_message(b"3probe", 0.1)
    elif how == "timeout":
        session.on_timer(0.2)
    else:
        session.receive_ws_message("3probe", 0.1)
        session.send("held")
        session.websocket_closed(0.1)
    assert session.state is ClientState.POLLING
    assert session.websocket_data_to_send() == []
    assert session.events_received() == []
    session.receive_get_response(200, b"6", 0.1)
    assert session.next_get()
    if how == "closed pausing":
        assert session.next_post() == b"4held"


def test_upgrade_not_wanted() -> None:
    assert not polling(upgrade=False).upgrade_wanted()
    no_upgrades = OPEN.replace(b'["websocket"]', b"[]")
    session = ClientSession(now=0.0)
    session.next_get()
    session.receive_get_response(200, no_upgrades, 0.0)
    assert not session.upgrade_wanted()
    # A websocket that was not asked for is closed again.
    session.websocket_opened(0.0)
    assert session.websocket_should_close
    with pytest.raises(LocalProtocolError):
        session.websocket_opened(0.0)
    session.websocket_closed(0.0)
    assert not session.closed


def test_failed_websocket_connect_keeps_polling() -> None:
    session = polling()
    session.upgrade_wanted()
    session.websocket_closed(0.0)  # the connect failed: never opened
    assert session.state is ClientState.POLLING and session.next_get()


def test_close_during_upgrade_abandons_it() -> None:
    session = polling()
    session.next_get()
    session.upgrade_wanted()
    session.websocket_opened(0.0)
    session.receive_ws_message("3probe", 0.0)
    session.close(0.0)
    assert session.websocket_should_close
    assert session.state is ClientState.CLOSING
    assert session.next_post() == b"1"


# -- a client session and a server session, linked in memory ----------------------------------


class Link:
    """Carries requests and websocket messages between a ClientSession and a ServerSession."""

    def __init__(self, client: ClientSession, config: SessionConfig) -> None:
        self.client = client
        self.config = config
        self.server: ServerSession | None = None
        self.get_parked = False

    def pump(self, now: float) -> None:
        """Move everything that can move, until nothing does."""
        client = self.client
        for _ in range(50):
            moved = False
            if client.next_get():
                moved = True
                if self.server is None:
                    self.server = ServerSession(
                        new_sid(lambda n: b"\x01" * n), now=now, config=self.config
                    )
                response = self.server.receive_get(now)
                if response is None:
                    self.get_parked = True
                else:
                    client.receive_get_response(response.status, response.body, now)
            assert self.server is not None
            if self.get_parked and (response := self.server.get_response()) is not None:
                self.get_parked = False
                moved = True
                client.receive_get_response(response.status, response.body, now)
            if (body := client.next_post()) is not None:
                moved = True
                assert self.server.begin_post(now) is None
                answer = self.server.receive_post(body, now)
                client.receive_post_response(answer.status, answer.body, now)
            for message in client.websocket_data_to_send():
                moved = True
                self.server.receive_ws_message(message, now)
            for message in self.server.websocket_data_to_send():
                moved = True
                client.receive_ws_message(message, now)
            if not moved:
                return
        raise AssertionError("the link does not settle")

    def run_until(self, end: float) -> None:
        """Advance the clock from deadline to deadline, like an event loop would, to ``end``."""
        assert self.server is not None
        while True:
            deadlines = [self.server.next_deadline(), self.client.next_deadline()]
            now = min((d for d in deadlines if d is not None), default=end)
            if now > end:
                return
            self.server.on_timer(now)
            self.client.on_timer(now)
            self.pump(now)


def test_in_memory_handshake_messages_heartbeat_upgrade_and_close() -> None:
    config = SessionConfig(ping_interval=0.3, ping_timeout=0.2, max_payload=20)
    client = ClientSession(now=0.0)
    link = Link(client, config)
    link.pump(0.0)
    [connected] = client.events_received()
    assert isinstance(connected, Connected)
    assert link.server is not None and connected.info.sid == link.server.sid
    assert connected.info.max_payload == 20
    server = link.server

    # Messages both ways over polling, with POSTs split at 20 bytes.
    for i in range(6):
        client.send(f"msg{i}")
    client.send(b"\x00\xff")
    server.send("down")
    link.pump(0.1)
    assert server.events_received() == [MessageReceived(f"msg{i}") for i in range(6)] + [
        MessageReceived(b"\x00\xff")
    ]
    assert client.events_received() == [MessageReceived("down")]

    # Heartbeats over several ping intervals keep both sides open.
    link.run_until(2.5)  # eight ping intervals
    assert client.close_reason is None and server.close_reason is None

    # The upgrade, with the long-poll GET parked at the server.
    assert link.get_parked
    assert client.upgrade_wanted()
    assert server.attach_websocket(3.0)
    client.websocket_opened(3.0)
    client.send("probing")  # polling carries on while probing: this one is POSTed
    link.pump(3.0)
    assert client.close_reason is None, client.error
    assert client.state is ClientState.WEBSOCKET
    assert server.state is SessionState.WEBSOCKET
    assert client.events_received() == [Upgraded()]
    assert server.events_received() == [MessageReceived("probing"), Upgraded()]
    server.send(b"\x01")
    client.send("up")
    link.pump(3.1)
    assert client.events_received() == [MessageReceived(b"\x01")]
    assert server.events_received() == [MessageReceived("up")]
    link.run_until(4.5)
    assert client.close_reason is None and server.close_reason is None

    client.close(5.0)
    link.pump(5.0)
    assert client.events_received() == [Closed(CloseReason.CLIENT_DISCONNECT)]
    assert server.events_received() == [Closed(CloseReason.CLIENT_DISCONNECT)]


def test_in_memory_server_close_and_silent_server() -> None:
    config = SessionConfig(ping_interval=0.3, ping_timeout=0.2)
    client = ClientSession(now=0.0, upgrade=False)
    link = Link(client, config)
    link.pump(0.0)
    assert link.server is not None
    link.server.close(0.1)
    link.pump(0.1)
    assert client.events_received()[-1] == Closed(CloseReason.SERVER_DISCONNECT)

    client = ClientSession(now=0.0)
    link = Link(client, config)
    link.pump(0.0)
    client.events_received()
    # The server goes silent: nothing is pumped any more; the client gives up at 0.5.
    client.on_timer(0.49)
    assert not client.closed
    client.on_timer(0.5)
    assert client.events_received() == [Closed(CloseReason.PING_TIMEOUT)]
