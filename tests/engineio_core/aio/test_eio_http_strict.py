"""Strict HTTP/1.1 on the standalone front door (issue 9, items 2 to 5), over loopback.

Every malformed or hostile request head or body gets one answer (400, 413 or 431) with
``Connection: close``, then the connection closes; the server logs one INFO line and never a
traceback; the limits hold whatever the TCP read boundaries (one write of the whole head).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from eio_kit import TIMEOUT, handshake, running, target

# Every test runs with the polling fast path on and with h11 alone (conftest.py).
pytestmark = pytest.mark.usefixtures("http_parser")

CLTE_SMUGGLE = (
    b"POST /engine.io/?EIO=4&transport=polling&sid=SID HTTP/1.1\r\n"
    b"Host: x\r\nContent-Length: 70\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\n"
    b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
)
UPGRADE = (
    b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


def headers(n: int) -> bytes:
    return b"".join(b"X-H%d: v\r\n" % i for i in range(n))


async def exchange(port: int, data: bytes) -> bytes:
    """Write ``data`` in one write, then read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.transport.abort()


def check_one_error(answer: bytes, status: int, caplog: pytest.LogCaptureFixture) -> None:
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:120]
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # nothing smuggled was answered
    assert b"\r\nconnection: close\r\n" in answer.lower()
    assert "Traceback" not in caplog.text and "Unhandled" not in caplog.text
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == []
    lines = [r for r in caplog.records if r.levelno == logging.INFO and "bad HTTP" in r.message]
    assert len(lines) == 1, [r.message for r in lines]


@pytest.mark.asyncio
async def test_content_length_with_transfer_encoding_is_400_and_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with running() as (eio, front, _):
        _, sid, _ = await handshake(front.port)
        answer = await exchange(front.port, CLTE_SMUGGLE.replace(b"SID", sid.encode()))
        check_one_error(answer, 400, caplog)
        assert "Content-Length and Transfer-Encoding" in caplog.text
        assert len(eio.sessions) == 1  # the smuggled handshake GET never ran


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",  # a chunk size that is not hex
        b"3\r\nabcXY0\r\n\r\n",  # chunk data not followed by CRLF
    ],
)
async def test_malformed_chunked_body_is_400_without_traceback(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running() as (_, front, _):
        _, sid, _ = await handshake(front.port)
        head = (
            f"POST {target(sid)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        answer = await exchange(front.port, head + body)
        check_one_error(answer, 400, caplog)


@pytest.mark.asyncio
@pytest.mark.parametrize("count", [2_000, 5_000])
async def test_header_flood_in_one_write_is_431_on_polling(
    count: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running() as (eio, front, _):
        request = f"GET {target()} HTTP/1.1\r\nHost: x\r\n".encode() + headers(count) + b"\r\n"
        assert len(request) > 16384
        answer = await exchange(front.port, request)
        check_one_error(answer, 431, caplog)
        assert eio.sessions == {}


@pytest.mark.asyncio
async def test_header_flood_in_one_write_is_431_on_upgrade(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with running() as (eio, front, _):
        request = UPGRADE + b"Sec-WebSocket-Version: 13\r\n" + headers(2_000) + b"\r\n"
        answer = await exchange(front.port, request)
        check_one_error(answer, 431, caplog)
        assert eio.sessions == {}


@pytest.mark.asyncio
async def test_header_count_limit_is_an_option() -> None:
    async with running() as (_, front, _):
        front.max_header_count = 20
        ok = f"GET {target()} HTTP/1.1\r\nHost: x\r\n".encode() + headers(19)
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        writer.write(ok + b"\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 200 "), head
        writer.transport.abort()
        answer = await exchange(front.port, ok + b"X-Last: 1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]


@pytest.mark.asyncio
async def test_426_names_the_supported_version() -> None:
    async with running() as (eio, front, _):
        answer = await exchange(front.port, UPGRADE + b"Sec-WebSocket-Version: 12\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 426 "), answer[:80]
        assert b"\r\nsec-websocket-version: 13\r\n" in answer.lower()
        assert b"\r\nconnection: close\r\n" in answer.lower()
        await asyncio.wait_for(_no_sessions(eio), TIMEOUT)


async def _no_sessions(eio: object) -> None:
    while getattr(eio, "sessions"):  # noqa: B009
        await asyncio.sleep(0.005)
