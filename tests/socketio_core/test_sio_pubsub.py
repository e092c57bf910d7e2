"""The cluster message wire format (socketio_core.pubsub) and the blocking emitter built on it:
tables of literal bytes in both directions, and hostile input that must be rejected, never
raised."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest

from socketio_core.emitter import Emitter
from socketio_core.exceptions import LocalProtocolError
from socketio_core.parsers import MsgpackParser
from socketio_core.pubsub import (
    KINDS,
    ClusterMessage,
    Rejected,
    Target,
    build_emit,
    decode,
    encode,
)

ALL = Target("/", None, (), ())
WIRE_ALL = {"nsp": "/", "rooms": None, "except": [], "skip": [], "volatile": False}

# (message, its JSON bytes)
TABLE: list[tuple[ClusterMessage, bytes]] = [
    (ClusterMessage("hello", "u1"), b'{"v":1,"kind":"hello","uid":"u1"}'),
    (
        ClusterMessage("emit", "u1", {"target": ALL, "messages": ['42["a"]']}),
        b'{"v":1,"kind":"emit","uid":"u1","target":{"nsp":"/","rooms":null,"except":[],'
        b'"skip":[],"volatile":false},"messages":["42[\\"a\\"]"]}',
    ),
    (
        ClusterMessage(
            "emit",
            "u1",
            {
                "target": Target("/c", ("r",), ("x",), ("s",), volatile=True),
                "messages": ["451-[]", b"\x01"],
            },
        ),
        b'{"v":1,"kind":"emit","uid":"u1","target":{"nsp":"/c","rooms":["r"],"except":["x"],'
        b'"skip":["s"],"volatile":true},"messages":["451-[]",{"_placeholder":true,"num":0}],'
        b'"_att":["AQ=="]}',
    ),
    (
        ClusterMessage("ack_count", "u2", {"rid": "r1", "count": 2}, to="u1"),
        b'{"v":1,"kind":"ack_count","uid":"u2","to":"u1","rid":"r1","count":2}',
    ),
    (
        ClusterMessage("ack", "u2", {"rid": "r1", "sid": "s1", "args": [1, {"b": b""}]}, to="u1"),
        b'{"v":1,"kind":"ack","uid":"u2","to":"u1","rid":"r1","sid":"s1",'
        b'"args":[1,{"b":{"_placeholder":true,"num":0}}],"_att":[""]}',
    ),
    (
        ClusterMessage("server_side_emit", "u1", {"event": "e", "args": [], "rid": None}),
        b'{"v":1,"kind":"server_side_emit","uid":"u1","event":"e","args":[],"rid":null}',
    ),
]


@pytest.mark.parametrize(("message", "data"), TABLE)
def test_json_both_directions(message: ClusterMessage, data: bytes) -> None:
    assert encode(message) == data
    assert decode(data) == message


@pytest.mark.parametrize(("message", "data"), TABLE)
def test_msgpack_round_trip(message: ClusterMessage, data: bytes) -> None:
    packed = encode(message, "msgpack")
    assert packed[0] in range(0x80, 0x90)
    assert decode(packed) == message
    assert decode(packed.decode("latin-1").encode("latin-1")) == message


def test_every_kind_round_trips() -> None:
    socket = {"id": "s", "nsp": "/", "rooms": ["s"], "data": {}, "handshake": {"auth": {}}}
    fields: dict[str, dict[str, Any]] = {
        "hello": {},
        "heartbeat": {},
        "bye": {},
        "emit": {"target": ALL, "messages": ["2"]},
        "emit_ack": {
            "rid": "r",
            "target": ALL,
            "event": "e",
            "args": [],
            "timeout": 1.5,
            "sid_only": True,
        },
        "ack_count": {"rid": "r", "count": 0},
        "ack": {"rid": "r", "sid": "s", "args": []},
        "sockets_join": {"target": ALL, "rooms": ["a"]},
        "sockets_leave": {"target": ALL, "rooms": []},
        "disconnect_sockets": {"target": ALL, "close": False},
        "fetch_sockets": {"rid": "r", "target": ALL},
        "fetch_sockets_response": {"rid": "r", "sockets": [socket]},
        "server_side_emit": {"event": "e", "args": [1], "rid": "r"},
        "server_side_response": {"rid": "r", "args": [None]},
    }
    assert set(fields) == KINDS
    for kind, values in fields.items():
        to = "u0" if kind in ("ack_count", "ack", "fetch_sockets_response") else None
        if kind == "server_side_response":
            to = "u0"
        message = ClusterMessage(kind, "u1", values, to)  # type: ignore[arg-type]
        for encoding in ("json", "msgpack"):
            assert decode(encode(message, encoding)) == message  # type: ignore[arg-type]


def _json(**body: Any) -> bytes:
    return json.dumps({"v": 1, "uid": "u", **body}).encode()


REJECTED: list[tuple[bytes | str, str]] = [
    (b"", "empty message"),
    (b"\x00garbage", "neither JSON nor msgpack"),
    (b"[1]", "neither JSON nor msgpack"),
    (b"{not json", "cannot parse: JSONDecodeError"),
    (b"{\xff}", "cannot parse: UnicodeDecodeError"),
    (b'{"v": 1} trailing', "cannot parse: JSONDecodeError"),
    (b'{"kind": "hello", "uid": "u"}', "unsupported version None"),
    (b'{"v": 2, "kind": "hello", "uid": "u"}', "unsupported version 2"),
    (b'{"v": 1, "uid": "u"}', "missing kind"),
    (_json(kind="pickle"), "unknown kind 'pickle'"),
    (_json(kind="hello", uid=""), "bad uid"),
    (_json(kind="hello", uid="u" * 200), "bad uid"),
    (_json(kind="hello", to=5), "bad 'to'"),
    (_json(kind="hello", extra=1), "unknown field(s) ['extra']"),
    (_json(kind="emit", messages=["x"]), "missing field(s) ['target']"),
    (_json(kind="emit", target=WIRE_ALL, messages=[]), "bad field 'messages'"),
    (_json(kind="emit", target=WIRE_ALL, messages=[1]), "bad field 'messages'"),
    (_json(kind="emit", target={**WIRE_ALL, "rooms": "r"}, messages=["2"]), "bad field 'target'"),
    (_json(kind="emit", target={**WIRE_ALL, "nsp": "x"}, messages=["2"]), "bad field 'target'"),
    (_json(kind="emit", target={**WIRE_ALL, "more": 1}, messages=["2"]), "bad field 'target'"),
    (_json(kind="ack_count", rid="r", count=1), "missing 'to'"),
    (_json(kind="ack_count", to="u", rid="r", count=-1), "bad field 'count'"),
    (_json(kind="ack_count", to="u", rid="r", count=True), "bad field 'count'"),
    (
        _json(
            kind="emit_ack", rid="r", target=WIRE_ALL, event="e", args=[], timeout=0, sid_only=False
        ),
        "bad field 'timeout'",
    ),
    (_json(kind="fetch_sockets_response", to="u", rid="r", sockets=[{}]), "bad field 'sockets'"),
    (_json(kind="hello", _att="x"), "bad attachments"),
    (_json(kind="hello", _att=["!!"]), "cannot parse: Error"),
    (
        _json(
            kind="ack", to="u", rid="r", sid="s", args=[{"_placeholder": True, "num": 3}], _att=[]
        ),
        "cannot parse: ValueError",
    ),
    (b"[" * 100_000, "neither JSON nor msgpack"),
    (b'{"a":' * 100_000, "cannot parse: RecursionError"),
    (msgpack.packb({"v": 1, "kind": True, "uid": "u"}), "missing kind"),
    (msgpack.packb({1: 2}), "cannot parse: ValueError"),
    (b"\x81\xa1v", "cannot parse: ValueError"),
    (msgpack.packb({"v": 1, "kind": "hello", "uid": "u"}) + b"\x00", "cannot parse: ExtraData"),
]


@pytest.mark.parametrize(("data", "reason"), REJECTED)
def test_hostile_input_is_rejected_with_a_reason(data: bytes | str, reason: str) -> None:
    result = decode(data)
    assert isinstance(result, Rejected)
    assert result.reason == reason


def test_size_limit_is_checked_before_parsing() -> None:
    result = decode(b"{" + b" " * 100, max_size=50)
    assert result == Rejected("message of 101 bytes exceeds the 50-byte limit")
    assert isinstance(decode(encode(ClusterMessage("hello", "u")), max_size=50), ClusterMessage)


def test_invalid_messages_cannot_be_built_or_encoded() -> None:
    with pytest.raises(LocalProtocolError, match="invalid emit message: missing field"):
        ClusterMessage("emit", "u", {"target": ALL})
    with pytest.raises(LocalProtocolError, match="unknown kind"):
        ClusterMessage("nope", "u")  # type: ignore[arg-type]
    unencodable = ClusterMessage("ack", "u", {"rid": "r", "sid": "s", "args": [object()]}, "t")
    with pytest.raises(LocalProtocolError, match="cannot encode ack message"):
        encode(unencodable)
    with pytest.raises(LocalProtocolError, match="cannot encode ack message"):
        encode(unencodable, "msgpack")
    nan = ClusterMessage("ack", "u", {"rid": "r", "sid": "s", "args": [float("nan")]}, "t")
    with pytest.raises(LocalProtocolError):
        encode(nan)


def test_build_emit_encodes_the_packet_once() -> None:
    message = build_emit("u", "news", ("a", 1), to="r", skip_sid="s", except_rooms=["x"])
    assert message.fields["target"] == Target("/", ("r",), ("x",), ("s",))
    assert message.fields["messages"] == ['2["news","a",1]']
    binary = build_emit("u", "bin", b"\x01", namespace="/n", volatile=True)
    assert binary.fields["messages"] == ['51-/n,["bin",{"_placeholder":true,"num":0}]', b"\x01"]
    assert binary.fields["target"] == Target("/n", None, (), (), volatile=True)
    packed = build_emit("u", "m", None, parser=MsgpackParser())
    assert msgpack.unpackb(packed.fields["messages"][0]) == {"type": 2, "nsp": "/", "data": ["m"]}


def test_blocking_emitter_publishes_cluster_messages() -> None:
    sent: list[bytes] = []
    closed: list[bool] = []
    emitter = Emitter(sent.append, close=lambda: closed.append(True))
    emitter.emit("news", {"n": 1}, room="r", skip_sid="s", except_rooms="x")
    emitter.sockets_join(["a", "b"], to="r", namespace="/c")
    emitter.sockets_leave("a", except_rooms=["z"])
    emitter.close_room("r")
    emitter.disconnect_sockets(to=["r", "q"], close=True)
    emitter.server_side_emit("hi", 1, 2)
    emitter.close()
    assert closed == [True]
    decoded = [decode(data) for data in sent]
    assert all(isinstance(m, ClusterMessage) and m.uid == emitter.uid for m in decoded)
    messages = [m for m in decoded if isinstance(m, ClusterMessage)]
    assert [(m.kind, dict(m.fields)) for m in messages] == [
        (
            "emit",
            {"target": Target("/", ("r",), ("x",), ("s",)), "messages": ['2["news",{"n":1}]']},
        ),
        ("sockets_join", {"target": Target("/c", ("r",)), "rooms": ["a", "b"]}),
        ("sockets_leave", {"target": Target("/", None, ("z",)), "rooms": ["a"]}),
        ("sockets_leave", {"target": Target("/", ("r",)), "rooms": ["r"]}),
        ("disconnect_sockets", {"target": Target("/", ("r", "q")), "close": True}),
        ("server_side_emit", {"event": "hi", "args": [1, 2], "rid": None}),
    ]
    emitter = Emitter(sent.append, encoding="msgpack")
    emitter.emit("x")
    assert isinstance(decode(sent[-1]), ClusterMessage)
    emitter.close()
