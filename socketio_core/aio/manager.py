"""Client managers: who is connected where, and how a broadcast reaches its recipients.

:class:`AsyncManager` is the in-memory manager, the default of
:class:`~socketio_core.aio.server.AsyncServer`. Every operation that concerns more than one
socket goes through it and is ``async``, so that a pub/sub manager (Redis, RabbitMQ) can
subclass it, publish the operation to the other server processes, and still call
``super()`` for the sockets of this process.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engineio_core.aio.server import AsyncServer as EngineIOServer

from ..broadcast import BroadcastTarget
from ..exceptions import NotConnected
from ..parsers import Parser
from ..recovery import RecoveryOptions, RecoveryStore, Refused, Restored, SessionRecord
from ..rooms import RoomRegistry
from .forwarder import RequestForwarder
from .recovery_backends import LocalRecovery, RecoveryBackend

__all__ = ["AsyncManager", "BroadcastTarget", "ManagerHost", "SocketInfo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SocketInfo:
    """What ``fetch_sockets`` tells of a socket (Node's ``RemoteSocket``)."""

    id: str
    namespace: str
    rooms: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)
    handshake: dict[str, Any] = field(default_factory=dict)


class ManagerHost(Protocol):
    """What a manager needs of the server that owns it (:class:`AsyncServer` provides it)."""

    parser: Parser

    def share(self, messages: Iterable[str | bytes]) -> list[Any]:
        """Wrap encoded messages so that every recipient shares their encoding."""

    def deliver(
        self, namespace: str, sid: str, messages: Sequence[Any], volatile: bool = False
    ) -> None:
        """Send pre-encoded messages to one local socket."""

    def disconnect(
        self,
        sid: str,
        namespace: str | None = None,
        ignore_queue: bool = False,
        *,
        close: bool = False,
    ) -> Awaitable[None]:
        """Disconnect a local socket."""

    def socket_info(self, namespace: str, sid: str) -> SocketInfo:
        """Describe a local socket."""

    async def collect_acks(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> Any:
        """Emit with acks to the local sockets of ``target``; responses by sid, or
        :exc:`AckTimeout` carrying the partial responses."""

    def emit_for_acks(
        self,
        namespace: str,
        sids: Sequence[str],
        event: str,
        args: list[Any],
        timeout: float | None,
        on_ack: Callable[[str, list[Any]], None],
    ) -> int:
        """Emit with acks to the local sockets among ``sids``; ``on_ack(sid, args)`` for each
        ack; returns how many sockets were reached."""


class AsyncManager:
    """The in-memory client manager: one process, rooms in a :class:`RoomRegistry`."""

    #: Whether other processes share the rooms (a pub/sub manager): a room without local
    #: members may then be the sid of a socket of another process.
    cluster = False
    #: Set by a pub/sub manager that forwards requests between processes
    #: (``forward_requests=True``): the server hands it to its Engine.IO layer.
    remote_sessions: RequestForwarder | None = None

    def __init__(self) -> None:
        self.registry = RoomRegistry()
        self._server: ManagerHost | None = None
        #: Connection state recovery (:mod:`socketio_core.recovery`), None while it is off.
        self.recovery_backend: RecoveryBackend | None = None

    @property
    def server(self) -> ManagerHost:
        """The server this manager serves (set by the server)."""
        if self._server is None:
            raise RuntimeError("the manager is not attached to a server")
        return self._server

    def attach(self, server: ManagerHost) -> None:
        """Called once by the server that owns this manager."""
        self._server = server

    def forward_requests_of(self, eio: EngineIOServer) -> None:
        """Called once by the server: hand the request forwarding of a pub/sub manager
        (``forward_requests=True``) to its Engine.IO server; nothing to do otherwise."""
        if self.remote_sessions is not None:
            self.remote_sessions.bind(eio)
            eio.remote_sessions = self.remote_sessions

    # ------------------------------------------------ connection state recovery

    def enable_recovery(self, options: RecoveryOptions, epoch: str) -> None:
        """Keep disconnected sessions and their missed packets (the server calls this when
        ``connection_state_recovery`` is on), in :meth:`make_recovery_backend`'s backend."""
        self.recovery_backend = self.make_recovery_backend(options, epoch)

    def make_recovery_backend(self, options: RecoveryOptions, epoch: str) -> RecoveryBackend:
        """The seam: where sessions and packets are kept (here: this process's memory).
        A manager shared by several processes returns a shared backend."""
        return LocalRecovery(options, epoch)

    @property
    def recovery(self) -> RecoveryStore | None:
        """The in-memory recovery store (None when recovery is off or kept elsewhere)."""
        backend = self.recovery_backend
        return backend.store if isinstance(backend, LocalRecovery) else None

    def record(
        self, target: BroadcastTarget, encode: Callable[[str], Sequence[str | bytes]]
    ) -> Sequence[str | bytes]:
        """Give a packet for ``target`` its offset and keep it; its encoded messages."""
        if self.recovery_backend is None:
            raise RuntimeError("connection state recovery is off")
        return self.recovery_backend.record(target, encode)

    async def persist_session(self, session: SessionRecord) -> None:
        """Keep a socket that left abnormally for the recovery window."""
        if self.recovery_backend is not None:
            await self.recovery_backend.persist(session)

    async def restore_session(self, namespace: str, pid: Any, offset: Any) -> Restored | Refused:
        """Take back a session and the messages it missed (see :class:`RecoveryStore`)."""
        if self.recovery_backend is None:
            return Refused("recovery is off")
        return await self.recovery_backend.restore(namespace, pid, offset)

    async def close_recovery(self) -> None:
        """Stop the recovery backend's timer and connections."""
        if self.recovery_backend is not None:
            await self.recovery_backend.close()

    async def start(self) -> None:
        """Start background work (a pub/sub listener); nothing to do in memory."""

    async def stop(self) -> None:
        """Stop background work."""
        await self.close_recovery()

    # --------------------------------------------------------- local membership

    def connect(self, namespace: str, sid: str) -> None:
        """A socket of this process connected."""
        self.registry.connect(namespace, sid)

    def disconnect(self, namespace: str, sid: str) -> None:
        """A socket of this process disconnected."""
        self.registry.disconnect(namespace, sid)

    def is_connected(self, namespace: str, sid: str) -> bool:
        """Whether the socket is connected to this process."""
        return self.registry.is_connected(namespace, sid)

    def rooms(self, namespace: str, sid: str) -> list[str]:
        """The rooms of a local socket."""
        return self.registry.rooms_of(namespace, sid)

    def rejoin(self, namespace: str, sid: str, rooms: Sequence[str]) -> None:
        """Put a recovered local socket back in its rooms."""
        for room in rooms:
            if room != sid:
                self.registry.enter(namespace, sid, room)

    def recovery_head(self) -> int:
        """The recovery log's position of the next packet (a new socket's ``since``)."""
        return 0 if self.recovery_backend is None else self.recovery_backend.head()

    def select(self, target: BroadcastTarget) -> list[str]:
        """The local sids an operation reaches."""
        return list(
            self.registry.select(
                target.namespace,
                target.rooms,
                except_rooms=target.except_rooms,
                skip=target.skip,
            )
        )

    # ------------------------------------------------------- cluster operations

    async def enter_room(self, namespace: str, sid: str, room: str) -> None:
        """Add a socket to a room."""
        if self.registry.is_connected(namespace, sid):
            self.registry.enter(namespace, sid, room)

    async def leave_room(self, namespace: str, sid: str, room: str) -> None:
        """Remove a socket from a room."""
        self.registry.leave(namespace, sid, room)

    async def close_room(self, namespace: str, room: str) -> None:
        """Remove every socket from a room."""
        self.registry.close_room(namespace, room)

    async def emit(self, target: BroadcastTarget, messages: Sequence[str | bytes]) -> int:
        """Send pre-encoded Engine.IO messages to every selected socket; returns the count."""
        sids = self.select(target)
        shared = self.server.share(messages) if len(sids) > 1 else messages
        deliver = self.server.deliver
        for sid in sids:
            deliver(target.namespace, sid, shared, target.volatile)
        return len(sids)

    async def sockets_join(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket join ``rooms``."""
        new = list(rooms)
        for sid in self.select(target):
            for room in new:
                self.registry.enter(target.namespace, sid, room)

    async def sockets_leave(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket leave ``rooms``."""
        old = list(rooms)
        for sid in self.select(target):
            for room in old:
                self.registry.leave(target.namespace, sid, room)

    async def disconnect_sockets(self, target: BroadcastTarget, *, close: bool = False) -> None:
        """Disconnect every selected socket (``close``: its whole Engine.IO connection)."""
        for sid in self.select(target):
            await self.server.disconnect(sid, namespace=target.namespace, close=close)

    async def fetch_sockets(
        self, target: BroadcastTarget, *, timeout: float = 5.0
    ) -> list[SocketInfo]:
        """Describe every selected socket."""
        return [self.server.socket_info(target.namespace, sid) for sid in self.select(target)]

    async def broadcast_with_acks(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> Any:
        """Emit with one ack per recipient; a dict of responses by sid, or :exc:`AckTimeout`
        carrying the partial responses (a pub/sub manager adds the other processes)."""
        return await self.server.collect_acks(target, event, args, timeout)

    async def call_socket(
        self, namespace: str, sid: str, event: str, args: list[Any], timeout: float
    ) -> list[Any]:
        """Emit to a socket of another process and return its ack's arguments.

        Raises:
            NotConnected: always here: the in-memory manager knows no other process.
        """
        raise NotConnected(f"{sid} is not connected to {namespace}")
