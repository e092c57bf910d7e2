"""The sans-I/O half of the Socket.IO v5 server: one object per Engine.IO connection.

Theory of operation
-------------------
A :class:`ServerSession` lives as long as one Engine.IO connection. The I/O layer feeds it:

* :meth:`~ServerSession.receive_message`: every Engine.IO message, in order, with ``now``;
* the application's decisions: :meth:`~ServerSession.accept` or :meth:`~ServerSession.refuse`
  a namespace, :meth:`~ServerSession.emit` (with an ack token and a timeout if wanted),
  :meth:`~ServerSession.deliver` (messages already encoded once for a broadcast),
  :meth:`~ServerSession.expect_ack` (a broadcast's shared ack id), :meth:`~ServerSession.ack`,
  :meth:`~ServerSession.disconnect`;
* :meth:`~ServerSession.connection_closed`: the Engine.IO connection is gone;
* :meth:`~ServerSession.on_timer` at :meth:`~ServerSession.next_deadline`.

Output is pulled: :meth:`~ServerSession.data_to_send` (Engine.IO messages, in order) and
:meth:`~ServerSession.events_received` (:mod:`socketio_core.server_events`). One exception,
for speed: :meth:`~ServerSession.deliver`, a broadcast's per-recipient path, hands back the
messages that go now instead of queueing them (the queue is empty then: the I/O layer
empties it after every call). Ack callbacks are
opaque *tokens*: the I/O layer passes any object with an emit and gets it back in
:class:`AckReceived` or :class:`AckFailed`.

Each socket (a namespace joined by this connection, with a sid of its own, as v5 requires) is a
small state machine (``_TRANSITIONS``)::

    (CONNECT) ──► CONNECTING ──accept──► CONNECTED
                      │                      │
                      └──refuse, disconnect, DISCONNECT, transport closed──► DISCONNECTED

Rules this file keeps (spec "Connection to a namespace", "Sending and receiving data", and
Node's socket.io where the spec is silent)
-------------------------------------------------------------------------------------------
* "If the server does not receive a CONNECT packet first, then it MUST close the connection
  immediately": the decoder is built with ``require_connect_first``; and a connection that
  sends no CONNECT within ``connect_timeout`` is closed too (Node's ``connectTimeout``, 45 s).
* CONNECT to a namespace the server does not serve gets CONNECT_ERROR
  ``{"message": "Invalid namespace"}``; a second CONNECT to a joined namespace is ignored.
* A socket exists (with its sid) from its CONNECT, before the application decides, so the
  ``connect`` handler can join rooms and emit; what is emitted meanwhile is *held* and sent
  right after the CONNECT reply. A refusal sends CONNECT_ERROR (DISCONNECT if the socket was
  already accepted) and drops what was held.
* Events are reported for sockets that exist; one for a namespace the client has not joined
  is dropped. The I/O layer handles events in order, after the CONNECT that precedes them, so
  an event reported while a socket is CONNECTING reaches a handler only if it was accepted.
* An ACK matches a pending ack of its socket by id; one that matches nothing is dropped.
* Every pending ack settles exactly once: acked, timed out (:exc:`AckTimeout`) or its socket
  gone (:exc:`NotConnected`). Nothing stays pending after a socket leaves.
* Bad peer input never raises: a decoder error or a packet a client may not send (CONNECT_ERROR)
  becomes :class:`CloseConnection`, and the rest of the connection's input is ignored.
* Misuse raises :exc:`LocalProtocolError` (a transition the table forbids, an invalid packet)
  or :exc:`NotConnected`. No clock, no randomness, no asyncio: ``now`` comes in as an
  argument and sids from the ``new_sid`` callable.
"""

from __future__ import annotations

import enum
import heapq
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .decoder import Decoder, Message
from .exceptions import (
    AckTimeout,
    ConnectionRefused,
    InvalidPacket,
    LocalProtocolError,
    NotConnected,
    RemoteProtocolError,
    SocketIOError,
)
from .packet import MAX_ACK_ID, NamespaceName, Packet, PacketType
from .parsers import Parser
from .server_events import (
    CLIENT_NAMESPACE_DISCONNECT,
    AckFailed,
    AckReceived,
    AckToken,
    CloseConnection,
    ConnectRequested,
    EventReceived,
    ServerEvent,
    SocketDisconnected,
)

__all__ = ["AckIds", "ServerSession", "SocketState"]

logger = logging.getLogger(__name__)

#: An Engine.IO message the server sends: text, binary, or an object the Engine.IO layer
#: accepts as is (a shared packet of a broadcast).
Outgoing = Any

INVALID_NAMESPACE: Final = {"message": "Invalid namespace"}


class SocketState(enum.Enum):
    """Where one socket (a namespace of this connection) stands."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


_TRANSITIONS: Final[dict[SocketState, frozenset[SocketState]]] = {
    SocketState.CONNECTING: frozenset({SocketState.CONNECTED, SocketState.DISCONNECTED}),
    SocketState.CONNECTED: frozenset({SocketState.DISCONNECTED}),
    SocketState.DISCONNECTED: frozenset(),
}


class AckIds:
    """Ack ids, one counter per namespace, shared by every connection of a server.

    As Node's ``nsp._ids``: a broadcast's single ack id is then unique among the pending acks
    of every recipient, so the broadcast is encoded once.
    """

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def allocate(self, namespace: str) -> int:
        """The next ack id of ``namespace`` (wrapping at ``MAX_ACK_ID``)."""
        ack_id = self._next.get(namespace, 0)
        self._next[namespace] = 0 if ack_id >= MAX_ACK_ID else ack_id + 1
        return ack_id


# -- internal records --------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _PendingAck:
    """An emit to one socket waiting for its ack."""

    sid: str
    id: int
    token: AckToken
    deadline: float | None
    done: bool = False


@dataclass(eq=False, slots=True)
class _Socket:
    """One namespace of the connection."""

    sid: str
    namespace: str
    state: SocketState = SocketState.CONNECTING
    # Messages emitted while CONNECTING, sent right after the CONNECT reply (None after).
    held: list[Outgoing] | None = field(default_factory=list)
    acks: dict[int, _PendingAck] = field(default_factory=dict)

    def move(self, state: SocketState) -> None:
        """Change state, refusing what the table forbids."""
        if state not in _TRANSITIONS[self.state]:
            raise LocalProtocolError(f"socket {self.sid} cannot go from {self.state} to {state}")
        self.state = state


class ServerSession:
    """The server's protocol state for one Engine.IO connection; see the module docstring.

    Args:
        parser: the parser (the clients must use the same).
        now: the time the Engine.IO connection opened.
        new_sid: returns a fresh sid for each accepted CONNECT.
        accepts: whether the server serves a namespace.
        connect_timeout: seconds the client has to send its first CONNECT.
        ack_ids: the server's ack id counters (a private one if None).
    """

    __slots__ = (
        "_accepts",
        "_ack_ids",
        "_connect_deadline",
        "_decoder",
        "_events",
        "_new_sid",
        "_out",
        "_sockets",
        "_timer_seq",
        "_timers",
        "parser",
    )

    def __init__(
        self,
        parser: Parser,
        *,
        now: float,
        new_sid: Callable[[], str],
        accepts: Callable[[str], bool],
        connect_timeout: float = 45.0,
        ack_ids: AckIds | None = None,
    ) -> None:
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be > 0")
        self.parser = parser
        self._decoder: Decoder | None = parser.decoder(require_connect_first=True)
        self._new_sid = new_sid
        self._accepts = accepts
        self._ack_ids = ack_ids if ack_ids is not None else AckIds()
        self._connect_deadline: float | None = now + connect_timeout
        # namespace -> socket; a connection has a socket or two, so a sid is found by a scan
        # (one dict per idle connection, not two).
        self._sockets: dict[str, _Socket] = {}
        self._timers: list[tuple[float, int, _PendingAck]] | None = None  # while none is armed
        self._timer_seq = 0
        self._out: list[Outgoing] = []
        self._events: list[ServerEvent] = []

    # -- queries -------------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        """Whether the connection still takes input (no violation, not closed)."""
        return self._decoder is not None

    @property
    def sids(self) -> list[str]:
        """The sids of the sockets that are not disconnected, in CONNECT order."""
        return [socket.sid for socket in self._sockets.values()]

    def state(self, sid: str) -> SocketState:
        """The state of socket ``sid`` (DISCONNECTED for one this connection does not have)."""
        socket = self._find(sid)
        return SocketState.DISCONNECTED if socket is None else socket.state

    def namespace_of(self, sid: str) -> str | None:
        """The namespace of socket ``sid``, or None."""
        socket = self._find(sid)
        return None if socket is None else socket.namespace

    def pending_acks(self, sid: str | None = None) -> int:
        """How many acks are awaited (from one socket, or from all)."""
        if sid is not None:
            socket = self._find(sid)
            return 0 if socket is None else len(socket.acks)
        return sum(len(s.acks) for s in self._sockets.values())

    # -- output --------------------------------------------------------------------------------

    def data_to_send(self) -> Sequence[Outgoing]:
        """The Engine.IO messages to send, in order; each call empties the list."""
        out = self._out
        if not out:
            return ()  # never the internal list: the caller may feed us while iterating
        self._out = []
        return out

    def events_received(self) -> Sequence[ServerEvent]:
        """The events for the application, in order; each call empties the list."""
        events = self._events
        if not events:
            return ()
        self._events = []
        return events

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must next be called, or None."""
        heap = self._timers
        if not heap:
            return self._connect_deadline
        while heap and heap[0][2].done:
            heapq.heappop(heap)
        when = heap[0][0] if heap else None
        connect = self._connect_deadline
        if connect is not None and (when is None or connect < when):
            return connect
        return when

    # -- input ---------------------------------------------------------------------------------

    def receive_message(self, message: Message, now: float) -> None:
        """Take one Engine.IO message (text or binary) of the connection.

        Args:
            message: the message.
            now: the current time.
        """
        decoder = self._decoder
        if decoder is None:
            return  # the connection failed; the rest of its input is ignored
        try:
            packet = decoder.feed(message)
        except RemoteProtocolError as exc:
            # Spec: a malformed packet means "the receiver MUST close the connection".
            self._fail(str(exc), exc)
            return
        if packet is not None:
            self._receive_packet(packet, now)

    def on_timer(self, now: float) -> None:
        """Close a connection without CONNECT, and fail every ack whose deadline has come.

        Args:
            now: the current time.
        """
        connect = self._connect_deadline
        if connect is not None and connect <= now:
            self._connect_deadline = None
            if self._decoder is not None:
                self._fail("no CONNECT in time", None)
        heap = self._timers
        while heap and heap[0][0] <= now:
            _, _, pending = heapq.heappop(heap)
            if pending.done:
                continue
            socket = self._find(pending.sid)
            if socket is not None:
                socket.acks.pop(pending.id, None)
            self._settle(pending, AckTimeout(f"no ack {pending.id} from {pending.sid}"))

    def connection_closed(self, reason: str) -> None:
        """The Engine.IO connection is gone: every socket is disconnected with ``reason``.

        Args:
            reason: the Engine.IO close reason.
        """
        self._decoder = None
        self._connect_deadline = None
        self._out.clear()
        for socket in list(self._sockets.values()):
            connected = socket.state is SocketState.CONNECTED
            self._forget(socket, NotConnected(f"{socket.sid} disconnected: {reason}"))
            self._events.append(SocketDisconnected(socket.sid, socket.namespace, reason, connected))

    # -- the application's decisions -----------------------------------------------------------

    def accept(self, sid: str, data: dict[str, Any] | None = None) -> None:
        """Accept socket ``sid``: CONNECT ``{"sid": sid, **data}``, then what was held.

        Raises:
            NotConnected: the socket is gone (its client left while the application decided).
            LocalProtocolError: it was accepted already.
        """
        socket = self._socket(sid)
        socket.move(SocketState.CONNECTED)
        payload = {"sid": sid} if data is None else {**data, "sid": sid}
        self._send(Packet(PacketType.CONNECT, NamespaceName(socket.namespace), payload))
        held, socket.held = socket.held, None
        if held:
            self._out.extend(held)

    def rename(self, sid: str, new_sid: str) -> None:
        """Give a CONNECTING socket another sid (a recovered socket takes its old sid back).

        Raises:
            NotConnected: the socket is gone.
            LocalProtocolError: it was accepted already, or ``new_sid`` is taken here.
        """
        socket = self._socket(sid)
        if socket.state is not SocketState.CONNECTING or self._find(new_sid) is not None:
            raise LocalProtocolError(f"socket {sid} cannot be renamed to {new_sid}")
        socket.sid = new_sid
        for pending in socket.acks.values():
            pending.sid = new_sid

    def refuse(self, sid: str, data: dict[str, Any] | None = None) -> None:
        """Refuse socket ``sid``: CONNECT_ERROR ``data`` while it is CONNECTING, DISCONNECT
        once accepted; what was held is dropped and its pending acks fail.

        Args:
            sid: the socket.
            data: the CONNECT_ERROR payload (``ConnectionRefused().error_args`` if None).

        Raises:
            NotConnected: the socket is gone.
        """
        socket = self._socket(sid)
        if socket.state is SocketState.CONNECTING:
            payload = ConnectionRefused().error_args if data is None else data
            self._send(Packet(PacketType.CONNECT_ERROR, NamespaceName(socket.namespace), payload))
        else:
            self._send(Packet(PacketType.DISCONNECT, NamespaceName(socket.namespace)))
        self._forget(socket, NotConnected(f"{sid} refused"))

    def disconnect(self, sid: str) -> bool:
        """Disconnect socket ``sid`` from the server side (a refusal if not yet accepted).

        Returns:
            Whether the socket was connected (its ``disconnect`` handler should run).

        Raises:
            NotConnected: the socket is gone.
        """
        connected = self._socket(sid).state is SocketState.CONNECTED
        self.refuse(sid)
        return connected

    def emit(
        self,
        sid: str,
        data: list[Any],
        now: float,
        *,
        token: object | None = None,
        timeout: float | None = None,
    ) -> None:
        """Emit ``data`` (``[event, *args]``) to socket ``sid``.

        Args:
            sid: the socket.
            data: the event name, then its arguments.
            now: the current time.
            token: given back in :class:`AckReceived` / :class:`AckFailed`; None when no ack
                is wanted.
            timeout: seconds to wait for the ack (None: until the socket leaves).

        Raises:
            NotConnected: the socket is gone.
            LocalProtocolError: an invalid packet (reserved name, unserialisable data...).
        """
        socket = self._socket(sid)
        ack_id = None
        if token is not None:
            ack_id = self._ack_ids.allocate(socket.namespace)
        messages = self.parser.encode(Packet.event(data, namespace=socket.namespace, id=ack_id))
        if ack_id is not None:
            self._expect(socket, ack_id, token, None if timeout is None else now + timeout)
        self._queue(socket, messages)

    def allocate_ack_id(self, namespace: str) -> int:
        """A fresh ack id of ``namespace`` for a broadcast encoded once (see :class:`AckIds`)."""
        return self._ack_ids.allocate(namespace)

    def expect_ack(self, sid: str, ack_id: int, token: object, deadline: float | None) -> None:
        """Wait for ack ``ack_id`` from ``sid`` (a broadcast's shared id), until ``deadline``.

        Raises:
            NotConnected: the socket is gone.
            LocalProtocolError: that id is already pending on the socket.
        """
        socket = self._socket(sid)
        if ack_id in socket.acks:
            raise LocalProtocolError(f"ack id {ack_id} is already pending on {sid}")
        self._expect(socket, ack_id, token, deadline)

    def deliver(self, sid: str, messages: Sequence[Outgoing]) -> Sequence[Outgoing]:
        """Messages already encoded (a broadcast's) for socket ``sid``: the fan-out path.

        Unlike the other decisions, this one hands its output back at once instead of
        queueing it for :meth:`data_to_send` (whose queue the I/O layer empties after every
        call, so the order of the connection's messages is the same).

        Returns:
            ``messages`` when they go now; nothing when the socket is CONNECTING (they are
            held, and sent after the CONNECT reply) or gone.
        """
        for socket in self._sockets.values():
            if socket.sid == sid:
                held = socket.held
                if held is None:
                    return messages
                held.extend(messages)
                return ()
        return ()

    def ack(self, sid: str, ack_id: int, args: list[Any]) -> None:
        """Acknowledge the client's event ``ack_id`` (dropped if the socket is not connected).

        Raises:
            LocalProtocolError: the arguments cannot be encoded.
        """
        for socket in self._sockets.values():
            if socket.sid == sid:
                packet = Packet.ack(args, id=ack_id, namespace=socket.namespace)
                if socket.state is SocketState.CONNECTED:
                    self._out.extend(self.parser.encode(packet))
                return
        Packet.ack(args, id=ack_id)  # a socket that is gone: still check the arguments

    # -- internals -----------------------------------------------------------------------------

    def _receive_packet(self, packet: Packet, now: float) -> None:
        kind = packet.type
        name = packet.namespace
        if kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT:
            socket = self._sockets.get(name)
            if socket is None:
                logger.debug("< event for unjoined namespace %s dropped", name)
                return
            data = packet.data
            self._events.append(EventReceived(socket.sid, name, data[0], data[1:], packet.id))
        elif kind is PacketType.ACK or kind is PacketType.BINARY_ACK:
            socket = self._sockets.get(name)
            ack_id = packet.id
            pending = None if socket is None or ack_id is None else socket.acks.pop(ack_id, None)
            if pending is None:
                logger.debug("< ack %s in %s matches no emit", packet.id, name)
                return
            pending.done = True
            self._events.append(AckReceived(pending.sid, pending.token, packet.data))
        elif kind is PacketType.CONNECT:
            self._connect_deadline = None
            self._receive_connect(name, packet.data)
        elif kind is PacketType.DISCONNECT:
            socket = self._sockets.get(name)
            if socket is not None:
                connected = socket.state is SocketState.CONNECTED
                self._forget(socket, NotConnected(f"{socket.sid} disconnected"))
                self._events.append(
                    SocketDisconnected(socket.sid, name, CLIENT_NAMESPACE_DISCONNECT, connected)
                )
        else:  # CONNECT_ERROR: for clients only
            self._fail(f"unexpected {kind.name} packet", InvalidPacket(f"{kind.name} from client"))

    def _receive_connect(self, name: str, auth: Any) -> None:
        if name in self._sockets:
            logger.debug("< second CONNECT to %s ignored", name)
            return
        if not self._accepts(name):
            self._send(
                Packet(PacketType.CONNECT_ERROR, NamespaceName(name), dict(INVALID_NAMESPACE))
            )
            return
        sid = self._new_sid()
        socket = _Socket(sid, name)
        self._sockets[name] = socket
        self._events.append(ConnectRequested(sid, name, auth))

    def _fail(self, reason: str, error: SocketIOError | None) -> None:
        # The reason may quote the peer's bytes: those go to DEBUG only.
        logger.info("! %s; closing the connection", type(error).__name__ if error else reason)
        logger.debug("! %s", reason)
        self._decoder = None
        self._connect_deadline = None
        self._events.append(CloseConnection(reason, error))

    def _find(self, sid: str) -> _Socket | None:
        for socket in self._sockets.values():
            if socket.sid == sid:
                return socket
        return None

    def _socket(self, sid: str) -> _Socket:
        socket = self._find(sid)
        if socket is None:
            raise NotConnected(f"{sid} is not connected")
        return socket

    def _queue(self, socket: _Socket, messages: list[str | bytes]) -> None:
        held = socket.held
        if held is None:
            self._out.extend(messages)
        else:
            held.extend(messages)

    def _send(self, packet: Packet) -> None:
        self._out.extend(self.parser.encode(packet))

    def _expect(self, socket: _Socket, ack_id: int, token: object, deadline: float | None) -> None:
        pending = _PendingAck(socket.sid, ack_id, token, deadline)
        socket.acks[ack_id] = pending
        if deadline is not None:
            self._timer_seq += 1
            if self._timers is None:
                self._timers = []
            heapq.heappush(self._timers, (deadline, self._timer_seq, pending))

    def _forget(self, socket: _Socket, error: SocketIOError) -> None:
        """Move a socket to DISCONNECTED, drop it, and fail its pending acks."""
        socket.move(SocketState.DISCONNECTED)
        if self._sockets.get(socket.namespace) is socket:
            del self._sockets[socket.namespace]
        socket.held = None
        acks, socket.acks = socket.acks, {}
        for pending in acks.values():
            self._settle(pending, error)

    def _settle(self, pending: _PendingAck, error: SocketIOError) -> None:
        pending.done = True
        self._events.append(AckFailed(pending.sid, pending.token, error))
