"""The verdict logic of ``websocket check``: judges fed literal transcripts, and scripted fake
servers on real loopback sockets that each break one rule once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from websocket.aio.check import run_case
from websocket.check import (
    Observed,
    Received,
    Verdict,
    frame,
    judge_echo,
    judge_failure,
    judge_status,
    parse_server_frames,
    render_table,
    results_to_json,
)
from websocket.check_cases import CASES

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CASE = {c.id: c for c in CASES}


def close_frame(code: int) -> Received:
    return Received(0, 8, struct.pack("!H", code))


# ------------------------------------------------------------------ judges, literal input


def test_frame_masks_and_parse_unmasks() -> None:
    data = frame(1, b"Hello")
    assert data == b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # RFC 6455 5.7, our key
    assert frame(1, b"Hello", mask=False) == b"\x81\x05Hello"
    buf = bytearray(data + b"\x88")
    (got,) = parse_server_frames(buf, 3)
    assert (got.step, got.opcode, got.payload, got.masked) == (3, 1, b"Hello", True)
    assert buf == b"\x88"  # the incomplete frame stays


def test_judge_echo() -> None:
    judge = judge_echo([(1, b"a")])
    ok = Observed(frames=[Received(0, 1, b"a"), close_frame(1000)], eof_step=1)
    assert judge(ok) == (Verdict.PASS, "")
    wrong = Observed(frames=[Received(0, 1, b"b"), close_frame(1000)])
    assert judge(wrong)[0] is Verdict.FAIL
    no_close = Observed(frames=[Received(0, 1, b"a")], timed_out=True)
    assert judge(no_close)[0] is Verdict.FAIL
    dropped = Observed(frames=[Received(0, 1, b"a")], eof_step=1)
    assert judge(dropped)[0] is Verdict.NON_STRICT
    masked = Observed(frames=[Received(0, 1, b"a", masked=True), close_frame(1000)])
    assert "masked" in judge(masked)[1]
    other_code = Observed(frames=[Received(0, 1, b"a"), close_frame(1001)])
    assert judge(other_code)[0] is Verdict.NON_STRICT


def test_judge_echo_lenient_pongs() -> None:
    judge = judge_echo([], pongs=[b"1", b"2"], lenient_pongs=True)
    last_only = Observed(frames=[Received(0, 10, b"2"), close_frame(1000)])
    assert judge(last_only)[0] is Verdict.NON_STRICT
    none = Observed(frames=[close_frame(1000)])
    assert judge(none)[0] is Verdict.FAIL


def test_judge_failure() -> None:
    judge = judge_failure((1007,), fail_fast_step=0)
    assert judge(Observed(frames=[close_frame(1007)], eof_step=0)) == (Verdict.PASS, "")
    late = Observed(frames=[Received(1, 8, struct.pack("!H", 1007))], eof_step=1)
    assert judge(late)[0] is Verdict.NON_STRICT
    assert judge(Observed(eof_step=0))[0] is Verdict.NON_STRICT  # TCP drop, no close frame
    assert judge(Observed(frames=[close_frame(1000)], eof_step=0))[0] is Verdict.FAIL
    assert judge(Observed(frames=[close_frame(1002)], eof_step=0))[0] is Verdict.NON_STRICT
    assert judge(Observed(timed_out=True))[0] is Verdict.FAIL  # a hang
    accepted = Observed(frames=[Received(0, 1, b"bad")], eof_step=0)
    assert "accepted" in judge(accepted)[1]


def test_judge_status() -> None:
    judge = judge_status((400,))
    assert judge(Observed(status=400))[0] is Verdict.PASS
    assert judge(Observed(status=101))[0] is Verdict.FAIL
    assert judge(Observed(status=404))[0] is Verdict.NON_STRICT
    assert judge(Observed(status=500))[0] is Verdict.FAIL


# ------------------------------------------------------------- scripted fake servers


@asynccontextmanager
async def fake_server(behaviour: str) -> AsyncIterator[str]:
    """An echo server that breaks one rule, chosen by ``behaviour``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        buf = bytearray()
        try:
            while chunk := await reader.read(65536):
                buf += chunk
                for f in parse_server_frames(buf, 0):  # unmasks the client's frames
                    if f.opcode == 8:
                        if behaviour != "ignore-close":
                            writer.write(b"\x88\x02\x03\xe8")
                            writer.close()
                            return
                    elif (f.opcode >= 3 and f.opcode not in (9, 10)) or f.rsv:
                        if behaviour == "drop":
                            writer.close()
                            return
                        writer.write(b"\x88\x02\x03\xea")
                        writer.close()
                        return
                    elif f.opcode in (1, 2):
                        if behaviour == "mask":
                            writer.write(frame(f.opcode, f.payload))
                        else:  # echo, invalid UTF-8 included
                            writer.write(frame(f.opcode, f.payload, mask=False))
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("behaviour", "case", "verdict"),
    [
        ("echo", "framing.1", Verdict.PASS),
        ("ignore-close", "close.1", Verdict.FAIL),  # no close frame in answer to ours
        ("echo", "utf8.3", Verdict.FAIL),  # invalid UTF-8 echoed instead of 1007
        ("drop", "reserved.1", Verdict.NON_STRICT),  # failed by dropping TCP, no close frame
        ("mask", "framing.2", Verdict.FAIL),  # the server masked its frames
        ("echo", "reserved.5", Verdict.PASS),  # reserved opcode: close 1002, as required
    ],
)
async def test_fake_servers(behaviour: str, case: str, verdict: Verdict) -> None:
    async with fake_server(behaviour) as url:
        result = await run_case(url, CASE[case], timeout=1.0, quiet=0.1)
    assert result.verdict is verdict, result
    if verdict is Verdict.FAIL:
        text = render_table([result])
        assert f"--- {case}" in text
        assert "> " in text and "< " in text
        assert '"verdict": "fail"' in results_to_json([result])
