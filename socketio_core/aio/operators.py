"""Node's broadcast operators: ``sio.to("room").except_("other").volatile.emit(...)``.

Each operator returns a new :class:`BroadcastOperator` holding one
:class:`~socketio_core.broadcast.BroadcastTarget` (and an ack timeout); the terminal methods
(``emit``, ``send``, ``call``, ``sockets_join``, ``sockets_leave``, ``disconnect_sockets``,
``fetch_sockets``) hand that value, unchanged, to the server and its manager.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from ..broadcast import BroadcastTarget, names
from .manager import AsyncManager, SocketInfo

__all__ = ["BroadcastOperator", "OperatorHost"]


class OperatorHost(Protocol):
    """What the operators need of the server (:class:`AsyncServer` provides it)."""

    manager: AsyncManager

    def emit_to_target(
        self,
        target: BroadcastTarget,
        event: str,
        data: Any = None,
        *,
        callback: Callable[..., Any] | None = None,
        timeout: float | None = None,
    ) -> Awaitable[None]:
        """Emit to the sockets of ``target``, at the call."""

    async def call_target(
        self,
        target: BroadcastTarget,
        event: str,
        data: Any = None,
        timeout: float = 60.0,
        *,
        must_exist: str | None = None,
    ) -> Any:
        """Emit and wait for the acks of the sockets of ``target``."""


@dataclasses.dataclass(frozen=True)
class BroadcastOperator:
    """An immutable broadcast value bound to a server.

    Attributes:
        server: the server.
        target: the broadcast flags, carried unchanged to the manager.
        ack_timeout: seconds to wait for acks (``emit`` with a callback, ``call``).
    """

    server: OperatorHost
    target: BroadcastTarget = dataclasses.field(default_factory=BroadcastTarget)
    ack_timeout: float | None = None

    @property
    def namespace(self) -> str:
        """The namespace."""
        return self.target.namespace

    @property
    def rooms(self) -> tuple[str, ...]:
        """The rooms (sids count as rooms); empty for every socket."""
        return self.target.rooms or ()

    @property
    def except_rooms(self) -> tuple[str, ...]:
        """Rooms whose sockets are left out."""
        return self.target.except_rooms

    @property
    def is_volatile(self) -> bool:
        """Whether the event is dropped for clients that cannot take it now."""
        return self.target.volatile

    @property
    def is_local(self) -> bool:
        """Whether only the clients of this process are targeted."""
        return self.target.local

    def to(self, room: str | Iterable[str] | None) -> BroadcastOperator:
        """Also target ``room`` (a sid or a room name, or several)."""
        if not names(room):
            return self
        return dataclasses.replace(self, target=self.target.to(room))

    in_ = to

    def except_(self, room: str | Iterable[str] | None) -> BroadcastOperator:
        """Leave out the clients in ``room``."""
        return dataclasses.replace(self, target=self.target.excluding(room))

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the event for clients that cannot take it right now."""
        return dataclasses.replace(self, target=self.target.with_flags(volatile=True))

    @property
    def local(self) -> BroadcastOperator:
        """Only the clients of this process."""
        return dataclasses.replace(self, target=self.target.with_flags(local=True))

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Wait at most ``seconds`` for acks (``emit`` with a callback, ``call``)."""
        return dataclasses.replace(self, ack_timeout=seconds)

    def emit(
        self, event: str, data: Any = None, *, callback: Callable[..., Any] | None = None
    ) -> Awaitable[None]:
        """Emit to every matching client, at the call (an error-first ``callback`` with a
        timeout); awaiting is optional, as for :meth:`AsyncServer.emit`."""
        return self.server.emit_to_target(
            self.target, event, data, callback=callback, timeout=self.ack_timeout
        )

    def send(self, data: Any) -> Awaitable[None]:
        """Emit a ``message`` event."""
        return self.emit("message", data)

    async def call(self, event: str, data: Any = None) -> Any:
        """Emit and wait for every recipient's ack (dict by sid), or one client's."""
        timeout = 60.0 if self.ack_timeout is None else self.ack_timeout
        return await self.server.call_target(self.target, event, data, timeout)

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the matching clients join ``room``."""
        await self.server.manager.sockets_join(self.target, names(room))

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the matching clients leave ``room``."""
        await self.server.manager.sockets_leave(self.target, names(room))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the matching clients (``close``: their whole connection)."""
        await self.server.manager.disconnect_sockets(self.target, close=close)

    async def fetch_sockets(self) -> list[SocketInfo]:
        """Describe the matching clients."""
        return await self.server.manager.fetch_sockets(self.target)
