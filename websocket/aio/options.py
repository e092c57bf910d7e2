"""Per-connection limits and timers shared by the server and the client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_MAX_FRAGMENTS,
    DEFAULT_MAX_SIZE,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PING_TIMEOUT,
)

__all__ = ["ConnectionOptions"]


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """Limits and timers of one connection, with safe defaults.

    Attributes:
        max_size: largest message accepted, after decompression (1 MiB); 1009 above.
        max_fragments: most frames one incoming message may be split into; 1009 above.
        max_buffered: most wire bytes held for one unfinished message (default: max_size).
        max_queue: most received messages waiting for ``recv()`` before reading pauses.
        max_drain: most bytes read and discarded after failing the connection on bad input,
            before the socket closes (within ``close_timeout``), so that the peer reads the
            close frame instead of a TCP reset.
        close_timeout: seconds to wait for the closing handshake to finish.
        ping_interval: seconds between keepalive pings (None: no keepalive).
        ping_timeout: seconds to wait for a keepalive pong before failing with 1011.
    """

    max_size: int = DEFAULT_MAX_SIZE
    max_fragments: int = DEFAULT_MAX_FRAGMENTS
    max_buffered: int | None = None
    max_queue: int = 32
    max_drain: int = 4 * 2**20
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT
    ping_interval: float | None = DEFAULT_PING_INTERVAL
    ping_timeout: float | None = DEFAULT_PING_TIMEOUT

    def __post_init__(self) -> None:
        for name in ("max_size", "max_fragments", "max_queue", "max_drain"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_buffered is not None and self.max_buffered < 1:
            raise ValueError("max_buffered must be at least 1")
        if self.close_timeout <= 0:
            raise ValueError("close_timeout must be positive")

    def protocol_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`websocket.protocol.Protocol`."""
        return {
            "max_size": self.max_size,
            "max_fragments": self.max_fragments,
            "max_buffered": self.max_buffered,
            "close_timeout": self.close_timeout,
            "ping_interval": self.ping_interval,
            "ping_timeout": self.ping_timeout,
        }
