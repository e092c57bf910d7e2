"""Shared helpers of the Engine.IO server tests: a raw keep-alive HTTP client (h11 in the client
role), a recording server, and handshake / WebSocket / waiting shortcuts.

``conftest.py`` puts this folder on ``sys.path``; test modules import it as ``eio_kit``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import h11
import pytest

from engineio_core.aio.server import AsyncServer
from engineio_core.aio.standalone import StandaloneServer
from websocket.aio import Connection, connect
from websocket.exceptions import ConnectionClosed

TIMEOUT = 5.0
PATH = "/engine.io/"
OPTIONS: dict[str, Any] = {"ping_interval": 0.3, "ping_timeout": 0.2}


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


class RawHTTP:
    """One keep-alive HTTP/1.1 client connection; h11 parses the responses.

    Every connection opened is aborted when the :func:`running` block ends.
    """

    opened: list[RawHTTP] = []  # noqa: RUF012 (a registry, reset by running())

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> RawHTTP:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
        conn = cls(reader, writer)
        cls.opened.append(conn)
        return conn

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        names = {name.lower() for name, _ in headers}
        all_headers = [*([] if "host" in names else [("Host", "127.0.0.1")]), *headers]
        if method in ("POST", "PUT"):
            all_headers.append(("Content-Length", str(len(body))))
        data = self.h11.send(h11.Request(method=method, target=target, headers=all_headers))
        if method in ("POST", "PUT"):
            data = (data or b"") + (self.h11.send(h11.Data(data=body)) or b"")
        data = (data or b"") + (self.h11.send(h11.EndOfMessage()) or b"")
        self.writer.write(data)
        status = 0
        response_headers: dict[str, str] = {}
        parts: list[bytes] = []
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                chunk = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
                self.h11.receive_data(chunk)
            elif isinstance(event, h11.Response):
                status = event.status_code
                response_headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return Response(status, response_headers, b"".join(parts))
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def expect_eof(self) -> None:
        try:
            rest = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
        except ConnectionResetError:
            return
        assert rest == b""

    def close(self) -> None:
        self.writer.transport.abort()


def target(sid: str | None = None, transport: str = "polling") -> str:
    query = f"EIO=4&transport={transport}"
    return f"{PATH}?{query}&sid={sid}" if sid else f"{PATH}?{query}"


class Recorder:
    """The application's handlers; every event lands in a queue."""

    def __init__(self, eio: AsyncServer) -> None:
        self.eio = eio
        self.connects: list[str] = []
        self.messages: asyncio.Queue[tuple[str, str | bytes]] = asyncio.Queue()
        self.disconnects: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        eio.on("connect", self.on_connect)
        eio.on("message", self.on_message)
        eio.on("disconnect", self.on_disconnect)

    def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
        self.connects.append(sid)

    async def on_message(self, sid: str, data: str | bytes) -> None:
        self.messages.put_nowait((sid, data))

    def on_disconnect(self, sid: str, reason: str) -> None:
        self.disconnects.put_nowait((sid, reason))

    async def message(self) -> tuple[str, str | bytes]:
        return await asyncio.wait_for(self.messages.get(), TIMEOUT)

    async def disconnect(self) -> tuple[str, str]:
        return await asyncio.wait_for(self.disconnects.get(), TIMEOUT)


@asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[AsyncServer, StandaloneServer, Recorder]]:
    eio = AsyncServer(**{**OPTIONS, **options})
    recorder = Recorder(eio)
    try:
        async with eio.listen("127.0.0.1", 0) as front:
            yield eio, front, recorder
    finally:
        for conn in RawHTTP.opened:
            conn.close()
        RawHTTP.opened.clear()


async def handshake(port: int) -> tuple[RawHTTP, str, dict[str, Any]]:
    """Open a polling session; returns the connection, the sid and the open packet."""
    conn = await RawHTTP.open(port)
    response = await conn.request("GET", target())
    assert response.status == 200, response
    assert response.text[0] == "0"
    info: dict[str, Any] = json.loads(response.text[1:])
    return conn, info["sid"], info


async def ws_connect(port: int, sid: str | None = None, **kwargs: Any) -> Connection:
    uri = f"ws://127.0.0.1:{port}{target(sid, 'websocket')}"
    return await connect(uri, compression=None, **kwargs)


async def recv(ws: Connection) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


async def expect_ws_closed(ws: Connection) -> None:
    """The server closes the WebSocket (possibly after messages we skip)."""
    with pytest.raises(ConnectionClosed):
        for _ in range(10):
            await recv(ws)
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)


async def upgrade(port: int, sid: str) -> Connection:
    ws = await ws_connect(port, sid)
    await ws.send("2probe")
    assert await recv(ws) == "3probe"
    await ws.send("5")
    return ws


async def until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll a condition with a bounded deadline."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
