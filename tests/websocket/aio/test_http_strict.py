"""Strict HTTP/1.1 on the WebSocket server's opening handshake (issue 9), over loopback.

``serve()`` and ``python -m websocket serve`` answer every malformed or hostile request head
with one 400/426/431 response and ``Connection: close``, in one INFO line without traceback,
and enforce the header limits whatever the TCP read boundaries.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
from typing import Any

import pytest

from tests.conftest import upgrade_request

TIMEOUT = 10.0


def flood(n: int) -> bytes:
    return b"".join(b"X-H%d: v\r\n" % i for i in range(n))


def check_one_error(answer: bytes, status: int) -> None:
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:120]
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert b"\r\nconnection: close\r\n" in answer.lower()


def check_logs(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text and "Unhandled" not in caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    refusals = [r for r in caplog.records if r.levelno == logging.INFO and "refused" in r.message]
    assert len(refusals) == 1, [r.message for r in refusals]


CLTE = (
    upgrade_request(extra=b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")
    + b"0\r\n\r\n"
    + b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (CLTE, 400),
        (upgrade_request(extra=b"Transfer-Encoding: chunked\r\n") + b"zz\r\n\r\n", 400),
        (upgrade_request(extra=flood(2_000)), 431),  # 24 KB in one write
        (upgrade_request(extra=flood(150)), 431),  # under 16 KiB, over 100 headers
        (upgrade_request().replace(b"Version: 13", b"Version: 12"), 426),
        # A non-ASCII key made base64 raise ValueError out of the handshake (found by fuzzing).
        (re.sub(rb"Sec-WebSocket-Key: [^\r]*", b"Sec-WebSocket-Key: \x80", upgrade_request()), 400),
    ],
)
async def test_hostile_heads_get_one_answer_and_close(
    request_bytes: bytes,
    status: int,
    echo_server: Any,
    raw_ws: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with echo_server() as server:
        client = await raw_ws.open_sock(server.port, handshake=False)
        await client.send(request_bytes)
        answer = await client.read_to_end()
        assert client.ended == "eof"  # a FIN after the response, not a reset
        client.close()
        check_one_error(answer, status)
        if status == 426:
            assert b"\r\nsec-websocket-version: 13\r\n" in answer.lower()
        check_logs(caplog)


@pytest.mark.asyncio
async def test_cli_server_refuses_content_length_with_transfer_encoding() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "websocket",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        match = re.search(rb"ws://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        reader, writer = await asyncio.open_connection("127.0.0.1", int(match.group(1)))
        writer.write(CLTE)
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
        writer.close()
        check_one_error(answer, 400)
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", int(match.group(1)))
        writer2.write(upgrade_request(extra=flood(2_000)))
        answer = await asyncio.wait_for(reader2.read(), TIMEOUT)
        writer2.close()
        check_one_error(answer, 431)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        assert proc.stderr is not None
        stderr = await proc.stderr.read()
        assert b"Traceback" not in stderr, stderr[-2000:]
