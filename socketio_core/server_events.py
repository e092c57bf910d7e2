"""What the server's sans-I/O core hands its I/O layer, and the one rule for ack values.

:class:`socketio_core.server_session.ServerSession` returns the events below from
``events_received()``. Events report what the *peer*, the *clock* or the *transport* did; the
application's own decisions (accept, refuse, emit, ack, disconnect) produce Engine.IO messages
and, for a disconnect, :class:`AckFailed` events, never an event that echoes the decision.

Argument packing is written once, here, for the whole package:

* :func:`as_args`: python-socketio's ``data`` convention (``None`` is no argument, a tuple
  several, anything else one); also how a handler's return value becomes ACK arguments.
* :func:`ack_value`: an ACK's arguments as one Python value (``None``, the one value, or a
  tuple of several), what ``call()`` returns and what a broadcast collects per sid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .exceptions import SocketIOError

__all__ = [
    "CLIENT_NAMESPACE_DISCONNECT",
    "SERVER_NAMESPACE_DISCONNECT",
    "AckFailed",
    "AckReceived",
    "CloseConnection",
    "ConnectRequested",
    "EventReceived",
    "ServerEvent",
    "SocketDisconnected",
    "ack_value",
    "as_args",
]

#: Disconnect reasons the core produces (python-socketio's and Node's names); the others are
#: the Engine.IO close reasons, passed through.
CLIENT_NAMESPACE_DISCONNECT: Final = "client namespace disconnect"
SERVER_NAMESPACE_DISCONNECT: Final = "server namespace disconnect"


def as_args(data: Any) -> list[Any]:
    """python-socketio's convention: None is no argument, a tuple several, else one.

    Args:
        data: what the application passed (``emit(event, data)``) or a handler returned.

    Returns:
        The packet's argument list (a new list).
    """
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]


def ack_value(args: list[Any]) -> Any:
    """The value of an ACK's arguments: None for none, the value for one, a tuple for several.

    The inverse of :func:`as_args` (``ack_value(as_args(x)) == x`` for None, a tuple of two or
    more, and anything that is not a tuple).
    """
    if len(args) == 1:
        return args[0]
    return tuple(args) if args else None


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
    token: object
    args: list[Any]


@dataclass(frozen=True, slots=True)
class AckFailed:
    """No ack will come from ``sid`` for the emit made with ``token``: :exc:`AckTimeout` or
    :exc:`NotConnected`."""

    sid: str
    token: object
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
