"""The asyncio layer of Socket.IO: ``AsyncServer``, ``Namespace``, ``ASGIApp``."""

from __future__ import annotations

from .asgi import ASGIApp
from .manager import AsyncManager, BroadcastTarget, SocketInfo
from .namespace import Namespace
from .operators import BroadcastOperator
from .server import AsyncServer

__all__ = [
    "ASGIApp",
    "AsyncManager",
    "AsyncServer",
    "BroadcastOperator",
    "BroadcastTarget",
    "Namespace",
    "SocketInfo",
]

from .blocking import Client
from .client import AsyncClient
from .client_namespace import ClientNamespace

__all__ += ["AsyncClient", "Client", "ClientNamespace"]
