"""The verdict logic of ``socketio_core check`` and the arithmetic of ``bench``: pure helpers on
literal input, and a scripted fake Engine.IO server (real loopback sockets) breaking one rule
at a time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from socketio_core.aio.check import CASES, run_case
from socketio_core.bench import BenchResult, cpu_seconds, percentile, render_bench, rss_kb
from socketio_core.check import (
    Contract,
    Result,
    Verdict,
    decode_sio,
    render_table,
    results_to_json,
    summary,
)

CASE = {c.id: c for c in CASES}
OPEN = {"sid": "abc", "upgrades": ["websocket"], "pingInterval": 300, "pingTimeout": 200,
        "maxPayload": 1000}  # fmt: skip
CONTRACT = Contract(engineio=True, timeout=0.5, max_wait=1.0)

# A handler gets (method, query) and returns (status, body), or None to never answer.
Handler = Callable[[str, str], "tuple[int, bytes] | None"]


@asynccontextmanager
async def fake_engineio(handler: Handler) -> AsyncIterator[str]:
    """An HTTP server answering every request with ``handler``'s (status, body)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].decode()
            method, target, _ = line.split(" ", 2)
            length = 0
            for h in head.split(b"\r\n"):
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            await reader.readexactly(length)
            answer = handler(method, target.partition("?")[2])
            if answer is None:
                await reader.read()  # never answer; wait for the client to give up
                return
            status, body = answer
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def conformant(method: str, query: str) -> tuple[int, bytes] | None:
    """What a correct server answers to the requests of the cases exercised here."""
    params = dict(p.partition("=")[::2] for p in query.split("&") if p)
    if params.get("EIO") != "4" or params.get("transport") not in ("polling", "websocket"):
        return 400, b'{"code":0}'
    if "sid" not in params:
        return (200, b"0" + json.dumps(OPEN).encode()) if method == "GET" else (400, b"")
    if params["sid"] != "abc":
        return 400, b""
    return (200, b"ok") if method == "POST" else (200, b"6")


def breaking(rule: str) -> Handler:
    def handler(method: str, query: str) -> tuple[int, bytes] | None:
        if rule == "open-without-maxPayload" and "sid" not in query and method == "GET":
            body = {k: v for k, v in OPEN.items() if k != "maxPayload"}
            return 200, b"0" + json.dumps(body).encode()
        if rule == "no-transport-accepted" and "transport" not in query:
            return 200, b"0" + json.dumps(OPEN).encode()
        if rule == "OK" and method == "POST" and "sid=abc" in query:
            return 200, b"OK"
        if rule == "hang" and method == "PUT":
            return None
        return conformant(method, query)

    return handler


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("case", "rule", "reason"),
    [
        ("handshake.polling", "open-without-maxPayload", "'maxPayload' missing"),
        ("handshake.no-transport", "no-transport-accepted", "answered HTTP 200, expected 400"),
        ("payload.post-ok", "OK", "expected 200 b'ok'"),
        ("handshake.bad-method", "hang", "no complete answer"),
    ],
)
async def test_each_broken_rule_fails_its_case(case: str, rule: str, reason: str) -> None:
    async with fake_engineio(conformant) as url:
        good = await run_case(url, CASE[case], CONTRACT)
    assert good.verdict is Verdict.PASS, good
    async with fake_engineio(breaking(rule)) as url:
        bad = await run_case(url, CASE[case], CONTRACT)
    assert bad.verdict is Verdict.FAIL
    assert reason in bad.reason
    assert bad.transcript and bad.transcript[0][0] == ">"  # the exact bytes are kept
    text = render_table([good, bad])
    assert f"FAIL {case}" in text and "spec: engine.io-protocol-v4" in text


def test_decode_sio_reassembles_and_reports() -> None:
    packets = decode_sio(['51-["m",{"_placeholder":true,"num":0}]', b"\x01", '2["n",1]'])
    assert not isinstance(packets, str)
    assert [p.data for p in packets] == [["m", b"\x01"], ["n", 1]]
    assert "no packet waiting" in str(decode_sio([b"\x01"]))
    assert "attachments were due" in str(decode_sio(['51-["m",{"_placeholder":true,"num":0}]',
                                                    "2[]"]))  # fmt: skip
    assert "not a valid Socket.IO packet" in str(decode_sio(["9"]))


def test_summary_and_json() -> None:
    results = [
        Result("a.b", "t", "s", Verdict.PASS),
        Result("a.c", "t", "s", Verdict.FAIL, "why", ((">", b"\xff"),)),
    ]
    assert summary(results) == {"pass": 1, "non-strict": 0, "fail": 1, "skipped": 0}
    doc = json.loads(results_to_json(results, url="u"))
    assert doc["url"] == "u"
    assert doc["results"][1]["transcript"] == [[">", "\xff"]]


def test_bench_arithmetic() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    stat = "42 (node server) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0"
    assert cpu_seconds(stat, 100) == 3.0
    assert rss_kb("Name:\tnode\nVmRSS:\t  12345 kB\n") == 12345
    r = BenchResult("echo", "websocket", 10, operations=500, seconds=2.0).finish([0.001, 0.003])
    assert r.rate == 250.0
    assert r.p50_ms == 1.0
    table = render_bench([r])
    assert "250 /s" in table and "echo" in table
