"""Parse ``ws://`` and ``wss://`` URIs (RFC 6455 section 3)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from .exceptions import InvalidURI

__all__ = ["WebSocketURI", "parse_uri"]


@dataclass(frozen=True, slots=True)
class WebSocketURI:
    """The parts of a WebSocket URI a client needs.

    Attributes:
        secure: True for ``wss://``.
        host: the host name or address, without brackets for IPv6.
        port: the port, 80 or 443 when the URI names none.
        resource: the path and query to request (never empty, never with a fragment).
    """

    secure: bool
    host: str
    port: int
    resource: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (section 4.1: the port only when it is not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_uri(uri: str) -> WebSocketURI:
    """Parse a WebSocket URI.

    Raises:
        InvalidURI: not ``ws://`` or ``wss://``, no host, a bad port, or a fragment
            (section 3: "Fragment identifiers are meaningless in the context of WebSocket URIs
            and MUST NOT be used on these URIs").
    """
    try:
        parsed = urllib.parse.urlsplit(uri)
        port = parsed.port
    except ValueError as exc:
        raise InvalidURI(f"{uri!r} is not a valid URI: {exc}") from exc
    if parsed.scheme not in ("ws", "wss"):
        raise InvalidURI(f"{uri!r} is not a ws:// or wss:// URI")
    if not parsed.hostname:
        raise InvalidURI(f"{uri!r} has no host")
    if parsed.fragment or uri.endswith("#"):
        raise InvalidURI(f"{uri!r} has a fragment identifier")
    secure = parsed.scheme == "wss"
    resource = parsed.path or "/"
    if parsed.query:
        resource += "?" + parsed.query
    return WebSocketURI(
        secure=secure,
        host=parsed.hostname,
        port=port if port is not None else (443 if secure else 80),
        resource=resource,
    )
