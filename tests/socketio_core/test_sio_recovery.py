"""Connection state recovery's sans-I/O store (socketio_core/recovery.py): literal messages,
``now`` advanced by hand, and the server core's CONNECT reply with a pid."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from socketio_core.client_events import EventReceived, NamespaceConnected
from socketio_core.client_session import ClientSession
from socketio_core.packet import Packet
from socketio_core.parsers import JsonParser
from socketio_core.recovery import (
    EXPIRED,
    INVALID,
    UNKNOWN_OFFSET,
    UNKNOWN_PID,
    RecoveryOptions,
    RecoveryStore,
    Refused,
    Restored,
    SessionRecord,
)
from socketio_core.server_session import ServerSession

PARSER = JsonParser()
W = 120.0


def store(**options: object) -> RecoveryStore:
    return RecoveryStore(RecoveryOptions(**options), "e-")  # type: ignore[arg-type]


def emit(
    s: RecoveryStore,
    now: float,
    event: str,
    *args: object,
    rooms: tuple[str, ...] | None = None,
    except_rooms: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
    namespace: str = "/",
) -> list[str | bytes]:
    def encode(offset: str) -> list[str | bytes]:
        return PARSER.encode(Packet.event([event, *args, offset], namespace=namespace))

    return list(s.record(namespace, rooms, except_rooms, skip, now, encode))


def session(
    sid: str = "S1", pid: str = "P1", rooms: tuple[str, ...] = ("S1", "r"), since: int = 0
) -> SessionRecord:
    return SessionRecord(sid, pid, "/", rooms, {"session": {"user": 7}, "data": {}}, since)


def test_offsets_are_the_last_argument_and_replayed_after_the_clients_offset() -> None:
    s = store()
    assert emit(s, 0.0, "a", 1, rooms=("r",)) == ['2["a",1,"e-0"]']
    assert emit(s, 1.0, "b", rooms=("S1",)) == ['2["b","e-1"]']
    s.persist(session(), 2.0)
    assert emit(s, 3.0, "c", rooms=("r",)) == ['2["c","e-2"]']
    assert emit(s, 4.0, "other", rooms=("S2",)) == ['2["other","e-3"]']
    assert emit(s, 5.0, "all") == ['2["all","e-4"]']
    assert emit(s, 6.0, "not me", rooms=("r",), except_rooms=("S1",)) == ['2["not me","e-5"]']
    assert emit(s, 7.0, "skipped", skip=("S1",)) == ['2["skipped","e-6"]']
    result = s.restore("/", "P1", "e-0", 8.0)
    assert isinstance(result, Restored)
    assert result.session.sid == "S1" and result.session.state["session"] == {"user": 7}
    # "b" was lost in flight (emitted before the disconnect was seen): replayed too.
    assert [list(m) for m in result.missed] == [
        ['2["b","e-1"]'],
        ['2["c","e-2"]'],
        ['2["all","e-4"]'],
    ]
    # Exactly once: the session is gone from the store.
    assert s.restore("/", "P1", "e-0", 8.0) == Refused(UNKNOWN_PID)


def test_no_offset_replays_everything_since_the_connection() -> None:
    s = store()
    emit(s, 0.0, "before", rooms=("r",))
    s.persist(session(since=1), 1.0)
    emit(s, 2.0, "x", rooms=("r",))
    result = s.restore("/", "P1", None, 3.0)
    assert isinstance(result, Restored)
    assert [list(m) for m in result.missed] == [['2["x","e-1"]']]


@pytest.mark.parametrize(
    ("pid", "offset", "reason"),
    [
        ("forged", "e-0", UNKNOWN_PID),
        ("P1", "e-99", UNKNOWN_OFFSET),  # huge
        ("P1", "e--1", UNKNOWN_OFFSET),  # negative
        ("P1", "e-ffffffffffffffffffffffff", UNKNOWN_OFFSET),
        ("P1", "x-0", UNKNOWN_OFFSET),  # another run's epoch
        ("P1", "e-1", UNKNOWN_OFFSET),  # a packet of another session
        ("P1", "", UNKNOWN_OFFSET),
        (7, "e-0", INVALID),
        ("P1", -1, INVALID),
        (None, None, INVALID),
    ],
)
def test_bad_pid_or_offset_is_refused_and_nothing_is_replayed(
    pid: object, offset: object, reason: str
) -> None:
    s = store()
    emit(s, 0.0, "mine", rooms=("S1",))
    emit(s, 0.0, "yours", rooms=("S2",))
    s.persist(session(), 1.0)
    emit(s, 2.0, "missed", rooms=("S1",))
    assert s.restore("/", pid, offset, 3.0) == Refused(reason)
    assert s.session_count == (0 if reason == EXPIRED else 1)


def test_another_namespace_or_before_since_is_refused() -> None:
    s = store()
    emit(s, 0.0, "old", rooms=("r",))
    s.persist(session(since=1), 1.0)
    assert s.restore("/chat", "P1", None, 2.0) == Refused(UNKNOWN_PID)
    assert s.restore("/", "P1", "e-0", 2.0) == Refused(UNKNOWN_OFFSET)  # before its connection


def test_after_the_window_the_session_is_expired_then_forgotten() -> None:
    s = store(max_disconnection_duration=10)
    emit(s, 0.0, "a", rooms=("S1",))
    s.persist(session(), 1.0)
    assert s.next_deadline() == 11.0  # the session's; its packet is kept while it may come back
    assert s.restore("/", "P1", "e-0", 11.0) == Refused(EXPIRED)
    s.persist(session(), 20.0)
    s.on_timer(30.0)
    assert s.session_count == 0 and s.log_size == (0, 0) and s.next_deadline() is None
    assert s.restore("/", "P1", "e-0", 30.5) == Refused(UNKNOWN_PID)


def test_a_packet_lost_in_flight_is_kept_for_a_session_disconnected_later() -> None:
    s = store(max_disconnection_duration=10)
    emit(s, 0.0, "in flight", rooms=("S1",))
    s.persist(session(), 8.0)  # the server noticed the cut late (ping timeout)
    assert s.next_deadline() == 18.0  # not 10.0: the packet waits for the session
    s.on_timer(12.0)
    assert s.log_size[0] == 1
    result = s.restore("/", "P1", None, 17.0)
    assert isinstance(result, Restored) and len(result.missed) == 1


def test_repeated_drops_renew_the_window_and_offsets_stay_consistent() -> None:
    s = store(max_disconnection_duration=10)
    now, offset, sent = 0.0, None, []
    record = session()
    for round_ in range(5):
        s.persist(record, now)
        for i in range(3):
            sent.append(emit(s, now + 1, "e", round_, i, rooms=("r",))[0])
        now += 9.0  # inside the window each time, 45 s in all
        s.on_timer(now)
        result = s.restore("/", "P1", offset, now)
        assert isinstance(result, Restored), round_
        got = [m[0] for m in result.missed]
        assert got == sent[-3:]
        offset = str(got[-1]).rsplit('"', 2)[-2]
        record = result.session
    assert offset == "e-e"


def test_bounds_per_session_and_for_the_log() -> None:
    s = store(max_session_packets=3)
    s.persist(session(), 0.0)
    s.persist(session("S2", "P2", ("S2",)), 0.0)
    for i in range(4):
        emit(s, 1.0, "e", i, rooms=("r",))
    assert s.restore("/", "P1", None, 2.0) == Refused(UNKNOWN_PID)  # dropped: it missed 4
    assert isinstance(s.restore("/", "P2", None, 2.0), Restored)
    s = store(max_log_packets=2)
    s.persist(session(), 0.0)
    for i in range(3):
        emit(s, 1.0, "e", i, rooms=("r",))
    assert s.log_size[0] == 2
    assert s.restore("/", "P1", None, 2.0) == Refused(UNKNOWN_OFFSET)  # one is gone
    s = store(max_sessions=2)
    for i in range(3):
        s.persist(session(f"S{i}", f"P{i}"), float(i))
    assert s.session_count == 2 and s.restore("/", "P0", None, 3.0) == Refused(UNKNOWN_PID)


def test_options() -> None:
    assert RecoveryOptions.from_option(None) is None
    assert RecoveryOptions.from_option(False) is None
    assert RecoveryOptions.from_option(True) == RecoveryOptions()
    options = RecoveryOptions.from_option(
        {"maxDisconnectionDuration": 5000, "skipMiddlewares": False}
    )
    assert options == RecoveryOptions(max_disconnection_duration=5.0, skip_middlewares=False)
    with pytest.raises(ValueError, match="unknown"):
        RecoveryOptions.from_option({"nope": 1})
    with pytest.raises(ValueError, match="> 0"):
        RecoveryOptions(max_session_bytes=0)
    with pytest.raises(ValueError):
        RecoveryOptions.from_option("yes")  # type: ignore[arg-type]


def test_connect_reply_carries_the_pid_and_a_recovered_socket_takes_its_old_sid() -> None:
    core = ServerSession(PARSER, now=0.0, new_sid=lambda: "NEW", accepts=lambda ns: True)
    core.receive_message('0{"pid":"P1","offset":"e-0"}', 0.0)
    (request,) = core.events_received()
    assert request.auth == {"pid": "P1", "offset": "e-0"}  # type: ignore[union-attr]
    core.rename("NEW", "OLD")
    assert core.deliver("OLD", ['2["missed","e-1"]']) == ()  # held until the CONNECT reply
    core.accept("OLD", {"pid": "P1"})
    assert list(core.data_to_send()) == ['0{"pid":"P1","sid":"OLD"}', '2["missed","e-1"]']


def test_memory_of_1000_sessions_never_coming_back_is_released_after_the_window() -> None:
    s = store(max_disconnection_duration=W)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(1000):
            s.persist(session(f"S{i:04}", f"P{i:04}", (f"S{i:04}", "r")), 0.0)
        for i in range(100):
            emit(s, 1.0, "news", "x" * 100, i, rooms=("r",))
        held = tracemalloc.get_traced_memory()[0] - base
        assert s.session_count == 1000 and s.log_size[0] == 100
        deadline = s.next_deadline()
        assert deadline == W
        s.on_timer(W + 1.0)
        gc.collect()
        released = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert s.session_count == 0 and s.log_size == (0, 0) and s.next_deadline() is None
    assert held > 200_000  # what 1,000 sessions and 100 packets hold (about 0.4 MB)
    assert released < 5_000, (held, released)


# -- the client core: pid and offset remembered, sent back, the offset taken off -------------


def test_client_core_sends_pid_and_offset_back_and_strips_offsets() -> None:
    client = ClientSession(PARSER)
    client.transport_opened()
    client.connect_namespace("/", {"token": "t"})
    assert client.data_to_send() == ['0{"token":"t"}']
    client.receive_message('0{"sid":"S1","pid":"P1"}', 0.0)
    client.receive_message('2["news",1,"e-0"]', 0.0)
    client.receive_message('2["news","text","e-1"]', 0.0)
    client.receive_message('21["asks","no offset"]', 0.0)  # an ack id: no offset
    assert client.events_received() == [
        NamespaceConnected("/", "S1", False),
        EventReceived("/", "news", [1]),
        EventReceived("/", "news", ["text"]),
        EventReceived("/", "asks", ["no offset"], 1),
    ]
    client.transport_closed("transport close")
    client.events_received()
    client.transport_opened()
    client.connect_namespace("/", {"token": "t"})
    assert client.data_to_send() == ['0{"pid":"P1","offset":"e-1","token":"t"}']
    client.receive_message('0{"sid":"S1","pid":"P1"}', 1.0)
    client.receive_message('2["news",2,"e-2"]', 1.0)
    assert client.events_received() == [
        NamespaceConnected("/", "S1", True),
        EventReceived("/", "news", [2]),
    ]
    assert client.recovered("/")
    client.transport_closed("transport close")
    client.transport_opened()
    client.connect_namespace("/")
    assert client.data_to_send() == ['0{"pid":"P1","offset":"e-2"}']
    client.receive_message('0{"sid":"S2","pid":"P2"}', 2.0)  # not recovered: a new session
    assert not client.recovered("/")
    client.receive_message('2["news",3]', 2.0)  # a number last: never taken for an offset
    assert client.events_received()[-1] == EventReceived("/", "news", [3])


def test_server_without_recovery_leaves_string_arguments_alone() -> None:
    client = ClientSession(PARSER)
    client.transport_opened()
    client.connect_namespace("/")
    client.receive_message('0{"sid":"S1"}', 0.0)  # no pid: recovery is off on the server
    client.receive_message('2["news","keep me"]', 0.0)
    assert client.events_received()[-1] == EventReceived("/", "news", ["keep me"])
    client.transport_closed("transport close")
    client.transport_opened()
    client.connect_namespace("/")
    assert client.data_to_send() == ["0"]
