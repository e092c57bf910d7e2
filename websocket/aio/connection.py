"""A WebSocket connection on an asyncio transport, driving :class:`websocket.protocol.Protocol`.

Theory of operation
-------------------
The connection is the transport's :class:`asyncio.Protocol`: once the opening handshake is
done (read on streams by the server, the client or Engine.IO's front door), the transport is
switched to it (:func:`websocket.aio.transport.take_over_stream`). From then on the connection
owns no task: ``data_received`` feeds the sans-I/O core and dispatches what comes out at once
(messages to the queue that ``recv()`` reads, or to the ``on_message`` callback of
:meth:`Connection.run`; pongs to ping waiters), without a reader task, a ``StreamReader`` or a
loop iteration in between. Timers are not tasks either: the core's next deadline is one
``loop.call_at`` handle, moved only when the deadline changes.

Writes are coalesced per loop iteration: the frames produced during an iteration (an ack and a
broadcast, the emits of a burst, the echo of every message of one read) wait in a list and
leave in one ``transport.write`` at the start of the next iteration
(:class:`websocket.aio.transport.WriteCoalescer`). The list is flushed at once when it reaches
``FLUSH_AT`` bytes and before the transport closes, so memory stays bounded and order is kept:
every byte goes through the same list, close frames included.

Backpressure works both ways:

* writing: ``send`` waits while the transport is paused (its buffer is above its high-water
  mark), so a peer that reads slowly makes ``send`` wait; :attr:`Connection.write_buffer_size`
  counts the bytes not yet taken by the kernel, the corked ones included;
* reading: received messages wait in a queue bounded by ``max_queue`` messages; when it is full,
  the transport stops reading (``pause_reading``), TCP flow control pushes back on the peer,
  and memory stays bounded at ``max_queue`` messages of ``max_size`` bytes plus one read.

Strict order: when a read holds messages and then a frame that fails the connection, the
core holds the failure back (:attr:`~websocket.protocol.Protocol.failure_pending`) and reading
pauses until the application has taken those messages (``recv()`` emptied the queue, at most
``close_timeout``; with :meth:`Connection.run`, one loop iteration after the callbacks), so an
echo of them goes out before the close frame.

Failing the connection on bad input (RFC 6455 section 7.1.7) sends the close frame, then
half-closes and reads and discards the peer's input until it closes, at most ``max_drain``
bytes and ``close_timeout`` seconds, before the socket closes: closing with unread input would
make the kernel answer with a TCP reset, which destroys the close frame (e.g. a 1009 for an
oversized frame) before the peer reads it (see :mod:`websocket.aio.linger`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any, cast

from ..events import CloseReceived, Message, Pong
from ..exceptions import ConnectionClosed, ConnectionClosedOK, LocalProtocolError
from ..frames import PreparedMessage
from ..protocol import Protocol, State
from .timer import DeadlineTimer
from .transport import loop_shared, take_over_stream

__all__ = ["Connection"]

logger = logging.getLogger(__name__)

#: Corked output is written at once when it reaches this many bytes (else at the next
#: loop iteration).
FLUSH_AT = 65536
# The message queue of a connection driven by run(): never appended to (a callback takes each
# message), shared so that an idle connection does not carry an empty deque (760 bytes).
_NO_QUEUE: collections.deque[str | bytes] = collections.deque(maxlen=0)


class Connection(asyncio.BufferedProtocol):
    """An open WebSocket connection.

    Created by :func:`websocket.aio.serve` (handed to the handler) and
    :func:`websocket.aio.connect`; not meant to be instantiated directly. It is the asyncio
    protocol of its transport once :meth:`start` or :meth:`run` is called.

    Attributes:
        protocol: the sans-I/O state machine.
        subprotocol: the negotiated subprotocol, or None.
        request_headers / response_headers: the opening handshake's headers.
        remote_address / local_address: the peer's and our socket addresses.
    """

    # Slots: one connection per client, thousands per process; no per-instance __dict__.
    __slots__ = (
        "__weakref__",
        "_abort_handle",
        "_awaiting_handled",
        "_closed",
        "_drain_waiter",
        "_drained",
        "_eof_written",
        "_fragmenting",
        "_linger_handle",
        "_lingering",
        "_loop",
        "_message_waiter",
        "_messages",
        "_on_message",
        "_order_handle",
        "_partial",
        "_pending",
        "_pending_size",
        "_ping_sent_at",
        "_pings",
        "_reader",
        "_reading_paused",
        "_run_waiter",
        "_send_lock",
        "_shared",
        "_timer",
        "_transport",
        "_transport_closing",
        "_write_paused",
        "_writer",
        "local_address",
        "max_drain",
        "max_queue",
        "path",
        "protocol",
        "remote_address",
        "request_headers",
        "response_headers",
        "subprotocol",
    )

    def __init__(
        self,
        protocol: Protocol,
        reader: asyncio.StreamReader | None,
        writer: asyncio.StreamWriter | asyncio.Transport,
        *,
        subprotocol: str | None = None,
        request_headers: tuple[tuple[str, str], ...] = (),
        response_headers: tuple[tuple[str, str], ...] = (),
        path: str = "/",
        max_queue: int = 32,
        max_drain: int = 4 * 2**20,
    ) -> None:
        self.protocol = protocol
        self.subprotocol = subprotocol
        self.request_headers = request_headers
        self.response_headers = response_headers
        self.path = path
        self.max_queue = max_queue
        self.max_drain = max_drain
        # The handshake's stream (emptied and dropped by start() / run()), and the transport.
        self._reader = reader
        if isinstance(writer, asyncio.StreamWriter):
            # Kept until the transport closes: a StreamWriter collected earlier would close
            # it (its __del__ takes it for a leak).
            self._writer: asyncio.StreamWriter | None = writer
            transport: Any = writer.transport
        else:
            self._writer = None
            transport = writer
        self._transport = cast(asyncio.Transport, transport)
        loop = self._loop = asyncio.get_running_loop()
        self.remote_address: Any = transport.get_extra_info("peername")
        self.local_address: Any = transport.get_extra_info("sockname")

        # Created by start(); run() hands messages to a callback and never queues any.
        self._messages: collections.deque[str | bytes] = _NO_QUEUE
        self._message_waiter: asyncio.Future[None] | None = None
        self._on_message: Callable[[str | bytes], None] | None = None
        self._run_waiter: asyncio.Future[None] | None = None  # run(): set once closed
        self._pings: dict[bytes, asyncio.Future[float]] = {}
        self._ping_sent_at: dict[bytes, float] = {}
        self._send_lock = asyncio.Lock()
        self._fragmenting = False
        self._partial = False  # the first fragments of a message are on the wire, not the last
        self._timer = DeadlineTimer(loop, self._on_timer)
        self._closed: asyncio.Future[None] = loop.create_future()
        # Output corked until the next loop iteration (see the module docstring).
        self._pending: list[bytes] | None = None
        self._pending_size = 0
        self._shared = loop_shared(loop)
        # Flow control.
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # Closing.
        self._transport_closing = False
        self._eof_written = False
        self._abort_handle: asyncio.TimerHandle | None = None
        self._lingering = False  # failed on input: drain the peer's input, then close
        self._drained = 0
        self._linger_handle: asyncio.TimerHandle | None = None
        # Strict order: a failure waits for the messages before it (see fail_pending).
        self._awaiting_handled = False  # until recv() empties the queue
        self._order_handle: asyncio.Handle | None = None

    def start(self, initial_data: bytes = b"") -> None:
        """Take over the transport, feeding first what arrived with the handshake.

        Messages then wait for :meth:`recv`.
        """
        self._messages = collections.deque()
        self._take_over(initial_data)

    async def run(
        self, on_message: Callable[[str | bytes], None], initial_data: bytes = b""
    ) -> None:
        """Hand each message to ``on_message`` as it arrives; returns once the connection is closed.

        The alternative to :meth:`start` for a layer above that wants every message at once
        (Engine.IO). ``recv()`` is not available in this mode; there is no read backpressure
        beyond what ``on_message`` does. Cancelling the call closes the TCP connection (no
        closing handshake) and still returns once it is closed.
        """
        self._on_message = on_message
        # A future of its own rather than shield(self._closed): one object per idle
        # connection instead of three, and a cancellation cannot reach _closed.
        waiter = self._run_waiter = self._loop.create_future()
        self._take_over(initial_data)
        try:
            if not self._closed.done():
                await waiter
        except asyncio.CancelledError:
            self.protocol.receive_eof()
            self._process()
            await asyncio.shield(self._closed)

    def write(self, message: str | bytes | PreparedMessage) -> None:
        """Queue a message for sending without waiting for the peer to read it.

        For callers that bound their own buffering (see :attr:`write_buffer_size`); ``send``
        is the one that waits.

        Raises:
            ConnectionClosed: the connection is closed or closing.
        """
        protocol = self.protocol
        protocol.send_message(message)
        # A message sent makes bytes only (send_message raises rather than close): no event,
        # no deadline moves. This is a broadcast's per-recipient path, so it stops there.
        self._queue_output(protocol.data_to_send())

    @property
    def transport(self) -> asyncio.Transport:
        """The asyncio transport of the connection."""
        return self._transport

    @property
    def write_buffer_size(self) -> int:
        """Bytes written but not yet taken by the kernel (corked ones included)."""
        return self._transport.get_write_buffer_size() + self._pending_size

    def start_closing(self, code: int = 1000, reason: str = "") -> None:
        """Send the close frame now; the connection finishes the closing handshake."""
        if self.protocol.state is State.OPEN and self.protocol.close_sent is None:
            self.protocol.send_close(self._loop.time(), code, reason)
            self._process()

    # ------------------------------------------------------------ public API

    @property
    def state(self) -> State:
        """OPEN, CLOSING or CLOSED."""
        return self.protocol.state

    @property
    def close_code(self) -> int | None:
        """The close code once the connection is closed, else None."""
        return self.protocol.close_code if self.protocol.state is State.CLOSED else None

    @property
    def close_reason(self) -> str | None:
        """The close reason once the connection is closed, else None."""
        return self.protocol.close_reason if self.protocol.state is State.CLOSED else None

    async def recv(self) -> str | bytes:
        """Return the next message: ``str`` for text, ``bytes`` for binary.

        Raises:
            ConnectionClosed: the connection is closed and no message is left.
        """
        while not self._messages:
            if (
                self._closed.done()
                or self.protocol.close_rcvd is not None
                or (self.protocol.failure is not None)
            ):
                await asyncio.shield(self._closed)
                raise self.protocol.close_exc()
            # One waiter shared by every task in recv(): each wakes up and retries, and
            # shield() keeps one cancelled recv() from cancelling the others.
            waiter = self._message_waiter
            if waiter is None or waiter.done():
                waiter = self._message_waiter = self._loop.create_future()
            await asyncio.shield(waiter)
        messages = self._messages
        message = messages.popleft()
        if self._awaiting_handled:
            if not messages:
                self._handled()
        elif self._reading_paused and len(messages) < self.max_queue:
            self._resume_reading()
        return message

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str | bytes]:
        """Yield messages until a normal closure; raise ConnectionClosedError otherwise."""
        try:
            while True:
                yield await self.recv()
        except ConnectionClosedOK:
            return

    async def send(
        self, message: str | bytes | Iterable[str | bytes] | AsyncIterable[str | bytes]
    ) -> None:
        """Send a message, or a fragmented message from an (async) iterable of fragments.

        A ``str`` is sent as text, ``bytes`` (or ``bytearray``/``memoryview``) as binary. The
        fragments of an iterable must all be ``str`` or all ``bytes``. Waits while the peer
        reads slower than we write (write backpressure).

        Raises:
            ConnectionClosed: the connection is closed or closing.
        """
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            if self._fragmenting:
                async with self._send_lock:
                    self.protocol.send_message(
                        message if isinstance(message, str) else bytes(message)
                    )
            else:
                self.protocol.send_message(message if isinstance(message, str) else bytes(message))
            await self._flush_and_drain()
            return
        async with self._send_lock:
            self._fragmenting = True
            try:
                if isinstance(message, AsyncIterable):
                    await self._send_fragments_async(message)
                else:
                    await self._send_fragments_sync(message)
            except BaseException:
                self._abandon_fragments()
                raise
            finally:
                self._fragmenting = False

    def _abandon_fragments(self) -> None:
        """A fragmented message broke off half way: nothing else can be sent, close with 1011."""
        if not self._partial:
            return
        self._partial = False
        if self.protocol.state is State.OPEN and self.protocol.close_sent is None:
            logger.error("! fragmented message abandoned half way; closing with 1011")
            self.protocol.send_close(self._loop.time(), 1011, "fragmented message abandoned")
            self._process()

    async def _send_fragments_async(self, fragments: AsyncIterable[str | bytes]) -> None:
        pending: str | bytes | None = None
        async for fragment in fragments:
            if pending is not None:
                self.protocol.send_fragment(pending, fin=False)
                self._partial = True
                await self._flush_and_drain()
            pending = fragment
        await self._finish_fragments(pending)

    async def _send_fragments_sync(self, fragments: Iterable[str | bytes]) -> None:
        pending: str | bytes | None = None
        for fragment in fragments:
            if pending is not None:
                self.protocol.send_fragment(pending, fin=False)
                self._partial = True
                await self._flush_and_drain()
            pending = fragment
        await self._finish_fragments(pending)

    async def _finish_fragments(self, last: str | bytes | None) -> None:
        if last is None:
            raise LocalProtocolError("cannot send a message from an empty iterable")
        self.protocol.send_fragment(last, fin=True)
        self._partial = False
        await self._flush_and_drain()

    async def ping(self, data: str | bytes | None = None) -> asyncio.Future[float]:
        """Send a ping and return a future that resolves to the round-trip time in seconds.

        A pong acknowledges its own ping and every earlier one (section 5.5.3 allows
        answering only the most recent ping).
        """
        if data is None:
            payload = self.protocol._mask_source(4)
            while payload in self._pings:
                payload = self.protocol._mask_source(4)
        else:
            payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            if payload in self._pings:
                raise LocalProtocolError("a ping with the same payload is already waiting")
        self.protocol.send_ping(payload)
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._pings[payload] = waiter
        self._ping_sent_at[payload] = self._loop.time()
        await self._flush_and_drain()
        return waiter

    async def pong(self, data: str | bytes = b"") -> None:
        """Send an unsolicited pong."""
        self.protocol.send_pong(data.encode("utf-8") if isinstance(data, str) else data)
        await self._flush_and_drain()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Perform the closing handshake and wait until the TCP connection is closed.

        Idempotent: closing a closing or closed connection just waits for the end.
        """
        if self.protocol.state is State.OPEN and self.protocol.close_sent is None:
            self.protocol.send_close(self._loop.time(), code, reason)
            self._process()
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed."""
        await asyncio.shield(self._closed)

    # ------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Not called: the transport is handed over by :meth:`start` or :meth:`run`."""

    def get_buffer(self, sizehint: int) -> memoryview:
        """The loop's shared read buffer (see :mod:`websocket.aio.transport`)."""
        return self._shared.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were read into the buffer: take them out of it and process them."""
        self.data_received(bytes(self._shared.read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """Feed bytes from the transport to the core and dispatch what comes out."""
        if self._lingering:
            self._drained += len(data)
            if self._drained > self.max_drain:
                self._end_linger()
            return
        protocol = self.protocol
        failed = protocol.failure is not None
        protocol.receive_data(data, self._loop.time())
        if not failed and protocol.failure is not None and not self._transport_closing:
            self._start_linger()
            return
        self._process()
        if protocol.failure_pending:
            self._hold_failure()
        elif len(self._messages) >= self.max_queue and protocol.state is State.OPEN:
            # Read backpressure: stop reading until the application catches up.
            self._pause_reading()

    def eof_received(self) -> None:
        """The peer closed its side: the connection is over (the transport closes)."""
        if self._lingering:
            self._end_linger()
            return
        self.protocol.receive_eof()
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        """The transport is closed: settle every waiter."""
        if self._closed.done():
            return
        if exc is not None:
            logger.debug("! connection lost: %s", exc)
        self._transport_closing = True
        self._lingering = False
        self._pending = None
        self._pending_size = 0
        self.protocol.receive_eof()
        self._process()
        self._timer.cancel()
        for handle in (self._abort_handle, self._linger_handle, self._order_handle):
            if handle is not None:
                handle.cancel()
        self._abort_handle = self._linger_handle = self._order_handle = None
        self._write_paused = False
        drain = self._drain_waiter
        if drain is not None and not drain.done():
            drain.set_result(None)
        close_exc = self.protocol.close_exc()
        for ping_waiter in self._pings.values():
            if not ping_waiter.done():
                ping_waiter.set_exception(ConnectionClosed(close_exc.code, close_exc.reason))
                ping_waiter.exception()  # Mark it retrieved: nobody may be awaiting it.
        self._pings.clear()
        self._ping_sent_at.clear()
        self._closed.set_result(None)
        for waiter in (self._message_waiter, self._run_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        logger.info("= connection closed: %d %s", close_exc.code, close_exc.reason)

    def pause_writing(self) -> None:
        """The transport's buffer is above its high-water mark: ``send`` waits."""
        self._write_paused = True

    def resume_writing(self) -> None:
        """The transport's buffer drained below its low-water mark."""
        self._write_paused = False
        drain = self._drain_waiter
        if drain is not None:
            self._drain_waiter = None
            if not drain.done():
                drain.set_result(None)

    # ------------------------------------------------------------- internals

    def _take_over(self, initial_data: bytes) -> None:
        """Become the transport's protocol; feed the handshake's leftovers, in order."""
        reader, self._reader = self._reader, None
        eof = False
        if reader is not None:
            buffered, eof = take_over_stream(reader, self._transport, self)
            initial_data += buffered
        else:
            self._transport.set_protocol(self)
        if initial_data:
            self.data_received(initial_data)
        self._schedule_timer()
        if self._transport.is_closing():
            # Lost during the handshake: no connection_lost() will reach this protocol.
            self._transport_closing = True
            self._loop.call_soon(self.connection_lost, None)
        elif eof:
            self.eof_received()
            self._close_transport()

    async def _flush_and_drain(self) -> None:
        self._process()
        while self._write_paused and not self._transport_closing:
            waiter = self._drain_waiter
            if waiter is None:
                waiter = self._drain_waiter = self._loop.create_future()
            # Shared by every task in send(): one cancelled send() does not cancel the others.
            await asyncio.shield(waiter)

    def _process(self) -> None:
        """Dispatch events and write output after any call into the core."""
        protocol = self.protocol
        events = protocol.events_received()
        if events:
            on_message = self._on_message
            for event in events:
                if type(event) is Message:
                    if on_message is not None:
                        on_message(event.data)
                    else:
                        self._messages.append(event.data)
                elif isinstance(event, Pong):
                    self._ack_pings(event.payload)
                elif isinstance(event, CloseReceived):
                    logger.debug("< close %d %s", event.code, event.reason)
            waiter = self._message_waiter
            if (
                waiter is not None
                and not waiter.done()
                and (self._messages or protocol.close_rcvd is not None)
            ):
                waiter.set_result(None)
        data = protocol.data_to_send()
        if data:
            self._queue_output(data)
        if protocol.close_transport:
            self._close_transport()
        if protocol.failure is not None or protocol.state is not State.OPEN:
            waiter = self._message_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            # Paused by max_queue or strict order: see the closing handshake and the TCP close.
            self._resume_reading()
        self._timer.set(protocol.next_deadline())

    def _queue_output(self, data: list[bytes]) -> None:
        """Cork ``data`` until the next loop iteration (at once above ``FLUSH_AT`` bytes)."""
        if not data or self._transport_closing or self._eof_written:
            return
        pending = self._pending
        size = len(data[0]) if len(data) == 1 else sum(map(len, data))
        if pending is None:
            self._pending = data  # the core handed the list over: no copy
            self._pending_size = size
            self._shared.add(self._flush)
        else:
            pending.extend(data)
            size = self._pending_size = self._pending_size + size
        if size >= FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        """Write the corked output in one call."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        self._pending_size = 0
        if self._transport_closing or self._eof_written:
            return
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def _ack_pings(self, payload: bytes) -> None:
        if payload not in self._pings:
            return  # Section 5.5.3: an unsolicited pong is ignored.
        now = self._loop.time()
        for key in list(self._pings):
            waiter = self._pings.pop(key)
            sent_at = self._ping_sent_at.pop(key)
            if not waiter.done():
                waiter.set_result(now - sent_at)
            if key == payload:
                break

    def _schedule_timer(self) -> None:
        self._timer.set(self.protocol.next_deadline())

    def _on_timer(self) -> None:
        self.protocol.on_timer(self._loop.time())
        self._process()

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self._transport_closing:
            self._reading_paused = True
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused:
            self._reading_paused = False
            if not self._transport_closing or self._lingering:
                self._transport.resume_reading()

    # ----------------------------------------------------------- failing

    def _hold_failure(self) -> None:
        """Strict order: let the application take the messages read before a bad frame."""
        if self._order_handle is not None or self._awaiting_handled:
            return
        self._pause_reading()
        if self._on_message is None and self._messages:
            # recv() empties the queue (then one loop iteration), or close_timeout passes.
            self._awaiting_handled = True
            self._order_handle = self._loop.call_later(
                self.protocol.close_timeout, self._apply_failure
            )
        else:
            # One loop iteration for what the messages set off (run(): tasks the callback made).
            self._order_handle = self._loop.call_soon(self._apply_failure)

    def _handled(self) -> None:
        """recv() emptied the queue of a connection holding a failure back."""
        self._awaiting_handled = False
        if self._order_handle is not None:
            self._order_handle.cancel()
        self._order_handle = self._loop.call_soon(self._apply_failure)

    def _apply_failure(self) -> None:
        self._order_handle = None
        self._awaiting_handled = False
        protocol = self.protocol
        protocol.fail_pending(self._loop.time())
        if protocol.failure is not None and not self._transport_closing:
            self._start_linger()
        else:
            self._process()

    def _start_linger(self) -> None:
        """Section 7.1.7: write the close frame, then drain, bounded, before closing TCP, so
        that the peer reads the close frame instead of a reset (see the module docstring)."""
        self._lingering = True
        self._process()  # the close frame; the core asks for the TCP close, deferred
        self._flush()
        transport = self._transport
        if transport.is_closing():
            self._end_linger()
            return
        if transport.can_write_eof():
            transport.write_eof()  # sent once the buffered bytes are
            self._eof_written = True
        self._resume_reading()
        self._linger_handle = self._loop.call_later(self.protocol.close_timeout, self._end_linger)

    def _end_linger(self) -> None:
        if not self._lingering:
            return
        self._lingering = False
        if self._linger_handle is not None:
            self._linger_handle.cancel()
            self._linger_handle = None
        if self._drained:
            logger.debug("= drained %d bytes before closing", self._drained)
        self._close_transport()

    async def abort(self) -> None:
        """Close the TCP connection at once, without a closing handshake."""
        if not self._transport_closing:
            self._flush()  # what send() and write() took is handed to the transport, as sent
            self._transport_closing = True
            self._transport.abort()
        await self.wait_closed()

    def _close_transport(self) -> None:
        """Close TCP once pending bytes are written; abort if that takes over close_timeout."""
        if self._transport_closing or self._lingering:
            return
        self._flush()
        self._transport_closing = True
        self._transport.close()
        # A peer that stops reading would keep the close pending for ever (the transport
        # only closes once its buffer is flushed): section 7.1.1 lets us drop it.
        self._abort_handle = self._loop.call_later(
            self.protocol.close_timeout, self._transport.abort
        )
