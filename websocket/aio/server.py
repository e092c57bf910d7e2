"""The asyncio WebSocket server: ``serve(handler, host, port, ...)``.

Each accepted TCP connection runs one task: it reads the opening handshake (bounded by
``handshake_timeout`` and the header limits), optionally lets ``process_request`` answer it as
plain HTTP, completes the upgrade, then hands a :class:`Connection` to the application's
handler. When the handler returns, the connection is closed with 1000; when it raises, the
error is logged with its traceback and the connection is closed with 1011.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Generator, Sequence
from types import TracebackType
from typing import Any

from ..deflate import DeflateOptions
from ..exceptions import ConnectionClosed, LocalProtocolError
from ..handshake import Accepted, HandshakeFailed, Request, Response, ServerHandshake
from ..protocol import Protocol, Role
from .connection import Connection
from .linger import linger_close
from .options import ConnectionOptions

__all__ = ["Server", "open_connection", "serve"]

logger = logging.getLogger(__name__)

Handler = Callable[[Connection], Awaitable[None]]
ProcessRequest = Callable[[Request], "Response | Awaitable[Response | None] | None"]


class Server:
    """A running WebSocket server; use :func:`serve` to create one.

    Attributes:
        connections: the open WebSocket connections.
    """

    def __init__(
        self,
        handler: Handler,
        host: str | Sequence[str] | None,
        port: int | None,
        *,
        ssl: ssl_module.SSLContext | None,
        process_request: ProcessRequest | None,
        subprotocols: Sequence[str],
        compression: DeflateOptions | None,
        check_origin: Callable[[str | None], bool] | None,
        max_header_count: int,
        max_header_bytes: int,
        handshake_timeout: float,
        options: ConnectionOptions,
        server_kwargs: dict[str, Any],
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._ssl = ssl
        self._process_request = process_request
        self._subprotocols = tuple(subprotocols)
        self._compression = compression
        self._check_origin = check_origin
        self._max_header_count = max_header_count
        self._max_header_bytes = max_header_bytes
        self._handshake_timeout = handshake_timeout
        self._options = options
        self._server_kwargs = server_kwargs
        self._server: asyncio.Server | None = None
        self._bound_port: int | None = None
        self.connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> Server:
        """Start listening; returns self."""
        self._server = await asyncio.start_server(
            self._on_client, self._host, self._port, ssl=self._ssl, **self._server_kwargs
        )
        if self.sockets:
            self._bound_port = int(self.sockets[0].getsockname()[1])
        logger.info("= listening on %s", ", ".join(str(s.getsockname()) for s in self.sockets))
        return self

    def __await__(self) -> Generator[Any, None, Server]:
        return self.start().__await__()

    async def __aenter__(self) -> Server:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()

    @property
    def sockets(self) -> tuple[Any, ...]:
        """The listening sockets."""
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def port(self) -> int:
        """The port of the first listening socket (handy with ``port=0``); kept after close().

        Raises:
            RuntimeError: the server was never started.
        """
        if self._bound_port is None:
            raise RuntimeError("the server is not listening; await serve(...) first")
        return self._bound_port

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        assert self._server is not None, "call start() first"
        await self._server.serve_forever()

    def close(self, *, close_connections: bool = True) -> None:
        """Stop listening and close every open connection with 1001 (going away)."""
        if self._server is not None:
            self._server.close()
        if close_connections:
            for conn in list(self.connections):
                self._spawn(conn.close(1001, "server shutting down"))

    async def wait_closed(self) -> None:
        """Wait until the listener and every connection task are done."""
        if self._server is not None:
            await self._server.wait_closed()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            handshake = await self._handshake(reader, writer)
        except (ConnectionError, OSError) as exc:
            logger.debug("! connection lost during the handshake: %s", exc)
            writer.close()
            return
        if handshake is None:
            return
        conn, trailing = handshake
        conn.start(trailing)
        self.connections.add(conn)
        try:
            await self._handler(conn)
        except ConnectionClosed as exc:
            # The peer went away while the handler was using the connection: not a bug.
            logger.info("= handler ended by the connection closing: %s", exc)
        except Exception:
            logger.error("! connection handler failed", exc_info=True)
            await conn.close(1011, "internal error")
        else:
            await conn.close(1000)
        finally:
            self.connections.discard(conn)

    async def _answer_http(self, handshake: ServerHandshake, request: Request) -> bool:
        """Run process_request; True if it answered (or failed: 500), False to upgrade."""
        assert self._process_request is not None
        try:
            response = self._process_request(request)
            if inspect.isawaitable(response):
                response = await response
        except Exception:
            logger.error("! process_request failed", exc_info=True)
            response = _INTERNAL_ERROR
        if response is None:
            return False
        try:
            handshake.reject(response.status, response.headers, response.body)
        except LocalProtocolError:
            logger.error("! process_request returned an invalid response", exc_info=True)
            with contextlib.suppress(LocalProtocolError):  # h11 may refuse any further output
                handshake.reject(
                    _INTERNAL_ERROR.status, _INTERNAL_ERROR.headers, _INTERNAL_ERROR.body
                )
        return True

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[Connection, bytes] | None:
        handshake = ServerHandshake(
            subprotocols=self._subprotocols,
            deflate=self._compression,
            check_origin=self._check_origin,
            max_header_count=self._max_header_count,
            max_header_bytes=self._max_header_bytes,
        )
        peer = writer.get_extra_info("peername")
        event: Request | Accepted | HandshakeFailed | None
        try:
            async with asyncio.timeout(self._handshake_timeout):
                event = await _read_request(reader, handshake)
                if (
                    isinstance(event, Request)
                    and self._process_request is not None
                    and await self._answer_http(handshake, event)
                ):
                    event = None
        except TimeoutError:
            logger.info("! handshake timeout from %s", peer)
            writer.transport.abort()
            return None
        if isinstance(event, Request):
            event = handshake.accept(event)
        writer.write(handshake.data_to_send())
        if not isinstance(event, Accepted):
            if event is not None:
                # ServerHandshake logged the refusal at INFO already: one line per bad request.
                logger.debug("! handshake from %s refused: %s", peer, event.error)
                # Half-close and drain (bounded) so that the error response is not lost to a
                # TCP reset over unread input (e.g. the body of a smuggling attempt).
                await linger_close(reader, writer)
            else:
                await _close_writer(writer)
            return None
        logger.info("= connection open from %s %s", peer, event.request.target)
        conn = open_connection(reader, writer, event, Role.SERVER, self._options)
        return conn, handshake.trailing_data


_INTERNAL_ERROR = Response(
    500,
    (("Content-Type", "text/plain; charset=utf-8"),),
    b"Failed to open a WebSocket connection: internal server error.\n",
)


def open_connection(
    reader: asyncio.StreamReader | None,
    writer: asyncio.StreamWriter | asyncio.Transport,
    accepted: Accepted,
    role: Role,
    options: ConnectionOptions,
) -> Connection:
    """Wrap a connection whose opening handshake is done into a :class:`Connection`.

    Call :meth:`Connection.start` or :meth:`Connection.run` with the handshake's trailing
    data next: the transport is then switched to the connection (no stream is read any
    more), and what ``reader`` still buffered is fed after the trailing data. Layers above
    that parse HTTP themselves (Engine.IO's standalone server) use this after answering an
    upgrade with :class:`~websocket.http11.UpgradePolicy`; one that reads with a protocol of
    its own passes ``None`` and the transport.
    """
    protocol = Protocol(
        role,
        now=asyncio.get_running_loop().time(),
        compressor=accepted.compressor,
        **options.protocol_kwargs(),
    )
    return Connection(
        protocol,
        reader,
        writer,
        subprotocol=accepted.subprotocol,
        request_headers=accepted.request.headers,
        response_headers=accepted.response.headers,
        path=accepted.request.target,
        max_queue=options.max_queue,
        max_drain=options.max_drain,
    )


async def _read_request(
    reader: asyncio.StreamReader, handshake: ServerHandshake
) -> Request | HandshakeFailed:
    while True:
        event = handshake.next_event()
        if event is not None:
            return event
        data = await reader.read(65536)
        if data:
            handshake.receive_data(data)
        else:
            handshake.receive_eof()


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    try:
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


def serve(
    handler: Handler,
    host: str | Sequence[str] | None = None,
    port: int | None = None,
    *,
    ssl: ssl_module.SSLContext | None = None,
    process_request: ProcessRequest | None = None,
    subprotocols: Sequence[str] = (),
    compression: DeflateOptions | None = DeflateOptions(),  # noqa: B008
    check_origin: Callable[[str | None], bool] | None = None,
    max_header_count: int = 100,
    max_header_bytes: int = 16384,
    handshake_timeout: float = 10.0,
    options: ConnectionOptions | None = None,
    **server_kwargs: Any,
) -> Server:
    """Create a WebSocket server; await it, or use it as an async context manager.

    Example::

        async with serve(echo, "127.0.0.1", 8765) as server:
            await server.serve_forever()

    Args:
        handler: coroutine function called with each open :class:`Connection`.
        host: address(es) to bind, as for :func:`asyncio.start_server`; IPv4 and IPv6.
        port: port to bind; 0 picks a free one (see :attr:`Server.port`).
        ssl: an ``ssl.SSLContext`` for ``wss://``.
        process_request: called with each request before the upgrade; returning a
            :class:`~websocket.handshake.Response` answers it as plain HTTP instead.
        subprotocols: subprotocols to accept, in order of preference.
        compression: permessage-deflate settings, or None to refuse compression.
        check_origin: called with the Origin header (or None); False refuses with 403.
        max_header_count: most header lines in the request (431 above).
        max_header_bytes: largest request head in bytes (431 above).
        handshake_timeout: seconds a client has to complete the handshake.
        options: limits and timers of each connection (:class:`ConnectionOptions`).
        **server_kwargs: passed to :func:`asyncio.start_server` (``reuse_port``, ``sock``...).
    """
    return Server(
        handler,
        host,
        port,
        ssl=ssl,
        process_request=process_request,
        subprotocols=subprotocols,
        compression=compression,
        check_origin=check_origin,
        max_header_count=max_header_count,
        max_header_bytes=max_header_bytes,
        handshake_timeout=handshake_timeout,
        options=options or ConnectionOptions(),
        server_kwargs=server_kwargs,
    )
