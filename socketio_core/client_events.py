"""What the client's sans-I/O core hands its I/O layer: events, errors, and the backoff schedule.

:class:`socketio_core.client_session.ClientSession` returns the events below from
``events_received()``; :func:`backoff_delay` is the reconnection schedule, a pure function of
the attempt number and a random value the caller draws. The client's exceptions
(:exc:`ConnectFailed`, :exc:`SendBufferFull`) live in :mod:`socketio_core.exceptions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .exceptions import RemoteProtocolError, SocketIOError

__all__ = [
    "CLIENT_DISCONNECT",
    "SERVER_DISCONNECT",
    "AckFailed",
    "AckReceived",
    "ClientEvent",
    "EventReceived",
    "NamespaceConnected",
    "NamespaceDisconnected",
    "NamespaceRefused",
    "ProtocolViolation",
    "backoff_delay",
]

#: Disconnect reasons the session produces (python-socketio's client names); the others are
#: the Engine.IO close reasons, passed through.
CLIENT_DISCONNECT: Final = "client disconnect"
SERVER_DISCONNECT: Final = "server disconnect"


def backoff_delay(
    attempt: int,
    *,
    delay: float,
    delay_max: float,
    randomization_factor: float,
    random: float,
) -> float:
    """The wait before reconnection attempt ``attempt``: exponential, with jitter.

    ``delay * 2 ** (attempt - 1)``, capped at ``delay_max``, then moved by up to
    ``randomization_factor`` of itself either way (python-socketio's and socket.io-client's
    schedule), and kept within ``[0, delay_max]``.

    Args:
        attempt: 1 for the first attempt.
        delay: the first delay, in seconds.
        delay_max: the largest delay.
        randomization_factor: the jitter, 0 (none) to 1.
        random: a value in ``[0, 1)`` from the caller's random source.

    Returns:
        Seconds to wait.

    Raises:
        ValueError: ``attempt`` below 1 or a negative setting.
    """
    if attempt < 1 or delay < 0 or delay_max < 0 or not 0 <= randomization_factor <= 1:
        raise ValueError("attempt >= 1, delays >= 0 and 0 <= randomization_factor <= 1")
    # Cap the exponent before computing: 2 ** 10_000 would not fit a float.
    base: float = min(delay * 2.0 ** min(attempt - 1, 64), delay_max)
    jittered = base + base * randomization_factor * (2 * random - 1)
    return max(0.0, min(jittered, delay_max))


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NamespaceConnected:
    """The server accepted the namespace (a CONNECT packet) and gave it a sid."""

    namespace: str
    sid: str
    #: Connection state recovery: the server restored the session (same sid, rooms, data)
    #: and replays the events missed meanwhile.
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class NamespaceRefused:
    """The server refused the namespace (CONNECT_ERROR): the ``connect_error`` event.

    Attributes:
        data: ``{"message": ...}``, plus ``"data"`` when the server gave some.
    """

    namespace: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NamespaceDisconnected:
    """A connected namespace is no longer connected; ``reason`` as the disconnect handler
    gets it (``"client disconnect"``, ``"server disconnect"`` or an Engine.IO close reason)."""

    namespace: str
    reason: str


@dataclass(frozen=True, slots=True)
class EventReceived:
    """The server emitted an event; ``id`` is set when it wants an ack
    (:meth:`ClientSession.ack`)."""

    namespace: str
    event: Any
    args: list[Any]
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AckReceived:
    """The server acknowledged an emit made with ``token``."""

    token: object
    args: list[Any]


@dataclass(frozen=True, slots=True)
class AckFailed:
    """No ack will come for the emit made with ``token``: :exc:`AckTimeout` or
    :exc:`NotConnected`."""

    token: object
    error: SocketIOError


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The server broke the protocol: close the transport (reason ``parse error``)."""

    error: RemoteProtocolError


ClientEvent = (
    NamespaceConnected
    | NamespaceRefused
    | NamespaceDisconnected
    | EventReceived
    | AckReceived
    | AckFailed
    | ProtocolViolation
)
