"""Fuzzing the WebSocket decoders: frames, the connection's input, both handshake sides."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import build_frame, upgrade_request
from websocket.deflate import PerMessageDeflate
from websocket.exceptions import InvalidHandshake, RemoteProtocolError
from websocket.frames import parse_frame
from websocket.handshake import ClientHandshake, HandshakeFailed, Request, ServerHandshake
from websocket.headers import (
    parse_connection,
    parse_extensions,
    parse_subprotocols,
    parse_upgrade,
)
from websocket.http11 import Accepted
from websocket.protocol import Protocol, Role

from .fuzzkit import FUZZ, allocation_bound, mutate, splits

MAX_SIZE = 4096
#: A negotiated permessage-deflate holds zlib contexts (about 300 KB): per connection, not
#: per input byte, so the handshake's bound allows one.
DEFLATE_CONTEXT = 512 * 1024
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


@st.composite
def frame_streams(draw: st.DrawFn) -> bytes:
    """Valid-looking client frames (text, binary, fragments, control, huge lengths), mutated."""
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        opcode = draw(st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xA, 0xB]))
        payload = draw(st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode)))
        if opcode == 0x8 and draw(st.booleans()):
            payload = struct.pack("!H", draw(st.integers(0, 5000))) + payload[:50]
        length = draw(st.one_of(st.none(), st.integers(0, 2**63 - 1)))
        frame = build_frame(
            opcode,
            payload,
            fin=draw(st.booleans()),
            rsv=draw(st.sampled_from([0, 0, 0x40, 0x20, 0x10])),
            mask=draw(st.sampled_from([b"\x37\xfa\x21\x3d", b"\x00\x00\x00\x00", None])),
            length=length if length is None or length < 2**16 or draw(st.booleans()) else None,
        )
        parts.append(frame)
    return mutate(b"".join(parts), draw)


inputs = st.one_of(st.binary(max_size=2000), frame_streams())


@FUZZ
@given(inputs, st.booleans(), st.sampled_from([0, 0x40]))
def test_parse_frame_raises_only_protocol_errors(
    data: bytes, mask_required: bool, allowed_rsv: int
) -> None:
    pos = 0
    with allocation_bound(MAX_SIZE):
        while True:
            try:
                parsed = parse_frame(
                    data,
                    pos,
                    max_size=MAX_SIZE,
                    mask_required=mask_required,
                    allowed_rsv=allowed_rsv,
                )
            except RemoteProtocolError as exc:
                assert exc.close_code in (1002, 1009)
                return
            if parsed is None:
                return
            frame, end = parsed
            assert pos < end <= len(data)
            assert len(frame.payload) <= MAX_SIZE
            pos = end


@st.composite
def connection_input(draw: st.DrawFn) -> tuple[Role, bool, list[bytes]]:
    role = draw(st.sampled_from([Role.SERVER, Role.CLIENT]))
    return role, draw(st.booleans()), splits(draw(inputs), draw)


@FUZZ
@given(connection_input())
def test_connection_input_never_raises(case: tuple[Role, bool, list[bytes]]) -> None:
    role, deflate, chunks = case
    compressor = PerMessageDeflate(is_server=role is Role.SERVER) if deflate else None
    conn = Protocol(
        role,
        now=0.0,
        compressor=compressor,
        max_size=MAX_SIZE,
        max_fragments=16,
        ping_interval=None,
    )
    with allocation_bound(4 * MAX_SIZE):
        for i, chunk in enumerate(chunks):
            conn.receive_data(chunk, float(i))
            conn.events_received()
            conn.fail_pending(float(i))
            conn.data_to_send()
        conn.receive_eof()
    if conn.failure is not None:
        assert isinstance(conn.failure, RemoteProtocolError)
        assert conn.close_code in (1002, 1007, 1009)


@st.composite
def request_heads(draw: st.DrawFn) -> bytes:
    extra = b"".join(
        draw(
            st.sampled_from(
                [b"Transfer-Encoding: chunked\r\n", b"Content-Length: 3\r\n", b"X: y\r\n"]
            )
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    base = upgrade_request(
        extensions=draw(st.sampled_from([None, "permessage-deflate"])), extra=extra
    )
    return mutate(base + draw(st.binary(max_size=20)), draw)


@FUZZ
@given(st.one_of(st.binary(max_size=2000), request_heads()), st.data())
def test_server_handshake_never_raises(data: bytes, more: st.DataObject) -> None:
    handshake = ServerHandshake(max_header_bytes=2048, max_header_count=20)
    event: object = None
    with allocation_bound(4 * 2048 + DEFLATE_CONTEXT):
        for chunk in splits(data, more.draw):
            handshake.receive_data(chunk)
            event = handshake.next_event()
            if event is not None:
                break
        else:
            handshake.receive_eof()
            event = handshake.next_event()
        if isinstance(event, Request):
            event = handshake.accept(event)
        handshake.data_to_send()
    assert event is None or isinstance(event, (Accepted, HandshakeFailed))
    if isinstance(event, HandshakeFailed):
        assert event.error.status in (400, 403, 405, 426, 431, 501)


@st.composite
def response_heads(draw: st.DrawFn) -> bytes:
    base = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )
    other = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!"
    return mutate(draw(st.sampled_from([base, other])) + draw(st.binary(max_size=20)), draw)


@FUZZ
@given(st.one_of(st.binary(max_size=2000), response_heads()), st.data())
def test_client_handshake_never_raises(data: bytes, more: st.DataObject) -> None:
    handshake = ClientHandshake(
        host="x", key_source=lambda n: b"the sample nonce", max_header_bytes=2048, max_body=512
    )
    event: object = None
    with allocation_bound(4 * 2048 + DEFLATE_CONTEXT):
        for chunk in splits(data, more.draw):
            handshake.receive_data(chunk)
            event = handshake.next_event()
            if event is not None:
                break
        else:
            handshake.receive_eof()
            event = handshake.next_event()
    assert event is None or isinstance(event, (Accepted, HandshakeFailed))


header_values = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.sampled_from(["websocket", "Upgrade, keep-alive", 'permessage-deflate; a="b", x']),
    ),
    max_size=3,
)


@FUZZ
@given(header_values)
def test_header_parsers_raise_only_invalid_handshake(values: list[str]) -> None:
    for parse in (parse_connection, parse_upgrade, parse_subprotocols, parse_extensions):
        try:
            parse(values)
        except InvalidHandshake as exc:
            assert 400 <= exc.status < 500
