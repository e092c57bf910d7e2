"""Tests for hostile and malformed input to the Engine.IO server (engineio_core.aio.server).

Each test sends something a well-behaved client would not (bad query parameters, wrong
methods, oversized or malformed bodies, garbage HTTP, connections that vanish mid-request or
mid-upgrade, foreign origins), checks the answer, checks that every session it created is freed
(``len(eio.sessions)`` back to 0, awaited), and then checks that the server still serves a
well-behaved client. The policy options (CORS, compression, cookie, ``allow_request``, the
``connect`` handler's refusals) are covered here too.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import struct
import zlib
from typing import Any

import pytest
from eio_kit import (
    PATH,
    TIMEOUT,
    RawHTTP,
    Recorder,
    Response,
    expect_ws_closed,
    handshake,
    recv,
    running,
    target,
    until,
    ws_connect,
)

from engineio_core.aio.server import AsyncServer
from engineio_core.exceptions import ConnectionRefused
from engineio_core.request import HTTPRequest
from websocket.aio import connect
from websocket.exceptions import InvalidStatus

# Every test runs with the polling fast path on and with h11 alone (conftest.py).
pytestmark = pytest.mark.usefixtures("http_parser")

# ----------------------------------------------------------------------------- helpers


async def roundtrip(eio: AsyncServer, port: int, rec: Recorder) -> None:
    """A well-behaved client still gets served: handshake, message both ways, close."""
    conn, sid, _ = await handshake(port)
    assert (await conn.request("POST", target(sid), b"4ping?")).text == "ok"
    assert await rec.message() == (sid, "ping?")
    await eio.send(sid, "pong!")
    assert (await conn.request("GET", target(sid))).text == "4pong!"
    assert (await conn.request("POST", target(sid), b"1")).text == "ok"
    while (event := await rec.disconnect())[0] != sid:  # skip earlier sessions' events
        pass
    assert event == (sid, "client disconnect")
    conn.close()


async def no_sessions(eio: AsyncServer) -> None:
    await until(lambda: len(eio.sessions) == 0)


async def raw_exchange(port: int, data: bytes) -> bytes:
    """Write raw bytes, then read everything until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.transport.abort()


def error(response: Response) -> tuple[int, int]:
    body = response.json()
    return response.status, body["code"]


# ------------------------------------------------------------------------ query checks


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "query", "status", "code", "message"),
    [
        ("GET", "EIO=3&transport=polling", 400, 5, "Unsupported protocol version"),
        ("GET", "transport=polling", 400, 5, "Unsupported protocol version"),
        ("GET", "EIO=4&transport=carrier-pigeon", 400, 0, "Transport unknown"),
        ("GET", "EIO=4", 400, 0, "Transport unknown"),
        ("GET", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"),
        ("POST", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"),
        ("PUT", "EIO=4&transport=polling", 400, 2, "Bad handshake method"),
        ("POST", "EIO=4&transport=polling", 400, 2, "Bad handshake method"),
        ("GET", "EIO=4&transport=websocket", 400, 3, "Bad request"),  # no Upgrade header
    ],
)
async def test_bad_requests(method: str, query: str, status: int, code: int, message: str) -> None:
    async with running() as (eio, front, rec):
        conn = await RawHTTP.open(front.port)
        response = await conn.request(method, f"{PATH}?{query}", b"4x")
        assert response.status == status
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"code": code, "message": message}
        # The connection stays usable (keep-alive) and nothing was created.
        assert eio.sessions == {}
        assert rec.connects == []
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_other_methods_on_a_session() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        response = await conn.request("PUT", target(sid), b"4x")
        assert error(response) == (400, 3)
        response = await conn.request("DELETE", target(sid))
        assert error(response) == (400, 3)
        await roundtrip(eio, front.port, rec)
        conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("EIO=3&transport=websocket", 400),
        ("EIO=4&transport=carrier-pigeon", 400),
        ("EIO=4&transport=websocket&sid=nope", 400),
        ("EIO=4&transport=polling", 400),  # an upgrade request for polling
    ],
)
async def test_bad_websocket_upgrades(query: str, status: int) -> None:
    async with running() as (eio, front, rec):
        with pytest.raises(InvalidStatus) as info:
            await connect(f"ws://127.0.0.1:{front.port}{PATH}?{query}", compression=None)
        assert info.value.status == status
        assert "code" in json.loads(info.value.body)
        assert eio.sessions == {}
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_invalid_websocket_handshake_for_a_new_session_frees_it() -> None:
    async with running() as (eio, front, rec):
        # Upgrade: websocket but no Sec-WebSocket-Key: the WebSocket layer refuses (400).
        request = (
            f"GET {target(transport='websocket')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        answer = await raw_exchange(front.port, request.encode())
        assert answer.startswith(b"HTTP/1.1 400 "), answer
        await no_sessions(eio)
        # The session the connect handler saw is closed like any other.
        assert len(rec.connects) == 1
        assert await rec.disconnect() == (rec.connects[0], "transport close")
        await roundtrip(eio, front.port, rec)


# ------------------------------------------------------------------------------ bodies


@pytest.mark.asyncio
async def test_oversized_post_is_413_and_frees_the_session() -> None:
    async with running(max_http_buffer_size=1000) as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        response = await conn.request("POST", target(sid), b"4" + b"x" * 2000)
        assert response.status == 413
        assert response.headers.get("connection") == "close"
        await conn.expect_eof()
        await no_sessions(eio)
        assert (await rec.disconnect())[0] == sid
        # Exactly at the limit is fine.
        conn, sid, _ = await handshake(front.port)
        assert (await conn.request("POST", target(sid), b"4" + b"y" * 999)).text == "ok"
        assert await rec.message() == (sid, "y" * 999)
        conn.close()
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_oversized_websocket_message_closes_the_session() -> None:
    async with running(max_http_buffer_size=1000) as (eio, front, rec):
        ws = await ws_connect(front.port)
        sid = json.loads(str(await recv(ws))[1:])["sid"]
        await ws.send("4" + "x" * 2000)
        await expect_ws_closed(ws)
        assert ws.close_code == 1009
        assert await rec.disconnect() == (sid, "transport close")
        await no_sessions(eio)
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [b"4hello", b"\x00\x01\x02"])
async def test_octet_stream_post_is_refused(body: bytes) -> None:
    # A v4 polling payload is always text (binary is base64 with a "b" prefix), so a body
    # sent as application/octet-stream is not one: Node answers 400 ("invalid content") and
    # closes the session; so do we.
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        response = await conn.request(
            "POST", target(sid), body, headers=(("Content-Type", "application/octet-stream"),)
        )
        assert error(response) == (400, 3)
        assert await rec.disconnect() == (sid, "transport error")
        await no_sessions(eio)
        assert rec.messages.empty()
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [b"", b"\x1e", b"4a\x1e\x1e4b", b"x", b"b=", b"4\xc3", "4\u2028\x1eb!".encode()],
)
async def test_malformed_payloads(body: bytes) -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        response = await conn.request("POST", target(sid), body)
        assert error(response) == (400, 3)
        assert await rec.disconnect() == (sid, "parse error")
        await no_sessions(eio)
        await roundtrip(eio, front.port, rec)


# ------------------------------------------------------------------------------ raw HTTP


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40) + b"\r\n\r\n", 400),  # TLS
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"GET /engine.io/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400),
        # A head over max_header_bytes (16 KiB) that has not ended yet.
        (b"GET /engine.io/ HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000, 431),
    ],
)
async def test_garbage_http_is_400_and_closed(data: bytes, status: int) -> None:
    async with running() as (eio, front, rec):
        answer = await raw_exchange(front.port, data)
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:80]
        assert b"connection: close" in answer.lower()
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_other_paths_are_404() -> None:
    async with running() as (eio, front, rec):
        conn = await RawHTTP.open(front.port)
        assert (await conn.request("GET", "/elsewhere/?EIO=4&transport=polling")).status == 404
        assert eio.sessions == {}
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_request_timeout_for_a_stalled_request() -> None:
    eio = AsyncServer(ping_interval=0.3, ping_timeout=0.2)
    rec = Recorder(eio)
    async with eio.listen("127.0.0.1", 0, request_timeout=0.2, idle_timeout=0.3) as front:
        # Half a request head, then nothing: 408 and closed.
        answer = await raw_exchange(front.port, b"GET /engine.io/?EIO=4 HTTP/1.1\r\nHo")
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        # A keep-alive connection left idle is closed without a response.
        conn, _, _ = await handshake(front.port)
        await conn.expect_eof()
        await roundtrip(eio, front.port, rec)
        conn.close()


# ----------------------------------------------------------------- vanishing clients


def reset(conn: RawHTTP) -> None:
    """Close with a TCP RST (SO_LINGER 0)."""
    sock = conn.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.writer.transport.abort()


@pytest.mark.asyncio
async def test_tcp_reset_during_a_parked_get() -> None:
    async with running(ping_interval=10, ping_timeout=10) as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        parked = asyncio.create_task(conn.request("GET", target(sid)))
        await until(lambda: eio.sessions[sid].responder is not None)
        parked.cancel()
        reset(conn)
        # The server notices at once (not at the next ping): "transport error".
        assert await rec.disconnect() == (sid, "transport error")
        await no_sessions(eio)
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_client_vanishes_mid_upgrade() -> None:
    async with running(ping_interval=10, ping_timeout=10) as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        parked = asyncio.create_task(conn.request("GET", target(sid)))
        await until(lambda: eio.sessions[sid].responder is not None)
        ws = await ws_connect(front.port, sid)
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        assert (await parked).text == "6"
        # The WebSocket goes away before "5": the session falls back to polling...
        await ws.abort()
        await until(lambda: eio.sessions[sid].ws is None)
        assert eio.transport(sid) == "polling"
        await eio.send(sid, "kept")
        assert (await conn.request("GET", target(sid))).text == "4kept"
        # ...and when the polling side vanishes too (during a parked GET), it is freed.
        parked = asyncio.create_task(conn.request("GET", target(sid)))
        await until(lambda: eio.sessions[sid].responder is not None)
        parked.cancel()
        reset(conn)
        assert await rec.disconnect() == (sid, "transport error")
        await no_sessions(eio)
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_client_vanishes_mid_upgrade_without_polling() -> None:
    # No GET is parked: only the heartbeat can tell that the client is gone.
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        ws = await ws_connect(front.port, sid)
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        await ws.abort()
        conn.close()
        assert await rec.disconnect() == (sid, "ping timeout")
        await no_sessions(eio)
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_client_vanishes_mid_post() -> None:
    async with running(ping_interval=10, ping_timeout=10) as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        head = f"POST {target(sid)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n4abc"
        conn.writer.write(head.encode())
        reset(conn)
        # The POST never completes: the session is left as it was, and a new request works.
        other = await RawHTTP.open(front.port)
        assert (await other.request("POST", target(sid), b"4next")).text == "ok"
        assert await rec.message() == (sid, "next")
        await eio.disconnect(sid)
        assert (await other.request("GET", target(sid))).text == "1"
        await no_sessions(eio)
        await roundtrip(eio, front.port, rec)


# ------------------------------------------------------------------------------ CORS


@pytest.mark.asyncio
async def test_foreign_origin_refused_by_default() -> None:
    async with running() as (eio, front, rec):
        host = f"127.0.0.1:{front.port}"
        conn = await RawHTTP.open(front.port)
        foreign = (("Host", host), ("Origin", "http://evil.example"))
        response = await conn.request("GET", target(), headers=foreign)
        assert error(response) == (403, 4)
        assert "access-control-allow-origin" not in response.headers
        with pytest.raises(InvalidStatus) as info:
            await ws_connect(front.port, origin="http://evil.example")
        assert info.value.status == 403
        assert eio.sessions == {}
        assert rec.connects == []
        # Same origin, and no Origin at all, are accepted.
        same = (("Host", host), ("Origin", f"http://{host}"))
        response = await conn.request("GET", target(), headers=same)
        assert response.status == 200
        assert response.headers["access-control-allow-origin"] == f"http://{host}"
        ws = await ws_connect(front.port, origin=f"http://{host}")
        assert str(await recv(ws)).startswith("0{")
        await ws.close()
        response = await conn.request("GET", target())
        assert response.status == 200
        assert "access-control-allow-origin" not in response.headers
        await eio.disconnect()
        await roundtrip(eio, front.port, rec)


@pytest.mark.asyncio
async def test_cors_allowed_origins_list_and_star() -> None:
    allowed = ["http://a.example", "https://b.example"]
    async with running(cors_allowed_origins=allowed) as (eio, front, _):
        conn = await RawHTTP.open(front.port)
        ok = await conn.request("GET", target(), headers=(("Origin", "https://b.example"),))
        assert ok.status == 200
        assert ok.headers["access-control-allow-origin"] == "https://b.example"
        assert ok.headers["access-control-allow-credentials"] == "true"
        bad = await conn.request("GET", target(), headers=(("Origin", "http://c.example"),))
        assert bad.status == 403
        with pytest.raises(InvalidStatus):
            await ws_connect(front.port, origin="http://c.example")
        ws = await ws_connect(front.port, origin="http://a.example")
        assert str(await recv(ws)).startswith("0{")
        await ws.close()
        await eio.disconnect()
    async with running(cors_allowed_origins="*", cors_credentials=False) as (eio, front, _):
        conn = await RawHTTP.open(front.port)
        ok = await conn.request("GET", target(), headers=(("Origin", "http://any.example"),))
        assert ok.status == 200
        assert ok.headers["access-control-allow-origin"] == "http://any.example"
        assert "access-control-allow-credentials" not in ok.headers
    async with running(cors_allowed_origins="http://one.example") as (_, front, _):
        conn = await RawHTTP.open(front.port)
        ok = await conn.request("GET", target(), headers=(("Origin", "http://one.example"),))
        assert ok.status == 200
        bad = await conn.request("GET", target(), headers=(("Origin", "http://two.example"),))
        assert bad.status == 403


@pytest.mark.asyncio
async def test_options_preflight() -> None:
    async with running(cors_allowed_origins="*") as (eio, front, _):
        conn = await RawHTTP.open(front.port)
        headers = (
            ("Origin", "http://a.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type, x-custom"),
        )
        response = await conn.request("OPTIONS", target(), headers=headers)
        assert response.status == 204
        assert response.body == b""
        assert response.headers["access-control-allow-origin"] == "http://a.example"
        assert "POST" in response.headers["access-control-allow-methods"]
        assert response.headers["access-control-allow-headers"] == "content-type, x-custom"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert eio.sessions == {}
    async with running() as (eio, front, _):
        conn = await RawHTTP.open(front.port)
        response = await conn.request("OPTIONS", target(), headers=(("Origin", "http://x.y"),))
        assert response.status == 403


# ----------------------------------------------------------------- compression, cookie


@pytest.mark.asyncio
async def test_http_compression() -> None:
    async with running(compression_threshold=100) as (eio, front, _):
        conn, sid, _ = await handshake(front.port)
        big = "z" * 500
        await eio.send(sid, big)
        response = await conn.request("GET", target(sid), headers=(("Accept-Encoding", "gzip"),))
        assert response.headers["content-encoding"] == "gzip"
        assert int(response.headers["content-length"]) == len(response.body) < 100
        assert gzip.decompress(response.body) == b"4" + big.encode()
        await eio.send(sid, big)
        response = await conn.request("GET", target(sid), headers=(("Accept-Encoding", "deflate"),))
        assert response.headers["content-encoding"] == "deflate"
        assert zlib.decompress(response.body) == b"4" + big.encode()
        # Below the threshold, or not accepted: plain.
        await eio.send(sid, "small")
        response = await conn.request("GET", target(sid), headers=(("Accept-Encoding", "gzip"),))
        assert "content-encoding" not in response.headers
        assert response.text == "4small"
        await eio.send(sid, big)
        response = await conn.request("GET", target(sid))
        assert "content-encoding" not in response.headers
    async with running(http_compression=False, compression_threshold=1) as (eio, front, _):
        conn, sid, _ = await handshake(front.port)
        await eio.send(sid, "z" * 500)
        response = await conn.request("GET", target(sid), headers=(("Accept-Encoding", "gzip"),))
        assert "content-encoding" not in response.headers


@pytest.mark.asyncio
async def test_cookie() -> None:
    async with running(cookie="io") as (_, front, _):
        conn = await RawHTTP.open(front.port)
        response = await conn.request("GET", target())
        sid = json.loads(response.text[1:])["sid"]
        assert response.headers["set-cookie"] == f"io={sid}; Path=/; SameSite=Lax"
        # Only the handshake sets it.
        assert "set-cookie" not in (await conn.request("POST", target(sid), b"6")).headers
    cookie = {"name": "eio", "path": "/x", "httpOnly": True, "secure": False}
    async with running(cookie=cookie) as (_, front, _):
        conn = await RawHTTP.open(front.port)
        response = await conn.request("GET", target())
        sid = json.loads(response.text[1:])["sid"]
        assert response.headers["set-cookie"] == f"eio={sid}; Path=/x; httpOnly; SameSite=Lax"
    async with running() as (_, front, _):
        conn = await RawHTTP.open(front.port)
        assert "set-cookie" not in (await conn.request("GET", target())).headers


# ----------------------------------------------------------------------- refusals


@pytest.mark.asyncio
async def test_allow_request_hook() -> None:
    seen: list[HTTPRequest] = []

    async def allow(request: HTTPRequest) -> bool:
        seen.append(request)
        return request.query.get("token") == "good"

    async with running(allow_request=allow) as (eio, front, rec):
        conn = await RawHTTP.open(front.port)
        response = await conn.request("GET", target() + "&token=bad")
        assert response.status == 403
        with pytest.raises(InvalidStatus) as info:
            await ws_connect(front.port)
        assert info.value.status == 403
        assert rec.connects == [] and eio.sessions == {}
        response = await conn.request("GET", target() + "&token=good")
        assert response.status == 200
        assert seen[-1].query["token"] == "good"

    def refuse(request: HTTPRequest) -> bool:
        raise ConnectionRefused("slow down", status=429)

    async with running(allow_request=refuse) as (eio, front, rec):
        conn = await RawHTTP.open(front.port)
        response = await conn.request("GET", target())
        assert response.status == 429
        assert response.json() == {"code": 4, "message": "slow down"}
        assert rec.connects == [] and eio.sessions == {}


@pytest.mark.asyncio
async def test_connect_handler_refusals() -> None:
    eio = AsyncServer(ping_interval=0.3, ping_timeout=0.2)
    disconnects: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    verdicts: dict[str, Any] = {}

    async def on_connect(sid: str, environ: dict[str, Any]) -> Any:
        verdict = verdicts[environ["engineio.request"].query["who"]]
        if isinstance(verdict, BaseException):
            raise verdict
        return verdict

    eio.on("connect", on_connect)
    eio.on("disconnect", lambda sid, reason: disconnects.put_nowait((sid, reason)))
    verdicts.update(
        false=False,
        refused=ConnectionRefused("go away", status=403),
        default=ConnectionRefused(),
        crash=RuntimeError("handler bug"),
        ok=None,
    )
    async with eio.listen("127.0.0.1", 0) as front:
        conn = await RawHTTP.open(front.port)
        try:
            expected = {"false": 401, "refused": 403, "default": 401, "crash": 401}
            for who, status in expected.items():
                response = await conn.request("GET", target() + f"&who={who}")
                assert response.status == status, who
                assert response.json()["code"] == 4
                uri = f"ws://127.0.0.1:{front.port}{target(transport='websocket')}&who={who}"
                with pytest.raises(InvalidStatus) as info:
                    await connect(uri, compression=None)
                assert info.value.status == status, who
                assert eio.sessions == {}
            assert (await conn.request("GET", target() + "&who=refused")).json() == {
                "code": 4,
                "message": "go away",
            }
            # A refused session never gets a disconnect event: the first one is this one's.
            response = await conn.request("GET", target() + "&who=ok")
            sid = json.loads(response.text[1:])["sid"]
            await eio.disconnect(sid)
            assert (await conn.request("GET", target(sid))).text == "1"
            assert await asyncio.wait_for(disconnects.get(), TIMEOUT) == (sid, "server disconnect")
            assert disconnects.empty()
        finally:
            conn.close()
