"""The asyncio driver of one :class:`socketio_core.server_session.ServerSession`.

Theory of operation
-------------------
One :class:`ServerSessionDriver` lives as long as one Engine.IO connection. It moves things
and decides nothing about the protocol:

* into the core: each Engine.IO message (``receive``), the end of the connection
  (``connection_closed``), the application's decisions (``accept``, ``refuse``, ``emit``,
  ``deliver``, ``ack``, ``disconnect``), and the core's one timer, a ``loop.call_at`` handle
  kept at :meth:`ServerSession.next_deadline`;
* out of the core, after every call (:meth:`ServerSessionDriver.pump`): the Engine.IO
  messages to the Engine.IO session, and the events to the ``on_events`` callable it was
  given (the dispatcher, which runs handlers).

It owns the connection's :class:`~engineio_core.aio.inbox.OrderedInbox`, the one task (only
while there is work) that runs the connection's handlers in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from engineio_core.aio.inbox import OrderedInbox
from engineio_core.exceptions import SessionClosed
from websocket.aio.timer import DeadlineTimer

from ..server_events import ServerEvent
from ..server_session import ServerSession, SocketState

if TYPE_CHECKING:
    from ..admin import ServerListener

__all__ = ["EngineIOSession", "ServerSessionDriver"]

logger = logging.getLogger(__name__)


class EngineIOSession(Protocol):
    """What the driver needs of an Engine.IO session (``engineio_core.aio.SessionDriver``)."""

    def send(self, data: Any) -> None:
        """Queue one message (raises once the session is closing)."""

    def close(self) -> None:
        """Close the session."""

    @property
    def writable(self) -> bool:
        """Whether a message sent now leaves at once."""

    @property
    def transport(self) -> str:
        """``polling`` or ``websocket``."""


OnEvents = Callable[["ServerSessionDriver", Sequence[ServerEvent]], None]


class ServerSessionDriver:
    """Drives one connection's :class:`ServerSession` from asyncio; see the module doc."""

    __slots__ = (
        "_environ",
        "_inbox",
        "_loop",
        "_on_events",
        "_timer",
        "core",
        "eio",
        "eio_sid",
        "listener",
        "request",
    )

    def __init__(
        self,
        eio_sid: str,
        eio: EngineIOSession | None,
        environ: dict[str, Any],
        core: ServerSession,
        on_events: OnEvents,
        listener: ServerListener | None = None,
    ) -> None:
        self.eio_sid = eio_sid
        self.eio = eio
        # Keep the request, not the environ built from it: the environ is rebuilt when asked
        # for (connect handlers, get_environ), so an idle connection does not carry that dict.
        request = environ.get("engineio.request")
        self.request = request
        self._environ: dict[str, Any] | None = environ if request is None else None
        self.core = core
        self._on_events = on_events
        #: ``instrument()``'s observer of the messages in and out; None: no work.
        self.listener = listener
        self._loop = asyncio.get_running_loop()
        self._timer = DeadlineTimer(self._loop, self._on_timer)
        self._inbox: OrderedInbox | None = None  # made on first use: an idle one holds none
        self._schedule_timer()

    @property
    def environ(self) -> dict[str, Any]:
        """The WSGI-style environ of the handshake request (a fresh dict each time)."""
        if self._environ is not None or self.request is None:
            return self._environ or {}
        return dict(self.request.environ)

    @property
    def inbox(self) -> OrderedInbox:
        """The connection's ordered inbox (its handlers run there, in arrival order)."""
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = OrderedInbox(self.eio_sid)
        return inbox

    @property
    def idle(self) -> bool:
        """Whether no handler of the connection is queued or running."""
        return self._inbox is None or not self._inbox.busy

    def now(self) -> float:
        """The loop's clock, the ``now`` the core is fed."""
        return self._loop.time()

    # ------------------------------------------------------------------------ inputs

    def receive(self, data: str | bytes) -> None:
        """One Engine.IO message from the client (the per-message path: :meth:`pump`, with
        the common case of no output first)."""
        if self.listener is not None:  # admin hook
            self.listener.on_packet_in(data)
        core = self.core
        core.receive_message(data, self._loop.time())
        out = core.data_to_send()
        if out:
            self._send(out)
        events = core.events_received()
        if events:
            self._on_events(self, events)
        if core.next_deadline() != self._timer.when:
            self._schedule_timer()

    def connection_closed(self, reason: str) -> None:
        """The Engine.IO connection is gone."""
        self.core.connection_closed(reason)
        self.eio = None
        self.pump()

    # ----------------------------------------------------------- application decisions

    def accept(self, sid: str, data: dict[str, Any] | None = None) -> bool:
        """Accept a CONNECTING socket (``data`` joins the sid in the CONNECT reply); False
        when it is gone meanwhile."""
        if self.core.state(sid) is not SocketState.CONNECTING:
            return False
        self.core.accept(sid, data)
        self.pump()
        return True

    def refuse(self, sid: str, data: dict[str, Any] | None = None) -> None:
        """Refuse (or, once accepted, drop) a socket that is still there."""
        if self.core.state(sid) is not SocketState.DISCONNECTED:
            self.core.refuse(sid, data)
            self.pump()

    def disconnect(self, sid: str) -> bool:
        """Disconnect a socket from the server side; returns whether it was connected."""
        if self.core.state(sid) is SocketState.DISCONNECTED:
            return False
        connected = self.core.disconnect(sid)
        self.pump()
        return connected

    def emit(self, sid: str, data: list[Any], token: object | None, timeout: float | None) -> None:
        """Emit ``[event, *args]`` to a socket, with an ack token if wanted."""
        self.core.emit(sid, data, self._loop.time(), token=token, timeout=timeout)
        self.pump()

    def expect_ack(self, sid: str, ack_id: int, token: object, timeout: float | None) -> None:
        """Wait for a broadcast's shared ack id from ``sid``."""
        deadline = None if timeout is None else self._loop.time() + timeout
        self.core.expect_ack(sid, ack_id, token, deadline)
        self._schedule_timer()

    def deliver(self, sid: str, messages: Sequence[Any], volatile: bool = False) -> None:
        """Send messages already encoded (a broadcast's fan-out path: output only)."""
        eio = self.eio
        if eio is None or (volatile and not eio.writable):
            return
        out = self.core.deliver(sid, messages)
        if self.listener is not None:  # admin hook
            self.listener.on_packets_out(out)
        try:
            for message in out:
                eio.send(message)
        except SessionClosed as exc:  # the client is leaving
            logger.debug("x %s: %s", self.eio_sid, exc)

    def ack(self, sid: str, ack_id: int, args: list[Any]) -> None:
        """Acknowledge the client's event ``ack_id``."""
        core = self.core
        core.ack(sid, ack_id, args)
        out = core.data_to_send()
        if out:
            self._send(out)

    def close(self) -> None:
        """Close the Engine.IO connection (the core then hears ``connection_closed``)."""
        if self.eio is not None:
            self.eio.close()

    # ------------------------------------------------------------------------ output

    def pump(self) -> None:
        """Move what the core produced: messages to Engine.IO, events to the dispatcher."""
        out = self.core.data_to_send()
        if out:
            self._send(out)
        events = self.core.events_received()
        if events:
            self._on_events(self, events)
        self._schedule_timer()

    def _send(self, messages: Sequence[Any]) -> None:
        eio = self.eio
        if eio is None:
            return
        if self.listener is not None:  # admin hook
            self.listener.on_packets_out(messages)
        try:
            for message in messages:
                eio.send(message)
        except SessionClosed as exc:  # the client is leaving
            logger.debug("x %s: %s", self.eio_sid, exc)

    def _schedule_timer(self) -> None:
        self._timer.set(self.core.next_deadline())

    def _on_timer(self) -> None:
        self.core.on_timer(self._loop.time())
        self.pump()

    def stop_timer(self) -> None:
        """Cancel the timer (the connection is gone and settled)."""
        self._timer.cancel()
