"""``WSGIApp`` / ``Middleware`` called as WSGI applications (the Flask, gunicorn and Django
runs are in test_sio_dropin_examples.py and test_sio_dropin_seed.py)."""

from __future__ import annotations

import io
import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

import socketio_core as socketio
from socketio_core.aio.handoff import switching_protocols


class Response:
    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, headers


def call(
    app: Any, path: str, method: str = "GET", query: str = "", body: bytes = b"", **extra: Any
) -> tuple[Response, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "4000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "text/plain;charset=UTF-8",
        **extra,
    }
    response = Response()
    chunks = app(environ, response)
    return response, b"".join(chunks)


def other_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the other app at " + environ["PATH_INFO"].encode()]


def test_paths_go_to_socketio_static_files_or_the_wrapped_app(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>hi</p>")
    sio = socketio.Server()
    app = socketio.WSGIApp(sio, other_app, static_files={"/": str(tmp_path / "index.html")})
    response, body = call(app, "/")
    assert (response.status, body) == ("200 OK", b"<p>hi</p>")
    response, body = call(app, "/view")
    assert body == b"the other app at /view"
    response, body = call(socketio.Middleware(sio), "/view")
    assert response.status == "404 Not Found"
    with pytest.raises(TypeError, match="ASGIApp"):
        socketio.WSGIApp(socketio.AsyncServer())  # type: ignore[arg-type]


def test_a_polling_session_through_wsgi() -> None:
    sio = socketio.Server()
    sio.on("connect", lambda sid, environ: None)
    app = socketio.WSGIApp(sio)
    response, body = call(app, "/socket.io/", query="EIO=4&transport=polling")
    assert response.status == "200 OK" and body.startswith(b"0{")
    sid = json.loads(body[1:])["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    response, body = call(app, "/socket.io/", "POST", query, b"40")
    assert (response.status, body) == ("200 OK", b"ok")
    response, body = call(app, "/socket.io/", query=query)
    assert body.startswith(b'40{"sid":"')
    response, body = call(app, "/socket.io/", "POST", query, b"x" * 2_000_000)
    assert response.status == "413 Request Entity Too Large"
    sio.shutdown()


def test_upgrade_without_a_socket_stays_on_polling_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = socketio.WSGIApp(socketio.Server())
    upgrade = {"HTTP_UPGRADE": "websocket", "HTTP_CONNECTION": "Upgrade"}
    with caplog.at_level(logging.INFO, logger="socketio_core.aio.wsgi"):
        for _ in range(3):
            response, _ = call(app, "/socket.io/", query="EIO=4&transport=websocket", **upgrade)
            assert response.status == "400 Bad Request"
    assert len([r for r in caplog.records if "no plain socket" in r.getMessage()]) == 1


def test_a_bad_handshake_is_refused_before_the_hand_off() -> None:
    sio = socketio.Server()
    app = socketio.WSGIApp(sio)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        upgrade = {
            "HTTP_UPGRADE": "websocket",
            "HTTP_CONNECTION": "Upgrade",
            "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
            "HTTP_SEC_WEBSOCKET_VERSION": "8",
            "werkzeug.socket": ours,
        }
        response, _ = call(app, "/socket.io/", query="EIO=4&transport=websocket", **upgrade)
        assert response.status.startswith("426")
        assert sio.eio.sessions == {}  # the WebSocket-only session ended with its upgrade


def test_switching_protocols_head() -> None:
    assert switching_protocols([("Upgrade", "websocket"), ("Connection", "Upgrade")]) == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )
