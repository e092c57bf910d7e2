"""What the server's sans-I/O core hands its I/O layer: the events of a connection.

:class:`socketio_core.server_session.ServerSession` returns the events below from
``events_received()``. Events report what the *peer*, the *clock* or the *transport* did; the
application's own decisions (accept, refuse, emit, ack, disconnect) produce Engine.IO messages
and, for a disconnect, :class:`AckFailed` events, never an event that echoes the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from .exceptions import SocketIOError

__all__ = [
    "CLIENT_NAMESPACE_DISCONNECT",
    "SERVER_NAMESPACE_DISCONNECT",
    "AckFailed",
    "AckReceived",
    "AckToken",
    "CloseConnection",
    "ConnectRequested",
    "EventReceived",
    "ServerEvent",
    "SocketDisconnected",
]

#: Disconnect reasons the core produces (python-socketio's and Node's names); the others are
#: the Engine.IO close reasons, passed through.
CLIENT_NAMESPACE_DISCONNECT: Final = "client namespace disconnect"
SERVER_NAMESPACE_DISCONNECT: Final = "server namespace disconnect"

#: What an acked emit is told apart by: any object the emitter chooses. (A named alias rather
#: than ``object`` in the fields below: mypyc's dataclasses cannot name ``object`` there.)
AckToken: TypeAlias = object


@dataclass(frozen=True, slots=True)
class ConnectRequested:
    """A client sent CONNECT to a namespace the server serves; ``sid`` is the socket's id.

    The application must answer with :meth:`ServerSession.accept` or
    :meth:`ServerSession.refuse`; until then what is emitted to ``sid`` is held.
    """

    sid: str
    namespace: str
    auth: Any


@dataclass(frozen=True, slots=True)
class EventReceived:
    """A client emitted ``event``; ``id`` is set when it wants an ack
    (:meth:`ServerSession.ack`)."""

    sid: str
    namespace: str
    event: Any
    args: list[Any]
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AckReceived:
    """A client acknowledged an emit made with ``token``."""

    sid: str
    token: AckToken
    args: list[Any]


@dataclass(frozen=True, slots=True)
class AckFailed:
    """No ack will come from ``sid`` for the emit made with ``token``: :exc:`AckTimeout` or
    :exc:`NotConnected`."""

    sid: str
    token: AckToken
    error: SocketIOError


@dataclass(frozen=True, slots=True)
class SocketDisconnected:
    """A socket is gone because of its client or its transport.

    Attributes:
        reason: ``"client namespace disconnect"`` or the Engine.IO close reason.
        connected: whether the application had accepted it (a ``disconnect`` handler runs
            only then).
    """

    sid: str
    namespace: str
    reason: str
    connected: bool


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """The Engine.IO connection must be closed: a protocol violation, or no CONNECT in time.

    Attributes:
        reason: for the log.
        error: the violation, None for the connect timeout.
    """

    reason: str
    error: SocketIOError | None = None


ServerEvent = (
    ConnectRequested
    | EventReceived
    | AckReceived
    | AckFailed
    | SocketDisconnected
    | CloseConnection
)
