"""Closing a TCP connection after an error response without losing the response.

When a server closes a socket whose receive buffer still holds unread bytes, the kernel sends a
TCP reset instead of a FIN, and a reset makes the peer's kernel drop whatever it has not yet
handed to the application: the error response (a 400, a 431, a WebSocket close frame with
1009) that explains why the connection ends is lost. So after such a response the server
half-closes (FIN after the bytes written), then reads and discards the peer's input until the
peer closes, within a bound in bytes and in time, and only then closes the socket.
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["LINGER_BYTES", "LINGER_TIMEOUT", "linger_close"]

logger = logging.getLogger(__name__)

#: Most bytes read and discarded after an error response.
LINGER_BYTES = 2**20
#: Most seconds spent waiting for the peer to close after an error response.
LINGER_TIMEOUT = 2.0


async def linger_close(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    max_bytes: int = LINGER_BYTES,
    timeout: float = LINGER_TIMEOUT,
) -> None:
    """Half-close, drain the peer's input (bounded), then close the connection.

    Args:
        reader: the connection's reader.
        writer: the connection's writer; what was written is flushed before the FIN.
        max_bytes: most bytes to read and discard.
        timeout: most seconds to wait for the peer to close.
    """
    transport = writer.transport
    drained = 0
    try:
        if transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()  # sent once the buffered bytes are
        async with asyncio.timeout(timeout):
            while drained <= max_bytes:
                data = await reader.read(65536)
                if not data:
                    break
                drained += len(data)
    except (TimeoutError, ConnectionError, OSError):
        pass
    finally:
        if drained:
            logger.debug("= drained %d bytes before closing", drained)
        writer.close()
