"""Tests for socketio_core.parsers: the JSON parser, and the msgpack parser against byte
vectors produced by npm socket.io-msgpack-parser 3.0.2 (notepack.io 2.2.0) and against
python-socketio's ``MsgPackPacket``."""

from __future__ import annotations

import math
import sys
from typing import Any

import msgpack
import pytest
from socketio import msgpack_packet as oracle

from socketio_core import native
from socketio_core.decoder import DecoderState, JsonDecoder
from socketio_core.exceptions import (
    DecodeError,
    InvalidPacket,
    LocalProtocolError,
    MissingDependency,
    RemoteProtocolError,
    UnexpectedPacket,
)
from socketio_core.packet import Namespace, Packet, PacketType
from socketio_core.parsers import JsonParser, MsgpackDecoder, MsgpackParser, Parser

T = PacketType
NS = Namespace


# --- JSON ------------------------------------------------------------------------------------


def test_json_parser_encodes_text_then_attachments() -> None:
    parser = JsonParser()
    assert isinstance(parser, Parser)
    assert parser.encode(Packet(T.EVENT, data=["a"])) == ['2["a"]']
    assert parser.encode(Packet.event(["a", b"\x01", b"\x02"])) == [
        '52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        b"\x01",
        b"\x02",
    ]


def test_json_parser_round_trip_through_its_decoder() -> None:
    parser = JsonParser()
    decoder = parser.decoder()
    packet = Packet.ack([{"deep": [b"1", {"x": b"22"}]}, "s"], id=3, namespace="/n")
    *heads, last = parser.encode(packet)
    assert all(decoder.feed(message) is None for message in heads)
    assert decoder.feed(last) == packet


def test_json_parser_passes_limits_to_its_decoders() -> None:
    decoder = JsonParser(max_attachments=2, max_attachment_bytes=5).decoder(
        require_connect_first=True
    )
    assert isinstance(decoder, JsonDecoder)
    assert (decoder.max_attachments, decoder.max_attachment_bytes) == (2, 5)
    assert decoder.state is DecoderState.AWAITING_CONNECT


# --- msgpack: fixed vectors -----------------------------------------------------------------

# (packet, hex): npm `new Encoder().encode({type, data, nsp, id})[0]`, keys in that order,
# which is also ours; checked in both directions.
VECTORS: list[tuple[Packet, str]] = [
    (Packet(T.EVENT, data=["hello", 1]), "83a47479706502a46461746192a568656c6c6f01a36e7370a12f"),
    (
        Packet(T.CONNECT, NS("/admin"), {"token": "123"}),
        "83a47479706500a46461746181a5746f6b656ea3313233a36e7370a62f61646d696e",
    ),
    (
        Packet(T.BINARY_ACK, NS("/admin"), ["bar", b"\x01\x02\x03\x04"], 456),
        "84a47479706503a46461746192a3626172c40401020304a36e7370a62f61646d696ea26964cd01c8",
    ),
    (Packet(T.DISCONNECT), "82a47479706501a36e7370a12f"),
    (
        Packet(T.CONNECT_ERROR, data={"message": "Not authorized"}),
        "83a47479706504a46461746181a76d657373616765ae4e6f7420617574686f72697a6564a36e7370a12f",
    ),
]

# (hex, packet): what Node peers send, decoded.
NODE_VECTORS: list[tuple[str, Packet]] = [
    # the socket.io server's emit with an ack: keys type, data, id, nsp
    (
        "84a47479706502a46461746192a3686579a44a756465a269640ca36e7370a12f",
        Packet(T.EVENT, data=["hey", "Jude"], id=12),
    ),
    # socket.io-client's CONNECT without auth: data is undefined (d4 00 00)
    ("83a47479706500a464617461d40000a36e7370a12f", Packet(T.CONNECT)),
    # socket.io-client's emit adds an "options" key
    (
        "84a47479706502a46461746191a178a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12f",
        Packet(T.EVENT, data=["x"]),
    ),
    # a browser's ArrayBuffer: ext 8 of type 0
    (
        "83a47479706502a46461746192a178c702000102a36e7370a12f",
        Packet(T.BINARY_EVENT, data=["x", b"\x01\x02"]),
    ),
    # float64, negative fixint, uint16, nil, true, nested map, UTF-8
    (
        "83a47479706502a46461746197a16ecb3ff8000000000000ffcd012cc0c381a161920181a162a2c3a9"
        "a36e7370a12f",
        Packet(T.EVENT, data=["n", 1.5, -1, 300, None, True, {"a": [1, {"b": "é"}]}]),
    ),
]


@pytest.fixture
def parser() -> MsgpackParser:
    return MsgpackParser()


@pytest.mark.parametrize(("packet", "hex"), VECTORS)
def test_msgpack_encodes_like_npm(parser: MsgpackParser, packet: Packet, hex: str) -> None:
    assert parser.encode(packet) == [bytes.fromhex(hex)]


@pytest.mark.parametrize(("packet", "hex"), VECTORS)
def test_msgpack_decodes_npm_vectors(parser: MsgpackParser, packet: Packet, hex: str) -> None:
    assert parser.decoder().feed(bytes.fromhex(hex)) == packet


@pytest.mark.parametrize(("hex", "packet"), NODE_VECTORS)
def test_msgpack_decodes_node_peers(parser: MsgpackParser, hex: str, packet: Packet) -> None:
    assert parser.decoder().feed(bytes.fromhex(hex)) == packet


ROUND_TRIPS = [
    Packet(T.CONNECT),
    Packet(T.CONNECT, NS("/a"), {"sid": "abc"}),
    Packet(T.DISCONNECT, NS("/a")),
    Packet(T.EVENT, data=[1, 2.5, "€", None, [True, False], {"k": {"n": -(2**40)}}], id=0),
    Packet.event(["bin", {"nested": [b"\x00" * 300, bytearray(b"x")]}]),
    Packet.ack([], id=2**53 - 1),
    Packet.ack([b"\xff"], id=1, namespace="/x"),
    Packet(T.CONNECT_ERROR, data="legacy"),
]


@pytest.mark.parametrize("packet", ROUND_TRIPS)
def test_msgpack_round_trip(parser: MsgpackParser, packet: Packet) -> None:
    (message,) = parser.encode(packet)
    assert isinstance(message, bytes)
    decoded = parser.decoder().feed(message)
    assert decoded is not None
    assert decoded.type is packet.type
    assert decoded.namespace == packet.namespace
    assert decoded.id == packet.id
    assert decoded.data == _bytes(packet.data)


def _bytes(data: Any) -> Any:
    """bytearray comes back as bytes, tuples as lists."""
    if isinstance(data, bytearray):
        return bytes(data)
    if isinstance(data, list | tuple):
        return [_bytes(item) for item in data]
    if isinstance(data, dict):
        return {key: _bytes(value) for key, value in data.items()}
    return data


@pytest.mark.parametrize("packet", ROUND_TRIPS)
def test_msgpack_against_python_socketio(parser: MsgpackParser, packet: Packet) -> None:
    (message,) = parser.encode(packet)
    theirs = oracle.MsgPackPacket(encoded_packet=message)
    plain = {T.BINARY_EVENT: T.EVENT, T.BINARY_ACK: T.ACK}.get(packet.type, packet.type)
    assert (theirs.packet_type, theirs.namespace, theirs.id) == (plain, packet.namespace, packet.id)
    assert theirs.data == _bytes(packet.data)
    # python-socketio writes "data": nil and "nsp": nil where npm writes nothing or "/".
    ours = oracle.MsgPackPacket(int(plain), packet.data, packet.namespace, packet.id).encode()
    assert parser.decoder().feed(ours) == Packet(
        packet.type, packet.namespace, _bytes(packet.data), packet.id
    )


def test_msgpack_encoding_errors(parser: MsgpackParser) -> None:
    with pytest.raises(LocalProtocolError):
        parser.encode(Packet(T.EVENT, data=["a", object()]))
    with pytest.raises(LocalProtocolError):
        parser.encode(Packet(T.EVENT, data=["a", 2**64]))


def test_msgpack_keeps_floats_as_float64(parser: MsgpackParser) -> None:
    decoded = parser.decoder().feed(parser.encode(Packet(T.EVENT, data=["f", math.pi]))[0])
    assert decoded is not None
    assert decoded.data == ["f", math.pi]


# --- msgpack: validation --------------------------------------------------------------------


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


MSGPACK_ERRORS: list[tuple[Any, type[RemoteProtocolError]]] = [
    ("2", DecodeError),  # a text message
    (b"", DecodeError),
    (b"\xc1", DecodeError),  # never used
    (pack({"type": 2, "data": ["a"], "nsp": "/"}) + b"\x00", DecodeError),  # extra data
    (pack([2, ["a"], "/"]), DecodeError),  # not a map
    (pack({1: 2}), DecodeError),
    (pack({"data": ["a"], "nsp": "/"}), DecodeError),  # no type
    (pack({"type": "2", "data": ["a"], "nsp": "/"}), DecodeError),
    (pack({"type": True, "data": ["a"], "nsp": "/"}), DecodeError),
    (pack({"type": 5, "data": ["a", b""], "nsp": "/"}), DecodeError),  # no binary types
    (pack({"type": 7, "nsp": "/"}), DecodeError),
    (pack({"type": -1, "nsp": "/"}), DecodeError),
    (pack({"type": 2, "data": ["a"]}), InvalidPacket),  # no namespace
    (pack({"type": 2, "data": ["a"], "nsp": 1}), InvalidPacket),
    (pack({"type": 2, "data": ["a"], "nsp": "admin"}), InvalidPacket),
    (pack({"type": 2, "data": [{}], "nsp": "/"}), InvalidPacket),  # 42[{}]
    (pack({"type": 2, "data": [], "nsp": "/"}), InvalidPacket),  # 2[]
    (pack({"type": 2, "data": ["connect"], "nsp": "/"}), InvalidPacket),
    (pack({"type": 2, "data": ["error"], "nsp": "/"}), InvalidPacket),
    (pack({"type": 2, "data": [b"name"], "nsp": "/"}), InvalidPacket),
    (pack({"type": 2, "data": ["a"], "nsp": "/", "id": "1"}), InvalidPacket),
    (pack({"type": 2, "data": ["a"], "nsp": "/", "id": -1}), InvalidPacket),
    (pack({"type": 2, "data": ["a"], "nsp": "/", "id": 1.5}), InvalidPacket),
    (pack({"type": 3, "data": ["a"], "nsp": "/"}), InvalidPacket),  # ACK without id
    (pack({"type": 0, "data": [], "nsp": "/"}), InvalidPacket),
    (pack({"type": 0, "data": {"k": b"\x01"}, "nsp": "/"}), InvalidPacket),
    (pack({"type": 1, "data": {}, "nsp": "/"}), InvalidPacket),
    (pack({"type": 4, "data": 1, "nsp": "/"}), InvalidPacket),
    # ext types other than notepack's 0
    (pack({"type": 2, "data": ["a", msgpack.ExtType(1, b"x")], "nsp": "/"}), DecodeError),
    (b"\x91" * 100_000 + b"\xc0", DecodeError),  # nested too deeply
]


@pytest.mark.parametrize(("message", "error"), MSGPACK_ERRORS)
def test_msgpack_rejects(
    parser: MsgpackParser, message: Any, error: type[RemoteProtocolError]
) -> None:
    decoder = parser.decoder()
    with pytest.raises(error):
        decoder.feed(message)
    assert decoder.state is DecoderState.FAILED
    with pytest.raises(LocalProtocolError):
        decoder.feed(bytes.fromhex(VECTORS[0][1]))


def test_msgpack_wrong_message_type(parser: MsgpackParser) -> None:
    with pytest.raises(LocalProtocolError):
        parser.decoder().feed(1)  # type: ignore[arg-type]


def test_msgpack_nil_data_and_id_mean_absent(parser: MsgpackParser) -> None:
    # python-socketio writes "data": nil for a CONNECT without auth.
    decoder = parser.decoder()
    assert decoder.feed(pack({"type": 0, "data": None, "nsp": "/"})) == Packet(T.CONNECT)
    assert decoder.feed(pack({"type": 2, "data": ["a"], "nsp": "/", "id": None})) == Packet(
        T.EVENT, data=["a"]
    )


def test_msgpack_connect_first(parser: MsgpackParser) -> None:
    decoder = parser.decoder(require_connect_first=True)
    assert isinstance(decoder, MsgpackDecoder)
    with pytest.raises(UnexpectedPacket):
        decoder.feed(bytes.fromhex(VECTORS[0][1]))
    decoder = parser.decoder(require_connect_first=True)
    assert decoder.feed(bytes.fromhex(VECTORS[1][1])) is not None
    assert decoder.feed(bytes.fromhex(VECTORS[0][1])) is not None


def test_msgpack_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import fail, as if msgpack were not installed.
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(MissingDependency, match=r"pip install socketio-stack\[msgpack\]"):
        MsgpackParser()


@pytest.mark.skipif(
    native.ACTIVE,
    reason="compiled walks have no recursion limit: the depth limit is msgpack's own "
    "(test_sio_native.py)",
)
def test_msgpack_deep_enough_for_msgpack_but_not_for_the_checks(parser: MsgpackParser) -> None:
    message = pack({"type": 2, "data": ["a"], "nsp": "/"})
    message = message.replace(b"\x91\xa1a", b"\x92\xa1a" + b"\x91" * 900 + b"\x90")
    with pytest.raises(DecodeError, match="nested"):
        parser.decoder().feed(message)
