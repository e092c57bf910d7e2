"""Tests for websocket.handshake: the opening handshake on h11, both sides."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, TextMessage
from wsproto.events import Request as WsRequest
from wsproto.extensions import PerMessageDeflate as WsDeflate

from websocket.deflate import DeflateOptions
from websocket.events import Message
from websocket.exceptions import (
    InvalidHandshake,
    InvalidOrigin,
    InvalidStatus,
    InvalidUpgrade,
    InvalidVersion,
    LocalProtocolError,
    NegotiationError,
    TooManyHeaders,
)
from websocket.handshake import (
    Accepted,
    ClientHandshake,
    HandshakeFailed,
    Request,
    Response,
    ServerHandshake,
    accept_key,
)
from websocket.protocol import Protocol, Role

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def nonce(n: int) -> bytes:
    """The RFC's sample nonce, so that the key is KEY."""
    assert n == 16
    return b"the sample nonce"


def build(*lines: str, method: str = "GET", version: str = "1.1") -> bytes:
    """A request head from header lines."""
    head = f"{method} /chat?room=1 HTTP/{version}\r\n" + "".join(f"{line}\r\n" for line in lines)
    return (head + "\r\n").encode("latin-1")


GOOD = [
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {KEY}",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
]


def without(*names: str, extra: Sequence[str] = ()) -> list[str]:
    """GOOD minus the named headers, plus ``extra``."""
    return [line for line in GOOD if line.split(":")[0] not in names] + list(extra)


def run_server(data: bytes, *, eof: bool = False, **kwargs: Any) -> tuple[object, bytes]:
    """Feed ``data`` to a server; accept the request if one comes; return event and output."""
    server = ServerHandshake(**kwargs)
    server.receive_data(data)
    if eof:
        server.receive_eof()
    event: object = server.next_event()
    if isinstance(event, Request):
        event = server.accept(event)
    assert server.done
    return event, server.data_to_send()


# ------------------------------------------------------------------ accept key


def test_accept_key_rfc_example() -> None:
    assert accept_key(KEY) == ACCEPT


# --------------------------------------------------------------------- server


def test_server_accepts_rfc_example() -> None:
    server = ServerHandshake(subprotocols=["chat"], deflate=None, server_header=None)
    server.receive_data(build(*GOOD) + b"\x81\x85")
    request = server.next_event()
    assert isinstance(request, Request)
    assert server.next_event() is None  # reported once
    assert (request.method, request.path, request.query) == ("GET", "/chat", "room=1")
    assert request.header("ORIGIN") == "http://example.com"
    assert request.is_websocket_upgrade
    accepted = server.accept(request)
    assert isinstance(accepted, Accepted)
    assert accepted.subprotocol == "chat"
    assert accepted.compressor is None
    assert server.data_to_send() == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"\r\n"
    )
    assert accepted.response.status == 101
    assert accepted.response.header("sec-websocket-accept") == ACCEPT
    assert server.done
    assert server.next_event() is None
    # Frames that came with the request, or after it, are the connection's.
    server.receive_data(b"hello")
    assert server.trailing_data == b"\x81\x85hello"


def test_server_byte_by_byte_and_extra_headers() -> None:
    server = ServerHandshake(deflate=None)
    for byte in build(*GOOD):
        assert server.trailing_data == b""
        assert server.next_event() is None
        server.receive_data(bytes([byte]))
    request = server.next_event()
    assert isinstance(request, Request)
    accepted = server.accept(request, extra_headers=[("Set-Cookie", "a=b")])
    assert isinstance(accepted, Accepted)
    assert accepted.subprotocol is None  # the server supports none of the client's
    out = server.data_to_send()
    assert out.endswith(b"Server: socketio-stack\r\nSet-Cookie: a=b\r\n\r\n")
    assert accepted.response.header_values("set-cookie") == ["a=b"]


def test_server_deflate_negotiation() -> None:
    lines = [*GOOD, "Sec-WebSocket-Extensions: x-foo, permessage-deflate; client_max_window_bits"]
    event, out = run_server(build(*lines))
    assert isinstance(event, Accepted)
    assert event.compressor is not None and event.compressor.is_server
    assert b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" in out
    # deflate=None ignores the header, however odd.
    event, out = run_server(build(*GOOD, "Sec-WebSocket-Extensions: ;;"), deflate=None)
    assert isinstance(event, Accepted) and event.compressor is None
    assert b"Extensions" not in out
    # No acceptable offer: no header.
    event, out = run_server(build(*GOOD, "Sec-WebSocket-Extensions: permessage-deflate; x=1"))
    assert isinstance(event, Accepted) and event.compressor is None
    assert b"Extensions" not in out


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"subprotocols": ["superchat", "chat"]}, "superchat"),  # server preference first
        ({"subprotocols": ["mqtt"]}, None),
        ({"select_subprotocol": lambda request, offered: offered[-1]}, "superchat"),
        ({"select_subprotocol": lambda request, offered: None, "subprotocols": ["chat"]}, None),
    ],
)
def test_server_subprotocol_selection(kwargs: dict[str, Any], expected: str | None) -> None:
    event, out = run_server(build(*GOOD), **kwargs)
    assert isinstance(event, Accepted)
    assert event.subprotocol == expected
    assert (b"Sec-WebSocket-Protocol" in out) is (expected is not None)


def test_server_select_subprotocol_must_pick_an_offer() -> None:
    server = ServerHandshake(select_subprotocol=lambda request, offered: "mqtt")
    server.receive_data(build(*GOOD))
    request = server.next_event()
    assert isinstance(request, Request)
    with pytest.raises(LocalProtocolError):
        server.accept(request)


def test_server_origin_allowed() -> None:
    seen: list[str | None] = []

    def check(origin: str | None) -> bool:
        seen.append(origin)
        return True

    event, _ = run_server(build(*GOOD), check_origin=check)
    assert isinstance(event, Accepted)
    event, _ = run_server(build(*without("Origin")), check_origin=check)
    assert isinstance(event, Accepted)
    assert seen == ["http://example.com", None]


REFUSALS = [
    # (request, expected error class, status, server kwargs)
    (
        build(*without("Sec-WebSocket-Version", extra=["Sec-WebSocket-Version: 8"])),
        InvalidVersion,
        426,
        {},
    ),
    (build(*GOOD, "Sec-WebSocket-Version: 13"), InvalidVersion, 426, {}),
    (build(*without("Sec-WebSocket-Version")), InvalidUpgrade, 400, {}),
    (build(*without("Sec-WebSocket-Key")), InvalidUpgrade, 400, {}),
    (build(*GOOD, f"Sec-WebSocket-Key: {KEY}"), InvalidUpgrade, 400, {}),
    (
        build(*without("Sec-WebSocket-Key", extra=["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j"])),
        InvalidUpgrade,
        400,
        {},
    ),
    (
        build(*without("Sec-WebSocket-Key", extra=["Sec-WebSocket-Key: not*base64"])),
        InvalidUpgrade,
        400,
        {},
    ),
    (build(*without("Upgrade")), InvalidUpgrade, 400, {}),
    (build(*without("Upgrade", extra=["Upgrade: h2c"])), InvalidUpgrade, 400, {}),
    (build(*without("Upgrade", extra=["Upgrade: web socket"])), InvalidUpgrade, 400, {}),
    (build(*without("Connection", extra=["Connection: keep-alive"])), InvalidUpgrade, 400, {}),
    (build(*without("Connection")), InvalidUpgrade, 400, {}),
    (build(*GOOD, method="POST"), InvalidHandshake, 405, {}),
    (build(*GOOD, version="1.0"), InvalidHandshake, 400, {}),
    (
        build(*GOOD),
        InvalidOrigin,
        403,
        {"check_origin": lambda origin: origin == "https://ours.example"},
    ),
    (
        build(*without("Origin")),
        InvalidOrigin,
        403,
        {"check_origin": lambda origin: origin is not None},
    ),
    (build(*GOOD, "Origin: http://b"), InvalidOrigin, 403, {"check_origin": lambda origin: True}),
    (
        build(*without("Sec-WebSocket-Protocol", extra=["Sec-WebSocket-Protocol: a b"])),
        NegotiationError,
        400,
        {},
    ),
    (build(*GOOD, "Sec-WebSocket-Extensions: permessage-deflate;"), NegotiationError, 400, {}),
    (build(*GOOD, "Content-Length: 3") + b"abc", InvalidHandshake, 400, {}),
    (build(*GOOD, "Transfer-Encoding: chunked") + b"zz\r\n", InvalidHandshake, 400, {}),
    (build(*GOOD, *[f"X-{i}: {i}" for i in range(94)]), TooManyHeaders, 431, {}),
    (build(*GOOD), TooManyHeaders, 431, {"max_header_count": 6}),
    # Complete head over the limit (our check) and incomplete one (h11's check).
    (build(*GOOD, "X-Big: " + "x" * 300), TooManyHeaders, 431, {"max_header_bytes": 256}),
    (build(*GOOD)[:-2] + b"X-Big: " + b"x" * 300, TooManyHeaders, 431, {"max_header_bytes": 256}),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", InvalidHandshake, 400, {}),
    (b"GET / HTTP/1.1\r\n\r\n", InvalidHandshake, 400, {}),  # no Host
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", InvalidHandshake, 400, {}),
]


@pytest.mark.parametrize(("data", "error", "status", "kwargs"), REFUSALS)
def test_server_refusals(
    data: bytes, error: type[InvalidHandshake], status: int, kwargs: dict[str, Any]
) -> None:
    event, out = run_server(data, **kwargs)
    assert isinstance(event, HandshakeFailed)
    assert type(event.error) is error
    assert event.error.status == status
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status)
    assert b"\r\nConnection: close\r\n" in head + b"\r\n"
    assert b"\r\nContent-Length: %d\r\n" % len(body) in head + b"\r\n"
    assert body.startswith(b"Failed to open a WebSocket connection: ")
    assert (b"\r\nSec-WebSocket-Version: 13" in head) is (status == 426)
    assert (b"\r\nAllow: GET" in head) is (status == 405)


def test_server_426_literal() -> None:
    data = build(*without("Sec-WebSocket-Version", extra=["Sec-WebSocket-Version: 8"]))
    _, out = run_server(data, server_header=None)
    body = b"Failed to open a WebSocket connection: unsupported Sec-WebSocket-Version 8.\n"
    assert (
        out
        == (
            b"HTTP/1.1 426 Upgrade Required\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"Content-Length: %d\r\n"
            b"Connection: close\r\n"
            b"\r\n" % len(body)
        )
        + body
    )


def test_server_eof_mid_head() -> None:
    event, out = run_server(build(*GOOD)[:40], eof=True)
    assert isinstance(event, HandshakeFailed)
    assert event.error.status == 400
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_server_clean_eof(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="websocket.handshake")
    event, out = run_server(b"", eof=True)
    assert isinstance(event, HandshakeFailed)
    assert out == b""  # nobody to answer
    assert "! connection closed before a request" in caplog.text


def test_server_misuse() -> None:
    server = ServerHandshake()
    with pytest.raises(LocalProtocolError):
        server.reject(404)  # no request yet
    server.receive_data(build(*GOOD))
    request = server.next_event()
    assert isinstance(request, Request)
    other = Request("GET", "/", request.headers)
    with pytest.raises(LocalProtocolError):
        server.accept(other)
    for status in (101, 199, 600):
        with pytest.raises(LocalProtocolError):
            server.reject(status)
    with pytest.raises(LocalProtocolError):
        server.reject(500, [("Transfer-Encoding", "chunked")])
    with pytest.raises(LocalProtocolError):
        server.reject(500, [("Content-Length", "3")], b"ab")
    with pytest.raises(LocalProtocolError):
        server.accept(request, extra_headers=[("X-Bad", "a\nb")])
    server.receive_eof()
    server.receive_eof()
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"x")


def test_server_bad_extra_header_before_switch() -> None:
    server = ServerHandshake()
    server.receive_data(build(*GOOD))
    request = server.next_event()
    assert isinstance(request, Request)
    assert isinstance(server.accept(request), Accepted)
    with pytest.raises(LocalProtocolError):
        server.accept(request)


def test_server_reject_plain_http() -> None:
    server = ServerHandshake()
    server.receive_data(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    request = server.next_event()
    assert isinstance(request, Request)
    assert not request.is_websocket_upgrade
    server.reject(200, [("Content-Type", "text/plain")], b"OK\n")
    assert server.done
    assert server.data_to_send() == (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Length: 3\r\n"
        b"Connection: close\r\n"
        b"Server: socketio-stack\r\n"
        b"\r\nOK\n"
    )
    server = ServerHandshake(server_header=None)
    server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: (bad)\r\n\r\n")
    request = server.next_event()
    assert isinstance(request, Request)
    assert not request.is_websocket_upgrade
    server.reject(799 - 200, [("Content-Length", "0"), ("Connection", "keep-alive")])
    assert server.data_to_send() == (
        b"HTTP/1.1 599 \r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
    )


def test_request_and_response_helpers() -> None:
    request = Request("GET", "/a/b", (("x", "1"), ("x", "2"), ("y", "3")))
    assert (request.path, request.query, request.http_version) == ("/a/b", "", "1.1")
    assert request.header("X") == "1, 2"
    assert request.header_values("x") == ["1", "2"]
    assert request.header("z") is None
    assert request.header_values("z") == []
    response = Response(403, (("content-type", "text/plain"),), b"no")
    assert response.header("Content-Type") == "text/plain"
    assert response.header("x") is None
    assert response.header_values("content-type") == ["text/plain"]


# --------------------------------------------------------------------- client

CLIENT_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"\r\n"
)


def make_client(**kwargs: object) -> ClientHandshake:
    params: dict[str, object] = {
        "host": "server.example.com",
        "resource": "/chat",
        "origin": "http://example.com",
        "subprotocols": ["chat", "superchat"],
        "deflate": None,
        "key_source": nonce,
    }
    params.update(kwargs)
    return ClientHandshake(**params)  # type: ignore[arg-type]


def response(*lines: str, status: str = "101 Switching Protocols") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{x}\r\n" for x in lines) + "\r\n").encode()


OK_101 = [
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Accept: {ACCEPT}",
]


def test_client_request_literal() -> None:
    client = make_client()
    assert client.data_to_send() == CLIENT_REQUEST
    assert client.data_to_send() == b""
    assert client.request.header("sec-websocket-key") == KEY
    assert client.key == KEY


def test_client_request_with_deflate_and_extra_headers() -> None:
    client = make_client(
        origin=None,
        subprotocols=(),
        deflate=DeflateOptions(),
        extra_headers=[("Authorization", "Bearer x")],
    )
    assert client.data_to_send() == (
        b"GET /chat HTTP/1.1\r\n"
        b"Host: server.example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        b"Authorization: Bearer x\r\n"
        b"\r\n"
    )


def test_client_accepts_literal_101() -> None:
    client = make_client()
    assert client.next_event() is None
    assert client.trailing_data == b""
    data = (
        response(status="100 Continue")
        + response(*OK_101, "Sec-WebSocket-Protocol: superchat")
        + b"\x81\x02hi"
    )
    for byte in data:
        client.receive_data(bytes([byte]))
    event = client.next_event()
    assert isinstance(event, Accepted)
    assert event.subprotocol == "superchat"
    assert event.compressor is None
    assert event.response.status == 101
    assert event.response.header("sec-websocket-accept") == ACCEPT
    assert event.request is client.request
    assert client.done
    assert client.trailing_data == b"\x81\x02hi"
    assert client.next_event() is None


def test_client_accepts_deflate() -> None:
    client = make_client(deflate=DeflateOptions())
    client.receive_data(
        response(*OK_101, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10")
    )
    event = client.next_event()
    assert isinstance(event, Accepted)
    assert event.compressor is not None
    assert event.compressor.client_max_window_bits == 10


CLIENT_FAILURES = [
    # (response bytes, error class, client kwargs)
    (response(*OK_101[:2]), InvalidUpgrade, {}),
    (
        response(*OK_101[:2], "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        InvalidUpgrade,
        {},
    ),
    (response(*OK_101, f"Sec-WebSocket-Accept: {ACCEPT}"), InvalidUpgrade, {}),
    (response(*OK_101[1:]), InvalidUpgrade, {}),
    (response("Upgrade: websocket, h2c", *OK_101[1:]), InvalidUpgrade, {}),
    (response("Upgrade: websocket", *OK_101[2:]), InvalidUpgrade, {}),
    (response("Upgrade: websocket", "Connection: keep-alive", *OK_101[2:]), InvalidUpgrade, {}),
    (response(*OK_101, "Sec-WebSocket-Protocol: mqtt"), NegotiationError, {}),
    (response(*OK_101, "Sec-WebSocket-Protocol: chat"), NegotiationError, {"subprotocols": ()}),
    (response(*OK_101, "Sec-WebSocket-Protocol: chat, superchat"), NegotiationError, {}),
    (response(*OK_101, "Sec-WebSocket-Protocol: a b"), NegotiationError, {}),
    (response(*OK_101, "Sec-WebSocket-Extensions: permessage-deflate"), NegotiationError, {}),
    (
        response(*OK_101, "Sec-WebSocket-Extensions: permessage-deflate; foo"),
        NegotiationError,
        {"deflate": DeflateOptions()},
    ),
    (
        response(
            *OK_101, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12"
        ),
        NegotiationError,
        {"deflate": DeflateOptions(client_max_window_bits=10)},
    ),
    (
        response(*OK_101, "Sec-WebSocket-Extensions: x-webkit-deflate-frame"),
        NegotiationError,
        {"deflate": DeflateOptions()},
    ),
    (response(*OK_101, *[f"X-{i}: {i}" for i in range(98)]), TooManyHeaders, {}),
    (response(*OK_101, "X-Big: " + "x" * 300), TooManyHeaders, {"max_header_bytes": 256}),
    (response(*OK_101)[:-2] + b"X-Big: " + b"x" * 300, TooManyHeaders, {"max_header_bytes": 256}),
    (
        response("Content-Length: 0", status="403 Forbidden"),
        TooManyHeaders,
        {"max_header_count": 0},
    ),
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", InvalidHandshake, {}),
]


@pytest.mark.parametrize(("data", "error", "kwargs"), CLIENT_FAILURES)
def test_client_failures(
    data: bytes, error: type[InvalidHandshake], kwargs: dict[str, object]
) -> None:
    client = make_client(**kwargs)
    client.receive_data(data)
    event = client.next_event()
    assert isinstance(event, HandshakeFailed)
    assert type(event.error) is error
    assert client.done
    assert client.next_event() is None


@pytest.mark.parametrize(
    ("data", "eof", "status", "body", "kwargs"),
    [
        (
            response("Content-Length: 9", status="403 Forbidden") + b"forbidden",
            False,
            403,
            b"forbidden",
            {},
        ),
        (response(status="404 Not Found") + b"until eof", True, 404, b"until eof", {}),
        (
            response("Transfer-Encoding: chunked", status="500 Oops") + b"3\r\nabc\r\n0\r\n\r\n",
            False,
            500,
            b"abc",
            {},
        ),
        (response("Content-Length: 9", status="403 Forbidden") + b"forb", True, 403, b"forb", {}),
        (
            response("Content-Length: 9", status="403 Forbidden") + b"forbidden",
            False,
            403,
            b"forb",
            {"max_body": 4},
        ),
        (response("Content-Length: 0", status="200 OK"), False, 200, b"", {}),
    ],
)
def test_client_refused(
    data: bytes, eof: bool, status: int, body: bytes, kwargs: dict[str, object]
) -> None:
    client = make_client(**kwargs)
    client.receive_data(data)
    if eof:
        assert client.next_event() is None
        client.receive_eof()
    event = client.next_event()
    assert isinstance(event, HandshakeFailed)
    assert isinstance(event.error, InvalidStatus)
    assert event.error.status == status
    assert event.error.body == body
    assert isinstance(event.error.headers, list)


def test_client_eof() -> None:
    client = make_client()
    client.receive_eof()
    event = client.next_event()
    assert isinstance(event, HandshakeFailed)
    assert "closed" in str(event.error)
    client = make_client()
    client.receive_data(b"HTTP/1.1 101 Switch")
    client.receive_eof()
    event = client.next_event()
    assert isinstance(event, HandshakeFailed)
    with pytest.raises(LocalProtocolError):
        client.receive_data(b"more")


# ---------------------------------------------------------------- back to back


def handshake_pair(
    client: ClientHandshake, server: ServerHandshake
) -> tuple[Accepted | HandshakeFailed | None, Accepted | HandshakeFailed | None]:
    server.receive_data(client.data_to_send())
    request = server.next_event()
    assert isinstance(request, Request)
    server_event = server.accept(request)
    client.receive_data(server.data_to_send())
    return client.next_event(), server_event


@pytest.mark.parametrize("debug", [False, True])
def test_back_to_back(caplog: pytest.LogCaptureFixture, debug: bool) -> None:
    if debug:
        caplog.set_level(logging.DEBUG, logger="websocket.handshake")
    client = make_client(deflate=DeflateOptions(client_max_window_bits=12))
    server = ServerHandshake(
        subprotocols=["superchat"], deflate=DeflateOptions(server_no_context_takeover=True)
    )
    client_event, server_event = handshake_pair(client, server)
    assert isinstance(client_event, Accepted) and isinstance(server_event, Accepted)
    assert client_event.subprotocol == server_event.subprotocol == "superchat"
    assert client_event.compressor is not None and server_event.compressor is not None
    assert client_event.compressor.server_no_context_takeover
    assert server_event.compressor.client_max_window_bits == 12
    message = b"back to back " * 10
    wire = client_event.compressor.encode(message, fin=True)
    assert server_event.compressor.decode(wire, fin=True, max_size=2**20) == message
    assert (("< HTTP/1.1 101" in caplog.text) and ("> GET /chat" in caplog.text)) is debug


def test_back_to_back_refused(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="websocket.handshake")
    client = make_client()
    server = ServerHandshake(check_origin=lambda origin: False)
    client_event, server_event = handshake_pair(client, server)
    assert isinstance(server_event, HandshakeFailed)
    assert isinstance(client_event, HandshakeFailed)
    assert isinstance(client_event.error, InvalidStatus)
    assert client_event.error.status == 403
    assert (
        client_event.error.body
        == b"Failed to open a WebSocket connection: origin 'http://example.com' is not allowed.\n"
    )
    assert "refused WebSocket handshake (403)" in caplog.text


# -------------------------------------------------------------------- oracles


def test_our_client_against_wsproto_server() -> None:
    client = make_client(deflate=DeflateOptions())
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(client.data_to_send())
    (request,) = list(ws.events())
    assert isinstance(request, WsRequest)
    assert (request.host, request.target) == ("server.example.com", "/chat")
    assert request.subprotocols == ["chat", "superchat"]
    assert request.extensions == ["permessage-deflate; client_max_window_bits"]
    client.receive_data(
        ws.send(AcceptConnection(subprotocol="chat", extensions=[WsDeflate()]))
        + ws.send(TextMessage("x" * 100))
    )
    event = client.next_event()
    assert isinstance(event, Accepted)
    assert event.subprotocol == "chat"
    assert event.compressor is not None
    # The first compressed frame from wsproto goes through our connection and compressor.
    conn = Protocol(Role.CLIENT, now=0.0, compressor=event.compressor)
    conn.receive_data(client.trailing_data, 0.0)
    assert conn.events_received() == [Message("x" * 100)]
    conn.send_message("y" * 100)
    ws.receive_data(b"".join(conn.data_to_send()))
    (received,) = list(ws.events())
    assert isinstance(received, TextMessage)
    assert received.data == "y" * 100


@pytest.mark.parametrize(
    "deflate", [WsDeflate(), WsDeflate(client_max_window_bits=10, server_no_context_takeover=True)]
)
def test_our_server_against_wsproto_client(deflate: WsDeflate) -> None:
    ws = WSConnection(ConnectionType.CLIENT)
    server = ServerHandshake(subprotocols=["chat"])
    request_bytes = ws.send(
        WsRequest(
            host="example.com", target="/chat?x=1", subprotocols=["chat"], extensions=[deflate]
        )
    )
    server.receive_data(request_bytes + b"")
    request = server.next_event()
    assert isinstance(request, Request)
    assert request.target == "/chat?x=1"
    accepted = server.accept(request)
    assert isinstance(accepted, Accepted)
    assert accepted.compressor is not None
    ws.receive_data(server.data_to_send())
    (event,) = list(ws.events())
    assert isinstance(event, AcceptConnection)
    assert event.subprotocol == "chat"
    assert [ext.name for ext in event.extensions] == ["permessage-deflate"]
    conn = Protocol(Role.SERVER, now=0.0, compressor=accepted.compressor)
    for text in ("hello " * 50, "hello " * 50):
        conn.receive_data(ws.send(TextMessage(text)), 0.0)
        assert conn.events_received() == [Message(text)]
        conn.send_message(text)
        ws.receive_data(b"".join(conn.data_to_send()))
        assert [(type(e), e.data) for e in ws.events() if isinstance(e, TextMessage)] == [
            (TextMessage, text)
        ]
