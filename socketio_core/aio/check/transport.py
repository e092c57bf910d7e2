"""Raw HTTP and WebSocket for the conformance kit: every byte recorded, nothing hidden.

The kit must send what a normal client never would (a PUT, a second parked GET, a frame
"z"), and show the exact bytes on failure, so it does not use the Engine.IO client: each
HTTP request is one connection (``Connection: close``), and a WebSocket is a raw TCP stream
framed with :func:`websocket.check.frame` and read with
:func:`websocket.check.parse_server_frames`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import ssl as ssl_module
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from websocket.check import Received, frame, parse_server_frames

from ...check import CaseFailed

__all__ = ["Closed", "HttpResponse", "Probe", "WsLink"]

TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP answer: status, lower-cased headers, and the body (chunked decoding undone)."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as UTF-8 text (invalid bytes replaced)."""
        return self.body.decode("utf-8", "replace")


class Closed:
    """Returned by :meth:`WsLink.recv` when the server closed the connection."""

    def __init__(self, code: int | None) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"Closed({self.code})"


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, body = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2 :]
    return bytes(out)


class Probe:
    """Opens HTTP requests and WebSocket connections to one server, recording the bytes.

    Args:
        url: the server's base URL, ``http(s)://host:port``.
        path: the Engine.IO path, e.g. ``/socket.io/``.
        timeout: the default time to wait for an answer.
    """

    def __init__(self, url: str, path: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"expected an http:// or ws:// URL, got {url!r}")
        self.secure = parts.scheme in ("https", "wss")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.secure else 80)
        self.netloc = parts.netloc
        self.path = "/" + path.strip("/") + "/"
        self.timeout = timeout
        self.transcript: list[tuple[str, bytes]] = []
        self.links: list[WsLink] = []

    def log(self, direction: str, data: bytes) -> None:
        """Add a line to the transcript."""
        self.transcript.append((direction, data))

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        context = ssl_module.create_default_context() if self.secure else None
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=context), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise CaseFailed(f"cannot connect to {self.host}:{self.port}: {exc!r}") from exc

    async def http(
        self,
        method: str,
        query: str,
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """One HTTP request on its own connection.

        Args:
            method: the method.
            query: the query string, without ``?``.
            body: the request body.
            headers: more request headers.
            timeout: how long to wait for the whole answer (default: the probe's).

        Returns:
            The answer.

        Raises:
            CaseFailed: no complete answer in time.
        """
        reader, writer = await self._open()
        head = f"{method} {self.path}?{query} HTTP/1.1\r\nHost: {self.netloc}\r\n"
        all_headers = {"Connection": "close", **(headers or {})}
        if body or method in ("POST", "PUT"):
            all_headers["Content-Length"] = str(len(body))
            all_headers.setdefault("Content-Type", "text/plain;charset=UTF-8")
        head += "".join(f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
        request = head.encode("latin-1") + body
        self.log(">", request)
        writer.write(request)
        data = bytearray()
        try:
            async with asyncio.timeout(timeout if timeout is not None else self.timeout):
                while chunk := await reader.read(65536):
                    data += chunk
        except TimeoutError:
            self.log("<", bytes(data))
            raise CaseFailed(
                f"{method} ?{query}: no complete answer after "
                f"{timeout if timeout is not None else self.timeout} s"
            ) from None
        except OSError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        self.log("<", bytes(data))
        raw_head, _, raw_body = bytes(data).partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            raise CaseFailed(f"{method} ?{query}: not an HTTP answer") from None
        hdrs: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            raw_body = _dechunk(raw_body)
        elif "content-length" in hdrs:
            with contextlib.suppress(ValueError):
                raw_body = raw_body[: int(hdrs["content-length"])]
        return HttpResponse(status, hdrs, raw_body)

    async def websocket(self, query: str) -> WsLink | HttpResponse:
        """Open a WebSocket to ``path?query``: the link, or the HTTP answer if not 101."""
        reader, writer = await self._open()
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self.path}?{query} HTTP/1.1\r\nHost: {self.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode("latin-1")
        self.log(">", request)
        writer.write(request)
        buf = b""
        try:
            async with asyncio.timeout(self.timeout):
                while b"\r\n\r\n" not in buf:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    buf += chunk
        except (TimeoutError, OSError):
            pass
        head, _, rest = buf.partition(b"\r\n\r\n")
        self.log("<", head + b"\r\n\r\n")
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = 0
        if status != 101:
            writer.close()
            return HttpResponse(status, {}, rest)
        link = WsLink(self, reader, writer, rest)
        self.links.append(link)
        return link

    async def open_ws(self, query: str) -> WsLink:
        """Like :meth:`websocket`, but a refusal fails the case."""
        link = await self.websocket(query)
        if isinstance(link, HttpResponse):
            raise CaseFailed(f"WebSocket ?{query} refused with HTTP {link.status}")
        return link

    async def aclose(self) -> None:
        """Close every WebSocket still open."""
        for link in self.links:
            link.abort()


class WsLink:
    """A raw WebSocket connection (client side): send masked frames, read messages."""

    def __init__(
        self, probe: Probe, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rest: bytes
    ) -> None:
        self.probe = probe
        self.reader = reader
        self.writer = writer
        self.buf = bytearray(rest)
        self.parts: bytearray | None = None
        self.opcode = 0
        self.closed: Closed | None = None
        self._pending: list[str | bytes | Closed] = []
        self._frames: list[Received] = []

    def send_raw(self, data: bytes, shown: bytes | None = None) -> None:
        """Write bytes as they are (``shown`` is what the transcript records)."""
        self.probe.log(">", shown if shown is not None else data)
        with contextlib.suppress(OSError, RuntimeError):
            self.writer.write(data)

    def send(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message in one frame."""
        if isinstance(message, str):
            self.send_raw(frame(TEXT, message.encode()), message.encode())
        else:
            self.send_raw(frame(BINARY, message), b"<binary> " + message)

    def _next_message(self) -> str | bytes | Closed | None:
        self._frames += parse_server_frames(self.buf, 0)
        while self._frames:
            f = self._frames.pop(0)
            if f.opcode == CLOSE:
                code = int.from_bytes(f.payload[:2], "big") if len(f.payload) >= 2 else None
                self.probe.log("<", b"<close frame> " + f.payload)
                self.closed = Closed(code)
                return self.closed
            if f.opcode == PING:
                self.send_raw(frame(PONG, f.payload), b"<pong>")
                continue
            if f.opcode == PONG:
                continue
            if f.opcode in (TEXT, BINARY):
                self.parts, self.opcode = bytearray(), f.opcode
            if self.parts is None:
                continue
            self.parts += f.payload
            if f.fin:
                data = bytes(self.parts)
                self.parts = None
                if self.opcode == TEXT:
                    self.probe.log("<", data)
                    return data.decode("utf-8", "replace")
                self.probe.log("<", b"<binary> " + data)
                return data
        return None

    async def recv(self, timeout: float | None = None) -> str | bytes | Closed:
        """The next message, or :class:`Closed` once the server closed.

        Raises:
            CaseFailed: nothing came in time.
        """
        pending = self._pending
        if pending:
            return pending.pop(0)
        if self.closed is not None:
            return self.closed
        wait = self.probe.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while True:
            while (item := self._next_message()) is not None:
                pending.append(item)
                if isinstance(item, Closed):
                    break
            if pending:
                return pending.pop(0)
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseFailed(f"no message from the server in {wait:g} s")
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), left)
            except TimeoutError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.probe.log("<", b"<TCP closed>")
                self.closed = Closed(None)
                return self.closed
            self.buf += chunk

    async def wait_closed(self, timeout: float) -> bool:
        """Read (answering Engine.IO pings) until the server closes; False if it did not in time."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                item = await self.recv(left)
            except CaseFailed:
                return False
            if isinstance(item, Closed):
                return True
            if item == "2":
                self.send("3")

    def abort(self) -> None:
        """Close the TCP connection without a handshake."""
        self.writer.close()
