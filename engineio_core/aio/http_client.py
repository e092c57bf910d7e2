"""A small HTTP/1.1 client on asyncio streams and h11, for the Engine.IO polling transport.

Theory of operation
-------------------
An :class:`HTTPClient` talks to one origin (``http://host:port`` or ``https://...``). Each
:meth:`~HTTPClient.request` takes an idle keep-alive connection, or opens one when none is
idle, and sends one request on it; h11 does the framing (``Content-Length``, chunked, the end of
a response delimited by the connection closing). When the exchange ends cleanly and both sides
agree to keep the connection alive, it goes back to the idle pool for the next request.
Polling runs one long GET and, next to it, short POSTs, so a client ends up with two
connections reused for the whole session, as browsers do.

Rules this file keeps
---------------------
* Every failure is a :exc:`engineio_core.exceptions.TransportError` with the cause chained: a
  refused or lost connection, a timeout, a malformed response (h11 is strict), or a body over
  ``max_response_size`` bytes (checked against ``Content-Length`` before reading, and while
  reading otherwise). The connection involved is closed, never reused.
* A request on a reused connection that fails before any byte of the response arrived is
  retried once on a fresh connection: the server may have closed the idle connection just as
  we reused it (RFC 9112 section 9.3.1 allows retrying such requests).
* ``timeout`` bounds the whole exchange (connect, write, read the full response); cancelling
  a request closes its connection.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from types import EllipsisType

import h11

from ..exceptions import TransportError

__all__ = ["HTTPClient", "Response"]

logger = logging.getLogger(__name__)

READ_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response.

    Attributes:
        status: the status code.
        headers: the header fields, names lower-cased, in order.
        body: the whole body.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of the header ``name`` (case-insensitive), or ``None``."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


class _Connection:
    """One keep-alive connection: a stream pair and its h11 state."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.received_any = False

    def close(self) -> None:
        """Close the transport without waiting."""
        self.writer.transport.abort()


class _Retry(Exception):
    """A reused connection failed before the response started: try a fresh one."""


class HTTPClient:
    """An HTTP/1.1 client for one origin, reusing keep-alive connections.

    Args:
        base_url: ``http://host[:port]`` or ``https://host[:port]``; a path is ignored.
        ssl: the TLS context for ``https`` (a default, verifying one when omitted).
        timeout: the default seconds for a whole request.
        max_response_size: the largest response body accepted, in bytes.
        max_idle: the most idle connections kept for reuse.

    Raises:
        ValueError: the URL is not ``http`` or ``https``, or has no host.
    """

    def __init__(
        self,
        base_url: str,
        *,
        ssl: ssl_module.SSLContext | None = None,
        timeout: float | None = 5.0,
        max_response_size: int = 16 * 1024 * 1024,
        max_idle: int = 2,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http:// or https:// URL")
        self.secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if parts.port is None else f"{host}:{self.port}"
        self._ssl: ssl_module.SSLContext | None = None
        if self.secure:
            self._ssl = ssl if ssl is not None else ssl_module.create_default_context()
        self.timeout = timeout
        self.max_response_size = max_response_size
        self.max_idle = max_idle
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._closed = False

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        timeout: float | EllipsisType | None = ...,
    ) -> Response:
        """Send a request and read the whole response.

        Args:
            method: the method, e.g. ``"GET"``.
            target: the path and query, e.g. ``"/engine.io/?EIO=4&transport=polling"``.
            headers: more request headers; ``Host`` and ``Content-Length`` are added.
            body: the request body.
            timeout: seconds for the whole exchange; ``None`` for no limit; the client's
                default when omitted.

        Returns:
            The response.

        Raises:
            TransportError: connection refused or lost, timeout, malformed or oversized
                response, or the client is closed.
        """
        if self._closed:
            raise TransportError("the HTTP client is closed")
        limit = self.timeout if timeout is ... else timeout
        assert not isinstance(limit, EllipsisType)
        fields = [("Host", self.host_header), *headers]
        if body or method.upper() in ("POST", "PUT"):
            fields.append(("Content-Length", str(len(body))))
        try:
            async with asyncio.timeout(limit):
                try:
                    return await self._attempt(method, target, fields, body, reuse=True)
                except _Retry:
                    logger.debug("= stale keep-alive connection, retrying %s", method)
                    return await self._attempt(method, target, fields, body, reuse=False)
        except TimeoutError as exc:
            raise TransportError(f"{method} {target}: no response within {limit} s") from exc
        except (OSError, h11.ProtocolError) as exc:
            raise TransportError(f"{method} {target}: {exc}") from exc

    async def aclose(self) -> None:
        """Close every connection, idle or busy; later requests fail."""
        self._closed = True
        conns, self._idle = list(self._all), []
        self._all.clear()
        for conn in conns:
            conn.close()

    async def _attempt(
        self, method: str, target: str, fields: list[tuple[str, str]], body: bytes, *, reuse: bool
    ) -> Response:
        """Run one exchange on an idle connection (if ``reuse``) or a new one."""
        reused = False
        while reuse and self._idle:
            conn = self._idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                reused = True
                break
            self._discard(conn)
        if not reused:
            conn = await self._open()
        conn.received_any = False
        try:
            response = await self._exchange(conn, method, target, fields, body)
        except (OSError, h11.ProtocolError) as exc:
            self._discard(conn)
            if reused and not conn.received_any:
                raise _Retry from exc
            raise
        except BaseException:
            self._discard(conn)
            raise
        self._release(conn)
        return response

    async def _open(self) -> _Connection:
        """Open a new connection."""
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self._ssl, limit=READ_CHUNK
        )
        conn = _Connection(reader, writer)
        self._all.add(conn)
        return conn

    async def _exchange(
        self,
        conn: _Connection,
        method: str,
        target: str,
        fields: list[tuple[str, str]],
        body: bytes,
    ) -> Response:
        """Write the request and read the response on ``conn``."""
        h = conn.h11
        data = h.send(h11.Request(method=method, target=target, headers=fields))
        if body:
            data = (data or b"") + (h.send(h11.Data(data=body)) or b"")
        data = (data or b"") + (h.send(h11.EndOfMessage()) or b"")
        conn.writer.write(data)
        await conn.writer.drain()
        status = 0
        headers: tuple[tuple[str, str], ...] = ()
        chunks: list[bytes] = []
        size = 0
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                chunk = await conn.reader.read(READ_CHUNK)
                if chunk:
                    conn.received_any = True
                h.receive_data(chunk)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = tuple(
                    (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in event.headers
                )
                length = next((v for k, v in headers if k == "content-length"), None)
                if length is not None and int(length) > self.max_response_size:
                    raise TransportError(
                        f"response body of {length} bytes is over {self.max_response_size}"
                    )
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.max_response_size:
                    raise TransportError(f"response body over {self.max_response_size} bytes")
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return Response(status, headers, b"".join(chunks))
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("connection closed before a response")
            # h11.InformationalResponse (1xx): keep reading.

    def _release(self, conn: _Connection) -> None:
        """Return a connection to the idle pool, or close it if it cannot be reused."""
        h = conn.h11
        if (
            not self._closed
            and h.our_state is h11.DONE
            and h.their_state is h11.DONE
            and len(self._idle) < self.max_idle
        ):
            h.start_next_cycle()
            self._idle.append(conn)
        else:
            self._discard(conn)

    def _discard(self, conn: _Connection) -> None:
        """Close a connection and forget it."""
        self._all.discard(conn)
        conn.close()
