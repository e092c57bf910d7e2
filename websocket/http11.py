"""HTTP pieces of the opening handshake that do not depend on h11's connection state.

:class:`Request` and :class:`Response` are the heads both sides exchange;
:class:`UpgradePolicy` holds a server's choices and applies RFC 6455 section 4.2.1 to a request
head, wherever it was parsed: by :class:`websocket.handshake.ServerHandshake`, or by the HTTP
server of a layer above that meets an upgrade in the middle of a keep-alive connection
(Engine.IO's standalone server).
"""

from __future__ import annotations

import base64
import hashlib
import http
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from .deflate import DeflateOptions, PerMessageDeflate, server_negotiate
from .exceptions import (
    InvalidHandshake,
    InvalidOrigin,
    InvalidUpgrade,
    InvalidVersion,
    LocalProtocolError,
)
from .headers import parse_connection, parse_subprotocols, parse_upgrade

__all__ = [
    "GUID",
    "Accepted",
    "HandshakeFailed",
    "Headers",
    "Request",
    "Response",
    "UpgradePolicy",
    "accept_key",
    "check_request_head",
    "decode_headers",
    "header_values",
    "log_head",
    "lower_headers",
    "reason_phrase",
]

logger = logging.getLogger(__name__)

#: RFC 6455 section 1.3: the GUID appended to Sec-WebSocket-Key.
GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Headers = tuple[tuple[str, str], ...]


def accept_key(key: str) -> str:
    """Compute ``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (RFC 6455 section 4.2.2).

    Args:
        key: the client's key, as sent.

    Returns:
        ``base64(sha1(key + GUID))``.
    """
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def check_request_head(
    raw_headers: Sequence[tuple[bytes, bytes]],
    head_size: int,
    *,
    max_header_count: int,
    max_header_bytes: int,
) -> tuple[int, str] | None:
    """The framing and size rules every server applies to a complete request head.

    h11 bounds a head only while it is incomplete (``max_incomplete_event_size``): a whole
    head that arrives in one read is parsed whatever its size. This check runs on the parsed
    head, so the limits hold whatever the TCP read boundaries were.

    Args:
        raw_headers: the headers as h11 reports them (lowercase names, bytes).
        head_size: the bytes the head took on the wire (request line to the blank line).
        max_header_count: most header lines accepted.
        max_header_bytes: largest head accepted, in bytes.

    Returns:
        None if the head is acceptable, else the status (431 or 400) and a reason; the
        caller answers with that status and closes the connection.
    """
    if len(raw_headers) > max_header_count:
        return 431, f"more than {max_header_count} headers"
    if head_size > max_header_bytes:
        return 431, f"HTTP head of {head_size} bytes, over {max_header_bytes}"
    has_length = has_encoding = False
    for name, _ in raw_headers:
        if name == b"content-length":
            has_length = True
        elif name == b"transfer-encoding":
            has_encoding = True
    if has_length and has_encoding:
        # RFC 9112 section 6.1: "A server MAY reject a request that contains both
        # Content-Length and Transfer-Encoding [...]. Regardless, the server MUST close the
        # connection after responding to such a request"; section 6.3 item 3 calls such a
        # message a possible request smuggling attempt that "ought to be handled as an error".
        return 400, "both Content-Length and Transfer-Encoding"
    return None


def header_values(headers: Headers, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order."""
    name = name.lower()
    return [value for key, value in headers if key == name]


def decode_headers(raw: Sequence[tuple[bytes, bytes]]) -> Headers:
    """h11 headers (lowercased bytes) to ``str`` pairs; latin-1 never fails."""
    return tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)


def lower_headers(headers: Sequence[tuple[str, str]]) -> Headers:
    """Headers with lowercase names, as h11 reports received ones."""
    return tuple((name.lower(), value) for name, value in headers)


def log_head(
    log: logging.Logger, prefix: str, first_line: str, headers: Sequence[tuple[str, str]]
) -> None:
    """Log an HTTP head at DEBUG on ``log``, one line per header."""
    log.debug("%s %s", prefix, first_line)
    for name, value in headers:
        log.debug("%s %s: %s", prefix, name, value)


def reason_phrase(status: int) -> bytes:
    """The standard reason phrase for ``status``, or empty."""
    try:
        return http.HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


class _HeaderLookup:
    """Case-insensitive header lookups for :class:`Request` and :class:`Response`."""

    __slots__ = ()
    headers: Headers

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        return header_values(self.headers, name)

    def header(self, name: str) -> str | None:
        """The value of header ``name``, repeated lines joined with ``, ``; None if absent."""
        values = header_values(self.headers, name)
        return ", ".join(values) if values else None


@dataclass(frozen=True, slots=True)
class Request(_HeaderLookup):
    """An HTTP request head, as received by a server or sent by a client.

    Attributes:
        method: the method, e.g. ``GET``.
        target: the request target: path and query, e.g. ``/socket.io/?EIO=4``.
        headers: (name, value) pairs; names lowercase, values latin-1 decoded.
        http_version: e.g. ``1.1``.
    """

    method: str
    target: str
    headers: Headers
    http_version: str = "1.1"

    @property
    def path(self) -> str:
        """The target up to the ``?``."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The target after the ``?`` (empty if none)."""
        return self.target.partition("?")[2]

    @property
    def is_websocket_upgrade(self) -> bool:
        """Whether the ``Upgrade`` header lists the ``websocket`` token (malformed: False)."""
        try:
            return "websocket" in parse_upgrade(self.header_values("upgrade"))
        except InvalidHandshake:
            return False


@dataclass(frozen=True, slots=True)
class Response(_HeaderLookup):
    """An HTTP response: the 101 that completes a handshake, or a refusal.

    Attributes:
        status: the status code.
        headers: (name, value) pairs; names lowercase.
        body: the body (empty for a 101).
    """

    status: int
    headers: Headers
    body: bytes = b""


@dataclass(frozen=True)
class Accepted:
    """The handshake succeeded; the WebSocket connection is open.

    Attributes:
        request: the handshake request.
        response: the 101 response.
        subprotocol: the agreed subprotocol, or None.
        compressor: the negotiated permessage-deflate instance, or None.
    """

    request: Request
    response: Response
    subprotocol: str | None
    compressor: PerMessageDeflate | None


@dataclass(frozen=True)
class HandshakeFailed:
    """The handshake failed.

    Attributes:
        error: why; ``error.status`` is the HTTP status (on a client, :exc:`InvalidStatus` carries
            the server's status, headers and body when it refused).
    """

    error: InvalidHandshake


@dataclass(frozen=True)
class UpgradePolicy:
    """A server's handshake choices (section 4.2.2), applied by :meth:`negotiate`.

    Attributes:
        subprotocols: supported subprotocols, most preferred first.
        select_subprotocol: overrides ``subprotocols``: called with the request and the
            client's offers, returns the one to use (one of the offers) or None.
        deflate: permessage-deflate settings, or None to decline all extensions.
        check_origin: called with the ``Origin`` header (None if absent); False refuses (403).
        server_header: the ``Server`` header value, or None to send none.
    """

    subprotocols: Sequence[str] = ()
    select_subprotocol: Callable[[Request, Sequence[str]], str | None] | None = None
    deflate: DeflateOptions | None = field(default_factory=DeflateOptions)
    check_origin: Callable[[str | None], bool] | None = None
    server_header: str | None = "socketio-stack"

    def negotiate(
        self, request: Request
    ) -> tuple[str | None, PerMessageDeflate | None, list[tuple[str, str]]]:
        """Check an upgrade request per section 4.2.1 and agree on its parameters.

        Args:
            request: the request head (its body, which must be empty, is the caller's concern).

        Returns:
            The subprotocol, the permessage-deflate instance and the 101 response headers.

        Raises:
            InvalidHandshake: a subclass with the HTTP status to refuse the request with.
            LocalProtocolError: ``select_subprotocol`` chose a subprotocol not offered.
        """
        # Section 4.2.1 item 1: "An HTTP/1.1 or higher GET request".
        if request.method != "GET":
            raise InvalidHandshake(f"method {request.method} is not GET", 405)
        major, _, minor = request.http_version.partition(".")
        if (int(major), int(minor or 0)) < (1, 1):
            raise InvalidHandshake(f"HTTP/{request.http_version} is not HTTP/1.1 or higher")
        # Item 2: "A |Host| header field": h11 refuses an HTTP/1.1 request without exactly one
        # (RFC 7230 section 5.4), so next_event() has already answered 400.
        # Item 3: "An |Upgrade| header field containing the value "websocket"".
        if "websocket" not in parse_upgrade(request.header_values("upgrade")):
            raise InvalidUpgrade("Upgrade header does not contain websocket")
        # Item 4: "A |Connection| header field that includes the token "Upgrade"".
        if "upgrade" not in parse_connection(request.header_values("connection")):
            raise InvalidUpgrade("Connection header does not contain upgrade")
        # Item 6 and section 4.4: any version but 13 is answered with 426 and the versions we
        # support.
        versions = request.header_values("sec-websocket-version")
        if not versions:
            raise InvalidUpgrade("missing Sec-WebSocket-Version header")
        if versions != ["13"]:
            raise InvalidVersion(f"unsupported Sec-WebSocket-Version {', '.join(versions)}")
        # Item 5: a Sec-WebSocket-Key that "when decoded, is 16 bytes in length".
        keys = request.header_values("sec-websocket-key")
        if len(keys) != 1:
            raise InvalidUpgrade("exactly one Sec-WebSocket-Key header is required")
        try:
            raw_key = base64.b64decode(keys[0], validate=True)
        except ValueError as exc:  # binascii.Error, or a non-ASCII key (found by fuzzing)
            raise InvalidUpgrade("Sec-WebSocket-Key is not base64") from exc
        if len(raw_key) != 16:
            raise InvalidUpgrade(f"Sec-WebSocket-Key decodes to {len(raw_key)} bytes, not 16")
        # Item 7 and section 10.2: the Origin header protects browser clients.
        if self.check_origin is not None:
            origins = request.header_values("origin")
            if len(origins) > 1:
                raise InvalidOrigin("more than one Origin header")
            origin = origins[0] if origins else None
            if not self.check_origin(origin):
                raise InvalidOrigin(f"origin {origin!r} is not allowed")
        headers = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept_key(keys[0])),
        ]
        subprotocol = self.pick_subprotocol(request)
        if subprotocol is not None:
            headers.append(("Sec-WebSocket-Protocol", subprotocol))
        compressor = None
        if self.deflate is not None:
            negotiated = server_negotiate(
                request.header_values("sec-websocket-extensions"), self.deflate
            )
            if negotiated is not None:
                answer, compressor = negotiated
                headers.append(("Sec-WebSocket-Extensions", answer))
        if self.server_header is not None:
            headers.append(("Server", self.server_header))
        return subprotocol, compressor, headers

    def pick_subprotocol(self, request: Request) -> str | None:
        """Section 4.2.2 item 5.4: choose one of the client's subprotocols, or none."""
        offered = parse_subprotocols(request.header_values("sec-websocket-protocol"))
        if self.select_subprotocol is not None:
            chosen = self.select_subprotocol(request, offered)
            if chosen is not None and chosen not in offered:
                raise LocalProtocolError(f"select_subprotocol chose unoffered {chosen!r}")
            return chosen
        for subprotocol in self.subprotocols:
            if subprotocol in offered:
                return subprotocol
        return None
