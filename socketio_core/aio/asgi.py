"""``ASGIApp``: a Socket.IO server as an ASGI application (uvicorn, hypercorn).

A thin shell over :class:`engineio_core.aio.asgi.ASGIApp`: the Socket.IO path is the Engine.IO
path, and the lifespan starts and stops the server (its client manager, a pub/sub listener):
the same :meth:`AsyncServer.startup` / :meth:`AsyncServer.shutdown` as the standalone server.
"""

from __future__ import annotations

import logging
from typing import Any

from engineio_core.aio.asgi import ASGIApp as EngineIOASGIApp
from engineio_core.aio.asgi import LifespanResultEvent

from .server import AsyncServer

__all__ = ["ASGIApp"]

logger = logging.getLogger(__name__)


class ASGIApp(EngineIOASGIApp):
    """python-socketio's ``ASGIApp``.

    Example::

        sio = AsyncServer()
        app = ASGIApp(sio, other_asgi_app=fastapi_app, static_files={"/": "index.html"})

    Args:
        socketio_server: the Socket.IO server.
        other_asgi_app: an ASGI app for every other path (and the lifespan protocol).
        static_files: python-engineio's static file rules.
        socketio_path: the Socket.IO path (``socket.io``).
        on_startup / on_shutdown: lifespan hooks.
    """

    def __init__(
        self,
        socketio_server: AsyncServer,
        other_asgi_app: Any = None,
        static_files: Any = None,
        socketio_path: str = "socket.io",
        on_startup: Any = None,
        on_shutdown: Any = None,
    ) -> None:
        super().__init__(
            socketio_server.eio,
            other_asgi_app,
            static_files,
            socketio_path,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
        )
        self.socketio_server = socketio_server

    async def startup(self) -> LifespanResultEvent:
        """Lifespan startup: the server's :meth:`~AsyncServer.startup` (the client manager),
        then the ``on_startup`` hook."""
        try:
            await self.socketio_server.startup()
        except Exception as exc:
            logger.error("! the client manager did not start", exc_info=True)
            return {"type": "lifespan.startup.failed", "message": str(exc)}
        return await super().startup()

    async def shutdown(self) -> LifespanResultEvent:
        """Lifespan shutdown: every session closed and the ``on_shutdown`` hook run, then the
        server's :meth:`~AsyncServer.shutdown` (the client manager stops)."""
        result = await super().shutdown()
        await self.socketio_server.shutdown()
        return result
