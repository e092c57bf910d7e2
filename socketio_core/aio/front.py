"""Small pieces of the Socket.IO server's API: the ``listen()`` wrapper and argument packing."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import AsyncServer

__all__ = ["Listening", "as_args"]


class Listening:
    """``sio.listen()``: the Engine.IO standalone server, with the client manager started."""

    def __init__(self, sio: AsyncServer, front: Any) -> None:
        self._sio = sio
        self._front = front

    async def _start(self) -> Any:
        await self._sio._start_manager()
        return await self._front.start()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._start().__await__()

    async def __aenter__(self) -> Any:
        return await self._start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self._front.close()
        if self._sio._manager_started:
            self._sio._manager_started = False
            await self._sio.manager.stop()


def as_args(data: Any) -> list[Any]:
    """python-socketio's convention: None is no argument, a tuple several, else one."""
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]
