"""The ASGI front door: an :class:`AsyncServer` as an ASGI 3 application.

Theory of operation
-------------------
:class:`ASGIApp` routes each ASGI scope:

* ``lifespan``: startup and shutdown hooks; shutdown closes every session
  (:meth:`AsyncServer.shutdown`). With ``other_asgi_app``, the lifespan protocol is forwarded
  to it and our steps run around its own (see :class:`_LifespanRelay`);
* ``http`` and ``websocket`` on the Engine.IO path (``/engine.io/``, relative to the scope's
  ``root_path``) go to the server, exactly as the standalone front door
  (:mod:`engineio_core.aio.standalone`) sends them: same :class:`HTTPRequest`, same calls;
* anything else goes to a static file (:mod:`engineio_core.static`), else to
  ``other_asgi_app``, else gets a 404.

A polling request reads its body (at most ``max_http_buffer_size`` + 1 bytes; more means
``body=None`` and a 413 from the server), then calls :meth:`AsyncServer.handle_http` with a
``respond`` that resolves a future. A GET the session parks waits for that future while
watching ``receive()``: an ``http.disconnect`` first aborts the poll, which closes the session
("transport error"), as the spec requires.

A WebSocket is checked with :meth:`AsyncServer.websocket_target` before it is accepted. A
refusal is sent as an HTTP response when the ASGI server offers the
``websocket.http.response`` extension (uvicorn and hypercorn do); otherwise the handshake is
closed before ``websocket.accept``, which ASGI servers answer with a bare 403. Once accepted,
the connection's own task reads messages into the session, and a per-connection sender task
drains what the session writes (:class:`_ASGIWebSocket`): ``write()`` stays synchronous, the
order is kept, and the bytes not yet taken by the ASGI server are the ``backlog`` the session
watches to bound memory. permessage-deflate, frame limits and pings are the ASGI server's
business.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, NotRequired, TypedDict

from ..request import HTTPRequest
from ..static import StaticFile, StaticFiles, resolve_static
from .server import AsyncServer, PreparedResponse

__all__ = ["ASGIApp"]

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------- ASGI messages
# The subset of ASGI 3 read or sent here (model: uvicorn's ``_types.py``); other keys pass.


class HTTPScope(TypedDict):
    type: Literal["http"]
    method: str
    path: str
    query_string: bytes
    headers: Iterable[tuple[bytes, bytes]]
    scheme: NotRequired[str]
    root_path: NotRequired[str]
    client: NotRequired[Iterable[Any] | None]


class WebSocketScope(TypedDict):
    type: Literal["websocket"]
    path: str
    query_string: bytes
    headers: Iterable[tuple[bytes, bytes]]
    scheme: NotRequired[str]
    root_path: NotRequired[str]
    client: NotRequired[Iterable[Any] | None]
    extensions: NotRequired[dict[str, dict[object, object]]]


class LifespanScope(TypedDict):
    type: Literal["lifespan"]


Scope = HTTPScope | WebSocketScope | LifespanScope


class HTTPRequestEvent(TypedDict):
    type: Literal["http.request"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class ControlEvent(TypedDict):
    """The received messages that carry nothing but their type."""

    type: Literal["http.disconnect", "websocket.connect", "lifespan.startup", "lifespan.shutdown"]


class WebSocketReceiveEvent(TypedDict):
    type: Literal["websocket.receive"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketDisconnectEvent(TypedDict):
    type: Literal["websocket.disconnect"]
    code: NotRequired[int]


ReceiveEvent = HTTPRequestEvent | ControlEvent | WebSocketReceiveEvent | WebSocketDisconnectEvent


class ResponseStartEvent(TypedDict):
    type: Literal["http.response.start", "websocket.http.response.start"]
    status: int
    headers: Iterable[tuple[bytes, bytes]]


class ResponseBodyEvent(TypedDict):
    type: Literal["http.response.body", "websocket.http.response.body"]
    body: bytes


class WebSocketSendEvent(TypedDict):
    """``websocket.accept``, ``websocket.send`` and ``websocket.close``."""

    type: Literal["websocket.accept", "websocket.send", "websocket.close"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]
    code: NotRequired[int]


class LifespanResultEvent(TypedDict):
    type: Literal[
        "lifespan.startup.complete",
        "lifespan.startup.failed",
        "lifespan.shutdown.complete",
        "lifespan.shutdown.failed",
    ]
    message: NotRequired[str]


SendEvent = ResponseStartEvent | ResponseBodyEvent | WebSocketSendEvent | LifespanResultEvent

Receive = Callable[[], Awaitable[ReceiveEvent]]
Send = Callable[[SendEvent], Awaitable[None]]
#: Any ASGI 3 application (typed loosely: frameworks type their scopes their own way).
ASGIApplication = Callable[[Any, Any, Any], Awaitable[None]]
Hook = Callable[[], Any]

#: RFC 6455 section 7.4.1: "1008 indicates that an endpoint is terminating the connection
#: because it has received a message that violates its policy."
POLICY_VIOLATION = 1008
NORMAL_CLOSURE = 1000


class ASGIApp:
    """An Engine.IO server as an ASGI application (python-engineio's ``ASGIApp``).

    Example::

        eio = AsyncServer()
        app = ASGIApp(eio, other_asgi_app=fastapi_app, static_files={"/": "index.html"})
        # uvicorn module:app

    Args:
        server: the Engine.IO server.
        other_asgi_app: an ASGI app for every other path (and for the lifespan protocol).
        static_files: python-engineio's static file rules (see :mod:`engineio_core.static`).
        engineio_path: the Engine.IO path, relative to the scope's ``root_path``. None sends
            every HTTP and WebSocket request to the server.
        on_startup: called (and awaited, if it returns an awaitable) at lifespan startup.
        on_shutdown: called at lifespan shutdown, after every session is closed.
    """

    def __init__(
        self,
        server: AsyncServer,
        other_asgi_app: ASGIApplication | None = None,
        static_files: StaticFiles | None = None,
        engineio_path: str | None = "engine.io",
        on_startup: Hook | None = None,
        on_shutdown: Hook | None = None,
    ) -> None:
        self.server = server
        self.other_asgi_app = other_asgi_app
        self.static_files: StaticFiles = static_files or {}
        self.path = None if engineio_path is None else "/" + engineio_path.strip("/") + "/"
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI 3 entry point."""
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] not in ("http", "websocket"):
            raise ValueError(f"unsupported ASGI scope type {scope['type']!r}")
        path = _route_path(scope)
        if self.path is None or path.rstrip("/") + "/" == self.path:
            if scope["type"] == "http":
                await self._http(scope, receive, send)
            else:
                await self._websocket(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            static = resolve_static(path, self.static_files)
            if static is not None and await self._static(scope, static, send):
                return
        if self.other_asgi_app is not None:
            await self.other_asgi_app(scope, receive, send)
        elif scope["type"] == "http":
            await _send_http(send, _not_found())
        else:
            await _refuse_websocket(scope, send, _not_found())

    # ------------------------------------------------------------------ polling

    async def _http(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        request = _request(scope, scope["method"])
        body = await _read_body(receive, self.server.max_http_buffer_size)
        if body is _GONE:
            return
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[PreparedResponse] = loop.create_future()

        def respond(response: PreparedResponse) -> None:
            if not answered.done():
                answered.set_result(response)

        abort = await self.server.handle_http(
            request, body if request.method == "POST" else b"", respond
        )
        if not answered.done():
            # A parked GET: answered later, unless the client goes away first.
            watcher = asyncio.ensure_future(_until_disconnect(receive))
            try:
                await asyncio.wait((answered, watcher), return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not answered.done():  # the client left (or this task was cancelled)
                    answered.cancel()
                    if abort is not None:
                        abort()
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        if answered.cancelled():
            return
        await _send_http(send, answered.result())

    # ---------------------------------------------------------------- WebSocket

    async def _websocket(self, scope: WebSocketScope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return  # the client is gone before the handshake finished
        target = await self.server.websocket_target(_request(scope, "GET"))
        if isinstance(target, PreparedResponse):
            await _refuse_websocket(scope, send, target)
            return
        try:
            await send({"type": "websocket.accept"})
        except Exception:  # the ASGI server cannot accept any more (client gone)
            logger.info("! WebSocket accept failed", exc_info=True)
            target.handshake_failed()
            return
        ws = _ASGIWebSocket(send)
        if not target.attach_websocket(ws):
            ws.close()
            await ws.run()
            return
        sender = asyncio.create_task(ws.run())
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    data = text if text is not None else message.get("bytes")
                    if data is not None:
                        target.ws_message(data)
                elif message["type"] == "websocket.disconnect":
                    break
        finally:
            target.ws_closed()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    # ------------------------------------------------------------- static files

    async def _static(self, scope: HTTPScope, static: StaticFile, send: Send) -> bool:
        """Serve a static file; False when there is no such file."""
        try:
            content = await asyncio.to_thread(_read_file, static.filename)
        except OSError as exc:  # missing, a directory, unreadable: not ours to serve
            logger.debug("! static file %s: %s", static.filename, exc)
            return False
        headers = [("Content-Type", static.content_type), ("Content-Length", str(len(content)))]
        body = b"" if scope["method"] == "HEAD" else content
        await _send_http(send, PreparedResponse(200, headers, body))
        return True

    # ----------------------------------------------------------------- lifespan

    async def _lifespan(self, scope: LifespanScope, receive: Receive, send: Send) -> None:
        if self.other_asgi_app is not None:
            relay = _LifespanRelay(self, receive, send)
            try:
                await self.other_asgi_app(scope, relay.receive, relay.send)
            except Exception:
                if relay.handled:
                    raise
                logger.info("= the other ASGI app does not support lifespan", exc_info=True)
            if relay.handled:
                return
            # The other app does not speak lifespan: run ours, from where it stopped.
            receive = relay.replay_receive()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send(await self.startup())
            elif message["type"] == "lifespan.shutdown":
                await send(await self.shutdown())
                return

    async def startup(self) -> LifespanResultEvent:
        """Run the startup hook; returns the lifespan message to send."""
        failure = await _run_hook(self.on_startup, "startup")
        if failure is not None:
            return {"type": "lifespan.startup.failed", "message": failure}
        return {"type": "lifespan.startup.complete"}

    async def shutdown(self) -> LifespanResultEvent:
        """Close every session, then run the shutdown hook; returns the message to send."""
        await self.server.shutdown()
        failure = await _run_hook(self.on_shutdown, "shutdown")
        if failure is not None:
            return {"type": "lifespan.shutdown.failed", "message": failure}
        return {"type": "lifespan.shutdown.complete"}


class _LifespanRelay:
    """The lifespan protocol between the ASGI server and ``other_asgi_app``, with our steps.

    Startup: the other app starts first, then our hook; a failure of either fails the
    startup. Shutdown: our sessions close and our hook runs after the other app reports its
    own shutdown complete. If the other app raises or returns without ever reporting its
    startup (it does not speak lifespan), :class:`ASGIApp` runs the protocol itself, replaying
    the message the other app consumed.
    """

    def __init__(self, app: ASGIApp, receive: Receive, send: Send) -> None:
        self.app = app
        self._receive = receive
        self._send = send
        self.handled = False
        self.consumed: ReceiveEvent | None = None

    async def receive(self) -> ReceiveEvent:
        message = await self._receive()
        self.consumed = message
        return message

    async def send(self, message: SendEvent) -> None:
        if message["type"] == "lifespan.startup.complete":
            self.handled = True
            await self._send(await self.app.startup())
        elif message["type"] == "lifespan.shutdown.complete":
            await self._send(await self.app.shutdown())
        else:
            self.handled = self.handled or message["type"] == "lifespan.startup.failed"
            await self._send(message)

    def replay_receive(self) -> Receive:
        """A receive that first returns the message the other app took, if any."""
        pending = self.consumed

        async def receive() -> ReceiveEvent:
            nonlocal pending
            if pending is not None:
                message, pending = pending, None
                return message
            return await self._receive()

        return receive


class _ASGIWebSocket:
    """An accepted ASGI WebSocket as a session's :class:`WebSocketTransport`.

    ``write`` and ``close`` only queue; :meth:`run`, the connection's sender task, sends in
    order. ``backlog`` counts the bytes queued but not yet taken by the ASGI server.
    """

    __slots__ = ("_backlog", "_closing", "_queue", "_send", "_wakeup")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._queue: collections.deque[str | bytes | None] = collections.deque()
        self._wakeup = asyncio.Event()
        self._backlog = 0
        self._closing = False

    def write(self, message: str | bytes) -> None:
        if self._closing:
            return
        self._queue.append(message)
        self._backlog += _size(message)
        self._wakeup.set()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._queue.append(None)
        self._wakeup.set()

    @property
    def backlog(self) -> int:
        return self._backlog

    async def run(self) -> None:
        """Send what is queued, until the close; ends on a failed send too."""
        queue = self._queue
        while True:
            while not queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            message = queue.popleft()
            try:
                if message is None:
                    await self._send({"type": "websocket.close", "code": NORMAL_CLOSURE})
                    return
                if isinstance(message, str):
                    await self._send({"type": "websocket.send", "text": message})
                else:
                    await self._send({"type": "websocket.send", "bytes": message})
            except Exception as exc:  # the connection is gone; the reader reports it
                logger.debug("! WebSocket send failed: %r", exc)
                self._closing = True
                queue.clear()
                self._backlog = 0
                return
            self._backlog -= _size(message)


# ---------------------------------------------------------------------- helpers

_GONE = object()


def _route_path(scope: HTTPScope | WebSocketScope) -> str:
    """The path relative to ``root_path`` (the ASGI ``path`` includes it, as Starlette reads it)."""
    path = scope["path"]
    root = scope.get("root_path") or ""
    if root and (path == root or path.startswith(root.rstrip("/") + "/")):
        return path[len(root.rstrip("/")) :] or "/"
    return path


def _request(scope: HTTPScope | WebSocketScope, method: str) -> HTTPRequest:
    """The :class:`HTTPRequest` of a scope."""
    client = scope.get("client")
    peer = tuple(client) if client else None
    default_scheme = "http" if scope["type"] == "http" else "ws"
    return HTTPRequest(
        method=method,
        path=scope["path"],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope["headers"]
        ),
        client=(str(peer[0]), int(peer[1])) if peer and len(peer) >= 2 else None,
        scheme=scope.get("scheme") or default_scheme,
        root_path=scope.get("root_path") or "",
    )


async def _read_body(receive: Receive, limit: int) -> Any:
    """The request body; None past ``limit`` bytes (the rest unread); ``_GONE`` on disconnect."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            return _GONE
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _until_disconnect(receive: Receive) -> None:
    """Return once the client of an HTTP request goes away."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_http(send: Send, response: PreparedResponse) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": _encode_headers(response.headers),
        }
    )
    await send({"type": "http.response.body", "body": response.body})


async def _refuse_websocket(scope: WebSocketScope, send: Send, response: PreparedResponse) -> None:
    """Refuse a WebSocket handshake with ``response``, or close it before accepting."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": response.status,
                "headers": _encode_headers(response.headers),
            }
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
    else:
        # ASGI: a close before the accept makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})


def _encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _not_found() -> PreparedResponse:
    body = b"not found\n"
    headers = [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(body)))]
    return PreparedResponse(404, headers, body)


def _read_file(filename: str) -> bytes:
    with open(filename, "rb") as file:
        return file.read()


def _size(message: str | bytes) -> int:
    """The wire size of a message (UTF-8 for text; exact, cheap for ASCII)."""
    if isinstance(message, str) and not message.isascii():
        return len(message.encode("utf-8", "surrogatepass"))
    return len(message)


async def _run_hook(hook: Hook | None, name: str) -> str | None:
    """Run a lifespan hook; returns a failure message, or None."""
    if hook is None:
        return None
    try:
        result = hook()
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        logger.error("! %s hook failed", name, exc_info=True)
        return f"{name} hook failed: {exc!r}"
    return None
