"""Shared fixtures: an echo server, a raw-socket WebSocket client, and the Node.js peers.

Everything here talks over real loopback sockets (127.0.0.1) and never sleeps: reads are bounded
by timeouts, and the end of a connection is observed as ``read() == b""``.

* :func:`echo_server` starts :func:`websocket.aio.serve` with an echo handler on port 0 and
  records the close code and reason each connection ended with.
* :func:`raw_ws` opens :class:`RawClient` connections that do the opening handshake from literal
  bytes and then exchange hand-made frames, for conformance and hostile-input tests.
* :func:`node` locates ``node`` and ``tests/node/node_modules`` (installed by ``make setup``);
  without them the Node interop tests are skipped, except under ``CI`` where they fail.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import shutil
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from websocket.aio import Connection, serve
from websocket.exceptions import ConnectionClosed

NODE_DIR = Path(__file__).parent / "node"
#: The Sec-WebSocket-Key of RFC 6455 section 1.3, and the accept value it yields.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#: A fixed masking key for the frames RawClient sends.
MASK = b"\x37\xfa\x21\x3d"
#: Upper bound for any single read in these tests; nothing legitimate comes near it.
TIMEOUT = 5.0


def build_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = MASK,
    length: int | None = None,
    length_bytes: int | None = None,
) -> bytes:
    """Build one frame by hand.

    Args:
        opcode: the opcode, reserved ones included.
        payload: the unmasked payload.
        fin: the FIN bit.
        rsv: the RSV bits as the byte-0 mask (0x40 RSV1, 0x20 RSV2, 0x10 RSV3).
        mask: the masking key, or None for an unmasked frame.
        length: the announced length, when it must differ from ``len(payload)``.
        length_bytes: force a 0-, 2- or 8-byte extended length (non-minimal encodings).
    """
    n = len(payload) if length is None else length
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if mask is not None else 0
    if length_bytes == 0:
        head = bytes([b0, m | n])
    elif length_bytes == 2:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    key = int.from_bytes(mask * (len(payload) // 4 + 1), "little")
    masked = (int.from_bytes(payload, "little") ^ key).to_bytes(len(payload) + 4, "little")
    return head + mask + masked[: len(payload)]


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """The payload of a close frame."""
    return struct.pack("!H", code) + reason


def upgrade_request(*, extensions: str | None = None, extra: bytes = b"") -> bytes:
    """A literal opening-handshake request with the fixed key."""
    ext = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions is not None else ""
    return (
        (
            "GET /chat HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"{ext}"
        ).encode()
        + extra
        + b"\r\n"
    )


class RawClient:
    """A WebSocket client that writes hand-made bytes and checks the bytes that come back."""

    frame = staticmethod(build_frame)

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.response_head = b""

    async def handshake(self, *, extensions: str | None = None) -> bytes:
        """Send the upgrade request and check for a 101 with the right accept value."""
        self.send(upgrade_request(extensions=extensions))
        head = await self.read_head()
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert f"\r\nSec-WebSocket-Accept: {ACCEPT}\r\n".encode() in head, head
        self.response_head = head
        return head

    async def read_head(self) -> bytes:
        """Read an HTTP response head, up to the blank line."""
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)

    def send(self, data: bytes) -> None:
        """Write bytes as they are."""
        self.writer.write(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **kwargs: Any) -> None:
        """Write one masked frame (see :func:`build_frame`)."""
        self.writer.write(build_frame(opcode, payload, **kwargs))

    async def read_exactly(self, n: int) -> bytes:
        """Read ``n`` bytes, failing if they do not come within the timeout."""
        return await asyncio.wait_for(self.reader.readexactly(n), TIMEOUT)

    async def expect(self, data: bytes) -> None:
        """Assert that the next bytes from the server are exactly ``data``."""
        got = await self.read_exactly(len(data))
        assert got == data

    async def read_frame(self) -> tuple[int, bytes]:
        """Read one server frame: ``(byte 0, payload)``; server frames are never masked."""
        b0, b1 = await self.read_exactly(2)
        assert not b1 & 0x80, "the server masked a frame"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.read_exactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.read_exactly(8))[0]
        return b0, await self.read_exactly(n)

    async def expect_close(self, code: int, *, allow_reset: bool = False) -> str:
        """Assert the next frame is a close frame with ``code``, then that TCP closes.

        Returns:
            The close reason, which must be valid UTF-8.
        """
        b0, payload = await self.read_frame()
        assert b0 == 0x88, f"expected a close frame, got byte 0 {b0:#x} and {payload[:40]!r}"
        assert payload[:2] == struct.pack("!H", code), (struct.unpack("!H", payload[:2]), payload)
        assert len(payload) <= 125
        reason = payload[2:].decode("utf-8")
        await self.expect_eof(allow_reset=allow_reset)
        return reason

    async def expect_eof(self, *, allow_reset: bool = False) -> None:
        """Assert the server closes the TCP connection, with nothing more sent."""
        try:
            rest = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
        except ConnectionResetError:
            if not allow_reset:
                raise
            return
        assert rest == b"", f"expected the TCP connection to close, got {rest[:80]!r}"

    async def aclose(self) -> None:
        """Close our end (abort: the server may already be gone)."""
        self.writer.transport.abort()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class SockClient:
    """A raw client on a bare non-blocking socket, for attacks that end in a TCP reset.

    A hostile client keeps writing after the server has failed the connection, so the server
    closes with unread data and the kernel answers with a reset. Stream transports then drop
    what they had not delivered yet; here every byte that reached the socket is read before
    the reset is reported, so the server's close frame is never lost.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.received = bytearray()
        self.broken = False  # a write failed: the server is gone
        self.ended: str | None = None  # "eof" or "reset", once the server closed

    async def handshake(self, *, extensions: str | None = None) -> bytes:
        """Send the upgrade request; return the response head (the rest stays buffered)."""
        await self.send(upgrade_request(extensions=extensions))
        while b"\r\n\r\n" not in self.received:
            assert await self.recv_some(), f"closed during the handshake: {self.received!r}"
        head, _, rest = bytes(self.received).partition(b"\r\n\r\n")
        self.received[:] = rest
        return head + b"\r\n\r\n"

    async def send(self, data: bytes) -> bool:
        """Write ``data``; False (and ``broken``) once the server has reset the connection."""
        if self.broken:
            return False
        try:
            await asyncio.wait_for(self.loop.sock_sendall(self.sock, data), TIMEOUT)
        except (ConnectionError, OSError):
            self.broken = True
        return not self.broken

    async def recv_some(self) -> bytes:
        """Read what is available (b"" once the server closed or reset the connection)."""
        if self.ended is not None:
            return b""
        try:
            data = await asyncio.wait_for(self.loop.sock_recv(self.sock, 65536), TIMEOUT)
        except ConnectionResetError:
            self.ended = "reset"
            return b""
        if not data:
            self.ended = "eof"
        self.received += data
        return data

    async def read_to_end(self) -> bytes:
        """Read until the server closes the connection; fails after TIMEOUT seconds."""

        async def drain() -> None:
            while await self.recv_some():
                pass

        await asyncio.wait_for(drain(), TIMEOUT)
        return bytes(self.received)

    async def expect_close(self, code: int) -> str:
        """Read to the end; assert that all that came is one close frame with ``code``."""
        data = await self.read_to_end()
        assert data[:1] == b"\x88", data[:80]
        assert data[2:4] == struct.pack("!H", code), data[:80]
        assert data[1] == len(data) - 2 <= 125, data[:80]
        return data[4:].decode("utf-8")

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class RawClients:
    """Opens :class:`RawClient` connections and aborts them all at teardown."""

    frame = staticmethod(build_frame)
    request = staticmethod(upgrade_request)

    def __init__(self) -> None:
        self.clients: list[RawClient] = []
        self.socks: list[SockClient] = []

    async def open_sock(
        self, port: int, *, handshake: bool = True, extensions: str | None = None
    ) -> SockClient:
        """Connect a :class:`SockClient`, doing the opening handshake unless told not to."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        client = SockClient(sock)
        self.socks.append(client)
        await asyncio.wait_for(client.loop.sock_connect(sock, ("127.0.0.1", port)), TIMEOUT)
        if handshake:
            head = await client.handshake(extensions=extensions)
            assert head.startswith(b"HTTP/1.1 101 "), head
        return client

    async def open(
        self, port: int, *, handshake: bool = True, extensions: str | None = None
    ) -> RawClient:
        """Connect to 127.0.0.1:``port``, doing the opening handshake unless told not to."""
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
        client = RawClient(reader, writer)
        self.clients.append(client)
        if handshake:
            await client.handshake(extensions=extensions)
        return client

    async def aclose(self) -> None:
        """Abort every connection still open."""
        for client in self.clients:
            await client.aclose()
        for sock_client in self.socks:
            sock_client.close()


@pytest_asyncio.fixture
async def raw_ws() -> AsyncIterator[RawClients]:
    """A factory of raw-socket WebSocket clients: ``await raw_ws.open(port)``."""
    clients = RawClients()
    try:
        yield clients
    finally:
        await clients.aclose()


@dataclass
class EchoRecord:
    """What the echo server's handlers saw."""

    #: ``(close_code, close_reason)`` of each connection, once closed.
    closes: asyncio.Queue[tuple[int | None, str | None]] = field(default_factory=asyncio.Queue)
    connections: list[Connection] = field(default_factory=list)


async def _echo(conn: Connection, record: EchoRecord) -> None:
    record.connections.append(conn)
    try:
        async for message in conn:
            await conn.send(message)
    except ConnectionClosed:
        pass
    await conn.wait_closed()
    record.closes.put_nowait((conn.close_code, conn.close_reason))


@contextlib.asynccontextmanager
async def _echo_server(**kwargs: Any) -> AsyncIterator[Any]:
    record = EchoRecord()
    kwargs.setdefault("compression", None)

    async def handler(conn: Connection) -> None:
        await _echo(conn, record)

    async with serve(handler, "127.0.0.1", 0, **kwargs) as server:
        server.record = record  # type: ignore[attr-defined]
        try:
            yield server
        finally:
            # Raw clients never answer the server's closing handshake: drop what is left
            # rather than wait for close_timeout.
            for conn in record.connections:
                await conn.abort()


@pytest.fixture
def echo_server() -> Callable[..., AbstractAsyncContextManager[Any]]:
    """A factory: ``async with echo_server(**serve_kwargs) as server`` runs an echo server.

    Compression is off unless ``compression=`` is passed; ``server.record`` holds what the
    handlers saw (see :class:`EchoRecord`).
    """
    return _echo_server


def digest(data: bytes) -> str:
    """A short fingerprint of a large payload, as the Node scripts print it."""
    return hashlib.sha256(data).hexdigest()


def b64(data: bytes) -> str:
    """Base64 text, as the Node scripts print binary payloads."""
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Node:
    """Where the Node.js interop peers live."""

    executable: str
    directory: Path

    def script(self, name: str) -> str:
        """The path of a script in ``tests/node``."""
        return str(self.directory / name)


@pytest.fixture(scope="session")
def node() -> Node:
    """The Node.js runtime with ``tests/node/node_modules``; skips (fails under CI) if absent."""
    executable = shutil.which("node")
    missing = []
    if executable is None:
        missing.append("the `node` executable is not on PATH")
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        missing.append("tests/node/node_modules is missing (run `make setup` or `npm ci` there)")
    if missing:
        message = "Node interop tests need Node.js: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert executable is not None
    return Node(executable, NODE_DIR)
