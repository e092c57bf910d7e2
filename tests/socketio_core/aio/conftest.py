"""Fixtures for the Socket.IO server tests: a running server and raw Engine.IO clients.

Every test talks to a real :class:`~socketio_core.aio.AsyncServer` on 127.0.0.1 through raw
Engine.IO-over-WebSocket clients (:class:`SioClient`) that send and check literal packet
strings, so each assertion names the exact bytes on the wire. Nothing sleeps to wait: reads
are bounded by ``TIMEOUT`` and server-side state is polled with a bounded deadline
(:meth:`Harness.until`).

* ``serve``: ``harness = await serve(sio)`` starts ``sio.listen("127.0.0.1", 0)``; the server
  and every client it opened are closed when the test ends.
* ``harness.client()`` opens a client that has read the Engine.IO open packet;
  ``harness.connected()`` also joins a namespace and returns the sid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from socketio_core.aio import AsyncServer
from websocket.aio import Connection, connect
from websocket.exceptions import ConnectionClosed

#: Upper bound for any single read or wait; nothing legitimate comes near it.
TIMEOUT = 5.0
#: A namespace nobody serves: CONNECT to it is answered with CONNECT_ERROR, which makes a
#: barrier through a client's ordered queue without any handler.
BARRIER = "/__barrier__"


class SioClient:
    """A raw Engine.IO WebSocket client that exchanges literal Socket.IO packets."""

    def __init__(self, ws: Connection, handshake: dict[str, Any]) -> None:
        self.ws = ws
        self.handshake = handshake

    @property
    def eio_sid(self) -> str:
        """The Engine.IO sid from the open packet."""
        return str(self.handshake["sid"])

    async def recv_eio(self) -> str | bytes:
        """The next Engine.IO message, pings answered on the way."""
        while True:
            message = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
            if message == "2":
                await self.ws.send("3")
                continue
            return message

    async def recv(self) -> str | bytes:
        """The next Engine.IO message packet (``"42[...]"``), or a binary attachment."""
        message = await self.recv_eio()
        assert isinstance(message, bytes) or message.startswith("4"), message
        return message

    async def expect(self, *messages: str | bytes) -> None:
        """Assert the next Socket.IO messages are exactly ``messages``, in order."""
        for expected in messages:
            assert await self.recv() == expected

    async def send(self, text: str) -> None:
        """Send one Engine.IO text packet as it is: ``"42[\"ev\"]"``."""
        await self.ws.send(text)

    async def send_binary(self, data: bytes) -> None:
        """Send one binary attachment."""
        await self.ws.send(data)

    async def connect(self, namespace: str = "/", auth: Any = None) -> str:
        """Join ``namespace``; returns the sid from the server's CONNECT."""
        prefix = "" if namespace == "/" else namespace + ","
        payload = "" if auth is None else json.dumps(auth, separators=(",", ":"))
        await self.send("40" + prefix + payload)
        reply = await self.recv()
        assert isinstance(reply, str) and reply.startswith("40" + prefix), reply
        sid = json.loads(reply[2 + len(prefix) :])["sid"]
        assert isinstance(sid, str)
        return sid

    async def barrier(self) -> None:
        """Wait until the server has handled every packet this client sent before."""
        await self.send(f"40{BARRIER},")
        await self.expect(f'44{BARRIER},{{"message":"Invalid namespace"}}')

    async def expect_closed(self) -> list[str | bytes]:
        """Wait for the server to close the connection; returns the messages before.

        Only the Engine.IO close packet ``1`` may come before the WebSocket closes.
        """
        extra: list[str | bytes] = []
        with contextlib.suppress(ConnectionClosed):
            while True:
                message = await self.recv_eio()
                if message != "1":
                    extra.append(message)
        assert extra == [], extra
        return extra

    async def aclose(self) -> None:
        """Drop the connection at once (no closing handshake)."""
        await self.ws.abort()


class Harness:
    """A running server and the clients connected to it."""

    def __init__(self, sio: AsyncServer, port: int) -> None:
        self.sio = sio
        self.port = port
        self.clients: list[SioClient] = []

    @property
    def url(self) -> str:
        """The WebSocket URL of the Socket.IO endpoint."""
        return f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"

    async def client(self, query: str = "") -> SioClient:
        """Open a client and read the Engine.IO open packet."""
        ws = await connect(self.url + query, compression=None, open_timeout=TIMEOUT)
        opening = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert isinstance(opening, str) and opening.startswith("0{"), opening
        client = SioClient(ws, json.loads(opening[1:]))
        self.clients.append(client)
        return client

    async def connected(self, namespace: str = "/", auth: Any = None) -> tuple[SioClient, str]:
        """Open a client and join ``namespace``; returns the client and its sid."""
        client = await self.client()
        return client, await client.connect(namespace, auth)

    async def until(self, predicate: Callable[[], object], what: str = "condition") -> None:
        """Poll ``predicate`` until it holds; fail after ``TIMEOUT`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while not predicate():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.005)

    async def until_empty(self) -> None:
        """Wait until the server has forgotten every client, socket and room."""
        sio = self.sio
        await self.until(
            lambda: (
                sio.connection_count == 0
                and not sio.local_sids()
                and not sio.manager.registry.namespaces()
            ),
            "the server to forget every client",
        )

    async def aclose(self) -> None:
        """Drop every client."""
        for client in self.clients:
            await client.aclose()


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[[AsyncServer], Awaitable[Harness]]]:
    """A factory: ``harness = await serve(sio)`` runs ``sio`` on a free loopback port."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(sio: AsyncServer) -> Harness:
            front = await stack.enter_async_context(sio.listen("127.0.0.1", 0))
            harness = Harness(sio, front.port)
            stack.push_async_callback(harness.aclose)
            return harness

        yield start
