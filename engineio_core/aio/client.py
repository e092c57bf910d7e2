"""The asyncio Engine.IO v4 client: :class:`AsyncClient`, with python-engineio's API names.

Theory of operation
-------------------
All protocol decisions live in :class:`engineio_core.client_session.ClientSession`; this module
does the I/O it asks for and turns its events into handler calls. After every input to the
session, :meth:`AsyncClient._process` pulls the session's output: events go to the dispatcher
queue, websocket messages to the writer, the next deadline to one ``loop.call_at`` handle, and
the polling and writer tasks are woken to look for work.

Tasks, all owned by the client and all gone once :meth:`~AsyncClient.disconnect` returns:

* the **poll task** runs the long-poll GETs, one at a time, whenever the session wants one;
* the **writer task** writes websocket messages in order, closes the websocket when the
  session says so, and runs the POSTs (one at a time, bodies split by the server's
  ``maxPayload``);
* the **websocket reader** feeds websocket messages to the session;
* the **dispatcher** calls the ``connect``, ``message`` and ``disconnect`` handlers in order:
  one handler finishes before the next event is dispatched, and a slow handler never delays
  the pong that answers a ping;
* the **finisher**, started when the session closes, stops the others, closes the sockets and
  delivers the ``disconnect`` event last.

HTTP goes through :class:`engineio_core.aio.http_client.HTTPClient`, which keeps one
connection for the long-poll GET and one for POSTs alive; WebSocket through
:func:`websocket.aio.connect`. A silent server is noticed by the session's heartbeat deadline
(``pingInterval + pingTimeout``), so the long-poll GET itself has no timeout.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl as ssl_module
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Literal

from websocket import ConnectionClosed, InvalidStatus, WebSocketError
from websocket.aio import Connection as WebSocket
from websocket.aio import ConnectionOptions
from websocket.aio import connect as ws_connect
from websocket.aio.timer import DeadlineTimer
from websocket.deflate import DeflateOptions

from ..client_handshake import Connected
from ..client_session import ClientSession, ClientState
from ..events import Closed, CloseReason, MessageReceived
from ..exceptions import ConnectionFailed, LocalProtocolError, SessionClosed, TransportError
from ..handshake import Sid, Transport
from .http_client import HTTPClient

__all__ = ["AsyncClient"]

logger = logging.getLogger(__name__)

EventName = Literal["connect", "message", "disconnect"]
Handler = Callable[..., Any]
_ARITY: dict[str, tuple[int, ...]] = {"connect": (0,), "message": (1,), "disconnect": (1, 0)}


def _accepts(handler: Handler, count: int) -> bool:
    """Whether ``handler`` can be called with ``count`` positional arguments."""
    try:
        inspect.signature(handler).bind(*range(count))
    except TypeError:
        return False
    return True


class AsyncClient:
    """An Engine.IO v4 client on asyncio.

    Example::

        client = AsyncClient()

        @client.on("message")
        async def on_message(data):
            print(data)

        await client.connect("http://127.0.0.1:5000")
        await client.send("hello")
        await client.wait()

    Args:
        request_timeout: seconds for the handshake, each POST and the websocket connect.
        ssl: the TLS context for ``https``/``wss`` (default: a verifying one).
        ssl_verify: ``False`` to skip certificate checks when ``ssl`` is not given.
        websocket_options: limits and timers of the websocket (default: no WebSocket-level
            keepalive, Engine.IO has its own heartbeat).
        websocket_compression: permessage-deflate settings to offer, or ``None``.
        max_receive: the largest GET body or websocket message accepted, in bytes.
    """

    def __init__(
        self,
        *,
        request_timeout: float = 5.0,
        ssl: ssl_module.SSLContext | None = None,
        ssl_verify: bool = True,
        websocket_options: ConnectionOptions | None = None,
        websocket_compression: DeflateOptions | None = None,
        max_receive: int = 16 * 1024 * 1024,
    ) -> None:
        self.request_timeout = request_timeout
        if ssl is None and not ssl_verify:
            ssl = ssl_module.create_default_context()
            ssl.check_hostname = False
            ssl.verify_mode = ssl_module.CERT_NONE
        self._ssl = ssl
        self.websocket_options = websocket_options or ConnectionOptions(
            ping_interval=None, max_size=max_receive
        )
        self.websocket_compression = websocket_compression
        self.max_receive = max_receive
        self.handlers: dict[str, tuple[Handler, int]] = {}
        self._session: ClientSession | None = None
        self._http: HTTPClient | None = None
        self._ws: WebSocket | None = None
        self._ws_out: deque[str | bytes] = deque()
        self._path = "/engine.io/"
        self._base = ""
        self._headers: list[tuple[str, str]] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._finisher: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._wake_poll = asyncio.Event()
        self._wake_writer = asyncio.Event()
        self._upgrade_settled = asyncio.Event()
        self._done = asyncio.Event()
        self._done.set()
        self._timer: DeadlineTimer | None = None  # made with the session (needs the loop)
        self._abort = False

    # -- handlers ------------------------------------------------------------------------------

    def on(self, event: EventName, handler: Handler | None = None) -> Any:
        """Register a handler for ``"connect"`` (no argument), ``"message"`` (the data) or
        ``"disconnect"`` (the reason, e.g. ``"server disconnect"``, or no argument).

        Handlers may be plain functions or coroutine functions. Used as a decorator when
        ``handler`` is omitted.

        Args:
            event: the event name.
            handler: the handler.

        Returns:
            The handler (or, as a decorator, a function that registers it).

        Raises:
            ValueError: an unknown event name.
            TypeError: the handler cannot take the event's arguments.
        """
        if event not in _ARITY:
            raise ValueError(f"unknown event {event!r}; use connect, message or disconnect")

        def register(func: Handler) -> Handler:
            count = next((n for n in _ARITY[event] if _accepts(func, n)), None)
            if count is None:
                raise TypeError(f"a {event} handler must take {_ARITY[event][0]} argument(s)")
            self.handlers[event] = (func, count)
            return func

        return register if handler is None else register(handler)

    # -- public API ----------------------------------------------------------------------------

    @property
    def sid(self) -> Sid | None:
        """The session id while connected, else ``None``."""
        session = self._session
        return session.sid if session is not None and not session.closed else None

    def transport(self) -> str | None:
        """The current transport, ``"polling"`` or ``"websocket"``, or ``None``."""
        session = self._session
        if session is None or session.closed:
            return None
        return session.transport.value

    async def connect(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        transports: Sequence[str] | str | None = None,
        engineio_path: str = "engine.io",
    ) -> None:
        """Open a session, and upgrade it to WebSocket when allowed, before returning.

        Args:
            url: the server, ``http(s)://host:port`` (``ws(s)://`` is accepted too).
            headers: more headers for every request and the websocket handshake.
            transports: ``"polling"`` and/or ``"websocket"`` (default both: polling first,
                then upgrade); ``["websocket"]`` opens a WebSocket-only session.
            engineio_path: the request path.

        Raises:
            LocalProtocolError: already connected.
            ValueError: a bad URL or transport name.
            ConnectionFailed: the server could not be reached, refused the handshake, or
                answered it wrongly.
        """
        if not self._done.is_set():
            raise LocalProtocolError("already connected")
        parts = urllib.parse.urlsplit(url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        if scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s):// or ws(s):// URL")
        names = [transports] if isinstance(transports, str) else list(transports or ())
        names = names or [Transport.POLLING.value, Transport.WEBSOCKET.value]
        if not names or not set(names) <= {t.value for t in Transport}:
            raise ValueError(f"transports must be polling and/or websocket, not {names!r}")
        self._base = f"{scheme}://{parts.netloc}"
        self._path = "/" + engineio_path.strip("/") + "/"
        self._headers = list((headers or {}).items())
        loop = asyncio.get_running_loop()
        session = ClientSession(
            now=loop.time(),
            transport=Transport.POLLING if "polling" in names else Transport.WEBSOCKET,
            upgrade="websocket" in names,
            max_receive=self.max_receive,
            close_timeout=self.request_timeout,
        )
        self._session = session
        self._events = asyncio.Queue()
        self._ws_out.clear()
        self._abort = False
        self._upgrade_settled.clear()
        self._done.clear()
        try:
            if session.transport is Transport.POLLING:
                await self._open_polling(session)
            else:
                await self._open_websocket(session)
        except BaseException:
            await self._teardown()
            self._done.set()
            raise
        self._tasks["dispatcher"] = loop.create_task(self._dispatch_loop())
        self._process()
        if session.upgrade_wanted():
            await self._upgrade(session)

    async def send(self, data: str | bytes) -> None:
        """Send a message: ``str`` as text, ``bytes`` as binary.

        Raises:
            SessionClosed: not connected.
            LocalProtocolError: text containing ``\\x1e`` while on polling.
        """
        session = self._session
        if session is None or self._done.is_set():
            raise SessionClosed("not connected")
        session.send(bytes(data) if isinstance(data, (bytearray, memoryview)) else data)
        self._process()

    async def disconnect(self, abort: bool = False) -> None:
        """Close the session (reason ``client disconnect``) and wait until everything stopped.

        Called from a handler, it does not wait for the dispatcher (which runs that handler).

        Args:
            abort: close the connections at once, without telling the server.
        """
        session = self._session
        if session is None or self._done.is_set():
            return
        now = asyncio.get_running_loop().time()
        if abort:
            self._abort = True
            session.abort(now)
        else:
            session.close(now)
        self._process()
        if asyncio.current_task() is self._tasks.get("dispatcher"):
            return
        await self._done.wait()

    async def wait(self) -> None:
        """Wait until the session is over (disconnected by either side, or lost)."""
        await self._done.wait()

    # -- handshake and upgrade -----------------------------------------------------------------

    async def _open_polling(self, session: ClientSession) -> None:
        self._http = HTTPClient(
            self._base,
            ssl=self._ssl,
            timeout=self.request_timeout,
            max_response_size=self.max_receive,
        )
        session.next_get()
        target = f"{self._path}?{session.query(Transport.POLLING)}"
        try:
            response = await self._http.request("GET", target, self._headers)
        except TransportError as exc:
            raise ConnectionFailed(f"cannot reach {self._base}: {exc}") from exc
        if response.status != 200:
            raise ConnectionFailed(
                f"handshake refused with status {response.status}",
                status=response.status,
                body=response.body,
            )
        session.receive_get_response(response.status, response.body, self._now())
        self._check_open(session)

    async def _open_websocket(self, session: ClientSession) -> None:
        self._ws = await self._ws_connect(session, handshake=True)
        session.websocket_opened(self._now())
        try:
            async with asyncio.timeout(self.request_timeout):
                message = await self._ws.recv()
        except (TimeoutError, ConnectionClosed) as exc:
            raise ConnectionFailed("no open packet on the websocket") from exc
        session.receive_ws_message(message, self._now())
        self._check_open(session)
        self._tasks["reader"] = asyncio.get_running_loop().create_task(self._read_loop(self._ws))

    def _check_open(self, session: ClientSession) -> None:
        """Raise ConnectionFailed unless the handshake produced a Connected event."""
        if session.state is ClientState.CLOSED:
            raise ConnectionFailed(f"bad handshake: {session.error or session.close_reason}")
        logger.info("= connected to %s, sid %s", self._base, session.sid)

    async def _ws_connect(self, session: ClientSession, *, handshake: bool) -> WebSocket:
        scheme = "wss" if self._base.startswith("https") else "ws"
        host = self._base.split("://", 1)[1]
        uri = f"{scheme}://{host}{self._path}?{session.query(Transport.WEBSOCKET)}"
        try:
            return await ws_connect(
                uri,
                ssl=self._ssl if scheme == "wss" else None,
                compression=self.websocket_compression,
                extra_headers=self._headers,
                open_timeout=self.request_timeout,
                options=self.websocket_options,
            )
        except InvalidStatus as exc:
            if not handshake:
                raise
            raise ConnectionFailed(
                f"websocket handshake refused with status {exc.status}",
                status=exc.status,
                body=exc.body,
            ) from exc
        except (WebSocketError, OSError, TimeoutError) as exc:
            if not handshake:
                raise
            raise ConnectionFailed(f"cannot open a websocket to {uri}: {exc}") from exc

    async def _upgrade(self, session: ClientSession) -> None:
        """Open the probe websocket and wait until the upgrade succeeded or was abandoned."""
        try:
            ws = await self._ws_connect(session, handshake=False)
        except (WebSocketError, OSError, TimeoutError) as exc:
            logger.info("%s: websocket upgrade failed: %s", session.sid, exc)
            session.websocket_closed(self._now())
            self._process()
            return
        self._ws = ws
        self._tasks["reader"] = asyncio.get_running_loop().create_task(self._read_loop(ws))
        self._upgrade_settled.clear()
        session.websocket_opened(self._now())
        self._process()
        await self._upgrade_settled.wait()

    # -- the engine ----------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _process(self) -> None:
        """Pull the session's output after any input to it."""
        session = self._session
        if session is None:
            return
        for event in session.events_received():
            self._events.put_nowait(event)
            if isinstance(event, Closed) and self._finisher is None:
                self._finisher = asyncio.get_running_loop().create_task(self._finish())
        self._ws_out.extend(session.websocket_data_to_send())
        if session.state not in (ClientState.PROBING, ClientState.PAUSING):
            self._upgrade_settled.set()
        self._wake_poll.set()
        self._wake_writer.set()
        if "poll" not in self._tasks and self._http is not None and not session.closed:
            self._tasks["poll"] = asyncio.get_running_loop().create_task(self._poll_loop())
        if "writer" not in self._tasks and not session.closed:
            self._tasks["writer"] = asyncio.get_running_loop().create_task(self._write_loop())
        self._schedule_timer(session.next_deadline())

    def _schedule_timer(self, deadline: float | None) -> None:
        timer = self._timer
        if timer is None:
            if deadline is None:
                return
            timer = self._timer = DeadlineTimer(asyncio.get_running_loop(), self._on_timer)
        timer.set(deadline)

    def _on_timer(self) -> None:
        if self._session is not None:
            self._session.on_timer(self._now())
            self._process()

    async def _poll_loop(self) -> None:
        session, http = self._session, self._http
        assert session is not None and http is not None
        while not session.closed:
            if not session.next_get():
                self._wake_poll.clear()
                await self._wake_poll.wait()
                continue
            target = f"{self._path}?{session.query(Transport.POLLING)}"
            try:
                # No timeout: the session's heartbeat deadline notices a silent server.
                response = await http.request("GET", target, self._headers, timeout=None)
            except TransportError as exc:
                logger.info("! %s: GET failed: %s", session.sid, exc)
                session.get_failed(self._now())
            else:
                session.receive_get_response(response.status, response.body, self._now())
            self._process()

    async def _write_loop(self) -> None:
        session = self._session
        assert session is not None
        while True:
            self._wake_writer.clear()
            await self._flush_websocket(session)
            body = session.next_post()
            if body is not None:
                await self._post(session, body)
                self._process()
            elif session.closed:
                return
            else:
                await self._wake_writer.wait()

    async def _flush_websocket(self, session: ClientSession) -> None:
        """Write the queued websocket messages; close the websocket if the session says so."""
        ws = self._ws
        while self._ws_out:
            message = self._ws_out.popleft()
            if ws is None:
                continue
            try:
                await ws.send(message)
            except ConnectionClosed:
                break  # the reader reports it to the session
        if ws is not None and session.websocket_should_close:
            self._ws_out.clear()
            graceful = (None, CloseReason.CLIENT_DISCONNECT, CloseReason.SERVER_DISCONNECT)
            if self._abort or session.close_reason not in graceful:
                await ws.abort()
            else:
                await ws.close()

    async def _post(self, session: ClientSession, body: bytes) -> None:
        assert self._http is not None
        target = f"{self._path}?{session.query(Transport.POLLING)}"
        headers = [*self._headers, ("Content-Type", "text/plain; charset=UTF-8")]
        try:
            response = await self._http.request("POST", target, headers, body)
        except TransportError as exc:
            logger.info("! %s: POST failed: %s", session.sid, exc)
            session.post_failed(self._now())
        else:
            session.receive_post_response(response.status, response.body, self._now())

    async def _read_loop(self, ws: WebSocket) -> None:
        session = self._session
        assert session is not None
        try:
            while True:
                message = await ws.recv()
                session.receive_ws_message(message, self._now())
                self._process()
        except ConnectionClosed:
            pass
        if self._ws is ws:
            self._ws = None
        session.websocket_closed(self._now())
        self._process()

    async def _dispatch_loop(self) -> None:
        while True:
            event = await self._events.get()
            if isinstance(event, Connected):
                await self._call("connect")
            elif isinstance(event, MessageReceived):
                await self._call("message", event.data)
            elif isinstance(event, Closed):
                await self._call("disconnect", event.reason)
                return

    async def _call(self, name: str, *args: Any) -> None:
        entry = self.handlers.get(name)
        if entry is None:
            return
        handler, count = entry
        try:
            result = handler(*args[:count])
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.error("%s handler failed", name, exc_info=True)

    async def _finish(self) -> None:
        """Stop everything once the session is closed; the disconnect handler runs last."""
        session = self._session
        assert session is not None
        writer = self._tasks.pop("writer", None)
        if writer is not None:
            self._wake_writer.set()
            # The writer flushes the close packet and closes the websocket, then returns.
            done, _ = await asyncio.wait({writer}, timeout=self.request_timeout)
            if not done:
                writer.cancel()
        elif self._ws is not None:
            await self._flush_websocket(session)
        dispatcher = self._tasks.pop("dispatcher", None)
        await self._teardown()
        if dispatcher is not None:
            await dispatcher
        self._finisher = None
        self._done.set()

    async def _teardown(self) -> None:
        """Cancel the I/O tasks and close the connections (the dispatcher is not touched)."""
        if self._timer is not None:
            self._timer.cancel()
        current = asyncio.current_task()
        tasks = [t for k, t in self._tasks.items() if k != "dispatcher" and t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for key in [k for k in self._tasks if k != "dispatcher"]:
            del self._tasks[key]
        if self._ws is not None:
            await self._ws.abort()
            self._ws = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._upgrade_settled.set()
