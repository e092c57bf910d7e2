"""The Engine.IO ``AsyncServer``: sessions, handlers and the policy both front doors share.

Theory of operation
-------------------
The server owns the table of sessions (sid -> :class:`SessionDriver`) and the application's
handlers. It does no I/O of its own: a front door (:mod:`engineio_core.aio.standalone` on
asyncio streams, :mod:`engineio_core.aio.asgi` for ASGI servers) turns each request into an
:class:`~engineio_core.request.HTTPRequest` and calls :meth:`AsyncServer.handle_http` (polling
and preflight requests) or :meth:`AsyncServer.websocket_target` (a WebSocket upgrade), so
that both doors behave identically by construction.

Order of checks for every request, as Node's engine.io: CORS origin (403), then method and
query (``EIO``, ``transport``, ``sid``: 400 with Node's JSON error bodies), then the
``allow_request`` hook, then for a handshake the ``connect`` handler, which may refuse with
``False`` or :exc:`ConnectionRefused` (401 by default).
"""

from __future__ import annotations

import inspect
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any, Literal, Protocol

from ..events import APPLICATION_JSON, HTTPResponse
from ..exceptions import (
    ConnectionRefused,
    DecodeError,
    Forbidden,
    PayloadTooLarge,
    RemoteProtocolError,
    SessionClosed,
    UnknownSession,
)
from ..handshake import SessionConfig, Sid, Transport, check_request, new_sid
from ..request import HTTPRequest, compress_body, cors_headers, origin_allowed
from .front import PreparedResponse, Respond
from .session import SessionDriver, WebSocketTarget, WebSocketTransport
from .standalone import StandaloneServer

__all__ = ["AsyncServer", "PreparedResponse", "Respond"]

logger = logging.getLogger(__name__)

EventName = Literal["connect", "message", "disconnect"]
Handler = Callable[..., Any]
AllowRequest = Callable[[HTTPRequest], "bool | Awaitable[bool | None] | None"]


class RemoteSessions(Protocol):
    """Sessions owned by other server processes (supplied by a cluster layer above).

    Set as :attr:`AsyncServer.remote_sessions`; then every sid this server hands out comes from
    :meth:`new_sid`, a polling request for a sid of another process is forwarded to it
    instead of being answered ``400 Session ID unknown``, and a WebSocket upgrade for such a
    sid is served here (:meth:`websocket`). A new polling session is held
    (:meth:`SessionDriver.hold`) for :attr:`upgrade_hold` seconds, so that it can still move
    whole to the process its upgrade lands on.
    """

    #: Seconds a new polling session's messages are held back (0: never).
    upgrade_hold: float

    def new_sid(self) -> str:
        """A fresh sid that names this process."""

    def is_remote(self, sid: str) -> bool:
        """Whether ``sid`` has the shape of a sid of another process (no I/O)."""

    def forward(
        self,
        request: HTTPRequest,
        body: bytes | None,
        respond: Callable[[PreparedResponse | None], None],
    ) -> Callable[[], None]:
        """Send the request to its owner; ``respond`` gets the owner's response, or None
        when the owner does not know the sid (or is gone). Returns a function to call if
        the client goes away first."""

    async def websocket(self, request: HTTPRequest, sid: str) -> WebSocketTarget | None:
        """A WebSocket upgrade for ``sid``, a session of another process: the relay to feed
        the WebSocket to once accepted, or None when the owner does not know the sid (or
        refuses the upgrade, or is gone)."""


class AsyncServer:
    """An Engine.IO v4 server (python-engineio's API names and defaults).

    Args:
        ping_interval: seconds between server pings (25).
        ping_timeout: seconds the client has to answer a ping (20).
        max_http_buffer_size: largest message or POST body in bytes (1,000,000).
        allow_upgrades: whether polling sessions may upgrade to WebSocket.
        transports: the transports offered (default both).
        cookie: a cookie name (or a dict with ``name`` and attributes) set on handshake.
        cors_allowed_origins: ``"*"``, an origin or a list of origins; None (the default)
            allows the same origin only. A foreign Origin is refused on polling and on the
            WebSocket upgrade alike.
        cors_credentials: send ``Access-Control-Allow-Credentials: true``.
        http_compression: gzip / deflate polling responses the client accepts.
        compression_threshold: smallest body compressed, in bytes (1024).
        upgrade_timeout: seconds an upgrade may take (10).
        websocket_compression: accept permessage-deflate on WebSockets. Off by default, as
            Node's engine.io (``perMessageDeflate: false``): a compression context costs
            hundreds of KB per connection, and a broadcast can then no longer share one
            encoded frame between its recipients.
        allow_request: hook called with the request before any session is made; False
            refuses with 403, :exc:`ConnectionRefused` with its status.
        max_send_buffer: most bytes of outgoing packets one session may hold for a client
            that does not take them, on polling (no GET comes) and on WebSocket (the peer
            does not read); default four times ``max_http_buffer_size``. Past it, volatile
            packets are dropped, then the session closes with ``transport error``.
    """

    def __init__(
        self,
        *,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_http_buffer_size: int = 1_000_000,
        allow_upgrades: bool = True,
        transports: Iterable[str] | None = None,
        cookie: str | dict[str, Any] | None = None,
        cors_allowed_origins: str | Collection[str] | None = None,
        cors_credentials: bool = True,
        http_compression: bool = True,
        compression_threshold: int = 1024,
        upgrade_timeout: float = 10.0,
        websocket_compression: bool = False,
        allow_request: AllowRequest | None = None,
        max_send_buffer: int | None = None,
    ) -> None:
        names = tuple(transports) if transports is not None else ("polling", "websocket")
        try:
            self.transports = tuple(Transport(name) for name in names)
        except ValueError as exc:
            raise ValueError(f"unknown transport in {names!r}") from exc
        self.session_config = SessionConfig(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            max_payload=max_http_buffer_size,
            upgrade_timeout=upgrade_timeout,
            allow_upgrades=allow_upgrades and Transport.WEBSOCKET in self.transports,
            max_send_buffer=max_send_buffer,
        )
        self.max_http_buffer_size = max_http_buffer_size
        self.cookie = cookie
        self.cors_allowed_origins = cors_allowed_origins
        self.cors_credentials = cors_credentials
        self.http_compression = http_compression
        self.compression_threshold = compression_threshold
        self.websocket_compression = websocket_compression
        self.allow_request = allow_request
        self.sessions: dict[Sid, SessionDriver] = {}
        #: A layer above (Socket.IO) may take each message synchronously, as it is received,
        #: instead of through the ordered ``message`` handler; it then orders work itself.
        self.message_hook: Callable[[Sid, str | bytes], None] | None = None
        #: Set by a cluster layer so that any process can take any request of any session.
        self.remote_sessions: RemoteSessions | None = None
        self.handlers: dict[str, Handler] = {}
        self._disconnect_takes_reason = False

    # ----------------------------------------------------------------- application API

    def on(self, event: EventName, handler: Handler | None = None) -> Any:
        """Register a handler for ``connect``, ``message`` or ``disconnect``.

        Use as ``server.on("message", handler)`` or as a decorator ``@server.on("message")``.
        Handlers may be plain functions or coroutine functions: ``connect(sid, environ)``
        (return False to refuse), ``message(sid, data)``, ``disconnect(sid)`` or
        ``disconnect(sid, reason)``. The signature is checked here, once.
        """
        if event not in ("connect", "message", "disconnect"):
            raise ValueError(f"unknown event {event!r}")

        def register(func: Handler) -> Handler:
            params = _positional_count(func)
            needed = {"connect": 2, "message": 2, "disconnect": 1}[event]
            if params is not None and params < needed:
                raise TypeError(f"a {event!r} handler takes at least {needed} arguments")
            if event == "disconnect":
                self._disconnect_takes_reason = params is None or params >= 2
            self.handlers[event] = func
            return func

        return register if handler is None else register(handler)

    async def send(self, sid: str, data: str | bytes) -> None:
        """Send a message to one client; an unknown or closed sid is logged and ignored."""
        driver = self.sessions.get(Sid(sid))
        if driver is None:
            logger.warning("cannot send to sid %s: no such session", sid)
            return
        try:
            driver.send(data)
        except SessionClosed:
            logger.warning("cannot send to sid %s: session closed", sid)

    async def disconnect(self, sid: str | None = None) -> None:
        """Close one session, or every session when ``sid`` is None."""
        drivers = list(self.sessions.values()) if sid is None else [self.sessions.get(Sid(sid))]
        for driver in drivers:
            if driver is not None:
                driver.close()

    def transport(self, sid: str) -> str:
        """The current transport of a session: ``polling`` or ``websocket``."""
        return self._driver(sid).transport

    def get_request(self, sid: str) -> HTTPRequest:
        """The handshake request of a session (headers, query, client address)."""
        return self._driver(sid).request

    def listen(
        self,
        host: str | None = "127.0.0.1",
        port: int = 0,
        *,
        engineio_path: str = "engine.io",
        ssl: ssl_module.SSLContext | None = None,
        **kwargs: Any,
    ) -> StandaloneServer:
        """The standalone server as an async context manager (or awaitable).

        Example::

            async with eio.listen("127.0.0.1", 0) as front:
                print(front.port)

        Keyword arguments go to :class:`~engineio_core.aio.standalone.StandaloneServer`.
        """
        return StandaloneServer(self, host, port, engineio_path=engineio_path, ssl=ssl, **kwargs)

    async def serve(
        self,
        host: str | None = "127.0.0.1",
        port: int = 5000,
        *,
        engineio_path: str = "engine.io",
        ssl: ssl_module.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        """Run the standalone server (HTTP/1.1 and WebSocket) until cancelled."""
        front = self.listen(host, port, engineio_path=engineio_path, ssl=ssl, **kwargs)
        await front.serve_forever()

    async def shutdown(self) -> None:
        """Close every session now: a parked GET gets the close packet, a WebSocket its close
        packet, and every ``disconnect`` handler runs with ``server disconnect``."""
        for driver in list(self.sessions.values()):
            driver.close(force=True)

    def _driver(self, sid: str) -> SessionDriver:
        driver = self.sessions.get(Sid(sid))
        if driver is None:
            raise KeyError(f"no session {sid}")
        return driver

    # ------------------------------------------------------------ front-door API

    async def handle_http(
        self, request: HTTPRequest, body: bytes | None, respond: Respond
    ) -> Callable[[], None] | None:
        """Handle a polling or preflight request.

        Args:
            request: the request.
            body: the POST body, or None when it was over ``max_http_buffer_size`` (the front
                door stops reading at that size plus one byte).
            respond: called once with the response, now or (for a parked GET) later.

        Returns:
            For a parked GET, a function to call if the client goes away first; else None.
        """
        cors = cors_headers(request, self.cors_allowed_origins, credentials=self.cors_credentials)
        if not origin_allowed(request, self.cors_allowed_origins):
            logger.info("! refused origin %s", request.header("origin"))
            respond(self._error(request, Forbidden("Not an accepted origin"), cors))
            return None
        if request.method == "OPTIONS":
            respond(PreparedResponse(204, [*cors, ("Content-Length", "0")], b""))
            return None
        try:
            info = check_request(request.method, request.query, transports=self.transports)
            if info.transport is not Transport.POLLING:
                raise RemoteProtocolError("a WebSocket transport request without an upgrade")
            if info.sid is None:
                respond(await self._open(request, Transport.POLLING, cors))
                return None
            driver = self.sessions.get(info.sid)
            if driver is None:
                if self.remote_sessions is not None and self.remote_sessions.is_remote(info.sid):
                    return self._forward(self.remote_sessions, request, body, respond, cors)
                raise UnknownSession(f"unknown sid {info.sid}")
        except RemoteProtocolError as exc:
            respond(self._error(request, exc, cors))
            return None
        if request.method == "GET":

            def answer(response: HTTPResponse) -> None:
                respond(self._prepare(request, response, cors))

            driver.poll(answer)
            return (lambda: driver.abort_poll(answer)) if driver.responder is answer else None
        if request.method == "POST":
            refusal: RemoteProtocolError
            if body is None:
                refusal = PayloadTooLarge(f"POST body over {self.max_http_buffer_size} bytes")
            elif _media_type(request) == "application/octet-stream":
                # A v4 payload is text ("Binary payloads MUST be base64-encoded"): Node
                # answers a binary POST with 400 "invalid content" and closes the session.
                refusal = DecodeError("an application/octet-stream body is not a v4 payload")
            else:
                respond(self._prepare(request, driver.post(body), cors))
                return None
            driver.reject_post()
            respond(self._error(request, refusal, cors))
            return None
        respond(self._error(request, RemoteProtocolError(f"method {request.method}"), cors))
        return None

    def _forward(
        self,
        remote: RemoteSessions,
        request: HTTPRequest,
        body: bytes | None,
        respond: Respond,
        cors: list[tuple[str, str]],
    ) -> Callable[[], None]:
        """Forward a request for a session of another process; answer 400 when unknown."""

        def answer(response: PreparedResponse | None) -> None:
            if response is None:
                response = self._error(request, UnknownSession("unknown sid"), cors)
            respond(response)

        return remote.forward(request, body, answer)

    async def websocket_target(self, request: HTTPRequest) -> WebSocketTarget | PreparedResponse:
        """Check a WebSocket upgrade request and find (or open) its session.

        Returns:
            The session to attach the WebSocket to once accepted, or the refusal to send
            instead of accepting. For a new WebSocket-only session, report a failed upgrade
            with :meth:`SessionDriver.ws_closed`.
        """
        if not origin_allowed(request, self.cors_allowed_origins):
            logger.info("! refused WebSocket origin %s", request.header("origin"))
            return self._error(request, Forbidden("Not an accepted origin"), [])
        try:
            info = check_request("GET", request.query, transports=self.transports)
            if info.transport is not Transport.WEBSOCKET:
                raise RemoteProtocolError("an upgrade request for a polling transport")
            if info.sid is None:
                opened = await self._open(request, Transport.WEBSOCKET, [])
                if isinstance(opened, PreparedResponse):
                    return opened
                return self.sessions[opened]
            driver = self.sessions.get(info.sid)
            if driver is not None:
                return driver
            remote = self.remote_sessions
            if remote is not None and remote.is_remote(info.sid):
                # A session of another process: its WebSocket is served here, relayed to the
                # owner, or the session moves here (docs/scaling.md, "without sticky sessions").
                relay = await remote.websocket(request, info.sid)
                if relay is not None:
                    return relay
            raise UnknownSession(f"unknown sid {info.sid}")
        except RemoteProtocolError as exc:
            return self._error(request, exc, [])

    async def adopt(
        self, sid: str, request: HTTPRequest, ws: WebSocketTransport, messages: list[str | bytes]
    ) -> SessionDriver | None:
        """Take a session that moves here from another process with its WebSocket.

        The session was opened and upgraded there and nothing of it reached the application
        there (:meth:`SessionDriver.move_out`); here it opens on ``ws`` without a handshake
        (the client has its open packet): the ``connect`` handler runs with the WebSocket
        request's environ, then ``messages`` (what the client sent there) are delivered.

        Returns:
            The session, or None when the ``connect`` handler refused it (close ``ws``).
        """
        driver = SessionDriver(self, Sid(sid), request, Transport.WEBSOCKET, adopted=True)
        self.sessions[driver.sid] = driver
        try:
            allowed = await self._call("connect", driver.sid, request.environ)
        except ConnectionRefused as exc:
            allowed = False
            logger.info("! moved session refused by the application: %s", exc.message)
        if allowed is False or driver.core.closed:
            self.sessions.pop(driver.sid, None)
            driver.core.events_received()
            return None
        driver.attach_websocket(ws)
        driver.deliver(messages)
        return driver

    # ------------------------------------------------------------------ handshake

    async def _open(
        self, request: HTTPRequest, transport: Transport, cors: list[tuple[str, str]]
    ) -> Any:
        """Open a session; returns the handshake response (polling) or the sid (websocket)."""
        try:
            await self._check_allowed(request)
        except ConnectionRefused as exc:
            return self._refusal(exc, cors)
        remote = self.remote_sessions
        sid = new_sid() if remote is None else Sid(remote.new_sid())
        driver = SessionDriver(self, sid, request, transport)
        self.sessions[sid] = driver
        upgradable = transport is Transport.POLLING and self.session_config.allow_upgrades
        if remote is not None and upgradable:
            driver.hold(remote.upgrade_hold, self.max_http_buffer_size)
        try:
            allowed = await self._call("connect", sid, request.environ)
        except ConnectionRefused as exc:
            return self._refuse_session(driver, exc, cors)
        if allowed is False:
            return self._refuse_session(driver, ConnectionRefused(), cors)
        if driver.core.closed:
            return self._error(request, UnknownSession("session closed during connect"), cors)
        if transport is Transport.WEBSOCKET:
            return sid
        result: list[HTTPResponse] = []
        driver.poll(result.append)
        headers = cors + self._cookie_headers(sid)
        return self._prepare(request, result[0], headers)

    async def _check_allowed(self, request: HTTPRequest) -> None:
        if self.allow_request is None:
            return
        verdict = self.allow_request(request)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if verdict is False:
            raise ConnectionRefused("Forbidden", status=403)

    def _refuse_session(
        self, driver: SessionDriver, exc: ConnectionRefused, cors: list[tuple[str, str]]
    ) -> PreparedResponse:
        # A refused session never existed for the application: no disconnect event.
        self.sessions.pop(driver.sid, None)
        driver.core.events_received()
        logger.info("! connection refused by the application: %s", exc.message)
        return self._refusal(exc, cors)

    def _refusal(self, exc: ConnectionRefused, cors: list[tuple[str, str]]) -> PreparedResponse:
        body = exc.error_body()
        headers = [*cors, ("Content-Type", APPLICATION_JSON), ("Content-Length", str(len(body)))]
        return PreparedResponse(exc.status, headers, body)

    def _cookie_headers(self, sid: Sid) -> list[tuple[str, str]]:
        if not self.cookie:
            return []
        attrs: dict[str, Any] = (
            {"name": self.cookie} if isinstance(self.cookie, str) else dict(self.cookie)
        )
        name = attrs.pop("name", "io")
        attrs.setdefault("path", "/")
        attrs.setdefault("SameSite", "Lax")
        parts = [f"{name}={sid}"]
        for key, value in attrs.items():
            if value is True:
                parts.append(key)
            elif value not in (None, False):
                parts.append(f"{key.capitalize() if key.islower() else key}={value}")
        return [("Set-Cookie", "; ".join(parts))]

    # ------------------------------------------------------------------ responses

    def _prepare(
        self, request: HTTPRequest, response: HTTPResponse, extra: list[tuple[str, str]]
    ) -> PreparedResponse:
        body = response.body
        headers = [*extra, ("Content-Type", response.content_type)]
        if self.http_compression and response.status == 200:
            body, encoding = compress_body(request, body, threshold=self.compression_threshold)
            if encoding is not None:
                headers.append(("Content-Encoding", encoding))
        headers.append(("Content-Length", str(len(body))))
        return PreparedResponse(response.status, headers, body)

    def _error(
        self, request: HTTPRequest, exc: RemoteProtocolError, extra: list[tuple[str, str]]
    ) -> PreparedResponse:
        logger.info("! %s %s: %d %s", request.method, request.path, exc.status, exc)
        return self._prepare(request, HTTPResponse.from_error(exc), extra)

    # ------------------------------------------------------------ event dispatch

    def forget(self, driver: SessionDriver) -> None:
        """Drop a closed session from the table."""
        if self.sessions.get(driver.sid) is driver:
            del self.sessions[driver.sid]

    async def dispatch_message(self, driver: SessionDriver, data: object) -> None:
        """Run the ``message`` handler for one message of a session."""
        await self._call("message", driver.sid, data)

    async def dispatch_disconnect(self, driver: SessionDriver, reason: object) -> None:
        """Run the ``disconnect`` handler once a session is closed."""
        if self._disconnect_takes_reason:
            await self._call("disconnect", driver.sid, reason)
        else:
            await self._call("disconnect", driver.sid)

    async def _call(self, event: str, *args: Any) -> Any:
        handler = self.handlers.get(event)
        if handler is None:
            return None
        try:
            result = handler(*args)
            if inspect.isawaitable(result):
                result = await result
        except ConnectionRefused:
            if event != "connect":
                logger.error("! ConnectionRefused raised outside a connect handler")
                return None
            raise
        except Exception:
            logger.error("! %r handler failed", event, exc_info=True)
            return False if event == "connect" else None
        return result


def _media_type(request: HTTPRequest) -> str:
    """The request's Content-Type without parameters, lowercased."""
    return (request.header("content-type") or "").partition(";")[0].strip().lower()


def _positional_count(func: Handler) -> int | None:
    """How many positional arguments ``func`` takes; None when it takes ``*args``."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            return None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count
