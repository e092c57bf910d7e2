"""Helpers for the asyncio layer tests: raw loopback peers that speak just enough WebSocket.

Test modules cannot import this file under ``--import-mode=importlib``, so the helpers reach
them through the ``kit`` fixture.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from websocket.aio import Connection, Server
from websocket.frames import Frame, parse_frame, serialize_frame
from websocket.handshake import Accepted, ClientHandshake

Handler = Callable[[Connection], Awaitable[None]]


async def echo(conn: Connection) -> None:
    """Send every message back."""
    async for message in conn:
        await conn.send(message)


def ws_uri(server: Server, host: str = "127.0.0.1", scheme: str = "ws") -> str:
    """The URI of a server listening on port 0."""
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{server.port}/"


class RawPeer:
    """A WebSocket client written by hand on a bare stream: it answers nothing by itself."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()

    @classmethod
    async def connect(cls, port: int, *, host: str = "127.0.0.1") -> RawPeer:
        reader, writer = await asyncio.open_connection(host, port)
        handshake = ClientHandshake(host=f"{host}:{port}", deflate=None)
        writer.write(handshake.data_to_send())
        peer = cls(reader, writer)
        for _ in range(100):
            event = handshake.next_event()
            if event is not None:
                assert isinstance(event, Accepted), event
                peer.buf += handshake.trailing_data
                return peer
            data = await reader.read(65536)
            if data:
                handshake.receive_data(data)
            else:
                handshake.receive_eof()
        raise AssertionError("handshake did not finish")

    async def read_frame(self) -> Frame | None:
        """The next frame from the server, or None at EOF."""
        for _ in range(10_000):
            parsed = parse_frame(self.buf, 0, max_size=2**24, mask_required=False)
            if parsed is not None:
                frame, pos = parsed
                del self.buf[:pos]
                return frame
            data = await self.reader.read(65536)
            if not data:
                return None
            self.buf += data
        raise AssertionError("no frame")

    async def read_until(self, opcode: int) -> Frame:
        """Skip frames until one with ``opcode``."""
        for _ in range(1000):
            frame = await self.read_frame()
            assert frame is not None, f"EOF before opcode {opcode}"
            if frame.opcode == opcode:
                return frame
        raise AssertionError("too many frames")

    async def read_eof(self) -> list[Frame]:
        """Read (ignoring pings) until the server closes TCP; return the frames seen."""
        frames = []
        for _ in range(10_000):
            frame = await self.read_frame()
            if frame is None:
                return frames
            frames.append(frame)
        raise AssertionError("no EOF")

    def send_frame(self, opcode: int, payload: bytes, *, fin: bool = True) -> None:
        header, data = serialize_frame(opcode, payload, fin=fin, mask_key=os.urandom(4))
        self.writer.write(header + data)

    def close(self) -> None:
        self.writer.transport.abort()


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, made with the openssl binary."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a test certificate with openssl: {exc}")
    return cert, key


@pytest.fixture
def tls_contexts(cert_files: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting the server's certificate)."""
    cert, key = cert_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    return server_ctx, client_ctx


def has_ipv6_loopback() -> bool:
    """Whether ::1 can be bound here."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def until(condition: Callable[[], bool], *, rounds: int = 10_000) -> None:
    """Yield to the event loop until ``condition()`` holds (no timed sleep; bounded)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers of this file, for test modules."""
    return SimpleNamespace(
        RawPeer=RawPeer,
        echo=echo,
        uri=ws_uri,
        has_ipv6_loopback=has_ipv6_loopback,
        until=until,
    )
