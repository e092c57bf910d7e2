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

__all__ = ["SessionDriver", "SessionHost", "WebSocketTarget", "WebSocketTransport"]

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


class WebSocketTarget(Protocol):
    """What a front door feeds an accepted WebSocket to: a :class:`SessionDriver`, or (for a
    session of another server process) a relay supplied by the cluster layer."""

    def attach_websocket(self, ws: WebSocketTransport) -> bool:
        """The WebSocket is accepted; False: the front door must close it."""

    def ws_message(self, data: str | bytes) -> None:
        """A message from the WebSocket."""

    def ws_closed(self) -> None:
        """The WebSocket is closed (after ``attach_websocket`` returned True)."""

    def handshake_failed(self) -> None:
        """The WebSocket handshake failed after this target was chosen (never attached)."""


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
        "_held",
        "_held_bytes",
        "_hold_timer",
        "_inbox",
        "_loop",
        "_remote_ws",
        "_timer",
        "core",
        "request",
        "responder",
        "server",
        "sid",
        "ws",
    )

    def __init__(
        self,
        server: SessionHost,
        sid: Sid,
        request: HTTPRequest,
        transport: Transport,
        *,
        adopted: bool = False,
    ) -> None:
        self.server = server
        self.sid = sid
        self.request = request
        self._loop = asyncio.get_running_loop()
        self.core = ServerSession(
            sid,
            now=self._loop.time(),
            transport=transport,
            config=server.session_config,
            adopted=adopted,
        )
        self.responder: Responder | None = None
        self.ws: WebSocketTransport | None = None
        self._timer = DeadlineTimer(self._loop, self._on_timer)
        # Created when an event waits, dropped when drained: an idle session holds none.
        self._inbox: OrderedInbox | None = None  # made on first use: an idle session holds none
        # Held messages (see hold()); None when messages go to the application at once.
        self._held: list[str | bytes] | None = None
        self._held_bytes = 0
        self._hold_timer: asyncio.TimerHandle | None = None
        self._remote_ws = False

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

    def attach_websocket(self, ws: WebSocketTransport, *, remote: bool = False) -> bool:
        """An accepted WebSocket for this session; False: the front door must close it.

        Args:
            ws: the WebSocket.
            remote: ``ws`` is relayed from another server process (the cluster layer): an
                upgrade on it does not end a :meth:`hold`, the relay decides.
        """
        if self.core.transport is Transport.WEBSOCKET and self.ws is None:
            accepted = not self.core.closed  # a WebSocket-only session, from its handshake
        else:
            accepted = self.core.attach_websocket(self._loop.time())
        if accepted:
            self.ws = ws
            self._remote_ws = remote
            self.pump()
        return accepted

    def handshake_failed(self) -> None:
        """The WebSocket handshake failed after this session was chosen for it: a
        WebSocket-only session opened by that handshake ends here."""
        if self.ws is None and self.core.transport is Transport.WEBSOCKET:
            self.ws_closed()

    def ws_message(self, data: str | bytes) -> None:
        """A message from the attached WebSocket."""
        self.core.receive_ws_message(data, self._loop.time())
        self.pump()

    def ws_closed(self) -> None:
        """The attached WebSocket is closed."""
        self.ws = None
        self._remote_ws = False
        self.core.websocket_closed(self._loop.time())
        self.pump()

    # ------------------------------------------------- moving between processes

    def hold(self, seconds: float, max_bytes: int) -> None:
        """Keep this new session's messages from the application for up to ``seconds``.

        Without sticky sessions, the WebSocket upgrade of a polling session may land on
        another server process; while nothing of the session has reached the application,
        the session can move there whole (:meth:`move_out`). Held messages are delivered, in
        order, when the time is up, when the session upgrades here, when it closes, or when
        they pass ``max_bytes``.
        """
        if self._held is None and seconds > 0:
            self._held = []
            self._held_bytes = max_bytes
            self._hold_timer = self._loop.call_later(seconds, self.release)

    @property
    def held(self) -> bool:
        """Whether messages are being held (:meth:`hold`): nothing reached the application."""
        return self._held is not None

    def release(self) -> None:
        """Deliver the held messages, in order, and stop holding."""
        for data in self._stop_holding():
            self._message(data)

    def move_out(self) -> list[str | bytes]:
        """The session moves to another process with its (relayed) WebSocket: drop it here.

        Only for a held session whose upgrade just completed on a relayed WebSocket
        (everything queued for the client has gone to it). No event reaches the
        application: it saw no message of this session; the disconnect handler runs with
        reason ``"moved"`` so that per-session state made at connect time is released.

        Returns:
            The held messages, for the process the session moves to.
        """
        held = self._stop_holding()
        self.ws = None
        self._remote_ws = False
        self._timer.set(None)
        self.server.forget(self)
        self._deliver(self.server.dispatch_disconnect, "moved")
        return held

    def _stop_holding(self) -> list[str | bytes]:
        """Stop holding; the messages held until now."""
        held, self._held = self._held or [], None
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        return held

    def deliver(self, messages: list[str | bytes]) -> None:
        """Messages of this session received by the process it moved from, in order."""
        for data in messages:
            self._message(data)

    def _message(self, data: str | bytes) -> None:
        hook = self.server.message_hook
        if hook is not None:
            hook(self.sid, data)
        else:
            self._deliver(self.server.dispatch_message, data)

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
                held = self._held
                if held is None:
                    self._message(event.data)
                else:
                    held.append(event.data)
                    self._held_bytes -= len(event.data)
                    if self._held_bytes < 0:
                        self.release()
            elif isinstance(event, Closed):
                self.release()
                self.server.forget(self)
                self._deliver(self.server.dispatch_disconnect, event.reason)
            elif isinstance(event, Upgraded):
                logger.debug("= %s: upgraded", self.sid)
                if not self._remote_ws:
                    self.release()
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
