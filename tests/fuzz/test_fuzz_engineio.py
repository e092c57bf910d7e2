"""Fuzzing the Engine.IO decoders: packets, payloads, and a server session's inputs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engineio_core.client_session import ClientSession
from engineio_core.exceptions import RemoteProtocolError
from engineio_core.handshake import SessionConfig, Sid, Transport
from engineio_core.packet import decode_packet
from engineio_core.payload import decode_payload
from engineio_core.server_session import ServerSession

from .fuzzkit import FUZZ, allocation_bound, mutate

MAX_PAYLOAD = 4096
CONFIG = SessionConfig(max_payload=MAX_PAYLOAD)
SID = Sid("AAAAAAAAAAAAAAAAAAAA")


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Valid-looking payloads (text, base64 binary, every packet type), mutated."""
    packets = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from("0123456b7"))
        data = draw(st.text(max_size=40)) if kind != "b" else "aGVsbG8="
        packets.append(kind + data)
    return mutate("\x1e".join(packets).encode("utf-8", "surrogatepass"), draw)


bodies = st.one_of(st.binary(max_size=2 * MAX_PAYLOAD), payloads())
messages = st.one_of(st.text(max_size=200), st.binary(max_size=200), payloads())


@FUZZ
@given(messages)
def test_decode_packet_raises_only_protocol_errors(data: str | bytes) -> None:
    with allocation_bound(4 * len(data)):
        try:
            decode_packet(data)
        except RemoteProtocolError as exc:
            assert exc.status == 400


@FUZZ
@given(bodies)
def test_decode_payload_raises_only_protocol_errors(body: bytes) -> None:
    with allocation_bound(4 * MAX_PAYLOAD):
        try:
            decode_payload(body, max_payload=MAX_PAYLOAD)
        except RemoteProtocolError as exc:
            assert exc.status in (400, 413)
        else:
            assert len(body) <= MAX_PAYLOAD


@FUZZ
@given(st.lists(bodies, max_size=4), st.lists(messages, max_size=4))
def test_server_session_inputs_never_raise(posts: list[bytes], ws: list[str | bytes]) -> None:
    session = ServerSession(SID, now=0.0, config=CONFIG)
    session.receive_get(0.0)
    with allocation_bound(8 * MAX_PAYLOAD):
        for i, body in enumerate(posts):
            if session.begin_post(float(i)) is None:
                response = session.receive_post(body, float(i))
                assert response.status in (200, 400, 413)
        if session.attach_websocket(10.0):
            for message in ws:
                session.receive_ws_message(message, 10.0)
        session.events_received()
    ws_session = ServerSession(SID, now=0.0, transport=Transport.WEBSOCKET, config=CONFIG)
    for message in ws:
        ws_session.receive_ws_message(message, 1.0)
    ws_session.events_received()


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([200, 400, 500]), bodies), max_size=4))
def test_client_session_polling_inputs_never_raise(gets: list[tuple[int, bytes]]) -> None:
    client = ClientSession(now=0.0, max_receive=MAX_PAYLOAD)
    with allocation_bound(8 * MAX_PAYLOAD):
        for i, (status, body) in enumerate(gets):
            if not client.next_get():
                break
            client.receive_get_response(status, body, float(i))
            client.events_received()


@FUZZ
@given(st.lists(messages, max_size=6))
def test_client_session_websocket_inputs_never_raise(ws: list[str | bytes]) -> None:
    client = ClientSession(now=0.0, transport=Transport.WEBSOCKET, max_receive=MAX_PAYLOAD)
    client.websocket_opened(0.0)
    with allocation_bound(8 * MAX_PAYLOAD):
        for message in ws:
            if client.closed:
                break
            client.receive_ws_message(message, 1.0)
            client.events_received()
            client.websocket_data_to_send()
