"""Node's ``@socket.io/redis-adapter`` classic wire format (socketio_core/node_adapter.py).

The msgpack literals were written by Node's own encoder (notepack.io 3, what the adapter and
``@socket.io/redis-emitter`` use), e.g.
``notepack.encode(["emitter", {type: 2, data: ["ev", 1, Buffer.from([1, 2])], nsp: "/"},
{rooms: ["r"], flags: {}, except: []}])``.
"""

from __future__ import annotations

import pytest

from socketio_core.exceptions import LocalProtocolError
from socketio_core.node_adapter import (
    Broadcast,
    Channels,
    NodeRequest,
    NodeResponse,
    RequestType,
    Selection,
    decode_broadcast,
    decode_request,
    decode_response,
    dumps,
    encode_broadcast,
    encode_request,
    encode_response,
    packet_from_node,
    packet_of,
)
from socketio_core.packet import Packet, PacketType
from socketio_core.parsers import JsonParser, MsgpackParser, Parser
from socketio_core.pubsub import Rejected

#: @socket.io/redis-emitter: emitter.to("r").emit("ev", 1, Buffer.from([1, 2]))
EMITTER_BROADCAST = bytes.fromhex(
    "93a7656d697474657283a47479706502a46461746193a2657601c4020102a36e7370a12f83a5726f6f6d7391a172"
    "a5666c61677380a665786365707490"
)
#: the adapter: io.of("/chat").except("x").volatile.emit("ev"), with flags.local undefined
ADAPTER_VOLATILE_UNDEFINED = bytes.fromhex(
    "93a661626331323383a47479706502a46461746191a26576a36e7370a52f6368617483a5726f6f6d7390a6657863"
    "65707491a178a5666c61677382a8766f6c6174696c65c3a56c6f63616cd40000"
)
#: the same without the undefined flag: what our encoder must write, byte for byte
ADAPTER_VOLATILE = bytes.fromhex(
    "93a661626331323383a47479706502a46461746191a26576a36e7370a52f6368617483a5726f6f6d7390a6657863"
    "65707491a178a5666c61677381a8766f6c6174696c65c3"
)
#: [uid, packet with binary, {rooms: ["r"], except: [], flags: {}}]
ADAPTER_BINARY = bytes.fromhex(
    "93a2753183a47479706502a46461746192a26576c40101a36e7370a12f83a5726f6f6d7391a172a66578636570"
    "7490a5666c61677380"
)
#: broadcastWithAck: {uid, requestId, type: 7, packet, opts: {..., flags: {timeout: 3000}}}
BROADCAST_REQUEST = bytes.fromhex(
    "85a3756964a6616263313233a9726571756573744964a472657131a47479706507a67061636b657483a4747970"
    "6502a46461746192a361736b01a36e7370a12fa46f70747383a5726f6f6d7391a161a665786365707490a566"
    "6c61677381a774696d656f7574cd0bb8"
)
#: {type: 9, requestId: "req1", packet: Buffer.from([9])}
BROADCAST_ACK = bytes.fromhex("83a47479706509a9726571756573744964a472657131a67061636b6574c40109")


def test_channels() -> None:
    channels = Channels("socket.io", "/chat")
    assert channels.broadcast == "socket.io#/chat#"
    assert channels.pattern == "socket.io#/chat#*"
    assert channels.room("r") == "socket.io#/chat#r#"
    assert channels.request == "socket.io-request#/chat#"
    assert channels.response == "socket.io-response#/chat#"
    assert channels.specific_response("u1") == "socket.io-response#/chat#u1#"


# ------------------------------------------------------------------ broadcasts


def test_decode_the_emitters_broadcast() -> None:
    result = decode_broadcast(EMITTER_BROADCAST)
    assert result == Broadcast(
        "emitter",
        Packet(PacketType.BINARY_EVENT, "/", ["ev", 1, b"\x01\x02"]),
        Selection(("r",)),
    )


def test_decode_undefined_flags_and_except() -> None:
    result = decode_broadcast(ADAPTER_VOLATILE_UNDEFINED)
    assert isinstance(result, Broadcast)
    assert result.packet == Packet(PacketType.EVENT, "/chat", ["ev"])
    assert result.selection == Selection((), ("x",), volatile=True, local=False)


@pytest.mark.parametrize(
    ("uid", "packet", "selection", "data"),
    [
        (
            "abc123",
            Packet.event(["ev"], namespace="/chat"),
            Selection((), ("x",), True),
            ADAPTER_VOLATILE,
        ),
        ("u1", Packet.event(["ev", b"\x01"]), Selection(("r",)), ADAPTER_BINARY),
    ],
)
def test_encode_broadcast_as_node_does(
    uid: str, packet: Packet, selection: Selection, data: bytes
) -> None:
    assert encode_broadcast(uid, packet, selection) == data
    assert decode_broadcast(data) == Broadcast(uid, packet, selection)


def test_selection_wire_forms() -> None:
    selection = Selection(("a",), ("b",), volatile=True, timeout=1.5)
    assert selection.to_wire() == {
        "rooms": ["a"],
        "except": ["b"],
        "flags": {"volatile": True, "timeout": 1500},
    }
    assert selection.to_wire(flags=False) == {"rooms": ["a"], "except": ["b"]}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty message"),
        (b"\xc1", "cannot parse"),
        (b"\xd4\x05\x00", "cannot parse"),  # an extension other than undefined
        (b"\x92\xa1u\xc0", "not [uid, packet, opts]"),
        (b"\x93\x01\x80\x80", "bad uid"),
        (b"\x93\xa1u\xc0\x80", "packet is not an object"),
        (b"\x93\xa1u\x81\xa4type\x00\x80", "not an EVENT"),
        (b"\x93\xa1u\x82\xa4type\x02\xa4data\x90\x80", "bad packet data"),
        (b"\x93\xa1u\x82\xa4type\x02\xa4data\x91\xa1e\xc0", "opts is not an object"),
        (b"\x93\xa1u\x82\xa4type\x02\xa4data\x91\xa1e\x81\xa5rooms\x91\x80", "bad rooms"),
        (b"\x93\xa1u\x82\xa4type\x02\xa4data\x91\xa1e\x81\xa5flags\x01", "bad flags"),
        (b"[" * 50, "cannot parse"),
    ],
)
def test_decode_broadcast_rejects(data: bytes, reason: str) -> None:
    result = decode_broadcast(data)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_size_limit_is_checked_before_parsing() -> None:
    result = decode_broadcast(EMITTER_BROADCAST, max_size=len(EMITTER_BROADCAST) - 1)
    assert isinstance(result, Rejected)
    assert "exceeds" in result.reason
    assert isinstance(
        decode_broadcast(EMITTER_BROADCAST, max_size=len(EMITTER_BROADCAST)), Broadcast
    )


def test_numeric_rooms_are_their_text() -> None:
    result = decode_request(b'{"type":2,"opts":{"rooms":[1,2.5],"except":[]},"rooms":[3]}')
    assert isinstance(result, NodeRequest)
    assert result.fields["selection"].rooms == ("1", "2.5")
    assert result.fields["rooms"] == ("3",)


def test_packet_from_node_checks() -> None:
    assert packet_from_node({"type": 2, "data": ["e"]}) == Packet.event(["e"])
    assert packet_from_node({"type": 2, "data": ["e"], "nsp": "x"}) == "bad packet namespace"
    assert packet_from_node({"type": 2, "data": ["e"], "id": "1"}) == "bad packet id"
    assert packet_from_node({"type": 2, "data": ["e"], "id": 4}) == Packet.event(["e"], id=4)


# -------------------------------------------------------------------- requests

SELECT_A = Selection(("a",), ("b",))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'{"uid":"n1","type":2,"opts":{"rooms":["a"],"except":["b"]},"rooms":["d"]}',
            NodeRequest(
                RequestType.REMOTE_JOIN, "n1", None, {"selection": SELECT_A, "rooms": ("d",)}
            ),
        ),
        (  # @socket.io/redis-emitter's: no uid
            b'{"type":3,"opts":{"rooms":["a"],"except":["b"]},"rooms":["d"]}',
            NodeRequest(
                RequestType.REMOTE_LEAVE, None, None, {"selection": SELECT_A, "rooms": ("d",)}
            ),
        ),
        (
            b'{"uid":"n1","type":4,"opts":{"rooms":["a"],"except":["b"]},"close":true}',
            NodeRequest(
                RequestType.REMOTE_DISCONNECT, "n1", None, {"selection": SELECT_A, "close": True}
            ),
        ),
        (  # the single-socket form (answered)
            b'{"uid":"n1","requestId":"r","type":2,"sid":"s1","room":"x"}',
            NodeRequest(RequestType.REMOTE_JOIN, "n1", "r", {"sid": "s1", "room": "x"}),
        ),
        (
            b'{"uid":"n1","requestId":"r","type":4,"sid":"s1","close":false}',
            NodeRequest(RequestType.REMOTE_DISCONNECT, "n1", "r", {"sid": "s1", "close": False}),
        ),
        (
            b'{"uid":"n1","requestId":"r","type":5,"opts":{"rooms":["a"],"except":["b"]}}',
            NodeRequest(RequestType.REMOTE_FETCH, "n1", "r", {"selection": SELECT_A}),
        ),
        (
            b'{"uid":"n1","type":6,"data":["note",1]}',
            NodeRequest(RequestType.SERVER_SIDE_EMIT, "n1", None, {"data": ["note", 1]}),
        ),
        (
            b'{"uid":"n1","requestId":"r","type":0,"rooms":["a"]}',
            NodeRequest(RequestType.SOCKETS, "n1", "r", {"rooms": ("a",)}),
        ),
        (
            b'{"uid":"n1","requestId":"r","type":1}',
            NodeRequest(RequestType.ALL_ROOMS, "n1", "r", {}),
        ),
        (
            BROADCAST_REQUEST,
            NodeRequest(
                RequestType.BROADCAST,
                "abc123",
                "req1",
                {"packet": Packet.event(["ask", 1]), "selection": Selection(("a",), timeout=3.0)},
            ),
        ),
    ],
)
def test_decode_request(data: bytes, expected: NodeRequest) -> None:
    assert decode_request(data) == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x91\x01", "not a map"),
        (b'{"type":"2"}', "unknown request type"),
        (b'{"type":true}', "unknown request type"),
        (b'{"type":11}', "unknown request type"),
        (b'{"type":8,"requestId":"r"}', "a response type"),
        (b'{"type":1}', "missing requestId"),
        (b'{"type":1,"requestId":7}', "bad requestId"),
        (b'{"type":1,"requestId":"r","uid":5}', "bad uid"),
        (b'{"type":2,"rooms":["d"]}', "missing opts or sid"),
        (b'{"type":2,"opts":{"rooms":["a"]},"rooms":"d"}', "bad rooms"),
        (b'{"type":2,"requestId":"r","sid":"s","room":null}', "bad room"),
        (b'{"type":2,"sid":"s","room":"x"}', "missing requestId"),
        (b'{"type":4,"opts":{},"close":"yes"}', "bad close"),
        (b'{"type":5,"requestId":"r","opts":[]}', "opts is not an object"),
        (b'{"type":6,"data":[]}', "bad server-side event"),
        (b'{"type":0,"requestId":"r","rooms":{}}', "bad rooms"),
        (
            b'{"type":7,"requestId":"r","packet":{"type":2,"data":["a"]},"opts":{"flags":{"timeout":-1}}}',
            "bad timeout",
        ),
        (b'{"type":7,"requestId":"r","packet":{"type":3,"data":["a"]},"opts":{}}', "not an EVENT"),
    ],
)
def test_decode_request_rejects(data: bytes, reason: str) -> None:
    result = decode_request(data)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_encode_request() -> None:
    opts = {"rooms": ["a"], "except": []}
    assert encode_request(RequestType.REMOTE_JOIN, "u1", None, opts=opts, rooms=["d"]) == (
        b'{"uid":"u1","type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["d"]}'
    )
    assert encode_request(RequestType.REMOTE_FETCH, "u1", "r1", opts=opts) == (
        b'{"uid":"u1","type":5,"requestId":"r1","opts":{"rooms":["a"],"except":[]}}'
    )
    # binary values: msgpack, which Node's adapter reads from the first byte
    data = encode_request(RequestType.SERVER_SIDE_EMIT, "u1", None, data=["e", b"\x01"])
    assert data[0] != 0x7B
    assert decode_request(data) == NodeRequest(
        RequestType.SERVER_SIDE_EMIT, "u1", None, {"data": ["e", b"\x01"]}
    )
    # a BROADCAST is always msgpack, as Node's
    packet = Packet.event(["ask", 1])
    wire = Selection(("a",), timeout=3.0).to_wire()
    data = encode_request(RequestType.BROADCAST, "abc123", "req1", packet=packet, opts=wire)
    assert decode_request(data) == decode_request(BROADCAST_REQUEST)


def test_encode_rejects_what_no_encoding_carries() -> None:
    with pytest.raises(LocalProtocolError):
        dumps({"x": object()})
    with pytest.raises(LocalProtocolError):
        dumps({"x": float("nan")})


# ------------------------------------------------------------------- responses


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'{"requestId":"r","sockets":[{"id":"s1","handshake":{},"rooms":["s1","a"],"data":{}}]}',
            NodeResponse(
                "r",
                None,
                {"sockets": [{"id": "s1", "handshake": {}, "rooms": ["s1", "a"], "data": {}}]},
            ),
        ),
        (b'{"requestId":"r","rooms":["a",1]}', NodeResponse("r", None, {"rooms": ("a", "1")})),
        (b'{"requestId":"r"}', NodeResponse("r", None, {})),
        (
            b'{"type":6,"requestId":"r","data":{"k":1}}',
            NodeResponse("r", RequestType.SERVER_SIDE_EMIT, {"data": {"k": 1}}),
        ),
        (
            b'{"type":8,"requestId":"r","clientCount":2}',
            NodeResponse("r", RequestType.BROADCAST_CLIENT_COUNT, {"clientCount": 2}),
        ),
        (BROADCAST_ACK, NodeResponse("req1", RequestType.BROADCAST_ACK, {"packet": b"\x09"})),
    ],
)
def test_decode_response(data: bytes, expected: NodeResponse) -> None:
    assert decode_response(data) == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x90", "not a map"),
        (b'{"requestId":1}', "bad requestId"),
        (b'{"requestId":"r","type":99}', "unknown response type"),
        (b'{"requestId":"r","type":5}', "a request type"),
        (b'{"requestId":"r","type":8,"clientCount":-1}', "bad clientCount"),
        (b'{"requestId":"r","sockets":[{"id":3}]}', "bad sockets"),
        (b'{"requestId":"r","sockets":[{"id":"s","rooms":[{}]}]}', "bad sockets"),
        (b'{"requestId":"r","rooms":"a"}', "bad rooms"),
    ],
)
def test_decode_response_rejects(data: bytes, reason: str) -> None:
    result = decode_response(data)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_encode_response() -> None:
    assert encode_response("r", sockets=[]) == b'{"requestId":"r","sockets":[]}'
    assert encode_response("r", RequestType.BROADCAST_CLIENT_COUNT, clientCount=2) == (
        b'{"type":8,"requestId":"r","clientCount":2}'
    )
    assert encode_response("req1", RequestType.BROADCAST_ACK, packet=b"\x09") == BROADCAST_ACK


@pytest.mark.parametrize("parser", [JsonParser(), MsgpackParser()], ids=["json", "msgpack"])
def test_packet_of_our_own_messages_has_no_client_limits(parser: Parser) -> None:
    """12 attachments: more than a client may send (10), fine in a broadcast of ours."""
    packet = Packet.event(["ev", *[bytes([i]) * 100 for i in range(12)]], namespace="/chat")
    assert packet_of(parser.encode(packet), parser) == packet


def test_packet_of_an_incomplete_packet() -> None:
    text, _ = JsonParser().encode(Packet.event(["ev", b"\x01"]))
    with pytest.raises(LocalProtocolError, match="do not make a packet"):
        packet_of([text], JsonParser())
