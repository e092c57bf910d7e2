"""The polling fast path inside the standalone door (engineio_core.aio.standalone), over loopback.

The parser itself is tested against h11 in tests/engineio_core/test_eio_http_fast.py, and the
hardening suites (test_eio_bad_input.py, test_eio_http_strict.py, test_eio_standalone.py) run
with the fast path on and off. Here: the same bytes on the wire either way, requests handed
back and forth between the fast path and h11 on one keep-alive connection, heads and bodies
cut at any read boundary, and a response that cannot be written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from eio_kit import TIMEOUT, until

from engineio_core.aio.server import AsyncServer, PreparedResponse
from engineio_core.http_fast import FastHead, FastRequestParser, Verdict
from engineio_core.request import HTTPRequest

POLLING = "/engine.io/?EIO=4&transport=polling"


class Connection:
    """A raw keep-alive connection that reads Content-Length framed responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def response(self) -> bytes:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        match = re.search(rb"(?i)\r\ncontent-length: (\d+)\r\n", head)
        assert match is not None, head
        return head + await asyncio.wait_for(self.reader.readexactly(int(match[1])), TIMEOUT)

    async def exchange(self, request: bytes) -> bytes:
        self.writer.write(request)
        return await self.response()

    def close(self) -> None:
        self.writer.transport.abort()


def get(target: str, headers: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode("latin-1")


def post(target: str, body: bytes, headers: str = "") -> bytes:
    head = f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {len(body)}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


@asynccontextmanager
async def verdicts(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """Record what the fast parser decides: the method of a head it takes, or "not mine".

    "need data" is not recorded: how many reads a request takes is up to TCP.
    """
    seen: list[str] = []
    parse_head = FastRequestParser.parse_head

    def recording(self: FastRequestParser, data: bytes | bytearray) -> FastHead | Verdict:
        result = parse_head(self, data)
        if isinstance(result, FastHead):
            seen.append(result.method)
        elif result is Verdict.NOT_MINE:
            seen.append(result.value)
        return result

    monkeypatch.setattr(FastRequestParser, "parse_head", recording)
    yield seen


async def session_script(fast_path: bool) -> list[bytes]:
    """A handshake, messages both ways and an error, on one connection; the raw responses."""
    eio = AsyncServer(ping_interval=10, ping_timeout=10, cors_allowed_origins="*")
    received: list[tuple[str, object]] = []
    eio.on("message", lambda sid, data: received.append((sid, data)))
    async with eio.listen("127.0.0.1", 0, fast_path=fast_path) as front:
        conn = await Connection.open(front.port)
        try:
            origin = "Origin: http://example.com\r\n"
            answers = [await conn.exchange(get(POLLING, origin))]
            sid = json.loads(answers[0].partition(b"\r\n\r\n")[2][1:])["sid"]
            target = f"{POLLING}&sid={sid}"
            answers.append(await conn.exchange(post(target, b"4hello", origin)))
            await until(lambda: len(received) == 1)
            await eio.send(sid, "world")
            answers.append(await conn.exchange(get(target, origin)))
            answers.append(await conn.exchange(post(target, b"", "Content-Type: text/plain\r\n")))
            answers.append(await conn.exchange(get(f"{POLLING}&sid=nope")))
        finally:
            conn.close()
        assert received == [(sid, "hello")]
        return [answer.replace(sid.encode(), b"SID") for answer in answers]


@pytest.mark.asyncio
async def test_the_same_bytes_on_the_wire_with_and_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with verdicts(monkeypatch) as seen:
        fast = await session_script(True)
    assert seen.count("GET") == 3 and seen.count("POST") == 2  # all five took the fast path
    async with verdicts(monkeypatch) as seen:
        reference = await session_script(False)
    assert seen == []
    assert fast == reference
    assert [answer[:13] for answer in fast] == [b"HTTP/1.1 200 "] * 3 + [b"HTTP/1.1 400 "] * 2
    assert b"\r\n\r\n4world" in fast[2]


@pytest.mark.asyncio
async def test_fast_path_and_h11_take_turns_on_one_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eio = AsyncServer(ping_interval=10, ping_timeout=10)
    async with verdicts(monkeypatch) as seen, eio.listen("127.0.0.1", 0) as front:
        conn = await Connection.open(front.port)
        try:
            handshake = await conn.exchange(get(POLLING, "X-Odd: caf\xe9\r\n"))  # h11
            assert seen == ["not mine"]
            sid = json.loads(handshake.partition(b"\r\n\r\n")[2][1:])["sid"]
            target = f"{POLLING}&sid={sid}"
            assert (await conn.exchange(post(target, b"4a"))).endswith(b"\r\n\r\nok")
            assert seen == ["not mine", "POST"]
            # An OPTIONS and a POST pipelined in one write, answered in order: h11 takes
            # both (the POST was in its buffer), then hands the connection back.
            options = f"OPTIONS {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
            conn.writer.write(options + post(target, b"4b"))
            assert (await conn.response()).startswith(b"HTTP/1.1 204 ")
            assert (await conn.response()).endswith(b"\r\n\r\nok")
            assert seen == ["not mine", "POST", "not mine"]
            assert (await conn.exchange(post(target, b"4b"))).endswith(b"\r\n\r\nok")
            assert seen == ["not mine", "POST", "not mine", "POST"]
            # Connection: close is h11's to honour.
            closing = await conn.exchange(post(target, b"4c", "Connection: close\r\n"))
            assert b"\r\nConnection: close\r\n" in closing
            assert await asyncio.wait_for(conn.reader.read(), TIMEOUT) == b""
        finally:
            conn.close()


@pytest.mark.asyncio
async def test_a_request_cut_at_every_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    eio = AsyncServer(ping_interval=10, ping_timeout=10)
    messages: list[object] = []
    eio.on("message", lambda sid, data: messages.append(data))
    async with verdicts(monkeypatch) as seen, eio.listen("127.0.0.1", 0) as front:
        conn = await Connection.open(front.port)
        try:
            handshake = await conn.exchange(get(POLLING))
            sid = json.loads(handshake.partition(b"\r\n\r\n")[2][1:])["sid"]
            request = post(f"{POLLING}&sid={sid}", b"4byte by byte")
            for i in range(len(request)):
                conn.writer.write(request[i : i + 1])
                await conn.writer.drain()
            assert (await conn.response()).endswith(b"\r\n\r\nok")
            await until(lambda: messages == ["byte by byte"])
            assert "not mine" not in seen
            # The head is parsed once, however many reads its body takes.
            assert seen.count("POST") == 1
        finally:
            conn.close()


@pytest.mark.asyncio
async def test_a_head_parsed_once_while_its_body_arrives(monkeypatch: pytest.MonkeyPatch) -> None:
    eio = AsyncServer(ping_interval=10, ping_timeout=10)
    async with verdicts(monkeypatch) as seen, eio.listen("127.0.0.1", 0) as front:
        conn = await Connection.open(front.port)
        try:
            handshake = await conn.exchange(get(POLLING))
            sid = json.loads(handshake.partition(b"\r\n\r\n")[2][1:])["sid"]
            request = post(f"{POLLING}&sid={sid}", b"4" + b"x" * 20_000)
            head_size = request.index(b"\r\n\r\n") + 4
            seen.clear()
            conn.writer.write(request[: head_size + 10])
            await until(lambda: seen == ["POST"])
            conn.writer.write(request[head_size + 10 :])
            assert (await conn.response()).endswith(b"\r\n\r\nok")
            assert seen == ["POST"]
        finally:
            conn.close()


@pytest.mark.asyncio
async def test_a_response_header_that_is_not_valid_http_closes_the_connection(
    http_parser: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # A cookie attribute that cannot be sent (non-ASCII): the handshake gets no response.
    eio = AsyncServer(cookie={"name": "io", "Domain": "caf\xe9.example"})
    async with eio.listen("127.0.0.1", 0) as front:
        conn = await Connection.open(front.port)
        try:
            conn.writer.write(get(POLLING))
            assert await asyncio.wait_for(conn.reader.read(), TIMEOUT) == b""
        finally:
            conn.close()
    errors = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("! cannot send response"), errors
    assert "Traceback" not in caplog.text


class AnswerAtOnce:
    """Remote sessions (``there-N`` sids) whose owner answers a forward at once."""

    def __init__(self) -> None:
        self.aborted = 0

    def new_sid(self) -> str:
        return "here-1"

    def is_remote(self, sid: str) -> bool:
        return sid.startswith("there-")

    def forward(
        self,
        request: HTTPRequest,
        body: bytes | None,
        respond: Callable[[PreparedResponse | None], None],
    ) -> Callable[[], None]:
        respond(PreparedResponse(200, [("Content-Length", "3")], b"4hi"))

        def abort() -> None:
            self.aborted += 1

        return abort


@pytest.mark.asyncio
async def test_a_request_answered_before_its_handler_returns_is_not_parked(
    http_parser: bool,
) -> None:
    eio = AsyncServer()
    remote = AnswerAtOnce()
    eio.remote_sessions = remote
    async with eio.listen("127.0.0.1", 0) as front:
        conn = await Connection.open(front.port)
        try:
            for _ in range(2):  # the connection carries on
                answer = await conn.exchange(get(f"{POLLING}&sid=there-1"))
                assert answer.endswith(b"\r\n\r\n4hi")
        finally:
            conn.close()
    # Closing the server ended the connection's task: nothing was left to abort.
    assert remote.aborted == 0
