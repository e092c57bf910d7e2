"""The asyncio I/O layer of the ``websocket`` package: :func:`serve` and :func:`connect`."""

from __future__ import annotations

from .client import connect
from .connection import Connection
from .options import ConnectionOptions
from .server import Server, serve

__all__ = ["Connection", "ConnectionOptions", "Server", "connect", "serve"]
