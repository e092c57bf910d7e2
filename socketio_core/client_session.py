"""The sans-I/O half of the Socket.IO v5 client: namespaces, acks, send buffer, retries, backoff.

Theory of operation
-------------------
One :class:`ClientSession` lives as long as the user's client object, across every Engine.IO
connection the client opens, so that what must survive an outage survives it: the send buffer,
the queue of emits with retries, and the ack id counter. Each Engine.IO connection is a
*transport* to the session:

* :meth:`ClientSession.transport_opened` starts a fresh decoder;
  :meth:`~ClientSession.connect_namespace` then queues one CONNECT per namespace (with that
  attempt's ``auth``);
* :meth:`~ClientSession.receive_message` takes every Engine.IO message, in order;
* :meth:`~ClientSession.transport_closed` says the connection is gone, for whatever reason.

Output is pulled: :meth:`~ClientSession.data_to_send` returns the Engine.IO messages to send,
:meth:`~ClientSession.events_received` the events for the application, and
:meth:`~ClientSession.next_deadline` / :meth:`~ClientSession.on_timer` are the one timer
(ack timeouts and retry attempts). Ack callbacks are opaque *tokens*: the I/O layer passes any
object with an emit and gets it back in :class:`AckReceived` or :class:`AckFailed`.

Each namespace is a small state machine (``_TRANSITIONS``)::

    DISCONNECTED ──connect_namespace──► CONNECTING ──CONNECT──► CONNECTED
         ▲                                   │                      │
         └────────CONNECT_ERROR, transport closed ◄─────────────────┘ DISCONNECT, close

What happens to an emit (socket.io-client's ``sendBuffer``, ``retries`` and ``ackTimeout``):

* connected, no retries: encoded and sent at once; an ack, if wanted, is pending with the
  emit's deadline. If the transport closes first, the ack fails with :exc:`NotConnected`
  (socket.io-client ``_clearAcks``): the packet may or may not have arrived.
* not connected, no retries: kept in the namespace's send buffer (at most ``buffer_size``
  packets, :exc:`SendBufferFull` beyond) and sent, in order, as soon as the namespace is
  connected again. The deadline runs while it waits; a timeout takes it out of the buffer.
* with retries: every such emit goes through the namespace's queue, one packet in flight at a
  time, in order. Each attempt carries a fresh ack id and waits ``ack_timeout``; a timeout
  sends it again, up to ``retries`` more times, then the ack fails with :exc:`AckTimeout`. A
  packet in flight when the transport closes is sent again after the reconnection, without
  counting an attempt.

Reconnection itself is I/O (the aio client runs it); its schedule is the pure function
:func:`backoff_delay` of the attempt number and a random value passed in.

Rules this file keeps
---------------------
* No clock, no randomness, no asyncio: ``now`` and the random value come in as arguments.
* Bad peer input never raises: the decoder's :exc:`RemoteProtocolError` becomes a
  :class:`ProtocolViolation` event, and the session ignores the rest of that transport (the
  I/O layer closes it, reason ``parse error``).
* Misuse raises :exc:`LocalProtocolError` (an invalid packet, a namespace transition the table
  forbids), :exc:`NotConnected` or :exc:`SendBufferFull`.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable
from typing import Any

from .client_events import (
    CLIENT_DISCONNECT,
    SERVER_DISCONNECT,
    AckFailed,
    AckReceived,
    ClientEvent,
    EventReceived,
    NamespaceConnected,
    NamespaceDisconnected,
    NamespaceRefused,
    ProtocolViolation,
    backoff_delay,
)
from .client_records import NamespaceRecord, NamespaceState, Outgoing
from .decoder import Decoder, Message
from .exceptions import (
    AckTimeout,
    ConnectFailed,
    InvalidPacket,
    LocalProtocolError,
    NotConnected,
    RemoteProtocolError,
    SendBufferFull,
    SocketIOError,
)
from .packet import MAX_ACK_ID, Namespace, Packet, PacketType
from .parsers import Parser

__all__ = [
    "AckFailed",
    "AckReceived",
    "ClientEvent",
    "ClientSession",
    "ConnectFailed",
    "EventReceived",
    "NamespaceConnected",
    "NamespaceDisconnected",
    "NamespaceRefused",
    "NamespaceState",
    "ProtocolViolation",
    "SendBufferFull",
    "backoff_delay",
]

logger = logging.getLogger(__name__)


class ClientSession:
    """The client's protocol state, across all its Engine.IO connections.

    Args:
        parser: the parser (the server must use the same).
        buffer_size: the most packets kept per namespace while disconnected (the send buffer,
            and the retry queue); 0 disables buffering: emits while disconnected raise
            :exc:`NotConnected`.
        retries: how many times an unacknowledged emit is sent again (0: emits do not go
            through the retry queue).
        ack_timeout: seconds each attempt of a retried emit waits for its ack (None: forever).
        max_early_events: the most events kept per namespace that arrive before the server's
            CONNECT reply (delivered right after it); past that, a protocol violation.
    """

    def __init__(
        self,
        parser: Parser,
        *,
        buffer_size: int = 1024,
        retries: int = 0,
        ack_timeout: float | None = None,
        max_early_events: int = 1024,
    ) -> None:
        if buffer_size < 0 or retries < 0 or (ack_timeout is not None and ack_timeout <= 0):
            raise ValueError("buffer_size and retries >= 0, ack_timeout > 0")
        self.parser = parser
        self.buffer_size = buffer_size
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.max_early_events = max_early_events
        self._namespaces: dict[str, NamespaceRecord] = {}
        self._decoder: Decoder | None = None
        self._pending: dict[int, Outgoing] = {}
        self._next_id = 0
        self._timers: list[tuple[float, int, Outgoing]] = []
        self._timer_seq = 0
        self._out: list[str | bytes] = []
        self._events: list[ClientEvent] = []

    # -- queries -------------------------------------------------------------------------------

    @property
    def namespaces(self) -> list[str]:
        """The namespaces the client wants to be in, in the order they were added."""
        return list(self._namespaces)

    def state(self, namespace: str) -> NamespaceState:
        """The state of ``namespace`` (DISCONNECTED for one the client never joined)."""
        record = self._namespaces.get(namespace)
        return NamespaceState.DISCONNECTED if record is None else record.state

    def sid(self, namespace: str) -> str | None:
        """The sid the server gave in ``namespace``, while connected."""
        record = self._namespaces.get(namespace)
        if record is None or record.state is not NamespaceState.CONNECTED:
            return None
        return record.sid

    def recovered(self, namespace: str) -> bool:
        """Whether the last CONNECT of ``namespace`` recovered its session (connection
        state recovery: same sid and rooms, missed events replayed)."""
        record = self._namespaces.get(namespace)
        return record is not None and record.recovered

    def connected_namespaces(self) -> dict[str, str]:
        """The connected namespaces and their sids."""
        return {
            name: record.sid
            for name, record in self._namespaces.items()
            if record.state is NamespaceState.CONNECTED and record.sid is not None
        }

    def settled(self) -> bool:
        """No namespace is waiting for the server's answer to its CONNECT."""
        return all(r.state is not NamespaceState.CONNECTING for r in self._namespaces.values())

    @property
    def transport_open(self) -> bool:
        """A transport is open and healthy."""
        return self._decoder is not None

    def buffered(self, namespace: str) -> int:
        """How many packets wait in ``namespace``'s send buffer and retry queue."""
        record = self._namespaces.get(namespace)
        return 0 if record is None else len(record.buffer) + len(record.queue)

    def pending_acks(self) -> int:
        """How many emits wait for an ack (sent, buffered or queued)."""
        live = {id(e): e for e in self._pending.values()}
        for record in self._namespaces.values():
            live.update((id(e), e) for e in (*record.buffer, *record.queue) if e.token is not None)
        return len(live)

    # -- output --------------------------------------------------------------------------------

    def data_to_send(self) -> list[str | bytes]:
        """The Engine.IO messages to send, in order; each call empties the list."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[ClientEvent]:
        """The events for the application, in order; each call empties the list."""
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must next be called, or None."""
        heap = self._timers
        while heap:
            when, _, entry = heap[0]
            if not entry.done and entry.when() == when:
                return when
            heapq.heappop(heap)
        return None

    # -- transport lifecycle -------------------------------------------------------------------

    def transport_opened(self) -> None:
        """A new Engine.IO connection is open: the next messages come from it."""
        self._decoder = self.parser.decoder()

    def connect_namespace(self, namespace: str, auth: dict[str, Any] | None = None) -> None:
        """Send CONNECT for ``namespace`` on the open transport (and remember the namespace).

        Args:
            namespace: the namespace.
            auth: the CONNECT payload (the ``auth`` object), or None.

        Raises:
            LocalProtocolError: no open transport, the namespace is not disconnected, or an
                invalid namespace or auth.
        """
        if self._decoder is None:
            raise LocalProtocolError("no open transport")
        record = self._namespaces.setdefault(namespace, NamespaceRecord())
        if record.pid is not None:
            # Connection state recovery (socket.io-client): pid and last offset, then auth.
            recover: dict[str, Any] = {"pid": record.pid}
            if record.offset is not None:
                recover["offset"] = record.offset
            auth = {**recover, **auth} if isinstance(auth, dict) else recover
        packet = Packet(PacketType.CONNECT, Namespace(namespace), auth)
        record.move(NamespaceState.CONNECTING)
        self._send(packet)

    def transport_closed(self, reason: str) -> None:
        """The Engine.IO connection is gone: every namespace is disconnected.

        Acks of packets already sent fail with :exc:`NotConnected`; buffered and queued emits
        stay for the next transport.

        Args:
            reason: the Engine.IO close reason, given to the disconnect events.
        """
        self._decoder = None
        self._out.clear()
        for name, record in self._namespaces.items():
            if record.state is NamespaceState.CONNECTED:
                self._events.append(NamespaceDisconnected(name, reason))
            if record.state is not NamespaceState.DISCONNECTED:
                record.move(NamespaceState.DISCONNECTED)
            record.sid = None
            for entry in record.queue:
                if entry.in_flight:
                    # Sent again after the reconnection, without counting an attempt.
                    self._forget(entry)
                    entry.in_flight = False
                    entry.attempt_deadline = None
        for ack_id, entry in list(self._pending.items()):
            if not entry.in_flight:
                del self._pending[ack_id]
                self._fail(entry, NotConnected("disconnected before the ack arrived"))

    def disconnect(self, namespace: str | None = None) -> None:
        """Leave ``namespace`` (every namespace if None): DISCONNECT to the server, and every
        ack, buffered and queued emit of it fails with :exc:`NotConnected`.

        The namespace is forgotten: it is not joined again on reconnection.

        Args:
            namespace: the namespace, or None for all.
        """
        names = list(self._namespaces) if namespace is None else [namespace]
        for name in names:
            record = self._namespaces.pop(name, None)
            if record is None:
                continue
            if record.state is not NamespaceState.DISCONNECTED and self._decoder is not None:
                self._send(Packet(PacketType.DISCONNECT, Namespace(name)))
            if record.state is NamespaceState.CONNECTED:
                self._events.append(NamespaceDisconnected(name, CLIENT_DISCONNECT))
            self._drop_namespace(name, record, NotConnected("client disconnect"))

    # -- emitting ------------------------------------------------------------------------------

    def emit(
        self,
        namespace: str,
        data: list[Any],
        now: float,
        *,
        token: object | None = None,
        timeout: float | None = None,
    ) -> None:
        """Emit ``data`` (``[event, *args]``) to ``namespace``.

        Args:
            namespace: the namespace.
            data: the event name, then its arguments.
            now: the current time.
            token: given back in :class:`AckReceived` / :class:`AckFailed`; None when no ack
                is wanted (a retried emit asks for one anyway).
            timeout: seconds to wait for the ack, in all (None: no limit but ``ack_timeout``).

        Raises:
            LocalProtocolError: an invalid packet (reserved name, unserialisable data...).
            NotConnected: the namespace is not connected and buffering is off, or the client
                never joined it.
            SendBufferFull: the buffer is full.
        """
        Packet.event(data, namespace=namespace)  # validate now, raise to the caller
        record = self._namespaces.get(namespace)
        if record is None:
            raise NotConnected(f"not connected to namespace {namespace}")
        entry = Outgoing(namespace, data, token, None if timeout is None else now + timeout)
        connected = record.state is NamespaceState.CONNECTED and self._decoder is not None
        if self.retries:
            if not connected:
                self._check_room(record)
            entry.retries = self.retries
            record.queue.append(entry)
            self._arm(entry)
            self._drain(record, now)
        elif connected:
            self._transmit(entry)
            self._arm(entry)
        else:
            self._check_room(record)
            if token is not None:
                entry.id = self._allocate_id()
            record.buffer.append(entry)
            self._arm(entry)

    def ack(self, namespace: str, id: int, args: list[Any]) -> None:
        """Acknowledge the server's event ``id`` with ``args`` (dropped if disconnected).

        Raises:
            LocalProtocolError: the args cannot be encoded.
        """
        packet = Packet.ack(args, id=id, namespace=namespace)
        if self.state(namespace) is NamespaceState.CONNECTED and self._decoder is not None:
            self._send(packet)

    # -- input ---------------------------------------------------------------------------------

    def receive_message(self, message: Message, now: float) -> None:
        """Take one Engine.IO message of the open transport.

        Args:
            message: text or binary.
            now: the current time.
        """
        decoder = self._decoder
        if decoder is None:
            return  # the transport already failed; its remaining messages are ignored
        try:
            packet = decoder.feed(message)
        except RemoteProtocolError as exc:
            logger.info("! protocol error from the server: %s", exc)
            self._decoder = None
            self._events.append(ProtocolViolation(exc))
            return
        if packet is not None:
            self._receive_packet(packet, now)

    def on_timer(self, now: float) -> None:
        """Fail or retry every emit whose deadline has come.

        Args:
            now: the current time.
        """
        while (when := self.next_deadline()) is not None and when <= now:
            _, _, entry = heapq.heappop(self._timers)
            if entry.deadline is not None and entry.deadline <= now:
                error = AckTimeout(f"no ack within the timeout for {entry.data[0]!r}")
                self._expire(entry, error, now)
            else:  # an attempt of a retried emit timed out
                self._forget(entry)
                entry.in_flight = False
                entry.attempt_deadline = None
                if entry.retries <= 0:
                    error = AckTimeout(f"no ack after retries for {entry.data[0]!r}")
                    self._expire(entry, error, now)
                else:
                    entry.retries -= 1
                    record = self._namespaces.get(entry.namespace)
                    if record is not None:
                        self._drain(record, now)

    # -- internals -----------------------------------------------------------------------------

    def _receive_packet(self, packet: Packet, now: float) -> None:
        """Act on one complete packet from the server."""
        name = packet.namespace
        record = self._namespaces.get(name)
        kind = packet.type
        if kind in (PacketType.ACK, PacketType.BINARY_ACK):
            self._resolve(name, packet.id, packet.data, now)
        elif record is None:
            logger.debug("< packet for namespace %s, which the client is not in", name)
        elif kind is PacketType.CONNECT:
            sid = packet.data.get("sid") if isinstance(packet.data, dict) else None
            if not isinstance(sid, str) or record.state is not NamespaceState.CONNECTING:
                self._violation(f"unexpected CONNECT for {name}: {packet.data!r}")
                return
            record.move(NamespaceState.CONNECTED)
            record.sid = sid
            pid = packet.data.get("pid")
            pid = pid if isinstance(pid, str) else None
            record.recovered = pid is not None and pid == record.pid
            if not record.recovered:
                record.offset = None
                # Not recovered: what arrived early belongs to a new session (no offsets).
            record.pid = pid
            self._events.append(NamespaceConnected(name, sid, record.recovered))
            self._events.extend(record.early)
            record.early.clear()
            # Flush what was emitted while disconnected (socket.io-client emitBuffered).
            while record.buffer:
                self._transmit(record.buffer.popleft())
            self._drain(record, now)
        elif kind is PacketType.CONNECT_ERROR:
            if record.state is not NamespaceState.CONNECTING:
                self._violation(f"unexpected CONNECT_ERROR for {name}")
                return
            record.move(NamespaceState.DISCONNECTED)
            data = packet.data if isinstance(packet.data, dict) else {"message": packet.data}
            self._events.append(NamespaceRefused(name, data))
        elif kind is PacketType.DISCONNECT:
            if record.state is NamespaceState.CONNECTED:
                # The server dropped us from this namespace: not rejoined on reconnection.
                del self._namespaces[name]
                self._events.append(NamespaceDisconnected(name, SERVER_DISCONNECT))
                self._drop_namespace(name, record, NotConnected("server disconnect"))
        elif record.state is NamespaceState.CONNECTED:  # EVENT, BINARY_EVENT
            self._events.append(self._event(record, packet))
        elif record.state is NamespaceState.CONNECTING:
            # python-socketio sends what its ``connect`` handler emits before the CONNECT
            # reply; Node's client delivers it, so do we: right after the CONNECT, in order.
            if len(record.early) >= self.max_early_events:
                self._violation(f"over {self.max_early_events} events before CONNECT on {name}")
                return
            record.early.append(self._event(record, packet))

    @staticmethod
    def _event(record: NamespaceRecord, packet: Packet) -> EventReceived:
        """The event of an EVENT packet; with connection state recovery on, its last
        argument, a string, is the offset (Node's server appends it to every event sent
        without an ack id): it is remembered and taken off."""
        data = packet.data
        args = data[1:]
        if record.pid is not None and packet.id is None and args and isinstance(args[-1], str):
            record.offset = args.pop()
        return EventReceived(packet.namespace, data[0], args, packet.id)

    def _resolve(self, namespace: str, ack_id: int | None, args: list[Any], now: float) -> None:
        """Match an ACK to its emit."""
        entry = None if ack_id is None else self._pending.get(ack_id)
        if entry is None or ack_id is None or entry.namespace != namespace:
            logger.debug("< ack %s in %s matches no emit", ack_id, namespace)
            return
        del self._pending[ack_id]
        entry.done = True
        if entry.token is not None:
            self._events.append(AckReceived(entry.token, args))
        record = self._namespaces.get(namespace)
        if entry.in_flight and record is not None and record.queue and record.queue[0] is entry:
            record.queue.popleft()
            self._drain(record, now)

    def _violation(self, message: str) -> None:
        """Treat an out-of-place packet like a decode error."""
        logger.info("! %s", message)
        self._decoder = None
        self._events.append(ProtocolViolation(InvalidPacket(message)))

    def _drain(self, record: NamespaceRecord, now: float) -> None:
        """Send the head of the retry queue, if connected and nothing is in flight."""
        if record.state is not NamespaceState.CONNECTED or self._decoder is None:
            return
        while record.queue and record.queue[0].done:
            record.queue.popleft()
        if not record.queue or record.queue[0].in_flight:
            return
        entry = record.queue[0]
        entry.id = None
        entry.in_flight = True
        if self.ack_timeout is not None:
            entry.attempt_deadline = now + self.ack_timeout
            self._arm(entry)
        self._transmit(entry, force_ack=True)

    def _transmit(self, entry: Outgoing, *, force_ack: bool = False) -> None:
        """Encode and queue an emit; register its ack."""
        if entry.id is None and (entry.token is not None or force_ack):
            entry.id = self._allocate_id()
        if entry.id is not None:
            self._pending[entry.id] = entry
        elif not entry.in_flight:
            entry.done = True
        self._send(Packet.event(entry.data, namespace=entry.namespace, id=entry.id))

    def _forget(self, entry: Outgoing) -> None:
        """Stop matching acks to the current ack id of ``entry``."""
        if entry.id is not None:
            self._pending.pop(entry.id, None)

    def _send(self, packet: Packet) -> None:
        self._out.extend(self.parser.encode(packet))

    def _allocate_id(self) -> int:
        ack_id = self._next_id
        self._next_id = 0 if ack_id >= MAX_ACK_ID else ack_id + 1
        return ack_id

    def _arm(self, entry: Outgoing) -> None:
        """Schedule the earliest deadline of ``entry``."""
        when = entry.when()
        if when is not None:
            self._timer_seq += 1
            heapq.heappush(self._timers, (when, self._timer_seq, entry))

    def _check_room(self, record: NamespaceRecord) -> None:
        if self.buffer_size == 0:
            raise NotConnected("not connected (send buffer disabled)")
        if len(record.buffer) + len(record.queue) >= self.buffer_size:
            raise SendBufferFull(f"send buffer full ({self.buffer_size} packets)")

    def _expire(self, entry: Outgoing, error: SocketIOError, now: float) -> None:
        """Take an emit out of wherever it waits and fail its ack."""
        if entry.id is not None:
            self._pending.pop(entry.id, None)
        record = self._namespaces.get(entry.namespace)
        was_head = False
        if record is not None:
            if entry in record.buffer:
                record.buffer.remove(entry)
            if entry in record.queue:
                was_head = record.queue[0] is entry
                record.queue.remove(entry)
        entry.in_flight = False
        self._fail(entry, error)
        if was_head and record is not None:
            self._drain(record, now)  # the next queued emit may go now

    def _fail(self, entry: Outgoing, error: SocketIOError) -> None:
        entry.done = True
        if entry.token is not None:
            self._events.append(AckFailed(entry.token, error))

    def _drop_namespace(self, name: str, record: NamespaceRecord, error: SocketIOError) -> None:
        """Fail everything that waits in or for a namespace the client left."""
        entries: Iterable[Outgoing] = [
            *[e for e in self._pending.values() if e.namespace == name],
            *record.buffer,
            *record.queue,
        ]
        seen: set[int] = set()
        for entry in entries:
            if id(entry) in seen or entry.done:
                continue
            seen.add(id(entry))
            if entry.id is not None:
                self._pending.pop(entry.id, None)
            self._fail(entry, error)
        record.buffer.clear()
        record.queue.clear()
