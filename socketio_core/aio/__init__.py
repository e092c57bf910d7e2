"""The asyncio layer of Socket.IO, with python-socketio's names.

Server: :class:`AsyncServer`, :class:`Namespace`, :class:`ASGIApp`, :class:`AsyncManager`
(in memory; ``redis_manager.AsyncRedisManager`` and ``aiopika_manager.AsyncAioPikaManager``
join several processes). Clients: :class:`AsyncClient`, the blocking :class:`Client` and
:class:`ClientNamespace`.
"""

from __future__ import annotations

from .asgi import ASGIApp
from .blocking import Client
from .client import AsyncClient
from .client_namespace import ClientNamespace
from .manager import AsyncManager, BroadcastTarget, SocketInfo
from .namespace import Namespace
from .operators import BroadcastOperator
from .server import AsyncServer

__all__ = [
    "ASGIApp",
    "AsyncClient",
    "AsyncManager",
    "AsyncServer",
    "BroadcastOperator",
    "BroadcastTarget",
    "Client",
    "ClientNamespace",
    "Namespace",
    "SocketInfo",
]
