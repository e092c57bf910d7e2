"""``ASGIApp``: a Socket.IO server as an ASGI application (uvicorn, hypercorn).

A thin shell over :class:`engineio_core.aio.asgi.ASGIApp`: the Socket.IO path is the Engine.IO
path, and the lifespan startup also starts the client manager (a pub/sub listener).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engineio_core.aio.asgi import ASGIApp as EngineIOASGIApp

if TYPE_CHECKING:
    from .server import AsyncServer

__all__ = ["ASGIApp"]


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
        async def startup() -> None:
            await socketio_server._start_manager()
            if on_startup is not None:
                result = on_startup()
                if hasattr(result, "__await__"):
                    await result

        super().__init__(
            socketio_server.eio,
            other_asgi_app,
            static_files,
            socketio_path,
            on_startup=startup,
            on_shutdown=on_shutdown,
        )
        self.socketio_server = socketio_server
