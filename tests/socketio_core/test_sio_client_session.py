"""Tests for socketio_core.client_session and socketio_core.client_events: the client's sans-I/O
core, driven by hand with a fake clock and literal server packets."""

from __future__ import annotations

from typing import Any

import pytest

from socketio_core.client_events import (
    AckFailed,
    AckReceived,
    EventReceived,
    NamespaceConnected,
    NamespaceDisconnected,
    NamespaceRefused,
    ProtocolViolation,
    backoff_delay,
)
from socketio_core.client_session import ClientSession, NamespaceState
from socketio_core.exceptions import (
    AckTimeout,
    ConnectFailed,
    LocalProtocolError,
    NotConnected,
    SendBufferFull,
)
from socketio_core.parsers import JsonParser


def make(**kwargs: Any) -> ClientSession:
    return ClientSession(JsonParser(), **kwargs)


def joined(*namespaces: str, **kwargs: Any) -> ClientSession:
    """A session with an open transport, connected to ``namespaces``."""
    session = make(**kwargs)
    session.transport_opened()
    for index, name in enumerate(namespaces or ("/",)):
        session.connect_namespace(name)
        prefix = "" if name == "/" else name + ","
        session.receive_message(f'0{prefix}{{"sid":"s{index}"}}', 0.0)
    session.data_to_send()
    session.events_received()
    return session


# --------------------------------------------------------------------------- backoff


@pytest.mark.parametrize(
    ("random", "expected"),
    [
        (0.5, [1, 2, 4, 5, 5, 5]),  # no jitter at the midpoint; capped at delay_max
        (0.0, [0.5, 1, 2, 2.5, 2.5, 2.5]),  # the most negative jitter: half
        (0.99, [1.49, 2.98, 5, 5, 5, 5]),  # positive jitter, never above delay_max
    ],
)
def test_backoff_sequence(random: float, expected: list[float]) -> None:
    delays = [
        backoff_delay(n, delay=1, delay_max=5, randomization_factor=0.5, random=random)
        for n in range(1, 7)
    ]
    assert delays == pytest.approx(expected)


def test_backoff_huge_attempt_and_bad_input() -> None:
    kwargs: dict[str, Any] = {"delay": 1, "delay_max": 5, "randomization_factor": 0}
    assert backoff_delay(10_000, random=0.3, **kwargs) == 5
    with pytest.raises(ValueError):
        backoff_delay(0, random=0.3, **kwargs)
    with pytest.raises(ValueError):
        backoff_delay(1, delay=1, delay_max=5, randomization_factor=2, random=0.1)


# --------------------------------------------------------------------------- namespaces


def test_connect_namespaces_over_one_transport() -> None:
    session = make()
    session.transport_opened()
    session.connect_namespace("/", {"token": "t"})
    session.connect_namespace("/chat")
    assert session.data_to_send() == ['0{"token":"t"}', "0/chat,"]
    assert session.state("/chat") is NamespaceState.CONNECTING and not session.settled()
    session.receive_message('0{"sid":"a"}', 0)
    session.receive_message('4/chat,{"message":"Not authorized","data":{"x":1}}', 0)
    assert session.events_received() == [
        NamespaceConnected("/", "a"),
        NamespaceRefused("/chat", {"message": "Not authorized", "data": {"x": 1}}),
    ]
    assert session.settled() and session.connected_namespaces() == {"/": "a"}
    assert session.sid("/") == "a" and session.sid("/chat") is None
    assert session.namespaces == ["/", "/chat"]


def test_events_before_the_connect_reply_come_right_after_it_in_order() -> None:
    # python-socketio sends what its connect handler emits before the CONNECT reply.
    session = make()
    session.transport_opened()
    session.connect_namespace("/")
    session.receive_message('2["hello",1,2,{"hello":"you"}]', 0)
    session.receive_message('21["second"]', 0)
    assert session.events_received() == []
    session.receive_message('0{"sid":"a"}', 0)
    assert session.events_received() == [
        NamespaceConnected("/", "a"),
        EventReceived("/", "hello", [1, 2, {"hello": "you"}], None),
        EventReceived("/", "second", [], 1),
    ]


def test_early_events_are_void_when_refused_and_bounded() -> None:
    session = make(max_early_events=2)
    session.transport_opened()
    session.connect_namespace("/")
    session.receive_message('2["a"]', 0)
    session.receive_message('4{"message":"no"}', 0)
    assert session.events_received() == [NamespaceRefused("/", {"message": "no"})]
    session.connect_namespace("/")
    session.receive_message('0{"sid":"b"}', 0)
    assert session.events_received() == [NamespaceConnected("/", "b")]  # nothing stale
    bounded = make(max_early_events=2)
    bounded.transport_opened()
    bounded.connect_namespace("/")
    for _ in range(3):
        bounded.receive_message('2["flood"]', 0)
    events = bounded.events_received()
    assert len(events) == 1 and isinstance(events[0], ProtocolViolation)


def test_connect_error_as_a_string_and_transitions() -> None:
    session = make()
    with pytest.raises(LocalProtocolError):
        session.connect_namespace("/")  # no transport
    session.transport_opened()
    session.connect_namespace("/")
    with pytest.raises(LocalProtocolError):
        session.connect_namespace("/")  # already connecting
    session.receive_message('4"nope"', 0)
    assert session.events_received() == [NamespaceRefused("/", {"message": "nope"})]


def test_events_and_acks_to_the_server() -> None:
    session = joined("/", "/chat")
    session.receive_message('2/chat,7["hello",1,{"a":null}]', 0)
    session.receive_message('2["ping"]', 0)
    assert session.events_received() == [
        EventReceived("/chat", "hello", [1, {"a": None}], 7),
        EventReceived("/", "ping", [], None),
    ]
    session.ack("/chat", 7, ["ok", b"\x01"])
    assert session.data_to_send() == ['61-/chat,7["ok",{"_placeholder":true,"num":0}]', b"\x01"]


def test_server_disconnect_fails_pending_acks() -> None:
    session = joined("/", "/chat")
    session.emit("/chat", ["x"], 0, token="t")
    session.data_to_send()
    session.receive_message("1/chat,", 0)
    events = session.events_received()
    assert events[0] == NamespaceDisconnected("/chat", "server disconnect")
    assert isinstance(events[1], AckFailed) and isinstance(events[1].error, NotConnected)
    assert session.namespaces == ["/"] and session.pending_acks() == 0


def test_protocol_violations() -> None:
    session = joined()
    session.receive_message("9", 0)
    (event,) = session.events_received()
    assert isinstance(event, ProtocolViolation)
    assert not session.transport_open
    session.receive_message('2["ignored"]', 0)  # the rest of a failed transport is ignored
    assert session.events_received() == []
    session = joined()
    session.receive_message('0{"sid":"again"}', 0)  # CONNECT while connected
    assert isinstance(session.events_received()[0], ProtocolViolation)
    session = joined()
    session.receive_message('4{"message":"late"}', 0)
    assert isinstance(session.events_received()[0], ProtocolViolation)


def test_packets_for_other_namespaces_and_unknown_acks_are_ignored() -> None:
    session = joined()
    session.receive_message('2/other,["x"]', 0)
    session.receive_message("3/other,5[]", 0)
    session.receive_message("35[]", 0)
    assert session.events_received() == []


# --------------------------------------------------------------------------- acks


def test_ack_ids_and_timeouts() -> None:
    session = joined()
    session.emit("/", ["a"], 0, token="A", timeout=5)
    session.emit("/", ["b"], 0, token="B", timeout=2)
    session.emit("/", ["c", 1], 0)  # no ack wanted
    assert session.data_to_send() == ['20["a"]', '21["b"]', '2["c",1]']
    assert session.next_deadline() == 2 and session.pending_acks() == 2
    session.receive_message('30["ok"]', 1)
    assert session.events_received() == [AckReceived("A", ["ok"])]
    assert session.next_deadline() == 2
    session.on_timer(1.5)
    assert session.events_received() == []
    session.on_timer(2)
    (failed,) = session.events_received()
    assert isinstance(failed, AckFailed) and isinstance(failed.error, AckTimeout)
    assert session.next_deadline() is None
    session.receive_message("31[]", 3)  # too late: ignored
    assert session.events_received() == []


def test_transport_close_fails_sent_acks_only() -> None:
    session = joined(buffer_size=4)
    session.emit("/", ["sent"], 0, token="S")
    session.data_to_send()
    session.transport_closed("transport close")
    session.emit("/", ["buffered"], 0, token="B")
    events = session.events_received()
    assert events[0] == NamespaceDisconnected("/", "transport close")
    assert isinstance(events[1], AckFailed) and events[1].token == "S"
    assert session.state("/") is NamespaceState.DISCONNECTED
    assert session.buffered("/") == 1 and session.pending_acks() == 1


# --------------------------------------------------------------------------- send buffer


def test_send_buffer_is_flushed_in_order_on_reconnection() -> None:
    session = joined(buffer_size=3)
    session.transport_closed("ping timeout")
    session.events_received()
    session.emit("/", ["one"], 0)
    session.emit("/", ["two"], 0, token="T", timeout=10)
    session.emit("/", ["three", b"\xff"], 0)
    with pytest.raises(SendBufferFull):
        session.emit("/", ["four"], 0)
    assert session.data_to_send() == []
    session.transport_opened()
    session.connect_namespace("/")
    session.receive_message('0{"sid":"new"}', 1)
    assert session.data_to_send() == [
        "0",
        '2["one"]',
        '20["two"]',
        '51-["three",{"_placeholder":true,"num":0}]',
        b"\xff",
    ]
    session.receive_message('30["done"]', 2)
    assert session.events_received() == [
        NamespaceConnected("/", "new"),
        AckReceived("T", ["done"]),
    ]


def test_buffered_emit_times_out_in_the_buffer() -> None:
    session = joined()
    session.transport_closed("transport close")
    session.emit("/", ["late"], 0, token="T", timeout=1)
    session.on_timer(1)
    events = session.events_received()
    assert isinstance(events[-1], AckFailed) and isinstance(events[-1].error, AckTimeout)
    assert session.buffered("/") == 0


def test_buffer_disabled_and_unknown_namespace() -> None:
    session = joined(buffer_size=0)
    with pytest.raises(NotConnected):
        session.emit("/nowhere", ["x"], 0)
    session.transport_closed("transport close")
    with pytest.raises(NotConnected):
        session.emit("/", ["x"], 0)
    with pytest.raises(LocalProtocolError):
        joined().emit("/", ["connect"], 0)  # a reserved name
    with pytest.raises(ValueError):
        make(retries=-1)


def test_client_disconnect_fails_everything() -> None:
    session = joined("/", "/chat")
    session.emit("/", ["a"], 0, token="A")
    session.data_to_send()
    session.disconnect()
    assert session.data_to_send() == ["1", "1/chat,"]
    events = session.events_received()
    assert NamespaceDisconnected("/", "client disconnect") in events
    assert any(isinstance(e, AckFailed) and e.token == "A" for e in events)
    assert session.namespaces == [] and session.pending_acks() == 0


# --------------------------------------------------------------------------- retries


def test_retries_resend_one_at_a_time_until_acked() -> None:
    session = joined(retries=2, ack_timeout=1)
    session.emit("/", ["first"], 0, token="F")
    session.emit("/", ["second"], 0)
    assert session.data_to_send() == ['20["first"]']  # one in flight at a time
    session.on_timer(1)
    assert session.data_to_send() == ['21["first"]']  # a new ack id per attempt
    session.receive_message("30[]", 1.5)  # the first attempt's late ack: ignored
    assert session.events_received() == []
    session.receive_message('31["ok"]', 1.5)
    assert session.events_received() == [AckReceived("F", ["ok"])]
    assert session.data_to_send() == ['22["second"]']
    session.receive_message("32[]", 1.6)
    assert session.data_to_send() == [] and session.pending_acks() == 0


def test_retries_give_up() -> None:
    session = joined(retries=1, ack_timeout=1)
    session.emit("/", ["x"], 0, token="X")
    session.emit("/", ["y"], 0)
    session.on_timer(1)
    session.on_timer(2)
    (failed,) = session.events_received()
    assert isinstance(failed, AckFailed) and isinstance(failed.error, AckTimeout)
    assert session.data_to_send() == ['20["x"]', '21["x"]', '22["y"]']


def test_retried_emit_survives_a_reconnection() -> None:
    session = joined(retries=3, ack_timeout=10)
    session.emit("/", ["x"], 0, token="X", timeout=100)
    session.data_to_send()
    session.transport_closed("transport close")
    session.emit("/", ["y"], 1)  # queued while disconnected
    assert session.buffered("/") == 2 and session.next_deadline() == 100
    session.transport_opened()
    session.connect_namespace("/")
    session.receive_message('0{"sid":"b"}', 2)
    assert session.data_to_send() == ["0", '21["x"]']
    session.receive_message("31[]", 3)
    assert session.data_to_send() == ['22["y"]']


def test_retry_queue_is_bounded_while_disconnected() -> None:
    session = joined(retries=1, buffer_size=1)
    session.transport_closed("transport close")
    session.emit("/", ["x"], 0)
    with pytest.raises(SendBufferFull):
        session.emit("/", ["y"], 0)


def test_connect_failed_carries_the_refusal() -> None:
    exc = ConnectFailed("Not authorized", {"x": 1}, "/")
    assert isinstance(exc, ConnectionError)
    assert (exc.message, exc.data, exc.namespace) == ("Not authorized", {"x": 1}, "/")
