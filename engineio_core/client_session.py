"""The client side of one Engine.IO v4 session, sans I/O.

Theory of operation
-------------------
A :class:`ClientSession` is the mirror of :class:`engineio_core.server_session.ServerSession`:
it holds the state of one session as seen by the client, and knows nothing about sockets, HTTP
or clocks. The I/O layer (:mod:`engineio_core.aio.client`) opens the connections and drives it:

* **Handshake.** A polling session (the default, spec "Upgrade": "the client SHOULD create an
  HTTP long-polling connection") starts in ``OPENING`` and its first GET is the handshake; a
  WebSocket-only session opens a websocket with ``transport=websocket`` instead, reports it with
  :meth:`~ClientSession.websocket_opened`, and reads the open packet as its first message. The
  open packet is parsed by :func:`engineio_core.client_handshake.parse_open_packet` and reported
  as a :class:`~engineio_core.client_handshake.Connected` event; see :meth:`~ClientSession.query`.
* **GET** (polling): when :meth:`~ClientSession.next_get` returns ``True``, start a GET (the
  session now counts it as in flight) and report its outcome with
  :meth:`~ClientSession.receive_get_response` or :meth:`~ClientSession.get_failed`. At most one
  GET is in flight (spec "Receiving data": "a client MUST NOT have more than one active GET").
* **POST** (polling): when :meth:`~ClientSession.next_post` returns a body, POST it and report
  with :meth:`~ClientSession.receive_post_response` or :meth:`~ClientSession.post_failed`.
  Bodies hold as many queued packets as fit in the server's ``maxPayload`` **bytes** ("the
  maximum number of bytes per chunk, used by the client to aggregate packets into payloads"),
  and at most one POST is in flight ("a client MUST NOT have more than one active POST").
* **WebSocket**: :meth:`~ClientSession.upgrade_wanted` says (once) that it is time to open the
  probe websocket (``transport=websocket&sid=...``); report it with
  :meth:`~ClientSession.websocket_opened`, each message with
  :meth:`~ClientSession.receive_ws_message`, and its end (or a failed connect) with
  :meth:`~ClientSession.websocket_closed`. After each call, write
  :meth:`~ClientSession.websocket_data_to_send` (``str`` as text, ``bytes`` as binary), then
  close the websocket if :attr:`~ClientSession.websocket_should_close`.
* **Time**: every input takes ``now`` (seconds, any monotonic origin);
  :meth:`~ClientSession.next_deadline` says when to call :meth:`~ClientSession.on_timer`.
* **Application**: :meth:`~ClientSession.send`, :meth:`~ClientSession.close`,
  :meth:`~ClientSession.abort` and :meth:`~ClientSession.events_received`, which returns
  :class:`Connected`, :class:`~engineio_core.events.MessageReceived`,
  :class:`~engineio_core.events.Upgraded` and :class:`~engineio_core.events.Closed`.

The upgrade (spec "Upgrade") goes: open the websocket and send ``2probe`` on it while polling
carries on (PROBING); on ``3probe``, pause polling (PAUSING): start no more GETs or POSTs, and
wait for the GET in flight to come back (the server answers it with a ``6`` noop once it has
seen the probe) and for the POST in flight to be acknowledged; then send ``5`` on the websocket
and flush the held packets there (WEBSOCKET). Anything going wrong before ``5`` (the websocket
closes, a wrong answer, no ``3probe`` within ``pingTimeout``) abandons the upgrade: the probe
websocket is closed and polling resumes where it stopped, so no packet is lost or duplicated.

States (:class:`ClientState`)::

    OPENING --open packet--> POLLING --websocket_opened--> PROBING --"3probe"--> PAUSING
    PAUSING --GET and POST done, "5" sent--> WEBSOCKET
    OPENING --open packet on the websocket (WebSocket-only)--> WEBSOCKET
    PROBING, PAUSING --upgrade abandoned--> POLLING
    POLLING, PROBING, PAUSING --close()--> CLOSING --POST with "1" acknowledged--> CLOSED
    any --close packet, ping timeout, transport error, parse error--> CLOSED

Rules this file keeps
---------------------
* Input methods never raise on bad server input: the error goes to :attr:`error`, the session
  closes with a reason (``parse error`` for undecodable data, ``transport error`` for an HTTP
  error status, a failed request or an unexpected packet) and a :class:`Closed` event.
* Heartbeat (spec "Heartbeat"): a ping is answered with a pong on the current transport, and
  "if the client does not receive a ping packet within pingInterval + pingTimeout, then it
  SHOULD consider that the connection is closed". The deadline is re-armed by *any* packet
  from the server, which proves it alive, and a miss closes with ``ping timeout``.
* Packets wait in one buffer until a transport takes them; while the upgrade pauses polling
  the buffer is held, then it goes to the websocket after ``5`` (or back to POSTs if the upgrade
  is abandoned). Each packet leaves once, on the transport that is current when it leaves.
* A closing polling session sends the close packet after the packets already queued, and is
  closed once the POST carrying it is acknowledged, or after ``close_timeout``.
"""

from __future__ import annotations

import enum
import logging
from typing import Final

from .client_handshake import Connected, OpenInfo, parse_open_packet
from .events import Closed, CloseReason, MessageReceived, Upgraded
from .exceptions import (
    DecodeError,
    LocalProtocolError,
    PayloadTooLarge,
    RemoteProtocolError,
    SessionClosed,
)
from .handshake import PROTOCOL_VERSION, Sid, Transport
from .packet import Packet, PacketType, decode_packet, encode_packet
from .payload import SEPARATOR, decode_payload, encode_payload_within

__all__ = ["ClientEvent", "ClientSession", "ClientState", "Connected", "OpenInfo"]

logger = logging.getLogger(__name__)


class ClientState(enum.Enum):
    """Where a client session is; see the module docstring for the diagram."""

    OPENING = "opening"
    POLLING = "polling"
    PROBING = "probing"
    PAUSING = "pausing"
    WEBSOCKET = "websocket"
    CLOSING = "closing"
    CLOSED = "closed"


_S = ClientState
# Allowed transitions, in the spirit of h11's _state.py; anything else is a bug in this file.
_TRANSITIONS: Final[dict[ClientState, frozenset[ClientState]]] = {
    _S.OPENING: frozenset({_S.POLLING, _S.WEBSOCKET, _S.CLOSED}),
    _S.POLLING: frozenset({_S.PROBING, _S.CLOSING, _S.CLOSED}),
    _S.PROBING: frozenset({_S.PAUSING, _S.POLLING, _S.CLOSING, _S.CLOSED}),
    _S.PAUSING: frozenset({_S.WEBSOCKET, _S.POLLING, _S.CLOSING, _S.CLOSED}),
    _S.WEBSOCKET: frozenset({_S.CLOSED}),
    _S.CLOSING: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}
# States in which GETs run and POSTs carry the buffer.
_POLLING_STATES: Final = frozenset({_S.POLLING, _S.PROBING, _S.CLOSING})

ClientEvent = Connected | MessageReceived | Upgraded | Closed


class ClientSession:
    """One Engine.IO session, client side. See the module docstring for how to drive it.

    Every ``now`` argument of its methods is the current time, in seconds.

    Args:
        now: the current time.
        transport: the transport to open the session on.
        upgrade: whether a polling session may upgrade to WebSocket when the server offers it.
        max_receive: the largest GET body or websocket message accepted, in bytes.
        close_timeout: seconds a closing polling session waits for its close packet's POST.
    """

    def __init__(
        self,
        *,
        now: float,
        transport: Transport = Transport.POLLING,
        upgrade: bool = True,
        max_receive: int = 16 * 1024 * 1024,
        close_timeout: float = 5.0,
    ) -> None:
        if max_receive < 1:
            raise ValueError("max_receive must be positive")
        if not close_timeout > 0:
            raise ValueError("close_timeout must be positive")
        self.opening_transport: Final = transport
        self.upgrade: Final = upgrade and transport is Transport.POLLING
        self.max_receive: Final = max_receive
        self.close_timeout: Final = close_timeout
        self.info: OpenInfo | None = None
        self.close_reason: CloseReason | None = None
        self.error: RemoteProtocolError | None = None
        self._state = ClientState.OPENING
        self._events: list[ClientEvent] = []
        self._buffer: list[Packet] = []  # packets no transport has taken yet
        self._get_in_flight = False
        self._post_in_flight = False
        self._post_has_close = False
        self._upgrade_offered = False  # upgrade_wanted() said yes once
        self._ws_attached = False
        self._ws_should_close = False
        self._ws_out: list[str | bytes] = []
        self._heartbeat_deadline: float | None = None
        self._probe_deadline: float | None = None
        self._close_deadline: float | None = None
        # ``now`` is taken for symmetry with ServerSession; the handshake's own timeout
        # belongs to the I/O layer's request timeout.

    # -- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The current state."""
        return self._state

    @property
    def sid(self) -> Sid | None:
        """The session id, once connected."""
        return self.info.sid if self.info is not None else None

    @property
    def transport(self) -> Transport:
        """The transport packets currently leave on."""
        if self._state is ClientState.WEBSOCKET or (
            self._state is ClientState.OPENING and self.opening_transport is Transport.WEBSOCKET
        ):
            return Transport.WEBSOCKET
        return Transport.POLLING

    @property
    def closed(self) -> bool:
        """Whether the session is closed; :attr:`close_reason` says why."""
        return self._state is ClientState.CLOSED

    def _set_state(self, state: ClientState) -> None:
        """Move to ``state``, which the transition table must allow."""
        if state not in _TRANSITIONS[self._state]:
            raise LocalProtocolError(f"cannot go from {self._state.name} to {state.name}")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("= %s: %s -> %s", self.sid, self._state.name, state.name)
        self._state = state

    def query(self, transport: Transport) -> str:
        """Build the query string of a request on ``transport`` (spec "Query parameters").

        Args:
            transport: the request's transport.

        Returns:
            ``EIO=4&transport=<transport>``, plus ``&sid=<sid>`` once connected.
        """
        query = f"EIO={PROTOCOL_VERSION}&transport={transport.value}"
        return query if self.info is None else f"{query}&sid={self.info.sid}"

    # -- output --------------------------------------------------------------------------------

    def events_received(self) -> list[ClientEvent]:
        """Return and forget the events since the last call."""
        events, self._events = self._events, []
        return events

    def next_get(self) -> bool:
        """Whether to start a GET now; if so, the session counts it as in flight."""
        wanted = not self._get_in_flight and (
            self._state in _POLLING_STATES
            or (self._state is _S.OPENING and self.opening_transport is Transport.POLLING)
        )
        if wanted:
            self._get_in_flight = True
        return wanted

    def next_post(self) -> bytes | None:
        """Return the body of the POST to start now (it is then in flight), or ``None``."""
        if self._post_in_flight or not self._buffer or self._state not in _POLLING_STATES:
            return None
        assert self.info is not None
        body, count = encode_payload_within(self._buffer, self.info.max_payload)
        self._post_has_close = any(p.type is PacketType.CLOSE for p in self._buffer[:count])
        del self._buffer[:count]
        self._post_in_flight = True
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("> %s: POST of %d packets, %d bytes", self.sid, count, len(body))
        return body

    def upgrade_wanted(self) -> bool:
        """Whether to open the probe websocket now; ``True`` at most once per session."""
        if (
            self._upgrade_offered
            or not self.upgrade
            or self._state is not ClientState.POLLING
            or self.info is None
            or Transport.WEBSOCKET.value not in self.info.upgrades
        ):
            return False
        self._upgrade_offered = True
        return True

    def websocket_data_to_send(self) -> list[str | bytes]:
        """Return and forget the websocket messages to write, in order."""
        out, self._ws_out = self._ws_out, []
        return out

    @property
    def websocket_should_close(self) -> bool:
        """Whether the I/O layer should close the websocket after writing its data."""
        return self._ws_should_close

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must be called next, or ``None``."""
        deadlines = (self._heartbeat_deadline, self._probe_deadline, self._close_deadline)
        return min((d for d in deadlines if d is not None), default=None)

    # -- application ---------------------------------------------------------------------------

    def send(self, data: str | bytes) -> None:
        """Queue a message packet (before the handshake completes, it waits for it).

        Args:
            data: text or binary data.

        Raises:
            SessionClosed: the session is closing or closed.
            LocalProtocolError: text containing ``\\x1e`` on a session that may still poll.
        """
        if self._state in (ClientState.CLOSING, ClientState.CLOSED):
            raise SessionClosed(str(self.close_reason or CloseReason.CLIENT_DISCONNECT))
        if not isinstance(data, (str, bytes)):
            raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        if isinstance(data, str) and self.transport is Transport.POLLING and SEPARATOR in data:
            # Spec "History, v3 to v4": the payload format "assumes the record separator is
            # not used in the data".
            raise LocalProtocolError("text sent over polling cannot contain '\\x1e'")
        self._queue(Packet(PacketType.MESSAGE, data))

    def close(self, now: float) -> None:
        """Close the session from the client side (reason ``client disconnect``).

        On WebSocket the close packet is written and the session is closed at once. On polling
        the close packet is queued after the waiting packets and the session closes when its
        POST is acknowledged, or after ``close_timeout``. Before the handshake completes, the
        session just closes. Closing a closing or closed session does nothing.
        """
        if self._state in (ClientState.CLOSING, ClientState.CLOSED):
            return
        close_packet = Packet(PacketType.CLOSE)
        if self._state is ClientState.OPENING:
            self._to_closed(CloseReason.CLIENT_DISCONNECT)
        elif self._state is ClientState.WEBSOCKET:
            self._ws_out.append(encode_packet(close_packet))
            self._to_closed(CloseReason.CLIENT_DISCONNECT)
        else:
            if self._state is not ClientState.POLLING:
                self._abandon_upgrade("session closing")
            self._set_state(ClientState.CLOSING)
            self._heartbeat_deadline = None
            self._close_deadline = now + self.close_timeout
            self._queue(close_packet)

    def abort(self, now: float) -> None:
        """Close the session at once without telling the server (reason ``client disconnect``)."""
        self._to_closed(CloseReason.CLIENT_DISCONNECT)

    # -- polling -------------------------------------------------------------------------------

    def receive_get_response(self, status: int, body: bytes, now: float) -> None:
        """Handle the response to the GET in flight (the handshake GET included).

        Args:
            status: the HTTP status.
            body: the body.

        Raises:
            LocalProtocolError: no GET is in flight.
        """
        if not self._get_in_flight:
            raise LocalProtocolError("receive_get_response() without a GET in flight")
        self._get_in_flight = False
        if self._state is ClientState.CLOSED:
            return
        if status != 200:
            self._fail(RemoteProtocolError(f"GET answered {status}"), CloseReason.TRANSPORT_ERROR)
            return
        try:
            packets = decode_payload(body, max_payload=self.max_receive)
        except PayloadTooLarge as exc:
            self._fail(exc, CloseReason.TRANSPORT_ERROR)
            return
        except DecodeError as exc:
            self._fail(exc, CloseReason.PARSE_ERROR)
            return
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("< %s: GET of %d packets", self.sid, len(packets))
        if self._state is ClientState.OPENING:
            self._receive_open(packets[0], Transport.POLLING, now)
            packets = packets[1:]
        for packet in packets:
            if self.closed:
                return
            self._receive_packet(packet, now)
        self._check_paused()

    def get_failed(self, now: float) -> None:
        """Report that the GET in flight failed (connection lost, timeout, bad response)."""
        if self._get_in_flight:
            self._get_in_flight = False
            self._to_closed(CloseReason.TRANSPORT_ERROR)

    def receive_post_response(self, status: int, body: bytes, now: float) -> None:
        """Handle the response to the POST in flight.

        Args:
            status: the HTTP status (the spec's success is ``200`` with ``ok``).
            body: the body.

        Raises:
            LocalProtocolError: no POST is in flight.
        """
        if not self._post_in_flight:
            raise LocalProtocolError("receive_post_response() without a POST in flight")
        self._post_in_flight = False
        if self._state is ClientState.CLOSED:
            return
        if status != 200:
            self._fail(RemoteProtocolError(f"POST answered {status}"), CloseReason.TRANSPORT_ERROR)
            return
        if self._post_has_close:
            self._to_closed(CloseReason.CLIENT_DISCONNECT)
            return
        self._check_paused()

    def post_failed(self, now: float) -> None:
        """Report that the POST in flight failed (connection lost, timeout, bad response)."""
        if self._post_in_flight:
            self._post_in_flight = False
            self._to_closed(
                CloseReason.CLIENT_DISCONNECT
                if self._state is ClientState.CLOSING
                else CloseReason.TRANSPORT_ERROR
            )

    # -- websocket -----------------------------------------------------------------------------

    def websocket_opened(self, now: float) -> None:
        """Report that a websocket is open: the WebSocket-only handshake's, or the probe's.

        For the probe, ``2probe`` is queued on it (spec "Upgrade"). A probe websocket that
        opens when the session no longer wants it is to be closed again.
        """
        if self._ws_attached:
            raise LocalProtocolError("a websocket is already open")
        self._ws_attached = True
        self._ws_should_close = False
        self._ws_out = []
        if self._state is ClientState.OPENING and self.opening_transport is Transport.WEBSOCKET:
            return
        if self._state is not ClientState.POLLING or not self._upgrade_offered:
            self._ws_should_close = True
            return
        assert self.info is not None
        self._set_state(ClientState.PROBING)
        self._ws_out.append(encode_packet(Packet(PacketType.PING, "probe")))
        self._probe_deadline = now + self.info.ping_timeout

    def receive_ws_message(self, data: str | bytes, now: float) -> None:
        """Handle one message from the websocket.

        Args:
            data: a text message as ``str``, a binary one as ``bytes``.

        Raises:
            LocalProtocolError: no websocket is open.
        """
        if not self._ws_attached:
            raise LocalProtocolError("no websocket is open")
        if self._ws_should_close or self._state is ClientState.CLOSED:
            return  # a websocket on its way out; nothing it says counts any more
        try:
            size = (
                len(data)
                if isinstance(data, bytes) or 4 * len(data) <= self.max_receive
                else len(data.encode())
            )
            if size > self.max_receive:
                raise PayloadTooLarge(f"message of {size} bytes")
            packet = decode_packet(data)
        except RemoteProtocolError as exc:
            if self._state in (ClientState.WEBSOCKET, ClientState.OPENING):
                reason = (
                    CloseReason.PARSE_ERROR
                    if isinstance(exc, DecodeError)
                    else CloseReason.TRANSPORT_ERROR
                )
                self._fail(exc, reason)
            else:
                self._abandon_upgrade(str(exc))
            return
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("< %s: ws %s", self.sid, packet.type.name)
        if self._state is ClientState.OPENING:
            self._receive_open(packet, Transport.WEBSOCKET, now)
        elif self._state is ClientState.WEBSOCKET:
            self._receive_packet(packet, now)
        elif self._state is ClientState.PROBING and packet == Packet(PacketType.PONG, "probe"):
            self._probe_deadline = None
            self._set_state(ClientState.PAUSING)
            self._check_paused()
        else:
            self._abandon_upgrade(f"unexpected {packet.type.name} packet on the probe")

    def websocket_closed(self, now: float) -> None:
        """Report that the websocket is closed (by either side, lost, or never connected)."""
        attached, self._ws_attached = self._ws_attached, False
        if self._state is ClientState.WEBSOCKET:
            self._to_closed(CloseReason.TRANSPORT_CLOSE)
        elif self._state is ClientState.OPENING and self.opening_transport is Transport.WEBSOCKET:
            self._to_closed(CloseReason.TRANSPORT_ERROR)
        elif self._state in (ClientState.PROBING, ClientState.PAUSING):
            self._abandon_upgrade("websocket closed")
        elif not attached and self._upgrade_offered:
            logger.info("%s: upgrade failed: the websocket did not open", self.sid)
        self._ws_should_close = False
        self._ws_out = []

    # -- time ----------------------------------------------------------------------------------

    def on_timer(self, now: float) -> None:
        """Fire the deadlines that are due."""
        if self._close_deadline is not None and now >= self._close_deadline:
            self._to_closed(CloseReason.CLIENT_DISCONNECT)
        elif self._heartbeat_deadline is not None and now >= self._heartbeat_deadline:
            # Spec "Heartbeat": "if the client does not receive a ping packet within
            # pingInterval + pingTimeout, then it SHOULD consider that the connection is closed."
            self._to_closed(CloseReason.PING_TIMEOUT)
        elif self._probe_deadline is not None and now >= self._probe_deadline:
            self._abandon_upgrade("no 3probe in time")

    # -- internals -----------------------------------------------------------------------------

    def _receive_open(self, packet: Packet, transport: Transport, now: float) -> None:
        """Handle the handshake's first packet, which must be an open packet."""
        if packet.type is not PacketType.OPEN:
            self._fail(
                RemoteProtocolError(f"expected an open packet, got {packet.type.name}"),
                CloseReason.TRANSPORT_ERROR,
            )
            return
        assert isinstance(packet.data, str)
        try:
            info = parse_open_packet(packet.data)
        except DecodeError as exc:
            self._fail(exc, CloseReason.PARSE_ERROR)
            return
        self.info = info
        self._set_state(
            ClientState.WEBSOCKET if transport is Transport.WEBSOCKET else ClientState.POLLING
        )
        self._arm_heartbeat(now)
        self._events.append(Connected(info, transport))
        logger.info("%s: session open on %s", info.sid, transport.value)
        self._flush()

    def _arm_heartbeat(self, now: float) -> None:
        """Expect a sign of life from the server within pingInterval + pingTimeout."""
        assert self.info is not None
        self._heartbeat_deadline = now + self.info.ping_interval + self.info.ping_timeout

    def _receive_packet(self, packet: Packet, now: float) -> None:
        """Dispatch one packet from the server's current transport."""
        if self._state is ClientState.CLOSING:
            return  # we said goodbye; only the acknowledgement of our POST matters now
        self._arm_heartbeat(now)
        kind = packet.type
        if kind is PacketType.MESSAGE:
            self._events.append(MessageReceived(packet.data))
        elif kind is PacketType.PING:
            # Spec "Heartbeat": the client answers the server's ping with a pong.
            self._queue(Packet(PacketType.PONG, packet.data))
        elif kind is PacketType.CLOSE:
            self._to_closed(CloseReason.SERVER_DISCONNECT)
        elif kind is not PacketType.NOOP:
            self._fail(
                RemoteProtocolError(f"unexpected {kind.name} packet"), CloseReason.TRANSPORT_ERROR
            )

    def _queue(self, packet: Packet) -> None:
        """Queue a packet for the server; the websocket takes it at once when current."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("> %s: %s", self.sid, packet.type.name)
        self._buffer.append(packet)
        self._flush()

    def _flush(self) -> None:
        """Move buffered packets to the websocket when it is the current transport."""
        if self._state is ClientState.WEBSOCKET and self._buffer:
            self._ws_out.extend(encode_packet(packet) for packet in self._buffer)
            self._buffer.clear()

    def _check_paused(self) -> None:
        """Finish the upgrade once polling is paused: no GET or POST in flight."""
        if self._state is not ClientState.PAUSING or self._get_in_flight or self._post_in_flight:
            return
        # Spec "Upgrade": "Finally, the client MUST send a upgrade packet".
        self._ws_out.append(encode_packet(Packet(PacketType.UPGRADE)))
        self._set_state(ClientState.WEBSOCKET)
        self._events.append(Upgraded())
        logger.info("%s: upgraded to websocket", self.sid)
        self._flush()

    def _abandon_upgrade(self, why: str) -> None:
        """Give up the upgrade in progress: close the probe websocket, keep polling."""
        logger.info("%s: upgrade failed: %s", self.sid, why)
        self._probe_deadline = None
        self._ws_should_close = self._ws_attached
        self._ws_out = []
        if self._state in (ClientState.PROBING, ClientState.PAUSING):
            self._set_state(ClientState.POLLING)

    def _fail(self, exc: RemoteProtocolError, reason: CloseReason) -> None:
        """Record the server's protocol violation and close the session."""
        logger.info("! %s: %s", self.sid, exc)
        self.error = exc
        self._to_closed(reason, exc)

    def _to_closed(self, reason: CloseReason, error: RemoteProtocolError | None = None) -> None:
        """Close the session now."""
        if self._state is ClientState.CLOSED:
            return
        if self._ws_attached:
            self._ws_should_close = True
        self._buffer.clear()
        self._heartbeat_deadline = self._probe_deadline = self._close_deadline = None
        self._set_state(ClientState.CLOSED)
        self.close_reason = reason
        self._events.append(Closed(reason, error))
        logger.info("x %s: session closed: %s", self.sid, reason.value)
