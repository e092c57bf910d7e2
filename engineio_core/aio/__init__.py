"""The asyncio layer of Engine.IO: ``AsyncServer`` (standalone and ASGI) and ``AsyncClient``."""

from __future__ import annotations

import websocket as _websocket

if not getattr(_websocket, "IS_SOCKETIO_STACK", False):
    raise ImportError(
        f"the 'websocket' module found at {getattr(_websocket, '__file__', '?')} is not this "
        "project's WebSocket package; the PyPI package 'websocket-client' installs a module of "
        "the same name: run 'pip uninstall websocket-client' (see README.md)"
    )

from .asgi import ASGIApp
from .server import AsyncServer, PreparedResponse
from .standalone import StandaloneServer

__all__ = ["ASGIApp", "AsyncServer", "PreparedResponse", "StandaloneServer"]
