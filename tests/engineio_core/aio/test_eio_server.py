"""Tests for engineio_core.aio.server: the protocol rules of AsyncServer, over real sockets.

Every test runs the standalone server on 127.0.0.1 port 0 and speaks to it with raw HTTP (a
keep-alive connection parsed by h11 in the client role) and with our own WebSocket client,
with ``pingInterval`` 300 ms and ``pingTimeout`` 200 ms as in the spec's test-suite set-up.
Nothing sleeps: reads are bounded by timeouts and server-side effects are awaited through the
application's handlers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re

import pytest
from eio_kit import (
    OPTIONS,
    TIMEOUT,
    RawHTTP,
    expect_ws_closed,
    handshake,
    recv,
    running,
    target,
    until,
    upgrade,
    ws_connect,
)

from engineio_core.aio.server import AsyncServer
from engineio_core.exceptions import LocalProtocolError

# ----------------------------------------------------------------------------- helpers


@pytest.mark.asyncio
async def test_handshake_open_packet() -> None:
    async with running(max_http_buffer_size=12345) as (eio, front, rec):
        conn, sid, info = await handshake(front.port)
        assert set(info) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
        assert info["pingInterval"] == 300
        assert info["pingTimeout"] == 200
        assert info["maxPayload"] == 12345
        assert info["upgrades"] == ["websocket"]
        # At least 120 bits, URL-safe.
        assert re.fullmatch(r"[A-Za-z0-9_-]+", sid), sid
        assert len(base64.urlsafe_b64decode(sid + "=" * (-len(sid) % 4))) * 8 >= 120
        assert rec.connects == [sid]
        assert set(eio.sessions) == {sid}
        assert eio.transport(sid) == "polling"
        _, other, _ = await handshake(front.port)
        assert other != sid
        conn.close()


@pytest.mark.asyncio
async def test_handshake_headers_and_environ() -> None:
    async with running() as (eio, front, _):
        conn = await RawHTTP.open(front.port)
        response = await conn.request("GET", target() + "&foo=bar", headers=(("X-Test", "1"),))
        assert response.status == 200
        assert response.headers["content-type"] == "text/plain; charset=UTF-8"
        assert int(response.headers["content-length"]) == len(response.body)
        sid = json.loads(response.text[1:])["sid"]
        request = eio.get_request(sid)
        assert request.header("x-test") == "1"
        assert request.query["foo"] == "bar"
        assert request.environ["HTTP_X_TEST"] == "1"
        assert request.client is not None and request.client[0] == "127.0.0.1"
        with pytest.raises(KeyError):
            eio.get_request("nope")
        with pytest.raises(KeyError):
            eio.transport("nope")
        conn.close()


@pytest.mark.asyncio
async def test_polling_only_server_offers_no_upgrade() -> None:
    async with running(transports=["polling"]) as (_, front, _):
        conn, _, info = await handshake(front.port)
        assert info["upgrades"] == []
        conn.close()
    async with running(allow_upgrades=False) as (_, front, _):
        conn, _, info = await handshake(front.port)
        assert info["upgrades"] == []
        conn.close()
    with pytest.raises(ValueError, match="unknown transport"):
        AsyncServer(transports=["carrier-pigeon"])


@pytest.mark.asyncio
async def test_websocket_only_handshake() -> None:
    async with running() as (eio, front, rec):
        ws = await ws_connect(front.port)
        first = await recv(ws)
        assert isinstance(first, str) and first[0] == "0"
        info = json.loads(first[1:])
        assert info["upgrades"] == []
        assert info["pingInterval"] == 300
        sid = info["sid"]
        assert eio.transport(sid) == "websocket"
        await ws.send("4hi")
        assert await rec.message() == (sid, "hi")
        await ws.close()
        assert await rec.disconnect() == (sid, "transport close")
        assert eio.sessions == {}


# ---------------------------------------------------------------------------- heartbeat


@pytest.mark.asyncio
async def test_ping_then_ping_timeout_on_polling() -> None:
    async with running() as (eio, front, rec):
        loop = asyncio.get_running_loop()
        start = loop.time()
        conn, sid, _ = await handshake(front.port)
        response = await conn.request("GET", target(sid))
        pinged = loop.time()
        assert response.text == "2"
        # The server pings every pingInterval (300 ms): not before, and not much later.
        assert 0.25 <= pinged - start < 1.5
        # No pong: the session is closed pingTimeout (200 ms) later.
        assert await rec.disconnect() == (sid, "ping timeout")
        assert loop.time() - pinged >= 0.15
        assert eio.sessions == {}
        response = await conn.request("GET", target(sid))
        assert response.status == 400
        assert response.json() == {"code": 1, "message": "Session ID unknown"}
        conn.close()


@pytest.mark.asyncio
async def test_ping_timeout_on_websocket() -> None:
    async with running() as (_, front, rec):
        ws = await ws_connect(front.port)
        sid = json.loads(str(await recv(ws))[1:])["sid"]
        assert await recv(ws) == "2"
        assert await rec.disconnect() == (sid, "ping timeout")
        await expect_ws_closed(ws)


@pytest.mark.asyncio
async def test_heartbeat_keeps_polling_session_open() -> None:
    async with running() as (eio, front, rec):
        loop = asyncio.get_running_loop()
        conn, sid, _ = await handshake(front.port)
        poster = await RawHTTP.open(front.port)
        start = loop.time()
        for _ in range(4):
            assert (await conn.request("GET", target(sid))).text == "2"
            assert (await poster.request("POST", target(sid), b"3")).text == "ok"
        # Four intervals, well past pingInterval + pingTimeout: still open.
        assert loop.time() - start > 0.3 * 4
        assert sid in eio.sessions
        assert rec.disconnects.empty()
        await eio.send(sid, "still here")
        assert (await conn.request("GET", target(sid))).text == "4still here"
        conn.close()
        poster.close()


@pytest.mark.asyncio
async def test_heartbeat_keeps_websocket_session_open() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        ws = await upgrade(front.port, sid)
        for _ in range(4):
            assert await recv(ws) == "2"
            await ws.send("3")
        assert eio.transport(sid) == "websocket"
        assert rec.disconnects.empty()
        await ws.close()
        assert await rec.disconnect() == (sid, "transport close")
        conn.close()


@pytest.mark.asyncio
async def test_unsolicited_pong_and_noop_are_harmless() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        assert (await conn.request("POST", target(sid), b"3\x1e6\x1e4x")).text == "ok"
        assert await rec.message() == (sid, "x")
        assert sid in eio.sessions
        conn.close()


# ------------------------------------------------------------------------------ polling


@pytest.mark.asyncio
async def test_post_answers_ok_and_keeps_order() -> None:
    async with running() as (_, front, rec):
        conn, sid, _ = await handshake(front.port)
        response = await conn.request("POST", target(sid), b"4hello")
        assert (response.status, response.body) == (200, b"ok")
        assert response.headers["content-type"].startswith("text/plain")
        assert await rec.message() == (sid, "hello")
        body = "\x1e".join(f"4m{i}" for i in range(100)).encode()
        assert (await conn.request("POST", target(sid), body)).text == "ok"
        got = [await rec.message() for _ in range(100)]
        assert got == [(sid, f"m{i}") for i in range(100)]
        # Binary (base64, "b" prefix), UTF-8 text and an empty message.
        body = "bAAH/\x1e4héllo\x1e4".encode()
        assert (await conn.request("POST", target(sid), body)).text == "ok"
        assert [await rec.message() for _ in range(3)] == [
            (sid, b"\x00\x01\xff"),
            (sid, "héllo"),
            (sid, ""),
        ]
        conn.close()


@pytest.mark.asyncio
async def test_get_collects_queued_packets_as_one_payload() -> None:
    async with running() as (eio, front, _):
        conn, sid, _ = await handshake(front.port)
        await eio.send(sid, "one")
        await eio.send(sid, b"\x01\x02")
        await eio.send(sid, "thrée")
        response = await conn.request("GET", target(sid))
        assert response.body.decode() == "4one\x1ebAQI=\x1e4thrée"
        # A parked GET is answered by the next send.
        pending = asyncio.create_task(conn.request("GET", target(sid)))
        await until(lambda: eio.sessions[sid].responder is not None)
        await eio.send(sid, "late")
        assert (await pending).text == "4late"
        with pytest.raises(LocalProtocolError):
            await eio.send(sid, "no\x1eseparators on polling")
        conn.close()


@pytest.mark.asyncio
async def test_duplicate_concurrent_get_is_400_and_closes() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        parked = asyncio.create_task(conn.request("GET", target(sid)))
        await until(lambda: eio.sessions[sid].responder is not None)
        other = await RawHTTP.open(front.port)
        response = await other.request("GET", target(sid))
        assert response.status == 400
        assert response.json()["code"] == 3
        # The parked GET gets the close packet; the session is gone.
        assert (await parked).text == "1"
        assert await rec.disconnect() == (sid, "transport error")
        assert eio.sessions == {}
        assert (await other.request("POST", target(sid), b"4x")).status == 400
        conn.close()
        other.close()


@pytest.mark.asyncio
async def test_polling_requests_after_upgrade_are_400() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        ws = await upgrade(front.port, sid)
        await until(lambda: eio.transport(sid) == "websocket")
        response = await conn.request("GET", target(sid))
        assert response.status == 400
        assert response.json()["code"] == 3
        assert (await conn.request("POST", target(sid), b"4x")).status == 400
        # The session itself is not harmed.
        await eio.send(sid, "ws")
        assert await recv(ws) == "4ws"
        await ws.send("4back")
        assert await rec.message() == (sid, "back")
        await ws.close()
        conn.close()


@pytest.mark.asyncio
async def test_second_websocket_for_a_session_is_closed() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        ws = await upgrade(front.port, sid)
        await until(lambda: eio.transport(sid) == "websocket")
        second = await ws_connect(front.port, sid)
        await expect_ws_closed(second)
        # A second one during the probe is closed too.
        conn2, sid2, _ = await handshake(front.port)
        probe = await ws_connect(front.port, sid2)
        intruder = await ws_connect(front.port, sid2)
        await expect_ws_closed(intruder)
        await probe.send("2probe")
        assert await recv(probe) == "3probe"
        await probe.send("5")
        await until(lambda: eio.transport(sid2) == "websocket")
        # The first WebSocket still works.
        await eio.send(sid, "first")
        assert await recv(ws) == "4first"
        assert rec.disconnects.empty()
        for sock in (ws, probe):
            await sock.close()
        conn.close()
        conn2.close()


# ------------------------------------------------------------------------ invalid input


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"9", "parse error"),
        (b"4ok\x1e", "parse error"),  # an empty record
        (b"b!!!", "parse error"),  # bad base64
        (b"\xff\xfe", "parse error"),  # not UTF-8
        (b"0{}", "transport error"),  # open from the client
        (b"5", "transport error"),  # upgrade over polling
        (b"2", "transport error"),  # a ping from the client (v4 reversed the heartbeat)
    ],
)
async def test_invalid_polling_packet_closes_the_session(body: bytes, reason: str) -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        response = await conn.request("POST", target(sid), body)
        assert response.status == 400
        assert response.json()["code"] == 3
        assert await rec.disconnect() == (sid, reason)
        assert eio.sessions == {}
        conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("frame", "reason"),
    [("9", "parse error"), ("", "parse error"), ("2", "transport error"), ("0", "transport error")],
)
async def test_invalid_websocket_packet_closes_the_session(frame: str, reason: str) -> None:
    async with running() as (eio, front, rec):
        ws = await ws_connect(front.port)
        sid = json.loads(str(await recv(ws))[1:])["sid"]
        await ws.send(frame)
        assert await rec.disconnect() == (sid, reason)
        await expect_ws_closed(ws)
        assert eio.sessions == {}


@pytest.mark.asyncio
async def test_messages_before_an_invalid_packet_are_delivered() -> None:
    async with running() as (_, front, rec):
        conn, sid, _ = await handshake(front.port)
        response = await conn.request("POST", target(sid), b"4a\x1e4b\x1e2\x1e4c")
        assert response.status == 400
        assert [await rec.message() for _ in range(2)] == [(sid, "a"), (sid, "b")]
        assert await rec.disconnect() == (sid, "transport error")
        assert rec.messages.empty()
        conn.close()


@pytest.mark.asyncio
async def test_client_close_packet() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        parked = asyncio.create_task(conn.request("GET", target(sid)))
        await until(lambda: eio.sessions[sid].responder is not None)
        poster = await RawHTTP.open(front.port)
        assert (await poster.request("POST", target(sid), b"4last\x1e1")).text == "ok"
        assert await rec.message() == (sid, "last")
        assert await rec.disconnect() == (sid, "client disconnect")
        # As Node's engine.io: the parked GET gets a noop, then the session is gone.
        assert (await parked).text == "6"
        assert (await conn.request("GET", target(sid))).status == 400
        conn.close()
        poster.close()


# ------------------------------------------------------------------------------ upgrade


@pytest.mark.asyncio
async def test_upgrade_by_hand_delivers_each_message_once() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        await eio.send(sid, "before")
        assert (await conn.request("GET", target(sid))).text == "4before"
        parked = asyncio.create_task(conn.request("GET", target(sid)))
        await until(lambda: eio.sessions[sid].responder is not None)
        ws = await ws_connect(front.port, sid)
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        # "send a noop packet to any pending GET request"
        assert (await parked).text == "6"
        await eio.send(sid, "during-1")
        # A GET while upgrading gets a noop at once and takes nothing from the buffer.
        assert (await conn.request("GET", target(sid))).text == "6"
        await eio.send(sid, b"\x02during")
        # A POST still delivers while the upgrade is under way.
        assert (await conn.request("POST", target(sid), b"4posted")).text == "ok"
        assert await rec.message() == (sid, "posted")
        assert eio.transport(sid) == "polling"
        await ws.send("5")
        assert await recv(ws) == "4during-1"
        assert await recv(ws) == b"\x02during"
        assert eio.transport(sid) == "websocket"
        await eio.send(sid, "after")
        assert await recv(ws) == "4after"  # nothing was delivered twice
        await ws.send(b"\x00bin")
        await ws.send("4text")
        assert [await rec.message() for _ in range(2)] == [(sid, b"\x00bin"), (sid, "text")]
        await eio.disconnect(sid)
        assert await recv(ws) == "1"
        await expect_ws_closed(ws)
        assert await rec.disconnect() == (sid, "server disconnect")
        conn.close()


@pytest.mark.asyncio
async def test_upgrade_timeout_returns_to_polling() -> None:
    async with running(ping_interval=5, ping_timeout=5, upgrade_timeout=0.2) as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        ws = await ws_connect(front.port, sid)
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        await eio.send(sid, "held")
        # No "5" within upgrade_timeout: the server drops the WebSocket.
        await expect_ws_closed(ws)
        assert eio.transport(sid) == "polling"
        assert (await conn.request("GET", target(sid))).text == "4held"
        assert (await conn.request("POST", target(sid), b"4still")).text == "ok"
        assert await rec.message() == (sid, "still")
        assert rec.disconnects.empty()
        conn.close()


@pytest.mark.asyncio
async def test_bad_probe_abandons_the_upgrade_only() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        ws = await ws_connect(front.port, sid)
        await ws.send("4not a probe")
        await expect_ws_closed(ws)
        assert eio.transport(sid) == "polling"
        # A new upgrade can follow.
        ws = await upgrade(front.port, sid)
        await until(lambda: eio.transport(sid) == "websocket")
        assert rec.disconnects.empty()
        await ws.close()
        assert await rec.disconnect() == (sid, "transport close")
        conn.close()


@pytest.mark.asyncio
async def test_upgrade_refused_when_upgrades_are_off() -> None:
    async with running(allow_upgrades=False) as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        ws = await ws_connect(front.port, sid)
        await expect_ws_closed(ws)
        assert eio.transport(sid) == "polling"
        assert rec.disconnects.empty()
        conn.close()


# ------------------------------------------------------------------------ application API


@pytest.mark.asyncio
async def test_server_disconnect_on_polling() -> None:
    async with running() as (eio, front, rec):
        conn, sid, _ = await handshake(front.port)
        await eio.send(sid, "bye")
        await eio.disconnect(sid)
        response = await conn.request("GET", target(sid))
        assert response.text == "4bye\x1e1"
        assert await rec.disconnect() == (sid, "server disconnect")
        assert eio.sessions == {}
        # Unknown or closed sids are ignored.
        await eio.send(sid, "nobody")
        await eio.disconnect(sid)
        conn.close()


@pytest.mark.asyncio
async def test_disconnect_all_and_send_to_a_closing_session() -> None:
    async with running() as (eio, front, rec):
        conn1, sid1, _ = await handshake(front.port)
        conn2, sid2, _ = await handshake(front.port)
        await eio.disconnect()
        await eio.send(sid1, "too late")  # closing: logged and ignored
        assert (await conn1.request("GET", target(sid1))).text == "1"
        assert (await conn2.request("GET", target(sid2))).text == "1"
        got = {await rec.disconnect(), await rec.disconnect()}
        assert got == {(sid1, "server disconnect"), (sid2, "server disconnect")}
        conn1.close()
        conn2.close()


@pytest.mark.asyncio
async def test_handler_registration_rules() -> None:
    eio = AsyncServer()
    with pytest.raises(ValueError, match="unknown event"):
        eio.on("connection")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        eio.on("message", lambda sid: None)
    with pytest.raises(TypeError):
        eio.on("connect", lambda sid: None)

    seen: asyncio.Queue[str] = asyncio.Queue()

    def one_arg_disconnect(sid: str) -> None:
        seen.put_nowait(sid)

    eio.on("disconnect", one_arg_disconnect)
    async with eio.listen("127.0.0.1", 0) as front:
        conn, sid, _ = await handshake(front.port)
        await eio.disconnect(sid)
        assert (await conn.request("GET", target(sid))).text == "1"
        assert await asyncio.wait_for(seen.get(), TIMEOUT) == sid
        conn.close()


@pytest.mark.asyncio
async def test_a_failing_message_handler_does_not_stop_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    eio = AsyncServer(**OPTIONS)
    got: asyncio.Queue[str | bytes] = asyncio.Queue()

    async def on_message(sid: str, data: str | bytes) -> None:
        if data == "boom":
            raise RuntimeError("boom")
        got.put_nowait(data)

    eio.on("message", on_message)
    async with eio.listen("127.0.0.1", 0) as front:
        conn, sid, _ = await handshake(front.port)
        assert (await conn.request("POST", target(sid), b"4boom\x1e4fine")).text == "ok"
        assert await asyncio.wait_for(got.get(), TIMEOUT) == "fine"
        assert sid in eio.sessions
        assert "'message' handler failed" in caplog.text
        conn.close()
