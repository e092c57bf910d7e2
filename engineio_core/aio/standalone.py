"""The standalone front door: HTTP/1.1 (h11) and WebSocket on asyncio streams.

Theory of operation
-------------------
Each TCP connection runs exactly one task, its reader. It parses requests with h11, one after
the other on a keep-alive connection, and never waits for anything but the network:

* a polling request goes to :meth:`AsyncServer.handle_http` with a ``respond`` callback that
  writes the response through h11. A GET the session parks is answered later, by whoever
  produces its data (another connection's POST, a timer, the application); meanwhile the
  reader keeps reading, so a client that goes away is noticed at once and the session is told
  (an aborted GET closes the session, as the spec requires);
* a WebSocket upgrade is validated with :class:`websocket.http11.UpgradePolicy`, answered with
  a 101 through the same h11 connection, and from then on the same task reads WebSocket frames
  and hands each message to the session (:meth:`websocket.aio.Connection.run`).

The polling fast path: between requests, with nothing left in h11's buffer, the bytes read go
to :class:`~engineio_core.http_fast.FastRequestParser`, which recognises the GET and POST a
connected Engine.IO client sends (the requests of nearly every polling message) and answers
them without h11, in one write (:func:`~engineio_core.http_fast.encode_response`). Whatever it
declines (a handshake with odd headers, an upgrade, ``Connection: close``, anything malformed
or over a limit) is handed to h11 with every byte read so far, and h11 parses on until it is
between requests again with an empty buffer. h11 is the reference: ``fast_path=False`` sends
every request through it, and the tests run the hardening suites both ways.

Limits: the request head is bounded by ``max_header_bytes`` and ``max_header_count`` (431
above, checked on the parsed head too, so they hold whatever the TCP read boundaries were),
each request must arrive within ``request_timeout`` once started, a keep-alive connection with
no request in flight is closed after ``idle_timeout``, and a POST body over
``max_http_buffer_size`` is answered with 413 without reading the rest.

Strict HTTP/1.1: every malformed request (h11's errors, in the head or in a chunked body) is
answered with 400, 413 or 431 and ``Connection: close``, logged in one INFO line; a request
with both Content-Length and Transfer-Encoding is refused with 400 (RFC 9112 section 6.1).
After an error response the connection is half-closed and the peer's input drained, bounded in
bytes and time, before the socket closes, so the response is not destroyed by a TCP reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl as ssl_module
import urllib.parse
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import h11

from websocket.aio import ConnectionOptions
from websocket.aio.linger import linger_close
from websocket.aio.server import open_connection
from websocket.deflate import DeflateOptions
from websocket.exceptions import ConnectionClosed, InvalidHandshake, InvalidVersion
from websocket.frames import PreparedMessage
from websocket.http11 import Accepted, Request, Response, UpgradePolicy, check_request_head
from websocket.protocol import Role

from ..http_fast import FastHead, FastRequestParser, Verdict, encode_response
from ..request import HTTPRequest
from ..static import StaticFiles, resolve_static
from .front import PreparedResponse, Respond
from .session import WebSocketTarget

__all__ = ["FrontDoorServer", "StandaloneServer"]

logger = logging.getLogger(__name__)

READ_CHUNK = 65536
SERVER_HEADER = "socketio-stack"


class _SharedFrames:
    """The last message written, prepared as WebSocket frame bytes.

    A broadcast hands the same encoded message object to every recipient in one synchronous
    loop, so a one-entry identity cache turns N encodings into one: every connection that
    does not compress the message writes the same frame bytes.
    """

    __slots__ = ("message", "prepared")

    def __init__(self) -> None:
        self.message: object = None
        self.prepared: PreparedMessage | None = None

    def get(self, message: str | bytes) -> PreparedMessage:
        prepared = self.prepared
        if message is not self.message or prepared is None:
            prepared = self.prepared = PreparedMessage(message)
            self.message = message
        return prepared


class _WebSocketAdapter:
    """:class:`websocket.aio.Connection` as a session's :class:`WebSocketTransport`."""

    __slots__ = ("_conn", "_shared")

    def __init__(self, conn: Any, shared: _SharedFrames) -> None:
        self._conn = conn
        self._shared = shared

    def write(self, message: str | bytes) -> None:
        try:  # noqa: SIM105 (a per-message path: cheaper than contextlib.suppress)
            self._conn.write(self._shared.get(message))
        except ConnectionClosed:
            pass  # the reader reports the end to the session

    def close(self) -> None:
        self._conn.start_closing()

    @property
    def backlog(self) -> int:
        return int(self._conn.write_buffer_size)


class FrontDoorServer(Protocol):
    """What a front door needs from the Engine.IO server (implemented by ``AsyncServer``)."""

    @property
    def max_http_buffer_size(self) -> int:
        """Largest message or POST body in bytes."""

    @property
    def websocket_compression(self) -> bool:
        """Whether permessage-deflate is offered."""

    async def handle_http(
        self, request: HTTPRequest, body: bytes | None, respond: Respond
    ) -> Callable[[], None] | None:
        """Answer one polling request through ``respond``; returns an abort for a parked GET."""

    async def websocket_target(self, request: HTTPRequest) -> WebSocketTarget | PreparedResponse:
        """The session a WebSocket request attaches to, or the refusal to send."""

    async def shutdown(self) -> None:
        """Close every session now."""


class StandaloneServer:
    """Serves an :class:`AsyncServer` on a TCP port; see :meth:`AsyncServer.serve`.

    Args:
        server: the Engine.IO server.
        host: address(es) to bind; port: the port (0 for a free one).
        engineio_path: the path prefix of Engine.IO requests.
        ssl: an ``ssl.SSLContext`` for https / wss.
        fallback: called with requests for other paths; returns the response (default 404).
        static_files: python-engineio's static file rules (:mod:`engineio_core.static`),
            served for GET and HEAD on other paths before ``fallback``.
        max_header_bytes: largest request head in bytes (431 above).
        max_header_count: most header lines in a request head (431 above).
        request_timeout: seconds for a started request to arrive whole.
        idle_timeout: seconds a keep-alive connection may stay idle.
        reuse_port: bind with ``SO_REUSEPORT``, so that several processes share the port
            (``python -m socketio_core serve --workers N``).
        fast_path: parse the polling requests of connected clients with
            :class:`~engineio_core.http_fast.FastRequestParser` (h11 parses everything else);
            False parses every request with h11.
    """

    def __init__(
        self,
        server: FrontDoorServer,
        host: str | None,
        port: int,
        *,
        engineio_path: str = "engine.io",
        ssl: ssl_module.SSLContext | None = None,
        fallback: Callable[[HTTPRequest], PreparedResponse] | None = None,
        static_files: StaticFiles | None = None,
        max_header_bytes: int = 16384,
        max_header_count: int = 100,
        request_timeout: float = 10.0,
        idle_timeout: float = 120.0,
        reuse_port: bool = False,
        fast_path: bool = True,
    ) -> None:
        self.server = server
        self.reuse_port = reuse_port
        self.host = host
        self._port = port
        self.path = "/" + engineio_path.strip("/") + "/"
        self.ssl = ssl
        self.fallback = fallback
        self.static_files: StaticFiles = static_files or {}
        self.max_header_bytes = max_header_bytes
        self.max_header_count = max_header_count
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self._listener: asyncio.Server | None = None
        self.shared_frames = _SharedFrames()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ws_options = ConnectionOptions(
            max_size=server.max_http_buffer_size,
            ping_interval=None,  # Engine.IO has a heartbeat of its own
        )
        #: The polling fast path (:mod:`engineio_core.http_fast`); h11 takes every request
        #: it declines. ``fast_path=False`` sends every request through h11.
        self.fast_path = fast_path
        self.upgrade_policy = UpgradePolicy(
            deflate=DeflateOptions() if server.websocket_compression else None,
            server_header=SERVER_HEADER,
        )

    async def start(self) -> StandaloneServer:
        """Start listening; returns self."""
        self._listener = await asyncio.start_server(
            self._on_client, self.host, self._port, ssl=self.ssl, reuse_port=self.reuse_port or None
        )
        logger.info("= Engine.IO listening on %s", [s.getsockname() for s in self.sockets])
        return self

    def __await__(self) -> Generator[Any, None, StandaloneServer]:
        return self.start().__await__()

    async def __aenter__(self) -> StandaloneServer:
        if self._listener is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def sockets(self) -> tuple[Any, ...]:
        """The listening sockets."""
        return tuple(self._listener.sockets) if self._listener is not None else ()

    @property
    def port(self) -> int:
        """The bound port of the first listening socket."""
        return int(self.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        """Serve until cancelled; then close every session and connection."""
        if self._listener is None:
            await self.start()
        assert self._listener is not None
        try:
            await self._listener.serve_forever()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop listening, close every session, and end every connection task."""
        if self._listener is not None:
            await _stop_accepting(self._listener)
            self._listener.close()
        await self.server.shutdown()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._listener is not None:
            await self._listener.wait_closed()

    # ------------------------------------------------------------------ per connection

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection: _HTTPConnection | None = _HTTPConnection(self, reader, writer)
        try:
            assert connection is not None
            await connection.run()
            if connection.failed:
                # An error response went out: let it reach the peer before the socket closes.
                await linger_close(reader, writer)
            websocket = connection.websocket
            if websocket is not None:
                connection = None  # an upgraded connection keeps nothing of its HTTP side
                await websocket()
        except (ConnectionError, OSError) as exc:
            logger.debug("! connection lost: %s", exc)
        except asyncio.CancelledError:
            # close() cancels connection tasks. This is the task's outermost coroutine, so
            # the cancellation ends here: on Python 3.11, asyncio's start_server callback calls
            # task.exception() on the finished task, which raises for a cancelled one and
            # gets logged as "Exception in callback" (fixed in 3.12).
            logger.debug("= connection task cancelled")
        finally:
            # However the connection ended (EOF, reset, timeout, cancelled), a GET still
            # parked on it will never be answered: the session must hear of it now.
            if connection is not None:
                connection.abort_parked_get()
            self._tasks.discard(task)
            writer.close()


async def _stop_accepting(listener: asyncio.Server) -> None:
    """Stop accepting, then let connections accepted meanwhile attach to the server.

    CPython 3.11 sets up an accepted connection in a task of its own; if ``Server.close()``
    runs between the accept and that task's first step, the new transport fails to attach
    and is never closed (a leaked socket). Removing the listening sockets' readers first and
    yielding once lets every accepted connection attach, so ``close()`` then sees it.
    """
    loop = asyncio.get_running_loop()
    for sock in listener.sockets:
        with contextlib.suppress(NotImplementedError, ValueError, OSError):
            loop.remove_reader(sock.fileno())
    for _ in range(2):
        await asyncio.sleep(0)


class _HTTPConnection:
    """One keep-alive HTTP connection; see the module docstring."""

    def __init__(
        self, front: StandaloneServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.front = front
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=front.max_header_bytes)
        peer = writer.get_extra_info("peername")
        self.client = (str(peer[0]), int(peer[1])) if peer else None
        self.scheme = "https" if front.ssl is not None else "http"
        self.abort_parked: Callable[[], None] | None = None
        self.request_deadline: float | None = None
        self.closed = False
        self.failed = False  # an error response was sent: linger before closing
        self.websocket: Callable[[], Coroutine[Any, Any, None]] | None = None
        # The fast path: while h11 is between requests with nothing buffered, bytes read go
        # to ``buffer`` and the fast parser; what it declines goes to h11, which then parses
        # until it is between requests again with nothing buffered.
        self.parser = FastRequestParser(
            front.path,
            max_header_bytes=front.max_header_bytes,
            max_header_count=front.max_header_count,
            max_body_size=front.server.max_http_buffer_size,
        )
        self.fast = front.fast_path and self.parser.enabled
        self.buffer = bytearray()
        self.head: FastHead | None = None  # a fast head whose body is still arriving
        self.fast_pending = False  # a fast request awaits its response

    async def run(self) -> None:
        while not self.closed:
            if self.fast:
                if not await self._fast_step():
                    return
                continue
            buffered = len(self.h11.trailing_data[0])
            try:
                event = self.h11.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    if not await self._read(event is h11.PAUSED):
                        return
                elif isinstance(event, h11.Request):
                    # The head's size on the wire: h11 consumed exactly it from its buffer.
                    problem = check_request_head(
                        event.headers,
                        buffered - len(self.h11.trailing_data[0]),
                        max_header_count=self.front.max_header_count,
                        max_header_bytes=self.front.max_header_bytes,
                    )
                    if problem is not None:
                        self._bad_request(*problem)
                        return
                    await self._handle(event)
                elif isinstance(event, h11.ConnectionClosed):
                    return
            except h11.RemoteProtocolError as exc:
                # A malformed head, or a malformed chunked body met by _read_body.
                self._bad_request(exc.error_status_hint, str(exc))
                return
            # Data / EndOfMessage outside a handled request cannot happen: _handle reads them.

    async def _fast_step(self) -> bool:
        """Read, parse or answer one fast-path request; False when the connection is over."""
        if self.fast_pending:
            return await self._read(True)  # a response is due first: only watch for EOF
        buffer = self.buffer
        if not buffer:
            return await self._read(False)
        head = self.head or self.parser.parse_head(buffer)
        if head is Verdict.NEED_DATA:
            return await self._read(False)
        if head is Verdict.NOT_MINE:
            self.fast = False
            self.h11.receive_data(bytes(buffer))
            buffer.clear()
            return True
        end = head.head_size + head.body_size
        if len(buffer) < end:
            self.head = head  # parsed once, whatever the body's read boundaries
            return await self._read(False)
        self.head = None
        body = bytes(buffer[head.head_size : end]) if head.method == "POST" else None
        del buffer[:end]
        request = HTTPRequest(
            method=head.method,
            path=self.front.path,
            query_string=head.query_string,
            headers=head.headers,
            client=self.client,
            scheme=self.scheme,
        )
        self.request_deadline = None  # the request has arrived whole
        self.fast_pending = True
        abort = await self.front.server.handle_http(request, body, self._respond)
        # Only a request still unanswered can be aborted by the client going away.
        self.abort_parked = abort if self.fast_pending else None
        return True

    async def _read(self, paused: bool) -> bool:
        """Read more bytes into h11 (or the fast path's buffer); False when the connection is
        over."""
        if self.h11.their_state is h11.DONE and self.h11.our_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        if self.fast:
            idle = paused or not self.buffer
        elif (
            self.front.fast_path
            and self.parser.enabled
            and self.h11.their_state is h11.IDLE
            and self.h11.our_state is h11.IDLE
            and not self.h11.trailing_data[0]
        ):
            self.fast = True  # h11 is between requests with nothing buffered: hand back
            return True
        else:
            # Idle: no byte of the next request has arrived yet (h11 stays IDLE while it
            # holds a partial request head, hence the look at its buffer).
            idle = paused or (self.h11.their_state is h11.IDLE and not self.h11.trailing_data[0])
        loop = asyncio.get_running_loop()
        deadline: float | None
        if self.abort_parked:
            deadline = None
        elif idle:
            self.request_deadline = None
            deadline = loop.time() + self.front.idle_timeout
        else:
            # One deadline for the whole request, head and body: a client trickling a byte
            # at a time cannot hold the connection beyond request_timeout.
            if self.request_deadline is None:
                self.request_deadline = loop.time() + self.front.request_timeout
            deadline = self.request_deadline
        try:
            async with asyncio.timeout_at(deadline):
                data = await self.reader.read(READ_CHUNK)
        except TimeoutError:
            logger.info("! %s: %s timeout", self.client, "idle" if idle else "request")
            if not idle:
                self._send_error(408, "request timeout")
            return False
        if not data:
            self.abort_parked_get()
            return False
        if self.fast:
            self.buffer += data
        elif self.h11.their_state is not h11.SWITCHED_PROTOCOL:
            self.h11.receive_data(data)
        return True

    def _bad_request(self, status: int, why: str) -> None:
        """Answer a malformed request with ``status`` and close: one INFO line, no traceback."""
        logger.info("! bad HTTP request from %s (%d): %s", self.client, status, why)
        self.failed = True
        self._send_error(status, why)

    def abort_parked_get(self) -> None:
        """Tell the session that the GET parked on this connection will never be answered."""
        if self.abort_parked is not None:
            abort, self.abort_parked = self.abort_parked, None
            abort()

    async def _read_body(self, limit: int) -> bytes | None:
        """The request body, or None once it exceeds ``limit`` bytes."""
        parts: list[bytes] = []
        size = 0
        while True:
            event = self.h11.next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    return None
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            elif event is h11.NEED_DATA:
                if not await self._read(False):
                    raise ConnectionResetError("connection closed in the middle of a body")
            else:
                raise ConnectionResetError(f"unexpected {event!r} in a body")

    async def _handle(self, event: h11.Request) -> None:
        target = event.target.decode("latin-1")
        raw_path, _, query = target.partition("?")
        headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers
        )
        request = HTTPRequest(
            method=event.method.decode("ascii"),
            path=urllib.parse.unquote(raw_path),
            query_string=query,
            headers=headers,
            client=self.client,
            scheme=self.scheme,
        )
        if request.path.rstrip("/") + "/" != self.front.path:
            await self._read_body(self.front.server.max_http_buffer_size)
            if await self._static(request):
                return
            fallback = self.front.fallback
            if fallback is not None:
                self._write_response(fallback(request))
            else:
                self._send_error(404, "not found")
            return
        upgrade = request.header("upgrade")
        if upgrade is not None and upgrade.lower() == "websocket":
            await self._upgrade(event, request)
            return
        body = None
        if request.method == "POST":
            body = await self._read_body(self.front.server.max_http_buffer_size)
            if body is None:
                # The rest of the body is never read: this connection cannot carry on.
                self.closed = self.failed = True
        else:
            await self._read_body(0)
        self.request_deadline = None  # the request has arrived whole
        abort = await self.front.server.handle_http(request, body, self._respond)
        # Only a request still unanswered can be aborted by the client going away.
        self.abort_parked = abort if self.h11.our_state is h11.SEND_RESPONSE else None

    async def _static(self, request: HTTPRequest) -> bool:
        """Serve a static file (GET / HEAD) when ``static_files`` maps the path to one."""
        static_files = self.front.static_files
        if not static_files or request.method not in ("GET", "HEAD"):
            return False
        static = resolve_static(request.path, static_files)
        if static is None:
            return False
        try:
            body = await asyncio.to_thread(Path(static.filename).read_bytes)
        except OSError:
            return False
        headers = [("Content-Type", static.content_type), ("Content-Length", str(len(body)))]
        self._write_response(
            PreparedResponse(200, headers, b"" if request.method == "HEAD" else body)
        )
        return True

    def _respond(self, response: PreparedResponse) -> None:
        """Write a response (now, or later for a parked GET), through h11 or the fast path."""
        self.abort_parked = None
        if self.writer.is_closing():
            return
        if self.fast_pending:
            self.fast_pending = False
            self._write_fast(response)
        elif self.h11.our_state is h11.SEND_RESPONSE:
            self._write_response(response)

    def _write_fast(self, response: PreparedResponse) -> None:
        """Write the response to a fast-path request: one write, no h11."""
        encoded = encode_response(
            response.status,
            [*response.headers, ("Server", SERVER_HEADER)],
            response.body,
            close=self.closed,
        )
        if encoded is None:
            logger.error("! cannot send response: a header is not valid HTTP")
            self.closed = True
            return
        data, close = encoded
        self.writer.write(data)
        if close:
            self.closed = True
            self.writer.close()

    def _write_response(self, response: PreparedResponse) -> None:
        headers = [*response.headers, ("Server", SERVER_HEADER)]
        if self.closed:
            headers.append(("Connection", "close"))
        try:
            data = self.h11.send(h11.Response(status_code=response.status, headers=headers))
            data = (data or b"") + (self.h11.send(h11.Data(data=response.body)) or b"")
            data += self.h11.send(h11.EndOfMessage()) or b""
        except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
            # UnicodeEncodeError: h11 encodes str headers as ASCII (a non-ASCII cookie value).
            logger.error("! cannot send response: %s", exc)
            self.closed = True
            return
        self.writer.write(data)
        if self.h11.our_state is h11.MUST_CLOSE:
            self.closed = True
            self.writer.close()
        elif self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()

    def _send_error(
        self, status: int, message: str, extra: list[tuple[str, str]] | None = None
    ) -> None:
        self.closed = True
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = f"{message}\n".encode()
        headers = [
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("Content-Length", str(len(body))),
        ]
        response = PreparedResponse(status, [*headers, *(extra or ())], body)
        self._write_response(response)

    # ------------------------------------------------------------------ WebSocket

    async def _upgrade(self, event: h11.Request, request: HTTPRequest) -> None:
        target = await self.front.server.websocket_target(request)
        if isinstance(target, PreparedResponse):
            await self._read_body(0)
            self.closed = True
            self._write_response(target)
            return
        ws_request = Request(
            method=request.method,
            target=event.target.decode("latin-1"),
            headers=request.headers,
            http_version=event.http_version.decode("ascii"),
        )
        try:
            subprotocol, compressor, headers = self.front.upgrade_policy.negotiate(ws_request)
            try:
                body = await self._read_body(0)
            except h11.RemoteProtocolError as exc:
                raise InvalidHandshake(f"malformed HTTP request: {exc}") from exc
            if body != b"":
                raise InvalidHandshake("a WebSocket handshake request has no body")
        except InvalidHandshake as exc:
            logger.info("! WebSocket upgrade refused: %s", exc)
            extra = []
            if isinstance(exc, InvalidVersion):
                # RFC 6455 section 4.2.2: a server that does not understand the version "MUST
                # abort the WebSocket handshake described herein and instead send an
                # appropriate HTTP error code (such as 426 Upgrade Required) and a
                # |Sec-WebSocket-Version| header field indicating the version(s) the server is
                # capable of understanding" (section 4.4).
                extra.append(("Sec-WebSocket-Version", "13"))
            self.failed = True
            self._send_error(exc.status, str(exc), extra)
            target.handshake_failed()
            return
        self.writer.write(
            self.h11.send(h11.InformationalResponse(status_code=101, headers=headers)) or b""
        )
        trailing, _ = self.h11.trailing_data
        # The 101's headers are not kept: nothing reads them later, and every idle connection
        # would hold a copy.
        accepted = Accepted(ws_request, Response(101, ()), subprotocol, compressor)
        conn = open_connection(
            self.reader, self.writer, accepted, Role.SERVER, self.front.ws_options
        )
        self.closed = True  # whatever happens, this TCP connection ends with the WebSocket
        # Run it from _on_client, once this object and the HTTP request's frames are gone:
        # an idle WebSocket keeps only what it needs (memory per connection).
        self.websocket = functools.partial(
            _run_websocket, conn, target, self.front.shared_frames, trailing
        )


async def _run_websocket(
    conn: Any, target: WebSocketTarget, shared: _SharedFrames, trailing: bytes
) -> None:
    """Read an accepted WebSocket in the connection's task, feeding its session."""
    if not target.attach_websocket(_WebSocketAdapter(conn, shared)):
        conn.start_closing(1000)
        await conn.run(lambda message: None, trailing)
        return
    try:
        await conn.run(target.ws_message, trailing)
    finally:
        target.ws_closed()
