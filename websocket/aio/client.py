"""The asyncio WebSocket client: ``connect(uri, ...)``."""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections.abc import Generator, Sequence
from types import TracebackType
from typing import Any

from ..deflate import DeflateOptions
from ..handshake import Accepted, ClientHandshake, HandshakeFailed
from ..protocol import Role
from ..uri import parse_uri
from .connection import Connection
from .options import ConnectionOptions
from .server import open_connection

__all__ = ["connect"]

logger = logging.getLogger(__name__)


class connect:
    """Open a WebSocket connection; await it, or use it as an async context manager.

    Example::

        async with connect("ws://127.0.0.1:8765/") as ws:
            await ws.send("hello")
            print(await ws.recv())

    Args:
        uri: a ``ws://`` or ``wss://`` URI; IPv6 hosts in brackets.
        ssl: an ``ssl.SSLContext`` for ``wss://`` (a default context when omitted).
        origin: the Origin header to send, if any.
        subprotocols: subprotocols to offer, in order of preference.
        compression: permessage-deflate settings to offer, or None for no compression.
        extra_headers: more request headers, as (name, value) pairs.
        open_timeout: seconds for the TCP connection plus the opening handshake.
        max_header_count / max_header_bytes: limits on the server's response head.
        options: limits and timers of the connection (:class:`ConnectionOptions`).
        **connection_kwargs: passed to :func:`asyncio.open_connection` (``local_addr``...).

    Raises:
        InvalidURI: the URI is not a WebSocket URI.
        InvalidHandshake: the server refused or answered wrongly (InvalidStatus carries
            the status, headers and body of a refusal).
        TimeoutError: ``open_timeout`` elapsed.
        OSError: the TCP connection failed.
    """

    def __init__(
        self,
        uri: str,
        *,
        ssl: ssl_module.SSLContext | None = None,
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        compression: DeflateOptions | None = DeflateOptions(),  # noqa: B008
        extra_headers: Sequence[tuple[str, str]] = (),
        open_timeout: float = 10.0,
        max_header_count: int = 100,
        max_header_bytes: int = 16384,
        options: ConnectionOptions | None = None,
        **connection_kwargs: Any,
    ) -> None:
        self.uri = parse_uri(uri)
        self._ssl = ssl
        self._origin = origin
        self._subprotocols = tuple(subprotocols)
        self._compression = compression
        self._extra_headers = tuple(extra_headers)
        self._open_timeout = open_timeout
        self._max_header_count = max_header_count
        self._max_header_bytes = max_header_bytes
        self._options = options or ConnectionOptions()
        self._connection_kwargs = connection_kwargs
        self._connection: Connection | None = None

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._connect().__await__()

    async def __aenter__(self) -> Connection:
        self._connection = await self._connect()
        return self._connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _connect(self) -> Connection:
        uri = self.uri
        ssl: ssl_module.SSLContext | None = None
        if uri.secure:
            ssl = self._ssl if self._ssl is not None else ssl_module.create_default_context()
        elif self._ssl is not None:
            raise ValueError("an SSL context was given for a ws:// URI")
        async with asyncio.timeout(self._open_timeout):
            reader, writer = await asyncio.open_connection(
                uri.host, uri.port, ssl=ssl, **self._connection_kwargs
            )
            try:
                event = await self._handshake(reader, writer)
            except BaseException:
                writer.transport.abort()
                raise
        if isinstance(event, HandshakeFailed):
            writer.close()
            raise event.error
        conn = open_connection(reader, writer, event, Role.CLIENT, self._options)
        conn.start(self._handshake_obj.trailing_data)
        logger.info("= connected to %s:%d%s", uri.host, uri.port, uri.resource)
        return conn

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Accepted | HandshakeFailed:
        handshake = ClientHandshake(
            host=self.uri.host_header,
            resource=self.uri.resource,
            origin=self._origin,
            subprotocols=self._subprotocols,
            deflate=self._compression,
            extra_headers=self._extra_headers,
            max_header_count=self._max_header_count,
            max_header_bytes=self._max_header_bytes,
        )
        self._handshake_obj = handshake
        writer.write(handshake.data_to_send())
        await writer.drain()
        while True:
            event = handshake.next_event()
            if event is not None:
                return event
            data = await reader.read(65536)
            if data:
                handshake.receive_data(data)
            else:
                handshake.receive_eof()
