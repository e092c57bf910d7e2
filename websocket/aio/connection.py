"""A WebSocket connection on asyncio streams, driving :class:`websocket.protocol.Protocol`.

Theory of operation
-------------------
Each connection runs exactly one task of its own, the reader: it reads from the stream, feeds
the sans-I/O core, and dispatches what comes out (messages to a queue, pongs to ping waiters,
bytes to the writer). Timers are not tasks: the core's next deadline becomes one
``loop.call_at`` handle, moved whenever the deadline changes.

Backpressure works both ways:

* writing: every ``send`` writes its frames and then awaits ``StreamWriter.drain()``, so a peer
  that reads slowly makes ``send`` wait once the transport's buffer is above its high-water mark;
* reading: received messages wait in a queue bounded by ``max_queue`` messages; when it is full,
  the reader task stops reading, TCP flow control pushes back on the peer, and memory stays
  bounded at ``max_queue`` messages of ``max_size`` bytes plus one read chunk.

Strict order: when a read holds messages and then a frame that fails the connection, the
core holds the failure back (:attr:`~websocket.protocol.Protocol.failure_pending`); the
reader waits until the application has taken those messages (``recv()`` emptied the queue,
at most ``close_timeout``; with :meth:`Connection.run`, one loop iteration after the
callbacks), so an echo of them goes out before the close frame.

Failing the connection on bad input (RFC 6455 section 7.1.7) sends the close frame, then
half-closes and reads and discards the peer's input until it closes, at most ``max_drain``
bytes and ``close_timeout`` seconds (:func:`websocket.aio.linger.linger_close`), before the
socket closes: closing with unread input would make the kernel answer with a TCP reset, which
destroys the close frame (e.g. a 1009 for an oversized frame) before the peer reads it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any

from ..events import CloseReceived, Message, Pong
from ..exceptions import ConnectionClosed, ConnectionClosedOK, LocalProtocolError
from ..frames import PreparedMessage
from ..protocol import Protocol, State
from .linger import linger_close
from .timer import DeadlineTimer

__all__ = ["Connection"]

logger = logging.getLogger(__name__)

READ_CHUNK = 65536
# The message queue of a connection driven by run(): never appended to (a callback takes each
# message), shared so that an idle connection does not carry an empty deque (760 bytes).
_NO_QUEUE: collections.deque[str | bytes] = collections.deque(maxlen=0)


class Connection:
    """An open WebSocket connection.

    Created by :func:`websocket.aio.serve` (handed to the handler) and
    :func:`websocket.aio.connect`; not meant to be instantiated directly.

    Attributes:
        protocol: the sans-I/O state machine.
        subprotocol: the negotiated subprotocol, or None.
        request_headers / response_headers: the opening handshake's headers.
        remote_address / local_address: the peer's and our socket addresses.
    """

    def __init__(
        self,
        protocol: Protocol,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
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
        self._reader = reader
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self.remote_address: Any = writer.get_extra_info("peername")
        self.local_address: Any = writer.get_extra_info("sockname")

        # Created by start(); run() hands messages to a callback and never queues any.
        self._messages: collections.deque[str | bytes] = _NO_QUEUE
        self._message_waiter: asyncio.Future[None] | None = None
        self._resume_reading: asyncio.Future[None] | None = None
        self._pings: dict[bytes, asyncio.Future[float]] = {}
        self._ping_sent_at: dict[bytes, float] = {}
        self._send_lock = asyncio.Lock()
        self._fragmenting = False
        self._partial = False  # the first fragments of a message are on the wire, not the last
        self._timer = DeadlineTimer(self._loop, self._on_timer)
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._transport_closing = False
        self._lingering = False  # failed on input: the reader drains, then closes
        self._handled: asyncio.Future[None] | None = None  # recv() emptied the queue
        self._abort_handle: asyncio.TimerHandle | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._on_message: Callable[[str | bytes], None] | None = None

    def start(self, initial_data: bytes = b"") -> None:
        """Start the reader task, feeding first what arrived with the handshake."""
        self._messages = collections.deque()
        if initial_data:
            self.protocol.receive_data(initial_data, self._loop.time())
            self._process()
        self._reader_task = self._loop.create_task(self._read_loop())
        self._schedule_timer()

    async def run(
        self, on_message: Callable[[str | bytes], None], initial_data: bytes = b""
    ) -> None:
        """Read in the calling task, handing each message to ``on_message`` as it arrives.

        The alternative to :meth:`start` for a layer above that wants no task of the
        connection's own (Engine.IO keeps one reader task per TCP connection). ``recv()`` is
        not available in this mode; there is no read backpressure beyond what
        ``on_message`` does. Returns when the connection is closed.
        """
        self._on_message = on_message
        if initial_data:
            self.protocol.receive_data(initial_data, self._loop.time())
            self._process()
        self._schedule_timer()
        await self._read_loop()

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
        data = protocol.data_to_send()
        if data and not self._transport_closing:
            self._writer.writelines(data)

    @property
    def write_buffer_size(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return self._writer.transport.get_write_buffer_size()

    def start_closing(self, code: int = 1000, reason: str = "") -> None:
        """Send the close frame now; the reader finishes the closing handshake."""
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
        message = self._messages.popleft()
        if not self._messages and self._handled is not None and not self._handled.done():
            self._handled.set_result(None)
        resume = self._resume_reading
        if resume is not None and len(self._messages) < self.max_queue and not resume.done():
            resume.set_result(None)
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

    # ------------------------------------------------------------- internals

    async def _flush_and_drain(self) -> None:
        self._process()
        if self._transport_closing:
            return
        # On a lost connection the reader task sees the loss too and closes the connection.
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.drain()

    def _process(self) -> None:
        """Dispatch events and write output after any call into the core."""
        protocol = self.protocol
        events = protocol.events_received()
        if events:
            on_message = self._on_message
            for event in events:
                if isinstance(event, Message):
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
        if data and not self._transport_closing:
            self._writer.writelines(data)
        if protocol.close_transport:
            self._close_transport()
        if protocol.failure is not None or protocol.state is not State.OPEN:
            waiter = self._message_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            # A reader paused by max_queue must see the closing handshake and the TCP close.
            self._wake_reader()
        self._schedule_timer()

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

    async def _read_loop(self) -> None:
        reader = self._reader
        protocol = self.protocol
        loop = self._loop
        try:
            while protocol.state is not State.CLOSED:
                if protocol.failure_pending:
                    # Strict order: the messages read before a bad frame are handled (and
                    # answered) first; then the connection fails.
                    await self._until_handled()
                    protocol.fail_pending(loop.time())
                    if protocol.failure is not None and not self._transport_closing:
                        await self._linger()
                        break
                    continue
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                failed = protocol.failure is not None
                protocol.receive_data(data, loop.time())
                if not failed and protocol.failure is not None and not self._transport_closing:
                    await self._linger()
                    break
                self._process()
                if len(self._messages) >= self.max_queue and protocol.state is State.OPEN:
                    # Read backpressure: stop reading until the application catches up.
                    self._resume_reading = loop.create_future()
                    await self._resume_reading
                    self._resume_reading = None
        except (ConnectionError, OSError) as exc:
            logger.debug("! connection lost: %s", exc)
        except asyncio.CancelledError:
            pass
        finally:
            await self._finish()

    async def _linger(self) -> None:
        """Section 7.1.7: write the close frame, then drain, bounded, before closing TCP, so
        that the peer reads the close frame instead of a reset (see the module docstring)."""
        self._lingering = True
        self._process()
        await linger_close(
            self._reader,
            self._writer,
            max_bytes=self.max_drain,
            timeout=self.protocol.close_timeout,
        )
        self._lingering = False

    async def _until_handled(self) -> None:
        """Let the application take the messages read before a bad frame (bounded in time)."""
        if self._on_message is None and self._messages:
            waiter = self._handled = self._loop.create_future()
            try:
                async with asyncio.timeout(self.protocol.close_timeout):
                    await waiter
            except TimeoutError:
                pass
            finally:
                self._handled = None
        # One loop iteration for what the messages set off (run(): tasks the callback made).
        await asyncio.sleep(0)

    async def _finish(self) -> None:
        self.protocol.receive_eof()
        self._process()
        self._timer.cancel()
        self._close_transport()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
        if self._abort_handle is not None:
            self._abort_handle.cancel()
            self._abort_handle = None
        exc = self.protocol.close_exc()
        for ping_waiter in self._pings.values():
            if not ping_waiter.done():
                ping_waiter.set_exception(ConnectionClosed(exc.code, exc.reason))
                ping_waiter.exception()  # Mark it retrieved: nobody may be awaiting it.
        self._pings.clear()
        self._ping_sent_at.clear()
        if not self._closed.done():
            self._closed.set_result(None)
        waiter = self._message_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        logger.info("= connection closed: %d %s", exc.code, exc.reason)

    async def abort(self) -> None:
        """Close the TCP connection at once, without a closing handshake."""
        if not self._transport_closing:
            self._transport_closing = True
            self._writer.transport.abort()
        self._wake_reader()
        await self.wait_closed()

    def _close_transport(self) -> None:
        """Close TCP once pending bytes are written; abort if that takes over close_timeout."""
        if self._transport_closing or self._lingering:
            return
        self._transport_closing = True
        self._writer.close()
        # A peer that stops reading would keep the close pending for ever (the transport
        # only closes once its buffer is flushed): section 7.1.1 lets us drop it.
        self._abort_handle = self._loop.call_later(
            self.protocol.close_timeout, self._writer.transport.abort
        )

    def _wake_reader(self) -> None:
        """Let a reader paused by read backpressure (or strict order) run again."""
        for waiter in (self._resume_reading, self._handled):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
