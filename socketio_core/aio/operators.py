"""Node's broadcast operators: ``sio.to("room").except_("other").volatile.emit(...)``.

Each operator returns a new :class:`BroadcastOperator`; the terminal methods (``emit``,
``send``, ``call``, ``sockets_join``, ``sockets_leave``, ``disconnect_sockets``,
``fetch_sockets``) act on every matching client through the server's manager.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..packet import DEFAULT_NAMESPACE
from .manager import SocketInfo

if TYPE_CHECKING:
    from .server import AsyncServer

__all__ = ["BroadcastOperator"]


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@dataclasses.dataclass(frozen=True)
class BroadcastOperator:
    """An immutable set of broadcast flags bound to a server."""

    server: AsyncServer
    namespace: str = DEFAULT_NAMESPACE
    rooms: tuple[str, ...] = ()
    except_rooms: tuple[str, ...] = ()
    is_volatile: bool = False
    is_local: bool = False
    ack_timeout: float | None = None

    def to(self, room: str | Iterable[str] | None) -> BroadcastOperator:
        """Also target ``room`` (a sid or a room name, or several)."""
        return dataclasses.replace(self, rooms=self.rooms + _names(room))

    in_ = to

    def except_(self, room: str | Iterable[str] | None) -> BroadcastOperator:
        """Leave out the clients in ``room``."""
        return dataclasses.replace(self, except_rooms=self.except_rooms + _names(room))

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the event for clients that cannot take it right now."""
        return dataclasses.replace(self, is_volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """Only the clients of this process."""
        return dataclasses.replace(self, is_local=True)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Wait at most ``seconds`` for acks (``emit`` with a callback, ``call``)."""
        return dataclasses.replace(self, ack_timeout=seconds)

    def _kwargs(self) -> dict[str, Any]:
        return {
            "to": self.rooms or None,
            "namespace": self.namespace,
            "except_rooms": self.except_rooms,
            "volatile": self.is_volatile,
            "local": self.is_local,
        }

    async def emit(
        self, event: str, data: Any = None, *, callback: Callable[..., Any] | None = None
    ) -> None:
        """Emit to every matching client (an error-first ``callback`` with a timeout)."""
        await self.server.emit(
            event, data, callback=callback, timeout=self.ack_timeout, **self._kwargs()
        )

    async def send(self, data: Any) -> None:
        """Emit a ``message`` event."""
        await self.emit("message", data)

    async def call(self, event: str, data: Any = None) -> Any:
        """Emit and wait for every recipient's ack (dict by sid), or one client's."""
        return await self.server.call(
            event,
            data,
            to=self.rooms or None,
            namespace=self.namespace,
            timeout=self.ack_timeout or 60.0,
        )

    def _target(self) -> Any:
        return self.server._target(
            self.namespace,
            self.rooms or None,
            None,
            self.except_rooms,
            self.is_volatile,
            self.is_local,
        )

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the matching clients join ``room``."""
        await self.server.manager.sockets_join(self._target(), _names(room))

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the matching clients leave ``room``."""
        await self.server.manager.sockets_leave(self._target(), _names(room))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the matching clients (``close``: their whole connection)."""
        await self.server.manager.disconnect_sockets(self._target(), close=close)

    async def fetch_sockets(self) -> list[SocketInfo]:
        """Describe the matching clients."""
        return await self.server.manager.fetch_sockets(self._target())
