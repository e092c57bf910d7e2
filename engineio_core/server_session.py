"""The server side of one Engine.IO v4 session, sans I/O.

Theory of operation
-------------------
A :class:`ServerSession` is created by the I/O layer for a handshake request that passed
:func:`engineio_core.handshake.check_request`, with a fresh sid. It knows nothing about sockets,
HTTP or clocks. The I/O layer drives it with:

* **GET** (polling): :meth:`~ServerSession.receive_get` returns the response to give *now*, or
  ``None``: park the request. After *any* later call, :meth:`~ServerSession.get_response`
  returns the response for the parked GET once there is one. A GET whose client went away is
  reported with :meth:`~ServerSession.abort_get`. The handshake GET itself is the first
  :meth:`receive_get`: it is answered with the queued open packet.
* **POST** (polling): :meth:`~ServerSession.begin_post` when the request head arrives (it may
  answer at once with an error), then :meth:`~ServerSession.receive_post` with the body (read
  at most ``config.max_payload + 1`` bytes of it), which returns the response (``ok``);
  :meth:`~ServerSession.abort_post` if the body never came.
* **WebSocket**: :meth:`~ServerSession.attach_websocket` once the WebSocket handshake of an
  upgrade request (``transport=websocket&sid=...``) is accepted (``False``: close it again),
  :meth:`~ServerSession.receive_ws_message` per message, and
  :meth:`~ServerSession.websocket_closed` when it is gone. After each call, write
  :meth:`~ServerSession.websocket_data_to_send` (``str`` as a text message, ``bytes`` as a
  binary one), then close the websocket if :attr:`~ServerSession.websocket_should_close`.
  A WebSocket-only session (handshake with ``transport=websocket``) is created with
  ``transport=Transport.WEBSOCKET`` and has its websocket attached from the start.
* **Time**: :meth:`~ServerSession.next_deadline` says when to call
  :meth:`~ServerSession.on_timer`; every input takes the current ``now`` (seconds, any
  monotonic origin).
* **Application**: :meth:`~ServerSession.send`, :meth:`~ServerSession.close`, and
  :meth:`~ServerSession.events_received` for the :mod:`engineio_core.events` types
  :class:`MessageReceived`, :class:`Upgraded` and :class:`Closed`. Once
  :attr:`~ServerSession.closed`, the I/O layer drops the session from its table: later
  requests for the sid get :exc:`UnknownSession` (400, code 1).

States: :class:`~engineio_core.session_state.SessionState`, with the diagram and the table of
allowed transitions in :mod:`engineio_core.session_state`.

Rules this file keeps
---------------------
* Input methods never raise on bad peer input: the error is kept in :attr:`error`, the
  session closes (or the upgrade is abandoned, when only the probe websocket misbehaved) and
  the offending request gets an error response carrying the error's HTTP status.
* At most one GET is parked and one POST is in flight ("a client MUST NOT have more than one
  active GET/POST request. Should it happen, the server MUST return an HTTP 400 error status
  and close the session"). A GET is never parked while packets wait: packets go to a parked
  GET at once, up to ``max_payload`` bytes per response, and a parked GET is answered with
  the close packet when the session closes.
* Packets are queued in one buffer until a transport takes them. While an upgrade is under
  way (UPGRADING) the buffer is held: GETs get a noop, and after the ``5`` upgrade packet the
  buffer goes to the websocket; if the upgrade fails it stays for the next GET. Each packet
  is therefore delivered once, on the transport that is current when it leaves.
* The server pings every ``ping_interval`` after the previous pong and closes the session
  when no pong comes within ``ping_timeout``; a ping from the client is an error (v4).
* Outgoing memory is bounded by ``config.send_buffer_limit`` bytes, on both transports: see
  :mod:`engineio_core.send_buffer` for the rule (volatile packets first, then the session).
"""

from __future__ import annotations

import logging
from typing import Final

from .events import Closed, CloseReason, Event, HTTPResponse, MessageReceived, Upgraded
from .exceptions import (
    DecodeError,
    HeartbeatError,
    LocalProtocolError,
    PayloadTooLarge,
    RemoteProtocolError,
    RequestOverlap,
    SendBufferFull,
    SessionClosed,
    UnknownSession,
)
from .handshake import SessionConfig, Sid, Transport, open_packet
from .packet import Packet, PacketType, decode_packet, encode_packet
from .payload import SEPARATOR, decode_payload, encode_payload_within
from .send_buffer import SendBuffer
from .session_state import POLLING_STATES, TRANSITIONS, SessionState

__all__ = ["ServerSession", "SessionState"]

logger = logging.getLogger(__name__)


_OK: Final = HTTPResponse(200, b"ok")  # spec "Sending data": "the string ok in the body"
_NOOP: Final = HTTPResponse(200, b"6")
_CLOSE: Final = HTTPResponse(200, b"1")


class ServerSession:
    """One Engine.IO session, server side. See the module docstring for how to drive it.

    Args:
        sid: the session id, from :func:`engineio_core.handshake.new_sid`.
        now: the time of the handshake.
        transport: the handshake's transport.
        config: the options.
        adopted: the session was opened (and upgraded) by another server process and moves
            here with its WebSocket: it starts on ``transport`` (WebSocket) with its open
            packet already sent, so none is queued.
    """

    def __init__(
        self,
        sid: Sid,
        *,
        now: float,
        transport: Transport = Transport.POLLING,
        config: SessionConfig | None = None,
        adopted: bool = False,
    ) -> None:
        self.sid: Final = sid
        self.config: Final = config if config is not None else SessionConfig()
        self.close_reason: CloseReason | None = None
        self.error: RemoteProtocolError | None = None
        self._events: list[Event] = []
        self._buffer = SendBuffer()  # packets no transport has taken yet
        self._get_pending = False
        self._get_answer: HTTPResponse | None = None
        self._post_pending = False
        self._ws_attached = False
        self._ws_should_close = False
        self._ws_out: list[str | bytes] = []
        # Deadlines; None when not armed.
        self._ping_at: float | None = now + self.config.ping_interval
        self._pong_deadline: float | None = None
        self._upgrade_deadline: float | None = None
        self._close_deadline: float | None = None
        if transport is Transport.WEBSOCKET:
            self._state = SessionState.WEBSOCKET
            self._ws_attached = True
            upgrades: tuple[Transport, ...] = ()
        else:
            self._state = SessionState.POLLING
            upgrades = (Transport.WEBSOCKET,) if self.config.allow_upgrades else ()
        if adopted:
            logger.info("%s: session moved here on %s", sid, transport.value)
            return
        # Spec "Handshake": "the server MUST respond with an open packet".
        self._queue(open_packet(sid, upgrades, self.config))
        logger.info("%s: session open on %s", sid, transport.value)

    # -- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def transport(self) -> Transport:
        """The transport packets currently leave on."""
        return Transport.WEBSOCKET if self._state is SessionState.WEBSOCKET else Transport.POLLING

    @property
    def closed(self) -> bool:
        """Whether the session is closed; :attr:`close_reason` says why."""
        return self._state is SessionState.CLOSED

    def _set_state(self, state: SessionState) -> None:
        """Move to ``state``, which the transition table must allow."""
        if state not in TRANSITIONS[self._state]:
            raise LocalProtocolError(f"cannot go from {self._state.name} to {state.name}")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("= %s: %s -> %s", self.sid, self._state.name, state.name)
        self._state = state

    # -- output --------------------------------------------------------------------------------

    def events_received(self) -> list[Event]:
        """Return and forget the events since the last call."""
        events, self._events = self._events, []
        return events

    def get_response(self) -> HTTPResponse | None:
        """Return the response for the parked GET once it is ready (once), else ``None``."""
        answer, self._get_answer = self._get_answer, None
        return answer

    def websocket_data_to_send(self) -> list[str | bytes]:
        """Return and forget the websocket messages to write, in order."""
        out, self._ws_out = self._ws_out, []
        return out

    @property
    def websocket_should_close(self) -> bool:
        """Whether the I/O layer should close the attached websocket after writing its data."""
        return self._ws_attached and self._ws_should_close

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must be called next, or ``None``."""
        # Called after every packet: no temporary list, no generator.
        best = self._ping_at
        for deadline in (self._pong_deadline, self._upgrade_deadline, self._close_deadline):
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        return best

    # -- application ---------------------------------------------------------------------------

    def send(self, data: str | bytes | Packet, *, volatile: bool = False) -> None:
        """Queue a message packet (a prebuilt message :class:`Packet`, shared by a broadcast).

        Args:
            data: the message, or a prebuilt message packet.
            volatile: the first packets to drop when the client falls behind by more than
                ``max_send_buffer`` bytes (see :mod:`engineio_core.send_buffer`).

        Raises:
            SessionClosed: the session is closing or closed.
            LocalProtocolError: text containing ``\\x1e`` on a session that may still poll.
        """
        if self._state in (SessionState.CLOSING, SessionState.CLOSED):
            raise SessionClosed(str(self.close_reason or CloseReason.SERVER_DISCONNECT))
        packet = data if isinstance(data, Packet) else Packet(PacketType.MESSAGE, data)
        if packet.type is not PacketType.MESSAGE:
            raise LocalProtocolError("send() takes message packets only")
        if (
            isinstance(packet.data, str)
            and self._state is not SessionState.WEBSOCKET
            and SEPARATOR in packet.data
        ):
            # Spec "History, v3 to v4": the payload format "assumes the record separator is
            # not used in the data".
            raise LocalProtocolError("text sent over polling cannot contain '\\x1e'")
        self._queue(packet, volatile)

    def close(self, now: float, *, force: bool = False) -> None:
        """Close the session from the server side (reason ``server disconnect``).

        On WebSocket the close packet is written and the session is closed at once. On polling
        it waits, at most ``close_timeout``, for the GET that collects the queued packets and
        the close packet, unless ``force`` (server shutdown): a parked GET then gets the close
        packet and the session is closed at once.

        Args:
            now: the current time.
            force: close now, without waiting for the client to collect what is queued.
        """
        if self._state is SessionState.CLOSED:
            return
        if force and self._state is not SessionState.WEBSOCKET:
            self._to_closed(CloseReason.SERVER_DISCONNECT)  # answers a parked GET with "1"
            return
        if self._state is SessionState.CLOSING:
            return
        close_packet = Packet(PacketType.CLOSE)
        if self._state is SessionState.WEBSOCKET:
            self._ws_out.append(encode_packet(close_packet))
            self._to_closed(CloseReason.SERVER_DISCONNECT)
            return
        if self._state is not SessionState.POLLING:
            self._abandon_upgrade("session closing")
        self._set_state(SessionState.CLOSING)
        self._ping_at = self._pong_deadline = None
        self._close_deadline = now + self.config.close_timeout
        self._queue(close_packet)

    # -- polling -------------------------------------------------------------------------------

    def receive_get(self, now: float) -> HTTPResponse | None:
        """Handle a polling GET.

        Args:
            now: the current time.

        Returns:
            The response to send now, or ``None`` to park the request until
            :meth:`get_response` has its answer.
        """
        if self._state is SessionState.CLOSED:
            return HTTPResponse.from_error(UnknownSession("session is closed"))
        if self._state is SessionState.WEBSOCKET:
            # Node: a polling request on a session whose transport is not polling is a
            # "Bad request"; the session itself is not harmed.
            return HTTPResponse.from_error(RemoteProtocolError("session is on websocket"))
        if self._get_pending:
            self._fail(RequestOverlap("overlapping GET"), CloseReason.TRANSPORT_ERROR)
            assert self.error is not None
            return HTTPResponse.from_error(self.error)
        if self._state is SessionState.UPGRADING:
            # The client is pausing polling for the upgrade; python-engineio answers a noop.
            return _NOOP
        self._get_pending = True
        self._flush()
        return self.get_response()

    def abort_get(self, now: float) -> None:
        """Report that the parked GET's connection closed before it was answered.

        Args:
            now: the current time.
        """
        if self._get_pending:
            self._get_pending = False
            # Node: "poll connection closed prematurely" is a transport error.
            self._to_closed(CloseReason.TRANSPORT_ERROR)

    def begin_post(self, now: float) -> HTTPResponse | None:
        """Handle the head of a polling POST.

        Args:
            now: the current time.

        Returns:
            An error response to send at once, or ``None``: read the body and call
            :meth:`receive_post`.
        """
        if self._state is SessionState.CLOSED:
            return HTTPResponse.from_error(UnknownSession("session is closed"))
        if self._state is SessionState.WEBSOCKET:
            return HTTPResponse.from_error(RemoteProtocolError("session is on websocket"))
        if self._post_pending:
            self._fail(RequestOverlap("overlapping POST"), CloseReason.TRANSPORT_ERROR)
            assert self.error is not None
            return HTTPResponse.from_error(self.error)
        self._post_pending = True
        return None

    def receive_post(self, body: bytes, now: float) -> HTTPResponse:
        """Handle the body of the POST announced by :meth:`begin_post`.

        Args:
            body: the body, or its first ``max_payload + 1`` bytes.
            now: the current time.

        Returns:
            ``200 ok``, or an error response (the session is then closed).

        Raises:
            LocalProtocolError: no :meth:`begin_post` came before.
        """
        if not self._post_pending:
            raise LocalProtocolError("receive_post() without begin_post()")
        self._post_pending = False
        if self._state is SessionState.CLOSED:
            return HTTPResponse.from_error(UnknownSession("session is closed"))
        try:
            packets = decode_payload(body, max_payload=self.config.max_payload)
        except PayloadTooLarge as exc:
            self._fail(exc, CloseReason.TRANSPORT_ERROR)
            return HTTPResponse.from_error(exc)
        except DecodeError as exc:
            self._fail(exc, CloseReason.PARSE_ERROR)
            return HTTPResponse.from_error(exc)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("< %s: POST of %d packets", self.sid, len(packets))
        for packet in packets:
            self._receive_packet(packet, now)
            if self.error is not None:
                return HTTPResponse.from_error(self.error)
            if self.closed:
                break
        return _OK

    def abort_post(self, now: float) -> None:
        """Report that the POST's connection closed before its body was read.

        Args:
            now: the current time.
        """
        if self._post_pending:
            self._post_pending = False
            self._to_closed(CloseReason.TRANSPORT_ERROR)

    # -- websocket -----------------------------------------------------------------------------

    def attach_websocket(self, now: float) -> bool:
        """Attach the websocket of an upgrade request and start the upgrade (spec "Upgrade").

        Args:
            now: the current time; the upgrade must complete within ``upgrade_timeout``.

        Returns:
            ``False`` if the websocket must be closed at once: the session is closing, does
            not allow upgrades, or already has a websocket ("A client MUST NOT open more than
            one WebSocket connection per session. Should it happen, the server MUST close the
            WebSocket connection.").
        """
        if (
            self._state is not SessionState.POLLING
            or self._ws_attached
            or not self.config.allow_upgrades
        ):
            return False
        self._set_state(SessionState.PROBING)
        self._ws_attached = True
        self._ws_should_close = False
        self._ws_out = []
        self._upgrade_deadline = now + self.config.upgrade_timeout
        return True

    def receive_ws_message(self, data: str | bytes, now: float) -> None:
        """Handle one message from the attached websocket.

        Args:
            data: a text message as ``str``, a binary one as ``bytes``.
            now: the current time.

        Raises:
            LocalProtocolError: no websocket is attached.
        """
        if not self._ws_attached:
            raise LocalProtocolError("no websocket is attached")
        if self._ws_should_close or self._state is SessionState.CLOSED:
            return  # a websocket on its way out; nothing it says counts any more
        try:
            # A str of n code points has n to 4n UTF-8 bytes: encode only when it matters.
            limit = self.config.max_payload
            size = (
                len(data)
                if isinstance(data, bytes) or 4 * len(data) <= limit
                else len(data.encode())
            )
            if size > self.config.max_payload:
                raise PayloadTooLarge(f"message of {size} bytes")
            packet = decode_packet(data)
        except RemoteProtocolError as exc:
            if self._state is SessionState.WEBSOCKET:
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
        if self._state is SessionState.WEBSOCKET:
            self._receive_packet(packet, now)
        elif self._state is SessionState.PROBING:
            if packet == Packet(PacketType.PING, "probe"):
                self._ws_out.append(encode_packet(Packet(PacketType.PONG, "probe")))
                self._set_state(SessionState.UPGRADING)
                # "send a noop packet to any pending GET request (if applicable) to cleanly
                # close HTTP long-polling transport" (spec "Upgrade")
                if self._get_pending:
                    self._answer_get(_NOOP)
            else:
                self._abandon_upgrade(f"expected 2probe, got {packet.type.name}")
        # Otherwise UPGRADING, the only other state with a live websocket attached.
        elif packet.type is PacketType.UPGRADE:
            self._set_state(SessionState.WEBSOCKET)
            self._upgrade_deadline = None
            self._events.append(Upgraded())
            logger.info("%s: upgraded to websocket", self.sid)
            self._flush()
        else:
            self._abandon_upgrade(f"expected 5, got {packet.type.name}")

    def websocket_backlog(self, size: int, now: float) -> None:
        """Report how many bytes written to the attached websocket its peer has not read.

        Over ``config.send_buffer_limit`` the session closes with ``transport error``
        (:exc:`SendBufferFull`): a peer that does not read cannot hold the server's memory.

        Args:
            size: bytes written but not yet taken by the peer.
            now: the current time.
        """
        limit = self.config.send_buffer_limit
        if size > limit and self._ws_attached and self._state is SessionState.WEBSOCKET:
            self._fail(
                SendBufferFull(f"websocket peer left {size} bytes unread, over {limit}"),
                CloseReason.TRANSPORT_ERROR,
            )

    def websocket_closed(self, now: float) -> None:
        """Report that the attached websocket is closed (by either side, or lost).

        Args:
            now: the current time.
        """
        if not self._ws_attached:
            return
        if self._state is SessionState.WEBSOCKET:
            self._to_closed(CloseReason.TRANSPORT_CLOSE)
        elif self._state in (SessionState.PROBING, SessionState.UPGRADING):
            self._abandon_upgrade("websocket closed")
        self._ws_attached = False
        self._ws_should_close = False
        self._ws_out = []

    # -- time ----------------------------------------------------------------------------------

    def on_timer(self, now: float) -> None:
        """Fire the deadlines that are due.

        Args:
            now: the current time.
        """
        if self._close_deadline is not None and now >= self._close_deadline:
            self._to_closed(CloseReason.SERVER_DISCONNECT)
            return
        if self._pong_deadline is not None and now >= self._pong_deadline:
            # Spec "Heartbeat": "If the server does not receive a pong packet back, then it
            # SHOULD consider that the connection is closed."
            self._to_closed(CloseReason.PING_TIMEOUT)
            return
        if self._upgrade_deadline is not None and now >= self._upgrade_deadline:
            self._abandon_upgrade("upgrade timeout")
        if self._ping_at is not None and now >= self._ping_at:
            # "At a given interval (the pingInterval value sent in the handshake) the server
            # sends a ping packet and the client has a few seconds (the pingTimeout value) to
            # send a pong packet back."
            self._ping_at = None
            self._pong_deadline = now + self.config.ping_timeout
            self._queue(Packet(PacketType.PING))

    # -- internals -----------------------------------------------------------------------------

    def _receive_packet(self, packet: Packet, now: float) -> None:
        """Dispatch one packet from the client's current transport."""
        if self._state is SessionState.CLOSING:
            return  # Node ignores packets once the socket is not open
        kind = packet.type
        if kind is PacketType.MESSAGE:
            self._events.append(MessageReceived(packet.data))
        elif kind is PacketType.PONG:
            if self._pong_deadline is not None:  # an unsolicited pong changes nothing
                self._pong_deadline = None
                self._ping_at = now + self.config.ping_interval
        elif kind is PacketType.CLOSE:
            if self._get_pending:
                # As Node's polling onClose: a parked GET gets a noop, then the session closes.
                self._answer_get(_NOOP)
            self._to_closed(CloseReason.CLIENT_DISCONNECT)
        elif kind is PacketType.PING:
            # Spec "From v3 to v4": "The ping packets are now sent by the server".
            self._fail(HeartbeatError("ping from the client"), CloseReason.TRANSPORT_ERROR)
        elif kind is not PacketType.NOOP:
            self._fail(
                RemoteProtocolError(f"unexpected {kind.name} packet"), CloseReason.TRANSPORT_ERROR
            )

    def _queue(self, packet: Packet, volatile: bool = False) -> None:
        """Queue a packet for the client and hand it to a transport if one can take it."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("> %s: %s", self.sid, packet.type.name)
        buffer = self._buffer
        buffer.append(packet, volatile)
        self._flush()
        limit = self.config.send_buffer_limit
        if buffer.size > limit and not buffer.shed(limit, self.sid):
            # Spec "Packet encoding" bounds what one GET takes (maxPayload), not what may
            # wait: a client this far behind is not consuming; Node closes such a transport.
            self._fail(
                SendBufferFull(f"{buffer.size} bytes waiting for the client, over {limit}"),
                CloseReason.TRANSPORT_ERROR,
            )

    def _flush(self) -> None:
        """Move buffered packets to the websocket or to the parked GET, whichever is current."""
        if not self._buffer:
            return
        if self._state is SessionState.WEBSOCKET:
            self._ws_out.extend(encode_packet(packet) for packet in self._buffer.packets)
            self._buffer.clear()
        elif self._get_pending and (
            self._state in POLLING_STATES or self._state is SessionState.CLOSING
        ):
            packets = self._buffer.packets
            body, count = encode_payload_within(packets, self.config.max_payload)
            delivered_close = packets[count - 1].type is PacketType.CLOSE
            self._buffer.take(count)
            self._answer_get(HTTPResponse(200, body))
            if delivered_close and self._state is SessionState.CLOSING:
                self._to_closed(CloseReason.SERVER_DISCONNECT)

    def _answer_get(self, response: HTTPResponse) -> None:
        """Give the parked GET its response."""
        self._get_pending = False
        self._get_answer = response

    def _abandon_upgrade(self, why: str) -> None:
        """Give up the upgrade in progress: back to polling, the websocket is to be closed."""
        logger.info("%s: upgrade failed: %s", self.sid, why)
        self._upgrade_deadline = None
        self._ws_should_close = True
        self._ws_out = []
        self._set_state(SessionState.POLLING)  # callers are in PROBING or UPGRADING
        self._flush()

    def _fail(self, exc: RemoteProtocolError, reason: CloseReason) -> None:
        """Record the peer's protocol violation and close the session."""
        logger.info("! %s: %s", self.sid, exc)
        self.error = exc
        self._to_closed(reason, exc)

    def _to_closed(self, reason: CloseReason, error: RemoteProtocolError | None = None) -> None:
        """Close the session now; a parked GET gets the close packet."""
        if self._state is SessionState.CLOSED:
            return
        if self._get_pending:
            self._answer_get(_CLOSE)
        if self._ws_attached:
            self._ws_should_close = True
        self._buffer.clear()
        self._ping_at = self._pong_deadline = None
        self._upgrade_deadline = self._close_deadline = None
        self._set_state(SessionState.CLOSED)
        self.close_reason = reason
        self._events.append(Closed(reason, error))
        logger.info("x %s: session closed: %s", self.sid, reason.value)
