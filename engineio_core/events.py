"""What a :class:`engineio_core.server_session.ServerSession` hands its I/O layer.

Events (:class:`MessageReceived`, :class:`Upgraded`, :class:`Closed`) come from
``events_received()``; :class:`HTTPResponse` values answer polling requests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from .exceptions import RemoteProtocolError

__all__ = [
    "APPLICATION_JSON",
    "TEXT_PLAIN",
    "CloseReason",
    "Closed",
    "Event",
    "HTTPResponse",
    "MessageReceived",
    "Upgraded",
]

TEXT_PLAIN: Final = "text/plain; charset=UTF-8"
APPLICATION_JSON: Final = "application/json"


class CloseReason(enum.StrEnum):
    """Why a session closed (python-engineio's ``Server.reason`` values, plus parse error)."""

    SERVER_DISCONNECT = "server disconnect"
    CLIENT_DISCONNECT = "client disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PARSE_ERROR = "parse error"


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message packet arrived: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Upgraded:
    """The session moved to the WebSocket transport; no more GETs or POSTs for it."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The session is closed.

    Attributes:
        reason: why.
        error: the peer's protocol violation, if that was the cause.
    """

    reason: CloseReason
    error: RemoteProtocolError | None = None


Event = MessageReceived | Upgraded | Closed


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    """A response for a polling request.

    Attributes:
        status: the HTTP status.
        body: the body.
        content_type: the Content-Type header value.
    """

    status: int
    body: bytes
    content_type: str = TEXT_PLAIN

    @classmethod
    def from_error(cls, exc: RemoteProtocolError) -> HTTPResponse:
        """Build Node's error response (``{"code":..,"message":..}``) for a remote error."""
        return cls(exc.status, exc.error_body(), APPLICATION_JSON)
