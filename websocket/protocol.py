"""The WebSocket connection state machine (RFC 6455 sections 5 to 8), sans I/O.

Theory of operation
-------------------
A :class:`Protocol` starts where the opening handshake ends (:mod:`websocket.handshake`) and
knows nothing about sockets or clocks. Its I/O layer drives it with four kinds of input:

* :meth:`Protocol.receive_data` with the bytes read from the transport, and
  :meth:`Protocol.receive_eof` when the transport reports end of file or is lost;
* ``send_*`` methods for what the application wants to send;
* :meth:`Protocol.on_timer` when the deadline from :meth:`Protocol.next_deadline` is reached.

It pulls two kinds of output: :meth:`Protocol.events_received` (messages, pings, pongs, the
peer's close frame) and :meth:`Protocol.data_to_send` (byte chunks to write, in order). When
:attr:`Protocol.close_transport` turns true the I/O layer writes what is pending, then closes
the TCP connection.

Rules this file keeps
---------------------
* Input methods never raise on bad peer input. A violation records the error in
  :attr:`Protocol.failure`, queues a close frame with the close code that RFC 6455 names for
  it, asks for the transport to be closed, and ignores everything the peer sends afterwards
  (section 7.1.7, "_Fail the WebSocket Connection_").
* Send methods raise :exc:`LocalProtocolError` when the state does not allow them.
* Limits are enforced before data is accumulated: ``max_size`` bounds each message after
  decompression (and each frame before its payload is read), ``max_fragments`` the number of
  frames of a message, ``max_buffered`` the wire bytes held for an unfinished message.
* Time enters only as ``now`` arguments. The keepalive ping, the pong timeout and the close
  timeout are deadlines that :meth:`Protocol.next_deadline` reports.

States::

    OPEN ──send_close / close frame received / failure──> CLOSING ──receive_eof──> CLOSED
    OPEN ─────────────────────────receive_eof───────────────────────────────────> CLOSED
"""

from __future__ import annotations

import enum
import logging
import secrets
import typing
from collections.abc import Callable
from typing import Final

from .assembler import MessageAssembler
from .events import CloseReceived, Event, Message, Ping, Pong
from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    LocalProtocolError,
    RemoteProtocolError,
)
from .frames import (
    CLOSE_CODES_OK,
    MAX_CONTROL_PAYLOAD,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Frame,
    PreparedMessage,
    parse_close,
    parse_frame,
    serialize_close,
    serialize_frame,
    simple_frames,
)

__all__ = ["MessageCompressor", "Protocol", "Role", "State"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_SIZE: Final = 2**20
DEFAULT_MAX_FRAGMENTS: Final = 4096
DEFAULT_CLOSE_TIMEOUT: Final = 10.0
DEFAULT_PING_INTERVAL: Final = 20.0
DEFAULT_PING_TIMEOUT: Final = 20.0


class Role(enum.Enum):
    """Which end of the connection this is; it decides who masks (section 5.1)."""

    SERVER = "server"
    CLIENT = "client"


class State(enum.Enum):
    """Connection states after the opening handshake (section 4 handles CONNECTING)."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


# Allowed transitions, in the spirit of h11's _state.py; anything else is a bug in this file.
_TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.OPEN: frozenset({State.CLOSING, State.CLOSED}),
    State.CLOSING: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


class MessageCompressor(typing.Protocol):
    """What the connection needs from a negotiated permessage-deflate (RFC 7692) instance."""

    def should_compress(self, size: int) -> bool:
        """Whether a message of ``size`` bytes is worth compressing."""

    def encode(self, data: bytes, *, fin: bool) -> bytes:
        """Compress one fragment of an outgoing message (``fin`` on its last one)."""

    def decode(self, data: bytes, *, fin: bool, max_size: int) -> bytes:
        """Inflate one fragment of an incoming message, raising PayloadTooBig past ``max_size``."""


class Protocol:
    """One WebSocket connection after the opening handshake.

    Args:
        role: SERVER or CLIENT.
        now: the current time, which starts the keepalive schedule.
        compressor: the negotiated permessage-deflate instance, or None.
        max_size: largest message (and frame) payload accepted, after decompression.
        max_fragments: most frames one message may be split into.
        max_buffered: most wire bytes held for one unfinished message (default ``max_size``).
        close_timeout: how long to wait for the peer's close frame, then for the TCP close.
        ping_interval: seconds between keepalive pings, or None for no keepalive.
        ping_timeout: seconds to wait for the keepalive pong before failing with 1011.
        mask_source: where client masking keys come from (``secrets.token_bytes`` by default).
    """

    # Slots: one connection per client, thousands per process; no per-instance __dict__.
    # fmt: off
    __slots__ = (
        "_allowed_rsv", "_buf", "_close_deadline", "_events", "_failed_with", "_is_client",
        "_keepalive_payload", "_mask_source", "_next_ping", "_out", "_pending_failure",
        "_ping_counter", "_pong_deadline", "_rx", "_tx_compressed", "_tx_opcode",
        "close_rcvd", "close_sent", "close_timeout", "close_transport", "compressor", "debug",
        "failure", "max_buffered", "max_fragments", "max_size", "ping_interval", "ping_timeout",
        "role", "state"
    )
    # fmt: on

    def __init__(
        self,
        role: Role,
        *,
        now: float,
        compressor: MessageCompressor | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
        max_fragments: int = DEFAULT_MAX_FRAGMENTS,
        max_buffered: int | None = None,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        ping_interval: float | None = DEFAULT_PING_INTERVAL,
        ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
        mask_source: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.role = role
        self.state = State.OPEN
        self.compressor = compressor
        self.max_size = max_size
        self.max_fragments = max_fragments
        self.max_buffered = max_size if max_buffered is None else max_buffered
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._mask_source = mask_source
        self._is_client = role is Role.CLIENT
        self._allowed_rsv = 0x40 if compressor is not None else 0
        self.debug = logger.isEnabledFor(logging.DEBUG)

        self._buf = bytearray()
        self._events: list[Event] = []
        self._out: list[bytes] = []

        # Reassembly of incoming messages, and streaming UTF-8 validation.
        self._rx = MessageAssembler(
            max_size=max_size,
            max_fragments=max_fragments,
            max_buffered=self.max_buffered,
            compressor=compressor,
        )
        # A failure met after messages of the same read: applied by fail_pending().
        self._pending_failure: RemoteProtocolError | None = None

        # State of an outgoing fragmented message.
        self._tx_opcode: int | None = None
        self._tx_compressed = False

        # Closing handshake.
        self.close_sent: tuple[int, str] | None = None
        self.close_rcvd: tuple[int, str] | None = None
        self.failure: RemoteProtocolError | None = None
        self._failed_with: tuple[int, str] | None = None  # (close code, reason) of the failure
        self.close_transport = False
        self._close_deadline: float | None = None

        # Keepalive.
        self._ping_counter = 0
        self._keepalive_payload: bytes | None = None
        self._pong_deadline: float | None = None
        self._next_ping: float | None = now + ping_interval if ping_interval is not None else None

    # ---------------------------------------------------------------- output

    def events_received(self) -> list[Event]:
        """Return and forget the events received since the last call."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[bytes]:
        """Return and forget the byte chunks to write, in order."""
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must be called next, or None if nothing is scheduled."""
        if self.state is State.CLOSED:
            return None
        if self.state is State.CLOSING:
            return self._close_deadline
        ping, pong = self._next_ping, self._pong_deadline
        if ping is None or pong is None:
            return pong if ping is None else ping
        return min(ping, pong)

    @property
    def close_code(self) -> int:
        """The close code to report: the peer's, else the one we failed with, else 1006."""
        if self.close_rcvd is not None:
            return self.close_rcvd[0]
        if self._failed_with is not None:
            # Not close_sent: a failure after our own close frame was sent has its own code.
            return self._failed_with[0]
        return 1006

    @property
    def close_reason(self) -> str:
        """The close reason matching :attr:`close_code`."""
        if self.close_rcvd is not None:
            return self.close_rcvd[1]
        if self._failed_with is not None:
            return self._failed_with[1]
        return ""

    def close_exc(self) -> ConnectionClosed:
        """The exception that describes how the connection closed (or is closing)."""
        code, reason = self.close_code, self.close_reason
        ok = (
            self.failure is None
            and code in CLOSE_CODES_OK
            and self.close_sent is not None
            and self.close_sent[0] in (*CLOSE_CODES_OK, 1005)
        ) or (self.failure is None and code == 1005 and self.close_sent is not None)
        cls = ConnectionClosedOK if ok else ConnectionClosedError
        return cls(code, reason)

    # ----------------------------------------------------------------- input

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes read from the transport."""
        if (
            self.close_rcvd is not None
            or self.failure is not None
            or self._pending_failure is not None
            or self.state is State.CLOSED
        ):
            return  # Section 7.1.7 / 5.5.1: nothing after a close frame or a failure counts.
        buf = self._buf
        buf += data
        pos = 0
        mask_required = not self._is_client
        allowed_rsv = self._allowed_rsv
        rx = self._rx
        fast = not self.debug
        try:
            while True:
                if fast and rx.opcode is None and not rx.validating:
                    pos = self._simple_frames(buf, pos)
                # A continuation may only bring what is left of the message's budget,
                # checked on its header, before its payload is buffered.
                parsed = parse_frame(
                    buf,
                    pos,
                    max_size=rx.budget(),
                    mask_required=mask_required,
                    allowed_rsv=allowed_rsv,
                )
                if parsed is None:
                    if pos < len(buf):
                        rx.check_partial(buf, pos)  # section 8.1: fail on the first bad byte
                    break
                if rx.validating:
                    rx.frame_done()
                frame, pos = parsed
                self._handle_frame(frame, now)
                if self.close_rcvd is not None or self.failure is not None:
                    pos = len(buf)
                    break
        except RemoteProtocolError as exc:
            pos = len(buf)
            if any(type(event) is Message for event in self._events):
                # Strict order: the messages before the bad frame reach the application (an
                # echo is sent) before the close frame; the driver calls fail_pending().
                self._pending_failure = exc
            else:
                self._fail(exc, now)
        if pos:
            del buf[:pos]

    def _simple_frames(self, buf: bytearray, pos: int) -> int:
        """Take the common frames at ``buf[pos]`` in one call; returns where it stopped.

        The receive fast path (:func:`websocket.frames.simple_frames`): whole, unfragmented
        text or binary frames between messages. It stops at anything else (a control frame, a
        fragment, a compressed or partial frame, a bad header, a text frame that is not UTF-8)
        and leaves it to :func:`parse_frame` and :meth:`_handle_frame`, which give the same
        result for these frames and own every error.
        """
        messages, pos = simple_frames(buf, pos, not self._is_client, self._rx.max_size)
        if messages:
            self._events.extend(map(Message, messages))
        return pos

    @property
    def failure_pending(self) -> bool:
        """Whether bad input waits behind messages not yet handled (see :meth:`fail_pending`)."""
        return self._pending_failure is not None

    def fail_pending(self, now: float) -> None:
        """Fail the connection for bad input that came after messages of the same read.

        :meth:`receive_data` keeps such a failure back, and ignores further input, so that the
        application can handle the messages that came before it (and answer them) before the
        close frame goes out. Call this once it has; :meth:`on_timer` also applies it.
        """
        exc, self._pending_failure = self._pending_failure, None
        if exc is not None and self.state is not State.CLOSED:
            self._fail(exc, now)

    def receive_eof(self) -> None:
        """The transport reached end of file or was lost; the connection is now CLOSED."""
        if self.state is State.CLOSED:
            return
        self._set_state(State.CLOSED)
        self.close_transport = True
        self._buf.clear()
        self._rx.reset()
        if self._pending_failure is not None:
            self.failure, self._pending_failure = self._pending_failure, None
            self._failed_with = (self.failure.close_code, str(self.failure)[:123])
        if self.debug:
            logger.debug("= connection closed: %d %s", self.close_code, self.close_reason)

    def on_timer(self, now: float) -> None:
        """Act on every deadline reached at ``now``."""
        self.fail_pending(now)
        if self.state is State.CLOSING:
            if self._close_deadline is not None and now >= self._close_deadline:
                # Section 7.1.1: give up waiting for the peer and close the TCP connection.
                if self.debug:
                    logger.debug("x close timeout: closing the TCP connection")
                self._close_deadline = None
                self.close_transport = True
            return
        if self.state is not State.OPEN:
            return
        if self._pong_deadline is not None and now >= self._pong_deadline:
            self._fail(RemoteProtocolError("keepalive ping timeout", 1011), now)
            return
        if self._next_ping is not None and now >= self._next_ping:
            assert self.ping_interval is not None
            self._next_ping = now + self.ping_interval
            if self._pong_deadline is not None:
                # One keepalive ping at a time: a new one would push the pong deadline back
                # for ever when ping_timeout > ping_interval.
                return
            self._ping_counter += 1
            payload = b"keepalive %d" % self._ping_counter
            self._keepalive_payload = payload
            self.send_ping(payload)
            if self.ping_timeout is not None:
                self._pong_deadline = now + self.ping_timeout

    # ------------------------------------------------------------ send side

    def send_message(self, data: str | bytes | PreparedMessage) -> None:
        """Queue a whole message: text for ``str``, binary for ``bytes``.

        A :class:`~websocket.frames.PreparedMessage` (a broadcast) is sent as its shared frame
        bytes when this server connection does not compress it.
        """
        if self._tx_opcode is not None:
            raise LocalProtocolError("a fragmented message is being sent")
        self._check_can_send_data()
        compressor = self.compressor
        if isinstance(data, PreparedMessage):
            opcode, payload = data.opcode, data.payload
            if not self._is_client and (
                compressor is None or not compressor.should_compress(len(payload))
            ):
                self._out.append(data.frame)
                return
        elif isinstance(data, str):
            opcode, payload = OP_TEXT, data.encode("utf-8")
        else:
            opcode, payload = OP_BINARY, bytes(data)
        rsv1 = False
        if compressor is not None and compressor.should_compress(len(payload)):
            payload = compressor.encode(payload, fin=True)
            rsv1 = True
        self._write_frame(opcode, payload, fin=True, rsv1=rsv1)

    def send_fragment(self, data: str | bytes, *, fin: bool) -> None:
        """Queue one fragment of a message; the first fragment's type sets the message's.

        Control frames (pings, pongs, close) may be sent between fragments (section 5.4).
        """
        self._check_can_send_data()
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if self._tx_opcode is None:
            opcode = OP_TEXT if isinstance(data, str) else OP_BINARY
            self._tx_opcode = opcode
            self._tx_compressed = self.compressor is not None
        else:
            if (self._tx_opcode == OP_TEXT) != isinstance(data, str):
                raise LocalProtocolError("fragments of one message must all be str or bytes")
            opcode = OP_CONT
        rsv1 = False
        if self._tx_compressed:
            assert self.compressor is not None
            payload = self.compressor.encode(payload, fin=fin)
            # RFC 7692 section 6.1: RSV1 is set on the first frame of the message only.
            rsv1 = opcode != OP_CONT
        self._write_frame(opcode, payload, fin=fin, rsv1=rsv1)
        if fin:
            self._tx_opcode = None

    def send_ping(self, payload: bytes = b"") -> None:
        """Queue a ping frame."""
        self._check_can_send_control(payload)
        self._write_frame(OP_PING, payload)

    def send_pong(self, payload: bytes = b"") -> None:
        """Queue an unsolicited pong frame (a unidirectional heartbeat, section 5.5.3)."""
        self._check_can_send_control(payload)
        self._write_frame(OP_PONG, payload)

    def send_close(self, now: float, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (section 7.1.2).

        Raises:
            LocalProtocolError: a close frame was already sent, or the code may not be sent.
        """
        if self.state is State.CLOSED or self.close_sent is not None:
            raise LocalProtocolError("the closing handshake has already started")
        try:
            payload = serialize_close(code, reason)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from exc
        self._queue_close(code, reason, payload, now)

    # ------------------------------------------------------------- internals

    def _set_state(self, state: State) -> None:
        if state not in _TRANSITIONS[self.state]:
            raise LocalProtocolError(f"cannot go from {self.state.name} to {state.name}")
        self.state = state

    def _check_can_send_data(self) -> None:
        if self.state is not State.OPEN or self.close_sent is not None:
            # Section 5.5.1: "the endpoint MUST NOT send any more data frames" after close.
            raise self.close_exc()

    def _check_can_send_control(self, payload: bytes) -> None:
        if self.close_sent is not None or self.state is State.CLOSED:
            raise self.close_exc()
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise LocalProtocolError("control frame payloads are 125 bytes at most")

    def _write_frame(
        self, opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False
    ) -> None:
        mask_key = self._mask_source(4) if self._is_client else None
        header, data = serialize_frame(opcode, payload, fin=fin, rsv1=rsv1, mask_key=mask_key)
        out = self._out
        out.append(header)
        if data:
            out.append(data)
        if self.debug:
            logger.debug("> frame opcode=%d fin=%s rsv1=%s len=%d", opcode, fin, rsv1, len(payload))

    def _queue_close(self, code: int, reason: str, payload: bytes, now: float) -> None:
        self._write_frame(OP_CLOSE, payload)
        self.close_sent = (code, reason)
        if self.state is State.OPEN:
            self._set_state(State.CLOSING)
        self._close_deadline = now + self.close_timeout
        if self.close_rcvd is not None and not self._is_client:
            # Section 7.1.1: the server closes the TCP connection first, once both close
            # frames have been exchanged.
            self.close_transport = True

    def _fail(self, exc: RemoteProtocolError, now: float) -> None:
        """Section 7.1.7: send a close frame with the error's code, then close the TCP link."""
        self.failure = exc
        logger.info("! failing WebSocket connection (%d): %s", exc.close_code, exc)
        self._rx.reset()
        code = exc.close_code
        reason = str(exc)[: MAX_CONTROL_PAYLOAD - 2]
        reason_bytes = reason.encode("utf-8")[: MAX_CONTROL_PAYLOAD - 2]
        reason = reason_bytes.decode("utf-8", "ignore")
        self._failed_with = (code, reason)
        if self.close_sent is None:
            # Input is ignored once CLOSED, so the state is OPEN here (CLOSING needs close_sent).
            self._queue_close(code, reason, serialize_close(code, reason), now)
        self.close_transport = True

    def _handle_frame(self, frame: Frame, now: float) -> None:
        opcode = frame.opcode
        if self.debug:
            logger.debug(
                "< frame opcode=%d fin=%s rsv1=%s len=%d",
                opcode,
                frame.fin,
                frame.rsv1,
                len(frame.payload),
            )
        if opcode in (OP_TEXT, OP_BINARY):
            if self._rx.opcode is not None:
                # Section 5.4: fragments of one message are not interleaved with another.
                raise RemoteProtocolError("data frame inside a fragmented message")
            if frame.fin:
                self._events.append(Message(self._rx.single(frame)))
            else:
                self._rx.start(frame)
        elif opcode == OP_CONT:
            if self._rx.opcode is None:
                raise RemoteProtocolError("continuation frame without a message to continue")
            if frame.rsv1:
                # RFC 7692 section 6.1: RSV1 is only set on the first frame.
                raise RemoteProtocolError("RSV1 set on a continuation frame")
            message = self._rx.add(frame)
            if message is not None:
                self._events.append(Message(message))
        elif opcode == OP_PING:
            # Section 5.5.2: answer with a pong carrying the same payload, unless closing.
            if self.close_sent is None:
                self._write_frame(OP_PONG, frame.payload)
            self._events.append(Ping(frame.payload))
        elif opcode == OP_PONG:
            if self._keepalive_payload is not None and frame.payload == self._keepalive_payload:
                self._keepalive_payload = None
                self._pong_deadline = None
            self._events.append(Pong(frame.payload))
        else:  # OP_CLOSE
            self._handle_close(frame, now)

    def _handle_close(self, frame: Frame, now: float) -> None:
        code, reason = parse_close(frame.payload)
        self.close_rcvd = (code, reason)
        logger.debug("< close %d %s", code, reason)
        self._events.append(CloseReceived(code, reason))
        self._rx.reset()
        if self.close_sent is None:
            # Section 5.5.1: answer with a close frame, typically echoing the status code.
            self._queue_close(code, reason, frame.payload, now)
        elif not self._is_client:
            self.close_transport = True
        else:
            # The client waits for the server to close TCP, up to close_timeout.
            self._close_deadline = now + self.close_timeout
