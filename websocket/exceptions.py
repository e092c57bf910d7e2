"""Exceptions of the ``websocket`` package.

Every exception raised by this package derives from :exc:`WebSocketError`::

    WebSocketError
    ├── RemoteProtocolError          the peer broke RFC 6455; carries the close code to send
    │   ├── PayloadTooBig            a message or frame over ``max_size`` (1009)
    │   ├── TooManyFragments         a message in more than ``max_fragments`` frames (1009)
    │   └── InvalidUTF8              a text message or close reason that is not UTF-8 (1007)
    ├── InvalidHandshake             the opening handshake failed; carries an HTTP status
    │   ├── InvalidUpgrade           Upgrade / Connection headers missing or wrong (400)
    │   ├── InvalidVersion           Sec-WebSocket-Version is not 13 (426)
    │   ├── InvalidOrigin            the Origin hook refused the request (403)
    │   ├── NegotiationError         a subprotocol or extension could not be agreed (400)
    │   ├── TooManyHeaders           the handshake head is over the count or size limit (431)
    │   └── InvalidStatus            the server answered something other than 101 (client side)
    ├── LocalProtocolError           the caller misused the API (e.g. sent after close)
    ├── ConnectionClosed             the connection is closed; carries code and reason
    │   ├── ConnectionClosedOK       ... with 1000 or 1001
    │   └── ConnectionClosedError    ... with any other code, or without a close frame
    └── InvalidURI                   ``connect()`` was given a URI that is not ws:// or wss://

*Remote* errors mean the peer is at fault and are turned into a close frame (or an HTTP error
response during the handshake) by the protocol objects; they never escape an input method.
*Local* errors mean the calling code is at fault and are raised to it.
"""

from __future__ import annotations

__all__ = [
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidOrigin",
    "InvalidStatus",
    "InvalidURI",
    "InvalidUTF8",
    "InvalidUpgrade",
    "InvalidVersion",
    "LocalProtocolError",
    "NegotiationError",
    "PayloadTooBig",
    "RemoteProtocolError",
    "TooManyFragments",
    "TooManyHeaders",
    "WebSocketError",
]


class WebSocketError(Exception):
    """Root of every exception raised by the ``websocket`` package."""


class RemoteProtocolError(WebSocketError):
    """The peer violated RFC 6455.

    Attributes:
        close_code: the close code the connection is failed with (1002 unless a subclass says).
    """

    close_code: int = 1002

    def __init__(self, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        if close_code is not None:
            self.close_code = close_code


class PayloadTooBig(RemoteProtocolError):
    """A frame or message exceeds the configured ``max_size`` (close code 1009)."""

    close_code = 1009


class TooManyFragments(RemoteProtocolError):
    """A message arrived in more frames than ``max_fragments`` allows (close code 1009)."""

    close_code = 1009


class InvalidUTF8(RemoteProtocolError):
    """A text message or a close reason is not valid UTF-8 (close code 1007)."""

    close_code = 1007


class InvalidHandshake(WebSocketError):
    """The opening handshake failed.

    Attributes:
        status: the HTTP status a server answers with (a client sees it on :exc:`InvalidStatus`).
    """

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidUpgrade(InvalidHandshake):
    """The Upgrade, Connection or Sec-WebSocket-Key header is missing or wrong (400)."""


class InvalidVersion(InvalidHandshake):
    """Sec-WebSocket-Version is not 13 (RFC 6455 section 4.4: answer 426)."""

    status = 426


class InvalidOrigin(InvalidHandshake):
    """The Origin header was refused by the server's origin hook (403)."""

    status = 403


class NegotiationError(InvalidHandshake):
    """A subprotocol or extension offer or answer could not be agreed on (400)."""


class TooManyHeaders(InvalidHandshake):
    """The handshake head exceeds the header count or size limit (431)."""

    status = 431


class InvalidStatus(InvalidHandshake):
    """The server refused the handshake (client side).

    Attributes:
        status: the status code the server answered with.
        headers: the response headers, as (name, value) pairs of ``str``.
        body: the response body.
    """

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        super().__init__(f"server rejected WebSocket connection: HTTP {status}", status)
        self.headers = headers
        self.body = body


class LocalProtocolError(WebSocketError):
    """The caller used the API in a way the protocol does not allow."""


class ConnectionClosed(WebSocketError):
    """Raised when using a connection that is closed.

    Attributes:
        code: the close code received from the peer, or 1006 if the TCP connection was lost
            without a close frame, or 1005 if the close frame carried no code.
        reason: the close reason received from the peer.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class ConnectionClosedOK(ConnectionClosed):
    """The connection was closed normally (1000 or 1001)."""


class ConnectionClosedError(ConnectionClosed):
    """The connection was closed with an error code or without a close handshake."""


class InvalidURI(WebSocketError, ValueError):
    """A URI given to ``connect()`` is not a valid ws:// or wss:// URI."""
