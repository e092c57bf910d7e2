"""The asyncio driver of one :class:`engineio_core.server_session.ServerSession`.

Theory of operation
-------------------
A :class:`SessionDriver` owns no task while it is idle. Everything that happens to a session
comes in as a synchronous call from a front door (a polling GET or POST, a WebSocket message,
the WebSocket closing) or from its timer, a single ``loop.call_at`` handle kept at the core's
next deadline. After every call into the core, :meth:`SessionDriver.pump` moves what came out
to where it goes:

* the response for a parked GET to the front door's responder callback;
* WebSocket messages to the attached :class:`WebSocketTransport` (a synchronous write);
* events to the application: messages and the final disconnect go through a per-session
  :class:`~engineio_core.aio.inbox.OrderedInbox`, drained by a task that exists only while
  the inbox is not empty, so a client's
  messages reach the handler in arrival order without blocking the reader that received
  them.

Nothing here parses or decides anything about the protocol: that is the core's job.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from websocket.aio.timer import DeadlineTimer

from ..events import Closed, HTTPResponse, MessageReceived, Upgraded
from ..handshake import SessionConfig, Sid, Transport
from ..packet import Packet
from ..request import HTTPRequest
from ..server_session import ServerSession
from .inbox import OrderedInbox

__all__ = ["SessionDriver", "SessionHost", "WebSocketTransport"]

logger = logging.getLogger(__name__)

# Above this many unread bytes a WebSocket is not "writable" for volatile messages.
VOLATILE_BACKLOG = 64 * 1024

Responder = Callable[[HTTPResponse], None]


class WebSocketTransport(Protocol):
    """What a front door provides for an accepted WebSocket."""

    def write(self, message: str | bytes) -> None:
        """Queue a text (``str``) or binary (``bytes``) message."""

    def close(self) -> None:
        """Start closing the WebSocket; the front door reports the end with ``ws_closed``."""

    @property
    def backlog(self) -> int:
        """Bytes written but not yet taken by the peer."""


class SessionHost(Protocol):
    """What a session driver needs from the server that created it."""

    @property
    def session_config(self) -> SessionConfig:
        """The settings every session core is made with."""

    @property
    def message_hook(self) -> Callable[[Sid, str | bytes], None] | None:
        """A synchronous receiver of every message (the Socket.IO layer), or None."""

    def forget(self, driver: SessionDriver) -> None:
        """Drop a closed session from the table."""

    def dispatch_message(self, driver: SessionDriver, data: object) -> Awaitable[None]:
        """Run the ``message`` handler for one message of a session."""

    def dispatch_disconnect(self, driver: SessionDriver, reason: object) -> Awaitable[None]:
        """Run the ``disconnect`` handler once a session is closed."""


class SessionDriver:
    """Drives one session's core from asyncio; created by
    :class:`~engineio_core.aio.server.AsyncServer` (its :class:`SessionHost`)."""

    __slots__ = (
        "__weakref__",
        "_inbox",
        "_loop",
        "_timer",
        "core",
        "request",
        "responder",
        "server",
        "sid",
        "ws",
    )

    def __init__(
        self, server: SessionHost, sid: Sid, request: HTTPRequest, transport: Transport
    ) -> None:
        self.server = server
        self.sid = sid
        self.request = request
        self._loop = asyncio.get_running_loop()
        self.core = ServerSession(
            sid, now=self._loop.time(), transport=transport, config=server.session_config
        )
        self.responder: Responder | None = None
        self.ws: WebSocketTransport | None = None
        self._timer = DeadlineTimer(self._loop, self._on_timer)
        # Created when an event waits, dropped when drained: an idle session holds none.
        self._inbox: OrderedInbox | None = None  # made on first use: an idle session holds none

    @property
    def writable(self) -> bool:
        """Whether a packet sent now leaves at once (for volatile messages): a WebSocket
        with little unread, or a polling client with a GET waiting."""
        if self.ws is not None and self.core.transport is Transport.WEBSOCKET:
            return self.ws.backlog < VOLATILE_BACKLOG
        return self.responder is not None

    @property
    def transport(self) -> str:
        """``polling`` or ``websocket``."""
        return self.core.transport.value

    # -------------------------------------------------------------- front-door inputs

    def poll(self, responder: Responder) -> None:
        """A polling GET: ``responder`` is called with its response, now or later."""
        response = self.core.receive_get(self._loop.time())
        if response is not None:
            responder(response)
        else:
            self.responder = responder
        self.pump()

    def abort_poll(self, responder: Responder) -> None:
        """The client of the parked GET went away before it was answered."""
        if self.responder is responder:
            self.responder = None
            self.core.abort_get(self._loop.time())
            self.pump()

    def post(self, body: bytes) -> HTTPResponse:
        """A polling POST with its (size-checked) body: returns the response."""
        now = self._loop.time()
        response = self.core.begin_post(now)
        if response is None:
            response = self.core.receive_post(body, now)
        self.pump()
        return response

    def reject_post(self) -> None:
        """A POST refused before its body could be used (oversized, or not a v4 payload).

        Like Node's ``onError`` for such a POST, the session closes at once with ``transport
        error`` (a session that is already closed or on WebSocket is left alone).
        """
        now = self._loop.time()
        if self.core.begin_post(now) is None:
            self.core.abort_post(now)
        self.pump()

    def attach_websocket(self, ws: WebSocketTransport) -> bool:
        """An accepted WebSocket for this session; False: the front door must close it."""
        if self.core.transport is Transport.WEBSOCKET and self.ws is None:
            accepted = not self.core.closed  # a WebSocket-only session, from its handshake
        else:
            accepted = self.core.attach_websocket(self._loop.time())
        if accepted:
            self.ws = ws
            self.pump()
        return accepted

    def ws_message(self, data: str | bytes) -> None:
        """A message from the attached WebSocket."""
        self.core.receive_ws_message(data, self._loop.time())
        self.pump()

    def ws_closed(self) -> None:
        """The attached WebSocket is closed."""
        self.ws = None
        self.core.websocket_closed(self._loop.time())
        self.pump()

    # ----------------------------------------------------------- application inputs

    def send(self, data: str | bytes | Packet, *, volatile: bool = False) -> None:
        """Queue a message for the client (raises SessionClosed once closing).

        A broadcast passes the same message :class:`Packet` to every recipient: it is then
        encoded once, down to the WebSocket frame (see the standalone front door).
        ``volatile`` packets are the first dropped when the client falls behind by more than
        ``max_send_buffer`` bytes; past that the session closes (``transport error``).
        """
        core = self.core
        core.send(data, volatile=volatile)
        # Queueing a message makes output only: no event, no deadline moves (the per-recipient
        # path of a broadcast, so it does no more than that), unless it closed the session.
        self._pump_output()
        if core.closed:
            self.pump()

    def close(self, *, force: bool = False) -> None:
        """Close the session from the server side (``force``: without waiting for a GET)."""
        self.core.close(self._loop.time(), force=force)
        self.pump()

    # ----------------------------------------------------------------------- output

    def pump(self) -> None:
        """Move everything the core produced to its destination."""
        self._pump_output()
        core = self.core
        for event in core.events_received():
            if isinstance(event, MessageReceived):
                hook = self.server.message_hook
                if hook is not None:
                    hook(self.sid, event.data)
                else:
                    self._deliver(self.server.dispatch_message, event.data)
            elif isinstance(event, Closed):
                self.server.forget(self)
                self._deliver(self.server.dispatch_disconnect, event.reason)
            elif isinstance(event, Upgraded):
                logger.debug("= %s: upgraded", self.sid)
        self._schedule_timer()

    def _pump_output(self) -> None:
        """Hand the core's output to the parked GET and the WebSocket (all a send makes)."""
        core = self.core
        if self.responder is not None:
            response = core.get_response()
            if response is not None:
                responder, self.responder = self.responder, None
                responder(response)
        ws = self.ws
        if ws is not None:
            for message in core.websocket_data_to_send():
                ws.write(message)
            if not core.websocket_should_close:
                # The same send-buffer rule as for polling, on the transport's write buffer.
                backlog = ws.backlog
                if backlog > core.config.send_buffer_limit:
                    core.websocket_backlog(backlog, self._loop.time())
            if core.websocket_should_close:
                ws.close()

    def _deliver(
        self, handler: Callable[[SessionDriver, object], Awaitable[None]], arg: object
    ) -> None:
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = OrderedInbox(self.sid)
        inbox.push(functools.partial(handler, self, arg))

    def _schedule_timer(self) -> None:
        self._timer.set(self.core.next_deadline())

    def _on_timer(self) -> None:
        self.core.on_timer(self._loop.time())
        self.pump()
