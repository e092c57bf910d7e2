"""The blocking emitter on Node's wire (socketio_core/emitter.py, ``publish_to``): the
channel and bytes of each operation are what ``@socket.io/redis-emitter`` publishes."""

from __future__ import annotations

import pytest

from socketio_core.emitter import Emitter
from socketio_core.node_adapter import (
    Broadcast,
    NodeRequest,
    RequestType,
    Selection,
    decode_broadcast,
    decode_request,
)
from socketio_core.packet import Packet


def capture(key: str = "socket.io") -> tuple[Emitter, list[tuple[str, bytes]]]:
    sent: list[tuple[str, bytes]] = []
    return Emitter(publish_to=lambda channel, data: sent.append((channel, data)), key=key), sent


def test_emit_to_one_room_uses_the_room_channel() -> None:
    emitter, sent = capture()
    emitter.emit("ev", (1, b"\x02"), to="r", namespace="/chat")
    [(channel, data)] = sent
    assert channel == "socket.io#/chat#r#"
    assert decode_broadcast(data) == Broadcast(
        "emitter", Packet.event(["ev", 1, b"\x02"], namespace="/chat"), Selection(("r",))
    )


def test_emit_to_everyone_but_some() -> None:
    emitter, sent = capture("app")
    emitter.emit("ev", None, except_rooms=["x"], skip_sid="s1", volatile=True)
    emitter.emit("ev", 1, to=["a", "b"])
    assert [channel for channel, _ in sent] == ["app#/#", "app#/#"]
    first = decode_broadcast(sent[0][1])
    assert isinstance(first, Broadcast)
    assert first.packet == Packet.event(["ev"])
    assert first.selection == Selection((), ("x", "s1"), volatile=True)
    second = decode_broadcast(sent[1][1])
    assert isinstance(second, Broadcast)
    assert second.selection.rooms == ("a", "b")


def test_requests() -> None:
    emitter, sent = capture()
    emitter.sockets_join("d", to="a")
    emitter.sockets_leave(["d"], except_rooms="b")
    emitter.close_room("d")
    emitter.disconnect_sockets(to="a", close=True)
    emitter.server_side_emit("note", 1)
    assert {channel for channel, _ in sent} == {"socket.io-request#/#"}
    assert [decode_request(data) for _, data in sent] == [
        NodeRequest(
            RequestType.REMOTE_JOIN,
            "emitter",
            None,
            {"selection": Selection(("a",)), "rooms": ("d",)},
        ),
        NodeRequest(
            RequestType.REMOTE_LEAVE,
            "emitter",
            None,
            {"selection": Selection((), ("b",)), "rooms": ("d",)},
        ),
        NodeRequest(
            RequestType.REMOTE_LEAVE,
            "emitter",
            None,
            {"selection": Selection(("d",)), "rooms": ("d",)},
        ),
        NodeRequest(
            RequestType.REMOTE_DISCONNECT,
            "emitter",
            None,
            {"selection": Selection(("a",)), "close": True},
        ),
        NodeRequest(RequestType.SERVER_SIDE_EMIT, "emitter", None, {"data": ["note", 1]}),
    ]


def test_one_transport_exactly() -> None:
    with pytest.raises(ValueError, match="publish"):
        Emitter()
    with pytest.raises(ValueError, match="publish"):
        Emitter(lambda data: None, publish_to=lambda channel, data: None)
    with pytest.raises(ValueError, match="wire"):
        Emitter.redis("redis://127.0.0.1:1/0", wire="nope")
