"""Fuzzing the Socket.IO decoders: packets with attachments (both parsers), the cluster wire.

Read through socketio_core's public API only: ``JsonParser`` / ``MsgpackParser`` decoders,
``decode_text``, ``socketio_core.pubsub.decode`` for broker messages and
``socketio_core.forwarding.decode`` for forwarded requests and relayed WebSockets.
"""

from __future__ import annotations

import json

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from socketio_core import forwarding
from socketio_core.exceptions import LocalProtocolError, RemoteProtocolError
from socketio_core.packet import Packet, PendingPacket, decode_text
from socketio_core.parsers import JsonParser, MsgpackParser
from socketio_core.pubsub import ClusterMessage, Rejected, decode

from .fuzzkit import FUZZ, allocation_bound, mutate

MAX_ATTACHMENT_BYTES = 8192
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def text_packets(draw: st.DrawFn) -> str:
    """Valid-looking text packets: every type, attachments, namespaces, ack ids; mutated."""
    kind = draw(st.sampled_from("0123456789"))
    attachments = f"{draw(st.integers(0, 12))}-" if kind in "56" or draw(st.booleans()) else ""
    namespace = draw(st.sampled_from(["", "/admin,", "/x,", "/,"]))
    ack = str(draw(st.integers(0, 10**20))) if draw(st.booleans()) else ""
    payload = draw(json_values)
    if attachments and draw(st.booleans()):
        payload = ["event", {"_placeholder": True, "num": draw(st.integers(-1, 12))}]
    text = kind + attachments + namespace + ack + json.dumps(payload)
    return mutate(text.encode(), draw).decode("utf-8", "replace")


messages = st.one_of(
    text_packets(),
    st.text(max_size=100),
    st.binary(max_size=2 * MAX_ATTACHMENT_BYTES),
)


def feed_all(decoder: object, stream: list[str | bytes]) -> None:
    for message in stream:
        try:
            decoder.feed(message)  # type: ignore[attr-defined]
        except RemoteProtocolError:
            return  # the decoder failed: the connection is closed, nothing more is fed


@FUZZ
@given(st.lists(messages, max_size=8), st.booleans())
def test_json_decoder_raises_only_protocol_errors(stream: list[str | bytes], first: bool) -> None:
    parser = JsonParser(max_attachments=4, max_attachment_bytes=MAX_ATTACHMENT_BYTES)
    decoder = parser.decoder(require_connect_first=first)
    with allocation_bound(4 * MAX_ATTACHMENT_BYTES):
        feed_all(decoder, stream)
    assert decoder.buffered_bytes <= MAX_ATTACHMENT_BYTES


@st.composite
def msgpack_packets(draw: st.DrawFn) -> bytes:
    packet = {
        "type": draw(st.integers(-1, 8)),
        "nsp": draw(st.sampled_from(["/", "/admin", 3, None])),
        "data": draw(json_values),
    }
    if draw(st.booleans()):
        packet["id"] = draw(st.integers(-5, 2**64 - 1))
    return mutate(msgpack.packb(packet), draw)


@FUZZ
@given(
    st.lists(
        st.one_of(msgpack_packets(), st.binary(max_size=500), st.text(max_size=50)), max_size=6
    )
)
def test_msgpack_decoder_raises_only_protocol_errors(stream: list[str | bytes]) -> None:
    decoder = MsgpackParser().decoder(require_connect_first=False)
    with allocation_bound(4 * 2048):
        feed_all(decoder, stream)


@FUZZ
@given(st.one_of(text_packets(), st.text(max_size=300)))
def test_decode_text_raises_only_protocol_errors(text: str) -> None:
    with allocation_bound(16 * len(text)):
        try:
            result = decode_text(text, max_attachments=4)
        except RemoteProtocolError:
            return
        except LocalProtocolError as exc:  # pragma: no cover - a bug if ever reached
            raise AssertionError(f"local error on remote input: {exc}") from exc
    assert isinstance(result, (Packet, PendingPacket))


@st.composite
def cluster_messages(draw: st.DrawFn) -> bytes:
    body = {
        "v": draw(st.sampled_from([1, 2, "1", None])),
        "kind": draw(st.sampled_from(["emit", "ack", "rooms", "sockets", "x", 3])),
        "uid": draw(st.text(max_size=10)),
        "to": draw(st.one_of(st.none(), st.text(max_size=10))),
        "target": {"nsp": "/", "rooms": None, "except": [], "skip": [], "volatile": False},
        "data": draw(json_values),
    }
    encoded = json.dumps(body).encode() if draw(st.booleans()) else msgpack.packb(body)
    return mutate(encoded, draw)


@FUZZ
@given(st.one_of(cluster_messages(), st.binary(max_size=2000), st.text(max_size=200)))
def test_cluster_decode_never_raises(data: bytes | str) -> None:
    with allocation_bound(8 * 2000):
        result = decode(data, max_size=4096)
    assert isinstance(result, (ClusterMessage, Rejected))


@st.composite
def forwarding_messages(draw: st.DrawFn) -> bytes:
    """Forwarded requests, responses, cancels and relayed WebSocket steps, then mutated."""
    message = draw(
        st.sampled_from(
            [
                forwarding.ForwardRequest(
                    "0123456789abcdef", 1, "GET", "/p", "", (("a", "b"),), None, "http", "", b""
                ),
                forwarding.ForwardResponse("0123456789abcdef", 2, 200, (), b"ok"),
                forwarding.ForwardCancel("0123456789abcdef", 3),
                forwarding.RelayMessage(
                    "0123456789abcdef", 4, "open", "0123456789abcdef.AAAAAAAAAAAAAAAAAAAA"
                ),
                forwarding.RelayMessage("0123456789abcdef", 5, "up", "", ("4x", b"\x00", "")),
            ]
        )
    )
    return mutate(forwarding.encode(message), draw)


@FUZZ
@given(st.one_of(forwarding_messages(), st.binary(max_size=2000)))
def test_forwarding_decode_never_raises(data: bytes) -> None:
    with allocation_bound(8 * 2000):
        result = forwarding.decode(data, max_size=4096)
    assert isinstance(
        result,
        (
            forwarding.ForwardRequest,
            forwarding.ForwardResponse,
            forwarding.ForwardCancel,
            forwarding.RelayMessage,
            forwarding.Rejected,
        ),
    )
