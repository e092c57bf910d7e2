"""Exceptions of the ``engineio_core`` package.

Every exception raised by this package derives from :exc:`EngineIOError`::

    EngineIOError
    ├── RemoteProtocolError          the peer broke Engine.IO v4; carries an HTTP status and
    │   │                            a Node engine.io error code (3 "Bad request" by default)
    │   ├── DecodeError              a malformed packet or payload (400, code 3)
    │   ├── PayloadTooLarge          a payload or frame over ``max_payload`` bytes (413, code 3)
    │   ├── HeartbeatError           a ping from the client: v4 reversed the heartbeat (400, code 3)
    │   ├── RequestOverlap           a second concurrent GET or POST on one session (400, code 3)
    │   ├── SendBufferFull           the client left over ``max_send_buffer`` bytes untaken
    │   │                            (a slow or absent consumer): the session closes
    │   ├── UnknownTransport         ``transport`` missing or not offered (400, code 0)
    │   ├── UnknownSession           ``sid`` unknown, or the session is closed (400, code 1)
    │   ├── BadHandshakeMethod       a handshake that is not a GET (400, code 2)
    │   ├── Forbidden                the application refused the request (403, code 4)
    │   └── UnsupportedProtocolVersion  ``EIO`` is missing or not 4 (400, code 5)
    ├── LocalProtocolError           the caller misused the API (e.g. sent on a closed session)
    ├── SessionClosed                the session is closed; carries the disconnect reason
    ├── ConnectionRefused            raised by an application hook (``allow_request``,
    │                                ``connect`` handler) to refuse a client with a status
    ├── TransportError               a client HTTP request failed: connection lost or refused,
    │                                timeout, malformed or oversized response
    └── ConnectionFailed             the client could not open a session; carries the HTTP
                                     status when the server refused the handshake

*Remote* errors mean the peer is at fault. The session's input methods never raise them: they
record the error, close the session and hand the I/O layer a response carrying the status (see
:mod:`engineio_core.server_session`). The codec functions raise them to their caller. Node's
engine.io answers such requests with ``{"code": <code>, "message": <message>}``;
:meth:`RemoteProtocolError.error_body` builds the same body. *Local* errors mean the calling
code is at fault and are raised to it.
"""

from __future__ import annotations

import enum
import json

__all__ = [
    "BadHandshakeMethod",
    "ConnectionFailed",
    "ConnectionRefused",
    "DecodeError",
    "EngineIOError",
    "ErrorCode",
    "Forbidden",
    "HeartbeatError",
    "LocalProtocolError",
    "PayloadTooLarge",
    "RemoteProtocolError",
    "RequestOverlap",
    "SendBufferFull",
    "SessionClosed",
    "TransportError",
    "UnknownSession",
    "UnknownTransport",
    "UnsupportedProtocolVersion",
]


class ErrorCode(enum.IntEnum):
    """Node engine.io's error codes (``Server.errors``), sent in the JSON error body."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


# Node engine.io's ``Server.errorMessages``, word for word.
_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class EngineIOError(Exception):
    """Root of every exception raised by the ``engineio_core`` package."""


class RemoteProtocolError(EngineIOError):
    """The peer violated the Engine.IO v4 protocol.

    Attributes:
        status: the HTTP status to answer the offending request with.
        code: the Node engine.io error code for the JSON error body.
    """

    status: int = 400
    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(
        self, message: str, *, status: int | None = None, code: ErrorCode | None = None
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def error_body(self) -> bytes:
        """Return the JSON body Node engine.io sends with an error status.

        Returns:
            ``{"code":N,"message":"..."}`` encoded as UTF-8, with Node's message for the code.
        """
        body = {"code": int(self.code), "message": _MESSAGES[self.code]}
        return json.dumps(body, separators=(",", ":")).encode()


class DecodeError(RemoteProtocolError):
    """A packet or a payload is malformed (400, code 3)."""


class PayloadTooLarge(RemoteProtocolError):
    """A payload or a WebSocket message exceeds ``max_payload`` bytes (413, code 3)."""

    status = 413


class HeartbeatError(RemoteProtocolError):
    """The client sent a ping; in v4 only the server pings ("reverse ping/pong mechanism")."""


class RequestOverlap(RemoteProtocolError):
    """A second GET or POST arrived while one is pending on the same session (400, code 3)."""


class SendBufferFull(RemoteProtocolError):
    """The client let more than ``max_send_buffer`` bytes of packets wait for it (400, code 3).

    A polling client that stops polling, or a WebSocket peer that stops reading, while the
    application keeps sending: the session drops its volatile packets, then closes with
    ``transport error`` rather than hold an unbounded backlog.
    """


class UnknownTransport(RemoteProtocolError):
    """The ``transport`` query parameter is missing or names no offered transport (code 0)."""

    code = ErrorCode.UNKNOWN_TRANSPORT


class UnknownSession(RemoteProtocolError):
    """The ``sid`` query parameter names no open session (code 1)."""

    code = ErrorCode.UNKNOWN_SID


class BadHandshakeMethod(RemoteProtocolError):
    """A request without ``sid`` (a handshake) that is not a GET (code 2)."""

    code = ErrorCode.BAD_HANDSHAKE_METHOD


class Forbidden(RemoteProtocolError):
    """The application refused the request, e.g. in an ``allow_request`` hook (403, code 4)."""

    status = 403
    code = ErrorCode.FORBIDDEN


class UnsupportedProtocolVersion(RemoteProtocolError):
    """The ``EIO`` query parameter is missing or not ``4`` (code 5)."""

    code = ErrorCode.UNSUPPORTED_PROTOCOL_VERSION


class LocalProtocolError(EngineIOError):
    """The caller used the API in a way the protocol or the session state does not allow."""


class SessionClosed(EngineIOError):
    """Raised when using a session that is closed.

    Attributes:
        reason: why the session closed, a :class:`engineio_core.server_session.CloseReason`
            value such as ``"ping timeout"``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"session closed: {reason}")
        self.reason = reason


class ConnectionRefused(EngineIOError):
    """Raised by an application hook to refuse a connection.

    Args:
        message: sent to the client in the JSON error body.
        status: the HTTP status of the refusal (401 by default, as python-engineio).
    """

    def __init__(self, message: str = "Unauthorized", *, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def error_body(self) -> bytes:
        """Node's error body: ``{"code":4,"message":...}`` (code 4 is "Forbidden")."""
        return json.dumps({"code": 4, "message": self.message}, separators=(",", ":")).encode()


class TransportError(EngineIOError):
    """A client-side HTTP request failed: the connection was refused or lost, it timed out,
    or the response was malformed or over the size limit. The cause is chained."""


class ConnectionFailed(EngineIOError):
    """The client could not open an Engine.IO session.

    Attributes:
        status: the HTTP status of the server's refusal, or ``None`` (no response at all,
            or a malformed open packet).
        body: the body of the refusal (Node sends ``{"code":..,"message":..}``).
    """

    def __init__(self, message: str, *, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body
