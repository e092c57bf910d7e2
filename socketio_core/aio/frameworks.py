"""Front doors inside other asyncio frameworks: ``sio.attach(app)`` for aiohttp and sanic,
``get_tornado_handler(sio)`` for tornado (python-socketio's API).

Each is a small driver over the Engine.IO server's seam, the one the standalone and ASGI doors
use (``handle_http`` for polling and preflight requests, ``websocket_target`` for upgrades),
so the same policy object answers every door identically. What differs is only how each
framework hands over a request and runs a WebSocket:

* the request becomes an :class:`~engineio_core.request.HTTPRequest`; a polling request waits
  for its ``respond`` callback (a parked GET aborts its poll if the handler is cancelled);
* a WebSocket is upgraded with the framework's own API (aiohttp's ``WebSocketResponse``,
  sanic's ``websocket_handshake``, tornado's ``WebSocketHandler``); incoming messages go to the
  session as they arrive, and what the session writes is queued and sent in order by one
  sender task (:class:`QueuedWebSocket`: ``write`` stays synchronous, the unsent bytes are the
  ``backlog`` the session bounds).

The frameworks are imported only when used.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from engineio_core.aio.server import PreparedResponse
from engineio_core.aio.session import WebSocketTarget
from engineio_core.request import HTTPRequest

from ..exceptions import MissingDependency

if TYPE_CHECKING:
    from .server import AsyncServer

__all__ = ["QueuedWebSocket", "attach", "get_tornado_handler"]

logger = logging.getLogger(__name__)

Send = Callable[[str | bytes], Awaitable[Any]]


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(module.partition(".")[0], module.partition(".")[0]) from exc


class QueuedWebSocket:
    """A framework's WebSocket as a session's ``WebSocketTransport``: ``write`` and
    ``close`` queue; :meth:`run` (one task) sends in order.

    Args:
        send: sends one message (str as text, bytes as binary).
        close: closes the WebSocket.
    """

    def __init__(self, send: Send, close: Callable[[], Awaitable[Any]]) -> None:
        self._send, self._close = send, close
        self._queue: collections.deque[str | bytes | None] = collections.deque()
        self._wakeup = asyncio.Event()
        self._backlog = 0
        self._closing = False

    def write(self, message: str | bytes) -> None:
        if not self._closing:
            self._queue.append(message)
            self._backlog += len(message)
            self._wakeup.set()

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._queue.append(None)
            self._wakeup.set()

    @property
    def backlog(self) -> int:
        return self._backlog

    async def run(self) -> None:
        """Send what is queued until the close (or a failed send)."""
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            message = self._queue.popleft()
            try:
                if message is None:
                    await self._close()
                    return
                await self._send(message)
            except Exception as exc:  # the connection is gone; the reader reports it
                logger.debug("! WebSocket send failed: %r", exc)
                self._closing = True
                self._queue.clear()
                return
            self._backlog -= len(message)


async def _exchange(eio: Any, request: HTTPRequest, body: bytes | None) -> PreparedResponse:
    """One polling request through ``handle_http``; waits for a parked GET's answer."""
    answered: asyncio.Future[PreparedResponse] = asyncio.get_running_loop().create_future()

    def respond(response: PreparedResponse) -> None:
        if not answered.done():
            answered.set_result(response)

    abort = await eio.handle_http(request, body, respond)
    try:
        return await answered
    finally:
        if not answered.done() and abort is not None:
            abort()  # the framework cancelled the handler: the client went away


async def _run_session(
    target: WebSocketTarget, ws: QueuedWebSocket, messages: Any, on_refused: Callable[[], None]
) -> None:
    """Attach ``ws`` to the session and feed it ``messages`` (an async iterator) until the
    end."""
    if not target.attach_websocket(ws):
        ws.close()
        await ws.run()
        on_refused()
        return
    sender = asyncio.ensure_future(ws.run())
    try:
        async for message in messages:
            target.ws_message(message)
    finally:
        target.ws_closed()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender


def _request(
    method: str, path: str, query: str, headers: Any, client: Any, scheme: str
) -> HTTPRequest:
    peer = (str(client[0]), int(client[1])) if client and len(client) >= 2 else None
    return HTTPRequest(
        method=method.upper(),
        path=path,
        query_string=query,
        headers=tuple((str(name).lower(), str(value)) for name, value in headers),
        client=peer,
        scheme=scheme,
    )


def _is_upgrade(headers: Any) -> bool:
    return str(headers.get("Upgrade") or headers.get("upgrade") or "").lower() == "websocket"


async def _read_limited(read: Callable[[int], Awaitable[bytes]], limit: int) -> bytes | None:
    data = await read(limit + 1)
    return None if len(data) > limit else data


# ------------------------------------------------------------------------------ aiohttp


def attach_aiohttp(sio: AsyncServer, app: Any, socketio_path: str = "socket.io") -> None:
    """Serve ``sio`` at ``/socket.io/`` of an ``aiohttp.web.Application``."""
    web = _import("aiohttp.web")
    eio = sio.eio
    limit = eio.max_http_buffer_size

    async def handler(request: Any) -> Any:
        http = _request(
            request.method,
            request.path,
            request.query_string,
            request.headers.items(),
            request.transport.get_extra_info("peername") if request.transport else None,
            request.scheme,
        )
        if request.method == "GET" and _is_upgrade(request.headers):
            target = await eio.websocket_target(http)
            if isinstance(target, PreparedResponse):
                return _aiohttp_response(web, target)
            ws = web.WebSocketResponse(max_msg_size=limit, autoping=True)
            try:
                await ws.prepare(request)
            except Exception:
                target.handshake_failed()
                raise

            async def messages() -> Any:
                async for message in ws:
                    if message.type in (web.WSMsgType.TEXT, web.WSMsgType.BINARY):
                        yield message.data

            adapter = QueuedWebSocket(
                lambda m: ws.send_str(m) if isinstance(m, str) else ws.send_bytes(m), ws.close
            )
            await _run_session(target, adapter, messages(), lambda: None)
            return ws
        body = b""
        if request.method == "POST":
            body = await _read_limited(request.content.read, limit)  # type: ignore[assignment]
        return _aiohttp_response(web, await _exchange(eio, http, body))

    path = "/" + socketio_path.strip("/") + "/"
    app.router.add_route("*", path, handler)

    async def shutdown(app: Any) -> None:
        await sio.shutdown()

    app.on_shutdown.append(shutdown)


def _aiohttp_response(web: Any, response: PreparedResponse) -> Any:
    headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
    return web.Response(status=response.status, headers=headers, body=response.body)


# -------------------------------------------------------------------------------- sanic


def attach_sanic(sio: AsyncServer, app: Any, socketio_path: str = "socket.io") -> None:
    """Serve ``sio`` at ``/socket.io/`` of a ``sanic.Sanic`` application."""
    response_module = _import("sanic.response")
    eio = sio.eio
    limit = eio.max_http_buffer_size

    async def handler(request: Any) -> Any:
        http = _request(
            request.method,
            request.path,
            request.query_string,
            request.headers.items(),
            (request.ip, request.port),
            request.scheme,
        )
        if request.method == "GET" and _is_upgrade(request.headers):
            target = await eio.websocket_target(http)
            if isinstance(target, PreparedResponse):
                return _sanic_response(response_module, target)
            protocol = request.transport.get_protocol()
            try:
                ws = await protocol.websocket_handshake(request)
            except Exception:
                target.handshake_failed()
                raise

            async def messages() -> Any:
                while True:
                    try:
                        data = await ws.recv()
                    except Exception:  # closed by the peer (sanic raises ConnectionClosed)
                        return
                    if data is None:
                        return
                    yield data

            await _run_session(target, QueuedWebSocket(ws.send, ws.close), messages(), lambda: None)
            return None
        body = request.body if request.method == "POST" else b""
        if body is not None and len(body) > limit:
            body = None
        return _sanic_response(response_module, await _exchange(eio, http, body))

    path = "/" + socketio_path.strip("/") + "/"
    app.add_route(handler, path, methods=["GET", "POST", "OPTIONS"], name="socketio")
    with contextlib.suppress(AttributeError):
        app.enable_websocket()


def _sanic_response(module: Any, response: PreparedResponse) -> Any:
    content_type = None
    headers = {}
    for name, value in response.headers:
        if name.lower() == "content-type":
            content_type = value
        elif name.lower() != "content-length":
            headers[name] = value
    return module.HTTPResponse(
        body=response.body, status=response.status, headers=headers, content_type=content_type
    )


def attach(sio: AsyncServer, app: Any, socketio_path: str = "socket.io") -> None:
    """``sio.attach(app)``: an aiohttp or sanic application.

    Raises:
        TypeError: ``app`` is neither.
    """
    module = type(app).__module__.partition(".")[0]
    if module == "aiohttp":
        attach_aiohttp(sio, app, socketio_path)
    elif module == "sanic":
        attach_sanic(sio, app, socketio_path)
    else:
        raise TypeError(
            f"attach() serves aiohttp and sanic applications, not {type(app).__name__}; "
            "use ASGIApp for ASGI frameworks, get_tornado_handler for tornado"
        )


# ------------------------------------------------------------------------------ tornado


def get_tornado_handler(socketio_server: AsyncServer) -> Any:
    """python-socketio's ``get_tornado_handler``: a tornado handler class for
    ``(r"/socket.io/", get_tornado_handler(sio))``."""
    base: Any = _import("tornado.websocket").WebSocketHandler
    eio = socketio_server.eio

    class SocketIOHandler(base):  # type: ignore[misc]
        """Polling requests and WebSocket upgrades of one Socket.IO server."""

        def initialize(self) -> None:
            self.target: WebSocketTarget | None = None
            self.inbox: asyncio.Queue[Any] = asyncio.Queue()
            self.done: asyncio.Task[None] | None = None

        def _http(self) -> HTTPRequest:
            req = self.request
            return _request(
                req.method,
                req.path,
                req.query,
                req.headers.get_all(),
                (req.remote_ip, 0),
                req.protocol,
            )

        async def _poll(self) -> None:
            body: bytes | None = self.request.body if self.request.method == "POST" else b""
            if body is not None and len(body) > eio.max_http_buffer_size:
                body = None
            self._send(await _exchange(eio, self._http(), body))

        def _send(self, response: PreparedResponse) -> None:
            self.set_status(response.status)
            for name, value in response.headers:
                if name.lower() != "content-length":
                    self.set_header(name, value)
            self.finish(response.body)

        async def get(self, *args: Any, **kwargs: Any) -> None:
            if not _is_upgrade(self.request.headers):
                await self._poll()
                return
            target = await eio.websocket_target(self._http())
            if isinstance(target, PreparedResponse):
                self._send(target)
                return
            self.target = target
            await super().get(*args, **kwargs)

        async def post(self, *args: Any, **kwargs: Any) -> None:
            await self._poll()

        async def options(self, *args: Any, **kwargs: Any) -> None:
            await self._poll()

        def check_origin(self, origin: str) -> bool:
            return True  # websocket_target has applied cors_allowed_origins

        def open(self, *args: Any, **kwargs: Any) -> None:
            assert self.target is not None
            adapter = QueuedWebSocket(self._write, self._close)

            async def messages() -> Any:
                while (item := await self.inbox.get()) is not None:
                    yield item

            self.done = asyncio.ensure_future(
                _run_session(self.target, adapter, messages(), lambda: None)
            )

        async def _write(self, message: str | bytes) -> None:
            await self.write_message(message, binary=isinstance(message, bytes))

        async def _close(self) -> None:
            self.close()

        def on_message(self, message: str | bytes) -> None:
            self.inbox.put_nowait(message)

        def on_close(self) -> None:
            if self.done is None and self.target is not None:
                self.target.handshake_failed()  # the handshake failed: the session never got it
            self.inbox.put_nowait(None)

    return SocketIOHandler
