"""Node's sharded adapter wire format (socketio_core/node_sharded.py).

The msgpack literal was written by notepack.io (what ``ShardedRedisAdapter.encode`` uses for
a BROADCAST holding a Buffer); the JSON literals are socket.io-adapter's ``ClusterMessage``s.
"""

from __future__ import annotations

import pytest

from socketio_core.node_adapter import Broadcast, NodeRequest, NodeResponse, RequestType, Selection
from socketio_core.node_sharded import (
    Ignored,
    MessageType,
    decode,
    encode,
    looks_like_a_socket_id,
)
from socketio_core.packet import Packet
from socketio_core.pubsub import Rejected

#: {uid: "u", nsp: "/", type: 3, data: {packet: {type: 2, data: ["b", <Buffer 07>], nsp: "/"},
#:  opts: {rooms: [], except: [], flags: {}}}}
BINARY_BROADCAST = bytes.fromhex(
    "84a3756964a175a36e7370a12fa47479706503a46461746182a67061636b657483a47479706502a46461746192"
    "a162c40107a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677380"
)
OPTS = b'{"rooms":["a"],"except":["b"],"flags":{}}'
SELECT_A = Selection(("a",), ("b",))


def msg(kind: int, data: bytes, uid: bytes = b"n1") -> bytes:
    return b'{"uid":"' + uid + b'","nsp":"/","type":%d,"data":' % kind + data + b"}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (BINARY_BROADCAST, Broadcast("u", Packet.event(["b", b"\x07"]), Selection())),
        (
            msg(
                3,
                b'{"packet":{"type":2,"data":["ask",1],"nsp":"/"},"requestId":"r","opts":'
                + b'{"rooms":[],"except":[],"flags":{"timeout":2000}}}',
            ),
            NodeRequest(
                RequestType.BROADCAST,
                "n1",
                "r",
                {"packet": Packet.event(["ask", 1]), "selection": Selection(timeout=2.0)},
            ),
        ),
        (
            msg(4, b'{"opts":' + OPTS + b',"rooms":["d"]}'),
            NodeRequest(
                RequestType.REMOTE_JOIN, "n1", None, {"selection": SELECT_A, "rooms": ("d",)}
            ),
        ),
        (
            msg(5, b'{"opts":' + OPTS + b',"rooms":["d"]}'),
            NodeRequest(
                RequestType.REMOTE_LEAVE, "n1", None, {"selection": SELECT_A, "rooms": ("d",)}
            ),
        ),
        (
            msg(6, b'{"opts":' + OPTS + b',"close":true}'),
            NodeRequest(
                RequestType.REMOTE_DISCONNECT, "n1", None, {"selection": SELECT_A, "close": True}
            ),
        ),
        (
            msg(7, b'{"opts":' + OPTS + b',"requestId":"r"}'),
            NodeRequest(RequestType.REMOTE_FETCH, "n1", "r", {"selection": SELECT_A}),
        ),
        (
            msg(9, b'{"packet":["note",1]}'),
            NodeRequest(RequestType.SERVER_SIDE_EMIT, "n1", None, {"data": ["note", 1]}),
        ),
        (
            msg(
                8,
                b'{"requestId":"r","sockets":[{"id":"s","handshake":{},"rooms":["s"],"data":{}}]}',
            ),
            NodeResponse(
                "r", None, {"sockets": [{"id": "s", "handshake": {}, "rooms": ["s"], "data": {}}]}
            ),
        ),
        (
            msg(10, b'{"requestId":"r","packet":{"uid":"x"}}'),
            NodeResponse("r", RequestType.SERVER_SIDE_EMIT, {"data": {"uid": "x"}}),
        ),
        (
            msg(11, b'{"requestId":"r","clientCount":3}'),
            NodeResponse("r", RequestType.BROADCAST_CLIENT_COUNT, {"clientCount": 3}),
        ),
        (
            msg(12, b'{"requestId":"r","packet":"ok"}'),
            NodeResponse("r", RequestType.BROADCAST_ACK, {"packet": "ok"}),
        ),
        (msg(1, b"null"), Ignored(MessageType.INITIAL_HEARTBEAT)),
        (msg(2, b"null"), Ignored(MessageType.HEARTBEAT)),
        (msg(13, b"null"), Ignored(MessageType.ADAPTER_CLOSE)),
    ],
)
def test_decode(data: bytes, expected: object) -> None:
    assert decode(data, "/") == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x90", "not a map"),
        (b'{"uid":1,"nsp":"/","type":3,"data":{}}', "bad uid"),
        (b'{"uid":"u","nsp":"/chat","type":3,"data":{}}', "wrong namespace"),
        (b'{"uid":"u","nsp":"/","type":14,"data":{}}', "unknown message type"),
        (b'{"uid":"u","nsp":"/","type":"3","data":{}}', "unknown message type"),
        (msg(3, b"[]"), "data is not a map"),
        (msg(3, b'{"requestId":5}'), "bad requestId"),
        (msg(3, b'{"packet":{"type":2,"data":[]},"opts":{}}'), "bad packet data"),
        (msg(4, b'{"rooms":["d"]}'), "opts is not an object"),
        (msg(7, b'{"opts":{}}'), "missing requestId"),
        (msg(8, b'{"sockets":[]}'), "missing requestId"),
        (msg(8, b'{"requestId":"r"}'), "missing sockets"),
        (msg(8, b'{"requestId":"r","sockets":[{"id":1}]}'), "bad sockets"),
        (msg(11, b'{"requestId":"r","clientCount":"3"}'), "bad clientCount"),
        (b"x" * 200, "exceeds"),
    ],
)
def test_decode_rejects(data: bytes, reason: str) -> None:
    result = decode(data, "/", max_size=100)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_encode() -> None:
    data = encode("u1", "/", MessageType.SOCKETS_JOIN, {"opts": {"rooms": ["a"]}, "rooms": ["d"]})
    assert data == b'{"uid":"u1","nsp":"/","type":4,"data":{"opts":{"rooms":["a"]},"rooms":["d"]}}'
    fields = {"packet": Packet.event(["b", b"\x07"]), "opts": Selection().to_wire()}
    assert encode("u", "/", MessageType.BROADCAST, fields) == BINARY_BROADCAST
    # a message that cannot carry binary values stays JSON
    assert (
        encode("u", "/", MessageType.BROADCAST_CLIENT_COUNT, {"requestId": "r", "clientCount": 1})[
            :1
        ]
        == b"{"
    )


def test_looks_like_a_socket_id() -> None:
    assert looks_like_a_socket_id("a" * 20)
    assert not looks_like_a_socket_id("room")
