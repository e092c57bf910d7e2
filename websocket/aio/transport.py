"""Two transport-level helpers of :class:`websocket.aio.Connection`.

* :class:`LoopShared`: what the connections of one event loop share.

  - Writes are corked until the next loop iteration. A connection with output registers its
    flush once per iteration; one ``loop.call_soon`` per event loop (not per connection) then
    flushes every registered connection with one ``transport.write`` each, carrying every
    frame produced during that iteration (an ack and a broadcast, the emits of a burst). A
    fan-out to N clients thus costs N ``send()`` calls per iteration however many messages
    it carries, and one callback handle, not N.
  - One read buffer of ``READ_CHUNK`` bytes: a connection is a
    :class:`asyncio.BufferedProtocol`, and the transport reads into this buffer, which the
    connection copies out of before the callback returns (so one buffer serves every
    connection of the loop: an idle connection holds none, and a read is at most
    ``READ_CHUNK`` bytes, which bounds what a paused reader holds).
* :func:`take_over_stream`: an accepted connection's opening handshake is read on asyncio
  streams (h11 for Engine.IO's front door, the ``websocket.handshake`` parser for ours); once
  it is done, the transport is switched to the :class:`~websocket.aio.Connection` protocol
  (``transport.set_protocol``), and the bytes the ``StreamReader`` still holds are taken out
  of it, in order, through its public API only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

__all__ = ["READ_CHUNK", "LoopShared", "loop_shared", "take_over_stream"]

logger = logging.getLogger(__name__)

#: Most bytes taken from the transport in one read.
READ_CHUNK = 65536


class LoopShared:
    """The write coalescer and the read buffer of the connections of one event loop.

    Args:
        loop: the event loop whose iterations delimit the batches of writes.

    Attributes:
        read_buffer: where the transports of the loop's connections read into.
    """

    __slots__ = ("_flushes", "_loop", "_scheduled", "read_buffer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._flushes: list[Callable[[], None]] = []
        self._scheduled = False
        self.read_buffer = memoryview(bytearray(READ_CHUNK))

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this coalescer schedules on."""
        return self._loop

    def add(self, flush: Callable[[], None]) -> None:
        """Run ``flush`` at the next loop iteration (with every other one added meanwhile)."""
        self._flushes.append(flush)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        flushes, self._flushes = self._flushes, []
        for flush in flushes:
            try:
                flush()
            except Exception:  # one broken transport must not keep the others' bytes back
                logger.error("! flushing a connection's output failed", exc_info=True)


_local = threading.local()


def loop_shared(loop: asyncio.AbstractEventLoop) -> LoopShared:
    """The :class:`LoopShared` of ``loop`` (one per loop; a thread runs one loop at a time)."""
    current: LoopShared | None = getattr(_local, "shared", None)
    if current is None or current.loop is not loop:
        current = _local.shared = LoopShared(loop)
    return current


def take_over_stream(
    reader: asyncio.StreamReader, transport: asyncio.BaseTransport, protocol: asyncio.BaseProtocol
) -> tuple[bytes, bool]:
    """Switch ``transport`` to ``protocol`` and empty ``reader``, which read from it so far.

    Returns:
        The bytes ``reader`` had buffered (they come before anything ``protocol`` receives),
        and whether the peer's end of stream (or the connection's loss) came before the switch.
    """
    transport.set_protocol(protocol)  # from here on, no byte can reach the reader
    if reader.at_eof():
        return b"", True
    # StreamReader has no synchronous read: step read() once by hand. With bytes buffered it
    # returns them at once (all of them: no limit); with none, it would wait for more, which
    # can only come to the new protocol now, so the step is abandoned. Either way, at_eof()
    # then says whether the end of stream had arrived too.
    coro = reader.read(2**62)
    try:
        coro.send(None)
    except StopIteration as done:
        data = bytes(done.value)
    except (ConnectionError, OSError) as exc:  # the stream recorded the connection's loss
        logger.debug("! connection lost before the hand-over: %s", exc)
        return b"", True
    else:
        coro.close()
        data = b""
    return data, reader.at_eof()
