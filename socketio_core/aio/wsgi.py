"""``WSGIApp`` and ``Middleware``: a :class:`~socketio_core.aio.sync_server.Server` as a WSGI
application (python-socketio's names), for threaded WSGI servers.

Theory of operation
-------------------
The Socket.IO server runs on its own event-loop thread (:class:`Server`); this module is a
front door over the Engine.IO server's seam (``handle_http`` / ``websocket_target``), as the
standalone and ASGI doors are, with the WSGI thread as the waiting party:

* a polling request (``GET``, ``POST``, ``OPTIONS`` on the Socket.IO path) is turned into an
  :class:`~engineio_core.request.HTTPRequest` and handed to ``handle_http`` on the loop; the
  WSGI thread waits for the response. A long poll holds its thread until data comes or the
  ping interval ends it, as python-socketio's threading mode does: size the server's threads
  (``gunicorn --threads 100``) for the clients that may be on polling at once;
* a WebSocket upgrade takes the raw socket the WSGI server exposes (werkzeug:
  ``environ["werkzeug.socket"]``, gunicorn: ``environ["gunicorn.socket"]``), answers 101 on
  it and hands a duplicate of it to the event loop (:mod:`socketio_core.aio.handoff`): our
  asyncio WebSocket layer handles every frame, while the WSGI thread only waits for the close.
  It then ends the request with a ``ConnectionResetError``, which werkzeug, gunicorn and
  wsgiref all take as "the client went away" (no response is written on a socket that is no
  longer HTTP). A server that exposes no socket (Django's ``runserver``, wsgiref, uWSGI)
  answers upgrades with 400, and clients stay on polling; one INFO line says why;
* ``static_files`` (python-engineio's rules) are served, and every other path goes to the
  wrapped WSGI application (404 without one).

The loop thread starts when the ``Server`` is made, so under gunicorn make it in the worker
(the default), not in the master: ``--preload`` would start the thread before the fork, and a
forked worker has no thread running its loop. Several worker processes need a pub/sub manager
(``RedisManager``, ``KombuManager``) and sticky sessions for polling clients, as with
python-socketio.

From the seed's three set-ups: ``WSGIApp(sio)`` under uWSGI/gunicorn and
``WSGIApp(sio, flask_or_django_app)`` run as written (``gunicorn --threads N module:app``,
``app.run(threaded=True)``, ``python manage.py runserver``); the eventlet one
(``eventlet.wsgi.server(eventlet.listen(('', 8000)), app)``) becomes ``sio.serve("", 8000)``
(the standalone server), or ``AsyncServer`` with ``ASGIApp`` under uvicorn.
"""

from __future__ import annotations

import asyncio
import errno
import http
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

from engineio_core.aio.server import PreparedResponse
from engineio_core.aio.session import SessionDriver
from engineio_core.request import HTTPRequest
from engineio_core.static import StaticFiles, resolve_static
from websocket.aio import ConnectionOptions
from websocket.deflate import DeflateOptions
from websocket.exceptions import InvalidHandshake
from websocket.http11 import Accepted, Request, Response, UpgradePolicy

from .handoff import run_websocket, session_failed, switching_protocols
from .sync_server import Server

__all__ = ["Middleware", "WSGIApp"]

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: Where WSGI servers expose the accepted connection.
SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket")


class HandedOff(ConnectionResetError):
    """Ends a WSGI request whose socket now carries a WebSocket that has closed: WSGI
    servers treat it as a client gone away and write nothing more."""


class WSGIApp:
    """A Socket.IO server as a WSGI application (python-socketio's ``WSGIApp``).

    Example::

        sio = socketio.Server()
        app = Flask(__name__)
        app.wsgi_app = socketio.WSGIApp(sio, app.wsgi_app)

    Args:
        socketio_app: the :class:`Server`.
        wsgi_app: the WSGI application for every other path.
        static_files: python-engineio's static file rules.
        socketio_path: the Socket.IO path (``socket.io``).
    """

    def __init__(
        self,
        socketio_app: Server,
        wsgi_app: WSGIApplication | None = None,
        static_files: StaticFiles | None = None,
        socketio_path: str = "socket.io",
    ) -> None:
        if not isinstance(socketio_app, Server):
            raise TypeError("WSGIApp serves a socketio_core.Server (use ASGIApp for AsyncServer)")
        self.server = socketio_app
        self.wsgi_app = wsgi_app
        self.static_files: StaticFiles = static_files or {}
        self.path = "/" + socketio_path.strip("/") + "/"
        eio = socketio_app.eio
        self.ws_options = ConnectionOptions(max_size=eio.max_http_buffer_size, ping_interval=None)
        self.upgrade_policy = UpgradePolicy(
            deflate=DeflateOptions() if eio.websocket_compression else None
        )
        self._said_no_socket = False

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point."""
        path = environ.get("PATH_INFO") or "/"
        if path.rstrip("/") + "/" == self.path:
            request = _request(environ)
            if (environ.get("HTTP_UPGRADE") or "").lower() == "websocket":
                return self._websocket(environ, request, start_response)
            return self._polling(environ, request, start_response)
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            static = resolve_static(path, self.static_files)
            if static is not None:
                try:
                    with open(static.filename, "rb") as file:
                        content = file.read()
                except OSError:
                    pass
                else:
                    headers = [("Content-Type", static.content_type)]
                    return _respond(start_response, PreparedResponse(200, headers, content))
        if self.wsgi_app is not None:
            return self.wsgi_app(environ, start_response)
        body = b"not found\n"
        return _respond(
            start_response, PreparedResponse(404, [("Content-Type", "text/plain")], body)
        )

    # ------------------------------------------------------------------ polling

    def _polling(
        self, environ: dict[str, Any], request: HTTPRequest, start_response: StartResponse
    ) -> Iterable[bytes]:
        body: bytes | None = b""
        if request.method == "POST":
            body = _read_body(environ, self.server.eio.max_http_buffer_size)
        eio = self.server.eio

        async def exchange() -> PreparedResponse:
            answered: asyncio.Future[PreparedResponse] = asyncio.get_running_loop().create_future()

            def respond(response: PreparedResponse) -> None:
                if not answered.done():
                    answered.set_result(response)

            await eio.handle_http(request, body, respond)
            return await answered

        return _respond(start_response, self.server.loop_thread.run(exchange()))

    # ---------------------------------------------------------------- WebSocket

    def _websocket(
        self, environ: dict[str, Any], request: HTTPRequest, start_response: StartResponse
    ) -> Iterable[bytes]:
        sock = next((environ[key] for key in SOCKET_KEYS if key in environ), None)
        if not isinstance(sock, socket.socket) or hasattr(sock, "getpeercert"):
            if not self._said_no_socket:
                self._said_no_socket = True
                logger.info(
                    "= this WSGI server exposes no plain socket (werkzeug.socket, "
                    "gunicorn.socket): WebSocket upgrades are refused, clients stay on polling"
                )
            body = b'{"code":3,"message":"Bad request"}'
            response = PreparedResponse(400, [("Content-Type", "application/json")], body)
            return _respond(start_response, response)
        run = self.server.loop_thread.run
        target = run(self.server.eio.websocket_target(request))
        if isinstance(target, PreparedResponse):
            return _respond(start_response, target)
        protocol = str(environ.get("SERVER_PROTOCOL") or "HTTP/1.1")
        target_uri = request.path + (f"?{request.query_string}" if request.query_string else "")
        ws_request = Request("GET", target_uri, request.headers, protocol.partition("/")[2])
        try:
            subprotocol, compressor, headers = self.upgrade_policy.negotiate(ws_request)
        except InvalidHandshake as exc:
            logger.info("! WebSocket upgrade refused: %s", exc)
            run(_call(session_failed, target))
            body = f"{exc}\n".encode()
            return _respond(
                start_response, PreparedResponse(exc.status, [("Content-Type", "text/plain")], body)
            )
        accepted = Accepted(ws_request, Response(101, ()), subprotocol, compressor)
        try:
            sock.sendall(switching_protocols(headers))
            duplicate = sock.dup()
        except OSError as exc:
            run(_call(session_failed, target))
            raise HandedOff(errno.ECONNRESET, f"WebSocket upgrade failed: {exc}") from exc
        run(self._run(duplicate, ws_request, accepted, target))
        raise HandedOff(errno.ECONNRESET, "the WebSocket this request became has closed")

    async def _run(
        self, sock: socket.socket, request: Request, accepted: Accepted, target: SessionDriver
    ) -> None:
        await run_websocket(sock, request, accepted, target, self.ws_options)


class Middleware(WSGIApp):
    """python-socketio's ``Middleware``: :class:`WSGIApp` with the wrapped application second
    (``Middleware(sio, wsgi_app)``)."""


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


def _request(environ: dict[str, Any]) -> HTTPRequest:
    """The :class:`HTTPRequest` of a WSGI environ."""
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), str(value)))
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if environ.get(key):
            headers.append((name, str(environ[key])))
    port = environ.get("REMOTE_PORT")
    client = (
        (str(environ.get("REMOTE_ADDR", "")), int(port)) if port and str(port).isdigit() else None
    )
    return HTTPRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
        path=str(environ.get("PATH_INFO") or "/"),
        query_string=str(environ.get("QUERY_STRING", "")),
        headers=tuple(headers),
        client=client,
        scheme=str(environ.get("wsgi.url_scheme", "http")),
        root_path=str(environ.get("SCRIPT_NAME", "")),
    )


def _read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body; None when it is over ``limit`` bytes (the rest left unread)."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length > limit:
        return None
    data: bytes = stream.read(length) if length >= 0 else stream.read(limit + 1)
    return None if len(data) > limit else data


_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized"}


def _respond(start_response: StartResponse, response: PreparedResponse) -> list[bytes]:
    phrase = _REASONS.get(response.status) or _phrase(response.status)
    headers = [(name, value) for name, value in response.headers if name.lower() != "connection"]
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers.append(("Content-Length", str(len(response.body))))
    start_response(f"{response.status} {phrase}", headers)
    return [response.body]


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
