"""The packets a server session holds for its client, and how many bytes they take, sans I/O.

Theory of operation
-------------------
A :class:`~engineio_core.server_session.ServerSession` queues every outgoing packet here until
a transport takes it: a parked GET takes up to ``max_payload`` bytes of them at a time, an
upgraded WebSocket takes them all. The buffer keeps a running byte count (characters for text,
plus one for the packet type), so that the session can enforce ``max_send_buffer`` without
walking the list, and it remembers which packets are volatile, the first to go when the client
falls behind.

The rule, one for both transports
---------------------------------
A session holds at most ``config.send_buffer_limit`` bytes for its client (``max_send_buffer``;
four times ``max_payload`` by default, that is four full GET responses). Past it, volatile
packets (``send(..., volatile=True)``) are dropped first; if that is not enough, the session
closes with ``transport error`` (:exc:`~engineio_core.exceptions.SendBufferFull`), as Node
closes a transport it cannot write to. One packet alone may always wait, however large: the
limit bounds a backlog, not a message. On WebSocket the packets leave at once, and the I/O
layer reports the bytes the peer has not read with
:meth:`~engineio_core.server_session.ServerSession.websocket_backlog`: the same limit applies.
A client that polls or reads keeps its buffer near empty and never meets the limit.
"""

from __future__ import annotations

import logging

from .packet import Packet

__all__ = ["SendBuffer", "packet_size"]

logger = logging.getLogger(__name__)


def packet_size(packet: Packet) -> int:
    """The bytes ``packet`` counts for in a send buffer: its data plus its type character."""
    data = packet.data
    return 1 if data is None else len(data) + 1


class SendBuffer:
    """Outgoing packets in order, with their total size and the volatile ones marked.

    Attributes:
        packets: the packets, oldest first (read it; change it through the methods).
        size: their total :func:`packet_size`.
    """

    __slots__ = ("_volatile", "packets", "size")

    def __init__(self) -> None:
        self.packets: list[Packet] = []
        self.size = 0
        self._volatile: set[int] = set()  # indices in packets

    def __len__(self) -> int:
        return len(self.packets)

    def append(self, packet: Packet, volatile: bool = False) -> None:
        """Add a packet at the end."""
        if volatile:
            self._volatile.add(len(self.packets))
        self.packets.append(packet)
        self.size += packet_size(packet)

    def take(self, count: int) -> None:
        """Forget the first ``count`` packets: a transport took them."""
        if count >= len(self.packets):
            self.clear()
            return
        taken = self.packets[:count]
        del self.packets[:count]
        self.size -= sum(packet_size(p) for p in taken)
        if self._volatile:
            self._volatile = {i - count for i in self._volatile if i >= count}

    def clear(self) -> None:
        """Forget every packet."""
        self.packets.clear()
        self.size = 0
        self._volatile.clear()

    def shed(self, limit: int, sid: str) -> bool:
        """Called over ``limit``: drop the volatile packets; False if still over the limit.

        One packet alone is never over the limit, however large (see the module docstring).
        """
        if len(self.packets) <= 1:
            return True
        volatile = self._volatile
        if volatile:
            self.packets = [p for i, p in enumerate(self.packets) if i not in volatile]
            self.size = sum(packet_size(p) for p in self.packets)
            self._volatile = set()
            logger.info("! %s: send buffer over %d: dropped %d volatile", sid, limit, len(volatile))
        return self.size <= limit
