"""Tests for socketio_core.server_session and socketio_core.server_events: the server's sans-I/O
core, paired in memory with the client's core (``Pair``), and fed literal bytes.

Time is the ``now`` passed in; nothing sleeps.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from socketio_core import client_events as ce
from socketio_core import server_events as se
from socketio_core.args import ack_value, as_args
from socketio_core.client_session import ClientSession
from socketio_core.exceptions import (
    AckTimeout,
    AttachmentError,
    AttachmentLimitExceeded,
    DecodeError,
    InvalidPacket,
    LocalProtocolError,
    NotConnected,
    UnexpectedPacket,
)
from socketio_core.parsers import JsonParser
from socketio_core.server_session import AckIds, ServerSession, SocketState

SERVED = {"/", "/chat"}


def server_core(now: float = 0.0, ack_ids: AckIds | None = None, **kwargs: Any) -> ServerSession:
    counter = itertools.count()
    return ServerSession(
        JsonParser(max_attachments=kwargs.pop("max_attachments", 10)),
        now=now,
        new_sid=lambda: f"sid{next(counter)}",
        accepts=lambda name: name in SERVED,
        ack_ids=ack_ids,
        **kwargs,
    )


class Pair:
    """A client core and a server core joined by an in-memory link."""

    def __init__(self, **kwargs: Any) -> None:
        self.now = 0.0
        self.server = server_core(**kwargs)
        self.client = ClientSession(JsonParser())
        self.client.transport_opened()
        self.wire: list[tuple[str, str | bytes]] = []  # (direction, message), for assertions

    def flow(self) -> None:
        """Move messages both ways until both cores are quiet."""
        while True:
            up = self.client.data_to_send()
            down = self.server.data_to_send()
            if not up and not down:
                return
            for message in up:
                self.wire.append((">", message))
                self.server.receive_message(message, self.now)
            for message in down:
                self.wire.append(("<", message))
                self.client.receive_message(message, self.now)

    def server_events(self) -> list[se.ServerEvent]:
        self.flow()
        return list(self.server.events_received())

    def client_events(self) -> list[ce.ClientEvent]:
        self.flow()
        return list(self.client.events_received())

    def join(self, namespace: str = "/") -> str:
        """Connect ``namespace`` and accept it; returns the sid."""
        self.client.connect_namespace(namespace)
        (request,) = self.server_events()
        assert isinstance(request, se.ConnectRequested)
        self.server.accept(request.sid)
        assert self.client_events() == [ce.NamespaceConnected(namespace, request.sid)]
        return request.sid

    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.server.on_timer(self.now)
        self.client.on_timer(self.now)
        self.flow()


# ------------------------------------------------------------------- argument packing


@pytest.mark.parametrize(
    ("data", "args"),
    [(None, []), (1, [1]), ((1, 2), [1, 2]), ([1, 2], [[1, 2]]), ((), []), ((5,), [5])],
)
def test_as_args_and_ack_value(data: Any, args: list[Any]) -> None:
    assert as_args(data) == args
    expected = None if data == () else 5 if data == (5,) else data
    assert ack_value(args) == expected


# ----------------------------------------------------------------------- connecting


def test_connect_accept_and_the_connect_reply() -> None:
    pair = Pair()
    pair.client.connect_namespace("/", {"token": "t"})
    assert pair.server_events() == [se.ConnectRequested("sid0", "/", {"token": "t"})]
    assert pair.server.state("sid0") is SocketState.CONNECTING
    pair.server.accept("sid0")
    assert pair.client_events() == [ce.NamespaceConnected("/", "sid0")]
    assert pair.wire == [(">", '0{"token":"t"}'), ("<", '0{"sid":"sid0"}')]
    assert pair.server.state("sid0") is SocketState.CONNECTED
    assert pair.server.namespace_of("sid0") == "/"
    assert pair.server.next_deadline() is None  # the connect deadline is gone


def test_connect_timeout_closes_a_silent_connection() -> None:
    pair = Pair(connect_timeout=5.0)
    assert pair.server.next_deadline() == 5.0
    pair.tick(4.9)
    assert list(pair.server.events_received()) == []
    pair.tick(0.1)
    assert list(pair.server.events_received()) == [se.CloseConnection("no CONNECT in time")]
    assert not pair.server.open
    assert pair.server.next_deadline() is None
    pair.server.receive_message("0", pair.now)  # ignored once closing
    assert list(pair.server.events_received()) == []


def test_a_refused_connect_also_stops_the_connect_timer() -> None:
    pair = Pair(connect_timeout=5.0)
    pair.client.connect_namespace("/nope")
    assert pair.server_events() == []
    assert pair.client_events() == [ce.NamespaceRefused("/nope", {"message": "Invalid namespace"})]
    assert pair.wire[-1] == ("<", '4/nope,{"message":"Invalid namespace"}')
    pair.tick(10)
    assert list(pair.server.events_received()) == []


def test_refusal_with_data_and_a_second_connect_ignored() -> None:
    pair = Pair()
    pair.client.connect_namespace("/chat")
    (request,) = pair.server_events()
    assert isinstance(request, se.ConnectRequested)
    pair.server.receive_message("0/chat,", 0.0)  # a second CONNECT to the same namespace
    assert list(pair.server.events_received()) == []
    pair.server.refuse(request.sid, {"message": "no", "data": {"retry": False}})
    assert pair.client_events() == [
        ce.NamespaceRefused("/chat", {"message": "no", "data": {"retry": False}})
    ]
    assert pair.server.state(request.sid) is SocketState.DISCONNECTED
    with pytest.raises(NotConnected):
        pair.server.accept(request.sid)


def test_emits_are_held_until_the_connect_reply() -> None:
    pair = Pair()
    pair.client.connect_namespace("/")
    (request,) = pair.server_events()
    pair.server.emit(request.sid, ["welcome", 1], 0.0)
    assert pair.server.deliver(request.sid, ['2["shared"]']) == ()  # held
    assert list(pair.server.data_to_send()) == []
    pair.server.accept(request.sid)
    assert list(pair.server.data_to_send()) == ['0{"sid":"sid0"}', '2["welcome",1]', '2["shared"]']


def test_refusal_drops_what_was_held_and_fails_its_acks() -> None:
    pair = Pair()
    pair.client.connect_namespace("/")
    (request,) = pair.server_events()
    pair.server.emit(request.sid, ["x"], 0.0, token="t", timeout=5)
    pair.server.refuse(request.sid)
    assert list(pair.server.data_to_send()) == ['4{"message":"Connection rejected by server"}']
    (failed,) = pair.server.events_received()
    assert isinstance(failed, se.AckFailed) and isinstance(failed.error, NotConnected)
    assert pair.server.next_deadline() is None


def test_the_transition_table_refuses_misuse() -> None:
    pair = Pair()
    sid = pair.join()
    with pytest.raises(LocalProtocolError):
        pair.server.accept(sid)
    with pytest.raises(NotConnected):
        pair.server.refuse("nobody")
    assert pair.server.disconnect(sid) is True
    with pytest.raises(NotConnected):
        pair.server.disconnect(sid)
    assert pair.server.deliver(sid, ["2[]"]) == ()


def test_accept_with_extra_connect_data() -> None:
    pair = Pair()
    pair.client.connect_namespace("/")
    pair.flow()
    pair.server.accept("sid0", {"pid": "p1"})
    assert list(pair.server.data_to_send()) == ['0{"pid":"p1","sid":"sid0"}']


# ------------------------------------------------------------------- events and acks


def test_events_and_acks_client_to_server_with_binary() -> None:
    pair = Pair()
    sid = pair.join("/chat")
    pair.client.emit("/chat", ["up", b"\x01\x02", {"k": b"z"}], 0.0, token="tok")
    (event,) = pair.server_events()
    assert event == se.EventReceived(sid, "/chat", "up", [b"\x01\x02", {"k": b"z"}], 0)
    assert (
        ">",
        '52-/chat,0["up",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]',
    ) in pair.wire
    pair.server.ack(sid, 0, [b"\xff", "ok"])
    assert pair.client_events() == [ce.AckReceived("tok", [b"\xff", "ok"])]
    assert ("<", b"\xff") in pair.wire


def test_events_and_acks_server_to_client_with_binary() -> None:
    pair = Pair()
    sid = pair.join()
    pair.server.emit(sid, ["down", b"\x00"], 0.0, token="t1", timeout=10)
    assert pair.server.pending_acks(sid) == 1
    assert pair.server.next_deadline() == 10.0
    (event,) = pair.client_events()
    assert isinstance(event, ce.EventReceived) and event.args == [b"\x00"] and event.id == 0
    pair.client.ack("/", 0, [b"\x07"])
    assert pair.server_events() == [se.AckReceived(sid, "t1", [b"\x07"])]
    assert pair.server.pending_acks() == 0
    assert pair.server.next_deadline() is None


def test_ack_timeout_leaves_nothing_pending_and_a_late_ack_is_dropped() -> None:
    pair = Pair()
    sid = pair.join()
    pair.server.emit(sid, ["slow"], pair.now, token="t", timeout=3)
    pair.server.emit(sid, ["forever"], pair.now, token="u")  # no timeout
    pair.flow()
    pair.tick(2.9)
    assert list(pair.server.events_received()) == []
    pair.tick(0.1)
    (failed,) = pair.server.events_received()
    assert failed == se.AckFailed(sid, "t", failed.error)
    assert isinstance(failed.error, AckTimeout)
    assert pair.server.pending_acks() == 1  # only the one without a timeout
    pair.server.receive_message("30[]", pair.now)  # the late ack
    assert list(pair.server.events_received()) == []


def test_acks_that_match_nothing_and_events_for_unjoined_namespaces_are_dropped() -> None:
    pair = Pair()
    pair.join()
    for literal in ("399[]", '2/chat,["x"]', "3/chat,1[]"):
        pair.server.receive_message(literal, 0.0)
    assert list(pair.server.events_received()) == []
    assert pair.server.open


def test_one_ack_id_shared_by_a_broadcast() -> None:
    ids = AckIds()
    a, b = Pair(ack_ids=ids), Pair(ack_ids=ids)
    sa, sb = a.join(), b.join()
    ack_id = a.server.allocate_ack_id("/")
    a.server.emit(sa, ["own"], 0.0, token="own")  # takes the next id: no clash
    messages = [f'2{ack_id}["all"]']
    for pair, sid in ((a, sa), (b, sb)):
        pair.server.expect_ack(sid, ack_id, "all", 5.0)
        assert pair.server.deliver(sid, messages) is messages  # goes now, as it is
    with pytest.raises(LocalProtocolError):
        a.server.expect_ack(sa, ack_id, "again", None)
    a.client.ack("/", ack_id, ["from a"])
    assert a.server_events() == [se.AckReceived(sa, "all", ["from a"])]
    b.flow()
    b.tick(5)
    (failed,) = b.server.events_received()
    assert isinstance(failed, se.AckFailed) and isinstance(failed.error, AckTimeout)


# --------------------------------------------------------------------- disconnecting


def test_client_disconnect_settles_every_pending_ack() -> None:
    pair = Pair()
    sid = pair.join()
    chat = pair.join("/chat")
    pair.server.emit(sid, ["a"], 0.0, token=1, timeout=5)
    pair.server.emit(sid, ["b"], 0.0, token=2)
    pair.server.emit(chat, ["c"], 0.0, token=3)
    pair.client.disconnect("/")
    events = pair.server_events()
    assert [type(e) for e in events] == [se.AckFailed, se.AckFailed, se.SocketDisconnected]
    assert {e.token for e in events if isinstance(e, se.AckFailed)} == {1, 2}
    assert events[-1] == se.SocketDisconnected(sid, "/", "client namespace disconnect", True)
    assert pair.server.pending_acks() == 1  # /chat's
    assert pair.server.sids == [chat]
    assert pair.server.next_deadline() is None


def test_server_disconnect_settles_every_pending_ack() -> None:
    pair = Pair()
    sid = pair.join()
    pair.server.emit(sid, ["a"], 0.0, token=1, timeout=5)
    pair.flow()
    pair.client.events_received()
    assert pair.server.disconnect(sid) is True
    (failed,) = pair.server.events_received()
    assert isinstance(failed, se.AckFailed) and isinstance(failed.error, NotConnected)
    assert pair.client_events() == [ce.NamespaceDisconnected("/", "server disconnect")]
    assert pair.wire[-1] == ("<", "1")


def test_transport_close_disconnects_every_socket() -> None:
    pair = Pair()
    sid = pair.join()
    pair.client.connect_namespace("/chat")
    (request,) = pair.server_events()
    pair.server.emit(sid, ["a"], 0.0, token=1, timeout=5)
    pair.server.connection_closed("transport close")
    events = list(pair.server.events_received())
    assert events[1:] == [
        se.SocketDisconnected(sid, "/", "transport close", True),
        se.SocketDisconnected(request.sid, "/chat", "transport close", False),
    ]
    assert isinstance(events[0], se.AckFailed)
    assert list(pair.server.data_to_send()) == []
    assert pair.server.sids == []
    assert pair.server.next_deadline() is None
    pair.server.receive_message('2["late"]', 1.0)
    assert list(pair.server.events_received()) == []


def test_disconnect_while_connecting_is_a_refusal() -> None:
    pair = Pair()
    pair.client.connect_namespace("/")
    (request,) = pair.server_events()
    assert pair.server.disconnect(request.sid) is False
    assert pair.client_events() == [
        ce.NamespaceRefused("/", {"message": "Connection rejected by server"})
    ]


# -------------------------------------------------------------- bad input, literally


@pytest.mark.parametrize(
    ("before", "message", "error"),
    [
        ((), '2["first"]', UnexpectedPacket),  # spec: CONNECT must come first
        ((), "1", UnexpectedPacket),
        ((), "9", DecodeError),
        ((), "0{", DecodeError),
        ((), b"\x00", AttachmentError),
        (("0",), '2["connect"]', InvalidPacket),  # a reserved event name
        (("0",), "2{}", InvalidPacket),  # an event that is not an array
        (("0",), '4{"message":"x"}', InvalidPacket),  # CONNECT_ERROR comes from servers only
        (("0",), b"\x01", AttachmentError),
        (("0",), '51-["x",{"_placeholder":true,"num":3}]', AttachmentError),
        (("0",), '511-["x"]', AttachmentLimitExceeded),
        (("0",), '51-["x",{"_placeholder":true,"num":0}]', AttachmentError),  # then text
    ],
)
def test_bad_input_closes_the_connection(
    before: tuple[str, ...], message: str | bytes, error: type[Exception]
) -> None:
    server = server_core()
    for earlier in before:
        server.receive_message(earlier, 0.0)
    server.events_received()
    server.receive_message(message, 0.0)
    if message == '51-["x",{"_placeholder":true,"num":0}]':
        assert list(server.events_received()) == []
        server.receive_message('2["text while reconstructing"]', 0.0)
    (event,) = server.events_received()
    assert isinstance(event, se.CloseConnection)
    assert isinstance(event.error, error), event
    assert not server.open
    server.receive_message("0/chat,", 0.0)  # nothing more is read
    assert list(server.events_received()) == []


def test_constructor_limits() -> None:
    with pytest.raises(ValueError, match="connect_timeout"):
        server_core(connect_timeout=0)
    ids = AckIds()
    assert [ids.allocate("/"), ids.allocate("/"), ids.allocate("/x")] == [0, 1, 0]
