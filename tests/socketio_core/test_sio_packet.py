"""Tests for socketio_core.packet: literal messages both ways, every validation rule, binary
placeholders, and python-socketio's ``socketio.packet.Packet`` as an oracle."""

from __future__ import annotations

from typing import Any

import pytest
from socketio import packet as oracle

from socketio_core.exceptions import (
    AttachmentError,
    AttachmentLimitExceeded,
    DecodeError,
    InvalidPacket,
    LocalProtocolError,
    RemoteProtocolError,
)
from socketio_core.packet import (
    MAX_ACK_ID,
    MAX_NESTING,
    RESERVED_EVENTS,
    Namespace,
    Packet,
    PacketType,
    PendingPacket,
    decode_text,
    encode_packet,
    has_binary,
)

T = PacketType
NS = Namespace


def ph(num: int) -> dict[str, Any]:
    """A placeholder."""
    return {"_placeholder": True, "num": num}


# (packet, text message, attachments): checked in both directions.
CASES: list[tuple[Packet, str, list[bytes]]] = [
    # spec "Packet encoding / Examples", and the table
    (Packet(T.CONNECT), "0", []),
    (Packet(T.CONNECT, NS("/admin")), "0/admin,", []),
    (Packet(T.CONNECT, data={"token": "123"}), '0{"token":"123"}', []),
    (
        Packet(T.CONNECT, NS("/admin"), {"sid": "oSO0OpakMV_3jnilAAAA"}),
        '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}',
        [],
    ),
    (Packet(T.DISCONNECT), "1", []),
    (Packet(T.DISCONNECT, NS("/admin")), "1/admin,", []),
    (Packet(T.EVENT, data=["foo"]), '2["foo"]', []),
    (Packet(T.EVENT, data=["hello", 1]), '2["hello",1]', []),
    (Packet(T.EVENT, NS("/admin"), ["bar"]), '2/admin,["bar"]', []),
    (Packet(T.EVENT, data=["foo"], id=12), '212["foo"]', []),
    (
        Packet(T.EVENT, NS("/admin"), ["project:delete", 123], 456),
        '2/admin,456["project:delete",123]',
        [],
    ),
    (Packet(T.EVENT, data=[42, "numeric name"]), '2[42,"numeric name"]', []),
    (Packet(T.EVENT, data=["é€😀"]), '2["é€😀"]', []),
    (Packet(T.ACK, data=[], id=12), "312[]", []),
    (Packet(T.ACK, NS("/admin"), ["bar"], 13), '3/admin,13["bar"]', []),
    (Packet(T.ACK, NS("/admin"), [], 456), "3/admin,456[]", []),
    (Packet(T.ACK, data=[None], id=0), "30[null]", []),
    (
        Packet(T.CONNECT_ERROR, data={"message": "Not authorized"}),
        '4{"message":"Not authorized"}',
        [],
    ),
    (
        Packet(T.CONNECT_ERROR, NS("/admin"), {"message": "No", "data": {"retry": 5}}),
        '4/admin,{"message":"No","data":{"retry":5}}',
        [],
    ),
    (Packet(T.CONNECT_ERROR, data="legacy string"), '4"legacy string"', []),
    (
        Packet(T.BINARY_EVENT, data=["baz", b"\x01\x02\x03\x04"]),
        '51-["baz",{"_placeholder":true,"num":0}]',
        [b"\x01\x02\x03\x04"],
    ),
    (
        Packet(T.BINARY_EVENT, data=["hello", b"\x00"], id=1),
        '51-1["hello",{"_placeholder":true,"num":0}]',
        [b"\x00"],
    ),
    (
        Packet(T.BINARY_EVENT, NS("/admin"), ["baz", b"\x01\x02", b"\x03\x04"]),
        '52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        [b"\x01\x02", b"\x03\x04"],
    ),
    (
        Packet(T.BINARY_ACK, data=["bar", b"\x01\x02\x03\x04"], id=15),
        '61-15["bar",{"_placeholder":true,"num":0}]',
        [b"\x01\x02\x03\x04"],
    ),
    (
        Packet(T.BINARY_ACK, NS("/admin"), [b""], 456),
        '61-/admin,456[{"_placeholder":true,"num":0}]',
        [b""],
    ),
]


@pytest.mark.parametrize(("packet", "text", "attachments"), CASES)
def test_encode(packet: Packet, text: str, attachments: list[bytes]) -> None:
    assert encode_packet(packet) == (text, attachments)


@pytest.mark.parametrize(("packet", "text", "attachments"), CASES)
def test_decode(packet: Packet, text: str, attachments: list[bytes]) -> None:
    decoded = decode_text(text)
    if attachments:
        assert isinstance(decoded, PendingPacket)
        assert decoded.attachments == len(attachments)
        decoded = decoded.reconstruct(attachments)
    assert decoded == packet
    assert decoded.attachments == len(attachments)


# Accepted on input, written differently on output.
@pytest.mark.parametrize(
    ("text", "packet"),
    [
        ("1/admin", Packet(T.DISCONNECT, NS("/admin"))),  # no comma at the end
        ("0/", Packet(T.CONNECT)),
        ("0/,", Packet(T.CONNECT)),
        ('2/admin?x=1,["a"]', Packet(T.EVENT, NS("/admin?x=1"), ["a"])),  # kept verbatim
        ('2[1.5,"x"]', Packet(T.EVENT, data=[1.5, "x"])),
        ('20012["a"]', Packet(T.EVENT, data=["a"], id=12)),
        ('2["\\u00e9"]', Packet(T.EVENT, data=["é"])),
        ('2 ["a"]', Packet(T.EVENT, data=["a"])),  # JSON allows leading whitespace
    ],
)
def test_decode_lenient_forms(text: str, packet: Packet) -> None:
    assert decode_text(text) == packet


def test_spec_sample_session_binary_ack() -> None:
    # spec "Sample session": < 461-/admin,1[{"_placeholder":true,"num":0}] then < <binary>
    pending = decode_text('61-/admin,1[{"_placeholder":true,"num":0}]')
    assert isinstance(pending, PendingPacket)
    assert pending.reconstruct([b"\xff"]) == Packet(T.BINARY_ACK, NS("/admin"), [b"\xff"], 1)


# --- binary split and join ------------------------------------------------------------------


NESTED = [
    "up",
    {"a": b"\x01", "b": [b"\x02", {"c": b"\x03", "d": "é"}]},
    b"\x04\x05",
]
# socket.io-parser 4.2.7 `new Encoder().encode(...)` of the same packet with id 7, verbatim.
NESTED_TEXT = (
    '54-7["up",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1},'
    '{"c":{"_placeholder":true,"num":2},"d":"é"}]},{"_placeholder":true,"num":3}]'
)


def test_nested_binary_split_in_depth_first_order() -> None:
    packet = Packet.event(NESTED, id=7)
    assert packet.type is T.BINARY_EVENT
    assert packet.attachments == 4
    assert encode_packet(packet) == (NESTED_TEXT, [b"\x01", b"\x02", b"\x03", b"\x04\x05"])


def test_nested_binary_join() -> None:
    pending = decode_text(NESTED_TEXT)
    assert isinstance(pending, PendingPacket)
    assert pending.reconstruct([b"\x01", b"\x02", b"\x03", b"\x04\x05"]) == Packet(
        T.BINARY_EVENT, data=NESTED, id=7
    )


def test_bytearray_and_tuple_are_split() -> None:
    packet = Packet(T.BINARY_EVENT, data=["x", (bytearray(b"ab"), 1)])
    assert encode_packet(packet) == ('51-["x",[{"_placeholder":true,"num":0},1]]', [b"ab"])


def test_placeholder_in_a_non_binary_packet_is_plain_data() -> None:
    # socket.io-parser only reconstructs BINARY_* packets.
    assert decode_text('2["x",{"_placeholder":true,"num":0}]') == Packet(T.EVENT, data=["x", ph(0)])


def test_reconstruct_needs_every_attachment() -> None:
    pending = decode_text('52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    assert isinstance(pending, PendingPacket)
    with pytest.raises(AttachmentError):
        pending.reconstruct([b"1"])


def test_has_binary() -> None:
    assert has_binary([1, {"a": [b""]}])
    assert has_binary(bytearray())
    assert not has_binary([1, {"a": ["b"]}, None])


def test_event_and_ack_constructors() -> None:
    assert Packet.event(["a"]).type is T.EVENT
    assert Packet.event(["a", b""], namespace="/x", id=3) == Packet(
        T.BINARY_EVENT, NS("/x"), ["a", b""], 3
    )
    assert Packet.ack([], id=1).type is T.ACK
    assert Packet.ack([b"\x00"], id=1).type is T.BINARY_ACK


# --- validation: decoding (remote errors) ---------------------------------------------------


DECODE_ERRORS: list[tuple[str, type[RemoteProtocolError]]] = [
    ("", DecodeError),  # empty
    ("7", DecodeError),  # unknown type
    ("a", DecodeError),
    ("²", DecodeError),  # not an ASCII digit
    # garbage after the namespace, or instead of JSON
    ("0/admin,garbage", DecodeError),
    ("0/admin,,", DecodeError),
    ('2admin,["a"]', DecodeError),
    ('2["a"', DecodeError),
    ('2["a"]x', DecodeError),
    ("2[NaN]", DecodeError),  # JSON.parse rejects NaN and Infinity
    ('2["a",Infinity]', DecodeError),
    ('2["a",1e999]', DecodeError),
    ("2" + "[" * 100_000 + "]" * 100_000, DecodeError),  # nested too deeply
    # ack ids: ASCII digits, at most MAX_SAFE_INTEGER
    ('2\u0661["a"]', DecodeError),  # ARABIC-INDIC DIGIT ONE
    ("2" + "9" * 17 + '["a"]', DecodeError),
    ("2" + str(MAX_ACK_ID + 1) + '["a"]', InvalidPacket),
    # payload shape per type
    ("0[]", InvalidPacket),  # CONNECT takes an object
    ('0"x"', InvalidPacket),
    ("0null", InvalidPacket),
    ("1null", InvalidPacket),
    ("1{}", InvalidPacket),  # DISCONNECT takes nothing
    ("1/admin,{}", InvalidPacket),
    ("2", InvalidPacket),  # EVENT takes a non-empty array
    ("2[]", InvalidPacket),
    ("2{}", InvalidPacket),
    ('2"hello"', InvalidPacket),
    ("2/admin,", InvalidPacket),
    ("3", InvalidPacket),  # ACK takes an array
    ("312", InvalidPacket),
    ("312{}", InvalidPacket),
    ("4", InvalidPacket),  # CONNECT_ERROR takes an object with a message, or a string
    ("4[]", InvalidPacket),
    ("4{}", InvalidPacket),
    ('4{"message":1}', InvalidPacket),
    # event names: a string or a number, not reserved
    ("2[{}]", InvalidPacket),
    ('2[{"toString":"foo"}]', InvalidPacket),  # CVE-2023-32695
    ("2[null]", InvalidPacket),
    ("2[true]", InvalidPacket),
    ('2[["a"]]', InvalidPacket),
    # ack ids where they do not belong, or missing
    ("012{}", InvalidPacket),
    ("1/admin,3", InvalidPacket),
    ('47{"message":"x"}', InvalidPacket),
    ("3[]", InvalidPacket),
    ('61-[{"_placeholder":true,"num":0}]', InvalidPacket),
    # binary packets: attachment count, placeholders
    ('5["a"]', DecodeError),
    ('51["a",{"_placeholder":true,"num":0}]', DecodeError),
    ('5-["a"]', DecodeError),
    ('50-["a"]', DecodeError),
    ("51-", InvalidPacket),
    ('5+1-["a",{"_placeholder":true,"num":0}]', DecodeError),
    ('5 1-["a",{"_placeholder":true,"num":0}]', DecodeError),
    ("5" + "1" * 7 + '-["a"]', DecodeError),
    ('511-["a"]', AttachmentLimitExceeded),
    ('51-[{"_placeholder":true,"num":0}]', InvalidPacket),  # the event name is binary
    ('51-["a"]', AttachmentError),  # no placeholder
    ('51-["a",{"_placeholder":true,"num":1}]', AttachmentError),  # CVE-2022-2421
    ('51-["a",{"_placeholder":true,"num":-1}]', AttachmentError),
    ('51-["a",{"_placeholder":true,"num":"0"}]', AttachmentError),
    ('51-["a",{"_placeholder":true,"num":"__proto__"}]', AttachmentError),
    ('51-["a",{"_placeholder":true,"num":0.0}]', AttachmentError),
    ('51-["a",{"_placeholder":true,"num":true}]', AttachmentError),
    ('51-["a",{"_placeholder":true}]', AttachmentError),
    ('52-["a",{"_placeholder":true,"num":0}]', AttachmentError),  # attachment 1 unused
    ('52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]', AttachmentError),
]


@pytest.mark.parametrize(("text", "error"), DECODE_ERRORS)
def test_decode_rejects(text: str, error: type[RemoteProtocolError]) -> None:
    with pytest.raises(error):
        decode_text(text)


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_event_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidPacket, match="reserved"):
        decode_text(f'2["{name}",1]')
    with pytest.raises(InvalidPacket, match="reserved"):
        decode_text(f'51-["{name}",{{"_placeholder":true,"num":0}}]')
    with pytest.raises(LocalProtocolError, match="reserved"):
        Packet.event([name])


def test_max_attachments_is_a_parameter() -> None:
    text = '52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    with pytest.raises(AttachmentLimitExceeded):
        decode_text(text, max_attachments=1)
    assert isinstance(decode_text(text, max_attachments=2), PendingPacket)


def test_largest_ack_id() -> None:
    assert decode_text(f"3{MAX_ACK_ID}[]") == Packet(T.ACK, data=[], id=MAX_ACK_ID)


def test_deep_reconstruction_is_a_decode_error() -> None:
    nested: Any = {"_placeholder": True, "num": 0}
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(DecodeError):
        PendingPacket(T.BINARY_EVENT, NS("/"), ["a", nested], None, 1).reconstruct([b""])


# --- validation: constructing (local errors) ------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": 2, "data": ["a"]},  # not a PacketType
        {"type": T.CONNECT, "namespace": "admin"},
        {"type": T.CONNECT, "namespace": "/a,b"},
        {"type": T.CONNECT, "namespace": b"/"},
        {"type": T.CONNECT, "data": []},
        {"type": T.CONNECT, "id": 1},
        {"type": T.CONNECT, "data": {"token": b"x"}},  # binary only in EVENT and ACK
        {"type": T.DISCONNECT, "data": {}},
        {"type": T.EVENT, "data": []},
        {"type": T.EVENT, "data": ("a",)},
        {"type": T.EVENT, "data": [{}]},
        {"type": T.EVENT, "data": [True]},
        {"type": T.EVENT, "data": ["a"], "id": -1},
        {"type": T.EVENT, "data": ["a"], "id": True},
        {"type": T.EVENT, "data": ["a"], "id": "1"},
        {"type": T.EVENT, "data": ["a"], "id": MAX_ACK_ID + 1},
        {"type": T.EVENT, "data": ["a", b"x"]},  # use BINARY_EVENT
        {"type": T.ACK, "data": []},  # no ack id
        {"type": T.ACK, "data": [b"x"], "id": 1},
        {"type": T.CONNECT_ERROR},
        {"type": T.CONNECT_ERROR, "data": {"data": 1}},
        {"type": T.BINARY_EVENT, "data": ["a"]},  # socket.io-parser rejects "50-"
        {"type": T.BINARY_ACK, "data": [1], "id": 1},
    ],
)
def test_invalid_packets_are_local_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        Packet(**kwargs)


@pytest.mark.parametrize(
    "data",
    [["a", {1, 2}], ["a", float("nan")], ["a", float("inf")], ["a", "\ud800"], ["a", object()]],
)
def test_unencodable_payloads_are_local_errors(data: list[Any]) -> None:
    with pytest.raises(LocalProtocolError):
        encode_packet(Packet(T.EVENT, data=data))


def test_packets_are_frozen() -> None:
    packet = Packet(T.CONNECT)
    with pytest.raises(AttributeError):
        packet.namespace = NS("/x")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Packet(T.EVENT, data=["a"], attachments=1)  # type: ignore[call-arg]


# --- python-socketio as an oracle -----------------------------------------------------------


def _oracle_encode(packet: Packet) -> tuple[str, list[bytes]]:
    """Encode with python-socketio."""
    ns = None if packet.namespace == "/" else packet.namespace
    # python-socketio takes EVENT and ACK and promotes them itself when they carry binary.
    plain = {T.BINARY_EVENT: T.EVENT, T.BINARY_ACK: T.ACK}.get(packet.type, packet.type)
    encoded = oracle.Packet(int(plain), packet.data, ns, packet.id).encode()
    if isinstance(encoded, list):
        return encoded[0], encoded[1:]
    return encoded, []


def _oracle_decode(text: str, attachments: list[bytes]) -> Packet:
    """Decode with python-socketio, and convert to our Packet."""
    pkt = oracle.Packet(encoded_packet=text)
    assert pkt.attachment_count == len(attachments)
    for attachment in attachments:
        pkt.add_attachment(attachment)
    return Packet(T(pkt.packet_type), NS(pkt.namespace or "/"), pkt.data, pkt.id)


ORACLE_CASES = [case for case in CASES if case[1].isascii()] + [
    (Packet.event(["up", {"a": b"\x01", "b": [b"\x02", {"c": b"\x03"}]}, b"\x04"], id=7), "", []),
    (Packet.event(["deep", [[[[{"x": [b"1", {"y": b"2"}]}]]]]]), "", []),
    (Packet.ack([{"k": [b"a", b"b", b"c"]}, None, 3.25, True], id=99, namespace="/n"), "", []),
]


@pytest.mark.parametrize(("packet", "text", "attachments"), ORACLE_CASES)
def test_oracle_encodes_the_same(packet: Packet, text: str, attachments: list[bytes]) -> None:
    assert _oracle_encode(packet) == encode_packet(packet)


@pytest.mark.parametrize(("packet", "text", "attachments"), ORACLE_CASES)
def test_oracle_decodes_ours(packet: Packet, text: str, attachments: list[bytes]) -> None:
    ours_text, ours_attachments = encode_packet(packet)
    assert _oracle_decode(ours_text, ours_attachments) == packet


@pytest.mark.parametrize(("packet", "text", "attachments"), ORACLE_CASES)
def test_we_decode_the_oracles(packet: Packet, text: str, attachments: list[bytes]) -> None:
    theirs_text, theirs_attachments = _oracle_encode(packet)
    decoded = decode_text(theirs_text)
    if theirs_attachments:
        assert isinstance(decoded, PendingPacket)
        decoded = decoded.reconstruct(theirs_attachments)
    assert decoded == packet


def test_non_ascii_differs_from_the_oracle_only_in_escaping() -> None:
    # JSON.stringify, like us, writes non-ASCII as is; python-socketio escapes it.
    packet = Packet.event(["é€😀"])
    assert encode_packet(packet) == ('2["é€😀"]', [])
    theirs, _ = _oracle_encode(packet)
    assert theirs == '2["\\u00e9\\u20ac\\ud83d\\ude00"]'
    assert decode_text(theirs) == packet


def test_json_deep_enough_for_json_but_not_for_the_checks() -> None:
    # json.loads accepts this depth; the validation walk must not crash with RecursionError.
    with pytest.raises(DecodeError, match="nested"):
        decode_text('2["a",' + "[" * 900 + "]" * 900 + "]")


def test_nesting_is_bounded_at_max_nesting() -> None:
    # MAX_NESTING arrays inside the payload array are accepted; one more is refused.
    deep = '2["a",' + "[" * MAX_NESTING + "]" * MAX_NESTING + "]"
    packet = decode_text(deep)
    assert isinstance(packet, Packet) and packet.data[0] == "a"
    with pytest.raises(DecodeError, match=f"more than {MAX_NESTING} deep"):
        decode_text('2["a",' + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "]")
    objects = '2["a",' + '{"k":' * (MAX_NESTING + 1) + "1" + "}" * (MAX_NESTING + 1) + "]"
    with pytest.raises(DecodeError, match="deep"):
        decode_text(objects)
    # Many brackets side by side are not deep.
    wide = decode_text('2["a",' + ",".join(["[]"] * 1000) + "]")
    assert isinstance(wide, Packet) and len(wide.data) == 1001


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": ("a",), "id": 1}, "ACK payload must be an array"),
        ({"data": [], "id": -1}, "ack id out of range"),
        ({"data": [], "id": MAX_ACK_ID + 1}, "ack id out of range"),
        ({"data": [], "id": True}, "ack id must be an int"),
        ({"data": [], "id": 1, "namespace": "chat"}, "namespace must start with '/'"),
        ({"data": [], "id": 1, "namespace": "/a,b"}, "namespace must not contain ','"),
    ],
)
def test_ack_arguments_are_checked_once(kwargs: dict[str, Any], message: str) -> None:
    # Packet.ack takes the common case in one cheap pass; anything else gets the full rules.
    with pytest.raises(LocalProtocolError, match=message):
        Packet.ack(**kwargs)


def test_ack_fast_path_builds_the_same_packet() -> None:
    for data, namespace in [(["x", 1], "/"), ([{"k": b"\x01"}], "/n"), ([], "/")]:
        fast = Packet.ack(data, id=5, namespace=namespace)
        checked = Packet(fast.type, Namespace(namespace), data, 5)
        assert fast == checked
        assert fast.attachments == checked.attachments
